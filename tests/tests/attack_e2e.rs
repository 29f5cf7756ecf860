//! End-to-end attack run: the demo API (`tollgate_demo::app`, the router the
//! `tollgate-demo` binary serves) on a real socket (`axum::serve` on 127.0.0.1, port 0),
//! attacked over raw HTTP/1.1 written byte by byte on a `TcpStream`, so that hyper's
//! parsing and the whole stack sit between the attacker and tollgate.
//!
//! Each attack asserts the status, the exact `WWW-Authenticate` header and the JSON body's
//! `code`. The demo's handlers answer with claims or a message, never with an error `code`:
//! a refusal body is proof that no handler ran. The one attack the demo cannot show (it does
//! not read tokens from the query) runs against a router of the test's own that does, and
//! that counts its handler calls.
//!
//! `scripts/attack.sh` replays a subset of these with curl against a running demo.

mod common;

use axum::Router;
use common::{ED25519_PRIVATE_PEM, ED25519_PUBLIC_PEM, Runs, TestKey, b64, forge, now, unb64};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use tollgate::SigningKey;
use tollgate_demo::DemoConfig;

const REALM: &str = r#"Bearer realm="tollgate-demo""#;
const DEMO_KID: &str = "demo-1";
const DEMO_ISSUER: &str = "tollgate-demo";
const DEMO_AUDIENCE: &str = "tollgate-demo-api";

// ---------------------------------------------------------------------------------------
// A server on a real socket, and a client that writes raw HTTP/1.1
// ---------------------------------------------------------------------------------------

/// A router served by `axum::serve` on 127.0.0.1 until dropped.
#[derive(Debug)]
struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(router: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { addr, task }
    }

    /// Sends `method path` with `headers` (and a body, if any) as raw HTTP/1.1, on a
    /// connection of its own.
    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("Connection: close\r\n\r\n");
        request.push_str(body);
        let addr = self.addr;
        tokio::task::spawn_blocking(move || exchange(addr, request.as_bytes()))
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", path, headers, "").await
    }

    /// `GET path` with `Authorization: Bearer <token>`.
    async fn bearer(&self, path: &str, token: &str) -> Reply {
        let authorization = format!("Bearer {token}");
        self.get(path, &[("Authorization", &authorization)]).await
    }

    /// Logs in as `user` (whose password is its name); returns the access token.
    async fn login(&self, user: &str) -> String {
        let body = json!({ "username": user, "password": user }).to_string();
        let reply = self
            .send(
                "POST",
                "/login",
                &[("Content-Type", "application/json")],
                &body,
            )
            .await;
        assert_eq!(reply.status, 200, "login: {}", reply.body);
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Writes `request` and reads the answer until the server closes the connection.
fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    Reply::parse(&raw)
}

