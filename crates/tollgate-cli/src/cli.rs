//! The command line: clap's definitions of the commands and their arguments, and the help
//! texts. What each command does is in [`crate::commands`].

use crate::time;
use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use tollgate::Algorithm;

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
pub(crate) struct Cli {
    /// Print JSON for scripts instead of text (errors too, on stderr)
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
pub(crate) enum DynamodbCommand {
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
pub(crate) enum Alg {
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
  --jti J --exp T     one token, by its jti, with --sub S (its subject) or --no-sub
                      (a token without one);
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
pub(crate) struct KeygenArgs {
    /// Signing algorithm of the key
    #[arg(long, value_enum, ignore_case = true)]
    pub(crate) alg: Alg,
    /// Key id (`kid`), also used in the file names [default: ALG-DATE-RANDOM]
    #[arg(long)]
    pub(crate) kid: Option<String>,
    /// Directory to write the files into (created if missing)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) out: PathBuf,
    /// RSA modulus size in bits (RS*/PS* only)
    #[arg(long, value_name = "BITS", default_value_t = 2048,
          value_parser = clap::builder::PossibleValuesParser::new(["2048", "3072", "4096"])
              .map(|s| s.parse::<u32>().unwrap_or(2048)))]
    pub(crate) rsa_bits: u32,
}

#[derive(Debug, Args)]
pub(crate) struct MintArgs {
    /// Private key file: a PEM from `keygen`, or an HMAC secret as JWK (Set)
    #[arg(long, value_name = "FILE", env = "TOLLGATE_SIGNING_KEY_FILE")]
    pub(crate) key: PathBuf,
    /// Subject (`sub`): whom the token is about
    #[arg(long, value_name = "SUBJECT")]
    pub(crate) sub: String,
    /// Issuer (`iss`), exactly as the services expect it
    #[arg(long, value_name = "ISSUER", env = "TOLLGATE_ISSUER")]
    pub(crate) iss: String,
    /// Audience (`aud`); repeat for several
    #[arg(long, value_name = "AUDIENCE")]
    pub(crate) aud: Vec<String>,
    /// A role, written to the roles claim; repeat for several
    #[arg(long, value_name = "ROLE")]
    pub(crate) role: Vec<String>,
    /// Scopes, space-separated or repeated; written to `scope`
    #[arg(long, value_name = "SCOPE")]
    pub(crate) scope: Vec<String>,
    /// Lifetime: 30s, 15m, 1h, 2d
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = time::parse_duration)]
    pub(crate) ttl: Duration,
    /// A custom claim, NAME=VALUE (VALUE read as JSON if it parses); repeat for several
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_claim)]
    pub(crate) claim: Vec<(String, Value)>,
    /// Key id for the header [default: from a KID.private.pem file name, or the JWK]
    #[arg(long)]
    pub(crate) kid: Option<String>,
    /// Algorithm [default: from the key; for RSA, from KID.jwks.json beside it, else RS256]
    #[arg(long, value_enum, ignore_case = true)]
    pub(crate) alg: Option<Alg>,
    /// Header `typ`: at+jwt marks an RFC 9068 access token (JWT for a verifier that wants it)
    #[arg(long, default_value = "at+jwt")]
    pub(crate) typ: String,
    /// Claim the roles are written to
    #[arg(long, value_name = "NAME", default_value = "roles")]
    pub(crate) roles_claim: String,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The token, or - to read it from stdin (preferred: arguments are visible to others)
    #[arg(value_name = "TOKEN|-")]
    pub(crate) token: String,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("keys").required(true).args(["jwks", "key"])))]
