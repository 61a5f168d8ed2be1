//! The record as the page shows it: every resource of the export folder read once, line by line,
//! and turned into a row of its section (International Patient Summary order), a point of a
//! trend chart, a clinical note, or a row of "other resources".
//!
//! Each resource gives exactly one row, so a section's rows can be counted against the NDJSON
//! files. What a row shows is chosen per type in `rows.rs`; this file owns the walk, the
//! sections and the lookups rows need (names of referenced resources, saved documents).

use super::charts::{Chart, Charts};
use super::fields::{self, Resource};
use super::sections::{
    Kind, Lookup, Note, Row, ALLERGIES, DOCUMENTS, ENCOUNTERS, IMMUNIZATIONS, KINDS, LABS,
    MEDICATIONS, PLANS, PROBLEMS, PROCEDURES, REPORTS, VITALS,
};
use crate::folder::{for_each_line, Folder};
use anyhow::Result;
use std::collections::{BTreeMap, HashMap};

/// Which section a resource type goes to (Observations: by category, see `rows.rs`).
fn section_of(ty: &str) -> Option<usize> {
    Some(match ty {
        "Condition" => PROBLEMS,
        "AllergyIntolerance" => ALLERGIES,
        // DSTU2's MedicationOrder is R4's MedicationRequest.
        "MedicationRequest"
        | "MedicationOrder"
        | "MedicationStatement"
        | "MedicationDispense"
        | "MedicationAdministration" => MEDICATIONS,
        "Immunization" => IMMUNIZATIONS,
        "Observation" => VITALS,
        "DiagnosticReport" => REPORTS,
        "Procedure" => PROCEDURES,
        "Encounter" => ENCOUNTERS,
        "CarePlan" | "Goal" => PLANS,
        "DocumentReference" => DOCUMENTS,
        _ => return None,
    })
}

/// Types whose names other rows show for their references.
const DIRECTORY: [&str; 5] = [
    "Practitioner",
    "Organization",
    "Location",
    "Medication",
    "PractitionerRole",
];

#[derive(Debug)]
pub struct Section {
    pub kind: &'static Kind,
    pub rows: Vec<Row>,
    pub charts: Vec<Chart>,
    /// Rows per source and rows from several (a page of several providers).
    pub by_source: Vec<(String, usize)>,
    pub merged: usize,
}

#[derive(Debug, Default)]
pub struct Record {
    /// Rows of the Patient resources (the header).
    pub patients: Vec<Row>,
    pub sections: Vec<Section>,
    pub notes: Vec<Note>,
    /// Every other type's rows, by type.
    pub other: BTreeMap<String, Vec<Row>>,
    /// Resources per type (readable lines).
    pub counts: BTreeMap<String, usize>,
    /// Lines per type that are not a JSON object.
    pub unreadable: BTreeMap<String, usize>,
    /// The patient's organization, when the record names one.
    pub provider: Option<String>,
    /// Links to saved documents on the page.
    pub attachment_links: usize,
    /// The providers' records this one was merged from (none: one export folder).
    pub sources: Vec<super::sections::Source>,
}

/// Reads the folder into the page's record. `prefix`: path segments from the page's folder to
/// the export folder (empty when the page is in it).
pub fn read(folder: &Folder, prefix: Vec<String>) -> Result<Record> {
    let mut lookup = Lookup {
        folder,
        names: HashMap::new(),
        saved: HashMap::new(),
        measured: HashMap::new(),
        prefix,
    };
    for (file, entry) in &folder.attachments {
        lookup
            .saved
            .entry(entry.resource.clone())
            .or_default()
            .push((file.clone(), entry.clone()));
    }
    for files in lookup.saved.values_mut() {
        // `…-2.pdf` before `…-10.pdf`: same prefix, so shorter first.
        files.sort_by(|a, b| (a.0.len(), &a.0).cmp(&(b.0.len(), &b.0)));
    }
    for ty in DIRECTORY.iter().filter(|t| folder.has(t)) {
        let path = crate::export_layout::ndjson_path(&folder.dir, ty);
        for_each_line(&path, |line| {
            let Ok(text) = std::str::from_utf8(line) else {
                return Ok(());
            };
            if let Some(r) = Resource::parse(text) {
                let name = fields::human_name(r.name).or_else(|| fields::concept(r.code));
                if let (Some(name), Some(id)) = (name, r.id.as_deref()) {
                    lookup.names.insert(format!("{ty}/{id}"), name);
                }
            }
            Ok(())
        })?;
    }
    let mut walk = Walk {
        record: Record::default(),
        sections: KINDS
            .iter()
            .map(|kind| Section {
                kind,
                rows: Vec::new(),
                charts: Vec::new(),
                by_source: Vec::new(),
                merged: 0,
            })
            .collect(),
        vitals: Charts::default(),
        labs: Charts::default(),
    };
    // Observations first: reports show what their results measured.
    let mut order: Vec<&crate::folder::TypeFile> = folder.types.iter().collect();
    order.sort_by_key(|t| t.resource_type != "Observation");
    for t in order {
        let ty = t.resource_type.as_str();
        for_each_line(&t.path, |line| {
            let parsed = std::str::from_utf8(line)
                .ok()
                .and_then(|text| Resource::parse(text).map(|r| (r, text)));
            match parsed {
                Some((r, _)) => {
                    *walk.record.counts.entry(ty.to_owned()).or_default() += 1;
                    walk.add(&mut lookup, ty, &r);
                }
                None => *walk.record.unreadable.entry(ty.to_owned()).or_default() += 1,
            }
            Ok(())
        })?;
    }
    let Walk {
        mut record,
        mut sections,
        vitals,
        labs,
    } = walk;
    sections[VITALS].charts = vitals.into_charts();
    sections[LABS].charts = labs.into_charts();
    for s in &mut sections {
        // Newest first within each group; the same date in id order.
        s.rows
            .sort_by(|a, b| (a.group, &b.sort, &a.id).cmp(&(b.group, &a.sort, &b.id)));
    }
    record.notes.sort_by(|a, b| b.date.cmp(&a.date));
    record.sections = sections;
    // The practice chosen in the directory, else the patient's managing organization, else
    // the server.
    record.provider = folder
        .practice
        .clone()
        .or(record.provider.take())
        .or_else(|| folder.fhir_base.clone());
    Ok(record)
}

