//! The sandbox's server quirks (`SandboxConfig::quirks`) through its HTTP API: each behaviour
//! on its own, the NextGen set together, the athenahealth, eClinicalWorks, MEDITECH and Veradigm
//! personalities, and the record staying the same when they are off.

use std::collections::HashSet;
use std::time::Duration;

use fhirdl_sandbox::personality::ATHENA_PRACTICE;
use fhirdl_sandbox::{
    AttachmentStyle, Ehr, NextLinkStyle, Quirks, RateLimit, RateWindow, SandboxConfig,
};
use serde_json::Value;
use url::Url;

use crate::common::{access, entries, link, Pages, TestContext, SCOPE};

/// A sandbox with `quirks`.
fn with_quirks(quirks: Quirks) -> TestContext {
    TestContext::new(SandboxConfig {
        quirks,
        ..SandboxConfig::default()
    })
}

/// Signs alice in as the test app; her access token.
async fn alice_token(ctx: &TestContext) -> String {
    access(&ctx.sign_in("alice", SCOPE).await).to_owned()
}

/// `Bundle.total` of a search that must succeed.
async fn search_total(ctx: &TestContext, path_and_query: &str, token: &str) -> u64 {
    let (status, bundle) = ctx.get_json(path_and_query, token).await;
    assert_eq!(status, 200, "{bundle}");
    bundle["total"].as_u64().unwrap()
}

fn diagnostics(outcome: &Value) -> &str {
    assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
    outcome["issue"][0]["diagnostics"].as_str().unwrap()
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

#[test]
fn quirks_are_off_by_default() {
    let ctx = with_quirks(Quirks::default());
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let metadata = ctx.get_json("metadata", &token).await.1;
        assert_eq!(metadata["software"]["name"], "fhirdl sandbox");
        let types = types_listed(&metadata);
        for extra in ["CarePlan", "Specimen", "PractitionerRole"] {
            assert!(!types.iter().any(|t| t == extra), "{extra} listed");
        }
        assert!(search_params(&metadata, "Observation").contains(&"_lastUpdated".to_owned()));
        let (status, _) = ctx
            .get_json(
                &format!("CarePlan?patient={}", ctx.patient("alice")),
                &token,
            )
            .await;
        assert_eq!(status, 404);
        let (status, bundle) = ctx
            .get_json(
                &format!("Observation?patient={}&_count=7", ctx.patient("alice")),
                &token,
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(entries(&bundle).len(), 7);
        let next = link(&bundle, "next").unwrap();
        assert!(next.contains("/fhir/r4/Observation?") && next.contains("_offset=7"));
        // `page` means nothing without the NextGen link style.
        let (_, paged) = ctx
            .get_json(
                &format!(
                    "Observation?patient={}&_count=7&page=3",
                    ctx.patient("alice")
                ),
                &token,
            )
            .await;
        assert_eq!(entries(&paged), entries(&bundle));
        let stats = ctx.sandbox.stats();
        assert_eq!(stats.pages_served, 2);
        assert!(stats.max_in_flight >= 1);
    });
}

#[test]
fn quirks_leave_the_base_record_alone() {
    let plain = with_quirks(Quirks::default());
    let extra = with_quirks(Quirks {
        extra_types: true,
        ..Quirks::default()
    });
    plain.block_on(async {
        let (plain_token, extra_token) = (alice_token(&plain).await, alice_token(&extra).await);
        for t in [
            "Observation",
            "Encounter",
            "DiagnosticReport",
            "MedicationRequest",
        ] {
            let query = format!("{t}?patient={}&_count=200", plain.patient("alice"));
            let (a, b) = (
                plain.get_json(&query, &plain_token).await.1,
                extra.get_json(&query, &extra_token).await.1,
            );
            assert_eq!(entries(&a), entries(&b), "{t}");
        }
        let reports = plain
            .get_json(
                &format!("DiagnosticReport?patient={}", plain.patient("alice")),
                &plain_token,
            )
            .await
            .1;
        let reports = reports["total"].as_u64().unwrap() as usize;
        assert_eq!(
            extra.sandbox.resource_count(&extra.patient("alice")),
            plain.sandbox.resource_count(&plain.patient("alice")) + 3 + reports,
            "3 CarePlans and one Specimen per DiagnosticReport on top"
        );
    });
}

