//! `fhirdl directory update` and `fhirdl find`, run as the real binary against the sandbox's
//! own published directory (`/directory/*`, one document per shape) and a small server made
//! here that serves a fixture, then fails.

use crate::common::{code, json, text, TestContext};
use serde_json::Value;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The sandbox's directory document `name`.
fn doc(ctx: &TestContext, name: &str) -> String {
    let mut url = url::Url::parse(&ctx.base()).unwrap();
    url.set_path(&format!("/directory/{name}"));
    url.to_string()
}

fn update(ctx: &TestContext, sources: &[&str]) -> Output {
    let mut args = vec!["directory", "update", "--json"];
    for s in sources {
        args.extend(["--source", s]);
    }
    ctx.fhirdl(&args)
}

fn find(ctx: &TestContext, words: &[&str]) -> Output {
    let mut args = vec!["find", "--json"];
    args.extend(words);
    ctx.fhirdl(&args)
}

/// The names of a `find --json` answer, best first.
fn names(out: &Output) -> Vec<String> {
    json(out)["matches"]
        .as_array()
        .unwrap_or_else(|| panic!("no matches array:\n{}", text(out)))
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn source<'a>(report: &'a Value, url: &str) -> &'a Value {
    report["sources"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["url"] == url))
        .unwrap_or_else(|| panic!("{url} is not in the report: {report:#}"))
}

#[test]
fn every_shape_is_read_and_placeholders_are_dropped() {
    let ctx = TestContext::with_defaults();
    let (brands, endpoints, orgs) = (
        doc(&ctx, "brands.json"),
        doc(&ctx, "endpoints.json"),
        doc(&ctx, "organizations.json"),
    );
    let out = update(&ctx, &[&brands, &endpoints, &orgs]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    // Brands: the brand and two facilities; "Test Practice" and the example.org clinic dropped.
    for (url, organizations, dropped) in [(&brands, 3, 2), (&endpoints, 1, 1), (&orgs, 2, 1)] {
        let s = source(&report, url);
        assert_eq!(s["state"], "updated", "{s}");
        assert_eq!(s["organizations"], organizations, "{s}");
        assert_eq!(s["dropped"], dropped, "{s}");
    }
    assert_eq!(
        names(&find(&ctx, &["lakeview", "internal"])),
        ["Lakeview Internal Medicine"]
    );
    assert_eq!(names(&find(&ctx, &["harbor", "eye"])), ["Harbor Eye Care"]);
    let facility = json(&find(&ctx, &["riverside", "pediatrics"]));
    let first = &facility["matches"][0];
    assert_eq!(first["name"], "Riverside Pediatrics");
    assert_eq!(first["portal"], "Riverside MyHealth");
    assert_eq!(first["fhir_base"], ctx.base().trim_end_matches('/'));
    assert_eq!(first["fhir_version"], "4.0.1");
    assert_eq!(first["address"], "80 Oak Ave, Peoria, IL 61602");
    for placeholder in [
        &["test", "practice"][..],
        &["demo", "clinic"],
        &["elsewhere", "clinic"],
    ] {
        let out = find(&ctx, placeholder);
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert!(
            !names(&out)
                .iter()
                .any(|n| n.contains("Test") || n.contains("Demo") || n.contains("Elsewhere")),
            "{}",
            text(&out)
        );
    }
    ctx.shutdown();
}

#[test]
fn typos_and_word_order_find_the_practice_with_the_documented_json() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&update(&ctx, &[&doc(&ctx, "brands.json")])), 0);
    let out = find(&ctx, &["sunrize", "famly", "medicne"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let m = &json(&out)["matches"][0];
    assert_eq!(m["name"], "Sunrise Family Medicine");
    let mut keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "address",
            "fhir_base",
            "fhir_version",
            "id",
            "name",
            "portal",
            "source",
            "vendor"
        ]
    );
    assert_eq!(
        names(&find(&ctx, &["medicine", "family", "sunrise"]))[0],
        "Sunrise Family Medicine"
    );
    // The human answer ends with the command that signs in.
    let id = m["id"].as_str().unwrap();
    let out = ctx.fhirdl(&["find", "sunrise", "family"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("fhirdl login --practice {id}")),
        "{}",
        text(&out)
    );
    // Filters narrow.
    assert!(names(&find(&ctx, &["sunrise", "--state", "WI"])).is_empty());
    assert_eq!(
        names(&find(&ctx, &["riverside", "--city", "peoria"])),
        ["Riverside Pediatrics"]
    );
    ctx.shutdown();
}

