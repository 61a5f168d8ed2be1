//! Every superseded version, kept: `.fhirdl/history/<Type>.ndjson`, one append-only file per
//! type. When a sync replaces a stored resource with a newer version, or a whole fetch no
//! longer finds it, the version on disk is appended here *before* the type's new file replaces
//! the old one, as one line:
//!
//! ```json
//! {"recorded_at":"2026-12-06T01:02:03Z","event":"replaced","resource":{…as stored…}}
//! ```
//!
//! `event` is `replaced` or `removed`; `resource` is the stored text, byte for byte.
//!
//! Crash safety: entries are appended and fsynced before the new NDJSON file is renamed in. A
//! run killed after the append but before the rename leaves entries for versions still current;
//! the next run supersedes them again and finds them recorded already (an entry is never
//! written twice: same event, same text), so history never grows when nothing changed. A line
//! torn by a crash mid-append is cut off before the next append and skipped when read.

use crate::atomic::create_private_dir;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why a version left the current files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// A newer version replaced it.
    Replaced,
    /// A whole fetch no longer found it on the server.
    Removed,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::Replaced => "replaced",
            Event::Removed => "removed",
        }
    }
}

/// One version read back from the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub recorded_at: String,
    pub event: Event,
    pub id: String,
    pub version_id: Option<String>,
    pub last_updated: Option<String>,
    /// The resource's text as it was stored.
    pub line: String,
}

/// `.fhirdl/history/` of the export in `dir`.
pub fn dir_of(export: &Path) -> PathBuf {
    crate::export_layout::history_dir(export)
}

fn file_of(export: &Path, resource_type: &str) -> PathBuf {
    crate::export_layout::history_path(export, resource_type)
}

#[derive(Deserialize)]
struct EntryIn<'a> {
    #[serde(borrow)]
    recorded_at: &'a str,
    event: Event,
    #[serde(borrow)]
    resource: &'a RawValue,
}

fn key(event: Event, line: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(event.as_str().as_bytes());
    h.update([0]);
    h.update(line.as_bytes());
    h.finalize().into()
}

/// The versions one merge supersedes, spooled to a temporary file in `.fhirdl/` (a `--full`
/// run may supersede many) until [`Recorder::commit`] appends them.
pub struct Recorder {
    export: PathBuf,
    resource_type: String,
    recorded_at: String,
    pending: Option<std::io::BufWriter<tempfile::NamedTempFile>>,
}

impl Recorder {
    pub fn new(export: &Path, resource_type: &str, recorded_at: &str) -> Recorder {
        Recorder {
            export: export.to_path_buf(),
            resource_type: resource_type.to_string(),
            recorded_at: recorded_at.to_string(),
            pending: None,
        }
    }

    /// Notes a version leaving the current file (`line` is one NDJSON line).
    pub fn record(&mut self, event: Event, line: &str) -> Result<()> {
        if self.pending.is_none() {
            let spool = crate::export_layout::private_dir(&self.export);
            let tmp = tempfile::Builder::new()
                .prefix(".history-")
                .tempfile_in(&spool)
                .with_context(|| {
                    format!("cannot create a temporary file in {}", spool.display())
                })?;
            self.pending = Some(std::io::BufWriter::new(tmp));
        }
        if let Some(w) = self.pending.as_mut() {
            writeln!(w, "{}\t{line}", event.as_str())?;
        }
        Ok(())
    }

    /// Appends what was recorded to the type's history (skipping versions recorded already)
    /// and makes it durable; returns how many versions were added.
    pub fn commit(self) -> Result<usize> {
        let Some(pending) = self.pending else {
            return Ok(0);
        };
        let mut tmp = pending.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file_mut().seek(SeekFrom::Start(0))?;
        let reader = std::io::BufReader::new(tmp.as_file());
        let entries = std::io::BufRead::lines(reader).map(|l| {
            let l = l?;
            let (event, line) = l.split_once('\t').context("a damaged history spool")?;
            let event = if event == "removed" {
                Event::Removed
            } else {
                Event::Replaced
            };
            Ok((event, line.to_string()))
        });
        append(
            &self.export,
            &self.resource_type,
            &self.recorded_at,
            entries,
        )
    }
}

