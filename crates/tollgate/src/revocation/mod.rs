//! Revocation: refusing tokens that were revoked before they expired.
//!
//! JWTs are stateless, so a stolen token, or the token of a user whose roles changed, keeps
//! working until it expires. A [`RevocationStore`] remembers two kinds of revocation, both
//! namespaced by issuer:
//!
//! - **one token**, by its [revocation id](crate::VerifiedToken::revocation_id) (`jti`, or a
//!   hash of the decoded claim set), until the token's `exp`;
//! - **every token of a subject issued before a time T** (`iat < T`): "log out everywhere",
//!   "this user's roles changed". A token without `iat` counts as issued before any T.
//!
//! One [`RevocationStore::check`] answers both for a verified token. Stores:
//!
//! - [`MemoryStore`]: in-process; entries expire by themselves at the token's `exp`.
//! - [`CachingStore`]: wraps any store with a bounded moka cache. "Revoked" is cached until
//!   `exp`; "not revoked" for a bounded time, the worst-case staleness when the backend
//!   cannot push invalidations. Concurrent misses for one token share one backend call.
//! - `tollgate-redis`: the store shared by many instances, with push invalidation.
//!
//! # Writing a store
//!
//! Implement the five async operations (boxed futures keep the trait usable as
//! `dyn RevocationStore`); override [`RevocationStore::check_now`] if an answer can be given
//! without I/O, and [`RevocationStore::subscribe`] if the backend can push revocations made
//! elsewhere.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use tollgate::revocation::{BoxFuture, RevocationStore, Status, StoreError, TokenRef};
//!
//! /// Keeps revocations in a map (forever: a real store expires them at `until`).
//! #[derive(Debug, Default)]
//! struct MapStore {
//!     tokens: Mutex<HashMap<(String, String), u64>>,
//!     subjects: Mutex<HashMap<(String, String), u64>>,
//! }
//!
//! impl RevocationStore for MapStore {
//!     fn revoke_token<'a>(&'a self, issuer: &'a str, _subject: Option<&'a str>, id: &'a str,
//!         until: u64)
//!         -> BoxFuture<'a, Result<(), StoreError>> {
//!         self.tokens.lock().unwrap().insert((issuer.into(), id.into()), until);
//!         Box::pin(async { Ok(()) })
//!     }
//!     fn revoke_subject<'a>(&'a self, issuer: &'a str, subject: &'a str, before: u64, _until: u64)
//!         -> BoxFuture<'a, Result<(), StoreError>> {
//!         self.subjects.lock().unwrap().insert((issuer.into(), subject.into()), before);
//!         Box::pin(async { Ok(()) })
//!     }
//!     fn remove_token<'a>(&'a self, issuer: &'a str, _subject: Option<&'a str>, id: &'a str)
//!         -> BoxFuture<'a, Result<(), StoreError>> {
//!         self.tokens.lock().unwrap().remove(&(issuer.into(), id.into()));
//!         Box::pin(async { Ok(()) })
//!     }
//!     fn remove_subject<'a>(&'a self, issuer: &'a str, subject: &'a str)
//!         -> BoxFuture<'a, Result<(), StoreError>> {
//!         self.subjects.lock().unwrap().remove(&(issuer.into(), subject.into()));
//!         Box::pin(async { Ok(()) })
//!     }
//!     fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
//!         let revoked = self.tokens.lock().unwrap()
//!             .contains_key(&(token.issuer.clone(), token.id.clone()));
//!         let cutoff = token.subject.as_ref().and_then(|s| {
//!             self.subjects.lock().unwrap().get(&(token.issuer.clone(), s.clone())).copied()
//!         });
//!         Box::pin(async move { Ok(Status::from_lookup(token, revoked, cutoff)) })
//!     }
//! }
//! ```

mod cache;
mod memory;

pub use cache::{
    CachingStore, CachingStoreBuilder, DEFAULT_ACTIVE_TTL, DEFAULT_ACTIVE_TTL_WITH_PUSH,
    DEFAULT_MAX_ENTRIES,
};
pub use memory::MemoryStore;

use crate::VerifiedToken;
pub(crate) use crate::now_secs;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, `Send` future: what the store operations return, so that the trait can be used
/// as `dyn RevocationStore`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long a revocation of a token without `exp` is kept: such a token never expires, so
/// its revocation must outlive any realistic deployment (one year).
pub const RETENTION_WITHOUT_EXP: u64 = 365 * 24 * 3600;

