//! The same sync scenarios for every FHIR release the sandbox serves (R4, STU3, DSTU2): full
//! export against the server's own counts, references closed, every document byte-equal to
//! the bytes the sandbox serves raw, incremental upserts, `--full` set-asides, and a Binary
//! without bytes reported as a failed document (exit 3), never saved as an empty file.
//!
//! Regression: DSTU2/STU3 Binaries keep their bytes in `content`; fhirdl once read
//! `data` and saved every document of a DSTU2 server as a 0-byte file while exiting 0.

use crate::common::{code, json, ndjson, text, type_report, walk, TestContext};
use fhirdl_sandbox::{FhirFlavor, SandboxConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const RELEASES: [FhirFlavor; 3] = [FhirFlavor::R4, FhirFlavor::Stu3, FhirFlavor::Dstu2];

fn medication_type(flavor: FhirFlavor) -> &'static str {
    match flavor {
        FhirFlavor::Dstu2 => "MedicationOrder",
        _ => "MedicationRequest",
    }
}

fn fhir_version(flavor: FhirFlavor) -> &'static str {
    match flavor {
        FhirFlavor::R4 => "4.0.1",
        FhirFlavor::Stu3 => "3.0.2",
        FhirFlavor::Dstu2 => "1.0.2",
    }
}

fn signed_in(flavor: FhirFlavor) -> TestContext {
    let env = TestContext::new(SandboxConfig {
        flavor,
        smart_configuration: flavor != FhirFlavor::Dstu2,
        ..SandboxConfig::default()
    });
    let out = env.login("a", &[]);
    assert_eq!(code(&out), 0, "{flavor:?}: {}", text(&out));
    env
}

fn out_dir(env: &TestContext) -> PathBuf {
    env.export_dir("a")
}

/// `fhirdl sync <args> --json` without retry delays (a failing document is tried 5 times).
fn sync(env: &TestContext, args: &[&str]) -> (i32, Value, String) {
    let mut c = env.command();
    c.env("FHIRDL_RETRY_BASE_MS", "1")
        .arg("sync")
        .arg("--json")
        .args(args);
    let out = env.run(c);
    (code(&out), json(&out), text(&out))
}

fn lines(dir: &Path, ty: &str) -> Vec<Value> {
    ndjson(&dir.join(format!("{ty}.ndjson")))
}

/// How many attachments (with a url or inline data) the exported resources carry.
fn attachments_in_export(dir: &Path) -> usize {
    let mut n = 0;
    for (ty, element) in [
        ("DocumentReference", "content"),
        ("DiagnosticReport", "presentedForm"),
    ] {
        for r in lines(dir, ty) {
            for item in r[element].as_array().into_iter().flatten() {
                let a = if ty == "DocumentReference" {
                    &item["attachment"]
                } else {
                    item
                };
                if a.get("url").is_some() || a.get("data").is_some() {
                    n += 1;
                }
            }
        }
    }
    n
}

/// Every document in `attachments/manifest.json` is a non-empty file equal to the bytes the
/// sandbox serves for its Binary, and the manifest's hash is that file's.
fn assert_documents_equal_the_servers(env: &TestContext, dir: &Path, flavor: FhirFlavor) -> usize {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("attachments/manifest.json")).unwrap())
            .unwrap();
    let entries = manifest.as_object().unwrap();
    for (file, entry) in entries {
        let saved = std::fs::read(dir.join("attachments").join(file)).unwrap();
        assert!(!saved.is_empty(), "{flavor:?}: {file} is empty");
        let url = entry["url"].as_str().unwrap();
        let binary_id = url.rsplit_once("/Binary/").unwrap().1;
        let served = env.sandbox.binary_bytes(binary_id).unwrap();
        assert!(
            saved == served,
            "{flavor:?}: {file} differs from Binary/{binary_id}"
        );
        assert!(saved.starts_with(b"%PDF"), "{flavor:?}: {file}");
        let sha = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&saved));
        let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(entry["sha256"], hex.as_str(), "{flavor:?}: {file}");
        assert_eq!(entry["bytes"], saved.len(), "{flavor:?}: {file}");
    }
    entries.len()
}

