//! `sync`: plan the types, fetch each one's search chain, merge into the export folder, then
//! advance the state.
//!
//! Types run in parallel (bounded by `concurrency`); the pages of one search are fetched one
//! after another. A type's file is replaced only after its whole search arrived, and its state
//! mark only after its file is on disk. A type that fails is reported and the others finish.

pub mod attachments;
pub mod bundle;
pub mod export;
pub mod fanout;
mod fetch;
pub mod manifest;
pub mod naming;
pub mod plan;
pub mod references;

use crate::error::Kind;
use crate::fhir::client::FhirClient;
use crate::timefmt::now_rfc3339;
use anyhow::Result;
use export::{Export, Lines, TypeState};
use fetch::{fetch_type, with_overlap, Fetched, Outcome};
use serde::Serialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// Largest page fhirdl asks for; servers clamp or ignore it.
pub const PAGE_SIZE: usize = 200;
/// A search that pages more than this is stopped and reported (a server that pages forever).
pub const MAX_PAGES: usize = 10_000;
/// The next incremental query starts this long before the recorded mark.
pub const OVERLAP_SECS: i64 = 120;

#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    pub pretty: bool,
    pub ndjson: bool,
    pub types: Option<Vec<String>>,
    pub full: bool,
    pub since: Option<String>,
    pub concurrency: usize,
    pub dry_run: bool,
    pub attachments: bool,
    /// Wait this long for another sync of the same folder to finish.
    pub wait: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TypeReport {
    pub resource_type: String,
    /// "ok", "unchanged", "skipped", "failed".
    pub status: String,
    pub fetched: usize,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
    pub stored: usize,
    pub pages: usize,
    pub incremental: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub out: PathBuf,
    pub fhir_base: String,
    pub patient: String,
    pub started_at: String,
    pub finished_at: String,
    pub dry_run: bool,
    pub requests: u64,
    pub retries: u64,
    pub types: Vec<TypeReport>,
    pub attachments: attachments::Report,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn failed(&self) -> Vec<&str> {
        self.types
            .iter()
            .filter(|t| t.status == "failed")
            .map(|t| t.resource_type.as_str())
            .collect()
    }
}

