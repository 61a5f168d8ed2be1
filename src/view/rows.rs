//! One row per resource, per type: which elements each section shows, in R4 and DSTU2. Cells
//! are HTML made only with [`html::text`]/[`html::attr`] and links to saved files.

use super::charts::{self, Charts, Flag, Point};
use super::dates;
use super::fields::{self, Resource};
use super::html;
use super::sections::{self as record, Lookup, Note, Row};
use base64::Engine;
use std::fmt::Write;

/// An escaped cell, empty when there is nothing to show.
fn cell(s: Option<String>) -> String {
    s.map(|s| html::text(&s)).unwrap_or_default()
}

fn date_cell(s: &Option<String>) -> String {
    s.as_deref()
        .map(|d| format!("<time>{}</time>", html::text(&dates::short(d))))
        .unwrap_or_default()
}

fn status_cell(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(
            "<span class=\"st\" data-st=\"{}\">{}</span>",
            html::attr(&s.to_ascii_lowercase()),
            html::text(s)
        ),
        None => String::new(),
    }
}

fn row(ty: &str, r: &Resource<'_>, sort: Option<String>, cells: Vec<String>) -> Row {
    Row {
        ty: ty.to_owned(),
        id: r.id().to_owned(),
        sort: sort.unwrap_or_default(),
        group: 0,
        cells,
        ..Row::default()
    }
}

pub fn patient(r: &Resource<'_>) -> Row {
    let ids = fields::identifiers(r.identifier);
    row(
        "Patient",
        r,
        None,
        vec![
            cell(fields::human_name(r.name)),
            date_cell(&fields::date(r.birth_date)),
            cell(fields::string(r.gender)),
            cell((!ids.is_empty()).then(|| ids.join("; "))),
        ],
    )
}

/// A row of "other resources": id, what it is called, last update.
pub fn other(ty: &str, r: &Resource<'_>) -> Row {
    let summary = fields::human_name(r.name)
        .or_else(|| fields::string(r.title))
        .or_else(|| fields::concept(r.code))
        .or_else(|| fields::concept(r.type_))
        .or_else(|| fields::concept(r.description));
    let updated = r.last_updated();
    row(
        ty,
        r,
        updated.clone(),
        vec![
            cell(Some(r.id().to_owned())),
            cell(summary),
            date_cell(&updated),
        ],
    )
}

pub fn condition(r: &Resource<'_>) -> Row {
    let status = fields::status(r.clinical_status);
    let onset = fields::first_date(&[r.onset_date_time, r.onset_period, r.onset_string]);
    let resolved = fields::first_date(&[
        r.abatement_date_time,
        r.abatement_period,
        r.abatement_string,
    ]);
    let recorded = fields::first_date(&[r.recorded_date, r.date_recorded, r.asserted_date]);
    let group = match status.as_deref() {
        Some("active" | "recurrence" | "relapse") => 0,
        Some("resolved" | "inactive" | "remission") => 1,
        _ if resolved.is_some() => 1,
        _ => 2,
    };
    let mut row = row(
        "Condition",
        r,
        onset.clone().or(recorded.clone()),
        vec![
            cell(fields::concept(r.code)),
            status_cell(&status),
            date_cell(&onset),
            date_cell(&resolved),
            date_cell(&recorded),
        ],
    );
    row.group = group;
    row
}

pub fn allergy(r: &Resource<'_>) -> Row {
    // R4 names the substance `code`; DSTU2 `substance`.
    let what = fields::concept(r.code).or_else(|| fields::concept(r.substance));
    let status = fields::status(r.clinical_status).or_else(|| fields::status(r.status));
    let recorded = fields::first_date(&[r.recorded_date, r.onset_date_time]);
    let categories = fields::concepts(r.category);
    row(
        "AllergyIntolerance",
        r,
        recorded.clone(),
        vec![
            cell(what),
            cell((!categories.is_empty()).then(|| categories.join(", "))),
            cell(fields::string(r.criticality)),
            status_cell(&status),
            cell(fields::reactions(r.reaction)),
            date_cell(&recorded),
        ],
    )
}

