//! `README.txt` of an export folder: what the files are, which tool and version wrote them, and
//! how to open `record.html`, for whoever finds the folder years later without fhirdl.
//!
//! The text depends on fhirdl's version only (no times, paths or patient data), so a sync that
//! changes nothing leaves it as it is, and two exports of the same record hold the same file.

use anyhow::Result;
use std::path::Path;

pub const FILE: &str = crate::export_layout::README;

/// The README's text.
pub fn text() -> String {
    format!(
        "\
This folder holds a copy of a medical record, written by fhirdl {version}, a command-line tool
that downloads a patient's own record from a provider's patient portal (SMART on FHIR).
It is health data: keep it private.

record.html
    The record to read or print: open it in any web browser (double-click it, or drag it onto
    a browser window). It is one self-contained file that needs no internet connection.
    `fhirdl view` makes it; `fhirdl sync --view` keeps it up to date after each download.

<Type>.ndjson  (Patient.ndjson, Observation.ndjson, ...)
    The FHIR resources exactly as the provider's server sent them, one per line, sorted by id
    (the FHIR NDJSON format of Bulk Data). Any FHIR tool can read them.

json/<Type>/<id>.json
    The same resources, one pretty-printed file each (`fhirdl sync --format json`).

attachments/
    The record's documents (PDF, XML, images...). attachments/manifest.json tells which
    resource each file belongs to, where it was downloaded from, its size and its SHA-256.

manifest.json
    The server, FHIR version and patient id, the time of the last download, how complete
    each type's copy is (complete, recovered, unverified, partial, skipped), and the size,
    number of resources and SHA-256 of every .ndjson file.

record.bundle.json  (or .json.gz)
    The whole record as one FHIR Bundle, for other health apps (`fhirdl bundle`).

.fhirdl/history/<Type>.ndjson
    Every earlier version of a resource: the one a newer version replaced, or one the server
    no longer returns, with when. `fhirdl history <Type>/<id>` lists and prints them.

.fhirdl/
    fhirdl's other bookkeeping (what was downloaded when). Leave it as it is.

To check that nothing here was damaged or changed since fhirdl wrote it (every file against
the SHA-256 in manifest.json and attachments/manifest.json, every resource read back):
    fhirdl verify --out <this folder>
",
        version = env!("CARGO_PKG_VERSION")
    )
}

/// Writes `<dir>/README.txt` (0600, atomically) unless it already says the same; returns
/// whether it wrote.
pub fn write(dir: &Path) -> Result<bool> {
    let path = crate::export_layout::readme_path(dir);
    let text = text();
    if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(false);
    }
    crate::atomic::write_atomic(&path, text.as_bytes())?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_once_and_names_the_version() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(dir.path()).unwrap());
        assert!(
            !write(dir.path()).unwrap(),
            "unchanged text is not rewritten"
        );
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text.contains(env!("CARGO_PKG_VERSION")) && text.contains("record.html"));
        assert!(
            text.contains("fhirdl verify --out"),
            "how to check the copy"
        );
        assert!(text.lines().all(|l| l.len() <= 100));
    }
}
