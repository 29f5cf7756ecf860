//! [`Readiness`]: whether an [`AuthLayer`](crate::AuthLayer) can decide requests right now,
//! for a readiness probe.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use std::sync::Arc;
use tollgate::Verifier;
use tollgate::revocation::RevocationStore;

/// Checks what an [`AuthLayer`](crate::AuthLayer) needs to decide requests: keys to verify
/// with (static keys, or remote keys loaded at least once) and, if it has one, a reachable
/// revocation store ([`RevocationStore::ping`]; a Redis store sends a `PING`). Get one with
/// [`AuthLayer::readiness`](crate::AuthLayer::readiness). Cheap to clone.
///
/// ```
/// use axum::Router;
/// use tollgate::{Algorithm, Key, MemoryStore, Verifier};
/// use tollgate_axum::AuthLayer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::builder().key(Key::hmac(&[7; 32], Algorithm::HS256)?).build()?;
/// let layer = AuthLayer::new(verifier).revocation(MemoryStore::new());
/// // 200 {"ready":true,…} or 503 {"ready":false,…}
/// let app: Router = Router::new().route("/ready", layer.readiness().into_route());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Readiness {
    pub(crate) verifier: Verifier,
    pub(crate) store: Option<Arc<dyn RevocationStore>>,
}

/// What [`Readiness::check`] found. As a response: 200 when ready, 503 otherwise, with a
/// JSON body `{"ready", "keys_loaded", "revocation_store"}` where `revocation_store` is
/// `"ok"`, `"unreachable"` or `"none"` (no store configured). The store's error is logged
/// at `warn`, not put in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadinessReport {
    /// Whether the verifier has keys to verify with.
    pub keys_loaded: bool,
    /// `None` without a revocation store; otherwise whether it answered.
    pub store_reachable: Option<bool>,
}

impl ReadinessReport {
    /// Keys loaded and, if there is a store, the store reachable.
    pub fn is_ready(&self) -> bool {
        self.keys_loaded && self.store_reachable != Some(false)
    }
}

impl Readiness {
    /// Checks the keys (no I/O) and pings the revocation store, if any. A store's ping is
    /// expected to bound its own wait (the Redis store does: its response and connection
    /// timeouts).
    pub async fn check(&self) -> ReadinessReport {
        let keys_loaded = self.verifier.keys_loaded();
        let store_reachable = match &self.store {
            None => None,
            Some(store) => Some(match store.ping().await {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(target: "tollgate_axum::readiness", %error, "revocation store unreachable");
                    false
                }
            }),
        };
        if !keys_loaded {
            tracing::warn!(target: "tollgate_axum::readiness", "no verification keys loaded yet");
        }
        ReadinessReport {
            keys_loaded,
            store_reachable,
        }
    }

    /// A `GET` route answering with [`Readiness::check`]'s report.
    pub fn into_route<S>(self) -> axum::routing::MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        axum::routing::get(move || {
            let readiness = self.clone();
            async move { readiness.check().await }
        })
    }
}

impl IntoResponse for ReadinessReport {
    fn into_response(self) -> Response {
        let status = if self.is_ready() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let store = match self.store_reachable {
            None => "none",
            Some(true) => "ok",
            Some(false) => "unreachable",
        };
        let body = serde_json::json!({
            "ready": self.is_ready(),
            "keys_loaded": self.keys_loaded,
            "revocation_store": store,
        });
        let content_type = [(http::header::CONTENT_TYPE, "application/json")];
        (status, content_type, body.to_string()).into_response()
    }
}
