//! `tollgate mint`: a signed token for a subject, through the services' [`Signer`].

use crate::cli::MintArgs;
use crate::error::CliError;
use crate::keys;
use crate::output::{Output, print_json, say};
use serde_json::json;
use tollgate::{Signer, TokenRequest};

/// Signs a token and prints it (with `--json`: and what it holds).
pub(crate) fn run(output: Output, args: MintArgs) -> Result<u8, CliError> {
    let key = keys::signing_key(&args.key, args.kid.as_deref(), args.alg.map(Into::into))?;
    let (kid, alg) = (key.kid().to_owned(), key.algorithm());
    let mut builder = Signer::builder(key)
        .issuer(&args.iss)
        .ttl(args.ttl)
        .token_type(&args.typ)
        .roles_claim(&args.roles_claim);
    for aud in &args.aud {
        builder = builder.audience(aud);
    }
    let signer = builder
        .build()
        .map_err(|e| CliError::caused("cannot mint", &e))?;
    let mut request = TokenRequest::new(&args.sub).ttl(args.ttl);
    if !args.role.is_empty() {
        request = request.roles(args.role.iter().cloned());
    }
    let scopes: Vec<&str> = args
        .scope
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect();
    if !scopes.is_empty() {
        request = request.scopes(scopes);
    }
    for (name, value) in args.claim {
        request = request.claim(name, value);
    }
    let issued = signer.issue(&request).map_err(|e| match e {
        tollgate::IssueError::ReservedClaim(name) => CliError::usage(format!(
            "--claim {name}=…: `{name}` is set by the signer (use --iss, --sub, --aud or --ttl)"
        )),
        other => CliError::caused("cannot mint", &other),
    })?;
    if output.is_json() {
        print_json(&json!({
            "token": issued.token,
            "jti": issued.jti,
            "kid": kid,
            "alg": format!("{alg:?}"),
            "issued_at": issued.issued_at,
            "expires_at": issued.expires_at,
            "expires_in": issued.expires_in,
        }));
    } else {
        say!("{}", issued.token);
    }
    Ok(0)
}
