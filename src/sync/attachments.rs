//! Attachments: the documents behind `DocumentReference.content.attachment` and
//! `DiagnosticReport.presentedForm` (PDF, C-CDA XML, images…), saved under `<out>/attachments/`.
//!
//! File names are made by fhirdl from the resource type, its validated id and the attachment's
//! position, plus an extension from a short list of content types; nothing from the server
//! (title, URL, content type text) ever becomes part of a path. Inline `data` is decoded; a `url`
//! is fetched with the token only when it is on the FHIR server's origin; one on another origin
//! is named as not followed. Servers answer with the raw document or a FHIR Binary, whose bytes
//! are in `content` (DSTU2, STU3) or `data` (R4 on); both are accepted. An answer that cannot be
//! the document (an HTML page, JSON that is not a Binary, a Binary without bytes, fewer or more
//! bytes than the attachment's `size`) is fetched again; one still wrong after the last try is
//! a failed document: no file is written for it, it is named in the report, and the run is
//! partial. `attachments/manifest.json` maps every file to its resource.

use super::bundle::valid_id;
use crate::atomic::{sync_dir, write_atomic, write_atomic_in_batch};
use crate::fhir::client::{BytesResponse, FhirClient};
use crate::fhir::version::FhirRelease;
use crate::sanitize::clean;
use anyhow::Result;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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

/// A document that was not saved, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Problem {
    /// The file it would have been, under `attachments/`.
    pub file: String,
    /// `Type/id` of the resource that carries it.
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub reason: String,
}

impl Problem {
    fn new(a: &Attachment, reason: String) -> Problem {
        Problem {
            file: a.file.clone(),
            resource: a.resource.clone(),
            url: a.url.clone(),
            reason,
        }
    }
}

/// For a terminal: the URL and the reason may carry the server's text, so they are cleaned.
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {}", self.file, self.resource)?;
        if let Some(url) = &self.url {
            write!(f, " ({})", clean(url))?;
        }
        write!(f, ": {}", clean(&self.reason))
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Documents downloaded from the FHIR server.
    pub downloaded: usize,
    /// Documents decoded from a resource's inline `data`.
    pub decoded: usize,
    /// Documents already saved by an earlier run.
    pub already_present: usize,
    /// `failures.len()`.
    pub failed: usize,
    /// `not_followed_documents.len()`.
    pub not_followed: usize,
    /// Documents that could not be saved: the export lacks them and the run is partial.
    pub failures: Vec<Problem>,
    /// Documents on another server: not downloaded, since the token goes only to the FHIR
    /// server.
    pub not_followed_documents: Vec<Problem>,
}

impl Report {
    fn fail(&mut self, problem: Problem) {
        self.failed += 1;
        self.failures.push(problem);
    }

    fn not_follow(&mut self, problem: Problem) {
        self.not_followed += 1;
        self.not_followed_documents.push(problem);
    }

    /// Whether anything was looked at.
    pub fn is_empty(&self) -> bool {
        self.downloaded + self.decoded + self.already_present + self.failed + self.not_followed == 0
    }
}

/// A document's bytes, and the content type a FHIR Binary gave for them.
#[derive(Debug, PartialEq)]
struct Document {
    bytes: Vec<u8>,
    content_type: Option<String>,
}

