//! When a type's plain search falls short or is refused: the search again with every status
//! value, category by category (checked against a `_summary=count` of the whole type), or in
//! `_lastUpdated` slices.

use super::paging::{chain, ChainEnd};
use super::{fanout, lock, CategoryTotals, FetchedType, Outcome, Search, TypeSearch};
use crate::fhir::client::{outcome_text, FhirClient};
use crate::sync::completeness::Completeness;
use crate::sync::plan::{Since, TypePlan};
use anyhow::Result;
use std::sync::{Mutex, PoisonError};

/// "N of the M announced arrived" for a search whose paging fell short.
pub(super) fn shortfall_note(fetched: &FetchedType) -> String {
    match fetched.announced {
        Some(total) => format!(
            "the server announced {total} but its paging delivered {}",
            fetched.spool.len()
        ),
        None => "the server's paging stopped early".to_string(),
    }
}

/// The search again with every status or every intent value of the type at once (some
/// servers, and the ONC test kit, refuse a search without `status`; athenahealth a
/// MedicationRequest search without `intent`): one search, the values joined by commas.
pub(super) async fn by_every_value(
    search: &TypeSearch<'_>,
    demand: fanout::Demand,
    refusal: &str,
) -> Result<ChainEnd> {
    let what = match demand {
        fanout::Demand::Intent => "an intent",
        _ => "a status",
    };
    let Some((param, all)) = demand.narrowed(search.ty, &[]) else {
        return Ok(match demand {
            fanout::Demand::Intent => ChainEnd::NeedsIntent(refusal.to_string()),
            _ => ChainEnd::NeedsStatus(refusal.to_string()),
        });
    };
    let end = search.chain(search.since, &[(param, &all)]).await?;
    let mut f = lock(search.sink);
    f.needs_every = Some(demand);
    f.warnings.push(format!(
        "the server requires {what} ({refusal}); asked for every {param} value"
    ));
    if let ChainEnd::Done { shortfall: false } = end {
        f.completeness = Completeness::Recovered(format!(
            "the server requires {what}: asked for every {param} value ({all})"
        ));
    }
    Ok(end)
}

/// One search per category, all at once, merged; then a `_summary=count` of the whole type
/// says whether other categories hold more. `why` says why the type is fanned out.
pub(super) async fn fan_out(
    search: &Search<'_>,
    plan: &TypePlan,
    fetched: FetchedType,
    why: &str,
) -> Result<Outcome> {
    let (fhir, patient, progress) = (search.fhir, search.patient, &search.progress);
    let ty = plan.resource_type.as_str();
    let since = plan.since.as_ref();
    let (param, all) = fanout::categories_for(ty).unwrap_or(("category", &[]));
    // Searches the server refused before are not sent again (`--full` tries them all).
    let values: Vec<&str> = all
        .iter()
        .copied()
        .filter(|v| !plan.skip_queries.contains(&format!("{param}={v}")))
        .collect();
    let mut fetched = fetched;
    fetched.refused_queries = plan
        .skip_queries
        .iter()
        .filter(|q| all.iter().any(|v| **q == format!("{param}={v}")))
        .cloned()
        .collect();
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
            ChainEnd::RefusedQuery(why) => {
                fetched.warnings.push(format!(
                    "{param}={value}: the server refused this search ({why}); what the other searches returned is stored"
                ));
                fetched.refused_queries.push(format!("{param}={value}"));
            }
            ChainEnd::Refused(why)
            | ChainEnd::NeedsCategory(why)
            | ChainEnd::NeedsStatus(why)
            | ChainEnd::NeedsIntent(why) => {
                fetched.warnings.push(format!("{param}={value}: {why}"));
            }
        }
    }
    let refused = refused_note(&fetched.refused_queries, &plan.skip_queries, all.len());
    // Whatever sits in other categories must not be lost silently.
    let have = fetched.spool.len() as u64;
    fetched.completeness = match total {
        Ok(total) if total > have => {
            let missing = format!(
                "the server holds {total} {ty} resources but the category queries found {have}: {} in other categories were not fetched",
                total - have
            );
            fetched.warnings.push(missing.clone());
            Completeness::Partial(format!("{why}; {missing}{refused}"))
        }
        Ok(total) => Completeness::Recovered(format!(
            "{why}: fetched category by category, and the server's count ({total}) agrees{refused}"
        )),
        Err(no_count) => Completeness::Unverified(format!(
            "{why}: fetched category by category, and the server gives no count to check against ({no_count}){refused}"
        )),
    };
    Ok(Outcome::Fetched(Box::new(fetched)))
}

/// What a fan-out says of the searches the server refuses: those refused in this run are
/// remembered; those not sent at all were known before (from an earlier run or fhirdl's
/// quirks list). Empty when none.
fn refused_note(refused: &[String], skipped: &[String], searches: usize) -> String {
    let (known, now): (Vec<&String>, Vec<&String>) =
        refused.iter().partition(|q| skipped.contains(q));
    let list = |qs: &[&String]| qs.iter().map(|q| q.as_str()).collect::<Vec<_>>().join(", ");
    let mut note = String::new();
    if !now.is_empty() {
        note.push_str(&format!(
            "; the server refuses {} of its {searches} searches ({}), remembered so later runs do not ask again (--full does)",
            now.len(),
            list(&now)
        ));
    }
    if !known.is_empty() {
        note.push_str(&format!(
            "; {} of its {searches} searches are known to be refused and were not sent ({}; learnt in an earlier run or from fhirdl's quirks list; --full sends them)",
            known.len(),
            list(&known)
        ));
    }
    note
}

/// The paging of a search ended before its announced total: ask again in `_lastUpdated` slices,
/// halving each slice that still comes up short, and merge.
pub(super) async fn recover_by_dates(search: &TypeSearch<'_>) -> Result<()> {
    const MAX_SLICES: usize = 256;
    let (ty, since, sink) = (search.ty, search.since, search.sink);
    let before = lock(sink).spool.len();
    let lo = since.and_then(Since::last_updated_unix).unwrap_or(0);
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
/// `_summary=count` of the whole un-fanned search, or why the server gave none.
async fn count_all(
    fhir: &FhirClient,
    ty: &str,
    patient: &str,
    since: Option<&Since>,
) -> Result<u64, String> {
    let since_pair = since.map(Since::pair);
    let mut params: Vec<(&str, &str)> = vec![("patient", patient), ("_summary", "count")];
    if let Some((name, value)) = &since_pair {
        params.push((name, value));
    }
    let url = fhir.search_url(ty, &params).map_err(|e| e.to_string())?;
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
