//! The tollgate demo's protected routes as an AWS Lambda function behind API Gateway.
//!
//! The same router runs as a Lambda function (when `AWS_LAMBDA_RUNTIME_API` is set, as it
//! is inside Lambda and under `cargo lambda watch`) and as a plain HTTP server otherwise,
//! so it can be developed with `cargo run -p tollgate-lambda` and `curl`. See `main.rs` for
//! the environment variables and the README section "Deploying on AWS Lambda".
//!
//! | route | auth | answer |
//! |---|---|---|
//! | `GET /health` | none | `200 ok` |
//! | `GET /me` | token | the caller's claims as JSON |
//! | `GET /admin` | token with role `admin` | `{"message": …}`; 403 `insufficient_scope` otherwise |
//! | `POST /logout` | token | revokes the presented token; 204 |
//! | `POST /admin/revoke-user/{sub}` | token with role `admin` | revokes every token of `sub` issued up to now; 204 |
//!
//! Everything expensive — keys, [`Verifier`], [`AuthLayer`], [`Router`] — is built once per
//! cold start by [`app`], outside the per-request handler. With
//! [`LambdaConfig::trust_api_gateway`], a request that API Gateway's authorizer already
//! verified is not verified again ([`tollgate_axum::dangerous::trust_api_gateway`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lambda_http::request::RequestContext;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tollgate::remote::RemoteKeys;
use tollgate::revocation::{self, RevocationStore};
use tollgate::{ConfigError, KeySet, Verifier};
use tollgate_axum::{AuthLayer, Claims, RequireRole, dangerous};

/// Settings of the function, read from the environment by `main`.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// `iss` of the tokens (`TOLLGATE_ISSUER`, default `tollgate-demo`, as the demo).
    pub issuer: String,
    /// `aud` of the tokens (`TOLLGATE_AUDIENCE`, default `tollgate-demo-api`).
    pub audience: String,
    /// The top-level claim roles are read from (`TOLLGATE_ROLES_CLAIM`, default `roles`;
    /// `cognito:groups` for Amazon Cognito).
    pub roles_claim: String,
    /// Keys loaded without the network (`TOLLGATE_JWKS`, `TOLLGATE_PUBLIC_KEY_FILE`).
    pub keys: KeySet,
    /// An identity provider's keys (`TOLLGATE_JWKS_URL` or `TOLLGATE_OIDC_ISSUER`).
    pub remote_keys: Option<RemoteKeys>,
    /// Take the claims API Gateway's authorizer forwards instead of verifying the token
    /// again (`TOLLGATE_TRUST_API_GATEWAY=1`). Requests without them are still verified.
    pub trust_api_gateway: bool,
    /// How long `POST /admin/revoke-user/{sub}` keeps a revocation: at least the longest
    /// lifetime of a token the provider issues, leeway included (default 25 h, above
    /// Cognito's 24 h maximum for access tokens).
    pub revocation_retention: Duration,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        Self {
            issuer: "tollgate-demo".into(),
            audience: "tollgate-demo-api".into(),
            roles_claim: "roles".into(),
            keys: KeySet::new(),
            remote_keys: None,
            trust_api_gateway: false,
            revocation_retention: Duration::from_secs(25 * 3600),
        }
    }
}

#[derive(Debug)]
struct AppState {
    revocations: Arc<dyn RevocationStore>,
    issuer: String,
    retention: Duration,
}

/// Builds the router: the verifier from `config`'s keys, the [`AuthLayer`] with
/// `revocations`, and the routes. No network, no per-request work: call it once per cold
/// start and hand the result to `lambda_http::run` (through [`lambda_service`]) or
/// `axum::serve`.
pub fn app(
    config: &LambdaConfig,
    revocations: Arc<dyn RevocationStore>,
) -> Result<Router, ConfigError> {
    let mut verifier = Verifier::builder()
        .keys(config.keys.clone())
        .issuer(config.issuer.clone())
        .audience(config.audience.clone())
        .roles_claim(config.roles_claim.as_str());
    if let Some(remote) = &config.remote_keys {
        verifier = verifier.remote_keys(remote.clone());
    }
    let mut auth = AuthLayer::new(verifier.build()?)
        .realm("tollgate-lambda")
        // A Lambda function behind API Gateway serves an API, not a browser session.
        .without_cookie()
        .revocation(revocations.clone());
    if config.trust_api_gateway {
        auth = dangerous::trust_api_gateway(auth, config.roles_claim.as_str());
    }

    let admin_only = RequireRole::any(["admin"]);
    let protected = Router::new()
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/admin", get(admin).route_layer(admin_only.clone()))
        .route(
            "/admin/revoke-user/{sub}",
            post(revoke_user).route_layer(admin_only),
        )
        .route_layer(auth);
    let state = AppState {
        revocations,
        issuer: config.issuer.clone(),
        retention: config.revocation_retention,
    };
    Ok(Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected)
        .with_state(Arc::new(state)))
}

/// The router as `lambda_http::run` wants it: requests first lose the API Gateway stage
/// prefix ([`without_stage`]), so that the routes match whatever the stage is called.
pub fn lambda_service(
    router: Router,
) -> tower::util::MapRequest<Router, fn(lambda_http::Request) -> lambda_http::Request> {
    tower::util::MapRequest::new(router, without_stage::<lambda_http::Body>)
}

/// Removes the stage from the path of a request that came through API Gateway.
///
/// `lambda_http` puts the stage in front of the path for a REST API (`/prod/me`), and an
/// HTTP API's `rawPath` carries it for any stage but `$default`. A request that did not
/// come through API Gateway is left as it is.
pub fn without_stage<B>(mut request: http::Request<B>) -> http::Request<B> {
    let stage = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.as_deref(),
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.as_deref(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") else {
        return request;
    };
    let uri = request.uri();
    let rest = match uri
        .path()
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(stage))
    {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return request,
    };
    let path_and_query = match uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(stripped) = http::Uri::from_parts(parts) {
        *request.uri_mut() = stripped;
    }
    request
}

async fn me(claims: Claims) -> Json<Value> {
    Json(Value::clone(claims.claims()))
}

async fn admin(claims: Claims) -> Json<Value> {
    Json(json!({ "message": format!("welcome, {}", claims.subject().unwrap_or("admin")) }))
}

fn store_failed(error: revocation::StoreError) -> Response {
    tracing::error!(%error, "revocation store unavailable");
    let body = json!({"error": "temporarily_unavailable", "error_description": "revocation store unavailable"});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

async fn logout(State(state): State<Arc<AppState>>, claims: Claims) -> Response {
    if let Err(error) = revocation::revoke(&*state.revocations, &claims).await {
        return store_failed(error);
    }
    tracing::info!(
        sub = claims.subject(),
        jti = claims.token_id(),
        "logged out"
    );
    StatusCode::NO_CONTENT.into_response()
}

async fn revoke_user(
    State(state): State<Arc<AppState>>,
    Path(subject): Path<String>,
    claims: Claims,
) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // `iat` counts whole seconds: a token minted earlier in this second is revoked too.
    let before = now + 1;
    let until = before + state.retention.as_secs();
    if let Err(error) = state
        .revocations
        .revoke_subject(&state.issuer, &subject, before, until)
        .await
    {
        return store_failed(error);
    }
    tracing::info!(by = claims.subject(), sub = %subject, "revoked every token of a user");
    StatusCode::NO_CONTENT.into_response()
}
