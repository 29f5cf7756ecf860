//! Regression tests for what the fuzz targets (`fuzz/`) found, and the property that
//! backs the token verifier's fuzzing in the normal suite: an arbitrary mutation of a valid
//! token is never accepted unless the bytes are unchanged.
//!
//! Tokens are built by hand (raw header and claims, signed with `jsonwebtoken::crypto`)
//! and verified at a fixed time, so nothing here depends on the clock.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::OnceLock;
use tollgate::{Algorithm, ErrorKind, Key, KeySet, SigningKey, Verifier};

const NOW: u64 = 1_750_000_000;
const ISSUER: &str = "https://issuer.fuzz-regressions.test";
const AUDIENCE: &str = "fuzz-regressions";
const HS_SECRET: &[u8] = b"fuzz-regressions-hs256-secret-0123456789";

const RSA_PRIVATE: &str = include_str!("../../crates/tollgate/tests/fixtures/rsa2048-private.pem");
const RSA_PUBLIC: &str = include_str!("../../crates/tollgate/tests/fixtures/rsa2048-public.pem");
const P256_PRIVATE: &str = include_str!("../../crates/tollgate/tests/fixtures/p256-private.pem");
const P256_PUBLIC: &str = include_str!("../../crates/tollgate/tests/fixtures/p256-public.pem");
const ED25519_PRIVATE: &str =
    include_str!("../../crates/tollgate/tests/fixtures/ed25519-private.pem");
const ED25519_PUBLIC: &str =
    include_str!("../../crates/tollgate/tests/fixtures/ed25519-public.pem");

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------
// jwks_parse: a default RSA algorithm dropped keys that declare their own `alg`
// ---------------------------------------------------------------------------------------

fn rsa_public_jwk(kid: &str, alg: Option<&str>) -> Value {
    let signing = SigningKey::rsa_pem(kid, RSA_PRIVATE.as_bytes(), Algorithm::RS256).unwrap();
    let mut jwk = signing.public_jwk().unwrap();
    match alg {
        Some(alg) => jwk["alg"] = json!(alg),
        None => {
            jwk.as_object_mut().unwrap().remove("alg");
        }
    }
    jwk
}

/// Found by `fuzz/fuzz_targets/jwks_parse.rs` (invariant: a default algorithm only adds
/// keys). `KeySet::from_public_jwks(json, Some(alg))` is documented to bind RSA keys
/// *without* `alg`, but it passed the default to every RSA key, so a key declaring another
/// RSA algorithm failed with `AlgorithmMismatch` and was skipped: with an identity
/// provider publishing RS256 and PS384 keys, `default_algorithm(RS256)` silently dropped
/// the PS384 keys and every token they signed was refused.
#[test]
fn default_rsa_algorithm_binds_only_keys_without_alg() {
    let jwks = json!({"keys": [
        rsa_public_jwk("rs", Some("RS256")),
        rsa_public_jwk("ps", Some("PS384")),
        rsa_public_jwk("bare", None),
    ]})
    .to_string();

    let without_default = KeySet::from_public_jwks(&jwks, None).unwrap();
    assert_eq!(without_default.len(), 2, "{:?}", without_default.skipped());
    assert!(without_default.get("bare").is_none());

    for default in [Algorithm::RS256, Algorithm::PS512] {
        let set = KeySet::from_public_jwks(&jwks, Some(default)).unwrap();
        assert_eq!(set.len(), 3, "default {default:?}: {:?}", set.skipped());
        assert!(set.skipped().is_empty());
        assert_eq!(set.get("rs").unwrap().algorithm(), Algorithm::RS256);
        assert_eq!(set.get("ps").unwrap().algorithm(), Algorithm::PS384);
        assert_eq!(set.get("bare").unwrap().algorithm(), default);
    }

    // And a PS384 token signed by that key verifies behind such a set.
    let keys = KeySet::from_public_jwks(&jwks, Some(Algorithm::RS256)).unwrap();
    let verifier = Verifier::builder().keys(keys).build().unwrap();
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let token = sign(
        json!({"alg": "PS384", "kid": "ps"}),
        &json!({"sub": "a", "exp": NOW + 60}),
        &rsa,
        Algorithm::PS384,
    );
    assert!(verifier.verify_at(&token, NOW).is_ok());
}

