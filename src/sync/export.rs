//! The export folder on disk: `<Type>.ndjson` files sorted by id, optional pretty JSON per
//! resource, `manifest.json`, and `.fhirdl/` (sync state, lock, removed resources).
//!
//! Every write is atomic ([`crate::atomic::write_atomic`]); folders are 0700 and files 0600.
//! Names of files come from validated resource types and ids only, so nothing is written
//! outside the folder.

use super::bundle::valid_id;
use super::spool::{Sorted, Spool};
use crate::atomic::{create_private_dir, write_atomic, AtomicFile};
use crate::error::{Failure, Kind};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub fhir_base: String,
    #[serde(default)]
    pub patient: String,
    #[serde(default)]
    pub types: BTreeMap<String, TypeState>,
    /// Whether every reference of the stored resources was followed (set after the last
    /// reference round; cleared when a type changes). When unset, the next sync scans every
    /// stored file for references instead of only the resources it fetched.
    #[serde(default)]
    pub references_closed: bool,
    /// Whether the last attachment pass went through every DocumentReference and
    /// DiagnosticReport without a failure (else the next sync does it again).
    #[serde(default)]
    pub attachments_complete: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TypeState {
    /// `_lastUpdated` mark for the next incremental query (RFC 3339, server time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
    pub count: usize,
    pub synced_at: String,
    /// The NDJSON file as this state last saw it: a file that no longer matches was changed
    /// by a run that stopped before saving its state (or by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileStamp>,
}

/// Size, modification time and inode of a file: a replaced file (fhirdl renames a new one
/// in) never keeps all three.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub len: u64,
    pub modified_ns: u128,
    #[serde(default)]
    pub inode: u64,
}

impl FileStamp {
    pub fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        let modified_ns = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            len: meta.len(),
            modified_ns,
            inode,
        })
    }
}

/// The outcome of the latest run, for `fhirdl status` (kept apart from the data and the state).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LastRun {
    pub finished_at: String,
    pub resources: usize,
    pub requests: u64,
    /// Types that failed.
    #[serde(default)]
    pub failed: Vec<String>,
    /// Documents that could not be saved.
    #[serde(default)]
    pub failed_documents: Vec<super::attachments::Problem>,
}

