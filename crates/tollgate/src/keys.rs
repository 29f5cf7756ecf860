//! Verification keys: each [`Key`] is bound to exactly one algorithm, and a [`KeySet`]
//! selects one by `kid`.
//!
//! Keys come from an HMAC secret, from PEM, from a JWK, or from a JWK Set. Unsafe keys are
//! refused when they are loaded (RFC 8725 §3.5): HMAC secrets shorter than the hash output,
//! RSA moduli under 2048 bits, EC points that are not on their curve, and JWKs that carry
//! private members, are meant for encryption, or do not allow `verify`.
//!
//! # Example
//!
//! ```
//! use tollgate::{Algorithm, Key, KeySet};
//!
//! let jwks = r#"{"keys":[{"kty":"oct","kid":"k1","alg":"HS256",
//!     "k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}"#;
//! let keys = KeySet::from_jwks(jwks).unwrap();
//! assert_eq!(keys.len(), 1);
//!
//! // Too short for HS256: refused at load time, not at request time.
//! assert!(Key::hmac(b"short", Algorithm::HS256).is_err());
//! ```

use crate::Algorithm;
use crate::error::ConfigError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{AlgorithmFamily, DecodingKey, DecodingKeyKind};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The longest `kid` accepted, in bytes. Longer values are refused before any lookup.
pub const MAX_KID_LEN: usize = 256;

/// Makes sure jsonwebtoken has a crypto provider. With both backend features enabled
/// (feature unification), jsonwebtoken picks none; tollgate then prefers aws-lc-rs.
pub(crate) fn ensure_crypto_provider() -> Result<(), ConfigError> {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_some() {
        return Ok(());
    }
    #[cfg(feature = "aws_lc_rs")]
    let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    let provider = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
    // Another thread may have installed one meanwhile; either way one is there now.
    let _ = provider.install_default();
    CryptoProvider::try_get_default()
        .map(|_| ())
        .ok_or(ConfigError::NoCryptoBackend)
}

/// One verification key, bound to one algorithm, optionally named by a `kid`.
///
/// `Debug` shows the `kid` and algorithm, never the key material.
#[derive(Clone)]
pub struct Key {
    /// Shared with every token this key verifies ([`crate::VerifiedToken::key_id`]).
    kid: Option<Arc<str>>,
    algorithm: Algorithm,
    /// The key as jsonwebtoken holds it, for the rust_crypto backend's verifiers.
    #[cfg(not(feature = "aws_lc_rs"))]
    decoding: DecodingKey,
    /// The key parsed once for the aws-lc-rs backend, so that no verification parses it
    /// again (jsonwebtoken's own verifiers re-parse the key on every call).
    #[cfg(feature = "aws_lc_rs")]
    prepared: Arc<Prepared>,
}

/// A verification key parsed once, with the algorithm it is bound to.
#[cfg(feature = "aws_lc_rs")]
// One per key, behind an `Arc`: the size of the HMAC variant costs nothing per request.
#[allow(clippy::large_enum_variant)]
enum Prepared {
    Hmac(aws_lc_rs::hmac::Key),
    Public(aws_lc_rs::signature::ParsedPublicKey),
}

