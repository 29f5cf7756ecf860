//! Issuing tokens: when a user logs in, the server mints a JWT with a [`Signer`], and
//! publishes the public half of its key as a JWK Set.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use tollgate::{Signer, SigningKey, TokenRequest, Verifier};
//!
//! let key = SigningKey::generate_ed25519("key-1")?;
//! let signer = Signer::builder(key)
//!     .issuer("https://auth.example")
//!     .audience("my-api")
//!     .ttl(Duration::from_secs(900))
//!     .build()?;
//! let issued = signer.issue(&TokenRequest::new("alice").roles(["user"]))?;
//!
//! let verifier = Verifier::builder()
//!     .keys(signer.verification_keys()?)
//!     .issuer("https://auth.example")
//!     .audience("my-api")
//!     .build()?;
//! let token = verifier.verify(&issued.token)?;
//! assert_eq!(token.subject(), Some("alice"));
//! assert!(token.has_role("user"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::ConfigError;
use crate::keys::{Key, KeySet, ensure_crypto_provider};
use crate::{Algorithm, now_secs};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{AlgorithmFamily, EncodingKey, Header};
use serde_json::{Map, Value, json};
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// Claim names the [`Signer`] sets itself; a [`TokenRequest`] cannot override them.
const RESERVED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// A private key that signs tokens, bound to one algorithm and one `kid`.
///
/// Ed25519 keys sign `EdDSA` tokens: jsonwebtoken's header cannot name RFC 9864's
/// `Ed25519`, so no signing key is bound to it (verification keys can be).
///
/// `Debug` never shows the key material.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    /// For HMAC the secret, which doubles as the verification key; never published.
    secret: Option<Vec<u8>>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("material", &"[redacted]")
            .finish()
    }
}

/// PKCS#8 v1 prefix (RFC 8410 §7) of an Ed25519 private key: the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn invalid(e: impl fmt::Display) -> ConfigError {
    ConfigError::InvalidKey(e.to_string())
}

impl SigningKey {
    /// A fresh Ed25519 key from the operating system's random source. Meant for demos,
    /// tests and single-instance services that may invalidate tokens on restart.
    pub fn generate_ed25519(kid: impl Into<String>) -> Result<Self, ConfigError> {
        let mut der = Vec::with_capacity(48);
        der.extend_from_slice(&ED25519_PKCS8_PREFIX);
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(invalid)?;
        der.extend_from_slice(&seed);
        let key = Self::new(kid, EncodingKey::from_ed_der(&der), Algorithm::EdDSA, None);
        der.fill(0);
        seed.fill(0);
        key
    }

    /// An HMAC secret for `HS256`/`HS384`/`HS512`, at least as long as the hash output.
    pub fn hmac(
        kid: impl Into<String>,
        secret: &[u8],
        algorithm: Algorithm,
    ) -> Result<Self, ConfigError> {
        // Key::hmac applies the length rule; the verifier must accept what the signer makes.
        Key::hmac(secret, algorithm)?;
        let encoding = EncodingKey::from_secret(secret).map_err(invalid)?;
        Self::new(kid, encoding, algorithm, Some(secret.to_vec()))
    }

    /// An RSA private key in PEM, for `RS*` or `PS*`.
    pub fn rsa_pem(
        kid: impl Into<String>,
        pem: &[u8],
        algorithm: Algorithm,
    ) -> Result<Self, ConfigError> {
        Self::new(
            kid,
            EncodingKey::from_rsa_pem(pem).map_err(invalid)?,
            algorithm,
            None,
        )
    }

    /// An EC private key in PKCS#8 PEM, for `ES256` (P-256) or `ES384` (P-384).
    pub fn ec_pem(
        kid: impl Into<String>,
        pem: &[u8],
        algorithm: Algorithm,
    ) -> Result<Self, ConfigError> {
        Self::new(
            kid,
            EncodingKey::from_ec_pem(pem).map_err(invalid)?,
            algorithm,
            None,
        )
    }

    /// An Ed25519 private key in PKCS#8 PEM, for `EdDSA`.
    pub fn ed25519_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, ConfigError> {
        Self::new(
            kid,
            EncodingKey::from_ed_pem(pem).map_err(invalid)?,
            Algorithm::EdDSA,
            None,
        )
    }