/// Reads `<dir>/.fhirdl/last_run.json`, if a sync ever finished there.
pub fn last_run(dir: &Path) -> Option<LastRun> {
    let bytes = std::fs::read(dir.join(".fhirdl").join("last_run.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub struct Export {
    dir: PathBuf,
    _lock: std::fs::File,
    /// Types merge in parallel; their announcements to manifest.json take turns.
    manifest: std::sync::Mutex<()>,
}

impl Export {
    /// Opens (creating) the folder and takes its lock.
    pub fn open(dir: &Path) -> Result<Export> {
        create_private_dir(&dir.join(".fhirdl"))?;
        let lock_path = dir.join(".fhirdl").join("lock");
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let lock = options
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Failure::new(
                    Kind::Locked,
                    format!("another fhirdl sync is writing to {}", dir.display()),
                )
                .hint(
                    "wait for it to finish (or add --wait), or sync into another folder with --out",
                )
                .into())
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
            }
        }
        // Under the lock: what a killed run left half-written is garbage now.
        crate::atomic::remove_stale_temp_files(dir)?;
        Ok(Export {
            dir: dir.to_path_buf(),
            _lock: lock,
            manifest: std::sync::Mutex::new(()),
        })
    }

    /// Like [`Export::open`], but waits (polling every half second, up to `max`) while another
    /// sync holds the lock.
    pub async fn open_waiting(dir: &Path, max: std::time::Duration) -> Result<Export> {
        let started = std::time::Instant::now();
        loop {
            match Export::open(dir) {
                Err(e)
                    if crate::error::exit_code(&e) == Kind::Locked.exit_code()
                        && started.elapsed() < max =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                other => return other,
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ndjson_path(&self, resource_type: &str) -> PathBuf {
        self.dir.join(format!("{resource_type}.ndjson"))
    }

    /// The ids stored for a type, read line by line.
    pub fn ids(&self, resource_type: &str) -> Result<std::collections::HashSet<String>> {
        ids_in(&self.ndjson_path(resource_type))
    }

    /// Calls `each` with every stored resource of a type, line by line.
    pub fn for_each(&self, resource_type: &str, mut each: impl FnMut(&str, &str)) -> Result<()> {
        let mut reader = Stored::open(&self.ndjson_path(resource_type))?;
        while let Some(entry) = reader.next_entry()? {
            if let Some(id) = &entry.id {
                each(id, &entry.line);
            }
        }
        Ok(())
    }

    /// Merges `fetched` (in id order) into the type's NDJSON file, streaming: the old file is
    /// read line by line and the new one written to a temp file that replaces it atomically,
    /// only if something changed (an unchanged file is not rewritten: the temp file is started
    /// at the first difference, with the identical part copied).
    pub fn merge(
        &self,
        resource_type: &str,
        fetched: Sorted,
        opts: &MergeOptions<'_>,
    ) -> Result<Merged> {
        let path = self.ndjson_path(resource_type);
        let mut existing = Existing::File(Stored::open(&path)?);
        let mut fetched = Some(fetched);
        loop {
            match self.merge_once(resource_type, &path, &mut existing, &mut fetched, opts) {
                Err(e) if e.downcast_ref::<Unsorted>().is_some() => {
                    // A file not in id order (edited by hand, or an old version): sort it first.
                    let mut spool = Spool::new(&self.dir.join(".fhirdl"));
                    let mut reader = Stored::open(&path)?;
                    while let Some(entry) = reader.next_entry()? {
                        if let Some(id) = entry.id {
                            spool.insert(id, entry.line)?;
                        }
                    }
                    existing = Existing::Sorted(spool.into_sorted()?);
                    if let Some(f) = fetched.as_mut() {
                        f.rewind()?;
                    }
                }
                other => return other,
            }
        }
    }

    fn merge_once(
        &self,
        resource_type: &str,
        path: &Path,
        existing: &mut Existing,
        fetched: &mut Option<Sorted>,
        opts: &MergeOptions<'_>,
    ) -> Result<Merged> {
        let mut m = Merged::default();
        let write = opts.ndjson && !opts.dry_run;
        let mut out = Out {
            path,
            file: None,
            enabled: write,
        };
        // Sorting a disordered file means rewriting it.
        if matches!(existing, Existing::Sorted(_)) {
            out.diverge(0)?;
            m.changed = true;
        }
        let mut removed: Option<AtomicFile> = None;
        let pretty_dir = self.dir.join("json").join(resource_type);
        let pretty = opts.pretty && !opts.dry_run;
        // Pretty file names: ids equal but for case get distinct ones (see sync::naming).
        let mut stems = std::collections::BTreeMap::new();
        if pretty {
            create_private_dir(&pretty_dir)?;
            let mut ids = self.ids(resource_type)?;
            if let Some(f) = fetched.as_ref() {
                ids.extend(f.ids().iter().cloned());
            }
            stems = super::naming::stems(ids.iter().map(String::as_str));
        }
        let write_pretty = |id: &str, line: &str| -> Result<()> {
            let stem = stems.get(id).map_or(id, String::as_str);
            if stem != id {
                // A bare name from before the twin arrived would shadow it on a
                // case-insensitive file system.
                crate::atomic::remove_if_exists(&pretty_dir.join(format!("{id}.json")))?;
            }
            let v: serde_json::Value = serde_json::from_str(line)?;
            write_atomic(
                &pretty_dir.join(format!("{stem}.json")),
                serde_json::to_string_pretty(&v)?.as_bytes(),
            )
        };
        let mut new_entry = match fetched.as_mut() {
            Some(f) => f.next_entry()?,
            None => None,
        };
        let mut old = next_old(existing, &mut out)?;
        loop {
            let order = match (&new_entry, &old) {
                (None, None) => break,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some((id, _)), Some(o)) => id.as_str().cmp(o.id.as_str()),
            };
            match order {
                std::cmp::Ordering::Less => {
                    let (id, line) = new_entry.take().unwrap_or_default();
                    out.diverge(old.as_ref().map_or(existing.end(), |o| o.start))?;
                    out.line(&line)?;
                    m.new += 1;
                    m.stored += 1;
                    m.changed = true;
                    if pretty {
                        write_pretty(&id, &line)?;
                    }
                    new_entry = next_of(fetched)?;
                }
                std::cmp::Ordering::Equal => {
                    let (id, line) = new_entry.take().unwrap_or_default();
                    let o = old.take().unwrap_or_default();
                    if o.line == line && o.clean {
                        m.unchanged += 1;
                        out.line(&line)?;
                        let stem = stems.get(&id).map_or(id.as_str(), String::as_str);
                        if pretty && !pretty_dir.join(format!("{stem}.json")).exists() {
                            write_pretty(&id, &line)?;
                        }
                    } else {
                        out.diverge(o.start)?;
                        out.line(&line)?;
                        if o.line == line {
                            m.unchanged += 1;
                        } else {
                            m.updated += 1;
                            m.changed = true;
                        }
                        if pretty {
                            write_pretty(&id, &line)?;
                        }
                    }
                    m.stored += 1;
                    new_entry = next_of(fetched)?;
                    old = next_old(existing, &mut out)?;
                }
                std::cmp::Ordering::Greater => {
                    let o = old.take().unwrap_or_default();
                    match opts.mode {
                        Mode::Upsert => {
                            if !o.clean {
                                out.diverge(o.start)?;
                            }
                            out.line(&o.line)?;
                            m.stored += 1;
                            // `--format both` added to an NDJSON-only export: fill in.
                            let stem = stems.get(&o.id).map_or(o.id.as_str(), String::as_str);
                            if pretty && !pretty_dir.join(format!("{stem}.json")).exists() {
                                write_pretty(&o.id, &o.line)?;
                            }
                        }
                        Mode::Replace => {
                            out.diverge(o.start)?;
                            m.removed += 1;
                            m.changed = true;
                            if let (Some(stamp), false) = (opts.removed_stamp, opts.dry_run) {
                                if removed.is_none() {
                                    let dir = self.dir.join(".fhirdl").join("removed").join(stamp);
                                    removed = Some(AtomicFile::create(
                                        &dir.join(format!("{resource_type}.ndjson")),
                                    )?);
                                }
                                if let Some(r) = removed.as_mut() {
                                    r.write_all(o.line.as_bytes())?;
                                    r.write_all(b"\n")?;
                                }
                            }
                            if pretty {
                                let stem = stems.get(&o.id).map_or(o.id.as_str(), String::as_str);
                                crate::atomic::remove_if_exists(
                                    &pretty_dir.join(format!("{stem}.json")),
                                )?;
                            }
                        }
                    }
                    old = next_old(existing, &mut out)?;
                }
            }
        }
        if let Some(r) = removed {
            r.commit()?;
        }
        if write && !path.exists() {
            // A type with no resources still gets its (empty) file.
            out.diverge(0)?;
        }
        m.written = out.file.is_some();
        if let Some((count, bytes, sha256)) = out.file.as_ref().and_then(AtomicFile::digest) {
            // manifest.json says what is coming before the file is replaced (see
            // sync::manifest); the pretty files were written before, the NDJSON file last.
            let _turn = self
                .manifest
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            super::manifest::announce(
                &self.dir,
                &format!("{resource_type}.ndjson"),
                &super::manifest::FileEntry {
                    resource_type: resource_type.to_string(),
                    count,
                    bytes: bytes as usize,
                    sha256,
                },
            )?;
        }
        out.commit()?;
        Ok(m)
    }
    pub fn load_state(&self) -> Result<State> {
        let path = self.dir.join(".fhirdl").join("state.json");
        match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Saves the sync state; callers do this only after the data it describes is on disk.
    pub fn save_state(&self, state: &State) -> Result<()> {
        let text = serde_json::to_vec_pretty(state)?;
        write_atomic(&self.dir.join(".fhirdl").join("state.json"), &text)
    }

    pub fn save_last_run(&self, run: &LastRun) -> Result<()> {
        write_atomic(
            &self.dir.join(".fhirdl").join("last_run.json"),
            &serde_json::to_vec_pretty(run)?,
        )
    }

    /// Writes `manifest.json`: what is in the folder, with a sha256 per file.
    pub fn write_manifest(&self, header: serde_json::Value, types: &[String]) -> Result<()> {
        let mut files = serde_json::Map::new();
        // The types of the state, and any other `<Type>.ndjson` here (a type whose file a
        // killed run replaced and whose search then failed is not in the state yet).
        let mut all: std::collections::BTreeSet<String> = types.iter().cloned().collect();
        for entry in std::fs::read_dir(&self.dir)
            .with_context(|| format!("cannot read {}", self.dir.display()))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(ty) = name.strip_suffix(".ndjson") {
                if super::plan::is_type_name(ty) && entry.file_type().is_ok_and(|t| t.is_file()) {
                    all.insert(ty.to_string());
                }
            }
        }
        for ty in &all {
            let path = self.ndjson_path(ty);
            let Ok(Some((count, bytes, sha256))) = digest(&path) else {
                continue;
            };
            files.insert(
                format!("{ty}.ndjson"),
                serde_json::json!({
                    "type": ty,
                    "count": count,
                    "bytes": bytes,
                    "sha256": sha256,
                }),
            );
        }
        let mut doc = header;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("files".into(), serde_json::Value::Object(files));
        }
        // Rewritten only when something besides the time changed.
        let path = self.dir.join("manifest.json");
        let old: Option<serde_json::Value> = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let without_time = |v: &serde_json::Value| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("synced_at");
            }
            v
        };
        if old.as_ref().map(without_time) != Some(without_time(&doc)) {
            write_atomic(&path, &serde_json::to_vec_pretty(&doc)?)?;
        }
        Ok(())
    }
}

