//! JWK and JWK Set parsing: arbitrary bytes (lossy UTF-8) through `KeySet::from_jwks`,
//! `KeySet::from_public_jwks` (without and with a default RSA algorithm) and
//! `Key::from_jwk` (without and with a given algorithm). Every set that loads is then put
//! in a verifier that checks one kid-less token per algorithm with it, so a key that
//! loads but breaks the crypto backend would show.
//!
//! Checked besides "no panic": a loaded set is non-empty, its `kid`s are unique,
//! plausible and found by `get`; every entry of the document is either loaded or listed
//! in `skipped`; a published set never yields an HMAC key; what loads as a published set
//! also loads as a local one; a default algorithm only adds keys (it binds RSA keys
//! without `alg`, and must not drop keys that declare one); `Key::from_jwk` with a given
//! algorithm returns a key bound to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::collections::HashSet;
use tollgate::{Algorithm, Key, KeySet, Verifier};
use tollgate_fuzz::{NOW, kidless_tokens};

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

fn kids(set: &KeySet) -> HashSet<String> {
    set.iter()
        .filter_map(|k| k.kid().map(str::to_owned))
        .collect()
}

/// How many entries the document's `keys` array has, read as serde would read `JwkSetDoc`
/// (an object with `keys`, or a one-element sequence).
fn entry_count(text: &str) -> Option<usize> {
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Object(map) => map.get("keys")?.as_array().map(Vec::len),
        Value::Array(items) => items.first()?.as_array().map(Vec::len),
        _ => None,
    }
}

fn check_set(text: &str, set: &KeySet, public: bool) {
    assert!(!set.is_empty(), "an empty set loaded");
    let mut seen = HashSet::new();
    for key in set.iter() {
        if let Some(kid) = key.kid() {
            assert!(seen.insert(kid), "duplicate kid {kid:?}");
            assert!(!kid.is_empty() && kid.len() <= tollgate::keys::MAX_KID_LEN);
            assert!(!kid.chars().any(char::is_control));
            assert_eq!(set.get(kid).and_then(Key::kid), Some(kid));
        }
        if public {
            assert!(
                !is_hmac(key.algorithm()),
                "a published set yielded an HMAC key"
            );
        }
    }
    if let Some(entries) = entry_count(text) {
        assert_eq!(
            set.len() + set.skipped().len(),
            entries,
            "an entry neither loaded nor skipped"
        );
    }
    // Use the keys: one kid-less token per algorithm, every key of that algorithm tried.
    if set.len() <= 8 {
        let verifier = Verifier::builder()
            .keys(set.clone())
            .try_all_keys(true)
            .require_exp(false)
            .build()
            .expect("a loaded set builds a verifier");
        for token in kidless_tokens() {
            let _ = verifier.verify_at(token, NOW);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    let local = KeySet::from_jwks(text);
    let public = KeySet::from_public_jwks(text, None);
    let public_rs = KeySet::from_public_jwks(text, Some(Algorithm::RS256));
    let public_ps = KeySet::from_public_jwks(text, Some(Algorithm::PS512));
    if let Ok(set) = &local {
        check_set(text, set, false);
    }
    for set in [&public, &public_rs, &public_ps].into_iter().flatten() {
        check_set(text, set, true);
    }
    if let Ok(public) = &public {
        let local = local
            .as_ref()
            .expect("a published set that loads also loads locally");
        assert!(public.len() <= local.len());
        assert!(kids(public).is_subset(&kids(local)));
        for with_default in [&public_rs, &public_ps] {
            let with_default = with_default
                .as_ref()
                .expect("a default RSA algorithm refused a set that loads without one");
            assert!(
                kids(public).is_subset(&kids(with_default)),
                "a default RSA algorithm dropped a key that declares its own alg"
            );
        }
    }

    for given in [
        None,
        Some(Algorithm::RS256),
        Some(Algorithm::PS384),
        Some(Algorithm::ES256),
        Some(Algorithm::ES384),
        Some(Algorithm::EdDSA),
        Some(Algorithm::HS256),
    ] {
        if let Ok(key) = Key::from_jwk(text, given) {
            if let Some(given) = given {
                assert_eq!(key.algorithm(), given);
            }
            assert!(!is_hmac(key.algorithm()), "Key::from_jwk loaded a secret");
        }
    }
});
