//! `fhirdl bundle --profiles A,B` / `--all-profiles` and `fhirdl unbundle` of the result, end
//! to end: two sandbox servers holding the same person (same seed, so the same ids and many
//! resources of the very same text) and a third profile of another person on the first server.
//!
//! Checked: the Bundle's entries are the union of both exports, byte for byte, each at its own
//! server's URL; `fullUrl`s are unique; every relative reference resolves, by FHIR's Bundle
//! rule, to the entry of its own server; `unbundle` gives each server's NDJSON files back in a
//! folder of their own, byte for byte; `--dedupe` leaves out exactly the resources whose text
//! is already in the Bundle and says how many.

use crate::common::{code, json, text, TestContext};
use fhirdl_sandbox::{Sandbox, SandboxConfig};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct RawBundle<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    entry: Vec<RawEntry<'a>>,
}

#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(rename = "fullUrl")]
    full_url: String,
    #[serde(borrow)]
    resource: &'a RawValue,
}

/// Three synced profiles: `a` (alice at the first server), `b` (alice at the second, its own
/// sandbox) and `c` (bob at the first). The second sandbox lives as long as the returned one.
fn three_profiles() -> (TestContext, Sandbox) {
    let env = TestContext::with_defaults();
    let other = env
        .block_on(Sandbox::start(SandboxConfig::default()))
        .unwrap();
    let out = env.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let mut c = env.command();
    c.args(["login", "--profile", "b", "--fhir-base"])
        .arg(other.fhir_base().to_string())
        .args([
            "--client-id",
            "fhirdl-sandbox",
            "--credential-store",
            "file",
        ]);
    let out = env.run(c);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = env.login_as("bob", "c");
    assert_eq!(code(&out), 0, "{}", text(&out));
    for p in ["a", "b", "c"] {
        let out = env.fhirdl(&["sync", "--profile", p, "-q"]);
        assert_eq!(code(&out), 0, "{}", text(&out));
    }
    (env, other)
}

/// `<Type>.ndjson` → its lines.
fn export_lines(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(ty) = name.strip_suffix(".ndjson") {
            let text = std::fs::read_to_string(e.path()).unwrap();
            out.insert(ty.to_owned(), text.lines().map(str::to_owned).collect());
        }
    }
    out
}