pub async fn sync(
    fhir: FhirClient,
    patient: &str,
    opts: &Options,
    ui: &crate::output::Ui,
) -> Result<Report> {
    let started_at = now_rfc3339();
    let export = Arc::new(match opts.wait {
        Some(max) => Export::open_waiting(&opts.out, max).await?,
        None => Export::open(&opts.out)?,
    });
    let mut state = export.load_state()?;
    let base = fhir.base().clone();
    if !state.patient.is_empty() && (state.patient != patient || state.fhir_base != base.as_str()) {
        return Err(crate::error::Failure::new(
            Kind::Usage,
            format!(
                "{} holds the export of another patient or server ({} at {}); refusing to mix records",
                opts.out.display(),
                state.patient,
                state.fhir_base
            ),
        )
        .hint("sync into another folder with --out")
        .into());
    }
    state.patient = patient.to_string();
    state.fhir_base = base.to_string();

    let metadata = fhir
        .get(&crate::auth::discovery::base_join(&base, "metadata")?)
        .await?;
    let scope = fhir.session().credentials().await.scope;
    let (types, skipped) = plan::plan(&metadata.body, &scope, opts.types.as_deref());
    let mut reports: Vec<TypeReport> = skipped
        .into_iter()
        .map(|s| TypeReport {
            resource_type: s.resource_type,
            status: "skipped".into(),
            reason: Some(s.reason),
            ..TypeReport::default()
        })
        .collect();
    ui.info(&format!(
        "Syncing {} resource types into {}…",
        types.len(),
        opts.out.display()
    ));

    let progress = crate::output::Progress::new(ui);
    // A NextGen server (known from its CapabilityStatement) is queried category by category
    // right away instead of after a refused search.
    let nextgen = fanout::is_nextgen(&metadata.body);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for ty in types.clone() {
        let since = if opts.full || !plan::supports_last_updated(&metadata.body, &ty) {
            None
        } else {
            opts.since.clone().or_else(|| {
                state
                    .types
                    .get(&ty)
                    .and_then(|t| t.mark.as_deref())
                    .map(|m| with_overlap(m, OVERLAP_SECS))
            })
        };
        let dates_ok = plan::supports_last_updated(&metadata.body, &ty);
        let (fhir, sem, patient) = (fhir.clone(), semaphore.clone(), patient.to_string());
        let bar = progress.bar(&ty);
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let mut incremental = since.is_some();
            let mut result = fetch_type(
                &fhir,
                &ty,
                &patient,
                since.as_deref(),
                &bar,
                nextgen,
                dates_ok,
            )
            .await;
            // A server that refuses `_lastUpdated` after all: fetch whole and compare.
            let refused_since =
                matches!(&result, Err(e) if format!("{e:#}").contains("_lastUpdated"));
            if incremental && refused_since {
                incremental = false;
                result = fetch_type(&fhir, &ty, &patient, None, &bar, nextgen, dates_ok)
                    .await
                    .map(|o| match o {
                        Outcome::Fetched(mut f) => {
                            f.warnings.push(
                                "the server refused _lastUpdated; fetched whole and compared"
                                    .into(),
                            );
                            Outcome::Fetched(f)
                        }
                        other => other,
                    });
            }
            bar.finish_and_clear();
            (ty, incremental, result)
        });
    }

    let stamp = started_at.replace(':', "-");
    let mut saved = 0usize;
    loop {
        let joined = tokio::select! {
            j = tasks.join_next() => j,
            _ = tokio::signal::ctrl_c() => {
                tasks.abort_all();
                progress.clear();
                return Err(crate::error::Failure::new(
                    Kind::Interrupted,
                    format!("sync interrupted; {saved} resource types were finished and saved in {}, the others keep their previous version", opts.out.display()),
                )
                .hint("run `fhirdl sync` again to finish; it continues where this run stopped")
                .into());
            }
        };
        let Some(joined) = joined else { break };
        saved += 1;
        let (ty, incremental, result) =
            joined.map_err(|e| anyhow::anyhow!("a sync task failed: {e}"))?;
        let mut report = TypeReport {
            resource_type: ty.clone(),
            incremental,
            ..TypeReport::default()
        };
        match result {
            Ok(Outcome::Skipped(reason)) => {
                report.status = "skipped".into();
                report.reason = Some(reason);
            }
            Ok(Outcome::Fetched(f)) => {
                match store_type(&export, &ty, f, incremental, opts, &stamp, &mut report) {
                    Ok(mark) => {
                        // Nothing changed: keep the old mark (still correct) and write nothing.
                        let keep = report.status == "unchanged"
                            && state
                                .types
                                .get(&ty)
                                .is_some_and(|t| t.count == report.stored);
                        if !opts.dry_run && !keep {
                            state.types.insert(
                                ty.clone(),
                                TypeState {
                                    mark,
                                    count: report.stored,
                                    synced_at: now_rfc3339(),
                                },
                            );
                            export.save_state(&state)?;
                        }
                    }
                    Err(e) => {
                        report.status = "failed".into();
                        report.reason = Some(format!("{e:#}"));
                    }
                }
            }
            Err(e) => {
                if crate::error::exit_code(&e) == Kind::LoginRequired.exit_code() {
                    return Err(e);
                }
                report.status = "failed".into();
                report.reason = Some(format!("{e:#}"));
            }
        }
        if ui.verbosity >= 1 && !ui.quiet {
            ui.info(&progress_line(&report));
        }
        reports.push(report);
    }
    let mut warnings = Vec::new();
    let mut attachment_report = attachments::Report::default();
    if !opts.dry_run {
        let held_types: Vec<String> = state.types.keys().cloned().collect();
        let added =
            close_references(&fhir, &export, &mut state, &held_types, &mut warnings).await?;
        for (ty, (new, stored)) in added {
            match reports.iter_mut().find(|r| r.resource_type == ty) {
                Some(r) => {
                    r.new += new;
                    r.fetched += new;
                    r.stored = stored;
                }
                None => reports.push(TypeReport {
                    resource_type: ty,
                    status: "ok".into(),
                    fetched: new,
                    new,
                    stored,
                    reason: Some("read because other resources refer to them".into()),
                    ..TypeReport::default()
                }),
            }
        }
        if opts.attachments {
            let mut with_attachments = Vec::new();
            for ty in ["DocumentReference", "DiagnosticReport"] {
                for line in export.load(ty)?.into_values() {
                    with_attachments.push((ty.to_string(), line));
                }
            }
            attachment_report =
                attachments::save_all(&fhir, export.dir(), &with_attachments, opts.concurrency)
                    .await?;
        }
    }
    // Types held from earlier runs that this run did not search (referenced ones).
    for (ty, t) in &state.types {
        if !reports.iter().any(|r| &r.resource_type == ty) {
            reports.push(TypeReport {
                resource_type: ty.clone(),
                status: "unchanged".into(),
                stored: t.count,
                reason: Some("read because other resources refer to them".into()),
                ..TypeReport::default()
            });
        }
    }
    reports.sort_by(|a, b| a.resource_type.cmp(&b.resource_type));
    if !opts.dry_run {
        let stored: Vec<String> = state.types.keys().cloned().collect();
        export.write_manifest(
            serde_json::json!({
                "generator": concat!("fhirdl ", env!("CARGO_PKG_VERSION")),
                "fhir_base": base.as_str(),
                "fhir_version": metadata.body.get("fhirVersion"),
                "patient": patient,
                "synced_at": now_rfc3339(),
            }),
            &stored,
        )?;
    }
    let report = Report {
        out: opts.out.clone(),
        fhir_base: base.to_string(),
        patient: patient.to_string(),
        started_at,
        finished_at: now_rfc3339(),
        dry_run: opts.dry_run,
        requests: fhir
            .counters()
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        retries: fhir
            .counters()
            .retries
            .load(std::sync::atomic::Ordering::Relaxed),
        types: reports,
        attachments: attachment_report,
        warnings,
    };
    if !opts.dry_run {
        export.save_last_run(&export::LastRun {
            finished_at: report.finished_at.clone(),
            resources: report.types.iter().map(|t| t.stored).sum(),
            requests: report.requests,
            failed: report.failed().iter().map(|s| s.to_string()).collect(),
        })?;
    }
    Ok(report)
}

