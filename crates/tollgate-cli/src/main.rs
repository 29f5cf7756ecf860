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
//! - `tracing`, `tracing-subscriber` (workspace): to capture why a remote JWK Set failed to
//!   load, for the error line.
//! - dev: `tempfile` (a directory per test for generated keys).

mod capture;
mod dynamodb;
mod error;
mod explain;
mod keys;
mod redis;
mod time;
mod token;

use crate::error::{CliError, EXIT_REFUSED};
use crate::token::{Unverified, quote};
use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tollgate::remote::RemoteKeys;
use tollgate::revocation::{RevocationStore as _, Status, TokenRef};
use tollgate::{Algorithm, KeySet, Signer, TokenRequest, VerifiedToken, Verifier};

/// Whether `--json` was given: errors and warnings are shaped for scripts too.
static JSON: AtomicBool = AtomicBool::new(false);

const ABOUT: &str = "Make JWT signing keys, mint, inspect and verify tokens, and revoke them";

const LONG_ABOUT: &str = "\
Make JWT signing keys, mint, inspect and verify tokens, and revoke them.

`tollgate` is the command line of the tollgate JWT middleware. It uses the same code as
the services, so a token that `tollgate verify` accepts is one that a service with the
same keys, issuer and audience accepts, and a revocation made with `tollgate revoke` is
refused by every service sharing that Redis.";

const AFTER_HELP: &str = "\
Examples:
  # A key pair and its JWK Set in ./keys (EdDSA: small and fast)
  tollgate keygen --alg EdDSA --kid api-1 --out keys

  # A token for alice, valid 15 minutes
  tollgate mint --key keys/api-1.private.pem --iss https://auth.example \\
      --aud orders --sub alice --role admin > token.txt

  # Why is this token refused? (- reads it from stdin)
  tollgate verify --jwks keys/api-1.jwks.json --iss https://auth.example --aud orders - < token.txt
  tollgate inspect - < token.txt

  # Log alice out everywhere, now
  TOLLGATE_REDIS_URL=redis://127.0.0.1:6379/ tollgate revoke --iss https://auth.example --sub alice

Exit status: 0 success (verify: the token is valid); 1 verify refused the token or it is
revoked; 2 any other error (bad arguments, unreadable file, Redis out of reach).

Every subcommand takes --json for output that scripts can read. Run
`tollgate <command> --help` for the details of each.";

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// Print JSON for scripts instead of text (errors too, on stderr)
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a signing key: private key, public key and JWK Set files
    #[command(after_help = KEYGEN_HELP)]
    Keygen(KeygenArgs),
    /// Sign a token for a subject, printed on stdout
    #[command(after_help = MINT_HELP)]
    Mint(MintArgs),
    /// Show a token's header and claims WITHOUT verifying them
    #[command(after_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Check a token as a service would; say exactly why it is refused
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Revoke one token, or every token of a subject, in Redis or DynamoDB
    #[command(after_help = REVOKE_HELP)]
    Revoke(RevokeArgs),
    /// Show what is revoked for a subject or a token in Redis or DynamoDB
    #[command(after_help = REVOCATIONS_HELP)]
    Revocations(RevocationsArgs),
    /// The DynamoDB revocation table: create one for development
    #[command(subcommand)]
    Dynamodb(DynamodbCommand),
}

#[derive(Debug, Subcommand)]
enum DynamodbCommand {
    /// Create the revocation table (on-demand, partition key `pk`) and enable TTL on
    /// `until`; region, credentials and endpoint from the standard AWS variables
    CreateTable {
        /// Table name
        #[arg(long, value_name = "NAME", env = "TOLLGATE_DYNAMODB_TABLE")]
        table: String,
    },
}