/// An HTTP/1.1 response as read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Self {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(raw)));
        let head = std::str::from_utf8(&raw[..split]).unwrap();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        let mut body = raw[split + 4..].to_vec();
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        if chunked {
            body = dechunk(&body);
        }
        Self {
            status,
            headers,
            body: String::from_utf8(body).unwrap(),
        }
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `WWW-Authenticate` header, if there is exactly one.
    #[track_caller]
    fn challenge(&self) -> Option<&str> {
        let values = self.header_values("www-authenticate");
        assert!(values.len() <= 1, "several WWW-Authenticate: {values:?}");
        values.first().copied()
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    /// A refusal: `status`, exactly `challenge`, and a JSON error body with `code`.
    #[track_caller]
    fn assert_refused(&self, status: u16, challenge: &str, error: &str, code: &str) {
        assert_eq!(self.status, status, "status; body: {}", self.body);
        assert_eq!(self.challenge(), Some(challenge), "WWW-Authenticate");
        let body = self.json();
        assert_eq!(body["error"], error, "body: {body}");
        assert_eq!(body["code"], code, "body: {body}");
        // The demo's handlers never answer with these members: no handler ran.
        assert!(body.get("sub").is_none() && body.get("message").is_none());
    }

    #[track_caller]
    fn assert_missing_token(&self) {
        self.assert_refused(401, REALM, "unauthorized", "token_missing");
    }

    /// 401 `invalid_token` with `code` and `description`.
    #[track_caller]
    fn assert_invalid_token(&self, (code, description): (&str, &str)) {
        let challenge =
            format!(r#"{REALM}, error="invalid_token", error_description="{description}""#);
        self.assert_refused(401, &challenge, "invalid_token", code);
    }

    /// 400 `invalid_request`.
    #[track_caller]
    fn assert_invalid_request(&self, realm: &str, description: &str) {
        let challenge =
            format!(r#"{realm}, error="invalid_request", error_description="{description}""#);
        self.assert_refused(400, &challenge, "invalid_request", "invalid_request");
    }

    #[track_caller]
    fn assert_ok(&self) -> Value {
        assert_eq!(self.status, 200, "status; body: {}", self.body);
        assert_eq!(self.challenge(), None);
        self.json()
    }
}

/// The body of a `Transfer-Encoding: chunked` message.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = std::str::from_utf8(&raw[..line_end]).unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        raw = &raw[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

// ---------------------------------------------------------------------------------------
// The attacks
// ---------------------------------------------------------------------------------------

const MALFORMED: (&str, &str) = ("token_malformed", "malformed token");
const BAD_SIGNATURE: (&str, &str) = ("signature_invalid", "invalid signature");
const ALG_NONE: (&str, &str) = ("algorithm_none", "unsigned tokens are not accepted");
const ALG_MISMATCH: (&str, &str) = ("algorithm_mismatch", "algorithm not allowed for this key");
const REVOKED: (&str, &str) = ("token_revoked", "token revoked");

/// The demo, signing with the Ed25519 fixture key (as `TOLLGATE_SIGNING_KEY_FILE` would),
/// so that the test can mint tokens the demo's key signed with chosen claims.
async fn demo() -> Server {
    let key = SigningKey::ed25519_pem(DEMO_KID, ED25519_PRIVATE_PEM.as_bytes()).unwrap();
    let config = DemoConfig {
        signing_key: Some(key),
        ..DemoConfig::default()
    };
    Server::start(tollgate_demo::app(&config).unwrap()).await
}

/// The claims of a compact token.
fn claims_of(token: &str) -> Value {
    serde_json::from_slice(&unb64(token.split('.').nth(1).unwrap())).unwrap()
}

/// The demo's header, and claims like a login's for `sub` with `changes` applied.
fn demo_claims(changes: Value) -> Value {
    let now = now();
    common::with(
        json!({
            "iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": "alice", "roles": ["user"],
            "iat": now, "exp": now + 600, "jti": "e2e-forged",
        }),
        changes,
    )
}

fn demo_header() -> Value {
    json!({ "alg": "EdDSA", "kid": DEMO_KID, "typ": "JWT" })
}

/// A token of `header` and `claims`, MACed with HS256 under `secret`.
fn hs256_token(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    format!(
        "{input}.{}",
        b64(common::hmac_sha256(secret, input.as_bytes()))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_refuses_every_attack_over_real_http() {
    let demo = demo().await;
    let health = demo.get("/health", &[]).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let alice = demo.login("alice").await;
    let admin = demo.login("admin").await;
    let me = demo.bearer("/me", &alice).await.assert_ok();
    assert_eq!(me["sub"], "alice");
    let [header64, payload64, signature64] = {
        let parts: Vec<&str> = alice.split('.').collect();
        [parts[0], parts[1], parts[2]]
    };

    // No token; another scheme.
    demo.get("/me", &[]).await.assert_missing_token();
    demo.get("/me", &[("Authorization", "Basic YWxpY2U6YWxpY2U=")])
        .await
        .assert_missing_token();

    // Garbage bearer tokens; an empty one.
    for (garbage, refusal) in [
        ("garbage", MALFORMED),
        ("%00%00", MALFORMED),
        ("a.b", MALFORMED),
        ("a.b.c", ("header_malformed", "malformed token header")),
    ] {
        demo.bearer("/me", garbage)
            .await
            .assert_invalid_token(refusal);
    }
    demo.get("/me", &[("Authorization", "Bearer")])
        .await
        .assert_invalid_request(REALM, "malformed bearer token");

    // alg none / None / NONE: alice's claims, with her signature or none at all.
    for alg in ["none", "None", "NONE"] {
        let none64 = b64(json!({ "alg": alg, "typ": "JWT" }).to_string());
        demo.bearer("/me", &format!("{none64}.{payload64}.{signature64}"))
            .await
            .assert_invalid_token(ALG_NONE);
        demo.bearer("/me", &format!("{none64}.{payload64}."))
            .await
            .assert_invalid_token(MALFORMED);
    }

    // Algorithm confusion: HS256 MACs keyed with the demo's public key, as published by
    // its own JWKS endpoint (the raw `x`), as the JWK document, and as PEM.
    let jwks = demo.get("/.well-known/jwks.json", &[]).await.assert_ok();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kid"], DEMO_KID);
    let x = unb64(jwk["x"].as_str().unwrap());
    let admin_claims = demo_claims(json!({ "roles": ["user", "admin"] }));
    for secret in [
        x.clone(),
        jwk.to_string().into_bytes(),
        ED25519_PUBLIC_PEM.as_bytes().to_vec(),
    ] {
        let header = json!({ "alg": "HS256", "kid": DEMO_KID, "typ": "JWT" });
        let confused = hs256_token(&header, &admin_claims, &secret);
        demo.bearer("/admin", &confused)
            .await
            .assert_invalid_token(ALG_MISMATCH);
        // Without a kid: no key is bound to HS256, so none is even tried.
        let header = json!({ "alg": "HS256", "typ": "JWT" });
        let confused = hs256_token(&header, &admin_claims, &secret);
        demo.bearer("/admin", &confused)
            .await
            .assert_invalid_token(ALG_MISMATCH);
    }

    // Tampered payload: alice's token claiming the admin role, her signature kept.
    let mut tampered_claims = claims_of(&alice);
    tampered_claims["roles"] = json!(["user", "admin"]);
    let tampered = format!(
        "{header64}.{}.{signature64}",
        b64(tampered_claims.to_string())
    );
    demo.bearer("/admin", &tampered)
        .await
        .assert_invalid_token(BAD_SIGNATURE);

    // Forged admin role, re-signed by the attacker's own Ed25519 key under the demo's kid.
    let forged = forge(&demo_header(), &admin_claims, TestKey::Attacker);
    demo.bearer("/admin", &forged)
        .await
        .assert_invalid_token(BAD_SIGNATURE);
    // ... and with the attacker's key embedded in the header (CVE-2018-0114).
    let embedded = common::with(
        demo_header(),
        json!({ "jwk": TestKey::Attacker.public_jwk() }),
    );
    demo.bearer(
        "/admin",
        &forge(&embedded, &admin_claims, TestKey::Attacker),
    )
    .await
    .assert_invalid_token(BAD_SIGNATURE);

    // Genuinely signed by the demo's key, but expired, or for another audience or issuer.
    let signed = |changes: Value| forge(&demo_header(), &demo_claims(changes), TestKey::Ed);
    let control = signed(json!({}));
    demo.bearer("/me", &control).await.assert_ok();
    demo.bearer(
        "/me",
        &signed(json!({ "exp": now() - 3600, "iat": now() - 7200 })),
    )
    .await
    .assert_invalid_token(("token_expired", "token expired"));
    demo.bearer("/me", &signed(json!({ "aud": "another-api" })))
        .await
        .assert_invalid_token(("audience_mismatch", "wrong audience"));
    demo.bearer("/me", &signed(json!({ "iss": "tollgate-demo/" })))
        .await
        .assert_invalid_token(("issuer_mismatch", "wrong issuer"));

    // Oversized tokens (over the default 8 KiB): 401, not 431 or 500.
    for size in [8 * 1024 + 1, 9 * 1024, 64 * 1024] {
        let huge = signed(json!({ "pad": "p".repeat(size) }));
        assert!(huge.len() > 8 * 1024);
        demo.bearer("/me", &huge)
            .await
            .assert_invalid_token(("token_too_large", "token too large"));
    }

    // A token in two places: two Authorization headers.
    let authorization = format!("Bearer {alice}");
    demo.get(
        "/me",
        &[
            ("Authorization", &authorization),
            ("Authorization", &authorization),
        ],
    )
    .await
    .assert_invalid_request(REALM, "more than one Authorization header");
    // The demo reads no token from the query: one there is ignored, not a second token.
    demo.get(&format!("/me?access_token={alice}"), &[])
        .await
        .assert_missing_token();
    demo.get(
        "/me?access_token=garbage",
        &[("Authorization", &authorization)],
    )
    .await
    .assert_ok();
    // Header and cookie: the header is what is judged.
    let cookie = format!("__Host-access_token={alice}");
    demo.get(
        "/me",
        &[("Authorization", "Bearer garbage"), ("Cookie", &cookie)],
    )
    .await
    .assert_invalid_token(MALFORMED);
    demo.get("/me", &[("Cookie", &cookie)]).await.assert_ok();

    // A valid token without the role: 403.
    let challenge = format!(
        r#"{REALM}, error="insufficient_scope", error_description="the token lacks a required role or scope", scope="admin""#
    );
    demo.bearer("/admin", &alice).await.assert_refused(
        403,
        &challenge,
        "insufficient_scope",
        "insufficient_scope",
    );
    let welcome = demo.bearer("/admin", &admin).await.assert_ok();
    assert_eq!(welcome["message"], "welcome, admin");

    // A page of another site posts a form to /logout: the browser attaches the cookie, the
    // layer refuses it before the handler (no challenge: the token is not at fault), and
    // the session survives.
    let forged = demo
        .send(
            "POST",
            "/logout",
            &[
                ("Cookie", &cookie),
                ("Origin", "https://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            "confirm=yes",
        )
        .await;
    assert_eq!(forged.status, 403, "body: {}", forged.body);
    assert_eq!(forged.challenge(), None);
    assert_eq!(forged.json()["code"], "cross_origin_request");
    assert!(forged.header_values("set-cookie").is_empty());
    demo.get("/me", &[("Cookie", &cookie)]).await.assert_ok();

    // Logout revokes the token: in the header and in the cookie alike.
    let logout = demo
        .send("POST", "/logout", &[("Authorization", &authorization)], "")
        .await;
    assert_eq!(logout.status, 204, "logout: {}", logout.body);
    demo.bearer("/me", &alice)
        .await
        .assert_invalid_token(REVOKED);
    demo.get("/me", &[("Cookie", &cookie)])
        .await
        .assert_invalid_token(REVOKED);
    // A fresh login of the same user is not affected.
    demo.bearer("/me", &demo.login("alice").await)
        .await
        .assert_ok();
}

/// Case 5 over HTTP with a layer that reads the query too: header and query together are
/// 400, and the handler never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_header_and_the_query_is_400_over_real_http() {
    let runs = Runs::default();
    let router = common::routes(&runs).layer(common::layer().query_parameter("access_token"));
    let server = Server::start(router).await;
    let token = common::valid_token();
    let authorization = format!("Bearer {token}");
    let realm = common::CHALLENGE;

    server
        .get(
            &format!("/?access_token={token}"),
            &[("Authorization", &authorization)],
        )
        .await
        .assert_invalid_request(realm, "token sent in more than one way");
    server
        .get(&format!("/?access_token={token}&access_token={token}"), &[])
        .await
        .assert_invalid_request(realm, "token query parameter sent more than once");
    assert_eq!(runs.get(), 0, "a handler ran");

    // Either one alone is fine.
    server
        .get(&format!("/?access_token={token}"), &[])
        .await
        .assert_ok();
    server.bearer("/", &token).await.assert_ok();
    assert_eq!(runs.get(), 2);
}
