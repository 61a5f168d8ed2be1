//! Seeded fault injection for the FHIR data endpoints (searches, reads, Binary and document
//! downloads): the failures real servers and networks produce, chosen reproducibly.
//!
//! Whether a request fails, and how, is a pure function of the plan's seed, the request (method,
//! path and query, with `_lastUpdated` values reduced to their comparator so that an incremental
//! run's time stamps do not change the draw) and how many times that exact request was seen
//! before. It never depends on a global request counter, so concurrent requests in any order
//! draw the same faults. A request seen `max_per_request` times is never faulted again: every
//! injected fault is transient unless the plan says otherwise (`max_per_request: u32::MAX`).
//! The token kinds act on the auth store (the presented access token expires, or its whole
//! grant is revoked) and then let the request through, so the handler answers 401 itself.
//! `metadata`, the SMART configuration and the OAuth endpoints are never faulted.
//!
//! This file owns the plan and the draws; what a faulted request gets back is `intake`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// One kind of injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// 429 with `Retry-After: <seconds>`.
    TooManyRequestsSeconds,
    /// 429 with `Retry-After: <HTTP-date>`.
    TooManyRequestsDate,
    /// 500 with an OperationOutcome.
    InternalServerError,
    /// 502 with a proxy's HTML page.
    BadGateway,
    /// 503 with an OperationOutcome.
    ServiceUnavailable,
    /// 504 with a proxy's HTML page.
    GatewayTimeout,
    /// Status and headers, then the connection breaks before the first body byte.
    ResetBeforeBody,
    /// The real answer's first half (chunked), then the connection breaks.
    ResetMidBody,
    /// The real answer's first half with a `Content-Length` of that half: a complete-looking,
    /// invalid body.
    TruncatedWithLength,
    /// `Content-Length` of the whole answer, the first half of it, then the connection closes.
    TruncatedWithoutLength,
    /// Status 200, `application/fhir+json`, a body that is not valid JSON.
    InvalidJson,
    /// Status 200, `text/html`: a portal's login page.
    HtmlLoginPage,
    /// The answer comes after [`FaultPlan::slow`] (longer than the client's timeout).
    Slow,
    /// The presented access token expires now (the request gets 401; a refresh helps).
    AccessTokenExpired,
    /// The presented token's grant is revoked, refresh token included (a permanent fault:
    /// only a new sign-in helps).
    RefreshTokenRevoked,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 15] = [
        FaultKind::TooManyRequestsSeconds,
        FaultKind::TooManyRequestsDate,
        FaultKind::InternalServerError,
        FaultKind::BadGateway,
        FaultKind::ServiceUnavailable,
        FaultKind::GatewayTimeout,
        FaultKind::ResetBeforeBody,
        FaultKind::ResetMidBody,
        FaultKind::TruncatedWithLength,
        FaultKind::TruncatedWithoutLength,
        FaultKind::InvalidJson,
        FaultKind::HtmlLoginPage,
        FaultKind::Slow,
        FaultKind::AccessTokenExpired,
        FaultKind::RefreshTokenRevoked,
    ];

    /// The kinds a client can get past by retrying (or refreshing): all but
    /// [`FaultKind::RefreshTokenRevoked`].
    pub fn transient() -> Vec<FaultKind> {
        FaultKind::ALL
            .into_iter()
            .filter(|k| *k != FaultKind::RefreshTokenRevoked)
            .collect()
    }

    /// A short stable name, for tallies.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::TooManyRequestsSeconds => "429-retry-after-seconds",
            FaultKind::TooManyRequestsDate => "429-retry-after-date",
            FaultKind::InternalServerError => "500",
            FaultKind::BadGateway => "502",
            FaultKind::ServiceUnavailable => "503",
            FaultKind::GatewayTimeout => "504",
            FaultKind::ResetBeforeBody => "reset-before-body",
            FaultKind::ResetMidBody => "reset-mid-body",
            FaultKind::TruncatedWithLength => "truncated-matching-length",
            FaultKind::TruncatedWithoutLength => "truncated-short-of-length",
            FaultKind::InvalidJson => "invalid-json-200",
            FaultKind::HtmlLoginPage => "html-login-page-200",
            FaultKind::Slow => "slow",
            FaultKind::AccessTokenExpired => "access-token-expired",
            FaultKind::RefreshTokenRevoked => "refresh-token-revoked",
        }
    }
}

