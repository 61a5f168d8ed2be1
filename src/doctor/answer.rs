//! One raw exchange of the doctor's server checks: status, headers, body (capped) and timing,
//! read through [`Http`] like every other request (traced and redacted), never with a token.

use crate::http::{describe_reqwest, looks_like_html, read_capped, Http};
use reqwest::header::{HeaderMap, CONTENT_TYPE, DATE};
use std::time::{Instant, SystemTime};
use url::Url;

/// A raw answer: status, headers, body, timing.
pub(super) struct Answer {
    pub(super) url: Url,
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
    pub(super) ms: u128,
    /// Local time when the answer arrived (for the clock skew).
    pub(super) at: SystemTime,
}

impl Answer {
    pub(super) fn content_type(&self) -> String {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    }

    pub(super) fn is_html(&self) -> bool {
        self.content_type().contains("html") || looks_like_html(&self.body)
    }

    /// The server's clock minus ours, in seconds, from the `Date` header.
    pub(super) fn skew(&self) -> Option<i64> {
        let date = self.headers.get(DATE)?.to_str().ok()?;
        let server = httpdate::parse_http_date(date).ok()?;
        Some(match server.duration_since(self.at) {
            Ok(ahead) => ahead.as_secs() as i64,
            Err(behind) => -(behind.duration().as_secs() as i64),
        })
    }
}

pub(super) async fn fetch(
    http: &Http,
    req: reqwest::RequestBuilder,
    cap: usize,
) -> Result<Answer, String> {
    let req = req.build().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let resp = http.send(req).await.map_err(|e| describe_reqwest(&e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let final_url = resp.url().clone();
    let at = SystemTime::now();
    let body = read_capped(resp, cap).await.map_err(|e| format!("{e:#}"))?;
    Ok(Answer {
        url: final_url,
        status,
        headers,
        body,
        ms: started.elapsed().as_millis(),
        at,
    })
}