/// The algorithms tollgate signs and verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "verbatim")]
enum Alg {
    /// RSA PKCS#1 v1.5 with SHA-256
    RS256,
    /// RSA PKCS#1 v1.5 with SHA-384
    RS384,
    /// RSA PKCS#1 v1.5 with SHA-512
    RS512,
    /// RSA-PSS with SHA-256
    PS256,
    /// RSA-PSS with SHA-384
    PS384,
    /// RSA-PSS with SHA-512
    PS512,
    /// ECDSA on P-256
    ES256,
    /// ECDSA on P-384
    ES384,
    /// EdDSA on Ed25519
    EdDSA,
    /// Ed25519, RFC 9864's name for EdDSA on Ed25519 (verify only: tollgate signs EdDSA)
    Ed25519,
    /// HMAC with SHA-256 (a shared secret)
    HS256,
    /// HMAC with SHA-384 (a shared secret)
    HS384,
    /// HMAC with SHA-512 (a shared secret)
    HS512,
}

impl From<Alg> for Algorithm {
    fn from(alg: Alg) -> Self {
        match alg {
            Alg::RS256 => Algorithm::RS256,
            Alg::RS384 => Algorithm::RS384,
            Alg::RS512 => Algorithm::RS512,
            Alg::PS256 => Algorithm::PS256,
            Alg::PS384 => Algorithm::PS384,
            Alg::PS512 => Algorithm::PS512,
            Alg::ES256 => Algorithm::ES256,
            Alg::ES384 => Algorithm::ES384,
            Alg::EdDSA => Algorithm::EdDSA,
            Alg::Ed25519 => Algorithm::Ed25519,
            Alg::HS256 => Algorithm::HS256,
            Alg::HS384 => Algorithm::HS384,
            Alg::HS512 => Algorithm::HS512,
        }
    }
}

