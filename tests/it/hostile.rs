//! A hostile server and hostile input. Each case starts from a good export made against the
//! honest sandbox, turns the sandbox hostile (`Sandbox::set_hostile`) and syncs again. Every case
//! must end in a clear error or a safe skip (named in the report), the previous files of a type
//! that failed must stay byte-equal with its state mark unchanged, and nothing may be written
//! outside the export folder: the folder's parent holds only the folder, and no file appears or
//! disappears anywhere else under the test's root. No two paths in the export may be equal but for
//! case (they would merge on a case-insensitive file system).

use crate::common::{code, snapshot, text, type_report, walk, TestContext};
use fhirdl_sandbox::{Hostile, HostileAnswer, HostileBody, HostileLink, SandboxConfig};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// A signed-in sandbox with a good export in `<root>/jail/out`.
struct Case {
    ctx: TestContext,
    out: PathBuf,
    patient: String,
    /// Every file of the first, good export.
    good: BTreeMap<String, Vec<u8>>,
    outside: BTreeSet<String>,
}

impl Case {
    fn new() -> Case {
        let ctx = TestContext::new(SandboxConfig {
            resources_per_patient: 60,
            ..SandboxConfig::default()
        });
        let out = ctx.root().join("jail").join("out");
        let login = ctx.login("a", &[]);
        assert_eq!(code(&login), 0, "{}", text(&login));
        let patient = ctx.sandbox.users()[0].patient_id.clone();
        let first = ctx.fhirdl(&["sync", "--format", "both", "--out", out.to_str().unwrap()]);
        assert_eq!(code(&first), 0, "{}", text(&first));
        let good = snapshot(&out);
        let mut case = Case {
            ctx,
            out,
            patient,
            good,
            outside: BTreeSet::new(),
        };
        case.outside = case.outside_paths();
        case
    }

    /// Every path under the test's root that is not in the export folder.
    fn outside_paths(&self) -> BTreeSet<String> {
        walk(self.ctx.root())
            .into_iter()
            .filter(|p| !p.starts_with(&self.out))
            .map(|p| p.display().to_string())
            .collect()
    }

    fn sync(&self, extra_env: &[(&str, &str)]) -> (std::process::Output, Value) {
        let mut c = self.ctx.command();
        c.args([
            "sync",
            "--json",
            "--format",
            "both",
            "--out",
            self.out.to_str().unwrap(),
        ]);
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let out = self.ctx.run(c);
        let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out, report)
    }

    fn observation(&self, id: impl Into<Value>) -> Value {
        json!({"resourceType": "Observation", "id": id.into(), "status": "final",
               "code": {"text": "hostile"}, "subject": {"reference": format!("Patient/{}", self.patient)}})
    }

    /// Nothing written outside the export folder; no case-insensitive twins inside it.
    fn assert_confined(&self) {
        assert_eq!(
            self.outside_paths(),
            self.outside,
            "files appeared or vanished outside the export folder"
        );
        let jail: Vec<String> = std::fs::read_dir(self.out.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(jail, vec!["out".to_string()]);
        let mut folded = BTreeSet::new();
        for p in walk(&self.out) {
            let rel = p.strip_prefix(&self.out).unwrap().to_string_lossy();
            assert!(
                folded.insert(rel.to_lowercase()),
                "{rel} collides with another path on a case-insensitive file system"
            );
            assert!(!rel.contains("escape"), "{rel}");
        }
        self.ctx.assert_no_leaks();
    }

    /// The failed type kept its previous file (and pretty files) byte for byte, and its state.
    fn assert_type_kept(&self, ty: &str) {
        let now = snapshot(&self.out);
        for (rel, bytes) in &self.good {
            if rel == &format!("{ty}.ndjson") || rel.starts_with(&format!("json/{ty}/")) {
                assert!(now.get(rel) == Some(bytes), "{rel} changed");
            }
        }
        let state = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap()["types"][ty].clone();
        assert_eq!(
            state(&now[".fhirdl/state.json"]),
            state(&self.good[".fhirdl/state.json"]),
            "the state of {ty} must not advance"
        );
    }
}

