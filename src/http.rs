//! The one HTTP stack: a reqwest client (rustls), request tracing with redaction, JSON reading
//! with clear errors, and the adapter through which the `oauth2` crate uses the same client.
//!
//! Redirects are followed only within the same origin (scheme, host, port), so a bearer token or
//! a token request never travels to another host. Fetching FHIR resources with a token is in
//! [`crate::fhir`]; this module knows nothing about tokens.

use crate::console::Console;
use crate::error::{Failure, Kind};
use crate::tls::{refused_certificate, ExtraRoots};
use crate::trace::{TraceRecord, TraceSink};
use anyhow::{Context, Result};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// Environment variable overriding the whole-request timeout (120 s): `90`, `30s`, `2m` or
/// `500ms`. For slow servers, and for the fault campaign's "slow answer" faults.
pub const TIMEOUT_ENV: &str = "FHIRDL_HTTP_TIMEOUT";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest JSON document fhirdl reads into memory (discovery documents, token responses, pages).
pub const MAX_JSON_BYTES: usize = 64 * 1024 * 1024;

pub const FHIR_JSON: &str =
    "application/fhir+json, application/json+fhir;q=0.9, application/json;q=0.8";

/// Query parameters whose values never appear in traces or errors.
const SENSITIVE_PARAMS: &[&str] = &[
    "code",
    "state",
    "code_verifier",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    // The RFC 7523 JWT bearer grant's signed assertion.
    "assertion",
    "registration_access_token",
    "token",
    "password",
];

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    console: Arc<dyn Console>,
    trace: Arc<TraceSink>,
    extra_roots: ExtraRoots,
}

