//! The `tollgate` binary, driven as a user drives it: real files, real processes, real
//! Redis (see `common`), a real HTTP server for a remote JWK Set.

mod common;

use common::{Run, redis, tollgate_in, unique_prefix};
use serde_json::Value;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use tempfile::TempDir;

const ISS: &str = "https://auth.example";
const AUD: &str = "orders";

fn dir() -> TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Runs `tollgate` in `dir` with an empty stdin.
fn run(dir: &Path, args: &[&str]) -> Run {
    tollgate_in(dir, args, "")
}

/// `keygen --alg ALG --kid KID` in `dir`; returns the file to mint with and the JWK Set
/// file to verify with.
fn keygen(dir: &Path, alg: &str, kid: &str) -> (String, String) {
    run(
        dir,
        &["keygen", "--alg", alg, "--kid", kid, "--out", "keys"],
    )
    .expect(0);
    if alg.starts_with("HS") {
        let secret = format!("keys/{kid}.secret.jwks.json");
        (secret.clone(), secret)
    } else {
        (
            format!("keys/{kid}.private.pem"),
            format!("keys/{kid}.jwks.json"),
        )
    }
}

fn mint(dir: &Path, key: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "mint", "--key", key, "--iss", ISS, "--aud", AUD, "--sub", "alice",
    ];
    args.extend_from_slice(extra);
    let token = run(dir, &args).expect(0).stdout;
    assert!(
        token.ends_with('\n') && token.matches('.').count() == 2,
        "{token}"
    );
    token.trim().to_owned()
}

/// `verify --jwks JWKS --iss ISS --aud AUD extra… -` with `token` on stdin.
fn verify(dir: &Path, jwks: &str, token: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "--jwks", jwks, "--iss", ISS, "--aud", AUD];
    args.extend_from_slice(extra);
    args.push("-");
    tollgate_in(dir, &args, token)
}

/// The token's claims, read by `inspect --json`.
fn claims(dir: &Path, token: &str) -> Value {
    tollgate_in(dir, &["inspect", "--json", "-"], token)
        .expect(0)
        .json()["claims"]
        .clone()
}