#[test]
fn full_export_is_complete_for_every_release() {
    for flavor in RELEASES {
        let env = signed_in(flavor);
        let (status, report, out) = sync(&env, &[]);
        assert_eq!(status, 0, "{flavor:?}: {out}");
        let dir = out_dir(&env);
        // Everything of the patient's compartment arrived.
        let patient = env.sandbox.users()[0].patient_id.clone();
        crate::common::assert_whole_compartment(
            &env.sandbox,
            &patient,
            &report,
            &format!("{flavor:?}"),
        );
        // The release's own names.
        let medication = medication_type(flavor);
        assert!(!lines(&dir, medication).is_empty(), "{flavor:?}: {out}");
        for other in ["MedicationOrder", "MedicationRequest"] {
            if other != medication {
                assert!(!dir.join(format!("{other}.ndjson")).exists(), "{flavor:?}");
            }
        }
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["fhir_version"], fhir_version(flavor));
        // References inside the export resolve.
        let base = url::Url::parse(&env.base()).unwrap();
        let mut refs = std::collections::BTreeSet::new();
        for file in walk(&dir) {
            if file.extension().is_some_and(|e| e == "ndjson") && file.parent() == Some(&dir) {
                for line in std::fs::read_to_string(&file).unwrap().lines() {
                    fhirdl::sync::references::collect(
                        &serde_json::from_str(line).unwrap(),
                        &base,
                        &mut refs,
                    );
                }
            }
        }
        assert!(refs.iter().any(|(t, _)| t == "Practitioner"), "{flavor:?}");
        for (ty, id) in &refs {
            assert!(
                lines(&dir, ty).iter().any(|r| r["id"] == id.as_str()),
                "{flavor:?}: {ty}/{id} referenced but not exported"
            );
        }
        // Every document, byte for byte.
        let documents = assert_documents_equal_the_servers(&env, &dir, flavor);
        assert!(documents > 0, "{flavor:?}");
        assert_eq!(documents, attachments_in_export(&dir), "{flavor:?}");
        let a = &report["attachments"];
        assert_eq!(a["downloaded"], documents, "{flavor:?}: {a}");
        assert_eq!(a["failed"], 0, "{flavor:?}: {a}");
        assert!(
            out.contains(&format!("\"downloaded\": {documents}")),
            "{flavor:?}"
        );
    }
}

