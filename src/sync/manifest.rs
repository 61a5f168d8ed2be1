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
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `manifest.json`: who and what the export is, and every NDJSON file with its hash.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// The practice the profile signs in to, as the endpoint directory names it
    /// (`login --practice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_at: Option<String>,
    /// How complete each type's copy is (see [`super::Completeness`]), by type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub completeness: BTreeMap<String, super::Completeness>,
    /// How each type was fetched by the run that wrote this manifest, and what its copy is
    /// fresh as of (the start of the run that last fetched it whole and compared).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub freshness: BTreeMap<String, super::freshness::Freshness>,
    #[serde(default)]
    pub files: BTreeMap<String, FileEntry>,
}

/// What the manifest says of one NDJSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Lines (resources) in the file.
    pub count: usize,
    pub bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Present only while a replacement is announced: the hash of the version on disk before
    /// it (`Some(None)`, `null` in JSON, when there was no file).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_sha256: Option<Option<String>>,
}

/// `null` is `Some(None)`, not `None` (which is "absent").
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl FileEntry {
    /// The entry for `bytes` about to become `<type>.ndjson`.
    pub fn of(resource_type: &str, bytes: &[u8]) -> FileEntry {
        FileEntry {
            resource_type: resource_type.to_string(),
            count: bytes.iter().filter(|b| **b == b'\n').count(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            previous_sha256: None,
        }
    }

    /// The entry of the file at `path` (read in chunks); `None` when it does not exist.
    pub fn of_file(resource_type: &str, path: &Path) -> Result<Option<FileEntry>> {
        Ok(digest_file(path)?.map(|d| FileEntry {
            resource_type: resource_type.to_string(),
            count: d.lines,
            bytes: d.bytes,
            sha256: d.sha256,
            previous_sha256: None,
        }))
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lines, bytes and sha256 of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub lines: usize,
    pub bytes: u64,
    pub sha256: String,
}

/// Lines, bytes and sha256 of a file, read in chunks; `None` when it does not exist.
pub fn digest_file(path: &Path) -> Result<Option<FileDigest>> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut lines, mut bytes) = (0usize, 0u64);
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        lines += buf[..n].iter().filter(|b| **b == b'\n').count();
        bytes += n as u64;
    }
    Ok(Some(FileDigest {
        lines,
        bytes,
        sha256: hex(&hasher.finalize()),
    }))
}

fn manifest_path(dir: &Path) -> PathBuf {
    crate::export_layout::manifest_path(dir)
}

impl Manifest {
    /// The manifest of `dir`: `Ok(None)` when it is missing or cannot be parsed.
    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let path = manifest_path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_atomic(&manifest_path(dir), &serde_json::to_vec_pretty(self)?)
    }

    /// Writes `header` with an entry for every `<Type>.ndjson` of `types` and of the folder (a
    /// type whose file a killed run replaced and whose search then failed is not in the state
    /// yet), hashing each file unless `known` describes it already (files this run wrote,
    /// hashed as they were written). Rewritten only when something besides `synced_at` changed.
    pub fn write(
        dir: &Path,
        header: Manifest,
        types: &[String],
        known: &BTreeMap<String, FileEntry>,
    ) -> Result<()> {
        let mut all: BTreeSet<String> = types.iter().cloned().collect();
        for entry in std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(ty) = crate::export_layout::ndjson_type(&name) {
                if super::bundle::is_type_name(ty) && entry.file_type().is_ok_and(|t| t.is_file()) {
                    all.insert(ty.to_string());
                }
            }
        }
        let mut manifest = header;
        manifest.files.clear();
        for ty in &all {
            let name = crate::export_layout::ndjson_name(ty);
            let entry = match known.get(&name) {
                Some(entry) => Some(entry.clone()),
                None => FileEntry::of_file(ty, &dir.join(&name))?,
            };
            if let Some(entry) = entry {
                manifest.files.insert(name, entry);
            }
        }
        let without_time = |m: &Manifest| Manifest {
            synced_at: None,
            ..m.clone()
        };
        let old = Manifest::load(dir)?;
        if old.as_ref().map(without_time) != Some(without_time(&manifest)) {
            manifest.save(dir)?;
        }
        Ok(())
    }
}

