//! The export folder on disk: `<Type>.ndjson` files sorted by id, optional pretty JSON per
//! resource, `manifest.json`, and `.fhirdl/` (sync state, lock, removed resources).
//!
//! Every write is atomic ([`crate::fsutil::write_atomic`]); folders are 0700 and files 0600.
//! Names of files come from validated resource types and ids only, so nothing is written
//! outside the folder.

use super::bundle::valid_id;
use crate::error::{Failure, Kind};
use crate::fsutil::{create_private_dir, write_atomic};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One type's resources: id → the resource as one compact JSON line.
pub type Lines = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub fhir_base: String,
    #[serde(default)]
    pub patient: String,
    #[serde(default)]
    pub types: BTreeMap<String, TypeState>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TypeState {
    /// `_lastUpdated` mark for the next incremental query (RFC 3339, server time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
    pub count: usize,
    pub synced_at: String,
}

/// The outcome of the latest run, for `fhirdl status` (kept apart from the data and the state).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LastRun {
    pub finished_at: String,
    pub resources: usize,
    pub requests: u64,
    #[serde(default)]
    pub failed: Vec<String>,
}

/// Reads `<dir>/.fhirdl/last_run.json`, if a sync ever finished there.
pub fn last_run(dir: &Path) -> Option<LastRun> {
    let bytes = std::fs::read(dir.join(".fhirdl").join("last_run.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub struct Export {
    dir: PathBuf,
    _lock: std::fs::File,
}

impl Export {
    /// Opens (creating) the folder and takes its lock.
    pub fn open(dir: &Path) -> Result<Export> {
        create_private_dir(&dir.join(".fhirdl"))?;
        let lock_path = dir.join(".fhirdl").join("lock");
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let lock = options
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Failure::new(
                    Kind::Locked,
                    format!("another fhirdl sync is writing to {}", dir.display()),
                )
                .hint(
                    "wait for it to finish (or add --wait), or sync into another folder with --out",
                )
                .into())
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
            }
        }
        // Under the lock: what a killed run left half-written is garbage now.
        crate::fsutil::remove_stale_temp_files(dir)?;
        Ok(Export {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// Like [`Export::open`], but waits (polling every half second, up to `max`) while another
    /// sync holds the lock.
    pub async fn open_waiting(dir: &Path, max: std::time::Duration) -> Result<Export> {
        let started = std::time::Instant::now();
        loop {
            match Export::open(dir) {
                Err(e)
                    if crate::error::exit_code(&e) == Kind::Locked.exit_code()
                        && started.elapsed() < max =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                other => return other,
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ndjson_path(&self, resource_type: &str) -> PathBuf {
        self.dir.join(format!("{resource_type}.ndjson"))
    }

    /// The stored resources of a type (empty when there is no file yet).
    pub fn load(&self, resource_type: &str) -> Result<Lines> {
        let path = self.ndjson_path(resource_type);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lines::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut lines = Lines::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: serde_json::Value = serde_json::from_str(line).with_context(|| {
                format!(
                    "{} line {} is not JSON; move the file away and sync again",
                    path.display(),
                    n + 1
                )
            })?;
            if let Some(id) = v.get("id").and_then(|i| i.as_str()).filter(|i| valid_id(i)) {
                lines.insert(id.to_string(), line.to_string());
            }
        }
        Ok(lines)
    }

    /// Replaces a type's NDJSON file (and its pretty JSON files with `pretty`).
    pub fn write(&self, resource_type: &str, lines: &Lines, pretty: bool) -> Result<()> {
        let mut text = String::with_capacity(lines.values().map(|l| l.len() + 1).sum());
        for line in lines.values() {
            text.push_str(line);
            text.push('\n');
        }
        // The pretty files first: the NDJSON file is the commit point. A run killed in between
        // leaves the old NDJSON, so the next run sees the change again and writes them all;
        // the other way round, a type whose NDJSON was saved would never get its missing
        // pretty files (an unchanged type is not written again).
        if pretty {
            let dir = self.dir.join("json").join(resource_type);
            create_private_dir(&dir)?;
            // Ids equal but for case get distinct names (see sync::naming).
            let stems = super::naming::stems(lines.keys().map(String::as_str));
            for (id, line) in lines {
                let v: serde_json::Value = serde_json::from_str(line)?;
                let pretty = serde_json::to_string_pretty(&v)?;
                let stem = stems.get(id).map_or(id.as_str(), String::as_str);
                if stem != id {
                    // A bare name from before the twin arrived would shadow it on a
                    // case-insensitive file system.
                    crate::fsutil::remove_if_exists(&dir.join(format!("{id}.json")))?;
                }
                write_atomic(&dir.join(format!("{stem}.json")), pretty.as_bytes())?;
            }
        }
        // manifest.json says what is coming before the file is replaced (see sync::manifest).
        super::manifest::announce(
            &self.dir,
            &format!("{resource_type}.ndjson"),
            &super::manifest::FileEntry::of(resource_type, text.as_bytes()),
        )?;
        write_atomic(&self.ndjson_path(resource_type), text.as_bytes())?;
        Ok(())
    }

    /// Keeps resources the server no longer returns under `.fhirdl/removed/<stamp>/`.
    pub fn keep_removed(&self, stamp: &str, resource_type: &str, removed: &Lines) -> Result<()> {
        if removed.is_empty() {
            return Ok(());
        }
        let dir = self.dir.join(".fhirdl").join("removed").join(stamp);
        create_private_dir(&dir)?;
        let text: String = removed.values().map(|l| format!("{l}\n")).collect();
        write_atomic(
            &dir.join(format!("{resource_type}.ndjson")),
            text.as_bytes(),
        )
    }

    pub fn load_state(&self) -> Result<State> {
        let path = self.dir.join(".fhirdl").join("state.json");
        match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Saves the sync state; callers do this only after the data it describes is on disk.
    pub fn save_state(&self, state: &State) -> Result<()> {
        let text = serde_json::to_vec_pretty(state)?;
        write_atomic(&self.dir.join(".fhirdl").join("state.json"), &text)
    }

    pub fn save_last_run(&self, run: &LastRun) -> Result<()> {
        write_atomic(
            &self.dir.join(".fhirdl").join("last_run.json"),
            &serde_json::to_vec_pretty(run)?,
        )
    }

    /// Writes `manifest.json`: what is in the folder, with a sha256 per file.
    pub fn write_manifest(&self, header: serde_json::Value, types: &[String]) -> Result<()> {
        let mut files = serde_json::Map::new();
        for ty in types {
            let path = self.ndjson_path(ty);
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let count = bytes.iter().filter(|b| **b == b'\n').count();
            files.insert(
                format!("{ty}.ndjson"),
                serde_json::json!({
                    "type": ty,
                    "count": count,
                    "bytes": bytes.len(),
                    "sha256": hex(&Sha256::digest(&bytes)),
                }),
            );
        }
        let mut doc = header;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("files".into(), serde_json::Value::Object(files));
        }
        // Rewritten only when something besides the time changed.
        let path = self.dir.join("manifest.json");
        let old: Option<serde_json::Value> = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let without_time = |v: &serde_json::Value| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("synced_at");
            }
            v
        };
        if old.as_ref().map(without_time) != Some(without_time(&doc)) {
            write_atomic(&path, &serde_json::to_vec_pretty(&doc)?)?;
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_load_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Export::open(dir.path()).unwrap();
        let err = Export::open(dir.path())
            .err()
            .expect("second open must be refused");
        assert_eq!(crate::error::exit_code(&err), 8);
        let mut lines = Lines::new();
        lines.insert(
            "b".into(),
            r#"{"id":"b","resourceType":"Condition"}"#.into(),
        );
        lines.insert(
            "a".into(),
            r#"{"id":"a","resourceType":"Condition"}"#.into(),
        );
        ex.write("Condition", &lines, true).unwrap();
        let text = std::fs::read_to_string(dir.path().join("Condition.ndjson")).unwrap();
        assert!(text.starts_with(r#"{"id":"a""#), "sorted by id: {text}");
        assert_eq!(ex.load("Condition").unwrap(), lines);
        assert!(dir.path().join("json/Condition/a.json").exists());
        ex.write_manifest(serde_json::json!({"patient": "p"}), &["Condition".into()])
            .unwrap();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(m["files"]["Condition.ndjson"]["count"], 2);
        drop(ex);
        assert!(
            Export::open(dir.path()).is_ok(),
            "the lock is released with the export"
        );
    }
}
