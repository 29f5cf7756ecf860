//! Route requirements: which role or scope a route needs, as `TOLLGATE_ROUTES` writes them.
//!
//! # Grammar
//! ```text
//! routes      = rule *( ";" rule )             ; empty rules and spaces around them are ignored
//! rule        = method SP path "=" requirement *( "," requirement )   ; all must hold
//! method      = "GET" / "POST" / "PUT" / "PATCH" / "DELETE" / "HEAD" / "OPTIONS" / "ANY"
//! path        = "/" [ segment *( "/" segment ) ] [ "/*" ]
//! segment     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" ) / "{" name "}"
//! requirement = alternative *( "|" alternative )   ; one of them must hold
//! alternative = ( "role:" / "scope:" ) name
//! ```
//!
//! - `{name}` matches exactly one path segment; a final `/*` matches one or more segments
//!   (`/admin/*` matches `/admin/users` and `/admin/users/7`, not `/admin`). One trailing
//!   `/` is ignored (`/admin/` is `/admin`).
//! - A `GET` rule applies to `HEAD` too: frameworks answer `HEAD` with the `GET` handler.
//! - Every rule whose method and path match a request applies to it: all of their
//!   requirements must hold. A request that no rule matches needs only a valid token.
//! - A path that is not canonical — an empty segment (`//`), a `.` or `..` segment, a `%`
//!   or a `;` — could name a guarded route once the backend decodes or normalises it, so
//!   a token that fails any rule is refused on such a path, whichever route it names.
//! - Example: `GET /admin=role:admin; POST /admin/*=role:admin; ANY /orders/*=scope:orders.read`.
//!
//! A malformed value is a [`RoutesError`] naming the rule and what is wrong with it.

use std::fmt;
use std::str::FromStr;
use tollgate::VerifiedToken;

/// The route rules; see the [module documentation](self) for the grammar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    rules: Vec<Rule>,
}

/// One rule: a method, a path pattern and what a token needs there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    method: MethodPattern,
    path: Vec<Segment>,
    /// The path ends in `/*`: one or more further segments.
    rest: bool,
    requirements: Vec<Requirement>,
}

/// The method of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MethodPattern {
    Any,
    One(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

/// One requirement: any of its alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    alternatives: Vec<Grant>,
}

/// A role or a scope a token may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The token has this role.
    Role(String),
    /// The token has this scope.
    Scope(String),
}

/// A `TOLLGATE_ROUTES` value that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutesError {
    rule: String,
    why: &'static str,
}

impl fmt::Display for RoutesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "route rule {:?}: {}", self.rule, self.why)
    }
}

impl std::error::Error for RoutesError {}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

fn name_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:/".contains(&b))
}