/// Why a document was not saved.
#[derive(Debug, PartialEq)]
enum Unsaved {
    /// It should have been saved and could not be.
    Failed(String),
    /// It lives on another origin and is not fetched with the token.
    NotFollowed(String),
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
                file: format!(
                    "{resource_type}-{}-{}.{ext}",
                    super::naming::single(id),
                    i + 1
                ),
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

fn read_manifest(path: &Path) -> BTreeMap<String, ManifestEntry> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Whether `attachments/manifest.json` lists an empty document: earlier versions of fhirdl
/// saved DSTU2/STU3 Binaries as empty files (issue 17); the next run fetches them again.
pub fn manifest_lists_empty_documents(out: &Path) -> bool {
    read_manifest(&out.join("attachments").join("manifest.json"))
        .values()
        .any(|e| e.bytes == 0)
}

/// Saves every attachment of the stored DocumentReference and DiagnosticReport resources of
/// the export in `out` into `<out>/attachments/`, reading the NDJSON files line by line.
/// `release` says where a Binary keeps its bytes. The types' files are read as `ready` names
/// them (each once its file is final: a type's documents go out while the other searches run),
/// until it closes.
pub async fn save_all(
    fhir: &FhirClient,
    out: &Path,
    concurrency: usize,
    release: FhirRelease,
    progress: super::progress::PhaseProgress,
    mut ready: tokio::sync::mpsc::UnboundedReceiver<&'static str>,
) -> Result<Report> {
    let dir = out.join("attachments");
    let manifest_path = dir.join("manifest.json");
    let manifest = read_manifest(&manifest_path);
    let before = manifest.clone();
    let mut pass = Pass {
        fhir: fhir.clone(),
        dir: dir.clone(),
        release,
        semaphore: std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
        budget: std::sync::Arc::new(tokio::sync::Semaphore::new(BUDGET_KIB as usize)),
        tasks: tokio::task::JoinSet::new(),
        finished: Vec::new(),
        manifest,
        report: Report::default(),
        progress: progress.clone(),
    };
    let mut read = Vec::new();
    while let Some(ty) = ready.recv().await {
        if !read.contains(&ty) {
            read.push(ty);
            pass.queue_type(ty, &out.join(format!("{ty}.ndjson")))
                .await?;
        }
    }
    pass.progress.all_queued();
    let (manifest, report) = pass.finish().await?;
    progress.finish();
    // The documents' names are made durable here, once, before the manifest lists them.
    sync_dir(&dir);
    if manifest != before {
        write_atomic(&manifest_path, &serde_json::to_vec_pretty(&manifest)?)?;
    }
    Ok(report)
}

/// The outcome of one download task.
type Saved = (Attachment, Result<ManifestEntry, Unsaved>);

/// Document bytes a pass holds in memory at once, by the sizes the record announces (in KiB).
/// A document without an announced size counts as [`UNANNOUNCED_KIB`], so at most 64 of those
/// are in flight; one announcing more than the budget is downloaded alone.
const BUDGET_KIB: u32 = 64 * 1024;
const UNANNOUNCED_KIB: u32 = 1024;

/// What a document weighs against [`BUDGET_KIB`].
fn weight_kib(size: Option<u64>) -> u32 {
    match size {
        None => UNANNOUNCED_KIB,
        Some(bytes) => bytes.div_ceil(1024).clamp(1, u64::from(BUDGET_KIB)) as u32,
    }
}

/// One attachment pass: downloads run `concurrency` at a time, and no more than [`BUDGET_KIB`]
/// of announced document bytes at once (slots are taken before a task is made, so no more
/// than that many documents, or resources waiting for one, are in memory at once); each task
/// writes its own file and hands back the manifest entry.
struct Pass {
    fhir: FhirClient,
    dir: std::path::PathBuf,
    release: FhirRelease,
    semaphore: std::sync::Arc<tokio::sync::Semaphore>,
    budget: std::sync::Arc<tokio::sync::Semaphore>,
    tasks: tokio::task::JoinSet<Saved>,
    finished: Vec<Result<Saved, tokio::task::JoinError>>,
    manifest: BTreeMap<String, ManifestEntry>,
    report: Report,
    progress: super::progress::PhaseProgress,
}

impl Pass {
    /// Queues the documents of every resource in the type's file (a missing file has none).
    async fn queue_type(&mut self, ty: &str, path: &Path) -> Result<()> {
        let cannot_read = |e: std::io::Error| {
            anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(cannot_read(e)),
        };
        // Ids equal but for case would give names equal but for case (see sync::naming).
        let ids = super::ndjson::ids_in(path)?;
        let stems = super::naming::stems(ids.iter().map(String::as_str));
        for line in std::io::BufRead::lines(std::io::BufReader::new(file)) {
            let line = line.map_err(cannot_read)?;
            let Ok(resource) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let id = resource.get("id").and_then(Value::as_str).unwrap_or("");
            for mut a in attachments_of(ty, &resource) {
                if let Some(stem) = stems.get(id).filter(|s| s.as_str() != id) {
                    let single = super::naming::single(id);
                    if let Some(rest) = a.file.strip_prefix(&format!("{ty}-{single}-")) {
                        a.file = format!("{ty}-{stem}-{rest}");
                    }
                }
                self.queue(a).await?;
            }
        }
        Ok(())
    }

