//! The DynamoDB store against dynalite on loopback: an uncached lookup next to the
//! cheapest calls on the same client, and what building a client costs.
//!
//! ```text
//! npm ci --prefix tests/dynamodb
//! cargo bench -p tollgate-dynamodb --bench dynamodb
//! ```
//!
//! dynalite is not DynamoDB: it runs in Node.js on this machine. Against AWS the network
//! round trip (single-digit milliseconds within a region) dominates every number here.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use tollgate::revocation::{RevocationStore as _, TokenRef};
use tollgate::{Algorithm, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_dynamodb::DynamoDbStore;
use tollgate_dynamodb::aws_sdk_dynamodb::types::AttributeValue;

#[path = "../tests/dynalite/mod.rs"]
mod dynalite;

fn token() -> TokenRef {
    let key =
        SigningKey::hmac("k1", b"dynamodb-bench-hs256-secret-32b!", Algorithm::HS256).unwrap();
    let signer = Signer::builder(key)
        .issuer("https://bench.example")
        .audience("bench")
        .build()
        .unwrap();
    let verifier = Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .issuer("https://bench.example")
        .audience("bench")
        .build()
        .unwrap();
    let issued = signer.issue(&TokenRequest::new("alice")).unwrap();
    TokenRef::new(&verifier.verify(&issued.token).unwrap())
}

fn dynamodb(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = dynalite::Dynalite::start();
    let endpoint = server.endpoint();
    let store = runtime.block_on(dynalite::fresh_store(&endpoint, "bench"));
    let eventual = runtime.block_on(
        DynamoDbStore::builder(store.table())
            .client(store.client().clone())
            .consistent_read(false)
            .build(),
    );
    let token = token();

    let mut group = c.benchmark_group("dynamodb");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("check_uncached_consistent", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(store.check(&token).await.unwrap()) });
    });
    group.bench_function("check_uncached_eventual", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(eventual.check(&token).await.unwrap()) });
    });
    group.bench_function("get_item_missing_key", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                store
                    .client()
                    .get_item()
                    .table_name(store.table())
                    .key("pk", AttributeValue::S("missing".into()))
                    .send()
                    .await
                    .unwrap(),
            )
        });
    });
    group.bench_function("describe_table", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                store
                    .client()
                    .describe_table()
                    .table_name(store.table())
                    .send()
                    .await
                    .unwrap(),
            )
        });
    });
    group.bench_function("ping", |b| {
        b.to_async(&runtime)
            .iter(|| async { store.ping().await.unwrap() });
    });
    // Init: an SDK config and client (what `from_env` does, minus reading the
    // environment's files), then the store on a given client.
    group.bench_function("init_sdk_config_and_store", |b| {
        b.to_async(&runtime).iter(|| async {
            let config = tollgate_dynamodb::aws_config::defaults(
                tollgate_dynamodb::aws_config::BehaviorVersion::latest(),
            )
            .region(tollgate_dynamodb::aws_config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(
                tollgate_dynamodb::aws_sdk_dynamodb::config::Credentials::new(
                    "AKID", "secret", None, None, "bench",
                ),
            )
            .load()
            .await;
            let client = tollgate_dynamodb::aws_sdk_dynamodb::Client::new(&config);
            black_box(DynamoDbStore::builder("t").client(client).build().await)
        });
    });
    group.bench_function("init_store_on_a_client", |b| {
        let client = dynalite::client(&endpoint);
        b.to_async(&runtime).iter(|| async {
            black_box(
                DynamoDbStore::builder("t")
                    .client(client.clone())
                    .build()
                    .await,
            )
        });
    });
    group.finish();
}

criterion_group!(benches, dynamodb);
criterion_main!(benches);
