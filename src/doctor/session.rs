//! Step 6 of `fhirdl doctor`: a signed-in profile. Credentials held, the access token accepted
//! (a live `Patient/<id>` read through [`Session`] and [`FhirClient`], which refresh as needed),
//! how long the sign-in lasts (introspection, refresh token, last sync: `lifetime`), granted
//! against needed scopes, and one `_count=1` search per granted resource type with a `patient`
//! search parameter.
//!
//! Only statuses, latencies and counts are kept: no resource content, and the patient id only
//! as [`patient_hash`] (also in the HTTP trace, where the sink masks it).

use super::lifetime::{introspection_check, last_sync_check, refresh_check};
use super::server::ServerFacts;
use super::{ms_text, Check, Checks, Target};
use crate::auth::credentials::Credentials;
use crate::auth::scopes::{search_access, SearchAccess};
use crate::config::Paths;
use crate::config::Profile;
use crate::datetime::{human_duration, unix_to_rfc3339};
use crate::exit::hint_of;
use crate::fhir::client::FhirClient;
use crate::http::Http;
use crate::trace::patient_hash;
use serde::Serialize;
use serde_json::Value;
use std::time::Instant;

const SESSION_CHECKS: &[&str] = &[
    "signed_in",
    "access_token",
    "introspection",
    "refresh_token",
    "last_sync",
    "scopes_granted",
    "type_probes",
];

/// At most this many type searches in flight.
const PROBE_PARALLELISM: usize = 4;

pub async fn run(
    checks: &mut Checks,
    http: &Http,
    paths: &Paths,
    target: &Target,
    facts: &ServerFacts,
) {
    let Some((name, profile)) = &target.profile else {
        for id in SESSION_CHECKS {
            checks.push(Check::not_applicable(
                id,
                "because no profile is selected (--fhir-base)",
            ));
        }
        return;
    };
    let store = paths.credential_store(profile.credential_store);
    let creds = match store.load(name).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            checks.push(Check::warn(
                "signed_in",
                format!("profile {name} has no stored sign-in"),
                format!("run: fhirdl login --profile {name}"),
            ));
            for id in &SESSION_CHECKS[1..] {
                checks.push(Check::blocked(id, "because the profile is not signed in"));
            }
            return;
        }
        Err(e) => {
            checks.push(Check::fail(
                "signed_in",
                format!("cannot read the credentials of profile {name}: {e:#}"),
                hint_of(&e).unwrap_or_else(|| format!("run: fhirdl login --profile {name}")),
            ));
            for id in &SESSION_CHECKS[1..] {
                checks.push(Check::blocked(id, "because signed in failed"));
            }
            return;
        }
    };
    if let Some(pid) = &creds.patient {
        http.trace_sink().pseudonymize_patient(pid);
    }
    let patient = creds.patient.as_deref().map(patient_hash);
    checks.push(
        Check::ok(
            "signed_in",
            format!(
                "since {} as {} ({})",
                unix_to_rfc3339(creds.signed_in_at),
                patient.as_deref().unwrap_or("no patient context"),
                store.describe()
            ),
        )
        .figure("signed_in_at", unix_to_rfc3339(creds.signed_in_at))
        .figure("patient", &patient),
    );

    let fhir = token_check(checks, http, paths, name, profile, &creds).await;
    let after = match &fhir {
        Some(f) => f.session().credentials().await,
        None => creds.clone(),
    };
    checks.push(introspection_check(http, name, profile, &after, facts).await);
    checks.push(refresh_check(name, profile, &after));
    checks.push(last_sync_check(name, profile, paths));
    checks.push(scopes_check(profile, &after, facts));
    match (&fhir, &after.patient) {
        (Some(f), Some(pid)) => {
            let check = probe_types(f, pid, facts.metadata.as_ref(), &after.scope).await;
            checks.push(check);
        }
        _ => {
            let because = checks
                .blocker(&["access_token"])
                .unwrap_or_else(|| "because the sign-in has no patient context".into());
            checks.push(Check::blocked("type_probes", because));
        }
    }
}

/// Reads `Patient/<id>`; returns the client for the probes when the token works.
async fn token_check(
    checks: &mut Checks,
    http: &Http,
    paths: &Paths,
    name: &str,
    profile: &Profile,
    creds: &Credentials,
) -> Option<FhirClient> {
    if let Some(because) = checks.blocker(&["dns", "tcp", "tls"]) {
        checks.push(Check::blocked("access_token", because));
        return None;
    }
    let Some(pid) = creds.patient.clone() else {
        checks.push(Check::warn(
            "access_token",
            "the sign-in has no patient context: nothing to read",
            format!("sign in again as the patient: fhirdl login --profile {name}"),
        ));
        return None;
    };
    let login_hint = format!("run: fhirdl login --profile {name}");
    let started = Instant::now();
    let result = async {
        let fhir =
            crate::connect::fhir_client(http, paths, name, profile, Some(creds.clone())).await?;
        fhir.read("Patient", &pid).await?;
        anyhow::Ok(fhir)
    }
    .await;
    let ms = started.elapsed().as_millis();
    match result {
        Ok(fhir) => {
            let after = fhir.session().credentials().await;
            let refreshed = after.access_token != creds.access_token;
            let expiry = match after.expires_in() {
                Some(s) if s > 0 => format!("expires in {}", human_duration(s)),
                Some(s) => format!("expired {}", human_duration(s)),
                None => "no expiry stated".into(),
            };
            checks.push(
                Check::ok(
                    "access_token",
                    format!(
                        "Patient read in {}{}; {expiry}",
                        ms_text(ms),
                        if refreshed { " after a refresh" } else { "" }
                    ),
                )
                .figure("ms", ms)
                .figure("refreshed", refreshed)
                .figure("expires_in_seconds", after.expires_in()),
            );
            Some(fhir)
        }
        Err(e) => {
            let login = crate::auth::Error::is_login_required(&e);
            let hint = if login {
                login_hint
            } else {
                hint_of(&e).unwrap_or_else(|| {
                    "the server refused the read: `fhirdl -v doctor` shows each request".into()
                })
            };
            let why = scrub(&format!("{e:#}"), &pid);
            checks.push(
                Check::fail(
                    "access_token",
                    format!("the Patient read failed: {why}"),
                    hint,
                )
                .figure("ms", ms)
                .figure("login_required", login),
            );
            None
        }
    }
}

