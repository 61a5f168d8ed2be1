//! Steps 3 to 5 of `fhirdl doctor`: the FHIR server itself. `GET <base>/metadata` and SMART
//! discovery (through `auth::discovery`'s readers) are here; the OAuth endpoint probes and the
//! clock skew are in `endpoints`, called from [`run`].
//!
//! Every request goes through [`Http`] (so it is traced and redacted like any other) and none
//! carries a token.

use super::answer::{fetch, Answer};
use super::{endpoints, ms_text, size_text, Check, Checks, Target};
use crate::auth::discovery::{from_metadata, from_smart_configuration, Discovery, DiscoverySource};
use crate::http::{is_secure_or_loopback, redact_url, Http, FHIR_JSON, MAX_JSON_BYTES};
use reqwest::header::{ACCEPT, LOCATION};
use serde_json::Value;
use std::time::Instant;
use url::Url;

/// What later checks need from the server checks.
#[derive(Debug, Default)]
pub struct ServerFacts {
    /// The CapabilityStatement/Conformance, when it was FHIR JSON.
    pub metadata: Option<Value>,
    pub discovery: Option<Discovery>,
}

pub async fn run(checks: &mut Checks, http: &Http, target: &Target) -> ServerFacts {
    let mut facts = ServerFacts::default();
    let mut skews = Vec::new();
    let net = ["dns", "tcp", "tls"];

    match checks.blocker(&net) {
        Some(because) => checks.push(Check::blocked("metadata", because)),
        None => {
            let (check, doc, skew) = metadata(http, &target.base).await;
            checks.push(check);
            facts.metadata = doc;
            skews.extend(skew);
        }
    }

    match checks.blocker(&net) {
        Some(because) => checks.push(Check::blocked("smart_discovery", because)),
        None => {
            let (check, found) = discovery(http, &target.base, facts.metadata.as_ref()).await;
            checks.push(check);
            facts.discovery = found;
        }
    }
    discovery_details(checks, facts.discovery.as_ref());
    match (checks.blocker(&["smart_discovery"]), &facts.discovery) {
        (None, Some(d)) => checks.push(endpoints::id_token_keys(http, d).await),
        (because, _) => checks.push(Check::blocked(
            "id_token_keys",
            because.unwrap_or_else(|| "because SMART discovery found nothing".into()),
        )),
    }

    let client_id = target
        .profile
        .as_ref()
        .map(|(_, p)| p.client_id.clone())
        .unwrap_or_else(|| "fhirdl-doctor".into());
    let redirect_uri = target
        .profile
        .as_ref()
        .map(|(_, p)| {
            p.redirect.uri(if p.redirect.port == 0 {
                8400
            } else {
                p.redirect.port
            })
        })
        .unwrap_or_else(|| crate::auth::loopback::RedirectSettings::default().uri(8400));
    let endpoint_deps = ["smart_discovery", "endpoints_secure"];
    match (checks.blocker(&endpoint_deps), &facts.discovery) {
        (None, Some(d)) => {
            let (check, skew) =
                endpoints::authorize(http, d, target, &client_id, &redirect_uri).await;
            checks.push(check);
            skews.extend(skew);
            let (check, skew) = endpoints::token(http, d, &client_id, &redirect_uri).await;
            checks.push(check);
            skews.extend(skew);
        }
        (because, _) => {
            let because = because.unwrap_or_else(|| "because no OAuth endpoints are known".into());
            checks.push(Check::blocked("authorize_endpoint", because.clone()));
            checks.push(Check::blocked("token_endpoint", because));
        }
    }

    match (checks.blocker(&net), skews.first()) {
        (Some(because), _) => checks.push(Check::blocked("clock_skew", because)),
        (None, None) => checks.push(Check::not_applicable(
            "clock_skew",
            "because no answer carried a Date header",
        )),
        (None, Some(&skew)) => checks.push(endpoints::skew_check(skew)),
    }
    facts
}