#[test]
fn categories_required_answers_like_nextgen() {
    let ctx = with_quirks(Quirks {
        categories_required: vec!["Observation".into(), "Condition".into()],
        ..Quirks::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let p = &ctx.patient("alice");
        for t in ["Observation", "Condition"] {
            let (status, outcome) = ctx.get_json(&format!("{t}?patient={p}"), &token).await;
            assert_eq!(status, 400, "{t}");
            assert_eq!(
                diagnostics(&outcome),
                "Search criteria must have 'code' or 'category'"
            );
        }
        let (status, _) = ctx
            .get_json(&format!("Encounter?patient={p}"), &token)
            .await;
        assert_eq!(status, 200);

        let (status, labs) = ctx
            .get_json(
                &format!("Observation?patient={p}&category=laboratory&_count=200"),
                &token,
            )
            .await;
        assert_eq!(status, 200);
        let labs = entries(&labs);
        assert!(!labs.is_empty());
        assert!(labs
            .iter()
            .all(|o| o["category"][0]["coding"][0]["code"] == "laboratory"));

        // `code` satisfies the rule too, and filters.
        let (status, glucose) = ctx
            .get_json(
                &format!("Observation?patient={p}&code=http://loinc.org|2339-0&_count=200"),
                &token,
            )
            .await;
        assert_eq!(status, 200);
        assert!(entries(&glucose)
            .iter()
            .all(|o| o["code"]["coding"][0]["code"] == "2339-0"));

        // `_summary=count` is exempt, so a client can learn what an un-fanned search matches.
        let (status, counted) = ctx
            .get_json(&format!("Observation?patient={p}&_summary=count"), &token)
            .await;
        assert_eq!(status, 200);
        assert!(counted.get("entry").is_none());
        let total = counted["total"].as_u64().unwrap();
        let mut fanned = 0;
        for category in ["vital-signs", "laboratory", "social-history"] {
            let (_, b) = ctx
                .get_json(
                    &format!("Observation?patient={p}&category={category}&_summary=count"),
                    &token,
                )
                .await;
            fanned += b["total"].as_u64().unwrap();
        }
        assert_eq!(fanned, total);
    });
}

#[test]
fn fixed_pages_and_nextgen_next_links() {
    let ctx = TestContext::new(SandboxConfig {
        resources_per_patient: 200,
        quirks: Quirks {
            fixed_page_size: Some(25),
            next_link_style: NextLinkStyle::NextGen,
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let p = &ctx.patient("alice");
        let first = format!("Observation?patient={p}&_count=200");
        let (_, bundle) = ctx.get_json(&first, &token).await;
        assert_eq!(entries(&bundle).len(), 25, "_count is ignored");

        let before = ctx.sandbox.stats().pages_served;
        let Pages {
            resources,
            pages,
            total,
            links,
            ..
        } = ctx.all_pages(&first, &token).await;
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
            let r = ctx.get_url(&alt, Some(token.as_str())).await;
            (r.status(), r.json::<Value>().await.unwrap())
        };
        assert_eq!(status, 200);
        assert_eq!(entries(&paged), resources[25..50].to_vec());
        let read = format!("{}fhir/R4/Patient/{p}", origin);
        assert_eq!(ctx.get_url(&read, Some(token.as_str())).await.status(), 200);
        let (status, _) = ctx
            .get_json(&format!("Observation?patient={p}&page=0"), &token)
            .await;
        assert_eq!(status, 400);
        let (status, _) = ctx
            .get_json(&format!("Observation?patient={p}&page=x"), &token)
            .await;
        assert_eq!(status, 400);
        let far = ctx
            .get_json(
                &format!("Observation?patient={p}&page=18446744073709551615"),
                &token,
            )
            .await;
        assert_eq!(far.0, 200);
        assert!(entries(&far.1).is_empty());
    });
}

