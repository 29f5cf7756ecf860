//! The token every peer verifies, and the floor, shared by both bench binaries: the same
//! realistic access token as `benches/benches/common/mod.rs` (`sub`, `iss`, `aud`, `exp`,
//! `iat`, `nbf`, `jti`, `roles`, `scope`), minted by `tollgate::Signer`, HS256 and RS256.

use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use tollgate::{Algorithm, Key, Signer, SigningKey, TokenRequest, Verifier};

/// RSA-2048 private key (PEM), from tollgate's test fixtures.
pub const RSA_PRIVATE: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/rsa2048-private.pem");
/// RSA-2048 public key (PEM).
pub const RSA_PUBLIC: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/rsa2048-public.pem");
/// The HMAC secret (ASCII, so `jwt-authorizer`'s `from_secret(&str)` takes it as is).
pub const HMAC_SECRET: &str = "bench-secret-0123456789abcdefghi";
/// `iss` of every token.
pub const ISSUER: &str = "https://auth.example.com/";
/// `aud` of every token.
pub const AUDIENCE: &str = "orders-api";
/// `kid` in every token's header.
pub const KID: &str = "bench-2026-1";

/// What every handler reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Access {
    /// `sub`.
    pub sub: String,
    /// `roles`.
    pub roles: Vec<String>,
}

impl Access {
    /// The handlers' answer: "ok" when the claims are there.
    pub fn answer(&self) -> &'static str {
        if self.sub.is_empty() || self.roles.is_empty() {
            "?"
        } else {
            "ok"
        }
    }
}

/// One algorithm: its token, the floor's key and validation, tollgate's verifier.
pub struct Case {
    /// "HS256" or "RS256".
    pub name: &'static str,
    /// The token.
    pub token: String,
    /// jsonwebtoken 12's key, parsed once.
    pub decoding_key: DecodingKey,
    /// iss, aud, `exp` required, `nbf`, leeway 60.
    pub validation: Validation,
    /// tollgate's verifier with the same rules.
    pub verifier: Verifier,
}

/// HS256 and RS256.
pub fn cases() -> Vec<Case> {
    [Algorithm::HS256, Algorithm::RS256]
        .into_iter()
        .map(case)
        .collect()
}

fn case(algorithm: Algorithm) -> Case {
    let (name, signing, key, decoding_key) = match algorithm {
        Algorithm::HS256 => (
            "HS256",
            SigningKey::hmac(KID, HMAC_SECRET.as_bytes(), algorithm).unwrap(),
            Key::hmac(HMAC_SECRET.as_bytes(), algorithm).unwrap(),
            DecodingKey::from_secret(HMAC_SECRET.as_bytes()).unwrap(),
        ),
        Algorithm::RS256 => (
            "RS256",
            SigningKey::rsa_pem(KID, RSA_PRIVATE.as_bytes(), algorithm).unwrap(),
            Key::rsa_pem(RSA_PUBLIC.as_bytes(), algorithm).unwrap(),
            DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap(),
        ),
        other => unreachable!("{other:?}"),
    };
    let signer = Signer::builder(signing)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let token = signer
        .issue(
            &TokenRequest::new("user-4821")
                .roles(["user", "reader"])
                .scopes(["orders:read", "profile"]),
        )
        .unwrap()
        .token;
    let verifier = Verifier::builder()
        .key(key.with_kid(KID))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp"]);
    validation.leeway = 60;
    validation.validate_nbf = true;
    let case = Case {
        name,
        token,
        decoding_key,
        validation,
        verifier,
    };
    case.floor().unwrap();
    case.verifier.verify(&case.token).unwrap();
    case
}

impl Case {
    /// `jsonwebtoken::decode` (12, aws_lc_rs) with the key parsed once: the floor.
    pub fn floor(&self) -> jsonwebtoken::errors::Result<serde_json::Value> {
        jsonwebtoken::decode::<serde_json::Value>(&self.token, &self.decoding_key, &self.validation)
            .map(|data| data.claims)
    }

    /// The same decode into `Access` (`sub`, `roles`) instead of a `serde_json::Value`: what
    /// the peers' typed extractors actually do, so a tighter floor for a typed handler.
    pub fn floor_typed(&self) -> jsonwebtoken::errors::Result<Access> {
        jsonwebtoken::decode::<Access>(&self.token, &self.decoding_key, &self.validation)
            .map(|data| data.claims)
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}
