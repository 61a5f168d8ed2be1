//! The token endpoint (authorization_code and refresh_token grants, RFC 6749 + PKCE), the
//! revocation endpoint (RFC 7009), with the client authentication both share, introspection,
//! and the JWKS that verifies the id_tokens issued here.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use time::OffsetDateTime;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::form::{Params, Repeated};
use crate::grants::{AuthStore, RefreshGrant};
use crate::hostile::IdTokenFault;
use crate::signing::SigningKey;
use crate::state::Shared;
use crate::stats::Stats;
use crate::{assertion, crypto, scopes};

/// An OAuth error response (RFC 6749 5.2).
#[derive(Debug)]
enum OAuthError {
    InvalidRequest(String),
    InvalidClient(String),
    InvalidGrant(String),
    InvalidScope(String),
    UnsupportedGrantType(String),
}

impl From<Repeated> for OAuthError {
    fn from(Repeated(name): Repeated) -> Self {
        OAuthError::InvalidRequest(format!("{name} was given more than once"))
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, code, description) = match self {
            OAuthError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
            OAuthError::InvalidClient(d) => (StatusCode::UNAUTHORIZED, "invalid_client", d),
            OAuthError::InvalidGrant(d) => (StatusCode::BAD_REQUEST, "invalid_grant", d),
            OAuthError::InvalidScope(d) => (StatusCode::BAD_REQUEST, "invalid_scope", d),
            OAuthError::UnsupportedGrantType(d) => {
                (StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
            }
        };
        let body = json!({"error": code, "error_description": description});
        let mut response = no_store(status, Json(body));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"fhirdl-sandbox\""),
            );
        }
        response
    }
}

fn no_store(status: StatusCode, body: impl IntoResponse) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// POST /oauth/token
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    match exchange(&shared, &headers, &params) {
        Ok(body) => no_store(StatusCode::OK, Json(body)),
        Err(error) => error.into_response(),
    }
}

fn exchange(shared: &Shared, headers: &HeaderMap, params: &Params) -> Result<Value, OAuthError> {
    if let Some(name) = params.first_repeated() {
        return Err(OAuthError::InvalidRequest(format!(
            "{name} was given more than once"
        )));
    }
    // The JWT bearer grant's assertion is both the grant and the client's proof.
    if params.get("grant_type")? == Some(crate::registration::JWT_BEARER) {
        let assertion = params
            .get("assertion")?
            .ok_or_else(|| OAuthError::InvalidRequest("assertion is missing".into()))?;
        let grant = crate::registration::jwt_bearer(shared, assertion, params.get("client_id")?)
            .map_err(|(code, why)| match code {
                "invalid_client" => OAuthError::InvalidClient(why),
                _ => OAuthError::InvalidGrant(why),
            })?;
        let mut auth = shared.auth();
        return Ok(issue(
            shared,
            &mut auth,
            &grant,
            &grant.scope.clone(),
            None,
            None,
        ));
    }
    let client_id = authenticate(shared, headers, params)?;
    match params.get("grant_type")? {
        Some("authorization_code") => authorization_code(shared, &client_id, params),
        Some("refresh_token") => {
            Stats::bump(&shared.stats.refresh_grants);
            refresh(shared, &client_id, params)
        }
        Some(other) => Err(OAuthError::UnsupportedGrantType(format!(
            "grant_type {other} is not supported"
        ))),
        None => Err(OAuthError::InvalidRequest("grant_type is missing".into())),
    }
}

