//! Key files: generating them (`keygen`) and loading them (`mint --key`, `verify --key`).
//!
//! Generation uses aws-lc-rs; PEM armour comes from the `pem` crate; the keys are then
//! loaded through tollgate's own [`SigningKey`] / [`Key`], so a file `keygen` writes is one
//! that `mint` and a service accept.
//!
//! File names written by `keygen`, for a key id `KID`:
//!
//! | file | what | mode |
//! |---|---|---|
//! | `KID.private.pem` | PKCS#8 private key | 0600 |
//! | `KID.public.pem` | SubjectPublicKeyInfo public key | 0644 |
//! | `KID.jwks.json` | JWK Set with the public key, to publish | 0644 |
//! | `KID.secret.jwks.json` | HMAC only: JWK Set with the `oct` secret, never to publish | 0600 |
//!
//! When `--kid` is not given, `mint` and `verify` take the key id from such a file name.
//! An RSA key signs several algorithms (RS256 … PS512); without `--alg`, the one in the
//! `KID.jwks.json` beside the key file is used, else RS256.

use crate::error::CliError;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED,
    ECDSA_P384_SHA384_FIXED_SIGNING, ED25519, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
    ParsedPublicKey, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use tollgate::{Algorithm, Key, KeySet, SigningKey};

/// Largest key file read: far above any real key.
const MAX_KEY_FILE: u64 = 1024 * 1024;

/// Suffix of a private key file written by `keygen`.
pub(crate) const PRIVATE_SUFFIX: &str = ".private.pem";
/// Suffix of a public key file written by `keygen`.
pub(crate) const PUBLIC_SUFFIX: &str = ".public.pem";
/// Suffix of the public JWK Set written by `keygen`.
pub(crate) const JWKS_SUFFIX: &str = ".jwks.json";
/// Suffix of an HMAC secret (as a JWK Set) written by `keygen`.
pub(crate) const SECRET_SUFFIX: &str = ".secret.jwks.json";

/// The families of asymmetric keys tollgate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Rsa => "RSA",
            Kind::P256 => "EC P-256",
            Kind::P384 => "EC P-384",
            Kind::Ed25519 => "Ed25519",
        }
    }

    /// The algorithm for a key of this kind: `given` if it fits, else the kind's own.
    fn algorithm(self, given: Option<Algorithm>) -> Result<Algorithm, CliError> {
        use Algorithm::*;
        let (default, fits): (Algorithm, &[Algorithm]) = match self {
            Kind::Rsa => (RS256, &[RS256, RS384, RS512, PS256, PS384, PS512]),
            Kind::P256 => (ES256, &[ES256]),
            Kind::P384 => (ES384, &[ES384]),
            Kind::Ed25519 => (EdDSA, &[EdDSA, Ed25519]),
        };
        match given {
            None => Ok(default),
            Some(alg) if fits.contains(&alg) => Ok(alg),
            Some(alg) => Err(CliError::usage(format!(
                "--alg {alg:?} does not fit an {} key (it signs {})",
                self.name(),
                fits.iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// Why `--alg Ed25519` cannot sign: jsonwebtoken's header cannot name it.
fn signs_as_eddsa() -> CliError {
    CliError::usage(
        "--alg Ed25519 only verifies: tollgate signs Ed25519 keys as EdDSA (pass --alg EdDSA)",
    )
}

/// An Ed25519 key bound to `Ed25519` (RFC 9864) instead of `EdDSA`. tollgate binds an
/// Ed25519 PEM to `EdDSA` (a PEM names no algorithm), so the key goes through a JWK that
/// declares `Ed25519`.
fn ed25519_bound_key(mut jwk: Value) -> Result<Key, tollgate::ConfigError> {
    jwk["alg"] = json!(Algorithm::Ed25519);
    Key::from_jwk(&jwk.to_string(), None)
}

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// Length of a generated HMAC secret: the hash output, the minimum RFC 7518 §3.2 allows.
fn hmac_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

// ---------------------------------------------------------------------------------------
// keygen
// ---------------------------------------------------------------------------------------

/// One file `keygen` wrote.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) path: PathBuf,
    /// `private_key`, `public_key`, `jwks` or `secret`.
    pub(crate) role: &'static str,
}

/// Whether `kid` can be a file name and a `kid`: 1 to 64 of `A-Z a-z 0-9 . _ -`, not
/// starting with `.` or `-`.
pub(crate) fn check_kid_for_files(kid: &str) -> Result<(), CliError> {
    let ok = (1..=64).contains(&kid.len())
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !kid.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "--kid {:?} cannot name key files: use 1 to 64 of A-Z a-z 0-9 . _ - \
             (not starting with . or -)",
            kid
        )))
    }
}

