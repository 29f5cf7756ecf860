//! [`RedisStore`]: the revocation store, its lookups and its writes.

use crate::builder::RedisStoreBuilder;
use crate::keys::Keys;
use crate::link::Link;
use crate::push::Message;
use redis::IntoConnectionInfo;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::AbortHandle;
use tollgate::now_secs;
use tollgate::revocation::{
    BoxFuture, InvalidationListener, RevocationStore, Status, StoreError, TokenRef,
};

/// The latest expiry Redis accepts for `SET … EXAT` is far beyond any real token; `until`
/// is capped at the end of year 9999 so that a token with an absurd `exp` can still be
/// revoked instead of failing with "invalid expire time".
const MAX_EXAT: u64 = 253_402_300_799;

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

/// What the clones of a store share.
pub(crate) struct Inner {
    pub(crate) link: Arc<Link>,
    pub(crate) keys: Keys,
    /// The addresses (`host:port/db`, the cluster's seeds, the Sentinels): what `Debug`
    /// shows instead of the URLs, which may hold a password.
    pub(crate) target: String,
    /// How many replicas must acknowledge a write (`WAIT`); 0: none.
    pub(crate) replicas: u32,
    /// How long `WAIT` waits for them.
    pub(crate) wait_timeout: Duration,
    /// Whether lookups also read the keys of tollgate-redis 0.1.
    pub(crate) legacy_keys: bool,
    pub(crate) keeper: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        let hub = &inner.link.hub;
        f.debug_struct("RedisStore")
            .field("target", &inner.target)
            .field("prefix", &inner.keys.prefix())
            .field("subscribed", &hub.is_subscribed())
            .field("sharded_pubsub", &inner.link.sharded())
            .field("wait_for_replicas", &inner.replicas)
            .field("read_legacy_keys", &inner.legacy_keys)
            .field("listeners", &hub.listener_count())
            .finish_non_exhaustive()
    }
}

/// A key as Redis holds it: see [`RedisStore::read`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredKey {
    /// The value: `1` for a token; for a subject, the cut-off (seconds since the epoch).
    pub value: String,
    /// When Redis forgets it (seconds since the epoch); `None` if never.
    pub expires_at: Option<u64>,
}

impl RedisStore {
    /// Connects to one server at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `rediss://…` for TLS) with the defaults. See [`RedisStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// A builder for a store on one server at `target`: a URL, or a
    /// [`redis::ConnectionInfo`]. A managed endpoint that proxies a cluster to its clients
    /// is one server to the store.
    pub fn builder(target: impl IntoConnectionInfo) -> RedisStoreBuilder {
        RedisStoreBuilder::node(target)
    }

    /// A builder for a store on a Redis Cluster (ElastiCache with cluster mode on,
    /// ElastiCache Serverless, MemoryDB, a self-run cluster), reached through any of
    /// `nodes` (URLs or [`redis::ConnectionInfo`]s; one is enough, more survive the loss of
    /// one).
    pub fn cluster<T: IntoConnectionInfo>(nodes: impl IntoIterator<Item = T>) -> RedisStoreBuilder {
        RedisStoreBuilder::cluster(nodes)
    }

