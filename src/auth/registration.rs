//! This computer registered with the provider as a client of its own (RFC 7591 dynamic client
//! registration), and the access tokens it then gets without a browser (RFC 7523 JWT bearer
//! grant), as Epic offers them to public patient apps that get no refresh token.
//!
//! After the first sign-in, fhirdl makes an RSA-2048 key here and posts its public half to the
//! server's `registration_endpoint` with the sign-in's access token as bearer, its app's client
//! id as `software_id`, and `token_endpoint_auth_method: private_key_jwt`. The server answers
//! with a client id for this computer. Later runs sign an assertion (`iss` = `sub` = that client
//! id, `aud` = the token endpoint, five minutes, a fresh `jti`) and trade it for an access token
//! for the same patient. The key never leaves the credential store; the profile keeps
//! [`Registration`] (public facts only). Where the server answers with a
//! `registration_client_uri` and a `registration_access_token` (RFC 7592), `logout` deletes the
//! registration there.
//!
//! Sources: Epic's OAuth 2.0 guide, "Standalone launch … dynamic client registration" and "JWT
//! bearer grant" (<https://fhir.epic.com/Documentation?docId=oauth2>); Epic's proposal to SMART
//! (<https://confluence.hl7.org/display/FHIRI/SMART+on+FHIR+Best+Practices>, 2022-05-18);
//! RFC 7591 §3 (request, response, errors), RFC 7592 §2.3 (delete), RFC 7523 §2.1 (grant).

use super::client_key::{new_jti, ClientKey, KeyInfo};
use super::explain::{explain, ClientProof, Refusal, Sent, Stage};
use super::oauth::SmartTokenResponse;
use crate::datetime::{now_rfc3339, now_unix};
use crate::error::{Failure, Kind};
use crate::http::{describe_reqwest, read_capped, redact_url, Http};
use crate::sanitize::clean;
use crate::secret::Secret;
use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

/// `grant_type` of the RFC 7523 JWT bearer grant.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The largest registration or token answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// What the profile keeps about its registration: public facts only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// The client id the server issued to this computer.
    pub client_id: String,
    /// The app's own client id, sent as `software_id`.
    pub software_id: String,
    /// RFC 3339.
    pub registered_at: String,
    /// The key the registration holds (its private half is in the credential store).
    pub key: KeyInfo,
    /// The registration endpoint it was made at.
    pub endpoint: String,
    /// RFC 7592: where the registration can be read or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
}

/// The registration's secrets, as the credential store keeps them. `Debug` shows no secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationSecrets {
    pub key: ClientKey,
    /// RFC 7592: the bearer token that manages the registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<Secret>,
}

/// One registration to make.
pub struct Request<'a> {
    pub profile: &'a str,
    pub endpoint: &'a str,
    /// The sign-in's access token: the initial access token of RFC 7591 §3.
    pub access_token: &'a Secret,
    /// The app's client id.
    pub software_id: &'a str,
}

/// The parts of an RFC 7591 §3.2.1 answer fhirdl reads.
#[derive(Deserialize)]
struct Answer {
    client_id: Option<Value>,
    registration_client_uri: Option<String>,
    registration_access_token: Option<String>,
}

