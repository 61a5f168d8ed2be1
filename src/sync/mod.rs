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
pub mod plan;
pub mod references;

use crate::error::Kind;
use crate::fhir::client::{outcome_text, resource_url, FhirClient};
use crate::timefmt::now_rfc3339;
use anyhow::Result;
use bundle::{parse_page, valid_id};
use export::{Export, Lines, TypeState};
use serde::Serialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use url::Url;

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

struct Fetched {
    lines: Lines,
    pages: usize,
    /// The server's time (HTTP `Date`) at the start of the search.
    mark: Option<String>,
    /// The newest `meta.lastUpdated` among the fetched resources (Unix seconds).
    newest: Option<i64>,
    warnings: Vec<String>,
}

enum Outcome {
    Fetched(Fetched),
    Skipped(String),
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
                attachments::save_all(&fhir, export.dir(), &with_attachments).await?;
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

async fn fetch_type(
    fhir: &FhirClient,
    ty: &str,
    patient: &str,
    since: Option<&str>,
    bar: &indicatif::ProgressBar,
    nextgen: bool,
    dates_ok: bool,
) -> Result<Outcome> {
    let base = fhir.base();
    let mut fetched = Fetched {
        lines: Lines::new(),
        pages: 0,
        mark: None,
        newest: None,
        warnings: Vec::new(),
    };
    if ty == "Patient" {
        let url = resource_url(base, "Patient", patient)?;
        let resp = fhir.get(&url).await?;
        if let Some(skip) = refusal(resp.status.as_u16()) {
            return Ok(Outcome::Skipped(skip));
        }
        if !resp.status.is_success() {
            return Err(
                crate::fhir::client::status_failure(&resp, &format!("Patient/{patient}")).into(),
            );
        }
        fetched.pages = 1;
        fetched.mark = server_time(&resp.headers);
        add_resource(&mut fetched, ty, patient, resp.body);
        return Ok(Outcome::Fetched(fetched));
    }
    let categories = fanout::categories_for(ty);
    if !(nextgen && categories.is_some()) {
        match chain(fhir, ty, patient, since, &[], &mut fetched, bar).await? {
            Chain::Done { shortfall: false } => return Ok(Outcome::Fetched(fetched)),
            Chain::Done { shortfall: true } if categories.is_none() => {
                if dates_ok {
                    recover_by_dates(fhir, ty, patient, since, &mut fetched, bar).await?;
                }
                return Ok(Outcome::Fetched(fetched));
            }
            Chain::Done { shortfall: true } => fetched.warnings.push(format!(
                "{ty}: re-queried category by category to recover what the paging left out"
            )),
            Chain::Refused(why) => return Ok(Outcome::Skipped(why)),
            Chain::NeedsCategory(msg) if categories.is_some() => fetched.warnings.push(format!(
                "the server requires a category ({msg}); fetched category by category"
            )),
            Chain::NeedsCategory(msg) => anyhow::bail!("the search was refused: {msg}"),
        }
    }
    let (param, values) = categories.unwrap_or(("category", &[]));
    for value in values {
        match chain(
            fhir,
            ty,
            patient,
            since,
            &[(param, value)],
            &mut fetched,
            bar,
        )
        .await?
        {
            Chain::Done { .. } => {}
            Chain::Refused(why) | Chain::NeedsCategory(why) => {
                fetched.warnings.push(format!("{param}={value}: {why}"));
            }
        }
    }
    // Whatever sits in other categories must not be lost silently.
    if let Some(total) = count_all(fhir, ty, patient, since).await {
        let have = fetched.lines.len() as u64;
        if total > have {
            fetched.warnings.push(format!(
                "the server holds {total} {ty} resources but the category queries found {have}: {} in other categories were not fetched",
                total - have
            ));
        }
    }
    Ok(Outcome::Fetched(fetched))
}

/// The paging of a search ended before its announced total: ask again in `_lastUpdated` slices,
/// halving each slice that still comes up short, and merge.
async fn recover_by_dates(
    fhir: &FhirClient,
    ty: &str,
    patient: &str,
    since: Option<&str>,
    fetched: &mut Fetched,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    const MAX_SLICES: usize = 256;
    let before = fetched.lines.len();
    let lo = since.and_then(crate::timefmt::parse_rfc3339).unwrap_or(0);
    let hi = crate::timefmt::now_unix() + 86_400;
    let mut stack = vec![(lo, hi)];
    let mut slices = 0;
    let mut unresolved = 0;
    while let Some((lo, hi)) = stack.pop() {
        slices += 1;
        if slices > MAX_SLICES {
            unresolved += 1;
            break;
        }
        let ge = format!("ge{}", crate::timefmt::unix_to_rfc3339(lo));
        let lt = format!("lt{}", crate::timefmt::unix_to_rfc3339(hi));
        let params = [("_lastUpdated", ge.as_str()), ("_lastUpdated", lt.as_str())];
        // The slice's own shortfall warning would repeat the type's; keep the list short.
        let warnings_before = fetched.warnings.len();
        let result = chain(fhir, ty, patient, None, &params, fetched, bar).await?;
        fetched.warnings.truncate(warnings_before);
        if let Chain::Done { shortfall: true } = result {
            if hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                stack.push((mid, hi));
                stack.push((lo, mid));
            } else {
                unresolved += 1;
            }
        }
    }
    let recovered = fetched.lines.len() - before;
    fetched.warnings.push(format!(
        "{ty}: re-queried in {slices} _lastUpdated slices and recovered {recovered}{}",
        if unresolved > 0 {
            "; some slices still came up short"
        } else {
            ""
        }
    ));
    Ok(())
}

