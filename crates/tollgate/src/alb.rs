//! The identity an AWS Application Load Balancer forwards once it authenticated the user:
//! the `x-amzn-oidc-data` header, verified by an [`AlbVerifier`] (feature `alb`).
//!
//! A listener rule with an `authenticate-oidc` or `authenticate-cognito` action signs the
//! user in with the identity provider, then forwards every request with the user's claims
//! in [`HEADER`]: a JWT that the load balancer itself signs with ES256. It is not the
//! identity provider's token. Its header carries `alg`, `kid`, `signer` (the load balancer's
//! ARN), `iss`, `client` and `exp`; its claims are the user's (`sub`, `email`, …, with `exp`
//! and `iss`). The public key of a `kid` is a PEM at
//! `https://public-keys.auth.elb.{region}.amazonaws.com/{kid}`.
//!
//! Unlike a JWS (RFC 7515 §2), the three parts are base64url **with** `=` padding, and the
//! signature covers `header.payload` as sent, padding included. The strict
//! [`Verifier`](crate::Verifier) refuses padding by design and keeps doing so; this verifier
//! admits it for this one source, with rules of its own, in this order:
//!
//! 1. Length at most [`AlbVerifierBuilder::max_header_len`] (default 16 KiB), before any
//!    decoding.
//! 2. Exactly three non-empty parts of base64url, padded or not (no other character, no
//!    whitespace, no stray bits).
//! 3. A header that is one JSON object without duplicate members: `alg` exactly `ES256`
//!    (`none`, in any case, and every other algorithm are refused), no `crit`, a `signer`
//!    equal to the configured load balancer ARN byte for byte, and a `kid` of 1 to
//!    [`MAX_KID_LEN`] ASCII letters, digits, `-` and `_` — refused before any URL is built
//!    from it, so no `kid` can reach another path of the key endpoint.
//! 4. The key of that `kid`, from the cache or fetched (see [Keys](#keys)).
//! 5. The ES256 signature over the padded `header.payload`, with the crate's crypto backend.
//! 6. A claim set that is one JSON object without duplicate members; `exp` is required,
//!    and it and `nbf` are checked with the leeway (default 60 s), as is the header's `exp`
//!    when present; `iss` when [`AlbVerifierBuilder::issuer`] is set.
//!
//! The result is a [`VerifiedToken<()>`](VerifiedToken) like the one the
//! [`Verifier`](crate::Verifier) gives: roles from [`AlbVerifierBuilder::roles_claim`],
//! scopes from `scope`/`scp`, [`VerifiedToken::key_id`] the `kid`, and a
//! [revocation id](VerifiedToken::revocation_id) that is the claims' `jti`, or without one
//! (the usual case) a hash of the claims.
//!
//! # Keys
//! Keys are fetched one `kid` at a time from the key endpoint and kept (at most
//! [`MAX_CACHED_KEYS`]; the load balancer's keys do not change under a `kid`). A fetch has a
//! timeout ([`remote::DEFAULT_TIMEOUT`]) and a maximum body
//! ([`MAX_KEY_BODY`]), follows no redirect, and must answer an EC P-256 public key in PEM.
//! Fetches are serialised, and at most one starts per
//! [cooldown](AlbVerifierBuilder::cooldown) (default [`DEFAULT_COOLDOWN`]): a flood of
//! headers naming `kid`s never seen causes one fetch per cooldown, whatever their number.
//!
//! Errors: a `kid` the endpoint answers 403 or 404 for is
//! [`UnknownKey`](ErrorKind::UnknownKey) (a 401); a fetch that fails otherwise (network,
//! timeout, another status, a body that is not such a key), or that the cooldown holds
//! back, is [`KeysUnavailable`](ErrorKind::KeysUnavailable) (a 503: the client did nothing
//! wrong). A `signer` other than the configured ARN is [`WrongSigner`](ErrorKind::WrongSigner),
//! checked before any key is looked up.
//!
//! # Security
//! The header proves only that *an* AWS load balancer signed it: every ALB signs with keys
//! from the same public endpoint. The `signer` check is what binds it to **your** load
//! balancer, so configure its exact ARN. And trust the header only when that load balancer
//! is the only way into the service (targets in a security group that admits the load
//! balancer alone; no public address, no other proxy): the load balancer replaces a
//! client's own `x-amzn-oidc-*` headers, but a client that reaches the service directly can
//! replay a header it captured until its `exp`.
//!
//! # Example
//! ```no_run
//! use tollgate::alb::AlbVerifier;
//!
//! # async fn demo(header_value: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let alb = AlbVerifier::builder(
//!     "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-alb/1234567890abcdef",
//! )
//! .region("us-east-1")
//! .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example")
//! .roles_claim("cognito:groups")
//! .build()?;
//!
//! // `header_value`: the request's `x-amzn-oidc-data` header.
//! let token = alb.check(header_value).await?;
//! println!("hello {}", token.subject().unwrap_or("?"));
//! # Ok(()) }
//! ```

