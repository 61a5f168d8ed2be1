//! The request counters: [`SandboxStats`], what a test reads, and [`Stats`], the atomic
//! counters the handlers and the request intake bump while the sandbox runs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::faults::FaultKind;

/// Request counters, for tests that must prove a request was (or was not) made.
///
/// `requests` counts every request; `fhir_requests` those under the FHIR base (metadata and
/// smart-configuration included); `token_requests` every POST to the token endpoint;
/// `refresh_grants` token requests with `grant_type=refresh_token` (successful or not);
/// `revocations` authenticated revocation requests; `jwks_requests` GETs of the JWKS; `authorize_requests` GET and POST to the
/// authorize endpoint (login and consent steps included); `unauthorized` responses with status 401;
/// `pages_served` search responses with status 200 (a `_summary=count` answer included);
/// `max_in_flight` the most FHIR requests (under either base path spelling) being answered at
/// once, latency included; `quickest_fhir_answer` the shortest time from a FHIR request's arrival
/// to its answer (latency and holds included), so a test can see the latency applied without
/// timing anything itself; `http2_requests` the requests (of every kind) that came over HTTP/2,
/// which only a TLS sandbox offers; `faults` the faults injected, per kind, since the sandbox
/// started; `rate_limited` the requests refused with 429 by `Quirks::rate_limit`.
#[derive(Clone, Debug, Default)]
pub struct SandboxStats {
    pub requests: u64,
    pub fhir_requests: u64,
    pub token_requests: u64,
    pub refresh_grants: u64,
    pub revocations: u64,
    pub jwks_requests: u64,
    pub authorize_requests: u64,
    pub unauthorized: u64,
    pub pages_served: u64,
    pub max_in_flight: u64,
    pub quickest_fhir_answer: Option<Duration>,
    pub http2_requests: u64,
    pub rate_limited: u64,
    /// Dynamic client registrations made, deleted (RFC 7592), and JWT bearer grants asked.
    pub registrations: u64,
    pub unregistrations: u64,
    pub jwt_bearer_grants: u64,
    pub faults: BTreeMap<FaultKind, u64>,
}

#[derive(Default)]
pub(crate) struct Stats {
    pub requests: AtomicU64,
    pub fhir_requests: AtomicU64,
    pub token_requests: AtomicU64,
    pub refresh_grants: AtomicU64,
    pub revocations: AtomicU64,
    pub jwks_requests: AtomicU64,
    pub authorize_requests: AtomicU64,
    pub unauthorized: AtomicU64,
    pub pages_served: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    /// Nanoseconds of the quickest FHIR answer, plus one (0: none yet).
    quickest_fhir_answer: AtomicU64,
    pub http2_requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub registrations: AtomicU64,
    pub unregistrations: AtomicU64,
    pub jwt_bearer_grants: AtomicU64,
}

impl Stats {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn answered_fhir(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let _ =
            self.quickest_fhir_answer
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    (old == 0 || nanos < old).then_some(nanos)
                });
    }

    pub(crate) fn snapshot(&self) -> SandboxStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SandboxStats {
            requests: get(&self.requests),
            fhir_requests: get(&self.fhir_requests),
            token_requests: get(&self.token_requests),
            refresh_grants: get(&self.refresh_grants),
            revocations: get(&self.revocations),
            jwks_requests: get(&self.jwks_requests),
            authorize_requests: get(&self.authorize_requests),
            unauthorized: get(&self.unauthorized),
            pages_served: get(&self.pages_served),
            max_in_flight: get(&self.max_in_flight),
            quickest_fhir_answer: get(&self.quickest_fhir_answer)
                .checked_sub(1)
                .map(Duration::from_nanos),
            http2_requests: get(&self.http2_requests),
            rate_limited: get(&self.rate_limited),
            registrations: get(&self.registrations),
            unregistrations: get(&self.unregistrations),
            jwt_bearer_grants: get(&self.jwt_bearer_grants),
            faults: Default::default(),
        }
    }
}

/// One FHIR request being answered; leaving (also when the client hangs up and the handler
/// future is dropped) decrements the count.
pub(crate) struct InFlight<'a>(&'a Stats);

impl<'a> InFlight<'a> {
    pub(crate) fn enter(stats: &'a Stats) -> InFlight<'a> {
        let now = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(stats)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
