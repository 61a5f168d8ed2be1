//! One record from several providers' exports of one person: each export read as for its own
//! page, then their rows put together, section by section, each row naming its source(s).
//!
//! Two providers' rows are one fact when they share a coded concept (system and code) and a
//! day (effective, onset, administration…), and, for measurements, show the same value and
//! unit: that fact is one row with both sources. The same fact with different values stays two
//! rows, next to each other and marked, so that no provider's value is hidden. Rows of one
//! source are never merged with each other (two readings of one day are two facts).

use super::charts::Chart;
use super::html;
use super::record::{Record, Section};
use super::sections::{Note, Row, Source, LABS, OBSERVATIONS, SOCIAL, VITALS};
use crate::folder::Folder;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// The source of profile `profile` (provider `provider`) read from `folder` into `record`.
pub fn source(profile: &str, provider: &str, folder: &Folder, record: &Record) -> Source {
    Source {
        profile: profile.to_owned(),
        provider: provider.to_owned(),
        practice: record
            .provider
            .clone()
            .filter(|p| Some(p) != folder.fhir_base.as_ref()),
        fhir_base: folder.fhir_base.clone(),
        last_sync: folder.synced_at.clone().or(folder.last_run_at.clone()),
        completeness: completeness(folder),
        resources: record.counts.values().sum(),
    }
}

/// What the last sync said of the folder's types, in a few words.
fn completeness(folder: &Folder) -> String {
    let known: Vec<(&str, &str)> = folder
        .types
        .iter()
        .filter_map(|t| Some((t.resource_type.as_str(), t.status.as_deref()?)))
        .collect();
    if known.is_empty() {
        return "unknown".into();
    }
    let short: Vec<String> = known
        .iter()
        .filter(|(_, s)| !matches!(*s, "complete" | "recovered" | "ok" | "unchanged"))
        .map(|(t, s)| format!("{t} {s}"))
        .collect();
    match short.is_empty() {
        true => "complete".into(),
        false => format!("partial: {}", short.join(", ")),
    }
}

/// Puts the records of `sources` (in the same order) together into one.
pub fn combine(parts: Vec<(Source, Record)>) -> Record {
    let mut out = Record::default();
    let mut moved: HashMap<String, String> = HashMap::new();
    let mut by_section: Vec<Vec<Row>> = Vec::new();
    let mut charts: Vec<Vec<Chart>> = Vec::new();
    let mut kinds = Vec::new();
    for (source, record) in parts {
        let tag = html::anchor(&source.profile);
        let name = source.profile.clone();
        let own = |mut r: Row| {
            r.id = format!("{tag}_{}", r.id);
            r.sources = vec![name.clone()];
            r
        };
        out.patients.extend(record.patients.into_iter().map(own));
        for (ty, rows) in record.other {
            out.other
                .entry(ty)
                .or_default()
                .extend(rows.into_iter().map(own));
        }
        for (i, s) in record.sections.into_iter().enumerate() {
            if by_section.len() <= i {
                by_section.push(Vec::new());
                charts.push(Vec::new());
                kinds.push(s.kind);
            }
            by_section[i].extend(s.rows.into_iter().map(own));
            charts[i].extend(s.charts.into_iter().map(|mut c| {
                c.title = format!("{} — {}", c.title, source.profile);
                c.key = format!("{tag}-{}", c.key);
                c
            }));
        }
        out.notes
            .extend(record.notes.into_iter().map(|mut n: Note| {
                n.row = rehome(&n.row, &tag);
                n
            }));
        for (ty, n) in record.counts {
            *out.counts.entry(ty).or_default() += n;
        }
        for (ty, n) in record.unreadable {
            *out.unreadable.entry(ty).or_default() += n;
        }
        out.attachment_links += record.attachment_links;
        out.sources.push(source);
    }
    let names: Vec<String> = out.sources.iter().map(|s| s.profile.clone()).collect();
    for (i, rows) in by_section.into_iter().enumerate() {
        let measured = matches!(i, VITALS | LABS | SOCIAL | OBSERVATIONS);
        let (rows, merged) = facts(rows, measured, &mut moved);
        let by_source = names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    rows.iter().filter(|r| r.sources.contains(n)).count(),
                )
            })
            .collect();
        out.sections.push(Section {
            kind: kinds[i],
            rows,
            charts: std::mem::take(&mut charts[i]),
            by_source,
            merged,
        });
    }
    for n in &mut out.notes {
        if let Some(kept) = moved.get(&n.row) {
            n.row = kept.clone();
        }
    }
    out.notes.sort_by(|a, b| b.date.cmp(&a.date));
    out
}

