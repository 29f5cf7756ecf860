//! Every revocation store against one conformance suite, and the Redis store against a real
//! Redis: expiry, propagation between two instances, an outage and its recovery (case 40
//! of `docs/security-cases.md` through the layer), and concurrent misses sharing one lookup.
//!
//! DynamoDB: each test starts its own dynalite (`tests/dynamodb/`, installed with `npm ci
//! --prefix tests/dynamodb`) on a free loopback port, with a fresh table; the DynamoDB
//! specifics are tested in `crates/tollgate-dynamodb/tests/`.
//!
//! Redis: `REDIS_URL` if set, else each test starts its own `redis-server` (from `PATH`) on
//! a free loopback port and kills it when done. The outage tests always start their own,
//! since they kill it. Every test uses its own key prefix and never flushes anything.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::AUTHORIZATION;
use http::{Request, StatusCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tollgate::revocation::{
    BoxFuture, Invalidation, InvalidationListener, RevocationStore, Status, StoreError, TokenRef,
};
use tollgate::{CachingStore, MemoryStore, Verifier};
use tollgate_axum::{AuthLayer, StoreFailure};
use tollgate_redis::RedisStore;
use tower::ServiceExt as _;

mod redis_harness;
use redis_harness::*;

mod conformance;
use conformance::*;

// The DynamoDB store's own harness (dynalite on loopback), shared with its crate's tests.
#[path = "../../crates/tollgate-dynamodb/tests/dynalite/mod.rs"]
mod dynalite;

async fn raw_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a raw Redis connection")
}