use crate::claims::{ClaimPath, RawRegistered, Registered};
use crate::dangerous::token_from_claims;
use crate::error::{ConfigError, Error, ErrorKind};
use crate::json::{self, Member};
use crate::keys::{Key, ensure_crypto_provider};
use crate::remote::{self, FetchError};
use crate::verifier::DEFAULT_LEEWAY;
use crate::{Algorithm, VerifiedToken, now_secs};
use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The request header the load balancer forwards the user's claims in.
pub const HEADER: &str = "x-amzn-oidc-data";
/// Default maximum length of the header value: 16 KiB.
pub const DEFAULT_MAX_HEADER_LEN: usize = 16 * 1024;
/// Default minimum time between two key fetches.
///
/// Shorter than [`remote::DEFAULT_COOLDOWN`]: each fetch
/// brings one `kid`, so a second key seen soon after a first one waits for this long.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(10);
/// The longest `kid` accepted, in bytes (the load balancer's are UUIDs, 36 bytes).
pub const MAX_KID_LEN: usize = 128;
/// How many keys are kept; the least used go first.
pub const MAX_CACHED_KEYS: u64 = 64;
/// The largest key document accepted, in bytes (a P-256 public key in PEM is under 200).
pub const MAX_KEY_BODY: usize = 8 * 1024;

/// Base64url as the load balancer writes it: padded, though unpadded parts are accepted
/// too. Strict otherwise: the URL-safe alphabet only, and no stray bits.
const PADDED_OR_NOT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Verifies the `x-amzn-oidc-data` header of an AWS Application Load Balancer. Cheap to
/// clone (an `Arc`); clones share the key cache. See the [module documentation](self).
#[derive(Clone)]
pub struct AlbVerifier {
    inner: Arc<Inner>,
}

/// What [`AlbVerifierBuilder`] configures, moved as a whole into the [`AlbVerifier`].
#[derive(Debug, Clone)]
struct Config {
    load_balancer_arn: String,
    /// The URL a `kid` is appended to, without a trailing `/`.
    key_endpoint: Option<String>,
    issuer: Option<String>,
    leeway: Duration,
    max_header_len: usize,
    timeout: Duration,
    cooldown: Duration,
    roles_claim: ClaimPath,
}

struct Inner {
    config: Config,
    client: reqwest::Client,
    keys: moka::sync::Cache<String, Key>,
    /// Held during a fetch; the value is when the last fetch started, for the cooldown.
    fetch_lock: Arc<tokio::sync::Mutex<Option<Instant>>>,
    fetches: AtomicU64,
}

impl fmt::Debug for AlbVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("AlbVerifier")
            .field("load_balancer_arn", &inner.config.load_balancer_arn)
            .field("key_endpoint", &inner.config.key_endpoint)
            .field("cached_keys", &inner.keys.entry_count())
            .finish_non_exhaustive()
    }
}

/// Builds an [`AlbVerifier`]; see [`AlbVerifier::builder`].
#[derive(Debug)]
#[must_use]
pub struct AlbVerifierBuilder {
    config: Config,
    pending: Option<ConfigError>,
}

