//! The [`Verifier`]: one object, built once and shared, that turns a token string into a
//! [`VerifiedToken`] or an [`Error`] that says why not.
//!
//! # Rules, in the order they are applied
//! 1. Length at most [`VerifierBuilder::max_token_len`] (default 8 KiB), before any decoding.
//! 2. Exactly three segments of strict base64url (no padding, no whitespace); five segments
//!    (a JWE) and `cty: JWT` (a nested token) are refused.
//! 3. A header that is a JSON object without duplicate members, whose `alg` is a string
//!    naming a supported algorithm (never `none`); `crit` is refused (no extension is
//!    understood); `typ` must match when one is required; `jwk`, `jku`, `x5u`, `x5c` are
//!    ignored and never fetched.
//! 4. Key selection by `kid`; without `kid`, the one key bound to `alg` (several → refused
//!    unless [`VerifierBuilder::try_all_keys`]). The key's algorithm must equal `alg`.
//! 5. The signature: with `aws_lc_rs`, by the key aws-lc-rs parsed when it was loaded, with
//!    the primitives jsonwebtoken's aws-lc provider uses; with `rust_crypto` only, through
//!    jsonwebtoken's provider.
//! 6. A claim set that is a JSON object without duplicate members; `exp` (required by
//!    default, and no further ahead than [`VerifierBuilder::max_lifetime`] when set), `nbf`
//!    and optionally `iat`, each with a leeway (default 60 s); `iss` and `aud` when
//!    configured; required claims.
//!
//! # Verified-token cache
//! Off by default. With [`VerifierBuilder::token_cache`], a token that passed every rule is
//! cached (for example at most 10 000 tokens, each for at most 60 s, and never past its
//! `exp` plus the leeway).
//! Verifying the same token again then skips steps 1–6 except the time rules: `exp`,
//! `nbf` and `iat` are checked again against the `now` of each call, so a token that
//! expires while cached is refused. Only verified tokens are inserted, so forged or random
//! tokens cannot fill the cache; it is keyed by the whole token string (no hash, so no
//! collision). Revocation is not the verifier's business: `tollgate-axum`'s layer asks the
//! store after every verification, cached or not.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use tollgate::{Algorithm, Key, Verifier};
//!
//! let verifier = Verifier::builder()
//!     .key(Key::hmac(&[7u8; 32], Algorithm::HS256)?)
//!     .issuer("https://issuer.example")
//!     .audience("my-api")
//!     .leeway(Duration::from_secs(30))
//!     .build()?;
//! assert!(verifier.verify("not.a.token").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::claims::{ClaimPath, Names, RawRegistered, Registered, Text, TokenInfo, VerifiedToken};
use crate::error::{ConfigError, Error, ErrorKind};
use crate::json::{self, Member};
use crate::keys::{Key, KeySet, ensure_crypto_provider, kid_is_plausible};
use crate::token_cache::TokenCache;
pub use crate::token_cache::{DEFAULT_TOKEN_CACHE_ENTRIES, DEFAULT_TOKEN_CACHE_TTL};
use crate::{Algorithm, now_secs};
use base64::DecodeSliceError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::ThumbprintHash;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Default maximum token length: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// Default clock-skew leeway for `exp`, `nbf` and `iat`: 60 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Verifies tokens. Cheap to clone (an `Arc`); build one at start-up and share it.
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keys: KeySet,
    #[cfg(feature = "remote")]
    remote: Option<crate::remote::RemoteKeys>,
    /// For [`Verifier::any_of`]: the per-issuer verifiers a token is dispatched to.
    delegates: Vec<Verifier>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: u64,
    require_exp: bool,
    validate_iat: bool,
    required_typ: Option<String>,
    /// Seconds.
    max_lifetime: Option<u64>,
    required_claims: Vec<&'static str>,
    max_token_len: usize,
    try_all_keys: bool,
    roles_claim: ClaimPath,
    clients: Option<ClientRule>,
    /// Verified tokens; `None` when disabled (and for [`Verifier::any_of`], whose
    /// verifiers each have their own).
    token_cache: Option<TokenCache>,
}

/// Builds a [`Verifier`]; see [`Verifier::builder`].
#[derive(Debug)]
#[must_use]
pub struct VerifierBuilder {
    keys: KeySet,
    #[cfg(feature = "remote")]
    remote: Option<crate::remote::RemoteKeys>,
    pending: Option<ConfigError>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    require_exp: bool,
    validate_iat: bool,
    required_typ: Option<String>,
    /// Set by [`VerifierBuilder::access_token_profile`]: issuer and audience required.
    access_token_profile: bool,
    max_lifetime: Option<Duration>,
    required_claims: Vec<&'static str>,
    max_token_len: usize,
    try_all_keys: bool,
    roles_claim: ClaimPath,
    /// Set by [`VerifierBuilder::cognito`]: the pool whose keys are discovered at build
    /// time unless keys are given.
    cognito_pool: Option<crate::cognito::UserPool>,
    clients: Option<ClientRule>,
    /// `(max_entries, max_ttl)`, or `None` for no cache.
    token_cache: Option<(u64, Duration)>,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        Self {
            keys: KeySet::new(),
            #[cfg(feature = "remote")]
            remote: None,
            pending: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            require_exp: true,
            validate_iat: false,
            required_typ: None,
            access_token_profile: false,
            max_lifetime: None,
            required_claims: Vec::new(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            try_all_keys: false,
            roles_claim: ClaimPath::default(),
            cognito_pool: None,
            clients: None,
            token_cache: None,
        }
    }
}

/// Which app clients a token may be for, beyond the plain `aud` rule.
#[derive(Debug, Clone)]
enum ClientRule {
    /// The audiences are matched against `aud`, or, when the token has none, against this
    /// claim (`client_id`, `azp`).
    AudienceOrClaim(String),
    /// Amazon Cognito's `token_use` and app client rules.
    Cognito(crate::cognito::Rule),
}

