//! Project Wycheproof (github.com/C2SP/wycheproof) as an outside check of tollgate: test
//! vectors that nobody on this project wrote.
//!
//! **(a) Primitive vectors** — ES256, ES384, RS256, PS256, Ed25519, HMAC-SHA256 — come from
//! the `wycheproof` crate (a dev-dependency, so a clone alone runs them). Their `msg` is raw
//! bytes, not a JWS signing input, so they cannot be turned into tokens; they are checked one
//! layer below the token parser. Each group's key goes through tollgate's own key loading
//! (`Key::from_jwk`, `Key::ec_pem` / `rsa_pem` / `ed25519_pem`, `Key::hmac`,
//! `KeySet::from_jwks`), so its refusal rules apply, and each vector through the check
//! tollgate's `Verifier` makes: the process's jsonwebtoken crypto provider, for the algorithm
//! the loaded key is bound to, with a `DecodingKey` built from the same material the way
//! tollgate builds it (`Key` does not expose its `DecodingKey`). Every route must agree.
//!
//! **(b) JWS-level vectors** — `json_web_signature_test.json` and `json_web_key_test.json` —
//! are not in that crate, so a copy lives in this repository, in `tests/vectors/wycheproof/`
//! (its README says where they come from and under which license). Every compact `jws` goes
//! through a `tollgate::Verifier` built from the group's keys, and keys that must not load
//! are checked to be refused. The files are required: a missing or unreadable file fails the
//! test.
//!
//! Rules, each explained where it is applied:
//! - `acceptable` is treated as "must reject" ([`must_accept`]).
//! - A JWS whose payload is not a JSON object is not a JWT, and a JWT verifier refuses it
//!   ([`Outcome::NotJwt`], [`Outcome::EmptyPayload`]); such refusals of `valid` vectors are
//!   counted on their own, and for a non-empty payload they still prove that the signature
//!   verified.
//! - The skip list ([`SKIPPED`]), the `valid` vectors refused on purpose ([`POLICY`]) and the
//!   known gaps ([`KNOWN_GAPS`]) name every exception by `tcId`, with the reason.
//!
//! Each test prints its counts (to stderr, so they show without `--nocapture`) and fails if
//! fewer vectors ran than the known total, so a parse change cannot skip vectors silently.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use tollgate::{Algorithm, ConfigError, ErrorKind, Key, KeySet, Verifier};
use wycheproof::TestResult;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Prints a summary line where `cargo test` shows it even without `--nocapture` (the test
/// harness captures `println!`/`eprintln!`, not writes to the stderr handle), so CI logs
/// carry the counts.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

// ---------------------------------------------------------------------------------------
// (a) Primitive vectors from the `wycheproof` crate
// ---------------------------------------------------------------------------------------

/// Whether a verifier must accept a vector with this `result`.
///
/// `acceptable` counts as "must reject": a verifier has no use for what Wycheproof only
/// tolerates. In the six primitive sets the only `acceptable` vector is RS256 tcId 8, a
/// PKCS #1 v1.5 signature whose DigestInfo lacks the NULL parameters: a legacy encoding
/// RFC 8017 does not produce and a JWT verifier has no reason to accept, so no exception is
/// needed.
fn must_accept(result: TestResult) -> bool {
    result == TestResult::Valid
}

/// One way a group's key reaches tollgate.
struct Route {
    /// How the key was given: `JWK`, `PEM`, `secret`, `JWK Set`.
    via: &'static str,
    /// tollgate's verdict on the key, with all its refusal rules.
    loaded: Result<Key, ConfigError>,
    /// The same material as a `DecodingKey`, built the way tollgate builds it for `via`.
    decoding: jsonwebtoken::errors::Result<DecodingKey>,
}

struct Vector {
    tc_id: usize,
    comment: String,
    result: TestResult,
    msg: Vec<u8>,
    sig: Vec<u8>,
}

struct Group {
    routes: Vec<Route>,
    vectors: Vec<Vector>,
}

/// A primitive vector set, ready to run.
struct PrimitiveSet {
    /// What the report calls it, e.g. `ES256`.
    name: &'static str,
    /// The Wycheproof file, e.g. `ecdsa_secp256r1_sha256_p1363_test.json`.
    file: &'static str,
    algorithm: Algorithm,
    /// `numberOfTests` of the file.
    number_of_tests: usize,
    /// Vectors of the file deliberately not run (HMAC groups that do not apply), with why.
    excluded: (usize, &'static str),
    groups: Vec<Group>,
}

#[derive(Default)]
struct PrimitiveTally {
    ran: usize,
    valid_accepted: usize,
    invalid_refused: usize,
    acceptable_refused: usize,
    key_refused: usize,
    disagreements: Vec<String>,
}

/// The signature check of tollgate's `Verifier` for one key route: the process's crypto
/// provider builds a verifier for the algorithm the loaded key is bound to and checks
/// `sig` over `msg`. `Err` says why the key itself was refused.
fn check_signature(
    route: &Route,
    algorithm: Algorithm,
    msg: &[u8],
    sig: &[u8],
) -> Result<bool, String> {
    let key = route
        .loaded
        .as_ref()
        .map_err(|e| format!("tollgate refused the {} key: {e}", route.via))?;
    assert_eq!(
        key.algorithm(),
        algorithm,
        "the {} key is bound to the wrong algorithm",
        route.via
    );
    let decoding = route.decoding.as_ref().unwrap_or_else(|e| {
        panic!(
            "tollgate loaded the {} key but jsonwebtoken cannot build it: {e}",
            route.via
        )
    });
    // What `Verifier::check_signature` does: `verifier_factory(alg, key).verify(msg, sig)`;
    // `crypto::verify` is that call behind a base64url decoding of the signature.
    // jsonwebtoken's own `Algorithm`, by the same JOSE name.
    let algorithm = key.algorithm().as_str().parse().unwrap();
    Ok(jsonwebtoken::crypto::verify(&b64(sig), msg, decoding, algorithm).unwrap_or(false))
}

fn run_primitive(set: PrimitiveSet, known_total: usize) {
    let mut tally = PrimitiveTally::default();
    for group in &set.groups {
        for vector in &group.vectors {
            tally.ran += 1;
            let expected = must_accept(vector.result);
            let mut agrees = true;
            let mut key_refused = false;
            for route in &group.routes {
                let verdict = check_signature(route, set.algorithm, &vector.msg, &vector.sig);
                let what = match verdict {
                    Ok(accepted) if accepted == expected => continue,
                    Ok(true) => "accepted".to_owned(),
                    Ok(false) => "refused".to_owned(),
                    Err(why) => {
                        key_refused = true;
                        if !expected {
                            continue;
                        }
                        why
                    }
                };
                agrees = false;
                tally.disagreements.push(format!(
                    "{} tcId {} ({:?}, {:?}) via {}: {what}",
                    set.name, vector.tc_id, vector.result, vector.comment, route.via
                ));
            }
            tally.key_refused += usize::from(key_refused);
            if agrees {
                match vector.result {
                    TestResult::Valid => tally.valid_accepted += 1,
                    TestResult::Invalid => tally.invalid_refused += 1,
                    TestResult::Acceptable => {
                        tally.invalid_refused += 1;
                        tally.acceptable_refused += 1;
                    }
                }
            }
        }
    }
    let routes: Vec<&str> = set
        .groups
        .first()
        .map(|g| g.routes.iter().map(|r| r.via).collect())
        .unwrap_or_default();
    let summary = format!(
        "wycheproof {} ({}, key via {}): {} vectors ran (known total {known_total}): \
         {} valid accepted, {} invalid refused (of which {} `acceptable`), \
         {} refused because tollgate refused the key, {} not run ({}), {} disagreements",
        set.name,
        set.file,
        routes.join(" + "),
        tally.ran,
        tally.valid_accepted,
        tally.invalid_refused,
        tally.acceptable_refused,
        tally.key_refused,
        set.excluded.0,
        set.excluded.1,
        tally.disagreements.len(),
    );
    report(&summary);
    for line in &tally.disagreements {
        report(&format!("  disagreement: {line}"));
    }
    assert!(
        tally.ran >= known_total,
        "fewer vectors than known ran: {summary}"
    );
    assert_eq!(
        tally.ran + set.excluded.0,
        set.number_of_tests,
        "every vector of the file must be run or deliberately excluded: {summary}"
    );
    assert!(
        tally.valid_accepted > 0,
        "no valid vector accepted: {summary}"
    );
    assert!(
        tally.disagreements.is_empty(),
        "tollgate disagrees with Wycheproof: {summary}\n{}",
        tally.disagreements.join("\n")
    );
}

fn vectors<T>(tests: Vec<T>, f: impl Fn(T) -> Vector) -> Vec<Vector> {
    tests.into_iter().map(f).collect()
}

/// ECDSA P1363 sets (`sig` is r‖s, the JWS form). Each group's key goes in twice: as a JWK
/// (the group's `publicKeyJwk`, or built from its uncompressed point for the few groups
/// without one) and as PEM.
fn ecdsa_set(
    name: &'static str,
    file: &'static str,
    test: wycheproof::ecdsa::TestName,
    algorithm: Algorithm,
    crv: &str,
) -> PrimitiveSet {
    let set = wycheproof::ecdsa::TestSet::load(test).expect("wycheproof ECDSA set loads");
    let groups = set
        .test_groups
        .into_iter()
        .map(|g| {
            let point = &g.key.key[..];
            let half = (point.len() - 1) / 2;
            let (x, y) = match &g.jwk {
                Some(jwk) => (b64(&jwk.affine_x), b64(&jwk.affine_y)),
                None => (b64(&point[1..1 + half]), b64(&point[1 + half..])),
            };
            let jwk = json!({"kty": "EC", "crv": crv, "x": x, "y": y}).to_string();
            let pem = g.pem.as_bytes();
            Group {
                routes: vec![
                    Route {
                        via: "JWK",
                        loaded: Key::from_jwk(&jwk, Some(algorithm)),
                        decoding: DecodingKey::from_ec_components(&x, &y),
                    },
                    Route {
                        via: "PEM",
                        loaded: Key::ec_pem(pem, algorithm),
                        decoding: DecodingKey::from_ec_pem(pem),
                    },
                ],
                vectors: vectors(g.tests, |t| Vector {
                    tc_id: t.tc_id,
                    comment: t.comment,
                    result: t.result,
                    msg: t.msg.to_vec(),
                    sig: t.sig.to_vec(),
                }),
            }
        })
        .collect();
    PrimitiveSet {
        name,
        file,
        algorithm,
        number_of_tests: set.number_of_tests,
        excluded: (0, "none excluded"),
        groups,
    }
}

/// The JWK and PEM routes of an RSA group. The JWK is the group's own (`keyJwk` /
/// `publicKeyJwk`, with its `alg`), or one built from the modulus and exponent.
fn rsa_routes(
    jwk: Option<&wycheproof::RsaPublicJwk>,
    key: &wycheproof::RsaPublic,
    pem: &str,
    algorithm: Algorithm,
) -> Vec<Route> {
    let unsigned = |bytes: &[u8]| {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        b64(&bytes[start..])
    };
    let (n, e, alg) = match jwk {
        Some(jwk) => (b64(&jwk.n), b64(&jwk.e), Some(jwk.alg.clone())),
        None => (unsigned(&key.n), unsigned(&key.e), None),
    };
    let mut doc = json!({"kty": "RSA", "n": n, "e": e});
    if let Some(alg) = alg {
        doc["alg"] = Value::String(alg);
    }
    vec![
        Route {
            via: "JWK",
            loaded: Key::from_jwk(&doc.to_string(), Some(algorithm)),
            decoding: DecodingKey::from_rsa_components(&n, &e),
        },
        Route {
            via: "PEM",
            loaded: Key::rsa_pem(pem.as_bytes(), algorithm),
            decoding: DecodingKey::from_rsa_pem(pem.as_bytes()),
        },
    ]
}

#[test]
fn wycheproof_es256_ecdsa_secp256r1_sha256_p1363() {
    run_primitive(
        ecdsa_set(
            "ES256",
            "ecdsa_secp256r1_sha256_p1363_test.json",
            wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256P1363,
            Algorithm::ES256,
            "P-256",
        ),
        262,
    );
}

#[test]
fn wycheproof_es384_ecdsa_secp384r1_sha384_p1363() {
    run_primitive(
        ecdsa_set(
            "ES384",
            "ecdsa_secp384r1_sha384_p1363_test.json",
            wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha384P1363,
            Algorithm::ES384,
            "P-384",
        ),
        280,
    );
}

#[test]
fn wycheproof_rs256_rsa_signature_2048_sha256() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let set = TestSet::load(TestName::Rsa2048Sha256).expect("wycheproof RSA set loads");
    let groups = set
        .test_groups
        .into_iter()
        .map(|g| Group {
            routes: rsa_routes(g.jwk.as_ref(), &g.key, &g.pem, Algorithm::RS256),
            vectors: vectors(g.tests, |t| Vector {
                tc_id: t.tc_id,
                comment: t.comment,
                result: t.result,
                msg: t.msg.to_vec(),
                sig: t.sig.to_vec(),
            }),
        })
        .collect();
    run_primitive(
        PrimitiveSet {
            name: "RS256",
            file: "rsa_signature_2048_sha256_test.json",
            algorithm: Algorithm::RS256,
            number_of_tests: set.number_of_tests,
            excluded: (0, "none excluded"),
            groups,
        },
        259,
    );
}

#[test]
fn wycheproof_ps256_rsa_pss_2048_sha256_mgf1_32() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    let set =
        TestSet::load(TestName::RsaPss2048Sha256Mgf1SaltLen32).expect("wycheproof PSS set loads");
    let groups = set
        .test_groups
        .into_iter()
        .map(|g| {
            // PS256 is PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (RFC 7518 §3.5).
            assert_eq!(
                (g.mgf_hash, g.salt_size),
                (Some(wycheproof::HashFunction::Sha2_256), 32)
            );
            Group {
                routes: rsa_routes(g.jwk.as_ref(), &g.key, &g.pem, Algorithm::PS256),
                vectors: vectors(g.tests, |t| Vector {
                    tc_id: t.tc_id,
                    comment: t.comment,
                    result: t.result,
                    msg: t.msg.to_vec(),
                    sig: t.sig.to_vec(),
                }),
            }
        })
        .collect();
    run_primitive(
        PrimitiveSet {
            name: "PS256",
            file: "rsa_pss_2048_sha256_mgf1_32_test.json",
            algorithm: Algorithm::PS256,
            number_of_tests: set.number_of_tests,
            excluded: (0, "none excluded"),
            groups,
        },
        108,
    );
}

