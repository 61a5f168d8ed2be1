//! Fetching one resource type: the search chain and its pages, the category fan-out some
//! servers demand, recovery when paging stops short, and the checks every resource passes
//! before it is kept (its type, its id, its patient).

use super::bundle::{parse_page, valid_id, Page};
use super::completeness::Completeness;
use super::plan::TypePlan;
use super::progress::TypeProgress;
use super::resource::Resource;
use super::spool::Spool;
use super::Dropped;
use super::{fanout, MAX_PAGES, PAGE_SIZE};
use crate::fhir::client::{outcome_text, FhirClient, Parsed};
use anyhow::Result;
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use url::Url;

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
    /// While the type is searched category by category: what their first pages announced.
    categories: CategoryTotals,
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
            categories: CategoryTotals::default(),
        }
    }
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
    let since = plan.since.as_deref();
    let fetched = FetchedType::new(fhir.base(), search.spool_dir);
    if ty == "Patient" {
        return read_patient(fhir, patient, fetched).await;
    }
    let sink = Mutex::new(fetched);
    let categories = fanout::categories_for(ty);
    if plan.fan_out && categories.is_some() {
        let mut fetched = sink.into_inner().unwrap_or_else(PoisonError::into_inner);
        fetched.needs_category = true;
        let why = "the server requires a category (it refused the plain search before, or its provider preset says so)";
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
    let mut first = plain.chain(since, &[]).await?;
    if let ChainEnd::NeedsStatus(msg) = &first {
        first = by_status(&plain, msg).await?;
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
        ChainEnd::NeedsCategory(msg) | ChainEnd::NeedsStatus(msg) => {
            anyhow::bail!("the search was refused: {msg}")
        }
    };
    fan_out(search, plan, fetched, &why).await
}

/// "N of the M announced arrived" for a search whose paging fell short.
fn shortfall_note(fetched: &FetchedType) -> String {
    match fetched.announced {
        Some(total) => format!(
            "the server announced {total} but its paging delivered {}",
            fetched.spool.len()
        ),
        None => "the server's paging stopped early".to_string(),
    }
}

/// One type's plain search: whom it asks, for whom, since when, and where resources go (the
/// ways of asking again when it falls short take it whole).
struct TypeSearch<'a> {
    fhir: &'a FhirClient,
    ty: &'a str,
    patient: &'a str,
    since: Option<&'a str>,
    sink: &'a Sink,
    progress: &'a TypeProgress,
}

impl TypeSearch<'_> {
    /// The search since `since`, narrowed by `extra`.
    async fn chain(&self, since: Option<&str>, extra: &[(&str, &str)]) -> Result<ChainEnd> {
        let (fhir, ty, patient) = (self.fhir, self.ty, self.patient);
        chain(fhir, ty, patient, since, extra, self.sink, self.progress).await
    }
}

