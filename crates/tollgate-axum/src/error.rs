//! RFC 6750 error responses: [`AuthError`] says what went wrong, an [`ErrorResponder`] turns
//! it into a response.
//!
//! Every 401 carries `WWW-Authenticate: Bearer realm="…"`; with a token that failed, also
//! `error="invalid_token", error_description="…"`. A 403 for a missing role or scope carries
//! `error="insufficient_scope"` and the `scope` that was needed; a 403 for a cross-origin
//! request carries no challenge, since the same credentials would pass from the right
//! origin. The body is a small JSON
//! object `{"error", "error_description", "code"}` where `code` is stable and
//! machine-readable (e.g. `token_expired`).
//!
//! Whatever the responder, the [`AuthError`] is also put into the response's extensions so
//! that outer layers (logging, metrics) can read why a request was refused.

use axum::response::{IntoResponse, Response};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, StatusCode};
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// What kind of authentication failure an [`AuthError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No bearer token was sent (RFC 6750 §3.1: 401 without an error code).
    MissingToken,
    /// The request is malformed: a token sent twice, or an empty `Bearer` (400
    /// `invalid_request`). The value is the reason.
    InvalidRequest(&'static str),
    /// A token was sent and refused (401 `invalid_token`); the value says why.
    InvalidToken(tollgate::ErrorKind),
    /// The token lacks a required role or scope (403 `insufficient_scope`).
    InsufficientScope,
    /// A handler or guard asked for claims but no [`crate::AuthLayer`] ran (500: a bug in
    /// the application's router, not the client's fault).
    MissingLayer,
    /// The revocation store could not be asked and the answer was not cached (503, when
    /// the layer fails closed).
    StoreUnavailable,
    /// No verification key could be loaded from the identity provider yet (503).
    KeysUnavailable,
    /// The token came from the cookie, the method can change state, and the request came
    /// from another origin (403, code `cross_origin_request`); see
    /// [`crate::AuthLayer::cross_origin_protection`].
    CrossOriginRequest,
}

/// Why a request was refused, with everything needed to answer it.
///
/// As an extractor rejection it answers through the responder of the [`crate::AuthLayer`]
/// that ran, so custom bodies apply to guards and extractors too.
#[derive(Clone)]
pub struct AuthError {
    kind: AuthErrorKind,
    realm: Arc<str>,
    /// The role or scope names that were required, for `insufficient_scope`.
    required: Option<Arc<str>>,
    source: Option<Arc<tollgate::Error>>,
    responder: Option<Arc<dyn ErrorResponder>>,
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind)
            .field("realm", &self.realm)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

pub(crate) const DEFAULT_REALM: &str = "tollgate";

impl AuthError {
    pub(crate) fn new(kind: AuthErrorKind, settings: &Settings) -> Self {
        Self {
            kind,
            realm: settings.realm.clone(),
            required: None,
            source: None,
            responder: Some(settings.responder.clone()),
        }
    }

    pub(crate) fn invalid_token(error: tollgate::Error, settings: &Settings) -> Self {
        let kind = match error.kind() {
            // Not the client's fault: the keys to judge the token are missing.
            tollgate::ErrorKind::KeysUnavailable => AuthErrorKind::KeysUnavailable,
            kind => AuthErrorKind::InvalidToken(kind),
        };
        let mut this = Self::new(kind, settings);
        this.source = Some(Arc::new(error));
        this
    }

    pub(crate) fn insufficient(required: String, settings: &Settings) -> Self {
        let mut this = Self::new(AuthErrorKind::InsufficientScope, settings);
        this.required = Some(required.into());
        this
    }

    pub(crate) fn missing_layer() -> Self {
        Self {
            kind: AuthErrorKind::MissingLayer,
            realm: DEFAULT_REALM.into(),
            required: None,
            source: None,
            responder: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The realm of the layer that produced this error.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// For `insufficient_scope`: the space-separated names that were required.
    pub fn required(&self) -> Option<&str> {
        self.required.as_deref()
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            AuthErrorKind::MissingToken | AuthErrorKind::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            AuthErrorKind::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthErrorKind::InsufficientScope | AuthErrorKind::CrossOriginRequest => {
                StatusCode::FORBIDDEN
            }
            AuthErrorKind::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
            AuthErrorKind::StoreUnavailable | AuthErrorKind::KeysUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The RFC 6750 error code (`invalid_token`, …), or `None` when no token was sent. Where
    /// RFC 6750 has no code, the RFC 6749 one: `server_error`, `temporarily_unavailable`,
    /// and `access_denied` for a cross-origin request.
    pub fn error_code(&self) -> Option<&'static str> {
        match self.kind {
            AuthErrorKind::MissingToken => None,
            AuthErrorKind::InvalidRequest(_) => Some("invalid_request"),
            AuthErrorKind::InvalidToken(_) => Some("invalid_token"),
            AuthErrorKind::InsufficientScope => Some("insufficient_scope"),
            AuthErrorKind::MissingLayer => Some("server_error"),
            AuthErrorKind::StoreUnavailable | AuthErrorKind::KeysUnavailable => {
                Some("temporarily_unavailable")
            }
            AuthErrorKind::CrossOriginRequest => Some("access_denied"),
        }
    }

    /// A stable machine-readable code, finer than [`AuthError::error_code`]: e.g.
    /// `token_missing`, `token_expired`, `signature_invalid`, `insufficient_scope`.
    pub fn code(&self) -> &'static str {
        match self.kind {
            AuthErrorKind::MissingToken => "token_missing",
            AuthErrorKind::InvalidRequest(_) => "invalid_request",
            AuthErrorKind::InvalidToken(kind) => kind.code(),
            AuthErrorKind::InsufficientScope => "insufficient_scope",
            AuthErrorKind::MissingLayer => "auth_layer_missing",
            AuthErrorKind::StoreUnavailable => "revocation_unavailable",
            AuthErrorKind::KeysUnavailable => "keys_unavailable",
            AuthErrorKind::CrossOriginRequest => "cross_origin_request",
        }
    }

    /// A short human-readable reason (ASCII, no quotes: safe inside a header).
    pub fn description(&self) -> &'static str {
        match self.kind {
            AuthErrorKind::MissingToken => "no bearer token",
            AuthErrorKind::InvalidRequest(why) => why,
            AuthErrorKind::InvalidToken(kind) => kind.description(),
            AuthErrorKind::InsufficientScope => "the token lacks a required role or scope",
            AuthErrorKind::MissingLayer => {
                "tollgate: no AuthLayer ran for this route; add \
                 .layer(tollgate_axum::AuthLayer::new(verifier)) to the Router"
            }
            AuthErrorKind::StoreUnavailable => "revocation status unavailable, try again",
            AuthErrorKind::KeysUnavailable => "signing keys unavailable, try again",
            AuthErrorKind::CrossOriginRequest => "cross-origin request with a cookie token",
        }
    }

