//! The metrics of the layer, the guards and the caching store (feature `metrics`): exact
//! counts after a scripted sequence of requests, and a bounded number of series under a
//! flood of forged tokens.
//!
//! Each test installs a `DebuggingRecorder` for its own thread only
//! (`metrics::with_local_recorder`) and drives the router on a current-thread runtime, so
//! that every metric lands in that recorder and tests do not see each other's.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use serde_json::json;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use tollgate::revocation::{self, BoxFuture, RevocationStore, Status, StoreError, TokenRef};
use tollgate::{Algorithm, CachingStore, MemoryStore, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::{AuthLayer, RequireRole, StoreFailure};
use tower::ServiceExt;

const SECRET: &[u8] = b"metrics-test-secret-of-32-bytes!";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";

/// Runs `test` on a current-thread runtime with a fresh recorder for this thread; returns
/// what was recorded.
fn recorded<F: Future<Output = ()>>(test: impl FnOnce() -> F) -> Recorded {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test()));
    Recorded::from(&snapshotter)
}

/// The recorded series: `name{label="value",…}` (labels sorted) to value.
#[derive(Debug)]
struct Recorded(BTreeMap<String, DebugValue>);

impl Recorded {
    fn from(snapshotter: &Snapshotter) -> Self {
        let series = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| (series_name(&key), value))
            .collect();
        Self(series)
    }

    fn counter(&self, series: &str) -> u64 {
        match self.0.get(series) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            Some(other) => panic!("{series} is not a counter: {other:?}"),
        }
    }

    fn histogram_count(&self, series: &str) -> usize {
        match self.0.get(series) {
            Some(DebugValue::Histogram(values)) => values.len(),
            None => 0,
            Some(other) => panic!("{series} is not a histogram: {other:?}"),
        }
    }

    /// Every counter, for exact comparison.
    fn counters(&self) -> BTreeMap<&str, u64> {
        self.0
            .iter()
            .filter_map(|(name, value)| match value {
                DebugValue::Counter(n) => Some((name.as_str(), *n)),
                _ => None,
            })
            .collect()
    }
}

fn series_name(key: &CompositeKey) -> String {
    let mut labels: Vec<String> = key
        .key()
        .labels()
        .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
        .collect();
    labels.sort();
    let name = key.key().name();
    let name = match key.kind() {
        MetricKind::Histogram => format!("{name}[histogram]"),
        _ => name.to_owned(),
    };
    if labels.is_empty() {
        name
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

fn signer() -> Signer {
    Signer::builder(SigningKey::hmac("k1", SECRET, Algorithm::HS256).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

fn verifier() -> Verifier {
    Verifier::builder()
        .keys(signer().verification_keys().unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// A token signed with `secret` under kid `k1`, with `claims`.
fn hs256(secret: &[u8], claims: serde_json::Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A store that can only answer asynchronously (no `check_now`), so that a cache in front
/// of it has real misses.
#[derive(Debug, Default)]
struct Remote(MemoryStore);

impl RevocationStore for Remote {
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.revoke_token(issuer, subject, id, until)
    }
    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.revoke_subject(issuer, subject, before, until)
    }
    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.remove_token(issuer, subject, id)
    }
    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.remove_subject(issuer, subject)
    }
    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        self.0.check(token)
    }
}

/// A store that is down.
#[derive(Debug)]
struct Down;

impl RevocationStore for Down {
    fn revoke_token<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: &'a str,
        _: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::msg("down")) })
    }
    fn revoke_subject<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: u64,
        _: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::msg("down")) })
    }
    fn remove_token<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::msg("down")) })
    }
    fn remove_subject<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::msg("down")) })
    }
    fn check<'a>(&'a self, _: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        Box::pin(async { Err(StoreError::msg("down")) })
    }
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::msg("down")) })
    }
}

fn app(layer: AuthLayer) -> Router {
    Router::new()
        .route("/me", get(|| async { "me" }))
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(RequireRole::any(["admin"])),
        )
        .layer(layer)
}

async fn send(app: &Router, path: &str, token: Option<&str>) -> StatusCode {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
        .status()
}

