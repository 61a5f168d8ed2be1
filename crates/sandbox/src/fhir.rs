//! The FHIR API's common ground and its open endpoints: bearer-token checks, OperationOutcome
//! errors, the CapabilityStatement/Conformance and the SMART configuration. `read` and `search`
//! build on it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::catalog::{self, TypeKind};
use crate::config::FhirFlavor;
use crate::grants::BearerError;
use crate::scopes::{self, Interaction};
use crate::state::Shared;

pub(crate) const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

pub(crate) fn fhir_json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], body).into_response()
}

/// An OperationOutcome with one error issue; `code` is a FHIR issue-type code.
fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> Response {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    });
    fhir_json(status, body.to_string())
}

/// A failed FHIR request, sent as an OperationOutcome.
#[derive(Debug)]
pub(crate) struct FhirError {
    status: StatusCode,
    code: &'static str,
    diagnostics: String,
}

impl FhirError {
    pub(crate) fn forbidden(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", diagnostics)
    }

    pub(crate) fn bad_request(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", diagnostics)
    }

    pub(crate) fn not_found(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", diagnostics)
    }

    pub(crate) fn too_many_requests(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "throttled", diagnostics)
    }

    pub(crate) fn not_acceptable(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, "not-supported", diagnostics)
    }

    pub(crate) fn unknown_type(resource_type: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!("resource type {resource_type} is not served here"),
        )
    }

    fn unauthorized(diagnostics: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "login", diagnostics)
    }

    fn new(status: StatusCode, code: &'static str, diagnostics: impl Into<String>) -> Self {
        FhirError {
            status,
            code,
            diagnostics: diagnostics.into(),
        }
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let mut response = outcome(self.status, self.code, &self.diagnostics);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="fhirdl-sandbox", error="invalid_token""#),
            );
        }
        response
    }
}

pub(crate) async fn not_found() -> Response {
    outcome(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
}

pub(crate) async fn method_not_allowed() -> Response {
    outcome(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        "this endpoint does not support that HTTP method",
    )
}

/// What the request's bearer token allows.
pub(crate) struct Access {
    pub patient: String,
    pub scope: String,
}

/// Checks `Authorization: Bearer`; a 401 with `WWW-Authenticate` when it is missing, unknown,
/// expired or revoked.
pub(crate) fn bearer(shared: &Shared, headers: &HeaderMap) -> Result<Access, FhirError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let result = match token {
        None => Err("an access token is required (Authorization: Bearer)"),
        Some(_) if shared.hostile().refuse_every_token => Err("the access token is refused"),
        Some(token) => match shared.auth().bearer(token) {
            Ok(grant) => Ok(Access {
                patient: grant.patient.clone(),
                scope: grant.scope.clone(),
            }),
            Err(BearerError::Expired) => Err("the access token has expired"),
            Err(BearerError::Unknown) => Err("the access token is unknown or revoked"),
        },
    };
    result.map_err(FhirError::unauthorized)
}

/// 403 unless the token's scopes cover `interaction` on `resource_type` (shared types are open
/// to every valid token).
pub(crate) fn check_scope(
    shared: &Shared,
    access: &Access,
    resource_type: &str,
    interaction: Interaction,
) -> Result<(), FhirError> {
    let kind = shared.kind_of(resource_type);
    if kind == Some(TypeKind::Shared) || scopes::allows(&access.scope, resource_type, interaction) {
        Ok(())
    } else {
        Err(FhirError::forbidden(format!(
            "the granted scopes do not allow access to {resource_type}"
        )))
    }
}

/// 403 for the types `Quirks::forbidden_types` names, whatever the token's scopes say (some
/// servers refuse types the app registration does not cover).
pub(crate) fn check_forbidden(shared: &Shared, resource_type: &str) -> Result<(), FhirError> {
    if shared.config.quirks.is_forbidden(resource_type) {
        Err(FhirError::forbidden(format!(
            "access to {resource_type} is not permitted for this application"
        )))
    } else {
        Ok(())
    }
}

/// GET {base}/metadata: no token needed.
pub(crate) async fn metadata(State(shared): State<Arc<Shared>>) -> Response {
    fhir_json(StatusCode::OK, capability_statement(&shared).to_string())
}

