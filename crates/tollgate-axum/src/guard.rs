//! Role and scope guards: [`RequireRole`] / [`RequireScope`] as route layers, and
//! [`HasRole`] / [`HasScope`] as extractors.
//!
//! A request whose token lacks what is required gets 403 with
//! `WWW-Authenticate: Bearer error="insufficient_scope", scope="<required names>"`. Names
//! match case-sensitively; roles must be a JSON array in the token (see
//! [`tollgate::ClaimPath`]), so a `roles` claim that is a bare string grants nothing.
//!
//! # Example
//! ```
//! use axum::{Router, routing::get};
//! use tollgate_axum::{AuthLayer, HasRole, RequireRole, RequireScope, RoleSet};
//!
//! struct Admin;
//! impl RoleSet for Admin {
//!     const ROLES: &'static [&'static str] = &["admin"];
//! }
//!
//! async fn reports(admin: HasRole<Admin>) -> String {
//!     format!("hello {}", admin.subject().unwrap_or_default())
//! }
//!
//! # fn demo(verifier: tollgate::Verifier) -> Router {
//! Router::new()
//!     .route("/admin", get(|| async { "ok" }).route_layer(RequireRole::any(["admin"])))
//!     .route("/write", get(|| async { "ok" }).route_layer(RequireScope::all(["items:write"])))
//!     .route("/reports", get(reports))
//!     .layer(AuthLayer::new(verifier))
//! # }
//! ```

use crate::error::AuthError;
use crate::extract::{context, required_token};
use crate::future::ResponseFuture;
use crate::layer::AuthContext;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::Request;
use http::request::Parts;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};
use tollgate::VerifiedToken;
use tower_layer::Layer;
use tower_service::Service;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Role,
    Scope,
}

/// What a guard requires: any or all of some roles or scopes.
#[derive(Debug, Clone)]
struct Requirement {
    kind: Kind,
    all: bool,
    names: Arc<[String]>,
}

/// Whether `token` has any (or all) of `names`. An empty requirement admits no one: an
/// `all([])` built from an empty configuration must not open the route to everybody.
fn satisfied<'a>(
    token: &VerifiedToken<()>,
    kind: Kind,
    all: bool,
    names: impl Iterator<Item = &'a str>,
) -> bool {
    let mut names = names.peekable();
    if names.peek().is_none() {
        return false;
    }
    let has = |name: &str| match kind {
        Kind::Role => token.has_role(name),
        Kind::Scope => token.has_scope(name),
    };
    if all { names.all(has) } else { names.any(has) }
}

/// Checks the request's token against a requirement; the error is what to answer.
fn check<'a, N: AsRef<str>>(
    context: &'a AuthContext,
    kind: Kind,
    all: bool,
    names: &[N],
) -> Result<&'a VerifiedToken<()>, AuthError> {
    let token = required_token(context)?;
    if satisfied(token, kind, all, names.iter().map(AsRef::as_ref)) {
        Ok(token)
    } else {
        let required: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        // The layer counted this request as allowed (authenticated); the guard or
        // extractor now refuses it (authorization).
        crate::telemetry::decision("refused", "insufficient_scope");
        Err(AuthError::insufficient(
            required.join(" "),
            &context.settings,
        ))
    }
}

impl Requirement {
    fn new<I, S>(kind: Kind, all: bool, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            kind,
            all,
            names: names.into_iter().map(Into::into).collect(),
        }
    }

    fn check(&self, context: &AuthContext) -> Result<(), AuthError> {
        check(context, self.kind, self.all, &self.names).map(|_| ())
    }
}

/// A route layer that admits only tokens carrying the given roles.
///
/// Put it on routes with `route_layer`, behind an [`crate::AuthLayer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RequireRole(Requirement);

impl RequireRole {
    /// Admits tokens with at least one of `roles`.
    pub fn any<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(Requirement::new(Kind::Role, false, roles))
    }

    /// Admits tokens with every one of `roles`.
    pub fn all<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(Requirement::new(Kind::Role, true, roles))
    }
}

