//! Power-loss consistency. Real syncs against the sandbox are recorded (`FHIRDL_FS_JOURNAL`:
//! every write, fsync, rename, creation, removal and folder fsync in the export folder), every
//! state a power cut could leave is built from the journal ([`crash`]), and each one is checked
//! in a copy of its own:
//! - `fhirdl verify` calls it damaged exactly when it is (see [`damage`]), never intact when
//!   it is not, and exits 0 on a state that is only behind;
//! - the next `fhirdl sync` repairs it: verify then says intact (and not interrupted), the data
//!   files are those of the uninterrupted run, and every resource an earlier completed run had
//!   stored is still there, byte for byte, in its type's file or its history.
//!
//! Scenarios: a first sync (documents, pretty files), an incremental sync after the server
//! amended and added resources (superseded versions go to the history), and a `--full` sync
//! after it removed some. Crash points: every operation boundary around the fsyncs and renames
//! of `manifest.json`, `attachments/manifest.json`, `.fhirdl/state.json` and
//! `.fhirdl/last_run.json` and around every fsync of the folders holding them, plus a seeded
//! sample of the others; states are deduplicated by their bytes. The figures:
//!
//! ```sh
//! cargo test --test it -- --nocapture powerloss
//! ```

mod crash;

use crate::common::{code, text, TestContext};
use crash::{Data, Names, Op, Run, Tree};
use fhirdl_sandbox::SandboxConfig;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

const SEED: u64 = 11;
/// The files that say what the export holds, and the folders holding them.
const BOOKKEEPING: [&str; 4] = [
    "manifest.json",
    "attachments/manifest.json",
    ".fhirdl/state.json",
    ".fhirdl/last_run.json",
];
const BOOKKEEPING_DIRS: [&str; 3] = ["", "attachments", ".fhirdl"];
/// Exit code of a damaged export.
const DAMAGED: i32 = 11;

/// `fhirdl` as the test context runs it, to be started from worker threads.
struct Fhirdl {
    program: OsString,
    envs: Vec<(OsString, Option<OsString>)>,
}

