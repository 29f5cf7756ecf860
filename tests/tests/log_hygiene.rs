//! Log hygiene (`docs/security-cases.md`: no whole token or secret in the logs): every
//! `tracing` event and span of full request cycles, at TRACE level and for every target, is
//! captured, then searched for tokens and secrets.
//!
//! The cycles: on the demo router (`tollgate_demo::app`), a login, a failed login, requests
//! with a valid token, a token with a bad signature, an expired token, a token in a cookie,
//! a logout, the revoked token, an admin revoking every token of a user; and on a router
//! whose verifier holds an HMAC secret, the same kinds of requests plus a revocation store
//! that fails (both policies).
//!
//! The subscriber is the thread's default (`set_default`) and the runtime is a
//! current-thread one, so every event of the requests, wherever it comes from, reaches it.

mod common;

use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use std::io;
use std::sync::{Arc, Mutex};
use tollgate::revocation::{BoxFuture, RevocationStore, Status, StoreError, TokenRef};
use tollgate::{MemoryStore, SigningKey};
use tollgate_axum::StoreFailure;
use tollgate_demo::DemoConfig;
use tower::ServiceExt as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// A password no log line has any business containing: sent in a failed login.
const WRONG_PASSWORD: &str = "n0t-the-Passw0rd-of-alice-7f3a91";
/// The demo's `kid` and claims (see `DemoConfig::default`).
const DEMO_KID: &str = "demo-1";
const DEMO_ISSUER: &str = "tollgate-demo";
const DEMO_AUDIENCE: &str = "tollgate-demo-api";

// ---------------------------------------------------------------------------------------
// Capturing every event
// ---------------------------------------------------------------------------------------

/// Everything the subscriber wrote.
#[derive(Debug, Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `cycle` on a current-thread runtime with a subscriber that records every event and
/// span (TRACE, every target, no colours) as text; returns that text.
fn capture<F: std::future::Future<Output = ()>>(cycle: F) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .with_target(true)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = subscriber.set_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(cycle);
    captured.text()
}

