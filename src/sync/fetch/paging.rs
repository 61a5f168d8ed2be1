//! One search and all its pages: the first page, then the rest requested at once when their
//! URLs can be told in advance, else the `next` links followed one after another; each page
//! checked and its resources kept as it arrives.

use super::checks::add_resource;
use super::{fanout, lock, Sink};
use crate::fhir::client::{outcome_text, FhirClient, Parsed};
use crate::sync::bundle::{parse_page, Page};
use crate::sync::plan::Since;
use crate::sync::progress::TypeProgress;
use crate::sync::{MAX_PAGES, PAGE_SIZE};
use anyhow::Result;
use std::collections::HashSet;
use url::Url;

pub(in crate::sync) enum ChainEnd {
    /// All pages read; `shortfall` when fewer arrived than `Bundle.total` announced.
    Done {
        shortfall: bool,
    },
    Refused(String),
    NeedsCategory(String),
    NeedsStatus(String),
    /// Refused for want of `intent` (athenahealth's MedicationRequest).
    NeedsIntent(String),
    /// A search narrowed by a parameter (one category, one status value) the server refused
    /// with 400 or 422: it costs only this search (Epic refuses some Observation categories).
    RefusedQuery(String),
}

/// One search and all its pages, merged into `sink`.
///
/// When the first page announces `Bundle.total` and its `next` link counts pages with an
/// offset or a page number, the remaining pages are requested all at once (bounded by the
/// client's window) instead of one after another; anything unexpected falls back to following
/// the `next` links.
pub(in crate::sync) async fn chain(
    fhir: &FhirClient,
    ty: &str,
    patient: &str,
    since: Option<&Since>,
    extra: &[(&str, &str)],
    sink: &Sink,
    progress: &TypeProgress,
) -> Result<ChainEnd> {
    let count = PAGE_SIZE.to_string();
    let since_pair = since.map(Since::pair);
    let mut params: Vec<(&str, &str)> = vec![("patient", patient)];
    params.extend_from_slice(extra);
    params.push(("_count", &count));
    if let Some((name, value)) = &since_pair {
        params.push((name, value));
    }
    let url = fhir.search_url(ty, &params)?;
    let what = if extra.is_empty() {
        ty.to_string()
    } else {
        let q: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{ty}?{}", q.join("&"))
    };
    let resp = get_page(fhir, &url).await?;
    // One category of a fanned-out type (status retries within it are not counted again).
    let category_search =
        extra.len() == 1 && !fanout::is_status_param(extra[0].0) && extra[0].0 != "intent";
    if !resp.status.is_success() {
        if category_search {
            lock(sink).category_answered(None);
        }
        let text = outcome_text(&resp.error_body).unwrap_or_default();
        let code = resp.status.as_u16();
        if let Some(demand) = fanout::Demand::of(code, &text, extra) {
            let why = format!("HTTP {code}: {text}");
            return Ok(match demand {
                fanout::Demand::Category => ChainEnd::NeedsCategory(why),
                fanout::Demand::Status => ChainEnd::NeedsStatus(why),
                fanout::Demand::Intent => ChainEnd::NeedsIntent(why),
            });
        }
        if let Some(skip) = refusal(resp.status.as_u16()) {
            return Ok(ChainEnd::Refused(skip));
        }
        if !extra.is_empty() && matches!(resp.status.as_u16(), 400 | 422) {
            return Ok(ChainEnd::RefusedQuery(format!(
                "HTTP {}: {text}",
                resp.status.as_u16()
            )));
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
    f.bytes += resp.bytes;
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

/// 403 (and 404 for an unsupported type) mean "not for you": skipped, not failed.
pub(super) fn refusal(status: u16) -> Option<String> {
    match status {
        403 => Some("access refused by the server (403)".into()),
        404 => Some("the server does not offer it (404)".into()),
        _ => None,
    }
}

/// The server's clock from its `Date` header, as RFC 3339.
pub(super) fn server_time(headers: &reqwest::header::HeaderMap) -> Option<String> {
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
            crate::sync::plan::with_overlap("2026-01-01T00:02:00Z", 120),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(crate::sync::plan::with_overlap("garbage", 120), "garbage");
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::DATE,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(server_time(&h).as_deref(), Some("1994-11-06T08:49:37Z"));
    }
}
