//! The metrics not covered by `metrics.rs`, with exact values: JWKS fetches, keys loaded and
//! unknown-`kid` refetches (against a JWKS server of the test's own), Redis push reconnects
//! (against a `redis-server` of the test's own, killed and restarted on its port), and the
//! `tollgate.auth` span of the layer.
//!
//! Like `metrics.rs`, each test installs a `DebuggingRecorder` for its own thread only and
//! runs on a current-thread runtime, so that the tasks it spawns (the JWKS refresh, the
//! Redis reconnection) record on that thread too, into that recorder.
//!
//! A `DebuggingRecorder` snapshot resets counters and gauges to zero; [`Metrics`] adds each
//! snapshot to what it saw before, so intermediate values can be read (every gauge here
//! only moves by `increment`, so the sums are the gauge's value).

mod redis_harness;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Request, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use redis_harness::{RedisServer, eventually, redis_store};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tollgate::remote::RemoteKeys;
use tollgate::revocation::RevocationStore;
use tollgate::{Algorithm, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::AuthLayer;
use tower::ServiceExt as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

const ISSUER: &str = "https://issuer.metrics-sources.test";
const AUDIENCE: &str = "metrics-sources";
const FETCHES_OK: &str = "tollgate_jwks_fetches_total{result=\"success\"}";
const FETCHES_FAILED: &str = "tollgate_jwks_fetches_total{result=\"failure\"}";
const KEYS: &str = "tollgate_jwks_keys";
const REFETCHES: &str = "tollgate_jwks_refetch_unknown_kid_total";
const RECONNECTS: &str = "tollgate_revocation_push_reconnects_total";

// ---------------------------------------------------------------------------------------
// Reading the recorder
// ---------------------------------------------------------------------------------------

/// Runs `test` on a current-thread runtime with a fresh recorder for this thread.
fn with_recorder<F: Future<Output = ()>>(test: impl FnOnce(Metrics) -> F) {
    let recorder = DebuggingRecorder::new();
    let metrics = Metrics {
        snapshotter: recorder.snapshotter(),
        seen: BTreeMap::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test(metrics)));
}

/// Counters and gauges, summed over every snapshot taken so far.
struct Metrics {
    snapshotter: Snapshotter,
    seen: BTreeMap<String, f64>,
}

impl Metrics {
    /// Takes a snapshot; every series seen so far (`name{label="value",…}`) to its value.
    fn read(&mut self) -> &BTreeMap<String, f64> {
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let delta = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(_) => continue,
            };
            *self.seen.entry(series_name(&key)).or_default() += delta;
        }
        &self.seen
    }

    fn counter(&mut self, series: &str) -> u64 {
        self.read().get(series).copied().unwrap_or(0.0) as u64
    }

    fn gauge(&mut self, series: &str) -> f64 {
        self.read().get(series).copied().unwrap_or(0.0)
    }

    /// Every series whose name starts with `prefix`.
    fn series(&mut self, prefix: &str) -> BTreeMap<String, f64> {
        self.read()
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, value)| (name.clone(), *value))
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
    assert_ne!(key.kind(), MetricKind::Histogram, "{name}");
    if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

// ---------------------------------------------------------------------------------------
// A JWKS server
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Jwks {
    body: Value,
    unavailable: bool,
    hits: usize,
}

type Shared = Arc<Mutex<Jwks>>;

