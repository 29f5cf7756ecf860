//! Property: no event without a token the verifier accepts is ever allowed, and no event
//! makes the authorizer panic — whatever its shape, types and sizes. Events are generated
//! from the members API Gateway sends, with values of every JSON type, ARNs good and bad,
//! tokens forged with a key nobody trusts, and the authorizer's own event files mutated.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tollgate::{Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::TokenSources;
use tollgate_lambda::{Authorizer, ResponseMode, Routes};

const MEMBERS: &[&str] = &[
    "type",
    "version",
    "methodArn",
    "routeArn",
    "authorizationToken",
    "identitySource",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "requestContext",
    "rawPath",
    "rawQueryString",
    "cookies",
    "path",
    "httpMethod",
    "eventType",
    "http",
    "method",
    "Authorization",
    "access_token",
];

fn forged_token() -> String {
    Signer::builder(SigningKey::generate_ed25519("k1").unwrap())
        .issuer("https://idp.example")
        .build()
        .unwrap()
        .issue(&TokenRequest::new("mallory").roles(["admin"]))
        .unwrap()
        .token
}

fn leaf(forged: String) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::from),
        prop_oneof![
            Just("TOKEN"),
            Just("REQUEST"),
            Just("2.0"),
            Just("1.0"),
            Just("CONNECT"),
            Just("GET"),
            Just("arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/me"),
            Just("arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect"),
            Just("arn:aws:execute-api:us-east-1:1:a/prod/*"),
            Just("Bearer "),
            Just("/me"),
        ]
        .prop_map(Value::from),
        Just(Value::from(format!("Bearer {forged}"))),
        Just(Value::from(forged)),
    ]
}

fn event(forged: String) -> impl Strategy<Value = Value> {
    leaf(forged).prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(MEMBERS), inner), 0..8).prop_map(
                |members| {
                    Value::Object(
                        members
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<Map<String, Value>>(),
                    )
                }
            ),
        ]
    })
}

fn authorizers() -> Vec<Authorizer> {
    let trusted = Signer::builder(SigningKey::generate_ed25519("k1").unwrap())
        .issuer("https://idp.example")
        .build()
        .unwrap();
    let verifier = Verifier::builder()
        .keys(trusted.verification_keys().unwrap())
        .issuer("https://idp.example")
        .build()
        .unwrap();
    let routes: Routes = "GET /admin=role:admin".parse().unwrap();
    vec![
        Authorizer::builder(verifier.clone()).build().unwrap(),
        Authorizer::builder(verifier.clone())
            .routes(routes)
            .response_mode(ResponseMode::Simple)
            .answers_cached_per_route(true)
            .websocket_protocol(true)
            .token_sources(TokenSources::default().query_parameter("access_token"))
            .build()
            .unwrap(),
    ]
}

/// Whether `answer` lets a request through anywhere.
fn allows(answer: &Value) -> bool {
    answer["isAuthorized"] == true
        || answer["policyDocument"]["Statement"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["Effect"] == "Allow"))
}

fn check(
    runtime: &tokio::runtime::Runtime,
    authorizers: &[Authorizer],
    event: &Value,
) -> Result<(), TestCaseError> {
    for authorizer in authorizers {
        let answer = runtime.block_on(authorizer.handle(event.clone()));
        if let Ok(answer) = answer {
            prop_assert!(!allows(&answer), "allowed {event} with {answer}");
        }
    }
    Ok(())
}

fn mutated_files(forged: String) -> impl Strategy<Value = Value> {
    let files: Vec<Value> = [
        "http-api-v2-request.json",
        "http-api-v1-request.json",
        "rest-api-token.json",
        "rest-api-request.json",
        "websocket-connect.json",
    ]
    .iter()
    .map(|name| {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path)
            .unwrap()
            .replace("${TOKEN}", &forged);
        serde_json::from_str(&text).unwrap()
    })
    .collect();
    (
        prop::sample::select(files),
        prop::collection::vec((prop::sample::select(MEMBERS), leaf(forged)), 0..4),
    )
        .prop_map(|(mut event, changes)| {
            for (member, value) in changes {
                event[member] = value;
            }
            event
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_events_are_never_allowed(event in event(forged_token())) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        check(&runtime, &authorizers(), &event)?;
    }

    #[test]
    fn mutated_events_with_forged_tokens_are_never_allowed(event in mutated_files(forged_token())) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        check(&runtime, &authorizers(), &event)?;
    }
}
