//! `fhirdl sync` against the sandbox behaving like NextGen Enterprise and other awkward servers:
//! categories required, fixed pages with path-changing next links, raw document URLs, references
//! outside the base, refused types, a next link dropped early, no `_lastUpdated`.

use crate::common::{code, json, ndjson, text, walk, TestContext};
use fhirdl_sandbox::{Quirks, SandboxConfig};
use serde_json::Value;

fn synced(quirks: Quirks) -> (TestContext, Value) {
    let ctx = TestContext::new(SandboxConfig {
        quirks,
        ..SandboxConfig::default()
    });
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = ctx.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    (ctx, report)
}

fn of<'a>(report: &'a Value, ty: &str) -> &'a Value {
    report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["resource_type"] == ty)
        .unwrap_or_else(|| panic!("{ty} missing from {report}"))
}

fn lines(ctx: &TestContext, ty: &str) -> Vec<Value> {
    ndjson(&ctx.export_dir("a").join(format!("{ty}.ndjson")))
}

#[test]
fn nextgen_enterprise_like_server_is_exported_completely() {
    let (ctx, report) = synced(Quirks::nextgen());
    let dir = ctx.data_dir().join("exports/a");
    // The plain search is refused for want of a category: fanned out, and since the server
    // refuses to count, the copy is "unverified", saying why.
    let obs = of(&report, "Observation");
    assert!(obs["stored"].as_u64().unwrap() > 20, "{report}");
    assert_eq!(obs["completeness"]["status"], "unverified", "{report}");
    let why = obs["completeness"]["detail"].as_str().unwrap();
    assert!(
        why.contains("the server requires a category")
            && why.contains("gives no count")
            && why.contains("Unknown search parameter: _summary"),
        "{why}"
    );
    // Conditions without a category cannot be found by category; those other resources refer
    // to arrive through the references and are counted.
    let cond = of(&report, "Condition");
    assert_eq!(cond["completeness"]["status"], "unverified", "{report}");
    let uncategorized: Vec<Value> = lines(&ctx, "Condition")
        .into_iter()
        .filter(|c| c.get("category").is_none())
        .collect();
    assert!(!uncategorized.is_empty(), "{report}");
    assert!(
        cond["completeness"]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "{} more arrived only because other resources refer to them",
                uncategorized.len()
            )),
        "{report}"
    );
    // The page says it too (from manifest.json and last_run.json).
    let view = ctx.fhirdl(&["view"]);
    assert_eq!(code(&view), 0, "{}", text(&view));
    let page = std::fs::read_to_string(dir.join("record.html")).unwrap();
    assert!(
        page.contains("unverified"),
        "record.html does not say unverified"
    );
    assert_eq!(of(&report, "CarePlan")["stored"], 3, "{report}");
    // Pages of 25 with /fhir/R4/ next links were followed to the end.
    assert!(of(&report, "Observation")["pages"].as_u64().unwrap() > 1);
    // References: PractitionerRole, Medication, Specimen read; terminology URLs left alone.
    for ty in [
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Location",
        "Medication",
        "Specimen",
    ] {
        assert!(!lines(&ctx, ty).is_empty(), "{ty} not exported: {report}");
    }
    assert!(!dir.join("sct.ndjson").exists());
    // NextGen documents: raw PDF and C-CDA XML downloaded with the token.
    let files: Vec<String> = walk(&dir.join("attachments"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().any(|f| f.ends_with(".pdf")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".xml")), "{files:?}");
    assert_eq!(report["attachments"]["failed"], 0, "{report}");
    // No duplicates after merging the category queries.
    let ids: Vec<String> = lines(&ctx, "Observation")
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique);
    ctx.assert_no_leaks();
}

