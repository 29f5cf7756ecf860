//! [`CachingStore`]: a bounded moka cache in front of any [`RevocationStore`].

use super::{
    BoxFuture, Invalidation, InvalidationListener, RevocationStore, Status, StoreError, TokenRef,
    decimal, entry_key, now_secs, with_entry_key, with_entry_key_parts,
};
use moka::Expiry;
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// Default bound on how long a "not revoked" answer is trusted while the backend pushes
/// invalidations: pushes, not this bound, make revocations visible.
pub const DEFAULT_ACTIVE_TTL_WITH_PUSH: Duration = Duration::from_secs(60);
/// Default bound on how long a "not revoked" answer is trusted when the backend cannot
/// push, or its push channel is down: the worst-case staleness of a revocation.
pub const DEFAULT_ACTIVE_TTL: Duration = Duration::from_secs(1);
/// Default maximum number of cached answers.
pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;

/// One cached answer for one token.
#[derive(Debug, Clone)]
struct Cached {
    status: Status,
    /// The token's `exp`: no answer outlives the token.
    until: u64,
    /// How long an `Active` answer is trusted, fixed when it was cached.
    active_ttl: Duration,
    /// Hash of the token's issuer and id, so that a token's revocation forgets every answer
    /// for that id (a collision only forgets more).
    token: u64,
    /// Hash of the token's issuer and subject, so that a subject's cut-off forgets only
    /// that subject's answers (a collision only forgets more).
    subject: u64,
}

fn hash_of(issuer: &str, name: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    issuer.hash(&mut hasher);
    name.hash(&mut hasher);
    hasher.finish()
}

struct CachedExpiry;

impl CachedExpiry {
    fn lifetime(cached: &Cached) -> Option<Duration> {
        let to_exp = Duration::from_secs(cached.until.saturating_sub(now_secs()));
        Some(match cached.status {
            Status::Active => to_exp.min(cached.active_ttl),
            _ => to_exp,
        })
    }
}

impl Expiry<String, Cached> for CachedExpiry {
    fn expire_after_create(&self, _: &String, cached: &Cached, _: Instant) -> Option<Duration> {
        Self::lifetime(cached)
    }

    fn expire_after_update(
        &self,
        _: &String,
        cached: &Cached,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Self::lifetime(cached)
    }
}

type Inflight = Arc<OnceCell<Result<Status, Arc<StoreError>>>>;

struct Shared<S> {
    store: S,
    cache: Cache<String, Cached>,
    /// One cell per token whose answer is being fetched: concurrent misses share it.
    inflight: Mutex<HashMap<String, Inflight>>,
    /// Bumped by every invalidation. A fetch that started before one does not cache its
    /// answer: it may predate the revocation that was just pushed.
    generation: AtomicU64,
    /// Whether the backend's push channel is up right now.
    pushing: AtomicBool,
    active_ttl: Duration,
    active_ttl_with_push: Duration,
}

/// Caches a store's answers in a bounded moka cache; implements [`RevocationStore`] itself.
///
/// - "Revoked" answers are cached until the token's `exp`.
/// - "Not revoked" answers are cached for at most [`CachingStoreBuilder::active_ttl`]
///   (default 1 s) — **the worst-case delay before a revocation made elsewhere is seen**
///   when the backend cannot push invalidations or its push channel is down — or
///   [`CachingStoreBuilder::active_ttl_with_push`] (default 60 s) while it is up, since
///   every revocation is then pushed and applied at once.
/// - When the push channel drops, every "not revoked" answer is forgotten.
/// - Concurrent misses for one token share one backend call.
/// - Revocations made through this store update its cache at once.
/// - With the `metrics` feature, each lookup counts once in
///   `tollgate_revocation_cache_total{result="hit"|"miss"}`: a hit when
///   [`RevocationStore::check_now`] answers (or [`RevocationStore::check`] finds the answer
///   cached), a miss when `check` has to ask the backend (or join a lookup in flight).
///
/// Clones share the same cache.
pub struct CachingStore<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for CachingStore<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for CachingStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingStore")
            .field("store", &self.shared.store)
            .field("entries", &self.shared.cache.entry_count())
            .field("pushing", &self.shared.pushing.load(Ordering::Relaxed))
            .finish()
    }
}

/// Builds a [`CachingStore`]; see [`CachingStore::builder`].
#[derive(Debug)]
#[must_use]
pub struct CachingStoreBuilder<S> {
    store: S,
    max_entries: u64,
    active_ttl: Duration,
    active_ttl_with_push: Duration,
}

impl<S: RevocationStore> CachingStoreBuilder<S> {
    /// At most `n` cached answers (default 100 000); the least useful are evicted first.
    pub fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// How long a "not revoked" answer is trusted without push invalidation (default 1 s).
    pub fn active_ttl(mut self, ttl: Duration) -> Self {
        self.active_ttl = ttl;
        self
    }

