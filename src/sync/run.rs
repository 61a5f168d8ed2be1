//! One sync run, phase by phase: [`Run::open`] (lock and guard the folder), [`Run::plan`],
//! [`Run::fetch_and_store`] (every type at once; documents start as soon as a type that
//! carries them is stored), [`Run::close_references`], [`Run::finish_attachments`] and
//! [`Run::finish`]. Ctrl-C in any phase stops cleanly ([`Stopper`]).

use super::attachments;
use super::capabilities;
use super::export::Export;
use super::fetch::{fetch_type, Outcome, Search};
use super::manifest::{needs_rewrite, Manifest};
use super::plan::{self, TypePlan};
use super::progress::{Observer, Phase, PhaseProgress, TypeProgress};
use super::references::{self, Closing};
use super::state::{FileStamp, LastRun, State, TypeState};
use super::store::{store_type, StoredType};
use super::{Options, Report, TypeReport, TypeStatus};
use crate::datetime::now_rfc3339;
use crate::error::{Failure, Kind};
use crate::fhir::client::FhirClient;
use crate::fhir::version::FhirRelease;
use anyhow::Result;
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::task::JoinSet;

mod documents;
mod everything;
mod retry;
mod stop;

use documents::Documents;
use everything::EverythingRun;
use stop::{Merging, Stopper};

/// A sync between its phases.
pub(super) struct Run<'a> {
    fhir: FhirClient,
    patient: String,
    opts: &'a Options,
    observer: Arc<dyn Observer>,
    export: Arc<Export>,
    state: State,
    /// The server's CapabilityStatement (or DSTU2 Conformance).
    metadata: serde_json::Value,
    /// What fhirdl's quirks list knows of this server.
    known: crate::quirks::Known,
    started_at: String,
    /// The time superseded versions are recorded with in the history (the run's start).
    stamp: String,
    reports: Vec<TypeReport>,
    /// References of the resources fetched in this run.
    refs: BTreeSet<(String, String)>,
    /// References read while the searches still run (see [`Run::read_early`]).
    early: EarlyReads,
    /// Whether the references of everything stored before this run were followed (by an
    /// earlier run, or because nothing was stored): then only this run's resources need it, and
    /// their references are in `refs` without reading the files again.
    closed_at_open: bool,
    /// Types whose file changed after the state last saw it (a run stopped in between).
    dirty: HashSet<String>,
    /// Whether manifest.json must be computed again.
    changed_any: bool,
    /// What was outstanding when the run opened (see [`super::outstanding`]).
    outstanding_at_open: Vec<super::outstanding::Outstanding>,
    documents: Documents,
    warnings: Vec<String>,
    /// What the run says that is no problem (see [`super::Report::notes`]).
    notes: Vec<String>,
    /// What the run does with `Patient/$everything`.
    everything: EverythingRun,
    stopper: Stopper,
    ctrl_c: crate::interrupt::Interrupt,
}

/// References read while the searches run.
#[derive(Default)]
struct EarlyReads {
    /// The types whose search is still running: references to them wait until the type is
    /// stored (its search may bring them); references to a stored type that it does not hold
    /// (NextGen's uncategorized Conditions) are read while the other searches go on.
    in_flight: HashSet<String>,
    /// The granted scopes (references to types not granted are not read).
    scope: String,
    /// Referenced resources already asked for.
    asked: BTreeSet<(String, String)>,
    /// Ids held per referenced type (read once).
    held: std::collections::HashMap<String, std::sync::Arc<super::ids::IdSet>>,
    reads: JoinSet<(References, Result<references::Referenced>)>,
}

/// `(type, id)` of referenced resources.
type References = BTreeSet<(String, String)>;

/// What a finished type task hands back.
struct TypeDone {
    plan: TypePlan,
    incremental: bool,
    /// The incremental search parameter the server refused in this run (the type was then
    /// fetched whole).
    refused_since: Option<&'static str>,
    /// The resources came from `Patient/$everything`, not the type's search.
    everything: bool,
    result: Result<TypeResult>,
}