/// Everything that must never be logged, with a name for the failure message.
#[derive(Debug, Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: impl Into<String>, value: impl Into<String>) {
        let value = value.into();
        assert!(value.len() >= 8, "too short to search for: {value:?}");
        self.0.push((what.into(), value));
    }

    /// A token: the whole of it, its signing input and its signature segment.
    fn token(&mut self, what: &str, token: &str) {
        let [header, payload, signature] = segments(token);
        self.add(format!("{what} (full token)"), token);
        self.add(
            format!("{what} (header.payload)"),
            format!("{header}.{payload}"),
        );
        self.add(format!("{what} (payload segment)"), payload);
        self.add(format!("{what} (signature segment)"), signature);
    }

    /// A secret key: its bytes as text (if they are), base64, base64url and hex.
    fn key(&mut self, what: &str, bytes: &[u8]) {
        if let Ok(text) = std::str::from_utf8(bytes) {
            self.add(format!("{what} (text)"), text);
        }
        self.add(format!("{what} (base64)"), STANDARD.encode(bytes));
        self.add(format!("{what} (base64url)"), URL_SAFE_NO_PAD.encode(bytes));
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.add(format!("{what} (hex)"), hex);
    }

    #[track_caller]
    fn assert_absent_from(&self, logs: &str) {
        for (what, value) in &self.0 {
            assert!(
                !logs.contains(value.as_str()),
                "the logs contain the {what}: {value}\n--- logs ---\n{logs}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The demo
// ---------------------------------------------------------------------------------------

/// The demo router, signing with the Ed25519 fixture key so that the test can also forge
/// tokens the demo's key signed (an expired one).
fn demo() -> Router {
    let key = SigningKey::ed25519_pem(DEMO_KID, ED25519_PRIVATE_PEM.as_bytes()).unwrap();
    let config = DemoConfig {
        signing_key: Some(key),
        ..DemoConfig::default()
    };
    tollgate_demo::app(&config).unwrap()
}

/// Status, `Set-Cookie` and JSON body (or `null`) of one request to `router`.
async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        cookie,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn login_request(username: &str, password: &str) -> Request<Body> {
    Request::post("/login")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({ "username": username, "password": password }).to_string(),
        ))
        .unwrap()
}

fn with_bearer(method: &str, path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn with_cookie(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(COOKIE, format!("__Host-access_token={token}"))
        .body(Body::empty())
        .unwrap()
}

/// Logs in; returns the token (checked to be the cookie's value too) and its `jti`.
async fn login(router: &Router, user: &str) -> (String, String) {
    let (status, cookie, body) = send(router, login_request(user, user)).await;
    assert_eq!(status, StatusCode::OK, "login of {user}: {body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(
        cookie
            .unwrap()
            .starts_with(&format!("__Host-access_token={token};"))
    );
    let claims: Value = serde_json::from_slice(&unb64(segments(&token)[1])).unwrap();
    (token, claims["jti"].as_str().unwrap().to_owned())
}

/// `token` with another valid-looking signature: the first character of its signature
/// segment changed.
fn bad_signature(token: &str) -> String {
    let [h, p, s] = segments(token);
    let first = if s.starts_with('A') { 'B' } else { 'A' };
    format!("{h}.{p}.{first}{}", &s[1..])
}

/// A token the demo's key signed, expired an hour ago.
fn expired_demo_token() -> String {
    let now = now();
    let claims = json!({
        "iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": "alice", "roles": ["user"],
        "jti": "expired-demo-token", "iat": now - 7200, "exp": now - 3600,
    });
    let header = json!({ "alg": "EdDSA", "kid": DEMO_KID, "typ": "JWT" });
    forge(&header, &claims, TestKey::Ed)
}

#[test]
fn a_full_demo_cycle_logs_no_token_and_no_secret() {
    let mut secrets = Secrets::default();
    let mut jtis = Vec::new();
    let logs = capture(async {
        let router = demo();

        // Logins: alice twice (one token for the header, one for the cookie), a wrong
        // password, the admin.
        let (alice, alice_jti) = login(&router, "alice").await;
        let (alice_cookie, cookie_jti) = login(&router, "alice").await;
        let (admin, admin_jti) = login(&router, "admin").await;
        let (status, _, _) = send(&router, login_request("alice", WRONG_PASSWORD)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // A valid token; a bad signature; an expired token; a token in a cookie.
        let (status, _, body) = send(&router, with_bearer("GET", "/me", &alice)).await;
        assert_eq!(
            (status, body["sub"].as_str()),
            (StatusCode::OK, Some("alice"))
        );
        let forged = bad_signature(&alice);
        let (status, _, body) = send(&router, with_bearer("GET", "/me", &forged)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("signature_invalid"))
        );
        let expired = expired_demo_token();
        let (status, _, body) = send(&router, with_bearer("GET", "/me", &expired)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("token_expired"))
        );
        let (status, _, _) = send(&router, with_cookie("/me", &alice_cookie)).await;
        assert_eq!(status, StatusCode::OK);
        // Alice on the admin route: 403.
        let (status, _, _) = send(&router, with_bearer("GET", "/admin", &alice)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Logout, then the revoked token.
        let (status, _, _) = send(&router, with_bearer("POST", "/logout", &alice)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, body) = send(&router, with_bearer("GET", "/me", &alice)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("token_revoked"))
        );

        // The admin revokes every token of alice: her cookie token is refused too.
        let (status, _, _) = send(&router, with_bearer("GET", "/admin", &admin)).await;
        assert_eq!(status, StatusCode::OK);
        let revoke_all = with_bearer("POST", "/admin/revoke-user/alice", &admin);
        let (status, _, _) = send(&router, revoke_all).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, body) = send(&router, with_cookie("/me", &alice_cookie)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("token_revoked"))
        );

        for (what, token) in [
            ("alice's token", &alice),
            ("alice's cookie token", &alice_cookie),
            ("the admin's token", &admin),
            ("the token with a bad signature", &forged),
            ("the expired token", &expired),
        ] {
            secrets.token(what, token);
        }
        jtis = vec![alice_jti, cookie_jti, admin_jti];
    });

    secrets.add("wrong password", WRONG_PASSWORD);
    secrets.add(
        "login request body",
        json!({ "username": "alice", "password": "alice" }).to_string(),
    );
    secrets.add("password field", "password");
    // The demo's private key: its PKCS#8 document, and the 32-byte seed at its end.
    let der = pem_der(ED25519_PRIVATE_PEM);
    secrets.key("demo signing key (PKCS#8)", &der);
    secrets.key("demo signing key (seed)", &der[der.len() - 32..]);
    println!("{logs}");
    secrets.assert_absent_from(&logs);

    // The logs are not empty, and hold the decisions, with `sub` and `jti`: a test that
    // captured nothing would pass the check above without proving anything.
    assert!(!logs.trim().is_empty(), "nothing was captured");
    let accepted: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(r#"outcome="accepted""#))
        .collect();
    for jti in &jtis {
        assert!(
            accepted.iter().any(|l| l.contains(jti.as_str())),
            "no accepted decision names jti {jti}\n--- logs ---\n{logs}"
        );
    }
    assert!(
        accepted.iter().any(|l| l.contains(r#"sub="alice""#)),
        "{logs}"
    );
    assert!(
        accepted.iter().any(|l| l.contains(r#"sub="admin""#)),
        "{logs}"
    );
    for reason in [
        "signature_invalid",
        "token_expired",
        "token_revoked",
        "insufficient_scope",
    ] {
        assert!(
            logs.lines().any(|l| l.contains(reason)),
            "no refusal with reason {reason}\n--- logs ---\n{logs}"
        );
    }
    // And the demo's own events: the issued tokens and the logout, by `jti`.
    assert!(logs.contains("issued a token"), "{logs}");
    assert!(logs.contains("logged out"), "{logs}");
}

// ---------------------------------------------------------------------------------------
// A verifier holding an HMAC secret
// ---------------------------------------------------------------------------------------

/// A revocation store that is always down.
#[derive(Debug)]
struct Down;

fn down<T>() -> BoxFuture<'static, Result<T, StoreError>> {
    Box::pin(async { Err(StoreError::msg("connection refused")) })
}

impl RevocationStore for Down {
    fn revoke_token<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: &'a str,
        _: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }

    fn revoke_subject<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: u64,
        _: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }

    fn remove_token<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }

    fn remove_subject<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }

    fn check<'a>(&'a self, _: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        down()
    }
}