    /// How long a "not revoked" answer is trusted while the backend pushes (default 60 s).
    pub fn active_ttl_with_push(mut self, ttl: Duration) -> Self {
        self.active_ttl_with_push = ttl;
        self
    }

    /// Builds the store and subscribes to the backend's invalidations, if it has any.
    pub fn build(self) -> CachingStore<S> {
        let shared = Arc::new(Shared {
            store: self.store,
            cache: Cache::builder()
                .max_capacity(self.max_entries)
                .expire_after(CachedExpiry)
                .support_invalidation_closures()
                .build(),
            inflight: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            pushing: AtomicBool::new(false),
            active_ttl: self.active_ttl,
            active_ttl_with_push: self.active_ttl_with_push,
        });
        let weak: Weak<Shared<S>> = Arc::downgrade(&shared);
        let listener: InvalidationListener = Arc::new(move |event| {
            if let Some(shared) = weak.upgrade() {
                shared.apply(event);
            }
        });
        shared.store.subscribe(listener);
        CachingStore { shared }
    }
}

impl<S: RevocationStore> CachingStore<S> {
    /// A cache with the defaults in front of `store`.
    pub fn new(store: S) -> Self {
        Self::builder(store).build()
    }

    /// A builder around `store`.
    pub fn builder(store: S) -> CachingStoreBuilder<S> {
        CachingStoreBuilder {
            store,
            max_entries: DEFAULT_MAX_ENTRIES,
            active_ttl: DEFAULT_ACTIVE_TTL,
            active_ttl_with_push: DEFAULT_ACTIVE_TTL_WITH_PUSH,
        }
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.shared.store
    }

    /// Whether the backend's push channel is up, so "not revoked" answers are trusted for
    /// the longer bound.
    pub fn is_pushing(&self) -> bool {
        self.shared.pushing.load(Ordering::Acquire)
    }

    /// Number of backend lookups in flight (each shared by every caller waiting on it).
    pub fn lookups_in_flight(&self) -> usize {
        self.shared.lock_inflight().len()
    }

    /// Number of cached answers, after pending expiries ran.
    pub fn cached_entries(&self) -> u64 {
        self.shared.cache.run_pending_tasks();
        self.shared.cache.entry_count()
    }
}

/// Calls `f` with the cache key of the answer for `token`. The answer depends on the
/// token's issuer and id (a token revocation), and on its subject and `iat` (a subject
/// cut-off): the key holds all four, so two tokens that share an id (some providers reuse
/// session ids as `jti`) never share an answer. Each part is length-prefixed or ends at a
/// separator, so no two tokens have one key.
fn with_answer_key<R>(token: &TokenRef, f: impl FnOnce(&str) -> R) -> R {
    let (mut id_len_digits, mut iat_digits) = ([0u8; 20], [0u8; 20]);
    let id_len = decimal(token.id.len() as u64, &mut id_len_digits);
    let iat = match token.issued_at {
        Some(iat) => decimal(iat, &mut iat_digits),
        None => "-",
    };
    let (tag, subject) = match &token.subject {
        Some(subject) => ("=", subject.as_str()),
        None => ("", ""),
    };
    with_entry_key_parts(
        CACHE_KEY_KIND,
        &token.issuer,
        &[id_len, ":", &token.id, iat, ":", tag, subject],
        f,
    )
}

/// The kind of entry key the answers are cached under.
const CACHE_KEY_KIND: char = 'c';
/// The kind of entry key under which a token revoked through this store is remembered by
/// its id alone (its verdict does not depend on subject or `iat`).
const REVOKED_KEY_KIND: char = 'r';

impl<S> Shared<S> {
    /// The cached answer for `token`, if any: its own, or the revocation of its id made
    /// through this store.
    fn cached(&self, token: &TokenRef) -> Option<Status> {
        with_answer_key(token, |key| self.cache.get(key))
            .or_else(|| {
                with_entry_key(REVOKED_KEY_KIND, &token.issuer, &token.id, |key| {
                    self.cache.get(key)
                })
            })
            .map(|cached| cached.status)
    }
}

