//! One test (at least) per numbered case of `docs/security-cases.md`, cases 1 to 40, named
//! `case_NN_…`, each driven through an axum `Router` with the `AuthLayer` applied, by
//! `tower::ServiceExt::oneshot`.
//!
//! Every refusal asserts the status, the `WWW-Authenticate` header exactly, the JSON
//! body's `code`, and that the handler did not run. Where the case says so, the test also
//! proves that nothing else happened: no outbound request (cases 22 and 25, counted by a
//! listener of the test's own on 127.0.0.1) and no revocation lookup (case 39, counted by
//! a wrapper around the real `MemoryStore`).
//!
//! Case 25 runs against a JWK Set server of its own on 127.0.0.1 (real HTTP, port 0);
//! case 40 against a `redis-server` of its own (from `PATH`, killed by the test; see
//! `redis_harness`).
//!
//! Chosen behaviours, documented on `AuthLayer`:
//! - case 2: `Bearer` with nothing after it, with whitespace inside the token, or with
//!   bytes outside visible ASCII, is 400 `invalid_request`;
//! - case 5: a token sent twice (two `Authorization` headers, header and query, the
//!   cookie twice) is 400 `invalid_request`; header and cookie together: the header wins.

mod common;
mod redis_harness;

use common::*;
use http::StatusCode;
use http::header::{AUTHORIZATION, COOKIE, RETRY_AFTER};
use proptest::prelude::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tollgate::remote::RemoteKeys;
use tollgate::revocation::RevocationStore;
use tollgate::{Algorithm, ConfigError, Key, KeySet, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::{AuthLayer, StoreFailure};

const MALFORMED: (&str, &str) = ("token_malformed", "malformed token");
const HEADER_MALFORMED: (&str, &str) = ("header_malformed", "malformed token header");
const CLAIMS_MALFORMED: (&str, &str) = ("claims_malformed", "malformed token claims");
const BAD_SIGNATURE: (&str, &str) = ("signature_invalid", "invalid signature");
const ALG_MISMATCH: (&str, &str) = ("algorithm_mismatch", "algorithm not allowed for this key");
const UNKNOWN_KEY: (&str, &str) = ("key_unknown", "unknown signing key");

/// Sends each token as a bearer token to a fresh default app and expects 401
/// `invalid_token` with `(code, description)`.
async fn assert_all_refused(tokens: &[String], (code, description): (&str, &str)) {
    assert_all_refused_by(&App::default_app(), tokens, (code, description)).await;
}

async fn assert_all_refused_by(app: &App, tokens: &[String], (code, description): (&str, &str)) {
    for token in tokens {
        println!("token: {token}");
        app.bearer(token)
            .await
            .assert_invalid_token(code, description);
    }
    assert_eq!(app.runs(), 0);
}

// =======================================================================================
// Transport
// =======================================================================================

#[tokio::test]
async fn case_01_no_credentials_is_401_without_error_code() {
    let app = App::default_app();
    let outcome = app.get("/", &[]).await;
    outcome.assert_missing_token();
    assert_eq!(outcome.challenge(), Some(r#"Bearer realm="tollgate""#));
    // The guards answer the same way when the token is missing.
    app.get("/admin", &[]).await.assert_missing_token();
    app.get("/admin/extractor", &[])
        .await
        .assert_missing_token();
}

#[tokio::test]
async fn case_02_empty_or_split_bearer_is_400_invalid_request() {
    let app = App::default_app();
    for value in ["Bearer", "bearer", "Bearer a b", "Bearer a\tb"] {
        app.get("/", &[(AUTHORIZATION.as_str(), value)])
            .await
            .assert_invalid_request("malformed bearer token");
    }
    // Bytes outside visible ASCII (obs-text, allowed in a header value) after `Bearer`
    // are a malformed token, not "no token": in optional mode "no token" would reach the
    // handler as an anonymous request.
    let obs_text = format!("Bearer {}\u{e9}", valid_token()).into_bytes();
    for app in [App::default_app(), App::new(layer().optional())] {
        app.get_bytes("/", AUTHORIZATION.as_str(), &obs_text)
            .await
            .assert_invalid_request("malformed bearer token");
        app.get_bytes("/", AUTHORIZATION.as_str(), b"bearer \xff\xfe")
            .await
            .assert_invalid_request("malformed bearer token");
    }
    // A valid token followed by more text is not a valid token either.
    let split = format!("Bearer {} extra", valid_token());
    app.get("/", &[(AUTHORIZATION.as_str(), &split)])
        .await
        .assert_invalid_request("malformed bearer token");
}

#[tokio::test]
async fn case_03_other_scheme_counts_as_no_token() {
    let app = App::default_app();
    let token = valid_token();
    for value in [
        "Basic dXNlcjpwYXNzd29yZA==".to_owned(),
        "Digest username=\"alice\"".to_owned(),
        // A scheme that merely starts with "Bearer", and a valid JWT under another scheme.
        format!("Bearerx {token}"),
        format!("Token {token}"),
    ] {
        app.get("/", &[(AUTHORIZATION.as_str(), &value)])
            .await
            .assert_missing_token();
    }
    app.get_bytes("/", AUTHORIZATION.as_str(), b"Basic \xff\xfe")
        .await
        .assert_missing_token();
}

#[tokio::test]
async fn case_04_scheme_is_case_insensitive() {
    let app = App::default_app();
    let token = valid_token();
    for scheme in ["bearer", "BEARER", "bEaReR", "Bearer "] {
        let value = format!("{scheme} {token}");
        app.get("/", &[(AUTHORIZATION.as_str(), &value)])
            .await
            .assert_accepted();
    }
    // Read as a bearer token, a bad one is refused as such, not ignored as another scheme.
    app.get("/", &[(AUTHORIZATION.as_str(), "bearer not-a-jwt")])
        .await
        .assert_invalid_token(MALFORMED.0, MALFORMED.1);
}

#[tokio::test]
async fn case_05_token_in_two_places_is_400() {
    let token = valid_token();
    let authorization = format!("Bearer {token}");

    // Two Authorization headers, even carrying the same valid token.
    let app = App::default_app();
    let request = http::Request::get("/")
        .header(AUTHORIZATION, &authorization)
        .header(AUTHORIZATION, &authorization)
        .body(axum::body::Body::empty())
        .unwrap();
    app.send(request)
        .await
        .assert_invalid_request("more than one Authorization header");

    // Header and query, once the query is enabled; and the query parameter twice.
    let app = App::new(layer().query_parameter("access_token"));
    app.get(
        &format!("/?access_token={token}"),
        &[(AUTHORIZATION.as_str(), &authorization)],
    )
    .await
    .assert_invalid_request("token sent in more than one way");
    app.get(&format!("/?access_token={token}&access_token={token}"), &[])
        .await
        .assert_invalid_request("token query parameter sent more than once");
    app.get(&format!("/?access_token={token}"), &[])
        .await
        .assert_accepted();

    // The same cookie twice: refused rather than guessing which one was meant.
    let app = App::default_app();
    let cookies = format!("access_token={token}; access_token={token}");
    app.get("/", &[(COOKIE.as_str(), &cookies)])
        .await
        .assert_invalid_request("token cookie sent more than once");
}

#[tokio::test]
async fn case_05_header_wins_over_cookie() {
    let app = App::default_app();
    let token = valid_token();

    // A valid header and a garbage cookie: the cookie is not even read.
    let header = format!("Bearer {token}");
    app.get(
        "/",
        &[
            (AUTHORIZATION.as_str(), &header),
            (COOKIE.as_str(), "access_token=garbage"),
        ],
    )
    .await
    .assert_accepted();

    // A garbage header and a valid cookie: the header is what is judged.
    let cookie = format!("access_token={token}");
    app.get(
        "/",
        &[
            (AUTHORIZATION.as_str(), "Bearer garbage"),
            (COOKIE.as_str(), &cookie),
        ],
    )
    .await
    .assert_invalid_token(MALFORMED.0, MALFORMED.1);
}

#[tokio::test]
async fn case_06_oversized_token_is_refused_before_decoding() {
    let app = App::default_app();
    let too_large = ("token_too_large", "token too large");

    // Not base64 at all, yet the answer is "too large": the length is checked first.
    let garbage = "!".repeat(8 * 1024 + 1);
    app.bearer(&garbage)
        .await
        .assert_invalid_token(too_large.0, too_large.1);

    // A correctly signed token just over and just under the 8 KiB default.
    let padded = |len: usize| token_with_claims(TestKey::Hs, json!({ "pad": "x".repeat(len) }));
    let mut fill = (8 * 1024 - padded(0).len()) * 3 / 4 + 8;
    assert!(padded(fill).len() > 8 * 1024);
    while padded(fill).len() > 8 * 1024 {
        fill -= 1;
    }
    let fits = padded(fill);
    let over = padded(fill + 3);
    assert!(fits.len() > 8 * 1024 - 4 && over.len() > 8 * 1024);
    app.bearer(&over)
        .await
        .assert_invalid_token(too_large.0, too_large.1);
    app.bearer(&fits).await.assert_accepted();

    // A configured limit applies the same way.
    let small = App::new(AuthLayer::new(
        verifier().max_token_len(64).build().unwrap(),
    ));
    small
        .bearer(&valid_token())
        .await
        .assert_invalid_token(too_large.0, too_large.1);
}

// =======================================================================================
// Encoding
// =======================================================================================

#[tokio::test]
async fn case_07_wrong_segment_count_or_empty_segment() {
    let [h, p, s] = segments(&valid_token()).map(str::to_owned);
    let tokens = [
        h.clone(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}.{s}.{s}.{s}"),
        format!("{h}.{p}."),
        format!("{h}..{s}"),
        format!(".{p}.{s}"),
        "..".to_owned(),
    ];
    assert_all_refused(&tokens, MALFORMED).await;
}

#[tokio::test]
async fn case_08_padding_whitespace_and_foreign_characters() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // Lengths that are not multiples of 3, so that padded base64 ends in `=`.
    let header = r#"{"alg":"HS256","kid":"hs","typ":"JWT"}"#;
    let mut claims = claims().to_string();
    while claims.len().is_multiple_of(3) {
        claims.push(' ');
    }
    let (h64, p64) = (
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(&claims),
    );
    let (h64_padded, p64_padded) = (URL_SAFE.encode(header), URL_SAFE.encode(&claims));
    assert!(h64_padded.ends_with('=') && p64_padded.ends_with('='));
    let good = sign_segments(&h64, &p64, TestKey::Hs);
    App::default_app().bearer(&good).await.assert_accepted();
    let sig = segments(&good)[2].to_owned();
    let replace_5th = |segment: &str, c: char| format!("{}{c}{}", &segment[..4], &segment[5..]);

    // The last character of the header carries unused low bits; setting one gives a
    // non-canonical encoding of the same bytes.
    let last = *h64.as_bytes().last().unwrap();
    let position = ALPHABET.iter().position(|c| *c == last).unwrap();
    let noncanonical = format!(
        "{}{}",
        &h64[..h64.len() - 1],
        ALPHABET[position | 1] as char
    );
    assert_ne!(noncanonical, h64);

    // Header: checked before the signature, so any alteration is a header error.
    let header_tokens = [
        format!("{h64_padded}.{p64}.{sig}"),
        format!("{}.{p64}.{sig}", replace_5th(&h64, '+')),
        format!("{}.{p64}.{sig}", replace_5th(&h64, '/')),
        format!("{}.{p64}.{sig}", replace_5th(&h64, '%')),
        format!("{noncanonical}.{p64}.{sig}"),
    ];
    assert_all_refused(&header_tokens, HEADER_MALFORMED).await;

    // Claims: correctly signed over the altered text, so the claims decoder is reached.
    let claims_tokens = [
        sign_segments(&h64, &p64_padded, TestKey::Hs),
        sign_segments(&h64, &replace_5th(&p64, '+'), TestKey::Hs),
        sign_segments(&h64, &replace_5th(&p64, '/'), TestKey::Hs),
    ];
    assert_all_refused(&claims_tokens, CLAIMS_MALFORMED).await;

    // Signature.
    let signature_tokens = [
        format!("{h64}.{p64}.{sig}="),
        format!("{h64}.{p64}.{}", replace_5th(&sig, '+')),
    ];
    assert_all_refused(&signature_tokens, MALFORMED).await;

    // Whitespace inside the token: the Authorization header refuses it as a malformed
    // request (case 2); a custom header, which carries the raw token, hands it to the
    // verifier, which refuses the header segment.
    let app = App::new(layer().header(http::HeaderName::from_static("x-token")));
    let spaced = format!("{} {}", &good[..4], &good[4..]);
    let tabbed = format!("{}\t{}", &good[..4], &good[4..]);
    app.bearer(&spaced)
        .await
        .assert_invalid_request("malformed bearer token");
    for raw in [&spaced, &tabbed] {
        app.get("/", &[("x-token", raw)])
            .await
            .assert_invalid_token(HEADER_MALFORMED.0, HEADER_MALFORMED.1);
    }
}

#[tokio::test]
async fn case_09_segments_that_are_not_json_objects() {
    let header = TestKey::Hs.header().to_string();
    let claims = claims().to_string();
    let bom = |json: &str| [b"\xEF\xBB\xBF".as_slice(), json.as_bytes()].concat();

    let bad_headers: Vec<Vec<u8>> = vec![
        b"[]".to_vec(),
        br#""HS256""#.to_vec(),
        b"null".to_vec(),
        b"42".to_vec(),
        b"not json".to_vec(),
        br#"{"alg":"HS256","kid":"hs""#.to_vec(),
        br#"{"alg":"HS256","kid":"hs"} {}"#.to_vec(),
        b"{\"alg\":\"HS256\",\"kid\":\"hs\",\"x\":\"\xff\xfe\"}".to_vec(),
        bom(&header),
    ];
    let tokens: Vec<String> = bad_headers
        .iter()
        .map(|h| forge_raw(h, claims.as_bytes(), TestKey::Hs))
        .collect();
    assert_all_refused(&tokens, HEADER_MALFORMED).await;

    let bad_claims: Vec<Vec<u8>> = vec![
        b"[]".to_vec(),
        br#""alice""#.to_vec(),
        b"null".to_vec(),
        b"42".to_vec(),
        b"not json".to_vec(),
        claims.as_bytes()[..claims.len() - 1].to_vec(),
        format!("{claims}{claims}").into_bytes(),
        [
            &claims.as_bytes()[..claims.len() - 1],
            b",\"x\":\"\xc3\x28\"}",
        ]
        .concat(),
        bom(&claims),
    ];
    let tokens: Vec<String> = bad_claims
        .iter()
        .map(|c| forge_raw(header.as_bytes(), c, TestKey::Hs))
        .collect();
    assert_all_refused(&tokens, CLAIMS_MALFORMED).await;
}

#[tokio::test]
async fn case_10_duplicate_member_names() {
    let claims = claims().to_string();
    let headers = [
        r#"{"alg":"none","alg":"HS256","kid":"hs"}"#,
        r#"{"alg":"HS256","alg":"none","kid":"hs"}"#,
        r#"{"alg":"HS256","alg":"HS256","kid":"hs"}"#,
        r#"{"alg":"HS256","kid":"rs","kid":"hs"}"#,
        r#"{"alg":"HS256","kid":"hs","x":{"a":1,"a":2}}"#,
    ];
    let tokens: Vec<String> = headers
        .iter()
        .map(|h| forge_raw(h.as_bytes(), claims.as_bytes(), TestKey::Hs))
        .collect();
    assert_all_refused(&tokens, HEADER_MALFORMED).await;

    let header = TestKey::Hs.header().to_string();
    let exp = now() + 600;
    let bad_claims = [
        format!(
            r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","sub":"admin","exp":{exp}}}"#
        ),
        format!(r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","exp":1,"exp":{exp}}}"#),
        format!(
            r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","exp":{exp},"roles":["user"],"roles":["admin"]}}"#
        ),
        format!(
            r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","exp":{exp},"x":[{{"a":1,"a":2}}]}}"#
        ),
    ];
    let tokens: Vec<String> = bad_claims
        .iter()
        .map(|c| forge_raw(header.as_bytes(), c.as_bytes(), TestKey::Hs))
        .collect();
    assert_all_refused(&tokens, CLAIMS_MALFORMED).await;
}

#[tokio::test]
async fn case_11_deep_nesting_huge_numbers_and_string_dates() {
    let deep = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let header = TestKey::Hs.header().to_string();
    let claims = claims().to_string();
    let open = |json: &str| json[..json.len() - 1].to_owned();

    let deep_header = format!(r#"{},"x":{}}}"#, open(&header), deep(64));
    let token = forge_raw(deep_header.as_bytes(), claims.as_bytes(), TestKey::Hs);
    assert_all_refused(&[token], HEADER_MALFORMED).await;

    let raw_claims = [
        format!(r#"{},"x":{}}}"#, open(&claims), deep(64)),
        format!(
            r#"{},"x":{}}}"#,
            open(&claims),
            "{\"a\":".repeat(40) + "1" + &"}".repeat(40)
        ),
        format!(r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","exp":1e400}}"#),
        format!(r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","exp":-1e400}}"#),
        format!(
            r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","exp":{},"nbf":1e999}}"#,
            now() + 600
        ),
    ];
    let tokens: Vec<String> = raw_claims
        .iter()
        .map(|c| forge_raw(header.as_bytes(), c.as_bytes(), TestKey::Hs))
        .collect();
    assert_all_refused(&tokens, CLAIMS_MALFORMED).await;

    let far = (now() + 600).to_string();
    let tokens = [
        token_with_claims(TestKey::Hs, json!({ "exp": far })),
        token_with_claims(TestKey::Hs, json!({ "exp": null })),
        token_with_claims(TestKey::Hs, json!({ "exp": [far] })),
        token_with_claims(TestKey::Hs, json!({ "exp": -1 })),
        token_with_claims(TestKey::Hs, json!({ "exp": 1e30 })),
        forge_raw(
            header.as_bytes(),
            format!(r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":99999999999999999999999}}"#)
                .as_bytes(),
            TestKey::Hs,
        ),
    ];
    assert_all_refused(&tokens, ("claim_invalid", "invalid claim exp")).await;
}

// =======================================================================================
// Algorithm
// =======================================================================================

#[tokio::test]
async fn case_12_alg_none_in_any_case() {
    let claims = b64(claims().to_string());
    let mut signed = Vec::new();
    let mut unsigned = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        for header in [
            json!({ "alg": alg }),
            json!({ "alg": alg, "kid": "hs", "typ": "JWT" }),
        ] {
            let h64 = b64(header.to_string());
            // With a signature segment: an HS256 MAC and arbitrary bytes.
            let mac = hmac_sha256(HS_SECRET, format!("{h64}.{claims}").as_bytes());
            signed.push(format!("{h64}.{claims}.{}", b64(mac)));
            signed.push(format!("{h64}.{claims}.{}", b64("signature")));
            // Without: the trailing dot of RFC 7519 §6.1, and no dot at all.
            unsigned.push(format!("{h64}.{claims}."));
            unsigned.push(format!("{h64}.{claims}"));
        }
    }
    assert_all_refused(
        &signed,
        ("algorithm_none", "unsigned tokens are not accepted"),
    )
    .await;
    assert_all_refused(&unsigned, MALFORMED).await;
}

#[tokio::test]
async fn case_13_alg_missing_null_or_not_a_string() {
    let header = without(TestKey::Hs.header(), &["alg"]);
    let mut tokens = vec![forge(&header, &claims(), TestKey::Hs)];
    for alg in [
        json!(null),
        json!(256),
        json!(true),
        json!(["HS256"]),
        json!({ "name": "HS256" }),
    ] {
        tokens.push(token_with_header(TestKey::Hs, json!({ "alg": alg })));
    }
    assert_all_refused(&tokens, HEADER_MALFORMED).await;

    // Strings that name no supported algorithm.
    let tokens: Vec<String> = ["", "hs256", "HS256 ", "HS1", "RSA-OAEP", "ES256K"]
        .iter()
        .map(|alg| token_with_header(TestKey::Hs, json!({ "alg": alg })))
        .collect();
    assert_all_refused(&tokens, ("algorithm_unsupported", "unsupported algorithm")).await;
}

#[tokio::test]
async fn case_14_hs256_keyed_with_the_rsa_public_key() {
    let pem = RSA_PUBLIC_PEM.as_bytes();
    let pem_no_newline = RSA_PUBLIC_PEM.trim_end().as_bytes();
    let der = pem_der(RSA_PUBLIC_PEM);
    let modulus = unb64(TestKey::Rs.public_jwk()["n"].as_str().unwrap());
    assert_eq!(modulus.len(), 256);
    let secrets: [&[u8]; 4] = [pem, pem_no_newline, &der, &modulus];

    let confused = |header: serde_json::Value| -> Vec<String> {
        secrets
            .iter()
            .map(|secret| {
                let h64 = b64(header.to_string());
                let p64 = b64(claims().to_string());
                let mac = hmac_sha256(secret, format!("{h64}.{p64}").as_bytes());
                format!("{h64}.{p64}.{}", b64(mac))
            })
            .collect()
    };

    // A service configured with only the RSA public key.
    let rsa_only = Verifier::builder()
        .key(
            Key::rsa_pem(RSA_PUBLIC_PEM.as_bytes(), Algorithm::RS256)
                .unwrap()
                .with_kid("rs"),
        )
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let app = App::new(AuthLayer::new(rsa_only));
    let with_kid = confused(json!({ "alg": "HS256", "kid": "rs", "typ": "JWT" }));
    let without_kid = confused(json!({ "alg": "HS256", "typ": "JWT" }));
    assert_all_refused_by(&app, &with_kid, ALG_MISMATCH).await;
    assert_all_refused_by(&app, &without_kid, ALG_MISMATCH).await;

    // A service holding the RSA key next to an HMAC key: naming the RSA key is an
    // algorithm mismatch, naming none selects the real HMAC key, whose MAC differs.
    assert_all_refused(&with_kid, ALG_MISMATCH).await;
    assert_all_refused(&without_kid, BAD_SIGNATURE).await;
}

#[tokio::test]
async fn case_15_alg_other_than_the_one_bound_to_the_key() {
    let claims = claims();
    let tokens = [
        // Same family, another algorithm: PS256 and RS512 with the RS256 key, correctly
        // signed by its private half.
        forge(
            &json!({ "alg": "PS256", "kid": "rs" }),
            &claims,
            TestKey::Rs,
        ),
        {
            let h64 = b64(json!({ "alg": "RS512", "kid": "rs" }).to_string());
            let p64 = b64(claims.to_string());
            let sig = TestKey::Rs.sign_as(Algorithm::RS512, format!("{h64}.{p64}").as_bytes());
            format!("{h64}.{p64}.{}", b64(sig))
        },
        {
            let h64 = b64(json!({ "alg": "HS512", "kid": "hs" }).to_string());
            let p64 = b64(claims.to_string());
            let sig = TestKey::Hs.sign_as(Algorithm::HS512, format!("{h64}.{p64}").as_bytes());
            format!("{h64}.{p64}.{}", b64(sig))
        },
        // Another family, naming a trusted key.
        forge(
            &json!({ "alg": "ES256", "kid": "rs" }),
            &claims,
            TestKey::Es,
        ),
        forge(
            &json!({ "alg": "EdDSA", "kid": "es" }),
            &claims,
            TestKey::Ed,
        ),
        forge(
            &json!({ "alg": "HS256", "kid": "ed" }),
            &claims,
            TestKey::Hs,
        ),
        forge(
            &json!({ "alg": "RS256", "kid": "hs" }),
            &claims,
            TestKey::Rs,
        ),
    ];
    assert_all_refused(&tokens, ALG_MISMATCH).await;

    // Without a kid and no key bound to the algorithm (several keys configured).
    let h64 = b64(json!({ "alg": "PS256" }).to_string());
    let p64 = b64(claims.to_string());
    let sig = TestKey::Rs.sign_as(Algorithm::PS256, format!("{h64}.{p64}").as_bytes());
    assert_all_refused(&[format!("{h64}.{p64}.{}", b64(sig))], UNKNOWN_KEY).await;
}

#[tokio::test]
async fn case_16_es256_signature_not_in_fixed_form() {
    let good = token(TestKey::Es, &claims());
    App::default_app().bearer(&good).await.assert_accepted();
    let fixed = signature_of(&good);
    assert_eq!(fixed.len(), 64);

    let der = ecdsa_der(&fixed);
    let tokens = [
        resign(&good, &der),
        resign(&good, &[fixed.as_slice(), &[0]].concat()),
        resign(&good, &[&[0], fixed.as_slice()].concat()),
        resign(&good, &[fixed.as_slice(), b"trailing"].concat()),
        resign(&good, &[der.as_slice(), &[0, 0]].concat()),
        resign(&good, &fixed[..63]),
    ];
    assert_all_refused(&tokens, BAD_SIGNATURE).await;
}

#[tokio::test]
async fn case_17_es256_with_degenerate_r_or_s() {
    let good = token(TestKey::Es, &claims());
    let fixed = signature_of(&good);
    let (r, s) = fixed.split_at(32);
    let zero = [0u8; 32];
    let mut one = [0u8; 32];
    one[31] = 1;
    let n = P256_ORDER;
    let n_minus_1 = sub_be(&n, 1);
    let specials: [&[u8]; 4] = [&zero, &one, &n_minus_1, &n];

    let mut tokens = Vec::new();
    // r = s = 0 (CVE-2022-21449), and every pair of special values.
    for special_r in specials {
        for special_s in specials {
            tokens.push(resign(&good, &[special_r, special_s].concat()));
        }
        // One special value next to the genuine other half.
        tokens.push(resign(&good, &[special_r, s].concat()));
        tokens.push(resign(&good, &[r, special_r].concat()));
    }
    assert_eq!(tokens.len(), 24);
    assert_all_refused(&tokens, BAD_SIGNATURE).await;
}

#[tokio::test]
async fn case_18_ed25519_with_s_not_reduced() {
    let good = token(TestKey::Ed, &claims());
    App::default_app().bearer(&good).await.assert_accepted();
    let signature = signature_of(&good);
    let (point, s) = signature.split_at(32);
    // S + L verifies under a non-strict check (same value mod L), S + 2L too.
    let s_plus_l = add_le(s, &ED25519_ORDER);
    let s_plus_2l = add_le(&s_plus_l, &ED25519_ORDER);
    let tokens = [
        resign(&good, &[point, &s_plus_l].concat()),
        resign(&good, &[point, &s_plus_2l].concat()),
        resign(&good, &[point, &ED25519_ORDER].concat()),
        resign(&good, &[point, &[0xff; 32]].concat()),
    ];
    assert_all_refused(&tokens, BAD_SIGNATURE).await;
}

#[tokio::test]
async fn case_19_rs256_with_altered_padding() {
    let app = App::default_app();
    // Control: the well-formed block, signed by raw RSA the same way, is accepted.
    app.bearer(&rsa_forgery("valid")).await.assert_accepted();

    let good = token(TestKey::Rs, &claims());
    let mut flipped = signature_of(&good);
    flipped[0] ^= 0x01;
    let mut flipped_end = signature_of(&good);
    flipped_end[255] ^= 0x80;
    let mut tokens = vec![resign(&good, &flipped), resign(&good, &flipped_end)];
    // Raw-RSA signatures of PKCS#1 v1.5 blocks with one defect each (see
    // fixtures/make-fixtures.sh).
    for variant in [
        "padding_byte_not_ff",
        "block_type_2",
        "leading_byte_not_zero",
        "missing_separator",
        "digest_info_without_null",
        "digest_info_wrong_hash",
        "garbage_after_hash",
    ] {
        tokens.push(rsa_forgery(variant));
    }
    let fresh = App::default_app();
    assert_all_refused_by(&fresh, &tokens, BAD_SIGNATURE).await;
}

/// Case 20 is about configuration, so it is answered by the builders, not by a request.
#[test]
fn case_20_weak_keys_are_config_errors() {
    for (algorithm, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        let short = vec![7u8; min - 1];
        let error = Key::hmac(&short, algorithm).unwrap_err();
        assert!(
            matches!(error, ConfigError::WeakSecret { len, min: m, .. } if len == min - 1 && m == min),
            "{error:?}"
        );
        assert!(SigningKey::hmac("k", &short, algorithm).is_err());
        assert!(Key::hmac(&vec![7u8; min], algorithm).is_ok());
    }

    let error = Key::rsa_pem(RSA1024_PUBLIC_PEM.as_bytes(), Algorithm::RS256).unwrap_err();
    assert!(
        matches!(error, ConfigError::WeakRsaKey { bits: 1024 }),
        "{error:?}"
    );
    let jwk = rsa_forgeries()["rsa1024_jwk"].to_string();
    let error = Key::from_jwk(&jwk, None).unwrap_err();
    assert!(
        matches!(error, ConfigError::WeakRsaKey { bits: 1024 }),
        "{error:?}"
    );

    // A JWK Set whose only key is weak yields no verifier at all.
    let jwks = json!({ "keys": [{ "kty": "oct", "alg": "HS256", "k": b64([7u8; 31]) }] });
    let error = KeySet::from_jwks(&jwks.to_string()).unwrap_err();
    assert!(matches!(error, ConfigError::NoUsableKeys(_)), "{error:?}");

    // And a verifier cannot be built without a key.
    let error = Verifier::builder().build().unwrap_err();
    assert!(matches!(error, ConfigError::NoKeys), "{error:?}");
}

// =======================================================================================
// Key selection and header injection
// =======================================================================================

#[tokio::test]
async fn case_21_embedded_jwk_is_ignored() {
    let attacker_jwk = TestKey::Attacker.public_jwk();
    let claims = claims();
    let tokens = [
        // No kid: the one trusted EdDSA key is used, and the attacker's signature fails.
        forge(
            &json!({ "alg": "EdDSA", "jwk": attacker_jwk }),
            &claims,
            TestKey::Attacker,
        ),
        // Naming a trusted key.
        forge(
            &json!({ "alg": "EdDSA", "kid": "ed", "jwk": attacker_jwk }),
            &claims,
            TestKey::Attacker,
        ),
        // An HMAC key of the attacker's choosing.
        {
            let secret = [0x41u8; 32];
            let header = json!({ "alg": "HS256", "jwk": { "kty": "oct", "k": b64(secret) } });
            let h64 = b64(header.to_string());
            let p64 = b64(claims.to_string());
            let mac = hmac_sha256(&secret, format!("{h64}.{p64}").as_bytes());
            format!("{h64}.{p64}.{}", b64(mac))
        },
    ];
    assert_all_refused(&tokens, BAD_SIGNATURE).await;

    // The jwk's own kid is not looked up either.
    let with_kid = with(attacker_jwk.clone(), json!({ "kid": "attacker" }));
    let token = forge(
        &json!({ "alg": "EdDSA", "kid": "attacker", "jwk": with_kid }),
        &claims,
        TestKey::Attacker,
    );
    assert_all_refused(&[token], UNKNOWN_KEY).await;
}

#[tokio::test]
async fn case_22_jku_and_x5u_are_never_fetched() {
    let tripwire = Tripwire::start();
    let jku = tripwire.url("/jwks.json");
    let x5u = tripwire.url("/cert.pem");
    let https = jku.replace("http://", "https://");
    let claims = claims();
    let headers = [
        json!({ "alg": "EdDSA", "jku": jku }),
        json!({ "alg": "EdDSA", "kid": "ed", "jku": jku }),
        json!({ "alg": "EdDSA", "jku": https }),
        json!({ "alg": "EdDSA", "x5u": x5u }),
        json!({ "alg": "EdDSA", "kid": "ed", "x5u": x5u, "jku": jku }),
    ];
    let tokens: Vec<String> = headers
        .iter()
        .map(|h| forge(h, &claims, TestKey::Attacker))
        .collect();
    assert_all_refused(&tokens, BAD_SIGNATURE).await;

    // A kid that only the remote set could hold.
    let tokens: Vec<String> = ["jku", "x5u"]
        .iter()
        .map(|member| {
            let mut header = json!({ "alg": "EdDSA", "kid": "remote-key" });
            header[*member] = json!(tripwire.url("/"));
            forge(&header, &claims, TestKey::Attacker)
        })
        .collect();
    assert_all_refused(&tokens, UNKNOWN_KEY).await;

    assert_eq!(tripwire.connections(), 0, "an outbound request was made");
}

#[tokio::test]
async fn case_23_x5c_is_ignored() {
    let chain = json!([pem_body(ATTACKER_CERT_PEM)]);
    let claims = claims();
    let tokens = [
        forge(
            &json!({ "alg": "EdDSA", "x5c": chain }),
            &claims,
            TestKey::Attacker,
        ),
        forge(
            &json!({ "alg": "EdDSA", "kid": "ed", "x5c": chain }),
            &claims,
            TestKey::Attacker,
        ),
        forge(
            &json!({ "alg": "EdDSA", "x5c": chain, "x5t#S256": b64([0u8; 32]) }),
            &claims,
            TestKey::Attacker,
        ),
    ];
    assert_all_refused(&tokens, BAD_SIGNATURE).await;
}

#[tokio::test]
async fn case_24_hostile_kid_values() {
    let app = App::default_app();
    let tokens: Vec<String> = [
        "../../dev/null".to_owned(),
        "/dev/null".to_owned(),
        "x' UNION SELECT '1';--".to_owned(),
        "hs' OR '1'='1".to_owned(),
        String::new(),
        "HS".to_owned(),
        "hs\u{0}".to_owned(),
        "hs\n".to_owned(),
        "k".repeat(257),
    ]
    .iter()
    .map(|kid| token_with_header(TestKey::Hs, json!({ "kid": kid })))
    .collect();
    assert_all_refused_by(&app, &tokens, UNKNOWN_KEY).await;

    let tokens: Vec<String> = [
        json!(42),
        json!(null),
        json!(true),
        json!(["hs"]),
        json!({ "kid": "hs" }),
    ]
    .into_iter()
    .map(|kid| token_with_header(TestKey::Hs, json!({ "kid": kid })))
    .collect();
    assert_all_refused_by(&app, &tokens, HEADER_MALFORMED).await;

    // A 10 KB kid: over the default size limit, and refused by the kid check when the
    // limit is raised.
    let long = token_with_header(TestKey::Hs, json!({ "kid": "k".repeat(10 * 1024) }));
    app.bearer(&long)
        .await
        .assert_invalid_token("token_too_large", "token too large");
    let roomy = App::new(AuthLayer::new(
        verifier().max_token_len(64 * 1024).build().unwrap(),
    ));
    assert_all_refused_by(&roomy, &[long], UNKNOWN_KEY).await;

    // No side effects: the same app still accepts a good token.
    app.bearer(&valid_token()).await.assert_accepted();
}

// ---------------------------------------------------------------------------------------
// Case 25: an identity provider of the test's own
// ---------------------------------------------------------------------------------------

/// Where [`JwksServer`] publishes its JWK Set.
const JWKS_PATH: &str = "/jwks.json";

/// A JWK Set server on 127.0.0.1 (port 0), speaking real HTTP, that counts every request
/// it receives: the identity provider of case 25.
#[derive(Debug)]
struct JwksServer {
    addr: std::net::SocketAddr,
    jwks: Arc<Mutex<serde_json::Value>>,
    jwks_hits: Arc<AtomicUsize>,
    other_hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    /// Serves `jwks` at [`JWKS_PATH`] until dropped.
    async fn start(jwks: serde_json::Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let jwks = Arc::new(Mutex::new(jwks));
        let (jwks_hits, other_hits) = (Arc::default(), Arc::default());
        let published = jwks.clone();
        let counted: Arc<AtomicUsize> = Arc::clone(&jwks_hits);
        let others: Arc<AtomicUsize> = Arc::clone(&other_hits);
        let router = axum::Router::new()
            .route(
                JWKS_PATH,
                axum::routing::get(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let body = published.lock().unwrap().clone();
                    async move { axum::Json(body) }
                }),
            )
            .fallback(move || {
                others.fetch_add(1, Ordering::SeqCst);
                async { StatusCode::NOT_FOUND }
            });
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            addr,
            jwks,
            jwks_hits,
            other_hits,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}{JWKS_PATH}", self.addr)
    }

    /// Serves `jwks` from now on.
    fn publish(&self, jwks: serde_json::Value) {
        *self.jwks.lock().unwrap() = jwks;
    }

    /// Requests for the JWK Set so far.
    fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    /// Requests for any other path so far.
    fn other_hits(&self) -> usize {
        self.other_hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A signer of the identity provider: a fresh Ed25519 key under `kid`.
fn idp_signer(kid: &str) -> Signer {
    Signer::builder(SigningKey::generate_ed25519(kid).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// An otherwise valid token naming `kid`, signed by a key nobody trusts.
fn token_naming_kid(kid: &str) -> String {
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid });
    forge(&header, &claims(), TestKey::Attacker)
}

/// Sends `count` tokens with never-seen `kid`s to `app` at once; every one must be 401
/// `key_unknown` (never a 5xx, never the handler).
async fn unknown_kid_flood(app: &Arc<App>, round: &str, count: usize) {
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..count {
        let app = Arc::clone(app);
        let token = token_naming_kid(&format!("{round}-{i}-{}", now()));
        flood.spawn(async move { app.bearer(&token).await });
    }
    let mut answered = 0;
    while let Some(outcome) = flood.join_next().await {
        outcome
            .unwrap()
            .assert_invalid_token(UNKNOWN_KEY.0, UNKNOWN_KEY.1);
        answered += 1;
    }
    assert_eq!(answered, count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn case_25_unknown_kid_flood_causes_at_most_one_fetch_per_cooldown() {
    // The cooldown is shortened from its 30 s default so that the test can also cross it.
    const COOLDOWN: Duration = Duration::from_secs(3);
    let known = idp_signer("idp-1");
    let idp = JwksServer::start(known.jwks()).await;
    let keys = RemoteKeys::jwks(idp.url())
        .cooldown(COOLDOWN)
        .build()
        .unwrap();
    assert!(
        keys.wait_until_loaded(Duration::from_secs(5)).await,
        "the JWK Set loads"
    );
    assert_eq!(idp.jwks_hits(), 1, "one fetch at start-up");
    let verifier = Verifier::builder()
        .remote_keys(keys.clone())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    // The flood and a legitimate user, each through a router of its own so that each
    // counts its own handler calls; both share the remote keys.
    let flood_app = Arc::new(App::new(AuthLayer::new(verifier.clone())));
    let app = App::new(AuthLayer::new(verifier));
    let good = known.issue(&TokenRequest::new("alice")).unwrap().token;
    app.bearer(&good).await.assert_accepted();

    // A burst of 1000 random kids at once: the misses share one refetch.
    let started = std::time::Instant::now();
    unknown_kid_flood(&flood_app, "burst", 1000).await;
    assert_eq!(
        idp.jwks_hits(),
        2,
        "1000 concurrent unknown kids: exactly one shared refetch"
    );
    // Another burst inside the same cooldown window: no fetch at all.
    unknown_kid_flood(&flood_app, "again", 200).await;
    let elapsed = started.elapsed();
    if elapsed < COOLDOWN {
        assert_eq!(idp.jwks_hits(), 2, "no refetch inside the cooldown");
    } else {
        // A very slow machine crossed the window; the bound still holds.
        assert!(idp.jwks_hits() <= 3, "{} fetches", idp.jwks_hits());
    }
    assert_eq!(flood_app.runs(), 0, "the handler ran for an unknown kid");
    app.bearer(&good).await.assert_accepted();

    // Once the window has passed, an unknown kid may cause one refetch again: a key the
    // provider rotated in meanwhile is then accepted at once. (The window started when the
    // refetch did, a little after `started`: until it is over, the new kid stays unknown
    // and no fetch happens, so retrying does not change the count.)
    tokio::time::sleep(COOLDOWN.saturating_sub(started.elapsed())).await;
    let rotated = idp_signer("idp-2");
    idp.publish(json!({
        "keys": [known.key().public_jwk().unwrap(), rotated.key().public_jwk().unwrap()]
    }));
    let hits = idp.jwks_hits();
    let rotated_token = rotated.issue(&TokenRequest::new("alice")).unwrap().token;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let outcome = app.bearer(&rotated_token).await;
        if outcome.status == StatusCode::OK {
            outcome.assert_accepted();
            break;
        }
        outcome.assert_invalid_token(UNKNOWN_KEY.0, UNKNOWN_KEY.1);
        assert!(
            idp.jwks_hits() <= hits + 1,
            "more than one refetch per cooldown"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the cooldown never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(idp.jwks_hits(), hits + 1, "one refetch after the cooldown");
    assert_eq!(
        idp.other_hits(),
        0,
        "only the configured URL is ever requested"
    );
}

#[tokio::test]
async fn case_26_no_kid_with_several_candidate_keys() {
    let keys = || {
        KeySet::new()
            .with(
                Key::hmac(HS_SECRET, Algorithm::HS256)
                    .unwrap()
                    .with_kid("hs"),
            )
            .unwrap()
            .with(
                Key::hmac(&[9u8; 32], Algorithm::HS256)
                    .unwrap()
                    .with_kid("hs-2"),
            )
            .unwrap()
    };
    let no_kid = forge(
        &json!({ "alg": "HS256", "typ": "JWT" }),
        &claims(),
        TestKey::Hs,
    );

    let strict = Verifier::builder()
        .keys(keys())
        .issuer(ISSUER)
        .build()
        .unwrap();
    let app = App::new(AuthLayer::new(strict));
    app.bearer(&no_kid)
        .await
        .assert_invalid_token("key_ambiguous", "token does not name its signing key");
    // Naming the key works.
    app.bearer(&token(TestKey::Hs, &claims()))
        .await
        .assert_accepted();

    // Opted in: every HS256 key is tried; a forged MAC still fails against all of them.
    let lenient = Verifier::builder()
        .keys(keys())
        .issuer(ISSUER)
        .try_all_keys(true)
        .build()
        .unwrap();
    let app = App::new(AuthLayer::new(lenient));
    app.bearer(&no_kid).await.assert_accepted();
    let forged = resign(&no_kid, &[0u8; 32]);
    app.bearer(&forged)
        .await
        .assert_invalid_token(BAD_SIGNATURE.0, BAD_SIGNATURE.1);
}

#[tokio::test]
async fn case_27_unsafe_jwks_entries_are_not_loaded() {
    let p256 = TestKey::Es.public_jwk();
    let entry = |changes: serde_json::Value| with(p256.clone(), changes);
    let mut off_curve = entry(json!({ "kid": "off-curve" }));
    let mut y = unb64(off_curve["y"].as_str().unwrap());
    y[31] ^= 0x01;
    off_curve["y"] = json!(b64(y));
    let rsa1024 = rsa_forgeries()["rsa1024_jwk"].clone();
    let jwks = json!({ "keys": [
        entry(json!({ "kid": "good" })),
        with(TestKey::Ed.public_jwk(), json!({ "kid": "ed-good" })),
        entry(json!({ "kid": "dup" })),
        entry(json!({ "kid": "dup" })),
        entry(json!({ "kid": "private", "d": b64([1u8; 32]) })),
        entry(json!({ "kid": "enc", "use": "enc" })),
        entry(json!({ "kid": "sign-only", "key_ops": ["sign"] })),
        rsa1024,
        off_curve,
        entry(json!({ "kid": "crv-mismatch", "alg": "ES384" })),
    ]});
    let keys = KeySet::from_public_jwks(&jwks.to_string(), None).unwrap();
    assert_eq!(
        keys.len(),
        2,
        "loaded: {:?}",
        keys.iter().collect::<Vec<_>>()
    );
    assert_eq!(keys.skipped().len(), 8, "{:?}", keys.skipped());
    assert!(keys.get("good").is_some() && keys.get("ed-good").is_some());

    let verifier = Verifier::builder()
        .keys(keys)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let app = App::new(AuthLayer::new(verifier));
    let claims = claims();
    let signed_as = |kid: &str, key: TestKey| {
        forge(&json!({ "alg": key.algorithm(), "kid": kid }), &claims, key)
    };
    let tokens: Vec<String> = [
        "dup",
        "private",
        "enc",
        "sign-only",
        "off-curve",
        "crv-mismatch",
    ]
    .iter()
    .map(|kid| signed_as(kid, TestKey::Es))
    .chain([signed_as("rsa1024", TestKey::Rs)])
    .collect();
    assert_all_refused_by(&app, &tokens, UNKNOWN_KEY).await;

    // The rest still load and work.
    app.bearer(&signed_as("good", TestKey::Es))
        .await
        .assert_accepted();
    app.bearer(&signed_as("ed-good", TestKey::Ed))
        .await
        .assert_accepted();
}

#[tokio::test]
async fn case_28_crit_header() {
    let tokens: Vec<String> = [
        // An extension that is present but not understood.
        json!({ "crit": ["exp"], "exp": now() + 600 }),
        json!({ "crit": ["b64"], "b64": false }),
        // Invalid per RFC 7515 §4.1.11: empty, naming an absent header, naming a
        // registered header, not an array.
        json!({ "crit": [] }),
        json!({ "crit": ["x-absent"] }),
        json!({ "crit": ["alg"] }),
        json!({ "crit": "exp", "exp": now() + 600 }),
    ]
    .into_iter()
    .map(|changes| token_with_header(TestKey::Hs, changes))
    .collect();
    assert_all_refused(
        &tokens,
        ("critical_unsupported", "unsupported critical header"),
    )
    .await;
}

// =======================================================================================
// Claims
// =======================================================================================

const EXPIRED: (&str, &str) = ("token_expired", "token expired");

#[tokio::test]
async fn case_29_exp_at_the_leeway_boundary() {
    let app = App::default_app();
    // Default leeway: 60 s.
    within_one_second(|now| {
        let token = token_with_claims(TestKey::Hs, json!({ "exp": now - 61 }));
        let app = &app;
        async move { app.bearer(&token).await }
    })
    .await
    .assert_invalid_token(EXPIRED.0, EXPIRED.1);
    within_one_second(|now| {
        let token = token_with_claims(TestKey::Hs, json!({ "exp": now - 59 }));
        let app = &app;
        async move { app.bearer(&token).await }
    })
    .await
    .assert_accepted();

    // A configured leeway moves the boundary.
    let strict = App::new(AuthLayer::new(
        verifier().leeway(Duration::ZERO).build().unwrap(),
    ));
    within_one_second(|now| {
        let token = token_with_claims(TestKey::Hs, json!({ "exp": now - 1 }));
        let app = &strict;
        async move { app.bearer(&token).await }
    })
    .await
    .assert_invalid_token(EXPIRED.0, EXPIRED.1);
    within_one_second(|now| {
        let token = token_with_claims(TestKey::Hs, json!({ "exp": now + 1 }));
        let app = &strict;
        async move { app.bearer(&token).await }
    })
    .await
    .assert_accepted();
}

#[tokio::test]
async fn case_30_exp_missing() {
    let token = token(TestKey::Hs, &without(claims(), &["exp"]));
    assert_all_refused(
        std::slice::from_ref(&token),
        ("claim_missing", "missing claim exp"),
    )
    .await;
    // Only an explicit opt-out accepts it.
    let lax = App::new(AuthLayer::new(
        verifier().require_exp(false).build().unwrap(),
    ));
    lax.bearer(&token).await.assert_accepted();
}

#[tokio::test]
async fn case_31_nbf_and_iat_in_the_future() {
    let app = App::default_app();
    within_one_second(|now| {
        let token = token_with_claims(TestKey::Hs, json!({ "nbf": now + 61 }));
        let app = &app;
        async move { app.bearer(&token).await }
    })
    .await
    .assert_invalid_token("token_not_yet_valid", "token not yet valid");
    within_one_second(|now| {
        let token = token_with_claims(TestKey::Hs, json!({ "nbf": now + 59 }));
        let app = &app;
        async move { app.bearer(&token).await }
    })
    .await
    .assert_accepted();

    let iat_checked = App::new(AuthLayer::new(
        verifier().validate_iat(true).build().unwrap(),
    ));
    within_one_second(|now| {
        let token = token_with_claims(TestKey::Hs, json!({ "iat": now + 61 }));
        let app = &iat_checked;
        async move { app.bearer(&token).await }
    })
    .await
    .assert_invalid_token("token_issued_in_future", "token issued in the future");
    within_one_second(|now| {
        let token = token_with_claims(TestKey::Hs, json!({ "iat": now + 59 }));
        let app = &iat_checked;
        async move { app.bearer(&token).await }
    })
    .await
    .assert_accepted();
}

#[tokio::test]
async fn case_32_issuer_matches_exactly() {
    let tokens: Vec<String> = [
        format!("{ISSUER}/"),
        ISSUER.to_uppercase(),
        ISSUER.replace("issuer", "Issuer"),
        ISSUER.replace("https", "http"),
        format!(" {ISSUER}"),
        String::new(),
    ]
    .iter()
    .map(|iss| token_with_claims(TestKey::Hs, json!({ "iss": iss })))
    .collect();
    assert_all_refused(&tokens, ("issuer_mismatch", "wrong issuer")).await;

    let missing = token(TestKey::Hs, &without(claims(), &["iss"]));
    assert_all_refused(&[missing], ("claim_missing", "missing claim iss")).await;
    let not_a_string = token_with_claims(TestKey::Hs, json!({ "iss": [ISSUER] }));
    assert_all_refused(&[not_a_string], ("claim_invalid", "invalid claim iss")).await;
}

#[tokio::test]
async fn case_33_audience() {
    let missing = token(TestKey::Hs, &without(claims(), &["aud"]));
    assert_all_refused(&[missing], ("claim_missing", "missing claim aud")).await;

    let empty = token_with_claims(TestKey::Hs, json!({ "aud": [] }));
    assert_all_refused(&[empty], ("claim_missing", "missing claim aud")).await;

    let tokens: Vec<String> = [
        json!("other-api"),
        json!(""),
        json!(AUDIENCE.to_uppercase()),
        json!(format!("{AUDIENCE}/")),
        json!(["other-api"]),
        json!([""]),
    ]
    .into_iter()
    .map(|aud| token_with_claims(TestKey::Hs, json!({ "aud": aud })))
    .collect();
    assert_all_refused(&tokens, ("audience_mismatch", "wrong audience")).await;

    let tokens: Vec<String> = [
        json!({ "aud": AUDIENCE }),
        json!(42),
        json!([AUDIENCE, 42]),
        json!(null),
    ]
    .into_iter()
    .map(|aud| token_with_claims(TestKey::Hs, json!({ "aud": aud })))
    .collect();
    assert_all_refused(&tokens, ("claim_invalid", "invalid claim aud")).await;

    // An array that contains the expected audience is accepted.
    let app = App::default_app();
    let listed = token_with_claims(TestKey::Hs, json!({ "aud": ["other-api", AUDIENCE] }));
    app.bearer(&listed).await.assert_accepted();
}

#[tokio::test]
async fn case_34_required_type() {
    let verifier = || verifier().require_type("at+jwt").build().unwrap();
    let app = App::new(AuthLayer::new(verifier()));
    let tokens = [
        token_with_header(TestKey::Hs, json!({ "typ": "JWT" })),
        forge(
            &without(TestKey::Hs.header(), &["typ"]),
            &claims(),
            TestKey::Hs,
        ),
        token_with_header(TestKey::Hs, json!({ "typ": "application/jwt" })),
        token_with_header(TestKey::Hs, json!({ "typ": "at+jwt; charset=utf-8" })),
        token_with_header(TestKey::Hs, json!({ "typ": "id+jwt" })),
    ];
    assert_all_refused_by(&app, &tokens, ("type_mismatch", "wrong token type")).await;
    // Byte 12 inside a multi-byte character, where the `application/` prefix is looked
    // for: refused, without a panic.
    let multibyte = token_with_header(TestKey::Hs, json!({ "typ": "aaaaaaaaaaa\u{e9}at+jwt" }));
    assert_all_refused_by(&app, &[multibyte], ("type_mismatch", "wrong token type")).await;
    let not_a_string = token_with_header(TestKey::Hs, json!({ "typ": ["at+jwt"] }));
    assert_all_refused_by(&app, &[not_a_string], HEADER_MALFORMED).await;

    // RFC 9068 access tokens pass, with or without the media-type prefix.
    for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let app = App::new(AuthLayer::new(verifier()));
        app.bearer(&token_with_header(TestKey::Hs, json!({ "typ": typ })))
            .await
            .assert_accepted();
    }
    let minted = issue_with_type("at+jwt");
    App::new(AuthLayer::new(verifier()))
        .bearer(&minted)
        .await
        .assert_accepted();
}

fn issue_with_type(typ: &str) -> String {
    signer_builder()
        .token_type(typ)
        .build()
        .unwrap()
        .issue(&TokenRequest::new("alice"))
        .unwrap()
        .token
}

#[tokio::test]
async fn case_35_nested_tokens_and_jwe() {
    let tokens: Vec<String> = ["JWT", "jwt", "application/jwt", "Application/JWT"]
        .iter()
        .map(|cty| token_with_header(TestKey::Hs, json!({ "cty": cty })))
        .collect();
    assert_all_refused(&tokens, ("token_nested", "nested tokens are not accepted")).await;
    // A `cty` with a multi-byte character at byte 12 (where the `application/` prefix is
    // looked for) is not a nested token, and must not crash the check.
    let multibyte = token_with_header(TestKey::Hs, json!({ "cty": "aaaaaaaaaaa\u{e9}JWT" }));
    App::default_app()
        .bearer(&multibyte)
        .await
        .assert_accepted();

    let jwe_header = b64(json!({ "alg": "RSA-OAEP", "enc": "A256GCM", "kid": "rs" }).to_string());
    let jwe = format!(
        "{jwe_header}.{}.{}.{}.{}",
        b64([1u8; 256]),
        b64([2u8; 12]),
        b64(valid_token()),
        b64([3u8; 16])
    );
    let [h, p, s] = segments(&valid_token()).map(str::to_owned);
    let five = format!("{h}.{p}.{s}.{p}.{s}");
    assert_all_refused(
        &[jwe, five],
        ("token_encrypted", "encrypted tokens are not accepted"),
    )
    .await;
}

#[tokio::test]
async fn case_36_missing_role_or_scope_is_403() {
    let app = App::default_app();
    let role_paths = ["/admin", "/admin/extractor"];
    let refused = [
        issue(TokenRequest::new("alice")),
        issue(TokenRequest::new("alice").roles(["user"])),
        issue(TokenRequest::new("alice").roles(Vec::<String>::new())),
        // Roles match case-sensitively.
        issue(TokenRequest::new("alice").roles(["Admin"])),
        issue(TokenRequest::new("alice").roles(["ADMIN", "admin "])),
        // A string is not a list of roles, even one that equals or contains "admin".
        issue(TokenRequest::new("alice").claim("roles", "admin")),
        issue(TokenRequest::new("alice").claim("roles", "admin user")),
        issue(TokenRequest::new("alice").claim("roles", json!({ "admin": true }))),
        issue(TokenRequest::new("alice").claim("roles", json!([["admin"]]))),
        // A scope is not a role.
        issue(TokenRequest::new("alice").scopes(["admin"])),
    ];
    for token in &refused {
        for path in role_paths {
            app.bearer_at(path, token)
                .await
                .assert_insufficient_scope("admin");
        }
    }

    // Scopes: all of `read write`, or any of them.
    let read_only = issue(TokenRequest::new("alice").scopes(["read"]));
    app.bearer_at("/scope/all", &read_only)
        .await
        .assert_insufficient_scope("read write");
    let other = issue(TokenRequest::new("alice").scopes(["Read", "WRITE", "admin"]));
    app.bearer_at("/scope/any", &other)
        .await
        .assert_insufficient_scope("read write");
    assert_eq!(app.runs(), 0);

    // Control: the exact role passes both guards.
    let admin = issue(TokenRequest::new("alice").roles(["user", "admin"]));
    for path in role_paths {
        app.bearer_at(path, &admin).await.assert_accepted();
    }
}

// =======================================================================================
// Revocation
// =======================================================================================

const REVOKED: (&str, &str) = ("token_revoked", "token revoked");

/// Revokes `token` (verified first, as a logout does) in `store` until it expires.
async fn revoke_in(store: &impl RevocationStore, token: &str) {
    let verified = verifier().build().unwrap().verify(token).unwrap();
    tollgate::revocation::revoke(store, &verified)
        .await
        .unwrap();
}

/// The same header and claims bytes signed once more: ECDSA signatures are randomized, so
/// this is a different, equally valid token string.
fn resigned(token: &str) -> String {
    let [h, p, _] = segments(token);
    sign_segments(h, p, TestKey::Es)
}

#[tokio::test]
async fn case_37_revoked_jti_and_reencoded_copy() {
    let store = CountingStore::default();
    let app = App::new(layer().revocation(store.clone()));

    // With a `jti`, and without one (then the key is a hash of the decoded claims).
    let with_jti = token_with_claims(TestKey::Es, json!({ "jti": "case-37" }));
    let without_jti = token(TestKey::Es, &claims_with(json!({ "sub": "no-jti" })));
    for revoked in [with_jti, without_jti] {
        let copies = [malleated(&revoked), resigned(&revoked)];
        for copy in &copies {
            assert_ne!(copy, &revoked, "a different token string");
            // Each copy is genuinely valid: an app without revocation accepts it.
            App::default_app().bearer(copy).await.assert_accepted();
        }
        app.bearer(&revoked).await.assert_accepted();

        revoke_in(&store, &revoked).await;
        app.bearer(&revoked)
            .await
            .assert_invalid_token(REVOKED.0, REVOKED.1);
        for copy in &copies {
            app.bearer(copy)
                .await
                .assert_invalid_token(REVOKED.0, REVOKED.1);
        }
    }

    // Without a `jti`, the same claims under another header (another byte string, another
    // signature) are the same token for revocation.
    let claims = claims_with(json!({ "sub": "no-jti-2" }));
    let revoked = token(TestKey::Es, &claims);
    let other_header = forge(
        &json!({ "alg": "ES256", "kid": "es" }),
        &claims,
        TestKey::Es,
    );
    revoke_in(&store, &revoked).await;
    app.bearer(&other_header)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);

    // base64 variants of the signature that a lax decoder reads as the same bytes (`=`
    // padding; non-canonical unused low bits in the last character) are refused before
    // revocation is even asked: base64url is decoded strictly.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let [h, p, sig] = segments(&revoked).map(str::to_owned);
    assert_eq!(sig.len() % 4, 2, "a 64-byte signature leaves 4 unused bits");
    let last = ALPHABET
        .iter()
        .position(|c| Some(c) == sig.as_bytes().last());
    let noncanonical = format!(
        "{}{}",
        &sig[..sig.len() - 1],
        ALPHABET[last.unwrap() | 1] as char
    );
    assert_ne!(noncanonical, sig);
    let lookups = store.lookups();
    for variant in [
        format!("{h}.{p}.{sig}=="),
        format!("{h}.{p}.{noncanonical}"),
    ] {
        app.bearer(&variant)
            .await
            .assert_invalid_token(MALFORMED.0, MALFORMED.1);
    }
    assert_eq!(
        store.lookups(),
        lookups,
        "a malformed token reached the store"
    );

    // Revocation names one token: another token of the same user is still accepted.
    app.bearer(&token_with_claims(
        TestKey::Es,
        json!({ "jti": "case-37-other" }),
    ))
    .await
    .assert_accepted();
}

#[tokio::test]
async fn case_38_subject_cut_off_by_iat() {
    let store = CountingStore::default();
    let app = App::new(layer().revocation(store.clone()));
    let cut_off = now();
    let before = token_with_claims(TestKey::Hs, json!({ "iat": cut_off - 1, "jti": "a" }));
    let at = token_with_claims(TestKey::Hs, json!({ "iat": cut_off, "jti": "b" }));
    let after = token_with_claims(TestKey::Hs, json!({ "iat": cut_off + 1, "jti": "c" }));
    // Without `iat` a token cannot prove it is newer than the cut-off.
    let without_iat = token(
        TestKey::Hs,
        &without(claims_with(json!({ "jti": "d" })), &["iat"]),
    );
    let someone_else = token_with_claims(TestKey::Hs, json!({ "iat": cut_off - 1, "sub": "bob" }));
    for token in [&before, &at, &after, &without_iat, &someone_else] {
        app.bearer(token).await.assert_accepted();
    }

    store
        .revoke_subject(ISSUER, "alice", cut_off, cut_off + 3600)
        .await
        .unwrap();
    // iat < T: refused.
    app.bearer(&before)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    app.bearer(&without_iat)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    // iat ≥ T: accepted; and other users are not affected.
    app.bearer(&at).await.assert_accepted();
    app.bearer(&after).await.assert_accepted();
    app.bearer(&someone_else).await.assert_accepted();
    // A new login after the cut-off works.
    app.bearer(&issue(TokenRequest::new("alice")))
        .await
        .assert_accepted();
    // The cut-off is per issuer: the same subject at another issuer is not cut off.
    store
        .revoke_subject(
            "https://another.issuer",
            "bob",
            cut_off + 10,
            cut_off + 3600,
        )
        .await
        .unwrap();
    app.bearer(&someone_else).await.assert_accepted();
}

#[tokio::test]
async fn case_39_forged_token_causes_no_store_lookup() {
    let store = CountingStore::default();
    let app = App::new(layer().revocation(store.clone()));
    // A revoked token, so that a lookup would have something to find.
    let revoked = token_with_claims(TestKey::Es, json!({ "jti": "case-39" }));
    revoke_in(&store, &revoked).await;
    let [h, _, sig] = segments(&revoked);
    let tampered_claims = b64(claims_with(json!({ "jti": "case-39", "sub": "admin" })).to_string());

    let forged: [(String, (&str, &str)); 8] = [
        // Signed by a key nobody trusts, under a trusted kid.
        (
            forge(
                &TestKey::Ed.header(),
                &claims_with(json!({ "jti": "case-39" })),
                TestKey::Attacker,
            ),
            BAD_SIGNATURE,
        ),
        // The revoked token's claims changed, its signature kept.
        (format!("{h}.{tampered_claims}.{sig}"), BAD_SIGNATURE),
        // Its header rewritten to `alg: none`.
        (
            format!(
                "{}.{}.{sig}",
                b64(json!({ "alg": "none", "typ": "JWT" }).to_string()),
                segments(&revoked)[1]
            ),
            ("algorithm_none", "unsigned tokens are not accepted"),
        ),
        // Genuinely signed but expired, or for another audience, or unknown key.
        (
            token_with_claims(
                TestKey::Es,
                json!({ "jti": "case-39", "exp": now() - 3600 }),
            ),
            ("token_expired", "token expired"),
        ),
        (
            token_with_claims(
                TestKey::Es,
                json!({ "jti": "case-39", "aud": "someone-else" }),
            ),
            ("audience_mismatch", "wrong audience"),
        ),
        (
            token(TestKey::Attacker, &claims_with(json!({ "jti": "case-39" }))),
            UNKNOWN_KEY,
        ),
        ("garbage".to_owned(), MALFORMED),
        (
            token_with_header(TestKey::Es, json!({ "alg": "HS256" })),
            ALG_MISMATCH,
        ),
    ];
    for (token, (code, description)) in &forged {
        println!("token: {token}");
        // Refused for what it is, not as "revoked": a forger learns nothing about
        // revocations, and the store is never asked.
        app.bearer(token)
            .await
            .assert_invalid_token(code, description);
    }
    assert_eq!(store.lookups(), 0, "a refused token reached the store");
    assert_eq!(app.runs(), 0);

    // Control: the genuine revoked token is looked up (once) and refused as revoked; a
    // valid one is looked up once and accepted.
    app.bearer(&revoked)
        .await
        .assert_invalid_token(REVOKED.0, REVOKED.1);
    assert_eq!(store.lookups(), 1);
    app.bearer(&token(TestKey::Es, &claims()))
        .await
        .assert_accepted();
    assert_eq!(store.lookups(), 2, "one lookup per verified request");
}

/// 503 `temporarily_unavailable` with `Retry-After` and no challenge: the client did
/// nothing wrong, and the handler did not run.
#[track_caller]
fn assert_store_unavailable(outcome: &Outcome) {
    assert_eq!(
        outcome.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "status; body: {}",
        outcome.body
    );
    assert_eq!(outcome.challenge(), None, "a 503 challenges no credentials");
    assert_eq!(
        outcome
            .headers
            .get(RETRY_AFTER)
            .map(|v| v.to_str().unwrap()),
        Some("1"),
        "Retry-After"
    );
    let body = outcome.json();
    assert_eq!(body["error"], "temporarily_unavailable", "body: {body}");
    assert_eq!(body["code"], "revocation_unavailable", "body: {body}");
    assert_eq!(outcome.runs, 0, "the handler ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_40_unreachable_store_fails_closed_or_open() {
    // A Redis of the test's own (never `REDIS_URL`): the test kills it.
    let mut server = redis_harness::RedisServer::start();
    // No cache in front: every answer needs Redis.
    let store = Arc::new(redis_harness::redis_store(&server.url(), "case-40").await);
    let closed = App::new(layer().revocation(store.clone()));
    let explicit_closed = App::new(
        layer()
            .revocation(store.clone())
            .on_store_error(StoreFailure::FailClosed),
    );
    let open = App::new(
        layer()
            .revocation(store.clone())
            .on_store_error(StoreFailure::FailOpen),
    );
    let revoked = token_with_claims(TestKey::Es, json!({ "jti": "case-40-revoked" }));
    revoke_in(&store, &revoked).await;

    // Up: every policy answers from Redis.
    for app in [&closed, &explicit_closed, &open] {
        app.bearer(&valid_token()).await.assert_accepted();
        app.bearer(&revoked)
            .await
            .assert_invalid_token(REVOKED.0, REVOKED.1);
    }

    server.kill();

    // Down, fail closed (the default, and when asked for): 503, quickly.
    for app in [&closed, &explicit_closed] {
        let started = std::time::Instant::now();
        assert_store_unavailable(&app.bearer(&valid_token()).await);
        assert_store_unavailable(&app.bearer(&revoked).await);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "fails fast: {:?}",
            started.elapsed()
        );
    }
    // Down, fail open: the request goes on. That includes a revoked token whose status
    // nobody cached: the price of failing open, which is why it is not the default.
    open.bearer(&valid_token()).await.assert_accepted();
    open.bearer(&revoked).await.assert_accepted();

    // A token that fails verification never asks the store, so it is a 401 even now,
    // whatever the policy.
    let forged = token(TestKey::Attacker, &claims());
    for app in [&closed, &open] {
        app.bearer(&forged)
            .await
            .assert_invalid_token(UNKNOWN_KEY.0, UNKNOWN_KEY.1);
    }
}

// =======================================================================================
// Properties
// =======================================================================================

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any one-character change to a valid token is refused (never accepted, never 5xx).
    #[test]
    fn any_single_character_change_is_refused(
        index in any::<prop::sample::Index>(),
        replacement in proptest::char::range('!', '~'),
    ) {
        let token = valid_token();
        let index = index.index(token.len());
        prop_assume!(token.as_bytes()[index] != replacement as u8);
        let mut mutated = token.into_bytes();
        mutated[index] = replacement as u8;
        let mutated = String::from_utf8(mutated).unwrap();
        let outcome = runtime().block_on(App::default_app().bearer(&mutated));
        prop_assert_eq!(outcome.runs, 0);
        prop_assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    }

    /// Arbitrary printable bearer tokens never reach the handler and never cause a 5xx.
    #[test]
    fn arbitrary_tokens_are_refused(token in "[!-~]{1,300}") {
        let outcome = runtime().block_on(App::default_app().bearer(&token));
        prop_assert_eq!(outcome.runs, 0);
        prop_assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    }
}