pub fn medication(ty: &str, r: &Resource<'_>, lookup: &Lookup<'_>) -> Row {
    let what = fields::concept(r.medication_codeable_concept).or_else(|| {
        fields::references(r.medication_reference)
            .first()
            .and_then(|m| lookup.name(m))
    });
    let status = fields::status(r.status);
    let date = fields::first_date(&[
        r.authored_on,
        r.date_written,
        r.date_asserted,
        r.effective_date_time,
        r.effective_period,
    ]);
    let dosage =
        fields::dosage_text(r.dosage_instruction).or_else(|| fields::dosage_text(r.dosage));
    let by = lookup
        .names_of(&fields::references(r.requester))
        .or_else(|| lookup.names_of(&fields::references(r.prescriber)));
    let mut row = row(
        ty,
        r,
        date.clone(),
        vec![
            cell(what),
            status_cell(&status),
            cell(dosage),
            date_cell(&date),
            cell(by),
            cell(Some(ty.to_owned())),
        ],
    );
    row.group = usize::from(!matches!(
        status.as_deref(),
        Some("active" | "on-hold" | "intended")
    ));
    row
}

pub fn immunization(r: &Resource<'_>) -> Row {
    let date = fields::first_date(&[r.occurrence_date_time, r.date, r.occurrence_string]);
    row(
        "Immunization",
        r,
        date.clone(),
        vec![
            cell(fields::concept(r.vaccine_code)),
            date_cell(&date),
            status_cell(&fields::status(r.status)),
            cell(fields::string(r.lot_number)),
        ],
    )
}

/// An Observation's row and section (by category), adding its values to the trend charts.
pub fn observation(
    r: &Resource<'_>,
    lookup: &mut Lookup<'_>,
    vitals: &mut Charts,
    labs: &mut Charts,
) -> (Row, usize) {
    let section = observation_section(r);
    let date = fields::first_date(&[
        r.effective_date_time,
        r.effective_period,
        r.effective_instant,
        r.issued,
    ]);
    let codes = fields::codes(r.code);
    let code = codes
        .iter()
        .find(|(s, _)| s.contains("loinc"))
        .or(codes.first())
        .map(|(_, c)| c.clone())
        .unwrap_or_default();
    let label = fields::concept(r.code).unwrap_or_else(|| code.clone());
    let quantity = fields::quantity(r.value_quantity);
    let range = fields::reference_range(r.reference_range);
    let components = fields::components(r.component);
    let bp = blood_pressure(&components);
    let (value, unit) = observation_value(r, quantity.as_ref(), &components, &bp);
    let flag = interpretation(r).unwrap_or_else(|| {
        quantity
            .as_ref()
            .zip(range.as_ref())
            .and_then(|(q, r)| out_of_range(q, r))
    });
    if !r.id().is_empty() {
        let shown = match (&value, &unit) {
            (Some(v), Some(u)) => format!("{label}: {v} {u}"),
            (Some(v), None) => format!("{label}: {v}"),
            _ => label.clone(),
        };
        lookup.measured.insert(r.id().to_owned(), shown);
    }
    let day = date.as_deref().and_then(dates::day_number);
    let charts = match section {
        record::VITALS => Some(vitals),
        record::LABS => Some(labs),
        _ => None,
    };
    if let (Some(charts), Some(day), Some(shown_date)) = (charts, day, date.as_deref()) {
        let measured = Measured {
            code: &code,
            label: &label,
            quantity: quantity.as_ref(),
            range: range.as_ref(),
            bp: &bp,
            flag,
        };
        chart_points(charts, day, shown_date, &measured);
    }
    let flag_cell = flag
        .map(|f| format!("<span class=\"flag {}\">{}</span>", f.class(), f.label()))
        .unwrap_or_default();
    let cells = match section {
        record::SOCIAL => vec![date_cell(&date), cell(Some(label)), cell(value)],
        record::OBSERVATIONS => {
            let cats = fields::concepts(r.category);
            vec![
                date_cell(&date),
                cell(Some(label)),
                cell(value),
                cell(unit),
                cell((!cats.is_empty()).then(|| cats.join(", "))),
            ]
        }
        _ => vec![
            date_cell(&date),
            cell(Some(label)),
            cell(value),
            cell(unit),
            cell(range.and_then(|r| r.label())),
            flag_cell,
        ],
    };
    let mut row = row("Observation", r, date, cells);
    row.flag = flag.map(Flag::class);
    (row, section)
}

