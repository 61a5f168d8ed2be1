//! Holds: a test hook that stops chosen FHIR requests at the sandbox's door until the test lets
//! them go, so the test can act while a request is provably in flight (a Ctrl-C in the middle of
//! an export, several requests being answered at once) instead of sleeping and hoping.
//!
//! `Sandbox::hold` makes a [`Hold`]; the request intake (`intake::count_request`)
//! calls [`Holds::pass`] for every FHIR request before the configured latency and the faults.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A hold on the FHIR requests whose path and query contain a text; see
/// `Sandbox::hold`. Dropping it releases it.
pub struct Hold(Arc<Gate>);

struct Gate {
    matching: String,
    /// How many matching requests arrived while the hold was in force.
    held: Mutex<usize>,
    arrived: Condvar,
    /// `true` once released; held requests wait for it.
    open: watch::Sender<bool>,
}

impl Hold {
    /// Blocks the calling thread until at least `n` matching requests are held, or `timeout`
    /// has passed; returns whether they are. Call it from a thread that is not one of the
    /// sandbox's runtime workers (a test's own thread, or the future given to `block_on`).
    pub fn wait_held(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut held = self.0.held.lock().unwrap_or_else(PoisonError::into_inner);
        while *held < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            held = self
                .0
                .arrived
                .wait_timeout(held, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// How many matching requests have arrived and been held so far.
    pub fn held(&self) -> usize {
        *self.0.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets the held requests go on and every later matching request pass.
    pub fn release(&self) {
        self.0.open.send_replace(true);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.release();
    }
}

/// The holds in force, shared by all handlers.
#[derive(Default)]
pub(crate) struct Holds(Mutex<Vec<Arc<Gate>>>);

impl Holds {
    pub(crate) fn add(&self, matching: &str) -> Hold {
        let gate = Arc::new(Gate {
            matching: matching.to_owned(),
            held: Mutex::new(0),
            arrived: Condvar::new(),
            open: watch::Sender::new(false),
        });
        let mut gates = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        gates.retain(|g| !*g.open.borrow());
        gates.push(Arc::clone(&gate));
        Hold(gate)
    }

    /// Waits while a hold in force matches `target` (path and query of the request).
    pub(crate) async fn pass(&self, target: &str) {
        let matching: Vec<Arc<Gate>> = {
            let gates = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if gates.is_empty() {
                return;
            }
            gates
                .iter()
                .filter(|g| target.contains(g.matching.as_str()))
                .cloned()
                .collect()
        };
        for gate in matching {
            let mut open = gate.open.subscribe();
            if *open.borrow_and_update() {
                continue;
            }
            *gate.held.lock().unwrap_or_else(PoisonError::into_inner) += 1;
            gate.arrived.notify_all();
            // The sender lives as long as the gate we hold an Arc to: no error to handle.
            let _ = open.wait_for(|released| *released).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hold_stops_matching_requests_until_released() {
        let holds = Arc::new(Holds::default());
        let hold = holds.add("/Observation?");
        holds.pass("/Condition?patient=p").await;
        let waiting = {
            let holds = Arc::clone(&holds);
            tokio::spawn(async move { holds.pass("/Observation?patient=p").await })
        };
        let hold = tokio::task::spawn_blocking(move || {
            assert!(hold.wait_held(1, Duration::from_secs(30)));
            hold
        })
        .await
        .unwrap();
        assert!(!waiting.is_finished());
        hold.release();
        waiting.await.unwrap();
        holds.pass("/Observation?patient=p").await;
        assert_eq!(hold.held(), 1, "after the release requests pass");
    }
}