/// A fresh key id: the algorithm, today's date and 24 random bits, e.g.
/// `es256-20250131-3fa1c2`.
pub(crate) fn default_kid(alg: Algorithm) -> Result<String, CliError> {
    let mut random = [0u8; 3];
    aws_lc_rs::rand::fill(&mut random)
        .map_err(|_| CliError::usage("the system random source failed"))?;
    let date: String = crate::time::utc(crate::time::now())
        .chars()
        .take(10)
        .filter(|c| *c != '-')
        .collect();
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{date}-{hex}",
        format!("{alg:?}").to_ascii_lowercase()
    ))
}

fn pem_text(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn crypto_failed(_: impl std::fmt::Debug) -> CliError {
    CliError::usage("key generation failed in the crypto library")
}

/// Generates a key for `alg` and writes its files into `dir` (created if missing). No file
/// is overwritten; on any failure the files written so far are removed.
pub(crate) fn keygen(
    alg: Algorithm,
    kid: &str,
    dir: &Path,
    rsa_bits: u32,
) -> Result<Vec<Written>, CliError> {
    check_kid_for_files(kid)?;
    if alg == Algorithm::Ed25519 {
        return Err(signs_as_eddsa());
    }
    let mut files: Vec<(PathBuf, &'static str, String, bool)> = Vec::new();
    if is_hmac(alg) {
        let mut secret = vec![0u8; hmac_len(alg)];
        aws_lc_rs::rand::fill(&mut secret).map_err(crypto_failed)?;
        let jwks = json!({"keys": [{
            "kty": "oct",
            "kid": kid,
            "alg": format!("{alg:?}"),
            "use": "sig",
            "k": URL_SAFE_NO_PAD.encode(&secret),
        }]});
        secret.fill(0);
        let text = pretty(&jwks);
        // Load it back the way `mint` and `verify` will.
        signing_key_from_json(&text, Path::new("the generated secret"), None, None)?;
        KeySet::from_jwks(&text).map_err(|e| CliError::caused("the generated secret", &e))?;
        files.push((
            dir.join(format!("{kid}{SECRET_SUFFIX}")),
            "secret",
            text,
            true,
        ));
    } else {
        let (private_der, public_der) = generate_pair(alg, rsa_bits)?;
        let private_pem = pem_text("PRIVATE KEY", &private_der);
        let public_pem = pem_text("PUBLIC KEY", &public_der);
        let signing = signing_key_from_pem(
            private_pem.as_bytes(),
            Path::new("the generated key"),
            Some(kid),
            Some(alg),
        )?;
        let jwk = signing
            .public_jwk()
            .ok_or_else(|| CliError::usage("the generated key has no public JWK"))?;
        let jwks = pretty(&json!({ "keys": [jwk] }));
        files.push((
            dir.join(format!("{kid}{PRIVATE_SUFFIX}")),
            "private_key",
            private_pem,
            true,
        ));
        files.push((
            dir.join(format!("{kid}{PUBLIC_SUFFIX}")),
            "public_key",
            public_pem,
            false,
        ));
        files.push((dir.join(format!("{kid}{JWKS_SUFFIX}")), "jwks", jwks, false));
    }

    for (path, _, _, _) in &files {
        if path.exists() {
            return Err(CliError::usage(format!(
                "{} already exists; choose another --kid or --out (nothing was written)",
                path.display()
            )));
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::caused(format!("cannot create {}", dir.display()), &e))?;
    let mut written: Vec<Written> = Vec::new();
    for (path, role, text, secret) in files {
        if let Err(e) = write_new(&path, text.as_bytes(), secret) {
            for done in &written {
                let _ = std::fs::remove_file(&done.path);
            }
            return Err(CliError::caused(
                format!("cannot write {} (nothing was kept)", path.display()),
                &e,
            ));
        }
        written.push(Written { path, role });
    }
    Ok(written)
}

/// A fresh key pair for `alg`: PKCS#8 v1 private key and SubjectPublicKeyInfo, both DER.
fn generate_pair(alg: Algorithm, rsa_bits: u32) -> Result<(Vec<u8>, Vec<u8>), CliError> {
    match alg {
        Algorithm::EdDSA => {
            let pair = Ed25519KeyPair::generate().map_err(crypto_failed)?;
            // v1 (no embedded public key): what OpenSSL writes and every reader accepts.
            let private = pair.to_pkcs8v1().map_err(crypto_failed)?;
            let public = pair.public_key().as_der().map_err(crypto_failed)?;
            Ok((private.as_ref().to_vec(), public.as_ref().to_vec()))
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            let curve = if alg == Algorithm::ES256 {
                &ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &ECDSA_P384_SHA384_FIXED_SIGNING
            };
            let pair = EcdsaKeyPair::generate(curve).map_err(crypto_failed)?;
            let private = pair.to_pkcs8v1().map_err(crypto_failed)?;
            let public = pair.public_key().as_der().map_err(crypto_failed)?;
            Ok((private.as_ref().to_vec(), public.as_ref().to_vec()))
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            let size = match rsa_bits {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                other => {
                    return Err(CliError::usage(format!(
                        "--rsa-bits {other}: use 2048, 3072 or 4096"
                    )));
                }
            };
            let pair = RsaKeyPair::generate(size).map_err(crypto_failed)?;
            let private =
                aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                    .map_err(crypto_failed)?;
            let public = pair.public_key().as_der().map_err(crypto_failed)?;
            Ok((private.as_ref().to_vec(), public.as_ref().to_vec()))
        }
        other => Err(CliError::usage(format!(
            "keygen cannot make {other:?} keys"
        ))),
    }
}

/// Creates `path` (never overwriting), with mode 0600 from the start when `secret`.
fn write_new(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

// ---------------------------------------------------------------------------------------
// loading
// ---------------------------------------------------------------------------------------

fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::caused(format!("cannot read {}", path.display()), &e))?;
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::caused(format!("cannot read {}", path.display()), &e))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(CliError::usage(format!(
            "{} is larger than 1 MiB: not a key file",
            path.display()
        )));
    }
    Ok(bytes)
}