/// The section an Observation belongs in, by its category.
fn observation_section(r: &Resource<'_>) -> usize {
    let categories = fields::codes(r.category);
    let has = |c: &str| categories.iter().any(|(_, code)| code == c);
    if has("vital-signs") {
        record::VITALS
    } else if has("laboratory") {
        record::LABS
    } else if has("social-history") {
        record::SOCIAL
    } else {
        record::OBSERVATIONS
    }
}

/// The systolic and diastolic components of a blood pressure, with their series names.
fn blood_pressure(components: &[fields::Component]) -> Vec<(&'static str, &fields::Quantity)> {
    components
        .iter()
        .filter_map(|c| {
            let q = c.quantity.as_ref()?;
            let is = |wanted: &str| c.codes.iter().any(|(_, code)| code == wanted);
            if is(charts::SYSTOLIC) {
                Some(("Systolic", q))
            } else if is(charts::DIASTOLIC) {
                Some(("Diastolic", q))
            } else {
                None
            }
        })
        .collect()
}

/// An Observation's value and unit as shown: its Quantity, another value as written, or its
/// components (`120/80` for a blood pressure, else each with its label and unit).
fn observation_value(
    r: &Resource<'_>,
    quantity: Option<&fields::Quantity>,
    components: &[fields::Component],
    bp: &[(&str, &fields::Quantity)],
) -> (Option<String>, Option<String>) {
    let (mut value, mut unit) = match quantity {
        Some(q) => (Some(q.text()), q.unit.clone()),
        None => (other_value(r), None),
    };
    if value.is_none() && !components.is_empty() {
        if bp.len() == 2 {
            value = Some(format!("{}/{}", bp[0].1.text(), bp[1].1.text()));
            unit = bp[0].1.unit.clone();
        } else {
            let parts: Vec<String> = components
                .iter()
                .filter_map(|c| {
                    let q = c.quantity.as_ref()?;
                    Some(
                        format!(
                            "{} {} {}",
                            c.label.as_deref().unwrap_or(""),
                            q.text(),
                            q.unit.as_deref().unwrap_or("")
                        )
                        .trim()
                        .to_owned(),
                    )
                })
                .collect();
            value = (!parts.is_empty()).then(|| parts.join("; "));
        }
    }
    (value, unit)
}

/// What of an Observation goes on a chart.
struct Measured<'a> {
    /// Its LOINC code (or first code).
    code: &'a str,
    label: &'a str,
    quantity: Option<&'a fields::Quantity>,
    range: Option<&'a fields::Range>,
    bp: &'a [(&'static str, &'a fields::Quantity)],
    flag: Option<Flag>,
}

/// Adds an Observation measured on `day` to `charts`: a blood pressure's two components to
/// the blood pressure chart, a Quantity to its code's chart (a lone systolic or diastolic to
/// the blood pressure chart).
fn chart_points(charts: &mut Charts, day: f64, shown_date: &str, m: &Measured<'_>) {
    let point = |q: &fields::Quantity, flag: Option<Flag>| {
        q.number().map(|value| Point {
            day,
            value,
            label: format!(
                "{}: {} {}",
                dates::short(shown_date),
                q.text(),
                q.unit.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_owned(),
            flag,
        })
    };
    let bp_alone = match m.code {
        charts::SYSTOLIC => Some("Systolic"),
        charts::DIASTOLIC => Some("Diastolic"),
        _ => None,
    };
    if !m.bp.is_empty() {
        for (series, q) in m.bp {
            if let Some(p) = point(q, None) {
                let key = format!("bp|{}", q.unit.as_deref().unwrap_or(""));
                charts.add(
                    &key,
                    "Blood pressure",
                    q.unit.as_deref().unwrap_or(""),
                    series,
                    p,
                    None,
                );
            }
        }
    } else if let Some(q) = m.quantity {
        if let Some(p) = point(q, m.flag) {
            let u = q.unit.as_deref().unwrap_or("");
            match bp_alone {
                Some(series) => {
                    charts.add(&format!("bp|{u}"), "Blood pressure", u, series, p, m.range)
                }
                None => charts.add(&format!("{}|{u}", m.code), m.label, u, "", p, m.range),
            }
        }
    }
}

/// The value of an Observation that is not a Quantity, as written.
fn other_value(r: &Resource<'_>) -> Option<String> {
    fields::concept(r.value_codeable_concept)
        .or_else(|| fields::string(r.value_string))
        .or_else(|| fields::string(r.value_boolean))
        .or_else(|| fields::string(r.value_integer))
        .or_else(|| fields::string(r.value_date_time))
        .or_else(|| {
            #[derive(serde::Deserialize)]
            struct Lh<'b> {
                #[serde(borrow, default)]
                low: Option<&'b serde_json::value::RawValue>,
                #[serde(borrow, default)]
                high: Option<&'b serde_json::value::RawValue>,
            }
            let range: Lh<'_> = serde_json::from_str(r.value_range?.get()).ok()?;
            let (low, high) = (fields::quantity(range.low), fields::quantity(range.high));
            Some(format!(
                "{}–{}",
                low.map(|q| q.value).unwrap_or_default(),
                high.map(|q| q.value).unwrap_or_default()
            ))
        })
}