impl ClientRule {
    /// The claims the rule reads besides the registered ones: `token_use` and the
    /// client claim.
    fn claims(&self) -> [Option<&str>; 2] {
        match self {
            Self::AudienceOrClaim(claim) => [None, Some(claim)],
            Self::Cognito(_) => [Some("token_use"), Some("client_id")],
        }
    }
}

impl VerifierBuilder {
    /// Adds one key. A `kid` already present is reported by [`VerifierBuilder::build`].
    pub fn key(mut self, key: Key) -> Self {
        if let Err(e) = self.keys.insert(key) {
            self.pending.get_or_insert(e);
        }
        self
    }

    /// Adds every key of `keys`.
    pub fn keys(mut self, keys: KeySet) -> Self {
        if let Err(e) = self.keys.extend(keys) {
            self.pending.get_or_insert(e);
        }
        self
    }

    /// Also accepts keys fetched from an identity provider (feature `remote`). A token
    /// whose `kid` is unknown makes [`Verifier::verify_async`] refetch them (rate-limited).
    #[cfg(feature = "remote")]
    pub fn remote_keys(mut self, keys: crate::remote::RemoteKeys) -> Self {
        self.remote = Some(keys);
        self
    }

    /// Accepts tokens whose `iss` is exactly `issuer` (no normalisation of case or
    /// trailing slashes). Call again to accept several issuers.
    ///
    /// # Security
    /// Several issuers on one verifier share its keys: **any** of its keys is then trusted
    /// to sign for **every** listed issuer, so one issuer's key (or whoever holds it) can
    /// mint tokens that name the other. That is right only when the issuers are one
    /// authority under several names (e.g. an old and a new URL of the same provider).
    /// For independent issuers, build one verifier per issuer, each with its own keys, and
    /// combine them with [`Verifier::any_of`]: a token is then checked only with the keys of
    /// the issuer it names.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` is, or is an array containing, `audience`. Call again to
    /// accept several audiences.
    ///
    /// # Security
    /// Without an audience, a token minted by the same issuer for another service is
    /// accepted here too. Configure one unless the issuer serves only this service.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock-skew leeway for `exp`, `nbf` and `iat` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Whether `exp` must be present (default `true`).
    ///
    /// # Security
    /// A token without `exp` never expires; turn this off only for issuers that cannot
    /// set one, and then pair it with revocation.
    pub fn require_exp(mut self, required: bool) -> Self {
        self.require_exp = required;
        self
    }

