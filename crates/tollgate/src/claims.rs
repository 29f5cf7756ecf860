//! What a verified token says: the registered claims, roles, scopes and the application's
//! own claims type.

use crate::Algorithm;
use crate::error::{Error, ErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

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

fn numeric_date(map: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, Error> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
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

fn string_claim(map: &Map<String, Value>, name: &'static str) -> Result<Option<String>, Error> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ErrorKind::InvalidClaim(name).into()),
    }
}

impl RegisteredClaims {
    /// Reads the registered claims, refusing any of the wrong JSON type.
    pub(crate) fn from_map(map: &Map<String, Value>) -> Result<Self, Error> {
        let aud = match map.get("aud") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(Error::new(ErrorKind::InvalidClaim("aud")))?,
            Some(_) => return Err(ErrorKind::InvalidClaim("aud").into()),
        };
        Ok(Self {
            iss: string_claim(map, "iss")?,
            sub: string_claim(map, "sub")?,
            aud,
            exp: numeric_date(map, "exp")?,
            nbf: numeric_date(map, "nbf")?,
            iat: numeric_date(map, "iat")?,
            // An empty `jti` identifies nothing: read as absent, so the token's revocation
            // id is its claims hash rather than "", shared by every such token.
            jti: string_claim(map, "jti")?.filter(|jti| !jti.is_empty()),
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
pub(crate) fn read_roles(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Scopes come from `scope` (a space-separated string, RFC 8693 / RFC 9068) or `scp`
/// (a space-separated string or an array of strings, as Okta and Entra ID use).
pub(crate) fn read_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let split = |s: &str| {
        s.split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => split(s),
        (_, Some(Value::String(s))) => split(s),
        (_, Some(Value::Array(items))) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// A token whose signature and claims passed every rule of the [`crate::Verifier`].
///
/// `T` is the application's own claims type, deserialized from the whole claim set; the
/// default, [`serde_json::Value`], keeps the claim set as JSON.
#[derive(Debug, Clone)]
pub struct VerifiedToken<T = Value> {
    pub(crate) algorithm: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) registered: RegisteredClaims,
    pub(crate) roles: Vec<String>,
    pub(crate) scopes: Vec<String>,
    /// For a token without `jti`: `sha256:` and the hash of its decoded claim set.
    pub(crate) fingerprint: Option<String>,
    /// `exp` plus the verifier's leeway: the last second the token is accepted.
    pub(crate) accepted_until: Option<u64>,
    pub(crate) claims: T,
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

    /// The registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`).
    pub fn registered(&self) -> &RegisteredClaims {
        &self.registered
    }

    /// `sub`, if present.
    pub fn subject(&self) -> Option<&str> {
        self.registered.sub.as_deref()
    }

    /// `jti`, if present.
    pub fn token_id(&self) -> Option<&str> {
        self.registered.jti.as_deref()
    }

    /// The name revocation uses for this token: its `jti`, or for a token without one,
    /// `sha256:` followed by the base64url SHA-256 of its *decoded* claim set (never of the
    /// raw token text, so a re-encoded copy of a revoked token is still revoked).
    pub fn revocation_id(&self) -> &str {
        self.registered
            .jti
            .as_deref()
            .or(self.fingerprint.as_deref())
            .unwrap_or_default()
    }

    /// Until when the verifier that accepted this token would accept it: `exp` plus the
    /// leeway, in seconds since the epoch; `None` for a token without `exp`. A revocation
    /// must be kept at least this long.
    pub fn accepted_until(&self) -> Option<u64> {
        self.accepted_until
    }

    /// The roles read from the configured claim path.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// The scopes read from `scope` or `scp`.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether the token carries `role` (case-sensitive).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the token carries `scope` (case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The algorithm the token was verified with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The `kid` of the key that verified the token, if it had one.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The same token with its claims turned into another type by `f`.
    pub fn try_map_claims<U, E>(
        &self,
        f: impl FnOnce(&T) -> Result<U, E>,
    ) -> Result<VerifiedToken<U>, E> {
        Ok(VerifiedToken {
            algorithm: self.algorithm,
            kid: self.kid.clone(),
            registered: self.registered.clone(),
            roles: self.roles.clone(),
            scopes: self.scopes.clone(),
            fingerprint: self.fingerprint.clone(),
            accepted_until: self.accepted_until,
            claims: f(&self.claims)?,
        })
    }
}

impl VerifiedToken<Value> {
    /// The claims as the application's type `U`; [`ErrorKind::CustomClaims`] if they do not
    /// fit it.
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
        assert_eq!(read_roles(ClaimPath::default().lookup(&claims)), ["a"]);
        assert_eq!(
            read_roles(ClaimPath::new("cognito:groups").lookup(&claims)),
            ["g"]
        );
        assert_eq!(
            read_roles(ClaimPath::new("realm_access.roles").lookup(&claims)),
            ["r"]
        );
        assert_eq!(
            read_roles(ClaimPath::new("https://example.com/roles").lookup(&claims)),
            ["n"]
        );
        assert!(
            ClaimPath::new("realm_access.missing")
                .lookup(&claims)
                .is_none()
        );
        assert!(ClaimPath::new("roles.deeper").lookup(&claims).is_none());
    }

    #[test]
    fn roles_must_be_an_array() {
        assert!(read_roles(Some(&json!("admin"))).is_empty());
        assert!(read_roles(Some(&json!({"admin": true}))).is_empty());
        assert_eq!(read_roles(Some(&json!(["admin", 1, null]))), ["admin"]);
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        assert_eq!(read_scopes(&obj(json!({"scope": "a  b"}))), ["a", "b"]);
        assert_eq!(read_scopes(&obj(json!({"scp": "a b"}))), ["a", "b"]);
        assert_eq!(read_scopes(&obj(json!({"scp": ["a", "b"]}))), ["a", "b"]);
        assert!(read_scopes(&obj(json!({"scope": 5}))).is_empty());
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