pub(crate) struct VerifyArgs {
    /// The token, or - to read it from stdin (preferred: arguments are visible to others)
    #[arg(value_name = "TOKEN|-")]
    pub(crate) token: String,
    /// JWK Set: a file, or an http(s) URL
    #[arg(long, value_name = "URL|FILE")]
    pub(crate) jwks: Option<String>,
    /// One key file: public or private key PEM, JWK, or raw HMAC secret (with --alg)
    #[arg(long, value_name = "FILE")]
    pub(crate) key: Option<PathBuf>,
    /// Accepted issuer (`iss`); repeat for several [default: not checked]
    #[arg(long, value_name = "ISSUER", env = "TOLLGATE_ISSUER")]
    pub(crate) iss: Vec<String>,
    /// Accepted audience (`aud`); repeat for several [default: not checked]
    #[arg(long, value_name = "AUDIENCE")]
    pub(crate) aud: Vec<String>,
    /// Clock-skew allowance for exp and nbf
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = time::parse_duration)]
    pub(crate) leeway: Duration,
    /// Required header `typ` (e.g. at+jwt) [default: not checked]
    #[arg(long)]
    pub(crate) typ: Option<String>,
    /// Key id of a --key PEM [default: from a KID.public.pem / KID.private.pem file name]
    #[arg(long)]
    pub(crate) kid: Option<String>,
    /// Algorithm of a --key RSA PEM [default: from KID.jwks.json beside it, else RS256], of
    /// a raw HMAC secret, or of an Ed25519 PEM [default: EdDSA]
    #[arg(long, value_enum, ignore_case = true)]
    pub(crate) alg: Option<Alg>,
    /// Also check revocation in this Redis (prefer TOLLGATE_REDIS_URL: it may hold a password)
    #[arg(
        long,
        value_name = "URL",
        env = "TOLLGATE_REDIS_URL",
        hide_env_values = true
    )]
    pub(crate) redis: Option<String>,
    /// Key prefix of the revocation store
    #[arg(long, env = "TOLLGATE_REDIS_KEY_PREFIX", default_value = tollgate_redis::DEFAULT_KEY_PREFIX)]
    pub(crate) prefix: String,
}

/// Where revocations are: Redis (`--redis`) or a DynamoDB table (`--dynamodb-table`).
#[derive(Debug, Args)]
pub(crate) struct RedisArgs {
    /// Redis URL, e.g. redis://127.0.0.1:6379/ (prefer TOLLGATE_REDIS_URL: it may hold a password)
    #[arg(
        long,
        value_name = "URL",
        env = "TOLLGATE_REDIS_URL",
        hide_env_values = true,
        required_unless_present = "dynamodb_table"
    )]
    pub(crate) redis: Option<String>,
    /// DynamoDB table instead of Redis (region, credentials and endpoint from the standard
    /// AWS variables)
    #[arg(long, value_name = "NAME", env = "TOLLGATE_DYNAMODB_TABLE")]
    pub(crate) dynamodb_table: Option<String>,
    /// Key prefix of the revocation store, as the services configure it
    #[arg(long, env = "TOLLGATE_REDIS_KEY_PREFIX", default_value = tollgate_redis::DEFAULT_KEY_PREFIX)]
    pub(crate) prefix: String,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    pub(crate) redis: RedisArgs,
    /// Issuer (`iss`) of the tokens [default: tokens without iss]
    #[arg(long, value_name = "ISSUER", env = "TOLLGATE_ISSUER")]
    pub(crate) iss: Option<String>,
    /// Revoke the one token with this `jti` (for a token without one: the `revocation_id`
    /// that `tollgate verify --json` shows); pass its `sub` with --sub
    #[arg(long, required_unless_present = "sub", requires = "exp")]
    pub(crate) jti: Option<String>,
    /// The token's `exp` (time), so the revocation lasts as long as the token
    #[arg(long, value_name = "TIME", requires = "jti", value_parser = time::parse_time)]
    pub(crate) exp: Option<u64>,
    /// Revoke every token of this subject (`sub`) issued before --before; with --jti: the
    /// subject of that one token (Redis files a token's revocation under its subject)
    #[arg(long, value_name = "SUBJECT")]
    pub(crate) sub: Option<String>,
    /// With --jti: the token has no `sub` claim (instead of --sub)
    #[arg(long, requires = "jti", conflicts_with = "sub")]
    pub(crate) no_sub: bool,
    /// Cut-off time: tokens issued before it are refused [default: every token issued so
    /// far, this second included]
    #[arg(long, value_name = "TIME", requires = "sub", conflicts_with = "jti", value_parser = time::parse_time)]
    pub(crate) before: Option<u64>,
    /// Longest lifetime of the issuer's tokens: how long a subject's cut-off is kept
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = time::parse_duration)]
    pub(crate) max_lifetime: Duration,
    /// The services' clock-skew allowance: revocations are kept this much longer
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = time::parse_duration)]
    pub(crate) leeway: Duration,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["sub", "jti"])))]
pub(crate) struct RevocationsArgs {
    #[command(flatten)]
    pub(crate) redis: RedisArgs,
    /// Issuer (`iss`) of the tokens [default: tokens without iss]
    #[arg(long, value_name = "ISSUER", env = "TOLLGATE_ISSUER")]
    pub(crate) iss: Option<String>,
    /// Show the cut-off of this subject
    #[arg(long, value_name = "SUBJECT")]
    pub(crate) sub: Option<String>,
    /// Show whether the token with this `jti` (of subject --sub, if it has one) is revoked
    #[arg(long)]
    pub(crate) jti: Option<String>,
}

/// A `--claim NAME=VALUE`: VALUE as JSON when it parses, else as a string.
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;
    use serde_json::json;

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
}
