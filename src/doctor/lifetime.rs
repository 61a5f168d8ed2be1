//! Part of step 6 of `fhirdl doctor`: how long the sign-in will last. What token introspection
//! (RFC 7662) says of the access token, the refresh token's idleness against the provider's
//! known limit (preset or quirks list, `auth::keep_alive`) and when it becomes unusable if
//! unused, and whether the last sync is recent enough for that limit (a sync renews the
//! refresh token).

use super::server::ServerFacts;
use super::Check;
use crate::auth::credentials::Credentials;
use crate::auth::oauth::{introspect, ClientAuth};
use crate::config::{Paths, Profile};
use crate::datetime::{human_duration, now_unix, unix_to_rfc3339};
use crate::http::Http;
use crate::keep_alive::{Idle, RefreshLimits};
use serde_json::Value;

pub(super) fn refresh_check(name: &str, limits: &RefreshLimits, creds: &Credentials) -> Check {
    let login_hint = format!("run: fhirdl login --profile {name}");
    if creds.refresh_token.is_none() {
        return Check::warn(
            "refresh_token",
            "none held: offline access was not granted, so you must sign in again when the access token expires",
            login_hint,
        )
        .figure("held", false);
    }
    let now = now_unix();
    let age = creds.refresh_token_idle_since().map(|t| now - t);
    let idle = Idle::of(limits, creds, now);
    let mut age_text = age
        .map(|a| format!("unused for {}", human_duration(a)))
        .unwrap_or_else(|| "held (age unknown)".into());
    let until = idle.map(|i| unix_to_rfc3339(i.unusable_at));
    if let Some(until) = &until {
        age_text.push_str(&format!(", unusable if unused after {until}"));
    }
    let check = match idle {
        Some(i) if i.lapsed() => Check::fail(
            "refresh_token",
            format!(
                "{age_text}; this provider's refresh tokens expire after {} h unused",
                i.limit_hours
            ),
            login_hint,
        ),
        Some(i) if i.past_half() => Check::warn(
            "refresh_token",
            format!(
                "{age_text}; this provider's refresh tokens expire after {} h unused",
                i.limit_hours
            ),
            format!("run `fhirdl sync --profile {name}` soon (a sync refreshes the sign-in), and schedule it at least daily"),
        ),
        Some(i) => Check::ok(
            "refresh_token",
            format!(
                "{age_text} (this provider's limit: {} h unused)",
                i.limit_hours
            ),
        ),
        None => Check::ok("refresh_token", age_text),
    };
    check
        .figure("held", true)
        .figure("age_seconds", age)
        .figure("max_age_hours", limits.idle_hours)
        .figure("unusable_after", until)
        .figure("min_interval_secs", limits.min_interval_secs)
        .figure("rotates", limits.rotates)
}

/// RFC 7662: what the server says about the access token (active, scope, expiry, patient).
pub(super) async fn introspection_check(
    http: &Http,
    paths: &crate::config::Paths,
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
    let store = paths.credential_store(profile.credential_store);
    let (client_id, key) = match crate::connect::token_owner(&store, name, profile).await {
        Ok(owner) => owner,
        Err(e) => {
            return Check::warn(
                "introspection",
                format!("{e:#}"),
                "sign in again: fhirdl login",
            )
        }
    };
    let token_endpoint = discovery
        .map(|d| d.token_endpoint.clone())
        .unwrap_or_default();
    let client = ClientAuth {
        client_id: &client_id,
        client_secret: creds.client_secret.as_ref(),
        basic_auth: discovery.is_some_and(|d| d.prefers_basic_auth()),
        key: key.as_ref().map(|k| (k, token_endpoint.as_str())),
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
pub(super) fn last_sync_check(
    name: &str,
    profile: &Profile,
    paths: &Paths,
    limits: &RefreshLimits,
) -> Check {
    let dir = profile.export_dir(name, paths);
    let Some(last) = crate::sync::state::LastRun::load(&dir) else {
        return Check::ok("last_sync", "no sync yet").figure("finished_at", Value::Null);
    };
    let age = crate::datetime::parse_rfc3339(&last.finished_at).map(|t| now_unix() - t);
    let age_text = age.map_or_else(|| "?".to_string(), human_duration);
    let text = format!("finished {} ({age_text} ago)", last.finished_at);
    let check = match (age, limits.idle_hours) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(refresh_age_hours: Option<i64>) -> Credentials {
        Credentials {
            access_token: crate::secret::Secret::new("a"),
            expires_at: None,
            refresh_token: refresh_age_hours.map(|_| crate::secret::Secret::new("r")),
            refresh_token_issued_at: refresh_age_hours.map(|h| now_unix() - h * 3600),
            refresh_token_used_at: None,
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
            client_key: None,
            register: false,
            registration: None,
            scope: None,
            send_aud: true,
            redirect: Default::default(),
            credential_store: crate::auth::store::StoreKind::File,
            out_dir: None,
            search_params: Vec::new(),
            discovery: None,
            practice: None,
        }
    }

    #[test]
    fn refresh_token_age_against_the_providers_limit() {
        use crate::doctor::Status;
        let nextgen =
            RefreshLimits::from_known(&profile(Some("nextgen-enterprise-r4")), &Default::default());
        assert_eq!(
            refresh_check("p", &nextgen, &creds(Some(2))).status,
            Status::Ok
        );
        let near = refresh_check("p", &nextgen, &creds(Some(37)));
        assert_eq!(near.status, Status::Warn);
        assert!(near.detail.contains("48 h"), "{}", near.detail);
        // 37 h held of 48: it becomes unusable 11 h from now.
        let until = unix_to_rfc3339(now_unix() + 11 * 3600);
        assert!(
            near.detail
                .contains(&format!("unusable if unused after {}", &until[..13])),
            "{}",
            near.detail
        );
        assert_eq!(
            refresh_check("p", &nextgen, &creds(Some(49))).status,
            Status::Fail
        );
        // Past half the limit it warns already, saying to sync.
        let half = refresh_check("p", &nextgen, &creds(Some(25)));
        assert_eq!(half.status, Status::Warn);
        assert!(half
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("fhirdl sync --profile p"));
        assert_eq!(
            refresh_check("p", &nextgen, &creds(Some(23))).status,
            Status::Ok
        );
        // No known limit: any age is fine.
        assert_eq!(
            refresh_check("p", &RefreshLimits::default(), &creds(Some(500))).status,
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
        let limits = RefreshLimits::from_known(&nextgen, &Default::default());
        let check = last_sync_check("p", &nextgen, &paths, &limits);
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
                ..Default::default()
            };
            run.save(&dir.path().join("export")).unwrap();
        };
        write(3);
        assert_eq!(
            last_sync_check("p", &nextgen, &paths, &limits).status,
            Status::Ok
        );
        write(60);
        let old = last_sync_check("p", &nextgen, &paths, &limits);
        assert_eq!(old.status, Status::Warn, "{}", old.detail);
        assert!(old.detail.contains("48 h"), "{}", old.detail);
        // No known limit: an old sync is only reported.
        let mut other = profile(None);
        other.out_dir = nextgen.out_dir.clone();
        assert_eq!(
            last_sync_check("p", &other, &paths, &RefreshLimits::default()).status,
            Status::Ok
        );
    }
}
