//! FHIR search (`GET {base}/{type}?…` and `POST {base}/{type}/_search`): parameter parsing,
//! the patient-compartment rule, the search quirks (required categories, fixed pages, NextGen
//! `page=N`), and filtering the sorted index. The Bundle itself is written by `bundle`.
//!
//! Unknown parameters are ignored (FHIR's default lenient handling); known ones with values or
//! modifiers the sandbox does not support are a 400, so a client never gets unfiltered results
//! it believes were filtered.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use url::form_urlencoded;

use crate::bundle::{self, Page, OFFSET, PAGE};
use crate::catalog::{self, TypeKind};
use crate::fhir::{self, Access, FhirError};
use crate::instant::DateFilter;
use crate::quirks::{self, NextLinkStyle};
use crate::scopes::{self, Interaction};
use crate::state::Shared;
use crate::stats::Stats;
use crate::store::{Coding, StoredResource};

/// GET {base}/{type}
pub(crate) async fn search_get(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = parse_pairs(query.unwrap_or_default().as_bytes());
    respond(&shared, path, &headers, params)
}

/// POST {base}/{type}/_search with a form body (query parameters count too).
pub(crate) async fn search_post(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = parse_pairs(query.unwrap_or_default().as_bytes());
    params.extend(parse_pairs(&body));
    respond(&shared, path, &headers, params)
}

fn parse_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).into_owned().collect()
}

fn respond(
    shared: &Shared,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    params: Vec<(String, String)>,
) -> Response {
    let Ok(Path(resource_type)) = path else {
        return FhirError::bad_request("the URL path is not valid").into_response();
    };
    let params = match cursor_params(shared, params) {
        Ok(params) => params,
        Err(e) => return e.into_response(),
    };
    search(shared, headers, &resource_type, &params).unwrap_or_else(IntoResponse::into_response)
}

