//! [`RedisStore`] and its builder.

use crate::push::{Hub, Message};
use arc_swap::ArcSwap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::TcpSettings;
use redis::{
    Client, ConnectionInfo, IntoConnectionInfo, ProtocolVersion, PushInfo, RedisError, RedisResult,
};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::AbortHandle;
use tollgate::now_secs;
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

/// TCP keepalive on every connection, unless the [`ConnectionInfo`] sets its own: an idle
/// connection whose peer vanished is probed after this long...
const KEEPALIVE_TIME: Duration = Duration::from_secs(10);
/// ...then every this long...
#[cfg(any(target_os = "android", target_os = "linux"))]
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// ...and closed by the kernel after this many unanswered probes.
#[cfg(any(target_os = "android", target_os = "linux"))]
const KEEPALIVE_RETRIES: u32 = 3;
/// `TCP_USER_TIMEOUT` (Linux), unless the [`ConnectionInfo`] sets its own: the kernel
/// closes a connection whose sent data stays unacknowledged this long.
#[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
const USER_TIMEOUT: Duration = Duration::from_secs(10);

/// Stores a revocation without ever weakening one already there, atomically: the larger
/// value (a subject's cut-off; `1` for a token) and the later expiry win, whatever the
/// order of the calls.
///
/// `KEYS[1]` is the key, `ARGV[1]` the value (a decimal integer), `ARGV[2]` the expiry
/// (seconds since the epoch). Values are compared as decimal integers of any length, so
/// exactly (Lua's numbers are doubles). A stored value that is not one (written by
/// something else) is replaced; a key stored without expiry keeps having none. The stored
/// expiry is the server clock plus `PTTL` (`EXPIRETIME` needs Redis 7).
const PUT_SCRIPT: &str = r"
local function integer(s)
  if type(s) ~= 'string' or not string.find(s, '^%d+$') then return nil end
  return (string.gsub(s, '^0+(%d)', '%1'))
end
local value = integer(ARGV[1])
local stored = integer(redis.call('GET', KEYS[1]))
if stored == nil then
  return redis.call('SET', KEYS[1], value, 'EXAT', ARGV[2])
end
if #value > #stored or (#value == #stored and value > stored) then
  stored = value
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 then
  local now = redis.call('TIME')
  local expires = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + ttl
  if tonumber(ARGV[2]) * 1000 > expires then
    return redis.call('SET', KEYS[1], stored, 'EXAT', ARGV[2])
  end
end
return redis.call('SET', KEYS[1], stored, 'KEEPTTL')
";

/// Revocations kept in Redis, shared by every instance of a service, with push
/// invalidation. See the [crate docs](crate).
///
/// Clones share one connection and one subscription; the background task that keeps them
/// up stops when the last clone is dropped. A listener registered with
/// [`subscribe`](RevocationStore::subscribe) stays registered as long as the value it was
/// registered through, or a clone made of that value since, is alive: a
/// [`tollgate::CachingStore`] owns the store it subscribes through, so its listener goes
/// with it.
pub struct RedisStore {
    inner: Arc<Inner>,
    /// The listeners registered through this value (and copied into its clones): the hub
    /// only holds them weakly, so each goes away with the last store value holding it.
    listeners: Mutex<Vec<InvalidationListener>>,
}

impl Clone for RedisStore {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            listeners: Mutex::new(self.listeners().clone()),
        }
    }
}

struct Inner {
    link: Arc<Link>,
    prefix: String,
    /// `host:port/db`: what `Debug` shows instead of the URL, which may hold a password.
    target: String,
    keeper: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hub = &self.inner.link.hub;
        f.debug_struct("RedisStore")
            .field("target", &self.inner.target)
            .field("prefix", &self.inner.prefix)
            .field("subscribed", &hub.is_subscribed())
            .field("listeners", &hub.listener_count())
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
    /// (default 250 ms). Each try also makes the connection reconnect if Redis is back, and
    /// a try that gets no answer replaces the connection with a new one.
    pub fn resubscribe_interval(mut self, interval: Duration) -> Self {
        self.resubscribe_interval = interval;
        self
    }

    /// How often to `PING` Redis while the subscription is up (default 1 s); an operation
    /// that timed out also triggers one at once. A connection can die silently (a network
    /// partition, a frozen server) without being closed; an unanswered `PING` counts as a
    /// lost subscription, so that caches stop trusting "not revoked" answers for long within
    /// about this interval plus the response timeout, and the connection is replaced by a
    /// new one at once.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Connects, subscribes to the invalidation channel, and starts the task that keeps the
    /// connection and the subscription up. Fails if Redis cannot be reached now; later
    /// outages are survived.
    ///
    /// Every connection gets TCP keepalive and, on Linux, `TCP_USER_TIMEOUT`, unless the
    /// [`ConnectionInfo`] given to [`RedisStore::builder`] sets its own
    /// ([`ConnectionInfo::set_tcp_settings`]).
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
        let tcp = detect_dead_peers(info.tcp_settings().clone());
        let info = info.set_redis_settings(settings).set_tcp_settings(tcp);
        let target = target(&info);
        let client =
            Client::open(info).map_err(|e| StoreError::new("invalid Redis connection info", e))?;

