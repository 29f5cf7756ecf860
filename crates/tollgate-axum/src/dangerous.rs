//! Trusting the verdict of AWS API Gateway instead of verifying the token again (feature
//! `lambda`).
//!
//! When a Lambda function sits behind API Gateway and the route has an authorizer, the
//! gateway has already verified the token before invoking the function, and it forwards
//! the claims inside the invocation event's `requestContext`:
//!
//! | API | authorizer | where the claims are |
//! |---|---|---|
//! | HTTP API (payload 2.0) | JWT authorizer | `requestContext.authorizer.jwt.claims` |
//! | HTTP API (payload 2.0) | Lambda authorizer | `requestContext.authorizer.lambda` (its `context`) |
//! | REST API (payload 1.0) | Cognito user pool authorizer | `requestContext.authorizer.claims`, every value a string |
//! | REST API (payload 1.0) | JWT authorizer | `requestContext.authorizer.claims`, as JSON values |
//! | REST API (payload 1.0) | Lambda authorizer | `requestContext.authorizer` (its `context`, `principalId`) |
//!
//! [`trust_api_gateway`] makes an [`AuthLayer`] take those claims as the request's
//! [`VerifiedToken`] without checking the signature again, so that [`crate::Claims`],
//! [`crate::RequireRole`] and [`crate::RequireScope`] work unchanged. A request that carries
//! no gateway verdict (not invoked through API Gateway, or a route without an authorizer)
//! is authenticated as before, by the layer's [`tollgate::Verifier`]: the same router runs on
//! a laptop, on a server and on Lambda.
//!
//! # Security
//! Only the typed `lambda_http::request::RequestContext` that `lambda_http` puts into the
//! request's extensions when it converts a Lambda invocation event counts. A client cannot
//! create it: an HTTP header, a query parameter or a body that looks like a request context
//! is ignored, and such a request must carry a token the layer verifies itself. Do not add
//! that extension yourself from anything a client sent.
//!
//! Trust the gateway only when **every** way into the function goes through an API Gateway
//! route with an authorizer you configured for the same issuer and audience: a function
//! URL, another trigger, or a route without an authorizer has no verdict, and then the
//! layer verifies — unless the function is invoked with a hand-written event, e.g. by an
//! IAM principal allowed to call `lambda:InvokeFunction`, which can put any claims there.
//! Keep that permission to API Gateway.
//!
//! What still applies to gateway claims: revocation (the layer's store is asked with their
//! `iss`/`jti`/`sub`/`iat`, so a logout is honoured at once), `exp` (with 60 s leeway)
//! when the gateway forwards it — a Lambda authorizer's cached answer can outlive the token
//! — and, with [`ApiGatewayTrust::issuer`], the issuer: claims naming another are refused,
//! and claims naming none are taken as that issuer's, so that revocations are looked up
//! under the same issuer for every request. What does not: the signature, `aud`, `nbf` and
//! `typ`, which are the gateway's job.
//!
//! # How API Gateway flattens claims
//! The gateway forwards every claim as a string. The layer turns them back into what the
//! verifier would have read:
//!
//! - `exp`, `nbf`, `iat`: a decimal number (`"1700000000"`), or the REST API's
//!   `"Tue Apr 04 18:39:39 UTC 2023"`, becomes a number; anything else is refused (401).
//! - the roles claim (a top-level name such as `roles`, `groups`, `cognito:groups`), `scp`
//!   and `aud`: the HTTP API writes a list as `"[admin user]"`, which becomes
//!   `["admin", "user"]`; a JSON array written as text (`"[\"admin\"]"`) is read as JSON.
//!   For the REST API's Cognito authorizer, and for Lambda authorizer contexts (which can
//!   only hold strings, numbers and booleans), a roles value without brackets is a
//!   comma-separated list (`"admin,user"`) — how the REST API joins `cognito:groups`. An
//!   HTTP API JWT claim without brackets was a single string in the token, and grants no
//!   role, as with the verifier.
//! - `scope` stays a space-separated string. The HTTP API's `jwt.scopes` is used when the
//!   claims have neither `scope` nor `scp`.
//! - A Lambda authorizer's `principalId` becomes `sub` when the context has no `sub`.
//! - Nested claims (`realm_access.roles`) arrive as Go-formatted text (`map[roles:[a]]`) and
//!   are not read: map the roles to a top-level claim in the identity provider.
//!
//! The flattening is lossy: a role name containing a space (HTTP API) or a comma (REST API)
//! cannot be told from two roles. Do not let users name their own groups.
//!
//! [`VerifiedToken::algorithm`] reports `RS256` for gateway claims (the gateway does not say
//! which algorithm it verified; RS256 is what Cognito signs with) and
//! [`VerifiedToken::key_id`] is `None`.
//!
//! # Example
//! ```
//! use axum::{Router, routing::get};
//! use tollgate::{MemoryStore, Verifier};
//! use tollgate_axum::{AuthLayer, Claims, RequireRole, dangerous};
//!
//! async fn me(claims: Claims) -> String {
//!     claims.subject().unwrap_or_default().to_owned()
//! }
//!
//! # fn demo(verifier: Verifier) -> Router {
//! // On Lambda behind an authorizer: the gateway's claims. Anywhere else: the verifier.
//! let auth = dangerous::trust_api_gateway(
//!     AuthLayer::new(verifier).revocation(MemoryStore::new()),
//!     "cognito:groups",
//! );
//! Router::new()
//!     .route("/me", get(me))
//!     .route("/admin", get(|| async { "ok" }).route_layer(RequireRole::any(["admin"])))
//!     .layer(auth)
//! # }
//! ```

