//! The kill campaign: `fhirdl sync` killed with SIGKILL at seeded moments, over and over in the
//! same folder (full and incremental runs, with changes on the server between some of them).
//! At every kill point every file in the folder must be whole and be either the version it had
//! before the killed run or the version an uninterrupted run produces, and `manifest.json` must
//! describe the files on disk. Then one run finishes, and the folder must equal an export that was
//! never interrupted. Also: Ctrl-C (SIGINT) stops cleanly with exit code 130.
//!
//! A kill point is drawn as a number of requests: fhirdl is killed as soon as the sandbox has
//! received that many requests of the run (or when it ends first), so the kills spread over the
//! whole run, whatever the speed of the machine.
//!
//! CI runs 20 kill points. The long form (seed and count from the environment):
//!
//! ```sh
//! FHIRDL_KILLS=100 cargo test --test it -- --nocapture kills::killed
//! FHIRDL_KILLS=100 FHIRDL_KILL_SEED=3 cargo test --test it -- --nocapture kills::killed
//! ```

use crate::common::{code, signal, snapshot, text, wait_output, walk, TestContext};
use fhirdl_sandbox::SandboxConfig;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every file of an export that holds data, by path relative to `dir`: NDJSON, pretty JSON,
/// attachments and their manifest. Left out: `.fhirdl/` (state, lock, removed resources, with
/// times in them) and the top `manifest.json` (its `synced_at` is a time; checked apart).
fn data_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = snapshot(dir);
    files.retain(|rel, _| !rel.starts_with(".fhirdl/") && rel != "manifest.json");
    files
}

#[derive(Default, Debug)]
struct Tally {
    kills: u64,
    finished_before_kill: u64,
    full_runs: u64,
    incremental_runs: u64,
    server_changes: u64,
    files_checked: u64,
    files_previous: u64,
    files_new: u64,
    temp_files_seen: u64,
    announced_in_manifest: u64,
}

/// Everything that must hold at a kill point.
fn check_kill_point(
    dir: &Path,
    before: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
    tally: &mut Tally,
    point: u64,
) {
    for (rel, bytes) in data_files(dir) {
        let name = rel.rsplit('/').next().unwrap();
        if name.starts_with(fhirdl::atomic::TEMP_PREFIX) {
            // A temporary file of the killed run: hidden, never named like data, and removed
            // by the next run.
            assert!(!name.ends_with(".ndjson") && !name.ends_with(".json"));
            tally.temp_files_seen += 1;
            continue;
        }
        tally.files_checked += 1;
        let was = before.get(&rel) == Some(&bytes);
        let will_be = new.get(&rel) == Some(&bytes);
        assert!(
            was || will_be,
            "kill point {point}: {rel} is neither its previous version nor the new one ({} bytes)",
            bytes.len()
        );
        if was && !will_be {
            tally.files_previous += 1;
        } else if will_be && !was {
            tally.files_new += 1;
        }
        if rel.ends_with(".ndjson") {
            let text = String::from_utf8(bytes).unwrap();
            let mut last_id = String::new();
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("kill point {point}: {rel}: torn line: {e}"));
                let id = v["id"].as_str().unwrap().to_string();
                assert!(id > last_id, "kill point {point}: {rel} is not sorted");
                last_id = id;
            }
        } else if rel.ends_with(".json") {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("kill point {point}: {rel}: {e}"));
        }
    }
    for f in [
        ".fhirdl/state.json",
        ".fhirdl/last_run.json",
        "manifest.json",
    ] {
        if let Ok(bytes) = std::fs::read(dir.join(f)) {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("kill point {point}: {f}: {e}"));
        }
    }
    let problems = fhirdl::sync::manifest::verify(dir).unwrap();
    assert!(
        problems.is_empty(),
        "kill point {point}: manifest.json does not describe the folder: {problems:?}"
    );
    // `fhirdl verify` agrees, once a file was announced: a stopped sync is not damage.
    if dir.join("manifest.json").exists() {
        let verified = fhirdl::verify::verify(dir).unwrap();
        assert!(
            verified.intact,
            "kill point {point}: verify found damage: {:#?}",
            verified.damaged
        );
    }
    if let Ok(bytes) = std::fs::read(dir.join("manifest.json")) {
        let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        tally.announced_in_manifest += m["files"]
            .as_object()
            .map(|f| {
                f.values()
                    .filter(|e| e.get("previous_sha256").is_some())
                    .count() as u64
            })
            .unwrap_or(0);
    }
}

