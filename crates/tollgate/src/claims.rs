//! What a verified token says: the registered claims, roles, scopes and the application's
//! own claims type.

use crate::Algorithm;
use crate::error::{Error, ErrorKind};
use crate::json::{self, Member};
use crate::revocation::TokenRef;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::any::Any;
use std::borrow::Cow;
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

fn string_claim<'a>(
    value: Option<Member<'a>>,
    name: &'static str,
) -> Result<Option<Cow<'a, str>>, Error> {
    match value {
        None => Ok(None),
        Some(Member::Str(s)) => Ok(Some(s)),
        Some(Member::Other(Value::String(s))) => Ok(Some(Cow::Owned(s))),
        Some(_) => Err(ErrorKind::InvalidClaim(name).into()),
    }
}

/// `aud`: one audience (a string, needing no list) or several (an array).
pub(crate) enum Audiences<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl Audiences<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Audiences::Many(items) if items.is_empty())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Audiences::One(one) => (Some(&**one), &[][..]),
            Audiences::Many(many) => (None, &many[..]),
        };
        one.into_iter().chain(many.iter().map(|s| &**s))
    }

    fn into_owned(self) -> Vec<String> {
        match self {
            Audiences::One(one) => vec![one.into_owned()],
            Audiences::Many(many) => many.into_iter().map(Cow::into_owned).collect(),
        }
    }
}

/// The registered claims of a claim set, their types checked, strings borrowed from the
/// claim set's text where they can be.
pub(crate) struct Registered<'a> {
    pub(crate) iss: Option<Cow<'a, str>>,
    pub(crate) sub: Option<Cow<'a, str>>,
    pub(crate) aud: Audiences<'a>,
    pub(crate) exp: Option<u64>,
    pub(crate) nbf: Option<u64>,
    pub(crate) iat: Option<u64>,
    /// `None` when absent or empty.
    pub(crate) jti: Option<Cow<'a, str>>,
}