const KEYGEN_HELP: &str = "\
Files written into --out, named after the key id (KID):
  KID.private.pem        the private key (PKCS#8), mode 0600: keep it secret
  KID.public.pem         the public key (SubjectPublicKeyInfo)
  KID.jwks.json          a JWK Set with the public key: what a service or gateway loads,
                         or what an issuer publishes at /.well-known/jwks.json
For HS256/HS384/HS512 there is no public half: one file, KID.secret.jwks.json (mode 0600),
a JWK Set with the `oct` secret. Every verifier needs that secret, so never publish it.

Existing files are never overwritten. `mint` and `verify` take the key id from these file
names unless --kid is given.

Examples:
  tollgate keygen --alg ES256 --out keys
  tollgate keygen --alg RS256 --kid 2025-01 --rsa-bits 3072 --out /etc/auth/keys
  tollgate keygen --alg HS256 --kid shared-1";

const MINT_HELP: &str = "\
The token has iss, sub, aud, iat, nbf, exp and a random 128-bit jti, plus the roles,
scope and claims given. It is printed alone on stdout, so it can be captured:
  TOKEN=$(tollgate mint ...)

The key file is a private key PEM (as written by `keygen`), an HMAC secret as a JWK or JWK
Set (KID.secret.jwks.json), or, with --alg HS256/HS384/HS512 and --kid, a file holding the
raw secret bytes. --claim values are read as JSON when they parse (numbers, true, arrays,
objects), else as strings: --claim tenant=acme --claim level=3 --claim 'tags=[\"a\",\"b\"]'.

Examples:
  tollgate mint --key keys/api-1.private.pem --iss https://auth.example --sub alice
  tollgate mint --key keys/api-1.private.pem --iss https://auth.example --aud orders \\
      --sub alice --role admin --scope 'orders:read orders:write' --ttl 1h --claim tenant=acme";

const INSPECT_HELP: &str = "\
Nothing is checked: not the signature, not the expiry, not the issuer. Anyone can write
any header and claims; use `tollgate verify` to know whether a service would accept them.
Dates are shown in UTC and relative to now (\"expires in 4 min\", \"expired 3 min ago\").

Examples:
  tollgate inspect - < token.txt
  pbpaste | tollgate inspect -
  tollgate inspect --json - < token.txt | jq .claims.sub";

const VERIFY_HELP: &str = "\
The token is checked as a service configured with the same keys, --iss, --aud and --leeway
would check it: signature, kid and alg, exp (required), nbf, iss, aud, and with --redis
whether it was revoked. A valid token prints its claims (exit 0). A refused one prints the
reason on stderr (exit 1), e.g.:
  invalid token: expired 3 min ago (exp=2025-01-31T12:00:00Z, leeway 60 s)
  invalid token: kid 'old-key' not in the key set (have: api-1, api-2)
  invalid token: wrong audience: token has [\"billing\"], expected \"orders\"
Without --iss or --aud those claims are not checked (a note says so); pass the values the
service uses.

Keys: --jwks takes a JWK Set file or an http(s) URL (fetched as a service fetches it);
--key takes a public key PEM, a private key PEM (its public half is used), a JWK, or a raw
HMAC secret file with --alg. A PEM key gets its kid from a KID.public.pem /
KID.private.pem file name, or from --kid.

Examples:
  tollgate verify --jwks keys/api-1.jwks.json --iss https://auth.example --aud orders - < token.txt
  tollgate verify --jwks https://auth.example/.well-known/jwks.json --aud orders - < token.txt
  tollgate verify --key keys/api-1.public.pem --redis redis://127.0.0.1:6379/ - < token.txt";

const REVOKE_HELP: &str = "\
Every service that checks revocations in the same Redis (same --prefix) refuses the
token(s) from its next request on. Two kinds:
  --jti J --exp T     one token, by its jti (and --sub S: its subject, if it has one);
                      kept until its exp plus the leeway
  --sub S             every token of subject S issued before --before (default: up to
                      now, this second included),
                      e.g. \"log out everywhere\" or \"roles changed\"; kept until every
                      such token has expired (--max-lifetime after the cut-off)
Revocations are namespaced by issuer: pass the tokens' --iss (or set TOLLGATE_ISSUER).
Times (--exp, --before) are `now`, seconds since the epoch, 2025-01-31T12:00:00Z, or
+15m / -1h from now.

The Redis URL may hold a password: prefer TOLLGATE_REDIS_URL to --redis. Revocations in
DynamoDB instead: --dynamodb-table NAME (or TOLLGATE_DYNAMODB_TABLE), with the region,
credentials and endpoint of the standard AWS variables; services see them within their
cache's bound (1 s).

Examples:
  export TOLLGATE_REDIS_URL=redis://127.0.0.1:6379/
  tollgate revoke --iss https://auth.example --sub alice
  tollgate revoke --iss https://auth.example --sub alice --jti 4Pq0c2Yx7T3v0aZ1 --exp 1767225600

Redis as deployed: TLS with rediss:// URLs (TOLLGATE_REDIS_CA_FILE for a private CA,
TOLLGATE_REDIS_CLIENT_CERT_FILE and TOLLGATE_REDIS_CLIENT_KEY_FILE for mutual TLS), an ACL
user (TOLLGATE_REDIS_USERNAME, TOLLGATE_REDIS_PASSWORD), a cluster or Sentinel
(TOLLGATE_REDIS_MODE=cluster|sentinel, TOLLGATE_REDIS_SENTINEL_MASTER; comma-separated
URLs): the same variables the services read.";

const REVOCATIONS_HELP: &str = "\
Reads the store's keys directly: for a subject, the cut-off time (tokens issued before it
are refused) and until when it is kept; for a token, whether it is revoked and until when.

Examples:
  tollgate revocations --redis redis://127.0.0.1:6379/ --iss https://auth.example --sub alice
  tollgate revocations --iss https://auth.example --jti 4Pq0c2Yx7T3v0aZ1 --json
  tollgate revocations --dynamodb-table tollgate-revocations --iss https://auth.example --sub alice";

#[derive(Debug, Args)]
struct KeygenArgs {
    /// Signing algorithm of the key
    #[arg(long, value_enum, ignore_case = true)]
    alg: Alg,
    /// Key id (`kid`), also used in the file names [default: ALG-DATE-RANDOM]
    #[arg(long)]
    kid: Option<String>,
    /// Directory to write the files into (created if missing)
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// RSA modulus size in bits (RS*/PS* only)
    #[arg(long, value_name = "BITS", default_value_t = 2048,
          value_parser = clap::builder::PossibleValuesParser::new(["2048", "3072", "4096"])
              .map(|s| s.parse::<u32>().unwrap_or(2048)))]
    rsa_bits: u32,
}