enum Format {
    Pem,
    Json,
    Raw,
}

fn format_of(bytes: &[u8]) -> Format {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_some_and(|i| bytes[i] == b'{') {
        Format::Json
    } else if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        Format::Pem
    } else {
        Format::Raw
    }
}

/// For an RSA key file written by `keygen`, the algorithm its `KID.jwks.json` (in the same
/// directory) gives the key: an RSA PEM does not say whether it is for RS256 or PS256.
fn rsa_algorithm_beside(path: &Path, suffix: &str) -> Option<Algorithm> {
    let kid = kid_from_name(path, &[suffix])?;
    let jwks = path.with_file_name(format!("{kid}{JWKS_SUFFIX}"));
    let doc: Value = serde_json::from_slice(&std::fs::read(jwks).ok()?).ok()?;
    doc.get("keys")?
        .as_array()?
        .iter()
        .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid.as_str()))?
        .get("alg")?
        .as_str()?
        .parse()
        .ok()
}

/// The key id encoded in a `keygen` file name (`KID.private.pem` → `KID`).
fn kid_from_name(path: &Path, suffixes: &[&str]) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    suffixes
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .filter(|kid| !kid.is_empty())
        .map(str::to_owned)
}

fn config_error(path: &Path, error: &tollgate::ConfigError) -> CliError {
    CliError::caused(path.display(), error)
}