/// Identifies the client: public by `client_id` alone, confidential by `client_secret_basic` or
/// `client_secret_post`, each only when configured.
fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<String, OAuthError> {
    if params.get("client_assertion_type")?.is_some() || params.get("client_assertion")?.is_some() {
        return authenticate_assertion(shared, headers, params);
    }
    let config = &shared.config;
    let body_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    let basic = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let parsed = value.to_str().ok().and_then(crypto::parse_basic);
            Some(parsed.ok_or_else(|| {
                OAuthError::InvalidClient("the Authorization header is not valid Basic".into())
            })?)
        }
        None => None,
    };
    if let Some(s) = body_secret {
        shared.secrets.record(s);
    }
    if let Some((_, s)) = &basic {
        shared.secrets.record(s);
    }
    let method_allowed = |m: &str| config.token_auth_methods.iter().any(|a| a == m);
    let confidential = |id: &str, secret: &str| {
        config
            .confidential_client
            .as_ref()
            .is_some_and(|(cid, csecret)| cid == id && crypto::constant_time_eq(csecret, secret))
    };
    let bad_client = || OAuthError::InvalidClient("client authentication failed".into());

    let (id, secret, method) = match (&basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method, not Basic and client_secret".into(),
            ))
        }
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(bad_client());
            }
            // Some OAuth libraries send a public client's id as Basic with an empty password.
            if *id == config.public_client_id && secret.is_empty() {
                return Ok(id.clone());
            }
            (id.as_str(), secret.as_str(), "client_secret_basic")
        }
        (None, Some(secret)) => (body_id.unwrap_or_default(), secret, "client_secret_post"),
        (None, None) => {
            return match body_id {
                Some(id) if id == config.public_client_id => Ok(id.to_owned()),
                Some(_) => Err(bad_client()),
                None => Err(OAuthError::InvalidClient("client_id is missing".into())),
            }
        }
    };
    if method_allowed(method) && confidential(id, secret) {
        Ok(id.to_owned())
    } else {
        Err(bad_client())
    }
}

