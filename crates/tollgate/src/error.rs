//! Why a token was refused ([`Error`]), and why a configuration was ([`ConfigError`]).

use std::error::Error as StdError;
use std::fmt;

/// A token was refused. [`Error::kind`] says why.
///
/// The message never contains the token or any part of it, so the error can be logged.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// Why a token was refused.
///
/// New reasons may be added in minor releases, so match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The token is longer than the configured maximum; it was not decoded at all.
    TooLarge,
    /// The token is not three base64url segments separated by dots.
    Malformed,
    /// The JOSE header is not a valid JSON object, or a member has the wrong type.
    MalformedHeader,
    /// The claim set is not a valid JSON object.
    MalformedClaims,
    /// The token is an encrypted JWE (five segments); only signed tokens are accepted.
    Encrypted,
    /// The header says `cty: JWT` (a nested token), which is never accepted.
    Nested,
    /// `alg` is `none` in any letter case.
    AlgorithmNone,
    /// `alg` names an algorithm this library does not support.
    UnsupportedAlgorithm,
    /// `alg` differs from the algorithm the selected key is bound to.
    AlgorithmMismatch,
    /// No configured key has the token's `kid`, or no key is bound to its `alg`.
    UnknownKey,
    /// The token has no `kid` and several keys could verify it.
    AmbiguousKey,
    /// The header lists `crit` extensions; none are understood.
    UnsupportedCritical,
    /// The header's `typ` differs from the one required.
    WrongType,
    /// The signature does not verify.
    InvalidSignature,
    /// `exp` is in the past, leeway included.
    Expired,
    /// `nbf` is in the future, leeway included.
    NotYetValid,
    /// `iat` is in the future, leeway included (only when `iat` is validated).
    IssuedInFuture,
    /// `exp` lies further in the future than the verifier's
    /// [`max_lifetime`](crate::VerifierBuilder::max_lifetime).
    LifetimeTooLong,
    /// A required claim is missing; the value is its name.
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type; the value is its name.
    InvalidClaim(&'static str),
    /// `iss` is not one of the accepted issuers.
    WrongIssuer,
    /// `aud` contains none of the accepted audiences (or, for Cognito access tokens,
    /// `client_id` is none of the accepted app clients).
    WrongAudience,
    /// A Cognito token's `token_use` is not one the verifier accepts (an ID token where an
    /// access token is required, or the reverse).
    WrongTokenUse,
    /// The claim set does not deserialize into the application's claims type.
    CustomClaims,
    /// The token was revoked.
    Revoked,
    /// No verification key is available yet: the identity provider's keys were never
    /// loaded. Not the client's fault (a 503).
    KeysUnavailable,
    /// The header's `signer` is missing or names another AWS load balancer than the one
    /// configured (`alb::AlbVerifier`, feature `alb`).
    WrongSigner,
}

impl ErrorKind {
    /// A stable, machine-readable code, e.g. `token_expired`.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "token_too_large",
            Self::Malformed => "token_malformed",
            Self::MalformedHeader => "header_malformed",
            Self::MalformedClaims => "claims_malformed",
            Self::Encrypted => "token_encrypted",
            Self::Nested => "token_nested",
            Self::AlgorithmNone => "algorithm_none",
            Self::UnsupportedAlgorithm => "algorithm_unsupported",
            Self::AlgorithmMismatch => "algorithm_mismatch",
            Self::UnknownKey => "key_unknown",
            Self::AmbiguousKey => "key_ambiguous",
            Self::UnsupportedCritical => "critical_unsupported",
            Self::WrongType => "type_mismatch",
            Self::InvalidSignature => "signature_invalid",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::IssuedInFuture => "token_issued_in_future",
            Self::LifetimeTooLong => "token_lifetime_too_long",
            Self::MissingClaim(_) => "claim_missing",
            Self::InvalidClaim(_) => "claim_invalid",
            Self::WrongIssuer => "issuer_mismatch",
            Self::WrongAudience => "audience_mismatch",
            Self::WrongTokenUse => "token_use_mismatch",
            Self::CustomClaims => "claims_mismatch",
            Self::Revoked => "token_revoked",
            Self::KeysUnavailable => "keys_unavailable",
            Self::WrongSigner => "signer_mismatch",
        }
    }

    /// A short human-readable reason, safe for an `error_description` (ASCII, no quotes).
    pub fn description(self) -> &'static str {
        match self {
            Self::TooLarge => "token too large",
            Self::Malformed => "malformed token",
            Self::MalformedHeader => "malformed token header",
            Self::MalformedClaims => "malformed token claims",
            Self::Encrypted => "encrypted tokens are not accepted",
            Self::Nested => "nested tokens are not accepted",
            Self::AlgorithmNone => "unsigned tokens are not accepted",
            Self::UnsupportedAlgorithm => "unsupported algorithm",
            Self::AlgorithmMismatch => "algorithm not allowed for this key",
            Self::UnknownKey => "unknown signing key",
            Self::AmbiguousKey => "token does not name its signing key",
            Self::UnsupportedCritical => "unsupported critical header",
            Self::WrongType => "wrong token type",
            Self::InvalidSignature => "invalid signature",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::IssuedInFuture => "token issued in the future",
            Self::LifetimeTooLong => "token lifetime too long",
            Self::MissingClaim("exp") => "missing claim exp",
            Self::MissingClaim("iss") => "missing claim iss",
            Self::MissingClaim("aud") => "missing claim aud",
            Self::MissingClaim("sub") => "missing claim sub",
            Self::MissingClaim("jti") => "missing claim jti",
            Self::MissingClaim("token_use") => "missing claim token_use",
            Self::MissingClaim("client_id") => "missing claim client_id",
            Self::MissingClaim(_) => "missing required claim",
            Self::InvalidClaim("exp") => "invalid claim exp",
            Self::InvalidClaim("nbf") => "invalid claim nbf",
            Self::InvalidClaim("iat") => "invalid claim iat",
            Self::InvalidClaim("iss") => "invalid claim iss",
            Self::InvalidClaim("aud") => "invalid claim aud",
            Self::InvalidClaim("sub") => "invalid claim sub",
            Self::InvalidClaim("jti") => "invalid claim jti",
            Self::InvalidClaim(_) => "invalid claim",
            Self::WrongIssuer => "wrong issuer",
            Self::WrongAudience => "wrong audience",
            Self::WrongTokenUse => "wrong token use",
            Self::CustomClaims => "claims do not match the expected shape",
            Self::Revoked => "token revoked",
            Self::KeysUnavailable => "signing keys unavailable",
            Self::WrongSigner => "token not signed by the expected load balancer",
        }
    }
}

