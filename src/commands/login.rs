//! `fhirdl login`: discover the provider, sign in through the browser, keep the tokens, save the
//! profile.

use super::Ctx;
use crate::auth::client_key::ClientKey;
use crate::auth::discovery::discover;
use crate::auth::id_token::SignatureCheck;
use crate::auth::login::{sign_in, Mode, SignIn};
use crate::auth::scopes::default_scopes;
use crate::cli::LoginArgs;
use crate::config::{self, ProfileRequest};
use crate::datetime::unix_to_rfc3339;
use crate::error::{Failure, Kind};
use crate::fhir::client::patient_name;
use crate::fhir::version::FhirRelease;
use crate::fhir_url::parse_base;
use crate::secret::Secret;
use anyhow::{Context, Result};
use serde_json::json;

/// What a successful login did, for the caller's report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginReport {
    pub profile: String,
    pub fhir_base: String,
    pub fhir_version: Option<String>,
    pub patient: Option<String>,
    pub patient_name: Option<String>,
    /// Who signed in, when not the patient: "Pat Proxy (RelatedPerson)".
    pub signed_in_as: Option<String>,
    pub scope: String,
    pub expires_at: Option<String>,
    pub refresh_token: bool,
    pub credential_store: String,
    pub redirect_uri: String,
    /// How the id_token was checked, in words (`None`: the server sent none).
    pub id_token: Option<String>,
    /// This computer's registration with the provider, when it has one.
    pub registration: Option<crate::auth::registration::Registration>,
    pub warnings: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: &LoginArgs) -> Result<()> {
    let mode = if args.paste || args.redirect_uri.is_some() {
        Mode::Paste
    } else if args.no_browser {
        Mode::NoBrowser
    } else {
        Mode::Browser
    };
    let mut request = ProfileRequest::from(args);
    if let Some(practice) = &args.practice {
        let chosen = super::practice::choose(ctx, practice)?;
        request.fhir_base = Some(chosen.listing.fhir_base.clone());
        request.practice = Some(super::practice::remembered(&chosen));
        // The vendor's preset brings its sign-in rules (Epic: register this computer).
        if request.provider.is_none() {
            request.provider = chosen
                .vendor
                .as_deref()
                .and_then(crate::providers::for_vendor)
                .map(|p| p.name.to_owned());
        }
    }
    let report = login(ctx, &request, args.timeout, mode).await?;
    print_report(ctx, &report);
    Ok(())
}

pub fn print_report(ctx: &Ctx, r: &LoginReport) {
    let who = match (&r.patient_name, &r.patient) {
        (Some(n), Some(id)) => format!("{n} (Patient/{id})"),
        (None, Some(id)) => format!("Patient/{id}"),
        _ => "an unknown patient".into(),
    };
    let headline = match &r.signed_in_as {
        Some(proxy) => format!("Signed in as {proxy} for {who}"),
        None => format!("Signed in as {who}"),
    };
    ctx.ui
        .success(&format!("{headline}; saved as profile '{}'", r.profile));
    for w in &r.warnings {
        ctx.ui.warn(w);
    }
    ctx.ui.out(&format!(
        "profile:       {}\nFHIR base:     {}\npatient:       {}\nscopes:        {}\nid_token:      {}\ntoken expires: {}\nrefresh token: {}\ncredentials:   {}",
        r.profile,
        r.fhir_base,
        who,
        r.scope,
        r.id_token.as_deref().unwrap_or("none sent"),
        r.expires_at.as_deref().unwrap_or("not stated by the server"),
        match (&r.registration, r.refresh_token) {
            (Some(_), _) => "none needed: this computer is registered (stays signed in)",
            (None, true) => "held (stays signed in)",
            (None, false) => "none (sign in again when the token expires)",
        },
        r.credential_store
    ));
    if let Some(reg) = &r.registration {
        ctx.ui.out(&format!(
            "registered:    client id {} with key {} (RS384, kept in the credential store)",
            crate::sanitize::clean(&reg.client_id),
            reg.key.kid
        ));
    }
    ctx.ui
        .json_out(&serde_json::to_value(r).unwrap_or(json!({})));
}