/// `Key::from_jwk` with an explicit algorithm still refuses a JWK declaring another one:
/// only the JWK Set's *default* is a fallback.
#[test]
fn an_explicit_algorithm_still_must_agree_with_the_jwk() {
    let jwk = rsa_public_jwk("ps", Some("PS384")).to_string();
    assert!(Key::from_jwk(&jwk, Some(Algorithm::RS256)).is_err());
    assert!(Key::from_jwk(&jwk, Some(Algorithm::PS384)).is_ok());
}

// ---------------------------------------------------------------------------------------
// verify_token: an empty `jti` made the revocation id ""
// ---------------------------------------------------------------------------------------

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs256(claims: &Value) -> String {
    let key = EncodingKey::from_secret(HS_SECRET).unwrap();
    sign(
        json!({"alg": "HS256", "kid": "hs"}),
        claims,
        &key,
        Algorithm::HS256,
    )
}

/// Found by `fuzz/fuzz_targets/verify_token.rs` (invariant: an accepted token has a
/// non-empty revocation id). A token with `"jti": ""` was accepted with `jti = Some("")`,
/// so its revocation id was the empty string, the same for every such token of the
/// issuer: logging one out revoked all of them. An empty `jti` now reads as absent and the
/// token is named by the hash of its claims, like a token without `jti`.
#[tokio::test]
async fn an_empty_jti_is_no_revocation_id() {
    use tollgate::RevocationStore as _;
    use tollgate::revocation::TokenRef;

    let verifier = Verifier::builder()
        .key(
            Key::hmac(HS_SECRET, Algorithm::HS256)
                .unwrap()
                .with_kid("hs"),
        )
        .issuer(ISSUER)
        .build()
        .unwrap();
    let exp = now_secs() + 3600;
    let alice = hs256(&json!({"iss": ISSUER, "sub": "alice", "jti": "", "exp": exp}));
    let bob = hs256(&json!({"iss": ISSUER, "sub": "bob", "jti": "", "exp": exp}));
    let alice = verifier.verify(&alice).unwrap();
    let bob = verifier.verify(&bob).unwrap();

    assert_eq!(alice.token_id(), None);
    assert!(
        alice.revocation_id().starts_with("sha256:"),
        "{}",
        alice.revocation_id()
    );
    assert_ne!(alice.revocation_id(), bob.revocation_id());
    // The same claims without `jti` at all hash alike only if the payload is the same;
    // what matters is that the id is never empty.
    assert!(!bob.revocation_id().is_empty());

    // Logging Alice out leaves Bob's token alone.
    let store = tollgate::MemoryStore::new();
    tollgate::revocation::revoke(&store, &alice).await.unwrap();
    assert!(
        store
            .check(&TokenRef::new(&alice))
            .await
            .unwrap()
            .is_revoked()
    );
    assert!(
        !store
            .check(&TokenRef::new(&bob))
            .await
            .unwrap()
            .is_revoked()
    );
}

// ---------------------------------------------------------------------------------------
// Mutations of valid tokens
// ---------------------------------------------------------------------------------------

