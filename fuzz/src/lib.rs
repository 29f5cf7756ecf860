//! What the fuzz targets share: the test keys, the verifiers under test, a signer for
//! hand-built tokens and the seed tokens (written to `seeds/` by `examples/make_seeds.rs`).
//!
//! Time is fixed ([`NOW`]) so that the committed seed tokens stay valid forever.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::Duration;
use tollgate::{Algorithm, Key, KeySet, Verifier};

/// The verification time of every fuzz target, seconds since the Unix epoch.
pub const NOW: u64 = 1_750_000_000;
/// The issuer and audience of the strict verifier.
pub const ISSUER: &str = "https://issuer.fuzz.test";
pub const AUDIENCE: &str = "fuzz-api";
/// The issuer of the second verifier of [`Fixture::multi`].
pub const ISSUER2: &str = "https://other.fuzz.test";

pub const HS256_SECRET: &[u8] = b"tollgate-fuzz-hs256-secret-0123456789";
pub const HS384_SECRET: &[u8] = b"tollgate-fuzz-hs384-secret-0123456789abcdefghijklmn";
pub const HS512_SECRET: &[u8] =
    b"tollgate-fuzz-hs512-secret-0123456789abcdefghijklmnopqrstuvwxyz0123456789";
/// A secret no verifier knows (nameless second HS256 key of the lenient verifier).
pub const OTHER_HS256_SECRET: &[u8] = b"tollgate-fuzz-other-hs256-0123456789ab";

pub const RSA_PRIVATE: &str =
    include_str!("../../crates/tollgate/tests/fixtures/rsa2048-private.pem");
pub const RSA_PUBLIC: &str =
    include_str!("../../crates/tollgate/tests/fixtures/rsa2048-public.pem");
pub const P256_PRIVATE: &str =
    include_str!("../../crates/tollgate/tests/fixtures/p256-private.pem");
pub const P256_PUBLIC: &str = include_str!("../../crates/tollgate/tests/fixtures/p256-public.pem");
pub const P384_PRIVATE: &str =
    include_str!("../../crates/tollgate/tests/fixtures/p384-private.pem");
pub const P384_PUBLIC: &str = include_str!("../../crates/tollgate/tests/fixtures/p384-public.pem");
pub const ED25519_PRIVATE: &str =
    include_str!("../../crates/tollgate/tests/fixtures/ed25519-private.pem");
pub const ED25519_PUBLIC: &str =
    include_str!("../../crates/tollgate/tests/fixtures/ed25519-public.pem");

/// One trusted key: its `kid` (if the verifiers name it), algorithm and both halves.
pub struct TrustedKey {
    pub kid: Option<&'static str>,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
}

/// The verifiers under test and the keys behind them.
pub struct Fixture {
    /// Every key type; `iss`/`aud` required; default rules.
    pub strict: Verifier,
    /// The same keys plus a nameless second HS256 key; `try_all_keys`, no `exp` needed,
    /// `iat` validated, `typ: at+jwt` and `sub`/`jti` required, roles from
    /// `realm_access.roles`, 4 KiB limit, no leeway.
    pub lenient: Verifier,
    /// `Verifier::any_of` over a copy of `strict` and an HS512-only verifier for
    /// [`ISSUER2`].
    pub multi: Verifier,
    pub keys: Vec<TrustedKey>,
}