#[test]
fn wycheproof_eddsa_ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).expect("wycheproof Ed25519 set loads");
    let groups = set
        .test_groups
        .into_iter()
        .map(|g| {
            let x = b64(&g.jwk.x);
            let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x}).to_string();
            let pem = g.pem.as_bytes();
            Group {
                routes: vec![
                    Route {
                        via: "JWK",
                        loaded: Key::from_jwk(&jwk, Some(Algorithm::EdDSA)),
                        decoding: DecodingKey::from_ed_components(&x),
                    },
                    Route {
                        via: "PEM",
                        loaded: Key::ed25519_pem(pem),
                        decoding: DecodingKey::from_ed_pem(pem),
                    },
                ],
                vectors: vectors(g.tests, |t| Vector {
                    tc_id: t.tc_id,
                    comment: t.comment,
                    result: t.result,
                    msg: t.msg.to_vec(),
                    sig: t.sig.to_vec(),
                }),
            }
        })
        .collect();
    run_primitive(
        PrimitiveSet {
            name: "EdDSA (Ed25519)",
            file: "ed25519_test.json",
            algorithm: Algorithm::EdDSA,
            number_of_tests: set.number_of_tests,
            excluded: (0, "none excluded"),
            groups,
        },
        151,
    );
}

/// HMAC-SHA256, only the groups that describe HS256 as a JWT uses it: the full 256-bit tag
/// (RFC 7518 §3.2 does not truncate) and a key of at least 256 bits (tollgate refuses
/// shorter HS256 secrets, RFC 7518 §3.2). Each vector's key goes in as a raw secret
/// (`Key::hmac`) and as an `oct` JWK in a local JWK Set (`KeySet::from_jwks`).
#[test]
fn wycheproof_hs256_hmac_sha256() {
    use wycheproof::mac::{TestName, TestSet};
    let set = TestSet::load(TestName::HmacSha256).expect("wycheproof HMAC set loads");
    let mut excluded = 0;
    let mut groups = Vec::new();
    for g in set.test_groups {
        if g.tag_size != 256 || g.key_size < 256 {
            excluded += g.tests.len();
            continue;
        }
        for t in g.tests {
            let jwks = json!({"keys": [{"kty": "oct", "alg": "HS256", "k": b64(&t.key)}]});
            let from_set = KeySet::from_jwks(&jwks.to_string()).and_then(|set| {
                set.iter()
                    .next()
                    .cloned()
                    .ok_or(ConfigError::NoUsableKeys(Vec::new()))
            });
            groups.push(Group {
                routes: vec![
                    Route {
                        via: "secret",
                        loaded: Key::hmac(&t.key, Algorithm::HS256),
                        decoding: DecodingKey::from_secret(&t.key),
                    },
                    Route {
                        via: "JWK Set",
                        loaded: from_set,
                        decoding: DecodingKey::from_secret(&t.key),
                    },
                ],
                vectors: vec![Vector {
                    tc_id: t.tc_id,
                    comment: t.comment,
                    result: t.result,
                    msg: t.msg.to_vec(),
                    sig: t.tag.to_vec(),
                }],
            });
        }
    }
    run_primitive(
        PrimitiveSet {
            name: "HS256",
            file: "hmac_sha256_test.json",
            algorithm: Algorithm::HS256,
            number_of_tests: set.number_of_tests,
            excluded: (
                excluded,
                "groups with a truncated tag or a key under 32 bytes",
            ),
            groups,
        },
        84,
    );
}

