//! Clinical notes as text, end to end: documents of every note format (C-CDA, other XML, HTML,
//! XHTML, RTF, plain text), inline in a DocumentReference, in a DiagnosticReport's
//! `presentedForm`, and behind a `Binary/<id>` URL, all holding "Zoë Müller — 血压", are
//! written to the sandbox in a transaction; `fhirdl sync` saves them and writes their text
//! under `notes/`, named in `attachments/manifest.json` with the document's SHA-256. The
//! documents stay byte for byte as sent; a broken one is named and the run succeeds; the next
//! run reads nothing again; `fhirdl verify` accepts the folder.

use crate::common::{code, json, text, TestContext};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const NAME: &str = "Zoë Müller — 血压";

/// (id, content type, document bytes) of each note.
fn documents() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let ccda = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>Visit note</title><recordTarget><patientRole><patient><name><given>Zoë</given><family>Müller</family></name></patient></patientRole></recordTarget><component><structuredBody><component><section><title>Vitals</title><text><paragraph>{NAME} 120/80 &amp; calm</paragraph></text></section></component></structuredBody></component></ClinicalDocument>"#
    );
    let html = format!("<!DOCTYPE html><html><head><script>alert('x')</script></head><body><h1>Discharge</h1><p>{NAME}</p></body></html>");
    let xhtml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>{NAME} (xhtml)</p></body></html>"#
    );
    let rtf = br"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}\f0\pard Zo\'eb M\u252?ller \u8212? \u34880?\u21387? (rtf)\par}".to_vec();
    vec![
        ("note-ccda", "application/xml", ccda.into_bytes()),
        ("note-html", "text/html", html.into_bytes()),
        ("note-xhtml", "application/xhtml+xml", xhtml.into_bytes()),
        ("note-rtf", "application/rtf", rtf),
        (
            "note-txt",
            "text/plain; charset=utf-8",
            format!("{NAME} (plain)\r\n").into_bytes(),
        ),
        (
            "note-broken",
            "application/xml",
            b"<note><p>unclosed</note>".to_vec(),
        ),
    ]
}