/// The day of a date as stored (`2024-01-02…`) as the number 20240102; `None` without a
/// whole day.
fn day_number(date: &str) -> Option<u32> {
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    Some(digits(0..4)? * 10_000 + digits(5..7)? * 100 + digits(8..10)?)
}

/// A row anchor (`r-Type-id`) of a source's page as it is on the merged page.
fn rehome(anchor: &str, tag: &str) -> String {
    match anchor.strip_prefix("r-").and_then(|r| r.split_once('-')) {
        Some((ty, id)) => format!("r-{ty}-{tag}_{id}"),
        None => anchor.to_owned(),
    }
}

/// The element id of a row (as `page.rs` writes it).
fn anchor_of(r: &Row) -> String {
    html::anchor(&format!("r-{}-{}", r.ty, r.id))
}

/// What must be equal for two rows of one concept and day to be one fact: for measurements
/// the value and unit as shown, else nothing more.
fn value_of(r: &Row, measured: bool) -> &[String] {
    match measured {
        true => r.cells.get(2..r.cells.len().min(4)).unwrap_or_default(),
        false => &[],
    }
}

/// The rows of one section, facts of several sources made one row (their sources joined),
/// differing values of one fact next to each other; and how many rows have several sources.
/// `moved` learns the anchor of each row merged away → the row that stands for it.
fn facts(rows: Vec<Row>, measured: bool, moved: &mut HashMap<String, String>) -> (Vec<Row>, usize) {
    let mut groups: Vec<Vec<Row>> = Vec::with_capacity(rows.len());
    // (concept, day) → the groups holding it.
    let mut index: HashMap<(u64, u32), Vec<usize>> = HashMap::new();
    for mut row in rows {
        let keys: Vec<(u64, u32)> = match day_number(&row.sort) {
            Some(day) => row.codes.iter().map(|&c| (c, day)).collect(),
            None => Vec::new(),
        };
        let source = row.sources.first().cloned().unwrap_or_default();
        let found = keys
            .iter()
            .flat_map(|k| index.get(k).into_iter().flatten())
            .copied()
            .find(|&g| groups[g].iter().all(|r| !r.sources.contains(&source)));
        match found {
            Some(g) => {
                let same = groups[g]
                    .iter()
                    .position(|r| value_of(r, measured) == value_of(&row, measured));
                match same {
                    Some(k) => {
                        moved.insert(anchor_of(&row), anchor_of(&groups[g][k]));
                        groups[g][k].sources.push(source);
                    }
                    None => {
                        row.group = groups[g][0].group;
                        row.differs = true;
                        groups[g][0].differs = true;
                        groups[g].push(row);
                    }
                }
            }
            None => {
                for k in keys {
                    index.entry(k).or_default().push(groups.len());
                }
                groups.push(vec![row]);
            }
        }
    }
    // Newest first within each group of the section; a fact's rows stay together.
    groups.sort_by(|a, b| {
        (a[0].group, &b[0].sort, &a[0].id).cmp(&(b[0].group, &a[0].sort, &b[0].id))
    });
    let mut out = Vec::new();
    let mut merged = 0;
    for g in groups {
        merged += g.iter().filter(|r| r.sources.len() > 1).count();
        out.extend(g);
    }
    (out, merged)
}

/// One line per source under the name (merged page): provider, practice, last sync,
/// completeness.
pub fn header_sources(out: &mut String, record: &Record) {
    if record.sources.is_empty() {
        return;
    }
    out.push_str("<ul class=\"sources\" aria-label=\"Sources\">");
    for s in &record.sources {
        let mut line = format!("{}: {}", s.profile, s.provider);
        if let Some(p) = &s.practice {
            let _ = write!(line, ", {p}");
        }
        match &s.last_sync {
            Some(d) => {
                let _ = write!(line, "; synced {}", super::dates::short(d));
            }
            None => line.push_str("; never synced"),
        }
        let _ = write!(line, "; {}", s.completeness);
        let _ = write!(out, "<li>{}</li>", html::text(&line));
    }
    out.push_str("</ul>");
}

/// The page's list of sources ("About this record", merged page).
pub fn sources_table(out: &mut String, record: &Record) {
    out.push_str(
        "<table class=\"sources\"><caption>Where this record comes from</caption><thead><tr><th>Profile</th><th>Provider</th><th>Practice</th>\
         <th>FHIR server</th><th>Last synced</th><th>Completeness</th><th>Resources</th></tr></thead><tbody>",
    );
    let text = html::text;
    for s in &record.sources {
        let _ = write!(
            out,
            "<tr data-source=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html::attr(&s.profile),
            text(&s.profile),
            text(&s.provider),
            text(s.practice.as_deref().unwrap_or("—")),
            text(s.fhir_base.as_deref().unwrap_or("—")),
            text(&s.last_sync.as_deref().map(super::dates::short).unwrap_or_else(|| "—".into())),
            text(&s.completeness),
            s.resources
        );
    }
    out.push_str("</tbody></table>\n");
}