fn scopes_check(profile: &Profile, creds: &Credentials, facts: &ServerFacts) -> Check {
    let discovery = facts.discovery.as_ref().or(profile.discovery.as_ref());
    let needed = profile
        .scope
        .clone()
        .or_else(|| discovery.map(crate::auth::scopes::default_scopes));
    let granted: Vec<&str> = creds.scope.split_whitespace().collect();
    let missing: Vec<String> = needed
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .filter(|s| !granted.contains(s))
        .map(str::to_string)
        .collect();
    let warnings = crate::auth::scopes::grant_warnings(&creds.scope, creds.refresh_token.is_some());
    let check = if let Some(w) = warnings.first() {
        Check::warn(
            "scopes_granted",
            format!("granted: {}", creds.scope),
            w.clone(),
        )
    } else if !missing.is_empty() {
        Check::warn(
            "scopes_granted",
            format!("not granted: {} (granted: {})", missing.join(" "), creds.scope),
            "the provider granted less than fhirdl needs: some types may be refused (see resource types); sign in again and allow everything on the consent page",
        )
    } else {
        Check::ok("scopes_granted", format!("granted: {}", creds.scope))
    };
    check
        .figure("granted", &creds.scope)
        .figure("needed", &needed)
        .figure("missing", &missing)
}

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
async fn probe_types(fhir: &FhirClient, pid: &str, metadata: Option<&Value>, scope: &str) -> Check {
    let all = metadata.map(patient_types).unwrap_or_default();
    if all.is_empty() {
        return Check::not_applicable(
            "type_probes",
            "because the CapabilityStatement lists no type with a patient search parameter",
        );
    }
    let (types, not_granted): (Vec<String>, Vec<String>) = all
        .into_iter()
        .partition(|t| search_access(scope, t) != SearchAccess::None);
    use futures_util::StreamExt as _;
    let probes: Vec<Probe> = futures_util::stream::iter(types.iter())
        .map(|t| {
            let query = match search_access(scope, t) {
                SearchAccess::Only(queries) => queries.into_iter().next().unwrap_or_default(),
                _ => Vec::new(),
            };
            probe(fhir, t, pid, query)
        })
        .buffered(PROBE_PARALLELISM)
        .collect()
        .await;
    let ok = probes
        .iter()
        .filter(|p| p.status.is_some_and(|s| (200..300).contains(&s)));
    let ok_count = ok.count();
    let forbidden: Vec<&str> = probes
        .iter()
        .filter(|p| p.status == Some(403))
        .map(|p| p.resource_type.as_str())
        .collect();
    let broken: Vec<String> = probes
        .iter()
        .filter(|p| {
            !p.status
                .is_some_and(|s| (200..300).contains(&s) || s == 403)
        })
        .map(|p| match (p.status, &p.error) {
            (Some(s), _) => format!("{} (HTTP {s})", p.resource_type),
            (None, Some(e)) => format!("{} ({e})", p.resource_type),
            (None, None) => p.resource_type.clone(),
        })
        .collect();
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
        .figure("not_granted", &not_granted)
}

async fn probe(
    fhir: &FhirClient,
    resource_type: &str,
    pid: &str,
    query: Vec<(String, String)>,
) -> Probe {
    // The profile's own search parameters (athenahealth's ah-practice) go along, as in a sync.
    let mut params = vec![("patient", pid)];
    params.extend(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    params.push(("_count", "1"));
    let started = Instant::now();
    let result = match fhir.search_url(resource_type, &params) {
        Ok(url) => fhir.get(&url).await,
        Err(e) => Err(e),
    };
    let ms = started.elapsed().as_millis();
    match result {
        Ok(r) => Probe {
            resource_type: resource_type.to_string(),
            status: Some(r.status.as_u16()),
            ms,
            total: r.body.get("total").and_then(Value::as_u64),
            error: None,
        },
        Err(e) => Probe {
            resource_type: resource_type.to_string(),
            status: None,
            ms,
            total: None,
            // Failure messages hold no resource content or tokens, but may name the URL.
            error: Some(scrub(
                &crate::error::failure_of(&e)
                    .map(|f| f.message.clone())
                    .unwrap_or_else(|| format!("{e}")),
                pid,
            )),
        },
    }
}

/// Error texts may quote a URL or `Patient/<id>`: the id becomes its hash.
fn scrub(text: &str, pid: &str) -> String {
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
    fn errors_never_quote_the_patient_id() {
        let t = scrub("reading Patient/pt-9 failed with HTTP 401", "pt-9");
        assert!(
            !t.contains("pt-9") && t.contains(&patient_hash("pt-9")),
            "{t}"
        );
    }

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
