//! `fhirdl bundle`: the export folder as one FHIR Bundle (`collection`, or `transaction` with a
//! PUT per resource), for apps that import Bundles and for loading into a FHIR server.
//!
//! Streamed in constant memory: each NDJSON line is copied into its entry byte for byte (never
//! parsed into a tree and printed again, which would turn a FHIR decimal `1.50` into `1.5`);
//! only its `resourceType` and `id` are read. Files are sorted by id (as `sync` writes them),
//! so a repeated id is seen next to its twin and left out. Documents saved under
//! `attachments/` become Binary entries whose `fullUrl` is the URL the record's attachment
//! points to, so the Bundle carries them and a reader resolves them inside it. [`split`]
//! reads a Bundle back into NDJSON files (`fhirdl unbundle`); [`sources`] writes the exports of
//! several profiles as one Bundle.

mod binary;
mod origin;
pub mod sources;
pub mod split;

use crate::error::{Failure, Kind};
use crate::folder::{for_each_line, Folder, TypeFile};
use crate::sync::bundle::valid_id;
use anyhow::Result;
use binary::{binary, binary_identity};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;

/// `Bundle.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BundleType {
    /// A set of resources to keep or import (the default).
    Collection,
    /// PUT by type and id, to load into a FHIR server all or nothing.
    Transaction,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub bundle_type: BundleType,
    /// Add the saved documents as Binary entries.
    pub attachments: bool,
    /// `Bundle.timestamp`.
    pub timestamp: String,
    /// Leave out a resource whose text is exactly that of one written already (from another
    /// source), and count it.
    pub dedupe: bool,
}

/// What was written.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub entries: usize,
    /// Entries per resource type (attachment Binaries included under Binary).
    pub resources: BTreeMap<String, usize>,
    /// Saved documents added as Binary entries.
    pub attachments: usize,
    /// Lines left out because their id repeats the line before, or their `fullUrl` one written
    /// already (two profiles of the same server).
    pub duplicates: usize,
    /// Resources left out by `--dedupe` because their text is that of one written already.
    pub same_text: usize,
    /// Lines left out because they are not a resource of their file's type with a valid id.
    pub skipped: usize,
    pub warnings: Vec<String>,
    /// Bytes of the Bundle's JSON (before gzip).
    pub bytes: u64,
    /// Per source, when the Bundle was written from several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<sources::SourceSummary>,
}

/// The `resourceType` and `id` of a line; the rest is checked as JSON and skipped.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, rename = "resourceType")]
    resource_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

/// Counts the bytes that pass through.
struct Counting<'w> {
    inner: &'w mut dyn Write,
    bytes: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the folder's resources as one Bundle to `out`.
pub fn write(folder: &Folder, opts: &Options, out: &mut dyn Write) -> Result<Summary> {
    let mut bundle = Writer::new(opts, out);
    bundle.open()?;
    bundle.source(folder)?;
    bundle.close()
}

/// One Bundle being written: where its bytes go and what it holds so far.
pub(crate) struct Writer<'a, 'w> {
    opts: &'a Options,
    out: Counting<'w>,
    /// The FHIR base of the source being written, without its trailing slash: its resources'
    /// `fullUrl` start with it.
    base: Option<String>,
    pub(crate) summary: Summary,
    /// No entry written yet (the next one is not preceded by a comma).
    first: bool,
    /// Every `fullUrl` written, so that none is written twice.
    full_urls: HashSet<String>,
    /// SHA-256 of every resource written, with `--dedupe`.
    texts: HashSet<[u8; 32]>,
}

impl<'a, 'w> Writer<'a, 'w> {
    pub(crate) fn new(opts: &'a Options, out: &'w mut dyn Write) -> Writer<'a, 'w> {
        Writer {
            opts,
            out: Counting {
                inner: out,
                bytes: 0,
            },
            base: None,
            summary: Summary::default(),
            first: true,
            full_urls: HashSet::new(),
            texts: HashSet::new(),
        }
    }

    /// Every resource of one export folder, then its saved documents.
    pub(crate) fn source(&mut self, folder: &Folder) -> Result<()> {
        self.base = folder
            .fhir_base
            .as_deref()
            .map(|b| b.trim_end_matches('/').to_owned());
        for t in &folder.types {
            self.resources(t)?;
        }
        if self.opts.attachments {
            self.documents(folder)?;
        }
        Ok(())
    }

    /// The Bundle's own elements, up to the opening of `entry`.
    pub(crate) fn open(&mut self) -> Result<()> {
        let kind = match self.opts.bundle_type {
            BundleType::Collection => "collection",
            BundleType::Transaction => "transaction",
        };
        write!(
            self.out,
            "{{\"resourceType\":\"Bundle\",\"type\":\"{kind}\",\"timestamp\":{},\"entry\":[",
            serde_json::to_string(&self.opts.timestamp)?
        )?;
        Ok(())
    }

