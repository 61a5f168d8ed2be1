//! The `type_probes` check of `fhirdl doctor`: one `_count=1` search per granted resource type
//! with a `patient` search parameter, asked the way sync asks. A type that fhirdl's quirks list
//! or the profile's provider preset says needs a category is probed with one category the
//! server accepts; a plain probe refused for want of a category, a status or an intent (judged
//! by `sync::fanout::Demand`, as sync judges its own searches) is asked once more as sync would,
//! and passes with a note saying what sync does. Only a refusal sync cannot get past fails.
//! At most two requests a type.

use super::{ms_text, Check};
use crate::auth::scopes::{search_access, SearchAccess};
use crate::config::Profile;
use crate::fhir::client::{outcome_text, FhirClient};
use crate::quirks::Known;
use crate::sync::fanout::Demand;
use crate::trace::patient_hash;
use serde::Serialize;
use serde_json::Value;
use std::time::Instant;

/// At most this many type searches in flight.
const PROBE_PARALLELISM: usize = 4;

/// One probe's outcome (no content: status, latency, how many matches).
#[derive(Debug, Serialize)]
struct Probe {
    #[serde(rename = "type")]
    resource_type: String,
    status: Option<u16>,
    ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The parameter added as sync would (`category=vital-signs`, `intent=proposal,plan,…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    narrowed: Option<String>,
    /// The status of the plain probe the server refused before it was asked again.
    #[serde(skip_serializing_if = "Option::is_none")]
    plain_status: Option<u16>,
    /// What sync does for this type, when it does not search it plainly.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl Probe {
    fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What is known before the first probe of how sync searches this server.
struct Asking {
    known: Known,
}

impl Asking {
    /// Who says `resource_type` is searched category by category from the start, if anyone.
    fn category_first(&self, resource_type: &str) -> Option<String> {
        self.known
            .categories_required
            .contains(resource_type)
            .then(|| format!("fhirdl's quirks list for {}", self.known.vendors.join(", ")))
    }
}

/// Types in the CapabilityStatement that have a `patient` search parameter.
pub fn patient_types(metadata: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for rest in metadata
        .get("rest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for res in rest
            .get("resource")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let has_patient = res
                .get("searchParam")
                .and_then(Value::as_array)
                .is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p.get("name").and_then(Value::as_str) == Some("patient"))
                });
            if let (true, Some(t)) = (has_patient, res.get("type").and_then(Value::as_str)) {
                if !out.iter().any(|x| x == t) {
                    out.push(t.to_string());
                }
            }
        }
    }
    out
}

/// Searches each type the sign-in granted as sync would (a type granted only through granular
/// scopes with its first granted query); types not granted are named, not probed.
pub(super) async fn probe_types(
    fhir: &FhirClient,
    pid: &str,
    metadata: Option<&Value>,
    scope: &str,
    profile: &Profile,
) -> Check {
    let Some(metadata) = metadata.filter(|m| !patient_types(m).is_empty()) else {
        return Check::not_applicable(
            "type_probes",
            "because the CapabilityStatement lists no type with a patient search parameter",
        );
    };
    let vendor = profile
        .provider
        .as_deref()
        .and_then(crate::providers::find)
        .and_then(|p| p.vendor);
    let asking = Asking {
        known: Known::built_in_for(metadata, fhir.base(), vendor),
    };
    let (types, not_granted): (Vec<String>, Vec<String>) = patient_types(metadata)
        .into_iter()
        .partition(|t| search_access(scope, t) != SearchAccess::None);
    use futures_util::StreamExt as _;
    let probes: Vec<Probe> = futures_util::stream::iter(types.iter())
        .map(|t| {
            let query = match search_access(scope, t) {
                SearchAccess::Only(queries) => queries.into_iter().next().unwrap_or_default(),
                _ => Vec::new(),
            };
            probe_as_sync(fhir, t, pid, query, &asking)
        })
        .buffered(PROBE_PARALLELISM)
        .collect()
        .await;
    summary(probes, not_granted)
}

/// The check from the probes: failed when a search sync cannot get past fails, a warning when
/// a type is refused (403), else ok; the notes say which types sync asks otherwise.
fn summary(probes: Vec<Probe>, not_granted: Vec<String>) -> Check {
    let ok_count = probes.iter().filter(|p| p.ok()).count();
    let forbidden: Vec<&str> = probes
        .iter()
        .filter(|p| p.status == Some(403))
        .map(|p| p.resource_type.as_str())
        .collect();
    let broken: Vec<String> = probes
        .iter()
        .filter(|p| !p.ok() && p.status != Some(403))
        .map(|p| {
            let what = match &p.narrowed {
                Some(q) => format!("{}?{q}", p.resource_type),
                None => p.resource_type.clone(),
            };
            match (p.status, &p.error) {
                (Some(s), _) => format!("{what} (HTTP {s})"),
                (None, Some(e)) => format!("{what} ({e})"),
                (None, None) => what,
            }
        })
        .collect();
    let notes: Vec<&str> = probes.iter().filter_map(|p| p.note.as_deref()).collect();
    let slowest = probes.iter().map(|p| p.ms).max().unwrap_or(0);
    let mut detail = format!(
        "{} types searched: {ok_count} answered (slowest {})",
        probes.len(),
        ms_text(slowest)
    );
    if !forbidden.is_empty() {
        detail.push_str(&format!("; refused (403): {}", forbidden.join(", ")));
    }
    if !broken.is_empty() {
        detail.push_str(&format!("; failed: {}", broken.join(", ")));
    }
    if !not_granted.is_empty() {
        detail.push_str(&format!(
            "; not granted at sign-in (not searched): {}",
            not_granted.join(", ")
        ));
    }
    for note in &notes {
        detail.push_str(&format!(". {note}"));
    }
    let check = if !broken.is_empty() {
        Check::fail(
            "type_probes",
            detail,
            "these searches fail on the server side: a sync would miss them; `fhirdl -v doctor` shows each request",
        )
    } else if !forbidden.is_empty() {
        Check::warn(
            "type_probes",
            detail,
            "the sign-in does not cover these types (consent or scopes): sign in again and allow them, or accept that they will be skipped",
        )
    } else {
        Check::ok("type_probes", detail)
    };
    check
        .figure("probes", &probes)
        .figure("notes", &notes)
        .figure("not_granted", &not_granted)
}

/// One type probed as sync searches it: with one accepted category when the quirks list or
/// the preset says so, else plainly; a plain probe refused for want of a category, a status or
/// an intent is asked once more the way sync then asks.
async fn probe_as_sync(
    fhir: &FhirClient,
    resource_type: &str,
    pid: &str,
    mut query: Vec<(String, String)>,
    asking: &Asking,
) -> Probe {
    let refused = asking.known.refused_searches(resource_type);
    let demand = Demand::Category;
    if let (Some(source), Some((param, value))) = (
        asking.category_first(resource_type),
        demand.narrowed(resource_type, refused),
    ) {
        if !query.iter().any(|(k, _)| k == param) {
            let narrowed = format!("{param}={value}");
            query.push((param.to_string(), value));
            let mut probe = probe(fhir, resource_type, pid, &query).await.probe;
            probe.narrowed = Some(narrowed);
            probe.note = Some(format!(
                "{resource_type}: {} ({source})",
                demand.what_sync_does()
            ));
            return probe;
        }
    }
    let mut plain = probe(fhir, resource_type, pid, &query).await;
    let asked: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let Some(demand) = plain
        .probe
        .status
        .zip(plain.outcome.take())
        .and_then(|(status, text)| {
            Demand::of(status, &text, &asked).filter(|d| d.values_for(resource_type).is_some())
        })
    else {
        return plain.probe;
    };
    let Some((param, value)) = demand.narrowed(resource_type, refused) else {
        return plain.probe;
    };
    let shown = match demand {
        Demand::Category => format!("{param}={value}"),
        _ => format!("{param}=<every value>"),
    };
    query.push((param.to_string(), value));
    let mut again = probe(fhir, resource_type, pid, &query).await;
    again.probe.ms += plain.probe.ms;
    again.probe.narrowed = Some(shown);
    again.probe.plain_status = plain.probe.status;
    again.probe.note = Some(format!("{resource_type}: {}", demand.what_sync_does()));
    again.probe
}

/// A probe sent, and the OperationOutcome text of a refusal.
struct Sent {
    probe: Probe,
    outcome: Option<String>,
}

/// `GET <type>?patient=<id>&<query>&_count=1`, with the profile's own search parameters
/// (athenahealth's ah-practice) as in a sync.
async fn probe(
    fhir: &FhirClient,
    resource_type: &str,
    pid: &str,
    query: &[(String, String)],
) -> Sent {
    let mut params = vec![("patient", pid)];
    params.extend(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    params.push(("_count", "1"));
    let started = Instant::now();
    let result = match fhir.search_url(resource_type, &params) {
        Ok(url) => fhir.get(&url).await,
        Err(e) => Err(e),
    };
    let ms = started.elapsed().as_millis();
    let mut probe = Probe {
        resource_type: resource_type.to_string(),
        status: None,
        ms,
        total: None,
        error: None,
        narrowed: None,
        plain_status: None,
        note: None,
    };
    let outcome = match result {
        Ok(r) => {
            probe.status = Some(r.status.as_u16());
            probe.total = r.body.get("total").and_then(Value::as_u64);
            outcome_text(&r.body)
        }
        Err(e) => {
            // Failure messages hold no resource content or tokens, but may name the URL.
            probe.error = Some(scrub(
                &crate::error::failure_of(&e)
                    .map(|f| f.message.clone())
                    .unwrap_or_else(|| format!("{e}")),
                pid,
            ));
            None
        }
    };
    Sent { probe, outcome }
}

/// Error texts may quote a URL or `Patient/<id>`: the id becomes its hash.
pub(super) fn scrub(text: &str, pid: &str) -> String {
    if pid.is_empty() {
        text.to_string()
    } else {
        text.replace(pid, &patient_hash(pid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_with_a_patient_search() {
        let cs = json!({"rest": [{"resource": [
            {"type": "Observation", "searchParam": [{"name": "patient"}, {"name": "code"}]},
            {"type": "Medication", "searchParam": [{"name": "code"}]},
            {"type": "Binary"},
            {"type": "Condition", "searchParam": [{"name": "patient"}]}
        ]}]});
        assert_eq!(patient_types(&cs), vec!["Observation", "Condition"]);
        assert!(patient_types(&json!({})).is_empty());
    }
}