/// Changes the token's claims but keeps its signature.
fn tamper(token: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["roles"] = serde_json::json!(["superadmin"]);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[track_caller]
fn assert_one_line_without(run: &Run, token: &str) {
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr is not one line: {run:#?}");
    for part in token.split('.') {
        assert!(
            !run.stderr.contains(part),
            "stderr echoes the token: {run:#?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// keygen → mint → verify, every algorithm
// ---------------------------------------------------------------------------------------

fn round_trip(alg: &str) {
    let dir = dir();
    let kid = format!("{}-key", alg.to_lowercase());
    let (private, jwks) = keygen(dir.path(), alg, &kid);
    let token = mint(
        dir.path(),
        &private,
        &["--role", "admin", "--claim", "level=3"],
    );

    let valid = verify(dir.path(), &jwks, &token, &["--json"])
        .expect(0)
        .json();
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["algorithm"], alg);
    assert_eq!(valid["kid"], kid.as_str());
    assert_eq!(valid["claims"]["sub"], "alice");
    assert_eq!(valid["claims"]["roles"], serde_json::json!(["admin"]));
    assert_eq!(valid["claims"]["level"], 3);

    // Text output: a VALID line, then the claims.
    let text = verify(dir.path(), &jwks, &token, &[]).expect(0);
    assert!(
        text.stdout
            .starts_with("VALID: signature verified with key"),
        "{text:#?}"
    );
    assert!(text.stdout.contains("\"sub\": \"alice\""), "{text:#?}");

    // The single key files work too: the public PEM (kid from its file name) and, for
    // HMAC, the secret file.
    let key = if alg.starts_with("HS") {
        private.clone()
    } else {
        format!("keys/{kid}.public.pem")
    };
    let args = ["verify", "--key", &key, "--iss", ISS, "--aud", AUD, "-"];
    tollgate_in(dir.path(), &args, &token).expect(0);
}

#[test]
fn round_trip_rs256() {
    round_trip("RS256");
}

#[test]
fn round_trip_ps256() {
    round_trip("PS256");
}

#[test]
fn round_trip_es256() {
    round_trip("ES256");
}

#[test]
fn round_trip_es384() {
    round_trip("ES384");
}

#[test]
fn round_trip_eddsa() {
    round_trip("EdDSA");
}

#[test]
fn round_trip_hs256() {
    round_trip("HS256");
}

#[test]
fn round_trip_hs512() {
    round_trip("HS512");
}

/// `token`'s claims under `header`, signed by the Ed25519 key in the PEM file `private`: a
/// token as an issuer that signs RFC 9864's `Ed25519` makes it (tollgate signs `EdDSA`).
fn signed_by_ed25519(dir: &Path, private: &str, token: &str, header: &str) -> String {
    use aws_lc_rs::signature::Ed25519KeyPair;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let pem = pem::parse(std::fs::read(dir.join(private)).unwrap()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pem.contents()).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let message = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header));
    let signature = pair.sign(message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

#[test]
fn ed25519_tokens_verify_with_a_key_bound_to_ed25519() {
    let dir = dir();
    let (private, jwks) = keygen(dir.path(), "EdDSA", "k1");
    let eddsa = mint(dir.path(), &private, &[]);
    let ed25519 = signed_by_ed25519(
        dir.path(),
        &private,
        &eddsa,
        r#"{"alg":"Ed25519","kid":"k1"}"#,
    );
    let with_key = |key: &str, alg: &[&str], token: &str| {
        let mut args = vec!["verify", "--json", "--key", key, "--iss", ISS, "--aud", AUD];
        args.extend_from_slice(alg);
        args.push("-");
        tollgate_in(dir.path(), &args, token)
    };
    for key in ["keys/k1.public.pem", "keys/k1.private.pem"] {
        let valid = with_key(key, &["--alg", "Ed25519"], &ed25519)
            .expect(0)
            .json();
        assert_eq!(valid["algorithm"], "Ed25519", "{key}");
        assert_eq!(valid["kid"], "k1");
        // Bound to one of the two names, a key refuses tokens that say the other.
        for (alg, token) in [(&["--alg", "Ed25519"][..], &eddsa), (&[][..], &ed25519)] {
            let refused = with_key(key, alg, token).expect(1).json();
            assert_eq!(refused["code"], "algorithm_mismatch", "{key} {alg:?}");
        }
    }

    // A JWK Set whose key declares `Ed25519`, as such an issuer publishes it.
    let mut set: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(&jwks)).unwrap()).unwrap();
    set["keys"][0]["alg"] = "Ed25519".into();
    std::fs::write(dir.path().join("ed25519.jwks.json"), set.to_string()).unwrap();
    let valid = verify(dir.path(), "ed25519.jwks.json", &ed25519, &["--json"])
        .expect(0)
        .json();
    assert_eq!(valid["algorithm"], "Ed25519");
    verify(dir.path(), "ed25519.jwks.json", &eddsa, &[]).expect(1);
}

#[test]
fn keygen_and_mint_refuse_ed25519_which_tollgate_signs_as_eddsa() {
    let dir = dir();
    let args = ["keygen", "--alg", "Ed25519", "--kid", "k1", "--out", "keys"];
    let refused = run(dir.path(), &args).expect(2);
    assert!(refused.stderr.contains("pass --alg EdDSA"), "{refused:#?}");
    assert!(!dir.path().join("keys").exists());

    let (private, _) = keygen(dir.path(), "EdDSA", "k1");
    let args = [
        "mint", "--key", &private, "--iss", ISS, "--sub", "a", "--alg", "Ed25519",
    ];
    let refused = run(dir.path(), &args).expect(2);
    assert!(refused.stderr.contains("pass --alg EdDSA"), "{refused:#?}");
}

#[test]
fn keygen_protects_private_files_and_never_overwrites() {
    let dir = dir();
    let json = run(
        dir.path(),
        &[
            "keygen", "--alg", "ES256", "--kid", "k1", "--out", "keys", "--json",
        ],
    )
    .expect(0)
    .json();
    assert_eq!(json["kid"], "k1");
    assert_eq!(json["private_key"], "keys/k1.private.pem");
    let hs = run(
        dir.path(),
        &[
            "keygen", "--alg", "HS256", "--kid", "s1", "--out", "keys", "--json",
        ],
    )
    .expect(0)
    .json();
    assert_eq!(hs["secret"], "keys/s1.secret.jwks.json");
    assert!(
        hs.get("jwks").is_none() && hs.get("public_key").is_none(),
        "{hs}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |f: &str| {
            std::fs::metadata(dir.path().join("keys").join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("k1.private.pem"), 0o600);
        assert_eq!(mode("s1.secret.jwks.json"), 0o600);
        assert_eq!(mode("k1.public.pem"), 0o644);
        assert_eq!(mode("k1.jwks.json"), 0o644);
    }

    let before = std::fs::read(dir.path().join("keys/k1.private.pem")).unwrap();
    let again = run(
        dir.path(),
        &["keygen", "--alg", "EdDSA", "--kid", "k1", "--out", "keys"],
    )
    .expect(2);
    assert!(again.stderr.contains("already exists"), "{again:#?}");
    assert_eq!(
        std::fs::read(dir.path().join("keys/k1.private.pem")).unwrap(),
        before
    );

    // A default kid: the algorithm, the date and random bits.
    let auto = run(
        dir.path(),
        &["keygen", "--alg", "EdDSA", "--out", "keys", "--json"],
    )
    .expect(0)
    .json();
    assert!(
        auto["kid"].as_str().unwrap().starts_with("eddsa-"),
        "{auto}"
    );
}

#[test]
fn generated_keys_are_standard_pem() {
    // Another reader than tollgate's: PKCS#8 and SPKI as every tool expects them.
    let dir = dir();
    keygen(dir.path(), "ES256", "k1");
    let private = std::fs::read_to_string(dir.path().join("keys/k1.private.pem")).unwrap();
    let public = std::fs::read_to_string(dir.path().join("keys/k1.public.pem")).unwrap();
    assert!(
        private.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{private}"
    );
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "{public}"
    );
    assert!(!private.contains('\r'));
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("keys/k1.jwks.json")).unwrap(),
    )
    .unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kid"], "k1");
    assert_eq!(jwk["alg"], "ES256");
    assert!(
        jwk.get("d").is_none(),
        "the published JWK has no private member: {jwk}"
    );
}