async fn serve_jwks(State(state): State<Shared>) -> Response {
    let mut state = state.lock().unwrap();
    state.hits += 1;
    if state.unavailable {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut response = Response::new(Body::from(state.body.to_string()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Serves `/jwks.json` from the returned state on 127.0.0.1; its URL.
async fn jwks_server(state: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/jwks.json", get(serve_jwks))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks.json")
}

fn ed_signer(kid: &str) -> Signer {
    Signer::builder(SigningKey::generate_ed25519(kid).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

fn jwks_of(signers: &[&Signer]) -> Value {
    let keys: Vec<Value> = signers
        .iter()
        .map(|s| s.key().public_jwk().unwrap())
        .collect();
    json!({ "keys": keys })
}

fn token(signer: &Signer, subject: &str) -> String {
    signer.issue(&TokenRequest::new(subject)).unwrap().token
}

#[test]
fn jwks_fetches_keys_and_unknown_kid_refetches() {
    with_recorder(|mut metrics| async move {
        let (a, b, c, d) = (
            ed_signer("a"),
            ed_signer("b"),
            ed_signer("c"),
            ed_signer("d"),
        );
        let state = Arc::new(Mutex::new(Jwks {
            body: jwks_of(&[&a, &b]),
            unavailable: false,
            hits: 0,
        }));
        let url = jwks_server(state.clone()).await;
        let cooldown = Duration::from_millis(300);
        let keys = RemoteKeys::jwks(url)
            .cooldown(cooldown)
            .unknown_kid_wait(Duration::from_secs(5))
            .build()
            .unwrap();
        assert!(keys.wait_until_loaded(Duration::from_secs(5)).await);
        let verifier = Verifier::builder()
            .remote_keys(keys.clone())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build()
            .unwrap();

        // The first load.
        assert_eq!(metrics.counter(FETCHES_OK), 1);
        assert_eq!(metrics.counter(FETCHES_FAILED), 0);
        assert_eq!(metrics.gauge(KEYS), 2.0);
        assert_eq!(metrics.counter(REFETCHES), 0);

        // A known kid: no fetch.
        verifier.verify_async(&token(&a, "alice")).await.unwrap();
        assert_eq!(metrics.counter(FETCHES_OK), 1);

        // An unknown kid that the provider now publishes: one refetch, one more success.
        let started = Instant::now();
        state.lock().unwrap().body = jwks_of(&[&a, &b, &c]);
        verifier.verify_async(&token(&c, "carol")).await.unwrap();
        assert_eq!(metrics.counter(REFETCHES), 1);
        assert_eq!(metrics.counter(FETCHES_OK), 2);
        assert_eq!(metrics.counter(FETCHES_FAILED), 0);
        assert_eq!(metrics.gauge(KEYS), 3.0);

        // Within the cooldown, another unknown kid does not refetch.
        if started.elapsed() < cooldown / 2 {
            assert!(verifier.verify_async(&token(&d, "dave")).await.is_err());
            assert_eq!(metrics.counter(REFETCHES), 1);
            assert_eq!(state.lock().unwrap().hits, 2);
        }

        // After the cooldown, with the provider down: a refetch that fails, keys kept.
        tokio::time::sleep(cooldown + Duration::from_millis(50)).await;
        state.lock().unwrap().unavailable = true;
        assert!(verifier.verify_async(&token(&d, "dave")).await.is_err());
        assert_eq!(metrics.counter(REFETCHES), 2);
        assert_eq!(metrics.counter(FETCHES_FAILED), 1);
        assert_eq!(metrics.counter(FETCHES_OK), 2);
        assert_eq!(metrics.gauge(KEYS), 3.0, "the last good keys stay loaded");
        assert_eq!(keys.fetch_count(), 3);
        verifier.verify_async(&token(&a, "alice")).await.unwrap();

        // Only these series, with bounded labels.
        let expected: BTreeMap<String, f64> = [
            (FETCHES_FAILED, 1.0),
            (FETCHES_OK, 2.0),
            (KEYS, 3.0),
            (REFETCHES, 2.0),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        assert_eq!(metrics.series("tollgate_jwks"), expected);

        // Gone with the last clone: its keys no longer count.
        drop(verifier);
        drop(keys);
        // The background task holds only a weak reference; give it a turn to notice.
        tokio::task::yield_now().await;
        assert_eq!(metrics.gauge(KEYS), 0.0);
    });
}

// ---------------------------------------------------------------------------------------
// Redis push reconnects and ping
// ---------------------------------------------------------------------------------------

#[test]
fn redis_push_reconnects_are_counted_and_ping_follows_the_server() {
    with_recorder(|mut metrics| async move {
        let mut server = RedisServer::start();
        let port = server.port;
        let store = redis_store(&server.url(), "metrics-reconnects").await;
        eventually(Duration::from_secs(5), "subscribed", || {
            let up = store.is_subscribed();
            async move { up }
        })
        .await;
        assert_eq!(metrics.counter(RECONNECTS), 0, "the first subscription");
        store.ping().await.expect("ping while Redis is up");

        server.kill();
        eventually(Duration::from_secs(5), "the subscription is lost", || {
            let up = store.is_subscribed();
            async move { !up }
        })
        .await;
        let start = Instant::now();
        assert!(store.ping().await.is_err(), "ping while Redis is down");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "ping took {:?}",
            start.elapsed()
        );
        assert_eq!(metrics.counter(RECONNECTS), 0);

        let _server = RedisServer::start_on(port).expect("redis-server restarts on its port");
        eventually(Duration::from_secs(10), "subscribed again", || {
            let up = store.is_subscribed();
            async move { up }
        })
        .await;
        assert_eq!(metrics.counter(RECONNECTS), 1);
        eventually(Duration::from_secs(5), "ping answers again", || {
            let store = store.clone();
            async move { store.ping().await.is_ok() }
        })
        .await;
        // Staying up: no further reconnect counted.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            metrics.series(RECONNECTS),
            BTreeMap::from([(RECONNECTS.to_owned(), 1.0)])
        );
    });
}

// ---------------------------------------------------------------------------------------
// The tollgate.auth span
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_auth_span_records_the_decision_and_verified_identity_only() {
    const SECRET: &[u8] = b"metrics-sources-secret-32-bytes!";
    let signer = Signer::builder(SigningKey::hmac("k1", SECRET, Algorithm::HS256).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let forger = Signer::builder(
        SigningKey::hmac("k1", b"not-the-secret-of-the-api-32byte", Algorithm::HS256).unwrap(),
    )
    .issuer(ISSUER)
    .audience(AUDIENCE)
    .build()
    .unwrap();
    let verifier = Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let good = signer.issue(&TokenRequest::new("alice")).unwrap();
    let forged = forger.issue(&TokenRequest::new("mallory")).unwrap();

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_target(true)
        .with_writer(move || writer.clone())
        .finish();
    let guard = subscriber.set_default();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(AuthLayer::new(verifier));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for (token, status) in [
            (&good.token, StatusCode::OK),
            (&forged.token, StatusCode::UNAUTHORIZED),
        ] {
            let request = Request::get("/")
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            assert_eq!(app.clone().oneshot(request).await.unwrap().status(), status);
        }
    });
    drop(app);
    drop(guard);
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();

    let closed: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("tollgate.auth{") && line.contains(": close "))
        .collect();
    assert_eq!(closed.len(), 2, "one span per request:\n{text}");
    let (accepted, refused) = (closed[0], closed[1]);
    for field in [
        "decision=\"allowed\"".to_owned(),
        "reason=\"ok\"".to_owned(),
        "sub=\"alice\"".to_owned(),
        format!("jti=\"{}\"", good.jti),
    ] {
        assert!(accepted.contains(&field), "{field} missing: {accepted}");
    }
    for field in ["decision=\"refused\"", "reason=\"signature_invalid\""] {
        assert!(refused.contains(field), "{field} missing: {refused}");
    }
    for absent in ["sub=", "jti=", "mallory", forged.jti.as_str()] {
        assert!(
            !refused.contains(absent),
            "{absent} in a refusal: {refused}"
        );
    }
    assert!(
        !text.contains("mallory") && !text.contains(&forged.jti),
        "an unverified identity was logged:\n{text}"
    );
}