#[test]
fn a_refusal_is_remembered_and_a_count_that_disagrees_makes_the_run_partial() {
    let ctx = TestContext::new(SandboxConfig {
        quirks: Quirks {
            categories_required: vec!["Observation".into(), "Condition".into()],
            uncategorized_conditions: true,
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    });
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let out = ctx.fhirdl(&["sync", "--json"]);
    // The server's count says there are more Conditions than the categories hold: exit 3,
    // the type named, what arrived saved.
    assert_eq!(code(&out), 3, "{}", text(&out));
    let report = json(&out);
    let cond = of(&report, "Condition");
    assert_eq!(cond["completeness"]["status"], "partial", "{report}");
    assert!(
        cond["completeness"]["detail"]
            .as_str()
            .unwrap()
            .contains("in other categories were not fetched"),
        "{report}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("known to be incomplete: Condition"),
        "{}",
        text(&out)
    );
    let obs = of(&report, "Observation");
    assert_eq!(obs["completeness"]["status"], "recovered", "{report}");
    assert!(obs["completeness"]["detail"]
        .as_str()
        .unwrap()
        .contains("the server's count"));
    // Completeness is kept where a script or a later reader looks.
    let dir = ctx.export_dir("a");
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
    };
    assert_eq!(
        read(".fhirdl/last_run.json")["completeness"]["Condition"]["status"],
        "partial"
    );
    assert_eq!(
        read("manifest.json")["completeness"]["Condition"]["status"],
        "partial"
    );
    assert_eq!(
        read("manifest.json")["completeness"]["Encounter"]["status"],
        "complete"
    );
    let state = read(".fhirdl/state.json");
    assert_eq!(
        state["types"]["Condition"]["needs_category"], true,
        "{state}"
    );
    // The next run fans out at once: no plain search is refused again.
    let out = ctx.fhirdl(&["sync", "--json"]);
    let report = json(&out);
    let obs = of(&report, "Observation");
    assert!(
        !obs["warnings"].to_string().contains("HTTP 400"),
        "{report}"
    );
    assert!(
        obs["completeness"]["detail"]
            .as_str()
            .unwrap()
            .contains("it refused the plain search before"),
        "{report}"
    );
    // A plain search is what a server that answers it gets: complete.
    assert_eq!(
        of(&report, "Encounter")["completeness"]["status"],
        "complete"
    );
}

#[test]
fn a_search_refused_for_want_of_a_status_is_repeated_with_every_status() {
    let (ctx, report) = synced(Quirks {
        status_required: vec!["Encounter".into(), "Condition".into()],
        ..Quirks::default()
    });
    for ty in ["Encounter", "Condition"] {
        let t = of(&report, ty);
        assert_eq!(t["status"], "ok", "{report}");
        assert_eq!(t["completeness"]["status"], "recovered", "{report}");
        assert!(
            t["completeness"]["detail"]
                .as_str()
                .unwrap()
                .contains("the server requires a status"),
            "{report}"
        );
        assert!(!lines(&ctx, ty).is_empty());
    }
    assert!(of(&report, "Condition")["completeness"]["detail"]
        .as_str()
        .unwrap()
        .contains("clinical-status"));
}

#[test]
fn categories_required_discovered_from_the_refusal() {
    // Not recognisable as NextGen: the 400 itself triggers the fan-out.
    let (_env, report) = synced(Quirks {
        categories_required: vec!["Observation".into(), "Condition".into()],
        ..Quirks::default()
    });
    let obs = of(&report, "Observation");
    assert!(obs["stored"].as_u64().unwrap() > 20, "{report}");
    assert!(
        obs["warnings"].to_string().contains("requires a category"),
        "{report}"
    );
    assert_eq!(obs["status"], "ok");
}

#[test]
fn refused_types_are_skipped_and_named_not_failed() {
    let (_env, report) = synced(Quirks {
        forbidden_types: vec!["Immunization".into()],
        ..Quirks::default()
    });
    let imm = of(&report, "Immunization");
    assert_eq!(imm["status"], "skipped", "{report}");
    assert!(imm["reason"].as_str().unwrap().contains("403"));
}

#[test]
fn a_next_link_dropped_early_is_reported_as_a_shortfall() {
    let (_env, report) = synced(Quirks {
        fixed_page_size: Some(40),
        drop_next_link: Some(("Observation".into(), 1)),
        ..Quirks::default()
    });
    // Observation: 63 announced, the first page (40) has no next link; the category queries
    // (each one page) recover the rest.
    let obs = of(&report, "Observation");
    let w = obs["warnings"].to_string();
    assert!(
        w.contains("23 missing") && w.contains("re-queried category by category"),
        "{report}"
    );
    assert_eq!(obs["stored"], 63, "{report}");
    assert_eq!(obs["completeness"]["status"], "recovered", "{report}");
}