// ---------------------------------------------------------------------------------------
// (b) JWS-level vectors from `tests/vectors/wycheproof/`
// ---------------------------------------------------------------------------------------

const JWS_FILE: &str = "json_web_signature_test.json";
const JWK_FILE: &str = "json_web_key_test.json";

/// Known data bugs in `json_web_signature_test.json` (also listed in
/// `tests/vectors/wycheproof/README.md`). They are still run, and what tollgate did is
/// printed, but they count neither way.
const SKIPPED: &[(u64, &str)] = &[
    (
        357,
        "same bytes as tcIds 367 and 370 (labelled invalid), labelled valid",
    ),
    (367, "same bytes as tcIds 357 (labelled valid) and 370"),
    (370, "same bytes as tcIds 357 (labelled valid) and 367"),
    (
        372,
        "contains `?`, which base64url does not have, yet labelled valid",
    ),
    (
        373,
        "contains `?`, which base64url does not have, yet labelled valid",
    ),
];

/// What tollgate must do with a `valid` vector that it refuses on purpose.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// The group's key is not loaded at all.
    Key,
    /// The token is refused with this reason.
    Token(ErrorKind),
}

/// `valid` vectors of `json_web_signature_test.json` that tollgate refuses by design, each
/// with the exact refusal and why.
const POLICY: &[(u64, Refusal, &str)] = &[
    (
        346,
        Refusal::Token(ErrorKind::AlgorithmMismatch),
        "RFC 7520 figure 20 is a PS384 token, but the group's JWK says `alg: PS256`; tollgate \
         binds each key to its one algorithm (RFC 8725 §3.1). Rebound to PS384 the signature \
         verifies (checked below)",
    ),
    (
        350,
        Refusal::Token(ErrorKind::AlgorithmMismatch),
        "as 346, with `key_ops: [\"verify\"]`",
    ),
    (
        347,
        Refusal::Key,
        "RFC 7520 figure 27 is ES512 over P-521 (JWK `alg: ES521`); tollgate supports \
         P-256 and P-384 only, and refuses the key when it is loaded",
    ),
    (351, Refusal::Key, "as 347, with `key_ops: [\"verify\"]`"),
];

