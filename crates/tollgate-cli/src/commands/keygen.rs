//! `tollgate keygen`: a signing key, written as PEM and JWK Set files.

use crate::cli::KeygenArgs;
use crate::error::CliError;
use crate::keys;
use crate::output::{Output, print_json, say};
use crate::token::quote;
use serde_json::{Map, Value, json};
use tollgate::Algorithm;

/// Makes a key and writes its files ([`keys::keygen`]); lists them.
pub(crate) fn run(output: Output, args: KeygenArgs) -> Result<u8, CliError> {
    let alg = Algorithm::from(args.alg);
    let kid = match args.kid {
        Some(kid) => kid,
        None => keys::default_kid(alg)?,
    };
    let written = keys::keygen(alg, &kid, &args.out, args.rsa_bits)?;
    if output.is_json() {
        let mut out = Map::new();
        out.insert("kid".into(), json!(kid));
        out.insert("alg".into(), json!(format!("{alg:?}")));
        for file in &written {
            out.insert(file.role.into(), json!(file.path.display().to_string()));
        }
        print_json(&Value::Object(out));
        return Ok(0);
    }
    say!("Made an {alg:?} key, kid {}:", quote(&kid));
    let width = written
        .iter()
        .map(|f| f.path.display().to_string().len())
        .max()
        .unwrap_or(0);
    for file in &written {
        let what = match file.role {
            "private_key" => "private key, mode 0600: keep it secret (`tollgate mint --key`)",
            "public_key" => "public key",
            "jwks" => "JWK Set: give it to the services, or publish it",
            _ => "the HMAC secret as a JWK Set, mode 0600: share only with the services",
        };
        say!(
            "  {:width$}  {what}",
            file.path.display().to_string(),
            width = width
        );
    }
    Ok(0)
}
