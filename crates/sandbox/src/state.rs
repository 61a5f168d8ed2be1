//! State shared by all handlers: configuration, derived URLs, users, the resource store, OAuth
//! grants, request counters and the log of secrets handed out. Locks are std locks held only
//! for short, non-async sections; a poisoned lock is recovered, never a panic.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use anyhow::{bail, Context as _};
use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

use crate::assertion::ClientKeys;
use crate::catalog::{self, TypeKind};
use crate::config::{FhirFlavor, SandboxConfig, SandboxProxy, SandboxUser};
use crate::cursor::Cursors;
use crate::faults::Injector;
use crate::generator;
use crate::grants::AuthStore;
use crate::hold::Holds;
use crate::hostile::Hostile;
use crate::quirks::{self, NextLinkStyle};
use crate::ratelimit::RateCounter;
use crate::signing::SigningKeys;
use crate::stats::Stats;
use crate::store::ResourceStore;

pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub origin: Url,
    /// The origin without its trailing slash: OAuth issuer and `iss` value.
    pub issuer: String,
    /// The FHIR base URL without a trailing slash.
    pub fhir_base: String,
    /// The FHIR base path: the flavor's, plus [`crate::Quirks::base_path_suffix`].
    pub base_path: String,
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
    /// Key sets of `private_key_jwt` clients and the assertion ids already used.
    pub client_keys: ClientKeys,
    /// Clients registered dynamically (`SandboxConfig::dynamic_registration`).
    pub registrations: crate::grants::Registrations,
    /// The seeded fault injector (`SandboxConfig::faults`, changed by `Sandbox::set_faults`).
    pub faults: Injector,
    /// Requests held at the door for a test (`Sandbox::hold`).
    pub holds: Holds,
    /// Raw reads of each Binary so far (`Quirks::binary_read_limit`, `regenerated_ccda`).
    pub binary_reads: Mutex<HashMap<String, u32>>,
    /// What the `_cursor` tokens of cursor-style next links stand for.
    pub cursors: Cursors,
    /// Requests counted against `Quirks::rate_limit`.
    pub rate: RateCounter,
    /// Signs id_tokens (RS256 at first; `Sandbox::rotate_signing_key` moves to ES256).
    signing: RwLock<SigningKeys>,
    fhir_base_url: Url,
    resources: RwLock<ResourceStore>,
    auth: Mutex<AuthStore>,
    /// `config.quirks.hostile` at the start, replaceable while running (`Sandbox::set_hostile`).
    hostile: RwLock<Arc<Hostile>>,
}

