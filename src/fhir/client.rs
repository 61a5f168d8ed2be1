//! Authenticated FHIR requests: the bearer token goes only to the FHIR base's origin, a 401 is
//! answered by a refresh and a retry (at most [`MAX_REFRESHES`] times for one request), a
//! successful answer that cannot be read (cut off, not JSON, an HTML page) is fetched again like
//! a 503, and error bodies are summarised from their OperationOutcome without echoing resource
//! content.

use super::rate::RateLimiter;
use super::retry::{backoff, retry_after, retryable_status, MAX_ATTEMPTS};
use super::window::{signal_for, Permit, Signal, Window};
use crate::auth::session::Session;
use crate::error::{Failure, Kind};
use crate::http::{
    not_json, read_capped, redact_url, refuse_html, Http, JsonResponse, FHIR_JSON, MAX_JSON_BYTES,
};
use anyhow::{Context, Result};
use reqwest::header::{ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// An answer read by [`FhirClient::get_with`].
#[derive(Debug)]
pub struct Parsed<T> {
    /// Where the answer came from (after same-origin redirects).
    pub url: Url,
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    /// The parsed body of a successful answer; `None` for an error status.
    pub body: Option<T>,
    /// An error answer's body as JSON (its OperationOutcome, when it sent one), else null.
    pub error_body: Value,
    /// Bytes of the body as received.
    pub bytes: u64,
}

/// Requests in flight at most unless `--concurrency` says otherwise (tuned with `cargo bench
/// --bench export`: 64 lets the first pages, the later pages, the references and the documents
/// of a typical record go out in about three round trips). The window halves on 429/503/
/// timeouts and grows back one per window of good answers, so a small practice's server is not
/// piled on; a larger `--concurrency` is reached by growing from [`super::window::INITIAL`].
pub const DEFAULT_IN_FLIGHT: usize = 64;

/// Refreshes one request may cause: a token refused right after a refresh may have been expired
/// by the server meanwhile (another refresh helps), but a server that refuses every new token
/// needs a new sign-in.
pub const MAX_REFRESHES: u32 = 3;

/// 401s one request may meet in all. A token that another request's refresh had already
/// replaced costs no refresh of its own (while many requests are in flight, one request may
/// meet several such), but the count still ends somewhere.
pub const MAX_UNAUTHORIZED: u32 = 12;

#[derive(Clone)]
pub struct FhirClient {
    http: Http,
    base: Url,
    session: Arc<Session>,
    rate: Option<Arc<RateLimiter>>,
    window: Arc<Window>,
    counters: Arc<Counters>,
    /// Sent with every search this client builds ([`FhirClient::search_url`]).
    search_params: Arc<Vec<(String, String)>>,
}

/// What a client did, for summaries and benchmarks.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub bytes: AtomicU64,
}

/// A body read whole, with its status and headers.
#[derive(Debug)]
pub struct BytesResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl FhirClient {
    pub fn new(http: Http, base: Url, session: Arc<Session>) -> FhirClient {
        FhirClient {
            http,
            base,
            session,
            rate: None,
            window: Arc::new(Window::growing_over_http2(DEFAULT_IN_FLIGHT)),
            counters: Arc::default(),
            search_params: Arc::default(),
        }
    }

    /// Parameters every search carries (a profile's `--search-param`, e.g. athenahealth's
    /// `ah-practice`).
    /// The names of the parameters sent with every search (`login --search-param`).
    pub fn search_param_names(&self) -> Vec<String> {
        self.search_params.iter().map(|(k, _)| k.clone()).collect()
    }

    pub fn with_search_params(mut self, params: Vec<(String, String)>) -> FhirClient {
        self.search_params = Arc::new(params);
        self
    }

