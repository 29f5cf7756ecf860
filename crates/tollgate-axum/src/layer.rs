//! [`AuthLayer`]: authenticates every request before it reaches a handler.

use crate::error::{AuthError, AuthErrorKind, ErrorResponder, Settings};
use crate::future::ResponseFuture;
use crate::token::TokenSources;
use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, HeaderName, Method, Request, Uri};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tollgate::revocation::{RevocationStore, TokenRef};
use tollgate::{ErrorKind, VerifiedToken, Verifier};
use tower_http::csrf::CsrfLayer;
use tower_layer::Layer;
use tower_service::Service;
use tracing::{Instrument, Span};

/// What the [`AuthLayer`] decided, placed in the request's extensions for the extractors,
/// the guards and any later middleware.
#[derive(Clone, Debug)]
pub struct AuthContext {
    token: Option<VerifiedToken<()>>,
    pub(crate) settings: Settings,
}

impl AuthContext {
    /// The verified token, or `None` when the layer is optional and no token was sent. Its
    /// claims are not deserialized here: `deserialize_claims` reads them
    /// into any type (what [`crate::Claims`] does), [`VerifiedToken::claims_json`] shows
    /// the JSON text.
    pub fn token(&self) -> Option<&VerifiedToken<()>> {
        self.token.as_ref()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    verifier: Verifier,
    required: bool,
    /// Where the token is read from.
    sources: TokenSources,
    revocation: Option<Arc<dyn RevocationStore>>,
    on_store_error: StoreFailure,
    settings: Settings,
    /// Set by [`crate::dangerous::trust_api_gateway`].
    #[cfg(feature = "lambda")]
    pub(crate) gateway: Option<crate::dangerous::ApiGatewayTrust>,
    /// The identity a component in front forwards in a header of its own, when trusted
    /// (`AuthLayer::alb`).
    pub(crate) forwarded: Option<Arc<dyn ForwardedIdentity>>,
}

/// The answer of a [`ForwardedIdentity`]'s verification.
pub(crate) type Verified = Result<VerifiedToken<()>, tollgate::Error>;

/// An identity that a component in front of the service (an AWS load balancer) asserts for
/// the user in a request header of its own, signed so that the layer can verify it. When
/// the header is present it is the request's identity, instead of a bearer token.
pub(crate) trait ForwardedIdentity: fmt::Debug + Send + Sync + 'static {
    /// The header the identity comes in.
    fn header(&self) -> &HeaderName;
    /// Verifies `value` without I/O; `None` when only [`ForwardedIdentity::check`] can.
    fn check_now(&self, value: &str) -> Option<Verified>;
    /// Verifies `value`, fetching what it needs (a key).
    fn check<'a>(&'a self, value: &'a str) -> Pin<Box<dyn Future<Output = Verified> + Send + 'a>>;
}

/// What the layer does when the revocation store cannot answer and the answer is not
/// cached; see [`AuthLayer::on_store_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreFailure {
    /// Refuse the request with 503 and `Retry-After` (the default): a revoked token is never
    /// let through, at the price of availability while the store is down.
    #[default]
    FailClosed,
    /// Let the request through as if the token were not revoked, logging a warning: the
    /// service stays up, at the price of honouring revocations only once the store is back.
    FailOpen,
}

