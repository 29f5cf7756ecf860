//! Axum 0.8 side of the peers comparison: per algorithm, the floor
//! (`jsonwebtoken::decode` into a `serde_json::Value`, and `floor_typed` into the handler's
//! struct), a no-auth router, tollgate (`AuthLayer` + `Claims<T>`) and
//! axum-jwt-auth 0.7 (`Claims<T>` extractor with a `LocalDecoder` in the state), every
//! handler reading `sub` and `roles` and answering "ok"; requests through `oneshot` on a
//! current-thread runtime.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use std::sync::Arc;
use tollgate_peers_benches::{AUDIENCE, Access, Case, HMAC_SECRET, ISSUER, RSA_PUBLIC, cases};
use tower::ServiceExt;

fn request(case: &Case) -> Request<Body> {
    Request::builder()
        .uri("/me")
        .header(http::header::AUTHORIZATION, case.bearer())
        .body(Body::empty())
        .unwrap()
}

fn no_auth() -> Router {
    Router::new().route("/me", get(|| async { "ok" }))
}

fn tollgate(case: &Case) -> Router {
    async fn me(claims: tollgate_axum::Claims<Access>) -> &'static str {
        claims.claims().answer()
    }
    Router::new()
        .route("/me", get(me))
        .layer(tollgate_axum::AuthLayer::new(case.verifier.clone()))
}

fn axum_jwt_auth(case: &Case) -> Router {
    use jsonwebtoken10::{Algorithm, DecodingKey, Validation};
    async fn me(claims: axum_jwt_auth::Claims<Access>) -> &'static str {
        claims.claims.answer()
    }
    let (key, algorithm) = match case.name {
        "HS256" => (
            DecodingKey::from_secret(HMAC_SECRET.as_bytes()),
            Algorithm::HS256,
        ),
        _ => (
            DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap(),
            Algorithm::RS256,
        ),
    };
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp"]);
    validation.leeway = 60;
    validation.validate_nbf = true;
    let decoder = axum_jwt_auth::LocalDecoder::builder()
        .keys(vec![key])
        .validation(validation)
        .build()
        .unwrap();
    let decoder: axum_jwt_auth::Decoder<Access> = Arc::new(decoder);
    Router::new().route("/me", get(me)).with_state(decoder)
}

fn peers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for case in cases() {
        println!("{}: token of {} bytes", case.name, case.token.len());
        let no_auth = no_auth();
        let routers = [
            ("tollgate", tollgate(&case)),
            ("axum_jwt_auth", axum_jwt_auth(&case)),
        ];
        for (name, router) in routers.iter().chain([("no_auth", no_auth.clone())].iter()) {
            let response = rt.block_on(router.clone().oneshot(request(&case))).unwrap();
            assert_eq!(response.status(), 200, "{name} {}", case.name);
        }
        let mut group = c.benchmark_group(format!("{}_axum08", case.name));
        group.bench_function("floor", |b| b.iter(|| case.floor().unwrap()));
        group.bench_function("floor_typed", |b| b.iter(|| case.floor_typed().unwrap()));
        group.bench_function("no_auth", |b| {
            b.to_async(&rt)
                .iter(|| no_auth.clone().oneshot(request(&case)))
        });
        for (name, router) in &routers {
            group.bench_function(*name, |b| {
                b.to_async(&rt)
                    .iter(|| router.clone().oneshot(request(&case)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, peers);
criterion_main!(benches);
