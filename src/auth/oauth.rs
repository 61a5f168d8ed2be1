//! The typed `oauth2` client for one provider, the SMART extras of its token responses, and the
//! translation of token-endpoint failures into messages a patient can act on.
//!
//! Every request goes through [`crate::http::oauth_request`], so `oauth2` uses fhirdl's single
//! reqwest client (same TLS stack, same-origin redirects, same redacted tracing).

use super::client_key::{new_jti, ClientKey, ASSERTION_TYPE};
use super::credentials::{Credentials, LaunchContext};
use super::discovery::Discovery;
use super::explain::{explain, ClientProof, Refusal, Sent, Stage};
use crate::datetime::now_unix;
use crate::error::{Failure, Kind};
use crate::http::{redact_url, Http, OauthTransportError};
use crate::sanitize::clean;
use crate::secret::Secret;
use anyhow::{Context, Result};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields,
    RedirectUrl, RefreshToken, RequestTokenError, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

/// SMART App Launch additions to the token response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SmartFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Secret>,
    /// SMART App Launch 2.2 context; none is required, all are kept.
    #[serde(flatten)]
    pub launch: LaunchContext,
}

impl ExtraTokenFields for SmartFields {}

pub type SmartTokenResponse = StandardTokenResponse<SmartFields, BasicTokenType>;

pub type SmartClient = oauth2::Client<
    BasicErrorResponse,
    SmartTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Builds the client for a provider from its discovery document.
pub fn build_client(
    client_id: &str,
    client_secret: Option<&Secret>,
    discovery: &Discovery,
    redirect_uri: Option<&str>,
) -> Result<SmartClient> {
    let auth = AuthUrl::new(discovery.authorization_endpoint.clone())
        .context("the authorization endpoint is not a valid URL")?;
    let token = TokenUrl::new(discovery.token_endpoint.clone())
        .context("the token endpoint is not a valid URL")?;
    let auth_type = if discovery.prefers_basic_auth() {
        AuthType::BasicAuth
    } else {
        AuthType::RequestBody
    };
    let mut client = oauth2::Client::new(ClientId::new(client_id.to_string()))
        .set_auth_uri(auth)
        .set_token_uri(token)
        .set_auth_type(auth_type);
    if let Some(secret) = client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
    }
    if let Some(uri) = redirect_uri {
        client = client
            .set_redirect_uri(RedirectUrl::new(uri.to_string()).context("invalid redirect URI")?);
    }
    Ok(client)
}

/// Turns a token response into stored credentials. `previous` supplies what a refresh response
/// may leave out (refresh token, patient, granted scope).
pub fn credentials_from(
    resp: &SmartTokenResponse,
    requested_scope: &str,
    previous: Option<&Credentials>,
    client_secret: Option<Secret>,
) -> Credentials {
    let now = now_unix();
    let extra = resp.extra_fields();
    let scope = resp
        .scopes()
        .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" "))
        .or_else(|| previous.map(|p| p.scope.clone()))
        .unwrap_or_else(|| requested_scope.to_string());
    // A refresh that returns no new refresh token used the one held: its idleness starts again.
    let (refresh_token, refresh_token_issued_at, refresh_token_used_at) = match resp.refresh_token()
    {
        Some(rt) => (Some(Secret::new(rt.secret().clone())), Some(now), None),
        None => {
            let kept = previous.and_then(|p| p.refresh_token.clone());
            let used = kept.as_ref().map(|_| now);
            (kept, previous.and_then(|p| p.refresh_token_issued_at), used)
        }
    };
    // The id_token is read only once validated (at sign-in, `auth::id_token`); a refresh keeps
    // the fhirUser and patient of the sign-in.
    let fhir_user = previous.and_then(|p| p.fhir_user.clone());
    let patient = extra
        .patient
        .clone()
        .or_else(|| previous.and_then(|p| p.patient.clone()));
    let launch = if extra.launch.is_empty() {
        previous.map(|p| p.launch.clone()).unwrap_or_default()
    } else {
        extra.launch.clone()
    };
    Credentials {
        access_token: Secret::new(resp.access_token().secret().clone()),
        expires_at: resp
            .expires_in()
            .map(|d| now + i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)),
        refresh_token,
        refresh_token_issued_at,
        refresh_token_used_at,
        scope,
        patient,
        encounter: extra
            .encounter
            .clone()
            .or_else(|| previous.and_then(|p| p.encounter.clone())),
        fhir_user,
        user_name: previous.and_then(|p| p.user_name.clone()),
        launch,
        client_secret: client_secret.or_else(|| previous.and_then(|p| p.client_secret.clone())),
        signed_in_at: previous.map_or(now, |p| p.signed_in_at),
    }
}

