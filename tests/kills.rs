//! The kill campaign: `fhirdl sync` killed with SIGKILL at seeded moments, over and over in the
//! same folder (full and incremental runs, with changes on the server between some of them).
//! At every kill point every file in the folder must be whole and be either the version it had
//! before the killed run or the version an uninterrupted run produces, and `manifest.json` must
//! describe the files on disk. Then one run finishes, and the folder must equal an export that was
//! never interrupted. Also: Ctrl-C (SIGINT) stops cleanly with exit code 130.
//!
//! CI runs 20 kill points. The long form (seed and count from the environment):
//!
//! ```sh
//! FHIRDL_KILLS=100 cargo test --test kills -- --nocapture killed
//! FHIRDL_KILLS=100 FHIRDL_KILL_SEED=3 cargo test --test kills -- --nocapture killed
//! ```

mod common;

use common::{code, text, Env};
use fhirdl::sandbox::SandboxConfig;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    common::walk(dir)
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            (!rel.starts_with(".fhirdl/") && rel != "manifest.json")
                .then(|| (rel, std::fs::read(&p).unwrap_or_default()))
        })
        .collect()
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
        if name.starts_with(fhirdl::fsutil::TEMP_PREFIX) {
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
    m
}

/// Amends one Observation and adds one Condition on the server.
fn change_server(env: &Env, reference: &Path, rng: &mut impl Rng, n: u64) {
    let obs = std::fs::read_to_string(reference.join("Observation.ndjson")).unwrap();
    let lines: Vec<&str> = obs.lines().collect();
    let mut o: serde_json::Value =
        serde_json::from_str(lines[rng.gen_range(0..lines.len())]).unwrap();
    o["status"] = serde_json::json!(if o["status"] == "amended" {
        "final"
    } else {
        "amended"
    });
    env.sandbox.set_resource(o).unwrap();
    let cond = std::fs::read_to_string(reference.join("Condition.ndjson")).unwrap();
    let mut c: serde_json::Value = serde_json::from_str(cond.lines().next().unwrap()).unwrap();
    c["id"] = serde_json::json!(format!("zz-kill-{n}"));
    env.sandbox.set_resource(c).unwrap();
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
    let env = Env::new(SandboxConfig {
        resources_per_patient: 300,
        page_size_max: 10,
        ..SandboxConfig::default()
    });
    assert_eq!(code(&env.login("a", &[])), 0);
    let reference = env.data_dir().join("reference");
    let killed: PathBuf = env.data_dir().join("killed");
    // The uninterrupted export, timed to spread the kill moments over a whole run.
    let started = Instant::now();
    let out = env.fhirdl(&sync_args(&reference, false));
    assert_eq!(code(&out), 0, "{}", text(&out));
    let mut full_span = started.elapsed();
    let started = Instant::now();
    assert_eq!(code(&env.fhirdl(&sync_args(&reference, true))), 0);
    let mut short_span = started.elapsed().max(full_span / 4);

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    for point in 1..=kills {
        if point > 1 && rng.gen_bool(0.3) {
            change_server(&env, &reference, &mut rng, point);
            tally.server_changes += 1;
            let out = env.fhirdl(&sync_args(&reference, false));
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
        // The kill moment is drawn over the length of the last run of the same kind that
        // finished (a first guess: the uninterrupted runs above). Measured times only pick
        // moments; nothing is asserted about them.
        let span = if full {
            &mut full_span
        } else {
            &mut short_span
        };
        let delay = Duration::from_micros(rng.gen_range(0..=span.as_micros() as u64));
        let mut c = env.cmd();
        c.args(sync_args(&killed, full))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let started = Instant::now();
        let mut child = c.spawn().unwrap();
        let finished = loop {
            if child.try_wait().unwrap().is_some() {
                break Some(started.elapsed());
            }
            if started.elapsed() >= delay {
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        match finished {
            Some(took) => {
                tally.finished_before_kill += 1;
                *span = took;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                tally.kills += 1;
            }
        }
        child.wait().unwrap();
        check_kill_point(&killed, &before, &new, &mut tally, point);
    }
    let out = env.fhirdl(&sync_args(&killed, false));
    assert_eq!(code(&out), 0, "{}", text(&out));
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
    eprintln!(
        "kill campaign (seed {seed}): {} kill points, {} SIGKILLs landed mid-run, {} runs finished before their kill; {} full and {} incremental runs; {} server changes; {} files checked at kill points ({} still previous, {} already new), {} temporary files seen, {} replacements announced in manifest.json; 0 torn or foreign files; the completing run equals the uninterrupted export ({} files)",
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

#[test]
fn ctrl_c_stops_cleanly_says_what_was_saved_and_exits_130() {
    let env = Env::new(SandboxConfig {
        resources_per_patient: 1500,
        page_size_max: 20,
        quirks: fhirdl::sandbox::Quirks {
            latency: Duration::from_millis(40),
            ..Default::default()
        },
        ..SandboxConfig::default()
    });
    assert_eq!(code(&env.login("a", &[])), 0);
    let dir = env.data_dir().join("exports").join("a");
    let mut c = env.cmd();
    // One request at a time: the export takes several seconds, so the signal lands mid-run.
    c.args(["sync", "--concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
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
    for f in common::walk(&dir) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(fhirdl::fsutil::TEMP_PREFIX),
            "a clean stop leaves no temporary file: {name}"
        );
        if name.ends_with(".ndjson") {
            for line in std::fs::read_to_string(&f).unwrap().lines() {
                serde_json::from_str::<serde_json::Value>(line).unwrap();
            }
        }
    }
    assert!(fhirdl::sync::manifest::verify(&dir).unwrap().is_empty());
    let out = env.fhirdl(&["sync"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

/// Regression: a Ctrl-C that came while fhirdl was not waiting in a `select!` on it (between two
/// of them) was lost once tokio had taken over SIGINT, and the run went on to exit 0 (the
/// intermittent exit 0 of the test above, issue 15). Here it comes while the second profile of
/// `--all-profiles` reads the CapabilityStatement, after the first profile's run took over the
/// signal.
#[test]
fn ctrl_c_between_two_waits_is_not_lost() {
    let env = Env::new(SandboxConfig::default());
    assert_eq!(code(&env.login("a", &[])), 0);
    let mut c = env.cmd_with_browser(&format!(
        "{} sandbox-browser --user bob --password bob-sandbox",
        common::bin().display()
    ));
    c.args(["login", "--profile", "b", "--fhir-base", &env.base()])
        .args([
            "--client-id",
            "fhirdl-sandbox",
            "--credential-store",
            "file",
        ]);
    assert_eq!(code(&env.run(c)), 0);
    let first = env.sandbox.hold("/Observation?");
    let mut c = env.cmd();
    c.args(["sync", "--all-profiles"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    assert!(
        first.wait_held(1, Duration::from_secs(60)),
        "profile a never searched Observation"
    );
    let second = env.sandbox.hold("/metadata");
    first.release();
    assert!(
        second.wait_held(1, Duration::from_secs(60)),
        "profile b never read the CapabilityStatement"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    second.release();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("sync interrupted"), "{err}");
}
