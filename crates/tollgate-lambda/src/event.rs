//! The authorizer events API Gateway sends, told apart and read into one shape.
//!
//! | event | how it is recognised | type read with |
//! |---|---|---|
//! | HTTP API, payload 2.0 | `"version": "2.0"`, `"type": "REQUEST"` | [`ApiGatewayV2CustomAuthorizerV2Request`] |
//! | HTTP API, payload 1.0 | `"version": "1.0"`, `"type": "REQUEST"` | [`ApiGatewayV2CustomAuthorizerV1Request`] |
//! | REST API, TOKEN authorizer | `"type": "TOKEN"` | [`ApiGatewayCustomAuthorizerRequest`] |
//! | REST API, REQUEST authorizer | `"type": "REQUEST"`, no `version` | [`ApiGatewayCustomAuthorizerRequestTypeRequest`] |
//! | WebSocket API, `$connect` | as a REST REQUEST event, with `requestContext.eventType` `CONNECT` | [`ApiGatewayCustomAuthorizerRequestTypeRequest`] |
//!
//! Anything else — another version, a missing or malformed field, a method ARN that is not
//! an `execute-api` one — is a [`BadEvent`], which the authorizer refuses.

use crate::policy::{BadArn, MethodArn};
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayV2CustomAuthorizerV1Request, ApiGatewayV2CustomAuthorizerV2Request,
};
use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue, Method, Uri};
use serde_json::Value;
use std::fmt;

/// Which authorizer event it is, which decides the shape of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// HTTP API REQUEST authorizer, payload format 2.0.
    HttpV2,
    /// HTTP API REQUEST authorizer, payload format 1.0.
    HttpV1,
    /// REST API TOKEN authorizer.
    RestToken,
    /// REST API REQUEST authorizer.
    RestRequest,
    /// WebSocket API `$connect` REQUEST authorizer.
    WebSocket,
}

/// An event that is none of the authorizer events, or not well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEvent(pub(crate) &'static str);

impl fmt::Display for BadEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an API Gateway authorizer event: {}", self.0)
    }
}

impl std::error::Error for BadEvent {}

impl From<BadArn> for BadEvent {
    fn from(_: BadArn) -> Self {
        BadEvent("the method or route ARN is not an execute-api ARN")
    }
}

/// An authorizer event, read into what a decision needs.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) kind: EventKind,
    pub(crate) arn: MethodArn,
    pub(crate) method: Method,
    /// Path and query, for the cross-origin check of cookie tokens.
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    /// The path the event names for the request (`None` for a TOKEN event, which has only
    /// the ARN).
    pub(crate) path: Option<String>,
    /// The values of the identity sources, as the HTTP API sends them: the key under which
    /// API Gateway caches the answer (`None` when the event does not say).
    pub(crate) identity: Option<Vec<String>>,
}

fn typed<T: serde::de::DeserializeOwned>(event: Value) -> Result<T, BadEvent> {
    serde_json::from_value(event).map_err(|_| BadEvent("a field is missing or of the wrong type"))
}

fn text<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event.get(name).and_then(Value::as_str)
}

/// `path?query`, or `/` when either is unusable.
fn uri(path: Option<&str>, query: Option<String>) -> Uri {
    let path = path.filter(|p| p.starts_with('/')).unwrap_or("/");
    let text = match query.filter(|q| !q.is_empty()) {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    text.parse().unwrap_or_else(|_| Uri::from_static("/"))
}

/// A query string from `(name, value)` pairs.
fn query<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in pairs {
        query.append_pair(name, value);
        any = true;
    }
    any.then(|| query.finish())
}

/// The pairs of a REST event's `multiValueQueryStringParameters` (`{"a": ["1", "2"]}`),
/// read from the event itself: every value, each once.
fn multi_value_query(event: &Value) -> Option<String> {
    let map = event.get("multiValueQueryStringParameters")?.as_object()?;
    query(map.iter().flat_map(|(name, values)| {
        values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(move |value| (name.as_str(), value))
    }))
}

