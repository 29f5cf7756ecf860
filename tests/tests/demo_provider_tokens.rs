//! The demo accepting an identity provider's tokens next to its own (`TOLLGATE_JWKS_URL`),
//! as a user runs it: the provider is a JWKS server of the test's own on 127.0.0.1.
//!
//! - A "revoke every token of this user" must outlive the provider's tokens, which live far
//!   longer than the demo's own 15 minutes: the cut-off is kept for the longest lifetime the
//!   demo accepts, and tokens that would outlive it are refused.
//! - With `require_type` (`TOLLGATE_REQUIRE_TYP=at+jwt`), the provider's ID tokens are not
//!   access tokens.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tollgate::remote::RemoteKeys;
use tollgate::revocation::{BoxFuture, RevocationStore, Status, StoreError, TokenRef};
use tollgate::{MemoryStore, Signer, SigningKey, TokenRequest};
use tollgate_demo::{DemoConfig, app_with_store};
use tower::ServiceExt as _;

const ISSUER: &str = "tollgate-demo";
const AUDIENCE: &str = "tollgate-demo-api";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The in-memory store, remembering the `until` of every subject cut-off written.
#[derive(Debug, Default)]
struct Recording {
    store: MemoryStore,
    cut_offs: Mutex<Vec<(String, u64)>>,
}

impl RevocationStore for Recording {
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.revoke_token(issuer, subject, id, until)
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.cut_offs
            .lock()
            .unwrap()
            .push((subject.to_owned(), until));
        self.store.revoke_subject(issuer, subject, before, until)
    }

    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.remove_token(issuer, subject, id)
    }

    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.remove_subject(issuer, subject)
    }

    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        self.store.check(token)
    }

    fn check_now(&self, token: &TokenRef) -> Option<Status> {
        self.store.check_now(token)
    }
}