    /// Refuses tokens whose `exp` is more than `lifetime` from now (default: no bound).
    ///
    /// A bound on how long any accepted token can still live is what lets a revocation be
    /// kept for a known time: a "log out everywhere" cut-off kept for `lifetime` plus the
    /// leeway outlives every token it covers. Without it, a provider that mints long-lived
    /// tokens (or a misconfigured one) outlives the cut-off. Such tokens are refused with
    /// [`ErrorKind::LifetimeTooLong`].
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = Some(lifetime);
        self
    }

    /// Refuses tokens whose `iat` is later than now plus the leeway (default off).
    pub fn validate_iat(mut self, validate: bool) -> Self {
        self.validate_iat = validate;
        self
    }

    /// Requires the header's `typ` to equal `typ`, case-insensitively and with an optional
    /// `application/` prefix (RFC 9068 §4: `at+jwt` for access tokens).
    pub fn require_type(mut self, typ: impl Into<String>) -> Self {
        self.required_typ = Some(typ.into());
        self
    }

    /// Accepts only JWT access tokens as RFC 9068 defines them: the header's `typ` must be
    /// `at+jwt` (or `application/at+jwt`, case-insensitively, RFC 9068 §4), and an issuer and
    /// an audience must be configured ([`VerifierBuilder::build`] refuses otherwise).
    ///
    /// This is what tells an access token from an OpenID Connect ID token of the same
    /// provider: an ID token is signed by the same keys and may name this API as its
    /// audience (when a client id equals the API's identifier), but its `typ` is `JWT` or
    /// absent. Tokens from [`crate::Signer`] carry `at+jwt` by default.
    ///
    /// ```
    /// # use tollgate::{Algorithm, Key, Verifier};
    /// let verifier = Verifier::builder()
    ///     .key(Key::hmac(&[7u8; 32], Algorithm::HS256)?)
    ///     .issuer("https://issuer.example")
    ///     .audience("orders-api")
    ///     .access_token_profile()
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn access_token_profile(mut self) -> Self {
        self.required_typ = Some(crate::signer::ACCESS_TOKEN_TYPE.to_owned());
        self.access_token_profile = true;
        self
    }

    /// Requires a registered claim to be present: one of `sub`, `jti`, `iat`, `nbf`, `iss`,
    /// `aud`, `exp`.
    pub fn require_claim(mut self, name: &str) -> Self {
        match ["sub", "jti", "iat", "nbf", "iss", "aud", "exp"]
            .into_iter()
            .find(|n| *n == name)
        {
            Some(name) => self.required_claims.push(name),
            None => {
                self.pending.get_or_insert(ConfigError::InvalidOption(
                    "require_claim takes a registered claim name",
                ));
            }
        }
        self
    }

    /// Tokens longer than `len` bytes are refused before any decoding (default 8 KiB).
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// When a token has no `kid` and several keys are bound to its `alg`, try each of them
    /// instead of refusing the token (default off).
    pub fn try_all_keys(mut self, enabled: bool) -> Self {
        self.try_all_keys = enabled;
        self
    }

    /// For providers that name the client instead of the audience in some tokens: a token
    /// **without** `aud` satisfies the audience rule when its claim `claim` (`client_id`,
    /// `azp`) is one of the audiences. A token with `aud` is judged by `aud` alone, as API
    /// Gateway's JWT authorizer does. For Amazon Cognito use [`VerifierBuilder::cognito`],
    /// which also tells access tokens from ID tokens.
    pub fn audience_or_claim(mut self, claim: impl Into<String>) -> Self {
        if matches!(self.clients, Some(ClientRule::Cognito(_))) {
            self.pending.get_or_insert(ConfigError::InvalidOption(
                "audience_or_claim with cognito: Cognito has its own client rule",
            ));
        }
        self.clients = Some(ClientRule::AudienceOrClaim(claim.into()));
        self
    }

    /// Amazon Cognito's rules for the tokens of `pool` (see [`crate::cognito`]): the
    /// pool's issuer, roles from `cognito:groups`, `token_use` required (access tokens
    /// only, unless [`VerifierBuilder::cognito_token_uses`] says otherwise), and the app
    /// client checked — `client_id` for access tokens, `aud` for ID tokens — against
    /// [`VerifierBuilder::cognito_clients`], which must name at least one. Without keys
    /// given, [`VerifierBuilder::build`] discovers the pool's keys (in a Tokio runtime).
    /// An [`VerifierBuilder::audience`] as well is a [`ConfigError`]: Cognito's access
    /// tokens carry none; so is another issuer, set before or after. Roles: call
    /// [`VerifierBuilder::roles_claim`] after this to read them elsewhere than
    /// `cognito:groups`.
    pub fn cognito(mut self, pool: &crate::cognito::UserPool) -> Self {
        if matches!(self.clients, Some(ClientRule::AudienceOrClaim(_))) {
            self.pending.get_or_insert(ConfigError::InvalidOption(
                "cognito with audience_or_claim: Cognito has its own client rule",
            ));
        }
        if self.issuers.iter().any(|issuer| *issuer != pool.issuer()) {
            self.pending.get_or_insert(ConfigError::InvalidOption(
                "cognito with another issuer: use Verifier::any_of for several issuers",
            ));
        }
        self.issuers = vec![pool.issuer()];
        self.roles_claim = ClaimPath::from("cognito:groups");
        self.cognito_pool = Some(pool.clone());
        self.clients = Some(ClientRule::Cognito(crate::cognito::Rule {
            uses: vec![crate::cognito::TokenUse::Access],
            clients: Vec::new(),
        }));
        self
    }

    /// The app client ids whose Cognito tokens are accepted (after
    /// [`VerifierBuilder::cognito`]). Call again to add more.
    pub fn cognito_clients(mut self, clients: impl IntoIterator<Item = impl Into<String>>) -> Self {
        match &mut self.clients {
            Some(ClientRule::Cognito(rule)) => {
                rule.clients.extend(clients.into_iter().map(Into::into))
            }
            _ => {
                self.pending.get_or_insert(ConfigError::InvalidOption(
                    "cognito_clients needs cognito first",
                ));
            }
        }
        self
    }

    /// The Cognito token uses accepted (after [`VerifierBuilder::cognito`]; default
    /// [`TokenUse::Access`](crate::cognito::TokenUse::Access) only).
    pub fn cognito_token_uses(
        mut self,
        uses: impl IntoIterator<Item = crate::cognito::TokenUse>,
    ) -> Self {
        match &mut self.clients {
            Some(ClientRule::Cognito(rule)) => rule.uses = uses.into_iter().collect(),
            _ => {
                self.pending.get_or_insert(ConfigError::InvalidOption(
                    "cognito_token_uses needs cognito first",
                ));
            }
        }
        self
    }

    /// Where roles are read from (default `roles`); see [`ClaimPath`].
    pub fn roles_claim(mut self, path: impl Into<ClaimPath>) -> Self {
        self.roles_claim = path.into();
        self
    }

    /// Caches verified tokens: at most `max_entries` of them, each for at most `max_ttl` and
    /// never past its `exp` plus the leeway. Off by default; the suggested bounds are
    /// [`DEFAULT_TOKEN_CACHE_ENTRIES`] (10 000) and [`DEFAULT_TOKEN_CACHE_TTL`] (60 s).
    ///
    /// ```
    /// # use tollgate::{Algorithm, Key, Verifier};
    /// use tollgate::verifier::{DEFAULT_TOKEN_CACHE_ENTRIES, DEFAULT_TOKEN_CACHE_TTL};
    /// let verifier = Verifier::builder()
    ///     .key(Key::hmac(&[7u8; 32], Algorithm::HS256)?)
    ///     .token_cache(DEFAULT_TOKEN_CACHE_ENTRIES, DEFAULT_TOKEN_CACHE_TTL)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// A repeat token then costs a map lookup, a re-check of `exp`/`nbf`/`iat` against the
    /// current time and a copy of its claims, instead of decoding, parsing and a signature
    /// check. Only tokens that passed every rule are inserted, keyed by the whole token.
    ///
    /// # Trade-offs
    /// - **Memory**: up to `max_entries` × (token length + its decoded claims), i.e. about
    ///   2–3 KiB per typical 1 KiB token, 20–30 MiB at the default bound; tokens may be up
    ///   to [`VerifierBuilder::max_token_len`] long.
    /// - **Keys**: the keys of a built verifier never change, except those of
    ///   `VerifierBuilder::remote_keys`. An entry remembers which remote key set was
    ///   current when it was inserted and is trusted only while that set is still current:
    ///   any swap of the remote keys (a refresh, a rotation, a key removed by the identity
    ///   provider) makes every cached token be verified again from scratch. To stop trusting
    ///   a static key, build a new verifier; [`Verifier::clear_token_cache`] empties the
    ///   cache at any time.
    /// - **Revocation** is unaffected: the store is asked after every verification,
    ///   cached or not (that is the layer's job in `tollgate-axum`).
    ///
    /// `max_entries` and `max_ttl` must not be zero (use
    /// [`VerifierBuilder::no_token_cache`] to turn the cache off).
    pub fn token_cache(mut self, max_entries: u64, max_ttl: Duration) -> Self {
        self.token_cache = Some((max_entries, max_ttl));
        self
    }

    /// Turns the verified-token cache off (the default): every call verifies the token from
    /// scratch.
    pub fn no_token_cache(mut self) -> Self {
        self.token_cache = None;
        self
    }

    /// Checks the configuration and builds the verifier.
    #[cfg_attr(not(feature = "remote"), allow(unused_mut))]
    pub fn build(mut self) -> Result<Verifier, ConfigError> {
        ensure_crypto_provider()?;
        if let Some(e) = self.pending {
            return Err(e);
        }
        if let Some(pool) = &self.cognito_pool
            && self.issuers.iter().any(|issuer| *issuer != pool.issuer())
        {
            return Err(ConfigError::InvalidOption(
                "cognito with another issuer: use Verifier::any_of for several issuers",
            ));
        }
        match &self.clients {
            Some(ClientRule::Cognito(rule)) => {
                if rule.clients.is_empty() || rule.clients.iter().any(String::is_empty) {
                    return Err(ConfigError::InvalidOption(
                        "Cognito needs the app client ids it accepts (cognito_clients)",
                    ));
                }
                if rule.uses.is_empty() {
                    return Err(ConfigError::InvalidOption(
                        "Cognito needs a token use to accept",
                    ));
                }
                if !self.audiences.is_empty() {
                    return Err(ConfigError::InvalidOption(
                        "an audience with Cognito: access tokens carry no aud; give the app client ids with cognito_clients only",
                    ));
                }
            }
            Some(ClientRule::AudienceOrClaim(claim))
                if self.audiences.is_empty() || claim.is_empty() =>
            {
                return Err(ConfigError::InvalidOption(
                    "audience_or_claim needs a claim name and an audience",
                ));
            }
            Some(ClientRule::AudienceOrClaim(_)) | None => {}
        }
        #[cfg(feature = "remote")]
        if let Some(pool) = &self.cognito_pool
            && self.keys.is_empty()
            && self.remote.is_none()
        {
            self.remote = Some(crate::remote::RemoteKeys::discover(pool.issuer()).build()?);
        }
        #[cfg(feature = "remote")]
        let has_remote = self.remote.is_some();
        #[cfg(not(feature = "remote"))]
        let has_remote = false;
        if self.keys.is_empty() && !has_remote {
            return Err(ConfigError::NoKeys);
        }
        if self.issuers.iter().any(String::is_empty) {
            return Err(ConfigError::InvalidOption("an issuer is empty"));
        }
        if self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::InvalidOption("an audience is empty"));
        }
        if self.access_token_profile && (self.issuers.is_empty() || self.audiences.is_empty()) {
            return Err(ConfigError::InvalidOption(
                "the access-token profile (RFC 9068) needs an issuer and an audience",
            ));
        }
        if self.max_token_len == 0 {
            return Err(ConfigError::InvalidOption("max_token_len is zero"));
        }
        if let Some((max_entries, max_ttl)) = self.token_cache
            && (max_entries == 0 || max_ttl.is_zero())
        {
            return Err(ConfigError::InvalidOption(
                "token_cache needs entries and a TTL (use no_token_cache to turn it off)",
            ));
        }
        if self.audiences.is_empty() {
            tracing::debug!(target: "tollgate::verifier", "no audience configured: `aud` is not checked");
        }
        Ok(Verifier {
            inner: Arc::new(Inner {
                keys: self.keys,
                #[cfg(feature = "remote")]
                remote: self.remote,
                delegates: Vec::new(),
                issuers: self.issuers,
                audiences: self.audiences,
                leeway: self.leeway.as_secs(),
                require_exp: self.require_exp,
                validate_iat: self.validate_iat,
                required_typ: self.required_typ,
                max_lifetime: self.max_lifetime.map(|d| d.as_secs()),
                required_claims: self.required_claims,
                max_token_len: self.max_token_len,
                try_all_keys: self.try_all_keys,
                roles_claim: self.roles_claim,
                clients: self.clients,
                token_cache: self
                    .token_cache
                    .map(|(entries, ttl)| TokenCache::new(entries, ttl)),
            }),
        })
    }
}

