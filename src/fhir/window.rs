//! How many requests a run keeps in flight: a congestion window shared by every request of a
//! client, like TCP's. It starts at [`INITIAL`] (or the configured maximum, `--concurrency`,
//! when that is lower) and, while every answer comes back fine, grows by one per answer up to the
//! maximum (TCP's slow start: a server that keeps up sees the window double each round trip).
//! It halves when the server signals overload (429, 503, a timeout), at most once per "round"
//! of requests, and from then on grows back by one for every window's worth of answers that
//! came back fine. A fast export thus never piles onto a small practice's server that is
//! already struggling.
//!
//! The default maximum, 64, is fhirdl's politeness limit for one host over HTTP/1.1, where every
//! request in flight is a connection of its own. A server that answers over HTTP/2 carries
//! every request on one connection and says itself how many streams it takes at once
//! (`SETTINGS_MAX_CONCURRENT_STREAMS`, which the HTTP client obeys by queueing); there the window
//! opens to [`MULTIPLEXED`] ([`Window::multiplexed`]), unless `--concurrency` set the maximum or
//! the server has already signalled overload.

use std::sync::{Mutex, PoisonError};
use tokio::sync::Notify;

/// The window a client starts with (fhirdl's default `--concurrency`): a smaller start cost
/// NextGen-like exports a round trip (the first pages of 19 categories and the later pages of
/// the other types, about 60 requests, did not fit into 43). A larger `--concurrency` is
/// reached by growing from here.
pub const INITIAL: usize = 64;

/// The maximum over HTTP/2 when `--concurrency` did not set one: the server's own stream limit
/// applies below it (commonly 100 to 250).
pub const MULTIPLEXED: usize = 256;

#[derive(Debug)]
pub struct Window {
    /// The maximum the server's HTTP/2 may raise this one to (`None`: fixed by the user).
    multiplexed: Option<usize>,
    state: Mutex<State>,
    freed: Notify,
}

#[derive(Debug)]
struct State {
    /// Requests in flight at most, ever.
    max: usize,
    /// The current limit, fractional so that growth is one per window of successes.
    limit: f64,
    in_flight: usize,
    /// Requests started so far; a decrease happens at most once per window of them.
    started: u64,
    /// `started` at the latest decrease.
    decreased_at: u64,
    /// Lowest limit reached (for reports and tests).
    lowest: usize,
    /// Growing by one per good answer, until the first sign of overload.
    slow_start: bool,
}

/// How an answer went, for the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Ok,
    /// The server is overloaded (429, 503, a timeout): back off as a whole.
    Congested,
    /// Anything else (an error that says nothing about load).
    Neutral,
}

/// A slot in the window; give it back with [`Permit::done`] (dropping it counts as neutral).
#[derive(Debug)]
pub struct Permit<'a> {
    window: &'a Window,
    returned: bool,
}

impl Window {
    /// A window of at most `max` requests, whatever the protocol.
    pub fn new(max: usize) -> Window {
        let max = max.max(1);
        Window {
            multiplexed: None,
            state: Mutex::new(State {
                max,
                limit: max.min(INITIAL) as f64,
                in_flight: 0,
                started: 0,
                decreased_at: 0,
                lowest: max.min(INITIAL),
                slow_start: true,
            }),
            freed: Notify::new(),
        }
    }

    /// fhirdl's default window: at most `max` requests over HTTP/1.1, and up to
    /// [`MULTIPLEXED`] once the server is seen to answer over HTTP/2.
    pub fn growing_over_http2(max: usize) -> Window {
        Window {
            multiplexed: Some(MULTIPLEXED.max(max)),
            ..Window::new(max)
        }
    }

    /// The server answered over HTTP/2: one connection carries every request, and the server
    /// says itself how many streams it takes at once (the client queues the rest); the maximum
    /// rises to [`MULTIPLEXED`] unless the user set it, and, while no answer has signalled
    /// overload, the window opens to it at once instead of growing there (slow start is for
    /// not knowing what the other side takes). A 429, 503 or timeout still halves it.
    pub fn multiplexed(&self) {
        if let Some(multiplexed) = self.multiplexed {
            let mut s = self.lock();
            s.max = s.max.max(multiplexed);
            if s.slow_start {
                s.limit = s.limit.max(s.max as f64);
            }
        }
    }

    /// The most requests this window may ever let into flight (as of now).
    pub fn max(&self) -> usize {
        self.lock().max
    }

