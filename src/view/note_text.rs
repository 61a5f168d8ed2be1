//! A saved note's extracted text on the page (see `sync::attachments::notes`): a link to its
//! `notes/<file>.txt` beside the document's own link, and the text itself in a closed
//! `<details>` of the row, so the filter (which searches each row's text) finds a note by what
//! it says, and a reader without JavaScript can open it.

use super::html;
use crate::export_layout as layout;
use crate::folder::{is_safe_file_name, Folder};
use crate::sync::attachments::ManifestEntry;
use std::fmt::Write;

/// Characters of a note's text put on the page; the linked file holds all of it.
const SHOWN_MAX: usize = 200_000;

/// The link and the text of document `file`'s extracted text, or nothing when it has none
/// (not a note, not extracted, or its file is gone). The path is made here from the
/// document's own safe name, never taken from the manifest.
pub fn cell(folder: &Folder, prefix: &[String], file: &str, entry: &ManifestEntry) -> String {
    let name = format!("{file}.txt");
    if !is_safe_file_name(file) || entry.text.as_deref() != Some(layout::note_name(file).as_str()) {
        return String::new();
    }
    let Ok(text) = std::fs::read_to_string(layout::notes_dir(&folder.dir).join(&name)) else {
        return String::new();
    };
    let mut segments: Vec<&str> = prefix.iter().map(String::as_str).collect();
    segments.extend([layout::NOTES, name.as_str()]);
    let shown: String = text.chars().take(SHOWN_MAX).collect();
    let mut out = String::new();
    let _ = write!(
        out,
        " <a class=\"file\" href=\"{}\" data-note=\"{}\">text</a>\
         <details class=\"note-text\"><summary>Text of the note</summary><pre>{}{}</pre></details>",
        html::attr(&html::href(&segments)),
        html::attr(file),
        html::text(&shown),
        if shown.len() < text.len() {
            "\n…"
        } else {
            ""
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_links_its_text_and_shows_it_escaped_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Patient.ndjson"),
            "{\"resourceType\":\"Patient\",\"id\":\"p\"}\n",
        )
        .unwrap();
        std::fs::create_dir_all(layout::notes_dir(dir.path())).unwrap();
        std::fs::write(
            layout::notes_dir(dir.path()).join("D-d-1.xml.txt"),
            "Zoë <b>Müller</b>\n",
        )
        .unwrap();
        let folder = Folder::open(dir.path()).unwrap();
        let mut entry = ManifestEntry {
            resource: "DocumentReference/d".into(),
            url: None,
            content_type: Some("application/xml".into()),
            bytes: 1,
            sha256: "x".into(),
            text: Some("notes/D-d-1.xml.txt".into()),
            text_from_sha256: Some("x".into()),
            text_failed: None,
        };
        let cell = cell(&folder, &["..".into()], "D-d-1.xml", &entry);
        assert!(cell.contains("href=\"../notes/D-d-1.xml.txt\""), "{cell}");
        assert!(cell.contains("Zoë &lt;b&gt;Müller&lt;/b&gt;"), "{cell}");
        assert_eq!(
            super::cell(&folder, &[], "D-d-2.xml", &entry),
            "",
            "no such text"
        );
        assert_eq!(super::cell(&folder, &[], "../D-d-1.xml", &entry), "");
        entry.text = Some("../../etc/passwd".into());
        assert_eq!(
            super::cell(&folder, &[], "D-d-1.xml", &entry),
            "",
            "the manifest names no path"
        );
    }
}
