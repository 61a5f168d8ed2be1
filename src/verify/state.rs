//! `.fhirdl/state.json` against the files: the same patient as the manifest, and per type the
//! count of resources the file holds. Its file stamps (size, time, inode) change when a folder
//! is copied or restored, so a stamp that differs is only said (the next sync re-reads the
//! file); a count that differs is damage, unless a stopped sync explains it.

use super::{FileStatus, Problem, Report};
use crate::export_layout::STATE;
use crate::sync::manifest::Manifest;
use crate::sync::state::{FileStamp, State};
use anyhow::{Context, Result};
use std::path::Path;

/// The sync state; `None` (and why said) when it is missing or unreadable.
pub(super) fn load(dir: &Path, report: &mut Report) -> Result<Option<State>> {
    let path = crate::export_layout::state_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.warn(format!(
                "no {STATE}: the next `fhirdl sync` into this folder fetches everything whole"
            ));
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    match serde_json::from_slice(&bytes) {
        Ok(state) => Ok(Some(state)),
        Err(e) => {
            report.damage(
                STATE,
                Problem::Unreadable,
                format!("not a sync state ({e})"),
            );
            Ok(None)
        }
    }
}

/// Compares the state with the manifest and with the files read (`report.types`).
pub(super) fn check(dir: &Path, state: &State, manifest: Option<&Manifest>, report: &mut Report) {
    if let Some(patient) = manifest.and_then(|m| m.patient.as_deref()) {
        if !state.patient.is_empty() && state.patient != patient {
            report.damage(
                STATE,
                Problem::State,
                format!(
                    "is the state of Patient/{}, manifest.json of Patient/{patient}",
                    crate::sanitize::clean(&state.patient)
                ),
            );
        }
    }
    let mut restamped = Vec::new();
    for (ty, t) in &state.types {
        let file = crate::export_layout::ndjson_name(ty);
        let Some(read) = report.types.iter().find(|c| c.file == file).cloned() else {
            if t.count > 0 {
                report.damage(
                    STATE,
                    Problem::State,
                    format!("records {} {ty} resources; there is no {file}", t.count),
                );
            }
            continue;
        };
        if read.status != FileStatus::Ok || report.damaged_files_include(&file) {
            // A stopped sync (said already), or damage of the file itself.
            continue;
        }
        if read.count != t.count {
            report.damage(
                STATE,
                Problem::State,
                format!(
                    "records {} {ty} resources; {file} holds {}",
                    t.count, read.count
                ),
            );
        }
        if t.file.is_some() && t.file != FileStamp::of(&dir.join(&file)) {
            restamped.push(file);
        }
    }
    if !restamped.is_empty() {
        let mut names = restamped
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if restamped.len() > 3 {
            names.push_str(", …");
        }
        report.warn(format!(
            "{} files have another size, time or inode than {STATE} recorded ({names}); a copied or restored folder does this, and the next `fhirdl sync` reads them again",
            restamped.len(),
        ));
    }
    let unrecorded: Vec<&str> = report
        .types
        .iter()
        .filter(|c| !state.types.contains_key(&c.resource_type))
        .map(|c| c.file.as_str())
        .collect();
    if !unrecorded.is_empty() {
        let text = format!(
            "{} not in {STATE} (a sync stopped before recording it; the next one does)",
            unrecorded.join(", ")
        );
        report.warn(text);
    }
}