#[test]
fn a_scripted_sequence_gives_exact_counts() {
    let recorded = recorded(|| async {
        let store = CachingStore::new(Remote::default());
        let app = app(AuthLayer::new(verifier()).revocation(store.clone()));
        let signer = signer();
        let alice = signer
            .issue(&TokenRequest::new("alice").roles(["user"]))
            .unwrap()
            .token;
        let bob = signer
            .issue(&TokenRequest::new("bob").roles(["user"]))
            .unwrap()
            .token;
        let carol = signer.issue(&TokenRequest::new("carol")).unwrap().token;
        revocation::revoke(&store, &verifier().verify(&carol).unwrap())
            .await
            .unwrap();
        let expired = hs256(
            SECRET,
            json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "dave", "exp": now() - 3600}),
        );
        let forged = hs256(
            b"another-secret-of-32-bytes-long!",
            json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "eve", "exp": now() + 600}),
        );

        // 3 allowed (one cache miss, then two hits).
        for _ in 0..3 {
            assert_eq!(send(&app, "/me", Some(&alice)).await, StatusCode::OK);
        }
        // 2 without a token.
        for _ in 0..2 {
            assert_eq!(send(&app, "/me", None).await, StatusCode::UNAUTHORIZED);
        }
        // 1 expired, 1 bad signature, 1 that is not a JWT at all.
        assert_eq!(
            send(&app, "/me", Some(&expired)).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(&app, "/me", Some(&forged)).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(&app, "/me", Some("garbage")).await,
            StatusCode::UNAUTHORIZED
        );
        // 1 authenticated (a cache miss) but without the role.
        assert_eq!(
            send(&app, "/admin", Some(&bob)).await,
            StatusCode::FORBIDDEN
        );
        // 1 revoked (a hit: the revocation went through the cache).
        assert_eq!(
            send(&app, "/me", Some(&carol)).await,
            StatusCode::UNAUTHORIZED
        );
    });

    let expected: BTreeMap<&str, u64> = [
        // The layer: one decision per request. The request refused by the guard was
        // authenticated first, so it counts as allowed by the layer and refused by the guard.
        (
            r#"tollgate_decisions_total{outcome="allowed",reason="ok"}"#,
            4,
        ),
        (
            r#"tollgate_decisions_total{outcome="refused",reason="token_missing"}"#,
            2,
        ),
        (
            r#"tollgate_decisions_total{outcome="refused",reason="token_expired"}"#,
            1,
        ),
        (
            r#"tollgate_decisions_total{outcome="refused",reason="signature_invalid"}"#,
            1,
        ),
        (
            r#"tollgate_decisions_total{outcome="refused",reason="token_malformed"}"#,
            1,
        ),
        (
            r#"tollgate_decisions_total{outcome="refused",reason="insufficient_scope"}"#,
            1,
        ),
        (
            r#"tollgate_decisions_total{outcome="refused",reason="token_revoked"}"#,
            1,
        ),
        (r#"tollgate_revocation_cache_total{result="hit"}"#, 3),
        (r#"tollgate_revocation_cache_total{result="miss"}"#, 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(recorded.counters(), expected, "{recorded:#?}");
    // One verification per token sent: 3 + 1 + 1 + 1 + 1 under HS256 (carol's is verified
    // once more by the test itself, to revoke it), and the malformed one before any `alg`.
    assert_eq!(
        recorded.histogram_count(r#"tollgate_verification_seconds[histogram]{alg="HS256"}"#),
        8
    );
    assert_eq!(
        recorded.histogram_count(r#"tollgate_verification_seconds[histogram]{alg="unknown"}"#),
        1
    );
}

#[test]
fn store_errors_are_counted_under_both_policies() {
    let recorded = recorded(|| async {
        let token = signer().issue(&TokenRequest::new("alice")).unwrap().token;
        let closed = app(AuthLayer::new(verifier()).revocation(Down));
        assert_eq!(
            send(&closed, "/me", Some(&token)).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let open = app(AuthLayer::new(verifier())
            .revocation(Down)
            .on_store_error(StoreFailure::FailOpen));
        assert_eq!(send(&open, "/me", Some(&token)).await, StatusCode::OK);
    });
    assert_eq!(
        recorded.counter("tollgate_revocation_store_errors_total"),
        2
    );
    assert_eq!(
        recorded.counter(
            r#"tollgate_decisions_total{outcome="refused",reason="revocation_unavailable"}"#
        ),
        1
    );
    assert_eq!(
        recorded.counter(r#"tollgate_decisions_total{outcome="allowed",reason="ok"}"#),
        1
    );
}

#[test]
fn anonymous_requests_are_counted_as_such() {
    let recorded = recorded(|| async {
        let app = app(AuthLayer::new(verifier()).optional());
        assert_eq!(send(&app, "/me", None).await, StatusCode::OK);
    });
    assert_eq!(
        recorded.counter(r#"tollgate_decisions_total{outcome="anonymous",reason="token_missing"}"#),
        1
    );
}

/// A cross-site `POST` with the cookie is a refusal of its own, under a fixed reason whatever
/// the `Origin`; the same request from the application's own origin is allowed.
#[test]
fn cross_origin_refusals_are_counted_under_one_reason() {
    let recorded = recorded(|| async {
        let app = Router::new()
            .route("/transfer", axum::routing::post(|| async { "done" }))
            .layer(AuthLayer::new(verifier()));
        let token = signer().issue(&TokenRequest::new("alice")).unwrap().token;
        let cookie = format!("access_token={token}");
        let post = |origin: &str, site: &str| {
            Request::post("/transfer")
                .header("host", "app.example")
                .header("origin", origin)
                .header("sec-fetch-site", site)
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap()
        };
        for i in 0..3 {
            let request = post(&format!("https://evil-{i}.example"), "cross-site");
            let status = app.clone().oneshot(request).await.unwrap().status();
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
        let request = post("https://app.example", "same-origin");
        let status = app.clone().oneshot(request).await.unwrap().status();
        assert_eq!(status, StatusCode::OK);
    });
    let expected: BTreeMap<&str, u64> = [
        (
            r#"tollgate_decisions_total{outcome="refused",reason="cross_origin_request"}"#,
            3,
        ),
        (
            r#"tollgate_decisions_total{outcome="allowed",reason="ok"}"#,
            1,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(recorded.counters(), expected, "{recorded:#?}");
    // Refused before verification: only the allowed request's token was verified.
    assert_eq!(
        recorded.histogram_count(r#"tollgate_verification_seconds[histogram]{alg="HS256"}"#),
        1
    );
}

/// 10 000 forged tokens, each with its own `kid`, `sub`, `jti` and `iss`, some naming no
/// key and some another algorithm: the series stay a handful, none carrying a token's value.
#[test]
fn forged_tokens_do_not_grow_the_series() {
    const FLOOD: usize = 10_000;
    let recorded = recorded(|| async {
        let app = app(AuthLayer::new(verifier()).revocation(CachingStore::new(Remote::default())));
        let algorithms = ["HS256", "HS512", "RS256", "ES256", "EdDSA", "none", "XX999"];
        for i in 0..FLOOD {
            // A cheap, deterministic scramble so that the values look random.
            let noise = (i as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(17);
            let alg = algorithms[i % algorithms.len()];
            let header = if i % 3 == 0 {
                json!({"alg": alg})
            } else {
                json!({"alg": alg, "kid": format!("kid-{noise:x}")})
            };
            let claims = json!({
                "iss": format!("https://evil-{noise:x}.example"),
                "aud": AUDIENCE,
                "sub": format!("sub-{noise:x}"),
                "jti": format!("jti-{i}"),
                "exp": now() + 600,
            });
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string()),
                URL_SAFE_NO_PAD.encode(noise.to_be_bytes()),
            );
            let status = send(&app, "/me", Some(&token)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
        }
    });
    let total: u64 = recorded
        .counters()
        .iter()
        .filter(|(name, _)| name.starts_with("tollgate_decisions_total"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(total, FLOOD as u64, "{recorded:#?}");
    assert!(
        recorded.0.len() <= 30,
        "{} series after {FLOOD} forged tokens: {:#?}",
        recorded.0.len(),
        recorded.0.keys()
    );
    for name in recorded.0.keys() {
        for leak in ["kid-", "sub-", "jti-", "evil-"] {
            assert!(!name.contains(leak), "a token's value in a series: {name}");
        }
    }
    // No forged token reached the revocation store.
    assert_eq!(
        recorded.counter(r#"tollgate_revocation_cache_total{result="miss"}"#),
        0
    );
}

/// The readiness check: keys loaded, and the store's ping.
#[test]
fn readiness_reports_keys_and_store() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ready = AuthLayer::new(verifier())
            .revocation(Arc::new(MemoryStore::new()))
            .readiness()
            .check()
            .await;
        assert!(ready.is_ready());
        assert_eq!(ready.store_reachable, Some(true));
        let down = AuthLayer::new(verifier()).revocation(Down).readiness();
        let report = down.check().await;
        assert!(!report.is_ready());
        assert!(report.keys_loaded);
        assert_eq!(report.store_reachable, Some(false));

        let app: Router = Router::new().route("/ready", down.into_route());
        let response = app
            .oneshot(Request::get("/ready").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            json!({"ready": false, "keys_loaded": true, "revocation_store": "unreachable"})
        );
        let none = AuthLayer::new(verifier()).readiness().check().await;
        assert!(none.is_ready());
        assert_eq!(none.store_reachable, None);
    });
}
