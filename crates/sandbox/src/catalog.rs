//! What the sandbox serves: resource types per FHIR flavor, which ones belong to a patient and
//! which are shared, and which search parameters each supports. Pure lookups, no state.

use crate::config::FhirFlavor;

/// Resources any valid token may read (no patient compartment).
pub(crate) const SHARED_TYPES: [&str; 4] =
    ["Practitioner", "Organization", "Location", "Medication"];

/// R4 types served only when `Quirks::serves_extra_types` is on, so the default
/// CapabilityStatement and record stay as they were: (type, kind).
const EXTRA_TYPES: [(&str, TypeKind); 3] = [
    ("CarePlan", TypeKind::Clinical),
    ("Specimen", TypeKind::Clinical),
    ("PractitionerRole", TypeKind::Shared),
];

/// How a resource type relates to the patient compartment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TypeKind {
    Patient,
    /// Searchable per patient (`patient=` / `subject=`).
    Clinical,
    /// Read-only document bytes owned by a patient.
    Binary,
    /// Readable by anyone; search by `_id` only.
    Shared,
}

/// Clinical types, in the order metadata lists them.
pub(crate) fn clinical_types(flavor: FhirFlavor) -> [&'static str; 9] {
    [
        "AllergyIntolerance",
        "Condition",
        "DiagnosticReport",
        "DocumentReference",
        "Encounter",
        "Immunization",
        medication_request(flavor),
        "Observation",
        "Procedure",
    ]
}

pub(crate) fn medication_request(flavor: FhirFlavor) -> &'static str {
    match flavor {
        FhirFlavor::R4 | FhirFlavor::Stu3 => "MedicationRequest",
        FhirFlavor::Dstu2 => "MedicationOrder",
    }
}

/// Every type served, with its kind; `None` for types this sandbox does not know.
pub(crate) fn kind_of(flavor: FhirFlavor, resource_type: &str) -> Option<TypeKind> {
    match resource_type {
        "Patient" => Some(TypeKind::Patient),
        "Binary" => Some(TypeKind::Binary),
        t if SHARED_TYPES.contains(&t) => Some(TypeKind::Shared),
        t if clinical_types(flavor).contains(&t) => Some(TypeKind::Clinical),
        t if flavor == FhirFlavor::R4 => EXTRA_TYPES
            .iter()
            .find(|(extra, _)| *extra == t)
            .map(|(_, kind)| *kind),
        _ => None,
    }
}

/// Whether `resource_type` is one of the types served only with the extra-types quirk.
pub(crate) fn is_extra(resource_type: &str) -> bool {
    EXTRA_TYPES.iter().any(|(t, _)| *t == resource_type)
}

/// All served types: Patient, the clinical types, Binary, then the shared ones; the extra
/// types (R4 only) last when `extras` is on.
pub(crate) fn all_types(flavor: FhirFlavor, extras: bool) -> Vec<&'static str> {
    let mut types = vec!["Patient"];
    types.extend(clinical_types(flavor));
    types.push("Binary");
    types.extend(SHARED_TYPES);
    if extras && flavor == FhirFlavor::R4 {
        types.extend(EXTRA_TYPES.iter().map(|(t, _)| *t));
    }
    types
}

/// Types with a `category` search parameter.
pub(crate) fn has_category(resource_type: &str) -> bool {
    matches!(
        resource_type,
        "Condition" | "Observation" | "DiagnosticReport" | "DocumentReference" | "CarePlan"
    )
}

/// Types with a `code` search parameter matched against the `code` element.
pub(crate) fn has_code(resource_type: &str) -> bool {
    matches!(
        resource_type,
        "Condition" | "Observation" | "DiagnosticReport" | "Procedure" | "AllergyIntolerance"
    )
}