    /// The `WWW-Authenticate` challenge for this error (RFC 6750 §3), if it has one.
    pub fn challenge(&self) -> Option<HeaderValue> {
        // A 500 or 503 is not a challenge to the client's credentials, nor is a cross-origin
        // refusal: the same token would pass from the right origin (and `access_denied` is
        // not an RFC 6750 code).
        if matches!(
            self.kind,
            AuthErrorKind::MissingLayer
                | AuthErrorKind::StoreUnavailable
                | AuthErrorKind::KeysUnavailable
                | AuthErrorKind::CrossOriginRequest
        ) {
            return None;
        }
        let mut value = format!("Bearer realm=\"{}\"", self.realm);
        if let Some(code) = self.error_code() {
            value.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                self.description()
            ));
        }
        if let Some(required) = &self.required {
            // Names come from the application's configuration, but a character a scope may
            // not hold (RFC 6750 §3: NQSCHAR and space) must still not break the header.
            let required: String = required
                .chars()
                .filter(|c| matches!(c, ' ' | '!' | '#'..='[' | ']'..='~'))
                .collect();
            value.push_str(&format!(", scope=\"{required}\""));
        }
        HeaderValue::from_str(&value).ok()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl StdError for AuthError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Turns an [`AuthError`] into a response. Implemented for closures
/// `Fn(&AuthError) -> Response`, so a custom body is one line:
///
/// ```
/// use axum::response::IntoResponse;
/// use tollgate_axum::{AuthError, AuthLayer};
/// # fn demo(verifier: tollgate::Verifier) {
/// let layer = AuthLayer::new(verifier).error_responder(|e: &AuthError| {
///     (e.status(), format!("denied: {}", e.code())).into_response()
/// });
/// # }
/// ```
///
/// The layer adds the RFC 6750 `WWW-Authenticate` header when the responder did not, and
/// puts the error into the response's extensions.
pub trait ErrorResponder: Send + Sync + 'static {
    /// The response for `error`.
    fn respond(&self, error: &AuthError) -> Response;
}

impl<F> ErrorResponder for F
where
    F: Fn(&AuthError) -> Response + Send + Sync + 'static,
{
    fn respond(&self, error: &AuthError) -> Response {
        self(error)
    }
}

/// The default responder: the status, the challenge, and a JSON body
/// `{"error", "error_description", "code"}`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct DefaultErrorResponder;

impl ErrorResponder for DefaultErrorResponder {
    fn respond(&self, error: &AuthError) -> Response {
        let body = serde_json::json!({
            "error": error.error_code().unwrap_or("unauthorized"),
            "error_description": error.description(),
            "code": error.code(),
        });
        let content_type = [(http::header::CONTENT_TYPE, "application/json")];
        (error.status(), content_type, body.to_string()).into_response()
    }
}

/// How a layer answers: its realm and responder, shared by the layer, the guards and the
/// extractors behind it.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) realm: Arc<str>,
    pub(crate) responder: Arc<dyn ErrorResponder>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            realm: DEFAULT_REALM.into(),
            responder: Arc::new(DefaultErrorResponder),
        }
    }
}

/// Renders `error` with its layer's responder, then guarantees the challenge header and
/// the extension whatever the responder did.
fn render(error: AuthError) -> Response {
    let mut response = match &error.responder {
        Some(responder) => responder.respond(&error),
        None => DefaultErrorResponder.respond(&error),
    };
    if !response.headers().contains_key(WWW_AUTHENTICATE)
        && let Some(challenge) = error.challenge()
    {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    if error.status() == StatusCode::SERVICE_UNAVAILABLE
        && !response.headers().contains_key(http::header::RETRY_AFTER)
    {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response.extensions_mut().insert(error);
    response
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        tracing::trace!(target: "tollgate_axum::rejection", code = self.code(), status = %self.status(), "request refused");
        render(self)
    }
}