impl Http {
    /// The client, trusting `extra_roots` besides the built-in roots; `-v` lines and warnings
    /// go to `console`.
    pub fn new(console: Arc<dyn Console>, extra_roots: &ExtraRoots) -> Result<Http> {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() == attempt.url().origin());
            if attempt.previous().len() > 5 || !same_origin {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let builder = reqwest::Client::builder()
            .user_agent(concat!("fhirdl/", env!("CARGO_PKG_VERSION")))
            .redirect(policy)
            .connect_timeout(Duration::from_secs(20))
            .timeout(request_timeout()?);
        let client = extra_roots
            .add_to(builder)?
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Http {
            client,
            console,
            trace: Arc::new(TraceSink::new()),
            extra_roots: extra_roots.clone(),
        })
    }

    /// The certificates this client trusts besides the built-in roots (`FHIRDL_CA_FILE`).
    pub fn extra_roots(&self) -> &ExtraRoots {
        &self.extra_roots
    }

    /// The same client, recording into `sink` (the `--trace-file`, the doctor's report).
    pub fn with_trace_sink(mut self, sink: Arc<TraceSink>) -> Http {
        self.trace = sink;
        self
    }

    pub fn trace_sink(&self) -> &Arc<TraceSink> {
        &self.trace
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Where this client's `-v` lines go (FHIR requests trace through it too).
    pub fn console(&self) -> &dyn Console {
        self.console.as_ref()
    }

    /// Sends a request, tracing it at -v (one line) and -vv (headers, redacted), and into the
    /// trace sink (`--trace-file`, the doctor's report).
    pub async fn send(&self, req: reqwest::Request) -> Result<reqwest::Response, reqwest::Error> {
        self.send_attempt(req, 1).await
    }

    /// [`Http::send`] for the `attempt`-th try of the same request (1 for the first).
    pub async fn send_attempt(
        &self,
        req: reqwest::Request,
        attempt: u32,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let method = req.method().clone();
        // Registered patient ids become a hash here too, so -v output can be shared like the
        // trace file.
        let url = self.trace.mask_url(&redact_url(req.url()));
        if self.console.verbosity() >= 2 {
            self.console.trace(&format!("> {method} {url}"));
            trace_headers(self.console.as_ref(), &self.trace, ">", req.headers());
        }
        let record = self.trace.active().then(|| TraceRecord {
            time: crate::datetime::now_rfc3339_millis(),
            method: method.to_string(),
            url: url.clone(),
            status: None,
            error: None,
            ms: 0,
            bytes: None,
            attempt,
            request_headers: redacted_headers(req.headers()),
            response_headers: Vec::new(),
            request_body: self
                .trace
                .wants_bodies()
                .then(|| req.body().and_then(|b| b.as_bytes()))
                .flatten()
                .map(|b| redact_body(&String::from_utf8_lossy(b))),
            response_body: None,
        });
        let started = Instant::now();
        let mut result = self.client.execute(req).await;
        let ms = started.elapsed().as_millis();
        match &result {
            Ok(resp) => {
                if self.console.verbosity() >= 1 {
                    let len = resp
                        .content_length()
                        .map(|n| format!("{n} B"))
                        .unwrap_or_else(|| "? B".into());
                    let retry = if attempt > 1 {
                        format!(", attempt {attempt}")
                    } else {
                        String::new()
                    };
                    // Support staff see when requests share one HTTP/2 connection.
                    let h2 = match resp.version() == reqwest::Version::HTTP_2 {
                        true => ", HTTP/2",
                        false => "",
                    };
                    self.console.trace(&format!(
                        "{method} {url} → {} ({ms} ms, {len}{retry}{h2})",
                        resp.status().as_u16()
                    ));
                }
                if self.console.verbosity() >= 2 {
                    trace_headers(self.console.as_ref(), &self.trace, "<", resp.headers());
                }
            }
            Err(e) if self.console.verbosity() >= 1 => {
                self.console.trace(&format!(
                    "{method} {url} → failed after {ms} ms: {}",
                    describe_reqwest(e)
                ));
            }
            Err(_) => {}
        }
        if let Some(mut rec) = record {
            rec.ms = u64::try_from(ms).unwrap_or(u64::MAX);
            match result {
                Ok(resp) => {
                    rec.status = Some(resp.status().as_u16());
                    rec.response_headers = redacted_headers(resp.headers());
                    rec.bytes = resp.content_length();
                    result = if self.trace.wants_bodies() {
                        with_body_recorded(resp, &mut rec).await
                    } else {
                        Ok(resp)
                    };
                }
                Err(ref e) => rec.error = Some(describe_reqwest(e)),
            }
            if let Err(e) = self.trace.record(rec) {
                self.console.warn(&format!("{e:#}"));
            }
        }
        result
    }

    /// GETs a JSON document (discovery, metadata) without credentials.
    pub async fn get_json(&self, url: &Url, accept: &str) -> Result<JsonResponse> {
        let req = self
            .client
            .get(url.clone())
            .header(ACCEPT, accept)
            .build()
            .context("cannot build the request")?;
        let resp = self.send(req).await.map_err(|e| cannot_reach(e, url))?;
        read_json(resp).await
    }
}

/// "cannot reach <url>" (redacted) for a request that got no answer, saying so when the
/// server's certificate was refused (the reqwest error stays in the chain, for the hint).
pub fn cannot_reach(e: reqwest::Error, url: &Url) -> anyhow::Error {
    let why = refused_certificate(&e)
        .map(|refused| format!(": {}", refused.summary()))
        .unwrap_or_default();
    anyhow::Error::new(e).context(format!("cannot reach {}{why}", redact_url(url)))
}

/// A parsed JSON body with the response's status and headers.
#[derive(Debug)]
pub struct JsonResponse {
    pub url: Url,
    pub status: reqwest::StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    /// Bytes of the body as received (after content decoding).
    pub bytes: u64,
}

/// Reads a response body as JSON, refusing HTML pages and other non-JSON with a clear error.
pub async fn read_json(resp: reqwest::Response) -> Result<JsonResponse> {
    let url = resp.url().clone();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = read_capped(resp, MAX_JSON_BYTES).await.with_context(|| {
        format!(
            "the connection to {} broke while reading the answer",
            redact_url(&url)
        )
    })?;
    parse_json(url, status, headers, &bytes)
}

