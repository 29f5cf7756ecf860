//! Shared helpers for the router-level tests: trusted and attacker keys, token forgery,
//! a router whose handlers count their calls, and assertions on refusals.
//!
//! Valid tokens come from [`tollgate::Signer`]; malicious ones are assembled by hand
//! (base64url segments signed with `jsonwebtoken::crypto::sign`) so that every byte of
//! the header, the claims and the signature is under the test's control.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, Request, StatusCode};
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use std::future::Future;
use std::io::ErrorKind as IoErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tollgate::revocation::{BoxFuture, RevocationStore, Status, StoreError, TokenRef};
use tollgate::{
    Algorithm, Key, KeySet, MemoryStore, Signer, SigningKey, TokenRequest, VerifierBuilder,
};
use tollgate_axum::{AuthLayer, Claims, HasRole, RequireRole, RequireScope, RoleSet};
use tower::ServiceExt as _;

pub(crate) const ISSUER: &str = "https://issuer.tollgate.test";
pub(crate) const AUDIENCE: &str = "tollgate-api";
/// The HS256 secret the verifier trusts (32 bytes: the minimum for HS256).
pub(crate) const HS_SECRET: &[u8; 32] = b"tollgate-router-tests-hs256-key!";

pub(crate) const RSA_PRIVATE_PEM: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/rsa2048-private.pem");
pub(crate) const RSA_PUBLIC_PEM: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/rsa2048-public.pem");
pub(crate) const RSA1024_PUBLIC_PEM: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/rsa1024-public.pem");
pub(crate) const P256_PRIVATE_PEM: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/p256-private.pem");
pub(crate) const P256_PUBLIC_PEM: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/p256-public.pem");
pub(crate) const ED25519_PRIVATE_PEM: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/ed25519-private.pem");
pub(crate) const ED25519_PUBLIC_PEM: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/ed25519-public.pem");
/// A key and certificate no verifier trusts (`fixtures/make-fixtures.sh`).
pub(crate) const ATTACKER_ED25519_PEM: &str = include_str!("../fixtures/attacker-ed25519.pem");
pub(crate) const ATTACKER_CERT_PEM: &str = include_str!("../fixtures/attacker-cert.pem");
/// RS256 signatures over hand-built PKCS#1 v1.5 blocks (`fixtures/make-fixtures.sh`).
pub(crate) const RSA_FORGERIES: &str = include_str!("../fixtures/rsa-forgeries.json");

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

/// A private key a test signs with. Every one but [`TestKey::Attacker`] is trusted by
/// [`verifier`], under the `kid` of [`TestKey::kid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TestKey {
    Hs,
    Rs,
    Es,
    Ed,
    /// An Ed25519 key that no verifier trusts.
    Attacker,
}