fn segment_is_valid(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl FromStr for Routes {
    type Err = RoutesError;

    fn from_str(text: &str) -> Result<Self, RoutesError> {
        let rules = text
            .split(';')
            .map(str::trim)
            .filter(|rule| !rule.is_empty())
            .map(Rule::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }
}

impl Rule {
    fn parse(text: &str) -> Result<Self, RoutesError> {
        let fail = |why| RoutesError {
            rule: text.to_owned(),
            why,
        };
        let (route, requirements) = text
            .split_once('=')
            .ok_or_else(|| fail("expected METHOD /path=requirement"))?;
        let (method, path) = route
            .trim()
            .split_once(' ')
            .ok_or_else(|| fail("expected a method, a space and a path"))?;
        let method = match method {
            "ANY" => MethodPattern::Any,
            m if METHODS.contains(&m) => MethodPattern::One(m.to_owned()),
            _ => {
                return Err(fail(
                    "the method must be GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY",
                ));
            }
        };
        let path = path.trim();
        let rest_of = path
            .strip_prefix('/')
            .ok_or_else(|| fail("the path must start with /"))?;
        let (rest_of, rest) = match rest_of.strip_suffix("/*") {
            Some(prefix) => (prefix, true),
            None if rest_of == "*" => ("", true),
            None => (rest_of, false),
        };
        let mut segments = Vec::new();
        if !rest_of.is_empty() {
            for segment in rest_of.split('/') {
                segments.push(match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) if segment_is_valid(name) => Segment::Param,
                    Some(_) => return Err(fail("a {parameter} needs a name")),
                    None if segment_is_valid(segment) => Segment::Literal(segment.to_owned()),
                    None => {
                        return Err(fail(
                            "a path segment is empty or holds a character other than letters, digits and -._~ (* only as the last segment)",
                        ));
                    }
                });
            }
        }
        let requirements = requirements
            .split(',')
            .map(|requirement| {
                let alternatives = requirement
                    .split('|')
                    .map(|grant| match grant.trim().split_once(':') {
                        Some(("role", name)) if name_is_valid(name) => {
                            Ok(Grant::Role(name.to_owned()))
                        }
                        Some(("scope", name)) if name_is_valid(name) => {
                            Ok(Grant::Scope(name.to_owned()))
                        }
                        _ => Err(fail("a requirement is role:NAME or scope:NAME")),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Requirement { alternatives })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            method,
            path: segments,
            rest,
            requirements,
        })
    }

    /// The methods of the rule's ARNs: a `GET` rule covers `HEAD` too.
    fn methods(&self) -> &[&'static str] {
        match &self.method {
            MethodPattern::Any => &["*"],
            MethodPattern::One(m) if m == "GET" => &["GET", "HEAD"],
            MethodPattern::One(m) => {
                let at = METHODS.iter().position(|known| known == m).unwrap_or(0);
                &METHODS[at..=at]
            }
        }
    }

    /// Whether this rule applies to `method` on `path` (no query, starting with `/`).
    fn matches(&self, method: &str, path: &str) -> bool {
        if !self.methods().iter().any(|m| *m == "*" || *m == method) {
            return false;
        }
        let mut parts = path
            .trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty());
        for segment in &self.path {
            match (segment, parts.next()) {
                (Segment::Literal(literal), Some(part)) if literal == part => {}
                (Segment::Param, Some(_)) => {}
                _ => return false,
            }
        }
        let left = parts.count();
        if self.rest { left >= 1 } else { left == 0 }
    }

    /// Whether `token` meets every requirement of the rule.
    fn allows<T>(&self, token: &VerifiedToken<T>) -> bool {
        self.requirements.iter().all(|requirement| {
            requirement.alternatives.iter().any(|grant| match grant {
                Grant::Role(role) => token.has_role(role),
                Grant::Scope(scope) => token.has_scope(scope),
            })
        })
    }

    /// The rule as resource parts of `execute-api` ARNs after the stage: `GET/admin` (and
    /// `GET/admin/`, which the rule matches too), `*/orders/*`. A `{parameter}` becomes `*`,
    /// which in an ARN also matches `/`: broader than the rule, which only ever denies more.
    pub(crate) fn arn_resources(&self) -> Vec<String> {
        let mut resources = Vec::new();
        for method in self.methods() {
            let resource = format!("{method}{}", self.arn_path());
            if !self.rest && !resource.ends_with('/') {
                resources.push(format!("{resource}/"));
            }
            resources.push(resource);
        }
        resources
    }

    /// The rule's first ARN resource (its only one unless it is a `GET` rule or the path
    /// may end in `/`).
    #[cfg(test)]
    fn arn_resource(&self) -> String {
        format!("{}{}", self.methods()[0], self.arn_path())
    }

    /// The path part of the rule's ARN resources, with its leading `/`.
    fn arn_path(&self) -> String {
        let mut resource = String::from("/");
        let segments: Vec<&str> = self
            .path
            .iter()
            .map(|segment| match segment {
                Segment::Literal(literal) => literal.as_str(),
                Segment::Param => "*",
            })
            .collect();
        resource.push_str(&segments.join("/"));
        if self.rest {
            if !segments.is_empty() {
                resource.push('/');
            }
            resource.push('*');
        }
        resource
    }
}

impl Routes {
    /// No rules: every route needs only a valid token.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules that apply to `method` on `path`.
    pub fn matching<'a>(
        &'a self,
        method: &'a str,
        path: &'a str,
    ) -> impl Iterator<Item = &'a Rule> {
        self.rules
            .iter()
            .filter(move |rule| rule.matches(method, path))
    }

    /// The rules `token` does not meet, on any route.
    pub(crate) fn refused<'a, T>(
        &'a self,
        token: &'a VerifiedToken<T>,
    ) -> impl Iterator<Item = &'a Rule> {
        self.rules.iter().filter(move |rule| !rule.allows(token))
    }

    /// Whether `token` meets every rule that applies to `method` on `path`; on a path that
    /// is not canonical (see the [module documentation](self)), whether it meets every
    /// rule.
    pub fn allow<T>(&self, token: &VerifiedToken<T>, method: &str, path: &str) -> bool {
        if !is_canonical(path) {
            return self.refused(token).next().is_none();
        }
        self.matching(method, path).all(|rule| rule.allows(token))
    }
}