/// `invalid` vectors whose key tollgate loads and whose signature it accepts, so that only
/// the JWT rule (the payload is not a claim set) refuses the token. Each is a deliberate
/// difference or a gap, reported; the test pins the current behaviour so that a change
/// updates this list.
const KNOWN_GAPS: &[(&str, u64, &str)] = &[
    (
        JWK_FILE,
        1,
        "MixedKeySet / Ambiguous: a set holding an `oct` secret and an EC public key. \
         KeySet::from_jwks is for the operator's own keys and loads both, each bound to one \
         algorithm, so no algorithm confusion follows; KeySet::from_public_jwks, for sets \
         published by someone else, refuses the `oct` member (check_private_keys_refused)",
    ),
    (
        JWK_FILE,
        7,
        "an RSA-2049 key with the ROCA fingerprint (CVE-2017-15361); tollgate checks the \
         modulus size, not for ROCA",
    ),
];

/// What the token verifier did with one compact JWS.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Accepted,
    /// Refused as not a JWT: `claims_malformed` for a payload that is strict base64url but
    /// not a JSON object. tollgate decodes the payload only after the signature verified
    /// (verifier rules 5 and 6), so this outcome still proves the signature was accepted.
    NotJwt,
    /// Refused as not a JWT: the payload segment is empty (`token_malformed`), before any
    /// decoding. The smallest JWT payload is `e30` (`{}`); the signature is not checked.
    EmptyPayload,
    Refused(ErrorKind),
    /// The group's keys did not load, so there is no verifier to accept the token.
    KeyRefused,
}

