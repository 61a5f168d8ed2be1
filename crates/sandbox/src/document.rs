//! NextGen-style document downloads, `GET {base}/document/pdf-<id>` (raw PDF) and
//! `{base}/document/xml-<id>` (C-CDA XML), served from the patient's Binaries of those ids with
//! the bearer-token, scope and ownership checks of a Binary read.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::catalog;
use crate::fhir::{self, FhirError};
use crate::scopes::Interaction;
use crate::state::Shared;

/// GET {base}/document/{name}
pub(crate) async fn download(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(name)) = path else {
        return FhirError::bad_request("the URL path is not valid").into_response();
    };
    serve(&shared, &headers, &name).unwrap_or_else(IntoResponse::into_response)
}

fn serve(shared: &Shared, headers: &HeaderMap, name: &str) -> Result<Response, FhirError> {
    let not_found = || FhirError::not_found(format!("document {name} does not exist"));
    let is_document = name.starts_with("pdf-") || name.starts_with("xml-");
    if !is_document || !catalog::is_valid_id(name) {
        return Err(not_found());
    }
    let access = fhir::bearer(shared, headers)?;
    fhir::check_forbidden(shared, "Binary")?;
    fhir::check_scope(shared, &access, "Binary", Interaction::Read)?;
    let stored = shared
        .resources()
        .get("Binary", name)
        .ok_or_else(not_found)?;
    if stored.patient.as_deref() != Some(access.patient.as_str()) {
        return Err(FhirError::forbidden(
            "this document belongs to another patient",
        ));
    }
    let (content_type, bytes) = stored.content.clone().ok_or_else(not_found)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        bytes,
    )
        .into_response())
}