impl Fhirdl {
    fn of(ctx: &TestContext) -> Fhirdl {
        let c = ctx.command();
        Fhirdl {
            program: c.get_program().to_os_string(),
            envs: c
                .get_envs()
                .map(|(k, v)| (k.to_os_string(), v.map(|v| v.to_os_string())))
                .collect(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        for (k, v) in &self.envs {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str], dir: &Path) -> Output {
        self.command()
            .args(args)
            .arg("--out")
            .arg(dir)
            .output()
            .expect("fhirdl runs")
    }
}

/// One recorded run and its expected outcome.
struct Recorded {
    name: &'static str,
    args: Vec<&'static str>,
    run: Run,
    /// The folder after the uninterrupted run.
    after: Tree,
    /// Every NDJSON line the folder held before the run (stored by completed runs).
    stored_before: BTreeSet<String>,
}

/// What one campaign found.
#[derive(Default, Debug)]
struct Figures {
    ops: usize,
    points: usize,
    states: usize,
    unique: usize,
    damaged: usize,
    verify_missed: usize,
    false_alarms: usize,
    lost: usize,
    repair_failed: usize,
}

/// The data files of a folder: all but `.fhirdl/` and `manifest.json` (whose time differs).
fn data_files(tree: &Tree) -> BTreeMap<&str, &[u8]> {
    tree.files
        .iter()
        .filter(|(rel, _)| !rel.starts_with(".fhirdl/") && *rel != "manifest.json")
        .map(|(rel, b)| (rel.as_str(), b.as_slice()))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_temporary(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with(fhirdl::atomic::TEMP_PREFIX)
}

fn top_ndjson(rel: &str) -> bool {
    !rel.contains('/') && rel.ends_with(".ndjson")
}

/// The resource texts of a history file's whole lines.
fn history_resources(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(",\"resource\":")?;
            Some(rest.strip_suffix('}')?.to_string())
        })
        .collect()
}

/// Every NDJSON line of a folder's types and every resource of its history.
fn held(tree: &Tree) -> HashSet<String> {
    let mut lines = HashSet::new();
    for (rel, bytes) in &tree.files {
        if top_ndjson(rel) {
            lines.extend(String::from_utf8_lossy(bytes).lines().map(str::to_string));
        } else if rel.starts_with(".fhirdl/history/") {
            lines.extend(history_resources(bytes));
        }
    }
    lines
}

/// Why a crash state is damaged (empty: it is not). Damaged is: a file whose bytes no completed
/// write made (torn, or a name without its data); a history whose whole lines are not what was
/// appended; a `manifest.json` that lists bytes the folder does not hold, misses an NDJSON
/// file of the folder, or is missing while NDJSON files are there; an
/// `attachments/manifest.json` that lists a document the folder does not hold; a
/// `.fhirdl/state.json` ahead of the data (it describes a type's file as of a version the
/// folder no longer holds, an older one being there).
fn damage(run: &Run, k: usize, state: &crash::CrashState, whole: &Tree) -> Vec<String> {
    let files = &state.tree.files;
    let mut found = Vec::new();
    for (rel, bytes) in files {
        if is_temporary(rel) || rel == ".fhirdl/lock" {
            continue;
        }
        if rel.starts_with(".fhirdl/history/") {
            let cut = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let appended = whole.files.get(rel).map_or(&[][..], Vec::as_slice);
            if !appended.starts_with(&bytes[..cut]) {
                found.push(format!("{rel}: not what was appended"));
            }
            continue;
        }
        if !run.versions(rel, k).iter().any(|(_, v)| v == bytes) {
            found.push(format!(
                "{rel}: bytes no completed write made ({} bytes)",
                bytes.len()
            ));
        }
    }
    found.extend(manifest_damage(files));
    found.extend(documents_damage(files));
    found.extend(state_ahead(run, state));
    found
}

fn manifest_damage(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut found = Vec::new();
    let Some(bytes) = files.get("manifest.json") else {
        if files.keys().any(|rel| top_ndjson(rel)) {
            found.push("NDJSON files without a manifest.json".to_string());
        }
        return found;
    };
    let Ok(m) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return vec!["manifest.json: unreadable".to_string()];
    };
    let listed = m["files"].as_object().cloned().unwrap_or_default();
    for (name, entry) in &listed {
        let on_disk = files.get(name).map(|b| sha256_hex(b));
        let previous = entry.get("previous_sha256");
        let ok = match (&on_disk, previous) {
            (Some(h), None) => entry["sha256"] == h.as_str(),
            (Some(h), Some(p)) => entry["sha256"] == h.as_str() || p == h.as_str(),
            (None, Some(p)) => p.is_null(),
            (None, None) => false,
        };
        if !ok {
            found.push(format!(
                "manifest.json lists {name} as bytes the folder does not hold"
            ));
        }
    }
    for rel in files.keys().filter(|rel| top_ndjson(rel)) {
        if !listed.contains_key(rel) {
            found.push(format!("{rel}: not in manifest.json"));
        }
    }
    found
}

fn documents_damage(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let Some(bytes) = files.get("attachments/manifest.json") else {
        return Vec::new();
    };
    let Ok(m) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return vec!["attachments/manifest.json: unreadable".to_string()];
    };
    let mut found = Vec::new();
    for (name, entry) in m.as_object().cloned().unwrap_or_default() {
        let on_disk = files.get(&format!("attachments/{name}"));
        if on_disk.map(|b| sha256_hex(b)).as_deref() != entry["sha256"].as_str() {
            found.push(format!("attachments/manifest.json lists {name}, not held"));
        }
    }
    found
}