/// With cursor-style links, a `_cursor` request stands for the search its token was issued
/// for (an unknown token is a 400, as athenahealth answers a stale cursor).
fn cursor_params(
    shared: &Shared,
    params: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, FhirError> {
    if shared.config.quirks.next_link_style != NextLinkStyle::Cursor {
        return Ok(params);
    }
    let Some((_, token)) = params.iter().find(|(k, _)| k == quirks::CURSOR) else {
        return Ok(params);
    };
    shared.cursors.resolve(token).ok_or_else(|| {
        FhirError::bad_request(format!(
            "Invalid or expired cursor: {}={token}",
            quirks::CURSOR
        ))
    })
}

/// A parsed search request.
#[derive(Debug, Default)]
struct Query {
    patients: Vec<String>,
    ids: Option<HashSet<String>>,
    last_updated: Vec<DateFilter>,
    /// Date search parameters (`date`, `authoredon`…) and their filters, all to match.
    dates: Vec<(&'static str, DateFilter)>,
    /// AND of ORs: each `category` parameter is a list of alternatives.
    categories: Vec<Vec<TokenFilter>>,
    /// Raw `category` values, for the CarePlan rule.
    category_values: Vec<String>,
    /// AND of ORs, like `categories`.
    codes: Vec<Vec<TokenFilter>>,
    count: Option<usize>,
    offset: usize,
    /// NextGen `page=N` (1-based), when its link style is on.
    page: Option<usize>,
    /// `_summary=count`: only `Bundle.total`.
    summary_count: bool,
    /// A `status`, `clinical-status` or `lifecycle-status` parameter was given (its values are
    /// not filtered on: every resource the sandbox makes has one of them).
    status_given: bool,
    /// An `intent` parameter was given (its values are not filtered on either).
    intent_given: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct TokenFilter {
    system: Option<String>,
    code: Option<String>,
}

impl TokenFilter {
    fn parse(value: &str) -> Option<TokenFilter> {
        let filter = match value.split_once('|') {
            None => TokenFilter {
                system: None,
                code: (!value.is_empty()).then(|| value.to_owned()),
            },
            Some((system, code)) => TokenFilter {
                system: Some(system.to_owned()),
                code: (!code.is_empty()).then(|| code.to_owned()),
            },
        };
        (filter.code.is_some() || filter.system.as_deref().is_some_and(|s| !s.is_empty()))
            .then_some(filter)
    }

    fn matches(&self, (system, code): &Coding) -> bool {
        self.system.as_ref().is_none_or(|s| s == system)
            && self.code.as_ref().is_none_or(|c| c == code)
    }
}

const KNOWN: [&str; 9] = [
    "patient",
    "subject",
    "_id",
    "_lastUpdated",
    "category",
    "code",
    "_count",
    "_summary",
    OFFSET,
];

/// `a,b|c` as alternatives; `None` when one is not a valid token.
fn token_alternatives(value: &str) -> Option<Vec<TokenFilter>> {
    value.split(',').map(TokenFilter::parse).collect()
}

fn parse_query(
    shared: &Shared,
    kind: TypeKind,
    resource_type: &str,
    params: &[(String, String)],
) -> Result<Query, String> {
    let mut query = Query::default();
    let quirks = &shared.config.quirks;
    for (name, value) in params {
        let base = name.split_once(':').map_or(name.as_str(), |(base, _)| base);
        if base == "_lastUpdated" && !quirks.accepts_last_updated(resource_type) {
            return Err(quirks::UNKNOWN_LAST_UPDATED.to_owned());
        }
        let date = catalog::date_param(resource_type, base);
        if let Some((base, _)) = name.split_once(':') {
            if KNOWN.contains(&base) || date.is_some() {
                return Err(format!("search modifiers are not supported ({name})"));
            }
            continue;
        }
        if let Some((param, _)) = date {
            query.dates.push((param, DateFilter::parse(param, value)?));
            continue;
        }
        match name.as_str() {
            "patient" | "subject" => {
                if kind != TypeKind::Clinical {
                    return Err(format!("{resource_type} has no {name} search parameter"));
                }
                for reference in value.split(',') {
                    let id = patient_id_in(reference, &shared.fhir_base).ok_or_else(|| {
                        format!("{name}={reference} is not a Patient id or reference")
                    })?;
                    query.patients.push(id.to_owned());
                }
            }
            "_id" => {
                let ids: HashSet<String> = value.split(',').map(str::to_owned).collect();
                if let Some(bad) = ids.iter().find(|id| !catalog::is_valid_id(id)) {
                    return Err(format!("_id {bad:?} is not a valid id"));
                }
                query.ids = Some(match query.ids.take() {
                    Some(earlier) => earlier.intersection(&ids).cloned().collect(),
                    None => ids,
                });
            }
            "_lastUpdated" => query
                .last_updated
                .push(DateFilter::parse("_lastUpdated", value)?),
            "category" => {
                if !catalog::has_category(resource_type) {
                    return Err(format!("{resource_type} has no category search parameter"));
                }
                let alternatives = token_alternatives(value)
                    .ok_or_else(|| format!("category={value} is not a valid token"))?;
                query.categories.push(alternatives);
                query.category_values.push(value.clone());
            }
            "code" => {
                if !catalog::has_code(resource_type) {
                    return Err(format!("{resource_type} has no code search parameter"));
                }
                let alternatives = token_alternatives(value)
                    .ok_or_else(|| format!("code={value} is not a valid token"))?;
                query.codes.push(alternatives);
            }
            "_summary" => query.summary_count = value == "count",
            "status" | "clinical-status" | "lifecycle-status" => query.status_given = true,
            "intent" => query.intent_given = true,
            // NextGen ignores _count and pages by 25 (seen in recorded responses).
            "_count" if quirks.fixed_page_size.is_some() => {}
            PAGE if quirks.next_link_style == NextLinkStyle::NextGen => {
                let page = value
                    .parse::<usize>()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| format!("{PAGE}={value} is not a page number (1, 2, …)"))?;
                query.page = Some(page);
            }
            "_count" => {
                let count = value
                    .parse::<usize>()
                    .map_err(|_| format!("_count={value} is not a non-negative integer"))?;
                query.count = Some(count.min(shared.config.page_size_max));
            }
            OFFSET => {
                query.offset = value
                    .parse()
                    .map_err(|_| format!("{OFFSET}={value} is not a non-negative integer"))?;
            }
            _ => {}
        }
    }
    if quirks.last_updated_without_date && !query.last_updated.is_empty() && !query.dates.is_empty()
    {
        return Err(quirks::LAST_UPDATED_WITH_DATE.to_owned());
    }
    Ok(query)
}

/// `123`, `Patient/123` or `<base>/Patient/123` → `123`.
fn patient_id_in<'a>(reference: &'a str, fhir_base: &str) -> Option<&'a str> {
    let relative = reference
        .strip_prefix(fhir_base)
        .map_or(reference, |r| r.trim_start_matches('/'));
    let id = relative.strip_prefix("Patient/").unwrap_or(relative);
    catalog::is_valid_id(id).then_some(id)
}

