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
    /// The lower bound of an incremental query (`_lastUpdated=ge…`, or a date search
    /// parameter such as `date=ge…` where the server has no `_lastUpdated`); `None`: the whole
    /// type.
    pub since: Option<Since>,
    /// The server declares `_lastUpdated` search for this type.
    pub dates_ok: bool,
    /// Incremental runs of the type go by `_lastUpdated` (declared, and neither refused nor
    /// known to be refused): its mark follows `meta.lastUpdated`, else the server's clock.
    pub by_last_updated: bool,
    /// Ask category by category from the start (a server known to demand a category).
    pub fan_out: bool,
    /// Ask for every status or intent at once from the start (learnt in an earlier run).
    pub every: Option<super::fanout::Demand>,
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
    /// Incremental search parameters the server refused in an earlier run (kept in the
    /// state; empty with `--full`, which tries them again).
    pub refused_since: Vec<String>,
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
        hints: &Hints,
    ) -> TypePlan {
        let dates_ok = supports_last_updated(metadata, resource_type);
        let learnt = held.map_or(&[][..], |t| t.refused_since.as_slice());
        let refused: Vec<String> = learnt.iter().chain(&hints.refused_since).cloned().collect();
        let since = match full {
            true => None,
            false => since
                .map(|s| (s.to_string(), true))
                .or_else(|| held.and_then(|t| t.mark.clone()).map(|m| (m, false)))
                .and_then(|(from, exact)| {
                    Since::choose(metadata, resource_type, dates_ok, &refused, &from, exact)
                }),
        };
        TypePlan {
            resource_type: resource_type.to_string(),
            since,
            dates_ok,
            by_last_updated: dates_ok && !refused.iter().any(|r| r == LAST_UPDATED),
            fan_out: hints.fan_out,
            every: if full { None } else { hints.every },
            held: held.map(|t| t.count),
            granted_queries: None,
            skip_queries: Vec::new(),
            reconcile: false,
            refused_since: if full { Vec::new() } else { learnt.to_vec() },
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

    /// Leaves out the narrowed searches the server refused in an earlier run and those the
    /// quirks list says it refuses (`known`), unless the run is `--full` (which tries every
    /// one again).
    pub fn skipping(mut self, held: Option<&TypeState>, known: &[String], full: bool) -> TypePlan {
        if !full {
            let learnt = held
                .map(|t| t.refused_queries.as_slice())
                .unwrap_or_default();
            self.skip_queries = learnt.to_vec();
            for q in known {
                if !self.skip_queries.contains(q) {
                    self.skip_queries.push(q.clone());
                }
            }
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

/// What is known of the server beyond its CapabilityStatement when a type is planned.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// Ask category by category from the start (a server known to demand a category).
    pub fan_out: bool,
    /// Incremental parameters the quirks list says the server refuses for the type.
    pub refused_since: Vec<String>,
    /// Ask for every status (or intent) from the start: an earlier run learnt the server
    /// refuses the plain search without one.
    pub every: Option<super::fanout::Demand>,
}

/// The lower bound of an incremental search: the parameter (`_lastUpdated`, or a date search
/// parameter of the type) and the value it is searched from (`ge<value>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Since {
    pub param: &'static str,
    pub value: String,
}

/// How far before the last run a date search parameter reaches back, in days: a resource
/// entered since then but dated (clinically) up to this long before is still found. What is
/// back-dated further, and edits, wait for the reconcile pass.
pub const DATE_OVERLAP_DAYS: i64 = 30;

/// The last-updated parameter every FHIR server may offer.
pub const LAST_UPDATED: &str = "_lastUpdated";

/// Per type, its date search parameters in order of preference: the ones closest to when a
/// resource was created first (FHIR R4 search parameters; US Core 6.1 lists `date`
/// for Observation, Encounter, Procedure, DiagnosticReport, Immunization, CarePlan,
/// `authoredon` for MedicationRequest, `recorded-date`/`onset-date` for Condition,
/// https://hl7.org/fhir/us/core/STU6.1/search-parameters.html; DSTU2's MedicationOrder has
/// `datewritten`). A server that offers none of them for a type gets it fetched whole.
#[rustfmt::skip]
const DATE_PARAMS: &[(&str, &[&str])] = &[
    ("AllergyIntolerance", &["date"]),
    ("CarePlan", &["date"]),
    ("Claim", &["created"]),
    ("Communication", &["sent"]),
    ("Condition", &["recorded-date", "onset-date"]),
    ("DiagnosticReport", &["issued", "date"]),
    ("DocumentReference", &["date"]),
    ("Encounter", &["date"]),
    ("ExplanationOfBenefit", &["created"]),
    ("Immunization", &["date"]),
    ("MedicationDispense", &["whenhandedover"]),
    ("MedicationOrder", &["datewritten"]),
    ("MedicationRequest", &["authoredon"]),
    ("MedicationStatement", &["effective"]),
    ("Observation", &["date"]),
    ("Procedure", &["date"]),
    ("Provenance", &["recorded"]),
    ("QuestionnaireResponse", &["authored"]),
    ("ServiceRequest", &["authored"]),
    ("Specimen", &["collected"]),
];

impl Since {
    /// The incremental bound of `resource_type` from `from` (RFC 3339): `_lastUpdated` from
    /// `from` moved back by the overlap when the server searches by it, else the first date
    /// parameter of the type the server declares, from the day `from` moved back by
    /// [`DATE_OVERLAP_DAYS`]; with `exact` (a bound the user gave, `--since`) not moved back.
    /// `None` when no parameter fits: the type is fetched whole. Parameters
    /// in `refused` (the server refused them in an earlier run) are not chosen.
    pub fn choose(
        metadata: &Value,
        resource_type: &str,
        dates_ok: bool,
        refused: &[String],
        from: &str,
        exact: bool,
    ) -> Option<Since> {
        let usable = |p: &str| !refused.iter().any(|r| r == p);
        if dates_ok && usable(LAST_UPDATED) {
            let secs = if exact { 0 } else { super::OVERLAP_SECS };
            return Some(Since {
                param: LAST_UPDATED,
                value: with_overlap(from, secs),
            });
        }
        let param = date_param(metadata, resource_type, refused)?;
        let at = crate::datetime::parse_rfc3339(from)?;
        let secs = if exact { 0 } else { DATE_OVERLAP_DAYS * 86_400 };
        let day = crate::datetime::unix_to_rfc3339(at - secs);
        Some(Since {
            param,
            value: day.get(..10)?.to_string(),
        })
    }

    /// `param=ge<value>`, as a query pair.
    pub fn pair(&self) -> (&'static str, String) {
        (self.param, format!("ge{}", self.value))
    }

    /// The lower bound as Unix seconds, when it is a `_lastUpdated` one (the only kind the
    /// paging recovery can slice by).
    pub fn last_updated_unix(&self) -> Option<i64> {
        (self.param == LAST_UPDATED)
            .then(|| crate::datetime::parse_rfc3339(&self.value))
            .flatten()
    }
}

/// The first date search parameter of `resource_type` (see [`DATE_PARAMS`]) that the server
/// declares for it and has not refused.
pub fn date_param(
    metadata: &Value,
    resource_type: &str,
    refused: &[String],
) -> Option<&'static str> {
    let (_, params) = DATE_PARAMS.iter().find(|(t, _)| *t == resource_type)?;
    let declared = declared_params(metadata, resource_type);
    params
        .iter()
        .copied()
        .find(|p| declared.contains(p) && !refused.iter().any(|r| r == p))
}

/// The search parameters the server declares for `resource_type`.
fn declared_params<'a>(metadata: &'a Value, resource_type: &str) -> Vec<&'a str> {
    metadata
        .get("rest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|rest| rest.get("resource").and_then(Value::as_array))
        .flatten()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some(resource_type))
        .filter_map(|r| r.get("searchParam").and_then(Value::as_array))
        .flatten()
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect()
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
            TypePlan::new(
                &m,
                "Observation",
                Some(&held),
                false,
                None,
                &Hints::default(),
            )
            .within(scope, Some(&held))
        };
        assert!(plan(lab).incremental(), "same grant: incremental");
        assert_eq!(plan(lab).granted().as_deref(), Some("category=laboratory"));
        let wider = plan("patient/*.rs");
        assert!(!wider.incremental() && wider.granted_queries.is_none());
        assert!(!scope_allows("patient/*.c", "Observation"));
    }

    fn dated(params: &[&str]) -> Value {
        let params: Vec<Value> = params.iter().map(|p| json!({"name": p})).collect();
        json!({"rest": [{"mode": "server", "resource": [
            {"type": "Condition", "searchParam": params},
            {"type": "CareTeam", "searchParam": [{"name": "patient"}]}
        ]}]})
    }

    #[test]
    fn without_last_updated_a_date_parameter_is_chosen() {
        let held = TypeState {
            mark: Some("2026-12-07T10:00:00Z".into()),
            ..TypeState::default()
        };
        let m = dated(&["patient", "onset-date", "recorded-date"]);
        let plan = TypePlan::new(&m, "Condition", Some(&held), false, None, &Hints::default());
        assert_eq!(
            plan.since,
            Some(Since {
                param: "recorded-date",
                value: "2026-11-07".into()
            }),
            "the preferred parameter, a month back, to the day"
        );
        assert_eq!(plan.since.as_ref().unwrap().pair().1, "ge2026-11-07");
        assert_eq!(plan.since.unwrap().last_updated_unix(), None);
        // A parameter refused before is not chosen again; the next one is.
        let refused = TypeState {
            refused_since: vec!["recorded-date".into()],
            ..held.clone()
        };
        let plan = TypePlan::new(
            &m,
            "Condition",
            Some(&refused),
            false,
            None,
            &Hints::default(),
        );
        assert_eq!(plan.since.map(|s| s.param), Some("onset-date"));
        // --full forgets the refusals (and fetches whole).
        let plan = TypePlan::new(
            &m,
            "Condition",
            Some(&refused),
            true,
            None,
            &Hints::default(),
        );
        assert!(plan.since.is_none() && plan.refused_since.is_empty());
        // A type with no date parameter declared is fetched whole.
        assert!(
            TypePlan::new(&m, "CareTeam", Some(&held), false, None, &Hints::default())
                .since
                .is_none()
        );
        // --since is taken as given, to the day.
        let plan = TypePlan::new(
            &m,
            "Condition",
            None,
            false,
            Some("2026-03-04T05:06:07Z"),
            &Hints::default(),
        );
        assert_eq!(plan.since.map(|s| s.value), Some("2026-03-04".into()));
    }

    #[test]
    fn last_updated_wins_unless_refused() {
        let held = TypeState {
            mark: Some("2026-12-07T10:00:00Z".into()),
            ..TypeState::default()
        };
        let m = dated(&["patient", "_lastUpdated", "recorded-date"]);
        let plan = TypePlan::new(&m, "Condition", Some(&held), false, None, &Hints::default());
        let since = plan.since.unwrap();
        assert_eq!(since.param, "_lastUpdated");
        assert_eq!(since.value, "2026-12-07T09:58:00Z");
        assert!(since.last_updated_unix().is_some());
        let refused = TypeState {
            refused_since: vec!["_lastUpdated".into()],
            ..held
        };
        let plan = TypePlan::new(
            &m,
            "Condition",
            Some(&refused),
            false,
            None,
            &Hints::default(),
        );
        assert_eq!(plan.since.map(|s| s.param), Some("recorded-date"));
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