use crate::layer::AuthLayer;
use http::Extensions;
use lambda_http::request::RequestContext;
use serde_json::{Map, Value};
use std::collections::HashMap;
use tollgate::{Algorithm, ClaimPath, Error, ErrorKind, VerifiedToken};

/// Makes `layer` accept the claims API Gateway forwards to a Lambda function as the
/// request's verified token, without verifying them again; roles are read from the
/// top-level claim `roles_claim` (use the same path as the verifier's `roles_claim`).
///
/// Requests without a gateway verdict are authenticated by `layer`'s verifier as usual.
/// See the [module documentation](self) for what is trusted, what is still checked, and
/// when this is safe.
///
/// # Security
/// Skips signature verification for requests that carry the gateway's verdict. Safe only
/// when nothing but API Gateway, with authorizers for the issuer you trust, can invoke the
/// function.
pub fn trust_api_gateway(layer: AuthLayer, roles_claim: impl Into<ClaimPath>) -> AuthLayer {
    trust_api_gateway_with(layer, ApiGatewayTrust::new(roles_claim))
}

/// [`trust_api_gateway`] with every option of [`ApiGatewayTrust`], e.g. the issuer the
/// gateway's authorizers verify tokens of.
///
/// # Security
/// As [`trust_api_gateway`]: skips signature verification for requests that carry the
/// gateway's verdict.
pub fn trust_api_gateway_with(mut layer: AuthLayer, trust: ApiGatewayTrust) -> AuthLayer {
    layer.config_mut().gateway = Some(trust);
    layer
}

/// How an [`AuthLayer`] reads API Gateway's verdict; see [`trust_api_gateway_with`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ApiGatewayTrust {
    roles_claim: ClaimPath,
    issuer: Option<String>,
    cognito: Option<tollgate::cognito::CognitoSettings>,
}

impl ApiGatewayTrust {
    /// Roles read from the top-level claim `roles_claim` (use the same path as the
    /// verifier's `roles_claim`); no issuer rule.
    pub fn new(roles_claim: impl Into<ClaimPath>) -> Self {
        Self {
            roles_claim: roles_claim.into(),
            issuer: None,
            cognito: None,
        }
    }