/// What storing a fetched type needs.
struct Storing<'f> {
    fhir: &'f FhirClient,
    patient: &'f str,
    export: Arc<Export>,
    opts: Options,
    stamp: String,
    merging: Arc<std::sync::atomic::AtomicUsize>,
}

impl Storing<'_> {
    /// Stores a fetched type off the async workers; then reads by id the stored resources a
    /// whole search not known to be complete did not return, and merges what the reads said
    /// (see [`super::unseen`]). `Err` is a task that failed.
    async fn store(
        self,
        plan: TypePlan,
        incremental: bool,
        fetched: super::fetch::FetchedType,
    ) -> Result<TypeResult> {
        let ty = plan.resource_type.clone();
        let (export, opts, stamp) = (self.export.clone(), self.opts.clone(), self.stamp.clone());
        let stored = self
            .blocking(move || store_type(&export, &plan, incremental, fetched, &opts, &stamp))
            .await?;
        let stored = match stored {
            Ok(s) if !s.unseen.is_empty() => s,
            other => return Ok(TypeResult::of(other)),
        };
        let answers = super::unseen::read(self.fhir, self.patient, &ty, &stored.unseen).await;
        let base = self.fhir.base().clone();
        let (export, opts, stamp) = (self.export.clone(), self.opts.clone(), self.stamp.clone());
        let checked = self
            .blocking(move || {
                super::unseen::apply(&export, &ty, answers, &opts, &stamp, &base, stored)
            })
            .await?;
        Ok(TypeResult::of(checked))
    }

    /// Runs a merge off the async workers, counted as running from before the spawn until the
    /// closure ends or is dropped, so a Ctrl-C can wait for merges that cannot be aborted.
    async fn blocking(
        &self,
        merge: impl FnOnce() -> Result<StoredType> + Send + 'static,
    ) -> Result<Result<StoredType>> {
        let busy = Merging::start(&self.merging);
        tokio::task::spawn_blocking(move || {
            let _busy = busy;
            merge()
        })
        .await
        .map_err(|e| anyhow::anyhow!("a sync task failed: {e}"))
    }
}

/// What a type's fetch learnt of the server, kept in its state.
struct Learnt {
    needs_category: bool,
    needs_every: Option<super::fanout::Demand>,
    granted: Option<String>,
    refused_queries: Vec<String>,
    refused_since: Vec<String>,
}

enum TypeResult {
    Stored(Box<StoredType>),
    Skipped(String),
    /// Storing failed (the search itself went through).
    StoreFailed(anyhow::Error),
}

impl TypeResult {
    /// A type stored, or whose storing failed.
    fn of(stored: Result<StoredType>) -> TypeResult {
        match stored {
            Ok(s) => TypeResult::Stored(Box::new(s)),
            Err(e) => TypeResult::StoreFailed(e),
        }
    }
}