impl AlbVerifierBuilder {
    /// The AWS region of the load balancer: keys come from
    /// `https://public-keys.auth.elb.{region}.amazonaws.com/{kid}`. For another partition
    /// (AWS GovCloud, China), give the endpoint AWS documents with
    /// [`AlbVerifierBuilder::key_endpoint`].
    pub fn region(mut self, region: &str) -> Self {
        let valid = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            self.config.key_endpoint = Some(format!(
                "https://public-keys.auth.elb.{region}.amazonaws.com"
            ));
        } else {
            self.pending = Some(ConfigError::InvalidOption(
                "an AWS region is lowercase letters, digits and `-`",
            ));
        }
        self
    }

    /// Fetches the key of a `kid` from `{url}/{kid}` instead of the region's endpoint.
    ///
    /// # Security
    /// Whoever serves this URL decides which headers verify: use `https`, and plain `http`
    /// only for tests on loopback.
    pub fn key_endpoint(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.config.key_endpoint = Some(url.trim_end_matches('/').to_owned());
        self
    }

    /// Requires the claims' `iss` to equal `issuer` (the identity provider the load
    /// balancer signs users in with). Default: `iss` is not checked.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.config.issuer = Some(issuer.into());
        self
    }

    /// Clock-skew leeway for `exp` and `nbf` (default 60 s, as the [`crate::Verifier`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.config.leeway = leeway;
        self
    }

    /// Longest header value accepted (default [`DEFAULT_MAX_HEADER_LEN`]).
    pub fn max_header_len(mut self, len: usize) -> Self {
        self.config.max_header_len = len;
        self
    }

    /// Timeout of one key fetch (default
    /// [`remote::DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Minimum time between two key fetches (default [`DEFAULT_COOLDOWN`]).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.config.cooldown = cooldown;
        self
    }

    /// Where the roles are in the claims (default `roles`), as
    /// [`VerifierBuilder::roles_claim`](crate::VerifierBuilder::roles_claim); e.g.
    /// `cognito:groups` behind a Cognito user pool.
    pub fn roles_claim(mut self, path: impl Into<ClaimPath>) -> Self {
        self.config.roles_claim = path.into();
        self
    }

    /// Checks the configuration and builds the verifier. No key is fetched yet.
    pub fn build(self) -> Result<AlbVerifier, ConfigError> {
        ensure_crypto_provider()?;
        if let Some(error) = self.pending {
            return Err(error);
        }
        let config = self.config;
        if !config.load_balancer_arn.starts_with("arn:") {
            return Err(ConfigError::InvalidOption(
                "load_balancer_arn must be the load balancer's ARN (`arn:…`)",
            ));
        }
        let Some(endpoint) = &config.key_endpoint else {
            return Err(ConfigError::InvalidOption(
                "an ALB verifier needs a region or a key endpoint",
            ));
        };
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(ConfigError::InvalidOption("a key endpoint must be http(s)"));
        }
        if config.issuer.as_deref() == Some("") {
            return Err(ConfigError::InvalidOption("the issuer is empty"));
        }
        if config.max_header_len == 0 || config.timeout.is_zero() {
            return Err(ConfigError::InvalidOption(
                "inconsistent ALB verifier limits",
            ));
        }
        let client = remote::key_client(config.timeout)?;
        Ok(AlbVerifier {
            inner: Arc::new(Inner {
                config,
                client,
                keys: moka::sync::Cache::new(MAX_CACHED_KEYS),
                fetch_lock: Arc::new(tokio::sync::Mutex::new(None)),
                fetches: AtomicU64::new(0),
            }),
        })
    }
}

/// A header that passed steps 1–3: what the key and the signature are checked against.
struct Unverified<'a> {
    kid: String,
    /// `header.payload` as sent.
    message: &'a [u8],
    signature: Vec<u8>,
    payload: &'a str,
    /// The header's own `exp`, when it has one.
    header_exp: Option<u64>,
}

fn decode(part: &str, kind: ErrorKind) -> Result<Vec<u8>, Error> {
    PADDED_OR_NOT
        .decode(part)
        .map_err(|e| Error::with_source(kind, e))
}

