//! The Redis store on Redis as it is deployed, each test against real servers it starts on
//! free loopback ports: TLS (a test CA made at run time), mutual TLS, an ACL user, a
//! 3-master / 3-replica Redis Cluster with a failover, a Sentinel-managed master with a
//! failover, and an upgrade from the 0.1 key layout. Every test uses its own key prefix.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::AUTHORIZATION;
use http::{Request, StatusCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tollgate::revocation::{Invalidation, RevocationStore, Status, StoreError, TokenRef};
use tollgate::{CachingStore, Verifier};
use tollgate_axum::{AuthLayer, StoreFailure};
use tollgate_redis::RedisStore;
use tower::ServiceExt as _;

mod redis_harness;
use redis_harness::cluster::RedisCluster;
use redis_harness::sentinel::RedisSentinel;
use redis_harness::tls::TlsRedis;
use redis_harness::*;

mod conformance;
use conformance::*;

/// The error and its causes, on one line: what a user reads in the logs.
fn chain(error: &StoreError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

// ---------------------------------------------------------------------------------------
// TLS and ACL users
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_over_tls() {
    let tls = TlsRedis::start();
    let connect = || {
        RedisStore::builder(tls.url())
            .ca_file(tls.ca_pem_path())
            .key_prefix(unique_prefix("tls"))
            .connect()
    };
    conformance(connect().await.unwrap()).await;
    conformance(CachingStore::new(connect().await.unwrap())).await;
    // The certificate names `localhost` too, and the CA can be given inline.
    let by_name = RedisStore::builder(tls.localhost_url())
        .ca_certificate_pem(tls.ca_pem().to_vec())
        .key_prefix(unique_prefix("tls-name"))
        .connect()
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "subscribed by name", || {
        let up = by_name.is_subscribed();
        async move { up }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_does_not_verify_is_a_clear_error_not_plain_text() {
    let other = TlsRedis::with_other_ca_cert();
    let error = RedisStore::builder(other.url())
        .ca_file(other.ca_pem_path())
        .connect()
        .await
        .unwrap_err();
    let text = chain(&error);
    assert!(text.contains("certificate"), "{text}");
    // Nor do the system's roots know the test CA.
    let error = RedisStore::connect(&other.url()).await.unwrap_err();
    assert!(chain(&error).contains("certificate"), "{}", chain(&error));
    // Plain text to the TLS port gets no Redis answer: never a fallback.
    let plain = other.url().replace("rediss://", "redis://");
    let error = RedisStore::builder(plain)
        .connection_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap_err();
    assert!(!chain(&error).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_name_is_verified_unless_the_opt_out_says_otherwise() {
    let misnamed = TlsRedis::with_misnamed_cert();
    let error = RedisStore::builder(misnamed.url())
        .ca_file(misnamed.ca_pem_path())
        .connect()
        .await
        .unwrap_err();
    let text = chain(&error);
    assert!(text.contains("certificate"), "{text}");
    let store = RedisStore::builder(misnamed.url())
        .ca_file(misnamed.ca_pem_path())
        .danger_accept_invalid_hostnames()
        .key_prefix(unique_prefix("misnamed"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let token = Tokens::new().token("nadia");
    revoke(&store, &token).await;
    assert_eq!(store.check(&token).await.unwrap(), Status::TokenRevoked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_the_client_certificate() {
    let tls = TlsRedis::requiring_client_cert();
    let store = RedisStore::builder(tls.url())
        .ca_file(tls.ca_pem_path())
        .client_certificate_files(tls.client_cert_path(), tls.client_key_path())
        .key_prefix(unique_prefix("mtls"))
        .connect()
        .await
        .unwrap();
    let token = Tokens::new().token("mallory");
    revoke(&store, &token).await;
    assert_eq!(store.check(&token).await.unwrap(), Status::TokenRevoked);
    let inline = RedisStore::builder(tls.url())
        .ca_certificate_pem(tls.ca_pem().to_vec())
        .client_certificate_pem(
            tls.client_cert_pem().to_vec(),
            tls.client_key_pem().to_vec(),
        )
        .key_prefix(unique_prefix("mtls-inline"))
        .connect()
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "subscribed with inline PEM", || {
        let up = inline.is_subscribed();
        async move { up }
    })
    .await;

    let without = RedisStore::builder(tls.url())
        .ca_file(tls.ca_pem_path())
        .connection_timeout(Duration::from_millis(500))
        .connect()
        .await;
    assert!(without.is_err(), "connected without a client certificate");
}

/// The ACL line the README documents: what the store needs, nothing more.
const STORE_ACL: &str = "resetkeys ~tollgate-test:* resetchannels &tollgate-test:* -@all \
     +get +set +del +mget +pttl +eval +time +publish +spublish +subscribe +ssubscribe +ping \
     +wait +role +hello +auth +command|info +cluster|slots +cluster|shards";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_with_only_the_documented_commands_passes_the_suite() {
    let server = RedisServer::with_acl_user("tollgate", "s3cret-acl-pw", STORE_ACL);
    let connect = |url: String| {
        RedisStore::builder(url)
            .key_prefix(unique_prefix("acl"))
            .connect()
    };
    conformance(connect(server.url()).await.unwrap()).await;
    conformance(CachingStore::new(connect(server.url()).await.unwrap())).await;
    // The user and password can come from the builder instead of the URL.
    let store = RedisStore::builder(server.anonymous_url())
        .username(server.user())
        .password(server.password())
        .key_prefix(unique_prefix("acl-builder"))
        .connect()
        .await
        .unwrap();
    assert!(!format!("{store:?}").contains(server.password()));

    // A wrong password: a clear error at start-up (the service does not come up to
    // accept tokens unchecked), never a panic, and the password is not in it.
    let error = RedisStore::builder(server.anonymous_url())
        .username(server.user())
        .password("not-the-password")
        .connect()
        .await
        .unwrap_err();
    let text = chain(&error);
    assert!(
        text.contains("WRONGPASS") || text.contains("invalid username-password"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");
}

// ---------------------------------------------------------------------------------------
// Upgrading from the 0.1 key layout
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_under_the_old_layout_still_hold_after_an_upgrade() {
    let redis = redis();
    let prefix = unique_prefix("legacy");
    let tokens = Tokens::new();
    let revoked = tokens.token("olga");
    let cut = tokens.token("piotr");
    // What tollgate-redis 0.1 wrote: `{prefix}t:{len}:{iss}{id}` and `{prefix}s:…`.
    let old_token = format!(
        "{prefix}t:{}:{}{}",
        revoked.issuer.len(),
        revoked.issuer,
        revoked.id
    );
    let old_subject = format!("{prefix}s:{}:{}piotr", cut.issuer.len(), cut.issuer);
    let mut raw = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let cutoff = cut.issued_at.unwrap() + 1;
    let _: () = redis::pipe()
        .cmd("SET")
        .arg(&old_token)
        .arg(1)
        .arg("EX")
        .arg(120)
        .ignore()
        .cmd("SET")
        .arg(&old_subject)
        .arg(cutoff)
        .arg("EX")
        .arg(120)
        .ignore()
        .query_async(&mut raw)
        .await
        .unwrap();

    let store = RedisStore::builder(redis.url.as_str())
        .key_prefix(prefix.clone())
        .connect()
        .await
        .unwrap();
    assert_eq!(store.check(&revoked).await.unwrap(), Status::TokenRevoked);
    assert_eq!(store.check(&cut).await.unwrap(), Status::SubjectRevoked);
    assert_eq!(
        store.check(&tokens.token("quinn")).await.unwrap(),
        Status::Active
    );

    // During the transition a new revocation goes under the old keys too, so that the
    // instances still running 0.1 (which read only those) refuse it as well.
    let fresh = tokens.token("rolf");
    revoke(&store, &fresh).await;
    let old_fresh = format!(
        "{prefix}t:{}:{}{}",
        fresh.issuer.len(),
        fresh.issuer,
        fresh.id
    );
    let stored: Option<String> = redis::cmd("GET")
        .arg(&old_fresh)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        stored.as_deref(),
        Some("1"),
        "a 0.1 instance would accept it"
    );

    // Turned off after the transition, the old keys are no longer read...
    let after = RedisStore::builder(redis.url.as_str())
        .key_prefix(prefix.clone())
        .read_legacy_keys(false)
        .connect()
        .await
        .unwrap();
    assert_eq!(after.check(&revoked).await.unwrap(), Status::Active);
    // ...and while it is on, a removal removes the old key too.
    store
        .remove_token(&revoked.issuer, revoked.subject.as_deref(), &revoked.id)
        .await
        .unwrap();
    store.remove_subject(&cut.issuer, "piotr").await.unwrap();
    assert_eq!(store.check(&revoked).await.unwrap(), Status::Active);
    assert_eq!(store.check(&cut).await.unwrap(), Status::Active);
    let left: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&old_token)
        .arg(&old_subject)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(left, [None, None]);
}

// ---------------------------------------------------------------------------------------
// Redis Cluster
// ---------------------------------------------------------------------------------------

async fn cluster_store(cluster: &RedisCluster, prefix: &str) -> RedisStore {
    RedisStore::cluster(cluster.urls())
        .key_prefix(prefix)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connecting to the cluster: {}", chain(&e)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_the_suite_passes_and_a_lookup_is_one_round_trip() {
    let cluster = RedisCluster::start();
    let store = cluster_store(&cluster, &unique_prefix("cluster")).await;
    assert!(store.uses_sharded_pubsub(), "Redis 7 has sharded pub/sub");
    conformance(store.clone()).await;
    conformance(CachingStore::new(
        cluster_store(&cluster, &unique_prefix("cluster-cached")).await,
    ))
    .await;

    // The token's key and its subject's key are in one slot: one MGET, on one node.
    let token = Tokens::new().token("rosa");
    let token_key = store.token_key(&token.issuer, token.subject.as_deref(), &token.id);
    let subject_key = store.subject_key(&token.issuer, "rosa");
    assert_eq!(
        cluster.server_key_slot(&token_key),
        cluster.server_key_slot(&subject_key)
    );
    cluster.reset_stats();
    assert_eq!(store.check(&token).await.unwrap(), Status::Active);
    let mgets: Vec<(u16, u64)> = cluster
        .ports()
        .iter()
        .map(|&port| {
            (
                port,
                cluster
                    .command_stats(port)
                    .get("mget")
                    .copied()
                    .unwrap_or(0),
            )
        })
        .filter(|(_, calls)| *calls > 0)
        .collect();
    eprintln!("one lookup on the cluster: MGET calls per node {mgets:?}");
    assert_eq!(mgets.len(), 1, "{mgets:?}");
    assert_eq!(mgets[0].1, 1, "{mgets:?}");
    assert_eq!(mgets[0].0, cluster.master_of_key(&token_key));
}

/// ElastiCache Serverless and cluster mode with in-transit encryption: TLS and a cluster
/// at once (the topology's TLS ports come from `CLUSTER SLOTS` over TLS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_over_tls_the_suite_passes() {
    let cluster = RedisCluster::start_tls();
    let connect = |prefix: &str| {
        RedisStore::cluster(cluster.tls_urls())
            .ca_file(cluster.pki().ca_pem_path())
            .key_prefix(unique_prefix(prefix))
            .connect()
    };
    let store = connect("cluster-tls")
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert!(store.uses_sharded_pubsub());
    conformance(store).await;
    conformance(CachingStore::new(
        connect("cluster-tls-cached").await.unwrap(),
    ))
    .await;
    // Without the CA, no node is trusted.
    let error = RedisStore::cluster(cluster.tls_urls())
        .connection_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap_err();
    assert!(chain(&error).contains("certificate"), "{}", chain(&error));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_cluster_a_revocation_reaches_the_other_instance() {
    const ROUNDS: usize = 200;
    let cluster = RedisCluster::start();
    let prefix = unique_prefix("cluster-push");
    let a = CachingStore::new(cluster_store(&cluster, &prefix).await);
    let b = CachingStore::new(cluster_store(&cluster, &prefix).await);
    eventually(Duration::from_secs(5), "both instances subscribed", || {
        let up = a.is_pushing() && b.is_pushing();
        async move { up }
    })
    .await;
    let base = Tokens::new().token("sven");
    propagation("cluster propagation", &a, &b, ROUNDS, |round| {
        // Other subjects too, so that the keys spread over the masters.
        let mut token = variant(&base, &round.to_string(), base.issued_at);
        token.subject = Some(format!("sven-{}", round % 17));
        token
    })
    .await;
}

/// Moves `slot`, with its keys, from its master to `target` (another master), the way
/// `redis-cli --cluster reshard` does: IMPORTING / MIGRATING, `MIGRATE` of the keys, then
/// `SETSLOT … NODE` on every master.
fn move_slot(cluster: &RedisCluster, slot: u16, target: u16) {
    let source = cluster.master_of_slot(slot);
    assert_ne!(source, target);
    let slot = slot.to_string();
    let (source_id, target_id) = (
        cluster.node_id(source).to_owned(),
        cluster.node_id(target).to_owned(),
    );
    cli(
        target,
        &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &source_id],
    )
    .unwrap();
    cli(
        source,
        &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id],
    )
    .unwrap();
    let keys = cli(source, &["CLUSTER", "GETKEYSINSLOT", &slot, "1000"]).unwrap();
    let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
    if !keys.is_empty() {
        let port = target.to_string();
        let mut migrate = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
        migrate.extend(keys.iter().copied());
        cli(source, &migrate).unwrap();
    }
    for master in cluster.masters() {
        cli(master, &["CLUSTER", "SETSLOT", &slot, "NODE", &target_id]).unwrap();
    }
}

/// A resharding moves a revoked token's slot and the invalidation channel's slot to
/// another master: lookups follow (`MOVED`), the revocation moved with its keys, and the
/// sharded subscription follows the channel, so push still reaches the other instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resharding_moves_the_keys_and_the_channel_under_a_running_store() {
    let cluster = RedisCluster::start();
    let prefix = unique_prefix("cluster-reshard");
    let store = cluster_store(&cluster, &prefix).await;
    let other = CachingStore::new(cluster_store(&cluster, &prefix).await);
    eventually(Duration::from_secs(5), "both subscribed", || {
        let up = store.is_subscribed() && other.is_pushing();
        async move { up }
    })
    .await;
    let tokens = Tokens::new();
    let revoked = tokens.token("wanda");
    revoke(&store, &revoked).await;
    let key = store.token_key(&revoked.issuer, revoked.subject.as_deref(), &revoked.id);
    let key_slot = cluster.server_key_slot(&key);
    let channel_slot = cluster.server_key_slot(store.channel());
    for slot in [key_slot, channel_slot] {
        let owner = cluster.master_of_slot(slot);
        let target = cluster.masters().into_iter().find(|&m| m != owner).unwrap();
        move_slot(&cluster, slot, target);
    }
    assert_eq!(store.check(&revoked).await.unwrap(), Status::TokenRevoked);
    assert_eq!(other.check(&revoked).await.unwrap(), Status::TokenRevoked);

    // Push follows the channel to its new master: a revocation made now reaches the other
    // instance's cache, which had "not revoked" cached (with push up, for far longer than
    // this test), and a listener hears it.
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = heard.clone();
    let listening = cluster_store(&cluster, &prefix).await;
    assert!(listening.subscribe(Arc::new(move |event| sink.lock().unwrap().push(event))));
    eventually(Duration::from_secs(5), "every instance subscribed", || {
        let up = other.is_pushing() && listening.is_subscribed();
        async move { up }
    })
    .await;
    let late = tokens.token("wanda-late");
    assert_eq!(other.check(&late).await.unwrap(), Status::Active);
    assert_eq!(other.check_now(&late), Some(Status::Active));
    revoke(&store, &late).await;
    eventually(
        Duration::from_secs(5),
        "the other instance's cache drops its answer",
        || {
            let stale = other.check_now(&late) == Some(Status::Active);
            async move { !stale }
        },
    )
    .await;
    assert_eq!(other.check(&late).await.unwrap(), Status::TokenRevoked);
    eventually(
        Duration::from_secs(5),
        "the listener hears the revocation",
        || {
            let heard = heard
                .lock()
                .unwrap()
                .iter()
                .any(|event| matches!(event, Invalidation::Token { id, .. } if *id == late.id));
            async move { heard }
        },
    )
    .await;
}

/// The layer in front of `store` (no cache: every request asks Redis), failing closed.
fn app(store: &RedisStore, verifier: &Verifier) -> Router {
    Router::new().route("/", get(|| async { "ok" })).layer(
        AuthLayer::new(verifier.clone())
            .revocation(store.clone())
            .on_store_error(StoreFailure::FailClosed),
    )
}

async fn send(app: &Router, token: &str) -> StatusCode {
    let request = Request::get("/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

/// Kills the master of a revoked token's slot while requests flow through the layer:
/// every request with the revoked token gets 401 or 503 (fail closed), never 200; the
/// store recovers by itself once the replica is promoted; nothing revoked before the kill
/// is lost; writes work again once the shard has a replica, and reach the other instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_failover_never_accepts_a_revoked_token_and_loses_no_revocation() {
    let mut cluster = RedisCluster::start();
    let prefix = unique_prefix("cluster-failover");
    let store = cluster_store(&cluster, &prefix).await;
    let other = CachingStore::new(cluster_store(&cluster, &prefix).await);
    let tokens = Tokens::new();
    let (victim_jwt, victim) = tokens.issue("ulla-0");
    let mut revoked: Vec<TokenRef> = (1..30)
        .map(|i| tokens.token(&format!("ulla-{i}")))
        .collect();
    revoked.push(victim.clone());
    for token in &revoked {
        // Acknowledged by a replica (WAIT 1, the cluster default) before it returns.
        revoke(&store, token).await;
    }
    let key = store.token_key(&victim.issuer, victim.subject.as_deref(), &victim.id);
    let master = cluster.master_of_key(&key);
    let app = app(&store, &tokens.verifier);
    assert_eq!(send(&app, &victim_jwt).await, StatusCode::UNAUTHORIZED);

    let running = Arc::new(AtomicBool::new(true));
    let (unavailable, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let requests = {
        let (app, running) = (app.clone(), running.clone());
        let (unavailable, refused) = (unavailable.clone(), refused.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                match send(&app, &victim_jwt).await {
                    StatusCode::UNAUTHORIZED => refused.fetch_add(1, Ordering::Relaxed),
                    StatusCode::SERVICE_UNAVAILABLE => unavailable.fetch_add(1, Ordering::Relaxed),
                    other => panic!("a revoked token got {other} during the failover"),
                };
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    eventually(Duration::from_secs(2), "requests flow", || {
        let n = refused.load(Ordering::Relaxed);
        async move { n > 10 }
    })
    .await;
    let killed_at = Instant::now();
    cluster.kill(master);
    let (mut cluster, promoted) = tokio::task::spawn_blocking(move || {
        let promoted = cluster.wait_for_failover(master, Duration::from_secs(30));
        (cluster, promoted)
    })
    .await
    .unwrap();
    let promoted = promoted.unwrap();
    // Recovered by itself: the victim's slot answers from the promoted replica.
    eventually(Duration::from_secs(15), "lookups answer again", || {
        let store = store.clone();
        let victim = victim.clone();
        async move { store.check(&victim).await.is_ok() }
    })
    .await;
    let recovered = killed_at.elapsed();
    running.store(false, Ordering::Relaxed);
    requests
        .await
        .expect("no request with the revoked token got 200");
    eprintln!(
        "cluster failover: master {master} killed, replica {promoted} promoted, lookups answer again after {recovered:?}; meanwhile {} requests got 401, {} got 503, none 200",
        refused.load(Ordering::Relaxed),
        unavailable.load(Ordering::Relaxed)
    );
    for token in &revoked {
        assert_eq!(
            store.check(token).await.unwrap(),
            Status::TokenRevoked,
            "a revocation written before the kill was lost: {token:?}"
        );
    }
    // Writes work again once the killed master is back (as the new master's replica: WAIT
    // needs one), and reach the other instance through push.
    cluster.restart(master).unwrap();
    let late = tokens.token("ulla-late");
    assert_eq!(other.check(&late).await.unwrap(), Status::Active);
    eventually(
        Duration::from_secs(15),
        "a write succeeds after the failover",
        || {
            let store = store.clone();
            let late = late.clone();
            async move {
                store
                    .revoke_token(&late.issuer, late.subject.as_deref(), &late.id, late.until)
                    .await
                    .is_ok()
            }
        },
    )
    .await;
    eventually(
        Duration::from_secs(5),
        "the other instance refuses it",
        || {
            let status = other.check_now(&late);
            let other = other.clone();
            let late = late.clone();
            async move {
                match status {
                    Some(status) => status.is_revoked(),
                    None => other.check(&late).await.is_ok_and(Status::is_revoked),
                }
            }
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Sentinel
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sentinel_the_store_follows_the_new_master() {
    let mut sentinel = RedisSentinel::start();
    let store = RedisStore::sentinel(sentinel.sentinel_urls(), sentinel.master_name())
        .key_prefix(unique_prefix("sentinel"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connecting through the Sentinels: {}", chain(&e)));
    let tokens = Tokens::new();
    let before: Vec<TokenRef> = (0..10)
        .map(|i| tokens.token(&format!("vera-{i}")))
        .collect();
    for token in &before {
        revoke(&store, token).await;
    }
    let old = sentinel.kill_master();
    let killed_at = Instant::now();
    let (sentinel, new) = tokio::task::spawn_blocking(move || {
        let new = sentinel.wait_for_new_master(old, Duration::from_secs(30));
        (sentinel, new)
    })
    .await
    .unwrap();
    let new = new.unwrap();
    assert_ne!(new, old);
    // Reads follow the new master by themselves, and nothing revoked before is lost.
    eventually(
        Duration::from_secs(15),
        "lookups reach the new master",
        || {
            let store = store.clone();
            let token = before[0].clone();
            async move { store.check(&token).await.is_ok() }
        },
    )
    .await;
    eprintln!(
        "sentinel failover: master {old} killed, {new} promoted, the store answers again after {:?}",
        killed_at.elapsed()
    );
    for token in &before {
        assert_eq!(
            store.check(token).await.unwrap(),
            Status::TokenRevoked,
            "{token:?}"
        );
    }
    // The new master has no replica left (its only one was promoted): a write is made on
    // it, but reported as not replicated, never as safe.
    let late = tokens.token("vera-late");
    let error = store
        .revoke_token(&late.issuer, late.subject.as_deref(), &late.id, late.until)
        .await
        .unwrap_err();
    assert!(
        chain(&error).contains("replicas required"),
        "{}",
        chain(&error)
    );
    assert_eq!(store.check(&late).await.unwrap(), Status::TokenRevoked);
    // A store told not to wait writes there without error.
    let unreplicated = RedisStore::sentinel(sentinel.sentinel_urls(), sentinel.master_name())
        .key_prefix(store.key_prefix())
        .wait_for_replicas(0)
        .connect()
        .await
        .unwrap();
    let later = tokens.token("vera-later");
    revoke(&unreplicated, &later).await;
    assert_eq!(store.check(&later).await.unwrap(), Status::TokenRevoked);
    eventually(
        Duration::from_secs(5),
        "resubscribed on the new master",
        || {
            let up = store.is_subscribed();
            async move { up }
        },
    )
    .await;
    drop(sentinel);
}
