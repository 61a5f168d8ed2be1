//! Keeping `manifest.json` true at every moment, even while a sync runs or after one was killed.
//!
//! The end of a run writes the whole manifest ([`super::export::Export::write_manifest`]). Before
//! that, every NDJSON file is replaced as soon as its type is done, so a run killed in between
//! would leave a manifest that describes the files of the previous run. To keep the manifest
//! usable for checking a backup at any moment, fhirdl *announces* each replacement first: the
//! file's entry gets the new `sha256` (and `count`, `bytes`) plus `previous_sha256`, the hash of
//! the version on disk at that moment (`null` when there is none). Only then is the file
//! replaced. So, at every instant, each listed file is either the version its `sha256` describes
//! or the one its `previous_sha256` describes; a finished run writes the manifest afresh, without
//! `previous_sha256`.

use crate::atomic::write_atomic;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// What the manifest says of one NDJSON file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub resource_type: String,
    /// Lines (resources) in the file.
    pub count: usize,
    pub bytes: usize,
    /// Lower-case hex.
    pub sha256: String,
}

impl FileEntry {
    /// The entry for `bytes` about to become `<type>.ndjson`.
    pub fn of(resource_type: &str, bytes: &[u8]) -> FileEntry {
        FileEntry {
            resource_type: resource_type.to_string(),
            count: bytes.iter().filter(|b| **b == b'\n').count(),
            bytes: bytes.len(),
            sha256: sha256_hex(bytes),
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Records in `<dir>/manifest.json`, before `<dir>/<file>` is replaced, that the file is about to
/// become `entry` (with `previous_sha256` = the hash of what is on disk now). Call it only under
/// the folder's lock, right before the atomic replacement.
pub fn announce(dir: &Path, file: &str, entry: &FileEntry) -> Result<()> {
    let path = dir.join("manifest.json");
    let mut doc: Value = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({})),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if !doc.is_object() {
        doc = json!({});
    }
    // Hashed in chunks: a type's file may be large.
    let previous = match super::export::digest(&dir.join(file))? {
        Some((_, _, sha256)) => Value::String(sha256),
        None => Value::Null,
    };
    if previous.as_str() == Some(entry.sha256.as_str()) {
        // Same bytes as on disk: the replacement changes nothing the manifest must describe.
        return Ok(());
    }
    let Some(obj) = doc.as_object_mut() else {
        return Ok(());
    };
    let files = obj
        .entry("files")
        .or_insert_with(|| Value::Object(Default::default()));
    if !files.is_object() {
        *files = Value::Object(Default::default());
    }
    if let Some(files) = files.as_object_mut() {
        files.insert(
            file.to_string(),
            json!({
                "type": entry.resource_type,
                "count": entry.count,
                "bytes": entry.bytes,
                "sha256": entry.sha256,
                "previous_sha256": previous,
            }),
        );
    }
    write_atomic(&path, &serde_json::to_vec_pretty(&doc)?)
}

/// Whether manifest.json is missing, unreadable, or still carries announcements of a run that
/// stopped before writing it afresh (`previous_sha256`): then the next run must rewrite it.
pub fn needs_rewrite(dir: &Path) -> bool {
    let Ok(bytes) = std::fs::read(dir.join("manifest.json")) else {
        return true;
    };
    let Ok(doc) = serde_json::from_slice::<Value>(&bytes) else {
        return true;
    };
    match doc.get("files").and_then(Value::as_object) {
        Some(files) => files.values().any(|f| f.get("previous_sha256").is_some()),
        None => true,
    }
}

/// Checks a folder against its manifest the way a user would: every listed file has the bytes
/// its `sha256` (or, for a replacement in progress, its `previous_sha256`) describes, and every
/// `*.ndjson` file of the folder is listed. Returns the problems found (empty: consistent).
pub fn verify(dir: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let path = dir.join("manifest.json");
    let doc: Value = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let empty = serde_json::Map::new();
    let files = doc
        .get("files")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, entry) in files {
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            problems.push(format!("{name}: not a file name of this folder"));
            continue;
        }
        let on_disk = match std::fs::read(dir.join(name)) {
            Ok(bytes) => Some(sha256_hex(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {name}")),
        };
        let sha = entry.get("sha256").and_then(Value::as_str);
        let previous = entry.get("previous_sha256");
        let ok = match (&on_disk, previous) {
            (Some(h), None) => sha == Some(h.as_str()),
            (Some(h), Some(p)) => sha == Some(h.as_str()) || p.as_str() == Some(h.as_str()),
            // A file announced for the first time may not exist yet.
            (None, Some(Value::Null)) => true,
            (None, _) => false,
        };
        if !ok {
            problems.push(format!(
                "{name}: sha256 {} does not match the manifest",
                on_disk.as_deref().unwrap_or("(missing)")
            ));
        }
    }
    for e in std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".ndjson") && !files.contains_key(&name) {
            problems.push(format!("{name}: not listed in manifest.json"));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_replacements_keep_the_manifest_true_at_every_step() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(
            verify(d).unwrap().is_empty(),
            "an empty folder is consistent"
        );
        // First version of a file: announced, not yet written.
        let v1 = b"{\"id\":\"a\"}\n";
        announce(d, "Condition.ndjson", &FileEntry::of("Condition", v1)).unwrap();
        assert!(verify(d).unwrap().is_empty());
        write_atomic(&d.join("Condition.ndjson"), v1).unwrap();
        assert!(verify(d).unwrap().is_empty());
        // Second version: between the announcement and the rename, both are accepted.
        let v2 = b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n";
        announce(d, "Condition.ndjson", &FileEntry::of("Condition", v2)).unwrap();
        assert!(verify(d).unwrap().is_empty(), "old bytes, announced");
        write_atomic(&d.join("Condition.ndjson"), v2).unwrap();
        assert!(verify(d).unwrap().is_empty(), "new bytes, announced");
        let m: Value =
            serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m["files"]["Condition.ndjson"]["count"], 2);
        assert_eq!(
            m["files"]["Condition.ndjson"]["previous_sha256"],
            sha256_hex(v1).as_str()
        );
        // Anything else is reported: a third version nobody announced, an unlisted file.
        std::fs::write(d.join("Condition.ndjson"), b"torn").unwrap();
        std::fs::write(d.join("Extra.ndjson"), b"").unwrap();
        let problems = verify(d).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn announcing_unchanged_bytes_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let v = b"{\"id\":\"a\"}\n";
        write_atomic(&dir.path().join("A.ndjson"), v).unwrap();
        announce(dir.path(), "A.ndjson", &FileEntry::of("A", v)).unwrap();
        assert!(!dir.path().join("manifest.json").exists());
    }
}
