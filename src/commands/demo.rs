//! `fhirdl demo`: the whole job against the embedded sandbox, with no account and no internet.
//!
//! The demo keeps its own settings and file credential store under `<data dir>/demo` (or
//! `--dir`), so it never touches the user's real profiles or keyring.

use super::login::{login, print_report};
use super::Ctx;
use crate::auth::login::Mode;
use crate::cli::{DemoArgs, LoginArgs, StoreKind};
use crate::sandbox::browser::{sign_in, Consent};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::settings::Paths;
use anyhow::{Context, Result};
use std::time::Duration;

pub const DEMO_PROFILE: &str = "demo";

pub async fn run(ctx: &Ctx, args: &DemoArgs) -> Result<()> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| ctx.settings.paths.data_dir.join("demo"));
    crate::fsutil::create_private_dir(&dir)?;
    let paths = Paths {
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
    };
    let mut demo = ctx.with_paths(paths);
    demo.settings.profile = Some(DEMO_PROFILE.to_string());

    ctx.ui
        .info("Starting the embedded SMART on FHIR sandbox (synthetic patient, loopback only)…");
    let sandbox = Sandbox::start(SandboxConfig {
        auto_login: Some("alice".into()),
        ..SandboxConfig::default()
    })
    .await
    .context("cannot start the embedded sandbox")?;
    let user = sandbox
        .users()
        .into_iter()
        .next()
        .context("the sandbox has no users")?;
    ctx.ui.info(&format!(
        "Sandbox at {}; signing in as its test patient '{}' through the real browser flow…",
        sandbox.fhir_base(),
        user.username
    ));

    let login_args = LoginArgs {
        fhir_base: Some(sandbox.fhir_base().to_string()),
        client_id: Some(sandbox.config().public_client_id.clone()),
        credential_store: Some(StoreKind::File),
        timeout: Duration::from_secs(60),
        ..LoginArgs::default()
    };
    let (username, password) = (user.username.clone(), user.password.clone());
    let browser: crate::auth::login::HeadlessBrowser = Box::new(move |url| {
        Box::pin(async move {
            let outcome = sign_in(&url, &username, &password, Consent::Allow).await?;
            anyhow::ensure!(
                outcome.status < 400,
                "the sign-in page answered HTTP {}",
                outcome.status
            );
            Ok(())
        })
    });
    let report = login(&demo, &login_args, Mode::Headless(browser)).await?;
    print_report(&demo, &report);
    ctx.ui.info(&format!(
        "Demo files (settings and the owner-only credential file) are in {}",
        dir.display()
    ));
    sandbox.shutdown().await;
    Ok(())
}
