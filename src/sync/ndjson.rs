//! Reading a stored `<Type>.ndjson` file line by line: each line's id (checked against the FHIR
//! id syntax), its text as stored, and where it starts. Merges, reference scans and the
//! attachment pass read files this way, never whole.

use super::bundle::valid_id;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// One line of a stored NDJSON file.
#[derive(Debug, Default)]
pub(super) struct Entry {
    /// `None` for a line without a valid id (dropped on rewrite).
    pub(super) id: Option<String>,
    pub(super) line: String,
    /// Byte offset of the line's start.
    pub(super) start: u64,
    /// Ends with a newline and nothing odd: can be kept byte for byte.
    pub(super) clean: bool,
}

/// A stored NDJSON file read line by line (a missing file reads as empty).
pub(super) struct Stored {
    reader: Option<std::io::BufReader<std::fs::File>>,
    path: PathBuf,
    pub(super) offset: u64,
    line_no: usize,
    /// Start of a line dropped for lacking a valid id, not yet seen by the merge.
    pub(super) dropped_at: Option<u64>,
    /// The previous id, to check the order.
    pub(super) last: Option<String>,
}

impl Stored {
    pub(super) fn open(path: &Path) -> Result<Stored> {
        let reader = match std::fs::File::open(path) {
            Ok(f) => Some(std::io::BufReader::with_capacity(256 * 1024, f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Stored {
            reader,
            path: path.to_path_buf(),
            offset: 0,
            line_no: 0,
            dropped_at: None,
            last: None,
        })
    }

    /// The next non-blank line.
    pub(super) fn next_entry(&mut self) -> Result<Option<Entry>> {
        use std::io::BufRead;
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        loop {
            let start = self.offset;
            let mut text = String::new();
            let n = reader
                .read_line(&mut text)
                .with_context(|| format!("cannot read {}", self.path.display()))?;
            if n == 0 {
                return Ok(None);
            }
            self.offset += n as u64;
            self.line_no += 1;
            let clean = text.ends_with('\n') && !text.ends_with("\r\n");
            let line = text.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                continue;
            }
            #[derive(serde::Deserialize)]
            struct Head<'a> {
                #[serde(borrow, default)]
                id: Option<std::borrow::Cow<'a, str>>,
            }
            let head: Head<'_> = serde_json::from_str(line).with_context(|| {
                format!(
                    "{} line {} is not JSON; move the file away and sync again",
                    self.path.display(),
                    self.line_no
                )
            })?;
            let id = head
                .id
                .filter(|i| valid_id(i))
                .map(std::borrow::Cow::into_owned);
            return Ok(Some(Entry {
                id,
                line: line.to_string(),
                start,
                clean,
            }));
        }
    }
}

/// The ids in an NDJSON file, read line by line (a missing file has none).
pub fn ids_in(path: &Path) -> Result<std::collections::HashSet<String>> {
    let mut ids = std::collections::HashSet::new();
    let mut reader = Stored::open(path)?;
    while let Some(entry) = reader.next_entry()? {
        ids.extend(entry.id);
    }
    Ok(ids)
}