/// Whether `kid` can be put into a URL path as it is: 1 to [`MAX_KID_LEN`] ASCII letters,
/// digits, `-` and `_` (no `/`, no `.`, no `%`, nothing to escape).
fn kid_is_safe(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AlbVerifier {
    /// A builder for the load balancer `load_balancer_arn`, which the header's `signer`
    /// must equal exactly (e.g.
    /// `arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-alb/1234567890abcdef`).
    /// Give it a [region](AlbVerifierBuilder::region) or a
    /// [key endpoint](AlbVerifierBuilder::key_endpoint).
    pub fn builder(load_balancer_arn: impl Into<String>) -> AlbVerifierBuilder {
        AlbVerifierBuilder {
            config: Config {
                load_balancer_arn: load_balancer_arn.into(),
                key_endpoint: None,
                issuer: None,
                leeway: DEFAULT_LEEWAY,
                max_header_len: DEFAULT_MAX_HEADER_LEN,
                timeout: remote::DEFAULT_TIMEOUT,
                cooldown: DEFAULT_COOLDOWN,
                roles_claim: ClaimPath::default(),
            },
            pending: None,
        }
    }

    /// Verifies the value of an `x-amzn-oidc-data` header, fetching the key of its `kid`
    /// if it is not cached (see [Keys](self#keys)).
    pub async fn check(&self, header_value: &str) -> Result<VerifiedToken<()>, Error> {
        let unverified = self.read(header_value)?;
        let key = match self.inner.keys.get(&unverified.kid) {
            Some(key) => key,
            None => self.fetch_key(&unverified.kid).await?,
        };
        self.finish(unverified, &key, now_secs())
    }

    /// [`AlbVerifier::check`] without any I/O: `None` when the key of the header's `kid`
    /// is not cached, and only [`AlbVerifier::check`] can tell.
    pub fn check_now(&self, header_value: &str) -> Option<Result<VerifiedToken<()>, Error>> {
        let unverified = match self.read(header_value) {
            Ok(unverified) => unverified,
            Err(error) => return Some(Err(error)),
        };
        let key = self.inner.keys.get(&unverified.kid)?;
        Some(self.finish(unverified, &key, now_secs()))
    }

    /// How many key fetches were attempted so far (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Steps 1–3: the shape, the header's rules and the `signer`.
    fn read<'a>(&self, value: &'a str) -> Result<Unverified<'a>, Error> {
        let config = &self.inner.config;
        if value.len() > config.max_header_len {
            return Err(ErrorKind::TooLarge.into());
        }
        let mut parts = value.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ErrorKind::Malformed.into());
        };
        if h64.is_empty() || p64.is_empty() || s64.is_empty() {
            return Err(ErrorKind::Malformed.into());
        }
        let header = decode(h64, ErrorKind::MalformedHeader)?;
        let [alg, crit, signer, kid, exp] = json::pick(
            &header,
            [
                Some("alg"),
                Some("crit"),
                Some("signer"),
                Some("kid"),
                Some("exp"),
            ],
        )
        .map_err(|e| Error::with_source(ErrorKind::MalformedHeader, e))?;
        match alg.as_ref().and_then(Member::as_str) {
            Some("ES256") => {}
            Some(name) if name.eq_ignore_ascii_case("none") => {
                return Err(ErrorKind::AlgorithmNone.into());
            }
            Some(_) => return Err(ErrorKind::UnsupportedAlgorithm.into()),
            None => return Err(ErrorKind::MalformedHeader.into()),
        }
        if crit.is_some() {
            return Err(ErrorKind::UnsupportedCritical.into());
        }
        match &signer {
            Some(Member::Str(signer)) if signer.as_ref() == config.load_balancer_arn.as_str() => {}
            None | Some(Member::Str(_)) => return Err(ErrorKind::WrongSigner.into()),
            Some(_) => return Err(ErrorKind::MalformedHeader.into()),
        }
        let kid = match kid {
            Some(Member::Str(kid)) if kid_is_safe(&kid) => kid.into_owned(),
            None | Some(Member::Str(_)) => return Err(ErrorKind::UnknownKey.into()),
            Some(_) => return Err(ErrorKind::MalformedHeader.into()),
        };
        let header_exp = Registered::read(RawRegistered {
            exp,
            ..RawRegistered::default()
        })
        .map_err(|e| Error::with_source(ErrorKind::MalformedHeader, e))?
        .exp;
        Ok(Unverified {
            kid,
            message: &value.as_bytes()[..h64.len() + 1 + p64.len()],
            signature: decode(s64, ErrorKind::Malformed)?,
            payload: p64,
            header_exp,
        })
    }

    /// Steps 5 and 6: the signature with `key`, then the claims as of `now`.
    fn finish(
        &self,
        unverified: Unverified<'_>,
        key: &Key,
        now: u64,
    ) -> Result<VerifiedToken<()>, Error> {
        let config = &self.inner.config;
        if !key.verifies(unverified.message, &unverified.signature) {
            return Err(ErrorKind::InvalidSignature.into());
        }
        let payload = decode(unverified.payload, ErrorKind::MalformedClaims)?;
        let text = String::from_utf8(payload)
            .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
        // The strict parser refuses duplicate members and deep nesting; serde_json then
        // builds the object it accepted.
        json::pick_str(&text, []).map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
        let claims: Map<String, Value> = serde_json::from_str(&text)
            .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
        let leeway = config.leeway.as_secs();
        let token = token_from_claims(
            claims,
            &config.roles_claim,
            Algorithm::ES256,
            key.shared_kid(),
            leeway,
        )?;
        let expired = |exp: u64| exp.saturating_add(leeway) <= now;
        match token.expires_at() {
            None => return Err(ErrorKind::MissingClaim("exp").into()),
            Some(exp) if expired(exp) => return Err(ErrorKind::Expired.into()),
            Some(_) => {}
        }
        if unverified.header_exp.is_some_and(expired) {
            return Err(ErrorKind::Expired.into());
        }
        if token
            .registered()
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(ErrorKind::NotYetValid.into());
        }
        if let Some(issuer) = &config.issuer {
            match token.issuer() {
                None => return Err(ErrorKind::MissingClaim("iss").into()),
                Some(iss) if iss != issuer => return Err(ErrorKind::WrongIssuer.into()),
                Some(_) => {}
            }
        }
        Ok(token.map_claims(|_| ()))
    }

    /// Fetches the key of `kid` unless the cooldown holds fetches back; concurrent callers
    /// wait for the fetch in progress and use its key when it is theirs.
    async fn fetch_key(&self, kid: &str) -> Result<Key, Error> {
        let inner = &self.inner;
        let mut last = Arc::clone(&inner.fetch_lock).lock_owned().await;
        if let Some(key) = inner.keys.get(kid) {
            return Ok(key); // fetched by the caller that held the lock
        }
        if last.is_some_and(|at| at.elapsed() < inner.config.cooldown) {
            return Err(ErrorKind::KeysUnavailable.into());
        }
        *last = Some(Instant::now());
        // The fetch runs in a task of its own, holding the lock: a caller that stops
        // waiting (its client hung up) must not cancel a fetch that the cooldown would then
        // keep from being retried.
        let fetching = Arc::clone(inner);
        let kid = kid.to_owned();
        tokio::spawn(async move {
            let _last = last;
            fetching.fetch(kid).await
        })
        .await
        .unwrap_or_else(|e| Err(Error::with_source(ErrorKind::KeysUnavailable, e)))
    }
}

