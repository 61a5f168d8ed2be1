//! One `<Type>.ndjson` file read once: its sha256, size and lines for the manifest, and every
//! line parsed again with [`Resource::from_text`] (one pass over the text, no `Value`): valid
//! JSON, the file's `resourceType`, a valid FHIR id, ids strictly increasing in byte order (as
//! [`crate::sync::merge`] writes them, so no id twice), the export's patient, and the
//! references it makes.

use super::{Damage, Problem, Report, MAX_LINE_PROBLEMS};
use crate::sanitize::clean;
use crate::sync::bundle::valid_id;
use crate::sync::resource::Resource;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;
use url::Url;

/// What one NDJSON file holds.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Newlines, as the manifest counts them.
    pub(super) lines: usize,
    pub(super) bytes: u64,
    pub(super) sha256: String,
    /// The valid id of each line, in order (`None` for a line without one).
    pub(super) ids: Vec<Option<String>>,
    /// `Type/id` of every reference under the FHIR base.
    pub(super) references: HashSet<String>,
    /// (line, problem, detail), the first [`MAX_LINE_PROBLEMS`].
    problems: Vec<(usize, Problem, String)>,
    /// Line problems past those.
    more: usize,
}

/// Reads `path`; `None` when it does not exist.
pub(super) fn scan(
    path: &Path,
    resource_type: &str,
    patient: Option<&str>,
    base: &Url,
) -> Result<Option<Scan>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut lines = Lines {
        resource_type,
        patient,
        base,
        scan: Scan::default(),
        last: None,
    };
    let mut hasher = Sha256::new();
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf);
        lines.scan.bytes += n as u64;
        let number = lines.scan.ids.len() + 1;
        match buf.strip_suffix(b"\n") {
            Some(line) => {
                lines.scan.lines += 1;
                lines.line(number, line);
            }
            None => {
                lines.line(number, &buf);
                lines.problem(
                    number,
                    Problem::BadLine,
                    "no newline at the end: the file was cut short".into(),
                );
            }
        }
    }
    let mut scan = lines.scan;
    scan.sha256 = hex(&hasher.finalize());
    Ok(Some(scan))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Scan {
    /// Moves the line problems into the report, under `file`.
    pub(super) fn problems_into(&self, file: &str, report: &mut Report) {
        for (line, problem, detail) in &self.problems {
            report.damaged.push(Damage {
                file: file.to_string(),
                problem: *problem,
                line: Some(*line),
                detail: detail.clone(),
            });
        }
        if self.more > 0 {
            report.damage(
                file,
                Problem::BadLine,
                format!("{} more lines with problems", self.more),
            );
        }
    }
}

/// The line-by-line checks of one file.
struct Lines<'a> {
    resource_type: &'a str,
    patient: Option<&'a str>,
    base: &'a Url,
    scan: Scan,
    /// The previous valid id and its line.
    last: Option<(String, usize)>,
}

