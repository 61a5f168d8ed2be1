//! What the quirks add to the generated record (R4 only): CarePlans in the `assess-plan`
//! category, Specimens behind DiagnosticReports, and the shared PractitionerRoles and
//! Medications that references point at. `data` decides when; this file only builds resources,
//! from the random stream it is given, so the base record is the same with the quirks on.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::instant::format_date_time;
use crate::quirks::{CAREPLAN_CATEGORY, CAREPLAN_CATEGORY_SYSTEM};
use crate::vocabulary::{
    coding, concept, pick, random_time, reference, Generated, MEDS, PRACTITIONERS, SNOMED,
};

/// CarePlans generated per patient, on top of `resources_per_patient`.
pub(crate) const CAREPLANS_PER_PATIENT: usize = 3;

/// `PractitionerRole` of practitioner index `i` (0-based), one per practitioner.
pub(crate) fn practitioner_role_id(i: usize) -> String {
    format!("prole-{}", i + 1)
}

/// The shared Medication of an RxNorm code.
pub(crate) fn medication_id(rxnorm: &str) -> String {
    format!("rx-{rxnorm}")
}

/// PractitionerRoles (one per practitioner) and Medications (one per drug prescribed).
pub(crate) fn shared_resources(rng: &mut ChaCha8Rng, sink: &mut dyn FnMut(Generated)) {
    const SPECIALTIES: [(&str, &str); 3] = [
        ("419772000", "Family practice"),
        ("394579002", "Cardiology"),
        ("394582007", "Dermatology"),
    ];
    let mut push = |rng: &mut ChaCha8Rng, resource: Value| {
        sink(Generated {
            resource,
            patient: None,
            last_updated: random_time(rng),
        });
    };
    for i in 0..PRACTITIONERS {
        let (code, display) = *pick(rng, &SPECIALTIES);
        let role = json!({
            "resourceType": "PractitionerRole",
            "id": practitioner_role_id(i),
            "active": true,
            "practitioner": reference("Practitioner", &format!("pract-{}", i + 1)),
            "organization": reference("Organization", "org-1"),
            "code": [concept("http://terminology.hl7.org/CodeSystem/practitioner-role",
                             "doctor", "Doctor")],
            "specialty": [concept(SNOMED, code, display)],
        });
        push(rng, role);
    }
    for (code, display) in MEDS {
        let medication = json!({
            "resourceType": "Medication",
            "id": medication_id(code),
            "status": "active",
            "code": concept("http://www.nlm.nih.gov/research/umls/rxnorm", code, display),
        });
        push(rng, medication);
    }
}

/// A CarePlan in the US Core `assess-plan` category (the patient reference is added by `emit`).
pub(crate) fn care_plan(rng: &mut ChaCha8Rng, id: String, at: OffsetDateTime) -> Value {
    const PLANS: [&str; 4] = [
        "Diabetes self-management plan",
        "Hypertension follow-up plan",
        "Weight management plan",
        "Asthma action plan",
    ];
    let title = *pick(rng, &PLANS);
    let active = rng.gen_bool(0.5);
    let end = at + Duration::days(rng.gen_range(30..365));
    json!({
        "resourceType": "CarePlan",
        "id": id,
        "status": if active { "active" } else { "completed" },
        "intent": "plan",
        "title": title,
        "category": [{"coding": [coding(CAREPLAN_CATEGORY_SYSTEM, CAREPLAN_CATEGORY,
                                        "Assessment and Plan of Treatment")]}],
        "period": {"start": format_date_time(at), "end": format_date_time(end)},
        "description": title,
    })
}

/// The blood specimen a lab report was made from.
pub(crate) fn specimen(id: &str, panel: &str, at: OffsetDateTime) -> Value {
    json!({
        "resourceType": "Specimen",
        "id": id,
        "status": "available",
        "type": concept(SNOMED, "119297000", "Blood specimen"),
        "collection": {"collectedDateTime": format_date_time(at - Duration::hours(1))},
        "note": [{"text": format!("Collected for LOINC {panel}")}],
    })
}
