//! `tollgate`: the command line of tollgate — make keys, mint, inspect and verify tokens,
//! and revoke them, from a terminal.
//!
//! It uses the same core crate (`tollgate`) and Redis store (`tollgate-redis`) as the
//! middleware, so "the CLI says valid" means "a service configured alike accepts it".
//! Run `tollgate --help` for the commands and examples; `README.md` has a short tour.
//!
//! # Behaviour
//! - Output is text for people, or JSON with `--json` (every subcommand). Errors are one
//!   line on stderr (`{"error": …}` with `--json`).
//! - Exit status: 0 on success (for `verify`: the token is valid), 1 when `verify` refuses
//!   the token (or it is revoked), 2 for anything else (bad arguments, unreadable file,
//!   unusable key, Redis or a JWK Set URL out of reach).
//! - A token is never echoed back in an error. Values taken from a token (kid, audience)
//!   are escaped before they are printed.
//! - Secrets stay off the command line: keys are read from files, a token can be piped on
//!   stdin (`-`; a warning is printed when one is passed as an argument), and the Redis
//!   URL (which may hold a password) can come from `TOLLGATE_REDIS_URL` (a warning is
//!   printed when a URL with a password is given as an argument).
//!
//! # Dependencies, and why
//! - `tollgate`, `tollgate-redis`: the behaviour the services have (`remote` feature for
//!   `verify --jwks URL`).
//! - `aws-lc-rs` (already in the tree as jsonwebtoken's default backend): key generation
//!   and random secrets, and telling which kind of key a PEM file holds. No crypto here is
//!   hand-written.
//! - `pem` (already in the tree through jsonwebtoken): PEM armour.
//! - `base64` (workspace): base64url for `oct` JWKs and for `inspect`.
//! - `clap`: arguments, help and usage errors; `env` lets secrets come from variables.
//! - `humantime`: durations (`15m`) and RFC 3339 timestamps, both ways.
//! - `tokio`: a current-thread runtime for Redis and remote JWK Sets.
//! - dev: `tempfile` (a directory per test for generated keys).
//!
//! # Layout
//! - `main.rs` (this file): parse the arguments, run the command, print the error line
//!   and exit with its code.
//! - `cli`: clap's definitions and the help texts; `output`: text or JSON, stdout and
//!   stderr; `error`: the error line and exit codes.
//! - `commands::{keygen, mint, inspect, verify, revoke, dynamodb}`: one module per command
//!   (`revoke` holds `revoke` and `revocations`).
//! - Helpers: `keys` (key files), `token` (reading and decoding a token), `explain` (why a
//!   token is refused), `time`, `redis` and `dynamodb` (the revocation stores).

mod cli;
mod commands;
mod dynamodb;
mod error;
mod explain;
mod keys;
mod output;
mod redis;
mod time;
mod token;

use crate::cli::{Cli, Command, DynamodbCommand};
use crate::output::Output;
use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = Output::new(cli.json);
    let result = match cli.command {
        Command::Keygen(args) => commands::keygen::run(output, args),
        Command::Mint(args) => commands::mint::run(output, args),
        Command::Inspect(args) => commands::inspect::run(output, args),
        Command::Verify(args) => commands::verify::run(output, args),
        Command::Revoke(args) => commands::revoke::revoke(output, args),
        Command::Revocations(args) => commands::revoke::revocations(output, args),
        Command::Dynamodb(DynamodbCommand::CreateTable { table }) => {
            commands::dynamodb::create_table(output, &table)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            output.error(&error::one_line(&error.message));
            ExitCode::from(error.exit)
        }
    }
}
