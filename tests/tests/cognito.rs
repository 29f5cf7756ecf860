//! Amazon Cognito's token shapes: access tokens (no `aud`, `client_id`, `token_use:
//! "access"`) and ID tokens (`aud` = the app client, `token_use: "id"`), with the claim
//! sets AWS documents, signed RS256 by a test key whose JWK Set is served through OIDC
//! discovery on loopback. Each rule of `VerifierBuilder::cognito` accepts and refuses, and
//! through the layer the client sees 200 or 401.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use std::time::Duration;
use tollgate::cognito::{TokenUse, UserPool};
use tollgate::remote::RemoteKeys;
use tollgate::{
    Algorithm, ConfigError, ErrorKind, Signer, SigningKey, TokenRequest, Verifier, VerifierBuilder,
};
use tollgate_axum::{AuthLayer, Claims};
use tower::ServiceExt;

const POOL: &str = "eu-west-1_AbCdEf123";
const CLIENT: &str = "6ar1jbbtmplxn4tmf0c6k1b1ok";
const OTHER_CLIENT: &str = "3n4b5urk1ft4fl3mg5e62d9ado";
const PRIVATE_PEM: &[u8] =
    include_bytes!("../../crates/tollgate/tests/fixtures/rsa2048-private.pem");
const KID: &str = "cognito-test-1";

fn pool() -> UserPool {
    POOL.parse().unwrap()
}

/// The pool's signer; `aud` only when given (Cognito puts it in ID tokens only).
fn signer(issuer: &str, aud: Option<&str>) -> Signer {
    let mut builder =
        Signer::builder(SigningKey::rsa_pem(KID, PRIVATE_PEM, Algorithm::RS256).unwrap())
            .issuer(issuer);
    if let Some(aud) = aud {
        builder = builder.audience(aud);
    }
    builder.build().unwrap()
}