async fn metadata(http: &Http, base: &Url) -> (Check, Option<Value>, Option<i64>) {
    let url = match crate::fhir_url::join(base, "metadata") {
        Ok(u) => u,
        Err(e) => {
            return (
                Check::fail("metadata", format!("{e}"), "check the FHIR base URL"),
                None,
                None,
            )
        }
    };
    let shown = redact_url(&url);
    let req = http.client().get(url.clone()).header(ACCEPT, FHIR_JSON);
    let answer = match fetch(http, req, MAX_JSON_BYTES).await {
        Ok(a) => a,
        Err(e) => {
            return (
                Check::fail(
                    "metadata",
                    format!("GET {shown} failed: {e}"),
                    "the server accepted the connection but did not answer over HTTP: check the URL and try again later",
                ),
                None,
                None,
            )
        }
    };
    let skew = answer.skew();
    let ct = answer.content_type();
    let base_check = |c: Check| {
        c.figure("url", &shown)
            .figure("status", answer.status)
            .figure("content_type", &ct)
            .figure("bytes", answer.body.len())
            .figure("ms", answer.ms)
    };
    match capability_statement(&answer, &url, &shown, &ct) {
        Err(check) => (base_check(check), None, skew),
        Ok(doc) => {
            let statement = Statement::of(&doc);
            let check = base_check(Check::ok("metadata", statement.detail(&answer, &ct)))
                .figure("resource_type", statement.resource_type)
                .figure("fhir_version", &statement.version)
                .figure("software", &statement.software);
            (check, Some(doc), skew)
        }
    }
}

const NOT_FHIR: &str = "this address is not a FHIR base URL (often a portal or login page): use the FHIR base URL the provider documents, usually ending in /fhir/r4 or similar";

/// The CapabilityStatement (or DSTU2 Conformance) the answer to `GET url` holds, or the failed
/// check saying what came instead: a redirect, an HTML page, an error status, not JSON, another
/// resource.
fn capability_statement(answer: &Answer, url: &Url, shown: &str, ct: &str) -> Result<Value, Check> {
    if (300..400).contains(&answer.status) {
        let to = answer
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| answer.url.join(l).ok())
            .map(|u| redact_url(&u))
            .unwrap_or_else(|| "(no Location)".into());
        return Err(Check::fail(
            "metadata",
            format!(
                "HTTP {} redirect to {to} (another site; probably a login page), not a CapabilityStatement",
                answer.status
            ),
            NOT_FHIR,
        ));
    }
    if answer.is_html() {
        let page = String::from_utf8_lossy(&answer.body).to_ascii_lowercase();
        let login = page.contains("password") || page.contains("login") || page.contains("sign in");
        let redirected = answer.url != *url;
        let what = match (login, redirected) {
            (true, true) => "was redirected to an HTML login page",
            (true, false) => "answered with an HTML login page",
            (false, true) => "was redirected to an HTML page",
            (false, false) => "answered with an HTML page",
        };
        return Err(Check::fail(
            "metadata",
            format!(
                "{shown} {what} (HTTP {}, {ct}), not FHIR JSON",
                answer.status
            ),
            NOT_FHIR,
        ));
    }
    if !(200..300).contains(&answer.status) {
        return Err(Check::fail(
            "metadata",
            format!(
                "{shown} answered HTTP {} ({})",
                answer.status,
                ms_text(answer.ms)
            ),
            "every FHIR server serves <base>/metadata without sign-in: check the FHIR base URL",
        ));
    }
    let doc: Value = serde_json::from_slice(&answer.body).map_err(|e| {
        Check::fail(
            "metadata",
            format!(
                "{shown} answered HTTP {} with a body that is not JSON ({e}; {ct})",
                answer.status
            ),
            NOT_FHIR,
        )
    })?;
    let rtype = Statement::of(&doc).resource_type;
    if rtype != "CapabilityStatement" && rtype != "Conformance" {
        return Err(Check::fail(
            "metadata",
            format!("{shown} answered JSON with resourceType {rtype}, not a CapabilityStatement"),
            NOT_FHIR,
        ));
    }
    Ok(doc)
}

/// What a CapabilityStatement says of its server.
struct Statement<'a> {
    resource_type: &'a str,
    version: Option<String>,
    /// `software.name` and `software.version`.
    software: Option<String>,
}

impl Statement<'_> {
    fn of(doc: &Value) -> Statement<'_> {
        Statement {
            resource_type: doc
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or("none"),
            version: doc
                .get("fhirVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
            software: doc.get("software").map(|s| {
                let name = s.get("name").and_then(Value::as_str).unwrap_or("unnamed");
                match s.get("version").and_then(Value::as_str) {
                    Some(v) => format!("{name} {v}"),
                    None => name.to_string(),
                }
            }),
        }
    }

    /// The check's line: status, content type, FHIR version, software, size and time.
    fn detail(&self, answer: &Answer, ct: &str) -> String {
        format!(
            "HTTP {}, {}, FHIR {}, {}, {} in {}",
            answer.status,
            if ct.is_empty() {
                "no content type"
            } else {
                ct.split(';').next().unwrap_or("")
            },
            self.version
                .as_deref()
                .map(|v| format!("{v} ({})", crate::fhir::version::FhirRelease::display(v)))
                .unwrap_or_else(|| "version not stated".into()),
            self.software.as_deref().unwrap_or("software not stated"),
            size_text(answer.body.len()),
            ms_text(answer.ms)
        )
    }
}