/// The identity provider: its signer (for the demo's issuer and audience) and the URL of
/// its JWK Set, served on 127.0.0.1.
async fn provider() -> (SigningKey, String) {
    let key = SigningKey::generate_ed25519("idp-1").unwrap();
    let jwks = json!({ "keys": [key.public_jwk().unwrap()] });
    let router = Router::new().route(
        "/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (key, url)
}

/// A token of the provider for `sub`, living `ttl`, with the header `typ`.
fn provider_token(key: &SigningKey, sub: &str, ttl: Duration, typ: &str) -> String {
    Signer::builder(key.clone())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .ttl(ttl)
        .token_type(typ)
        .build()
        .unwrap()
        .issue(&TokenRequest::new(sub))
        .unwrap()
        .token
}

async fn demo(url: &str, require_type: Option<&str>) -> (Router, Arc<Recording>) {
    let keys = RemoteKeys::jwks(url).build().unwrap();
    assert!(keys.wait_until_loaded(Duration::from_secs(5)).await);
    let config = DemoConfig {
        remote_keys: Some(keys),
        require_type: require_type.map(str::to_owned),
        ..DemoConfig::default()
    };
    let store = Arc::new(Recording::default());
    (app_with_store(&config, store.clone()).unwrap(), store)
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if !token.is_empty() {
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

async fn login_admin(app: &Router) -> String {
    let login = json!({ "username": "admin", "password": "admin" });
    let (status, body) = call(app, "POST", "/login", "", Some(login)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_provider_user_stays_revoked_for_the_life_of_its_tokens() {
    let (idp, url) = provider().await;
    let (app, store) = demo(&url, None).await;
    let twenty_hours = Duration::from_secs(20 * 3600);
    let bob = provider_token(&idp, "bob", twenty_hours, "at+jwt");
    let bob_expires = now() + twenty_hours.as_secs();
    let (status, body) = call(&app, "GET", "/me", &bob, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let admin = login_admin(&app).await;
    let (status, _) = call(&app, "POST", "/admin/revoke-user/bob", &admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&app, "GET", "/me", &bob, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_revoked");

    // The cut-off is kept at least until bob's token can no longer be accepted (exp plus
    // the 60 s leeway): it cannot expire first and let the token back in.
    let cut_offs = store.cut_offs.lock().unwrap().clone();
    assert_eq!(cut_offs.len(), 1);
    let (subject, until) = &cut_offs[0];
    assert_eq!(subject, "bob");
    assert!(
        *until >= bob_expires + 60,
        "the cut-off ends {} s before bob's token",
        (bob_expires + 60).saturating_sub(*until)
    );

    // A token that would outlive any cut-off (the default bound is 24 h) is not accepted.
    let too_long = provider_token(&idp, "carol", Duration::from_secs(30 * 3600), "at+jwt");
    let (status, body) = call(&app, "GET", "/me", &too_long, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "token_lifetime_too_long");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_require_type_the_providers_id_tokens_are_refused() {
    let (idp, url) = provider().await;
    let hour = Duration::from_secs(3600);
    let id_token = provider_token(&idp, "bob", hour, "JWT");
    let access_token = provider_token(&idp, "bob", hour, "at+jwt");

    // Without the rule (as before), an ID token for this audience passes.
    let (app, _) = demo(&url, None).await;
    let (status, _) = call(&app, "GET", "/me", &id_token, None).await;
    assert_eq!(status, StatusCode::OK);

    let (app, _) = demo(&url, Some("at+jwt")).await;
    let (status, body) = call(&app, "GET", "/me", &id_token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["code"], "type_mismatch");
    let (status, body) = call(&app, "GET", "/me", &access_token, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The demo's own tokens are access tokens.
    let admin = login_admin(&app).await;
    let (status, body) = call(&app, "GET", "/me", &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The demo with an Amazon Cognito user pool beside its own tokens: the pool's access
/// tokens for the allowed app client are accepted, other clients' and ID tokens are not,
/// the demo's own tokens still are, and revoke-user revokes the user under both issuers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cognito_pool_beside_the_demos_own_tokens() {
    use tollgate::cognito::{CognitoSettings, TokenUse, UserPool};
    let (idp, url) = provider().await;
    let pool: UserPool = "eu-west-1_AbCdEf123".parse().unwrap();
    let keys = RemoteKeys::jwks(url).build().unwrap();
    assert!(keys.wait_until_loaded(Duration::from_secs(5)).await);
    let config = DemoConfig {
        remote_keys: Some(keys),
        cognito: Some(CognitoSettings {
            pool: pool.clone(),
            clients: vec!["client-1".into()],
            uses: vec![TokenUse::Access],
        }),
        ..DemoConfig::default()
    };
    let app = app_with_store(&config, Arc::new(Recording::default())).unwrap();
    let cognito = |aud: Option<&str>, claims: TokenRequest| {
        let mut signer = Signer::builder(idp.clone()).issuer(pool.issuer());
        if let Some(aud) = aud {
            signer = signer.audience(aud);
        }
        signer.build().unwrap().issue(&claims).unwrap().token
    };
    let access = |client: &str| {
        TokenRequest::new("dave")
            .claim("token_use", "access")
            .claim("client_id", client)
    };
    let dave = cognito(None, access("client-1"));
    let (status, body) = call(&app, "GET", "/me", &dave, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&app, "GET", "/me", &cognito(None, access("client-2")), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "audience_mismatch");
    let id = cognito(
        Some("client-1"),
        TokenRequest::new("dave").claim("token_use", "id"),
    );
    let (status, body) = call(&app, "GET", "/me", &id, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_use_mismatch");

    let admin = login_admin(&app).await;
    let (status, _) = call(&app, "GET", "/me", &admin, None).await;
    assert_eq!(status, StatusCode::OK, "the demo's own tokens still work");
    let (status, _) = call(&app, "POST", "/admin/revoke-user/dave", &admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&app, "GET", "/me", &dave, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_revoked");
}