/// The search again with every status value of the type (some servers, and the ONC test kit,
/// refuse a search without `status`).
async fn by_status(search: &TypeSearch<'_>, refusal: &str) -> Result<ChainEnd> {
    let Some((param, values)) = fanout::statuses_for(search.ty) else {
        return Ok(ChainEnd::NeedsStatus(refusal.to_string()));
    };
    let all = values.join(",");
    let end = search.chain(search.since, &[(param, &all)]).await?;
    let mut f = lock(search.sink);
    f.warnings.push(format!(
        "the server requires a status ({refusal}); asked for every {param} value"
    ));
    if let ChainEnd::Done { shortfall: false } = end {
        f.completeness = Completeness::Recovered(format!(
            "the server requires a status: asked for every {param} value ({all})"
        ));
    }
    Ok(end)
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

/// One search per category, all at once, merged; then a `_summary=count` of the whole type
/// says whether other categories hold more. `why` says why the type is fanned out.
async fn fan_out(
    search: &Search<'_>,
    plan: &TypePlan,
    fetched: FetchedType,
    why: &str,
) -> Result<Outcome> {
    let (fhir, patient, progress) = (search.fhir, search.patient, &search.progress);
    let ty = plan.resource_type.as_str();
    let since = plan.since.as_deref();
    let (param, values) = fanout::categories_for(ty).unwrap_or(("category", &[]));
    let mut fetched = fetched;
    fetched.categories = CategoryTotals {
        searches: values.len(),
        ..CategoryTotals::default()
    };
    let sink = Mutex::new(fetched);
    let searches = values.iter().map(|value| {
        let sink = &sink;
        async move {
            let extra = [(param, *value)];
            let result = chain(fhir, ty, patient, since, &extra, sink, progress).await;
            (value, result)
        }
    });
    let (results, total) = futures_util::future::join(
        futures_util::future::join_all(searches),
        count_all(fhir, ty, patient, since),
    )
    .await;
    let mut fetched = sink.into_inner().unwrap_or_else(PoisonError::into_inner);
    for (value, result) in results {
        match result? {
            ChainEnd::Done { .. } => {}
            ChainEnd::Refused(why) | ChainEnd::NeedsCategory(why) | ChainEnd::NeedsStatus(why) => {
                fetched.warnings.push(format!("{param}={value}: {why}"));
            }
        }
    }
    // Whatever sits in other categories must not be lost silently.
    let have = fetched.spool.len() as u64;
    fetched.completeness = match total {
        Ok(total) if total > have => {
            let missing = format!(
                "the server holds {total} {ty} resources but the category queries found {have}: {} in other categories were not fetched",
                total - have
            );
            fetched.warnings.push(missing.clone());
            Completeness::Partial(format!("{why}; {missing}"))
        }
        Ok(total) => Completeness::Recovered(format!(
            "{why}: fetched category by category, and the server's count ({total}) agrees"
        )),
        Err(refused) => Completeness::Unverified(format!(
            "{why}: fetched category by category, and the server gives no count to check against ({refused})"
        )),
    };
    Ok(Outcome::Fetched(Box::new(fetched)))
}

/// The paging of a search ended before its announced total: ask again in `_lastUpdated` slices,
/// halving each slice that still comes up short, and merge.
async fn recover_by_dates(search: &TypeSearch<'_>) -> Result<()> {
    const MAX_SLICES: usize = 256;
    let (ty, since, sink) = (search.ty, search.since, search.sink);
    let before = lock(sink).spool.len();
    let lo = since.and_then(crate::datetime::parse_rfc3339).unwrap_or(0);
    let hi = crate::datetime::now_unix() + 86_400;
    let mut stack = vec![(lo, hi)];
    let mut slices = 0;
    let mut unresolved = 0;
    while let Some((lo, hi)) = stack.pop() {
        slices += 1;
        if slices > MAX_SLICES {
            unresolved += 1;
            break;
        }
        let ge = format!("ge{}", crate::datetime::unix_to_rfc3339(lo));
        let lt = format!("lt{}", crate::datetime::unix_to_rfc3339(hi));
        let params = [("_lastUpdated", ge.as_str()), ("_lastUpdated", lt.as_str())];
        // The slice's own shortfall warning would repeat the type's; keep the list short.
        let warnings_before = lock(sink).warnings.len();
        let result = search.chain(None, &params).await;
        lock(sink).warnings.truncate(warnings_before);
        if let ChainEnd::Done { shortfall: true } = result? {
            if hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                stack.push((mid, hi));
                stack.push((lo, mid));
            } else {
                unresolved += 1;
            }
        }
    }
    let mut fetched = lock(sink);
    let recovered = fetched.spool.len() - before;
    let have = fetched.spool.len() as u64;
    fetched.completeness = match fetched.announced {
        Some(total) if have < total => Completeness::Partial(format!(
            "the server announced {total} but its paging delivered {before}; re-queried in {slices} _lastUpdated slices and still have only {have}"
        )),
        _ if unresolved > 0 => Completeness::Unverified(format!(
            "the server's paging stopped early; re-queried in {slices} _lastUpdated slices, some of which still came up short"
        )),
        _ => Completeness::Recovered(format!(
            "the server's paging stopped early ({before} arrived); re-queried in {slices} _lastUpdated slices, which brought the other {recovered}"
        )),
    };
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

pub(super) enum ChainEnd {
    /// All pages read; `shortfall` when fewer arrived than `Bundle.total` announced.
    Done {
        shortfall: bool,
    },
    Refused(String),
    NeedsCategory(String),
    NeedsStatus(String),
}

/// One search and all its pages, merged into `sink`.
///
/// When the first page announces `Bundle.total` and its `next` link counts pages with an
/// offset or a page number, the remaining pages are requested all at once (bounded by the
/// client's window) instead of one after another; anything unexpected falls back to following
/// the `next` links.
pub(super) async fn chain(
    fhir: &FhirClient,
    ty: &str,
    patient: &str,
    since: Option<&str>,
    extra: &[(&str, &str)],
    sink: &Sink,
    progress: &TypeProgress,
) -> Result<ChainEnd> {
    let count = PAGE_SIZE.to_string();
    let since_value = since.map(|s| format!("ge{s}"));
    let mut params: Vec<(&str, &str)> = vec![("patient", patient)];
    params.extend_from_slice(extra);
    params.push(("_count", &count));
    if let Some(s) = &since_value {
        params.push(("_lastUpdated", s));
    }
    let url = crate::fhir_url::search(fhir.base(), ty, &params)?;
    let what = if extra.is_empty() {
        ty.to_string()
    } else {
        let q: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{ty}?{}", q.join("&"))
    };
    let resp = get_page(fhir, &url).await?;
    // One category of a fanned-out type (status retries within it are not counted again).
    let category_search = extra.len() == 1 && !fanout::is_status_param(extra[0].0);
    if !resp.status.is_success() {
        if category_search {
            lock(sink).category_answered(None);
        }
        let text = outcome_text(&resp.error_body).unwrap_or_default();
        if fanout::demands_category(resp.status.as_u16(), &text) {
            return Ok(ChainEnd::NeedsCategory(format!(
                "HTTP {}: {text}",
                resp.status.as_u16()
            )));
        }
        if fanout::demands_status(resp.status.as_u16(), &text)
            && !extra.iter().any(|(k, _)| fanout::is_status_param(k))
        {
            return Ok(ChainEnd::NeedsStatus(format!(
                "HTTP {}: {text}",
                resp.status.as_u16()
            )));
        }
        if let Some(skip) = refusal(resp.status.as_u16()) {
            return Ok(ChainEnd::Refused(skip));
        }
    }
    let mut paging = Paging {
        fhir,
        ty,
        patient,
        sink,
        progress,
        seen: HashSet::from([url.as_str().to_string()]),
        what,
        pages: 1,
        received: 0,
    };
    let first = page_of(resp, &paging.what, sink)?;
    let total = first.total;
    if extra.is_empty() {
        lock(sink).announced = total;
    } else if category_search {
        lock(sink).category_answered(total);
    }
    let first_len = first.resources.len();
    paging.received = first_len as u64;
    let mut next = first.next.clone();
    let planned = match (&next, total) {
        (Some(n), Some(t)) => page_urls(&url, n, first_len, t),
        _ => None,
    };
    paging.keep(first)?;
    if let Some(urls) = planned.filter(|u| u.len() > 1 && u.len() < max_pages()) {
        next = paging.planned(&urls, &url, first_len, next).await?;
    }
    paging.follow(next).await?;
    Ok(ChainEnd::Done {
        shortfall: paging.shortfall(total),
    })
}

/// One search being paged through.
struct Paging<'a> {
    fhir: &'a FhirClient,
    ty: &'a str,
    patient: &'a str,
    sink: &'a Sink,
    progress: &'a TypeProgress,
    /// The pages read (their URLs), to stop a loop of next links.
    seen: HashSet<String>,
    /// The search as messages name it (`Observation?category=laboratory`).
    what: String,
    pages: usize,
    received: u64,
}

