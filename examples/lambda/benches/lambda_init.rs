//! What a Lambda cold start spends in tollgate: keys, verifier, layer and router.
//!
//! ```text
//! cargo bench -p tollgate-lambda-router --bench lambda_init
//! ```
//!
//! - `lambda_init/keys_from_jwks`: parsing an identity provider's JWK Set as Cognito
//!   publishes it (two RSA-2048 keys), what `TOLLGATE_JWKS` or a fetched JWKS costs once it
//!   is in memory (the fetch itself is network, excluded);
//! - `lambda_init/router`: `tollgate_lambda_router::app` — verifier, `AuthLayer` (with an in-memory
//!   revocation store), guards and routes — from loaded keys;
//! - `lambda_init/router_trusting_api_gateway`: the same with
//!   `dangerous::trust_api_gateway`;
//! - `lambda_init/caching_store`: the `CachingStore` put in front of Redis (`REDIS_URL`), with
//!   an in-memory store behind it instead of the connection;
//! - `lambda_init/all`: keys, caching store and router together: the whole init but the
//!   network.
//!
//! These run warm, in a loop; what a fresh process pays once (page faults, lazy statics,
//! the crypto provider) is measured by running the binary, see BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use tollgate::{CachingStore, KeySet, MemoryStore};
use tollgate_lambda_router::{LambdaConfig, app};

const JWKS: &str = include_str!("fixtures/cognito-jwks.json");

fn config(keys: KeySet, trust_api_gateway: bool) -> LambdaConfig {
    LambdaConfig {
        issuer: "https://cognito-idp.us-east-2.amazonaws.com/us-east-2_EXAMPLE".into(),
        audience: "6ar1jbbtmplxn4tmf0c6k1b1ok".into(),
        roles_claim: "cognito:groups".into(),
        keys,
        trust_api_gateway,
        ..LambdaConfig::default()
    }
}

fn lambda_init(c: &mut Criterion) {
    let mut group = c.benchmark_group("lambda_init");
    group.bench_function("keys_from_jwks", |b| {
        b.iter(|| KeySet::from_jwks(black_box(JWKS)).unwrap())
    });
    let keys = KeySet::from_jwks(JWKS).unwrap();
    assert_eq!(keys.len(), 2);
    for (name, trust) in [("router", false), ("router_trusting_api_gateway", true)] {
        let config = config(keys.clone(), trust);
        group.bench_function(name, |b| {
            b.iter(|| app(black_box(&config), Arc::new(MemoryStore::new())).unwrap())
        });
    }
    group.bench_function("caching_store", |b| {
        b.iter(|| CachingStore::new(MemoryStore::new()))
    });
    group.bench_function("all", |b| {
        b.iter(|| {
            let keys = KeySet::from_jwks(black_box(JWKS)).unwrap();
            let store = Arc::new(CachingStore::new(MemoryStore::new()));
            app(&config(keys, true), store).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, lambda_init);
criterion_main!(benches);
