//! The authorizer's cost per invocation, warm, in process, RS256 with the keys loaded:
//! the same token and JWK Set as `benches/peers/aws-jwt-verify/bench.mjs` (fixtures/).
//!
//! ```text
//! cargo bench -p tollgate-lambda --bench authorizer
//! ```
//!
//! - `authorizer/verify_rs256`: `Verifier::check` alone, the floor.
//! - `authorizer/rest_token_rs256`: `Authorizer::handle` on a REST TOKEN event (parse the
//!   event, find the token, verify, build the policy and the context, write the answer).
//! - `authorizer/http_v2_rs256`: the same on an HTTP API payload 2.0 event (headers,
//!   cookies, query).
//! - `authorizer/rest_token_rs256_bytes`: as the Lambda runtime runs it, from the payload's
//!   bytes to the answer's bytes.
//! - `authorizer/rest_token_rs256_routes_revocation`: with three route rules and an
//!   in-memory revocation store.
//! - `authorizer/rest_token_rs256_token_cache`: the same token again, with the verifier's
//!   verified-token cache on: what a warm authorizer pays when API Gateway's result cache is
//!   off (TTL 0, so that revocations apply at once) and a client sends its token again.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use tollgate::verifier::{DEFAULT_TOKEN_CACHE_ENTRIES, DEFAULT_TOKEN_CACHE_TTL};
use tollgate::{KeySet, MemoryStore, Verifier};
use tollgate_lambda::{Authorizer, Routes};

const TOKEN: &str = include_str!("fixtures/rs256-token.txt");
const JWKS: &str = include_str!("fixtures/rs256-jwks.json");

/// Runs a future that needs no I/O (an in-memory store, no key refetch) to completion.
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the authorizer waited on I/O"),
    }
}

fn bench(c: &mut Criterion) {
    let token = TOKEN.trim();
    let verifier = Verifier::builder()
        .keys(KeySet::from_jwks(JWKS).unwrap())
        .issuer("https://idp.example")
        .audience("orders-api")
        .build()
        .unwrap();
    let plain = Authorizer::builder(verifier.clone()).build().unwrap();
    let cached = Authorizer::builder(
        Verifier::builder()
            .keys(KeySet::from_jwks(JWKS).unwrap())
            .issuer("https://idp.example")
            .audience("orders-api")
            .token_cache(DEFAULT_TOKEN_CACHE_ENTRIES, DEFAULT_TOKEN_CACHE_TTL)
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    let full = Authorizer::builder(verifier.clone())
        .routes(
            "GET /admin=role:admin; POST /admin/*=role:admin; ANY /orders/*=scope:orders.read"
                .parse::<Routes>()
                .unwrap(),
        )
        .revocation(MemoryStore::new())
        .build()
        .unwrap();
    let rest = json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {token}"),
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/me",
    });
    let v2_text = include_str!("../events/http-api-v2-request.json").replace("${TOKEN}", token);
    let v2: Value = serde_json::from_str(&v2_text).unwrap();
    let rest_bytes = serde_json::to_vec(&rest).unwrap();
    // Every measure must be an Allow of this very token.
    for event in [&rest, &v2] {
        let answer = ready(plain.handle(event.clone())).unwrap();
        assert_eq!(answer["principalId"], "alice");
        assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
    }
    for authorizer in [&full, &cached] {
        assert_eq!(
            ready(authorizer.handle(rest.clone())).unwrap()["principalId"],
            "alice"
        );
    }

    let mut group = c.benchmark_group("authorizer");
    group.bench_function("verify_rs256", |b| {
        b.iter(|| verifier.check(black_box(token)).unwrap())
    });
    group.bench_function("rest_token_rs256", |b| {
        b.iter(|| ready(plain.handle(black_box(rest.clone()))).unwrap())
    });
    group.bench_function("http_v2_rs256", |b| {
        b.iter(|| ready(plain.handle(black_box(v2.clone()))).unwrap())
    });
    group.bench_function("rest_token_rs256_bytes", |b| {
        b.iter(|| {
            let event: Value = serde_json::from_slice(black_box(&rest_bytes)).unwrap();
            let answer = ready(plain.handle(event)).unwrap();
            serde_json::to_vec(&answer).unwrap()
        })
    });
    group.bench_function("rest_token_rs256_routes_revocation", |b| {
        b.iter(|| ready(full.handle(black_box(rest.clone()))).unwrap())
    });
    group.bench_function("rest_token_rs256_token_cache", |b| {
        b.iter(|| ready(cached.handle(black_box(rest.clone()))).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