#[test]
fn pages_counted_by_offset_are_fetched_in_parallel_whatever_later_links_say() {
    // From page 2 on the next links are gone, but page 1's link shows the offset scheme and
    // the total: pages 2 and 3 are asked for at once, and nothing is missing.
    let (ctx, report) = synced(Quirks {
        fixed_page_size: Some(25),
        drop_next_link: Some(("Observation".into(), 2)),
        ..Quirks::default()
    });
    let obs = of(&report, "Observation");
    assert_eq!(obs["stored"], 63, "{report}");
    assert_eq!(obs["pages"], 3, "{report}");
    assert_eq!(obs["warnings"], serde_json::json!([]), "{report}");
    assert_eq!(lines(&ctx, "Observation").len(), 63);
}

#[test]
fn without_last_updated_later_runs_ask_by_date_and_reconcile_compares_whole() {
    let (ctx, report) = synced(Quirks {
        no_last_updated: true,
        ..Quirks::default()
    });
    assert_eq!(of(&report, "Observation")["incremental"], false);
    // A new Observation, dated today, as a server without _lastUpdated would add it.
    let mut new = lines(&ctx, "Observation")[0].clone();
    new["id"] = serde_json::json!("obs-new-today");
    new["effectiveDateTime"] = serde_json::json!(fhirdl::datetime::now_rfc3339());
    ctx.sandbox.set_resource(new).unwrap();
    let out = ctx.fhirdl(&["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let again = json(&out);
    let obs = of(&again, "Observation");
    assert_eq!(
        (obs["strategy"].as_str(), obs["incremental_by"].as_str()),
        (Some("incremental"), Some("date")),
        "{obs}"
    );
    // Only what is dated within the last month came: the new one.
    assert_eq!(
        (obs["fetched"].as_u64(), obs["new"].as_u64()),
        (Some(1), Some(1)),
        "{obs}"
    );
    assert_eq!(
        lines(&ctx, "Observation").len() as u64,
        obs["stored"].as_u64().unwrap()
    );
    // The reconcile fetches whole and compares.
    let out = ctx.fhirdl(&["sync", "--json", "--reconcile-every", "0"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let whole = json(&out);
    let obs = of(&whole, "Observation");
    assert_eq!(obs["strategy"], "reconcile", "{obs}");
    assert_eq!(obs["new"], 0);
    assert_eq!(obs["unchanged"], obs["stored"], "{whole}");
}

#[test]
fn a_shortfall_without_categories_is_recovered_in_date_slices() {
    let (ctx, report) = synced(Quirks {
        fixed_page_size: Some(5),
        drop_next_link: Some(("Encounter".into(), 1)),
        ..Quirks::default()
    });
    let enc = of(&report, "Encounter");
    let w = enc["warnings"].to_string();
    assert!(
        w.contains("7 missing") && w.contains("_lastUpdated slices"),
        "{report}"
    );
    let patient = ctx.sandbox.users()[0].patient_id.clone();
    let expected = lines(&ctx, "Encounter").len();
    assert_eq!(enc["stored"].as_u64().unwrap() as usize, expected);
    assert_eq!(
        expected, 12,
        "all encounters of {patient} recovered: {report}"
    );
    assert_eq!(enc["completeness"]["status"], "recovered", "{report}");
    assert!(enc["completeness"]["detail"]
        .as_str()
        .unwrap()
        .contains("_lastUpdated slices"));
}

/// References to a type whose searches demand a category (NextGen's Condition) are read one by
/// one at once: an `_id` search would only be refused first (a round trip for nothing).
#[test]
fn references_to_a_type_that_demands_a_category_are_read_without_an_id_search() {
    let ctx = TestContext::new(SandboxConfig {
        quirks: Quirks::nextgen(),
        ..SandboxConfig::default()
    });
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let out = ctx.fhirdl(&["-v", "sync"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let asked = |needle: &str| err.lines().filter(|l| l.contains(needle)).count();
    assert!(
        asked("/Condition/cond-") > 0,
        "the uncategorized Conditions were not read:\n{err}"
    );
    assert_eq!(asked("/Condition?_id="), 0, "{err}");
    assert_eq!(asked("/Observation?_id="), 0, "{err}");
}

/// A profile made with the NextGen Enterprise R4 preset searches Observation, Condition and
/// CarePlan category by category from its first sync: no plain search the server refuses first
/// (a round trip), and the copy is as complete as when the refusal taught it.
#[test]
fn the_nextgen_preset_searches_by_category_from_the_first_sync() {
    let ctx = TestContext::new(SandboxConfig {
        quirks: Quirks::nextgen(),
        ..SandboxConfig::default()
    });
    assert_eq!(code(&ctx.login("a", &[])), 0);
    // The preset's name in the saved profile (its other defaults were applied at login).
    let config_file = ctx.config_dir().join("config.toml");
    let config = std::fs::read_to_string(&config_file).unwrap();
    let mut doc: toml::Table = config.parse().unwrap();
    doc["profiles"]["a"]
        .as_table_mut()
        .unwrap()
        .insert("provider".into(), "nextgen-enterprise-r4".into());
    std::fs::write(&config_file, doc.to_string()).unwrap();
    let out = ctx.fhirdl(&["-v", "sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for ty in ["Observation", "Condition", "CarePlan"] {
        let plain = err
            .lines()
            .filter(|l| l.contains(&format!("/{ty}?patient=")) && !l.contains("category="))
            .filter(|l| !l.contains("_summary=count"))
            .count();
        assert_eq!(plain, 0, "{ty} was searched without a category:\n{err}");
    }
    let report = json(&out);
    let obs = of(&report, "Observation");
    assert!(obs["stored"].as_u64().unwrap() > 20, "{report}");
    let why = obs["completeness"]["detail"].as_str().unwrap();
    assert!(why.contains("provider preset"), "{why}");
}

/// Resources of a searched type that its search cannot bring (NextGen's uncategorized
/// Conditions, which other resources refer to) are read as soon as that type is stored, while
/// the other searches still run: with every Observation search held, the Condition reads arrive.
#[test]
fn references_a_stored_type_lacks_are_read_while_other_searches_run() {
    let ctx = TestContext::new(SandboxConfig {
        quirks: Quirks::nextgen(),
        ..SandboxConfig::default()
    });
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let observations = ctx.sandbox.hold("/Observation?");
    let condition_reads = ctx.sandbox.hold("/Condition/");
    let mut c = ctx.command();
    c.args(["sync", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    let deadline = std::time::Duration::from_secs(60);
    assert!(
        observations.wait_held(1, deadline),
        "the export never searched Observation"
    );
    let early = condition_reads.wait_held(1, deadline);
    let still_searching = observations.held() >= 1;
    condition_reads.release();
    observations.release();
    let out = crate::common::wait_output(child, std::time::Duration::from_secs(120));
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        early && still_searching,
        "the uncategorized Conditions were not read while Observation was still searched"
    );
    let report = json(&out);
    assert!(of(&report, "Condition")["stored"].as_u64().unwrap() > 0);
}

/// A server that refuses some category values with 400 (while it answers the others) costs
/// fhirdl only those searches: every Observation of the accepted categories is stored, the
/// refusals are named in the type's completeness and remembered, the next run does not send
/// them again, and `--full` tries them once more.
#[test]
fn a_refused_category_costs_only_its_own_search() {
    let refused = ["procedure", "therapy", "activity"];
    let (ctx, report) = synced(Quirks {
        categories_required: vec!["Observation".into()],
        refused_categories: refused
            .iter()
            .map(|c| ("Observation".to_string(), c.to_string()))
            .collect(),
        ..Quirks::default()
    });
    let obs = of(&report, "Observation");
    let stored = obs["stored"].as_u64().unwrap();
    assert!(stored > 0, "{obs}");
    let detail = obs["completeness"]["detail"].as_str().unwrap_or_default();
    assert_eq!(obs["completeness"]["status"], "recovered", "{obs}");
    assert!(
        detail.contains("agrees; the server refuses 3 of its")
            && refused
                .iter()
                .all(|c| detail.contains(&format!("category={c}"))),
        "{detail}"
    );
    assert_eq!(lines(&ctx, "Observation").len() as u64, stored);
    let state: Value = serde_json::from_slice(
        &std::fs::read(ctx.export_dir("a").join(".fhirdl/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["types"]["Observation"]["refused_queries"],
        serde_json::json!([
            "category=procedure",
            "category=therapy",
            "category=activity"
        ])
    );
    // Later runs do not ask again; `--full` does, once per refused value.
    let asked = |extra: &[&str]| {
        let trace = ctx.root().join(format!("trace{}.jsonl", extra.len()));
        let mut args = vec!["sync", "--json", "--trace-file", trace.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = ctx.fhirdl(&args);
        assert_eq!(code(&out), 0, "{}", text(&out));
        let trace = std::fs::read_to_string(&trace).unwrap();
        refused
            .iter()
            .map(|c| trace.matches(&format!("category={c}")).count())
            .sum::<usize>()
    };
    assert_eq!(
        asked(&[]),
        0,
        "an incremental run asked a refused category again"
    );
    assert_eq!(
        asked(&["--full"]),
        3,
        "--full asks each refused category once"
    );
}

/// A whole run on a server whose searches are not known to be complete (category by category,
/// and no count) reads by id each stored resource the searches did not return: one deleted on
/// the server is removed and kept in the history, the uncategorised Conditions only references
/// reach stay, and each of them costs exactly one read.
#[test]
fn a_whole_run_reads_what_its_search_did_not_return_and_removes_only_what_is_gone() {
    let (ctx, _) = synced(Quirks::nextgen());
    let (categorised, uncategorised): (Vec<Value>, Vec<Value>) = lines(&ctx, "Condition")
        .into_iter()
        .partition(|c| c.get("category").is_some());
    assert!(categorised.len() >= 2 && !uncategorised.is_empty());
    let mut edited = categorised[0].clone();
    edited["note"] = serde_json::json!([{"text": "amended on the server"}]);
    ctx.sandbox.set_resource(edited.clone()).unwrap();
    let gone = categorised[1]["id"].as_str().unwrap().to_owned();
    assert!(ctx.sandbox.delete_resource("Condition", &gone));

    let trace = ctx.root().join("full.jsonl");
    let trace_s = trace.to_str().unwrap();
    let out = ctx.fhirdl(&["sync", "--full", "--json", "--trace-file", trace_s]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let cond = of(&report, "Condition");
    assert_eq!(
        (cond["removed"].as_u64(), cond["updated"].as_u64()),
        (Some(1), Some(1)),
        "{cond}"
    );
    assert!(
        cond["warnings"]
            .to_string()
            .contains("1 stored resources this search did not return were confirmed gone"),
        "{cond}"
    );
    let history =
        std::fs::read_to_string(ctx.export_dir("a").join(".fhirdl/history/Condition.ndjson"))
            .unwrap();
    assert!(
        history
            .lines()
            .any(|l| l.contains(r#""event":"removed""#) && l.contains(&gone)),
        "{history}"
    );
    let after = lines(&ctx, "Condition");
    let held = |id: &Value| after.iter().any(|c| &c["id"] == id);
    assert!(
        !held(&Value::from(gone.clone())),
        "the deleted Condition is still stored"
    );
    for c in &uncategorised {
        assert!(held(&c["id"]), "{} was not kept", c["id"]);
    }
    assert!(after
        .iter()
        .any(|c| c["id"] == edited["id"] && c.get("note").is_some()));

    // One read by id for each stored Condition the searches did not return, and no more.
    let mut reads = std::collections::BTreeMap::<String, usize>::new();
    for line in std::fs::read_to_string(&trace).unwrap().lines() {
        let url = serde_json::from_str::<Value>(line).unwrap()["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some((_, id)) = url.split('?').next().unwrap().rsplit_once("/Condition/") {
            *reads.entry(id.to_owned()).or_default() += 1;
        }
    }
    let mut unseen: std::collections::BTreeMap<String, usize> = uncategorised
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), 1))
        .collect();
    unseen.insert(gone, 1);
    assert_eq!(reads, unseen);
}
