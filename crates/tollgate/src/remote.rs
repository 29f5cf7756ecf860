//! Keys from an identity provider: a JWK Set fetched over HTTPS, directly or through OIDC
//! discovery, refreshed in the background and swapped in without a lock.
//!
//! - **Refresh** runs in a background task at an interval taken from the response's
//!   `Cache-Control: max-age`, clamped to [`RemoteKeysBuilder::min_refresh`] ..
//!   [`RemoteKeysBuilder::max_refresh`] (default [`DEFAULT_REFRESH`] without the header).
//!   Readers load the current [`KeySet`] with one atomic pointer read: they never wait on
//!   a fetch and never take a lock a fetch holds.
//! - **Unknown `kid`**: [`RemoteKeys::refresh_for_unknown_kid`] refetches at most once per
//!   [cooldown](RemoteKeysBuilder::cooldown); concurrent callers share the one fetch, and
//!   wait for it at most [`RemoteKeysBuilder::unknown_kid_wait`]. A flood of random `kid`s
//!   causes at most one fetch per cooldown.
//! - **Provider down** (a network error, a timeout, a non-2xx answer, a body that is not a
//!   JWK Set): the last good keys stay in use and the task keeps retrying with exponential
//!   backoff. Until a first set was loaded, a token whose key is not among the static keys
//!   fails with [`ErrorKind::KeysUnavailable`](crate::ErrorKind::KeysUnavailable) (a 503:
//!   the client did nothing wrong).
//!   [`RemoteKeys::last_error`] tells why the most recent fetch failed.
//! - **Keys withdrawn**: a JWK Set the provider did serve replaces the keys, even when it
//!   holds no usable key (`{"keys":[]}`, or only keys that are skipped): a key the provider
//!   removed is never trusted past that answer. The fetch is then logged at ERROR and
//!   counted as `tollgate_jwks_fetches_total{result="no_usable_key"}`, and tokens of the
//!   provider are refused until it publishes a usable key again.
//! - **Discovery** over `https` must name an `https` `jwks_uri`: a downgrade to plain HTTP
//!   is refused like an unreachable provider.
//! - **Limits**: each fetch has a timeout ([`DEFAULT_TIMEOUT`]) and a maximum body size
//!   ([`DEFAULT_MAX_BODY`]); entries are filtered like static keys (a bad entry is skipped
//!   and logged, the rest are used).
//! - Token headers (`jku`, `x5u`, `x5c`, `jwk`) never cause a fetch: only the configured
//!   URL is ever requested.
//!
//! # Example
//! ```no_run
//! use tollgate::Verifier;
//! use tollgate::remote::RemoteKeys;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = RemoteKeys::discover("https://login.example.com/tenant/").build()?;
//! keys.wait_until_loaded(std::time::Duration::from_secs(5)).await;
//! let verifier = Verifier::builder()
//!     .remote_keys(keys)
//!     .issuer("https://login.example.com/tenant/")
//!     .audience("api://orders")
//!     .build()?;
//! # Ok(()) }
//! ```

use crate::Algorithm;
use crate::error::ConfigError;
use crate::keys::KeySet;
use arc_swap::ArcSwapOption;
use backon::{BackoffBuilder, ExponentialBuilder};
use headers::{CacheControl, HeaderMapExt};
use serde::Deserialize;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::task::AbortHandle;

/// Default timeout of one fetch: connection, request and body together.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default maximum size of a JWK Set or discovery document.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Refresh interval when the provider sends no `Cache-Control: max-age`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(10 * 60);
/// Shortest refresh interval, whatever `max-age` says.
pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(60);
/// Longest refresh interval, whatever `max-age` says.
pub const DEFAULT_MAX_REFRESH: Duration = Duration::from_secs(60 * 60);
/// Minimum time between two refetches triggered by unknown `kid`s.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);
/// How long a request with an unknown `kid` waits for the refetch it triggered.
pub const DEFAULT_UNKNOWN_KID_WAIT: Duration = Duration::from_secs(2);

/// Where the keys come from.
#[derive(Debug, Clone)]
enum Source {
    Jwks(String),
    Discovery(String),
}

