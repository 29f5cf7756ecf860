//! Amazon Cognito user pools: the token rules Cognito's tokens need.
//!
//! A Cognito **access** token has no `aud`: it names its app client in `client_id` and
//! says `token_use: "access"`. A Cognito **ID** token has `aud` = the app client id and
//! `token_use: "id"`. The generic rules get both wrong: with an audience every access token
//! is refused, and without one any app client of the pool is accepted and ID tokens pass as
//! access tokens. [`VerifierBuilder::cognito`](crate::VerifierBuilder::cognito) applies
//! Cognito's rules — the "`aud` or `client_id`" check of API Gateway's JWT authorizer, and
//! `token_use`, which that authorizer does not check:
//!
//! - the issuer is the pool's, `https://cognito-idp.{region}.amazonaws.com/{pool id}`
//!   (`amazonaws.com.cn` in the China regions), and its keys come from the pool's OIDC
//!   discovery unless keys are given (discovery needs the `remote` feature; without it,
//!   give the keys);
//! - `token_use` is required and must be one of the accepted uses ([`TokenUse::Access`]
//!   only, unless told);
//! - an access token's `client_id`, or an ID token's `aud`, must be one of the app clients
//!   given with [`VerifierBuilder::cognito_clients`](crate::VerifierBuilder::cognito_clients)
//!   (an `aud` on an access token counts for nothing);
//! - roles are read from `cognito:groups` (call `roles_claim` after `cognito` to read them
//!   elsewhere);
//! - no other issuer may be configured on the same verifier (use
//!   [`Verifier::any_of`](crate::Verifier::any_of) for several), and the generic
//!   [`audience_or_claim`](crate::VerifierBuilder::audience_or_claim) rule cannot be
//!   combined with it: both are a [`ConfigError`];
//! - every other rule (signature, `exp`, revocation, guards) is unchanged.
//!
//! ```no_run
//! use tollgate::Verifier;
//! use tollgate::cognito::UserPool;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .cognito(&"eu-west-1_AbCdEf123".parse::<UserPool>()?)
//!     .cognito_clients(["6ar1jbbtmplxn4tmf0c6k1b1ok"])
//!     .build()?; // inside a Tokio runtime: the pool's keys are discovered
//! # Ok(()) }
//! ```

use crate::claims::Audiences;
use crate::error::{ConfigError, Error, ErrorKind};
use crate::json::Member;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A Cognito user pool, named by its id (`{region}_{suffix}`, e.g. `eu-west-1_AbCdEf123`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPool {
    id: String,
}

/// Longest pool id Cognito issues.
const MAX_POOL_ID_LEN: usize = 55;

/// Whether `region` reads as an AWS region: `eu-west-1`, `us-gov-west-1`, `ap-southeast-4`.
fn region_is_valid(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    (3..=4).contains(&parts.len())
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

impl UserPool {
    /// The pool with id `id` (`{region}_{suffix}`); the region is the id's prefix.
    pub fn new(id: impl Into<String>) -> Result<Self, ConfigError> {
        let id = id.into();
        let valid = id.len() <= MAX_POOL_ID_LEN
            && id.split_once('_').is_some_and(|(region, suffix)| {
                region_is_valid(region)
                    && !suffix.is_empty()
                    && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !valid {
            return Err(ConfigError::InvalidOption(
                "a Cognito user pool id reads region_suffix, e.g. eu-west-1_AbCdEf123",
            ));
        }
        Ok(Self { id })
    }

    /// The pool id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pool's region.
    pub fn region(&self) -> &str {
        self.id.split_once('_').map_or("", |(region, _)| region)
    }

    /// The `iss` of the pool's tokens, which is also where its OIDC discovery document is.
    pub fn issuer(&self) -> String {
        let region = self.region();
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://cognito-idp.{region}.{domain}/{}", self.id)
    }
}

impl FromStr for UserPool {
    type Err = ConfigError;

    fn from_str(id: &str) -> Result<Self, ConfigError> {
        Self::new(id)
    }
}

/// What a Cognito token is for: its `token_use` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenUse {
    /// An access token (`token_use: "access"`): for calling APIs.
    Access,
    /// An ID token (`token_use: "id"`): for the app that signed the user in.
    Id,
}

impl TokenUse {
    /// The claim's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
        }
    }
}

impl fmt::Display for TokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenUse {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, ConfigError> {
        match text {
            "access" => Ok(Self::Access),
            "id" => Ok(Self::Id),
            _ => Err(ConfigError::InvalidOption(
                "a Cognito token use is access or id",
            )),
        }
    }
}

/// The Cognito settings of a service, as the demo, the Lambda example and the API Gateway
/// authorizer read them from their environment:
///
/// | variable | meaning |
/// |---|---|
/// | `TOLLGATE_COGNITO_USER_POOL` | the pool id (`eu-west-1_AbCdEf123`): turns Cognito on |
/// | `TOLLGATE_COGNITO_CLIENT_IDS` | the app client ids accepted, comma-separated (required) |
/// | `TOLLGATE_COGNITO_TOKEN_USE` | `access` (default), `id`, or `access,id` |
///
/// With the pool set, `TOLLGATE_ISSUER` (when set) must be the pool's issuer,
/// `TOLLGATE_AUDIENCE` must be unset (access tokens have no `aud`), and the pool's issuer
/// and `cognito:groups` are the defaults of `TOLLGATE_OIDC_ISSUER` and
/// `TOLLGATE_ROLES_CLAIM` ([`CognitoSettings::default_for`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoSettings {
    /// The user pool.
    pub pool: UserPool,
    /// The app client ids accepted.
    pub clients: Vec<String>,
    /// The token uses accepted.
    pub uses: Vec<TokenUse>,
}

