//! Step 6 of `fhirdl doctor`: a signed-in profile. Credentials held, the access token accepted
//! (a live `Patient/<id>` read through [`Session`] and [`FhirClient`], which refresh as needed),
//! how long the sign-in lasts (introspection, refresh token, last sync: `lifetime`), granted
//! against needed scopes, and the resource type searches (`probes`).
//!
//! Only statuses, latencies and counts are kept: no resource content, and the patient id only
//! as [`patient_hash`] (also in the HTTP trace, where the sink masks it).

use super::lifetime::{introspection_check, last_sync_check, refresh_check};
use super::probes::{probe_types, scrub};
use super::server::ServerFacts;
use super::{ms_text, Check, Checks, Target};
use crate::auth::credentials::Credentials;
use crate::config::Paths;
use crate::config::Profile;
use crate::datetime::{human_duration, unix_to_rfc3339};
use crate::exit::hint_of;
use crate::fhir::client::FhirClient;
use crate::http::Http;
use crate::keep_alive::RefreshLimits;
use crate::trace::patient_hash;
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
    checks.push(introspection_check(http, paths, name, profile, &after, facts).await);
    let limits = RefreshLimits::of(profile, &paths.data_dir);
    checks.push(refresh_check(name, &limits, &after));
    checks.push(last_sync_check(name, profile, paths, &limits));
    checks.push(scopes_check(profile, &after, facts));
    match (&fhir, &after.patient) {
        (Some(f), Some(pid)) => {
            let metadata = facts.metadata.as_ref();
            let check = probe_types(f, pid, metadata, &after.scope, profile).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_quote_the_patient_id() {
        let t = scrub("reading Patient/pt-9 failed with HTTP 401", "pt-9");
        assert!(
            !t.contains("pt-9") && t.contains(&patient_hash("pt-9")),
            "{t}"
        );
    }
}