impl Paging<'_> {
    fn keep(&self, page: Page) -> Result<()> {
        keep_page(page, self.ty, self.patient, self.sink, self.progress)
    }

    /// Requests pages 2…N at once (`urls`); the client's window bounds how many are on the
    /// wire, and each page is kept (spooled) as soon as it arrives, in whatever order, so
    /// memory holds the pages in flight, not the chain. Returns the next link still to follow:
    /// normally none (or what the last page links to); after a page that failed, the first
    /// page's (`first_next`), to follow the chain again from the start.
    async fn planned(
        &mut self,
        urls: &[Url],
        first: &Url,
        first_len: usize,
        first_next: Option<Url>,
    ) -> Result<Option<Url>> {
        use futures_util::StreamExt;
        let (fhir, sink, what) = (self.fhir, self.sink, self.what.clone());
        let what = what.as_str();
        let start = |(i, u)| async move { (i, fetch_page(fhir, u, what, sink).await) };
        // No more pages wait than the window could ever let out at once: a request waiting for
        // its turn is a future of about 2 KB (a million-resource record plans 5,000 pages).
        let at_once = fhir.window().max().max(crate::fhir::window::MULTIPLEXED);
        let mut waiting = urls.iter().enumerate();
        let mut answers: futures_util::stream::FuturesUnordered<_> =
            waiting.by_ref().take(at_once).map(start).collect();
        let mut ok = true;
        let mut last_next = None;
        while let Some((i, (u, page))) = answers.next().await {
            if let Some(next) = waiting.next() {
                answers.push(start(next));
            }
            match page {
                Ok(page) if ok => {
                    self.seen.insert(u.as_str().to_string());
                    self.pages += 1;
                    self.received += page.resources.len() as u64;
                    if i + 1 == urls.len() {
                        last_next = page.next.clone();
                    }
                    keep_page(page, self.ty, self.patient, self.sink, self.progress)?;
                }
                // After a page that failed, the rest are still kept (ids are deduplicated)
                // but the chain is followed again from the start to be sure.
                Ok(page) => keep_page(page, self.ty, self.patient, self.sink, self.progress)?,
                Err(_) => ok = false,
            }
        }
        drop(answers);
        if ok {
            // Normally the last page has no next link; one that does is followed.
            return Ok(last_next.filter(|n| !self.seen.contains(n.as_str())));
        }
        lock(self.sink).warnings.push(format!(
            "{}: fetching pages in parallel failed; followed the next links instead",
            self.what
        ));
        self.received = first_len as u64;
        self.seen.clear();
        self.seen.insert(first.as_str().to_string());
        self.pages = 1;
        Ok(first_next)
    }

    /// Follows `next` links one after another until there is none.
    async fn follow(&mut self, mut next: Option<Url>) -> Result<()> {
        while let Some(page_url) = next.take() {
            if !self.seen.insert(page_url.as_str().to_string()) {
                lock(self.sink).warnings.push(format!(
                    "{}: the server's next links loop; stopped following them",
                    self.what
                ));
                break;
            }
            let cap = max_pages();
            if self.pages >= cap {
                // What arrived may be any part of the record: the type fails, its previous
                // file and state mark stay as they were.
                anyhow::bail!(
                    "{}: the server still sent a next link after {cap} pages; stopped (it seems to page forever), the previous {} file is kept",
                    self.what,
                    self.ty
                );
            }
            let resp = get_page(self.fhir, &page_url).await?;
            let page = page_of(resp, &self.what, self.sink)?;
            self.pages += 1;
            self.received += page.resources.len() as u64;
            next = page.next.clone();
            self.keep(page)?;
        }
        Ok(())
    }

    /// Whether fewer resources arrived than `total` announced (then said in a warning).
    fn shortfall(&self, total: Option<u64>) -> bool {
        let Some(total) = total.filter(|t| self.received < *t) else {
            return false;
        };
        lock(self.sink).warnings.push(format!(
            "{}: the server reported {total} but sent {} ({} missing; its paging stopped early)",
            self.what,
            self.received,
            total - self.received
        ));
        true
    }
}