#[test]
fn dropped_next_link_keeps_a_true_total() {
    let ctx = TestContext::new(SandboxConfig {
        resources_per_patient: 200,
        quirks: Quirks {
            fixed_page_size: Some(25),
            drop_next_link: Some(("Observation".into(), 2)),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let p = &ctx.patient("alice");
        let Pages {
            resources,
            pages,
            total,
            ..
        } = ctx
            .all_pages(&format!("Observation?patient={p}"), &token)
            .await;
        assert_eq!(pages, 2);
        assert_eq!(resources.len(), 50);
        assert!(total > 50, "{total}");
        // Other types page to the end.
        let Pages {
            resources, total, ..
        } = ctx
            .all_pages(&format!("Encounter?patient={p}"), &token)
            .await;
        assert_eq!(resources.len() as u64, total);
    });
}

#[test]
fn forbidden_types_answer_403_to_search_and_read() {
    let ctx = with_quirks(Quirks {
        forbidden_types: vec!["Immunization".into()],
        ..Quirks::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let p = &ctx.patient("alice");
        let (status, outcome) = ctx
            .get_json(&format!("Immunization?patient={p}"), &token)
            .await;
        assert_eq!(status, 403);
        assert_eq!(outcome["issue"][0]["code"], "forbidden");
        // Generated ids are `<prefix>-<tag>-<n>` and the patient's is `pt-<tag>`.
        let tag = p.strip_prefix("pt-").unwrap();
        let (status, _) = ctx
            .get_json(&format!("Immunization/imm-{tag}-0"), &token)
            .await;
        assert_eq!(status, 403);
        let (status, _) = ctx
            .get_json(&format!("Encounter/enc-{tag}-0"), &token)
            .await;
        assert_eq!(status, 200);
        let (status, _) = ctx
            .get_json(&format!("Encounter?patient={p}"), &token)
            .await;
        assert_eq!(status, 200);
        // A token is still needed first.
        let url = format!("{}/Immunization?patient={p}", ctx.sandbox.fhir_base());
        assert_eq!(ctx.get_url(&url, None).await.status(), 401);
    });
}

#[test]
fn no_last_updated_like_nextgen_office() {
    let ctx = with_quirks(Quirks {
        no_last_updated: true,
        ..Quirks::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let metadata = ctx.get_json("metadata", &token).await.1;
        for t in types_listed(&metadata) {
            assert!(!search_params(&metadata, &t).contains(&"_lastUpdated".to_owned()));
        }
        let p = &ctx.patient("alice");
        for q in ["_lastUpdated=ge2020-01-01", "_lastUpdated:missing=false"] {
            let (status, outcome) = ctx
                .get_json(&format!("Encounter?patient={p}&{q}"), &token)
                .await;
            assert_eq!(status, 400);
            assert_eq!(
                diagnostics(&outcome),
                "Unknown search parameter _lastUpdated"
            );
        }
    });
}

#[test]
fn nextgen_documents_are_raw_pdf_and_ccda() {
    let ctx = with_quirks(Quirks {
        attachment_style: AttachmentStyle::NextGenDocument,
        ..Quirks::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let p = &ctx.patient("alice");
        let (_, bundle) = ctx
            .get_json(&format!("DocumentReference?patient={p}"), &token)
            .await;
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
            .get_url(pdf["url"].as_str().unwrap(), Some(token.as_str()))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/pdf");
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.starts_with(b"%PDF-1.4"));
        assert_eq!(pdf["size"], bytes.len());

        // Raw XML even when the client prefers FHIR JSON.
        let response = ctx
            .http()
            .get(xml["url"].as_str().unwrap())
            .bearer_auth(&token)
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
        let bob = access(&ctx.sign_in("bob", SCOPE).await).to_owned();
        assert_eq!(ctx.get_url(pdf_url, Some(&bob)).await.status(), 403);
        for name in ["pdf-nope", "Binary", "..", "pdf-a%2Fb"] {
            let url = format!("{base}/document/{name}");
            assert_eq!(
                ctx.get_url(&url, Some(token.as_str())).await.status(),
                404,
                "{name}"
            );
        }

        // Some DiagnosticReports carry a presented form behind the same kind of URL.
        let (_, reports) = ctx
            .get_json(&format!("DiagnosticReport?patient={p}&_count=200"), &token)
            .await;
        let forms: Vec<String> = entries(&reports)
            .iter()
            .filter_map(|r| r["presentedForm"][0]["url"].as_str().map(str::to_owned))
            .collect();
        assert!(!forms.is_empty());
        let response = ctx.get_url(&forms[0], Some(token.as_str())).await;
        assert_eq!(response.status(), 200);
        assert!(response.bytes().await.unwrap().starts_with(b"%PDF"));
    });
}