/// Appends `entries` (event, stored line) for `resource_type`, skipping those recorded
/// already, and makes them durable. Returns how many were appended.
pub fn append(
    export: &Path,
    resource_type: &str,
    recorded_at: &str,
    entries: impl IntoIterator<Item = Result<(Event, String)>>,
) -> Result<usize> {
    let dir = dir_of(export);
    create_private_dir(&dir)?;
    let path = file_of(export, resource_type);
    let mut file = crate::atomic::open_appendable(&path)?;
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    // A line torn by a crash mid-append is cut off (it was never followed by a commit).
    let whole = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if whole < text.len() {
        crate::atomic::cut(&file, &path, whole as u64)?;
        text.truncate(whole);
    }
    let mut known: HashSet<[u8; 32]> = text
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<EntryIn<'_>>(l).ok())
        .map(|e| key(e.event, e.resource.get()))
        .collect();
    drop(text);
    let start = file.seek(SeekFrom::End(0))?;
    let at = serde_json::to_string(recorded_at)?;
    let mut out = std::io::BufWriter::new(&file);
    let mut added = 0;
    for entry in entries {
        let (event, line) = entry?;
        if !known.insert(key(event, &line)) {
            continue;
        }
        writeln!(
            out,
            "{{\"recorded_at\":{at},\"event\":\"{}\",\"resource\":{line}}}",
            event.as_str()
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        added += 1;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    drop(out);
    if added > 0 {
        crate::atomic::sync_appended(&file, &path, start)?;
        crate::atomic::sync_dir(&dir);
    }
    Ok(added)
}

/// The versions of `resource_type/id` held in the history, oldest first.
pub fn versions(export: &Path, resource_type: &str, id: &str) -> Result<Vec<Version>> {
    let path = file_of(export, resource_type);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut out = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        let Ok(entry) = serde_json::from_slice::<EntryIn<'_>>(line) else {
            continue;
        };
        let r = super::resource::Resource::read(entry.resource);
        if r.id.as_deref() != Some(id) {
            continue;
        }
        out.push(Version {
            recorded_at: entry.recorded_at.to_string(),
            event: entry.event,
            id: id.to_string(),
            version_id: r.version_id,
            last_updated: r.last_updated,
            line: r.line,
        });
    }
    Ok(out)
}

/// The current version of `resource_type/id` (its line in `<Type>.ndjson`), if it is held.
pub fn current(export: &Path, resource_type: &str, id: &str) -> Result<Option<String>> {
    let path = crate::export_layout::ndjson_path(export, resource_type);
    if !path.exists() {
        return Ok(None);
    }
    let mut stored = super::ndjson::Stored::open(&path)?;
    while let Some(entry) = stored.next_entry()? {
        if entry.id.as_deref() == Some(id) {
            return Ok(Some(entry.line));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_once_survives_a_torn_line_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = r#"{"resourceType":"Observation","id":"o1","meta":{"versionId":"1"},"valueQuantity":{"value":1.50}}"#;
        let v2 = r#"{"resourceType":"Observation","id":"o1","meta":{"versionId":"2"}}"#;
        let other = r#"{"resourceType":"Observation","id":"o2"}"#;
        let e = |ev, l: &str| Ok((ev, l.to_string()));
        assert_eq!(
            append(dir.path(), "Observation", "t1", [e(Event::Replaced, v1)]).unwrap(),
            1
        );
        // The same supersession again (a run killed before its commit, repeated): nothing.
        assert_eq!(
            append(dir.path(), "Observation", "t2", [e(Event::Replaced, v1)]).unwrap(),
            0
        );
        // A crash mid-append leaves a torn line: cut off before the next append.
        let path = file_of(dir.path(), "Observation");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(br#"{"recorded_at":"t3","event":"repl"#)
            .unwrap();
        drop(f);
        append(
            dir.path(),
            "Observation",
            "t4",
            [e(Event::Replaced, v2), e(Event::Removed, other)],
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(!text.contains("t3"));
        let held = versions(dir.path(), "Observation", "o1").unwrap();
        assert_eq!(held.len(), 2);
        assert_eq!(held[0].line, v1, "kept byte for byte");
        assert_eq!(held[0].version_id.as_deref(), Some("1"));
        assert_eq!(held[1].recorded_at, "t4");
        let gone = versions(dir.path(), "Observation", "o2").unwrap();
        assert_eq!(gone[0].event, Event::Removed);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
