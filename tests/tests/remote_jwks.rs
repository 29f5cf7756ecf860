//! Keys from an identity provider: `RemoteKeys` behind the `AuthLayer`, against a
//! JWKS / OIDC discovery server of the test's own on 127.0.0.1 (real HTTP, port 0). The
//! server can rotate its keys, go down (503, or no listener at all), answer slowly, answer
//! garbage or a huge body, and counts its hits per path.
//!
//! No fixed sleeps: every wait polls a condition with a deadline ([`eventually`]).

mod common;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use common::{ATTACKER_CERT_PEM, AUDIENCE, App, ISSUER, Outcome, TestKey};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode, Uri};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tollgate::remote::{RemoteKeys, RemoteKeysBuilder};
use tollgate::{Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::AuthLayer;

const JWKS: &str = "/jwks.json";
const DISCOVERY: &str = "/.well-known/openid-configuration";

// ---------------------------------------------------------------------------------------
// The identity provider
// ---------------------------------------------------------------------------------------

/// How the provider answers the JWKS and discovery paths.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// The published document.
    Normal,
    /// 503 Service Unavailable.
    Unavailable,
    /// The published document, after this delay (the hit is counted on arrival).
    Slow(Duration),
}

#[derive(Debug)]
struct ProviderState {
    /// `http://127.0.0.1:<port>`.
    base: String,
    /// Where the JWK Set is served (and what the discovery document names).
    jwks_path: String,
    /// The body served at `jwks_path`: any bytes, not necessarily JSON.
    jwks: Vec<u8>,
    /// The `issuer` of the discovery document.
    issuer: String,
    answer: Answer,
    /// Send bodies as a stream (`Transfer-Encoding: chunked`, no `Content-Length`).
    chunked: bool,
    /// `Cache-Control: max-age=<n>` on successful answers.
    max_age: Option<u64>,
    /// When each path was requested.
    hits: HashMap<String, Vec<Instant>>,
}

/// The server task and how to stop it.
#[derive(Debug)]
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// A JWKS / OIDC discovery server on 127.0.0.1 whose answers the test changes at runtime.
#[derive(Debug)]
struct Provider {
    addr: SocketAddr,
    state: Arc<Mutex<ProviderState>>,
    running: Option<Running>,
}

async fn answer(State(state): State<Arc<Mutex<ProviderState>>>, uri: Uri) -> Response {
    let (body, answer, chunked, max_age) = {
        let mut state = state.lock().unwrap();
        let path = uri.path();
        state
            .hits
            .entry(path.to_owned())
            .or_default()
            .push(Instant::now());
        let body = if path == state.jwks_path {
            state.jwks.clone()
        } else if path.ends_with(DISCOVERY) {
            let jwks_uri = format!("{}{}", state.base, state.jwks_path);
            json!({ "issuer": state.issuer, "jwks_uri": jwks_uri })
                .to_string()
                .into_bytes()
        } else {
            return StatusCode::NOT_FOUND.into_response();
        };
        (body, state.answer, state.chunked, state.max_age)
    };
    match answer {
        Answer::Normal => {}
        Answer::Unavailable => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Answer::Slow(delay) => tokio::time::sleep(delay).await,
    }
    let body = if chunked {
        // A stream of unknown length: hyper sends it chunked, without Content-Length.
        Body::from_stream(Body::from(body).into_data_stream())
    } else {
        Body::from(body)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(max_age) = max_age {
        let value = HeaderValue::from_str(&format!("public, max-age={max_age}")).unwrap();
        headers.insert(CACHE_CONTROL, value);
    }
    response
}

impl Provider {
    /// A provider publishing an empty JWK Set until told otherwise.
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let state = ProviderState {
            base: base.clone(),
            jwks_path: JWKS.to_owned(),
            jwks: br#"{"keys":[]}"#.to_vec(),
            issuer: base,
            answer: Answer::Normal,
            chunked: false,
            max_age: None,
            hits: HashMap::new(),
        };
        let mut provider = Self {
            addr,
            state: Arc::new(Mutex::new(state)),
            running: None,
        };
        provider.serve(listener);
        provider
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .fallback(answer)
            .with_state(self.state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        self.running = Some(Running { stop, task });
    }

    /// Closes the listener and every connection: connections are refused from now on.
    async fn stop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        let _ = running.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), running.task)
            .await
            .expect("the provider stops within 5 s")
            .unwrap();
    }

    /// Listens again, on the same port.
    async fn restart(&mut self) {
        assert!(self.running.is_none(), "already running");
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// `http://127.0.0.1:<port>`, the issuer URL for discovery.
    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut ProviderState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Serves the public keys of `signers` as the JWK Set.
    fn publish(&self, signers: &[&Signer]) {
        self.publish_json(&jwks_of(signers));
    }

    fn publish_json(&self, document: &Value) {
        self.publish_raw(document.to_string());
    }

    /// Serves `body` as it is at the JWKS path.
    fn publish_raw(&self, body: impl Into<Vec<u8>>) {
        let body = body.into();
        self.with_state(|s| s.jwks = body);
    }

    fn answer(&self, answer: Answer) {
        self.with_state(|s| s.answer = answer);
    }

    fn chunked(&self, chunked: bool) {
        self.with_state(|s| s.chunked = chunked);
    }

    fn max_age(&self, max_age: Option<u64>) {
        self.with_state(|s| s.max_age = max_age);
    }

    /// The discovery document names `issuer` and `{base}{jwks_path}`, where the JWK Set is
    /// then served.
    fn discovery(&self, issuer: &str, jwks_path: &str) {
        self.with_state(|s| {
            s.issuer = issuer.to_owned();
            s.jwks_path = jwks_path.to_owned();
        });
    }

    /// How many requests `path` received.
    fn hits(&self, path: &str) -> usize {
        self.hit_times(path).len()
    }

    fn hit_times(&self, path: &str) -> Vec<Instant> {
        self.with_state(|s| s.hits.get(path).cloned().unwrap_or_default())
    }

    /// Requests to every path but the JWKS and discovery ones.
    fn other_hits(&self) -> usize {
        self.with_state(|s| {
            let jwks = s.jwks_path.clone();
            s.hits
                .iter()
                .filter(|(path, _)| **path != jwks && !path.ends_with(DISCOVERY))
                .map(|(_, times)| times.len())
                .sum()
        })
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.task.abort();
        }
    }
}