/// A Cognito access token's claim set (AWS's "Understanding the access token").
fn access(client_id: &str) -> TokenRequest {
    TokenRequest::new("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
        .claim("cognito:groups", json!(["admin"]))
        .claim("version", 2)
        .claim("client_id", client_id)
        .claim("origin_jti", "ffffffff-gggg-hhhh-iiii-jjjjjjjjjjjj")
        .claim("event_id", "kkkkkkkk-llll-mmmm-nnnn-oooooooooooo")
        .claim("token_use", "access")
        .claim("scope", "aws.cognito.signin.user.admin openid email")
        .claim("auth_time", 1_767_225_600)
        .claim("username", "alice")
}

/// A Cognito ID token's claim set (without `aud`, which the signer writes).
fn id_token() -> TokenRequest {
    TokenRequest::new("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
        .claim("cognito:groups", json!(["admin"]))
        .claim("email_verified", true)
        .claim("cognito:username", "alice")
        .claim("origin_jti", "ffffffff-gggg-hhhh-iiii-jjjjjjjjjjjj")
        .claim("event_id", "kkkkkkkk-llll-mmmm-nnnn-oooooooooooo")
        .claim("token_use", "id")
        .claim("auth_time", 1_767_225_600)
        .claim("email", "alice@example.com")
}

fn mint(signer: &Signer, request: &TokenRequest) -> String {
    signer.issue(request).unwrap().token
}

/// A loopback OIDC provider: discovery and the JWK Set of `signer`.
async fn provider(signer: &Signer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({ "issuer": base, "jwks_uri": format!("{base}/jwks") });
    let jwks = json!({ "keys": [signer.key().public_jwk().unwrap()] });
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route("/jwks", get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A Cognito verifier for [`pool`] whose keys are discovered from `base`.
async fn cognito(
    base: &str,
    configure: impl FnOnce(VerifierBuilder) -> VerifierBuilder,
) -> Verifier {
    let keys = RemoteKeys::discover(base).build().unwrap();
    assert!(keys.wait_until_loaded(Duration::from_secs(5)).await);
    configure(Verifier::builder().cognito(&pool()).remote_keys(keys))
        .build()
        .unwrap()
}

fn kind(verifier: &Verifier, token: &str) -> Option<ErrorKind> {
    verifier.check(token).err().map(|e| e.kind())
}

#[tokio::test]
async fn access_tokens_are_checked_on_client_id_and_token_use() {
    let issuer = pool().issuer();
    let pool_signer = signer(&issuer, None);
    let base = provider(&pool_signer).await;
    let verifier = cognito(&base, |b| b.cognito_clients([CLIENT])).await;
    let signer = pool_signer;

    let token = verifier.check(&mint(&signer, &access(CLIENT))).unwrap();
    assert_eq!(token.issuer(), Some(issuer.as_str()));
    assert!(token.has_role("admin"), "roles from cognito:groups");
    assert!(token.has_scope("openid"));

    assert_eq!(
        kind(&verifier, &mint(&signer, &access(OTHER_CLIENT))),
        Some(ErrorKind::WrongAudience),
        "another app client"
    );
    let with_aud = signer_with_aud(&issuer, CLIENT);
    assert_eq!(
        kind(&verifier, &mint(&with_aud, &access(OTHER_CLIENT))),
        Some(ErrorKind::WrongAudience),
        "an aud that would have matched counts for nothing on an access token"
    );
    assert_eq!(
        kind(
            &verifier,
            &mint(&signer_with_aud(&issuer, CLIENT), &id_token())
        ),
        Some(ErrorKind::WrongTokenUse),
        "an ID token where an access token is required"
    );
    let mut no_use = access(CLIENT);
    no_use = no_use.claim("token_use", Value::Null);
    assert_eq!(
        kind(&verifier, &mint(&signer, &no_use)),
        Some(ErrorKind::InvalidClaim("token_use"))
    );
    let bare = TokenRequest::new("alice").claim("client_id", CLIENT);
    assert_eq!(
        kind(&verifier, &mint(&signer, &bare)),
        Some(ErrorKind::MissingClaim("token_use")),
        "a token without token_use"
    );
    let no_client = TokenRequest::new("alice").claim("token_use", "access");
    assert_eq!(
        kind(&verifier, &mint(&signer, &no_client)),
        Some(ErrorKind::MissingClaim("client_id"))
    );
    let other_pool = signer_with_issuer(&"eu-west-1_Other9".parse::<UserPool>().unwrap().issuer());
    assert_eq!(
        kind(&verifier, &mint(&other_pool, &access(CLIENT))),
        Some(ErrorKind::WrongIssuer),
        "another pool's token, same key"
    );
}

fn signer_with_aud(issuer: &str, aud: &str) -> Signer {
    signer(issuer, Some(aud))
}

fn signer_with_issuer(issuer: &str) -> Signer {
    signer(issuer, None)
}

#[tokio::test]
async fn id_tokens_only_when_asked_and_checked_on_aud() {
    let issuer = pool().issuer();
    let signer = signer(&issuer, None);
    let base = provider(&signer).await;
    let ids = cognito(&base, |b| {
        b.cognito_clients([CLIENT])
            .cognito_token_uses([TokenUse::Id])
    })
    .await;
    assert!(
        ids.check(&mint(&signer_with_aud(&issuer, CLIENT), &id_token()))
            .is_ok()
    );
    assert_eq!(
        kind(
            &ids,
            &mint(&signer_with_aud(&issuer, OTHER_CLIENT), &id_token())
        ),
        Some(ErrorKind::WrongAudience)
    );
    assert_eq!(
        kind(&ids, &mint(&signer, &id_token())),
        Some(ErrorKind::MissingClaim("aud"))
    );
    assert_eq!(
        kind(&ids, &mint(&signer, &access(CLIENT))),
        Some(ErrorKind::WrongTokenUse),
        "an access token where an ID token is required"
    );

    let both = cognito(&base, |b| {
        b.cognito_clients([CLIENT, OTHER_CLIENT])
            .cognito_token_uses([TokenUse::Access, TokenUse::Id])
    })
    .await;
    assert!(both.check(&mint(&signer, &access(OTHER_CLIENT))).is_ok());
    assert!(
        both.check(&mint(&signer_with_aud(&issuer, CLIENT), &id_token()))
            .is_ok()
    );
}

#[tokio::test]
async fn through_the_layer_an_allowed_client_gets_200_and_the_rest_401() {
    let issuer = pool().issuer();
    let signer = signer(&issuer, None);
    let base = provider(&signer).await;
    let verifier = cognito(&base, |b| b.cognito_clients([CLIENT])).await;
    let app = Router::new()
        .route(
            "/me",
            get(|claims: Claims| async move { claims.subject().unwrap_or_default().to_owned() }),
        )
        .layer(AuthLayer::new(verifier));
    let call = |token: String| {
        let app = app.clone();
        async move {
            let request = Request::get("/me")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            app.oneshot(request).await.unwrap()
        }
    };
    assert_eq!(
        call(mint(&signer, &access(CLIENT))).await.status(),
        StatusCode::OK
    );
    for (what, token) in [
        ("another client", mint(&signer, &access(OTHER_CLIENT))),
        (
            "an ID token",
            mint(&signer_with_aud(&issuer, CLIENT), &id_token()),
        ),
    ] {
        let response = call(token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(challenge.starts_with("Bearer "), "{what}: {challenge}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{what}: {challenge}"
        );
    }
}

#[tokio::test]
async fn the_generic_rule_reads_a_client_claim_only_without_aud() {
    let signer_plain = signer("https://idp.example", None);
    let keys = tollgate::KeySet::from_jwks(
        &json!({ "keys": [signer_plain.key().public_jwk().unwrap()] }).to_string(),
    )
    .unwrap();
    let verifier = Verifier::builder()
        .keys(keys)
        .issuer("https://idp.example")
        .audience("orders-api")
        .audience_or_claim("azp")
        .build()
        .unwrap();
    let azp = |value: &str| TokenRequest::new("alice").claim("azp", value);
    assert!(
        verifier
            .check(&mint(&signer_plain, &azp("orders-api")))
            .is_ok()
    );
    assert_eq!(
        kind(&verifier, &mint(&signer_plain, &azp("other"))),
        Some(ErrorKind::WrongAudience)
    );
    assert_eq!(
        kind(&verifier, &mint(&signer_plain, &TokenRequest::new("alice"))),
        Some(ErrorKind::MissingClaim("aud"))
    );
    let with_aud = signer("https://idp.example", Some("another-api"));
    assert_eq!(
        kind(&verifier, &mint(&with_aud, &azp("orders-api"))),
        Some(ErrorKind::WrongAudience),
        "a token with aud is judged by aud"
    );
    assert!(
        verifier
            .check(&mint(
                &signer("https://idp.example", Some("orders-api")),
                &azp("x")
            ))
            .is_ok()
    );
}

#[tokio::test]
async fn misconfigurations_are_config_errors() {
    let keys = || {
        tollgate::KeySet::from_jwks(
            &json!({ "keys": [signer("i", None).key().public_jwk().unwrap()] }).to_string(),
        )
        .unwrap()
    };
    let invalid = |result: Result<Verifier, ConfigError>| {
        matches!(result, Err(ConfigError::InvalidOption(_)))
    };
    assert!(
        invalid(
            Verifier::builder()
                .keys(keys())
                .cognito(&pool())
                .cognito_clients([CLIENT])
                .audience(CLIENT)
                .build()
        ),
        "an audience and Cognito app clients"
    );
    assert!(
        invalid(Verifier::builder().keys(keys()).cognito(&pool()).build()),
        "no app client"
    );
    assert!(
        invalid(
            Verifier::builder()
                .keys(keys())
                .cognito(&pool())
                .cognito_clients([CLIENT])
                .cognito_token_uses([])
                .build()
        ),
        "no token use"
    );
    assert!(
        invalid(
            Verifier::builder()
                .keys(keys())
                .cognito_clients([CLIENT])
                .build()
        ),
        "clients without cognito"
    );
    assert!(
        invalid(
            Verifier::builder()
                .keys(keys())
                .audience_or_claim("azp")
                .build()
        ),
        "a client claim without an audience"
    );
    assert!(
        invalid(
            Verifier::builder()
                .keys(keys())
                .cognito(&pool())
                .cognito_clients([CLIENT])
                .audience(CLIENT)
                .audience_or_claim("client_id")
                .build()
        ),
        "the generic client rule would replace Cognito's"
    );
    assert!(
        invalid(
            Verifier::builder()
                .keys(keys())
                .issuer("https://mine.example")
                .cognito(&pool())
                .cognito_clients([CLIENT])
                .build()
        ),
        "another issuer before"
    );
    assert!(
        invalid(
            Verifier::builder()
                .keys(keys())
                .cognito(&pool())
                .cognito_clients([CLIENT])
                .issuer("https://other.example")
                .build()
        ),
        "another issuer after"
    );
    for bad in ["eu-west-1", "eu_west_1_abc", "eu-west-1_a/b", "us-east-1_"] {
        assert!(bad.parse::<UserPool>().is_err(), "{bad}");
    }
}
