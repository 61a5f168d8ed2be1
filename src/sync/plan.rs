//! What to fetch: every type the server can search by `patient` (from its
//! CapabilityStatement/Conformance), plus the Patient itself, narrowed to the granted scopes and
//! to `--types`.

use super::state::TypeState;
use crate::auth::scopes::{self, SearchAccess};
use serde_json::Value;

/// One type to fetch, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypePlan {
    pub resource_type: String,
    /// The lower bound of an incremental query (`_lastUpdated=ge…`); `None`: the whole type.
    pub since: Option<String>,
    /// The server declares `_lastUpdated` search for this type.
    pub dates_ok: bool,
    /// Ask category by category from the start (a server known to demand a category).
    pub fan_out: bool,
    /// Resources held before this run, when the type was synced before.
    pub held: Option<usize>,
    /// The type was granted only for these queries (SMART v2 granular scopes such as
    /// `patient/Observation.rs?category=laboratory`): one search per set of parameters, and
    /// nothing else. `None`: the whole type was granted.
    pub granted_queries: Option<Vec<Vec<(String, String)>>>,
    /// Narrowed searches the server refused in an earlier run (`category=procedure`): not
    /// sent again (empty with `--full`).
    pub skip_queries: Vec<String>,
    /// The type is due for reconciliation: fetched whole although a mark would allow an
    /// incremental search.
    pub reconcile: bool,
}

impl TypePlan {
    /// How `resource_type` is fetched this time: incremental from the state's mark (moved back
    /// by `overlap_secs`) or from `since`, unless `full` or the server cannot search by date.
    pub fn new(
        metadata: &Value,
        resource_type: &str,
        held: Option<&TypeState>,
        full: bool,
        since: Option<&str>,
        fan_out: bool,
    ) -> TypePlan {
        let dates_ok = supports_last_updated(metadata, resource_type);
        let since = if full || !dates_ok {
            None
        } else {
            since.map(str::to_string).or_else(|| {
                held.and_then(|t| t.mark.as_deref())
                    .map(|m| with_overlap(m, super::OVERLAP_SECS))
            })
        };
        TypePlan {
            resource_type: resource_type.to_string(),
            since,
            dates_ok,
            fan_out,
            held: held.map(|t| t.count),
            granted_queries: None,
            skip_queries: Vec::new(),
            reconcile: false,
        }
    }

    /// Limits the plan to what `scope` grants of the type (see [`granted_queries`]); when that
    /// differs from what the type was last fetched with (`held`), the type is fetched whole.
    pub fn within(mut self, scope: &str, held: Option<&TypeState>) -> TypePlan {
        self.granted_queries = granted_queries(scope, &self.resource_type);
        if held.is_some_and(|h| h.granted != self.granted()) {
            self.since = None;
        }
        self
    }

    /// Fetches the type whole when its last whole fetch is older than `days` (or unknown),
    /// at `now` (Unix seconds).
    pub fn reconciling(
        mut self,
        held: Option<&TypeState>,
        days: Option<u64>,
        now: i64,
    ) -> TypePlan {
        let Some(days) = days else {
            return self;
        };
        if self.since.is_none() {
            return self;
        }
        let last = held
            .and_then(|t| t.reconciled_at.as_deref())
            .and_then(crate::datetime::parse_rfc3339);
        let due =
            last.is_none_or(|at| now - at >= i64::try_from(days * 86_400).unwrap_or(i64::MAX));
        if due {
            self.since = None;
            self.reconcile = true;
        }
        self
    }

    /// Leaves out the narrowed searches the server refused in an earlier run, unless the run
    /// is `--full` (which tries every one again).
    pub fn skipping(mut self, held: Option<&TypeState>, full: bool) -> TypePlan {
        if !full {
            self.skip_queries = held.map(|t| t.refused_queries.clone()).unwrap_or_default();
        }
        self
    }