fn warnings(report: &Value, ty: &str) -> Vec<String> {
    type_report(report, ty)["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A failed type: exit 3, its reason contains `why`, the others saved, the old file kept.
fn assert_failed_cleanly(
    case: &Case,
    out: &std::process::Output,
    report: &Value,
    ty: &str,
    why: &str,
) {
    assert_eq!(code(out), 3, "{}", text(out));
    let t = type_report(report, ty);
    assert_eq!(t["status"], "failed", "{report}");
    let reason = t["reason"].as_str().unwrap_or("");
    assert!(reason.contains(why), "{ty}: {reason}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(ty),
        "the failed type is named: {}",
        text(out)
    );
    assert_eq!(type_report(report, "Condition")["status"], "unchanged");
    case.assert_type_kept(ty);
    case.assert_confined();
}

fn dropped(report: &Value) -> Vec<(String, String, String)> {
    report["types"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["dropped"].as_array().cloned().unwrap_or_default())
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
            (s("resource_type"), s("id"), s("reason"))
        })
        .collect()
}

#[test]
fn hostile_ids_wrong_types_and_other_patients_are_dropped_and_named() {
    let case = Case::new();
    let bad_ids = [
        "../../../escape".to_string(),
        "a/escape".to_string(),
        "a\\escape".to_string(),
        "nul\0escape".to_string(),
        "x".repeat(65),
        "x".repeat(100_000),
        "ünïcode-escape".to_string(),
        "space escape".to_string(),
        String::new(),
    ];
    let mut inject: Vec<(String, Value)> = bad_ids
        .iter()
        .map(|id| ("Observation".to_string(), case.observation(id.as_str())))
        .collect();
    inject.push(("Observation".into(), case.observation(42)));
    let mut no_id = case.observation("x");
    no_id.as_object_mut().unwrap().remove("id");
    inject.push(("Observation".into(), no_id));
    inject.push((
        "Observation".into(),
        json!({"resourceType": "Condition", "id": "wrong-type-1",
               "subject": {"reference": format!("Patient/{}", case.patient)}}),
    ));
    inject.push((
        "Observation".into(),
        json!({"resourceType": "Observation", "id": "other-patient-1", "status": "final",
               "subject": {"reference": "Patient/someone-else"}}),
    ));
    inject.push(("Observation".into(), json!("not even an object")));
    case.ctx.sandbox.set_hostile(Hostile {
        inject,
        ..Hostile::default()
    });
    let (out, report) = case.sync(&[]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    let dropped = dropped(&report);
    let count = |s: &str| dropped.iter().filter(|d| d.2.contains(s)).count();
    assert_eq!(
        count("breaks the FHIR id syntax"),
        bad_ids.len(),
        "{dropped:?}"
    );
    assert_eq!(count("its id is not a string"), 1, "{dropped:?}");
    assert_eq!(count("it has no id"), 1, "{dropped:?}");
    assert_eq!(
        count("the Observation search returned a Condition"),
        1,
        "{dropped:?}"
    );
    assert_eq!(
        count("another patient (Patient/someone-else)"),
        1,
        "{dropped:?}"
    );
    assert_eq!(count("is not a resource"), 1, "{dropped:?}");
    assert_eq!(dropped.len(), bad_ids.len() + 5, "{dropped:?}");
    // The long id is cut in the report, with its length said.
    assert!(
        dropped
            .iter()
            .any(|d| d.1.ends_with("… (100000 characters)") && d.1.len() < 200),
        "{dropped:?}"
    );
    let last_run: Value =
        serde_json::from_slice(&std::fs::read(case.out.join(".fhirdl/last_run.json")).unwrap())
            .unwrap();
    assert_eq!(
        last_run["dropped"].as_array().map(Vec::len),
        Some(dropped.len()),
        "{last_run}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{} resources the server sent were not stored",
            dropped.len()
        )),
        "{stderr}"
    );
    let human = case
        .ctx
        .fhirdl(&["sync", "--out", case.out.to_str().unwrap()]);
    assert_eq!(code(&human), 3, "{}", text(&human));
    let summary = String::from_utf8_lossy(&human.stdout);
    for line in [
        "not stored: Observation/other-patient-1: it belongs to another patient",
        "not stored: Condition/wrong-type-1: the Observation search returned a Condition",
        "not stored: Observation (no id): it has no id",
    ] {
        assert!(summary.contains(line), "{line}\n{summary}");
    }
    for (file, id) in [
        ("Observation.ndjson", "other-patient-1"),
        ("Condition.ndjson", "wrong-type-1"),
        ("Observation.ndjson", "wrong-type-1"),
    ] {
        let text = std::fs::read_to_string(case.out.join(file)).unwrap();
        assert!(!text.contains(id), "{id} in {file}");
    }
    assert_eq!(
        std::fs::read(case.out.join("Observation.ndjson")).unwrap(),
        case.good["Observation.ndjson"],
        "nothing hostile was added"
    );
    case.assert_confined();
}

