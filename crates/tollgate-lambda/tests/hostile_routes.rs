//! Requests shaped to slip past the rules, the cache or the backend: each test states what
//! the authorizer promises against one of them (found by a security review of the
//! authorizer; each failed before its fix).

use axum::Router;
use axum::routing::get;
use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate::{Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::dangerous::{ApiGatewayTrust, trust_api_gateway_with};
use tollgate_axum::{AuthLayer, Claims, RequireRole, RequireScope, TokenSources};
use tollgate_lambda::policy::{MethodArn, Policy};
use tollgate_lambda::{Authorizer, BuildError, Refusal, Routes};
use tower::ServiceExt;

const ISSUER: &str = "https://idp.example";
const STAGE: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/";
const PRIVATE_PEM: &str = include_str!("../../tollgate/tests/fixtures/ed25519-private.pem");

fn signer() -> Signer {
    Signer::builder(SigningKey::ed25519_pem("k1", PRIVATE_PEM.as_bytes()).unwrap())
        .issuer(ISSUER)
        .build()
        .unwrap()
}

fn verifier(signer: &Signer) -> Verifier {
    Verifier::builder()
        .keys(signer.verification_keys().unwrap())
        .issuer(ISSUER)
        .build()
        .unwrap()
}

fn token(signer: &Signer, request: TokenRequest) -> String {
    signer.issue(&request).unwrap().token
}

fn event(name: &str, token: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(
        &std::fs::read_to_string(path)
            .unwrap()
            .replace("${TOKEN}", token),
    )
    .unwrap()
}

/// IAM's matching, written independently: `*` any run, `?` one character.
fn iam_match(p: &[u8], t: &[u8]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((b'*', rest)) => (0..=t.len()).any(|i| iam_match(rest, &t[i..])),
        Some((&c, rest)) => {
            t.first().is_some_and(|&d| c == b'?' || c == d) && iam_match(rest, &t[1..])
        }
    }
}

/// How API Gateway judges `arn` with the policy of `answer`.
fn gateway_allows(answer: &Value, arn: &str) -> bool {
    if answer["isAuthorized"] == true {
        return true;
    }
    let Some(statements) = answer["policyDocument"]["Statement"].as_array() else {
        return false;
    };
    let matching = |effect: &str| {
        statements.iter().any(|s| {
            s["Effect"] == effect
                && s["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| iam_match(r.as_str().unwrap().as_bytes(), arn.as_bytes()))
        })
    };
    !matching("Deny") && matching("Allow")
}

fn token_event(token: &str, rest: &str) -> Value {
    json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {token}"),
        "methodArn": format!("{STAGE}{rest}"),
    })
}

// --- Empty segments ---------------------------------------------------------------------------

/// A backend may read `//admin` and `/admin//` as `/admin`: a token that fails a rule is
/// refused there, by `Routes` and by the policy (which decides the current request and
/// every cached reuse).
#[tokio::test]
async fn empty_segments_are_denied_as_routes_deny_them() {
    let s = signer();
    let routes: Routes = "GET /admin=role:admin; POST /admin/*=role:admin; GET /=role:admin"
        .parse()
        .unwrap();
    let authorizer = Authorizer::builder(verifier(&s))
        .routes(routes.clone())
        .build()
        .unwrap();
    let user = token(&s, TokenRequest::new("alice").roles(["user"]));
    let verified = verifier(&s).verify(&user).unwrap();
    let mut wrong = Vec::new();
    for (method, path) in [
        ("GET", "//admin"),
        ("GET", "/admin//"),
        ("GET", "///admin"),
        ("POST", "//admin/users"),
        ("POST", "/admin//users"),
        ("GET", "//"),
    ] {
        let routes_verdict = routes.allow(&verified, method, path);
        assert!(!routes_verdict, "Routes refuses {method} {path}");
        let answer = authorizer
            .handle(token_event(&user, &format!("{method}{path}")))
            .await
            .unwrap();
        if gateway_allows(&answer, &format!("{STAGE}{method}{path}")) {
            wrong.push(format!("{method} {path}"));
        }
    }
    assert!(wrong.is_empty(), "allowed though Routes refuses: {wrong:?}");
}

// --- Property: for every ARN, the policy gives Routes' verdict -------------------------------

