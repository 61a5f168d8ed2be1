//! The text of every saved document that is a note (C-CDA, HTML, XHTML, RTF, plain text),
//! written to `notes/<file>.txt` and named in `attachments/manifest.json` (`text`) with the
//! SHA-256 of the document it was read from (`text_from_sha256`). A document already read at
//! the same digest is not read again, so the pass also brings an export made before fhirdl
//! extracted notes up to date on its next sync. A document whose text cannot be read is named
//! (`text_failed` in the manifest, and in the run's report) and the run goes on; the document
//! itself is never changed.

use super::ManifestEntry;
use crate::atomic::{remove_if_exists, sync_dir, write_atomic_in_batch};
use crate::export_layout as layout;
use crate::note_text;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

/// Larger notes are not read (their text would be held in memory several times over);
/// a clinical note is rarely more than a few hundred KiB.
const NOTE_BYTES_MAX: usize = 32 << 20;

/// What the pass did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NotesReport {
    /// Texts written by this run.
    pub extracted: usize,
    /// Texts already current.
    pub already_present: usize,
    /// `failures.len()`.
    pub failed: usize,
    /// Documents whose text could not be read: the file under `attachments/` and why.
    pub failures: Vec<(String, String)>,
}

/// Extracts the text of every note listed in `manifest` whose text is not current, records it
/// in its entry, and removes texts no entry names any more.
pub fn extract_all(
    out: &Path,
    manifest: &mut BTreeMap<String, ManifestEntry>,
) -> Result<NotesReport> {
    let documents = layout::attachments_dir(out);
    let notes = layout::notes_dir(out);
    let mut report = NotesReport::default();
    let mut wrote = false;
    for (file, entry) in manifest.iter_mut() {
        let current = entry.text_from_sha256.as_deref() == Some(entry.sha256.as_str());
        let text_there = entry
            .text
            .as_ref()
            .is_some_and(|_| notes.join(format!("{file}.txt")).is_file());
        if current && (text_there || entry.text_failed.is_some()) {
            if entry.text_failed.is_some() {
                report.failed += 1;
                report
                    .failures
                    .push((file.clone(), entry.text_failed.clone().unwrap_or_default()));
            } else if entry.text.is_some() {
                report.already_present += 1;
            }
            continue;
        }
        let path = documents.join(file);
        let Some(format) = format_of(entry, &path)? else {
            clear(entry);
            continue;
        };
        entry.text_from_sha256 = Some(entry.sha256.clone());
        match read_note(entry, format, &path) {
            Ok(text) => {
                crate::atomic::create_private_dir(&notes)?;
                write_atomic_in_batch(&notes.join(format!("{file}.txt")), text.as_bytes())?;
                wrote = true;
                entry.text = Some(layout::note_name(file));
                entry.text_failed = None;
                report.extracted += 1;
            }
            Err(why) => {
                entry.text = None;
                entry.text_failed = Some(why.0.clone());
                report.failed += 1;
                report.failures.push((file.clone(), why.0));
            }
        }
    }
    remove_unnamed(&notes, manifest)?;
    if wrote {
        // The texts' names are made durable once, before the manifest names them.
        sync_dir(&notes);
    }
    Ok(report)
}

/// Whether a document the export lists is a note without its current text (an export made
/// before fhirdl extracted notes, or whose `notes/` lost a file): the next sync's document
/// pass then runs even when no document changed.
pub fn pending(out: &Path) -> bool {
    let manifest = super::read_manifest(&layout::attachments_manifest_path(out));
    let (documents, notes) = (layout::attachments_dir(out), layout::notes_dir(out));
    manifest.iter().any(|(file, e)| {
        let current = e.text_from_sha256.as_deref() == Some(e.sha256.as_str());
        let lost = e.text.is_some() && !notes.join(format!("{file}.txt")).is_file();
        (!current || lost) && matches!(format_of(e, &documents.join(file)), Ok(Some(_)))
    })
}

