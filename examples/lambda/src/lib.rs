//! The tollgate demo's protected routes as an AWS Lambda function behind API Gateway.
//!
//! The same router runs as a Lambda function (when `AWS_LAMBDA_RUNTIME_API` is set, as it
//! is inside Lambda and under `cargo lambda watch`) and as a plain HTTP server otherwise,
//! so it can be developed with `cargo run -p tollgate-lambda-router` and `curl`. See `main.rs` for
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

/// Settings of the function, read from the environment by [`LambdaConfig::from_env`].
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// `iss` of the tokens (`TOLLGATE_ISSUER`; unset: `TOLLGATE_OIDC_ISSUER`, else
    /// `tollgate-demo`, as the demo). Every token the function accepts has this issuer —
    /// those it verifies, and those API Gateway vouches for (gateway claims naming another
    /// issuer are refused, claims naming none are taken as this issuer's) — so a
    /// revocation written under it applies in every mode.
    pub issuer: String,
    /// `aud` of the tokens (`TOLLGATE_AUDIENCE`, default `tollgate-demo-api`); not used
    /// with [`LambdaConfig::cognito`].
    pub audience: String,
    /// Amazon Cognito's token rules (`TOLLGATE_COGNITO_USER_POOL`,
    /// `TOLLGATE_COGNITO_CLIENT_IDS`, `TOLLGATE_COGNITO_TOKEN_USE`): the pool's issuer,
    /// keys and `cognito:groups` by default, `token_use` and the app client checked
    /// instead of `aud`.
    pub cognito: Option<tollgate::cognito::CognitoSettings>,
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
    /// The longest an accepted token may still live (`TOLLGATE_MAX_TOKEN_LIFETIME_SECS`,
    /// default 24 h, Cognito's maximum for access and ID tokens): tokens whose `exp` is
    /// further ahead are refused, and `POST /admin/revoke-user/{sub}` keeps its cut-off this
    /// long plus the leeway, so that it outlives every token it covers.
    pub max_token_lifetime: Duration,
    /// The `typ` every verified token must carry (`TOLLGATE_REQUIRE_TYP`, e.g. `at+jwt`, so
    /// that the provider's ID tokens are refused as access tokens). `None`: no `typ` rule.
    pub require_type: Option<String>,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        Self {
            issuer: "tollgate-demo".into(),
            audience: "tollgate-demo-api".into(),
            cognito: None,
            roles_claim: "roles".into(),
            keys: KeySet::new(),
            remote_keys: None,
            trust_api_gateway: false,
            max_token_lifetime: Duration::from_secs(24 * 3600),
            require_type: None,
        }
    }
}

/// What the function could not start with: a setting it cannot use.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// The kid of `TOLLGATE_PUBLIC_KEY_FILE`: the one the demo signs with.
pub const DEMO_KID: &str = "demo-1";