#[cfg(feature = "aws_lc_rs")]
impl Prepared {
    /// Parses `decoding` for `algorithm` with the very primitives jsonwebtoken's aws-lc-rs
    /// provider uses for it (same padding, curves, fixed-size ECDSA signatures and RSA
    /// modulus range of 2048–8192 bits), once instead of at every verification.
    fn new(decoding: &DecodingKey, algorithm: Algorithm) -> Result<Self, ConfigError> {
        use aws_lc_rs::hmac;
        use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
        let rsa: &'static sig::RsaParameters = match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let hash = match algorithm {
                    Algorithm::HS256 => hmac::HMAC_SHA256,
                    Algorithm::HS384 => hmac::HMAC_SHA384,
                    _ => hmac::HMAC_SHA512,
                };
                let secret = decoding.try_get_as_bytes().map_err(invalid)?;
                return Ok(Self::Hmac(hmac::Key::new(hash, secret)));
            }
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::EdDSA | Algorithm::Ed25519 => {
                let alg: &'static dyn sig::VerificationAlgorithm = match algorithm {
                    Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
                    Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
                    _ => &sig::ED25519,
                };
                let bytes = decoding.try_get_as_bytes().map_err(invalid)?;
                return ParsedPublicKey::new(alg, bytes)
                    .map(Self::Public)
                    .map_err(invalid);
            }
            Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        };
        let parsed = match decoding.kind() {
            DecodingKeyKind::SecretOrDer(der) => ParsedPublicKey::new(rsa, der),
            DecodingKeyKind::RsaModulusExponent { n, e } => {
                RsaPublicKeyComponents { n, e }.to_parsed_public_key(rsa)
            }
        };
        parsed.map(Self::Public).map_err(invalid)
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hmac(key) => aws_lc_rs::hmac::verify(key, message, signature).is_ok(),
            Self::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("material", &"[redacted]")
            .finish()
    }
}

fn min_hmac_len(algorithm: Algorithm) -> Option<usize> {
    match algorithm {
        Algorithm::HS256 => Some(32),
        Algorithm::HS384 => Some(48),
        Algorithm::HS512 => Some(64),
        _ => None,
    }
}

fn family_name(family: AlgorithmFamily) -> &'static str {
    match family {
        AlgorithmFamily::Hmac => "HMAC",
        AlgorithmFamily::Rsa => "RSA",
        AlgorithmFamily::Ec => "EC",
        AlgorithmFamily::Ed => "Ed25519",
    }
}

fn require_family(algorithm: Algorithm, family: AlgorithmFamily) -> Result<(), ConfigError> {
    if algorithm.to_jsonwebtoken().family() == family {
        Ok(())
    } else {
        Err(ConfigError::AlgorithmMismatch {
            key: family_name(family),
            algorithm,
        })
    }
}

fn invalid(e: impl fmt::Display) -> ConfigError {
    ConfigError::InvalidKey(e.to_string())
}

fn check_rsa_modulus(n: &[u8]) -> Result<(), ConfigError> {
    let significant = n.iter().position(|b| *b != 0).map_or(&[][..], |i| &n[i..]);
    let bits = match significant.first() {
        Some(first) => significant.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    };
    if bits < 2048 {
        return Err(ConfigError::WeakRsaKey { bits });
    }
    Ok(())
}

/// Refuses a public exponent no RSA key has (RFC 8017 §3.1: odd, at least 3). With `e = 1`
/// a signature is its own encoded message, so anyone could forge one.
fn check_rsa_exponent(e: &[u8]) -> Result<(), ConfigError> {
    let significant = e.iter().position(|b| *b != 0).map_or(&[][..], |i| &e[i..]);
    if significant == [1] || significant.last().is_none_or(|b| b & 1 == 0) {
        return Err(ConfigError::InvalidKey(
            "RSA public exponent must be odd and at least 3".into(),
        ));
    }
    Ok(())
}

/// Checks that `point` (SEC1 uncompressed, `04 || x || y`) lies on the curve of `algorithm`.
fn check_ec_point(point: &[u8], algorithm: Algorithm) -> Result<(), ConfigError> {
    let expected_len = match algorithm {
        Algorithm::ES256 => 65,
        Algorithm::ES384 => 97,
        _ => {
            return Err(ConfigError::AlgorithmMismatch {
                key: "EC",
                algorithm,
            });
        }
    };
    if point.len() != expected_len || point[0] != 4 {
        return Err(ConfigError::InvalidKey(format!(
            "EC public key does not match the curve of {algorithm:?}"
        )));
    }
    let on_curve = ec_point_on_curve(point, algorithm);
    if !on_curve {
        return Err(ConfigError::InvalidKey(
            "EC public key is not on its curve".into(),
        ));
    }
    Ok(())
}