impl CognitoSettings {
    /// The settings named by `var` (e.g. `|name| std::env::var(name).ok()`; empty values
    /// count as unset), or `None` without `TOLLGATE_COGNITO_USER_POOL`. A mistake is an
    /// error naming the variable.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let Some(pool) = var("TOLLGATE_COGNITO_USER_POOL") else {
            for name in ["TOLLGATE_COGNITO_CLIENT_IDS", "TOLLGATE_COGNITO_TOKEN_USE"] {
                if var(name).is_some() {
                    return Err(format!("{name} needs TOLLGATE_COGNITO_USER_POOL"));
                }
            }
            return Ok(None);
        };
        let pool = UserPool::new(pool.trim())
            .map_err(|e| format!("TOLLGATE_COGNITO_USER_POOL={pool:?}: {e}"))?;
        let list = |text: String| -> Vec<String> {
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let clients = var("TOLLGATE_COGNITO_CLIENT_IDS")
            .map(list)
            .unwrap_or_default();
        if clients.is_empty() {
            return Err("TOLLGATE_COGNITO_CLIENT_IDS: name the app client ids whose tokens are accepted (comma-separated)".into());
        }
        let uses = match var("TOLLGATE_COGNITO_TOKEN_USE") {
            None => vec![TokenUse::Access],
            Some(text) => list(text.clone())
                .iter()
                .map(|u| u.parse::<TokenUse>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    format!("TOLLGATE_COGNITO_TOKEN_USE={text:?}: use access, id or access,id")
                })?,
        };
        if var("TOLLGATE_AUDIENCE").is_some() {
            return Err("TOLLGATE_AUDIENCE with TOLLGATE_COGNITO_USER_POOL: Cognito access tokens carry no aud; the app clients (TOLLGATE_COGNITO_CLIENT_IDS) are checked instead".into());
        }
        if let Some(issuer) = var("TOLLGATE_ISSUER")
            && issuer != pool.issuer()
        {
            return Err(format!(
                "TOLLGATE_ISSUER={issuer:?} is not the issuer of TOLLGATE_COGNITO_USER_POOL ({})",
                pool.issuer()
            ));
        }
        Ok(Some(Self {
            pool,
            clients,
            uses,
        }))
    }

    /// The Cognito value of a variable the services read when it is unset: the pool's
    /// issuer for `TOLLGATE_ISSUER` and `TOLLGATE_OIDC_ISSUER` (the keys by discovery),
    /// `cognito:groups` for `TOLLGATE_ROLES_CLAIM`.
    pub fn default_for(&self, name: &str) -> Option<String> {
        match name {
            "TOLLGATE_ISSUER" | "TOLLGATE_OIDC_ISSUER" => Some(self.pool.issuer()),
            "TOLLGATE_ROLES_CLAIM" => Some("cognito:groups".to_owned()),
            _ => None,
        }
    }

    /// Checks claims that another component verified — API Gateway's Cognito or JWT
    /// authorizer, or a Lambda authorizer's context — against these settings' `token_use`
    /// and app-client rules, as a verifier with [`CognitoSettings::apply`] checks a token's.
    /// `aud` may be a string or an array of strings.
    pub fn check_claims(&self, claims: &serde_json::Map<String, Value>) -> Result<(), Error> {
        let member = |name: &str| {
            claims.get(name).map(|value| match value {
                Value::String(text) => Member::Str(Cow::Borrowed(text.as_str())),
                other => Member::Other(other.clone()),
            })
        };
        let aud = match claims.get("aud") {
            None | Some(Value::Null) => Audiences::Many(Vec::new()),
            Some(Value::String(one)) => Audiences::One(Cow::Borrowed(one.as_str())),
            Some(Value::Array(items)) => Audiences::Many(
                items
                    .iter()
                    .map(|item| item.as_str().map(Cow::Borrowed))
                    .collect::<Option<_>>()
                    .ok_or(Error::new(ErrorKind::InvalidClaim("aud")))?,
            ),
            Some(_) => return Err(ErrorKind::InvalidClaim("aud").into()),
        };
        let rule = Rule {
            uses: self.uses.clone(),
            clients: self.clients.clone(),
        };
        rule.check(
            member("token_use").as_ref(),
            member("client_id").as_ref(),
            &aud,
        )
    }

    /// `builder` with these settings' Cognito rules
    /// ([`VerifierBuilder::cognito`](crate::VerifierBuilder::cognito) and the clients and
    /// uses).
    pub fn apply(&self, builder: crate::VerifierBuilder) -> crate::VerifierBuilder {
        builder
            .cognito(&self.pool)
            .cognito_clients(self.clients.iter().cloned())
            .cognito_token_uses(self.uses.iter().copied())
    }
}