/// Runs `jws` through `verifier` (with its claim rules relaxed, see [`verifier_for`]).
///
/// The rule for payloads that are not JSON objects: a JWS is a JWT only if its payload is
/// a JSON object (RFC 7519 §7.2, step 10), so a JWT verifier legitimately refuses the
/// others. Wycheproof signs arbitrary bytes (`foo`, `123400`, binary, nothing at all), so
/// most of its `valid` vectors end as [`Outcome::NotJwt`] or [`Outcome::EmptyPayload`];
/// both count as agreeing with `valid`, separately from acceptance. For an `invalid` vector
/// [`Outcome::NotJwt`] is a disagreement: the signature check let it through.
fn verify_jws(verifier: Option<&Verifier>, jws: &str) -> Outcome {
    let Some(verifier) = verifier else {
        return Outcome::KeyRefused;
    };
    let segments: Vec<&str> = jws.split('.').collect();
    match verifier.verify(jws) {
        Ok(_) => Outcome::Accepted,
        Err(e)
            if e.kind() == ErrorKind::MalformedClaims
                && segments.len() == 3
                && URL_SAFE_NO_PAD
                    .decode(segments[1])
                    .is_ok_and(|p| serde_json::from_slice::<Map<String, Value>>(&p).is_err()) =>
        {
            Outcome::NotJwt
        }
        Err(e)
            if e.kind() == ErrorKind::Malformed
                && segments.len() == 3
                && segments[1].is_empty() =>
        {
            Outcome::EmptyPayload
        }
        Err(e) => Outcome::Refused(e.kind()),
    }
}