/// The signing key in `path`: a PKCS#8 (or PKCS#1 RSA) private key PEM, an HMAC secret as
/// a JWK or JWK Set (`oct`), or a raw HMAC secret with `--alg HS*`.
pub(crate) fn signing_key(
    path: &Path,
    kid: Option<&str>,
    alg: Option<Algorithm>,
) -> Result<SigningKey, CliError> {
    let bytes = read_file(path)?;
    match format_of(&bytes) {
        Format::Pem => signing_key_from_pem(&bytes, path, kid, alg),
        Format::Json => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| CliError::usage(format!("{} is not UTF-8 JSON", path.display())))?;
            signing_key_from_json(text, path, kid, alg)
        }
        Format::Raw => match alg {
            Some(alg) if is_hmac(alg) => {
                let kid = kid.ok_or_else(|| {
                    CliError::usage(
                        "a raw HMAC secret file needs --kid: every minted token names its key",
                    )
                })?;
                SigningKey::hmac(kid, &bytes, alg).map_err(|e| config_error(path, &e))
            }
            _ => Err(CliError::usage(format!(
                "{} is neither a PEM private key nor a JWK; for a file holding a raw HMAC \
                 secret, pass --alg HS256 (or HS384, HS512)",
                path.display()
            ))),
        },
    }
}

fn private_kind(block: &pem::Pem, path: &Path) -> Result<Kind, CliError> {
    let der = block.contents();
    match block.tag() {
        "PRIVATE KEY" => {
            if Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).is_ok() {
                Ok(Kind::Ed25519)
            } else if EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).is_ok() {
                Ok(Kind::P256)
            } else if EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, der).is_ok() {
                Ok(Kind::P384)
            } else if RsaKeyPair::from_pkcs8(der).is_ok() {
                Ok(Kind::Rsa)
            } else {
                Err(CliError::usage(format!(
                    "{} is not an RSA (2048 bits or more), P-256, P-384 or Ed25519 private key",
                    path.display()
                )))
            }
        }
        "RSA PRIVATE KEY" => Ok(Kind::Rsa),
        "EC PRIVATE KEY" => Err(CliError::usage(format!(
            "{} is an EC key in SEC1 form; convert it to PKCS#8: \
             openssl pkcs8 -topk8 -nocrypt -in {0} -out key.pem",
            path.display()
        ))),
        "ENCRYPTED PRIVATE KEY" => Err(CliError::usage(format!(
            "{} is encrypted; decrypt it first: openssl pkcs8 -in {0} -out key.pem",
            path.display()
        ))),
        "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(CliError::usage(format!(
            "{} holds a public key; signing needs the private key (KID{PRIVATE_SUFFIX})",
            path.display()
        ))),
        other => Err(CliError::usage(format!(
            "{} holds a PEM {other:?}, not a private key",
            path.display()
        ))),
    }
}

fn signing_key_from_pem(
    bytes: &[u8],
    path: &Path,
    kid: Option<&str>,
    alg: Option<Algorithm>,
) -> Result<SigningKey, CliError> {
    match private_key_from_pem(bytes, path, kid, alg)? {
        (_, Algorithm::Ed25519) => Err(signs_as_eddsa()),
        (key, _) => Ok(key),
    }
}

/// The private key in a PEM, and the algorithm it is for: an Ed25519 key is loaded for
/// `EdDSA` even when `Ed25519` is asked for, which only a verification key can be bound to.
fn private_key_from_pem(
    bytes: &[u8],
    path: &Path,
    kid: Option<&str>,
    alg: Option<Algorithm>,
) -> Result<(SigningKey, Algorithm), CliError> {
    let block = pem::parse(bytes)
        .map_err(|e| CliError::usage(format!("{}: not valid PEM ({e})", path.display())))?;
    let kind = private_kind(&block, path)?;
    let alg = match (kind, alg) {
        (Kind::Rsa, None) => kind.algorithm(rsa_algorithm_beside(path, PRIVATE_SUFFIX))?,
        _ => kind.algorithm(alg)?,
    };
    let kid = match kid {
        Some(kid) => kid.to_owned(),
        None => kid_from_name(path, &[PRIVATE_SUFFIX]).ok_or_else(|| {
            CliError::usage(format!(
                "which key id? pass --kid (the `kid` of this key in the service's JWK Set); \
                 it is only implied by file names like KID{PRIVATE_SUFFIX}"
            ))
        })?,
    };
    let loaded = match kind {
        Kind::Rsa => SigningKey::rsa_pem(kid, bytes, alg),
        Kind::P256 | Kind::P384 => SigningKey::ec_pem(kid, bytes, alg),
        Kind::Ed25519 => SigningKey::ed25519_pem(kid, bytes),
    };
    Ok((loaded.map_err(|e| config_error(path, &e))?, alg))
}