/// The header members tollgate reads.
struct Header<'a> {
    alg: Algorithm,
    kid: Option<Cow<'a, str>>,
}

/// Room on the stack for a decoded header (typical ones are under 100 bytes); a longer one
/// is decoded onto the heap.
const HEADER_BUF: usize = 256;
/// Room on the stack for a decoded signature: HMAC, ECDSA and Ed25519 ones (at most 96
/// bytes) fit; RSA ones (256 bytes and more) go to the heap, next to a verification that
/// costs a thousand times more than the allocation. Small, because the buffer is zeroed on
/// every verification.
const SIGNATURE_BUF: usize = 96;

fn b64(segment: &str, kind: ErrorKind) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| Error::with_source(kind, e))
}

/// Decodes `segment` into `buf` when it fits, or onto the heap when it does not; the same
/// answer as [`b64`] either way.
fn b64_into<'a>(segment: &str, buf: &'a mut [u8], kind: ErrorKind) -> Result<Cow<'a, [u8]>, Error> {
    if base64::decoded_len_estimate(segment.len()) > buf.len() {
        return b64(segment, kind).map(Cow::Owned);
    }
    match URL_SAFE_NO_PAD.decode_slice(segment, buf) {
        Ok(len) => Ok(Cow::Borrowed(&buf[..len])),
        Err(DecodeSliceError::OutputSliceTooSmall) => b64(segment, kind).map(Cow::Owned),
        Err(DecodeSliceError::DecodeError(e)) => Err(Error::with_source(kind, e)),
    }
}

fn optional_str<'a>(member: Option<&'a Member<'_>>) -> Result<Option<&'a str>, Error> {
    match member {
        None => Ok(None),
        Some(member) => member
            .as_str()
            .map(Some)
            .ok_or(ErrorKind::MalformedHeader.into()),
    }
}

