//! `tollgate revoke` and `tollgate revocations`: revocations written to and read from the
//! store the services share, Redis or DynamoDB.

use super::{issuer_label, runtime};
use crate::cli::{RedisArgs, RevocationsArgs, RevokeArgs};
use crate::dynamodb;
use crate::error::CliError;
use crate::output::{Output, print_json, say};
use crate::redis;
use crate::time;
use crate::token::quote;
use serde_json::{Map, Value, json};

/// The store `args` name, Redis or DynamoDB (not both).
enum Backend {
    Redis(tollgate_redis::RedisStore),
    DynamoDb(tollgate_dynamodb::DynamoDbStore),
}

impl Backend {
    fn connect(
        output: Output,
        args: &RedisArgs,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<Self, CliError> {
        match (&args.redis, &args.dynamodb_table) {
            (Some(_), Some(_)) => Err(CliError::usage(
                "both a Redis URL (--redis, TOLLGATE_REDIS_URL) and a DynamoDB table \
                 (--dynamodb-table, TOLLGATE_DYNAMODB_TABLE) are given: revocations are kept \
                 in one store, choose one",
            )),
            (Some(url), None) => {
                redis::url_warning(output, url);
                Ok(Self::Redis(
                    runtime.block_on(redis::connect(url, &args.prefix))?,
                ))
            }
            (None, Some(table)) => Ok(Self::DynamoDb(runtime.block_on(dynamodb::connect(table)))),
            (None, None) => Err(CliError::usage("pass --redis or --dynamodb-table")),
        }
    }

    fn store(&self) -> &dyn tollgate::RevocationStore {
        match self {
            Self::Redis(store) => store,
            Self::DynamoDb(store) => store,
        }
    }

    /// "this Redis", "this DynamoDB table": who refuses a revoked token.
    fn label(&self) -> &'static str {
        match self {
            Self::Redis(_) => "this Redis",
            Self::DynamoDb(_) => "this DynamoDB table",
        }
    }
}

/// Revokes one token or every token of a subject, and says until when that holds.
pub(crate) fn revoke(output: Output, args: RevokeArgs) -> Result<u8, CliError> {
    let issuer = args.iss.clone().unwrap_or_default();
    if args.iss.is_none() {
        output.warn("no --iss given: this applies only to tokens without an `iss` claim");
    }
    let now = time::now();
    let leeway = args.leeway.as_secs();
    let runtime = runtime()?;
    let backend = Backend::connect(output, &args.redis, &runtime)?;
    let store = backend.store();
    if let (Some(jti), Some(exp)) = (&args.jti, args.exp) {
        let until = exp.saturating_add(leeway);
        if until <= now {
            let message = format!(
                "nothing stored: the token expired {}; even with {leeway} s leeway no \
                 service accepts it any more",
                time::when(exp, now)
            );
            if output.is_json() {
                print_json(
                    &json!({"revoked": null, "issuer": issuer, "jti": jti, "reason": message}),
                );
            } else {
                say!("{message}");
            }
            return Ok(0);
        }
        let subject = args.sub.as_deref();
        if subject.is_none() && !args.no_sub {
            // Redis files a token's revocation under its subject: one filed under none would
            // leave a token that has one accepted, while saying it was revoked.
            return Err(CliError::usage(
                "--jti needs the token's subject: pass --sub S, or --no-sub for a token \
                 without a `sub` claim",
            ));
        }
        runtime
            .block_on(store.revoke_token(&issuer, subject, jti, until))
            .map_err(|e| CliError::caused("revoking the token", &e))?;
        if output.is_json() {
            print_json(&json!({"revoked": "token", "issuer": issuer, "jti": jti, "until": until}));
        } else {
            say!(
                "revoked token {} ({}): refused by every service on {}; kept until {}, \
                 the token's exp plus {leeway} s leeway",
                quote(jti),
                backend.label(),
                issuer_label(&issuer),
                time::when(until, now)
            );
        }
        return Ok(0);
    }
    let Some(subject) = &args.sub else {
        return Err(CliError::usage("pass --jti and --exp, or --sub"));
    };
    // `iat` counts whole seconds: a token minted earlier in this second has `iat == now`,
    // so the default cut-off is the next second (as the demo's "log out everywhere").
    let before = args.before.unwrap_or(now + 1);
    let until = before
        .max(now)
        .saturating_add(args.max_lifetime.as_secs())
        .saturating_add(leeway);
    runtime
        .block_on(store.revoke_subject(&issuer, subject, before, until))
        .map_err(|e| CliError::caused("revoking the subject's tokens", &e))?;
    if output.is_json() {
        print_json(&json!({
            "revoked": "subject",
            "issuer": issuer,
            "subject": subject,
            "before": before,
            "until": until,
        }));
    } else {
        let which = match args.before {
            None => "issued so far".to_owned(),
            Some(_) => format!("issued before {}", time::when(before, now)),
        };
        say!(
            "revoked every token of subject {} ({}) {which}; the cut-off is kept until {}",
            quote(subject),
            issuer_label(&issuer),
            time::when(until, now)
        );
    }
    Ok(0)
}