#[cfg(feature = "aws_lc_rs")]
fn ec_point_on_curve(point: &[u8], algorithm: Algorithm) -> bool {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ParsedPublicKey};
    let alg = if algorithm == Algorithm::ES256 {
        &ECDSA_P256_SHA256_FIXED
    } else {
        &ECDSA_P384_SHA384_FIXED
    };
    ParsedPublicKey::new(alg, point).is_ok()
}

#[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
fn ec_point_on_curve(point: &[u8], algorithm: Algorithm) -> bool {
    if algorithm == Algorithm::ES256 {
        p256::PublicKey::from_sec1_bytes(point).is_ok()
    } else {
        p384::PublicKey::from_sec1_bytes(point).is_ok()
    }
}

impl Key {
    /// An HMAC secret for `HS256`, `HS384` or `HS512`.
    ///
    /// # Security
    /// The secret must be at least as long as the hash output (32, 48 or 64 bytes) and
    /// random; a shorter one is refused. Anyone who knows it can mint tokens.
    pub fn hmac(secret: &[u8], algorithm: Algorithm) -> Result<Self, ConfigError> {
        require_family(algorithm, AlgorithmFamily::Hmac)?;
        let min = min_hmac_len(algorithm).unwrap_or(64);
        if secret.len() < min {
            return Err(ConfigError::WeakSecret {
                algorithm,
                len: secret.len(),
                min,
            });
        }
        let decoding = DecodingKey::from_secret(secret).map_err(invalid)?;
        Self::new(decoding, algorithm)
    }

    /// An RSA public key in PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`), for
    /// `RS256`–`RS512` or `PS256`–`PS512`. Moduli under 2048 bits are refused.
    pub fn rsa_pem(pem: &[u8], algorithm: Algorithm) -> Result<Self, ConfigError> {
        require_family(algorithm, AlgorithmFamily::Rsa)?;
        Self::new(DecodingKey::from_rsa_pem(pem).map_err(invalid)?, algorithm)
    }

    /// An EC public key in PEM (`BEGIN PUBLIC KEY`), P-256 for `ES256` or P-384 for
    /// `ES384`. A point that is not on the curve is refused.
    pub fn ec_pem(pem: &[u8], algorithm: Algorithm) -> Result<Self, ConfigError> {
        require_family(algorithm, AlgorithmFamily::Ec)?;
        Self::new(DecodingKey::from_ec_pem(pem).map_err(invalid)?, algorithm)
    }

