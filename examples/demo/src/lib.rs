//! The tollgate demo API: the routes, so that tests can drive them without a socket.
//!
//! Run it with `cargo run -p tollgate-demo`; see `main.rs` for the environment variables.
//!
//! | route | auth | answer |
//! |---|---|---|
//! | `GET /health` | none | `200 ok` |
//! | `GET /ready` | none | `200` when the verification keys are loaded and the revocation store answers, `503` otherwise; JSON details |
//! | `GET /metrics` | none | the metrics in the Prometheus text format (when [`DemoConfig::metrics`] is set) |
//! | `POST /login` `{"username","password"}` | none | `{"access_token","token_type":"Bearer","expires_in"}` and the same token in the `__Host-access_token` cookie ([`tollgate_axum::HOST_COOKIE`]); 401 for bad credentials |
//! | `GET /me` | token | the caller's claims as JSON |
//! | `GET /admin` | token with role `admin` | `{"message": …}`; 403 `insufficient_scope` otherwise |
//! | `POST /logout` | token | revokes the presented token and clears the cookie; 204 |
//! | `POST /admin/revoke-user/{sub}` | token with role `admin` | revokes every token of `sub` issued up to now; 204 |
//! | `GET /.well-known/jwks.json` | none | the public keys the demo signs with |

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tollgate::remote::RemoteKeys;
use tollgate::revocation::{self, RevocationStore};
use tollgate::{ConfigError, MemoryStore, Signer, SigningKey, TokenRequest, Verifier};
use tollgate_axum::{AuthLayer, Claims, HOST_COOKIE, RequireRole};

/// Settings of the demo, read from the environment by `main`.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// `iss` of the tokens (`TOLLGATE_ISSUER`).
    pub issuer: String,
    /// `aud` of the tokens (`TOLLGATE_AUDIENCE`).
    pub audience: String,
    /// Lifetime of a token.
    pub ttl: Duration,
    /// An identity provider's keys (`TOLLGATE_JWKS_URL` or `TOLLGATE_OIDC_ISSUER`): tokens
    /// it signs for the same issuer and audience are accepted too (with
    /// [`DemoConfig::cognito`], the Cognito pool's tokens instead).
    pub remote_keys: Option<RemoteKeys>,
    /// An Amazon Cognito user pool whose tokens are accepted beside the demo's own, by
    /// Cognito's rules (`TOLLGATE_COGNITO_USER_POOL`, `TOLLGATE_COGNITO_CLIENT_IDS`,
    /// `TOLLGATE_COGNITO_TOKEN_USE`; the keys are [`DemoConfig::remote_keys`], the pool's
    /// by discovery). `POST /admin/revoke-user/{sub}` then revokes the user under both
    /// issuers.
    pub cognito: Option<tollgate::cognito::CognitoSettings>,
    /// The key tokens are signed with (`TOLLGATE_SIGNING_KEY_FILE`, an Ed25519 PKCS#8
    /// PEM); `None`: one is generated at start. Processes that share it (and `REDIS_URL`)
    /// accept each other's tokens and honour each other's logouts.
    pub signing_key: Option<SigningKey>,
    /// Where `/metrics` reads the metrics from: the handle of the Prometheus recorder
    /// (`main` installs one globally). `None`: no `/metrics` route.
    pub metrics: Option<PrometheusHandle>,
    /// The longest an accepted token may still live (`TOLLGATE_MAX_TOKEN_LIFETIME_SECS`,
    /// default 24 h, Cognito's and most providers' maximum for access tokens): tokens whose
    /// `exp` is further ahead are refused, and `POST /admin/revoke-user/{sub}` keeps its
    /// cut-off this long plus the leeway, so that it outlives every token it covers, the
    /// identity provider's included. Never shorter than [`DemoConfig::ttl`].
    pub max_token_lifetime: Duration,
    /// The `typ` every token must carry (`TOLLGATE_REQUIRE_TYP`, e.g. `at+jwt`): with it,
    /// an identity provider's ID tokens are refused as access tokens (the demo's own tokens
    /// are `at+jwt`). `None`: no `typ` rule. Not applied to a Cognito pool's tokens, whose
    /// headers carry no `typ` (`token_use` decides there).
    pub require_type: Option<String>,
}

impl DemoConfig {
    /// How long a token the demo accepts can still live: see
    /// [`DemoConfig::max_token_lifetime`].
    fn longest_lifetime(&self) -> Duration {
        self.max_token_lifetime.max(self.ttl)
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            issuer: "tollgate-demo".into(),
            audience: "tollgate-demo-api".into(),
            ttl: Duration::from_secs(15 * 60),
            remote_keys: None,
            cognito: None,
            signing_key: None,
            metrics: None,
            max_token_lifetime: Duration::from_secs(24 * 3600),
            require_type: None,
        }
    }
}

/// The demo's users: name, password, roles. A real service checks a password hash.
const USERS: &[(&str, &str, &[&str])] = &[
    ("alice", "alice", &["user"]),
    ("admin", "admin", &["user", "admin"]),
];

#[derive(Debug)]
struct AppState {
    signer: Signer,
    revocations: Arc<dyn RevocationStore>,
    /// The issuers of the tokens the demo accepts: a subject is revoked under each.
    issuers: Vec<String>,
    /// How long a subject cut-off is kept: the longest lifetime of an accepted token plus
    /// the verifier's leeway.
    retention: Duration,
}

