//! The commands, one module each: what `tollgate <command>` does once its arguments are
//! parsed ([`crate::cli`]). Each takes its arguments and the [`Output`](crate::output::Output)
//! shape, prints its result, and returns the exit code (or the error for the one line).

pub(crate) mod dynamodb;
pub(crate) mod inspect;
pub(crate) mod keygen;
pub(crate) mod mint;
pub(crate) mod revoke;
pub(crate) mod verify;

use crate::error::CliError;
use serde_json::Value;

/// A current-thread runtime for the async parts (Redis, DynamoDB, remote JWK Sets).
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::caused("cannot start the async runtime", &e))
}

/// `issuer "…"` (escaped as JSON), or `no issuer` for tokens without `iss`.
fn issuer_label(iss: &str) -> String {
    if iss.is_empty() {
        "no issuer".to_owned()
    } else {
        format!("issuer {}", Value::from(iss))
    }
}
