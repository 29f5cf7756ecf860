//! Two demo instances sharing one Redis and one signing key (`REDIS_URL`,
//! `TOLLGATE_SIGNING_KEY_FILE`): a logout or a revoke-user made through one is honoured by
//! the other.

mod redis_harness;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use redis_harness::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tollgate::CachingStore;
use tollgate_demo::{DemoConfig, app_with_store};
use tower::ServiceExt as _;

async fn instance(
    url: &str,
    prefix: &str,
    key: &tollgate::SigningKey,
) -> (Router, CachingStore<tollgate_redis::RedisStore>) {
    let store = tollgate_redis::RedisStore::builder(url)
        .key_prefix(prefix)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}; {HOW_TO_GET_REDIS}"));
    let store = CachingStore::new(store);
    let config = DemoConfig {
        signing_key: Some(key.clone()),
        ..DemoConfig::default()
    };
    let app = app_with_store(&config, Arc::new(store.clone())).unwrap();
    (app, store)
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn login(app: &Router, user: &str) -> String {
    let (status, body) = call(
        app,
        "POST",
        "/login",
        None,
        Some(json!({"username": user, "password": user})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn revoke_user_on_one_instance_is_honoured_by_the_other() {
    let redis = redis();
    let prefix = unique_prefix("demo-instances");
    let key = tollgate::SigningKey::generate_ed25519("demo-1").unwrap();
    let (a, a_store) = instance(&redis.url, &prefix, &key).await;
    let (b, _) = instance(&redis.url, &prefix, &key).await;
    eventually(Duration::from_secs(5), "instance A subscribed", || {
        let pushing = a_store.is_pushing();
        async move { pushing }
    })
    .await;

    let alice_on_a = login(&a, "alice").await;
    assert_eq!(
        call(&a, "GET", "/me", Some(&alice_on_a), None).await.0,
        StatusCode::OK
    );

    let admin_on_b = login(&b, "admin").await;
    let (status, _) = call(
        &b,
        "POST",
        "/admin/revoke-user/alice",
        Some(&admin_on_b),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    eventually(
        Duration::from_secs(2),
        "instance A refuses alice's token",
        || {
            let a = a.clone();
            let token = alice_on_a.clone();
            async move {
                let (status, body) = call(&a, "GET", "/me", Some(&token), None).await;
                status == StatusCode::UNAUTHORIZED && body["code"] == "token_revoked"
            }
        },
    )
    .await;
    let admin_on_a = login(&a, "admin").await;
    assert_eq!(
        call(&a, "GET", "/me", Some(&admin_on_a), None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_logout_on_one_instance_is_honoured_by_the_other() {
    let redis = redis();
    let prefix = unique_prefix("demo-logout");
    let key = tollgate::SigningKey::generate_ed25519("demo-1").unwrap();
    let (a, _) = instance(&redis.url, &prefix, &key).await;
    let (b, b_store) = instance(&redis.url, &prefix, &key).await;
    eventually(Duration::from_secs(5), "instance B subscribed", || {
        let pushing = b_store.is_pushing();
        async move { pushing }
    })
    .await;

    let token = login(&a, "alice").await;
    assert_eq!(
        call(&b, "GET", "/me", Some(&token), None).await.0,
        StatusCode::OK
    );
    let (status, _) = call(&a, "POST", "/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    eventually(
        Duration::from_secs(2),
        "instance B refuses the logged-out token",
        || {
            let b = b.clone();
            let token = token.clone();
            async move {
                let (status, body) = call(&b, "GET", "/me", Some(&token), None).await;
                status == StatusCode::UNAUTHORIZED && body["code"] == "token_revoked"
            }
        },
    )
    .await;
}
