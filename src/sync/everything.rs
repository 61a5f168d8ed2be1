//! `Patient/$everything` (FHIR R4 Patient-everything,
//! <https://hl7.org/fhir/R4/patient-operation-everything.html>): the patient's whole
//! compartment in one paged Bundle. A server that offers it may answer a whole export in fewer
//! requests than one search per type, but the spec makes the patient compartment only what a
//! server should return, and the grant narrows it further, so fhirdl trusts it only after checking
//! it: the first whole run of an export fetches it next to the per-type searches and compares
//! every type's ids ([`compare`]); what that showed is kept in the state ([`EverythingState`]).
//! Later whole fetches (`--full`, a reconciliation of every type) use it instead of the
//! searches when it proved complete and took fewer requests ([`EverythingState::preferred`]);
//! an answer that lacks a type the export holds sends the run back to the searches and the
//! state remembers the operation as incomplete. Incremental runs keep their per-type
//! `_lastUpdated` searches: `_since` would do the same work in one chain, but each type's mark
//! moves on its own (a type fanned out, refused or failed), which one `_since` cannot follow.

use super::bundle::parse_page;
use super::fetch::{answered_at, keep_resource, FetchedType};
use super::plan::TypePlan;
use crate::fhir::client::FhirClient;
use anyhow::Result;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The operation's canonical definition (what a CapabilityStatement names).
pub const DEFINITION: &str = "http://hl7.org/fhir/OperationDefinition/Patient-everything";

pub use super::state::EverythingState;

/// Whether the CapabilityStatement declares `Patient/$everything` (by name or definition).
pub fn offered(metadata: &Value) -> bool {
    let list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    list(metadata.get("rest"))
        .iter()
        .flat_map(|rest| list(rest.get("resource")))
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("Patient"))
        .flat_map(|r| list(r.get("operation")))
        .any(|op| {
            let definition = op.get("definition").and_then(Value::as_str);
            op.get("name").and_then(Value::as_str) == Some("everything")
                || definition
                    .is_some_and(|d| d.trim_end_matches('/').ends_with("Patient-everything"))
        })
}

/// Whether `scope` lets the app read the Patient and search every type wholly
/// (`patient/*.read`, `patient/*.rs`): the operation answers only what the token may see, so
/// with narrower scopes its answer says nothing about the per-type plan.
pub fn covered(scope: &str) -> bool {
    use crate::auth::scopes::{read_granted, search_access, SearchAccess};
    search_access(scope, "*") == SearchAccess::Whole && read_granted(scope, "*")
}

/// Whether a run of these plans may use (or check) the operation: every type whole, whole
/// grants, no category fan-out, not narrowed by `--types`.
pub(super) fn whole_plans(plans: &[TypePlan], narrowed: bool) -> bool {
    !narrowed
        && plans.iter().any(|p| p.resource_type == "Patient")
        && plans
            .iter()
            .all(|p| !p.incremental() && p.granted_queries.is_none() && !p.fan_out)
}

/// What one `$everything` brought, split by type.
pub(super) struct Answer {
    /// The planned types' resources, each checked as a search result of its type.
    pub(super) by_type: BTreeMap<String, FetchedType>,
    pub(super) requests: u64,
    pub(super) bytes: u64,
}

/// Fetches `Patient/<patient>/$everything` and all its pages, keeping the resources of the
/// `planned` types (others, such as shared resources a server adds, are left to the reference
/// round). A page that fails, a loop of next links, or fewer entries than `Bundle.total`
/// announced make the whole answer an error: it is only used when it is whole.
pub(super) async fn fetch(
    fhir: &FhirClient,
    patient: &str,
    planned: &[String],
    spool_dir: &Path,
) -> Result<Answer> {
    let mut answer = Answer {
        by_type: planned
            .iter()
            .map(|t| (t.clone(), FetchedType::new(fhir.base(), spool_dir)))
            .collect(),
        requests: 0,
        bytes: 0,
    };
    let mut url = crate::fhir_url::resource(fhir.base(), "Patient", patient)?;
    url.path_segments_mut()
        .map_err(|_| anyhow::anyhow!("the FHIR base {} cannot take a path", fhir.base()))?
        .push("$everything");
    url.query_pairs_mut()
        .append_pair("_count", &super::PAGE_SIZE.to_string());
    let mut next = Some(url);
    let mut seen = HashSet::new();
    let (mut total, mut received) = (None, 0u64);
    while let Some(page_url) = next.take() {
        anyhow::ensure!(
            seen.insert(page_url.to_string()) && seen.len() <= super::MAX_PAGES,
            "Patient/$everything: the server's next links loop or never end"
        );
        let resp = fhir
            .get_with(&page_url, |b| parse_page(b, &page_url))
            .await?;
        answer.requests += 1;
        answer.bytes += resp.bytes;
        let Some(page) = resp.body else {
            let what = "Patient/$everything";
            return Err(
                crate::fhir::client::refusal_of(resp.status, &resp.error_body, what).into(),
            );
        };
        let mark = answered_at(&resp.headers);
        total = total.or(page.total);
        received += page.resources.len() as u64;
        for resource in page.resources {
            let Some(fetched) = answer.by_type.get_mut(&resource.resource_type) else {
                continue;
            };
            if fetched.mark.is_none() {
                fetched.mark.clone_from(&mark);
            }
            let ty = resource.resource_type.clone();
            keep_resource(fetched, &ty, patient, resource)?;
        }
        next = page.next;
    }
    if let Some(total) = total.filter(|t| received < *t) {
        anyhow::bail!("Patient/$everything: the server reported {total} but sent {received}");
    }
    Ok(answer)
}

