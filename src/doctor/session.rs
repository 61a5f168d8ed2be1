//! Step 6 of `fhirdl doctor`: a signed-in profile. Credentials held, the access token accepted
//! (a live `Patient/<id>` read through [`Session`] and [`FhirClient`], which refresh as needed),
//! what token introspection says (when the server offers it), the refresh token and its age
//! against the provider's known limit (and when it stops working if unused), whether the last
//! sync is recent enough for that limit, granted against needed scopes, and one `_count=1`
//! search per resource type with a `patient` search parameter.
//!
//! Only statuses, latencies and counts are kept: no resource content, and the patient id only
//! as [`patient_hash`] (also in the HTTP trace, where the sink masks it).

use super::server::ServerFacts;
use super::{ms_text, Check, Checks, Target};
use crate::auth::credentials::Credentials;
use crate::auth::oauth::{introspect, ClientAuth};
use crate::auth::scopes::{search_access, SearchAccess};
use crate::config::Paths;
use crate::config::Profile;
use crate::datetime::{human_duration, now_unix, unix_to_rfc3339};
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

fn refresh_check(name: &str, profile: &Profile, creds: &Credentials) -> Check {
    let login_hint = format!("run: fhirdl login --profile {name}");
    if creds.refresh_token.is_none() {
        return Check::warn(
            "refresh_token",
            "none held: offline access was not granted, so you must sign in again when the access token expires",
            login_hint,
        )
        .figure("held", false);
    }
    let max_hours = refresh_limit_hours(profile);
    let age = creds.refresh_token_issued_at.map(|t| now_unix() - t);
    let mut age_text = age
        .map(|a| format!("held for {}", human_duration(a)))
        .unwrap_or_else(|| "held (age unknown)".into());
    let until = creds
        .refresh_token_issued_at
        .zip(max_hours)
        .map(|(t, h)| unix_to_rfc3339(t + i64::from(h) * 3600));
    if let Some(until) = &until {
        age_text.push_str(&format!(", stops working if unused after {until}"));
    }
    let check = match (age, max_hours) {
        (Some(a), Some(h)) if a >= i64::from(h) * 3600 => Check::fail(
            "refresh_token",
            format!("{age_text}; this provider's refresh tokens expire after {h} h unused"),
            login_hint,
        ),
        (Some(a), Some(h)) if a >= i64::from(h) * 3600 * 3 / 4 => Check::warn(
            "refresh_token",
            format!("{age_text}; this provider's refresh tokens expire after {h} h unused"),
            "run any fhirdl command that contacts the provider (or your backup) soon: it renews the refresh token",
        ),
        (_, Some(h)) => Check::ok(
            "refresh_token",
            format!("{age_text} (this provider's limit: {h} h unused)"),
        ),
        (_, None) => Check::ok("refresh_token", age_text),
    };
    check
        .figure("held", true)
        .figure("age_seconds", age)
        .figure("max_age_hours", max_hours)
        .figure("unusable_after", until)
}

/// The provider's limit on an unused refresh token, in hours, when known (NextGen: 48).
fn refresh_limit_hours(profile: &Profile) -> Option<u32> {
    profile
        .provider
        .as_deref()
        .and_then(crate::providers::find)
        .and_then(|p| p.refresh_token_max_age_hours)
}

/// RFC 7662: what the server says about the access token (active, scope, expiry, patient).
async fn introspection_check(
    http: &Http,
    name: &str,
    profile: &Profile,
    creds: &Credentials,
    facts: &ServerFacts,
) -> Check {
    let discovery = facts.discovery.as_ref().or(profile.discovery.as_ref());
    let Some(endpoint) = discovery.and_then(|d| d.introspection_endpoint.clone()) else {
        return Check::not_applicable(
            "introspection",
            "because the server offers no introspection endpoint",
        );
    };
    let client = ClientAuth {
        client_id: &profile.client_id,
        client_secret: creds.client_secret.as_ref(),
        basic_auth: discovery.is_some_and(|d| d.prefers_basic_auth()),
    };
    let answer = match introspect(http, &endpoint, &client, &creds.access_token).await {
        Ok(a) => a,
        Err(e) => {
            return Check::warn(
                "introspection",
                format!("{e:#}"),
                "fhirdl does not need introspection to work; the other checks tell whether the sign-in works",
            )
        }
    };
    if !answer.active {
        return Check::fail(
            "introspection",
            "the server says the access token is not active",
            format!("run: fhirdl login --profile {name}"),
        )
        .figure("active", false);
    }
    let patient_matches = match (&answer.patient, &creds.patient) {
        (Some(a), Some(c)) => Some(a == c),
        _ => None,
    };
    let expires = answer.exp.map(unix_to_rfc3339);
    let detail = format!(
        "active; scope: {}; expires {}; patient: {}",
        answer.scope.as_deref().unwrap_or("not stated"),
        expires.as_deref().unwrap_or("not stated"),
        match patient_matches {
            Some(true) => "the profile's",
            Some(false) => "ANOTHER patient",
            None => "not stated",
        }
    );
    let check = if patient_matches == Some(false) {
        Check::fail(
            "introspection",
            detail,
            format!("the token is for another patient than the profile's: run fhirdl login --profile {name}"),
        )
    } else {
        Check::ok("introspection", detail)
    };
    check
        .figure("active", true)
        .figure("scope", &answer.scope)
        .figure("expires_at", expires)
        .figure("patient_matches", patient_matches)
}