/// The flag an Observation's `interpretation` gives (`Some(None)` for an explicit normal).
fn interpretation(r: &Resource<'_>) -> Option<Option<Flag>> {
    let (_, code) = fields::codes(r.interpretation).into_iter().next()?;
    Some(match code.as_str() {
        "H" | "HH" | "HU" | ">" | "high" => Some(Flag::High),
        "L" | "LL" | "LU" | "<" | "low" => Some(Flag::Low),
        "N" | "normal" => None,
        _ => Some(Flag::Abnormal),
    })
}

fn out_of_range(q: &fields::Quantity, range: &fields::Range) -> Option<Flag> {
    let v = q.number()?;
    if range
        .high
        .as_ref()
        .and_then(|h| h.number())
        .is_some_and(|h| v > h)
    {
        Some(Flag::High)
    } else if range
        .low
        .as_ref()
        .and_then(|l| l.number())
        .is_some_and(|l| v < l)
    {
        Some(Flag::Low)
    } else {
        None
    }
}

/// A DiagnosticReport's row (results linked to their rows, documents to their files), its
/// conclusion as a note, and how many document links it has.
pub fn report(r: &Resource<'_>, lookup: &Lookup<'_>) -> (Row, Option<Note>, usize) {
    let date = fields::first_date(&[r.effective_date_time, r.effective_period, r.issued]);
    let label = fields::concept(r.code);
    let mut results = String::new();
    let refs = fields::references(r.result);
    for (i, res) in refs.iter().enumerate() {
        if i == 25 {
            let _ = write!(results, "<br>and {} more", refs.len() - 25);
            break;
        }
        let key = res.key();
        let id = key.as_deref().and_then(|k| k.strip_prefix("Observation/"));
        let shown = id
            .and_then(|id| lookup.measured.get(id).cloned())
            .or_else(|| lookup.name(res))
            .unwrap_or_default();
        if i > 0 {
            results.push_str("<br>");
        }
        match id.filter(|id| lookup.measured.contains_key(*id)) {
            Some(id) => {
                let _ = write!(
                    results,
                    "<a href=\"#{}\">{}</a>",
                    html::attr(&html::anchor(&format!("r-Observation-{id}"))),
                    html::text(&shown)
                );
            }
            None => results.push_str(&html::text(&shown)),
        }
    }
    let key = format!("DiagnosticReport/{}", r.id());
    let (files, links) = files_cell(&key, &fields::attachments(r.presented_form), lookup);
    let note = fields::string(r.conclusion).map(|text| Note {
        title: format!("{} — conclusion", label.as_deref().unwrap_or("Report")),
        date: date.clone(),
        text,
        row: html::anchor(&format!("r-DiagnosticReport-{}", r.id())),
        truncated: false,
    });
    let cats = fields::concepts(r.category);
    let row = row(
        "DiagnosticReport",
        r,
        date.clone(),
        vec![
            cell(label),
            cell((!cats.is_empty()).then(|| cats.join(", "))),
            status_cell(&fields::status(r.status)),
            date_cell(&date),
            results,
            files,
        ],
    );
    (row, note, links)
}

