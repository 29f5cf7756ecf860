//! [`Authorizer`]: an API Gateway Lambda authorizer event in, API Gateway's answer out.

use crate::context;
use crate::event::{EventKind, Incoming};
use crate::policy::Policy;
use crate::routes::Routes;
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerResponse, ApiGatewayV2CustomAuthorizerIamPolicyResponse,
    ApiGatewayV2CustomAuthorizerSimpleResponse,
};
use http::HeaderMap;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use tollgate::revocation::{RevocationStore, TokenRef};
use tollgate::{ErrorKind, VerifiedToken, Verifier};
use tollgate_axum::{StoreFailure, TokenRefusal, TokenSource, TokenSources};

/// How an HTTP API with payload 2.0 expects the answer (the authorizer's
/// `enableSimpleResponses` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseMode {
    /// An IAM policy, as for REST APIs (the default; `enableSimpleResponses: false`).
    #[default]
    IamPolicy,
    /// `{"isAuthorized": …, "context": …}` (`enableSimpleResponses: true`).
    Simple,
}

/// Why a request was refused, as the function answers API Gateway when the answer is not
/// a policy: the error whose message API Gateway reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The token is missing, malformed, forged, expired, for another issuer or audience, or
    /// revoked: the error `Unauthorized`, which API Gateway answers with 401.
    Unauthorized,
    /// What the decision needs could not be reached (the revocation store, the identity
    /// provider's keys): an error API Gateway answers with 500 and does not cache — a Deny
    /// would be cached for the TTL and lock the user out after the outage.
    Unavailable,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // API Gateway matches `Unauthorized` exactly.
        f.write_str(match self {
            Self::Unauthorized => "Unauthorized",
            Self::Unavailable => "Service Unavailable",
        })
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for lambda_runtime::Diagnostic {
    fn from(refusal: Refusal) -> Self {
        lambda_runtime::Diagnostic {
            error_type: refusal.to_string(),
            error_message: refusal.to_string(),
        }
    }
}

