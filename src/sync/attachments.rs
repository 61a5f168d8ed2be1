//! Attachments: the documents behind `DocumentReference.content.attachment` and
//! `DiagnosticReport.presentedForm` (PDF, C-CDA XML, images…), saved under `<out>/attachments/`.
//!
//! File names are made by fhirdl from the resource type, its validated id and the attachment's
//! position, plus an extension from a short list of content types; nothing from the server
//! (title, URL, content type text) ever becomes part of a path. Inline `data` is decoded; a `url`
//! is fetched with the token only when it is on the FHIR server's origin. Servers answer with
//! the raw document or a FHIR Binary; both are accepted. An answer that cannot be the document
//! (an HTML page, JSON that is not a Binary, fewer or more bytes than the attachment's `size`)
//! is fetched again; a size that still differs after the last try is kept with a warning (some
//! servers announce wrong sizes). `attachments/manifest.json` maps every file to its resource.

use super::bundle::valid_id;
use crate::fhir::client::{BytesResponse, FhirClient};
use crate::fsutil::{create_private_dir, write_atomic};
use anyhow::Result;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use url::Url;

/// Largest attachment fhirdl downloads.
pub const MAX_ATTACHMENT_BYTES: usize = 512 * 1024 * 1024;
const ACCEPT: &str = "application/pdf, application/xml, text/xml, image/*, text/plain, application/fhir+json;q=0.5, */*;q=0.1";

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub resource: String,
    pub file: String,
    pub url: Option<String>,
    pub data: Option<String>,
    pub content_type: Option<String>,
    /// The attachment's `size` (bytes of the document), when the server gave one.
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestEntry {
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub bytes: usize,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub downloaded: usize,
    pub decoded: usize,
    pub already_present: usize,
    pub failed: usize,
    pub warnings: Vec<String>,
}

/// The attachments of one resource (only DocumentReference and DiagnosticReport carry them).
pub fn attachments_of(resource_type: &str, resource: &Value) -> Vec<Attachment> {
    let Some(id) = resource
        .get("id")
        .and_then(Value::as_str)
        .filter(|i| valid_id(i))
    else {
        return Vec::new();
    };
    let list: Vec<&Value> = match resource_type {
        "DocumentReference" => resource
            .get("content")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(|x| x.get("attachment")).collect())
            .unwrap_or_default(),
        "DiagnosticReport" => resource
            .get("presentedForm")
            .and_then(Value::as_array)
            .map(|c| c.iter().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    list.into_iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let url = a.get("url").and_then(Value::as_str).map(str::to_string);
            let data = a.get("data").and_then(Value::as_str).map(str::to_string);
            if url.is_none() && data.is_none() {
                return None;
            }
            let content_type = a
                .get("contentType")
                .and_then(Value::as_str)
                .map(str::to_string);
            let ext = extension(content_type.as_deref());
            Some(Attachment {
                resource: format!("{resource_type}/{id}"),
                file: format!("{resource_type}-{id}-{}.{ext}", i + 1),
                url,
                data,
                content_type,
                size: a.get("size").and_then(Value::as_u64),
            })
        })
        .collect()
}

/// A file extension for a content type, from a fixed list (never the server's text).
pub fn extension(content_type: Option<&str>) -> &'static str {
    let ct = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/pdf" => "pdf",
        "application/xml" | "text/xml" | "application/hl7-v3+xml" | "application/cda+xml" => "xml",
        "text/plain" => "txt",
        "text/html" => "html",
        "application/json" | "application/fhir+json" => "json",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/tiff" => "tif",
        "image/gif" => "gif",
        "application/rtf" | "text/rtf" => "rtf",
        "application/dicom" => "dcm",
        _ => "bin",
    }
}

/// The types whose resources carry attachments.
pub const TYPES: [&str; 2] = ["DocumentReference", "DiagnosticReport"];

