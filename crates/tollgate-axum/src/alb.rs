//! Behind an AWS Application Load Balancer that authenticates users (feature `alb`): the
//! identity it forwards in `x-amzn-oidc-data`, verified by a [`tollgate::alb::AlbVerifier`].
//!
//! With [`AuthLayer::alb`], a request that carries the header is authenticated by it: the
//! load balancer's signature, its `signer` (your load balancer's ARN), `exp` and the other
//! rules of [`tollgate::alb`]. The result is the request's [`tollgate::VerifiedToken`], so
//! [`crate::Claims`], [`crate::RequireRole`], [`crate::RequireScope`] and the layer's
//! revocation store work as for a bearer token. A request without the header is
//! authenticated as before, by the layer's [`tollgate::Verifier`] — which still refuses
//! padded tokens, so the load balancer's header sent as `Authorization: Bearer` is refused.
//!
//! | the header | answer |
//! |---|---|
//! | verifies | the handler runs with its claims (a guard may still answer 403) |
//! | does not verify (signature, `signer`, `exp`, `alg`, shape) | 401 `invalid_token` with `WWW-Authenticate` |
//! | its key cannot be fetched (key endpoint down, or the fetch cooldown) | 503 `keys_unavailable` |
//! | sent twice, or together with a bearer token | 400 `invalid_request` |
//!
//! The first request naming a `kid` fetches its key (the only one that waits for I/O); the
//! key is then cached.
//!
//! # Security
//! Trust the header only when the load balancer is the only way into the service: the
//! `signer` check binds it to your load balancer, but a client that reaches the service
//! around it can replay a header it captured until the header's `exp`. See
//! [`tollgate::alb`].
//!
//! # Example
//! ```no_run
//! use axum::{Router, routing::get};
//! use tollgate::Verifier;
//! use tollgate::alb::AlbVerifier;
//! use tollgate_axum::{AuthLayer, Claims, RequireRole};
//!
//! async fn me(claims: Claims) -> String {
//!     claims.subject().unwrap_or_default().to_owned()
//! }
//!
//! # fn demo(verifier: Verifier) -> Result<Router, tollgate::ConfigError> {
//! let alb = AlbVerifier::builder(
//!     "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-alb/1234567890abcdef",
//! )
//! .region("us-east-1")
//! .roles_claim("cognito:groups")
//! .build()?;
//! Ok(Router::new()
//!     .route("/me", get(me))
//!     .route("/admin", get(|| async { "ok" }).route_layer(RequireRole::any(["admin"])))
//!     .layer(AuthLayer::new(verifier).alb(alb)))
//! # }
//! ```

use crate::layer::{AuthLayer, ForwardedIdentity, Verified};
use http::HeaderName;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tollgate::alb::{AlbVerifier, HEADER};

impl AuthLayer {
    /// Authenticates a request that carries the `x-amzn-oidc-data` header of an AWS
    /// Application Load Balancer by that header, verified with `verifier`; requests without
    /// it by the layer's verifier, as before. See the [`alb`](crate::alb) module.
    ///
    /// # Security
    /// Only when the load balancer is the only way into the service; see
    /// [`tollgate::alb`].
    pub fn alb(mut self, verifier: AlbVerifier) -> Self {
        self.config_mut().forwarded = Some(Arc::new(AlbIdentity {
            verifier,
            header: HeaderName::from_static(HEADER),
        }));
        self
    }
}

/// The load balancer's header as the layer's [`ForwardedIdentity`].
#[derive(Debug)]
struct AlbIdentity {
    verifier: AlbVerifier,
    header: HeaderName,
}

impl ForwardedIdentity for AlbIdentity {
    fn header(&self) -> &HeaderName {
        &self.header
    }

    fn check_now(&self, value: &str) -> Option<Verified> {
        self.verifier.check_now(value)
    }

    fn check<'a>(&'a self, value: &'a str) -> Pin<Box<dyn Future<Output = Verified> + Send + 'a>> {
        Box::pin(self.verifier.check(value))
    }
}