fn capability_statement(shared: &Shared) -> Value {
    let config = &shared.config;
    let quirks = &config.quirks;
    let dstu2 = config.flavor == FhirFlavor::Dstu2;
    let service_system = if config.flavor != FhirFlavor::R4 {
        "http://hl7.org/fhir/restful-security-service"
    } else {
        "http://terminology.hl7.org/CodeSystem/restful-security-service"
    };
    let mut security = json!({
        "service": [{
            "coding": [{"system": service_system, "code": "SMART-on-FHIR"}],
            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
        }],
    });
    if config.oauth_uris_in_metadata || dstu2 {
        let mut uris = vec![
            json!({"url": "authorize", "valueUri": format!("{}/oauth/authorize", shared.issuer)}),
            json!({"url": "token", "valueUri": format!("{}/oauth/token", shared.issuer)}),
        ];
        if config.revocation {
            uris.push(
                json!({"url": "revoke", "valueUri": format!("{}/oauth/revoke", shared.issuer)}),
            );
        }
        security["extension"] = json!([{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": uris,
        }]);
    }
    let resources: Vec<Value> = catalog::all_types(config.flavor, quirks.serves_extra_types())
        .into_iter()
        .map(|t| resource_capability(shared, t))
        .collect();
    let software = quirks.software_name.as_deref().unwrap_or("fhirdl sandbox");
    let mut statement = json!({
        "resourceType": if dstu2 { "Conformance" } else { "CapabilityStatement" },
        "status": "active",
        "date": "2025-01-01",
        "publisher": "fhirdl",
        "kind": "instance",
        "software": {"name": software, "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "fhirdl sandbox EHR", "url": shared.fhir_base},
        "fhirVersion": match config.flavor {
            FhirFlavor::R4 => "4.0.1",
            FhirFlavor::Stu3 => "3.0.2",
            FhirFlavor::Dstu2 => "1.0.2",
        },
        "format": ["application/fhir+json", "json"],
        "rest": [{"mode": "server", "security": security, "resource": resources}],
    });
    if dstu2 {
        statement["acceptUnknown"] = json!("no");
    }
    statement
}

fn resource_capability(shared: &Shared, resource_type: &'static str) -> Value {
    let kind = shared.kind_of(resource_type);
    if kind == Some(TypeKind::Binary) {
        return json!({"type": resource_type, "interaction": [{"code": "read"}]});
    }
    let param = |name: &str, kind: &str| json!({"name": name, "type": kind});
    let mut params = Vec::new();
    if kind == Some(TypeKind::Clinical) {
        params.push(param("patient", "reference"));
        params.push(param("subject", "reference"));
    }
    params.push(param("_id", "token"));
    // NextGen Office and Epic declare no _lastUpdated at all, Oracle Health on some types.
    if kind != Some(TypeKind::Shared) && shared.config.quirks.accepts_last_updated(resource_type) {
        params.push(param("_lastUpdated", "date"));
    }
    for (name, _) in catalog::date_params(resource_type) {
        params.push(param(name, "date"));
    }
    if catalog::has_category(resource_type) {
        params.push(param("category", "token"));
    }
    if catalog::has_code(resource_type) {
        params.push(param("code", "token"));
    }
    let mut capability = json!({
        "type": resource_type,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": params,
    });
    if kind == Some(TypeKind::Patient) && shared.config.quirks.everything {
        // `Patient/$everything` (crate::everything answers it), as R4 declares an operation
        // in `CapabilityStatement.rest.resource.operation`.
        capability["operation"] = json!([{
            "name": "everything",
            "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        }]);
    }
    capability
}

/// GET {base}/.well-known/smart-configuration (SMART App Launch 2.x): no token needed.
pub(crate) async fn smart_configuration(State(shared): State<Arc<Shared>>) -> Response {
    let config = &shared.config;
    let mut scopes = vec!["openid", "fhirUser", "launch/patient", "offline_access"];
    if config.scopes_v2 {
        scopes.push("patient/*.rs");
    }
    scopes.push("patient/*.read");
    let mut capabilities = vec![
        "launch-standalone",
        "client-public",
        "client-confidential-symmetric",
        "context-standalone-patient",
        "permission-offline",
        "permission-patient",
        "sso-openid-connect",
    ];
    if config.scopes_v2 {
        capabilities.push("permission-v2");
    }
    capabilities.extend(["permission-v1", "authorize-post"]);
    let mut body = json!({
        "issuer": shared.issuer,
        "authorization_endpoint": format!("{}/oauth/authorize", shared.issuer),
        "token_endpoint": format!("{}/oauth/token", shared.issuer),
        "jwks_uri": format!("{}/oauth/jwks", shared.issuer),
        "introspection_endpoint": format!("{}/oauth/introspect", shared.issuer),
        "token_endpoint_auth_methods_supported": config.token_auth_methods,
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": capabilities,
    });
    if config.dynamic_registration != crate::DynamicRegistration::Off {
        body["registration_endpoint"] = json!(format!("{}/oauth/register", shared.issuer));
        if let Some(grants) = body["grant_types_supported"].as_array_mut() {
            grants.push(json!(crate::registration::JWT_BEARER));
        }
    }
    if config.revocation {
        body["revocation_endpoint"] = json!(format!("{}/oauth/revoke", shared.issuer));
    }
    if config.iss_parameter {
        body["authorization_response_iss_parameter_supported"] = json!(true);
    }
    if config
        .token_auth_methods
        .iter()
        .any(|m| m == "private_key_jwt")
    {
        body["token_endpoint_auth_signing_alg_values_supported"] = json!(crate::assertion::ALGS);
        if let Some(list) = body["capabilities"].as_array_mut() {
            list.push(json!("client-confidential-asymmetric"));
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
