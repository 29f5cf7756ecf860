//! `Verifier::verify_at` on arbitrary input, with verifiers holding HMAC, EC (P-256,
//! P-384), Ed25519 and RSA (PKCS#1 v1.5 and PSS) keys, a lenient configuration and an
//! `any_of` dispatcher.
//!
//! Two modes, chosen by the first byte:
//! - `0x01`: the rest is `header JSON 0xFF claims JSON`; the harness base64url-encodes both
//!   and signs them with the trusted HS256 key, so the fuzzer reaches the claim rules
//!   behind the signature check (which it could never pass on its own);
//! - anything else: the whole input (lossy UTF-8) is the token.
//!
//! Besides "no panic", every accepted token must satisfy what the verifier promises: it
//! verifies again identically, its segments are canonical base64url, its signature
//! verifies through jsonwebtoken with a trusted key of its `alg`, its claims are the
//! payload's JSON, and the configured claim rules hold. No error message may quote the
//! token.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::OnceLock;
use tollgate::{Algorithm, Error, VerifiedToken, Verifier};
use tollgate_fuzz::{
    AUDIENCE, HS256_SECRET, HS512_SECRET, ISSUER, ISSUER2, NOW, OTHER_HS256_SECRET, fixture,
};

#[derive(Clone, Copy, Debug)]
enum Config {
    Strict,
    Lenient,
    Multi,
}

/// Every key any verifier trusts, for the independent signature check.
fn all_decoding_keys() -> &'static [(Algorithm, DecodingKey)] {
    static KEYS: OnceLock<Vec<(Algorithm, DecodingKey)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys: Vec<_> = fixture()
            .keys
            .iter()
            .map(|k| (k.alg, k.decoding.clone()))
            .collect();
        keys.push((
            Algorithm::HS256,
            DecodingKey::from_secret(OTHER_HS256_SECRET).unwrap(),
        ));
        keys.push((
            Algorithm::HS512,
            DecodingKey::from_secret(HS512_SECRET).unwrap(),
        ));
        keys
    })
}

/// A fingerprint of everything a `VerifiedToken` exposes.
fn summary(t: &VerifiedToken) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}|{}",
        t.algorithm(),
        t.key_id(),
        t.registered(),
        t.roles(),
        t.scopes(),
        t.revocation_id(),
        t.accepted_until(),
        t.claims()
    )
}

fn error_text(e: &Error) -> String {
    let mut text = format!("{e} [{}] {:?}", e.kind().code(), e.kind());
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(" / {s}"));
        source = s.source();
    }
    text
}

fn check_refused(token: &str, e: &Error) {
    let text = error_text(e);
    for segment in token.split('.') {
        let long_b64 = segment.len() >= 24
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        assert!(
            !(long_b64 && text.contains(segment)),
            "error message quotes the token: {text}"
        );
    }
}