/// A verifier for the JWS vectors: the group's keys, and no claim rule the vectors cannot
/// meet (they carry no `exp`, `iss` or `aud`). Header, key selection, algorithm binding,
/// signature and encoding rules stay as they are by default.
fn verifier_for(keys: &KeySet) -> Verifier {
    Verifier::builder()
        .keys(keys.clone())
        .require_exp(false)
        .build()
        .expect("a verifier builds from a non-empty key set")
}

/// Where the JWS-level vectors are: `tests/vectors/wycheproof/` in this repository. They
/// are always required; a file that is missing or does not parse fails the test
/// ([`read_vectors`]).
fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/wycheproof")
}

/// Reads one vector file and checks that its `numberOfTests` matches its content.
fn read_vectors(dir: &Path, file: &str) -> Value {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let declared = doc["numberOfTests"].as_u64().expect("numberOfTests");
    let counted: usize = groups(&doc).iter().map(|g| tests(g).len()).sum();
    assert_eq!(declared, counted as u64, "{file}: numberOfTests");
    doc
}

fn groups(doc: &Value) -> &Vec<Value> {
    doc["testGroups"].as_array().expect("testGroups")
}

fn tests(group: &Value) -> &Vec<Value> {
    group["tests"].as_array().expect("tests")
}

fn tc_id(test: &Value) -> u64 {
    test["tcId"].as_u64().expect("tcId")
}

/// A JWK or a JWK Set, as a JWK Set.
fn as_set(jwk_or_set: &Value) -> Value {
    if jwk_or_set.get("keys").is_some() {
        jwk_or_set.clone()
    } else {
        json!({ "keys": [jwk_or_set] })
    }
}

/// Whether a JWK carries private members of an asymmetric key.
fn has_private(jwk: &Value) -> bool {
    ["d", "p", "q", "dp", "dq", "qi", "oth"]
        .iter()
        .any(|m| jwk.get(m).is_some())
}

/// Whether a JWK carries private or symmetric key material.
fn has_secret(jwk: &Value) -> bool {
    has_private(jwk) || jwk.get("k").is_some()
}

/// The `kid` in a compact JWS header, if it can be read.
fn header_kid(jws: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(jws.split('.').next()?).ok()?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    Some(header.get("kid")?.as_str()?.to_owned())
}

/// How a group's verification keys are loaded: its `public` JWK(s) through
/// `KeySet::from_public_jwks` (keys published by someone else); a group without `public`
/// holds only symmetric secrets, which go through `KeySet::from_jwks` (the operator's own
/// keys), as HMAC verification needs the secret.
fn load_keys(group: &Value) -> (&'static str, Result<KeySet, ConfigError>) {
    match group.get("public") {
        Some(public) => (
            "from_public_jwks",
            KeySet::from_public_jwks(&as_set(public).to_string(), None),
        ),
        None => (
            "from_jwks",
            KeySet::from_jwks(&as_set(&group["private"]).to_string()),
        ),
    }
}

/// Every JWK with private or symmetric members in a group's `private` set is refused as a
/// published key (`KeySet::from_public_jwks`, `Key::from_jwk`), an asymmetric one because
/// of its private members; returns how many.
fn check_private_keys_refused(file: &str, group: &Value, problems: &mut Vec<String>) -> usize {
    let Some(private) = group.get("private") else {
        return 0;
    };
    let set = as_set(private);
    let entries = set["keys"].as_array().expect("keys");
    let secret_kids: Vec<&str> = entries
        .iter()
        .filter(|k| has_secret(k))
        .filter_map(|k| k["kid"].as_str())
        .collect();
    if let Ok(loaded) = KeySet::from_public_jwks(&set.to_string(), None) {
        for key in loaded.iter() {
            if key.kid().is_some_and(|kid| secret_kids.contains(&kid)) {
                problems.push(format!(
                    "{file} group {:?}: from_public_jwks loaded the private/secret key {:?}",
                    group["comment"],
                    key.kid()
                ));
            }
        }
    }
    let mut refused = 0;
    for entry in entries.iter().filter(|k| has_secret(k)) {
        match Key::from_jwk(&entry.to_string(), None) {
            Err(ConfigError::PrivateKeyMaterial) => refused += 1,
            // An `oct` JWK may be refused earlier, e.g. for an `alg` such as A256GCM.
            Err(_) if !has_private(entry) => refused += 1,
            other => problems.push(format!(
                "{file} group {:?}: Key::from_jwk on a private/secret JWK gave {other:?}",
                group["comment"]
            )),
        }
    }
    refused
}

