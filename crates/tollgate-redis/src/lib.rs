//! A Redis [`RevocationStore`](tollgate::RevocationStore) for tollgate: revocations shared
//! by every instance of a service, each one told at once of changes made by the others.
//!
//! [`RedisStore`] keeps revocations in Redis with its native expiry, and publishes every
//! change on a pub/sub channel to which each store subscribes. Put a
//! [`tollgate::CachingStore`] in front of it: most requests are then answered from memory,
//! a revocation made on one instance reaches every other instance's cache as soon as Redis
//! delivers the message, and while the subscription is down the cache trusts "not revoked"
//! answers for its short bound only (1 s by default).
//!
//! # Example
//! ```no_run
//! use axum::{Router, routing::get};
//! use tollgate::{Algorithm, CachingStore, Key, RevocationStore, Verifier};
//! use tollgate_axum::AuthLayer;
//! use tollgate_redis::RedisStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .key(Key::hmac(b"a 32-byte secret for HS256 tokens", Algorithm::HS256)?)
//!     .issuer("https://auth.example")
//!     .audience("orders-api")
//!     .build()?;
//! let store = CachingStore::new(RedisStore::connect("redis://127.0.0.1:6379/").await?);
//! let app: Router = Router::new()
//!     .route("/orders", get(|| async { "orders" }))
//!     .layer(AuthLayer::new(verifier).revocation(store.clone()));
//!
//! // Elsewhere, e.g. in a logout handler: every instance refuses the token from now on
//! // (`tollgate::revocation::revoke` does this for a verified token).
//! store
//!     .revoke_token("https://auth.example", Some("alice"), "the token's jti", 1_900_000_000)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Redis as it is deployed
//!
//! | where | how |
//! |---|---|
//! | one server | [`RedisStore::builder`]`("redis://host:6379/")` |
//! | TLS (ElastiCache with in-transit encryption, Azure Cache, Upstash, Memorystore) | a `rediss://` URL; the system's roots, or [`ca_file`](RedisStoreBuilder::ca_file); mutual TLS with [`client_certificate_files`](RedisStoreBuilder::client_certificate_files) |
//! | an ACL user | `rediss://user:password@host/`, or [`username`](RedisStoreBuilder::username) and [`password`](RedisStoreBuilder::password) |
//! | Redis Cluster (ElastiCache cluster mode, ElastiCache Serverless, MemoryDB) | [`RedisStore::cluster`]`(["rediss://node:6379/"])` |
//! | Sentinel | [`RedisStore::sentinel`]`(["redis://sentinel:26379/"], "mymaster")` |
//!
//! Services configured by the environment use [`RedisStoreBuilder::from_env`], which reads
//! the same settings from `TOLLGATE_REDIS_*` variables. TLS uses rustls (no OpenSSL), with
//! host name verification; a certificate that does not verify fails the connection with
//! the reason, never a plain-text fallback, and a URL that would turn verification off
//! (`#insecure`) is refused.
//!
//! The ACL user needs the commands and keys below (with the default prefix; `&` is the
//! channel):
//!
//! ```text
//! ACL SETUSER tollgate on >PASSWORD resetkeys ~tollgate:* resetchannels &tollgate:revocations
//!     -@all +get +set +del +mget +pttl +eval +time +publish +spublish +subscribe +ssubscribe
//!     +ping +wait +role +hello +auth +command|info +cluster|slots +cluster|shards
//! ```
//!
//! Redis 6.2 or later (for RESP3 and `SET … EXAT`), or Valkey. On Debian or Ubuntu:
//! `apt-get install redis-server`; elsewhere `docker run -p 6379:6379 redis`.
//!
//! # How it works
//!
//! - **Keys**: a token's revocation is `{prefix}{{len(iss)}:{iss}{len(sub)}:{sub}}t:{id}`,
//!   a subject's cut-off is `{prefix}{{len(iss)}:{iss}{len(sub)}:{sub}}s` holding the
//!   cut-off time. The braces are a hash tag: both keys of a token sit in one Redis
//!   Cluster slot, so a lookup is one `MGET` on one node. Every part is length-prefixed, so
//!   no two (issuer, subject, id) triples share a key. Both expire natively (`EXAT
//!   until`), so Redis forgets them when the token has expired; a revocation whose `until`
//!   has passed is not stored at all. This is why
//!   [`revoke_token`](tollgate::RevocationStore::revoke_token) takes the token's subject.
//! - **Upgrading from tollgate-redis 0.1**, whose keys were `{prefix}t:…` and
//!   `{prefix}s:…`: on one server and with Sentinel, lookups also read the old keys
//!   ([`read_legacy_keys`](RedisStoreBuilder::read_legacy_keys), on by default there), and
//!   removals delete both, so no revocation made before the upgrade is lost. New
//!   revocations use the new keys only. Every old key expires with the token it revokes,
//!   at the latest after the longest token lifetime plus the leeway: then turn
//!   `read_legacy_keys` off (`TOLLGATE_REDIS_LEGACY_KEYS=false`) to save two keys per
//!   lookup. `redis-cli --scan --pattern 'tollgate:[ts]:*'` lists the old keys left. 0.1
//!   could not run on a cluster, so a cluster has no old keys to read.
//! - **Writes never weaken a revocation**: a small Lua script (`EVAL`) compares with what
//!   is stored and keeps the later cut-off and the later expiry, atomically, whatever the
//!   order of the calls. Revoking a subject's tokens before T2 and then (late, or from
//!   another instance) before T1 < T2 still refuses the tokens issued between T1 and T2.
//! - **Lookups**: one `MGET` of both keys per [`check`](tollgate::RevocationStore::check),
//!   one round trip, on a cluster too.
//! - **Replicas**: with [`wait_for_replicas`](RedisStoreBuilder::wait_for_replicas) (1 by
//!   default on a cluster and with Sentinel), each write is followed by `WAIT`, and one
//!   that too few replicas acknowledged is an error: a failover that promotes a replica
//!   does not lose a revocation reported as made.
//! - **Push invalidation**: each change is written together with a `PUBLISH` on
//!   `{prefix}revocations` (one pipelined round trip), carrying a small JSON message
//!   naming the token or subject. On a cluster whose servers have sharded pub/sub (Redis 7,
//!   Valkey) the channel is a sharded one (`SPUBLISH`, `SSUBSCRIBE`): a classic `PUBLISH`
//!   is copied to every node of the cluster over its bus, a sharded one only to the
//!   channel's shard, where every store subscribes; the crate follows the channel's slot
//!   after a failover or a resharding. `SPUBLISH` then follows the write (the channel has
//!   its own slot), a second round trip, for writes only. Older servers get classic
//!   pub/sub. Every store's listeners receive it — the store's own
//!   changes included — as an [`Invalidation`](tollgate::revocation::Invalidation). A
//!   listener stays registered as long as the store value it was registered through (or a
//!   clone made of that value since) is alive, so caches that come and go leave nothing
//!   behind.
//! - **Outages**: every operation is bounded by the connection and response timeouts
//!   (1 s + 500 ms by default), after which it fails with a
//!   [`StoreError`](tollgate::revocation::StoreError) and the layer applies its
//!   store-failure policy. The connection is re-established by itself; listeners get
//!   `Disconnected` when the subscription drops and `Connected` when it is back.
//! - **Failover**: on a cluster, the connection follows `MOVED` and `ASK` and the new
//!   topology; with Sentinel, the store asks the Sentinels for the master at every
//!   connection, and its heartbeat asks the server its `ROLE`: a master demoted under the
//!   store counts as a lost connection, replaced by one to the new master. Meanwhile
//!   operations fail (the layer's store-failure policy applies: 503 by default) and caches
//!   stop trusting "not revoked".
//! - **Silently dead connections**: a connection that stops answering without being
//!   closed (a partition, a middlebox that dropped it, a frozen server) is caught by a
//!   heartbeat `PING` every [`heartbeat_interval`](RedisStoreBuilder::heartbeat_interval)
//!   (1 s), or at once after an operation timed out. It then counts as lost, so a cache
//!   does not go on trusting "not revoked" for its long bound, and is **replaced by a new
//!   connection** (a new socket), on which the store resubscribes; lookups use the new one
//!   from then on. Each connection also gets TCP keepalive and, on Linux,
//!   `TCP_USER_TIMEOUT` (10 s), unless the [`redis::ConnectionInfo`] sets its own.
//! - **Messages**: one this version cannot read (a newer peer, something else publishing
//!   on the channel) is treated as a gap: listeners get `Disconnected` then `Connected`, so
//!   a cache drops every "not revoked" answer it could have changed.
//!
//! ## Why one RESP3 connection, not a dedicated pub/sub connection
//!
//! Each store holds a single connection in RESP3 mode (a [`redis::aio::ConnectionManager`], or on a cluster a [`redis::cluster_async::ClusterConnection`]); lookups,
//! writes and the subscription share it, and pub/sub messages arrive as push frames on it.
//! The manager already reconnects, resubscribes after a reconnect, and reports each lost
//! connection as a `Disconnection` frame, in order with the messages — so `Disconnected`
//! and `Connected` describe exactly the connection the lookups use, with one socket per
//! instance instead of two.
//!
//! What the manager does not do is keep retrying while Redis stays down and nothing is
//! sent, nor reconnect when answers time out (a timeout is not an error that says the
//! connection is gone, so a silently dead socket would be used forever). A small
//! background task covers both: while the subscription is lost it sends `SUBSCRIBE` every
//! [`resubscribe_interval`](RedisStoreBuilder::resubscribe_interval) (250 ms), which
//! reconnects and resubscribes as soon as Redis is back, without request traffic; when the
//! connection does not answer (the heartbeat, or that `SUBSCRIBE`), it connects a new
//! manager and swaps it in atomically (an `ArcSwap`), ignoring from then on the frames of
//! the old one, which is closed once the operations still using it are done. The task
//! holds no reference to the store and is aborted when the last clone of the store is
//! dropped.
//!
//! # Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `aws_lc_rs` | yes | crypto through aws-lc-rs (see the `tollgate` crate) |
//! | `rust_crypto` | no | crypto through the pure-Rust RustCrypto crates |

mod builder;
mod connection;
mod keys;
mod link;
mod push;
mod store;

pub use builder::{
    DEFAULT_CONNECTION_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_KEY_PREFIX,
    DEFAULT_RESPONSE_TIMEOUT, DEFAULT_RESUBSCRIBE_INTERVAL, RedisStoreBuilder,
};
pub use store::{RedisStore, StoredKey};

/// The `redis` crate this store is built on, for naming its types (e.g. a
/// [`redis::ConnectionInfo`] for [`RedisStore::builder`]) without a version mismatch.
pub use redis;
