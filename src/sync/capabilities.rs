//! The server's CapabilityStatement, cached in the export (`.fhirdl/capabilities.json`) for a
//! day so that a sync can plan without a round trip before its first search. The cache is
//! bound to the FHIR base it came from; `--full` reads afresh; a run that sees a sign the
//! server changed (a planned type answered 404, `_lastUpdated` refused) drops it, so the next
//! run reads it again.

use super::TypeReport;
use crate::atomic::write_atomic;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How long a cached CapabilityStatement is used.
const MAX_AGE_SECS: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
struct Cached {
    fhir_base: String,
    fetched_at: String,
    metadata: serde_json::Value,
}

fn path(export: &Path) -> PathBuf {
    export.join(".fhirdl").join("capabilities.json")
}

/// The cached statement of `fhir_base`, when it is younger than a day.
pub(super) fn load(export: &Path, fhir_base: &str) -> Option<serde_json::Value> {
    let cached: Cached = serde_json::from_slice(&std::fs::read(path(export)).ok()?).ok()?;
    let at = crate::datetime::parse_rfc3339(&cached.fetched_at)?;
    let age = crate::datetime::now_unix() - at;
    (cached.fhir_base == fhir_base
        && (0..MAX_AGE_SECS).contains(&age)
        && cached.metadata.is_object())
    .then_some(cached.metadata)
}

pub(super) fn save(export: &Path, fhir_base: &str, metadata: &serde_json::Value) -> Result<()> {
    if !metadata.is_object() {
        return Ok(());
    }
    let cached = Cached {
        fhir_base: fhir_base.to_string(),
        fetched_at: crate::datetime::now_rfc3339(),
        metadata: metadata.clone(),
    };
    write_atomic(&path(export), &serde_json::to_vec(&cached)?)
}

/// Drops the cache (best effort: a cache that cannot be removed is at most a day old).
pub(super) fn forget(export: &Path) {
    let _ = crate::atomic::remove_if_exists(&path(export));
}

/// Whether a type's outcome suggests the statement no longer describes the server.
pub(super) fn shows_change(report: &TypeReport) -> bool {
    let not_offered = report
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("(404)"));
    let dates_refused = report
        .warnings
        .iter()
        .any(|w| w.contains("refused _lastUpdated"));
    not_offered || dates_refused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_for_the_same_server() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".fhirdl")).unwrap();
        let m = serde_json::json!({"resourceType": "CapabilityStatement"});
        assert!(load(dir.path(), "https://a/fhir").is_none());
        save(dir.path(), "https://a/fhir", &m).unwrap();
        assert_eq!(load(dir.path(), "https://a/fhir"), Some(m.clone()));
        assert!(load(dir.path(), "https://b/fhir").is_none());
        let stale = Cached {
            fhir_base: "https://a/fhir".into(),
            fetched_at: "2020-01-01T00:00:00Z".into(),
            metadata: m,
        };
        write_atomic(&path(dir.path()), &serde_json::to_vec(&stale).unwrap()).unwrap();
        assert!(load(dir.path(), "https://a/fhir").is_none());
        forget(dir.path());
        assert!(!path(dir.path()).exists());
    }
}