impl TestKey {
    pub(crate) fn kid(self) -> &'static str {
        match self {
            Self::Hs => "hs",
            Self::Rs => "rs",
            Self::Es => "es",
            Self::Ed => "ed",
            Self::Attacker => "attacker",
        }
    }

    pub(crate) fn algorithm(self) -> Algorithm {
        match self {
            Self::Hs => Algorithm::HS256,
            Self::Rs => Algorithm::RS256,
            Self::Es => Algorithm::ES256,
            Self::Ed | Self::Attacker => Algorithm::EdDSA,
        }
    }

    pub(crate) fn encoding_key(self) -> EncodingKey {
        match self {
            Self::Hs => EncodingKey::from_secret(HS_SECRET).unwrap(),
            Self::Rs => EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap(),
            Self::Es => EncodingKey::from_ec_pem(P256_PRIVATE_PEM.as_bytes()).unwrap(),
            Self::Ed => EncodingKey::from_ed_pem(ED25519_PRIVATE_PEM.as_bytes()).unwrap(),
            Self::Attacker => EncodingKey::from_ed_pem(ATTACKER_ED25519_PEM.as_bytes()).unwrap(),
        }
    }

    /// The signature of `message` with this key and its own algorithm.
    pub(crate) fn sign(self, message: &[u8]) -> Vec<u8> {
        self.sign_as(self.algorithm(), message)
    }

    /// The signature of `message` with this key under `algorithm` (e.g. PS256 with the
    /// RSA key bound to RS256).
    pub(crate) fn sign_as(self, algorithm: Algorithm, message: &[u8]) -> Vec<u8> {
        let algorithm = jsonwebtoken_algorithm(algorithm);
        let signature =
            jsonwebtoken::crypto::sign(message, &self.encoding_key(), algorithm).unwrap();
        unb64(&signature)
    }

    /// The header a well-behaved issuer writes: `alg`, `kid`, `typ`.
    pub(crate) fn header(self) -> Value {
        json!({ "alg": self.algorithm(), "kid": self.kid(), "typ": "JWT" })
    }

    /// The public half as a JWK (not for [`TestKey::Hs`]).
    pub(crate) fn public_jwk(self) -> Value {
        let algorithm = jsonwebtoken_algorithm(self.algorithm());
        let jwk =
            jsonwebtoken::jwk::Jwk::from_encoding_key(&self.encoding_key(), algorithm).unwrap();
        serde_json::to_value(jwk).unwrap()
    }
}

/// jsonwebtoken's `Algorithm` of the same JOSE name, to sign with.
pub(crate) fn jsonwebtoken_algorithm(algorithm: Algorithm) -> jsonwebtoken::Algorithm {
    algorithm
        .as_str()
        .parse()
        .expect("jsonwebtoken names it too")
}

/// The HMAC-SHA256 of `message` under `secret`, whatever its length.
pub(crate) fn hmac_sha256(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let key = EncodingKey::from_secret(secret).unwrap();
    unb64(&jsonwebtoken::crypto::sign(message, &key, jsonwebtoken::Algorithm::HS256).unwrap())
}

/// The verification keys of every trusted [`TestKey`], each under its `kid`.
pub(crate) fn trusted_keys() -> KeySet {
    let keys = [
        Key::hmac(HS_SECRET, Algorithm::HS256).unwrap(),
        Key::rsa_pem(RSA_PUBLIC_PEM.as_bytes(), Algorithm::RS256).unwrap(),
        Key::ec_pem(P256_PUBLIC_PEM.as_bytes(), Algorithm::ES256).unwrap(),
        Key::ed25519_pem(ED25519_PUBLIC_PEM.as_bytes()).unwrap(),
    ];
    let kids = [TestKey::Hs, TestKey::Rs, TestKey::Es, TestKey::Ed].map(TestKey::kid);
    let mut set = KeySet::new();
    for (key, kid) in keys.into_iter().zip(kids) {
        set.insert(key.with_kid(kid)).unwrap();
    }
    set
}

/// The verifier of most tests: every trusted key, [`ISSUER`], [`AUDIENCE`], defaults
/// otherwise (exp required, 60 s leeway, 8 KiB limit).
pub(crate) fn verifier() -> VerifierBuilder {
    tollgate::Verifier::builder()
        .keys(trusted_keys())
        .issuer(ISSUER)
        .audience(AUDIENCE)
}

/// An [`AuthLayer`] in front of [`verifier`], with every default.
pub(crate) fn layer() -> AuthLayer {
    AuthLayer::new(verifier().build().unwrap())
}

/// The issuer of valid tokens: HS256 under the `hs` key, [`ISSUER`], [`AUDIENCE`].
pub(crate) fn signer() -> Signer {
    signer_builder().build().unwrap()
}

pub(crate) fn signer_builder() -> tollgate::SignerBuilder {
    let key = SigningKey::hmac(TestKey::Hs.kid(), HS_SECRET, Algorithm::HS256).unwrap();
    Signer::builder(key).issuer(ISSUER).audience(AUDIENCE)
}