    /// The granted queries in words (`category=laboratory or category=vital-signs`), as kept
    /// in the state; `None` for the whole type.
    pub fn granted(&self) -> Option<String> {
        self.granted_queries.as_ref().map(|queries| {
            queries
                .iter()
                .map(|q| {
                    q.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("&")
                })
                .collect::<Vec<_>>()
                .join(" or ")
        })
    }

    pub fn incremental(&self) -> bool {
        self.since.is_some()
    }
}

/// `mark` moved back by `secs` (unparsable marks are used as they are).
pub(super) fn with_overlap(mark: &str, secs: i64) -> String {
    match crate::datetime::parse_rfc3339(mark) {
        Some(t) => crate::datetime::unix_to_rfc3339(t - secs),
        None => mark.to_string(),
    }
}

/// A type the plan leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub resource_type: String,
    pub reason: String,
}

/// Types the server says it can search with a `patient` parameter (Patient excluded).
pub fn patient_searchable_types(metadata: &Value) -> Vec<String> {
    let mut out: Vec<String> = metadata
        .get("rest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| {
            r.get("mode")
                .and_then(Value::as_str)
                .is_none_or(|m| m == "server")
        })
        .filter_map(|r| r.get("resource").and_then(Value::as_array))
        .flatten()
        .filter(|res| {
            res.get("searchParam")
                .and_then(Value::as_array)
                .is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p.get("name").and_then(Value::as_str) == Some("patient"))
                })
        })
        .filter_map(|res| res.get("type").and_then(Value::as_str))
        .filter(|t| *t != "Patient" && t.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Does the server declare `_lastUpdated` search for this type (on the type or for all types)?
/// When it does not, incremental queries are impossible and the type is fetched whole and
/// compared.
pub fn supports_last_updated(metadata: &Value, resource_type: &str) -> bool {
    let has = |params: Option<&Value>| {
        params.and_then(Value::as_array).is_some_and(|ps| {
            ps.iter()
                .any(|p| p.get("name").and_then(Value::as_str) == Some("_lastUpdated"))
        })
    };
    let rests = metadata
        .get("rest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for rest in rests {
        if has(rest.get("searchParam")) {
            return true;
        }
        let resources = rest
            .get("resource")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for r in resources {
            if r.get("type").and_then(Value::as_str) == Some(resource_type)
                && has(r.get("searchParam"))
            {
                return true;
            }
        }
    }
    false
}

/// Why a type is left out when the sign-in did not grant it.
pub const NOT_GRANTED: &str = "not granted at sign-in";

/// Does the granted scope let this patient app fetch `resource_type`: read the Patient, search
/// any other type (wholly or through granular scopes)? SMART v1 and v2.
pub fn scope_allows(scope: &str, resource_type: &str) -> bool {
    if resource_type == "Patient" {
        return scopes::read_granted(scope, "Patient");
    }
    scopes::search_access(scope, resource_type) != SearchAccess::None
}

/// The queries a type was granted for, when only granular scopes grant it (`None`: the whole
/// type, or not at all).
pub fn granted_queries(scope: &str, resource_type: &str) -> Option<Vec<Vec<(String, String)>>> {
    match scopes::search_access(scope, resource_type) {
        SearchAccess::Only(queries) if resource_type != "Patient" => Some(queries),
        _ => None,
    }
}

/// The types to fetch (Patient first) and those left out with the reason.
pub fn plan(metadata: &Value, scope: &str, only: Option<&[String]>) -> (Vec<String>, Vec<Skip>) {
    let mut candidates = vec!["Patient".to_string()];
    candidates.extend(patient_searchable_types(metadata));
    let mut fetch = Vec::new();
    let mut skipped = Vec::new();
    for ty in candidates {
        if let Some(only) = only {
            if !only.iter().any(|o| o.eq_ignore_ascii_case(&ty)) {
                continue;
            }
        }
        if scope_allows(scope, &ty) {
            fetch.push(ty);
        } else {
            skipped.push(Skip {
                resource_type: ty,
                reason: NOT_GRANTED.into(),
            });
        }
    }
    if let Some(only) = only {
        for o in only {
            if !fetch
                .iter()
                .chain(skipped.iter().map(|s| &s.resource_type))
                .any(|t| t.eq_ignore_ascii_case(o))
            {
                skipped.push(Skip {
                    resource_type: o.clone(),
                    reason: "the server cannot search it by patient".into(),
                });
            }
        }
    }
    (fetch, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metadata() -> Value {
        json!({"resourceType": "CapabilityStatement", "rest": [{"mode": "server", "resource": [
            {"type": "Patient", "searchParam": [{"name": "_id"}]},
            {"type": "Observation", "searchParam": [{"name": "patient"}, {"name": "category"}]},
            {"type": "Condition", "searchParam": [{"name": "patient"}]},
            {"type": "Practitioner", "searchParam": [{"name": "name"}]},
            {"type": "../evil", "searchParam": [{"name": "patient"}]}
        ]}]})
    }

    #[test]
    fn types_from_capabilities() {
        assert_eq!(
            patient_searchable_types(&metadata()),
            vec!["Condition", "Observation"]
        );
        assert!(patient_searchable_types(&json!({"rest": 5})).is_empty());
    }

    #[test]
    fn last_updated_support() {
        let mut m = metadata();
        assert!(!supports_last_updated(&m, "Observation"));
        m["rest"][0]["resource"][1]["searchParam"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "_lastUpdated"}));
        assert!(supports_last_updated(&m, "Observation"));
        assert!(!supports_last_updated(&m, "Condition"));
        m["rest"][0]["searchParam"] = json!([{"name": "_lastUpdated"}]);
        assert!(supports_last_updated(&m, "Condition"));
    }

    #[test]
    fn scopes() {
        assert!(scope_allows("patient/*.read", "Observation"));
        assert!(scope_allows("openid patient/*.rs", "Observation"));
        assert!(scope_allows(
            "patient/Observation.rs?category=laboratory",
            "Observation"
        ));
        assert!(!scope_allows("patient/Condition.rs", "Observation"));
        assert!(scope_allows("user/*.read", "Observation"));
        assert!(!scope_allows("system/*.read", "Observation"));
        assert!(scope_allows("patient/Patient.r", "Patient"));
        assert!(!scope_allows("patient/Patient.s", "Patient"));
        assert_eq!(
            granted_queries("patient/Observation.rs?category=laboratory", "Observation"),
            Some(vec![vec![("category".into(), "laboratory".into())]])
        );
        assert_eq!(granted_queries("patient/*.rs", "Observation"), None);
    }

    #[test]
    fn a_changed_grant_fetches_the_type_whole() {
        let mut m = metadata();
        m["rest"][0]["searchParam"] = json!([{"name": "_lastUpdated"}]);
        let held = TypeState {
            mark: Some("2026-01-01T00:00:00Z".into()),
            granted: Some("category=laboratory".into()),
            ..TypeState::default()
        };
        let lab = "patient/Observation.rs?category=laboratory";
        let plan = |scope: &str| {
            TypePlan::new(&m, "Observation", Some(&held), false, None, false)
                .within(scope, Some(&held))
        };
        assert!(plan(lab).incremental(), "same grant: incremental");
        assert_eq!(plan(lab).granted().as_deref(), Some("category=laboratory"));
        let wider = plan("patient/*.rs");
        assert!(!wider.incremental() && wider.granted_queries.is_none());
        assert!(!scope_allows("patient/*.c", "Observation"));
    }

    #[test]
    fn plan_respects_scope_and_types() {
        let (fetch, skipped) = plan(
            &metadata(),
            "patient/Patient.read patient/Observation.read",
            None,
        );
        assert_eq!(fetch, vec!["Patient", "Observation"]);
        assert_eq!(skipped[0].resource_type, "Condition");
        let only = vec!["observation".to_string(), "Device".to_string()];
        let (fetch, skipped) = plan(&metadata(), "patient/*.rs", Some(&only));
        assert_eq!(fetch, vec!["Observation"]);
        assert_eq!(skipped[0].resource_type, "Device");
    }
}