    /// Downloads (or decodes) one document unless an earlier run saved it.
    async fn queue(&mut self, a: Attachment) -> Result<()> {
        let path = self.dir.join(&a.file);
        let known = self.manifest.get(&a.file);
        // An empty file is never a document (see manifest_lists_empty_documents).
        if path.exists()
            && known.is_some_and(|k| k.url == a.url && k.resource == a.resource && k.bytes > 0)
        {
            self.report.already_present += 1;
            return Ok(());
        }
        self.progress.queue(1);
        let weight = self
            .budget
            .clone()
            .acquire_many_owned(weight_kib(a.size))
            .await?;
        let permit = self.semaphore.clone().acquire_owned().await?;
        // Collect what finished meanwhile, so the set stays small.
        while let Some(done) = self.tasks.try_join_next() {
            self.finished.push(done);
        }
        let (fhir, release, progress) = (self.fhir.clone(), self.release, self.progress.clone());
        self.tasks.spawn(async move {
            let _permit = (permit, weight);
            let saved = match content(&fhir, &a, release).await {
                Ok(doc) => write_atomic_in_batch(&path, &doc.bytes)
                    .map(|()| bytes_entry(&a, doc))
                    .map_err(|e| Unsaved::Failed(format!("{e:#}"))),
                Err(why) => Err(why),
            };
            progress.done(1);
            (a, saved)
        });
        Ok(())
    }

    /// Waits for every download and records each in the manifest or the report.
    async fn finish(mut self) -> Result<(BTreeMap<String, ManifestEntry>, Report)> {
        while let Some(joined) = self.tasks.join_next().await {
            self.finished.push(joined);
        }
        for joined in std::mem::take(&mut self.finished) {
            let (a, saved) =
                joined.map_err(|e| anyhow::anyhow!("an attachment task failed: {e}"))?;
            match saved {
                Ok(entry) => {
                    if a.data.is_some() {
                        self.report.decoded += 1;
                    } else {
                        self.report.downloaded += 1;
                    }
                    self.manifest.insert(a.file.clone(), entry);
                }
                Err(Unsaved::NotFollowed(why)) => self.report.not_follow(Problem::new(&a, why)),
                Err(Unsaved::Failed(why)) => {
                    forget_empty(&self.dir, &a.file, &mut self.manifest)?;
                    self.report.fail(Problem::new(&a, why));
                }
            }
        }
        let report = &mut self.report;
        report.failures.sort_by(|x, y| x.file.cmp(&y.file));
        report
            .not_followed_documents
            .sort_by(|x, y| x.file.cmp(&y.file));
        Ok((self.manifest, self.report))
    }
}

/// After a failed download, an empty file left by an older fhirdl (and its manifest entry)
/// goes: it only pretended to be the document. A real earlier download stays.
fn forget_empty(
    dir: &Path,
    file: &str,
    manifest: &mut BTreeMap<String, ManifestEntry>,
) -> Result<()> {
    let path = dir.join(file);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == 0) {
        crate::atomic::remove_if_exists(&path)?;
    }
    if manifest.get(file).is_some_and(|e| e.bytes == 0) {
        manifest.remove(file);
    }
    Ok(())
}

/// The manifest entry of a saved document; its content type is the Binary's own when it had
/// one.
fn bytes_entry(a: &Attachment, doc: Document) -> ManifestEntry {
    let bytes = doc.bytes;
    ManifestEntry {
        resource: a.resource.clone(),
        url: a.url.clone(),
        content_type: doc.content_type.or_else(|| a.content_type.clone()),
        bytes: bytes.len(),
        sha256: super::manifest::sha256_hex(&bytes),
    }
}