/// An [`AuthorizerBuilder`] whose settings contradict each other.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// An extra context claim has the name of a member the backends read as the token's
    /// own (`sub`, `iss`, `aud`, `exp`, `nbf`, `iat`, `jti`, `scope`, `scp`,
    /// `principalId` or the roles claim): a token could make it say what the verifier
    /// never granted.
    ReservedContextClaim(String),
    /// Route rules with [`ResponseMode::Simple`], without
    /// [`AuthorizerBuilder::answers_cached_per_route`]: API Gateway reuses a cached
    /// `isAuthorized: true` on every route, so the rules would hold only on a cache miss.
    RoutesNeedPolicies,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedContextClaim(name) => write!(
                f,
                "the context claim {name:?} is one the backends read as the token's own claim"
            ),
            Self::RoutesNeedPolicies => f.write_str(
                "route rules with simple responses: a cached answer is reused on every route; \
                 use IAM policy answers, or set the result TTL to 0 or add $context.routeKey \
                 to the identity sources and say so (answers_cached_per_route)",
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// What was decided about one event, before it is written in the event's answer shape.
#[derive(Debug)]
enum Verdict {
    /// A valid token: the policy for it, which may still deny this route.
    Token(VerifiedToken<()>, Policy),
    /// Refused without a policy.
    Refused(Refusal),
}

#[derive(Debug)]
struct Inner {
    verifier: Verifier,
    store: Option<Arc<dyn RevocationStore>>,
    on_store_error: StoreFailure,
    routes: Routes,
    sources: TokenSources,
    websocket_protocol: bool,
    response_mode: ResponseMode,
    simple_refusal_as_error: bool,
    cached_per_route: bool,
    roles_claim: String,
    context_claims: Vec<String>,
    usage_identifier_claim: Option<String>,
}

/// The API Gateway Lambda authorizer: verifies the token of every authorizer event, asks the
/// revocation store, checks the route rules and answers in the event's own shape.
///
/// Cheap to clone (an `Arc`). Build it once per cold start and hand
/// [`Authorizer::handle`] to `lambda_runtime::run`.
///
/// | event | valid token, route allowed | valid token, role or scope missing | bad, missing or revoked token | store or keys unreachable | malformed event |
/// |---|---|---|---|---|---|
/// | REST TOKEN / REQUEST, HTTP API 1.0, HTTP API 2.0 (IAM), WebSocket `$connect` | Allow policy (200) | Deny policy (403) | error `Unauthorized` (401) | error (500, not cached) | error `Unauthorized` (401) |
/// | HTTP API 2.0 (simple) | `isAuthorized: true` | `isAuthorized: false` (403) | `isAuthorized: false` (403), or `Unauthorized` (401) with [`AuthorizerBuilder::simple_refusal_as_error`] | error (500) | as for a bad token |
#[derive(Debug, Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

/// Builds an [`Authorizer`]; see [`Authorizer::builder`].
#[derive(Debug)]
#[must_use]
pub struct AuthorizerBuilder {
    inner: Inner,
}

impl Authorizer {
    /// An authorizer verifying with `verifier`: no revocation store, no route rules, tokens
    /// from the `Authorization` header only, IAM policy answers, roles in the context under
    /// `roles`.
    pub fn builder(verifier: Verifier) -> AuthorizerBuilder {
        AuthorizerBuilder {
            inner: Inner {
                verifier,
                store: None,
                on_store_error: StoreFailure::FailClosed,
                routes: Routes::none(),
                sources: TokenSources::default().without_cookie(),
                websocket_protocol: false,
                response_mode: ResponseMode::IamPolicy,
                simple_refusal_as_error: false,
                cached_per_route: false,
                roles_claim: "roles".to_owned(),
                context_claims: Vec::new(),
                usage_identifier_claim: None,
            },
        }
    }
}

impl AuthorizerBuilder {
    /// Refuses revoked tokens, asking `store` after the token passed every other rule.
    pub fn revocation(mut self, store: impl RevocationStore) -> Self {
        self.inner.store = Some(Arc::new(store));
        self
    }

    /// What to do when the store cannot answer (default [`StoreFailure::FailClosed`]: the
    /// request is refused).
    pub fn on_store_error(mut self, policy: StoreFailure) -> Self {
        self.inner.on_store_error = policy;
        self
    }

    /// The roles or scopes routes need (default: none, every route needs a valid token).
    pub fn routes(mut self, routes: Routes) -> Self {
        self.inner.routes = routes;
        self
    }

    /// Where tokens are read from in REQUEST events (default: the `Authorization` header
    /// only). A TOKEN event carries the value of its token source header, read as an
    /// `Authorization` header.
    ///
    /// # Security
    /// API Gateway caches the answer under the identity sources' values, so every place a
    /// token is read from must be one of them: an HTTP API event lists their values, and a
    /// token found outside them is refused; REST and WebSocket events do not, so configure
    /// them to match. A cookie token passes the cross-origin check for the request at hand
    /// only: its Allow covers the stage's `GET`, `HEAD` and `OPTIONS` routes and the
    /// current one, and with the cookie as an identity source, routes that change state
    /// need a result TTL of 0 (a cached answer would let a cross-site request through).
    pub fn token_sources(mut self, sources: TokenSources) -> Self {
        self.inner.sources = sources;
        self
    }

    /// For WebSocket `$connect`: also reads the token from `Sec-WebSocket-Protocol`, where a
    /// browser can put it (`new WebSocket(url, ["tollgate", "bearer." + token])`): the entry
    /// after the `bearer.` prefix. The backend must answer the handshake with a protocol the
    /// client offered (`tollgate`). Off by default; a query parameter
    /// ([`TokenSources::query_parameter`]) is the other way for browsers.
    pub fn websocket_protocol(mut self, enabled: bool) -> Self {
        self.inner.websocket_protocol = enabled;
        self
    }

    /// The answer shape of HTTP API payload 2.0 events (default [`ResponseMode::IamPolicy`]):
    /// must match the authorizer's `enableSimpleResponses`.
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.inner.response_mode = mode;
        self
    }

    /// In [`ResponseMode::Simple`], answers a bad or missing token with the `Unauthorized`
    /// error (401) instead of `isAuthorized: false` (which API Gateway answers with 403).
    pub fn simple_refusal_as_error(mut self, enabled: bool) -> Self {
        self.inner.simple_refusal_as_error = enabled;
        self
    }

    /// Declares that API Gateway never reuses an answer on another route: the authorizer's
    /// result TTL is 0, or its identity sources include `$context.routeKey`. Route rules
    /// then work with [`ResponseMode::Simple`] too (default: off, and that combination is
    /// a [`BuildError::RoutesNeedPolicies`]).
    pub fn answers_cached_per_route(mut self, declared: bool) -> Self {
        self.inner.cached_per_route = declared;
        self
    }

    /// The context member the roles are written to, comma-separated (default `roles`): the
    /// roles claim the backends read (`tollgate_axum::dangerous::trust_api_gateway` reads a
    /// comma-separated list there). Use the verifier's roles claim, e.g. `cognito:groups`.
    pub fn roles_claim(mut self, name: impl Into<String>) -> Self {
        self.inner.roles_claim = name.into();
        self
    }

    /// Also copies the top-level claim `name` into the context (strings, numbers and
    /// booleans as they are; anything else as its JSON text). A name the backends read as
    /// one of the token's own claims is a [`BuildError::ReservedContextClaim`].
    pub fn context_claim(mut self, name: impl Into<String>) -> Self {
        self.inner.context_claims.push(name.into());
        self
    }

    /// REST APIs with usage plans: the API key is the value of the claim `name`
    /// (`usageIdentifierKey`; the API's key source must be `AUTHORIZER`).
    pub fn usage_identifier_claim(mut self, name: impl Into<String>) -> Self {
        self.inner.usage_identifier_claim = Some(name.into());
        self
    }

    /// The authorizer, or what contradicts in the settings.
    pub fn build(self) -> Result<Authorizer, BuildError> {
        let inner = self.inner;
        if let Some(name) = inner
            .context_claims
            .iter()
            .find(|name| context::reserved(name, &inner.roles_claim))
        {
            return Err(BuildError::ReservedContextClaim(name.clone()));
        }
        if inner.response_mode == ResponseMode::Simple
            && !inner.routes.is_empty()
            && !inner.cached_per_route
        {
            return Err(BuildError::RoutesNeedPolicies);
        }
        Ok(Authorizer {
            inner: Arc::new(inner),
        })
    }
}