/// How fetched resources combine with the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fetched ones are added or replace their stored version; the others stay.
    Upsert,
    /// The fetched set is the whole type: stored ones not fetched are removed.
    Replace,
}

#[derive(Debug, Clone)]
pub struct MergeOptions<'a> {
    pub mode: Mode,
    /// Write `<Type>.ndjson` (off with `--format json`).
    pub ndjson: bool,
    /// Write `json/<Type>/<id>.json` for new and updated resources.
    pub pretty: bool,
    pub dry_run: bool,
    /// Removed resources are kept under `.fhirdl/removed/<stamp>/`.
    pub removed_stamp: Option<&'a str>,
}

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Resources in the type's file afterwards.
    pub stored: usize,
    /// Whether the type's content changed.
    pub changed: bool,
    /// Whether the NDJSON file was (re)written.
    pub written: bool,
}

/// The output of a merge, started lazily at the first difference.
struct Out<'a> {
    path: &'a Path,
    file: Option<AtomicFile>,
    enabled: bool,
}

impl Out<'_> {
    /// From here on the new file differs from the old: start it with the old file's first
    /// `prefix` bytes (identical so far).
    fn diverge(&mut self, prefix: u64) -> Result<()> {
        if self.file.is_some() || !self.enabled {
            return Ok(());
        }
        let mut file = AtomicFile::create(self.path)?.with_digest();
        if prefix > 0 {
            file.copy_prefix(self.path, prefix)?;
        }
        self.file = Some(file);
        Ok(())
    }

    fn line(&mut self, line: &str) -> Result<()> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(line.as_bytes())?;
            f.write_all(b"\n")?;
        }
        Ok(())
    }

    fn commit(self) -> Result<()> {
        match self.file {
            Some(f) => f.commit(),
            None => Ok(()),
        }
    }
}