/// The transaction: a DocumentReference with inline data per note, a DiagnosticReport whose
/// presentedForm is HTML, and an RTF Binary a DocumentReference points to by URL.
fn transaction(patient: &str) -> Value {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let subject = json!({"reference": format!("Patient/{patient}")});
    let mut entries = Vec::new();
    let mut put = |resource: Value| {
        let url = format!(
            "{}/{}",
            resource["resourceType"].as_str().unwrap(),
            resource["id"].as_str().unwrap()
        );
        entries.push(json!({"resource": resource, "request": {"method": "PUT", "url": url}}));
    };
    for (id, ct, bytes) in documents() {
        put(
            json!({"resourceType": "DocumentReference", "id": id, "status": "current",
            "subject": subject, "type": {"text": "Note"},
            "content": [{"attachment": {"contentType": ct, "data": b64(&bytes), "title": id}}]}),
        );
    }
    put(
        json!({"resourceType": "DiagnosticReport", "id": "report-html", "status": "final",
        "subject": subject, "code": {"text": "Report"},
        "presentedForm": [{"contentType": "text/html", "data": b64(format!("<p>{NAME} (report)</p>").as_bytes())}]}),
    );
    let rtf = br"{\rtf1\ansi Binary \u8212? M\'fcller\par}".to_vec();
    put(
        json!({"resourceType": "Binary", "id": "rtf-bin", "contentType": "application/rtf",
        "securityContext": subject, "data": b64(&rtf)}),
    );
    put(
        json!({"resourceType": "DocumentReference", "id": "note-by-url", "status": "current",
        "subject": subject, "type": {"text": "Note"},
        "content": [{"attachment": {"contentType": "application/rtf", "url": "Binary/rtf-bin", "size": rtf.len()}}]}),
    );
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

#[test]
fn each_note_format_gets_its_text_beside_it_and_the_documents_stay_as_sent() {
    let env = TestContext::with_defaults();
    let scope = [
        "--scope",
        "launch/patient openid fhirUser offline_access patient/*.cruds",
    ];
    let out = env.login("p", &scope);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let creds: Value =
        serde_json::from_slice(&std::fs::read(env.credential_file("p")).unwrap()).unwrap();
    let token = creds["access_token"].as_str().unwrap().to_owned();
    let patient = env.sandbox.users()[0].patient_id.clone();
    let body = serde_json::to_vec(&transaction(&patient)).unwrap();
    let base = env.base();
    let status = env.block_on(async {
        reqwest::Client::new()
            .post(base)
            .bearer_auth(token)
            .header("content-type", "application/fhir+json")
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);

    let out = env.fhirdl(&["sync", "--profile", "p", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let notes = &report["attachments"]["notes"];
    let export = env.export_dir("p");
    let manifest: BTreeMap<String, Value> =
        serde_json::from_slice(&std::fs::read(export.join("attachments/manifest.json")).unwrap())
            .unwrap();
    let by_resource = |r: &str| {
        manifest
            .iter()
            .find(|(_, e)| e["resource"] == r)
            .unwrap_or_else(|| panic!("{r} has no document"))
    };
    let expect = [
        (
            "DocumentReference/note-ccda",
            "Zoë Müller\nVitals\nZoë Müller — 血压 120/80 & calm",
        ),
        ("DocumentReference/note-html", NAME),
        ("DocumentReference/note-xhtml", &format!("{NAME} (xhtml)")),
        ("DocumentReference/note-rtf", &format!("{NAME} (rtf)")),
        ("DocumentReference/note-txt", &format!("{NAME} (plain)\n")),
        ("DiagnosticReport/report-html", &format!("{NAME} (report)")),
        ("DocumentReference/note-by-url", "Binary — Müller"),
    ];
    for (resource, wanted) in expect {
        let (file, entry) = by_resource(resource);
        let doc = std::fs::read(export.join("attachments").join(file)).unwrap();
        assert_eq!(
            entry["sha256"],
            sha256(&doc),
            "{file}: the document is as sent"
        );
        assert_eq!(entry["text_from_sha256"], entry["sha256"], "{file}");
        let name = entry["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: {entry}"));
        assert_eq!(name, format!("notes/{file}.txt"));
        let path = export.join(name);
        let note = std::fs::read_to_string(&path).unwrap();
        assert!(note.contains(wanted), "{file}: {note:?} lacks {wanted:?}");
        assert!(!note.contains("alert"), "{file}: scripts are not text");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let (broken, entry) = by_resource("DocumentReference/note-broken");
    assert!(
        entry["text"].is_null() && entry["text_failed"].as_str().unwrap().contains("XML"),
        "{entry}"
    );
    assert_eq!(notes["failed"], 1, "{notes}");
    assert_eq!(notes["failures"][0][0], broken.as_str());
    assert!(notes["extracted"].as_u64().unwrap() >= 7, "{notes}");
    // Documents that are no notes (the sandbox's PDFs) have no text.
    assert!(manifest
        .values()
        .any(|e| e["content_type"] == "application/pdf" && e["text"].is_null()));

    // An export made before fhirdl extracted notes: no notes/, no text in the manifest. The
    // next sync, with nothing new on the server, writes them; the one after reads nothing.
    let before: BTreeMap<String, Vec<u8>> = crate::common::snapshot(&export.join("notes"));
    std::fs::remove_dir_all(export.join("notes")).unwrap();
    let old: BTreeMap<String, Value> = manifest
        .iter()
        .map(|(f, e)| {
            let mut e = e.clone();
            for k in ["text", "text_from_sha256", "text_failed"] {
                e.as_object_mut().unwrap().remove(k);
            }
            (f.clone(), e)
        })
        .collect();
    std::fs::write(
        export.join("attachments/manifest.json"),
        serde_json::to_vec_pretty(&old).unwrap(),
    )
    .unwrap();
    let out = env.fhirdl(&["sync", "--profile", "p"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("notes as text: 7 extracted, 0 already present, 1 failed"),
        "{t}"
    );
    assert!(
        t.contains(&format!("text not extracted: attachments/{broken}")),
        "{t}"
    );
    assert_eq!(
        crate::common::snapshot(&export.join("notes")),
        before,
        "the same texts"
    );
    let out = env.fhirdl(&["sync", "--profile", "p"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!text(&out).contains("notes as text"), "{}", text(&out));
    assert_eq!(crate::common::snapshot(&export.join("notes")), before);
    let out = env.fhirdl(&["verify", "--profile", "p"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!text(&out).contains("notes"), "{}", text(&out));
    page_links_and_searches_the_notes(&env, &export, &manifest);
    env.assert_no_leaks();
}

/// `fhirdl view`: each note's row links its text file and holds its text, which the page's
/// filter searches (it matches a row by the row's whole text), checked in the DOM Chromium
/// built.
fn page_links_and_searches_the_notes(
    env: &TestContext,
    export: &std::path::Path,
    manifest: &BTreeMap<String, Value>,
) {
    let out = env.fhirdl(&["view", "--profile", "p", "-q"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let page = export.join("record.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let notes: Vec<&String> = manifest
        .iter()
        .filter(|(_, e)| e["text"].is_string())
        .map(|(f, _)| f)
        .collect();
    for file in &notes {
        assert!(
            html.contains(&format!("href=\"notes/{file}.txt\"")),
            "{file} is linked"
        );
    }
    let Some(browser) = crate::view_bundle::chromium() else {
        return;
    };
    let dump = crate::view_bundle::load(&browser, &page, None);
    assert!(dump.page_requests.is_empty());
    // Each row's markup: from its data-row to the end of its element.
    let rows: Vec<&str> = dump
        .dom
        .split("data-row=")
        .skip(1)
        .map(|r| r.split("</tr>").next().unwrap_or(r))
        .map(|r| r.split("</li>").next().unwrap_or(r))
        .collect();
    for file in &notes {
        let text =
            std::fs::read_to_string(export.join("notes").join(format!("{file}.txt"))).unwrap();
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap().trim();
        let needle = first
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let row = rows
            .iter()
            .find(|r| r.contains(&format!("data-note=\"{file}\"")))
            .unwrap_or_else(|| panic!("{file}: no row links its text"));
        assert!(row.contains(&needle), "{file}: the row holds {needle:?}");
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
