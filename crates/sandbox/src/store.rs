//! The resource store: every resource serialised once, indexed by type+id and by
//! (patient, type) in `(lastUpdated, id)` order so search pages are cheap slices even with
//! 100,000 resources per patient. No locking here; `shared` wraps it in an `RwLock`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::catalog::{self, TypeKind};
use crate::config::FhirFlavor;
use crate::instant::{element_range, format_instant};

/// `(system, code)` of one category coding; the system may be empty.
pub(crate) type Coding = (String, String);

/// Index order: last update (unix nanoseconds), then id.
pub(crate) type SortKey = (i128, String);

/// A resource as served: its JSON text plus what search and access checks need.
#[derive(Debug)]
pub(crate) struct StoredResource {
    pub resource_type: String,
    pub id: String,
    pub patient: Option<String>,
    pub version: u64,
    pub last_updated: OffsetDateTime,
    pub categories: Vec<Coding>,
    /// Codings of the `code` element, for `code=` searches.
    pub codes: Vec<Coding>,
    /// `(search parameter, [start, end))` of each date search parameter the resource has a
    /// value for (see `catalog::date_params`), in unix nanoseconds.
    pub dates: Vec<(&'static str, (i128, i128))>,
    pub json: String,
    /// For Binary: content type and decoded bytes.
    pub content: Option<(String, Vec<u8>)>,
}

impl StoredResource {
    pub(crate) fn sort_key(&self) -> SortKey {
        (self.last_updated.unix_timestamp_nanos(), self.id.clone())
    }
}

pub(crate) type TypeIndex = BTreeMap<SortKey, Arc<StoredResource>>;

pub(crate) struct ResourceStore {
    flavor: FhirFlavor,
    /// Write `meta.lastUpdated` into resources (off for Epic, `Quirks::no_meta_last_updated`;
    /// the index keeps its time all the same).
    meta_last_updated: bool,
    by_key: HashMap<(String, String), Arc<StoredResource>>,
    /// patient id → resource type → resources in search order.
    by_patient: HashMap<String, HashMap<String, TypeIndex>>,
}

impl ResourceStore {
    pub(crate) fn new(flavor: FhirFlavor) -> Self {
        ResourceStore {
            flavor,
            meta_last_updated: true,
            by_key: HashMap::new(),
            by_patient: HashMap::new(),
        }
    }

    /// A store whose resources carry no `meta.lastUpdated`.
    pub(crate) fn without_meta_last_updated(mut self) -> Self {
        self.meta_last_updated = false;
        self
    }

    /// Inserts or replaces `resource`, writing `meta.versionId` (previous + 1) and
    /// `meta.lastUpdated`.
    pub(crate) fn insert(
        &mut self,
        resource: Value,
        patient: Option<String>,
        last_updated: OffsetDateTime,
    ) -> anyhow::Result<()> {
        let stored = self.prepare(resource, patient, last_updated)?;
        self.put(stored);
        Ok(())
    }

    /// Like [`ResourceStore::insert`], but serves `text` exactly as given (its number texts,
    /// key order, escapes and whitespace), with only `"meta":{…},` put in front of its first
    /// key. `text` must be a resource without a top-level `meta`.
    pub(crate) fn insert_text(
        &mut self,
        text: &str,
        patient: Option<String>,
        last_updated: OffsetDateTime,
    ) -> anyhow::Result<()> {
        let resource: Value = serde_json::from_str(text).context("resource is not JSON")?;
        if resource.get("meta").is_some() {
            bail!("a resource given as text must leave `meta` to the sandbox");
        }
        let mut stored = self.prepare(resource, patient, last_updated)?;
        let open = text.find('{').context("resource is not a JSON object")?;
        let mut meta = json!({"versionId": stored.version.to_string()});
        if self.meta_last_updated {
            meta["lastUpdated"] = json!(format_instant(last_updated));
        }
        let rest = &text[open + 1..];
        let comma = if rest.trim_start().starts_with('}') {
            ""
        } else {
            ","
        };
        stored.json = format!("{}{{\"meta\":{meta}{comma}{rest}", &text[..open]);
        self.put(stored);
        Ok(())
    }