fn trusted_keys() -> Vec<TrustedKey> {
    let pem = |s: &str| s.as_bytes().to_vec();
    vec![
        TrustedKey {
            kid: Some("hs256"),
            alg: Algorithm::HS256,
            encoding: EncodingKey::from_secret(HS256_SECRET).unwrap(),
            decoding: DecodingKey::from_secret(HS256_SECRET).unwrap(),
        },
        TrustedKey {
            kid: None,
            alg: Algorithm::HS384,
            encoding: EncodingKey::from_secret(HS384_SECRET).unwrap(),
            decoding: DecodingKey::from_secret(HS384_SECRET).unwrap(),
        },
        TrustedKey {
            kid: Some("es256"),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_pem(&pem(P256_PRIVATE)).unwrap(),
            decoding: DecodingKey::from_ec_pem(&pem(P256_PUBLIC)).unwrap(),
        },
        TrustedKey {
            kid: None,
            alg: Algorithm::ES384,
            encoding: EncodingKey::from_ec_pem(&pem(P384_PRIVATE)).unwrap(),
            decoding: DecodingKey::from_ec_pem(&pem(P384_PUBLIC)).unwrap(),
        },
        TrustedKey {
            kid: Some("ed"),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_pem(&pem(ED25519_PRIVATE)).unwrap(),
            decoding: DecodingKey::from_ed_pem(&pem(ED25519_PUBLIC)).unwrap(),
        },
        TrustedKey {
            kid: Some("rs256"),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_pem(&pem(RSA_PRIVATE)).unwrap(),
            decoding: DecodingKey::from_rsa_pem(&pem(RSA_PUBLIC)).unwrap(),
        },
        TrustedKey {
            kid: Some("ps256"),
            alg: Algorithm::PS256,
            encoding: EncodingKey::from_rsa_pem(&pem(RSA_PRIVATE)).unwrap(),
            decoding: DecodingKey::from_rsa_pem(&pem(RSA_PUBLIC)).unwrap(),
        },
    ]
}

/// The tollgate keys matching [`trusted_keys`], loaded through tollgate's own constructors.
fn tollgate_keys() -> KeySet {
    let named = |key: Key, kid: Option<&str>| match kid {
        Some(kid) => key.with_kid(kid),
        None => key,
    };
    let mut set = KeySet::new();
    for k in trusted_keys() {
        let key = match k.alg {
            Algorithm::HS256 => Key::hmac(HS256_SECRET, k.alg),
            Algorithm::HS384 => Key::hmac(HS384_SECRET, k.alg),
            Algorithm::ES256 => Key::ec_pem(P256_PUBLIC.as_bytes(), k.alg),
            Algorithm::ES384 => Key::ec_pem(P384_PUBLIC.as_bytes(), k.alg),
            Algorithm::EdDSA => Key::ed25519_pem(ED25519_PUBLIC.as_bytes()),
            Algorithm::RS256 | Algorithm::PS256 => Key::rsa_pem(RSA_PUBLIC.as_bytes(), k.alg),
            other => unreachable!("{other:?}"),
        }
        .expect("fixture key loads");
        set.insert(named(key, k.kid)).expect("fixture kid unique");
    }
    set
}

/// Makes sure jsonwebtoken has a crypto provider (building any verifier installs one).
pub fn install_crypto_provider() {
    let _ = Verifier::builder().build();
}

/// The shared fixture, built once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        install_crypto_provider();
        let strict = || {
            Verifier::builder()
                .keys(tollgate_keys())
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .build()
                .expect("strict verifier")
        };
        let lenient = Verifier::builder()
            .keys(tollgate_keys())
            .key(Key::hmac(OTHER_HS256_SECRET, Algorithm::HS256).unwrap())
            .try_all_keys(true)
            .require_exp(false)
            .validate_iat(true)
            .require_type("at+jwt")
            .require_claim("sub")
            .require_claim("jti")
            .roles_claim("realm_access.roles")
            .max_token_len(4096)
            .leeway(Duration::ZERO)
            .build()
            .expect("lenient verifier");
        let second = Verifier::builder()
            .key(
                Key::hmac(HS512_SECRET, Algorithm::HS512)
                    .unwrap()
                    .with_kid("hs512"),
            )
            .issuer(ISSUER2)
            .build()
            .expect("second verifier");
        let multi = Verifier::any_of([strict(), second]).expect("any_of");
        Fixture {
            strict: strict(),
            lenient,
            multi,
            keys: trusted_keys(),
        }
    })
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// jsonwebtoken's `Algorithm` of the same JOSE name, for the calls that go to jsonwebtoken.
pub fn jsonwebtoken_algorithm(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.as_str().parse().expect("jsonwebtoken names it too")
}

