//! `tollgate verify`: a token checked as a service configured alike would check it, and
//! the exact reason when it is refused.

use super::{issuer_label, runtime};
use crate::cli::VerifyArgs;
use crate::error::{CliError, EXIT_REFUSED};
use crate::explain;
use crate::keys;
use crate::output::{Output, print_json, say};
use crate::redis;
use crate::time;
use crate::token::{self, quote};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tollgate::remote::RemoteKeys;
use tollgate::revocation::{RevocationStore as _, Status, TokenRef};
use tollgate::{Algorithm, KeySet, VerifiedToken, Verifier};

/// Where `verify` takes its keys from.
enum Keys {
    Static(KeySet),
    Remote(RemoteKeys),
}

/// Loads the JWK Set at `url` as a service would, waiting at most a few seconds.
fn remote_keys(runtime: &tokio::runtime::Runtime, url: &str) -> Result<RemoteKeys, CliError> {
    const WAIT: Duration = Duration::from_secs(5);
    let _entered = runtime.enter();
    let remote = RemoteKeys::jwks(url)
        .build()
        .map_err(|e| CliError::caused(format!("--jwks {url}"), &e))?;
    runtime.block_on(async {
        let deadline = Instant::now() + WAIT;
        loop {
            if remote.wait_until_loaded(Duration::from_millis(50)).await {
                return Ok(remote);
            }
            if let Some(why) = remote.last_error() {
                return Err(CliError::usage(format!(
                    "no keys from {url}: JWK Set fetch failed: {why}"
                )));
            }
            if Instant::now() > deadline {
                return Err(CliError::usage(format!(
                    "no keys from {url} within {} s",
                    WAIT.as_secs()
                )));
            }
        }
    })
}

/// Verifies the token as a service would; prints its claims, or why it is refused.
pub(crate) fn run(output: Output, args: VerifyArgs) -> Result<u8, CliError> {
    let token = token::read(output, &args.token)?;
    let alg = args.alg.map(Algorithm::from);
    let runtime = runtime()?;
    let (keys, source) = match (&args.jwks, &args.key) {
        (Some(url), _) if url.starts_with("https://") || url.starts_with("http://") => {
            (Keys::Remote(remote_keys(&runtime, url)?), url.clone())
        }
        (Some(file), _) => (
            Keys::Static(keys::jwks_file(&PathBuf::from(file))?),
            file.clone(),
        ),
        (None, Some(path)) => (
            Keys::Static(keys::verification_keys(path, args.kid.as_deref(), alg)?),
            path.display().to_string(),
        ),
        (None, None) => return Err(CliError::usage("pass --jwks or --key")),
    };
    if args.jwks.is_some() && (args.kid.is_some() || args.alg.is_some()) {
        output.warn("--kid and --alg apply to --key only; the JWK Set names its own keys");
    }

    let mut builder = Verifier::builder().leeway(args.leeway);
    for iss in &args.iss {
        builder = builder.issuer(iss);
    }
    for aud in &args.aud {
        builder = builder.audience(aud);
    }
    if let Some(typ) = &args.typ {
        builder = builder.require_type(typ);
    }
    let mut skipped = Vec::new();
    builder = match &keys {
        Keys::Static(set) => {
            skipped = set.skipped().to_vec();
            builder.keys(set.clone())
        }
        Keys::Remote(remote) => builder.remote_keys(remote.clone()),
    };
    let verifier = builder
        .build()
        .map_err(|e| CliError::caused("cannot build the verifier", &e))?;

    let result = match &keys {
        Keys::Static(_) => verifier.verify(&token),
        Keys::Remote(_) => runtime.block_on(verifier.verify_async(&token)),
    };
    let verified = match result {
        Ok(verified) => verified,
        Err(error) => {
            let key_set = match &keys {
                Keys::Static(set) => Some(set.clone()),
                Keys::Remote(remote) => remote.current().map(|k| (*k).clone()),
            };
            if let Some(set) = &key_set
                && matches!(keys, Keys::Remote(_))
            {
                skipped = set.skipped().to_vec();
            }
            let expected = explain::Expected {
                issuers: args.iss.clone(),
                audiences: args.aud.clone(),
                leeway: args.leeway.as_secs(),
                typ: args.typ.clone(),
                keys: key_set
                    .iter()
                    .flat_map(|s| s.iter())
                    .map(|k| (k.kid().map(str::to_owned), k.algorithm()))
                    .collect(),
                skipped,
                source,
            };
            let reason = explain::reason(error.kind(), &token, &expected, time::now());
            return Ok(refused(output, error.kind().code(), &reason));
        }
    };

    let revocation = match &args.redis {
        None => None,
        Some(url) => {
            redis::url_warning(output, url);
            match runtime.block_on(check_revoked(url, &args.prefix, &verified))? {
                Ok(status) => Some(status),
                Err(reason) => return Ok(refused(output, "token_revoked", &reason)),
            }
        }
    };
    print_valid(output, &args, &verified, revocation.as_deref());
    Ok(0)
}