/// Authenticates every request with a bearer token before it reaches the inner service.
///
/// Where the token is read from:
/// - `Authorization: Bearer <token>` (scheme case-insensitive) — always;
/// - a cookie, by default `access_token` ([`AuthLayer::cookie`], [`AuthLayer::without_cookie`]);
/// - a custom header, opt-in ([`AuthLayer::header`]);
/// - a query parameter, opt-in only ([`AuthLayer::query_parameter`]).
///
/// A token sent in two ways at once (two `Authorization` headers, header and query, the
/// same cookie twice) is refused with 400 `invalid_request` (RFC 6750 §2). When both an
/// `Authorization` header and the cookie are present, **the header wins** and the cookie is
/// not read. `Authorization: Bearer` with no token, or with a space inside the token, is
/// 400 `invalid_request`. Another scheme (`Basic …`) counts as no bearer token.
///
/// A token from the cookie, on a request whose method can change state (anything but `GET`,
/// `HEAD` and `OPTIONS`) that came from another origin, is refused with 403
/// `cross_origin_request` before it is verified: see [`AuthLayer::cross_origin_protection`].
///
/// In required mode (the default) a request without a token gets 401 with
/// `WWW-Authenticate: Bearer realm="…"`. In [optional](AuthLayer::optional) mode it reaches
/// the handler without claims. Either way a token that is present but bad is refused with
/// 401 `invalid_token` — a bad token is never treated as anonymous.
///
/// # Example
/// ```
/// use axum::{Router, routing::get};
/// use tollgate::{Algorithm, Key, Verifier};
/// use tollgate_axum::{AuthLayer, Claims};
///
/// async fn me(claims: Claims) -> String {
///     claims.subject().unwrap_or_default().to_owned()
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::builder().key(Key::hmac(&[7; 32], Algorithm::HS256)?).build()?;
/// let app: Router = Router::new().route("/me", get(me)).layer(AuthLayer::new(verifier));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct AuthLayer {
    config: Arc<Config>,
}