/// Where an attachment `url` may be downloaded from with the token: absolute or relative to the
/// FHIR base, and on the FHIR base's origin only (not another host or port, not `file:`, not
/// loopback when the FHIR server is elsewhere).
pub fn attachment_url(base: &Url, raw: &str) -> Result<Url, UrlRefusal> {
    let url = Url::parse(raw)
        .or_else(|_| crate::fhir_url::join(base, raw).map_err(|_| url::ParseError::EmptyHost))
        .map_err(|_| UrlRefusal::Invalid("its URL is not valid".to_string()))?;
    if url.origin() != base.origin() {
        let shown = match url.origin() {
            o @ url::Origin::Tuple(..) => o.ascii_serialization(),
            url::Origin::Opaque(_) => format!("a {}: URL", url.scheme()),
        };
        return Err(UrlRefusal::OtherOrigin(format!(
            "it is served by {shown} (not the FHIR server); not downloaded, the access token goes only to the FHIR server"
        )));
    }
    Ok(url)
}

/// Why an attachment URL is not fetched.
#[derive(Debug, PartialEq)]
pub enum UrlRefusal {
    /// Not a URL at all.
    Invalid(String),
    /// On another origin than the FHIR server's.
    OtherOrigin(String),
}

impl std::fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlRefusal::Invalid(why) | UrlRefusal::OtherOrigin(why) => f.write_str(why),
        }
    }
}

/// The attachment's bytes (inline data decoded, or downloaded from the FHIR server) and the
/// content type a Binary gave for them.
async fn content(
    fhir: &FhirClient,
    a: &Attachment,
    release: FhirRelease,
) -> Result<Document, Unsaved> {
    if let Some(data) = &a.data {
        let bytes = decode_base64(data)
            .ok_or_else(|| Unsaved::Failed("its inline data is not valid base64".into()))?;
        if bytes.is_empty() {
            return Err(Unsaved::Failed("its inline data is empty".into()));
        }
        return Ok(Document {
            bytes,
            content_type: None,
        });
    }
    let url =
        attachment_url(fhir.base(), a.url.as_deref().unwrap_or_default()).map_err(
            |why| match why {
                UrlRefusal::Invalid(why) => Unsaved::Failed(why),
                UrlRefusal::OtherOrigin(why) => Unsaved::NotFollowed(why),
            },
        )?;
    // Every complaint is retried; the last one is the failure. The accepted document is kept
    // from the check (a Binary is decoded once).
    let accepted = std::sync::Mutex::new(None);
    let resp = fhir
        .get_bytes(&url, ACCEPT, MAX_ATTACHMENT_BYTES, |resp, _last| {
            let doc = document(a, resp, release)?;
            *accepted.lock().unwrap_or_else(|e| e.into_inner()) = Some(doc);
            Ok(())
        })
        .await
        .map_err(|e| Unsaved::Failed(format!("{e:#}")))?;
    if !resp.status.is_success() {
        return Err(Unsaved::Failed(format!(
            "the server answered HTTP {}",
            resp.status.as_u16()
        )));
    }
    let accepted = accepted.into_inner().unwrap_or_else(|e| e.into_inner());
    accepted.ok_or_else(|| Unsaved::Failed("the server sent no document".into()))
}