pub fn procedure(r: &Resource<'_>, lookup: &Lookup<'_>) -> Row {
    let date = fields::first_date(&[r.performed_date_time, r.performed_period]);
    row(
        "Procedure",
        r,
        date.clone(),
        vec![
            cell(fields::concept(r.code)),
            date_cell(&date),
            status_cell(&fields::status(r.status)),
            cell(lookup.names_of(&fields::references(r.performer))),
        ],
    )
}

pub fn encounter(r: &Resource<'_>, lookup: &Lookup<'_>) -> Row {
    let start = fields::date(r.period);
    let end = fields::period_end(r.period);
    let when = match (&start, &end) {
        (Some(s), Some(e)) if dates::date_only(s) == dates::date_only(e) && e.len() >= 16 => {
            format!(
                "<time>{}</time>–<time>{}</time>",
                html::text(&dates::short(s)),
                html::text(&e[11..16])
            )
        }
        (Some(s), Some(e)) => format!(
            "<time>{}</time> – <time>{}</time>",
            html::text(&dates::short(s)),
            html::text(&dates::short(e))
        ),
        (Some(s), None) => date_cell(&Some(s.clone())),
        _ => String::new(),
    };
    let what = fields::concept(r.type_)
        .or_else(|| fields::concept(r.class))
        .unwrap_or_else(|| "Encounter".into());
    let mut details = Vec::new();
    details.extend(fields::concept(r.class));
    details.extend(lookup.names_of(&fields::references(r.location)));
    details.extend(
        fields::references(r.service_provider)
            .first()
            .and_then(|o| lookup.name(o)),
    );
    let reasons = fields::concepts(r.reason_code);
    if !reasons.is_empty() {
        details.push(format!("reason: {}", reasons.join(", ")));
    }
    details.extend(fields::status(r.status));
    row(
        "Encounter",
        r,
        start,
        vec![when, cell(Some(what)), cell(Some(details.join(" · ")))],
    )
}

pub fn plan(ty: &str, r: &Resource<'_>) -> Row {
    let (what, status, date) = if ty == "Goal" {
        (
            fields::concept(r.description),
            fields::status(r.lifecycle_status).or_else(|| fields::status(r.status)),
            fields::date(r.start_date).or_else(|| fields::due_date(r.target)),
        )
    } else {
        (
            fields::string(r.title)
                .or_else(|| fields::string(r.description))
                .or_else(|| fields::concept(r.category)),
            fields::status(r.status),
            fields::date(r.period),
        )
    };
    let cats = fields::concepts(r.category);
    row(
        ty,
        r,
        date.clone(),
        vec![
            cell(what),
            cell(Some(if ty == "Goal" {
                "Goal".into()
            } else {
                "Care plan".into()
            })),
            status_cell(&status),
            cell((!cats.is_empty()).then(|| cats.join(", "))),
            date_cell(&date),
        ],
    )
}

/// Largest text document shown inline, in bytes.
const NOTE_MAX: usize = 200_000;

/// A DocumentReference's row, its text documents as notes, and its number of file links.
pub fn document(r: &Resource<'_>, lookup: &Lookup<'_>) -> (Row, Vec<Note>, usize) {
    let attachments = fields::attachments(r.content);
    let date = fields::first_date(&[r.date, r.indexed, r.created]);
    let title = fields::string(r.description)
        .or_else(|| attachments.iter().find_map(|a| a.title.clone()))
        .or_else(|| fields::concept(r.type_))
        .unwrap_or_else(|| "Document".into());
    let key = format!("DocumentReference/{}", r.id());
    let (files, links) = files_cell(&key, &attachments, lookup);
    let anchor = html::anchor(&format!("r-DocumentReference-{}", r.id()));
    let mut notes = Vec::new();
    for (a, saved) in attachments
        .iter()
        .zip(saved_for(&key, &attachments, lookup))
    {
        let plain = a
            .content_type
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/plain"));
        if !plain {
            continue;
        }
        let bytes = match (&a.data, saved) {
            (Some(data), _) => {
                let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(cleaned)
                    .ok()
            }
            (None, Some((file, _))) => lookup
                .folder
                .attachment_path(&file)
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= 4 * NOTE_MAX as u64))
                .and_then(|p| std::fs::read(p).ok()),
            _ => None,
        };
        if let Some(bytes) = bytes {
            let truncated = bytes.len() > NOTE_MAX;
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(NOTE_MAX)]).into_owned();
            notes.push(Note {
                title: a.title.clone().unwrap_or_else(|| title.clone()),
                date: date.clone(),
                text,
                row: anchor.clone(),
                truncated,
            });
        }
    }
    let types = fields::concept(r.type_)
        .into_iter()
        .chain(fields::concepts(r.category))
        .collect::<Vec<_>>();
    let row = row(
        "DocumentReference",
        r,
        date.clone(),
        vec![
            cell(Some(title)),
            cell((!types.is_empty()).then(|| types.join(" · "))),
            date_cell(&date),
            cell(lookup.names_of(&fields::references(r.author))),
            status_cell(&fields::status(r.status)),
            files,
        ],
    );
    (row, notes, links)
}

