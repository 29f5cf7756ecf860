//! Times and durations, read from arguments and shown to people.
//!
//! JWT dates are seconds since the Unix epoch (UTC). They are shown as RFC 3339 UTC
//! timestamps next to a span relative to now ("in 4 min", "3 min ago").

use std::time::{Duration, UNIX_EPOCH};

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z).
const MAX_RFC3339: u64 = 253_402_300_799;

/// Seconds since the Unix epoch, now.
pub(crate) use tollgate::now_secs as now;

/// A duration: `90` (seconds), `60s`, `15m`, `1h30m`, `2d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration ({e}); examples: 30s, 15m, 1h30m, 2d"))
}

/// A point in time: `now`, seconds since the epoch, an RFC 3339 timestamp
/// (`2025-01-31T12:00:00Z`), or a duration from now (`+15m`, `-1h`).
pub(crate) fn parse_time(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let now = now();
    if text == "now" {
        return Ok(now);
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(secs);
    }
    if let Some(later) = text.strip_prefix('+') {
        return Ok(now.saturating_add(parse_duration(later)?.as_secs()));
    }
    if let Some(earlier) = text.strip_prefix('-') {
        return Ok(now.saturating_sub(parse_duration(earlier)?.as_secs()));
    }
    let time = humantime::parse_rfc3339_weak(text).map_err(|_| {
        format!(
            "{text:?} is not a time; use `now`, seconds since the epoch, \
             2025-01-31T12:00:00Z, or +15m / -1h from now"
        )
    })?;
    Ok(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// `secs` as an RFC 3339 UTC timestamp.
pub(crate) fn utc(secs: u64) -> String {
    if secs > MAX_RFC3339 {
        return "after the year 9999".to_owned();
    }
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// A length of time for people: `45 s`, `4 min`, `2 h 5 min`, `3 days`.
pub(crate) fn span(secs: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 60 * MIN;
    const DAY: u64 = 24 * HOUR;
    match secs {
        0..MIN => format!("{secs} s"),
        MIN..HOUR => format!("{} min", secs / MIN),
        HOUR..DAY => match (secs % HOUR) / MIN {
            0 => format!("{} h", secs / HOUR),
            min => format!("{} h {min} min", secs / HOUR),
        },
        _ if secs < 2 * DAY => match (secs % DAY) / HOUR {
            0 => "1 day".to_owned(),
            h => format!("1 day {h} h"),
        },
        _ => format!("{} days", secs / DAY),
    }
}

/// `at` relative to `now`: `in 4 min`, `3 min ago`, `now`.
pub(crate) fn relative(at: u64, now: u64) -> String {
    match at.cmp(&now) {
        std::cmp::Ordering::Greater => format!("in {}", span(at - now)),
        std::cmp::Ordering::Less => format!("{} ago", span(now - at)),
        std::cmp::Ordering::Equal => "now".to_owned(),
    }
}

/// `2025-01-31T12:00:00Z (in 4 min)`.
pub(crate) fn when(at: u64, now: u64) -> String {
    format!("{} ({})", utc(at), relative(at, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        let later = parse_time("+15m").unwrap();
        assert!(later >= now() + 899 && later <= now() + 900);
        assert!(parse_time("tomorrow").is_err());
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(u64::MAX), "after the year 9999");
    }

    #[test]
    fn spans() {
        assert_eq!(span(45), "45 s");
        assert_eq!(span(240), "4 min");
        assert_eq!(span(3600), "1 h");
        assert_eq!(span(7500), "2 h 5 min");
        assert_eq!(span(86_400 + 7200), "1 day 2 h");
        assert_eq!(span(3 * 86_400), "3 days");
        assert_eq!(relative(100, 40), "in 1 min");
        assert_eq!(relative(40, 220), "3 min ago");
    }
}