/// Log target of every decision.
const TARGET: &str = "tollgate_lambda::authorizer";

impl Authorizer {
    /// Answers one authorizer event: the JSON API Gateway expects, or the error it maps to
    /// 401 or 500. Never panics and never allows on an event it cannot read.
    pub async fn handle(&self, event: Value) -> Result<Value, Refusal> {
        let incoming = match Incoming::read(event) {
            Ok(incoming) => incoming,
            Err(error) => {
                tracing::warn!(target: TARGET, %error, "event refused");
                return Err(Refusal::Unauthorized);
            }
        };
        let verdict = self.decide(&incoming).await;
        self.answer(&incoming, verdict)
    }

    /// [`Authorizer::handle`] for a `lambda_runtime` event.
    pub async fn handle_event(
        &self,
        event: lambda_runtime::LambdaEvent<Value>,
    ) -> Result<Value, Refusal> {
        self.handle(event.payload).await
    }

    async fn decide(&self, incoming: &Incoming) -> Verdict {
        let inner = &*self.inner;
        let (token, source) = match self.find_token(incoming) {
            Ok(Some(found)) => found,
            Ok(None) => {
                tracing::debug!(target: TARGET, decision = "refused", reason = "token_missing");
                return Verdict::Refused(Refusal::Unauthorized);
            }
            Err(refusal) => {
                let reason = match refusal {
                    TokenRefusal::CrossOrigin => "cross_origin_request",
                    _ => "invalid_request",
                };
                tracing::debug!(target: TARGET, decision = "refused", reason);
                return Verdict::Refused(Refusal::Unauthorized);
            }
        };
        if !incoming.identity_holds(&token) {
            tracing::warn!(target: TARGET, decision = "refused", reason = "token_outside_identity_source", "the token is not in the identity source the answer is cached under");
            return Verdict::Refused(Refusal::Unauthorized);
        }
        if !inner.routes.is_empty() && !incoming.arn_names_the_request() {
            tracing::error!(target: TARGET, decision = "refused", reason = "arn_without_route", arn = %incoming.arn.as_string(), "route rules cannot be applied: the ARN does not name the request's method and path");
            return Verdict::Refused(Refusal::Unavailable);
        }
        let verified = match inner.verifier.check_async(&token).await {
            Ok(verified) => verified,
            Err(error) if error.kind() == ErrorKind::KeysUnavailable => {
                tracing::warn!(target: TARGET, decision = "refused", reason = error.kind().code(), "keys unavailable");
                return Verdict::Refused(Refusal::Unavailable);
            }
            Err(error) => {
                tracing::debug!(target: TARGET, decision = "refused", reason = error.kind().code());
                return Verdict::Refused(Refusal::Unauthorized);
            }
        };
        if verified.subject().is_none() {
            // The principal of a cached answer, and the backends' subject, must name someone.
            tracing::debug!(target: TARGET, decision = "refused", reason = "subject_missing");
            return Verdict::Refused(Refusal::Unauthorized);
        }
        if let Some(store) = &inner.store {
            let view = TokenRef::of(&verified);
            let checked = match store.check_now(&view) {
                Some(status) => Ok(status),
                None => store.check(&view).await,
            };
            match checked {
                Ok(status) if status.is_revoked() => {
                    tracing::debug!(target: TARGET, decision = "refused", reason = "token_revoked", sub = verified.subject(), jti = verified.token_id());
                    return Verdict::Refused(Refusal::Unauthorized);
                }
                Ok(_) => {}
                Err(error) => match inner.on_store_error {
                    StoreFailure::FailOpen => {
                        tracing::warn!(target: TARGET, %error, "revocation store unavailable; failing open");
                    }
                    _ => {
                        tracing::warn!(target: TARGET, %error, "revocation store unavailable; failing closed");
                        return Verdict::Refused(Refusal::Unavailable);
                    }
                },
            }
        }
        let mut policy = Policy::allow(&incoming.arn, &inner.routes, &verified);
        if source == TokenSource::Cookie {
            policy = policy.for_cookie(&incoming.arn);
        }
        Verdict::Token(verified, policy)
    }