// ---------------------------------------------------------------------------------------
// why a token is refused
// ---------------------------------------------------------------------------------------

#[test]
fn a_tampered_token_has_an_invalid_signature() {
    let dir = dir();
    let (private, jwks) = keygen(dir.path(), "EdDSA", "k1");
    let token = tamper(&mint(dir.path(), &private, &[]));
    let refused = verify(dir.path(), &jwks, &token, &[]).expect(1);
    assert_eq!(
        refused.stderr.trim(),
        "invalid token: invalid signature: it does not verify with key 'k1' (EdDSA); the \
         token was altered, or signed by another key"
    );
    assert_eq!(refused.stdout, "");
    assert_one_line_without(&refused, &token);

    let json = verify(dir.path(), &jwks, &token, &["--json"])
        .expect(1)
        .json();
    assert_eq!(json["valid"], false);
    assert_eq!(json["code"], "signature_invalid");
}

#[test]
fn an_expired_token_says_how_long_ago() {
    let dir = dir();
    let (private, jwks) = keygen(dir.path(), "ES256", "k1");
    let token = mint(dir.path(), &private, &["--ttl", "1s"]);
    let exp = claims(dir.path(), &token)["exp"].as_u64().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let refused = verify(dir.path(), &jwks, &token, &["--leeway", "0"]).expect(1);
    let stamp = tollgate_time(exp);
    let reason = refused.stderr.trim();
    assert!(
        reason.starts_with("invalid token: expired ")
            && reason.ends_with(&format!(" s ago (exp={stamp}, leeway 0 s)")),
        "{refused:#?}"
    );
    assert_one_line_without(&refused, &token);
    // Within the default 60 s leeway it is still valid, as a service would say.
    verify(dir.path(), &jwks, &token, &[]).expect(0);
}

/// `secs` as RFC 3339, as the CLI shows it.
fn tollgate_time(secs: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(time).to_string()
}

