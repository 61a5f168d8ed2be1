//! State shared by all handlers: configuration, derived URLs, users, the resource store, OAuth
//! grants, request counters and the log of secrets handed out. Locks are std locks held only
//! for short, non-async sections; a poisoned lock is recovered, never a panic.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

use super::catalog::{self, TypeKind};
use super::faults::{self, Injector};
use super::grants::AuthStore;
use super::hold::Holds;
use super::quirks;
use super::signing::SigningKeys;
use super::store::ResourceStore;
use super::{
    generator, FhirFlavor, NextLinkStyle, SandboxConfig, SandboxProxy, SandboxStats, SandboxUser,
};

pub(super) struct Shared {
    pub config: SandboxConfig,
    pub origin: Url,
    /// The origin without its trailing slash: OAuth issuer and `iss` value.
    pub issuer: String,
    /// The FHIR base URL without a trailing slash.
    pub fhir_base: String,
    pub base_path: &'static str,
    /// The second spelling of the base path served for NextGen-style next links (`/fhir/R4`).
    pub alternate_base_path: Option<String>,
    /// Where `self` and `next` links of searchsets point (the FHIR base, or its NextGen
    /// spelling), without a trailing slash.
    pub link_base: String,
    pub users: Vec<SandboxUser>,
    /// A parent or caregiver who may sign in for every patient.
    pub proxy: SandboxProxy,
    pub stats: Stats,
    pub secrets: SecretLog,
    /// The seeded fault injector (`SandboxConfig::faults`, changed by `Sandbox::set_faults`).
    pub faults: Injector,
    /// Requests held at the door for a test (`Sandbox::hold`).
    pub holds: Holds,
    /// Signs id_tokens (RS256 at first; `Sandbox::rotate_signing_key` moves to ES256).
    signing: RwLock<SigningKeys>,
    fhir_base_url: Url,
    resources: RwLock<ResourceStore>,
    auth: Mutex<AuthStore>,
    /// `config.quirks.hostile` at the start, replaceable while running (`Sandbox::set_hostile`).
    hostile: RwLock<Arc<super::hostile::Hostile>>,
}

impl Shared {
    pub(super) fn new(config: SandboxConfig, origin: Url) -> anyhow::Result<Shared> {
        let issuer = origin.as_str().trim_end_matches('/').to_owned();
        let base_path = config.flavor.base_path();
        let fhir_base = format!("{issuer}{base_path}");
        let fhir_base_url = Url::parse(&fhir_base).context("building the FHIR base URL")?;
        let alternate_base_path = match config.quirks.next_link_style {
            NextLinkStyle::Offset => None,
            NextLinkStyle::NextGen => quirks::nextgen_base_path(base_path),
        };
        let link_base = match &alternate_base_path {
            Some(path) => format!("{issuer}{path}"),
            None => fhir_base.clone(),
        };

        let mut resources = ResourceStore::new(config.flavor);
        let mut failure = None;
        let users = generator::generate(&config, &fhir_base, &mut |generated| {
            let stored = resources.insert(
                generated.resource,
                generated.patient,
                generated.last_updated,
            );
            if let Err(error) = stored {
                failure.get_or_insert(error);
            }
        });
        if let Some(error) = failure {
            return Err(error.context("storing a generated resource"));
        }
        let proxy = SandboxProxy {
            username: "carol".to_owned(),
            password: "carol-sandbox".to_owned(),
            display_name: "Pat Proxy".to_owned(),
            related_person_id: "proxy-carol".to_owned(),
            patients: users.iter().map(|u| u.patient_id.clone()).collect(),
        };
        let secrets = SecretLog::default();
        if let Some((_, client_secret)) = &config.confidential_client {
            secrets.record(client_secret);
        }
        let hostile = RwLock::new(Arc::new(config.quirks.hostile.clone()));
        let faults = Injector::new(config.faults.clone());
        Ok(Shared {
            hostile,
            config,
            origin,
            issuer,
            fhir_base,
            base_path,
            alternate_base_path,
            link_base,
            users,
            proxy,
            stats: Stats::default(),
            secrets,
            faults,
            holds: Holds::default(),
            signing: RwLock::new(SigningKeys::new()?),
            fhir_base_url,
            resources: RwLock::new(resources),
            auth: Mutex::new(AuthStore::default()),
        })
    }

