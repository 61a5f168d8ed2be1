//! A type granted only through SMART v2 granular scopes (`patient/Observation.rs?category=laboratory`):
//! one search per granted query, merged without duplicates, and nothing else — no plain search,
//! no category fan-out and no `_summary=count` of the whole type, which the server would refuse
//! and which would ask for more than the patient allowed. The type's report says that its
//! completeness is limited by the granted scopes.

use super::completeness::Completeness;
use super::fetch::{chain, lock, ChainEnd, FetchedType, Outcome, Search, Sink};
use super::plan::TypePlan;
use anyhow::Result;
use std::sync::{Mutex, PoisonError};

/// Fetches `plan`'s type with exactly the `queries` granted.
pub(super) async fn fetch(
    search: &Search<'_>,
    plan: &TypePlan,
    queries: &[Vec<(String, String)>],
    fetched: FetchedType,
) -> Result<Outcome> {
    let ty = plan.resource_type.as_str();
    let since = plan.since.as_ref();
    let sink: Sink = Mutex::new(fetched);
    let searches = queries.iter().map(|query| {
        let sink = &sink;
        async move {
            let extra: Vec<(&str, &str)> = query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let result = chain(
                search.fhir,
                ty,
                search.patient,
                since,
                &extra,
                sink,
                &search.progress,
            )
            .await;
            (describe(query), result)
        }
    });
    let results = futures_util::future::join_all(searches).await;
    let mut short = Vec::new();
    for (query, result) in results {
        match result? {
            ChainEnd::Done { shortfall: false } => {}
            ChainEnd::Done { shortfall: true } => short.push(query),
            ChainEnd::Refused(why)
            | ChainEnd::NeedsCategory(why)
            | ChainEnd::NeedsStatus(why)
            | ChainEnd::NeedsIntent(why)
            | ChainEnd::RefusedQuery(why) => {
                lock(&sink).warnings.push(format!("{query}: {why}"));
                short.push(query);
            }
        }
    }
    let mut fetched = sink.into_inner().unwrap_or_else(PoisonError::into_inner);
    let all: Vec<String> = queries.iter().map(|q| describe(q)).collect();
    let limited = format!(
        "limited by the granted scopes: only {} searched",
        all.join(" and ")
    );
    fetched.warnings.push(limited.clone());
    // What the patient allowed is the most there is to fetch; the rest was not granted.
    fetched.completeness = if short.is_empty() {
        Completeness::Unverified(limited)
    } else {
        Completeness::Partial(format!(
            "{limited}; {} did not arrive whole",
            short.join(" and ")
        ))
    };
    Ok(Outcome::Fetched(Box::new(fetched)))
}

/// `category=laboratory&code=x`
fn describe(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::sanitize::clean(k),
                crate::sanitize::clean(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}
