//! Where a request's token is: [`TokenSources`], read by the [`crate::AuthLayer`] and by
//! anything else that receives HTTP requests in another shape (an API Gateway authorizer
//! event, for example) and must find the token by exactly the same rules.

use crate::error::{AuthError, AuthErrorKind, Settings};
use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderName, Method, Request, Uri};
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use tower_http::csrf::{Csrf, CsrfLayer, DefaultResponseForProtectionError, ProtectionError};
use tower_layer::Layer;
use tower_service::Service;

/// The default cookie a token is read from.
pub const DEFAULT_COOKIE: &str = "access_token";

/// [`DEFAULT_COOKIE`] under the `__Host-` prefix, for [`AuthLayer::cookie`](crate::AuthLayer::cookie).
///
/// A browser keeps a cookie whose name starts with `__Host-` only when it was set with
/// `Secure`, with `Path=/` and without `Domain`: it then belongs to the one host that set
/// it, travels over HTTPS only, and neither a sibling subdomain nor a page served over plain
/// HTTP can plant or overwrite it. The layer only reads cookies: set it (and clear it, on
/// logout) with exactly those attributes, plus `HttpOnly` and `SameSite`.
///
/// # Example
/// ```
/// use tollgate_axum::{AuthLayer, HOST_COOKIE};
/// # fn demo(verifier: tollgate::Verifier, token: String) {
/// let layer = AuthLayer::new(verifier).cookie(HOST_COOKIE);
///
/// // What the login handler sends back in `Set-Cookie`:
/// let cookie = cookie::Cookie::build((HOST_COOKIE, token))
///     .secure(true)
///     .path("/")
///     .http_only(true)
///     .same_site(cookie::SameSite::Strict)
///     .build();
/// assert!(cookie.to_string().starts_with("__Host-access_token="));
/// # }
/// ```
pub const HOST_COOKIE: &str = "__Host-access_token";

/// Where tokens are read from, and the rule for the cookie: what [`crate::AuthLayer`]'s
/// `cookie`, `header`, `query_parameter` and `cross_origin_protection` configure.
///
/// The default reads the `Authorization: Bearer` header and the [`DEFAULT_COOKIE`] cookie,
/// with tower-http's cross-origin check for the cookie. See [`TokenSources::find`] for the
/// rules.
#[derive(Debug, Clone)]
pub struct TokenSources {
    cookie: Option<String>,
    header: Option<HeaderName>,
    query: Option<String>,
    /// Judges requests whose token came from the cookie; `None` when turned off.
    cross_origin: Option<CrossOrigin>,
}

impl Default for TokenSources {
    fn default() -> Self {
        Self {
            cookie: Some(DEFAULT_COOKIE.to_owned()),
            header: None,
            query: None,
            cross_origin: Some(CrossOrigin::new(CsrfLayer::new())),
        }
    }
}

/// Why [`TokenSources::find`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRefusal {
    /// The request is malformed (a token sent twice, an empty `Bearer`, …): the reason.
    Malformed(&'static str),
    /// The token came from the cookie, on a request that can change state, from another
    /// origin.
    CrossOrigin,
}

impl TokenRefusal {
    /// The error the layer answers it with.
    pub(crate) fn into_error(self, settings: &Settings) -> AuthError {
        match self {
            Self::Malformed(why) => AuthError::new(AuthErrorKind::InvalidRequest(why), settings),
            Self::CrossOrigin => AuthError::new(AuthErrorKind::CrossOriginRequest, settings),
        }
    }
}

impl TokenSources {
    /// Reads the token from the cookie `name` (see [`crate::AuthLayer::cookie`]).
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// Reads no cookie.
    pub fn without_cookie(mut self) -> Self {
        self.cookie = None;
        self
    }

