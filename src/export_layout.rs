//! The export folder's format: the name of every file and folder fhirdl keeps in it, and the
//! path of each under the folder. Sync writes by these names; verify, view, bundle, history and
//! status read by them, so a name changes here or nowhere.
//!
//! ```text
//! <Type>.ndjson                    one resource per line, sorted by id
//! json/<Type>/<id>.json            the same resources, pretty (--format json|both)
//! manifest.json                    count, size and SHA-256 of every <Type>.ndjson
//! attachments/<file>               the record's documents
//! attachments/manifest.json        which resource each document belongs to
//! notes/<file>.txt                 the text of a document of attachments/ that is a note
//! record.html                      `fhirdl view`
//! record.bundle.json[.gz]          `fhirdl bundle`
//! README.txt                       what the folder is, for whoever finds it
//! .fhirdl/state.json               what the next sync starts from
//! .fhirdl/last_run.json            what the latest sync did
//! .fhirdl/history/<Type>.ndjson    every superseded version
//! .fhirdl/capabilities.json        the server's CapabilityStatement, cached
//! .fhirdl/lock                     held while a sync runs
//! ```
//!
//! Names are relative to the folder with `/` between parts (as messages show them); the `*_path`
//! functions join them under the folder one part at a time.

use std::path::{Path, PathBuf};

/// What every resource type's file name ends with.
pub const NDJSON_SUFFIX: &str = ".ndjson";
/// The files of the export: what each holds and its digest.
pub const MANIFEST: &str = "manifest.json";
/// The pretty files, one folder per type.
pub const PRETTY: &str = "json";
/// The record's documents.
pub const ATTACHMENTS: &str = "attachments";
/// Which resource each document belongs to, with its size and digest.
pub const ATTACHMENTS_MANIFEST: &str = "attachments/manifest.json";
/// The text of the documents that are notes (C-CDA, HTML, XHTML, RTF, plain text).
pub const NOTES: &str = "notes";
/// The page `fhirdl view` writes.
pub const PAGE: &str = "record.html";
/// The Bundle `fhirdl bundle` writes, and its gzip form.
pub const BUNDLE: &str = "record.bundle.json";
pub const BUNDLE_GZ: &str = "record.bundle.json.gz";
/// What the folder is, for whoever finds it years later.
pub const README: &str = "README.txt";
/// fhirdl's own files: state, history, the lock, spool and temporary files.
pub const PRIVATE: &str = ".fhirdl";
/// What the next sync starts from.
pub const STATE: &str = ".fhirdl/state.json";
/// What the latest sync did.
pub const LAST_RUN: &str = ".fhirdl/last_run.json";
/// Every superseded version, one file per type.
pub const HISTORY: &str = ".fhirdl/history";
/// The server's CapabilityStatement, cached.
pub const CAPABILITIES: &str = ".fhirdl/capabilities.json";
/// Held while a sync runs.
pub const LOCK: &str = ".fhirdl/lock";

/// `name` (parts separated by `/`) under `dir`.
fn under(dir: &Path, name: &str) -> PathBuf {
    name.split('/')
        .fold(dir.to_path_buf(), |p, part| p.join(part))
}

/// `<Type>.ndjson`.
pub fn ndjson_name(resource_type: &str) -> String {
    format!("{resource_type}{NDJSON_SUFFIX}")
}

/// The type a `<Type>.ndjson` name is the file of (not checked to be a type name).
pub fn ndjson_type(name: &str) -> Option<&str> {
    name.strip_suffix(NDJSON_SUFFIX)
}

/// `<dir>/<Type>.ndjson`.
pub fn ndjson_path(dir: &Path, resource_type: &str) -> PathBuf {
    dir.join(ndjson_name(resource_type))
}

/// `<dir>/manifest.json`.
pub fn manifest_path(dir: &Path) -> PathBuf {
    under(dir, MANIFEST)
}

/// `<dir>/json/<Type>`: the type's pretty files.
pub fn pretty_dir(dir: &Path, resource_type: &str) -> PathBuf {
    under(dir, PRETTY).join(resource_type)
}

/// `json/<Type>`: a type's pretty files as messages name them.
pub fn pretty_dir_name(resource_type: &str) -> String {
    format!("{PRETTY}/{resource_type}")
}

/// `<stem>.json`: a pretty file's name in its type's folder.
pub fn pretty_name(stem: &str) -> String {
    format!("{stem}.json")
}

/// `<dir>/attachments`.
pub fn attachments_dir(dir: &Path) -> PathBuf {
    under(dir, ATTACHMENTS)
}

/// `attachments/<file>`: a document as messages name it.
pub fn attachment_name(file: &str) -> String {
    format!("{ATTACHMENTS}/{file}")
}

