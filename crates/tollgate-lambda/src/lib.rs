//! tollgate at the API Gateway: a Lambda authorizer that verifies the JWT of every request
//! **before any function runs**, checks the roles and scopes a route needs, and refuses
//! revoked tokens — a logged-out or role-changed token is refused at the edge, which API
//! Gateway's own JWT authorizer cannot do.
//!
//! An [`Authorizer`] is made from a [`tollgate::Verifier`], an optional
//! [`tollgate::RevocationStore`] (memory, Redis, any) and optional [`Routes`]. Its
//! [`Authorizer::handle`] takes every API Gateway authorizer event and answers in its shape
//! (see [`event`] for how they are told apart):
//!
//! - HTTP API REQUEST authorizer, payload 2.0: an IAM policy, or the simple
//!   `isAuthorized` answer ([`ResponseMode`]);
//! - HTTP API REQUEST authorizer, payload 1.0;
//! - REST API TOKEN and REQUEST authorizers (IAM policy, `principalId`, `context`, optional
//!   `usageIdentifierKey`);
//! - WebSocket API `$connect` REQUEST authorizer (token from a query parameter or the
//!   `Sec-WebSocket-Protocol` header).
//!
//! Tokens are found as `tollgate_axum`'s layer finds them ([`tollgate_axum::TokenSources`]):
//! the `Authorization: Bearer` header, the cookie (with the cross-origin check), opt-in a
//! header or query parameter. The table of decisions is on [`Authorizer`]; the policy of an
//! Allow is built so that API Gateway's result cache, which reuses an answer on other routes,
//! gives the right verdict there too ([`policy`]). The context carries the claims the
//! backends read ([`context`]), in the shape `tollgate_axum::dangerous::trust_api_gateway`
//! reads back.
//!
//! The deployable function, configured from the environment, is the package
//! `tollgate-authorizer`.
//!
//! # Example
//! ```
//! use serde_json::json;
//! use tollgate::{Signer, SigningKey, TokenRequest, Verifier};
//! use tollgate_lambda::{Authorizer, Routes};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let signer = Signer::builder(SigningKey::generate_ed25519("k1")?).issuer("https://idp.example").build()?;
//! let verifier = Verifier::builder()
//!     .keys(signer.verification_keys()?)
//!     .issuer("https://idp.example")
//!     .build()?;
//! let authorizer = Authorizer::builder(verifier)
//!     .routes("GET /admin=role:admin".parse::<Routes>()?)
//!     .build()?;
//! // In the function: lambda_runtime::run(lambda_runtime::service_fn(|e| authorizer.handle_event(e))).
//! let token = signer.issue(&TokenRequest::new("alice"))?.token;
//! let event = json!({
//!     "type": "TOKEN",
//!     "authorizationToken": format!("Bearer {token}"),
//!     "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/me",
//! });
//! let answer = authorizer.handle(event).await?;
//! assert_eq!(answer["principalId"], "alice");
//! assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
//! // The same answer, cached by API Gateway and reused on GET /admin, denies it.
//! assert_eq!(answer["policyDocument"]["Statement"][1]["Effect"], "Deny");
//! # Ok(()) }
//! ```

mod authorizer;
pub mod context;
pub mod event;
pub mod policy;
pub mod routes;

pub use authorizer::{Authorizer, AuthorizerBuilder, BuildError, Refusal, ResponseMode};
pub use event::{BadEvent, EventKind};
pub use routes::{Routes, RoutesError};