/// The raw response head of `GET path` (over a plain socket, to see the framing headers).
async fn response_head(addr: SocketAddr, path: &str) -> String {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let text = String::from_utf8_lossy(&response).into_owned();
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        head.to_ascii_lowercase()
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// Keys, tokens and the application
// ---------------------------------------------------------------------------------------

/// A signer of the identity provider: a fresh Ed25519 key under `kid`, [`ISSUER`],
/// [`AUDIENCE`].
fn signer(kid: &str) -> Signer {
    signer_for(kid, ISSUER)
}

fn signer_for(kid: &str, issuer: &str) -> Signer {
    Signer::builder(SigningKey::generate_ed25519(kid).unwrap())
        .issuer(issuer)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// A valid token about `alice` from `signer`.
fn token(signer: &Signer) -> String {
    signer.issue(&TokenRequest::new("alice")).unwrap().token
}

/// The JWK Set document publishing the public keys of `signers`.
fn jwks_of(signers: &[&Signer]) -> Value {
    let keys: Vec<Value> = signers
        .iter()
        .map(|s| s.key().public_jwk().unwrap())
        .collect();
    json!({ "keys": keys })
}

/// Random `kid`s, different on every run.
fn random_kid(prefix: &str) -> String {
    let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    format!("{prefix}-{random:016x}")
}

/// An otherwise valid token naming the `kid` `kid`, signed by a key nobody trusts.
fn token_with_kid(kid: &str) -> String {
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid });
    common::forge(&header, &common::claims(), TestKey::Attacker)
}

/// A `RemoteKeys` builder for the JWK Set of `provider`, with test-sized limits: a fetch
/// timeout of 300 ms and a cooldown of 500 ms.
fn remote(provider: &Provider) -> RemoteKeysBuilder {
    RemoteKeys::jwks(provider.url(JWKS))
        .timeout(Duration::from_millis(300))
        .cooldown(Duration::from_millis(500))
}

/// Builds `builder` and waits for the first key set.
async fn loaded(builder: RemoteKeysBuilder) -> RemoteKeys {
    let keys = builder.build().unwrap();
    assert!(
        keys.wait_until_loaded(Duration::from_secs(5)).await,
        "no keys within 5 s"
    );
    keys
}

/// A verifier of the provider's tokens: its remote keys, [`ISSUER`], [`AUDIENCE`].
fn verifier(keys: &RemoteKeys) -> Verifier {
    verifier_for(keys, ISSUER)
}