/// Why a fetch failed. Logged, and kept as [`RemoteKeys::last_error`]; the last good keys
/// stay in use.
#[derive(Debug)]
#[non_exhaustive]
pub enum FetchError {
    /// The HTTP request failed or timed out.
    Http(reqwest::Error),
    /// The server answered with a non-success status.
    Status(u16),
    /// The body is larger than the configured limit.
    TooLarge,
    /// The discovery document is malformed, or names another issuer.
    Discovery(String),
    /// The body is not a JWK Set (`{"keys": [...]}`).
    Keys(ConfigError),
    /// The body is not UTF-8 text.
    NotText,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(e) => write!(f, "request failed: {e}"),
            Self::Status(status) => write!(f, "server answered {status}"),
            Self::TooLarge => f.write_str("response larger than the configured limit"),
            Self::Discovery(why) => write!(f, "bad discovery document: {why}"),
            Self::Keys(e) => write!(f, "unusable JWK Set: {e}"),
            Self::NotText => f.write_str("the body is not UTF-8 text"),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Http(e) => Some(e),
            Self::Keys(e) => Some(e),
            _ => None,
        }
    }
}

/// Builds [`RemoteKeys`]; see [`RemoteKeys::jwks`] and [`RemoteKeys::discover`].
#[derive(Debug)]
#[must_use]
pub struct RemoteKeysBuilder {
    source: Source,
    client: Option<reqwest::Client>,
    timeout: Duration,
    max_body: usize,
    default_refresh: Duration,
    min_refresh: Duration,
    max_refresh: Duration,
    cooldown: Duration,
    unknown_kid_wait: Duration,
    default_algorithm: Option<Algorithm>,
}

impl RemoteKeysBuilder {
    /// Timeout of one fetch (default 3 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest accepted body (default 1 MiB).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Refresh interval without `Cache-Control: max-age` (default 10 min).
    pub fn refresh(mut self, interval: Duration) -> Self {
        self.default_refresh = interval;
        self
    }

    /// Lower bound on the refresh interval (default 1 min).
    pub fn min_refresh(mut self, interval: Duration) -> Self {
        self.min_refresh = interval;
        self
    }

    /// Upper bound on the refresh interval (default 1 h).
    pub fn max_refresh(mut self, interval: Duration) -> Self {
        self.max_refresh = interval;
        self
    }

    /// Minimum time between refetches triggered by unknown `kid`s (default 30 s).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// How long a request with an unknown `kid` waits for the refetch (default 2 s).
    pub fn unknown_kid_wait(mut self, wait: Duration) -> Self {
        self.unknown_kid_wait = wait;
        self
    }

    /// Binds RSA keys published without `alg` to `algorithm` (Entra ID publishes such keys;
    /// default: such keys are skipped).
    pub fn default_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.default_algorithm = Some(algorithm);
        self
    }

    /// Uses `client` for the fetches instead of a new one (its own timeout still applies
    /// on top of [`RemoteKeysBuilder::timeout`]).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks the configuration and starts the background refresh task, which fetches at
    /// once. Must be called within a Tokio runtime. The task ends when the last clone of
    /// the returned [`RemoteKeys`] (and of any verifier holding it) is dropped.
    pub fn build(self) -> Result<RemoteKeys, ConfigError> {
        crate::keys::ensure_crypto_provider()?;
        let url = match &self.source {
            Source::Jwks(url) | Source::Discovery(url) => url,
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::InvalidOption("a key URL must be http(s)"));
        }
        if self.min_refresh > self.max_refresh || self.max_body == 0 || self.timeout.is_zero() {
            return Err(ConfigError::InvalidOption("inconsistent remote key limits"));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigError::InvalidOption("RemoteKeys must be built inside a Tokio runtime")
        })?;
        let client = match self.client {
            Some(client) => client,
            None => key_client(self.timeout)?,
        };
        let shared = Arc::new(Shared {
            source: self.source,
            client,
            timeout: self.timeout,
            max_body: self.max_body,
            default_refresh: self.default_refresh,
            min_refresh: self.min_refresh,
            max_refresh: self.max_refresh,
            cooldown: self.cooldown,
            unknown_kid_wait: self.unknown_kid_wait,
            default_algorithm: self.default_algorithm,
            keys: ArcSwapOption::empty(),
            jwks_uri: ArcSwapOption::empty(),
            loads: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            fetch_lock: Arc::new(tokio::sync::Mutex::new(None)),
            task: Mutex::new(None),
            loaded: tokio::sync::Notify::new(),
            last_error: ArcSwapOption::empty(),
        });
        let task = runtime.spawn(refresh_loop(Arc::downgrade(&shared)));
        *shared.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task.abort_handle());
        Ok(RemoteKeys { shared })
    }
}

