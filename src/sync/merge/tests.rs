//! Merges of whole types: sorted files, pretty files, the manifest, history, repairs.

use super::*;
use crate::sync::spool::Sorted;
use std::path::Path;

#[test]
fn merged_files_are_sorted_with_pretty_files_and_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Export::open(dir.path()).unwrap();
    let (a, b) = (
        r#"{"id":"a","resourceType":"Condition"}"#,
        r#"{"id":"b","resourceType":"Condition"}"#,
    );
    let both = MergeOptions {
        pretty: true,
        ..opts(MergeMode::Replace)
    };
    ex.merge(
        "Condition",
        sorted(dir.path(), &[("b", b), ("a", a)], 1),
        &both,
    )
    .unwrap();
    let text = std::fs::read_to_string(dir.path().join("Condition.ndjson")).unwrap();
    assert!(text.starts_with(r#"{"id":"a""#), "sorted by id: {text}");
    let mut back = Vec::new();
    ex.for_each("Condition", |id, line| {
        back.push((id.to_string(), line.to_string()))
    })
    .unwrap();
    assert_eq!(
        back,
        [
            ("a".to_string(), a.to_string()),
            ("b".to_string(), b.to_string())
        ]
    );
    assert!(dir.path().join("json/Condition/a.json").exists());
    ex.write_manifest(
        super::super::manifest::Manifest {
            patient: Some("p".into()),
            ..Default::default()
        },
        &["Condition".into()],
    )
    .unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["files"]["Condition.ndjson"]["count"], 2);
}

#[test]
fn merges_of_referenced_types_note_their_ids_and_the_manifest_uses_the_written_digest() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Export::open(dir.path()).unwrap();
    let line = |id: &str| format!(r#"{{"id":"{id}","resourceType":"Condition"}}"#);
    let (a, b, c) = (line("a"), line("b"), line("c"));
    ex.referenced(["Condition"]);
    let upsert = opts(MergeMode::Upsert);
    ex.merge(
        "Condition",
        sorted(dir.path(), &[("a", &a)], 1 << 20),
        &upsert,
    )
    .unwrap();
    ex.merge(
        "Condition",
        sorted(dir.path(), &[("b", &b)], 1 << 20),
        &upsert,
    )
    .unwrap();
    let held = ex.id_set("Condition").unwrap();
    assert!(held.contains("a") && held.contains("b") && !held.contains("c"));
    assert_eq!(
        held.len(),
        2,
        "the kept one and the new one, from the merge"
    );
    // An unreferenced type's merge notes nothing; asking reads its file (then notes it).
    ex.merge(
        "Encounter",
        sorted(dir.path(), &[("c", &c)], 1 << 20),
        &upsert,
    )
    .unwrap();
    assert!(!ex.is_referenced("Encounter"));
    assert!(ex.id_set("Encounter").unwrap().contains("c"));
    assert!(ex.is_referenced("Encounter"));

    ex.write_manifest(Default::default(), &["Condition".into()])
        .unwrap();
    let m = super::super::manifest::Manifest::load(dir.path())
        .unwrap()
        .unwrap();
    let on_disk = super::super::manifest::digest_file(&dir.path().join("Condition.ndjson"))
        .unwrap()
        .unwrap();
    let listed = &m.files["Condition.ndjson"];
    assert_eq!(
        (listed.sha256.as_str(), listed.count, listed.bytes),
        (on_disk.sha256.as_str(), on_disk.lines, on_disk.bytes)
    );
    assert!(super::super::manifest::verify(dir.path())
        .unwrap()
        .is_empty());
}

fn sorted(dir: &Path, entries: &[(&str, &str)], run_bytes: usize) -> Sorted {
    let mut spool = Spool::with_run_bytes(&dir.join(".fhirdl"), run_bytes);
    for (id, line) in entries {
        spool.insert(id.to_string(), line.to_string()).unwrap();
    }
    spool.into_sorted().unwrap()
}

fn opts(mode: MergeMode) -> MergeOptions<'static> {
    MergeOptions {
        mode,
        ndjson: true,
        pretty: false,
        dry_run: false,
        history_at: Some("2026-01-01T00:00:00Z"),
        note_unseen: 0,
        gone: None,
    }
}