/// The next stored entry; a dropped line before it starts the new file there.
fn next_old(existing: &mut Existing, out: &mut Out<'_>) -> Result<Option<OldEntry>> {
    let old = existing.next()?;
    if let Some(at) = existing.take_dropped() {
        out.diverge(at)?;
    }
    Ok(old)
}

fn next_of(fetched: &mut Option<Sorted>) -> Result<Option<(String, String)>> {
    match fetched.as_mut() {
        Some(f) => f.next_entry(),
        None => Ok(None),
    }
}

/// The stored file is not in id order.
#[derive(Debug)]
struct Unsorted;

impl std::fmt::Display for Unsorted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stored file is not sorted by id")
    }
}

impl std::error::Error for Unsorted {}

/// One line of a stored NDJSON file.
#[derive(Debug, Default)]
struct Entry {
    /// `None` for a line without a valid id (dropped on rewrite).
    id: Option<String>,
    line: String,
    /// Byte offset of the line's start.
    start: u64,
    /// Ends with a newline and nothing odd: can be kept byte for byte.
    clean: bool,
}

/// An entry with an id, as the merge sees it.
#[derive(Debug, Default)]
struct OldEntry {
    id: String,
    line: String,
    start: u64,
    clean: bool,
}

/// A stored NDJSON file read line by line (a missing file reads as empty).
struct Stored {
    reader: Option<std::io::BufReader<std::fs::File>>,
    path: PathBuf,
    offset: u64,
    line_no: usize,
    /// Start of a line dropped for lacking a valid id, not yet seen by the merge.
    dropped_at: Option<u64>,
    /// The previous id, to check the order.
    last: Option<String>,
}

