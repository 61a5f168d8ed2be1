//! The page itself: one HTML document with its CSS and script inline (`assets/`), written
//! section by section to a sink. The Content-Security-Policy allows nothing but this page's own
//! style and script (by hash): no fetch, image, font, frame or form can leave the file.
//!
//! Markup: every resource is one `<tr data-row="Type">` (or `<li data-row="Type">` in the
//! timeline) with `id="r-Type-id"`; each `<section data-section="key" data-count="N">` holds N
//! rows; each chart is a `<figure class="chart" data-points="N">` with N `<circle>`s.

use super::charts;
use super::dates;
use super::html::{self, text};
use super::merge;
use super::record::{Record, Section};
use super::sections::{Layout, Note, Row};
use crate::folder::Folder;
use anyhow::Result;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

const CSS: &str = include_str!("assets/page.css");
const JS: &str = include_str!("assets/page.js");

/// Rows shown before a group's table continues under "N more".
const FIRST_ROWS: usize = 25;
/// Rows per `<tbody>`; each renders only when scrolled into view (`content-visibility`).
const CHUNK: usize = 500;

fn csp_hash(s: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
    )
}

/// The Content-Security-Policy of the page.
pub fn csp() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src 'none'; font-src 'none'; connect-src 'none'; \
         media-src 'none'; object-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'none'",
        csp_hash(CSS),
        csp_hash(JS)
    )
}

/// Writes the page, piece by piece, to `sink`.
pub fn write(
    record: &Record,
    folder: &Folder,
    generated_at: &str,
    sink: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<()> {
    let name = record
        .patients
        .first()
        .and_then(|p| strip_tags(&p.cells[0]))
        .unwrap_or_else(|| "Patient".into());
    let mut out = String::with_capacity(64 * 1024);
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\"><meta name=\"robots\" content=\"noindex\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"generator\" content=\"fhirdl {}\">\n<title>Medical record — {}</title>\n<style>{CSS}</style>\n</head>\n<body>",
        html::attr(&csp()),
        env!("CARGO_PKG_VERSION"),
        text(&name),
    );
    header(&mut out, record, &name);
    toc(&mut out, record);
    out.push_str("<main>\n");
    about(&mut out, record, folder);
    sink(&out)?;
    for s in &record.sections {
        out.clear();
        section(&mut out, s);
        sink(&out)?;
        if s.kind.key == "documents" {
            out.clear();
            notes(&mut out, &record.notes);
            sink(&out)?;
        }
    }
    out.clear();
    other(&mut out, record);
    let _ = writeln!(
        out,
        "</main>\n<footer>Made by fhirdl {} on {} from the files of this folder. Values are shown as the provider's server stored them. \
         This page is self-contained: it loads nothing from the network.</footer>\n<script>{JS}</script>\n</body></html>",
        env!("CARGO_PKG_VERSION"),
        text(&dates::short(generated_at))
    );
    sink(&out)
}

/// The text of a cell made by `rows.rs` (tags dropped, entities left escaped).
fn strip_tags(html: &str) -> Option<String> {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let unescaped = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    (!unescaped.trim().is_empty()).then_some(unescaped)
}

fn header(out: &mut String, record: &Record, name: &str) {
    let _ = write!(out, "<header class=\"top\"><h1>{}</h1>", text(name));
    if let Some(p) = record.patients.first() {
        let born = strip_tags(&p.cells[1]).map(|b| format!("born {b}"));
        let parts: Vec<String> = born.into_iter().chain(strip_tags(&p.cells[2])).collect();
        if !parts.is_empty() {
            let _ = write!(out, "<p class=\"sub\">{}</p>", text(&parts.join(" · ")));
        }
    }
    merge::header_sources(out, record);
    out.push_str(
        "<div class=\"filter\" id=\"filter-bar\" hidden><input type=\"search\" id=\"filter\" placeholder=\"Filter rows: glucose, 2023, active…\" aria-label=\"Filter rows\">\
         <button type=\"button\" id=\"expand-all\">Expand all</button><button type=\"button\" id=\"collapse-all\">Collapse all</button>\
         <span id=\"filter-count\" class=\"muted\"></span></div></header>\n",
    );
}

