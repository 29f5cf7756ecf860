//! The axum integration of `tollgate-axum`, driven through `Router::oneshot`: typed claims,
//! optional authentication, token sources, custom error responses, guards and extractors.

mod common;

use axum::Router;
use axum::body::Body;
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::*;
use http::header::{AUTHORIZATION, COOKIE, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, Request, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tollgate::TokenRequest;
use tollgate_axum::{
    AuthError, AuthErrorKind, Claims, HasScope, RequireRole, RequireScope, ScopeSet,
};
use tower::ServiceExt as _;

/// The application's own claims type.
#[derive(Debug, Clone, Deserialize)]
struct Profile {
    sub: String,
    tenant: String,
    #[serde(default)]
    plan: Option<String>,
}

/// `/profile`: `Claims<Profile>`; `/maybe`: `Option<Claims<Profile>>`.
fn profile_routes(runs: &Runs) -> Router {
    let (typed, optional) = (runs.clone(), runs.clone());
    Router::new()
        .route(
            "/profile",
            get(move |claims: Claims<Profile>| {
                typed.hit();
                let profile = claims.claims();
                let body = format!("{}@{}:{:?}", profile.sub, profile.tenant, profile.plan);
                async move { body }
            }),
        )
        .route(
            "/maybe",
            get(move |claims: Option<Claims<Profile>>| {
                optional.hit();
                let body = match claims {
                    Some(claims) => format!("user {}", claims.claims().sub),
                    None => "anonymous".to_owned(),
                };
                async move { body }
            }),
        )
}

fn tenant_token() -> String {
    issue(TokenRequest::new("alice").claim("tenant", "acme"))
}

#[tokio::test]
async fn valid_token_reaches_handler_with_typed_claims() {
    let app = App::build(|runs| routes(runs).merge(profile_routes(runs)).layer(layer()));
    let token = issue(
        TokenRequest::new("alice")
            .claim("tenant", "acme")
            .claim("plan", "pro"),
    );
    let outcome = app.bearer_at("/profile", &token).await;
    outcome.assert_accepted();
    assert_eq!(outcome.body, r#"alice@acme:Some("pro")"#);

    // The default `Claims` (JSON) sees the registered claims.
    let outcome = app.bearer(&token).await;
    outcome.assert_accepted();
    assert_eq!(outcome.json(), json!({ "sub": "alice" }));
}

#[tokio::test]
async fn claims_type_mismatch_is_401_invalid_token() {
    let app = App::build(|runs| profile_routes(runs).layer(layer()));
    // Valid token, but `tenant` (required by `Profile`) is absent.
    app.bearer_at("/profile", &valid_token())
        .await
        .assert_invalid_token("claims_mismatch", "claims do not match the expected shape");
    // A field of the wrong type.
    let wrong = issue(TokenRequest::new("alice").claim("tenant", 42));
    app.bearer_at("/profile", &wrong)
        .await
        .assert_invalid_token("claims_mismatch", "claims do not match the expected shape");
}

#[tokio::test]
async fn optional_layer_gives_none_some_or_401() {
    let app = App::build(|runs| {
        routes(runs)
            .merge(profile_routes(runs))
            .layer(layer().optional())
    });

    let anonymous = app.get("/maybe", &[]).await;
    anonymous.assert_accepted();
    assert_eq!(anonymous.body, "anonymous");

    let known = app.bearer_at("/maybe", &tenant_token()).await;
    known.assert_accepted();
    assert_eq!(known.body, "user alice");

    // A bad token is never treated as anonymous: by the layer, and by the extractor.
    app.bearer_at("/maybe", "not-a-jwt")
        .await
        .assert_invalid_token("token_malformed", "malformed token");
    let expired = token_with_claims(TestKey::Hs, json!({ "exp": now() - 3600 }));
    app.bearer_at("/maybe", &expired)
        .await
        .assert_invalid_token("token_expired", "token expired");
    app.bearer_at("/maybe", &valid_token())
        .await
        .assert_invalid_token("claims_mismatch", "claims do not match the expected shape");
    let obs_text = format!("Bearer {}\u{e9}", tenant_token()).into_bytes();
    app.get_bytes("/maybe", AUTHORIZATION.as_str(), &obs_text)
        .await
        .assert_invalid_request("malformed bearer token");

    // Routes that need a token still answer 401 without one.
    app.get("/profile", &[]).await.assert_missing_token();
    app.get("/", &[]).await.assert_missing_token();
    app.get("/admin", &[]).await.assert_missing_token();
    app.get("/admin/extractor", &[])
        .await
        .assert_missing_token();
}

#[tokio::test]
async fn claims_without_auth_layer_is_500_naming_the_layer() {
    let app = App::build(routes);
    for path in ["/", "/admin", "/admin/extractor", "/scope/all"] {
        let outcome = app.bearer_at(path, &valid_token()).await;
        assert_eq!(outcome.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(outcome.challenge(), None, "{path}");
        let body = outcome.json();
        assert_eq!(body["code"], "auth_layer_missing", "{path}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("AuthLayer"),
            "{body}"
        );
        assert_eq!(outcome.runs, 0, "{path}");
    }
}

#[tokio::test]
async fn cookie_sources() {
    let token = valid_token();
    let default_cookie = format!("access_token={token}");
    let among_others = format!("theme=dark; access_token={token}; lang=en");
    let session_cookie = format!("session={token}");

    let app = App::default_app();
    app.get("/", &[(COOKIE.as_str(), &default_cookie)])
        .await
        .assert_accepted();
    app.get("/", &[(COOKIE.as_str(), &among_others)])
        .await
        .assert_accepted();
    app.get(
        "/",
        &[
            (COOKIE.as_str(), "theme=dark"),
            (COOKIE.as_str(), &default_cookie),
        ],
    )
    .await
    .assert_accepted();
    app.get("/", &[(COOKIE.as_str(), &session_cookie)])
        .await
        .assert_missing_token();
    // An empty cookie is no token; a bad one is a bad token.
    app.get("/", &[(COOKIE.as_str(), "access_token=")])
        .await
        .assert_missing_token();
    app.get("/", &[(COOKIE.as_str(), "access_token=abc.def.ghi")])
        .await
        .assert_invalid_token("header_malformed", "malformed token header");

    let custom = App::new(layer().cookie("session"));
    custom
        .get("/", &[(COOKIE.as_str(), &session_cookie)])
        .await
        .assert_accepted();
    custom
        .get("/", &[(COOKIE.as_str(), &default_cookie)])
        .await
        .assert_missing_token();

    let no_cookie = App::new(layer().without_cookie());
    no_cookie
        .get("/", &[(COOKIE.as_str(), &default_cookie)])
        .await
        .assert_missing_token();
    no_cookie.bearer(&token).await.assert_accepted();
}

#[tokio::test]
async fn custom_header_source() {
    let app = App::new(layer().header(HeaderName::from_static("x-api-token")));
    let token = valid_token();
    app.get("/", &[("x-api-token", &token)])
        .await
        .assert_accepted();
    app.get("/", &[("x-api-token", "garbage")])
        .await
        .assert_invalid_token("token_malformed", "malformed token");
    app.get("/", &[("x-api-token", "")])
        .await
        .assert_invalid_request("empty token");
    app.get("/", &[("x-api-token", &token), ("x-api-token", &token)])
        .await
        .assert_invalid_request("token header sent more than once");
    let bearer = format!("Bearer {token}");
    app.get(
        "/",
        &[("x-api-token", &token), (AUTHORIZATION.as_str(), &bearer)],
    )
    .await
    .assert_invalid_request("token sent in more than one way");
    // Not configured: the header is not read.
    App::default_app()
        .get("/", &[("x-api-token", &token)])
        .await
        .assert_missing_token();
}

#[tokio::test]
async fn query_source_is_off_by_default() {
    let token = valid_token();
    let path = format!("/?access_token={token}");
    App::default_app()
        .get(&path, &[])
        .await
        .assert_missing_token();

    let app = App::new(layer().query_parameter("access_token"));
    app.get(&path, &[]).await.assert_accepted();
    app.get(&format!("/?other=1&access_token={token}&x=y"), &[])
        .await
        .assert_accepted();
    app.get("/?token=abc", &[]).await.assert_missing_token();
}

fn plain_text_responder(error: &AuthError) -> Response {
    (error.status(), format!("denied: {}", error.code())).into_response()
}

#[tokio::test]
async fn custom_error_responder_keeps_challenge_and_extension() {
    let app = App::new(layer().error_responder(plain_text_responder));

    let missing = app.get("/", &[]).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.body, "denied: token_missing");
    assert_eq!(missing.challenge(), Some(CHALLENGE));
    let error = missing
        .extensions
        .get::<AuthError>()
        .expect("AuthError extension");
    assert_eq!(error.kind(), AuthErrorKind::MissingToken);
    assert_eq!(missing.runs, 0);

    let expired = token_with_claims(TestKey::Hs, json!({ "exp": now() - 3600 }));
    let outcome = app.bearer(&expired).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    assert_eq!(outcome.body, "denied: token_expired");
    assert_eq!(
        outcome.challenge(),
        Some(
            r#"Bearer realm="tollgate", error="invalid_token", error_description="token expired""#
        )
    );
    let error = outcome.extensions.get::<AuthError>().unwrap();
    assert_eq!(
        error.kind(),
        AuthErrorKind::InvalidToken(tollgate::ErrorKind::Expired)
    );

    // The responder of the layer also answers for the guards and extractors behind it.
    let user = issue(TokenRequest::new("alice").roles(["user"]));
    for path in ["/admin", "/admin/extractor"] {
        let outcome = app.bearer_at(path, &user).await;
        assert_eq!(outcome.status, StatusCode::FORBIDDEN);
        assert_eq!(outcome.body, "denied: insufficient_scope");
        assert!(outcome.challenge().unwrap().ends_with(r#"scope="admin""#));
        assert_eq!(
            outcome.extensions.get::<AuthError>().unwrap().required(),
            Some("admin")
        );
        assert_eq!(outcome.runs, 0);
    }
}

#[tokio::test]
async fn auth_error_is_visible_to_outer_middleware() {
    // An outer layer (logging, metrics) reads why the request was refused.
    let app = App::build(|runs| {
        routes(runs)
            .layer(layer().error_responder(plain_text_responder))
            .layer(map_response(|mut response: Response| async move {
                let code = response
                    .extensions()
                    .get::<AuthError>()
                    .map_or("none", AuthError::code);
                response
                    .headers_mut()
                    .insert("x-refusal", HeaderValue::from_static(code));
                response
            }))
    });
    let outcome = app.bearer("garbage").await;
    assert_eq!(outcome.headers["x-refusal"], "token_malformed");
    assert_eq!(outcome.body, "denied: token_malformed");
    assert!(outcome.challenge().is_some());
    let outcome = app.bearer(&valid_token()).await;
    outcome.assert_accepted();
    assert_eq!(outcome.headers["x-refusal"], "none");
}

#[tokio::test]
async fn responder_may_set_its_own_challenge() {
    let app = App::new(layer().error_responder(|error: &AuthError| {
        let mut response = (error.status(), "nope").into_response();
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"custom\""),
        );
        response
    }));
    let outcome = app.get("/", &[]).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    assert_eq!(outcome.challenge(), Some(r#"Bearer realm="custom""#));
    assert_eq!(outcome.body, "nope");
    assert_eq!(outcome.runs, 0);
}

#[tokio::test]
async fn auth_error_extension_when_calling_the_service_directly() {
    let router = routes(&Runs::default()).layer(layer());
    let request = Request::get("/").body(Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let error = response.extensions().get::<AuthError>().unwrap();
    assert_eq!(error.kind(), AuthErrorKind::MissingToken);
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error.realm(), "tollgate");
}

#[tokio::test]
async fn require_scope_all_and_any_with_scope_and_scp() {
    let app = App::default_app();
    let with_scope = |scopes: &[&str]| issue(TokenRequest::new("alice").scopes(scopes.to_vec()));
    let with_scp = |scp: serde_json::Value| issue(TokenRequest::new("alice").claim("scp", scp));

    // `scope`: a space-separated string.
    app.bearer_at("/scope/all", &with_scope(&["read", "write"]))
        .await
        .assert_accepted();
    app.bearer_at("/scope/all", &with_scope(&["write", "admin", "read"]))
        .await
        .assert_accepted();
    app.bearer_at("/scope/all", &with_scope(&["read"]))
        .await
        .assert_insufficient_scope("read write");
    app.bearer_at("/scope/any", &with_scope(&["write"]))
        .await
        .assert_accepted();
    app.bearer_at("/scope/any", &with_scope(&["admin"]))
        .await
        .assert_insufficient_scope("read write");
    app.bearer_at("/scope/any", &valid_token())
        .await
        .assert_insufficient_scope("read write");

    // `scp`: an array (Entra ID) or a space-separated string (Okta).
    app.bearer_at("/scope/all", &with_scp(json!(["read", "write"])))
        .await
        .assert_accepted();
    app.bearer_at("/scope/all", &with_scp(json!("read write")))
        .await
        .assert_accepted();
    app.bearer_at("/scope/all", &with_scp(json!(["read"])))
        .await
        .assert_insufficient_scope("read write");
    app.bearer_at("/scope/any", &with_scp(json!(["read"])))
        .await
        .assert_accepted();
    app.bearer_at("/scope/any", &with_scp(json!("admin")))
        .await
        .assert_insufficient_scope("read write");
    // Scopes match case-sensitively; a single string is not split on commas.
    app.bearer_at("/scope/any", &with_scp(json!(["READ", "Write"])))
        .await
        .assert_insufficient_scope("read write");
    app.bearer_at("/scope/all", &with_scp(json!("read,write")))
        .await
        .assert_insufficient_scope("read write");
}

struct ReadWrite;

impl ScopeSet for ReadWrite {
    const SCOPES: &'static [&'static str] = &["read", "write"];
    const REQUIRE_ALL: bool = true;
}

#[tokio::test]
async fn has_scope_extractor_and_require_role_all() {
    let app = App::build(|runs| {
        let (scoped, both) = (runs.clone(), runs.clone());
        Router::new()
            .route(
                "/extract",
                get(move |token: HasScope<ReadWrite>| {
                    scoped.hit();
                    let sub = token.subject().unwrap_or_default().to_owned();
                    async move { sub }
                }),
            )
            .route(
                "/both",
                get(move || {
                    both.hit();
                    async { "ok" }
                })
                .route_layer(RequireRole::all(["admin", "auditor"])),
            )
            .layer(layer())
    });
    let outcome = app
        .bearer_at(
            "/extract",
            &issue(TokenRequest::new("alice").scopes(["read", "write"])),
        )
        .await;
    outcome.assert_accepted();
    assert_eq!(outcome.body, "alice");
    app.bearer_at(
        "/extract",
        &issue(TokenRequest::new("alice").scopes(["read"])),
    )
    .await
    .assert_insufficient_scope("read write");

    app.bearer_at(
        "/both",
        &issue(TokenRequest::new("alice").roles(["auditor", "admin"])),
    )
    .await
    .assert_accepted();
    app.bearer_at("/both", &issue(TokenRequest::new("alice").roles(["admin"])))
        .await
        .assert_insufficient_scope("admin auditor");
}

#[tokio::test]
async fn guards_behind_a_route_layer_stack() {
    // A role guard and a scope guard on one route: both must pass.
    let app = App::build(|runs| {
        let runs = runs.clone();
        Router::new()
            .route(
                "/",
                get(move || {
                    runs.hit();
                    async { "ok" }
                })
                .route_layer(RequireScope::any(["write"]))
                .route_layer(RequireRole::any(["admin"])),
            )
            .layer(layer())
    });
    let admin_writer = issue(TokenRequest::new("a").roles(["admin"]).scopes(["write"]));
    app.bearer(&admin_writer).await.assert_accepted();
    let admin_reader = issue(TokenRequest::new("a").roles(["admin"]).scopes(["read"]));
    app.bearer(&admin_reader)
        .await
        .assert_insufficient_scope("write");
    let writer = issue(TokenRequest::new("a").scopes(["write"]));
    app.bearer(&writer).await.assert_insufficient_scope("admin");
}

#[tokio::test]
async fn realm_is_sanitized() {
    let app = App::new(layer().realm("x\"y\\z\u{7f}\u{e9}\r\n"));
    let outcome = app.get("/", &[]).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    assert_eq!(outcome.challenge(), Some(r#"Bearer realm="xyz""#));
    assert_eq!(outcome.runs, 0);

    let app = App::new(layer().realm("api.example"));
    let outcome = app.bearer_at("/admin", &valid_token()).await;
    assert_eq!(
        outcome.challenge(),
        Some(
            r#"Bearer realm="api.example", error="insufficient_scope", error_description="the token lacks a required role or scope", scope="admin""#
        )
    );
    assert_eq!(
        outcome.extensions.get::<AuthError>().unwrap().realm(),
        "api.example"
    );
}

#[tokio::test]
async fn every_trusted_algorithm_is_accepted() {
    let app = App::default_app();
    for key in [TestKey::Hs, TestKey::Rs, TestKey::Es, TestKey::Ed] {
        let outcome = app.bearer(&token(key, &claims())).await;
        outcome.assert_accepted();
        assert_eq!(outcome.json(), json!({ "sub": "alice" }), "{key:?}");
    }
    assert_eq!(app.runs(), 4);
}

#[tokio::test]
async fn an_empty_requirement_admits_no_one() {
    let app = App::build(|runs| {
        let runs = runs.clone();
        axum::Router::new()
            .route(
                "/",
                axum::routing::get(move || {
                    runs.hit();
                    async { "ok" }
                })
                .route_layer(tollgate_axum::RequireRole::all(Vec::<String>::new())),
            )
            .layer(layer())
    });
    let token = issue(tollgate::TokenRequest::new("alice").roles(["admin"]));
    app.bearer(&token).await.assert_insufficient_scope("");
}

#[tokio::test]
async fn a_non_ascii_role_name_keeps_the_challenge() {
    let app = App::build(|runs| {
        let runs = runs.clone();
        axum::Router::new()
            .route(
                "/",
                axum::routing::get(move || {
                    runs.hit();
                    async { "ok" }
                })
                .route_layer(tollgate_axum::RequireRole::any(["админ", "admin\"x"])),
            )
            .layer(layer())
    });
    let token = issue(tollgate::TokenRequest::new("alice").roles(["user"]));
    app.bearer(&token)
        .await
        .assert_insufficient_scope(" adminx");
}