#[test]
fn merges_stream_and_rewrite_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Export::open(dir.path()).unwrap();
    let path = dir.path().join("Observation.ndjson");
    let line = |id: &str, v: u32| format!(r#"{{"id":"{id}","v":{v}}}"#);
    let first: Vec<(String, String)> = ["a", "c", "e"]
        .iter()
        .map(|i| (i.to_string(), line(i, 1)))
        .collect();
    let refs: Vec<(&str, &str)> = first
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let m = ex
        .merge(
            "Observation",
            sorted(dir.path(), &refs, 1 << 20),
            &opts(MergeMode::Replace),
        )
        .unwrap();
    assert_eq!((m.new, m.stored, m.changed, m.written), (3, 3, true, true));
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let bytes = std::fs::read(&path).unwrap();

    // The same resources again: nothing is written.
    let m = ex
        .merge(
            "Observation",
            sorted(dir.path(), &refs, 1),
            &opts(MergeMode::Replace),
        )
        .unwrap();
    assert_eq!((m.unchanged, m.changed, m.written), (3, false, false));
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );

    // Upsert: d is new, c updated, the others stay.
    let (c2, d1) = (line("c", 2), line("d", 1));
    let m = ex
        .merge(
            "Observation",
            sorted(dir.path(), &[("d", &d1), ("c", &c2)], 1),
            &opts(MergeMode::Upsert),
        )
        .unwrap();
    assert_eq!(
        (m.new, m.updated, m.stored, m.changed, m.superseded),
        (1, 1, 4, true, 1)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        format!("{}\n{c2}\n{d1}\n{}\n", line("a", 1), line("e", 1))
    );
    assert_ne!(std::fs::read(&path).unwrap(), bytes);

    // Replace: what was not fetched is kept in the history as removed.
    let a1 = line("a", 1);
    let m = ex
        .merge(
            "Observation",
            sorted(dir.path(), &[("a", &a1)], 1),
            &opts(MergeMode::Replace),
        )
        .unwrap();
    assert_eq!((m.removed, m.stored, m.superseded), (3, 1, 3));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{a1}\n"));
    let history =
        std::fs::read_to_string(dir.path().join(".fhirdl/history/Observation.ndjson")).unwrap();
    assert_eq!(
        history.lines().count(),
        4,
        "c replaced, then c, d, e removed"
    );
    assert!(history.contains(&format!(
        r#""event":"replaced","resource":{}"#,
        line("c", 1)
    )));
    assert!(history.contains(&format!(r#""event":"removed","resource":{c2}"#)));

    // Dry run: counts, writes nothing.
    let dry = MergeOptions {
        dry_run: true,
        ..opts(MergeMode::Upsert)
    };
    let m = ex
        .merge("Observation", sorted(dir.path(), &[("b", &a1)], 1), &dry)
        .unwrap();
    assert_eq!((m.new, m.written), (1, false));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{a1}\n"));
    assert_eq!(
        crate::atomic::remove_stale_temp_files(dir.path()).unwrap(),
        0,
        "no temp file is left behind"
    );
}

#[test]
fn damaged_or_unsorted_files_are_repaired_by_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Export::open(dir.path()).unwrap();
    let path = dir.path().join("Condition.ndjson");
    // Out of order, a duplicate, a line without an id, no final newline.
    std::fs::write(
        &path,
        "{\"id\":\"b\"}\n{\"id\":\"a\"}\n{\"x\":1}\n\n{\"id\":\"a\"}\n{\"id\":\"c\"}",
    )
    .unwrap();
    let m = ex
        .merge(
            "Condition",
            sorted(dir.path(), &[], 1),
            &opts(MergeMode::Upsert),
        )
        .unwrap();
    assert_eq!(m.stored, 3);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n"
    );
    // In order but with an id-less line and no final newline: fixed in place.
    std::fs::write(&path, "{\"id\":\"a\"}\n{}\n{\"id\":\"b\"}").unwrap();
    let m = ex
        .merge(
            "Condition",
            sorted(dir.path(), &[("c", "{\"id\":\"c\"}")], 1),
            &opts(MergeMode::Upsert),
        )
        .unwrap();
    assert_eq!((m.new, m.stored), (1, 3));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n"
    );
    std::fs::write(&path, "not json\n").unwrap();
    let err = ex
        .merge(
            "Condition",
            sorted(dir.path(), &[], 1),
            &opts(MergeMode::Upsert),
        )
        .unwrap_err();
    assert!(format!("{err:#}").contains("line 1 is not JSON"), "{err:#}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "not json\n",
        "left as it was"
    );
}

