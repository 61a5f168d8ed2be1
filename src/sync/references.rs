//! Closing the record over its references: after the searches, read the resources that stored
//! resources point at but that are not held yet (Practitioner, Organization, Location,
//! Medication…), repeatedly until nothing new turns up.
//!
//! Only references that resolve under the FHIR base are followed: relative `Type/id`, or an
//! absolute URL that starts with the base. Anything else (a terminology URL used as a reference,
//! contained `#id` references, another server) is left alone.

use super::bundle::{is_type_name, parse_page, valid_id};
use super::export::Export;
use super::merge::{MergeMode, MergeOptions};
use super::resource::Resource;
use super::spool::Spool;
use super::state::{FileStamp, State};
use crate::fhir::client::FhirClient;
use anyhow::Result;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use url::Url;

/// Ids per `_id=a,b,c` search.
pub const BATCH: usize = 50;
/// Rounds of "read what the new resources reference".
pub const MAX_ROUNDS: usize = 5;

/// A reference resolved to `(type, id)` when it points under `base`.
pub fn resolve(reference: &str, base: &Url) -> Option<(String, String)> {
    let reference = reference.trim();
    if reference.starts_with('#') || reference.is_empty() {
        return None;
    }
    let relative = if reference.contains("://") {
        let url = Url::parse(reference).ok()?;
        if url.origin() != base.origin() {
            return None;
        }
        let base_path = base.path().trim_end_matches('/');
        // NextGen changes the case of the version segment in its own URLs.
        let path = url.path();
        if path.len() <= base_path.len() || !path[..base_path.len()].eq_ignore_ascii_case(base_path)
        {
            return None;
        }
        path[base_path.len()..].trim_start_matches('/').to_string()
    } else {
        reference.to_string()
    };
    let mut parts = relative.split('/');
    let ty = parts.next()?;
    let id = parts.next()?;
    // Allowed after the id: `/_history/<version>` only.
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) | (Some("_history"), Some(_), None) => {}
        _ => return None,
    }
    (is_type_name(ty) && valid_id(id)).then(|| (ty.to_string(), id.to_string()))
}

/// Every resolvable reference inside a resource.
pub fn collect(value: &Value, base: &Url, out: &mut BTreeSet<(String, String)>) {
    let mut keys = std::collections::HashSet::new();
    collect_keys(value, base, &mut keys);
    out.extend(from_keys(keys));
}

/// Like [`collect`], into `Type/id` keys; a reference already collected costs no allocation
/// (every resource refers to the patient, most to one of a few encounters).
pub fn collect_keys(value: &Value, base: &Url, out: &mut std::collections::HashSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("reference") {
                let r = r.trim();
                if !out.contains(r) {
                    if let Some((ty, id)) = resolve(r, base) {
                        out.insert(format!("{ty}/{id}"));
                    }
                }
            }
            for v in map.values() {
                collect_keys(v, base, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, base, out)),
        _ => {}
    }
}

/// Like [`collect_keys`], for a resource read as text.
pub fn collect_resource(
    resource: &super::resource::Resource,
    base: &Url,
    out: &mut std::collections::HashSet<String>,
) {
    for r in &resource.references {
        if !out.contains(r.as_str()) {
            if let Some((ty, id)) = resolve(r, base) {
                out.insert(format!("{ty}/{id}"));
            }
        }
    }
}

/// `Type/id` keys back to pairs.
pub fn from_keys(keys: impl IntoIterator<Item = String>) -> BTreeSet<(String, String)> {
    keys.into_iter()
        .filter_map(|k| {
            k.split_once('/')
                .map(|(t, i)| (t.to_string(), i.to_string()))
        })
        .collect()
}

/// Whether the sign-in lets fhirdl read resources of `ty` (a scope without resource scopes,
/// such as none reported, is taken to allow everything: the server decides).
pub(super) fn readable(scope: &str, ty: &str) -> bool {
    let resource_scopes = scope.split_whitespace().any(|s| s.contains('/'));
    !resource_scopes || crate::auth::scopes::read_granted(scope, ty)
}

/// What one round of reads brought back: per type, id → the resource as sent; and warnings.
#[derive(Debug, Default)]
pub struct Referenced {
    pub lines: BTreeMap<String, BTreeMap<String, Resource>>,
    pub warnings: Vec<String>,
}