fn rule_strategy() -> impl Strategy<Value = String> {
    let method = prop::sample::select(vec!["GET", "POST", "HEAD", "ANY"]);
    let segment = prop::sample::select(vec!["a", "b", "{p}"]);
    (method, prop::collection::vec(segment, 0..3), any::<bool>()).prop_map(|(m, segs, rest)| {
        let mut path = String::new();
        for s in &segs {
            path.push('/');
            path.push_str(s);
        }
        if rest {
            path.push_str("/*");
        }
        if path.is_empty() {
            path.push('/');
        }
        format!("{m} {path}=role:admin")
    })
}

fn request_path() -> impl Strategy<Value = String> {
    // Segments of the rules, empty ones, and characters with a meaning in a glob.
    prop::collection::vec(prop::sample::select(vec!["a", "b", "", "c", "a*"]), 0..4)
        .prop_map(|segs| format!("/{}", segs.join("/")))
}

/// Differences, both ways: `wrong_allow` (policy allows, Routes refuses) is the fail-open
/// one; `over_deny` is fail-closed.
fn compare(
    routes: &Routes,
    verified: &tollgate::VerifiedToken,
    method: &str,
    path: &str,
) -> (bool, bool) {
    let arn_text = format!("{STAGE}{method}{path}");
    let arn = MethodArn::parse(&arn_text);
    let Ok(arn) = arn else {
        return (false, false); // refused outright (`*` in the ARN): never an Allow
    };
    let policy = Policy::allow(&arn, routes, verified);
    let policy_verdict = policy.allows(&arn_text);
    let routes_verdict = routes.allow(verified, method, path);
    (
        policy_verdict && !routes_verdict,
        !policy_verdict && routes_verdict,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Fail-open direction only: the policy never allows what `Routes` refuses.
    #[test]
    fn the_policy_never_allows_what_routes_refuses(
        rules in prop::collection::vec(rule_strategy(), 1..3),
        method in prop::sample::select(vec!["GET", "POST", "HEAD", "DELETE"]),
        path in request_path(),
    ) {
        let s = signer();
        let routes: Routes = rules.join(";").parse().unwrap();
        let verified = verifier(&s).verify(&token(&s, TokenRequest::new("u"))).unwrap();
        let (wrong_allow, _) = compare(&routes, &verified, method, &path);
        prop_assert!(!wrong_allow, "{rules:?}: {method} {path} allowed by the policy, refused by Routes");
    }
}

/// The other direction, fail-closed: where the policy denies routes `Routes` allows (the
/// documented broader Denies: `{id}` and `ANY` as `*`, `/x/` for `/x/*`).
#[test]
fn the_policy_denies_more_only_where_documented() {
    let s = signer();
    let verified = verifier(&s)
        .verify(&token(&s, TokenRequest::new("u")))
        .unwrap();
    let cases = [
        ("POST /admin/*=role:admin", "POST", "/admin/"),
        ("GET /u/{id}=role:admin", "GET", "/u/"),
        ("GET /u/{id}=role:admin", "GET", "/u/1/2"),
        ("GET /*=role:admin", "GET", "/"),
        ("ANY /admin=role:admin", "GET", "/x/admin"),
    ];
    let mut over = Vec::new();
    for (rule, method, path) in cases {
        let routes: Routes = rule.parse().unwrap();
        let (wrong_allow, over_deny) = compare(&routes, &verified, method, path);
        assert!(!wrong_allow);
        if over_deny {
            over.push(format!("{rule}: {method} {path}"));
        }
    }
    assert_eq!(over.len(), cases.len(), "{over:?}");
}

// --- HEAD ---------------------------------------------------------------------------------------

/// axum (and most frameworks) serve HEAD with the GET handler; API Gateway forwards HEAD on
/// ANY/proxy routes. A `GET /admin` rule stops `HEAD /admin` too.
#[tokio::test]
async fn a_get_rule_also_covers_head() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s))
        .routes("GET /admin=role:admin".parse().unwrap())
        .build()
        .unwrap();
    let user = token(&s, TokenRequest::new("alice"));
    let answer = authorizer
        .handle(token_event(&user, "HEAD/admin"))
        .await
        .unwrap();
    assert!(
        !gateway_allows(&answer, &format!("{STAGE}HEAD/admin")),
        "HEAD /admin allowed"
    );
}

// --- Non-canonical paths -----------------------------------------------------------------------