/// A state file that describes a type's file as of a version newer than the one held. Which
/// version a type's entry describes is told by its file stamp's length (types are stored at
/// once: another type's save may land between a file's rename and its own entry, and then
/// the state still describes the version before); without a stamp, the version in place when
/// the state was saved.
fn state_ahead(run: &Run, state: &crash::CrashState) -> Vec<String> {
    let Some(&state_ino) = state.inodes.get(".fhirdl/state.json") else {
        return Vec::new();
    };
    let Some(saved_at) = run.renamed_in_at(state_ino) else {
        return Vec::new(); // the state from before the run
    };
    let Ok(saved) =
        serde_json::from_slice::<serde_json::Value>(&state.tree.files[".fhirdl/state.json"])
    else {
        return Vec::new(); // said as bytes no completed write made
    };
    let age = |ino: Option<usize>| ino.map(|i| run.renamed_in_at(i).map_or(0, |at| at + 1));
    let mut found = Vec::new();
    for ty in saved["types"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(ty, _)| ty)
    {
        let file = format!("{ty}.ndjson");
        let described = match saved["types"][ty]["file"]["len"].as_u64() {
            Some(len) => run
                .versions(&file, saved_at + 1)
                .into_iter()
                .filter(|(_, bytes)| bytes.len() as u64 == len)
                .filter_map(|(ino, _)| age(Some(ino)))
                .max(),
            None => age(run.inode_after(&file, saved_at)),
        };
        let held = age(state.inodes.get(&file).copied());
        if held < described {
            found.push(format!(
                ".fhirdl/state.json describes a newer {file} than the one held"
            ));
        }
    }
    found
}

/// Crash points: around every fsync and rename of the bookkeeping files and every fsync of
/// their folders, both ends, and `sample` others drawn with [`SEED`].
fn crash_points(ops: &[Op], sample: usize) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let temps: HashSet<&str> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Rename { from, to } if BOOKKEEPING.contains(&to.as_str()) => Some(from.as_str()),
            _ => None,
        })
        .collect();
    let mut key = BTreeSet::from([0, ops.len()]);
    for (i, op) in ops.iter().enumerate() {
        let boundary = match op {
            Op::Rename { to, .. } => BOOKKEEPING.contains(&to.as_str()),
            Op::Fsync(p) => temps.contains(p.as_str()),
            Op::FsyncDir(d) => BOOKKEEPING_DIRS.contains(&d.as_str()),
            _ => false,
        };
        if boundary {
            key.insert(i);
            key.insert(i + 1);
        }
    }
    let mut others: Vec<usize> = (0..=ops.len()).filter(|k| !key.contains(k)).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SEED);
    others.shuffle(&mut rng);
    let sampled = others.into_iter().take(sample).collect();
    (key, sampled)
}

/// The power-cut variants at one crash point (reordered names only at key points).
fn variants(run: &Run, k: usize, key: bool) -> Vec<(Data, Names)> {
    let mut v = vec![
        (Data::Kept, Names::Kept),
        (Data::Dropped, Names::Kept),
        (Data::Torn, Names::Kept),
        (Data::Kept, Names::Undone),
        (Data::Dropped, Names::Undone),
    ];
    if key {
        // Reordered: one name alone undone, of those the export's consistency rests on (a
        // document or a pretty file stands alone).
        for j in run.pending_names(k) {
            let op = &run.ops[j];
            let name = op.name().unwrap_or("");
            if matches!(op, Op::Mkdir(_)) || top_ndjson(name) || BOOKKEEPING.contains(&name) {
                v.push((Data::Kept, Names::UndoneOne(j)));
            }
        }
    }
    v
}