impl AuthLayer {
    /// A layer that verifies with `verifier`: required mode, `Authorization` header and the
    /// `access_token` cookie (with cross-origin protection), realm `tollgate`, JSON error
    /// bodies.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            config: Arc::new(Config {
                verifier,
                required: true,
                sources: TokenSources::default(),
                revocation: None,
                on_store_error: StoreFailure::FailClosed,
                settings: Settings::default(),
                #[cfg(feature = "lambda")]
                gateway: None,
                forwarded: None,
            }),
        }
    }

    pub(crate) fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Requests without a token reach the handler without claims (use
    /// `Option<Claims<T>>`). A token that is present but bad is still refused.
    pub fn optional(mut self) -> Self {
        self.config_mut().required = false;
        self
    }

    /// The realm named in `WWW-Authenticate` (default `tollgate`). Characters that cannot
    /// appear in a quoted header string (`"`, `\`, control and non-ASCII) are dropped.
    pub fn realm(mut self, realm: &str) -> Self {
        let clean: String = realm
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
            .collect();
        self.config_mut().settings.realm = clean.into();
        self
    }

    /// Reads the token from the cookie `name` when no header carries one (default
    /// `access_token`; [`HOST_COOKIE`](crate::HOST_COOKIE) is the same name under the `__Host-` prefix).
    ///
    /// # Security
    /// A browser attaches cookies to cross-site requests too. So a request whose token came
    /// from the cookie is refused with 403 when its method can change state and it came from
    /// another origin ([`AuthLayer::cross_origin_protection`], on by default): keep that on.
    /// `GET`, `HEAD` and `OPTIONS` are not checked, so they must not change state. Set the
    /// cookie `Secure`, `HttpOnly` and `SameSite=Strict` or `Lax`, preferably named
    /// [`HOST_COOKIE`](crate::HOST_COOKIE) so that no sibling subdomain can plant one (as the demo does). An API
    /// called only with bearer headers should not read the cookie at all
    /// ([`AuthLayer::without_cookie`]).
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        let config = self.config_mut();
        config.sources = std::mem::take(&mut config.sources).cookie(name);
        self
    }

    /// Never reads a cookie: only headers (and the query parameter, if enabled).
    pub fn without_cookie(mut self) -> Self {
        let config = self.config_mut();
        config.sources = std::mem::take(&mut config.sources).without_cookie();
        self
    }

    /// Checks the origin of requests whose token came from the cookie with `layer` instead of
    /// the default [`CsrfLayer::new()`] (no trusted origin, no exemption): e.g. to trust the
    /// origin of a front end served from another host ([`CsrfLayer::add_trusted_origin`]),
    /// or to exempt a route ([`CsrfLayer::with_insecure_bypass`]).
    ///
    /// The check is tower-http's (the algorithm of Go's `CrossOriginProtection`). It is on
    /// wherever the cookie is read, and applies only to a request whose token came from the
    /// cookie and whose method is not `GET`, `HEAD` or `OPTIONS`. Such a request passes when
    /// `Sec-Fetch-Site` is `same-origin` or `none`, or when its `Origin` is a trusted one;
    /// without `Sec-Fetch-Site` (older browsers, clients that are not browsers), also when
    /// its `Origin` is the request's own (its `Host`) or absent. Any other is refused with
    /// 403 `cross_origin_request` ([`AuthErrorKind::CrossOriginRequest`]) before its token is
    /// verified, through this layer's [`ErrorResponder`]: the rejection response of `layer`
    /// is never used. A token from the `Authorization` header, the custom header or the
    /// query is not checked: a page of another site cannot make a browser send one.
    ///
    /// `Origin` is compared byte for byte. Behind a proxy that rewrites `Host`, the request's
    /// own origin no longer matches: forward `Host` unchanged, or trust the public origin.
    ///
    /// # Example
    /// ```
    /// use tollgate_axum::AuthLayer;
    /// use tower_http::csrf::CsrfLayer;
    ///
    /// # fn demo(verifier: tollgate::Verifier) -> Result<(), tower_http::csrf::ConfigError> {
    /// let layer = AuthLayer::new(verifier)
    ///     .cross_origin_protection(CsrfLayer::new().add_trusted_origin("https://app.example")?);
    /// # Ok(()) }
    /// ```
    pub fn cross_origin_protection<R>(mut self, layer: CsrfLayer<R>) -> Self {
        let config = self.config_mut();
        config.sources = std::mem::take(&mut config.sources).cross_origin_protection(layer);
        self
    }

    /// Accepts a token from the cookie whatever origin the request came from.
    ///
    /// # Security
    /// Without the check, any site the user visits can make their browser send a request
    /// that changes state (a form `POST`) with the cookie, and it is accepted in the user's
    /// name: cross-site request forgery. `SameSite` alone does not stop it from a sibling
    /// subdomain (same site, other origin) nor in browsers that ignore it. Turn the check off
    /// only when something else refuses such requests: a [`CsrfLayer`] or CSRF tokens in
    /// front of every route that changes state. When no browser sends the token, read no
    /// cookie instead ([`AuthLayer::without_cookie`]).
    pub fn without_cross_origin_protection(mut self) -> Self {
        let config = self.config_mut();
        config.sources = std::mem::take(&mut config.sources).without_cross_origin_protection();
        self
    }

    /// Also reads the raw token (no scheme) from the header `name`, e.g. `X-Api-Token`.
    pub fn header(mut self, name: HeaderName) -> Self {
        let config = self.config_mut();
        config.sources = std::mem::take(&mut config.sources).header(name);
        self
    }

    /// Also reads the token from the query parameter `name` (RFC 6750 §2.3).
    ///
    /// # Security
    /// URLs end up in access logs, browser history and `Referer` headers, so a token in
    /// the query leaks. Enable this only where nothing else works (e.g. WebSocket or
    /// server-sent-event connections from a browser), with short-lived tokens.
    pub fn query_parameter(mut self, name: impl Into<String>) -> Self {
        let config = self.config_mut();
        config.sources = std::mem::take(&mut config.sources).query_parameter(name);
        self
    }

    /// Refuses revoked tokens, asking `store` after the signature and claims passed (a
    /// forged token causes no lookup). A revoked token gets 401 `invalid_token`,
    /// `error_description="token revoked"`.
    ///
    /// Put a [`tollgate::CachingStore`] in front of a remote store so that most requests are
    /// answered from memory without awaiting anything.
    pub fn revocation(mut self, store: impl RevocationStore) -> Self {
        self.config_mut().revocation = Some(Arc::new(store));
        self
    }

    /// What to do when the revocation store cannot answer (default
    /// [`StoreFailure::FailClosed`]: 503).
    pub fn on_store_error(mut self, policy: StoreFailure) -> Self {
        self.config_mut().on_store_error = policy;
        self
    }

    /// A readiness check for this layer: keys loaded, revocation store reachable. See
    /// [`Readiness`](crate::Readiness).
    pub fn readiness(&self) -> crate::Readiness {
        crate::Readiness {
            verifier: self.config.verifier.clone(),
            store: self.config.revocation.clone(),
        }
    }

    /// Answers refusals with `responder` instead of the default JSON body. The
    /// `WWW-Authenticate` header is added if the responder does not set one.
    pub fn error_responder(mut self, responder: impl ErrorResponder) -> Self {
        self.config_mut().settings.responder = Arc::new(responder);
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service built by [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    config: Arc<Config>,
}

impl Config {
    fn authenticate(
        &self,
        method: &Method,
        headers: &HeaderMap,
        uri: &Uri,
        extensions: &Extensions,
    ) -> Result<AuthContext, Refusal> {
        let settings = &self.settings;
        // The verdict of API Gateway, when trusted and present, replaces verification.
        #[cfg(feature = "lambda")]
        if let Some(verdict) = self.gateway.as_ref().and_then(|g| g.token(extensions)) {
            return match verdict {
                Ok(token) => Ok(self.context(Some(token.map_claims(|_| ())))),
                Err(error) => Err(AuthError::invalid_token(error, settings).into()),
            };
        }
        #[cfg(not(feature = "lambda"))]
        let _ = extensions;
        if let Some(forwarded) = &self.forwarded
            && let Some(value) = self.forwarded_value(forwarded.header(), method, uri, headers)?
        {
            return match forwarded.check_now(value) {
                Some(Ok(token)) => Ok(self.context(Some(token))),
                Some(Err(error)) => Err(AuthError::invalid_token(error, settings).into()),
                // Its key is not known yet: fetch it, off this path.
                None => Err(Refusal::FetchForwardedKey(value.to_owned())),
            };
        }
        let token = self
            .sources
            .find(method, uri, headers)
            .map_err(|refusal| refusal.into_error(settings))?;
        let token = match token {
            None if self.required => {
                return Err(AuthError::new(AuthErrorKind::MissingToken, settings).into());
            }
            None => None,
            Some(token) => match self.verifier.check(&token) {
                Ok(verified) => Some(verified),
                // The keys may have rotated: worth a (rate-limited) refetch, off this path.
                Err(error)
                    if self.verifier.fetches_keys()
                        && matches!(
                            error.kind(),
                            ErrorKind::UnknownKey | ErrorKind::KeysUnavailable
                        ) =>
                {
                    return Err(Refusal::FetchKeys(token.into_owned()));
                }
                Err(error) => return Err(AuthError::invalid_token(error, settings).into()),
            },
        };
        Ok(self.context(token))
    }

    /// The one value of the forwarded-identity header `name`, if sent. Sent twice, or next
    /// to a bearer token (which of them names the user?), the request is refused with 400.
    fn forwarded_value<'a>(
        &self,
        name: &HeaderName,
        method: &Method,
        uri: &Uri,
        headers: &'a HeaderMap,
    ) -> Result<Option<&'a str>, Refusal> {
        let settings = &self.settings;
        let malformed =
            |why| Refusal::from(AuthError::new(AuthErrorKind::InvalidRequest(why), settings));
        let mut values = headers.get_all(name).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(malformed("identity header sent more than once"));
        }
        if !matches!(self.sources.find(method, uri, headers), Ok(None)) {
            return Err(malformed("token sent in more than one way"));
        }
        // A value that is not visible ASCII cannot hold a token; "" is refused as malformed.
        Ok(Some(value.to_str().unwrap_or("")))
    }

    fn context(&self, token: Option<VerifiedToken<()>>) -> AuthContext {
        AuthContext {
            token,
            settings: self.settings.clone(),
        }
    }
}

