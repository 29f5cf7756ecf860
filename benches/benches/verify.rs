//! What verification costs per algorithm, side by side with the floor.
//!
//! ```text
//! cargo bench -p tollgate-benches --bench verify -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! One group per algorithm (`HS256`, `RS256`, `ES256`, `EdDSA`), on the same realistic
//! access token (`sub`, `iss`, `aud`, `exp`, `iat`, `nbf`, `jti`, `roles`, `scope`):
//!
//! - `floor`: `jsonwebtoken::decode::<serde_json::Value>` with the same key and an
//!   equivalent `Validation` (iss, aud, exp, nbf, leeway 60);
//! - `floor_typed`: the same `decode` into the handler's `Access { sub, roles }`;
//! - `verifier`: `tollgate::Verifier::verify` alone (claims as a `serde_json::Value`);
//! - `verifier_check`: `tollgate::Verifier::check` alone (claims left as verified JSON
//!   text: what the layer uses);
//! - `verifier_cached`: `check` with the verified-token cache, the same token every time;
//! - `request_no_auth`: `GET /me` (with the bearer header) through a `Router` without the
//!   layer, whose handler answers "ok";
//! - `request`: the same through `AuthLayer` with a `Claims<T>` handler;
//! - `request_revocation`: the same with revocation (`MemoryStore`);
//! - `request_revocation_role`: and a `RequireRole::any(["user"])` guard on the route;
//! - `request_token_cache`: `request` with the verified-token cache (every request a hit).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tower::ServiceExt;

fn verify(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for case in common::cases() {
        println!("{}: token of {} bytes", case.name, case.token.len());
        let no_auth = common::router_no_auth();
        let routers = [
            ("request", case.router()),
            ("request_revocation", case.router_revocation()),
            ("request_revocation_role", case.router_revocation_role()),
            ("request_token_cache", case.router_token_cache()),
        ];
        for (_, router) in &routers {
            let response = rt.block_on(router.clone().oneshot(case.request())).unwrap();
            assert_eq!(response.status(), 200);
        }

        let mut group = c.benchmark_group(case.name);
        group.bench_function("floor", |b| b.iter(|| case.floor().unwrap()));
        group.bench_function("floor_typed", |b| b.iter(|| case.floor_typed().unwrap()));
        group.bench_function("verifier", |b| {
            b.iter(|| case.verifier.verify(black_box(&case.token)).unwrap())
        });
        group.bench_function("verifier_check", |b| {
            b.iter(|| case.verifier.check(black_box(&case.token)).unwrap())
        });
        group.bench_function("verifier_cached", |b| {
            b.iter(|| case.cached_verifier.check(black_box(&case.token)).unwrap())
        });
        group.bench_function("request_no_auth", |b| {
            b.to_async(&rt)
                .iter(|| no_auth.clone().oneshot(case.request()))
        });
        for (name, router) in &routers {
            group.bench_function(*name, |b| {
                b.to_async(&rt)
                    .iter(|| router.clone().oneshot(case.request()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);