/// The verified JSON claim set of `token` as a [`Value`], for the forms of verification
/// that hand out JSON.
fn with_json(token: VerifiedToken<()>) -> Result<VerifiedToken, Error> {
    // The text was checked strictly (one object, no duplicate names, bounded depth), so
    // this reads it exactly as the check did.
    let value = serde_json::from_str(token.claims_json())
        .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
    Ok(token.map_claims(|()| value))
}

/// `typ`/`cty` comparison per RFC 7515 §4.1.9: case-insensitive, `application/` optional.
fn media_type_eq(actual: &str, expected: &str) -> bool {
    fn strip(s: &str) -> &str {
        // `get`, not `s[..12]`: the header is untrusted and byte 12 may fall inside a
        // multi-byte character, where slicing would panic.
        match (s.get(..12), s.get(12..)) {
            (Some(prefix), Some(rest))
                if !rest.is_empty() && prefix.eq_ignore_ascii_case("application/") =>
            {
                rest
            }
            _ => s,
        }
    }
    strip(actual).eq_ignore_ascii_case(strip(expected))
}

/// Names a token without `jti` for revocation: a hash of its *decoded* claim set, so a
/// re-encoded copy (another signature encoding, another base64 spelling) has the same name.
pub(crate) fn fingerprint(payload: &[u8]) -> Result<String, Error> {
    let provider = jsonwebtoken::crypto::CryptoProvider::try_get_default()
        .ok_or(Error::new(ErrorKind::MalformedClaims))?;
    let digest = (provider.key_utils.compute_digest)(payload, ThumbprintHash::SHA256)
        .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
    Ok(format!("sha256:{}", URL_SAFE_NO_PAD.encode(digest)))
}

impl Verifier {
    /// A builder with the secure defaults: `exp` required, 60 s leeway, 8 KiB limit.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// The keys this verifier accepts.
    pub fn keys(&self) -> &KeySet {
        &self.inner.keys
    }

    /// One verifier for several issuers, each with its own keys, audiences and rules.
    ///
    /// A token goes to the verifier whose issuers include its `iss`. That `iss` is read
    /// before the signature is checked, so it is used for nothing but choosing the
    /// candidate: the chosen verifier then checks the signature with *its* keys and the
    /// `iss` again. Each verifier must name at least one issuer, and no two the same.
    pub fn any_of(verifiers: impl IntoIterator<Item = Verifier>) -> Result<Self, ConfigError> {
        let delegates: Vec<Verifier> = verifiers.into_iter().collect();
        let mut seen = std::collections::HashSet::new();
        for verifier in &delegates {
            if verifier.inner.issuers.is_empty() {
                return Err(ConfigError::InvalidOption(
                    "each verifier of any_of needs an issuer",
                ));
            }
            if verifier
                .inner
                .issuers
                .iter()
                .any(|iss| !seen.insert(iss.clone()))
            {
                return Err(ConfigError::InvalidOption(
                    "two verifiers of any_of share an issuer",
                ));
            }
        }
        let max_token_len = delegates
            .iter()
            .map(|v| v.inner.max_token_len)
            .max()
            .ok_or(ConfigError::NoKeys)?;
        Ok(Verifier {
            inner: Arc::new(Inner {
                keys: KeySet::new(),
                #[cfg(feature = "remote")]
                remote: None,
                delegates,
                issuers: Vec::new(),
                audiences: Vec::new(),
                leeway: 0,
                require_exp: true,
                validate_iat: false,
                required_typ: None,
                max_lifetime: None,
                required_claims: Vec::new(),
                max_token_len,
                try_all_keys: false,
                roles_claim: ClaimPath::default(),
                clients: None,
                token_cache: None,
            }),
        })
    }

    /// The verifier of [`Verifier::any_of`] that `token` claims to be for, chosen by its
    /// unverified `iss`.
    fn delegate_for(&self, token: &str) -> Result<&Verifier, Error> {
        if token.len() > self.inner.max_token_len {
            return Err(ErrorKind::TooLarge.into());
        }
        let payload = token
            .split('.')
            .nth(1)
            .ok_or(Error::new(ErrorKind::Malformed))?;
        // The same strict pass as verification, building nothing but `iss`.
        let payload = b64(payload, ErrorKind::MalformedClaims)?;
        let [iss] = json::pick(&payload, [Some("iss")])
            .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
        let iss = match &iss {
            Some(member) => member
                .as_str()
                .ok_or(Error::new(ErrorKind::InvalidClaim("iss")))?,
            None => return Err(ErrorKind::MissingClaim("iss").into()),
        };
        self.inner
            .delegates
            .iter()
            .find(|v| v.inner.issuers.iter().any(|i| i == iss))
            .ok_or(Error::new(ErrorKind::WrongIssuer))
    }

    /// Whether this verifier has keys to verify with: static keys, or remote keys whose
    /// last answer held a usable key (for [`Verifier::any_of`], every verifier has). For
    /// readiness checks: remote keys that never loaded, or that the provider withdrew
    /// (`{"keys":[]}`), do not count.
    pub fn keys_loaded(&self) -> bool {
        if !self.inner.delegates.is_empty() {
            return self.inner.delegates.iter().all(Verifier::keys_loaded);
        }
        !self.inner.keys.is_empty() || self.remote_keys().is_some_and(|keys| !keys.is_empty())
    }

    /// How many verified tokens are cached now (for [`Verifier::any_of`], summed over its
    /// verifiers); 0 without a cache. Applies pending expirations and evictions first, so
    /// it is meant for tests and diagnostics, not for every request.
    pub fn token_cache_len(&self) -> u64 {
        let own = self.inner.token_cache.as_ref().map_or(0, TokenCache::len);
        own + self
            .inner
            .delegates
            .iter()
            .map(Verifier::token_cache_len)
            .sum::<u64>()
    }