#[derive(Default)]
struct JwsTally {
    ran: usize,
    valid_accepted: usize,
    valid_not_jwt: usize,
    valid_empty_payload: usize,
    valid_policy_refused: usize,
    invalid_refused: usize,
    invalid_key_refused: usize,
    known_gaps: usize,
    skipped: usize,
    private_keys_refused: usize,
    bad_keys_refused: usize,
    refusal_reasons: BTreeMap<String, usize>,
    notes: Vec<String>,
    disagreements: Vec<String>,
}

impl JwsTally {
    fn summary(&self, file: &str, known_total: usize) -> String {
        let reasons: Vec<String> = self
            .refusal_reasons
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect();
        format!(
            "wycheproof {file}: {} vectors ran (known total {known_total}), {} skipped: \
             valid: {} accepted, {} refused as not a JWT after the signature verified, {} \
             refused as not a JWT (empty payload), {} refused by documented policy; invalid: \
             {} refused (of which {} because the key did not load; by reason: {}); {} known \
             gaps; {} private/secret JWKs refused as public keys; {} bad key sets refused; {} \
             disagreements",
            self.ran,
            self.skipped,
            self.valid_accepted,
            self.valid_not_jwt,
            self.valid_empty_payload,
            self.valid_policy_refused,
            self.invalid_refused,
            self.invalid_key_refused,
            reasons.join(", "),
            self.known_gaps,
            self.private_keys_refused,
            self.bad_keys_refused,
            self.disagreements.len(),
        )
    }

    /// Checks one vector's outcome against its label and the documented exceptions.
    fn judge(&mut self, file: &str, test: &Value, outcome: Outcome) {
        let id = tc_id(test);
        let valid = match test["result"].as_str() {
            Some("valid") => true,
            Some("invalid" | "acceptable") => false,
            other => panic!("{file} tcId {id}: unexpected result {other:?}"),
        };
        let label = format!(
            "{file} tcId {id} ({}, {:?})",
            if valid { "valid" } else { "invalid" },
            test["comment"]
        );
        if let Some((_, why)) = SKIPPED.iter().find(|(s, _)| *s == id)
            && file == JWS_FILE
        {
            self.skipped += 1;
            self.notes
                .push(format!("skipped {label}: {why}; tollgate: {outcome:?}"));
            return;
        }
        self.ran += 1;
        let gap = KNOWN_GAPS.iter().find(|(f, g, _)| *f == file && *g == id);
        match (valid, outcome) {
            (true, Outcome::Accepted) => self.valid_accepted += 1,
            (true, Outcome::NotJwt) => self.valid_not_jwt += 1,
            (true, Outcome::EmptyPayload) => self.valid_empty_payload += 1,
            (true, refused) => match POLICY.iter().find(|(p, _, _)| *p == id && file == JWS_FILE) {
                Some((_, Refusal::Key, _)) if refused == Outcome::KeyRefused => {
                    self.valid_policy_refused += 1;
                }
                Some((_, Refusal::Token(kind), _)) if refused == Outcome::Refused(*kind) => {
                    self.valid_policy_refused += 1;
                }
                _ => self
                    .disagreements
                    .push(format!("{label}: refused: {refused:?}")),
            },
            (false, Outcome::Accepted | Outcome::NotJwt) => match gap {
                Some(_) if outcome == Outcome::NotJwt => {
                    self.known_gaps += 1;
                    self.notes.push(format!(
                        "known gap {label}: only the JWT rule refused it ({outcome:?})"
                    ));
                }
                _ => self.disagreements.push(format!(
                    "{label}: {outcome:?} (the signature check let it through)"
                )),
            },
            (false, refused) => {
                self.invalid_refused += 1;
                let reason = match refused {
                    Outcome::KeyRefused => {
                        self.invalid_key_refused += 1;
                        "key not loaded".to_owned()
                    }
                    Outcome::Refused(kind) => kind.code().to_owned(),
                    Outcome::EmptyPayload => ErrorKind::Malformed.code().to_owned(),
                    Outcome::Accepted | Outcome::NotJwt => unreachable!(),
                };
                *self.refusal_reasons.entry(reason).or_default() += 1;
            }
        }
        if let Some((_, _, why)) = gap
            && outcome != Outcome::NotJwt
        {
            self.disagreements.push(format!(
                "{label} is listed in KNOWN_GAPS ({why}) but tollgate now gives {outcome:?}: \
                 update the list"
            ));
        }
    }

    fn finish(&self, file: &str, known_total: usize) {
        let summary = self.summary(file, known_total);
        report(&summary);
        for line in &self.notes {
            report(&format!("  {line}"));
        }
        for line in &self.disagreements {
            report(&format!("  disagreement: {line}"));
        }
        assert!(
            self.ran >= known_total,
            "fewer vectors than known ran: {summary}"
        );
        assert!(
            self.disagreements.is_empty(),
            "tollgate disagrees with Wycheproof: {summary}\n{}",
            self.disagreements.join("\n")
        );
    }
}

