//! What the page is made of, shared by the walk that fills it ([`super::record`]) and the code
//! that turns resources into rows ([`super::rows`]): the sections and their indexes, a row, a
//! note, and the lookups rows need.

use super::fields;
use crate::folder::Folder;
use crate::sync::attachments::ManifestEntry;
use serde::Serialize;
use std::collections::HashMap;

/// One resource as a row: its cells are HTML, made only by escaping (see `rows.rs`).
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub ty: String,
    pub id: String,
    /// Sort key (a date as stored); rows sort newest first.
    pub sort: String,
    /// Index into the section's groups.
    pub group: usize,
    pub cells: Vec<String>,
    /// The row's flag class (`hi`, `lo`, `ab`), for out-of-range results.
    pub flag: Option<&'static str>,
    /// The coded concepts the row is about ([`concept_key`] of each system and code), for
    /// merging providers' records.
    pub codes: Vec<u64>,
    /// The profiles the row's fact came from (a page of several providers; else empty).
    pub sources: Vec<String>,
    /// Another provider gave another value of this fact (shown next to it).
    pub differs: bool,
}

/// How a section lays out its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Table,
    /// By year, newest first (encounters).
    Timeline,
}

/// A coded concept (system, code) as a number, so that rows keep 8 bytes per code instead of
/// two strings (a page of two 100,000-resource exports holds them all at once). Two different
/// concepts get the same number with a chance near 2⁻⁶⁴ per pair: about 10⁻⁹ for the
/// 100,000 distinct codes of a very large record.
pub fn concept_key(system: &str, code: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (system, code).hash(&mut h);
    h.finish()
}

/// One provider's export on a merged page.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub profile: String,
    /// The provider (the profile's preset, else its FHIR server's host).
    pub provider: String,
    /// The practice: the patient's managing organization, when the record names it.
    pub practice: Option<String>,
    pub fhir_base: Option<String>,
    pub last_sync: Option<String>,
    /// `complete`, or what was not (`partial: Observation failed`), or `unknown`.
    pub completeness: String,
    pub resources: usize,
}

/// What a section is; its rows are filled by the walk.
#[derive(Debug)]
pub struct Kind {
    pub key: &'static str,
    pub title: &'static str,
    pub columns: &'static [&'static str],
    pub groups: &'static [&'static str],
    pub layout: Layout,
}

const OBS_COLUMNS: &[&str] = &["Date", "Test", "Value", "Unit", "Reference range", "Flag"];

/// The sections, in page order; the indexes below name them.
pub const KINDS: [Kind; 13] = [
    Kind {
        key: "problems",
        title: "Problems",
        columns: &["Problem", "Status", "Onset", "Resolved", "Recorded"],
        groups: &["Active", "Resolved and inactive", "Other"],
        layout: Layout::Table,
    },
    Kind {
        key: "allergies",
        title: "Allergies and intolerances",
        columns: &[
            "Substance",
            "Category",
            "Criticality",
            "Status",
            "Reaction",
            "Recorded",
        ],
        groups: &[""],
        layout: Layout::Table,
    },
    Kind {
        key: "medications",
        title: "Medications",
        columns: &[
            "Medication",
            "Status",
            "Dosage",
            "Date",
            "Prescriber",
            "Kind",
        ],
        groups: &["Active", "Past and other"],
        layout: Layout::Table,
    },
    Kind {
        key: "immunizations",
        title: "Immunizations",
        columns: &["Vaccine", "Date", "Status", "Lot"],
        groups: &[""],
        layout: Layout::Table,
    },
    Kind {
        key: "vitals",
        title: "Vital signs",
        columns: OBS_COLUMNS,
        groups: &[""],
        layout: Layout::Table,
    },
    Kind {
        key: "labs",
        title: "Laboratory results",
        columns: OBS_COLUMNS,
        groups: &[""],
        layout: Layout::Table,
    },
    Kind {
        key: "reports",
        title: "Diagnostic reports",
        columns: &[
            "Report",
            "Category",
            "Status",
            "Date",
            "Results",
            "Documents",
        ],
        groups: &[""],
        layout: Layout::Table,
    },
    Kind {
        key: "social",
        title: "Social history",
        columns: &["Date", "Item", "Value"],
        groups: &[""],
        layout: Layout::Table,
    },
    Kind {
        key: "observations",
        title: "Other observations",
        columns: &["Date", "Observation", "Value", "Unit", "Category"],
        groups: &[""],
        layout: Layout::Table,
    },
    Kind {
        key: "procedures",
        title: "Procedures",
        columns: &["Procedure", "Date", "Status", "Performer"],
        groups: &[""],
        layout: Layout::Table,
    },
    Kind {
        key: "encounters",
        title: "Encounters",
        columns: &["Date", "Encounter", "Details"],
        groups: &[""],
        layout: Layout::Timeline,
    },
    Kind {
        key: "plans",
        title: "Care plans and goals",
        columns: &["Plan or goal", "Kind", "Status", "Category", "Date"],
        groups: &[""],
        layout: Layout::Table,
    },
    Kind {
        key: "documents",
        title: "Documents",
        columns: &["Document", "Type", "Date", "Author", "Status", "Files"],
        groups: &[""],
        layout: Layout::Table,
    },
];

pub const PROBLEMS: usize = 0;
pub const ALLERGIES: usize = 1;
pub const MEDICATIONS: usize = 2;
pub const IMMUNIZATIONS: usize = 3;
pub const VITALS: usize = 4;
pub const LABS: usize = 5;
pub const REPORTS: usize = 6;
pub const SOCIAL: usize = 7;
pub const OBSERVATIONS: usize = 8;
pub const PROCEDURES: usize = 9;
pub const ENCOUNTERS: usize = 10;
pub const PLANS: usize = 11;
pub const DOCUMENTS: usize = 12;

/// A clinical note shown as text (a text/plain document, a report's conclusion).
#[derive(Debug, Clone)]
pub struct Note {
    pub title: String,
    pub date: Option<String>,
    pub text: String,
    /// The element id of the resource's row.
    pub row: String,
    pub truncated: bool,
}

/// What rows need while they are made.
pub struct Lookup<'f> {
    pub folder: &'f Folder,
    /// `Type/id` → a name (Practitioner, Organization, Location, Medication).
    pub names: HashMap<String, String>,
    /// `Type/id` → its saved documents (file name, entry), in attachment order.
    pub saved: HashMap<String, Vec<(String, ManifestEntry)>>,
    /// Observation id → what it measured, for the results of reports.
    pub measured: HashMap<String, String>,
    /// Path segments from the page's folder to the export folder.
    pub prefix: Vec<String>,
}

impl Lookup<'_> {
    /// The name of a referenced resource: the reference's display, else the resource's name.
    pub fn name(&self, r: &fields::Ref) -> Option<String> {
        r.display
            .clone()
            .or_else(|| r.key().and_then(|k| self.names.get(&k).cloned()))
            .or_else(|| r.key())
    }

    /// The names of a list of references, joined.
    pub fn names_of(&self, refs: &[fields::Ref]) -> Option<String> {
        let names: Vec<String> = refs.iter().filter_map(|r| self.name(r)).collect();
        (!names.is_empty()).then(|| names.join(", "))
    }
}
