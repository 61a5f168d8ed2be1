//! `json/<Type>/<stem>.json` against its NDJSON line: the file must be
//! [`crate::json_text::pretty`] of the line, byte for byte (names from
//! [`crate::sync::naming::stems`], as the merge gives them).
//!
//! A pretty file is written only by syncs with `--format json|both`, so one that differs is not
//! always damage: after a sync without it, a resource updated in the NDJSON file keeps its older
//! pretty file (another `meta.lastUpdated` or `versionId`; so does a sync stopped between
//! writing the pretty files and replacing the NDJSON file), and text an older fhirdl printed
//! again keeps its meaning. Those are warnings; any other difference is damage. Pretty files of a resource no
//! longer in the NDJSON file (a `--full` run without `--format`) are warnings too.

use super::ndjson::Scan;
use super::{FileStatus, Problem, Report};
use crate::atomic::TEMP_PREFIX;
use crate::export_layout as layout;
use crate::sync::resource::Resource;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::path::Path;

/// Why pretty files differ without being damaged, counted per type.
#[derive(Default)]
struct Stale {
    other_version: usize,
    reprinted: usize,
    orphans: usize,
    interrupted: usize,
}

/// Checks the pretty files of one type (the NDJSON file is read again, line by line).
pub(super) fn check(
    dir: &Path,
    resource_type: &str,
    status: FileStatus,
    scan: &Scan,
    report: &mut Report,
) -> Result<()> {
    let folder = layout::pretty_dir(dir, resource_type);
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Ok(());
    };
    let mut present: HashSet<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with(TEMP_PREFIX))
        .collect();
    let stems = crate::sync::naming::stems(scan.ids.iter().flatten().map(String::as_str));
    let ndjson = layout::ndjson_path(dir, resource_type);
    let file = std::fs::File::open(&ndjson)
        .with_context(|| format!("cannot read {}", ndjson.display()))?;
    let reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut stale = Stale::default();
    for (n, (line, id)) in reader.split(b'\n').zip(&scan.ids).enumerate() {
        let line = line.with_context(|| format!("cannot read {}", ndjson.display()))?;
        let Some(stem) = id.as_ref().and_then(|id| stems.get(id)) else {
            continue;
        };
        let name = layout::pretty_name(stem);
        if !present.remove(&name) {
            // Written only with --format json|both: a missing one is not damage.
            continue;
        }
        report.checked.pretty_files += 1;
        let Ok(line) = std::str::from_utf8(&line) else {
            continue;
        };
        let path = folder.join(&name);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let want = crate::json_text::pretty(line);
        if bytes == want.as_bytes() {
            continue;
        }
        if matches!(status, FileStatus::Announced | FileStatus::Previous) {
            // Pretty files are written before their NDJSON file is replaced.
            stale.interrupted += 1;
            continue;
        }
        match why_different(&bytes, line) {
            Some(Why::OtherVersion) => stale.other_version += 1,
            Some(Why::Reprinted) => stale.reprinted += 1,
            None => report.damage(
                &format!("{}/{name}", layout::pretty_dir_name(resource_type)),
                Problem::Pretty,
                format!(
                    "not the pretty text of line {} of {}",
                    n + 1,
                    layout::ndjson_name(resource_type)
                ),
            ),
        }
    }
    stale.orphans = present.len();
    warn_stale(resource_type, &stale, report);
    Ok(())
}

enum Why {
    /// Another version of the resource: an older one (a sync without --format json|both
    /// since), or a newer one (a sync stopped after writing pretty files, before replacing the
    /// NDJSON file).
    OtherVersion,
    /// The same content printed differently (by an older fhirdl).
    Reprinted,
}

/// Why a pretty file differs from its line, when it is not damage.
fn why_different(pretty: &[u8], line: &str) -> Option<Why> {
    let text = std::str::from_utf8(pretty).ok()?;
    let old = Resource::from_text(text);
    let new = Resource::from_text(line);
    if old.problem.is_some() || old.resource_type != new.resource_type || old.id != new.id {
        return None;
    }
    let version = |r: &Resource| (r.last_updated.clone(), r.version_id.clone());
    if version(&old) != version(&new) {
        return Some(Why::OtherVersion);
    }
    let value = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
    match (value(text), value(line)) {
        (Some(a), Some(b)) if a == b => Some(Why::Reprinted),
        _ => None,
    }
}

fn warn_stale(resource_type: &str, s: &Stale, report: &mut Report) {
    let folder = format!("{}/", layout::pretty_dir_name(resource_type));
    let file = layout::ndjson_name(resource_type);
    if s.other_version > 0 {
        report.warn(format!(
            "{folder}: {} files hold another version of their resource than {file} (a sync without --format json|both does not update them, one that stopped may have written them first; `fhirdl sync --format both --full` rewrites them)",
            s.other_version
        ));
    }
    if s.reprinted > 0 {
        report.warn(format!(
            "{folder}: {} files were printed by an older fhirdl (same content; `fhirdl sync --format both --full` rewrites them exactly)",
            s.reprinted
        ));
    }
    if s.orphans > 0 {
        report.warn(format!(
            "{folder}: {} files of resources not in {file} (a --full sync without --format json|both leaves them, a stopped sync may have written them first)",
            s.orphans
        ));
    }
    if s.interrupted > 0 {
        report.warn(format!(
            "{folder}: {} files already hold the version a stopped sync was about to store",
            s.interrupted
        ));
    }
}

/// Warns of `json/<Type>/` folders without a `<Type>.ndjson`.
pub(super) fn orphan_folders(
    dir: &Path,
    ndjson_files: &[(String, String)],
    report: &mut Report,
) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir.join(layout::PRETTY)) else {
        return Ok(());
    };
    let types: BTreeMap<&str, ()> = ndjson_files.iter().map(|(_, t)| (t.as_str(), ())).collect();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !types.contains_key(name.as_str()) {
            report.warn(format!(
                "{}/: no {} to check it against",
                layout::pretty_dir_name(&crate::sanitize::clean(&name)),
                layout::ndjson_name(&crate::sanitize::clean(&name))
            ));
        }
    }
    Ok(())
}