    /// The id_token signing keys.
    pub(super) fn signing_keys(&self) -> RwLockReadGuard<'_, SigningKeys> {
        self.signing.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn signing_keys_mut(&self) -> RwLockWriteGuard<'_, SigningKeys> {
        self.signing.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The hostile behaviours in effect now.
    pub(super) fn hostile(&self) -> Arc<super::hostile::Hostile> {
        match self.hostile.read() {
            Ok(h) => Arc::clone(&h),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(super) fn set_hostile(&self, hostile: super::hostile::Hostile) {
        match self.hostile.write() {
            Ok(mut h) => *h = Arc::new(hostile),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(hostile),
        }
    }

    pub(super) fn fhir_base_url(&self) -> Url {
        self.fhir_base_url.clone()
    }

    /// The kind of a type this sandbox serves with its configuration (extra types only when
    /// the quirks ask for them); `None` for anything else.
    pub(super) fn kind_of(&self, resource_type: &str) -> Option<TypeKind> {
        let kind = catalog::kind_of(self.config.flavor, resource_type)?;
        (self.config.quirks.serves_extra_types() || !catalog::is_extra(resource_type))
            .then_some(kind)
    }

    pub(super) fn serves_smart_configuration(&self) -> bool {
        self.config.smart_configuration && self.config.flavor != FhirFlavor::Dstu2
    }

    pub(super) fn resources(&self) -> RwLockReadGuard<'_, ResourceStore> {
        self.resources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn resources_mut(&self) -> RwLockWriteGuard<'_, ResourceStore> {
        self.resources
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn auth(&self) -> MutexGuard<'_, AuthStore> {
        self.auth.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn user(&self, username: &str) -> Option<&SandboxUser> {
        self.users.iter().find(|u| u.username == username)
    }

    pub(super) fn set_resource(&self, resource: Value) -> anyhow::Result<()> {
        let patient = self.owner_of(&resource)?;
        self.resources_mut()
            .insert(resource, patient, OffsetDateTime::now_utc())
    }

    pub(super) fn set_resource_text(&self, text: &str) -> anyhow::Result<()> {
        let resource: Value = serde_json::from_str(text).context("resource is not JSON")?;
        let patient = self.owner_of(&resource)?;
        self.resources_mut()
            .insert_text(text, patient, OffsetDateTime::now_utc())
    }

    /// The patient a resource belongs to (`None` for shared types), from its patient
    /// reference; an error for a type the sandbox does not serve or a missing reference.
    pub(super) fn owner_of(&self, resource: &Value) -> anyhow::Result<Option<String>> {
        let resource_type = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .context("resource has no resourceType")?;
        let kind = self
            .kind_of(resource_type)
            .with_context(|| format!("the sandbox does not serve {resource_type} resources"))?;
        let patient = match kind {
            TypeKind::Shared => None,
            TypeKind::Patient => resource
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            TypeKind::Clinical => {
                let element = catalog::patient_element(self.config.flavor, resource_type);
                let owner = patient_reference(resource, &[element, "subject", "patient"]);
                if owner.is_none() {
                    bail!("{resource_type} needs a Patient reference in `{element}`");
                }
                owner
            }
            TypeKind::Binary => {
                let owner = patient_reference(resource, &["securityContext", "patient"]);
                if owner.is_none() {
                    bail!("Binary needs securityContext referencing its Patient");
                }
                owner
            }
        };
        Ok(patient)
    }
}

/// The patient id from the first of `elements` holding `{"reference": "Patient/<id>"}`
/// (relative or absolute).
pub(super) fn patient_reference(resource: &Value, elements: &[&str]) -> Option<String> {
    elements.iter().find_map(|element| {
        let reference = resource.get(*element)?.get("reference")?.as_str()?;
        let (prefix, id) = reference.rsplit_once('/')?;
        let is_patient = prefix == "Patient" || prefix.ends_with("/Patient");
        (is_patient && catalog::is_valid_id(id)).then(|| id.to_owned())
    })
}

#[derive(Default)]
pub(super) struct Stats {
    requests: AtomicU64,
    fhir_requests: AtomicU64,
    token_requests: AtomicU64,
    pub refresh_grants: AtomicU64,
    pub revocations: AtomicU64,
    pub jwks_requests: AtomicU64,
    authorize_requests: AtomicU64,
    unauthorized: AtomicU64,
    pub pages_served: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    /// Nanoseconds of the quickest FHIR answer, plus one (0: none yet).
    quickest_fhir_answer: AtomicU64,
    http2_requests: AtomicU64,
}

impl Stats {
    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn answered_fhir(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let _ =
            self.quickest_fhir_answer
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    (old == 0 || nanos < old).then_some(nanos)
                });
    }

