//! `fhirdl verify`: reading an export folder back, every byte, and saying whether it is what
//! fhirdl wrote — in the spirit of `restic check --read-data`.
//!
//! Offline and read-only. What is checked, and where:
//! - [`ndjson`]: each `<Type>.ndjson` is hashed against `manifest.json` and every line parsed
//!   again (valid JSON, `resourceType` of the file, a valid FHIR id, ids unique and sorted as
//!   fhirdl writes them, one patient), in one pass with [`crate::sync::resource::Resource`];
//! - [`files`]: the manifest entries against the folder (missing, unlisted), including a run
//!   that stopped between announcing a file and rewriting the manifest (see
//!   [`crate::sync::manifest`]), and the documents against `attachments/manifest.json`;
//! - [`pretty`]: `json/<Type>/<stem>.json` against [`crate::json_text::pretty`] of its line;
//! - [`state`]: `.fhirdl/state.json` against the files (counts, file stamps).
//!
//! References inside the export that do not resolve are counted per type, as a warning: a
//! server may refuse a type a record points at. Damage is a [`Damage`] naming its file; a
//! damaged export is [`Error::Damaged`] (exit 11).

mod files;
mod ndjson;
mod pretty;
mod state;

use crate::sync::manifest::Manifest;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// Line problems reported per file; the rest are counted in one more entry.
const MAX_LINE_PROBLEMS: usize = 20;

/// What `fhirdl verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub dir: PathBuf,
    /// Nothing damaged (warnings allowed).
    pub intact: bool,
    /// A sync stopped after announcing a replacement and before rewriting the manifest; each
    /// file is whole (the version before or after), the next sync finishes the job.
    pub interrupted: bool,
    pub checked: Checked,
    /// One entry per NDJSON file (listed in the manifest or present).
    pub types: Vec<TypeCheck>,
    /// Every problem found, each naming its file (relative to the folder).
    pub damaged: Vec<Damage>,
    /// The damaged files, each once, sorted.
    pub damaged_files: Vec<String>,
    pub warnings: Vec<String>,
    /// References to `Type/id` under the FHIR base whose target is not in the export: the
    /// number of distinct targets per type.
    pub unresolved_references: BTreeMap<String, usize>,
}

/// How much was read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Checked {
    pub ndjson_files: usize,
    pub resources: usize,
    pub bytes: u64,
    pub attachments: usize,
    pub pretty_files: usize,
}

/// One NDJSON file.
#[derive(Debug, Clone, Serialize)]
pub struct TypeCheck {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub file: String,
    /// Lines read (0 when the file is missing).
    pub count: usize,
    pub status: FileStatus,
}

/// What a file is, compared with its manifest entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// The bytes the manifest describes, and every line reads well.
    Ok,
    /// The new version a stopped sync announced (whole; the manifest was not rewritten yet).
    Announced,
    /// The version before a replacement a stopped sync announced (whole).
    Previous,
    /// Not the bytes the manifest describes, missing, unlisted, or a line is wrong.
    Damaged,
}

/// One problem, naming its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    /// Relative to the export folder, with `/`.
    pub file: String,
    pub problem: Problem,
    /// 1-based line of an NDJSON file, when the problem is in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub detail: String,
}

/// The kinds of damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// Listed in a manifest, not in the folder.
    Missing,
    /// In the folder, not in its manifest.
    Unlisted,
    /// Other bytes than the manifest's sha256 (and `previous_sha256`) describe.
    Hash,
    /// A manifest or the state cannot be read.
    Unreadable,
    /// A line that is not a JSON resource (or the last line cut short).
    BadLine,
    /// A resource of another type than its file.
    WrongType,
    /// No id, or one that breaks the FHIR id syntax.
    BadId,
    DuplicateId,
    /// Ids not in the order fhirdl writes them (byte order).
    Unsorted,
    /// A resource of another patient than the export's.
    OtherPatient,
    /// A pretty file that is not the pretty text of its resource's line.
    Pretty,
    /// `.fhirdl/state.json` disagrees with the files.
    State,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(n) => write!(f, "{} line {n}: {}", self.file, self.detail),
            None => write!(f, "{}: {}", self.file, self.detail),
        }
    }
}