/// One page of a planned chain, fetched and parsed.
async fn fetch_page<'a>(
    fhir: &FhirClient,
    url: &'a Url,
    what: &str,
    sink: &Sink,
) -> (&'a Url, Result<Page>) {
    let page = match get_page(fhir, url).await {
        Ok(resp) if resp.status.is_success() => page_of(resp, what, sink),
        Ok(resp) => Err(anyhow::anyhow!("HTTP {}", resp.status.as_u16())),
        Err(e) => Err(e),
    };
    (url, page)
}

/// `GET url`, read as a search page (a body that is not a Bundle is fetched again).
async fn get_page(fhir: &FhirClient, url: &Url) -> Result<Parsed<Page>> {
    fhir.get_with(url, |body| parse_page(body, url)).await
}

/// A page's answer checked (counted in `sink`; its resources not kept yet).
fn page_of(resp: Parsed<Page>, what: &str, sink: &Sink) -> Result<Page> {
    let Some(page) = resp.body else {
        return Err(crate::fhir::client::refusal_of(resp.status, &resp.error_body, what).into());
    };
    let mark = server_time(&resp.headers);
    let mut f = lock(sink);
    if f.mark.is_none() {
        f.mark = mark;
    }
    f.pages += 1;
    Ok(page)
}

/// Keeps a page's resources (checked one by one) and its OperationOutcome texts.
fn keep_page(
    page: Page,
    ty: &str,
    patient: &str,
    sink: &Sink,
    progress: &TypeProgress,
) -> Result<()> {
    let mut f = lock(sink);
    for r in page.resources {
        add_resource(&mut f, ty, patient, r)?;
    }
    progress.kept(f.spool.len(), f.shown_total());
    f.warnings.extend(page.outcomes);
    Ok(())
}