/// `b64(header).b64(claims).b64(signature)`.
fn sign(header: Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let _ = Verifier::builder().build(); // installs jsonwebtoken's crypto provider
    let message = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    // jsonwebtoken's own `Algorithm`, by the same JOSE name.
    let alg = alg.as_str().parse().unwrap();
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

struct Fixture {
    verifier: Verifier,
    /// One valid token per algorithm: HS256, RS256, PS256, ES256, EdDSA.
    tokens: Vec<(Algorithm, String)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let verifier = Verifier::builder()
            .key(
                Key::hmac(HS_SECRET, Algorithm::HS256)
                    .unwrap()
                    .with_kid("hs"),
            )
            .key(
                Key::rsa_pem(RSA_PUBLIC.as_bytes(), Algorithm::RS256)
                    .unwrap()
                    .with_kid("rs"),
            )
            .key(
                Key::rsa_pem(RSA_PUBLIC.as_bytes(), Algorithm::PS256)
                    .unwrap()
                    .with_kid("ps"),
            )
            .key(
                Key::ec_pem(P256_PUBLIC.as_bytes(), Algorithm::ES256)
                    .unwrap()
                    .with_kid("es"),
            )
            .key(
                Key::ed25519_pem(ED25519_PUBLIC.as_bytes())
                    .unwrap()
                    .with_kid("ed"),
            )
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build()
            .unwrap();
        let claims = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": NOW + 3600,
            "iat": NOW - 10, "roles": ["admin"], "scope": "read write",
        });
        let rsa = || EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
        let keys = [
            (
                "hs",
                Algorithm::HS256,
                EncodingKey::from_secret(HS_SECRET).unwrap(),
            ),
            ("rs", Algorithm::RS256, rsa()),
            ("ps", Algorithm::PS256, rsa()),
            (
                "es",
                Algorithm::ES256,
                EncodingKey::from_ec_pem(P256_PRIVATE.as_bytes()).unwrap(),
            ),
            (
                "ed",
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).unwrap(),
            ),
        ];
        let tokens = keys
            .iter()
            .map(|(kid, alg, key)| {
                let header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
                (*alg, sign(header, &claims, key, *alg))
            })
            .collect::<Vec<_>>();
        for (alg, token) in &tokens {
            assert!(
                verifier.verify_at(token, NOW).is_ok(),
                "{alg:?} fixture token"
            );
        }
        Fixture { verifier, tokens }
    })
}