/// Why [`Config::authenticate`] could not accept the request at once.
enum Refusal {
    /// Refused for good.
    Final(AuthError),
    /// The token names a key the remote key set lacks: refetch, then verify again.
    FetchKeys(String),
    /// The forwarded identity names a key not fetched yet: fetch it, then verify.
    FetchForwardedKey(String),
}

impl From<AuthError> for Refusal {
    fn from(error: AuthError) -> Self {
        Refusal::Final(error)
    }
}

/// The span of one authentication, `tollgate.auth`: `decision` (`allowed`, `refused`,
/// `anonymous`), `reason` (`ok` or the stable code of the refusal), and `sub` / `jti`,
/// recorded only from a verified token. Never the token.
fn auth_span() -> Span {
    tracing::debug_span!(
        target: "tollgate_axum::auth",
        "tollgate.auth",
        decision = tracing::field::Empty,
        reason = tracing::field::Empty,
        sub = tracing::field::Empty,
        jti = tracing::field::Empty,
    )
}

/// Records the layer's decision: the span's fields, one `debug` event (client errors are
/// never logged louder: a client spraying bad tokens must not flood the logs), and the
/// `tollgate_decisions_total` counter.
fn log_decision(span: &Span, context: Result<&AuthContext, &AuthError>) {
    let _entered = span.enter();
    let (decision, reason) = match context {
        Ok(context) => match context.token() {
            Some(token) => {
                span.record("sub", token.subject());
                span.record("jti", token.token_id());
                tracing::debug!(
                    target: "tollgate_axum::auth",
                    outcome = "accepted",
                    sub = token.subject(),
                    jti = token.token_id(),
                );
                ("allowed", "ok")
            }
            None => {
                tracing::debug!(target: "tollgate_axum::auth", outcome = "anonymous");
                ("anonymous", "token_missing")
            }
        },
        Err(error) => {
            tracing::debug!(
                target: "tollgate_axum::auth",
                outcome = "refused",
                status = error.status().as_u16(),
                reason = error.code(),
            );
            ("refused", error.code())
        }
    };
    span.record("decision", decision);
    span.record("reason", reason);
    crate::telemetry::decision(decision, reason);
}