/// A valid token for `request`, minted by [`signer`].
pub(crate) fn issue(request: TokenRequest) -> String {
    signer().issue(&request).unwrap().token
}

/// A valid token about `alice` with no roles.
pub(crate) fn valid_token() -> String {
    issue(TokenRequest::new("alice"))
}

// ---------------------------------------------------------------------------------------
// Hand-made tokens
// ---------------------------------------------------------------------------------------

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims that pass every rule of [`verifier`]: `iss`, `aud`, `sub`, `iat`, `exp` in ten
/// minutes.
pub(crate) fn claims() -> Value {
    let now = now();
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 600 })
}

/// `base` with the members of `changes` set (a JSON `null` is set as `null`).
pub(crate) fn with(mut base: Value, changes: Value) -> Value {
    let map = base.as_object_mut().unwrap();
    for (name, value) in changes.as_object().unwrap() {
        map.insert(name.clone(), value.clone());
    }
    base
}

/// `base` without the members `names`.
pub(crate) fn without(mut base: Value, names: &[&str]) -> Value {
    let map = base.as_object_mut().unwrap();
    for name in names {
        map.remove(*name);
    }
    base
}

/// Valid [`claims`] with `changes` applied.
pub(crate) fn claims_with(changes: Value) -> Value {
    with(claims(), changes)
}

/// `h64.p64.sig` where `sig` signs the two segments exactly as given (so that a test can
/// put bytes that are not base64url in a signed segment).
pub(crate) fn sign_segments(h64: &str, p64: &str, key: TestKey) -> String {
    let message = format!("{h64}.{p64}");
    let signature = key.sign(message.as_bytes());
    format!("{message}.{}", b64(signature))
}

/// A token of the raw `header` and `claims` bytes, signed by `key`.
pub(crate) fn forge_raw(header: &[u8], claims: &[u8], key: TestKey) -> String {
    sign_segments(&b64(header), &b64(claims), key)
}

/// A token of the JSON `header` and `claims`, signed by `key`.
pub(crate) fn forge(header: &Value, claims: &Value, key: TestKey) -> String {
    forge_raw(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        key,
    )
}

/// A token signed by `key` with its usual header and `claims`.
pub(crate) fn token(key: TestKey, claims: &Value) -> String {
    forge(&key.header(), claims, key)
}

/// A token signed by `key` with its usual header changed by `changes`, and valid claims.
pub(crate) fn token_with_header(key: TestKey, changes: Value) -> String {
    forge(&with(key.header(), changes), &claims(), key)
}

/// A token signed by `key` with its usual header and valid claims changed by `changes`.
pub(crate) fn token_with_claims(key: TestKey, changes: Value) -> String {
    token(key, &claims_with(changes))
}

/// The three segments of a compact token.
pub(crate) fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    parts.try_into().expect("three segments")
}

/// `token` with its signature replaced by `signature`.
pub(crate) fn resign(token: &str, signature: &[u8]) -> String {
    let [h, p, _] = segments(token);
    format!("{h}.{p}.{}", b64(signature))
}

/// The signature bytes of `token`.
pub(crate) fn signature_of(token: &str) -> Vec<u8> {
    unb64(segments(token)[2])
}

/// The base64 body of a PEM document, i.e. its DER in standard base64.
pub(crate) fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// The DER bytes of a PEM document.
pub(crate) fn pem_der(pem: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(pem_body(pem))
        .unwrap()
}

/// The fixed-length `r ‖ s` of an ECDSA signature as an ASN.1 DER `SEQUENCE`.
pub(crate) fn ecdsa_der(fixed: &[u8]) -> Vec<u8> {
    let integer = |bytes: &[u8]| {
        let start = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        let mut value = bytes[start..].to_vec();
        if value[0] & 0x80 != 0 {
            value.insert(0, 0);
        }
        let mut out = vec![0x02, value.len() as u8];
        out.extend(value);
        out
    };
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let body = [integer(r), integer(s)].concat();
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    der
}