/// `b64(header).b64(payload).signature`, the bytes exactly as given.
pub fn sign_raw(header: &[u8], payload: &[u8], key: &EncodingKey, alg: Algorithm) -> String {
    install_crypto_provider();
    let message = format!("{}.{}", b64(header), b64(payload));
    let alg = jsonwebtoken_algorithm(alg);
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("signing");
    format!("{message}.{signature}")
}

/// The header a trusted key's tokens carry.
pub fn header_for(key: &TrustedKey, typ: Option<&str>) -> Value {
    let mut header = json!({ "alg": format!("{:?}", key.alg) });
    if let Some(kid) = key.kid {
        header["kid"] = json!(kid);
    }
    if let Some(typ) = typ {
        header["typ"] = json!(typ);
    }
    header
}

/// A claim set the strict verifier accepts at [`NOW`].
pub fn strict_claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": NOW - 10,
        "nbf": NOW - 10,
        "exp": NOW + 3600,
        "jti": "fuzz-seed-1",
        "roles": ["admin", "reader"],
        "scope": "read write"
    })
}

/// A claim set the lenient verifier accepts at [`NOW`].
pub fn lenient_claims() -> Value {
    json!({
        "sub": "bob",
        "jti": "fuzz-seed-2",
        "iat": NOW - 5,
        "realm_access": { "roles": ["user"] },
        "scp": ["a", "b"],
        "aud": ["x", "y"],
        "nbf": 1.5e9
    })
}

