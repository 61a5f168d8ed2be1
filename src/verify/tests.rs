//! A hand-made export, checked whole and after each kind of damage.

use super::*;
use crate::atomic::write_atomic;
use crate::sync::manifest::{announce, FileEntry};
use crate::sync::state::{FileStamp, State, TypeState};

const OBS: &str = concat!(
    "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"subject\":{\"reference\":\"Patient/p\"},\"performer\":[{\"reference\":\"Practitioner/gone\"}],\"valueQuantity\":{\"value\":1.50}}\n",
    "{\"resourceType\":\"Observation\",\"id\":\"o2\",\"subject\":{\"reference\":\"Patient/p\"}}\n",
);
const PAT: &str = "{\"resourceType\":\"Patient\",\"id\":\"p\"}\n";

/// An export of two types, with a pretty file, a document and a state.
fn export() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_atomic(&d.join("Observation.ndjson"), OBS.as_bytes()).unwrap();
    write_atomic(&d.join("Patient.ndjson"), PAT.as_bytes()).unwrap();
    let line = OBS.lines().next().unwrap();
    write_atomic(
        &d.join("json/Observation/o1.json"),
        crate::json_text::pretty(line).as_bytes(),
    )
    .unwrap();
    write_atomic(&d.join("attachments/DocumentReference-d-1.pdf"), b"%PDF-1").unwrap();
    let manifest = serde_json::json!({"DocumentReference-d-1.pdf": {
        "resource": "DocumentReference/d", "bytes": 6,
        "sha256": crate::sync::manifest::sha256_hex(b"%PDF-1")}});
    write_atomic(
        &d.join("attachments/manifest.json"),
        manifest.to_string().as_bytes(),
    )
    .unwrap();
    let header = Manifest {
        patient: Some("p".into()),
        fhir_base: Some("https://h.example/fhir/".into()),
        ..Manifest::default()
    };
    let types = ["Observation".to_string(), "Patient".to_string()];
    Manifest::write(d, header, &types, &Default::default()).unwrap();
    let mut state = State {
        patient: "p".into(),
        ..State::default()
    };
    for (ty, count) in [("Observation", 2), ("Patient", 1)] {
        let file = FileStamp::of(&d.join(format!("{ty}.ndjson")));
        let t = TypeState {
            count,
            file,
            ..TypeState::default()
        };
        state.types.insert(ty.into(), t);
    }
    state.save(d).unwrap();
    dir
}

fn problems(report: &Report) -> Vec<(String, Problem)> {
    report
        .damaged
        .iter()
        .map(|d| (d.file.clone(), d.problem))
        .collect()
}

#[test]
fn an_intact_export_verifies_with_its_unresolved_references_counted() {
    let dir = export();
    let r = verify(dir.path()).unwrap();
    assert!(r.intact, "{:?}", r.damaged);
    assert!(!r.interrupted);
    assert_eq!(r.checked.resources, 3);
    assert_eq!(r.checked.attachments, 1);
    assert_eq!(r.checked.pretty_files, 1);
    assert_eq!(r.unresolved_references["Practitioner"], 1);
    assert_eq!(r.unresolved_references.len(), 1, "Patient/p resolves");
    assert!(r.result().is_ok());
}

#[test]
fn each_kind_of_damage_names_its_file() {
    let dir = export();
    let d = dir.path();
    std::fs::write(d.join("Patient.ndjson"), PAT.replace("\"p\"", "\"q\"")).unwrap();
    std::fs::write(d.join("attachments/DocumentReference-d-1.pdf"), b"%PDF-2").unwrap();
    std::fs::write(d.join("attachments/stray.pdf"), b"x").unwrap();
    std::fs::write(d.join("json/Observation/o1.json"), b"{}").unwrap();
    std::fs::remove_file(d.join("Observation.ndjson")).unwrap();
    std::fs::write(d.join("Extra.ndjson"), b"").unwrap();
    let r = verify(d).unwrap();
    assert_eq!(
        problems(&r),
        [
            ("Extra.ndjson".into(), Problem::Unlisted),
            ("Observation.ndjson".into(), Problem::Missing),
            ("Patient.ndjson".into(), Problem::Hash),
            ("Patient.ndjson".into(), Problem::OtherPatient),
            (
                "attachments/DocumentReference-d-1.pdf".into(),
                Problem::Hash
            ),
            ("attachments/stray.pdf".into(), Problem::Unlisted),
        ],
        "{:#?}",
        r.damaged
    );
    let err = r.result().unwrap_err();
    assert_eq!(crate::exit::exit_code(&err), 11);
    let text = err.to_string();
    assert!(
        text.contains("5 files (Extra.ndjson, Observation.ndjson"),
        "{text}"
    );
}