impl From<&LoginArgs> for ProfileRequest {
    fn from(args: &LoginArgs) -> ProfileRequest {
        ProfileRequest {
            name: None,
            provider: args.provider.clone(),
            fhir_base: args.fhir_base.clone(),
            client_id: args.client_id.clone(),
            confidential: args.confidential,
            scope: args.scope.clone(),
            no_aud: args.no_aud,
            port: args.port,
            redirect_path: args.redirect_path.clone(),
            redirect_host: args.redirect_host,
            credential_store: args.credential_store,
            search_params: args.search_param.clone(),
            client_key: args.client_key.clone(),
            register: match (args.register, args.no_register) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            redirect_uri: args.redirect_uri.clone(),
            practice: None,
        }
    }
}

/// The whole login, usable by `demo` with its own mode: the profile `request` names (with
/// `--profile` from the settings), signed in through the browser within `timeout`.
pub async fn login(
    ctx: &Ctx,
    request: &ProfileRequest,
    timeout: std::time::Duration,
    mode: Mode,
) -> Result<LoginReport> {
    let ui = &ctx.ui;
    let mut cfg = config::load(&ctx.settings.paths)?;
    let request = ProfileRequest {
        name: ctx.settings.profile.clone(),
        ..request.clone()
    };
    let (name, mut profile) = cfg.profile_for_login(&request)?;
    let base = parse_base(&profile.fhir_base)?;

    // The credential store must work before the patient goes through the browser.
    let store = ctx
        .settings
        .paths
        .credential_store(profile.credential_store);
    store.probe().await?;
    let previous = crate::auth::unless_login_required(store.load(&name).await)?;

    let client_key =
        sign_in_key(&store, &name, &mut profile, request.client_key.as_deref()).await?;
    if ctx.settings.client_secret.is_some() {
        profile.confidential = true;
    }
    let client_secret = if profile.confidential && client_key.is_none() {
        Some(client_secret(
            ctx,
            previous.as_ref().and_then(|c| c.client_secret.clone()),
        )?)
    } else {
        None
    };

    // A registered redirect that is not the loopback listener comes back by pasting.
    let mode = match mode {
        Mode::Browser | Mode::NoBrowser if profile.redirect.uri.is_some() => Mode::Paste,
        other => other,
    };
    ui.info(&format!("Discovering how to sign in at {base}…"));
    let mut discovery = discovered(ctx, &base, &profile).await?;
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
            client_key,
            discovery: &discovery,
            scope,
            send_aud: profile.send_aud,
            redirect: profile.redirect.clone(),
            timeout,
            mode,
        },
    )
    .await?;

    if let Some(jwks) = &signed.fresh_jwks {
        discovery.jwks = Some(jwks.clone());
    }
    let mut warnings = signed.warnings.clone();
    let name = one_profile_per_patient(
        name,
        &mut profile,
        previous.as_ref(),
        &signed.credentials,
        &mut warnings,
    );
    // Tokens first, then the profile that points at them.
    store.save(&name, &signed.credentials).await?;
    profile.discovery = Some(discovery.clone());
    cfg.profiles.insert(name.clone(), profile.clone());
    cfg.remember_client_id(&profile);
    if cfg.default_profile.is_none() {
        cfg.default_profile = Some(name.clone());
    }
    crate::atomic::create_private_dir(&ctx.settings.paths.config_dir)?;
    cfg.save(&ctx.settings.paths.config_file())?;
    let registered = registration(ctx, &store, &name, &mut profile, &signed, &request).await;
    if profile.registration != cfg.profiles.get(&name).and_then(|p| p.registration.clone()) {
        cfg.profiles.insert(name.clone(), profile.clone());
        cfg.save(&ctx.settings.paths.config_file())?;
    }
    if profile.registration.is_some() {
        // Registered, this computer needs no refresh token to stay signed in.
        warnings.retain(|w| !w.starts_with(crate::auth::scopes::NO_OFFLINE_ACCESS));
    }
    match registered {
        Ok(Some(w)) => warnings.push(w),
        Ok(None) => {}
        Err(e) if request.register == Some(true) => return Err(e),
        Err(e) => warnings.push(format!(
            "{e:#} ({})",
            crate::exit::hint_of(&e).unwrap_or_default()
        )),
    }

    let creds = &signed.credentials;
    let name_of_patient = read_patient_name(ctx, &name, &profile, creds, &mut warnings).await?;
    Ok(LoginReport {
        profile: name,
        fhir_base: base.to_string(),
        fhir_version: discovery.fhir_version.as_deref().map(FhirRelease::display),
        patient: creds.patient.clone(),
        patient_name: name_of_patient,
        signed_in_as: creds.proxy(),
        scope: creds.scope.clone(),
        expires_at: creds.expires_at.map(unix_to_rfc3339),
        refresh_token: creds.refresh_token.is_some(),
        credential_store: store.describe(),
        redirect_uri: signed.redirect_uri,
        id_token: signed.id_token.as_ref().map(describe_id_token),
        registration: profile.registration.clone(),
        warnings,
    })
}

