//! When a plain `Type?patient=X` is refused: some servers want a category (NextGen
//! Enterprise: Observation and Condition need `category` or `code`, CarePlan needs
//! `category=assess-plan`); fhirdl then asks category by category, merges without duplicates,
//! and compares with the server's own count so that resources in other categories are
//! reported. Others want a status (some EHRs, and the ONC test kit's reference server); the
//! search is then repeated with every status value of the type. The plain search is always
//! tried first; the state remembers a refusal so later runs fan out at once.

/// The observation categories: the base set
/// (http://terminology.hl7.org/CodeSystem/observation-category) and the US Core ones
/// (http://hl7.org/fhir/us/core/CodeSystem/us-core-category and its value sets, 6.x–7.x).
pub const OBSERVATION_CATEGORIES: &[&str] = &[
    "vital-signs",
    "laboratory",
    "social-history",
    "imaging",
    "procedure",
    "survey",
    "exam",
    "therapy",
    "activity",
    "sdoh",
    "functional-status",
    "disability-status",
    "cognitive-status",
    "clinical-test",
    "treatment-intervention-preference",
    "care-experience-preference",
    "observation-adi-documentation",
];

/// Condition categories: FHIR R4's (`problem-list-item`, `encounter-diagnosis`) and US Core's
/// (`health-concern`).
pub const CONDITION_CATEGORIES: &[&str] =
    &["problem-list-item", "encounter-diagnosis", "health-concern"];

/// CarePlan: the one category NextGen serves.
pub const CAREPLAN_CATEGORIES: &[&str] = &["assess-plan"];

