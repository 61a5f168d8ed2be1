//! Dynamic client registration (RFC 7591, managed per RFC 7592) and the JWT bearer grant
//! (RFC 7523 §2.1), as Epic offers them to public patient apps: after a sign-in, the app posts
//! its `software_id` (its client id) and a public key set with the access token as bearer; it
//! gets a client id of its own and from then on trades assertions signed with that key for
//! access tokens for the same patient and scopes. No refresh token is issued.
//! (<https://fhir.epic.com/Documentation?docId=oauth2>, "dynamic client registration".)

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::grants::{RefreshGrant, Registered};
use crate::state::Shared;
use crate::stats::Stats;

/// `grant_type` of the JWT bearer grant.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Whether and how the registration endpoint answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DynamicRegistration {
    /// Not offered (no `registration_endpoint`).
    #[default]
    Off,
    /// Offered to the public client, with the JWT bearer grant.
    Open,
    /// Offered, but every registration is refused with a bare 400 (no OAuth error), as a
    /// server does for an app not enabled for it.
    RefusedBare,
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = json!({"error": code, "error_description": description});
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// POST /oauth/register
pub(crate) async fn register(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if shared.config.dynamic_registration == DynamicRegistration::RefusedBare {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let Some(token) = bearer(&headers) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "a bearer token is required",
        );
    };
    let grant = match shared.auth().bearer(token) {
        Ok(g) => g.clone(),
        Err(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is not valid",
            )
        }
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "the body is not JSON",
        );
    };
    if request["software_id"].as_str() != Some(grant.client_id.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            "unapproved_software_statement",
            "software_id must be the client id the access token was issued to",
        );
    }
    if let Some(method) = request["token_endpoint_auth_method"].as_str() {
        if method != "private_key_jwt" {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                "token_endpoint_auth_method must be private_key_jwt",
            );
        }
    }
    let jwks = request["jwks"].clone();
    if let Err(why) = public_rsa_keys(&jwks) {
        return error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &why);
    }
    let client_id = format!("dyn-{}", crate::crypto::random_token());
    if shared
        .client_keys
        .register(&client_id, jwks.clone())
        .is_err()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "the jwks is not a JWK Set",
        );
    }
    let management_token = crate::crypto::random_token();
    shared.secrets.record(&management_token);
    shared.registrations.lock().insert(
        client_id.clone(),
        Registered {
            grant: RefreshGrant {
                client_id: client_id.clone(),
                patient: grant.patient.clone(),
                scope: grant.scope.clone(),
                grant: grant.grant,
                proxy: None,
            },
            management_token: management_token.clone(),
        },
    );
    Stats::bump(&shared.stats.registrations);
    let answer = json!({
        "client_id": client_id,
        "client_id_issued_at": OffsetDateTime::now_utc().unix_timestamp(),
        "software_id": grant.client_id,
        "jwks": jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": [JWT_BEARER],
        "redirect_uris": [],
        "registration_access_token": management_token,
        "registration_client_uri": format!("{}/oauth/register/{client_id}", shared.issuer),
    });
    (
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(answer),
    )
        .into_response()
}

/// DELETE /oauth/register/{client_id} (RFC 7592 §2.3), with the registration access token.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let mut clients = shared.registrations.lock();
    match clients.get(&client_id) {
        Some(r) if crate::crypto::constant_time_eq(&r.management_token, token) => {
            clients.remove(&client_id);
            drop(clients);
            shared.client_keys.unregister(&client_id);
            Stats::bump(&shared.stats.unregistrations);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// The grant behind a JWT bearer grant's `assertion`: a registered client's, once the
/// assertion passes the same checks as a client assertion (signature by its key, `iss` = `sub`,
/// `aud` = the token endpoint, `exp`, an unused `jti`). `Err` is the OAuth error and why.
pub(crate) fn jwt_bearer(
    shared: &Shared,
    assertion: &str,
    client_id: Option<&str>,
) -> Result<RefreshGrant, (&'static str, String)> {
    shared.secrets.record(assertion);
    Stats::bump(&shared.stats.jwt_bearer_grants);
    let audience = format!("{}/oauth/token", shared.issuer);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let issuer = shared
        .client_keys
        .verify(assertion, &audience, now)
        .map_err(|why| ("invalid_grant", why))?;
    if client_id.is_some_and(|id| id != issuer) {
        return Err((
            "invalid_client",
            "client_id is not the assertion's issuer".into(),
        ));
    }
    shared
        .registrations
        .get(&issuer)
        .map(|r| r.grant)
        .ok_or(("invalid_grant", "the client is not registered".into()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// A JWK Set of public keys only (no private member), each RSA of at least 2048 bits or EC
/// P-384: what a registration may hold.
fn public_rsa_keys(jwks: &Value) -> Result<(), String> {
    let keys = jwks["keys"]
        .as_array()
        .ok_or("jwks must hold a keys array")?;
    if keys.is_empty() {
        return Err("jwks holds no key".into());
    }
    for key in keys {
        if ["d", "p", "q", "dp", "dq", "qi"]
            .iter()
            .any(|m| key.get(m).is_some())
        {
            return Err("jwks must hold public keys only".into());
        }
        match key["kty"].as_str() {
            Some("RSA") => {
                let n = key["n"].as_str().unwrap_or_default();
                // 2048 bits are 256 bytes, 342 base64url characters.
                if n.len() < 342 {
                    return Err("RSA keys must have at least 2048 bits".into());
                }
            }
            Some("EC") if key["crv"].as_str() == Some("P-384") => {}
            _ => return Err("keys must be RSA (RS384) or EC P-384 (ES384)".into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_keys_of_a_fit_size_register() {
        let n = "x".repeat(342);
        assert!(public_rsa_keys(&json!({"keys": [{"kty": "RSA", "n": n, "e": "AQAB"}]})).is_ok());
        assert!(
            public_rsa_keys(&json!({"keys": [{"kty": "RSA", "n": "short", "e": "AQAB"}]})).is_err()
        );
        assert!(
            public_rsa_keys(&json!({"keys": [{"kty": "RSA", "n": n, "e": "AQAB", "d": "x"}]}))
                .is_err()
        );
        assert!(public_rsa_keys(&json!({"keys": []})).is_err());
        assert!(public_rsa_keys(&json!({"keys": [{"kty": "oct", "k": "x"}]})).is_err());
        assert!(public_rsa_keys(&json!({})).is_err());
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