/// How the operation's ids of each type compare with what the per-type searches stored
/// (`held`: the ids of each type's file after its whole search): one line per type that
/// differs; empty when every type is the same.
pub(super) fn compare(answer: &Answer, held: &BTreeMap<String, HashSet<String>>) -> Vec<String> {
    let mut differences = Vec::new();
    for (ty, ids) in held {
        let Some(fetched) = answer.by_type.get(ty) else {
            continue;
        };
        let missing = ids.iter().filter(|id| !fetched.spool.contains(id)).count();
        let extra = (fetched.spool.len() + missing).saturating_sub(ids.len());
        if missing > 0 {
            differences.push(format!("{ty}: {missing} of {} missing", ids.len()));
        } else if extra > 0 {
            differences.push(format!("{ty}: {extra} more than its search"));
        }
    }
    differences
}

/// The types the export holds resources of (`held` counts) that an answer used instead of the
/// searches lacks entirely: a sign the operation left them out (a server may narrow what it
/// includes at any time).
pub(super) fn lacking(answer: &Answer, held: &BTreeMap<String, usize>) -> Vec<String> {
    held.iter()
        .filter(|(ty, count)| {
            **count > 0 && answer.by_type.get(*ty).is_some_and(|f| f.spool.is_empty())
        })
        .map(|(ty, count)| format!("{ty}: none of {count} held"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use url::Url;

    fn statement(operation: Value) -> Value {
        json!({"resourceType": "CapabilityStatement", "rest": [{"mode": "server", "resource": [
            {"type": "Observation", "operation": [{"name": "everything"}]},
            {"type": "Patient", "operation": operation}
        ]}]})
    }

    #[test]
    fn offered_when_the_patient_resource_declares_it() {
        assert!(offered(&statement(json!([{"name": "everything"}]))));
        assert!(offered(&statement(json!([
            {"name": "patient-everything", "definition": DEFINITION}
        ]))));
        assert!(!offered(&statement(json!([{"name": "match"}]))));
        assert!(!offered(&statement(json!("everything"))));
        assert!(!offered(&json!({"rest": 5})));
    }

    #[test]
    fn covered_only_by_wildcard_grants() {
        assert!(covered("openid patient/*.rs"));
        assert!(covered("patient/*.read launch/patient"));
        assert!(!covered("patient/Patient.rs patient/Observation.rs"));
        assert!(!covered("patient/*.rs?category=laboratory"));
        assert!(!covered("patient/*.s"));
        assert!(!covered("system/*.read"));
    }

    #[test]
    fn preferred_when_complete_and_cheaper() {
        let state = EverythingState {
            complete: true,
            requests: 3,
            per_type_requests: 12,
            ..EverythingState::default()
        };
        assert!(state.preferred());
        assert!(!EverythingState {
            complete: false,
            ..state.clone()
        }
        .preferred());
        assert!(!EverythingState {
            requests: 12,
            ..state
        }
        .preferred());
    }

    #[test]
    fn differences_name_each_type() {
        let dir = tempfile::tempdir().unwrap();
        let base = Url::parse("https://x/fhir").unwrap();
        let mut answer = Answer {
            by_type: BTreeMap::new(),
            requests: 1,
            bytes: 10,
        };
        for (ty, ids) in [
            ("Condition", &["a", "b"][..]),
            ("Observation", &["o", "p"][..]),
        ] {
            let mut f = FetchedType::new(&base, dir.path());
            for id in ids {
                let text = format!(r#"{{"resourceType":"{ty}","id":"{id}"}}"#);
                keep_resource(
                    &mut f,
                    ty,
                    "p1",
                    super::super::resource::Resource::from_text(&text),
                )
                .unwrap();
            }
            answer.by_type.insert(ty.into(), f);
        }
        answer
            .by_type
            .insert("Encounter".into(), FetchedType::new(&base, dir.path()));
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        let held = BTreeMap::from([
            ("Condition".to_string(), set(&["a", "b"])),
            ("Observation".to_string(), set(&["o", "p", "q"])),
            ("Encounter".to_string(), set(&[])),
        ]);
        assert_eq!(compare(&answer, &held), ["Observation: 1 of 3 missing"]);
        let held = BTreeMap::from([("Condition".to_string(), set(&["a"]))]);
        assert_eq!(
            compare(&answer, &held),
            ["Condition: 1 more than its search"]
        );
        let counts = BTreeMap::from([("Encounter".to_string(), 4), ("Condition".to_string(), 2)]);
        assert_eq!(lacking(&answer, &counts), ["Encounter: none of 4 held"]);
    }
}