fn progress_line(r: &TypeReport) -> String {
    match r.status.as_str() {
        "skipped" => format!(
            "  {:<24} skipped: {}",
            r.resource_type,
            r.reason.as_deref().unwrap_or("")
        ),
        "failed" => format!(
            "  {:<24} FAILED: {}",
            r.resource_type,
            r.reason.as_deref().unwrap_or("")
        ),
        _ => format!(
            "  {:<24} {} fetched ({} new, {} updated), {} stored",
            r.resource_type, r.fetched, r.new, r.updated, r.stored
        ),
    }
}

/// Merges a fetched type into its file; returns the state mark to record.
fn store_type(
    export: &Export,
    ty: &str,
    f: Fetched,
    incremental: bool,
    opts: &Options,
    stamp: &str,
    report: &mut TypeReport,
) -> Result<Option<String>> {
    let mut lines = export.load(ty)?;
    // The next mark: the newest meta.lastUpdated seen, but never later than the server's own
    // time at the start of the search.
    let newest = f.newest;
    let server = f.mark.as_deref().and_then(crate::timefmt::parse_rfc3339);
    let mark = match (newest, server) {
        (Some(n), Some(s)) => Some(crate::timefmt::unix_to_rfc3339(n.min(s))),
        (None, Some(s)) => Some(crate::timefmt::unix_to_rfc3339(s)),
        (Some(n), None) => Some(crate::timefmt::unix_to_rfc3339(n)),
        (None, None) => None,
    };
    report.fetched = f.lines.len();
    report.pages = f.pages;
    report.warnings = f.warnings;
    let mut changed = false;
    let fetched_ids: HashSet<String> = f.lines.keys().cloned().collect();
    for (id, line) in f.lines {
        match lines.get(&id) {
            None => report.new += 1,
            Some(old) if *old != line => report.updated += 1,
            Some(_) => {
                report.unchanged += 1;
                continue;
            }
        }
        lines.insert(id, line);
        changed = true;
    }
    if !incremental {
        let removed: Lines = lines
            .iter()
            .filter(|(id, _)| !fetched_ids.contains(*id))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !removed.is_empty() {
            report.removed = removed.len();
            if !opts.dry_run {
                export.keep_removed(stamp, ty, &removed)?;
            }
            lines.retain(|id, _| fetched_ids.contains(id));
            changed = true;
            report.warnings.push(format!(
                "{} resources the server no longer returns were moved to .fhirdl/removed/{stamp}/",
                report.removed
            ));
        }
    }
    report.stored = lines.len();
    let file_missing = !export.dir().join(format!("{ty}.ndjson")).exists();
    if (changed || file_missing) && !opts.dry_run && opts.ndjson {
        export.write(ty, &lines, opts.pretty)?;
    }
    report.status = if changed { "ok" } else { "unchanged" }.into();
    Ok(mark)
}