/// The revocation verdict for an accepted request: `Ok` to go on, `Err` to refuse.
fn revocation_verdict(
    config: &Config,
    context: &AuthContext,
    checked: Result<tollgate::revocation::Status, tollgate::revocation::StoreError>,
) -> Result<(), AuthError> {
    match checked {
        Ok(status) if status.is_revoked() => Err(AuthError::invalid_token(
            tollgate::Error::new(ErrorKind::Revoked),
            &context.settings,
        )),
        Ok(_) => Ok(()),
        Err(error) => {
            crate::telemetry::store_error();
            store_failure(config, context, &error)
        }
    }
}

/// What the layer's [`StoreFailure`] policy makes of a lookup that failed.
fn store_failure(
    config: &Config,
    context: &AuthContext,
    error: &tollgate::revocation::StoreError,
) -> Result<(), AuthError> {
    match config.on_store_error {
        StoreFailure::FailOpen => {
            tracing::warn!(target: "tollgate_axum::auth", %error, "revocation store unavailable; failing open");
            Ok(())
        }
        StoreFailure::FailClosed => {
            tracing::warn!(target: "tollgate_axum::auth", %error, "revocation store unavailable; failing closed");
            Err(AuthError::new(
                AuthErrorKind::StoreUnavailable,
                &context.settings,
            ))
        }
    }
}

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let span = auth_span();
        // Verification is synchronous CPU work (tens of µs), so it runs here.
        let (method, headers, uri) = (request.method(), request.headers(), request.uri());
        let extensions = request.extensions();
        let authenticated =
            span.in_scope(|| self.config.authenticate(method, headers, uri, extensions));
        let context = match authenticated {
            Ok(context) => context,
            Err(Refusal::Final(error)) => return refuse(&span, error),
            Err(Refusal::FetchKeys(token)) => {
                return self.pending(request, Pending::Verify(token), span);
            }
            Err(Refusal::FetchForwardedKey(value)) => {
                return self.pending(request, Pending::VerifyForwarded(value), span);
            }
        };
        let (Some(store), Some(token)) = (&self.config.revocation, context.token()) else {
            return self.accept(request, context, &span);
        };
        let checked = span.in_scope(|| store.check_now(&TokenRef::of(token)));
        match checked {
            Some(status) => match revocation_verdict(&self.config, &context, Ok(status)) {
                Ok(()) => self.accept(request, context, &span),
                Err(error) => refuse(&span, error),
            },
            None => self.pending(request, Pending::Revocation(context), span),
        }
    }
}