/// A route layer that admits only tokens carrying the given scopes (`scope` or `scp`).
#[derive(Debug, Clone)]
#[must_use]
pub struct RequireScope(Requirement);

impl RequireScope {
    /// Admits tokens with at least one of `scopes`.
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(Requirement::new(Kind::Scope, false, scopes))
    }

    /// Admits tokens with every one of `scopes`.
    pub fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(Requirement::new(Kind::Scope, true, scopes))
    }
}

impl<S> Layer<S> for RequireRole {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            requirement: self.0.clone(),
        }
    }
}

impl<S> Layer<S> for RequireScope {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            requirement: self.0.clone(),
        }
    }
}

/// The service built by [`RequireRole`] and [`RequireScope`].
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    requirement: Requirement,
}

impl<S, B> Service<Request<B>> for Guard<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let verdict = match request.extensions().get::<AuthContext>() {
            Some(context) => self.requirement.check(context),
            None => Err(AuthError::missing_layer()),
        };
        match verdict {
            Ok(()) => ResponseFuture::inner(self.inner.call(request)),
            Err(error) => {
                tracing::debug!(
                    target: "tollgate_axum::guard",
                    outcome = "refused",
                    reason = error.code(),
                    required = error.required(),
                );
                ResponseFuture::refused(error.into_response())
            }
        }
    }
}

/// Roles named at the type level, for the [`HasRole`] extractor.
pub trait RoleSet: Send + Sync + 'static {
    /// The roles.
    const ROLES: &'static [&'static str];
    /// `true`: every role is required; `false` (default): any one of them.
    const REQUIRE_ALL: bool = false;
}

/// Scopes named at the type level, for the [`HasScope`] extractor.
pub trait ScopeSet: Send + Sync + 'static {
    /// The scopes.
    const SCOPES: &'static [&'static str];
    /// `true`: every scope is required; `false` (default): any one of them.
    const REQUIRE_ALL: bool = false;
}

/// Extractor form of [`RequireRole`]: the handler runs only if the token carries the
/// roles of `R`. Dereferences to the [`VerifiedToken`].
pub struct HasRole<R> {
    token: VerifiedToken<()>,
    _roles: PhantomData<fn() -> R>,
}

/// Extractor form of [`RequireScope`]: the handler runs only if the token carries the
/// scopes of `S`. Dereferences to the [`VerifiedToken`].
pub struct HasScope<S> {
    token: VerifiedToken<()>,
    _scopes: PhantomData<fn() -> S>,
}

impl<R> std::fmt::Debug for HasRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HasRole")
            .field("token", &self.token)
            .finish()
    }
}

impl<S> std::fmt::Debug for HasScope<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HasScope")
            .field("token", &self.token)
            .finish()
    }
}

impl<R> Deref for HasRole<R> {
    type Target = VerifiedToken<()>;

    fn deref(&self) -> &VerifiedToken<()> {
        &self.token
    }
}

impl<S> Deref for HasScope<S> {
    type Target = VerifiedToken<()>;

    fn deref(&self) -> &VerifiedToken<()> {
        &self.token
    }
}

impl<St, R> FromRequestParts<St> for HasRole<R>
where
    St: Send + Sync,
    R: RoleSet,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, AuthError> {
        let token = check(context(parts)?, Kind::Role, R::REQUIRE_ALL, R::ROLES)?;
        Ok(Self {
            token: token.clone(),
            _roles: PhantomData,
        })
    }
}

impl<St, S> FromRequestParts<St> for HasScope<S>
where
    St: Send + Sync,
    S: ScopeSet,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, AuthError> {
        let token = check(context(parts)?, Kind::Scope, S::REQUIRE_ALL, S::SCOPES)?;
        Ok(Self {
            token: token.clone(),
            _scopes: PhantomData,
        })
    }
}
