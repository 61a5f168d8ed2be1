//! Who is who, and `fhirdl view --all-profiles` / `--profiles A,B`, end to end: two sandbox
//! providers holding the same person (alice at both; the second provider's record differs in a
//! few facts: a value changed, a fact it does not hold, one of its own), and a third profile of
//! another person (bob). The merged page is checked in headless Chromium: every row names its
//! source(s), a fact both providers hold is one row, differing values are two rows side by side.

use crate::common::{code, json, ndjson, text, TestContext};
use crate::view_bundle::{chromium, load};
use fhirdl_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One row of the page as Chromium shows it: its section and attributes.
#[derive(Debug, Clone)]
struct PageRow {
    section: String,
    id: String,
    class: String,
    sources: String,
}

/// Every element with `data-row` in `dom`, with the section it is in.
fn page_rows(dom: &str) -> Vec<PageRow> {
    let mut sections: Vec<(usize, String)> = dom
        .match_indices("data-section=\"")
        .map(|(at, m)| {
            let rest = &dom[at + m.len()..];
            (at, rest[..rest.find('"').unwrap()].to_owned())
        })
        .collect();
    sections.sort();
    let attr = |tag: &str, name: &str| -> String {
        let key = format!(" {name}=\"");
        tag.find(&key)
            .map(|i| {
                let rest = &tag[i + key.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .unwrap_or_default()
    };
    dom.match_indices(" data-row=\"")
        .map(|(at, _)| {
            let start = dom[..at].rfind('<').unwrap();
            let tag = &dom[start..start + dom[start..].find('>').unwrap()];
            let section = sections
                .iter()
                .rev()
                .find(|(s, _)| *s < at)
                .map(|(_, k)| k.clone())
                .unwrap_or_default();
            PageRow {
                section,
                id: attr(tag, "id"),
                class: attr(tag, "class"),
                sources: attr(tag, "data-sources"),
            }
        })
        .collect()
}

/// The world: profiles `clinic-a` (alice at sandbox A), `clinic-b` (alice at sandbox B, whose
/// record differs as described in the module doc) and `other` (bob at sandbox A), all synced.
struct World {
    env: TestContext,
    _second: Sandbox,
    second_base: String,
    /// How clinic-b's record differs from clinic-a's.
    changed: String,
    dropped: Vec<String>,
    added: String,
    unchanged: String,
}

fn world() -> World {
    let config = SandboxConfig {
        resources_per_patient: 60,
        ..SandboxConfig::default()
    };
    let env = TestContext::new(config.clone());
    let second = env.block_on(Sandbox::start(config)).unwrap();
    let second_base = second.fhir_base().to_string();
    let login = env.login("clinic-a", &[]);
    assert_eq!(code(&login), 0, "{}", text(&login));
    let mut c = env.command();
    c.args([
        "login",
        "--profile",
        "clinic-b",
        "--fhir-base",
        &second_base,
    ])
    .args([
        "--client-id",
        "fhirdl-sandbox",
        "--credential-store",
        "file",
    ]);
    let login = env.run(c);
    assert_eq!(code(&login), 0, "{}", text(&login));
    let login = env.login_as("bob", "other");
    assert_eq!(code(&login), 0, "{}", text(&login));
    for p in ["clinic-a", "other"] {
        let out = env.fhirdl(&["sync", "--profile", p, "-q"]);
        assert_eq!(code(&out), 0, "{p}: {}", text(&out));
    }
    // The second provider's record is the first's (one seed) but for a measured value that
    // differs, a Condition it does not hold and one only it holds, changed on that server
    // before it is synced. Each chosen fact is the only one of its concept and day, so that it
    // cannot be taken for another; they are chosen from clinic-a's copy of the same record.
    let a = env.export_dir("clinic-a");
    let obs = ndjson(&a.join("Observation.ndjson"));
    let mut measured = obs
        .iter()
        .find(|o| o["valueQuantity"]["value"].is_number() && alone(&obs, o, "effectiveDateTime"))
        .expect("a measured Observation")
        .clone();
    let changed = measured["id"].as_str().unwrap().to_owned();
    let v = measured["valueQuantity"]["value"].as_f64().unwrap();
    measured["valueQuantity"]["value"] = serde_json::json!(v + 7.0);
    second.set_resource(measured).unwrap();
    let conds = ndjson(&a.join("Condition.ndjson"));
    let dated: Vec<&Value> = conds
        .iter()
        .filter(|c| alone(&conds, c, "onsetDateTime"))
        .collect();
    assert!(dated.len() >= 2, "the record has dated Conditions");
    let dropped = vec![dated[0]["id"].as_str().unwrap().to_owned()];
    assert!(second.delete_resource("Condition", &dropped[0]));
    let unchanged = dated[1]["id"].as_str().unwrap().to_owned();
    let mut own = dated[1].clone();
    own["id"] = "only-at-b".into();
    own["onsetDateTime"] = "2024-12-30".into();
    own["code"] = serde_json::json!({"coding": [{"system": "http://snomed.info/sct",
        "code": "38341003", "display": "Hypertension"}], "text": "Hypertension (Ärztin)"});
    second.set_resource(own).unwrap();
    let out = env.fhirdl(&["sync", "--profile", "clinic-b", "-q"]);
    assert_eq!(code(&out), 0, "clinic-b: {}", text(&out));
    World {
        env,
        _second: second,
        second_base,
        changed,
        dropped,
        added: "only-at-b".into(),
        unchanged,
    }
}

/// Whether `r` has a coded concept and a date (`field`), and no other resource of `all` shares
/// a coding of it on that day.
fn alone(all: &[Value], r: &Value, field: &str) -> bool {
    let key = |v: &Value| -> Vec<(String, String)> {
        let day: String = v[field].as_str().unwrap_or("").chars().take(10).collect();
        v["code"]["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    format!("{}|{}", c["system"].as_str()?, c["code"].as_str()?),
                    day.clone(),
                ))
            })
            .filter(|(_, d)| d.len() == 10)
            .collect()
    };
    let mine = key(r);
    !mine.is_empty()
        && all
            .iter()
            .filter(|o| o["id"] != r["id"])
            .all(|o| key(o).iter().all(|k| !mine.contains(k)))
}