#[derive(Debug, Args)]
struct MintArgs {
    /// Private key file: a PEM from `keygen`, or an HMAC secret as JWK (Set)
    #[arg(long, value_name = "FILE", env = "TOLLGATE_SIGNING_KEY_FILE")]
    key: PathBuf,
    /// Subject (`sub`): whom the token is about
    #[arg(long, value_name = "SUBJECT")]
    sub: String,
    /// Issuer (`iss`), exactly as the services expect it
    #[arg(long, value_name = "ISSUER", env = "TOLLGATE_ISSUER")]
    iss: String,
    /// Audience (`aud`); repeat for several
    #[arg(long, value_name = "AUDIENCE")]
    aud: Vec<String>,
    /// A role, written to the roles claim; repeat for several
    #[arg(long, value_name = "ROLE")]
    role: Vec<String>,
    /// Scopes, space-separated or repeated; written to `scope`
    #[arg(long, value_name = "SCOPE")]
    scope: Vec<String>,
    /// Lifetime: 30s, 15m, 1h, 2d
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = time::parse_duration)]
    ttl: Duration,
    /// A custom claim, NAME=VALUE (VALUE read as JSON if it parses); repeat for several
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_claim)]
    claim: Vec<(String, Value)>,
    /// Key id for the header [default: from a KID.private.pem file name, or the JWK]
    #[arg(long)]
    kid: Option<String>,
    /// Algorithm [default: from the key; for RSA, from KID.jwks.json beside it, else RS256]
    #[arg(long, value_enum, ignore_case = true)]
    alg: Option<Alg>,
    /// Header `typ`: at+jwt marks an RFC 9068 access token (JWT for a verifier that wants it)
    #[arg(long, default_value = "at+jwt")]
    typ: String,
    /// Claim the roles are written to
    #[arg(long, value_name = "NAME", default_value = "roles")]
    roles_claim: String,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The token, or - to read it from stdin (preferred: arguments are visible to others)
    #[arg(value_name = "TOKEN|-")]
    token: String,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("keys").required(true).args(["jwks", "key"])))]
struct VerifyArgs {
    /// The token, or - to read it from stdin (preferred: arguments are visible to others)
    #[arg(value_name = "TOKEN|-")]
    token: String,
    /// JWK Set: a file, or an http(s) URL
    #[arg(long, value_name = "URL|FILE")]
    jwks: Option<String>,
    /// One key file: public or private key PEM, JWK, or raw HMAC secret (with --alg)
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Accepted issuer (`iss`); repeat for several [default: not checked]
    #[arg(long, value_name = "ISSUER", env = "TOLLGATE_ISSUER")]
    iss: Vec<String>,
    /// Accepted audience (`aud`); repeat for several [default: not checked]
    #[arg(long, value_name = "AUDIENCE")]
    aud: Vec<String>,
    /// Clock-skew allowance for exp and nbf
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = time::parse_duration)]
    leeway: Duration,
    /// Required header `typ` (e.g. at+jwt) [default: not checked]
    #[arg(long)]
    typ: Option<String>,
    /// Key id of a --key PEM [default: from a KID.public.pem / KID.private.pem file name]
    #[arg(long)]
    kid: Option<String>,
    /// Algorithm of a --key RSA PEM [default: from KID.jwks.json beside it, else RS256], of
    /// a raw HMAC secret, or of an Ed25519 PEM [default: EdDSA]
    #[arg(long, value_enum, ignore_case = true)]
    alg: Option<Alg>,
    /// Also check revocation in this Redis (prefer TOLLGATE_REDIS_URL: it may hold a password)
    #[arg(
        long,
        value_name = "URL",
        env = "TOLLGATE_REDIS_URL",
        hide_env_values = true
    )]
    redis: Option<String>,
    /// Key prefix of the revocation store
    #[arg(long, env = "TOLLGATE_REDIS_KEY_PREFIX", default_value = tollgate_redis::DEFAULT_KEY_PREFIX)]
    prefix: String,
}

