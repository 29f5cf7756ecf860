//! Authenticate every request of an axum service with a JWT before any handler runs.
//!
//! What an API gateway's JWT authorizer does for a serverless backend, inside the service:
//!
//! - [`AuthLayer`] reads the bearer token (header, cookie, opt-in custom header or query),
//!   verifies it with a [`tollgate::Verifier`], and refuses the request — RFC 6750 status,
//!   `WWW-Authenticate` challenge and JSON body — before the handler runs. A token from the
//!   cookie is refused on a cross-origin request that can change state (403,
//!   [`AuthLayer::cross_origin_protection`]).
//! - [`Claims<T>`] hands the handler the verified claims as its own type;
//!   `Option<Claims<T>>` behind an [optional](AuthLayer::optional) layer.
//! - [`RequireRole`] / [`RequireScope`] guard routes (403 `insufficient_scope`), and
//!   [`HasRole`] / [`HasScope`] do the same as extractors.
//! - [`AuthError`] and [`ErrorResponder`] shape refusals.
//! - With the `alb` feature, `AuthLayer::alb` takes the identity an AWS Application Load
//!   Balancer forwards in `x-amzn-oidc-data` once it authenticated the user (`alb`).
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
//! | `metrics` | no | counters and histograms through the [`metrics`](https://docs.rs/metrics) facade (any exporter); see [Metrics](#metrics) |
//! | `alb` | no | `AuthLayer::alb`: behind an AWS Application Load Balancer that authenticates users, the identity it forwards in `x-amzn-oidc-data` (`tollgate::alb`); 503 while its key cannot be fetched |
//! | `lambda` | no | `dangerous::trust_api_gateway`: on AWS Lambda behind API Gateway, take the claims its JWT, Cognito or Lambda authorizer forwards instead of verifying again (`lambda_http`) |
//!
//! # Metrics
//!
//! With the `metrics` feature (which enables `tollgate/metrics`), tollgate records through
//! the [`metrics`](https://docs.rs/metrics) facade: install any recorder (e.g.
//! `metrics-exporter-prometheus`, as the demo does for `/metrics`) and they appear. Names
//! are constants in [`tollgate::telemetry`]. Every label has a fixed set of values: nothing
//! read from a token (`sub`, `jti`, `kid`, `iss`) is ever a label, so forged tokens cannot
//! grow the number of series.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `tollgate_decisions_total` | counter | `outcome` = `allowed` \| `refused` \| `anonymous`; `reason` = `ok`, or the stable [`AuthError::code`] (`token_missing`, `token_expired`, `signature_invalid`, `key_unknown`, `token_revoked`, `insufficient_scope`, `revocation_unavailable`, `keys_unavailable`, `invalid_request`, `cross_origin_request`, …) | one per request decided by the [`AuthLayer`]; `anonymous` (reason `token_missing`) is a request without a token behind an optional layer. A [guard](RequireRole) or [extractor](HasRole) that refuses a token for lack of a role or scope adds `refused`/`insufficient_scope`: such a request counts twice, `allowed` by the layer (authenticated) and `refused` by the guard (not authorized) |
//! | `tollgate_verification_seconds` | histogram | `alg` = `HS256` … `EdDSA`, or `unknown` when the token was refused before its header named a supported algorithm | time to verify one token (header, key selection, signature, claims), whether it passed or not |
//! | `tollgate_revocation_cache_total` | counter | `result` = `hit` \| `miss` | revocation lookups through a [`tollgate::CachingStore`]: `hit` answered from memory, `miss` sent to the backend (or joined a lookup in flight); one per lookup |
//! | `tollgate_token_cache_total` | counter | `result` = `hit` \| `miss` | verifications through a verifier's verified-token cache (`tollgate::VerifierBuilder::token_cache`, opt-in): `hit` a repeat token whose signature was not checked again (its `exp`/`nbf` were), `miss` verified from scratch (passed or not); none when the cache is off |
//! | `tollgate_revocation_store_errors_total` | counter | — | revocation lookups the store could not answer (the layer then fails closed with 503, or open, per [`AuthLayer::on_store_error`]) |
//! | `tollgate_jwks_fetches_total` | counter | `result` = `success` \| `no_usable_key` \| `failure` | JWK Set fetches of `tollgate::remote::RemoteKeys` (feature `remote`): refreshes and refetches; `no_usable_key`: the provider answered with a set holding no usable key, which replaced its keys (its tokens are refused until it publishes one) |
//! | `tollgate_jwks_keys` | gauge | — | keys currently loaded from identity providers, summed over all `RemoteKeys` |
//! | `tollgate_jwks_refetch_unknown_kid_total` | counter | — | refetches triggered by a token whose `kid` was unknown (at most one per cooldown, however many such tokens arrive) |
//! | `tollgate_revocation_push_reconnects_total` | counter | — | times a `tollgate-redis` store got its invalidation channel back after losing it (feature `metrics` of `tollgate-redis`) |
//!
//! What to look at when logins fail: `reason="token_expired"` (clients not refreshing),
//! `key_unknown` with `tollgate_jwks_fetches_total{result="failure"}` (keys rotated and the
//! provider unreachable) or `{result="no_usable_key"}` (the provider withdrew its keys, or
//! publishes only keys tollgate cannot use), `revocation_unavailable` and
//! `tollgate_revocation_store_errors_total` (Redis down), a burst of `signature_invalid` /
//! `token_malformed` (someone spraying forged tokens).
//!
//! # Tracing
//!
//! Each authentication runs in a `debug` span `tollgate.auth` with the fields `decision`
//! (`allowed`, `refused`, `anonymous`), `reason` (as in the metrics), and `sub` and `jti`,
//! recorded only from a verified token; the token itself is never logged. The decision is
//! also one `debug` event (target `tollgate_axum::auth`). Client errors stay at `debug`, so
//! a client spraying bad tokens cannot flood the logs; trouble with the revocation store or
//! the identity provider's keys is a `warn`.
//!
//! # Readiness
//!
//! [`AuthLayer::readiness`] gives a [`Readiness`] check — keys loaded, revocation store
//! reachable — with a ready-made route: `.route("/ready", layer.readiness().into_route())`.

#[cfg(feature = "alb")]
pub mod alb;
#[cfg(feature = "lambda")]
pub mod dangerous;
mod error;
mod extract;
mod future;
mod guard;
mod layer;
mod readiness;
mod telemetry;
mod token;

pub use error::{AuthError, AuthErrorKind, DefaultErrorResponder, ErrorResponder};
pub use extract::Claims;
pub use future::ResponseFuture;
pub use guard::{Guard, HasRole, HasScope, RequireRole, RequireScope, RoleSet, ScopeSet};
pub use layer::{AuthContext, AuthLayer, AuthService, StoreFailure};
pub use readiness::{Readiness, ReadinessReport};
pub use token::{DEFAULT_COOKIE, HOST_COOKIE, TokenRefusal, TokenSource, TokenSources};

// The README's usage example is compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