/// What to inject, and how often.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    pub seed: u64,
    /// Probability in [0, 1] that one eligible request is faulted.
    pub rate: f64,
    /// The kinds drawn from, uniformly; an empty list injects nothing.
    pub kinds: Vec<FaultKind>,
    /// A request seen this many times already is answered normally: at most this many faults
    /// hit one request (keep it below the client's retry budget for transient faults;
    /// `u32::MAX` makes them permanent).
    pub max_per_request: u32,
    /// Only requests for these types (the first path segment after the base; NextGen document
    /// downloads count as `Binary`); `None`: every data endpoint.
    pub types: Option<Vec<String>>,
    /// `Retry-After` of the 429 kinds (the HTTP-date form names now + this).
    pub retry_after: Duration,
    /// How long [`FaultKind::Slow`] holds the answer back.
    pub slow: Duration,
}

impl FaultPlan {
    /// Every transient kind at `rate`, at most 3 faults per request, `Retry-After: 0`, slow
    /// answers after 3 s.
    pub fn transient(seed: u64, rate: f64) -> FaultPlan {
        FaultPlan {
            seed,
            rate,
            kinds: FaultKind::transient(),
            max_per_request: 3,
            types: None,
            retry_after: Duration::ZERO,
            slow: Duration::from_secs(3),
        }
    }

    /// `kind` on every request for `types` (or every data request), every time.
    pub fn permanent(kind: FaultKind, types: Option<Vec<String>>) -> FaultPlan {
        FaultPlan {
            seed: 0,
            rate: 1.0,
            kinds: vec![kind],
            max_per_request: u32::MAX,
            types,
            retry_after: Duration::ZERO,
            slow: Duration::from_secs(3),
        }
    }
}

/// The plan in force, the requests seen under it and what was injected.
#[derive(Default)]
pub(crate) struct Injector(Mutex<InjectorState>);

#[derive(Default)]
struct InjectorState {
    plan: Option<FaultPlan>,
    /// Per request key: times seen, and the fault drawn the last time.
    seen: HashMap<String, (u32, Option<FaultKind>)>,
    tally: BTreeMap<FaultKind, u64>,
}