/// Seed tokens for `verify_token`: for every trusted key one the strict verifier accepts
/// and one the lenient verifier accepts, one for the second issuer of `multi`, plus a few
/// refused shapes that are worth starting from (no `kid`, `alg: none`, `crit`, `cty`,
/// JWE, duplicate members).
pub fn seed_tokens() -> Vec<(String, String)> {
    let fx = fixture();
    let mut seeds = Vec::new();
    let enc = |v: &Value| serde_json::to_vec(v).unwrap();
    for key in &fx.keys {
        let name = format!("{:?}", key.alg).to_lowercase();
        seeds.push((
            format!("strict-{name}"),
            sign_raw(
                &enc(&header_for(key, Some("JWT"))),
                &enc(&strict_claims()),
                &key.encoding,
                key.alg,
            ),
        ));
        seeds.push((
            format!("lenient-{name}"),
            sign_raw(
                &enc(&header_for(key, Some("application/at+jwt"))),
                &enc(&lenient_claims()),
                &key.encoding,
                key.alg,
            ),
        ));
    }
    let hs512 = EncodingKey::from_secret(HS512_SECRET).unwrap();
    let mut claims2 = strict_claims();
    claims2["iss"] = json!(ISSUER2);
    seeds.push((
        "multi-hs512".into(),
        sign_raw(
            br#"{"alg":"HS512","kid":"hs512"}"#,
            &enc(&claims2),
            &hs512,
            Algorithm::HS512,
        ),
    ));
    let hs = &fx.keys[0];
    let p = enc(&strict_claims());
    let raw = |h: &[u8]| sign_raw(h, &p, &hs.encoding, Algorithm::HS256);
    seeds.push(("nokid-hs256".into(), raw(br#"{"alg":"HS256"}"#)));
    seeds.push((
        "crit".into(),
        raw(br#"{"alg":"HS256","kid":"hs256","crit":["exp"]}"#),
    ));
    seeds.push((
        "cty".into(),
        raw(br#"{"alg":"HS256","kid":"hs256","cty":"JWT"}"#),
    ));
    seeds.push((
        "dup-alg".into(),
        raw(br#"{"alg":"HS256","kid":"hs256","alg":"none"}"#),
    ));
    seeds.push((
        "alg-none".into(),
        format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(&p)),
    ));
    seeds.push((
        "jwe".into(),
        format!("{}.a.b.c.d", b64(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#)),
    ));
    seeds
}

/// Seeds for `verify_token`'s second mode (the harness signs header and claims with the
/// HS256 key): `0x01`, header JSON, `0xFF`, claims JSON.
pub fn signed_mode_seeds() -> Vec<(String, Vec<u8>)> {
    let enc = |v: &Value| serde_json::to_vec(v).unwrap();
    let entry = |h: &[u8], p: &[u8]| {
        let mut v = vec![1u8];
        v.extend_from_slice(h);
        v.push(0xFF);
        v.extend_from_slice(p);
        v
    };
    let h = br#"{"alg":"HS256","kid":"hs256","typ":"at+jwt"}"#;
    let mut nested = strict_claims();
    nested["realm_access"] = json!({"roles": ["x", {"y": [1, 2.5, null, true]}]});
    nested["exp"] = json!(1.75e9 + 100.25);
    vec![
        ("signed-strict".into(), entry(h, &enc(&strict_claims()))),
        ("signed-lenient".into(), entry(h, &enc(&lenient_claims()))),
        ("signed-nested".into(), entry(h, &enc(&nested))),
        (
            "signed-aud-array".into(),
            entry(
                h,
                br#"{"iss":"https://issuer.fuzz.test","aud":["a","fuzz-api"],"exp":1750003600}"#,
            ),
        ),
    ]
}

/// Tokens without `kid` (one per algorithm the fixture keys cover, plus HS512), signed
/// by the fixture keys and valid at [`NOW`]: `jwks_parse` verifies them with whatever
/// keys the fuzzed JWK Set loaded.
pub fn kidless_tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let claims = serde_json::to_vec(&json!({"sub": "k", "exp": NOW + 3600})).unwrap();
        let mut tokens: Vec<String> = fixture()
            .keys
            .iter()
            .map(|k| {
                let header = format!(r#"{{"alg":"{:?}"}}"#, k.alg);
                sign_raw(header.as_bytes(), &claims, &k.encoding, k.alg)
            })
            .collect();
        tokens.push(sign_raw(
            br#"{"alg":"HS512"}"#,
            &claims,
            &EncodingKey::from_secret(HS512_SECRET).unwrap(),
            Algorithm::HS512,
        ));
        tokens
    })
}

/// Public JWK Sets (and one local set with an `oct` key) for the `jwks_parse` seeds.
pub fn seed_jwks() -> Vec<(String, String)> {
    use tollgate::{Signer, SigningKey};
    let mut out = Vec::new();
    let signers = [
        SigningKey::rsa_pem("rs", RSA_PRIVATE.as_bytes(), Algorithm::RS256),
        SigningKey::rsa_pem("ps", RSA_PRIVATE.as_bytes(), Algorithm::PS384),
        SigningKey::ec_pem("es256", P256_PRIVATE.as_bytes(), Algorithm::ES256),
        SigningKey::ec_pem("es384", P384_PRIVATE.as_bytes(), Algorithm::ES384),
        SigningKey::ed25519_pem("ed", ED25519_PRIVATE.as_bytes()),
    ];
    let mut all = Vec::new();
    for key in signers {
        let key = key.expect("fixture signing key");
        let jwk = key.public_jwk().expect("public jwk");
        out.push((format!("jwk-{}", key.kid()), jwk.to_string()));
        let signer = Signer::builder(key).issuer(ISSUER).build().unwrap();
        all.extend(signer.jwks()["keys"].as_array().unwrap().clone());
    }
    let oct = json!({"kty": "oct", "kid": "oct", "alg": "HS512", "k": b64(HS512_SECRET)});
    out.push(("jwk-oct".into(), oct.to_string()));
    all.push(oct);
    // Entra ID style: RSA keys without `alg`, plus entries that must be skipped.
    let mut no_alg = all[0].clone();
    no_alg.as_object_mut().unwrap().remove("alg");
    no_alg["kid"] = json!("rsa-no-alg");
    all.push(no_alg);
    all.push(json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}));
    all.push(json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}));
    out.push(("jwks-all".into(), json!({ "keys": all }).to_string()));
    out.push(("jwks-empty".into(), r#"{"keys":[]}"#.into()));
    out
}
