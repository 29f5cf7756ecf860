//! Reading a token from the command line or stdin, and decoding it **without verifying
//! anything**: for `inspect`, and to put a refused token's values into the reason.

use crate::error::CliError;
use crate::output::Output;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use std::io::Read as _;

/// Largest token read from stdin. Far above the verifier's 8 KiB limit, so that `inspect`
/// can still show an oversized token, while a wrong pipe cannot exhaust memory.
const MAX_INPUT: u64 = 1024 * 1024;

/// The token named by `arg`: `-` reads it from stdin, anything else is the token itself
/// (with a warning: a command line is visible to other local users and kept in shell
/// history). Surrounding whitespace and a leading `Bearer ` are dropped.
pub(crate) fn read(output: Output, arg: &str) -> Result<String, CliError> {
    let raw = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_INPUT + 1)
            .read_to_string(&mut text)
            .map_err(|e| CliError::usage(format!("cannot read the token from stdin: {e}")))?;
        if text.len() as u64 > MAX_INPUT {
            return Err(CliError::usage(
                "stdin holds more than 1 MiB: that is no token",
            ));
        }
        text
    } else {
        output.warn(
            "a token on the command line is visible to other local users and in shell \
             history; pass `-` and pipe it on stdin instead",
        );
        arg.to_owned()
    };
    let mut token = raw.trim();
    if let Some(rest) = token
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("bearer "))
        .map(|_| &token[7..])
    {
        token = rest.trim_start();
    }
    if token.is_empty() {
        return Err(CliError::usage("the token is empty"));
    }
    if token.contains(char::is_whitespace) {
        return Err(CliError::usage(
            "the token contains whitespace; pass exactly one token",
        ));
    }
    Ok(token.to_owned())
}

/// A token's header and claims, decoded but **not verified**.
#[derive(Debug, Default)]
pub(crate) struct Unverified {
    pub(crate) header: Map<String, Value>,
    /// `None` when the payload is not a JSON object (the header may still be readable).
    pub(crate) claims: Option<Map<String, Value>>,
}

impl Unverified {
    /// Decodes what can be decoded; never fails (for explaining a refusal).
    pub(crate) fn lenient(token: &str) -> Self {
        let mut parts = token.split('.');
        Self {
            header: parts.next().and_then(object).unwrap_or_default(),
            claims: parts.next().and_then(object),
        }
    }

    /// Decodes a signed token (JWS compact form), or says why it cannot be read.
    pub(crate) fn strict(token: &str) -> Result<Self, String> {
        let parts: Vec<&str> = token.split('.').collect();
        match parts.len() {
            3 => {}
            5 => {
                return Err(
                    "this is an encrypted token (JWE, five parts): its claims cannot be \
                     read without the decryption key"
                        .into(),
                );
            }
            n => {
                return Err(format!(
                    "not a JWT: expected three base64url parts separated by dots, found {n}"
                ));
            }
        }
        let header =
            object(parts[0]).ok_or("the header is not base64url-encoded JSON object text")?;
        let claims =
            object(parts[1]).ok_or("the claims are not base64url-encoded JSON object text")?;
        Ok(Self {
            header,
            claims: Some(claims),
        })
    }

    /// A header member that is a string.
    pub(crate) fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A claim, if the claims could be read.
    pub(crate) fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.as_ref().and_then(|c| c.get(name))
    }
}

fn object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A value taken from a token (so chosen by whoever made it), made safe to print: control
/// characters escaped, at most 80 characters, in single quotes.
pub(crate) fn quote(value: &str) -> String {
    let escaped: String = value.chars().flat_map(char::escape_debug).collect();
    let mut shown: String = escaped.chars().take(80).collect();
    if shown.len() < escaped.len() {
        shown.push('…');
    }
    format!("'{shown}'")
}

/// A JSON value taken from a token, as compact JSON (which escapes control characters), at
/// most 120 characters.
pub(crate) fn json_snippet(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        let mut short: String = text.chars().take(120).collect();
        short.push('…');
        short
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_control_characters() {
        assert_eq!(quote("k1"), "'k1'");
        assert_eq!(quote("a\u{1b}[31mb"), "'a\\u{1b}[31mb'");
        assert!(quote(&"x".repeat(500)).ends_with("…'"));
    }

    #[test]
    fn strict_decoding_names_the_problem() {
        assert!(Unverified::strict("a.b").unwrap_err().contains("found 2"));
        assert!(Unverified::strict("a.b.c.d.e").unwrap_err().contains("JWE"));
        assert!(Unverified::strict("e30.e30.x").is_ok());
        assert!(
            Unverified::strict("!!.e30.x")
                .unwrap_err()
                .contains("header")
        );
    }
}