async fn discovery(
    http: &Http,
    base: &Url,
    metadata: Option<&Value>,
) -> (Check, Option<Discovery>) {
    let now = crate::datetime::now_rfc3339();
    let smart_url = match crate::fhir_url::join(base, ".well-known/smart-configuration") {
        Ok(u) => u,
        Err(e) => {
            return (
                Check::fail("smart_discovery", format!("{e}"), "check the FHIR base URL"),
                None,
            )
        }
    };
    let started = Instant::now();
    let smart = http.get_json(&smart_url, "application/json").await;
    let ms = started.elapsed().as_millis();
    let (smart_found, smart_note) = match &smart {
        Ok(r) if r.status.is_success() => match from_smart_configuration(&r.body, &now) {
            Some(d) => (Some(d), "present".to_string()),
            None => (
                None,
                "present but without authorization_endpoint and token_endpoint".to_string(),
            ),
        },
        Ok(r) => (None, format!("HTTP {}", r.status.as_u16())),
        Err(e) => (None, format!("{e}")),
    };
    let fallback = metadata.and_then(|m| from_metadata(m, &now));
    let mut found = smart_found.clone().or(fallback.clone());
    if let (Some(d), Some(m)) = (found.as_mut(), metadata) {
        d.fhir_version = m
            .get("fhirVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    let check = match (&smart_found, &fallback) {
        (Some(d), _) => Check::ok(
            "smart_discovery",
            format!(
                ".well-known/smart-configuration is well-formed ({} capabilities, {})",
                d.capabilities.len(),
                ms_text(ms)
            ),
        ),
        (None, Some(d)) if smart_note.starts_with("present") => Check::warn(
            "smart_discovery",
            format!(
                ".well-known/smart-configuration is {smart_note}; using the oauth-uris of the {}",
                source_name(d.source)
            ),
            "the provider's smart-configuration is malformed; sign-in works through the fallback",
        ),
        (None, Some(d)) => Check::ok(
            "smart_discovery",
            format!(
                "no .well-known/smart-configuration ({smart_note}); the {} lists the OAuth endpoints (fallback)",
                source_name(d.source)
            ),
        ),
        (None, None) => Check::fail(
            "smart_discovery",
            format!(
                "no SMART sign-in found: .well-known/smart-configuration {smart_note}, and {}",
                if metadata.is_some() {
                    "the CapabilityStatement has no oauth-uris extension"
                } else {
                    "no CapabilityStatement to fall back on"
                }
            ),
            "check that this is the FHIR base URL of a SMART on FHIR server (it usually ends in /fhir/r4 or similar); a server without SMART cannot be used by a patient app",
        ),
    };
    let check = check
        .figure("smart_configuration", &smart_note)
        .figure("source", found.as_ref().map(|d| d.source))
        .figure("ms", ms);
    (check, found)
}

fn source_name(s: DiscoverySource) -> &'static str {
    match s {
        DiscoverySource::SmartConfiguration => "smart-configuration",
        DiscoverySource::CapabilityStatement => "CapabilityStatement",
        DiscoverySource::Conformance => "Conformance statement",
    }
}

/// Endpoints https, PKCE, scopes, revocation: read from the discovery result alone.
fn discovery_details(checks: &mut Checks, d: Option<&Discovery>) {
    let deps = ["smart_discovery"];
    let Some(d) = d.filter(|_| checks.blocker(&deps).is_none()) else {
        let because = checks
            .blocker(&deps)
            .unwrap_or_else(|| "because SMART discovery found nothing".into());
        for id in ["endpoints_secure", "pkce", "scopes_supported", "revocation"] {
            checks.push(Check::blocked(id, because.clone()));
        }
        return;
    };

    checks.push(endpoints_secure(d));
    checks.push(pkce(d));
    checks.push(scopes_supported(d));
    checks.push(revocation(d));
}

