//! `find --check`: is a listed endpoint what the directory says? Its SMART configuration and
//! its CapabilityStatement are asked for (without a token), every endpoint in parallel, and the
//! answer said in `fhirdl doctor`'s words: ok, moved, unreachable, or not a FHIR server.

use crate::http::{describe_reqwest, read_capped, redact_url, Http, FHIR_JSON, MAX_JSON_BYTES};
use futures_util::future::join_all;
use reqwest::header::{ACCEPT, LOCATION};
use serde::Serialize;
use url::Url;

/// What a check of one FHIR base found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Health {
    /// A CapabilityStatement answered; `smart` says whether a SMART configuration did too.
    Ok {
        fhir_version: Option<String>,
        smart: bool,
    },
    /// The server sends it elsewhere (the directory's entry is stale).
    Moved {
        to: String,
    },
    Unreachable {
        why: String,
    },
    NotFhir {
        why: String,
    },
}

impl Health {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Health::Ok {
                fhir_version,
                smart,
            } => format!(
                "ok: FHIR {}{}",
                fhir_version.as_deref().unwrap_or("server"),
                if *smart {
                    ", SMART configuration served"
                } else {
                    ", no SMART configuration"
                }
            ),
            Health::Moved { to } => format!("moved: it redirects to {to}"),
            Health::Unreachable { why } => format!("unreachable: {why}"),
            Health::NotFhir { why } => format!("not a FHIR server: {why}"),
        }
    }
}

/// Checks every base at once; the answers in the same order.
pub async fn check_all(http: &Http, bases: &[String]) -> Vec<Health> {
    join_all(bases.iter().map(|b| check(http, b))).await
}

async fn check(http: &Http, base: &str) -> Health {
    let Ok(base) = crate::fhir_url::parse_base(base) else {
        return Health::NotFhir {
            why: "the listed address is not a URL".into(),
        };
    };
    let (metadata, smart) = futures_util::join!(
        get(http, &base, "metadata"),
        get(http, &base, ".well-known/smart-configuration")
    );
    let smart =
        matches!(&smart, Ok((200, _, body)) if body.get("authorization_endpoint").is_some());
    match metadata {
        Err(why) => Health::Unreachable { why },
        Ok((status, Some(to), _)) if (300..400).contains(&status) => Health::Moved { to },
        Ok((status, _, body)) if (200..300).contains(&status) => {
            match body["resourceType"].as_str() {
                Some("CapabilityStatement" | "Conformance") => Health::Ok {
                    fhir_version: body["fhirVersion"].as_str().map(crate::sanitize::clean),
                    smart,
                },
                _ => Health::NotFhir {
                    why: "its /metadata is not a CapabilityStatement".into(),
                },
            }
        }
        Ok((status, _, _)) => Health::NotFhir {
            why: format!("its /metadata answered HTTP {status}"),
        },
    }
}

/// GET `<base>/<path>`: status, where a redirect points (also a same-origin one that was
/// followed to another address), and the body as JSON (`Null` when it is not).
async fn get(
    http: &Http,
    base: &Url,
    path: &str,
) -> Result<(u16, Option<String>, serde_json::Value), String> {
    let url = crate::fhir_url::join(base, path).map_err(|e| e.to_string())?;
    let req = http
        .client()
        .get(url.clone())
        .header(ACCEPT, FHIR_JSON)
        .build()
        .map_err(|e| e.to_string())?;
    let resp = http.send(req).await.map_err(|e| describe_reqwest(&e))?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| url.join(l).ok())
        .or_else(|| (resp.url().path() != url.path()).then(|| resp.url().clone()))
        .map(|u| redact_url(&u));
    let status = if location.is_some() && (200..300).contains(&status) {
        301
    } else {
        status
    };
    let body = read_capped(resp, MAX_JSON_BYTES)
        .await
        .map_err(|e| format!("{e:#}"))?;
    Ok((
        status,
        location,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    ))
}
