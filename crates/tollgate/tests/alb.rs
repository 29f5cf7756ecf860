//! `tollgate::alb`: the `x-amzn-oidc-data` header of an AWS Application Load Balancer,
//! minted as AWS documents it (padded base64url, ES256 over the padded `header.payload`)
//! and verified against a key server on 127.0.0.1.

#![cfg(feature = "alb")]

mod alb_kit;

use alb_kit::*;
use proptest::prelude::*;
use serde_json::json;
use std::sync::OnceLock;
use std::time::Duration;
use tollgate::alb::AlbVerifier;
use tollgate::{Algorithm, ErrorKind, Key, Verifier};

fn verifier(server: &KeyServer) -> AlbVerifier {
    AlbVerifier::builder(ARN)
        .key_endpoint(&server.base)
        .issuer(ISSUER)
        .build()
        .unwrap()
}

async fn refusal(alb: &AlbVerifier, value: &str) -> ErrorKind {
    alb.check(value).await.expect_err("refused").kind()
}

#[tokio::test]
async fn a_valid_header_gives_its_claims() {
    let server = KeyServer::start().await;
    let alb = verifier(&server);
    let value = mint(&header(KID, ARN), &claims("alice", &["admin"]));
    assert!(value.contains('='), "the test header is padded: {value}");

    let token = alb.check(&value).await.unwrap();
    assert_eq!(token.subject(), Some("alice"));
    assert_eq!(token.issuer(), Some(ISSUER));
    assert!(token.has_role("admin"));
    assert_eq!(token.key_id(), Some(KID));
    assert_eq!(token.algorithm(), Algorithm::ES256);
    let email: serde_json::Value = token
        .deserialize_claims::<serde_json::Value>()
        .unwrap()
        .into_claims()["email"]
        .clone();
    assert_eq!(email, "alice@example.com");
    assert!(token.revocation_id().starts_with("sha256:"));

    // The key is cached: a second header needs no fetch, and no I/O at all.
    let again = mint(&header(KID, ARN), &claims("bob", &[]));
    let token = alb.check_now(&again).expect("key cached").unwrap();
    assert_eq!(token.subject(), Some("bob"));
    assert_eq!((alb.fetch_count(), server.hits()), (1, 1));
    assert_eq!(server.paths(), [format!("/{KID}")]);
}

#[tokio::test]
async fn unpadded_parts_verify_too_when_signed_so() {
    // AWS once said it would drop the padding; a header signed over unpadded parts passes.
    let server = KeyServer::start().await;
    let alb = verifier(&server);
    let padded = mint(&header(KID, ARN), &claims("alice", &[]));
    let strip = |s: &str| {
        s.split('.')
            .map(|p| p.trim_end_matches('='))
            .collect::<Vec<_>>()
            .join(".")
    };
    // Stripping the padding of a padded header breaks its signature: it covered the padding.
    assert_eq!(
        refusal(&alb, &strip(&padded)).await,
        ErrorKind::InvalidSignature
    );
    alb.check(&padded).await.unwrap();
}

#[tokio::test]
async fn another_signer_is_refused_before_any_fetch() {
    let server = KeyServer::start().await;
    let alb = verifier(&server);
    let other = mint(&header(KID, OTHER_ARN), &claims("mallory", &["admin"]));
    assert_eq!(refusal(&alb, &other).await, ErrorKind::WrongSigner);
    let mut unsigned = header(KID, ARN);
    unsigned.as_object_mut().unwrap().remove("signer");
    let none = mint(&unsigned, &claims("mallory", &[]));
    assert_eq!(refusal(&alb, &none).await, ErrorKind::WrongSigner);
    // A prefix or a case variant of the ARN is another ARN.
    for near in [
        &ARN[..ARN.len() - 1],
        &ARN.to_uppercase(),
        &format!("{ARN} "),
    ] {
        let value = mint(&header(KID, near), &claims("mallory", &[]));
        assert_eq!(
            refusal(&alb, &value).await,
            ErrorKind::WrongSigner,
            "{near}"
        );
    }
    assert_eq!(server.hits(), 0);
    assert_eq!(tollgate::ErrorKind::WrongSigner.code(), "signer_mismatch");
}

#[tokio::test]
async fn expired_headers_are_refused() {
    let server = KeyServer::start().await;
    let alb = verifier(&server);
    let mut old = claims("alice", &[]);
    old["exp"] = json!(now() - 61);
    assert_eq!(
        refusal(&alb, &mint(&header(KID, ARN), &old)).await,
        ErrorKind::Expired
    );
    // Within the leeway (60 s) it is still accepted.
    old["exp"] = json!(now() - 30);
    alb.check(&mint(&header(KID, ARN), &old)).await.unwrap();
    // The header's own `exp` counts too.
    let mut stale = header(KID, ARN);
    stale["exp"] = json!(now() - 120);
    let value = mint(&stale, &claims("alice", &[]));
    assert_eq!(refusal(&alb, &value).await, ErrorKind::Expired);
    // `exp` is required.
    let mut forever = claims("alice", &[]);
    forever.as_object_mut().unwrap().remove("exp");
    let value = mint(&header(KID, ARN), &forever);
    assert_eq!(refusal(&alb, &value).await, ErrorKind::MissingClaim("exp"));
    let mut later = claims("alice", &[]);
    later["nbf"] = json!(now() + 3600);
    let value = mint(&header(KID, ARN), &later);
    assert_eq!(refusal(&alb, &value).await, ErrorKind::NotYetValid);
}

