//! Byte fidelity: every resource is stored as the server sent it — the same key
//! order, the same number texts (`1.50` stays `1.50`, `0.010` stays `0.010`, a 21-digit
//! decimal keeps its digits, `1e2` stays `1e2`), the same strings with their escapes — in
//! NDJSON (whitespace between tokens removed) and in `json/` (indented, nothing else changed),
//! whether it came from a search or was read because another resource refers to it, through a
//! full, an incremental and a `--full` run, for every FHIR release the sandbox serves. An
//! export an older fhirdl wrote (numbers shortened, keys re-sorted) is upgraded by `--full`
//! without counting anything as changed.

use crate::common::{code, json, text, type_report, TestContext};
use fhirdl::json_text;
use fhirdl_sandbox::{FhirFlavor, SandboxConfig};
use serde_json::Value;
use std::path::Path;

const RELEASES: [FhirFlavor; 3] = [FhirFlavor::R4, FhirFlavor::Stu3, FhirFlavor::Dstu2];

/// An Observation no serializer would print this way: `resourceType` not first, decimals
/// whose precision matters, a number past f64, an exponent, escapes and non-ASCII text, and
/// whitespace and newlines between tokens.
fn observation(patient: &str, value: &str) -> String {
    format!(
        r#"{{ "status" : "final",
  "resourceType": "Observation", "id": "exact-1",
  "code": {{"text": "Caf\u00e9 \"quoted\" \ud83d\ude00 tab\there", "coding": []}},
  "subject": {{"reference": "Patient/{patient}"}},
  "performer": [{{"reference": "Organization/exact-org"}}],
  "valueQuantity": {{"value": {value}, "unit": "mmol/L"}},
  "referenceRange": [{{"low": {{"value": 0.010}}, "high": {{"value": 4.00}}}}],
  "component": [
    {{"code": {{"text": "a"}}, "valueQuantity": {{"value": 100.000000000000000001}}}},
    {{"code": {{"text": "b"}}, "valueQuantity": {{"value": 1e2}}}},
    {{"code": {{"text": "c"}}, "valueQuantity": {{"value": -0.0}}}},
    {{"code": {{"text": "d"}}, "valueQuantity": {{"value": 123456789012345678901}}}}
  ],
  "note": [{{"text": "é literal, \/ slash, \\ backslash"}}]
}}"#
    )
}

/// An Organization read only because the Observation refers to it.
const ORGANIZATION: &str = r#"{"name":"Labor Ärzte \u0026 Co","resourceType":"Organization",
  "id":"exact-org","extension":[{"url":"http://example.org/x","valueDecimal":2.50}]}"#;

fn signed_in(flavor: FhirFlavor) -> TestContext {
    let env = TestContext::new(SandboxConfig {
        flavor,
        smart_configuration: flavor != FhirFlavor::Dstu2,
        resources_per_patient: 20,
        ..SandboxConfig::default()
    });
    let out = env.login("a", &[]);
    assert_eq!(code(&out), 0, "{flavor:?}: {}", text(&out));
    env
}

fn sync(env: &TestContext, args: &[&str]) -> Value {
    let mut c = env.command();
    c.args(["sync", "--json", "--format", "both"]).args(args);
    let out = env.run(c);
    assert_eq!(code(&out), 0, "{}", text(&out));
    json(&out)
}

/// The NDJSON line of `id` in `<ty>.ndjson`.
fn line(dir: &Path, ty: &str, id: &str) -> String {
    let text = std::fs::read_to_string(dir.join(format!("{ty}.ndjson"))).unwrap();
    let needle = format!("\"id\":\"{id}\"");
    let found: Vec<&str> = text.lines().filter(|l| l.contains(&needle)).collect();
    assert_eq!(found.len(), 1, "{id} in {ty}.ndjson: {found:?}");
    found[0].to_string()
}

/// The NDJSON line and the pretty file are the served text, reshaped only by whitespace.
fn assert_exact(env: &TestContext, dir: &Path, ty: &str, id: &str) {
    let served = env.sandbox.resource_text(ty, id).unwrap();
    let stored = line(dir, ty, id);
    assert_eq!(stored, json_text::minify(&served), "{ty}/{id}");
    let path = dir.join(format!("json/{ty}/{id}.json"));
    let pretty =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(pretty, json_text::pretty(&stored), "json/{ty}/{id}.json");
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(squeeze(&pretty), squeeze(&stored));
}