struct Shared {
    source: Source,
    client: reqwest::Client,
    timeout: Duration,
    max_body: usize,
    default_refresh: Duration,
    min_refresh: Duration,
    max_refresh: Duration,
    cooldown: Duration,
    unknown_kid_wait: Duration,
    default_algorithm: Option<Algorithm>,
    /// The current keys; `None` until a first set was loaded.
    keys: ArcSwapOption<KeySet>,
    /// `jwks_uri` from the discovery document, once read.
    jwks_uri: ArcSwapOption<String>,
    /// Number of successful loads.
    loads: AtomicU64,
    /// Number of fetch attempts (each attempt is one JWK Set request).
    fetches: AtomicU64,
    /// Held during a fetch; the value is when the last fetch triggered by an unknown `kid`
    /// started, for the cooldown. Readers of the keys never touch it.
    fetch_lock: Arc<tokio::sync::Mutex<Option<Instant>>>,
    task: Mutex<Option<AbortHandle>>,
    loaded: tokio::sync::Notify,
    /// Why the most recent fetch failed; `None` once one succeeds.
    last_error: ArcSwapOption<FetchError>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
        // These keys no longer count towards the keys loaded.
        if let Some(keys) = self.keys.load_full() {
            crate::telemetry::jwks_keys_changed(-(keys.len() as f64));
        }
    }
}

/// A JWK Set kept up to date from an identity provider. Cheap to clone; clones share the
/// keys and the background task.
#[derive(Clone)]
pub struct RemoteKeys {
    shared: Arc<Shared>,
}

impl fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("RemoteKeys")
            .field("source", &shared.source)
            .field("keys", &shared.keys.load().as_ref().map(|k| k.len()))
            .field("loads", &shared.loads.load(Ordering::Relaxed))
            .field(
                "last_error",
                &shared.last_error.load().as_ref().map(|e| e.to_string()),
            )
            .finish_non_exhaustive()
    }
}

fn builder(source: Source) -> RemoteKeysBuilder {
    RemoteKeysBuilder {
        source,
        client: None,
        timeout: DEFAULT_TIMEOUT,
        max_body: DEFAULT_MAX_BODY,
        default_refresh: DEFAULT_REFRESH,
        min_refresh: DEFAULT_MIN_REFRESH,
        max_refresh: DEFAULT_MAX_REFRESH,
        cooldown: DEFAULT_COOLDOWN,
        unknown_kid_wait: DEFAULT_UNKNOWN_KID_WAIT,
        default_algorithm: None,
    }
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
}

impl RemoteKeys {
    /// Keys from the JWK Set at `url`.
    pub fn jwks(url: impl Into<String>) -> RemoteKeysBuilder {
        builder(Source::Jwks(url.into()))
    }

    /// Keys from OIDC discovery: `{issuer}/.well-known/openid-configuration`, whose
    /// `issuer` must equal `issuer` exactly, names the `jwks_uri`.
    pub fn discover(issuer: impl Into<String>) -> RemoteKeysBuilder {
        builder(Source::Discovery(issuer.into()))
    }

    /// The current keys, or `None` if none were ever loaded. One atomic load; never waits.
    pub fn current(&self) -> Option<Arc<KeySet>> {
        self.shared.keys.load_full()
    }