/// `https://x/fhir/Patient/123` → `123`, when the signed-in user is a patient.
pub fn patient_from_fhir_user(fhir_user: &str) -> Option<String> {
    let mut parts = fhir_user.trim_end_matches('/').rsplit('/');
    let id = parts.next()?;
    (parts.next()? == "Patient" && !id.is_empty()).then(|| id.to_string())
}

/// What the token endpoint did, for the caller to decide the exit code.
#[derive(Debug)]
pub struct TokenFailure {
    /// The OAuth error code (`invalid_grant`, `invalid_client`, …) when the server sent one.
    pub code: Option<String>,
    /// The server's `error_description`, as sent (untrusted: [`super::explain`] cleans it).
    pub description: Option<String>,
    pub message: String,
    /// The failure is on the way (unreachable, broke off), not an answer.
    pub transport: bool,
    /// An error answer without an OAuth `error` (a bare 400, an empty or `{}` body).
    pub bare: bool,
}

impl TokenFailure {
    /// What the server answered, for [`super::explain::explain`]; `None` when there is no
    /// answer to explain (on the way, or a body that is neither a token nor an error).
    pub fn refusal(&self, stage: Stage) -> Option<Refusal<'_>> {
        (self.code.is_some() || self.bare).then_some(Refusal {
            stage,
            error: self.code.as_deref(),
            description: self.description.as_deref(),
            status: None,
        })
    }

    /// The explained error when there is a refusal to explain, else `fallback` with the message.
    pub fn into_error(self, stage: Stage, sent: &Sent<'_>, fallback: Kind) -> anyhow::Error {
        match self.refusal(stage) {
            Some(r) => explain(&r, sent).into_error(sent.profile),
            None if self.transport => Failure::new(Kind::Network, self.message).into(),
            None => Failure::new(fallback, self.message).into(),
        }
    }
}

pub type TokenError = RequestTokenError<OauthTransportError, BasicErrorResponse>;

/// Describes a failed token request without quoting the response body (it may hold tokens).
pub fn describe_token_error(err: &TokenError, endpoint: &str) -> TokenFailure {
    let shown = Url::parse(endpoint)
        .map(|u| redact_url(&u))
        .unwrap_or_default();
    match err {
        RequestTokenError::ServerResponse(e) => {
            let code = e.error().to_string();
            let mut message = format!("the token endpoint {shown} refused the request: {code}");
            if let Some(d) = e.error_description() {
                message.push_str(&format!(" ({})", clean(d)));
            }
            TokenFailure {
                code: Some(code),
                description: e.error_description().cloned(),
                message,
                transport: false,
                bare: false,
            }
        }
        RequestTokenError::Request(e) => TokenFailure {
            code: None,
            description: None,
            message: format!("cannot reach the token endpoint {shown}: {e}"),
            transport: true,
            bare: false,
        },
        RequestTokenError::Parse(e, body) => {
            let trimmed: Vec<u8> = body
                .iter()
                .copied()
                .skip_while(u8::is_ascii_whitespace)
                .take(1)
                .collect();
            let what = if trimmed.first() == Some(&b'<') {
                "an HTML page".to_string()
            } else if serde_json::from_slice::<serde_json::Value>(body).is_err() {
                "something that is not JSON".to_string()
            } else {
                // Only the path is shown: serde's message may quote a value.
                format!("JSON without a usable '{}'", e.path())
            };
            TokenFailure {
                code: None,
                description: None,
                message: format!(
                    "the token endpoint {shown} answered with {what} instead of a token response"
                ),
                transport: false,
                bare: is_bare_error(body),
            }
        }
        RequestTokenError::Other(m) => TokenFailure {
            code: None,
            description: None,
            message: format!(
                "the token endpoint {shown} answered unexpectedly: {}",
                clean(m)
            ),
            transport: false,
            // oauth2 says this of an error status with an empty body (`endpoint.rs`).
            bare: m.contains("empty error response"),
        },
    }
}

/// A JSON object that is neither a token response nor an OAuth error: an error answer without
/// an `error` (`{}`, `{"message": …}`).
fn is_bare_error(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .is_some_and(|o| !o.contains_key("access_token") && !o.contains_key("error"))
}