/// Where revocations are: Redis (`--redis`) or a DynamoDB table (`--dynamodb-table`).
#[derive(Debug, Args)]
struct RedisArgs {
    /// Redis URL, e.g. redis://127.0.0.1:6379/ (prefer TOLLGATE_REDIS_URL: it may hold a password)
    #[arg(
        long,
        value_name = "URL",
        env = "TOLLGATE_REDIS_URL",
        hide_env_values = true,
        required_unless_present = "dynamodb_table"
    )]
    redis: Option<String>,
    /// DynamoDB table instead of Redis (region, credentials and endpoint from the standard
    /// AWS variables)
    #[arg(long, value_name = "NAME", env = "TOLLGATE_DYNAMODB_TABLE")]
    dynamodb_table: Option<String>,
    /// Key prefix of the revocation store, as the services configure it
    #[arg(long, env = "TOLLGATE_REDIS_KEY_PREFIX", default_value = tollgate_redis::DEFAULT_KEY_PREFIX)]
    prefix: String,
}

#[derive(Debug, Args)]
struct RevokeArgs {
    #[command(flatten)]
    redis: RedisArgs,
    /// Issuer (`iss`) of the tokens [default: tokens without iss]
    #[arg(long, value_name = "ISSUER", env = "TOLLGATE_ISSUER")]
    iss: Option<String>,
    /// Revoke the one token with this `jti` (for a token without one: the `revocation_id`
    /// that `tollgate verify --json` shows); pass its `sub` with --sub
    #[arg(long, required_unless_present = "sub", requires = "exp")]
    jti: Option<String>,
    /// The token's `exp` (time), so the revocation lasts as long as the token
    #[arg(long, value_name = "TIME", requires = "jti", value_parser = time::parse_time)]
    exp: Option<u64>,
    /// Revoke every token of this subject (`sub`) issued before --before; with --jti: the
    /// subject of that one token (Redis files a token's revocation under its subject)
    #[arg(long, value_name = "SUBJECT")]
    sub: Option<String>,
    /// Cut-off time: tokens issued before it are refused [default: every token issued so
    /// far, this second included]
    #[arg(long, value_name = "TIME", requires = "sub", conflicts_with = "jti", value_parser = time::parse_time)]
    before: Option<u64>,
    /// Longest lifetime of the issuer's tokens: how long a subject's cut-off is kept
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = time::parse_duration)]
    max_lifetime: Duration,
    /// The services' clock-skew allowance: revocations are kept this much longer
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = time::parse_duration)]
    leeway: Duration,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["sub", "jti"])))]
struct RevocationsArgs {
    #[command(flatten)]
    redis: RedisArgs,
    /// Issuer (`iss`) of the tokens [default: tokens without iss]
    #[arg(long, value_name = "ISSUER", env = "TOLLGATE_ISSUER")]
    iss: Option<String>,
    /// Show the cut-off of this subject
    #[arg(long, value_name = "SUBJECT")]
    sub: Option<String>,
    /// Show whether the token with this `jti` (of subject --sub, if it has one) is revoked
    #[arg(long)]
    jti: Option<String>,
}

