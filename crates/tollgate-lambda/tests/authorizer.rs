//! The authorizer, event by event: the event files of `events/` (the shapes AWS documents),
//! with `${TOKEN}` replaced, through `Authorizer::handle`, and every decision of the table
//! on `Authorizer` checked on what API Gateway would receive.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tollgate::revocation::{self, BoxFuture, RevocationStore, Status, StoreError, TokenRef};
use tollgate::{MemoryStore, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::{StoreFailure, TokenSources};
use tollgate_lambda::{Authorizer, AuthorizerBuilder, Refusal, ResponseMode, Routes};

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "orders-api";
const STAGE: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/";
const ROUTES: &str =
    "GET /admin=role:admin; POST /admin/*=role:admin; ANY /orders/*=scope:orders.read";

struct Setup {
    signer: Signer,
    verifier: Verifier,
}

/// The issuer's key (the core crate's test fixture).
const PRIVATE_PEM: &str = include_str!("../../tollgate/tests/fixtures/ed25519-private.pem");

fn setup() -> Setup {
    let signer = Signer::builder(SigningKey::ed25519_pem("k1", PRIVATE_PEM.as_bytes()).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let verifier = Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    Setup { signer, verifier }
}

impl Setup {
    fn token(&self, sub: &str, roles: &[&str], scopes: &[&str]) -> String {
        let mut request = TokenRequest::new(sub).roles(roles.iter().copied());
        if !scopes.is_empty() {
            request = request.scopes(scopes.iter().copied());
        }
        self.signer.issue(&request).unwrap().token
    }

    fn builder(&self) -> AuthorizerBuilder {
        Authorizer::builder(self.verifier.clone()).routes(ROUTES.parse::<Routes>().unwrap())
    }

    fn authorizer(&self) -> Authorizer {
        self.builder().build().unwrap()
    }
}

fn event(name: &str, token: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text.replace("${TOKEN}", token)).unwrap()
}

/// `event` for `method path` (its ARN, and its path and method fields where it has them).
fn on_route(mut event: Value, method: &str, path: &str) -> Value {
    let arn = format!("{STAGE}{method}{path}");
    if event.get("routeArn").is_some() {
        event["routeArn"] = arn.into();
        event["rawPath"] = path.into();
        event["requestContext"]["http"]["method"] = method.into();
        event["requestContext"]["http"]["path"] = path.into();
    } else {
        event["methodArn"] = arn.into();
        if event.get("httpMethod").is_some() {
            event["httpMethod"] = method.into();
            event["path"] = path.into();
        }
    }
    event
}

/// IAM's matching of one resource pattern, written independently of the library's: `*`
/// any run of characters, `?` one.
fn iam_match(pattern: &str, arn: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((&c, rest)) => {
                t.first().is_some_and(|&d| c == b'?' || c == d) && go(rest, &t[1..])
            }
        }
    }
    go(pattern.as_bytes(), arn.as_bytes())
}

