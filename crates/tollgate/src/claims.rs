//! What a verified token says: the registered claims, roles, scopes and the application's
//! own claims type.

use crate::Algorithm;
use crate::error::{Error, ErrorKind};
use crate::json::Member;
use crate::revocation::TokenRef;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::any::Any;
use std::sync::{Arc, OnceLock};

/// The registered claims of RFC 7519 §4.1, always read whatever the application's type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RegisteredClaims {
    /// `iss`: who issued the token.
    pub iss: Option<String>,
    /// `sub`: whom the token is about.
    pub sub: Option<String>,
    /// `aud`: the audiences, a single string read as a one-element list.
    pub aud: Vec<String>,
    /// `exp`: expiry, seconds since the Unix epoch.
    pub exp: Option<u64>,
    /// `nbf`: not before, seconds since the Unix epoch.
    pub nbf: Option<u64>,
    /// `iat`: issued at, seconds since the Unix epoch.
    pub iat: Option<u64>,
    /// `jti`: the token's unique identifier (`None` when absent or empty).
    pub jti: Option<String>,
}

fn numeric_date(value: Option<Member<'_>>, name: &'static str) -> Result<Option<u64>, Error> {
    match value {
        None => Ok(None),
        Some(Member::Other(Value::Number(n))) => {
            if let Some(v) = n.as_u64() {
                Ok(Some(v))
            } else {
                // RFC 7519 allows fractional seconds; negative dates are nonsense.
                match n.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 && f < u64::MAX as f64 => {
                        Ok(Some(f as u64))
                    }
                    _ => Err(ErrorKind::InvalidClaim(name).into()),
                }
            }
        }
        Some(_) => Err(ErrorKind::InvalidClaim(name).into()),
    }
}

fn string_claim(value: Option<Member<'_>>, name: &'static str) -> Result<Option<String>, Error> {
    match value {
        None => Ok(None),
        Some(Member::Str(s)) => Ok(Some(s.into_owned())),
        Some(Member::Other(Value::String(s))) => Ok(Some(s)),
        Some(_) => Err(ErrorKind::InvalidClaim(name).into()),
    }
}

/// The registered claims' values as found in a claim set, before their types are checked.
#[derive(Default)]
pub(crate) struct RawRegistered<'a> {
    pub(crate) iss: Option<Member<'a>>,
    pub(crate) sub: Option<Member<'a>>,
    pub(crate) aud: Option<Member<'a>>,
    pub(crate) exp: Option<Member<'a>>,
    pub(crate) nbf: Option<Member<'a>>,
    pub(crate) iat: Option<Member<'a>>,
    pub(crate) jti: Option<Member<'a>>,
}

impl RegisteredClaims {
    /// Reads the registered claims, refusing any of the wrong JSON type.
    pub(crate) fn from_map(map: &Map<String, Value>) -> Result<Self, Error> {
        let get = |name: &str| map.get(name).cloned().map(Member::Other);
        Self::from_raw(RawRegistered {
            iss: get("iss"),
            sub: get("sub"),
            aud: get("aud"),
            exp: get("exp"),
            nbf: get("nbf"),
            iat: get("iat"),
            jti: get("jti"),
        })
    }

    /// Reads the registered claims from their values, refusing any of the wrong JSON type.
    pub(crate) fn from_raw(raw: RawRegistered<'_>) -> Result<Self, Error> {
        let aud = match raw.aud {
            None => Vec::new(),
            Some(Member::Str(s)) => vec![s.into_owned()],
            Some(Member::Other(Value::String(s))) => vec![s],
            Some(Member::Strings(items)) => items,
            Some(Member::Other(Value::Array(items))) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or(Error::new(ErrorKind::InvalidClaim("aud")))?,
            Some(_) => return Err(ErrorKind::InvalidClaim("aud").into()),
        };
        Ok(Self {
            iss: string_claim(raw.iss, "iss")?,
            sub: string_claim(raw.sub, "sub")?,
            aud,
            exp: numeric_date(raw.exp, "exp")?,
            nbf: numeric_date(raw.nbf, "nbf")?,
            iat: numeric_date(raw.iat, "iat")?,
            // An empty `jti` identifies nothing: read as absent, so the token's revocation
            // id is its claims hash rather than "", shared by every such token.
            jti: string_claim(raw.jti, "jti")?.filter(|jti| !jti.is_empty()),
        })
    }
}

/// Where roles are read from in the claim set: a member name such as `roles`, `groups`
/// or `cognito:groups`, or a dotted path such as `realm_access.roles` (Keycloak).
///
/// A name is first looked up whole, so namespaced claims that contain dots
/// (`https://example.com/roles`, as Auth0 uses) work too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(String);

