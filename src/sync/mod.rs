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
pub mod everything;
pub mod export;
pub mod fanout;
mod fetch;
pub mod freshness;
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
mod report;
pub mod resource;
mod resource_scan;
mod run;
pub mod spool;
pub mod state;
mod store;
mod unseen;

use crate::fhir::client::FhirClient;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;

pub use completeness::Completeness;
pub use error::Error;
pub use progress::{Observer, Quiet};
pub use report::{Counts, Dropped, FailureCause, Report, Strategy, TypeReport, TypeStatus};

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
    /// The quirks-list vendor the profile's provider preset names (its rules apply though the
    /// server's host and CapabilityStatement may not say).
    pub vendor: Option<String>,
    /// The practice the profile signs in to (`login --practice`), named in the manifest.
    pub practice: Option<String>,
    /// A type searched incrementally is fetched whole and compared ("reconciled") when its
    /// last whole fetch is older than this many days (`None`: never on its own). Incremental
    /// searches miss what servers change without moving `meta.lastUpdated`.
    pub reconcile_days: Option<u64>,
}

/// How often a type is reconciled unless `--reconcile-every` says otherwise (days).
pub const RECONCILE_DAYS: u64 = 7;

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
