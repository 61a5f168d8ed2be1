//! NextGen-style document downloads, `GET {base}/document/pdf-<id>` (raw PDF) and
//! `{base}/document/xml-<id>` (C-CDA XML), served from the patient's Binaries of those ids with
//! the bearer-token, scope and ownership checks of a Binary read; plus the small C-CDA
//! document the generator stores behind the `xml-` URLs.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use time::Date;

use super::catalog;
use super::fhir::{self, FhirError};
use super::scopes::Interaction;
use super::shared::Shared;

/// GET {base}/document/{name}
pub(super) async fn download(
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

/// What the C-CDA document says.
pub(super) struct CcdaDocument<'a> {
    pub id: &'a str,
    pub loinc: &'a str,
    pub title: &'a str,
    pub date: Date,
    pub patient_id: &'a str,
    pub patient_name: &'a str,
}

/// A minimal C-CDA R2.1 ClinicalDocument with an unstructured body.
pub(super) fn ccda(doc: &CcdaDocument<'_>) -> String {
    let (given, family) = doc
        .patient_name
        .split_once(' ')
        .unwrap_or((doc.patient_name, ""));
    let date = format!(
        "{:04}{:02}{:02}",
        doc.date.year(),
        u8::from(doc.date.month()),
        doc.date.day()
    );
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5.99999.2" extension="{id}"/>
  <code code="{loinc}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"/>
  <title>{title}</title>
  <effectiveTime value="{date}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="en-US"/>
  <recordTarget>
    <patientRole>
      <id root="2.16.840.1.113883.19.5.99999.1" extension="{patient}"/>
      <patient><name><given>{given}</given><family>{family}</family></name></patient>
    </patientRole>
  </recordTarget>
  <component>
    <nonXMLBody>
      <text>This document was generated for testing and is not a medical record.</text>
    </nonXMLBody>
  </component>
</ClinicalDocument>
"#,
        id = escape(doc.id),
        loinc = escape(doc.loinc),
        title = escape(doc.title),
        patient = escape(doc.patient_id),
        given = escape(given),
        family = escape(family),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn ccda_escapes_and_dates() {
        let xml = ccda(&CcdaDocument {
            id: "doc-1",
            loinc: "11506-3",
            title: "Notes <&>",
            date: date!(2024 - 03 - 07),
            patient_id: "pt-1",
            patient_name: "Alice Garcia",
        });
        assert!(xml.contains("<title>Notes &lt;&amp;&gt;</title>"));
        assert!(xml.contains(r#"<effectiveTime value="20240307"/>"#));
        assert!(xml.contains("<given>Alice</given><family>Garcia</family>"));
    }
}
