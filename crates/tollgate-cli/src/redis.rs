//! Revocations in Redis, through the same [`RedisStore`] the services use.

use crate::error::CliError;
use std::time::Duration;
use tollgate_redis::RedisStore;
use tollgate_redis::redis::{self, IntoConnectionInfo as _};

/// How long the direct reads of `revocations` may take.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// `host:port/db` of `url`, without credentials, for messages.
pub(crate) fn target(url: &str) -> String {
    match url.into_connection_info() {
        Ok(info) => format!("{}/{}", info.addr(), info.redis_settings().db()),
        Err(_) => "the given Redis URL".to_owned(),
    }
}

/// Whether `url` carries a password.
pub(crate) fn has_password(url: &str) -> bool {
    url.into_connection_info()
        .is_ok_and(|info| info.redis_settings().password().is_some())
}

/// A store on `url` with key prefix `prefix`, as a service configured alike would have.
pub(crate) async fn connect(url: &str, prefix: &str) -> Result<RedisStore, CliError> {
    RedisStore::builder(url)
        .key_prefix(prefix)
        .connect()
        .await
        .map_err(|e| CliError::caused(format!("Redis at {}", target(url)), &e))
}

/// A revocation as stored: its value and when Redis forgets it.
#[derive(Debug)]
pub(crate) struct Stored {
    /// `1` for a token; the cut-off (seconds since the epoch) for a subject.
    pub(crate) value: String,
    /// Seconds since the epoch; `None` when the key never expires.
    pub(crate) expires_at: Option<u64>,
}

/// Reads `keys` (names from [`RedisStore::token_key`] / [`RedisStore::subject_key`]) as
/// stored, with their expiry: what the store's `check` cannot tell (the cut-off time).
pub(crate) async fn read(url: &str, keys: &[String]) -> Result<Vec<Option<Stored>>, CliError> {
    let failed = |e: &dyn std::error::Error| {
        CliError::caused(
            format!("reading revocations from Redis at {}", target(url)),
            e,
        )
    };
    let client = redis::Client::open(url).map_err(|e| failed(&e))?;
    let work = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("GET").arg(key).cmd("TTL").arg(key);
        }
        pipe.query_async::<Vec<redis::Value>>(&mut connection).await
    };
    let values = tokio::time::timeout(READ_TIMEOUT, work)
        .await
        .map_err(|_| {
            CliError::usage(format!(
                "reading revocations from Redis at {}: no answer within {} s",
                target(url),
                READ_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| failed(&e))?;
    let now = crate::time::now();
    let mut out = Vec::new();
    for pair in values.chunks(2) {
        let value: Option<String> =
            redis::from_redis_value(pair[0].clone()).map_err(|e| failed(&e))?;
        let ttl: i64 = redis::from_redis_value(pair[1].clone()).map_err(|e| failed(&e))?;
        out.push(value.map(|value| Stored {
            value,
            expires_at: u64::try_from(ttl).ok().map(|t| now + t),
        }));
    }
    Ok(out)
}