/// What revocation needs to know about a verified token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TokenRef {
    /// `iss`, or `""` when the token has none.
    pub issuer: String,
    /// The [revocation id](crate::VerifiedToken::revocation_id): `jti` or a payload hash.
    pub id: String,
    /// `sub`, if any.
    pub subject: Option<String>,
    /// `iat`, if any — and if it is not later than when this view was built plus the
    /// default leeway (60 s): a token that claims to be issued in the future is treated as
    /// one without `iat`, which falls under every subject cut-off, so that a forward-dated
    /// `iat` cannot outrun a "log out everywhere".
    pub issued_at: Option<u64>,
    /// Until when a revocation of this token must be kept: as long as it would be accepted
    /// (`exp` plus the verifier's leeway), or now plus [`RETENTION_WITHOUT_EXP`] for a
    /// token without `exp`.
    pub until: u64,
}

impl TokenRef {
    /// The revocation view of a verified token, built once for a token that the
    /// verified-token cache hands to many requests (and has an `exp`), built anew otherwise.
    pub fn of<T>(token: &VerifiedToken<T>) -> std::borrow::Cow<'_, TokenRef> {
        match (&token.info.token_ref, token.accepted_until()) {
            (Some(memo), Some(_)) => {
                std::borrow::Cow::Borrowed(memo.get_or_init(|| Self::new(token)))
            }
            _ => std::borrow::Cow::Owned(Self::new(token)),
        }
    }

    /// The revocation view of a verified token.
    pub fn new<T>(token: &VerifiedToken<T>) -> Self {
        let now = now_secs();
        // The verifier accepts a future `iat` unless told to validate it; a cut-off must
        // not be beaten by one (see `issued_at`).
        let latest_iat = now.saturating_add(crate::verifier::DEFAULT_LEEWAY.as_secs());
        Self {
            issuer: token.issuer().unwrap_or_default().to_owned(),
            id: token.revocation_id().to_owned(),
            subject: token.subject().map(str::to_owned),
            issued_at: token.issued_at().filter(|iat| *iat <= latest_iat),
            until: token
                .accepted_until()
                .unwrap_or_else(|| now.saturating_add(RETENTION_WITHOUT_EXP)),
        }
    }
}

/// Whether a token is revoked, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// Not revoked.
    Active,
    /// This token was revoked.
    TokenRevoked,
    /// Every token of its subject issued before some time was revoked, and this is one.
    SubjectRevoked,
}

impl Status {
    /// The status given a store's two facts: whether the token's id is revoked, and the
    /// subject's cut-off time, if one is set. A token without `iat` falls under any cut-off.
    pub fn from_lookup(token: &TokenRef, token_revoked: bool, cutoff: Option<u64>) -> Self {
        if token_revoked {
            Status::TokenRevoked
        } else if cutoff.is_some_and(|t| token.issued_at.is_none_or(|iat| iat < t)) {
            Status::SubjectRevoked
        } else {
            Status::Active
        }
    }

    /// Whether the token must be refused.
    pub fn is_revoked(self) -> bool {
        self != Status::Active
    }
}

/// A change pushed by a store's backend: a revocation made (possibly by another instance),
/// or the push channel itself going down or coming back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalidation {
    /// A token's revocation changed.
    Token {
        /// Its issuer.
        issuer: String,
        /// Its revocation id.
        id: String,
    },
    /// A subject's cut-off changed.
    Subject {
        /// Its issuer.
        issuer: String,
        /// The subject.
        subject: String,
    },
    /// The push channel is up: from now on every change will be pushed.
    Connected,
    /// The push channel is down: changes made elsewhere may go unseen until it is back.
    Disconnected,
}

/// Receives [`Invalidation`]s; see [`RevocationStore::subscribe`].
pub type InvalidationListener = Arc<dyn Fn(Invalidation) + Send + Sync>;