    /// Also reads the raw token from the header `name` (see [`crate::AuthLayer::header`]).
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = Some(name);
        self
    }

    /// Also reads the token from the query parameter `name` (see
    /// [`crate::AuthLayer::query_parameter`] for why this is opt-in).
    pub fn query_parameter(mut self, name: impl Into<String>) -> Self {
        self.query = Some(name.into());
        self
    }

    /// Judges cookie requests with `layer` (see [`crate::AuthLayer::cross_origin_protection`]).
    pub fn cross_origin_protection<R>(mut self, layer: CsrfLayer<R>) -> Self {
        self.cross_origin = Some(CrossOrigin::new(layer));
        self
    }

    /// Accepts the cookie from any origin (see
    /// [`crate::AuthLayer::without_cross_origin_protection`] for why not to).
    pub fn without_cross_origin_protection(mut self) -> Self {
        self.cross_origin = None;
        self
    }

    /// The one token of a request with `method`, `uri` and `headers`, or `None` when it
    /// carries none.
    ///
    /// - `Authorization: Bearer <token>` (scheme case-insensitive), the custom header and the
    ///   query parameter (when configured) are read first; a token in two of them, or twice
    ///   in one, is [`TokenRefusal::Malformed`], and so is an empty or split bearer token.
    ///   Another scheme (`Basic …`) counts as no token.
    /// - Only when none of them carries a token is the cookie read; the same cookie twice
    ///   (possibly planted from a sibling domain) is refused. A token from the cookie on a
    ///   request whose method can change state, from another origin, is
    ///   [`TokenRefusal::CrossOrigin`].
    pub fn find<'a>(
        &self,
        method: &Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
    ) -> Result<Option<Cow<'a, str>>, TokenRefusal> {
        Ok(self
            .find_with_source(method, uri, headers)?
            .map(|(token, _)| token))
    }

    /// [`TokenSources::find`], also telling where the token came from (the API Gateway
    /// authorizer narrows what a cookie token's cached answer allows).
    pub fn find_with_source<'a>(
        &self,
        method: &Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
    ) -> Result<Option<(Cow<'a, str>, TokenSource)>, TokenRefusal> {
        let found = self
            .find_token(headers, uri.query())
            .map_err(TokenRefusal::Malformed)?;
        if let Some((_, source)) = &found {
            self.check_origin(*source, method, uri, headers)?;
        }
        Ok(found)
    }

    /// Whether the cookie is read.
    pub fn reads_cookie(&self) -> bool {
        self.cookie.is_some()
    }

    /// Finds the one token of the request and where it came from; `Err` names why the
    /// request is malformed.
    fn find_token<'a>(
        &self,
        headers: &'a HeaderMap,
        query: Option<&'a str>,
    ) -> Result<Option<(Cow<'a, str>, TokenSource)>, &'static str> {
        let authorization = match single(
            headers.get_all(AUTHORIZATION).iter(),
            "more than one Authorization header",
        )? {
            Some(value) => bearer(value.as_bytes())?,
            None => None,
        };
        let custom = match &self.header {
            Some(name) => single(
                header_str(headers, name),
                "token header sent more than once",
            )?
            .map(Cow::Borrowed),
            None => None,
        };
        let query = match (&self.query, query) {
            (Some(name), Some(query)) => single(
                form_urlencoded::parse(query.as_bytes())
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v),
                "token query parameter sent more than once",
            )?,
            _ => None,
        };
        let mut explicit = [authorization, custom, query].into_iter().flatten();
        let found = explicit.next();
        if explicit.next().is_some() {
            return Err("token sent in more than one way");
        }
        if let Some(token) = found {
            if token.is_empty() {
                return Err("empty token");
            }
            return Ok(Some((token, TokenSource::Explicit)));
        }
        let Some(cookie_name) = &self.cookie else {
            return Ok(None);
        };
        let cookies = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|c| c.name() == cookie_name)
            .map(|c| Cow::<str>::Owned(c.value().to_owned()));
        // The same cookie twice may be a cookie planted from a sibling domain: refuse
        // rather than guess which one the user meant.
        match single(cookies, "token cookie sent more than once")? {
            Some(token) if token.is_empty() => Ok(None),
            other => Ok(other.map(|token| (token, TokenSource::Cookie))),
        }
    }

    /// Refuses a request whose token came from the cookie when it came from another origin.
    fn check_origin(
        &self,
        source: TokenSource,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), TokenRefusal> {
        match (source, &self.cross_origin) {
            (TokenSource::Cookie, Some(check)) if !check.allows(method, uri, headers) => {
                Err(TokenRefusal::CrossOrigin)
            }
            _ => Ok(()),
        }
    }
}

/// A place the token was found in.
type Found<'a> = Option<Cow<'a, str>>;

/// Where the token of a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// The `Authorization` header, the custom header or the query: a page of another site
    /// cannot make a browser send a token there without knowing it.
    Explicit,
    /// The cookie, which a browser attaches to cross-site requests too.
    Cookie,
}

/// tower-http's cross-origin check, asked about a request whose token came from the cookie.
/// Its `verify` is private, so [`Csrf`] runs as a service in front of [`Allowed`], on a copy
/// of the request that carries only what the check reads.
#[derive(Debug, Clone)]
struct CrossOrigin(Csrf<Allowed>);