#[test]
fn wycheproof_json_web_signature() {
    const FILE: &str = JWS_FILE;
    let dir = vectors_dir();
    let doc = read_vectors(&dir, FILE);
    let mut tally = JwsTally::default();
    for group in groups(&doc) {
        let (loader, keys) = load_keys(group);
        // A lone `public` JWK loads through Key::from_jwk exactly when the set takes it.
        if let Some(public) = group.get("public").filter(|p| p.get("keys").is_none()) {
            let single = Key::from_jwk(&public.to_string(), None);
            assert_eq!(
                single.is_ok(),
                keys.is_ok(),
                "{FILE} group {:?}: Key::from_jwk gave {single:?}, {loader} {keys:?}",
                group["comment"]
            );
        }
        tally.private_keys_refused +=
            check_private_keys_refused(FILE, group, &mut tally.disagreements);
        let verifier = keys.as_ref().ok().map(verifier_for);
        if let Err(why) = &keys {
            tally.notes.push(format!(
                "group {:?}: {loader} refused the key: {why}",
                group["comment"]
            ));
        }
        for test in tests(group) {
            let jws = test["jws"].as_str().expect("jws");
            let outcome = verify_jws(verifier.as_ref(), jws);
            tally.judge(FILE, test, outcome);
            // A POLICY refusal for the algorithm binding: bound to the token's algorithm
            // instead, the same key verifies the signature.
            if let Some((_, Refusal::Token(ErrorKind::AlgorithmMismatch), _)) =
                POLICY.iter().find(|(p, _, _)| *p == tc_id(test))
            {
                let header = URL_SAFE_NO_PAD
                    .decode(jws.split('.').next().expect("header"))
                    .expect("header base64url");
                let header: Value = serde_json::from_slice(&header).expect("header JSON");
                let alg: Algorithm = header["alg"]
                    .as_str()
                    .and_then(|a| a.parse().ok())
                    .expect("header alg");
                let mut jwk = group["public"].clone();
                jwk.as_object_mut().expect("JWK object").remove("alg");
                let rebound = Key::from_jwk(&jwk.to_string(), Some(alg))
                    .and_then(|k| KeySet::new().with(k))
                    .expect("the key loads bound to the token's algorithm");
                let outcome = verify_jws(Some(&verifier_for(&rebound)), jws);
                assert_eq!(
                    outcome,
                    Outcome::NotJwt,
                    "{FILE} tcId {}: bound to {alg:?}, the signature must verify",
                    tc_id(test)
                );
            }
        }
    }
    tally.finish(FILE, 396);
}

#[test]
fn wycheproof_json_web_key() {
    const FILE: &str = JWK_FILE;
    let dir = vectors_dir();
    let doc = read_vectors(&dir, FILE);
    let mut tally = JwsTally::default();
    for group in groups(&doc) {
        let (loader, keys) = load_keys(group);
        tally.private_keys_refused +=
            check_private_keys_refused(FILE, group, &mut tally.disagreements);
        let verifier = keys.as_ref().ok().map(verifier_for);
        let group_tests = tests(group);
        // A group whose every vector is invalid is about a key (set) that must not be
        // used: the key the tokens name must not load.
        let bad_key_group = group_tests.iter().all(|t| t["result"] == "invalid");
        if bad_key_group {
            let kid = group_tests
                .first()
                .and_then(|t| header_kid(t["jws"].as_str()?));
            let loaded = match (&keys, &kid) {
                (Ok(set), Some(kid)) => set.get(kid).is_some(),
                (Ok(set), None) => !set.is_empty(),
                (Err(_), _) => false,
            };
            let ids: Vec<u64> = group_tests.iter().map(tc_id).collect();
            let gap = ids
                .iter()
                .any(|id| KNOWN_GAPS.iter().any(|(f, g, _)| *f == FILE && g == id));
            let why = match &keys {
                Err(e) => e.to_string(),
                Ok(set) => set.skipped().join("; "),
            };
            if !loaded {
                tally.bad_keys_refused += 1;
                tally.notes.push(format!(
                    "group {:?} (tcIds {ids:?}): {loader} did not load key {kid:?}: {why}",
                    group["comment"]
                ));
            } else if !gap {
                tally.disagreements.push(format!(
                    "{FILE} group {:?} (tcIds {ids:?}): {loader} loaded key {kid:?}, which \
                     must not be used",
                    group["comment"]
                ));
            }
        }
        for test in group_tests {
            let jws = test["jws"].as_str().expect("jws");
            tally.judge(FILE, test, verify_jws(verifier.as_ref(), jws));
        }
    }
    tally.finish(FILE, 26);
}