/// A damaged export (exit 11).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the export in {} is damaged: {}", dir.display(), files_phrase(files))]
    Damaged { dir: PathBuf, files: Vec<String> },
}

impl Error {
    pub fn hint(&self) -> String {
        match self {
            Error::Damaged { dir, .. } => format!(
                "move the damaged files out of the folder, then run `fhirdl sync --full --out {}`: it fetches the record again (a document is fetched again once its file is gone); `fhirdl verify --json` lists every problem",
                dir.display()
            ),
        }
    }
}

fn files_phrase(files: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = match files.len() {
        1 => "1 file (".to_string(),
        n => format!("{n} files ("),
    };
    text.push_str(
        &files
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
    );
    if files.len() > SHOWN {
        text.push_str(&format!(", and {} more", files.len() - SHOWN));
    }
    text.push(')');
    text
}

impl Report {
    /// `Ok` when intact, else [`Error::Damaged`] naming each damaged file.
    pub fn result(&self) -> Result<()> {
        if self.intact {
            return Ok(());
        }
        Err(Error::Damaged {
            dir: self.dir.clone(),
            files: self.damaged_files.clone(),
        }
        .into())
    }

    fn damage(&mut self, file: &str, problem: Problem, detail: impl Into<String>) {
        self.damaged.push(Damage {
            file: file.to_string(),
            problem,
            line: None,
            detail: detail.into(),
        });
    }

    fn damaged_files_include(&self, file: &str) -> bool {
        self.damaged.iter().any(|d| d.file == file)
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.warnings.push(text.into());
    }

    fn finish(mut self) -> Report {
        let files: BTreeSet<String> = self.damaged.iter().map(|d| d.file.clone()).collect();
        self.damaged_files = files.into_iter().collect();
        self.intact = self.damaged.is_empty();
        self.interrupted = self
            .types
            .iter()
            .any(|t| matches!(t.status, FileStatus::Announced | FileStatus::Previous));
        for t in &mut self.types {
            if self.damaged_files.contains(&t.file) {
                t.status = FileStatus::Damaged;
            }
        }
        self
    }
}

/// Verifies the export folder `dir` (read-only). `Err` only when it cannot be read at all or
/// is not an export; damage is in the report.
pub fn verify(dir: &Path) -> Result<Report> {
    let meta = std::fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("{} is not a folder", dir.display());
    }
    let _lock = shared_lock(dir)?;
    let mut report = Report {
        dir: dir.to_path_buf(),
        ..Report::default()
    };
    let manifest = files::load_manifest(dir, &mut report)?;
    let state = state::load(dir, &mut report)?;
    let ndjson_files = files::ndjson_files(dir, manifest.as_ref(), &mut report)?;
    if manifest.is_none() && state.is_none() && ndjson_files.is_empty() {
        return Err(crate::error::Failure::new(
            crate::error::Kind::Usage,
            format!("{} holds no fhirdl export", dir.display()),
        )
        .hint("name the export folder with --out DIR, or the profile whose folder it is with --profile NAME")
        .into());
    }
    let patient = manifest
        .as_ref()
        .and_then(|m| m.patient.clone())
        .or_else(|| state.as_ref().map(|s| s.patient.clone()))
        .filter(|p| !p.is_empty());
    let base = fhir_base(manifest.as_ref(), state.as_ref());
    let read = Ndjson {
        dir,
        manifest: manifest.as_ref(),
        patient: patient.as_deref(),
        base: &base,
    };
    let (scans, held, refs) = read.all(&ndjson_files, &mut report)?;
    for (ty, status, scan) in &scans {
        pretty::check(dir, ty, *status, scan, &mut report)?;
    }
    pretty::orphan_folders(dir, &ndjson_files, &mut report)?;
    let documents = document_stems(&scans);
    let listed_all = state.as_ref().is_some_and(|s| s.attachments_complete);
    files::attachments(dir, &documents, listed_all, &mut report)?;
    files::unknown_and_temporary(dir, &mut report)?;
    if let Some(state) = &state {
        state::check(dir, state, manifest.as_ref(), &mut report);
    }
    unresolved(&refs, &held, &mut report);
    Ok(report.finish())
}