#[test]
fn an_unknown_kid_lists_the_keys_there_are() {
    let dir = dir();
    let (private, _) = keygen(dir.path(), "EdDSA", "old-key");
    let (_, jwks) = keygen(dir.path(), "EdDSA", "new-key");
    let token = mint(dir.path(), &private, &[]);
    let refused = verify(dir.path(), &jwks, &token, &[]).expect(1);
    assert_eq!(
        refused.stderr.trim(),
        "invalid token: kid 'old-key' not in the key set (have: new-key)"
    );
}

#[test]
fn a_wrong_audience_or_issuer_shows_both_sides() {
    let dir = dir();
    let (private, jwks) = keygen(dir.path(), "ES256", "k1");
    let token = mint(dir.path(), &private, &[]);
    let args = [
        "verify", "--jwks", &jwks, "--iss", ISS, "--aud", "billing", "-",
    ];
    let refused = tollgate_in(dir.path(), &args, &token).expect(1);
    assert_eq!(
        refused.stderr.trim(),
        "invalid token: wrong audience: token has [\"orders\"], expected \"billing\""
    );
    let args = [
        "verify",
        "--jwks",
        &jwks,
        "--iss",
        "https://other.example",
        "-",
    ];
    let refused = tollgate_in(dir.path(), &args, &token).expect(1);
    assert_eq!(
        refused.stderr.trim(),
        "invalid token: wrong issuer: token has \"https://auth.example\", expected \
         \"https://other.example\""
    );
}

#[test]
fn garbage_is_refused_in_words() {
    let dir = dir();
    let (_, jwks) = keygen(dir.path(), "EdDSA", "k1");
    let refused = verify(dir.path(), &jwks, "not-a-token", &[]).expect(1);
    assert_eq!(
        refused.stderr.trim(),
        "invalid token: not a JWT: expected three base64url parts separated by dots, found 1"
    );
}

#[test]
fn without_iss_or_aud_a_note_says_they_were_not_checked() {
    let dir = dir();
    let (private, jwks) = keygen(dir.path(), "EdDSA", "k1");
    let token = mint(dir.path(), &private, &[]);
    let valid = tollgate_in(dir.path(), &["verify", "--jwks", &jwks, "-"], &token).expect(0);
    assert!(valid.stderr.contains("note: no --iss given"), "{valid:#?}");
    assert!(valid.stderr.contains("note: no --aud given"), "{valid:#?}");
}

// ---------------------------------------------------------------------------------------
// inspect, arguments, errors
// ---------------------------------------------------------------------------------------

#[test]
fn inspect_is_marked_unverified() {
    let dir = dir();
    let (private, _) = keygen(dir.path(), "EdDSA", "k1");
    let token = tamper(&mint(dir.path(), &private, &["--ttl", "10m"]));
    let shown = tollgate_in(dir.path(), &["inspect", "-"], &token).expect(0);
    assert!(shown.stdout.starts_with("UNVERIFIED: "), "{shown:#?}");
    assert!(shown.stdout.contains("\"superadmin\""), "{shown:#?}");
    assert!(shown.stdout.contains("\"kid\": \"k1\""), "{shown:#?}");
    let exp_line = shown
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("exp "))
        .expect("an exp line");
    assert!(
        exp_line.ends_with("expires in 9 min") || exp_line.ends_with("expires in 10 min"),
        "{exp_line}"
    );
    assert_eq!(shown.stderr, "", "stdin: no warning");

    let json = tollgate_in(dir.path(), &["inspect", "--json", "-"], &token)
        .expect(0)
        .json();
    assert_eq!(json["verified"], false);
    assert_eq!(json["header"]["alg"], "EdDSA");
    assert_eq!(json["claims"]["sub"], "alice");
    assert!(
        json["times"]["exp"]["relative"]
            .as_str()
            .unwrap()
            .starts_with("expires in ")
    );
}

#[test]
fn a_token_as_an_argument_works_with_a_warning() {
    let dir = dir();
    let (private, _) = keygen(dir.path(), "EdDSA", "k1");
    let token = mint(dir.path(), &private, &[]);
    let shown = run(dir.path(), &["inspect", &token]).expect(0);
    assert!(shown.stdout.starts_with("UNVERIFIED: "));
    assert!(
        shown
            .stderr
            .starts_with("warning: a token on the command line is visible"),
        "{shown:#?}"
    );
    // A pasted `Bearer …` header value is accepted on stdin.
    tollgate_in(dir.path(), &["inspect", "-"], &format!("Bearer {token}\n")).expect(0);
}