/// `private_key_jwt` (RFC 7523 §2.2): the client assertion, alone, authenticates the client.
fn authenticate_assertion(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<String, OAuthError> {
    let assertion = params.get("client_assertion")?.unwrap_or_default();
    shared.secrets.record(assertion);
    if params.get("client_assertion_type")? != Some(assertion::ASSERTION_TYPE) {
        return Err(OAuthError::InvalidRequest(format!(
            "client_assertion_type must be {}",
            assertion::ASSERTION_TYPE
        )));
    }
    if headers.contains_key(header::AUTHORIZATION) || params.get("client_secret")?.is_some() {
        return Err(OAuthError::InvalidRequest(
            "use one client authentication method, not a secret and an assertion".into(),
        ));
    }
    if !shared
        .config
        .token_auth_methods
        .iter()
        .any(|m| m == "private_key_jwt")
    {
        return Err(OAuthError::InvalidClient(
            "private_key_jwt is not accepted here".into(),
        ));
    }
    let audience = format!("{}/oauth/token", shared.issuer);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let client_id = shared
        .client_keys
        .verify(assertion, &audience, now)
        .map_err(OAuthError::InvalidClient)?;
    if params.get("client_id")?.is_some_and(|id| id != client_id) {
        return Err(OAuthError::InvalidClient(
            "client_id is not the assertion's issuer".into(),
        ));
    }
    Ok(client_id)
}

fn authorization_code(
    shared: &Shared,
    client_id: &str,
    params: &Params,
) -> Result<Value, OAuthError> {
    let missing = |name: &str| OAuthError::InvalidRequest(format!("{name} is missing"));
    let code = params.get("code")?.ok_or_else(|| missing("code"))?;
    let redirect_uri = params
        .get("redirect_uri")?
        .ok_or_else(|| missing("redirect_uri"))?;
    let verifier = params
        .get("code_verifier")?
        .ok_or_else(|| missing("code_verifier"))?;
    shared.secrets.record(code);
    shared.secrets.record(verifier);

    let mut auth = shared.auth();
    let grant = auth
        .redeem_code(code)
        .map_err(|e| OAuthError::InvalidGrant(e.into()))?;
    let invalid = |d: &str| Err(OAuthError::InvalidGrant(d.into()));
    if grant.client_id != client_id {
        return invalid("the code was issued to another client");
    }
    if grant.redirect_uri != redirect_uri {
        return invalid("redirect_uri differs from the one in the authorization request");
    }
    if !crypto::is_valid_verifier(verifier)
        || !crypto::constant_time_eq(&crypto::pkce_challenge(verifier), &grant.code_challenge)
    {
        return invalid("code_verifier does not match the code_challenge");
    }
    let base = RefreshGrant {
        client_id: grant.client_id.clone(),
        patient: grant.patient.clone(),
        scope: grant.scope.clone(),
        grant: grant.grant(),
        proxy: grant.proxy.clone(),
    };
    // Epic: a public client gets no refresh token unless it registered dynamically.
    let public = client_id == shared.config.public_client_id;
    let refresh = (scopes::has(&grant.scope, "offline_access")
        && (!public || shared.config.refresh_tokens_for_public_clients))
        .then(|| auth.issue_refresh(base.clone()));
    let nonce = grant.nonce.as_deref();
    Ok(issue(
        shared,
        &mut auth,
        &base,
        &grant.scope,
        refresh,
        nonce,
    ))
}

fn refresh(shared: &Shared, client_id: &str, params: &Params) -> Result<Value, OAuthError> {
    let token = params
        .get("refresh_token")?
        .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is missing".into()))?;
    let mut auth = shared.auth();
    let grant = match auth.refresh_grant(token) {
        Some(grant) if grant.client_id == client_id => grant.clone(),
        _ => {
            return Err(OAuthError::InvalidGrant(
                "the refresh token is invalid, expired or revoked".into(),
            ))
        }
    };
    let scope = match params.get("scope")? {
        Some(narrower) if !scopes::is_subset(narrower, &grant.scope) => {
            return Err(OAuthError::InvalidScope(
                "a refresh may only narrow the original scope".into(),
            ))
        }
        Some(narrower) => narrower.split_whitespace().collect::<Vec<_>>().join(" "),
        None => grant.scope.clone(),
    };
    let rotated = shared.config.refresh_token_rotation.then(|| {
        auth.remove_refresh(token);
        auth.issue_refresh(grant.clone())
    });
    Ok(issue(shared, &mut auth, &grant, &scope, rotated, None))
}

/// The token response: a new access token for `scope`, plus the refresh token and id_token
/// when they apply. `nonce` is the authorization request's (code exchanges only).
fn issue(
    shared: &Shared,
    auth: &mut AuthStore,
    grant: &RefreshGrant,
    scope: &str,
    refresh_token: Option<String>,
    nonce: Option<&str>,
) -> Value {
    let ttl = shared.config.access_token_ttl;
    let access_grant = RefreshGrant {
        scope: scope.to_owned(),
        ..grant.clone()
    };
    let access_token = auth.issue_access(&access_grant, ttl);
    shared.secrets.record(&access_token);
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "scope": scope,
        "patient": grant.patient,
        // SMART App Launch 2.2 context; a client must accept and may ignore each.
        "need_patient_banner": false,
        "smart_style_url": format!("{}/smart-style.json", shared.issuer),
        "tenant": "sandbox",
        "fhirContext": [{"reference": format!("Patient/{}", grant.patient), "role": "launch"}],
    });
    if shared.hostile().token_without_patient {
        if let Some(o) = body.as_object_mut() {
            o.remove("patient");
        }
    }
    if let Some(refresh_token) = refresh_token {
        shared.secrets.record(&refresh_token);
        body["refresh_token"] = json!(refresh_token);
    }
    let omitted = nonce.is_some() && shared.hostile().id_token == Some(IdTokenFault::Omitted);
    // Without `patient`, a patient's id_token would still name the patient; a proxy's names
    // only the RelatedPerson, so it is kept.
    let hides_patient = shared.hostile().token_without_patient && grant.proxy.is_none();
    if scopes::has(scope, "openid") && !hides_patient && !omitted {
        let id_token = id_token(shared, grant, nonce);
        shared.secrets.record(&id_token);
        body["id_token"] = json!(id_token);
    }
    body
}

