//! API Gateway events, in the shapes AWS documents for HTTP APIs (payload 2.0) and REST
//! APIs (payload 1.0), fed through `lambda_http`'s own conversion into the function's
//! router — the path a real invocation takes.
//!
//! The events are the files in `examples/lambda/events/`, which `scripts/lambda-local.sh`
//! also sends to the function under cargo-lambda; `${TOKEN}` is replaced by a token.

use axum::body::Body;
use http::{Request, StatusCode};
use lambda_http::{Adapter, Context, LambdaEvent, Service as _};
use serde_json::Value;
use std::sync::Arc;
use tollgate::revocation::RevocationStore;
use tollgate::{MemoryStore, Signer, SigningKey, TokenRequest};
use tollgate_lambda_router::{LambdaConfig, app, lambda_service};
use tower::ServiceExt;

const ISSUER: &str = "https://cognito-idp.us-east-2.amazonaws.com/us-east-2_EXAMPLE";
const AUDIENCE: &str = "tollgate-lambda-tests";
const ROLES: &str = "cognito:groups";
/// `jti` and `sub` of the admin in `http-api-jwt-authorizer-admin.json`.
const GATEWAY_ADMIN_JTI: &str = "7f0d3c1e-5b7a-4f2e-9c41-2d7b9e8a6c10";
const GATEWAY_ADMIN_SUB: &str = "9a7b6c5d-1111-2222-3333-444455556666";

struct Function {
    signer: Signer,
    store: Arc<MemoryStore>,
    router: axum::Router,
}

fn function(trust_api_gateway: bool) -> Function {
    let signer = Signer::builder(SigningKey::generate_ed25519("demo-1").unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .roles_claim(ROLES)
        .build()
        .unwrap();
    let config = LambdaConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        roles_claim: ROLES.into(),
        keys: signer.verification_keys().unwrap(),
        trust_api_gateway,
        ..LambdaConfig::default()
    };
    let store = Arc::new(MemoryStore::new());
    let router = app(&config, store.clone()).unwrap();
    Function {
        signer,
        store,
        router,
    }
}

impl Function {
    fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.signer
            .issue(&TokenRequest::new(sub).roles(roles.iter().copied()))
            .unwrap()
            .token
    }

    /// Sends the event file `name` (with `${TOKEN}` replaced) through `lambda_http`'s
    /// request conversion and the function's service.
    async fn invoke(&self, name: &str, token: &str) -> Answer {
        self.invoke_json(&event_text(name, token)).await
    }

    async fn invoke_json(&self, event: &str) -> Answer {
        let request = lambda_http::request::from_str(event)
            .unwrap_or_else(|e| panic!("not an event lambda_http reads: {e}"));
        let response = lambda_service(self.router.clone())
            .oneshot(request)
            .await
            .unwrap();
        Answer::read(response).await
    }
}

/// The event without its `Authorization` header.
fn without_authorization(event: &str) -> String {
    let mut event: Value = serde_json::from_str(event).unwrap();
    for headers in ["headers", "multiValueHeaders"] {
        if let Some(headers) = event[headers].as_object_mut() {
            headers.retain(|name, _| !name.eq_ignore_ascii_case("authorization"));
        }
    }
    event.to_string()
}

fn event_text(name: &str, token: &str) -> String {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .replace("${TOKEN}", token)
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

impl Answer {
    async fn read(response: axum::response::Response) -> Self {
        let status = response.status();
        let challenge = response
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self {
            status,
            challenge,
            body,
        }
    }

    fn challenge(&self) -> &str {
        self.challenge.as_deref().unwrap_or_default()
    }
}

// --- Verifying in the function (the default) ---------------------------------------------

#[tokio::test]
async fn http_api_valid_bearer_token_gets_200() {
    let f = function(false);
    let answer = f
        .invoke("http-api-bearer-me.json", &f.token("alice", &["user"]))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["sub"], "alice");
}

