//! Token extraction by `tollgate_axum::AuthLayer`: arbitrary `Authorization`, `Cookie` and
//! custom-header values (raw bytes; values `HeaderValue::from_bytes` refuses are skipped)
//! and a query string, sent through an axum `Router` with `tower::ServiceExt::oneshot` on
//! a current-thread tokio runtime built once.
//!
//! The layer reads the `Authorization` header, the cookie `session`, the header
//! `x-api-token` and the query parameter `access_token`, and checks a `MemoryStore` for
//! revocations. Routes: `/` (handler takes `Claims` — or `Option<Claims>` behind the
//! optional layer), `/admin` (`RequireRole::any(["admin"])`), `/scoped`
//! (`RequireScope::all(["read", "write"])`).
//!
//! Real tokens are spliced in where the input says `{T}` (valid, role `reader`), `{A}`
//! (valid, role `admin`, scopes `read write`), `{R}` (valid but revoked), `{X}` (signed by
//! an untrusted key) or `{E}` (expired), so the fuzzer can reach every outcome.
//!
//! Checked: no panic; the status is one of 200/400/401/403/503; 400/401/403 carry a
//! `WWW-Authenticate: Bearer realm="tollgate"…` challenge; two `Authorization` headers are
//! always 400; a request with no token at all gets 401 (or the anonymous answer behind the
//! optional layer); and a 200 for a token-protected answer names a subject whose valid,
//! unrevoked token was really in the request.
#![no_main]

use arbitrary::Arbitrary;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::{AUTHORIZATION, COOKIE, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, Request, StatusCode, Uri};
use jsonwebtoken::EncodingKey;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};
use tollgate::{Algorithm, Key, MemoryStore, Verifier};
use tollgate_axum::{AuthLayer, Claims, RequireRole, RequireScope};
use tower::ServiceExt as _;

const SECRET: &[u8] = b"tollgate-fuzz-extract-hs256-secret!!";
const ATTACKER: &[u8] = b"tollgate-fuzz-attacker-hs256-secret!";
const CUSTOM_HEADER: &str = "x-api-token";
const MAX_VALUES: usize = 4;

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Root,
    Admin,
    Scoped,
}

#[derive(Arbitrary, Debug)]
struct Input {
    route: Route,
    optional: bool,
    query: Option<Vec<u8>>,
    authorization: Vec<Vec<u8>>,
    custom: Vec<Vec<u8>>,
    cookies: Vec<Vec<u8>>,
}

struct World {
    rt: tokio::runtime::Runtime,
    required: Router,
    optional: Router,
    /// Marker, token text.
    tokens: Vec<(&'static [u8], String)>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(secret: &[u8], sub: &str, jti: &str, exp: u64, roles: &[&str], scope: &str) -> String {
    let claims = json!({
        "sub": sub, "jti": jti, "exp": exp, "iat": now() - 5,
        "roles": roles, "scope": scope,
    });
    tollgate_fuzz::sign_raw(
        br#"{"alg":"HS256","kid":"hs"}"#,
        &serde_json::to_vec(&claims).unwrap(),
        &EncodingKey::from_secret(secret).unwrap(),
        Algorithm::HS256,
    )
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let verifier = Verifier::builder()
            .key(Key::hmac(SECRET, Algorithm::HS256).unwrap().with_kid("hs"))
            .build()
            .expect("verifier");
        let exp = now() + 30 * 24 * 3600;
        let t = token(SECRET, "alice", "t", exp, &["reader"], "read");
        let a = token(SECRET, "root", "a", exp, &["admin"], "read write");
        let r = token(SECRET, "revoked", "r", exp, &["admin"], "read write");
        let x = token(ATTACKER, "mallory", "x", exp, &["admin"], "read write");
        let e = token(SECRET, "late", "e", now() - 3600, &["admin"], "read write");
        let store = MemoryStore::new();
        let revoked = verifier.verify(&r).expect("R verifies");
        rt.block_on(tollgate::revocation::revoke(&store, &revoked))
            .expect("revoke");

        let layer = AuthLayer::new(verifier)
            .cookie("session")
            .header(HeaderName::from_static(CUSTOM_HEADER))
            .query_parameter("access_token")
            .revocation(store);
        let guarded = |root: Router| {
            root.route(
                "/admin",
                get(|| async { "admin" }).route_layer(RequireRole::any(["admin"])),
            )
            .route(
                "/scoped",
                get(|| async { "scoped" }).route_layer(RequireScope::all(["read", "write"])),
            )
        };
        let required = guarded(Router::new().route(
            "/",
            get(|c: Claims| async move { c.subject().unwrap_or("?").to_owned() }),
        ))
        .layer(layer.clone());
        let optional = guarded(Router::new().route(
            "/",
            get(|c: Option<Claims>| async move {
                c.map_or("anonymous".to_owned(), |c| {
                    c.subject().unwrap_or("?").to_owned()
                })
            }),
        ))
        .layer(layer.optional());
        World {
            rt,
            required,
            optional,
            tokens: vec![
                (b"{T}", t),
                (b"{A}", a),
                (b"{R}", r),
                (b"{X}", x),
                (b"{E}", e),
            ],
        }
    })
}

