//! The `context` of an Allow: what the backends behind API Gateway read about the caller.
//!
//! API Gateway accepts only strings, numbers and booleans there. The members are the
//! token's `sub`, `iss`, `jti` (strings), `iat`, `exp` (numbers), the roles as the text of
//! a JSON array under the roles claim's name (`["admin","user"]`: a role name may hold a
//! comma or a bracket, and must not turn into other roles), the scopes joined with spaces
//! under `scope` (a scope holding whitespace, which RFC 6749 does not allow and no route
//! rule can name, is left out rather than read back as two), `aud`, `token_use` and
//! `client_id` when they are strings (what a backend checks Amazon Cognito's rules with),
//! and the configured extra claims. This is the shape `tollgate_axum::dangerous::trust_api_gateway` reads back
//! into the same claims.

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
            Value::String(Value::from(token.roles()).to_string()),
        );
    }
    let scopes: Vec<&str> = token
        .scopes()
        .iter()
        .map(String::as_str)
        .filter(|scope| !scope.is_empty() && !scope.contains(char::is_whitespace))
        .collect();
    if !scopes.is_empty() {
        context.insert("scope".into(), Value::String(scopes.join(" ")));
    }
    // What a backend applying Amazon Cognito's rules (`ApiGatewayTrust::cognito`) checks:
    // the token's use and app client, as strings. Read on every Allow, so only these three
    // members are built, not the whole claim set.
    if let Ok(forwarded) = serde_json::from_str::<Forwarded>(token.claims_json()) {
        for (name, value) in [
            ("aud", forwarded.aud),
            ("token_use", forwarded.token_use),
            ("client_id", forwarded.client_id),
        ] {
            if let Some(Value::String(value)) = value {
                context.insert(name.to_owned(), Value::String(value));
            }
        }
    }
    if !extra.is_empty()
        && let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(token.claims_json())
    {
        for name in extra {
            if reserved(name, roles_claim) {
                continue;
            }
            if let Some(value) = claims.get(name) {
                context.insert(name.clone(), scalar(value));
            }
        }
    }
    Value::Object(context)
}

/// Claims copied into every context when the token has them as strings: a single `aud`,
/// `token_use` and `client_id`, which a backend checks Cognito's rules with.
#[derive(serde::Deserialize)]
struct Forwarded {
    aud: Option<Value>,
    token_use: Option<Value>,
    client_id: Option<Value>,
}

/// Context members a backend reads as the token's own claims, which an extra claim must
/// not stand in for: the registered claims, the scopes, the roles, `principalId` and the
/// forwarded claims.
const RESERVED: [&str; 12] = [
    "token_use",
    "client_id",
    "sub",
    "iss",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "scope",
    "scp",
    "principalId",
];

/// Whether `name` may not be copied into the context as an extra claim.
pub(crate) fn reserved(name: &str, roles_claim: &str) -> bool {
    name == roles_claim || RESERVED.contains(&name)
}

/// `value` as API Gateway allows it in a context: a string, number or boolean as it is,
/// anything else as its JSON text.
fn scalar(value: &Value) -> Value {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => value.clone(),
        other => Value::String(other.to_string()),
    }
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