/// The order n of the P-256 group, big-endian.
pub(crate) const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The order L of the Ed25519 group, little-endian (as S is encoded).
pub(crate) const ED25519_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// `a + b` for little-endian 256-bit numbers whose sum fits in 256 bits.
pub(crate) fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut carry = 0u16;
    let sum = a
        .iter()
        .zip(b)
        .map(|(x, y)| {
            let total = u16::from(*x) + u16::from(*y) + carry;
            carry = total >> 8;
            (total & 0xff) as u8
        })
        .collect();
    assert_eq!(carry, 0, "overflow");
    sum
}

/// `n − k` for a big-endian number `n` and a small `k`.
pub(crate) fn sub_be(n: &[u8], k: u8) -> Vec<u8> {
    let mut out = n.to_vec();
    let mut borrow = k;
    for byte in out.iter_mut().rev() {
        let (value, underflow) = byte.overflowing_sub(borrow);
        *byte = value;
        borrow = u8::from(underflow);
        if borrow == 0 {
            break;
        }
    }
    out
}

/// The contents of `fixtures/rsa-forgeries.json`.
pub(crate) fn rsa_forgeries() -> Value {
    serde_json::from_str(RSA_FORGERIES).unwrap()
}

/// The fixed RS256 token of `rsa-forgeries.json` carrying the signature named `variant`.
pub(crate) fn rsa_forgery(variant: &str) -> String {
    let fixture = rsa_forgeries();
    let header = fixture["rs256_header"].as_str().unwrap();
    let claims = fixture["rs256_claims"].as_str().unwrap();
    let signature = fixture["rs256_signatures"][variant].as_str().unwrap();
    format!("{}.{}.{signature}", b64(header), b64(claims))
}

// ---------------------------------------------------------------------------------------
// The application under test
// ---------------------------------------------------------------------------------------

/// How many times the handlers of one [`App`] ran.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs(Arc<AtomicUsize>);

impl Runs {
    pub(crate) fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The role of the `HasRole` route.
#[derive(Debug)]
pub(crate) struct Admin;

impl RoleSet for Admin {
    const ROLES: &'static [&'static str] = &["admin"];
}

/// The routes of most tests, each handler counting its calls in `runs`:
/// - `/`: the `Claims` extractor, answers with the subject;
/// - `/admin`: behind `route_layer(RequireRole::any(["admin"]))`;
/// - `/admin/extractor`: the `HasRole<Admin>` extractor;
/// - `/scope/all`, `/scope/any`: behind `RequireScope::all` / `any` of `read`, `write`.
pub(crate) fn routes(runs: &Runs) -> Router {
    let counted = |runs: &Runs| {
        let runs = runs.clone();
        get(move || {
            runs.hit();
            async { "ok" }
        })
    };
    let me = runs.clone();
    let extractor = runs.clone();
    Router::new()
        .route(
            "/",
            get(move |claims: Claims| {
                me.hit();
                async move { Json(json!({ "sub": claims.subject() })) }
            }),
        )
        .route(
            "/admin",
            counted(runs).route_layer(RequireRole::any(["admin"])),
        )
        .route(
            "/admin/extractor",
            get(move |admin: HasRole<Admin>| {
                extractor.hit();
                async move { admin.subject().unwrap_or_default().to_owned() }
            }),
        )
        .route(
            "/scope/all",
            counted(runs).route_layer(RequireScope::all(["read", "write"])),
        )
        .route(
            "/scope/any",
            counted(runs).route_layer(RequireScope::any(["read", "write"])),
        )
}

/// A router under test and the counter its handlers increment.
#[derive(Debug)]
pub(crate) struct App {
    router: Router,
    runs: Runs,
}

impl App {
    /// [`routes`] behind `layer`.
    pub(crate) fn new(layer: AuthLayer) -> Self {
        Self::build(|runs| routes(runs).layer(layer))
    }

