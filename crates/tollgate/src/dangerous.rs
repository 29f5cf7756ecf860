//! Building a [`VerifiedToken`] from claims that something else verified.
//!
//! Everything here skips verification: no signature, no `exp`, no issuer or audience is
//! checked. It exists for one situation: a trusted component in front of the service has
//! already verified the token and forwards its claims over a channel that a client cannot
//! write to — e.g. AWS API Gateway's JWT or Lambda authorizer, whose verdict reaches a
//! Lambda function inside the invocation event (`tollgate-axum`'s `lambda` feature reads
//! it). Claims taken from anything a client controls — a request header, a query
//! parameter, a body — must never be passed here.
//!
//! # Example
//! ```
//! use serde_json::json;
//! use tollgate::{Algorithm, ClaimPath, dangerous};
//!
//! let claims = json!({"sub": "alice", "jti": "t-1", "exp": 4102444800u64, "roles": ["admin"]});
//! let token = dangerous::token_from_trusted_claims(
//!     claims.as_object().unwrap().clone(),
//!     &ClaimPath::default(),
//!     Algorithm::RS256,
//! )?;
//! assert_eq!(token.subject(), Some("alice"));
//! assert!(token.has_role("admin"));
//! # Ok::<(), tollgate::Error>(())
//! ```

use crate::Algorithm;
use crate::claims::{
    ClaimPath, Names, RegisteredClaims, Text, TokenInfo, VerifiedToken, read_roles, read_scopes,
};
use crate::error::{Error, ErrorKind};
use crate::json::Member;
use crate::keys::ensure_crypto_provider;
use crate::verifier::{DEFAULT_LEEWAY, fingerprint};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// Reads `claims` the way the [`crate::Verifier`] reads a verified claim set — registered
/// claims, roles from `roles_claim`, scopes from `scope`/`scp` — **without verifying
/// anything**.
///
/// - Registered claims of the wrong JSON type are refused as the verifier refuses them
///   ([`ErrorKind::InvalidClaim`]): `exp` must be a number, `aud` a string or an array.
/// - `algorithm` is what [`VerifiedToken::algorithm`] will report: the algorithm the
///   trusted party verified with, as far as it is known. [`VerifiedToken::key_id`] is
///   `None`.
/// - [`VerifiedToken::accepted_until`] is `exp` plus the verifier's default leeway (60 s),
///   so that a revocation is kept as long as a verifying instance would accept the token.
/// - A claim set without `jti` gets a [revocation id](VerifiedToken::revocation_id) hashed
///   from the claims as given (members sorted). It differs from the id a [`crate::Verifier`]
///   computes from the token's encoded payload, so revoke such tokens by subject.
///
/// # Security
/// The caller vouches for the claims. Use this only for claims delivered by a component
/// that verified the token and over a channel no client can write to.
pub fn token_from_trusted_claims(
    claims: Map<String, Value>,
    roles_claim: &ClaimPath,
    algorithm: Algorithm,
) -> Result<VerifiedToken, Error> {
    token_from_claims(
        claims,
        roles_claim,
        algorithm,
        None,
        DEFAULT_LEEWAY.as_secs(),
    )
}

/// [`token_from_trusted_claims`] for a claim set that reached tollgate by a way of its own
/// (e.g. [`crate::alb`], after that module verified it): the `kid` the token reports, and
/// the `leeway` (seconds) its [`VerifiedToken::accepted_until`] adds to `exp`. Checks no
/// more than [`token_from_trusted_claims`].
pub(crate) fn token_from_claims(
    claims: Map<String, Value>,
    roles_claim: &ClaimPath,
    algorithm: Algorithm,
    kid: Option<Arc<str>>,
    leeway: u64,
) -> Result<VerifiedToken, Error> {
    let registered = RegisteredClaims::from_map(&claims)?;
    let roles = read_roles(roles_claim.lookup(&claims).cloned().map(Member::Other));
    let member = |name: &str| claims.get(name).cloned().map(Member::Other);
    let scopes = read_scopes(member("scope"), member("scp"));
    let fingerprint = match registered.jti {
        Some(_) => None,
        None => {
            // `Map` may keep insertion order (serde_json's `preserve_order`), and claims
            // forwarded as a hash map come in any order: sort so one claim set has one id.
            let sorted: BTreeMap<&String, &Value> = claims.iter().collect();
            let canonical = serde_json::to_vec(&sorted)
                .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
            // Usually installed when a verifier was built; this may be called without one.
            ensure_crypto_provider()
                .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
            Some(fingerprint(&canonical)?)
        }
    };
    let accepted_until = registered.exp.map(|exp| exp.saturating_add(leeway));
    let claims = Value::Object(claims);
    let json = serde_json::to_string(&claims)
        .map_err(|e| Error::with_source(ErrorKind::MalformedClaims, e))?;
    let text = |s: &Option<String>| s.as_deref().map_or(Text::Absent, |s| Text::Owned(s.into()));
    Ok(VerifiedToken {
        info: Arc::new(TokenInfo {
            algorithm,
            kid,
            iss: text(&registered.iss),
            sub: text(&registered.sub),
            jti: text(&registered.jti),
            exp: registered.exp,
            nbf: registered.nbf,
            iat: registered.iat,
            registered: OnceLock::from(registered),
            roles: Names::owned(roles),
            scopes: Names::owned(scopes),
            fingerprint,
            accepted_until,
            json,
            typed: None,
            token_ref: None,
        }),
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reads_like_the_verifier() {
        let token = token_from_trusted_claims(
            map(json!({
                "iss": "https://issuer", "sub": "bob", "aud": ["a", "b"], "exp": 100,
                "iat": 40, "cognito:groups": ["admin", "user"], "scope": "read write",
            })),
            &ClaimPath::new("cognito:groups"),
            Algorithm::RS256,
        )
        .unwrap();
        assert_eq!(token.subject(), Some("bob"));
        assert_eq!(token.registered().aud, ["a", "b"]);
        assert_eq!(token.roles(), ["admin", "user"]);
        assert_eq!(token.scopes(), ["read", "write"]);
        assert_eq!(token.accepted_until(), Some(160));
        assert_eq!(token.key_id(), None);
        assert!(token.revocation_id().starts_with("sha256:"));
    }

    #[test]
    fn fingerprint_ignores_member_order() {
        let a = token_from_trusted_claims(
            map(json!({"sub": "s", "iat": 1})),
            &ClaimPath::default(),
            Algorithm::RS256,
        )
        .unwrap();
        let mut reversed = Map::new();
        reversed.insert("iat".into(), json!(1));
        reversed.insert("sub".into(), json!("s"));
        let b =
            token_from_trusted_claims(reversed, &ClaimPath::default(), Algorithm::RS256).unwrap();
        assert_eq!(a.revocation_id(), b.revocation_id());
    }

    #[test]
    fn wrong_types_are_refused() {
        let error = token_from_trusted_claims(
            map(json!({"exp": "1700000000"})),
            &ClaimPath::default(),
            Algorithm::RS256,
        )
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidClaim("exp"));
    }
}
