//! `fhirdl doctor` and `--trace-file`, run as the real binary against the embedded sandbox and
//! small servers made here (an axum FHIR facade, a rustls server with rcgen certificates). Every
//! server listens on 127.0.0.1; the one non-loopback name used, `nonexistent.invalid`, can never
//! resolve (RFC 6761).

use crate::common::{code, doctor_check as check, free_port, json, text, Server, TestContext};
use fhirdl_sandbox::personality::ATHENA_PRACTICE;
use fhirdl_sandbox::{Ehr, Quirks, SandboxConfig};
use serde_json::Value;
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fhirdl::doctor::local::PROXY_VARS;

/// `fhirdl doctor ARGS` with no proxy variables (so loopback servers are reached directly).
fn doctor(ctx: &TestContext, args: &[&str]) -> Output {
    let mut c = ctx.command();
    for v in PROXY_VARS {
        c.env_remove(v);
    }
    c.arg("doctor").args(args);
    ctx.run(c)
}

fn status<'a>(doc: &'a Value, id: &str) -> &'a str {
    check(doc, id)["status"].as_str().unwrap_or("?")
}

fn detail(doc: &Value, id: &str) -> String {
    check(doc, id)["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

const ALL_CHECKS: &[&str] = &[
    "version",
    "config_dir",
    "data_dir",
    "credential_store",
    "clock",
    "proxy",
    "dns",
    "tcp",
    "tls",
    "metadata",
    "smart_discovery",
    "endpoints_secure",
    "pkce",
    "scopes_supported",
    "revocation",
    "id_token_keys",
    "authorize_endpoint",
    "token_endpoint",
    "clock_skew",
    "signed_in",
    "access_token",
    "introspection",
    "refresh_token",
    "last_sync",
    "scopes_granted",
    "type_probes",
    "redirect_uri",
];

#[test]
fn healthy_sandbox_is_all_ok() {
    let ctx = TestContext::with_defaults();
    let out = ctx.login("alice", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    let out = doctor(&ctx, &["--profile", "alice", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["result"], "ok", "{doc:#}");
    for id in ALL_CHECKS {
        let s = status(&doc, id);
        // TLS does not apply to the sandbox's plain-http loopback base.
        let expected = if *id == "tls" { "skipped" } else { "ok" };
        assert_eq!(s, expected, "{id}: {:#}", check(&doc, id));
    }
    assert_eq!(doc["checks"].as_array().unwrap().len(), ALL_CHECKS.len());
    assert!(detail(&doc, "type_probes").contains("types searched"));
    assert!(detail(&doc, "token_endpoint").contains("invalid_grant"));
    assert!(
        detail(&doc, "id_token_keys").contains("RS256 sandbox-rs256-1"),
        "{}",
        detail(&doc, "id_token_keys")
    );
    assert!(
        detail(&doc, "introspection").starts_with("active; scope: ")
            && detail(&doc, "introspection").contains("patient: the profile's"),
        "{}",
        detail(&doc, "introspection")
    );
    assert_eq!(detail(&doc, "last_sync"), "no sync yet");

    // The human table: stdout, one line per check, no colours without a terminal.
    let out = doctor(&ctx, &["--profile", "alice"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("DNS resolution") && table.contains("resource types"),
        "{table}"
    );
    assert!(!table.contains('\x1b'), "{table}");

    // Offline: only this computer; the network steps are skipped with the reason.
    let before = ctx.sandbox.stats().requests;
    let out = doctor(
        &ctx,
        &["--profile", "alice", "--offline-checks-only", "--json"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "dns"), "skipped");
    assert!(detail(&doc, "metadata").contains("--offline-checks-only"));
    assert_eq!(status(&doc, "redirect_uri"), "ok");
    assert_eq!(
        ctx.sandbox.stats().requests,
        before,
        "offline must not call the server"
    );
    ctx.assert_no_leaks();
}

#[test]
fn unresolvable_host_fails_dns_and_skips_the_rest() {
    let ctx = TestContext::with_defaults();
    let out = doctor(
        &ctx,
        &["--fhir-base", "https://nonexistent.invalid/fhir", "--json"],
    );
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "dns"), "fail");
    assert!(check(&doc, "dns")["hint"].is_string());
    assert_eq!(status(&doc, "tcp"), "skipped");
    assert_eq!(detail(&doc, "tcp"), "because DNS resolution failed");
    assert_eq!(status(&doc, "metadata"), "skipped");
    assert_eq!(status(&doc, "token_endpoint"), "skipped");
    assert_eq!(status(&doc, "access_token"), "skipped");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DNS resolution") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn refused_port_fails_tcp() {
    let ctx = TestContext::with_defaults();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/fhir");
    let out = doctor(&ctx, &["--fhir-base", &base, "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "dns"), "ok");
    assert_eq!(status(&doc, "tcp"), "fail", "{doc:#}");
    assert!(detail(&doc, "tcp").contains("cannot connect"));
    assert_eq!(status(&doc, "metadata"), "skipped");
    assert_eq!(detail(&doc, "metadata"), "because TCP connect failed");
}

/// A TLS server on 127.0.0.1 with a self-signed certificate (expired if asked); counts the
/// connections it accepted.
fn tls_server(ctx: &TestContext, expired: bool) -> (u16, Arc<AtomicU64>) {
    let valid = match expired {
        true => rcgen::date_time_ymd(2020, 1, 1)..rcgen::date_time_ymd(2021, 1, 1),
        false => rcgen::date_time_ymd(2020, 1, 1)..rcgen::date_time_ymd(4000, 1, 1),
    };
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let acceptor = fhirdl_sandbox::SelfSigned::new(names, "fhirdl doctor test", valid)
        .unwrap()
        .acceptor;
    let listener = ctx
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    ctx.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    (port, hits)
}

#[test]
fn self_signed_certificate_fails_tls_with_the_reason() {
    let ctx = TestContext::with_defaults();
    let (port, hits) = tls_server(&ctx, false);
    let base = format!("https://127.0.0.1:{port}/fhir");
    let out = doctor(&ctx, &["--fhir-base", &base, "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "tcp"), "ok");
    assert_eq!(status(&doc, "tls"), "fail", "{doc:#}");
    let tls = check(&doc, "tls");
    assert!(detail(&doc, "tls").contains("self-signed"), "{tls:#}");
    assert_eq!(tls["figures"]["self_signed"], true);
    assert_eq!(tls["figures"]["hostname_match"], true);
    assert!(tls["figures"]["subject"]
        .as_str()
        .unwrap()
        .contains("fhirdl doctor test"));
    assert!(tls["figures"]["protocol"]
        .as_str()
        .unwrap()
        .starts_with("TLS"));
    assert_eq!(detail(&doc, "metadata"), "because TLS failed");
    assert!(
        hits.load(Ordering::SeqCst) >= 1,
        "the TLS server was never contacted"
    );
}

#[test]
fn expired_certificate_fails_tls_with_the_reason() {
    let ctx = TestContext::with_defaults();
    let (port, hits) = tls_server(&ctx, true);
    let base = format!("https://127.0.0.1:{port}/fhir");
    let out = doctor(&ctx, &["--fhir-base", &base, "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "tls"), "fail", "{doc:#}");
    let d = detail(&doc, "tls");
    assert!(d.contains("expired") && d.contains("2021-01-01"), "{d}");
    assert!(
        check(&doc, "tls")["figures"]["days_to_expiry"]
            .as_i64()
            .unwrap()
            < 0
    );
    assert!(hits.load(Ordering::SeqCst) >= 1);
}

/// How the small axum FHIR facade misbehaves.
#[derive(Clone, Default)]
struct Facade {
    /// `/metadata` is an HTML login page.
    html_metadata: bool,
    /// The token endpoint advertised instead of the facade's own.
    token_endpoint: Option<String>,
    /// Seconds added to the `Date` header of every answer.
    date_offset: i64,
}

struct FacadeState {
    facade: Facade,
    origin: String,
}

/// Starts the facade; returns its FHIR base and the server (which counts its hits).
fn facade(ctx: &TestContext, facade: Facade) -> (String, Server) {
    use axum::extract::State;
    use axum::http::{header, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};

    fn answer(s: &FacadeState, status: StatusCode, ct: &str, body: String) -> Response {
        let when = std::time::SystemTime::now()
            .checked_add(std::time::Duration::from_secs(
                s.facade.date_offset.unsigned_abs(),
            ))
            .filter(|_| s.facade.date_offset >= 0)
            .or_else(|| {
                std::time::SystemTime::now().checked_sub(std::time::Duration::from_secs(
                    s.facade.date_offset.unsigned_abs(),
                ))
            })
            .unwrap();
        (
            status,
            [
                (header::CONTENT_TYPE, ct.to_string()),
                (header::DATE, httpdate::fmt_http_date(when)),
            ],
            body,
        )
            .into_response()
    }
    fn token_url(s: &FacadeState) -> String {
        s.facade
            .token_endpoint
            .clone()
            .unwrap_or_else(|| format!("{}/token", s.origin))
    }
    async fn metadata(State(s): State<Arc<FacadeState>>) -> Response {
        if s.facade.html_metadata {
            let page = "<!DOCTYPE html><html><body><form>User name <input name=user> Password <input type=password></form></body></html>";
            return answer(&s, StatusCode::OK, "text/html; charset=utf-8", page.into());
        }
        let doc = serde_json::json!({
            "resourceType": "CapabilityStatement",
            "fhirVersion": "4.0.1",
            "software": {"name": "facade", "version": "1"},
            "rest": [{"mode": "server", "security": {"extension": [{
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [
                    {"url": "authorize", "valueUri": format!("{}/authorize", s.origin)},
                    {"url": "token", "valueUri": token_url(&s)}
                ]
            }]}}]
        });
        answer(&s, StatusCode::OK, "application/fhir+json", doc.to_string())
    }
    async fn smart(State(s): State<Arc<FacadeState>>) -> Response {
        let doc = serde_json::json!({
            "authorization_endpoint": format!("{}/authorize", s.origin),
            "token_endpoint": token_url(&s),
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "offline_access", "patient/*.rs"],
            "capabilities": ["permission-v2"]
        });
        answer(&s, StatusCode::OK, "application/json", doc.to_string())
    }
    async fn authorize(State(s): State<Arc<FacadeState>>) -> Response {
        answer(
            &s,
            StatusCode::OK,
            "text/html",
            "<html><body>Sign in</body></html>".into(),
        )
    }
    async fn token(State(s): State<Arc<FacadeState>>) -> Response {
        answer(
            &s,
            StatusCode::BAD_REQUEST,
            "application/json",
            r#"{"error":"invalid_grant"}"#.into(),
        )
    }

    let server = ctx.serve(|origin| {
        let state = Arc::new(FacadeState {
            facade,
            origin: origin.to_string(),
        });
        axum::Router::new()
            .route("/fhir/metadata", get(metadata))
            .route("/fhir/.well-known/smart-configuration", get(smart))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(state)
    });
    (server.url("/fhir"), server)
}

#[test]
fn metadata_as_an_html_page_is_named() {
    let ctx = TestContext::with_defaults();
    let (base, server) = facade(
        &ctx,
        Facade {
            html_metadata: true,
            ..Facade::default()
        },
    );
    let out = doctor(&ctx, &["--fhir-base", &base, "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "metadata"), "fail");
    let d = detail(&doc, "metadata");
    assert!(
        d.contains("HTML login page") && d.contains("not FHIR JSON"),
        "{d}"
    );
    assert!(check(&doc, "metadata")["hint"]
        .as_str()
        .unwrap()
        .contains("FHIR base URL"));
    assert!(server.hits() >= 1);
}

#[test]
fn capability_statement_fallback_works_and_no_discovery_fails() {
    let ctx = TestContext::new(SandboxConfig {
        smart_configuration: false,
        ..SandboxConfig::default()
    });
    let out = doctor(&ctx, &["--fhir-base", &ctx.base(), "--json"]);
    let doc = json(&out);
    assert_eq!(status(&doc, "smart_discovery"), "ok", "{doc:#}");
    assert!(detail(&doc, "smart_discovery").contains("fallback"));
    assert_eq!(status(&doc, "token_endpoint"), "ok");
    assert_ne!(code(&out), 9, "{}", text(&out));

    let ctx = TestContext::new(SandboxConfig {
        smart_configuration: false,
        oauth_uris_in_metadata: false,
        ..SandboxConfig::default()
    });
    let out = doctor(&ctx, &["--fhir-base", &ctx.base(), "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "metadata"), "ok");
    assert_eq!(status(&doc, "smart_discovery"), "fail");
    assert!(check(&doc, "smart_discovery")["hint"]
        .as_str()
        .unwrap()
        .contains("SMART on FHIR"));
    assert_eq!(
        detail(&doc, "token_endpoint"),
        "because SMART discovery failed"
    );
}

#[test]
fn token_endpoint_down_is_a_failure() {
    let ctx = TestContext::with_defaults();
    let down = format!("http://127.0.0.1:{}/token", free_port());
    let (base, _) = facade(
        &ctx,
        Facade {
            token_endpoint: Some(down),
            ..Facade::default()
        },
    );
    let out = doctor(&ctx, &["--fhir-base", &base, "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "authorize_endpoint"), "ok", "{doc:#}");
    assert_eq!(status(&doc, "token_endpoint"), "fail");
    assert!(detail(&doc, "token_endpoint").contains("does not answer"));
}

#[test]
fn clock_skew_of_ten_minutes_fails() {
    let ctx = TestContext::with_defaults();
    let (base, _) = facade(
        &ctx,
        Facade {
            date_offset: 600,
            ..Facade::default()
        },
    );
    let out = doctor(&ctx, &["--fhir-base", &base, "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "clock_skew"), "fail", "{doc:#}");
    let skew = check(&doc, "clock_skew")["figures"]["skew_seconds"]
        .as_i64()
        .unwrap();
    assert!((590..=610).contains(&skew), "{skew}");
    assert_eq!(status(&doc, "token_endpoint"), "ok");
}

/// A refresh refused with `invalid_client` (the profile's client id is not known): the check
/// names the client id and says to check it and the app's activation.
#[test]
fn an_unknown_client_at_refresh_is_explained() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("alice", &[])), 0);
    let config = ctx.config_dir().join("config.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        toml.replace("\"fhirdl-sandbox\"", "\"no-such-app\""),
    )
    .unwrap();
    ctx.sandbox.expire_access_tokens();
    let out = doctor(&ctx, &["--profile", "alice", "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "access_token"), "fail", "{doc:#}");
    let access = check(&doc, "access_token");
    assert!(
        detail(&doc, "access_token").contains("does not accept the client id 'no-such-app'"),
        "{doc:#}"
    );
    assert!(
        access["hint"]
            .as_str()
            .unwrap_or("")
            .contains("enabled for this provider"),
        "{doc:#}"
    );
    ctx.assert_no_leaks();
}

#[test]
fn expired_login_fails_with_the_login_hint() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("alice", &[])), 0);
    ctx.sandbox.revoke_all_tokens();
    let out = doctor(&ctx, &["--profile", "alice", "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "signed_in"), "ok");
    assert_eq!(status(&doc, "access_token"), "fail", "{doc:#}");
    assert_eq!(
        check(&doc, "access_token")["hint"],
        "run: fhirdl login --profile alice"
    );
    assert_eq!(status(&doc, "type_probes"), "skipped");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fhirdl login --profile alice"), "{err}");
    ctx.assert_no_leaks();
}

#[test]
fn a_type_answering_403_is_named_as_a_warning() {
    // The server refuses DiagnosticReport to this app whatever the scopes say; Condition is not
    // granted at sign-in, so it is named but not searched.
    let ctx = TestContext::new(SandboxConfig {
        quirks: Quirks {
            forbidden_types: vec!["DiagnosticReport".into()],
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    });
    let scope = "launch/patient openid fhirUser offline_access patient/Patient.rs \
                 patient/Observation.rs patient/DiagnosticReport.rs";
    let out = ctx.login("alice", &["--scope", scope]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = doctor(&ctx, &["--profile", "alice", "--json"]);
    assert_eq!(code(&out), 0, "warnings only: {}", text(&out));
    let doc = json(&out);
    assert_eq!(status(&doc, "access_token"), "ok");
    assert_eq!(status(&doc, "type_probes"), "warn", "{doc:#}");
    let d = detail(&doc, "type_probes");
    assert!(
        d.contains("refused (403): DiagnosticReport")
            && d.contains("not granted at sign-in (not searched): ")
            && d.contains("Condition"),
        "{d}"
    );
    let probes = check(&doc, "type_probes")["figures"]["probes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        probes.len(),
        2,
        "only the granted types are searched: {probes:?}"
    );
    let refused_observation = probes
        .iter()
        .any(|p| p["type"] == "Observation" && p["status"] != 200);
    assert!(!refused_observation, "Observation was granted");
}

/// `doctor --profile a --json` after signing in with `login_extra`: its type probes, each
/// `(type, status, note)`, and the check's notes.
fn probes_of(ctx: &TestContext, login_extra: &[&str]) -> (Value, Vec<(String, u64, String)>) {
    let out = ctx.login("a", login_extra);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = doctor(ctx, &["--profile", "a", "--json"]);
    let doc = json(&out);
    let probes = check(&doc, "type_probes").clone();
    let list = each_probe(&probes)
        .iter()
        .map(|p| {
            (
                p["type"].as_str().unwrap().to_string(),
                p["status"].as_u64().unwrap_or(0),
                p["note"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (probes, list)
}

/// No probe failed, and each of `asked` (type, what the note says) carries its note.
fn asked_as_sync(probes: &Value, list: &[(String, u64, String)], asked: &[(&str, &str)]) {
    assert_ne!(probes["status"], "fail", "{probes:#}");
    assert!(list.iter().all(|(_, s, _)| *s == 200), "{probes:#}");
    let notes = probes["figures"]["notes"].as_array().unwrap();
    assert_eq!(notes.len(), asked.len(), "{probes:#}");
    for (ty, says) in asked {
        let note = &list.iter().find(|(t, _, _)| t == ty).unwrap().2;
        assert!(note.starts_with(&format!("{ty}: ")), "{note}");
        assert!(note.contains(says), "{ty}: {note}");
        assert!(probes["detail"].as_str().unwrap().contains(note.as_str()));
    }
}

/// The `type_probes` check's probes.
fn each_probe(probes: &Value) -> &[Value] {
    probes["figures"]["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("{probes:#}"))
}

/// The probe of `ty`.
fn probe_named<'a>(probes: &'a Value, ty: &str) -> &'a Value {
    each_probe(probes)
        .iter()
        .find(|p| p["type"] == ty)
        .unwrap_or_else(|| panic!("no {ty} probe in {probes:#}"))
}

const BY_CATEGORY: &str = "the server wants a category; sync searches category by category";

#[test]
fn athena_medication_requests_are_probed_with_every_intent() {
    let ctx = TestContext::new(SandboxConfig::for_ehr(Ehr::Athena));
    let practice = format!("ah-practice={ATHENA_PRACTICE}");
    let (probes, list) = probes_of(&ctx, &["--search-param", &practice]);
    let intent = "the server wants an intent; sync asks for every intent at once";
    asked_as_sync(&probes, &list, &[("MedicationRequest", intent)]);
    let meds = probe_named(&probes, "MedicationRequest");
    assert_eq!(meds["plain_status"], 400, "{meds:#}");
    assert_eq!(meds["narrowed"], "intent=<every value>", "{meds:#}");
}

/// Signs in to the `ehr` personality and probes: each of `types` is asked with a category
/// from the start, as fhirdl's quirks list for `vendor` says, and no probe fails.
fn probed_by_quirks(ehr: Ehr, vendor: &str, types: &[&str]) -> Value {
    let ctx = TestContext::new(SandboxConfig::for_ehr(ehr));
    let (probes, list) = probes_of(&ctx, &[]);
    let quirk = format!("{BY_CATEGORY} (fhirdl's quirks list for {vendor})");
    let asked: Vec<(&str, &str)> = types.iter().map(|t| (*t, quirk.as_str())).collect();
    asked_as_sync(&probes, &list, &asked);
    // Known from the start: no plain probe was sent and refused first.
    let plain_refused = each_probe(&probes)
        .iter()
        .any(|p| p.get("plain_status").is_some());
    assert!(!plain_refused, "{probes:#}");
    probes
}

#[test]
fn nextgen_types_are_probed_with_a_category_from_the_start() {
    let types = ["Observation", "Condition", "CarePlan"];
    probed_by_quirks(Ehr::NextGen, "NextGen Healthcare", &types);
}

#[test]
fn epic_types_are_probed_with_an_accepted_category() {
    let probes = probed_by_quirks(Ehr::Epic, "Epic", &["Observation", "CarePlan"]);
    let observation = probe_named(&probes, "Observation");
    let narrowed = observation["narrowed"].as_str().unwrap();
    assert!(narrowed.starts_with("category="), "{observation:#}");
    for refused in ["procedure", "therapy", "activity"] {
        assert_ne!(narrowed, format!("category={refused}"));
    }
}

#[test]
fn refusals_sync_learns_from_pass_and_a_refused_type_still_warns() {
    // An unknown server that wants a category for Observation and a status for Encounter,
    // and refuses Immunization outright.
    let ctx = TestContext::new(SandboxConfig {
        quirks: Quirks {
            categories_required: vec!["Observation".into()],
            status_required: vec!["Encounter".into()],
            forbidden_types: vec!["Immunization".into()],
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    });
    let (probes, list) = probes_of(&ctx, &[]);
    assert_eq!(probes["status"], "warn", "{probes:#}");
    let detail = probes["detail"].as_str().unwrap();
    assert!(detail.contains("refused (403): Immunization"), "{detail}");
    assert!(!detail.contains("failed:"), "{detail}");
    let notes: Vec<&str> = probes["figures"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let status = "Encounter: the server wants a status; sync asks for every status at once";
    assert!(notes.contains(&status), "{probes:#}");
    assert!(
        notes.contains(&format!("Observation: {BY_CATEGORY}").as_str()),
        "{probes:#}"
    );
    assert_eq!(notes.len(), 2, "{probes:#}");
    for (ty, status, _) in &list {
        let expected = if ty == "Immunization" { 403 } else { 200 };
        assert_eq!(*status, expected, "{ty}: {probes:#}");
    }
    // Each type was searched once, or twice when its plain search was refused.
    let twice: Vec<&str> = each_probe(&probes)
        .iter()
        .filter(|p| p["plain_status"] == 400)
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(twice.len(), 2, "{probes:#}");
    assert!(twice.contains(&"Observation") && twice.contains(&"Encounter"));
}

#[test]
fn report_trace_file_and_output_hold_no_secrets_ids_or_contents() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("alice", &[])), 0);
    // Force a refresh during the run, so a new access and refresh token travel too.
    ctx.sandbox.expire_access_tokens();
    let report = ctx.root().join("out/report.json");
    let trace = ctx.root().join("out/trace.jsonl");
    std::fs::create_dir_all(trace.parent().unwrap()).unwrap();
    let mut c = ctx.command();
    for v in PROXY_VARS {
        c.env_remove(v);
    }
    c.env("FHIRDL_TRACE_FILE", &trace).args([
        "-vv",
        "doctor",
        "--profile",
        "alice",
        "--report",
        report.to_str().unwrap(),
    ]);
    let out = ctx.run(c);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let json_out = doctor(&ctx, &["--profile", "alice", "--json"]);
    assert_eq!(code(&json_out), 0, "{}", text(&json_out));

    let report_text = std::fs::read_to_string(&report).unwrap();
    let trace_text = std::fs::read_to_string(&trace).unwrap();
    let doc: Value = serde_json::from_str(&report_text).unwrap();
    assert!(doc["http_trace"].as_array().unwrap().len() > 5);
    let access = doc["doctor"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "access_token")
        .unwrap();
    assert_eq!(access["figures"]["refreshed"], true, "{access:#}");
    assert!(doc["doctor"]["checks"].as_array().unwrap().len() == ALL_CHECKS.len());
    assert!(trace_text.lines().count() > 5);
    for line in trace_text.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        assert!(rec["method"].is_string() && rec["ms"].is_u64() && rec["attempt"] == 1);
        assert!(rec.get("response_body").is_none());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [&report, &trace] {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }

    let alice = &ctx.sandbox.users()[0];
    let family = alice.display_name.rsplit(' ').next().unwrap().to_string();
    let hashed = fhirdl::trace::patient_hash(&alice.patient_id);
    assert!(
        report_text.contains(&hashed),
        "the hash stands in for the id"
    );
    let haystacks = [
        ("report", report_text.clone()),
        ("trace file", trace_text),
        (
            "doctor output",
            format!("{}{}", text(&out), text(&json_out)),
        ),
    ];
    for (name, hay) in &haystacks {
        assert!(
            !hay.contains(&alice.patient_id),
            "the raw patient id leaked into the {name}"
        );
        assert!(
            !hay.contains(&family),
            "the patient's family name leaked into the {name}"
        );
        for s in ctx.sandbox.issued_secrets().iter().filter(|s| s.len() >= 8) {
            assert!(!hay.contains(s.as_str()), "a secret leaked into the {name}");
        }
    }
    ctx.assert_no_leaks();
}

#[test]
fn trace_bodies_warns_about_health_data() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("alice", &[])), 0);
    let trace = ctx.root().join("bodies.jsonl");
    let out = ctx.fhirdl(&[
        "status",
        "--trace-file",
        trace.to_str().unwrap(),
        "--trace-bodies",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("health data"), "{err}");
    let trace_text = std::fs::read_to_string(&trace).unwrap();
    assert!(trace_text.contains("response_body"), "{trace_text}");
    assert!(trace_text.contains("\\\"resourceType\\\""), "{trace_text}");

    // --trace-bodies alone is a usage error.
    let out = ctx.fhirdl(&["--trace-bodies", "status"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}

#[test]
fn usage_errors_and_help() {
    let ctx = TestContext::with_defaults();
    let out = doctor(&ctx, &[]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fhir-base"));
    let out = doctor(&ctx, &["--profile", "x", "--fhir-base", &ctx.base()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = doctor(&ctx, &["--fhir-base", "http://fhir.example.org/r4"]);
    assert_eq!(code(&out), 2, "plain http off loopback: {}", text(&out));

    let help = ctx.fhirdl(&["doctor", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--report") && help.contains("Exit code 9"),
        "{help}"
    );
    let top = ctx.fhirdl(&["--help"]);
    assert!(String::from_utf8_lossy(&top.stdout).contains("  9    fhirdl doctor"));
}
