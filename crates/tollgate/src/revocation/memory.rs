//! [`MemoryStore`]: the embedded default, for a single instance.

use super::{
    BoxFuture, RevocationStore, Status, StoreError, TokenRef, entry_key, now_secs, with_entry_key,
};
use moka::Expiry;
use moka::sync::Cache;
use std::time::{Duration, Instant};

/// A revocation kept until `until` (seconds since the epoch); `before` is a subject's
/// cut-off (unused for a token).
#[derive(Debug, Clone, Copy)]
struct Entry {
    before: u64,
    until: u64,
}

/// Expires each entry at its own `until`, so memory does not grow with time.
struct UntilExpiry;

impl UntilExpiry {
    fn remaining(entry: &Entry) -> Option<Duration> {
        Some(Duration::from_secs(entry.until.saturating_sub(now_secs())))
    }
}

impl Expiry<String, Entry> for UntilExpiry {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Self::remaining(entry)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Self::remaining(entry)
    }
}

/// Revocations in this process's memory: the default for a single instance, and the
/// reference for the store conformance suite.
///
/// Each entry expires by itself at its `until` (the token's `exp`), so memory does not grow
/// with time. There is deliberately no entry-count bound: evicting a revocation early would
/// let a revoked token back in. Clones share the same entries.
#[derive(Clone)]
pub struct MemoryStore {
    entries: Cache<String, Entry>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            entries: Cache::builder().expire_after(UntilExpiry).build(),
        }
    }

    /// Number of live revocations (tokens and subjects), after pending expiries ran.
    pub fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    /// Whether no revocation is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores a revocation, never weakening one already there: the later cut-off and the
    /// later expiry win, so a late or repeated call cannot bring tokens back.
    fn put(&self, key: String, before: u64, until: u64) {
        if until <= now_secs() {
            return;
        }
        self.entries
            .entry(key)
            .and_upsert_with(|old| match old.map(|e| e.into_value()) {
                Some(old) => Entry {
                    before: old.before.max(before),
                    until: old.until.max(until),
                },
                None => Entry { before, until },
            });
    }

    fn status(&self, token: &TokenRef) -> Status {
        let revoked = with_entry_key('t', &token.issuer, &token.id, |key| {
            self.entries.contains_key(key)
        });
        let cutoff = token.subject.as_ref().and_then(|subject| {
            with_entry_key('s', &token.issuer, subject, |key| {
                self.entries.get(key).map(|e| e.before)
            })
        });
        Status::from_lookup(token, revoked, cutoff)
    }
}

fn done<'a>() -> BoxFuture<'a, Result<(), StoreError>> {
    Box::pin(std::future::ready(Ok(())))
}

impl RevocationStore for MemoryStore {
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        _subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.put(entry_key('t', issuer, id), 0, until);
        done()
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.put(entry_key('s', issuer, subject), before, until);
        done()
    }

    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        _subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.entries.invalidate(&entry_key('t', issuer, id));
        done()
    }

    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.entries.invalidate(&entry_key('s', issuer, subject));
        done()
    }

    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        Box::pin(std::future::ready(Ok(self.status(token))))
    }

    fn check_now(&self, token: &TokenRef) -> Option<Status> {
        Some(self.status(token))
    }
}