fn row<'a>(rows: &'a [PageRow], id: &str) -> Option<&'a PageRow> {
    rows.iter().find(|r| r.id == id)
}

#[test]
fn one_person_at_two_providers_is_one_page_and_another_person_is_refused() {
    let w = world();
    let env = &w.env;

    // Who is who.
    let out = env.fhirdl(&["profile", "list", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let people: Vec<Vec<String>> = json(&out)["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| serde_json::from_value(p["profiles"].clone()).unwrap())
        .collect();
    assert_eq!(people, [vec!["clinic-a", "clinic-b"], vec!["other"]]);

    // A different person is refused, and said why, unless --force.
    let out = env.fhirdl(&["view", "--profiles", "clinic-a,other"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("different people") && err.contains("--force"),
        "{err}"
    );
    let forced = env.root().join("forced.html");
    let out = env.fhirdl(&[
        "view",
        "--profiles",
        "clinic-a,other",
        "--force",
        "--page",
        forced.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    // The user's word overrides the exports'.
    let out = env.fhirdl(&["profile", "unlink", "clinic-a", "clinic-b"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(code(&env.fhirdl(&["view", "--all-profiles"])), 2);
    let out = env.fhirdl(&["view", "--profiles", "clinic-b,clinic-a"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("profile link clinic-b clinic-a"),
        "{}",
        text(&out)
    );
    assert_eq!(
        code(&env.fhirdl(&["profile", "link", "clinic-a", "clinic-b"])),
        0
    );

    let page = env.root().join("merged").join("record.html");
    let out = env.fhirdl(&[
        "view",
        "--profiles",
        "clinic-a,clinic-b",
        "--page",
        page.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let sources: Vec<&str> = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["profile"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["clinic-a", "clinic-b"]);
    let base = report["sources"][1]["fhir_base"].as_str().unwrap();
    assert_eq!(
        base.trim_end_matches('/'),
        w.second_base.trim_end_matches('/')
    );
    let counted: BTreeMap<String, (u64, u64)> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let name = s["name"].as_str().unwrap().to_owned();
            (
                name,
                (s["rows"].as_u64().unwrap(), s["merged"].as_u64().unwrap()),
            )
        })
        .collect();
    assert!(counted["problems"].1 > 0 && counted["vitals"].1 + counted["labs"].1 > 0);

    let html = std::fs::read_to_string(&page).unwrap();
    check_merged(&w, &html, &counted);
    let Some(browser) = chromium() else { return };
    let dump = load(&browser, &page, None);
    assert!(dump.page_requests.is_empty() && dump.proxied_for_page.is_empty());
    check_merged(&w, &dump.dom, &counted);
    if let Some(axe) = axe_core() {
        assert_eq!(
            violations(&browser, &axe, &page),
            "[]",
            "axe-core on the merged page"
        );
    }
    shot(&browser, &page);
}

// ---------------------------------------------------------------------------------------------
// Accessibility: axe-core's rules in Chromium

/// axe-core's `axe.min.js` (npm package `axe-core`; `.ci/run` installs it under
/// `target/axe/`, or set `FHIRDL_AXE`), or `None` (after saying so loudly) outside CI.
fn axe_core() -> Option<PathBuf> {
    let path = std::env::var_os("FHIRDL_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/axe/node_modules/axe-core/axe.min.js")
        });
    if path.is_file() {
        return Some(path);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "axe-core is required in CI: npm install --prefix target/axe axe-core (.ci/run does)"
    );
    eprintln!(
        "\n*** SKIPPED: axe-core was not found at {} (npm install --prefix target/axe axe-core, or set FHIRDL_AXE); \
         the page was NOT checked for accessibility ***\n",
        path.display()
    );
    None
}

/// axe-core's violations on `page` in headless Chromium, as JSON (`[]` when none). The page
/// is checked as a copy beside it with axe-core and a runner added (its Content-Security-Policy,
/// which allows only its own script, taken out); the runner writes the result into the DOM.
fn violations(browser: &Path, axe: &Path, page: &Path) -> String {
    let html = std::fs::read_to_string(page).unwrap();
    let csp_at = html.find("<meta http-equiv=\"Content-Security-Policy\"");
    let html = match csp_at {
        Some(at) => {
            let end = at + html[at..].find('>').unwrap() + 1;
            format!("{}{}", &html[..at], &html[end..])
        }
        None => html,
    };
    let runner = format!(
        "<script>{}</script><script>{}</script></body>",
        std::fs::read_to_string(axe).unwrap(),
        r#"axe.run(document, {resultTypes: ['violations']}).then(function (r) {
  var pre = document.createElement('pre'); pre.id = 'axe-result';
  pre.textContent = JSON.stringify(r.violations.map(function (v) {
    return {id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map(function (n) { return n.target.join(' '); })};
  }));
  document.body.appendChild(pre);
}, function (e) {
  var pre = document.createElement('pre'); pre.id = 'axe-result'; pre.textContent = 'axe failed: ' + e;
  document.body.appendChild(pre);
});"#
    );
    let copy = page.with_file_name(".axe-copy.html");
    std::fs::write(&copy, html.replacen("</body>", &runner, 1)).unwrap();
    let dump = crate::view_bundle::load_with(browser, &copy, &["--virtual-time-budget=60000"]);
    std::fs::remove_file(&copy).unwrap();
    let start = dump
        .dom
        .find("<pre id=\"axe-result\">")
        .expect("axe-core ran and wrote its result")
        + "<pre id=\"axe-result\">".len();
    let end = start + dump.dom[start..].find("</pre>").unwrap();
    dump.dom[start..end]
        .replace("&quot;", "\"")
        .replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&amp;", "&")
}

#[test]
fn the_single_provider_page_passes_axe_core_and_axe_core_catches_a_bad_page() {
    let env = TestContext::with_defaults();
    let demo = env.root().join("demo");
    let out = env.fhirdl(&["demo", "--dir", demo.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let page = PathBuf::from(json(&out)["record_html"].as_str().unwrap());
    let (Some(browser), Some(axe)) = (chromium(), axe_core()) else {
        return;
    };
    assert_eq!(
        violations(&browser, &axe, &page),
        "[]",
        "axe-core on the page"
    );
    // The control: a page without a language and an image without a text alternative.
    let bad = env.root().join("bad.html");
    std::fs::write(&bad, "<!DOCTYPE html><html><head><title>x</title></head><body><main><img src=\"data:,\"></main></body></html>").unwrap();
    let found = violations(&browser, &axe, &bad);
    assert!(
        found.contains("html-has-lang") && found.contains("image-alt"),
        "{found}"
    );
}

/// The merged page's rows against what was done to the second export, and against `--json`.
fn check_merged(w: &World, dom: &str, counted: &BTreeMap<String, (u64, u64)>) {
    let rows = page_rows(dom);
    let shown: Vec<&PageRow> = rows.iter().filter(|r| r.section != "about").collect();
    assert!(!shown.is_empty());
    for r in &shown {
        assert!(!r.sources.is_empty(), "a row without its source: {r:?}");
    }
    for (name, (n, merged)) in counted {
        let here: Vec<&&PageRow> = shown.iter().filter(|r| &r.section == name).collect();
        assert_eq!(here.len() as u64, *n, "rows of {name}");
        let both = here
            .iter()
            .filter(|r| r.sources == "clinic-a clinic-b")
            .count();
        assert_eq!(both as u64, *merged, "merged rows of {name}");
    }
    // The same fact from both: one row, both sources, no row of B's copy.
    let kept = row(&rows, &format!("r-Condition-clinic-a_{}", w.unchanged)).unwrap();
    assert_eq!(kept.sources, "clinic-a clinic-b");
    assert!(row(&rows, &format!("r-Condition-clinic-b_{}", w.unchanged)).is_none());
    // Only at one.
    for id in &w.dropped {
        assert_eq!(
            row(&rows, &format!("r-Condition-clinic-a_{id}"))
                .unwrap()
                .sources,
            "clinic-a"
        );
    }
    assert_eq!(
        row(&rows, &format!("r-Condition-clinic-b_{}", w.added))
            .unwrap()
            .sources,
        "clinic-b"
    );
    // Differing values: both rows, next to each other, marked.
    let a = format!("r-Observation-clinic-a_{}", w.changed);
    let b = format!("r-Observation-clinic-b_{}", w.changed);
    let ia = rows.iter().position(|r| r.id == a).unwrap();
    assert_eq!(rows[ia + 1].id, b, "side by side");
    for r in [&rows[ia], &rows[ia + 1]] {
        assert!(r.class.split(' ').any(|c| c == "differs"), "{r:?}");
    }
    // The header names both sources, with their servers.
    for s in ["clinic-a", "clinic-b"] {
        assert!(
            dom.contains(&format!("<tr data-source=\"{s}\">")),
            "source {s}"
        );
    }
    assert!(dom.contains(w.second_base.trim_end_matches('/')));
    assert!(dom.contains("Hypertension (Ärztin)"));
}

/// `FHIRDL_UPDATE_SCREENSHOT=1`: the README's screenshot, of this merged record.
fn shot(browser: &Path, page: &Path) {
    if std::env::var_os("FHIRDL_UPDATE_SCREENSHOT").is_none() {
        return;
    }
    let png: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/record.png");
    load(browser, page, Some(&png));
    eprintln!("wrote {}", png.display());
}

#[test]
fn a_proxys_patients_are_never_one_person() {
    let env = TestContext::new(SandboxConfig {
        resources_per_patient: 20,
        ..SandboxConfig::default()
    });
    let users = env.sandbox.users();
    for u in &users[..2] {
        let out = crate::signin::proxy_login(&env, &format!("--patient {}", u.patient_id), &[]);
        assert_eq!(code(&out), 0, "{}", text(&out));
    }
    let second = format!("kids-{}", users[1].patient_id);
    for p in ["kids", second.as_str()] {
        let out = env.fhirdl(&["sync", "--profile", p, "-q"]);
        assert_eq!(code(&out), 0, "{p}: {}", text(&out));
    }
    let out = env.fhirdl(&["profile", "list", "--json"]);
    let people: Vec<Vec<String>> = json(&out)["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| serde_json::from_value(p["profiles"].clone()).unwrap())
        .collect();
    assert_eq!(people, [vec!["kids".to_string()], vec![second.clone()]]);
    let out = env.fhirdl(&["profile", "link", "kids", &second]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("cannot be linked"), "{}", text(&out));
    let both = format!("kids,{second}");
    let out = env.fhirdl(&["view", "--profiles", &both]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("different people") && !err.contains("profile link"),
        "{err}"
    );
}
