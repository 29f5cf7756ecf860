//! A cold start, as a process: build the authorizer (keys from a JWK Set, verifier, route
//! rules) and answer one REST TOKEN event, then exit. Timed from outside next to
//! `benches/peers/aws-jwt-verify/cold_start.mjs`, which does the same with aws-jwt-verify
//! (see BENCHMARKS.md).
//!
//! ```text
//! cargo build --release -p tollgate-lambda --example cold_start
//! target/release/examples/cold_start
//! ```

use serde_json::json;
use tollgate::{KeySet, Verifier};
use tollgate_lambda::{Authorizer, Routes};

const TOKEN: &str = include_str!("../benches/fixtures/rs256-token.txt");
const JWKS: &str = include_str!("../benches/fixtures/rs256-jwks.json");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verifier = Verifier::builder()
        .keys(KeySet::from_jwks(JWKS)?)
        .issuer("https://idp.example")
        .audience("orders-api")
        .build()?;
    let authorizer = Authorizer::builder(verifier)
        .routes("GET /admin=role:admin".parse::<Routes>()?)
        .build()?;
    let event = json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {}", TOKEN.trim()),
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/me",
    });
    let answer = authorizer.handle(event).await?;
    println!("{answer}");
    Ok(())
}