    /// An Ed25519 public key in PEM (`BEGIN PUBLIC KEY`), for `EdDSA`: a PEM names no
    /// algorithm, so it takes the one an Ed25519 JWK without `alg` implies. For tokens
    /// signed `Ed25519` (RFC 9864), load the key as a JWK that declares `"alg": "Ed25519"`.
    pub fn ed25519_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        Self::new(
            DecodingKey::from_ed_pem(pem).map_err(invalid)?,
            Algorithm::EdDSA,
        )
    }

    /// A key from one JWK (JSON text). The algorithm comes from the JWK's `alg`, or from
    /// `algorithm` when the JWK has none; if both are present they must agree. EC and
    /// Ed25519 keys without either take the algorithm their curve implies (`EdDSA` for
    /// Ed25519, which may also declare `Ed25519`).
    pub fn from_jwk(jwk: &str, algorithm: Option<Algorithm>) -> Result<Self, ConfigError> {
        let jwk: Jwk = serde_json::from_str(jwk).map_err(invalid)?;
        jwk.into_key(algorithm, false)
    }

    /// Names this key: tokens whose header carries this `kid` select it.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(Arc::from(kid.into()));
        self
    }

    /// The `kid` this key answers to, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `kid`, shared.
    pub(crate) fn shared_kid(&self) -> Option<Arc<str>> {
        self.kid.clone()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether `signature` is this key's signature of `message` under its algorithm.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        #[cfg(feature = "aws_lc_rs")]
        {
            self.prepared.verify(message, signature)
        }
        #[cfg(not(feature = "aws_lc_rs"))]
        {
            // The rust_crypto backend, through jsonwebtoken's provider.
            let Some(provider) = jsonwebtoken::crypto::CryptoProvider::try_get_default() else {
                return false;
            };
            let algorithm = self.algorithm.to_jsonwebtoken();
            let Ok(verifier) = (provider.verifier_factory)(&algorithm, &self.decoding) else {
                return false;
            };
            verifier.verify(message, &signature.to_vec()).is_ok()
        }
    }

    /// Binds `decoding` to `algorithm` after the safety checks that apply to its kind.
    fn new(decoding: DecodingKey, algorithm: Algorithm) -> Result<Self, ConfigError> {
        ensure_crypto_provider()?;
        require_family(algorithm, decoding.family())?;
        match (decoding.family(), decoding.kind()) {
            (AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
                check_rsa_modulus(n)?;
                check_rsa_exponent(e)?;
            }
            (AlgorithmFamily::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
                let provider = jsonwebtoken::crypto::CryptoProvider::try_get_default()
                    .ok_or(ConfigError::NoCryptoBackend)?;
                let (n, e) = (provider.key_utils.rsa_pub_components_from_public_key)(der)
                    .map_err(invalid)?;
                check_rsa_modulus(&n)?;
                check_rsa_exponent(&e)?;
            }
            (AlgorithmFamily::Ec, DecodingKeyKind::SecretOrDer(point)) => {
                check_ec_point(point, algorithm)?;
            }
            (AlgorithmFamily::Ed, DecodingKeyKind::SecretOrDer(x)) if x.len() != 32 => {
                return Err(ConfigError::InvalidKey(
                    "Ed25519 public key must be 32 bytes".into(),
                ));
            }
            (AlgorithmFamily::Hmac, DecodingKeyKind::SecretOrDer(secret)) => {
                let min = min_hmac_len(algorithm).unwrap_or(64);
                if secret.len() < min {
                    return Err(ConfigError::WeakSecret {
                        algorithm,
                        len: secret.len(),
                        min,
                    });
                }
            }
            _ => {}
        }
        Ok(Self {
            kid: None,
            algorithm,
            #[cfg(feature = "aws_lc_rs")]
            prepared: Arc::new(Prepared::new(&decoding, algorithm)?),
            #[cfg(not(feature = "aws_lc_rs"))]
            decoding,
        })
    }
}

/// The members of a JWK that tollgate reads. Unknown members are ignored; private members
/// are only looked for, to refuse them.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    k: Option<String>,
    d: Option<serde::de::IgnoredAny>,
    p: Option<serde::de::IgnoredAny>,
    q: Option<serde::de::IgnoredAny>,
    dp: Option<serde::de::IgnoredAny>,
    dq: Option<serde::de::IgnoredAny>,
    qi: Option<serde::de::IgnoredAny>,
    oth: Option<serde::de::IgnoredAny>,
}

fn parse_algorithm(name: &str) -> Result<Algorithm, ConfigError> {
    name.parse::<Algorithm>()
        .map_err(|_| ConfigError::UnsupportedAlgorithm(name.to_owned()))
}

fn field<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ConfigError> {
    value
        .as_deref()
        .ok_or_else(|| ConfigError::InvalidKey(format!("JWK member `{name}` is missing")))
}

