//! The verifier's token cache does not bypass revocation: the layer asks the store after
//! every verification, a cache hit included.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use std::time::Duration;
use tollgate::{MemoryStore, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::AuthLayer;
use tower::ServiceExt as _;

async fn status(app: &Router, token: &str) -> StatusCode {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn a_cached_token_is_still_refused_once_revoked() {
    let signer = Signer::builder(SigningKey::generate_ed25519("k1").unwrap())
        .issuer("https://issuer.example")
        .build()
        .unwrap();
    let verifier = Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .issuer("https://issuer.example")
        .token_cache(1_000, Duration::from_secs(60))
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let app = Router::new()
        .route("/me", get(|| async { "hello" }))
        .layer(AuthLayer::new(verifier.clone()).revocation(store.clone()));
    let token = signer.issue(&TokenRequest::new("alice")).unwrap().token;

    assert_eq!(status(&app, &token).await, StatusCode::OK);
    assert_eq!(status(&app, &token).await, StatusCode::OK);
    assert_eq!(verifier.token_cache_len(), 1, "the token is cached");

    let verified = verifier.verify(&token).unwrap();
    tollgate::revocation::revoke(&store, &verified)
        .await
        .unwrap();

    assert_eq!(verifier.token_cache_len(), 1, "still cached");
    assert_eq!(status(&app, &token).await, StatusCode::UNAUTHORIZED);
    // Another token of the same subject is unaffected.
    let other = signer.issue(&TokenRequest::new("alice")).unwrap().token;
    assert_eq!(status(&app, &other).await, StatusCode::OK);
}
