//! What a sync remembers between runs (`.fhirdl/state.json`) and what `fhirdl status` shows of
//! the latest one (`.fhirdl/last_run.json`).
//!
//! The state is saved only after the data it describes is on disk: a mark never runs ahead of
//! the file it marks.

use super::attachments::Problem;
use super::outstanding::Outstanding;
use crate::atomic::write_atomic;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `.fhirdl/state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub fhir_base: String,
    #[serde(default)]
    pub patient: String,
    #[serde(default)]
    pub types: BTreeMap<String, TypeState>,
    /// Whether every reference of the stored resources was followed (set after the last
    /// reference round; cleared when a type changes). When unset, the next sync scans every
    /// stored file for references instead of only the resources it fetched.
    #[serde(default)]
    pub references_closed: bool,
    /// Whether the last attachment pass went through every DocumentReference and
    /// DiagnosticReport without a failure (else the next sync does it again).
    #[serde(default)]
    pub attachments_complete: bool,
    /// What earlier runs could not store and later runs try again (see [`super::outstanding`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outstanding: Vec<Outstanding>,
    /// What comparing `Patient/$everything` with the per-type searches showed (see
    /// [`super::everything`]); `None` until it was compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub everything: Option<EverythingState>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TypeState {
    /// `_lastUpdated` mark for the next incremental query (RFC 3339, server time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
    pub count: usize,
    pub synced_at: String,
    /// The NDJSON file as this state last saw it: a file that no longer matches was changed
    /// by a run that stopped before saving its state (or by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileStamp>,
    /// The server refused the plain search for want of a category: later runs fan out at once
    /// (saves a request per run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_category: bool,
    /// The server refused the plain search for want of a status or an intent: later runs ask
    /// for every value at once from the start (saves a refused request per run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_every: Option<super::fanout::Demand>,
    /// Narrowed searches the server refused with 400 (`category=procedure`): later runs do not
    /// send them again, `--full` does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_queries: Vec<String>,
    /// Incremental search parameters the server refused with 400 (`_lastUpdated`, `date`):
    /// later runs choose another one or fetch the type whole, `--full` forgets them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_since: Vec<String>,
    /// When the type was last fetched whole and compared (RFC 3339, the run's start): what
    /// the copy is known to be fresh as of, edits included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
    /// How complete the type's copy was after the run that last fetched it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<super::Completeness>,
    /// The granular scope queries the type was last fetched with (`category=laboratory`);
    /// `None`: the whole type. A run with another grant fetches the type whole again, since
    /// the mark says nothing about what the old grant left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted: Option<String>,
}

/// Size, modification time and inode of a file: a replaced file (fhirdl renames a new one
/// in) never keeps all three.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub len: u64,
    pub modified_ns: u128,
    #[serde(default)]
    pub inode: u64,
}

impl FileStamp {
    pub fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        let modified_ns = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            len: meta.len(),
            modified_ns,
            inode,
        })
    }
}

/// The outcome of the latest run, for `fhirdl status` (kept apart from the data and the state).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LastRun {
    pub finished_at: String,
    pub resources: usize,
    pub requests: u64,
    /// Types that failed.
    #[serde(default)]
    pub failed: Vec<String>,
    /// Documents that could not be saved.
    #[serde(default)]
    pub failed_documents: Vec<Problem>,
    /// Resources the server returned that were not stored.
    #[serde(default)]
    pub dropped: Vec<super::Dropped>,
    /// How complete each type's copy is, by type.
    #[serde(default)]
    pub completeness: BTreeMap<String, super::Completeness>,
    /// Everything not stored after this run, from this run or earlier ones, with when it was
    /// first seen.
    #[serde(default)]
    pub outstanding: Vec<Outstanding>,
    /// How each searched type was fetched and what its copy is fresh as of, by type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub freshness: BTreeMap<String, super::freshness::Freshness>,
}

fn state_path(dir: &Path) -> PathBuf {
    crate::export_layout::state_path(dir)
}

fn last_run_path(dir: &Path) -> PathBuf {
    crate::export_layout::last_run_path(dir)
}

impl State {
    /// The state of the export in `dir` (empty when there is none, or it cannot be parsed: the
    /// next run then fetches everything whole).
    pub fn load(dir: &Path) -> Result<State> {
        let path = state_path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Saves the state; callers do this only after the data it describes is on disk.
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_atomic(&state_path(dir), &serde_json::to_vec_pretty(self)?)
    }

    /// [`State::save`] without the folder's fsync (see [`super::export::Export::save_state`]).
    pub fn save_in_batch(&self, dir: &Path) -> Result<()> {
        crate::atomic::write_atomic_in_batch(&state_path(dir), &serde_json::to_vec_pretty(self)?)
    }
}

impl LastRun {
    /// The latest run in `dir`, if a sync ever finished there.
    pub fn load(dir: &Path) -> Option<LastRun> {
        let bytes = std::fs::read(last_run_path(dir)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        write_atomic(&last_run_path(dir), &serde_json::to_vec_pretty(self)?)
    }
}

/// What the state remembers of `Patient/$everything` on this server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EverythingState {
    /// Every type's ids were the same as the per-type searches' when last compared.
    pub complete: bool,
    /// When it was last compared (or found lacking).
    pub checked_at: String,
    /// Requests (pages) and response bytes of the operation.
    pub requests: u64,
    pub bytes: u64,
    /// Requests (pages) and response bytes of the per-type searches it was compared with.
    pub per_type_requests: u64,
    pub per_type_bytes: u64,
    /// What differed (`Condition: 3 of 12 missing`), when it was not complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
}

impl EverythingState {
    /// Whether a whole fetch should use the operation: it proved complete and cheaper.
    pub fn preferred(&self) -> bool {
        self.complete && self.requests < self.per_type_requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_and_last_run_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".fhirdl")).unwrap();
        assert!(State::load(dir.path()).unwrap().types.is_empty());
        assert!(LastRun::load(dir.path()).is_none());
        let mut state = State {
            patient: "p".into(),
            ..State::default()
        };
        state.types.insert(
            "Condition".into(),
            TypeState {
                mark: Some("2026-01-01T00:00:00Z".into()),
                count: 3,
                ..TypeState::default()
            },
        );
        state.save(dir.path()).unwrap();
        let back = State::load(dir.path()).unwrap();
        assert_eq!(back.types["Condition"].count, 3);
        // A state file from before `Patient/$everything` was compared loads without it.
        std::fs::write(
            dir.path().join(".fhirdl/state.json"),
            br#"{"patient": "p", "types": {}}"#,
        )
        .unwrap();
        assert!(State::load(dir.path()).unwrap().everything.is_none());
        // A damaged state file is a state to rebuild, not an error.
        std::fs::write(dir.path().join(".fhirdl/state.json"), b"{").unwrap();
        assert!(State::load(dir.path()).unwrap().types.is_empty());
        LastRun {
            resources: 5,
            ..LastRun::default()
        }
        .save(dir.path())
        .unwrap();
        assert_eq!(LastRun::load(dir.path()).unwrap().resources, 5);
    }
}