/// Records `fhirdl <args> --out dir` with the journal on.
fn record(ctx: &TestContext, name: &'static str, args: Vec<&'static str>, dir: &Path) -> Recorded {
    std::fs::create_dir_all(dir).unwrap();
    let before = Tree::read(dir);
    let stored_before = held(&before)
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    let journal = ctx.root().join(format!("journal-{name}.ndjson"));
    let mut c = ctx.command();
    c.args(&args)
        .arg("--out")
        .arg(dir)
        .env(fhirdl::atomic::journal::ENV, &journal);
    let out = ctx.run(c);
    assert_eq!(code(&out), 0, "{name}: {}", text(&out));
    let mut after = Tree::read(dir);
    after.files.remove(".fhirdl/lock");
    let run = Run::new(before, crash::read_journal(&journal));
    assert!(
        run.unknown_steps().is_empty(),
        "{name}: the journal names files it never made: {:?}",
        run.unknown_steps()
    );
    // The journal holds every write: replayed whole, it gives the folder the run left.
    let mut replayed = run.crash(run.ops.len(), Data::Kept, Names::Kept).tree;
    replayed.files.remove(".fhirdl/lock");
    assert_eq!(
        replayed.files.keys().collect::<Vec<_>>(),
        after.files.keys().collect::<Vec<_>>(),
        "{name}: the replayed journal"
    );
    assert!(replayed == after, "{name}: the replayed journal's bytes");
    Recorded {
        name,
        args,
        run,
        after,
        stored_before,
    }
}

/// One crash state's checks, in `dir`; `Err` says what failed.
fn check_state(
    fhirdl: &Fhirdl,
    rec: &Recorded,
    tree: &Tree,
    damaged: &[String],
    dir: &Path,
    figures: &Mutex<Figures>,
) -> Result<(), String> {
    let count = |f: fn(&mut Figures)| f(&mut figures.lock().unwrap());
    tree.write(dir);
    let exported = tree
        .files
        .keys()
        .any(|rel| top_ndjson(rel) || rel == "manifest.json" || rel == ".fhirdl/state.json");
    let out = fhirdl.run(&["verify", "--json"], dir);
    match (code(&out), damaged.is_empty()) {
        (DAMAGED, false) | (0, true) => {}
        (_, true) if !exported => {}
        (DAMAGED, true) => {
            count(|f| f.false_alarms += 1);
            return Err(format!(
                "verify calls an undamaged state damaged: {}",
                errors(&out)
            ));
        }
        (_, false) => {
            count(|f| f.verify_missed += 1);
            return Err(format!("verify misses {damaged:?}: {}", errors(&out)));
        }
        (_, true) => return Err(format!("verify failed: {}", errors(&out))),
    }
    let now = held(tree);
    let lost: Vec<&String> = rec
        .stored_before
        .iter()
        .filter(|l| !now.contains(*l))
        .collect();
    if !lost.is_empty() {
        count(|f| f.lost += 1);
        return Err(format!("{} stored resources lost: {lost:?}", lost.len()));
    }
    repair(fhirdl, rec, dir).inspect_err(|_| count(|f| f.repair_failed += 1))
}