impl Inner {
    /// GETs the key of `kid` (already known to be safe in a URL path) and caches it.
    async fn fetch(&self, kid: String) -> Result<Key, Error> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let endpoint = self.config.key_endpoint.as_deref().unwrap_or_default();
        let url = format!("{endpoint}/{kid}");
        let answer =
            remote::get_bounded(&self.client, &url, self.config.timeout, MAX_KEY_BODY).await;
        let pem = match answer {
            Ok((pem, _)) => pem,
            Err(error @ FetchError::Status(403 | 404)) => {
                tracing::debug!(target: "tollgate::alb", %error, "no load balancer key under this kid");
                return Err(Error::with_source(ErrorKind::UnknownKey, error));
            }
            Err(error) => {
                tracing::warn!(target: "tollgate::alb", %error, "load balancer key fetch failed");
                return Err(Error::with_source(ErrorKind::KeysUnavailable, error));
            }
        };
        let key = Key::ec_pem(pem.as_bytes(), Algorithm::ES256).map_err(|error| {
            tracing::warn!(target: "tollgate::alb", %error, "the key endpoint answered no P-256 public key");
            Error::with_source(ErrorKind::KeysUnavailable, FetchError::Keys(error))
        })?;
        let key = key.with_kid(kid.clone());
        tracing::info!(target: "tollgate::alb", "fetched a load balancer key");
        self.keys.insert(kid, key.clone());
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_path_safe() {
        assert!(kid_is_safe("12345678-1234-1234-1234-123456789012"));
        assert!(kid_is_safe("a_B-9"));
        for bad in [
            "", "..", "a/b", "a.b", "%2e%2e", "a b", "ä", "a?b", "a#b", "a\\b",
        ] {
            assert!(!kid_is_safe(bad), "{bad:?}");
        }
        assert!(kid_is_safe(&"a".repeat(MAX_KID_LEN)));
        assert!(!kid_is_safe(&"a".repeat(MAX_KID_LEN + 1)));
    }

    #[test]
    fn padding_is_optional_but_the_alphabet_strict() {
        assert_eq!(PADDED_OR_NOT.decode("YQ==").unwrap(), b"a");
        assert_eq!(PADDED_OR_NOT.decode("YQ").unwrap(), b"a");
        for bad in ["YQ===", "Y Q==", "YR==", "+/==", "YQ==\n"] {
            assert!(PADDED_OR_NOT.decode(bad).is_err(), "{bad:?}");
        }
    }
}
