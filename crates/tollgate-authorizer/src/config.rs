//! The function's settings, read from the environment once per cold start.

use std::time::Duration;
use tollgate::cognito::CognitoSettings;
use tollgate::{Key, KeySet};
use tollgate_axum::{StoreFailure, TokenSources};
use tollgate_lambda::{ResponseMode, Routes};

/// The kid of `TOLLGATE_PUBLIC_KEY_FILE`: the one the demo signs with.
pub(crate) const DEMO_KID: &str = "demo-1";

/// Everything the environment says, checked; the network (keys of an identity provider,
/// Redis) is reached by `main`.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) issuer: String,
    pub(crate) audience: Option<String>,
    pub(crate) roles_claim: String,
    pub(crate) require_type: Option<String>,
    pub(crate) keys: KeySet,
    /// `TOLLGATE_JWKS_URL`, or the issuer to discover (`TOLLGATE_OIDC_ISSUER`).
    pub(crate) remote: Option<Remote>,
    pub(crate) jwks_wait: Duration,
    pub(crate) redis_url: Option<String>,
    /// `TOLLGATE_DYNAMODB_TABLE`: revocations in DynamoDB instead (not with `REDIS_URL`).
    pub(crate) dynamodb_table: Option<String>,
    pub(crate) on_store_error: StoreFailure,
    pub(crate) routes: Routes,
    pub(crate) response_mode: ResponseMode,
    pub(crate) simple_refusal_as_error: bool,
    pub(crate) answers_cached_per_route: bool,
    pub(crate) sources: TokenSources,
    pub(crate) websocket_protocol: bool,
    pub(crate) context_claims: Vec<String>,
    pub(crate) usage_identifier_claim: Option<String>,
    /// `TOLLGATE_COGNITO_USER_POOL` and its companions: Cognito's token rules.
    pub(crate) cognito: Option<CognitoSettings>,
}

/// Where the identity provider's keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remote {
    Jwks(String),
    Discover(String),
}

fn flag(value: Option<String>, name: &str) -> Result<bool, String> {
    match value.as_deref() {
        None => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some("0" | "false" | "no") => Ok(false),
        Some(other) => Err(format!("{name}={other:?}: use 1 or 0")),
    }
}

