//! A test hook: with `FHIRDL_FS_JOURNAL=<file>` set, every durable file operation fhirdl makes
//! in the export folder a sync holds (folder and file creations, writes, fsyncs, renames,
//! removals, folder fsyncs) is appended to `<file>`, one JSON line each, in the order the file
//! system saw them. `tests/it/powerloss.rs` replays it to build every state a power cut could
//! leave behind.
//!
//! Off unless the variable is set: then each operation costs one check of a `OnceLock`. When
//! on, an operation and its line are made under one lock, so the journal's order is the real
//! order even with merges running in parallel. Only the folder named by [`watch`] is recorded
//! (a sync names its export folder when it takes it), and there only the names an export holds
//! (`*.ndjson`, `manifest.json`, `README.txt`, temporary files, `json/`, `attachments/`,
//! `.fhirdl/`): the credential store, the settings and the data folder's caches never reach
//! the journal, whatever folder `--out` names.
//!
//! Lines (paths relative to the watched folder, with `/`):
//! ```json
//! {"op":"mkdir","path":"json/Condition"}
//! {"op":"create","path":".fhirdl-tmp-a1b2"}
//! {"op":"write","path":".fhirdl-tmp-a1b2","offset":0,"data":"<base64>"}
//! {"op":"truncate","path":".fhirdl/history/Observation.ndjson","len":812}
//! {"op":"fsync","path":".fhirdl-tmp-a1b2"}
//! {"op":"rename","from":".fhirdl-tmp-a1b2","to":"Condition.ndjson"}
//! {"op":"fsync_dir","path":""}
//! {"op":"remove","path":"json/Condition/c1.json"}
//! ```

use base64::Engine;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The environment variable naming the journal file.
pub const ENV: &str = "FHIRDL_FS_JOURNAL";

/// One operation, as recorded.
pub enum Op {
    Mkdir(PathBuf),
    /// A new, empty file.
    Create(PathBuf),
    Write {
        path: PathBuf,
        offset: u64,
        data: Vec<u8>,
    },
    Truncate {
        path: PathBuf,
        len: u64,
    },
    Fsync(PathBuf),
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    FsyncDir(PathBuf),
    Remove(PathBuf),
}

struct Journal {
    file: std::fs::File,
    /// The export folder being recorded; nothing is recorded before a sync names it.
    root: Option<PathBuf>,
}

fn journal() -> Option<&'static Mutex<Journal>> {
    static JOURNAL: OnceLock<Option<Mutex<Journal>>> = OnceLock::new();
    JOURNAL
        .get_or_init(|| {
            let path = std::env::var_os(ENV)?;
            let mut options = std::fs::OpenOptions::new();
            options.append(true).create(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options.open(path).ok()?;
            Some(Mutex::new(Journal { file, root: None }))
        })
        .as_ref()
}

fn lock(j: &'static Mutex<Journal>) -> std::sync::MutexGuard<'static, Journal> {
    j.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether operations are being recorded (the variable is set).
pub fn on() -> bool {
    journal().is_some()
}

/// Records the operations under `root` (an export folder a sync now holds) from here on.
pub fn watch(root: &Path) {
    if let Some(j) = journal() {
        lock(j).root = Some(root.to_path_buf());
    }
}

/// Runs `act`; when it succeeds and a journal is on, records `op` of its result, both under the
/// journal's lock.
pub fn logged<T, E>(act: impl FnOnce() -> Result<T, E>, op: impl FnOnce(&T) -> Op) -> Result<T, E> {
    let Some(j) = journal() else {
        return act();
    };
    let mut journal = lock(j);
    let done = act()?;
    journal.append(op(&done));
    Ok(done)
}

/// Records `op`, made already (file data written through a buffer before its fsync).
pub fn record(op: impl FnOnce() -> Op) {
    if let Some(j) = journal() {
        lock(j).append(op());
    }
}

impl Journal {
    fn append(&mut self, op: Op) {
        let Some(line) = self.line(&op) else {
            return;
        };
        // Best effort: a journal that cannot be written shows as a replay that differs.
        let _ = self.file.write_all(line.as_bytes());
    }

    fn line(&self, op: &Op) -> Option<String> {
        let value = match op {
            Op::Mkdir(p) => serde_json::json!({"op": "mkdir", "path": self.rel(p)?}),
            Op::Create(p) => serde_json::json!({"op": "create", "path": self.rel(p)?}),
            Op::Write { path, offset, data } => serde_json::json!({
                "op": "write",
                "path": self.rel(path)?,
                "offset": offset,
                "data": base64::engine::general_purpose::STANDARD.encode(data),
            }),
            Op::Truncate { path, len } => {
                serde_json::json!({"op": "truncate", "path": self.rel(path)?, "len": len})
            }
            Op::Fsync(p) => serde_json::json!({"op": "fsync", "path": self.rel(p)?}),
            Op::Rename { from, to } => serde_json::json!({
                "op": "rename",
                "from": self.rel(from)?,
                "to": self.rel(to)?,
            }),
            Op::FsyncDir(p) => serde_json::json!({"op": "fsync_dir", "path": self.rel(p)?}),
            Op::Remove(p) => serde_json::json!({"op": "remove", "path": self.rel(p)?}),
        };
        Some(format!("{value}\n"))
    }

    /// `path` relative to the watched folder, with `/`; `None` outside it or for a name an
    /// export does not hold.
    fn rel(&self, path: &Path) -> Option<String> {
        let rest = path.strip_prefix(self.root.as_ref()?).ok()?;
        let parts: Vec<String> = rest
            .components()
            .map(|c| match c {
                std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let first = parts.first().map_or("", String::as_str);
        let export_name = match parts.len() {
            0 => true,
            1 => {
                first.ends_with(".ndjson")
                    || first == "manifest.json"
                    || first == "README.txt"
                    || first.starts_with(super::TEMP_PREFIX)
                    || EXPORT_FOLDERS.contains(&first)
            }
            _ => EXPORT_FOLDERS.contains(&first),
        };
        export_name.then(|| parts.join("/"))
    }
}

/// The folders of an export.
const EXPORT_FOLDERS: [&str; 3] = ["json", "attachments", ".fhirdl"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_the_export_are_recorded() {
        let file = tempfile::tempfile().unwrap();
        let j = Journal {
            file,
            root: Some(PathBuf::from("/x/out")),
        };
        let rel = |p: &str| j.rel(Path::new(p));
        assert_eq!(rel("/x/out"), Some(String::new()));
        assert_eq!(
            rel("/x/out/Condition.ndjson").as_deref(),
            Some("Condition.ndjson")
        );
        assert_eq!(
            rel("/x/out/json/Condition/c.json").as_deref(),
            Some("json/Condition/c.json")
        );
        assert_eq!(
            rel("/x/out/.fhirdl/state.json").as_deref(),
            Some(".fhirdl/state.json")
        );
        for outside in [
            "/x/out/credentials/a.json",
            "/x/out/config.toml",
            "/x/out/cache/capabilities-1.json",
            "/x/other/Condition.ndjson",
            "/x/out/../out2/manifest.json",
        ] {
            assert_eq!(rel(outside), None, "{outside}");
        }
        let unwatched = Journal {
            file: tempfile::tempfile().unwrap(),
            root: None,
        };
        assert_eq!(unwatched.rel(Path::new("/x/out/manifest.json")), None);
        let line = j
            .line(&Op::Write {
                path: "/x/out/A.ndjson".into(),
                offset: 3,
                data: b"hi".to_vec(),
            })
            .unwrap();
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"op": "write", "path": "A.ndjson", "offset": 3, "data": "aGk="})
        );
    }
}
