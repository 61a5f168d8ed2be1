//! An export folder read back, for `fhirdl view` and `fhirdl bundle`: its `<Type>.ndjson` files,
//! what `manifest.json`, `.fhirdl/state.json` and `.fhirdl/last_run.json` say of them, and the
//! documents saved under `attachments/` (`attachments/manifest.json`).
//!
//! Reading takes no lock: `sync` replaces every file atomically, so each file read is whole
//! (a sync running meanwhile may make two files come from different runs, never a torn one).
//! Every file is optional but the NDJSON files, so a folder made by `fhirdl unbundle`, or by
//! another Bulk Data client, can be read too.

pub mod readme;

use crate::error::{Failure, Kind};
use crate::export_layout as layout;
use crate::sync::attachments::ManifestEntry;
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One `<Type>.ndjson` file of the folder.
#[derive(Debug, Clone)]
pub struct TypeFile {
    pub resource_type: String,
    pub path: PathBuf,
    /// Completeness as the last run recorded it (`complete`, `partial`, `failed`…), when it did.
    pub status: Option<String>,
}

/// What the folder says about itself.
#[derive(Debug, Clone)]
pub struct Folder {
    pub dir: PathBuf,
    pub fhir_base: Option<String>,
    pub fhir_version: Option<String>,
    pub patient: Option<String>,
    /// The practice the profile signs in to (`login --practice`), as manifest.json names it.
    pub practice: Option<String>,
    /// `synced_at` of manifest.json.
    pub synced_at: Option<String>,
    /// `finished_at` of `.fhirdl/last_run.json`.
    pub last_run_at: Option<String>,
    /// Patient first, then by name.
    pub types: Vec<TypeFile>,
    /// Saved document file name (under `attachments/`) → what it is.
    pub attachments: BTreeMap<String, ManifestEntry>,
}

impl Folder {
    /// Reads what `dir` holds; fails (exit 2) when it holds no NDJSON file.
    pub fn open(dir: &Path) -> Result<Folder> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Failure::new(
                Kind::Usage,
                format!("cannot read the export folder {}: {e}", dir.display()),
            )
            .hint(
                "download the record first: fhirdl sync --out DIR (or pass the folder with --out)",
            )
        })?;
        let mut types: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_owned();
                let stem = layout::ndjson_type(&name)?;
                is_type_name(stem).then(|| stem.to_owned())
            })
            .collect();
        if types.is_empty() {
            return Err(Failure::new(
                Kind::Usage,
                format!("{} holds no <Type>.ndjson files", dir.display()),
            )
            .hint("download the record first: fhirdl sync --out DIR")
            .into());
        }
        types.sort_by(|a, b| (a != "Patient", a).cmp(&(b != "Patient", b)));
        let manifest = read_json(&layout::manifest_path(dir))?;
        let state = read_json(&layout::state_path(dir))?;
        let last_run = read_json(&layout::last_run_path(dir))?;
        let statuses = type_statuses(&last_run, &manifest);
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let attachments: BTreeMap<String, ManifestEntry> =
            match read_json(&layout::attachments_manifest_path(dir))? {
                Value::Null => BTreeMap::new(),
                v => serde_json::from_value(v).unwrap_or_default(),
            };
        Ok(Folder {
            dir: dir.to_path_buf(),
            fhir_base: text(&manifest, "fhir_base").or_else(|| text(&state, "fhir_base")),
            fhir_version: text(&manifest, "fhir_version"),
            patient: text(&manifest, "patient").or_else(|| text(&state, "patient")),
            practice: text(&manifest, "practice"),
            synced_at: text(&manifest, "synced_at"),
            last_run_at: text(&last_run, "finished_at"),
            types: types
                .into_iter()
                .map(|t| TypeFile {
                    path: layout::ndjson_path(dir, &t),
                    status: statuses.get(&t).cloned(),
                    resource_type: t,
                })
                .collect(),
            attachments: attachments
                .into_iter()
                .filter(|(name, _)| is_safe_file_name(name))
                .collect(),
        })
    }

    /// Whether the folder has an NDJSON file for `resource_type`.
    pub fn has(&self, resource_type: &str) -> bool {
        self.types.iter().any(|t| t.resource_type == resource_type)
    }

    /// The path of a saved document, if the file is there.
    pub fn attachment_path(&self, file: &str) -> Option<PathBuf> {
        let path = layout::attachments_dir(&self.dir).join(file);
        (is_safe_file_name(file) && path.is_file()).then_some(path)
    }
}