/// `value` with every marker replaced by its token.
fn splice(value: &[u8], tokens: &[(&[u8], String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    'outer: while i < value.len() {
        for (marker, token) in tokens {
            if value[i..].starts_with(marker) {
                out.extend_from_slice(token.as_bytes());
                i += marker.len();
                continue 'outer;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    out
}

fn header_values(values: &[Vec<u8>], tokens: &[(&[u8], String)]) -> Vec<HeaderValue> {
    values
        .iter()
        .take(MAX_VALUES)
        .filter_map(|v| HeaderValue::from_bytes(&splice(v, tokens)).ok())
        .collect()
}

/// With `TOLLGATE_FUZZ_TRACE` set, each input's outcome is printed to stderr (replay a
/// corpus with `-runs=0` to see which statuses and routes it reaches).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("TOLLGATE_FUZZ_TRACE").is_some())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|input: Input| {
    let w = world();
    let path = match input.route {
        Route::Root => "/",
        Route::Admin => "/admin",
        Route::Scoped => "/scoped",
    };
    let mut uri: Uri = path.parse().unwrap();
    let mut query_text = Vec::new();
    if let Some(q) = &input.query {
        let q = splice(q, &w.tokens);
        let mut full = format!("{path}?").into_bytes();
        full.extend_from_slice(&q);
        if let Ok(with_query) = Uri::try_from(full) {
            uri = with_query;
            // What the layer could decode from it, percent-decoding included.
            query_text = q.clone();
            if let Some(query) = uri.query() {
                for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                    query_text.extend_from_slice(format!(" {k}={v}").as_bytes());
                }
            }
        }
    }

    let authorization = header_values(&input.authorization, &w.tokens);
    let custom = header_values(&input.custom, &w.tokens);
    let cookies = header_values(&input.cookies, &w.tokens);
    let mut request = Request::builder()
        .uri(uri.clone())
        .body(Body::empty())
        .unwrap();
    let headers = request.headers_mut();
    for v in &authorization {
        headers.append(AUTHORIZATION, v.clone());
    }
    for v in &custom {
        headers.append(HeaderName::from_static(CUSTOM_HEADER), v.clone());
    }
    for v in &cookies {
        headers.append(COOKIE, v.clone());
    }
    // Everything the request carries that could hold a token.
    let mut haystack = query_text.clone();
    for v in headers.values() {
        haystack.push(b'\n');
        haystack.extend_from_slice(v.as_bytes());
    }

    let router = if input.optional {
        &w.optional
    } else {
        &w.required
    };
    let response =
        w.rt.block_on(router.clone().oneshot(request))
            .expect("router is infallible");
    let status = response.status();
    let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
    let body =
        w.rt.block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
            .expect("body");

    if trace() {
        let optional = if input.optional {
            "optional"
        } else {
            "required"
        };
        let body = String::from_utf8_lossy(&body);
        eprintln!(
            "outcome: {optional} {:?} {} {body:.40}",
            input.route,
            status.as_u16()
        );
    }
    assert!(
        matches!(status.as_u16(), 200 | 400 | 401 | 403 | 503),
        "unexpected status {status}"
    );
    if matches!(status.as_u16(), 400 | 401 | 403) {
        let challenge = challenge.expect("refusal without WWW-Authenticate");
        assert!(
            challenge
                .as_bytes()
                .starts_with(b"Bearer realm=\"tollgate\""),
            "{challenge:?}"
        );
    }
    if authorization.len() >= 2 {
        assert_eq!(status, StatusCode::BAD_REQUEST, "two Authorization headers");
    }
    let no_token_anywhere = authorization.is_empty()
        && custom.is_empty()
        && cookies.is_empty()
        && uri.query().is_none();
    if no_token_anywhere {
        let expected = if input.optional && input.route == Route::Root {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "request without any token");
    }
    if status == StatusCode::OK {
        let token_of = |marker: &[u8]| {
            let (_, t) = w.tokens.iter().find(|(m, _)| *m == marker).unwrap();
            contains(&haystack, t.as_bytes())
        };
        match (input.route, &body[..]) {
            (Route::Root, b"anonymous") => assert!(input.optional),
            (Route::Root, b"alice") => assert!(token_of(b"{T}")),
            (Route::Root, b"root") | (Route::Admin, b"admin") | (Route::Scoped, b"scoped") => {
                assert!(token_of(b"{A}"), "admitted without the admin token")
            }
            (route, body) => panic!(
                "unexpected 200 on {route:?}: {:?}",
                String::from_utf8_lossy(body)
            ),
        }
    }
});