/// The URLs of pages 2…N of a search whose first page (`first`, `page_len` entries) announced
/// `total` and linked `next`, when `next` visibly counts pages: one numeric parameter, not in
/// the first request, named like an offset (its value = `page_len`) or a page number (value 2).
/// `None` when the links are opaque (a cursor) or anything is ambiguous.
pub(super) fn page_urls(first: &Url, next: &Url, page_len: usize, total: u64) -> Option<Vec<Url>> {
    if page_len == 0 || next.origin() != first.origin() {
        return None;
    }
    let pages = total.div_ceil(page_len as u64);
    if pages <= 1 {
        return None;
    }
    let asked: Vec<(String, String)> = first.query_pairs().into_owned().collect();
    let pairs: Vec<(String, String)> = next.query_pairs().into_owned().collect();
    let mut found = None;
    for (i, (name, value)) in pairs.iter().enumerate() {
        let Ok(n) = value.parse::<u64>() else {
            continue;
        };
        if asked.iter().any(|(k, v)| k == name && v == value) || name == "_count" {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        let step = if n == page_len as u64
            && ["offset", "skip", "start", "from"]
                .iter()
                .any(|w| lower.contains(w))
        {
            (page_len as u64, page_len as u64)
        } else if n == 2 && lower.contains("page") {
            (2, 1)
        } else {
            continue;
        };
        if found.is_some() {
            return None;
        }
        found = Some((i, step));
    }
    let (index, (start, step)) = found?;
    let urls = (0..pages - 1)
        .map(|k| {
            let mut url = next.clone();
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (i, (name, value)) in pairs.iter().enumerate() {
                if i == index {
                    q.append_pair(name, &(start + k * step).to_string());
                } else {
                    q.append_pair(name, value);
                }
            }
            url.set_query(Some(&q.finish()));
            url
        })
        .collect();
    Some(urls)
}

/// [`MAX_PAGES`], or `FHIRDL_MAX_PAGES` when set (an undocumented hook for tests, which cannot
/// wait for 10,000 pages).
fn max_pages() -> usize {
    std::env::var("FHIRDL_MAX_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(MAX_PAGES)
}

/// `_summary=count` of the whole un-fanned search, or why the server gave none.
async fn count_all(
    fhir: &FhirClient,
    ty: &str,
    patient: &str,
    since: Option<&str>,
) -> Result<u64, String> {
    let since_value = since.map(|s| format!("ge{s}"));
    let mut params: Vec<(&str, &str)> = vec![("patient", patient), ("_summary", "count")];
    if let Some(s) = &since_value {
        params.push(("_lastUpdated", s));
    }
    let url = crate::fhir_url::search(fhir.base(), ty, &params).map_err(|e| e.to_string())?;
    let resp = fhir
        .get(&url)
        .await
        .map_err(|e| format!("the count request failed: {e:#}"))?;
    if !resp.status.is_success() {
        let text = outcome_text(&resp.body).unwrap_or_default();
        let text = if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        };
        return Err(format!(
            "its _summary=count answered HTTP {}{text}",
            resp.status.as_u16()
        ));
    }
    resp.body
        .get("total")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| "its _summary=count answer has no total".to_string())
}

