//! The demo with `TOLLGATE_JWKS_URL`: tokens signed by an identity provider's keys (served
//! over real HTTP on loopback) are accepted next to the demo's own.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use serde_json::Value;
use std::time::Duration;
use tollgate::remote::RemoteKeys;
use tollgate::{Signer, SigningKey, TokenRequest};
use tollgate_demo::{DemoConfig, app};
use tower::ServiceExt as _;

/// An identity provider: a signer and a server on 127.0.0.1 publishing its JWK Set.
async fn identity_provider(config: &DemoConfig, kid: &str) -> (Signer, String) {
    let signer = Signer::builder(SigningKey::generate_ed25519(kid).unwrap())
        .issuer(config.issuer.clone())
        .audience(config.audience.clone())
        .build()
        .unwrap();
    let jwks = signer.jwks();
    let server = Router::new().route("/jwks.json", get(move || async move { axum::Json(jwks) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server).await });
    (signer, url)
}

async fn me(app: &Router, token: &str) -> (StatusCode, Value) {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_demo_accepts_tokens_of_the_identity_provider_too() {
    let mut config = DemoConfig::default();
    let (idp, url) = identity_provider(&config, "idp-1").await;
    let keys = RemoteKeys::jwks(url).build().unwrap();
    assert!(keys.wait_until_loaded(Duration::from_secs(5)).await);
    config.remote_keys = Some(keys);
    let demo = app(&config).unwrap();

    let token = idp
        .issue(&TokenRequest::new("carol").roles(["user"]))
        .unwrap()
        .token;
    let (status, body) = me(&demo, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], "carol");

    // A provider nobody configured is still refused.
    let (stranger, _) = identity_provider(&DemoConfig::default(), "stranger-1").await;
    let token = stranger.issue(&TokenRequest::new("mallory")).unwrap().token;
    let (status, body) = me(&demo, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "key_unknown");
}
