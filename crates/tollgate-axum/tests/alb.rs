//! `AuthLayer::alb`: the `x-amzn-oidc-data` header of an AWS Application Load Balancer as a
//! request's identity, through `Claims`, `RequireRole` and revocation, against a key server
//! on 127.0.0.1.

#![cfg(feature = "alb")]

#[path = "../../tollgate/tests/alb_kit/mod.rs"]
mod alb_kit;

use alb_kit::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use std::time::Duration;
use tollgate::alb::{AlbVerifier, HEADER};
use tollgate::{Algorithm, Key, MemoryStore, Verifier};
use tollgate_axum::{AuthLayer, Claims, RequireRole};
use tower::ServiceExt as _;

fn strict_verifier() -> Verifier {
    Verifier::builder()
        .key(
            Key::ec_pem(PUBLIC_PEM.as_bytes(), Algorithm::ES256)
                .unwrap()
                .with_kid(KID),
        )
        .build()
        .unwrap()
}

fn alb_verifier(server: &KeyServer) -> AlbVerifier {
    AlbVerifier::builder(ARN)
        .key_endpoint(&server.base)
        .issuer(ISSUER)
        .build()
        .unwrap()
}

async fn me(claims: Claims) -> String {
    claims.subject().unwrap_or_default().to_owned()
}

fn app(layer: AuthLayer) -> Router {
    Router::new()
        .route("/me", get(me))
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(RequireRole::any(["admin"])),
        )
        .layer(layer)
}

async fn send(app: &Router, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn body(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn challenge(response: &Response) -> &str {
    response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .expect("a challenge")
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn the_header_is_the_identity_for_claims_and_guards() {
    let server = KeyServer::start().await;
    let app = app(AuthLayer::new(strict_verifier()).alb(alb_verifier(&server)));
    let admin = mint(&header(KID, ARN), &claims("alice", &["admin"]));
    let user = mint(&header(KID, ARN), &claims("bob", &["user"]));

    let response = send(&app, "/me", &[(HEADER, &admin)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, "alice");
    assert_eq!(
        send(&app, "/admin", &[(HEADER, &admin)]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&app, "/admin", &[(HEADER, &user)]).await.status(),
        StatusCode::FORBIDDEN
    );
    // One fetch for the kid, then the cached key on the path that does not wait.
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_bad_header_is_401_with_a_challenge() {
    let server = KeyServer::start().await;
    let app = app(AuthLayer::new(strict_verifier()).alb(alb_verifier(&server)));
    let mut old = claims("alice", &["admin"]);
    old["exp"] = json!(now() - 3600);
    let mut rs256 = header(KID, ARN);
    rs256["alg"] = json!("RS256");
    for (value, code) in [
        (
            mint(&header(KID, OTHER_ARN), &claims("alice", &["admin"])),
            "signer_mismatch",
        ),
        (mint(&header(KID, ARN), &old), "token_expired"),
        (
            mint(&rs256, &claims("alice", &["admin"])),
            "algorithm_unsupported",
        ),
        (
            mint(&header("../../x", ARN), &claims("alice", &["admin"])),
            "key_unknown",
        ),
        ("not-a-header".to_owned(), "token_malformed"),
    ] {
        let response = send(&app, "/me", &[(HEADER, &value)]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{code}");
        assert!(challenge(&response).contains("invalid_token"), "{code}");
        assert!(body(response).await.contains(code), "{code}");
    }
    // Only the expired header, signed under the real kid, needed its key.
    assert_eq!(server.paths(), [format!("/{KID}")]);
}

#[tokio::test]
async fn an_unfetchable_key_is_503() {
    let server = KeyServer::start().await;
    server.set_down(true);
    let app = app(AuthLayer::new(strict_verifier()).alb(alb_verifier(&server)));
    let value = mint(&header(KID, ARN), &claims("alice", &[]));
    let response = send(&app, "/me", &[(HEADER, &value)]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(body(response).await.contains("keys_unavailable"));
}

#[tokio::test]
async fn the_bearer_path_stays_strict() {
    let server = KeyServer::start().await;
    let value = mint(&header(KID, ARN), &claims("alice", &["admin"]));
    let bearer = format!("Bearer {value}");
    // The padded header as a bearer token: refused by the strict verifier, with or
    // without the ALB configured.
    for layer in [
        AuthLayer::new(strict_verifier()),
        AuthLayer::new(strict_verifier()).alb(alb_verifier(&server)),
    ] {
        let response = send(&app(layer), "/me", &[("authorization", &bearer)]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Without `AuthLayer::alb` the header is not read at all.
    let response = send(
        &app(AuthLayer::new(strict_verifier())),
        "/me",
        &[(HEADER, &value)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(body(response).await.contains("token_missing"));
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn the_header_twice_or_with_a_bearer_token_is_400() {
    let server = KeyServer::start().await;
    let app = app(AuthLayer::new(strict_verifier()).alb(alb_verifier(&server)));
    let value = mint(&header(KID, ARN), &claims("alice", &[]));
    let twice = send(&app, "/me", &[(HEADER, &value), (HEADER, &value)]).await;
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    let both = send(
        &app,
        "/me",
        &[(HEADER, &value), ("authorization", "Bearer abc")],
    )
    .await;
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn revocation_applies_to_the_header() {
    let server = KeyServer::start().await;
    let alb = alb_verifier(&server);
    let store = MemoryStore::new();
    let app = app(AuthLayer::new(strict_verifier())
        .alb(alb.clone())
        .revocation(store.clone()));
    let value = mint(&header(KID, ARN), &claims("alice", &[]));
    assert_eq!(
        send(&app, "/me", &[(HEADER, &value)]).await.status(),
        StatusCode::OK
    );
    let token = alb.check(&value).await.unwrap();
    tollgate::revocation::revoke(&store, &token).await.unwrap();
    assert_eq!(
        send(&app, "/me", &[(HEADER, &value)]).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_flood_through_the_layer_fetches_once() {
    let server = KeyServer::start().await;
    let alb = AlbVerifier::builder(ARN)
        .key_endpoint(&server.base)
        .cooldown(Duration::from_secs(60))
        .build()
        .unwrap();
    let app = app(AuthLayer::new(strict_verifier()).alb(alb));
    let requests: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            let value = mint(&header(&format!("flood-{i}"), ARN), &claims("x", &[]));
            tokio::spawn(async move { send(&app, "/me", &[(HEADER, &value)]).await.status() })
        })
        .collect();
    for request in requests {
        let status = request.await.unwrap();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
    }
    assert_eq!(server.hits(), 1);
}