/// Saves every attachment of the stored DocumentReference and DiagnosticReport resources of
/// the export in `out` into `<out>/attachments/`, reading the NDJSON files line by line.
pub async fn save_all(fhir: &FhirClient, out: &Path, concurrency: usize) -> Result<Report> {
    let dir = out.join("attachments");
    let manifest_path = dir.join("manifest.json");
    let mut manifest: BTreeMap<String, ManifestEntry> = std::fs::read(&manifest_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let before = manifest.clone();
    let mut report = Report::default();
    // Downloads run `concurrency` at a time (a slot is taken before a task is made, so no more
    // than that many documents, or resources waiting for one, are in memory at once); each task
    // writes its own file and hands back the manifest entry.
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut finished = Vec::new();
    for ty in TYPES {
        let path = out.join(format!("{ty}.ndjson"));
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display())))
            }
        };
        // Ids equal but for case would give names equal but for case (see sync::naming).
        let ids = super::export::ids_in(&path)?;
        let stems = super::naming::stems(ids.iter().map(String::as_str));
        let lines = std::io::BufRead::lines(std::io::BufReader::new(file));
        for line in lines {
            let line = line.map_err(|e| {
                anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
            })?;
            let Ok(resource) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let id = resource.get("id").and_then(Value::as_str).unwrap_or("");
            for mut a in attachments_of(ty, &resource) {
                if let Some(stem) = stems.get(id).filter(|s| s.as_str() != id) {
                    if let Some(rest) = a.file.strip_prefix(&format!("{ty}-{id}-")) {
                        a.file = format!("{ty}-{stem}-{rest}");
                    }
                }
                let path = dir.join(&a.file);
                let known = manifest.get(&a.file);
                if path.exists()
                    && known.is_some_and(|k| k.url == a.url && k.resource == a.resource)
                {
                    report.already_present += 1;
                    continue;
                }
                let permit = semaphore.clone().acquire_owned().await?;
                // Collect what finished meanwhile, so the set stays small.
                while let Some(done) = tasks.try_join_next() {
                    finished.push(done);
                }
                let (fhir, dir) = (fhir.clone(), dir.clone());
                tasks.spawn(async move {
                    let _permit = permit;
                    let saved = match content(&fhir, &a).await {
                        Ok((bytes, warning)) => save(&dir, &path, &bytes)
                            .map(|()| (bytes_entry(&a, &bytes), warning))
                            .map_err(|e| format!("{e:#}")),
                        Err(why) => Err(why),
                    };
                    (a, saved)
                });
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        finished.push(joined);
    }
    for joined in finished {
        let (a, saved) = joined.map_err(|e| anyhow::anyhow!("an attachment task failed: {e}"))?;
        match saved {
            Ok((entry, warning)) => {
                if let Some(warning) = warning {
                    report.warnings.push(format!(
                        "attachment {} of {}: {warning}",
                        a.file, a.resource
                    ));
                }
                if a.data.is_some() {
                    report.decoded += 1;
                } else {
                    report.downloaded += 1;
                }
                manifest.insert(a.file.clone(), entry);
            }
            Err(why) => {
                report.failed += 1;
                report
                    .warnings
                    .push(format!("attachment {} of {}: {why}", a.file, a.resource));
            }
        }
    }
    if manifest != before {
        create_private_dir(&dir)?;
        write_atomic(&manifest_path, &serde_json::to_vec_pretty(&manifest)?)?;
    }
    Ok(report)
}

fn save(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    create_private_dir(dir)?;
    write_atomic(path, bytes)
}

fn bytes_entry(a: &Attachment, bytes: &[u8]) -> ManifestEntry {
    ManifestEntry {
        resource: a.resource.clone(),
        url: a.url.clone(),
        content_type: a.content_type.clone(),
        bytes: bytes.len(),
        sha256: Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    }
}

