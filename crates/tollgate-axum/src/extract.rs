//! [`Claims<T>`]: the verified token, with the claims deserialized into the handler's type.

use crate::error::{AuthError, AuthErrorKind};
use crate::layer::AuthContext;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::ops::Deref;
use std::sync::Arc;
use tollgate::VerifiedToken;

/// The verified token of the request, its claims deserialized into `T` (default: JSON).
///
/// Dereferences to [`VerifiedToken`]`<Arc<T>>`: `claims.subject()`, `claims.roles()`,
/// `claims.claims()` for the `T`.
///
/// - Without a token (only possible behind an [optional](crate::AuthLayer::optional)
///   layer): 401. Use `Option<Claims<T>>` to accept anonymous requests.
/// - Claims that do not deserialize into `T`: 401 `invalid_token`.
/// - No [`crate::AuthLayer`] in front of the route: 500, naming the layer to install.
///
/// The `T` is shared (`claims.claims()` is an `&Arc<T>`, which reads like a `&T`): with the
/// verified-token cache on, a repeated token's claims are deserialized once and shared by
/// every request that sends it ([`VerifiedToken::claims_as`]).
///
/// ```
/// use serde::Deserialize;
/// use tollgate_axum::Claims;
///
/// #[derive(Deserialize)]
/// struct MyClaims {
///     sub: String,
///     tenant: String,
/// }
///
/// async fn handler(claims: Claims<MyClaims>) -> String {
///     format!("{} of {}", claims.claims().sub, claims.claims().tenant)
/// }
/// ```
#[derive(Debug)]
pub struct Claims<T = Value>(pub VerifiedToken<Arc<T>>);

impl<T> Clone for Claims<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Deref for Claims<T> {
    type Target = VerifiedToken<Arc<T>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The layer's decision for this request; `Err` when no layer ran.
pub(crate) fn context(parts: &Parts) -> Result<&AuthContext, AuthError> {
    parts
        .extensions
        .get::<AuthContext>()
        .ok_or_else(AuthError::missing_layer)
}

/// The verified token, or the 401 for a request that has none.
pub(crate) fn required_token(context: &AuthContext) -> Result<&VerifiedToken<()>, AuthError> {
    context
        .token()
        .ok_or_else(|| AuthError::new(AuthErrorKind::MissingToken, &context.settings))
}

fn typed<T>(context: &AuthContext, token: &VerifiedToken<()>) -> Result<Claims<T>, AuthError>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    token
        .claims_as()
        .map(Claims)
        .map_err(|e| AuthError::invalid_token(e, &context.settings))
}

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = context(parts)?;
        typed(context, required_token(context)?)
    }
}

impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let context = context(parts)?;
        context
            .token()
            .map(|token| typed(context, token))
            .transpose()
    }
}
