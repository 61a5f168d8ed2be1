//! `fhirdl login`: discover the provider, sign in through the browser, keep the tokens, save the
//! profile.

use super::Ctx;
use crate::auth::discovery::{discover, parse_fhir_base};
use crate::auth::login::{sign_in, Mode, SignIn};
use crate::auth::loopback::RedirectSettings;
use crate::auth::scopes::default_scopes;
use crate::auth::store::StoreKind;
use crate::cli::LoginArgs;
use crate::config::{self, validate_profile_name, Profile};
use crate::datetime::unix_to_rfc3339;
use crate::error::{Failure, Kind};
use crate::fhir::client::patient_name;
use crate::fhir::version::FhirRelease;
use crate::providers;
use crate::secret::Secret;
use anyhow::Result;
use serde_json::json;

/// Client id used with the public SMART sandbox preset when none is given (it accepts any).
const SMART_SANDBOX_CLIENT_ID: &str = "fhirdl";

/// What a successful login did, for the caller's report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginReport {
    pub profile: String,
    pub fhir_base: String,
    pub fhir_version: Option<String>,
    pub patient: Option<String>,
    pub patient_name: Option<String>,
    pub scope: String,
    pub expires_at: Option<String>,
    pub refresh_token: bool,
    pub credential_store: String,
    pub redirect_uri: String,
    pub warnings: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: &LoginArgs) -> Result<()> {
    let mode = if args.paste {
        Mode::Paste
    } else if args.no_browser {
        Mode::NoBrowser
    } else {
        Mode::Browser
    };
    let report = login(ctx, args, mode).await?;
    print_report(ctx, &report);
    Ok(())
}

pub fn print_report(ctx: &Ctx, r: &LoginReport) {
    let who = match (&r.patient_name, &r.patient) {
        (Some(n), Some(id)) => format!("{n} (Patient/{id})"),
        (None, Some(id)) => format!("Patient/{id}"),
        _ => "an unknown patient".into(),
    };
    ctx.ui.success(&format!(
        "Signed in as {who}; saved as profile '{}'",
        r.profile
    ));
    for w in &r.warnings {
        ctx.ui.warn(w);
    }
    ctx.ui.out(&format!(
        "profile:       {}\nFHIR base:     {}\npatient:       {}\nscopes:        {}\ntoken expires: {}\nrefresh token: {}\ncredentials:   {}",
        r.profile,
        r.fhir_base,
        who,
        r.scope,
        r.expires_at.as_deref().unwrap_or("not stated by the server"),
        if r.refresh_token { "held (stays signed in)" } else { "none (sign in again when the token expires)" },
        r.credential_store
    ));
    ctx.ui
        .json_out(&serde_json::to_value(r).unwrap_or(json!({})));
}