#[tokio::test]
async fn only_es256_is_accepted() {
    let server = KeyServer::start().await;
    let alb = verifier(&server);
    for (alg, kind) in [
        (json!("none"), ErrorKind::AlgorithmNone),
        (json!("NoNe"), ErrorKind::AlgorithmNone),
        (json!("RS256"), ErrorKind::UnsupportedAlgorithm),
        (json!("HS256"), ErrorKind::UnsupportedAlgorithm),
        (json!("ES384"), ErrorKind::UnsupportedAlgorithm),
        (json!("es256"), ErrorKind::UnsupportedAlgorithm),
        (json!(["ES256"]), ErrorKind::MalformedHeader),
    ] {
        let mut h = header(KID, ARN);
        h["alg"] = alg.clone();
        let value = mint(&h, &claims("alice", &[]));
        assert_eq!(refusal(&alb, &value).await, kind, "{alg}");
    }
    // `none` with an empty signature part is not even three parts of a header.
    let mut h = header(KID, ARN);
    h["alg"] = json!("none");
    let unsigned = format!(
        "{}.{}.",
        padded(h.to_string()),
        padded(claims("a", &[]).to_string())
    );
    assert_eq!(refusal(&alb, &unsigned).await, ErrorKind::Malformed);
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn signatures_claims_and_shape_are_checked() {
    let server = KeyServer::start().await;
    let alb = verifier(&server);
    let good = mint(&header(KID, ARN), &claims("alice", &[]));
    // Claims swapped under a genuine signature.
    let (signed, _) = good.rsplit_once('.').unwrap();
    let (h64, _) = signed.split_once('.').unwrap();
    let forged_claims = padded(claims("mallory", &["admin"]).to_string());
    let signature = good.rsplit('.').next().unwrap();
    let forged = format!("{h64}.{forged_claims}.{signature}");
    assert_eq!(refusal(&alb, &forged).await, ErrorKind::InvalidSignature);

    let mut foreign = claims("alice", &[]);
    foreign["iss"] = json!("https://evil.example");
    let value = mint(&header(KID, ARN), &foreign);
    assert_eq!(refusal(&alb, &value).await, ErrorKind::WrongIssuer);

    let duplicate = format!(
        "{{\"sub\":\"alice\",\"sub\":\"admin\",\"exp\":{},\"iss\":\"{ISSUER}\"}}",
        now() + 300
    );
    let value = sign_parts(&padded(header(KID, ARN).to_string()), &padded(&duplicate));
    assert_eq!(refusal(&alb, &value).await, ErrorKind::MalformedClaims);

    assert_eq!(refusal(&alb, "a.b").await, ErrorKind::Malformed);
    assert_eq!(refusal(&alb, "a.b.c.d.e").await, ErrorKind::Malformed);
    assert_eq!(
        refusal(&alb, &"a".repeat(16 * 1024 + 1)).await,
        ErrorKind::TooLarge
    );
    let mut critical = header(KID, ARN);
    critical["crit"] = json!(["exp"]);
    let value = mint(&critical, &claims("alice", &[]));
    assert_eq!(refusal(&alb, &value).await, ErrorKind::UnsupportedCritical);
}

#[tokio::test]
async fn the_strict_verifier_still_refuses_a_padded_header() {
    let key = Key::ec_pem(PUBLIC_PEM.as_bytes(), Algorithm::ES256)
        .unwrap()
        .with_kid(KID);
    let strict = Verifier::builder().key(key).build().unwrap();
    let value = mint(&header(KID, ARN), &claims("alice", &[]));
    let error = strict.check(&value).expect_err("padding is refused");
    assert!(
        matches!(
            error.kind(),
            ErrorKind::MalformedHeader | ErrorKind::Malformed | ErrorKind::MalformedClaims
        ),
        "{:?}",
        error.kind()
    );
}

#[tokio::test]
async fn path_like_kids_are_refused_without_a_fetch() {
    let server = KeyServer::start().await;
    let alb = verifier(&server);
    for kid in [
        "../12345678",
        "..",
        "a/b",
        "/etc/passwd",
        "%2e%2e",
        "a?b",
        "a#b",
        "a.b",
        "",
        "k\u{e9}",
    ] {
        let value = mint(&header(kid, ARN), &claims("alice", &[]));
        assert_eq!(
            refusal(&alb, &value).await,
            ErrorKind::UnknownKey,
            "{kid:?}"
        );
    }
    let mut numeric = header(KID, ARN);
    numeric["kid"] = json!(7);
    let value = mint(&numeric, &claims("alice", &[]));
    assert_eq!(refusal(&alb, &value).await, ErrorKind::MalformedHeader);
    assert_eq!((server.hits(), alb.fetch_count()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_flood_fetches_at_most_once_per_cooldown() {
    let server = KeyServer::start().await;
    let alb = AlbVerifier::builder(ARN)
        .key_endpoint(&server.base)
        .cooldown(Duration::from_secs(60))
        .build()
        .unwrap();
    let flood = (0..50).map(|i| {
        let alb = alb.clone();
        let value = mint(&header(&format!("unknown-{i}"), ARN), &claims("alice", &[]));
        tokio::spawn(async move { alb.check(&value).await.map(|_| ()).map_err(|e| e.kind()) })
    });
    for answer in futures_join(flood).await {
        let kind = answer.expect_err("no such key");
        assert!(
            matches!(kind, ErrorKind::UnknownKey | ErrorKind::KeysUnavailable),
            "{kind:?}"
        );
    }
    assert_eq!((server.hits(), alb.fetch_count()), (1, 1));
    // Within the cooldown even the real key waits: 503, not a fetch.
    let value = mint(&header(KID, ARN), &claims("alice", &[]));
    assert_eq!(refusal(&alb, &value).await, ErrorKind::KeysUnavailable);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn after_the_cooldown_a_new_kid_is_fetched() {
    let server = KeyServer::start().await;
    let alb = AlbVerifier::builder(ARN)
        .key_endpoint(&server.base)
        .cooldown(Duration::from_millis(200))
        .build()
        .unwrap();
    let unknown = mint(&header("rotated-away", ARN), &claims("alice", &[]));
    assert_eq!(refusal(&alb, &unknown).await, ErrorKind::UnknownKey);
    tokio::time::sleep(Duration::from_millis(250)).await;
    alb.check(&mint(&header(KID, ARN), &claims("alice", &[])))
        .await
        .unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn an_unreachable_key_endpoint_is_keys_unavailable() {
    let server = KeyServer::start().await;
    server.set_down(true);
    let alb = AlbVerifier::builder(ARN)
        .key_endpoint(&server.base)
        .cooldown(Duration::ZERO)
        .build()
        .unwrap();
    let value = mint(&header(KID, ARN), &claims("alice", &[]));
    assert_eq!(refusal(&alb, &value).await, ErrorKind::KeysUnavailable);
    server.set_down(false);
    alb.check(&value).await.unwrap();
}

#[test]
fn configuration_is_checked_when_built() {
    assert!(
        AlbVerifier::builder(ARN).build().is_err(),
        "no region, no endpoint"
    );
    assert!(
        AlbVerifier::builder("my-alb")
            .region("us-east-1")
            .build()
            .is_err()
    );
    assert!(
        AlbVerifier::builder(ARN)
            .region("us-east-1/../x")
            .build()
            .is_err()
    );
    assert!(
        AlbVerifier::builder(ARN)
            .key_endpoint("ftp://keys")
            .build()
            .is_err()
    );
    let alb = AlbVerifier::builder(ARN)
        .region("eu-west-3")
        .build()
        .unwrap();
    assert!(format!("{alb:?}").contains("https://public-keys.auth.elb.eu-west-3.amazonaws.com"));
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

/// A verifier whose cache holds the test key, so that `check_now` reaches every step.
fn primed() -> &'static (AlbVerifier, String) {
    static PRIMED: OnceLock<(AlbVerifier, String)> = OnceLock::new();
    PRIMED.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let server = KeyServer::start().await;
            let alb = verifier(&server);
            let value = mint(&header(KID, ARN), &claims("alice", &["admin"]));
            alb.check(&value).await.unwrap();
            (alb, value)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any header value at all is answered, never a panic.
    #[test]
    fn arbitrary_values_never_panic(value in ".{0,600}") {
        let (alb, _) = primed();
        let _ = alb.check_now(&value);
    }

    /// Three parts of base64url-ish text, padded or not.
    #[test]
    fn arbitrary_parts_never_panic(
        h in "[A-Za-z0-9_=-]{0,80}", p in "[A-Za-z0-9_=-]{0,80}", s in "[A-Za-z0-9_=-]{0,100}",
    ) {
        let (alb, _) = primed();
        let _ = alb.check_now(&format!("{h}.{p}.{s}"));
    }

    /// A valid header with one byte changed is refused (or, if the change is in unused
    /// padding, still the same token) and never panics.
    #[test]
    fn mutated_headers_are_refused(index in any::<prop::sample::Index>(), byte in 0x20u8..0x7f) {
        let (alb, value) = primed();
        let mut bytes = value.clone().into_bytes();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let mutated = String::from_utf8(bytes).unwrap();
        if let Some(Ok(token)) = alb.check_now(&mutated) {
            prop_assert_eq!(token.subject(), Some("alice"));
        }
    }
}