/// `<dir>/attachments/manifest.json`.
pub fn attachments_manifest_path(dir: &Path) -> PathBuf {
    under(dir, ATTACHMENTS_MANIFEST)
}

/// `<dir>/notes`.
pub fn notes_dir(dir: &Path) -> PathBuf {
    under(dir, NOTES)
}

/// `notes/<file>.txt`: the text of document `file` (under `attachments/`), relative to the
/// export folder as the attachments manifest and the page name it.
pub fn note_name(file: &str) -> String {
    format!("{NOTES}/{file}.txt")
}

/// `<dir>/.fhirdl`: fhirdl's own folder, where spool files go.
pub fn private_dir(dir: &Path) -> PathBuf {
    under(dir, PRIVATE)
}

/// `<dir>/.fhirdl/state.json`.
pub fn state_path(dir: &Path) -> PathBuf {
    under(dir, STATE)
}

/// `<dir>/.fhirdl/last_run.json`.
pub fn last_run_path(dir: &Path) -> PathBuf {
    under(dir, LAST_RUN)
}

/// `<dir>/.fhirdl/history`.
pub fn history_dir(dir: &Path) -> PathBuf {
    under(dir, HISTORY)
}

/// `.fhirdl/history/<Type>.ndjson`: a type's history as messages name it.
pub fn history_name(resource_type: &str) -> String {
    format!("{HISTORY}/{}", ndjson_name(resource_type))
}

/// `<dir>/.fhirdl/history/<Type>.ndjson`.
pub fn history_path(dir: &Path, resource_type: &str) -> PathBuf {
    under(dir, &history_name(resource_type))
}

/// `<dir>/.fhirdl/capabilities.json`.
pub fn capabilities_path(dir: &Path) -> PathBuf {
    under(dir, CAPABILITIES)
}

/// `<dir>/.fhirdl/lock`.
pub fn lock_path(dir: &Path) -> PathBuf {
    under(dir, LOCK)
}

/// `<dir>/record.html`.
pub fn page_path(dir: &Path) -> PathBuf {
    under(dir, PAGE)
}

/// `<dir>/README.txt`.
pub fn readme_path(dir: &Path) -> PathBuf {
    under(dir, README)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_type_files() {
        assert_eq!(ndjson_name("Observation"), "Observation.ndjson");
        assert_eq!(ndjson_type("Observation.ndjson"), Some("Observation"));
        assert_eq!(ndjson_type("manifest.json"), None);
        assert_eq!(pretty_name("o-1"), "o-1.json");
        assert_eq!(pretty_dir_name("Observation"), "json/Observation");
        assert_eq!(attachment_name("a.pdf"), "attachments/a.pdf");
        assert_eq!(
            history_name("Condition"),
            ".fhirdl/history/Condition.ndjson"
        );
    }

    #[test]
    fn paths_are_joined_one_part_at_a_time_under_the_folder() {
        let d = Path::new("out");
        let parts = |p: PathBuf| -> Vec<String> {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(parts(ndjson_path(d, "Patient")), ["out", "Patient.ndjson"]);
        assert_eq!(parts(manifest_path(d)), ["out", "manifest.json"]);
        assert_eq!(parts(pretty_dir(d, "Patient")), ["out", "json", "Patient"]);
        assert_eq!(parts(attachments_dir(d)), ["out", "attachments"]);
        assert_eq!(
            parts(attachments_manifest_path(d)),
            ["out", "attachments", "manifest.json"]
        );
        assert_eq!(parts(private_dir(d)), ["out", ".fhirdl"]);
        assert_eq!(parts(state_path(d)), ["out", ".fhirdl", "state.json"]);
        assert_eq!(parts(last_run_path(d)), ["out", ".fhirdl", "last_run.json"]);
        assert_eq!(parts(history_dir(d)), ["out", ".fhirdl", "history"]);
        assert_eq!(
            parts(history_path(d, "Condition")),
            ["out", ".fhirdl", "history", "Condition.ndjson"]
        );
        assert_eq!(
            parts(capabilities_path(d)),
            ["out", ".fhirdl", "capabilities.json"]
        );
        assert_eq!(parts(lock_path(d)), ["out", ".fhirdl", "lock"]);
        assert_eq!(parts(page_path(d)), ["out", "record.html"]);
        assert_eq!(parts(readme_path(d)), ["out", "README.txt"]);
    }

    #[test]
    fn every_private_name_is_under_the_private_folder() {
        for name in [STATE, LAST_RUN, HISTORY, CAPABILITIES, LOCK] {
            assert!(name.starts_with(&format!("{PRIVATE}/")), "{name}");
        }
        assert!(ATTACHMENTS_MANIFEST.starts_with(&format!("{ATTACHMENTS}/")));
        assert!(BUNDLE_GZ.starts_with(BUNDLE));
    }
}