impl Incoming {
    /// Tells the event apart and reads it.
    pub(crate) fn read(event: Value) -> Result<Self, BadEvent> {
        if !event.is_object() {
            return Err(BadEvent("not a JSON object"));
        }
        let version = text(&event, "version");
        let kind = text(&event, "type");
        match (version, kind) {
            (Some("2.0"), Some("REQUEST")) => Self::http_v2(typed(event)?),
            (Some("1.0"), Some("REQUEST")) => Self::http_v1(typed(event)?),
            (Some(_), _) => Err(BadEvent("unknown payload version")),
            (None, Some("TOKEN")) => Self::rest_token(typed(event)?),
            (None, Some("REQUEST")) => {
                let websocket = event
                    .pointer("/requestContext/eventType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t == "CONNECT");
                let query = multi_value_query(&event);
                Self::rest_request(typed(event)?, query, websocket)
            }
            _ => Err(BadEvent("unknown authorizer type")),
        }
    }

    /// Whether the ARN names the request the event describes: its method, and a path the
    /// event's path ends with (the event's may carry the stage or a custom domain's base
    /// path in front). A TOKEN event has only the ARN; route rules do not apply to
    /// WebSocket routes.
    pub(crate) fn arn_names_the_request(&self) -> bool {
        if matches!(self.kind, EventKind::RestToken | EventKind::WebSocket) {
            return true;
        }
        let (Some(method), Some(arn_path), Some(path)) =
            (self.arn.method(), self.arn.path(), self.path.as_deref())
        else {
            return false;
        };
        if method != self.method.as_str() {
            return false;
        }
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        let arn_path = arn_path.strip_suffix('/').unwrap_or(arn_path);
        if arn_path.is_empty() {
            // The root: `/`, or the stage alone (`/prod`).
            return path == "/" || path.strip_prefix('/') == Some(self.arn.stage_name());
        }
        path.ends_with(arn_path)
    }

    /// Whether `token` is where API Gateway looked for the caller: in one of the identity
    /// source values, when the event lists them. If it is not (say the identity source is
    /// the `Authorization` header, which holds `Basic …`, and the token came from the
    /// cookie), the answer would be cached under a key that does not hold the token, and
    /// reused for other callers with that key.
    pub(crate) fn identity_holds(&self, token: &str) -> bool {
        match &self.identity {
            Some(values) if !values.is_empty() => values.iter().any(|v| v.contains(token)),
            _ => true,
        }
    }

    fn http_v2(event: ApiGatewayV2CustomAuthorizerV2Request) -> Result<Self, BadEvent> {
        let arn = MethodArn::parse(event.route_arn.as_deref().unwrap_or_default())?;
        let mut headers = event.headers;
        // Payload 2.0 moves the cookies out of the headers.
        if !event.cookies.is_empty() {
            let joined = event.cookies.join("; ");
            let value = HeaderValue::from_str(&joined)
                .map_err(|_| BadEvent("a cookie is not a valid header value"))?;
            headers.insert(COOKIE, value);
        }
        let method = event.request_context.http.method.clone();
        let uri = uri(event.raw_path.as_deref(), event.raw_query_string);
        Ok(Self {
            kind: EventKind::HttpV2,
            arn,
            method,
            uri,
            headers,
            path: event.raw_path,
            identity: event.identity_source,
        })
    }

    fn http_v1(event: ApiGatewayV2CustomAuthorizerV1Request) -> Result<Self, BadEvent> {
        let arn = MethodArn::parse(event.method_arn.as_deref().unwrap_or_default())?;
        let query = query(
            event
                .query_string_parameters
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        Ok(Self {
            kind: EventKind::HttpV1,
            arn,
            method: event.http_method,
            uri: uri(event.path.as_deref(), query),
            headers: event.headers,
            path: event.path,
            // Payload 1.0 joins the values with commas, which no token holds.
            identity: event
                .identity_source
                .map(|joined| joined.split(',').map(str::to_owned).collect()),
        })
    }

    fn rest_token(event: ApiGatewayCustomAuthorizerRequest) -> Result<Self, BadEvent> {
        let arn = MethodArn::parse(event.method_arn.as_deref().unwrap_or_default())?;
        // The value of the token source header (`Authorization` by default), read as that
        // header would be.
        let mut headers = HeaderMap::new();
        if let Some(token) = event.authorization_token.filter(|t| !t.is_empty()) {
            let value = HeaderValue::from_str(&token)
                .map_err(|_| BadEvent("the authorization token is not a valid header value"))?;
            headers.insert(AUTHORIZATION, value);
        }
        let method = arn
            .method()
            .and_then(|m| m.parse().ok())
            .unwrap_or(Method::GET);
        let uri = uri(arn.path(), None);
        Ok(Self {
            kind: EventKind::RestToken,
            arn,
            method,
            uri,
            headers,
            path: None,
            // The token is the value of the one identity source.
            identity: None,
        })
    }

    fn rest_request(
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
        query: Option<String>,
        websocket: bool,
    ) -> Result<Self, BadEvent> {
        let arn = MethodArn::parse(event.method_arn.as_deref().unwrap_or_default())?;
        // Every value of a repeated header is in `multiValueHeaders`: read those, so that a
        // token sent twice is seen twice.
        let headers = if event.multi_value_headers.is_empty() {
            event.headers
        } else {
            event.multi_value_headers
        };
        // A WebSocket handshake is a GET, but what it opens can change state: its cookie
        // token is judged as one of a request that can (a page of another site can open a
        // WebSocket to any host, with the user's cookies).
        let method = match event.http_method {
            _ if websocket => Method::POST,
            Some(method) => method,
            None => Method::GET,
        };
        Ok(Self {
            kind: if websocket {
                EventKind::WebSocket
            } else {
                EventKind::RestRequest
            },
            arn,
            method,
            uri: uri(event.path.as_deref(), query),
            headers,
            path: event.path,
            identity: None,
        })
    }
}