impl<'a> Registered<'a> {
    /// Reads the registered claims from their values, refusing any of the wrong JSON type
    /// (`aud` first, then in the order of the struct).
    pub(crate) fn read(raw: RawRegistered<'a>) -> Result<Self, Error> {
        let aud = match raw.aud {
            None => Audiences::Many(Vec::new()),
            Some(Member::Str(s)) => Audiences::One(s),
            Some(Member::Other(Value::String(s))) => Audiences::One(Cow::Owned(s)),
            Some(Member::Strs(items)) => Audiences::Many(items),
            Some(Member::Other(Value::Array(items))) => Audiences::Many(
                items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Some(Cow::Owned(s)),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or(Error::new(ErrorKind::InvalidClaim("aud")))?,
            ),
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

    /// The same, owning its strings.
    pub(crate) fn into_owned(self) -> RegisteredClaims {
        RegisteredClaims {
            iss: self.iss.map(Cow::into_owned),
            sub: self.sub.map(Cow::into_owned),
            aud: self.aud.into_owned(),
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
            jti: self.jti.map(Cow::into_owned),
        }
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
        Registered::read(raw).map(Registered::into_owned)
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
        Some(Member::Strs(items)) => items.into_iter().map(Cow::into_owned).collect(),
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
        Some(Member::Strs(items)) => items.into_iter().map(Cow::into_owned).collect(),
        Some(Member::Other(Value::Array(items))) => strings(items),
        Some(other) => other.as_str().map(split).unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Where a string lies in the claim set's JSON text: byte offsets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// Where `s` lies in `json`, if it is a slice of it (a string read without escapes).
    fn of(s: &str, json: &str) -> Option<Self> {
        let start = (s.as_ptr() as usize).checked_sub(json.as_ptr() as usize)?;
        let end = start.checked_add(s.len())?;
        json.get(start..end)
            .filter(|slice| std::ptr::eq(slice.as_ptr(), s.as_ptr()))?;
        Some(Self {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    /// The string at this span of `json` (the text it was taken from).
    fn get(self, json: &str) -> Option<&str> {
        json.get(self.start as usize..self.end as usize)
    }
}

/// A string claim of a verified token: where it lies in the claim set's JSON text, or the
/// string itself when it was written with escapes (so is not a slice of the text).
#[derive(Debug)]
pub(crate) enum Text {
    Absent,
    At(Span),
    Owned(Box<str>),
}

impl Text {
    pub(crate) fn new(s: Option<&Cow<'_, str>>, json: &str) -> Self {
        match s {
            None => Text::Absent,
            Some(s) => match Span::of(s, json) {
                Some(span) => Text::At(span),
                None => Text::Owned(Box::from(&**s)),
            },
        }
    }

    pub(crate) fn get<'a>(&'a self, json: &'a str) -> Option<&'a str> {
        match self {
            Text::Absent => None,
            Text::At(span) => span.get(json),
            Text::Owned(s) => Some(s),
        }
    }
}

/// Roles or scopes of a verified token: where each lies in the claim set's JSON text, so
/// that reading them allocates nothing; as strings, built on first use of the list (or at
/// once for names that are not slices of the text).
#[derive(Debug, Default)]
pub(crate) struct Names {
    spans: Vec<Span>,
    owned: OnceLock<Vec<String>>,
}

impl Names {
    pub(crate) fn owned(names: Vec<String>) -> Self {
        let owned = OnceLock::new();
        let _ = owned.set(names);
        Self {
            spans: Vec::new(),
            owned,
        }
    }

    /// `names` as spans of `json` when every one is a slice of it, as strings otherwise.
    fn from_strs<'a>(names: impl IntoIterator<Item = &'a str>, json: &str) -> Self {
        let mut spans = Vec::new();
        let mut names = names.into_iter();
        while let Some(name) = names.next() {
            match Span::of(name, json) {
                Some(span) => spans.push(span),
                None => {
                    let mut owned = Self::strings(&spans, json);
                    owned.push(name.to_owned());
                    owned.extend(names.map(str::to_owned));
                    return Self::owned(owned);
                }
            }
        }
        Self {
            spans,
            owned: OnceLock::new(),
        }
    }

    /// The roles in `value` (see [`read_roles`]).
    pub(crate) fn roles(value: Option<Member<'_>>, json: &str) -> Self {
        match value {
            Some(Member::Strs(items)) => Self::from_strs(items.iter().map(|s| &**s), json),
            other => Self::owned(read_roles(other)),
        }
    }

    /// The scopes in `scope` or `scp` (see [`read_scopes`]).
    pub(crate) fn scopes(scope: Option<Member<'_>>, scp: Option<Member<'_>>, json: &str) -> Self {
        let split = |s: &str| Self::from_strs(s.split(' ').filter(|p| !p.is_empty()), json);
        if let Some(s) = scope.as_ref().and_then(Member::as_str) {
            return split(s);
        }
        match scp {
            Some(Member::Strs(items)) => Self::from_strs(items.iter().map(|s| &**s), json),
            Some(Member::Str(s)) => split(&s),
            other => Self::owned(read_scopes(None, other)),
        }
    }

    fn contains(&self, json: &str, name: &str) -> bool {
        match self.owned.get() {
            Some(owned) => owned.iter().any(|n| n == name),
            None => self.spans.iter().any(|span| span.get(json) == Some(name)),
        }
    }

    fn list(&self, json: &str) -> &[String] {
        self.owned.get_or_init(|| Self::strings(&self.spans, json))
    }

    /// The strings at `spans` of `json`.
    fn strings(spans: &[Span], json: &str) -> Vec<String> {
        spans
            .iter()
            .map(|span| span.get(json).unwrap_or_default().to_owned())
            .collect()
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
    pub(crate) iss: Text,
    pub(crate) sub: Text,
    /// Absent when the claim is absent or empty.
    pub(crate) jti: Text,
    pub(crate) exp: Option<u64>,
    pub(crate) nbf: Option<u64>,
    pub(crate) iat: Option<u64>,
    /// All of them as [`RegisteredClaims`], built on first use.
    pub(crate) registered: OnceLock<RegisteredClaims>,
    pub(crate) roles: Names,
    pub(crate) scopes: Names,
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

    /// The registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`), built on
    /// first use.
    pub fn registered(&self) -> &RegisteredClaims {
        let info = &*self.info;
        info.registered.get_or_init(|| {
            // The claim set was checked when the token was verified; `aud` is read again
            // from its text only now, as nothing else needs it as strings.
            let aud = json::pick_str(&info.json, [Some("aud")])
                .ok()
                .and_then(|[aud]| {
                    Registered::read(RawRegistered {
                        aud,
                        ..RawRegistered::default()
                    })
                    .ok()
                })
                .map(|r| r.aud.into_owned())
                .unwrap_or_default();
            let text = |t: &Text| t.get(&info.json).map(str::to_owned);
            RegisteredClaims {
                iss: text(&info.iss),
                sub: text(&info.sub),
                aud,
                exp: info.exp,
                nbf: info.nbf,
                iat: info.iat,
                jti: text(&info.jti),
            }
        })
    }

    /// `iss`, if present.
    pub fn issuer(&self) -> Option<&str> {
        self.info.iss.get(&self.info.json)
    }

    /// `sub`, if present.
    pub fn subject(&self) -> Option<&str> {
        self.info.sub.get(&self.info.json)
    }

    /// `jti`, if present (and not empty).
    pub fn token_id(&self) -> Option<&str> {
        self.info.jti.get(&self.info.json)
    }

    /// `exp`, seconds since the Unix epoch, if present.
    pub fn expires_at(&self) -> Option<u64> {
        self.info.exp
    }

    /// `iat`, seconds since the Unix epoch, if present.
    pub fn issued_at(&self) -> Option<u64> {
        self.info.iat
    }

    /// The name revocation uses for this token: its `jti`, or for a token without one,
    /// `sha256:` followed by the base64url SHA-256 of its *decoded* claim set (never of the
    /// raw token text, so a re-encoded copy of a revoked token is still revoked).
    pub fn revocation_id(&self) -> &str {
        self.token_id()
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
        self.info.roles.list(&self.info.json)
    }

    /// The scopes read from `scope` or `scp`.
    pub fn scopes(&self) -> &[String] {
        self.info.scopes.list(&self.info.json)
    }

    /// Whether the token carries `role` (case-sensitive).
    pub fn has_role(&self, role: &str) -> bool {
        self.info.roles.contains(&self.info.json, role)
    }

    /// Whether the token carries `scope` (case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.info.scopes.contains(&self.info.json, scope)
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

    /// Roles and scopes kept as spans of the claim set's text read exactly as the strings
    /// `read_roles` and `read_scopes` build, escapes and all.
    #[test]
    fn names_read_like_the_owned_lists() {
        let cases = [
            r#"{"roles":["a","b"],"scope":"x  y"}"#,
            r#"{"roles":["a\u0062","c"],"scope":"x\u0020y z"}"#,
            r#"{"roles":["a",1,null,"d"],"scp":["s","t\n"]}"#,
            r#"{"roles":"admin","scope":5,"scp":"p q"}"#,
            r#"{"roles":[],"scope":""}"#,
            r#"{"roles":[""],"scp":[]}"#,
            r#"{}"#,
        ];
        for json in cases {
            let [roles, scope, scp] =
                json::pick_str(json, [Some("roles"), Some("scope"), Some("scp")]).unwrap();
            let expected_roles = read_roles(roles.clone());
            let expected_scopes = read_scopes(scope.clone(), scp.clone());
            let names = Names::roles(roles, json);
            for role in &expected_roles {
                assert!(names.contains(json, role), "{json}: {role}");
            }
            assert!(!names.contains(json, "nope"), "{json}");
            assert_eq!(names.list(json), expected_roles, "{json}");
            let names = Names::scopes(scope, scp, json);
            for scope in &expected_scopes {
                assert!(names.contains(json, scope), "{json}: {scope}");
            }
            assert_eq!(names.list(json), expected_scopes, "{json}");
        }
    }

    #[test]
    fn text_is_a_span_unless_escaped() {
        let json = r#"{"sub":"alice","iss":"a\/b"}"#;
        let [sub, iss] = json::pick_str(json, [Some("sub"), Some("iss")]).unwrap();
        let sub = Registered::read(RawRegistered {
            sub,
            iss,
            ..RawRegistered::default()
        })
        .unwrap();
        let text = Text::new(sub.sub.as_ref(), json);
        assert!(matches!(text, Text::At(..)));
        assert_eq!(text.get(json), Some("alice"));
        let text = Text::new(sub.iss.as_ref(), json);
        assert!(matches!(text, Text::Owned(_)));
        assert_eq!(text.get(json), Some("a/b"));
        assert_eq!(Text::new(None, json).get(json), None);
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
