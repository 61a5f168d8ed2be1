//! `fhirdl login` + `fhirdl sync` against the sandbox as athenahealth, eClinicalWorks, MEDITECH
//! and Veradigm (`SandboxConfig::for_ehr`): each export must hold the patient's whole
//! compartment, as the sandbox counts it. eClinicalWorks also with a rate limit the sync runs
//! into (a window measured in requests, so the same 429s come on every run).

use crate::common::{assert_whole_compartment, code, json, text, TestContext};
use fhirdl_sandbox::personality::ATHENA_PRACTICE;
use fhirdl_sandbox::{Ehr, RateLimit, RateWindow, SandboxConfig};
use serde_json::Value;

/// Signs alice in on `config` (with `login_extra`), syncs with `env` set, and checks the exit
/// code is 0; the context and the `sync --json` report.
fn exported(
    config: SandboxConfig,
    login_extra: &[&str],
    env: &[(&str, &str)],
) -> (TestContext, Value) {
    let ctx = TestContext::new(config);
    let out = ctx.login("a", login_extra);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let mut sync = ctx.command();
    sync.args(["sync", "--json"]).envs(env.iter().copied());
    let out = ctx.run(sync);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    (ctx, report)
}

fn of<'a>(report: &'a Value, ty: &str) -> &'a Value {
    report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["resource_type"] == ty)
        .unwrap_or_else(|| panic!("{ty} missing from {report}"))
}

fn whole(ctx: &TestContext, report: &Value, what: &str) {
    let patient = ctx.patient("alice");
    assert_whole_compartment(&ctx.sandbox, &patient, report, what);
}

#[test]
fn athena_with_its_practice_parameter_exports_everything() {
    let practice = format!("ah-practice={ATHENA_PRACTICE}");
    // Small pages, so the opaque cursors are followed one after another.
    let config = SandboxConfig {
        page_size_max: 10,
        ..SandboxConfig::for_ehr(Ehr::Athena)
    };
    let (ctx, report) = exported(config, &["--search-param", &practice], &[]);
    whole(&ctx, &report, "athena");
    assert!(
        of(&report, "Observation")["pages"].as_u64().unwrap() > 2,
        "{report}"
    );
    // MedicationRequest was refused without intent, then asked for with every intent.
    let meds = of(&report, "MedicationRequest");
    assert_eq!(meds["completeness"]["status"], "recovered", "{report}");
    assert!(
        meds["completeness"]["detail"]
            .as_str()
            .unwrap()
            .contains("requires an intent"),
        "{report}"
    );
    // The profile keeps the parameter and says so.
    let status = ctx.fhirdl(&["status", "--profile", "a"]);
    assert!(text(&status).contains(&practice), "{}", text(&status));
    let shown = ctx.fhirdl(&["profile", "show", "a"]);
    assert!(text(&shown).contains("search_params"), "{}", text(&shown));
    // doctor's probes send it too, and ask MedicationRequest with every intent as sync does
    // (its plain probe meets the 400 for want of intent): no type fails.
    let out = ctx.fhirdl(&["doctor", "--profile", "a", "--json"]);
    let doc = json(&out);
    let probes = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "type_probes")
        .unwrap();
    assert_ne!(probes["status"], "fail", "{probes:#}");
    let answered: Vec<(&str, u64)> = probes["figures"]["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("{probes:#}"))
        .iter()
        .map(|p| (p["type"].as_str().unwrap(), p["status"].as_u64().unwrap()))
        .collect();
    assert!(answered.contains(&("MedicationRequest", 200)), "{probes:#}");
    assert!(answered.iter().all(|(_, s)| *s == 200), "{probes:#}");
    // A second run sends it again (it is the profile's, not the first run's), and asks
    // MedicationRequest with every intent at once: the refusal was learnt, not met again.
    let out = ctx.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let again = json(&out);
    let meds = of(&again, "MedicationRequest");
    assert!(
        meds["completeness"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("an earlier run learnt")
            || meds["warnings"]
                .to_string()
                .contains("an earlier run learnt"),
        "{again}"
    );
}

#[test]
fn athena_without_its_practice_parameter_fails_saying_what_the_server_wants() {
    // Recognised from its CapabilityStatement, athenahealth is known to want its practice on
    // every search: without it the sync stops before asking anything (exit 2), saying how.
    let ctx = TestContext::new(SandboxConfig::for_ehr(Ehr::Athena));
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let trace = ctx.root().join("trace.jsonl");
    let out = ctx.fhirdl(&["sync", "--json", "--trace-file", trace.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "fhirdl login --search-param ah-practice=<yours, like Organization/a-1.Practice-"
        ),
        "{stderr}"
    );
    let searches = std::fs::read_to_string(&trace)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("patient="))
        .count();
    assert_eq!(searches, 0, "a search was sent without the practice");
    // An unknown server with the same habit: every search refused (exit 3, the types named),
    // and the hint says how to send the parameter.
    let mut config = SandboxConfig::for_ehr(Ehr::Athena);
    config.quirks.software_name = Some("Another EHR".into());
    let ctx = TestContext::new(config);
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let out = ctx.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fhirdl login --search-param ah-practice=<value>"),
        "{stderr}"
    );
}

#[test]
fn ecw_exports_everything() {
    let (ctx, report) = exported(SandboxConfig::for_ehr(Ehr::Ecw), &[], &[]);
    assert!(ctx.base().ends_with("/fhir/r4/FFBJCD"), "{}", ctx.base());
    whole(&ctx, &report, "ecw");
}

#[test]
fn ecw_sync_that_hits_the_rate_limit_completes() {
    let mut config = SandboxConfig::for_ehr(Ehr::Ecw);
    // One request in every 12 refused: the sync meets 429s without Retry-After.
    config.quirks.rate_limit = Some(RateLimit {
        limit: 11,
        window: RateWindow::Requests(12),
    });
    let (ctx, report) = exported(config, &[], &[("FHIRDL_RETRY_BASE_MS", "1")]);
    assert!(
        ctx.sandbox.stats().rate_limited > 0,
        "no request was refused"
    );
    whole(&ctx, &report, "ecw with 429s");
}

#[test]
fn meditech_exports_everything() {
    let (ctx, report) = exported(SandboxConfig::for_ehr(Ehr::Meditech), &[], &[]);
    whole(&ctx, &report, "meditech");
}

#[test]
fn veradigm_open_endpoint_exports_everything() {
    let (ctx, report) = exported(SandboxConfig::for_ehr(Ehr::Veradigm), &[], &[]);
    assert!(ctx.base().ends_with("/open"), "{}", ctx.base());
    whole(&ctx, &report, "veradigm");
}