/// Reads the `missing` resources: an `_id` search per type and batch, falling back to single
/// reads when the server does not support it. Every batch of every type is asked at once (the
/// client's window bounds the requests on the wire). Types in `singly` are read one by one at
/// once: their searches demand a category, so an `_id` search would only be refused first
/// (NextGen's Observation and Condition; one round trip less).
pub async fn fetch(
    fhir: &FhirClient,
    missing: &BTreeSet<(String, String)>,
    singly: &BTreeSet<String>,
) -> Result<Referenced> {
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (ty, id) in missing {
        by_type.entry(ty).or_default().push(id);
    }
    let batches = by_type
        .iter()
        .flat_map(|(ty, ids)| ids.chunks(BATCH).map(move |chunk| (*ty, chunk)))
        .map(|(ty, chunk)| async move {
            let search = !singly.contains(ty);
            (ty, read_batch(fhir, ty, chunk, search).await)
        });
    let mut out = Referenced::default();
    for (ty, batch) in futures_util::future::join_all(batches).await {
        let (got, warnings) = batch?;
        out.warnings.extend(warnings);
        out.lines.entry(ty.to_string()).or_default().extend(got);
    }
    Ok(out)
}

/// One batch of ids of one type: by `_id` search (when `search`), or one read each (all at
/// once).
async fn read_batch(
    fhir: &FhirClient,
    ty: &str,
    chunk: &[&str],
    search: bool,
) -> Result<(BTreeMap<String, Resource>, Vec<String>)> {
    let mut got = BTreeMap::new();
    let mut warnings = Vec::new();
    if search && search_ids(fhir, ty, chunk, &mut got).await {
        let unresolved = chunk.iter().filter(|id| !got.contains_key(**id)).count();
        if unresolved > 0 {
            warnings.push(format!(
                "{unresolved} referenced {ty} resources were not found"
            ));
        }
        return Ok((got, warnings));
    }
    let reads = chunk
        .iter()
        .map(|id| async move { anyhow::Ok((*id, Resource::fetch(fhir, ty, id).await?)) });
    for read in futures_util::future::join_all(reads).await {
        let (id, resp) = read?;
        if let Some(resource) = resp.body {
            keep(ty, resource, &mut got);
        } else {
            warnings.push(format!(
                "{ty}/{id} is referenced but could not be read (HTTP {})",
                resp.status.as_u16()
            ));
        }
    }
    Ok((got, warnings))
}

/// `Type?_id=a,b,c`; `false` when the server refuses that search (then the caller reads).
async fn search_ids(
    fhir: &FhirClient,
    ty: &str,
    ids: &[&str],
    got: &mut BTreeMap<String, Resource>,
) -> bool {
    let joined = ids.join(",");
    let Ok(url) = fhir.search_url(ty, &[("_id", &joined)]) else {
        return false;
    };
    let mut next = Some(url);
    let mut pages = 0;
    while let Some(u) = next.take() {
        pages += 1;
        let Ok(resp) = fhir.get_with(&u, |body| parse_page(body, &u)).await else {
            return false;
        };
        let Some(page) = resp.body else {
            return false;
        };
        for r in page.resources {
            keep(ty, r, got);
        }
        next = page.next.filter(|_| pages < 100);
    }
    true
}

/// Keeps a resource read for `ty` when it is one, with a valid id.
fn keep(ty: &str, resource: Resource, got: &mut BTreeMap<String, Resource>) {
    if resource.resource_type != ty {
        return;
    }
    if let Some(id) = resource.id.clone().filter(|i| valid_id(i)) {
        got.insert(id, resource);
    }
}

/// The references phase of a sync: what it reads from, and where it reports.
pub(super) struct Closing<'a> {
    pub(super) fhir: &'a FhirClient,
    pub(super) export: &'a Arc<Export>,
    pub(super) state: &'a mut State,
    /// The references of the resources fetched in this run.
    pub(super) refs: BTreeSet<(String, String)>,
    /// Scan every stored file as well (`--full`, files changed since the state saw them).
    pub(super) scan_all: bool,
    /// When this run started: the time superseded versions are recorded with.
    pub(super) recorded_at: &'a str,
    /// Write `json/<Type>/<id>.json` too (`--format json|both`); NDJSON is always written
    /// for referenced types, since the next runs read which of them are held from it.
    pub(super) pretty: bool,
    /// The granted scopes: references to types not granted are not read.
    pub(super) scope: &'a str,
    /// Reads made while the searches ran: what was asked, and what came back.
    pub(super) early: Vec<(BTreeSet<(String, String)>, Referenced)>,
    pub(super) warnings: &'a mut Vec<String>,
    pub(super) progress: &'a super::progress::PhaseProgress,
}