/// Builds the demo router with a freshly generated Ed25519 signing key and revocations kept
/// in memory.
pub fn app(config: &DemoConfig) -> Result<Router, ConfigError> {
    app_with_store(config, Arc::new(MemoryStore::new()))
}

/// Builds the demo router with revocations kept in `revocations` (e.g. Redis, so that
/// several demo processes share them).
pub fn app_with_store(
    config: &DemoConfig,
    revocations: Arc<dyn RevocationStore>,
) -> Result<Router, ConfigError> {
    let key = match &config.signing_key {
        Some(key) => key.clone(),
        None => SigningKey::generate_ed25519("demo-1")?,
    };
    let signer = Signer::builder(key)
        .issuer(config.issuer.clone())
        .audience(config.audience.clone())
        .ttl(config.ttl)
        .build()?;
    let lifetime =
        |verifier: tollgate::VerifierBuilder| verifier.max_lifetime(config.longest_lifetime());
    let mut own = lifetime(Verifier::builder());
    if let Some(typ) = &config.require_type {
        own = own.require_type(typ.clone());
    }
    let mut own = own
        .keys(signer.verification_keys()?)
        .issuer(config.issuer.clone())
        .audience(config.audience.clone());
    let mut issuers = vec![config.issuer.clone()];
    let verifier = match (&config.cognito, &config.remote_keys) {
        (Some(cognito), remote) => {
            // Cognito's headers carry no `typ`: its `token_use` rule tells its access
            // tokens from its ID tokens instead.
            let mut pool = cognito.apply(lifetime(Verifier::builder()));
            if let Some(remote) = remote {
                pool = pool.remote_keys(remote.clone());
            }
            issuers.push(cognito.pool.issuer());
            Verifier::any_of([own.build()?, pool.build()?])?
        }
        (None, Some(remote)) => {
            own = own.remote_keys(remote.clone());
            own.build()?
        }
        (None, None) => own.build()?,
    };

    let layer = AuthLayer::new(verifier)
        .realm("tollgate-demo")
        .cookie(HOST_COOKIE)
        .revocation(revocations.clone());
    let readiness = layer.readiness();
    let admin_only = RequireRole::any(["admin"]);
    let protected = Router::new()
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/admin", get(admin).route_layer(admin_only.clone()))
        .route(
            "/admin/revoke-user/{sub}",
            post(revoke_user).route_layer(admin_only),
        )
        .route_layer(layer);

    let state = AppState {
        signer,
        revocations,
        issuers,
        retention: config.longest_lifetime() + tollgate::verifier::DEFAULT_LEEWAY,
    };
    let mut router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", readiness.into_route());
    if let Some(handle) = config.metrics.clone() {
        router = router.route(
            "/metrics",
            get(move || {
                let text = handle.render();
                async move {
                    let content_type = "text/plain; version=0.0.4; charset=utf-8";
                    ([(header::CONTENT_TYPE, content_type)], text)
                }
            }),
        );
    }
    Ok(router
        .route("/login", post(login))
        .route("/.well-known/jwks.json", get(jwks))
        .merge(protected)
        .with_state(Arc::new(state)))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

async fn login(State(state): State<Arc<AppState>>, Json(login): Json<Login>) -> Response {
    let user = USERS
        .iter()
        .find(|(name, password, _)| *name == login.username && *password == login.password);
    let Some((name, _, roles)) = user else {
        let body = json!({"error": "invalid_credentials", "error_description": "unknown user or wrong password"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    };
    let issued = match state
        .signer
        .issue(&TokenRequest::new(*name).roles(roles.iter().copied()))
    {
        Ok(issued) => issued,
        Err(error) => {
            tracing::error!(%error, "could not issue a token");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // `__Host-`: a browser keeps it only with `Secure`, `Path=/` and no `Domain`, so no
    // sibling subdomain can plant a cookie of that name.
    let cookie = cookie::Cookie::build((HOST_COOKIE, issued.token.clone()))
        .http_only(true)
        .secure(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::seconds(issued.expires_in as i64))
        .build();
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = json!({
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    });
    tracing::info!(user = *name, jti = %issued.jti, "issued a token");
    (headers, Json(body)).into_response()
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
    // The same attributes as at login, or a browser ignores it (`__Host-`).
    let expired = cookie::Cookie::build((HOST_COOKIE, ""))
        .http_only(true)
        .secure(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&expired.to_string()) {
        headers.insert(header::SET_COOKIE, value);
    }
    (StatusCode::NO_CONTENT, headers).into_response()
}

async fn revoke_user(
    State(state): State<Arc<AppState>>,
    Path(subject): Path<String>,
    claims: Claims,
) -> Response {
    let now = revocation_now();
    // `iat` counts whole seconds, so a token minted earlier in this very second has
    // `iat == now`: the cut-off is the next second, so that it is revoked too.
    let before = now + 1;
    // Kept until every token it covers has expired, leeway included: no accepted token
    // lives longer than the retention (the verifier's `max_lifetime`).
    let until = before.saturating_add(state.retention.as_secs());
    for issuer in &state.issuers {
        if let Err(error) = state
            .revocations
            .revoke_subject(issuer, &subject, before, until)
            .await
        {
            return store_failed(error);
        }
    }
    tracing::info!(by = claims.subject(), sub = %subject, "revoked every token of a user");
    StatusCode::NO_CONTENT.into_response()
}

fn revocation_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn jwks(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.signer.jwks())
}