/// The fan-out for a type: the search parameter and its values.
pub fn categories_for(resource_type: &str) -> Option<(&'static str, &'static [&'static str])> {
    match resource_type {
        "Observation" => Some(("category", OBSERVATION_CATEGORIES)),
        "Condition" => Some(("category", CONDITION_CATEGORIES)),
        "CarePlan" => Some(("category", CAREPLAN_CATEGORIES)),
        _ => None,
    }
}

/// The status search parameter of a type and all its values (FHIR R4 value sets), for a
/// server that refuses a search without one.
pub fn statuses_for(resource_type: &str) -> Option<(&'static str, &'static [&'static str])> {
    STATUSES
        .iter()
        .find(|(ty, _, _)| *ty == resource_type)
        .map(|(_, param, values)| (*param, *values))
}

/// The status values of the request resources (CarePlan, ServiceRequest).
const REQUEST_STATUSES: &[&str] = &[
    "draft",
    "active",
    "on-hold",
    "revoked",
    "completed",
    "entered-in-error",
    "unknown",
];

/// Per type: its status search parameter and every value of it (FHIR R4 value sets).
#[rustfmt::skip]
const STATUSES: &[(&str, &str, &[&str])] = &[
    ("Observation", "status", &[
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    ]),
    ("DiagnosticReport", "status", &[
        "registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
        "cancelled", "entered-in-error", "unknown",
    ]),
    ("DocumentReference", "status", &["current", "superseded", "entered-in-error"]),
    ("MedicationRequest", "status", &[
        "active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
        "unknown",
    ]),
    ("Procedure", "status", &[
        "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
        "entered-in-error", "unknown",
    ]),
    ("Encounter", "status", &[
        "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
        "entered-in-error", "unknown",
    ]),
    ("Immunization", "status", &["completed", "entered-in-error", "not-done"]),
    ("CarePlan", "status", REQUEST_STATUSES),
    ("ServiceRequest", "status", REQUEST_STATUSES),
    ("CareTeam", "status", &["proposed", "active", "suspended", "inactive", "entered-in-error"]),
    ("Goal", "lifecycle-status", &[
        "proposed", "planned", "accepted", "active", "on-hold", "completed", "cancelled",
        "entered-in-error", "rejected",
    ]),
    ("Condition", "clinical-status", &[
        "active", "recurrence", "relapse", "inactive", "remission", "resolved",
    ]),
    ("AllergyIntolerance", "clinical-status", &["active", "inactive", "resolved"]),
];

/// MedicationRequest's intents (FHIR R4 value set
/// http://hl7.org/fhir/ValueSet/medicationrequest-intent), all of them, for a server that
/// refuses the search without `intent` (athenahealth).
pub const MEDICATION_REQUEST_INTENTS: &[&str] = &[
    "proposal",
    "plan",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
];

/// The intent search parameter of a type and all its values (only MedicationRequest has one
/// servers insist on).
pub fn intents_for(resource_type: &str) -> Option<(&'static str, &'static [&'static str])> {
    (resource_type == "MedicationRequest").then_some(("intent", MEDICATION_REQUEST_INTENTS))
}

/// Does this refusal mean "add an intent"? Judged from the OperationOutcome text.
pub fn demands_intent(status: u16, outcome: &str) -> bool {
    let t = outcome.to_ascii_lowercase();
    matches!(status, 400 | 422)
        && t.contains("intent")
        && (t.contains("must") || t.contains("required") || t.contains("missing"))
}

/// Whether a search parameter is a status one (a search that has it is never repeated).
pub fn is_status_param(name: &str) -> bool {
    matches!(name, "status" | "clinical-status" | "lifecycle-status")
}

/// Does this refusal mean "add a status"? Judged from the OperationOutcome text.
pub fn demands_status(status: u16, outcome: &str) -> bool {
    let t = outcome.to_ascii_lowercase();
    matches!(status, 400 | 422)
        && t.contains("status")
        && (t.contains("must")
            || t.contains("required")
            || t.contains("missing")
            || t.contains("not present"))
}

/// Does this refusal mean "add a category"? Judged from the OperationOutcome text.
pub fn demands_category(status: u16, outcome: &str) -> bool {
    let t = outcome.to_ascii_lowercase();
    matches!(status, 400 | 404 | 422)
        && t.contains("category")
        && (t.contains("must") || t.contains("not present") || t.contains("required"))
}

/// What a refused search asks for, and so how sync asks instead: one search per category, or
/// the search again with every status or every intent at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Demand {
    Category,
    Status,
    Intent,
}

impl Demand {
    /// What a refusal (HTTP `status`, OperationOutcome `outcome`) of a search already narrowed
    /// by `asked` demands, when it is one sync learns from. A status or an intent already asked
    /// for is not demanded again. The one judge of refusals for sync's searches and doctor's
    /// probes.
    pub fn of(status: u16, outcome: &str, asked: &[(&str, &str)]) -> Option<Demand> {
        if demands_category(status, outcome) {
            Some(Demand::Category)
        } else if demands_status(status, outcome) && !asked.iter().any(|(k, _)| is_status_param(k))
        {
            Some(Demand::Status)
        } else if demands_intent(status, outcome) && !asked.iter().any(|(k, _)| *k == "intent") {
            Some(Demand::Intent)
        } else {
            None
        }
    }

    /// The search parameter of `resource_type` that meets the demand and all its values, or
    /// `None` when sync cannot meet it for this type.
    pub fn values_for(
        self,
        resource_type: &str,
    ) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            Demand::Category => categories_for(resource_type),
            Demand::Status => statuses_for(resource_type),
            Demand::Intent => intents_for(resource_type),
        }
    }

    /// The one parameter of a search that meets the demand: every status or intent at once
    /// (as sync asks), or the first category not in `refused` (`category=procedure`; sync asks
    /// each of them in turn). `None` when sync cannot meet it for this type.
    pub fn narrowed(
        self,
        resource_type: &str,
        refused: &[String],
    ) -> Option<(&'static str, String)> {
        let (param, values) = self.values_for(resource_type)?;
        match self {
            Demand::Category => values
                .iter()
                .find(|v| !refused.contains(&format!("{param}={v}")))
                .map(|v| (param, (*v).to_string())),
            Demand::Status | Demand::Intent => Some((param, values.join(","))),
        }
    }

    /// What the server wants and what sync does about it, in words.
    pub fn what_sync_does(self) -> &'static str {
        match self {
            Demand::Category => "the server wants a category; sync searches category by category",
            Demand::Status => "the server wants a status; sync asks for every status at once",
            Demand::Intent => "the server wants an intent; sync asks for every intent at once",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_that_ask_for_a_category() {
        assert!(demands_category(
            400,
            "Search criteria must have 'code' or 'category'"
        ));
        assert!(demands_category(
            404,
            "Valid care plan category not present"
        ));
        assert!(!demands_category(
            403,
            "Search criteria must have 'code' or 'category'"
        ));
        assert!(!demands_category(
            400,
            "Unknown search parameter _lastUpdated"
        ));
    }

    #[test]
    fn categories_of_types() {
        assert!(categories_for("Observation").is_some() && categories_for("Encounter").is_none());
    }

    #[test]
    fn refusals_that_ask_for_a_status() {
        assert!(demands_status(400, "The status parameter is required"));
        assert!(demands_status(
            400,
            "Missing required search parameter: status"
        ));
        assert!(!demands_status(
            400,
            "Search criteria must have 'code' or 'category'"
        ));
        assert!(!demands_status(403, "status required"));
        let (param, values) = statuses_for("Condition").unwrap();
        assert_eq!(param, "clinical-status");
        assert!(values.contains(&"resolved"));
        assert!(statuses_for("Patient").is_none());
    }

    #[test]
    fn refusals_that_ask_for_an_intent() {
        assert!(demands_intent(
            400,
            "Missing required search parameter: intent"
        ));
        assert!(demands_intent(422, "The intent parameter must be given"));
        assert!(!demands_intent(
            403,
            "Missing required search parameter: intent"
        ));
        assert!(!demands_intent(
            400,
            "The status search parameter is required"
        ));
        let (param, values) = intents_for("MedicationRequest").unwrap();
        assert_eq!((param, values.len()), ("intent", 8));
        assert!(intents_for("Observation").is_none());
    }

    #[test]
    fn demands_judged_once_for_sync_and_doctor() {
        let category = "Search criteria must have 'code' or 'category'";
        assert_eq!(Demand::of(400, category, &[]), Some(Demand::Category));
        let status = "The status search parameter is required";
        assert_eq!(Demand::of(400, status, &[]), Some(Demand::Status));
        assert_eq!(Demand::of(400, status, &[("status", "final")]), None);
        let intent = "Missing required search parameter: intent";
        assert_eq!(Demand::of(400, intent, &[]), Some(Demand::Intent));
        assert_eq!(Demand::of(400, intent, &[("intent", "order")]), None);
        assert_eq!(Demand::of(403, intent, &[]), None);
        assert_eq!(Demand::of(400, "Unknown search parameter", &[]), None);
    }

    #[test]
    fn narrowed_searches_skip_refused_categories() {
        let refused = vec!["category=vital-signs".to_string()];
        assert_eq!(
            Demand::Category.narrowed("Observation", &refused),
            Some(("category", "laboratory".to_string()))
        );
        assert_eq!(
            Demand::Category.narrowed("CarePlan", &[]),
            Some(("category", "assess-plan".to_string()))
        );
        let (param, all) = Demand::Intent.narrowed("MedicationRequest", &[]).unwrap();
        assert_eq!((param, all.split(',').count()), ("intent", 8));
        assert_eq!(
            Demand::Status.narrowed("Goal", &[]).map(|(p, _)| p),
            Some("lifecycle-status")
        );
        assert_eq!(Demand::Category.narrowed("Encounter", &[]), None);
        assert_eq!(Demand::Intent.narrowed("Observation", &[]), None);
    }
}