fn decode_base64(data: &str) -> Option<Vec<u8>> {
    let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .ok()
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

/// The document in a successful answer (a FHIR Binary's decoded bytes, or the raw body) and
/// the Binary's content type; a complaint when the answer cannot be the document.
fn document(
    a: &Attachment,
    resp: &BytesResponse,
    release: FhirRelease,
) -> Result<Document, String> {
    let ct = resp
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let raw = || Document {
        bytes: resp.body.clone(),
        content_type: None,
    };
    let doc = if ct.contains("json") {
        match binary_bytes(&resp.body, release) {
            Some(binary) => binary?,
            // Any other JSON is the document only when the attachment says it is JSON.
            None if a
                .content_type
                .as_deref()
                .is_some_and(|t| t.contains("json"))
                && serde_json::from_slice::<serde::de::IgnoredAny>(&resp.body).is_ok() =>
            {
                raw()
            }
            None => {
                return Err("the answer is JSON but not a FHIR Binary holding the document".into())
            }
        }
    } else if ct.contains("html")
        && !a
            .content_type
            .as_deref()
            .is_some_and(|t| t.contains("html"))
    {
        return Err("the server answered with an HTML page instead of the document".into());
    } else {
        raw()
    };
    if doc.bytes.is_empty() {
        return Err("the server sent an empty document".into());
    }
    if let Some(why) = size_mismatch(a, &doc.bytes) {
        return Err(why);
    }
    Ok(doc)
}

/// A FHIR Binary's bytes and content type: `None` when `body` is not a Binary; a complaint when
/// it is one without valid bytes.
fn binary_bytes(body: &[u8], release: FhirRelease) -> Option<Result<Document, String>> {
    #[derive(Deserialize)]
    struct Binary {
        #[serde(rename = "resourceType")]
        resource_type: String,
        #[serde(rename = "contentType")]
        content_type: Option<String>,
        data: Option<String>,
        content: Option<String>,
    }
    let binary: Binary = serde_json::from_slice(body).ok()?;
    if binary.resource_type != "Binary" {
        return None;
    }
    let field = |name: &str| match name {
        "content" => binary.content.as_deref(),
        _ => binary.data.as_deref(),
    };
    let [first, second] = release.binary_data_elements();
    let Some((name, data)) = [first, second]
        .into_iter()
        .find_map(|name| field(name).map(|d| (name, d)))
    else {
        return Some(Err(format!(
            "the server sent a Binary without bytes (no `{first}` element)"
        )));
    };
    Some(match decode_base64(data) {
        Some(bytes) if bytes.is_empty() => Err(format!(
            "the server sent a Binary without bytes (`{name}` is empty)"
        )),
        Some(bytes) => Ok(Document {
            bytes,
            content_type: binary.content_type,
        }),
        None => Err(format!("the Binary's `{name}` is not valid base64")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_weigh_what_they_announce_within_the_budget() {
        assert_eq!(weight_kib(None), UNANNOUNCED_KIB);
        assert_eq!(weight_kib(Some(0)), 1);
        assert_eq!(weight_kib(Some(1)), 1);
        assert_eq!(weight_kib(Some(1025)), 2);
        assert_eq!(
            weight_kib(Some(u64::MAX)),
            BUDGET_KIB,
            "a huge one goes alone"
        );
        assert_eq!(
            BUDGET_KIB / UNANNOUNCED_KIB,
            64,
            "64 of unknown size at once"
        );
    }

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
            assert!(matches!(why, UrlRefusal::OtherOrigin(_)), "{bad}: {why}");
            assert!(
                why.to_string().contains("not the FHIR server"),
                "{bad}: {why}"
            );
        }
        // A scheme-relative URL is read as a path under the base, never as another host.
        assert_eq!(
            attachment_url(&base, "//evil.example/x")
                .unwrap()
                .host_str(),
            Some("fhir.example.org")
        );
    }

    fn answer(ct: &str, body: &[u8]) -> BytesResponse {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_TYPE, ct.parse().unwrap());
        BytesResponse {
            status: reqwest::StatusCode::OK,
            headers,
            body: body.to_vec(),
        }
    }

    fn pdf(size: Option<u64>) -> Attachment {
        Attachment {
            resource: "DocumentReference/d".into(),
            file: "DocumentReference-d-1.pdf".into(),
            url: Some("Binary/b".into()),
            data: None,
            content_type: Some("application/pdf".into()),
            size,
        }
    }

    #[test]
    fn answers_that_cannot_be_the_document_are_refused() {
        let pdf = pdf(Some(4));
        let r4 = FhirRelease::R4;
        assert_eq!(
            document(&pdf, &answer("application/pdf", b"%PDF"), r4).unwrap(),
            Document {
                bytes: b"%PDF".to_vec(),
                content_type: None
            }
        );
        let binary =
            br#"{"resourceType":"Binary","contentType":"application/pdf","data":"JVBERg=="}"#;
        assert_eq!(
            document(&pdf, &answer("application/fhir+json", binary), r4).unwrap(),
            Document {
                bytes: b"%PDF".to_vec(),
                content_type: Some("application/pdf".into())
            }
        );
        assert!(document(&pdf, &answer("application/fhir+json", b"{\"a\":1,]"), r4).is_err());
        assert!(document(&pdf, &answer("application/json", b"{\"a\":1}"), r4).is_err());
        assert!(document(&pdf, &answer("text/html", b"<html>login</html>"), r4).is_err());
        // A size that differs is a complaint (retried, then a failure), never kept.
        let short = document(&pdf, &answer("application/pdf", b"%PD"), r4).unwrap_err();
        assert!(
            short.contains("3 bytes arrived where the record announces 4"),
            "{short}"
        );
        let json_doc = Attachment {
            content_type: Some("application/json".into()),
            size: None,
            ..pdf
        };
        assert!(document(&json_doc, &answer("application/json", b"{\"a\":1}"), r4).is_ok());
        assert_eq!(size_mismatch(&json_doc, b"anything"), None);
    }

    /// Regression: DSTU2 and STU3 Binaries keep their bytes in `content`; reading `data` saved
    /// every document of a DSTU2 server as an empty file (issue 17).
    #[test]
    fn binary_bytes_by_release() {
        let pdf = pdf(None);
        let dstu2 = br#"{"resourceType":"Binary","id":"b","contentType":"application/pdf","content":"JVBERi0xLjQ="}"#;
        let r4 = br#"{"resourceType":"Binary","id":"b","contentType":"application/pdf","data":"JVBERi0xLjQ="}"#;
        for release in [
            FhirRelease::Dstu2,
            FhirRelease::Stu3,
            FhirRelease::R4,
            FhirRelease::R5,
            FhirRelease::Unknown,
        ] {
            for body in [&dstu2[..], &r4[..]] {
                let doc = document(&pdf, &answer("application/fhir+json", body), release).unwrap();
                assert_eq!(doc.bytes, b"%PDF-1.4", "{release:?}");
                assert_eq!(doc.content_type.as_deref(), Some("application/pdf"));
            }
        }
        // Both present: the release's own element wins.
        let both = br#"{"resourceType":"Binary","contentType":"text/plain","content":"YQ==","data":"Yg=="}"#;
        let text = Attachment {
            content_type: Some("text/plain".into()),
            ..pdf.clone()
        };
        let read = |release| document(&text, &answer("application/json", both), release);
        assert_eq!(read(FhirRelease::Dstu2).unwrap().bytes, b"a");
        assert_eq!(read(FhirRelease::R4).unwrap().bytes, b"b");
        // No bytes at all, empty bytes, bad base64: complaints that name the element.
        for (body, says) in [
            (
                &br#"{"resourceType":"Binary","contentType":"application/pdf"}"#[..],
                "no `content` element",
            ),
            (
                br#"{"resourceType":"Binary","contentType":"application/pdf","content":""}"#,
                "`content` is empty",
            ),
            (
                br#"{"resourceType":"Binary","content":"%%%"}"#,
                "`content` is not valid base64",
            ),
        ] {
            let why = document(
                &pdf,
                &answer("application/fhir+json", body),
                FhirRelease::Dstu2,
            )
            .unwrap_err();
            assert!(why.contains(says), "{why}");
        }
        // An empty raw answer is no document either.
        assert!(document(&pdf, &answer("application/pdf", b""), FhirRelease::R4).is_err());
    }

    #[test]
    fn extensions() {
        assert_eq!(extension(Some("application/pdf; charset=binary")), "pdf");
        assert_eq!(extension(Some("IMAGE/PNG")), "png");
        assert_eq!(extension(Some("../../x")), "bin");
        assert_eq!(extension(None), "bin");
    }
}
