//! `fhirdl sync` against the embedded sandbox: full export, no-change and incremental runs,
//! `--full` reconciliation, the lock, and the refusal to mix two patients in one folder.

mod common;

use common::{code, json, text, Env};
use fhirdl::sandbox::SandboxConfig;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn signed_in() -> Env {
    let env = Env::new(SandboxConfig::default());
    let out = env.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    env
}

fn out_dir(env: &Env) -> PathBuf {
    env.data_dir().join("exports").join("a")
}

/// Inode and content of every NDJSON file, to prove what was (not) rewritten.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, String)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "ndjson"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (
                name,
                (
                    e.metadata().unwrap().ino(),
                    std::fs::read_to_string(e.path()).unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn full_export_matches_the_server_and_is_private() {
    let env = signed_in();
    let out = env.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let patient = env.sandbox.users()[0].patient_id.clone();
    let stored: u64 = report["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            !["Practitioner", "Organization", "Location"]
                .contains(&t["resource_type"].as_str().unwrap())
        })
        .map(|t| t["stored"].as_u64().unwrap())
        .sum();
    assert_eq!(
        stored as usize,
        env.sandbox.resource_count(&patient),
        "{report}"
    );
    // The record is closed over its references: every referenced practitioner, organization
    // and location is there, read by batched _id searches.
    let dir = out_dir(&env);
    let mut refs = std::collections::BTreeSet::new();
    let base = url::Url::parse(&env.base()).unwrap();
    for (_, (_, content)) in snapshot(&dir) {
        for line in content.lines() {
            fhirdl::sync::references::collect(
                &serde_json::from_str(line).unwrap(),
                &base,
                &mut refs,
            );
        }
    }
    assert!(refs.iter().any(|(t, _)| t == "Practitioner"));
    for (ty, id) in &refs {
        let file = std::fs::read_to_string(dir.join(format!("{ty}.ndjson"))).unwrap_or_default();
        assert!(
            file.contains(&format!("\"id\":\"{id}\"")),
            "{ty}/{id} referenced but not exported"
        );
    }
    // Every DocumentReference's PDF is in attachments/, mapped in its manifest.
    let docs = std::fs::read_to_string(dir.join("DocumentReference.ndjson"))
        .unwrap()
        .lines()
        .count();
    let pdfs: Vec<_> = common::walk(&dir.join("attachments"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    assert_eq!(pdfs.len(), docs, "{report}");
    assert!(pdfs
        .iter()
        .all(|p| std::fs::read(p).unwrap().starts_with(b"%PDF")));
    let am: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("attachments/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(am.as_object().unwrap().len(), docs);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["patient"], patient.as_str());
    for (name, (_, content)) in snapshot(&dir) {
        let sha: String = Sha256::digest(content.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(manifest["files"][&name]["sha256"], sha.as_str(), "{name}");
        let ids: Vec<String> = content
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "{name} is sorted by id");
    }
    use std::os::unix::fs::PermissionsExt;
    for f in common::walk(&dir) {
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
    }
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    env.assert_no_leaks();
}

#[test]
fn second_sync_without_changes_rewrites_nothing_then_incremental_upserts() {
    let env = signed_in();
    assert_eq!(code(&env.fhirdl(&["sync"])), 0);
    let dir = out_dir(&env);
    let before = snapshot(&dir);
    let manifest_before = std::fs::read(dir.join("manifest.json")).unwrap();
    let state_before = std::fs::read(dir.join(".fhirdl/state.json")).unwrap();

    let out = env.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        snapshot(&dir),
        before,
        "a no-change sync must not rewrite any file"
    );
    assert!(
        std::fs::read(dir.join("manifest.json")).unwrap() == manifest_before,
        "the manifest must not be rewritten"
    );
    assert!(
        state_before == std::fs::read(dir.join(".fhirdl/state.json")).unwrap(),
        "nor the state"
    );
    let report = json(&out);
    assert!(
        report["types"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["new"] == 0 && t["updated"] == 0),
        "{report}"
    );

    // Change one Observation and add one Condition on the server.
    let obs_line = before["Observation.ndjson"]
        .1
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mut obs: serde_json::Value = serde_json::from_str(&obs_line).unwrap();
    obs["status"] = serde_json::json!("amended");
    env.sandbox.set_resource(obs.clone()).unwrap();
    let cond_line = before["Condition.ndjson"]
        .1
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mut cond: serde_json::Value = serde_json::from_str(&cond_line).unwrap();
    cond["id"] = serde_json::json!("zz-new-condition");
    env.sandbox.set_resource(cond).unwrap();

    let out = env.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let by_type = |t: &str| {
        report["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["resource_type"] == t)
            .unwrap()
            .clone()
    };
    assert_eq!(by_type("Observation")["updated"], 1, "{report}");
    assert_eq!(by_type("Observation")["incremental"], true);
    assert_eq!(by_type("Condition")["new"], 1, "{report}");
    let after = snapshot(&dir);
    assert_eq!(
        after["Encounter.ndjson"], before["Encounter.ndjson"],
        "untouched types are not rewritten"
    );
    assert!(after["Observation.ndjson"].1.contains("\"amended\""));
    assert!(after["Condition.ndjson"].1.contains("zz-new-condition"));
}

#[test]
fn full_sync_sets_aside_what_the_server_no_longer_has() {
    let env = signed_in();
    assert_eq!(code(&env.fhirdl(&["sync", "--format", "both"])), 0);
    let dir = out_dir(&env);
    assert!(dir.join("json/Patient").read_dir().unwrap().count() == 1);
    let first = snapshot(&dir)["Immunization.ndjson"]
        .1
        .lines()
        .next()
        .unwrap()
        .to_string();
    let id = serde_json::from_str::<serde_json::Value>(&first).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.sandbox.delete_resource("Immunization", &id));
    // An incremental run cannot see deletions…
    assert_eq!(code(&env.fhirdl(&["sync"])), 0);
    assert!(std::fs::read_to_string(dir.join("Immunization.ndjson"))
        .unwrap()
        .contains(&id));
    // …a full run reconciles, keeping the removed resource aside.
    let out = env.fhirdl(&["sync", "--full", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!std::fs::read_to_string(dir.join("Immunization.ndjson"))
        .unwrap()
        .contains(&id));
    let kept: Vec<PathBuf> = common::walk(&dir.join(".fhirdl/removed"));
    assert_eq!(kept.len(), 1);
    assert!(std::fs::read_to_string(&kept[0]).unwrap().contains(&id));
}

#[test]
fn dry_run_writes_nothing_and_types_narrow_the_plan() {
    let env = signed_in();
    let out = env.fhirdl(&[
        "sync",
        "--dry-run",
        "--types",
        "Observation,Condition",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    assert_eq!(report["types"].as_array().unwrap().len(), 2, "{report}");
    assert!(snapshot(&out_dir(&env)).is_empty());
}

#[test]
fn a_locked_folder_and_a_folder_of_another_patient_are_refused() {
    let env = signed_in();
    let dir = out_dir(&env);
    {
        let _held = fhirdl::sync::export::Export::open(&dir).unwrap();
        let out = env.fhirdl(&["sync"]);
        assert_eq!(code(&out), 8, "{}", text(&out));
    }
    assert_eq!(code(&env.fhirdl(&["sync"])), 0);
    // Bob's sign-in, Alice's folder.
    login_bob(&env);
    let out = env.fhirdl(&["sync", "--profile", "b", "--out", dir.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another patient"));
}

#[test]
fn status_shows_the_last_sync() {
    let env = signed_in();
    assert_eq!(code(&env.fhirdl(&["sync"])), 0);
    let doc = json(&env.fhirdl(&["status", "--json", "--offline"]));
    let last = doc["profiles"][0]["last_sync"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        last.contains("resources in") && last.contains("exports"),
        "{last}"
    );
}

#[test]
fn sync_without_login_asks_for_one() {
    let env = signed_in();
    env.sandbox.revoke_all_tokens();
    env.sandbox.expire_access_tokens();
    let out = env.fhirdl(&["sync"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(text(&out).contains("fhirdl login --profile a"));
}

#[test]
fn all_profiles_sync_each_profile_with_one_summary_and_the_worst_exit_code() {
    let env = signed_in();
    login_bob(&env);
    let out = env.fhirdl(&["sync", "--all-profiles", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    let profiles = doc["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 2);
    assert!(profiles.iter().all(|p| p["ok"] == true), "{doc}");
    assert!(env.data_dir().join("exports/b/Patient.ndjson").exists());
    // One profile loses its sign-in: the others still sync, the exit code says "login required".
    std::fs::remove_file(env.credential_file("a")).unwrap();
    let out = env.fhirdl(&["sync", "--all-profiles", "--json"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    let doc = json(&out);
    let b = doc["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["profile"] == "b")
        .unwrap()
        .clone();
    assert_eq!(b["ok"], true, "{doc}");
}

#[test]
fn wait_for_a_busy_folder() {
    let env = signed_in();
    let dir = out_dir(&env);
    let held = fhirdl::sync::export::Export::open(&dir).unwrap();
    let mut c = env.cmd();
    c.args(["sync", "--wait", "60s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("Patient.ndjson").exists());
}

#[test]
fn dstu2_records_are_exported_with_their_own_type_names() {
    let env = Env::new(SandboxConfig {
        flavor: fhirdl::sandbox::FhirFlavor::Dstu2,
        smart_configuration: false,
        ..SandboxConfig::default()
    });
    assert_eq!(code(&env.login("a", &[])), 0);
    let out = env.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = out_dir(&env);
    assert!(
        dir.join("MedicationOrder.ndjson").exists(),
        "{}",
        text(&out)
    );
    assert!(!dir.join("MedicationRequest.ndjson").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["fhir_version"], "1.0.2");
}

/// Signs Bob in as profile `b` (the scripted browser types his password).
fn login_bob(env: &Env) {
    let mut c = env.cmd_with_browser(&format!(
        "{} sandbox-browser --user bob --password bob-sandbox",
        common::bin().display()
    ));
    c.args([
        "login",
        "--profile",
        "b",
        "--fhir-base",
        &env.base(),
        "--client-id",
        "fhirdl-sandbox",
    ])
    .args(["--credential-store", "file"]);
    assert_eq!(code(&env.run(c)), 0);
}