#[test]
fn careplans_need_the_assess_plan_category() {
    let ctx = with_quirks(Quirks {
        careplan_category_required: true,
        ..Quirks::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let p = &ctx.patient("alice");
        assert!(types_listed(&ctx.get_json("metadata", &token).await.1)
            .contains(&"CarePlan".to_owned()));
        for q in ["", "&category=careteam"] {
            let (status, outcome) = ctx
                .get_json(&format!("CarePlan?patient={p}{q}"), &token)
                .await;
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
                .get_json(&format!("CarePlan?patient={p}&category={category}"), &token)
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
    });
}

#[test]
fn references_outside_the_base_and_to_readable_shared_resources() {
    let ctx = with_quirks(Quirks {
        external_references: true,
        ..Quirks::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let p = &ctx.patient("alice");
        let all = |t: &str| format!("{t}?patient={p}&_count=200");

        let (_, procedures) = ctx.get_json(&all("Procedure"), &token).await;
        for procedure in entries(&procedures) {
            let reference = procedure["reasonReference"][0]["reference"]
                .as_str()
                .unwrap();
            assert!(
                reference.starts_with("http://snomed.info/sct/"),
                "{reference}"
            );
        }

        let (_, requests) = ctx.get_json(&all("MedicationRequest"), &token).await;
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
            let (status, medication) = ctx.get_json(reference, &token).await;
            assert_eq!(status, 200, "{reference}");
            assert_eq!(medication["resourceType"], "Medication");
        }

        let (_, encounters) = ctx.get_json(&all("Encounter"), &token).await;
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
            .get_json(&format!("PractitionerRole?_id={}", ids.join(",")), &token)
            .await;
        assert_eq!(status, 200);
        assert_eq!(entries(&bundle).len(), ids.len());

        let (_, reports) = ctx.get_json(&all("DiagnosticReport"), &token).await;
        let specimens: Vec<String> = entries(&reports)
            .iter()
            .filter_map(|r| r["specimen"][0]["reference"].as_str().map(str::to_owned))
            .collect();
        assert!(specimens.len() >= 3);
        let (status, specimen) = ctx.get_json(&specimens[0], &token).await;
        assert_eq!(status, 200);
        assert_eq!(
            specimen["subject"]["reference"],
            format!("Patient/{p}").as_str()
        );
        let ids: Vec<&str> = specimens[..3]
            .iter()
            .map(|r| &r["Specimen/".len()..])
            .collect();
        let (status, bundle) = ctx
            .get_json(&format!("Specimen?_id={}", ids.join(",")), &token)
            .await;
        assert_eq!(status, 200, "{bundle}");
        assert_eq!(entries(&bundle).len(), 3);
        // The references are not all there is: the types are searchable per patient too.
        let (status, bundle) = ctx.get_json(&all("Specimen"), &token).await;
        assert_eq!(status, 200);
        assert_eq!(entries(&bundle).len(), specimens.len());
    });
}

#[test]
fn uncommon_categories_escape_a_standard_fan_out() {
    let ctx = with_quirks(Quirks {
        uncommon_categories: true,
        ..Quirks::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let p = &ctx.patient("alice");
        let total = search_total(&ctx, &format!("Observation?patient={p}&_summary=count"), &token).await;
        let standard = search_total(&ctx, &format!(
                "Observation?patient={p}&_summary=count&category=vital-signs,laboratory,social-history"
            ), &token).await;
        let custom = search_total(&ctx, &format!(
                "Observation?patient={p}&_summary=count&category=http://example.org/cat|custom-panel"
            ), &token).await;
        assert!(custom > 0);
        assert_eq!(standard + custom, total);
    });
}

/// The latency is seen in the sandbox's own record (no request is answered sooner), and the
/// concurrency by holding four requests at once: both without timing anything in the test.
#[test]
fn latency_is_added_and_concurrency_observed() {
    let latency = Duration::from_millis(150);
    let ctx = with_quirks(Quirks {
        latency,
        ..Quirks::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let hold = ctx.sandbox.hold("/metadata");
        let url = format!("{}/metadata", ctx.sandbox.fhir_base());
        let requests: Vec<_> = (0..4)
            .map(|_| {
                let request = ctx.http().get(&url).bearer_auth(&token).send();
                tokio::spawn(async move { request.await.unwrap().status() })
            })
            .collect();
        // The requests run on the runtime's workers; this thread may block.
        assert!(
            hold.wait_held(4, Duration::from_secs(30)),
            "{} of 4 requests arrived",
            hold.held()
        );
        hold.release();
        for request in requests {
            assert_eq!(request.await.unwrap(), 200);
        }
        let stats = ctx.sandbox.stats();
        assert!(stats.max_in_flight >= 4, "{stats:?}");
        assert!(
            stats.quickest_fhir_answer.is_some_and(|q| q >= latency),
            "{stats:?}"
        );
    });
}

#[test]
fn the_nextgen_set_together() {
    let ctx = TestContext::new(SandboxConfig {
        resources_per_patient: 300,
        quirks: Quirks::nextgen(),
        ..SandboxConfig::default()
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let metadata = ctx.get_json("metadata", &token).await.1;
        assert_eq!(metadata["software"]["name"], "Nextgen FHIR Server");
        let p = &ctx.patient("alice");
        let (status, _) = ctx
            .get_json(&format!("Observation?patient={p}"), &token)
            .await;
        assert_eq!(status, 400);
        let (status, _) = ctx.get_json(&format!("CarePlan?patient={p}"), &token).await;
        assert_eq!(status, 404);
        let Pages {
            resources,
            total,
            links,
            ..
        } = ctx
            .all_pages(
                &format!("Observation?patient={p}&category=laboratory&_count=100"),
                &token,
            )
            .await;
        assert_eq!(resources.len() as u64, total);
        assert!(links
            .iter()
            .all(|l| l.contains("/fhir/R4/") && l.contains("page=")));
        assert!(total > 25, "{total}");
    });
}