/// The RFC 7523 parameters that authenticate one token request of `client` with `key`: a fresh
/// assertion (new `jti`, five minutes) for its token endpoint. The value is a bearer credential
/// for those minutes; the trace redacts it (`crate::http`).
pub fn assertion_params(
    client: &SmartClient,
    key: &ClientKey,
) -> Result<[(&'static str, String); 2]> {
    let assertion = key.assertion(
        client.client_id().as_str(),
        client.token_uri().as_str(),
        now_unix(),
        &new_jti(),
    )?;
    Ok([
        ("client_assertion_type", ASSERTION_TYPE.to_string()),
        ("client_assertion", assertion.expose().to_string()),
    ])
}

/// Exchanges the refresh token of `creds`, with a client assertion when the client has a `key`.
/// A refusal is explained ([`super::explain`]); `invalid_grant` means the sign-in is over: exit
/// "login required".
pub async fn refresh(
    http: &Http,
    client: &SmartClient,
    profile: &str,
    creds: &Credentials,
    key: Option<&ClientKey>,
) -> Result<SmartTokenResponse> {
    let Some(refresh_token) = &creds.refresh_token else {
        anyhow::bail!("profile '{profile}' holds no refresh token");
    };
    let rt = RefreshToken::new(refresh_token.expose().to_string());
    let mut request = client.exchange_refresh_token(&rt);
    if let Some(key) = key {
        for (name, value) in assertion_params(client, key)? {
            request = request.add_extra_param(name, value);
        }
    }
    request.request_async(http).await.map_err(|e| {
        let sent = Sent {
            profile,
            client_id: client.client_id().as_str(),
            redirect_uri: None,
            requested_scope: &creds.scope,
            proof: proof_of(creds.client_secret.is_some(), key),
        };
        describe_token_error(&e, client.token_uri().as_str()).into_error(
            Stage::Refresh,
            &sent,
            Kind::Network,
        )
    })
}

/// How a request proves the client, for [`super::explain`].
pub fn proof_of(secret: bool, key: Option<&ClientKey>) -> ClientProof<'_> {
    match (key, secret) {
        (Some(k), _) => ClientProof::Key { kid: &k.info.kid },
        (None, true) => ClientProof::Secret,
        (None, false) => ClientProof::Public,
    }
}

/// Which token [`revoke`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

/// Revokes a token at the revocation endpoint (RFC 7009), authenticating the client the same way
/// as at the token endpoint. Written by hand because `oauth2` refuses the plain-http loopback
/// endpoints that local test servers use.
pub async fn revoke(
    http: &Http,
    endpoint: &str,
    client: &ClientAuth<'_>,
    token: &Secret,
    kind: TokenKind,
) -> Result<()> {
    let url = Url::parse(endpoint).context("the revocation endpoint is not a valid URL")?;
    let shown = redact_url(&url);
    let hint = match kind {
        TokenKind::Access => "access_token",
        TokenKind::Refresh => "refresh_token",
    };
    let form = [("token", token.expose()), ("token_type_hint", hint)];
    let resp = client
        .post(http, &url, &form)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the revocation endpoint {shown}: {e}"))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = crate::http::read_capped(resp, 64 * 1024)
        .await
        .unwrap_or_default();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(clean))
        .map(|c| format!(": {c}"))
        .unwrap_or_default();
    anyhow::bail!(
        "the revocation endpoint {shown} answered HTTP {}{code}",
        status.as_u16()
    )
}

/// How the client authenticates at the token, revocation and introspection endpoints.
pub struct ClientAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: Option<&'a Secret>,
    /// `client_secret_basic` rather than `client_secret_post`.
    pub basic_auth: bool,
    /// `private_key_jwt`: the key and the token endpoint (an assertion's `aud`, as SMART App
    /// Launch has it for every endpoint of the authorization server).
    pub key: Option<(&'a ClientKey, &'a str)>,
}