    /// Empties the verified-token cache (of every verifier of [`Verifier::any_of`]): the
    /// next verification of each token starts from scratch.
    pub fn clear_token_cache(&self) {
        if let Some(cache) = &self.inner.token_cache {
            cache.clear();
        }
        self.inner
            .delegates
            .iter()
            .for_each(Verifier::clear_token_cache);
    }

    /// Whether verification may have to fetch keys ([`Verifier::verify_async`] then does
    /// more than [`Verifier::verify`]).
    pub fn fetches_keys(&self) -> bool {
        #[cfg(feature = "remote")]
        if self.inner.remote.is_some() {
            return true;
        }
        self.inner.delegates.iter().any(Verifier::fetches_keys)
    }

    /// Like [`Verifier::verify`], but a token whose `kid` is unknown to the remote keys
    /// makes them refetch (at most once per cooldown, shared by concurrent callers) and is
    /// then verified again. Without remote keys, the same as [`Verifier::verify`].
    pub async fn verify_async(&self, token: &str) -> Result<VerifiedToken, Error> {
        with_json(self.check_async(token).await?)
    }

    /// [`Verifier::verify_async`] without deserializing the claims; see [`Verifier::check`].
    pub async fn check_async(&self, token: &str) -> Result<VerifiedToken<()>, Error> {
        if !self.inner.delegates.is_empty() {
            return Box::pin(self.delegate_for(token)?.check_async(token)).await;
        }
        let first = self.check(token);
        #[cfg(feature = "remote")]
        if let (Err(error), Some(remote)) = (&first, &self.inner.remote)
            && matches!(
                error.kind(),
                ErrorKind::UnknownKey | ErrorKind::KeysUnavailable
            )
        {
            // Verify again whatever the refetch says: keys a background refresh loaded
            // while the cooldown refused this caller's refetch count too.
            remote.refresh_for_unknown_kid().await;
            return self.check(token);
        }
        first
    }