impl LambdaConfig {
    /// The settings from the environment, read with `var` (e.g. `|name| std::env::var(name)
    /// .ok()`; empty values count as unset). Reads the local keys (`TOLLGATE_JWKS`,
    /// `TOLLGATE_PUBLIC_KEY_FILE`); the identity provider's keys are fetched by `main`
    /// ([`LambdaConfig::remote_keys_from_env`]).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, StartError> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let mut config = Self {
            cognito: tollgate::cognito::CognitoSettings::from_env(var)?,
            ..Self::default()
        };
        let var = |name: &str| config_default(&config.cognito, var, name);
        if let Some(issuer) = var("TOLLGATE_ISSUER").or_else(|| var("TOLLGATE_OIDC_ISSUER")) {
            config.issuer = issuer;
        }
        if let Some(audience) = var("TOLLGATE_AUDIENCE") {
            config.audience = audience;
        }
        if let Some(claim) = var("TOLLGATE_ROLES_CLAIM") {
            config.roles_claim = claim;
        }
        config.trust_api_gateway = var("TOLLGATE_TRUST_API_GATEWAY")
            .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
        config.require_type = var("TOLLGATE_REQUIRE_TYP");
        if let Some(secs) = var("TOLLGATE_MAX_TOKEN_LIFETIME_SECS") {
            let secs: u64 = secs.parse().map_err(|_| {
                format!("TOLLGATE_MAX_TOKEN_LIFETIME_SECS={secs:?} is not a number of seconds")
            })?;
            config.max_token_lifetime = Duration::from_secs(secs);
        }
        if let Some(jwks) = var("TOLLGATE_JWKS") {
            config.keys.extend(KeySet::from_jwks(&jwks)?)?;
        }
        if let Some(path) = var("TOLLGATE_PUBLIC_KEY_FILE") {
            let pem = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
            config
                .keys
                .insert(tollgate::Key::ed25519_pem(&pem)?.with_kid(DEMO_KID))?;
        }
        Ok(config)
    }

    /// The identity provider's keys named by the environment (`TOLLGATE_JWKS_URL`, else
    /// `TOLLGATE_OIDC_ISSUER` for OIDC discovery), not yet fetched.
    pub fn remote_keys_from_env(
        &self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Option<tollgate::remote::RemoteKeysBuilder> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let var = |name: &str| config_default(&self.cognito, var, name);
        match (var("TOLLGATE_JWKS_URL"), var("TOLLGATE_OIDC_ISSUER")) {
            (Some(url), _) => Some(RemoteKeys::jwks(url)),
            (None, Some(issuer)) => Some(RemoteKeys::discover(issuer)),
            (None, None) => None,
        }
    }

    /// How long a subject cut-off is kept: the longest lifetime of an accepted token plus
    /// the verifier's leeway.
    fn retention(&self) -> Duration {
        self.max_token_lifetime + tollgate::verifier::DEFAULT_LEEWAY
    }
}

/// `var(name)`, or, when it is unset, the Cognito pool's default for it.
fn config_default(
    cognito: &Option<tollgate::cognito::CognitoSettings>,
    var: impl Fn(&str) -> Option<String>,
    name: &str,
) -> Option<String> {
    var(name).or_else(|| cognito.as_ref().and_then(|c| c.default_for(name)))
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
        .max_lifetime(config.max_token_lifetime);
    verifier = match &config.cognito {
        Some(cognito) => cognito.apply(verifier),
        None => verifier.audience(config.audience.clone()),
    };
    // After the Cognito preset, so that TOLLGATE_ROLES_CLAIM still decides.
    verifier = verifier.roles_claim(config.roles_claim.as_str());
    if let Some(typ) = &config.require_type {
        verifier = verifier.require_type(typ.clone());
    }
    if let Some(remote) = &config.remote_keys {
        verifier = verifier.remote_keys(remote.clone());
    }
    let mut auth = AuthLayer::new(verifier.build()?)
        .realm("tollgate-lambda")
        // A Lambda function behind API Gateway serves an API, not a browser session.
        .without_cookie()
        .revocation(revocations.clone());
    if config.trust_api_gateway {
        // The gateway's tokens are attributed to the one issuer, so the revocations
        // `revoke_user` writes under it are looked up for them too.
        let mut trust = dangerous::ApiGatewayTrust::new(config.roles_claim.as_str())
            .issuer(config.issuer.clone());
        // The gateway's Cognito authorizer takes any app client's ID tokens: the pool's
        // rules apply to what it forwards too.
        if let Some(cognito) = &config.cognito {
            trust = trust.cognito(cognito.clone());
        }
        auth = dangerous::trust_api_gateway_with(auth, trust);
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
        retention: config.retention(),
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
    // Every token the function accepts has `state.issuer` as its issuer (see
    // `LambdaConfig::issuer`) and lives at most the retention.
    let until = before.saturating_add(state.retention.as_secs());
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