/// Whether `/%61dmin` or `/x/../admin` reaches `/admin` depends on who decodes or
/// normalises: to a token that fails a rule, such paths are denied.
#[tokio::test]
async fn non_canonical_paths_are_not_allowed_past_a_rule() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s))
        .routes(
            "GET /admin=role:admin; POST /admin/*=role:admin"
                .parse()
                .unwrap(),
        )
        .build()
        .unwrap();
    let user = token(&s, TokenRequest::new("alice"));
    let mut allowed = Vec::new();
    for rest in [
        "GET/%61dmin",
        "GET/adm%69n",
        "POST/admin%2Fusers",
        "POST/%61dmin/users",
        "GET/x/../admin",
        "GET/./admin",
        "GET/admin;x",
    ] {
        let answer = authorizer.handle(token_event(&user, rest)).await.unwrap();
        if gateway_allows(&answer, &format!("{STAGE}{rest}")) {
            allowed.push(rest);
        }
    }
    assert!(allowed.is_empty(), "allowed: {allowed:?}");
}

// --- The ARN must name the request ---------------------------------------------------------------

/// An HTTP API event whose routeArn carries no METHOD/path (e.g. a `$default` route, if
/// the gateway writes its route key there) cannot be judged by route rules, whose Denies
/// would never match: with rules, it is refused with the error (500), not allowed.
#[tokio::test]
async fn an_arn_without_method_and_path_does_not_skip_the_rules() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s))
        .routes("GET /admin=role:admin".parse().unwrap())
        .build()
        .unwrap();
    let user = token(&s, TokenRequest::new("alice"));
    let mut e = event("http-api-v2-request.json", &user);
    e["routeArn"] = format!("{STAGE}$default").into();
    e["routeKey"] = "$default".into();
    e["rawPath"] = "/admin".into();
    e["requestContext"]["http"]["path"] = "/admin".into();
    assert_eq!(
        authorizer.handle(e.clone()).await,
        Err(Refusal::Unavailable)
    );
    // An ARN naming another path than the event's, too.
    e["routeArn"] = format!("{STAGE}GET/me").into();
    assert_eq!(
        authorizer.handle(e.clone()).await,
        Err(Refusal::Unavailable)
    );
    // The event's path may carry the stage in front.
    e["routeArn"] = format!("{STAGE}GET/admin").into();
    e["rawPath"] = "/prod/admin".into();
    let answer = authorizer.handle(e).await.unwrap();
    assert!(!gateway_allows(&answer, &format!("{STAGE}GET/admin")));
}

// --- The token must be in the identity source -----------------------------------------------------

/// With the identity source `$request.header.Authorization`, a request whose
/// Authorization is not a Bearer (`Basic …`) could get its token from the cookie. API
/// Gateway would cache the Allow under `Basic Zm9v`: any later request carrying that
/// header — with no token at all — would be allowed as alice. The token must be in one of
/// the identity source values.
#[tokio::test]
async fn a_token_outside_the_identity_source_is_refused() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s))
        .token_sources(TokenSources::default())
        .build()
        .unwrap();
    let alice = token(&s, TokenRequest::new("alice").roles(["admin"]));
    let mut e = event("http-api-v2-request.json", "unused");
    e["identitySource"] = json!(["Basic Zm9v"]);
    e["headers"]["authorization"] = "Basic Zm9v".into();
    e["cookies"] = json!([format!("access_token={alice}")]);
    assert_eq!(
        authorizer.handle(e.clone()).await,
        Err(Refusal::Unauthorized)
    );
    // The cookie as the identity source: allowed.
    e["identitySource"] = json!([format!("access_token={alice}")]);
    let answer = authorizer.handle(e).await.unwrap();
    assert!(
        gateway_allows(&answer, &format!("{STAGE}GET/me")),
        "{answer}"
    );
}

// --- Cross-site WebSocket handshakes -----------------------------------------------------------