/// The codes of what a resource is about (what makes two providers' rows one fact).
fn concept_codes(ty: &str, r: &Resource<'_>) -> Vec<u64> {
    let raw = match ty {
        "Immunization" => r.vaccine_code,
        "AllergyIntolerance" => r.code.or(r.substance),
        "Encounter" | "DocumentReference" => r.type_.or(r.class),
        t if t.starts_with("Medication") => r.medication_codeable_concept,
        "Goal" => r.description,
        "CarePlan" => r.category,
        _ => r.code,
    };
    fields::codes(raw)
        .into_iter()
        .filter(|(system, code)| !system.is_empty() && !code.is_empty())
        .map(|(system, code)| super::sections::concept_key(&system, &code))
        .collect()
}

/// The walk over every resource.
pub struct Walk {
    pub record: Record,
    pub sections: Vec<Section>,
    pub vitals: Charts,
    pub labs: Charts,
}

impl Walk {
    fn add(&mut self, lookup: &mut Lookup<'_>, ty: &str, r: &Resource<'_>) {
        if ty == "Patient" {
            if self.record.provider.is_none() {
                self.record.provider = fields::references(r.managing_organization)
                    .first()
                    .and_then(|o| lookup.name(o));
            }
            let row = super::rows::patient(r);
            self.record.patients.push(row);
            return;
        }
        let Some(mut section) = section_of(ty) else {
            let row = super::rows::other(ty, r);
            self.record
                .other
                .entry(ty.to_owned())
                .or_default()
                .push(row);
            return;
        };
        let row = match section {
            PROBLEMS => super::rows::condition(r),
            ALLERGIES => super::rows::allergy(r),
            MEDICATIONS => super::rows::medication(ty, r, lookup),
            IMMUNIZATIONS => super::rows::immunization(r),
            VITALS => {
                let (row, placed) =
                    super::rows::observation(r, lookup, &mut self.vitals, &mut self.labs);
                section = placed;
                row
            }
            REPORTS => {
                let (row, note, links) = super::rows::report(r, lookup);
                self.record.attachment_links += links;
                self.record.notes.extend(note);
                row
            }
            PROCEDURES => super::rows::procedure(r, lookup),
            ENCOUNTERS => super::rows::encounter(r, lookup),
            PLANS => super::rows::plan(ty, r),
            DOCUMENTS => {
                let (row, notes, links) = super::rows::document(r, lookup);
                self.record.attachment_links += links;
                self.record.notes.extend(notes);
                row
            }
            _ => super::rows::other(ty, r),
        };
        let mut row = row;
        row.codes = concept_codes(ty, r);
        self.sections[section].rows.push(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_has_its_columns_and_groups() {
        for k in &KINDS {
            assert!(!k.columns.is_empty() && !k.groups.is_empty(), "{}", k.key);
        }
        assert_eq!(KINDS[VITALS].key, "vitals");
        assert_eq!(KINDS[DOCUMENTS].key, "documents");
        assert_eq!(section_of("MedicationOrder"), Some(MEDICATIONS));
        assert_eq!(section_of("Practitioner"), None);
    }
}
