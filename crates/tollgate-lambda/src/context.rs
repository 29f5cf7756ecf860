//! The `context` of an Allow: what the backends behind API Gateway read about the caller.
//!
//! API Gateway accepts only strings, numbers and booleans there. The members are the
//! token's `sub`, `iss`, `jti` (strings), `iat`, `exp` (numbers), the roles joined with
//! commas under the roles claim's name, the scopes joined with spaces under `scope`, and
//! the configured extra claims. This is the shape
//! `tollgate_axum::dangerous::trust_api_gateway` reads back into the same claims (it reads
//! a comma-separated roles value from a Lambda authorizer's context as a list).

use serde_json::{Map, Value};
use tollgate::VerifiedToken;

/// The context of an Allow for `token`.
pub(crate) fn of(token: &VerifiedToken<()>, roles_claim: &str, extra: &[String]) -> Value {
    let mut context = Map::new();
    let mut text = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            context.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    };
    text("sub", token.subject());
    text("iss", token.issuer());
    text("jti", token.token_id());
    if let Some(iat) = token.issued_at() {
        context.insert("iat".into(), Value::from(iat));
    }
    if let Some(exp) = token.expires_at() {
        context.insert("exp".into(), Value::from(exp));
    }
    if !token.roles().is_empty() {
        context.insert(
            roles_claim.to_owned(),
            Value::String(token.roles().join(",")),
        );
    }
    if !token.scopes().is_empty() {
        context.insert("scope".into(), Value::String(token.scopes().join(" ")));
    }
    if !extra.is_empty()
        && let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(token.claims_json())
    {
        for name in extra {
            if context.contains_key(name) {
                continue;
            }
            if let Some(value) = claims.get(name) {
                context.insert(name.clone(), scalar(value));
            }
        }
    }
    Value::Object(context)
}

/// `value` as API Gateway allows it in a context: a string, number or boolean as it is,
/// anything else as its JSON text.
fn scalar(value: &Value) -> Value {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => value.clone(),
        other => Value::String(other.to_string()),
    }
}

/// The `principalId` of the answer: `sub`, else the token's revocation id.
pub(crate) fn principal(token: &VerifiedToken<()>) -> String {
    token
        .subject()
        .unwrap_or_else(|| token.revocation_id())
        .to_owned()
}

/// The top-level claim `name` as a string (its text, or a number's digits).
pub(crate) fn string_claim(token: &VerifiedToken<()>, name: &str) -> Option<String> {
    let claims: Value = serde_json::from_str(token.claims_json()).ok()?;
    match claims.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
