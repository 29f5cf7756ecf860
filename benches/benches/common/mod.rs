//! The four algorithms, their keys and one realistic access token each, shared by the
//! `verify` and `allocations` benches.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use tollgate::{Algorithm, Key, MemoryStore, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::{AuthLayer, Claims, RequireRole};

const RSA_PRIVATE: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/rsa2048-private.pem");
const RSA_PUBLIC: &str = include_str!("../../../crates/tollgate/tests/fixtures/rsa2048-public.pem");
const P256_PRIVATE: &str = include_str!("../../../crates/tollgate/tests/fixtures/p256-private.pem");
const P256_PUBLIC: &str = include_str!("../../../crates/tollgate/tests/fixtures/p256-public.pem");
const ED25519_PRIVATE: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/ed25519-private.pem");
const ED25519_PUBLIC: &str =
    include_str!("../../../crates/tollgate/tests/fixtures/ed25519-public.pem");
const HMAC_SECRET: &[u8; 32] = b"bench-secret-0123456789abcdefghi";

pub(crate) const ISSUER: &str = "https://auth.example.com/";
pub(crate) const AUDIENCE: &str = "orders-api";
pub(crate) const KID: &str = "bench-2026-1";

/// Everything one algorithm needs: a token, the floor's key and validation, tollgate's
/// verifier.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) token: String,
    pub(crate) decoding_key: DecodingKey,
    pub(crate) validation: Validation,
    pub(crate) verifier: Verifier,
    /// The same verifier with the verified-token cache on (10 000 tokens, 60 s).
    pub(crate) cached_verifier: Verifier,
}

/// What the `Claims<T>` handler reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Access {
    pub(crate) sub: String,
    pub(crate) roles: Vec<String>,
}

pub(crate) fn cases() -> Vec<Case> {
    [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .map(case)
    .collect()
}

fn case(algorithm: Algorithm) -> Case {
    let (name, signing, key, decoding_key) = match algorithm {
        Algorithm::HS256 => (
            "HS256",
            SigningKey::hmac(KID, HMAC_SECRET, algorithm).unwrap(),
            Key::hmac(HMAC_SECRET, algorithm).unwrap(),
            DecodingKey::from_secret(HMAC_SECRET).unwrap(),
        ),
        Algorithm::RS256 => (
            "RS256",
            SigningKey::rsa_pem(KID, RSA_PRIVATE.as_bytes(), algorithm).unwrap(),
            Key::rsa_pem(RSA_PUBLIC.as_bytes(), algorithm).unwrap(),
            DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap(),
        ),
        Algorithm::ES256 => (
            "ES256",
            SigningKey::ec_pem(KID, P256_PRIVATE.as_bytes(), algorithm).unwrap(),
            Key::ec_pem(P256_PUBLIC.as_bytes(), algorithm).unwrap(),
            DecodingKey::from_ec_pem(P256_PUBLIC.as_bytes()).unwrap(),
        ),
        Algorithm::EdDSA => (
            "EdDSA",
            SigningKey::ed25519_pem(KID, ED25519_PRIVATE.as_bytes()).unwrap(),
            Key::ed25519_pem(ED25519_PUBLIC.as_bytes()).unwrap(),
            DecodingKey::from_ed_pem(ED25519_PUBLIC.as_bytes()).unwrap(),
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
    let builder = || {
        Verifier::builder()
            .key(key.clone().with_kid(KID))
            .issuer(ISSUER)
            .audience(AUDIENCE)
    };
    let verifier = builder().build().unwrap();
    let cached_verifier = builder()
        .token_cache(
            tollgate::verifier::DEFAULT_TOKEN_CACHE_ENTRIES,
            tollgate::verifier::DEFAULT_TOKEN_CACHE_TTL,
        )
        .build()
        .unwrap();
    // jsonwebtoken's own `Algorithm`, by the same JOSE name.
    let mut validation = Validation::new(algorithm.as_str().parse().unwrap());
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
        cached_verifier,
    };
    // Both sides must accept the token, or the comparison means nothing.
    case.floor().unwrap();
    case.verifier.verify(&case.token).unwrap();
    case
}

impl Case {
    /// `jsonwebtoken::decode` with the same key and validation: the floor.
    pub(crate) fn floor(&self) -> jsonwebtoken::errors::Result<serde_json::Value> {
        jsonwebtoken::decode::<serde_json::Value>(&self.token, &self.decoding_key, &self.validation)
            .map(|data| data.claims)
    }

    /// The floor decoding into the handler's own type, as the peers' typed extractors do.
    pub(crate) fn floor_typed(&self) -> jsonwebtoken::errors::Result<Access> {
        jsonwebtoken::decode::<Access>(&self.token, &self.decoding_key, &self.validation)
            .map(|data| data.claims)
    }

    /// The request every router gets: `GET /me` with the token as a bearer token.
    pub(crate) fn request(&self) -> Request<Body> {
        Request::builder()
            .uri("/me")
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .body(Body::empty())
            .unwrap()
    }

    /// `GET /me` behind the layer, answered by a `Claims<Access>` handler.
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/me", get(me))
            .layer(AuthLayer::new(self.verifier.clone()))
    }

    /// The same with the verified-token cache on: after the first, every request is a hit.
    pub(crate) fn router_token_cache(&self) -> Router {
        Router::new()
            .route("/me", get(me))
            .layer(AuthLayer::new(self.cached_verifier.clone()))
    }

    /// The same with revocation through an in-memory store.
    pub(crate) fn router_revocation(&self) -> Router {
        Router::new()
            .route("/me", get(me))
            .layer(AuthLayer::new(self.verifier.clone()).revocation(MemoryStore::new()))
    }

    /// The same with revocation and a `RequireRole::any(["user"])` guard on the route.
    pub(crate) fn router_revocation_role(&self) -> Router {
        Router::new()
            .route("/me", get(me).route_layer(RequireRole::any(["user"])))
            .layer(AuthLayer::new(self.verifier.clone()).revocation(MemoryStore::new()))
    }
}

/// The same route without the layer, answering "ok": the no-auth baseline.
pub(crate) fn router_no_auth() -> Router {
    Router::new().route("/me", get(|| async { "ok" }))
}

/// Reads the typed claims and answers "ok", like the baseline, so that both responses cost
/// the same.
async fn me(claims: Claims<Access>) -> &'static str {
    let access = claims.claims();
    if access.sub.is_empty() || access.roles.is_empty() {
        "?"
    } else {
        "ok"
    }
}