/// How API Gateway judges `arn` with the policy of `answer`: an explicit Deny wins, then an
/// Allow; nothing matching denies.
fn policy_allows(answer: &Value, arn: &str) -> bool {
    let statements = answer["policyDocument"]["Statement"].as_array().unwrap();
    let matching = |effect: &str| {
        statements.iter().any(|s| {
            s["Effect"] == effect
                && s["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == "execute-api:Invoke")
                && s["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| iam_match(r.as_str().unwrap(), arn))
        })
    };
    answer["policyDocument"]["Version"] == "2012-10-17" && !matching("Deny") && matching("Allow")
}

fn arn(method: &str, path: &str) -> String {
    format!("{STAGE}{method}{path}")
}

const POLICY_EVENTS: [&str; 4] = [
    "http-api-v2-request.json",
    "http-api-v1-request.json",
    "rest-api-token.json",
    "rest-api-request.json",
];

// --- Valid tokens -------------------------------------------------------------------------

#[tokio::test]
async fn a_valid_token_is_allowed_with_its_claims_in_the_context() {
    let s = setup();
    let authorizer = s.authorizer();
    let token = s.token("alice", &["user", "ops"], &["orders.read"]);
    for name in POLICY_EVENTS {
        let answer = authorizer.handle(event(name, &token)).await.unwrap();
        assert!(
            policy_allows(&answer, &arn("GET", "/me")),
            "{name}: {answer}"
        );
        assert_eq!(answer["principalId"], "alice", "{name}");
        let context = &answer["context"];
        assert_eq!(context["sub"], "alice");
        assert_eq!(context["iss"], ISSUER);
        assert!(context["jti"].is_string());
        assert!(context["exp"].is_u64() && context["iat"].is_u64());
        // The roles as a JSON array's text: a role name may hold a comma.
        assert_eq!(context["roles"], r#"["user","ops"]"#);
        assert_eq!(context["scope"], "orders.read");
        // API Gateway takes strings, numbers and booleans only.
        for (member, value) in context.as_object().unwrap() {
            assert!(
                value.is_string() || value.is_number() || value.is_boolean(),
                "{name}: {member} = {value}"
            );
        }
    }
}

#[tokio::test]
async fn simple_responses_for_http_api_v2() {
    let s = setup();
    let authorizer = s
        .builder()
        .response_mode(ResponseMode::Simple)
        .answers_cached_per_route(true)
        .build()
        .unwrap();
    let token = s.token("alice", &["user"], &[]);
    let answer = authorizer
        .handle(event("http-api-v2-request.json", &token))
        .await
        .unwrap();
    assert_eq!(answer["isAuthorized"], true, "{answer}");
    assert_eq!(answer["context"]["sub"], "alice");
    assert!(answer.get("policyDocument").is_none());

    // A role the route needs is missing: not authorized.
    let admin_route = on_route(event("http-api-v2-request.json", &token), "GET", "/admin");
    let answer = authorizer.handle(admin_route).await.unwrap();
    assert_eq!(answer["isAuthorized"], false, "{answer}");

    // A bad token: `isAuthorized: false` (403), or the Unauthorized error (401) if asked.
    let bad = event("http-api-v2-request.json", "not-a-token");
    let answer = authorizer.handle(bad.clone()).await.unwrap();
    assert_eq!(answer["isAuthorized"], false, "{answer}");
    let strict = s
        .builder()
        .response_mode(ResponseMode::Simple)
        .answers_cached_per_route(true)
        .simple_refusal_as_error(true)
        .build()
        .unwrap();
    assert_eq!(strict.handle(bad).await.unwrap_err(), Refusal::Unauthorized);
}

#[tokio::test]
async fn websocket_connect_takes_the_token_from_the_query_or_the_protocol_header() {
    let s = setup();
    let token = s.token("alice", &[], &[]);
    let connect = arn("$connect", "");
    let connect = connect.trim_end_matches('/');

    // Browsers cannot set Authorization on a WebSocket: the query parameter, opt-in.
    let by_query = s
        .builder()
        .token_sources(TokenSources::default().query_parameter("access_token"))
        .build()
        .unwrap();
    let answer = by_query
        .handle(event("websocket-connect.json", &token))
        .await
        .unwrap();
    assert!(policy_allows(&answer, connect), "{answer}");
    // Without the opt-in the query is not read.
    assert_eq!(
        s.authorizer()
            .handle(event("websocket-connect.json", &token))
            .await
            .unwrap_err(),
        Refusal::Unauthorized
    );

    // Or `Sec-WebSocket-Protocol: tollgate, bearer.<token>`.
    let by_protocol = s.builder().websocket_protocol(true).build().unwrap();
    let mut with_protocol = event("websocket-connect.json", "");
    with_protocol["multiValueQueryStringParameters"] = json!({});
    with_protocol["multiValueHeaders"]["Sec-WebSocket-Protocol"] =
        json!([format!("tollgate, bearer.{token}")]);
    let answer = by_protocol.handle(with_protocol.clone()).await.unwrap();
    assert!(policy_allows(&answer, connect), "{answer}");
    // Both ways at once is ambiguous.
    let both = by_query_and_protocol(&s);
    let mut twice = with_protocol;
    twice["multiValueQueryStringParameters"] = json!({ "access_token": [token] });
    assert_eq!(both.handle(twice).await.unwrap_err(), Refusal::Unauthorized);
}

fn by_query_and_protocol(s: &Setup) -> Authorizer {
    s.builder()
        .token_sources(TokenSources::default().query_parameter("access_token"))
        .websocket_protocol(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn usage_identifier_key_from_a_claim() {
    let s = setup();
    let authorizer = s.builder().usage_identifier_claim("sub").build().unwrap();
    let token = s.token("tenant-7", &[], &[]);
    for name in ["rest-api-token.json", "rest-api-request.json"] {
        let answer = authorizer.handle(event(name, &token)).await.unwrap();
        assert_eq!(answer["usageIdentifierKey"], "tenant-7", "{name}");
    }
}

#[tokio::test]
async fn configured_claims_are_copied_into_the_context() {
    let s = setup();
    let authorizer = s
        .builder()
        .context_claim("tenant")
        .context_claim("flags")
        .build()
        .unwrap();
    let token = s
        .signer
        .issue(
            &TokenRequest::new("alice")
                .claim("tenant", "acme")
                .claim("flags", json!({"beta": true})),
        )
        .unwrap()
        .token;
    let answer = authorizer
        .handle(event("rest-api-token.json", &token))
        .await
        .unwrap();
    assert_eq!(answer["context"]["tenant"], "acme");
    assert_eq!(answer["context"]["flags"], r#"{"beta":true}"#);
}

// --- Refusals -----------------------------------------------------------------------------

#[tokio::test]
async fn bad_tokens_are_unauthorized() {
    let s = setup();
    let authorizer = s.authorizer();
    let good = s.token("alice", &[], &[]);
    let other_issuer = Signer::builder(s.signer.key().clone())
        .issuer("https://other.example")
        .audience(AUDIENCE)
        .build()
        .unwrap()
        .issue(&TokenRequest::new("alice"))
        .unwrap()
        .token;
    let other_audience = Signer::builder(s.signer.key().clone())
        .issuer(ISSUER)
        .audience("billing")
        .build()
        .unwrap()
        .issue(&TokenRequest::new("alice"))
        .unwrap()
        .token;
    let forged = Signer::builder(SigningKey::generate_ed25519("k1").unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
        .issue(&TokenRequest::new("alice"))
        .unwrap()
        .token;
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    for (what, token) in [
        ("malformed", "not.a.token".to_owned()),
        ("forged", forged),
        ("tampered", tampered),
        ("another issuer", other_issuer),
        ("another audience", other_audience),
        ("split", format!("{good} x")),
    ] {
        for name in POLICY_EVENTS {
            let refused = authorizer.handle(event(name, &token)).await;
            assert_eq!(
                refused.unwrap_err(),
                Refusal::Unauthorized,
                "{what}: {name}"
            );
        }
    }
}

#[tokio::test]
async fn an_expired_token_is_unauthorized() {
    let s = setup();
    // Signed by hand with an `exp` an hour ago: the Signer only mints live tokens.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("k1".into());
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now - 3600});
    let key = jsonwebtoken::EncodingKey::from_ed_pem(PRIVATE_PEM.as_bytes()).unwrap();
    let expired = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let refused = s
        .authorizer()
        .handle(event("rest-api-token.json", &expired))
        .await;
    assert_eq!(refused.unwrap_err(), Refusal::Unauthorized);
}

#[tokio::test]
async fn no_token_is_unauthorized() {
    let s = setup();
    let authorizer = s.authorizer();
    for name in POLICY_EVENTS {
        let mut event = event(name, "");
        for headers in ["headers", "multiValueHeaders"] {
            if let Some(map) = event[headers].as_object_mut() {
                map.retain(|k, _| !k.eq_ignore_ascii_case("authorization"));
            }
        }
        event["authorizationToken"] = Value::Null;
        assert_eq!(
            authorizer.handle(event).await.unwrap_err(),
            Refusal::Unauthorized,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_missing_role_or_scope_is_denied_on_that_route_only() {
    let s = setup();
    let authorizer = s.authorizer();
    let user = s.token("alice", &["user"], &[]);
    for name in POLICY_EVENTS {
        let admin = on_route(event(name, &user), "GET", "/admin");
        let answer = authorizer.handle(admin).await.unwrap();
        assert!(
            !policy_allows(&answer, &arn("GET", "/admin")),
            "{name}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_cached_answer_reused_on_another_route_gives_that_routes_verdict() {
    // API Gateway caches the answer per token and reuses it for every route the token
    // calls next: the policy must be right for all of them.
    let s = setup();
    let authorizer = s.authorizer();
    let user = s.token("alice", &["user"], &["orders.read"]);
    let admin = s.token("root", &["admin"], &[]);
    let routes = [
        ("GET", "/me", true, true),
        ("GET", "/admin", false, true),
        ("GET", "/admin/", false, true),
        ("POST", "/admin/users", false, true),
        ("POST", "/admin", true, true),
        ("DELETE", "/orders/7", true, false),
        ("GET", "/orders/7/lines", true, false),
        ("GET", "/", true, true),
    ];
    for name in POLICY_EVENTS {
        let user_answer = authorizer.handle(event(name, &user)).await.unwrap();
        let admin_answer = authorizer.handle(event(name, &admin)).await.unwrap();
        for (method, path, user_ok, admin_ok) in routes {
            let arn = arn(method, path);
            assert_eq!(
                policy_allows(&user_answer, &arn),
                user_ok,
                "{name}: alice on {method} {path}"
            );
            assert_eq!(
                policy_allows(&admin_answer, &arn),
                admin_ok,
                "{name}: root on {method} {path}"
            );
        }
        // Each route decided first-hand gives the same verdict as the cached answer.
        for (method, path, user_ok, _) in routes {
            let first_hand = authorizer
                .handle(on_route(event(name, &user), method, path))
                .await
                .unwrap();
            assert_eq!(
                policy_allows(&first_hand, &arn(method, path)),
                user_ok,
                "{name}: {method} {path}"
            );
        }
    }
    // Without route rules the answer covers the whole stage.
    let open = Authorizer::builder(s.verifier.clone()).build().unwrap();
    let answer = open
        .handle(event("rest-api-token.json", &user))
        .await
        .unwrap();
    assert_eq!(
        answer["policyDocument"]["Statement"],
        json!([{"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [format!("{STAGE}*")]}])
    );
}

// --- Revocation -----------------------------------------------------------------------------

#[tokio::test]
async fn a_revoked_token_or_subject_is_unauthorized() {
    let s = setup();
    let store = MemoryStore::new();
    let authorizer = s.builder().revocation(store.clone()).build().unwrap();
    let token = s.token("alice", &[], &[]);
    let other = s.token("alice", &[], &[]);
    for name in POLICY_EVENTS {
        authorizer.handle(event(name, &token)).await.unwrap();
    }
    revocation::revoke(&store, &s.verifier.verify(&token).unwrap())
        .await
        .unwrap();
    for name in POLICY_EVENTS {
        assert_eq!(
            authorizer.handle(event(name, &token)).await.unwrap_err(),
            Refusal::Unauthorized,
            "{name}"
        );
        authorizer.handle(event(name, &other)).await.unwrap();
    }
    // "Log out everywhere": every token of alice issued up to now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    store
        .revoke_subject(ISSUER, "alice", now + 1, now + 7200)
        .await
        .unwrap();
    assert_eq!(
        authorizer
            .handle(event("rest-api-token.json", &other))
            .await
            .unwrap_err(),
        Refusal::Unauthorized
    );
}

/// A store that cannot be reached while `down` is set.
#[derive(Debug, Default, Clone)]
struct Flaky {
    store: MemoryStore,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn failing<T: Send + 'static>(&self, ok: T) -> BoxFuture<'static, Result<T, StoreError>> {
        let down = self.down.load(Ordering::SeqCst);
        Box::pin(async move {
            if down {
                Err(StoreError::msg("connection refused"))
            } else {
                Ok(ok)
            }
        })
    }
}

impl RevocationStore for Flaky {
    fn revoke_token<'a>(
        &'a self,
        i: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
        u: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.revoke_token(i, subject, id, u)
    }
    fn revoke_subject<'a>(
        &'a self,
        i: &'a str,
        s: &'a str,
        b: u64,
        u: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.revoke_subject(i, s, b, u)
    }
    fn remove_token<'a>(
        &'a self,
        i: &'a str,
        subject: Option<&'a str>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.remove_token(i, subject, id)
    }
    fn remove_subject<'a>(
        &'a self,
        i: &'a str,
        s: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.remove_subject(i, s)
    }
    fn check<'a>(&'a self, token: &'a TokenRef) -> BoxFuture<'a, Result<Status, StoreError>> {
        let status = self.store.check_now(token).unwrap_or(Status::Active);
        self.failing(status)
    }
}

#[tokio::test]
async fn an_unreachable_store_fails_closed_unless_told_to_fail_open() {
    let s = setup();
    let store = Flaky::default();
    let closed = s.builder().revocation(store.clone()).build().unwrap();
    let open = s
        .builder()
        .revocation(store.clone())
        .on_store_error(StoreFailure::FailOpen)
        .build()
        .unwrap();
    let token = s.token("alice", &[], &[]);
    closed
        .handle(event("rest-api-token.json", &token))
        .await
        .unwrap();
    store.down.store(true, Ordering::SeqCst);
    for name in POLICY_EVENTS {
        assert_eq!(
            closed.handle(event(name, &token)).await.unwrap_err(),
            Refusal::Unavailable,
            "{name}"
        );
        let answer = open.handle(event(name, &token)).await.unwrap();
        assert!(policy_allows(&answer, &arn("GET", "/me")), "{name}");
    }
    // The simple mode does not turn an outage into a cached "not authorized".
    let simple = s
        .builder()
        .revocation(store.clone())
        .response_mode(ResponseMode::Simple)
        .answers_cached_per_route(true)
        .build()
        .unwrap();
    assert_eq!(
        simple
            .handle(event("http-api-v2-request.json", &token))
            .await
            .unwrap_err(),
        Refusal::Unavailable
    );
}

// --- Hostile events ---------------------------------------------------------------------------

#[tokio::test]
async fn malformed_events_are_refused_never_allowed() {
    let s = setup();
    let authorizer = s.authorizer();
    let token = s.token("alice", &["admin"], &[]);
    let valid = event("rest-api-request.json", &token);
    let mut cases: Vec<(&str, Value)> = vec![
        ("null", Value::Null),
        ("a string", json!("TOKEN")),
        ("an array", json!([valid.clone()])),
        (
            "no type",
            json!({"methodArn": arn("GET", "/me"), "authorizationToken": format!("Bearer {token}")}),
        ),
        (
            "unknown type",
            json!({"type": "JWT", "methodArn": arn("GET", "/me"), "authorizationToken": format!("Bearer {token}")}),
        ),
        ("unknown version", {
            let mut e = event("http-api-v2-request.json", &token);
            e["version"] = "3.0".into();
            e
        }),
        (
            "no ARN",
            json!({"type": "TOKEN", "authorizationToken": format!("Bearer {token}")}),
        ),
        (
            "a wildcard ARN",
            json!({"type": "TOKEN", "methodArn": format!("{STAGE}*"), "authorizationToken": format!("Bearer {token}")}),
        ),
        (
            "a Lambda ARN",
            json!({"type": "TOKEN", "methodArn": "arn:aws:lambda:us-east-1:1:function:f", "authorizationToken": format!("Bearer {token}")}),
        ),
        ("headers of the wrong type", {
            let mut e = valid.clone();
            e["multiValueHeaders"] = json!("Authorization: Bearer x");
            e
        }),
        (
            "a token of the wrong type",
            json!({"type": "TOKEN", "methodArn": arn("GET", "/me"), "authorizationToken": 42}),
        ),
        ("v2 without requestContext", {
            let mut e = event("http-api-v2-request.json", &token);
            e.as_object_mut().unwrap().remove("requestContext");
            e
        }),
        ("a 1 MB header", {
            let mut e = valid.clone();
            e["multiValueHeaders"]["Authorization"] =
                json!([format!("Bearer {}", "a".repeat(1 << 20))]);
            e
        }),
        ("the token twice", {
            let mut e = valid.clone();
            e["multiValueHeaders"]["Authorization"] =
                json!([format!("Bearer {token}"), format!("Bearer {token}")]);
            e
        }),
        (
            "a control character in the token",
            json!({"type": "TOKEN", "methodArn": arn("GET", "/me"), "authorizationToken": format!("Bearer {token}\n")}),
        ),
    ];
    cases.push(("another scheme", json!({"type": "TOKEN", "methodArn": arn("GET", "/me"), "authorizationToken": format!("Basic {token}")})));
    for (what, event) in cases {
        let answer = authorizer.handle(event).await;
        assert_eq!(answer.unwrap_err(), Refusal::Unauthorized, "{what}");
    }
}

#[tokio::test]
async fn a_cross_site_cookie_request_is_refused() {
    let s = setup();
    let authorizer = s
        .builder()
        .token_sources(TokenSources::default())
        .build()
        .unwrap();
    let token = s.token("alice", &[], &[]);
    let mut post = on_route(event("rest-api-request.json", ""), "POST", "/orders");
    let headers = post["multiValueHeaders"].as_object_mut().unwrap();
    headers.remove("Authorization");
    headers.insert("Cookie".into(), json!([format!("access_token={token}")]));
    headers.insert("Origin".into(), json!(["https://evil.example"]));
    headers.insert("Sec-Fetch-Site".into(), json!(["cross-site"]));
    assert_eq!(
        authorizer.handle(post.clone()).await.unwrap_err(),
        Refusal::Unauthorized
    );
    // The same request from the API's own origin is fine.
    let headers = post["multiValueHeaders"].as_object_mut().unwrap();
    headers.insert("Sec-Fetch-Site".into(), json!(["same-origin"]));
    let answer = authorizer.handle(post).await.unwrap();
    assert!(policy_allows(&answer, &arn("POST", "/orders")));
}
