//! The sandbox's server quirks (`SandboxConfig::quirks`) through its HTTP API: each behaviour
//! on its own, the NextGen set together, and the record staying the same when they are off.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fhirdl::sandbox::browser::{self, Consent};
use fhirdl::sandbox::{AttachmentStyle, NextLinkStyle, Quirks, Sandbox, SandboxConfig};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

const SCOPE: &str = "openid fhirUser launch/patient offline_access patient/*.rs";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-quirk-verifier";

/// A started sandbox with the given quirks, a loopback app for the login redirect, and
/// alice's access token.
struct QuirkContext {
    sandbox: Sandbox,
    http: reqwest::Client,
    token: String,
    patient: String,
}

impl QuirkContext {
    async fn start(quirks: Quirks) -> QuirkContext {
        QuirkContext::with_config(SandboxConfig {
            quirks,
            ..SandboxConfig::default()
        })
        .await
    }

    async fn with_config(config: SandboxConfig) -> QuirkContext {
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = format!("http://{}/callback", listener.local_addr().unwrap());
        let router = axum::Router::new().route("/callback", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, router).await });
        let http = reqwest::Client::new();
        let token = login(&sandbox, &http, &app, "alice").await;
        let patient = patient_of(&sandbox, "alice");
        QuirkContext {
            sandbox,
            http,
            token,
            patient,
        }
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        let url = format!("{}/{path_and_query}", self.sandbox.fhir_base());
        self.get_url(&url, Some(&self.token)).await
    }

    async fn get_url(&self, url: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn json(&self, path_and_query: &str) -> (StatusCode, Value) {
        let response = self.get(path_and_query).await;
        (response.status(), response.json().await.unwrap())
    }

    /// `Bundle.total` of a search that must succeed.
    async fn total(&self, path_and_query: &str) -> u64 {
        let (status, bundle) = self.json(path_and_query).await;
        assert_eq!(status, 200, "{bundle}");
        bundle["total"].as_u64().unwrap()
    }

    async fn metadata(&self) -> Value {
        self.json("metadata").await.1
    }

    /// Follows `next` links from `first`: every resource, the number of pages, `Bundle.total`
    /// of the first page, and the next links seen.
    async fn all_pages(&self, first: &str) -> (Vec<Value>, usize, u64, Vec<String>) {
        let (status, mut bundle) = self.json(first).await;
        assert_eq!(status, 200, "{bundle}");
        let total = bundle["total"].as_u64().unwrap();
        let (mut resources, mut pages, mut links) = (Vec::new(), 0, Vec::new());
        loop {
            pages += 1;
            assert!(pages < 1000, "endless paging");
            assert_eq!(bundle["total"].as_u64(), Some(total));
            for entry in bundle["entry"].as_array().into_iter().flatten() {
                resources.push(entry["resource"].clone());
            }
            let Some(next) = link(&bundle, "next") else {
                break;
            };
            links.push(next.clone());
            let response = self.get_url(&next, Some(&self.token)).await;
            assert_eq!(response.status(), 200);
            bundle = response.json().await.unwrap();
        }
        (resources, pages, total, links)
    }
}

