//! Why `verify` refused a token, in words.
//!
//! tollgate's [`ErrorKind`] says *which* rule failed. To say *how* ("expired 3 min ago",
//! "kid 'x' not in the key set (have: a, b)"), this module decodes the refused token's
//! header and claims **without verifying them**, after the verifier has decided. Those
//! values only go into the message; they never decide anything.

use crate::time;
use crate::token::{Unverified, json_snippet, quote};
use serde_json::Value;
use tollgate::{Algorithm, ErrorKind};

/// What the verifier was configured with, for the explanation.
#[derive(Debug, Default)]
pub(crate) struct Expected {
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) leeway: u64,
    pub(crate) typ: Option<String>,
    /// Each key: its `kid` (if any) and algorithm.
    pub(crate) keys: Vec<(Option<String>, Algorithm)>,
    /// JWK Set entries that were not loaded, as `kid: reason`.
    pub(crate) skipped: Vec<String>,
    /// Where the keys came from (`keys.jwks.json`, a URL), for messages.
    pub(crate) source: String,
}

impl Expected {
    fn key_list(&self) -> String {
        if self.keys.is_empty() {
            return "no key".to_owned();
        }
        self.keys
            .iter()
            .map(|(kid, alg)| match kid {
                Some(kid) => format!("{} ({alg:?})", quote(kid)),
                None => format!("a key without kid ({alg:?})"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn kid_list(&self) -> String {
        let kids: Vec<String> = self
            .keys
            .iter()
            .map(|(kid, _)| match kid {
                Some(kid) => kid.clone(),
                None => "(a key without kid)".to_owned(),
            })
            .collect();
        if kids.is_empty() {
            "none".to_owned()
        } else {
            kids.join(", ")
        }
    }

    fn skipped_note(&self) -> String {
        if self.skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; not loaded from {}: {}",
                self.source,
                self.skipped.join("; ")
            )
        }
    }
}

fn one_of(values: &[String]) -> String {
    match values {
        [one] => Value::String(one.clone()).to_string(),
        many => format!("one of {}", Value::from(many.to_vec())),
    }
}

fn leeway(expected: &Expected) -> String {
    format!("leeway {} s", expected.leeway)
}

/// The reason `verify` gives for a token refused with `kind`, in one line.
pub(crate) fn reason(kind: ErrorKind, token: &str, expected: &Expected, now: u64) -> String {
    let seen = Unverified::lenient(token);
    let number = |name: &str| seen.claim(name).and_then(Value::as_u64);
    let alg = seen.header_str("alg").unwrap_or("?");
    match kind {
        ErrorKind::Expired => match number("exp") {
            Some(exp) => format!(
                "expired {} ago (exp={}, {})",
                time::span(now.saturating_sub(exp)),
                time::utc(exp),
                leeway(expected)
            ),
            None => "expired".to_owned(),
        },
        ErrorKind::NotYetValid => match number("nbf") {
            Some(nbf) => format!(
                "not valid yet: valid from {} (nbf={}, {})",
                time::relative(nbf, now),
                time::utc(nbf),
                leeway(expected)
            ),
            None => "not valid yet".to_owned(),
        },
        ErrorKind::IssuedInFuture => match number("iat") {
            Some(iat) => format!(
                "issued in the future: iat is {} (iat={}, {})",
                time::relative(iat, now),
                time::utc(iat),
                leeway(expected)
            ),
            None => "issued in the future".to_owned(),
        },
        ErrorKind::UnknownKey => match seen.header.get("kid") {
            Some(Value::String(kid)) => {
                let hint = if expected.keys.iter().any(|(k, _)| k.is_none()) {
                    "; a key without kid verifies only tokens that name none (give it one \
                     with --kid)"
                } else {
                    ""
                };
                format!(
                    "kid {} not in the key set (have: {}){}{hint}",
                    quote(kid),
                    expected.kid_list(),
                    expected.skipped_note()
                )
            }
            Some(other) => format!("the header's kid is not a string: {}", json_snippet(other)),
            None => format!(
                "the token names no kid and no key is bound to its alg {} (have: {}){}",
                quote(alg),
                expected.key_list(),
                expected.skipped_note()
            ),
        },
        ErrorKind::AlgorithmMismatch => {
            let kid = seen.header_str("kid");
            let key = expected.keys.iter().find(|(k, _)| match kid {
                Some(kid) => k.as_deref() == Some(kid),
                None => true,
            });
            match key {
                Some((key_kid, key_alg)) => format!(
                    "the token says alg {} but key {} is bound to {key_alg:?}",
                    quote(alg),
                    key_kid
                        .as_deref()
                        .map_or_else(|| "(without kid)".to_owned(), quote),
                ),
                None => format!("alg {} is not allowed for the key", quote(alg)),
            }
        }
        ErrorKind::AmbiguousKey => format!(
            "the token names no kid and several keys could verify its alg {} (have: {}); \
             tokens must name their key when a set has several",
            quote(alg),
            expected.key_list()
        ),
        ErrorKind::InvalidSignature => {
            let key = match seen.header_str("kid") {
                Some(kid) => format!("key {} ({alg})", quote(kid)),
                None => format!("the {} key", quote(alg)),
            };
            format!(
                "invalid signature: it does not verify with {key}; the token was altered, \
                 or signed by another key"
            )
        }
        ErrorKind::WrongIssuer => match seen.claim("iss") {
            Some(iss) => format!(
                "wrong issuer: token has {}, expected {}",
                json_snippet(iss),
                one_of(&expected.issuers)
            ),
            None => "wrong issuer".to_owned(),
        },
        ErrorKind::WrongAudience => {
            let has = match seen.claim("aud") {
                Some(Value::String(one)) => Value::from(vec![one.clone()]),
                Some(other) => other.clone(),
                None => Value::Array(Vec::new()),
            };
            format!(
                "wrong audience: token has {}, expected {}",
                json_snippet(&has),
                one_of(&expected.audiences)
            )
        }
        ErrorKind::MissingClaim(name) => {
            let why = match name {
                "iss" => format!(", and --iss expects {}", one_of(&expected.issuers)),
                "aud" => format!(", and --aud expects {}", one_of(&expected.audiences)),
                "exp" => ": a token without expiry is never accepted".to_owned(),
                _ => String::new(),
            };
            format!("the token has no `{name}` claim{why}")
        }
        ErrorKind::InvalidClaim(name) => match seen.claim(name) {
            Some(value) => format!("claim `{name}` has the wrong type: {}", json_snippet(value)),
            None => format!("claim `{name}` has the wrong type"),
        },
        ErrorKind::WrongType => format!(
            "wrong token type: typ is {}, expected {}",
            seen.header
                .get("typ")
                .map_or_else(|| "missing".to_owned(), json_snippet),
            expected
                .typ
                .as_deref()
                .map_or_else(|| "another".to_owned(), |t| Value::from(t).to_string())
        ),
        ErrorKind::UnsupportedCritical => format!(
            "the header lists critical extensions (crit {}), which are never accepted",
            seen.header
                .get("crit")
                .map_or_else(String::new, json_snippet)
        ),
        ErrorKind::UnsupportedAlgorithm => format!("unsupported alg {}", quote(alg)),
        ErrorKind::AlgorithmNone => "unsigned token (alg \"none\"): never accepted".to_owned(),
        ErrorKind::TooLarge => format!(
            "the token is {} bytes; the limit is {} bytes",
            token.len(),
            tollgate::verifier::DEFAULT_MAX_TOKEN_LEN
        ),
        ErrorKind::Malformed => match Unverified::strict(token) {
            Err(why) => why,
            Ok(_) => "malformed token: a part is not strict base64url".to_owned(),
        },
        ErrorKind::Encrypted => {
            "this is an encrypted token (JWE): only signed tokens are accepted".to_owned()
        }
        ErrorKind::Nested => "nested token (cty: JWT): never accepted".to_owned(),
        ErrorKind::MalformedHeader => {
            "malformed header: not a JSON object of the right shape (strict JSON: no \
             duplicate members)"
                .to_owned()
        }
        ErrorKind::MalformedClaims => {
            "malformed claims: not a JSON object (strict JSON: no duplicate members)".to_owned()
        }
        ErrorKind::KeysUnavailable => format!("no keys could be loaded from {}", expected.source),
        other => other.description().to_owned(),
    }
}