/// Shows what is revoked for a subject or a token, and until when.
pub(crate) fn revocations(output: Output, args: RevocationsArgs) -> Result<u8, CliError> {
    let issuer = args.iss.clone().unwrap_or_default();
    let runtime = runtime()?;
    let found = match Backend::connect(output, &args.redis, &runtime)? {
        Backend::Redis(store) => {
            let mut keys = Vec::new();
            if let Some(subject) = &args.sub {
                keys.push(store.subject_key(&issuer, subject));
            }
            if let Some(jti) = &args.jti {
                keys.push(store.token_key(&issuer, args.sub.as_deref(), jti));
            }
            runtime.block_on(redis::read(&store, &keys))?
        }
        Backend::DynamoDb(store) => runtime.block_on(dynamodb::read(
            &store,
            &issuer,
            args.sub.as_deref(),
            args.jti.as_deref(),
        ))?,
    };
    let mut found = found.into_iter();
    let now = time::now();
    let mut out = Map::new();
    out.insert("issuer".into(), json!(issuer));
    let mut lines = Vec::new();
    let kept = |stored: &redis::Stored| {
        stored.expires_at.map_or_else(
            || "kept forever".to_owned(),
            |t| format!("kept until {}", time::when(t, now)),
        )
    };
    if let Some(subject) = &args.sub {
        let stored = found.next().flatten();
        let cutoff = stored.as_ref().and_then(|s| s.value.parse::<u64>().ok());
        out.insert(
            "subject".into(),
            json!({
                "subject": subject,
                "revoked_before": cutoff,
                "kept_until": stored.as_ref().and_then(|s| s.expires_at),
            }),
        );
        lines.push(match (&stored, cutoff) {
            (Some(stored), Some(cutoff)) => format!(
                "subject {} ({}): every token issued before {} is revoked; {}",
                quote(subject),
                issuer_label(&issuer),
                time::when(cutoff, now),
                kept(stored)
            ),
            (Some(_), None) => format!(
                "subject {} ({}): the stored cut-off is not a time (written by something else?)",
                quote(subject),
                issuer_label(&issuer)
            ),
            (None, _) => format!(
                "subject {} ({}): no revocation",
                quote(subject),
                issuer_label(&issuer)
            ),
        });
    }
    if let Some(jti) = &args.jti {
        let stored = found.next().flatten();
        out.insert(
            "token".into(),
            json!({
                "jti": jti,
                "revoked": stored.is_some(),
                "kept_until": stored.as_ref().and_then(|s| s.expires_at),
            }),
        );
        lines.push(match &stored {
            Some(stored) => format!(
                "token {} ({}): revoked; {}",
                quote(jti),
                issuer_label(&issuer),
                kept(stored)
            ),
            None => format!(
                "token {} ({}): not revoked",
                quote(jti),
                issuer_label(&issuer)
            ),
        });
    }
    if output.is_json() {
        print_json(&Value::Object(out));
    } else {
        for line in lines {
            say!("{line}");
        }
    }
    Ok(0)
}
