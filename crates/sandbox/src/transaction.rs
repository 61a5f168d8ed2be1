//! Transactions: a Bundle of type `transaction` POSTed to the FHIR base is applied whole or not
//! at all and answered with a `transaction-response` Bundle (FHIR R4 RESTful API, "transaction").
//!
//! Each entry must `PUT Type/id` a resource of that type and id, which the token may write
//! (SMART v1 `patient/T.write`, v2 `patient/T.c` for a new resource and `.u` for a replaced one)
//! and which belongs to the token's patient or to nobody (Practitioner, Organization…). A
//! Binary without a `securityContext` (DSTU2 has none) is the token's patient's. Every entry is
//! checked and prepared under the store's write lock before any is put, so a refusal anywhere
//! leaves the store as it was.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::catalog::{self, TypeKind};
use crate::fhir::{bearer, fhir_json, Access, FhirError};
use crate::instant::format_instant;
use crate::scopes::{self, Interaction};
use crate::state::{patient_reference, Shared};

/// Largest transaction Bundle accepted (a whole record with its documents).
pub(crate) const MAX_BODY: usize = 512 * 1024 * 1024;

/// POST {base}
pub(crate) async fn post(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match apply(&shared, &headers, &body) {
        Ok(response) => fhir_json(StatusCode::OK, response.to_string()),
        Err(e) => e.into_response(),
    }
}

/// One entry, checked: what to store and for whom.
struct Checked {
    resource: Value,
    owner: Option<String>,
}

fn apply(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, FhirError> {
    let access = bearer(shared, headers)?;
    let bundle: Value = serde_json::from_slice(body)
        .map_err(|e| FhirError::bad_request(format!("the body is not JSON: {e}")))?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle")
        || bundle.get("type").and_then(Value::as_str) != Some("transaction")
    {
        return Err(FhirError::bad_request(
            "only a Bundle of type transaction can be POSTed to the FHIR base",
        ));
    }
    let empty = Vec::new();
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut seen = HashSet::new();
    let mut checked = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let c = check(shared, &access, entry).map_err(|why| why.at(i))?;
        let key = (
            type_of(&c.resource).to_owned(),
            id_of(&c.resource).to_owned(),
        );
        if !seen.insert(key.clone()) {
            return Err(FhirError::bad_request(format!(
                "entry {i}: {}/{} appears twice in the transaction",
                key.0, key.1
            )));
        }
        checked.push(c);
    }
    let now = OffsetDateTime::now_utc();
    let mut store = shared.resources_mut();
    let mut prepared = Vec::with_capacity(checked.len());
    for (i, c) in checked.into_iter().enumerate() {
        let (ty, id) = (
            type_of(&c.resource).to_owned(),
            id_of(&c.resource).to_owned(),
        );
        let created = store.get(&ty, &id).is_none();
        let interaction = if created {
            Interaction::Create
        } else {
            Interaction::Update
        };
        if !scopes::allows(&access.scope, &ty, interaction) {
            return Err(FhirError::forbidden(format!(
                "entry {i}: the granted scopes do not allow writing {ty} (a SMART write scope such as patient/*.cu is needed)"
            )));
        }
        let stored = store
            .prepare(c.resource, c.owner, now)
            .map_err(|e| FhirError::bad_request(format!("entry {i}: {e:#}")))?;
        prepared.push((created, stored));
    }
    let mut responses = Vec::with_capacity(prepared.len());
    for (created, stored) in prepared {
        responses.push(json!({"response": {
            "status": if created { "201 Created" } else { "200 OK" },
            "location": format!("{}/{}/_history/{}", stored.resource_type, stored.id, stored.version),
            "etag": format!("W/\"{}\"", stored.version),
            "lastModified": format_instant(stored.last_updated),
        }}));
        store.put(stored);
    }
    Ok(json!({
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": responses,
    }))
}

fn type_of(resource: &Value) -> &str {
    resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn id_of(resource: &Value) -> &str {
    resource.get("id").and_then(Value::as_str).unwrap_or("")
}

/// Why an entry is refused (before its index is known).
enum Refusal {
    Invalid(String),
    Forbidden(String),
}

impl Refusal {
    fn at(self, i: usize) -> FhirError {
        match self {
            Refusal::Invalid(why) => FhirError::bad_request(format!("entry {i}: {why}")),
            Refusal::Forbidden(why) => FhirError::forbidden(format!("entry {i}: {why}")),
        }
    }
}

fn check(shared: &Shared, access: &Access, entry: &Value) -> Result<Checked, Refusal> {
    let invalid = |why: String| Refusal::Invalid(why);
    let request = entry
        .get("request")
        .ok_or_else(|| invalid("it has no request".into()))?;
    let method = request.get("method").and_then(Value::as_str).unwrap_or("");
    if method != "PUT" {
        return Err(invalid(format!(
            "the sandbox accepts PUT entries only, not {method:?}"
        )));
    }
    let url = request.get("url").and_then(Value::as_str).unwrap_or("");
    let path = url
        .strip_prefix(shared.fhir_base.as_str())
        .unwrap_or(url)
        .trim_start_matches('/');
    let Some((ty, id)) = path.split_once('/') else {
        return Err(invalid(format!("its request url {url:?} is not Type/id")));
    };
    let resource = entry
        .get("resource")
        .filter(|r| r.is_object())
        .ok_or_else(|| invalid("it has no resource".into()))?;
    if type_of(resource) != ty || id_of(resource) != id || !catalog::is_valid_id(id) {
        return Err(invalid(format!("its resource is not {ty}/{id}")));
    }
    let kind = shared
        .kind_of(ty)
        .ok_or_else(|| invalid(format!("the sandbox does not serve {ty} resources")))?;
    let owner = match kind {
        TypeKind::Binary => Some(
            patient_reference(resource, &["securityContext", "patient"])
                .unwrap_or_else(|| access.patient.clone()),
        ),
        _ => shared
            .owner_of(resource)
            .map_err(|e| invalid(format!("{e:#}")))?,
    };
    if owner.as_deref().is_some_and(|o| o != access.patient) {
        return Err(Refusal::Forbidden(format!(
            "{ty}/{id} belongs to another patient"
        )));
    }
    Ok(Checked {
        resource: resource.clone(),
        owner,
    })
}
