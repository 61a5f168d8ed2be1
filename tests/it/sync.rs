//! `fhirdl sync` against the embedded sandbox: full export, no-change and incremental runs,
//! `--full` reconciliation, the lock, and the refusal to mix two patients in one folder.

use crate::common::{
    assert_whole_compartment, code, inodes, json, snapshot, text, wait_output, walk, TestContext,
};
use fhirdl_sandbox::SandboxConfig;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn signed_in() -> TestContext {
    let ctx = TestContext::with_defaults();
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    ctx
}

fn out_dir(ctx: &TestContext) -> PathBuf {
    ctx.export_dir("a")
}

/// The NDJSON files at the top of an export by name: inode and text, to prove what was (not)
/// rewritten (a file rewritten with the same bytes gets a new inode).
fn ndjson_files(dir: &Path) -> BTreeMap<String, (u64, String)> {
    let inodes = inodes(dir);
    snapshot(dir)
        .into_iter()
        .filter(|(name, _)| !name.contains('/') && name.ends_with(".ndjson"))
        .map(|(name, bytes)| {
            let inode = inodes[&name];
            (name, (inode, String::from_utf8(bytes).unwrap()))
        })
        .collect()
}

#[test]
fn full_export_matches_the_server_and_is_private() {
    let ctx = signed_in();
    let out = ctx.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let patient = ctx.sandbox.users()[0].patient_id.clone();
    assert_whole_compartment(&ctx.sandbox, &patient, &report, "full export");
    // The record is closed over its references: every referenced practitioner, organization
    // and location is there, read by batched _id searches.
    let dir = out_dir(&ctx);
    let mut refs = std::collections::BTreeSet::new();
    let base = url::Url::parse(&ctx.base()).unwrap();
    for (_, (_, content)) in ndjson_files(&dir) {
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
    let pdfs: Vec<_> = walk(&dir.join("attachments"))
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
    for (name, (_, content)) in ndjson_files(&dir) {
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
    for f in walk(&dir) {
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
    ctx.assert_no_leaks();
}

#[test]
fn second_sync_without_changes_rewrites_nothing_then_incremental_upserts() {
    let ctx = signed_in();
    assert_eq!(code(&ctx.fhirdl(&["sync"])), 0);
    let dir = out_dir(&ctx);
    let before = ndjson_files(&dir);
    let manifest_before = std::fs::read(dir.join("manifest.json")).unwrap();
    let state_before = std::fs::read(dir.join(".fhirdl/state.json")).unwrap();

    let out = ctx.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        ndjson_files(&dir),
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
    ctx.sandbox.set_resource(obs.clone()).unwrap();
    let cond_line = before["Condition.ndjson"]
        .1
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mut cond: serde_json::Value = serde_json::from_str(&cond_line).unwrap();
    cond["id"] = serde_json::json!("zz-new-condition");
    ctx.sandbox.set_resource(cond).unwrap();

    let out = ctx.fhirdl(&["sync", "--json"]);
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
    let after = ndjson_files(&dir);
    assert_eq!(
        after["Encounter.ndjson"], before["Encounter.ndjson"],
        "untouched types are not rewritten"
    );
    assert!(after["Observation.ndjson"].1.contains("\"amended\""));
    assert!(after["Condition.ndjson"].1.contains("zz-new-condition"));
}

#[test]
fn full_sync_sets_aside_what_the_server_no_longer_has() {
    let ctx = signed_in();
    assert_eq!(code(&ctx.fhirdl(&["sync", "--format", "both"])), 0);
    let dir = out_dir(&ctx);
    assert!(dir.join("json/Patient").read_dir().unwrap().count() == 1);
    let first = ndjson_files(&dir)["Immunization.ndjson"]
        .1
        .lines()
        .next()
        .unwrap()
        .to_string();
    let id = serde_json::from_str::<serde_json::Value>(&first).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ctx.sandbox.delete_resource("Immunization", &id));
    // An incremental run cannot see deletions…
    assert_eq!(code(&ctx.fhirdl(&["sync"])), 0);
    assert!(std::fs::read_to_string(dir.join("Immunization.ndjson"))
        .unwrap()
        .contains(&id));
    // …a full run reconciles, keeping the removed resource aside.
    let out = ctx.fhirdl(&["sync", "--full", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!std::fs::read_to_string(dir.join("Immunization.ndjson"))
        .unwrap()
        .contains(&id));
    let kept: Vec<PathBuf> = walk(&dir.join(".fhirdl/history"));
    assert_eq!(kept.len(), 1);
    assert!(std::fs::read_to_string(&kept[0]).unwrap().contains(&id));
}

#[test]
fn dry_run_writes_nothing_and_types_narrow_the_plan() {
    let ctx = signed_in();
    let out = ctx.fhirdl(&[
        "sync",
        "--dry-run",
        "--types",
        "Observation,Condition",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    assert_eq!(report["types"].as_array().unwrap().len(), 2, "{report}");
    assert!(ndjson_files(&out_dir(&ctx)).is_empty());
}

#[test]
fn a_locked_folder_and_a_folder_of_another_patient_are_refused() {
    let ctx = signed_in();
    let dir = out_dir(&ctx);
    {
        let _held = fhirdl::sync::export::Export::open(&dir).unwrap();
        let out = ctx.fhirdl(&["sync"]);
        assert_eq!(code(&out), 8, "{}", text(&out));
    }
    assert_eq!(code(&ctx.fhirdl(&["sync"])), 0);
    // Bob's sign-in, Alice's folder.
    login_bob(&ctx);
    let out = ctx.fhirdl(&["sync", "--profile", "b", "--out", dir.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another patient"));
}

#[test]
fn status_shows_the_last_sync() {
    let ctx = signed_in();
    assert_eq!(code(&ctx.fhirdl(&["sync"])), 0);
    let doc = json(&ctx.fhirdl(&["status", "--json", "--offline"]));
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
    let ctx = signed_in();
    ctx.sandbox.revoke_all_tokens();
    ctx.sandbox.expire_access_tokens();
    let out = ctx.fhirdl(&["sync"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(text(&out).contains("fhirdl login --profile a"));
}

#[test]
fn all_profiles_sync_each_profile_with_one_summary_and_the_worst_exit_code() {
    let ctx = signed_in();
    login_bob(&ctx);
    let out = ctx.fhirdl(&["sync", "--all-profiles", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    let profiles = doc["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 2);
    assert!(profiles.iter().all(|p| p["ok"] == true), "{doc}");
    assert!(ctx.data_dir().join("exports/b/Patient.ndjson").exists());
    // One profile loses its sign-in: the others still sync, the exit code says "login required".
    std::fs::remove_file(ctx.credential_file("a")).unwrap();
    let out = ctx.fhirdl(&["sync", "--all-profiles", "--json"]);
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

/// `--wait` polls the lock until the sync holding it ends. The test holds the lock itself and lets
/// go once fhirdl has opened the lock file twice: a second attempt comes only after a first one
/// found the folder busy.
#[cfg(target_os = "linux")]
#[test]
fn wait_for_a_busy_folder() {
    let ctx = signed_in();
    let dir = out_dir(&ctx);
    let held = fhirdl::sync::export::Export::open(&dir).unwrap();
    let opens = Opens::watch(&dir.join(".fhirdl/lock"));
    let mut c = ctx.command();
    c.args(["sync", "--wait", "60s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    assert!(
        opens.wait(2, Duration::from_secs(60)),
        "fhirdl did not try the lock twice"
    );
    drop(held);
    let out = wait_output(child, Duration::from_secs(120));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("Patient.ndjson").exists());
}

/// Counts the times a file is opened, by anyone (inotify `IN_OPEN`).
#[cfg(target_os = "linux")]
struct Opens(std::os::fd::OwnedFd);

#[cfg(target_os = "linux")]
impl Opens {
    fn watch(path: &Path) -> Opens {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        assert!(fd >= 0, "inotify: {}", std::io::Error::last_os_error());
        // SAFETY: a new descriptor, owned from here on.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        let watch = unsafe {
            libc::inotify_add_watch(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                name.as_ptr(),
                libc::IN_OPEN,
            )
        };
        assert!(watch >= 0, "inotify: {}", std::io::Error::last_os_error());
        Opens(fd)
    }

    /// Waits until the file was opened `n` times since [`Opens::watch`]; false after `timeout`.
    fn wait(&self, n: usize, timeout: Duration) -> bool {
        use std::os::fd::AsRawFd;
        let deadline = std::time::Instant::now() + timeout;
        let mut opened = 0;
        while opened < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut ready = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let millis = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
            if unsafe { libc::poll(&mut ready, 1, millis) } <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            let len = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            // Events are `struct inotify_event { int wd; u32 mask, cookie, len; char name[len]; }`.
            let (mut at, len) = (0, usize::try_from(len).unwrap_or(0));
            while at + 16 <= len {
                let word =
                    |i: usize| u32::from_ne_bytes(buf[at + i..at + i + 4].try_into().unwrap());
                if word(4) & libc::IN_OPEN != 0 {
                    opened += 1;
                }
                at += 16 + word(12) as usize;
            }
        }
        true
    }
}

#[test]
fn dstu2_records_are_exported_with_their_own_type_names() {
    let ctx = TestContext::new(SandboxConfig {
        flavor: fhirdl_sandbox::FhirFlavor::Dstu2,
        smart_configuration: false,
        ..SandboxConfig::default()
    });
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let out = ctx.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = out_dir(&ctx);
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

/// Signs Bob in as profile `b`.
fn login_bob(ctx: &TestContext) {
    let out = ctx.login_as("bob", "b");
    assert_eq!(code(&out), 0, "{}", text(&out));
}

/// The CapabilityStatement is read once a day, not before every run: the first sync plans from
/// the one the sign-in read, a second sync from the export's copy (one round trip less before
/// the first search each); `--full` reads it again, and a planned type the server no longer
/// offers drops both copies.
#[test]
fn the_capability_statement_is_cached_for_a_day() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let metadata_reads = |args: &[&str]| {
        let mut all = vec!["-v", "sync"];
        all.extend_from_slice(args);
        let out = ctx.fhirdl(&all);
        assert_eq!(code(&out), 0, "{}", text(&out));
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.contains("/metadata"))
            .count()
    };
    let shared = std::fs::read_dir(ctx.data_dir().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("capabilities-"))
        .expect("the sign-in caches the statement in the data folder");
    assert_eq!(
        metadata_reads(&[]),
        0,
        "the first run plans from the sign-in's copy"
    );
    assert_eq!(metadata_reads(&[]), 0, "the second too");
    assert_eq!(metadata_reads(&["--full"]), 1, "--full reads it again");
    let cache = ctx.export_dir("a").join(".fhirdl/capabilities.json");
    assert!(cache.exists());
    // A sign of change: the cache is dropped and the next run reads the statement again.
    let mut cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    cached["metadata"]["rest"][0]["resource"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "Goal", "searchParam": [{"name": "patient", "type": "reference"}]}));
    std::fs::write(&cache, serde_json::to_vec(&cached).unwrap()).unwrap();
    assert_eq!(metadata_reads(&[]), 0);
    assert!(!cache.exists(), "Goal answered 404: the cache is dropped");
    assert!(!shared.exists(), "and the data folder's copy too");
    assert_eq!(metadata_reads(&[]), 1);
}

/// A `sync --json` while the sandbox holds the requests matching `held`: whether a request
/// matching `awaited` arrived while one of those was still held (both are let go then), and
/// what the sync printed.
fn sync_holding(ctx: &TestContext, held: &str, awaited: &str) -> (std::process::Output, bool) {
    let holding = ctx.sandbox.hold(held);
    let awaiting = ctx.sandbox.hold(awaited);
    let child = spawn_sync_json(ctx);
    assert!(
        holding.wait_held(1, Duration::from_secs(60)),
        "the export never asked for {held}"
    );
    let early = awaiting.wait_held(1, Duration::from_secs(60));
    let still_held = holding.held() >= 1;
    awaiting.release();
    holding.release();
    (
        wait_output(child, Duration::from_secs(120)),
        early && still_held,
    )
}

/// References to types no search of the run brings (Practitioner, Organization, Location) are
/// read while the longest search is still going, not after it: with the Observation search
/// held by the sandbox, the Practitioner read arrives anyway.
#[test]
fn references_are_read_while_the_longest_search_still_runs() {
    let ctx = signed_in();
    let (out, early) = sync_holding(&ctx, "/Observation?", "/Practitioner?");
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        early,
        "the Practitioners were not read while Observation was still being searched"
    );
    let report = json(&out);
    let pr = report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["resource_type"] == "Practitioner")
        .unwrap();
    assert!(pr["stored"].as_u64().unwrap() > 0, "{report}");
    // Nothing read twice: the rounds after the searches found them held.
    assert_eq!(pr["new"], pr["stored"], "{report}");
}

/// A DocumentReference's documents are downloaded as soon as DocumentReference is stored, while
/// the other type that carries documents (DiagnosticReport) is still being searched: with the
/// DiagnosticReport search held by the sandbox, a document request arrives anyway; once the
/// search is released, every document of both types is saved.
#[test]
fn documents_go_out_while_the_other_carrying_type_is_still_searched() {
    let ctx = signed_in();
    let (out, early) = sync_holding(&ctx, "/DiagnosticReport?", "/Binary/");
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        early,
        "no document was asked for while DiagnosticReport was still being searched"
    );
    let report = json(&out);
    assert_eq!(report["attachments"]["failed"], 0, "{report}");
    let out = ctx.fhirdl(&[
        "verify",
        "--out",
        &ctx.export_dir("a").display().to_string(),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

/// `fhirdl sync --json` started in the background (for tests that hold requests meanwhile).
fn spawn_sync_json(ctx: &TestContext) -> std::process::Child {
    let mut c = ctx.command();
    c.args(["sync", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c.spawn().unwrap()
}

#[test]
fn a_search_of_more_pages_than_may_wait_at_once_is_fetched_whole() {
    // 1,000 Observations in pages of 3: 334 pages, more than the 256 that one search lets wait
    // for the window at once; the others start as pages arrive.
    let ctx = TestContext::new(SandboxConfig {
        resources_per_patient: 2_000,
        page_size_default: 3,
        page_size_max: 3,
        ..SandboxConfig::default()
    });
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = ctx.fhirdl(&["sync", "--json", "--no-attachments"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let patient = ctx.sandbox.users()[0].patient_id.clone();
    assert_whole_compartment(&ctx.sandbox, &patient, &report, "334 pages of Observations");
    let observations = report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["resource_type"] == "Observation")
        .unwrap_or_else(|| panic!("no Observation in {report}"));
    assert_eq!(
        observations["completeness"]["status"], "complete",
        "{report}"
    );
    assert_eq!(observations["pages"], 334, "each page once: {report}");
    let stored = std::fs::read_to_string(out_dir(&ctx).join("Observation.ndjson")).unwrap();
    assert!(
        stored.lines().count() > 3 * 256,
        "{} lines",
        stored.lines().count()
    );
    assert!(ctx.sandbox.stats().pages_served > 256 + 10);
}

/// A type whose last whole fetch is older than `--reconcile-every` days is fetched whole and
/// compared; the others stay incremental. The report says which strategy ran for each type and
/// what its copy is fresh as of.
#[test]
fn a_type_is_reconciled_when_its_last_whole_fetch_is_too_old() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let sync = |extra: &[&str]| {
        let mut args = vec!["sync", "--json"];
        args.extend_from_slice(extra);
        let out = ctx.fhirdl(&args);
        assert_eq!(code(&out), 0, "{}", text(&out));
        json(&out)
    };
    let first = sync(&[]);
    let obs = crate::common::type_report(&first, "Observation");
    assert_eq!(obs["strategy"], "whole", "{obs}");
    assert_eq!(obs["fresh_as_of"], first["started_at"]);
    let second = sync(&[]);
    let obs = crate::common::type_report(&second, "Observation");
    assert_eq!(obs["strategy"], "incremental", "{obs}");
    assert_eq!(obs["incremental_by"], "_lastUpdated", "{obs}");
    assert_eq!(
        obs["fresh_as_of"], first["started_at"],
        "an incremental run is not a reconcile"
    );
    // last_run.json keeps the same, per type; the manifest as of the run that wrote it.
    let read = |file: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(ctx.export_dir("a").join(file)).unwrap()).unwrap()
    };
    let last_run = read(".fhirdl/last_run.json");
    assert_eq!(
        last_run["freshness"]["Observation"],
        serde_json::json!({
            "strategy": "incremental",
            "incremental_by": "_lastUpdated",
            "fresh_as_of": first["started_at"],
        })
    );
    let manifest = read("manifest.json");
    assert_eq!(
        manifest["freshness"]["Observation"]["fresh_as_of"],
        first["started_at"]
    );
    // Observation's last whole fetch is long past: it alone is reconciled.
    let state_file = ctx.export_dir("a").join(".fhirdl/state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    state["types"]["Observation"]["reconciled_at"] = serde_json::json!("2020-01-01T00:00:00Z");
    std::fs::write(&state_file, serde_json::to_vec(&state).unwrap()).unwrap();
    let third = sync(&[]);
    let obs = crate::common::type_report(&third, "Observation");
    assert_eq!(
        (obs["strategy"].as_str(), obs["incremental"].as_bool()),
        (Some("reconcile"), Some(false)),
        "{obs}"
    );
    assert_eq!(obs["fresh_as_of"], third["started_at"]);
    assert_eq!(
        crate::common::type_report(&third, "Condition")["strategy"],
        "incremental"
    );
    // Every run, when asked.
    let fourth = sync(&["--reconcile-every", "0"]);
    for t in fourth["types"].as_array().unwrap() {
        if t["pages"].as_u64().unwrap_or(0) > 0 && t["resource_type"] != "Patient" {
            assert_eq!(t["strategy"], "reconcile", "{t}");
        }
    }
}
