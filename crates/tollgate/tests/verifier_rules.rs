//! Every rule of the `Verifier`, from both sides: the token it must accept and the token it
//! must refuse, with the exact `ErrorKind`. The cases follow `docs/security-cases.md`.
//!
//! Malicious tokens are built by hand: the header and payload are written as raw bytes,
//! base64url-encoded, and signed with `jsonwebtoken::crypto::sign`, so that a token can be
//! exactly as broken as a test needs. Time is fixed with `Verifier::verify_at`.

mod fixtures;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fixtures::*;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use tollgate::{Algorithm, ErrorKind, Key, VerifiedToken, Verifier, VerifierBuilder};

/// The verification time of every test, seconds since the Unix epoch.
const NOW: u64 = 1_700_000_000;
/// The HS256 secret of the default test verifier: 40 bytes, above the 32-byte minimum.
const SECRET: &[u8] = b"verifier-rules-hs256-secret-0123456789ab";
/// Another valid secret: what an attacker signs with, or a second configured key.
const OTHER_SECRET: &[u8] = b"some-other-hs256-secret-0123456789abcdef";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Makes sure jsonwebtoken has a crypto provider before a test calls it directly: with
/// both backends compiled in, it has none until tollgate installs one, which building any
/// verifier does.
fn install_crypto_provider() {
    let _ = Verifier::builder().build();
}

/// The jsonwebtoken algorithm that makes `alg`'s signatures: `Ed25519` (RFC 9864), which
/// jsonwebtoken does not name, is its `EdDSA`.
fn signed_as(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::Ed25519 => jsonwebtoken::Algorithm::EdDSA,
        other => other.as_str().parse().expect("a jsonwebtoken algorithm"),
    }
}

/// Signs the already-encoded `h64.p64` exactly as written and appends the signature.
fn sign_segments(h64: &str, p64: &str, key: &EncodingKey, alg: Algorithm) -> String {
    install_crypto_provider();
    let message = format!("{h64}.{p64}");
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), key, signed_as(alg)).expect("signing");
    format!("{message}.{signature}")
}

/// A token whose header and payload are `header` and `payload` byte for byte, signed
/// HS256 with [`SECRET`].
fn hs256_raw(header: &[u8], payload: &[u8]) -> String {
    sign_segments(
        &b64(header),
        &b64(payload),
        &hmac_signer(),
        Algorithm::HS256,
    )
}

/// A token with `header` and `claims`, signed by `key` with the algorithm the header names.
fn sign(header: Value, claims: Value, key: &EncodingKey) -> String {
    let alg = header["alg"].as_str().expect("header names an alg");
    let alg: Algorithm = alg.parse().expect("a signing algorithm");
    sign_segments(&b64(header.to_string()), &b64(claims.to_string()), key, alg)
}

/// A token with `header` and `claims`, signed with [`SECRET`].
fn hs256_with_header(header: Value, claims: Value) -> String {
    sign(header, claims, &hmac_signer())
}

/// An ordinary HS256 token carrying `claims`.
fn hs256(claims: Value) -> String {
    hs256_with_header(json!({"alg": "HS256", "typ": "JWT"}), claims)
}

/// Claims that pass the default verifier at [`NOW`].
fn valid_claims() -> Value {
    json!({"sub": "alice", "exp": NOW + 300})
}

/// [`valid_claims`] with the members of `patch` added or replaced.
fn claims_with(patch: Value) -> Value {
    let mut claims = valid_claims();
    let map = claims.as_object_mut().unwrap();
    for (name, value) in patch.as_object().expect("patch is an object") {
        map.insert(name.clone(), value.clone());
    }
    claims
}

/// [`valid_claims`] without the member `name`.
fn claims_without(name: &str) -> Value {
    let mut claims = valid_claims();
    claims.as_object_mut().unwrap().remove(name);
    claims
}

fn hmac_signer() -> EncodingKey {
    EncodingKey::from_secret(SECRET).unwrap()
}

fn rsa_signer() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap()
}

fn p256_signer() -> EncodingKey {
    EncodingKey::from_ec_pem(P256_PRIVATE.as_bytes()).unwrap()
}

fn p384_signer() -> EncodingKey {
    EncodingKey::from_ec_pem(P384_PRIVATE.as_bytes()).unwrap()
}

fn ed25519_signer() -> EncodingKey {
    EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).unwrap()
}

fn hs256_key() -> Key {
    Key::hmac(SECRET, Algorithm::HS256).unwrap()
}

fn rsa_key(alg: Algorithm) -> Key {
    Key::rsa_pem(RSA_PUBLIC.as_bytes(), alg).unwrap()
}

fn p256_key() -> Key {
    Key::ec_pem(P256_PUBLIC.as_bytes(), Algorithm::ES256).unwrap()
}

fn p384_key() -> Key {
    Key::ec_pem(P384_PUBLIC.as_bytes(), Algorithm::ES384).unwrap()
}

fn ed25519_key() -> Key {
    Key::ed25519_pem(ED25519_PUBLIC.as_bytes()).unwrap()
}

/// The fixture Ed25519 key as its identity provider publishes it: a JWK with
/// `"alg": "Ed25519"` and kid `ed25519-1`.
fn ed25519_jwk() -> Value {
    let set: Value = serde_json::from_str(ED25519_JWKS).unwrap();
    set["keys"][0].clone()
}

/// [`ed25519_jwk`] as a key, with its `alg` replaced by `alg` (`None`: removed).
fn ed25519_jwk_key(alg: Option<Algorithm>) -> Key {
    let mut jwk = ed25519_jwk();
    match alg {
        Some(alg) => jwk["alg"] = json!(alg),
        None => drop(jwk.as_object_mut().unwrap().remove("alg")),
    }
    Key::from_jwk(&jwk.to_string(), None).unwrap()
}

/// The default verifier's builder: one HS256 key, no issuer or audience.
fn builder() -> VerifierBuilder {
    Verifier::builder().key(hs256_key())
}

fn verifier() -> Verifier {
    builder().build().unwrap()
}

fn verifier_with(key: Key) -> Verifier {
    Verifier::builder().key(key).build().unwrap()
}

/// Verifies `token` at [`NOW`]: `Ok(())`, or the kind of the error.
fn outcome(verifier: &Verifier, token: &str) -> Result<(), ErrorKind> {
    verifier
        .verify_at(token, NOW)
        .map(drop)
        .map_err(|e| e.kind())
}

/// Verifies `token` at [`NOW`], failing the test if it is refused.
fn accepted(verifier: &Verifier, token: &str) -> VerifiedToken {
    verifier
        .verify_at(token, NOW)
        .unwrap_or_else(|e| panic!("token refused: {:?}", e.kind()))
}

fn segments(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

fn signature_of(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segments(token)[2]).unwrap()
}

/// `token` with its signature replaced by `signature`.
fn with_signature(token: &str, signature: &[u8]) -> String {
    let s = segments(token);
    format!("{}.{}.{}", s[0], s[1], b64(signature))
}