impl<S: RevocationStore> Shared<S> {
    fn apply(&self, event: Invalidation) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        match event {
            Invalidation::Token { issuer, id } => {
                let hash = hash_of(&issuer, Some(&id));
                self.forget(move |cached| cached.token == hash);
                // A lookup in flight may predate the change: later callers must not join it.
                self.lock_inflight().clear();
            }
            Invalidation::Subject { issuer, subject } => {
                let hash = hash_of(&issuer, Some(&subject));
                self.forget(move |cached| {
                    cached.subject == hash && cached.status != Status::TokenRevoked
                });
                self.lock_inflight().clear();
            }
            Invalidation::Connected => self.pushing.store(true, Ordering::Release),
            Invalidation::Disconnected => {
                self.pushing.store(false, Ordering::Release);
                self.forget(|cached| cached.status == Status::Active);
                self.lock_inflight().clear();
            }
        }
    }

    fn lock_inflight(&self) -> std::sync::MutexGuard<'_, HashMap<String, Inflight>> {
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self, which: impl Fn(&Cached) -> bool + Send + Sync + 'static) {
        if self
            .cache
            .invalidate_entries_if(move |_, cached| which(cached))
            .is_err()
        {
            // Only possible without support_invalidation_closures, which build() sets.
            self.cache.invalidate_all();
        }
    }

    fn active_ttl(&self) -> Duration {
        if self.pushing.load(Ordering::Acquire) {
            self.active_ttl_with_push
        } else {
            self.active_ttl
        }
    }

    async fn fetch(&self, key: &str, token: &TokenRef) -> Result<Status, Arc<StoreError>> {
        let generation = self.generation.load(Ordering::SeqCst);
        let status = self.store.check(token).await.map_err(Arc::new)?;
        if self.generation.load(Ordering::SeqCst) == generation {
            let cached = Cached {
                status,
                until: token.until,
                active_ttl: self.active_ttl(),
                token: hash_of(&token.issuer, Some(&token.id)),
                subject: hash_of(&token.issuer, token.subject.as_deref()),
            };
            self.cache.insert(key.to_owned(), cached);
            // An invalidation between the check above and the insert may have been
            // overwritten by this (older) answer: drop it then. Forgetting is always safe.
            if self.generation.load(Ordering::SeqCst) != generation {
                self.cache.invalidate(key);
            }
        }
        Ok(status)
    }
}

/// Removes a token's in-flight cell when its lookup ends, also when the lookup is
/// cancelled (the request was dropped): cells must not pile up.
struct InflightGuard<'a, S> {
    shared: &'a Shared<S>,
    key: &'a str,
    cell: Inflight,
}

impl<S> Drop for InflightGuard<'_, S> {
    fn drop(&mut self) {
        let mut inflight = self
            .shared
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if inflight
            .get(self.key)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cell))
        {
            inflight.remove(self.key);
        }
    }
}

impl<S: RevocationStore> RevocationStore for CachingStore<S> {
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.shared
                .store
                .revoke_token(issuer, subject, id, until)
                .await?;
            // Every answer cached for this id is forgotten, and the revocation itself is
            // cached at once: it holds whatever the token's subject and `iat`.
            let shared = &*self.shared;
            shared.apply(Invalidation::Token {
                issuer: issuer.to_owned(),
                id: id.to_owned(),
            });
            let revoked = Cached {
                status: Status::TokenRevoked,
                until,
                active_ttl: Duration::ZERO,
                token: hash_of(issuer, Some(id)),
                // Cut-offs never forget a revoked token, so its subject is not needed.
                subject: 0,
            };
            shared
                .cache
                .insert(entry_key(REVOKED_KEY_KIND, issuer, id), revoked);
            Ok(())
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.shared
                .store
                .revoke_subject(issuer, subject, before, until)
                .await?;
            self.shared.apply(Invalidation::Subject {
                issuer: issuer.to_owned(),
                subject: subject.to_owned(),
            });
            Ok(())
        })
    }

    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.shared.store.remove_token(issuer, subject, id).await?;
            self.shared.apply(Invalidation::Token {
                issuer: issuer.to_owned(),
                id: id.to_owned(),
            });
            Ok(())
        })
    }

    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.shared.store.remove_subject(issuer, subject).await?;
            self.shared.apply(Invalidation::Subject {
                issuer: issuer.to_owned(),
                subject: subject.to_owned(),
            });
            Ok(())
        })
    }

    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        Box::pin(async move {
            let shared = &*self.shared;
            if let Some(status) = shared.cached(token) {
                crate::telemetry::revocation_cache(true);
                return Ok(status);
            }
            let key = with_answer_key(token, str::to_owned);
            let cell = {
                let mut inflight = shared.lock_inflight();
                // A fetch may have completed (and left its cell) since the miss above.
                if let Some(status) = shared.cached(token) {
                    crate::telemetry::revocation_cache(true);
                    return Ok(status);
                }
                inflight.entry(key.clone()).or_default().clone()
            };
            crate::telemetry::revocation_cache(false);
            let guard = InflightGuard {
                shared,
                key: &key,
                cell,
            };
            let result = guard
                .cell
                .get_or_init(|| shared.fetch(&key, token))
                .await
                .clone();
            drop(guard);
            result.map_err(|e| StoreError::new("revocation store unavailable", e))
        })
    }

    fn check_now(&self, token: &TokenRef) -> Option<Status> {
        // Only hits are counted here: on `None` the caller goes on to `check`, which counts
        // the miss (or a hit, if the answer arrived meanwhile), so each lookup counts once.
        let status = self
            .shared
            .store
            .check_now(token)
            .or_else(|| self.shared.cached(token));
        if status.is_some() {
            crate::telemetry::revocation_cache(true);
        }
        status
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.shared.store.ping()
    }

    fn subscribe(&self, listener: InvalidationListener) -> bool {
        self.shared.store.subscribe(listener)
    }
}