    pub(super) fn snapshot(&self) -> SandboxStats {
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
            faults: Default::default(),
        }
    }
}

/// Middleware counting requests by endpoint and protocol, FHIR requests in flight and 401 responses, holding
/// the requests a test asked for (`hold`), adding the configured latency and injecting the
/// planned faults (`faults`).
pub(super) async fn count_request(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let arrived = Instant::now();
    let stats = &shared.stats;
    Stats::bump(&stats.requests);
    if request.version() == axum::http::Version::HTTP_2 {
        Stats::bump(&stats.http2_requests);
    }
    let path = request.uri().path();
    // The path after the FHIR base (either spelling), for FHIR requests.
    let under = |base: &str| {
        path.strip_prefix(base)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(str::to_owned)
    };
    let fhir_rest =
        under(shared.base_path).or_else(|| shared.alternate_base_path.as_deref().and_then(under));
    let mut _in_flight = None;
    if let Some(rest) = &fhir_rest {
        Stats::bump(&stats.fhir_requests);
        _in_flight = Some(InFlight::enter(stats));
        let target = match request.uri().query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.clone(),
        };
        shared.holds.pass(&target).await;
    } else if path == "/oauth/authorize" {
        Stats::bump(&stats.authorize_requests);
    } else if path == "/oauth/token" {
        Stats::bump(&stats.token_requests);
    }
    let latency = shared.config.quirks.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match fhir_rest {
        Some(rest) => {
            let response = faults::apply(&shared, &rest, request, next).await;
            stats.answered_fhir(arrived.elapsed());
            response
        }
        None => next.run(request).await,
    };
    if response.status() == StatusCode::UNAUTHORIZED {
        Stats::bump(&stats.unauthorized);
    }
    response
}

/// One FHIR request being answered; leaving (also when the client hangs up and the handler
/// future is dropped) decrements the count.
struct InFlight<'a>(&'a Stats);

impl<'a> InFlight<'a> {
    fn enter(stats: &'a Stats) -> InFlight<'a> {
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

/// Every secret the sandbox issued or received, so tests can scan output for leaks.
#[derive(Default)]
pub(super) struct SecretLog(Mutex<SecretList>);

/// Secrets in the order first seen, without duplicates.
#[derive(Default)]
struct SecretList {
    ordered: Vec<String>,
    seen: HashSet<String>,
}

impl SecretLog {
    pub(super) fn record(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if log.seen.insert(secret.to_owned()) {
            log.ordered.push(secret.to_owned());
        }
    }

    pub(super) fn snapshot(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ordered
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patient_references_may_be_relative_or_absolute() {
        let r = json!({"subject": {"reference": "http://x/fhir/Patient/p-1"}});
        assert_eq!(patient_reference(&r, &["subject"]), Some("p-1".into()));
        let r = json!({"patient": {"reference": "Patient/p-2"}});
        assert_eq!(
            patient_reference(&r, &["subject", "patient"]),
            Some("p-2".into())
        );
        let r = json!({"subject": {"reference": "Group/g"}});
        assert_eq!(patient_reference(&r, &["subject"]), None);
    }
}