enum Chain {
    /// All pages read; `shortfall` when fewer arrived than `Bundle.total` announced.
    Done {
        shortfall: bool,
    },
    Refused(String),
    NeedsCategory(String),
}

/// `<base>/<type>?patient=…` with the given extra parameters.
fn search_url(base: &Url, ty: &str, params: &[(&str, &str)]) -> Result<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| anyhow::anyhow!("the FHIR base cannot take a path"))?
        .pop_if_empty()
        .push(ty);
    url.query_pairs_mut().extend_pairs(params);
    Ok(url)
}

/// One search and all its pages, merged into `fetched`.
async fn chain(
    fhir: &FhirClient,
    ty: &str,
    patient: &str,
    since: Option<&str>,
    extra: &[(&str, &str)],
    fetched: &mut Fetched,
    bar: &indicatif::ProgressBar,
) -> Result<Chain> {
    let count = PAGE_SIZE.to_string();
    let since_value = since.map(|s| format!("ge{s}"));
    let mut params: Vec<(&str, &str)> = vec![("patient", patient)];
    params.extend_from_slice(extra);
    params.push(("_count", &count));
    if let Some(s) = &since_value {
        params.push(("_lastUpdated", s));
    }
    let url = search_url(fhir.base(), ty, &params)?;
    let what = if extra.is_empty() {
        ty.to_string()
    } else {
        let q: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{ty}?{}", q.join("&"))
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut next = Some(url);
    let mut total = None;
    let mut received = 0u64;
    let mut pages = 0usize;
    while let Some(page_url) = next.take() {
        if !seen.insert(page_url.as_str().to_string()) {
            fetched.warnings.push(format!(
                "{what}: the server's next links loop; stopped following them"
            ));
            break;
        }
        if pages >= MAX_PAGES {
            fetched
                .warnings
                .push(format!("{what}: stopped after {MAX_PAGES} pages"));
            break;
        }
        let resp = fhir.get(&page_url).await?;
        if pages == 0 && !resp.status.is_success() {
            let text = outcome_text(&resp.body).unwrap_or_default();
            if fanout::demands_category(resp.status.as_u16(), &text) {
                return Ok(Chain::NeedsCategory(format!(
                    "HTTP {}: {text}",
                    resp.status.as_u16()
                )));
            }
            if let Some(skip) = refusal(resp.status.as_u16()) {
                return Ok(Chain::Refused(skip));
            }
        }
        if !resp.status.is_success() {
            let detail = outcome_text(&resp.body)
                .map(|t| format!(": {t}"))
                .unwrap_or_default();
            anyhow::bail!(
                "{what}: the search answered HTTP {}{detail}",
                resp.status.as_u16()
            );
        }
        if fetched.mark.is_none() {
            fetched.mark = server_time(&resp.headers);
        }
        let page = parse_page(resp.body, &page_url)?;
        pages += 1;
        fetched.pages += 1;
        if total.is_none() {
            total = page.total;
        }
        received += page.resources.len() as u64;
        for r in page.resources {
            add_resource(fetched, ty, patient, r);
        }
        bar.set_position(fetched.lines.len() as u64);
        fetched.warnings.extend(page.outcomes);
        next = page.next;
    }
    let mut shortfall = false;
    if let Some(total) = total {
        if received < total {
            shortfall = true;
            fetched.warnings.push(format!(
                "{what}: the server reported {total} but sent {received} ({} missing; its paging stopped early)",
                total - received
            ));
        }
    }
    Ok(Chain::Done { shortfall })
}

/// `_summary=count` of the whole un-fanned search, when the server answers it.
async fn count_all(fhir: &FhirClient, ty: &str, patient: &str, since: Option<&str>) -> Option<u64> {
    let since_value = since.map(|s| format!("ge{s}"));
    let mut params: Vec<(&str, &str)> = vec![("patient", patient), ("_summary", "count")];
    if let Some(s) = &since_value {
        params.push(("_lastUpdated", s));
    }
    let url = search_url(fhir.base(), ty, &params).ok()?;
    let resp = fhir.get(&url).await.ok()?;
    if !resp.status.is_success() {
        return None;
    }
    resp.body.get("total").and_then(serde_json::Value::as_u64)
}

/// 403 (and 404 for an unsupported type) mean "not for you": skipped, not failed.
fn refusal(status: u16) -> Option<String> {
    match status {
        403 => Some("access refused by the server (403)".into()),
        404 => Some("the server does not offer it (404)".into()),
        _ => None,
    }
}

fn add_resource(fetched: &mut Fetched, ty: &str, patient: &str, resource: serde_json::Value) {
    let rt = resource
        .get("resourceType")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if rt != ty {
        fetched.warnings.push(format!(
            "ignored a {} in the {ty} results",
            crate::auth::oauth::clean(rt)
        ));
        return;
    }
    let Some(id) = resource
        .get("id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
    else {
        fetched
            .warnings
            .push(format!("ignored a {ty} without an id"));
        return;
    };
    if !belongs_to(&resource, ty, &id, patient) {
        fetched
            .warnings
            .push(format!("dropped a {ty} that belongs to another patient"));
        return;
    }
    if !valid_id(&id) {
        fetched
            .warnings
            .push(format!("ignored a {ty} with an invalid id"));
        return;
    }
    let updated = resource
        .get("meta")
        .and_then(|m| m.get("lastUpdated"))
        .and_then(|v| v.as_str())
        .and_then(crate::timefmt::parse_rfc3339);
    if updated > fetched.newest {
        fetched.newest = updated;
    }
    if let Ok(line) = serde_json::to_string(&resource) {
        fetched.lines.insert(id, line);
    }
}

/// Is this resource the signed-in patient's? A `subject` or `patient` reference to another
/// Patient (or a Patient with another id) is not mixed into this patient's files.
fn belongs_to(resource: &serde_json::Value, ty: &str, id: &str, patient: &str) -> bool {
    if ty == "Patient" {
        return id == patient;
    }
    ["subject", "patient"].iter().all(|field| {
        let Some(reference) = resource
            .get(field)
            .and_then(|f| f.get("reference"))
            .and_then(|r| r.as_str())
        else {
            return true;
        };
        match reference.trim_end_matches('/').rsplit_once("Patient/") {
            Some((_, other)) => other.split('/').next() == Some(patient),
            None => true,
        }
    })
}

/// The server's clock from its `Date` header, as RFC 3339.
fn server_time(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let date = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let t = httpdate::parse_http_date(date).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(crate::timefmt::unix_to_rfc3339(i64::try_from(secs).ok()?))
}

/// `mark` moved back by `secs` (unparsable marks are used as they are).
fn with_overlap(mark: &str, secs: i64) -> String {
    match crate::timefmt::parse_rfc3339(mark) {
        Some(t) => crate::timefmt::unix_to_rfc3339(t - secs),
        None => mark.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_and_dates() {
        assert_eq!(
            with_overlap("2026-01-01T00:02:00Z", 120),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(with_overlap("garbage", 120), "garbage");
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::DATE,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(server_time(&h).as_deref(), Some("1994-11-06T08:49:37Z"));
    }

    #[test]
    fn resources_are_checked_before_storing() {
        let mut f = Fetched {
            lines: Lines::new(),
            pages: 0,
            mark: None,
            newest: None,
            warnings: vec![],
        };
        add_resource(
            &mut f,
            "Condition",
            "p1",
            serde_json::json!({"resourceType": "Condition", "id": "c1"}),
        );
        add_resource(
            &mut f,
            "Condition",
            "p1",
            serde_json::json!({"resourceType": "Patient", "id": "p"}),
        );
        add_resource(
            &mut f,
            "Condition",
            "p1",
            serde_json::json!({"resourceType": "Condition", "id": "../x"}),
        );
        add_resource(
            &mut f,
            "Condition",
            "p1",
            serde_json::json!({"resourceType": "Condition"}),
        );
        add_resource(
            &mut f,
            "Condition",
            "p1",
            serde_json::json!({"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p2"}}),
        );
        add_resource(
            &mut f,
            "Condition",
            "p1",
            serde_json::json!({"resourceType": "Condition", "id": "c3", "subject": {"reference": "https://x/fhir/Patient/p1"}}),
        );
        assert_eq!(f.lines.len(), 2);
        assert_eq!(f.warnings.len(), 4);
        assert!(f.warnings.iter().any(|w| w.contains("another patient")));
        assert!(!belongs_to(&serde_json::json!({}), "Patient", "p2", "p1"));
    }
}