/// The whole login, usable by `demo` with its own mode.
pub async fn login(ctx: &Ctx, args: &LoginArgs, mode: Mode) -> Result<LoginReport> {
    let ui = &ctx.ui;
    let mut cfg = config::load(&ctx.settings.paths)?;
    let preset = args.provider.as_deref().and_then(providers::find);
    let explicit_base = args.fhir_base.as_deref().map(parse_fhir_base).transpose()?;

    // Which profile: --profile, else the preset's name or the server's host, else the saved one.
    let name = match (&ctx.settings.profile, preset, &explicit_base) {
        (Some(n), _, _) => n.clone(),
        (None, Some(p), _) => p.name.to_string(),
        (None, None, Some(base)) => base.host_str().unwrap_or("fhir").to_string(),
        (None, None, None) => cfg
            .select(None)
            .map_err(|e| {
                if crate::error::exit_code(&e) == Kind::LoginRequired.exit_code() {
                    Failure::new(Kind::Usage, "which provider? none is saved yet")
                        .hint("give --provider <preset> (see `fhirdl providers`) or --fhir-base URL, with --client-id")
                        .into()
                } else {
                    e
                }
            })?
            .0,
    };
    validate_profile_name(&name)?;
    let existing = cfg.profiles.get(&name).cloned();
    let mut profile = match existing.clone() {
        Some(p) => p,
        None => {
            let base = match (&explicit_base, preset) {
                (Some(b), _) => b.to_string(),
                (None, Some(p)) => p.fhir_base.to_string(),
                (None, None) => {
                    return Err(Failure::new(Kind::Usage, format!("profile '{name}' does not exist yet: which provider?"))
                        .hint("give --provider <preset> (see `fhirdl providers`) or --fhir-base URL, with --client-id")
                        .into())
                }
            };
            let client_id = match (&args.client_id, preset) {
                (Some(c), _) => c.clone(),
                (None, Some(p)) if p.name == "smart-sandbox" => SMART_SANDBOX_CLIENT_ID.to_string(),
                _ => {
                    return Err(Failure::new(Kind::Usage, "--client-id is required for a new profile")
                        .hint("use the client id of your app registration with this provider (or set FHIRDL_CLIENT_ID)")
                        .into())
                }
            };
            Profile {
                provider: preset.map(|p| p.name.to_string()),
                fhir_base: base,
                client_id,
                confidential: preset.is_some_and(|p| p.confidential),
                scope: None,
                send_aud: preset.is_none_or(|p| p.send_aud),
                redirect: RedirectSettings::default(),
                credential_store: StoreKind::Keyring,
                out_dir: None,
                discovery: None,
            }
        }
    };
    // Flags given now override what the profile remembers.
    if existing.is_some() {
        if let Some(p) = preset {
            profile.provider = Some(p.name.to_string());
            if explicit_base.is_none() {
                profile.fhir_base = p.fhir_base.to_string();
            }
        }
        if let Some(b) = &explicit_base {
            profile.fhir_base = b.to_string();
        }
        if let Some(c) = &args.client_id {
            profile.client_id = c.clone();
        }
    }
    if args.confidential {
        profile.confidential = true;
    }
    if args.scope.is_some() {
        profile.scope = args.scope.clone();
    }
    if args.no_aud {
        profile.send_aud = false;
    }
    if let Some(port) = args.port {
        profile.redirect.port = port;
    }
    if let Some(path) = &args.redirect_path {
        profile.redirect.path = path.clone();
    }
    if let Some(host) = args.redirect_host {
        profile.redirect.host = host;
    }
    if let Some(store) = args.credential_store {
        profile.credential_store = store;
    }
    let base = parse_fhir_base(&profile.fhir_base)?;
    profile.fhir_base = base.to_string();

    // The credential store must work before the patient goes through the browser.
    let store = ctx
        .settings
        .paths
        .credential_store(profile.credential_store);
    store.probe().await?;
    let previous = match store.load(&name).await {
        Ok(c) => c,
        Err(e) if crate::error::exit_code(&e) == Kind::LoginRequired.exit_code() => None,
        Err(e) => return Err(e),
    };

    let env_secret = std::env::var("FHIRDL_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.is_empty());
    if env_secret.is_some() {
        profile.confidential = true;
    }
    let client_secret = if profile.confidential {
        Some(client_secret(
            ctx,
            env_secret,
            previous.as_ref().and_then(|c| c.client_secret.clone()),
        )?)
    } else {
        None
    };

    ui.info(&format!("Discovering how to sign in at {base}…"));
    let discovery = discover(&ctx.http, &base).await?;
    let scope = profile
        .scope
        .clone()
        .unwrap_or_else(|| default_scopes(&discovery));
    let signed = sign_in(
        &ctx.http,
        ui.as_ref(),
        SignIn {
            profile_name: &name,
            fhir_base: &base,
            client_id: &profile.client_id,
            client_secret,
            discovery: &discovery,
            scope,
            send_aud: profile.send_aud,
            redirect: profile.redirect.clone(),
            timeout: args.timeout,
            mode,
        },
    )
    .await?;

    // Tokens first, then the profile that points at them.
    store.save(&name, &signed.credentials).await?;
    profile.discovery = Some(discovery.clone());
    cfg.profiles.insert(name.clone(), profile.clone());
    if cfg.default_profile.is_none() {
        cfg.default_profile = Some(name.clone());
    }
    crate::atomic::create_private_dir(&ctx.settings.paths.config_dir)?;
    cfg.save(&ctx.settings.paths.config_file())?;

    let creds = &signed.credentials;
    let mut warnings = signed.warnings.clone();
    let mut name_of_patient = None;
    if let Some(pid) = &creds.patient {
        let fhir = crate::connect::fhir_client(
            &ctx.http,
            &ctx.settings.paths,
            &name,
            &profile,
            Some(creds.clone()),
        )
        .await?;
        match fhir.read("Patient", pid).await {
            Ok(p) => name_of_patient = patient_name(&p),
            Err(e) => warnings.push(format!(
                "signed in, but reading your Patient record failed: {e}"
            )),
        }
    }
    Ok(LoginReport {
        profile: name,
        fhir_base: base.to_string(),
        fhir_version: discovery.fhir_version.as_deref().map(FhirRelease::display),
        patient: creds.patient.clone(),
        patient_name: name_of_patient,
        scope: creds.scope.clone(),
        expires_at: creds.expires_at.map(unix_to_rfc3339),
        refresh_token: creds.refresh_token.is_some(),
        credential_store: store.describe(),
        redirect_uri: signed.redirect_uri,
        warnings,
    })
}

/// The confidential client's secret: FHIRDL_CLIENT_SECRET, the one kept from the last sign-in,
/// or a hidden prompt on a terminal. Never from argv.
fn client_secret(ctx: &Ctx, env: Option<String>, stored: Option<Secret>) -> Result<Secret> {
    if let Some(s) = env {
        return Ok(Secret::new(s));
    }
    if let Some(s) = stored {
        return Ok(s);
    }
    if !ctx.settings.interactive {
        return Err(Failure::new(Kind::Usage, "this provider needs the app's client secret, and there is no terminal to ask for it")
            .hint("set FHIRDL_CLIENT_SECRET in the environment (it is never accepted as a command-line argument)")
            .into());
    }
    let s = rpassword::prompt_password("Client secret (input hidden): ")
        .map_err(|e| anyhow::anyhow!("cannot read the client secret: {e}"))?;
    let s = s.trim().to_string();
    if s.is_empty() {
        return Err(Failure::new(Kind::Usage, "no client secret was entered").into());
    }
    Ok(Secret::new(s))
}