    fn new(
        kid: impl Into<String>,
        encoding: EncodingKey,
        algorithm: Algorithm,
        secret: Option<Vec<u8>>,
    ) -> Result<Self, ConfigError> {
        ensure_crypto_provider()?;
        // jsonwebtoken's `Header` cannot name `Ed25519`: Ed25519 keys sign as `EdDSA`.
        if algorithm == Algorithm::Ed25519
            || algorithm.to_jsonwebtoken().family() != encoding.family()
        {
            return Err(ConfigError::AlgorithmMismatch {
                key: "signing",
                algorithm,
            });
        }
        let key = Self {
            kid: kid.into(),
            algorithm,
            encoding,
            secret,
        };
        // Sign once now so that a key that cannot sign fails at start-up, not at login.
        jsonwebtoken::crypto::sign(b"probe", &key.encoding, algorithm.to_jsonwebtoken())
            .map_err(invalid)?;
        if key.algorithm_family() != AlgorithmFamily::Hmac {
            key.verification_key()?;
        }
        Ok(key)
    }

    fn algorithm_family(&self) -> AlgorithmFamily {
        self.encoding.family()
    }

    /// The `kid` written into every token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public half as a JWK (`kty`, `kid`, `alg`, `use: "sig"`, public members only),
    /// or `None` for an HMAC secret, which has no public half.
    pub fn public_jwk(&self) -> Option<Value> {
        if self.secret.is_some() {
            return None;
        }
        let algorithm = self.algorithm.to_jsonwebtoken();
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&self.encoding, algorithm).ok()?;
        let mut value = serde_json::to_value(jwk).ok()?;
        let map = value.as_object_mut()?;
        map.insert("kid".into(), Value::String(self.kid.clone()));
        map.insert("use".into(), Value::String("sig".into()));
        Some(value)
    }

    /// The key that verifies what this key signs.
    pub fn verification_key(&self) -> Result<Key, ConfigError> {
        let key = match (&self.secret, self.public_jwk()) {
            (Some(secret), _) => Key::hmac(secret, self.algorithm)?,
            (None, Some(jwk)) => Key::from_jwk(&jwk.to_string(), Some(self.algorithm))?,
            (None, None) => return Err(ConfigError::InvalidKey("no public key".into())),
        };
        Ok(key.with_kid(self.kid.clone()))
    }
}

/// Why a token could not be issued.
#[derive(Debug)]
#[non_exhaustive]
pub enum IssueError {
    /// A custom claim tried to set a claim the signer sets itself (`iss`, `exp`, …).
    ReservedClaim(String),
    /// Signing failed in the crypto backend.
    Signing(jsonwebtoken::errors::Error),
    /// The operating system's random source failed.
    Random(getrandom::Error),
    /// The lifetime asked for puts `exp` past [`MAX_EXPIRY`] (year 9999).
    LifetimeTooLong,
}

/// The `typ` of an RFC 9068 JWT access token, which a [`Signer`] writes by default.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The latest `exp` a [`Signer`] writes: 9999-12-31T23:59:59Z. Later dates overflow the date
/// types of many verifiers; a lifetime that reaches past it is refused.
pub const MAX_EXPIRY: u64 = 253_402_300_799;

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedClaim(name) => write!(f, "claim `{name}` is set by the signer"),
            Self::Signing(_) => f.write_str("signing failed"),
            Self::Random(_) => f.write_str("random source failed"),
            Self::LifetimeTooLong => f.write_str("the token lifetime reaches past year 9999"),
        }
    }
}

impl StdError for IssueError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Signing(e) => Some(e),
            Self::Random(e) => Some(e),
            Self::ReservedClaim(_) | Self::LifetimeTooLong => None,
        }
    }
}

/// What one token should say: its subject, roles, scopes and custom claims.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct TokenRequest {
    subject: String,
    roles: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    claims: Map<String, Value>,
    ttl: Option<Duration>,
}

impl TokenRequest {
    /// A token about `subject` (the `sub` claim).
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            ..Self::default()
        }
    }

    /// The roles, written as a JSON array under the signer's roles claim.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = Some(roles.into_iter().map(Into::into).collect());
        self
    }

    /// The scopes, written space-separated under `scope`.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// A custom claim. Registered claims are set by the signer and cannot be given here.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// A lifetime for this token instead of the signer's default.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// A freshly minted token.
#[derive(Clone)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Its `jti`: 128 random bits, base64url.
    pub jti: String,
    /// Its `iat`, seconds since the Unix epoch.
    pub issued_at: u64,
    /// Its `exp`, seconds since the Unix epoch.
    pub expires_at: u64,
    /// Lifetime in seconds (`exp - iat`), for an OAuth `expires_in`.
    pub expires_in: u64,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Mints tokens with `kid`, `iss`, `aud`, `sub`, `iat`, `nbf`, `exp = now + ttl`, a random
/// `jti`, roles and custom claims.
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
    issuer: String,
    audiences: Vec<String>,
    ttl: Duration,
    typ: String,
    roles_claim: String,
}

/// Builds a [`Signer`]; see [`Signer::builder`].
#[derive(Debug)]
#[must_use]
pub struct SignerBuilder {
    signer: Signer,
}