#[test]
fn errors_are_one_line_with_exit_2() {
    let dir = dir();
    let token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln";
    let missing = tollgate_in(dir.path(), &["verify", "--key", "nope.pem", "-"], token).expect(2);
    assert_one_line_without(&missing, token);
    assert!(
        missing.stderr.starts_with("error: cannot read nope.pem: "),
        "{missing:#?}"
    );

    let json = tollgate_in(
        dir.path(),
        &["--json", "verify", "--key", "nope.pem", "-"],
        token,
    )
    .expect(2);
    let error: Value = serde_json::from_str(json.stderr.trim()).expect("a JSON error");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot read nope.pem")
    );

    // A public key cannot sign.
    let (_, _) = keygen(dir.path(), "ES256", "k1");
    let args = [
        "mint",
        "--key",
        "keys/k1.public.pem",
        "--iss",
        ISS,
        "--sub",
        "a",
    ];
    let public = run(dir.path(), &args).expect(2);
    assert!(public.stderr.contains("holds a public key"), "{public:#?}");

    // Claims the signer sets are refused.
    let args = [
        "mint",
        "--key",
        "keys/k1.private.pem",
        "--iss",
        ISS,
        "--sub",
        "a",
    ];
    let mut reserved = args.to_vec();
    reserved.extend(["--claim", "exp=1"]);
    let reserved = run(dir.path(), &reserved).expect(2);
    assert!(
        reserved.stderr.contains("`exp` is set by the signer"),
        "{reserved:#?}"
    );

    // A lifetime reaching past the year 9999 is an error in words, not a wrapped `exp`.
    for ttl in ["18446744073709551615", "99999999999d"] {
        let mut huge = args.to_vec();
        huge.extend(["--ttl", ttl]);
        let huge = run(dir.path(), &huge).expect(2);
        assert!(huge.stderr.contains("year 9999"), "{ttl}: {huge:#?}");
        assert!(!huge.stderr.contains("panicked"), "{ttl}: {huge:#?}");
    }

    // Usage errors are clap's, with exit 2.
    run(dir.path(), &["verify", "-"]).expect(2);
}

#[test]
fn minted_tokens_are_access_tokens_by_default() {
    let dir = dir();
    let (key, _) = keygen(dir.path(), "EdDSA", "k1");
    let token = mint(dir.path(), &key, &[]);
    let shown = tollgate_in(dir.path(), &["--json", "inspect", "-"], &token).expect(0);
    let shown: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["header"]["typ"], "at+jwt");
}

#[test]
fn mint_takes_roles_scopes_claims_and_ttl() {
    let dir = dir();
    let (private, _) = keygen(dir.path(), "EdDSA", "k1");
    let minted = run(
        dir.path(),
        &[
            "mint",
            "--json",
            "--key",
            &private,
            "--iss",
            ISS,
            "--sub",
            "bob",
            "--aud",
            "a1",
            "--aud",
            "a2",
            "--role",
            "admin",
            "--role",
            "ops",
            "--scope",
            "read write",
            "--scope",
            "admin",
            "--ttl",
            "1h",
            "--claim",
            "tenant=acme",
            "--claim",
            "tags=[\"x\",\"y\"]",
            "--typ",
            "at+jwt",
        ],
    )
    .expect(0)
    .json();
    assert_eq!(minted["expires_in"], 3600);
    assert_eq!(minted["kid"], "k1");
    let token = minted["token"].as_str().unwrap();
    let shown = tollgate_in(dir.path(), &["inspect", "--json", "-"], token)
        .expect(0)
        .json();
    let claims = &shown["claims"];
    assert_eq!(claims["aud"], serde_json::json!(["a1", "a2"]));
    assert_eq!(claims["roles"], serde_json::json!(["admin", "ops"]));
    assert_eq!(claims["scope"], "read write admin");
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["tags"], serde_json::json!(["x", "y"]));
    assert_eq!(claims["jti"], minted["jti"]);
    assert_eq!(shown["header"]["typ"], "at+jwt");
}

