//! tollgate as the API Gateway Lambda authorizer, configured from the environment.
//!
//! ```text
//! cargo lambda build --release -p tollgate-authorizer      # target/lambda/tollgate-authorizer/bootstrap
//! cargo lambda watch -p tollgate-authorizer                # the local Lambda emulator
//! cargo lambda invoke tollgate-authorizer --data-file crates/tollgate-lambda/events/rest-token.json
//! ```
//!
//! Environment (empty values count as unset; a mistake stops the function at init with a
//! message naming the variable):
//! - `TOLLGATE_ISSUER` (required, or given by `TOLLGATE_OIDC_ISSUER`), `TOLLGATE_AUDIENCE`,
//!   `TOLLGATE_ROLES_CLAIM` (default `roles`; `cognito:groups` for Cognito),
//!   `TOLLGATE_REQUIRE_TYP` (e.g. `at+jwt`);
//! - keys, any of: `TOLLGATE_OIDC_ISSUER` (OIDC discovery) or `TOLLGATE_JWKS_URL`, fetched
//!   at init with a bounded wait of `TOLLGATE_JWKS_WAIT_MS` (default 2000) and refreshed in
//!   the background; `TOLLGATE_JWKS` (a JWK Set, inline); `TOLLGATE_PUBLIC_KEY_FILE` (an
//!   Ed25519 public key in PEM, kid `demo-1`);
//! - Amazon Cognito: `TOLLGATE_COGNITO_USER_POOL` (`eu-west-1_AbCdEf123`; its issuer, keys
//!   and `cognito:groups` become the defaults), `TOLLGATE_COGNITO_CLIENT_IDS` (the app
//!   clients accepted: `client_id` of access tokens, `aud` of ID tokens; required),
//!   `TOLLGATE_COGNITO_TOKEN_USE` (`access`, default, `id`, or `access,id`); not with
//!   `TOLLGATE_AUDIENCE`;
//! - `REDIS_URL`: revocations shared with every service and the `tollgate revoke` CLI (a
//!   cached "not revoked" is trusted for at most 5 s); `TOLLGATE_FAIL_OPEN=1` to let
//!   requests through while it is unreachable (default: refused);
//! - `TOLLGATE_DYNAMODB_TABLE`: revocations in that DynamoDB table instead (not with
//!   `REDIS_URL`; region, credentials and `AWS_ENDPOINT_URL_DYNAMODB` from the standard AWS
//!   variables, the function's role in Lambda): no push, so a cached "not revoked" is
//!   trusted for at most 1 s, and `TOLLGATE_FAIL_OPEN` applies alike;
//! - `TOLLGATE_ROUTES`: route requirements, e.g.
//!   `GET /admin=role:admin; POST /admin/*=role:admin; ANY /orders/*=scope:orders.read`
//!   (grammar: `tollgate_lambda::routes`);
//! - `TOLLGATE_RESPONSE_MODE` (`iam`, default, or `simple`: HTTP API payload 2.0 with
//!   simple responses), `TOLLGATE_SIMPLE_UNAUTHORIZED=1` (simple mode: a bad token is the
//!   `Unauthorized` error, 401, instead of `isAuthorized: false`, 403),
//!   `TOLLGATE_CACHE_PER_ROUTE=1` (declares that answers are not reused across routes —
//!   result TTL 0, or `$context.routeKey` among the identity sources — which route rules
//!   with simple responses need);
//! - token sources besides `Authorization: Bearer` (each must be an identity source of the
//!   authorizer): `TOLLGATE_TOKEN_COOKIE` (a cookie name, opt-in; `off`),
//!   `TOLLGATE_TOKEN_QUERY` (a query parameter, opt-in: for WebSocket `$connect`),
//!   `TOLLGATE_WEBSOCKET_PROTOCOL=1` (the token in `Sec-WebSocket-Protocol` as
//!   `bearer.<token>`);
//! - `TOLLGATE_CONTEXT_CLAIMS` (comma-separated claims copied into the context),
//!   `TOLLGATE_USAGE_IDENTIFIER_CLAIM` (REST usage plans);
//! - `RUST_LOG` (default `info`).

mod config;

