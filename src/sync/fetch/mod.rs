//! Fetching one resource type: the Patient by a read, any other type by its search, and what
//! the searches of a type bring back ([`FetchedType`]). The search chain and its pages are in
//! [`paging`], the ways of asking again when a search falls short or is refused in
//! [`recovery`], and the checks every resource passes before it is kept (its type, its id, its
//! patient) in [`checks`].

mod checks;
mod paging;
mod recovery;

use super::completeness::Completeness;
use super::plan::{Since, TypePlan};
use super::progress::TypeProgress;
use super::resource::Resource;
use super::spool::Spool;
use super::{fanout, Dropped};
use crate::fhir::client::FhirClient;
use anyhow::Result;
use checks::add_resource;
use paging::{refusal, server_time};
use recovery::{by_every_value, fan_out, recover_by_dates, shortfall_note};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use url::Url;

pub(super) use checks::refusal_of;
pub(super) use paging::{chain, ChainEnd};

/// What the searches of one type brought back.
pub(super) struct FetchedType {
    /// The resources, by id, spilled to disk in sorted runs when there are many.
    pub(super) spool: Spool,
    /// What the fetched resources refer to (on the FHIR server, as `Type/id`), for closing
    /// references.
    pub(super) refs: HashSet<String>,
    base: Url,
    pub(super) pages: usize,
    /// The server's time (HTTP `Date`) at the start of the search.
    pub(super) mark: Option<String>,
    /// The newest `meta.lastUpdated` among the fetched resources (Unix seconds).
    pub(super) newest: Option<i64>,
    /// `Bundle.total` of the type's plain search, when the server announced one.
    announced: Option<u64>,
    /// Resources the server returned that are not stored, each named.
    pub(super) dropped: Vec<Dropped>,
    pub(super) warnings: Vec<String>,
    /// How complete the fetched set is (see [`Completeness`]).
    pub(super) completeness: Completeness,
    /// The server refused the plain search for want of a category (remembered in the state so
    /// that later runs fan out at once).
    pub(super) needs_category: bool,
    /// The server refused the plain search for want of a status or an intent (remembered so
    /// that later runs ask for every value at once).
    pub(super) needs_every: Option<fanout::Demand>,
    /// The narrowed searches (`category=procedure`) the server refused in this run or an
    /// earlier one: remembered, so later runs do not ask again (until `--full`).
    pub(super) refused_queries: Vec<String>,
    /// While the type is searched category by category: what their first pages announced.
    categories: CategoryTotals,
    /// Bytes of the search pages as received (what the per-type plan costs).
    pub(super) bytes: u64,
}

/// The total a fanned-out type shows on its progress line: the sum of what each category's
/// first page announced, once every category search has had its first answer (categories may
/// overlap, so the sum is at least what arrives and the bar is never full too early). Unknown
/// when a category announced no total or was refused.
#[derive(Default)]
struct CategoryTotals {
    searches: usize,
    answered: usize,
    sum: Option<u64>,
}

impl FetchedType {
    /// The total the progress line shows: the plain search's `Bundle.total`, else the
    /// categories' sum (see [`CategoryTotals`]).
    fn shown_total(&self) -> Option<u64> {
        let c = &self.categories;
        self.announced.or_else(|| {
            (c.searches > 0 && c.answered == c.searches)
                .then_some(c.sum)
                .flatten()
        })
    }

    /// Notes the first answer of one category search (`total` None when it announced none or
    /// was refused).
    fn category_answered(&mut self, total: Option<u64>) {
        let c = &mut self.categories;
        c.sum = match (c.answered, c.sum, total) {
            (0, _, t) => t,
            (_, Some(s), Some(t)) => Some(s + t),
            _ => None,
        };
        c.answered += 1;
    }
}

pub(super) enum Outcome {
    Fetched(Box<FetchedType>),
    Skipped(String),
}

impl FetchedType {
    pub(super) fn new(base: &Url, spool_dir: &Path) -> FetchedType {
        FetchedType {
            spool: Spool::new(spool_dir),
            refs: HashSet::new(),
            base: base.clone(),
            pages: 0,
            mark: None,
            newest: None,
            announced: None,
            dropped: Vec::new(),
            warnings: Vec::new(),
            completeness: Completeness::Complete,
            needs_category: false,
            needs_every: None,
            refused_queries: Vec::new(),
            categories: CategoryTotals::default(),
            bytes: 0,
        }
    }
}

/// Keeps one resource of type `ty` that came otherwise than by its search
/// (`Patient/$everything`), after the checks every searched resource passes.
pub(super) fn keep_resource(
    fetched: &mut FetchedType,
    ty: &str,
    patient: &str,
    resource: Resource,
) -> Result<()> {
    add_resource(fetched, ty, patient, resource)
}

/// The server's clock from an answer's `Date` header, as RFC 3339.
pub(super) fn answered_at(headers: &reqwest::header::HeaderMap) -> Option<String> {
    server_time(headers)
}

/// A `FetchedType` that parallel searches of one type add to (locked only between awaits).
pub(super) type Sink = Mutex<FetchedType>;

pub(super) fn lock(sink: &Sink) -> std::sync::MutexGuard<'_, FetchedType> {
    sink.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Who searches, for whom, and where fetched resources wait.