    /// Verifies `token` now, keeping the claims as JSON.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, Error> {
        self.verify_at(token, now_secs())
    }

    /// Verifies `token` now and deserializes its claims into `T`, straight from the JSON
    /// text (no intermediate [`serde_json::Value`]).
    pub fn verify_as<T: DeserializeOwned>(&self, token: &str) -> Result<VerifiedToken<T>, Error> {
        self.check(token)?.deserialize_claims()
    }

    /// Verifies `token` as if the time were `now` (seconds since the Unix epoch).
    pub fn verify_at(&self, token: &str, now: u64) -> Result<VerifiedToken, Error> {
        with_json(self.check_at(token, now)?)
    }

    /// Verifies `token` now by every rule of [`Verifier::verify`], without deserializing its
    /// claims into any type: the cheapest form, and the one `tollgate-axum`'s layer uses.
    /// The claims stay available as JSON text ([`VerifiedToken::claims_json`]) and through
    /// `deserialize_claims`. With the token cache, a hit hands out the
    /// cached token itself (no copy).
    pub fn check(&self, token: &str) -> Result<VerifiedToken<()>, Error> {
        self.check_at(token, now_secs())
    }

    /// [`Verifier::check`] as if the time were `now` (seconds since the Unix epoch).
    pub fn check_at(&self, token: &str, now: u64) -> Result<VerifiedToken<()>, Error> {
        if !self.inner.delegates.is_empty() {
            return self.delegate_for(token)?.check_at(token, now);
        }
        let started = crate::telemetry::start();
        let mut algorithm = None;
        let result = match &self.inner.token_cache {
            Some(cache) if token.len() <= self.inner.max_token_len => {
                self.verify_cached(cache, token, now, &mut algorithm)
            }
            _ => self.verify_one(token, now, &mut algorithm, false),
        };
        if let Some(started) = started {
            crate::telemetry::verification(algorithm, started.elapsed());
        }
        result
    }

    /// [`Verifier::verify_one`] through the verified-token cache: a hit only re-checks the
    /// time rules; a miss verifies from scratch and caches the token if it passed.
    fn verify_cached(
        &self,
        cache: &TokenCache,
        token: &str,
        now: u64,
        algorithm: &mut Option<Algorithm>,
    ) -> Result<VerifiedToken<()>, Error> {
        // Read before verifying: if the remote keys are swapped meanwhile, the entry names
        // the older set and is re-verified at its first hit (never the other way round).
        #[cfg(feature = "remote")]
        let remote_keys = self.remote_keys();
        if let Some(cached) = cache.get(token) {
            #[cfg(feature = "remote")]
            let fresh = match (&cached.remote_keys, &remote_keys) {
                (None, None) => true,
                (Some(then), Some(current)) => std::ptr::eq(then.as_ptr(), Arc::as_ptr(current)),
                _ => false,
            };
            #[cfg(not(feature = "remote"))]
            let fresh = true;
            if fresh {
                crate::telemetry::token_cache(true);
                *algorithm = Some(cached.token.algorithm());
                let info = &cached.token.info;
                self.check_times(info.exp, info.nbf, info.iat, now)?;
                return Ok(cached.token);
            }
            cache.remove(token);
        }
        crate::telemetry::token_cache(false);
        let verified = self.verify_one(token, now, algorithm, true)?;
        cache.insert(
            token,
            &verified,
            #[cfg(feature = "remote")]
            remote_keys.as_ref().map(Arc::downgrade),
        );
        Ok(verified)
    }

    /// [`Verifier::verify_at`] with this verifier's own keys; sets `algorithm` once the
    /// header named a supported one. `shared`: the token goes into the verified-token cache,
    /// so its typed claims are worth keeping (see [`VerifiedToken::claims_as`]).
    fn verify_one(
        &self,
        token: &str,
        now: u64,
        algorithm: &mut Option<Algorithm>,
        shared: bool,
    ) -> Result<VerifiedToken<()>, Error> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_len {
            return Err(ErrorKind::TooLarge.into());
        }
        let mut segments = token.split('.');
        let (Some(h64), Some(p64), Some(s64)) = (segments.next(), segments.next(), segments.next())
        else {
            return Err(ErrorKind::Malformed.into());
        };
        match segments.count() {
            0 => {}
            2 => return Err(ErrorKind::Encrypted.into()),
            _ => return Err(ErrorKind::Malformed.into()),
        }
        if h64.is_empty() || p64.is_empty() || s64.is_empty() {
            return Err(ErrorKind::Malformed.into());
        }

        let mut header_buf = [0u8; HEADER_BUF];
        let header_bytes = b64_into(h64, &mut header_buf, ErrorKind::MalformedHeader)?;
        let header = self.read_header(&header_bytes)?;
        *algorithm = Some(header.alg);
        let mut buf = [0u8; SIGNATURE_BUF];
        let signature = b64_into(s64, &mut buf, ErrorKind::Malformed)?;
        let message = &token.as_bytes()[..h64.len() + 1 + p64.len()];
        let kid = self.check_signature(&header, message, &signature)?;

        let payload = b64(p64, ErrorKind::MalformedClaims)?;
        let json = String::from_utf8(payload)
            .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
        // One pass over the claim set: checked strictly as a whole, and only the members
        // tollgate reads are built.
        let roles_claim = &inner.roles_claim;
        let [token_use_claim, client_claim] = inner
            .clients
            .as_ref()
            .map_or([None, None], ClientRule::claims);
        let [
            iss,
            sub,
            aud,
            exp,
            nbf,
            iat,
            jti,
            scope,
            scp,
            roles,
            roles_parent,
            token_use,
            client,
        ] = json::pick_str(
            &json,
            [
                Some("iss"),
                Some("sub"),
                Some("aud"),
                Some("exp"),
                Some("nbf"),
                Some("iat"),
                Some("jti"),
                Some("scope"),
                Some("scp"),
                Some(roles_claim.as_str()),
                roles_claim.first_segment(),
                token_use_claim,
                client_claim,
            ],
        )
        .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
        let present = |name: &str| match name {
            "iss" => iss.is_some(),
            "sub" => sub.is_some(),
            "aud" => aud.is_some(),
            "exp" => exp.is_some(),
            "nbf" => nbf.is_some(),
            "iat" => iat.is_some(),
            "jti" => jti.is_some(),
            _ => false,
        };
        let missing = inner.required_claims.iter().find(|c| !present(c));
        let registered = Registered::read(RawRegistered {
            iss,
            sub,
            aud,
            exp,
            nbf,
            iat,
            jti,
        })?;
        self.check_claims(&registered, now)?;
        self.check_clients(&registered, token_use.as_ref(), client.as_ref())?;
        if let Some(missing) = missing {
            return Err(ErrorKind::MissingClaim(missing).into());
        }

        let accepted_until = registered.exp.map(|exp| exp.saturating_add(inner.leeway));
        // Strings stay where they are in the claim set's text: nothing is copied for them.
        let roles = Names::roles(roles_claim.take(roles, roles_parent), &json);
        let scopes = Names::scopes(scope, scp, &json);
        let iss = Text::new(registered.iss.as_ref(), &json);
        let sub = Text::new(registered.sub.as_ref(), &json);
        let jti = Text::new(registered.jti.as_ref(), &json);
        let fingerprint = match registered.jti {
            Some(_) => None,
            None => Some(fingerprint(json.as_bytes())?),
        };
        let (exp, nbf, iat) = (registered.exp, registered.nbf, registered.iat);
        Ok(VerifiedToken {
            info: Arc::new(TokenInfo {
                algorithm: header.alg,
                kid,
                iss,
                sub,
                jti,
                exp,
                nbf,
                iat,
                registered: OnceLock::new(),
                roles,
                scopes,
                fingerprint,
                accepted_until,
                json,
                typed: shared.then(OnceLock::new),
                token_ref: shared.then(OnceLock::new),
            }),
            claims: (),
        })
    }

    fn read_header<'a>(&self, bytes: &'a [u8]) -> Result<Header<'a>, Error> {
        let [alg, crit, cty, typ, kid] = json::pick(
            bytes,
            [
                Some("alg"),
                Some("crit"),
                Some("cty"),
                Some("typ"),
                Some("kid"),
            ],
        )
        .map_err(|e| Error::with_source(ErrorKind::MalformedHeader, e))?;
        let alg = match alg.as_ref().and_then(Member::as_str) {
            Some(name) if name.eq_ignore_ascii_case("none") => {
                return Err(ErrorKind::AlgorithmNone.into());
            }
            Some(name) => name
                .parse::<Algorithm>()
                .map_err(|_| Error::new(ErrorKind::UnsupportedAlgorithm))?,
            None => return Err(ErrorKind::MalformedHeader.into()),
        };
        // No JWS extension is understood, so any `crit` (even an empty or dangling one,
        // both invalid per RFC 7515 §4.1.11) means the token cannot be processed.
        if crit.is_some() {
            return Err(ErrorKind::UnsupportedCritical.into());
        }
        if let Some(cty) = optional_str(cty.as_ref())?
            && media_type_eq(cty, "JWT")
        {
            return Err(ErrorKind::Nested.into());
        }
        let typ = optional_str(typ.as_ref())?;
        if let Some(required) = &self.inner.required_typ
            && !typ.is_some_and(|t| media_type_eq(t, required))
        {
            return Err(ErrorKind::WrongType.into());
        }
        let kid = match kid {
            None => None,
            Some(Member::Str(kid)) if kid_is_plausible(&kid) => Some(kid),
            Some(Member::Str(_)) => return Err(ErrorKind::UnknownKey.into()),
            Some(Member::Strs(_) | Member::Other(_)) => {
                return Err(ErrorKind::MalformedHeader.into());
            }
        };
        Ok(Header { alg, kid })
    }

    /// Whether this verifier has remote keys configured (loaded or not).
    fn awaits_remote_keys(&self) -> bool {
        #[cfg(feature = "remote")]
        return self.inner.remote.is_some();
        #[cfg(not(feature = "remote"))]
        false
    }

    /// The remote keys as they are now, if any are configured and loaded.
    fn remote_keys(&self) -> Option<Arc<KeySet>> {
        #[cfg(feature = "remote")]
        if let Some(remote) = &self.inner.remote {
            return remote.current();
        }
        None
    }

    /// Selects the key for `header` among the static and the remote keys and checks the
    /// signature with it; returns the key's `kid`.
    fn check_signature(
        &self,
        header: &Header,
        message: &[u8],
        signature: &[u8],
    ) -> Result<Option<Arc<str>>, Error> {
        let remote = self.remote_keys();
        // Remote keys that never loaded may hold the token's key: not knowing it then is
        // no fault of the client's (503), whatever the static keys are.
        let unknown = if self.awaits_remote_keys() && remote.is_none() {
            ErrorKind::KeysUnavailable
        } else {
            ErrorKind::UnknownKey
        };
        if self.inner.keys.is_empty() && remote.is_none() {
            return Err(ErrorKind::KeysUnavailable.into());
        }
        let sets = [Some(&self.inner.keys), remote.as_deref()];
        let keys = || sets.iter().flatten().flat_map(|set| set.iter());
        let verify = |key: &Key| {
            if key.verifies(message, signature) {
                Ok(())
            } else {
                Err(Error::new(ErrorKind::InvalidSignature))
            }
        };
        if let Some(kid) = &header.kid {
            let key = sets
                .iter()
                .flatten()
                .find_map(|set| set.get(kid))
                .ok_or(Error::new(unknown))?;
            if key.algorithm() != header.alg {
                return Err(ErrorKind::AlgorithmMismatch.into());
            }
            verify(key)?;
            return Ok(key.shared_kid());
        }
        let mut candidates = keys().filter(|k| k.algorithm() == header.alg);
        let Some(first) = candidates.next() else {
            return Err(if unknown == ErrorKind::KeysUnavailable {
                unknown
            } else if keys().count() == 1 {
                ErrorKind::AlgorithmMismatch
            } else {
                ErrorKind::UnknownKey
            }
            .into());
        };
        if candidates.next().is_none() {
            verify(first)?;
            return Ok(first.shared_kid());
        }
        if !self.inner.try_all_keys {
            return Err(ErrorKind::AmbiguousKey.into());
        }
        keys()
            .filter(|k| k.algorithm() == header.alg)
            .find(|k| verify(k).is_ok())
            .map(Key::shared_kid)
            .ok_or(Error::new(ErrorKind::InvalidSignature))
    }

    fn check_claims(&self, registered: &Registered<'_>, now: u64) -> Result<(), Error> {
        self.check_times(registered.exp, registered.nbf, registered.iat, now)?;
        let inner = &*self.inner;
        if !inner.issuers.is_empty() {
            let iss = registered
                .iss
                .as_deref()
                .ok_or(Error::new(ErrorKind::MissingClaim("iss")))?;
            if !inner.issuers.iter().any(|i| i == iss) {
                return Err(ErrorKind::WrongIssuer.into());
            }
        }
        // A rule on the clients decides the audience itself.
        if !inner.audiences.is_empty() && inner.clients.is_none() {
            if registered.aud.is_empty() {
                return Err(ErrorKind::MissingClaim("aud").into());
            }
            if !registered
                .aud
                .iter()
                .any(|a| inner.audiences.iter().any(|b| b == a))
            {
                return Err(ErrorKind::WrongAudience.into());
            }
        }
        Ok(())
    }

    /// The app-client rules: Cognito's, or the audience matched against a client claim
    /// when the token has no `aud`.
    fn check_clients(
        &self,
        registered: &Registered<'_>,
        token_use: Option<&Member<'_>>,
        client: Option<&Member<'_>>,
    ) -> Result<(), Error> {
        let inner = &*self.inner;
        match &inner.clients {
            None => Ok(()),
            Some(ClientRule::Cognito(rule)) => rule.check(token_use, client, &registered.aud),
            Some(ClientRule::AudienceOrClaim(_)) => {
                let accepted = |a: &str| inner.audiences.iter().any(|b| b == a);
                if !registered.aud.is_empty() {
                    return if registered.aud.iter().any(accepted) {
                        Ok(())
                    } else {
                        Err(ErrorKind::WrongAudience.into())
                    };
                }
                match client.map(Member::as_str) {
                    None => Err(ErrorKind::MissingClaim("aud").into()),
                    Some(Some(client)) if accepted(client) => Ok(()),
                    Some(Some(_)) => Err(ErrorKind::WrongAudience.into()),
                    Some(None) => Err(ErrorKind::InvalidClaim("aud").into()),
                }
            }
        }
    }

    /// The rules that depend on `now`: `exp` (and whether it is required, and how far ahead
    /// it may be), `nbf`, and `iat` when validated, each with the leeway. Checked again on
    /// every cache hit.
    fn check_times(
        &self,
        exp: Option<u64>,
        nbf: Option<u64>,
        iat: Option<u64>,
        now: u64,
    ) -> Result<(), Error> {
        let inner = &*self.inner;
        let leeway = inner.leeway;
        match exp {
            Some(exp) if exp.saturating_add(leeway) <= now => return Err(ErrorKind::Expired.into()),
            None if inner.require_exp => return Err(ErrorKind::MissingClaim("exp").into()),
            _ => {}
        }
        if let (Some(exp), Some(max)) = (exp, inner.max_lifetime)
            && exp > now.saturating_add(max)
        {
            return Err(ErrorKind::LifetimeTooLong.into());
        }
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(ErrorKind::NotYetValid.into());
        }
        if inner.validate_iat && iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
            return Err(ErrorKind::IssuedInFuture.into());
        }
        Ok(())
    }
}
