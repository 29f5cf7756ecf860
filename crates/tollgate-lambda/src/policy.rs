//! The IAM policy of an Allow, and how API Gateway evaluates it.
//!
//! API Gateway caches an authorizer's answer per identity source for the configured TTL
//! and reuses it on **every** route the same token calls. A policy that allows only the
//! route of the first request makes the next route fail; one that allows the whole stage
//! makes route rules useless. So the policy of an Allow covers the whole stage and then
//! explicitly denies every rule the principal does not meet: evaluated against any route
//! of the stage (an explicit Deny wins over an Allow, as in IAM), it gives the verdict the
//! rules give there. [`Policy::allows`] is that evaluation; the authorizer decides the
//! current request with it too, so the answer and its cached reuse cannot disagree.
//!
//! Two narrowings keep the cached answer from allowing more than the rules do:
//! - a token that fails any rule is also denied every non-canonical path (`//`, `.`, `..`,
//!   `%`, `;`), which a backend could decode or normalise into a guarded route;
//! - a token read from a cookie is allowed the safe methods (`GET`, `HEAD`, `OPTIONS`) of
//!   the stage and the current request only ([`Policy::for_cookie`]): the cross-origin
//!   check ran for this request, and a cached answer must not carry it over to another
//!   request that can change state.

use crate::routes::{NON_CANONICAL, Routes};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerPolicy;
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use std::fmt;
use tollgate::VerifiedToken;

/// An `execute-api` ARN: `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{rest}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodArn {
    /// Everything up to and including `{api}/{stage}/`.
    stage: String,
    /// After the stage: `GET/admin/users` (REST, HTTP), `$connect` (WebSocket).
    rest: String,
}

/// An ARN that is not an `execute-api` method or route ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadArn;

impl fmt::Display for BadArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an execute-api method ARN")
    }
}

impl std::error::Error for BadArn {}

/// Longest ARN read: API Gateway's own are far shorter.
const MAX_ARN_LEN: usize = 2048;

impl MethodArn {
    /// Reads a `methodArn` or `routeArn`.
    pub fn parse(arn: &str) -> Result<Self, BadArn> {
        if arn.len() > MAX_ARN_LEN {
            return Err(BadArn);
        }
        let mut fields = arn.splitn(6, ':');
        let (
            Some("arn"),
            Some(_partition),
            Some("execute-api"),
            Some(_region),
            Some(_account),
            Some(resource),
        ) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        )
        else {
            return Err(BadArn);
        };
        let mut parts = resource.splitn(3, '/');
        let (Some(api), Some(stage), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(BadArn);
        };
        if api.is_empty() || stage.is_empty() || rest.is_empty() || arn.contains(['*', '?']) {
            return Err(BadArn);
        }
        let prefix_len = arn.len() - rest.len();
        Ok(Self {
            stage: arn[..prefix_len].to_owned(),
            rest: rest.to_owned(),
        })
    }

    /// The HTTP method of a REST or HTTP API ARN (`None` for a WebSocket route).
    pub fn method(&self) -> Option<&str> {
        let (method, _) = self.rest.split_once('/')?;
        Some(method)
    }

    /// The path of a REST or HTTP API ARN, with its leading `/` (`None` for a WebSocket
    /// route).
    pub fn path(&self) -> Option<&str> {
        let (_, path) = self.rest.split_once('/')?;
        // The leading `/` of the path is the separator after the method.
        Some(&self.rest[self.rest.len() - path.len() - 1..])
    }

    /// The stage's name.
    pub fn stage_name(&self) -> &str {
        let stage = self.stage.strip_suffix('/').unwrap_or(&self.stage);
        stage.rsplit('/').next().unwrap_or_default()
    }

    /// The whole ARN.
    pub fn as_string(&self) -> String {
        format!("{}{}", self.stage, self.rest)
    }

    /// Every method and route of the stage: `{api}/{stage}/*`.
    fn stage_wide(&self) -> String {
        format!("{}*", self.stage)
    }
}

/// The statements of an authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<(IamPolicyEffect, String)>,
}

impl Policy {
    /// The policy for `token` on the stage of `arn`: the whole stage allowed, and every rule
    /// of `routes` that `token` does not meet denied.
    pub fn allow<T>(arn: &MethodArn, routes: &Routes, token: &VerifiedToken<T>) -> Self {
        let mut statements = vec![(IamPolicyEffect::Allow, arn.stage_wide())];
        let deny = |resource: &str| (IamPolicyEffect::Deny, format!("{}{resource}", arn.stage));
        let mut refused = routes.refused(token).peekable();
        if refused.peek().is_some() {
            statements.extend(NON_CANONICAL.iter().map(|resource| deny(resource)));
        }
        statements
            .extend(refused.flat_map(|rule| rule.arn_resources().into_iter().map(|r| deny(&r))));
        Self { statements }
    }

