//! Drives the demo's router (and once, the real binary) through login → /me → /admin.

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tollgate_demo::{DemoConfig, app};
use tower::ServiceExt;

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn login_request(username: &str, password: &str) -> Request<Body> {
    Request::post("/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"username": username, "password": password}).to_string(),
        ))
        .unwrap()
}

fn get(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

async fn login(app: &Router, user: &str) -> String {
    let (status, headers, body) = send(app, login_request(user, user)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    // What a browser requires of a `__Host-` cookie: no `Domain` (and the above).
    assert!(!cookie.contains("Domain"), "{cookie}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("__Host-access_token={token};")));
    token
}

#[tokio::test]
async fn alice_reads_me_but_not_admin() {
    let app = app(&DemoConfig::default()).unwrap();
    let token = login(&app, "alice").await;

    let (status, _, body) = send(&app, get("/me", &token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["roles"], json!(["user"]));

    let (status, headers, body) = send(&app, get("/admin", &token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tollgate-demo", error="insufficient_scope", error_description="the token lacks a required role or scope", scope="admin""#
    );
    assert_eq!(body["error"], "insufficient_scope");
}

#[tokio::test]
async fn admin_reads_me_and_admin() {
    let app = app(&DemoConfig::default()).unwrap();
    let token = login(&app, "admin").await;

    let (status, _, body) = send(&app, get("/me", &token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "admin");
    assert_eq!(body["roles"], json!(["user", "admin"]));

    let (status, _, body) = send(&app, get("/admin", &token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "welcome, admin");
}

#[tokio::test]
async fn the_login_cookie_authenticates_too() {
    let app = app(&DemoConfig::default()).unwrap();
    let token = login(&app, "alice").await;
    let request = Request::get("/me")
        .header(
            header::COOKIE,
            format!("theme=dark; __Host-access_token={token}"),
        )
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "alice");

    // The name without the prefix is not read.
    let request = Request::get("/me")
        .header(header::COOKIE, format!("access_token={token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, request).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_credentials_and_missing_tokens_are_refused() {
    let app = app(&DemoConfig::default()).unwrap();
    let (status, headers, body) = send(&app, login_request("alice", "wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!headers.contains_key(header::SET_COOKIE));
    assert_eq!(body["error"], "invalid_credentials");

    let (status, headers, _) = send(&app, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tollgate-demo""#
    );

    let (status, headers, body) = send(&app, get("/admin", "not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tollgate-demo", error="invalid_token", error_description="malformed token""#
    );
    assert_eq!(body["code"], "token_malformed");
}

#[tokio::test]
async fn a_token_of_another_instance_is_refused() {
    let first = app(&DemoConfig::default()).unwrap();
    let second = app(&DemoConfig::default()).unwrap();
    let token = login(&first, "admin").await;
    let (status, _, body) = send(&second, get("/me", &token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "signature_invalid");
}

#[tokio::test]
async fn public_routes_and_jwks() {
    let app = app(&DemoConfig::default()).unwrap();
    let response = app
        .clone()
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let (status, _, body) = send(
        &app,
        Request::get("/.well-known/jwks.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], "demo-1");
    assert_eq!(keys[0]["kty"], "OKP");
    assert!(
        keys[0].get("d").is_none(),
        "the JWKS must not publish the private key"
    );
    // The published key set verifies the demo's tokens.
    let token = login(&app, "alice").await;
    let verifier = tollgate::Verifier::builder()
        .keys(tollgate::KeySet::from_public_jwks(&body.to_string(), None).unwrap())
        .issuer("tollgate-demo")
        .audience("tollgate-demo-api")
        .build()
        .unwrap();
    assert_eq!(verifier.verify(&token).unwrap().subject(), Some("alice"));
}

/// The binary itself, over a real socket: `cargo run -p tollgate-demo` as a newcomer runs it.
#[tokio::test]
async fn the_binary_serves_the_demo() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate-demo"))
        .env("TOLLGATE_ADDR", "127.0.0.1:0")
        .env_remove("REDIS_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();

    async fn http(addr: &str, request: String) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }
    let body = r#"{"username":"admin","password":"admin"}"#;
    let response = http(
        &base,
        format!(
            "POST /login HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let json: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let token = json["access_token"].as_str().unwrap();

    let response = http(
        &base,
        format!("GET /admin HTTP/1.1\r\nHost: demo\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("welcome, admin"));

    let response = http(
        &base,
        "GET /me HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(
        response.contains("www-authenticate: Bearer realm=\"tollgate-demo\""),
        "{response}"
    );
    child.kill().await.unwrap();
}

fn post(path: &str, token: &str) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn logout_revokes_the_presented_token_only() {
    let app = app(&DemoConfig::default()).unwrap();
    let first = login(&app, "alice").await;
    let second = login(&app, "alice").await;

    let (status, headers, _) = send(&app, post("/logout", &first)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cleared = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("__Host-access_token=;"), "{cleared}");
    for attribute in ["Max-Age=0", "Secure", "Path=/"] {
        assert!(cleared.contains(attribute), "{cleared} lacks {attribute}");
    }

    let (status, headers, body) = send(&app, get("/me", &first)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tollgate-demo", error="invalid_token", error_description="token revoked""#
    );
    assert_eq!(body["code"], "token_revoked");

    let (status, _, _) = send(&app, get("/me", &second)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another session of the same user stays valid"
    );
}

/// A page of another site posts a form to `/logout`: the browser attaches the login cookie,
/// and the layer refuses the request before the handler, so the session survives. The same
/// request with the token in the `Authorization` header (which no other site can make a
/// browser send) logs out.
#[tokio::test]
async fn a_cross_site_form_cannot_log_out_with_the_cookie() {
    let app = app(&DemoConfig::default()).unwrap();
    let (status, headers, body) = send(&app, login_request("alice", "alice")).await;
    assert_eq!(status, StatusCode::OK);
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let cross_site = |credentials: (header::HeaderName, String)| {
        Request::post("/logout")
            .header(header::HOST, "demo.example")
            .header(header::ORIGIN, "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(credentials.0, credentials.1)
            .body(Body::from("confirm=yes"))
            .unwrap()
    };

    let (status, headers, body) = send(&app, cross_site((header::COOKIE, cookie))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "cross_origin_request");
    assert!(
        !headers.contains_key(header::SET_COOKIE),
        "the cookie was cleared"
    );
    assert_eq!(send(&app, get("/me", &token)).await.0, StatusCode::OK);

    let bearer = (header::AUTHORIZATION, format!("Bearer {token}"));
    let (status, _, _) = send(&app, cross_site(bearer)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = send(&app, get("/me", &token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_revoked");
}

#[tokio::test]
async fn an_admin_revokes_every_token_of_a_user() {
    let app = app(&DemoConfig::default()).unwrap();
    let alice = login(&app, "alice").await;
    let admin = login(&app, "admin").await;

    let (status, _, _) = send(&app, post("/admin/revoke-user/admin", &alice)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only admins may revoke users"
    );

    let (status, _, _) = send(&app, post("/admin/revoke-user/alice", &admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = send(&app, get("/me", &alice)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_revoked");
    let (status, _, _) = send(&app, get("/me", &admin)).await;
    assert_eq!(status, StatusCode::OK, "other users are unaffected");
}

/// `/metrics` renders what the Prometheus recorder saw (a recorder local to this thread, on
/// a current-thread runtime: `main` installs one globally instead), and `/ready` is 200.
#[test]
fn metrics_and_readiness() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let config = DemoConfig {
        metrics: Some(recorder.handle()),
        ..DemoConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let app = app(&config).unwrap();
            let (status, _, body) =
                send(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                body,
                json!({"ready": true, "keys_loaded": true, "revocation_store": "ok"})
            );
            let token = login(&app, "alice").await;
            assert_eq!(send(&app, get("/me", &token)).await.0, StatusCode::OK);
            assert_eq!(
                send(&app, get("/admin", &token)).await.0,
                StatusCode::FORBIDDEN
            );
            assert_eq!(
                send(&app, get("/me", "not-a-token")).await.0,
                StatusCode::UNAUTHORIZED
            );
            let response = app
                .clone()
                .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert!(
                response.headers()[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain; version=0.0.4")
            );
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
    });
    for line in [
        r#"tollgate_decisions_total{outcome="allowed",reason="ok"} 2"#,
        r#"tollgate_decisions_total{outcome="refused",reason="insufficient_scope"} 1"#,
        r#"tollgate_decisions_total{outcome="refused",reason="token_malformed"} 1"#,
        r#"tollgate_verification_seconds_count{alg="EdDSA"} 2"#,
        r#"tollgate_verification_seconds_count{alg="unknown"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}
