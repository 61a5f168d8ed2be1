//! Transient failures during a sync, against a small loopback FHIR server made here: 503 and 429
//! (with `Retry-After` in seconds and as an HTTP date) are retried, a permanent 500 is retried
//! too and then fails only its type (exit 3, the other types saved), and a next link to another
//! origin is refused.

mod common;

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
    let rt = tokio::runtime::Runtime::new().unwrap();
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
    let port = serve(&rt, app);

    let dir = tempfile::tempdir().unwrap();
    let (config_dir, data_dir) = saved_profile(dir.path(), port);
    let out = std::process::Command::new(common::bin())
        .env("FHIRDL_CONFIG_DIR", &config_dir)
        .env("FHIRDL_DATA_DIR", &data_dir)
        // The permanent 500 is retried with backoff; keep its waits short.
        .env("FHIRDL_RETRY_BASE_MS", "10")
        .args(["sync", "--json", "-v"])
        .output()
        .unwrap();
    let shown = common::text(&out);
    assert_eq!(
        common::code(&out),
        3,
        "a failed type makes the run partial: {shown}"
    );
    let report = common::json(&out);
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
    let export = data_dir.join("exports/t");
    assert!(export.join("Observation.ndjson").exists() && export.join("Encounter.ndjson").exists());
    assert!(!export.join("Condition.ndjson").exists());
}

/// A saved, signed-in profile for a server on `port` (the sign-in itself is tested elsewhere).
fn saved_profile(root: &std::path::Path, port: u16) -> (std::path::PathBuf, std::path::PathBuf) {
    let (config_dir, data_dir) = (root.join("config"), root.join("data"));
    let base = format!("http://127.0.0.1:{port}/fhir");
    let mut cfg = ConfigFile::default();
    cfg.profiles.insert(
        "t".into(),
        Profile {
            provider: None,
            fhir_base: base.clone(),
            client_id: "c".into(),
            confidential: false,
            scope: None,
            send_aud: true,
            redirect: RedirectSettings::default(),
            credential_store: StoreKind::File,
            out_dir: None,
            discovery: Some(Discovery {
                source: DiscoverySource::SmartConfiguration,
                authorization_endpoint: format!("http://127.0.0.1:{port}/auth"),
                token_endpoint: format!("http://127.0.0.1:{port}/token"),
                revocation_endpoint: None,
                issuer: None,
                token_endpoint_auth_methods: vec![],
                scopes_supported: vec![],
                capabilities: vec![],
                code_challenge_methods: vec![],
                iss_parameter_supported: false,
                fhir_version: Some("4.0.1".into()),
                software: None,
                fetched_at: "2026-01-01T00:00:00Z".into(),
            }),
        },
    );
    std::fs::create_dir_all(&config_dir).unwrap();
    cfg.save(&config_dir.join("config.toml")).unwrap();
    let creds = Credentials {
        access_token: Secret::new("test-access-token-123"),
        expires_at: None,
        refresh_token: None,
        refresh_token_issued_at: None,
        scope: "patient/*.read".into(),
        patient: Some("p1".into()),
        encounter: None,
        fhir_user: None,
        client_secret: None,
        signed_in_at: 0,
    };
    std::fs::create_dir_all(data_dir.join("credentials")).unwrap();
    std::fs::write(
        data_dir.join("credentials/t.json"),
        serde_json::to_vec(&creds).unwrap(),
    )
    .unwrap();

    (config_dir, data_dir)
}

#[test]
fn max_rate_spaces_every_request() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let times: Arc<std::sync::Mutex<Vec<std::time::Instant>>> = Arc::default();
    let record = |times: Arc<std::sync::Mutex<Vec<std::time::Instant>>>| {
        axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let times = times.clone();
                async move {
                    times.lock().unwrap().push(std::time::Instant::now());
                    next.run(req).await
                }
            },
        )
    };
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
        )
        .layer(record(times.clone()));
    let port = serve(&rt, app);
    let dir = tempfile::tempdir().unwrap();
    let (config_dir, data_dir) = saved_profile(dir.path(), port);
    let started = std::time::Instant::now();
    let out = std::process::Command::new(common::bin())
        .env("FHIRDL_CONFIG_DIR", &config_dir)
        .env("FHIRDL_DATA_DIR", &data_dir)
        .args(["sync", "--max-rate", "10/s", "--concurrency", "8", "-q"])
        .output()
        .unwrap();
    assert_eq!(common::code(&out), 0, "{}", common::text(&out));
    let mut t = times.lock().unwrap().clone();
    t.sort();
    assert!(t.len() >= 6, "{} requests", t.len());
    // n requests at 10/s cannot all have arrived sooner than (n-1) × 100 ms after the start.
    // A pure lower bound: slowness (of the machine or of delivery) can only add to it. The exact
    // spacing of each request is proved by the limiter's unit test on a paused clock.
    let last = *t.last().unwrap();
    let needed = std::time::Duration::from_millis(100) * (t.len() as u32 - 1);
    assert!(
        last - started >= needed,
        "{} requests within {:?}",
        t.len(),
        last - started
    );
}

/// Serves `app` on a free loopback port; returns the port.
fn serve(rt: &tokio::runtime::Runtime, app: axum::Router) -> u16 {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move { axum::serve(listener, app).await });
    port
}
