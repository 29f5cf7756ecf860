//! [`RedisStore`] and its builder.

use crate::push::{Hub, Message};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ConnectionInfo, IntoConnectionInfo, ProtocolVersion, PushInfo, RedisResult};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::AbortHandle;
use tollgate::revocation::{
    BoxFuture, InvalidationListener, RevocationStore, Status, StoreError, TokenRef,
};

/// The key prefix used unless [`RedisStoreBuilder::key_prefix`] says otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "tollgate:";
/// How long a command may wait for Redis's answer by default.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long connecting to Redis may take by default.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the store tries to get its invalidation subscription back by default, while
/// it is lost.
pub const DEFAULT_RESUBSCRIBE_INTERVAL: Duration = Duration::from_millis(250);
/// How often the store checks, by default, that Redis still answers while the subscription
/// is up.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// The latest expiry Redis accepts for `SET … EXAT` is far beyond any real token; `until`
/// is capped at the end of year 9999 so that a token with an absurd `exp` can still be
/// revoked instead of failing with "invalid expire time".
const MAX_EXAT: u64 = 253_402_300_799;

/// Revocations kept in Redis, shared by every instance of a service, with push
/// invalidation. See the [crate docs](crate).
///
/// Clones share one connection and one subscription; the background task that keeps the
/// subscription up stops when the last clone is dropped.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    manager: ConnectionManager,
    hub: Arc<Hub>,
    prefix: String,
    /// `host:port/db`: what `Debug` shows instead of the URL, which may hold a password.
    target: String,
    /// The bound on one operation: connecting (if the connection is being re-established)
    /// plus the answer.
    deadline: Duration,
    resubscriber: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.resubscriber.abort();
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.inner.target)
            .field("prefix", &self.inner.prefix)
            .field("subscribed", &self.inner.hub.is_subscribed())
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisStore`]; see [`RedisStore::builder`].
#[must_use]
pub struct RedisStoreBuilder {
    info: RedisResult<ConnectionInfo>,
    prefix: String,
    response_timeout: Duration,
    connection_timeout: Duration,
    resubscribe_interval: Duration,
    heartbeat_interval: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("target", &self.info.as_ref().map(target).ok())
            .field("prefix", &self.prefix)
            .field("response_timeout", &self.response_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .field("resubscribe_interval", &self.resubscribe_interval)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .finish()
    }
}

impl RedisStoreBuilder {
    /// Prefix of every key and of the invalidation channel (default `tollgate:`). Services
    /// that must not see each other's revocations on one Redis use different prefixes.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a command may wait for Redis's answer (default 500 ms). With an unanswered
    /// lookup the layer applies its store-failure policy, so keep this short.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How long one connection attempt may take (default 1 s).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How often to try to get the invalidation subscription back while it is lost
    /// (default 250 ms). Each try also makes the connection reconnect if Redis is back.
    pub fn resubscribe_interval(mut self, interval: Duration) -> Self {
        self.resubscribe_interval = interval;
        self
    }

    /// How often to `PING` Redis while the subscription is up (default 1 s). A connection
    /// can die silently (a network partition, a frozen server) without being closed; an
    /// unanswered `PING` counts as a lost subscription, so that caches stop trusting "not
    /// revoked" answers for long within about this interval plus the response timeout.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Connects, subscribes to the invalidation channel, and starts the task that keeps the
    /// subscription up. Fails if Redis cannot be reached now; later outages are survived.
    ///
    /// Needs a Tokio runtime.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let info = self
            .info
            .map_err(|e| StoreError::new("invalid Redis connection info", e))?;
        // Pub/sub messages arrive as RESP3 push frames on the same connection as the
        // lookups, which needs RESP3 (Redis 6 or later).
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(settings);
        let target = target(&info);
        let client = redis::Client::open(info)
            .map_err(|e| StoreError::new("invalid Redis connection info", e))?;

        let hub = Arc::new(Hub::new(format!("{}revocations", self.prefix)));
        let frames = hub.clone();
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.response_timeout))
            .set_connection_timeout(Some(self.connection_timeout))
            // One attempt per reconnection: a request must not wait through a backoff
            // sequence while Redis is down. The resubscribing task, and requests, start the
            // next attempt.
            .set_number_of_retries(0)
            .set_push_sender(move |frame: PushInfo| {
                frames.on_push(frame);
                Ok::<(), Infallible>(())
            })
            .set_automatic_resubscription();
        let deadline = self.connection_timeout + self.response_timeout;
        let manager = within(
            deadline,
            "connecting to Redis",
            ConnectionManager::new_with_config(client, config),
        )
        .await?;
        let mut connection = manager.clone();
        within(
            deadline,
            "subscribing to the Redis invalidation channel",
            connection.subscribe(hub.channel()),
        )
        .await?;

        let resubscriber = tokio::spawn(keep_subscribed(
            manager.clone(),
            hub.clone(),
            Intervals {
                resubscribe: self.resubscribe_interval,
                heartbeat: self.heartbeat_interval,
                deadline,
            },
        ))
        .abort_handle();
        Ok(RedisStore {
            inner: Arc::new(Inner {
                manager,
                hub,
                prefix: self.prefix,
                target,
                deadline,
                resubscriber,
            }),
        })
    }
}

struct Intervals {
    resubscribe: Duration,
    heartbeat: Duration,
    deadline: Duration,
}

/// Keeps the invalidation subscription up, and notices when it silently is not.
///
/// The connection manager reconnects once when the connection drops and then resubscribes
/// by itself; but if that one attempt fails (Redis still down), it only tries again when a
/// command is sent. This task sends that command, `SUBSCRIBE`, every `resubscribe` interval
/// while the subscription is lost, so that it comes back without any request traffic; a
/// redundant `SUBSCRIBE` is harmless. While the subscription is up it sends a `PING` every
/// `heartbeat`: a connection that stopped answering without being closed counts as lost.
/// The task holds no reference to the store, and is aborted when the store is dropped.
async fn keep_subscribed(manager: ConnectionManager, hub: Arc<Hub>, intervals: Intervals) {
    loop {
        let mut connection = manager.clone();
        if hub.is_subscribed() {
            if tokio::time::timeout(intervals.heartbeat, hub.lost())
                .await
                .is_ok()
            {
                continue;
            }
            let ping = redis::cmd("PING");
            let ping = ping.query_async::<()>(&mut connection);
            if !matches!(
                tokio::time::timeout(intervals.deadline, ping).await,
                Ok(Ok(()))
            ) {
                hub.suspect();
            }
            continue;
        }
        tokio::time::sleep(intervals.resubscribe).await;
        if hub.is_subscribed() {
            continue;
        }
        // Failures are expected while Redis is down; the hub reports the state.
        let _ = tokio::time::timeout(intervals.deadline, connection.subscribe(hub.channel())).await;
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`, or `rediss://` with a
    /// TLS feature of `redis` enabled) with the defaults. See [`RedisStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// A builder for a store at `target`: a URL, or a [`redis::ConnectionInfo`].
    pub fn builder(target: impl IntoConnectionInfo) -> RedisStoreBuilder {
        RedisStoreBuilder {
            info: target.into_connection_info(),
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            resubscribe_interval: DEFAULT_RESUBSCRIBE_INTERVAL,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
        }
    }

    /// The prefix of this store's keys.
    pub fn key_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The Redis key of a token's revocation: `{prefix}t:{issuer length}:{issuer}{id}`. The
    /// issuer is length-prefixed, so no issuer/id split collides with another.
    pub fn token_key(&self, issuer: &str, id: &str) -> String {
        self.key('t', issuer, id)
    }

    /// The Redis key of a subject's cut-off: `{prefix}s:{issuer length}:{issuer}{subject}`.
    pub fn subject_key(&self, issuer: &str, subject: &str) -> String {
        self.key('s', issuer, subject)
    }

    /// The pub/sub channel invalidations are published on: `{prefix}revocations`.
    pub fn channel(&self) -> &str {
        self.inner.hub.channel()
    }

    /// Whether this store is subscribed to the invalidation channel right now.
    pub fn is_subscribed(&self) -> bool {
        self.inner.hub.is_subscribed()
    }

    fn key(&self, kind: char, issuer: &str, name: &str) -> String {
        format!(
            "{}{kind}:{}:{issuer}{name}",
            self.inner.prefix,
            issuer.len()
        )
    }

    /// Runs `pipe` (a change, then its announcement) in one round trip.
    ///
    /// A plain pipeline, not `MULTI`/`EXEC`: Redis 7.0 embeds a RESP3 push raised inside a
    /// transaction in the `EXEC` reply, so the connection's own subscription would never
    /// see its own announcement. Redis runs a connection's commands in order, so the
    /// `PUBLISH` still follows the write, and a failure of either is the caller's error.
    async fn write(&self, pipe: redis::Pipeline, what: &'static str) -> Result<(), StoreError> {
        let mut connection = self.inner.manager.clone();
        within(self.inner.deadline, what, pipe.exec_async(&mut connection)).await
    }

    /// `SET key value EXAT until` and the announcement; nothing when `until` has passed.
    async fn put(
        &self,
        key: String,
        value: u64,
        until: u64,
        message: Message,
        what: &'static str,
    ) -> Result<(), StoreError> {
        if until <= now_secs() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(key)
            .arg(value)
            .arg("EXAT")
            .arg(until.min(MAX_EXAT))
            .ignore()
            .cmd("PUBLISH")
            .arg(self.channel())
            .arg(message.encode())
            .ignore();
        self.write(pipe, what).await
    }

    async fn delete(
        &self,
        key: String,
        message: Message,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL")
            .arg(key)
            .ignore()
            .cmd("PUBLISH")
            .arg(self.channel())
            .arg(message.encode())
            .ignore();
        self.write(pipe, what).await
    }

    async fn lookup(&self, token: &TokenRef) -> Result<Status, StoreError> {
        let token_key = self.token_key(&token.issuer, &token.id);
        let subject_key = token
            .subject
            .as_deref()
            .map(|subject| self.subject_key(&token.issuer, subject));
        let mut cmd = redis::cmd("MGET");
        cmd.arg(&token_key);
        if let Some(key) = &subject_key {
            cmd.arg(key);
        }
        let mut connection = self.inner.manager.clone();
        let values: Vec<Option<Vec<u8>>> = within(
            self.inner.deadline,
            "looking up a revocation in Redis",
            cmd.query_async(&mut connection),
        )
        .await?;
        let expected = 1 + usize::from(subject_key.is_some());
        if values.len() != expected {
            return Err(StoreError::msg(format!(
                "Redis answered MGET of {expected} keys with {} values",
                values.len()
            )));
        }
        let token_revoked = values[0].is_some();
        let cutoff = match (&subject_key, values.get(1).and_then(Option::as_deref)) {
            (Some(key), Some(raw)) => Some(parse_cutoff(raw).ok_or_else(|| {
                StoreError::msg(format!(
                    "malformed subject cut-off under Redis key {key:?}: expected seconds since the epoch"
                ))
            })?),
            _ => None,
        };
        Ok(Status::from_lookup(token, token_revoked, cutoff))
    }
}

