//! The words and shapes the generated record is made of, shared by the base record
//! ([`crate::generator`]) and what the quirks add ([`crate::extras`]): code systems, the drugs
//! prescribed, the record's time span, and small builders of FHIR values.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// Generated times are spread over [RECORD_START, RECORD_END); everything is last updated
/// before RECORD_END, hence before any sandbox starts.
pub(crate) const RECORD_START: OffsetDateTime = datetime!(2017-01-01 00:00 UTC);
pub(crate) const RECORD_END: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);

pub(crate) const SNOMED: &str = "http://snomed.info/sct";
pub(crate) const LOINC: &str = "http://loinc.org";
pub(crate) const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
pub(crate) const CVX: &str = "http://hl7.org/fhir/sid/cvx";
pub(crate) const UCUM: &str = "http://unitsofmeasure.org";

/// RxNorm drugs prescribed (and, with external references, the shared Medications).
pub(crate) const MEDS: [(&str, &str); 8] = [
    ("314076", "lisinopril 10 MG Oral Tablet"),
    (
        "860975",
        "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
    ),
    ("617310", "atorvastatin 20 MG Oral Tablet"),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("310965", "ibuprofen 200 MG Oral Tablet"),
    ("313782", "acetaminophen 325 MG Oral Tablet"),
    (
        "895994",
        "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler",
    ),
    ("308182", "amoxicillin 250 MG Oral Capsule"),
];

pub(crate) const PRACTITIONERS: usize = 5;

/// One resource ready for the store.
pub(crate) struct Generated {
    pub resource: Value,
    pub patient: Option<String>,
    pub last_updated: OffsetDateTime,
}

pub(crate) fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

pub(crate) fn random_time(rng: &mut ChaCha8Rng) -> OffsetDateTime {
    // Stop a month early so resources dated near the end are still updated before RECORD_END.
    let span = (RECORD_END - RECORD_START - Duration::days(31)).whole_seconds();
    RECORD_START + Duration::seconds(rng.gen_range(0..span))
}

pub(crate) fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"system": system, "code": code, "display": display})
}

pub(crate) fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [coding(system, code, display)], "text": display})
}

pub(crate) fn reference(resource_type: &str, id: &str) -> Value {
    json!({"reference": format!("{resource_type}/{id}")})
}
