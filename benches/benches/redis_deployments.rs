//! A revocation check that misses the cache, over TLS and on a Redis Cluster, each next to
//! the floor on the same kind of connection in one run: the store's own `PING` over TLS;
//! on the cluster, a one-key `GET` routed by the same cluster client to the node of the
//! token's slot (a cluster `PING` goes to every node, which is no floor).
//!
//! ```text
//! cargo bench -p tollgate-benches --bench redis_deployments
//! ```
//!
//! Starts its own servers on loopback (`redis-server` and `redis-cli` from `PATH`, the
//! tests' harness): one with `--tls-port` and a CA made at run time, and a 3-master /
//! 3-replica cluster.

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::revocation::{RevocationStore, Status};
use tollgate_redis::RedisStore;

#[path = "common/token_ref.rs"]
mod token_ref;
use token_ref::token_ref;

#[allow(unreachable_pub)]
#[path = "../../tests/tests/redis_harness/mod.rs"]
mod redis_harness;
use redis_harness::cluster::RedisCluster;
use redis_harness::tls::TlsRedis;

fn deployments(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let view = token_ref();
    let prefix = format!("tollgate-bench-{}:", std::process::id());

    let tls = TlsRedis::start();
    let store = rt
        .block_on(
            RedisStore::builder(tls.url())
                .ca_file(tls.ca_pem_path())
                .key_prefix(prefix.clone())
                .connect(),
        )
        .unwrap();
    let mut group = c.benchmark_group("redis_tls");
    group.bench_function("ping", |b| {
        b.to_async(&rt)
            .iter(|| async { store.ping().await.unwrap() })
    });
    group.bench_function("revocation_check_miss", |b| {
        b.to_async(&rt)
            .iter(|| async { assert_eq!(store.check(&view).await.unwrap(), Status::Active) })
    });
    group.finish();

    let cluster = RedisCluster::start();
    let store = rt
        .block_on(
            RedisStore::cluster(cluster.urls())
                .key_prefix(prefix)
                .connect(),
        )
        .unwrap();
    let key = store.token_key(&view.issuer, view.subject.as_deref(), &view.id);
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let routed = rt.block_on(client.get_async_connection()).unwrap();
    let mut group = c.benchmark_group("redis_cluster");
    group.bench_function("get_one_key", |b| {
        b.to_async(&rt).iter(|| {
            let mut routed = routed.clone();
            let key = key.clone();
            async move {
                let _: Option<String> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut routed)
                    .await
                    .unwrap();
            }
        })
    });
    group.bench_function("revocation_check_miss", |b| {
        b.to_async(&rt)
            .iter(|| async { assert_eq!(store.check(&view).await.unwrap(), Status::Active) })
    });
    group.finish();
}

criterion_group!(benches, deployments);
criterion_main!(benches);