#[test]
fn help_reads_well() {
    let dir = dir();
    let help = run(dir.path(), &["--help"]).expect(0).stdout;
    for needle in [
        "Examples:",
        "Exit status:",
        "keygen",
        "revocations",
        "--json",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    for command in [
        "keygen",
        "mint",
        "inspect",
        "verify",
        "revoke",
        "revocations",
    ] {
        let help = run(dir.path(), &[command, "--help"]).expect(0).stdout;
        assert!(
            help.contains("Examples:"),
            "{command} --help has no examples:\n{help}"
        );
        assert!(help.contains(&format!("tollgate {command}")), "{help}");
    }
}

// ---------------------------------------------------------------------------------------
// a remote JWK Set
// ---------------------------------------------------------------------------------------

/// Serves `body` at `/jwks.json` (404 elsewhere) on a loopback port, for `requests`
/// requests at most; returns the base URL.
fn serve_jwks(body: String, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let (status, body) = if request_line.starts_with("GET /jwks.json ") {
                ("200 OK", body.as_str())
            } else {
                ("404 Not Found", "")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn verify_fetches_a_jwks_url_as_a_service_does() {
    let dir = dir();
    let (private, jwks) = keygen(dir.path(), "ES256", "k1");
    let token = mint(dir.path(), &private, &[]);
    let body = std::fs::read_to_string(dir.path().join(&jwks)).unwrap();
    let base = serve_jwks(body, 8);
    verify(dir.path(), &format!("{base}/jwks.json"), &token, &[]).expect(0);
    let missing = verify(dir.path(), &format!("{base}/missing.json"), &token, &[]).expect(2);
    assert_eq!(
        missing.stderr.trim(),
        format!(
            "error: no keys from {base}/missing.json: JWK Set fetch failed: server answered 404"
        )
    );
}

// ---------------------------------------------------------------------------------------
// revocation, with Redis
// ---------------------------------------------------------------------------------------

#[test]
fn revoking_a_subject_makes_verify_refuse_its_tokens() {
    let redis = redis();
    let prefix = unique_prefix("cli-revoke-subject");
    let dir = dir();
    let (private, jwks) = keygen(dir.path(), "EdDSA", "k1");
    let token = mint(dir.path(), &private, &[]);
    let with_redis = ["--redis", redis.url.as_str(), "--prefix", prefix.as_str()];

    let valid = verify(dir.path(), &jwks, &token, &with_redis).expect(0);
    assert!(
        valid.stdout.contains("revocation: not revoked"),
        "{valid:#?}"
    );

    // Minted this very second: the default cut-off still covers it.
    let mut revoke = vec!["revoke", "--iss", ISS, "--sub", "alice"];
    revoke.extend_from_slice(&with_redis);
    let revoked = run(dir.path(), &revoke).expect(0);
    assert!(
        revoked
            .stdout
            .starts_with("revoked every token of subject 'alice'"),
        "{revoked:#?}"
    );

    let refused = verify(dir.path(), &jwks, &token, &with_redis).expect(1);
    assert!(
        refused.stderr.starts_with(
            "invalid token: revoked: every token of subject 'alice' (issuer \
             \"https://auth.example\") issued before "
        ),
        "{refused:#?}"
    );
    assert_one_line_without(&refused, &token);
    let json = verify(
        dir.path(),
        &jwks,
        &token,
        &[&with_redis[..], &["--json"]].concat(),
    )
    .expect(1)
    .json();
    assert_eq!(json["code"], "token_revoked");

    let mut show = vec!["revocations", "--json", "--iss", ISS, "--sub", "alice"];
    show.extend_from_slice(&with_redis);
    let shown = run(dir.path(), &show).expect(0).json();
    let iat = claims(dir.path(), &token)["iat"].as_u64().unwrap();
    let cutoff = shown["subject"]["revoked_before"].as_u64().unwrap();
    assert!(cutoff > iat, "{shown}");
    assert!(shown["subject"]["kept_until"].as_u64().unwrap() > cutoff + 86_000);

    // Another issuer's subject of the same name is untouched.
    let mut other = vec![
        "revocations",
        "--iss",
        "https://other.example",
        "--sub",
        "alice",
    ];
    other.extend_from_slice(&with_redis);
    let other = run(dir.path(), &other).expect(0);
    assert!(other.stdout.ends_with("no revocation\n"), "{other:#?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_token_revoked_by_jti_is_refused_by_the_library_store() {
    use tollgate::revocation::{RevocationStore as _, Status, TokenRef};
    let redis = redis();
    let prefix = unique_prefix("cli-revoke-jti");
    let dir = dir();
    let (private, jwks) = keygen(dir.path(), "ES256", "k1");
    let token = mint(dir.path(), &private, &[]);
    let claims = claims(dir.path(), &token);
    let jti = claims["jti"].as_str().unwrap().to_owned();
    let sub = claims["sub"].as_str().unwrap().to_owned();
    let exp = claims["exp"].as_u64().unwrap().to_string();
    let with_redis = ["--redis", redis.url.as_str(), "--prefix", prefix.as_str()];

    // Without the token's subject the revocation would be filed where a token without
    // `sub` is looked up, and this token would stay accepted: refused, exit 2.
    let mut unfiled = vec!["revoke", "--iss", ISS, "--jti", &jti, "--exp", &exp];
    unfiled.extend_from_slice(&with_redis);
    let refused = run(dir.path(), &unfiled).expect(2);
    assert!(refused.stderr.contains("--no-sub"), "{refused:#?}");

    let mut revoke = vec![
        "revoke", "--json", "--iss", ISS, "--jti", &jti, "--exp", &exp, "--sub", &sub,
    ];
    revoke.extend_from_slice(&with_redis);
    let revoked = run(dir.path(), &revoke).expect(0).json();
    assert_eq!(revoked["revoked"], "token");
    assert_eq!(
        revoked["until"].as_u64().unwrap(),
        exp.parse::<u64>().unwrap() + 60,
        "kept through the leeway"
    );

    // A service's verifier and store, in this process.
    let jwks_text = std::fs::read_to_string(dir.path().join(&jwks)).unwrap();
    let verifier = tollgate::Verifier::builder()
        .keys(tollgate::KeySet::from_jwks(&jwks_text).unwrap())
        .issuer(ISS)
        .audience(AUD)
        .build()
        .unwrap();
    let verified = verifier.verify(&token).unwrap();
    let store = tollgate_redis::RedisStore::builder(redis.url.as_str())
        .key_prefix(prefix.as_str())
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}; {}", common::HOW_TO_GET_REDIS));
    let status = store.check(&TokenRef::new(&verified)).await.unwrap();
    assert_eq!(status, Status::TokenRevoked);

    // And the CLI says so too, in both places.
    let refused = verify(dir.path(), &jwks, &token, &with_redis).expect(1);
    assert_eq!(
        refused.stderr.trim(),
        format!(
            "invalid token: revoked: this token (jti '{jti}', issuer \"https://auth.example\") \
             was revoked"
        )
    );
    let mut show = vec!["revocations", "--iss", ISS, "--jti", &jti, "--sub", &sub];
    show.extend_from_slice(&with_redis);
    let shown = run(dir.path(), &show).expect(0);
    assert!(
        shown.stdout.contains(": revoked; kept until "),
        "{shown:#?}"
    );
}

#[test]
fn redis_out_of_reach_is_one_line_and_hides_the_password() {
    let dir = dir();
    let port = common::free_port();
    let url = format!("redis://:hunter2-secret@127.0.0.1:{port}/");
    let failed = run(
        dir.path(),
        &["revoke", "--redis", &url, "--iss", ISS, "--sub", "a"],
    )
    .expect(2);
    let lines: Vec<&str> = failed.stderr.lines().collect();
    assert!(
        lines[0].starts_with("warning: the Redis URL holds a password"),
        "{failed:#?}"
    );
    let error = lines.last().unwrap();
    assert!(
        error.starts_with(&format!("error: Redis at 127.0.0.1:{port}/0: ")),
        "{failed:#?}"
    );
    assert!(!failed.stderr.contains("hunter2-secret"), "{failed:#?}");
}