/// Parses a body read whole as JSON, refusing HTML pages and other non-JSON with a clear error.
pub fn parse_json(
    url: Url,
    status: reqwest::StatusCode,
    headers: HeaderMap,
    bytes: &[u8],
) -> Result<JsonResponse> {
    refuse_html(&url, status, &headers, bytes)?;
    let body = serde_json::from_slice(bytes)
        .map_err(|e| not_json(&url, status, &headers, &e.to_string()))?;
    Ok(JsonResponse {
        url,
        status,
        headers,
        body,
        bytes: bytes.len() as u64,
    })
}

/// An HTML page where JSON was expected (a portal's login page, a proxy's error page).
pub fn refuse_html(
    url: &Url,
    status: reqwest::StatusCode,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<()> {
    if content_type(headers).contains("html") || looks_like_html(bytes) {
        return Err(Failure::new(
            Kind::Network,
            format!(
                "{} answered HTTP {} with an HTML page, not JSON",
                redact_url(url),
                status.as_u16()
            ),
        )
        .hint("this is often a login or error page: check that the address is the FHIR base URL")
        .into());
    }
    Ok(())
}

/// The failure for a body that could not be read as the JSON expected (`why`).
pub fn not_json(
    url: &Url,
    status: reqwest::StatusCode,
    headers: &HeaderMap,
    why: &str,
) -> anyhow::Error {
    let content_type = content_type(headers);
    Failure::new(
        Kind::Network,
        format!(
            "{} answered HTTP {} with a body that is not valid JSON ({why}; content type '{}')",
            redact_url(url),
            status.as_u16(),
            if content_type.is_empty() {
                "none"
            } else {
                &content_type
            }
        ),
    )
    .into()
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The whole-request timeout: 120 s, or [`TIMEOUT_ENV`].
fn request_timeout() -> Result<Duration> {
    match std::env::var(TIMEOUT_ENV) {
        Ok(value) => parse_timeout(&value)
            .map_err(|why| Failure::new(Kind::Usage, format!("{TIMEOUT_ENV}: {why}")).into()),
        Err(_) => Ok(DEFAULT_TIMEOUT),
    }
}

/// `500ms`, or anything [`crate::datetime::parse_duration`] takes (`90`, `30s`, `2m`, `1h`).
fn parse_timeout(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    match value.strip_suffix("ms") {
        Some(ms) => match ms.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Duration::from_millis(n)),
            _ => Err(format!("'{value}' is not a duration like 500ms, 30s or 2m")),
        },
        None => crate::datetime::parse_duration(value),
    }
}

/// Reads a whole body, but no more than `cap` bytes.
pub async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > cap {
            anyhow::bail!(
                "the answer is larger than {} MiB; refusing to read it",
                cap / (1024 * 1024)
            );
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A `Content-Type`'s media type, in lower case and without its parameters
/// (`Text/HTML; charset=utf-8` → `text/html`); empty when there is none.
pub fn media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub fn looks_like_html(bytes: &[u8]) -> bool {
    let start: Vec<u8> = bytes
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    start.starts_with(b"<!doctype html") || start.starts_with(b"<html")
}

/// A URL with the values of sensitive query parameters replaced by `(redacted)`, and without
/// any user:password part.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if SENSITIVE_PARAMS.contains(&k.as_ref()) {
                    "(redacted)".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

fn trace_headers(console: &dyn Console, sink: &TraceSink, dir: &str, headers: &HeaderMap) {
    for (name, shown) in redacted_headers(headers) {
        let shown = if crate::trace::is_url_header(&name) {
            sink.mask_url(&shown)
        } else {
            shown
        };
        console.trace(&format!("{dir} {name}: {shown}"));
    }
}

/// Headers as they may be shown: credentials and cookies replaced, URL-valued headers
/// (a redirect's `Location` may carry `code` and `state`) passed through [`redact_url`].
pub fn redacted_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let shown = match name.as_str() {
                "authorization" | "cookie" | "set-cookie" | "proxy-authorization" => {
                    "(redacted)".to_string()
                }
                n if crate::trace::is_url_header(n) => match value.to_str() {
                    Ok(v) => Url::parse(v)
                        .map(|u| redact_url(&u))
                        .unwrap_or_else(|_| v.to_string()),
                    Err(_) => "(binary)".to_string(),
                },
                _ => value.to_str().unwrap_or("(binary)").to_string(),
            };
            (name.as_str().to_string(), shown)
        })
        .collect()
}

