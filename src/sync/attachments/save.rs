//! One pass over the export's documents: every carrying type's file read as it becomes final,
//! each document saved at most once (a bounded number at once, within a memory budget), and
//! `attachments/manifest.json` written when it changed.

use super::download::content;
use super::{
    attachments_of, read_manifest, Attachment, Document, ManifestEntry, Problem, Report, Unsaved,
};
use crate::atomic::{sync_dir, write_atomic, write_atomic_in_batch};
use crate::fhir::client::FhirClient;
use crate::fhir::version::FhirRelease;
use anyhow::Result;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

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
    progress: crate::sync::progress::PhaseProgress,
    mut ready: tokio::sync::mpsc::UnboundedReceiver<&'static str>,
) -> Result<Report> {
    let dir = crate::export_layout::attachments_dir(out);
    let manifest_path = crate::export_layout::attachments_manifest_path(out);
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
            pass.queue_type(ty, &crate::export_layout::ndjson_path(out, ty))
                .await?;
        }
    }
    pass.progress.all_queued();
    let (mut manifest, mut report) = pass.finish().await?;
    progress.finish();
    // The documents' names are made durable here, once, before the manifest lists them.
    sync_dir(&dir);
    let out_dir = out.to_path_buf();
    (manifest, report.notes) = tokio::task::spawn_blocking(move || {
        let notes = super::notes::extract_all(&out_dir, &mut manifest);
        notes.map(|n| (manifest, n))
    })
    .await??;
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
    progress: crate::sync::progress::PhaseProgress,
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
        let ids = crate::sync::ndjson::ids_in(path)?;
        let stems = crate::sync::naming::stems(ids.iter().map(String::as_str));
        for line in std::io::BufRead::lines(std::io::BufReader::new(file)) {
            let line = line.map_err(cannot_read)?;
            let resource = match readable(&line) {
                Ok(resource) => resource,
                Err(why) => {
                    // Stored as sent but unreadable as a tree here: its documents cannot be
                    // found, which is said (and remembered) rather than passed over.
                    let stored = crate::sync::resource::Resource::from_text(&line);
                    let id = stored.id.unwrap_or_default();
                    self.report.fail(Problem {
                        file: format!("{ty}-{id}-*"),
                        resource: format!("{ty}/{id}"),
                        url: None,
                        reason: format!("its attachments could not be read ({why})"),
                    });
                    continue;
                }
            };
            let id = resource.get("id").and_then(Value::as_str).unwrap_or("");
            for mut a in attachments_of(ty, &resource) {
                if let Some(stem) = stems.get(id).filter(|s| s.as_str() != id) {
                    let single = crate::sync::naming::single(id);
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
        sha256: crate::sync::manifest::sha256_hex(&bytes),
        text: None,
        text_from_sha256: None,
        text_failed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

/// A stored resource's line as a tree, to find its attachments. A lone surrogate escape
/// (legal JSON that serde_json cannot turn into a string) is read as U+FFFD here; the stored
/// line keeps it. Nesting past serde_json's recursion limit stays an error.
fn readable(line: &str) -> std::result::Result<Value, String> {
    match serde_json::from_str::<Value>(line) {
        Ok(v) => Ok(v),
        Err(first) => {
            let mended = mend_lone_surrogates(line);
            serde_json::from_str::<Value>(&mended).map_err(|_| first.to_string())
        }
    }
}

/// `line` with every `\uXXXX` escape of a surrogate that is not part of a pair replaced by
/// `\ufffd`.
fn mend_lone_surrogates(line: &str) -> String {
    let b = line.as_bytes();
    let hex = |at: usize| -> Option<u16> {
        let digits = line.get(at + 2..at + 6)?;
        (b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u'))
            .then(|| u16::from_str_radix(digits, 16).ok())
            .flatten()
    };
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    while at < b.len() {
        if b[at] == b'\\' {
            match hex(at) {
                Some(0xD800..=0xDBFF)
                    if hex(at + 6).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) =>
                {
                    out.push_str(&line[at..at + 12]);
                    at += 12;
                }
                Some(0xD800..=0xDFFF) => {
                    out.push_str("\\ufffd");
                    at += 6;
                }
                _ => {
                    // Any other escape is copied whole (`\\` must not start a new one).
                    let len = if b.get(at + 1) == Some(&b'u') { 6 } else { 2 };
                    match line.get(at..at + len) {
                        Some(escape) => out.push_str(escape),
                        // Not JSON after all: copied as it is, and the reading fails.
                        None => {
                            out.push_str(&line[at..]);
                            break;
                        }
                    }
                    at += len;
                }
            }
        } else {
            let next = line[at..].find('\\').map_or(line.len(), |k| at + k);
            out.push_str(&line[at..next]);
            at = next;
        }
    }
    out
}

#[cfg(test)]
mod mend_tests {
    use super::*;

    #[test]
    fn lone_surrogates_are_read_and_pairs_and_other_escapes_kept() {
        let line = r#"{"a":"x\ud800y","b":"\ud83d\ude00","c":"\\ud800","d":"\udfff"}"#;
        let v = readable(line).unwrap();
        assert_eq!(v["a"], "x\u{fffd}y");
        assert_eq!(v["b"], "😀");
        assert_eq!(v["c"], "\\ud800");
        assert_eq!(v["d"], "\u{fffd}");
        // Text that is not JSON never panics the mending.
        for odd in ["\\", "\\u12", "x\\é", "\\ud800\\u"] {
            assert!(readable(odd).is_err(), "{odd}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(readable(&deep).unwrap_err().contains("recursion limit"));
    }
}