/// `token` with one bit of its signature flipped.
fn flip_signature_bit(token: &str, byte: usize, bit: u8) -> String {
    let mut signature = signature_of(token);
    signature[byte] ^= 1 << bit;
    with_signature(token, &signature)
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------
// exp, nbf, iat
// ---------------------------------------------------------------------------------------

mod time_claims {
    //! With the default 60 s leeway a token is expired iff `exp + 60 <= now`, and not yet
    //! valid iff `nbf > now + 60`.

    use super::*;
    use std::time::Duration;

    fn with_exp(exp: impl Into<Value>) -> String {
        hs256(claims_with(json!({ "exp": exp.into() })))
    }

    #[test]
    fn exp_one_second_inside_the_leeway_is_accepted() {
        assert_eq!(outcome(&verifier(), &with_exp(NOW - 59)), Ok(()));
    }

    #[test]
    fn exp_exactly_at_the_leeway_is_refused() {
        assert_eq!(
            outcome(&verifier(), &with_exp(NOW - 60)),
            Err(ErrorKind::Expired)
        );
    }

    #[test]
    fn exp_one_second_outside_the_leeway_is_refused() {
        assert_eq!(
            outcome(&verifier(), &with_exp(NOW - 61)),
            Err(ErrorKind::Expired)
        );
    }

    #[test]
    fn exp_follows_a_custom_leeway() {
        let strict = builder().leeway(Duration::ZERO).build().unwrap();
        assert_eq!(outcome(&strict, &with_exp(NOW + 1)), Ok(()));
        assert_eq!(outcome(&strict, &with_exp(NOW)), Err(ErrorKind::Expired));
        let lax = builder().leeway(Duration::from_secs(300)).build().unwrap();
        assert_eq!(outcome(&lax, &with_exp(NOW - 299)), Ok(()));
        assert_eq!(outcome(&lax, &with_exp(NOW - 300)), Err(ErrorKind::Expired));
    }

    #[test]
    fn exp_far_in_the_future_does_not_overflow() {
        assert_eq!(outcome(&verifier(), &with_exp(u64::MAX)), Ok(()));
    }

    #[test]
    fn fractional_exp_is_read_as_whole_seconds() {
        assert_eq!(outcome(&verifier(), &with_exp(NOW as f64 + 0.5)), Ok(()));
        assert_eq!(
            outcome(&verifier(), &with_exp((NOW - 61) as f64 + 0.5)),
            Err(ErrorKind::Expired)
        );
    }

    #[test]
    fn missing_exp_is_refused_by_default() {
        assert_eq!(
            outcome(&verifier(), &hs256(claims_without("exp"))),
            Err(ErrorKind::MissingClaim("exp"))
        );
    }

    #[test]
    fn missing_exp_is_accepted_when_not_required() {
        let verifier = builder().require_exp(false).build().unwrap();
        assert_eq!(outcome(&verifier, &hs256(claims_without("exp"))), Ok(()));
        // A present exp is still enforced.
        assert_eq!(
            outcome(&verifier, &with_exp(NOW - 61)),
            Err(ErrorKind::Expired)
        );
    }

    #[test]
    fn exp_of_the_wrong_type_or_range_is_refused() {
        let verifier = verifier();
        for exp in [
            json!((NOW + 300).to_string()),
            json!(-1),
            json!(-(NOW as i64)),
            json!(1e300),
            json!(null),
            json!(true),
            json!([NOW + 300]),
            json!({"t": NOW + 300}),
        ] {
            assert_eq!(
                outcome(&verifier, &with_exp(exp.clone())),
                Err(ErrorKind::InvalidClaim("exp")),
                "exp = {exp}"
            );
        }
    }

    #[test]
    fn exp_beyond_f64_range_is_refused_by_the_parser() {
        let token = hs256_raw(br#"{"alg":"HS256"}"#, br#"{"sub":"alice","exp":1e400}"#);
        assert_eq!(
            outcome(&verifier(), &token),
            Err(ErrorKind::MalformedClaims)
        );
    }

    #[test]
    fn nbf_inside_the_leeway_is_accepted() {
        let token = hs256(claims_with(json!({"nbf": NOW + 60})));
        assert_eq!(outcome(&verifier(), &token), Ok(()));
    }

    #[test]
    fn nbf_later_than_now_plus_leeway_is_refused() {
        let token = hs256(claims_with(json!({"nbf": NOW + 61})));
        assert_eq!(outcome(&verifier(), &token), Err(ErrorKind::NotYetValid));
    }

    #[test]
    fn nbf_of_the_wrong_type_is_refused() {
        let token = hs256(claims_with(json!({"nbf": "0"})));
        assert_eq!(
            outcome(&verifier(), &token),
            Err(ErrorKind::InvalidClaim("nbf"))
        );
    }

    #[test]
    fn future_iat_is_ignored_by_default() {
        let token = hs256(claims_with(json!({"iat": NOW + 3600})));
        assert_eq!(outcome(&verifier(), &token), Ok(()));
    }

    #[test]
    fn future_iat_is_refused_when_validated() {
        let verifier = builder().validate_iat(true).build().unwrap();
        let inside = hs256(claims_with(json!({"iat": NOW + 60})));
        let outside = hs256(claims_with(json!({"iat": NOW + 61})));
        assert_eq!(outcome(&verifier, &inside), Ok(()));
        assert_eq!(outcome(&verifier, &outside), Err(ErrorKind::IssuedInFuture));
    }

    #[test]
    fn exp_further_ahead_than_the_max_lifetime_is_refused() {
        let verifier = builder()
            .max_lifetime(Duration::from_secs(3600))
            .build()
            .unwrap();
        assert_eq!(outcome(&verifier, &with_exp(NOW + 3600)), Ok(()));
        assert_eq!(
            outcome(&verifier, &with_exp(NOW + 3601)),
            Err(ErrorKind::LifetimeTooLong)
        );
        assert_eq!(
            outcome(&builder().build().unwrap(), &with_exp(NOW + 3601)),
            Ok(())
        );
        // What counts is how long the token can still live: it passes once time has come
        // closer to its `exp`.
        let long = with_exp(NOW + 7200);
        assert_eq!(
            verifier
                .verify_at(&long, NOW + 3600)
                .map(drop)
                .map_err(|e| e.kind()),
            Ok(())
        );
    }

    #[test]
    fn iat_of_the_wrong_type_is_refused() {
        let token = hs256(claims_with(json!({"iat": -5})));
        assert_eq!(
            outcome(&verifier(), &token),
            Err(ErrorKind::InvalidClaim("iat"))
        );
    }
}

// ---------------------------------------------------------------------------------------
// iss, aud, required claims
// ---------------------------------------------------------------------------------------

mod issuer_and_audience {
    use super::*;

    const ISSUER: &str = "https://issuer.example";

    fn with_iss(iss: impl Into<Value>) -> String {
        hs256(claims_with(json!({ "iss": iss.into() })))
    }

    fn with_aud(aud: Value) -> String {
        hs256(claims_with(json!({ "aud": aud })))
    }

    fn issuer_verifier() -> Verifier {
        builder().issuer(ISSUER).build().unwrap()
    }

    fn audience_verifier() -> Verifier {
        builder().audience("api").build().unwrap()
    }

    #[test]
    fn exact_issuer_is_accepted() {
        assert_eq!(outcome(&issuer_verifier(), &with_iss(ISSUER)), Ok(()));
    }

    #[test]
    fn issuer_differing_by_slash_case_or_space_is_refused() {
        let verifier = issuer_verifier();
        for iss in [
            "https://issuer.example/",
            "https://Issuer.example",
            "HTTPS://ISSUER.EXAMPLE",
            " https://issuer.example",
            "https://issuer.example.evil",
            "https://issuer.exampl",
            "",
        ] {
            assert_eq!(
                outcome(&verifier, &with_iss(iss)),
                Err(ErrorKind::WrongIssuer),
                "iss = {iss:?}"
            );
        }
    }

    #[test]
    fn missing_issuer_is_refused_when_configured() {
        assert_eq!(
            outcome(&issuer_verifier(), &hs256(valid_claims())),
            Err(ErrorKind::MissingClaim("iss"))
        );
    }

    #[test]
    fn issuer_of_the_wrong_type_is_refused() {
        for iss in [json!([ISSUER]), json!(1), json!(null)] {
            assert_eq!(
                outcome(&issuer_verifier(), &with_iss(iss.clone())),
                Err(ErrorKind::InvalidClaim("iss")),
                "iss = {iss}"
            );
        }
    }

    #[test]
    fn any_of_several_issuers_is_accepted() {
        let verifier = builder()
            .issuer(ISSUER)
            .issuer("https://other.example")
            .build()
            .unwrap();
        assert_eq!(outcome(&verifier, &with_iss(ISSUER)), Ok(()));
        assert_eq!(
            outcome(&verifier, &with_iss("https://other.example")),
            Ok(())
        );
        assert_eq!(
            outcome(&verifier, &with_iss("https://third.example")),
            Err(ErrorKind::WrongIssuer)
        );
    }

    #[test]
    fn issuer_is_not_checked_when_not_configured() {
        assert_eq!(outcome(&verifier(), &with_iss("https://anyone")), Ok(()));
    }

    #[test]
    fn matching_audience_is_accepted_as_string_or_array_member() {
        let verifier = audience_verifier();
        assert_eq!(outcome(&verifier, &with_aud(json!("api"))), Ok(()));
        assert_eq!(outcome(&verifier, &with_aud(json!(["api"]))), Ok(()));
        assert_eq!(
            outcome(&verifier, &with_aud(json!(["other", "api"]))),
            Ok(())
        );
    }

    #[test]
    fn missing_audience_is_refused_when_configured() {
        let verifier = audience_verifier();
        assert_eq!(
            outcome(&verifier, &hs256(valid_claims())),
            Err(ErrorKind::MissingClaim("aud"))
        );
        assert_eq!(
            outcome(&verifier, &with_aud(json!([]))),
            Err(ErrorKind::MissingClaim("aud"))
        );
    }

    #[test]
    fn non_matching_audience_is_refused() {
        let verifier = audience_verifier();
        for aud in [
            json!("other"),
            json!("API"),
            json!("api "),
            json!(""),
            json!([""]),
            json!(["other", "apix"]),
        ] {
            assert_eq!(
                outcome(&verifier, &with_aud(aud.clone())),
                Err(ErrorKind::WrongAudience),
                "aud = {aud}"
            );
        }
    }

    #[test]
    fn audience_of_the_wrong_type_is_refused() {
        let verifier = audience_verifier();
        for aud in [
            json!({"api": true}),
            json!(["api", 1]),
            json!([["api"]]),
            json!(1),
            json!(null),
        ] {
            assert_eq!(
                outcome(&verifier, &with_aud(aud.clone())),
                Err(ErrorKind::InvalidClaim("aud")),
                "aud = {aud}"
            );
        }
    }

    #[test]
    fn any_of_several_audiences_is_accepted() {
        let verifier = builder().audience("api").audience("admin").build().unwrap();
        assert_eq!(outcome(&verifier, &with_aud(json!("admin"))), Ok(()));
        assert_eq!(outcome(&verifier, &with_aud(json!(["x", "api"]))), Ok(()));
    }

    #[test]
    fn required_claims_must_be_present() {
        let verifier = builder().require_claim("jti").build().unwrap();
        assert_eq!(
            outcome(&verifier, &hs256(valid_claims())),
            Err(ErrorKind::MissingClaim("jti"))
        );
        let with_jti = hs256(claims_with(json!({"jti": "id-1"})));
        assert_eq!(accepted(&verifier, &with_jti).token_id(), Some("id-1"));
    }
}

// ---------------------------------------------------------------------------------------
// Header rules: typ, crit, cty, segments, size
// ---------------------------------------------------------------------------------------

mod header_rules {
    use super::*;

    fn with_header(header: Value) -> String {
        hs256_with_header(header, valid_claims())
    }

    fn at_jwt_verifier() -> Verifier {
        builder().require_type("at+jwt").build().unwrap()
    }

    #[test]
    fn required_type_accepts_case_and_application_prefix_variants() {
        let verifier = at_jwt_verifier();
        for typ in [
            "at+jwt",
            "AT+JWT",
            "At+Jwt",
            "application/at+jwt",
            "Application/AT+JWT",
        ] {
            let token = with_header(json!({"alg": "HS256", "typ": typ}));
            assert_eq!(outcome(&verifier, &token), Ok(()), "typ = {typ}");
        }
    }

    #[test]
    fn required_type_refuses_other_and_missing_types() {
        let verifier = at_jwt_verifier();
        for typ in [
            "JWT",
            "jwt",
            "application/jwt",
            "at+jwt ",
            "application/",
            "at+jwt+x",
            "",
        ] {
            let token = with_header(json!({"alg": "HS256", "typ": typ}));
            assert_eq!(
                outcome(&verifier, &token),
                Err(ErrorKind::WrongType),
                "typ = {typ:?}"
            );
        }
        let untyped = with_header(json!({"alg": "HS256"}));
        assert_eq!(outcome(&verifier, &untyped), Err(ErrorKind::WrongType));
    }

    #[test]
    fn typ_of_the_wrong_type_is_refused() {
        let token = with_header(json!({"alg": "HS256", "typ": ["at+jwt"]}));
        assert_eq!(
            outcome(&at_jwt_verifier(), &token),
            Err(ErrorKind::MalformedHeader)
        );
    }

    #[test]
    fn any_typ_is_accepted_when_none_is_required() {
        for header in [
            json!({"alg": "HS256"}),
            json!({"alg": "HS256", "typ": "at+jwt"}),
            json!({"alg": "HS256", "typ": "whatever"}),
        ] {
            assert_eq!(outcome(&verifier(), &with_header(header)), Ok(()));
        }
    }

    /// Media types are compared after stripping an `application/` prefix; a multi-byte
    /// character across that 12-byte boundary must not panic (a `str` slice would).
    #[test]
    fn non_ascii_media_types_are_refused_without_panicking() {
        let verifier = at_jwt_verifier();
        for value in ["aéééééé", "applicatio€x", "applicationé/at+jwt", "ééééééé"] {
            let typ = with_header(json!({"alg": "HS256", "typ": value}));
            assert_eq!(
                outcome(&verifier, &typ),
                Err(ErrorKind::WrongType),
                "typ = {value:?}"
            );
            let cty = with_header(json!({"alg": "HS256", "typ": "at+jwt", "cty": value}));
            assert_eq!(outcome(&verifier, &cty), Ok(()), "cty = {value:?}");
        }
    }

    #[test]
    fn any_crit_is_refused() {
        for header in [
            json!({"alg": "HS256", "crit": ["exp"], "exp": 1}),
            json!({"alg": "HS256", "crit": ["urn:example:unknown"]}),
            json!({"alg": "HS256", "crit": ["b64"], "b64": false}),
            json!({"alg": "HS256", "crit": []}),
            json!({"alg": "HS256", "crit": ["absent"]}),
            json!({"alg": "HS256", "crit": "b64"}),
            json!({"alg": "HS256", "crit": null}),
        ] {
            assert_eq!(
                outcome(&verifier(), &with_header(header.clone())),
                Err(ErrorKind::UnsupportedCritical),
                "{header}"
            );
        }
    }

    #[test]
    fn nested_tokens_are_refused() {
        for cty in ["JWT", "jwt", "application/JWT", "application/jwt"] {
            let token = with_header(json!({"alg": "HS256", "cty": cty}));
            assert_eq!(
                outcome(&verifier(), &token),
                Err(ErrorKind::Nested),
                "cty = {cty}"
            );
        }
    }

    #[test]
    fn other_content_types_are_accepted() {
        let token = with_header(json!({"alg": "HS256", "cty": "application/json"}));
        assert_eq!(outcome(&verifier(), &token), Ok(()));
    }

    #[test]
    fn cty_of_the_wrong_type_is_refused() {
        let token = with_header(json!({"alg": "HS256", "cty": 1}));
        assert_eq!(
            outcome(&verifier(), &token),
            Err(ErrorKind::MalformedHeader)
        );
    }

    #[test]
    fn five_segments_are_an_encrypted_token() {
        let token = hs256(valid_claims());
        assert_eq!(
            outcome(&verifier(), &format!("{token}.iv.tag")),
            Err(ErrorKind::Encrypted)
        );
        assert_eq!(outcome(&verifier(), "a.b.c.d.e"), Err(ErrorKind::Encrypted));
    }

    #[test]
    fn wrong_segment_counts_and_empty_segments_are_malformed() {
        let token = hs256(valid_claims());
        let s = segments(&token);
        let (h, p, sig) = (s[0], s[1], s[2]);
        for bad in [
            String::new(),
            ".".into(),
            "..".into(),
            h.to_owned(),
            format!("{h}.{p}"),
            format!("{h}.{p}."),
            format!(".{p}.{sig}"),
            format!("{h}..{sig}"),
            format!("{token}.x"),
            format!("{token}..."),
            format!("{token}.a.b.c"),
        ] {
            assert_eq!(
                outcome(&verifier(), &bad),
                Err(ErrorKind::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn token_over_eight_kib_is_refused_before_decoding() {
        let verifier = verifier();
        let padded = hs256(claims_with(json!({"pad": "x".repeat(8 * 1024)})));
        assert!(padded.len() > 8 * 1024);
        assert_eq!(outcome(&verifier, &padded), Err(ErrorKind::TooLarge));
        // Garbage is refused for its size, not its content: nothing was decoded.
        assert_eq!(
            outcome(&verifier, &"!".repeat(8 * 1024 + 1)),
            Err(ErrorKind::TooLarge)
        );
        assert_eq!(
            outcome(&verifier, &"!".repeat(8 * 1024)),
            Err(ErrorKind::Malformed)
        );
    }

    #[test]
    fn custom_max_token_len_is_inclusive() {
        let token = hs256(valid_claims());
        let exact = builder().max_token_len(token.len()).build().unwrap();
        assert_eq!(outcome(&exact, &token), Ok(()));
        let short = builder().max_token_len(token.len() - 1).build().unwrap();
        assert_eq!(outcome(&short, &token), Err(ErrorKind::TooLarge));
        let big = builder().max_token_len(64 * 1024).build().unwrap();
        let padded = hs256(claims_with(json!({"pad": "x".repeat(16 * 1024)})));
        assert_eq!(outcome(&big, &padded), Ok(()));
    }
}

// ---------------------------------------------------------------------------------------
// Encoding: strict base64url and strict JSON
// ---------------------------------------------------------------------------------------

mod encoding {
    use super::*;

    const URL_SAFE_ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// A JSON string value whose base64url encoding always contains `_` and `-`: any run
    /// of six `?` holds an aligned `???` (encoded `Pz8_`), any six `~` an aligned `~~~`
    /// (`fn5-`). The `!` makes the test segments' lengths leave unused bits.
    const URL_SAFE_FILLER: &str = "??????~~~~~~!";

    /// `segment` with the unused low bits of its last character set: a second spelling of
    /// the same bytes, which a lenient decoder would accept. `None` if the segment's length
    /// is a multiple of four (no unused bits).
    fn with_trailing_bits(segment: &str) -> Option<String> {
        if segment.len().is_multiple_of(4) {
            return None;
        }
        let last = *segment.as_bytes().last()?;
        let index = URL_SAFE_ALPHABET.iter().position(|c| *c == last)?;
        let mut spelled = segment[..segment.len() - 1].to_owned();
        spelled.push(URL_SAFE_ALPHABET[index | 1] as char);
        Some(spelled)
    }

    /// Spellings of `segment` that a strict base64url decoder must refuse.
    fn non_canonical_spellings(segment: &str) -> Vec<String> {
        let middle = segment.len() / 2;
        let insert = |what: &str| format!("{}{what}{}", &segment[..middle], &segment[middle..]);
        let standard = segment.replace('-', "+").replace('_', "/");
        assert_ne!(standard, segment, "the fixture must contain `-` or `_`");
        let mut spellings = vec![
            format!("{segment}="),
            format!("{segment}=="),
            format!("{segment}==="),
            insert("="),
            insert(" "),
            insert("\t"),
            insert("\r\n"),
            format!(" {segment}"),
            format!("{segment} "),
            format!("{segment}\n"),
            standard,
            insert("*"),
            insert("%3D"),
            insert("\u{e9}"),
        ];
        spellings.extend(with_trailing_bits(segment));
        spellings
    }

    fn header_segment() -> String {
        b64(json!({"alg": "HS256", "x": URL_SAFE_FILLER}).to_string())
    }

    fn payload_segment() -> String {
        b64(claims_with(json!({"x": URL_SAFE_FILLER})).to_string())
    }

    #[test]
    fn fixture_segments_are_valid_and_have_unused_bits() {
        let (h, p) = (header_segment(), payload_segment());
        assert_eq!(
            outcome(
                &verifier(),
                &sign_segments(&h, &p, &hmac_signer(), Algorithm::HS256)
            ),
            Ok(())
        );
        assert!(with_trailing_bits(&h).is_some() && with_trailing_bits(&p).is_some());
    }

    #[test]
    fn non_canonical_header_base64_is_refused() {
        let payload = payload_segment();
        for header in non_canonical_spellings(&header_segment()) {
            let token = sign_segments(&header, &payload, &hmac_signer(), Algorithm::HS256);
            assert_eq!(
                outcome(&verifier(), &token),
                Err(ErrorKind::MalformedHeader),
                "header {header:?}"
            );
        }
    }

    #[test]
    fn non_canonical_payload_base64_is_refused() {
        // Signed over the odd spelling, so the signature holds and decoding is what fails.
        let header = header_segment();
        for payload in non_canonical_spellings(&payload_segment()) {
            let token = sign_segments(&header, &payload, &hmac_signer(), Algorithm::HS256);
            assert_eq!(
                outcome(&verifier(), &token),
                Err(ErrorKind::MalformedClaims),
                "payload {payload:?}"
            );
        }
    }

    #[test]
    fn non_canonical_signature_base64_is_refused() {
        // Find claims whose HS256 signature has `-` or `_` to rewrite.
        let token = (0..)
            .map(|n| hs256(claims_with(json!({ "n": n }))))
            .find(|t| segments(t)[2].contains(['-', '_']))
            .unwrap();
        let s = segments(&token);
        assert_eq!(s[2].len() % 4, 3, "a 32-byte MAC leaves two unused bits");
        for signature in non_canonical_spellings(s[2]) {
            let bad = format!("{}.{}.{signature}", s[0], s[1]);
            assert_eq!(
                outcome(&verifier(), &bad),
                Err(ErrorKind::Malformed),
                "signature {signature:?}"
            );
        }
    }

    /// Documents without a single JSON object at the top.
    const NOT_OBJECTS: [&[u8]; 11] = [
        b"[]",
        b"[{\"alg\":\"HS256\"}]",
        b"\"HS256\"",
        b"1",
        b"null",
        b"true",
        b" ",
        b"{",
        b"{}{}",
        b"{} x",
        b"{\"alg\":\"HS256\",}",
    ];

    #[test]
    fn header_that_is_not_a_json_object_is_refused() {
        let payload = valid_claims().to_string();
        for header in NOT_OBJECTS {
            assert_eq!(
                outcome(&verifier(), &hs256_raw(header, payload.as_bytes())),
                Err(ErrorKind::MalformedHeader),
                "header {:?}",
                String::from_utf8_lossy(header)
            );
        }
    }

    #[test]
    fn payload_that_is_not_a_json_object_is_refused() {
        for payload in NOT_OBJECTS {
            assert_eq!(
                outcome(&verifier(), &hs256_raw(br#"{"alg":"HS256"}"#, payload)),
                Err(ErrorKind::MalformedClaims),
                "payload {:?}",
                String::from_utf8_lossy(payload)
            );
        }
    }

    /// `object`, a JSON template, with its `"X"` replaced by a string holding `bad` raw.
    fn with_bad_text(object: &str, bad: &[u8]) -> Vec<u8> {
        let (open, close) = object.split_once("\"X\"").expect("template has \"X\"");
        [open.as_bytes(), b"\"", bad, b"\"", close.as_bytes()].concat()
    }

    /// A lone byte 0xFF, a truncated sequence, a UTF-8-encoded surrogate, an escaped lone
    /// surrogate and a raw NUL: none is valid JSON text.
    const BAD_TEXT: [&[u8]; 5] = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\\ud800", b"\x00"];

    #[test]
    fn invalid_utf8_in_header_is_refused() {
        let payload = valid_claims().to_string();
        for bad in BAD_TEXT {
            let header = with_bad_text(r#"{"alg":"HS256","x":"X"}"#, bad);
            assert_eq!(
                outcome(&verifier(), &hs256_raw(&header, payload.as_bytes())),
                Err(ErrorKind::MalformedHeader),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn invalid_utf8_in_payload_is_refused() {
        let template = format!(r#"{{"exp":{},"sub":"X"}}"#, NOW + 300);
        for bad in BAD_TEXT {
            let payload = with_bad_text(&template, bad);
            assert_eq!(
                outcome(&verifier(), &hs256_raw(br#"{"alg":"HS256"}"#, &payload)),
                Err(ErrorKind::MalformedClaims),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn byte_order_mark_is_refused() {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        let header = [BOM, br#"{"alg":"HS256"}"#].concat();
        let payload = valid_claims().to_string();
        assert_eq!(
            outcome(&verifier(), &hs256_raw(&header, payload.as_bytes())),
            Err(ErrorKind::MalformedHeader)
        );
        let payload = [BOM, payload.as_bytes()].concat();
        assert_eq!(
            outcome(&verifier(), &hs256_raw(br#"{"alg":"HS256"}"#, &payload)),
            Err(ErrorKind::MalformedClaims)
        );
    }

    #[test]
    fn duplicate_header_members_are_refused() {
        let payload = valid_claims().to_string();
        for header in [
            r#"{"alg":"none","alg":"HS256"}"#,
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","alg":"HS256"}"#,
            r#"{"alg":"HS256","al\u0067":"none"}"#,
            r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
            r#"{"alg":"HS256","x":{"y":1,"y":2}}"#,
        ] {
            assert_eq!(
                outcome(
                    &verifier(),
                    &hs256_raw(header.as_bytes(), payload.as_bytes())
                ),
                Err(ErrorKind::MalformedHeader),
                "{header}"
            );
        }
    }

    #[test]
    fn duplicate_payload_members_are_refused() {
        let exp = NOW + 300;
        for payload in [
            format!(r#"{{"exp":{exp},"exp":{exp}}}"#),
            format!(r#"{{"exp":{exp},"exp":1}}"#),
            format!(r#"{{"exp":{exp},"sub":"alice","sub":"admin"}}"#),
            format!(r#"{{"exp":{exp},"\u0065xp":{exp}}}"#),
            format!(r#"{{"exp":{exp},"realm_access":{{"roles":["user"],"roles":["admin"]}}}}"#),
            format!(r#"{{"exp":{exp},"a":[{{"b":1,"b":2}}]}}"#),
        ] {
            assert_eq!(
                outcome(
                    &verifier(),
                    &hs256_raw(br#"{"alg":"HS256"}"#, payload.as_bytes())
                ),
                Err(ErrorKind::MalformedClaims),
                "{payload}"
            );
        }
    }

    #[test]
    fn deeply_nested_json_is_refused() {
        let deep = format!("{}{}", "[".repeat(64), "]".repeat(64));
        let header = format!(r#"{{"alg":"HS256","x":{deep}}}"#);
        let payload = valid_claims().to_string();
        assert_eq!(
            outcome(
                &verifier(),
                &hs256_raw(header.as_bytes(), payload.as_bytes())
            ),
            Err(ErrorKind::MalformedHeader)
        );
        let payload = format!(r#"{{"exp":{},"x":{deep}}}"#, NOW + 300);
        assert_eq!(
            outcome(
                &verifier(),
                &hs256_raw(br#"{"alg":"HS256"}"#, payload.as_bytes())
            ),
            Err(ErrorKind::MalformedClaims)
        );
    }

    #[test]
    fn moderately_nested_claims_are_accepted() {
        let claims = claims_with(json!({"a": {"b": {"c": {"d": [[["e"]]]}}}}));
        assert_eq!(outcome(&verifier(), &hs256(claims)), Ok(()));
    }
}

// ---------------------------------------------------------------------------------------
// alg
// ---------------------------------------------------------------------------------------

mod algorithm {
    use super::*;

    fn unsigned(header: Value, signature: &str) -> String {
        format!(
            "{}.{}.{signature}",
            b64(header.to_string()),
            b64(valid_claims().to_string())
        )
    }

    #[test]
    fn alg_none_in_any_case_is_refused() {
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = json!({"alg": alg, "typ": "JWT"});
            // With a junk signature, and with a genuine HS256 MAC over the same text.
            let junk = unsigned(header.clone(), &b64("signature"));
            let h64 = b64(header.to_string());
            let p64 = b64(valid_claims().to_string());
            let maced = sign_segments(&h64, &p64, &hmac_signer(), Algorithm::HS256);
            for token in [junk, maced] {
                assert_eq!(
                    outcome(&verifier(), &token),
                    Err(ErrorKind::AlgorithmNone),
                    "alg = {alg}"
                );
            }
        }
    }

    /// Without a signature the token fails the segment rule, which is checked before the
    /// header is decoded: still refused, as `Malformed`.
    #[test]
    fn alg_none_without_a_signature_is_malformed() {
        for alg in ["none", "None", "NONE"] {
            let header = json!({"alg": alg});
            let empty = unsigned(header.clone(), "");
            let two_segments = empty.trim_end_matches('.').to_owned();
            for token in [empty, two_segments] {
                assert_eq!(
                    outcome(&verifier(), &token),
                    Err(ErrorKind::Malformed),
                    "{token}"
                );
            }
        }
    }

    #[test]
    fn alg_missing_null_or_not_a_string_is_a_malformed_header() {
        for header in [
            json!({"typ": "JWT"}),
            json!({}),
            json!({"alg": null}),
            json!({"alg": 256}),
            json!({"alg": true}),
            json!({"alg": ["HS256"]}),
            json!({"alg": {"name": "HS256"}}),
            json!({"ALG": "HS256"}),
        ] {
            let h64 = b64(header.to_string());
            let p64 = b64(valid_claims().to_string());
            let token = sign_segments(&h64, &p64, &hmac_signer(), Algorithm::HS256);
            assert_eq!(
                outcome(&verifier(), &token),
                Err(ErrorKind::MalformedHeader),
                "{header}"
            );
        }
    }

    #[test]
    fn unknown_alg_is_unsupported() {
        for alg in [
            "HS1024", "ES512", "RS1", "hs256", "HS256 ", " HS256", "", "ed25519", "Ed25519 ",
            "Ed448", "ES256K", "RSA-OAEP", "dir",
        ] {
            let token = unsigned(json!({ "alg": alg }), &b64("signature"));
            assert_eq!(
                outcome(&verifier(), &token),
                Err(ErrorKind::UnsupportedAlgorithm),
                "alg = {alg:?}"
            );
        }
    }

    /// Every name of the JOSE registry tollgate supports (RFC 7518 §3.1, RFC 8037 §3.1,
    /// RFC 9864), with the variant it must parse to.
    const JOSE_NAMES: [(&str, Algorithm); 13] = [
        ("HS256", Algorithm::HS256),
        ("HS384", Algorithm::HS384),
        ("HS512", Algorithm::HS512),
        ("RS256", Algorithm::RS256),
        ("RS384", Algorithm::RS384),
        ("RS512", Algorithm::RS512),
        ("ES256", Algorithm::ES256),
        ("ES384", Algorithm::ES384),
        ("PS256", Algorithm::PS256),
        ("PS384", Algorithm::PS384),
        ("PS512", Algorithm::PS512),
        ("EdDSA", Algorithm::EdDSA),
        ("Ed25519", Algorithm::Ed25519),
    ];

    #[test]
    fn every_algorithm_name_parses_and_prints_as_itself() {
        for (name, alg) in JOSE_NAMES {
            assert_eq!(name.parse::<Algorithm>(), Ok(alg), "{name}");
            assert_eq!(alg.as_str(), name);
            assert_eq!(alg.to_string(), name);
            assert_eq!(format!("{alg:?}"), name);
            assert_eq!(serde_json::to_value(alg).unwrap(), json!(name));
            assert_eq!(
                serde_json::from_value::<Algorithm>(json!(name)).unwrap(),
                alg
            );
        }
        for name in [
            "none", "None", "", "hs256", "eddsa", "ED25519", "Ed25519 ", "Ed448",
        ] {
            assert!(name.parse::<Algorithm>().is_err(), "{name:?}");
            assert!(
                serde_json::from_value::<Algorithm>(json!(name)).is_err(),
                "{name:?}"
            );
        }
    }

    #[test]
    fn ed25519_token_verifies_with_a_key_declared_ed25519() {
        let key = Key::from_jwk(&ed25519_jwk().to_string(), None).unwrap();
        assert_eq!(key.algorithm(), Algorithm::Ed25519);
        let verifier = verifier_with(key);
        for header in [
            json!({"alg": "Ed25519", "kid": "ed25519-1"}),
            json!({"alg": "Ed25519", "typ": "JWT"}),
        ] {
            let token = sign(header.clone(), valid_claims(), &ed25519_signer());
            let verified = accepted(&verifier, &token);
            assert_eq!(verified.algorithm(), Algorithm::Ed25519, "{header}");
        }
    }

    /// `EdDSA` and `Ed25519` make the same signature, but a key is bound to one name: the
    /// other is refused like any other algorithm, with the kid naming the key or without.
    #[test]
    fn eddsa_and_ed25519_tokens_are_refused_by_a_key_declared_for_the_other() {
        let eddsa_keys = [
            ed25519_key(),
            ed25519_jwk_key(Some(Algorithm::EdDSA)),
            ed25519_jwk_key(None),
        ];
        let ed25519_keys = [ed25519_jwk_key(Some(Algorithm::Ed25519))];
        for (keys, token_alg) in [(&eddsa_keys[..], "Ed25519"), (&ed25519_keys[..], "EdDSA")] {
            for key in keys {
                assert_ne!(key.algorithm().as_str(), token_alg);
                let bare = sign(
                    json!({ "alg": token_alg }),
                    valid_claims(),
                    &ed25519_signer(),
                );
                let named = sign(
                    json!({"alg": token_alg, "kid": "ed"}),
                    valid_claims(),
                    &ed25519_signer(),
                );
                for (verifier, token) in [
                    (verifier_with(key.clone()), bare),
                    (verifier_with(key.clone().with_kid("ed")), named),
                ] {
                    assert_eq!(
                        outcome(&verifier, &token),
                        Err(ErrorKind::AlgorithmMismatch),
                        "{token_alg} token, {key:?}"
                    );
                }
            }
        }
    }

    /// With the same key loaded under both names, a token without kid is verified by the
    /// one key bound to its `alg`: neither is ambiguous.
    #[test]
    fn eddsa_and_ed25519_keys_side_by_side_each_verify_their_own_tokens() {
        let verifier = Verifier::builder()
            .key(ed25519_key())
            .key(ed25519_jwk_key(Some(Algorithm::Ed25519)))
            .build()
            .unwrap();
        for alg in [Algorithm::EdDSA, Algorithm::Ed25519] {
            let token = sign(json!({ "alg": alg }), valid_claims(), &ed25519_signer());
            assert_eq!(accepted(&verifier, &token).algorithm(), alg);
        }
    }

    #[test]
    fn alg_other_than_the_keys_is_a_mismatch() {
        // The attacker knows nothing but uses the right secret with another hash.
        for alg in ["HS384", "HS512"] {
            let token = hs256_with_header(json!({ "alg": alg }), valid_claims());
            assert_eq!(
                outcome(&verifier(), &token),
                Err(ErrorKind::AlgorithmMismatch),
                "alg = {alg}"
            );
        }
        let named = verifier_with(hs256_key().with_kid("k1"));
        let token = hs256_with_header(json!({"alg": "HS384", "kid": "k1"}), valid_claims());
        assert_eq!(outcome(&named, &token), Err(ErrorKind::AlgorithmMismatch));
    }

    #[test]
    fn rs256_token_naming_an_es256_key_is_a_mismatch() {
        let verifier = Verifier::builder()
            .key(p256_key().with_kid("ec"))
            .key(rsa_key(Algorithm::RS256).with_kid("rsa"))
            .build()
            .unwrap();
        let token = sign(
            json!({"alg": "RS256", "kid": "ec"}),
            valid_claims(),
            &rsa_signer(),
        );
        assert_eq!(
            outcome(&verifier, &token),
            Err(ErrorKind::AlgorithmMismatch)
        );
        let proper = sign(
            json!({"alg": "RS256", "kid": "rsa"}),
            valid_claims(),
            &rsa_signer(),
        );
        assert_eq!(outcome(&verifier, &proper), Ok(()));
    }

    #[test]
    fn ps256_token_for_an_rs256_key_is_a_mismatch() {
        let token = sign(json!({"alg": "PS256"}), valid_claims(), &rsa_signer());
        assert_eq!(
            outcome(&verifier_with(rsa_key(Algorithm::RS256)), &token),
            Err(ErrorKind::AlgorithmMismatch)
        );
    }

    #[test]
    fn es256_token_for_an_es384_key_is_a_mismatch() {
        let token = sign(json!({"alg": "ES256"}), valid_claims(), &p256_signer());
        assert_eq!(
            outcome(&verifier_with(p384_key()), &token),
            Err(ErrorKind::AlgorithmMismatch)
        );
    }

    #[test]
    fn alg_without_any_bound_key_among_several_is_unknown() {
        let verifier = Verifier::builder()
            .key(hs256_key())
            .key(p256_key())
            .build()
            .unwrap();
        let token = sign(json!({"alg": "RS256"}), valid_claims(), &rsa_signer());
        assert_eq!(outcome(&verifier, &token), Err(ErrorKind::UnknownKey));
    }
}

// ---------------------------------------------------------------------------------------
// Algorithm confusion (CVE-2015-9235, CVE-2016-10555)
// ---------------------------------------------------------------------------------------

mod algorithm_confusion {
    use super::*;
    use tollgate::{ConfigError, KeySet};

    /// The DER inside the public key PEM: another byte string an attacker might MAC with.
    fn rsa_public_der() -> Vec<u8> {
        let body: String = RSA_PUBLIC
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        STANDARD.decode(body).unwrap()
    }

    /// Every byte string the public key is commonly shared as.
    fn public_key_spellings() -> Vec<Vec<u8>> {
        vec![
            RSA_PUBLIC.as_bytes().to_vec(),
            RSA_PUBLIC.trim_end().as_bytes().to_vec(),
            rsa_public_der(),
        ]
    }

    #[test]
    fn hmac_token_keyed_with_the_rsa_public_key_is_refused() {
        let verifiers = [
            (verifier_with(rsa_key(Algorithm::RS256)), None),
            (
                verifier_with(rsa_key(Algorithm::RS256).with_kid("rsa")),
                Some("rsa"),
            ),
        ];
        for (verifier, kid) in &verifiers {
            for mac_key in public_key_spellings() {
                let mac_key = EncodingKey::from_secret(&mac_key).unwrap();
                for alg in ["HS256", "HS384", "HS512"] {
                    let mut header = json!({"alg": alg, "typ": "JWT"});
                    if let Some(kid) = kid {
                        header["kid"] = json!(kid);
                    }
                    let token = sign(header, valid_claims(), &mac_key);
                    assert_eq!(
                        outcome(verifier, &token),
                        Err(ErrorKind::AlgorithmMismatch),
                        "alg = {alg}, kid = {kid:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_rsa_key_cannot_be_bound_to_hmac() {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert!(matches!(
                Key::rsa_pem(RSA_PUBLIC.as_bytes(), alg),
                Err(ConfigError::AlgorithmMismatch { .. })
            ));
        }
    }

    #[test]
    fn an_rsa_jwk_cannot_be_bound_to_hmac() {
        let signing =
            tollgate::SigningKey::rsa_pem("rsa", RSA_PRIVATE.as_bytes(), Algorithm::RS256).unwrap();
        let mut jwk = signing.public_jwk().unwrap();
        assert!(Key::from_jwk(&jwk.to_string(), Some(Algorithm::HS256)).is_err());
        jwk["alg"] = json!("HS256");
        assert!(Key::from_jwk(&jwk.to_string(), None).is_err());
        let set = json!({"keys": [jwk]}).to_string();
        assert!(matches!(
            KeySet::from_public_jwks(&set, None),
            Err(ConfigError::NoUsableKeys(_))
        ));
    }

    #[test]
    fn a_published_set_cannot_smuggle_in_the_public_key_as_a_secret() {
        let jwk = json!({"kty": "oct", "alg": "HS256", "k": b64(RSA_PUBLIC)});
        let set = json!({"keys": [jwk]}).to_string();
        assert!(matches!(
            KeySet::from_public_jwks(&set, Some(Algorithm::HS256)),
            Err(ConfigError::NoUsableKeys(_))
        ));
    }
}

// ---------------------------------------------------------------------------------------
// kid
// ---------------------------------------------------------------------------------------

mod key_selection {
    use super::*;

    fn with_kid(kid: Value) -> String {
        hs256_with_header(json!({"alg": "HS256", "kid": kid}), valid_claims())
    }

    fn named_verifier() -> VerifierBuilder {
        Verifier::builder().key(hs256_key().with_kid("k1"))
    }

    #[test]
    fn known_kid_selects_its_key() {
        let verifier = Verifier::builder()
            .key(
                Key::hmac(OTHER_SECRET, Algorithm::HS256)
                    .unwrap()
                    .with_kid("k0"),
            )
            .key(hs256_key().with_kid("k1"))
            .build()
            .unwrap();
        let token = accepted(&verifier, &with_kid(json!("k1")));
        assert_eq!(token.key_id(), Some("k1"));
        assert_eq!(token.algorithm(), Algorithm::HS256);
        // The other key's name on this signature: the right key for the name, wrong MAC.
        assert_eq!(
            outcome(&verifier, &with_kid(json!("k0"))),
            Err(ErrorKind::InvalidSignature)
        );
    }

    #[test]
    fn unknown_kid_is_refused() {
        let verifier = named_verifier().build().unwrap();
        for kid in ["k2", "K1", "k1 ", "k"] {
            assert_eq!(
                outcome(&verifier, &with_kid(json!(kid))),
                Err(ErrorKind::UnknownKey),
                "kid = {kid:?}"
            );
        }
    }

    #[test]
    fn hostile_kid_strings_are_unknown_keys() {
        // Room for the 10 KB kid: the size limit is not what is tested here.
        let verifier = named_verifier().max_token_len(64 * 1024).build().unwrap();
        let long = "A".repeat(10 * 1024);
        for kid in [
            "../../dev/null",
            "/dev/null",
            "../../../../../../etc/passwd",
            "x' UNION SELECT '1';--",
            "k1' OR '1'='1",
            "",
            long.as_str(),
            "k1\u{0}",
            "\n",
            "k1\r\nX-Injected: 1",
            "http://127.0.0.1/jwks.json",
        ] {
            assert_eq!(
                outcome(&verifier, &with_kid(json!(kid))),
                Err(ErrorKind::UnknownKey),
                "kid = {:?}",
                &kid[..kid.len().min(40)]
            );
        }
    }

    #[test]
    fn kid_of_the_maximum_length_is_still_looked_up() {
        let kid = "k".repeat(tollgate::keys::MAX_KID_LEN);
        let verifier = verifier_with(hs256_key().with_kid(kid.clone()));
        assert_eq!(outcome(&verifier, &with_kid(json!(kid))), Ok(()));
    }

    #[test]
    fn kid_that_is_not_a_string_is_a_malformed_header() {
        let verifier = named_verifier().build().unwrap();
        for kid in [
            json!(1),
            json!(null),
            json!(true),
            json!(["k1"]),
            json!({"k": "k1"}),
        ] {
            assert_eq!(
                outcome(&verifier, &with_kid(kid.clone())),
                Err(ErrorKind::MalformedHeader),
                "kid = {kid}"
            );
        }
    }

    #[test]
    fn token_without_kid_uses_the_only_key_of_its_alg() {
        let verifier = Verifier::builder()
            .key(hs256_key().with_kid("k1"))
            .key(p256_key().with_kid("ec"))
            .build()
            .unwrap();
        let token = accepted(&verifier, &hs256(valid_claims()));
        assert_eq!(token.key_id(), Some("k1"));
    }

    fn two_hs256_keys() -> VerifierBuilder {
        Verifier::builder()
            .key(Key::hmac(OTHER_SECRET, Algorithm::HS256).unwrap())
            .key(hs256_key().with_kid("k1"))
    }

    #[test]
    fn token_without_kid_is_ambiguous_among_several_keys() {
        let verifier = two_hs256_keys().build().unwrap();
        assert_eq!(
            outcome(&verifier, &hs256(valid_claims())),
            Err(ErrorKind::AmbiguousKey)
        );
    }

    #[test]
    fn try_all_keys_accepts_a_token_without_kid() {
        let verifier = two_hs256_keys().try_all_keys(true).build().unwrap();
        let token = accepted(&verifier, &hs256(valid_claims()));
        assert_eq!(token.key_id(), Some("k1"), "the key that verified");
        let forged = sign(
            json!({"alg": "HS256"}),
            valid_claims(),
            &EncodingKey::from_secret(b"neither-configured-secret-0123456789").unwrap(),
        );
        assert_eq!(
            outcome(&verifier, &forged),
            Err(ErrorKind::InvalidSignature)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Embedded keys: jwk, jku, x5u, x5c (CVE-2018-0114)
// ---------------------------------------------------------------------------------------

mod embedded_keys {
    use super::*;
    use std::net::TcpListener;

    /// PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows.
    const ED25519_PKCS8_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];

    /// The attacker's own Ed25519 key, and its public JWK.
    fn attacker() -> (EncodingKey, Value) {
        let der = [&ED25519_PKCS8_PREFIX[..], &[7u8; 32]].concat();
        let key = EncodingKey::from_ed_der(&der);
        install_crypto_provider();
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::EdDSA)
            .unwrap();
        (key, serde_json::to_value(jwk).unwrap())
    }

    /// A loopback listener that records whether anyone connected.
    fn trap() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        (listener, url)
    }

    #[test]
    fn embedded_keys_and_key_urls_are_ignored() {
        let verifier = verifier_with(ed25519_key().with_kid("ed"));
        let (attacker_key, attacker_jwk) = attacker();
        let (listener, url) = trap();
        // Stands in for the attacker's certificate chain; tollgate never parses `x5c`.
        let chain = json!([STANDARD.encode(attacker_jwk["x"].as_str().unwrap())]);
        for header in [
            json!({"alg": "EdDSA", "jwk": attacker_jwk}),
            json!({"alg": "EdDSA", "kid": "ed", "jwk": attacker_jwk}),
            json!({"alg": "EdDSA", "jku": url}),
            json!({"alg": "EdDSA", "kid": "ed", "jku": url}),
            json!({"alg": "EdDSA", "x5u": url}),
            json!({"alg": "EdDSA", "x5c": chain}),
            json!({
                "alg": "EdDSA", "kid": "ed",
                "jwk": attacker_jwk, "jku": url, "x5u": url, "x5c": chain,
            }),
        ] {
            let token = sign(header.clone(), valid_claims(), &attacker_key);
            assert_eq!(
                outcome(&verifier, &token),
                Err(ErrorKind::InvalidSignature),
                "{header}"
            );
        }
        let named = sign(
            json!({"alg": "EdDSA", "kid": "attacker", "jwk": attacker_jwk}),
            valid_claims(),
            &attacker_key,
        );
        assert_eq!(outcome(&verifier, &named), Err(ErrorKind::UnknownKey));
        assert_eq!(
            listener.accept().map(drop).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::WouldBlock),
            "the verifier connected to the jku/x5u URL"
        );
    }

    #[test]
    fn embedded_hmac_secret_is_ignored() {
        let jwk = json!({"kty": "oct", "alg": "HS256", "k": b64(OTHER_SECRET)});
        let token = sign(
            json!({"alg": "HS256", "jwk": jwk}),
            valid_claims(),
            &EncodingKey::from_secret(OTHER_SECRET).unwrap(),
        );
        assert_eq!(
            outcome(&verifier(), &token),
            Err(ErrorKind::InvalidSignature)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------

mod signatures {
    use super::*;

    /// Order of the P-256 group.
    const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    /// Order of the Ed25519 group, little-endian.
    const ED25519_L_LE: &str = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

    /// One key pair per supported algorithm family.
    fn cases() -> Vec<(Algorithm, EncodingKey, Key)> {
        vec![
            (Algorithm::HS256, hmac_signer(), hs256_key()),
            (Algorithm::RS256, rsa_signer(), rsa_key(Algorithm::RS256)),
            (Algorithm::PS256, rsa_signer(), rsa_key(Algorithm::PS256)),
            (Algorithm::ES256, p256_signer(), p256_key()),
            (Algorithm::ES384, p384_signer(), p384_key()),
            (Algorithm::EdDSA, ed25519_signer(), ed25519_key()),
            (
                Algorithm::Ed25519,
                ed25519_signer(),
                ed25519_jwk_key(Some(Algorithm::Ed25519)),
            ),
        ]
    }

    fn es256() -> (Verifier, String) {
        let token = sign(json!({"alg": "ES256"}), valid_claims(), &p256_signer());
        (verifier_with(p256_key()), token)
    }

    /// `raw` (r ‖ s) as an ASN.1 DER `ECDSA-Sig-Value`.
    fn der_ecdsa(raw: &[u8]) -> Vec<u8> {
        let integer = |bytes: &[u8]| {
            let start = bytes
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(bytes.len() - 1);
            let mut value = bytes[start..].to_vec();
            if value[0] & 0x80 != 0 {
                value.insert(0, 0);
            }
            [vec![0x02, value.len() as u8], value].concat()
        };
        let (r, s) = raw.split_at(raw.len() / 2);
        let body = [integer(r), integer(s)].concat();
        [vec![0x30, body.len() as u8], body].concat()
    }

    #[test]
    fn genuine_signatures_verify_for_every_family() {
        for (alg, signer, key) in cases() {
            let token = sign(json!({ "alg": alg }), valid_claims(), &signer);
            assert_eq!(token.split('.').count(), 3);
            assert_eq!(outcome(&verifier_with(key), &token), Ok(()), "{alg:?}");
        }
    }

    #[test]
    fn flipped_signature_bits_are_refused() {
        for (alg, signer, key) in cases() {
            let verifier = verifier_with(key);
            let token = sign(json!({ "alg": alg }), valid_claims(), &signer);
            let last = signature_of(&token).len() - 1;
            for (byte, bit) in [(0, 0), (0, 7), (last / 2, 3), (last, 0), (last, 7)] {
                assert_eq!(
                    outcome(&verifier, &flip_signature_bit(&token, byte, bit)),
                    Err(ErrorKind::InvalidSignature),
                    "{alg:?} byte {byte} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn truncated_extended_or_foreign_signatures_are_refused() {
        for (alg, signer, key) in cases() {
            let verifier = verifier_with(key);
            let token = sign(json!({ "alg": alg }), valid_claims(), &signer);
            let signature = signature_of(&token);
            let other = sign(
                json!({ "alg": alg }),
                claims_with(json!({"sub": "bob"})),
                &signer,
            );
            for bad in [
                signature[..signature.len() - 1].to_vec(),
                [&signature[..], &[0]].concat(),
                [&[0], &signature[..]].concat(),
                vec![0],
                vec![0; signature.len()],
                signature_of(&other),
            ] {
                assert_eq!(
                    outcome(&verifier, &with_signature(&token, &bad)),
                    Err(ErrorKind::InvalidSignature),
                    "{alg:?}, {} bytes",
                    bad.len()
                );
            }
        }
    }

    #[test]
    fn tampered_payload_is_refused() {
        for (alg, signer, key) in cases() {
            let token = sign(json!({ "alg": alg }), valid_claims(), &signer);
            let s = segments(&token);
            let admin = b64(claims_with(json!({"sub": "admin"})).to_string());
            let tampered = format!("{}.{admin}.{}", s[0], s[2]);
            assert_eq!(
                outcome(&verifier_with(key), &tampered),
                Err(ErrorKind::InvalidSignature),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn es256_signature_in_der_form_is_refused() {
        let (verifier, token) = es256();
        let der = der_ecdsa(&signature_of(&token));
        assert_ne!(der.len(), 64);
        assert_eq!(
            outcome(&verifier, &with_signature(&token, &der)),
            Err(ErrorKind::InvalidSignature)
        );
    }

    #[test]
    fn es256_signature_of_the_wrong_length_is_refused() {
        let (verifier, token) = es256();
        let raw = signature_of(&token);
        for bad in [
            [&raw[..], &[0]].concat(),
            [&[0], &raw[..]].concat(),
            [&[4], &raw[..]].concat(),
            [&raw[..], b"trailing"].concat(),
            [&raw[..], &raw[..]].concat(),
            raw[..63].to_vec(),
            raw[..32].to_vec(),
        ] {
            assert_eq!(
                outcome(&verifier, &with_signature(&token, &bad)),
                Err(ErrorKind::InvalidSignature),
                "{} bytes",
                bad.len()
            );
        }
    }

    /// CVE-2022-21449 ("psychic signatures") and its neighbours: r and s in {0, 1, n−1, n}.
    #[test]
    fn es256_degenerate_r_and_s_are_refused() {
        let (verifier, token) = es256();
        let n = hex(P256_N);
        let mut n_minus_1 = n.clone();
        n_minus_1[31] -= 1;
        let mut one = vec![0; 32];
        one[31] = 1;
        let scalars = [vec![0; 32], one, n_minus_1, n];
        for r in &scalars {
            for s in &scalars {
                let signature = [&r[..], &s[..]].concat();
                assert_eq!(
                    outcome(&verifier, &with_signature(&token, &signature)),
                    Err(ErrorKind::InvalidSignature),
                    "r = {r:02x?}, s = {s:02x?}"
                );
            }
        }
    }

    /// Ed25519 with S + L in place of S: the same equation holds, but S must be below L.
    #[test]
    fn ed25519_signature_with_s_not_reduced_is_refused() {
        let verifier = verifier_with(ed25519_key());
        let token = sign(json!({"alg": "EdDSA"}), valid_claims(), &ed25519_signer());
        let mut signature = signature_of(&token);
        let mut carry = 0u16;
        for (s, l) in signature[32..].iter_mut().zip(hex(ED25519_L_LE)) {
            let sum = u16::from(*s) + u16::from(l) + carry;
            *s = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        assert_eq!(
            outcome(&verifier, &with_signature(&token, &signature)),
            Err(ErrorKind::InvalidSignature)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Roles and scopes
// ---------------------------------------------------------------------------------------

mod roles_and_scopes {
    use super::*;

    fn token_for(verifier: &Verifier, extra: Value) -> VerifiedToken {
        accepted(verifier, &hs256(claims_with(extra)))
    }

    #[test]
    fn roles_are_read_from_roles_by_default() {
        let token = token_for(
            &verifier(),
            json!({"roles": ["admin", "user"], "groups": ["g"]}),
        );
        assert_eq!(token.roles(), ["admin", "user"]);
        assert!(token.has_role("admin"));
        assert!(!token.has_role("Admin"), "roles match case-sensitively");
        assert!(!token.has_role("g"));
    }

    #[test]
    fn roles_claim_can_name_another_member_or_a_path() {
        let extra = json!({
            "roles": ["from-roles"],
            "groups": ["from-groups"],
            "cognito:groups": ["from-cognito"],
            "realm_access": {"roles": ["from-keycloak"]},
            "https://example.com/roles": ["from-namespace"],
        });
        for (path, expected) in [
            ("groups", "from-groups"),
            ("cognito:groups", "from-cognito"),
            ("realm_access.roles", "from-keycloak"),
            ("https://example.com/roles", "from-namespace"),
        ] {
            let verifier = builder().roles_claim(path).build().unwrap();
            assert_eq!(
                token_for(&verifier, extra.clone()).roles(),
                [expected],
                "{path}"
            );
        }
    }

    #[test]
    fn roles_that_are_not_an_array_grant_nothing() {
        for roles in [
            json!("admin"),
            json!("admin user"),
            json!({"admin": true}),
            json!(1),
            json!(null),
        ] {
            let token = token_for(&verifier(), json!({ "roles": roles.clone() }));
            assert!(token.roles().is_empty(), "roles = {roles}");
            assert!(!token.has_role("admin"));
        }
    }

    #[test]
    fn non_string_role_entries_are_skipped() {
        let token = token_for(&verifier(), json!({"roles": ["admin", 1, null, ["x"]]}));
        assert_eq!(token.roles(), ["admin"]);
    }

    #[test]
    fn missing_roles_claim_or_path_gives_no_roles() {
        let verifier = builder().roles_claim("realm_access.roles").build().unwrap();
        assert!(token_for(&verifier, json!({})).roles().is_empty());
        let wrong_shape = json!({"realm_access": ["roles"]});
        assert!(token_for(&verifier, wrong_shape).roles().is_empty());
    }

    #[test]
    fn scopes_are_read_from_scope_or_scp() {
        for extra in [
            json!({"scope": "read write"}),
            json!({"scope": " read  write "}),
            json!({"scp": "read write"}),
            json!({"scp": ["read", "write"]}),
        ] {
            let token = token_for(&verifier(), extra.clone());
            assert_eq!(token.scopes(), ["read", "write"], "{extra}");
            assert!(token.has_scope("read"));
            assert!(!token.has_scope("READ"));
        }
    }

    #[test]
    fn scopes_of_other_types_give_no_scopes() {
        for extra in [
            json!({"scope": 1}),
            json!({"scope": ["read"]}),
            json!({"scp": {"read": true}}),
        ] {
            assert!(
                token_for(&verifier(), extra.clone()).scopes().is_empty(),
                "{extra}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Builder configuration
// ---------------------------------------------------------------------------------------

mod configuration {
    use super::*;
    use tollgate::ConfigError;

    #[test]
    fn verifier_without_keys_is_refused() {
        assert!(matches!(
            Verifier::builder().build(),
            Err(ConfigError::NoKeys)
        ));
    }

    #[test]
    fn empty_issuer_audience_or_zero_length_limit_is_refused() {
        for builder in [
            builder().issuer(""),
            builder().audience(""),
            builder().max_token_len(0),
            builder().require_claim("roles"),
        ] {
            assert!(matches!(
                builder.build(),
                Err(ConfigError::InvalidOption(_))
            ));
        }
    }

    #[test]
    fn two_keys_with_one_kid_are_refused() {
        let result = Verifier::builder()
            .key(hs256_key().with_kid("k"))
            .key(p256_key().with_kid("k"))
            .build();
        assert!(matches!(result, Err(ConfigError::DuplicateKeyId(kid)) if kid == "k"));
    }
}

// ---------------------------------------------------------------------------------------
// Signer round trips
// ---------------------------------------------------------------------------------------

mod signer {
    use super::*;
    use std::time::Duration;
    use tollgate::{IssueError, KeySet, Signer, SigningKey, TokenRequest};

    const TTL: u64 = 600;
    const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

    fn signer(key: SigningKey) -> Signer {
        Signer::builder(key)
            .issuer("https://auth.example")
            .audience("api")
            .ttl(Duration::from_secs(TTL))
            .build()
            .unwrap()
    }

    fn decode_segment(segment: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
    }

    fn asymmetric_keys() -> Vec<SigningKey> {
        vec![
            SigningKey::rsa_pem("rsa-rs", RSA_PRIVATE.as_bytes(), Algorithm::RS256).unwrap(),
            SigningKey::rsa_pem("rsa-ps", RSA_PRIVATE.as_bytes(), Algorithm::PS256).unwrap(),
            SigningKey::ec_pem("p256", P256_PRIVATE.as_bytes(), Algorithm::ES256).unwrap(),
            SigningKey::ec_pem("p384", P384_PRIVATE.as_bytes(), Algorithm::ES384).unwrap(),
            SigningKey::ed25519_pem("ed", ED25519_PRIVATE.as_bytes()).unwrap(),
            SigningKey::generate_ed25519("ed-fresh").unwrap(),
        ]
    }

    fn all_keys() -> Vec<SigningKey> {
        let mut keys = asymmetric_keys();
        keys.push(SigningKey::hmac("hmac", SECRET, Algorithm::HS256).unwrap());
        keys
    }

    /// Issues a token with `signer` and verifies it with `keys`, at its own issue time.
    fn round_trip(signer: &Signer, keys: KeySet) -> VerifiedToken {
        let verifier = Verifier::builder()
            .keys(keys)
            .issuer("https://auth.example")
            .audience("api")
            .require_claim("jti")
            .build()
            .unwrap();
        let issued = signer
            .issue(
                &TokenRequest::new("alice")
                    .roles(["user"])
                    .scopes(["read", "write"]),
            )
            .unwrap();
        let token = verifier
            .verify_at(&issued.token, issued.issued_at)
            .unwrap_or_else(|e| panic!("{:?}: {:?}", signer.key().algorithm(), e.kind()));

        let header = decode_segment(segments(&issued.token)[0]);
        assert_eq!(header["kid"], signer.key().kid());
        assert_eq!(
            header["typ"], "at+jwt",
            "an RFC 9068 access token by default"
        );
        assert_eq!(token.algorithm(), signer.key().algorithm());
        assert_eq!(token.key_id(), Some(signer.key().kid()));

        let claims = token.registered();
        assert_eq!(token.subject(), Some("alice"));
        assert_eq!(claims.iss.as_deref(), Some("https://auth.example"));
        assert_eq!(claims.aud, ["api"]);
        assert_eq!(claims.iat, Some(issued.issued_at));
        assert_eq!(claims.nbf, Some(issued.issued_at));
        assert_eq!(claims.exp, Some(issued.issued_at + TTL));
        assert_eq!(
            (issued.expires_at, issued.expires_in),
            (issued.issued_at + TTL, TTL)
        );
        let jti = token.token_id().unwrap();
        assert_eq!(jti, issued.jti);
        assert!(jti.len() >= 22, "128 bits of base64url: {jti}");
        assert!(URL_SAFE_NO_PAD.decode(jti).unwrap().len() >= 16);
        assert_eq!(token.roles(), ["user"]);
        assert_eq!(token.scopes(), ["read", "write"]);
        token
    }

    #[test]
    fn issued_tokens_verify_with_the_signers_keys() {
        for key in all_keys() {
            let signer = signer(key);
            round_trip(&signer, signer.verification_keys().unwrap());
        }
    }

    #[test]
    fn issued_tokens_verify_with_the_published_jwks() {
        for key in asymmetric_keys() {
            let signer = signer(key);
            let jwks = signer.jwks().to_string();
            let keys = KeySet::from_public_jwks(&jwks, None).unwrap();
            assert_eq!(keys.len(), 1);
            assert!(keys.skipped().is_empty());
            round_trip(&signer, keys);
        }
    }

    #[test]
    fn published_jwks_hold_only_public_members() {
        for key in asymmetric_keys() {
            let (kid, alg) = (key.kid().to_owned(), key.algorithm());
            let jwks = signer(key).jwks();
            let entries = jwks["keys"].as_array().unwrap();
            assert_eq!(entries.len(), 1);
            let jwk = entries[0].as_object().unwrap();
            for member in PRIVATE_MEMBERS {
                assert!(!jwk.contains_key(member), "{kid}: `{member}` published");
            }
            assert_eq!(jwk["kid"], kid.as_str());
            assert_eq!(jwk["use"], "sig");
            assert_eq!(
                jwk["alg"].as_str().unwrap().parse::<Algorithm>().unwrap(),
                alg
            );
        }
    }

    #[test]
    fn hmac_signer_publishes_nothing() {
        let key = SigningKey::hmac("hmac", SECRET, Algorithm::HS256).unwrap();
        assert!(key.public_jwk().is_none());
        assert_eq!(signer(key).jwks(), json!({"keys": []}));
    }

    #[test]
    fn every_token_gets_a_fresh_jti() {
        let signer = signer(SigningKey::generate_ed25519("k").unwrap());
        let request = TokenRequest::new("alice");
        let first = signer.issue(&request).unwrap();
        let second = signer.issue(&request).unwrap();
        assert_ne!(first.jti, second.jti);
    }

    #[test]
    fn per_request_ttl_custom_claims_roles_claim_and_type() {
        let signer = Signer::builder(SigningKey::generate_ed25519("k").unwrap())
            .issuer("https://auth.example")
            .token_type("at+jwt")
            .roles_claim("groups")
            .build()
            .unwrap();
        let issued = signer
            .issue(
                &TokenRequest::new("alice")
                    .roles(["eng"])
                    .claim("tenant", "acme")
                    .ttl(Duration::from_secs(60)),
            )
            .unwrap();
        let verifier = Verifier::builder()
            .keys(signer.verification_keys().unwrap())
            .require_type("at+jwt")
            .roles_claim("groups")
            .build()
            .unwrap();
        let token = verifier.verify_at(&issued.token, issued.issued_at).unwrap();
        assert_eq!(token.registered().exp, Some(issued.issued_at + 60));
        assert_eq!(token.claims()["tenant"], "acme");
        assert_eq!(token.roles(), ["eng"]);
        let past_leeway = issued.expires_at + 60;
        let expired = verifier.verify_at(&issued.token, past_leeway).unwrap_err();
        assert_eq!(expired.kind(), ErrorKind::Expired);
    }

    #[test]
    fn a_lifetime_past_year_9999_is_refused_not_wrapped() {
        let key = || SigningKey::generate_ed25519("k").unwrap();
        for ttl in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
            let built = Signer::builder(key())
                .issuer("https://auth.example")
                .ttl(ttl)
                .build();
            assert!(built.is_err(), "{ttl:?}");
            let signer = signer(key());
            let issued = signer.issue(&TokenRequest::new("alice").ttl(ttl));
            assert!(
                matches!(issued, Err(IssueError::LifetimeTooLong)),
                "{ttl:?}: {issued:?}"
            );
        }
        // The last representable second is still fine.
        let signer = signer(key());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let until_9999 = tollgate::signer::MAX_EXPIRY - now - 10;
        let issued = signer
            .issue(&TokenRequest::new("alice").ttl(Duration::from_secs(until_9999)))
            .unwrap();
        assert!(issued.expires_at <= tollgate::signer::MAX_EXPIRY);
    }

    /// An OIDC ID token of the same provider, for the same audience: `typ` is `JWT`.
    fn id_token(signer: &Signer) -> String {
        let issued = Signer::builder(signer.key().clone())
            .issuer("https://auth.example")
            .audience("api")
            .token_type("JWT")
            .build()
            .unwrap()
            .issue(&TokenRequest::new("alice"))
            .unwrap();
        issued.token
    }

    #[test]
    fn the_access_token_profile_tells_access_tokens_from_id_tokens() {
        let signer = signer(SigningKey::generate_ed25519("k").unwrap());
        let profile = || {
            Verifier::builder()
                .keys(signer.verification_keys().unwrap())
                .issuer("https://auth.example")
                .audience("api")
        };
        let verifier = profile().access_token_profile().build().unwrap();
        let access = signer.issue(&TokenRequest::new("alice")).unwrap().token;
        verifier.verify(&access).unwrap();
        let error = verifier.verify(&id_token(&signer)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WrongType);
        // Without the profile, the ID token passes for an access token: the confusion.
        profile()
            .build()
            .unwrap()
            .verify(&id_token(&signer))
            .unwrap();

        // RFC 9068 also has the issuer and the audience checked: the profile needs both.
        for incomplete in [
            Verifier::builder()
                .keys(signer.verification_keys().unwrap())
                .audience("api"),
            Verifier::builder()
                .keys(signer.verification_keys().unwrap())
                .issuer("https://auth.example"),
        ] {
            assert!(incomplete.access_token_profile().build().is_err());
        }
    }

    #[test]
    fn reserved_claims_cannot_be_set_by_a_request() {
        let signer = signer(SigningKey::generate_ed25519("k").unwrap());
        for name in ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"] {
            let request = TokenRequest::new("alice").claim(name, "forged");
            assert!(
                matches!(signer.issue(&request), Err(IssueError::ReservedClaim(n)) if n == name),
                "{name}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Robustness: verify_at never panics
// ---------------------------------------------------------------------------------------

mod never_panics {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Arbitrary JSON values, a few levels deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Header member names the verifier reads, and claim names it interprets.
    const HEADER_NAMES: [&str; 6] = ["alg", "typ", "cty", "kid", "crit", "jwk"];
    const CLAIM_NAMES: [&str; 10] = [
        "exp", "nbf", "iat", "iss", "aud", "sub", "jti", "roles", "scope", "scp",
    ];

    fn strict_verifier() -> Verifier {
        builder()
            .issuer("https://issuer.example")
            .audience("api")
            .require_type("at+jwt")
            .validate_iat(true)
            .roles_claim("realm_access.roles")
            .build()
            .unwrap()
    }

    proptest! {
        #[test]
        fn on_arbitrary_strings(token in any::<String>(), now in any::<u64>()) {
            let _ = verifier().verify_at(&token, now);
        }

        #[test]
        fn on_arbitrary_dotted_text(token in "[A-Za-z0-9_=+/. \\-]{0,300}") {
            let _ = verifier().verify_at(&token, NOW);
        }

        #[test]
        fn on_arbitrary_base64url_segments(parts in vec(vec(any::<u8>(), 0..200), 0..7)) {
            let token = parts.iter().map(b64).collect::<Vec<_>>().join(".");
            let _ = verifier().verify_at(&token, NOW);
        }

        #[test]
        fn on_arbitrary_header_members(
            members in vec((proptest::sample::select(&HEADER_NAMES[..]), json_value()), 0..5),
            alg in prop_oneof![Just(json!("HS256")), json_value()],
        ) {
            let mut header = serde_json::Map::new();
            header.insert("alg".into(), alg);
            for (name, value) in members {
                header.insert(name.into(), value);
            }
            let token = hs256_raw(
                Value::Object(header).to_string().as_bytes(),
                valid_claims().to_string().as_bytes(),
            );
            let _ = strict_verifier().verify_at(&token, NOW);
        }

        #[test]
        fn on_arbitrary_media_types(typ in any::<String>(), cty in any::<String>()) {
            let header = json!({"alg": "HS256", "typ": typ, "cty": cty});
            let _ = strict_verifier().verify_at(&hs256_with_header(header, valid_claims()), NOW);
        }

        #[test]
        fn on_arbitrary_claims(
            members in vec((proptest::sample::select(&CLAIM_NAMES[..]), json_value()), 0..8),
            now in any::<u64>(),
        ) {
            let mut claims = serde_json::Map::new();
            for (name, value) in members {
                claims.insert(name.into(), value);
            }
            let token = hs256_with_header(
                json!({"alg": "HS256", "typ": "at+jwt"}),
                Value::Object(claims),
            );
            let _ = strict_verifier().verify_at(&token, now);
        }
    }
}