use config::{Remote, Settings};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::remote::RemoteKeys;
use tollgate::revocation::RevocationStore;
use tollgate::{CachingStore, Verifier};
use tollgate_dynamodb::DynamoDbStore;
use tollgate_lambda::{Authorizer, BuildError};
use tollgate_redis::RedisStoreBuilder;
use tracing_subscriber::EnvFilter;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info"))
                // At trace, the runtime logs whole events, tokens included: never.
                .add_directive("lambda_runtime=info".parse()?),
        )
        // CloudWatch adds its own timestamps and shows no colours.
        .with_ansi(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
    let started = Instant::now();
    let settings = Settings::from_env(var).map_err(|why| {
        tracing::error!(%why, "cannot start");
        why
    })?;
    let mut verifier = Verifier::builder()
        .keys(settings.keys.clone())
        .issuer(settings.issuer.clone())
        .roles_claim(settings.roles_claim.as_str());
    if let Some(cognito) = &settings.cognito {
        // TOLLGATE_ROLES_CLAIM (default cognito:groups) still decides where roles are.
        verifier = cognito
            .apply(verifier)
            .roles_claim(settings.roles_claim.as_str());
        tracing::info!(pool = cognito.pool.id(), clients = ?cognito.clients, uses = ?cognito.uses, "Cognito user pool");
    } else if let Some(audience) = &settings.audience {
        verifier = verifier.audience(audience.clone());
    } else {
        tracing::warn!(
            "TOLLGATE_AUDIENCE is unset: tokens for any audience of the issuer are accepted"
        );
    }
    if let Some(typ) = &settings.require_type {
        verifier = verifier.require_type(typ.clone());
    }

    // The network, once per cold start and bounded.
    let network_started = Instant::now();
    if let Some(remote) = &settings.remote {
        let keys = match remote {
            Remote::Jwks(url) => RemoteKeys::jwks(url.clone()),
            Remote::Discover(issuer) => RemoteKeys::discover(issuer.clone()),
        }
        .build()?;
        if !keys.wait_until_loaded(settings.jwks_wait).await {
            tracing::warn!(wait = ?settings.jwks_wait, "the identity provider's keys are not loaded yet; retrying in the background");
        }
        verifier = verifier.remote_keys(keys);
    }
    let store: Option<Arc<dyn RevocationStore>> = match &settings.redis_url {
        Some(url) => {
            // TLS, ACL user, cluster or Sentinel: the TOLLGATE_REDIS_* variables.
            let redis = RedisStoreBuilder::from_env(url)?.connect().await?;
            tracing::info!(?redis, "revocations in Redis");
            // Lambda freezes the instance between invocations; pushed invalidations wait in
            // the socket until it thaws: trust a cached "not revoked" for at most 5 s.
            Some(Arc::new(
                CachingStore::builder(redis)
                    .active_ttl_with_push(Duration::from_secs(5))
                    .build(),
            ))
        }
        None => match &settings.dynamodb_table {
            Some(table) => Some(dynamodb_store(table).await?),
            None => None,
        },
    };
    let network = network_started.elapsed();

    let mut authorizer = Authorizer::builder(verifier.build()?)
        .routes(settings.routes.clone())
        .token_sources(settings.sources.clone())
        .websocket_protocol(settings.websocket_protocol)
        .response_mode(settings.response_mode)
        .simple_refusal_as_error(settings.simple_refusal_as_error)
        .answers_cached_per_route(settings.answers_cached_per_route)
        .roles_claim(settings.roles_claim.clone())
        .on_store_error(settings.on_store_error);
    for claim in &settings.context_claims {
        authorizer = authorizer.context_claim(claim.clone());
    }
    if let Some(claim) = &settings.usage_identifier_claim {
        authorizer = authorizer.usage_identifier_claim(claim.clone());
    }
    if let Some(store) = store {
        authorizer = authorizer.revocation(store);
    }
    if settings.sources.reads_cookie() {
        tracing::warn!(
            "TOLLGATE_TOKEN_COOKIE: make the cookie an identity source, and set the result TTL to 0 if cookie requests change state (a cached answer skips the cross-origin check)"
        );
    }
    let authorizer = authorizer.build().map_err(|error| match error {
        BuildError::ReservedContextClaim(_) => format!("TOLLGATE_CONTEXT_CLAIMS: {error}"),
        _ => format!("TOLLGATE_ROUTES with TOLLGATE_RESPONSE_MODE=simple: {error}"),
    })?;
    tracing::info!(
        init_us = (started.elapsed() - network).as_micros() as u64,
        network_us = network.as_micros() as u64,
        routes = !settings.routes.is_empty(),
        "initialised"
    );
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let authorizer = authorizer.clone();
            async move { authorizer.handle_event(event).await }
        },
    ))
    .await
}

/// The DynamoDB store behind a cache. DynamoDB cannot push, so a cached "not revoked" is
/// trusted for 1 s: a revocation reaches this instance within 1 s, and it reads the table
/// at most once per token per second. A table that cannot be read stops the start, as a
/// Redis out of reach does.
async fn dynamodb_store(table: &str) -> Result<Arc<dyn RevocationStore>, BoxError> {
    let dynamodb = DynamoDbStore::from_env(table).await;
    dynamodb.ping().await?;
    tracing::info!(?dynamodb, "revocations in DynamoDB");
    Ok(Arc::new(
        CachingStore::builder(dynamodb)
            .active_ttl(Duration::from_secs(1))
            .build(),
    ))
}
