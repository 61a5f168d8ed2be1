//! Provider query plans: some servers refuse a plain `Type?patient=X` and want a category
//! (NextGen Enterprise: Observation and Condition need `category` or `code`, CarePlan needs
//! `category=assess-plan`). fhirdl then asks category by category, merges without duplicates,
//! and compares with the server's own count so that resources in other categories are reported.

use serde_json::Value;

/// The standard observation categories (http://terminology.hl7.org/CodeSystem/observation-category).
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
];

/// Condition categories (FHIR R4 and US Core).
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

/// Does this refusal mean "add a category"? Judged from the OperationOutcome text.
pub fn demands_category(status: u16, outcome: &str) -> bool {
    let t = outcome.to_ascii_lowercase();
    matches!(status, 400 | 404 | 422)
        && t.contains("category")
        && (t.contains("must") || t.contains("not present") || t.contains("required"))
}

/// A NextGen server, recognised from `CapabilityStatement.software` or `publisher`.
pub fn is_nextgen(metadata: &Value) -> bool {
    let fields = [
        metadata.get("software").and_then(|s| s.get("name")),
        metadata.get("publisher"),
        metadata.get("name"),
    ];
    fields
        .iter()
        .filter_map(|v| v.and_then(Value::as_str))
        .any(|s| s.to_ascii_lowercase().contains("nextgen"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn recognises_nextgen() {
        assert!(is_nextgen(
            &json!({"software": {"name": "Nextgen FHIR Server"}})
        ));
        assert!(is_nextgen(&json!({"publisher": "NextGen Healthcare"})));
        assert!(!is_nextgen(&json!({"software": {"name": "HAPI"}})));
        assert!(categories_for("Observation").is_some() && categories_for("Encounter").is_none());
    }
}
