//! When and how long to wait before trying a request again: exponential backoff with jitter for
//! 429, 502, 503, 504 and transport failures, and `Retry-After` (seconds or HTTP date) honoured
//! up to a cap.

use std::time::{Duration, SystemTime};

/// Attempts per request, the first one included.
pub const MAX_ATTEMPTS: u32 = 5;
/// The longest single wait, whatever the server asks for.
pub const MAX_WAIT: Duration = Duration::from_secs(120);
const BASE: Duration = Duration::from_millis(400);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Statuses worth another try.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// The wait before attempt `attempt + 1` (attempt counts from 1): `BASE × 2^(attempt-1)`,
/// capped, with ±50 % jitter from `jitter` in [0, 1).
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let exp = BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
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
        assert_eq!(backoff(1, 0.5), Duration::from_millis(400));
        assert_eq!(backoff(2, 0.5), Duration::from_millis(800));
        assert_eq!(backoff(30, 0.5), BACKOFF_CAP);
        assert!(
            backoff(1, 0.0) >= Duration::from_millis(200)
                && backoff(1, 0.999) < Duration::from_millis(600)
        );
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
                && !retryable_status(500)
                && !retryable_status(404)
        );
    }
}