    /// How many JWK Set fetches were attempted so far (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.shared.fetches.load(Ordering::Relaxed)
    }

    /// Why the most recent fetch failed (the same error tollgate logs at WARN as `JWK Set
    /// fetch failed`), or `None` when it succeeded or no fetch has ended yet. A successful
    /// fetch clears it, including one that served no usable key (that set replaces the
    /// keys: see [`RemoteKeys::current`]). One atomic load; never waits.
    ///
    /// For a startup check or a command-line tool that must say why no key could be loaded:
    ///
    /// ```no_run
    /// # use tollgate::remote::RemoteKeys;
    /// # use std::time::Duration;
    /// # async fn demo(keys: RemoteKeys) {
    /// if !keys.wait_until_loaded(Duration::from_secs(5)).await {
    ///     match keys.last_error() {
    ///         Some(error) => eprintln!("no keys: {error}"), // e.g. "server answered 404"
    ///         None => eprintln!("no keys within 5 s"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn last_error(&self) -> Option<Arc<FetchError>> {
        self.shared.last_error.load_full()
    }

    /// Waits until a first key set is loaded, at most `limit`; whether one is.
    pub async fn wait_until_loaded(&self, limit: Duration) -> bool {
        let shared = &self.shared;
        let loaded = async {
            loop {
                let notified = shared.loaded.notified();
                if shared.keys.load().is_some() {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, loaded).await.is_ok()
    }

    /// Refetches because a token named a `kid` the current keys lack: at most once per
    /// cooldown, concurrent callers sharing one fetch, each waiting at most the configured
    /// bound. Returns whether a key set newer than the one the caller saw is now loaded.
    pub async fn refresh_for_unknown_kid(&self) -> bool {
        let shared = &self.shared;
        let seen = shared.loads.load(Ordering::Acquire);
        let refresh = async {
            let mut last = Arc::clone(&shared.fetch_lock).lock_owned().await;
            if shared.loads.load(Ordering::Acquire) != seen {
                return true; // another caller's fetch loaded new keys meanwhile
            }
            if last.is_some_and(|at| at.elapsed() < shared.cooldown) {
                return false;
            }
            *last = Some(Instant::now());
            tracing::info!(target: "tollgate::remote", "refetching keys for an unknown kid");
            crate::telemetry::jwks_refetch_unknown_kid();
            // The fetch runs in a task of its own, holding the lock: a caller that stops
            // waiting (its bound passed, or its client hung up) must not cancel a fetch
            // that the cooldown would then keep from being retried.
            let fetching = Arc::clone(shared);
            tokio::spawn(async move {
                let _last = last;
                fetching.fetch_and_store().await.is_ok()
            })
            .await
            .unwrap_or(false)
        };
        tokio::time::timeout(shared.unknown_kid_wait, refresh)
            .await
            .unwrap_or(false)
    }
}

async fn refresh_loop(shared: Weak<Shared>) {
    let mut backoff = None;
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let result = {
            let _fetching = strong.fetch_lock.lock().await;
            strong.fetch_and_store().await
        };
        let delay = match result {
            Ok(max_age) => {
                backoff = None;
                max_age
                    .unwrap_or(strong.default_refresh)
                    .clamp(strong.min_refresh, strong.max_refresh)
            }
            Err(_) => backoff
                .get_or_insert_with(|| {
                    ExponentialBuilder::default()
                        .with_min_delay(Duration::from_millis(250))
                        // Jitter adds up to the delay again: retries stay within min_refresh.
                        .with_max_delay(strong.min_refresh / 2)
                        .with_jitter()
                        .without_max_times()
                        .build()
                })
                .next()
                .unwrap_or(strong.min_refresh),
        };
        drop(strong);
        tokio::time::sleep(delay).await;
    }
}