impl<'a> Run<'a> {
    /// Opens the export folder (taking its lock, waiting with `--wait`) and refuses a folder
    /// that holds another patient's or server's record.
    pub(super) async fn open(
        fhir: FhirClient,
        patient: &str,
        opts: &'a Options,
        observer: Arc<dyn Observer>,
    ) -> Result<Run<'a>> {
        let started_at = now_rfc3339();
        let export = Arc::new(match opts.wait {
            Some(max) => Export::open_waiting(&opts.out, max).await?,
            None => Export::open(&opts.out)?,
        });
        // The command's one listener: a Ctrl-C that came before this run (between two
        // profiles) or between two waits is not lost.
        let ctrl_c = crate::interrupt::Interrupt::listen()?;
        let mut state = export.load_state()?;
        let base = fhir.base().clone();
        let other = !state.patient.is_empty()
            && (state.patient != patient || state.fhir_base != base.as_str());
        if other {
            return Err(Failure::new(
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
        let stopper = Stopper {
            out: opts.out.clone(),
            observer: Some(observer.clone()),
            ..Stopper::default()
        };
        let closed_at_open = state.references_closed || state.types.is_empty();
        let outstanding_at_open = state.outstanding.clone();
        Ok(Run {
            fhir,
            patient: patient.to_string(),
            opts,
            observer,
            export,
            state,
            metadata: serde_json::Value::Null,
            known: crate::quirks::Known::default(),
            stamp: started_at.clone(),
            started_at,
            reports: Vec::new(),
            refs: BTreeSet::new(),
            early: EarlyReads::default(),
            closed_at_open,
            dirty: HashSet::new(),
            changed_any: false,
            outstanding_at_open,
            documents: Documents {
                waiting_for: Vec::new(),
                needed: false,
                task: None,
                ready: None,
                report: attachments::Report::default(),
                release: FhirRelease::Unknown,
                rereading: Vec::new(),
                held_back: Vec::new(),
            },
            warnings: Vec::new(),
            notes: Vec::new(),
            everything: EverythingRun::default(),
            stopper,
            ctrl_c,
        })
    }

    /// The server's CapabilityStatement (Conformance on DSTU2): from a cache when a run or a
    /// sign-in of the last 24 hours read it from the same server (saves a round trip before the
    /// first search), else read and cached. `--full` always reads it; a run that meets a sign
    /// of change (a planned type not offered, a refused `_lastUpdated`) drops the caches.
    async fn capabilities(&mut self) -> Result<serde_json::Value> {
        let base = self.fhir.base().to_string();
        let caches = self.capability_caches();
        if !self.opts.full {
            if let Some(cached) = caches.iter().find_map(|f| capabilities::load(f, &base)) {
                return Ok(cached);
            }
        }
        let url = crate::fhir_url::join(self.fhir.base(), "metadata")?;
        let metadata = self.fhir.get(&url).await?.body;
        if !self.opts.dry_run {
            capabilities::save(&caches[0], &base, &metadata)?;
            // The shared copy is a convenience: one that cannot be written costs a round trip.
            if let Some(shared) = caches.get(1) {
                let _ = capabilities::save(shared, &base, &metadata);
            }
        }
        Ok(metadata)
    }

    /// Where the statement is cached: the export's copy first, then the data folder's.
    fn capability_caches(&self) -> Vec<std::path::PathBuf> {
        let base = self.fhir.base().as_str();
        let mut files = vec![capabilities::in_export(&self.opts.out)];
        if let Some(data) = &self.opts.data_dir {
            files.push(capabilities::for_server(data, base));
        }
        files
    }

    /// Reads the server's capabilities and plans every type: which ones, incremental or whole,
    /// category by category or not; types left out are reported as skipped.
    pub(super) async fn plan(&mut self) -> Result<Vec<TypePlan>> {
        // A Ctrl-C before this run began (while an earlier profile finished, or this one's
        // sign-in was refreshed) stops it before it asks for anything.
        if self.ctrl_c.is_set() {
            return Err(self.stopper.clone().stop().await);
        }
        self.metadata = self.capabilities().await?;
        self.known = crate::quirks::Known::built_in_for(
            &self.metadata,
            self.fhir.base(),
            self.opts.vendor.as_deref(),
        );
        self.check_required_params()?;
        let scope = self.fhir.session().credentials().await.scope;
        self.early.scope = scope.clone();
        let (types, skipped) = plan::plan(&self.metadata, &scope, self.opts.types.as_deref());
        // Types the sign-in did not grant are named once, as a note, never as errors.
        let (not_granted, skipped): (Vec<_>, Vec<_>) = skipped
            .into_iter()
            .partition(|s| s.reason == plan::NOT_GRANTED);
        if !not_granted.is_empty() {
            let names: Vec<&str> = not_granted
                .iter()
                .map(|s| s.resource_type.as_str())
                .collect();
            self.warnings.push(format!(
                "{}: {}; run `fhirdl login` again and allow them to include them",
                plan::NOT_GRANTED,
                names.join(", ")
            ));
        }
        self.observer.planned(types.len());
        for s in skipped {
            self.reports
                .push(TypeReport::skipped(&s.resource_type, s.reason));
        }
        self.observer.message(&format!(
            "Syncing {} resource types, and the resources they refer to, into {}…",
            types.len(),
            self.opts.out.display()
        ));
        self.documents.release = FhirRelease::from_version(
            self.metadata
                .get("fhirVersion")
                .and_then(serde_json::Value::as_str),
        );
        self.documents.rereading = attachments::TYPES
            .into_iter()
            .filter(|ty| {
                self.state
                    .outstanding
                    .iter()
                    .any(|o| o.resource_type == *ty && o.readable_id().is_some())
            })
            .collect();
        // A resource an earlier run could not store and cannot read by id comes again only
        // with its type's whole search.
        let whole: BTreeSet<&str> = self
            .state
            .outstanding
            .iter()
            .filter(|o| o.needs_whole_search())
            .map(|o| o.resource_type.as_str())
            .collect();
        let now = crate::datetime::now_unix();
        // The plain search is tried first; a type whose plain search was refused for want
        // of a category in an earlier run is fanned out at once.
        Ok(types
            .iter()
            .map(|ty| {
                let held = self.state.types.get(ty);
                let hints = plan::Hints {
                    fan_out: held.is_some_and(|t| t.needs_category)
                        || self.known.categories_required.contains(ty),
                    refused_since: self.known.refused_incremental(ty),
                    every: held.and_then(|t| t.needs_every),
                };
                TypePlan::new(
                    &self.metadata,
                    ty,
                    held,
                    self.opts.full,
                    self.opts.since.as_deref(),
                    &hints,
                )
                .within(&scope, self.state.types.get(ty))
                .skipping(held, self.known.refused_searches(ty), self.opts.full)
                .reconciling(held, self.opts.reconcile_days, now)
            })
            .map(|plan| match whole.contains(plan.resource_type.as_str()) {
                true => TypePlan {
                    since: None,
                    ..plan
                },
                false => plan,
            })
            .collect())
    }

    /// A server the quirks list says wants a parameter on every search (a practice on a shared
    /// base) is not asked anything without it: every search would be refused.
    fn check_required_params(&self) -> Result<()> {
        let given = self.fhir.search_param_names();
        let missing = self.known.missing_search_params(&given);
        let Some((name, example)) = missing.first() else {
            return Ok(());
        };
        Err(crate::error::Failure::new(
            crate::error::Kind::Usage,
            format!(
                "this server ({}) answers only searches that carry {name}, and the profile has none",
                self.known.vendors.join(", ")
            ),
        )
        .hint(format!(
            "sign in again with it: fhirdl login --search-param {name}=<yours, like {example}> (it is kept in the profile)"
        ))
        .into())
    }

    /// Fetches and stores every planned type at once (the client's window bounds the requests
    /// in flight), recording each in the state as soon as its file is on disk.
    pub(super) async fn fetch_and_store(&mut self, plans: Vec<TypePlan>) -> Result<()> {
        self.everything_mode(&plans);
        let mut fetched = self.everything_instead().await?;
        self.prepare_documents(&plans);
        self.early.in_flight = plans.iter().map(|p| p.resource_type.clone()).collect();
        let mut tasks = JoinSet::new();
        for plan in plans {
            let ready = fetched.as_mut().map(|by_type| {
                by_type.remove(&plan.resource_type).unwrap_or_else(|| {
                    super::fetch::FetchedType::new(self.fhir.base(), &self.opts.out.join(".fhirdl"))
                })
            });
            tasks.spawn(self.type_task(plan, ready));
        }
        if self.documents.waiting_for.is_empty()
            && self.state.types.contains_key("DocumentReference")
        {
            self.start_documents();
        }
        loop {
            let stopper = self.stopper.clone();
            let joined = tokio::select! {
                j = tasks.join_next() => j,
                _ = self.ctrl_c.recv() => {
                    tasks.abort_all();
                    return Err(stopper.stop().await);
                }
            };
            let Some(joined) = joined else { break };
            self.stopper.saved.fetch_add(1, Ordering::SeqCst);
            let done = joined.map_err(|e| anyhow::anyhow!("a sync task failed: {e}"))?;
            self.type_done(done)?;
            self.read_early()?;
        }
        self.compare_everything().await
    }

    /// The task of one type: fetch (unless `ready` holds what `Patient/$everything` brought of
    /// it), then store off the async workers.
    fn type_task(
        &self,
        plan: TypePlan,
        ready: Option<super::fetch::FetchedType>,
    ) -> impl std::future::Future<Output = TypeDone> + 'static {
        let fhir = self.fhir.clone();
        let patient = self.patient.clone();
        let export = self.export.clone();
        let opts = self.opts.clone();
        let stamp = self.stamp.clone();
        let merging = self.stopper.merging.clone();
        let observer = self.observer.clone();
        async move {
            let spool_dir = opts.out.join(".fhirdl");
            let search = Search {
                fhir: &fhir,
                patient: &patient,
                spool_dir: &spool_dir,
                progress: TypeProgress::new(observer, &plan.resource_type),
            };
            let everything = ready.is_some();
            let (incremental, refused_since, fetched) = match ready {
                Some(f) => (false, None, Ok(Outcome::Fetched(Box::new(f)))),
                None => fetch_with_fallback(&search, &plan).await,
            };
            let result = match fetched {
                Ok(Outcome::Skipped(reason)) => Ok(TypeResult::Skipped(reason)),
                Ok(Outcome::Fetched(f)) => {
                    let storing = Storing {
                        fhir: &fhir,
                        patient: &patient,
                        export,
                        opts,
                        stamp,
                        merging,
                    };
                    storing.store(plan.clone(), incremental, *f).await
                }
                Err(e) => Err(e),
            };
            TypeDone {
                plan,
                incremental,
                refused_since,
                everything,
                result,
            }
        }
    }

    /// Records a finished type: its report, its state (once its file is on disk), its
    /// references; starts the documents when the last type carrying them is done.
    fn type_done(&mut self, done: TypeDone) -> Result<()> {
        let ty = done.plan.resource_type.clone();
        self.early.in_flight.remove(&ty);
        let report = match done.result {
            Ok(TypeResult::Stored(mut stored)) => {
                let refs = references::from_keys(std::mem::take(&mut stored.refs));
                // Merges of the types referred to note their ids from now on.
                let types: BTreeSet<&str> = refs.iter().map(|(ty, _)| ty.as_str()).collect();
                self.export.referenced(types);
                self.keep_unheld(&ty, refs);
                let mark = stored.mark.clone();
                let mut refused_since = done.plan.refused_since.clone();
                refused_since.extend(done.refused_since.map(str::to_string));
                let learnt = Learnt {
                    needs_category: stored.needs_category,
                    needs_every: stored.needs_every,
                    granted: done.plan.granted(),
                    refused_queries: std::mem::take(&mut stored.refused_queries),
                    refused_since,
                };
                self.everything.search_bytes += stored.bytes;
                let mut report = TypeReport::stored(&ty, done.incremental, *stored);
                report.strategy = match (done.incremental, done.plan.reconcile) {
                    _ if done.everything => crate::sync::Strategy::Everything,
                    (true, _) => crate::sync::Strategy::Incremental,
                    (false, true) => crate::sync::Strategy::Reconcile,
                    (false, false) => crate::sync::Strategy::Whole,
                };
                report.incremental_by = done
                    .plan
                    .since
                    .as_ref()
                    .filter(|_| done.incremental)
                    .map(|s| s.param.to_string());
                report.fresh_as_of = match done.incremental {
                    true => self
                        .state
                        .types
                        .get(&ty)
                        .and_then(|t| t.reconciled_at.clone()),
                    false => Some(self.started_at.clone()),
                };
                let noted = self.note_stored(&ty, done.incremental, &report);
                self.record_type(&ty, mark, learnt, &report, noted)?;
                report
            }
            Ok(TypeResult::Skipped(reason)) => TypeReport::skipped(&ty, reason),
            Ok(TypeResult::StoreFailed(e)) => self.type_failed(&ty, done.incremental, &e),
            // Without a sign-in nothing else can work: stop here. Nor without a certificate
            // fhirdl trusts (the hint names `FHIRDL_CA_FILE`; "try again later" would not do).
            Err(e) if crate::auth::Error::is_login_required(&e) => return Err(e),
            Err(e) if crate::tls::refused_certificate_of(&e).is_some() => return Err(e),
            Err(e) => self.type_failed(&ty, done.incremental, &e),
        };
        if capabilities::shows_change(&report) {
            for file in self.capability_caches() {
                capabilities::forget(&file);
            }
        }
        self.observer.type_finished(&report);
        self.reports.push(report);
        self.documents.waiting_for.retain(|t| t != &ty);
        if let Some(&carrier) = attachments::TYPES.iter().find(|t| **t == ty) {
            // Its documents go out now, while the other searches run.
            match self.documents.ready.is_some() {
                true => self.documents.tell_ready(&[carrier]),
                false => self.start_documents(),
            }
        }
        Ok(())
    }

    /// Saves a stored type's mark and count in the state (unless nothing changed, its
    /// outstanding entries included: `noted` says they changed). The entries go to disk in the
    /// same save as the mark that moves past them.
    fn record_type(
        &mut self,
        ty: &str,
        mark: Option<String>,
        learnt: Learnt,
        report: &TypeReport,
        noted: bool,
    ) -> Result<()> {
        let changed = report.status == TypeStatus::Ok;
        let before = self
            .state
            .types
            .get(ty)
            .and_then(|t| t.completeness.as_ref());
        if before != Some(&report.completeness) {
            // The manifest says each type's completeness.
            self.changed_any = true;
        }
        if changed {
            self.changed_any = true;
            if attachments::TYPES.contains(&ty) {
                self.documents.needed = true;
            }
        }
        // Nothing changed: keep the old mark (still correct) and write nothing.
        let keep = !changed
            && !noted
            && self.state.types.get(ty).is_some_and(|t| {
                t.count == report.counts.stored
                    && t.needs_category == learnt.needs_category
                    && t.needs_every == learnt.needs_every
                    && t.refused_queries == learnt.refused_queries
                    && t.refused_since == learnt.refused_since
                    && t.reconciled_at == report.fresh_as_of
                    && t.granted == learnt.granted
                    && t.completeness.as_ref() == Some(&report.completeness)
            });
        if self.opts.dry_run || keep {
            return Ok(());
        }
        self.state.types.insert(
            ty.to_string(),
            TypeState {
                mark,
                count: report.counts.stored,
                synced_at: now_rfc3339(),
                file: FileStamp::of(&self.export.ndjson_path(ty)),
                needs_category: learnt.needs_category,
                needs_every: learnt.needs_every,
                refused_queries: learnt.refused_queries,
                refused_since: learnt.refused_since,
                completeness: Some(report.completeness.clone()),
                granted: learnt.granted,
                reconciled_at: report.fresh_as_of.clone(),
            },
        );
        // New resources may refer to ones not held yet.
        self.state.references_closed &= !changed;
        self.export.save_state(&self.state)
    }

    /// Adds `refs` to the references still to follow, leaving out those a merge of this run
    /// has shown held, and drops those that `stored` (the type just merged) now holds: the set
    /// stays as small as what may be missing (a million-resource export's references were
    /// 16 MB of it).
    fn keep_unheld(&mut self, stored: &str, refs: BTreeSet<(String, String)>) {
        let mut noted: std::collections::HashMap<
            String,
            Option<std::sync::Arc<super::ids::IdSet>>,
        > = std::collections::HashMap::new();
        for (ty, id) in refs {
            let held = noted
                .entry(ty.clone())
                .or_insert_with(|| self.export.noted_ids(&ty));
            if !held.as_ref().is_some_and(|h| h.contains(&id)) {
                self.refs.insert((ty, id));
            }
        }
        if let Some(held) = self.export.noted_ids(stored) {
            self.refs
                .retain(|(ty, id)| ty != stored || !held.contains(id));
        }
    }

    /// Starts reading, while the searches still run, the resources the stored types refer to
    /// that no search still running may bring (Practitioner, Organization, Location, …, and
    /// those a stored type's search did not bring) and that are not held yet: they are on the
    /// wire in the shadow of the longest search instead of
    /// after it.
    fn read_early(&mut self) -> Result<()> {
        if self.opts.dry_run {
            return Ok(());
        }
        let mut wanted = BTreeSet::new();
        for (ty, id) in &self.refs {
            if self.early.in_flight.contains(ty)
                || self.early.asked.contains(&(ty.clone(), id.clone()))
                || !references::readable(&self.early.scope, ty)
            {
                continue;
            }
            if !self.early.held.contains_key(ty) {
                let ids = self.export.id_set(ty)?;
                self.early.held.insert(ty.clone(), ids);
            }
            if !self.early.held.get(ty).is_some_and(|h| h.contains(id)) {
                wanted.insert((ty.clone(), id.clone()));
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        self.early.asked.extend(wanted.iter().cloned());
        let fhir = self.fhir.clone();
        let singly = references::read_singly(&self.state);
        self.early.reads.spawn(async move {
            let read = references::fetch(&fhir, &wanted, &singly).await;
            (wanted, read)
        });
        Ok(())
    }

    /// Reads the referenced resources not held yet (see [`references::close`]), starting with
    /// what the early reads brought.
    pub(super) async fn close_references(&mut self) -> Result<()> {
        let stopper = self.stopper.clone();
        let progress = PhaseProgress::start(self.observer.clone(), Phase::References);
        let mut reads = std::mem::take(&mut self.early.reads);
        let gather = async {
            let mut early = Vec::new();
            while let Some(joined) = reads.join_next().await {
                let (asked, read) =
                    joined.map_err(|e| anyhow::anyhow!("a reference task failed: {e}"))?;
                // A batch that failed is read again by the rounds below.
                if let Ok(read) = read {
                    early.push((asked, read));
                }
            }
            anyhow::Ok(early)
        };
        let early = tokio::select! {
            early = gather => early?,
            _ = self.ctrl_c.recv() => return Err(stopper.stop().await),
        };
        let closing = references::close(Closing {
            fhir: &self.fhir,
            export: &self.export,
            state: &mut self.state,
            refs: std::mem::take(&mut self.refs),
            scan_all: self.opts.full || !self.dirty.is_empty() || !self.closed_at_open,
            pretty: self.opts.pretty,
            recorded_at: &self.started_at,
            scope: &self.early.scope,
            early,
            warnings: &mut self.warnings,
            progress: &progress,
        });
        // Ctrl-C while references are read still stops cleanly: every merge is atomic and the
        // state is saved after each one.
        let added = tokio::select! {
            added = closing => added?,
            _ = self.ctrl_c.recv() => return Err(stopper.stop().await),
        };
        progress.finish();
        for (ty, added) in added {
            self.changed_any |= added.new > 0;
            match self.reports.iter_mut().find(|r| r.resource_type == ty) {
                Some(r) => r.add_referenced(added.new, added.stored),
                None => self
                    .reports
                    .push(TypeReport::referenced(&ty, added.new, added.stored)),
            }
        }
        Ok(())
    }

    /// Reports the types held from earlier runs, rewrites the manifest when something changed,
    /// and saves the last run.
    pub(super) fn finish(mut self) -> Result<Report> {
        self.observer.finished();
        for (ty, t) in &self.state.types {
            if !self.reports.iter().any(|r| &r.resource_type == ty) {
                let mut held = TypeReport::referenced(ty, 0, t.count);
                if let Some(c) = &t.completeness {
                    held.completeness = c.clone();
                }
                self.reports.push(held);
            }
        }
        self.outstanding_into_reports();
        self.reports
            .sort_by(|a, b| a.resource_type.cmp(&b.resource_type));
        // The manifest hashes every file: only when something changed (in this run, or in one
        // that stopped before finishing), or it is missing or unfinished.
        let dry_run = self.opts.dry_run;
        if !dry_run && (self.changed_any || needs_rewrite(&self.opts.out)) {
            let stored: Vec<String> = self.state.types.keys().cloned().collect();
            let mut header = self.manifest_header();
            header.completeness = self
                .reports
                .iter()
                .map(|r| (r.resource_type.clone(), r.completeness.clone()))
                .collect();
            header.freshness = super::report::freshness(&self.reports);
            // A folder that could not take this run's files may not take the manifest either:
            // the types' storage failures say so already, and the run ends with them.
            if let Err(e) = self.export.write_manifest(header, &stored) {
                if !self
                    .reports
                    .iter()
                    .any(|r| r.cause == Some(super::FailureCause::Storage))
                {
                    return Err(e);
                }
                self.warnings
                    .push(format!("manifest.json was not rewritten: {e:#}"));
            }
        }
        let report = self.report();
        if !dry_run {
            self.export.save_last_run(&LastRun {
                finished_at: report.finished_at.clone(),
                resources: report.types.iter().map(|t| t.counts.stored).sum(),
                requests: report.requests,
                failed: report.failed().iter().map(|s| s.to_string()).collect(),
                failed_documents: report.attachments.failures.clone(),
                dropped: report.dropped().into_iter().cloned().collect(),
                completeness: report
                    .types
                    .iter()
                    .map(|t| (t.resource_type.clone(), t.completeness.clone()))
                    .collect(),
                outstanding: report.outstanding().into_iter().cloned().collect(),
                freshness: super::report::freshness(&report.types),
            })?;
        }
        Ok(report)
    }

    fn manifest_header(&self) -> Manifest {
        Manifest {
            generator: Some(concat!("fhirdl ", env!("CARGO_PKG_VERSION")).to_string()),
            fhir_base: Some(self.fhir.base().to_string()),
            fhir_version: self
                .metadata
                .get("fhirVersion")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            patient: Some(self.patient.clone()),
            practice: self.opts.practice.clone(),
            synced_at: Some(now_rfc3339()),
            ..Manifest::default()
        }
    }

    fn report(&mut self) -> Report {
        let counters = self.fhir.counters();
        Report {
            out: self.opts.out.clone(),
            fhir_base: self.fhir.base().to_string(),
            patient: self.patient.clone(),
            started_at: self.started_at.clone(),
            finished_at: now_rfc3339(),
            dry_run: self.opts.dry_run,
            requests: counters.requests.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
            bytes: counters.bytes.load(Ordering::Relaxed),
            known_server: self.known.vendors.clone(),
            types: std::mem::take(&mut self.reports),
            attachments: std::mem::take(&mut self.documents.report),
            warnings: std::mem::take(&mut self.warnings),
            notes: std::mem::take(&mut self.notes),
        }
    }
}

/// Fetches a type; an incremental query the server refuses for its `_lastUpdated` is repeated
/// whole (and compared). Returns whether the fetch was incremental in the end.
/// A type's fetch: its granted queries when the sign-in narrowed it (see [`super::granted`]),
/// else its search (or the Patient read).
async fn fetch_planned(search: &Search<'_>, plan: &TypePlan) -> Result<Outcome> {
    match &plan.granted_queries {
        Some(queries) if plan.resource_type != "Patient" => {
            let fetched = super::fetch::FetchedType::new(search.fhir.base(), search.spool_dir);
            super::granted::fetch(search, plan, queries, fetched).await
        }
        _ => fetch_type(search, plan).await,
    }
}

async fn fetch_with_fallback(
    search: &Search<'_>,
    plan: &TypePlan,
) -> (bool, Option<&'static str>, Result<Outcome>) {
    let result = fetch_planned(search, plan).await;
    // A server that cannot search by a date parameter answers 400 to it (whatever its
    // words); the same search whole is what it can do.
    let refused = matches!(&result, Err(e) if crate::fhir::Error::status_of(e) == Some(400));
    let Some(since) = plan.since.as_ref().filter(|_| refused) else {
        return (plan.incremental(), None, result);
    };
    let whole = TypePlan {
        since: None,
        ..plan.clone()
    };
    let param = since.param;
    let result = fetch_planned(search, &whole).await.map(|o| match o {
        Outcome::Fetched(mut f) => {
            f.warnings.push(format!(
                "the server refused {param}; fetched whole and compared (later runs do not ask by {param} again; --full does)"
            ));
            Outcome::Fetched(f)
        }
        other => other,
    });
    // Remembered only when the whole search went through: then the parameter was the cause.
    let learnt = result.is_ok().then_some(param);
    (false, learnt, result)
}
