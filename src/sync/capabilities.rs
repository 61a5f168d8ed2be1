//! The server's CapabilityStatement, cached for a day so that a sync can plan without a round
//! trip before its first search: in the export (`.fhirdl/capabilities.json`), and per server in
//! fhirdl's data folder (`cache/capabilities-<hash of the FHIR base>.json`), where `fhirdl
//! login` leaves the statement it reads for discovery, so the first sync after a sign-in needs
//! no `/metadata` request either. Each copy is bound to the FHIR base it came from; `--full`
//! reads afresh; a run that sees a sign the server changed (a planned type answered 404,
//! `_lastUpdated` refused) drops both, so the next run reads it again.

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

/// The copy in an export folder.
pub(super) fn in_export(export: &Path) -> PathBuf {
    crate::export_layout::capabilities_path(export)
}

/// The copy of one server's statement in fhirdl's data folder.
pub fn for_server(data_dir: &Path, fhir_base: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(fhir_base.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    data_dir
        .join("cache")
        .join(format!("capabilities-{hex}.json"))
}

/// The statement of `fhir_base` cached in fhirdl's data folder (by the last sign-in or sync),
/// when it is younger than a day.
pub fn cached(data_dir: &Path, fhir_base: &str) -> Option<serde_json::Value> {
    load(&for_server(data_dir, fhir_base), fhir_base)
}

/// The statement of `fhir_base` cached in `file`, when it is younger than a day.
pub(super) fn load(file: &Path, fhir_base: &str) -> Option<serde_json::Value> {
    let cached: Cached = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    let at = crate::datetime::parse_rfc3339(&cached.fetched_at)?;
    let age = crate::datetime::now_unix() - at;
    (cached.fhir_base == fhir_base
        && (0..MAX_AGE_SECS).contains(&age)
        && cached.metadata.is_object())
    .then_some(cached.metadata)
}

/// Caches `metadata` in `file` (its folder is made, owner-only, when missing).
pub fn save(file: &Path, fhir_base: &str, metadata: &serde_json::Value) -> Result<()> {
    if !metadata.is_object() {
        return Ok(());
    }
    if let Some(dir) = file.parent() {
        crate::atomic::create_private_dir(dir)?;
    }
    let cached = Cached {
        fhir_base: fhir_base.to_string(),
        fetched_at: crate::datetime::now_rfc3339(),
        metadata: metadata.clone(),
    };
    write_atomic(file, &serde_json::to_vec(&cached)?)
}

/// Drops a cached copy (best effort: a cache that cannot be removed is at most a day old).
pub(super) fn forget(file: &Path) {
    let _ = crate::atomic::remove_if_exists(file);
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
        let file = in_export(dir.path());
        let m = serde_json::json!({"resourceType": "CapabilityStatement"});
        assert!(load(&file, "https://a/fhir").is_none());
        save(&file, "https://a/fhir", &m).unwrap();
        assert_eq!(load(&file, "https://a/fhir"), Some(m.clone()));
        assert!(load(&file, "https://b/fhir").is_none());
        let stale = Cached {
            fhir_base: "https://a/fhir".into(),
            fetched_at: "2020-01-01T00:00:00Z".into(),
            metadata: m,
        };
        write_atomic(&file, &serde_json::to_vec(&stale).unwrap()).unwrap();
        assert!(load(&file, "https://a/fhir").is_none());
        forget(&file);
        assert!(!file.exists());
    }

    #[test]
    fn one_file_per_server_in_the_data_folder() {
        let data = Path::new("/data");
        let a = for_server(data, "https://a/fhir");
        assert!(a.starts_with("/data/cache"));
        assert_ne!(a, for_server(data, "https://b/fhir"));
        assert_eq!(a, for_server(data, "https://a/fhir"));
    }
}
