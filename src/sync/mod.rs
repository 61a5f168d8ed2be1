//! `sync`: bring the patient's record in the export folder up to date.
//!
//! A run is a sequence of named phases ([`run::Run`]): open the folder and guard it (lock, one
//! patient per folder), plan the types ([`plan::TypePlan`]), fetch and store every type at once
//! (each type's file is replaced only after its whole search arrived, its state mark only after
//! its file is on disk), close the record over its references, save the documents, and finish
//! (manifest, last run, report). A type that fails is reported and the others finish.

pub mod attachments;
pub mod bundle;
pub mod capabilities;
pub mod completeness;
mod error;
pub mod export;
pub mod fanout;
mod fetch;
mod granted;
pub mod history;
pub mod ids;
pub mod manifest;
pub mod merge;
pub mod naming;
pub mod ndjson;
pub mod outstanding;
pub mod plan;
pub mod progress;
pub mod references;
pub mod resource;
mod resource_scan;
mod run;
pub mod spool;
pub mod state;
mod store;

use crate::fhir::client::FhirClient;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

pub use error::Error;
pub use progress::{Observer, Quiet};

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
    /// Requests in flight at most (over HTTP/1.1), and documents downloaded at once.
    pub concurrency: usize,
    /// `--concurrency` was given: the window never grows past it, even over HTTP/2.
    pub concurrency_chosen: bool,
    pub dry_run: bool,
    pub attachments: bool,
    /// Wait this long for another sync of the same folder to finish.
    pub wait: Option<std::time::Duration>,
    /// fhirdl's data folder, where the server's CapabilityStatement is cached across exports
    /// (see [`capabilities`]); `None` keeps it in the export only.
    pub data_dir: Option<PathBuf>,
    /// Types the provider's preset says need a category (searched by category at once).
    pub categories_required: Vec<String>,
}

/// How a type ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TypeStatus {
    /// Stored, and its content changed.
    #[default]
    Ok,
    /// Stored (or left as it was), nothing changed.
    Unchanged,
    /// Not fetched: not granted, refused (403) or not offered (404).
    Skipped,
    /// Its search or its storing failed; its previous file and mark are kept.
    Failed,
}

/// Why a type failed: decides the exit code (a disk that cannot be written is not the server's
/// fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureCause {
    /// The server, the network, or what the server sent.
    Fetch,
    /// The export folder could not be written (disk full, read-only, not permitted).
    Storage,
}

/// A resource the server returned that is not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Dropped {
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub reason: String,
}

impl Dropped {
    /// An id as the report shows it: control characters removed, and cut after 64 characters
    /// (the longest legal id) with the length said, so a hostile id cannot flood the summary.
    pub fn shown_id(id: &str) -> String {
        let chars = id.chars().filter(|c| !c.is_control()).count();
        let clean = crate::sanitize::clean(id);
        if chars <= 64 {
            return clean;
        }
        let head: String = clean.chars().take(64).collect();
        format!("{head}… ({chars} characters)")
    }
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{}/{id}: {}", self.resource_type, self.reason),
            None => write!(f, "{} (no id): {}", self.resource_type, self.reason),
        }
    }
}

/// What a type's resources did in this run.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct Counts {
    pub fetched: usize,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Of the unchanged: stored text an older fhirdl had printed again, now replaced by the
    /// server's exact text (same meaning).
    #[serde(skip_serializing_if = "is_zero")]
    pub upgraded: usize,
    pub removed: usize,
    /// Resources in the type's file afterwards.
    pub stored: usize,
    pub pages: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub use completeness::Completeness;

#[derive(Debug, Clone, Serialize, Default)]
pub struct TypeReport {
    pub resource_type: String,
    pub status: TypeStatus,
    /// How complete the type's copy is after this run (see [`Completeness`]).
    pub completeness: Completeness,
    #[serde(flatten)]
    pub counts: Counts,
    pub incremental: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<FailureCause>,
    /// Resources the server returned that were not stored, each named.
    pub dropped: Vec<Dropped>,
    /// Everything of the type not stored after this run (this run's drops, documents and
    /// failure, and what earlier runs could not store), each with when it was first seen.
    pub outstanding: Vec<outstanding::Outstanding>,
    pub warnings: Vec<String>,
}

/// Why a type was read without being searched.
const REFERENCED: &str = "read because other resources refer to them";

impl TypeReport {
    /// A type that was fetched and stored: `Ok` when its content changed.
    fn stored(resource_type: &str, incremental: bool, stored: store::StoredType) -> TypeReport {
        TypeReport {
            resource_type: resource_type.to_string(),
            status: if stored.changed {
                TypeStatus::Ok
            } else {
                TypeStatus::Unchanged
            },
            counts: stored.counts,
            incremental,
            completeness: match stored.dropped.len() {
                0 => stored.completeness,
                n => stored.completeness.and(Completeness::Partial(format!(
                    "{n} resources the server returned were not stored (each is named)"
                ))),
            },
            dropped: stored.dropped,
            warnings: stored.warnings,
            ..TypeReport::default()
        }
    }

