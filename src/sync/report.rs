//! What a sync reports: per type how it ended ([`TypeReport`]: its [`TypeStatus`], [`Counts`],
//! [`Completeness`], what was dropped or is still outstanding), and for the whole run
//! ([`Report`]) the requests, the documents and the warnings. The summary, `--json`,
//! `.fhirdl/last_run.json` and the manifest are all made from it.

use super::attachments;
use super::completeness::Completeness;
pub use super::freshness::{Freshness, Strategy};
use super::outstanding::Outstanding;
use super::store;
use serde::Serialize;
use std::path::PathBuf;

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

/// The freshness of every type the run searched (types only read for references, or held
/// from earlier runs and not searched now, are left out).
pub fn freshness(reports: &[TypeReport]) -> std::collections::BTreeMap<String, Freshness> {
    reports
        .iter()
        .filter(|r| r.fresh_as_of.is_some() || r.incremental_by.is_some())
        .map(|r| {
            let f = Freshness {
                strategy: r.strategy,
                incremental_by: r.incremental_by.clone(),
                fresh_as_of: r.fresh_as_of.clone(),
            };
            (r.resource_type.clone(), f)
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TypeReport {
    pub resource_type: String,
    pub status: TypeStatus,
    /// How complete the type's copy is after this run (see [`Completeness`]).
    pub completeness: Completeness,
    #[serde(flatten)]
    pub counts: Counts,
    pub incremental: bool,
    /// How the type was fetched: `incremental` (what changed since the mark), `whole` (no
    /// mark, `--full`, or the server cannot search by date) or `reconcile` (whole and compared,
    /// because the last whole fetch was too long ago).
    pub strategy: Strategy,
    /// The search parameter an incremental fetch went by: `_lastUpdated`, or a date search
    /// parameter of the type (`date`, `authoredon`, …) where the server has no `_lastUpdated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental_by: Option<String>,
    /// When the type was last fetched whole and compared: its copy is fresh as of then, edits
    /// included (incremental runs since then add what changed by `meta.lastUpdated`, or what
    /// is new by a date search parameter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh_as_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<FailureCause>,
    /// Resources the server returned that were not stored, each named.
    pub dropped: Vec<Dropped>,
    /// Everything of the type not stored after this run (this run's drops, documents and
    /// failure, and what earlier runs could not store), each with when it was first seen.
    pub outstanding: Vec<Outstanding>,
    pub warnings: Vec<String>,
}

/// Why a type was read without being searched.
const REFERENCED: &str = "read because other resources refer to them";

impl TypeReport {
    /// A type that was fetched and stored: `Ok` when its content changed.
    pub(super) fn stored(
        resource_type: &str,
        incremental: bool,
        stored: store::StoredType,
    ) -> TypeReport {
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

    pub(super) fn skipped(resource_type: &str, reason: String) -> TypeReport {
        TypeReport {
            resource_type: resource_type.to_string(),
            status: TypeStatus::Skipped,
            completeness: Completeness::Skipped(reason.clone()),
            reason: Some(reason),
            ..TypeReport::default()
        }
    }

    /// A type whose search or storing failed with `error`.
    pub(super) fn failed(
        resource_type: &str,
        incremental: bool,
        error: &anyhow::Error,
    ) -> TypeReport {
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
    pub(super) fn referenced(resource_type: &str, new: usize, stored: usize) -> TypeReport {
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
    pub(super) fn add_referenced(&mut self, new: usize, stored: usize) {
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
    /// The vendors in fhirdl's quirks list this server was recognised as (their rules shaped
    /// the plan; `fhirdl providers --quirks` lists them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub known_server: Vec<String>,
    pub types: Vec<TypeReport>,
    pub attachments: attachments::Report,
    pub warnings: Vec<String>,
    /// What the run did that a reader may want to know and that is no problem (how
    /// `Patient/$everything` compared with the searches, that it was used).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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
    pub fn outstanding(&self) -> Vec<&Outstanding> {
        self.types.iter().flat_map(|t| &t.outstanding).collect()
    }

    /// What is still not stored from earlier runs that this run's own lists (its drops, its
    /// failed types and documents) do not name already.
    pub fn carried_over(&self) -> Vec<&Outstanding> {
        use super::outstanding::Kind;
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
