//! Axum 0.7 side of the peers comparison: jwt-authorizer 0.15 needs
//! axum 0.7, so it is measured here next to an axum 0.7 no-auth router and the same
//! `jsonwebtoken` 12 floor as the axum 0.8 binary; ratios go to these two baselines.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use jwt_authorizer::{IntoLayer, JwtAuthorizer, JwtClaims, Validation};
use tollgate_peers_benches::{AUDIENCE, Access, Case, HMAC_SECRET, ISSUER, RSA_PUBLIC, cases};
use tower::ServiceExt;

fn request(case: &Case) -> Request<Body> {
    Request::builder()
        .uri("/me")
        .header(http::header::AUTHORIZATION, case.bearer())
        .body(Body::empty())
        .unwrap()
}

async fn jwt_authorizer(case: &Case) -> Router {
    async fn me(JwtClaims(access): JwtClaims<Access>) -> &'static str {
        access.answer()
    }
    let builder = match case.name {
        "HS256" => JwtAuthorizer::<Access>::from_secret(HMAC_SECRET),
        _ => JwtAuthorizer::<Access>::from_rsa_pem_text(RSA_PUBLIC),
    };
    let authorizer = builder
        .validation(
            Validation::new()
                .iss(&[ISSUER])
                .aud(&[AUDIENCE])
                .nbf(true)
                .leeway(60),
        )
        .build()
        .await
        .unwrap();
    Router::new()
        .route("/me", get(me))
        .layer([authorizer].into_layer())
}

fn peers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for case in cases() {
        let no_auth = Router::new().route("/me", get(|| async { "ok" }));
        let authorizer = rt.block_on(jwt_authorizer(&case));
        for router in [&no_auth, &authorizer] {
            let response = rt.block_on(router.clone().oneshot(request(&case))).unwrap();
            assert_eq!(response.status(), 200, "{}", case.name);
        }
        let mut group = c.benchmark_group(format!("{}_axum07", case.name));
        group.bench_function("floor", |b| b.iter(|| case.floor().unwrap()));
        group.bench_function("floor_typed", |b| b.iter(|| case.floor_typed().unwrap()));
        group.bench_function("no_auth", |b| {
            b.to_async(&rt)
                .iter(|| no_auth.clone().oneshot(request(&case)))
        });
        group.bench_function("jwt_authorizer", |b| {
            b.to_async(&rt)
                .iter(|| authorizer.clone().oneshot(request(&case)))
        });
        group.finish();
    }
}

criterion_group!(benches, peers);
criterion_main!(benches);