fn parse_cutoff(raw: &[u8]) -> Option<u64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

impl RevocationStore for RedisStore {
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.put(
            self.token_key(issuer, id),
            1,
            until,
            Message::token(issuer, id),
            "revoking a token in Redis",
        ))
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.put(
            self.subject_key(issuer, subject),
            before,
            until,
            Message::subject(issuer, subject),
            "revoking a subject's tokens in Redis",
        ))
    }

    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete(
            self.token_key(issuer, id),
            Message::token(issuer, id),
            "removing a token's revocation from Redis",
        ))
    }

    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete(
            self.subject_key(issuer, subject),
            Message::subject(issuer, subject),
            "removing a subject's cut-off from Redis",
        ))
    }

    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        Box::pin(self.lookup(token))
    }

    fn subscribe(&self, listener: InvalidationListener) -> bool {
        self.inner.hub.add_listener(listener);
        true
    }
}

/// Awaits `operation` for at most `deadline`: the connection manager bounds each connection
/// attempt and each answer, and this bounds their sum, so a request never hangs on Redis.
async fn within<T>(
    deadline: Duration,
    what: &'static str,
    operation: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(deadline, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StoreError::new(format!("{what} failed"), error)),
        Err(elapsed) => Err(StoreError::new(
            format!("{what}: no answer within {deadline:?}"),
            elapsed,
        )),
    }
}

/// `host:port/db`, without the credentials.
fn target(info: &ConnectionInfo) -> String {
    format!("{}/{}", info.addr(), info.redis_settings().db())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let builder = RedisStore::builder("redis://user:s3cret-pw@127.0.0.1:6390/2");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("127.0.0.1:6390/2"), "{shown}");
    }

    #[test]
    fn cutoffs_parse_strictly() {
        assert_eq!(parse_cutoff(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_cutoff(b"-1"), None);
        assert_eq!(parse_cutoff(b"17e8"), None);
        assert_eq!(parse_cutoff(b"\xff"), None);
    }
}