/// Makes a key and registers it; the caller keeps both halves of the answer.
pub async fn register(
    http: &Http,
    req: &Request<'_>,
) -> Result<(Registration, RegistrationSecrets)> {
    let endpoint = Url::parse(req.endpoint)
        .map_err(|_| anyhow!("the registration endpoint is not a valid URL"))?;
    let key = ClientKey::generate_rsa(now_rfc3339())?;
    let body = json!({
        "software_id": req.software_id,
        "client_name": "fhirdl",
        "jwks": key.jwks()?,
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": [JWT_BEARER_GRANT],
    });
    let shown = redact_url(&endpoint);
    let request = http
        .client()
        .post(endpoint.clone())
        .bearer_auth(req.access_token.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .json(&body)
        .build()
        .context("cannot build the registration request")?;
    let resp = http.send(request).await.map_err(|e| {
        Failure::new(
            Kind::Network,
            format!(
                "cannot reach the registration endpoint {shown}: {}",
                describe_reqwest(&e)
            ),
        )
    })?;
    let status = resp.status().as_u16();
    let bytes = read_capped(resp, MAX_ANSWER_BYTES).await?;
    if !(200..300).contains(&status) {
        return Err(refused(req, &key.info, &shown, status, &bytes).into());
    }
    let answer: Answer = serde_json::from_slice(&bytes).map_err(|_| {
        anyhow!("the registration endpoint {shown} answered HTTP {status} with something that is not a registration")
    })?;
    let client_id = issued_client_id(answer.client_id.as_ref()).ok_or_else(|| {
        anyhow!("the registration endpoint {shown} answered without a usable client_id")
    })?;
    let manage = answer
        .registration_client_uri
        .filter(|u| same_origin(u, &endpoint));
    let registration = Registration {
        client_id,
        software_id: req.software_id.to_owned(),
        registered_at: now_rfc3339(),
        key: key.info.clone(),
        endpoint: req.endpoint.to_owned(),
        registration_client_uri: manage.clone(),
    };
    let secrets = RegistrationSecrets {
        key,
        registration_access_token: manage
            .and(answer.registration_access_token)
            .map(Secret::new),
    };
    Ok((registration, secrets))
}

/// A client id as issued: a string of 1 to 255 visible characters (it becomes an assertion's
/// `iss` and is shown by `status`).
fn issued_client_id(value: Option<&Value>) -> Option<String> {
    let id = value?.as_str()?;
    let visible = !id.is_empty() && id.len() < 256 && id.chars().all(|c| c.is_ascii_graphic());
    visible.then(|| id.to_owned())
}

/// The sign-in's access token goes to the registration endpoint only when it is at the origin
/// of the FHIR server or of the token endpoint that issued the token: a discovery document
/// cannot send it elsewhere.
pub fn may_receive_access_token(endpoint: &str, fhir_base: &str, token_endpoint: &str) -> bool {
    let Ok(endpoint) = Url::parse(endpoint) else {
        return false;
    };
    [fhir_base, token_endpoint]
        .iter()
        .any(|trusted| same_origin(trusted, &endpoint))
}

/// The registration access token is sent only to the origin that issued it.
fn same_origin(uri: &str, endpoint: &Url) -> bool {
    Url::parse(uri).is_ok_and(|u| u.origin() == endpoint.origin())
}

/// A refused registration explained (RFC 7591 §3.2.2 errors, the bearer refused, or an error
/// without a code): what was sent, without secrets, and what to do.
fn refused(req: &Request<'_>, key: &KeyInfo, shown: &str, status: u16, body: &[u8]) -> Failure {
    let answer: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = answer["error"]
        .as_str()
        .map(clean)
        .filter(|e| !e.is_empty());
    let description = answer["error_description"].as_str().map(clean);
    let said = match (&error, &description) {
        (Some(e), Some(d)) => format!("HTTP {status} {e}: {d}"),
        (Some(e), None) => format!("HTTP {status} {e}"),
        (None, _) => format!("HTTP {status}, no OAuth error code"),
    };
    let profile = req.profile;
    let app = clean(req.software_id);
    let retry = format!("then run `fhirdl login --profile {profile} --register`; until then this sign-in lasts as long as its access token, and `fhirdl login --profile {profile} --no-register` stops asking");
    let (message, fix) = match (error.as_deref(), status) {
        (Some("invalid_software_statement" | "unapproved_software_statement"), _) => (
            format!("the provider does not know the app '{app}' as software that may register (the server said: {said})"),
            format!("check the client id of the app registration; {retry}"),
        ),
        (Some("invalid_client_metadata"), _) => (
            format!("the provider refused what fhirdl registered: an RS384 public key {} and private_key_jwt (the server said: {said})", key.kid),
            format!("the organization may accept other keys or metadata than Epic's documented ones: `fhirdl doctor --profile {profile}` shows what it offers; {retry}"),
        ),
        (_, 401 | 403) => (
            format!("the registration endpoint {shown} did not accept this sign-in's access token (the server said: {said})"),
            format!("the app '{app}' may not be allowed to register clients at this organization (the vendor enables dynamic registration per app); {retry}"),
        ),
        _ => (
            format!("the registration endpoint {shown} refused the registration without saying why ({said}); fhirdl sent software_id={app}, a public RS384 key {}, token_endpoint_auth_method=private_key_jwt, grant_types={JWT_BEARER_GRANT}", key.kid),
            format!("the app '{app}' is probably not enabled for dynamic client registration at this organization: its owner enables it in the vendor's app registration (Epic: fhir.epic.com, \"Dynamic client registration\"); {retry}"),
        ),
    };
    Failure::new(Kind::LoginFailed, message).hint(fix)
}

/// An access token for the registered client: the JWT bearer grant with an assertion signed by
/// its key. A refusal is explained; one that ends the registration asks for a login (exit 4).
pub async fn jwt_bearer_grant(
    http: &Http,
    token_endpoint: &str,
    client_id: &str,
    key: &ClientKey,
    profile: &str,
    scope: &str,
) -> Result<SmartTokenResponse> {
    let url = Url::parse(token_endpoint).context("the token endpoint is not a valid URL")?;
    let shown = redact_url(&url);
    let assertion = key.assertion(client_id, token_endpoint, now_unix(), &new_jti())?;
    let form = [
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", assertion.expose()),
        ("client_id", client_id),
    ];
    let request = http
        .client()
        .post(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .build()
        .context("cannot build the token request")?;
    let resp = http.send(request).await.map_err(|e| {
        Failure::new(
            Kind::Network,
            format!(
                "cannot reach the token endpoint {shown}: {}",
                describe_reqwest(&e)
            ),
        )
    })?;
    let status = resp.status().as_u16();
    let bytes = read_capped(resp, MAX_ANSWER_BYTES).await?;
    if (200..300).contains(&status) {
        // The parse error is not shown: serde's message could quote a token.
        return serde_json::from_slice(&bytes).map_err(|_| {
            Failure::new(
                Kind::Network,
                format!("the token endpoint {shown} answered HTTP {status} with something that is not a token response"),
            )
            .into()
        });
    }
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let sent = Sent {
        profile,
        client_id,
        redirect_uri: None,
        requested_scope: scope,
        proof: ClientProof::Key { kid: &key.info.kid },
    };
    let refusal = Refusal {
        stage: Stage::JwtBearer,
        error: answer["error"].as_str(),
        description: answer["error_description"].as_str(),
        status: Some(status),
    };
    if status >= 500 && refusal.error.is_none() {
        return Err(Failure::new(
            Kind::Network,
            format!("the token endpoint {shown} failed (HTTP {status})"),
        )
        .into());
    }
    Err(explain(&refusal, &sent).into_error(profile))
}

/// Deletes the registration at its `registration_client_uri` (RFC 7592 §2.3). `Ok(false)`:
/// the server offered no way to (nothing to delete with).
pub async fn unregister(
    http: &Http,
    registration: &Registration,
    secrets: &RegistrationSecrets,
) -> Result<bool> {
    let (Some(uri), Some(token)) = (
        &registration.registration_client_uri,
        &secrets.registration_access_token,
    ) else {
        return Ok(false);
    };
    let url = Url::parse(uri).context("the registration's address is not a valid URL")?;
    let shown = redact_url(&url);
    let request = http
        .client()
        .delete(url)
        .bearer_auth(token.expose())
        .build()
        .context("cannot build the request")?;
    let resp = http
        .send(request)
        .await
        .map_err(|e| anyhow!("cannot reach {shown}: {}", describe_reqwest(&e)))?;
    match resp.status().as_u16() {
        200..=299 => Ok(true),
        // Already gone: what logout wanted.
        401 | 404 => Ok(true),
        status => anyhow::bail!("{shown} answered HTTP {status} to the deletion"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_client_ids_are_plain_text() {
        assert_eq!(
            issued_client_id(Some(&json!("dyn-123"))).as_deref(),
            Some("dyn-123")
        );
        for bad in [
            json!(""),
            json!(42),
            json!("a b"),
            json!("x\u{1b}[31m"),
            json!("é"),
        ] {
            assert_eq!(issued_client_id(Some(&bad)), None, "{bad}");
        }
        assert_eq!(issued_client_id(Some(&json!("x".repeat(300)))), None);
        assert_eq!(issued_client_id(None), None);
    }

    #[test]
    fn the_access_token_is_posted_only_to_the_fhir_or_token_origin() {
        let (base, token) = (
            "https://ehr.example.org/api/FHIR/R4",
            "https://login.example.org/oauth2/token",
        );
        assert!(may_receive_access_token(
            "https://ehr.example.org/oauth2/register",
            base,
            token
        ));
        assert!(may_receive_access_token(
            "https://login.example.org/register",
            base,
            token
        ));
        assert!(!may_receive_access_token(
            "https://evil.example/register",
            base,
            token
        ));
        assert!(!may_receive_access_token(
            "http://ehr.example.org/oauth2/register",
            base,
            token
        ));
        assert!(!may_receive_access_token("::", base, token));
    }

    #[test]
    fn the_registration_token_stays_on_its_origin() {
        let endpoint = Url::parse("https://ehr.example.org/oauth2/register").unwrap();
        assert!(same_origin(
            "https://ehr.example.org/oauth2/register/c1",
            &endpoint
        ));
        assert!(!same_origin("https://evil.example/register/c1", &endpoint));
        assert!(!same_origin(
            "http://ehr.example.org/oauth2/register/c1",
            &endpoint
        ));
        assert!(!same_origin("not a url", &endpoint));
    }

    fn request() -> Request<'static> {
        static TOKEN: std::sync::OnceLock<Secret> = std::sync::OnceLock::new();
        Request {
            profile: "epic",
            endpoint: "https://ehr.example.org/register",
            access_token: TOKEN.get_or_init(|| Secret::new("AT-secret")),
            software_id: "app-1",
        }
    }

    fn key_info() -> KeyInfo {
        KeyInfo {
            kid: "kid-1".into(),
            alg: super::super::client_key::KeyAlg::Rs384,
            created_at: "t".into(),
        }
    }

    #[test]
    fn a_bare_400_names_what_was_sent_and_the_fix() {
        let f = refused(
            &request(),
            &key_info(),
            "https://ehr.example.org/register",
            400,
            b"",
        );
        let text = format!("{} {}", f.message, f.hint.unwrap_or_default());
        assert!(
            text.contains("without saying why") && text.contains("HTTP 400"),
            "{text}"
        );
        assert!(
            text.contains("software_id=app-1") && text.contains("kid-1"),
            "{text}"
        );
        assert!(
            text.contains("not enabled for dynamic client registration"),
            "{text}"
        );
        assert!(
            text.contains("fhirdl login --profile epic --register"),
            "{text}"
        );
        assert!(!text.contains("AT-secret"), "{text}");
    }

    #[test]
    fn rfc_7591_errors_and_a_refused_bearer() {
        let f = refused(
            &request(),
            &key_info(),
            "u",
            400,
            br#"{"error":"unapproved_software_statement"}"#,
        );
        assert!(
            f.to_string().contains("does not know the app 'app-1'"),
            "{f}"
        );
        let f = refused(
            &request(),
            &key_info(),
            "u",
            400,
            br#"{"error":"invalid_client_metadata","error_description":"bad jwks"}"#,
        );
        assert!(f.to_string().contains("bad jwks"), "{f}");
        let f = refused(&request(), &key_info(), "u", 401, b"");
        assert!(
            f.to_string()
                .contains("did not accept this sign-in's access token"),
            "{f}"
        );
    }
}