impl Jwk {
    fn into_key(self, given: Option<Algorithm>, allow_secret: bool) -> Result<Key, ConfigError> {
        let private = self.d.is_some()
            || self.p.is_some()
            || self.q.is_some()
            || self.dp.is_some()
            || self.dq.is_some()
            || self.qi.is_some()
            || self.oth.is_some();
        if private {
            return Err(ConfigError::PrivateKeyMaterial);
        }
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(ConfigError::NotForVerification);
        }
        if let Some(ops) = &self.key_ops
            && !ops.iter().any(|op| op == "verify")
        {
            return Err(ConfigError::NotForVerification);
        }
        let declared = self.alg.as_deref().map(parse_algorithm).transpose()?;
        // A curve's key: the algorithm it implies without `alg`, and every one it allows.
        let curve = match (self.kty.as_str(), self.crv.as_deref()) {
            ("EC", Some("P-256")) => Some((Algorithm::ES256, &[Algorithm::ES256][..])),
            ("EC", Some("P-384")) => Some((Algorithm::ES384, &[Algorithm::ES384][..])),
            // One signature under two names: the key is bound to the one it declares, and
            // to `EdDSA` (what such keys meant before RFC 9864 named `Ed25519`) without one.
            ("OKP", Some("Ed25519")) => Some((
                Algorithm::EdDSA,
                &[Algorithm::EdDSA, Algorithm::Ed25519][..],
            )),
            ("EC" | "OKP", Some(crv)) => {
                return Err(ConfigError::InvalidKey(format!(
                    "unsupported curve {crv:?}"
                )));
            }
            ("EC" | "OKP", None) => {
                return Err(ConfigError::InvalidKey(
                    "JWK member `crv` is missing".into(),
                ));
            }
            _ => None,
        };
        let algorithm = match (declared, given) {
            (Some(a), Some(b)) if a != b => {
                return Err(ConfigError::AlgorithmMismatch {
                    key: "JWK",
                    algorithm: b,
                });
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => curve
                .map(|(implied, _)| implied)
                .ok_or(ConfigError::MissingAlgorithm)?,
        };
        if let Some((_, allowed)) = curve
            && !allowed.contains(&algorithm)
        {
            return Err(ConfigError::AlgorithmMismatch {
                key: "JWK curve",
                algorithm,
            });
        }
        let decoding = match self.kty.as_str() {
            "RSA" => DecodingKey::from_rsa_components(field(&self.n, "n")?, field(&self.e, "e")?)
                .map_err(invalid)?,
            "EC" => DecodingKey::from_ec_components(field(&self.x, "x")?, field(&self.y, "y")?)
                .map_err(invalid)?,
            "OKP" => DecodingKey::from_ed_components(field(&self.x, "x")?).map_err(invalid)?,
            "oct" if allow_secret => {
                let secret = URL_SAFE_NO_PAD
                    .decode(field(&self.k, "k")?)
                    .map_err(invalid)?;
                if secret.is_empty() {
                    return Err(ConfigError::InvalidKey("empty `oct` key".into()));
                }
                DecodingKey::from_secret(&secret).map_err(invalid)?
            }
            "oct" => return Err(ConfigError::PrivateKeyMaterial),
            other => {
                return Err(ConfigError::InvalidKey(format!(
                    "unsupported kty {other:?}"
                )));
            }
        };
        let key = Key::new(decoding, algorithm)?;
        Ok(match self.kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        })
    }
}

/// A set of verification keys, looked up by `kid`.
///
/// Loaded from a JWK Set, a bad entry is skipped (and logged at WARN) while the rest load:
/// one malformed key at an identity provider must not take the service down.
/// [`KeySet::skipped`] says what was left out and why.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    by_kid: HashMap<String, usize>,
    skipped: Vec<String>,
}

