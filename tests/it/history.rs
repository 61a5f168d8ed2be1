//! Every superseded version is kept: an amended lab result never overwrites the
//! old value. Versions replaced by a sync, and resources a `--full` run no longer finds, are
//! appended to `.fhirdl/history/<Type>.ndjson` byte for byte; `fhirdl history Type/id` lists
//! them with the current one and prints any of them exactly; the history never grows when
//! nothing changed. (A kill in the middle of a run is covered by the kill campaign in
//! `kills.rs`, which checks the history of the killed folder.)

use crate::common::{code, json, text, TestContext};
use fhirdl_sandbox::SandboxConfig;
use serde_json::Value;

fn lab(patient: &str, value: &str, status: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","id":"lab-1","status":"{status}",
  "code":{{"text":"Potassium"}},"subject":{{"reference":"Patient/{patient}"}},
  "valueQuantity":{{"value":{value},"unit":"mmol/L"}}}}"#
    )
}

fn history_lines(env: &TestContext) -> Vec<Value> {
    let path = env
        .export_dir("a")
        .join(".fhirdl/history/Observation.ndjson");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ok(env: &TestContext, args: &[&str]) -> std::process::Output {
    let out = env.fhirdl(args);
    assert_eq!(code(&out), 0, "{args:?}: {}", text(&out));
    out
}

#[test]
fn amended_results_keep_every_earlier_version_and_history_lists_and_prints_them() {
    let env = TestContext::new(SandboxConfig {
        resources_per_patient: 20,
        ..SandboxConfig::default()
    });
    assert_eq!(code(&env.login("a", &[])), 0);
    let patient = env.sandbox.users()[0].patient_id.clone();
    let versions = [
        ("4.50", "preliminary"),
        ("4.80", "final"),
        ("4.10", "amended"),
    ];
    let mut served = Vec::new();
    for (value, status) in versions {
        env.sandbox
            .set_resource_text(&lab(&patient, value, status))
            .unwrap();
        served.push(fhirdl::json_text::minify(
            &env.sandbox.resource_text("Observation", "lab-1").unwrap(),
        ));
        ok(&env, &["sync"]);
    }
    // Two versions were superseded, each kept exactly as it was stored.
    let history = history_lines(&env);
    assert_eq!(history.len(), 2, "{history:?}");
    let raw = std::fs::read_to_string(
        env.export_dir("a")
            .join(".fhirdl/history/Observation.ndjson"),
    )
    .unwrap();
    for old in &served[..2] {
        assert!(
            raw.contains(&format!(r#""event":"replaced","resource":{old}}}"#)),
            "{old} not kept byte for byte in {raw}"
        );
    }
    // Nothing changed: the history does not grow, not even with --full.
    ok(&env, &["sync"]);
    ok(&env, &["sync", "--full"]);
    assert_eq!(history_lines(&env).len(), 2);

    // The list: oldest first, the current one last.
    let out = ok(&env, &["history", "Observation/lab-1", "--json"]);
    let listed = json(&out);
    let v = listed["versions"].as_array().unwrap();
    assert_eq!(v.len(), 3, "{listed}");
    assert_eq!(
        v.iter()
            .map(|x| x["state"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["replaced", "replaced", "current"]
    );
    assert_eq!(
        v.iter()
            .map(|x| x["version_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert!(v[0]["recorded_at"].is_string() && v[2].get("recorded_at").is_none());
    let human =
        String::from_utf8_lossy(&ok(&env, &["history", "Observation/lab-1"]).stdout).into_owned();
    assert!(
        human.contains("3 versions held") && human.contains(".fhirdl/history/Observation.ndjson"),
        "{human}"
    );
    // One version, exactly: `4.50` stays `4.50`.
    let first = ok(&env, &["history", "Observation/lab-1", "--version", "1"]);
    let first = String::from_utf8(first.stdout).unwrap();
    assert_eq!(first.trim_end(), fhirdl::json_text::pretty(&served[0]));
    assert!(first.contains(r#""value": 4.50"#), "{first}");
    let one = String::from_utf8(
        ok(
            &env,
            &["history", "Observation/lab-1", "--version", "2", "--json"],
        )
        .stdout,
    )
    .unwrap();
    assert!(
        one.contains(r#""value":4.80"#),
        "the raw text inside --json: {one}"
    );
    assert_eq!(serde_json::from_str::<Value>(&one).unwrap()["version"], 2);

    // Removed on the server: a --full run records it as removed, and it stays listed.
    assert!(env.sandbox.delete_resource("Observation", "lab-1"));
    ok(&env, &["sync", "--full"]);
    let history = history_lines(&env);
    assert_eq!(history.len(), 3);
    assert_eq!(history[2]["event"], "removed");
    assert_eq!(history[2]["resource"]["valueQuantity"]["value"], 4.1);
    let listed = json(&ok(&env, &["history", "Observation/lab-1", "--json"]));
    assert_eq!(listed["versions"].as_array().unwrap().len(), 3);
    assert_eq!(listed["versions"][2]["state"], "removed");

    // The history and the cached CapabilityStatement are part of an intact export.
    ok(&env, &["verify"]);

    // Bad input: a clear usage error, nothing read outside the export.
    for bad in ["Observation", "Observation/../../etc", "observation/lab-1"] {
        let out = env.fhirdl(&["history", bad]);
        assert_eq!(code(&out), 2, "{bad}: {}", text(&out));
        assert!(text(&out).contains("Type/id"), "{}", text(&out));
    }
    let out = env.fhirdl(&["history", "Observation/never-there"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = env.fhirdl(&["history", "Observation/lab-1", "--version", "9"]);
    assert!(text(&out).contains("versions 1 to 3"), "{}", text(&out));
}