#[test]
fn one_base_listed_by_two_sources_is_one_endpoint_with_both_organizations() {
    let ctx = TestContext::with_defaults();
    let (brands, orgs) = (doc(&ctx, "brands.json"), doc(&ctx, "organizations.json"));
    assert_eq!(code(&update(&ctx, &[&brands, &orgs])), 0);
    let sunrise = json(&find(&ctx, &["sunrise", "family"]));
    let maple = json(&find(&ctx, &["maple", "grove"]));
    assert_eq!(
        sunrise["matches"][0]["fhir_base"],
        maple["matches"][0]["fhir_base"]
    );
    assert_eq!(sunrise["matches"][0]["source"], brands.as_str());
    assert_eq!(maple["matches"][0]["source"], orgs.as_str());
    let index = fhirdl::directory::index::path(&ctx.data_dir());
    let conn = rusqlite::Connection::open(index).unwrap();
    let endpoints: i64 = conn
        .query_row("SELECT count(*) FROM endpoints", [], |r| r.get(0))
        .unwrap();
    assert_eq!(endpoints, 1);
    ctx.shutdown();
}

#[test]
fn a_304_keeps_the_rows_and_gzip_is_read() {
    let ctx = TestContext::with_defaults();
    let gz = doc(&ctx, "brands.json.gz");
    let first = update(&ctx, &[&gz]);
    assert_eq!(code(&first), 0, "{}", text(&first));
    assert_eq!(source(&json(&first), &gz)["organizations"], 3);
    let again = update(&ctx, &[&gz]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    let s = source(&json(&again), &gz).clone();
    assert_eq!(s["state"], "not_modified", "{s}");
    assert_eq!(s["bytes"], 0, "{s}");
    assert_eq!(s["organizations"], 3, "{s}");
    assert_eq!(
        names(&find(&ctx, &["sunrise", "family", "medicine"]))[0],
        "Sunrise Family Medicine"
    );
    ctx.shutdown();
}

#[test]
fn a_failing_source_keeps_its_rows_and_the_others_still_update() {
    let ctx = TestContext::with_defaults();
    let broken = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&broken);
    let fixture = include_str!("../fixtures/directory/organizations.json");
    let mirror = ctx.serve(move |_| {
        axum::Router::new().route(
            "/orgs.json",
            axum::routing::get(move || {
                let broken = flag.load(Ordering::SeqCst);
                async move {
                    match broken {
                        true => {
                            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down").into_response()
                        }
                        false => fixture.into_response(),
                    }
                }
            }),
        )
    });
    use axum::response::IntoResponse;
    let orgs = mirror.url("/orgs.json");
    let brands = doc(&ctx, "brands.json");
    assert_eq!(code(&update(&ctx, &[&orgs, &brands])), 0);
    broken.store(true, Ordering::SeqCst);
    let out = update(&ctx, &[&orgs, &brands]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    let report = json(&out);
    let failed = source(&report, &orgs);
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("500"),
        "{failed}"
    );
    assert_eq!(failed["organizations"], 2, "{failed}");
    assert_eq!(source(&report, &brands)["state"], "not_modified");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&orgs) && stderr.contains("kept"),
        "{}",
        text(&out)
    );
    assert_eq!(
        names(&find(&ctx, &["maple", "grove"])),
        ["Maple Grove Internal Medicine"]
    );
    ctx.shutdown();
}

