//! Names of the metrics tollgate emits through the [`metrics`](https://docs.rs/metrics)
//! facade (feature `metrics`), and the bounded label values they use.
//!
//! Every label takes its value from a fixed set: an outcome, a stable error code, an
//! algorithm name. Nothing read from a token (`sub`, `jti`, `kid`, `iss`) is ever a label,
//! so a flood of forged tokens cannot grow the number of series. The table of every metric
//! is in the `tollgate-axum` crate docs.
//!
//! Without the feature the recording functions compile to nothing.

use crate::Algorithm;
use std::time::Duration;

/// Counter `{outcome, reason}`: the decision on each request (`tollgate-axum`).
pub const DECISIONS: &str = "tollgate_decisions_total";
/// Histogram `{alg}`, seconds: how long one verification took (signature and claims).
pub const VERIFICATION_SECONDS: &str = "tollgate_verification_seconds";
/// Counter `{result="hit"|"miss"}`: revocation lookups answered by a [`crate::CachingStore`]
/// without I/O (hit) or by its backend (miss).
pub const REVOCATION_CACHE: &str = "tollgate_revocation_cache_total";
/// Counter `{result="hit"|"miss"}`: verifications answered by a verifier's verified-token
/// cache (hit: only the time rules re-checked) or verified from scratch (miss); see
/// [`crate::VerifierBuilder::token_cache`].
pub const TOKEN_CACHE: &str = "tollgate_token_cache_total";
/// Counter: revocation lookups the store could not answer (`tollgate-axum`).
pub const REVOCATION_STORE_ERRORS: &str = "tollgate_revocation_store_errors_total";
/// Counter `{result="success"|"no_usable_key"|"failure"}`: JWK Set fetches (feature
/// `remote`). `no_usable_key`: the provider answered with a set that holds no key tollgate
/// can use, which replaced the keys it had.
pub const JWKS_FETCHES: &str = "tollgate_jwks_fetches_total";
/// Gauge: keys currently loaded from identity providers, summed over every
/// `remote::RemoteKeys` alive (feature `remote`).
pub const JWKS_KEYS: &str = "tollgate_jwks_keys";
/// Counter: refetches of a JWK Set triggered by a token with an unknown `kid` (at most one
/// per cooldown; feature `remote`).
pub const JWKS_REFETCH_UNKNOWN_KID: &str = "tollgate_jwks_refetch_unknown_kid_total";
/// Counter: times a Redis revocation store got its invalidation channel back after losing
/// it (`tollgate-redis`).
pub const REVOCATION_PUSH_RECONNECTS: &str = "tollgate_revocation_push_reconnects_total";

/// The `alg` label of `algorithm`: its JOSE name, or `unknown` when the token was refused
/// before its header named a supported algorithm.
pub fn algorithm_label(algorithm: Option<Algorithm>) -> &'static str {
    algorithm.map_or("unknown", Algorithm::as_str)
}

/// Describes every tollgate metric (type, unit, help text) to the installed recorder, so
/// that an exporter can show them (`# HELP` lines in Prometheus' text format). Optional:
/// call it once, after installing the recorder.
#[cfg(feature = "metrics")]
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        DECISIONS,
        "Requests decided by the auth layer, by outcome and reason (guards add insufficient_scope refusals)"
    );
    describe_histogram!(
        VERIFICATION_SECONDS,
        Unit::Seconds,
        "Time to verify one token, by algorithm"
    );
    describe_counter!(
        REVOCATION_CACHE,
        "Revocation lookups answered from the cache (hit) or by the store (miss)"
    );
    describe_counter!(
        TOKEN_CACHE,
        "Verifications answered from the verified-token cache (hit) or from scratch (miss)"
    );
    describe_counter!(
        REVOCATION_STORE_ERRORS,
        "Revocation lookups the store could not answer"
    );
    describe_counter!(JWKS_FETCHES, "JWK Set fetches, by result");
    describe_gauge!(JWKS_KEYS, "Keys loaded from identity providers");
    describe_counter!(
        JWKS_REFETCH_UNKNOWN_KID,
        "JWK Set refetches triggered by an unknown kid"
    );
    describe_counter!(
        REVOCATION_PUSH_RECONNECTS,
        "Times the revocation invalidation channel was subscribed again after being lost"
    );
}

#[cfg(feature = "metrics")]
mod emit {
    use super::*;

    pub(crate) fn verification(algorithm: Option<Algorithm>, elapsed: Duration) {
        metrics::histogram!(VERIFICATION_SECONDS, "alg" => algorithm_label(algorithm))
            .record(elapsed.as_secs_f64());
    }

    pub(crate) fn revocation_cache(hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        metrics::counter!(REVOCATION_CACHE, "result" => result).increment(1);
    }

    pub(crate) fn token_cache(hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        metrics::counter!(TOKEN_CACHE, "result" => result).increment(1);
    }

    #[cfg(feature = "remote")]
    pub(crate) fn jwks_fetch(result: FetchResult) {
        let result = match result {
            FetchResult::Success => "success",
            FetchResult::NoUsableKey => "no_usable_key",
            FetchResult::Failure => "failure",
        };
        metrics::counter!(JWKS_FETCHES, "result" => result).increment(1);
    }

    #[cfg(feature = "remote")]
    pub(crate) fn jwks_keys_changed(delta: f64) {
        metrics::gauge!(JWKS_KEYS).increment(delta);
    }

    #[cfg(feature = "remote")]
    pub(crate) fn jwks_refetch_unknown_kid() {
        metrics::counter!(JWKS_REFETCH_UNKNOWN_KID).increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
#[allow(clippy::missing_const_for_fn)]
mod emit {
    use super::*;

    #[inline(always)]
    pub(crate) fn verification(_: Option<Algorithm>, _: Duration) {}

    #[inline(always)]
    pub(crate) fn revocation_cache(_: bool) {}

    #[inline(always)]
    pub(crate) fn token_cache(_: bool) {}

    #[cfg(feature = "remote")]
    #[inline(always)]
    pub(crate) fn jwks_fetch(_: FetchResult) {}

    #[cfg(feature = "remote")]
    #[inline(always)]
    pub(crate) fn jwks_keys_changed(_: f64) {}

    #[cfg(feature = "remote")]
    #[inline(always)]
    pub(crate) fn jwks_refetch_unknown_kid() {}
}

pub(crate) use emit::*;

/// How a JWK Set fetch ended, for [`JWKS_FETCHES`].
#[cfg(feature = "remote")]
#[derive(Debug, Clone, Copy)]
pub(crate) enum FetchResult {
    /// A set with usable keys was loaded.
    Success,
    /// The provider answered with a set without a usable key, which replaced the keys.
    NoUsableKey,
    /// No answer, or not a JWK Set: the last good keys stay.
    Failure,
}

/// Starts timing a verification: `Some` only when metrics are compiled in.
#[inline(always)]
pub(crate) fn start() -> Option<std::time::Instant> {
    #[cfg(feature = "metrics")]
    return Some(std::time::Instant::now());
    #[cfg(not(feature = "metrics"))]
    None
}