/// The next sync repairs the state in `dir`.
fn repair(fhirdl: &Fhirdl, rec: &Recorded, dir: &Path) -> Result<(), String> {
    let out = fhirdl.run(&rec.args, dir);
    if code(&out) != 0 {
        return Err(format!("the next sync failed: {}", errors(&out)));
    }
    let out = fhirdl.run(&["verify", "--json"], dir);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    if code(&out) != 0 || report["interrupted"] != false {
        return Err(format!("not intact after the next sync: {}", errors(&out)));
    }
    let repaired = Tree::read(dir);
    if data_files(&repaired) != data_files(&rec.after) {
        let (a, b) = (data_files(&repaired), data_files(&rec.after));
        let differ: Vec<&&str> = a
            .keys()
            .chain(b.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .collect();
        return Err(format!(
            "after the next sync, files differ from the uninterrupted run: {differ:?}"
        ));
    }
    let now = held(&repaired);
    let missing = rec
        .stored_before
        .iter()
        .chain(&held(&rec.after))
        .filter(|l| !l.is_empty() && !now.contains(*l))
        .count();
    if missing > 0 {
        return Err(format!(
            "after the next sync, {missing} stored versions are missing"
        ));
    }
    Ok(())
}

/// Builds, checks and counts every crash state of a recorded run.
fn campaign(ctx: &TestContext, rec: &Recorded, sample: usize) -> Vec<String> {
    let started = std::time::Instant::now();
    let run = &rec.run;
    let (key, sampled) = crash_points(&run.ops, sample);
    let mut seen = HashSet::new();
    let mut states = Vec::new();
    let figures = Mutex::new(Figures {
        ops: run.ops.len(),
        points: key.len() + sampled.len(),
        ..Figures::default()
    });
    for k in key.iter().chain(&sampled).copied() {
        let whole = run.crash(k, Data::Kept, Names::Kept).tree;
        for (data, names) in variants(run, k, key.contains(&k)) {
            figures.lock().unwrap().states += 1;
            let state = run.crash(k, data, names);
            // Temporary files are removed by the next run and ignored by verify: states that
            // differ only in them are one.
            let mut bare = state.tree.clone();
            bare.files.retain(|rel, _| !is_temporary(rel));
            if !seen.insert(bare.digest()) {
                continue;
            }
            let damaged = damage(run, k, &state, &whole);
            let label = format!("{} at {k} ({data:?}, {names:?})", rec.name);
            states.push((label, state.tree, damaged));
        }
    }
    {
        let mut f = figures.lock().unwrap();
        f.unique = states.len();
        f.damaged = states.iter().filter(|s| !s.2.is_empty()).count();
    }
    let fhirdl = Fhirdl::of(ctx);
    let next = Mutex::new(states.iter().enumerate());
    let failures = Mutex::new(Vec::new());
    let work = ctx.root().join("states").join(rec.name);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some((i, (label, tree, damaged))) = next.lock().unwrap().next() else {
                    break;
                };
                let dir = work.join(i.to_string());
                if let Err(why) = check_state(&fhirdl, rec, tree, damaged, &dir, &figures) {
                    failures.lock().unwrap().push(format!("{label}: {why}"));
                }
                let _ = std::fs::remove_dir_all(&dir);
            });
        }
    });
    let figures = figures.into_inner().unwrap();
    eprintln!(
        "powerloss {}: {} operations, {} crash points, {} states ({} unique), {} damaged; verify missed {}, false alarms {}, lost {}, repairs failed {}; {:.1} s",
        rec.name,
        figures.ops,
        figures.points,
        figures.states,
        figures.unique,
        figures.damaged,
        figures.verify_missed,
        figures.false_alarms,
        figures.lost,
        figures.repair_failed,
        started.elapsed().as_secs_f64()
    );
    failures.into_inner().unwrap()
}

/// The `error:` lines of an output (the whole of it is long).
fn errors(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let damaged: Vec<String> = report["damaged"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| format!("{}: {}", d["file"], d["detail"]))
        .collect();
    format!("exit {}: {} {damaged:?}", code(out), lines.join(" / "))
}

fn sync_args(full: bool) -> Vec<&'static str> {
    let mut args = vec!["sync", "-q", "--format", "both"];
    if full {
        args.push("--full");
    }
    args
}

