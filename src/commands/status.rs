//! `fhirdl status`: what each profile is signed in as, and whether the sign-in still works.

use super::Ctx;
use crate::auth::credentials::{Credentials, LaunchContext};
use crate::cli::StatusArgs;
use crate::config::{self, Profile};
use crate::datetime::{human_duration, now_unix, unix_to_rfc3339};
use crate::error::{fail, Kind};
use crate::exit::kind_of;
use crate::fhir::client::patient_name;
use crate::fhir::version::FhirRelease;
use crate::keep_alive::{Idle, RefreshLimits};
use crate::sanitize::clean;
use anyhow::Result;
use serde::Serialize;

#[derive(Debug, Serialize)]
struct ProfileStatus {
    profile: String,
    default: bool,
    provider: Option<String>,
    /// The organization chosen with `login --practice` (as the directory listed it).
    practice: Option<crate::config::Practice>,
    fhir_base: String,
    fhir_version: Option<String>,
    software: Option<String>,
    signed_in: bool,
    patient: Option<String>,
    patient_name: Option<String>,
    fhir_user: Option<String>,
    /// Who signed in, when not the patient (a proxy): "Pat Proxy (RelatedPerson)".
    signed_in_as: Option<String>,
    encounter: Option<String>,
    /// SMART 2.2 token-response context (`need_patient_banner`, `smart_style_url`, `intent`,
    /// `tenant`, `fhirContext`), as the server sent it.
    launch_context: LaunchContext,
    scope: Option<String>,
    access_token_expires_at: Option<String>,
    access_token_expires_in_seconds: Option<i64>,
    refresh_token: bool,
    refresh_token_since: Option<String>,
    /// The provider's limit on an unused refresh token (preset or quirks list), in hours.
    refresh_token_idle_limit_hours: Option<u32>,
    /// Seconds since the refresh token held was issued or last used.
    refresh_token_idle_seconds: Option<i64>,
    /// When the refresh token held becomes unusable if unused.
    refresh_token_unusable_after: Option<String>,
    /// Past half the limit: when it becomes unusable and what to do.
    refresh_token_warning: Option<String>,
    signed_in_at: Option<String>,
    credential_store: String,
    /// The `private_key_jwt` key: id, algorithm, creation time (never the key).
    client_key: Option<crate::auth::client_key::KeyInfo>,
    /// This computer's registration with the provider: the client id issued, its key's id,
    /// algorithm and creation time, when and where it was made (never the key).
    registration: Option<crate::auth::registration::Registration>,
    redirect_uri: String,
    /// Parameters sent with every search (`login --search-param`).
    search_params: Vec<String>,
    last_sync: Option<String>,
    /// "ok", "not-signed-in", "login-required", "unreachable", "offline", "error".
    check: String,
    problem: Option<String>,
    #[serde(skip)]
    exit: i32,
    #[serde(skip)]
    kind: Option<Kind>,
}

pub async fn run(ctx: &Ctx, args: &StatusArgs) -> Result<()> {
    let cfg = config::load(&ctx.settings.paths)?;
    // Nothing to report is not a failure (as with `profile list`): say how to begin.
    if cfg.profiles.is_empty() && ctx.settings.profile.is_none() {
        ctx.ui.info(
            "No profiles yet. Sign in with: fhirdl login --provider <preset> --client-id <id>  (see `fhirdl providers`)",
        );
        ctx.ui
            .json_out(&serde_json::json!({ "profiles": Vec::<ProfileStatus>::new() }));
        return Ok(());
    }
    let names: Vec<String> = if args.all
        || (ctx.settings.profile.is_none()
            && cfg.profiles.len() > 1
            && cfg.default_profile.is_none())
    {
        cfg.names()
    } else {
        vec![cfg.select(ctx.settings.profile.as_deref())?.0]
    };
    if names.is_empty() {
        cfg.select(None)?;
    }
    let mut statuses = Vec::new();
    for name in &names {
        let Some(profile) = cfg.profiles.get(name) else {
            continue;
        };
        let is_default = cfg.default_profile.as_deref() == Some(name.as_str());
        statuses.push(status_of(ctx, name, profile, is_default, args.offline).await);
    }
    for s in &statuses {
        ctx.ui.out(&render(s));
    }
    ctx.ui
        .json_out(&serde_json::json!({ "profiles": statuses }));
    let worst = statuses
        .iter()
        .filter_map(|s| s.kind)
        .max_by_key(|k| k.exit_code());
    let Some(kind) = worst else {
        return Ok(());
    };
    let what = match kind {
        Kind::LoginRequired => "a profile needs a new sign-in (see above)",
        Kind::Network => "a provider could not be reached (see above)",
        Kind::CredentialStore => "a credential store could not be used (see above)",
        _ => "status could not be determined for every profile (see above)",
    };
    Err(fail(kind, what))
}

