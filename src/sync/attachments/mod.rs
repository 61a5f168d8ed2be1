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
//!
//! Which attachments a resource carries and their names are [`carried`], one document's bytes
//! [`download`], and the pass over the export that saves them all [`save`].

mod carried;
mod download;
pub mod notes;
mod save;

use crate::sanitize::clean;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub use carried::{attachments_of, extension};
pub use download::{attachment_url, UrlRefusal};
pub use save::save_all;

/// Largest attachment fhirdl downloads.
pub const MAX_ATTACHMENT_BYTES: usize = 512 * 1024 * 1024;

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
    /// `notes/<file>.txt`: the document's text, when it is a note (see [`notes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The `sha256` of the document the text (or the failure) comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_from_sha256: Option<String>,
    /// Why the document's text could not be extracted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_failed: Option<String>,
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
    /// The text of the documents that are notes.
    pub notes: notes::NotesReport,
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
        let n = &self.notes;
        self.downloaded
            + self.decoded
            + self.already_present
            + self.failed
            + self.not_followed
            + n.extracted
            + n.already_present
            + n.failed
            == 0
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

/// The types whose resources carry attachments.
pub const TYPES: [&str; 2] = ["DocumentReference", "DiagnosticReport"];

fn read_manifest(path: &Path) -> BTreeMap<String, ManifestEntry> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Whether `attachments/manifest.json` lists an empty document: earlier versions of fhirdl
/// saved DSTU2/STU3 Binaries as empty files (they read `data`); the next run fetches them again.
pub fn manifest_lists_empty_documents(out: &Path) -> bool {
    read_manifest(&crate::export_layout::attachments_manifest_path(out))
        .values()
        .any(|e| e.bytes == 0)
}