/// Calls `each` with every non-blank line of an NDJSON file, without its line ending, as bytes.
pub fn for_each_line(path: &Path, mut each: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            return Ok(());
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        each(&line)?;
    }
}

/// A JSON file's content; `Null` when it does not exist or is not JSON (these files only
/// describe the export; the NDJSON files are the data).
fn read_json(path: &Path) -> Result<Value> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Null),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Per type, the status string the last run recorded: its `completeness` in `last_run.json`,
/// else in `manifest.json` (what fhirdl writes, see `sync::Completeness`); a `status` in a
/// `types` list or map, or in a file's manifest entry, is read too; a type named in
/// `last_run.json`'s `failed` list is `failed`.
pub fn type_statuses(last_run: &Value, manifest: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let status = |v: &Value| -> Option<String> {
        v.as_str()
            .or_else(|| v.get("status").and_then(Value::as_str))
            .map(str::to_owned)
    };
    if let Some(files) = manifest.get("files").and_then(Value::as_object) {
        for (file, entry) in files {
            let ty = entry
                .get("type")
                .and_then(Value::as_str)
                .or_else(|| layout::ndjson_type(file));
            if let (Some(ty), Some(s)) = (ty, status(entry).filter(|_| entry.is_object())) {
                out.insert(ty.to_owned(), s);
            }
        }
    }
    match last_run.get("types") {
        Some(Value::Array(reports)) => {
            for r in reports {
                let ty = r
                    .get("resource_type")
                    .or_else(|| r.get("type"))
                    .and_then(Value::as_str);
                if let (Some(ty), Some(s)) = (ty, status(r)) {
                    out.insert(ty.to_owned(), s);
                }
            }
        }
        Some(Value::Object(map)) => {
            for (ty, r) in map {
                if let Some(s) = status(r) {
                    out.insert(ty.clone(), s);
                }
            }
        }
        _ => {}
    }
    // What fhirdl writes: `completeness` by type, in manifest.json and (newest) last_run.json.
    for doc in [manifest, last_run] {
        if let Some(map) = doc.get("completeness").and_then(Value::as_object) {
            for (ty, c) in map {
                if let Some(s) = status(c) {
                    out.insert(ty.clone(), s);
                }
            }
        }
    }
    if let Some(failed) = last_run.get("failed").and_then(Value::as_array) {
        for ty in failed.iter().filter_map(Value::as_str) {
            out.entry(ty.to_owned()).or_insert_with(|| "failed".into());
        }
    }
    // What is still not stored, from the last run or earlier ones, is said with the status.
    let mut outstanding: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for o in last_run
        .get("outstanding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = |k: &str| o.get(k).and_then(Value::as_str);
        if let (Some(ty), Some(since)) = (field("resource_type"), field("first_seen")) {
            let slot = outstanding.entry(ty).or_insert((0, since));
            slot.0 += 1;
            slot.1 = slot.1.min(since);
        }
    }
    for (ty, (n, since)) in outstanding {
        let status = out.entry(ty.to_owned()).or_insert_with(|| "partial".into());
        let since = since.get(..10).unwrap_or(since);
        status.push_str(&format!(
            " ({n} not stored yet, since {since}; the next sync tries again)"
        ));
    }
    out
}

/// A FHIR resource type name: a capital letter, then letters (`Observation`, `MedicationOrder`).
pub fn is_type_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphabetic())
        && name.len() <= 64
}