/// 403 (and 404 for an unsupported type) mean "not for you": skipped, not failed.
fn refusal(status: u16) -> Option<String> {
    match status {
        403 => Some("access refused by the server (403)".into()),
        404 => Some("the server does not offer it (404)".into()),
        _ => None,
    }
}

/// Keeps one resource of a `ty` search, or names it as dropped (see [`refusal_of`]).
fn add_resource(
    fetched: &mut FetchedType,
    ty: &str,
    patient: &str,
    mut resource: Resource,
) -> Result<()> {
    if let Some(dropped) = refusal_of(ty, patient, &resource) {
        fetched.dropped.push(dropped);
        return Ok(());
    }
    let updated = resource
        .last_updated
        .as_deref()
        .and_then(crate::datetime::parse_rfc3339);
    if updated > fetched.newest {
        fetched.newest = updated;
    }
    let id = std::mem::take(&mut resource.id).unwrap_or_default();
    // A repeat (the same resource on two pages) is kept once; its references are known.
    if fetched
        .spool
        .insert(id, std::mem::take(&mut resource.line))?
    {
        super::references::collect_resource(&resource, &fetched.base, &mut fetched.refs);
    }
    Ok(())
}

/// Why a resource that came for `ty` is not stored, if it is not: it is not a resource, cannot
/// be read with confidence, is not of the type, has no id or an id that breaks the FHIR syntax,
/// or belongs to another patient.
pub(super) fn refusal_of(ty: &str, patient: &str, resource: &Resource) -> Option<Dropped> {
    let rt = resource.resource_type.as_str();
    let drop = |id: Option<&str>, reason: String| {
        Some(Dropped {
            resource_type: if rt.is_empty() { ty } else { rt }.to_string(),
            id: id.map(Dropped::shown_id),
            reason,
        })
    };
    if rt.is_empty() {
        return drop(
            None,
            format!("an entry of the {ty} results is not a resource"),
        );
    }
    let id = resource.id.as_deref();
    if let Some(problem) = &resource.problem {
        return drop(id, problem.clone());
    }
    if rt != ty {
        let reason = format!(
            "the {ty} search returned a {}; only {ty} resources are stored from it",
            crate::sanitize::clean(rt)
        );
        return drop(id, reason);
    }
    let Some(id) = id else {
        return drop(None, "it has no id".into());
    };
    if !valid_id(id) {
        return drop(
            Some(id),
            "its id breaks the FHIR id syntax ([A-Za-z0-9-.]{1,64})".into(),
        );
    }
    if let Some(other) = resource.other_owner(ty, id, patient) {
        return drop(
            Some(id),
            format!(
                "it belongs to another patient ({})",
                crate::sanitize::clean(&other)
            ),
        );
    }
    None
}

