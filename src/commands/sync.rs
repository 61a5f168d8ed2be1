//! `fhirdl sync`: bring the patient's record up to date in the export folder.

use super::Ctx;
use crate::cli::{SyncArgs, SyncFormat};
use crate::config;
use crate::error::{Failure, Kind};
use crate::sync::{self, Options, Report, TypeStatus};
use anyhow::Result;

pub async fn run(ctx: &Ctx, args: &SyncArgs) -> Result<()> {
    if args.all_profiles {
        return run_all(ctx, args).await;
    }
    let mut cfg = config::load(&ctx.settings.paths)?;
    let (name, _) = cfg.select(ctx.settings.profile.as_deref())?;
    let report = run_one(ctx, &mut cfg, &name, args).await?;
    print_report(ctx, &report);
    let mut doc = serde_json::to_value(&report).unwrap_or_default();
    let outcome = match args.verify {
        true => super::verify::after_sync(ctx, &report.out, &mut doc, partial_failure(&report)),
        false => partial_failure(&report),
    };
    ctx.ui.json_out(&doc);
    outcome
}

/// `--all-profiles`: each profile in turn; one summary; the worst exit code.
async fn run_all(ctx: &Ctx, args: &SyncArgs) -> Result<()> {
    let mut cfg = config::load(&ctx.settings.paths)?;
    let names = cfg.names();
    if names.is_empty() {
        cfg.select(None)?;
    }
    let mut results = Vec::new();
    let mut worst: Option<anyhow::Error> = None;
    // Ctrl-C at any point stops here: a profile that was syncing stops cleanly, the ones after
    // it are not started.
    let interrupt = crate::interrupt::Interrupt::listen()?;
    let mut left: Vec<String> = Vec::new();
    for name in names {
        if interrupt.is_set() {
            left.push(name);
            continue;
        }
        ctx.ui.info(&format!("== profile {name}"));
        let outcome = match run_one(ctx, &mut cfg, &name, args).await {
            Ok(report) => {
                print_report(ctx, &report);
                let mut json = serde_json::json!({"profile": name, "ok": report.is_complete(), "report": report});
                match args.verify {
                    true => super::verify::after_sync(
                        ctx,
                        &report.out,
                        &mut json["report"],
                        partial_failure(&report),
                    ),
                    false => partial_failure(&report),
                }
                .map(|_| json)
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(json) => results.push(json),
            Err(e) => {
                ctx.ui.error(&e);
                results.push(serde_json::json!({
                    "profile": name, "ok": false, "exit_code": crate::exit::exit_code(&e), "error": format!("{e:#}"),
                }));
                if worst
                    .as_ref()
                    .is_none_or(|w| crate::exit::exit_code(&e) > crate::exit::exit_code(w))
                {
                    worst = Some(e);
                }
            }
        }
    }
    for name in &left {
        results.push(serde_json::json!({
            "profile": name, "ok": false, "exit_code": crate::exit::exit_code(&interrupted(&left)),
            "error": "not synced: the command was interrupted before this profile",
        }));
    }
    ctx.ui.json_out(&serde_json::json!({ "profiles": results }));
    if interrupt.is_set() {
        return Err(interrupted(&left));
    }
    match worst {
        None => Ok(()),
        Some(e) => {
            let code_kind = crate::exit::kind_of(&e).unwrap_or(Kind::Unexpected);
            Err(Failure::new(
                code_kind,
                "some profiles did not sync completely (see above)",
            )
            .into())
        }
    }
}

/// The error of `--all-profiles` stopped by Ctrl-C, naming the profiles it did not start.
fn interrupted(left: &[String]) -> anyhow::Error {
    let message = match left {
        [] => "sync interrupted".to_string(),
        _ => format!("sync interrupted; not started: {}", left.join(", ")),
    };
    Failure::new(Kind::Interrupted, message)
        .hint("run `fhirdl sync --all-profiles` again to finish; each profile continues where it stopped")
        .into()
}

/// A run that did not save everything ends with its typed error: a disk that cannot be
/// written (exit 10), or types and documents that failed (exit 3), each named.
fn partial_failure(report: &Report) -> Result<()> {
    let failed = report.failed();
    if let Some(t) = report.storage_failure() {
        return Err(sync::Error::Storage {
            summary: format!(
                "{} of {} types could not be saved ({}): {}",
                failed.len(),
                report.types.len(),
                failed.join(", "),
                t.reason.as_deref().unwrap_or_default()
            ),
        }
        .into());
    }
    if !failed.is_empty() {
        return Err(sync::Error::Partial {
            summary: format!(
                "{} of {} types failed: {}",
                failed.len(),
                report.types.len(),
                failed.join(", ")
            ),
            hint: failed_types_hint(report),
        }
        .into());
    }
    dropped_resources(report)?;
    missing_documents(report)?;
    carried_over(report)?;
    incomplete_types(report)
}

/// What to do about failed types: a server that names a search parameter it wants on every
/// search (athenahealth's `ah-practice`) is answered with the profile setting that sends it.
fn failed_types_hint(report: &Report) -> String {
    let reasons = report.types.iter().filter_map(|t| t.reason.as_deref());
    match reasons.filter_map(required_search_param).next() {
        Some(name) => format!(
            "the server wants {name} on every search: sign in again with `fhirdl login --search-param {name}=<value>` (and your --profile), then sync"
        ),
        None => "the other types were saved; run `fhirdl sync` again later (add -v to see each request)".into(),
    }
}

/// The parameter named by "Missing required search parameter: NAME" in a refusal, when it
/// looks like a parameter name (it comes from the server and is printed).
fn required_search_param(reason: &str) -> Option<String> {
    const MISSING: &str = "missing required search parameter: ";
    // ASCII lowercasing keeps byte offsets.
    let at = reason.to_ascii_lowercase().find(MISSING)? + MISSING.len();
    let name = reason[at..].split([' ', ',', ';', ')']).next()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    (!name.is_empty() && name.len() <= 64 && name.chars().all(plain)).then(|| name.to_owned())
}

/// Types whose copy is known to miss something (a count higher than what arrived) make the
/// run partial; `unverified` ones do not (nothing is known to be missing), but the summary
/// says why each is unverified.
fn incomplete_types(report: &Report) -> Result<()> {
    let short: Vec<String> = report
        .types
        .iter()
        .filter(|t| t.status != TypeStatus::Failed && t.dropped.is_empty())
        .filter_map(|t| match &t.completeness {
            sync::Completeness::Partial(what) => Some(format!("{} ({what})", t.resource_type)),
            _ => None,
        })
        .collect();
    if short.is_empty() {
        return Ok(());
    }
    Err(sync::Error::Partial {
        summary: format!(
            "{} types are known to be incomplete: {}",
            short.len(),
            short.join("; ")
        ),
        hint: "what arrived was saved; the server holds more than it let fhirdl fetch (see the summary)".into(),
    }
    .into())
}

/// What earlier runs could not store and this run did not store either keeps the run partial,
/// each one named, until a run stores it or the server says it is gone.
fn carried_over(report: &Report) -> Result<()> {
    named_partial(
        &report.carried_over(),
        "things earlier runs could not store are still not stored",
        "each run tries them again; the summary, `--json` and .fhirdl/last_run.json name each one",
    )
}

/// Resources the server returned that were not stored make the run partial, each named.
fn dropped_resources(report: &Report) -> Result<()> {
    named_partial(
        &report.dropped(),
        "resources the server sent were not stored",
        "the others were saved; the summary lists each one with its reason, so do `--json` and .fhirdl/last_run.json",
    )
}

/// Documents that could not be saved make the run partial too, each one named.
fn missing_documents(report: &Report) -> Result<()> {
    named_partial(
        &report.attachments.failures,
        "documents could not be saved",
        "the resources were saved; run `fhirdl sync` again to retry the documents (add -v to see each request)",
    )
}

/// A partial run that names the first of `items` and counts the others ("3 … : X (and 2 more)").
fn named_partial<T: std::fmt::Display>(items: &[T], what: &str, hint: &str) -> Result<()> {
    let Some(first) = items.first() else {
        return Ok(());
    };
    let more = match items.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Err(sync::Error::Partial {
        summary: format!("{} {what}: {first}{more}", items.len()),
        hint: hint.into(),
    }
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
        Some(dir) => crate::folder::absolute(dir)?,
        None => profile.export_dir(name, &ctx.settings.paths),
    };
    if args.out.is_some() && profile.out_dir.as_ref() != Some(&out) && !args.dry_run {
        profile.out_dir = Some(out.clone());
        cfg.profiles.insert(name.to_string(), profile.clone());
        cfg.save(&ctx.settings.paths.config_file())?;
    }
    let preset = profile.provider.as_deref().and_then(crate::providers::find);
    let opts = Options {
        out,
        pretty: matches!(args.format, SyncFormat::Json | SyncFormat::Both),
        ndjson: true,
        types: args.types.clone(),
        full: args.full,
        since: args.since.clone(),
        concurrency: args
            .concurrency
            .map_or(crate::fhir::client::DEFAULT_IN_FLIGHT, usize::from),
        concurrency_chosen: args.concurrency.is_some(),
        dry_run: args.dry_run,
        attachments: !args.no_attachments,
        wait: args.wait,
        data_dir: Some(ctx.settings.paths.data_dir.clone()),
        vendor: preset.and_then(|p| p.vendor).map(str::to_owned),
        practice: profile.practice.as_ref().map(|p| p.name.clone()),
        reconcile_days: Some(args.reconcile_every),
    };
    // The preset's published limit applies unless the user sets one (and, in `sync_profile`,
    // else the limit the quirks list knows for the server).
    let preset_rate = preset
        .and_then(|p| p.max_requests_per_minute)
        .map(|n| f64::from(n) / 60.0);
    let report = sync_profile(ctx, name, profile, &opts, args.max_rate.or(preset_rate)).await?;
    if args.view {
        super::view::build(ctx, &opts.out, None)?;
    }
    Ok(report)
}

/// Keeps the sign-in alive: refreshes now when the refresh token has been idle past half the
/// provider's limit, so a daily backup never lets it lapse. A failed early refresh is only a
/// warning, since the access token still works for this run.
async fn keep_alive(
    ctx: &Ctx,
    name: &str,
    profile: &config::Profile,
    known: &crate::quirks::Known,
    fhir: &crate::fhir::client::FhirClient,
) {
    use crate::keep_alive::{refresh_early, Idle, RefreshLimits};
    let limits = RefreshLimits::from_known(profile, known);
    let now = crate::datetime::now_unix();
    let mut idle = None;
    let early = |creds: &crate::auth::credentials::Credentials| {
        idle = Idle::of(&limits, creds, now);
        refresh_early(&limits, creds, now)
    };
    match fhir.session().refresh_if(early).await {
        Ok(true) => ctx.ui.info(&format!(
            "Refreshed the sign-in of profile '{name}' early: its refresh token was {}",
            idle.map(|i| i.describe()).unwrap_or_default()
        )),
        Ok(false) => {}
        Err(e) => ctx.ui.warn(&format!(
            "could not refresh the sign-in of profile '{name}' early ({e:#}); this sync goes on with the access token held"
        )),
    }
}

/// Syncs one saved profile (also used by `demo`). `max_rate` (requests a second, the user's
/// or the preset's) wins over the limit fhirdl's quirks list knows for the server.
pub async fn sync_profile(
    ctx: &Ctx,
    name: &str,
    profile: config::Profile,
    opts: &Options,
    max_rate: Option<f64>,
) -> Result<Report> {
    // What the quirks list knows of the server, read once (host and cached statement).
    let known = crate::keep_alive::known_offline(&ctx.settings.paths.data_dir, &profile);
    let known_rate = known.rate_per_minute.map(|n| f64::from(n) / 60.0);
    let fhir = crate::connect::fhir_client(&ctx.http, &ctx.settings.paths, name, &profile, None)
        .await?
        .with_rate_limit(max_rate.or(known_rate));
    // Unless the user chose a maximum, the client's own window may grow over HTTP/2.
    let fhir = match opts.concurrency_chosen {
        true => fhir.with_concurrency(opts.concurrency),
        false => fhir,
    };
    keep_alive(ctx, name, &profile, &known, &fhir).await;
    let patient = fhir.session().credentials().await.patient.ok_or_else(|| {
        crate::auth::Error::login_required(
            name,
            format!("the sign-in of profile '{name}' names no patient"),
        )
    })?;
    let observer = crate::output::SyncProgress::new(&ctx.ui, fhir.counters().clone());
    let report = sync::sync(fhir, &patient, opts, observer).await?;
    if !opts.dry_run {
        crate::folder::readme::write(&opts.out)?;
    }
    Ok(report)
}

/// "new by date": a type searched incrementally by a date parameter (the server has no
/// `_lastUpdated`), whose edits wait for the reconcile pass.
fn strategy_note(t: &sync::TypeReport) -> Option<String> {
    t.incremental_by
        .as_deref()
        .filter(|by| *by != sync::plan::LAST_UPDATED)
        .map(|by| format!("new by {by} (edits come with the next reconcile)"))
}

pub fn print_report(ctx: &Ctx, r: &Report) {
    let mut text = format!(
        "{:<24} {:>8} {:>6} {:>8} {:>10} {:>8} {:>8}  {:<10}  note\n",
        "type", "fetched", "new", "updated", "unchanged", "removed", "stored", "copy"
    );
    for t in &r.types {
        let note = match t.status {
            TypeStatus::Skipped => format!("skipped: {}", t.reason.as_deref().unwrap_or("")),
            TypeStatus::Failed => format!("FAILED: {}", t.reason.as_deref().unwrap_or("")),
            // A type that was not searched says why it is there (other resources refer to it);
            // a reconciled one says it was fetched whole on purpose.
            _ => match t.strategy {
                sync::Strategy::Reconcile => Some("reconciled: fetched whole and compared"),
                sync::Strategy::Everything => Some("fetched whole through Patient/$everything"),
                _ => None,
            }
            .map(str::to_string)
            .iter()
            .chain(strategy_note(t).iter())
            .chain(t.reason.iter())
            .chain(&t.warnings)
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
        };
        text.push_str(&format!(
            "{:<24} {:>8} {:>6} {:>8} {:>10} {:>8} {:>8}  {:<10}  {note}\n",
            t.resource_type,
            t.counts.fetched,
            t.counts.new,
            t.counts.updated,
            t.counts.unchanged,
            t.counts.removed,
            t.counts.stored,
            t.completeness.label()
        ));
    }
    // Why each copy short of complete is so (skipped types say it in their note already).
    for t in &r.types {
        if let (Some(detail), false) = (t.completeness.detail(), t.status == TypeStatus::Skipped) {
            text.push_str(&format!(
                "{}: {} — {detail}\n",
                t.resource_type,
                t.completeness.label()
            ));
        }
    }
    let stored: usize = r.types.iter().map(|t| t.counts.stored).sum();
    if !r.known_server.is_empty() {
        text.push_str(&format!(
            "server: {} (its known quirks shaped the searches; see `fhirdl providers --quirks`)\n",
            r.known_server.join(", ")
        ));
    }
    for n in &r.notes {
        text.push_str(&format!("note: {n}\n"));
    }
    for w in &r.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    for d in r.dropped() {
        text.push_str(&format!("not stored: {d}\n"));
    }
    for o in r.carried_over() {
        text.push_str(&format!("still not stored: {o}\n"));
    }
    let a = &r.attachments;
    if !a.is_empty() {
        text.push_str(&format!(
            "attachments: {} downloaded, {} decoded, {} already present, {} failed",
            a.downloaded, a.decoded, a.already_present, a.failed
        ));
        if a.not_followed > 0 {
            text.push_str(&format!(
                ", {} on other servers not followed",
                a.not_followed
            ));
        }
        text.push('\n');
        for p in &a.failures {
            text.push_str(&format!("document not saved: {p}\n"));
        }
        for p in &a.not_followed_documents {
            text.push_str(&format!("document not followed: {p}\n"));
        }
        let n = &a.notes;
        if n.extracted + n.already_present + n.failed > 0 {
            text.push_str(&format!(
                "notes as text: {} extracted, {} already present, {} failed\n",
                n.extracted, n.already_present, n.failed
            ));
        }
        for (file, why) in &n.failures {
            text.push_str(&format!(
                "text not extracted: {}: {}\n",
                crate::export_layout::attachment_name(file),
                crate::sanitize::clean(why)
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_search_parameter_is_named() {
        let athena = "Procedure: the server answered HTTP 400: Missing required search parameter: ah-practice";
        assert_eq!(
            required_search_param(athena).as_deref(),
            Some("ah-practice")
        );
        assert_eq!(
            required_search_param("HTTP 400: missing required search parameter: a, b").as_deref(),
            Some("a")
        );
        assert_eq!(
            required_search_param("HTTP 400: Missing required search parameter: \u{1b}[31m"),
            None
        );
        assert_eq!(required_search_param("HTTP 500"), None);
    }
}