    fn skipped(resource_type: &str, reason: String) -> TypeReport {
        TypeReport {
            resource_type: resource_type.to_string(),
            status: TypeStatus::Skipped,
            completeness: Completeness::Skipped(reason.clone()),
            reason: Some(reason),
            ..TypeReport::default()
        }
    }

    /// A type whose search or storing failed with `error`.
    fn failed(resource_type: &str, incremental: bool, error: &anyhow::Error) -> TypeReport {
        TypeReport {
            resource_type: resource_type.to_string(),
            status: TypeStatus::Failed,
            completeness: Completeness::Partial(
                "this run's search failed; the copy from the previous run is kept".into(),
            ),
            incremental,
            reason: Some(format!("{error:#}")),
            cause: Some(if crate::error::is_storage_error(error) {
                FailureCause::Storage
            } else {
                FailureCause::Fetch
            }),
            ..TypeReport::default()
        }
    }

    /// A type not searched, read only because other resources refer to it; `new` of them
    /// arrived in this run.
    fn referenced(resource_type: &str, new: usize, stored: usize) -> TypeReport {
        TypeReport {
            resource_type: resource_type.to_string(),
            status: if new > 0 {
                TypeStatus::Ok
            } else {
                TypeStatus::Unchanged
            },
            counts: Counts {
                fetched: new,
                new,
                stored,
                ..Counts::default()
            },
            reason: Some(REFERENCED.into()),
            ..TypeReport::default()
        }
    }

    /// The references phase added `new` resources to a searched type (said in the
    /// completeness of a type whose search is not known to be whole: they are what the search
    /// missed).
    fn add_referenced(&mut self, new: usize, stored: usize) {
        if new > 0 {
            let note = format!("{new} more arrived only because other resources refer to them");
            self.completeness = std::mem::take(&mut self.completeness).noting(&note);
        }
        self.counts.new += new;
        self.counts.fetched += new;
        self.counts.stored = stored;
        if new > 0 && self.status == TypeStatus::Unchanged {
            self.status = TypeStatus::Ok;
        }
    }
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
            .filter(|t| t.status == TypeStatus::Failed)
            .map(|t| t.resource_type.as_str())
            .collect()
    }

    /// Every type, every resource and every document that should have been saved was, in this
    /// run and in every earlier one.
    pub fn is_complete(&self) -> bool {
        self.failed().is_empty()
            && self.attachments.failed == 0
            && self.dropped().is_empty()
            && self.outstanding().is_empty()
    }

    /// Everything not stored after this run, earlier runs' included.
    pub fn outstanding(&self) -> Vec<&outstanding::Outstanding> {
        self.types.iter().flat_map(|t| &t.outstanding).collect()
    }

    /// What is still not stored from earlier runs that this run's own lists (its drops, its
    /// failed types and documents) do not name already.
    pub fn carried_over(&self) -> Vec<&outstanding::Outstanding> {
        use outstanding::Kind;
        let dropped = self.dropped();
        let failed = self.failed();
        self.outstanding()
            .into_iter()
            .filter(|o| match o.kind {
                Kind::Resource => !dropped.iter().any(|d| {
                    d.resource_type == o.resource_type
                        && d.id == o.id
                        && (o.readable_id().is_some() || d.reason == o.reason)
                }),
                Kind::Document => !self
                    .attachments
                    .failures
                    .iter()
                    .any(|p| o.file.as_deref() == Some(p.file.as_str())),
                Kind::Type => !failed.contains(&o.resource_type.as_str()),
            })
            .collect()
    }

    /// Every resource the server returned that was not stored.
    pub fn dropped(&self) -> Vec<&Dropped> {
        self.types.iter().flat_map(|t| &t.dropped).collect()
    }

    /// The first type that failed because the folder could not be written, if any.
    pub fn storage_failure(&self) -> Option<&TypeReport> {
        self.types
            .iter()
            .find(|t| t.cause == Some(FailureCause::Storage))
    }
}

/// Syncs the record of `patient` through `fhir` into `opts.out`, telling `observer` how it goes.
pub async fn sync(
    fhir: FhirClient,
    patient: &str,
    opts: &Options,
    observer: Arc<dyn Observer>,
) -> Result<Report> {
    let mut run = run::Run::open(fhir, patient, opts, observer).await?;
    let plans = run.plan().await?;
    run.fetch_and_store(plans).await?;
    if !opts.dry_run {
        run.retry_outstanding().await?;
        run.close_references().await?;
        run.finish_attachments().await?;
    }
    run.finish()
}