/// How to sign in at `base` (the SMART configuration or the CapabilityStatement). The statement
/// is cached so the first sync plans from it instead of reading it again (best effort: a cache
/// that cannot be written costs that sync one round trip); the id_token keys cached by the last
/// sign-in serve while the server names them.
async fn discovered(
    ctx: &Ctx,
    base: &url::Url,
    profile: &config::Profile,
) -> Result<crate::auth::discovery::Discovery> {
    let (mut discovery, metadata) = discover(&ctx.http, base).await?;
    if let Some(metadata) = &metadata {
        let paths = &ctx.settings.paths;
        let file = crate::sync::capabilities::for_server(&paths.data_dir, base.as_str());
        let _ = crate::sync::capabilities::save(&file, base.as_str(), metadata);
    }
    if let Some(old) = &profile.discovery {
        if old.jwks_uri == discovery.jwks_uri {
            discovery.jwks = old.jwks.clone();
        }
    }
    Ok(discovery)
}

/// One profile per patient: a proxy who signs in again for another patient gets a profile (and
/// an export folder) of its own instead of mixing two records. Returns the name to save under.
fn one_profile_per_patient(
    name: String,
    profile: &mut config::Profile,
    previous: Option<&crate::auth::credentials::Credentials>,
    signed: &crate::auth::credentials::Credentials,
    warnings: &mut Vec<String>,
) -> String {
    let new_patient = signed.patient.as_deref();
    let old_patient = previous.and_then(|c| c.patient.as_deref());
    match (new_patient, old_patient) {
        (Some(new), Some(old)) if new != old => {
            let other = per_patient_name(&name, new);
            warnings.push(format!(
                "profile '{name}' is for Patient/{old}; this sign-in is for Patient/{new}, so it is saved as profile '{other}' (use --profile {other} for it)"
            ));
            profile.out_dir = None;
            other
        }
        _ => name,
    }
}

/// Registers this computer after the sign-in when the profile asks for it (replacing an older
/// registration), or forgets the registration when it no longer does. `Ok(Some(w))`: a warning
/// to show; an error leaves the sign-in in place.
async fn registration(
    ctx: &Ctx,
    store: &crate::auth::store::CredentialStore,
    name: &str,
    profile: &mut config::Profile,
    signed: &crate::auth::login::SignedIn,
    request: &ProfileRequest,
) -> Result<Option<String>> {
    let wanted = profile.register && !profile.confidential && profile.client_key.is_none();
    if !wanted {
        forget_registration(ctx, store, name, profile).await;
        return Ok(None);
    }
    // Registration is how a public app without a refresh token stays signed in (Epic's
    // guide); a provider that gave one keeps the sign-in alive the usual way.
    if signed.credentials.refresh_token.is_some() {
        forget_registration(ctx, store, name, profile).await;
        return Ok(Some(
            "the provider gave a refresh token, which keeps this sign-in alive: this computer was not registered".to_owned(),
        ));
    }
    let Some(endpoint) = profile
        .discovery
        .as_ref()
        .and_then(|d| d.registration_endpoint.clone())
    else {
        forget_registration(ctx, store, name, profile).await;
        let why = "the provider offers no dynamic client registration, so this sign-in lasts as long as its access token (or its refresh token, when it gave one)";
        return match request.register {
            Some(true) => Err(Failure::new(Kind::LoginFailed, why)
                .hint(format!(
                    "sign in without it: fhirdl login --profile {name} --no-register"
                ))
                .into()),
            _ => Ok(Some(why.to_owned())),
        };
    };
    forget_registration(ctx, store, name, profile).await;
    let token_endpoint = profile
        .discovery
        .as_ref()
        .map(|d| d.token_endpoint.as_str())
        .unwrap_or_default();
    if !crate::auth::registration::may_receive_access_token(
        &endpoint,
        &profile.fhir_base,
        token_endpoint,
    ) {
        return Err(Failure::new(
            Kind::LoginFailed,
            format!(
                "the provider's registration endpoint {} is not at its FHIR server's or token endpoint's address: fhirdl does not send your access token there",
                crate::sanitize::clean(&endpoint)
            ),
        )
        .hint(format!("report this to the provider; sign in without registering: fhirdl login --profile {name} --no-register"))
        .into());
    }
    ctx.ui
        .info("Registering this computer with the provider, so later runs need no browser…");
    let (registration, secrets) = crate::auth::registration::register(
        &ctx.http,
        &crate::auth::registration::Request {
            profile: name,
            endpoint: &endpoint,
            access_token: &signed.credentials.access_token,
            software_id: &profile.client_id,
        },
    )
    .await?;
    // The secrets first, then the profile that points at them.
    store.save_registration(name, &secrets).await?;
    profile.registration = Some(registration);
    Ok(None)
}

