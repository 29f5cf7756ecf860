//! `jwt-authorizer-server`: the jwt-authorizer 0.15 side of the wrk load test
//! (`scripts/loadtest.sh`), run next to `tollgate-loadtest` (`examples/loadtest`) so the two
//! RS256 routes are measured in the same run. jwt-authorizer needs axum 0.7, hence this
//! separate binary in the `benches/peers` workspace instead of a route of `tollgate-loadtest`.
//!
//! Serves on `LOADTEST_ADDR` (default `127.0.0.1:0`) and prints `listening on http://…` first,
//! exactly like `tollgate-loadtest`:
//!
//! | route | auth |
//! |---|---|
//! | `GET /noauth` | none (the axum 0.7 baseline) |
//! | `GET /rs256` | jwt-authorizer, RS256 from the same public key PEM and rules as `tollgate-loadtest`'s `/rs256` |
//!
//! The rules are those of `tollgate-loadtest`'s verifier: issuer `tollgate-loadtest`, audience
//! `tollgate-loadtest-api`, `exp` required, `nbf` checked, leeway 60 s; so the tokens minted
//! by `tollgate-loadtest --mint N` are accepted here (the script checks it with curl before
//! measuring). The handler reads the claims as `Access { sub, roles }` and answers "ok": the
//! same work as `tollgate-loadtest`'s handler (`Claims<Access>`).

use axum::Router;
use axum::routing::get;
use jwt_authorizer::{IntoLayer, JwtAuthorizer, JwtClaims, Validation};
use tollgate_peers_benches::Access;

/// The RSA-2048 public key of `tollgate-loadtest` (the test fixture it also includes).
const PUBLIC_PEM: &str =
    include_str!("../../../../../crates/tollgate/tests/fixtures/rsa2048-public.pem");
/// `tollgate-loadtest`'s issuer (`examples/loadtest/src/lib.rs`).
const ISSUER: &str = "tollgate-loadtest";
/// `tollgate-loadtest`'s audience.
const AUDIENCE: &str = "tollgate-loadtest-api";

async fn ok(JwtClaims(access): JwtClaims<Access>) -> &'static str {
    access.answer()
}

/// Builds the router: `/noauth` and the jwt-authorizer-protected `/rs256`.
async fn app() -> Result<Router, jwt_authorizer::error::InitError> {
    let authorizer = JwtAuthorizer::<Access>::from_rsa_pem_text(PUBLIC_PEM)
        .validation(
            Validation::new()
                .iss(&[ISSUER])
                .aud(&[AUDIENCE])
                .exp(true)
                .nbf(true)
                .leeway(60),
        )
        .build()
        .await?;
    let rs256 = Router::new()
        .route("/rs256", get(ok))
        .route_layer([authorizer].into_layer());
    Ok(Router::new()
        .route("/noauth", get(|| async { "ok" }))
        .merge(rs256))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().len() > 1 {
        return Err("usage: jwt-authorizer-server (address in LOADTEST_ADDR)".into());
    }
    let addr = std::env::var("LOADTEST_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let app = app().await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
