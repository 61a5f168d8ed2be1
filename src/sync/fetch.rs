//! Fetching one resource type: the search chain and its pages, the category fan-out some
//! servers demand, recovery when paging stops short, and the checks every resource passes
//! before it is kept (its type, its id, its patient).

use super::bundle::{parse_page, valid_id};
use super::export::Lines;
use super::{fanout, MAX_PAGES, PAGE_SIZE};
use crate::fhir::client::{outcome_text, resource_url, FhirClient};
use anyhow::Result;
use std::collections::HashSet;
use url::Url;

pub(super) struct Fetched {
    pub(super) lines: Lines,
    pub(super) pages: usize,
    /// The server's time (HTTP `Date`) at the start of the search.
    pub(super) mark: Option<String>,
    /// The newest `meta.lastUpdated` among the fetched resources (Unix seconds).
    pub(super) newest: Option<i64>,
    pub(super) warnings: Vec<String>,
}

pub(super) enum Outcome {
    Fetched(Fetched),
    Skipped(String),
}

pub(super) async fn fetch_type(
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
        let cap = max_pages();
        if pages >= cap {
            // What arrived may be any part of the record: the type fails, its previous file
            // and state mark stay as they were.
            anyhow::bail!(
                "{what}: the server still sent a next link after {cap} pages; stopped (it seems to page forever), the previous {ty} file is kept"
            );
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

/// [`MAX_PAGES`], or `FHIRDL_MAX_PAGES` when set (an undocumented hook for tests, which cannot
/// wait for 10,000 pages).
fn max_pages() -> usize {
    std::env::var("FHIRDL_MAX_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(MAX_PAGES)
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
    if rt.is_empty() {
        fetched.warnings.push(format!(
            "ignored an entry of the {ty} results that is not a resource"
        ));
        return;
    }
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
pub(super) fn with_overlap(mark: &str, secs: i64) -> String {
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
