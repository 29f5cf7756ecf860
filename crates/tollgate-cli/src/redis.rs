//! Revocations in Redis, through the same [`RedisStore`] the services use, configured by
//! the same environment (TLS, ACL user, cluster or Sentinel: see
//! [`RedisStoreBuilder::from_env`]).

use crate::error::CliError;
use crate::output::Output;
use tollgate_redis::redis::IntoConnectionInfo as _;
use tollgate_redis::{RedisStore, RedisStoreBuilder};

/// A revocation as stored (in Redis or DynamoDB): its value and when the store forgets it.
#[derive(Debug)]
pub(crate) struct Stored {
    /// `1` for a token; the cut-off (seconds since the epoch) for a subject.
    pub(crate) value: String,
    /// Seconds since the epoch; `None` when the key never expires.
    pub(crate) expires_at: Option<u64>,
}

/// The addresses of `url` (a comma-separated list in cluster and Sentinel mode), without
/// credentials, for messages.
pub(crate) fn target(url: &str) -> String {
    url.split(',')
        .map(|one| match one.trim().into_connection_info() {
            Ok(info) => format!("{}/{}", info.addr(), info.redis_settings().db()),
            Err(_) => "the given Redis URL".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `url` carries a password.
fn has_password(url: &str) -> bool {
    url.split(',').any(|one| {
        one.trim()
            .into_connection_info()
            .is_ok_and(|info| info.redis_settings().password().is_some())
    })
}

/// Warns when `url` holds a password and was given on the command line rather than in
/// `TOLLGATE_REDIS_URL`.
pub(crate) fn url_warning(output: Output, url: &str) {
    let from_env = std::env::var("TOLLGATE_REDIS_URL").is_ok_and(|v| v == url);
    if !from_env && has_password(url) {
        output.warn(
            "the Redis URL holds a password and is on the command line, visible to other \
             local users and in shell history; set TOLLGATE_REDIS_URL instead",
        );
    }
}

/// A store on `url` with key prefix `prefix`, as a service configured alike would have.
pub(crate) async fn connect(url: &str, prefix: &str) -> Result<RedisStore, CliError> {
    let failed =
        |e: &dyn std::error::Error| CliError::caused(format!("Redis at {}", target(url)), e);
    RedisStoreBuilder::from_env(url)
        .map_err(|e| failed(&e))?
        .key_prefix(prefix)
        .connect()
        .await
        .map_err(|e| failed(&e))
}

/// Reads `keys` (names from [`RedisStore::token_key`] / [`RedisStore::subject_key`]) as
/// stored, with their expiry: what the store's `check` cannot tell (the cut-off time).
pub(crate) async fn read(
    store: &RedisStore,
    keys: &[String],
) -> Result<Vec<Option<Stored>>, CliError> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        out.push(
            store
                .read(key)
                .await
                .map_err(|e| CliError::caused("reading revocations from Redis", &e))?
                .map(|stored| Stored {
                    value: stored.value,
                    expires_at: stored.expires_at,
                }),
        );
    }
    Ok(out)
}