/// Reads the NDJSON files against the manifest.
struct Ndjson<'a> {
    dir: &'a Path,
    manifest: Option<&'a Manifest>,
    patient: Option<&'a str>,
    base: &'a url::Url,
}

/// Each file read, with its status; the `Type/id` held; the `Type/id` referenced.
type Read = (
    Vec<(String, FileStatus, ndjson::Scan)>,
    HashSet<String>,
    HashSet<String>,
);

impl Ndjson<'_> {
    /// Reads every file of `files` (name, type), recording each in `report`.
    fn all(&self, files: &[(String, String)], report: &mut Report) -> Result<Read> {
        let (mut scans, mut held, mut refs) = (Vec::new(), HashSet::new(), HashSet::new());
        for (name, ty) in files {
            let entry = self.manifest.and_then(|m| m.files.get(name));
            let scan = ndjson::scan(&self.dir.join(name), ty, self.patient, self.base)?;
            let status = files::compare(name, entry, scan.as_ref(), report);
            let count = scan.as_ref().map_or(0, |s| s.lines);
            if let Some(scan) = scan {
                report.checked.ndjson_files += 1;
                report.checked.resources += scan.lines;
                report.checked.bytes += scan.bytes;
                scan.problems_into(name, report);
                held.extend(scan.ids.iter().flatten().map(|id| format!("{ty}/{id}")));
                refs.extend(scan.references.iter().cloned());
                scans.push((ty.clone(), status, scan));
            }
            report.types.push(TypeCheck {
                resource_type: ty.clone(),
                file: name.clone(),
                count,
                status,
            });
        }
        Ok((scans, held, refs))
    }
}

/// A shared hold on the folder's lock (without creating it: verify writes nothing), so that no
/// sync replaces files while they are read; a sync running now is a [`Kind::Locked`] failure.
///
/// [`Kind::Locked`]: crate::error::Kind::Locked
fn shared_lock(dir: &Path) -> Result<Option<std::fs::File>> {
    let path = crate::export_layout::lock_path(dir);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(crate::error::Failure::new(
            crate::error::Kind::Locked,
            format!("a fhirdl sync is writing to {}", dir.display()),
        )
        .hint("run `fhirdl verify` again when it has finished (or use `fhirdl sync --verify`)")
        .into()),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// `Type/stem` of every resource that can carry documents (their files are named
/// `<Type>-<stem>-<n>.<ext>`, see [`crate::sync::attachments`]).
fn document_stems(scans: &[(String, FileStatus, ndjson::Scan)]) -> HashSet<String> {
    let mut stems = HashSet::new();
    for (ty, _, scan) in scans {
        if crate::sync::attachments::TYPES.contains(&ty.as_str()) {
            let ids = scan.ids.iter().flatten().map(String::as_str);
            let named = crate::sync::naming::stems(ids);
            stems.extend(named.values().map(|stem| format!("{ty}/{stem}")));
        }
    }
    stems
}

/// The FHIR base references are resolved against: the manifest's, else the state's, else one
/// under which only relative references resolve.
fn fhir_base(manifest: Option<&Manifest>, state: Option<&crate::sync::state::State>) -> url::Url {
    manifest
        .and_then(|m| m.fhir_base.clone())
        .or_else(|| state.map(|s| s.fhir_base.clone()))
        .and_then(|b| url::Url::parse(&b).ok())
        .unwrap_or_else(|| url::Url::parse("urn:fhirdl:no-base/").expect("a constant URL"))
}

/// Counts, per type, the referenced `Type/id` that the export does not hold.
fn unresolved(refs: &HashSet<String>, held: &HashSet<String>, report: &mut Report) {
    for key in refs.difference(held) {
        if let Some((ty, _)) = key.split_once('/') {
            *report
                .unresolved_references
                .entry(ty.to_string())
                .or_default() += 1;
        }
    }
    if !report.unresolved_references.is_empty() {
        let total: usize = report.unresolved_references.values().sum();
        let per_type: Vec<String> = report
            .unresolved_references
            .iter()
            .map(|(ty, n)| format!("{ty} {n}"))
            .collect();
        report.warn(format!(
            "{total} referenced resources are not in the export ({}); the server may not have let fhirdl read them",
            per_type.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests;