#[test]
fn incremental_and_full_runs_for_every_release() {
    for flavor in RELEASES {
        let env = signed_in(flavor);
        assert_eq!(sync(&env, &[]).0, 0, "{flavor:?}");
        let dir = out_dir(&env);

        // Amend an Observation, add a Condition and a document with its Binary.
        let mut obs = lines(&dir, "Observation").remove(0);
        obs["status"] = json!("amended");
        env.sandbox.set_resource(obs.clone()).unwrap();
        let mut cond = lines(&dir, "Condition").remove(0);
        cond["id"] = json!("zz-new-condition");
        env.sandbox.set_resource(cond).unwrap();
        let pdf = b"%PDF-1.4\n% a document added later\n%%EOF\n".to_vec();
        env.sandbox
            .set_resource(binary(&env, flavor, "bin-later", Some(&pdf)))
            .unwrap();
        let mut doc = lines(&dir, "DocumentReference").remove(0);
        doc["id"] = json!("zz-doc-later");
        doc["content"] = json!([{"attachment": {
            "contentType": "application/pdf",
            "url": format!("{}/Binary/bin-later", env.base()),
            "size": pdf.len(),
        }}]);
        env.sandbox.set_resource(doc).unwrap();

        let (status, report, out) = sync(&env, &[]);
        assert_eq!(status, 0, "{flavor:?}: {out}");
        assert_eq!(
            type_report(&report, "Observation")["updated"],
            1,
            "{flavor:?}"
        );
        assert_eq!(type_report(&report, "Observation")["incremental"], true);
        assert_eq!(type_report(&report, "Condition")["new"], 1, "{flavor:?}");
        assert_eq!(type_report(&report, "DocumentReference")["new"], 1);
        assert_eq!(
            report["attachments"]["downloaded"], 1,
            "{flavor:?}: {report}"
        );
        let later = std::fs::read(dir.join("attachments/DocumentReference-zz-doc-later-1.pdf"))
            .unwrap_or_default();
        assert!(later == pdf, "{flavor:?}: the later document differs");
        assert!(lines(&dir, "Observation")
            .iter()
            .any(|o| o["id"] == obs["id"] && o["status"] == "amended"));
        assert_documents_equal_the_servers(&env, &dir, flavor);

        // --full: what the server no longer has is set aside, not lost.
        let gone = lines(&dir, "Immunization").remove(0);
        let gone_id = gone["id"].as_str().unwrap().to_string();
        assert!(env.sandbox.delete_resource("Immunization", &gone_id));
        let (status, report, out) = sync(&env, &["--full"]);
        assert_eq!(status, 0, "{flavor:?}: {out}");
        assert_eq!(
            type_report(&report, "Immunization")["removed"],
            1,
            "{flavor:?}"
        );
        assert!(!lines(&dir, "Immunization")
            .iter()
            .any(|r| r["id"] == gone_id.as_str()));
        let history =
            std::fs::read_to_string(dir.join(".fhirdl/history/Immunization.ndjson")).unwrap();
        assert!(
            history.lines().any(|l| l.contains(r#""event":"removed""#)
                && l.contains(&format!("\"id\":\"{gone_id}\""))),
            "{flavor:?}: the removed Immunization is kept in the history"
        );
        assert_documents_equal_the_servers(&env, &dir, flavor);
    }
}

#[test]
fn a_binary_without_bytes_is_a_named_failed_document() {
    for flavor in RELEASES {
        let env = signed_in(flavor);
        assert_eq!(sync(&env, &[]).0, 0, "{flavor:?}");
        let dir = out_dir(&env);
        env.sandbox
            .set_resource(binary(&env, flavor, "bin-empty", None))
            .unwrap();
        let mut doc = lines(&dir, "DocumentReference").remove(0);
        doc["id"] = json!("zz-doc-empty");
        doc["content"] = json!([{"attachment": {
            "contentType": "application/pdf",
            "url": format!("{}/Binary/bin-empty", env.base()),
        }}]);
        env.sandbox.set_resource(doc).unwrap();

        let (status, report, out) = sync(&env, &[]);
        assert_eq!(status, 3, "{flavor:?}: {out}");
        let a = &report["attachments"];
        assert_eq!(a["failed"], 1, "{flavor:?}: {a}");
        assert_eq!(a["downloaded"], 0, "{flavor:?}: {a}");
        let failure = &a["failures"][0];
        assert_eq!(failure["file"], "DocumentReference-zz-doc-empty-1.pdf");
        assert_eq!(failure["resource"], "DocumentReference/zz-doc-empty");
        assert!(failure["url"]
            .as_str()
            .unwrap()
            .ends_with("/Binary/bin-empty"));
        assert!(
            failure["reason"]
                .as_str()
                .unwrap()
                .contains("Binary without bytes"),
            "{flavor:?}: {failure}"
        );
        // No file, no manifest entry, and last_run.json names it.
        assert!(!dir
            .join("attachments/DocumentReference-zz-doc-empty-1.pdf")
            .exists());
        let manifest = std::fs::read_to_string(dir.join("attachments/manifest.json")).unwrap();
        assert!(!manifest.contains("zz-doc-empty"), "{flavor:?}");
        let last_run: Value =
            serde_json::from_slice(&std::fs::read(dir.join(".fhirdl/last_run.json")).unwrap())
                .unwrap();
        assert_eq!(
            last_run["failed_documents"][0]["file"],
            "DocumentReference-zz-doc-empty-1.pdf"
        );
        // The human summary says it too, with the next step.
        let mut c = env.command();
        c.env("FHIRDL_RETRY_BASE_MS", "1").arg("sync");
        let human = env.run(c);
        assert_eq!(code(&human), 3);
        let said = text(&human);
        assert!(said.contains("1 failed"), "{flavor:?}: {said}");
        assert!(
            said.contains("document not saved: DocumentReference-zz-doc-empty-1.pdf of DocumentReference/zz-doc-empty"),
            "{said}"
        );
        assert!(said.contains("run `fhirdl sync` again"), "{said}");

        // Once the server has the bytes, the next run saves the document and exits 0.
        env.sandbox
            .set_resource(binary(&env, flavor, "bin-empty", Some(b"%PDF-1.4 fixed")))
            .unwrap();
        let (status, report, out) = sync(&env, &[]);
        assert_eq!(status, 0, "{flavor:?}: {out}");
        assert_eq!(report["attachments"]["downloaded"], 1);
        assert_documents_equal_the_servers(&env, &dir, flavor);
    }
}

/// Exports made before the fix hold empty files that the manifest claims; the next run, even
/// one with nothing new, fetches them again.
#[test]
fn empty_documents_of_older_exports_are_fetched_again() {
    let env = signed_in(FhirFlavor::Dstu2);
    assert_eq!(sync(&env, &[]).0, 0);
    let dir = out_dir(&env);
    let manifest_path = dir.join("attachments/manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for (file, entry) in manifest.as_object_mut().unwrap() {
        std::fs::write(dir.join("attachments").join(file), b"").unwrap();
        entry["bytes"] = json!(0);
        entry["sha256"] = json!(empty_sha);
    }
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();

    let (status, report, out) = sync(&env, &[]);
    assert_eq!(status, 0, "{out}");
    assert_eq!(
        report["attachments"]["downloaded"],
        manifest.as_object().unwrap().len(),
        "{report}"
    );
    assert_documents_equal_the_servers(&env, &dir, FhirFlavor::Dstu2);
}

/// A Binary of the signed-in patient in the release's own shape (`data` from R4 on, `content`
/// before); `securityContext` tells the sandbox whose it is.
fn binary(env: &TestContext, flavor: FhirFlavor, id: &str, bytes: Option<&[u8]>) -> Value {
    use base64::Engine;
    let patient = &env.sandbox.users()[0].patient_id;
    let mut binary = json!({
        "resourceType": "Binary",
        "id": id,
        "contentType": "application/pdf",
        "securityContext": {"reference": format!("Patient/{patient}")},
    });
    if let Some(bytes) = bytes {
        let element = if flavor == FhirFlavor::R4 {
            "data"
        } else {
            "content"
        };
        binary[element] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    binary
}
