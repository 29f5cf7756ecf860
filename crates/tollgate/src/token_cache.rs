//! The verified-token cache of a [`crate::Verifier`]: tokens that passed every rule, keyed
//! by the full token string, so that a repeat token skips decoding and the signature check.
//!
//! Only tokens that passed every rule are inserted, so forged or random tokens cannot fill
//! it. Each entry lives at most until the token's `exp` plus the leeway, and at most the
//! configured bound; the number of entries is bounded too. On a hit the time rules (`exp`,
//! `nbf`, `iat`) are checked again against the caller's `now`; every other rule depends
//! only on the token and the verifier's configuration, both unchanged since the insertion.

use crate::claims::VerifiedToken;
use crate::now_secs;
use moka::Expiry;
use moka::sync::Cache;
use std::time::{Duration, Instant};

/// Suggested bound on the number of cached tokens: 10 000.
pub const DEFAULT_TOKEN_CACHE_ENTRIES: u64 = 10_000;
/// Suggested bound on how long a token stays cached: 60 seconds.
pub const DEFAULT_TOKEN_CACHE_TTL: Duration = Duration::from_secs(60);

/// One verified token.
#[derive(Clone)]
pub(crate) struct Cached {
    /// Shared with every request it answers: a hit copies nothing.
    pub(crate) token: VerifiedToken<()>,
    /// How long the entry lives: min(remaining lifetime, the configured bound).
    ttl: Duration,
    /// The remote key set the token was verified against (feature `remote`): a hit is
    /// trusted only while that set is still the current one.
    #[cfg(feature = "remote")]
    pub(crate) remote_keys: Option<std::sync::Weak<crate::KeySet>>,
}

struct TtlExpiry;

impl Expiry<String, Cached> for TtlExpiry {
    fn expire_after_create(&self, _: &String, cached: &Cached, _: Instant) -> Option<Duration> {
        Some(cached.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        cached: &Cached,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(cached.ttl)
    }
}

pub(crate) struct TokenCache {
    cache: Cache<String, Cached, TailHash>,
    max_ttl: Duration,
}

/// Hashes a token by its last [`TailHash::TAIL`] bytes and its length, with std's keyed
/// SipHash.
///
/// A token ends in its signature, so its tail is as good as random among valid tokens (the
/// only ones ever inserted) and hashing the whole token (700 bytes for RS256) would cost
/// more than the rest of a hit. Entries are still found and compared by the *whole* token:
/// two tokens with one tail merely share a bucket. A client choosing tails can only make
/// its own lookups collide with cached tokens (one more comparison each); it cannot insert.
#[derive(Clone, Default)]
struct TailHash(std::hash::RandomState);

impl TailHash {
    const TAIL: usize = 32;
}

impl std::hash::BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher(std::hash::DefaultHasher);

impl std::hash::Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0
            .write(&bytes[bytes.len().saturating_sub(TailHash::TAIL)..]);
        self.0.write_usize(bytes.len());
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("max_entries", &self.cache.policy().max_capacity())
            .field("max_ttl", &self.max_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub(crate) fn new(max_entries: u64, max_ttl: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(max_entries)
                .expire_after(TtlExpiry)
                .build_with_hasher(TailHash::default()),
            max_ttl,
        }
    }

    pub(crate) fn get(&self, token: &str) -> Option<Cached> {
        self.cache.get(token)
    }

    pub(crate) fn remove(&self, token: &str) {
        self.cache.invalidate(token);
    }

    /// Caches `verified` for at most the configured bound and never past its `exp` plus the
    /// leeway, counted on the real clock (whatever `now` it was verified at). A token with
    /// nothing left of its lifetime is not cached.
    pub(crate) fn insert(
        &self,
        token: &str,
        verified: &VerifiedToken<()>,
        #[cfg(feature = "remote")] remote_keys: Option<std::sync::Weak<crate::KeySet>>,
    ) {
        let ttl = match verified.accepted_until() {
            Some(until) => Duration::from_secs(until.saturating_sub(now_secs())).min(self.max_ttl),
            None => self.max_ttl,
        };
        if ttl.is_zero() {
            return;
        }
        self.cache.insert(
            token.to_owned(),
            Cached {
                token: verified.clone(),
                ttl,
                #[cfg(feature = "remote")]
                remote_keys,
            },
        );
    }

    /// The number of entries, after pending evictions and expirations were applied.
    pub(crate) fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    pub(crate) fn clear(&self) {
        self.cache.invalidate_all();
        self.cache.run_pending_tasks();
    }
}