    /// `<base>/<resource_type>?<params>` plus the client's own search parameters.
    pub fn search_url(&self, resource_type: &str, params: &[(&str, &str)]) -> Result<Url> {
        let mut all = params.to_vec();
        all.extend(
            self.search_params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        crate::fhir_url::search(&self.base, resource_type, &all)
    }

    /// At most `n` requests of this client and its clones in flight (fewer while the server
    /// signals overload; see [`Window`]), over HTTP/2 too.
    pub fn with_concurrency(mut self, n: usize) -> FhirClient {
        self.window = Arc::new(Window::new(n));
        self
    }

    pub fn window(&self) -> &Window {
        &self.window
    }

    /// Caps the request rate of this client and its clones.
    pub fn with_rate_limit(mut self, per_second: Option<f64>) -> FhirClient {
        self.rate = per_second.map(|r| Arc::new(RateLimiter::new(r)));
        self
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Shared by its clones (the progress lines read them while the run goes on).
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// `GET url` as FHIR JSON with the bearer token, retried on transient failures: a
    /// successful answer that breaks off, is not JSON or is an HTML page (a portal's login
    /// page, a proxy's error page) is fetched again. Refuses URLs outside the FHIR base's
    /// origin.
    pub async fn get(&self, url: &Url) -> Result<JsonResponse> {
        let answer = self
            .get_with(url, |bytes| {
                serde_json::from_slice::<Value>(bytes).map_err(|e| e.to_string())
            })
            .await?;
        Ok(JsonResponse {
            url: answer.url,
            status: answer.status,
            headers: answer.headers,
            body: answer.body.unwrap_or(answer.error_body),
            bytes: answer.bytes,
        })
    }

    /// [`Self::get`] with the caller's reading of a successful body: `parse` sees the bytes as
    /// received (so nothing is re-serialised) and its complaint is retried like a body that is
    /// not JSON.
    pub async fn get_with<T>(
        &self,
        url: &Url,
        parse: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Parsed<T>> {
        let mut attempt = 1;
        loop {
            let (resp, permit) = self.send_authorized(url, FHIR_JSON, &mut attempt).await?;
            let (status, headers, answered) =
                (resp.status(), resp.headers().clone(), resp.url().clone());
            if !status.is_success() {
                // An error answer is judged by its status; its body is read for an
                // OperationOutcome when there is one, and may be anything else (HTML, empty).
                let read = read_capped(resp, 1024 * 1024).await;
                permit.done(signal_for(status.as_u16()));
                // A refusal that claims to be JSON but does not parse was cut off or damaged
                // on the way: its words decide what happens next (a category to add, a type
                // to skip), so it is asked again rather than judged by its status alone.
                let damaged = match &read {
                    Err(_) => true,
                    Ok(bytes) => {
                        claims_json(&headers)
                            && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err()
                    }
                };
                if damaged && attempt < MAX_ATTEMPTS {
                    self.wait_before_retry(url, attempt, None, "the error answer was cut off")
                        .await;
                    attempt += 1;
                    continue;
                }
                let bytes = read.unwrap_or_default();
                self.counters
                    .bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                return Ok(Parsed {
                    url: url.clone(),
                    status,
                    headers,
                    body: None,
                    error_body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                    bytes: bytes.len() as u64,
                });
            }
            let read = read_capped(resp, MAX_JSON_BYTES).await;
            permit.done(match &read {
                Ok(_) => Signal::Ok,
                Err(e) => transport_signal(e),
            });
            let bytes = match read {
                Ok(bytes) => bytes,
                Err(e) if is_transport(&e) && attempt < MAX_ATTEMPTS => {
                    self.wait_before_retry(url, attempt, None, "the answer broke off")
                        .await;
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(e.context(format!(
                        "the connection to {} broke while reading the answer",
                        redact_url(url)
                    )))
                }
            };
            let parsed = refuse_html(&answered, status, &headers, &bytes).and_then(|()| {
                parse(&bytes).map_err(|why| not_json(&answered, status, &headers, &why))
            });
            match parsed {
                Ok(body) => {
                    self.counters
                        .bytes
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    return Ok(Parsed {
                        url: answered,
                        status,
                        headers,
                        body: Some(body),
                        error_body: Value::Null,
                        bytes: bytes.len() as u64,
                    });
                }
                Err(_) if attempt < MAX_ATTEMPTS => {
                    self.wait_before_retry(url, attempt, None, "the answer was not JSON")
                        .await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `GET url` for raw content (attachments), at most `cap` bytes, retried like [`Self::get`].
    /// `check` judges a successful answer read whole (and is told whether this is the last
    /// attempt); its complaint (an HTML page, a size that does not match) is retried like a
    /// cut-off body and, on the last attempt, returned as the error.
    pub async fn get_bytes(
        &self,
        url: &Url,
        accept: &str,
        cap: usize,
        check: impl Fn(&BytesResponse, bool) -> Result<(), String>,
    ) -> Result<BytesResponse> {
        let mut attempt = 1;
        loop {
            let (resp, permit) = self.send_authorized(url, accept, &mut attempt).await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let read = read_capped(resp, cap).await;
            permit.done(match &read {
                Ok(_) => signal_for(status.as_u16()),
                Err(e) => transport_signal(e),
            });
            match read {
                Ok(body) => {
                    self.counters
                        .bytes
                        .fetch_add(body.len() as u64, Ordering::Relaxed);
                    let answer = BytesResponse {
                        status,
                        headers,
                        body,
                    };
                    if !answer.status.is_success() {
                        return Ok(answer);
                    }
                    match check(&answer, attempt >= MAX_ATTEMPTS) {
                        Ok(()) => return Ok(answer),
                        Err(why) if attempt < MAX_ATTEMPTS => {
                            self.wait_before_retry(url, attempt, None, &why).await;
                            attempt += 1;
                        }
                        Err(why) => {
                            return Err(Failure::new(
                                Kind::Network,
                                format!("reading {}: {why}", redact_url(url)),
                            )
                            .into())
                        }
                    }
                }
                Err(e) if is_transport(&e) && attempt < MAX_ATTEMPTS => {
                    self.wait_before_retry(url, attempt, None, "the answer broke off")
                        .await;
                    attempt += 1;
                }
                Err(e) => return Err(e.context(format!("reading {}", redact_url(url)))),
            }
        }
    }

    /// Sends with the bearer token: one refresh after a 401, retries with backoff for 429/5xx
    /// and transport failures (`attempt` is shared with the caller's body retries).
    async fn send_authorized(
        &self,
        url: &Url,
        accept: &str,
        attempt: &mut u32,
    ) -> Result<(reqwest::Response, Permit<'_>)> {
        if !same_origin(&self.base, url) {
            return Err(Failure::new(
                Kind::Network,
                format!(
                    "not followed: {} is on another origin, and the access token only goes to {} (refusing to send the access token elsewhere)",
                    redact_url(url),
                    self.base.origin().ascii_serialization()
                ),
            )
            .into());
        }
        let mut token = self.session.access_token().await?;
        let (mut refreshes, mut unauthorized) = (0, 0);
        loop {
            let permit = self.window.acquire().await;
            if let Some(rate) = &self.rate {
                rate.acquire().await;
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let result = self.send(url, accept, &token, *attempt).await;
            let resp = match result {
                Ok(r) => r,
                Err(e) if is_transport(&e) && *attempt < MAX_ATTEMPTS => {
                    permit.done(transport_signal(&e));
                    self.wait_before_retry(url, *attempt, None, "the connection failed")
                        .await;
                    *attempt += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if resp.version() == reqwest::Version::HTTP_2 {
                self.window.multiplexed();
            }
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                // Same-origin redirects were followed; this one leaves the FHIR server.
                drop(permit);
                return Err(Failure::new(Kind::Network, self.redirect_refused(&resp)).into());
            }
            if status == StatusCode::UNAUTHORIZED {
                drop(permit);
                unauthorized += 1;
                if refreshes >= MAX_REFRESHES || unauthorized > MAX_UNAUTHORIZED {
                    let name = &self.session.profile_name;
                    return Err(crate::auth::Error::login_required(
                        name,
                        format!("the provider refused the access token of profile '{name}' even after a refresh; sign in again"),
                    )
                    .into());
                }
                let (fresh, refreshed) = self.session.after_unauthorized(&token).await?;
                token = fresh;
                refreshes += u32::from(refreshed);
                continue;
            }
            if retryable_status(status.as_u16()) && *attempt < MAX_ATTEMPTS {
                permit.done(signal_for(status.as_u16()));
                let after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, std::time::SystemTime::now()));
                self.wait_before_retry(url, *attempt, after, &format!("HTTP {}", status.as_u16()))
                    .await;
                *attempt += 1;
                continue;
            }
            return Ok((resp, permit));
        }
    }

    async fn wait_before_retry(&self, url: &Url, attempt: u32, after: Option<Duration>, why: &str) {
        let wait = after.unwrap_or_else(|| backoff(attempt, rand::random::<f64>()));
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        if self.http.console().verbosity() >= 1 {
            self.http.console().trace(&format!(
                "{why} for {}; retry {attempt} of {} in {} ms",
                redact_url(url),
                MAX_ATTEMPTS - 1,
                wait.as_millis()
            ));
        }
        tokio::time::sleep(wait).await;
    }

    async fn send(
        &self,
        url: &Url,
        accept: &str,
        token: &crate::secret::Secret,
        attempt: u32,
    ) -> Result<reqwest::Response> {
        let req = self
            .http
            .client()
            .get(url.clone())
            .header(ACCEPT, accept)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
            .build()
            .context("cannot build the request")?;
        self.http
            .send_attempt(req, attempt)
            .await
            .map_err(|e| crate::http::cannot_reach(e, url))
    }

    /// Reads `<base>/<type>/<id>`; a non-success answer is an error naming the status.
    pub async fn read(&self, resource_type: &str, id: &str) -> Result<Value> {
        let url = crate::fhir_url::resource(&self.base, resource_type, id)?;
        let resp = self.get(&url).await?;
        if !resp.status.is_success() {
            return Err(
                refusal_of(resp.status, &resp.body, &format!("{resource_type}/{id}")).into(),
            );
        }
        Ok(resp.body)
    }
}

/// A transport failure (connection refused or reset, timeout, body cut off) somewhere in the
/// chain. A refused server certificate is not one: asking again gets the same certificate.
fn is_transport(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<reqwest::Error>())
        .any(|r| {
            (r.is_timeout() || r.is_connect() || r.is_body() || r.is_request() || r.is_decode())
                && crate::tls::refused_certificate(r).is_none()
        })
}

/// A timeout says the server is slow (back off); other transport failures say nothing.
fn transport_signal(e: &anyhow::Error) -> Signal {
    let timed_out = e
        .chain()
        .filter_map(|c| c.downcast_ref::<reqwest::Error>())
        .any(reqwest::Error::is_timeout);
    if timed_out {
        Signal::Congested
    } else {
        Signal::Neutral
    }
}

pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// The error for an unsuccessful FHIR answer to `what`, with the OperationOutcome's text when
/// the server sent one.
pub fn refusal_of(status: StatusCode, error_body: &Value, what: &str) -> super::Error {
    super::Error::Refused {
        what: what.to_string(),
        status: status.as_u16(),
        outcome: outcome_text(error_body),
    }
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
                .map(crate::sanitize::clean)
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
        return Some(crate::sanitize::clean(t));
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
    let joined = crate::sanitize::clean(&parts.join(" "));
    (!joined.is_empty()).then_some(joined)
}

impl FhirClient {
    /// A redirect fhirdl did not follow, in words.
    fn redirect_refused(&self, resp: &reqwest::Response) -> String {
        let origin = self.base.origin().ascii_serialization();
        let target = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| resp.url().join(l).ok());
        match target {
            Some(t) => format!(
                "{} redirected to {}, another origin: not followed, the access token only goes to {origin}",
                redact_url(resp.url()),
                redact_url(&t)
            ),
            None => format!(
                "{} answered HTTP {} (a redirect without a usable Location): not followed",
                redact_url(resp.url()),
                resp.status().as_u16()
            ),
        }
    }
}

/// Whether an answer's `Content-Type` says JSON (`application/json`, `application/fhir+json`).
fn claims_json(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn origins() {
        let base = Url::parse("https://a.example/fhir/r4").unwrap();
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