#[derive(Deserialize)]
struct JwkSetDoc {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key`. Two keys with one `kid` are refused, and so is a `kid` no token could
    /// name (empty, longer than [`MAX_KID_LEN`], or with control characters).
    pub fn insert(&mut self, key: Key) -> Result<(), ConfigError> {
        if let Some(kid) = key.kid() {
            if !kid_is_plausible(kid) {
                return Err(ConfigError::InvalidKey(format!(
                    "a kid must be 1 to {MAX_KID_LEN} bytes without control characters"
                )));
            }
            if self.by_kid.contains_key(kid) {
                return Err(ConfigError::DuplicateKeyId(kid.to_owned()));
            }
            self.by_kid.insert(kid.to_owned(), self.keys.len());
        }
        self.keys.push(key);
        Ok(())
    }

    /// Adds `key` and returns the set, for chaining.
    pub fn with(mut self, key: Key) -> Result<Self, ConfigError> {
        self.insert(key)?;
        Ok(self)
    }

    /// Loads a JWK Set (`{"keys":[…]}`) held locally. Symmetric (`oct`) keys are accepted
    /// because the file is the operator's own; see [`KeySet::from_public_jwks`] for sets
    /// published by someone else.
    pub fn from_jwks(json: &str) -> Result<Self, ConfigError> {
        Self::parse_jwks(json, None, true)?.usable()
    }

    /// Loads a JWK Set published by an identity provider: only public keys are accepted.
    /// `default_algorithm` binds RSA keys that carry no `alg` (Entra ID publishes such keys).
    pub fn from_public_jwks(
        json: &str,
        default_algorithm: Option<Algorithm>,
    ) -> Result<Self, ConfigError> {
        Self::published(json, default_algorithm)?.usable()
    }

    /// [`KeySet::from_public_jwks`] that also accepts a set with no usable key: what an
    /// identity provider answers when it withdraws its keys, which must replace the keys
    /// it had published (never be mistaken for an outage that keeps them).
    pub(crate) fn published(
        json: &str,
        default_algorithm: Option<Algorithm>,
    ) -> Result<Self, ConfigError> {
        Self::parse_jwks(json, default_algorithm, false)
    }

    /// `self`, or [`ConfigError::NoUsableKeys`] when it holds no key.
    fn usable(self) -> Result<Self, ConfigError> {
        if self.keys.is_empty() {
            return Err(ConfigError::NoUsableKeys(self.skipped));
        }
        Ok(self)
    }

    /// Reads a JWK Set file; see [`KeySet::from_jwks`].
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(ConfigError::Io)?;
        Self::from_jwks(&text)
    }

    fn parse_jwks(
        json: &str,
        default_algorithm: Option<Algorithm>,
        allow_secret: bool,
    ) -> Result<Self, ConfigError> {
        let doc: JwkSetDoc = serde_json::from_str(json).map_err(invalid)?;
        // A kid that appears twice is ambiguous: neither entry can be trusted to be the
        // one the issuer meant, so both are left out.
        let mut kid_count: HashMap<String, usize> = HashMap::new();
        for entry in &doc.keys {
            if let Some(kid) = entry.get("kid").and_then(|k| k.as_str()) {
                *kid_count.entry(kid.to_owned()).or_default() += 1;
            }
        }
        let mut set = Self::new();
        for (index, entry) in doc.keys.into_iter().enumerate() {
            let kid = entry.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
            let label = kid.clone().unwrap_or_else(|| format!("#{index}"));
            let loaded = if kid.as_ref().is_some_and(|k| kid_count[k] > 1) {
                Err(ConfigError::DuplicateKeyId(label.clone()))
            } else {
                serde_json::from_value::<Jwk>(entry)
                    .map_err(invalid)
                    .and_then(|jwk| {
                        // Only for RSA keys *without* `alg`: one that declares its own
                        // keeps it, as it would without a default.
                        let rsa_default = if jwk.kty == "RSA" && jwk.alg.is_none() {
                            default_algorithm
                        } else {
                            None
                        };
                        jwk.into_key(rsa_default, allow_secret)
                    })
            };
            match loaded.and_then(|key| set.insert(key)) {
                Ok(()) => {}
                Err(why) => {
                    tracing::warn!(target: "tollgate::keys", key = %label, reason = %why, "JWK not loaded");
                    set.skipped.push(format!("{label}: {why}"));
                }
            }
        }
        Ok(set)
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    /// The key named `kid`.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.by_kid.get(kid).map(|&i| &self.keys[i])
    }

    /// JWK Set entries that were not loaded, each as `kid: reason`.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Adds every key of `other`.
    pub fn extend(&mut self, other: KeySet) -> Result<(), ConfigError> {
        for key in other.keys {
            self.insert(key)?;
        }
        Ok(())
    }
}

impl From<Key> for KeySet {
    fn from(key: Key) -> Self {
        let mut set = Self::new();
        // A fresh set cannot hold a duplicate kid.
        let _ = set.insert(key);
        set
    }
}

/// Whether `kid` is acceptable to look up at all: non-empty and at most [`MAX_KID_LEN`].
pub(crate) fn kid_is_plausible(kid: &str) -> bool {
    !kid.is_empty() && kid.len() <= MAX_KID_LEN && !kid.chars().any(char::is_control)
}