    /// Everything [`ResourceStore::insert`] checks and computes, without changing the store
    /// (a transaction prepares all its entries before it puts any).
    pub(crate) fn prepare(
        &self,
        mut resource: Value,
        patient: Option<String>,
        last_updated: OffsetDateTime,
    ) -> anyhow::Result<StoredResource> {
        let resource_type = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .context("resource has no resourceType")?
            .to_owned();
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .context("resource has no id")?
            .to_owned();
        if catalog::kind_of(self.flavor, &resource_type).is_none() {
            bail!("the sandbox does not serve {resource_type} resources");
        }
        if !catalog::is_valid_id(&id) {
            bail!("{id:?} is not a valid FHIR id");
        }
        let version = self
            .get(&resource_type, &id)
            .map_or(1, |old| old.version + 1);
        let meta = resource
            .as_object_mut()
            .context("resource is not a JSON object")?
            .entry("meta")
            .or_insert_with(|| json!({}));
        if !meta.is_object() {
            *meta = json!({});
        }
        meta["versionId"] = json!(version.to_string());
        if self.meta_last_updated {
            meta["lastUpdated"] = json!(format_instant(last_updated));
        }

        let content = if resource_type == "Binary" {
            Some(binary_content(&resource)?)
        } else {
            None
        };
        Ok(StoredResource {
            dates: dates(&resource, &resource_type),
            categories: codings(&resource, "category"),
            codes: codings(&resource, "code"),
            json: resource.to_string(),
            resource_type,
            id,
            patient,
            version,
            last_updated,
            content,
        })
    }

    /// Puts a prepared resource in place of any with its type and id.
    pub(crate) fn put(&mut self, stored: StoredResource) {
        self.remove(&stored.resource_type, &stored.id);
        let stored = Arc::new(stored);
        if let Some(patient) = &stored.patient {
            self.by_patient
                .entry(patient.clone())
                .or_default()
                .entry(stored.resource_type.clone())
                .or_default()
                .insert(stored.sort_key(), Arc::clone(&stored));
        }
        self.by_key.insert(
            (stored.resource_type.clone(), stored.id.clone()),
            Arc::clone(&stored),
        );
    }

    pub(crate) fn get(&self, resource_type: &str, id: &str) -> Option<Arc<StoredResource>> {
        self.by_key
            .get(&(resource_type.to_owned(), id.to_owned()))
            .cloned()
    }

    pub(crate) fn remove(&mut self, resource_type: &str, id: &str) -> bool {
        let Some(old) = self
            .by_key
            .remove(&(resource_type.to_owned(), id.to_owned()))
        else {
            return false;
        };
        if let Some(patient) = &old.patient {
            if let Some(index) = self
                .by_patient
                .get_mut(patient)
                .and_then(|types| types.get_mut(resource_type))
            {
                index.remove(&old.sort_key());
            }
        }
        true
    }

    /// The patient's resources of one type in search order.
    pub(crate) fn patient_index(&self, patient: &str, resource_type: &str) -> Option<&TypeIndex> {
        self.by_patient.get(patient)?.get(resource_type)
    }

    pub(crate) fn count_for_patient(&self, patient: &str) -> usize {
        self.by_patient.get(patient).map_or(0, |types| {
            types
                .iter()
                .filter(|(t, _)| catalog::kind_of(self.flavor, t) != Some(TypeKind::Binary))
                .map(|(_, index)| index.len())
                .sum()
        })
    }
}

/// The codings of `element`, whether it is an array of concepts (R4 `category`) or a single
/// concept (DSTU2 `category`, `code`).
fn codings(resource: &Value, element: &str) -> Vec<Coding> {
    let concepts: Vec<&Value> = match resource.get(element) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(concept @ Value::Object(_)) => vec![concept],
        _ => Vec::new(),
    };
    concepts
        .into_iter()
        .filter_map(|c| c.get("coding")?.as_array())
        .flatten()
        .filter_map(|coding| {
            let code = coding.get("code")?.as_str()?;
            let system = coding.get("system").and_then(Value::as_str).unwrap_or("");
            Some((system.to_owned(), code.to_owned()))
        })
        .collect()
}