/// Whether a token may read `stored` by id when its type is granted only through granular
/// scopes: the resource must match one granted query. Only `category` queries are evaluated;
/// a grant by other parameters allows no read by id.
pub(crate) fn readable_by_id(scope: &str, stored: &StoredResource) -> bool {
    let Some(alternatives) = scopes::restrictions(scope, &stored.resource_type, Interaction::Read)
    else {
        return true;
    };
    alternatives.iter().any(|alt| {
        alt.iter().all(|(name, value)| {
            name == "category"
                && TokenFilter::parse(value)
                    .is_some_and(|t| stored.categories.iter().any(|c| t.matches(c)))
        })
    })
}

/// A type granted only by granular scopes may be searched only with one of their queries.
fn check_granular(
    access: &Access,
    resource_type: &str,
    params: &[(String, String)],
) -> Result<(), FhirError> {
    let Some(alternatives) = scopes::search_restrictions(&access.scope, resource_type) else {
        return Ok(());
    };
    let carried = |alt: &Vec<(String, String)>| alt.iter().all(|pair| params.contains(pair));
    if alternatives.iter().any(carried) {
        return Ok(());
    }
    Err(FhirError::forbidden(format!(
        "the granted scopes allow {resource_type} searches only with their query ({})",
        alternatives
            .iter()
            .map(|alt| alt
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"))
            .collect::<Vec<_>>()
            .join(" or ")
    )))
}

fn search(
    shared: &Shared,
    headers: &HeaderMap,
    resource_type: &str,
    params: &[(String, String)],
) -> Result<Response, FhirError> {
    let Some(kind) = shared.kind_of(resource_type) else {
        return Err(FhirError::unknown_type(resource_type));
    };
    let access = fhir::bearer(shared, headers)?;
    if let Some(answer) = shared.hostile().answer_for(resource_type) {
        return Ok(answer);
    }
    if let Some(why) = shared.config.quirks.missing_required_param(params) {
        return Err(FhirError::bad_request(why));
    }
    fhir::check_forbidden(shared, resource_type)?;
    if kind == TypeKind::Binary {
        return Err(FhirError::bad_request(
            "Binary is not searchable; read Binary/<id> from a DocumentReference",
        ));
    }
    fhir::check_scope(shared, &access, resource_type, Interaction::Search)?;
    if kind != TypeKind::Shared {
        check_granular(&access, resource_type, params)?;
    }
    let mut query =
        parse_query(shared, kind, resource_type, params).map_err(FhirError::bad_request)?;
    let refuse_patient_search = shared.config.quirks.patient_search_refused;
    check_compartment(
        kind,
        resource_type,
        &query,
        (&access, refuse_patient_search),
    )?;
    check_required_criteria(shared, resource_type, &query)?;

    let count = shared
        .config
        .quirks
        .fixed_page_size
        .or(query.count)
        .unwrap_or(shared.config.page_size_default);
    if let Some(page) = query.page {
        query.offset = (page - 1).saturating_mul(count);
    }
    let (total, page) = {
        let store = shared.resources();
        match kind {
            TypeKind::Shared => {
                let mut found: Vec<Arc<StoredResource>> = query
                    .ids
                    .iter()
                    .flatten()
                    .filter_map(|id| store.get(resource_type, id))
                    .collect();
                found.sort_by_key(|r| r.sort_key());
                select(found.iter(), &query, count)
            }
            _ => match store.patient_index(&access.patient, resource_type) {
                Some(index) => {
                    let from = query
                        .last_updated
                        .iter()
                        .filter_map(DateFilter::lower_bound)
                        .max();
                    let start = (from.unwrap_or(i128::MIN), String::new());
                    let candidates = index.range(start..).map(|(_, r)| r);
                    if resource_type == "Observation"
                        && shared.config.quirks.social_history_first_page
                    {
                        select_social_history_first(candidates, &query, count)
                    } else {
                        select(candidates, &query, count)
                    }
                }
                None => (0, Vec::new()),
            },
        }
    };
    Stats::bump(&shared.stats.pages_served);
    if query.summary_count {
        return Ok(fhir::fhir_json(StatusCode::OK, bundle::count_only(total)));
    }
    let page = Page {
        resource_type,
        params,
        offset: query.offset,
        count,
        total,
        entries: &page,
    };
    Ok(fhir::fhir_json(
        StatusCode::OK,
        bundle::searchset(shared, &page),
    ))
}

/// The criteria some servers insist on: a category or code (NextGen's Observation and
/// Condition), the assess-plan category (NextGen's CarePlan). `_summary=count` is exempt so a
/// client can still learn how many resources an un-fanned search would match.
fn check_required_criteria(
    shared: &Shared,
    resource_type: &str,
    query: &Query,
) -> Result<(), FhirError> {
    let quirks = &shared.config.quirks;
    if query.summary_count {
        if quirks.count_refused {
            return Err(FhirError::bad_request(quirks::SUMMARY_REFUSED));
        }
        return Ok(());
    }
    if quirks.status_required.iter().any(|t| t == resource_type) && !query.status_given {
        return Err(FhirError::bad_request(quirks::STATUS_REQUIRED));
    }
    if quirks.requires_intent(resource_type) && !query.intent_given {
        return Err(FhirError::bad_request(quirks::INTENT_REQUIRED));
    }
    if quirks.requires_category(resource_type)
        && query.categories.is_empty()
        && query.codes.is_empty()
    {
        return Err(FhirError::bad_request(quirks::CATEGORY_REQUIRED));
    }
    if let Some(refused) = query.category_values.iter().find(|v| {
        let code = v.rsplit('|').next().unwrap_or(v);
        quirks
            .refused_categories
            .iter()
            .any(|(t, c)| t == resource_type && c == code)
    }) {
        return Err(FhirError::bad_request(format!(
            "The category {refused} is not supported for {resource_type} searches"
        )));
    }
    if resource_type == "CarePlan"
        && quirks.careplan_category_required
        && !query
            .category_values
            .iter()
            .any(|v| quirks::is_assess_plan(v))
    {
        return Err(FhirError::not_found(quirks::CAREPLAN_CATEGORY_MISSING));
    }
    Ok(())
}

/// A token sees only its own patient's compartment.
fn check_compartment(
    kind: TypeKind,
    resource_type: &str,
    query: &Query,
    (access, refuse_patient_search): (&Access, bool),
) -> Result<(), FhirError> {
    match kind {
        TypeKind::Clinical => {
            // `_id` alone searches the token's own compartment (how references are read in
            // batches: `Specimen?_id=a,b,c`).
            if query.patients.is_empty() && query.ids.is_none() {
                return Err(FhirError::bad_request(format!(
                    "searching {resource_type} needs patient=<id> (or subject=Patient/<id>)"
                )));
            }
            if query.patients.iter().any(|p| *p != access.patient) {
                return Err(FhirError::forbidden(
                    "this token may only search its own patient",
                ));
            }
        }
        TypeKind::Patient if refuse_patient_search => {
            return Err(FhirError::bad_request(quirks::PATIENT_SEARCH_REFUSED))
        }
        TypeKind::Patient => match &query.ids {
            None => {
                return Err(FhirError::bad_request(
                    "searching Patient needs _id=<your patient id>",
                ))
            }
            Some(ids) if ids.iter().any(|id| *id != access.patient) => {
                return Err(FhirError::forbidden(
                    "this token may only search its own patient",
                ))
            }
            Some(_) => {}
        },
        TypeKind::Shared if query.ids.is_none() => {
            return Err(FhirError::bad_request(format!(
                "{resource_type} can only be searched by _id"
            )))
        }
        TypeKind::Shared | TypeKind::Binary => {}
    }
    Ok(())
}

/// Counts every match and keeps the page `[offset, offset + count)`.
fn select<'a>(
    candidates: impl Iterator<Item = &'a Arc<StoredResource>>,
    query: &Query,
    count: usize,
) -> (usize, Vec<Arc<StoredResource>>) {
    let mut total = 0;
    let mut page = Vec::new();
    for resource in candidates.filter(|r| matches(r, query)) {
        if total >= query.offset && page.len() < count {
            page.push(Arc::clone(resource));
        }
        total += 1;
    }
    (total, page)
}

