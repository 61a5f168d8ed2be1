//! `fhirdl demo`: the whole job against the embedded sandbox, with no account and no internet.
//!
//! The demo keeps its own settings and file credential store under `<data dir>/demo` (or
//! `--dir`), so it never touches the user's real profiles or keyring.

use super::login::{login, print_report};
use super::sync::sync_profile;
use super::Ctx;
use crate::auth::login::Mode;
use crate::auth::store::StoreKind;
use crate::cli::DemoArgs;
use crate::config::{Paths, ProfileRequest};
use crate::directory::index::{Filters, Match};
use crate::directory::update::Wanted;
use crate::sync::Options;
use anyhow::{Context, Result};
use fhirdl_sandbox::browser::{sign_in, Consent};
use fhirdl_sandbox::{Sandbox, SandboxConfig};
use std::time::Duration;

pub const DEMO_PROFILE: &str = "demo";

pub async fn run(ctx: &Ctx, args: &DemoArgs) -> Result<()> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| ctx.settings.paths.data_dir.join("demo"));
    crate::atomic::create_private_dir(&dir)?;
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
    let practice = find_demo_practice(ctx, &demo, &sandbox).await?;
    let report = sign_in_demo(ctx, &demo, &sandbox, &practice).await?;
    // With --json the one document on stdout is the whole demo's, printed at the end.
    let human = !ctx.ui.json;
    if human {
        print_report(&demo, &report);
    }

    let mut cfg = crate::config::load(&demo.settings.paths)?;
    // The sandbox gets a new port each run; start the demo export afresh. The profile names
    // the folder, so `status`, `view` and `verify` of profile 'demo' find it.
    let export_dir = dir.join("export");
    if let Some(p) = cfg.profiles.get_mut(DEMO_PROFILE) {
        p.out_dir = Some(export_dir.clone());
    }
    cfg.save(&demo.settings.paths.config_file())?;
    let (name, profile) = cfg.select(Some(DEMO_PROFILE))?;
    if export_dir.exists() {
        std::fs::remove_dir_all(&export_dir)
            .with_context(|| format!("cannot clear {}", export_dir.display()))?;
    }
    let opts = Options {
        out: export_dir,
        pretty: false,
        ndjson: true,
        types: None,
        full: true,
        since: None,
        concurrency: crate::fhir::client::DEFAULT_IN_FLIGHT,
        concurrency_chosen: false,
        dry_run: false,
        attachments: true,
        wait: None,
        data_dir: Some(demo.settings.paths.data_dir.clone()),
        vendor: None,
        practice: profile.practice.as_ref().map(|p| p.name.clone()),
        reconcile_days: Some(crate::sync::RECONCILE_DAYS),
    };
    ctx.ui.info("\nFull export of the patient's record…");
    let full = sync_profile(&demo, &name, profile.clone(), &opts, None).await?;
    if human {
        crate::commands::sync::print_report(&demo, &full);
    }

    // Something changes at the provider; the next run fetches only that.
    let changed = touch_one_observation(&sandbox, &opts.out)?;
    ctx.ui.info(&format!(
        "\nThe provider updated {changed}; incremental sync…"
    ));
    let incremental = sync_profile(
        &demo,
        &name,
        profile.clone(),
        &Options {
            full: false,
            ..opts.clone()
        },
        None,
    )
    .await?;
    if human {
        crate::commands::sync::print_report(&demo, &incremental);
    }

    // The record as a page to read: built from the folder alone.
    let page = super::view::build(&demo, &opts.out, None)?;
    ctx.ui.json_out(&serde_json::json!({
        "practice": {"id": practice.id, "name": practice.listing.name, "fhir_base": practice.listing.fhir_base},
        "login": report,
        "full_sync": full,
        "incremental_sync": incremental,
        "dir": dir,
        "export": opts.out,
        "record_html": page.path,
    }));
    ctx.ui
        .info(&next_steps(&dir, &opts.out, &page.path, &changed));
    sandbox.shutdown().await;
    Ok(())
}

/// The words the demo types to find its practice (misspelt, as people do).
const DEMO_PRACTICE_WORDS: &str = "sunrize famly medicine";

