//! `fhirdl doctor`: picks what to check (a profile or `--fhir-base`), runs [`crate::doctor`],
//! prints the table or the JSON document, writes the `--report`, and turns a failed check into
//! exit code 9.

use super::Ctx;
use crate::cli::DoctorArgs;
use crate::config;
use crate::doctor::{self, Target};
use crate::error::{Failure, Kind};
use crate::fhir_url::parse_base;
use anyhow::{Context, Result};
use url::Url;

pub async fn run(ctx: &Ctx, args: &DoctorArgs) -> Result<()> {
    let target = target(ctx, args)?;
    if args.report.is_some() {
        ctx.http.trace_sink().start_recording();
    }
    if !ctx.settings.json {
        ctx.ui.info(&format!(
            "Checking {}…",
            crate::http::redact_url(&target.base)
        ));
    }
    let checks = doctor::run(&ctx.http, &ctx.settings.paths, &target).await;
    let doc = doctor::to_json(&checks, &target);
    ctx.ui.out(&doctor::render(&checks, &target, ctx.ui.color));
    ctx.ui.json_out(&doc);
    if let Some(path) = &args.report {
        let report = serde_json::json!({
            "report": "fhirdl doctor",
            "generated_at": crate::datetime::now_rfc3339(),
            "versions": {
                "fhirdl": env!("CARGO_PKG_VERSION"),
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
                "fhir_server": checks.get("metadata").and_then(|c| c.figures.get("software")).cloned(),
                "fhir_version": checks.get("metadata").and_then(|c| c.figures.get("fhir_version")).cloned(),
            },
            "doctor": doc,
            "http_trace": ctx.http.trace_sink().recorded(),
            "privacy": "no tokens, secrets or record contents; patient ids appear only as hashed-<first 12 hex digits of SHA-256 of fhirdl:ID>",
        });
        let text = serde_json::to_vec_pretty(&report).context("cannot encode the report")?;
        crate::atomic::write_atomic(path, &text)
            .with_context(|| format!("cannot write the report {}", path.display()))?;
        ctx.ui.info(&format!(
            "Report written to {} (safe to attach to a support ticket)",
            path.display()
        ));
    }
    let failed = checks.failed();
    if failed.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = failed.iter().map(|c| c.title).collect();
    let mut failure = Failure::new(
        Kind::DoctorFailed,
        format!("{} check(s) failed: {}", failed.len(), names.join(", ")),
    );
    if let Some(h) = failed.iter().find_map(|c| c.hint.clone()) {
        failure = failure.hint(h);
    }
    Err(failure.into())
}

fn target(ctx: &Ctx, args: &DoctorArgs) -> Result<Target> {
    if let Some(raw) = &args.fhir_base {
        if ctx.settings.profile.is_some() {
            return Err(Failure::new(
                Kind::Usage,
                "give either --profile or --fhir-base, not both",
            )
            .hint("--profile checks a saved sign-in; --fhir-base checks a server before signing in")
            .into());
        }
        return Ok(Target {
            base: parse_base(raw)?,
            profile: None,
            offline_only: args.offline_checks_only,
        });
    }
    let cfg = config::load(&ctx.settings.paths)?;
    if cfg.profiles.is_empty() && ctx.settings.profile.is_none() {
        return Err(Failure::new(
            Kind::Usage,
            "no profile is saved yet: what should doctor check?",
        )
        .hint("give the server: fhirdl doctor --fhir-base https://fhir.example.org/r4")
        .into());
    }
    let (name, profile) = cfg.select(ctx.settings.profile.as_deref())?;
    let base = Url::parse(&profile.fhir_base).map_err(|e| {
        Failure::new(
            Kind::Usage,
            format!(
                "profile {name} has an invalid FHIR base '{}': {e}",
                profile.fhir_base
            ),
        )
    })?;
    Ok(Target {
        base,
        profile: Some((name, profile.clone())),
        offline_only: args.offline_checks_only,
    })
}
