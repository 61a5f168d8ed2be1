//! Authenticated FHIR requests: the bearer token goes only to the FHIR base's origin, a 401 is
//! answered by one refresh and one retry, and error bodies are summarised from their
//! OperationOutcome without echoing resource content.

use crate::auth::session::Session;
use crate::error::{Failure, Kind};
use crate::http::{read_json, redact_url, Http, JsonResponse, FHIR_JSON};
use anyhow::{Context, Result};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::Arc;
use url::Url;

#[derive(Clone)]
pub struct FhirClient {
    http: Http,
    base: Url,
    session: Arc<Session>,
}

impl FhirClient {
    pub fn new(http: Http, base: Url, session: Arc<Session>) -> FhirClient {
        FhirClient {
            http,
            base,
            session,
        }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// `GET url` with the bearer token. Refuses URLs outside the FHIR base's origin.
    pub async fn get(&self, url: &Url) -> Result<JsonResponse> {
        if !same_origin(&self.base, url) {
            return Err(Failure::new(
                Kind::Network,
                format!(
                    "refusing to send the access token to {} (outside the FHIR server {})",
                    redact_url(url),
                    self.base.origin().ascii_serialization()
                ),
            )
            .into());
        }
        let token = self.session.access_token().await?;
        let resp = self.send(url, &token).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return read_json(resp).await;
        }
        let token = self.session.after_unauthorized(&token).await?;
        let resp = self.send(url, &token).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let name = &self.session.profile_name;
            return Err(Failure::login_required(
                name,
                format!("the provider refused the access token of profile '{name}' even after a refresh"),
            )
            .into());
        }
        read_json(resp).await
    }

    async fn send(&self, url: &Url, token: &crate::secret::Secret) -> Result<reqwest::Response> {
        let req = self
            .http
            .client()
            .get(url.clone())
            .header(ACCEPT, FHIR_JSON)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
            .build()
            .context("cannot build the request")?;
        self.http
            .send(req)
            .await
            .with_context(|| format!("cannot reach {}", redact_url(url)))
    }

    /// Reads `<base>/<type>/<id>`; a non-success answer is an error naming the status.
    pub async fn read(&self, resource_type: &str, id: &str) -> Result<Value> {
        let url = resource_url(&self.base, resource_type, id)?;
        let resp = self.get(&url).await?;
        if !resp.status.is_success() {
            return Err(status_failure(&resp, &format!("{resource_type}/{id}")).into());
        }
        Ok(resp.body)
    }
}

/// `<base>/<type>/<id>` with the id percent-encoded as one path segment.
pub fn resource_url(base: &Url, resource_type: &str, id: &str) -> Result<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| anyhow::anyhow!("the FHIR base cannot take a path"))?
        .pop_if_empty()
        .push(resource_type)
        .push(id);
    Ok(url)
}

pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// A failure for an unsuccessful FHIR answer, with the OperationOutcome's text when present.
pub fn status_failure(resp: &JsonResponse, what: &str) -> Failure {
    let detail = outcome_text(&resp.body)
        .map(|t| format!(": {t}"))
        .unwrap_or_default();
    let status = resp.status.as_u16();
    let kind = match status {
        401 => Kind::LoginRequired,
        _ => Kind::Network,
    };
    Failure::new(
        kind,
        format!("reading {what} failed with HTTP {status}{detail}"),
    )
}

/// The diagnostics/details text of an OperationOutcome, shortened.
pub fn outcome_text(body: &Value) -> Option<String> {
    if body.get("resourceType")?.as_str()? != "OperationOutcome" {
        return None;
    }
    let texts: Vec<String> = body
        .get("issue")?
        .as_array()?
        .iter()
        .filter_map(|i| {
            i.get("diagnostics")
                .and_then(Value::as_str)
                .or_else(|| i.get("details")?.get("text")?.as_str())
                .map(crate::auth::oauth::clean)
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

/// A display name from a Patient resource: `name[0].text`, else given + family.
pub fn patient_name(patient: &Value) -> Option<String> {
    let names = patient.get("name")?.as_array()?;
    let name = names
        .iter()
        .find(|n| n.get("use").and_then(Value::as_str) == Some("official"))
        .or_else(|| names.first())?;
    if let Some(t) = name.get("text").and_then(Value::as_str) {
        return Some(crate::auth::oauth::clean(t));
    }
    let mut parts: Vec<String> = name
        .get("given")
        .and_then(Value::as_array)
        .map(|g| {
            g.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    match name.get("family") {
        Some(Value::String(f)) => parts.push(f.clone()),
        // DSTU2: family is a list.
        Some(Value::Array(f)) => {
            parts.extend(f.iter().filter_map(Value::as_str).map(str::to_string))
        }
        _ => {}
    }
    let joined = crate::auth::oauth::clean(&parts.join(" "));
    (!joined.is_empty()).then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_urls_encode_ids() {
        let base = Url::parse("https://a.example/fhir/r4").unwrap();
        assert_eq!(
            resource_url(&base, "Patient", "1").unwrap().as_str(),
            "https://a.example/fhir/r4/Patient/1"
        );
        let evil = resource_url(&base, "Patient", "../../x").unwrap();
        assert!(
            evil.as_str()
                .starts_with("https://a.example/fhir/r4/Patient/"),
            "{evil}"
        );
        assert!(!evil.path().contains("/../"));
        assert!(same_origin(
            &base,
            &Url::parse("https://a.example/other").unwrap()
        ));
        assert!(!same_origin(
            &base,
            &Url::parse("https://a.example:444/fhir/r4").unwrap()
        ));
        assert!(!same_origin(
            &base,
            &Url::parse("http://a.example/fhir/r4").unwrap()
        ));
    }

    #[test]
    fn names_and_outcomes() {
        let p = json!({"name": [{"given": ["Alice", "M"], "family": "Doe"}]});
        assert_eq!(patient_name(&p).as_deref(), Some("Alice M Doe"));
        let d2 = json!({"name": [{"use": "official", "given": ["Bo"], "family": ["Li"]}]});
        assert_eq!(patient_name(&d2).as_deref(), Some("Bo Li"));
        assert_eq!(patient_name(&json!({})), None);
        let oo =
            json!({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "no access"}]});
        assert_eq!(outcome_text(&oo).as_deref(), Some("no access"));
        assert_eq!(outcome_text(&json!({"resourceType": "Patient"})), None);
    }
}
