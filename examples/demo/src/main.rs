//! The tollgate demo: an API whose routes are protected by tollgate.
//!
//! ```text
//! cargo run -p tollgate-demo
//! ```
//!
//! Environment: `TOLLGATE_ADDR` (default `127.0.0.1:3000`; port 0 picks a free one),
//! `TOLLGATE_ISSUER` (default `tollgate-demo`), `TOLLGATE_AUDIENCE` (default
//! `tollgate-demo-api`), `REDIS_URL` (unset: revocations in memory; set, e.g.
//! `redis://127.0.0.1:6379/`: revocations in Redis, shared by every demo process),
//! `TOLLGATE_DYNAMODB_TABLE` (instead of `REDIS_URL`: revocations in that DynamoDB table,
//! with the standard AWS variables; `tollgate dynamodb create-table` makes one),
//! `TOLLGATE_SIGNING_KEY_FILE` (an Ed25519 private key in PKCS#8 PEM, e.g. from
//! `openssl genpkey -algorithm ed25519`; unset: a key is generated at start),
//! `TOLLGATE_JWKS_URL` or `TOLLGATE_OIDC_ISSUER` (set: tokens signed by that identity
//! provider's keys, for the same issuer and audience, are accepted too),
//! `TOLLGATE_REQUIRE_TYP` (e.g. `at+jwt`: the provider's ID tokens are refused as access
//! tokens), `TOLLGATE_MAX_TOKEN_LIFETIME_SECS` (default 86400: tokens that still live
//! longer are refused; a revoke-user cut-off is kept that long plus the leeway),
//! `TOLLGATE_COGNITO_USER_POOL`, `TOLLGATE_COGNITO_CLIENT_IDS`, `TOLLGATE_COGNITO_TOKEN_USE`
//! (an Amazon Cognito pool whose tokens are accepted beside the demo's own, by Cognito's
//! rules; its keys come from the pool's discovery, or from `TOLLGATE_JWKS_URL` /
//! `TOLLGATE_OIDC_ISSUER`, which then serve the pool's tokens only),
//! `RUST_LOG` (default `info,tollgate_axum=debug`).
//!
//! Without `TOLLGATE_SIGNING_KEY_FILE` it generates a signing key at start, so tokens from
//! an earlier run are refused.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::env;
use std::sync::Arc;
use std::time::Duration;
use tollgate::remote::RemoteKeys;
use tollgate::revocation::RevocationStore;
use tollgate::{CachingStore, MemoryStore};
use tollgate_demo::{DemoConfig, app_with_store};
use tollgate_dynamodb::DynamoDbStore;
use tollgate_redis::RedisStoreBuilder;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tollgate_axum=debug")),
        )
        .with_writer(std::io::stderr)
        .init();

    // Every metric of tollgate (and of the app) goes to this recorder; `/metrics` renders it.
    let metrics = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(tollgate::telemetry::VERIFICATION_SECONDS.to_owned()),
            &[
                0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.025,
            ],
        )?
        .install_recorder()?;
    tollgate::telemetry::describe();
    // Upkeep drains the histograms' buffers; the exporter leaves scheduling it to the app.
    let upkeep = metrics.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });

    let addr = env::var("TOLLGATE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let mut config = DemoConfig {
        metrics: Some(metrics),
        ..DemoConfig::default()
    };
    if let Ok(issuer) = env::var("TOLLGATE_ISSUER") {
        config.issuer = issuer;
    }
    if let Ok(audience) = env::var("TOLLGATE_AUDIENCE") {
        config.audience = audience;
    }
    if let Ok(typ) = env::var("TOLLGATE_REQUIRE_TYP")
        && !typ.is_empty()
    {
        config.require_type = Some(typ);
    }
    if let Ok(secs) = env::var("TOLLGATE_MAX_TOKEN_LIFETIME_SECS") {
        let secs: u64 = secs.parse().map_err(|_| {
            format!("TOLLGATE_MAX_TOKEN_LIFETIME_SECS={secs:?} is not a number of seconds")
        })?;
        config.max_token_lifetime = Duration::from_secs(secs);
    }
    if let Ok(path) = env::var("TOLLGATE_SIGNING_KEY_FILE") {
        let pem = std::fs::read(&path)?;
        config.signing_key = Some(tollgate::SigningKey::ed25519_pem("demo-1", &pem)?);
    }
    // TOLLGATE_ISSUER and TOLLGATE_AUDIENCE are the demo's own tokens' here, not the pool's.
    config.cognito = tollgate::cognito::CognitoSettings::from_env(|name| match name {
        "TOLLGATE_ISSUER" | "TOLLGATE_AUDIENCE" => None,
        _ => env::var(name).ok(),
    })?;
    // A Cognito pool's keys come from its discovery unless told otherwise.
    let oidc_issuer = env::var("TOLLGATE_OIDC_ISSUER").or_else(|_| {
        config
            .cognito
            .as_ref()
            .and_then(|c| c.default_for("TOLLGATE_OIDC_ISSUER"))
            .ok_or(env::VarError::NotPresent)
    });
    let remote = match (env::var("TOLLGATE_JWKS_URL"), oidc_issuer) {
        (Ok(url), _) if !url.is_empty() => Some(RemoteKeys::jwks(url)),
        (_, Ok(issuer)) if !issuer.is_empty() => Some(RemoteKeys::discover(issuer)),
        _ => None,
    };
    if let Some(remote) = remote {
        let keys = remote.build()?;
        if !keys.wait_until_loaded(Duration::from_secs(5)).await {
            tracing::warn!(
                "the identity provider's keys are not loaded yet; retrying in the background"
            );
        }
        config.remote_keys = Some(keys);
    }

    let dynamodb_table = env::var("TOLLGATE_DYNAMODB_TABLE").unwrap_or_default();
    if !dynamodb_table.is_empty() && !env::var("REDIS_URL").unwrap_or_default().is_empty() {
        return Err("TOLLGATE_DYNAMODB_TABLE and REDIS_URL are both set: revocations are kept in one store, choose one".into());
    }
    let revocations: Arc<dyn RevocationStore> = match env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => {
            // TLS, ACL user, cluster or Sentinel: the TOLLGATE_REDIS_* variables.
            let store = RedisStoreBuilder::from_env(&url)?.connect().await?;
            tracing::info!(
                ?store,
                "revocations in Redis, shared with every demo process"
            );
            Arc::new(CachingStore::new(store))
        }
        _ if !dynamodb_table.is_empty() => {
            let store = DynamoDbStore::from_env(dynamodb_table).await;
            store.ping().await?;
            tracing::info!(
                ?store,
                "revocations in DynamoDB, shared with every demo process"
            );
            // No push: "not revoked" is trusted for 1 s (CachingStore's bound without push).
            Arc::new(CachingStore::new(store))
        }
        _ => Arc::new(MemoryStore::new()),
    };
    let router = app_with_store(&config, revocations)?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("tollgate demo listening on {base}");
    println!(
        r#"
Try it:
  curl -s {base}/health
  curl -s {base}/ready
  TOKEN=$(curl -s -X POST {base}/login -H 'content-type: application/json' \
      -d '{{"username":"alice","password":"alice"}}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -s {base}/me -H "Authorization: Bearer $TOKEN"
  curl -si {base}/admin -H "Authorization: Bearer $TOKEN"     # 403: alice is not an admin
  curl -si {base}/me                                          # 401: no token
  curl -s {base}/.well-known/jwks.json
  curl -si -X POST {base}/logout -H "Authorization: Bearer $TOKEN"   # 204; the token is now revoked
  curl -s {base}/metrics                                      # Prometheus text format
(log in as admin/admin for /admin and POST /admin/revoke-user/alice)"#
    );

    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
