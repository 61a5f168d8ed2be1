//! When and how long to wait before trying a request again: exponential backoff with jitter for
//! 429, 500, 502, 503, 504, transport failures and unreadable answers, and `Retry-After`
//! (seconds or HTTP date) honoured up to a cap.
//!
//! `FHIRDL_RETRY_BASE_MS` (a test knob, used by the fault campaign) replaces the 400 ms base of
//! the backoff.

use std::time::{Duration, SystemTime};

/// Attempts per request, the first one included.
pub const MAX_ATTEMPTS: u32 = 5;
/// The longest single wait, whatever the server asks for.
pub const MAX_WAIT: Duration = Duration::from_secs(120);
const BASE: Duration = Duration::from_millis(400);
/// Environment variable replacing the 400 ms backoff base (milliseconds).
pub const BASE_ENV: &str = "FHIRDL_RETRY_BASE_MS";
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Statuses worth another try. fhirdl only sends GETs, which are safe to repeat, so a 500
/// (often a passing failure behind a load balancer) is tried again too; a persistent one
/// costs a few seconds of backoff before its type is reported as failed.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// The backoff base: [`BASE`], or `FHIRDL_RETRY_BASE_MS` when set to a number.
fn base() -> Duration {
    static BASE_FROM_ENV: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *BASE_FROM_ENV.get_or_init(|| {
        std::env::var(BASE_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(BASE, Duration::from_millis)
    })
}

/// The wait before attempt `attempt + 1` (attempt counts from 1): `base × 2^(attempt-1)`,
/// capped, with ±50 % jitter from `jitter` in [0, 1).
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    backoff_from(base(), attempt, jitter)
}

fn backoff_from(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(BACKOFF_CAP);
    capped.mul_f64(0.5 + jitter.clamp(0.0, 1.0))
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (relative to `now`), capped.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_from(BASE, 1, 0.5), Duration::from_millis(400));
        assert_eq!(backoff_from(BASE, 2, 0.5), Duration::from_millis(800));
        assert_eq!(backoff_from(BASE, 30, 0.5), BACKOFF_CAP);
        assert!(
            backoff_from(BASE, 1, 0.0) >= Duration::from_millis(200)
                && backoff_from(BASE, 1, 0.999) < Duration::from_millis(600)
        );
        let fast = Duration::from_millis(5);
        assert_eq!(backoff_from(fast, 3, 0.5), Duration::from_millis(20));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("99999", now), Some(MAX_WAIT));
        assert_eq!(retry_after("soon", now), None);
        assert!(
            retryable_status(429)
                && retryable_status(503)
                && retryable_status(500)
                && !retryable_status(404)
                && !retryable_status(403)
                && !retryable_status(501)
        );
    }
}
