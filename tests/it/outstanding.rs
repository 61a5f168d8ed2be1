//! Nothing forgotten: what a run could not store — a resource, a resource without an id, a
//! document, a whole type — stays named by every later run (`partial`, exit 3, in the summary,
//! `--json`, `last_run.json`, the manifest and `fhirdl status`) until a later run stores it or
//! the server says it is gone; and legal JSON that serde_json refuses (deep nesting, lone
//! surrogate escapes) is stored as sent.

use crate::common::{code, text, type_report, TestContext};
use fhirdl_sandbox::{FaultKind, FaultPlan, Hostile, SandboxConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A signed-in sandbox and a complete export of it in `truth` (what the server holds, as
/// fhirdl stores it), to pick resources from and compare with.
struct Case {
    ctx: TestContext,
    truth: PathBuf,
    out: PathBuf,
}

impl Case {
    fn new() -> Case {
        let ctx = TestContext::new(SandboxConfig {
            resources_per_patient: 60,
            ..SandboxConfig::default()
        });
        let login = ctx.login("a", &[]);
        assert_eq!(code(&login), 0, "{}", text(&login));
        let truth = ctx.root().join("truth");
        let out = ctx.root().join("out");
        let case = Case { ctx, truth, out };
        let (o, _) = case.sync_into(&case.truth, &[]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        case
    }

    fn sync_into(&self, dir: &Path, extra: &[&str]) -> (std::process::Output, Value) {
        let mut args = vec!["sync", "--json", "--out", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = self.ctx.fhirdl(&args);
        let report = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        (o, report)
    }

    fn sync(&self, extra: &[&str]) -> (std::process::Output, Value) {
        self.sync_into(&self.out, extra)
    }

    /// The first stored line of `ty` in the truth, and its id.
    fn first(&self, ty: &str) -> (String, String) {
        let text = std::fs::read_to_string(self.truth.join(format!("{ty}.ndjson"))).unwrap();
        let line = text.lines().next().unwrap().to_string();
        let id = serde_json::from_str::<Value>(&line).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        (line, id)
    }

    fn lines(&self, dir: &Path, ty: &str) -> Vec<String> {
        std::fs::read_to_string(dir.join(format!("{ty}.ndjson")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The documents saved under `dir/attachments/` whose names contain `containing`, by name,
    /// with their bytes (none when the folder is missing).
    fn documents(&self, dir: &Path, containing: &str) -> Vec<(String, Vec<u8>)> {
        let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("attachments"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(containing))
            .map(|n| {
                let bytes = std::fs::read(dir.join("attachments").join(&n)).unwrap();
                (n, bytes)
            })
            .collect();
        found.sort();
        found
    }

    fn file(&self, name: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.out.join(name)).unwrap()).unwrap()
    }

    /// The outstanding entries the state, `last_run.json` and a report name.
    fn outstanding(&self, report: &Value) -> [Vec<Value>; 3] {
        let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
        [
            list(&self.file(".fhirdl/state.json")["outstanding"]),
            list(&self.file(".fhirdl/last_run.json")["outstanding"]),
            report["types"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|t| list(&t["outstanding"]))
                .collect(),
        ]
    }

    /// What the manifest and `last_run.json` say of `ty`'s copy.
    fn recorded_status(&self, ty: &str) -> (String, String) {
        let manifest = self.file("manifest.json");
        let last_run = self.file(".fhirdl/last_run.json");
        let label = |v: &Value| v["status"].as_str().unwrap_or("").to_string();
        (
            label(&manifest["completeness"][ty]),
            label(&last_run["completeness"][ty]),
        )
    }
}

fn completeness(report: &Value, ty: &str) -> String {
    type_report(report, ty)["completeness"]["status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_resource_not_stored_stays_named_until_a_later_run_stores_it() {
    let case = Case::new();
    let (line, id) = case.first("Observation");
    let patient = case.ctx.sandbox.users()[0].patient_id.clone();
    let elsewhere = line.replace(&format!("Patient/{patient}"), "Patient/someone-else");
    assert_ne!(elsewhere, line);
    case.ctx.sandbox.set_hostile(Hostile {
        replace: vec![("Observation".into(), id.clone(), elsewhere)],
        ..Hostile::default()
    });
    let (first, report) = case.sync(&[]);
    assert_eq!(code(&first), 3, "{}", text(&first));
    let [state, last_run, named] = case.outstanding(&report);
    assert_eq!(state.len(), 1, "{state:?}");
    assert_eq!((last_run.len(), named.len()), (1, 1));
    assert_eq!(state[0]["id"], id.as_str());
    assert_eq!(state[0]["kind"], "resource");
    let since = state[0]["first_seen"].clone();

    // The next incremental run does not see it in its search (nothing changed), but reads it
    // again: still another patient's, so still outstanding, and the type still partial.
    let (second, report) = case.sync(&[]);
    assert_eq!(code(&second), 3, "{}", text(&second));
    assert_eq!(completeness(&report, "Observation"), "partial", "{report}");
    let [state, last_run, named] = case.outstanding(&report);
    assert_eq!((state.len(), last_run.len(), named.len()), (1, 1, 1));
    assert_eq!(state[0]["first_seen"], since, "the first sighting is kept");
    assert!(
        state[0]["reason"]
            .as_str()
            .unwrap()
            .contains("another patient"),
        "{state:?}"
    );
    assert_eq!(
        case.recorded_status("Observation"),
        ("partial".into(), "partial".into())
    );
    let human = case
        .ctx
        .fhirdl(&["sync", "--out", case.out.to_str().unwrap()]);
    assert_eq!(code(&human), 3, "{}", text(&human));
    let shown = text(&human);
    assert!(
        shown.contains(&format!("still not stored: Observation/{id}")),
        "{shown}"
    );
    let status = case.ctx.fhirdl(&["status"]);
    assert!(
        text(&status).contains("1 not stored yet"),
        "{}",
        text(&status)
    );
    assert!(!case.lines(&case.out, "Observation").contains(&line));
    let view = case
        .ctx
        .fhirdl(&["view", "--out", case.out.to_str().unwrap()]);
    assert_eq!(code(&view), 0, "{}", text(&view));
    let page = std::fs::read_to_string(case.out.join("record.html")).unwrap();
    assert!(
        page.contains("partial (1 not stored yet, since"),
        "the page's type table names it"
    );

    // The server mends it: the next run reads it, stores it as sent, and the type is whole.
    case.ctx.sandbox.set_hostile(Hostile::default());
    let (third, report) = case.sync(&[]);
    assert_eq!(code(&third), 0, "{}", text(&third));
    assert_eq!(completeness(&report, "Observation"), "complete", "{report}");
    let [state, last_run, named] = case.outstanding(&report);
    assert!(state.is_empty() && last_run.is_empty() && named.is_empty());
    assert_eq!(
        case.lines(&case.out, "Observation"),
        case.lines(&case.truth, "Observation")
    );
    assert_eq!(
        case.recorded_status("Observation"),
        ("complete".into(), "complete".into())
    );
    let verify = case
        .ctx
        .fhirdl(&["verify", "--out", case.out.to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", text(&verify));
}

#[test]
fn an_outstanding_resource_the_server_removed_is_no_longer_expected() {
    let case = Case::new();
    let (line, id) = case.first("Condition");
    let patient = case.ctx.sandbox.users()[0].patient_id.clone();
    case.ctx.sandbox.set_hostile(Hostile {
        replace: vec![(
            "Condition".into(),
            id.clone(),
            line.replace(&format!("Patient/{patient}"), "Patient/someone-else"),
        )],
        ..Hostile::default()
    });
    let (first, _) = case.sync(&[]);
    assert_eq!(code(&first), 3, "{}", text(&first));
    assert!(case.ctx.sandbox.delete_resource("Condition", &id));
    let (second, report) = case.sync(&[]);
    assert_eq!(code(&second), 0, "{}", text(&second));
    assert!(case.outstanding(&report).iter().all(Vec::is_empty));
    let warned = report["warnings"].to_string();
    assert!(
        warned.contains(&format!("Condition/{id}")) && warned.contains("no longer on the server"),
        "{warned}"
    );
}

#[test]
fn a_resource_without_an_id_brings_its_type_back_to_a_whole_search() {
    let case = Case::new();
    let (line, id) = case.first("Observation");
    let no_id = line.replace(&format!("\"id\":\"{id}\""), "\"id\":null");
    assert_ne!(no_id, line);
    case.ctx.sandbox.set_hostile(Hostile {
        replace: vec![("Observation".into(), id.clone(), no_id)],
        ..Hostile::default()
    });
    let (first, _) = case.sync(&[]);
    assert_eq!(code(&first), 3, "{}", text(&first));
    // Still sent without an id: the whole search brings it again, the entry stays.
    let (second, report) = case.sync(&[]);
    assert_eq!(code(&second), 3, "{}", text(&second));
    assert_eq!(type_report(&report, "Observation")["incremental"], false);
    assert_eq!(case.outstanding(&report)[0].len(), 1);
    case.ctx.sandbox.set_hostile(Hostile::default());
    let (third, report) = case.sync(&[]);
    assert_eq!(code(&third), 0, "{}", text(&third));
    assert_eq!(type_report(&report, "Observation")["incremental"], false);
    assert!(case.outstanding(&report).iter().all(Vec::is_empty));
    assert_eq!(
        case.lines(&case.out, "Observation"),
        case.lines(&case.truth, "Observation")
    );
    // Nothing outstanding any more: the next run is incremental again.
    let (fourth, report) = case.sync(&[]);
    assert_eq!(code(&fourth), 0, "{}", text(&fourth));
    assert_eq!(type_report(&report, "Observation")["incremental"], true);
}

#[test]
fn a_failed_type_stays_partial_in_runs_that_do_not_search_it() {
    let case = Case::new();
    case.ctx.sandbox.set_faults(Some(FaultPlan::permanent(
        FaultKind::ServiceUnavailable,
        Some(vec!["Condition".into()]),
    )));
    let (first, _) = case.sync(&[]);
    assert_eq!(code(&first), 3, "{}", text(&first));
    case.ctx.sandbox.set_faults(None);
    // A run of other types only still says Condition is missing.
    let (second, report) = case.sync(&["--types", "Observation"]);
    assert_eq!(code(&second), 3, "{}", text(&second));
    assert_eq!(completeness(&report, "Condition"), "partial", "{report}");
    assert_eq!(
        type_report(&report, "Condition")["outstanding"][0]["kind"],
        "type"
    );
    let (third, report) = case.sync(&[]);
    assert_eq!(code(&third), 0, "{}", text(&third));
    assert!(case.outstanding(&report).iter().all(Vec::is_empty));
    assert_eq!(
        case.lines(&case.out, "Condition"),
        case.lines(&case.truth, "Condition")
    );
}

#[test]
fn a_document_not_saved_stays_named_until_it_is() {
    let case = Case::new();
    case.ctx.sandbox.set_faults(Some(FaultPlan::permanent(
        FaultKind::InternalServerError,
        Some(vec!["Binary".into()]),
    )));
    let (first, report) = case.sync(&[]);
    assert_eq!(code(&first), 3, "{}", text(&first));
    let failed = report["attachments"]["failed"].as_u64().unwrap();
    assert!(failed > 0, "{report}");
    case.ctx.sandbox.set_faults(None);
    // Without documents, the run cannot save them: still named, still partial.
    let (second, report) = case.sync(&["--no-attachments"]);
    assert_eq!(code(&second), 3, "{}", text(&second));
    let documents: Vec<Value> = case.outstanding(&report)[2]
        .iter()
        .filter(|o| o["kind"] == "document")
        .cloned()
        .collect();
    assert_eq!(documents.len() as u64, failed, "{report}");
    let carriers: Vec<&str> = documents
        .iter()
        .map(|o| o["resource_type"].as_str().unwrap())
        .collect();
    for ty in carriers {
        assert_eq!(completeness(&report, ty), "partial", "{report}");
    }
    let (third, report) = case.sync(&[]);
    assert_eq!(code(&third), 0, "{}", text(&third));
    assert!(case.outstanding(&report).iter().all(Vec::is_empty));
    assert_eq!(
        case.documents(&case.out, ""),
        case.documents(&case.truth, "")
    );
}

/// Legal JSON that serde_json will not read is stored as the server sent it: an extension
/// nested 5,000 levels deep, a lone surrogate escape.
#[test]
fn legal_json_the_parser_refuses_is_stored_as_sent() {
    let case = Case::new();
    let (deep_line, deep) = case.first("Observation");
    let (odd_line, odd) = case.first("Condition");
    assert!(!deep_line.contains(r#""extension""#) && !odd_line.contains(r#""note""#));
    let nested = format!(
        r#"{},"extension":[{}{{"url":"x","valueString":"deep"}}{}]}}"#,
        deep_line.strip_suffix('}').unwrap(),
        r#"{"url":"x","extension":["#.repeat(5_000),
        "]}".repeat(5_000)
    );
    let surrogate = format!(
        r#"{},"note":[{{"text":"half a pair: \ud800 and \udfff"}}]}}"#,
        odd_line.strip_suffix('}').unwrap()
    );
    assert!(serde_json::from_str::<Value>(&nested).is_err());
    assert!(serde_json::from_str::<Value>(&surrogate).is_err());
    case.ctx.sandbox.set_hostile(Hostile {
        replace: vec![
            ("Observation".into(), deep.clone(), nested.clone()),
            ("Condition".into(), odd.clone(), surrogate.clone()),
        ],
        ..Hostile::default()
    });
    let (o, report) = case.sync(&["--format", "both"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(case.outstanding(&report).iter().all(Vec::is_empty));
    assert!(case.lines(&case.out, "Observation").contains(&nested));
    assert!(case.lines(&case.out, "Condition").contains(&surrogate));
    let verify = case
        .ctx
        .fhirdl(&["verify", "--out", case.out.to_str().unwrap()]);
    assert_eq!(code(&verify), 0, "{}", text(&verify));
    // The next run leaves them as they are.
    let (again, report) = case.sync(&["--format", "both"]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(completeness(&report, "Observation"), "complete");
    let view = case
        .ctx
        .fhirdl(&["view", "--out", case.out.to_str().unwrap()]);
    assert_eq!(code(&view), 0, "{}", text(&view));
}

/// A DocumentReference an earlier run could not store is read again before the document pass
/// goes through its type, so its documents arrive in the same run.
#[test]
fn a_document_reference_read_again_brings_its_documents_in_the_same_run() {
    let case = Case::new();
    let (line, id) = case.first("DocumentReference");
    let patient = case.ctx.sandbox.users()[0].patient_id.clone();
    case.ctx.sandbox.set_hostile(Hostile {
        replace: vec![(
            "DocumentReference".into(),
            id.clone(),
            line.replace(&format!("Patient/{patient}"), "Patient/someone-else"),
        )],
        ..Hostile::default()
    });
    let (first, _) = case.sync(&[]);
    assert_eq!(code(&first), 3, "{}", text(&first));
    assert!(case.documents(&case.out, &id).is_empty());
    assert!(!case.documents(&case.truth, &id).is_empty());
    case.ctx.sandbox.set_hostile(Hostile::default());
    let (second, report) = case.sync(&[]);
    assert_eq!(code(&second), 0, "{}", text(&second));
    assert_eq!(
        case.documents(&case.out, &id),
        case.documents(&case.truth, &id),
        "{report}"
    );
}

/// A DocumentReference that serde_json cannot read as a tree still has its documents found
/// when it holds a lone surrogate escape; one nested past the parser's limit is stored, and its
/// documents are named as not saved (never passed over in silence).
#[test]
fn documents_of_resources_the_parser_refuses_are_saved_or_named() {
    let case = Case::new();
    let (line, id) = case.first("DocumentReference");
    assert!(!line.contains(r#""note""#) && !line.contains(r#""extension""#));
    let odd = format!(
        r#"{},"extension":[{{"url":"x","valueString":"half a pair: \udbff"}}]}}"#,
        line.strip_suffix('}').unwrap()
    );
    case.ctx.sandbox.set_hostile(Hostile {
        replace: vec![("DocumentReference".into(), id.clone(), odd.clone())],
        ..Hostile::default()
    });
    let (o, _) = case.sync(&[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(case.lines(&case.out, "DocumentReference").contains(&odd));
    assert!(!case.documents(&case.truth, &id).is_empty());
    assert_eq!(
        case.documents(&case.out, &id),
        case.documents(&case.truth, &id)
    );

    let deep = format!(
        r#"{},"extension":[{}{{"url":"x"}}{}]}}"#,
        line.strip_suffix('}').unwrap(),
        r#"{"url":"x","extension":["#.repeat(300),
        "]}".repeat(300)
    );
    let fresh = case.ctx.root().join("deep");
    case.ctx.sandbox.set_hostile(Hostile {
        replace: vec![("DocumentReference".into(), id.clone(), deep.clone())],
        ..Hostile::default()
    });
    let (o, report) = case.sync_into(&fresh, &[]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(case.lines(&fresh, "DocumentReference").contains(&deep));
    let failures = report["attachments"]["failures"].to_string();
    assert!(
        failures.contains(&format!("DocumentReference/{id}"))
            && failures.contains("its attachments could not be read"),
        "{failures}"
    );
}
