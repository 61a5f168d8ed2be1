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
pub mod spool;

use crate::error::Kind;
use crate::fhir::client::FhirClient;
use crate::timefmt::now_rfc3339;
use anyhow::Result;
use export::{Export, TypeState};
use fetch::{fetch_type, with_overlap, Fetched, Outcome};
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};
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
    /// Bytes of response bodies received.
    pub bytes: u64,
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
    let mut ctrl_c = listen_for_ctrl_c()?;
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
    let spool_dir = opts.out.join(".fhirdl");
    let stamp = started_at.replace(':', "-");
    // Every type starts at once; the client's window bounds the requests in flight.
    let mut tasks = tokio::task::JoinSet::new();
    let merging = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for ty in types.clone() {
        let dates_ok = plan::supports_last_updated(&metadata.body, &ty);
        let since = if opts.full || !dates_ok {
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
        let (fhir, patient, spool_dir) = (fhir.clone(), patient.to_string(), spool_dir.clone());
        let (export, opts, stamp) = (export.clone(), opts.clone(), stamp.clone());
        let merging = merging.clone();
        let held = state.types.get(&ty).map(|t| t.count);
        let bar = progress.bar(&ty);
        tasks.spawn(async move {
            let mut incremental = since.is_some();
            let fetch = |since: Option<String>| {
                let (fhir, ty, patient, bar, spool_dir) = (&fhir, &ty, &patient, &bar, &spool_dir);
                async move {
                    fetch_type(
                        fhir,
                        ty,
                        patient,
                        since.as_deref(),
                        bar,
                        nextgen,
                        dates_ok,
                        spool_dir,
                    )
                    .await
                }
            };
            let mut result = fetch(since.clone()).await;
            // A server that refuses `_lastUpdated` after all: fetch whole and compare.
            let refused_since =
                matches!(&result, Err(e) if format!("{e:#}").contains("_lastUpdated"));
            if incremental && refused_since {
                incremental = false;
                result = fetch(None).await.map(|o| match o {
                    Outcome::Fetched(mut f) => {
                        f.warnings.push(
                            "the server refused _lastUpdated; fetched whole and compared".into(),
                        );
                        Outcome::Fetched(f)
                    }
                    other => other,
                });
            }
            bar.finish_and_clear();
            let mut report = TypeReport {
                resource_type: ty.clone(),
                incremental,
                ..TypeReport::default()
            };
            let stored = match result {
                Ok(Outcome::Skipped(reason)) => {
                    report.status = "skipped".into();
                    report.reason = Some(reason);
                    Ok(None)
                }
                Ok(Outcome::Fetched(mut f)) => {
                    // Merging reads and writes files: off the async workers.
                    let ty2 = ty.clone();
                    let mut taken = std::mem::take(&mut report);
                    // Counted from before the spawn until the closure ends or is dropped, so a
                    // Ctrl-C can wait for merges that cannot be aborted.
                    let busy = Merging::start(&merging);
                    let merged = tokio::task::spawn_blocking(move || {
                        let _busy = busy;
                        let refs = std::mem::take(&mut f.refs);
                        let result = store_type(
                            &export,
                            &ty2,
                            *f,
                            incremental,
                            &opts,
                            &stamp,
                            &mut taken,
                            held,
                        );
                        (taken, result.map(|mark| (mark, refs)))
                    })
                    .await;
                    match merged {
                        Ok((r, Ok(stored))) => {
                            report = r;
                            Ok(Some(stored))
                        }
                        Ok((mut r, Err(e))) => {
                            r.status = "failed".into();
                            r.reason = Some(format!("{e:#}"));
                            report = r;
                            Ok(None)
                        }
                        Err(e) => {
                            report.resource_type = ty.clone();
                            Err(anyhow::anyhow!("a sync task failed: {e}"))
                        }
                    }
                }
                Err(e) => Err(e),
            };
            (ty, report, stored)
        });
    }

    let mut saved = 0usize;
    let mut refs: BTreeSet<(String, String)> = BTreeSet::new();
    // Attachments start as soon as the types that carry them are stored, alongside the rest.
    let mut attachment_types: Vec<String> = ["DocumentReference", "DiagnosticReport"]
        .into_iter()
        .filter(|t| types.iter().any(|x| x == t))
        .map(str::to_string)
        .collect();
    let mut attachment_task = None;
    // The attachment pass reads every DocumentReference and DiagnosticReport; it is needed
    // when this run fetched some, or when an earlier pass did not finish cleanly.
    let mut attachment_input = !state.attachments_complete;
    // Types whose file changed after the state last saw it (a run stopped in between).
    let dirty: HashSet<String> = state
        .types
        .iter()
        .filter(|(ty, t)| t.file != export::FileStamp::of(&export.ndjson_path(ty)))
        .map(|(ty, _)| ty.clone())
        .collect();
    if attachments::TYPES.iter().any(|t| dirty.contains(*t)) {
        attachment_input = true;
    }
    // Whether manifest.json must be computed again (see the end of this function).
    let mut changed_any = !dirty.is_empty();
    let start_attachments =
        |task: &mut Option<tokio::task::JoinHandle<Result<attachments::Report>>>, needed: bool| {
            if opts.attachments && !opts.dry_run && task.is_none() && needed {
                let (fhir, dir, concurrency) = (fhir.clone(), opts.out.clone(), opts.concurrency);
                *task = Some(tokio::spawn(async move {
                    attachments::save_all(&fhir, &dir, concurrency).await
                }));
            }
        };
    if attachment_types.is_empty() && state.types.contains_key("DocumentReference") {
        start_attachments(&mut attachment_task, attachment_input);
    }
    loop {
        let joined = tokio::select! {
            j = tasks.join_next() => j,
            _ = ctrl_c.recv() => {
                tasks.abort_all();
                if let Some(t) = &attachment_task {
                    t.abort();
                }
                progress.clear();
                // A merge already running finishes (its file is replaced whole or not at
                // all); then nothing half-written is left behind.
                Merging::wait_idle(&merging).await;
                crate::fsutil::remove_stale_temp_files(&opts.out)?;
                return Err(interrupted(saved, &opts.out));
            }
        };
        let Some(joined) = joined else { break };
        saved += 1;
        let (ty, report, stored) =
            joined.map_err(|e| anyhow::anyhow!("a sync task failed: {e}"))?;
        let stored = match stored {
            Ok(s) => s,
            Err(e) => {
                if crate::error::exit_code(&e) == Kind::LoginRequired.exit_code() {
                    return Err(e);
                }
                reports.push(TypeReport {
                    resource_type: ty.clone(),
                    status: "failed".into(),
                    reason: Some(format!("{e:#}")),
                    incremental: report.incremental,
                    ..TypeReport::default()
                });
                attachment_types.retain(|t| t != &ty);
                if attachment_types.is_empty() {
                    start_attachments(&mut attachment_task, attachment_input);
                }
                continue;
            }
        };
        if let Some((mark, type_refs)) = stored {
            refs.extend(references::from_keys(type_refs));
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
                        file: export::FileStamp::of(&export.ndjson_path(&ty)),
                    },
                );
                // New resources may refer to ones not held yet.
                state.references_closed &= report.status != "ok";
                export.save_state(&state)?;
            }
        }
        if report.status == "ok" {
            changed_any = true;
            if attachments::TYPES.contains(&ty.as_str()) {
                attachment_input = true;
            }
        }
        if ui.verbosity >= 1 && !ui.quiet {
            ui.info(&progress_line(&report));
        }
        reports.push(report);
        attachment_types.retain(|t| t != &ty);
        if attachment_types.is_empty() {
            start_attachments(&mut attachment_task, attachment_input);
        }
    }
    let mut warnings = Vec::new();
    let mut attachment_report = attachments::Report::default();
    if !opts.dry_run {
        let scan_all = !dirty.is_empty();
        // Ctrl-C while references are read still stops cleanly: every merge is atomic and the
        // state is saved after each one.
        let closing = close_references(
            &fhir,
            &export,
            &mut state,
            refs,
            opts,
            scan_all,
            &mut warnings,
        );
        let added = tokio::select! {
            added = closing => added?,
            _ = ctrl_c.recv() => {
                if let Some(t) = &attachment_task {
                    t.abort();
                }
                progress.clear();
                return Err(interrupted(saved, &opts.out));
            }
        };
        changed_any |= added.values().any(|(new, _)| *new > 0);
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
        if let Some(task) = attachment_task {
            let abort = task.abort_handle();
            let joined = tokio::select! {
                joined = task => joined,
                _ = ctrl_c.recv() => {
                    abort.abort();
                    return Err(interrupted(saved, &opts.out));
                }
            };
            attachment_report =
                joined.map_err(|e| anyhow::anyhow!("the attachments task failed: {e}"))??;
            let complete = attachment_report.failed == 0;
            if state.attachments_complete != complete {
                state.attachments_complete = complete;
                export.save_state(&state)?;
            }
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
    // The manifest hashes every file: only when something changed (in this run, or in one
    // that stopped before finishing), or it is missing or unfinished.
    let manifest_needed = changed_any || manifest::needs_rewrite(&opts.out);
    if !opts.dry_run && manifest_needed {
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
        bytes: fhir
            .counters()
            .bytes
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

/// One merge in progress (see the Ctrl-C handling in [`sync`]).
struct Merging(Arc<std::sync::atomic::AtomicUsize>);

impl Merging {
    fn start(count: &Arc<std::sync::atomic::AtomicUsize>) -> Merging {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Merging(count.clone())
    }

    /// Waits (up to a minute) until no merge runs.
    async fn wait_idle(count: &std::sync::atomic::AtomicUsize) {
        for _ in 0..3000 {
            if count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Merging {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Ctrl-C for the rest of the run, heard from now on. One listener, not a new
/// `tokio::signal::ctrl_c()` in each `select!`: a listener hears only the signals that come
/// after it started, so a Ctrl-C that came between two of them (while a finished type was
/// recorded, or before the first) was lost once tokio had taken over SIGINT, and the run went
/// on to exit 0 (tokio's `signal/registry.rs` subscribes each new listener as up to date).
#[cfg(unix)]
fn listen_for_ctrl_c() -> Result<tokio::signal::unix::Signal> {
    use anyhow::Context as _;
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for Ctrl-C")
}

#[cfg(windows)]
fn listen_for_ctrl_c() -> Result<tokio::signal::windows::CtrlC> {
    use anyhow::Context as _;
    tokio::signal::windows::ctrl_c().context("cannot listen for Ctrl-C")
}

/// The error of a run stopped by Ctrl-C: what is saved, and how to finish.
fn interrupted(saved: usize, out: &std::path::Path) -> anyhow::Error {
    crate::error::Failure::new(
        Kind::Interrupted,
        format!("sync interrupted; {saved} resource types were finished and saved in {}, the others keep their previous version", out.display()),
    )
    .hint("run `fhirdl sync` again to finish; it continues where this run stopped")
    .into()
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
#[allow(clippy::too_many_arguments)]
fn store_type(
    export: &Export,
    ty: &str,
    f: Fetched,
    incremental: bool,
    opts: &Options,
    stamp: &str,
    report: &mut TypeReport,
    held: Option<usize>,
) -> Result<Option<String>> {
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
    report.fetched = f.spool.len();
    report.pages = f.pages;
    report.warnings = f.warnings;
    let file_exists = export.dir().join(format!("{ty}.ndjson")).exists();
    if incremental && f.spool.is_empty() && (file_exists || !opts.ndjson) && !opts.pretty {
        // Nothing changed since the mark: the file stays as it is, unread.
        report.stored = held.unwrap_or(0);
        report.status = "unchanged".into();
        return Ok(mark);
    }
    let merged = export.merge(
        ty,
        f.spool.into_sorted()?,
        &export::MergeOptions {
            mode: if incremental {
                export::Mode::Upsert
            } else {
                export::Mode::Replace
            },
            ndjson: opts.ndjson,
            pretty: opts.pretty,
            dry_run: opts.dry_run,
            removed_stamp: Some(stamp),
        },
    )?;
    report.new = merged.new;
    report.updated = merged.updated;
    report.unchanged = merged.unchanged;
    report.removed = merged.removed;
    report.stored = merged.stored;
    if merged.removed > 0 {
        report.warnings.push(format!(
            "{} resources the server no longer returns were moved to .fhirdl/removed/{stamp}/",
            merged.removed
        ));
    }
    report.status = if merged.changed { "ok" } else { "unchanged" }.into();
    Ok(mark)
}

/// Reads referenced resources not held yet, round after round; returns per type (new, stored).
///
/// The references come from the resources fetched in this run; when an earlier run did not
/// finish closing them (or with `--full`), every stored file is scanned as well.
async fn close_references(
    fhir: &FhirClient,
    export: &Arc<Export>,
    state: &mut export::State,
    mut refs: BTreeSet<(String, String)>,
    opts: &Options,
    scan_all: bool,
    warnings: &mut Vec<String>,
) -> Result<std::collections::BTreeMap<String, (usize, usize)>> {
    let base = fhir.base().clone();
    if opts.full || scan_all || !state.references_closed {
        let held_types: Vec<String> = state.types.keys().cloned().collect();
        let export = export.clone();
        let base = base.clone();
        refs = tokio::task::spawn_blocking(move || -> Result<_> {
            for ty in held_types {
                export.for_each(&ty, |_, line| {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                        references::collect(&v, &base, &mut refs);
                    }
                })?;
            }
            Ok(refs)
        })
        .await
        .map_err(|e| anyhow::anyhow!("a sync task failed: {e}"))??;
    }
    // Which of the referenced resources are held: the ids of the referenced types only.
    let mut held: std::collections::HashMap<String, HashSet<String>> = Default::default();
    let mut added = std::collections::BTreeMap::new();
    let mut tried: BTreeSet<(String, String)> = BTreeSet::new();
    for _ in 0..references::MAX_ROUNDS {
        for (ty, _) in &refs {
            if !held.contains_key(ty) {
                held.insert(ty.clone(), export.ids(ty)?);
            }
        }
        let missing: BTreeSet<(String, String)> = refs
            .iter()
            .filter(|(ty, id)| !held.get(ty).is_some_and(|h| h.contains(id)))
            .filter(|r| !tried.contains(*r))
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
            let mut spool = spool::Spool::new(&opts.out.join(".fhirdl"));
            for (id, line) in lines {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    references::collect(&v, &base, &mut new_refs);
                }
                held.entry(ty.clone()).or_default().insert(id.clone());
                spool.insert(id, line)?;
            }
            let merged = export.merge(
                &ty,
                spool.into_sorted()?,
                &export::MergeOptions {
                    mode: export::Mode::Upsert,
                    ndjson: true,
                    pretty: false,
                    dry_run: false,
                    removed_stamp: None,
                },
            )?;
            let entry = state.types.entry(ty.clone()).or_insert_with(|| TypeState {
                mark: None,
                count: 0,
                synced_at: String::new(),
                file: None,
            });
            entry.count = merged.stored;
            entry.synced_at = now_rfc3339();
            entry.file = export::FileStamp::of(&export.ndjson_path(&ty));
            export.save_state(state)?;
            let slot = added.entry(ty).or_insert((0, 0));
            slot.0 += merged.new;
            slot.1 = merged.stored;
        }
        refs.extend(new_refs);
    }
    if !state.references_closed {
        state.references_closed = true;
        export.save_state(state)?;
    }
    Ok(added)
}