/// The members of one `oct` JWK that signing needs.
fn signing_key_from_json(
    text: &str,
    path: &Path,
    kid: Option<&str>,
    alg: Option<Algorithm>,
) -> Result<SigningKey, CliError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| CliError::usage(format!("{}: not valid JSON ({e})", path.display())))?;
    let entries: Vec<&Value> = match doc.get("keys") {
        Some(Value::Array(keys)) => keys.iter().collect(),
        Some(_) => {
            return Err(CliError::usage(format!(
                "{}: `keys` is not an array",
                path.display()
            )));
        }
        None => vec![&doc],
    };
    let secrets: Vec<&Value> = entries
        .iter()
        .copied()
        .filter(|k| k.get("kty").and_then(Value::as_str) == Some("oct"))
        .filter(|k| kid.is_none_or(|kid| k.get("kid").and_then(Value::as_str) == Some(kid)))
        .collect();
    let jwk = match secrets.as_slice() {
        [one] => *one,
        [] if entries.iter().any(|k| k.get("d").is_some()) => {
            return Err(CliError::usage(format!(
                "{}: private keys as JWK are not supported; use the PEM private key",
                path.display()
            )));
        }
        [] => {
            return Err(CliError::usage(format!(
                "{} holds no HMAC secret{}; signing needs a private key or a secret",
                path.display(),
                kid.map(|k| format!(" with kid {k:?}")).unwrap_or_default()
            )));
        }
        many => {
            let kids: Vec<&str> = many
                .iter()
                .filter_map(|k| k.get("kid").and_then(Value::as_str))
                .collect();
            return Err(CliError::usage(format!(
                "{} holds several secrets; choose one with --kid (have: {})",
                path.display(),
                kids.join(", ")
            )));
        }
    };
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let declared = member("alg")
        .map(|a| {
            a.parse::<Algorithm>()
                .map_err(|_| CliError::usage(format!("{}: unsupported alg {a:?}", path.display())))
        })
        .transpose()?;
    let alg = match (declared, alg) {
        (Some(a), Some(b)) if a != b => {
            return Err(CliError::usage(format!(
                "{}: the key is for {a:?}, not {b:?}",
                path.display()
            )));
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            return Err(CliError::usage(format!(
                "{}: the secret names no alg; pass --alg HS256 (or HS384, HS512)",
                path.display()
            )));
        }
    };
    let kid = kid.or(member("kid")).ok_or_else(|| {
        CliError::usage(format!(
            "{}: the secret has no kid; pass --kid",
            path.display()
        ))
    })?;
    let mut secret = URL_SAFE_NO_PAD
        .decode(member("k").unwrap_or_default())
        .map_err(|e| {
            CliError::usage(format!(
                "{}: member `k` is not base64url ({e})",
                path.display()
            ))
        })?;
    let key = SigningKey::hmac(kid, &secret, alg).map_err(|e| config_error(path, &e));
    secret.fill(0);
    key
}

/// The verification keys in `path` (`verify --key`): a public key PEM, a private key PEM
/// (its public half is used), a JWK or JWK Set, or a raw HMAC secret with `--alg HS*`.
pub(crate) fn verification_keys(
    path: &Path,
    kid: Option<&str>,
    alg: Option<Algorithm>,
) -> Result<KeySet, CliError> {
    let bytes = read_file(path)?;
    let key = match format_of(&bytes) {
        Format::Json => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| CliError::usage(format!("{} is not UTF-8 JSON", path.display())))?;
            return jwk_or_jwks(text, path);
        }
        Format::Pem => {
            let block = pem::parse(&bytes)
                .map_err(|e| CliError::usage(format!("{}: not valid PEM ({e})", path.display())))?;
            match block.tag() {
                "PUBLIC KEY" | "RSA PUBLIC KEY" => public_key(&block, &bytes, path, kid, alg)?,
                _ => match private_key_from_pem(&bytes, path, kid, alg)? {
                    (signing, Algorithm::Ed25519) => {
                        let jwk = signing
                            .public_jwk()
                            .ok_or_else(|| CliError::usage("the Ed25519 key has no public JWK"))?;
                        ed25519_bound_key(jwk).map_err(|e| config_error(path, &e))?
                    }
                    (signing, _) => signing
                        .verification_key()
                        .map_err(|e| config_error(path, &e))?,
                },
            }
        }
        Format::Raw => match alg {
            Some(alg) if is_hmac(alg) => {
                let key = Key::hmac(&bytes, alg).map_err(|e| config_error(path, &e))?;
                match kid {
                    Some(kid) => key.with_kid(kid),
                    None => key,
                }
            }
            _ => {
                return Err(CliError::usage(format!(
                    "{} is neither a PEM key nor a JWK; for a file holding a raw HMAC \
                     secret, pass --alg HS256 (or HS384, HS512)",
                    path.display()
                )));
            }
        },
    };
    Ok(KeySet::from(key))
}