/// The revocation store could not answer.
#[derive(Debug)]
pub struct StoreError {
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl StoreError {
    /// An error saying `message`, caused by `source`.
    pub fn new(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// An error saying `message`.
    pub fn msg(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Where revocations are kept. See the [module docs](self) for how to write one.
pub trait RevocationStore: fmt::Debug + Send + Sync + 'static {
    /// Revokes the token `id` of `issuer` until `until` (its `exp`, seconds since the epoch).
    ///
    /// `subject` is the token's own `sub` (`None` for a token without one), as in its
    /// [`TokenRef`]. The token is named by issuer and id; a store may also file the
    /// revocation under the subject, so that it sits next to the subject's cut-off (the
    /// Redis store does: one lookup then reads one Redis Cluster slot). A revocation filed
    /// under another subject than the token's may therefore not apply to it.
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Revokes every token of `subject` from `issuer` issued before `before` (`iat <
    /// before`). The cut-off is kept until `until`, by which time every such token has
    /// expired (now plus the longest token lifetime and the leeway). A store never weakens
    /// an existing cut-off: the later `before` and the later `until` win.
    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Removes a token's revocation; `subject` as in [`RevocationStore::revoke_token`].
    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Removes a subject's cut-off.
    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Looks up both revocations that can apply to `token`, in one call.
    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>>;

    /// The answer, if the store can give it without I/O (a cache hit, an in-memory store).
    /// The layer calls this first and only awaits [`RevocationStore::check`] on `None`.
    fn check_now(&self, token: &TokenRef) -> Option<Status> {
        let _ = token;
        None
    }

    /// Whether the store can be reached, for a readiness check: `Ok` by default (an
    /// in-process store always can). A remote store overrides it with a cheap round trip.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    /// Registers `listener` for changes pushed by the backend. Returns `false` when the
    /// store cannot push (the default); a cache in front of it then relies on its bound.
    fn subscribe(&self, listener: InvalidationListener) -> bool {
        let _ = listener;
        false
    }
}

impl<S: RevocationStore + ?Sized> RevocationStore for Arc<S> {
    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).revoke_token(issuer, subject, id, until)
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        before: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).revoke_subject(issuer, subject, before, until)
    }

    fn remove_token<'a>(
        &'a self,
        issuer: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).remove_token(issuer, subject, id)
    }

    fn remove_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).remove_subject(issuer, subject)
    }

    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        (**self).check(token)
    }

    fn check_now(&self, token: &TokenRef) -> Option<Status> {
        (**self).check_now(token)
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        (**self).ping()
    }

    fn subscribe(&self, listener: InvalidationListener) -> bool {
        (**self).subscribe(listener)
    }
}

/// Revokes a verified token until it expires: what a logout does.
pub async fn revoke<S, T>(store: &S, token: &VerifiedToken<T>) -> Result<(), StoreError>
where
    S: RevocationStore + ?Sized,
{
    let token = TokenRef::new(token);
    store
        .revoke_token(
            &token.issuer,
            token.subject.as_deref(),
            &token.id,
            token.until,
        )
        .await
}

/// An unambiguous cache key for a (kind, issuer, name) triple: the issuer is
/// length-prefixed, so no issuer/name split can collide with another.
pub(crate) fn entry_key(kind: char, issuer: &str, name: &str) -> String {
    let mut key = String::new();
    with_entry_key(kind, issuer, name, |k| key.push_str(k));
    key
}

/// Calls `f` with [`entry_key`]`(kind, issuer, name)`, built on the stack when it fits: a
/// lookup then allocates nothing.
pub(crate) fn with_entry_key<R>(
    kind: char,
    issuer: &str,
    name: &str,
    f: impl FnOnce(&str) -> R,
) -> R {
    with_entry_key_parts(kind, issuer, &[name], f)
}

/// [`with_entry_key`] with a name made of `name_parts`, concatenated (the caller makes the
/// concatenation unambiguous).
pub(crate) fn with_entry_key_parts<R>(
    kind: char,
    issuer: &str,
    name_parts: &[&str],
    f: impl FnOnce(&str) -> R,
) -> R {
    // Built by hand: `format!` costs more than the cache lookup this key is for.
    let mut digits = [0u8; 20];
    let issuer_len = decimal(issuer.len() as u64, &mut digits);
    let mut kind_buf = [0u8; 4];
    let head = [
        kind.encode_utf8(&mut kind_buf).as_bytes(),
        issuer_len.as_bytes(),
        b":",
        issuer.as_bytes(),
    ];
    let parts = || {
        head.iter()
            .copied()
            .chain(name_parts.iter().map(|p| p.as_bytes()))
    };
    let len: usize = parts().map(<[u8]>::len).sum();
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if len <= stack.len() {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap
    };
    let mut at = 0;
    for part in parts() {
        buf[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    // Every part is UTF-8 (a char, ASCII digits and ':', `str`s), so this never fails.
    f(std::str::from_utf8(buf).unwrap_or_default())
}

/// `n` in decimal, written into the end of `buf`.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits only.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::entry_key;

    #[test]
    fn entry_keys_are_unambiguous() {
        assert_eq!(entry_key('t', "iss", "id"), "t3:issid");
        assert_eq!(entry_key('s', "", "x"), "s0:x");
        assert_eq!(
            entry_key('t', &"i".repeat(12), "d"),
            format!("t12:{}d", "i".repeat(12))
        );
        assert_ne!(entry_key('t', "ab", "c"), entry_key('t', "a", "bc"));
    }
}