impl Stored {
    fn open(path: &Path) -> Result<Stored> {
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
    fn next_entry(&mut self) -> Result<Option<Entry>> {
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

/// The stored side of a merge: the file itself, or its sorted copy.
enum Existing {
    File(Stored),
    Sorted(Sorted),
}

impl Existing {
    fn next(&mut self) -> Result<Option<OldEntry>> {
        match self {
            Existing::Sorted(s) => Ok(s.next_entry()?.map(|(id, line)| OldEntry {
                id,
                line,
                start: 0,
                clean: false,
            })),
            Existing::File(f) => loop {
                let Some(entry) = f.next_entry()? else {
                    return Ok(None);
                };
                let Some(id) = entry.id else {
                    // A line without a valid id is dropped: the file changes from there.
                    f.dropped_at.get_or_insert(entry.start);
                    continue;
                };
                if f.last.as_deref().is_some_and(|last| last >= id.as_str()) {
                    return Err(Unsorted.into());
                }
                f.last = Some(id.clone());
                return Ok(Some(OldEntry {
                    id,
                    line: entry.line,
                    start: entry.start,
                    clean: entry.clean,
                }));
            },
        }
    }

    /// Bytes of the stored file read so far (where new lines after the last one go).
    fn end(&self) -> u64 {
        match self {
            Existing::File(f) => f.offset,
            Existing::Sorted(_) => 0,
        }
    }

    /// Where the first line dropped since the last call starts, if one was.
    fn take_dropped(&mut self) -> Option<u64> {
        match self {
            Existing::File(f) => f.dropped_at.take(),
            Existing::Sorted(_) => None,
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

/// Lines, bytes and sha256 of a file, read in chunks; `None` when it does not exist.
pub(crate) fn digest(path: &Path) -> Result<Option<(usize, u64, String)>> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut lines, mut bytes) = (0usize, 0u64);
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        lines += buf[..n].iter().filter(|b| **b == b'\n').count();
        bytes += n as u64;
    }
    Ok(Some((lines, bytes, hex(&hasher.finalize()))))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_load_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Export::open(dir.path()).unwrap();
        let err = Export::open(dir.path())
            .err()
            .expect("second open must be refused");
        assert_eq!(crate::error::exit_code(&err), 8);
        let (a, b) = (
            r#"{"id":"a","resourceType":"Condition"}"#,
            r#"{"id":"b","resourceType":"Condition"}"#,
        );
        let both = MergeOptions {
            pretty: true,
            ..opts(Mode::Replace)
        };
        ex.merge(
            "Condition",
            sorted(dir.path(), &[("b", b), ("a", a)], 1),
            &both,
        )
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join("Condition.ndjson")).unwrap();
        assert!(text.starts_with(r#"{"id":"a""#), "sorted by id: {text}");
        let mut back = Vec::new();
        ex.for_each("Condition", |id, line| {
            back.push((id.to_string(), line.to_string()))
        })
        .unwrap();
        assert_eq!(
            back,
            [
                ("a".to_string(), a.to_string()),
                ("b".to_string(), b.to_string())
            ]
        );
        assert!(dir.path().join("json/Condition/a.json").exists());
        ex.write_manifest(serde_json::json!({"patient": "p"}), &["Condition".into()])
            .unwrap();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(m["files"]["Condition.ndjson"]["count"], 2);
        drop(ex);
        assert!(
            Export::open(dir.path()).is_ok(),
            "the lock is released with the export"
        );
    }

    fn sorted(dir: &Path, entries: &[(&str, &str)], run_bytes: usize) -> Sorted {
        let mut spool = Spool::with_run_bytes(&dir.join(".fhirdl"), run_bytes);
        for (id, line) in entries {
            spool.insert(id.to_string(), line.to_string()).unwrap();
        }
        spool.into_sorted().unwrap()
    }

    fn opts(mode: Mode) -> MergeOptions<'static> {
        MergeOptions {
            mode,
            ndjson: true,
            pretty: false,
            dry_run: false,
            removed_stamp: Some("stamp"),
        }
    }

    #[test]
    fn merges_stream_and_rewrite_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Export::open(dir.path()).unwrap();
        let path = dir.path().join("Observation.ndjson");
        let line = |id: &str, v: u32| format!(r#"{{"id":"{id}","v":{v}}}"#);
        let first: Vec<(String, String)> = ["a", "c", "e"]
            .iter()
            .map(|i| (i.to_string(), line(i, 1)))
            .collect();
        let refs: Vec<(&str, &str)> = first
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let m = ex
            .merge(
                "Observation",
                sorted(dir.path(), &refs, 1 << 20),
                &opts(Mode::Replace),
            )
            .unwrap();
        assert_eq!((m.new, m.stored, m.changed, m.written), (3, 3, true, true));
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        let bytes = std::fs::read(&path).unwrap();

        // The same resources again: nothing is written.
        let m = ex
            .merge(
                "Observation",
                sorted(dir.path(), &refs, 1),
                &opts(Mode::Replace),
            )
            .unwrap();
        assert_eq!((m.unchanged, m.changed, m.written), (3, false, false));
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );

        // Upsert: d is new, c updated, the others stay.
        let (c2, d1) = (line("c", 2), line("d", 1));
        let m = ex
            .merge(
                "Observation",
                sorted(dir.path(), &[("d", &d1), ("c", &c2)], 1),
                &opts(Mode::Upsert),
            )
            .unwrap();
        assert_eq!((m.new, m.updated, m.stored, m.changed), (1, 1, 4, true));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("{}\n{c2}\n{d1}\n{}\n", line("a", 1), line("e", 1))
        );
        assert_ne!(std::fs::read(&path).unwrap(), bytes);

        // Replace: what was not fetched is set aside under .fhirdl/removed/.
        let a1 = line("a", 1);
        let m = ex
            .merge(
                "Observation",
                sorted(dir.path(), &[("a", &a1)], 1),
                &opts(Mode::Replace),
            )
            .unwrap();
        assert_eq!((m.removed, m.stored), (3, 1));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{a1}\n"));
        let removed =
            std::fs::read_to_string(dir.path().join(".fhirdl/removed/stamp/Observation.ndjson"))
                .unwrap();
        assert_eq!(removed.lines().count(), 3);

        // Dry run: counts, writes nothing.
        let dry = MergeOptions {
            dry_run: true,
            ..opts(Mode::Upsert)
        };
        let m = ex
            .merge("Observation", sorted(dir.path(), &[("b", &a1)], 1), &dry)
            .unwrap();
        assert_eq!((m.new, m.written), (1, false));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{a1}\n"));
        assert_eq!(
            crate::atomic::remove_stale_temp_files(dir.path()).unwrap(),
            0,
            "no temp file is left behind"
        );
    }

