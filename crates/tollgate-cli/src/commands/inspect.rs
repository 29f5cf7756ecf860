//! `tollgate inspect`: a token's header and claims, decoded WITHOUT verifying anything.

use crate::cli::InspectArgs;
use crate::error::CliError;
use crate::output::{Output, print_json, say};
use crate::time;
use crate::token::{self, Unverified};
use serde_json::{Map, Value, json};

/// The registered dates of `claims`, each with a phrase relative to `now`.
fn times(claims: &Map<String, Value>, now: u64) -> Vec<(&'static str, u64, String)> {
    let mut out = Vec::new();
    for name in ["iat", "nbf", "exp"] {
        let Some(at) = claims.get(name).and_then(Value::as_u64) else {
            continue;
        };
        let phrase = match (name, at > now) {
            ("iat", false) => format!("issued {}", time::relative(at, now)),
            ("iat", true) => format!("issued in the future ({})", time::relative(at, now)),
            ("nbf", false) => format!("valid since {}", time::relative(at, now)),
            ("nbf", true) => format!("not valid yet: valid {}", time::relative(at, now)),
            (_, true) => format!("expires {}", time::relative(at, now)),
            (_, false) => format!("expired {}", time::relative(at, now)),
        };
        out.push((name, at, phrase));
    }
    out
}

/// Decodes the token WITHOUT verifying it and shows its header, claims and dates.
pub(crate) fn run(output: Output, args: InspectArgs) -> Result<u8, CliError> {
    let token = token::read(output, &args.token)?;
    let decoded = Unverified::strict(&token).map_err(CliError::usage)?;
    let claims = decoded.claims.unwrap_or_default();
    let now = time::now();
    let times = times(&claims, now);
    if output.is_json() {
        let times: Map<String, Value> = times
            .iter()
            .map(|(name, at, phrase)| {
                (
                    (*name).to_owned(),
                    json!({"unix": at, "utc": time::utc(*at), "relative": phrase}),
                )
            })
            .collect();
        print_json(&json!({
            "verified": false,
            "header": decoded.header,
            "claims": claims,
            "times": times,
        }));
        return Ok(0);
    }
    say!(
        "UNVERIFIED: decoded without checking the signature or any claim; \
         `tollgate verify` says whether a service would accept it."
    );
    say!("\nheader:");
    print_json(&Value::Object(decoded.header));
    say!("\nclaims:");
    print_json(&Value::Object(claims));
    if !times.is_empty() {
        say!("\ntimes (UTC):");
        for (name, at, phrase) in &times {
            say!("  {name}  {}  {phrase}", time::utc(*at));
        }
    }
    Ok(0)
}
