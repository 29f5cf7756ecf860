//! The server driven by `scripts/loadtest.sh` (the load test of `BENCHMARKS.md`), and the
//! token minter.
//!
//! | route | auth |
//! |---|---|
//! | `GET /noauth` | none |
//! | `GET /rs256` | [`AuthLayer`] with an RS256 key |
//! | `GET /rs256-cached` | the same + [`MemoryStore`] revocation + a 10 000-entry token cache |
//!
//! Every route answers `200 ok`; the protected ones read [`Claims`] first.

use axum::Router;
use axum::routing::get;
use std::time::Duration;
use tollgate::{
    Algorithm, ConfigError, IssueError, Key, MemoryStore, Signer, SigningKey, TokenRequest,
    Verifier,
};
use tollgate_axum::{AuthLayer, Claims};

const PUBLIC_PEM: &str = include_str!("../../../crates/tollgate/tests/fixtures/rsa2048-public.pem");
const PRIVATE_PEM: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/rsa2048-private.pem");
const ISSUER: &str = "tollgate-loadtest";
const AUDIENCE: &str = "tollgate-loadtest-api";
const KID: &str = "rsa-1";

fn verifier(cached: bool) -> Result<Verifier, ConfigError> {
    let mut builder = Verifier::builder()
        .key(Key::rsa_pem(PUBLIC_PEM.as_bytes(), Algorithm::RS256)?.with_kid(KID))
        .issuer(ISSUER)
        .audience(AUDIENCE);
    if cached {
        builder = builder.token_cache(10_000, Duration::from_secs(60));
    }
    builder.build()
}

/// What the handlers read: a typed claims struct, as a real service has.
#[derive(Clone, serde::Deserialize)]
struct Access {
    sub: String,
    roles: Vec<String>,
}

async fn ok(claims: Claims<Access>) -> &'static str {
    let access = claims.claims();
    if access.sub.is_empty() || access.roles.is_empty() {
        "?"
    } else {
        "ok"
    }
}

/// Builds the router with the three routes of the load test.
pub fn app() -> Result<Router, ConfigError> {
    let rs256 = Router::new()
        .route("/rs256", get(ok))
        .route_layer(AuthLayer::new(verifier(false)?));
    let cached = Router::new()
        .route("/rs256-cached", get(ok))
        .route_layer(AuthLayer::new(verifier(true)?).revocation(MemoryStore::new()));
    Ok(Router::new()
        .route("/noauth", get(|| async { "ok" }))
        .merge(rs256)
        .merge(cached))
}

/// The signer of valid tokens for the protected routes (RS256, one-hour lifetime).
pub fn signer() -> Result<Signer, ConfigError> {
    Signer::builder(SigningKey::rsa_pem(
        KID,
        PRIVATE_PEM.as_bytes(),
        Algorithm::RS256,
    )?)
    .issuer(ISSUER)
    .audience(AUDIENCE)
    .ttl(Duration::from_secs(3600))
    .build()
}

/// Mints the `i`-th token: subject `user-{i}`, a fresh random `jti`, so every token differs.
pub fn mint(signer: &Signer, i: u64) -> Result<String, IssueError> {
    // The shape of the criterion benches' token: roles and scopes too.
    let request = TokenRequest::new(format!("user-{i}"))
        .roles(["user", "reader"])
        .scopes(["orders:read", "profile"]);
    Ok(signer.issue(&request)?.token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    async fn status(path: &str, token: Option<&str>) -> StatusCode {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Body::empty()).unwrap();
        app().unwrap().oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn routes_answer() {
        let token = mint(&signer().unwrap(), 1).unwrap();
        assert_eq!(status("/noauth", None).await, StatusCode::OK);
        for path in ["/rs256", "/rs256-cached"] {
            assert_eq!(status(path, Some(&token)).await, StatusCode::OK, "{path}");
            assert_eq!(status(path, None).await, StatusCode::UNAUTHORIZED, "{path}");
            let bad = format!("{token}x");
            assert_eq!(
                status(path, Some(&bad)).await,
                StatusCode::UNAUTHORIZED,
                "{path}"
            );
        }
    }
}