#[test]
fn athena_practice_parameter_cursors_and_intent() {
    let ctx = TestContext::new(SandboxConfig {
        page_size_max: 10,
        ..SandboxConfig::for_ehr(Ehr::Athena)
    });
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let p = &ctx.patient("alice");
        let practice = format!("ah-practice={ATHENA_PRACTICE}");
        // Every search names the practice; a read by id needs none.
        let (status, outcome) = ctx
            .get_json(&format!("Observation?patient={p}"), &token)
            .await;
        assert_eq!(status, 400);
        assert!(diagnostics(&outcome).contains("ah-practice"), "{outcome}");
        let other = "ah-practice=Organization/a-1.Practice-1";
        let (status, _) = ctx
            .get_json(&format!("Observation?patient={p}&{other}"), &token)
            .await;
        assert_eq!(status, 400);
        let (status, _) = ctx.get_json(&format!("Patient/{p}"), &token).await;
        assert_eq!(status, 200);
        // Opaque cursors, followed to the end; the sum is the record.
        let first = format!("Observation?patient={p}&{practice}&_count=10");
        let all = ctx.all_pages(&first, &token).await;
        assert_eq!(all.resources.len() as u64, all.total);
        assert!(all.pages > 2);
        for next in &all.links {
            let url = Url::parse(next).unwrap();
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            assert_eq!(pairs.len(), 1, "{next}");
            assert_eq!(pairs[0].0, "_cursor", "{next}");
            assert!(pairs[0].1.parse::<u64>().is_err(), "{next}");
        }
        let (status, outcome) = ctx.get_json("Observation?_cursor=ah0123", &token).await;
        assert_eq!(status, 400);
        assert!(diagnostics(&outcome).contains("cursor"), "{outcome}");
        // MedicationRequest only with intent.
        let meds = format!("MedicationRequest?patient={p}&{practice}");
        let (status, outcome) = ctx.get_json(&meds, &token).await;
        assert_eq!(status, 400);
        assert!(diagnostics(&outcome).contains("intent"), "{outcome}");
        let (status, _) = ctx.get_json(&format!("{meds}&intent=order"), &token).await;
        assert_eq!(status, 200);
        let metadata = ctx.get_json("metadata", &token).await.1;
        assert_eq!(metadata["software"]["name"], "athenahealth");
    });
}

#[test]
fn ecw_practice_base_and_rate_limit_without_retry_after() {
    let mut config = SandboxConfig::for_ehr(Ehr::Ecw);
    config.quirks.rate_limit = Some(RateLimit {
        limit: 2,
        window: RateWindow::Clock(Duration::from_secs(3600)),
    });
    let ctx = TestContext::new(config);
    assert_eq!(ctx.sandbox.fhir_base().path(), "/fhir/r4/FFBJCD");
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let read = format!("Patient/{}", ctx.patient("alice"));
        assert_eq!(ctx.get(&read, Some(&token)).await.status(), 200);
        assert_eq!(ctx.get(&read, Some(&token)).await.status(), 200);
        let refused = ctx.get(&read, Some(&token)).await;
        assert_eq!(refused.status(), 429);
        assert!(refused.headers().get("retry-after").is_none());
        assert_eq!(ctx.sandbox.stats().rate_limited, 1);
        // The next window (eCW: the next minute) admits again.
        ctx.sandbox.next_rate_window();
        assert_eq!(ctx.get(&read, Some(&token)).await.status(), 200);
    });
}

#[test]
fn meditech_declares_everything_and_veradigm_serves_open() {
    let ctx = TestContext::new(SandboxConfig::for_ehr(Ehr::Meditech));
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let metadata = ctx.get_json("metadata", &token).await.1;
        let patient = metadata["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "Patient")
            .unwrap()
            .clone();
        assert_eq!(patient["operation"][0]["name"], "everything", "{patient}");
    });
    let ctx = TestContext::new(SandboxConfig::for_ehr(Ehr::Veradigm));
    assert_eq!(ctx.sandbox.fhir_base().path(), "/fhir/r4/open");
    ctx.block_on(async {
        let token = alice_token(&ctx).await;
        let (status, _) = ctx
            .get_json(&format!("Patient/{}", ctx.patient("alice")), &token)
            .await;
        assert_eq!(status, 200);
    });
}
