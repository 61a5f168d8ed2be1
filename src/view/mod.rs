//! `fhirdl view`: the export folder as one self-contained HTML page (`record.html`) that a
//! person can read, print or mail, offline, years later.
//!
//! [`render`] reads the folder once (`record`: each resource to a row of its section, a point
//! of a chart, a note), then writes the page (`page`) atomically and owner-only. The modules:
//! `fields` (the elements shown, read with minimal parsing), `rows` (what each type shows),
//! `charts` (inline SVG), `dates`, `html` (escaping), `assets/` (CSS and script, inline).

pub mod charts;
mod dates;
mod fields;
mod html;
pub mod merge;
mod note_text;
mod page;
mod record;
mod rows;
mod sections;
pub mod units;

use crate::atomic::{create_private_dir, AtomicFile};
use crate::folder::Folder;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The page's file name in the export folder.
pub const FILE: &str = crate::export_layout::PAGE;

/// What `render` wrote, for `--json` and tests.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub path: PathBuf,
    pub bytes: u64,
    pub resources: usize,
    /// Resources per type.
    pub types: BTreeMap<String, usize>,
    /// Rows per section (`about` holds the Patient rows, `other` every other type's).
    pub sections: BTreeMap<String, usize>,
    pub charts: usize,
    pub chart_points: usize,
    pub attachment_links: usize,
    pub notes: usize,
    /// Lines per type that could not be read as JSON (not shown).
    pub unreadable: BTreeMap<String, usize>,
}

/// Writes the page for `folder` to `output` (0600, replaced atomically); `generated_at` is
/// the time printed in its footer.
pub fn render(folder: &Folder, output: &Path, generated_at: &str) -> Result<Summary> {
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir(parent)?;
    let prefix = relative_prefix(parent, &folder.dir)?;
    let record = record::read(folder, prefix)?;
    let mut file = AtomicFile::create(output)?;
    let mut bytes = 0u64;
    page::write(&record, folder, generated_at, &mut |chunk| {
        bytes += chunk.len() as u64;
        file.write_all(chunk.as_bytes())
    })?;
    file.commit()?;
    let mut sections: BTreeMap<String, usize> = record
        .sections
        .iter()
        .map(|s| (s.kind.key.to_owned(), s.rows.len()))
        .collect();
    sections.insert("about".into(), record.patients.len());
    sections.insert("other".into(), record.other.values().map(Vec::len).sum());
    let all_charts = || record.sections.iter().flat_map(|s| s.charts.iter());
    Ok(Summary {
        path: output.to_path_buf(),
        bytes,
        resources: record.counts.values().sum(),
        types: record.counts.clone(),
        sections,
        charts: all_charts().count(),
        chart_points: all_charts().map(charts::Chart::points).sum(),
        attachment_links: record.attachment_links,
        notes: record.notes.len(),
        unreadable: record.unreadable.clone(),
    })
}

/// One provider's export for [`render_merged`]: its profile, provider and folder.
pub struct Part {
    pub profile: String,
    pub provider: String,
    pub folder: Folder,
}

/// Writes one page of several providers' exports of one person to `output` (0600, replaced
/// atomically): each read as for its own page, then put together ([`merge::combine`]).
pub fn render_merged(parts: &[Part], output: &Path, generated_at: &str) -> Result<merge::Summary> {
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir(parent)?;
    let mut records = Vec::with_capacity(parts.len());
    for p in parts {
        let record = record::read(&p.folder, relative_prefix(parent, &p.folder.dir)?)?;
        let source = merge::source(&p.profile, &p.provider, &p.folder, &record);
        records.push((source, record));
    }
    let record = merge::combine(records);
    let Some(first) = parts.first() else {
        anyhow::bail!("no export to show");
    };
    let mut file = AtomicFile::create(output)?;
    let mut bytes = 0u64;
    page::write(&record, &first.folder, generated_at, &mut |chunk| {
        bytes += chunk.len() as u64;
        file.write_all(chunk.as_bytes())
    })?;
    file.commit()?;
    let mut sections: Vec<merge::SectionSummary> = record
        .sections
        .iter()
        .map(merge::SectionSummary::of)
        .collect();
    sections.push(merge::SectionSummary {
        name: "other".into(),
        rows: record.other.values().map(Vec::len).sum(),
        merged: 0,
        by_source: record
            .sources
            .iter()
            .map(|s| {
                let n = record
                    .other
                    .values()
                    .flatten()
                    .filter(|r| r.sources.contains(&s.profile))
                    .count();
                (s.profile.clone(), n)
            })
            .collect(),
    });
    Ok(merge::Summary {
        path: output.to_path_buf(),
        bytes,
        resources: record.counts.values().sum(),
        sources: record.sources.clone(),
        sections,
    })
}

/// Path segments that lead from the folder `from` to the folder `to` (`..` first), so that
/// links to `attachments/` keep working when both folders move together.
fn relative_prefix(from: &Path, to: &Path) -> Result<Vec<String>> {
    let canon = |p: &Path| {
        p.canonicalize()
            .with_context(|| format!("cannot resolve {}", p.display()))
    };
    let (from, to) = (canon(from)?, canon(to)?);
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        // Another drive: no relative path; links name the absolute path.
        return Ok(b
            .iter()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(['/', '\\'])
                    .to_owned()
            })
            .collect());
    }
    let mut out: Vec<String> = a[common..].iter().map(|_| "..".to_owned()).collect();
    out.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_to_the_page() {
        let root = tempfile::tempdir().unwrap();
        let export = root.path().join("exports/clinic");
        let desk = root.path().join("Desktop");
        std::fs::create_dir_all(&export).unwrap();
        std::fs::create_dir_all(&desk).unwrap();
        assert!(relative_prefix(&export, &export).unwrap().is_empty());
        assert_eq!(
            relative_prefix(&desk, &export).unwrap(),
            ["..", "exports", "clinic"]
        );
        assert_eq!(relative_prefix(&export, root.path()).unwrap(), ["..", ".."]);
    }
}