/// The server's clock from its `Date` header, as RFC 3339.
fn server_time(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let date = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let t = httpdate::parse_http_date(date).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(crate::datetime::unix_to_rfc3339(i64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_for_offsets_and_page_numbers() {
        let first = Url::parse("https://x/fhir/Observation?patient=p&_count=200").unwrap();
        let next =
            Url::parse("https://x/fhir/Observation?patient=p&_count=200&_offset=200").unwrap();
        let urls = page_urls(&first, &next, 200, 650).unwrap();
        let offsets: Vec<String> = urls
            .iter()
            .map(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "_offset")
                    .unwrap()
                    .1
                    .into_owned()
            })
            .collect();
        assert_eq!(offsets, ["200", "400", "600"]);
        // NextGen: page numbers, another path spelling.
        let ng =
            Url::parse("https://x/fhir/R4/Observation?patient=p&category=labs&page=2").unwrap();
        let urls = page_urls(&first, &ng, 25, 60).unwrap();
        assert_eq!(urls.len(), 2);
        assert!(urls[1].as_str().ends_with("page=3"), "{}", urls[1]);
        // Opaque cursors, ambiguous or mismatching numbers, other origins: not guessed.
        let cursor = Url::parse("https://x/fhir?_getpages=abc123&_bundletype=searchset").unwrap();
        assert!(page_urls(&first, &cursor, 200, 650).is_none());
        let odd = Url::parse("https://x/fhir/Observation?patient=p&_offset=150").unwrap();
        assert!(page_urls(&first, &odd, 200, 650).is_none());
        let two = Url::parse("https://x/fhir/Observation?skip=200&offset=200").unwrap();
        assert!(page_urls(&first, &two, 200, 650).is_none());
        let other = Url::parse("https://y/fhir/Observation?_offset=200").unwrap();
        assert!(page_urls(&first, &other, 200, 650).is_none());
        assert!(page_urls(&first, &next, 200, 200).is_none(), "one page");
        let hapi =
            Url::parse("https://x/fhir?_getpages=abc&_getpagesoffset=200&_count=200").unwrap();
        assert_eq!(page_urls(&first, &hapi, 200, 401).unwrap().len(), 2);
    }

    #[test]
    fn overlap_and_dates() {
        assert_eq!(
            super::super::plan::with_overlap("2026-01-01T00:02:00Z", 120),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(super::super::plan::with_overlap("garbage", 120), "garbage");
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::DATE,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(server_time(&h).as_deref(), Some("1994-11-06T08:49:37Z"));
    }

    #[test]
    fn resources_are_checked_before_storing_and_drops_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let base = Url::parse("https://x/fhir").unwrap();
        let mut f = FetchedType::new(&base, dir.path());
        for text in [
            r#"{"resourceType": "Condition", "id": "c1", "encounter": {"reference": "Encounter/e1"}}"#,
            r#"{"resourceType": "Patient", "id": "p"}"#,
            r#"{"resourceType": "Condition", "id": "../x"}"#,
            r#"{"resourceType": "Condition"}"#,
            r#"{"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p2"}}"#,
            r#"{"resourceType": "Condition", "id": "c3", "subject": {"reference": "https://x/fhir/Patient/p1"}}"#,
            r#"{"resourceType": "Condition", "id": ".."}"#,
            r#"[1]"#,
        ] {
            add_resource(&mut f, "Condition", "p1", Resource::from_text(text)).unwrap();
        }
        assert_eq!(f.spool.len(), 3, "c1, c3 and the legal id '..'");
        assert!(f.refs.contains("Encounter/e1"));
        let named: Vec<String> = f.dropped.iter().map(ToString::to_string).collect();
        assert_eq!(named.len(), 5, "{named:?}");
        assert!(
            named
                .iter()
                .any(|d| d.starts_with("Patient/p: the Condition search returned a Patient")),
            "{named:?}"
        );
        assert!(
            named
                .iter()
                .any(|d| d.starts_with("Condition/../x: its id breaks")),
            "{named:?}"
        );
        assert!(
            named.iter().any(|d| d == "Condition (no id): it has no id"),
            "{named:?}"
        );
        assert!(
            named
                .iter()
                .any(|d| d == "Condition/c2: it belongs to another patient (Patient/p2)"),
            "{named:?}"
        );
        assert!(
            named.iter().any(|d| d.contains("is not a resource")),
            "{named:?}"
        );
        let other = Resource::from_text(r#"{"resourceType": "Patient", "id": "p2"}"#);
        assert!(other.other_owner("Patient", "p2", "p1").is_some());
    }
}
