//! The folder against its two manifests: every `<Type>.ndjson` against `manifest.json` (with
//! the announce protocol of [`crate::sync::manifest`]: an entry carrying `previous_sha256` was
//! being replaced when a sync stopped, and the file may be either version, both whole), every
//! document against `attachments/manifest.json`, and what is in the folder but in neither.

use super::ndjson::Scan;
use super::{FileStatus, Problem, Report};
use crate::atomic::TEMP_PREFIX;
use crate::export_layout::{self as layout, ATTACHMENTS_MANIFEST, MANIFEST};
use crate::sanitize::clean;
use crate::sync::attachments::ManifestEntry;
use crate::sync::bundle::is_type_name;
use crate::sync::manifest::{digest_file, FileEntry, Manifest};
use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// What fhirdl writes at the top of an export besides the NDJSON files and the manifest.
const KNOWN: [&str; 8] = [
    layout::NOTES,
    layout::README,
    layout::PAGE,
    layout::BUNDLE,
    layout::BUNDLE_GZ,
    layout::PRETTY,
    layout::ATTACHMENTS,
    layout::PRIVATE,
];

/// `manifest.json`; `None` (and the damage said) when it is missing or unreadable.
pub(super) fn load_manifest(dir: &Path, report: &mut Report) -> Result<Option<Manifest>> {
    let path = layout::manifest_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    match serde_json::from_slice(&bytes) {
        Ok(m) => Ok(Some(m)),
        Err(e) => {
            report.damage(
                MANIFEST,
                Problem::Unreadable,
                format!("not a manifest ({e})"),
            );
            Ok(None)
        }
    }
}

/// The NDJSON files to check, as (file name, type): those the manifest lists and those in the
/// folder. A manifest entry that cannot be a file of the folder is damage of the manifest.
pub(super) fn ndjson_files(
    dir: &Path,
    manifest: Option<&Manifest>,
    report: &mut Report,
) -> Result<Vec<(String, String)>> {
    let mut files = BTreeMap::new();
    for name in manifest.iter().flat_map(|m| m.files.keys()) {
        match type_of(name) {
            Some(ty) => {
                files.insert(name.clone(), ty.to_string());
            }
            None => report.damage(
                MANIFEST,
                Problem::Unlisted,
                format!("lists \"{}\", not an NDJSON file name", clean(name)),
            ),
        }
    }
    for entry in read_dir(dir)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(ty) = type_of(&name) {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.insert(name.clone(), ty.to_string());
            }
        }
    }
    if manifest.is_none() && !files.is_empty() && !report.damaged_files_include(MANIFEST) {
        report.damage(
            MANIFEST,
            Problem::Missing,
            "no manifest.json: the files cannot be checked against their hashes",
        );
    }
    Ok(files.into_iter().collect())
}

/// `Observation` for `Observation.ndjson`.
fn type_of(name: &str) -> Option<&str> {
    layout::ndjson_type(name).filter(|ty| is_type_name(ty))
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    Ok(std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .flatten()
        .collect())
}

/// Compares the file `name` (as read, `None` when missing) with its manifest entry.
pub(super) fn compare(
    name: &str,
    entry: Option<&FileEntry>,
    scan: Option<&Scan>,
    report: &mut Report,
) -> FileStatus {
    let status = match (scan, entry) {
        (Some(_), None) => {
            report.damage(name, Problem::Unlisted, "not listed in manifest.json");
            FileStatus::Damaged
        }
        (Some(s), Some(e)) if s.sha256 == e.sha256 => {
            if s.bytes != e.bytes || s.lines != e.count {
                report.damage(
                    MANIFEST,
                    Problem::Hash,
                    format!(
                        "{name}: {} bytes and {} lines listed, the file with that sha256 has {} and {}",
                        e.bytes, e.count, s.bytes, s.lines
                    ),
                );
            }
            match e.previous_sha256 {
                Some(_) => FileStatus::Announced,
                None => FileStatus::Ok,
            }
        }
        (Some(s), Some(e)) if e.previous_sha256 == Some(Some(s.sha256.clone())) => {
            FileStatus::Previous
        }
        (Some(s), Some(e)) => {
            let previous = match &e.previous_sha256 {
                Some(Some(p)) => format!(" (nor the previous version's {})", short(p)),
                _ => String::new(),
            };
            report.damage(
                name,
                Problem::Hash,
                format!(
                    "sha256 {} ({} bytes, {} lines) is not the {} ({} bytes, {} lines) manifest.json lists{previous}",
                    short(&s.sha256), s.bytes, s.lines, short(&e.sha256), e.bytes, e.count
                ),
            );
            FileStatus::Damaged
        }
        // A first version announced and not written yet: the "previous version" is no file.
        (None, Some(e)) if e.previous_sha256 == Some(None) => FileStatus::Previous,
        (None, _) => {
            report.damage(
                name,
                Problem::Missing,
                "listed in manifest.json, not in the folder",
            );
            FileStatus::Damaged
        }
    };
    say_interrupted(name, status, scan.is_none(), report);
    status
}

/// Says what a stopped sync left of the file `name` (`missing`: a first version not written).
fn say_interrupted(name: &str, status: FileStatus, missing: bool, report: &mut Report) {
    match status {
        FileStatus::Announced => report.warn(format!(
            "{name}: a sync stopped after replacing it and before rewriting manifest.json; the file is whole (the new version) and the next `fhirdl sync` finishes the job"
        )),
        FileStatus::Previous => report.warn(format!(
            "{name}: a sync stopped before replacing it; the file is whole (the version before that sync{}) and the next `fhirdl sync` finishes the job",
            if missing { ": none yet" } else { "" }
        )),
        _ => {}
    }
}

/// The first 12 hex digits of a hash, enough to tell two apart in a message.
fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