/// The largest body any caller reads (attachments, `sync::attachments::MAX_ATTACHMENT_BYTES`).
const MAX_TRACED_BODY_BYTES: usize = 512 * 1024 * 1024;

/// Reads the body for the trace (`--trace-bodies`) and hands back an equivalent response.
async fn with_body_recorded(
    resp: reqwest::Response,
    rec: &mut TraceRecord,
) -> Result<reqwest::Response, reqwest::Error> {
    use reqwest::ResponseBuilderExt as _;
    let url = resp.url().clone();
    let status = resp.status();
    let version = resp.version();
    let headers = resp.headers().clone();
    // Never more than the largest body any caller accepts, plus one byte so that the caller's
    // own cap still refuses it: a server sending gigabytes cannot exhaust memory through the
    // trace.
    let mut resp = resp;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_TRACED_BODY_BYTES {
            break;
        }
    }
    rec.bytes = Some(body.len() as u64);
    rec.response_body = Some(redact_body(&String::from_utf8_lossy(&body)));
    // Status and version come from a response that was valid a moment ago, so the builder
    // cannot fail; the default (an empty 200) is never reached.
    let mut rebuilt = reqwest::Response::from(
        oauth2::http::Response::builder()
            .status(status)
            .version(version)
            .url(url)
            .body(body)
            .unwrap_or_default(),
    );
    *rebuilt.headers_mut() = headers;
    Ok(rebuilt)
}

/// JSON members whose values never appear in a body trace (token responses, introspection).
const SENSITIVE_JSON_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "code_verifier",
    // RFC 7591/7592: the token that manages a dynamic registration.
    "registration_access_token",
    "password",
    "token",
];

/// A body as `--trace-bodies` may record it: a form (token and revocation requests) with the
/// values of sensitive parameters replaced, a JSON document (token responses) with the values of
/// token members replaced; anything else as it is (FHIR resources are health data, which the
/// option is about, and their `code` elements are not secrets).
pub fn redact_body(text: &str) -> String {
    if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text) {
        fn walk(v: &mut serde_json::Value) -> bool {
            let mut changed = false;
            match v {
                serde_json::Value::Object(map) => {
                    for (k, x) in map.iter_mut() {
                        if SENSITIVE_JSON_KEYS.contains(&k.as_str()) {
                            *x = serde_json::Value::String("(redacted)".into());
                            changed = true;
                        } else {
                            changed |= walk(x);
                        }
                    }
                }
                serde_json::Value::Array(items) => {
                    for x in items {
                        changed |= walk(x);
                    }
                }
                _ => {}
            }
            changed
        }
        return if walk(&mut v) {
            v.to_string()
        } else {
            text.to_string()
        };
    }
    let looks_like_form = !text.is_empty()
        && text.contains('=')
        && !text.trim_start().starts_with('<')
        && !text.contains(char::is_whitespace);
    if looks_like_form {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        if pairs
            .iter()
            .any(|(k, _)| SENSITIVE_PARAMS.contains(&k.as_str()))
        {
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                if SENSITIVE_PARAMS.contains(&k.as_str()) {
                    out.append_pair(k, "(redacted)");
                } else {
                    out.append_pair(k, v);
                }
            }
            return out.finish();
        }
    }
    text.to_string()
}

/// A short description of a transport error, without the URL (callers add a redacted one).
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    if let Some(refused) = refused_certificate(e) {
        return format!("{}: {}", refused.summary(), refused.why);
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Is this URL allowed to carry OAuth or FHIR traffic: https, or http on a loopback host.
pub fn is_secure_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback_host(url),
        _ => false,
    }
}

pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The adapter that lets the `oauth2` crate send its requests through our client (one HTTP
/// stack, same redirect policy, same tracing).
pub async fn oauth_request(
    http: &Http,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, OauthTransportError> {
    let (parts, body) = request.into_parts();
    let url = Url::parse(&parts.uri.to_string()).map_err(|e| OauthTransportError(e.to_string()))?;
    let mut req = reqwest::Request::new(parts.method, url);
    *req.headers_mut() = parts.headers;
    *req.body_mut() = Some(body.into());
    let resp = http
        .send(req)
        .await
        .map_err(|e| OauthTransportError(describe_reqwest(&e)))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = read_capped(resp, MAX_JSON_BYTES)
        .await
        .map_err(|e| OauthTransportError(e.to_string()))?;
    let mut out = oauth2::http::Response::builder()
        .status(status)
        .body(bytes)
        .map_err(|e| OauthTransportError(e.to_string()))?;
    *out.headers_mut() = headers;
    Ok(out)
}

/// `oauth2` sends its requests through [`Http`] (a boxed `Send` future, so token requests can
/// run inside spawned tasks).
impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = OauthTransportError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, OauthTransportError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(oauth_request(self, request))
    }
}

/// A transport failure talking to an OAuth endpoint (already redacted).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OauthTransportError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_sensitive_values_only() {
        let u = Url::parse("http://127.0.0.1:5/cb?code=abc&state=xyz&iss=https%3A%2F%2Fa").unwrap();
        let r = redact_url(&u);
        assert!(!r.contains("abc") && !r.contains("xyz"), "{r}");
        assert!(r.contains("iss=https"), "{r}");
        let u = Url::parse("https://user:pw@h/x").unwrap();
        assert!(!redact_url(&u).contains("pw"));
    }

    #[test]
    fn body_traces_keep_no_secret() {
        let form = "grant_type=authorization_code&code=C0DE-1&code_verifier=VER-1&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcb&client_secret=S-1&client_assertion=eyJ.A-1.B";
        let r = redact_body(form);
        for s in ["C0DE-1", "VER-1", "S-1", "A-1"] {
            assert!(!r.contains(s), "{r}");
        }
        assert!(r.contains("grant_type=authorization_code"), "{r}");
        let token = r#"{"access_token":"AT-1","refresh_token":"RT-1","id_token":"IT-1","patient":"p1","scope":"x"}"#;
        let r = redact_body(token);
        for s in ["AT-1", "RT-1", "IT-1"] {
            assert!(!r.contains(s), "{r}");
        }
        assert!(r.contains("\"patient\":\"p1\""), "{r}");
        // Health data keeps its codes; other text is left alone.
        let obs = r#"{"resourceType":"Observation","code":{"coding":[{"code":"1234-5"}]}}"#;
        assert_eq!(redact_body(obs), obs);
        assert_eq!(redact_body("<html>x=1</html>"), "<html>x=1</html>");
        assert_eq!(redact_body("token=T-1"), "token=%28redacted%29");
    }

    #[test]
    fn loopback_rules() {
        let ok = [
            "https://a.example/x",
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]:3/",
        ];
        for u in ok {
            assert!(is_secure_or_loopback(&Url::parse(u).unwrap()), "{u}");
        }
        for u in ["http://a.example/x", "ftp://127.0.0.1/", "http://10.0.0.1/"] {
            assert!(!is_secure_or_loopback(&Url::parse(u).unwrap()), "{u}");
        }
    }

    #[test]
    fn timeouts_take_milliseconds_too() {
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout(" 30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_timeout("0ms").is_err());
        assert!(parse_timeout("fast").is_err());
    }

    #[test]
    fn html_sniffing() {
        assert!(looks_like_html(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<html>"));
        assert!(!looks_like_html(b"{\"a\":1}"));
    }
}