    #[test]
    fn damaged_or_unsorted_files_are_repaired_by_the_merge() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Export::open(dir.path()).unwrap();
        let path = dir.path().join("Condition.ndjson");
        // Out of order, a duplicate, a line without an id, no final newline.
        std::fs::write(
            &path,
            "{\"id\":\"b\"}\n{\"id\":\"a\"}\n{\"x\":1}\n\n{\"id\":\"a\"}\n{\"id\":\"c\"}",
        )
        .unwrap();
        let m = ex
            .merge("Condition", sorted(dir.path(), &[], 1), &opts(Mode::Upsert))
            .unwrap();
        assert_eq!(m.stored, 3);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n"
        );
        // In order but with an id-less line and no final newline: fixed in place.
        std::fs::write(&path, "{\"id\":\"a\"}\n{}\n{\"id\":\"b\"}").unwrap();
        let m = ex
            .merge(
                "Condition",
                sorted(dir.path(), &[("c", "{\"id\":\"c\"}")], 1),
                &opts(Mode::Upsert),
            )
            .unwrap();
        assert_eq!((m.new, m.stored), (1, 3));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n"
        );
        std::fs::write(&path, "not json\n").unwrap();
        let err = ex
            .merge("Condition", sorted(dir.path(), &[], 1), &opts(Mode::Upsert))
            .unwrap_err();
        assert!(format!("{err:#}").contains("line 1 is not JSON"), "{err:#}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "not json\n",
            "left as it was"
        );
    }

    #[test]
    fn pretty_files_follow_the_ndjson_file() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Export::open(dir.path()).unwrap();
        let (a, b) = (r#"{"id":"a"}"#, r#"{"id":"b"}"#);
        ex.merge(
            "Condition",
            sorted(dir.path(), &[("a", a), ("b", b)], 1),
            &opts(Mode::Replace),
        )
        .unwrap();
        let json = dir.path().join("json/Condition");
        assert!(!json.exists(), "NDJSON only so far");
        // `--format both` added later: the pretty files of unchanged resources are filled in.
        let both = MergeOptions {
            pretty: true,
            ..opts(Mode::Upsert)
        };
        let m = ex
            .merge("Condition", sorted(dir.path(), &[], 1), &both)
            .unwrap();
        assert!(!m.written);
        assert!(json.join("a.json").exists() && json.join("b.json").exists());
        // A resource gone on a full run: its pretty file goes too.
        let full = MergeOptions {
            pretty: true,
            ..opts(Mode::Replace)
        };
        ex.merge("Condition", sorted(dir.path(), &[("a", a)], 1), &full)
            .unwrap();
        assert!(json.join("a.json").exists() && !json.join("b.json").exists());
        // A case twin arrives: both get distinct names, the bare one is gone.
        let twin = r#"{"id":"A"}"#;
        ex.merge("Condition", sorted(dir.path(), &[("A", twin)], 1), &both)
            .unwrap();
        let names: Vec<String> = std::fs::read_dir(&json)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| n.contains('_')), "{names:?}");
        // The manifest lists every NDJSON file in the folder.
        std::fs::write(dir.path().join("Stray.ndjson"), "").unwrap();
        ex.write_manifest(serde_json::json!({}), &["Condition".into()])
            .unwrap();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap())
                .unwrap();
        assert!(m["files"]["Stray.ndjson"].is_object(), "{m}");
    }
}