fn toc(out: &mut String, record: &Record) {
    out.push_str(
        "<nav class=\"toc\" aria-label=\"Sections\"><ul><li><a href=\"#about\">About</a></li>",
    );
    for s in &record.sections {
        let _ = write!(
            out,
            "<li><a href=\"#{}\">{} <span class=\"n\">{}</span></a></li>",
            s.kind.key,
            s.kind.title,
            s.rows.len()
        );
        if s.kind.key == "documents" && !record.notes.is_empty() {
            let _ = write!(
                out,
                "<li><a href=\"#notes\">Clinical notes <span class=\"n\">{}</span></a></li>",
                record.notes.len()
            );
        }
    }
    let others: usize = record.other.values().map(Vec::len).sum();
    let _ = writeln!(out, "<li><a href=\"#other\">Other resources <span class=\"n\">{others}</span></a></li></ul></nav>");
}

/// Who, where from, when, and each type's count and status.
fn about(out: &mut String, record: &Record, folder: &Folder) {
    let _ = writeln!(
        out,
        "<section id=\"about\" data-section=\"about\" data-count=\"{}\"><details open><summary><h2>About this record</h2></summary>",
        record.patients.len()
    );
    let patients: Vec<&Row> = record.patients.iter().collect();
    table_of(out, &["Name", "Born", "Gender", "Identifiers"], &patients);
    if !record.sources.is_empty() {
        merge::sources_table(out, record);
        out.push_str("</details></section>\n");
        return;
    }
    out.push_str("<dl class=\"facts\">");
    let mut fact = |label: &str, value: Option<&str>| {
        if let Some(v) = value {
            let _ = write!(out, "<dt>{label}</dt><dd>{}</dd>", text(v));
        }
    };
    fact("Provider", record.provider.as_deref());
    fact("FHIR server", folder.fhir_base.as_deref());
    fact("FHIR version", folder.fhir_version.as_deref());
    fact(
        "Last synced",
        folder.synced_at.as_deref().map(dates::short).as_deref(),
    );
    fact(
        "Last sync run finished",
        folder.last_run_at.as_deref().map(dates::short).as_deref(),
    );
    fact("Export folder", Some(&folder.dir.display().to_string()));
    out.push_str("</dl>\n");
    // Where each type's rows are.
    let mut shown_in: BTreeMap<&str, BTreeSet<(&str, &str)>> = BTreeMap::new();
    for s in &record.sections {
        for r in &s.rows {
            shown_in
                .entry(r.ty.as_str())
                .or_default()
                .insert((s.kind.key, s.kind.title));
        }
    }
    for ty in record.other.keys() {
        shown_in
            .entry(ty.as_str())
            .or_default()
            .insert(("other", "Other resources"));
    }
    shown_in
        .entry("Patient")
        .or_default()
        .insert(("about", "About this record"));
    // Open when a type is not known to be whole, so that a partial record says so up front.
    let doubtful = folder.types.iter().any(|t| {
        t.status
            .as_deref()
            .is_some_and(|s| !matches!(s, "complete" | "recovered" | "ok" | "unchanged"))
    }) || !record.unreadable.is_empty();
    let total: usize = record.counts.values().sum();
    let _ = write!(
        out,
        "<details class=\"types\"{}><summary>{} resources of {} types: counts and the status of the last sync</summary>",
        if doubtful { " open" } else { "" },
        total,
        folder.types.len()
    );
    out.push_str("<table class=\"types\"><thead><tr><th>Resource type</th><th>Resources</th><th>Status of the last sync</th><th>Shown in</th></tr></thead><tbody>");
    for t in &folder.types {
        let ty = t.resource_type.as_str();
        let count = record.counts.get(ty).copied().unwrap_or(0);
        let mut status = t.status.clone().unwrap_or_else(|| "—".into());
        if let Some(bad) = record.unreadable.get(ty) {
            status.push_str(&format!(" ({bad} lines could not be read)"));
        }
        let links: Vec<String> = shown_in
            .get(ty)
            .into_iter()
            .flatten()
            .map(|(key, title)| format!("<a href=\"#{key}\">{title}</a>"))
            .collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{count}</td><td><span class=\"st\" data-st=\"{}\">{}</span></td><td>{}</td></tr>",
            text(ty),
            html::attr(&status.to_ascii_lowercase()),
            text(&status),
            links.join(", ")
        );
    }
    out.push_str("</tbody></table></details></details></section>\n");
}