impl Error {
    /// An error of `kind` with no further cause.
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// Why the token was refused.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.description())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A key or verifier configuration was refused. Returned by builders, never at request time.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// An HMAC secret is shorter than the hash output of its algorithm.
    WeakSecret {
        /// The algorithm the secret was bound to.
        algorithm: crate::Algorithm,
        /// Length of the secret given, in bytes.
        len: usize,
        /// Minimum length, in bytes.
        min: usize,
    },
    /// An RSA modulus is shorter than 2048 bits.
    WeakRsaKey {
        /// Size of the modulus given, in bits.
        bits: usize,
    },
    /// The key cannot be used with the algorithm it was bound to.
    AlgorithmMismatch {
        /// What the key is.
        key: &'static str,
        /// The algorithm it was bound to.
        algorithm: crate::Algorithm,
    },
    /// A JWK gives no `alg` and none can be inferred (RSA and `oct` keys need one).
    MissingAlgorithm,
    /// An algorithm name that tollgate does not accept (including `none`).
    UnsupportedAlgorithm(String),
    /// A JWK holds private key members; only public keys are accepted.
    PrivateKeyMaterial,
    /// A JWK is marked for encryption (`use: "enc"`) or its `key_ops` exclude `verify`.
    NotForVerification,
    /// Two keys share one `kid`.
    DuplicateKeyId(String),
    /// The key material could not be parsed.
    InvalidKey(String),
    /// The verifier was built without any key.
    NoKeys,
    /// A JWK Set yielded no usable key; every entry was refused.
    NoUsableKeys(Vec<String>),
    /// An option has a value that cannot work, e.g. an empty audience.
    InvalidOption(&'static str),
    /// A file could not be read.
    Io(std::io::Error),
    /// No crypto backend could be selected.
    NoCryptoBackend,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WeakSecret {
                algorithm,
                len,
                min,
            } => write!(
                f,
                "HMAC secret for {algorithm:?} is {len} bytes; at least {min} are required"
            ),
            Self::WeakRsaKey { bits } => {
                write!(f, "RSA key has {bits} bits; at least 2048 are required")
            }
            Self::AlgorithmMismatch { key, algorithm } => {
                write!(f, "a {key} key cannot be used with {algorithm:?}")
            }
            Self::MissingAlgorithm => f.write_str("the key has no `alg` and none was given"),
            Self::UnsupportedAlgorithm(name) => write!(f, "unsupported algorithm {name:?}"),
            Self::PrivateKeyMaterial => f.write_str("the JWK contains private key members"),
            Self::NotForVerification => {
                f.write_str("the JWK is not meant for signature verification")
            }
            Self::DuplicateKeyId(kid) => write!(f, "two keys share the kid {kid:?}"),
            Self::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Self::NoKeys => f.write_str("no verification key configured"),
            Self::NoUsableKeys(reasons) => {
                write!(f, "no usable key in the JWK Set: {}", reasons.join("; "))
            }
            Self::InvalidOption(what) => write!(f, "invalid option: {what}"),
            Self::Io(e) => write!(f, "cannot read key file: {e}"),
            Self::NoCryptoBackend => f.write_str(
                "no jsonwebtoken crypto provider: enable the `aws_lc_rs` or `rust_crypto` feature",
            ),
        }
    }
}

impl StdError for ConfigError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}
