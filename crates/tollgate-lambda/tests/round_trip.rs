//! From the authorizer to the backend: the `context` of an Allow, placed into the backend's
//! invocation event as API Gateway places it, is read by
//! `tollgate_axum::dangerous::trust_api_gateway` into the same claims, roles and scopes —
//! and revocation still applies in the backend.
//!
//! The backend events are the Lambda example's API Gateway events (REST API payload 1.0,
//! HTTP API payload 2.0), with the authorizer part replaced by the authorizer's answer, and
//! go through `lambda_http`'s own conversion.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tollgate::{MemoryStore, Signer, SigningKey, TokenRequest, Verifier, revocation};
use tollgate_axum::dangerous::{ApiGatewayTrust, trust_api_gateway_with};
use tollgate_axum::{AuthLayer, Claims};
use tollgate_lambda::{Authorizer, Routes};
use tower::ServiceExt;

const ISSUER: &str = "https://idp.example";
const ROLES: &str = "cognito:groups";

fn example_event(name: &str) -> Value {
    let path = format!(
        "{}/../../examples/lambda/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

async fn me(claims: Claims) -> Json<Value> {
    Json(json!({
        "sub": claims.subject(),
        "iss": claims.issuer(),
        "jti": claims.token_id(),
        "exp": claims.expires_at(),
        "iat": claims.issued_at(),
        "roles": claims.roles(),
        "scopes": claims.scopes(),
    }))
}

/// What the handler sees for the backend `event`: status and body.
async fn backend(router: &Router, event: &Value) -> (u16, Value) {
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_context_of_an_allow_is_the_backends_claims() {
    let signer = Signer::builder(SigningKey::generate_ed25519("k1").unwrap())
        .issuer(ISSUER)
        .roles_claim(ROLES)
        .build()
        .unwrap();
    let verifier = Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .issuer(ISSUER)
        .roles_claim(ROLES)
        .build()
        .unwrap();
    let authorizer = Authorizer::builder(verifier.clone())
        .roles_claim(ROLES)
        .routes("GET /admin=role:admin".parse::<Routes>().unwrap())
        .build()
        .unwrap();
    let issued = signer
        .issue(
            &TokenRequest::new("alice")
                .roles(["admin", "user"])
                .scopes(["orders.read", "orders.write"]),
        )
        .unwrap();
    let verified = verifier.verify(&issued.token).unwrap();
    let answer = authorizer
        .handle(json!({
            "type": "TOKEN",
            "authorizationToken": format!("Bearer {}", issued.token),
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/me",
        }))
        .await
        .unwrap();
    let context = answer["context"].as_object().unwrap().clone();

    // The backend: trusts the gateway's verdict, and has the shared revocation store.
    let store = MemoryStore::new();
    let layer = trust_api_gateway_with(
        AuthLayer::new(verifier.clone()).revocation(store.clone()),
        ApiGatewayTrust::new(ROLES).issuer(ISSUER),
    );
    // lambda_http puts a REST API's stage in front of the path.
    let router = Router::new()
        .route("/me", get(me))
        .route("/prod/me", get(me))
        .layer(layer);

    // REST API: the context's members and `principalId` under `requestContext.authorizer`.
    let mut rest = example_event("rest-api-lambda-authorizer-me.json");
    let mut authorizer_part = context.clone();
    authorizer_part.insert("principalId".into(), answer["principalId"].clone());
    authorizer_part.insert("integrationLatency".into(), json!(12));
    rest["requestContext"]["authorizer"] = Value::Object(authorizer_part);
    // HTTP API: the context under `requestContext.authorizer.lambda`.
    let mut http = example_event("http-api-jwt-authorizer-admin.json");
    http["rawPath"] = "/me".into();
    http["routeKey"] = "GET /me".into();
    http["requestContext"]["http"]["path"] = "/me".into();
    http["requestContext"]["authorizer"] = json!({ "lambda": context });

    let expected = json!({
        "sub": "alice",
        "iss": ISSUER,
        "jti": issued.jti,
        "exp": issued.expires_at,
        "iat": issued.issued_at,
        "roles": ["admin", "user"],
        "scopes": ["orders.read", "orders.write"],
    });
    for (what, event) in [("REST", &rest), ("HTTP API", &http)] {
        let (status, body) = backend(&router, event).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(body, expected, "{what}");
        // The same as the verifier's own reading of the token.
        assert_eq!(body["roles"], json!(verified.roles()), "{what}");
        assert_eq!(body["scopes"], json!(verified.scopes()), "{what}");
    }

    // A logout seen by the backend's store is honoured for the gateway's verdict too.
    revocation::revoke(&store, &verified).await.unwrap();
    for (what, event) in [("REST", &rest), ("HTTP API", &http)] {
        let (status, body) = backend(&router, event).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["code"], "token_revoked", "{what}");
    }
}

/// With Amazon Cognito's rules on the backend (`ApiGatewayTrust::cognito`), the context
/// carries what they check: `token_use` and `client_id`.
#[tokio::test]
async fn the_context_carries_what_the_cognito_rules_check() {
    use tollgate::cognito::{CognitoSettings, TokenUse, UserPool};
    let pool: UserPool = "eu-west-1_AbC".parse().unwrap();
    let signer = Signer::builder(SigningKey::generate_ed25519("k1").unwrap())
        .issuer(pool.issuer())
        .build()
        .unwrap();
    let verifier = Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .cognito(&pool)
        .cognito_clients(["client-1"])
        .build()
        .unwrap();
    let authorizer = Authorizer::builder(verifier.clone())
        .roles_claim(ROLES)
        .build()
        .unwrap();
    let token = signer
        .issue(
            &TokenRequest::new("alice")
                .claim("token_use", "access")
                .claim("client_id", "client-1"),
        )
        .unwrap()
        .token;
    let answer = authorizer
        .handle(json!({
            "type": "TOKEN",
            "authorizationToken": format!("Bearer {token}"),
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/me",
        }))
        .await
        .unwrap();
    let context = answer["context"].clone();
    assert_eq!(context["token_use"], "access");
    assert_eq!(context["client_id"], "client-1");

    let settings = |client: &str| CognitoSettings {
        pool: pool.clone(),
        clients: vec![client.into()],
        uses: vec![TokenUse::Access],
    };
    for (client, expected) in [("client-1", 200), ("client-2", 401)] {
        let layer = trust_api_gateway_with(
            AuthLayer::new(verifier.clone()),
            ApiGatewayTrust::new(ROLES)
                .issuer(pool.issuer())
                .cognito(settings(client)),
        );
        let router = Router::new().route("/me", get(me)).layer(layer);
        let mut http = example_event("http-api-jwt-authorizer-admin.json");
        http["rawPath"] = "/me".into();
        http["routeKey"] = "GET /me".into();
        http["requestContext"]["http"]["path"] = "/me".into();
        http["requestContext"]["authorizer"] = json!({ "lambda": context });
        let (status, body) = backend(&router, &http).await;
        assert_eq!(status, expected, "backend accepting {client}: {body}");
    }
}
