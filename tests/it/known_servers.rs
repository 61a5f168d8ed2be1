//! Servers fhirdl's quirks list knows (recognised by their CapabilityStatement's software
//! name): their rules shape the first run's searches, so nothing the vendor documents as
//! refused is asked, and `fhirdl providers --quirks` lists every rule with its evidence.

use crate::common::{code, json, text, TestContext};
use fhirdl_sandbox::{Quirks, SandboxConfig};
use serde_json::Value;

const REFUSED: [&str; 3] = ["procedure", "therapy", "activity"];

/// A server that behaves as the list says Epic does, named as Epic names its servers.
fn epic_like(software: &str) -> TestContext {
    TestContext::new(SandboxConfig {
        quirks: Quirks {
            software_name: Some(software.to_owned()),
            categories_required: vec!["Observation".into()],
            refused_categories: REFUSED
                .iter()
                .map(|c| ("Observation".to_string(), c.to_string()))
                .collect(),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    })
}

/// `sync --json` with a trace: the report and the requests made.
fn sync_traced(ctx: &TestContext, name: &str, extra: &[&str]) -> (Value, String) {
    let trace = ctx.root().join(format!("{name}.jsonl"));
    let mut args = vec!["sync", "--json", "--trace-file", trace.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = ctx.fhirdl(&args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    (json(&out), std::fs::read_to_string(&trace).unwrap())
}

fn observation(report: &Value) -> &Value {
    report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["resource_type"] == "Observation")
        .unwrap()
}

#[test]
fn a_known_server_is_searched_as_its_quirks_say_from_the_first_run() {
    let ctx = epic_like("Epic");
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let (report, trace) = sync_traced(&ctx, "first", &[]);
    assert_eq!(report["known_server"], serde_json::json!(["Epic"]));
    for c in REFUSED {
        assert!(
            !trace.contains(&format!("category={c}")),
            "the first run asked category={c}, which the list says is refused"
        );
    }
    // Category by category at once: no plain Observation search was refused first.
    assert!(
        !trace.lines().any(|l| l.contains("/Observation?patient=")
            && !l.contains("category=")
            && !l.contains("_summary=count")),
        "a plain Observation search was sent"
    );
    let obs = observation(&report);
    assert!(obs["stored"].as_u64().unwrap() > 0, "{obs}");
    assert_eq!(obs["completeness"]["status"], "recovered", "{obs}");
    let detail = obs["completeness"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("are known to be refused and were not sent (category=procedure"),
        "{detail}"
    );
    // `--full` tries every search again, the refused ones included, once each.
    let (_, trace) = sync_traced(&ctx, "full", &["--full"]);
    let asked: usize = REFUSED
        .iter()
        .map(|c| trace.matches(&format!("category={c}")).count())
        .sum();
    assert_eq!(asked, 3, "--full asks each refused category once");
}

#[test]
fn an_unknown_server_learns_from_refusals() {
    let ctx = epic_like("Some Other EHR");
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let (report, trace) = sync_traced(&ctx, "first", &[]);
    assert!(report.get("known_server").is_none(), "{report}");
    assert!(
        trace.contains("category=procedure"),
        "nothing was known, so it asks"
    );
    assert_eq!(observation(&report)["completeness"]["status"], "recovered");
}

#[test]
fn providers_lists_every_quirk_with_its_evidence() {
    let ctx = TestContext::with_defaults();
    let out = ctx.fhirdl(&["providers", "--quirks", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let list = json(&out);
    let vendors = list["vendors"].as_array().unwrap();
    assert!(vendors.iter().any(|v| v["name"] == "Epic"), "{list}");
    for rule in vendors.iter().flat_map(|v| v["rules"].as_array().unwrap()) {
        assert!(rule["evidence"].as_str().unwrap().starts_with("https://"));
        assert!(rule["checked"].as_str().unwrap().len() == 10);
        assert!(rule["rule"].is_string());
    }
    let out = ctx.fhirdl(&["providers", "--quirks"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("never asked: Observation?category=procedure"),
        "{shown}"
    );
    assert!(shown.contains("evidence: https://"), "{shown}");
}
