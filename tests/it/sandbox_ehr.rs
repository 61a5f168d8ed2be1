//! The sandbox's EHR personalities (`SandboxConfig::for_ehr`) through its HTTP API: each
//! behaviour Epic and Oracle Health document, answered as documented, plus the standard date
//! search parameters every personality serves. (`sandbox_quirks` holds the single quirks.)

use fhirdl_sandbox::{Ehr, SandboxConfig};
use serde_json::{json, Value};

use crate::common::{access, entries, link, TestContext, SCOPE};

fn diagnostics(outcome: &Value) -> &str {
    assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
    outcome["issue"][0]["diagnostics"].as_str().unwrap()
}

/// The names and types of `resource_type`'s search parameters in the CapabilityStatement.
fn search_params(metadata: &Value, resource_type: &str) -> Vec<(String, String)> {
    metadata["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == resource_type)
        .and_then(|r| r["searchParam"].as_array())
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["type"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn declares(metadata: &Value, resource_type: &str, name: &str) -> bool {
    search_params(metadata, resource_type)
        .iter()
        .any(|(n, _)| n == name)
}

/// GET with an `Accept` header; status, content type and body.
async fn get_accept(
    ctx: &TestContext,
    path: &str,
    token: &str,
    accept: &str,
) -> (u16, String, Vec<u8>) {
    let url = format!("{}/{path}", ctx.sandbox.fhir_base());
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

#[test]
fn date_search_parameters_are_declared_and_honoured() {
    let ctx = TestContext::new(SandboxConfig::default());
    ctx.block_on(async {
        let token = access(&ctx.sign_in("alice", SCOPE).await).to_owned();
        let metadata = ctx.get_json("metadata", &token).await.1;
        for (ty, name) in [
            ("Observation", "date"),
            ("Condition", "recorded-date"),
            ("Condition", "onset-date"),
            ("Encounter", "date"),
            ("Procedure", "date"),
            ("DiagnosticReport", "issued"),
            ("DocumentReference", "date"),
            ("MedicationRequest", "authoredon"),
            ("Immunization", "date"),
            ("AllergyIntolerance", "date"),
        ] {
            let params = search_params(&metadata, ty);
            assert!(
                params.contains(&(name.into(), "date".into())),
                "{ty} {name}: {params:?}"
            );
        }
        let patient = ctx.patient("alice");
        for (ty, name) in [
            ("Observation", "date"),
            ("Encounter", "date"),
            ("MedicationRequest", "authoredon"),
        ] {
            let search = |filter: String| format!("{ty}?patient={patient}&_count=1000&{filter}");
            let (_, every) = ctx
                .get_json(&format!("{ty}?patient={patient}&_count=1000"), &token)
                .await;
            let (_, early) = ctx
                .get_json(&search(format!("{name}=lt2021-01-01")), &token)
                .await;
            let (_, late) = ctx
                .get_json(&search(format!("{name}=ge2021-01-01")), &token)
                .await;
            let (every, early, late) = (
                entries(&every).len(),
                entries(&early).len(),
                entries(&late).len(),
            );
            assert!(early > 0 && late > 0, "{ty}: {early} early, {late} late");
            assert_eq!(early + late, every, "{ty}");
        }
        // A resource without the element does not match a `ge` search.
        ctx.sandbox
            .set_resource(
                json!({"resourceType": "Procedure", "id": "no-date", "status": "completed",
                "subject": {"reference": format!("Patient/{patient}")}}),
            )
            .unwrap();
        let (_, found) = ctx
            .get_json(
                &format!("Procedure?patient={patient}&_id=no-date&date=ge1900"),
                &token,
            )
            .await;
        assert!(entries(&found).is_empty(), "{found}");
        let (status, outcome) = ctx
            .get_json(&format!("Procedure?patient={patient}&date=ne2020"), &token)
            .await;
        assert_eq!(status, 400);
        assert!(diagnostics(&outcome).contains("for date"), "{outcome}");
    });
}

#[test]
fn epic_answers_as_documented() {
    let ctx = TestContext::new(SandboxConfig::for_ehr(Ehr::Epic));
    ctx.block_on(async {
        let tokens = ctx.sign_in("alice", SCOPE).await;
        assert!(tokens.get("refresh_token").is_none(), "{tokens}");
        assert_eq!(tokens["expires_in"], 3600);
        let token = access(&tokens).to_owned();
        let patient = ctx.patient("alice");
        let metadata = ctx.get_json("metadata", &token).await.1;
        assert_eq!(metadata["software"]["name"], "Epic");
        assert!(!declares(&metadata, "Observation", "_lastUpdated"));
        assert!(declares(&metadata, "Observation", "date"));

        let refused = |query: String| {
            let ctx = &ctx;
            let token = token.clone();
            async move {
                let (status, outcome) = ctx.get_json(&query, &token).await;
                assert_eq!(status, 400, "{query}: {outcome}");
            }
        };
        refused(format!("Observation?patient={patient}")).await;
        refused(format!("CarePlan?patient={patient}")).await;
        refused(format!("Encounter?patient={patient}&_lastUpdated=ge2020")).await;
        refused(format!("Patient?_id={patient}")).await;
        for category in ["procedure", "therapy", "activity"] {
            refused(format!("Observation?patient={patient}&category={category}")).await;
        }
        let (status, me) = ctx.get_json(&format!("Patient/{patient}"), &token).await;
        assert_eq!(status, 200);
        assert!(me["meta"].get("lastUpdated").is_none(), "{me}");

        let (status, page) = ctx
            .get_json(
                &format!("Observation?patient={patient}&category=laboratory&_count=5"),
                &token,
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(page["total"], 5, "the page's count, not the matches'");
        assert!(link(&page, "next").is_some());
        assert!(entries(&page)
            .iter()
            .all(|o| o["meta"].get("lastUpdated").is_none()));

        let (_, docs) = ctx
            .get_json(&format!("DocumentReference?patient={patient}"), &token)
            .await;
        let doc = &entries(&docs)[0];
        let urls: Vec<&str> = doc["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["attachment"]["url"].as_str().unwrap())
            .collect();
        assert!(urls.iter().all(|u| u.starts_with("Binary/")), "{urls:?}");
        let (pdf, ccda) = (urls[0], urls[1]);
        let first = get_accept(&ctx, ccda, &token, "application/xml").await;
        let second = get_accept(&ctx, ccda, &token, "application/xml").await;
        assert_eq!((first.0, second.0), (200, 200));
        assert_ne!(first.2, second.2, "a C-CDA is generated anew at each read");
        let pdf_once = get_accept(&ctx, pdf, &token, "application/pdf").await;
        let pdf_twice = get_accept(&ctx, pdf, &token, "application/pdf").await;
        assert_eq!(pdf_once.2, pdf_twice.2, "other binaries are stable");
        for _ in 2..80 {
            assert_eq!(
                get_accept(&ctx, pdf, &token, "application/pdf").await.0,
                200
            );
        }
        assert_eq!(
            get_accept(&ctx, pdf, &token, "application/pdf").await.0,
            429
        );
    });
}

#[test]
fn oracle_answers_as_documented() {
    let ctx = TestContext::new(SandboxConfig::for_ehr(Ehr::Oracle));
    ctx.block_on(async {
        let tokens = ctx.sign_in("alice", SCOPE).await;
        assert_eq!(tokens["expires_in"], 570);
        let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
        for _ in 0..2 {
            let (status, refreshed) = ctx.refresh(&refresh_token).await;
            assert_eq!(status, 200, "{refreshed}");
            assert!(refreshed.get("refresh_token").is_none(), "{refreshed}");
        }
        let token = access(&tokens).to_owned();
        let patient = ctx.patient("alice");
        let metadata = ctx.get_json("metadata", &token).await.1;
        assert!(declares(&metadata, "Observation", "_lastUpdated"));
        assert!(!declares(&metadata, "CarePlan", "_lastUpdated"));

        let (status, _) = ctx
            .get_json(
                &format!("CarePlan?patient={patient}&_lastUpdated=ge2020"),
                &token,
            )
            .await;
        assert_eq!(status, 400);
        let (status, _) = ctx
            .get_json(&format!("CarePlan?patient={patient}"), &token)
            .await;
        assert_eq!(status, 404, "CarePlan needs category=assess-plan");
        let both = format!("Observation?patient={patient}&_lastUpdated=ge2020&date=ge2020");
        let (status, outcome) = ctx.get_json(&both, &token).await;
        assert_eq!(status, 400);
        assert!(diagnostics(&outcome).contains("together"), "{outcome}");

        social_history_first_then_short_pages(&ctx, &token, &patient).await;
        quiet_edits_escape_last_updated(&ctx, &token, &patient).await;

        let (_, docs) = ctx
            .get_json(&format!("DocumentReference?patient={patient}"), &token)
            .await;
        let url = entries(&docs)[0]["content"][0]["attachment"]["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let binary = url.rsplit_once("/fhir/r4/").unwrap().1.to_owned();
        assert_eq!(
            get_accept(&ctx, &binary, &token, "application/json")
                .await
                .0,
            406
        );
        assert_eq!(
            get_accept(&ctx, &binary, &token, "application/pdf").await.0,
            200
        );
        let (status, content_type, _) =
            get_accept(&ctx, &binary, &token, "application/fhir+json").await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "application/fhir+json; charset=utf-8")
        );
        assert_eq!(get_accept(&ctx, &binary, &token, "*/*").await.0, 200);
    });
}

/// Page one holds every social-history Observation whatever `_count` says; later pages may be
/// short, yet every Observation arrives once by following `next`.
async fn social_history_first_then_short_pages(ctx: &TestContext, token: &str, patient: &str) {
    let (_, all) = ctx
        .get_json(&format!("Observation?patient={patient}&_count=200"), token)
        .await;
    let social = |bundle: &Value| {
        entries(bundle)
            .iter()
            .filter(|o| o["category"].to_string().contains("social-history"))
            .count()
    };
    let social_total = social(&all);
    assert!(social_total >= 2, "{social_total}");
    let (_, mut page) = ctx
        .get_json(&format!("Observation?patient={patient}&_count=1"), token)
        .await;
    assert_eq!(social(&page), social_total);
    assert!(entries(&page).len() > 1);
    let mut ids: Vec<String> = Vec::new();
    let mut short = false;
    loop {
        ids.extend(
            entries(&page)
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned()),
        );
        let Some(next) = link(&page, "next") else {
            break;
        };
        page = ctx.get_url(&next, Some(token)).await.json().await.unwrap();
        short |= entries(&page).is_empty();
    }
    assert!(short, "no short page");
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    assert_eq!(ids.len(), entries(&all).len());
}

/// An edit that is not "clinically significant" keeps `meta.lastUpdated`: a `_lastUpdated`
/// search misses it, a whole search sees it.
async fn quiet_edits_escape_last_updated(ctx: &TestContext, token: &str, patient: &str) {
    let (_, conditions) = ctx
        .get_json(&format!("Condition?patient={patient}"), token)
        .await;
    let mut condition = entries(&conditions)[0].clone();
    let id = condition["id"].as_str().unwrap().to_owned();
    let before = condition["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_owned();
    condition["note"] = json!([{"text": "a quiet note"}]);
    ctx.sandbox.set_resource_quietly(condition).unwrap();
    let (_, read) = ctx.get_json(&format!("Condition/{id}"), token).await;
    assert_eq!(read["meta"]["lastUpdated"], before.as_str());
    assert_eq!(read["note"][0]["text"], "a quiet note");
    let since = format!("Condition?patient={patient}&_lastUpdated=gt{before}");
    let (_, changed) = ctx.get_json(&since, token).await;
    assert!(entries(&changed).iter().all(|c| c["id"] != id.as_str()));
    let missing = json!({"resourceType": "Condition", "id": "never-there",
        "subject": {"reference": format!("Patient/{patient}")}});
    assert!(ctx.sandbox.set_resource_quietly(missing).is_err());
}