/// Resources a type gained by the references phase, and what it holds afterwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Added {
    pub(super) new: usize,
    pub(super) stored: usize,
}

/// Reads referenced resources not held yet, round after round (at most [`MAX_ROUNDS`]), and
/// merges them into their files, saving the state after each; returns per type what it gained.
///
/// The references come from the resources fetched in this run; with `scan_all` (an earlier run
/// did not finish closing them, `--full`, or files changed outside fhirdl) every stored file is
/// scanned as well.
pub(super) async fn close(c: Closing<'_>) -> Result<BTreeMap<String, Added>> {
    let base = c.fhir.base().clone();
    let mut refs = c.refs;
    if c.scan_all {
        let held_types: Vec<String> = c.state.types.keys().cloned().collect();
        refs = scan_stored(c.export.clone(), held_types, base.clone(), refs).await?;
    }
    // Which of the referenced resources are held: the ids of the referenced types only.
    let mut held: HashMap<String, std::sync::Arc<super::ids::IdSet>> = HashMap::new();
    let mut added = BTreeMap::new();
    let mut tried: BTreeSet<(String, String)> = BTreeSet::new();
    let mut reads: Vec<Referenced> = Vec::new();
    for (asked, read) in c.early {
        c.progress.expect(asked.len() as u64);
        tried.extend(asked);
        reads.push(read);
    }
    for round in 0..=MAX_ROUNDS {
        if round > 0 {
            for (ty, _) in &refs {
                if !held.contains_key(ty) {
                    held.insert(ty.clone(), c.export.id_set(ty)?);
                }
            }
            let mut missing: BTreeSet<(String, String)> = refs
                .iter()
                .filter(|(ty, id)| !held.get(ty).is_some_and(|h| h.contains(id)))
                .filter(|r| !tried.contains(*r))
                .cloned()
                .collect();
            let before = missing.len();
            let mut ungranted: BTreeSet<String> = BTreeSet::new();
            missing.retain(|(ty, _)| {
                let ok = readable(c.scope, ty);
                if !ok {
                    ungranted.insert(ty.clone());
                }
                ok
            });
            if !ungranted.is_empty() {
                let names: Vec<String> = ungranted.into_iter().collect();
                c.warnings.push(format!(
                    "{} referenced resources were not read: {} not granted at sign-in",
                    before - missing.len(),
                    names.join(", ")
                ));
                tried.extend(refs.iter().filter(|(ty, _)| names.contains(ty)).cloned());
            }
            if missing.is_empty() {
                break;
            }
            tried.extend(missing.iter().cloned());
            c.progress.expect(missing.len() as u64);
            reads.push(fetch(c.fhir, &missing, &read_singly(c.state)).await?);
        }
        for read in std::mem::take(&mut reads) {
            c.warnings.extend(read.warnings);
            for (ty, lines) in read.lines {
                // The merge below notes the ids the type's file then holds; asked again.
                held.remove(&ty);
                let gained = store(
                    c.export,
                    c.state,
                    &ty,
                    lines,
                    &base,
                    (c.pretty, c.recorded_at),
                    &mut refs,
                )?;
                c.progress.done(gained.new as u64);
                let slot: &mut Added = added.entry(ty).or_default();
                slot.new += gained.new;
                slot.stored = gained.stored;
            }
        }
    }
    if !c.state.references_closed {
        c.state.references_closed = true;
        c.export.save_state(c.state)?;
    }
    Ok(added)
}

/// The types whose searches demand a category (see [`fetch`]).
pub(super) fn read_singly(state: &super::state::State) -> BTreeSet<String> {
    state
        .types
        .iter()
        .filter(|(_, t)| t.needs_category)
        .map(|(ty, _)| ty.clone())
        .collect()
}