    /// The token of the event, by the layer's rules (and, for `$connect`, the WebSocket
    /// protocol header when enabled).
    fn find_token(
        &self,
        incoming: &Incoming,
    ) -> Result<Option<(String, TokenSource)>, TokenRefusal> {
        let found = self.inner.sources.find_with_source(
            &incoming.method,
            &incoming.uri,
            &incoming.headers,
        )?;
        let from_protocol = match incoming.kind {
            EventKind::WebSocket if self.inner.websocket_protocol => {
                protocol_token(&incoming.headers)?
            }
            _ => None,
        };
        match (found, from_protocol) {
            (Some(_), Some(_)) => Err(TokenRefusal::Malformed("token sent in more than one way")),
            (Some((token, source)), None) => Ok(Some((token.into_owned(), source))),
            (None, from_protocol) => Ok(from_protocol.map(|token| (token, TokenSource::Explicit))),
        }
    }

    fn answer(&self, incoming: &Incoming, verdict: Verdict) -> Result<Value, Refusal> {
        let inner = &*self.inner;
        let arn = incoming.arn.as_string();
        let simple =
            incoming.kind == EventKind::HttpV2 && inner.response_mode == ResponseMode::Simple;
        let (token, policy) = match verdict {
            Verdict::Token(token, policy) => (token, policy),
            Verdict::Refused(Refusal::Unauthorized) if simple && !inner.simple_refusal_as_error => {
                return Ok(simple_answer(false, Value::Object(Default::default())));
            }
            Verdict::Refused(refusal) => return Err(refusal),
        };
        let allowed = policy.allows(&arn);
        tracing::debug!(
            target: TARGET,
            decision = if allowed { "allowed" } else { "refused" },
            reason = if allowed { "ok" } else { "insufficient_scope" },
            sub = token.subject(),
            jti = token.token_id(),
        );
        let context = context::of(&token, &inner.roles_claim, &inner.context_claims);
        let principal = token.subject().unwrap_or_default().to_owned();
        let answer = match incoming.kind {
            EventKind::HttpV2 if simple => simple_answer(allowed, context),
            EventKind::HttpV2 => {
                let mut response =
                    ApiGatewayV2CustomAuthorizerIamPolicyResponse::<Value>::default();
                response.principal_id = Some(principal);
                response.policy_document = policy.document();
                response.context = context;
                serde_json::to_value(response).map_err(|_| Refusal::Unavailable)?
            }
            EventKind::HttpV1
            | EventKind::RestToken
            | EventKind::RestRequest
            | EventKind::WebSocket => {
                let mut response = ApiGatewayCustomAuthorizerResponse::<Value>::default();
                response.principal_id = Some(principal);
                response.policy_document = policy.document();
                response.context = context;
                if incoming.kind != EventKind::HttpV1 {
                    response.usage_identifier_key = inner
                        .usage_identifier_claim
                        .as_deref()
                        .and_then(|claim| context::string_claim(&token, claim));
                }
                serde_json::to_value(response).map_err(|_| Refusal::Unavailable)?
            }
        };
        Ok(answer)
    }
}

fn simple_answer(authorized: bool, context: Value) -> Value {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::<Value>::default();
    response.is_authorized = authorized;
    response.context = context;
    serde_json::to_value(response).unwrap_or(Value::Null)
}

/// The token in a `Sec-WebSocket-Protocol` list: the entry after `bearer.`.
fn protocol_token(headers: &HeaderMap) -> Result<Option<String>, TokenRefusal> {
    let mut found = None;
    for value in headers.get_all(http::header::SEC_WEBSOCKET_PROTOCOL) {
        let value = value
            .to_str()
            .map_err(|_| TokenRefusal::Malformed("malformed Sec-WebSocket-Protocol"))?;
        for entry in value.split(',').map(str::trim) {
            if let Some(token) = entry.strip_prefix("bearer.") {
                if found.is_some() {
                    return Err(TokenRefusal::Malformed("token sent in more than one way"));
                }
                if token.is_empty() {
                    return Err(TokenRefusal::Malformed("empty token"));
                }
                found = Some(token.to_owned());
            }
        }
    }
    Ok(found)
}