impl ProfileStatus {
    /// Records a failure of `kind` (`None`: one without a documented exit code).
    fn fail(&mut self, kind: Option<Kind>) {
        let kind = kind.unwrap_or(Kind::Unexpected);
        self.kind = Some(kind);
        self.exit = kind.exit_code();
    }
}

async fn status_of(
    ctx: &Ctx,
    name: &str,
    profile: &Profile,
    is_default: bool,
    offline: bool,
) -> ProfileStatus {
    let store = ctx
        .settings
        .paths
        .credential_store(profile.credential_store);
    let mut s = ProfileStatus::saved(ctx, name, profile, is_default, store.describe());
    let creds = match store.load(name).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            s.check = "not-signed-in".into();
            s.problem = Some(format!(
                "not signed in: run `fhirdl login --profile {name}`"
            ));
            s.fail(Some(Kind::LoginRequired));
            return s;
        }
        Err(e) => {
            s.check = "error".into();
            s.fail(kind_of(&e));
            s.problem = Some(format!("{e:#}"));
            return s;
        }
    };
    let limits = RefreshLimits::of(profile, &ctx.settings.paths.data_dir);
    s.signed_in_with(&creds);
    s.refresh_idleness(&limits, &creds);
    if offline {
        s.check = "offline".into();
        return s;
    }
    if creds.patient.is_some() {
        s.checked_online(ctx, name, profile, creds, &limits).await;
    }
    s
}

impl ProfileStatus {
    /// What the saved profile and its export folder say, before the credentials are read.
    fn saved(
        ctx: &Ctx,
        name: &str,
        profile: &Profile,
        is_default: bool,
        credential_store: String,
    ) -> ProfileStatus {
        ProfileStatus {
            profile: name.to_string(),
            default: is_default,
            provider: profile.provider.clone(),
            practice: profile.practice.clone(),
            fhir_base: profile.fhir_base.clone(),
            fhir_version: profile
                .discovery
                .as_ref()
                .and_then(|d| d.fhir_version.as_deref())
                .map(FhirRelease::display),
            software: profile.discovery.as_ref().and_then(|d| d.software.clone()),
            signed_in: false,
            patient: None,
            patient_name: None,
            fhir_user: None,
            signed_in_as: None,
            encounter: None,
            launch_context: LaunchContext::default(),
            scope: None,
            access_token_expires_at: None,
            access_token_expires_in_seconds: None,
            refresh_token: false,
            refresh_token_since: None,
            refresh_token_idle_limit_hours: None,
            refresh_token_idle_seconds: None,
            refresh_token_unusable_after: None,
            refresh_token_warning: None,
            signed_in_at: None,
            credential_store,
            client_key: profile.client_key.clone(),
            registration: profile.registration.clone(),
            redirect_uri: profile.redirect.display(),
            search_params: profile.search_params.clone(),
            last_sync: last_sync(&profile.export_dir(name, &ctx.settings.paths)),
            check: "ok".into(),
            problem: None,
            exit: 0,
            kind: None,
        }
    }