/// Reads referenced resources not held yet, round after round; returns per type (new, stored).
async fn close_references(
    fhir: &FhirClient,
    export: &Export,
    state: &mut export::State,
    held_types: &[String],
    warnings: &mut Vec<String>,
) -> Result<std::collections::BTreeMap<String, (usize, usize)>> {
    use std::collections::BTreeSet;
    let base = fhir.base().clone();
    let mut held: BTreeSet<(String, String)> = BTreeSet::new();
    let mut refs: BTreeSet<(String, String)> = BTreeSet::new();
    for ty in held_types {
        for (id, line) in export.load(ty)? {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                references::collect(&v, &base, &mut refs);
            }
            held.insert((ty.clone(), id));
        }
    }
    let mut added = std::collections::BTreeMap::new();
    let mut tried: BTreeSet<(String, String)> = BTreeSet::new();
    for _ in 0..references::MAX_ROUNDS {
        let missing: BTreeSet<(String, String)> = refs
            .iter()
            .filter(|r| !held.contains(*r) && !tried.contains(*r))
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
        tried.extend(missing.iter().cloned());
        let fetched = references::fetch(fhir, &missing).await?;
        warnings.extend(fetched.warnings);
        let mut new_refs = BTreeSet::new();
        for (ty, lines) in fetched.lines {
            if lines.is_empty() {
                continue;
            }
            let mut stored = export.load(&ty)?;
            let mut new = 0;
            for (id, line) in lines {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    references::collect(&v, &base, &mut new_refs);
                }
                held.insert((ty.clone(), id.clone()));
                if stored.insert(id, line).is_none() {
                    new += 1;
                }
            }
            export.write(&ty, &stored, false)?;
            let entry = state.types.entry(ty.clone()).or_insert_with(|| TypeState {
                mark: None,
                count: 0,
                synced_at: String::new(),
            });
            entry.count = stored.len();
            entry.synced_at = now_rfc3339();
            export.save_state(state)?;
            let slot = added.entry(ty).or_insert((0, 0));
            slot.0 += new;
            slot.1 = stored.len();
        }
        refs.extend(new_refs);
    }
    Ok(added)
}