#[tokio::test]
async fn conformance_memory() {
    conformance(MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_caching_memory() {
    conformance(CachingStore::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_redis() {
    let redis = redis();
    conformance(redis_store(&redis.url, "conformance_redis").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_caching_redis() {
    let redis = redis();
    let store = CachingStore::new(redis_store(&redis.url, "conformance_caching_redis").await);
    conformance(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_dynamodb() {
    let server = dynalite::Dynalite::start();
    conformance(dynalite::fresh_store(&server.endpoint(), "conformance").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_caching_dynamodb() {
    let server = dynalite::Dynalite::start();
    let store = dynalite::fresh_store(&server.endpoint(), "conformance-caching").await;
    conformance(CachingStore::new(store)).await;
}

// ---------------------------------------------------------------------------------------
// Redis specifics
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_expire_from_redis_and_memory() {
    let redis = redis();
    let redis_store = redis_store(&redis.url, "expiry").await;
    let memory = MemoryStore::new();
    let mut raw = raw_connection(&redis.url).await;
    let tokens = Tokens::new();
    let token = tokens.token("grace");
    // EXAT two seconds ahead: gone within two seconds.
    let until = now_secs() + 2;
    for store in [&redis_store as &dyn RevocationStore, &memory] {
        store
            .revoke_token(&token.issuer, token.subject.as_deref(), &token.id, until)
            .await
            .unwrap();
        store
            .revoke_subject(ISSUER, "grace", now_secs() + 1, until)
            .await
            .unwrap();
        assert_eq!(store.check(&token).await.unwrap(), Status::TokenRevoked);
    }

    let keys = [
        redis_store.token_key(&token.issuer, token.subject.as_deref(), &token.id),
        redis_store.subject_key(ISSUER, "grace"),
    ];
    for key in &keys {
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!(
            (1..=2).contains(&ttl),
            "{key}: TTL {ttl}, expected native expiry"
        );
    }
    let cutoff: String = redis::cmd("GET")
        .arg(&keys[1])
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        cutoff.parse::<u64>().is_ok(),
        "the cut-off is stored: {cutoff}"
    );
    assert_eq!(memory.len(), 2);

    eventually(
        Duration::from_secs(5),
        "Redis forgets expired revocations",
        || {
            let mut raw = raw.clone();
            let keys = keys.clone();
            async move {
                let live: i64 = redis::cmd("EXISTS")
                    .arg(&keys[..])
                    .query_async(&mut raw)
                    .await
                    .unwrap();
                live == 0
            }
        },
    )
    .await;
    eventually(
        Duration::from_secs(5),
        "memory forgets expired revocations",
        || {
            let empty = memory.is_empty();
            async move { empty }
        },
    )
    .await;
    assert_eq!(redis_store.check(&token).await.unwrap(), Status::Active);
    assert_eq!(memory.check(&token).await.unwrap(), Status::Active);
}

async fn raw_get(raw: &redis::aio::MultiplexedConnection, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut raw.clone())
        .await
        .unwrap()
}

async fn raw_ttl(raw: &redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("TTL")
        .arg(key)
        .query_async(&mut raw.clone())
        .await
        .unwrap()
}

/// Redis keeps the later cut-off and the later expiry, whatever the order of the calls: a
/// late or repeated revocation never weakens one already there. Cut-offs are compared
/// exactly (as integers, not as Lua's doubles).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keeps_the_later_cutoff_and_the_later_expiry() {
    let redis = redis();
    let store = redis_store(&redis.url, "never-weaker").await;
    let raw = raw_connection(&redis.url).await;
    let key = store.subject_key(ISSUER, "sybil");
    let far = now_secs() + 600;

    store
        .revoke_subject(ISSUER, "sybil", 2_000_000_000, far)
        .await
        .unwrap();
    store
        .revoke_subject(ISSUER, "sybil", 1_000_000_000, now_secs() + 5)
        .await
        .unwrap();
    assert_eq!(raw_get(&raw, &key).await.as_deref(), Some("2000000000"));
    let ttl = raw_ttl(&raw, &key).await;
    assert!(ttl > 500, "the expiry was shortened: TTL {ttl}");

    // A later cut-off and a later expiry do replace the stored ones.
    store
        .revoke_subject(ISSUER, "sybil", 2_000_000_001, far + 600)
        .await
        .unwrap();
    assert_eq!(raw_get(&raw, &key).await.as_deref(), Some("2000000001"));
    let ttl = raw_ttl(&raw, &key).await;
    assert!(ttl > 1_100, "the expiry was not extended: TTL {ttl}");

    // Exact beyond 2^53, where a double cannot tell these apart.
    store
        .revoke_subject(ISSUER, "sybil", u64::MAX, far)
        .await
        .unwrap();
    store
        .revoke_subject(ISSUER, "sybil", u64::MAX - 1, far)
        .await
        .unwrap();
    assert_eq!(
        raw_get(&raw, &key).await,
        Some(u64::MAX.to_string()),
        "u64::MAX - 1 replaced u64::MAX"
    );
    let token = variant(&Tokens::new().token("sybil"), "late", Some(u64::MAX - 1));
    assert_eq!(store.check(&token).await.unwrap(), Status::SubjectRevoked);

    // A token's revocation keeps its later expiry too.
    let token_key = store.token_key(ISSUER, None, "sybil-jti");
    store
        .revoke_token(ISSUER, None, "sybil-jti", far)
        .await
        .unwrap();
    store
        .revoke_token(ISSUER, None, "sybil-jti", now_secs() + 5)
        .await
        .unwrap();
    let ttl = raw_ttl(&raw, &token_key).await;
    assert!(ttl > 500, "the token's expiry was shortened: TTL {ttl}");

    // A value written by someone else: one without expiry keeps having none, a malformed
    // one is replaced by the new cut-off (with its expiry).
    let mut conn = raw.clone();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("3000000000")
        .query_async(&mut conn)
        .await
        .unwrap();
    store
        .revoke_subject(ISSUER, "sybil", 1_000_000_000, far)
        .await
        .unwrap();
    assert_eq!(raw_get(&raw, &key).await.as_deref(), Some("3000000000"));
    assert_eq!(raw_ttl(&raw, &key).await, -1);
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("not-a-time")
        .query_async(&mut conn)
        .await
        .unwrap();
    store
        .revoke_subject(ISSUER, "sybil", 1_000_000_000, far)
        .await
        .unwrap();
    assert_eq!(raw_get(&raw, &key).await.as_deref(), Some("1000000000"));
    assert!(raw_ttl(&raw, &key).await > 500);
    store.remove_subject(ISSUER, "sybil").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_cutoff_is_an_error_not_a_panic() {
    let redis = redis();
    let store = redis_store(&redis.url, "malformed").await;
    let token = Tokens::new().token("heidi");
    let mut raw = raw_connection(&redis.url).await;
    let key = store.subject_key(ISSUER, "heidi");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("not-a-time")
        .arg("EX")
        .arg(60)
        .query_async(&mut raw)
        .await
        .unwrap();
    let error = store.check(&token).await.unwrap_err();
    assert!(error.to_string().contains("malformed"), "{error}");
    // Through the cache too, and nothing is cached.
    let cached = CachingStore::new(store.clone());
    assert!(cached.check(&token).await.is_err());
    assert_eq!(cached.check_now(&token), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_shows_no_password() {
    let builder = RedisStore::builder("redis://admin:hunter2-secret@127.0.0.1:6379/3");
    let shown = format!("{builder:?}");
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    let redis = redis();
    let store = redis_store(&redis.url, "debug").await;
    let shown = format!("{:?}", CachingStore::new(store));
    assert!(shown.contains("RedisStore"), "{shown}");
    assert!(!shown.contains("redis://"), "{shown}");
}

/// Listeners hear `Connected`, then every change on the channel, the store's own included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_hear_every_change_including_their_own() {
    let redis = redis();
    let store = redis_store(&redis.url, "listeners").await;
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = heard.clone();
    assert!(store.subscribe(Arc::new(move |event| sink.lock().unwrap().push(event))));
    let until = now_secs() + 60;
    store.revoke_token(ISSUER, None, "j1", until).await.unwrap();
    store
        .revoke_subject(ISSUER, "rupert", now_secs(), until)
        .await
        .unwrap();
    store.remove_token(ISSUER, None, "j1").await.unwrap();
    store.remove_subject(ISSUER, "rupert").await.unwrap();
    let token = || Invalidation::Token {
        issuer: ISSUER.into(),
        id: "j1".into(),
    };
    let subject = || Invalidation::Subject {
        issuer: ISSUER.into(),
        subject: "rupert".into(),
    };
    let expected = [
        Invalidation::Connected,
        token(),
        subject(),
        token(),
        subject(),
    ];
    eventually(Duration::from_secs(2), "every change is heard", || {
        let done = heard.lock().unwrap().len() >= expected.len();
        async move { done }
    })
    .await;
    assert_eq!(*heard.lock().unwrap(), expected);
}

/// A listener goes away with the store value it was registered through (and the clones made
/// of it since): caches that come and go leave no listener behind, while the other
/// listeners keep hearing every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_go_away_with_their_store() {
    let redis = redis();
    let store = redis_store(&redis.url, "listener-lifetime").await;
    let heard = Arc::new(AtomicUsize::new(0));
    let sink = heard.clone();
    assert!(store.subscribe(Arc::new(move |event| {
        if matches!(event, Invalidation::Token { .. }) {
            sink.fetch_add(1, Ordering::SeqCst);
        }
    })));

    // Registered through a clone: alive as long as that clone, or a clone of it, is.
    let alive = Arc::new(());
    let handle = store.clone();
    let probe = alive.clone();
    assert!(handle.subscribe(Arc::new(move |_| {
        let _alive = &probe;
    })));
    let handle_clone = handle.clone();
    drop(handle);
    assert_eq!(Arc::strong_count(&alive), 2, "still held by the clone");
    drop(handle_clone);
    assert_eq!(
        Arc::strong_count(&alive),
        1,
        "the listener is dropped with its store"
    );

    // A hundred caches, each subscribed through its own clone of the store, dropped.
    let lookups = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let cache = CachingStore::new(CountingStore {
            store: store.clone(),
            lookups: lookups.clone(),
        });
        assert_eq!(Arc::strong_count(&lookups), 3, "the store and its listener");
        drop(cache);
    }
    assert_eq!(
        Arc::strong_count(&lookups),
        1,
        "every dropped cache's listener is gone"
    );
    let shown = format!("{store:?}");
    assert!(shown.contains("listeners: 1"), "{shown}");

    // The listener that is left still hears every change.
    store
        .revoke_token(ISSUER, None, "j-lifetime", now_secs() + 60)
        .await
        .unwrap();
    eventually(Duration::from_secs(2), "the change is heard", || {
        let count = heard.load(Ordering::SeqCst);
        async move { count == 1 }
    })
    .await;
}

/// A revocation made through one instance reaches another instance's cache by push.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_reaches_the_other_instance() {
    const ROUNDS: usize = 200;
    let redis = redis();
    let prefix = unique_prefix("propagation");
    let connect = || async {
        let store = RedisStore::builder(redis.url.as_str())
            .key_prefix(prefix.clone())
            .connect()
            .await
            .unwrap();
        CachingStore::new(store)
    };
    let (a, b) = (connect().await, connect().await);
    eventually(Duration::from_secs(5), "both instances subscribed", || {
        let up = a.is_pushing() && b.is_pushing();
        async move { up }
    })
    .await;

    let base = Tokens::new().token("ivan");
    propagation("propagation", &a, &b, ROUNDS, |round| {
        variant(&base, &round.to_string(), base.issued_at)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_latency_on_a_miss() {
    const ROUNDS: usize = 500;
    let redis = redis();
    let store = redis_store(&redis.url, "latency").await;
    let base = Tokens::new().token("judy");
    let tokens: Vec<TokenRef> = (0..ROUNDS)
        .map(|i| variant(&base, &i.to_string(), base.issued_at))
        .collect();
    let mut times = Vec::with_capacity(ROUNDS);
    for token in &tokens {
        let start = Instant::now();
        assert_eq!(store.check(token).await.unwrap(), Status::Active);
        times.push(start.elapsed());
    }
    times.sort();
    eprintln!(
        "RedisStore::check (MGET token + subject, one round trip), {ROUNDS} lookups: p50 {:?}, p99 {:?}",
        percentile(&times, 50),
        percentile(&times, 99)
    );
}

/// Wraps the real store and counts the lookups that reach it. Every listener registered
/// through it holds `lookups` too, so that a test can tell when the listener is dropped.
#[derive(Debug)]
struct CountingStore<S> {
    store: S,
    lookups: Arc<AtomicUsize>,
}

impl<S: RevocationStore> RevocationStore for CountingStore<S> {
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
        self.store.check_now(token)
    }

    fn subscribe(&self, listener: InvalidationListener) -> bool {
        let lookups = self.lookups.clone();
        self.store.subscribe(Arc::new(move |event| {
            let _alive = &lookups;
            listener(event);
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_share_one_lookup() {
    const CALLERS: usize = 50;
    let redis = redis();
    let lookups = Arc::new(AtomicUsize::new(0));
    let store = CachingStore::new(CountingStore {
        store: redis_store(&redis.url, "concurrent").await,
        lookups: lookups.clone(),
    });
    eventually(Duration::from_secs(5), "subscribed", || {
        let up = store.is_pushing();
        async move { up }
    })
    .await;
    let token = Tokens::new().token("mallory");
    let barrier = Arc::new(tokio::sync::Barrier::new(CALLERS));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (store, token, barrier) = (store.clone(), token.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.check(&token).await
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap(), Status::Active);
    }
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        1,
        "one backend lookup for {CALLERS} misses"
    );
}

// ---------------------------------------------------------------------------------------
// Outages
// ---------------------------------------------------------------------------------------

fn app(store: &CachingStore<RedisStore>, verifier: &Verifier, policy: StoreFailure) -> Router {
    Router::new().route("/", get(|| async { "ok" })).layer(
        AuthLayer::new(verifier.clone())
            .revocation(store.clone())
            .on_store_error(policy),
    )
}

async fn send(app: &Router, token: &str) -> StatusCode {
    let request = Request::get("/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

/// Case 40: Redis dies while requests flow, then comes back on the same port.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_outage_fails_closed_or_open_and_recovers_by_itself() {
    let mut server = RedisServer::start();
    let port = server.port;
    let store = CachingStore::new(redis_store(&server.url(), "outage").await);
    let tokens = Tokens::new();
    let closed = app(&store, &tokens.verifier, StoreFailure::FailClosed);
    let open = app(&store, &tokens.verifier, StoreFailure::FailOpen);
    eventually(Duration::from_secs(5), "subscribed", || {
        let up = store.is_pushing();
        async move { up }
    })
    .await;

    // Up: a good token passes, a revoked one does not.
    let (good, _) = tokens.issue("niaj");
    let (revoked, revoked_ref) = tokens.issue("niaj");
    revoke(&store, &revoked_ref).await;
    assert_eq!(send(&closed, &good).await, StatusCode::OK);
    assert_eq!(send(&closed, &revoked).await, StatusCode::UNAUTHORIZED);

    server.kill();
    eventually(
        Duration::from_secs(5),
        "the cache learns the push channel is down",
        || {
            let up = store.is_pushing();
            async move { !up }
        },
    )
    .await;
    assert_eq!(store.check_now(&tokens.token("niaj")), None);

    // Down: answers not cached fail fast, and the policy decides.
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let fresh = tokens.token("olivia");
        let start = Instant::now();
        assert!(store.check(&fresh).await.is_err(), "Redis is down");
        slowest = slowest.max(start.elapsed());
    }
    eprintln!("uncached check while Redis is down: slowest {slowest:?}");
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    let start = Instant::now();
    assert_eq!(
        send(&closed, &tokens.issue("olivia").0).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(send(&open, &tokens.issue("olivia").0).await, StatusCode::OK);
    assert!(start.elapsed() < Duration::from_secs(4));
    // "Revoked" is cached until the token expires: still refused, whatever the policy.
    assert_eq!(send(&open, &revoked).await, StatusCode::UNAUTHORIZED);

    // Back on the same port: the store reconnects and resubscribes by itself.
    let restarted = Instant::now();
    let _server = RedisServer::start_on(port).expect("redis-server restarts on its port");
    eventually(
        Duration::from_secs(10),
        "the store recovers by itself",
        || {
            let store = store.clone();
            let token = tokens.token("peggy");
            async move { store.is_pushing() && store.check(&token).await.is_ok() }
        },
    )
    .await;
    eprintln!("recovered {:?} after the restart", restarted.elapsed());
    assert_eq!(
        send(&closed, &tokens.issue("peggy").0).await,
        StatusCode::OK
    );

    // And pushes flow again: a revocation through another instance reaches this one.
    let other = RedisStore::builder(format!("redis://127.0.0.1:{port}/"))
        .key_prefix(store.inner().key_prefix())
        .connect()
        .await
        .unwrap();
    let token = tokens.token("peggy");
    assert_eq!(store.check(&token).await.unwrap(), Status::Active);
    revoke(&other, &token).await;
    eventually(Duration::from_secs(2), "the push after recovery", || {
        let cached = store.check_now(&token);
        async move { cached.is_none_or(Status::is_revoked) }
    })
    .await;
    assert_eq!(store.check(&token).await.unwrap(), Status::TokenRevoked);
}

/// A server that stops answering without closing the connection is noticed by the
/// heartbeat: the cache stops trusting "not revoked", lookups fail fast; all comes back
/// when the server does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_is_noticed_and_survived() {
    let server = RedisServer::start();
    let store = CachingStore::new(redis_store(&server.url(), "frozen").await);
    eventually(Duration::from_secs(5), "subscribed", || {
        let up = store.is_pushing();
        async move { up }
    })
    .await;
    let tokens = Tokens::new();
    let cached = tokens.token("quentin");
    assert_eq!(store.check(&cached).await.unwrap(), Status::Active);
    assert_eq!(store.check_now(&cached), Some(Status::Active));

    server.signal("-STOP");
    let frozen = Instant::now();
    eventually(Duration::from_secs(5), "the heartbeat notices", || {
        let up = store.is_pushing();
        async move { !up }
    })
    .await;
    eprintln!("frozen Redis noticed after {:?}", frozen.elapsed());
    assert_eq!(
        store.check_now(&cached),
        None,
        "\"not revoked\" is no longer trusted"
    );
    let start = Instant::now();
    assert!(store.check(&tokens.token("quentin")).await.is_err());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    server.signal("-CONT");
    eventually(
        Duration::from_secs(10),
        "the store recovers by itself",
        || {
            let store = store.clone();
            let token = tokens.token("quentin");
            async move { store.is_pushing() && store.check(&token).await.is_ok() }
        },
    )
    .await;
}

/// A loopback TCP proxy that can black-hole the connections it has: they stay open, but
/// whatever either side sends is silently dropped, like a network partition nobody tells
/// the endpoints about. Connections accepted afterwards are forwarded normally.
struct BlackHoleProxy {
    port: u16,
    /// Connections opened before the current epoch are black-holed.
    epoch: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    /// Connections the client (the store) closed.
    closed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHoleProxy {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let epoch = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let (epoch, accepted, closed) = (epoch.clone(), accepted.clone(), closed.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let born = epoch.load(Ordering::SeqCst);
                    let (epoch, upstream, closed) =
                        (epoch.clone(), upstream.clone(), closed.clone());
                    tokio::spawn(async move {
                        let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                            return;
                        };
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::join!(
                            async {
                                Self::pump(client_read, server_write, born, &epoch).await;
                                closed.fetch_add(1, Ordering::SeqCst);
                            },
                            Self::pump(server_read, client_write, born, &epoch),
                        );
                    });
                }
            }
        });
        Self {
            port,
            epoch,
            accepted,
            closed,
            task,
        }
    }

    async fn pump(
        from: tokio::net::tcp::OwnedReadHalf,
        to: tokio::net::tcp::OwnedWriteHalf,
        born: usize,
        epoch: &AtomicUsize,
    ) {
        // Readiness and `try_*` rather than `AsyncReadExt`: tokio's `net` feature suffices.
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            if from.readable().await.is_err() {
                return;
            }
            let n = match from.try_read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            };
            if epoch.load(Ordering::SeqCst) != born {
                // Black-holed: swallowed, and both ends stay open.
                continue;
            }
            let mut rest = &buffer[..n];
            while !rest.is_empty() {
                if to.writable().await.is_err() {
                    return;
                }
                match to.try_write(rest) {
                    Ok(written) => rest = &rest[written..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        }
    }

    /// From now on, nothing passes on the connections open so far.
    fn black_hole(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHoleProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A connection that dies silently (no FIN, no RST: every byte just vanishes), while new
/// connections work: the store notices, opens a new connection by itself and resubscribes
/// on it, within a bounded time; meanwhile an uncached fail-closed check fails fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silently_dead_connection_is_replaced() {
    use redis::{ConnectionAddr, IntoConnectionInfo as _};
    let redis = redis();
    let direct = redis.url.as_str().into_connection_info().unwrap();
    let ConnectionAddr::Tcp(host, port) = direct.addr().clone() else {
        panic!("this test needs Redis over TCP, not {}", direct.addr());
    };
    let proxy = BlackHoleProxy::start(format!("{host}:{port}")).await;
    let proxied = direct
        .clone()
        .set_addr(ConnectionAddr::Tcp("127.0.0.1".into(), proxy.port));
    let prefix = unique_prefix("black-hole");
    let store = CachingStore::new(
        RedisStore::builder(proxied)
            .key_prefix(prefix.clone())
            .connect()
            .await
            .unwrap(),
    );
    let tokens = Tokens::new();
    let closed = app(&store, &tokens.verifier, StoreFailure::FailClosed);
    eventually(Duration::from_secs(5), "subscribed", || {
        let up = store.is_pushing();
        async move { up }
    })
    .await;
    assert_eq!(send(&closed, &tokens.issue("rosa").0).await, StatusCode::OK);
    assert_eq!(proxy.accepted(), 1, "one connection per store");

    proxy.black_hole();
    let cut = Instant::now();
    // An uncached check during the outage: refused (fail closed), and fast.
    let start = Instant::now();
    assert_eq!(
        send(&closed, &tokens.issue("rosa").0).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let refused_after = start.elapsed();
    eprintln!("fail-closed check on the black-holed connection: refused after {refused_after:?}");
    assert!(
        refused_after < Duration::from_millis(1_500),
        "{refused_after:?}"
    );

    eventually(
        Duration::from_secs(10),
        "the store replaces the dead connection by itself",
        || {
            let store = store.clone();
            let token = tokens.token("rosa");
            async move {
                store.is_pushing()
                    && store.inner().is_subscribed()
                    && store.check(&token).await.is_ok()
            }
        },
    )
    .await;
    eprintln!(
        "recovered {:?} after the connection was black-holed",
        cut.elapsed()
    );
    assert!(proxy.accepted() >= 2, "a new connection was opened");
    eventually(
        Duration::from_secs(5),
        "the dead connection is closed, not leaked",
        || {
            let closed = proxy.closed();
            async move { closed >= 1 }
        },
    )
    .await;
    assert_eq!(send(&closed, &tokens.issue("rosa").0).await, StatusCode::OK);

    // Pushes flow on the new connection: a revocation through another instance (connected
    // directly) reaches this one.
    let other = RedisStore::builder(direct)
        .key_prefix(prefix)
        .connect()
        .await
        .unwrap();
    let token = tokens.token("rosa");
    assert_eq!(store.check(&token).await.unwrap(), Status::Active);
    assert_eq!(store.check_now(&token), Some(Status::Active));
    revoke(&other, &token).await;
    eventually(
        Duration::from_secs(2),
        "the push on the new connection",
        || {
            let cached = store.check_now(&token);
            async move { cached.is_none_or(Status::is_revoked) }
        },
    )
    .await;
    assert_eq!(store.check(&token).await.unwrap(), Status::TokenRevoked);

    // Again, without any request: the heartbeat alone notices, and the store recovers. The
    // subscription is down for only a few milliseconds, so a listener times its events.
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    assert!(store.inner().subscribe(Arc::new(move |event| {
        if matches!(event, Invalidation::Connected | Invalidation::Disconnected) {
            sink.lock().unwrap().push((Instant::now(), event));
        }
    })));
    let accepted = proxy.accepted();
    proxy.black_hole();
    let cut = Instant::now();
    eventually(
        Duration::from_secs(10),
        "the store replaces the dead connection by itself, without traffic",
        || {
            let events = events.lock().unwrap();
            let back = proxy.accepted() > accepted
                && store.is_pushing()
                && events.last().map(|(_, event)| event) == Some(&Invalidation::Connected)
                && events.len() >= 3;
            async move { back }
        },
    )
    .await;
    let events = events.lock().unwrap().clone();
    let [
        (_, Invalidation::Connected),
        (lost, Invalidation::Disconnected),
        (back, Invalidation::Connected),
    ] = events[..]
    else {
        panic!("{events:?}")
    };
    eprintln!(
        "without traffic: noticed after {:?}, resubscribed on a new connection after {:?}",
        lost - cut,
        back - cut
    );
    assert_eq!(
        store.check(&tokens.token("rosa")).await.unwrap(),
        Status::Active
    );
}

/// Dropping the store closes its connection: the background task holds no reference to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_closes_its_connection() {
    let server = RedisServer::start();
    let mut raw = raw_connection(&server.url()).await;
    let clients = |raw: &mut redis::aio::MultiplexedConnection| {
        let mut raw = raw.clone();
        async move {
            let list: String = redis::cmd("CLIENT")
                .arg("LIST")
                .query_async(&mut raw)
                .await
                .unwrap();
            list.lines().count()
        }
    };
    let before = clients(&mut raw).await;
    let store = CachingStore::new(redis_store(&server.url(), "drop").await);
    let clone = store.clone();
    assert_eq!(
        clients(&mut raw).await,
        before + 1,
        "one connection per store"
    );
    drop(store);
    drop(clone);
    eventually(Duration::from_secs(2), "the connection is closed", || {
        let count = clients(&mut raw);
        async move { count.await == before }
    })
    .await;
}