    /// What the stored sign-in says.
    fn signed_in_with(&mut self, creds: &Credentials) {
        self.signed_in = true;
        self.patient = creds.patient.clone();
        self.fhir_user = creds.fhir_user.clone();
        self.signed_in_as = creds.proxy();
        self.encounter = creds.encounter.clone();
        self.launch_context = creds.launch.clone();
        self.scope = Some(creds.scope.clone());
        self.access_token_expires_at = creds.expires_at.map(unix_to_rfc3339);
        self.access_token_expires_in_seconds = creds.expires_in();
        self.refresh_token = creds.refresh_token.is_some();
        self.refresh_token_since = creds.refresh_token_issued_at.map(unix_to_rfc3339);
        self.signed_in_at = Some(unix_to_rfc3339(creds.signed_in_at));
    }

    /// The refresh token's idleness against the provider's limit, and a warning past half.
    fn refresh_idleness(&mut self, limits: &RefreshLimits, creds: &Credentials) {
        let now = now_unix();
        let idle = Idle::of(limits, creds, now);
        self.refresh_token_idle_limit_hours = limits.idle_hours;
        self.refresh_token_idle_seconds = creds.refresh_token_idle_since().map(|t| now - t);
        self.refresh_token_unusable_after = idle.map(|i| unix_to_rfc3339(i.unusable_at));
        self.refresh_token_warning = idle.and_then(|i| i.warning(&self.profile));
    }

    /// Reads the patient with the sign-in (refreshing it if it must): whether it still works,
    /// and the token as it is afterwards.
    async fn checked_online(
        &mut self,
        ctx: &Ctx,
        name: &str,
        profile: &Profile,
        creds: Credentials,
        limits: &RefreshLimits,
    ) {
        let pid = creds.patient.clone().unwrap_or_default();
        let result = async {
            let fhir = crate::connect::fhir_client(
                &ctx.http,
                &ctx.settings.paths,
                name,
                profile,
                Some(creds),
            )
            .await?;
            let patient = fhir.read("Patient", &pid).await?;
            let after = fhir.session().credentials().await;
            anyhow::Ok((patient, after))
        }
        .await;
        match result {
            Ok((patient, after)) => {
                self.patient_name = patient_name(&patient);
                // A refresh may have happened: show the current token.
                self.access_token_expires_at = after.expires_at.map(unix_to_rfc3339);
                self.access_token_expires_in_seconds = after.expires_in();
                self.refresh_token = after.refresh_token.is_some();
                self.refresh_token_since = after.refresh_token_issued_at.map(unix_to_rfc3339);
                self.refresh_idleness(limits, &after);
            }
            Err(e) => {
                self.fail(kind_of(&e));
                self.check = match self.kind {
                    Some(Kind::LoginRequired) => "login-required",
                    Some(Kind::Network) => "unreachable",
                    _ => "error",
                }
                .into();
                let hint = crate::exit::hint_of(&e)
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                self.problem = Some(format!("{e:#}{hint}"));
            }
        }
    }
}

/// The latest sync of the export in `dir`, in words: when, how much, what failed and what is
/// still not stored.
fn last_sync(dir: &std::path::Path) -> Option<String> {
    crate::sync::state::LastRun::load(dir).map(|r| {
        let mut text = format!(
            "{} ({} resources in {}",
            r.finished_at,
            r.resources,
            dir.display()
        );
        if !r.failed.is_empty() {
            text.push_str(&format!("; failed: {}", r.failed.join(", ")));
        }
        if !r.failed_documents.is_empty() {
            text.push_str(&format!(
                "; {} documents not saved",
                r.failed_documents.len()
            ));
        }
        if let Some(since) = r.outstanding.iter().map(|o| o.first_seen.as_str()).min() {
            text.push_str(&format!(
                "; {} not stored yet, since {since}: the next sync tries again",
                r.outstanding.len()
            ));
        }
        text.push(')');
        text
    })
}