/// The ranges of the type's date search parameters found in `resource`.
fn dates(resource: &Value, resource_type: &str) -> Vec<(&'static str, (i128, i128))> {
    catalog::date_params(resource_type)
        .iter()
        .filter_map(|(name, elements)| {
            let range = elements.iter().find_map(|path| {
                let value = path.split('.').try_fold(resource, |v, key| v.get(key))?;
                element_range(value)
            })?;
            Some((*name, range))
        })
        .collect()
}

/// A Binary's bytes: `data` in R4, `content` in DSTU2.
fn binary_content(resource: &Value) -> anyhow::Result<(String, Vec<u8>)> {
    let content_type = resource
        .get("contentType")
        .and_then(Value::as_str)
        .context("Binary has no contentType")?;
    let data = resource
        .get("data")
        .or_else(|| resource.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let bytes = STANDARD
        .decode(data)
        .context("Binary data is not valid base64")?;
    Ok((content_type.to_owned(), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn replacing_bumps_the_version_and_moves_the_index_entry() {
        let mut store = ResourceStore::new(FhirFlavor::R4);
        let obs = json!({"resourceType": "Observation", "id": "o1",
            "category": [{"coding": [{"system": "s", "code": "laboratory"}]}]});
        let p = Some("p1".to_owned());
        store
            .insert(obs.clone(), p.clone(), datetime!(2020-01-01 0:00 UTC))
            .unwrap();
        store
            .insert(obs, p, datetime!(2021-01-01 0:00 UTC))
            .unwrap();
        let stored = store.get("Observation", "o1").unwrap();
        assert_eq!(stored.version, 2);
        assert_eq!(
            stored.categories,
            vec![("s".to_owned(), "laboratory".to_owned())]
        );
        assert!(stored.json.contains(r#""versionId":"2""#));
        assert_eq!(store.patient_index("p1", "Observation").unwrap().len(), 1);
        assert_eq!(store.count_for_patient("p1"), 1);
        assert!(store.remove("Observation", "o1"));
        assert!(!store.remove("Observation", "o1"));
        assert_eq!(store.count_for_patient("p1"), 0);
    }

    #[test]
    fn date_elements_are_indexed_by_search_parameter() {
        let mut store = ResourceStore::new(FhirFlavor::R4);
        let now = OffsetDateTime::now_utc();
        let condition = json!({"resourceType": "Condition", "id": "c1",
            "recordedDate": "2024-02-01", "onsetPeriod": {"start": "2023-01-01"}});
        store.insert(condition, Some("p".into()), now).unwrap();
        let stored = store.get("Condition", "c1").unwrap();
        let names: Vec<&str> = stored.dates.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["recorded-date", "onset-date"]);
        assert_eq!(stored.dates[1].1 .1, i128::MAX);
        let specimen = json!({"resourceType": "Specimen", "id": "s1",
            "collection": {"collectedDateTime": "2024-02-01T10:00:00Z"}});
        store.insert(specimen, Some("p".into()), now).unwrap();
        assert_eq!(store.get("Specimen", "s1").unwrap().dates.len(), 1);
        let bare = json!({"resourceType": "Procedure", "id": "p1"});
        store.insert(bare, Some("p".into()), now).unwrap();
        assert!(store.get("Procedure", "p1").unwrap().dates.is_empty());
    }

    #[test]
    fn rejects_unknown_types_bad_ids_and_bad_binaries() {
        let mut store = ResourceStore::new(FhirFlavor::R4);
        let now = OffsetDateTime::now_utc();
        for bad in [
            json!({"resourceType": "Spaceship", "id": "x"}),
            json!({"resourceType": "Observation", "id": "a/b"}),
            json!({"resourceType": "Observation"}),
            json!({"resourceType": "Binary", "id": "b", "contentType": "text/plain", "data": "!"}),
            json!(["not", "an", "object"]),
        ] {
            assert!(store.insert(bad, None, now).is_err());
        }
    }
}