/// Prints a refusal: the reason on stderr, and with `--json` a result on stdout.
fn refused(output: Output, code: &str, reason: &str) -> u8 {
    if output.is_json() {
        print_json(&json!({"valid": false, "code": code, "reason": reason}));
    }
    eprintln!("invalid token: {reason}");
    EXIT_REFUSED
}

/// `Ok(Ok(what was checked))` when not revoked, `Ok(Err(reason))` when revoked.
async fn check_revoked(
    url: &str,
    prefix: &str,
    verified: &VerifiedToken,
) -> Result<Result<String, String>, CliError> {
    let store = redis::connect(url, prefix).await?;
    let token = TokenRef::new(verified);
    let status = store
        .check(&token)
        .await
        .map_err(|e| CliError::caused(format!("Redis at {}", redis::target(url)), &e))?;
    let issuer = issuer_label(&token.issuer);
    Ok(match status {
        Status::Active => Ok(format!("not revoked (Redis {})", redis::target(url))),
        Status::TokenRevoked => Err(format!(
            "revoked: this token (jti {}, {issuer}) was revoked",
            quote(&token.id)
        )),
        _ => {
            let subject = token.subject.as_deref().unwrap_or_default();
            let cutoff = store
                .read(&store.subject_key(&token.issuer, subject))
                .await
                .ok()
                .flatten()
                .and_then(|s| s.value.parse::<u64>().ok());
            let now = time::now();
            let issued = token.issued_at.map_or_else(
                || "it has no iat".to_owned(),
                |iat| format!("it was issued {}", time::when(iat, now)),
            );
            match cutoff {
                Some(cutoff) => Err(format!(
                    "revoked: every token of subject {} ({issuer}) issued before {} was revoked, and {issued}",
                    quote(subject),
                    time::when(cutoff, now)
                )),
                None => Err(format!(
                    "revoked: the tokens of subject {} ({issuer}) issued before a cut-off were revoked",
                    quote(subject)
                )),
            }
        }
    })
}

fn print_valid(
    output: Output,
    args: &VerifyArgs,
    verified: &VerifiedToken,
    revocation: Option<&str>,
) {
    let now = time::now();
    let exp = verified.registered().exp;
    let key = verified
        .key_id()
        .map_or_else(|| "the key".to_owned(), |kid| format!("key {}", quote(kid)));
    if args.iss.is_empty() {
        output.note("no --iss given: the issuer was not checked");
    }
    if args.aud.is_empty() {
        output.note("no --aud given: the audience was not checked");
    }
    if output.is_json() {
        print_json(&json!({
            "valid": true,
            "algorithm": format!("{:?}", verified.algorithm()),
            "kid": verified.key_id(),
            "subject": verified.subject(),
            "revocation_id": verified.revocation_id(),
            "expires_at": exp,
            "issuer_checked": !args.iss.is_empty(),
            "audience_checked": !args.aud.is_empty(),
            "revocation": revocation.map_or(Value::Null, |_| json!("not revoked")),
            "claims": verified.claims(),
        }));
        return;
    }
    let expiry = exp.map_or_else(
        || "never expires".to_owned(),
        |exp| format!("expires {}", time::when(exp, now)),
    );
    say!(
        "VALID: signature verified with {key} ({:?}); {expiry}",
        verified.algorithm()
    );
    if let Some(revocation) = revocation {
        say!("revocation: {revocation}");
    }
    print_json(verified.claims());
}