fn render(s: &ProfileStatus) -> String {
    let mut out = format!(
        "Profile {}{}\n",
        s.profile,
        if s.default { " (default)" } else { "" }
    );
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<15}{v}\n"));
    if let Some(p) = &s.provider {
        line("provider:", p.clone());
    }
    if let Some(p) = &s.practice {
        let place = p
            .address
            .as_deref()
            .map(|a| format!(", {}", clean(a)))
            .unwrap_or_default();
        line("practice:", format!("{}{place}", clean(&p.name)));
    }
    let mut base = s.fhir_base.clone();
    if let Some(v) = &s.fhir_version {
        base.push_str(&format!(" (FHIR {v})"));
    }
    line("FHIR base:", base);
    if let Some(sw) = &s.software {
        line("server:", sw.clone());
    }
    if s.signed_in {
        let who = match (&s.patient, &s.patient_name) {
            (Some(id), Some(n)) => format!("{id} — {n}"),
            (Some(id), None) => id.clone(),
            _ => "unknown".into(),
        };
        line("patient:", who);
        if let Some(proxy) = &s.signed_in_as {
            line("signed in as:", format!("{proxy}, for this patient"));
        }
        line("scopes:", s.scope.clone().unwrap_or_default());
        for (k, v) in token_lines(s) {
            line(k, v);
        }
    } else {
        line("signed in:", "no".into());
    }
    line("credentials:", s.credential_store.clone());
    if let Some(k) = &s.client_key {
        line(
            "client key:",
            format!("{} ({}, made {})", k.kid, k.alg.name(), k.created_at),
        );
    }
    if let Some(r) = &s.registration {
        line(
            "registered:",
            format!(
                "this computer, as client id {} since {} (key {}, {}, made {}); new access tokens need no browser",
                crate::sanitize::clean(&r.client_id),
                r.registered_at,
                r.key.kid,
                r.key.alg.name(),
                r.key.created_at
            ),
        );
    }
    line("redirect URI:", s.redirect_uri.clone());
    if !s.search_params.is_empty() {
        line("search params:", s.search_params.join(" "));
    }
    line(
        "last sync:",
        s.last_sync.clone().unwrap_or_else(|| "never".into()),
    );
    if let Some(p) = &s.problem {
        line("problem:", p.clone());
    }
    out
}

/// The access and refresh token lines of a signed-in profile.
fn token_lines(s: &ProfileStatus) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    let mut line = |k: &'static str, v: String| lines.push((k, v));
    let expiry = match (
        &s.access_token_expires_at,
        s.access_token_expires_in_seconds,
    ) {
        (Some(at), Some(secs)) if secs > 0 => {
            format!("expires in {} ({at})", human_duration(secs))
        }
        (Some(at), Some(secs)) => format!(
            "expired {} ago ({at}){}",
            human_duration(-secs),
            if s.refresh_token {
                "; will be refreshed"
            } else if s.registration.is_some() {
                "; a new one is signed for by this computer's key"
            } else {
                ""
            }
        ),
        _ => "no expiry stated".into(),
    };
    line("access token:", expiry);
    let refresh = match (&s.refresh_token, &s.refresh_token_since) {
        (true, Some(since)) => {
            let age = crate::datetime::parse_rfc3339(since).map(|t| human_duration(now_unix() - t));
            format!(
                "held since {since}{}",
                age.map(|a| format!(" ({a} ago)")).unwrap_or_default()
            )
        }
        (true, None) => "held".into(),
        _ if s.registration.is_some() => "none needed (this computer is registered)".into(),
        _ => "none".into(),
    };
    line("refresh token:", refresh);
    if let (Some(after), Some(hours)) = (
        &s.refresh_token_unusable_after,
        s.refresh_token_idle_limit_hours,
    ) {
        line(
            "",
            format!("unusable if unused after {after} (this provider: {hours} h)"),
        );
    }
    if let Some(w) = &s.refresh_token_warning {
        line("warning:", w.clone());
    }
    lines
}