    /// [`routes`] behind [`layer`]: every default.
    pub(crate) fn default_app() -> Self {
        Self::new(layer())
    }

    /// A router of the test's own, given the counter its handlers should increment.
    pub(crate) fn build(router: impl FnOnce(&Runs) -> Router) -> Self {
        let runs = Runs::default();
        Self {
            router: router(&runs),
            runs,
        }
    }

    /// Handler calls so far.
    pub(crate) fn runs(&self) -> usize {
        self.runs.get()
    }

    /// Sends `request` through the router with `oneshot`.
    pub(crate) async fn send(&self, request: Request<Body>) -> Outcome {
        let before = self.runs.get();
        let response = self.router.clone().oneshot(request).await.unwrap();
        Outcome::read(response, self.runs.get() - before).await
    }

    /// `GET path` with the given headers.
    pub(crate) async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Outcome {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// `GET path` with one header whose value is raw bytes (e.g. obs-text, which
    /// `&str` values cannot carry).
    pub(crate) async fn get_bytes(&self, path: &str, name: &str, value: &[u8]) -> Outcome {
        let value = http::HeaderValue::from_bytes(value).unwrap();
        let request = Request::get(path).header(name, value);
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// `GET path` with `Authorization: Bearer <token>`.
    pub(crate) async fn bearer_at(&self, path: &str, token: &str) -> Outcome {
        let value = format!("Bearer {token}");
        self.get(path, &[(AUTHORIZATION.as_str(), &value)]).await
    }

    /// `GET /` with `Authorization: Bearer <token>`.
    pub(crate) async fn bearer(&self, token: &str) -> Outcome {
        self.bearer_at("/", token).await
    }
}

/// Runs `attempt` with the current Unix time until the second did not change while it
/// ran, so that a test of a one-second boundary cannot straddle two clock seconds.
pub(crate) async fn within_one_second<F, Fut, T>(mut attempt: F) -> T
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = T>,
{
    loop {
        let start = now();
        let outcome = attempt(start).await;
        if now() == start {
            return outcome;
        }
    }
}

/// What the client of the router observed.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) extensions: http::Extensions,
    pub(crate) body: String,
    /// How many handler calls the request caused.
    pub(crate) runs: usize,
}

pub(crate) const CHALLENGE: &str = r#"Bearer realm="tollgate""#;

impl Outcome {
    async fn read(response: Response, runs: usize) -> Self {
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        Self {
            status: parts.status,
            headers: parts.headers,
            extensions: parts.extensions,
            body: String::from_utf8(body.to_vec()).unwrap(),
            runs,
        }
    }

    /// The `WWW-Authenticate` header, if there is exactly one.
    pub(crate) fn challenge(&self) -> Option<&str> {
        let mut values = self.headers.get_all(WWW_AUTHENTICATE).iter();
        let first = values.next()?;
        assert!(values.next().is_none(), "two WWW-Authenticate headers");
        Some(first.to_str().unwrap())
    }

    /// The body as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// A refusal: `status`, exactly `challenge`, a JSON body with `error` and `code`, and
    /// no handler call.
    #[track_caller]
    pub(crate) fn assert_refused(
        &self,
        status: StatusCode,
        challenge: &str,
        error: &str,
        code: &str,
    ) {
        assert_eq!(self.status, status, "status; body: {}", self.body);
        assert_eq!(self.challenge(), Some(challenge), "WWW-Authenticate");
        let body = self.json();
        assert_eq!(body["error"], error, "body.error; body: {body}");
        assert_eq!(body["code"], code, "body.code; body: {body}");
        assert_eq!(self.runs, 0, "the handler ran");
    }

    /// 401 without an error code: no token was found (RFC 6750 §3.1).
    #[track_caller]
    pub(crate) fn assert_missing_token(&self) {
        self.assert_refused(
            StatusCode::UNAUTHORIZED,
            CHALLENGE,
            "unauthorized",
            "token_missing",
        );
    }

