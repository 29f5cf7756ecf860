//! Loading keys: unsafe keys are refused when loaded (a `ConfigError`, never a 401 later),
//! a JWK Set keeps its good entries and reports the bad ones, and no key material shows in
//! `Debug` output.

mod fixtures;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fixtures::*;
use serde_json::{Value, json};
use tollgate::{Algorithm, ConfigError, Key, KeySet, Signer, SigningKey, Verifier};

/// A secret no output may ever contain: long enough for every HMAC algorithm.
const DISTINCTIVE_SECRET: &[u8] =
    b"Zq7-DISTINCTIVE-hmac-secret-never-to-be-printed-0123456789-abcdefghij";

/// The public JWK of a fixture key, as the `Signer` publishes it.
fn public_jwk(key: SigningKey) -> Value {
    key.public_jwk().expect("an asymmetric key")
}

fn p256_jwk() -> Value {
    public_jwk(SigningKey::ec_pem("p256", P256_PRIVATE.as_bytes(), Algorithm::ES256).unwrap())
}

fn p384_jwk() -> Value {
    public_jwk(SigningKey::ec_pem("p384", P384_PRIVATE.as_bytes(), Algorithm::ES384).unwrap())
}

fn rsa_jwk() -> Value {
    public_jwk(SigningKey::rsa_pem("rsa", RSA_PRIVATE.as_bytes(), Algorithm::RS256).unwrap())
}

fn ed25519_jwk() -> Value {
    public_jwk(SigningKey::ed25519_pem("ed", ED25519_PRIVATE.as_bytes()).unwrap())
}

/// The same Ed25519 key as an identity provider that signs `Ed25519` (RFC 9864) publishes
/// it: `"alg": "Ed25519"`, kid `ed25519-1`.
fn published_ed25519_jwk() -> Value {
    let set: Value = serde_json::from_str(ED25519_JWKS).unwrap();
    set["keys"][0].clone()
}

/// `jwk` with the members of `patch` added or replaced (a `null` value removes one).
fn patched(mut jwk: Value, patch: Value) -> Value {
    let map = jwk.as_object_mut().unwrap();
    for (name, value) in patch.as_object().expect("patch is an object") {
        if value.is_null() {
            map.remove(name);
        } else {
            map.insert(name.clone(), value.clone());
        }
    }
    jwk
}

fn from_jwk(jwk: &Value) -> Result<Key, ConfigError> {
    Key::from_jwk(&jwk.to_string(), None)
}

fn jwks(entries: &[Value]) -> String {
    json!({ "keys": entries }).to_string()
}

/// A 1024-bit RSA public JWK: the modulus has its top bit set and is 128 bytes long.
fn rsa_1024_jwk() -> Value {
    let mut n = vec![0xc5; 128];
    n[127] |= 1;
    json!({"kty": "RSA", "kid": "small", "alg": "RS256", "n": b64(n), "e": "AQAB"})
}

// ---------------------------------------------------------------------------------------
// HMAC secrets
// ---------------------------------------------------------------------------------------

#[test]
fn hmac_secret_shorter_than_the_hash_is_refused() {
    for (alg, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        let short = vec![0x5a; min - 1];
        assert!(
            matches!(
                Key::hmac(&short, alg),
                Err(ConfigError::WeakSecret { algorithm, len, min: m })
                    if algorithm == alg && len == min - 1 && m == min
            ),
            "{alg:?}"
        );
        assert!(
            Key::hmac(&vec![0x5a; min], alg).is_ok(),
            "{alg:?} at {min} bytes"
        );
    }
}

#[test]
fn empty_hmac_secret_is_refused() {
    assert!(matches!(
        Key::hmac(b"", Algorithm::HS256),
        Err(ConfigError::WeakSecret { len: 0, .. })
    ));
}

#[test]
fn hmac_signing_key_applies_the_same_length_rule() {
    assert!(matches!(
        SigningKey::hmac("k", &[1; 31], Algorithm::HS256),
        Err(ConfigError::WeakSecret {
            len: 31,
            min: 32,
            ..
        })
    ));
    assert!(matches!(
        SigningKey::hmac("k", &[1; 47], Algorithm::HS384),
        Err(ConfigError::WeakSecret {
            len: 47,
            min: 48,
            ..
        })
    ));
}