/// `$connect` is a GET, but what it opens can change state: with the cookie source on, a
/// page of another origin opening `new WebSocket(url, ["x"])` in the victim's browser is
/// refused.
#[tokio::test]
async fn a_cross_site_websocket_connect_with_the_cookie_is_refused() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s))
        .token_sources(TokenSources::default())
        .build()
        .unwrap();
    let victim = token(&s, TokenRequest::new("victim"));
    let mut e = event("websocket-connect.json", "unused");
    for part in ["queryStringParameters", "multiValueQueryStringParameters"] {
        e.as_object_mut().unwrap().remove(part);
    }
    let headers = e["multiValueHeaders"].as_object_mut().unwrap();
    headers.insert("Origin".into(), json!(["https://evil.example"]));
    headers.insert("Sec-Fetch-Site".into(), json!(["cross-site"]));
    headers.insert("Sec-WebSocket-Protocol".into(), json!(["x"]));
    headers.insert("Cookie".into(), json!([format!("access_token={victim}")]));
    assert_eq!(
        authorizer.handle(e.clone()).await,
        Err(Refusal::Unauthorized)
    );
    // From the page's own origin, allowed.
    let headers = e["multiValueHeaders"].as_object_mut().unwrap();
    headers.insert("Sec-Fetch-Site".into(), json!(["same-origin"]));
    headers.remove("Origin");
    let answer = authorizer.handle(e).await.unwrap();
    assert!(
        gateway_allows(&answer, &format!("{STAGE}$connect")),
        "{answer}"
    );
}

// --- A cookie's cross-origin verdict must not be reused on unsafe methods -------------------------

/// A GET with the cookie token is allowed. Cached under the cookie, its answer would be
/// reused for a cross-site POST, which the authorizer never sees: it allows the safe
/// methods only.
#[tokio::test]
async fn a_cookie_allow_does_not_cover_unsafe_methods_from_the_cache() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s))
        .token_sources(TokenSources::default())
        .build()
        .unwrap();
    let alice = token(&s, TokenRequest::new("alice"));
    let mut e = event("rest-api-request.json", "unused");
    let headers = e["multiValueHeaders"].as_object_mut().unwrap();
    headers.remove("Authorization");
    headers.insert("Cookie".into(), json!([format!("access_token={alice}")]));
    headers.insert("Sec-Fetch-Site".into(), json!(["cross-site"]));
    headers.insert("Origin".into(), json!(["https://evil.example"]));
    // A cross-site GET passes (safe method).
    let answer = authorizer.handle(e.clone()).await.unwrap();
    assert!(gateway_allows(&answer, &format!("{STAGE}GET/me")));
    assert!(gateway_allows(&answer, &format!("{STAGE}HEAD/orders")));
    assert!(
        !gateway_allows(&answer, &format!("{STAGE}POST/orders")),
        "the cached answer of a cookie GET allows a POST: {answer}"
    );
    // A same-origin POST is allowed there, and only there.
    e["httpMethod"] = "POST".into();
    e["methodArn"] = format!("{STAGE}POST/orders").into();
    e["path"] = "/orders".into();
    let headers = e["multiValueHeaders"].as_object_mut().unwrap();
    headers.insert("Sec-Fetch-Site".into(), json!(["same-origin"]));
    headers.remove("Origin");
    let answer = authorizer.handle(e).await.unwrap();
    assert!(gateway_allows(&answer, &format!("{STAGE}POST/orders")));
    assert!(!gateway_allows(&answer, &format!("{STAGE}DELETE/orders")));
}

// --- Claims the backend could read differently -----------------------------------------------

fn example_event(name: &str) -> Value {
    let path = format!(
        "{}/../../examples/lambda/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The backend behind the authorizer: `trust_api_gateway`, an admin route, a scope route.
async fn backend_status(context: &Value, principal: &Value, path: &str) -> (u16, String) {
    let s = signer();
    let layer = trust_api_gateway_with(
        AuthLayer::new(verifier(&s)),
        ApiGatewayTrust::new("roles").issuer(ISSUER),
    );
    let mut router = Router::new();
    for prefix in ["", "/prod"] {
        router = router
            .route(
                &format!("{prefix}/admin"),
                get(|| async { "admin" }).route_layer(RequireRole::any(["admin"])),
            )
            .route(
                &format!("{prefix}/write"),
                get(|| async { "write" }).route_layer(RequireScope::any(["orders.write"])),
            )
            .route(
                &format!("{prefix}/me"),
                get(|c: Claims| async move { c.subject().unwrap_or_default().to_owned() }),
            );
    }
    let router = router.layer(layer);
    let mut rest = example_event("rest-api-lambda-authorizer-me.json");
    let mut part = context.as_object().unwrap().clone();
    part.insert("principalId".into(), principal.clone());
    rest["requestContext"]["authorizer"] = Value::Object(part);
    rest["path"] = path.into();
    rest["requestContext"]["path"] = format!("/prod{path}").into();
    let request = lambda_http::request::from_str(&rest.to_string()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A role named `user,admin`, `[admin]` or `["admin"]` is not `admin` to the authorizer,
/// but is (or contains) `admin` once the backend reads the comma-joined context.
#[tokio::test]
async fn a_role_name_cannot_become_another_role_at_the_backend() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s)).build().unwrap();
    let mut escalated = Vec::new();
    for role in ["user,admin", "[admin]", "[\"admin\"]", "[user admin]"] {
        let t = token(&s, TokenRequest::new("mallory").roles([role]));
        assert!(!verifier(&s).verify(&t).unwrap().has_role("admin"));
        let answer = authorizer
            .handle(token_event(&t, "GET/admin"))
            .await
            .unwrap();
        let (status, _) =
            backend_status(&answer["context"], &answer["principalId"], "/admin").await;
        if status == 200 {
            escalated.push(role);
        }
    }
    assert!(
        escalated.is_empty(),
        "roles that became admin at the backend: {escalated:?}"
    );
}

/// A scope with a space in an `scp` array (`["orders.read orders.write"]`) is one scope to
/// the authorizer, two to the backend (the context joins scopes with spaces).
#[tokio::test]
async fn a_scope_cannot_become_two_at_the_backend() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s)).build().unwrap();
    let t = token(
        &s,
        TokenRequest::new("mallory").claim("scp", json!(["orders.read orders.write"])),
    );
    assert!(!verifier(&s).verify(&t).unwrap().has_scope("orders.write"));
    let answer = authorizer
        .handle(token_event(&t, "GET/write"))
        .await
        .unwrap();
    let (status, _) = backend_status(&answer["context"], &answer["principalId"], "/write").await;
    assert_ne!(
        status, 200,
        "orders.write granted at the backend: {}",
        answer["context"]
    );
}