    /// 401 `invalid_token` with `error_description="<description>"` and body `code`.
    #[track_caller]
    pub(crate) fn assert_invalid_token(&self, code: &str, description: &str) {
        let challenge =
            format!(r#"{CHALLENGE}, error="invalid_token", error_description="{description}""#);
        self.assert_refused(StatusCode::UNAUTHORIZED, &challenge, "invalid_token", code);
    }

    /// 400 `invalid_request` with `error_description="<description>"`.
    #[track_caller]
    pub(crate) fn assert_invalid_request(&self, description: &str) {
        let challenge =
            format!(r#"{CHALLENGE}, error="invalid_request", error_description="{description}""#);
        self.assert_refused(
            StatusCode::BAD_REQUEST,
            &challenge,
            "invalid_request",
            "invalid_request",
        );
    }

    /// 403 `insufficient_scope` naming the `scope` that was needed.
    #[track_caller]
    pub(crate) fn assert_insufficient_scope(&self, scope: &str) {
        let challenge = format!(
            r#"{CHALLENGE}, error="insufficient_scope", error_description="the token lacks a required role or scope", scope="{scope}""#
        );
        self.assert_refused(
            StatusCode::FORBIDDEN,
            &challenge,
            "insufficient_scope",
            "insufficient_scope",
        );
    }

    /// 200 and exactly one handler call.
    #[track_caller]
    pub(crate) fn assert_accepted(&self) {
        assert_eq!(self.status, StatusCode::OK, "status; body: {}", self.body);
        assert_eq!(self.runs, 1, "handler calls");
    }
}

// ---------------------------------------------------------------------------------------
// A loopback listener that counts connections
// ---------------------------------------------------------------------------------------

/// A TCP listener on 127.0.0.1 that nobody should ever connect to.
#[derive(Debug)]
pub(crate) struct Tripwire {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Tripwire {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        Self { listener, addr }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections made to the listener so far.
    ///
    /// Connects once itself and accepts until that probe comes out of the accept queue:
    /// the queue is first-in first-out, so every earlier connection is counted, and no
    /// sleep or timeout is needed.
    pub(crate) fn connections(&self) -> usize {
        let probe = TcpStream::connect(self.addr).unwrap();
        let probe_addr = probe.local_addr().unwrap();
        let mut others = 0;
        loop {
            let (_stream, peer) = self.listener.accept().unwrap();
            if peer == probe_addr {
                break;
            }
            others += 1;
        }
        // Anything that arrived after the probe counts too.
        self.listener.set_nonblocking(true).unwrap();
        loop {
            match self.listener.accept() {
                Ok(_) => others += 1,
                Err(e) if e.kind() == IoErrorKind::WouldBlock => break,
                Err(e) => panic!("accept: {e}"),
            }
        }
        self.listener.set_nonblocking(false).unwrap();
        others
    }
}

// ---------------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------------

/// The real in-memory store, counting every lookup the layer makes through it (the
/// awaited `check` and the synchronous `check_now` alike).
#[derive(Debug, Clone, Default)]
pub(crate) struct CountingStore {
    store: MemoryStore,
    lookups: Arc<AtomicUsize>,
}

impl CountingStore {
    pub(crate) fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

impl RevocationStore for CountingStore {
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
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.store.check(token)
    }

    fn check_now(&self, token: &TokenRef) -> Option<Status> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.store.check_now(token)
    }
}

/// `n − s` for big-endian 32-byte numbers with `s < n`.
pub(crate) fn sub_256(n: &[u8], s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = i16::from(n[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        out[i] = digit as u8;
    }
    out
}

/// The same ES256 token with its signature rewritten as `(r, n − s)`: another valid
/// signature of the very same bytes (ECDSA malleability).
pub(crate) fn malleated(token: &str) -> String {
    let signature = signature_of(token);
    let (r, s) = signature.split_at(32);
    resign(token, &[r, &sub_256(&P256_ORDER, s)].concat())
}
