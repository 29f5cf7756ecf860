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

/// Hashes a token by its last 16 bytes and its length, mixed with a per-process random
/// seed by folded multiplication.
///
/// A token ends in its signature, so its tail is as good as random among valid tokens (the
/// only ones ever inserted), and hashing the whole token (700 bytes for RS256) with SipHash
/// would cost more than the rest of a hit. Entries are still found and compared by the
/// *whole* token: two tokens with one tail merely share a bucket. A client choosing tails
/// can only make its own lookups land in an occupied bucket (one more comparison each); it
/// cannot insert.
#[derive(Clone)]
struct TailHash {
    seed: u64,
}

impl Default for TailHash {
    fn default() -> Self {
        use std::hash::BuildHasher as _;
        Self {
            seed: std::hash::RandomState::new().hash_one(0x746f_6c6c_6761_7465_u64),
        }
    }
}

impl std::hash::BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher { state: self.seed }
    }
}

struct TailHasher {
    state: u64,
}

/// The two halves of the 128-bit product, folded: a cheap, well-mixing step.
fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl std::hash::Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: [u64; 2] = [0x9e37_79b9_7f4a_7c15, 0xd6e8_feb8_6659_fd93];
        let tail = &bytes[bytes.len().saturating_sub(16)..];
        let (a, b) = tail.split_at(tail.len().min(8));
        let word = |part: &[u8]| {
            let mut buf = [0u8; 8];
            buf[..part.len()].copy_from_slice(part);
            u64::from_le_bytes(buf)
        };
        self.state =
            fold_mul(self.state ^ word(a) ^ bytes.len() as u64, K[0] ^ word(b)).wrapping_add(K[1]);
    }

    fn finish(&self) -> u64 {
        fold_mul(self.state, 0xff51_afd7_ed55_8ccd)
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

#[cfg(test)]
mod tests {
    use super::TailHash;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn tail_hash_is_stable_and_spreads_distinct_tails() {
        let hasher = TailHash::default();
        let token = |i: u32| format!("eyJhbGciOiJIUzI1NiJ9.e30.signature-{i:08x}-tail");
        assert_eq!(hasher.hash_one(token(7)), hasher.hash_one(token(7)));
        assert_eq!(hasher.hash_one("ab"), hasher.hash_one(String::from("ab")));
        let hashes: HashSet<u64> = (0..10_000).map(|i| hasher.hash_one(token(i))).collect();
        assert_eq!(hashes.len(), 10_000);
        // Short keys (shorter than the tail) hash too, by length as well as content.
        assert_ne!(hasher.hash_one(""), hasher.hash_one("\0"));
        // Another process (another seed) spreads them differently.
        assert_ne!(
            TailHash::default().hash_one(token(1)),
            hasher.hash_one(token(1))
        );
    }
}