#[test]
fn legal_ids_that_are_not_file_names_are_kept_under_safe_names() {
    let case = Case::new();
    let ids = [".", "..", "a.", "CON", "aux.txt", "com1", "LPT9"];
    case.ctx.sandbox.set_hostile(Hostile {
        inject: ids
            .iter()
            .map(|id| ("Observation".to_string(), case.observation(*id)))
            .collect(),
        ..Hostile::default()
    });
    let (out, report) = case.sync(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        type_report(&report, "Observation")["new"],
        ids.len(),
        "{report}"
    );
    assert!(dropped(&report).is_empty(), "{report}");
    let ndjson = std::fs::read_to_string(case.out.join("Observation.ndjson")).unwrap();
    let mut stems = std::collections::BTreeSet::new();
    for id in ids {
        assert!(ndjson.contains(&format!("\"id\":\"{id}\"")), "{id}");
        let stem = fhirdl::sync::naming::single(id);
        assert_ne!(stem, id);
        assert!(stem.ends_with(|c: char| c.is_ascii_hexdigit()), "{stem}");
        let pretty: Value = serde_json::from_slice(
            &std::fs::read(case.out.join(format!("json/Observation/{stem}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(pretty["id"], id);
        assert!(stems.insert(stem.to_lowercase()), "{stem} is not unique");
    }
    case.assert_confined();
}

#[test]
fn ids_equal_but_for_case_keep_separate_files() {
    let case = Case::new();
    let doc = |id: &str, data: &str| {
        json!({"resourceType": "DocumentReference", "id": id, "status": "current",
               "subject": {"reference": format!("Patient/{}", case.patient)},
               "content": [{"attachment": {"contentType": "text/plain", "data": data}}]})
    };
    case.ctx.sandbox.set_hostile(Hostile {
        inject: vec![
            ("Observation".into(), case.observation("Twin-A")),
            ("Observation".into(), case.observation("twin-a")),
            ("Observation".into(), case.observation("TWIN-A")),
            ("DocumentReference".into(), doc("Doc-Twin", "dXBwZXI=")),
            ("DocumentReference".into(), doc("doc-twin", "bG93ZXI=")),
        ],
        ..Hostile::default()
    });
    let (out, report) = case.sync(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(type_report(&report, "Observation")["new"], 3, "{report}");
    let ndjson = std::fs::read_to_string(case.out.join("Observation.ndjson")).unwrap();
    for id in ["Twin-A", "twin-a", "TWIN-A"] {
        assert!(ndjson.contains(&format!("\"id\":\"{id}\"")), "{id}");
        let stem = fhirdl::sync::naming::disambiguated(id);
        let pretty: Value = serde_json::from_slice(
            &std::fs::read(case.out.join(format!("json/Observation/{stem}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(pretty["id"], id);
    }
    let upper = std::fs::read(case.out.join(format!(
        "attachments/DocumentReference-{}-1.txt",
        fhirdl::sync::naming::disambiguated("Doc-Twin")
    )))
    .unwrap();
    let lower = std::fs::read(case.out.join(format!(
        "attachments/DocumentReference-{}-1.txt",
        fhirdl::sync::naming::disambiguated("doc-twin")
    )))
    .unwrap();
    assert_eq!(
        (upper.as_slice(), lower.as_slice()),
        (&b"upper"[..], &b"lower"[..])
    );
    case.assert_confined();
}

#[test]
fn next_links_to_another_origin_or_to_file_are_refused() {
    for to_another_origin in [true, false] {
        let case = Case::new();
        let trap = case.ctx.trap();
        let target = match to_another_origin {
            true => trap.url("/steal?page=2"),
            false => "file:///etc/passwd".to_string(),
        };
        case.ctx.sandbox.set_hostile(Hostile {
            next_link: Some(("Observation".into(), HostileLink::Url(target.clone()))),
            ..Hostile::default()
        });
        let (out, report) = case.sync(&[]);
        assert_failed_cleanly(
            &case,
            &out,
            &report,
            "Observation",
            if to_another_origin {
                "is on another origin, and the access token only goes to"
            } else {
                "refusing to send the access token"
            },
        );
        trap.assert_untouched();
    }
}

#[test]
fn a_next_link_loop_is_stopped_and_reported() {
    let case = Case::new();
    case.ctx.sandbox.set_hostile(Hostile {
        next_link: Some(("Observation".into(), HostileLink::FirstPage)),
        ..Hostile::default()
    });
    let (out, report) = case.sync(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        warnings(&report, "Observation")
            .iter()
            .any(|w| w.contains("next links loop")),
        "{report}"
    );
    assert!(
        type_report(&report, "Observation")["pages"]
            .as_u64()
            .unwrap()
            <= 3
    );
    case.assert_confined();
}

#[test]
fn a_server_that_pages_forever_hits_the_cap_and_the_type_fails() {
    let case = Case::new();
    case.ctx.sandbox.set_hostile(Hostile {
        endless_paging: Some("Observation".into()),
        ..Hostile::default()
    });
    let (out, report) = case.sync(&[("FHIRDL_MAX_PAGES", "25")]);
    assert_failed_cleanly(
        &case,
        &out,
        &report,
        "Observation",
        "still sent a next link after 25 pages",
    );
}

#[test]
fn a_redirect_to_another_origin_is_not_followed_and_carries_no_token() {
    for status in [302, 307] {
        let case = Case::new();
        let trap = case.ctx.trap();
        case.ctx.sandbox.set_hostile(Hostile {
            answer: Some((
                "Observation".into(),
                HostileAnswer {
                    status,
                    headers: vec![("location".into(), trap.url("/steal"))],
                    body: HostileBody::Bytes(Arc::new(Vec::new())),
                },
            )),
            ..Hostile::default()
        });
        let (out, report) = case.sync(&[]);
        assert_failed_cleanly(
            &case,
            &out,
            &report,
            "Observation",
            &format!(
                "redirected to {}, another origin: not followed, the access token only goes to {}",
                trap.url("/steal"),
                case.ctx
                    .base()
                    .trim_end_matches('/')
                    .split("/fhir")
                    .next()
                    .unwrap()
            ),
        );
        trap.assert_untouched();
    }
}

/// `{"resourceType":"Bundle","entry":[` and 256 MiB of spaces, gzip-compressed to about 260 KB
/// (made of full-flushed deflate blocks repeated, so it costs the test nothing to build).
fn gzip_bomb() -> Vec<u8> {
    use flate2::{Compress, Compression, Crc, FlushCompress};
    let deflate = |c: &mut Compress, input: &[u8], flush| {
        let mut out = Vec::with_capacity(input.len() / 100 + 1024);
        c.compress_vec(input, &mut out, flush).unwrap();
        assert_eq!(
            c.total_in() as usize % input.len().max(1),
            0,
            "all input taken"
        );
        out
    };
    let head = br#"{"resourceType":"Bundle","entry":["#;
    let block = vec![b' '; 1024 * 1024];
    let mut c = Compress::new(Compression::best(), false);
    let first = deflate(&mut c, head, FlushCompress::Full);
    let mut c = Compress::new(Compression::best(), false);
    let repeated = deflate(&mut c, &block, FlushCompress::Full);
    let again = deflate(&mut c, &block, FlushCompress::Full);
    assert_eq!(repeated, again, "a full flush makes blocks independent");
    let end = deflate(
        &mut Compress::new(Compression::best(), false),
        b"",
        FlushCompress::Finish,
    );
    let mut crc = Crc::new();
    crc.update(head);
    let mut block_crc = Crc::new();
    block_crc.update(&block);
    let blocks = 256;
    for _ in 0..blocks {
        crc.combine(&block_crc);
    }
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    gz.extend_from_slice(&first);
    for _ in 0..blocks {
        gz.extend_from_slice(&repeated);
    }
    gz.extend_from_slice(&end);
    gz.extend_from_slice(&crc.sum().to_le_bytes());
    gz.extend_from_slice(&(crc.amount()).to_le_bytes());
    gz
}

#[test]
fn huge_and_deeply_nested_bodies_fail_their_type_with_a_clear_error() {
    let bomb = gzip_bomb();
    assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
    let mut nested = br#"{"resourceType":"Bundle","entry":"#.to_vec();
    nested.extend(std::iter::repeat_n(b'[', 100_000));
    nested.extend(std::iter::repeat_n(b']', 100_000));
    nested.push(b'}');
    let json_headers = |extra: &[(&str, &str)]| {
        let mut h = vec![(
            "content-type".to_string(),
            "application/fhir+json".to_string(),
        )];
        h.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        h
    };
    let cases = [
        (
            HostileAnswer {
                status: 200,
                headers: json_headers(&[("content-encoding", "gzip")]),
                body: HostileBody::Bytes(Arc::new(bomb)),
            },
            "larger than 64 MiB",
        ),
        (
            HostileAnswer {
                status: 200,
                headers: json_headers(&[("content-length", "4294967296")]),
                body: HostileBody::Endless {
                    prefix: br#"{"resourceType":"Bundle","entry":["#.to_vec(),
                    fill: b' ',
                    len: 4 * 1024 * 1024 * 1024,
                },
            },
            "larger than 64 MiB",
        ),
        (
            HostileAnswer {
                status: 200,
                headers: json_headers(&[]),
                body: HostileBody::Bytes(Arc::new(nested)),
            },
            "entry 1 of the Bundle is not an object",
        ),
    ];
    for (answer, why) in cases {
        let case = Case::new();
        case.ctx.sandbox.set_hostile(Hostile {
            answer: Some(("Observation".into(), answer)),
            ..Hostile::default()
        });
        let (out, report) = case.sync(&[]);
        assert_failed_cleanly(&case, &out, &report, "Observation", why);
        assert!(!text(&out).contains("panicked"), "{}", text(&out));
    }
}

#[test]
fn hostile_attachments_get_names_made_by_fhirdl_and_no_token_leaves_the_server() {
    let case = Case::new();
    let trap = case.ctx.trap();
    let doc = json!({"resourceType": "DocumentReference", "id": "hostile-doc", "status": "current",
    "subject": {"reference": format!("Patient/{}", case.patient)},
    "content": [
        {"attachment": {"contentType": "../../escape", "title": "../../escape.pdf", "data": "aGk="}},
        {"attachment": {"contentType": "application/pdf", "title": "a/escape", "url": trap.url("/doc.pdf")}},
        {"attachment": {"contentType": "application/pdf", "url": "file:///etc/passwd"}},
        {"attachment": {"contentType": "text/plain\u{0}escape", "title": "\u{0}", "data": "b2s="}},
        {"attachment": {"contentType": "application/pdf", "url": "http://localhost:1/escape.pdf"}}
    ]});
    case.ctx.sandbox.set_hostile(Hostile {
        inject: vec![("DocumentReference".into(), doc)],
        ..Hostile::default()
    });
    let (out, report) = case.sync(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = case.out.join("attachments");
    assert_eq!(
        std::fs::read(dir.join("DocumentReference-hostile-doc-1.bin")).unwrap(),
        b"hi"
    );
    assert_eq!(
        std::fs::read(dir.join("DocumentReference-hostile-doc-4.bin")).unwrap(),
        b"ok"
    );
    for n in [2, 3, 5] {
        assert!(
            !dir.join(format!("DocumentReference-hostile-doc-{n}.pdf"))
                .exists(),
            "attachment {n} must not be fetched"
        );
    }
    // Documents on other origins are named as not followed; they do not fail the run.
    let a = &report["attachments"];
    assert_eq!(a["not_followed"], 3, "{a}");
    assert_eq!(a["failed"], 0, "{a}");
    let reasons: Vec<&str> = a["not_followed_documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().all(|r| r.contains("not the FHIR server")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("a file: URL")),
        "{reasons:?}"
    );
    trap.assert_untouched();
    case.assert_confined();
}

/// Login side, end to end (the listener's own rules — a missing or wrong `state`, a second
/// callback, another path — are unit-tested in `auth::loopback`, and a plain-http authorization
/// endpoint off loopback in `auth::discovery`).
fn hostile_login(hostile: Hostile, iss_parameter: bool) -> (TestContext, std::process::Output) {
    let ctx = TestContext::new(SandboxConfig {
        iss_parameter,
        quirks: fhirdl_sandbox::Quirks {
            hostile,
            ..Default::default()
        },
        ..SandboxConfig::default()
    });
    let out = ctx.login("p", &[]);
    (ctx, out)
}

fn assert_nothing_saved(ctx: &TestContext) {
    assert!(!ctx.credential_file("p").exists());
    assert!(
        !ctx.config_dir().join("config.toml").exists(),
        "a failed login must not save a profile"
    );
    assert!(
        !ctx.data_dir().join("exports").exists(),
        "nothing may be written for a failed login"
    );
    ctx.assert_no_leaks();
}

#[test]
fn an_authorization_response_from_another_issuer_is_refused() {
    let (ctx, out) = hostile_login(
        Hostile {
            wrong_iss: true,
            ..Hostile::default()
        },
        true,
    );
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(
        text(&out).contains("unexpected issuer (https://impostor.example/oauth"),
        "{}",
        text(&out)
    );
    assert_eq!(
        ctx.sandbox.stats().token_requests,
        0,
        "the code must not be exchanged"
    );
    assert_nothing_saved(&ctx);
}

#[test]
fn a_token_response_without_a_patient_is_refused() {
    let (ctx, out) = hostile_login(
        Hostile {
            token_without_patient: true,
            ..Hostile::default()
        },
        false,
    );
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(
        text(&out).contains("did not say which patient record is yours"),
        "{}",
        text(&out)
    );
    assert_nothing_saved(&ctx);
}
