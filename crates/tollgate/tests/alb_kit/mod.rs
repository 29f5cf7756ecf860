//! A test Application Load Balancer: it mints `x-amzn-oidc-data` headers as AWS documents
//! them and serves its public key per `kid` on 127.0.0.1, counting requests. Shared by the
//! ALB tests of `tollgate` and of `tollgate-axum`.

#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The ARN of the test load balancer.
pub(crate) const ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-alb/1234567890abcdef";
/// Another load balancer's ARN.
pub(crate) const OTHER_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/other-alb/fedcba0987654321";
/// The `kid` the key server publishes.
pub(crate) const KID: &str = "12345678-1234-1234-1234-123456789012";
/// The identity provider the load balancer signs users in with.
pub(crate) const ISSUER: &str = "https://idp.example";
/// The load balancer's signing key (a throwaway fixture, see `fixtures/README.md`).
pub(crate) const PRIVATE_PEM: &str = include_str!("../fixtures/p256-private.pem");
/// Its public half, as `public-keys.auth.elb.{region}.amazonaws.com/{kid}` serves it.
pub(crate) const PUBLIC_PEM: &str = include_str!("../fixtures/p256-public.pem");

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Base64url with padding, as the load balancer encodes each part.
pub(crate) fn padded(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE.encode(bytes)
}

/// The JWT header the load balancer writes, for `kid` and `signer`, valid 5 minutes.
pub(crate) fn header(kid: &str, signer: &str) -> Value {
    json!({
        "typ": "JWT", "kid": kid, "alg": "ES256", "iss": ISSUER,
        "client": "client-id", "signer": signer, "exp": now() + 300,
    })
}

/// User claims as the load balancer forwards them, valid 5 minutes.
pub(crate) fn claims(sub: &str, roles: &[&str]) -> Value {
    json!({
        "sub": sub, "email": format!("{sub}@example.com"), "email_verified": "true",
        "roles": roles, "exp": now() + 300, "iss": ISSUER,
    })
}

/// `header.payload.signature`, each part padded base64url; the ES256 signature (raw
/// `r || s`) covers the padded `header.payload`, as AWS signs it.
pub(crate) fn mint(header: &Value, claims: &Value) -> String {
    sign_parts(&padded(header.to_string()), &padded(claims.to_string()))
}

/// `{h64}.{p64}` signed as the load balancer signs: ES256 (raw `r || s`) over the two
/// parts exactly as given, the signature appended padded.
pub(crate) fn sign_parts(h64: &str, p64: &str) -> String {
    // Building a tollgate key installs jsonwebtoken's crypto provider, which `sign` needs.
    tollgate::Key::ec_pem(PUBLIC_PEM.as_bytes(), tollgate::Algorithm::ES256).unwrap();
    let message = format!("{h64}.{p64}");
    let key = jsonwebtoken::EncodingKey::from_ec_pem(PRIVATE_PEM.as_bytes()).unwrap();
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::ES256)
            .unwrap();
    let raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    format!("{message}.{}", padded(raw))
}

/// The load balancer's key endpoint: `GET /{KID}` answers [`PUBLIC_PEM`], any other path
/// 404, and everything 503 while [`KeyServer::set_down`] says so.
#[derive(Clone)]
pub(crate) struct KeyServer {
    pub(crate) base: String,
    hits: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
    down: Arc<AtomicBool>,
}

impl KeyServer {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            base: format!("http://{}", listener.local_addr().unwrap()),
            hits: Arc::default(),
            paths: Arc::default(),
            down: Arc::default(),
        };
        let state = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(state.clone().answer(stream));
            }
        });
        server
    }

    async fn answer(self, mut stream: tokio::net::TcpStream) {
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let line = String::from_utf8_lossy(&request);
        let path = line.split(' ').nth(1).unwrap_or("").to_owned();
        self.hits.fetch_add(1, Ordering::SeqCst);
        self.paths.lock().unwrap().push(path.clone());
        let (status, body) = if self.down.load(Ordering::SeqCst) {
            ("503 Service Unavailable", String::new())
        } else if path == format!("/{KID}") {
            ("200 OK", PUBLIC_PEM.to_owned())
        } else {
            ("404 Not Found", String::new())
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    /// Requests served so far.
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The paths requested so far.
    pub(crate) fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }

    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}