    /// The policy narrowed for a token read from a cookie: instead of the whole stage, its
    /// `GET`, `HEAD` and `OPTIONS` routes and `arn` itself are allowed (the Denies stay).
    /// API Gateway caches the answer under the cookie, so with the cookie as an identity
    /// source, routes that change state need a result TTL of 0.
    pub fn for_cookie(mut self, arn: &MethodArn) -> Self {
        self.statements
            .retain(|(effect, _)| *effect != IamPolicyEffect::Allow);
        let safe = ["GET", "HEAD", "OPTIONS"].map(|method| format!("{}{method}/*", arn.stage));
        let exact = (!safe
            .iter()
            .any(|s| glob(s.as_bytes(), arn.as_string().as_bytes())))
        .then(|| arn.as_string());
        let allows = safe.into_iter().chain(exact);
        self.statements.splice(
            0..0,
            allows.map(|resource| (IamPolicyEffect::Allow, resource)),
        );
        self
    }

    /// How API Gateway judges a request for `arn` with this policy: an explicit Deny that
    /// matches wins, then an Allow that matches; nothing matching denies.
    pub fn allows(&self, arn: &str) -> bool {
        let matching = |effect: IamPolicyEffect| {
            self.statements
                .iter()
                .any(|(e, resource)| *e == effect && glob(resource.as_bytes(), arn.as_bytes()))
        };
        !matching(IamPolicyEffect::Deny) && matching(IamPolicyEffect::Allow)
    }

    /// The policy document API Gateway reads: one statement per effect, listing its
    /// resources (the Allow first).
    pub fn document(&self) -> ApiGatewayCustomAuthorizerPolicy {
        let mut document = ApiGatewayCustomAuthorizerPolicy::default();
        document.version = Some("2012-10-17".to_owned());
        document.statement = [IamPolicyEffect::Allow, IamPolicyEffect::Deny]
            .into_iter()
            .filter_map(|effect| {
                let resource: Vec<String> = self
                    .statements
                    .iter()
                    .filter(|(e, _)| *e == effect)
                    .map(|(_, resource)| resource.clone())
                    .collect();
                (!resource.is_empty()).then(|| {
                    let mut statement = IamPolicyStatement::default();
                    statement.action = vec!["execute-api:Invoke".to_owned()];
                    statement.effect = effect;
                    statement.resource = resource;
                    statement
                })
            })
            .collect();
        document
    }
}

/// IAM's resource matching: `*` matches any run of characters (`/` included), `?` any one.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative, with one backtrack point: linear in practice, never exponential.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/admin/users";

    #[test]
    fn arns_are_read() {
        let arn = MethodArn::parse(ARN).unwrap();
        assert_eq!(arn.method(), Some("GET"));
        assert_eq!(arn.path(), Some("/admin/users"));
        assert_eq!(arn.as_string(), ARN);
        assert_eq!(
            arn.stage_wide(),
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/*"
        );
        let root = MethodArn::parse("arn:aws:execute-api:us-east-1:1:a/prod/GET/").unwrap();
        assert_eq!(root.path(), Some("/"));
        let ws = MethodArn::parse("arn:aws:execute-api:us-east-1:1:a/prod/$connect").unwrap();
        assert_eq!((ws.method(), ws.path()), (None, None));
        for bad in [
            "",
            "arn:aws:lambda:us-east-1:1:function:f",
            "arn:aws:execute-api:us-east-1:1:a/prod",
            "arn:aws:execute-api:us-east-1:1:a/prod/*",
            "arn:aws:execute-api:us-east-1:1:/prod/GET/",
            "not an arn",
        ] {
            assert_eq!(MethodArn::parse(bad), Err(BadArn), "{bad}");
        }
        assert_eq!(MethodArn::parse(&"a".repeat(5000)), Err(BadArn));
    }

    #[test]
    fn glob_matches_as_iam_does() {
        assert!(glob(b"a/*", b"a/b/c"));
        assert!(glob(b"a/*/c", b"a/b/x/c"));
        assert!(glob(b"*", b""));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a/*", b"a"));
        assert!(!glob(b"GET/admin", b"GET/admin/x"));
        assert!(glob(
            b"*a*a*a*a*a*b",
            &[b'a'; 40].iter().copied().chain([b'b']).collect::<Vec<_>>()
        ));
        assert!(!glob(b"*a*a*a*a*a*b", &[b'a'; 4000]));
    }
}