// --- A token without `sub` -------------------------------------------------------------------

/// Its `jti` would become the principal, and the backend's subject: refused.
#[tokio::test]
async fn a_token_without_sub_is_refused() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s)).build().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".into());
    let claims = json!({"iss": ISSUER, "iat": now, "exp": now + 300, "jti": "alice"});
    let t = encode(
        &header,
        &claims,
        &EncodingKey::from_ed_pem(PRIVATE_PEM.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        authorizer.handle(token_event(&t, "GET/me")).await,
        Err(Refusal::Unauthorized)
    );
}

/// The other side: a real admin is admitted by the same backend.
#[tokio::test]
async fn a_real_admin_passes_the_backend() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s)).build().unwrap();
    let t = token(
        &s,
        TokenRequest::new("root")
            .roles(["admin"])
            .scopes(["orders.write"]),
    );
    let answer = authorizer
        .handle(token_event(&t, "GET/admin"))
        .await
        .unwrap();
    for path in ["/admin", "/write", "/me"] {
        let (status, body) = backend_status(&answer["context"], &answer["principalId"], path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

// --- Huge events ------------------------------------------------------------------------------

/// `http::HeaderMap` holds at most 32768 entries and `insert` panics past that. A payload
/// 2.0 event with that many headers (≈ 600 KB, under Lambda's 6 MB) and one cookie.
#[tokio::test]
async fn a_full_header_map_and_a_cookie_do_not_panic() {
    let s = signer();
    let authorizer = Authorizer::builder(verifier(&s)).build().unwrap();
    for n in [32767usize, 32768] {
        let mut e = event("http-api-v2-request.json", "x");
        let headers = e["headers"].as_object_mut().unwrap();
        headers.clear();
        for i in 0..n {
            headers.insert(format!("h{i}"), "v".into());
        }
        e["cookies"] = json!(["a=b"]);
        let result = tokio::spawn({
            let authorizer = authorizer.clone();
            async move { authorizer.handle(e).await }
        })
        .await;
        assert!(result.is_ok(), "{n} headers: the authorizer panicked");
    }
}

/// An extra context claim with the roles claim's name would be copied when the token has
/// no roles *list* — a string `"roles": "admin"` grants no role to the verifier, but the
/// backend splits the context's string into roles. Such names are refused when building.
#[test]
fn a_context_claim_cannot_stand_in_for_the_roles() {
    let s = signer();
    for name in ["roles", "sub", "scope", "scp", "principalId"] {
        assert_eq!(
            Authorizer::builder(verifier(&s))
                .context_claim(name)
                .build()
                .unwrap_err(),
            BuildError::ReservedContextClaim(name.into())
        );
    }
    let groups = Authorizer::builder(verifier(&s))
        .roles_claim("cognito:groups")
        .context_claim("cognito:groups")
        .build();
    assert!(groups.is_err());
}