/// Records in `<dir>/manifest.json`, before `<dir>/<file>` is replaced, that the file is about to
/// become `entry` (with `previous_sha256` = the hash of what is on disk now). Call it only under
/// the folder's lock, right before the atomic replacement.
pub fn announce(dir: &Path, file: &str, entry: &FileEntry) -> Result<()> {
    let mut manifest = Manifest::load(dir)?.unwrap_or_default();
    // Hashed in chunks: a type's file may be large.
    let previous = digest_file(&dir.join(file))?.map(|d| d.sha256);
    if previous.as_deref() == Some(entry.sha256.as_str()) {
        // Same bytes as on disk: the replacement changes nothing the manifest must describe.
        return Ok(());
    }
    manifest.files.insert(
        file.to_string(),
        FileEntry {
            previous_sha256: Some(previous),
            ..entry.clone()
        },
    );
    // Durable (the folder fsynced) before the file is replaced: the folder's fsync after the
    // replacement would cover both names, but until it a power cut may keep either rename
    // without the other (POSIX does not order them), and a replaced file the manifest does not
    // announce reads as damage. One fsync more per type written.
    write_atomic(&manifest_path(dir), &serde_json::to_vec_pretty(&manifest)?)
}

/// Whether manifest.json is missing, unreadable, or still carries announcements of a run that
/// stopped before writing it afresh (`previous_sha256`): then the next run must rewrite it.
pub fn needs_rewrite(dir: &Path) -> bool {
    match Manifest::load(dir) {
        Ok(Some(m)) => m.files.values().any(|f| f.previous_sha256.is_some()),
        _ => true,
    }
}

/// Checks a folder against its manifest the way a user would: every listed file has the bytes
/// its `sha256` (or, for a replacement in progress, its `previous_sha256`) describes, and every
/// `*.ndjson` file of the folder is listed. Returns the problems found (empty: consistent).
pub fn verify(dir: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let path = manifest_path(dir);
    let manifest: Manifest = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a manifest", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    for (name, entry) in &manifest.files {
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            problems.push(format!("{name}: not a file name of this folder"));
            continue;
        }
        let on_disk = digest_file(&dir.join(name))?.map(|d| d.sha256);
        let ok = match (&on_disk, &entry.previous_sha256) {
            (Some(h), None) => &entry.sha256 == h,
            (Some(h), Some(p)) => &entry.sha256 == h || p.as_ref() == Some(h),
            // A file announced for the first time may not exist yet.
            (None, Some(None)) => true,
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
        if crate::export_layout::ndjson_type(&name).is_some() && !manifest.files.contains_key(&name)
        {
            problems.push(format!(
                "{name}: not listed in {}",
                crate::export_layout::MANIFEST
            ));
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
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m["files"]["Condition.ndjson"]["count"], 2);
        assert_eq!(
            m["files"]["Condition.ndjson"]["previous_sha256"],
            sha256_hex(v1).as_str()
        );
        assert!(needs_rewrite(d), "announcements are pending");
        // Anything else is reported: a third version nobody announced, an unlisted file.
        std::fs::write(d.join("Condition.ndjson"), b"torn").unwrap();
        std::fs::write(d.join("Extra.ndjson"), b"").unwrap();
        let problems = verify(d).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn a_first_announcement_is_null_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        announce(dir.path(), "B.ndjson", &FileEntry::of("B", b"x\n")).unwrap();
        let text = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
        assert!(text.contains("\"previous_sha256\": null"), "{text}");
        let m = Manifest::load(dir.path()).unwrap().unwrap();
        assert_eq!(m.files["B.ndjson"].previous_sha256, Some(None));
        assert!(verify(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn written_manifests_list_every_file_and_ignore_the_time() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_atomic(&d.join("Condition.ndjson"), b"{\"id\":\"a\"}\n").unwrap();
        write_atomic(&d.join("Stray.ndjson"), b"").unwrap();
        let header = |at: &str| Manifest {
            patient: Some("p".into()),
            synced_at: Some(at.into()),
            ..Manifest::default()
        };
        Manifest::write(d, header("t1"), &["Condition".into()], &Default::default()).unwrap();
        let m = Manifest::load(d).unwrap().unwrap();
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.files["Condition.ndjson"].count, 1);
        assert!(!needs_rewrite(d));
        // Only the time differs: the file stays as it was.
        Manifest::write(d, header("t2"), &["Condition".into()], &Default::default()).unwrap();
        assert_eq!(
            Manifest::load(d).unwrap().unwrap().synced_at.as_deref(),
            Some("t1")
        );
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