/// The service behind [`CrossOrigin`]: what it reaches was let through.
#[derive(Debug, Clone, Copy)]
struct Allowed;

impl Service<Request<()>> for Allowed {
    type Response = http::Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(())))
    }
}

impl CrossOrigin {
    fn new<R>(layer: CsrfLayer<R>) -> Self {
        // A refusal is answered by the layer's responder, so the rejection response of
        // `layer` is replaced by one that builds nothing but the empty 403.
        let layer = layer.with_rejection_response(DefaultResponseForProtectionError::default());
        Self(layer.layer(Allowed))
    }

    /// Whether the check lets the request through.
    fn allows(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
        let mut probe = Request::new(());
        *probe.method_mut() = method.clone();
        // The check takes the request's own origin from the URI's authority (HTTP/2)
        // before `Host`.
        *probe.uri_mut() = uri.clone();
        for name in ["origin", "sec-fetch-site", "host"] {
            for value in headers.get_all(name) {
                probe.headers_mut().append(name, value.clone());
            }
        }
        // `Csrf` decides in `call`, and over `Allowed` it is always ready and its future
        // ready at once: one poll with a waker that does nothing. Anything else would be a
        // change in tower-http, and fails closed.
        let mut cx = Context::from_waker(Waker::noop());
        let mut csrf = self.0.clone();
        if !matches!(csrf.poll_ready(&mut cx), Poll::Ready(Ok(()))) {
            return false;
        }
        match pin!(csrf.call(probe)).poll(&mut cx) {
            Poll::Ready(Ok(response)) => response.extensions().get::<ProtectionError>().is_none(),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => false,
        }
    }
}

/// The one item of `values`; `Err(twice)` when there are several.
fn single<T>(
    mut values: impl Iterator<Item = T>,
    twice: &'static str,
) -> Result<Option<T>, &'static str> {
    let first = values.next();
    if values.next().is_some() {
        return Err(twice);
    }
    Ok(first)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a str> {
    // A value that is not visible ASCII cannot hold a token; it becomes "" and is refused.
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
}

/// The token of an `Authorization` value under the Bearer scheme (case-insensitive); `None`
/// under another scheme. A Bearer token must be one run of visible ASCII (RFC 6750 §2.1
/// allows less still; the verifier refuses what base64url does not allow): empty, with
/// whitespace inside, or with any other byte, it is malformed — a bad token must never
/// pass for no token.
fn bearer(value: &[u8]) -> Result<Found<'_>, &'static str> {
    let (scheme, rest) = match value.iter().position(|b| *b == b' ') {
        Some(space) => (&value[..space], &value[space + 1..]),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
    let token = &rest[start..];
    // One branch-free pass (it vectorises): tokens are hundreds of bytes long. A byte is
    // visible ASCII (`!`..=`~`) when `b - b'!'` (wrapping) is at most `b'~' - b'!'`.
    let visible = token.iter().fold(0u8, |bad, b| {
        bad | u8::from(b.wrapping_sub(b'!') > b'~' - b'!')
    }) == 0;
    if token.is_empty() || !visible {
        return Err("malformed bearer token");
    }
    // Visible ASCII is UTF-8.
    std::str::from_utf8(token)
        .map(|token| Some(Cow::Borrowed(token)))
        .map_err(|_| "malformed bearer token")
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_takes_one_run_of_visible_ascii() {
        let token = |value: &[u8]| bearer(value).map(|t| t.map(|t| t.into_owned()));
        assert_eq!(token(b"Bearer abc.def"), Ok(Some("abc.def".into())));
        assert_eq!(token(b"bEaReR   abc"), Ok(Some("abc".into())));
        for malformed in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer  ",
            b"Bearer a b",
            b"Bearer a\tb",
            b"Bearer abc ",
            b"Bearer \xc3\xa9",
        ] {
            assert!(token(malformed).is_err(), "{malformed:?}");
        }
        // Another scheme, or none that the first space ends, is not a bearer token at all.
        for other in [
            &b"Basic abc"[..],
            b"Bearer\tabc",
            b"Bearerabc",
            b"",
            b"Basic \xff",
        ] {
            assert_eq!(token(other), Ok(None), "{other:?}");
        }
        // Every byte value in the token: exactly `!`..=`~` is accepted.
        for b in 0..=255u8 {
            let value = [&b"Bearer a"[..], &[b], b"z"].concat();
            let accepted = token(&value).is_ok_and(|t| t.is_some());
            assert_eq!(accepted, (b'!'..=b'~').contains(&b), "byte {b:#04x}");
        }
    }
}