impl SignerBuilder {
    /// The `iss` of every token (required).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.signer.issuer = issuer.into();
        self
    }

    /// Adds an audience; one is written as a string, several as an array.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.signer.audiences.push(audience.into());
        self
    }

    /// Default lifetime of a token (default 15 minutes). [`SignerBuilder::build`] refuses one
    /// that would put `exp` past [`MAX_EXPIRY`].
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.signer.ttl = ttl;
        self
    }

    /// The header's `typ` (default `at+jwt`: an RFC 9068 access token, which a verifier
    /// with [`crate::VerifierBuilder::access_token_profile`] tells apart from an OIDC ID
    /// token; `JWT` for a verifier that insists on it).
    pub fn token_type(mut self, typ: impl Into<String>) -> Self {
        self.signer.typ = typ.into();
        self
    }

    /// The claim roles are written to (default `roles`).
    pub fn roles_claim(mut self, name: impl Into<String>) -> Self {
        self.signer.roles_claim = name.into();
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<Signer, ConfigError> {
        if self.signer.issuer.is_empty() {
            return Err(ConfigError::InvalidOption("the signer needs an issuer"));
        }
        if self.signer.ttl.is_zero() {
            return Err(ConfigError::InvalidOption("the token lifetime is zero"));
        }
        if now_secs()
            .checked_add(self.signer.ttl.as_secs())
            .is_none_or(|exp| exp > MAX_EXPIRY)
        {
            return Err(ConfigError::InvalidOption(
                "the token lifetime reaches past year 9999",
            ));
        }
        if self.signer.typ.is_empty() {
            return Err(ConfigError::InvalidOption("the token type is empty"));
        }
        if RESERVED.contains(&self.signer.roles_claim.as_str()) {
            return Err(ConfigError::InvalidOption(
                "the roles claim is a registered claim",
            ));
        }
        Ok(self.signer)
    }
}

/// 128 random bits, base64url: unguessable and unique without coordination.
pub(crate) fn random_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Signer {
    /// A builder around `key`.
    pub fn builder(key: SigningKey) -> SignerBuilder {
        SignerBuilder {
            signer: Signer {
                key,
                issuer: String::new(),
                audiences: Vec::new(),
                ttl: Duration::from_secs(15 * 60),
                typ: ACCESS_TOKEN_TYPE.into(),
                roles_claim: "roles".into(),
            },
        }
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The issuer written into every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Mints a token for `request`.
    pub fn issue(&self, request: &TokenRequest) -> Result<IssuedToken, IssueError> {
        let now = now_secs();
        let ttl = request.ttl.unwrap_or(self.ttl).as_secs().max(1);
        let exp = now
            .checked_add(ttl)
            .filter(|exp| *exp <= MAX_EXPIRY)
            .ok_or(IssueError::LifetimeTooLong)?;
        let jti = random_id().map_err(IssueError::Random)?;
        let mut claims = Map::new();
        for (name, value) in &request.claims {
            if RESERVED.contains(&name.as_str()) {
                return Err(IssueError::ReservedClaim(name.clone()));
            }
            claims.insert(name.clone(), value.clone());
        }
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("sub".into(), json!(request.subject));
        match self.audiences.as_slice() {
            [] => {}
            [one] => {
                claims.insert("aud".into(), json!(one));
            }
            many => {
                claims.insert("aud".into(), json!(many));
            }
        }
        claims.insert("iat".into(), json!(now));
        claims.insert("nbf".into(), json!(now));
        claims.insert("exp".into(), json!(exp));
        claims.insert("jti".into(), json!(jti));
        if let Some(roles) = &request.roles {
            claims.insert(self.roles_claim.clone(), json!(roles));
        }
        if let Some(scopes) = &request.scopes {
            claims.insert("scope".into(), json!(scopes.join(" ")));
        }
        let mut header = Header::new(self.key.algorithm.to_jsonwebtoken());
        header.kid = Some(self.key.kid.clone());
        header.typ = Some(self.typ.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key.encoding)
            .map_err(IssueError::Signing)?;
        Ok(IssuedToken {
            token,
            jti,
            issued_at: now,
            expires_at: exp,
            expires_in: ttl,
        })
    }

    /// The public keys as a JWK Set document (`{"keys":[…]}`), for
    /// `/.well-known/jwks.json`. Empty for an HMAC signer.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.key.public_jwk().into_iter().collect();
        json!({ "keys": keys })
    }

    /// The keys a [`crate::Verifier`] needs to accept this signer's tokens.
    pub fn verification_keys(&self) -> Result<KeySet, ConfigError> {
        Ok(KeySet::from(self.key.verification_key()?))
    }
}