fn first_line(tree: &Tree, file: &str) -> serde_json::Value {
    let text = String::from_utf8_lossy(&tree.files[file]).into_owned();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// A signed-in sandbox small enough for hundreds of syncs.
fn sandbox() -> TestContext {
    let ctx = TestContext::new(SandboxConfig {
        resources_per_patient: 40,
        ..SandboxConfig::default()
    });
    assert_eq!(code(&ctx.login("a", &[])), 0);
    ctx
}

/// The server amends an Observation and a Condition and adds a Condition.
fn amend(ctx: &TestContext, after: &Tree) {
    let mut obs = first_line(after, "Observation.ndjson");
    obs["status"] = serde_json::json!("amended");
    ctx.sandbox.set_resource(obs).unwrap();
    let mut cond = first_line(after, "Condition.ndjson");
    cond["note"] = serde_json::json!([{"text": "reviewed"}]);
    ctx.sandbox.set_resource(cond.clone()).unwrap();
    cond["id"] = serde_json::json!("zz-power-1");
    ctx.sandbox.set_resource(cond).unwrap();
}

#[test]
fn every_state_a_power_cut_leaves_is_verified_truly_and_repaired() {
    let ctx = sandbox();
    let dir = ctx.root().join("export");
    let mut failures = Vec::new();
    let mut campaign_of = |rec: &Recorded, sample| failures.extend(campaign(&ctx, rec, sample));
    // A first sync: every file new, documents and pretty files.
    let first = record(&ctx, "first", sync_args(false), &dir);
    campaign_of(&first, 20);
    // The checks see damage where there is some: a type's file torn in half.
    let end = first.run.ops.len();
    let mut torn = first.run.crash(end, Data::Kept, Names::Kept);
    let obs = torn.tree.files.get_mut("Observation.ndjson").unwrap();
    obs.truncate(obs.len() / 2);
    let whole = first.run.crash(end, Data::Kept, Names::Kept).tree;
    assert!(!damage(&first.run, end, &torn, &whole).is_empty());
    let torn_dir = ctx.root().join("torn");
    torn.tree.write(&torn_dir);
    let out = Fhirdl::of(&ctx).run(&["verify", "--json"], &torn_dir);
    assert_eq!(code(&out), DAMAGED, "{}", errors(&out));
    // An incremental sync supersedes two versions (the history) and adds a resource.
    amend(&ctx, &first.after);
    let incremental = record(&ctx, "incremental", sync_args(false), &dir);
    campaign_of(&incremental, 30);
    // The server removes resources: a --full sync records them as removed.
    let obs = first_line(&incremental.after, "Observation.ndjson");
    let id = obs["id"].as_str().unwrap();
    assert!(ctx.sandbox.delete_resource("Observation", id));
    assert!(ctx.sandbox.delete_resource("Condition", "zz-power-1"));
    let full = record(&ctx, "full", sync_args(true), &dir);
    campaign_of(&full, 30);

    assert!(
        failures.is_empty(),
        "{} crash states failed their checks; the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A first sync and an incremental one after [`amend`], recorded.
fn first_and_incremental(ctx: &TestContext) -> [Recorded; 2] {
    let dir = ctx.root().join("export");
    let first = record(ctx, "first", sync_args(false), &dir);
    amend(ctx, &first.after);
    let incremental = record(ctx, "incremental", sync_args(false), &dir);
    [first, incremental]
}

/// The first operation after `i` that makes a name inside the folder `dir` durable.
fn first_durable_inside(ops: &[Op], i: usize, dir: &str) -> Option<usize> {
    let inside = format!("{dir}/");
    (i + 1..ops.len())
        .find(|&j| matches!(&ops[j], Op::FsyncDir(d) if d == dir || d.starts_with(&inside)))
}

/// A folder a sync makes (`json/<Type>/`, `.fhirdl/history/`) is durable before any file in
/// it is: the history's folder lost to a power cut took superseded versions with it.
#[test]
fn new_folders_are_durable_before_the_files_in_them() {
    let ctx = sandbox();
    for rec in first_and_incremental(&ctx) {
        let ops = &rec.run.ops;
        for (i, op) in ops.iter().enumerate() {
            let Op::Mkdir(dir) = op else { continue };
            let Some(used) = first_durable_inside(ops, i, dir) else {
                continue;
            };
            assert!(
                rec.run.durable_at(i).is_some_and(|at| at < used),
                "{}: the folder {dir} is not durable before a file in it is",
                rec.name
            );
        }
    }
}

/// A type's file is replaced only once the manifest's announcement of it is durable: POSIX
/// does not order two renames in one folder, so one fsync after both could keep the file and
/// lose the announcement (damage, to `verify`).
#[test]
fn an_announcement_is_durable_before_its_file_is_replaced() {
    let ctx = sandbox();
    for rec in first_and_incremental(&ctx) {
        let run = &rec.run;
        for (i, op) in run.ops.iter().enumerate() {
            let Op::Rename { to, .. } = op else { continue };
            if !top_ndjson(to) {
                continue;
            }
            let versions = run.versions(to, i + 1);
            let new = &versions.last().expect("the version renamed in").1;
            if versions.len() > 1 && &versions[versions.len() - 2].1 == new {
                continue; // the same bytes again: nothing to announce
            }
            let sha = sha256_hex(new);
            let announced = run
                .versions("manifest.json", i)
                .into_iter()
                .any(|(ino, m)| {
                    let m: serde_json::Value = serde_json::from_slice(&m).unwrap_or_default();
                    let durable = run
                        .renamed_in_at(ino)
                        .and_then(|a| run.durable_at(a))
                        .is_some_and(|at| at < i);
                    durable && m["files"][to.as_str()]["sha256"] == sha.as_str()
                });
            assert!(
                announced,
                "{}: {to} replaced before its announcement is durable",
                rec.name
            );
        }
    }
}

/// The state saved during a run is durable before the manifest is written afresh: a fresh
/// manifest over an older state reads as damage (counts that differ).
#[test]
fn the_state_is_durable_before_the_manifest_is_written_afresh() {
    let ctx = sandbox();
    for rec in first_and_incremental(&ctx) {
        let ops = &rec.run.ops;
        let last = |name: &str, before: usize| {
            (0..before)
                .rev()
                .find(|&i| matches!(&ops[i], Op::Rename { to, .. } if to == name))
        };
        let fresh = last("manifest.json", ops.len()).expect("a manifest written afresh");
        let state = last(".fhirdl/state.json", fresh).expect("a state saved before it");
        assert!(
            rec.run.durable_at(state).is_some_and(|at| at < fresh),
            "{}: the manifest is written afresh over a state not yet durable",
            rec.name
        );
    }
}

/// A `--full` sync removes the pretty file of a resource the server no longer has durably
/// before it replaces the type's file: otherwise a power cut could leave that pretty file for
/// good (no later merge meets the resource again).
#[test]
fn a_removed_pretty_file_is_gone_for_good_before_its_type_file_is_replaced() {
    let ctx = sandbox();
    let dir = ctx.root().join("export");
    let first = record(&ctx, "first", sync_args(false), &dir);
    let obs = first_line(&first.after, "Observation.ndjson");
    assert!(ctx
        .sandbox
        .delete_resource("Observation", obs["id"].as_str().unwrap()));
    let full = record(&ctx, "full", sync_args(true), &dir);
    let ops = &full.run.ops;
    let mut removed = 0;
    for (i, op) in ops.iter().enumerate() {
        let Op::Remove(path) = op else { continue };
        let Some(ty) = path.strip_prefix("json/").and_then(|p| p.split('/').next()) else {
            continue;
        };
        removed += 1;
        let file = format!("{ty}.ndjson");
        let replaced = (i..ops.len())
            .find(|&j| matches!(&ops[j], Op::Rename { to, .. } if *to == file))
            .expect("the type's file replaced");
        assert!(
            full.run.durable_at(i).is_some_and(|at| at < replaced),
            "{path} is removed for good only after {file} is replaced"
        );
    }
    assert_eq!(removed, 1, "the removed Observation's pretty file");
}

/// A sync stopped right after it replaced a type's file (before saving the state) is finished
/// by the next one, and `verify` then says intact: a type read only through references is not
/// fetched again, and its count in the state used to stay behind its file.
#[test]
fn a_sync_stopped_after_replacing_a_file_is_finished_by_the_next() {
    let ctx = sandbox();
    let rec = record(&ctx, "first", sync_args(false), &ctx.root().join("export"));
    let fhirdl = Fhirdl::of(&ctx);
    let mut failures = Vec::new();
    for (i, op) in rec.run.ops.iter().enumerate() {
        if !matches!(op, Op::Rename { to, .. } if top_ndjson(to)) {
            continue;
        }
        let dir = ctx.root().join("stopped").join(i.to_string());
        rec.run
            .crash(i + 1, Data::Kept, Names::Kept)
            .tree
            .write(&dir);
        if let Err(why) = repair(&fhirdl, &rec, &dir) {
            failures.push(format!("stopped after {op:?}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