#[test]
fn hmac_secret_cannot_be_bound_to_an_asymmetric_algorithm() {
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        assert!(
            matches!(
                Key::hmac(DISTINCTIVE_SECRET, alg),
                Err(ConfigError::AlgorithmMismatch { .. })
            ),
            "{alg:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// RSA
// ---------------------------------------------------------------------------------------

#[test]
fn rsa_2048_key_loads_for_every_rsa_algorithm() {
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        let key = Key::rsa_pem(RSA_PUBLIC.as_bytes(), alg).unwrap();
        assert_eq!(key.algorithm(), alg);
    }
}

#[test]
fn rsa_1024_pem_key_is_refused() {
    assert!(matches!(
        Key::rsa_pem(RSA_1024_PUBLIC.as_bytes(), Algorithm::RS256),
        Err(ConfigError::WeakRsaKey { bits: 1024 })
    ));
}

#[test]
fn rsa_1024_jwk_is_refused() {
    assert!(matches!(
        from_jwk(&rsa_1024_jwk()),
        Err(ConfigError::WeakRsaKey { bits: 1024 })
    ));
}

#[test]
fn rsa_modulus_with_leading_zero_bytes_is_measured_by_its_significant_bits() {
    let mut n = vec![0u8; 64];
    n.extend(vec![0xc5; 128]);
    let jwk = json!({"kty": "RSA", "alg": "RS256", "n": b64(n), "e": "AQAB"});
    assert!(matches!(
        from_jwk(&jwk),
        Err(ConfigError::WeakRsaKey { bits: 1024 })
    ));
}

#[test]
fn rsa_key_cannot_be_bound_to_another_family() {
    for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA] {
        assert!(
            matches!(
                Key::rsa_pem(RSA_PUBLIC.as_bytes(), alg),
                Err(ConfigError::AlgorithmMismatch { .. })
            ),
            "{alg:?}"
        );
    }
}

#[test]
fn rsa_jwk_needs_an_algorithm() {
    let bare = patched(rsa_jwk(), json!({"alg": null}));
    assert!(matches!(
        from_jwk(&bare),
        Err(ConfigError::MissingAlgorithm)
    ));
    let key = Key::from_jwk(&bare.to_string(), Some(Algorithm::PS256)).unwrap();
    assert_eq!(key.algorithm(), Algorithm::PS256);
    let set = KeySet::from_public_jwks(&jwks(&[bare]), Some(Algorithm::RS256)).unwrap();
    assert_eq!(set.get("rsa").unwrap().algorithm(), Algorithm::RS256);
}