impl Injector {
    pub(crate) fn new(plan: Option<FaultPlan>) -> Injector {
        Injector(Mutex::new(InjectorState {
            plan,
            ..InjectorState::default()
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, InjectorState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the plan and forgets the requests seen (the tally stays).
    pub(crate) fn set_plan(&self, plan: Option<FaultPlan>) {
        let mut state = self.state();
        state.plan = plan;
        state.seen.clear();
    }

    pub(crate) fn tally(&self) -> BTreeMap<FaultKind, u64> {
        self.state().tally.clone()
    }

    /// The fault for this request, if any (recorded in the tally).
    pub(crate) fn decide(&self, resource_type: &str, key: &str) -> Option<(FaultKind, FaultPlan)> {
        let mut guard = self.state();
        let state = &mut *guard;
        let plan = state.plan.as_ref()?;
        if let Some(types) = &plan.types {
            if !types.iter().any(|t| t == resource_type) {
                return None;
            }
        }
        let entry = state.seen.entry(key.to_owned()).or_insert((0, None));
        let n = entry.0;
        entry.0 = n.saturating_add(1);
        let mut kind = draw(plan, key, n);
        // A token that has just been refreshed is not expired again by the same request: a
        // real token lives for minutes, and a client may fairly give up on a fresh token
        // refused twice in a row.
        if kind == Some(FaultKind::AccessTokenExpired) && entry.1 == kind {
            kind = None;
        }
        entry.1 = kind;
        let kind = kind?;
        *state.tally.entry(kind).or_default() += 1;
        Some((kind, plan.clone()))
    }
}

/// The pure draw: the fault for the `n`-th sighting (from 0) of request `key` under `plan`.
pub fn draw(plan: &FaultPlan, key: &str, n: u32) -> Option<FaultKind> {
    if plan.kinds.is_empty() || n >= plan.max_per_request {
        return None;
    }
    let h = mix(mix(plan.seed ^ fnv1a(key.as_bytes())) ^ u64::from(n));
    // 53 random bits as a fraction in [0, 1).
    let unit = (h >> 11) as f64 / (1u64 << 53) as f64;
    if unit >= plan.rate {
        return None;
    }
    let pick = mix(h) % plan.kinds.len() as u64;
    plan.kinds.get(usize::try_from(pick).ok()?).copied()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The splitmix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `GET /fhir/r4/Observation?patient=p&_lastUpdated=ge…`: the key of a request, with
/// `_lastUpdated` values reduced to their comparator prefix.
pub fn request_key(method: &str, path: &str, query: Option<&str>) -> String {
    let mut key = format!("{method} {path}");
    if let Some(query) = query {
        key.push('?');
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("_lastUpdated", value)) => {
                    let comparator: String = value
                        .chars()
                        .take_while(char::is_ascii_alphabetic)
                        .collect();
                    format!("_lastUpdated={comparator}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        key.push_str(&parts.join("&"));
    }
    key
}

/// The resource type a data request is about (`rest` is the path after the base path,
/// starting with `/`); `None` for metadata, the SMART configuration and the base itself.
pub(crate) fn data_type(rest: &str) -> Option<&str> {
    let first = rest.strip_prefix('/')?.split('/').next()?;
    match first {
        "" | "metadata" | ".well-known" => None,
        "document" => Some("Binary"),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_a_function_of_seed_request_and_sighting() {
        let plan = FaultPlan::transient(7, 0.5);
        let key = request_key("GET", "/fhir/r4/Observation", Some("patient=p&_count=50"));
        let first: Vec<_> = (0..3).map(|n| draw(&plan, &key, n)).collect();
        let again: Vec<_> = (0..3).map(|n| draw(&plan, &key, n)).collect();
        assert_eq!(first, again);
        assert_eq!(draw(&plan, &key, 3), None, "max_per_request");
        // Over many requests the rate holds and every kind turns up.
        let mut faulted = 0;
        let mut kinds = std::collections::HashSet::new();
        for i in 0..20_000 {
            if let Some(k) = draw(&plan, &format!("GET /x/{i}"), 0) {
                faulted += 1;
                kinds.insert(k);
            }
        }
        assert!((9_000..11_000).contains(&faulted), "{faulted}");
        assert_eq!(kinds.len(), FaultKind::transient().len());
        let other = FaultPlan::transient(8, 0.5);
        let differs = (0..100).any(|i| {
            let k = format!("GET /x/{i}");
            draw(&plan, &k, 0) != draw(&other, &k, 0)
        });
        assert!(differs, "another seed draws other faults");
        assert_eq!(draw(&FaultPlan::transient(7, 0.0), &key, 0), None);
    }

    #[test]
    fn keys_ignore_last_updated_instants_and_data_types_skip_metadata() {
        let a = request_key(
            "GET",
            "/fhir/r4/Condition",
            Some("patient=p&_lastUpdated=ge2026-01-01T00%3A00%3A00Z"),
        );
        let b = request_key(
            "GET",
            "/fhir/r4/Condition",
            Some("patient=p&_lastUpdated=ge2026-02-03T10%3A00%3A00Z"),
        );
        assert_eq!(a, b);
        assert_eq!(a, "GET /fhir/r4/Condition?patient=p&_lastUpdated=ge");
        assert_eq!(data_type("/metadata"), None);
        assert_eq!(data_type("/.well-known/smart-configuration"), None);
        assert_eq!(data_type(""), None);
        assert_eq!(data_type("/Observation"), Some("Observation"));
        assert_eq!(data_type("/Binary/b-1"), Some("Binary"));
        assert_eq!(data_type("/document/pdf-1"), Some("Binary"));
    }

    #[test]
    fn a_permanent_plan_faults_every_sighting_of_its_types_only() {
        let injector = Injector::new(Some(FaultPlan::permanent(
            FaultKind::ServiceUnavailable,
            Some(vec!["Condition".into()]),
        )));
        for _ in 0..10 {
            let got = injector.decide("Condition", "GET /c").map(|(k, _)| k);
            assert_eq!(got, Some(FaultKind::ServiceUnavailable));
        }
        assert!(injector.decide("Observation", "GET /o").is_none());
        assert_eq!(injector.tally()[&FaultKind::ServiceUnavailable], 10);
        injector.set_plan(None);
        assert!(injector.decide("Condition", "GET /c").is_none());
    }

    #[test]
    fn token_expiry_never_hits_the_same_request_twice_in_a_row() {
        let mut plan = FaultPlan::permanent(FaultKind::AccessTokenExpired, None);
        plan.max_per_request = 10;
        let injector = Injector::new(Some(plan));
        let got: Vec<_> = (0..4)
            .map(|_| injector.decide("Observation", "GET /o").map(|(k, _)| k))
            .collect();
        let e = Some(FaultKind::AccessTokenExpired);
        assert_eq!(got, vec![e, None, e, None]);
    }
}