impl Shared {
    /// Fetches the key set and swaps it in; returns the `max-age` the server gave.
    async fn fetch_and_store(&self) -> Result<Option<Duration>, Arc<FetchError>> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.fetch().await {
            Ok((keys, max_age)) => {
                // The provider answered: what it publishes now is the truth, even when it
                // withdrew every key (or published only keys tollgate cannot use). Keeping
                // the old keys then would keep trusting a key the provider took back.
                if keys.is_empty() {
                    tracing::error!(
                        target: "tollgate::remote",
                        skipped = ?keys.skipped(),
                        "the JWK Set holds no usable key: every token of this provider is refused until it does"
                    );
                    crate::telemetry::jwks_fetch(crate::telemetry::FetchResult::NoUsableKey);
                } else {
                    tracing::info!(
                        target: "tollgate::remote",
                        keys = keys.len(),
                        skipped = keys.skipped().len(),
                        "fetched the JWK Set"
                    );
                    crate::telemetry::jwks_fetch(crate::telemetry::FetchResult::Success);
                }
                let loaded = keys.len();
                self.last_error.store(None);
                let previous = self.keys.swap(Some(Arc::new(keys)));
                crate::telemetry::jwks_keys_changed(
                    loaded as f64 - previous.map_or(0, |keys| keys.len()) as f64,
                );
                self.loads.fetch_add(1, Ordering::AcqRel);
                self.loaded.notify_waiters();
                Ok(max_age)
            }
            Err(error) => {
                crate::telemetry::jwks_fetch(crate::telemetry::FetchResult::Failure);
                let stale = self.keys.load().is_some();
                tracing::warn!(target: "tollgate::remote", %error, keeping_stale_keys = stale, "JWK Set fetch failed");
                let error = Arc::new(error);
                self.last_error.store(Some(Arc::clone(&error)));
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<(KeySet, Option<Duration>), FetchError> {
        let url = self.jwks_url().await?;
        let (body, max_age) = match self.get(&url).await {
            Ok(answer) => answer,
            Err(error) => {
                // The provider may have moved its key set: discover it again next time.
                self.jwks_uri.store(None);
                return Err(error);
            }
        };
        let keys = KeySet::published(&body, self.default_algorithm).map_err(FetchError::Keys)?;
        Ok((keys, max_age))
    }

    async fn jwks_url(&self) -> Result<String, FetchError> {
        let issuer = match &self.source {
            Source::Jwks(url) => return Ok(url.clone()),
            Source::Discovery(issuer) => issuer,
        };
        if let Some(url) = self.jwks_uri.load_full() {
            return Ok(url.as_ref().clone());
        }
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&discovery).await?;
        let doc: DiscoveryDocument =
            serde_json::from_str(&body).map_err(|e| FetchError::Discovery(e.to_string()))?;
        if doc.issuer != *issuer {
            return Err(FetchError::Discovery(format!(
                "it names the issuer {:?}, not {issuer:?}",
                doc.issuer
            )));
        }
        // Keys fetched over plain HTTP could be swapped by anyone on the path: an issuer
        // discovered over https must publish its keys over https too. (An http issuer, as
        // on loopback in tests, may name an http key set: it was never protected.)
        let scheme_ok = if issuer.starts_with("https://") {
            doc.jwks_uri.starts_with("https://")
        } else {
            doc.jwks_uri.starts_with("https://") || doc.jwks_uri.starts_with("http://")
        };
        if !scheme_ok {
            return Err(FetchError::Discovery(format!(
                "jwks_uri {:?} is not an https URL",
                doc.jwks_uri
            )));
        }
        self.jwks_uri.store(Some(Arc::new(doc.jwks_uri.clone())));
        Ok(doc.jwks_uri)
    }

    /// GETs `url` within the timeout and size limit; the body and its `max-age`.
    async fn get(&self, url: &str) -> Result<(String, Option<Duration>), FetchError> {
        get_bounded(&self.client, url, self.timeout, self.max_body).await
    }
}

/// An HTTP client for key fetches: `timeout` per request, and no redirect followed (only the
/// configured URL is fetched; a redirect elsewhere is refused).
pub(crate) fn key_client(timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ConfigError::InvalidKey(format!("HTTP client: {e}")))
}

/// GETs `url` within `timeout`, refusing a non-2xx answer and a body over `max_body` bytes
/// (announced or streamed); the body as text and its `Cache-Control: max-age`.
pub(crate) async fn get_bounded(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    max_body: usize,
) -> Result<(String, Option<Duration>), FetchError> {
    let mut response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(FetchError::Http)?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|len| len > max_body as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let max_age = response
        .headers()
        .typed_get::<CacheControl>()
        .and_then(|c| c.max_age());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(FetchError::Http)? {
        if body.len() + chunk.len() > max_body {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let body = String::from_utf8(body).map_err(|_| FetchError::NotText)?;
    Ok((body, max_age))
}