/// Oracle Health's Observation pages: "All Social history Observations (if any qualify for the
/// query) will be returned on the first page", and "Second page onward, returned item count may
/// be less than requested" (https://fhir.cerner.com/millennium/r4/clinical/diagnostics/observation/).
/// Pages are slices of every match as [`select`] cuts them; the first also holds every
/// social-history match, and later slices leave those out.
fn select_social_history_first<'a>(
    candidates: impl Iterator<Item = &'a Arc<StoredResource>>,
    query: &Query,
    count: usize,
) -> (usize, Vec<Arc<StoredResource>>) {
    let mut total = 0;
    let mut page = Vec::new();
    let window = query.offset..query.offset.saturating_add(count);
    for resource in candidates.filter(|r| matches(r, query)) {
        let social = resource
            .categories
            .iter()
            .any(|(_, c)| c == "social-history");
        let take = if social {
            query.offset == 0
        } else {
            window.contains(&total)
        };
        if take {
            page.push(Arc::clone(resource));
        }
        total += 1;
    }
    (total, page)
}

fn matches(resource: &StoredResource, query: &Query) -> bool {
    let updated = resource.last_updated.unix_timestamp_nanos();
    query
        .ids
        .as_ref()
        .is_none_or(|ids| ids.contains(&resource.id))
        && query.last_updated.iter().all(|f| f.matches(updated))
        // A resource without the element matches no date search, as on real servers.
        && query.dates.iter().all(|(param, filter)| {
            resource
                .dates
                .iter()
                .any(|(name, range)| name == param && filter.matches_range(*range))
        })
        && query.categories.iter().all(|alternatives| {
            alternatives
                .iter()
                .any(|t| resource.categories.iter().any(|c| t.matches(c)))
        })
        && query.codes.iter().all(|alternatives| {
            alternatives
                .iter()
                .any(|t| resource.codes.iter().any(|c| t.matches(c)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_references() {
        let base = "http://127.0.0.1:9/fhir/r4";
        assert_eq!(patient_id_in("p-1", base), Some("p-1"));
        assert_eq!(patient_id_in("Patient/p-1", base), Some("p-1"));
        assert_eq!(
            patient_id_in(&format!("{base}/Patient/p-1"), base),
            Some("p-1")
        );
        assert_eq!(patient_id_in("Group/g", base), None);
        assert_eq!(patient_id_in("", base), None);
    }

    #[test]
    fn category_tokens() {
        let lab = (
            "http://terminology.hl7.org/CodeSystem/observation-category".to_owned(),
            "laboratory".to_owned(),
        );
        let t = |v: &str| TokenFilter::parse(v).unwrap();
        assert!(t("laboratory").matches(&lab));
        assert!(
            t("http://terminology.hl7.org/CodeSystem/observation-category|laboratory")
                .matches(&lab)
        );
        assert!(t("http://terminology.hl7.org/CodeSystem/observation-category|").matches(&lab));
        assert!(!t("|laboratory").matches(&lab));
        assert!(!t("vital-signs").matches(&lab));
        assert!(TokenFilter::parse("|").is_none());
        assert!(TokenFilter::parse("").is_none());
    }
}