#[test]
fn a_stopped_sync_is_reported_as_such_not_as_damage() {
    let dir = export();
    let d = dir.path();
    let v2 = format!("{OBS}{{\"resourceType\":\"Observation\",\"id\":\"o3\"}}\n");
    // Announced, not replaced yet: the file is the previous version.
    announce(
        d,
        "Observation.ndjson",
        &FileEntry::of("Observation", v2.as_bytes()),
    )
    .unwrap();
    let r = verify(d).unwrap();
    assert!(r.intact && r.interrupted, "{:?}", r.damaged);
    assert_eq!(r.types[0].status, FileStatus::Previous);
    // Replaced, manifest not rewritten: the new version, and a state that lags behind.
    write_atomic(&d.join("Observation.ndjson"), v2.as_bytes()).unwrap();
    let r = verify(d).unwrap();
    assert!(r.intact && r.interrupted, "{:?}", r.damaged);
    assert_eq!(r.types[0].status, FileStatus::Announced);
    // A third version nobody announced is damage.
    std::fs::write(d.join("Observation.ndjson"), OBS.replace("o2", "o0")).unwrap();
    let r = verify(d).unwrap();
    assert_eq!(
        problems(&r),
        [
            ("Observation.ndjson".into(), Problem::Hash),
            ("Observation.ndjson".into(), Problem::Unsorted)
        ]
    );
}

#[test]
fn pretty_files_of_another_version_are_a_warning() {
    let dir = export();
    let d = dir.path();
    let older = "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"meta\":{\"lastUpdated\":\"2020-01-01T00:00:00Z\"}}";
    let newer = older.replace("2020", "2021");
    write_atomic(
        &d.join("Observation.ndjson"),
        format!("{newer}\n").as_bytes(),
    )
    .unwrap();
    write_atomic(
        &d.join("json/Observation/o1.json"),
        crate::json_text::pretty(older).as_bytes(),
    )
    .unwrap();
    Manifest::write(
        d,
        Manifest::load(d).unwrap().unwrap(),
        &[],
        &Default::default(),
    )
    .unwrap();
    let r = verify(d).unwrap();
    assert_eq!(
        problems(&r),
        [(".fhirdl/state.json".into(), Problem::State)]
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("another version")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn a_folder_without_an_export_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify(dir.path()).unwrap_err();
    assert_eq!(crate::exit::exit_code(&err), 2);
}

#[test]
fn a_running_sync_holds_verify_off() {
    let dir = export();
    let sync = crate::sync::export::Export::open(dir.path()).unwrap();
    let err = verify(dir.path()).unwrap_err();
    assert_eq!(crate::exit::exit_code(&err), 8, "{err:#}");
    drop(sync);
    assert!(verify(dir.path()).unwrap().intact);
}

#[test]
fn a_first_version_announced_and_not_written_is_no_damage() {
    let dir = export();
    let d = dir.path();
    let v1 = b"{\"resourceType\":\"Condition\",\"id\":\"c\"}\n";
    announce(d, "Condition.ndjson", &FileEntry::of("Condition", v1)).unwrap();
    std::fs::write(d.join("notes.txt"), b"mine").unwrap();
    let r = verify(d).unwrap();
    assert!(r.intact && r.interrupted, "{:?}", r.damaged);
    let condition = r.types.iter().find(|t| t.resource_type == "Condition");
    assert_eq!(condition.map(|t| t.status), Some(FileStatus::Previous));
    assert!(
        r.warnings.iter().any(|w| w.starts_with("notes.txt")),
        "a file of the user's is said, not damage: {:?}",
        r.warnings
    );
}

#[test]
fn documents_a_stopped_sync_saved_but_did_not_list_are_a_warning() {
    let dir = export();
    let d = dir.path();
    let doc = "{\"resourceType\":\"DocumentReference\",\"id\":\"d\"}\n";
    write_atomic(&d.join("DocumentReference.ndjson"), doc.as_bytes()).unwrap();
    Manifest::write(
        d,
        Manifest::load(d).unwrap().unwrap(),
        &[],
        &Default::default(),
    )
    .unwrap();
    std::fs::write(d.join("attachments/DocumentReference-d-2.xml"), b"<x/>").unwrap();
    let r = verify(d).unwrap();
    assert!(r.intact, "{:?}", r.damaged);
    assert!(
        r.warnings.iter().any(|w| w.contains("1 documents")),
        "{:?}",
        r.warnings
    );
    // A name no resource of the export gives is damage.
    std::fs::write(d.join("attachments/DocumentReference-e-1.pdf"), b"%PDF").unwrap();
    let r = verify(d).unwrap();
    assert_eq!(
        problems(&r),
        [(
            "attachments/DocumentReference-e-1.pdf".to_string(),
            Problem::Unlisted
        )]
    );
}