#[test]
fn resources_are_stored_exactly_as_sent_in_every_release() {
    for flavor in RELEASES {
        let env = signed_in(flavor);
        let patient = env.sandbox.users()[0].patient_id.clone();
        env.sandbox
            .set_resource_text(&observation(&patient, "1.50"))
            .unwrap();
        env.sandbox.set_resource_text(ORGANIZATION).unwrap();
        let dir = env.export_dir("a");

        sync(&env, &[]);
        assert_exact(&env, &dir, "Observation", "exact-1");
        assert_exact(&env, &dir, "Organization", "exact-org");
        let stored = line(&dir, "Observation", "exact-1");
        for text in [
            r#""value":1.50,"#,
            r#""value":0.010}"#,
            r#""value":4.00}"#,
            r#""value":100.000000000000000001}"#,
            r#""value":1e2}"#,
            r#""value":-0.0}"#,
            r#""value":123456789012345678901}"#,
            r#"Caf\u00e9 \"quoted\" \ud83d\ude00 tab\there"#,
            r#"é literal, \/ slash, \\ backslash"#,
        ] {
            assert!(stored.contains(text), "{flavor:?}: {text} not in {stored}");
        }
        assert!(
            stored.starts_with(r#"{"meta":{"#) && stored.contains(r#"},"status":"final","#),
            "{flavor:?}: key order kept: {stored}"
        );

        // Incremental: an amended value arrives exactly as sent.
        env.sandbox
            .set_resource_text(&observation(&patient, "2.10"))
            .unwrap();
        let report = sync(&env, &[]);
        assert_eq!(
            type_report(&report, "Observation")["updated"],
            1,
            "{report}"
        );
        assert_exact(&env, &dir, "Observation", "exact-1");
        assert!(line(&dir, "Observation", "exact-1").contains(r#""value":2.10,"#));

        // --full: nothing changes, nothing is counted as changed.
        let report = sync(&env, &["--full"]);
        let obs = type_report(&report, "Observation");
        assert_eq!(
            (obs["updated"].as_u64(), obs.get("upgraded")),
            (Some(0), None),
            "{report}"
        );
        assert_exact(&env, &dir, "Observation", "exact-1");
        assert_exact(&env, &dir, "Organization", "exact-org");
        let verified = env.fhirdl(&["verify"]);
        assert_eq!(code(&verified), 0, "{flavor:?}: {}", text(&verified));
        env.shutdown();
    }
}

#[test]
fn an_export_an_older_fhirdl_re_printed_is_upgraded_by_full_without_changes_counted() {
    let env = signed_in(FhirFlavor::R4);
    let patient = env.sandbox.users()[0].patient_id.clone();
    env.sandbox
        .set_resource_text(&observation(&patient, "1.50"))
        .unwrap();
    let dir = env.export_dir("a");
    sync(&env, &[]);
    // What earlier versions of fhirdl wrote: each resource parsed and printed again.
    let ndjson_path = dir.join("Observation.ndjson");
    let old: String = std::fs::read_to_string(&ndjson_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string() + "\n")
        .collect();
    assert!(
        !old.contains(r#""value":1.50,"#),
        "the old form shortens 1.50"
    );
    std::fs::write(&ndjson_path, &old).unwrap();
    let pretty_path = dir.join("json/Observation/exact-1.json");
    let reprinted = serde_json::to_string_pretty(
        &serde_json::from_str::<Value>(&std::fs::read_to_string(&pretty_path).unwrap()).unwrap(),
    )
    .unwrap();
    std::fs::write(&pretty_path, reprinted).unwrap();

    let report = sync(&env, &["--full"]);
    let obs = type_report(&report, "Observation");
    assert_eq!(obs["updated"], 0, "{report}");
    assert_eq!(obs["new"], 0, "{report}");
    assert!(obs["upgraded"].as_u64().unwrap_or(0) >= 1, "{report}");
    assert!(
        obs["warnings"]
            .to_string()
            .contains("now kept exactly as the server sent them"),
        "{report}"
    );
    assert_exact(&env, &dir, "Observation", "exact-1");
    let count = std::fs::read_to_string(&ndjson_path)
        .unwrap()
        .lines()
        .count();
    assert_eq!(count, old.lines().count(), "nothing lost in the upgrade");
    // The re-printed text is not lost either: it went to the history.
    let history = std::fs::read_to_string(dir.join(".fhirdl/history/Observation.ndjson")).unwrap();
    assert!(history.contains(r#""value":1.5}"#), "{history}");
    env.shutdown();
}