/// Where an attachment `url` may be downloaded from with the token: absolute or relative to the
/// FHIR base, and on the FHIR base's origin only (not another host or port, not `file:`, not
/// loopback when the FHIR server is elsewhere).
pub fn attachment_url(base: &Url, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw)
        .or_else(|_| {
            crate::auth::discovery::base_join(base, raw).map_err(|_| url::ParseError::EmptyHost)
        })
        .map_err(|_| "its URL is not valid".to_string())?;
    if url.origin() != base.origin() {
        let shown = match url.origin() {
            o @ url::Origin::Tuple(..) => o.ascii_serialization(),
            url::Origin::Opaque(_) => format!("a {}: URL", url.scheme()),
        };
        return Err(format!(
            "it is served by {shown} (not the FHIR server); not downloaded, the access token goes only to the FHIR server"
        ));
    }
    Ok(url)
}

/// The attachment's bytes (inline data decoded, or downloaded from the FHIR server), with a
/// warning when they differ from the announced size.
async fn content(fhir: &FhirClient, a: &Attachment) -> Result<(Vec<u8>, Option<String>), String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(data) = &a.data {
        let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
        return b64
            .decode(cleaned)
            .map(|bytes| (bytes, None))
            .map_err(|_| "its inline data is not valid base64".to_string());
    }
    let url = attachment_url(fhir.base(), a.url.as_deref().unwrap_or_default())?;
    // A wrong size is retried, but the last answer is kept even so (with a warning).
    let resp = fhir
        .get_bytes(&url, ACCEPT, MAX_ATTACHMENT_BYTES, |resp, last| {
            let bytes = document(a, resp)?;
            match size_mismatch(a, &bytes) {
                Some(why) if !last => Err(why),
                _ => Ok(()),
            }
        })
        .await
        .map_err(|e| format!("{e:#}"))?;
    if !resp.status.is_success() {
        return Err(format!("the server answered HTTP {}", resp.status.as_u16()));
    }
    let bytes = document(a, &resp)?;
    let warning = size_mismatch(a, &bytes).map(|why| format!("{why}; kept as received"));
    Ok((bytes, warning))
}

/// `Some(complaint)` when `bytes` are not as many as the attachment's `size` announces.
fn size_mismatch(a: &Attachment, bytes: &[u8]) -> Option<String> {
    let announced = a.size?;
    (bytes.len() as u64 != announced).then(|| {
        format!(
            "{} bytes arrived where the record announces {announced}",
            bytes.len()
        )
    })
}