/// An OpenID Connect id_token signed with the current key, spoiled as
/// [`Hostile::id_token`](crate::hostile::Hostile) says (only when it answers a code exchange).
fn id_token(shared: &Shared, grant: &RefreshGrant, nonce: Option<&str>) -> String {
    let iat = OffsetDateTime::now_utc().unix_timestamp();
    let ttl = i64::try_from(shared.config.access_token_ttl.as_secs()).unwrap_or(i64::MAX);
    let (sub, fhir_user, name) = match &grant.proxy {
        Some(username) => (
            username.clone(),
            format!(
                "{}/RelatedPerson/{}",
                shared.fhir_base, shared.proxy.related_person_id
            ),
            shared.proxy.display_name.clone(),
        ),
        None => (
            grant.patient.clone(),
            format!("{}/Patient/{}", shared.fhir_base, grant.patient),
            shared
                .users
                .iter()
                .find(|u| u.patient_id == grant.patient)
                .map(|u| u.display_name.clone())
                .unwrap_or_default(),
        ),
    };
    let mut claims = json!({
        "iss": shared.issuer,
        "sub": sub,
        "aud": grant.client_id,
        "iat": iat,
        "exp": iat.saturating_add(ttl),
        "fhirUser": fhir_user,
        "name": name,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let fault = nonce.and(shared.hostile().id_token);
    match fault {
        Some(IdTokenFault::WrongIssuer) => claims["iss"] = json!("https://impostor.example"),
        Some(IdTokenFault::WrongAudience) => claims["aud"] = json!("another-app"),
        Some(IdTokenFault::Expired) => {
            claims["iat"] = json!(iat - 7200);
            claims["exp"] = json!(iat - 3600);
        }
        Some(IdTokenFault::WrongNonce) => claims["nonce"] = json!("not-the-nonce-that-was-sent"),
        _ => {}
    }
    match fault {
        Some(IdTokenFault::UnpublishedKey) => match SigningKey::es256("unpublished-key") {
            Ok(key) => key.sign(&claims),
            Err(_) => String::new(),
        },
        Some(IdTokenFault::BadSignature) => {
            let signed = shared.signing_keys().current().sign(&claims);
            claims["sub"] = json!("someone-else");
            let forged = URL_SAFE_NO_PAD.encode(claims.to_string());
            let mut parts: Vec<&str> = signed.split('.').collect();
            if parts.len() == 3 {
                parts[1] = &forged;
            }
            parts.join(".")
        }
        _ => shared.signing_keys().current().sign(&claims),
    }
}

/// The authenticated client of a revocation or introspection request and the `token` it
/// names.
fn client_and_token<'p>(
    shared: &Shared,
    headers: &HeaderMap,
    params: &'p Params,
) -> Result<(String, &'p str), OAuthError> {
    let client_id = authenticate(shared, headers, params)?;
    let token = params
        .get("token")?
        .ok_or_else(|| OAuthError::InvalidRequest("token is missing".into()))?;
    Ok((client_id, token))
}

/// POST /oauth/revoke (RFC 7009): 200 with an empty body, known token or not.
pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    let result = client_and_token(&shared, &headers, &params);
    match result {
        Ok((client_id, token)) => {
            Stats::bump(&shared.stats.revocations);
            shared.auth().revoke(token, &client_id);
            no_store(StatusCode::OK, ())
        }
        Err(error) => error.into_response(),
    }
}

/// POST /oauth/introspect (RFC 7662): what an access token of the calling client allows;
/// `{"active": false}` for any other token. The client authenticates as at the token endpoint.
pub(crate) async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    let result = client_and_token(&shared, &headers, &params);
    let (client_id, token) = match result {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let answer = match shared.auth().bearer(token) {
        Ok(grant) if grant.client_id == client_id => {
            let mut body = json!({
                "active": true,
                "scope": grant.scope,
                "patient": grant.patient,
                "client_id": grant.client_id,
                "token_type": "Bearer",
            });
            if let Some(left) = grant.seconds_left() {
                body["exp"] = json!(now.saturating_add(i64::try_from(left).unwrap_or(i64::MAX)));
            }
            body
        }
        _ => json!({"active": false}),
    };
    no_store(StatusCode::OK, Json(answer))
}

/// GET /oauth/jwks: the public keys (RFC 7517), no token needed.
pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    Stats::bump(&shared.stats.jwks_requests);
    let body = shared.signing_keys().jwks();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