fn public_key(
    block: &pem::Pem,
    bytes: &[u8],
    path: &Path,
    kid: Option<&str>,
    alg: Option<Algorithm>,
) -> Result<Key, CliError> {
    let der = block.contents();
    let kind = if block.tag() == "RSA PUBLIC KEY" {
        Some(Kind::Rsa)
    } else if ParsedPublicKey::new(&ED25519, der).is_ok() {
        Some(Kind::Ed25519)
    } else if ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, der).is_ok() {
        Some(Kind::P256)
    } else if ParsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, der).is_ok() {
        Some(Kind::P384)
    } else if ParsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, der).is_ok() {
        Some(Kind::Rsa)
    } else {
        None
    };
    let kind = kind.ok_or_else(|| {
        CliError::usage(format!(
            "{} is not an RSA, P-256, P-384 or Ed25519 public key",
            path.display()
        ))
    })?;
    let alg = match (kind, alg) {
        (Kind::Rsa, None) => kind.algorithm(rsa_algorithm_beside(path, PUBLIC_SUFFIX))?,
        _ => kind.algorithm(alg)?,
    };
    let key = match kind {
        Kind::Rsa => Key::rsa_pem(bytes, alg),
        Kind::P256 | Kind::P384 => Key::ec_pem(bytes, alg),
        // The key is the last 32 bytes of its SubjectPublicKeyInfo (RFC 8410 §4).
        Kind::Ed25519 if alg == Algorithm::Ed25519 => ed25519_bound_key(json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(&der[der.len().saturating_sub(32)..]),
        })),
        Kind::Ed25519 => Key::ed25519_pem(bytes),
    }
    .map_err(|e| config_error(path, &e))?;
    let kid = kid
        .map(str::to_owned)
        .or_else(|| kid_from_name(path, &[PUBLIC_SUFFIX]));
    Ok(match kid {
        Some(kid) => key.with_kid(kid),
        None => key,
    })
}

/// The JWK Set (or single JWK) in the file at `path` (`verify --jwks FILE`).
pub(crate) fn jwks_file(path: &Path) -> Result<KeySet, CliError> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| CliError::usage(format!("{} is not UTF-8 JSON", path.display())))?;
    jwk_or_jwks(text, path)
}

/// A JWK Set file, or one JWK (wrapped into a set). Local files may hold `oct` secrets.
fn jwk_or_jwks(text: &str, path: &Path) -> Result<KeySet, CliError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| CliError::usage(format!("{}: not valid JSON ({e})", path.display())))?;
    let set = if doc.get("keys").is_some() {
        KeySet::from_jwks(text)
    } else {
        KeySet::from_jwks(&json!({ "keys": [doc] }).to_string())
    };
    set.map_err(|e| config_error(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_for_files() {
        assert!(check_kid_for_files("api-2025.1_a").is_ok());
        for bad in ["", ".hidden", "-x", "a/b", "a b", &"k".repeat(65)] {
            assert!(check_kid_for_files(bad).is_err(), "{bad:?}");
        }
        let kid = default_kid(Algorithm::ES256).unwrap();
        assert!(kid.starts_with("es256-"), "{kid}");
        assert!(check_kid_for_files(&kid).is_ok());
    }

    #[test]
    fn kid_from_file_names() {
        let p = Path::new("/k/api-1.private.pem");
        assert_eq!(
            kid_from_name(p, &[PRIVATE_SUFFIX]).as_deref(),
            Some("api-1")
        );
        assert_eq!(
            kid_from_name(Path::new(".private.pem"), &[PRIVATE_SUFFIX]),
            None
        );
        assert_eq!(kid_from_name(Path::new("key.pem"), &[PRIVATE_SUFFIX]), None);
    }
}