#[tokio::test]
async fn http_api_bad_token_gets_401_with_challenge() {
    let f = function(false);
    // Another signature character, in the middle of the signature.
    let token = f.token("alice", &["user"]);
    let at = token.rfind('.').unwrap() + 10;
    let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
    for bad in [
        "not-a-jwt".to_owned(),
        tampered,
        f.token("alice", &["user"]).replacen('.', ".e30", 1),
    ] {
        let answer = f.invoke("http-api-bearer-me.json", &bad).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
        assert!(
            answer
                .challenge()
                .starts_with(r#"Bearer realm="tollgate-lambda", error="invalid_token""#),
            "{answer:?}"
        );
    }
}

#[tokio::test]
async fn rest_api_bearer_token_with_stage_prefix() {
    // lambda_http turns the REST API event's path into `/prod/admin`; the function routes
    // it as `/admin`.
    let f = function(false);
    let admin = f
        .invoke(
            "rest-api-bearer-admin.json",
            &f.token("admin", &["user", "admin"]),
        )
        .await;
    assert_eq!(admin.status, StatusCode::OK, "{admin:?}");
    assert_eq!(admin.body["message"], "welcome, admin");

    let user = f
        .invoke("rest-api-bearer-admin.json", &f.token("alice", &["user"]))
        .await;
    assert_eq!(user.status, StatusCode::FORBIDDEN, "{user:?}");
    assert!(user.challenge().contains(r#"error="insufficient_scope""#));

    let bad = f.invoke("rest-api-bearer-admin.json", "e30.e30.e30").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED, "{bad:?}");
    assert!(bad.challenge().contains(r#"error="invalid_token""#));
}

#[tokio::test]
async fn gateway_claims_are_ignored_unless_trusted() {
    // Without trust, the forwarded claims count for nothing: the function verifies the
    // Authorization header itself, and the one in the event is not a token it can verify.
    let f = function(false);
    for event in [
        "http-api-jwt-authorizer-admin.json",
        "rest-api-cognito-authorizer-admin.json",
    ] {
        let answer = f.invoke(event, "").await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{event}: {answer:?}"
        );
    }
    let answer = f.invoke("rest-api-lambda-authorizer-me.json", "").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
}

#[tokio::test]
async fn http_api_named_stage_is_stripped() {
    // With a stage other than `$default`, an HTTP API's rawPath starts with the stage.
    let f = function(false);
    let mut event: Value = serde_json::from_str(&event_text(
        "http-api-bearer-me.json",
        &f.token("alice", &["user"]),
    ))
    .unwrap();
    event["rawPath"] = "/prod/me".into();
    event["rawQueryString"] = "verbose=1".into();
    event["requestContext"]["stage"] = "prod".into();
    let answer = f.invoke_json(&event.to_string()).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["sub"], "alice");
}

// --- Trusting API Gateway's verdict ---------------------------------------------------------

#[tokio::test]
async fn http_api_jwt_authorizer_roles_are_honoured() {
    let f = function(true);
    let admin = f.invoke("http-api-jwt-authorizer-admin.json", "").await;
    assert_eq!(admin.status, StatusCode::OK, "{admin:?}");
    assert_eq!(
        admin.body["message"],
        format!("welcome, {GATEWAY_ADMIN_SUB}")
    );

    let user = f.invoke("http-api-jwt-authorizer-user.json", "").await;
    assert_eq!(user.status, StatusCode::FORBIDDEN, "{user:?}");
    assert!(user.challenge().contains(r#"error="insufficient_scope""#));
}

#[tokio::test]
async fn rest_api_cognito_authorizer_roles_are_honoured() {
    let f = function(true);
    let admin = f.invoke("rest-api-cognito-authorizer-admin.json", "").await;
    assert_eq!(admin.status, StatusCode::OK, "{admin:?}");
    assert_eq!(
        admin.body["message"],
        format!("welcome, {GATEWAY_ADMIN_SUB}")
    );
}

#[tokio::test]
async fn rest_api_jwt_authorizer_typed_claims_are_read_as_they_are() {
    // The REST API JWT authorizer forwards the claims as JSON values, unlike the Cognito
    // authorizer (every value a string): an array is the roles, a string is one value.
    let f = function(true);
    let admin = f.invoke("rest-api-jwt-authorizer-admin.json", "").await;
    assert_eq!(admin.status, StatusCode::OK, "{admin:?}");
    assert_eq!(
        admin.body["message"],
        format!("welcome, {GATEWAY_ADMIN_SUB}")
    );

    let mut event: Value =
        serde_json::from_str(&event_text("rest-api-jwt-authorizer-admin.json", "")).unwrap();
    event["path"] = "/me".into();
    event["requestContext"]["path"] = "/prod/me".into();
    event["resource"] = "/me".into();
    let me = f.invoke_json(&event.to_string()).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(
        me.body["cognito:groups"],
        serde_json::json!(["admin", "user"])
    );
    assert_eq!(
        me.body["department"], "sales,emea",
        "a string stays one string"
    );
    assert_eq!(me.body["exp"], 4102444800u64, "a number stays a number");
    assert_eq!(me.body["auth_time"], 1767225600u64);

    // A roles claim that arrived as the string "user,admin" is one role, not admin.
    let claims = &mut event["requestContext"]["authorizer"]["claims"];
    claims["cognito:groups"] = "user,admin".into();
    event["path"] = "/admin".into();
    event["requestContext"]["path"] = "/prod/admin".into();
    event["resource"] = "/admin".into();
    let joined = f.invoke_json(&event.to_string()).await;
    assert_eq!(joined.status, StatusCode::FORBIDDEN, "{joined:?}");
    // The same string from the Cognito authorizer (all strings) is still two roles.
    let cognito = f.invoke("rest-api-cognito-authorizer-admin.json", "").await;
    assert_eq!(cognito.status, StatusCode::OK, "{cognito:?}");
}

#[tokio::test]
async fn rest_api_lambda_authorizer_context_becomes_the_claims() {
    let f = function(true);
    let me = f.invoke("rest-api-lambda-authorizer-me.json", "").await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.body["sub"], "alice", "principalId becomes sub");
    assert_eq!(me.body["cognito:groups"], serde_json::json!(["user"]));
    assert!(me.body.get("integrationLatency").is_none());
}

#[tokio::test]
async fn flattened_claims_are_read_back() {
    // What the handler's `Claims` sees: API Gateway's strings are numbers and lists again.
    let f = function(true);
    let mut event: Value =
        serde_json::from_str(&event_text("http-api-jwt-authorizer-admin.json", "")).unwrap();
    event["rawPath"] = "/me".into();
    event["requestContext"]["http"]["path"] = "/me".into();
    let answer = f.invoke_json(&event.to_string()).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["exp"], 4_102_444_800u64);
    assert_eq!(answer.body["iat"], 1_767_225_600u64);
    assert_eq!(
        answer.body["cognito:groups"],
        serde_json::json!(["admin", "user"])
    );
    assert_eq!(answer.body["username"], "admin");
}

#[tokio::test]
async fn http_api_lambda_authorizer_context_is_honoured() {
    // An HTTP API Lambda authorizer's context arrives under `authorizer.lambda`, as JSON.
    let f = function(true);
    let mut event: Value =
        serde_json::from_str(&event_text("http-api-jwt-authorizer-admin.json", "")).unwrap();
    event["requestContext"]["authorizer"] = serde_json::json!({"lambda": {
        "sub": "bob", "cognito:groups": ["admin"], "exp": 4_102_444_800u64, "jti": "l-1"
    }});
    let admin = f.invoke_json(&event.to_string()).await;
    assert_eq!(admin.status, StatusCode::OK, "{admin:?}");
    assert_eq!(admin.body["message"], "welcome, bob");

    event["requestContext"]["authorizer"]["lambda"]["cognito:groups"] = "user".into();
    let user = f.invoke_json(&event.to_string()).await;
    assert_eq!(user.status, StatusCode::FORBIDDEN, "{user:?}");
}

#[tokio::test]
async fn expired_gateway_claims_get_401() {
    // A Lambda authorizer's cached answer can outlive the token: `exp` is still checked.
    let f = function(true);
    let mut event: Value =
        serde_json::from_str(&event_text("http-api-jwt-authorizer-admin.json", "")).unwrap();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["exp"] = "1767225600".into();
    let answer = f.invoke_json(&event.to_string()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.body["code"], "token_expired", "{answer:?}");
}

#[tokio::test]
async fn rest_api_without_authorizer_is_no_verdict() {
    // AWS's own REST API sample carries `"authorizer": {"claims": null, "scopes": null}`
    // when no authorizer ran: that is not a verdict, so a token is still required.
    let f = function(true);
    let none = f
        .invoke_json(&without_authorization(&event_text(
            "rest-api-bearer-admin.json",
            "",
        )))
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{none:?}");
    let admin = f
        .invoke("rest-api-bearer-admin.json", &f.token("admin", &["admin"]))
        .await;
    assert_eq!(
        admin.status,
        StatusCode::OK,
        "verified in the function: {admin:?}"
    );
}

#[tokio::test]
async fn revoked_jti_in_trust_mode_gets_401() {
    let f = function(true);
    f.store
        .revoke_token(
            ISSUER,
            Some(GATEWAY_ADMIN_SUB),
            GATEWAY_ADMIN_JTI,
            4_102_444_800 + 60,
        )
        .await
        .unwrap();
    let answer = f.invoke("http-api-jwt-authorizer-admin.json", "").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert!(
        answer
            .challenge()
            .contains(r#"error="invalid_token", error_description="token revoked""#),
        "{answer:?}"
    );
    // The other user's token is not affected.
    let user = f.invoke("http-api-jwt-authorizer-user.json", "").await;
    assert_eq!(user.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logout_through_the_gateway_revokes_the_gateway_token() {
    let f = function(true);
    let logout = f.invoke("http-api-jwt-authorizer-logout.json", "").await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT, "{logout:?}");
    let again = f.invoke("http-api-jwt-authorizer-admin.json", "").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{again:?}");
}

#[tokio::test]
async fn revoking_the_subject_applies_to_gateway_claims() {
    let f = function(true);
    // The claims say iat = 2026-01-01; a cut-off after it revokes them.
    f.store
        .revoke_subject(ISSUER, GATEWAY_ADMIN_SUB, 1_767_225_601, 4_102_444_900)
        .await
        .unwrap();
    let answer = f.invoke("rest-api-cognito-authorizer-admin.json", "").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
}

// --- Spoofing ---------------------------------------------------------------------------------

/// A forged request context, in the headers where some adapters carry the real one.
const FORGED: &str = r#"{"authorizer":{"jwt":{"claims":{"sub":"attacker","cognito:groups":"[admin]","exp":"4102444800"}}}}"#;

#[tokio::test]
async fn spoofed_context_header_on_a_plain_request_is_refused() {
    for trust in [true, false] {
        let f = function(trust);
        for path in ["/me", "/admin"] {
            let request = Request::builder()
                .uri(path)
                .header("x-amzn-request-context", FORGED)
                .header("x-apigateway-context", FORGED)
                .header("x-apigateway-event", FORGED)
                .header("requestContext", FORGED)
                .body(Body::empty())
                .unwrap();
            let answer = Answer::read(f.router.clone().oneshot(request).await.unwrap()).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{path}: {answer:?}"
            );
            assert_eq!(answer.challenge(), r#"Bearer realm="tollgate-lambda""#);
            assert_eq!(answer.body["code"], "token_missing", "{answer:?}");
        }
    }
}

#[tokio::test]
async fn spoofed_context_header_inside_an_event_is_refused() {
    let f = function(true);
    let answer = f.invoke("http-api-spoofed-context-header.json", "").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.body["code"], "token_missing", "{answer:?}");
}

// --- What API Gateway receives back ---------------------------------------------------------

#[tokio::test]
async fn the_gateway_response_carries_status_and_challenge() {
    // Through lambda_http's whole adapter, as `lambda_http::run` drives it: event JSON in,
    // API Gateway response JSON out.
    let f = function(false);
    for (event, status) in [
        ("http-api-bearer-me.json", 401),
        ("rest-api-bearer-admin.json", 401),
    ] {
        let payload = serde_json::from_str(&event_text(event, "bad")).unwrap();
        let mut adapter = Adapter::from(lambda_service(f.router.clone()));
        let response = adapter
            .call(LambdaEvent::new(payload, Context::default()))
            .await
            .unwrap();
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["statusCode"], status, "{event}: {json}");
        // Payload 2.0 answers with `headers`, payload 1.0 with `multiValueHeaders`.
        let challenge = json["headers"]["www-authenticate"]
            .as_str()
            .or(json["multiValueHeaders"]["www-authenticate"][0].as_str());
        assert!(
            challenge.is_some_and(|c| c.contains(r#"error="invalid_token""#)),
            "{event}: {json}"
        );
    }
}

// --- Revoking a user, in every mode ------------------------------------------------------------

/// `sub` of the user in `http-api-jwt-authorizer-user.json`.
const GATEWAY_USER_SUB: &str = "3c2b1a09-aaaa-bbbb-cccc-ddddeeeeffff";

/// The provider's signer, for the tokens the function verifies itself.
fn gateway_signer() -> Signer {
    Signer::builder(SigningKey::generate_ed25519("demo-1").unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// The function as the README's deploy line configures it: only the provider's issuer
/// (`TOLLGATE_OIDC_ISSUER`, no `TOLLGATE_ISSUER`), trusting API Gateway.
fn deployed(signer: &Signer) -> Function {
    let jwks = signer.jwks().to_string();
    let env = [
        ("TOLLGATE_OIDC_ISSUER", ISSUER),
        ("TOLLGATE_AUDIENCE", AUDIENCE),
        ("TOLLGATE_ROLES_CLAIM", ROLES),
        ("TOLLGATE_TRUST_API_GATEWAY", "1"),
        ("TOLLGATE_JWKS", jwks.as_str()),
    ];
    let config = LambdaConfig::from_env(|name| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    assert_eq!(
        config.issuer, ISSUER,
        "the issuer defaults to the provider's"
    );
    let store = Arc::new(MemoryStore::new());
    let router = app(&config, store.clone()).unwrap();
    Function {
        signer: signer.clone(),
        store,
        router,
    }
}

#[tokio::test]
async fn cognito_settings_check_token_use_and_the_app_client() {
    let pool = "eu-west-1_AbCdEf123";
    let issuer = format!("https://cognito-idp.eu-west-1.amazonaws.com/{pool}");
    let signer = Signer::builder(SigningKey::generate_ed25519("cognito-1").unwrap())
        .issuer(issuer.clone())
        .build()
        .unwrap();
    let id_signer = Signer::builder(signer.key().clone())
        .issuer(issuer.clone())
        .audience("client-1")
        .build()
        .unwrap();
    let jwks = signer.jwks().to_string();
    let env = [
        ("TOLLGATE_COGNITO_USER_POOL", pool),
        ("TOLLGATE_COGNITO_CLIENT_IDS", "client-1"),
        ("TOLLGATE_JWKS", jwks.as_str()),
    ];
    let config = LambdaConfig::from_env(|name| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    assert_eq!(config.issuer, issuer, "the pool's issuer");
    assert_eq!(config.roles_claim, "cognito:groups");
    assert!(
        config.remote_keys_from_env(|_| None).is_some(),
        "the pool's keys by discovery"
    );
    let f = Function {
        signer: signer.clone(),
        store: Arc::new(MemoryStore::new()),
        router: app(&config, Arc::new(MemoryStore::new())).unwrap(),
    };
    let access = |client: &str| {
        TokenRequest::new("alice")
            .claim("token_use", "access")
            .claim("client_id", client)
            .claim("cognito:groups", serde_json::json!(["user"]))
    };
    let allowed = signer.issue(&access("client-1")).unwrap().token;
    let answer = f.invoke("http-api-bearer-me.json", &allowed).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["cognito:groups"], serde_json::json!(["user"]));
    let other = signer.issue(&access("client-2")).unwrap().token;
    let answer = f.invoke("http-api-bearer-me.json", &other).await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "another app client"
    );
    let id = id_signer
        .issue(&TokenRequest::new("alice").claim("token_use", "id"))
        .unwrap()
        .token;
    let answer = f.invoke("http-api-bearer-me.json", &id).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "an ID token");
}

/// Trusting API Gateway with a Cognito pool configured: the gateway's Cognito authorizer
/// takes any app client's ID tokens and its JWT authorizer does not check `token_use`, so
/// the pool's rules are applied to what it forwards.
#[tokio::test]
async fn in_trust_mode_the_cognito_rules_apply_to_the_gateways_claims() {
    let trusting = |clients: &str, uses: &str| {
        let env = [
            ("TOLLGATE_COGNITO_USER_POOL", "us-east-2_EXAMPLE"),
            ("TOLLGATE_COGNITO_CLIENT_IDS", clients),
            ("TOLLGATE_COGNITO_TOKEN_USE", uses),
            ("TOLLGATE_TRUST_API_GATEWAY", "1"),
        ];
        let config = LambdaConfig::from_env(|name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        assert_eq!(config.issuer, ISSUER);
        let router = app(&config, Arc::new(MemoryStore::new())).unwrap();
        Function {
            signer: gateway_signer(),
            store: Arc::new(MemoryStore::new()),
            router,
        }
    };
    // The events' tokens are for the app client 6ar1…: another client is configured.
    let other = trusting("only-this-client", "access,id");
    for event in [
        "rest-api-cognito-authorizer-admin.json",
        "http-api-jwt-authorizer-admin.json",
        "rest-api-jwt-authorizer-admin.json",
    ] {
        let answer = other.invoke(event, "").await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{event}: {answer:?}"
        );
    }
    // The right client, access tokens only: the REST Cognito authorizer's ID token is not.
    let access = trusting("6ar1jbbtmplxn4tmf0c6k1b1ok", "access");
    let answer = access
        .invoke("http-api-jwt-authorizer-admin.json", "")
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let answer = access
        .invoke("rest-api-cognito-authorizer-admin.json", "")
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "an ID token: {answer:?}"
    );
    assert!(answer.challenge().contains("token use"), "{answer:?}");
    // ID tokens accepted too: it passes.
    let both = trusting("6ar1jbbtmplxn4tmf0c6k1b1ok", "access,id");
    let answer = both
        .invoke("rest-api-cognito-authorizer-admin.json", "")
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

/// `event` (a JSON text) as a request for `method path`.
fn routed(event: &str, method: &str, path: &str) -> String {
    let mut event: Value = serde_json::from_str(event).unwrap();
    if event["version"] == "2.0" {
        event["rawPath"] = path.into();
        event["routeKey"] = format!("{method} {path}").into();
        event["requestContext"]["http"]["method"] = method.into();
        event["requestContext"]["http"]["path"] = path.into();
    } else {
        event["path"] = path.into();
        event["httpMethod"] = method.into();
        event["requestContext"]["httpMethod"] = method.into();
        event["requestContext"]["path"] = format!("/prod{path}").into();
    }
    event.to_string()
}

#[tokio::test]
async fn revoke_user_through_the_gateway_revokes_the_users_gateway_tokens() {
    let signer = gateway_signer();
    let f = deployed(&signer);
    let user_me = routed(
        &event_text("http-api-jwt-authorizer-user.json", ""),
        "GET",
        "/me",
    );
    let answer = f.invoke_json(&user_me).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");

    let revoke = routed(
        &event_text("http-api-jwt-authorizer-admin.json", ""),
        "POST",
        &format!("/admin/revoke-user/{GATEWAY_USER_SUB}"),
    );
    let answer = f.invoke_json(&revoke).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    let answer = f.invoke_json(&user_me).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.body["code"], "token_revoked", "{answer:?}");
    // A token the function verifies itself, of the same user and issuer, is revoked too.
    let bearer = f.token(GATEWAY_USER_SUB, &["user"]);
    let answer = f.invoke("http-api-bearer-me.json", &bearer).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
}

#[tokio::test]
async fn revoke_user_applies_to_lambda_authorizer_contexts_without_iss() {
    let signer = gateway_signer();
    let f = deployed(&signer);
    // A Lambda authorizer's context often names no issuer.
    let mut me: Value =
        serde_json::from_str(&event_text("rest-api-lambda-authorizer-me.json", "")).unwrap();
    me["requestContext"]["authorizer"]
        .as_object_mut()
        .unwrap()
        .remove("iss");
    let me = me.to_string();
    let answer = f.invoke_json(&me).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.body["iss"], ISSUER,
        "taken as the configured issuer's"
    );

    let revoke = routed(
        &event_text("http-api-jwt-authorizer-admin.json", ""),
        "POST",
        "/admin/revoke-user/alice",
    );
    let answer = f.invoke_json(&revoke).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    let answer = f.invoke_json(&me).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.body["code"], "token_revoked", "{answer:?}");
}

#[tokio::test]
async fn gateway_claims_of_another_issuer_are_refused() {
    let signer = gateway_signer();
    let f = deployed(&signer);
    let mut event: Value =
        serde_json::from_str(&event_text("http-api-jwt-authorizer-user.json", "")).unwrap();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["iss"] =
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OTHER".into();
    let answer = f
        .invoke_json(&routed(&event.to_string(), "GET", "/me"))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.body["code"], "issuer_mismatch", "{answer:?}");
}

#[tokio::test]
async fn require_typ_refuses_id_tokens() {
    let signer = gateway_signer();
    let id_signer = Signer::builder(signer.key().clone())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .token_type("JWT")
        .build()
        .unwrap();
    let jwks = signer.jwks().to_string();
    let env = [
        ("TOLLGATE_ISSUER", ISSUER),
        ("TOLLGATE_AUDIENCE", AUDIENCE),
        ("TOLLGATE_REQUIRE_TYP", "at+jwt"),
        ("TOLLGATE_JWKS", jwks.as_str()),
    ];
    let config = LambdaConfig::from_env(|name| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    let f = Function {
        signer: signer.clone(),
        store: Arc::new(MemoryStore::new()),
        router: app(&config, Arc::new(MemoryStore::new())).unwrap(),
    };
    let access = f.token("alice", &["user"]);
    let answer = f.invoke("http-api-bearer-me.json", &access).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let id_token = id_signer.issue(&TokenRequest::new("alice")).unwrap().token;
    let answer = f.invoke("http-api-bearer-me.json", &id_token).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.body["code"], "type_mismatch", "{answer:?}");
}