/// The Cognito rules of a verifier: the accepted token uses and app clients.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) uses: Vec<TokenUse>,
    pub(crate) clients: Vec<String>,
}

impl Rule {
    /// Checks `token_use`, then the app client: `client_id` for access tokens, `aud` for
    /// ID tokens.
    pub(crate) fn check(
        &self,
        token_use: Option<&Member<'_>>,
        client_id: Option<&Member<'_>>,
        aud: &Audiences<'_>,
    ) -> Result<(), Error> {
        let token_use = match token_use {
            None => return Err(ErrorKind::MissingClaim("token_use").into()),
            Some(member) => member
                .as_str()
                .ok_or(Error::new(ErrorKind::InvalidClaim("token_use")))?,
        };
        let token_use = self
            .uses
            .iter()
            .find(|use_| use_.as_str() == token_use)
            .ok_or(Error::new(ErrorKind::WrongTokenUse))?;
        let known = |client: &str| self.clients.iter().any(|c| c == client);
        match token_use {
            TokenUse::Access => match client_id {
                None => Err(ErrorKind::MissingClaim("client_id").into()),
                Some(member) => match member.as_str() {
                    Some(client) if known(client) => Ok(()),
                    Some(_) => Err(ErrorKind::WrongAudience.into()),
                    None => Err(ErrorKind::InvalidClaim("client_id").into()),
                },
            },
            TokenUse::Id if aud.is_empty() => Err(ErrorKind::MissingClaim("aud").into()),
            TokenUse::Id if aud.iter().any(known) => Ok(()),
            TokenUse::Id => Err(ErrorKind::WrongAudience.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_are_read_strictly() {
        let pool: UserPool = "eu-west-1_AbCdEf123".parse().unwrap();
        assert_eq!(pool.region(), "eu-west-1");
        assert_eq!(
            pool.issuer(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
        );
        assert!(UserPool::new("us-gov-west-1_X1").is_ok());
        for bad in [
            "",
            "eu-west-1",
            "eu-west-1_",
            "EU-west-1_abc",
            "euwest1_abc",
            "eu-west_abc",
            "eu-west-1_a/b",
            "eu-west-1_a.b",
            "e-west-1_abc",
            "eu--1_abc",
        ] {
            assert!(UserPool::new(bad).is_err(), "{bad}");
        }
        assert!(UserPool::new(format!("eu-west-1_{}", "a".repeat(60))).is_err());
    }

    #[test]
    fn settings_come_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(CognitoSettings::from_env(env(&[])), Ok(None));
        let settings = CognitoSettings::from_env(env(&[
            ("TOLLGATE_COGNITO_USER_POOL", "eu-west-1_AbC"),
            ("TOLLGATE_COGNITO_CLIENT_IDS", "a, b"),
            ("TOLLGATE_COGNITO_TOKEN_USE", "access,id"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(settings.clients, ["a", "b"]);
        assert_eq!(settings.uses, [TokenUse::Access, TokenUse::Id]);
        assert_eq!(
            settings.default_for("TOLLGATE_OIDC_ISSUER").as_deref(),
            Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC")
        );
        assert_eq!(
            settings.default_for("TOLLGATE_ROLES_CLAIM").as_deref(),
            Some("cognito:groups")
        );
        for (bad, variable) in [
            (
                &[("TOLLGATE_COGNITO_CLIENT_IDS", "a")][..],
                "TOLLGATE_COGNITO_CLIENT_IDS",
            ),
            (
                &[("TOLLGATE_COGNITO_USER_POOL", "eu-west-1_AbC")][..],
                "TOLLGATE_COGNITO_CLIENT_IDS",
            ),
            (
                &[
                    ("TOLLGATE_COGNITO_USER_POOL", "west_AbC"),
                    ("TOLLGATE_COGNITO_CLIENT_IDS", "a"),
                ][..],
                "TOLLGATE_COGNITO_USER_POOL",
            ),
            (
                &[
                    ("TOLLGATE_COGNITO_USER_POOL", "eu-west-1_AbC"),
                    ("TOLLGATE_COGNITO_CLIENT_IDS", "a"),
                    ("TOLLGATE_COGNITO_TOKEN_USE", "refresh"),
                ][..],
                "TOLLGATE_COGNITO_TOKEN_USE",
            ),
            (
                &[
                    ("TOLLGATE_COGNITO_USER_POOL", "eu-west-1_AbC"),
                    ("TOLLGATE_COGNITO_CLIENT_IDS", "a"),
                    ("TOLLGATE_AUDIENCE", "api"),
                ][..],
                "TOLLGATE_AUDIENCE",
            ),
            (
                &[
                    ("TOLLGATE_COGNITO_USER_POOL", "eu-west-1_AbC"),
                    ("TOLLGATE_COGNITO_CLIENT_IDS", "a"),
                    ("TOLLGATE_ISSUER", "https://other"),
                ][..],
                "TOLLGATE_ISSUER",
            ),
        ] {
            let error = CognitoSettings::from_env(env(bad)).unwrap_err();
            assert!(error.starts_with(variable), "{bad:?}: {error}");
        }
    }

    #[test]
    fn claims_verified_elsewhere_are_checked_by_the_same_rules() {
        let settings = CognitoSettings {
            pool: "eu-west-1_AbC".parse().unwrap(),
            clients: vec!["c1".into()],
            uses: vec![TokenUse::Access],
        };
        let check = |claims: Value| {
            settings
                .check_claims(claims.as_object().unwrap())
                .map_err(|e| e.kind())
        };
        assert_eq!(
            check(serde_json::json!({"token_use": "access", "client_id": "c1"})),
            Ok(())
        );
        assert_eq!(
            check(serde_json::json!({"token_use": "access", "client_id": "c2"})),
            Err(ErrorKind::WrongAudience)
        );
        assert_eq!(
            check(serde_json::json!({"token_use": "id", "aud": "c1"})),
            Err(ErrorKind::WrongTokenUse)
        );
        assert_eq!(
            check(serde_json::json!({"client_id": "c1"})),
            Err(ErrorKind::MissingClaim("token_use"))
        );
        assert_eq!(
            check(serde_json::json!({"token_use": ["access"], "client_id": "c1"})),
            Err(ErrorKind::InvalidClaim("token_use"))
        );
        let ids = CognitoSettings {
            uses: vec![TokenUse::Id],
            ..settings.clone()
        };
        let check_id = |claims: Value| {
            ids.check_claims(claims.as_object().unwrap())
                .map_err(|e| e.kind())
        };
        assert_eq!(
            check_id(serde_json::json!({"token_use": "id", "aud": ["c1"]})),
            Ok(())
        );
        assert_eq!(
            check_id(serde_json::json!({"token_use": "id", "aud": [1]})),
            Err(ErrorKind::InvalidClaim("aud"))
        );
    }

    #[test]
    fn china_regions_have_their_own_domain() {
        assert_eq!(
            UserPool::new("cn-north-1_AbC").unwrap().issuer(),
            "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_AbC"
        );
    }

    #[test]
    fn token_uses_parse() {
        assert_eq!("access".parse::<TokenUse>().unwrap(), TokenUse::Access);
        assert_eq!("id".parse::<TokenUse>().unwrap(), TokenUse::Id);
        assert!("ID".parse::<TokenUse>().is_err());
    }
}
