//! `Patient/$everything` (FHIR R4, https://hl7.org/fhir/R4/patient-operation-everything.html):
//! the sandbox's operation through its HTTP API, and fhirdl comparing it with the per-type
//! searches on the first whole run, using it for later whole runs when it proved complete and
//! cheaper, keeping the searches when it is incomplete, and never using it without a grant of
//! every type.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use fhirdl_sandbox::{Quirks, SandboxConfig};
use serde_json::Value;

use crate::common::{access, code, json, snapshot, text, type_report, TestContext, SCOPE};

/// A sandbox that offers the operation, leaving out `omits`.
fn offering(omits: &[&str]) -> TestContext {
    TestContext::new(SandboxConfig {
        quirks: Quirks {
            everything: true,
            everything_omits: omits.iter().map(|t| t.to_string()).collect(),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    })
}

/// The top-level NDJSON files of an export, by name.
fn ndjson(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(dir)
        .into_iter()
        .filter(|(name, _)| !name.contains('/') && name.ends_with(".ndjson"))
        .collect()
}

/// `fhirdl sync --json <extra>` with a trace file: the report and the requested URLs.
fn sync_traced(ctx: &TestContext, name: &str, extra: &[&str]) -> (Value, Vec<String>) {
    let trace = ctx.root().join(format!("{name}.jsonl"));
    let mut args = vec!["sync", "--json", "--trace-file", trace.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = ctx.fhirdl(&args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let urls = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| r["url"].as_str().map(str::to_string))
        .collect();
    (json(&out), urls)
}

fn state(ctx: &TestContext) -> Value {
    let file = ctx.export_dir("a").join(".fhirdl/state.json");
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

fn searches(urls: &[String]) -> usize {
    urls.iter().filter(|u| u.contains("patient=")).count()
}

fn operations(urls: &[String]) -> usize {
    urls.iter().filter(|u| u.contains("/$everything")).count()
}

fn notes(report: &Value) -> String {
    report["notes"].to_string() + &report["warnings"].to_string()
}

#[test]
fn the_sandbox_answers_the_patient_compartment_in_pages_and_within_the_grant() {
    let ctx = offering(&[]);
    let alice = ctx.patient("alice");
    ctx.block_on(async {
        let (_, metadata) = ctx.get_json("metadata", "none").await;
        let patient = metadata["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "Patient")
            .unwrap()
            .clone();
        assert_eq!(
            patient["operation"][0]["definition"],
            "http://hl7.org/fhir/OperationDefinition/Patient-everything"
        );
        let token = access(&ctx.sign_in("alice", SCOPE).await).to_owned();
        let everything = format!("Patient/{alice}/$everything");
        let pages = ctx
            .all_pages(&format!("{everything}?_count=40"), &token)
            .await;
        assert_eq!(pages.resources.len(), ctx.sandbox.resource_count(&alice));
        assert_eq!(pages.total as usize, pages.resources.len());
        assert!(pages.pages > 1, "paged by _count");
        assert_eq!(pages.resources[0]["resourceType"], "Patient");
        let only = ctx
            .all_pages(&format!("{everything}?_type=Condition"), &token)
            .await;
        assert!(only.total > 0);
        assert!(only
            .resources
            .iter()
            .all(|r| r["resourceType"] == "Condition"));
        let (_, later) = ctx
            .get_json(&format!("{everything}?_since=2999-01-01T00:00:00Z"), &token)
            .await;
        assert_eq!(later["total"], 0, "{later}");
        let bob = ctx.patient("bob");
        let (status, _) = ctx
            .get_json(&format!("Patient/{bob}/$everything"), &token)
            .await;
        assert_eq!(status, 403, "another patient's record");
        let narrow = "openid launch/patient patient/Patient.rs patient/Condition.rs";
        let token = access(&ctx.sign_in("alice", narrow).await).to_owned();
        let granted = ctx.all_pages(&everything, &token).await;
        let types: HashSet<&str> = granted
            .resources
            .iter()
            .map(|r| r["resourceType"].as_str().unwrap())
            .collect();
        assert_eq!(types, HashSet::from(["Patient", "Condition"]));
    });
}

#[test]
fn the_first_run_compares_and_a_full_run_then_uses_everything_with_the_same_files() {
    let ctx = offering(&[]);
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let (first, urls) = sync_traced(&ctx, "first", &[]);
    assert!(searches(&urls) > 1, "the per-type plan ran: {urls:?}");
    assert_eq!(operations(&urls), 1, "and the operation, to compare");
    assert!(notes(&first).contains("matched the searches"), "{first}");
    let known = &state(&ctx)["everything"];
    assert_eq!(known["complete"], true, "{known}");
    assert!(known["requests"].as_u64() < known["per_type_requests"].as_u64());
    assert!(known["bytes"].as_u64().unwrap() > 0 && known["per_type_bytes"].as_u64().unwrap() > 0);
    let per_type = ndjson(&ctx.export_dir("a"));

    let (full, urls) = sync_traced(&ctx, "full", &["--full"]);
    assert_eq!(searches(&urls), 0, "no per-type search: {urls:?}");
    assert_eq!(operations(&urls), 1);
    for ty in ["Patient", "Condition", "Observation"] {
        assert_eq!(type_report(&full, ty)["strategy"], "everything", "{full}");
    }
    assert!(
        notes(&full).contains("through Patient/$everything"),
        "{full}"
    );
    assert_eq!(
        ndjson(&ctx.export_dir("a")),
        per_type,
        "the same files either way"
    );

    // Incremental runs keep their per-type searches.
    let (_, urls) = sync_traced(&ctx, "incremental", &[]);
    assert_eq!(operations(&urls), 0);
    assert!(searches(&urls) > 1);
}

#[test]
fn an_everything_that_leaves_a_type_out_is_found_and_the_searches_stay() {
    let ctx = offering(&["Immunization"]);
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let (first, _) = sync_traced(&ctx, "first", &[]);
    let said = notes(&first);
    assert!(
        said.contains("differs") && said.contains("Immunization"),
        "{first}"
    );
    assert_eq!(state(&ctx)["everything"]["complete"], false);
    let (full, urls) = sync_traced(&ctx, "full", &["--full"]);
    assert_eq!(operations(&urls), 0, "not used again");
    assert!(searches(&urls) > 1);
    assert_eq!(type_report(&full, "Immunization")["strategy"], "whole");

    // Believed complete (as after a server changed), it is found lacking in the run that uses
    // it: that run searches type by type after all, and the state remembers.
    let file = ctx.export_dir("a").join(".fhirdl/state.json");
    let mut believed = state(&ctx);
    believed["everything"]["complete"] = Value::Bool(true);
    believed["everything"]["differences"] = Value::Array(Vec::new());
    std::fs::write(&file, serde_json::to_vec(&believed).unwrap()).unwrap();
    let before = ndjson(&ctx.export_dir("a"));
    let (full, urls) = sync_traced(&ctx, "lacking", &["--full"]);
    assert_eq!(operations(&urls), 1);
    assert!(searches(&urls) > 1, "fell back to the searches");
    assert!(notes(&full).contains("left out"), "{full}");
    assert_eq!(type_report(&full, "Immunization")["strategy"], "whole");
    assert_eq!(state(&ctx)["everything"]["complete"], false);
    assert_eq!(ndjson(&ctx.export_dir("a")), before);
}

#[test]
fn a_grant_short_of_every_type_never_uses_everything() {
    let ctx = offering(&[]);
    let scope = "launch/patient openid fhirUser offline_access patient/Patient.rs \
                 patient/Observation.rs patient/Condition.rs";
    assert_eq!(code(&ctx.login("a", &["--scope", scope])), 0);
    let (_, first) = sync_traced(&ctx, "first", &[]);
    let (_, full) = sync_traced(&ctx, "full", &["--full"]);
    assert_eq!(operations(&first) + operations(&full), 0);
    assert!(state(&ctx).get("everything").is_none());
}
