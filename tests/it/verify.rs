//! `fhirdl verify` on a real export of the sandbox's patient: intact (plain, `--json`, by the
//! profile's folder, and `sync --verify`), then each kind of damage made by hand in a copy of
//! the export — a flipped byte in an NDJSON file and in a document, a truncated NDJSON file, a
//! missing file, extra files, a pretty file that differs, a line of another type and an id
//! twice (with the manifest rehashed, so only the line check can see them) — each ending with
//! exit code 11 and naming the file.

use crate::common::{code, json, snapshot, text, walk, TestContext};
use fhirdl::sync::manifest::Manifest;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Exit code of a damaged export.
const DAMAGED: i32 = 11;

/// A signed-in sandbox and a full export with pretty files and documents.
fn exported() -> (TestContext, PathBuf) {
    let ctx = TestContext::with_defaults();
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = ctx.root().join("export");
    let d = dir.display().to_string();
    let out = ctx.fhirdl(&["sync", "--out", &d, "--format", "both", "-q"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    (ctx, dir)
}

fn verify_json(ctx: &TestContext, dir: &Path) -> (i32, Value, String) {
    let out = ctx.fhirdl(&["verify", "--out", &dir.display().to_string(), "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (code(&out), json(&out), stderr)
}

/// A copy of the export to damage (fresh inodes and times: the state's stamps then differ,
/// which is only a warning).
fn copy(from: &Path, to: &Path) {
    for file in walk(from) {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > at, "{} is too short", path.display());
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

/// Rewrites `<Type>.ndjson` with `edit` applied to its lines and rehashes manifest.json (the way
/// a sync would describe the file), so that only the line checks can tell.
fn rewrite_lines(dir: &Path, ty: &str, edit: impl FnOnce(&mut Vec<String>)) {
    let path = dir.join(format!("{ty}.ndjson"));
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    edit(&mut lines);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let header = Manifest::load(dir).unwrap().unwrap();
    Manifest::write(dir, header, &[], &Default::default()).unwrap();
}

fn first_file(dir: &Path, ext: &str) -> PathBuf {
    let mut files: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no .{ext} file in {}", dir.display()))
}

#[test]
fn an_intact_export_verifies() {
    let (ctx, dir) = exported();
    let d = dir.display().to_string();
    let out = ctx.fhirdl(&["verify", "--out", &d]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Observation.ndjson"), "{stdout}");
    assert!(stdout.contains(": intact"), "{stdout}");
    // The same as one JSON document.
    let (status, report, stderr) = verify_json(&ctx, &dir);
    assert_eq!(status, 0, "{report}\n{stderr}");
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["damaged"], serde_json::json!([]));
    let checked = &report["checked"];
    assert!(checked["resources"].as_u64().unwrap() > 50, "{report}");
    assert!(checked["attachments"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(checked["pretty_files"], checked["resources"], "{report}");
    // Reading is all it does.
    let before = snapshot(&dir);
    // Without --out: the profile's folder (remembered by the sync).
    let out = ctx.fhirdl(&["verify"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(snapshot(&dir), before, "verify wrote to the export");
    // After a sync, in the sync's own JSON document.
    let out = ctx.fhirdl(&["sync", "--verify", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["verify"]["intact"], true, "{doc}");
    assert!(
        doc["types"].is_array(),
        "the sync report is still there: {doc}"
    );
    // A document damaged since: a sync with nothing new does not rewrite it, and says so.
    flip_byte(&first_file(&dir.join("attachments"), "pdf"), 10);
    let out = ctx.fhirdl(&["sync", "--verify", "--json"]);
    assert_eq!(code(&out), DAMAGED, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["verify"]["intact"], false, "{doc}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("attachments/"), "{stderr}");
}

/// Each damage, in its own copy of the export: (what, the file it must name, how).
type Case = (&'static str, &'static str, Box<dyn Fn(&Path)>);

#[test]
fn each_damage_gives_exit_11_and_names_the_file() {
    let (ctx, dir) = exported();
    let cases: Vec<Case> = vec![
        (
            "a flipped byte in an NDJSON file",
            "Observation.ndjson",
            Box::new(|d| flip_byte(&d.join("Observation.ndjson"), 100)),
        ),
        (
            "a truncated NDJSON file",
            "Condition.ndjson",
            Box::new(|d| {
                let path = d.join("Condition.ndjson");
                let len = std::fs::metadata(&path).unwrap().len();
                let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                file.set_len(len / 2).unwrap();
            }),
        ),
        (
            "a flipped byte in a document",
            "attachments/",
            Box::new(|d| {
                let pdf = first_file(&d.join("attachments"), "pdf");
                flip_byte(&pdf, 10);
            }),
        ),
        (
            "a missing NDJSON file",
            "Immunization.ndjson",
            Box::new(|d| std::fs::remove_file(d.join("Immunization.ndjson")).unwrap()),
        ),
        (
            "a missing document",
            "attachments/",
            Box::new(|d| std::fs::remove_file(first_file(&d.join("attachments"), "pdf")).unwrap()),
        ),
        (
            "an extra NDJSON file",
            "Basic.ndjson",
            Box::new(|d| {
                let line = "{\"resourceType\":\"Basic\",\"id\":\"x\"}\n";
                std::fs::write(d.join("Basic.ndjson"), line).unwrap();
            }),
        ),
        (
            "an extra document",
            "attachments/extra.pdf",
            Box::new(|d| std::fs::write(d.join("attachments/extra.pdf"), b"%PDF-1.4").unwrap()),
        ),
        (
            "a pretty file that differs",
            "json/Observation/",
            Box::new(|d| {
                let file = first_file(&d.join("json/Observation"), "json");
                let text = std::fs::read_to_string(&file).unwrap();
                std::fs::write(&file, text.replacen("\"id\": \"", "\"id\": \"X", 1)).unwrap();
            }),
        ),
        (
            "a line of another resourceType",
            "Condition.ndjson",
            Box::new(|d| {
                rewrite_lines(d, "Condition", |lines| {
                    lines[0] = lines[0].replacen("\"Condition\"", "\"Procedure\"", 1);
                })
            }),
        ),
        (
            "an id twice",
            "Observation.ndjson",
            Box::new(|d| {
                rewrite_lines(d, "Observation", |lines| {
                    let first = lines[0].clone();
                    lines.insert(1, first);
                })
            }),
        ),
    ];
    for (i, (what, file, damage)) in cases.iter().enumerate() {
        let copy_dir = ctx.root().join(format!("damaged-{i}"));
        copy(&dir, &copy_dir);
        damage(&copy_dir);
        let (status, report, stderr) = verify_json(&ctx, &copy_dir);
        assert_eq!(status, DAMAGED, "{what}: {report}\n{stderr}");
        assert_eq!(report["intact"], false, "{what}: {report}");
        let named: Vec<&str> = report["damaged_files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            named.iter().any(|f| f.starts_with(file)),
            "{what}: {file} not named in {named:?}\n{report}"
        );
        // The error on stderr names it too, with the exit code's meaning and a way out.
        assert!(stderr.contains("is damaged"), "{what}: {stderr}");
        assert!(stderr.contains(file), "{what}: {stderr}");
        assert!(stderr.contains("hint:"), "{what}: {stderr}");
    }
    // The line checks say what is wrong, on which line.
    let problems = |i: usize| -> Vec<(String, Option<u64>)> {
        let (_, report, _) = verify_json(&ctx, &ctx.root().join(format!("damaged-{i}")));
        report["damaged"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["problem"].as_str().unwrap().to_string(),
                    d["line"].as_u64(),
                )
            })
            .collect()
    };
    // Its pretty file is still the Condition's: that differs now too.
    assert_eq!(
        problems(8),
        [
            ("wrong_type".to_string(), Some(1)),
            ("pretty".to_string(), None)
        ]
    );
    assert_eq!(problems(9), [("duplicate_id".to_string(), Some(2))]);
    // A truncated file: its hash, and its last line cut short.
    let truncated = problems(1);
    assert_eq!(truncated[0], ("hash".to_string(), None), "{truncated:?}");
    assert!(truncated
        .iter()
        .any(|(p, line)| p == "bad_line" && line.is_some()));
}
