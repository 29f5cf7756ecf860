//! Authenticate every request of an axum service with a JWT before any handler runs.
//!
//! What an API gateway's JWT authorizer does for a serverless backend, inside the service:
//!
//! - [`AuthLayer`] reads the bearer token (header, cookie, opt-in custom header or query),
//!   verifies it with a [`tollgate::Verifier`], and refuses the request — RFC 6750 status,
//!   `WWW-Authenticate` challenge and JSON body — before the handler runs.
//! - [`Claims<T>`] hands the handler the verified claims as its own type;
//!   `Option<Claims<T>>` behind an [optional](AuthLayer::optional) layer.
//! - [`RequireRole`] / [`RequireScope`] guard routes (403 `insufficient_scope`), and
//!   [`HasRole`] / [`HasScope`] do the same as extractors.
//! - [`AuthError`] and [`ErrorResponder`] shape refusals.
//! - With the `lambda` feature, `dangerous::trust_api_gateway` accepts the claims AWS API
//!   Gateway forwards to a Lambda function after its own authorizer verified the token.
//!
//! # Example
//! ```
//! use axum::{Router, routing::get};
//! use tollgate::{Signer, SigningKey, TokenRequest, Verifier};
//! use tollgate_axum::{AuthLayer, Claims, RequireRole};
//!
//! async fn me(claims: Claims) -> String {
//!     format!("hello {}", claims.subject().unwrap_or("?"))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let signer = Signer::builder(SigningKey::generate_ed25519("k1")?)
//!     .issuer("https://auth.example")
//!     .audience("api")
//!     .build()?;
//! let verifier = Verifier::builder()
//!     .keys(signer.verification_keys()?)
//!     .issuer("https://auth.example")
//!     .audience("api")
//!     .build()?;
//!
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/admin", get(|| async { "admin" }).route_layer(RequireRole::any(["admin"])))
//!     .layer(AuthLayer::new(verifier));
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `aws_lc_rs` | yes | crypto through aws-lc-rs (see the `tollgate` crate) |
//! | `rust_crypto` | no | crypto through the pure-Rust RustCrypto crates |
//! | `remote` | no | keys from a JWKS URL or OIDC discovery (`tollgate::remote`); a token with an unknown `kid` triggers a rate-limited refetch, and 503 while no key was ever loaded |
//! | `lambda` | no | `dangerous::trust_api_gateway`: on AWS Lambda behind API Gateway, take the claims its JWT, Cognito or Lambda authorizer forwards instead of verifying again (`lambda_http`) |

#[cfg(feature = "lambda")]
pub mod dangerous;
mod error;
mod extract;
mod future;
mod guard;
mod layer;

pub use error::{AuthError, AuthErrorKind, DefaultErrorResponder, ErrorResponder};
pub use extract::Claims;
pub use future::ResponseFuture;
pub use guard::{Guard, HasRole, HasScope, RequireRole, RequireScope, RoleSet, ScopeSet};
pub use layer::{AuthContext, AuthLayer, AuthService, DEFAULT_COOKIE, StoreFailure};

// The README's usage example is compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
