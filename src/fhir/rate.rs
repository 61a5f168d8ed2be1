//! A request-rate cap shared by every request of a run: requests are spaced at least
//! `1 / rate` apart, so the cap is never exceeded in any window.

use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `per_second` requests per second (e.g. 20/min = 0.333…).
    pub fn new(per_second: f64) -> RateLimiter {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / per_second.max(1e-6)),
            next: Mutex::new(None),
        }
    }

    /// Waits for the next free slot.
    pub async fn acquire(&self) {
        let wait_until = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = match *next {
                Some(t) if t > now => t,
                _ => now,
            };
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(wait_until).await;
    }
}

/// Parses `20/min`, `5/s`, `2.5/s`, `300/h`, or a plain number (per second).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let (num, per) = match s.split_once('/') {
        Some((n, unit)) => {
            let per = match unit.trim() {
                "s" | "sec" | "second" => 1.0,
                "m" | "min" | "minute" => 60.0,
                "h" | "hour" => 3600.0,
                other => return Err(format!("unknown unit '{other}': use /s, /min or /h")),
            };
            (n, per)
        }
        None => (s, 1.0),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a rate like 20/min or 5/s"))?;
    if !(n > 0.0 && n.is_finite()) {
        return Err("the rate must be more than zero".into());
    }
    Ok(n / per)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("20/min").unwrap(), 20.0 / 60.0);
        assert_eq!(parse_rate("5/s").unwrap(), 5.0);
        assert_eq!(parse_rate("2").unwrap(), 2.0);
        assert!(
            parse_rate("0/s").is_err() && parse_rate("x").is_err() && parse_rate("1/week").is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced() {
        let limiter = RateLimiter::new(2.0);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        // Five requests at 2/s: the fifth may start only after 2 s (paused clock: exact).
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