    /// Applies Amazon Cognito's `token_use` and app-client rules to the gateway's claims
    /// too ([`tollgate::cognito::CognitoSettings::check_claims`]): API Gateway's Cognito
    /// authorizer accepts ID tokens of any app client of the pool, and its JWT authorizer
    /// does not check `token_use`. Claims that break them are refused with 401, as the
    /// layer refuses such tokens itself. (`tollgate-lambda`'s authorizer forwards
    /// `token_use`, `client_id` and a single `aud` in its context for this.)
    pub fn cognito(mut self, settings: tollgate::cognito::CognitoSettings) -> Self {
        self.cognito = Some(settings);
        self
    }

    /// The issuer whose tokens the gateway's authorizers verify, exactly as its `iss`.
    ///
    /// Gateway claims naming another `iss` are refused (401 `issuer_mismatch`), and claims
    /// without one — a Lambda authorizer's context often has none — are taken as this
    /// issuer's. So every gateway-verified token has the same issuer as the tokens the
    /// layer verifies itself, and a subject revocation written under it
    /// ([`tollgate::RevocationStore::revoke_subject`]) covers them all.
    ///
    /// Without it, revocations of gateway tokens are looked up under the `iss` the gateway
    /// forwards, and under `""` when it forwards none: a `revoke_subject` must then name
    /// exactly that issuer, or it revokes nothing.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }
}

/// Who produced the claims, which decides how a flattened list reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// HTTP API JWT authorizer: lists as `[a b]`, a bare string was a string.
    HttpJwt,
    /// REST API Cognito authorizer or a Lambda authorizer: a bare string may be a
    /// comma-separated list.
    Joined,
    /// REST API JWT authorizer: the claims as the token's JSON values; a string is a
    /// string (`"a,b"` is one role), arrays and numbers are what they are.
    Typed,
}

/// Leeway for the `exp` check of gateway claims, the verifier's default.
const EXP_LEEWAY: u64 = tollgate::verifier::DEFAULT_LEEWAY.as_secs();

impl ApiGatewayTrust {
    /// The token the gateway vouches for: `None` when the request carries no gateway
    /// verdict (then the layer verifies the bearer token itself).
    pub(crate) fn token(&self, extensions: &Extensions) -> Option<Result<VerifiedToken, Error>> {
        let (claims, source) = forwarded_claims(extensions.get::<RequestContext>()?)?;
        Some(self.read(claims, source, tollgate::now_secs()))
    }

    fn read(
        &self,
        mut claims: Map<String, Value>,
        source: Source,
        now: u64,
    ) -> Result<VerifiedToken, Error> {
        if source == Source::Typed {
            return self.trusted(claims, now);
        }
        for name in ["exp", "nbf", "iat"] {
            if let Some(value) = claims.get_mut(name) {
                let date = match value {
                    Value::String(text) => parse_date(text),
                    _ => None,
                };
                if let Some(date) = date {
                    *value = Value::from(date);
                }
            }
        }
        if let Some(value) = claims.get_mut("aud") {
            unflatten_list(value, Source::HttpJwt);
        }
        if let Some(value) = claims.get_mut("scp") {
            unflatten_list(value, Source::HttpJwt);
        }
        if let Some(value) = claims.get_mut(self.roles_claim.as_str()) {
            unflatten_list(value, source);
        }
        self.trusted(claims, now)
    }

    /// The token of claims in the token's own shapes: the issuer rule, then the claims
    /// read as the verifier reads them, then `exp`.
    fn trusted(&self, mut claims: Map<String, Value>, now: u64) -> Result<VerifiedToken, Error> {
        if let Some(cognito) = &self.cognito {
            cognito.check_claims(&claims)?;
        }
        if let Some(issuer) = &self.issuer {
            match claims.get("iss") {
                None | Some(Value::Null) => {
                    claims.insert("iss".into(), Value::String(issuer.clone()));
                }
                Some(Value::String(iss)) if iss == issuer => {}
                Some(Value::String(_)) => return Err(ErrorKind::WrongIssuer.into()),
                Some(_) => return Err(ErrorKind::InvalidClaim("iss").into()),
            }
        }
        let token = tollgate::dangerous::token_from_trusted_claims(
            claims,
            &self.roles_claim,
            // The gateway does not say; RS256 is what Cognito and most providers sign with.
            Algorithm::RS256,
        )?;
        // A Lambda authorizer's answer may be cached beyond the token's expiry.
        if token
            .expires_at()
            .is_some_and(|exp| exp.saturating_add(EXP_LEEWAY) < now)
        {
            return Err(ErrorKind::Expired.into());
        }
        Ok(token)
    }
}