#[test]
fn pretty_files_follow_the_ndjson_file() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Export::open(dir.path()).unwrap();
    let (a, b) = (r#"{"id":"a"}"#, r#"{"id":"b"}"#);
    ex.merge(
        "Condition",
        sorted(dir.path(), &[("a", a), ("b", b)], 1),
        &opts(MergeMode::Replace),
    )
    .unwrap();
    let json = dir.path().join("json/Condition");
    assert!(!json.exists(), "NDJSON only so far");
    // `--format both` added later: the pretty files of unchanged resources are filled in.
    let both = MergeOptions {
        pretty: true,
        ..opts(MergeMode::Upsert)
    };
    let m = ex
        .merge("Condition", sorted(dir.path(), &[], 1), &both)
        .unwrap();
    assert!(!m.written);
    assert!(json.join("a.json").exists() && json.join("b.json").exists());
    // A resource gone on a full run: its pretty file goes too.
    let full = MergeOptions {
        pretty: true,
        ..opts(MergeMode::Replace)
    };
    ex.merge("Condition", sorted(dir.path(), &[("a", a)], 1), &full)
        .unwrap();
    assert!(json.join("a.json").exists() && !json.join("b.json").exists());
    // A case twin arrives: both get distinct names, the bare one is gone.
    let twin = r#"{"id":"A"}"#;
    ex.merge("Condition", sorted(dir.path(), &[("A", twin)], 1), &both)
        .unwrap();
    let names: Vec<String> = std::fs::read_dir(&json)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.contains('_')), "{names:?}");
    // The manifest lists every NDJSON file in the folder.
    std::fs::write(dir.path().join("Stray.ndjson"), "").unwrap();
    ex.write_manifest(Default::default(), &["Condition".into()])
        .unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert!(m["files"]["Stray.ndjson"].is_object(), "{m}");
}

#[test]
fn an_upsert_notes_what_it_did_not_fetch_and_removes_only_what_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Export::open(dir.path()).unwrap();
    let path = dir.path().join("Condition.ndjson");
    let line = |id: &str, v: u32| format!(r#"{{"id":"{id}","v":{v}}}"#);
    let (a, b, c, d) = (line("a", 1), line("b", 1), line("c", 1), line("d", 1));
    let all = [("a", a.as_str()), ("b", &b), ("c", &c), ("d", &d)];
    ex.merge(
        "Condition",
        sorted(dir.path(), &all, 1),
        &opts(MergeMode::Replace),
    )
    .unwrap();
    // A search that returned a and c only: b and d kept, and noted (up to the limit).
    let noting = |n| MergeOptions {
        note_unseen: n,
        ..opts(MergeMode::Upsert)
    };
    let fetched = [("a", a.as_str()), ("c", &c)];
    let m = ex
        .merge("Condition", sorted(dir.path(), &fetched, 1), &noting(5))
        .unwrap();
    assert_eq!(
        (m.unseen.clone(), m.stored, m.changed),
        (vec!["b".to_string(), "d".to_string()], 4, false)
    );
    let m = ex
        .merge("Condition", sorted(dir.path(), &fetched, 1), &noting(1))
        .unwrap();
    assert_eq!(m.unseen, ["b"]);
    // Their reads: b is gone, d changed; a stays although it is not in this merge.
    let gone: std::collections::BTreeSet<String> = ["b".to_string()].into();
    let d2 = line("d", 2);
    let m = ex
        .merge(
            "Condition",
            sorted(dir.path(), &[("d", &d2)], 1),
            &MergeOptions {
                gone: Some(&gone),
                ..opts(MergeMode::Upsert)
            },
        )
        .unwrap();
    assert_eq!((m.removed, m.updated, m.stored, m.superseded), (1, 1, 3, 2));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{a}\n{c}\n{d2}\n")
    );
    let history =
        std::fs::read_to_string(dir.path().join(".fhirdl/history/Condition.ndjson")).unwrap();
    assert!(history.contains(&format!(r#""event":"removed","resource":{b}"#)));
    assert!(history.contains(&format!(r#""event":"replaced","resource":{d}"#)));
}