/// Adds the references of every stored resource of `types` to `refs` (off the async workers:
/// it reads whole files).
async fn scan_stored(
    export: Arc<Export>,
    types: Vec<String>,
    base: Url,
    mut refs: BTreeSet<(String, String)>,
) -> Result<BTreeSet<(String, String)>> {
    tokio::task::spawn_blocking(move || -> Result<_> {
        for ty in types {
            let mut keys = HashSet::new();
            export.for_each(&ty, |_, line| {
                collect_resource(&Resource::from_text(line), &base, &mut keys);
            })?;
            refs.extend(from_keys(keys));
        }
        Ok(refs)
    })
    .await
    .map_err(|e| anyhow::anyhow!("a sync task failed: {e}"))?
}

/// Merges the referenced resources read for `ty` into its file, records the type in the state,
/// and adds what they refer to in turn to `refs`.
pub(super) fn store(
    export: &Export,
    state: &mut State,
    ty: &str,
    lines: BTreeMap<String, Resource>,
    base: &Url,
    (pretty, recorded_at): (bool, &str),
    refs: &mut BTreeSet<(String, String)>,
) -> Result<Added> {
    if lines.is_empty() {
        return Ok(Added::default());
    }
    let mut spool = Spool::new(&crate::export_layout::private_dir(export.dir()));
    let mut keys = HashSet::new();
    for (id, resource) in lines {
        collect_resource(&resource, base, &mut keys);
        spool.insert(id, resource.line)?;
    }
    refs.extend(from_keys(keys));
    let merged = export.merge(
        ty,
        spool.into_sorted()?,
        &MergeOptions {
            mode: MergeMode::Upsert,
            ndjson: true,
            pretty,
            dry_run: false,
            history_at: Some(recorded_at),
            note_unseen: 0,
            gone: None,
        },
    )?;
    let entry = state.types.entry(ty.to_string()).or_default();
    entry.count = merged.stored;
    entry.synced_at = crate::datetime::now_rfc3339();
    entry.file = FileStamp::of(&export.ndjson_path(ty));
    export.save_state(state)?;
    Ok(Added {
        new: merged.new,
        stored: merged.stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Url {
        Url::parse("https://h.example/fhir/r4").unwrap()
    }

    #[test]
    fn resolves_only_under_the_base() {
        let b = base();
        let ok = |r: &str| resolve(r, &b);
        assert_eq!(
            ok("Practitioner/p1"),
            Some(("Practitioner".into(), "p1".into()))
        );
        assert_eq!(
            ok("https://h.example/fhir/r4/Location/l.1"),
            Some(("Location".into(), "l.1".into()))
        );
        assert_eq!(
            ok("https://h.example/fhir/R4/Location/x"),
            Some(("Location".into(), "x".into()))
        );
        assert_eq!(
            ok("Organization/o/_history/3"),
            Some(("Organization".into(), "o".into()))
        );
        for bad in [
            "#contained",
            "http://snomed.info/sct/123",
            "https://other.example/fhir/r4/Practitioner/p",
            "https://h.example/other/Practitioner/p",
            "Practitioner/../../etc",
            "practitioner/p",
            "Practitioner",
            "Practitioner/p/extra",
            "",
            "urn:uuid:1234",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_match_pairs() {
        let base = Url::parse("https://x/fhir").unwrap();
        let v = serde_json::json!({"subject": {"reference": "Patient/p"},
            "a": [{"reference": "https://x/fhir/Practitioner/d/_history/2"},
                  {"reference": "Patient/p"}, {"reference": "#c"}, {"reference": "https://y/fhir/Location/l"}]});
        let mut pairs = BTreeSet::new();
        collect(&v, &base, &mut pairs);
        let mut keys = std::collections::HashSet::new();
        collect_keys(&v, &base, &mut keys);
        assert_eq!(from_keys(keys), pairs);
        assert_eq!(pairs.len(), 2);
    }

    #[test]
    fn collects_nested_references() {
        let r = json!({"resourceType": "Encounter", "participant": [{"individual": {"reference": "Practitioner/a"}}],
            "location": [{"location": {"reference": "Location/b"}}], "subject": {"reference": "Patient/p"},
            "x": {"reference": 5}});
        let mut out = BTreeSet::new();
        collect(&r, &base(), &mut out);
        assert_eq!(out.len(), 3);
    }
}