/// Deletes the profile's registration at the provider where it can (RFC 7592) and forgets it
/// here. Best effort: a registration that cannot be deleted there only lingers unused.
pub async fn forget_registration(
    ctx: &Ctx,
    store: &crate::auth::store::CredentialStore,
    name: &str,
    profile: &mut config::Profile,
) -> Option<String> {
    let registration = profile.registration.take()?;
    let secrets = store.load_registration(name).await.ok().flatten();
    let warning = match &secrets {
        Some(s) => match crate::auth::registration::unregister(&ctx.http, &registration, s).await {
            Ok(true) => None,
            Ok(false) => Some(format!("the provider offers no way to delete this computer's registration (client id {}); it stays there unused", registration.client_id)),
            Err(e) => Some(format!("could not delete this computer's registration at the provider: {e:#}")),
        },
        None => None,
    };
    let _ = store.delete_registration(name).await;
    if let Some(w) = &warning {
        ctx.ui.warn(w);
    }
    warning
}

/// The signed-in patient's name, read with the new sign-in (a failed read is a warning).
async fn read_patient_name(
    ctx: &Ctx,
    name: &str,
    profile: &config::Profile,
    creds: &crate::auth::credentials::Credentials,
    warnings: &mut Vec<String>,
) -> Result<Option<String>> {
    let Some(pid) = &creds.patient else {
        return Ok(None);
    };
    let fhir = crate::connect::fhir_client(
        &ctx.http,
        &ctx.settings.paths,
        name,
        profile,
        Some(creds.clone()),
    )
    .await?;
    Ok(match fhir.read("Patient", pid).await {
        Ok(p) => patient_name(&p),
        Err(e) => {
            warnings.push(format!(
                "signed in, but reading your Patient record failed: {e}"
            ));
            None
        }
    })
}

/// `kids` + patient `123` → `kids-123` (FHIR ids fit profile names once cut to length).
fn per_patient_name(name: &str, patient: &str) -> String {
    let id: String = patient
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        .take(64usize.saturating_sub(name.len() + 1))
        .collect();
    format!("{name}-{id}")
}

fn describe_id_token(check: &SignatureCheck) -> String {
    match check {
        SignatureCheck::Verified { alg, kid } => format!(
            "validated (signature {alg}{}, issuer, audience, expiry, nonce)",
            kid.as_deref()
                .map(|k| format!(" with key {}", crate::sanitize::clean(k)))
                .unwrap_or_default()
        ),
        SignatureCheck::NoJwksUri => {
            "validated (issuer, audience, expiry, nonce; the server publishes no keys to check its signature)".into()
        }
    }
}

/// The `private_key_jwt` key of this sign-in: the one `--client-key` names (imported into the
/// credential store now), else the one the store holds for the profile (`fhirdl key create`).
async fn sign_in_key(
    store: &crate::auth::store::CredentialStore,
    name: &str,
    profile: &mut config::Profile,
    file: Option<&std::path::Path>,
) -> Result<Option<ClientKey>> {
    let key = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the client key {}", path.display()))?;
            let key = ClientKey::import(&text, crate::datetime::now_rfc3339()).map_err(|e| {
                Failure::new(
                    Kind::Usage,
                    format!("cannot use the client key in {}: {e:#}", path.display()),
                )
                .hint("give a PEM PKCS#8 private key (-----BEGIN PRIVATE KEY-----) or a JWK with its private members, P-384 or RSA")
            })?;
            store.save_client_key(name, &key).await?;
            Some(key)
        }
        None => store.load_client_key(name).await?,
    };
    profile.client_key = key.as_ref().map(|k| k.info.clone());
    Ok(key)
}

/// The confidential client's secret: FHIRDL_CLIENT_SECRET, the one kept from the last sign-in,
/// or a hidden prompt on a terminal. Never from argv.
fn client_secret(ctx: &Ctx, stored: Option<Secret>) -> Result<Secret> {
    if let Some(s) = &ctx.settings.client_secret {
        return Ok(s.clone());
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
