//! The verified-token cache of the `Verifier`: a repeat token is a hit, the time rules are
//! still checked on a hit, only verified tokens are inserted, the entry bound holds, and
//! the cache can be turned off.

use std::time::Duration;
use tollgate::verifier::{DEFAULT_TOKEN_CACHE_ENTRIES, DEFAULT_TOKEN_CACHE_TTL};
use tollgate::{ConfigError, ErrorKind, Signer, SigningKey, TokenRequest, Verifier};

const ISSUER: &str = "https://issuer.example";

fn new_signer(kid: &str) -> Signer {
    Signer::builder(SigningKey::generate_ed25519(kid).unwrap())
        .issuer(ISSUER)
        .audience("api")
        .build()
        .unwrap()
}

fn verifier_for(
    signer: &Signer,
    configure: impl FnOnce(tollgate::VerifierBuilder) -> tollgate::VerifierBuilder,
) -> Verifier {
    configure(
        Verifier::builder()
            .keys(signer.verification_keys().unwrap())
            .issuer(ISSUER)
            .audience("api")
            .token_cache(DEFAULT_TOKEN_CACHE_ENTRIES, DEFAULT_TOKEN_CACHE_TTL),
    )
    .build()
    .unwrap()
}

fn issue(signer: &Signer, subject: &str) -> String {
    signer.issue(&TokenRequest::new(subject)).unwrap().token
}

#[test]
fn a_repeat_token_is_a_hit() {
    let signer = new_signer("k1");
    let verifier = verifier_for(&signer, |b| b);
    let token = issue(&signer, "alice");
    assert_eq!(verifier.token_cache_len(), 0);
    let first = verifier.verify(&token).unwrap();
    assert_eq!(verifier.token_cache_len(), 1);
    let second = verifier.verify(&token).unwrap();
    assert_eq!(
        verifier.token_cache_len(),
        1,
        "the same token is not cached twice"
    );
    assert_eq!(first.registered(), second.registered());
    assert_eq!(first.claims(), second.claims());
    assert_eq!(first.revocation_id(), second.revocation_id());
    // Clones share the cache.
    verifier.clone().verify(&issue(&signer, "bob")).unwrap();
    assert_eq!(verifier.token_cache_len(), 2);
    verifier.clear_token_cache();
    assert_eq!(verifier.token_cache_len(), 0);
}

#[cfg(feature = "metrics")]
#[test]
fn hits_and_misses_are_counted() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let signer = new_signer("k1");
    let verifier = verifier_for(&signer, |b| b);
    let token = issue(&signer, "alice");
    metrics::with_local_recorder(&recorder, || {
        verifier.verify(&token).unwrap();
        verifier.verify(&token).unwrap();
        verifier.verify(&token).unwrap();
        assert!(verifier.verify("forged.token.here").is_err());
    });
    // The snapshot drains counters: read both from one snapshot.
    let snapshot = snapshotter.snapshot().into_vec();
    let find = |result: &str| {
        snapshot
            .iter()
            .find(|(key, _, _, _)| {
                key.key().name() == tollgate::telemetry::TOKEN_CACHE
                    && key
                        .key()
                        .labels()
                        .any(|l| l.key() == "result" && l.value() == result)
            })
            .map_or(0, |(_, _, _, value)| match value {
                DebugValue::Counter(n) => *n,
                other => panic!("not a counter: {other:?}"),
            })
    };
    assert_eq!(find("hit"), 2);
    assert_eq!(find("miss"), 2);
}

#[test]
fn a_token_that_expires_while_cached_is_refused() {
    let signer = new_signer("k1");
    let verifier = verifier_for(&signer, |b| b.leeway(Duration::ZERO));
    let issued = signer
        .issue(&TokenRequest::new("alice").ttl(Duration::from_secs(120)))
        .unwrap();
    verifier.verify(&issued.token).unwrap();
    assert_eq!(verifier.token_cache_len(), 1);
    // Hits, each checked against its own `now`.
    verifier
        .verify_at(&issued.token, issued.expires_at - 1)
        .unwrap();
    let expired = verifier
        .verify_at(&issued.token, issued.expires_at)
        .unwrap_err();
    assert_eq!(expired.kind(), ErrorKind::Expired);
    let early = verifier
        .verify_at(&issued.token, issued.expires_at - 3600)
        .unwrap_err();
    assert_eq!(early.kind(), ErrorKind::NotYetValid);
    assert_eq!(
        verifier.token_cache_len(),
        1,
        "those were hits, not new entries"
    );

    // With the leeway, the same token is still accepted until `exp` + leeway.
    let lenient = verifier_for(&signer, |b| b.leeway(Duration::from_secs(30)));
    lenient.verify(&issued.token).unwrap();
    lenient
        .verify_at(&issued.token, issued.expires_at + 29)
        .unwrap();
    assert_eq!(
        lenient
            .verify_at(&issued.token, issued.expires_at + 30)
            .unwrap_err()
            .kind(),
        ErrorKind::Expired
    );
}

#[test]
fn a_token_verified_at_a_past_now_is_not_cached_once_expired() {
    let signer = new_signer("k1");
    let verifier = verifier_for(&signer, |b| b.leeway(Duration::ZERO));
    let issued = signer
        .issue(&TokenRequest::new("alice").ttl(Duration::from_secs(1)))
        .unwrap();
    // Valid at this `now`, yet past its lifetime on the real clock soon enough: caching it
    // must never outlive `exp`, whatever `now` it was verified at.
    std::thread::sleep(Duration::from_millis(1100));
    verifier
        .verify_at(&issued.token, issued.expires_at - 1)
        .unwrap();
    assert_eq!(verifier.token_cache_len(), 0);
    assert_eq!(
        verifier.verify(&issued.token).unwrap_err().kind(),
        ErrorKind::Expired
    );
}

