//! Cross-origin protection for cookie tokens: a request whose token came from the cookie,
//! with a method that can change state, is refused with 403 `cross_origin_request` when it
//! came from another origin. Same-origin requests, safe methods, tokens from a header and
//! trusted origins pass; so does everything once the check is turned off.
//!
//! The handler answers with the token's subject, so a 200 whose body is `alice` is proof
//! that the request was authenticated, and a JSON refusal that no handler ran.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tollgate::{Algorithm, Key, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::{AuthError, AuthErrorKind, AuthLayer, Claims, HOST_COOKIE};
use tower::ServiceExt as _;
use tower_http::csrf::{CsrfLayer, ProtectionError};

const SECRET: &[u8; 32] = b"cross-origin-tests-hs256-secret!";
const ISSUER: &str = "https://issuer.example";
/// The `Host` of every request: the application's own origin is `https://app.example`.
const HOST: &str = "app.example";
const OWN_ORIGIN: &str = "https://app.example";
const OTHER_ORIGIN: &str = "https://evil.example";
/// A sibling subdomain: the same site (`SameSite` cookies are sent), another origin.
const SIBLING_ORIGIN: &str = "https://blog.app.example";

fn token() -> String {
    let key = SigningKey::hmac("k1", SECRET, Algorithm::HS256).unwrap();
    let signer = Signer::builder(key).issuer(ISSUER).build().unwrap();
    signer.issue(&TokenRequest::new("alice")).unwrap().token
}

fn layer() -> AuthLayer {
    let key = Key::hmac(SECRET, Algorithm::HS256).unwrap().with_kid("k1");
    let verifier = Verifier::builder().key(key).issuer(ISSUER).build();
    AuthLayer::new(verifier.unwrap())
}

/// `/transfer` for every method, answering with the subject; behind `layer`.
fn app(layer: AuthLayer) -> Router {
    async fn subject(claims: Claims) -> String {
        claims.subject().unwrap_or_default().to_owned()
    }
    Router::new()
        .route(
            "/transfer",
            get(subject)
                .post(subject)
                .put(subject)
                .patch(subject)
                .delete(subject),
        )
        .layer(layer)
}

/// What the client observed.
#[derive(Debug)]
struct Outcome {
    status: StatusCode,
    headers: HeaderMap,
    refusal: Option<AuthError>,
    body: String,
}

impl Outcome {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// 403 `cross_origin_request` from the default responder, with no challenge.
    #[track_caller]
    fn assert_cross_origin(&self) {
        assert_eq!(self.status, StatusCode::FORBIDDEN, "body: {}", self.body);
        let body = self.json();
        assert_eq!(body["error"], "access_denied", "{body}");
        assert_eq!(body["code"], "cross_origin_request", "{body}");
        assert_eq!(
            body["error_description"],
            "cross-origin request with a cookie token"
        );
        assert!(
            !self.headers.contains_key(header::WWW_AUTHENTICATE),
            "a challenge: {:?}",
            self.headers
        );
        let refusal = self.refusal.as_ref().expect("AuthError extension");
        assert_eq!(refusal.kind(), AuthErrorKind::CrossOriginRequest);
    }

    /// 200 from the handler, as alice.
    #[track_caller]
    fn assert_alice(&self) {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        assert_eq!(self.body, "alice");
    }
}

/// `method /transfer` with `Host: app.example` and `headers`, through `app`.
async fn send(app: &Router, method: Method, headers: &[(&str, &str)]) -> Outcome {
    let mut request = Request::builder()
        .method(method)
        .uri("/transfer")
        .header(header::HOST, HOST);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from("amount=100")).unwrap())
        .await
        .unwrap();
    read(response).await
}

async fn read(response: Response) -> Outcome {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 1 << 16).await.unwrap();
    Outcome {
        status: parts.status,
        headers: parts.headers,
        refusal: parts.extensions.get::<AuthError>().cloned(),
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// What a browser sends with a form on `origin` that posts to the application.
fn form_from<'a>(cookie: &'a str, origin: &'a str, site: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("cookie", cookie),
        ("origin", origin),
        ("sec-fetch-site", site),
        ("content-type", "application/x-www-form-urlencoded"),
    ]
}

#[tokio::test]
async fn a_cross_site_form_post_with_the_cookie_is_403() {
    let app = app(layer());
    let cookie = format!("access_token={}", token());
    send(
        &app,
        Method::POST,
        &form_from(&cookie, OTHER_ORIGIN, "cross-site"),
    )
    .await
    .assert_cross_origin();
    // From a sibling subdomain: `SameSite` lets the cookie through, the check does not.
    send(
        &app,
        Method::POST,
        &form_from(&cookie, SIBLING_ORIGIN, "same-site"),
    )
    .await
    .assert_cross_origin();
    // A browser that sends no `Sec-Fetch-Site`: its `Origin` is not the request's own.
    let old_browser = [("cookie", cookie.as_str()), ("origin", OTHER_ORIGIN)];
    send(&app, Method::POST, &old_browser)
        .await
        .assert_cross_origin();
    // Every method that can change state.
    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        send(
            &app,
            method,
            &form_from(&cookie, OTHER_ORIGIN, "cross-site"),
        )
        .await
        .assert_cross_origin();
    }
    // Before verification: a bad cookie token from another site is refused the same way.
    let garbage = "access_token=garbage";
    send(
        &app,
        Method::POST,
        &form_from(garbage, OTHER_ORIGIN, "cross-site"),
    )
    .await
    .assert_cross_origin();
}

