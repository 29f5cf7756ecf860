//! What a revocation check costs when the answer is not cached: one `MGET` round trip to
//! Redis on loopback, next to a bare `PING` round trip (the floor) in the same run.
//!
//! ```text
//! redis-server --port 6379 --save "" --appendonly no &   # if none is running
//! REDIS_URL=redis://127.0.0.1:6379/ cargo bench -p tollgate-benches --bench redis
//! ```
//!
//! Keys use a prefix unique to the run; nothing is flushed.

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::revocation::{RevocationStore, Status};
use tollgate_redis::RedisStore;

#[path = "common/token_ref.rs"]
mod token_ref;
use token_ref::token_ref;

fn redis_miss(c: &mut Criterion) {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = format!("tollgate-bench-{}:", std::process::id());
    let Ok(store) = rt.block_on(
        RedisStore::builder(url.as_str())
            .key_prefix(prefix)
            .connect(),
    ) else {
        eprintln!("no Redis at {url}: set REDIS_URL or start redis-server; skipping");
        return;
    };
    let client = redis::Client::open(url.as_str()).unwrap();
    let ping = rt
        .block_on(client.get_multiplexed_async_connection())
        .unwrap();

    let view = token_ref();

    let mut group = c.benchmark_group("redis_round_trip");
    group.bench_function("ping", |b| {
        b.to_async(&rt).iter(|| {
            let mut ping = ping.clone();
            async move {
                let _: String = redis::cmd("PING").query_async(&mut ping).await.unwrap();
            }
        })
    });
    group.bench_function("revocation_check_miss", |b| {
        b.to_async(&rt)
            .iter(|| async { assert_eq!(store.check(&view).await.unwrap(), Status::Active) })
    });
    group.finish();
}

criterion_group!(benches, redis_miss);
criterion_main!(benches);