fn manifest_without_time(dir: &Path) -> serde_json::Value {
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("synced_at");
    // How the run that wrote it fetched each type, and when: the history of the runs.
    m.as_object_mut().unwrap().remove("freshness");
    m
}

/// Amends one Observation and adds one Condition on the server.
fn change_server(ctx: &TestContext, reference: &Path, rng: &mut impl Rng, n: u64) {
    let obs = std::fs::read_to_string(reference.join("Observation.ndjson")).unwrap();
    let lines: Vec<&str> = obs.lines().collect();
    let mut o: serde_json::Value =
        serde_json::from_str(lines[rng.gen_range(0..lines.len())]).unwrap();
    o["status"] = serde_json::json!(if o["status"] == "amended" {
        "final"
    } else {
        "amended"
    });
    ctx.sandbox.set_resource(o).unwrap();
    let cond = std::fs::read_to_string(reference.join("Condition.ndjson")).unwrap();
    let mut c: serde_json::Value = serde_json::from_str(cond.lines().next().unwrap()).unwrap();
    c["id"] = serde_json::json!(format!("zz-kill-{n}"));
    ctx.sandbox.set_resource(c).unwrap();
}

fn sync_args(out: &Path, full: bool) -> Vec<&str> {
    let mut args = vec![
        "sync",
        "-q",
        "--format",
        "both",
        "--out",
        out.to_str().unwrap(),
    ];
    if full {
        args.push("--full");
    }
    args
}

#[test]
fn killed_syncs_leave_whole_files_and_the_next_run_completes() {
    let kills = env_number("FHIRDL_KILLS", 20);
    let seed = env_number("FHIRDL_KILL_SEED", 7);
    let ctx = TestContext::new(SandboxConfig {
        resources_per_patient: 300,
        page_size_max: 10,
        ..SandboxConfig::default()
    });
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let reference = ctx.data_dir().join("reference");
    let killed: PathBuf = ctx.data_dir().join("killed");
    // The uninterrupted export, counted in requests to spread the kill points over a whole run.
    let requests = || ctx.sandbox.stats().requests;
    let started = requests();
    let out = ctx.fhirdl(&sync_args(&reference, false));
    assert_eq!(code(&out), 0, "{}", text(&out));
    let mut full_span = requests() - started;
    let started = requests();
    assert_eq!(code(&ctx.fhirdl(&sync_args(&reference, true))), 0);
    let mut short_span = (requests() - started).max(full_span / 4);

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    for point in 1..=kills {
        if point > 1 && rng.gen_bool(0.3) {
            change_server(&ctx, &reference, &mut rng, point);
            tally.server_changes += 1;
            let out = ctx.fhirdl(&sync_args(&reference, false));
            assert_eq!(code(&out), 0, "{}", text(&out));
        }
        let before = data_files(&killed);
        let new = data_files(&reference);
        let full = rng.gen_bool(0.3);
        if full {
            tally.full_runs += 1;
        } else {
            tally.incremental_runs += 1;
        }
        // The kill point is drawn over the requests of the last run of the same kind that
        // finished (a first guess: the uninterrupted runs above).
        let span = if full {
            &mut full_span
        } else {
            &mut short_span
        };
        let kill_after = rng.gen_range(0..=*span);
        let mut c = ctx.command();
        c.args(sync_args(&killed, full))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let started = requests();
        let mut child = c.spawn().unwrap();
        // Watched, not timed: the run ends, or the sandbox has seen `kill_after` of its requests.
        let finished = loop {
            if child.try_wait().unwrap().is_some() {
                break Some(requests() - started);
            }
            if requests() - started >= kill_after {
                break None;
            }
            std::thread::yield_now();
        };
        match finished {
            Some(made) => {
                tally.finished_before_kill += 1;
                *span = made;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                tally.kills += 1;
            }
        }
        child.wait().unwrap();
        check_kill_point(&killed, &before, &new, &mut tally, point);
    }
    let mut args = sync_args(&killed, false);
    args.push("--json");
    let out = ctx.fhirdl(&args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        crate::common::complete_but_short(&report, &killed, &reference),
        Vec::<String>::new(),
        "a type called complete misses something"
    );
    let (got, want) = (data_files(&killed), data_files(&reference));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same files as an uninterrupted export"
    );
    for (rel, bytes) in &want {
        assert!(
            got[rel] == *bytes,
            "{rel} differs from the uninterrupted export"
        );
    }
    assert_eq!(
        manifest_without_time(&killed),
        manifest_without_time(&reference)
    );
    assert!(fhirdl::sync::manifest::verify(&killed).unwrap().is_empty());
    let history = check_history(&killed, &reference);
    eprintln!(
        "kill campaign (seed {seed}): {} kill points, {} SIGKILLs landed mid-run, {} runs finished before their kill; {} full and {} incremental runs; {} server changes; {} files checked at kill points ({} still previous, {} already new), {} temporary files seen, {} replacements announced in manifest.json; 0 torn or foreign files; the completing run equals the uninterrupted export ({} files); {history} superseded versions in the history, none twice, none torn",
        kills,
        tally.kills,
        tally.finished_before_kill,
        tally.full_runs,
        tally.incremental_runs,
        tally.server_changes,
        tally.files_checked,
        tally.files_previous,
        tally.files_new,
        tally.temp_files_seen,
        tally.announced_in_manifest,
        want.len()
    );
    assert!(
        tally.kills >= kills / 2,
        "most kills must land while the run is going: {tally:?}"
    );
}