/// Where the asynchronous path of a request starts.
enum Pending {
    /// Verify this token again after refetching the remote keys.
    Verify(String),
    /// Verify this forwarded identity, fetching its key.
    VerifyForwarded(String),
    /// The token is verified; ask the revocation store.
    Revocation(AuthContext),
}

fn refuse<F: std::future::Future>(span: &Span, error: AuthError) -> ResponseFuture<F> {
    log_decision(span, Err(&error));
    ResponseFuture::refused(error.into_response())
}

impl<S> AuthService<S> {
    fn accept<B>(
        &mut self,
        mut request: Request<B>,
        context: AuthContext,
        span: &Span,
    ) -> ResponseFuture<S::Future>
    where
        S: Service<Request<B>, Response = Response>,
    {
        log_decision(span, Ok(&context));
        request.extensions_mut().insert(context);
        ResponseFuture::inner(self.inner.call(request))
    }

    /// The rare path that must await: a key refetch, or a revocation lookup over the
    /// network. The service polled ready is the one to call after the await, so it moves
    /// into the future and a clone stays here (tower's readiness contract).
    fn pending<B>(
        &mut self,
        mut request: Request<B>,
        start: Pending,
        span: Span,
    ) -> ResponseFuture<S::Future>
    where
        S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
        S::Future: Send + 'static,
        B: Send + 'static,
    {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        ResponseFuture::pending(Box::pin(async move {
            // The span covers the authentication, not the inner service.
            let decided = decide_later(&config, start, &span)
                .instrument(span.clone())
                .await;
            match decided {
                Ok(context) => {
                    request.extensions_mut().insert(context);
                    inner.call(request).await
                }
                Err(error) => Ok(error.into_response()),
            }
        }))
    }
}

/// The context of a token verified on the asynchronous path (and whether its revocation
/// may still be answered without I/O), or the refusal, logged.
fn verified(
    config: &Config,
    checked: Verified,
    span: &Span,
) -> Result<(AuthContext, bool), AuthError> {
    match checked {
        Ok(token) => Ok((config.context(Some(token)), true)),
        Err(error) => {
            let error = AuthError::invalid_token(error, &config.settings);
            log_decision(span, Err(&error));
            Err(error)
        }
    }
}

/// The asynchronous part of a decision: verify after a key refetch, and/or ask the
/// revocation store.
async fn decide_later(
    config: &Config,
    start: Pending,
    span: &Span,
) -> Result<AuthContext, AuthError> {
    // Only a freshly verified token can still be answered without I/O.
    let (context, try_now) = match start {
        Pending::Revocation(context) => (context, false),
        Pending::Verify(token) => {
            verified(config, config.verifier.check_async(&token).await, span)?
        }
        Pending::VerifyForwarded(value) => {
            let checked = match &config.forwarded {
                Some(forwarded) => forwarded.check(&value).await,
                // The value was read because the layer has a forwarded identity.
                None => Err(tollgate::Error::new(ErrorKind::Malformed)),
            };
            verified(config, checked, span)?
        }
    };
    if let (Some(store), Some(token)) = (&config.revocation, context.token()) {
        let view = TokenRef::of(token);
        let checked = match try_now.then(|| store.check_now(&view)).flatten() {
            Some(status) => Ok(status),
            None => store.check(&view).await,
        };
        if let Err(error) = revocation_verdict(config, &context, checked) {
            log_decision(span, Err(&error));
            return Err(error);
        }
    }
    log_decision(span, Ok(&context));
    Ok(context)
}