impl Shared {
    pub(crate) fn new(config: SandboxConfig, origin: Url) -> anyhow::Result<Shared> {
        let issuer = origin.as_str().trim_end_matches('/').to_owned();
        let base_path = match &config.quirks.base_path_suffix {
            Some(suffix) => format!("{}/{}", config.flavor.base_path(), suffix.trim_matches('/')),
            None => config.flavor.base_path().to_owned(),
        };
        let fhir_base = format!("{issuer}{base_path}");
        let fhir_base_url = Url::parse(&fhir_base).context("building the FHIR base URL")?;
        let alternate_base_path = match config.quirks.next_link_style {
            NextLinkStyle::Offset | NextLinkStyle::Cursor => None,
            NextLinkStyle::NextGen => quirks::nextgen_base_path(&base_path),
        };
        let link_base = match &alternate_base_path {
            Some(path) => format!("{issuer}{path}"),
            None => fhir_base.clone(),
        };

        let mut resources = ResourceStore::new(config.flavor);
        if config.quirks.no_meta_last_updated {
            resources = resources.without_meta_last_updated();
        }
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
        let client_keys = ClientKeys::new(&config.client_keys)?;
        let hostile = RwLock::new(Arc::new(config.quirks.hostile.clone()));
        let faults = Injector::new(config.faults.clone());
        let config_seed = config.seed;
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
            client_keys,
            registrations: Default::default(),
            faults,
            holds: Holds::default(),
            binary_reads: Mutex::new(HashMap::new()),
            cursors: Cursors::new(config_seed),
            rate: RateCounter::default(),
            signing: RwLock::new(SigningKeys::new()?),
            fhir_base_url,
            resources: RwLock::new(resources),
            auth: Mutex::new(AuthStore::default()),
        })
    }

    /// The id_token signing keys.
    pub(crate) fn signing_keys(&self) -> RwLockReadGuard<'_, SigningKeys> {
        self.signing.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn signing_keys_mut(&self) -> RwLockWriteGuard<'_, SigningKeys> {
        self.signing.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The hostile behaviours in effect now.
    pub(crate) fn hostile(&self) -> Arc<Hostile> {
        match self.hostile.read() {
            Ok(h) => Arc::clone(&h),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn set_hostile(&self, hostile: Hostile) {
        match self.hostile.write() {
            Ok(mut h) => *h = Arc::new(hostile),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(hostile),
        }
    }

    pub(crate) fn fhir_base_url(&self) -> Url {
        self.fhir_base_url.clone()
    }

    /// The kind of a type this sandbox serves with its configuration (extra types only when
    /// the quirks ask for them); `None` for anything else.
    pub(crate) fn kind_of(&self, resource_type: &str) -> Option<TypeKind> {
        let kind = catalog::kind_of(self.config.flavor, resource_type)?;
        (self.config.quirks.serves_extra_types() || !catalog::is_extra(resource_type))
            .then_some(kind)
    }

    pub(crate) fn serves_smart_configuration(&self) -> bool {
        self.config.smart_configuration && self.config.flavor != FhirFlavor::Dstu2
    }

    pub(crate) fn resources(&self) -> RwLockReadGuard<'_, ResourceStore> {
        self.resources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn resources_mut(&self) -> RwLockWriteGuard<'_, ResourceStore> {
        self.resources
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn auth(&self) -> MutexGuard<'_, AuthStore> {
        self.auth.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one more raw read of Binary `id` and returns the count (1 for the first).
    pub(crate) fn count_binary_read(&self, id: &str) -> u32 {
        let mut reads = self
            .binary_reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = reads.entry(id.to_owned()).or_default();
        *count += 1;
        *count
    }

    pub(crate) fn user(&self, username: &str) -> Option<&SandboxUser> {
        self.users.iter().find(|u| u.username == username)
    }

    pub(crate) fn set_resource(&self, resource: Value) -> anyhow::Result<()> {
        let patient = self.owner_of(&resource)?;
        self.resources_mut()
            .insert(resource, patient, OffsetDateTime::now_utc())
    }

    /// Replaces a resource keeping its index time and `meta.lastUpdated` (Oracle Health's
    /// `_lastUpdated` moves only on "clinically significant" updates); an error when there is
    /// no such resource yet.
    pub(crate) fn set_resource_quietly(&self, resource: Value) -> anyhow::Result<()> {
        let patient = self.owner_of(&resource)?;
        let key = |k: &str| resource.get(k).and_then(Value::as_str).unwrap_or_default();
        let (resource_type, id) = (key("resourceType").to_owned(), key("id").to_owned());
        let mut store = self.resources_mut();
        let Some(old) = store.get(&resource_type, &id) else {
            bail!("{resource_type}/{id} does not exist; a quiet edit needs an existing resource");
        };
        store.insert(resource, patient, old.last_updated)
    }

    pub(crate) fn set_resource_text(&self, text: &str) -> anyhow::Result<()> {
        let resource: Value = serde_json::from_str(text).context("resource is not JSON")?;
        let patient = self.owner_of(&resource)?;
        self.resources_mut()
            .insert_text(text, patient, OffsetDateTime::now_utc())
    }

    /// The patient a resource belongs to (`None` for shared types), from its patient
    /// reference; an error for a type the sandbox does not serve or a missing reference.
    pub(crate) fn owner_of(&self, resource: &Value) -> anyhow::Result<Option<String>> {
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
pub(crate) fn patient_reference(resource: &Value, elements: &[&str]) -> Option<String> {
    elements.iter().find_map(|element| {
        let reference = resource.get(*element)?.get("reference")?.as_str()?;
        let (prefix, id) = reference.rsplit_once('/')?;
        let is_patient = prefix == "Patient" || prefix.ends_with("/Patient");
        (is_patient && catalog::is_valid_id(id)).then(|| id.to_owned())
    })
}

/// Every secret the sandbox issued or received, so tests can scan output for leaks.
#[derive(Default)]
pub(crate) struct SecretLog(Mutex<SecretList>);

/// Secrets in the order first seen, without duplicates.
#[derive(Default)]
struct SecretList {
    ordered: Vec<String>,
    seen: HashSet<String>,
}

impl SecretLog {
    pub(crate) fn record(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if log.seen.insert(secret.to_owned()) {
            log.ordered.push(secret.to_owned());
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<String> {
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