    /// An entry per line of the type's file; lines that are not a resource of the type with a
    /// valid id, and repeated ids, are left out and said.
    fn resources(&mut self, t: &TypeFile) -> Result<()> {
        let ty = t.resource_type.as_str();
        let file = crate::export_layout::ndjson_name(ty);
        let mut previous: Option<String> = None;
        for_each_line(&t.path, |line| {
            let head: Head<'_> = match serde_json::from_slice(line) {
                Ok(h) => h,
                Err(e) => {
                    self.summary.skipped += 1;
                    self.summary
                        .warnings
                        .push(format!("{file}: a line is not JSON ({e}); left out"));
                    return Ok(());
                }
            };
            let id = head.id.as_deref().filter(|i| valid_id(i));
            let (Some(id), true) = (id, head.resource_type.as_deref() == Some(ty)) else {
                self.summary.skipped += 1;
                self.summary.warnings.push(format!(
                    "{file}: a line is not a {ty} with a valid id; left out"
                ));
                return Ok(());
            };
            match previous.as_deref().map(|p| p.cmp(id)) {
                Some(std::cmp::Ordering::Equal) => {
                    self.summary.duplicates += 1;
                    self.summary.warnings.push(format!(
                        "{ty}/{id} appears twice in {file}; the first is kept"
                    ));
                    return Ok(());
                }
                Some(std::cmp::Ordering::Greater) => {
                    return Err(Failure::new(
                        Kind::Usage,
                        format!("{} is not sorted by id ({id} after {})", t.path.display(), previous.as_deref().unwrap_or_default()),
                    )
                    .hint("`fhirdl sync` sorts and repairs the files of an export; run it, then bundle again")
                    .into());
                }
                _ => {}
            }
            previous = Some(id.to_owned());
            self.resource(ty, id, line)
        })
    }

    /// The entry of one resource, its line copied byte for byte; left out when its `fullUrl`
    /// was written already, or (with `--dedupe`) its text.
    fn resource(&mut self, ty: &str, id: &str, line: &[u8]) -> Result<()> {
        let full_url = self.base.as_ref().map(|b| format!("{b}/{ty}/{id}"));
        if let Some(u) = &full_url {
            if !self.full_urls.insert(u.clone()) {
                self.summary.duplicates += 1;
                self.summary
                    .warnings
                    .push(format!("{u} is in more than one export; the first is kept"));
                return Ok(());
            }
        }
        if self.opts.dedupe {
            use sha2::Digest;
            if !self.texts.insert(sha2::Sha256::digest(line).into()) {
                self.summary.same_text += 1;
                return Ok(());
            }
        }
        self.entry_start(full_url.as_deref())?;
        self.out.write_all(b"\"resource\":")?;
        self.out.write_all(line)?;
        self.entry_end(ty, id)?;
        self.summary.entries += 1;
        *self.summary.resources.entry(ty.to_owned()).or_default() += 1;
        Ok(())
    }

    /// A Binary entry per saved document that the record refers to by URL and does not hold
    /// already.
    fn documents(&mut self, folder: &Folder) -> Result<()> {
        let binaries =
            crate::sync::ndjson::ids_in(&crate::export_layout::ndjson_path(&folder.dir, "Binary"))?;
        for (file, entry) in &folder.attachments {
            let Some(url) = entry.url.as_deref() else {
                // Inline data: the document is in the resource already.
                continue;
            };
            let Some(path) = folder.attachment_path(file) else {
                self.summary.warnings.push(format!(
                    "{} is listed but missing; left out",
                    crate::export_layout::attachment_name(file)
                ));
                continue;
            };
            let (id, absolute) = binary_identity(self.base.as_deref(), url);
            let full_url = match (self.opts.bundle_type, &self.base) {
                // A server loading a transaction expects `<base>/Binary/<id>` for a PUT.
                (BundleType::Transaction, Some(b)) => Some(format!("{b}/Binary/{id}")),
                _ => absolute,
            };
            if binaries.contains(&id)
                || full_url
                    .as_ref()
                    .is_some_and(|u| !self.full_urls.insert(u.clone()))
            {
                continue;
            }
            self.entry_start(full_url.as_deref())?;
            binary(
                &mut self.out,
                folder,
                &id,
                entry.content_type.as_deref(),
                &path,
            )?;
            self.entry_end("Binary", &id)?;
            self.summary.entries += 1;
            self.summary.attachments += 1;
            *self.summary.resources.entry("Binary".into()).or_default() += 1;
        }
        Ok(())
    }

    /// Opens an entry (after a comma unless it is the first) with its `fullUrl`, if any.
    fn entry_start(&mut self, full_url: Option<&str>) -> Result<()> {
        self.out
            .write_all(if self.first { b"\n{" } else { b",\n{" })?;
        self.first = false;
        if let Some(u) = full_url {
            write!(self.out, "\"fullUrl\":{},", serde_json::to_string(u)?)?;
        }
        Ok(())
    }

    /// Closes an entry, with its PUT in a transaction.
    fn entry_end(&mut self, ty: &str, id: &str) -> Result<()> {
        if self.opts.bundle_type == BundleType::Transaction {
            write!(
                self.out,
                ",\"request\":{{\"method\":\"PUT\",\"url\":\"{ty}/{id}\"}}"
            )?;
        }
        self.out.write_all(b"}")?;
        Ok(())
    }

    /// Closes the Bundle and says what it holds.
    pub(crate) fn close(mut self) -> Result<Summary> {
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()?;
        self.summary.bytes = self.out.bytes;
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, Folder) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let f = Folder::open(dir.path()).unwrap();
        (dir, f)
    }

    fn opts(t: BundleType) -> Options {
        Options {
            bundle_type: t,
            attachments: true,
            timestamp: "2025-01-01T00:00:00Z".into(),
            dedupe: false,
        }
    }

    #[test]
    fn lines_are_copied_byte_for_byte() {
        let obs =
            "{\"resourceType\":\"Observation\",\"id\":\"a\",\"valueQuantity\":{\"value\":1.50}}";
        let (_d, f) = folder(&[
            ("Observation.ndjson", &format!("{obs}\n{obs}\n{{\"resourceType\":\"Observation\",\"id\":\"../x\"}}\nnot json\n")),
            ("Patient.ndjson", "{\"resourceType\":\"Patient\",\"id\":\"p\"}\n"),
            ("manifest.json", "{\"fhir_base\":\"https://h/fhir/\"}"),
        ]);
        let mut out = Vec::new();
        let s = write(&f, &opts(BundleType::Transaction), &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains(&format!(
                "\"resource\":{obs},\"request\":{{\"method\":\"PUT\",\"url\":\"Observation/a\"}}"
            )),
            "{text}"
        );
        assert!(
            text.find("Patient/p").unwrap() < text.find("Observation/a").unwrap(),
            "Patient first"
        );
        assert_eq!((s.entries, s.duplicates, s.skipped), (2, 1, 2));
        assert_eq!(s.bytes, out.len() as u64);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["entry"][0]["fullUrl"], "https://h/fhir/Patient/p");
        // Unsorted files are refused, not half-deduplicated.
        let (_d, f) = folder(&[(
            "Goal.ndjson",
            "{\"resourceType\":\"Goal\",\"id\":\"b\"}\n{\"resourceType\":\"Goal\",\"id\":\"a\"}\n",
        )]);
        let err = write(&f, &opts(BundleType::Collection), &mut Vec::new()).unwrap_err();
        assert!(format!("{err:#}").contains("not sorted"), "{err:#}");
    }

    #[test]
    fn saved_documents_become_binaries_at_their_url() {
        let (_d, f) = folder(&[
            (
                "DocumentReference.ndjson",
                "{\"resourceType\":\"DocumentReference\",\"id\":\"d\"}\n",
            ),
            (
                "manifest.json",
                "{\"fhir_base\":\"http://s/fhir\",\"patient\":\"p\",\"fhir_version\":\"4.0.1\"}",
            ),
            ("attachments/DocumentReference-d-1.pdf", "%PDF-1.4 hello"),
            ("attachments/DocumentReference-d-2.xml", "<x/>"),
            ("attachments/DocumentReference-d-3.txt", "inline"),
            (
                "attachments/manifest.json",
                r#"{"DocumentReference-d-1.pdf":{"resource":"DocumentReference/d","url":"http://s/fhir/Binary/b1","content_type":"application/pdf","bytes":14,"sha256":""},
                    "DocumentReference-d-2.xml":{"resource":"DocumentReference/d","url":"http://s/fhir/document/x","bytes":4,"sha256":""},
                    "DocumentReference-d-3.txt":{"resource":"DocumentReference/d","bytes":6,"sha256":""}}"#,
            ),
        ]);
        let mut out = Vec::new();
        let s = write(&f, &opts(BundleType::Collection), &mut out).unwrap();
        assert_eq!(
            s.attachments, 2,
            "the inline document is in its resource already"
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let b = &v["entry"][1];
        assert_eq!(b["fullUrl"], "http://s/fhir/Binary/b1");
        assert_eq!(b["resource"]["id"], "b1");
        assert_eq!(b["resource"]["securityContext"]["reference"], "Patient/p");
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD
            .decode(b["resource"]["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data, b"%PDF-1.4 hello");
        assert_eq!(v["entry"][2]["fullUrl"], "http://s/fhir/document/x");
        assert!(v["entry"][2]["resource"]["id"]
            .as_str()
            .unwrap()
            .starts_with("fhirdl-"));
        let mut out = Vec::new();
        write(&f, &opts(BundleType::Transaction), &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let id = v["entry"][2]["resource"]["id"].as_str().unwrap();
        assert_eq!(
            v["entry"][2]["fullUrl"],
            format!("http://s/fhir/Binary/{id}")
        );
        assert_eq!(v["entry"][2]["request"]["url"], format!("Binary/{id}"));
    }
}