        let hub = Arc::new(Hub::new(format!("{}revocations", self.prefix)));
        let link = Arc::new(
            Link::open(client, hub, self.response_timeout, self.connection_timeout).await?,
        );
        link.within(
            "subscribing to the Redis invalidation channel",
            link.manager().subscribe(link.hub.channel()),
        )
        .await?;

        let keeper = tokio::spawn(keep_connected(
            link.clone(),
            self.resubscribe_interval,
            self.heartbeat_interval,
        ))
        .abort_handle();
        Ok(RedisStore {
            inner: Arc::new(Inner {
                link,
                prefix: self.prefix,
                target,
                keeper,
            }),
            listeners: Mutex::new(Vec::new()),
        })
    }
}

/// TCP keepalive and `TCP_USER_TIMEOUT`, where `settings` has none: the kernel then closes
/// a connection whose peer vanished. The heartbeat catches that sooner while it runs; this
/// also covers idle connections and data stuck unacknowledged.
fn detect_dead_peers(settings: TcpSettings) -> TcpSettings {
    #[cfg(not(target_family = "wasm"))]
    let settings = if settings.keepalive().is_none() {
        let keepalive = redis::io::tcp::socket2::TcpKeepalive::new().with_time(KEEPALIVE_TIME);
        #[cfg(any(target_os = "android", target_os = "linux"))]
        let keepalive = keepalive
            .with_interval(KEEPALIVE_INTERVAL)
            .with_retries(KEEPALIVE_RETRIES);
        settings.set_keepalive(keepalive)
    } else {
        settings
    };
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    let settings = if settings.user_timeout().is_none() {
        settings.set_user_timeout(USER_TIMEOUT)
    } else {
        settings
    };
    settings
}

/// The connection the store uses, replaced by a new one (a new socket) when it stops
/// answering.
///
/// [`ConnectionManager`] reconnects when an error says the connection is gone (closed,
/// reset), but not on a timeout: a connection that silently stopped carrying traffic (a
/// partition, a middlebox that dropped it, a frozen peer) would be used, and time out,
/// forever. So the store holds the current manager in an [`ArcSwap`], and its background
/// task swaps in a new one, connected afresh, when the old one stops answering; each
/// operation uses the manager current when it starts.
struct Link {
    client: Client,
    current: ArcSwap<ConnectionManager>,
    hub: Arc<Hub>,
    /// How many connections were opened before the current one: numbers them, so that the
    /// hub ignores the push frames of one that was replaced.
    opened: AtomicU64,
    response_timeout: Duration,
    connection_timeout: Duration,
    /// The bound on one operation: connecting (if the connection is being re-established)
    /// plus the answer.
    deadline: Duration,
}

impl Link {
    async fn open(
        client: Client,
        hub: Arc<Hub>,
        response_timeout: Duration,
        connection_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let deadline = connection_timeout + response_timeout;
        let config = manager_config(&hub, 0, response_timeout, connection_timeout);
        let manager = within(
            deadline,
            &hub,
            "connecting to Redis",
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await?;
        Ok(Self {
            client,
            current: ArcSwap::from_pointee(manager),
            hub,
            opened: AtomicU64::new(0),
            response_timeout,
            connection_timeout,
            deadline,
        })
    }

    /// A new connection manager, connected, numbered `number` for the hub.
    async fn connect(&self, number: u64) -> Result<ConnectionManager, StoreError> {
        let config = manager_config(
            &self.hub,
            number,
            self.response_timeout,
            self.connection_timeout,
        );
        self.within(
            "connecting to Redis",
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
    }

    /// The current connection manager.
    fn manager(&self) -> ConnectionManager {
        ConnectionManager::clone(&self.current.load())
    }

    /// [`within`] the deadline.
    async fn within<T>(
        &self,
        what: &'static str,
        operation: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        within(self.deadline, &self.hub, what, operation).await
    }

    /// Whether the current connection answers a `PING` within the deadline.
    async fn answers(&self) -> bool {
        let mut connection = self.manager();
        let ping = redis::cmd("PING");
        match tokio::time::timeout(self.deadline, ping.query_async::<()>(&mut connection)).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => answered(&error),
            Err(_) => false,
        }
    }

    /// Sends `SUBSCRIBE` on `connection`: `false` if it did not answer at all (an error
    /// reply is an answer: the connection works).
    async fn subscribe(&self, mut connection: ConnectionManager) -> bool {
        match tokio::time::timeout(self.deadline, connection.subscribe(self.hub.channel())).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => answered(&error),
            Err(_) => false,
        }
    }