fn section(out: &mut String, s: &Section) {
    let _ = writeln!(
        out,
        "<section id=\"{key}\" data-section=\"{key}\" data-count=\"{n}\"><details open><summary><h2>{title} <span class=\"n\">({n})</span></h2></summary>",
        key = s.kind.key,
        n = s.rows.len(),
        title = s.kind.title
    );
    merge::section_counts(out, s);
    if s.rows.is_empty() {
        out.push_str("<p class=\"empty\">None in this record.</p>");
    }
    if !s.charts.is_empty() {
        out.push_str("<div class=\"charts\">");
        for (i, c) in s.charts.iter().enumerate() {
            charts::figure(out, c, i);
        }
        out.push_str("</div>\n");
    }
    match s.kind.layout {
        Layout::Timeline => timeline(out, &s.rows),
        Layout::Table => {
            for (g, label) in s.kind.groups.iter().enumerate() {
                let rows: Vec<&Row> = s.rows.iter().filter(|r| r.group == g).collect();
                if rows.is_empty() {
                    continue;
                }
                if !label.is_empty() {
                    let _ = write!(
                        out,
                        "<h3>{label} <span class=\"n\">({})</span></h3>",
                        rows.len()
                    );
                }
                let (first, rest) = rows.split_at(rows.len().min(FIRST_ROWS));
                table_of(out, s.kind.columns, first);
                if !rest.is_empty() {
                    let _ = write!(
                        out,
                        "<details class=\"more\"><summary>{} more</summary>",
                        rest.len()
                    );
                    table_of(out, s.kind.columns, rest);
                    out.push_str("</details>");
                }
            }
        }
    }
    out.push_str("</details></section>\n");
}

