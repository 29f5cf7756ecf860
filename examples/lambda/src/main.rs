//! The tollgate demo's protected routes as an AWS Lambda function.
//!
//! ```text
//! cargo run -p tollgate-lambda-router                 # a plain HTTP server on 127.0.0.1:3000
//! cargo lambda watch -p tollgate-lambda-router        # under the local Lambda emulator
//! scripts/lambda-local.sh                      # the emulator, invoked with API Gateway events
//! cargo lambda build --release -p tollgate-lambda-router   # for deployment
//! ```
//!
//! It runs as a Lambda function when `AWS_LAMBDA_RUNTIME_API` is set (inside Lambda and
//! under `cargo lambda watch`), and as a plain HTTP server on `TOLLGATE_ADDR` (default
//! `127.0.0.1:3000`) otherwise. Everything is built once, before the first request.
//!
//! Environment:
//! - `TOLLGATE_ISSUER` (default: `TOLLGATE_OIDC_ISSUER`, else `tollgate-demo`),
//!   `TOLLGATE_AUDIENCE` (default `tollgate-demo-api`), `TOLLGATE_ROLES_CLAIM` (default
//!   `roles`; `cognito:groups` for Amazon Cognito), `TOLLGATE_REQUIRE_TYP` (e.g. `at+jwt`:
//!   the provider's ID tokens are refused as access tokens), `TOLLGATE_MAX_TOKEN_LIFETIME_SECS`
//!   (default 86400: tokens that still live longer are refused; a revoke-user cut-off is
//!   kept that long plus the leeway);
//! - Amazon Cognito: `TOLLGATE_COGNITO_USER_POOL` (`eu-west-1_AbCdEf123`: its issuer, keys
//!   and `cognito:groups` become the defaults), `TOLLGATE_COGNITO_CLIENT_IDS` (required: the
//!   app clients accepted, `client_id` of access tokens and `aud` of ID tokens),
//!   `TOLLGATE_COGNITO_TOKEN_USE` (`access`, default, `id`, or `access,id`); not with
//!   `TOLLGATE_AUDIENCE`;
//! - keys, any of: `TOLLGATE_JWKS_URL` or `TOLLGATE_OIDC_ISSUER` (an identity provider's
//!   keys, fetched at start with a bounded wait of `TOLLGATE_JWKS_WAIT_MS`, default 2000,
//!   then refreshed in the background), `TOLLGATE_JWKS` (a JWK Set of public keys, inline),
//!   `TOLLGATE_PUBLIC_KEY_FILE` (an Ed25519 public key in PEM, kid `demo-1`: the public half
//!   of the demo's `TOLLGATE_SIGNING_KEY_FILE`, so the demo's tokens are accepted). Outside
//!   Lambda with none of them, a key is generated and tokens for `alice` and `admin` are
//!   printed;
//! - `TOLLGATE_TRUST_API_GATEWAY=1`: take the claims API Gateway's authorizer forwards
//!   instead of verifying the token again (requests without them are still verified; with
//!   no key configured, such requests are refused);
//! - `REDIS_URL` (e.g. `redis://my-cluster.cache.amazonaws.com:6379/`): revocations shared
//!   by every instance; unset: in memory, per instance;
//! - `TOLLGATE_DYNAMODB_TABLE`: revocations in that DynamoDB table instead (not with
//!   `REDIS_URL`; region and credentials from the standard AWS variables, the function's
//!   role in Lambda); a cached "not revoked" is trusted for at most 1 s;
//! - `RUST_LOG` (default `info,tollgate_axum=debug`).

use std::env;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::revocation::RevocationStore;
use tollgate::{CachingStore, MemoryStore, Signer, SigningKey, TokenRequest};
use tollgate_dynamodb::DynamoDbStore;
use tollgate_lambda_router::{DEMO_KID, LambdaConfig, app, lambda_service};
use tollgate_redis::RedisStoreBuilder;
use tracing_subscriber::EnvFilter;

type BoxError = tollgate_lambda_router::StartError;