    /// Opens a new connection, makes it the current one, and subscribes on it. The old one
    /// is closed once the operations still using it are done. Nothing changes if Redis
    /// cannot be reached.
    async fn replace(&self) {
        let number = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        let manager = match self.connect(number).await {
            Ok(manager) => manager,
            Err(error) => {
                tracing::debug!(target: "tollgate_redis", %error, "no new Redis connection yet");
                return;
            }
        };
        self.hub.switch_to(number);
        self.current.store(Arc::new(manager.clone()));
        tracing::info!(target: "tollgate_redis", "replaced the Redis connection");
        self.subscribe(manager).await;
    }
}

/// The settings of each connection manager: `number` tells the hub which connection its
/// push frames come from.
fn manager_config(
    hub: &Arc<Hub>,
    number: u64,
    response_timeout: Duration,
    connection_timeout: Duration,
) -> ConnectionManagerConfig {
    let frames = hub.clone();
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(connection_timeout))
        // One attempt per reconnection: a request must not wait through a backoff sequence
        // while Redis is down. The keeper task, and requests, start the next attempt.
        .set_number_of_retries(0)
        .set_push_sender(move |frame: PushInfo| {
            frames.on_push(number, frame);
            Ok::<(), Infallible>(())
        })
        .set_automatic_resubscription()
}

/// Awaits `operation` for at most `deadline`: the connection manager bounds each connection
/// attempt and each answer, and this bounds their sum, so a request never hangs on Redis.
/// An operation that timed out wakes the keeper task, which then checks the connection at
/// once rather than at its next heartbeat.
async fn within<T>(
    deadline: Duration,
    hub: &Hub,
    what: &'static str,
    operation: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(deadline, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            if error.is_timeout() {
                hub.wake_keeper();
            }
            Err(StoreError::new(format!("{what} failed"), error))
        }
        Err(elapsed) => {
            hub.wake_keeper();
            Err(StoreError::new(
                format!("{what}: no answer within {deadline:?}"),
                elapsed,
            ))
        }
    }
}

/// Whether `error` is an answer from Redis (so the connection works), not the lack of one.
fn answered(error: &RedisError) -> bool {
    matches!(
        error.kind(),
        redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
    )
}

/// Keeps the connection and the invalidation subscription up, and notices when they
/// silently are not.
///
/// While the subscription is up, it sends a `PING` every `heartbeat` (and at once when an
/// operation timed out): a connection that does not answer counts as lost, even if it was
/// never closed, and is replaced by a new one right away. While the subscription is lost
/// (the connection dropped, Redis is down), it sends `SUBSCRIBE` every `resubscribe`
/// interval, so that it comes back without any request traffic; if that gets no answer, it
/// replaces the connection. A redundant `SUBSCRIBE` is harmless. The task holds no
/// reference to the store, and is aborted when the store is dropped.
async fn keep_connected(link: Arc<Link>, resubscribe: Duration, heartbeat: Duration) {
    let hub = link.hub.clone();
    loop {
        if hub.is_subscribed() {
            // Until the heartbeat is due, the subscription is lost, or an operation timed
            // out.
            let _ = tokio::time::timeout(heartbeat, hub.woken()).await;
            if !hub.is_subscribed() || link.answers().await {
                continue;
            }
            hub.suspect();
            link.replace().await;
            continue;
        }
        tokio::time::sleep(resubscribe).await;
        if hub.is_subscribed() {
            continue;
        }
        // Failures are expected while Redis is down; the hub reports the state.
        if !link.subscribe(link.manager()).await {
            link.replace().await;
        }
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
        self.inner.link.hub.channel()
    }

    /// Whether this store is subscribed to the invalidation channel right now.
    pub fn is_subscribed(&self) -> bool {
        self.inner.link.hub.is_subscribed()
    }

    fn listeners(&self) -> MutexGuard<'_, Vec<InvalidationListener>> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
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
        let link = &self.inner.link;
        let mut connection = link.manager();
        link.within(what, pipe.exec_async(&mut connection)).await
    }

    /// Stores `value` until `until` with [`PUT_SCRIPT`] (never weakening what is stored),
    /// and the announcement; nothing when `until` has passed.
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
        pipe.cmd("EVAL")
            .arg(PUT_SCRIPT)
            .arg(1)
            .arg(key)
            .arg(value)
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
        let link = &self.inner.link;
        let mut connection = link.manager();
        let values: Vec<Option<Vec<u8>>> = link
            .within(
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

    /// A `PING` over the current connection, within the response and connection timeouts.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let link = &self.inner.link;
            let mut connection = link.manager();
            link.within(
                "pinging Redis",
                redis::cmd("PING").query_async::<()>(&mut connection),
            )
            .await
        })
    }

    /// Registers `listener` for as long as this value, or a clone made of it since, is
    /// alive (see [`RedisStore`]).
    fn subscribe(&self, listener: InvalidationListener) -> bool {
        // Never both locks at once: the hub calls listeners with its lock held.
        self.listeners().push(listener.clone());
        self.inner.link.hub.add_listener(&listener);
        true
    }
}

/// `host:port/db`, without the credentials.
fn target(info: &ConnectionInfo) -> String {
    format!("{}/{}", info.addr(), info.redis_settings().db())
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