/// The killed folder's history: every line whole, no version twice (a killed run's appends are
/// repeated by the next run and must be recognised), nothing the uninterrupted export never
/// superseded. Returns the number of versions.
fn check_history(killed: &Path, reference: &Path) -> usize {
    let entries = |dir: &Path| -> Vec<(String, String)> {
        walk(&dir.join(".fhirdl/history"))
            .into_iter()
            .flat_map(|f| {
                std::fs::read_to_string(&f)
                    .unwrap()
                    .lines()
                    .map(|l| {
                        let v: serde_json::Value = serde_json::from_str(l)
                            .unwrap_or_else(|e| panic!("{}: torn history line: {e}", f.display()));
                        (v["event"].to_string(), v["resource"].to_string())
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let got = entries(killed);
    let unique: std::collections::BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(unique.len(), got.len(), "a version recorded twice");
    let want: std::collections::BTreeSet<_> = entries(reference).into_iter().collect();
    for e in &unique {
        assert!(
            want.contains(e),
            "a version the server never superseded: {e:?}"
        );
    }
    got.len()
}

/// Ctrl-C while the export is provably running: the sandbox holds the Observation search, and
/// the signal goes out once that search has arrived.
#[test]
fn ctrl_c_stops_cleanly_says_what_was_saved_and_exits_130() {
    let ctx = TestContext::new(SandboxConfig {
        resources_per_patient: 300,
        page_size_max: 20,
        ..SandboxConfig::default()
    });
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let dir = ctx.export_dir("a");
    let hold = ctx.sandbox.hold("/Observation?");
    let mut c = ctx.command();
    c.args(["sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    assert!(
        hold.wait_held(1, Duration::from_secs(60)),
        "the export never searched Observation"
    );
    signal(child.id(), "INT");
    let out = wait_output(child, Duration::from_secs(60));
    hold.release();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted")
            && err.contains("were finished and saved in")
            && err.contains(dir.to_str().unwrap())
            && err.contains("run `fhirdl sync` again"),
        "{err}"
    );
    // What was saved is whole and described by the manifest; the lock is released and the next
    // run completes.
    for f in walk(&dir) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(fhirdl::atomic::TEMP_PREFIX),
            "a clean stop leaves no temporary file: {name}"
        );
        if name.ends_with(".ndjson") {
            for line in std::fs::read_to_string(&f).unwrap().lines() {
                serde_json::from_str::<serde_json::Value>(line).unwrap();
            }
        }
    }
    assert!(fhirdl::sync::manifest::verify(&dir).unwrap().is_empty());
    let out = ctx.fhirdl(&["sync"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

/// Regression: a Ctrl-C that came while fhirdl was not waiting in a `select!` on it (between two
/// of them) was lost once tokio had taken over SIGINT, and the run went on to exit 0 (the
/// intermittent exit 0 of the test above). Here it comes while the second profile of
/// `--all-profiles` reads the CapabilityStatement, after the first profile's run took over the
/// signal.
#[test]
fn ctrl_c_between_two_waits_is_not_lost() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let out = ctx.login_as("bob", "b");
    assert_eq!(code(&out), 0, "{}", text(&out));
    let first = ctx.sandbox.hold("/Observation?");
    let mut c = ctx.command();
    // `--full` reads the CapabilityStatement afresh (the sign-in's cached copy would serve).
    c.args(["sync", "--all-profiles", "--full"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    assert!(
        first.wait_held(1, Duration::from_secs(60)),
        "profile a never searched Observation"
    );
    let second = ctx.sandbox.hold("/metadata");
    first.release();
    assert!(
        second.wait_held(1, Duration::from_secs(60)),
        "profile b never read the CapabilityStatement"
    );
    signal(child.id(), "INT");
    second.release();
    let out = wait_output(child, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("sync interrupted"), "{err}");
}

/// Ctrl-C stops `sync --all-profiles` wherever it comes: in the first profile's searches or
/// documents, or in the second profile's searches or documents. The profile that was syncing
/// stops cleanly, the ones after it are not started (and said so), the exit code is 130, every
/// export left is whole, and the next run finishes all of them. Each point is reached with
/// sandbox holds (a hold on the second profile's patient only catches its own requests).
#[test]
fn ctrl_c_stops_all_profiles_at_any_point() {
    for (case, stop_in_second) in [
        ("the first profile's searches", false),
        ("the first profile's documents", false),
        ("the second profile's searches", true),
        ("the second profile's documents", true),
    ] {
        let ctx = TestContext::with_defaults();
        assert_eq!(code(&ctx.login("a", &[])), 0);
        let out = ctx.login_as("bob", "b");
        assert_eq!(code(&out), 0, "{}", text(&out));
        let users = ctx.sandbox.users();
        let patient_of = |username: &str| {
            let user = users.iter().find(|u| u.username == username).unwrap();
            format!("patient={}", user.patient_id)
        };
        let (first, second) = (patient_of("alice"), patient_of("bob"));
        let steps: Vec<String> = match case {
            "the first profile's searches" => vec![first.clone()],
            "the first profile's documents" => vec!["/Binary/".into()],
            "the second profile's searches" => vec![second.clone()],
            _ => vec![second.clone(), "/Binary/".into()],
        };
        let mut c = ctx.command();
        c.args(["sync", "--all-profiles", "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = c.spawn().unwrap();
        let mut holds = Vec::new();
        for step in &steps {
            let hold = ctx.sandbox.hold(step);
            if let Some(previous) = holds.last() {
                fhirdl_sandbox::Hold::release(previous);
            }
            assert!(
                hold.wait_held(1, Duration::from_secs(60)),
                "{case}: nothing asked for {step}"
            );
            holds.push(hold);
        }
        // The held request stays held: the run is waiting in a phase that hears Ctrl-C, and
        // must stop without it (letting it go could let the phase end first).
        signal(child.id(), "INT");
        let out = wait_output(child, Duration::from_secs(60));
        for hold in &holds {
            hold.release();
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{case}: {err}");
        assert!(err.contains("sync interrupted"), "{case}: {err}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let profiles = doc["profiles"].as_array().unwrap();
        assert_eq!(profiles.len(), 2, "{case}: {doc}");
        assert_eq!(profiles[0]["ok"], stop_in_second, "{case}: {doc}");
        assert_eq!(profiles[1]["ok"], false, "{case}: {doc}");
        if !stop_in_second {
            assert!(err.contains("not started: b"), "{case}: {err}");
            assert!(!ctx.export_dir("b").exists(), "{case}: b was started");
        }
        for profile in ["a", "b"] {
            let dir = ctx.export_dir(profile);
            if dir.exists() {
                assert!(
                    fhirdl::sync::manifest::verify(&dir).unwrap().is_empty(),
                    "{case}: the export of {profile} is not whole"
                );
            }
        }
        let again = ctx.fhirdl(&["sync", "--all-profiles"]);
        assert_eq!(code(&again), 0, "{case}: {}", text(&again));
    }
}