/// For each attachment, the file fhirdl saved for it, if any: by URL, else (inline data) in
/// order among the saved files without a URL.
fn saved_for(
    key: &str,
    attachments: &[fields::Attachment],
    lookup: &Lookup<'_>,
) -> Vec<Option<(String, crate::sync::attachments::ManifestEntry)>> {
    let saved = lookup.saved.get(key).map(Vec::as_slice).unwrap_or_default();
    let mut inline = saved.iter().filter(|(_, e)| e.url.is_none());
    attachments
        .iter()
        .map(|a| match &a.url {
            Some(url) if a.data.is_none() => saved
                .iter()
                .find(|(_, e)| e.url.as_deref() == Some(url.as_str()))
                .cloned(),
            _ => inline.next().cloned(),
        })
        .collect()
}

/// Links to the saved files of a resource's attachments (relative to the page), and the
/// attachments that were not saved named with their URL as text (never a link: the page makes
/// no request on its own, and a click should not leave the folder either).
fn files_cell(
    key: &str,
    attachments: &[fields::Attachment],
    lookup: &Lookup<'_>,
) -> (String, usize) {
    let mut out = String::new();
    let mut links = 0;
    for (a, saved) in attachments.iter().zip(saved_for(key, attachments, lookup)) {
        if !out.is_empty() {
            out.push_str("<br>");
        }
        match saved.filter(|(file, _)| lookup.folder.attachment_path(file).is_some()) {
            Some((file, entry)) => {
                let mut segments: Vec<&str> = lookup.prefix.iter().map(String::as_str).collect();
                segments.extend([crate::export_layout::ATTACHMENTS, file.as_str()]);
                let label = a.title.clone().unwrap_or_else(|| file.clone());
                let kind = file.rsplit('.').next().unwrap_or("").to_ascii_uppercase();
                let _ = write!(
                    out,
                    "<a class=\"file\" href=\"{}\" data-attachment=\"{}\">{}</a> <span class=\"muted\">{} {}</span>",
                    html::attr(&html::href(&segments)),
                    html::attr(&file),
                    html::text(&label),
                    html::text(&kind),
                    size(entry.bytes)
                );
                out.push_str(&super::note_text::cell(
                    lookup.folder,
                    &lookup.prefix,
                    &file,
                    &entry,
                ));
                links += 1;
            }
            None => {
                let why = match &a.url {
                    Some(url) => format!("not downloaded: {url}"),
                    None => "not saved".into(),
                };
                let _ = write!(out, "<span class=\"muted\">{}</span>", html::text(&why));
            }
        }
    }
    (out, links)
}

fn size(bytes: usize) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / 1024.0 / 1024.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_from_interpretation_or_range() {
        let r = Resource::parse(r#"{"valueQuantity":{"value":5.8},"referenceRange":[{"low":{"value":3.5},"high":{"value":5.1}}]}"#).unwrap();
        let q = fields::quantity(r.value_quantity).unwrap();
        let range = fields::reference_range(r.reference_range).unwrap();
        assert_eq!(out_of_range(&q, &range), Some(Flag::High));
        let r = Resource::parse(r#"{"interpretation":[{"coding":[{"code":"L"}]}]}"#).unwrap();
        assert_eq!(interpretation(&r), Some(Some(Flag::Low)));
        let r = Resource::parse(r#"{"interpretation":[{"coding":[{"code":"N"}]}]}"#).unwrap();
        assert_eq!(interpretation(&r), Some(None));
        assert_eq!(size(2048), "2 KB");
    }
}
