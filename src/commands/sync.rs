//! `fhirdl sync`: bring the patient's record up to date in the export folder.

use super::Ctx;
use crate::auth::session::Session;
use crate::auth::store::CredentialStore;
use crate::cli::{SyncArgs, SyncFormat};
use crate::config;
use crate::error::{Failure, Kind};
use crate::fhir::client::FhirClient;
use crate::sync::{self, Options, Report};
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;

pub async fn run(ctx: &Ctx, args: &SyncArgs) -> Result<()> {
    if args.all_profiles {
        return run_all(ctx, args).await;
    }
    let mut cfg = config::load(&ctx.settings)?;
    let (name, _) = cfg.select(ctx.settings.profile.as_deref())?;
    let report = run_one(ctx, &mut cfg, &name, args).await?;
    print_report(ctx, &report);
    ctx.ui
        .json_out(&serde_json::to_value(&report).unwrap_or_default());
    partial_failure(&report)
}

/// `--all-profiles`: each profile in turn; one summary; the worst exit code.
async fn run_all(ctx: &Ctx, args: &SyncArgs) -> Result<()> {
    let mut cfg = config::load(&ctx.settings)?;
    let names = cfg.names();
    if names.is_empty() {
        cfg.select(None)?;
    }
    let mut results = Vec::new();
    let mut worst: Option<anyhow::Error> = None;
    for name in names {
        ctx.ui.info(&format!("== profile {name}"));
        let outcome = match run_one(ctx, &mut cfg, &name, args).await {
            Ok(report) => {
                print_report(ctx, &report);
                let json = serde_json::json!({"profile": name, "ok": report.failed().is_empty(), "report": report});
                partial_failure(&report).map(|_| json)
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(json) => results.push(json),
            Err(e) => {
                ctx.ui.error(&e);
                results.push(serde_json::json!({
                    "profile": name, "ok": false, "exit_code": crate::error::exit_code(&e), "error": format!("{e:#}"),
                }));
                if worst
                    .as_ref()
                    .is_none_or(|w| crate::error::exit_code(&e) > crate::error::exit_code(w))
                {
                    worst = Some(e);
                }
            }
        }
    }
    ctx.ui.json_out(&serde_json::json!({ "profiles": results }));
    match worst {
        None => Ok(()),
        Some(e) => {
            let code_kind = crate::error::failure_of(&e)
                .map(|f| f.kind)
                .unwrap_or(Kind::Partial);
            Err(Failure::new(
                code_kind,
                "some profiles did not sync completely (see above)",
            )
            .into())
        }
    }
}

fn partial_failure(report: &Report) -> Result<()> {
    let failed = report.failed();
    if failed.is_empty() {
        return Ok(());
    }
    // A type that could not be saved because the folder cannot be written (disk full,
    // read-only…) is not a server's fault: say so, with its own exit code.
    let storage = report.types.iter().find_map(|t| {
        t.reason
            .as_deref()
            .filter(|r| t.status == "failed" && crate::error::mentions_storage_error(r))
    });
    if let Some(reason) = storage {
        return Err(Failure::new(
            Kind::Storage,
            format!(
                "{} of {} types could not be saved ({}): {reason}",
                failed.len(),
                report.types.len(),
                failed.join(", ")
            ),
        )
        .hint(crate::error::STORAGE_HINT)
        .into());
    }
    Err(Failure::new(
        Kind::Partial,
        format!(
            "{} of {} types failed: {}",
            failed.len(),
            report.types.len(),
            failed.join(", ")
        ),
    )
    .hint("the other types were saved; run `fhirdl sync` again later (add -v to see each request)")
    .into())
}

async fn run_one(
    ctx: &Ctx,
    cfg: &mut config::ConfigFile,
    name: &str,
    args: &SyncArgs,
) -> Result<Report> {
    let Some(mut profile) = cfg.profiles.get(name).cloned() else {
        return Err(Failure::new(Kind::Usage, format!("no profile named '{name}'")).into());
    };
    let out = match &args.out {
        Some(dir) => absolute(dir)?,
        None => profile
            .out_dir
            .clone()
            .unwrap_or_else(|| ctx.settings.paths.data_dir.join("exports").join(name)),
    };
    if args.out.is_some() && profile.out_dir.as_ref() != Some(&out) && !args.dry_run {
        profile.out_dir = Some(out.clone());
        cfg.profiles.insert(name.to_string(), profile.clone());
        cfg.save(&ctx.settings.paths.config_file())?;
    }
    let opts = Options {
        out,
        pretty: matches!(args.format, SyncFormat::Json | SyncFormat::Both),
        ndjson: true,
        types: args.types.clone(),
        full: args.full,
        since: args.since.clone(),
        concurrency: usize::from(args.concurrency),
        dry_run: args.dry_run,
        attachments: !args.no_attachments,
        wait: args.wait,
    };
    // The preset's published limit applies unless the user sets one.
    let preset_rate = profile
        .provider
        .as_deref()
        .and_then(crate::providers::find)
        .and_then(|p| p.max_requests_per_minute)
        .map(|n| f64::from(n) / 60.0);
    let report = sync_profile(ctx, name, profile, &opts, args.max_rate.or(preset_rate)).await?;
    if args.view {
        super::view::build(ctx, &opts.out, None)?;
    }
    Ok(report)
}

/// Syncs one saved profile (also used by `demo`).
pub async fn sync_profile(
    ctx: &Ctx,
    name: &str,
    profile: config::Profile,
    opts: &Options,
    max_rate: Option<f64>,
) -> Result<Report> {
    let store = CredentialStore::new(profile.credential_store, &ctx.settings.paths);
    let base = crate::auth::discovery::parse_fhir_base(&profile.fhir_base)?;
    let session = Session::open(ctx.http.clone(), store, name, profile).await?;
    let patient = session.credentials().await.patient.ok_or_else(|| {
        Failure::login_required(
            name,
            format!("the sign-in of profile '{name}' names no patient"),
        )
    })?;
    let fhir = FhirClient::new(ctx.http.clone(), base, Arc::new(session))
        .with_rate_limit(max_rate)
        .with_concurrency(opts.concurrency);
    let report = sync::sync(fhir, &patient, opts, &ctx.ui).await?;
    if !opts.dry_run {
        crate::folder::readme::write(&opts.out)?;
    }
    Ok(report)
}

pub fn print_report(ctx: &Ctx, r: &Report) {
    let mut text = format!(
        "{:<24} {:>8} {:>6} {:>8} {:>10} {:>8} {:>8}  note\n",
        "type", "fetched", "new", "updated", "unchanged", "removed", "stored"
    );
    for t in &r.types {
        let note = match t.status.as_str() {
            "skipped" => format!("skipped: {}", t.reason.as_deref().unwrap_or("")),
            "failed" => format!("FAILED: {}", t.reason.as_deref().unwrap_or("")),
            _ => t.warnings.join("; "),
        };
        text.push_str(&format!(
            "{:<24} {:>8} {:>6} {:>8} {:>10} {:>8} {:>8}  {note}\n",
            t.resource_type, t.fetched, t.new, t.updated, t.unchanged, t.removed, t.stored
        ));
    }
    let stored: usize = r.types.iter().map(|t| t.stored).sum();
    for w in &r.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    let a = &r.attachments;
    if a.downloaded + a.decoded + a.already_present + a.failed > 0 {
        text.push_str(&format!(
            "attachments: {} downloaded, {} decoded, {} already present, {} failed\n",
            a.downloaded, a.decoded, a.already_present, a.failed
        ));
        for w in &a.warnings {
            text.push_str(&format!("warning: {w}\n"));
        }
    }
    text.push_str(&format!(
        "\n{} resources in {} ({} requests){}",
        stored,
        r.out.display(),
        r.requests,
        if r.dry_run {
            " — dry run, nothing written"
        } else {
            ""
        }
    ));
    ctx.ui.out(&text);
}

fn absolute(dir: &std::path::Path) -> Result<PathBuf> {
    if dir.is_absolute() {
        Ok(dir.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(dir))
    }
}