    /// Waits for a free slot.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.freed.notified();
            {
                let mut s = self.lock();
                if s.in_flight < s.limit.floor().max(1.0) as usize {
                    s.in_flight += 1;
                    s.started += 1;
                    return Permit {
                        window: self,
                        returned: false,
                    };
                }
            }
            notified.await;
        }
    }

    /// The current limit (whole requests).
    pub fn limit(&self) -> usize {
        self.lock().limit.floor().max(1.0) as usize
    }

    /// The lowest limit this window reached.
    pub fn lowest(&self) -> usize {
        self.lock().lowest
    }

    fn release(&self, signal: Signal) {
        {
            let mut s = self.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
            match signal {
                Signal::Ok => {
                    let step = match s.slow_start {
                        true => 1.0,
                        false => 1.0 / s.limit.max(1.0),
                    };
                    s.limit = (s.limit + step).min(s.max as f64);
                }
                Signal::Congested => {
                    // Requests already in flight when the first 429 came back say the same
                    // thing again; one decrease per window of requests.
                    let window = s.limit.floor().max(1.0) as u64;
                    s.slow_start = false;
                    if s.decreased_at == 0 || s.started >= s.decreased_at + window {
                        s.limit = (s.limit / 2.0).max(1.0);
                        s.decreased_at = s.started.max(1);
                        s.lowest = s.lowest.min(s.limit.floor() as usize);
                    }
                }
                Signal::Neutral => {}
            }
        }
        self.freed.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Permit<'_> {
    pub fn done(mut self, signal: Signal) {
        self.returned = true;
        self.window.release(signal);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.returned {
            self.window.release(Signal::Neutral);
        }
    }
}

/// What an HTTP status says about the server's load.
pub fn signal_for(status: u16) -> Signal {
    match status {
        429 | 503 => Signal::Congested,
        s if s < 400 => Signal::Ok,
        _ => Signal::Neutral,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn never_more_in_flight_than_the_limit() {
        let w = Arc::new(Window::new(3));
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (w, now, peak) = (w.clone(), now.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let p = w.acquire().await;
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::task::yield_now().await;
                now.fetch_sub(1, Ordering::SeqCst);
                p.done(Signal::Ok);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(w.limit(), 3);
    }

    #[tokio::test]
    async fn halves_once_per_window_and_grows_back() {
        let w = Window::new(8);
        // Eight requests in flight all come back 429: one halving, not eight.
        let permits: Vec<_> = futures_util::future::join_all((0..8).map(|_| w.acquire())).await;
        for p in permits {
            p.done(Signal::Congested);
        }
        assert_eq!(w.limit(), 4);
        // The next window of requests is congested too: halves again.
        let permits: Vec<_> = futures_util::future::join_all((0..4).map(|_| w.acquire())).await;
        for p in permits {
            p.done(Signal::Congested);
        }
        assert_eq!(w.limit(), 2);
        assert_eq!(w.lowest(), 2);
        // Successes grow it back, about one per window.
        for _ in 0..40 {
            w.acquire().await.done(Signal::Ok);
        }
        assert_eq!(w.limit(), 8, "back to the maximum, never above");
        // A dropped permit frees its slot.
        drop(w.acquire().await);
        assert_eq!(w.limit(), 8);
        assert_eq!(signal_for(429), Signal::Congested);
        assert_eq!(signal_for(200), Signal::Ok);
        assert_eq!(signal_for(404), Signal::Neutral);
    }

    #[tokio::test]
    async fn starts_at_the_initial_window_and_doubles_while_answers_are_fine() {
        let w = Window::new(4 * INITIAL);
        assert_eq!(w.limit(), INITIAL);
        // One round trip: every request of the window comes back fine.
        let permits: Vec<_> =
            futures_util::future::join_all((0..INITIAL).map(|_| w.acquire())).await;
        for p in permits {
            p.done(Signal::Ok);
        }
        assert_eq!(w.limit(), 2 * INITIAL, "doubled in one round trip");
        for _ in 0..10 * INITIAL {
            w.acquire().await.done(Signal::Ok);
        }
        assert_eq!(w.limit(), 4 * INITIAL, "up to the maximum, never above");
        // After the first overload, growth is one per window of good answers.
        w.acquire().await.done(Signal::Congested);
        assert_eq!(w.limit(), 2 * INITIAL);
        for _ in 0..INITIAL {
            w.acquire().await.done(Signal::Ok);
        }
        assert_eq!(
            w.limit(),
            2 * INITIAL,
            "less than one more after half a window"
        );
        // A maximum below the initial window is where it starts.
        assert_eq!(Window::new(3).limit(), 3);
    }

    #[tokio::test]
    async fn http2_lets_the_default_window_grow_on_but_not_a_chosen_one() {
        async fn round_trip(w: &Window) {
            let permits: Vec<_> =
                futures_util::future::join_all((0..w.limit()).map(|_| w.acquire())).await;
            for p in permits {
                p.done(Signal::Ok);
            }
        }
        let default = Window::growing_over_http2(INITIAL);
        round_trip(&default).await;
        assert_eq!(default.limit(), INITIAL, "HTTP/1.1: the maximum holds");
        default.multiplexed();
        assert_eq!(default.max(), MULTIPLEXED);
        assert_eq!(
            default.limit(),
            MULTIPLEXED,
            "HTTP/2: open to the server's streams"
        );
        round_trip(&default).await;
        assert_eq!(
            default.limit(),
            MULTIPLEXED,
            "never above the HTTP/2 maximum"
        );
        // Overload still halves it, and it does not open again.
        default.acquire().await.done(Signal::Congested);
        assert_eq!(default.limit(), MULTIPLEXED / 2);
        default.multiplexed();
        assert_eq!(
            default.limit(),
            MULTIPLEXED / 2,
            "no reopening after overload"
        );

        let chosen = Window::new(32);
        chosen.multiplexed();
        round_trip(&chosen).await;
        assert_eq!(
            (chosen.max(), chosen.limit()),
            (32, 32),
            "--concurrency holds"
        );
    }
}