pub(super) struct Search<'a> {
    pub(super) fhir: &'a FhirClient,
    pub(super) patient: &'a str,
    /// `.fhirdl/` of the export: spool files.
    pub(super) spool_dir: &'a Path,
    pub(super) progress: TypeProgress,
}

/// Fetches the resources of `plan`'s type: the Patient by a read, any other type by its
/// search (category by category when the server demands it).
pub(super) async fn fetch_type(search: &Search<'_>, plan: &TypePlan) -> Result<Outcome> {
    let (fhir, patient, progress) = (search.fhir, search.patient, &search.progress);
    let ty = plan.resource_type.as_str();
    let since = plan.since.as_ref();
    let fetched = FetchedType::new(fhir.base(), search.spool_dir);
    if ty == "Patient" {
        return read_patient(fhir, patient, fetched).await;
    }
    let sink = Mutex::new(fetched);
    let categories = fanout::categories_for(ty);
    if plan.fan_out && categories.is_some() {
        let mut fetched = sink.into_inner().unwrap_or_else(PoisonError::into_inner);
        fetched.needs_category = true;
        let why = "the server requires a category (it refused the plain search before, or its provider preset or fhirdl's quirks list says so)";
        return fan_out(search, plan, fetched, why).await;
    }
    let plain = TypeSearch {
        fhir,
        ty,
        patient,
        since,
        sink: &sink,
        progress,
    };
    let mut first = match plan.every {
        Some(demand) => {
            let why = "an earlier run learnt the server refuses the search without it";
            by_every_value(&plain, demand, why).await?
        }
        None => plain.chain(since, &[]).await?,
    };
    if let ChainEnd::NeedsStatus(msg) = &first {
        first = by_every_value(&plain, fanout::Demand::Status, msg).await?;
    }
    if let ChainEnd::NeedsIntent(msg) = &first {
        first = by_every_value(&plain, fanout::Demand::Intent, msg).await?;
    }
    if matches!(first, ChainEnd::Done { shortfall: true }) && categories.is_none() && plan.dates_ok
    {
        recover_by_dates(&plain).await?;
    }
    let mut fetched = sink.into_inner().unwrap_or_else(PoisonError::into_inner);
    let why = match first {
        ChainEnd::Done { shortfall: false } => return Ok(Outcome::Fetched(Box::new(fetched))),
        ChainEnd::Done { shortfall: true } if categories.is_none() => {
            if !plan.dates_ok {
                let note = shortfall_note(&fetched);
                fetched.completeness = Completeness::Partial(format!(
                    "{note}, and the server cannot be asked by date to recover the rest"
                ));
            }
            return Ok(Outcome::Fetched(Box::new(fetched)));
        }
        ChainEnd::Done { shortfall: true } => {
            fetched.warnings.push(format!(
                "{ty}: re-queried category by category to recover what the paging left out"
            ));
            format!(
                "{}; re-queried category by category",
                shortfall_note(&fetched)
            )
        }
        ChainEnd::Refused(why) => return Ok(Outcome::Skipped(why)),
        ChainEnd::NeedsCategory(msg) if categories.is_some() => {
            fetched.needs_category = true;
            fetched.warnings.push(format!(
                "the server requires a category ({msg}); fetched category by category"
            ));
            "the server requires a category".to_string()
        }
        ChainEnd::NeedsCategory(msg)
        | ChainEnd::NeedsStatus(msg)
        | ChainEnd::NeedsIntent(msg)
        | ChainEnd::RefusedQuery(msg) => {
            anyhow::bail!("the search was refused: {msg}")
        }
    };
    fan_out(search, plan, fetched, &why).await
}

/// One type's plain search: whom it asks, for whom, since when, and where resources go (the
/// ways of asking again when it falls short take it whole).
struct TypeSearch<'a> {
    fhir: &'a FhirClient,
    ty: &'a str,
    patient: &'a str,
    since: Option<&'a Since>,
    sink: &'a Sink,
    progress: &'a TypeProgress,
}

impl TypeSearch<'_> {
    /// The search since `since`, narrowed by `extra`.
    async fn chain(&self, since: Option<&Since>, extra: &[(&str, &str)]) -> Result<ChainEnd> {
        let (fhir, ty, patient) = (self.fhir, self.ty, self.patient);
        chain(fhir, ty, patient, since, extra, self.sink, self.progress).await
    }
}

/// `Patient/<id>`: the patient's own resource, read rather than searched.
async fn read_patient(
    fhir: &FhirClient,
    patient: &str,
    mut fetched: FetchedType,
) -> Result<Outcome> {
    let resp = Resource::fetch(fhir, "Patient", patient).await?;
    if let Some(skip) = refusal(resp.status.as_u16()) {
        return Ok(Outcome::Skipped(skip));
    }
    let Some(resource) = resp.body else {
        let what = format!("Patient/{patient}");
        return Err(crate::fhir::client::refusal_of(resp.status, &resp.error_body, &what).into());
    };
    fetched.pages = 1;
    fetched.mark = server_time(&resp.headers);
    add_resource(&mut fetched, "Patient", patient, resource)?;
    Ok(Outcome::Fetched(Box::new(fetched)))
}