fn table_of(out: &mut String, columns: &[&str], rows: &[&Row]) {
    out.push_str("<table><thead><tr>");
    for c in columns {
        let _ = write!(out, "<th>{c}</th>");
    }
    // A page of several providers names each row's.
    let sourced = rows.iter().any(|r| !r.sources.is_empty());
    if sourced {
        out.push_str("<th>Source</th>");
    }
    out.push_str("</tr></thead>");
    for chunk in rows.chunks(CHUNK) {
        out.push_str(if rows.len() > CHUNK {
            "<tbody class=\"chunk\">"
        } else {
            "<tbody>"
        });
        for r in chunk {
            open_row(out, "tr", r);
            for c in &r.cells {
                let _ = write!(out, "<td>{c}</td>");
            }
            if sourced {
                let _ = write!(out, "<td class=\"src\">{}</td>", merge::source_cell(r));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>");
    }
    out.push_str("</table>\n");
}

fn open_row(out: &mut String, tag: &str, r: &Row) {
    let _ = write!(out, "<{tag} data-row=\"{}\"", html::attr(&r.ty));
    if !r.id.is_empty() {
        let _ = write!(
            out,
            " id=\"{}\"",
            html::attr(&html::anchor(&format!("r-{}-{}", r.ty, r.id)))
        );
    }
    match (r.flag, r.differs) {
        (Some(flag), true) => {
            let _ = write!(out, " class=\"{flag} differs\"");
        }
        (Some(flag), false) => {
            let _ = write!(out, " class=\"{flag}\"");
        }
        (None, true) => out.push_str(" class=\"differs\""),
        (None, false) => {}
    }
    if !r.sources.is_empty() {
        let _ = write!(
            out,
            " data-sources=\"{}\"",
            html::attr(&r.sources.join(" "))
        );
    }
    out.push('>');
}

/// Encounters by year, newest first; years after the most recent one start collapsed.
fn timeline(out: &mut String, rows: &[Row]) {
    let mut year: Option<&str> = None;
    let mut years = 0;
    for r in rows {
        let y = r.sort.get(..4).unwrap_or("Undated");
        if year != Some(y) {
            if year.is_some() {
                out.push_str("</ol></details>");
            }
            let count = rows
                .iter()
                .filter(|x| x.sort.get(..4).unwrap_or("Undated") == y)
                .count();
            let _ = write!(
                out,
                "<details class=\"year\"{}><summary><h3>{} <span class=\"n\">({count})</span></h3></summary><ol class=\"timeline\">",
                if years < 2 { " open" } else { "" },
                text(y)
            );
            year = Some(y);
            years += 1;
        }
        open_row(out, "li", r);
        let _ = write!(
            out,
            "{} <span class=\"what\">{}</span> <span class=\"muted\">{}</span>",
            r.cells[0], r.cells[1], r.cells[2]
        );
        if !r.sources.is_empty() {
            let _ = write!(
                out,
                " <span class=\"src\">({})</span>",
                merge::source_cell(r)
            );
        }
        out.push_str("</li>\n");
    }
    if year.is_some() {
        out.push_str("</ol></details>");
    }
}

fn notes(out: &mut String, notes: &[Note]) {
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<section id=\"notes\" data-section=\"notes\" data-count=\"0\"><details open><summary><h2>Clinical notes <span class=\"n\">({})</span></h2></summary>",
        notes.len()
    );
    for (i, n) in notes.iter().enumerate() {
        let _ = writeln!(
            out,
            "<details class=\"note\"{}><summary><b>{}</b> <span class=\"muted\">{}</span> <a href=\"#{}\">record</a></summary><pre>{}{}</pre></details>",
            if i < 3 { " open" } else { "" },
            text(&n.title),
            n.date.as_deref().map(|d| text(&dates::short(d))).unwrap_or_default(),
            html::attr(&n.row),
            text(&n.text),
            if n.truncated { "\n…(shortened; open the document for the rest)" } else { "" }
        );
    }
    out.push_str("</details></section>\n");
}

fn other(out: &mut String, record: &Record) {
    let n: usize = record.other.values().map(Vec::len).sum();
    let _ = writeln!(
        out,
        "<section id=\"other\" data-section=\"other\" data-count=\"{n}\"><details open><summary><h2>Other resources <span class=\"n\">({n})</span></h2></summary>"
    );
    if n == 0 {
        out.push_str("<p class=\"empty\">None in this record.</p>");
    }
    for (ty, rows) in &record.other {
        let _ = write!(
            out,
            "<h3>{} <span class=\"n\">({})</span></h3>",
            text(ty),
            rows.len()
        );
        let refs: Vec<&Row> = rows.iter().collect();
        let (first, rest) = refs.split_at(refs.len().min(FIRST_ROWS));
        table_of(out, &["Id", "Name or summary", "Last updated"], first);
        if !rest.is_empty() {
            let _ = write!(
                out,
                "<details class=\"more\"><summary>{} more</summary>",
                rest.len()
            );
            table_of(out, &["Id", "Name or summary", "Last updated"], rest);
            out.push_str("</details>");
        }
    }
    out.push_str("</details></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_this_pages_style_and_script() {
        let p = csp();
        assert!(p.starts_with("default-src 'none';"));
        assert!(!p.contains("unsafe") && !p.contains("http") && !p.contains('*'));
        assert_eq!(p.matches("'sha256-").count(), 2);
        assert!(
            !JS.contains("fetch(") && !JS.contains("XMLHttpRequest") && !JS.contains("innerHTML")
        );
        assert_eq!(
            strip_tags("<time>a &lt;b&gt;</time>").as_deref(),
            Some("a <b>")
        );
    }
}