/// The authorize, token and revocation endpoints are https (or on loopback).
fn endpoints_secure(d: &Discovery) -> Check {
    let named = [
        ("authorize", Some(&d.authorization_endpoint)),
        ("token", Some(&d.token_endpoint)),
        ("revocation", d.revocation_endpoint.as_ref()),
    ];
    let mut bad = Vec::new();
    let mut shown = serde_json::Map::new();
    for (what, raw) in named {
        let Some(raw) = raw else { continue };
        match Url::parse(raw) {
            Ok(u) if is_secure_or_loopback(&u) => {
                shown.insert(what.into(), Value::String(redact_url(&u)));
            }
            Ok(u) => bad.push(format!("{what} {} is not https", redact_url(&u))),
            Err(e) => bad.push(format!("{what} '{raw}' is not a URL ({e})")),
        }
    }
    let mut check = if bad.is_empty() {
        Check::ok(
            "endpoints_secure",
            format!(
                "authorize {}, token {}",
                shown
                    .get("authorize")
                    .and_then(Value::as_str)
                    .unwrap_or("?"),
                shown.get("token").and_then(Value::as_str).unwrap_or("?")
            ),
        )
    } else {
        Check::fail(
            "endpoints_secure",
            bad.join("; "),
            "sign-in traffic must be encrypted; fhirdl refuses plain-http endpoints (except on loopback): tell the provider",
        )
    };
    check.figures = shown;
    check
}

/// PKCE with S256 is offered.
fn pkce(d: &Discovery) -> Check {
    let methods = &d.code_challenge_methods;
    if methods.iter().any(|m| m == "S256") {
        Check::ok("pkce", "S256 offered")
    } else if methods.is_empty() {
        Check::warn(
            "pkce",
            "the server does not say whether it supports PKCE (no code_challenge_methods_supported)",
            "fhirdl sends PKCE S256 anyway; if sign-in fails with an error about code_challenge, tell the provider",
        )
    } else {
        Check::fail(
            "pkce",
            format!("only {} offered, not S256", methods.join(", ")),
            "fhirdl requires PKCE with S256 for a safe sign-in: tell the provider",
        )
    }
    .figure("methods", methods)
}

/// offline_access and patient scopes are offered.
fn scopes_supported(d: &Discovery) -> Check {
    let scopes = &d.scopes_supported;
    let offline = scopes.iter().any(|s| s == "offline_access");
    let patient = scopes.iter().any(|s| s.starts_with("patient/"));
    if scopes.is_empty() {
        Check::warn(
            "scopes_supported",
            "the server does not list its scopes",
            "fhirdl will ask for offline_access and patient/*.read; `fhirdl status` shows what was granted",
        )
    } else if offline && patient {
        Check::ok(
            "scopes_supported",
            format!("offline_access and patient scopes offered ({} scopes)", scopes.len()),
        )
    } else {
        let mut missing = Vec::new();
        if !offline {
            missing.push("offline_access");
        }
        if !patient {
            missing.push("patient/…");
        }
        Check::warn(
            "scopes_supported",
            format!("not offered: {}", missing.join(", ")),
            "without offline_access you must sign in again whenever the access token expires; without patient scopes no record can be read",
        )
    }
    .figure("scopes_supported", scopes)
    .figure("permission_v2", crate::auth::scopes::supports_v2(d))
}

/// Whether the server can revoke the tokens at logout.
fn revocation(d: &Discovery) -> Check {
    match &d.revocation_endpoint {
        Some(r) => Check::ok("revocation", format!("yes: {r}")).figure("endpoint", r),
        None => Check::ok(
            "revocation",
            "none: `fhirdl logout` can only forget the tokens on this computer",
        )
        .figure("endpoint", Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn discovery_details_from_a_fallback() {
        let mut checks = Checks::default();
        checks.push(Check::ok("smart_discovery", "x"));
        let d = from_smart_configuration(
            &serde_json::json!({
                "authorization_endpoint": "http://evil.example/a",
                "token_endpoint": "https://a.example/t",
                "code_challenge_methods_supported": ["plain"],
                "scopes_supported": ["patient/*.rs"]
            }),
            "t",
        )
        .unwrap();
        discovery_details(&mut checks, Some(&d));
        assert_eq!(checks.get("endpoints_secure").unwrap().status, Status::Fail);
        assert_eq!(checks.get("pkce").unwrap().status, Status::Fail);
        let scopes = checks.get("scopes_supported").unwrap();
        assert_eq!(scopes.status, Status::Warn);
        assert!(
            scopes.detail.contains("offline_access"),
            "{}",
            scopes.detail
        );
        assert_eq!(checks.get("revocation").unwrap().status, Status::Ok);
    }
}