fn check_accepted(config: Config, verifier: &Verifier, token: &str, t: &VerifiedToken) {
    // Deterministic: verifying again gives the same result.
    let again = verifier
        .verify_at(token, NOW)
        .expect("accepted token refused the second time");
    assert_eq!(summary(t), summary(&again));

    // Shape: bounded, three canonical base64url segments.
    assert!(token.len() <= 8 * 1024);
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "accepted token without three segments");
    let mut decoded = Vec::new();
    for segment in &segments {
        let bytes = URL_SAFE_NO_PAD
            .decode(segment)
            .expect("accepted segment is base64url");
        assert_eq!(
            &URL_SAFE_NO_PAD.encode(&bytes),
            segment,
            "non-canonical base64url accepted"
        );
        decoded.push(bytes);
    }

    // Header: an object whose `alg` is the one reported, no `crit`.
    let header: Value = serde_json::from_slice(&decoded[0]).expect("header is JSON");
    let header = header.as_object().expect("header is an object");
    let alg = header["alg"].as_str().expect("alg is a string");
    assert_eq!(alg, format!("{:?}", t.algorithm()));
    assert!(!header.contains_key("crit"));
    if let Some(kid) = header.get("kid") {
        assert_eq!(
            kid.as_str(),
            t.key_id(),
            "reported kid differs from the header's"
        );
    }

    // Signature: some trusted key of that algorithm verifies it, checked through
    // jsonwebtoken's own API rather than tollgate's key selection.
    let message = &token[..segments[0].len() + 1 + segments[1].len()];
    let signed = all_decoding_keys().iter().any(|(a, key)| {
        *a == t.algorithm()
            && jsonwebtoken::crypto::verify(
                segments[2],
                message.as_bytes(),
                key,
                tollgate_fuzz::jsonwebtoken_algorithm(*a),
            )
            .unwrap_or(false)
    });
    assert!(
        signed,
        "accepted token has no valid signature by a trusted key"
    );

    // Claims: exactly the payload's JSON object.
    let claims: Value = serde_json::from_slice(&decoded[1]).expect("claims are JSON");
    assert!(claims.is_object());
    assert_eq!(&claims, t.claims());
    let reg = t.registered();
    assert!(!t.revocation_id().is_empty());

    match config {
        Config::Strict | Config::Multi => {
            let exp = reg.exp.expect("strict: exp required");
            assert!(exp.saturating_add(60) > NOW, "expired token accepted");
            assert!(
                reg.nbf.is_none_or(|nbf| nbf <= NOW + 60),
                "nbf in the future accepted"
            );
            let iss = reg.iss.as_deref().expect("iss required");
            if let Config::Strict = config {
                assert_eq!(iss, ISSUER);
                assert!(
                    reg.aud.iter().any(|a| a == AUDIENCE),
                    "wrong audience accepted"
                );
            } else {
                assert!(iss == ISSUER || iss == ISSUER2);
                if iss == ISSUER {
                    assert!(reg.aud.iter().any(|a| a == AUDIENCE));
                } else {
                    assert_eq!(t.algorithm(), Algorithm::HS512);
                }
            }
        }
        Config::Lenient => {
            assert!(
                reg.exp.is_none_or(|exp| exp > NOW),
                "expired token accepted"
            );
            assert!(reg.nbf.is_none_or(|nbf| nbf <= NOW));
            assert!(
                reg.iat.is_none_or(|iat| iat <= NOW),
                "iat in the future accepted"
            );
            // `require_claim` asks for presence in the claim set (an empty `jti` is
            // present, though it reads as no `jti`).
            assert!(reg.sub.is_some() && t.claims().get("jti").is_some());
            assert!(
                reg.jti.as_deref() != Some(""),
                "an empty jti names the token"
            );
            let typ = header
                .get("typ")
                .and_then(Value::as_str)
                .expect("typ required");
            let typ = typ.to_ascii_lowercase();
            assert!(
                typ == "at+jwt" || typ == "application/at+jwt",
                "wrong typ accepted: {typ}"
            );
            assert!(token.len() <= 4096);
        }
    }
}

/// With `TOLLGATE_FUZZ_TRACE` set, each verdict is printed to stderr (replay a corpus with
/// `-runs=0` to see which refusals it reaches).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("TOLLGATE_FUZZ_TRACE").is_some())
}

fn run(token: &str) {
    let fx = fixture();
    for (config, verifier) in [
        (Config::Strict, &fx.strict),
        (Config::Lenient, &fx.lenient),
        (Config::Multi, &fx.multi),
    ] {
        let verdict = verifier.verify_at(token, NOW);
        if trace() {
            let code = verdict
                .as_ref()
                .map_or_else(|e| e.kind().code(), |_| "accepted");
            eprintln!("verdict: {config:?} {code}");
        }
        match verdict {
            Ok(t) => check_accepted(config, verifier, token, &t),
            Err(e) => check_refused(token, &e),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let [1, rest @ ..] = data {
        let (header, payload) = match rest.iter().position(|b| *b == 0xFF) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b"{}"[..]),
        };
        let key = jsonwebtoken::EncodingKey::from_secret(HS256_SECRET).unwrap();
        let token = tollgate_fuzz::sign_raw(header, payload, &key, Algorithm::HS256);
        run(&token);
    } else {
        let token: Cow<'_, str> = String::from_utf8_lossy(data);
        run(&token);
    }
});