impl Lines<'_> {
    fn problem(&mut self, line: usize, problem: Problem, detail: String) {
        if self.scan.problems.len() < MAX_LINE_PROBLEMS {
            self.scan.problems.push((line, problem, detail));
        } else {
            self.scan.more += 1;
        }
    }

    /// Checks line `n` (without its newline) and records its id.
    fn line(&mut self, n: usize, bytes: &[u8]) {
        let id = self.resource(n, bytes);
        self.scan.ids.push(id);
    }

    fn resource(&mut self, n: usize, bytes: &[u8]) -> Option<String> {
        let Ok(text) = std::str::from_utf8(bytes) else {
            self.problem(n, Problem::BadLine, "not UTF-8 text".into());
            return None;
        };
        if text.trim().is_empty() {
            self.problem(n, Problem::BadLine, "an empty line".into());
            return None;
        }
        let r = Resource::from_text(text);
        if let Some(why) = &r.problem {
            let (problem, detail) = match why.strip_prefix("it could not be read: ") {
                Some(e) => (Problem::BadLine, format!("not a JSON resource ({e})")),
                None => (Problem::BadId, why.clone()),
            };
            self.problem(n, problem, detail);
            return None;
        }
        if r.resource_type.is_empty() {
            let detail = "not a FHIR resource (no resourceType)".into();
            self.problem(n, Problem::BadLine, detail);
            return None;
        }
        if r.resource_type != self.resource_type {
            let detail = format!(
                "a {} in the file of {}",
                clean(&r.resource_type),
                self.resource_type
            );
            self.problem(n, Problem::WrongType, detail);
        }
        crate::sync::references::collect_resource(&r, self.base, &mut self.scan.references);
        let id = self.id(n, r.id.as_deref())?;
        self.patient(n, &r, &id);
        Some(id)
    }

    /// Checks the id's syntax and order; the id when it is valid.
    fn id(&mut self, n: usize, id: Option<&str>) -> Option<String> {
        let Some(id) = id else {
            self.problem(n, Problem::BadId, "a resource without an id".into());
            return None;
        };
        if !valid_id(id) {
            let detail = format!("id \"{}\" breaks the FHIR id syntax", clean(id));
            self.problem(n, Problem::BadId, detail);
            return None;
        }
        if let Some((last, at)) = self.last.clone() {
            match last.as_str().cmp(id) {
                std::cmp::Ordering::Equal => {
                    let detail = format!("id {id} a second time (first on line {at})");
                    self.problem(n, Problem::DuplicateId, detail);
                    return Some(id.to_string());
                }
                std::cmp::Ordering::Greater => {
                    let detail = format!("id {id} after {last}: the file is not sorted by id");
                    self.problem(n, Problem::Unsorted, detail);
                }
                std::cmp::Ordering::Less => {}
            }
        }
        self.last = Some((id.to_string(), n));
        Some(id.to_string())
    }

    /// The rule sync applies when it stores a resource: a Patient is the export's patient, and
    /// no `subject` or `patient` names another Patient.
    fn patient(&mut self, n: usize, r: &Resource, id: &str) {
        let Some(patient) = self.patient else {
            return;
        };
        let other = r.other_owner(self.resource_type, id, patient);
        if let Some(other) = other {
            let detail = format!(
                "belongs to {} (the export is Patient/{patient}'s)",
                clean(&other)
            );
            self.problem(n, Problem::OtherPatient, detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(text: &str) -> Scan {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Observation.ndjson");
        std::fs::write(&path, text).unwrap();
        let base = Url::parse("https://h.example/fhir/").unwrap();
        scan(&path, "Observation", Some("p"), &base)
            .unwrap()
            .unwrap()
    }

    fn kinds(scan: &Scan) -> Vec<(usize, Problem)> {
        scan.problems.iter().map(|(n, p, _)| (*n, *p)).collect()
    }

    #[test]
    fn a_good_file_hashes_like_the_manifest_and_has_no_problems() {
        let text = "{\"resourceType\":\"Observation\",\"id\":\"a\",\"subject\":{\"reference\":\"Patient/p\"},\"performer\":[{\"reference\":\"https://h.example/fhir/Practitioner/x\"}]}\n{\"resourceType\":\"Observation\",\"id\":\"b\"}\n";
        let s = scan_text(text);
        assert_eq!(kinds(&s), []);
        let d = crate::sync::manifest::FileEntry::of("Observation", text.as_bytes());
        assert_eq!(
            (s.lines, s.bytes, s.sha256.as_str()),
            (d.count, d.bytes, d.sha256.as_str())
        );
        assert_eq!(s.ids, [Some("a".to_string()), Some("b".to_string())]);
        let mut refs: Vec<&String> = s.references.iter().collect();
        refs.sort();
        assert_eq!(refs, ["Patient/p", "Practitioner/x"]);
    }

    #[test]
    fn every_line_rule_names_its_line() {
        let text = concat!(
            "{\"resourceType\":\"Observation\",\"id\":\"b\"}\n",
            "{\"resourceType\":\"Observation\",\"id\":\"a\"}\n",
            "{\"resourceType\":\"Observation\",\"id\":\"a\"}\n",
            "{\"resourceType\":\"Condition\",\"id\":\"c\"}\n",
            "{\"resourceType\":\"Observation\",\"id\":\"a_b\"}\n",
            "{\"resourceType\":\"Observation\"}\n",
            "{\"resourceType\":\"Observation\",\"id\":\"d\",\"subject\":{\"reference\":\"Patient/q\"}}\n",
            "{\"resourceType\":\"Observation\",\"id\":\"e\"}x\n",
            "\n",
            "{\"resourceType\":\"Observation\",\"id\":\"f\"",
        );
        let s = scan_text(text);
        assert_eq!(
            kinds(&s),
            [
                (2, Problem::Unsorted),
                (3, Problem::DuplicateId),
                (4, Problem::WrongType),
                (5, Problem::BadId),
                (6, Problem::BadId),
                (7, Problem::OtherPatient),
                (8, Problem::BadLine),
                (9, Problem::BadLine),
                (10, Problem::BadLine),
                (10, Problem::BadLine),
            ],
            "{:?}",
            s.problems
        );
        assert_eq!(s.lines, 9, "newlines, as the manifest counts them");
    }
}
