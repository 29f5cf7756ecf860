//! What a revocation check adds to a request.
//!
//! ```text
//! cargo bench -p tollgate-benches --bench revocation
//! ```
//!
//! - `cached_check/*`: the per-request work when the answer is cached — building the
//!   token's revocation view and one cache lookup covering both the `jti` and the subject
//!   cut-off — with 10 000 tokens in the cache.
//! - `request/*`: one request through an axum `Router` behind the `AuthLayer`, without and
//!   with revocation (in-memory store), side by side: the ratio is the overhead.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::Request;
use std::hint::black_box;
use tollgate::revocation::{BoxFuture, RevocationStore, Status, StoreError, TokenRef};
use tollgate::{CachingStore, MemoryStore, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::AuthLayer;
use tower::ServiceExt;

/// The in-memory store without its synchronous answer, so that every answer comes from
/// the cache in front of it — as it does in front of a remote store.
#[derive(Debug, Clone, Default)]
struct RemoteLike(MemoryStore);

impl RevocationStore for RemoteLike {
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.revoke_token(issuer, subject, id, until)
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.revoke_subject(issuer, subject, before, until)
    }

    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.remove_token(issuer, subject, id)
    }

    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.remove_subject(issuer, subject)
    }

    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        self.0.check(token)
    }
}

const ISSUER: &str = "https://issuer.bench";

fn signer() -> Signer {
    Signer::builder(SigningKey::generate_ed25519("bench").unwrap())
        .issuer(ISSUER)
        .audience("api")
        .build()
        .unwrap()
}

fn verifier(signer: &Signer) -> Verifier {
    Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .issuer(ISSUER)
        .audience("api")
        .build()
        .unwrap()
}

fn cached_check(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let signer = signer();
    let verifier = verifier(&signer);
    let tokens: Vec<_> = (0..10_000)
        .map(|i| {
            let issued = signer
                .issue(&TokenRequest::new(format!("user-{i}")))
                .unwrap();
            verifier.verify(&issued.token).unwrap()
        })
        .collect();
    // "Not revoked" trusted for the whole run: with the default 1 s, the answers expire
    // during the measurement and the misses are measured instead of the hits.
    let cache = CachingStore::builder(RemoteLike::default())
        .active_ttl(std::time::Duration::from_secs(3600))
        .build();
    rt.block_on(async {
        for token in &tokens {
            cache.check(&TokenRef::new(token)).await.unwrap();
        }
    });
    let token = &tokens[4_321];
    let view = TokenRef::new(token);
    assert_eq!(cache.check_now(&view), Some(Status::Active));

    let mut group = c.benchmark_group("cached_check");
    group.bench_function("token_ref", |b| b.iter(|| TokenRef::new(black_box(token))));
    group.bench_function("lookup_10k", |b| {
        b.iter(|| cache.check_now(black_box(&view)))
    });
    group.bench_function("token_ref_and_lookup_10k", |b| {
        b.iter(|| cache.check_now(&TokenRef::new(black_box(token))))
    });
    group.finish();
    // Still hits after the measurement.
    assert_eq!(cache.check_now(&view), Some(Status::Active));
}

fn request(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let signer = signer();
    let token = signer.issue(&TokenRequest::new("alice")).unwrap().token;
    let routes = || Router::new().route("/", get(|| async { "ok" }));
    let apps = [
        (
            "without_revocation",
            routes().layer(AuthLayer::new(verifier(&signer))),
        ),
        (
            "with_memory_store",
            routes().layer(AuthLayer::new(verifier(&signer)).revocation(MemoryStore::new())),
        ),
        (
            "with_cached_store",
            routes().layer(
                AuthLayer::new(verifier(&signer))
                    .revocation(CachingStore::new(RemoteLike::default())),
            ),
        ),
    ];
    let mut group = c.benchmark_group("request");
    for (name, app) in apps {
        group.bench_with_input(BenchmarkId::from_parameter(name), &app, |b, app| {
            b.to_async(&rt).iter(|| async {
                let request = Request::get("/")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                assert!(response.status().is_success());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cached_check, request);
criterion_main!(benches);