/// The text of one note; a document too large, unreadable or not readable as its format is
/// a named failure.
fn read_note(
    entry: &ManifestEntry,
    format: note_text::Format,
    path: &Path,
) -> Result<String, note_text::Error> {
    if entry.bytes > NOTE_BYTES_MAX {
        return Err(note_text::Error(format!(
            "the document is larger than {} MiB; left unread",
            NOTE_BYTES_MAX >> 20
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| note_text::Error(format!("cannot read {}: {e}", path.display())))?;
    note_text::extract(format, &bytes)
}

/// The note format of a listed document: by its content type, else by its first bytes.
fn format_of(entry: &ManifestEntry, path: &Path) -> Result<Option<note_text::Format>> {
    if let Some(f) = note_text::format_of(entry.content_type.as_deref(), b"x") {
        return Ok(Some(f));
    }
    let sniff = entry.content_type.as_deref().is_none_or(|c| {
        c.trim()
            .to_ascii_lowercase()
            .starts_with("application/octet-stream")
    });
    if !sniff {
        return Ok(None);
    }
    let mut head = Vec::with_capacity(512);
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    file.take(512)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(note_text::format_of(entry.content_type.as_deref(), &head))
}

/// An entry that is not a note has no text.
fn clear(entry: &mut ManifestEntry) {
    entry.text = None;
    entry.text_from_sha256 = None;
    entry.text_failed = None;
}

/// Texts in `notes/` that no entry names (their document is gone, or is no note any more).
fn remove_unnamed(notes: &Path, manifest: &BTreeMap<String, ManifestEntry>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(notes) else {
        return Ok(());
    };
    let named: HashSet<String> = manifest.values().filter_map(|e| e.text.clone()).collect();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let listed = format!("{}/{name}", layout::NOTES);
        if name.ends_with(".txt")
            && !named.contains(&listed)
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            remove_if_exists(&e.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(content_type: Option<&str>, bytes: &[u8]) -> ManifestEntry {
        ManifestEntry {
            resource: "DocumentReference/d".into(),
            url: None,
            content_type: content_type.map(str::to_owned),
            bytes: bytes.len(),
            sha256: crate::sync::manifest::sha256_hex(bytes),
            text: None,
            text_from_sha256: None,
            text_failed: None,
        }
    }

    #[test]
    fn notes_are_extracted_once_failures_named_and_documents_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let docs = layout::attachments_dir(dir.path());
        std::fs::create_dir_all(&docs).unwrap();
        let files: [(&str, Option<&str>, &[u8]); 5] = [
            (
                "DocumentReference-d-1.txt",
                Some("text/plain"),
                "Zoë Müller — 血压".as_bytes(),
            ),
            (
                "DocumentReference-d-2.bin",
                None,
                b"<html><body><p>sniffed</p></body></html>",
            ),
            (
                "DocumentReference-d-3.xml",
                Some("application/xml"),
                b"<a><b>broken</a>",
            ),
            (
                "DocumentReference-d-4.pdf",
                Some("application/pdf"),
                b"%PDF-1.4",
            ),
            ("DocumentReference-d-5.png", None, b"\x89PNG"),
        ];
        let mut manifest = BTreeMap::new();
        for (name, ct, bytes) in files {
            std::fs::write(docs.join(name), bytes).unwrap();
            manifest.insert(name.to_owned(), entry(ct, bytes));
        }
        // Listed, but its file is gone: named, not fatal.
        manifest.insert(
            "DocumentReference-d-6.txt".to_owned(),
            entry(Some("text/plain"), b"gone"),
        );
        std::fs::create_dir_all(layout::notes_dir(dir.path())).unwrap();
        let stale = layout::notes_dir(dir.path()).join("DocumentReference-gone-1.txt.txt");
        std::fs::write(&stale, "old").unwrap();
        let r = extract_all(dir.path(), &mut manifest).unwrap();
        assert_eq!(
            (r.extracted, r.failed, r.already_present),
            (2, 2, 0),
            "{r:?}"
        );
        assert_eq!(r.failures[0].0, "DocumentReference-d-3.xml");
        let one = &manifest["DocumentReference-d-1.txt"];
        assert_eq!(
            one.text.as_deref(),
            Some("notes/DocumentReference-d-1.txt.txt")
        );
        assert_eq!(one.text_from_sha256.as_deref(), Some(one.sha256.as_str()));
        let text = std::fs::read_to_string(dir.path().join(one.text.as_ref().unwrap())).unwrap();
        assert_eq!(text, "Zoë Müller — 血压\n");
        assert!(manifest["DocumentReference-d-3.xml"]
            .text_failed
            .as_deref()
            .unwrap()
            .contains("XML"));
        assert!(manifest["DocumentReference-d-4.pdf"].text.is_none());
        assert!(!stale.exists(), "a text no entry names is removed");
        assert_eq!(
            std::fs::read(docs.join("DocumentReference-d-1.txt")).unwrap(),
            "Zoë Müller — 血压".as_bytes()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(one.text.as_ref().unwrap()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Again: nothing is read twice, the failure is still named.
        let before = manifest.clone();
        let r = extract_all(dir.path(), &mut manifest).unwrap();
        assert_eq!(
            (r.extracted, r.failed, r.already_present),
            (0, 2, 2),
            "{r:?}"
        );
        assert_eq!(manifest, before);
        // A changed document is read again.
        let new = "second version".as_bytes();
        std::fs::write(docs.join("DocumentReference-d-1.txt"), new).unwrap();
        manifest.insert(
            "DocumentReference-d-1.txt".into(),
            entry(Some("text/plain"), new),
        );
        let r = extract_all(dir.path(), &mut manifest).unwrap();
        assert_eq!(r.extracted, 1);
    }
}
