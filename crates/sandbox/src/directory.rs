//! The sandbox's own published endpoint directory, in each shape the vendors publish theirs
//! (see fhirdl's `src/directory/shapes.rs`), naming its practices and its own FHIR base, so
//! `fhirdl directory update` and `fhirdl find` are tried and tested without the network:
//! - `/directory/brands.json`: a SMART App Launch 2.2 Brands Bundle
//!   (<https://hl7.org/fhir/smart-app-launch/brands.html>): a brand with the
//!   `organization-brand` and `organization-portal` extensions and two facilities `partOf` it;
//! - `/directory/endpoints.json`: Endpoints each with a contained Organization;
//! - `/directory/organizations.json`: Organizations and Endpoints linked either way;
//! - `/directory/brands.json.gz`: the Brands Bundle gzip-compressed.
//!
//! Each also lists a placeholder (an `example.org` endpoint, a "Test"/"Demo" practice) that a
//! reader must drop. Answers carry an `ETag` and `Last-Modified` and answer a matching
//! `If-None-Match` with 304.

use crate::state::Shared;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;

/// When the directory was published (a fixed instant: the same document, the same validators).
const LAST_MODIFIED: &str = "Mon, 02 Nov 2026 10:00:00 GMT";

pub(crate) async fn serve(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let base = shared.fhir_base_url().to_string();
    let base = base.trim_end_matches('/');
    let (document, gzip) = match name.as_str() {
        "brands.json" => (brands(base), false),
        "brands.json.gz" => (brands(base), true),
        "endpoints.json" => (endpoints(base), false),
        "organizations.json" => (organizations(base), false),
        _ => return crate::fhir::not_found().await,
    };
    let mut body = serde_json::to_vec_pretty(&document).unwrap_or_default();
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        if gz.write_all(&body).is_err() {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        body = gz.finish().unwrap_or_default();
    }
    let etag = format!("\"{}\"", hex(&Sha256::digest(&body)[..8]));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let validators = [
        (header::ETAG, etag.clone()),
        (header::LAST_MODIFIED, LAST_MODIFIED.to_string()),
    ];
    if matches {
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    let kind = if gzip {
        "application/gzip"
    } else {
        "application/fhir+json"
    };
    (validators, [(header::CONTENT_TYPE, kind)], body).into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn entry(kind: &str, resource: Value) -> Value {
    let id = resource["id"].as_str().unwrap_or_default().to_string();
    json!({ "fullUrl": format!("https://directory.sandbox.invalid/{kind}/{id}"), "resource": resource })
}

fn bundle(id: &str, entries: Vec<Value>) -> Value {
    json!({ "resourceType": "Bundle", "id": id, "type": "collection", "timestamp": "2026-11-02T10:00:00Z", "entry": entries })
}

fn endpoint(id: &str, address: &str) -> Value {
    json!({
        "resourceType": "Endpoint",
        "id": id,
        "extension": [{ "url": "http://hl7.org/fhir/StructureDefinition/endpoint-fhir-version", "valueCode": "4.0.1" }],
        "status": "active",
        "connectionType": { "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type", "code": "hl7-fhir-rest" },
        "name": format!("FHIR R4 endpoint {id}"),
        "payloadType": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type", "code": "none" }] }],
        "address": address,
    })
}

fn address(line: &str, city: &str, state: &str, zip: &str) -> Value {
    json!([{ "line": [line], "city": city, "state": state, "postalCode": zip, "country": "US" }])
}

/// The Brands shape: "Riverside Health" (portal "Riverside MyHealth") and its facilities.
fn brands(base: &str) -> Value {
    let brand = json!({
        "resourceType": "Organization",
        "id": "riverside",
        "extension": [
            { "url": "http://hl7.org/fhir/StructureDefinition/organization-brand",
              "extension": [{ "url": "brandLogo", "valueUrl": "https://riverside.sandbox.invalid/logo.svg" }] },
            { "url": "http://hl7.org/fhir/StructureDefinition/organization-portal",
              "extension": [
                { "url": "portalName", "valueString": "Riverside MyHealth" },
                { "url": "portalUrl", "valueUrl": "https://portal.riverside.sandbox.invalid" },
                { "url": "portalEndpoint", "valueReference": { "reference": "Endpoint/sandbox-r4" } }] }
        ],
        "active": true,
        "name": "Riverside Health",
        "address": address("1 River Plaza", "Springfield", "IL", "62701"),
        "endpoint": [{ "reference": "Endpoint/sandbox-r4" }],
    });
    let facility = |id: &str, name: &str, addr: Value| {
        json!({ "resourceType": "Organization", "id": id, "active": true, "name": name, "address": addr,
                "partOf": { "reference": "Organization/riverside" } })
    };
    bundle(
        "sandbox-brands",
        vec![
            entry("Organization", brand),
            entry(
                "Organization",
                facility(
                    "sunrise",
                    "Sunrise Family Medicine",
                    address("12 Dawn Street", "Springfield", "IL", "62704"),
                ),
            ),
            entry(
                "Organization",
                facility(
                    "riverside-peds",
                    "Riverside Pediatrics",
                    address("80 Oak Ave", "Peoria", "IL", "61602"),
                ),
            ),
            entry(
                "Organization",
                json!({ "resourceType": "Organization", "id": "test", "name": "Test Practice",
                                          "endpoint": [{ "reference": "Endpoint/sandbox-r4" }] }),
            ),
            entry(
                "Organization",
                json!({ "resourceType": "Organization", "id": "elsewhere", "name": "Elsewhere Clinic",
                                          "endpoint": [{ "reference": "Endpoint/example" }] }),
            ),
            entry("Endpoint", endpoint("sandbox-r4", base)),
            entry(
                "Endpoint",
                endpoint("example", "https://fhir.example.org/r4"),
            ),
        ],
    )
}

/// Endpoints each with the Organization they serve contained.
fn endpoints(base: &str) -> Value {
    let with = |id: &str, address: &str, name: &str, addr: Value| {
        let mut e = endpoint(id, address);
        e["contained"] =
            json!([{ "resourceType": "Organization", "id": "org", "name": name, "address": addr }]);
        e["managingOrganization"] = json!({ "reference": "#org" });
        entry("Endpoint", e)
    };
    bundle(
        "sandbox-endpoints",
        vec![
            with(
                "lakeview",
                base,
                "Lakeview Internal Medicine",
                address("5 Shore Dr", "Madison", "WI", "53703"),
            ),
            with("demo", &format!("{base}/"), "Demo Clinic", json!([])),
        ],
    )
}

/// Organizations and Endpoints, linked one way (`Organization.endpoint`) and the other
/// (`Endpoint.managingOrganization`).
fn organizations(base: &str) -> Value {
    let mut managed = endpoint("harbor-r4", base);
    managed["managingOrganization"] = json!({ "reference": "Organization/harbor" });
    bundle(
        "sandbox-organizations",
        vec![
            entry(
                "Organization",
                json!({ "resourceType": "Organization", "id": "maple", "name": "Maple Grove Cardiology",
                "address": address("9 Elm Rd", "Albany", "NY", "12207"), "endpoint": [{ "reference": "Endpoint/maple-r4" }] }),
            ),
            entry("Endpoint", endpoint("maple-r4", base)),
            entry(
                "Organization",
                json!({ "resourceType": "Organization", "id": "harbor", "name": "Harbor Eye Care",
                "address": address("2 Pier St", "Portland", "ME", "04101") }),
            ),
            entry("Endpoint", managed),
            entry(
                "Endpoint",
                json!({ "resourceType": "Endpoint", "id": "no-address", "status": "active" }),
            ),
        ],
    )
}