/// The document in a successful answer: a FHIR Binary's decoded `data`, or the raw body.
fn document(a: &Attachment, resp: &BytesResponse) -> Result<Vec<u8>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let ct = resp
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.contains("json") {
        // A FHIR Binary: the document is in `data`.
        let parsed = serde_json::from_slice::<Value>(&resp.body);
        if let Ok(v) = &parsed {
            if v.get("resourceType").and_then(Value::as_str) == Some("Binary") {
                let data = v.get("data").and_then(Value::as_str).unwrap_or("");
                return b64
                    .decode(data)
                    .map_err(|_| "the Binary's data is not valid base64".to_string());
            }
        }
        // Any other JSON is the document only when the attachment says it is JSON.
        let json_document = a
            .content_type
            .as_deref()
            .is_some_and(|t| t.contains("json"));
        if parsed.is_err() || !json_document {
            return Err("the answer is JSON but not a FHIR Binary holding the document".into());
        }
    }
    if ct.contains("html")
        && !a
            .content_type
            .as_deref()
            .is_some_and(|t| t.contains("html"))
    {
        return Err("the server answered with an HTML page instead of the document".into());
    }
    Ok(resp.body.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_come_from_fhirdl_only() {
        let doc = json!({"resourceType": "DocumentReference", "id": "d1", "content": [
            {"attachment": {"contentType": "application/pdf", "url": "Binary/b1", "title": "../../etc/passwd"}},
            {"attachment": {"contentType": "text/x-evil;../", "data": "aGk="}},
            {"attachment": {"title": "nothing to fetch"}}
        ]});
        let a = attachments_of("DocumentReference", &doc);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].file, "DocumentReference-d1-1.pdf");
        assert_eq!(a[1].file, "DocumentReference-d1-2.bin");
        let bad_id = json!({"resourceType": "DocumentReference", "id": "../x", "content": [{"attachment": {"url": "u"}}]});
        assert!(attachments_of("DocumentReference", &bad_id).is_empty());
        let report =
            json!({"id": "r", "presentedForm": [{"contentType": "application/xml", "url": "x"}]});
        assert_eq!(
            attachments_of("DiagnosticReport", &report)[0].file,
            "DiagnosticReport-r-1.xml"
        );
        assert!(attachments_of("Observation", &report).is_empty());
    }

    #[test]
    fn only_the_fhir_origin_gets_the_token() {
        let base = Url::parse("https://fhir.example.org/r4").unwrap();
        assert_eq!(
            attachment_url(&base, "Binary/b1").unwrap().as_str(),
            "https://fhir.example.org/r4/Binary/b1"
        );
        assert!(attachment_url(&base, "https://fhir.example.org/docs/1.pdf").is_ok());
        for bad in [
            "https://evil.example/x.pdf",
            "http://fhir.example.org/r4/Binary/b1",
            "https://fhir.example.org:8443/r4/Binary/b1",
            "http://127.0.0.1/r4/Binary/b1",
            "http://localhost:8080/x",
            "http://[::1]/x",
            "file:///etc/passwd",
            "data:application/pdf;base64,aGk=",
        ] {
            let why = attachment_url(&base, bad).expect_err(bad);
            assert!(why.contains("not the FHIR server"), "{bad}: {why}");
        }
        // A scheme-relative URL is read as a path under the base, never as another host.
        assert_eq!(
            attachment_url(&base, "//evil.example/x")
                .unwrap()
                .host_str(),
            Some("fhir.example.org")
        );
    }

    #[test]
    fn answers_that_cannot_be_the_document_are_refused() {
        let pdf = Attachment {
            resource: "DocumentReference/d".into(),
            file: "DocumentReference-d-1.pdf".into(),
            url: Some("Binary/b".into()),
            data: None,
            content_type: Some("application/pdf".into()),
            size: Some(4),
        };
        let answer = |ct: &str, body: &[u8]| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::CONTENT_TYPE, ct.parse().unwrap());
            BytesResponse {
                status: reqwest::StatusCode::OK,
                headers,
                body: body.to_vec(),
            }
        };
        assert_eq!(
            document(&pdf, &answer("application/pdf", b"%PDF")).unwrap(),
            b"%PDF"
        );
        let binary = br#"{"resourceType":"Binary","data":"JVBERg=="}"#;
        assert_eq!(
            document(&pdf, &answer("application/fhir+json", binary)).unwrap(),
            b"%PDF"
        );
        assert!(document(&pdf, &answer("application/fhir+json", b"{\"a\":1,]")).is_err());
        assert!(document(&pdf, &answer("application/json", b"{\"a\":1}")).is_err());
        assert!(document(&pdf, &answer("text/html", b"<html>login</html>")).is_err());
        assert_eq!(size_mismatch(&pdf, b"%PDF"), None);
        assert!(size_mismatch(&pdf, b"%PD").is_some());
        let json_doc = Attachment {
            content_type: Some("application/json".into()),
            size: None,
            ..pdf
        };
        assert!(document(&json_doc, &answer("application/json", b"{\"a\":1}")).is_ok());
        assert_eq!(size_mismatch(&json_doc, b"anything"), None);
    }

    #[test]
    fn extensions() {
        assert_eq!(extension(Some("application/pdf; charset=binary")), "pdf");
        assert_eq!(extension(Some("IMAGE/PNG")), "png");
        assert_eq!(extension(Some("../../x")), "bin");
        assert_eq!(extension(None), "bin");
    }
}