async fn login(sandbox: &Sandbox, http: &reqwest::Client, app: &str, user: &str) -> String {
    let client_id = sandbox.config().public_client_id.clone();
    let mut url = sandbox.origin().join("oauth/authorize").unwrap();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", app)
        .append_pair("scope", SCOPE)
        .append_pair("state", "s")
        .append_pair("aud", sandbox.fhir_base().as_str())
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let outcome = browser::sign_in(&url, user, &format!("{user}-sandbox"), Consent::Allow)
        .await
        .expect("browser login");
    let code = outcome
        .final_url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let response = http
        .post(sandbox.origin().join("oauth/token").unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", app),
            ("code_verifier", VERIFIER),
            ("client_id", &client_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

fn patient_of(sandbox: &Sandbox, user: &str) -> String {
    let users = sandbox.users();
    users
        .iter()
        .find(|u| u.username == user)
        .unwrap()
        .patient_id
        .clone()
}

fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .and_then(|l| l["url"].as_str())
        .map(str::to_owned)
}

fn diagnostics(outcome: &Value) -> &str {
    assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
    outcome["issue"][0]["diagnostics"].as_str().unwrap()
}

fn entries(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .collect()
}

fn search_params(metadata: &Value, resource_type: &str) -> Vec<String> {
    metadata["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == resource_type)
        .map(|r| {
            r["searchParam"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn types_listed(metadata: &Value) -> Vec<String> {
    metadata["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn quirks_are_off_by_default() {
    let ctx = QuirkContext::start(Quirks::default()).await;
    let metadata = ctx.metadata().await;
    assert_eq!(metadata["software"]["name"], "fhirdl sandbox");
    let types = types_listed(&metadata);
    for extra in ["CarePlan", "Specimen", "PractitionerRole"] {
        assert!(!types.iter().any(|t| t == extra), "{extra} listed");
    }
    assert!(search_params(&metadata, "Observation").contains(&"_lastUpdated".to_owned()));
    let (status, _) = ctx.json(&format!("CarePlan?patient={}", ctx.patient)).await;
    assert_eq!(status, 404);
    let (status, bundle) = ctx
        .json(&format!("Observation?patient={}&_count=7", ctx.patient))
        .await;
    assert_eq!(status, 200);
    assert_eq!(entries(&bundle).len(), 7);
    let next = link(&bundle, "next").unwrap();
    assert!(next.contains("/fhir/r4/Observation?") && next.contains("_offset=7"));
    // `page` means nothing without the NextGen link style.
    let (_, paged) = ctx
        .json(&format!(
            "Observation?patient={}&_count=7&page=3",
            ctx.patient
        ))
        .await;
    assert_eq!(entries(&paged), entries(&bundle));
    let stats = ctx.sandbox.stats();
    assert_eq!(stats.pages_served, 2);
    assert!(stats.max_in_flight >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn quirks_leave_the_base_record_alone() {
    let plain = QuirkContext::start(Quirks::default()).await;
    let extra = QuirkContext::start(Quirks {
        extra_types: true,
        ..Quirks::default()
    })
    .await;
    for t in [
        "Observation",
        "Encounter",
        "DiagnosticReport",
        "MedicationRequest",
    ] {
        let query = format!("{t}?patient={}&_count=200", plain.patient);
        let (a, b) = (plain.json(&query).await.1, extra.json(&query).await.1);
        assert_eq!(entries(&a), entries(&b), "{t}");
    }
    let reports = plain
        .json(&format!("DiagnosticReport?patient={}", plain.patient))
        .await
        .1;
    let reports = reports["total"].as_u64().unwrap() as usize;
    assert_eq!(
        extra.sandbox.resource_count(&extra.patient),
        plain.sandbox.resource_count(&plain.patient) + 3 + reports,
        "3 CarePlans and one Specimen per DiagnosticReport on top"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn categories_required_answers_like_nextgen() {
    let ctx = QuirkContext::start(Quirks {
        categories_required: vec!["Observation".into(), "Condition".into()],
        ..Quirks::default()
    })
    .await;
    let p = &ctx.patient;
    for t in ["Observation", "Condition"] {
        let (status, outcome) = ctx.json(&format!("{t}?patient={p}")).await;
        assert_eq!(status, 400, "{t}");
        assert_eq!(
            diagnostics(&outcome),
            "Search criteria must have 'code' or 'category'"
        );
    }
    let (status, _) = ctx.json(&format!("Encounter?patient={p}")).await;
    assert_eq!(status, 200);

    let (status, labs) = ctx
        .json(&format!(
            "Observation?patient={p}&category=laboratory&_count=200"
        ))
        .await;
    assert_eq!(status, 200);
    let labs = entries(&labs);
    assert!(!labs.is_empty());
    assert!(labs
        .iter()
        .all(|o| o["category"][0]["coding"][0]["code"] == "laboratory"));

    // `code` satisfies the rule too, and filters.
    let (status, glucose) = ctx
        .json(&format!(
            "Observation?patient={p}&code=http://loinc.org|2339-0&_count=200"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(entries(&glucose)
        .iter()
        .all(|o| o["code"]["coding"][0]["code"] == "2339-0"));

    // `_summary=count` is exempt, so a client can learn what an un-fanned search matches.
    let (status, counted) = ctx
        .json(&format!("Observation?patient={p}&_summary=count"))
        .await;
    assert_eq!(status, 200);
    assert!(counted.get("entry").is_none());
    let total = counted["total"].as_u64().unwrap();
    let mut fanned = 0;
    for category in ["vital-signs", "laboratory", "social-history"] {
        let (_, b) = ctx
            .json(&format!(
                "Observation?patient={p}&category={category}&_summary=count"
            ))
            .await;
        fanned += b["total"].as_u64().unwrap();
    }
    assert_eq!(fanned, total);
}

#[tokio::test(flavor = "multi_thread")]
async fn fixed_pages_and_nextgen_next_links() {
    let ctx = QuirkContext::with_config(SandboxConfig {
        resources_per_patient: 200,
        quirks: Quirks {
            fixed_page_size: Some(25),
            next_link_style: NextLinkStyle::NextGen,
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let p = &ctx.patient;
    let first = format!("Observation?patient={p}&_count=200");
    let (_, bundle) = ctx.json(&first).await;
    assert_eq!(entries(&bundle).len(), 25, "_count is ignored");

    let before = ctx.sandbox.stats().pages_served;
    let (resources, pages, total, links) = ctx.all_pages(&first).await;
    assert_eq!(resources.len() as u64, total);
    assert_eq!(pages as u64, total.div_ceil(25));
    assert_eq!(ctx.sandbox.stats().pages_served - before, pages as u64);
    let ids: HashSet<&str> = resources
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), resources.len(), "no duplicates across pages");

    let origin = ctx.sandbox.origin();
    for (i, next) in links.iter().enumerate() {
        let url = Url::parse(next).unwrap();
        assert_eq!(url.origin(), origin.origin(), "same origin");
        assert_eq!(url.path(), "/fhir/R4/Observation");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(
            pairs.contains(&("page".into(), (i + 2).to_string())),
            "{next}"
        );
        assert!(!pairs.iter().any(|(k, _)| k == "_offset"), "{next}");
    }
    // Both spellings answer; reads too, and `page=0` is refused.
    let alt = format!("{}fhir/R4/Observation?patient={p}&page=2", origin);
    let (status, paged) = {
        let r = ctx.get_url(&alt, Some(&ctx.token)).await;
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(entries(&paged), resources[25..50].to_vec());
    let read = format!("{}fhir/R4/Patient/{p}", origin);
    assert_eq!(ctx.get_url(&read, Some(&ctx.token)).await.status(), 200);
    let (status, _) = ctx.json(&format!("Observation?patient={p}&page=0")).await;
    assert_eq!(status, 400);
    let (status, _) = ctx.json(&format!("Observation?patient={p}&page=x")).await;
    assert_eq!(status, 400);
    let far = ctx
        .json(&format!(
            "Observation?patient={p}&page=18446744073709551615"
        ))
        .await;
    assert_eq!(far.0, 200);
    assert!(entries(&far.1).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_next_link_keeps_a_true_total() {
    let ctx = QuirkContext::with_config(SandboxConfig {
        resources_per_patient: 200,
        quirks: Quirks {
            fixed_page_size: Some(25),
            drop_next_link: Some(("Observation".into(), 2)),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let p = &ctx.patient;
    let (resources, pages, total, _) = ctx.all_pages(&format!("Observation?patient={p}")).await;
    assert_eq!(pages, 2);
    assert_eq!(resources.len(), 50);
    assert!(total > 50, "{total}");
    // Other types page to the end.
    let (resources, _, total, _) = ctx.all_pages(&format!("Encounter?patient={p}")).await;
    assert_eq!(resources.len() as u64, total);
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_types_answer_403_to_search_and_read() {
    let ctx = QuirkContext::start(Quirks {
        forbidden_types: vec!["Immunization".into()],
        ..Quirks::default()
    })
    .await;
    let p = &ctx.patient;
    let (status, outcome) = ctx.json(&format!("Immunization?patient={p}")).await;
    assert_eq!(status, 403);
    assert_eq!(outcome["issue"][0]["code"], "forbidden");
    // Generated ids are `<prefix>-<tag>-<n>` and the patient's is `pt-<tag>`.
    let tag = p.strip_prefix("pt-").unwrap();
    let (status, _) = ctx.json(&format!("Immunization/imm-{tag}-0")).await;
    assert_eq!(status, 403);
    let (status, _) = ctx.json(&format!("Encounter/enc-{tag}-0")).await;
    assert_eq!(status, 200);
    let (status, _) = ctx.json(&format!("Encounter?patient={p}")).await;
    assert_eq!(status, 200);
    // A token is still needed first.
    let url = format!("{}/Immunization?patient={p}", ctx.sandbox.fhir_base());
    assert_eq!(ctx.get_url(&url, None).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_last_updated_like_nextgen_office() {
    let ctx = QuirkContext::start(Quirks {
        no_last_updated: true,
        ..Quirks::default()
    })
    .await;
    let metadata = ctx.metadata().await;
    for t in types_listed(&metadata) {
        assert!(!search_params(&metadata, &t).contains(&"_lastUpdated".to_owned()));
    }
    let p = &ctx.patient;
    for q in ["_lastUpdated=ge2020-01-01", "_lastUpdated:missing=false"] {
        let (status, outcome) = ctx.json(&format!("Encounter?patient={p}&{q}")).await;
        assert_eq!(status, 400);
        assert_eq!(
            diagnostics(&outcome),
            "Unknown search parameter _lastUpdated"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nextgen_documents_are_raw_pdf_and_ccda() {
    let ctx = QuirkContext::start(Quirks {
        attachment_style: AttachmentStyle::NextGenDocument,
        ..Quirks::default()
    })
    .await;
    let p = &ctx.patient;
    let (_, bundle) = ctx.json(&format!("DocumentReference?patient={p}")).await;
    let docs = entries(&bundle);
    assert!(!docs.is_empty());
    let base = ctx.sandbox.fhir_base();
    let doc = &docs[0];
    let id = doc["id"].as_str().unwrap();
    let pdf = &doc["content"][0]["attachment"];
    let xml = &doc["content"][1]["attachment"];
    assert_eq!(pdf["url"], format!("{base}/document/pdf-{id}").as_str());
    assert_eq!(xml["url"], format!("{base}/document/xml-{id}").as_str());

    let response = ctx
        .get_url(pdf["url"].as_str().unwrap(), Some(&ctx.token))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-1.4"));
    assert_eq!(pdf["size"], bytes.len());

    // Raw XML even when the client prefers FHIR JSON.
    let response = ctx
        .http
        .get(xml["url"].as_str().unwrap())
        .bearer_auth(&ctx.token)
        .header("accept", "application/fhir+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/xml");
    let text = response.text().await.unwrap();
    assert!(text.starts_with("<?xml") && text.contains("<ClinicalDocument"));
    assert_eq!(xml["size"], text.len());

    let pdf_url = pdf["url"].as_str().unwrap();
    assert_eq!(ctx.get_url(pdf_url, None).await.status(), 401);
    let app = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = format!("http://{}/callback", listener.local_addr().unwrap());
        let router = axum::Router::new().route("/callback", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, router).await });
        app
    };
    let bob = login(&ctx.sandbox, &ctx.http, &app, "bob").await;
    assert_eq!(ctx.get_url(pdf_url, Some(&bob)).await.status(), 403);
    for name in ["pdf-nope", "Binary", "..", "pdf-a%2Fb"] {
        let url = format!("{base}/document/{name}");
        assert_eq!(
            ctx.get_url(&url, Some(&ctx.token)).await.status(),
            404,
            "{name}"
        );
    }

    // Some DiagnosticReports carry a presented form behind the same kind of URL.
    let (_, reports) = ctx
        .json(&format!("DiagnosticReport?patient={p}&_count=200"))
        .await;
    let forms: Vec<String> = entries(&reports)
        .iter()
        .filter_map(|r| r["presentedForm"][0]["url"].as_str().map(str::to_owned))
        .collect();
    assert!(!forms.is_empty());
    let response = ctx.get_url(&forms[0], Some(&ctx.token)).await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF"));
}

#[tokio::test(flavor = "multi_thread")]
async fn careplans_need_the_assess_plan_category() {
    let ctx = QuirkContext::start(Quirks {
        careplan_category_required: true,
        ..Quirks::default()
    })
    .await;
    let p = &ctx.patient;
    assert!(types_listed(&ctx.metadata().await).contains(&"CarePlan".to_owned()));
    for q in ["", "&category=careteam"] {
        let (status, outcome) = ctx.json(&format!("CarePlan?patient={p}{q}")).await;
        assert_eq!(status, 404);
        assert_eq!(
            diagnostics(&outcome),
            "Valid care plan category not present"
        );
    }
    for category in [
        "assess-plan",
        "http://hl7.org/fhir/us/core/CodeSystem/careplan-category|assess-plan",
    ] {
        let (status, bundle) = ctx
            .json(&format!("CarePlan?patient={p}&category={category}"))
            .await;
        assert_eq!(status, 200);
        let plans = entries(&bundle);
        assert_eq!(plans.len(), 3);
        for plan in &plans {
            let coding = &plan["category"][0]["coding"][0];
            assert_eq!(
                coding["system"],
                "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
            );
            assert_eq!(coding["code"], "assess-plan");
            assert_eq!(
                plan["subject"]["reference"],
                format!("Patient/{p}").as_str()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn references_outside_the_base_and_to_readable_shared_resources() {
    let ctx = QuirkContext::start(Quirks {
        external_references: true,
        ..Quirks::default()
    })
    .await;
    let p = &ctx.patient;
    let all = |t: &str| format!("{t}?patient={p}&_count=200");

    let (_, procedures) = ctx.json(&all("Procedure")).await;
    for procedure in entries(&procedures) {
        let reference = procedure["reasonReference"][0]["reference"]
            .as_str()
            .unwrap();
        assert!(
            reference.starts_with("http://snomed.info/sct/"),
            "{reference}"
        );
    }

    let (_, requests) = ctx.json(&all("MedicationRequest")).await;
    let medications: HashSet<String> = entries(&requests)
        .iter()
        .filter_map(|r| {
            r["medicationReference"]["reference"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(!medications.is_empty());
    for reference in &medications {
        let (status, medication) = ctx.json(reference).await;
        assert_eq!(status, 200, "{reference}");
        assert_eq!(medication["resourceType"], "Medication");
    }

    let (_, encounters) = ctx.json(&all("Encounter")).await;
    let roles: HashSet<String> = entries(&encounters)
        .iter()
        .flat_map(|e| e["participant"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["individual"]["reference"].as_str().map(str::to_owned))
        .filter(|r| r.starts_with("PractitionerRole/"))
        .collect();
    assert!(!roles.is_empty());
    let ids: Vec<&str> = roles
        .iter()
        .map(|r| &r["PractitionerRole/".len()..])
        .collect();
    let (status, bundle) = ctx
        .json(&format!("PractitionerRole?_id={}", ids.join(",")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(entries(&bundle).len(), ids.len());

    let (_, reports) = ctx.json(&all("DiagnosticReport")).await;
    let specimens: Vec<String> = entries(&reports)
        .iter()
        .filter_map(|r| r["specimen"][0]["reference"].as_str().map(str::to_owned))
        .collect();
    assert!(specimens.len() >= 3);
    let (status, specimen) = ctx.json(&specimens[0]).await;
    assert_eq!(status, 200);
    assert_eq!(
        specimen["subject"]["reference"],
        format!("Patient/{p}").as_str()
    );
    let ids: Vec<&str> = specimens[..3]
        .iter()
        .map(|r| &r["Specimen/".len()..])
        .collect();
    let (status, bundle) = ctx.json(&format!("Specimen?_id={}", ids.join(","))).await;
    assert_eq!(status, 200, "{bundle}");
    assert_eq!(entries(&bundle).len(), 3);
    // The references are not all there is: the types are searchable per patient too.
    let (status, bundle) = ctx.json(&all("Specimen")).await;
    assert_eq!(status, 200);
    assert_eq!(entries(&bundle).len(), specimens.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn uncommon_categories_escape_a_standard_fan_out() {
    let ctx = QuirkContext::start(Quirks {
        uncommon_categories: true,
        ..Quirks::default()
    })
    .await;
    let p = &ctx.patient;
    let total = ctx
        .total(&format!("Observation?patient={p}&_summary=count"))
        .await;
    let standard = ctx
        .total(&format!(
            "Observation?patient={p}&_summary=count&category=vital-signs,laboratory,social-history"
        ))
        .await;
    let custom = ctx
        .total(&format!(
            "Observation?patient={p}&_summary=count&category=http://example.org/cat|custom-panel"
        ))
        .await;
    assert!(custom > 0);
    assert_eq!(standard + custom, total);
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_is_added_and_concurrency_observed() {
    let latency = Duration::from_millis(150);
    let ctx = QuirkContext::start(Quirks {
        latency,
        ..Quirks::default()
    })
    .await;
    let started = Instant::now();
    let answers = tokio::join!(
        ctx.json("metadata"),
        ctx.json("metadata"),
        ctx.json("metadata"),
        ctx.json("metadata"),
    );
    let answers = [answers.0, answers.1, answers.2, answers.3];
    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert!(started.elapsed() >= latency);
    let stats = ctx.sandbox.stats();
    assert!(stats.max_in_flight >= 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_nextgen_set_together() {
    let ctx = QuirkContext::with_config(SandboxConfig {
        resources_per_patient: 300,
        quirks: Quirks::nextgen(),
        ..SandboxConfig::default()
    })
    .await;
    let metadata = ctx.metadata().await;
    assert_eq!(metadata["software"]["name"], "Nextgen FHIR Server");
    let p = &ctx.patient;
    let (status, _) = ctx.json(&format!("Observation?patient={p}")).await;
    assert_eq!(status, 400);
    let (status, _) = ctx.json(&format!("CarePlan?patient={p}")).await;
    assert_eq!(status, 404);
    let (resources, _, total, links) = ctx
        .all_pages(&format!(
            "Observation?patient={p}&category=laboratory&_count=100"
        ))
        .await;
    assert_eq!(resources.len() as u64, total);
    assert!(links
        .iter()
        .all(|l| l.contains("/fhir/R4/") && l.contains("page=")));
    assert!(total > 25, "{total}");
}
