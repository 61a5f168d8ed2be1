//! The request-rate cap of [`Quirks::rate_limit`](crate::Quirks) ([`RateCounter`]): FHIR
//! requests are counted in fixed windows, and those over the limit are refused with 429 and no
//! `Retry-After` (eClinicalWorks refuses the rest of the minute). A window ends by the clock,
//! after a number of arrivals (for tests), or when a test calls `Sandbox::next_rate_window`.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::quirks::{RateLimit, RateWindow};

#[derive(Default)]
pub(crate) struct RateCounter(Mutex<Window>);

#[derive(Default)]
struct Window {
    started: Option<Instant>,
    arrivals: u32,
    admitted: u32,
}

impl RateCounter {
    /// Counts one FHIR request; whether it is admitted under `limit`.
    pub(crate) fn admit(&self, limit: &RateLimit) -> bool {
        let mut w = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let ended = match limit.window {
            RateWindow::Clock(length) => w.started.is_some_and(|s| s.elapsed() >= length),
            RateWindow::Requests(length) => w.arrivals >= length,
        };
        if ended || w.started.is_none() {
            *w = Window {
                started: Some(Instant::now()),
                ..Window::default()
            };
        }
        w.arrivals += 1;
        let admitted = w.admitted < limit.limit;
        if admitted {
            w.admitted += 1;
        }
        admitted
    }

    /// Ends the current window: the next request starts a fresh count.
    pub(crate) fn next_window(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Window::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn windows_measured_in_requests() {
        let counter = RateCounter::default();
        let limit = RateLimit {
            limit: 2,
            window: RateWindow::Requests(3),
        };
        let seen: Vec<bool> = (0..7).map(|_| counter.admit(&limit)).collect();
        assert_eq!(seen, [true, true, false, true, true, false, true]);
    }

    #[test]
    fn a_clock_window_ends_only_by_the_clock_or_the_hook() {
        let counter = RateCounter::default();
        let limit = RateLimit {
            limit: 1,
            window: RateWindow::Clock(Duration::from_secs(3600)),
        };
        assert!(counter.admit(&limit));
        assert!(!counter.admit(&limit));
        assert!(!counter.admit(&limit));
        counter.next_window();
        assert!(counter.admit(&limit));
    }
}