/// The claims of the gateway's verdict in `context`, if there is one.
fn forwarded_claims(context: &RequestContext) -> Option<(Map<String, Value>, Source)> {
    match context {
        RequestContext::ApiGatewayV2(context) => {
            let authorizer = context.authorizer.as_ref()?;
            if let Some(jwt) = authorizer.jwt.as_ref().filter(|jwt| !jwt.claims.is_empty()) {
                let mut claims: Map<String, Value> = jwt
                    .claims
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                if let Some(scopes) = &jwt.scopes
                    && !claims.contains_key("scope")
                    && !claims.contains_key("scp")
                {
                    claims.insert("scp".into(), Value::from(scopes.clone()));
                }
                Some((claims, Source::HttpJwt))
            } else {
                // Present only when a Lambda authorizer ran: its context.
                lambda_context(&authorizer.fields)
            }
        }
        RequestContext::ApiGatewayV1(context) => {
            let fields = &context.authorizer.fields;
            match fields.get("claims") {
                // The JWT authorizer forwards JSON values (`exp` a number, lists as
                // arrays); the Cognito authorizer flattens every claim to a string.
                Some(Value::Object(claims)) if !claims.is_empty() => {
                    let typed = claims.values().any(|v| !v.is_string());
                    let source = if typed { Source::Typed } else { Source::Joined };
                    Some((claims.clone(), source))
                }
                // A REST API without an authorizer may still send `{"claims": null, …}`;
                // a Lambda authorizer always sets `principalId`.
                _ if matches!(fields.get("principalId"), Some(Value::String(p)) if !p.is_empty()) => {
                    lambda_context(fields)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// A Lambda authorizer's context as a claim set: `principalId` as `sub` when there is no
/// `sub`, without the members API Gateway adds or leaves empty; `None` when nothing is left.
fn lambda_context(fields: &HashMap<String, Value>) -> Option<(Map<String, Value>, Source)> {
    let mut claims: Map<String, Value> = fields
        .iter()
        .filter(|(k, v)| k.as_str() != "integrationLatency" && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !claims.contains_key("sub")
        && let Some(principal) = claims.get("principalId").cloned()
    {
        claims.insert("sub".into(), principal);
    }
    (!claims.is_empty()).then_some((claims, Source::Joined))
}

/// Turns a list the gateway wrote as a string back into a JSON array. Real arrays, and
/// strings that are not lists for `source`, are left as they are.
fn unflatten_list(value: &mut Value, source: Source) {
    let Value::String(text) = value else {
        return;
    };
    let trimmed = text.trim();
    let items: Vec<Value> = if let Some(inner) = trimmed
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        match serde_json::from_str::<Vec<Value>>(trimmed) {
            Ok(items) => items,
            // Go's formatting of a list: `[a b c]`.
            Err(_) => inner
                .split_ascii_whitespace()
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        }
    } else if source == Source::Joined {
        trimmed
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_owned()))
            .collect()
    } else {
        return;
    };
    *value = Value::Array(items);
}

/// A date the gateway wrote as a string: decimal seconds (`"1700000000"`) or the REST API's
/// Java-style `"Tue Apr 04 18:39:39 UTC 2023"`.
fn parse_date(text: &str) -> Option<u64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut parts = text.split_ascii_whitespace();
    let (_weekday, month, day, time, zone, year) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if parts.next().is_some() || !matches!(zone, "UTC" | "GMT") {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as u64 + 1;
    let day: u64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    // Four-digit years only: a date is read from a client-facing service's output, and a
    // huge year must be refused, not overflow.
    let year: u64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    days_from_civil(year, month, day)?
        .checked_mul(86_400)?
        .checked_add(h * 3600 + m * 60 + s)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's
/// algorithm), for years from 1970; `None` if it does not fit.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era.checked_mul(146_097)?
        .checked_add(doe)?
        .checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(value: Value, source: Source) -> Value {
        let mut value = value;
        unflatten_list(&mut value, source);
        value
    }

    #[test]
    fn lists_as_the_gateway_writes_them() {
        assert_eq!(
            list(json!("[admin user]"), Source::HttpJwt),
            json!(["admin", "user"])
        );
        assert_eq!(list(json!("[]"), Source::HttpJwt), json!([]));
        assert_eq!(
            list(json!(r#"["a b","c"]"#), Source::HttpJwt),
            json!(["a b", "c"])
        );
        assert_eq!(list(json!("admin"), Source::HttpJwt), json!("admin"));
        assert_eq!(
            list(json!("admin, user"), Source::Joined),
            json!(["admin", "user"])
        );
        assert_eq!(list(json!(["x"]), Source::Joined), json!(["x"]));
    }

    #[test]
    fn dates_as_the_gateway_writes_them() {
        assert_eq!(parse_date("1700000000"), Some(1_700_000_000));
        assert_eq!(
            parse_date("Tue Apr 04 18:39:39 UTC 2023"),
            Some(1_680_633_579)
        );
        assert_eq!(parse_date("Thu Jan 01 00:00:00 UTC 1970"), Some(0));
        assert_eq!(
            parse_date("Thu Feb 29 12:00:00 UTC 2024"),
            Some(1_709_208_000)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "Tue Apr 04 18:39:39 CEST 2023",
            "Tue Foo 04 18:39:39 UTC 2023",
            "Tue Apr 04 25:39:39 UTC 2023",
            "Tue Apr 04 18:39:39 UTC 2023 extra",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn huge_years_are_refused_without_overflow() {
        for bad in [
            "Tue Apr 04 18:39:39 UTC 10000",
            "Tue Apr 04 18:39:39 UTC 18446744073709551615",
            "Tue Apr 04 18:39:39 UTC 99999999999999999999",
            "Tue Jan 01 00:00:00 UTC 1969",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(
            parse_date("Fri Dec 31 23:59:59 UTC 9999"),
            Some(253_402_300_799)
        );
    }

    #[test]
    fn expired_gateway_claims_are_refused() {
        let trust = ApiGatewayTrust::new(ClaimPath::default());
        let claims = json!({"sub": "a", "exp": "1000"})
            .as_object()
            .unwrap()
            .clone();
        let error = trust
            .read(claims.clone(), Source::HttpJwt, 1000 + EXP_LEEWAY + 1)
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Expired);
        assert!(trust.read(claims, Source::HttpJwt, 1000).is_ok());
    }

    #[test]
    fn unreadable_dates_are_refused() {
        let trust = ApiGatewayTrust::new(ClaimPath::default());
        let claims = json!({"exp": "next week"}).as_object().unwrap().clone();
        let error = trust.read(claims, Source::HttpJwt, 0).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidClaim("exp"));
    }

    #[test]
    fn a_configured_issuer_names_iss_less_claims_and_refuses_others() {
        let trust = ApiGatewayTrust::new(ClaimPath::default()).issuer("https://idp.example");
        let map = |v: Value| v.as_object().unwrap().clone();
        let token = trust
            .read(map(json!({"sub": "a"})), Source::Joined, 0)
            .unwrap();
        assert_eq!(token.issuer(), Some("https://idp.example"));
        let token = trust
            .read(
                map(json!({"sub": "a", "iss": "https://idp.example"})),
                Source::HttpJwt,
                0,
            )
            .unwrap();
        assert_eq!(token.issuer(), Some("https://idp.example"));
        let error = trust
            .read(
                map(json!({"sub": "a", "iss": "https://other.example"})),
                Source::HttpJwt,
                0,
            )
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WrongIssuer);
        let error = trust
            .read(map(json!({"sub": "a", "iss": 7})), Source::Joined, 0)
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidClaim("iss"));
    }
}