#[test]
fn entries_live_at_most_the_configured_ttl() {
    let signer = new_signer("k1");
    let verifier = verifier_for(&signer, |b| b.token_cache(10, Duration::from_secs(1)));
    verifier.verify(&issue(&signer, "alice")).unwrap();
    assert_eq!(verifier.token_cache_len(), 1);
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(verifier.token_cache_len(), 0);
}

#[test]
fn forged_and_random_tokens_leave_the_cache_empty() {
    let signer = new_signer("k1");
    let attacker = new_signer("k1"); // same kid, another key
    let verifier = verifier_for(&signer, |b| b);
    let valid = issue(&signer, "victim");
    let (head, _) = valid.rsplit_once('.').unwrap();
    let mut refused = 0;
    for i in 0..10_000u32 {
        let token = match i % 4 {
            // Random bytes in token shape.
            0 => format!("{i:x}.{:x}.{:x}", i.wrapping_mul(2_654_435_761), !i),
            // A real header and payload with another signature.
            1 => format!("{head}.{}", "A".repeat(86 - (i as usize % 3))),
            // Signed by the attacker's key under the real kid.
            2 => issue(&attacker, &format!("mallory-{i}")),
            // A real signature on another payload.
            _ => {
                let forged = issue(&attacker, &format!("mallory-{i}"));
                let (h, rest) = forged.split_once('.').unwrap();
                let (p, _) = rest.split_once('.').unwrap();
                let real_sig = valid.rsplit_once('.').unwrap().1;
                format!("{h}.{p}.{real_sig}")
            }
        };
        if verifier.verify(&token).is_err() {
            refused += 1;
        }
    }
    assert_eq!(refused, 10_000);
    assert_eq!(verifier.token_cache_len(), 0);
    verifier.verify(&valid).unwrap();
    assert_eq!(verifier.token_cache_len(), 1);
}

#[test]
fn the_entry_bound_holds() {
    let signer = new_signer("k1");
    let verifier = verifier_for(&signer, |b| b.token_cache(100, Duration::from_secs(60)));
    for i in 0..2_000 {
        verifier
            .verify(&issue(&signer, &format!("user-{i}")))
            .unwrap();
    }
    let len = verifier.token_cache_len();
    assert!(len <= 100, "{len} entries for a bound of 100");
    assert!(len > 0);
}

#[test]
fn the_cache_is_off_by_default() {
    let signer = new_signer("k1");
    let verifier = Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .build()
        .unwrap();
    let token = issue(&signer, "alice");
    verifier.verify(&token).unwrap();
    verifier.verify(&token).unwrap();
    assert_eq!(verifier.token_cache_len(), 0);
}

#[test]
fn no_token_cache_turns_it_off() {
    let signer = new_signer("k1");
    let verifier = verifier_for(&signer, |b| b.no_token_cache());
    let token = issue(&signer, "alice");
    verifier.verify(&token).unwrap();
    verifier.verify(&token).unwrap();
    assert_eq!(verifier.token_cache_len(), 0);
}

#[test]
fn a_zero_bound_is_refused() {
    let signer = new_signer("k1");
    for (entries, ttl) in [(0, Duration::from_secs(60)), (10, Duration::ZERO)] {
        let built = Verifier::builder()
            .keys(signer.verification_keys().unwrap())
            .token_cache(entries, ttl)
            .build();
        assert!(matches!(built, Err(ConfigError::InvalidOption(_))));
    }
}

#[test]
fn any_of_uses_the_caches_of_its_verifiers() {
    let signer = new_signer("k1");
    let one = verifier_for(&signer, |b| b);
    let both = Verifier::any_of([one.clone()]).unwrap();
    let token = issue(&signer, "alice");
    both.verify(&token).unwrap();
    both.verify(&token).unwrap();
    assert_eq!(one.token_cache_len(), 1);
    assert_eq!(both.token_cache_len(), 1);
}

/// A cached token hands its typed claims and its revocation view to every request: built
/// once, always equal to a fresh deserialization, whichever types are asked for.
#[test]
fn cached_tokens_share_their_typed_claims_and_revocation_view() {
    #[derive(Clone, Debug, PartialEq, serde::Deserialize)]
    struct Sub {
        sub: String,
    }
    #[derive(Clone, Debug, PartialEq, serde::Deserialize)]
    struct Iss {
        iss: String,
    }
    let signer = new_signer("k1");
    let verifier = verifier_for(&signer, |b| b);
    let alice = issue(&signer, "alice");
    for _ in 0..3 {
        let token = verifier.check(&alice).unwrap();
        assert_eq!(token.claims_as::<Sub>().unwrap().claims().sub, "alice");
        // Another type than the one memoised: still right, deserialized each time.
        assert_eq!(token.claims_as::<Iss>().unwrap().claims().iss, ISSUER);
        let view = tollgate::revocation::TokenRef::of(&token);
        assert!(matches!(view, std::borrow::Cow::Borrowed(_)));
        assert_eq!(*view, tollgate::revocation::TokenRef::new(&token));
    }
    // Another cached token gets its own claims, never alice's.
    let bob = verifier.check(&issue(&signer, "bob")).unwrap();
    assert_eq!(bob.claims_as::<Sub>().unwrap().claims().sub, "bob");

    // Without the cache nothing is kept: each call builds its own.
    let uncached = verifier_for(&signer, |b| b.no_token_cache());
    let token = uncached.check(&alice).unwrap();
    assert_eq!(token.claims_as::<Sub>().unwrap().claims().sub, "alice");
    assert!(matches!(
        tollgate::revocation::TokenRef::of(&token),
        std::borrow::Cow::Owned(_)
    ));
}