/// Whether the last sync is recent enough: a sync renews the refresh token, so a scheduled sync
/// that ran longer ago than the provider's limit will find the sign-in expired.
fn last_sync_check(name: &str, profile: &Profile, paths: &Paths) -> Check {
    let dir = profile.export_dir(name, paths);
    let Some(last) = crate::sync::state::LastRun::load(&dir) else {
        return Check::ok("last_sync", "no sync yet").figure("finished_at", Value::Null);
    };
    let age = crate::datetime::parse_rfc3339(&last.finished_at).map(|t| now_unix() - t);
    let age_text = age.map_or_else(|| "?".to_string(), human_duration);
    let text = format!("finished {} ({age_text} ago)", last.finished_at);
    let check = match (age, refresh_limit_hours(profile)) {
        (Some(a), Some(h)) if a > i64::from(h) * 3600 => Check::warn(
            "last_sync",
            format!("{text}: longer ago than this provider's {h} h limit on an unused sign-in"),
            format!("schedule `fhirdl sync --profile {name} -q` at least daily (see README: Backups from cron)"),
        ),
        _ => Check::ok("last_sync", text),
    };
    check
        .figure("finished_at", &last.finished_at)
        .figure("age_seconds", age)
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
    let mut url = fhir.base().clone();
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty().push(resource_type);
    }
    url.query_pairs_mut()
        .append_pair("patient", pid)
        .extend_pairs(query)
        .append_pair("_count", "1");
    let started = Instant::now();
    let result = fhir.get(&url).await;
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

    fn creds(refresh_age_hours: Option<i64>) -> Credentials {
        Credentials {
            access_token: crate::secret::Secret::new("a"),
            expires_at: None,
            refresh_token: refresh_age_hours.map(|_| crate::secret::Secret::new("r")),
            refresh_token_issued_at: refresh_age_hours.map(|h| now_unix() - h * 3600),
            scope: "launch/patient offline_access patient/*.rs".into(),
            patient: Some("pt-1".into()),
            encounter: None,
            fhir_user: None,
            user_name: None,
            launch: Default::default(),
            client_secret: None,
            signed_in_at: 0,
        }
    }

    fn profile(provider: Option<&str>) -> Profile {
        Profile {
            provider: provider.map(str::to_string),
            fhir_base: "https://a.example/fhir".into(),
            client_id: "app".into(),
            confidential: false,
            scope: None,
            send_aud: true,
            redirect: Default::default(),
            credential_store: crate::auth::store::StoreKind::File,
            out_dir: None,
            discovery: None,
        }
    }

    #[test]
    fn refresh_token_age_against_the_providers_limit() {
        use crate::doctor::Status;
        let nextgen = profile(Some("nextgen-enterprise-r4"));
        assert_eq!(
            refresh_check("p", &nextgen, &creds(Some(2))).status,
            Status::Ok
        );
        let near = refresh_check("p", &nextgen, &creds(Some(37)));
        assert_eq!(near.status, Status::Warn);
        assert!(near.detail.contains("48 h"), "{}", near.detail);
        // 37 h held of 48: it stops working 11 h from now.
        let until = unix_to_rfc3339(now_unix() + 11 * 3600);
        assert!(
            near.detail
                .contains(&format!("stops working if unused after {}", &until[..13])),
            "{}",
            near.detail
        );
        assert_eq!(
            refresh_check("p", &nextgen, &creds(Some(49))).status,
            Status::Fail
        );
        // No known limit: any age is fine.
        assert_eq!(
            refresh_check("p", &profile(None), &creds(Some(500))).status,
            Status::Ok
        );
        assert_eq!(
            refresh_check("p", &nextgen, &creds(None)).status,
            Status::Warn
        );
    }

    #[test]
    fn last_sync_against_the_providers_limit() {
        use crate::doctor::Status;
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_dir: dir.path().join("config"),
            data_dir: dir.path().join("data"),
        };
        let mut nextgen = profile(Some("nextgen-enterprise-r4"));
        nextgen.out_dir = Some(dir.path().join("export"));
        let check = last_sync_check("p", &nextgen, &paths);
        assert_eq!(
            (check.status, check.detail.as_str()),
            (Status::Ok, "no sync yet")
        );
        let write = |hours_ago: i64| {
            let run = crate::sync::state::LastRun {
                finished_at: unix_to_rfc3339(now_unix() - hours_ago * 3600),
                resources: 1,
                requests: 1,
                failed: vec![],
                failed_documents: vec![],
            };
            run.save(&dir.path().join("export")).unwrap();
        };
        write(3);
        assert_eq!(last_sync_check("p", &nextgen, &paths).status, Status::Ok);
        write(60);
        let old = last_sync_check("p", &nextgen, &paths);
        assert_eq!(old.status, Status::Warn, "{}", old.detail);
        assert!(old.detail.contains("48 h"), "{}", old.detail);
        // No known limit: an old sync is only reported.
        let mut other = profile(None);
        other.out_dir = nextgen.out_dir.clone();
        assert_eq!(last_sync_check("p", &other, &paths).status, Status::Ok);
    }

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
