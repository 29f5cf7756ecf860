//! [`Algorithm`]: the JWS algorithms tollgate verifies, by their JOSE names.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A JWS signature algorithm, named as in the IANA JOSE registry (RFC 7518, RFC 8037,
/// RFC 9864).
///
/// Every [`Key`](crate::Key) is bound to exactly one algorithm and verifies only tokens
/// whose header names that one. `none` is not an algorithm here: it does not parse, so no
/// key can be bound to it.
///
/// [`Algorithm::EdDSA`] and [`Algorithm::Ed25519`] compute the same signature (Ed25519,
/// RFC 8032). RFC 9864 deprecates the polymorphic `EdDSA` in favour of names that fix the
/// curve; tollgate still keeps them apart, like any two algorithms: a key bound to one
/// refuses tokens that name the other.
///
/// `FromStr`, `Display` and serde use the exact, case-sensitive JOSE name.
///
/// ```
/// use tollgate::Algorithm;
///
/// let alg: Algorithm = "Ed25519".parse()?;
/// assert_eq!(alg, Algorithm::Ed25519);
/// assert_eq!(alg.to_string(), "Ed25519");
/// assert!("none".parse::<Algorithm>().is_err());
/// assert!("hs256".parse::<Algorithm>().is_err());
/// # Ok::<(), tollgate::ParseAlgorithmError>(())
/// ```
///
/// New algorithms may be added in minor releases: the enum is `#[non_exhaustive]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
// The JOSE names, spelled as the registry spells them.
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// EdDSA (RFC 8037); tollgate supports it on Ed25519 only.
    EdDSA,
    /// Ed25519 (RFC 9864): EdDSA with the curve fixed by the name.
    Ed25519,
}

impl Algorithm {
    /// The JOSE name, as a token header writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::EdDSA => "EdDSA",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// The jsonwebtoken algorithm that computes the same signature, for the calls that go
    /// through jsonwebtoken: `Ed25519` is its `EdDSA`.
    pub(crate) fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as Jwt;
        match self {
            Self::HS256 => Jwt::HS256,
            Self::HS384 => Jwt::HS384,
            Self::HS512 => Jwt::HS512,
            Self::ES256 => Jwt::ES256,
            Self::ES384 => Jwt::ES384,
            Self::RS256 => Jwt::RS256,
            Self::RS384 => Jwt::RS384,
            Self::RS512 => Jwt::RS512,
            Self::PS256 => Jwt::PS256,
            Self::PS384 => Jwt::PS384,
            Self::PS512 => Jwt::PS512,
            Self::EdDSA | Self::Ed25519 => Jwt::EdDSA,
        }
    }
}

impl FromStr for Algorithm {
    type Err = ParseAlgorithmError;

    /// Parses an exact JOSE name. Called for every token header: a `match` on the text
    /// (several times faster than a search through [`Algorithm::as_str`]), no allocation,
    /// not even for a name it refuses.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(match name {
            "HS256" => Self::HS256,
            "HS384" => Self::HS384,
            "HS512" => Self::HS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "EdDSA" => Self::EdDSA,
            "Ed25519" => Self::Ed25519,
            _ => return Err(ParseAlgorithmError(())),
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = Algorithm;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWS algorithm name such as \"RS256\" or \"Ed25519\"")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Algorithm, E> {
                name.parse()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(name), &self))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

/// A name that is not one of the [`Algorithm`]s tollgate supports (`none` included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseAlgorithmError(());

impl fmt::Display for ParseAlgorithmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a supported JWS algorithm name")
    }
}

impl std::error::Error for ParseAlgorithmError {}