#[test]
fn jwk_alg_and_given_alg_must_agree() {
    assert!(matches!(
        Key::from_jwk(&rsa_jwk().to_string(), Some(Algorithm::PS256)),
        Err(ConfigError::AlgorithmMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// EC and Ed25519
// ---------------------------------------------------------------------------------------

#[test]
fn ec_and_ed25519_keys_load_from_pem_and_jwk() {
    assert_eq!(
        Key::ec_pem(P256_PUBLIC.as_bytes(), Algorithm::ES256)
            .unwrap()
            .algorithm(),
        Algorithm::ES256
    );
    assert_eq!(
        Key::ec_pem(P384_PUBLIC.as_bytes(), Algorithm::ES384)
            .unwrap()
            .algorithm(),
        Algorithm::ES384
    );
    assert_eq!(
        Key::ed25519_pem(ED25519_PUBLIC.as_bytes())
            .unwrap()
            .algorithm(),
        Algorithm::EdDSA
    );
    for (jwk, alg) in [
        (p256_jwk(), Algorithm::ES256),
        (p384_jwk(), Algorithm::ES384),
        (ed25519_jwk(), Algorithm::EdDSA),
    ] {
        // Without `alg` the curve decides.
        let bare = patched(jwk.clone(), json!({"alg": null}));
        for jwk in [jwk, bare] {
            assert_eq!(from_jwk(&jwk).unwrap().algorithm(), alg, "{jwk}");
        }
    }
}

#[test]
fn ed25519_jwk_is_bound_to_the_name_it_declares() {
    let declared = published_ed25519_jwk();
    let text = declared.to_string();
    assert_eq!(from_jwk(&declared).unwrap().algorithm(), Algorithm::Ed25519);
    let given = Key::from_jwk(&text, Some(Algorithm::Ed25519)).unwrap();
    assert_eq!(given.algorithm(), Algorithm::Ed25519);
    assert_eq!(given.kid(), Some("ed25519-1"));
    assert!(matches!(
        Key::from_jwk(&text, Some(Algorithm::EdDSA)),
        Err(ConfigError::AlgorithmMismatch { .. })
    ));

    let eddsa = patched(declared.clone(), json!({"alg": "EdDSA"}));
    assert_eq!(from_jwk(&eddsa).unwrap().algorithm(), Algorithm::EdDSA);
    assert!(matches!(
        Key::from_jwk(&eddsa.to_string(), Some(Algorithm::Ed25519)),
        Err(ConfigError::AlgorithmMismatch { .. })
    ));

    // Without `alg`: `EdDSA`, as before RFC 9864, unless the caller names the algorithm.
    let bare = patched(declared, json!({"alg": null}));
    assert_eq!(from_jwk(&bare).unwrap().algorithm(), Algorithm::EdDSA);
    let named = Key::from_jwk(&bare.to_string(), Some(Algorithm::Ed25519)).unwrap();
    assert_eq!(named.algorithm(), Algorithm::Ed25519);
}

#[test]
fn only_an_ed25519_key_can_be_bound_to_ed25519() {
    for jwk in [
        patched(p256_jwk(), json!({"alg": "Ed25519"})),
        patched(rsa_jwk(), json!({"alg": "Ed25519"})),
    ] {
        assert!(
            matches!(from_jwk(&jwk), Err(ConfigError::AlgorithmMismatch { .. })),
            "{jwk}"
        );
    }
    let oct = json!({"kty": "oct", "kid": "s", "alg": "Ed25519", "k": b64(DISTINCTIVE_SECRET)});
    assert!(matches!(
        KeySet::from_jwks(&jwks(&[oct])),
        Err(ConfigError::NoUsableKeys(_))
    ));
    for refused in [
        Key::hmac(DISTINCTIVE_SECRET, Algorithm::Ed25519),
        Key::rsa_pem(RSA_PUBLIC.as_bytes(), Algorithm::Ed25519),
        Key::ec_pem(P256_PUBLIC.as_bytes(), Algorithm::Ed25519),
    ] {
        assert!(matches!(
            refused,
            Err(ConfigError::AlgorithmMismatch {
                algorithm: Algorithm::Ed25519,
                ..
            })
        ));
    }
}

/// A `SigningKey` signs Ed25519 as `EdDSA`: jsonwebtoken's header cannot name `Ed25519`,
/// so no signing key is bound to it.
#[test]
fn no_signing_key_is_bound_to_ed25519() {
    let ed = SigningKey::ed25519_pem("ed", ED25519_PRIVATE.as_bytes()).unwrap();
    assert_eq!(ed.algorithm(), Algorithm::EdDSA);
    assert_eq!(ed.public_jwk().unwrap()["alg"], "EdDSA");
    for refused in [
        SigningKey::hmac("h", DISTINCTIVE_SECRET, Algorithm::Ed25519),
        SigningKey::rsa_pem("r", RSA_PRIVATE.as_bytes(), Algorithm::Ed25519),
        SigningKey::ec_pem("e", P256_PRIVATE.as_bytes(), Algorithm::Ed25519),
    ] {
        assert!(matches!(
            refused,
            Err(ConfigError::AlgorithmMismatch {
                algorithm: Algorithm::Ed25519,
                ..
            })
        ));
    }
}

#[test]
fn off_curve_ec_point_is_refused() {
    for jwk in [p256_jwk(), p384_jwk()] {
        let mut y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
        *y.last_mut().unwrap() ^= 1;
        let off_curve = patched(jwk, json!({ "y": b64(y) }));
        assert!(
            matches!(from_jwk(&off_curve), Err(ConfigError::InvalidKey(_))),
            "{off_curve}"
        );
    }
}

#[test]
fn ec_point_of_the_wrong_size_is_refused() {
    let jwk = p256_jwk();
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    for bad_x in [&x[1..], &[&x[..], &[0]].concat()[..], &[][..]] {
        let bad = patched(jwk.clone(), json!({ "x": b64(bad_x) }));
        assert!(
            matches!(from_jwk(&bad), Err(ConfigError::InvalidKey(_))),
            "x of {} bytes",
            bad_x.len()
        );
    }
    // The point at infinity and the all-zero point are not valid keys.
    let zero = patched(jwk, json!({"x": b64([0u8; 32]), "y": b64([0u8; 32])}));
    assert!(matches!(from_jwk(&zero), Err(ConfigError::InvalidKey(_))));
}

#[test]
fn curve_and_algorithm_must_agree() {
    let p384_as_es256 = patched(p384_jwk(), json!({"alg": "ES256"}));
    assert!(matches!(
        from_jwk(&p384_as_es256),
        Err(ConfigError::AlgorithmMismatch { .. })
    ));
    let p256_as_es384 = patched(p256_jwk(), json!({"alg": "ES384"}));
    assert!(matches!(
        from_jwk(&p256_as_es384),
        Err(ConfigError::AlgorithmMismatch { .. })
    ));
    assert!(Key::from_jwk(&p384_jwk().to_string(), Some(Algorithm::ES256)).is_err());
    assert!(Key::ec_pem(P384_PUBLIC.as_bytes(), Algorithm::ES256).is_err());
    assert!(Key::ec_pem(P256_PUBLIC.as_bytes(), Algorithm::ES384).is_err());
}

#[test]
fn unsupported_curves_and_key_types_are_refused() {
    for jwk in [
        patched(p256_jwk(), json!({"crv": "P-521", "alg": null})),
        patched(p256_jwk(), json!({"crv": "secp256k1", "alg": null})),
        patched(p256_jwk(), json!({"crv": null})),
        patched(ed25519_jwk(), json!({"crv": "Ed448", "alg": null})),
        patched(ed25519_jwk(), json!({"crv": "X25519", "alg": null})),
        json!({"kty": "DSA", "alg": "RS256"}),
    ] {
        assert!(
            matches!(from_jwk(&jwk), Err(ConfigError::InvalidKey(_))),
            "{jwk}"
        );
    }
}

#[test]
fn ed25519_key_of_the_wrong_length_is_refused() {
    let jwk = patched(ed25519_jwk(), json!({ "x": b64([9u8; 31]) }));
    assert!(matches!(from_jwk(&jwk), Err(ConfigError::InvalidKey(_))));
}

#[test]
fn jwk_with_alg_none_or_unknown_is_refused() {
    for alg in ["none", "HS1024", "ES512"] {
        let jwk = patched(p256_jwk(), json!({ "alg": alg }));
        assert!(
            matches!(from_jwk(&jwk), Err(ConfigError::UnsupportedAlgorithm(a)) if a == alg),
            "{alg}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// JWK members that forbid verification
// ---------------------------------------------------------------------------------------

#[test]
fn jwk_with_private_members_is_refused() {
    let private = b64([3u8; 32]);
    for (jwk, member) in [
        (p256_jwk(), "d"),
        (ed25519_jwk(), "d"),
        (rsa_jwk(), "d"),
        (rsa_jwk(), "p"),
        (rsa_jwk(), "q"),
        (rsa_jwk(), "dp"),
        (rsa_jwk(), "dq"),
        (rsa_jwk(), "qi"),
        (rsa_jwk(), "oth"),
    ] {
        let mut jwk = jwk;
        jwk[member] = json!(private);
        assert!(
            matches!(from_jwk(&jwk), Err(ConfigError::PrivateKeyMaterial)),
            "`{member}` in {}",
            jwk["kty"]
        );
    }
}

#[test]
fn symmetric_jwk_is_private_outside_a_local_set() {
    let oct = json!({"kty": "oct", "kid": "o", "alg": "HS256", "k": b64(DISTINCTIVE_SECRET)});
    assert!(matches!(
        from_jwk(&oct),
        Err(ConfigError::PrivateKeyMaterial)
    ));
    assert!(matches!(
        KeySet::from_public_jwks(&jwks(std::slice::from_ref(&oct)), None),
        Err(ConfigError::NoUsableKeys(_))
    ));
    let local = KeySet::from_jwks(&jwks(&[oct])).unwrap();
    assert_eq!(local.get("o").unwrap().algorithm(), Algorithm::HS256);
}

#[test]
fn short_or_empty_symmetric_jwk_is_refused() {
    for k in [b64([1u8; 31]), String::new()] {
        let oct = json!({"kty": "oct", "alg": "HS256", "k": k});
        assert!(matches!(
            KeySet::from_jwks(&jwks(&[oct])),
            Err(ConfigError::NoUsableKeys(_))
        ));
    }
}

#[test]
fn jwk_for_encryption_is_refused() {
    for use_ in ["enc", "ENC", "sig ", ""] {
        let jwk = patched(p256_jwk(), json!({ "use": use_ }));
        assert!(
            matches!(from_jwk(&jwk), Err(ConfigError::NotForVerification)),
            "use = {use_:?}"
        );
    }
    assert!(from_jwk(&patched(p256_jwk(), json!({"use": "sig"}))).is_ok());
}

#[test]
fn jwk_whose_key_ops_exclude_verify_is_refused() {
    for ops in [
        json!(["sign"]),
        json!(["encrypt", "decrypt"]),
        json!(["wrapKey"]),
        json!([]),
        json!(["Verify"]),
    ] {
        let jwk = patched(p256_jwk(), json!({ "key_ops": ops.clone() }));
        assert!(
            matches!(from_jwk(&jwk), Err(ConfigError::NotForVerification)),
            "key_ops = {ops}"
        );
    }
    for ops in [json!(["verify"]), json!(["sign", "verify"])] {
        assert!(from_jwk(&patched(p256_jwk(), json!({ "key_ops": ops }))).is_ok());
    }
}

// ---------------------------------------------------------------------------------------
// JWK Sets
// ---------------------------------------------------------------------------------------

#[test]
fn jwk_set_keeps_good_entries_and_lists_bad_ones() {
    let bad = patched(p384_jwk(), json!({"kid": "enc-key", "use": "enc"}));
    let good = patched(p256_jwk(), json!({"kid": "good"}));
    let set = KeySet::from_public_jwks(&jwks(&[bad, good]), None).unwrap();
    assert_eq!(set.len(), 1);
    assert!(set.get("good").is_some());
    assert!(set.get("enc-key").is_none());
    assert_eq!(set.skipped().len(), 1);
    assert!(
        set.skipped()[0].starts_with("enc-key:"),
        "{:?}",
        set.skipped()
    );
}

#[test]
fn every_kind_of_bad_entry_is_skipped_alone() {
    let mut off_curve = p256_jwk();
    off_curve["kid"] = json!("off-curve");
    off_curve["y"] = json!(b64([1u8; 32]));
    let entries = [
        patched(p256_jwk(), json!({"kid": "private", "d": b64([3u8; 32])})),
        patched(p256_jwk(), json!({"kid": "enc", "use": "enc"})),
        patched(p256_jwk(), json!({"kid": "ops", "key_ops": ["sign"]})),
        patched(rsa_1024_jwk(), json!({"kid": "weak-rsa"})),
        off_curve,
        patched(p384_jwk(), json!({"kid": "crv-alg", "alg": "ES256"})),
        json!({"kid": "not-a-jwk", "kty": 5}),
        json!("not an object"),
        patched(ed25519_jwk(), json!({"kid": "good"})),
    ];
    let set = KeySet::from_public_jwks(&jwks(&entries), None).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.iter().next().unwrap().kid(), Some("good"));
    assert_eq!(
        set.skipped().len(),
        entries.len() - 1,
        "{:?}",
        set.skipped()
    );
    assert!(
        set.skipped().iter().any(|s| s.starts_with("#7:")),
        "unnamed entries are numbered"
    );
}

#[test]
fn jwk_set_loads_keys_declaring_ed25519() {
    for set in [
        KeySet::from_public_jwks(ED25519_JWKS, None),
        KeySet::from_public_jwks(ED25519_JWKS, Some(Algorithm::RS256)),
        KeySet::from_jwks(ED25519_JWKS),
    ] {
        let set = set.unwrap();
        assert!(set.skipped().is_empty(), "{:?}", set.skipped());
        let key = set.get("ed25519-1").unwrap();
        assert_eq!(key.algorithm(), Algorithm::Ed25519);
    }
    // The same key published under both names, as during a migration.
    let eddsa = patched(
        published_ed25519_jwk(),
        json!({"kid": "eddsa-1", "alg": "EdDSA"}),
    );
    let set = KeySet::from_public_jwks(&jwks(&[published_ed25519_jwk(), eddsa]), None).unwrap();
    assert_eq!(set.len(), 2, "{:?}", set.skipped());
    assert_eq!(set.get("eddsa-1").unwrap().algorithm(), Algorithm::EdDSA);
    assert_eq!(
        set.get("ed25519-1").unwrap().algorithm(),
        Algorithm::Ed25519
    );
}

#[test]
fn duplicate_kids_in_a_jwk_set_are_both_skipped() {
    let entries = [
        patched(p256_jwk(), json!({"kid": "dup"})),
        patched(p384_jwk(), json!({"kid": "dup"})),
        patched(ed25519_jwk(), json!({"kid": "unique"})),
    ];
    let set = KeySet::from_public_jwks(&jwks(&entries), None).unwrap();
    assert_eq!(set.len(), 1);
    assert!(set.get("dup").is_none());
    assert!(set.get("unique").is_some());
    let dup_reasons = set.skipped().iter().filter(|s| s.starts_with("dup:"));
    assert_eq!(dup_reasons.count(), 2, "{:?}", set.skipped());
}

#[test]
fn jwk_set_without_a_usable_key_is_refused() {
    let entries = [
        patched(p256_jwk(), json!({"kid": "a", "use": "enc"})),
        patched(p256_jwk(), json!({"kid": "b", "d": "AAAA"})),
    ];
    assert!(matches!(
        KeySet::from_public_jwks(&jwks(&entries), None),
        Err(ConfigError::NoUsableKeys(reasons)) if reasons.len() == 2
    ));
    assert!(matches!(
        KeySet::from_public_jwks(&jwks(&[]), None),
        Err(ConfigError::NoUsableKeys(_))
    ));
}

#[test]
fn malformed_jwk_set_documents_are_refused() {
    for doc in ["", "[]", "{}", r#"{"keys":{}}"#, r#"{"keys":[]"#] {
        assert!(KeySet::from_public_jwks(doc, None).is_err(), "{doc:?}");
    }
}

#[test]
fn key_set_refuses_a_second_key_with_one_kid() {
    let mut set = KeySet::new();
    set.insert(
        Key::hmac(DISTINCTIVE_SECRET, Algorithm::HS256)
            .unwrap()
            .with_kid("k"),
    )
    .unwrap();
    let again = Key::ec_pem(P256_PUBLIC.as_bytes(), Algorithm::ES256)
        .unwrap()
        .with_kid("k");
    assert!(matches!(set.insert(again), Err(ConfigError::DuplicateKeyId(kid)) if kid == "k"));
    assert_eq!(set.len(), 1);
}

#[test]
fn jwk_set_file_is_read() {
    let path = std::env::temp_dir().join(format!("tollgate-keys-{}.json", std::process::id()));
    std::fs::write(&path, jwks(&[patched(p256_jwk(), json!({"kid": "file"}))])).unwrap();
    let loaded = KeySet::from_jwks_file(&path);
    std::fs::remove_file(&path).unwrap();
    assert!(loaded.unwrap().get("file").is_some());
    assert!(matches!(
        KeySet::from_jwks_file(path),
        Err(ConfigError::Io(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Debug output never shows key material
// ---------------------------------------------------------------------------------------

/// Asserts that `debug` holds no recognisable form of [`DISTINCTIVE_SECRET`].
fn assert_no_secret(what: &str, debug: &str) {
    let text = String::from_utf8_lossy(DISTINCTIVE_SECRET);
    let as_list = format!("{:?}", &DISTINCTIVE_SECRET[..8]);
    let as_list = as_list.trim_end_matches(']');
    for form in [
        &text[4..20],
        as_list,
        &b64(DISTINCTIVE_SECRET)[..16],
        &STANDARD.encode(DISTINCTIVE_SECRET)[..16],
        "DISTINCTIVE",
    ] {
        assert!(!debug.contains(form), "{what} shows {form:?}: {debug}");
    }
}

#[test]
fn debug_of_hmac_keys_hides_the_secret() {
    let key = Key::hmac(DISTINCTIVE_SECRET, Algorithm::HS512)
        .unwrap()
        .with_kid("k");
    let signing = SigningKey::hmac("k", DISTINCTIVE_SECRET, Algorithm::HS512).unwrap();
    let set = KeySet::from(key.clone());
    let verifier = Verifier::builder().key(key.clone()).build().unwrap();
    let signer = Signer::builder(signing.clone())
        .issuer("https://auth.example")
        .build()
        .unwrap();
    for (what, debug) in [
        ("Key", format!("{key:?}")),
        ("Key (alternate)", format!("{key:#?}")),
        ("SigningKey", format!("{signing:?}")),
        ("SigningKey (alternate)", format!("{signing:#?}")),
        ("KeySet", format!("{set:#?}")),
        ("Verifier", format!("{verifier:#?}")),
        ("Signer", format!("{signer:#?}")),
    ] {
        assert_no_secret(what, &debug);
        assert!(debug.contains("redacted"), "{what}: {debug}");
    }
}

#[test]
fn debug_of_private_keys_hides_the_pem() {
    for (pem, signing) in [
        (
            RSA_PRIVATE,
            SigningKey::rsa_pem("rsa", RSA_PRIVATE.as_bytes(), Algorithm::RS256).unwrap(),
        ),
        (
            P256_PRIVATE,
            SigningKey::ec_pem("ec", P256_PRIVATE.as_bytes(), Algorithm::ES256).unwrap(),
        ),
        (
            ED25519_PRIVATE,
            SigningKey::ed25519_pem("ed", ED25519_PRIVATE.as_bytes()).unwrap(),
        ),
    ] {
        let debug = format!("{signing:#?}");
        let body_line = pem.lines().nth(1).unwrap();
        assert!(!debug.contains(&body_line[..24]), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
    }
}

#[test]
fn weak_secret_error_does_not_quote_the_secret() {
    let short = &DISTINCTIVE_SECRET[..31];
    let error = Key::hmac(short, Algorithm::HS256).unwrap_err();
    assert_no_secret("ConfigError Display", &error.to_string());
    assert_no_secret("ConfigError Debug", &format!("{error:?}"));
}

#[test]
fn a_kid_no_token_could_name_is_refused_at_load() {
    for kid in [
        String::new(),
        "k".repeat(tollgate::keys::MAX_KID_LEN + 1),
        "a\nb".to_owned(),
    ] {
        let key = Key::hmac(&[9u8; 32], Algorithm::HS256)
            .unwrap()
            .with_kid(kid);
        assert!(matches!(
            KeySet::new().insert(key),
            Err(ConfigError::InvalidKey(_))
        ));
    }
    let longest = Key::hmac(&[9u8; 32], Algorithm::HS256)
        .unwrap()
        .with_kid("k".repeat(tollgate::keys::MAX_KID_LEN));
    assert!(KeySet::new().insert(longest).is_ok());
}