impl ClientAuth<'_> {
    /// POSTs `form` with the client's authentication added; the error says only what failed
    /// on the way (never the form, which holds a token).
    async fn post(
        &self,
        http: &Http,
        url: &Url,
        form: &[(&str, &str)],
    ) -> std::result::Result<reqwest::Response, String> {
        let mut form: Vec<(&str, String)> =
            form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let mut req = http
            .client()
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some((key, audience)) = self.key {
            let assertion = key
                .assertion(self.client_id, audience, now_unix(), &new_jti())
                .map_err(|e| format!("{e:#}"))?;
            form.push(("client_id", self.client_id.to_owned()));
            form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
            form.push(("client_assertion", assertion.expose().to_owned()));
            return send_form(http, req, &form).await;
        }
        match self.client_secret {
            Some(secret) if self.basic_auth => {
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                req = req.basic_auth(enc(self.client_id), Some(enc(secret.expose())));
            }
            Some(secret) => {
                form.push(("client_id", self.client_id.to_owned()));
                form.push(("client_secret", secret.expose().to_owned()));
            }
            None => form.push(("client_id", self.client_id.to_owned())),
        }
        send_form(http, req, &form).await
    }
}

async fn send_form(
    http: &Http,
    req: reqwest::RequestBuilder,
    form: &[(&str, String)],
) -> std::result::Result<reqwest::Response, String> {
    let req = req
        .form(form)
        .build()
        .map_err(|e| format!("cannot build the request: {e}"))?;
    http.send(req)
        .await
        .map_err(|e| crate::http::describe_reqwest(&e))
}

/// What RFC 7662 token introspection says about a token (the fields fhirdl shows).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Introspection {
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub exp: Option<i64>,
    #[serde(default)]
    pub patient: Option<String>,
}

/// Asks the introspection endpoint (RFC 7662) about `token`.
pub async fn introspect(
    http: &Http,
    endpoint: &str,
    client: &ClientAuth<'_>,
    token: &Secret,
) -> Result<Introspection> {
    let url = Url::parse(endpoint).context("the introspection endpoint is not a valid URL")?;
    let shown = redact_url(&url);
    let form = [
        ("token", token.expose()),
        ("token_type_hint", "access_token"),
    ];
    let resp = client
        .post(http, &url, &form)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the introspection endpoint {shown}: {e}"))?;
    let status = resp.status();
    let body = crate::http::read_capped(resp, 64 * 1024)
        .await
        .unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!(
            "the introspection endpoint {shown} answered HTTP {}",
            status.as_u16()
        );
    }
    serde_json::from_slice(&body).map_err(|_| {
        anyhow::anyhow!("the introspection endpoint {shown} answered something that is not an introspection response")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_from_fhir_user_forms() {
        assert_eq!(
            patient_from_fhir_user("https://a/fhir/Patient/123").as_deref(),
            Some("123")
        );
        assert_eq!(patient_from_fhir_user("Patient/9").as_deref(), Some("9"));
        assert_eq!(
            patient_from_fhir_user("https://a/fhir/Practitioner/1"),
            None
        );
        assert_eq!(patient_from_fhir_user("x"), None);
    }

    #[test]
    fn token_response_keeps_smart_extras_and_hides_secrets() {
        let body = serde_json::json!({
            "access_token": "AT-secret", "token_type": "bearer", "expires_in": 3600,
            "scope": "launch/patient patient/*.rs offline_access", "refresh_token": "RT-secret",
            "patient": "p-1", "encounter": "e-1"
        });
        let resp: SmartTokenResponse = serde_json::from_value(body).unwrap();
        let c = credentials_from(&resp, "ignored", None, None);
        assert_eq!(c.patient.as_deref(), Some("p-1"));
        assert_eq!(c.encounter.as_deref(), Some("e-1"));
        assert_eq!(c.scope, "launch/patient patient/*.rs offline_access");
        assert!(c.expires_in().unwrap() > 3500);
        let dbg = format!("{c:?} {:?}", resp.extra_fields());
        assert!(
            !dbg.contains("AT-secret") && !dbg.contains("RT-secret"),
            "{dbg}"
        );
        // A refresh answer without refresh token or patient keeps the previous ones.
        let again: SmartTokenResponse = serde_json::from_value(
            serde_json::json!({"access_token": "AT2", "token_type": "Bearer"}),
        )
        .unwrap();
        let c2 = credentials_from(&again, "x", Some(&c), None);
        // It used the refresh token held, which was issued at sign-in.
        assert_eq!(c2.refresh_token_issued_at, c.refresh_token_issued_at);
        assert!(c2.refresh_token_used_at.is_some() && c.refresh_token_used_at.is_none());
        assert_eq!(c2.refresh_token.unwrap().expose(), "RT-secret");
        assert_eq!(c2.patient.as_deref(), Some("p-1"));
        assert_eq!(c2.scope, c.scope);
    }
}