impl ClaimPath {
    /// The path `path`.
    pub fn new(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The member a dotted path starts with (`realm_access` of `realm_access.roles`);
    /// `None` for a path without dots, which names one member only.
    pub(crate) fn first_segment(&self) -> Option<&str> {
        self.0.split_once('.').map(|(first, _)| first)
    }

    /// The roles value out of the member named by the whole path (`whole`), or else out of
    /// the member named by the first segment (`nested`), following the remaining segments:
    /// the same answer as [`ClaimPath::lookup`] on the whole claim set.
    pub(crate) fn take<'a>(
        &self,
        whole: Option<Member<'a>>,
        nested: Option<Member<'a>>,
    ) -> Option<Member<'a>> {
        if whole.is_some() {
            return whole;
        }
        let Some(Member::Other(mut current)) = nested else {
            return None;
        };
        for segment in self.0.split('.').skip(1) {
            current = match current {
                Value::Object(mut map) => map.remove(segment)?,
                _ => return None,
            };
        }
        Some(Member::Other(current))
    }

    pub(crate) fn lookup<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        if let Some(v) = claims.get(&self.0) {
            return Some(v);
        }
        let mut segments = self.0.split('.');
        let mut current = claims.get(segments.next()?)?;
        for segment in segments {
            current = current.as_object()?.get(segment)?;
        }
        Some(current)
    }
}

impl Default for ClaimPath {
    fn default() -> Self {
        Self::new("roles")
    }
}

impl From<&str> for ClaimPath {
    fn from(path: &str) -> Self {
        Self::new(path)
    }
}

/// Roles are a JSON array of strings. Anything else (a bare string, a number) grants no
/// role: reading `"roles": "admin-readonly"` as a role list could grant `admin` by accident.
pub(crate) fn read_roles(value: Option<Member<'_>>) -> Vec<String> {
    match value {
        Some(Member::Strings(items)) => items,
        Some(Member::Other(Value::Array(items))) => strings(items),
        _ => Vec::new(),
    }
}

