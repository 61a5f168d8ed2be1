//! Transient failures during a sync, against a small loopback FHIR server made here: 503 and 429
//! (with `Retry-After` in seconds and as an HTTP date) are retried, a permanent 500 is retried
//! too and then fails only its type (exit 3, the other types saved), and a next link to another
//! origin is refused.

use crate::common::{code, json, text, Server, TestContext};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fhirdl::auth::credentials::Credentials;
use fhirdl::auth::discovery::{Discovery, DiscoverySource};
use fhirdl::auth::loopback::RedirectSettings;
use fhirdl::auth::store::StoreKind;
use fhirdl::config::{ConfigFile, Profile};
use fhirdl::secret::Secret;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Default)]
struct Hits {
    observation: AtomicUsize,
    condition: AtomicUsize,
    procedure: AtomicUsize,
    allergy: AtomicUsize,
}

fn fhir(body: Value) -> Response {
    (
        [("content-type", "application/fhir+json")],
        body.to_string(),
    )
        .into_response()
}

fn bundle(ty: &str, ids: &[&str], next: Option<String>) -> Value {
    let entries: Vec<Value> = ids
        .iter()
        .map(|id| json!({"resource": {"resourceType": ty, "id": id, "subject": {"reference": "Patient/p1"}}}))
        .collect();
    let mut b = json!({"resourceType": "Bundle", "type": "searchset", "total": ids.len(), "entry": entries});
    if let Some(n) = next {
        b["link"] = json!([{"relation": "next", "url": n}]);
    }
    b
}

async fn metadata() -> Response {
    let resource = |t: &str| json!({"type": t, "searchParam": [{"name": "patient"}, {"name": "_lastUpdated"}]});
    fhir(
        json!({"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1", "rest": [{"mode": "server",
        "resource": [resource("Observation"), resource("Condition"), resource("Procedure"), resource("Encounter"), resource("AllergyIntolerance")]}]}),
    )
}

async fn patient() -> Response {
    fhir(json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Test"}]}))
}

async fn observation(State(h): State<Arc<Hits>>) -> Response {
    // 503, then 429 with an HTTP-date Retry-After, then success.
    match h.observation.fetch_add(1, Ordering::SeqCst) {
        0 => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "0")],
            "busy",
        )
            .into_response(),
        1 => {
            let date = httpdate::fmt_http_date(std::time::SystemTime::now());
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", date)],
                "slow down",
            )
                .into_response()
        }
        _ => fhir(bundle("Observation", &["o1", "o2"], None)),
    }
}

async fn condition(State(h): State<Arc<Hits>>) -> Response {
    h.condition.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [("content-type", "application/fhir+json")],
        json!({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "database offline"}]})
            .to_string(),
    )
        .into_response()
}

async fn procedure(
    State(h): State<Arc<Hits>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    h.procedure.fetch_add(1, Ordering::SeqCst);
    assert!(headers.get("authorization").is_some());
    if q.contains_key("page") {
        return fhir(bundle("Procedure", &["never"], None));
    }
    // The next link points to another origin: fhirdl must not follow it with the token.
    fhir(bundle(
        "Procedure",
        &["pr1"],
        Some("http://127.0.0.2:9/fhir/Procedure?page=2".into()),
    ))
}

/// The first answer breaks off in the middle of its body (the connection is reset); the retry
/// gets it whole.
async fn allergy(State(h): State<Arc<Hits>>) -> Response {
    let whole = bundle("AllergyIntolerance", &["a1"], None).to_string();
    if h.allergy.fetch_add(1, Ordering::SeqCst) == 0 {
        let half = whole[..whole.len() / 2].to_string();
        let chunks: Vec<Result<String, std::io::Error>> = vec![
            Ok(half),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "cut",
            )),
        ];
        let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
        return ([("content-type", "application/fhir+json")], body).into_response();
    }
    fhir(serde_json::from_str(&whole).unwrap())
}

async fn encounter() -> Response {
    fhir(bundle("Encounter", &["e1"], None))
}

