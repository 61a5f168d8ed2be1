//! `fhirdl login` + `fhirdl sync` against each EHR personality of the sandbox
//! (`SandboxConfig::for_ehr`): everything the server lets a patient app reach is exported, and
//! every type is either complete or named in the report with the reason.

use fhirdl_sandbox::{Ehr, SandboxConfig};
use serde_json::Value;

use crate::common::{assert_whole_compartment, code, json, ndjson, text, type_report, TestContext};

/// `fhirdl sync --json` with `extra` flags, which must succeed; its report.
fn sync(ctx: &TestContext, extra: &[&str]) -> Value {
    let out = ctx.fhirdl(&[&["sync", "--json"], extra].concat());
    assert_eq!(code(&out), 0, "{}", text(&out));
    json(&out)
}

/// Logs in against `ehr` and syncs once; every resource of the compartment must arrive, no
/// attachment may fail, and every type is complete or says how it was recovered.
fn synced(ehr: Ehr) -> (TestContext, Value) {
    let ctx = TestContext::new(SandboxConfig::for_ehr(ehr));
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{ehr}: {}", text(&out));
    let report = sync(&ctx, &[]);
    let patient = ctx.patient("alice");
    assert_whole_compartment(&ctx.sandbox, &patient, &report, ehr.name());
    assert_eq!(report["attachments"]["failed"], 0, "{ehr}: {report}");
    for ty in report["types"].as_array().unwrap() {
        let status = ty["completeness"]["status"].as_str().unwrap();
        assert!(status == "complete" || status == "recovered", "{ehr}: {ty}");
    }
    (ctx, report)
}

#[test]
fn epic_exports_everything_reachable() {
    let (ctx, report) = synced(Ehr::Epic);
    // Observation and CarePlan need a category: fanned out, the refused categories named.
    let obs = type_report(&report, "Observation");
    let detail = obs["completeness"]["detail"].as_str().unwrap();
    assert!(detail.contains("requires a category"), "{detail}");
    assert!(detail.contains("refuses 3"), "{detail}");
    assert_eq!(type_report(&report, "CarePlan")["stored"], 3, "{report}");
    // PDFs and C-CDAs behind relative Binary URLs.
    assert_eq!(report["attachments"]["downloaded"], 8, "{report}");
    // Without meta.lastUpdated nor _lastUpdated a second run fetches whole again.
    let again = sync(&ctx, &[]);
    assert_whole_compartment(&ctx.sandbox, &ctx.patient("alice"), &again, "second run");
    assert_eq!(again["attachments"]["failed"], 0, "{again}");
}

#[test]
fn oracle_exports_everything_reachable() {
    let (ctx, report) = synced(Ehr::Oracle);
    assert!(
        type_report(&report, "Observation")["pages"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // An edit Oracle does not count as clinically significant keeps its lastUpdated: an
    // incremental run misses it, a reconciling run finds it.
    let file = ctx.export_dir("a").join("Condition.ndjson");
    // The oldest: an incremental run asks again from the newest lastUpdated it holds.
    let mut condition = ndjson(&file)
        .into_iter()
        .min_by_key(|c| c["meta"]["lastUpdated"].as_str().unwrap().to_owned())
        .unwrap();
    condition["note"] = serde_json::json!([{"text": "a quiet note"}]);
    ctx.sandbox.set_resource_quietly(condition.clone()).unwrap();
    let noted = || {
        ndjson(&file)
            .iter()
            .any(|c| c["id"] == condition["id"] && c.get("note").is_some())
    };
    let second = sync(&ctx, &[]);
    assert_eq!(type_report(&second, "Condition")["strategy"], "incremental");
    assert!(!noted(), "an incremental run saw a quiet edit");
    sync(&ctx, &["--reconcile-every", "0"]);
    assert!(noted(), "a reconciling run missed the quiet edit");
}