/// The strings of `items`, leaving out anything else.
fn strings(items: Vec<Value>) -> Vec<String> {
    items
        .into_iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Scopes come from `scope` (a space-separated string, RFC 8693 / RFC 9068) or `scp`
/// (a space-separated string or an array of strings, as Okta and Entra ID use).
pub(crate) fn read_scopes(scope: Option<Member<'_>>, scp: Option<Member<'_>>) -> Vec<String> {
    let split = |s: &str| {
        s.split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if let Some(s) = scope.as_ref().and_then(Member::as_str) {
        return split(s);
    }
    match scp {
        Some(Member::Strings(items)) => items,
        Some(Member::Other(Value::Array(items))) => strings(items),
        Some(other) => other.as_str().map(split).unwrap_or_default(),
        None => Vec::new(),
    }
}

/// A token whose signature and claims passed every rule of the [`crate::Verifier`].
///
/// `T` is the application's own claims type, deserialized from the whole claim set; the
/// default, [`serde_json::Value`], keeps the claim set as JSON. `VerifiedToken<()>` is the
/// token with its claims not deserialized at all ([`crate::Verifier::check`]), as
/// `tollgate-axum`'s layer keeps it: `deserialize_claims` turns any form into
/// any type, from the verified JSON text.
///
/// Cloning is cheap for the token's own part (one shared allocation) plus a clone of `T`.
#[derive(Debug, Clone)]
pub struct VerifiedToken<T = Value> {
    pub(crate) info: Arc<TokenInfo>,
    pub(crate) claims: T,
}

/// What a verified token says, whatever type its claims are deserialized into; shared by
/// every form of the token.
#[derive(Debug)]
pub(crate) struct TokenInfo {
    pub(crate) algorithm: Algorithm,
    pub(crate) kid: Option<Arc<str>>,
    pub(crate) registered: RegisteredClaims,
    pub(crate) roles: Vec<String>,
    pub(crate) scopes: Vec<String>,
    /// For a token without `jti`: `sha256:` and the hash of its decoded claim set.
    pub(crate) fingerprint: Option<String>,
    /// `exp` plus the verifier's leeway: the last second the token is accepted.
    pub(crate) accepted_until: Option<u64>,
    /// The claim set as JSON text: one object, without duplicate member names.
    pub(crate) json: String,
    /// For a token kept in the verified-token cache (and so handed to many requests): the
    /// claims as the first type [`VerifiedToken::claims_as`] was asked for, deserialized
    /// once. `None` for a token verified for one request only.
    pub(crate) typed: Option<OnceLock<Box<dyn Any + Send + Sync>>>,
    /// For the same tokens: the revocation view, built once ([`TokenRef::of`]).
    pub(crate) token_ref: Option<OnceLock<TokenRef>>,
}

impl<T> VerifiedToken<T> {
    /// The application's claims.
    pub fn claims(&self) -> &T {
        &self.claims
    }

    /// The application's claims, by value.
    pub fn into_claims(self) -> T {
        self.claims
    }

    /// The claim set as the verified JSON text (an object without duplicate member names).
    pub fn claims_json(&self) -> &str {
        &self.info.json
    }

    /// The registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`).
    pub fn registered(&self) -> &RegisteredClaims {
        &self.info.registered
    }

    /// `sub`, if present.
    pub fn subject(&self) -> Option<&str> {
        self.info.registered.sub.as_deref()
    }

    /// `jti`, if present.
    pub fn token_id(&self) -> Option<&str> {
        self.info.registered.jti.as_deref()
    }

    /// The name revocation uses for this token: its `jti`, or for a token without one,
    /// `sha256:` followed by the base64url SHA-256 of its *decoded* claim set (never of the
    /// raw token text, so a re-encoded copy of a revoked token is still revoked).
    pub fn revocation_id(&self) -> &str {
        self.info
            .registered
            .jti
            .as_deref()
            .or(self.info.fingerprint.as_deref())
            .unwrap_or_default()
    }

    /// Until when the verifier that accepted this token would accept it: `exp` plus the
    /// leeway, in seconds since the epoch; `None` for a token without `exp`. A revocation
    /// must be kept at least this long.
    pub fn accepted_until(&self) -> Option<u64> {
        self.info.accepted_until
    }

    /// The roles read from the configured claim path.
    pub fn roles(&self) -> &[String] {
        &self.info.roles
    }

    /// The scopes read from `scope` or `scp`.
    pub fn scopes(&self) -> &[String] {
        &self.info.scopes
    }

    /// Whether the token carries `role` (case-sensitive).
    pub fn has_role(&self, role: &str) -> bool {
        self.info.roles.iter().any(|r| r == role)
    }

    /// Whether the token carries `scope` (case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.info.scopes.iter().any(|s| s == scope)
    }

    /// The algorithm the token was verified with.
    pub fn algorithm(&self) -> Algorithm {
        self.info.algorithm
    }

    /// The `kid` of the key that verified the token, if it had one.
    pub fn key_id(&self) -> Option<&str> {
        self.info.kid.as_deref()
    }

    /// The same token with its claims turned into another type by `f`.
    pub fn try_map_claims<U, E>(
        &self,
        f: impl FnOnce(&T) -> Result<U, E>,
    ) -> Result<VerifiedToken<U>, E> {
        Ok(VerifiedToken {
            info: Arc::clone(&self.info),
            claims: f(&self.claims)?,
        })
    }

    /// The same token with its claims turned into another type by `f`, by value.
    pub fn map_claims<U>(self, f: impl FnOnce(T) -> U) -> VerifiedToken<U> {
        VerifiedToken {
            info: self.info,
            claims: f(self.claims),
        }
    }
}

impl VerifiedToken<()> {
    /// The claims as the application's type `U`, shared: like `deserialize_claims`, but for
    /// a token that the verified-token cache hands to many requests, they are deserialized
    /// once (for the first type asked for) and every later call shares them. For any other
    /// token, `deserialize_claims` behind an `Arc`. `tollgate-axum`'s `Claims<T>` extractor
    /// uses this.
    pub fn claims_as<U>(&self) -> Result<VerifiedToken<Arc<U>>, Error>
    where
        U: DeserializeOwned + Send + Sync + 'static,
    {
        let fresh = |token: &Self| {
            token
                .deserialize_claims::<U>()
                .map(|t| t.map_claims(Arc::new))
        };
        let Some(memo) = &self.info.typed else {
            return fresh(self);
        };
        if let Some(typed) = memo.get() {
            return match typed.downcast_ref::<Arc<U>>() {
                Some(claims) => Ok(VerifiedToken {
                    info: Arc::clone(&self.info),
                    claims: Arc::clone(claims),
                }),
                // Another type got the slot: deserialize every time.
                None => fresh(self),
            };
        }
        let token = fresh(self)?;
        // Losing a race to set it is fine: either value is the same claims.
        let _ = memo.set(Box::new(Arc::clone(&token.claims)));
        Ok(token)
    }

    /// The claims as the application's type `U`, deserialized from the verified JSON text;
    /// [`ErrorKind::CustomClaims`] if they do not fit it.
    pub fn deserialize_claims<U: DeserializeOwned>(&self) -> Result<VerifiedToken<U>, Error> {
        let claims = serde_json::from_str(&self.info.json)
            .map_err(|e| Error::with_source(ErrorKind::CustomClaims, e))?;
        Ok(VerifiedToken {
            info: Arc::clone(&self.info),
            claims,
        })
    }
}

impl VerifiedToken<Value> {
    /// The claims as the application's type `U`, deserialized from this token's JSON value
    /// (as changed by [`VerifiedToken::map_claims`], if it was); [`ErrorKind::CustomClaims`]
    /// if they do not fit it.
    pub fn deserialize_claims<U: DeserializeOwned>(&self) -> Result<VerifiedToken<U>, Error> {
        self.try_map_claims(|v| {
            U::deserialize(v).map_err(|e| Error::with_source(ErrorKind::CustomClaims, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn claim_paths() {
        let claims = obj(json!({
            "roles": ["a"],
            "cognito:groups": ["g"],
            "realm_access": {"roles": ["r"]},
            "https://example.com/roles": ["n"],
        }));
        assert_eq!(
            read_roles(
                ClaimPath::default()
                    .lookup(&claims)
                    .cloned()
                    .map(Member::Other)
            ),
            ["a"]
        );
        assert_eq!(
            read_roles(
                ClaimPath::new("cognito:groups")
                    .lookup(&claims)
                    .cloned()
                    .map(Member::Other)
            ),
            ["g"]
        );
        assert_eq!(
            read_roles(
                ClaimPath::new("realm_access.roles")
                    .lookup(&claims)
                    .cloned()
                    .map(Member::Other)
            ),
            ["r"]
        );
        assert_eq!(
            read_roles(
                ClaimPath::new("https://example.com/roles")
                    .lookup(&claims)
                    .cloned()
                    .map(Member::Other)
            ),
            ["n"]
        );
        assert!(
            ClaimPath::new("realm_access.missing")
                .lookup(&claims)
                .is_none()
        );
        assert!(ClaimPath::new("roles.deeper").lookup(&claims).is_none());
        // `take` gives what `lookup` gives, from the members a single pass picks.
        for path in [
            "roles",
            "realm_access.roles",
            "realm_access.missing",
            "roles.deeper",
            "https://example.com/roles",
            "missing",
        ] {
            let path = ClaimPath::new(path);
            let whole = claims.get(path.as_str()).cloned().map(Member::Other);
            let nested = path
                .first_segment()
                .and_then(|f| claims.get(f))
                .cloned()
                .map(Member::Other);
            assert_eq!(
                path.take(whole, nested).map(Member::into_value).as_ref(),
                path.lookup(&claims),
                "{path:?}"
            );
        }
    }

    #[test]
    fn roles_must_be_an_array() {
        assert!(read_roles(Some(Member::Other(json!("admin")))).is_empty());
        assert!(read_roles(Some(Member::Other(json!({"admin": true})))).is_empty());
        assert_eq!(
            read_roles(Some(Member::Other(json!(["admin", 1, null])))),
            ["admin"]
        );
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        let m = |v: Value| Some(Member::Other(v));
        assert_eq!(
            read_scopes(Some(Member::Str("a  b".into())), None),
            ["a", "b"]
        );
        assert_eq!(read_scopes(m(json!("a  b")), None), ["a", "b"]);
        assert_eq!(
            read_scopes(None, Some(Member::Str("a b".into()))),
            ["a", "b"]
        );
        assert_eq!(read_scopes(None, m(json!(["a", "b"]))), ["a", "b"]);
        assert_eq!(read_scopes(m(json!(5)), m(json!(["c"]))), ["c"]);
        assert_eq!(read_scopes(m(json!(["x"])), m(json!("c"))), ["c"]);
        assert!(read_scopes(m(json!(5)), None).is_empty());
        assert!(read_scopes(None, m(json!(5))).is_empty());
    }

    #[test]
    fn registered_claim_types() {
        let ok = RegisteredClaims::from_map(&obj(json!({
            "aud": "x", "exp": 10, "nbf": 1.5, "sub": "s"
        })))
        .unwrap();
        assert_eq!(ok.aud, ["x"]);
        assert_eq!(ok.nbf, Some(1));
        for bad in [
            json!({"exp": "10"}),
            json!({"exp": -1}),
            json!({"aud": {"x": 1}}),
            json!({"aud": [1]}),
            json!({"iss": 1}),
            json!({"sub": null}),
        ] {
            assert!(
                RegisteredClaims::from_map(&obj(bad.clone())).is_err(),
                "{bad}"
            );
        }
    }
}