    /// A builder for a store on the master that `sentinels` monitor under `master_name`.
    /// The store asks the Sentinels for the master at every connection, and reconnects to
    /// the new one after a failover.
    pub fn sentinel<T: IntoConnectionInfo>(
        sentinels: impl IntoIterator<Item = T>,
        master_name: impl Into<String>,
    ) -> RedisStoreBuilder {
        RedisStoreBuilder::sentinel(sentinels, master_name)
    }

    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
            listeners: Mutex::new(Vec::new()),
        }
    }

    /// The prefix of this store's keys.
    pub fn key_prefix(&self) -> &str {
        self.inner.keys.prefix()
    }

    /// The Redis key of a token's revocation:
    /// `{prefix}{{len(issuer)}:{issuer}{len(subject)}:{subject}}t:{id}`, or with `-` in
    /// place of the subject's part for a token without one. The braces are a hash tag:
    /// the token's key and its subject's key are in one cluster slot.
    pub fn token_key(&self, issuer: &str, subject: Option<&str>, id: &str) -> String {
        self.inner.keys.token(issuer, subject, id)
    }

    /// The Redis key of a subject's cut-off:
    /// `{prefix}{{len(issuer)}:{issuer}{len(subject)}:{subject}}s`.
    pub fn subject_key(&self, issuer: &str, subject: &str) -> String {
        self.inner.keys.subject(issuer, subject)
    }

    /// The pub/sub channel invalidations are published on: `{prefix}revocations` (a
    /// sharded channel on a cluster whose servers have sharded pub/sub).
    pub fn channel(&self) -> &str {
        self.inner.link.hub.channel()
    }

    /// Whether this store is subscribed to the invalidation channel right now.
    pub fn is_subscribed(&self) -> bool {
        self.inner.link.hub.is_subscribed()
    }

    /// Whether invalidations go through sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`): on a
    /// cluster whose servers have it.
    pub fn uses_sharded_pubsub(&self) -> bool {
        self.inner.link.sharded()
    }

    /// Reads `key` (from [`token_key`](Self::token_key) or
    /// [`subject_key`](Self::subject_key)) as stored, with its expiry, over the store's
    /// connection: what [`check`](RevocationStore::check) cannot tell, e.g. a subject's
    /// cut-off time.
    pub async fn read(&self, key: &str) -> Result<Option<StoredKey>, StoreError> {
        let link = &self.inner.link;
        let mut connection = link.connection();
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(key).cmd("PTTL").arg(key);
        let (value, ttl): (Option<String>, i64) = link
            .within(
                "reading a revocation from Redis",
                pipe.query_async(&mut connection),
            )
            .await?;
        let now = now_secs();
        Ok(value.map(|value| StoredKey {
            value,
            expires_at: u64::try_from(ttl).ok().map(|ms| now + ms.div_ceil(1000)),
        }))
    }

    fn listeners(&self) -> MutexGuard<'_, Vec<InvalidationListener>> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `changes` and announces them with `message`, in one round trip on one server.
    /// On a cluster the channel has a slot of its own, which a pipeline cannot share with
    /// the change's: the announcement (`SPUBLISH`, or `PUBLISH` without sharded pub/sub)
    /// follows, once Redis has the change.
    ///
    /// A plain pipeline, not `MULTI`/`EXEC`: Redis 7.0 embeds a RESP3 push raised inside a
    /// transaction in the `EXEC` reply, so the connection's own subscription would never
    /// see its own announcement. Redis runs a connection's commands in order, so the
    /// `PUBLISH` still follows the write, and a failure of either is the caller's error.
    ///
    /// With [`wait_for_replicas`](RedisStoreBuilder::wait_for_replicas), `WAIT` follows
    /// the changes on the same node; a change too few replicas acknowledged is announced all
    /// the same (the primary has it), then reported as an error.
    async fn write(
        &self,
        changes: Vec<redis::Cmd>,
        message: Message,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let inner = &*self.inner;
        let link = &inner.link;
        let mut announce = redis::cmd(if link.sharded() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        });
        announce.arg(self.channel()).arg(message.encode());
        let mut pipe = redis::pipe();
        for change in changes {
            pipe.add_command(change).ignore();
        }
        if inner.replicas > 0 {
            let timeout = u64::try_from(inner.wait_timeout.as_millis()).unwrap_or(u64::MAX);
            pipe.cmd("WAIT").arg(inner.replicas).arg(timeout.max(1));
        }
        let separately = link.is_cluster();
        if !separately {
            pipe.add_command(announce.clone()).ignore();
        }
        let mut connection = link.connection();
        let acknowledged: Vec<u64> = link.within(what, pipe.query_async(&mut connection)).await?;
        if separately {
            link.within(
                "announcing a stored revocation (it is stored: retry to announce it)",
                announce.query_async::<()>(&mut connection),
            )
            .await?;
        }
        if inner.replicas > 0 {
            let replicas = acknowledged.first().copied().unwrap_or(0);
            if replicas < u64::from(inner.replicas) {
                return Err(StoreError::msg(format!(
                    "{what}: the primary has it, but {replicas} of the {} replicas required \
                     acknowledged it within {:?}, so a failover could lose it: retry \
                     (or lower wait_for_replicas, TOLLGATE_REDIS_WAIT_REPLICAS, if the primary \
                     has fewer replicas)",
                    inner.replicas, inner.wait_timeout
                )));
            }
        }
        Ok(())
    }

    /// Stores `value` under `key` until `until` with [`PUT_SCRIPT`] (never weakening what
    /// is stored), and announces it; nothing when `until` has passed. While lookups read
    /// the 0.1 layout, the revocation goes under its `legacy` key too, so that instances
    /// not yet upgraded see it during a rolling upgrade.
    async fn put(
        &self,
        key: String,
        legacy: String,
        value: u64,
        until: u64,
        message: Message,
        what: &'static str,
    ) -> Result<(), StoreError> {
        if until <= now_secs() {
            return Ok(());
        }
        let eval = |key: String| {
            let mut change = redis::cmd("EVAL");
            change
                .arg(PUT_SCRIPT)
                .arg(1)
                .arg(key)
                .arg(value)
                .arg(until.min(MAX_EXAT));
            change
        };
        let mut changes = vec![eval(key)];
        if self.inner.legacy_keys {
            changes.push(eval(legacy));
        }
        self.write(changes, message, what).await
    }

    /// Deletes `key`, and under the old layout `legacy` too when lookups read it.
    async fn delete(
        &self,
        key: String,
        legacy: String,
        message: Message,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let mut change = redis::cmd("DEL");
        change.arg(key);
        if self.inner.legacy_keys {
            change.arg(legacy);
        }
        self.write(vec![change], message, what).await
    }

    async fn lookup(&self, token: &TokenRef) -> Result<Status, StoreError> {
        let inner = &*self.inner;
        let keys = &inner.keys;
        let subject = token.subject.as_deref();
        // Per layout: the token's key, then its subject's.
        let mut names = Vec::with_capacity(4);
        names.push(keys.token(&token.issuer, subject, &token.id));
        names.extend(subject.map(|s| keys.subject(&token.issuer, s)));
        if inner.legacy_keys {
            names.push(keys.legacy_token(&token.issuer, &token.id));
            names.extend(subject.map(|s| keys.legacy_subject(&token.issuer, s)));
        }
        let mut mget = redis::cmd("MGET");
        mget.arg(&names);
        let link = &inner.link;
        let mut connection = link.connection();
        let values: Vec<Option<Vec<u8>>> = link
            .within(
                "looking up a revocation in Redis",
                mget.query_async(&mut connection),
            )
            .await?;
        if values.len() != names.len() {
            return Err(StoreError::msg(format!(
                "Redis answered MGET of {} keys with {} values",
                names.len(),
                values.len()
            )));
        }
        let per_layout = 1 + usize::from(subject.is_some());
        let mut token_revoked = false;
        let mut cutoff: Option<u64> = None;
        for (at, value) in values.iter().enumerate() {
            let Some(raw) = value else { continue };
            if at % per_layout == 0 {
                token_revoked = true;
            } else {
                let parsed = parse_cutoff(raw).ok_or_else(|| {
                    StoreError::msg(format!(
                        "malformed subject cut-off under Redis key {:?}: expected seconds since the epoch",
                        names[at]
                    ))
                })?;
                cutoff = Some(cutoff.map_or(parsed, |c| c.max(parsed)));
            }
        }
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
        subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.put(
            self.token_key(issuer, subject, id),
            self.inner.keys.legacy_token(issuer, id),
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
            self.inner.keys.legacy_subject(issuer, subject),
            before,
            until,
            Message::subject(issuer, subject),
            "revoking a subject's tokens in Redis",
        ))
    }

    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete(
            self.token_key(issuer, subject, id),
            self.inner.keys.legacy_token(issuer, id),
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
            self.inner.keys.legacy_subject(issuer, subject),
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
            let mut connection = link.connection();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_parse_strictly() {
        assert_eq!(parse_cutoff(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_cutoff(b"-1"), None);
        assert_eq!(parse_cutoff(b"17e8"), None);
        assert_eq!(parse_cutoff(b"\xff"), None);
    }
}