#[test]
fn a_missing_an_old_or_a_stale_index_says_how_to_update() {
    let ctx = TestContext::with_defaults();
    let out = find(&ctx, &["sunrise"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fhirdl directory update"), "{}", text(&out));

    // An index an older fhirdl wrote (another layout) is not read, and is rebuilt.
    let path = fhirdl::directory::index::path(&ctx.data_dir());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE practices(name TEXT); PRAGMA user_version = 0;")
        .unwrap();
    drop(conn);
    let out = find(&ctx, &["sunrise"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another fhirdl"),
        "{}",
        text(&out)
    );
    let out = update(&ctx, &[&doc(&ctx, "brands.json")]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(json(&out)["rebuilt_from_version"], 0);
    assert_eq!(
        names(&find(&ctx, &["sunrise", "family"]))[0],
        "Sunrise Family Medicine"
    );

    // Downloaded more than 30 days ago: still answered, with a warning.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE sources SET fetched_at = fetched_at - 40 * 86400",
        [],
    )
    .unwrap();
    drop(conn);
    let out = find(&ctx, &["sunrise", "family"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("40 d") && stderr.contains("fhirdl directory update"),
        "{}",
        text(&out)
    );
    ctx.shutdown();
}

/// `fhirdl login --practice …` (alice, file store), with `extra` flags.
fn login_practice(ctx: &TestContext, profile: &str, practice: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "login",
        "--profile",
        profile,
        "--practice",
        practice,
        "--credential-store",
        "file",
        "--timeout",
        "20s",
    ];
    args.extend(extra);
    ctx.fhirdl(&args)
}

#[test]
fn login_by_practice_remembers_the_organization_and_the_client_id() {
    let ctx = TestContext::with_defaults();
    let (brands, endpoints) = (doc(&ctx, "brands.json"), doc(&ctx, "endpoints.json"));
    assert_eq!(code(&update(&ctx, &[&brands, &endpoints])), 0);
    // Words that match one practice pick it.
    let out = login_practice(
        &ctx,
        "sunrise",
        "sunrize family medicine",
        &["--client-id", "fhirdl-sandbox"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let status = json(&ctx.fhirdl(&["status", "--profile", "sunrise", "--json"]));
    let profile = &status["profiles"][0];
    assert_eq!(
        profile["practice"]["name"], "Sunrise Family Medicine",
        "{status:#}"
    );
    assert_eq!(profile["fhir_base"], ctx.base().trim_end_matches('/'));
    let human = ctx.fhirdl(&["status", "--all"]);
    assert!(
        String::from_utf8_lossy(&human.stdout)
            .contains("practice:      Sunrise Family Medicine, 12 Dawn Street"),
        "{}",
        text(&human)
    );
    // The export and its page name the practice.
    let out = ctx.fhirdl(&[
        "sync",
        "--profile",
        "sunrise",
        "--types",
        "Patient",
        "--view",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let export = ctx.export_dir("sunrise");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(export.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["practice"], "Sunrise Family Medicine");
    let page = std::fs::read_to_string(export.join("record.html")).unwrap();
    assert!(page.contains("Sunrise Family Medicine"));
    // A second practice on the same server: by its id, and without --client-id.
    let id = json(&find(&ctx, &["lakeview", "internal", "medicine"]))["matches"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = login_practice(&ctx, "lakeview", &id, &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let status = json(&ctx.fhirdl(&["status", "--profile", "lakeview", "--json"]));
    assert_eq!(
        status["profiles"][0]["practice"]["name"], "Lakeview Internal Medicine",
        "{status:#}"
    );
    ctx.shutdown();
}

#[test]
fn several_matching_practices_without_a_terminal_exit_2_and_are_listed() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&update(&ctx, &[&doc(&ctx, "brands.json")])), 0);
    let out = login_practice(
        &ctx,
        "river",
        "riverside",
        &["--client-id", "fhirdl-sandbox"],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Riverside Health") && stderr.contains("Riverside Pediatrics"),
        "{}",
        text(&out)
    );
    assert!(
        stderr.contains("fhirdl login --practice "),
        "{}",
        text(&out)
    );
    let out = login_practice(
        &ctx,
        "none",
        "orthodontics kalamazoo",
        &["--client-id", "fhirdl-sandbox"],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        !ctx.config_dir().join("config.toml").exists()
            || !std::fs::read_to_string(ctx.config_dir().join("config.toml"))
                .unwrap()
                .contains("[profiles.river]")
    );
    ctx.shutdown();
}

#[test]
fn check_probes_each_shown_endpoint() {
    let ctx = TestContext::with_defaults();
    // A directory whose one practice lists an address that is no FHIR server (no /metadata).
    let mirror = ctx.serve(|origin| {
        let doc = serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Organization", "id": "o", "name": "Stale Valley Clinic",
                          "endpoint": [{"reference": "Endpoint/e"}]}},
            {"resource": {"resourceType": "Endpoint", "id": "e", "status": "active",
                          "address": format!("{origin}/gone/r4")}}]});
        axum::Router::new().route(
            "/dir.json",
            axum::routing::get(move || std::future::ready(axum::Json(doc.clone()))),
        )
    });
    assert_eq!(
        code(&update(
            &ctx,
            &[&doc(&ctx, "brands.json"), &mirror.url("/dir.json")]
        )),
        0
    );
    let out = ctx.fhirdl(&["find", "--json", "--check", "sunrise", "family"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let check = &json(&out)["matches"][0]["check"];
    assert_eq!(check["status"], "ok", "{check}");
    assert_eq!(check["smart"], true, "{check}");
    let out = ctx.fhirdl(&["find", "--check", "stale", "valley"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("check:    not a FHIR server: its /metadata answered HTTP 404"),
        "{}",
        text(&out)
    );
    ctx.shutdown();
}

#[test]
fn several_matching_practices_on_a_terminal_are_offered_to_choose_from() {
    use crate::common::pty::Terminal;
    use std::time::Duration;
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&update(&ctx, &[&doc(&ctx, "brands.json")])), 0);
    let mut cmd = ctx.command();
    cmd.args([
        "login",
        "--profile",
        "river",
        "--practice",
        "riverside",
        "--client-id",
        "fhirdl-sandbox",
    ])
    .args(["--credential-store", "file", "--timeout", "20s"]);
    let term = Terminal::spawn_interactive(cmd);
    term.wait_for("the question", Duration::from_secs(30), |t| {
        t.contains("Which one?")
    });
    term.type_line("2");
    let (out, raw) = term.finish(Duration::from_secs(60));
    let screen = crate::common::pty::plain(&raw);
    assert_eq!(code(&out), 0, "{}\n{screen}", text(&out));
    let second = screen
        .lines()
        .find_map(|l| l.trim().strip_prefix("2. "))
        .and_then(|l| l.split(" (id ").next())
        .and_then(|l| l.split(", ").next())
        .unwrap_or_else(|| panic!("no second choice on the terminal:\n{screen}"))
        .to_string();
    let status = json(&ctx.fhirdl(&["status", "--profile", "river", "--json"]));
    assert_eq!(
        status["profiles"][0]["practice"]["name"],
        second.as_str(),
        "{status:#}\n{screen}"
    );
    ctx.shutdown();
}