/// The FHIR base an export came from.
fn base_of(dir: &Path) -> String {
    let m: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m["fhir_base"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned()
}

/// Every `reference` string in a resource.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("reference", Value::String(s)) => out.push(s.clone()),
                    _ => references(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

#[test]
fn two_providers_make_one_bundle_at_their_own_urls_and_come_back_apart() {
    let (env, _other) = three_profiles();
    let (ea, eb) = (env.export_dir("a"), env.export_dir("b"));
    let (base_a, base_b) = (base_of(&ea), base_of(&eb));
    assert_ne!(base_a, base_b);
    let (la, lb) = (export_lines(&ea), export_lines(&eb));

    let out = env.fhirdl(&["bundle", "--profiles", "a,b", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let summary = json(&out);
    let path = PathBuf::from(summary["path"].as_str().unwrap());
    assert_eq!(path, env.data_dir().join("record.bundle.json"));
    let bytes = std::fs::read(&path).unwrap();
    let bundle: RawBundle<'_> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(bundle.kind, "collection");
    assert_eq!(summary["sources"].as_array().unwrap().len(), 2, "{summary}");

    // The union of both exports, byte for byte, each line at <its base>/<Type>/<id>.
    let mut wanted: HashMap<String, String> = HashMap::new();
    let mut ids: HashMap<&str, HashSet<String>> = HashMap::new();
    for (base, lines) in [(&base_a, &la), (&base_b, &lb)] {
        for (ty, ls) in lines {
            for l in ls {
                let v: Value = serde_json::from_str(l).unwrap();
                let key = format!("{ty}/{}", v["id"].as_str().unwrap());
                wanted.insert(format!("{base}/{key}"), l.clone());
                ids.entry(base.as_str()).or_default().insert(key);
            }
        }
    }
    let shared = ids[base_a.as_str()]
        .intersection(&ids[base_b.as_str()])
        .count();
    assert!(
        shared > 10,
        "the two servers share ids ({shared}): fullUrl must tell them apart"
    );
    let total = wanted.len();
    let full_urls: HashSet<&str> = bundle.entry.iter().map(|e| e.full_url.as_str()).collect();
    assert_eq!(full_urls.len(), bundle.entry.len(), "fullUrls are unique");
    let mut binaries = 0;
    for e in &bundle.entry {
        match wanted.remove(&e.full_url) {
            Some(line) => assert_eq!(e.resource.get(), line, "{} byte for byte", e.full_url),
            None => {
                assert!(
                    e.resource.get().contains("\"resourceType\":\"Binary\""),
                    "{}",
                    e.full_url
                );
                binaries += 1;
            }
        }
    }
    assert!(
        wanted.is_empty(),
        "{} lines missing from the Bundle",
        wanted.len()
    );
    assert_eq!(bundle.entry.len(), total + binaries);

    // Relative references resolve against their entry's base, to an entry of the same server.
    let (mut resolved, mut crossing) = (0, 0);
    for e in &bundle.entry {
        let v: Value = serde_json::from_str(e.resource.get()).unwrap();
        let ty = v["resourceType"].as_str().unwrap();
        let own = e
            .full_url
            .strip_suffix(&format!("/{ty}/{}", v["id"].as_str().unwrap()));
        let Some(own) = own else { continue };
        let mut refs = Vec::new();
        references(&v, &mut refs);
        for r in refs
            .iter()
            .filter(|r| !r.contains(':') && !r.starts_with('#'))
        {
            let target = format!("{own}/{r}");
            if ids[own].contains(r.as_str()) {
                assert!(full_urls.contains(target.as_str()), "{} → {r}", e.full_url);
                resolved += 1;
                let other = if own == base_a { &base_b } else { &base_a };
                crossing += usize::from(ids[other.as_str()].contains(r.as_str()));
            }
        }
    }
    assert!(resolved > 50, "{resolved} references resolved");
    assert!(crossing > 0, "some references name an id both servers hold");

    // unbundle: a folder per server, each NDJSON file as exported (Binary.ndjson from documents).
    let lean = env.root().join("lean.json");
    let out = env.fhirdl(&[
        "bundle",
        "--profiles",
        "a,b",
        "--no-attachments",
        "--output",
        lean.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let back = env.root().join("back");
    let out = env.fhirdl(&[
        "unbundle",
        lean.to_str().unwrap(),
        "--out",
        back.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let split = json(&out);
    let folders: Vec<(String, PathBuf)> = split["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["fhir_base"].as_str().unwrap().to_owned(),
                PathBuf::from(s["folder"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(folders.len(), 2, "{split}");
    for (base, folder) in folders {
        let original = if base == base_a { &ea } else { &eb };
        assert_eq!(
            export_lines(&folder),
            export_lines(original),
            "{base}: the same NDJSON files"
        );
        for ty in export_lines(original).keys() {
            assert_eq!(
                std::fs::read(folder.join(format!("{ty}.ndjson"))).unwrap(),
                std::fs::read(original.join(format!("{ty}.ndjson"))).unwrap(),
                "{base} {ty}.ndjson byte for byte"
            );
        }
    }
    env.assert_no_leaks();
}

#[test]
fn dedupe_all_profiles_and_refusals() {
    let (env, _other) = three_profiles();
    let (la, lb) = (
        export_lines(&env.export_dir("a")),
        export_lines(&env.export_dir("b")),
    );
    let texts_a: BTreeSet<&String> = la.values().flatten().collect();
    let same: usize = lb
        .values()
        .flatten()
        .filter(|l| texts_a.contains(l))
        .count();
    assert!(same > 0, "the same seed gives resources of the same text");
    let all: usize = la.values().chain(lb.values()).map(Vec::len).sum();

    let out = env.fhirdl(&[
        "bundle",
        "--profiles",
        "a,b",
        "--dedupe",
        "--no-attachments",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = json(&out);
    assert_eq!(s["same_text"], same, "{s}");
    assert_eq!(s["sources"][1]["same_text"], same);
    assert_eq!(s["entries"], all - same);
    let out = env.fhirdl(&[
        "bundle",
        "--profiles",
        "a,b",
        "--dedupe",
        "--no-attachments",
    ]);
    assert!(
        text(&out).contains(&format!("--dedupe left out {same} resources")),
        "{}",
        text(&out)
    );

    // Every profile with an export: three sources; a and c share a server, so what both hold
    // (the same fullUrl) is written once.
    let out = env.fhirdl(&["bundle", "--all-profiles", "--no-attachments", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = json(&out);
    let profiles: Vec<&str> = s["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, ["a", "b", "c"]);
    let bytes = std::fs::read(s["path"].as_str().unwrap()).unwrap();
    let bundle: RawBundle<'_> = serde_json::from_slice(&bytes).unwrap();
    let urls: HashSet<&str> = bundle.entry.iter().map(|e| e.full_url.as_str()).collect();
    assert_eq!(urls.len(), bundle.entry.len());
    let lc = export_lines(&env.export_dir("c"));
    let key = |l: &String| {
        let v: Value = serde_json::from_str(l).unwrap();
        format!(
            "{}/{}",
            v["resourceType"].as_str().unwrap(),
            v["id"].as_str().unwrap()
        )
    };
    let ka: HashSet<String> = la.values().flatten().map(key).collect();
    let both = lc
        .values()
        .flatten()
        .filter(|l| ka.contains(&key(l)))
        .count();
    assert_eq!(s["duplicates"], both, "{s}");

    // Refusals: an unknown profile, a transaction across servers, --out with --profiles.
    for (args, says) in [
        (
            &["bundle", "--profiles", "a,nobody"][..],
            "fhirdl profile list",
        ),
        (
            &["bundle", "--profiles", "a,b", "--type", "transaction"][..],
            "collection",
        ),
    ] {
        let out = env.fhirdl(args);
        assert_eq!(code(&out), 2, "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }
    let out = env.fhirdl(&["bundle", "--profiles", "a", "--out", "x"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}
