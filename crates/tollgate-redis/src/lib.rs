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
//! // Elsewhere, e.g. in a logout handler: every instance refuses the token from now on.
//! store.revoke_token("https://auth.example", "the token's jti", 1_900_000_000).await?;
//! # Ok(()) }
//! ```
//!
//! # Getting Redis
//!
//! Redis 6.2 or later (for RESP3 and `SET … EXAT`; writes run a Lua script with `EVAL`). On Debian or Ubuntu:
//! `apt-get install redis-server`, then `redis-server --port 6379` (or use the system
//! service); elsewhere `docker run -p 6379:6379 redis`.
//!
//! # How it works
//!
//! - **Keys**: a token's revocation is `{prefix}t:{len(issuer)}:{issuer}{id}`, a subject's
//!   cut-off is `{prefix}s:{len(issuer)}:{issuer}{subject}` holding the cut-off time. The
//!   issuer is length-prefixed, so no two (issuer, name) pairs share a key. Both expire
//!   natively (`EXAT until`), so Redis forgets them when the token has expired; a
//!   revocation whose `until` has passed is not stored at all.
//! - **Writes never weaken a revocation**: a small Lua script (`EVAL`) compares with what
//!   is stored and keeps the later cut-off and the later expiry, atomically, whatever the
//!   order of the calls. Revoking a subject's tokens before T2 and then (late, or from
//!   another instance) before T1 < T2 still refuses the tokens issued between T1 and T2.
//! - **Lookups**: one `MGET` of both keys per [`check`](tollgate::RevocationStore::check),
//!   one round trip.
//! - **Push invalidation**: each change is written together with a `PUBLISH` on
//!   `{prefix}revocations` (one pipelined round trip), carrying a small JSON message
//!   naming the token or subject. Every store's listeners receive it — the store's own
//!   changes included — as an [`Invalidation`](tollgate::revocation::Invalidation). A
//!   listener stays registered as long as the store value it was registered through (or a
//!   clone made of that value since) is alive, so caches that come and go leave nothing
//!   behind.
//! - **Outages**: every operation is bounded by the connection and response timeouts
//!   (1 s + 500 ms by default), after which it fails with a
//!   [`StoreError`](tollgate::revocation::StoreError) and the layer applies its
//!   store-failure policy. The connection is re-established by itself; listeners get
//!   `Disconnected` when the subscription drops and `Connected` when it is back.
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
//! Each store holds a single [`redis::aio::ConnectionManager`] in RESP3 mode; lookups,
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

mod push;
mod store;

pub use store::{
    DEFAULT_CONNECTION_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_KEY_PREFIX,
    DEFAULT_RESPONSE_TIMEOUT, DEFAULT_RESUBSCRIBE_INTERVAL, RedisStore, RedisStoreBuilder,
};

/// The `redis` crate this store is built on, for naming its types (e.g. a
/// [`redis::ConnectionInfo`] for [`RedisStore::builder`]) without a version mismatch.
pub use redis;