fn env_set(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let in_lambda = env_set("AWS_LAMBDA_RUNTIME_API").is_some();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tollgate_axum=debug")),
        )
        // CloudWatch adds its own timestamps and shows no colours.
        .with_ansi(!in_lambda)
        .with_writer(std::io::stderr)
        .init();

    let started = Instant::now();
    let mut config = LambdaConfig::from_env(env_set)?;
    // Network, once per cold start: the identity provider's keys and Redis.
    let remote = config.remote_keys_from_env(env_set);
    let network_started = Instant::now();
    if let Some(remote) = remote {
        let keys = remote.build()?;
        let wait = env_set("TOLLGATE_JWKS_WAIT_MS")
            .and_then(|ms| ms.parse().ok())
            .map_or(Duration::from_secs(2), Duration::from_millis);
        // Fetched now, during the init phase, so no request waits for it; bounded, so a
        // slow provider cannot eat Lambda's 10 s init budget.
        if !keys.wait_until_loaded(wait).await {
            tracing::warn!(
                ?wait,
                "the identity provider's keys are not loaded yet; retrying in the background"
            );
        }
        config.remote_keys = Some(keys);
    }
    let dynamodb_table = env_set("TOLLGATE_DYNAMODB_TABLE");
    if dynamodb_table.is_some() && env_set("REDIS_URL").is_some() {
        return Err("TOLLGATE_DYNAMODB_TABLE and REDIS_URL are both set: revocations are kept in one store, choose one".into());
    }
    let revocations: Arc<dyn RevocationStore> = match env_set("REDIS_URL") {
        Some(url) => {
            // TLS, ACL user, cluster or Sentinel: the TOLLGATE_REDIS_* variables.
            let store = RedisStoreBuilder::from_env(&url)?.connect().await?;
            tracing::info!(?store, "revocations in Redis, shared by every instance");
            // Lambda freezes the instance between invocations, and pushed invalidations
            // wait in the socket until it thaws: trust a cached "not revoked" for 5 s
            // rather than the default 60 s, at the price of more Redis lookups.
            Arc::new(
                CachingStore::builder(store)
                    .active_ttl_with_push(Duration::from_secs(5))
                    .build(),
            )
        }
        None => match dynamodb_table {
            Some(table) => {
                let store = DynamoDbStore::from_env(table).await;
                store.ping().await?;
                tracing::info!(?store, "revocations in DynamoDB, shared by every instance");
                // DynamoDB cannot push: a revocation made elsewhere is seen here once the
                // cached "not revoked" expires, 1 s at most.
                Arc::new(
                    CachingStore::builder(store)
                        .active_ttl(Duration::from_secs(1))
                        .build(),
                )
            }
            None => Arc::new(MemoryStore::new()),
        },
    };
    let network = network_started.elapsed();

    let mut dev_signer = None;
    if config.keys.is_empty() && config.remote_keys.is_none() {
        // A key whose private half is either printed tokens for local development, or
        // (inside Lambda, trusting the gateway) thrown away so that nothing but the
        // gateway's verdict is accepted.
        if in_lambda && !config.trust_api_gateway {
            return Err("no keys: set TOLLGATE_JWKS_URL, TOLLGATE_OIDC_ISSUER, TOLLGATE_JWKS or TOLLGATE_PUBLIC_KEY_FILE".into());
        }
        let signer = Signer::builder(SigningKey::generate_ed25519(DEMO_KID)?)
            .issuer(config.issuer.clone())
            .audience(config.audience.clone())
            .roles_claim(config.roles_claim.clone())
            .build()?;
        config.keys = signer.verification_keys()?;
        if !in_lambda {
            dev_signer = Some(signer);
        }
    }
    let router = app(&config, revocations)?;
    tracing::info!(
        init_us = (started.elapsed() - network).as_micros() as u64,
        network_us = network.as_micros() as u64,
        trust_api_gateway = config.trust_api_gateway,
        "initialised"
    );

    if in_lambda {
        return lambda_http::run(lambda_service(router)).await;
    }

    let addr = env_set("TOLLGATE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("tollgate-lambda-router listening on {base} (not inside Lambda: plain HTTP)");
    if let Some(signer) = dev_signer {
        let alice = signer.issue(&TokenRequest::new("alice").roles(["user"]))?;
        let admin = signer.issue(&TokenRequest::new("admin").roles(["user", "admin"]))?;
        println!(
            r#"
Development key generated at start. Try it:
  ALICE={alice}
  ADMIN={admin}
  curl -s {base}/me -H "Authorization: Bearer $ALICE"
  curl -si {base}/admin -H "Authorization: Bearer $ALICE"    # 403
  curl -s {base}/admin -H "Authorization: Bearer $ADMIN"
  curl -si -X POST {base}/logout -H "Authorization: Bearer $ALICE"   # 204, then /me is 401"#,
            alice = alice.token,
            admin = admin.token,
        );
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