/// Finds the sandbox's practice by name, as `fhirdl find` does: the sandbox's own published
/// directory (a SMART 2.2 Brands bundle) downloaded into the demo's index, then searched.
async fn find_demo_practice(ctx: &Ctx, demo: &Ctx, sandbox: &Sandbox) -> Result<Match> {
    let url = sandbox.origin().join("/directory/brands.json")?;
    ctx.ui.info(&format!(
        "Finding the practice by name in the sandbox's endpoint directory ({url})…"
    ));
    let wanted = [Wanted {
        url: url.to_string(),
        vendor: None,
    }];
    let data_dir = &demo.settings.paths.data_dir;
    crate::directory::update::update(&demo.http, data_dir, &wanted, false).await?;
    let index = super::find::open_index(demo)?;
    let found =
        crate::directory::search::find(&index, DEMO_PRACTICE_WORDS, &Filters::default(), 1)?;
    let m = found
        .into_iter()
        .next()
        .context("the sandbox's directory lists no practice")?;
    ctx.ui.info(&format!(
        "  \"{DEMO_PRACTICE_WORDS}\" → {} (id {}), FHIR base {}",
        m.listing.name, m.id, m.listing.fhir_base
    ));
    Ok(m)
}

/// Signs in to `sandbox` as its first test patient through the real browser flow (a scripted
/// browser types the password into the sandbox's own page), saving the demo's profile for the
/// practice found by name.
async fn sign_in_demo(
    ctx: &Ctx,
    demo: &Ctx,
    sandbox: &Sandbox,
    practice: &Match,
) -> Result<crate::commands::login::LoginReport> {
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
    let request = ProfileRequest {
        fhir_base: Some(practice.listing.fhir_base.clone()),
        practice: Some(super::practice::remembered(practice)),
        client_id: Some(sandbox.config().public_client_id.clone()),
        credential_store: Some(StoreKind::File),
        ..ProfileRequest::default()
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
    login(
        demo,
        &request,
        Duration::from_secs(60),
        Mode::Headless(browser),
    )
    .await
}

/// Where the demo left things and the exact commands that reach them. The demo's profile lives
/// in its own settings folder (never among the user's profiles), so the commands name it; its
/// sandbox stops with the demo, so the profile can be looked at but not synced again.
fn next_steps(
    dir: &std::path::Path,
    export: &std::path::Path,
    page: &std::path::Path,
    changed: &str,
) -> String {
    let quote = |p: &std::path::Path| {
        let text = p.display().to_string();
        match text.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
            true => format!("'{}'", text.replace('\'', "'\\''")),
            false => text,
        }
    };
    let folders = format!(
        "--config-dir {} --data-dir {}",
        quote(&dir.join("config")),
        quote(&dir.join("data"))
    );
    format!(
        "\nYour demo record is in {export} (one <Type>.ndjson per resource type, manifest.json).\n\
         Read it in a browser: {page}\n\
         \n\
         Look at it again (the sandbox stopped with the demo; these work offline):\n\
         \x20 fhirdl view --out {export} --open\n\
         \x20 fhirdl verify --out {export}\n\
         \x20 fhirdl history --out {export} {changed}    # both versions of what the provider changed\n\
         The demo's profile '{DEMO_PROFILE}' is kept apart from yours, with its settings and owner-only\n\
         credential file under {dir}:\n\
         \x20 fhirdl {folders} --profile {DEMO_PROFILE} status --offline\n\
         \x20 fhirdl {folders} find {DEMO_PRACTICE_WORDS}    # its practice, found by name\n\
         Run `fhirdl demo` again for a fresh sandbox and export.",
        export = quote(export),
        page = page.display(),
        dir = dir.display(),
    )
}

/// Amends one stored Observation on the sandbox; returns "Observation/<id>".
fn touch_one_observation(sandbox: &Sandbox, out: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(out.join("Observation.ndjson"))
        .context("the export has no Observations")?;
    let first = text
        .lines()
        .next()
        .context("the export has no Observations")?;
    let mut obs: serde_json::Value = serde_json::from_str(first)?;
    obs["status"] = serde_json::json!("amended");
    let id = obs["id"].as_str().unwrap_or_default().to_string();
    sandbox.set_resource(obs)?;
    Ok(format!("Observation/{id}"))
}