fn verifier_for(keys: &RemoteKeys, issuer: &str) -> Verifier {
    Verifier::builder()
        .remote_keys(keys.clone())
        .issuer(issuer)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// The router of the router-level tests behind an `AuthLayer` with `keys`.
fn app(keys: &RemoteKeys) -> App {
    App::new(AuthLayer::new(verifier(keys)))
}

/// Whether the keys in use now hold `kid`.
fn holds(keys: &RemoteKeys, kid: &str) -> bool {
    keys.current().is_some_and(|set| set.get(kid).is_some())
}

/// Polls `condition` every 10 ms until it holds; panics after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// 401 `invalid_token` because no key has the token's `kid`.
#[track_caller]
fn assert_key_unknown(outcome: &Outcome) {
    outcome.assert_invalid_token("key_unknown", "unknown signing key");
}

/// 503 `keys_unavailable` with `Retry-After` and no challenge: not the client's fault.
#[track_caller]
fn assert_keys_unavailable(outcome: &Outcome) {
    assert_eq!(
        outcome.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "status; body: {}",
        outcome.body
    );
    assert_eq!(outcome.challenge(), None, "a 503 challenges no credentials");
    assert!(outcome.headers.contains_key(RETRY_AFTER), "Retry-After");
    let body = outcome.json();
    assert_eq!(body["error"], "temporarily_unavailable", "body: {body}");
    assert_eq!(body["code"], "keys_unavailable", "body: {body}");
    assert_eq!(outcome.runs, 0, "the handler ran");
}

// ---------------------------------------------------------------------------------------
// Rotation
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_key_is_accepted_at_once_and_a_retired_one_refused_after_a_refresh() {
    let idp = Provider::start().await;
    let old = signer("rotation-1");
    let new = signer("rotation-2");
    idp.publish(&[&old]);
    let keys = loaded(remote(&idp)).await;
    let app = app(&keys);
    app.bearer(&token(&old)).await.assert_accepted();
    assert_eq!(idp.hits(JWKS), 1, "one fetch at start-up");

    // The provider starts publishing the next key: the first token naming it is accepted,
    // because its unknown kid makes the layer refetch before deciding.
    idp.publish(&[&old, &new]);
    app.bearer(&token(&new)).await.assert_accepted();
    assert_eq!(idp.hits(JWKS), 2, "one refetch for the new kid");
    assert!(holds(&keys, "rotation-2"));

    // Both keys are published: tokens of either are accepted, without further fetches.
    for _ in 0..5 {
        app.bearer(&token(&old)).await.assert_accepted();
        app.bearer(&token(&new)).await.assert_accepted();
    }
    assert_eq!(idp.hits(JWKS), 2, "known kids cause no fetch");

    // The old key is retired. Once a refresh happened (here: triggered by an unknown kid
    // after the cooldown), tokens signed with it are refused.
    idp.publish(&[&new]);
    let old_token = token(&old);
    eventually(
        Duration::from_secs(5),
        "a refresh drops the old key",
        || {
            let app = &app;
            let keys = &keys;
            async move {
                assert_key_unknown(&app.bearer(&token_with_kid(&random_kid("probe"))).await);
                !holds(keys, "rotation-1")
            }
        },
    )
    .await;
    assert_key_unknown(&app.bearer(&old_token).await);
    app.bearer(&token(&new)).await.assert_accepted();
}

// ---------------------------------------------------------------------------------------
// A flood of unknown kids
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_unknown_kids_cause_at_most_one_fetch() {
    let idp = Provider::start().await;
    let known = signer("flood-known");
    idp.publish(&[&known]);
    // The default cooldown (30 s): the whole flood falls inside one cooldown.
    let keys = loaded(RemoteKeys::jwks(idp.url(JWKS)).timeout(Duration::from_secs(2))).await;
    // The flood and a user with a good token, each through a router of its own (so that
    // each counts its own handler calls), sharing the keys.
    let flood_app = Arc::new(app(&keys));
    let app = app(&keys);
    let tokens: Vec<String> = (0..1000)
        .map(|i| token_with_kid(&random_kid(&format!("flood-{i}"))))
        .collect();
    let (fetches, hits) = (keys.fetch_count(), idp.hits(JWKS));

    let started = Instant::now();
    let mut flood = JoinSet::new();
    for token in tokens {
        let flood_app = flood_app.clone();
        flood.spawn(async move { flood_app.bearer(&token).await });
    }
    // A user with a good token is still served during the flood.
    app.bearer(&token(&known)).await.assert_accepted();
    let mut answered = 0;
    while let Some(outcome) = flood.join_next().await {
        let outcome = outcome.unwrap();
        assert!(!outcome.status.is_server_error(), "5xx: {}", outcome.status);
        assert_key_unknown(&outcome);
        answered += 1;
    }
    assert_eq!(answered, 1000);
    let elapsed = started.elapsed();

    let caused = keys.fetch_count() - fetches;
    assert!(caused <= 1, "{caused} fetches for 1000 unknown kids");
    assert_eq!(
        idp.hits(JWKS) - hits,
        caused as usize,
        "the provider saw what the client counted"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "the flood took {elapsed:?}"
    );
    app.bearer(&token(&known)).await.assert_accepted();
}

// ---------------------------------------------------------------------------------------
// Provider down
// ---------------------------------------------------------------------------------------

/// Remote keys that refresh every 300 ms and retry every 200–500 ms while failing.
fn frequent(provider: &Provider) -> RemoteKeysBuilder {
    remote(provider)
        .refresh(Duration::from_millis(300))
        .min_refresh(Duration::from_millis(200))
        .max_refresh(Duration::from_secs(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_answering_503_after_the_first_load_leaves_the_stale_keys_in_use() {
    let idp = Provider::start().await;
    let old = signer("down-1");
    let new = signer("down-2");
    idp.publish(&[&old]);
    let keys = loaded(frequent(&idp)).await;
    let app = app(&keys);

    idp.answer(Answer::Unavailable);
    let down_since = Instant::now();
    let hits = idp.hits(JWKS);
    // The refresh keeps retrying while the provider is down...
    eventually(Duration::from_secs(5), "three retries while down", || {
        let more = idp.hits(JWKS) >= hits + 3;
        async move { more }
    })
    .await;
    // ... and the last good keys stay in use meanwhile.
    for _ in 0..5 {
        app.bearer(&token(&old)).await.assert_accepted();
    }
    // An unknown kid is the client's problem (401), not an outage (503).
    assert_key_unknown(&app.bearer(&token_with_kid(&random_kid("down"))).await);
    // Retries are spaced by the backoff (at least 200 ms here): no busy loop.
    let retries = idp
        .hit_times(JWKS)
        .into_iter()
        .filter(|t| *t >= down_since)
        .count();
    let window = down_since.elapsed();
    assert!(
        retries as u128 <= window.as_millis() / 150 + 2,
        "{retries} fetches in {window:?}"
    );

    // The provider is back, with the next key: the refresh picks it up by itself.
    idp.publish(&[&old, &new]);
    idp.answer(Answer::Normal);
    eventually(Duration::from_secs(5), "the keys recover", || {
        let done = holds(&keys, "down-2");
        async move { done }
    })
    .await;
    app.bearer(&token(&new)).await.assert_accepted();
    app.bearer(&token(&old)).await.assert_accepted();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_refusing_connections_after_the_first_load_leaves_the_stale_keys_in_use() {
    let mut idp = Provider::start().await;
    let old = signer("refused-1");
    let new = signer("refused-2");
    idp.publish(&[&old]);
    let keys = loaded(frequent(&idp)).await;
    let app = app(&keys);

    idp.stop().await;
    let down_since = Instant::now();
    let fetches = keys.fetch_count();
    eventually(Duration::from_secs(5), "three retries while down", || {
        let more = keys.fetch_count() >= fetches + 3;
        async move { more }
    })
    .await;
    for _ in 0..5 {
        app.bearer(&token(&old)).await.assert_accepted();
    }
    assert_key_unknown(&app.bearer(&token_with_kid(&random_kid("refused"))).await);
    let window = down_since.elapsed();
    let attempts = keys.fetch_count() - fetches;
    assert!(
        u128::from(attempts) <= window.as_millis() / 150 + 3,
        "{attempts} fetch attempts in {window:?}"
    );

    idp.publish(&[&new]);
    idp.restart().await;
    eventually(Duration::from_secs(5), "the keys recover", || {
        let done = holds(&keys, "refused-2") && !holds(&keys, "refused-1");
        async move { done }
    })
    .await;
    app.bearer(&token(&new)).await.assert_accepted();
    assert_key_unknown(&app.bearer(&token(&old)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_never_reached_means_503_not_401() {
    let idp_key = signer("never-1");
    let token = token(&idp_key);

    // Nothing listens on the port.
    let mut refusing = Provider::start().await;
    refusing.stop().await;
    // Answers 503 to everything.
    let unavailable = Provider::start().await;
    unavailable.publish(&[&idp_key]);
    unavailable.answer(Answer::Unavailable);

    let mut last = None;
    for idp in [&refusing, &unavailable] {
        // Retries every 200–400 ms.
        let keys = remote(idp)
            .min_refresh(Duration::from_millis(200))
            .build()
            .unwrap();
        let app = app(&keys);
        let started = Instant::now();
        assert_keys_unavailable(&app.bearer(&token).await);
        assert_keys_unavailable(&app.bearer(&token).await);
        // Even a kid no provider publishes cannot be judged without the keys.
        assert_keys_unavailable(&app.bearer(&token_with_kid(&random_kid("never"))).await);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the refusals took {:?}",
            started.elapsed()
        );
        // A token that is broken whatever the keys is still the client's fault.
        app.bearer("garbage")
            .await
            .assert_invalid_token("token_malformed", "malformed token");
        assert!(keys.current().is_none());
        assert!(keys.fetch_count() >= 1, "no fetch was tried");
        last = Some(app);
    }
    assert!(unavailable.hits(JWKS) >= 1);

    // Once the provider answers, the keys load and the same token passes.
    unavailable.answer(Answer::Normal);
    let app = last.unwrap();
    eventually(Duration::from_secs(5), "the token passes", || {
        let app = &app;
        let token = &token;
        async move { app.bearer(token).await.status == StatusCode::OK }
    })
    .await;
}

/// Static keys next to remote keys that never loaded (the demo: its own signing key and an
/// identity provider): a token naming a key the static set lacks may be the provider's, so
/// it cannot be judged yet — 503, not "unknown signing key".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn static_keys_beside_remote_keys_that_never_loaded_mean_503_for_other_kids() {
    let mut idp = Provider::start().await;
    let provider_key = signer("never-static-1");
    idp.publish(&[&provider_key]);
    idp.stop().await;
    let own = signer("own-1");
    let keys = remote(&idp)
        .min_refresh(Duration::from_millis(200))
        .build()
        .unwrap();
    let verifier = Verifier::builder()
        .keys(own.verification_keys().unwrap())
        .remote_keys(keys.clone())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let app = App::new(AuthLayer::new(verifier));

    // The service's own tokens need no provider.
    app.bearer(&token(&own)).await.assert_accepted();
    // The provider's token, and any kid the static keys lack, wait for the provider.
    assert_keys_unavailable(&app.bearer(&token(&provider_key)).await);
    assert_keys_unavailable(&app.bearer(&token_with_kid(&random_kid("static"))).await);
    assert!(keys.current().is_none());

    // Once the provider answers, its tokens pass and unknown kids are the client's fault.
    idp.restart().await;
    let provider_token = token(&provider_key);
    eventually(
        Duration::from_secs(5),
        "the provider's token passes",
        || {
            let app = &app;
            let provider_token = &provider_token;
            async move { app.bearer(provider_token).await.status == StatusCode::OK }
        },
    )
    .await;
    assert_key_unknown(&app.bearer(&token_with_kid(&random_kid("static"))).await);
}

// ---------------------------------------------------------------------------------------
// Slow provider
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_provider_does_not_slow_requests_with_known_kids() {
    let idp = Provider::start().await;
    let known = signer("slow-1");
    idp.publish(&[&known]);
    let keys = loaded(remote(&idp)).await;
    let app = app(&keys);
    let known_token = token(&known);
    app.bearer(&known_token).await.assert_accepted();

    // The provider now takes far longer than the 300 ms fetch timeout.
    idp.answer(Answer::Slow(Duration::from_secs(3)));
    let hits = idp.hits(JWKS);
    let unknown = {
        // Through a router of its own, sharing the keys.
        let app = self::app(&keys);
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = app.bearer(&token_with_kid(&random_kid("slow"))).await;
            (outcome, started.elapsed())
        })
    };
    eventually(
        Duration::from_secs(5),
        "the refetch reaches the provider",
        || {
            let arrived = idp.hits(JWKS) > hits;
            async move { arrived }
        },
    )
    .await;

    // While that fetch is in flight, known kids are answered at once.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        app.bearer(&known_token).await.assert_accepted();
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        !unknown.is_finished(),
        "the refetch ended before the known kids were measured"
    );
    assert!(
        slowest < Duration::from_millis(50),
        "a known kid took {slowest:?} during a slow refetch"
    );

    // The request that triggered the refetch waited for it, bounded by the timeout.
    let (outcome, waited) = unknown.await.unwrap();
    assert_key_unknown(&outcome);
    assert!(
        waited < Duration::from_millis(1500),
        "the unknown kid waited {waited:?}"
    );
    app.bearer(&known_token).await.assert_accepted();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refetch_outlives_the_request_that_stopped_waiting_for_it() {
    // The provider is slower than a request waits for an unknown kid, but within the fetch
    // timeout: the refetch must still complete, so the rotated key is accepted right after.
    for hang_up in [false, true] {
        let idp = Provider::start().await;
        let old = signer("outlive-1");
        let new = signer("outlive-2");
        idp.publish(&[&old]);
        let keys = loaded(
            RemoteKeys::jwks(idp.url(JWKS))
                .timeout(Duration::from_secs(3))
                .unknown_kid_wait(Duration::from_millis(200)),
        )
        .await;
        let app = app(&keys);
        idp.publish(&[&old, &new]);
        idp.answer(Answer::Slow(Duration::from_millis(700)));

        let new_token = token(&new);
        if hang_up {
            // The client gives up after 50 ms: the request future is dropped.
            let gave_up =
                tokio::time::timeout(Duration::from_millis(50), app.bearer(&new_token)).await;
            assert!(gave_up.is_err(), "answered before the slow refetch");
        } else {
            // Waits 200 ms, then is decided with the keys at hand.
            assert_key_unknown(&app.bearer(&new_token).await);
        }
        eventually(Duration::from_secs(3), "the refetch completes", || {
            let done = holds(&keys, "outlive-2");
            async move { done }
        })
        .await;
        app.bearer(&new_token).await.assert_accepted();
        assert_eq!(idp.hits(JWKS), 2, "one refetch (hang_up: {hang_up})");
    }
}

// ---------------------------------------------------------------------------------------
// Bad answers
// ---------------------------------------------------------------------------------------

/// A valid JWK Set of `signers` padded with an extra member to `bytes` bytes.
fn padded_jwks(signers: &[&Signer], bytes: usize) -> String {
    let mut document = jwks_of(signers);
    let size = document.to_string().len();
    document["padding"] = Value::String("x".repeat(bytes.saturating_sub(size + 14)));
    let text = document.to_string();
    assert!(text.len() >= bytes - 16, "padding");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_or_huge_answers_leave_the_previous_keys_in_use() {
    const MAX_BODY: usize = 16 * 1024;
    let old = signer("bad-1");
    let new = signer("bad-2");
    let huge = padded_jwks(&[&old, &new], 4 * MAX_BODY);
    let just_fits = padded_jwks(&[&old, &new], MAX_BODY - 64);
    // (what, body, chunked, whether the new key may load)
    let cases: Vec<(&str, Vec<u8>, bool, bool)> = vec![
        (
            "not JSON",
            b"<html>502 Bad Gateway</html>".to_vec(),
            false,
            false,
        ),
        (
            "truncated JSON",
            br#"{"keys":[{"kty":"OKP""#.to_vec(),
            false,
            false,
        ),
        (
            "keys not an array",
            br#"{"keys":42}"#.to_vec(),
            false,
            false,
        ),
        ("no keys member", br#"{"jwks":[]}"#.to_vec(), false, false),
        ("not UTF-8", b"{\"keys\":[\xff\xfe]}".to_vec(), false, false),
        (
            "huge, with Content-Length",
            huge.clone().into_bytes(),
            false,
            false,
        ),
        ("huge, chunked", huge.into_bytes(), true, false),
        (
            "just under the limit, chunked",
            just_fits.into_bytes(),
            true,
            true,
        ),
    ];
    for (what, body, chunked, loads) in cases {
        let idp = Provider::start().await;
        idp.publish(&[&old]);
        let keys = loaded(remote(&idp).max_body(MAX_BODY)).await;
        let app = app(&keys);
        idp.publish_raw(body);
        idp.chunked(chunked);
        if chunked {
            let head = response_head(idp.addr, JWKS).await;
            assert!(
                head.contains("transfer-encoding: chunked"),
                "{what}: {head}"
            );
            assert!(!head.contains("content-length"), "{what}: {head}");
        }
        let (fetches, hits) = (keys.fetch_count(), idp.hits(JWKS));

        // The new kid makes the layer refetch: the answer is unusable, so the token is
        // refused, and nothing else changes.
        let outcome = app.bearer(&token(&new)).await;
        assert_eq!(keys.fetch_count(), fetches + 1, "{what}: one refetch");
        assert_eq!(idp.hits(JWKS), hits + 1, "{what}: one refetch");
        if loads {
            outcome.assert_accepted();
            continue;
        }
        assert_key_unknown(&outcome);
        assert!(holds(&keys, "bad-1"), "{what}: the previous keys are gone");
        assert!(!holds(&keys, "bad-2"), "{what}: the new key loaded");
        app.bearer(&token(&old)).await.assert_accepted();
    }
}

/// The provider's answer is the truth even when it leaves no usable key: an empty set, or a
/// rotation to keys tollgate skips (an RSA JWK without `alg`). The withdrawn key must stop
/// working at that answer, not be kept as if the provider were down.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_set_without_usable_keys_withdraws_the_old_keys() {
    let old = signer("withdrawn-1");
    let next = signer("withdrawn-2");
    let mut rsa_without_alg = TestKey::Rs.public_jwk();
    rsa_without_alg.as_object_mut().unwrap().remove("alg");
    let cases: Vec<(&str, Value)> = vec![
        ("an empty key set", json!({ "keys": [] })),
        (
            "only an RSA key without alg",
            json!({ "keys": [rsa_without_alg] }),
        ),
    ];
    for (what, withdrawn) in cases {
        let idp = Provider::start().await;
        idp.publish(&[&old]);
        let keys = loaded(remote(&idp)).await;
        let verifier = verifier(&keys);
        let app = App::new(AuthLayer::new(verifier.clone()));
        let old_token = token(&old);
        app.bearer(&old_token).await.assert_accepted();
        assert!(verifier.keys_loaded(), "{what}: ready with the old key");

        // The provider withdraws its key; an unknown kid makes the layer refetch.
        idp.publish_json(&withdrawn);
        let fetches = keys.fetch_count();
        assert_key_unknown(&app.bearer(&token_with_kid(&random_kid("withdrawn"))).await);
        assert_eq!(keys.fetch_count(), fetches + 1, "{what}: one refetch");
        assert_eq!(
            keys.current().map(|set| set.len()),
            Some(0),
            "{what}: the withdrawn keys are still in use"
        );
        assert_key_unknown(&app.bearer(&old_token).await);
        assert!(
            !verifier.keys_loaded(),
            "{what}: ready without a usable key"
        );

        // The provider publishes a usable key again: a token naming it is accepted once
        // the refetch cooldown (500 ms here) has passed.
        idp.publish(&[&next]);
        let next_token = token(&next);
        eventually(Duration::from_secs(5), "the next key is accepted", || {
            let app = &app;
            let next_token = &next_token;
            async move { app.bearer(next_token).await.status == StatusCode::OK }
        })
        .await;
        assert_key_unknown(&app.bearer(&old_token).await);
        assert!(verifier.keys_loaded(), "{what}: ready again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partially_bad_key_set_loads_its_good_keys_and_skips_the_rest() {
    let good = signer("good");
    let private = signer("private");
    let encryption = signer("encryption");
    let duplicate = signer("duplicate");
    let mislabeled = signer("mislabeled");
    let jwk = |s: &Signer| s.key().public_jwk().unwrap();
    let hs_secret = common::b64(common::HS_SECRET);
    let document = json!({ "keys": [
        jwk(&good),
        // Private material in a public set: refused.
        common::with(jwk(&private), json!({ "d": common::b64([7u8; 32]) })),
        // An encryption key: not for verifying signatures.
        common::with(jwk(&encryption), json!({ "use": "enc" })),
        // The same kid twice: neither is trusted.
        jwk(&duplicate),
        jwk(&duplicate),
        // An Ed25519 key claiming RS256.
        common::with(jwk(&mislabeled), json!({ "alg": "RS256" })),
        // An HMAC secret published in a JWK Set (anyone could sign with it).
        { "kty": "oct", "kid": "hs", "alg": "HS256", "k": hs_secret },
        // Malformed entries.
        { "kty": "OKP", "crv": "Ed25519", "kid": "no-x", "alg": "EdDSA" },
        { "kty": "EC", "crv": "P-256", "kid": "off-curve", "alg": "ES256",
          "x": common::b64([1u8; 32]), "y": common::b64([2u8; 32]) },
        { "kty": "XYZ", "kid": "unknown-kty" },
        42,
        "a string",
        null,
    ]});
    let idp = Provider::start().await;
    idp.publish_json(&document);
    let keys = loaded(remote(&idp)).await;
    let set = keys.current().unwrap();
    assert_eq!(set.len(), 1, "only the good key loads");
    assert_eq!(set.skipped().len(), 12, "skipped: {:?}", set.skipped());

    let app = app(&keys);
    app.bearer(&token(&good)).await.assert_accepted();
    for bad in [&private, &encryption, &duplicate, &mislabeled] {
        assert_key_unknown(&app.bearer(&token(bad)).await);
    }
    let hs_token = common::token(TestKey::Hs, &common::claims());
    assert_key_unknown(&app.bearer(&hs_token).await);
    app.bearer(&token(&good)).await.assert_accepted();
}

// ---------------------------------------------------------------------------------------
// OIDC discovery
// ---------------------------------------------------------------------------------------

const KEYCLOAK_CERTS: &str = "/realms/demo/protocol/openid-connect/certs";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn discovery_follows_jwks_uri() {
    let idp = Provider::start().await;
    let issuer = idp.base();
    // The key set is where the document says, not at a guessable path.
    idp.discovery(&issuer, KEYCLOAK_CERTS);
    let first = signer_for("discovered-1", &issuer);
    let second = signer_for("discovered-2", &issuer);
    idp.publish(&[&first]);
    let keys = loaded(
        RemoteKeys::discover(issuer.clone())
            .timeout(Duration::from_millis(300))
            .cooldown(Duration::from_millis(500)),
    )
    .await;
    assert_eq!(idp.hits(DISCOVERY), 1);
    assert_eq!(idp.hits(KEYCLOAK_CERTS), 1);
    assert_eq!(idp.hits(JWKS), 0);

    let app = App::new(AuthLayer::new(verifier_for(&keys, &issuer)));
    app.bearer(&token(&first)).await.assert_accepted();
    // A rotation refetches the key set from the jwks_uri already known.
    idp.publish(&[&first, &second]);
    app.bearer(&token(&second)).await.assert_accepted();
    assert_eq!(idp.hits(KEYCLOAK_CERTS), 2);
    assert_eq!(idp.other_hits(), 0);

    // An issuer configured with a trailing slash, whose document says the same, is fine.
    let slashed = Provider::start().await;
    let issuer = format!("{}/", slashed.base());
    slashed.discovery(&issuer, JWKS);
    let signer = signer_for("slashed", &issuer);
    slashed.publish(&[&signer]);
    let keys = loaded(RemoteKeys::discover(issuer.clone())).await;
    let app = App::new(AuthLayer::new(verifier_for(&keys, &issuer)));
    app.bearer(&token(&signer)).await.assert_accepted();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    for (configured, in_document) in [("", "/"), ("/", ""), ("", "https://evil.example")] {
        let idp = Provider::start().await;
        let base = idp.base();
        let configured = format!("{base}{configured}");
        let in_document = if in_document.starts_with("https://") {
            in_document.to_owned()
        } else {
            format!("{base}{in_document}")
        };
        idp.discovery(&in_document, JWKS);
        let signer = signer_for("mismatch", &configured);
        idp.publish(&[&signer]);
        let keys = RemoteKeys::discover(configured.clone())
            .timeout(Duration::from_millis(300))
            .cooldown(Duration::from_millis(500))
            .build()
            .unwrap();
        let app = App::new(AuthLayer::new(verifier_for(&keys, &configured)));

        let outcome = app.bearer(&token(&signer)).await;
        assert_keys_unavailable(&outcome);
        assert!(idp.hits(DISCOVERY) >= 1, "{configured}: no discovery");
        assert_eq!(idp.hits(JWKS), 0, "{configured}: jwks_uri followed anyway");
        assert!(keys.current().is_none(), "{configured}: keys loaded");
    }
}

// ---------------------------------------------------------------------------------------
// Cache-Control
// ---------------------------------------------------------------------------------------

/// Starts a provider sending `max-age` and remote keys with `builder`'s bounds; returns
/// the gaps between the first `fetches` fetches.
async fn refresh_gaps(
    max_age: u64,
    bounds: impl FnOnce(RemoteKeysBuilder) -> RemoteKeysBuilder,
    fetches: usize,
) -> Vec<Duration> {
    let idp = Provider::start().await;
    let first = signer("cache-1");
    let second = signer("cache-2");
    idp.publish(&[&first]);
    idp.max_age(Some(max_age));
    let keys = loaded(bounds(remote(&idp))).await;
    // Published after the first load: only a scheduled refresh can bring it in.
    idp.publish(&[&first, &second]);
    eventually(Duration::from_secs(5), "the scheduled refreshes", || {
        let done = idp.hits(JWKS) >= fetches;
        async move { done }
    })
    .await;
    eventually(
        Duration::from_secs(1),
        "the refresh loads the new key",
        || {
            let done = holds(&keys, "cache-2");
            async move { done }
        },
    )
    .await;
    let times = idp.hit_times(JWKS);
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cache_control_max_age_is_honoured_within_bounds() {
    let min = Duration::from_millis(100);
    let (honoured, clamped_down, clamped_up) = tokio::join!(
        // max-age=1 with a 10 min default: a refresh after about 1 s.
        refresh_gaps(1, |b| b.min_refresh(min), 2),
        // A day's max-age: clamped to max_refresh, 1 s.
        refresh_gaps(
            86_400,
            |b| b.min_refresh(min).max_refresh(Duration::from_secs(1)),
            2
        ),
        // max-age=0: clamped up to min_refresh, 400 ms, not a busy loop.
        refresh_gaps(0, |b| b.min_refresh(Duration::from_millis(400)), 3),
    );
    let second = Duration::from_secs(1);
    for (what, gaps) in [("max-age=1", &honoured), ("max-age=86400", &clamped_down)] {
        let gap = gaps[0];
        assert!(
            gap >= second - Duration::from_millis(50) && gap < 2 * second,
            "{what}: refreshed after {gap:?}"
        );
    }
    for gap in &clamped_up[..2] {
        assert!(
            *gap >= Duration::from_millis(350) && *gap < Duration::from_millis(1500),
            "max-age=0: refreshed after {gap:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Several issuers
// ---------------------------------------------------------------------------------------

const ISSUER_B: &str = "https://b.tollgate.test";
const AUDIENCE_B: &str = "b-api";

/// The verifier of issuer B: a static key, audience [`AUDIENCE_B`].
fn verifier_b(signer_b: &Signer) -> Verifier {
    Verifier::builder()
        .keys(signer_b.verification_keys().unwrap())
        .issuer(ISSUER_B)
        .audience(AUDIENCE_B)
        .build()
        .unwrap()
}

fn signer_b(key: SigningKey) -> Signer {
    Signer::builder(key)
        .issuer(ISSUER_B)
        .audience(AUDIENCE_B)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_issuers_each_with_its_own_keys() {
    let idp = Provider::start().await;
    let a = signer("issuer-a");
    idp.publish(&[&a]);
    let keys = loaded(remote(&idp)).await;
    let b = signer_b(SigningKey::generate_ed25519("issuer-b").unwrap());
    let both = Verifier::any_of([verifier(&keys), verifier_b(&b)]).unwrap();
    let app = App::new(AuthLayer::new(both));

    app.bearer(&token(&a)).await.assert_accepted();
    let hits = idp.hits(JWKS);
    app.bearer(&token(&b)).await.assert_accepted();
    assert_eq!(idp.hits(JWKS), hits, "B's token fetched A's keys");

    // Claims issuer A, signed with B's key (its kid is not among A's keys).
    let b_key_as_a = Signer::builder(b.key().clone())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    assert_key_unknown(&app.bearer(&token(&b_key_as_a)).await);
    // Claims issuer A, under A's kid, signed with another key.
    let impostor = signer("issuer-a");
    app.bearer(&token(&impostor))
        .await
        .assert_invalid_token("signature_invalid", "invalid signature");
    // Claims issuer B, signed with A's key.
    let a_key_as_b = signer_b(a.key().clone());
    assert_key_unknown(&app.bearer(&token(&a_key_as_b)).await);
    // A's key and issuer, B's audience: each issuer has its own audiences.
    let a_for_b = Signer::builder(a.key().clone())
        .issuer(ISSUER)
        .audience(AUDIENCE_B)
        .build()
        .unwrap();
    app.bearer(&token(&a_for_b))
        .await
        .assert_invalid_token("audience_mismatch", "wrong audience");
    // An issuer nobody configured.
    let stranger = signer_for("issuer-a", "https://stranger.example");
    app.bearer(&token(&stranger))
        .await
        .assert_invalid_token("issuer_mismatch", "wrong issuer");

    // A's provider was never reachable: A's tokens get 503, B's still pass.
    let mut dead = Provider::start().await;
    dead.stop().await;
    let dead_keys = remote(&dead).build().unwrap();
    let both = Verifier::any_of([verifier(&dead_keys), verifier_b(&b)]).unwrap();
    let app = App::new(AuthLayer::new(both));
    assert_keys_unavailable(&app.bearer(&token(&a)).await);
    app.bearer(&token(&b)).await.assert_accepted();
}

// ---------------------------------------------------------------------------------------
// Key URLs in token headers
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_urls_and_keys_in_token_headers_are_never_used() {
    let idp = Provider::start().await;
    let trusted =
        SigningKey::ed25519_pem(TestKey::Ed.kid(), common::ED25519_PRIVATE_PEM.as_bytes()).unwrap();
    let trusted = Signer::builder(trusted)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    idp.publish(&[&trusted]);
    // A long cooldown: at most one refetch for all the unknown kids below.
    let keys = loaded(remote(&idp).cooldown(Duration::from_secs(30))).await;
    let app = app(&keys);
    let jku = idp.url("/attacker/jwks.json");
    let x5u = idp.url("/attacker/cert.pem");
    let x5c = common::pem_body(ATTACKER_CERT_PEM);
    let attacker_jwk = common::with(TestKey::Attacker.public_jwk(), json!({ "kid": "attacker" }));
    let urls = json!({ "jku": jku, "x5u": x5u });

    let attacks = [
        // The attacker's key, named by kid and offered every way a header can.
        json!({ "alg": "EdDSA", "kid": "attacker", "jku": jku, "x5u": x5u, "x5c": [x5c],
                "jwk": attacker_jwk }),
        json!({ "alg": "EdDSA", "kid": "attacker", "jku": jku }),
        json!({ "alg": "EdDSA", "kid": "attacker", "x5u": x5u }),
        // Without a kid: only the provider's one EdDSA key is a candidate.
        json!({ "alg": "EdDSA", "jku": jku, "x5u": x5u, "jwk": attacker_jwk }),
    ];
    for header in &attacks {
        let forged = common::forge(header, &common::claims(), TestKey::Attacker);
        let outcome = app.bearer(&forged).await;
        assert_eq!(outcome.status, StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(outcome.runs, 0);
    }
    // A genuine token carrying key URLs is accepted, and the URLs are still not fetched.
    let header = common::with(TestKey::Ed.header(), urls);
    let genuine = common::forge(&header, &common::claims(), TestKey::Ed);
    app.bearer(&genuine).await.assert_accepted();

    assert_eq!(idp.other_hits(), 0, "a URL from a token header was fetched");
    assert_eq!(idp.hits("/attacker/jwks.json"), 0);
    assert_eq!(idp.hits("/attacker/cert.pem"), 0);
    assert!(
        idp.hits(JWKS) <= 2,
        "only the configured URL, once at start and at most once for the unknown kid"
    );
}