/// One date search parameter of a type: its name and the elements it reads, first found wins
/// (`a.b` is a nested element).
pub(crate) type DateParam = (&'static str, &'static [&'static str]);

/// The standard date search parameters (FHIR R4 and US Core) of the types the sandbox serves,
/// for the elements its generator fills; DSTU2's spellings are among the elements read.
pub(crate) fn date_params(resource_type: &str) -> &'static [DateParam] {
    match resource_type {
        "Observation" => &[(
            "date",
            &["effectiveDateTime", "effectivePeriod", "effectiveInstant"],
        )],
        "Condition" => &[
            ("recorded-date", &["recordedDate", "dateRecorded"]),
            ("onset-date", &["onsetDateTime", "onsetPeriod"]),
        ],
        "Encounter" | "CarePlan" => &[("date", &["period"])],
        "Procedure" => &[("date", &["performedDateTime", "performedPeriod"])],
        "DiagnosticReport" => &[
            ("date", &["effectiveDateTime", "effectivePeriod"]),
            ("issued", &["issued"]),
        ],
        "DocumentReference" => &[("date", &["date", "indexed"])],
        "MedicationRequest" | "MedicationOrder" => {
            &[("authoredon", &["authoredOn", "dateWritten"])]
        }
        "Immunization" => &[("date", &["occurrenceDateTime", "date"])],
        "AllergyIntolerance" => &[("date", &["recordedDate"])],
        "Specimen" => &[("collected", &["collection.collectedDateTime"])],
        _ => &[],
    }
}

/// The date search parameter `name` of `resource_type`, if it has one.
pub(crate) fn date_param(resource_type: &str, name: &str) -> Option<&'static DateParam> {
    date_params(resource_type).iter().find(|(n, _)| *n == name)
}

/// The element holding the patient reference of a clinical type.
pub(crate) fn patient_element(flavor: FhirFlavor, resource_type: &str) -> &'static str {
    match (flavor, resource_type) {
        (_, "AllergyIntolerance" | "Immunization") => "patient",
        (FhirFlavor::Dstu2, "Condition" | "MedicationOrder" | "Encounter") => "patient",
        _ => "subject",
    }
}

/// A resource id as FHIR allows it: `[A-Za-z0-9\-\.]{1,64}`.
pub(crate) fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_fhir_rule() {
        assert!(is_valid_id("obs-1.2"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a/b"));
        assert!(!is_valid_id(&"a".repeat(65)));
    }

    #[test]
    fn dstu2_serves_medication_order() {
        assert_eq!(
            kind_of(FhirFlavor::Dstu2, "MedicationOrder"),
            Some(TypeKind::Clinical)
        );
        assert_eq!(kind_of(FhirFlavor::Dstu2, "MedicationRequest"), None);
        assert_eq!(kind_of(FhirFlavor::R4, "Binary"), Some(TypeKind::Binary));
    }

    #[test]
    fn every_clinical_type_has_a_date_parameter() {
        for flavor in [FhirFlavor::R4, FhirFlavor::Dstu2] {
            for t in clinical_types(flavor) {
                assert!(!date_params(t).is_empty(), "{t}");
            }
        }
        assert_eq!(
            date_param("Condition", "onset-date").unwrap().0,
            "onset-date"
        );
        assert!(date_param("Observation", "_lastUpdated").is_none());
        assert!(date_params("Patient").is_empty());
    }

    #[test]
    fn extra_types_are_r4_and_listed_only_when_on() {
        assert_eq!(
            kind_of(FhirFlavor::R4, "CarePlan"),
            Some(TypeKind::Clinical)
        );
        assert_eq!(
            kind_of(FhirFlavor::R4, "PractitionerRole"),
            Some(TypeKind::Shared)
        );
        assert_eq!(kind_of(FhirFlavor::Dstu2, "Specimen"), None);
        assert!(!all_types(FhirFlavor::R4, false).contains(&"CarePlan"));
        assert!(all_types(FhirFlavor::R4, true).contains(&"Specimen"));
        assert!(!all_types(FhirFlavor::Dstu2, true).contains(&"Specimen"));
    }
}