/// Whether `path` has no empty segment (but for one trailing `/`), no `.` or `..`
/// segment, no `%` and no `;`.
pub(crate) fn is_canonical(path: &str) -> bool {
    if path.contains(['%', ';']) {
        return false;
    }
    let inner = path.strip_prefix('/').unwrap_or(path);
    if inner.is_empty() {
        return true;
    }
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    inner.split('/').all(|s| !matches!(s, "" | "." | ".."))
}

/// IAM resource patterns (after the stage) matching every non-canonical path: what a
/// policy denies to a token that fails any rule.
pub(crate) const NON_CANONICAL: [&str; 7] =
    ["*//*", "*/./*", "*/../*", "*/.", "*/..", "*%*", "*;*"];

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(text: &str) -> Routes {
        text.parse().unwrap()
    }

    #[test]
    fn the_documented_example_parses() {
        let r = routes(
            "GET /admin=role:admin; POST /admin/*=role:admin; ANY /orders/*=scope:orders.read",
        );
        assert_eq!(r.rules.len(), 3);
        assert_eq!(
            r.rules[0].arn_resources(),
            ["GET/admin/", "GET/admin", "HEAD/admin/", "HEAD/admin"]
        );
        assert_eq!(r.rules[1].arn_resource(), "POST/admin/*");
        assert_eq!(r.rules[2].arn_resource(), "*/orders/*");
        assert!(routes(" ; ").is_empty());
        assert_eq!(routes("GET /=role:a").rules[0].arn_resource(), "GET/");
        assert_eq!(routes("GET /*=role:a").rules[0].arn_resource(), "GET/*");
        assert_eq!(
            routes("GET /u/{id}/x=role:a").rules[0].arn_resource(),
            "GET/u/*/x"
        );
    }

    #[test]
    fn paths_match_as_documented() {
        let r = routes("GET /admin=role:a; POST /admin/*=role:b; ANY /u/{id}=role:c");
        let names = |method: &str, path: &str| -> Vec<String> {
            r.matching(method, path).map(Rule::arn_resource).collect()
        };
        assert_eq!(names("GET", "/admin"), ["GET/admin"]);
        assert_eq!(names("GET", "/admin/"), ["GET/admin"]);
        assert_eq!(names("HEAD", "/admin"), ["GET/admin"]);
        assert!(names("POST", "/admin").is_empty());
        assert_eq!(names("POST", "/admin/x/y"), ["POST/admin/*"]);
        assert_eq!(names("DELETE", "/u/7"), ["*/u/*"]);
        assert!(names("DELETE", "/u/7/8").is_empty());
        assert!(names("GET", "/administrator").is_empty());
    }

    #[test]
    fn canonical_paths_are_told_apart() {
        for path in ["/", "/admin", "/admin/", "/a/b.c/d", "/a/..b"] {
            assert!(is_canonical(path), "{path}");
        }
        for path in [
            "//", "//admin", "/admin//", "/a//b", "/.", "/a/./b", "/a/..", "/%61", "/a;b",
        ] {
            assert!(!is_canonical(path), "{path}");
        }
    }

    #[test]
    fn malformed_values_say_what_is_wrong() {
        for bad in [
            "GET /admin",
            "GET/admin=role:a",
            "FETCH /admin=role:a",
            "get /admin=role:a",
            "GET admin=role:a",
            "GET /a//b=role:a",
            "GET /a/*/b=role:a",
            "GET /a b=role:a",
            "GET /{}=role:a",
            "GET /a=admin",
            "GET /a=role:",
            "GET /a=group:x",
            "GET /a=role:a|",
            "GET /a=role:a,",
            "GET /a=role:a b",
        ] {
            let error = bad.parse::<Routes>().unwrap_err();
            assert!(error.to_string().contains(bad.trim()), "{bad}: {error}");
        }
    }
}