impl Settings {
    /// The settings from `var` (e.g. `std::env::var(name).ok()`; empty values count as
    /// unset). Every mistake is an error naming the variable.
    pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let cognito = CognitoSettings::from_env(var)?;
        // With a Cognito pool, its issuer and groups are the defaults.
        let var =
            |name: &str| var(name).or_else(|| cognito.as_ref().and_then(|c| c.default_for(name)));
        let oidc_issuer = var("TOLLGATE_OIDC_ISSUER");
        let issuer = var("TOLLGATE_ISSUER")
            .or_else(|| oidc_issuer.clone())
            .ok_or(
                "set TOLLGATE_ISSUER (or TOLLGATE_OIDC_ISSUER): the exact iss tokens must carry",
            )?;
        let remote = match (var("TOLLGATE_JWKS_URL"), oidc_issuer) {
            (Some(url), _) => Some(Remote::Jwks(url)),
            (None, Some(issuer)) => Some(Remote::Discover(issuer)),
            (None, None) => None,
        };
        let mut keys = KeySet::new();
        if let Some(jwks) = var("TOLLGATE_JWKS") {
            let set = KeySet::from_jwks(&jwks).map_err(|e| format!("TOLLGATE_JWKS: {e}"))?;
            keys.extend(set)
                .map_err(|e| format!("TOLLGATE_JWKS: {e}"))?;
        }
        if let Some(path) = var("TOLLGATE_PUBLIC_KEY_FILE") {
            let pem = std::fs::read(&path)
                .map_err(|e| format!("TOLLGATE_PUBLIC_KEY_FILE={path}: {e}"))?;
            let key = Key::ed25519_pem(&pem)
                .map_err(|e| format!("TOLLGATE_PUBLIC_KEY_FILE={path}: {e}"))?;
            keys.insert(key.with_kid(DEMO_KID))
                .map_err(|e| format!("TOLLGATE_PUBLIC_KEY_FILE: {e}"))?;
        }
        if keys.is_empty() && remote.is_none() {
            return Err("no keys: set TOLLGATE_OIDC_ISSUER, TOLLGATE_JWKS_URL, TOLLGATE_JWKS or TOLLGATE_PUBLIC_KEY_FILE".into());
        }
        let jwks_wait = match var("TOLLGATE_JWKS_WAIT_MS") {
            Some(ms) => Duration::from_millis(ms.parse().map_err(|_| {
                format!("TOLLGATE_JWKS_WAIT_MS={ms:?} is not a number of milliseconds")
            })?),
            None => Duration::from_secs(2),
        };
        let routes = match var("TOLLGATE_ROUTES") {
            Some(text) => text
                .parse::<Routes>()
                .map_err(|e| format!("TOLLGATE_ROUTES: {e}"))?,
            None => Routes::none(),
        };
        let response_mode = match var("TOLLGATE_RESPONSE_MODE").as_deref() {
            None | Some("iam") => ResponseMode::IamPolicy,
            Some("simple") => ResponseMode::Simple,
            Some(other) => {
                return Err(format!(
                    "TOLLGATE_RESPONSE_MODE={other:?}: use iam or simple (the authorizer's enableSimpleResponses)"
                ));
            }
        };
        // The Authorization header only, unless told: every source must be an identity
        // source of the authorizer (the key API Gateway caches the answer under).
        let mut sources = TokenSources::default().without_cookie();
        match var("TOLLGATE_TOKEN_COOKIE").as_deref() {
            None | Some("off") => {}
            Some(name) => sources = sources.cookie(name),
        }
        if let Some(name) = var("TOLLGATE_TOKEN_QUERY") {
            sources = sources.query_parameter(name);
        }
        let on_store_error = if flag(var("TOLLGATE_FAIL_OPEN"), "TOLLGATE_FAIL_OPEN")? {
            StoreFailure::FailOpen
        } else {
            StoreFailure::FailClosed
        };
        let dynamodb_table = var("TOLLGATE_DYNAMODB_TABLE");
        if dynamodb_table.is_some() && var("REDIS_URL").is_some() {
            return Err(
                "TOLLGATE_DYNAMODB_TABLE and REDIS_URL are both set: revocations are \
                 kept in one store, choose one"
                    .into(),
            );
        }
        Ok(Self {
            issuer,
            audience: var("TOLLGATE_AUDIENCE"),
            roles_claim: var("TOLLGATE_ROLES_CLAIM").unwrap_or_else(|| "roles".into()),
            require_type: var("TOLLGATE_REQUIRE_TYP"),
            keys,
            remote,
            jwks_wait,
            redis_url: var("REDIS_URL"),
            dynamodb_table,
            on_store_error,
            routes,
            response_mode,
            simple_refusal_as_error: flag(
                var("TOLLGATE_SIMPLE_UNAUTHORIZED"),
                "TOLLGATE_SIMPLE_UNAUTHORIZED",
            )?,
            answers_cached_per_route: flag(
                var("TOLLGATE_CACHE_PER_ROUTE"),
                "TOLLGATE_CACHE_PER_ROUTE",
            )?,
            sources,
            websocket_protocol: flag(
                var("TOLLGATE_WEBSOCKET_PROTOCOL"),
                "TOLLGATE_WEBSOCKET_PROTOCOL",
            )?,
            context_claims: var("TOLLGATE_CONTEXT_CLAIMS")
                .map(|v| {
                    v.split(',')
                        .map(|c| c.trim().to_owned())
                        .filter(|c| !c.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            usage_identifier_claim: var("TOLLGATE_USAGE_IDENTIFIER_CLAIM"),
            cognito,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    fn settings(env: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::from_env(|name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_issuer_defaults_to_the_oidc_issuer() {
        let s = settings(&[("TOLLGATE_OIDC_ISSUER", "https://idp.example")]).unwrap();
        assert_eq!(s.issuer, "https://idp.example");
        assert_eq!(
            s.remote,
            Some(Remote::Discover("https://idp.example".into()))
        );
    }

    #[test]
    fn a_cognito_pool_names_the_issuer_the_keys_and_the_groups() {
        let s = settings(&[
            ("TOLLGATE_COGNITO_USER_POOL", "eu-west-1_AbC"),
            ("TOLLGATE_COGNITO_CLIENT_IDS", "client-1"),
        ])
        .unwrap();
        let issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC";
        assert_eq!(s.issuer, issuer);
        assert_eq!(s.remote, Some(Remote::Discover(issuer.into())));
        assert_eq!(s.roles_claim, "cognito:groups");
        assert_eq!(s.cognito.unwrap().clients, ["client-1"]);
        let error = settings(&[
            ("TOLLGATE_COGNITO_USER_POOL", "eu-west-1_AbC"),
            ("TOLLGATE_COGNITO_CLIENT_IDS", "client-1"),
            ("TOLLGATE_AUDIENCE", "api"),
        ])
        .unwrap_err();
        assert!(error.starts_with("TOLLGATE_AUDIENCE"), "{error}");
    }

    #[test]
    fn the_cookie_is_read_only_when_named() {
        let base = [("TOLLGATE_ISSUER", "i"), ("TOLLGATE_JWKS", JWKS)];
        assert!(!settings(&base).unwrap().sources.reads_cookie());
        let mut named = base.to_vec();
        named.push(("TOLLGATE_TOKEN_COOKIE", "__Host-access_token"));
        assert!(settings(&named).unwrap().sources.reads_cookie());
        named.pop();
        named.push(("TOLLGATE_TOKEN_COOKIE", "off"));
        assert!(!settings(&named).unwrap().sources.reads_cookie());
    }

    #[test]
    fn mistakes_stop_the_start_with_the_variable_named() {
        let base = [("TOLLGATE_ISSUER", "i"), ("TOLLGATE_JWKS", JWKS)];
        assert!(settings(&base).is_ok());
        for (name, value) in [
            ("TOLLGATE_ROUTES", "GET /admin"),
            ("TOLLGATE_ROUTES", "GET /admin=root"),
            ("TOLLGATE_RESPONSE_MODE", "json"),
            ("TOLLGATE_JWKS_WAIT_MS", "soon"),
            ("TOLLGATE_FAIL_OPEN", "maybe"),
            ("TOLLGATE_CACHE_PER_ROUTE", "y"),
            ("TOLLGATE_JWKS", "{}"),
        ] {
            let mut env = base.to_vec();
            env.retain(|(n, _)| *n != name);
            env.push((name, value));
            let error = settings(&env).unwrap_err();
            assert!(error.starts_with(name), "{name}={value}: {error}");
        }
        assert!(
            settings(&[("TOLLGATE_JWKS", JWKS)])
                .unwrap_err()
                .contains("TOLLGATE_ISSUER")
        );
        assert!(
            settings(&[("TOLLGATE_ISSUER", "i")])
                .unwrap_err()
                .contains("no keys")
        );
    }

    #[test]
    fn one_revocation_store_at_most() {
        let base = [("TOLLGATE_ISSUER", "i"), ("TOLLGATE_JWKS", JWKS)];
        let mut env = base.to_vec();
        env.push(("TOLLGATE_DYNAMODB_TABLE", "revocations"));
        assert_eq!(
            settings(&env).unwrap().dynamodb_table.as_deref(),
            Some("revocations")
        );
        env.push(("REDIS_URL", "redis://127.0.0.1:6379/"));
        let error = settings(&env).unwrap_err();
        assert!(error.contains("both set"), "{error}");
    }
}