/// A plain file name as fhirdl makes them for attachments (`DocumentReference-d1-1.pdf`): no
/// folder, no leading dot, only `A-Z a-z 0-9 . _ -`.
pub fn is_safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `path` made absolute against the current folder (`.` components dropped).
pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_from_today_and_tomorrows_files() {
        // Today: only the failed list.
        let written = type_statuses(
            &json!({"completeness": {"Condition": {"status": "unverified", "detail": "no count"}}}),
            &json!({"completeness": {"Condition": {"status": "complete"}, "Encounter": {"status": "recovered", "detail": "x"}}}),
        );
        assert_eq!(written["Condition"], "unverified");
        assert_eq!(written["Encounter"], "recovered");
        let s = type_statuses(&json!({"failed": ["Observation"]}), &Value::Null);
        assert_eq!(s["Observation"], "failed");
        // A per-type report list, a map, and manifest entries all give their status string.
        let last = json!({"types": [{"resource_type": "Condition", "status": "recovered"}],
                          "failed": ["Condition"]});
        let manifest = json!({"files": {"Procedure.ndjson": {"type": "Procedure", "status": "unverified"},
                                        "Encounter.ndjson": {"sha256": "x"}}});
        let s = type_statuses(&last, &manifest);
        assert_eq!(s["Condition"], "recovered");
        assert_eq!(s["Procedure"], "unverified");
        assert!(!s.contains_key("Encounter"));
        let s = type_statuses(
            &json!({"types": {"Goal": {"status": "partial"}, "CarePlan": "skipped"}}),
            &Value::Null,
        );
        assert_eq!(
            (s["Goal"].as_str(), s["CarePlan"].as_str()),
            ("partial", "skipped")
        );
    }

    #[test]
    fn names() {
        assert!(is_type_name("MedicationOrder"));
        assert!(!is_type_name("sct") && !is_type_name("A-B") && !is_type_name(""));
        assert!(is_safe_file_name("DocumentReference-d_1a2b3c4d-1.pdf"));
        for bad in ["", ".hidden", "../x", "a/b", "a\\b", "a b", "a\"b"] {
            assert!(!is_safe_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn opens_a_folder_and_reads_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            crate::exit::exit_code(&Folder::open(dir.path()).unwrap_err()),
            2
        );
        std::fs::write(
            dir.path().join("Observation.ndjson"),
            "{\"id\":\"b\"}\r\n\n{\"id\":\"c\"}",
        )
        .unwrap();
        std::fs::write(dir.path().join("Patient.ndjson"), "{\"id\":\"p\"}\n").unwrap();
        std::fs::write(dir.path().join("notes.ndjson"), "").unwrap();
        std::fs::create_dir(dir.path().join("attachments")).unwrap();
        std::fs::write(
            dir.path().join("attachments/manifest.json"),
            r#"{"../evil": {"resource": "DocumentReference/d", "bytes": 1, "sha256": "x"},
                "DocumentReference-d-1.pdf": {"resource": "DocumentReference/d", "bytes": 1, "sha256": "x"}}"#,
        )
        .unwrap();
        let f = Folder::open(dir.path()).unwrap();
        let names: Vec<&str> = f.types.iter().map(|t| t.resource_type.as_str()).collect();
        assert_eq!(names, ["Patient", "Observation"]);
        assert_eq!(
            f.attachments.keys().collect::<Vec<_>>(),
            ["DocumentReference-d-1.pdf"]
        );
        assert_eq!(
            f.attachment_path("DocumentReference-d-1.pdf"),
            None,
            "not on disk"
        );
        let mut lines = Vec::new();
        for_each_line(&f.types[1].path, |l| {
            lines.push(String::from_utf8(l.to_vec()).unwrap());
            Ok(())
        })
        .unwrap();
        assert_eq!(lines, ["{\"id\":\"b\"}", "{\"id\":\"c\"}"]);
    }
}
