//! `GET {base}/Patient/{id}/$everything` (FHIR R4 Patient-everything,
//! <https://hl7.org/fhir/R4/patient-operation-everything.html>), answered when
//! [`Quirks::everything`](crate::quirks::Quirks) is on: a paged searchset Bundle of the Patient
//! and every resource of its compartment the token may search, type by type in the order the
//! CapabilityStatement lists them, each type in search order. `_since` (an instant: only what
//! changed since), `_type` (a comma list) and `_count` are the spec's parameters; `_offset` (or
//! NextGen's `page`) pages as a search does. Shared resources (Practitioner, Medication, …) are
//! not included: the spec allows but does not require them. Another patient's id is a 403.
//! [`Quirks::everything_omits`](crate::quirks::Quirks) leaves types out, for tests of a client
//! that checks the operation against its own searches.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use url::form_urlencoded;

use crate::bundle::{self, Page, OFFSET, PAGE};
use crate::catalog::{self, TypeKind};
use crate::fhir::{self, Access, FhirError};
use crate::instant::DateFilter;
use crate::scopes::{self, Interaction};
use crate::search;
use crate::state::Shared;
use crate::stats::Stats;
use crate::store::StoredResource;

/// GET {base}/Patient/{id}/$everything
pub(crate) async fn everything(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(id)) = path else {
        return FhirError::bad_request("the URL path is not valid").into_response();
    };
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    answer(&shared, &headers, &id, &params).unwrap_or_else(IntoResponse::into_response)
}

/// The operation's parameters.
#[derive(Debug, Default)]
struct Params {
    since: Option<DateFilter>,
    types: Option<Vec<String>>,
    count: Option<usize>,
    offset: usize,
    page: Option<usize>,
}

fn parse_params(params: &[(String, String)], max_count: usize) -> Result<Params, String> {
    let mut parsed = Params::default();
    let number = |name: &str, value: &str| {
        value
            .parse::<usize>()
            .map_err(|_| format!("{name}={value} is not a non-negative integer"))
    };
    for (name, value) in params {
        match name.as_str() {
            "_since" => parsed.since = Some(DateFilter::parse("_since", &format!("ge{value}"))?),
            "_type" => {
                let types = value.split(',').map(str::trim).map(str::to_owned);
                parsed.types.get_or_insert_with(Vec::new).extend(types);
            }
            "_count" => parsed.count = Some(number(name, value)?.min(max_count)),
            OFFSET => parsed.offset = number(name, value)?,
            PAGE => parsed.page = Some(number(name, value)?.max(1)),
            // Unknown parameters are ignored, as FHIR's lenient handling allows.
            _ => {}
        }
    }
    Ok(parsed)
}

fn answer(
    shared: &Shared,
    headers: &HeaderMap,
    id: &str,
    params: &[(String, String)],
) -> Result<Response, FhirError> {
    let access = fhir::bearer(shared, headers)?;
    fhir::check_scope(shared, &access, "Patient", Interaction::Read)?;
    if id != access.patient {
        return Err(FhirError::forbidden(
            "this token may only ask for its own patient's record",
        ));
    }
    let parsed =
        parse_params(params, shared.config.page_size_max).map_err(FhirError::bad_request)?;
    let count = shared
        .config
        .quirks
        .fixed_page_size
        .or(parsed.count)
        .unwrap_or(shared.config.page_size_default);
    let offset = match parsed.page {
        Some(page) => (page - 1).saturating_mul(count),
        None => parsed.offset,
    };
    let matches = compartment(shared, &access, &parsed);
    let total = matches.len();
    let entries: Vec<Arc<StoredResource>> = matches.into_iter().skip(offset).take(count).collect();
    Stats::bump(&shared.stats.pages_served);
    let operation = format!("Patient/{id}/$everything");
    let page = Page {
        resource_type: &operation,
        params,
        offset,
        count,
        total,
        entries: &entries,
    };
    Ok(fhir::fhir_json(
        StatusCode::OK,
        bundle::searchset(shared, &page),
    ))
}

/// Every resource of the token's compartment the operation answers with, in order: the
/// Patient, then each clinical type the token may search (granular scopes: only what a read
/// by id would allow), less the omitted types, narrowed by `_type` and `_since`.
fn compartment(shared: &Shared, access: &Access, parsed: &Params) -> Vec<Arc<StoredResource>> {
    let quirks = &shared.config.quirks;
    let wanted = |ty: &str| {
        parsed
            .types
            .as_ref()
            .is_none_or(|t| t.iter().any(|w| w == ty))
            && !quirks.everything_omits.iter().any(|o| o == ty)
            && !quirks.is_forbidden(ty)
    };
    let since = |r: &StoredResource| {
        parsed
            .since
            .is_none_or(|f| f.matches(r.last_updated.unix_timestamp_nanos()))
    };
    let store = shared.resources();
    let mut out = Vec::new();
    if wanted("Patient") {
        out.extend(store.get("Patient", &access.patient).filter(|p| since(p)));
    }
    let clinical = catalog::all_types(shared.config.flavor, quirks.serves_extra_types())
        .into_iter()
        .filter(|t| shared.kind_of(t) == Some(TypeKind::Clinical));
    for ty in clinical {
        if !wanted(ty) || !scopes::allows(&access.scope, ty, Interaction::Search) {
            continue;
        }
        let granular = scopes::search_restrictions(&access.scope, ty).is_some();
        let Some(index) = store.patient_index(&access.patient, ty) else {
            continue;
        };
        out.extend(
            index
                .values()
                .filter(|r| since(r))
                .filter(|r| !granular || search::readable_by_id(&access.scope, r))
                .cloned(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_spec_parameters_are_read() {
        let p = parse_params(
            &pairs(&[
                ("_since", "2024-01-01T00:00:00Z"),
                ("_type", "Condition, Observation"),
                ("_count", "5000"),
                ("_offset", "20"),
                ("_elements", "id"),
            ]),
            1000,
        )
        .unwrap();
        assert_eq!(
            p.types.as_deref(),
            Some(&["Condition".to_owned(), "Observation".to_owned()][..])
        );
        assert_eq!((p.count, p.offset), (Some(1000), 20));
        let since = p.since.unwrap();
        assert!(since.matches(1_704_067_200_000_000_000));
        assert!(!since.matches(1_704_067_199_000_000_000));
        assert!(parse_params(&pairs(&[("_since", "yesterday")]), 10).is_err());
        assert!(parse_params(&pairs(&[("_count", "-1")]), 10).is_err());
    }
}