/// A section's rows per source, under its title (merged page).
pub fn section_counts(out: &mut String, s: &Section) {
    if s.by_source.is_empty() {
        return;
    }
    let each: Vec<String> = s
        .by_source
        .iter()
        .map(|(name, n)| format!("{}: {n}", html::text(name)))
        .collect();
    let _ = write!(
        out,
        "<p class=\"by-source\" data-merged=\"{}\">From {}; {} from several sources.</p>",
        s.merged,
        each.join(" · "),
        s.merged
    );
}

/// The cell naming a row's sources, and whether its value differs from another source's.
pub fn source_cell(r: &Row) -> String {
    let mut cell = html::text(&r.sources.join(", "));
    if r.differs {
        cell.push_str(" <span class=\"differs\">(values differ)</span>");
    }
    cell
}

/// `--json`: the sources, and per section the rows shown and the rows of several sources.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub path: std::path::PathBuf,
    pub bytes: u64,
    pub resources: usize,
    pub sources: Vec<Source>,
    pub sections: Vec<SectionSummary>,
}

#[derive(Debug, Serialize)]
pub struct SectionSummary {
    pub name: String,
    pub rows: usize,
    pub merged: usize,
    /// Rows per source.
    pub by_source: BTreeMap<String, usize>,
}

impl SectionSummary {
    pub fn of(s: &Section) -> SectionSummary {
        SectionSummary {
            name: s.kind.key.to_owned(),
            rows: s.rows.len(),
            merged: s.merged,
            by_source: s.by_source.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(source: &str, id: &str, day: &str, code: &str, value: &str) -> Row {
        Row {
            ty: "Observation".into(),
            id: id.into(),
            sort: format!("{day}T10:00:00Z"),
            cells: vec![day.into(), "Test".into(), value.into(), "mg/dL".into()],
            codes: vec![super::super::sections::concept_key(
                "http://loinc.org",
                code,
            )],
            sources: vec![source.into()],
            ..Row::default()
        }
    }

    #[test]
    fn one_fact_from_two_sources_is_one_row_and_differing_values_stay_side_by_side() {
        let rows = vec![
            row("a", "a_1", "2024-01-02", "2345-7", "99"),
            row("a", "a_2", "2024-01-02", "2345-7", "120"),
            row("a", "a_3", "2023-05-06", "718-7", "13"),
            row("b", "b_1", "2024-01-02", "2345-7", "99"),
            row("b", "b_3", "2023-05-06", "718-7", "14"),
            row("b", "b_4", "2022-01-01", "718-7", "12"),
        ];
        let mut moved = HashMap::new();
        let (out, merged) = facts(rows, true, &mut moved);
        let shown: Vec<(String, Vec<String>, bool)> = out
            .iter()
            .map(|r| (r.id.clone(), r.sources.clone(), r.differs))
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shown,
            vec![
                ("a_1".into(), s(&["a", "b"]), false),
                // The second reading of the day at `a` is a fact of its own.
                ("a_2".into(), s(&["a"]), false),
                ("a_3".into(), s(&["a"]), true),
                ("b_3".into(), s(&["b"]), true),
                ("b_4".into(), s(&["b"]), false),
            ]
        );
        assert_eq!(merged, 1);
        assert_eq!(moved["r-Observation-b_1"], "r-Observation-a_1");
        // Not measured: one concept and day is one fact.
        let (out, merged) = facts(
            vec![
                row("a", "x", "2020-01-01", "1", "p"),
                row("b", "y", "2020-01-01", "1", "q"),
            ],
            false,
            &mut moved,
        );
        assert_eq!((out.len(), merged), (1, 1));
    }

    #[test]
    fn days_are_numbers_and_partial_dates_are_none() {
        assert_eq!(day_number("2024-01-02T10:00:00Z"), Some(20240102));
        assert_eq!(day_number("2024-01"), None);
        assert_eq!(day_number("2024-0x-02"), None);
        assert_eq!(day_number(""), None);
    }

    #[test]
    fn anchors_move_with_their_source() {
        assert_eq!(
            rehome("r-DocumentReference-d1", "clinic"),
            "r-DocumentReference-clinic_d1"
        );
        assert_eq!(rehome("odd", "clinic"), "odd");
    }
}