const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// One edit of a token's bytes. Positions are taken modulo the current length.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one bit of a byte.
    FlipBit(usize, u8),
    /// Overwrite a byte with any byte.
    SetByte(usize, u8),
    /// Overwrite a byte with a base64url character (stays inside the alphabet, so it
    /// reaches the decoder's trailing-bit checks, the JSON and the signature).
    SetBase64(usize, u8),
    /// Insert any byte.
    InsertByte(usize, u8),
    /// Insert a base64url character.
    InsertBase64(usize, u8),
    /// Delete a byte.
    Delete(usize),
    /// Swap two bytes.
    Swap(usize, usize),
    /// Duplicate a run of up to 8 bytes in place.
    Duplicate(usize, usize),
    /// Cut the token to a prefix.
    Truncate(usize),
    /// Append `=` padding, a dot, or whitespace.
    Append(&'static [u8]),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>();
    let b64char = (0..BASE64URL.len()).prop_map(|i| BASE64URL[i]);
    prop_oneof![
        1 => (pos, 0u8..8).prop_map(|(p, bit)| Mutation::FlipBit(p, bit)),
        1 => (pos, any::<u8>()).prop_map(|(p, b)| Mutation::SetByte(p, b)),
        3 => (pos, b64char.clone()).prop_map(|(p, b)| Mutation::SetBase64(p, b)),
        1 => (pos, any::<u8>()).prop_map(|(p, b)| Mutation::InsertByte(p, b)),
        1 => (pos, b64char).prop_map(|(p, b)| Mutation::InsertBase64(p, b)),
        2 => pos.prop_map(Mutation::Delete),
        1 => (pos, pos).prop_map(|(a, b)| Mutation::Swap(a, b)),
        1 => (pos, 1usize..8).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
        1 => pos.prop_map(Mutation::Truncate),
        1 => prop_oneof![
            Just(&b"="[..]),
            Just(&b"=="[..]),
            Just(&b"."[..]),
            Just(&b" "[..]),
            Just(&b"\n"[..])
        ]
        .prop_map(Mutation::Append),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    let at = |p: usize| if len == 0 { 0 } else { p % len };
    match *m {
        _ if len == 0 => {}
        Mutation::FlipBit(p, bit) => bytes[at(p)] ^= 1 << bit,
        Mutation::SetByte(p, b) | Mutation::SetBase64(p, b) => bytes[at(p)] = b,
        Mutation::InsertByte(p, b) | Mutation::InsertBase64(p, b) => bytes.insert(p % (len + 1), b),
        Mutation::Delete(p) => {
            bytes.remove(at(p));
        }
        Mutation::Swap(a, b) => bytes.swap(at(a), at(b)),
        Mutation::Duplicate(p, n) => {
            let start = at(p);
            let run: Vec<u8> = bytes[start..(start + n).min(len)].to_vec();
            bytes.splice(start..start, run);
        }
        Mutation::Truncate(p) => bytes.truncate(at(p)),
        Mutation::Append(suffix) => bytes.extend_from_slice(suffix),
    }
}

/// The property: `mutated` is accepted only if it is the original token.
fn check_mutated(original: &str, mutated: &str) -> Result<(), TestCaseError> {
    let accepted = fixture().verifier.verify_at(mutated, NOW).is_ok();
    prop_assert!(
        !accepted || mutated == original,
        "mutated token accepted:\n original {original}\n mutated  {mutated}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// One to four mutations of any kind, applied to a valid token of every algorithm.
    /// Invalid UTF-8 is passed on lossily (it differs from the ASCII original either way).
    #[test]
    fn mutations_of_a_valid_token_are_refused_unless_unchanged(
        which in 0usize..5,
        mutations in proptest::collection::vec(mutation(), 1..=4),
    ) {
        let (_, original) = &fixture().tokens[which];
        let mut bytes = original.clone().into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let mutated = String::from_utf8_lossy(&bytes);
        check_mutated(original, &mutated)?;
    }
}

/// Exhaustive for the cheap algorithms: every position of the HS256 and EdDSA tokens,
/// replaced by every base64url character and by `.`, `=`, space.
#[test]
fn every_single_character_replacement_is_refused() {
    let fx = fixture();
    let mut tried = 0usize;
    for (alg, original) in &fx.tokens {
        if !matches!(alg, Algorithm::HS256 | Algorithm::EdDSA) {
            continue;
        }
        for i in 0..original.len() {
            for &c in BASE64URL.iter().chain(b".= ") {
                let mut bytes = original.clone().into_bytes();
                bytes[i] = c;
                let mutated = String::from_utf8(bytes).unwrap();
                let accepted = fx.verifier.verify_at(&mutated, NOW).is_ok();
                assert!(!accepted || mutated == *original, "{alg:?}: {mutated}");
                tried += 1;
            }
        }
    }
    assert!(tried > 20_000, "{tried}");
}

/// base64url without padding leaves unused low bits in the last character of a segment
/// whose length is 2 or 3 (mod 4). A lenient decoder ignores them, so four (or sixteen)
/// spellings decode to the same bytes and a "changed" token would still verify. tollgate's
/// engine refuses non-zero trailing bits: of all 64 last characters of every segment of
/// every token, only the original one is accepted. A header or signature spelled
/// non-canonically fails as malformed when it is decoded, before any key is used; the
/// claims are decoded only after the signature check, and the signature covers their
/// *text*, so there the other spelling fails the signature.
#[test]
fn non_canonical_trailing_bits_are_refused_in_every_segment() {
    let fx = fixture();
    let mut segments_with_trailing_bits = 0;
    for (alg, original) in &fx.tokens {
        let ends: Vec<usize> = original
            .match_indices('.')
            .map(|(i, _)| i - 1)
            .chain([original.len() - 1])
            .collect();
        let starts = [0, ends[0] + 2, ends[1] + 2];
        for (segment, (&end, &start)) in ends.iter().zip(&starts).enumerate() {
            let len = end + 1 - start;
            if len % 4 == 0 {
                continue;
            }
            segments_with_trailing_bits += 1;
            let mut accepted = 0;
            for &c in BASE64URL {
                let mut bytes = original.clone().into_bytes();
                bytes[end] = c;
                let mutated = String::from_utf8(bytes).unwrap();
                // A non-canonical spelling decodes, if at all, to the original bytes.
                let same_bytes = URL_SAFE_NO_PAD
                    .decode(&original[start..=end])
                    .ok()
                    .zip(lenient_decode(&mutated[start..=end]))
                    .is_some_and(|(a, b)| a == b);
                match fx.verifier.verify_at(&mutated, NOW) {
                    Ok(_) => {
                        assert_eq!(mutated, *original, "{alg:?} segment {segment}");
                        accepted += 1;
                    }
                    Err(e) if same_bytes && mutated != *original => {
                        let expected = match segment {
                            0 => ErrorKind::MalformedHeader,
                            1 => ErrorKind::InvalidSignature,
                            _ => ErrorKind::Malformed,
                        };
                        assert_eq!(e.kind(), expected, "{alg:?} segment {segment}: {mutated}");
                    }
                    Err(_) => {}
                }
            }
            assert_eq!(accepted, 1, "{alg:?} segment {segment}");
        }
    }
    // HS256 signatures (43 chars) and ES256/EdDSA (86) and RSA (342) all have them.
    assert!(
        segments_with_trailing_bits >= 5,
        "{segments_with_trailing_bits}"
    );
}

/// What a decoder that ignores trailing bits would read.
fn lenient_decode(segment: &str) -> Option<Vec<u8>> {
    use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    lenient.decode(segment).ok()
}

// ---------------------------------------------------------------------------------------
// Signature malleability: the changes byte mutations cannot find
// ---------------------------------------------------------------------------------------

/// `a - b` for big-endian unsigned integers of one length, `a >= b`.
fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = a[i] as i16 - b[i] as i16 - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    assert_eq!(borrow, 0);
    out
}

/// `a + b` for little-endian unsigned integers of one length (no overflow expected).
fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for i in 0..a.len() {
        let s = a[i] as u16 + b[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0);
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let message = &token[..token.rfind('.').unwrap()];
    format!("{message}.{}", b64(signature))
}

fn signature_of(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(&token[token.rfind('.').unwrap() + 1..])
        .unwrap()
}

/// ECDSA is malleable: if `(r, s)` is a valid signature, so is `(r, n - s)`. JWS (RFC 7518
/// §3.4) does not require low-S, and aws-lc accepts both, so this *different* token
/// verifies. The property above still holds for byte mutations (hitting `n - s` by chance
/// is impossible); what matters is that nothing keys on the raw token: the second spelling
/// carries the same claims, so its revocation name (`jti`, or the hash of the decoded
/// claims) is the same and revoking one revokes both.
#[test]
fn ecdsa_high_s_twin_names_the_same_token() {
    let fx = fixture();
    let (_, original) = fx
        .tokens
        .iter()
        .find(|(a, _)| *a == Algorithm::ES256)
        .unwrap();
    let signature = signature_of(original);
    let n = hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
    let mut twin = signature[..32].to_vec();
    twin.extend(sub_be(&n, &signature[32..]));
    let twin = with_signature(original, &twin);
    assert_ne!(twin, *original);

    let first = fx.verifier.verify_at(original, NOW).unwrap();
    match fx.verifier.verify_at(&twin, NOW) {
        Ok(second) => {
            println!("the high-S twin of an ES256 token verifies (backend accepts high S)");
            assert_eq!(first.revocation_id(), second.revocation_id());
            assert_eq!(first.claims(), second.claims());
        }
        // A backend that enforces low-S refuses it, which is fine too.
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidSignature),
    }
}

/// Ed25519 signatures are `R || S` with `S < L` (RFC 8032 §5.1.7). `S + L` is the same
/// value mod L: a lax verifier accepts it. The backend must refuse it.
#[test]
fn ed25519_s_plus_l_is_refused() {
    let fx = fixture();
    let (_, original) = fx
        .tokens
        .iter()
        .find(|(a, _)| *a == Algorithm::EdDSA)
        .unwrap();
    let signature = signature_of(original);
    let mut l = hex("1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed");
    l.reverse(); // little-endian, as S is encoded
    let mut twin = signature[..32].to_vec();
    twin.extend(add_le(&signature[32..], &l));
    let twin = with_signature(original, &twin);
    let error = fx.verifier.verify_at(&twin, NOW).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidSignature);
}