fn parse_claim(text: &str) -> Result<(String, Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))?;
    if name.is_empty() {
        return Err("the claim name is empty".into());
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

/// Prints a warning on stderr.
pub(crate) fn warn(message: &str) {
    if JSON.load(Ordering::Relaxed) {
        eprintln!("{}", json!({ "warning": message }));
    } else {
        eprintln!("warning: {message}");
    }
}

fn note(message: &str) {
    if JSON.load(Ordering::Relaxed) {
        eprintln!("{}", json!({ "note": message }));
    } else {
        eprintln!("note: {message}");
    }
}

/// Writes one line on stdout. A closed stdout (`tollgate … | head -1`) is not an error
/// worth a panic: the rest of the output is dropped.
fn out_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// `println!` without the panic on a closed stdout.
macro_rules! say {
    ($($arg:tt)*) => { out_line(format_args!($($arg)*)) };
}

fn print_json(value: &Value) {
    say!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    JSON.store(cli.json, Ordering::Relaxed);
    capture::install();
    let result = match cli.command {
        Command::Keygen(args) => keygen(args),
        Command::Mint(args) => mint(args),
        Command::Inspect(args) => inspect(args),
        Command::Verify(args) => verify(args),
        Command::Revoke(args) => revoke(args),
        Command::Revocations(args) => revocations(args),
        Command::Dynamodb(DynamodbCommand::CreateTable { table }) => runtime()
            .and_then(|runtime| runtime.block_on(dynamodb::create_table(&table)))
            .map(|lines| {
                for line in lines {
                    say!("{line}");
                }
                0
            }),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let message = error::one_line(&error.message);
            if cli.json {
                eprintln!("{}", json!({ "error": message }));
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(error.exit)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::caused("cannot start the async runtime", &e))
}

fn issuer_label(iss: &str) -> String {
    if iss.is_empty() {
        "no issuer".to_owned()
    } else {
        format!("issuer {}", Value::from(iss))
    }
}

// ---------------------------------------------------------------------------------------
// keygen, mint
// ---------------------------------------------------------------------------------------

fn keygen(args: KeygenArgs) -> Result<u8, CliError> {
    let alg = Algorithm::from(args.alg);
    let kid = match args.kid {
        Some(kid) => kid,
        None => keys::default_kid(alg)?,
    };
    let written = keys::keygen(alg, &kid, &args.out, args.rsa_bits)?;
    if JSON.load(Ordering::Relaxed) {
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

fn mint(args: MintArgs) -> Result<u8, CliError> {
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
    if JSON.load(Ordering::Relaxed) {
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

// ---------------------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------------------

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

fn inspect(args: InspectArgs) -> Result<u8, CliError> {
    let token = token::read(&args.token)?;
    let decoded = Unverified::strict(&token).map_err(CliError::usage)?;
    let claims = decoded.claims.unwrap_or_default();
    let now = time::now();
    let times = times(&claims, now);
    if JSON.load(Ordering::Relaxed) {
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

// ---------------------------------------------------------------------------------------
// verify
// ---------------------------------------------------------------------------------------

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
            if let Some(why) = capture::last_fetch_error() {
                return Err(CliError::usage(format!("no keys from {url}: {why}")));
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

fn verify(args: VerifyArgs) -> Result<u8, CliError> {
    let token = token::read(&args.token)?;
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
        warn("--kid and --alg apply to --key only; the JWK Set names its own keys");
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
            return Ok(refused(error.kind().code(), &reason));
        }
    };

    let revocation = match &args.redis {
        None => None,
        Some(url) => {
            redis_url_warning(url);
            match runtime.block_on(check_revoked(url, &args.prefix, &verified))? {
                Ok(status) => Some(status),
                Err(reason) => return Ok(refused("token_revoked", &reason)),
            }
        }
    };
    print_valid(&args, &verified, revocation.as_deref());
    Ok(0)
}

/// Prints a refusal: the reason on stderr, and with `--json` a result on stdout.
fn refused(code: &str, reason: &str) -> u8 {
    if JSON.load(Ordering::Relaxed) {
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

fn print_valid(args: &VerifyArgs, verified: &VerifiedToken, revocation: Option<&str>) {
    let now = time::now();
    let exp = verified.registered().exp;
    let key = verified
        .key_id()
        .map_or_else(|| "the key".to_owned(), |kid| format!("key {}", quote(kid)));
    if args.iss.is_empty() {
        note("no --iss given: the issuer was not checked");
    }
    if args.aud.is_empty() {
        note("no --aud given: the audience was not checked");
    }
    if JSON.load(Ordering::Relaxed) {
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

// ---------------------------------------------------------------------------------------
// revoke, revocations
// ---------------------------------------------------------------------------------------

fn redis_url_warning(url: &str) {
    let from_env = std::env::var("TOLLGATE_REDIS_URL").is_ok_and(|v| v == url);
    if !from_env && redis::has_password(url) {
        warn(
            "the Redis URL holds a password and is on the command line, visible to other \
             local users and in shell history; set TOLLGATE_REDIS_URL instead",
        );
    }
}

/// The store `args` name, Redis or DynamoDB (not both).
enum Backend {
    Redis(tollgate_redis::RedisStore),
    DynamoDb(tollgate_dynamodb::DynamoDbStore),
}

impl Backend {
    fn connect(args: &RedisArgs, runtime: &tokio::runtime::Runtime) -> Result<Self, CliError> {
        match (&args.redis, &args.dynamodb_table) {
            (Some(_), Some(_)) => Err(CliError::usage(
                "both a Redis URL (--redis, TOLLGATE_REDIS_URL) and a DynamoDB table \
                 (--dynamodb-table, TOLLGATE_DYNAMODB_TABLE) are given: revocations are kept \
                 in one store, choose one",
            )),
            (Some(url), None) => {
                redis_url_warning(url);
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

fn revoke(args: RevokeArgs) -> Result<u8, CliError> {
    let issuer = args.iss.clone().unwrap_or_default();
    if args.iss.is_none() {
        warn("no --iss given: this applies only to tokens without an `iss` claim");
    }
    let now = time::now();
    let leeway = args.leeway.as_secs();
    let runtime = runtime()?;
    let backend = Backend::connect(&args.redis, &runtime)?;
    let store = backend.store();
    let json_mode = JSON.load(Ordering::Relaxed);
    if let (Some(jti), Some(exp)) = (&args.jti, args.exp) {
        let until = exp.saturating_add(leeway);
        if until <= now {
            let message = format!(
                "nothing stored: the token expired {}; even with {leeway} s leeway no \
                 service accepts it any more",
                time::when(exp, now)
            );
            if json_mode {
                print_json(
                    &json!({"revoked": null, "issuer": issuer, "jti": jti, "reason": message}),
                );
            } else {
                say!("{message}");
            }
            return Ok(0);
        }
        let subject = args.sub.as_deref();
        if subject.is_none() {
            warn(
                "no --sub given: this revokes the token only if it has no `sub` claim; for a \
                 token with one, pass it (Redis files a token's revocation under its subject)",
            );
        }
        runtime
            .block_on(store.revoke_token(&issuer, subject, jti, until))
            .map_err(|e| CliError::caused("revoking the token", &e))?;
        if json_mode {
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
    if json_mode {
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

fn revocations(args: RevocationsArgs) -> Result<u8, CliError> {
    let issuer = args.iss.clone().unwrap_or_default();
    let runtime = runtime()?;
    let found = match Backend::connect(&args.redis, &runtime)? {
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
    if JSON.load(Ordering::Relaxed) {
        print_json(&Value::Object(out));
    } else {
        for line in lines {
            say!("{line}");
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EXIT_ERROR;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn claims_parse_as_json_or_string() {
        assert_eq!(parse_claim("n=3").unwrap(), ("n".into(), json!(3)));
        assert_eq!(parse_claim("t=acme").unwrap(), ("t".into(), json!("acme")));
        assert_eq!(parse_claim("a=[1,2]").unwrap(), ("a".into(), json!([1, 2])));
        assert_eq!(parse_claim("e=").unwrap(), ("e".into(), json!("")));
        assert!(parse_claim("novalue").is_err());
        assert!(parse_claim("=x").is_err());
    }

    #[test]
    fn exit_codes_are_distinct() {
        assert_ne!(EXIT_REFUSED, EXIT_ERROR);
    }
}
