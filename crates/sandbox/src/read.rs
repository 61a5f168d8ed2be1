//! FHIR `read` (`GET {base}/{type}/{id}`), Binary downloads included: the token's patient and
//! scopes decide, granular scopes by the resource's categories; the answer carries its version
//! (`ETag`) and `Last-Modified`.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::catalog::TypeKind;
use crate::fhir::{bearer, check_forbidden, check_scope, fhir_json, FhirError};
use crate::scopes::Interaction;
use crate::search;
use crate::state::Shared;
use crate::store::StoredResource;

/// GET {base}/{type}/{id}
pub(crate) async fn read(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path((resource_type, id))) = path else {
        return FhirError::bad_request("the URL path is not valid").into_response();
    };
    read_resource(&shared, &headers, &resource_type, &id)
        .unwrap_or_else(IntoResponse::into_response)
}

fn read_resource(
    shared: &Shared,
    headers: &HeaderMap,
    resource_type: &str,
    id: &str,
) -> Result<Response, FhirError> {
    // Unknown types are a 404 before any token check: nothing to protect there.
    if shared.kind_of(resource_type).is_none() {
        return Err(FhirError::unknown_type(resource_type));
    }
    let access = bearer(shared, headers)?;
    check_forbidden(shared, resource_type)?;
    check_scope(shared, &access, resource_type, Interaction::Read)?;
    if resource_type == "Patient" && id != access.patient {
        return Err(FhirError::forbidden(
            "this token may only read its own patient",
        ));
    }
    let not_found = || FhirError::not_found(format!("{resource_type}/{id} does not exist"));
    let stored = shared
        .resources()
        .get(resource_type, id)
        .ok_or_else(not_found)?;
    if stored
        .patient
        .as_deref()
        .is_some_and(|owner| owner != access.patient)
    {
        return Err(FhirError::forbidden(
            "this resource belongs to another patient",
        ));
    }
    let shared_type = shared.kind_of(resource_type) == Some(TypeKind::Shared);
    if !shared_type && !search::readable_by_id(&access.scope, &stored) {
        return Err(FhirError::forbidden(format!(
            "the granted scopes do not cover {resource_type}/{id}"
        )));
    }
    if let Some((content_type, _)) = &stored.content {
        check_binary_read(shared, headers, id, content_type)?;
    }
    let mut response = match &stored.content {
        Some((content_type, bytes)) if !wants_fhir_json(headers) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type.clone())],
            served_bytes(shared, id, content_type, bytes),
        )
            .into_response(),
        _ => match shared.hostile().replaced(resource_type, id) {
            Some(text) => fhir_json(StatusCode::OK, text.to_string()),
            None => fhir_json(StatusCode::OK, stored.json.clone()),
        },
    };
    add_version_headers(&mut response, &stored);
    Ok(response)
}

/// Oracle Health's `Accept` rule and Epic's reads-per-Binary limit.
fn check_binary_read(
    shared: &Shared,
    headers: &HeaderMap,
    id: &str,
    content_type: &str,
) -> Result<(), FhirError> {
    let quirks = &shared.config.quirks;
    // "The consumer must populate the Accept header with either application/fhir+json or the
    // format returned in the attachment.contentType" (https://fhir.cerner.com/millennium/r4/foundation/other/binary/).
    if quirks.binary_accept_strict && !accepts_binary(headers, content_type) {
        return Err(FhirError::not_acceptable(format!(
            "Binary/{id} is {content_type}; Accept must name it or application/fhir+json"
        )));
    }
    if let Some(limit) = quirks.binary_read_limit {
        if shared.count_binary_read(id) > limit {
            return Err(FhirError::too_many_requests(format!(
                "Binary/{id} was read more than {limit} times today"
            )));
        }
    }
    Ok(())
}

/// Whether one `Accept` value names `content_type`, `application/fhir+json` or `*/*` (a
/// request without `Accept` accepts anything, RFC 9110 12.5.1).
fn accepts_binary(headers: &HeaderMap, content_type: &str) -> bool {
    let mut values = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .peekable();
    if values.peek().is_none() {
        return true;
    }
    values.any(|v| v == content_type || v == "application/fhir+json" || v == "*/*")
}

/// The bytes a raw read sends: as stored, except a C-CDA under `Quirks::regenerated_ccda`,
/// which Epic generates anew at each read (a new generation note each time).
fn served_bytes(shared: &Shared, id: &str, content_type: &str, bytes: &[u8]) -> Vec<u8> {
    if !(shared.config.quirks.regenerated_ccda && content_type == "application/xml") {
        return bytes.to_vec();
    }
    let read = shared.count_binary_read(&format!("{id}#generated"));
    let text = String::from_utf8_lossy(bytes);
    let note = format!("<!-- generated for read {read} -->\n");
    match text.split_once('\n') {
        Some((declaration, rest)) => format!("{declaration}\n{note}{rest}").into_bytes(),
        None => format!("{note}{text}").into_bytes(),
    }
}

/// Binary reads return the raw bytes unless the client asks for FHIR JSON.
fn wants_fhir_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/fhir+json") || v.contains("application/json"))
}

fn add_version_headers(response: &mut Response, stored: &StoredResource) {
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{}\"", stored.version)) {
        headers.insert(header::ETAG, etag);
    }
    let modified = SystemTime::from(stored.last_updated);
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        headers.insert(header::LAST_MODIFIED, value);
    }
}