/// Every document against `attachments/manifest.json`: present, same size, same sha256; and
/// every file of `attachments/` listed. A sync lists the documents it saved at the end of its
/// document pass, so a file named as a document of a resource of the export (`documents`: its
/// `Type/stem`) may be unlisted because a sync stopped in that pass: that is said, not damage,
/// unless the state says the last pass went through (`listed_all`) and the manifest is gone.
pub(super) fn attachments(
    dir: &Path,
    documents: &HashSet<String>,
    listed_all: bool,
    report: &mut Report,
) -> Result<()> {
    let folder = layout::attachments_dir(dir);
    if !folder.is_dir() {
        return Ok(());
    }
    let listed = attachment_manifest(dir, listed_all, report)?;
    listed_documents(&folder, &listed, report)?;
    unlisted_documents(&folder, &listed, documents, report)
}

/// Each listed document: present, same size, same sha256.
fn listed_documents(
    folder: &Path,
    listed: &BTreeMap<String, ManifestEntry>,
    report: &mut Report,
) -> Result<()> {
    for (name, entry) in listed {
        let file = layout::attachment_name(name);
        if name.contains(['/', '\\']) || name.starts_with('.') {
            report.damage(
                ATTACHMENTS_MANIFEST,
                Problem::Unlisted,
                format!("lists \"{}\", not a file name of the folder", clean(name)),
            );
            continue;
        }
        report.checked.attachments += 1;
        match digest_file(&folder.join(name))? {
            None => report.damage(
                &file,
                Problem::Missing,
                format!(
                    "listed in {ATTACHMENTS_MANIFEST} (a document of {}), not in the folder",
                    clean(&entry.resource)
                ),
            ),
            Some(d) if d.sha256 != entry.sha256 || d.bytes != entry.bytes as u64 => report.damage(
                &file,
                Problem::Hash,
                format!(
                    "sha256 {} ({} bytes) is not the {} ({} bytes) {ATTACHMENTS_MANIFEST} lists",
                    short(&d.sha256),
                    d.bytes,
                    short(&entry.sha256),
                    entry.bytes
                ),
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Files of `attachments/` the manifest does not list: damage, unless named as a document of
/// the export (see [`attachments`]).
fn unlisted_documents(
    folder: &Path,
    listed: &BTreeMap<String, ManifestEntry>,
    documents: &HashSet<String>,
    report: &mut Report,
) -> Result<()> {
    let mut unlisted_documents = 0;
    for entry in read_dir(folder)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if layout::attachment_name(&name) == ATTACHMENTS_MANIFEST
            || name.starts_with(TEMP_PREFIX)
            || listed.contains_key(&name)
        {
            continue;
        }
        if document_of(&name).is_some_and(|key| documents.contains(&key)) {
            unlisted_documents += 1;
            continue;
        }
        report.damage(
            &layout::attachment_name(&name),
            Problem::Unlisted,
            format!("not listed in {ATTACHMENTS_MANIFEST}"),
        );
    }
    if unlisted_documents > 0 {
        report.warn(format!(
            "{}/: {unlisted_documents} documents of resources of the export are not listed in {ATTACHMENTS_MANIFEST} (a sync stopped while saving documents; the next `fhirdl sync` lists them)",
            layout::ATTACHMENTS
        ));
    }
    Ok(())
}

/// `Type/stem` of a document file name `<Type>-<stem>-<n>.<ext>`.
fn document_of(name: &str) -> Option<String> {
    crate::sync::attachments::TYPES.iter().find_map(|ty| {
        let rest = name.strip_prefix(ty)?.strip_prefix('-')?;
        let (stem, tail) = rest.rsplit_once('-')?;
        let (n, _ext) = tail.split_once('.')?;
        let numbered = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
        numbered.then(|| format!("{ty}/{stem}"))
    })
}

/// `attachments/manifest.json` (empty, with the damage said, when missing or unreadable).
fn attachment_manifest(
    dir: &Path,
    listed_all: bool,
    report: &mut Report,
) -> Result<BTreeMap<String, ManifestEntry>> {
    let path = layout::attachments_manifest_path(dir);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            report.damage(
                ATTACHMENTS_MANIFEST,
                Problem::Unreadable,
                format!("not a manifest ({e})"),
            );
            BTreeMap::new()
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let documents = read_dir(&layout::attachments_dir(dir))?
                .iter()
                .any(|e| !e.file_name().to_string_lossy().starts_with(TEMP_PREFIX));
            // Before the end of a sync's first document pass there is none yet.
            if documents && listed_all {
                report.damage(
                    ATTACHMENTS_MANIFEST,
                    Problem::Missing,
                    format!("{}/ holds files but no {MANIFEST}", layout::ATTACHMENTS),
                );
            }
            Ok(BTreeMap::new())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Warns of files at the top of the folder that fhirdl does not write, and of temporary files
/// a stopped run left anywhere (the next sync removes them).
pub(super) fn unknown_and_temporary(dir: &Path, report: &mut Report) -> Result<()> {
    for entry in read_dir(dir)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == MANIFEST
            || type_of(&name).is_some()
            || KNOWN.contains(&name.as_str())
            || name.starts_with(TEMP_PREFIX)
        {
            continue;
        }
        report.warn(format!(
            "{}: not a file fhirdl writes (left as it is)",
            clean(&name)
        ));
    }
    let temporary = count_temporary(dir);
    if temporary > 0 {
        report.warn(format!(
            "{temporary} temporary files ({TEMP_PREFIX}*) of a run that stopped; the next `fhirdl sync` removes them"
        ));
    }
    Ok(())
}

fn count_temporary(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_temporary(&e.path()),
            Ok(t) if t.is_file() => {
                usize::from(e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            }
            _ => 0,
        })
        .sum()
}