#[test]
fn an_hmac_verifier_logs_neither_its_secret_nor_tokens() {
    let mut secrets = Secrets::default();
    let mut jti = String::new();
    let logs = capture(async {
        let store = MemoryStore::new();
        let app = App::new(layer().revocation(store.clone()));
        let valid = token_with_claims(TestKey::Hs, json!({ "jti": "hygiene-valid" }));
        let revoked = token_with_claims(TestKey::Hs, json!({ "jti": "hygiene-revoked" }));
        // An HS256 MAC under a secret the verifier does not hold.
        let signing_input = format!(
            "{}.{}",
            b64(TestKey::Hs.header().to_string()),
            b64(claims().to_string())
        );
        let mac = hmac_sha256(
            b"another-secret-of-32-bytes-long!",
            signing_input.as_bytes(),
        );
        let wrong_secret = format!("{signing_input}.{}", b64(mac));
        let expired = token_with_claims(TestKey::Hs, json!({ "exp": now() - 3600 }));
        let wrong_audience = token_with_claims(TestKey::Hs, json!({ "aud": "elsewhere" }));

        app.bearer(&valid).await.assert_accepted();
        let cookie = format!("access_token={valid}");
        app.get("/", &[(COOKIE.as_str(), &cookie)])
            .await
            .assert_accepted();
        app.bearer_at("/admin", &valid)
            .await
            .assert_insufficient_scope("admin");
        app.bearer(&wrong_secret)
            .await
            .assert_invalid_token("signature_invalid", "invalid signature");
        app.bearer(&expired)
            .await
            .assert_invalid_token("token_expired", "token expired");
        app.bearer(&wrong_audience)
            .await
            .assert_invalid_token("audience_mismatch", "wrong audience");
        let verified = verifier().build().unwrap().verify(&revoked).unwrap();
        tollgate::revocation::revoke(&store, &verified)
            .await
            .unwrap();
        app.bearer(&revoked)
            .await
            .assert_invalid_token("token_revoked", "token revoked");

        // The store down: both policies log the store's error, not the token.
        let closed = App::new(layer().revocation(Down));
        assert_eq!(
            closed.bearer(&valid).await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let open = App::new(
            layer()
                .revocation(Down)
                .on_store_error(StoreFailure::FailOpen),
        );
        open.bearer(&valid).await.assert_accepted();

        for (what, token) in [
            ("the valid token", &valid),
            ("the revoked token", &revoked),
            ("the token with a wrong MAC", &wrong_secret),
            ("the expired token", &expired),
            ("the token for another audience", &wrong_audience),
        ] {
            secrets.token(what, token);
        }
        jti = "hygiene-valid".to_owned();
    });
    secrets.key("HMAC secret of the verifier", HS_SECRET);
    println!("{logs}");
    secrets.assert_absent_from(&logs);

    assert!(!logs.trim().is_empty(), "nothing was captured");
    assert!(
        logs.lines().any(|l| l.contains(r#"outcome="accepted""#)
            && l.contains(&jti)
            && l.contains(r#"sub="alice""#)),
        "no accepted decision with sub and jti\n--- logs ---\n{logs}"
    );
    for needle in [
        "signature_invalid",
        "token_expired",
        "audience_mismatch",
        "token_revoked",
        "failing closed",
        "failing open",
        "connection refused",
    ] {
        assert!(
            logs.contains(needle),
            "no {needle:?} in the logs\n--- logs ---\n{logs}"
        );
    }
}

/// The search itself: a log line carrying a token's signature segment is caught.
#[test]
#[should_panic(expected = "the logs contain the a token (signature segment)")]
fn the_search_catches_a_leaked_signature() {
    let token = valid_token();
    let mut secrets = Secrets::default();
    secrets.token("a token", &token);
    let leaked = format!(
        "DEBUG tollgate_axum::auth: outcome=\"refused\" sig={}",
        segments(&token)[2]
    );
    secrets.assert_absent_from(&leaked);
}
