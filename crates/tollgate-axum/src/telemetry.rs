//! The layer's metrics (feature `metrics`) through the `metrics` facade; no-ops without it.
//! Names are in [`tollgate::telemetry`]; the table is in the crate docs.

#[cfg(feature = "metrics")]
pub(crate) fn decision(outcome: &'static str, reason: &'static str) {
    metrics::counter!(
        tollgate::telemetry::DECISIONS,
        "outcome" => outcome,
        "reason" => reason,
    )
    .increment(1);
}

#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn decision(_: &'static str, _: &'static str) {}

#[cfg(feature = "metrics")]
pub(crate) fn store_error() {
    metrics::counter!(tollgate::telemetry::REVOCATION_STORE_ERRORS).increment(1);
}

#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn store_error() {}
