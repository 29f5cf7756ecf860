//! The framework-free core of tollgate: keys, the token [`Verifier`], and token issuance.
//!
//! tollgate authenticates every request of a service with a JWT before any handler runs.
//! This crate holds everything that does not depend on a web framework; `tollgate-axum`
//! puts it in front of an axum `Router`.
//!
//! - [`Key`] / [`KeySet`]: verification keys from an HMAC secret, PEM, a JWK or a JWK Set,
//!   each bound to exactly one [`Algorithm`]; unsafe keys are refused when loaded.
//! - [`Verifier`]: signature and claim rules, secure by default (`exp` required, `none`
//!   never accepted, 8 KiB token limit, strict base64url and JSON). Its [`Error`] says why
//!   a token was refused.
//! - [`VerifiedToken`]: registered claims, roles, scopes and the application's own type.
//! - [`Signer`]: mints tokens and publishes its public key as a JWK Set.
//! - [`dangerous`]: a [`VerifiedToken`] from claims a trusted component already verified
//!   (API Gateway's authorizers), for the rare setups that need it.
//! - `alb` (feature `alb`): `AlbVerifier` for the `x-amzn-oidc-data` header an AWS
//!   Application Load Balancer forwards once it authenticated the user.
//! - [`revocation`]: the [`RevocationStore`] trait, the in-memory [`MemoryStore`] and the
//!   [`CachingStore`] that puts a moka cache in front of any store.
//!
//! # Example
//! ```
//! use serde::Deserialize;
//! use tollgate::{Signer, SigningKey, TokenRequest, Verifier};
//!
//! #[derive(Deserialize)]
//! struct MyClaims {
//!     sub: String,
//!     tenant: String,
//! }
//!
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
//! let issued = signer.issue(&TokenRequest::new("alice").claim("tenant", "acme"))?;
//! let token = verifier.verify_as::<MyClaims>(&issued.token)?;
//! assert_eq!(token.claims().sub, "alice");
//! assert_eq!(token.claims().tenant, "acme");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `aws_lc_rs` | yes | crypto through aws-lc-rs, the faster backend (needs a C compiler) |
//! | `rust_crypto` | no | crypto through the pure-Rust RustCrypto crates, for builds without a C compiler |
//! | `remote` | no | `remote::RemoteKeys`: keys from a JWKS URL or OIDC discovery (reqwest with rustls) |
//! | `alb` | no | `alb::AlbVerifier`: the `x-amzn-oidc-data` header of an AWS Application Load Balancer, its keys fetched per `kid` (enables `remote`) |
//! | `metrics` | no | verification latency, token and revocation cache hits/misses and JWKS fetches through the [`metrics`](https://docs.rs/metrics) facade; names in [`telemetry`] |
//!
//! Exactly one backend is needed; with both enabled, aws-lc-rs is used.

#[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
compile_error!("tollgate needs a crypto backend: enable the `aws_lc_rs` or `rust_crypto` feature");

#[cfg(feature = "alb")]
pub mod alb;
mod algorithm;
mod claims;
pub mod cognito;
pub mod dangerous;
mod error;
mod json;
#[cfg(test)]
mod json_props;
pub mod keys;
#[cfg(feature = "remote")]
pub mod remote;
pub mod revocation;
pub mod signer;
pub mod telemetry;
mod token_cache;
pub mod verifier;

pub use algorithm::{Algorithm, ParseAlgorithmError};
pub use claims::{ClaimPath, RegisteredClaims, VerifiedToken};
pub use error::{ConfigError, Error, ErrorKind};
pub use keys::{Key, KeySet};
pub use revocation::{CachingStore, MemoryStore, RevocationStore};
pub use signer::{IssueError, IssuedToken, Signer, SignerBuilder, SigningKey, TokenRequest};
pub use verifier::{Verifier, VerifierBuilder};

/// Seconds since the Unix epoch, as JWT dates count them (0 if the clock is before 1970):
/// the clock every rule and every store of tollgate reads.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