#[tokio::test]
async fn every_cookie_source_is_protected() {
    let token = token();
    // An optional layer: a cookie token is still a token.
    let optional = app(layer().optional());
    let cookie = format!("access_token={token}");
    send(
        &optional,
        Method::POST,
        &form_from(&cookie, OTHER_ORIGIN, "cross-site"),
    )
    .await
    .assert_cross_origin();
    // Another cookie name.
    let host_cookie = app(layer().cookie(HOST_COOKIE));
    let cookie = format!("{HOST_COOKIE}={token}");
    send(
        &host_cookie,
        Method::POST,
        &form_from(&cookie, OTHER_ORIGIN, "cross-site"),
    )
    .await
    .assert_cross_origin();
}

#[tokio::test]
async fn the_cookie_passes_from_the_requests_own_origin() {
    let app = app(layer());
    let cookie = format!("access_token={}", token());
    // `Origin` is the request's own (`Host`), with or without `Sec-Fetch-Site`.
    send(
        &app,
        Method::POST,
        &form_from(&cookie, OWN_ORIGIN, "same-origin"),
    )
    .await
    .assert_alice();
    let old_browser = [("cookie", cookie.as_str()), ("origin", OWN_ORIGIN)];
    send(&app, Method::POST, &old_browser).await.assert_alice();
    // The own origin in the URI's authority (as HTTP/2 sends it), with no `Host` header.
    let request = Request::post("https://app.example/transfer")
        .header("cookie", &cookie)
        .header("origin", OWN_ORIGIN)
        .body(Body::empty())
        .unwrap();
    read(app.clone().oneshot(request).await.unwrap())
        .await
        .assert_alice();
}

#[tokio::test]
async fn sec_fetch_site_same_origin_or_none_passes() {
    let app = app(layer());
    let cookie = format!("access_token={}", token());
    for site in ["same-origin", "none"] {
        let request = [("cookie", cookie.as_str()), ("sec-fetch-site", site)];
        send(&app, Method::POST, &request).await.assert_alice();
    }
    // Neither `Sec-Fetch-Site` nor `Origin`: not from a browser (curl, a server).
    send(&app, Method::POST, &[("cookie", &cookie)])
        .await
        .assert_alice();
}

#[tokio::test]
async fn a_trusted_origin_passes() {
    const FRONT_END: &str = "https://front.example";
    // Its rejection response is not what answers: the layer's responder is.
    let csrf = CsrfLayer::new()
        .add_trusted_origin(FRONT_END)
        .unwrap()
        .with_rejection_response(|_: ProtectionError| {
            let mut response = http::Response::new(Body::from("tower-http's own"));
            *response.status_mut() = StatusCode::IM_A_TEAPOT;
            response
        });
    let app = app(layer().cross_origin_protection(csrf));
    let cookie = format!("access_token={}", token());
    send(
        &app,
        Method::POST,
        &form_from(&cookie, FRONT_END, "cross-site"),
    )
    .await
    .assert_alice();
    send(
        &app,
        Method::POST,
        &form_from(&cookie, OTHER_ORIGIN, "cross-site"),
    )
    .await
    .assert_cross_origin();
    // The request's own origin still passes.
    send(
        &app,
        Method::POST,
        &form_from(&cookie, OWN_ORIGIN, "same-origin"),
    )
    .await
    .assert_alice();
}

#[tokio::test]
async fn a_cross_site_get_with_the_cookie_passes() {
    let app = app(layer());
    let cookie = format!("access_token={}", token());
    send(
        &app,
        Method::GET,
        &form_from(&cookie, OTHER_ORIGIN, "cross-site"),
    )
    .await
    .assert_alice();
    let head = send(
        &app,
        Method::HEAD,
        &form_from(&cookie, OTHER_ORIGIN, "cross-site"),
    )
    .await;
    assert_eq!(head.status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_from_a_header_passes_from_another_site() {
    let token = token();
    let bearer = format!("Bearer {token}");
    let from_evil = [("origin", OTHER_ORIGIN), ("sec-fetch-site", "cross-site")];
    let default = app(layer());
    let request = [&from_evil[..], &[("authorization", bearer.as_str())]].concat();
    send(&default, Method::POST, &request).await.assert_alice();
    // The header wins over the cookie, so the cookie's rule does not apply.
    let cookie = format!("access_token={token}");
    let both = [
        &from_evil[..],
        &[("authorization", &bearer), ("cookie", &cookie)],
    ]
    .concat();
    send(&default, Method::POST, &both).await.assert_alice();
    // A custom header.
    let custom = app(layer().header(HeaderName::from_static("x-api-token")));
    let request = [&from_evil[..], &[("x-api-token", token.as_str())]].concat();
    send(&custom, Method::POST, &request).await.assert_alice();
}

#[tokio::test]
async fn the_check_can_be_turned_off() {
    let app = app(layer().without_cross_origin_protection());
    let cookie = format!("access_token={}", token());
    send(
        &app,
        Method::POST,
        &form_from(&cookie, OTHER_ORIGIN, "cross-site"),
    )
    .await
    .assert_alice();
}

#[tokio::test]
async fn the_layers_responder_answers_the_refusal() {
    let app = app(layer().error_responder(|error: &AuthError| {
        (error.status(), format!("denied: {}", error.code())).into_response()
    }));
    let cookie = format!("access_token={}", token());
    let outcome = send(
        &app,
        Method::POST,
        &form_from(&cookie, OTHER_ORIGIN, "cross-site"),
    )
    .await;
    assert_eq!(outcome.status, StatusCode::FORBIDDEN);
    assert_eq!(outcome.body, "denied: cross_origin_request");
    assert!(!outcome.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(
        outcome.refusal.map(|e| e.kind()),
        Some(AuthErrorKind::CrossOriginRequest)
    );
}