#[test]
fn transient_failures_are_retried_and_permanent_ones_fail_only_their_type() {
    let ctx = TestContext::with_defaults();
    let hits = Arc::new(Hits::default());
    let app = axum::Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/Patient/p1", get(patient))
        .route("/fhir/Observation", get(observation))
        .route("/fhir/Condition", get(condition))
        .route("/fhir/Procedure", get(procedure))
        .route("/fhir/Encounter", get(encounter))
        .route("/fhir/AllergyIntolerance", get(allergy))
        .with_state(hits.clone());
    let server = ctx.serve(|_| app);
    saved_profile(&ctx, &server);
    let mut c = ctx.command();
    // The permanent 500 is retried with backoff; keep its waits short.
    c.env("FHIRDL_RETRY_BASE_MS", "10")
        .args(["sync", "--json", "-v"]);
    let out = ctx.run(c);
    let shown = text(&out);
    assert_eq!(
        code(&out),
        3,
        "a failed type makes the run partial: {shown}"
    );
    let report = json(&out);
    let of = |ty: &str| {
        report["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["resource_type"] == ty)
            .unwrap()
            .clone()
    };
    assert_eq!(of("Observation")["stored"], 2, "{report}");
    assert_eq!(
        hits.observation.load(Ordering::SeqCst),
        3,
        "503, 429, then success"
    );
    assert_eq!(of("Condition")["status"], "failed");
    assert!(
        of("Condition")["reason"]
            .as_str()
            .unwrap()
            .contains("database offline"),
        "{report}"
    );
    assert_eq!(
        hits.condition.load(Ordering::SeqCst),
        fhirdl::fhir::retry::MAX_ATTEMPTS as usize,
        "a 500 is retried like a 503, then its type fails"
    );
    assert_eq!(of("Procedure")["status"], "failed", "{report}");
    assert!(of("Procedure")["reason"]
        .as_str()
        .unwrap()
        .contains("refusing to send the access token"));
    assert_eq!(hits.procedure.load(Ordering::SeqCst), 1);
    assert_eq!(of("Encounter")["stored"], 1);
    assert_eq!(of("AllergyIntolerance")["stored"], 1, "{report}");
    assert_eq!(
        hits.allergy.load(Ordering::SeqCst),
        2,
        "a body cut off mid-way is fetched again"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("HTTP 503") && stderr.contains("retry 1"),
        "{stderr}"
    );
    assert!(!shown.contains("test-access-token-123"));
    // The types that worked are on disk; the failed ones have no file.
    let export = ctx.export_dir("t");
    assert!(export.join("Observation.ndjson").exists() && export.join("Encounter.ndjson").exists());
    assert!(!export.join("Condition.ndjson").exists());
}

/// A saved, signed-in profile `t` for `server` (the sign-in itself is tested elsewhere).
fn saved_profile(ctx: &TestContext, server: &Server) {
    let (config_dir, data_dir) = (ctx.config_dir(), ctx.data_dir());
    let base = server.url("/fhir");
    let mut cfg = ConfigFile::default();
    cfg.profiles.insert(
        "t".into(),
        Profile {
            provider: None,
            fhir_base: base.clone(),
            client_id: "c".into(),
            confidential: false,
            client_key: None,
            register: false,
            registration: None,
            scope: None,
            send_aud: true,
            redirect: RedirectSettings::default(),
            credential_store: StoreKind::File,
            out_dir: None,
            search_params: Vec::new(),
            discovery: Some(Discovery {
                source: DiscoverySource::SmartConfiguration,
                authorization_endpoint: server.url("/auth"),
                token_endpoint: server.url("/token"),
                revocation_endpoint: None,
                issuer: None,
                jwks_uri: None,
                id_token_algs: vec![],
                introspection_endpoint: None,
                registration_endpoint: None,
                jwks: None,
                token_endpoint_auth_methods: vec![],
                token_endpoint_auth_signing_algs: vec![],
                scopes_supported: vec![],
                capabilities: vec![],
                code_challenge_methods: vec![],
                iss_parameter_supported: false,
                fhir_version: Some("4.0.1".into()),
                software: None,
                fetched_at: "2026-01-01T00:00:00Z".into(),
            }),
            practice: None,
        },
    );
    std::fs::create_dir_all(&config_dir).unwrap();
    cfg.save(&config_dir.join("config.toml")).unwrap();
    let creds = Credentials {
        access_token: Secret::new("test-access-token-123"),
        expires_at: None,
        refresh_token: None,
        refresh_token_issued_at: None,
        refresh_token_used_at: None,
        scope: "patient/*.read".into(),
        patient: Some("p1".into()),
        encounter: None,
        fhir_user: None,
        user_name: None,
        launch: Default::default(),
        client_secret: None,
        signed_in_at: 0,
    };
    std::fs::create_dir_all(data_dir.join("credentials")).unwrap();
    std::fs::write(
        data_dir.join("credentials/t.json"),
        serde_json::to_vec(&creds).unwrap(),
    )
    .unwrap();
}

/// `--max-rate` spaces requests `1 / rate` apart. Proved from the server's record of arrivals,
/// never a clock in the test: the searches start only after the answer to `metadata` came back,
/// each takes a slot at least 100 ms after the one before, and a request arrives after its slot;
/// so the n-th search to arrive (from 0) arrives at least n × 100 ms after `metadata` did. Only
/// slowness can add to that, never take from it. The limiter's own spacing is unit-tested on a
/// paused clock.
#[test]
fn max_rate_spaces_every_request() {
    let ctx = TestContext::with_defaults();
    let app = axum::Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/Patient/p1", get(patient))
        .route(
            "/fhir/Observation",
            get(|| async { fhir(bundle("Observation", &["o1"], None)) }),
        )
        .route(
            "/fhir/Condition",
            get(|| async { fhir(bundle("Condition", &["c1"], None)) }),
        )
        .route(
            "/fhir/Procedure",
            get(|| async { fhir(bundle("Procedure", &["p1"], None)) }),
        )
        .route("/fhir/Encounter", get(encounter))
        .route(
            "/fhir/AllergyIntolerance",
            get(|| async { fhir(bundle("AllergyIntolerance", &["a1"], None)) }),
        );
    let server = ctx.serve(|_| app);
    saved_profile(&ctx, &server);
    let out = ctx.fhirdl(&["sync", "--max-rate", "10/s", "--concurrency", "8", "-q"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let arrivals = server.arrivals();
    assert_eq!(arrivals[0].path, "/fhir/metadata", "{arrivals:?}");
    let searches = &arrivals[1..];
    assert!(searches.len() >= 5, "{arrivals:?}");
    let slot = std::time::Duration::from_millis(100);
    for (n, search) in searches.iter().enumerate() {
        assert!(
            search.at - arrivals[0].at >= slot * n as u32,
            "request {n} after metadata came too soon: {arrivals:?}"
        );
    }
}
