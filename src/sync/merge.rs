//! Merging a fetched type into its `<Type>.ndjson` file, streaming: the stored file is read line
//! by line against the fetched resources (both in id order), and the new file is written to a
//! temp file that replaces the old one atomically, only if something changed. An unchanged file
//! is not rewritten: the temp file is started at the first difference, with the identical part
//! copied. Versions replaced by newer ones, and resources a full run no longer finds, are
//! appended to the type's history first (see [`super::history`]); pretty files (`json/<Type>/<id>.json`) follow their NDJSON line.
//!
//! Before the replacement, `manifest.json` announces it (see [`super::manifest`]).

use super::export::Export;
use super::history::Event;
use super::manifest::{announce, FileEntry};
use super::ndjson::Stored;
use super::spool::{Sorted, Spool};
use crate::atomic::{create_private_dir, remove_if_exists, write_atomic, AtomicFile};
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How fetched resources combine with the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    /// Fetched ones are added or replace their stored version; the others stay.
    Upsert,
    /// The fetched set is the whole type: stored ones not fetched are removed.
    Replace,
}

#[derive(Debug, Clone)]
pub struct MergeOptions<'a> {
    pub mode: MergeMode,
    /// Write `<Type>.ndjson` (off with `--format json`).
    pub ndjson: bool,
    /// Write `json/<Type>/<id>.json` for new and updated resources.
    pub pretty: bool,
    pub dry_run: bool,
    /// Superseded and removed versions are appended to `.fhirdl/history/<Type>.ndjson` with
    /// this time (the run's start); `None` keeps no history (tests of the file alone).
    pub history_at: Option<&'a str>,
}

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Stored resources whose text an older fhirdl had printed again (numbers shortened, keys
    /// re-sorted), now replaced by the server's exact text with the same meaning.
    pub upgraded: usize,
    pub removed: usize,
    /// Resources in the type's file afterwards.
    pub stored: usize,
    /// Versions added to the type's history (replaced or removed ones not recorded before).
    pub superseded: usize,
    /// Whether the type's content changed.
    pub changed: bool,
    /// Whether the NDJSON file was (re)written.
    pub written: bool,
}

impl Export {
    /// Merges `fetched` (in id order) into the type's NDJSON file (see the module's text).
    pub fn merge(
        &self,
        resource_type: &str,
        fetched: Sorted,
        opts: &MergeOptions<'_>,
    ) -> Result<Merged> {
        let path = self.ndjson_path(resource_type);
        let mut existing = Existing::File(Stored::open(&path)?);
        let mut fetched = fetched;
        loop {
            match self.merge_once(resource_type, &path, &mut existing, &mut fetched, opts) {
                Err(e) if e.downcast_ref::<Unsorted>().is_some() => {
                    // A file not in id order (edited by hand, or an old version): sort it first.
                    existing = Existing::Sorted(self.sorted_copy(&path)?);
                    fetched.rewind()?;
                }
                other => return other,
            }
        }
    }

    /// The stored file's lines in id order (through a spool on disk).
    fn sorted_copy(&self, path: &Path) -> Result<Sorted> {
        let mut spool = Spool::new(&self.dir().join(".fhirdl"));
        let mut reader = Stored::open(path)?;
        while let Some(entry) = reader.next_entry()? {
            if let Some(id) = entry.id {
                spool.insert(id, entry.line)?;
            }
        }
        spool.into_sorted()
    }

    fn merge_once(
        &self,
        resource_type: &str,
        path: &Path,
        existing: &mut Existing,
        fetched: &mut Sorted,
        opts: &MergeOptions<'_>,
    ) -> Result<Merged> {
        let mut merger = Merger::new(self, resource_type, path, fetched, opts)?;
        // Sorting a disordered file means rewriting it.
        if matches!(existing, Existing::Sorted(_)) {
            merger.out.diverge(0)?;
            merger.m.changed = true;
        }
        let mut new_entry = fetched.next_entry()?;
        let mut old = next_old(existing, &mut merger.out)?;
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
                    let at = old.as_ref().map_or(existing.end(), |o| o.start);
                    merger.new_only(&id, &line, at)?;
                    new_entry = fetched.next_entry()?;
                }
                std::cmp::Ordering::Equal => {
                    let (id, line) = new_entry.take().unwrap_or_default();
                    merger.both(&id, &line, old.take().unwrap_or_default())?;
                    new_entry = fetched.next_entry()?;
                    old = next_old(existing, &mut merger.out)?;
                }
                std::cmp::Ordering::Greater => {
                    merger.old_only(old.take().unwrap_or_default())?;
                    old = next_old(existing, &mut merger.out)?;
                }
            }
        }
        merger.finish()
    }
}

/// One merge in progress.
struct Merger<'a> {
    export: &'a Export,
    resource_type: &'a str,
    opts: &'a MergeOptions<'a>,
    out: Out<'a>,
    /// The versions this merge supersedes, appended to the history before the commit.
    history: Option<super::history::Recorder>,
    pretty: Option<Pretty>,
    /// Every id the new file holds, when something refers to the type (for
    /// [`Export::id_set`]).
    ids: Option<super::ids::IdSet>,
    m: Merged,
}

impl<'a> Merger<'a> {
    fn new(
        export: &'a Export,
        resource_type: &'a str,
        path: &'a Path,
        fetched: &mut Sorted,
        opts: &'a MergeOptions<'a>,
    ) -> Result<Merger<'a>> {
        let pretty = if opts.pretty && !opts.dry_run {
            Some(Pretty::new(export, resource_type, fetched)?)
        } else {
            None
        };
        Ok(Merger {
            export,
            resource_type,
            opts,
            out: Out {
                path,
                file: None,
                enabled: opts.ndjson && !opts.dry_run,
            },
            history: match (opts.history_at, opts.dry_run) {
                (Some(at), false) => Some(super::history::Recorder::new(
                    export.dir(),
                    resource_type,
                    at,
                )),
                _ => None,
            },
            pretty,
            ids: export
                .is_referenced(resource_type)
                .then(super::ids::IdSet::default),
            m: Merged::default(),
        })
    }

    /// A fetched resource not stored yet; the old file's bytes before `at` are unchanged.
    fn new_only(&mut self, id: &str, line: &str, at: u64) -> Result<()> {
        self.out.diverge(at)?;
        self.out.line(line)?;
        self.m.new += 1;
        self.m.stored += 1;
        self.note_id(id);
        self.m.changed = true;
        if let Some(p) = &self.pretty {
            p.write(id, line)?;
        }
        Ok(())
    }

    /// A fetched resource that is stored already: kept byte for byte when equal.
    fn both(&mut self, id: &str, line: &str, old: OldEntry) -> Result<()> {
        if old.line == line && old.clean {
            self.m.unchanged += 1;
            self.out.line(line)?;
            if let Some(p) = &self.pretty {
                // A whole fetch also upgrades pretty files an older fhirdl printed again.
                match self.opts.mode {
                    MergeMode::Replace => p.refresh(id, line)?,
                    MergeMode::Upsert => p.fill(id, line)?,
                }
            }
        } else {
            self.out.diverge(old.start)?;
            self.out.line(line)?;
            if old.line == line {
                self.m.unchanged += 1;
            } else if same_meaning(&old.line, line) {
                // Same values, other text: an older fhirdl's re-printed copy, or the server
                // changing only a number's precision. Either way the old text is kept.
                self.m.upgraded += 1;
                self.m.unchanged += 1;
                self.m.changed = true;
                self.keep_history(Event::Replaced, &old.line)?;
            } else {
                self.m.updated += 1;
                self.m.changed = true;
                self.keep_history(Event::Replaced, &old.line)?;
            }
            if let Some(p) = &self.pretty {
                p.write(id, line)?;
            }
        }
        self.m.stored += 1;
        self.note_id(id);
        Ok(())
    }

    /// A stored resource the fetch did not bring: kept (upsert) or set aside (replace).
    fn old_only(&mut self, old: OldEntry) -> Result<()> {
        match self.opts.mode {
            MergeMode::Upsert => {
                if !old.clean {
                    self.out.diverge(old.start)?;
                }
                self.out.line(&old.line)?;
                self.m.stored += 1;
                self.note_id(&old.id);
                // `--format both` added to an NDJSON-only export: fill in.
                if let Some(p) = &self.pretty {
                    p.fill(&old.id, &old.line)?;
                }
            }
            MergeMode::Replace => {
                self.out.diverge(old.start)?;
                self.m.removed += 1;
                self.m.changed = true;
                self.keep_history(Event::Removed, &old.line)?;
                if let Some(p) = &self.pretty {
                    p.remove(&old.id)?;
                }
            }
        }
        Ok(())
    }

    fn note_id(&mut self, id: &str) {
        if let Some(ids) = self.ids.as_mut() {
            ids.insert(id);
        }
    }

    fn keep_history(&mut self, event: Event, line: &str) -> Result<()> {
        match self.history.as_mut() {
            Some(h) => h.record(event, line),
            None => Ok(()),
        }
    }

    /// Commits the history, announces the new file in the manifest and replaces it.
    fn finish(mut self) -> Result<Merged> {
        // Superseded versions are durable in the history before the new file replaces them.
        if let Some(h) = self.history.take() {
            self.m.superseded = h.commit()?;
        }
        if self.out.enabled && !self.out.path.exists() {
            // A type with no resources still gets its (empty) file.
            self.out.diverge(0)?;
        }
        self.m.written = self.out.file.is_some();
        let file = format!("{}.ndjson", self.resource_type);
        let entry =
            self.out
                .file
                .as_ref()
                .and_then(AtomicFile::digest)
                .map(|(count, bytes, sha256)| FileEntry {
                    resource_type: self.resource_type.to_string(),
                    count,
                    bytes,
                    sha256,
                    previous_sha256: None,
                });
        if let Some(entry) = &entry {
            // manifest.json says what is coming before the file is replaced (see
            // sync::manifest); the pretty files were written before, the NDJSON file last.
            let _turn = self.export.manifest_turn();
            announce(self.export.dir(), &file, entry)?;
        }
        if let Some(p) = &self.pretty {
            p.removals_durable();
        }
        let enabled = self.out.enabled;
        self.out.commit()?;
        if let Some(entry) = entry {
            self.export.wrote(&file, entry);
        }
        match self.ids.take() {
            Some(ids) if enabled => self
                .export
                .merged_ids(self.resource_type, std::sync::Arc::new(ids)),
            // What was noted of the type's file before is no longer true.
            _ if enabled => self.export.forget_ids(self.resource_type),
            _ => {}
        }
        Ok(self.m)
    }
}

/// Whether two texts of one resource say the same thing (numbers compared as values, keys in
/// any order): an older fhirdl's re-printed text against the server's exact one.
fn same_meaning(old: &str, new: &str) -> bool {
    let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
    matches!((parse(old), parse(new)), (Some(a), Some(b)) if alike(&a, &b))
}

/// Equal values, numbers compared as the floats an older fhirdl printed them as (its printing
/// and this parsing each may be a last digit off, so within a relative 1e-12).
fn alike(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| alike(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| alike(v, w)))
        }
        _ => a == b,
    }
}

/// The pretty files of a type: `json/<Type>/<stem>.json`, where ids equal but for case get
/// distinct stems (see [`super::naming`]).
struct Pretty {
    dir: PathBuf,
    stems: BTreeMap<String, String>,
    /// A file was removed: its folder is fsynced before the NDJSON file is replaced (see
    /// [`Pretty::removals_durable`]).
    removed: std::cell::Cell<bool>,
}

impl Pretty {
    fn new(export: &Export, resource_type: &str, fetched: &mut Sorted) -> Result<Pretty> {
        let dir = export.dir().join("json").join(resource_type);
        create_private_dir(&dir)?;
        let mut ids = export.ids(resource_type)?;
        ids.extend(fetched.ids()?);
        let stems = super::naming::stems(ids.iter().map(String::as_str));
        Ok(Pretty {
            dir,
            stems,
            removed: Default::default(),
        })
    }

    fn path(&self, id: &str) -> PathBuf {
        let stem = self.stems.get(id).map_or(id, String::as_str);
        self.dir.join(format!("{stem}.json"))
    }

    fn write(&self, id: &str, line: &str) -> Result<()> {
        if self.stems.get(id).is_some_and(|stem| stem != id) {
            // A bare name from before the twin arrived would shadow it on a case-insensitive
            // file system.
            remove_if_exists(&self.dir.join(format!("{id}.json")))?;
        }
        write_atomic(&self.path(id), crate::json_text::pretty(line).as_bytes())
    }

    /// Writes the file when it is missing or differs from the line's exact pretty text.
    fn refresh(&self, id: &str, line: &str) -> Result<()> {
        let want = crate::json_text::pretty(line);
        if std::fs::read(self.path(id)).ok().as_deref() == Some(want.as_bytes()) {
            return Ok(());
        }
        self.write(id, line)
    }

    /// Writes the file when it is missing.
    fn fill(&self, id: &str, line: &str) -> Result<()> {
        if self.path(id).exists() {
            return Ok(());
        }
        self.write(id, line)
    }

    fn remove(&self, id: &str) -> Result<()> {
        if remove_if_exists(&self.path(id))? {
            self.removed.set(true);
        }
        Ok(())
    }

    /// Makes the removals durable (once per merge): a power cut could otherwise keep the new
    /// NDJSON file without them, and the pretty file of a resource it no longer holds would
    /// stay for good (no later merge meets that resource again).
    fn removals_durable(&self) {
        if self.removed.get() {
            crate::atomic::sync_dir(&self.dir);
        }
    }
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

/// The stored file is not in id order.
#[derive(Debug)]
struct Unsorted;

impl std::fmt::Display for Unsorted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stored file is not sorted by id")
    }
}

impl std::error::Error for Unsorted {}

/// An entry with an id, as the merge sees it.
#[derive(Debug, Default)]
struct OldEntry {
    id: String,
    line: String,
    start: u64,
    clean: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_an_older_fhirdl_printed_again_has_the_same_meaning() {
        let exact = r#"{"b":[1.50,0.010,4.00,1e2,-0.0,123456789012345678901,100.000000000000000001],"a":"\u00e9"}"#;
        let old = serde_json::from_str::<serde_json::Value>(exact)
            .unwrap()
            .to_string();
        assert_ne!(old, exact);
        assert!(same_meaning(&old, exact));
        assert!(!same_meaning(&old, &exact.replace("1.50", "1.51")));
        assert!(!same_meaning(&old, &exact.replace(r#""a""#, r#""c""#)));
    }

    #[test]
    fn merged_files_are_sorted_with_pretty_files_and_a_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Export::open(dir.path()).unwrap();
        let (a, b) = (
            r#"{"id":"a","resourceType":"Condition"}"#,
            r#"{"id":"b","resourceType":"Condition"}"#,
        );
        let both = MergeOptions {
            pretty: true,
            ..opts(MergeMode::Replace)
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
        ex.write_manifest(
            super::super::manifest::Manifest {
                patient: Some("p".into()),
                ..Default::default()
            },
            &["Condition".into()],
        )
        .unwrap();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(m["files"]["Condition.ndjson"]["count"], 2);
    }

    #[test]
    fn merges_of_referenced_types_note_their_ids_and_the_manifest_uses_the_written_digest() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Export::open(dir.path()).unwrap();
        let line = |id: &str| format!(r#"{{"id":"{id}","resourceType":"Condition"}}"#);
        let (a, b, c) = (line("a"), line("b"), line("c"));
        ex.referenced(["Condition"]);
        let upsert = opts(MergeMode::Upsert);
        ex.merge(
            "Condition",
            sorted(dir.path(), &[("a", &a)], 1 << 20),
            &upsert,
        )
        .unwrap();
        ex.merge(
            "Condition",
            sorted(dir.path(), &[("b", &b)], 1 << 20),
            &upsert,
        )
        .unwrap();
        let held = ex.id_set("Condition").unwrap();
        assert!(held.contains("a") && held.contains("b") && !held.contains("c"));
        assert_eq!(
            held.len(),
            2,
            "the kept one and the new one, from the merge"
        );
        // An unreferenced type's merge notes nothing; asking reads its file (then notes it).
        ex.merge(
            "Encounter",
            sorted(dir.path(), &[("c", &c)], 1 << 20),
            &upsert,
        )
        .unwrap();
        assert!(!ex.is_referenced("Encounter"));
        assert!(ex.id_set("Encounter").unwrap().contains("c"));
        assert!(ex.is_referenced("Encounter"));

        ex.write_manifest(Default::default(), &["Condition".into()])
            .unwrap();
        let m = super::super::manifest::Manifest::load(dir.path())
            .unwrap()
            .unwrap();
        let on_disk = super::super::manifest::digest_file(&dir.path().join("Condition.ndjson"))
            .unwrap()
            .unwrap();
        let listed = &m.files["Condition.ndjson"];
        assert_eq!(
            (listed.sha256.as_str(), listed.count, listed.bytes),
            (on_disk.sha256.as_str(), on_disk.lines, on_disk.bytes)
        );
        assert!(super::super::manifest::verify(dir.path())
            .unwrap()
            .is_empty());
    }

    fn sorted(dir: &Path, entries: &[(&str, &str)], run_bytes: usize) -> Sorted {
        let mut spool = Spool::with_run_bytes(&dir.join(".fhirdl"), run_bytes);
        for (id, line) in entries {
            spool.insert(id.to_string(), line.to_string()).unwrap();
        }
        spool.into_sorted().unwrap()
    }

    fn opts(mode: MergeMode) -> MergeOptions<'static> {
        MergeOptions {
            mode,
            ndjson: true,
            pretty: false,
            dry_run: false,
            history_at: Some("2026-01-01T00:00:00Z"),
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
                &opts(MergeMode::Replace),
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
                &opts(MergeMode::Replace),
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
                &opts(MergeMode::Upsert),
            )
            .unwrap();
        assert_eq!(
            (m.new, m.updated, m.stored, m.changed, m.superseded),
            (1, 1, 4, true, 1)
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("{}\n{c2}\n{d1}\n{}\n", line("a", 1), line("e", 1))
        );
        assert_ne!(std::fs::read(&path).unwrap(), bytes);

        // Replace: what was not fetched is kept in the history as removed.
        let a1 = line("a", 1);
        let m = ex
            .merge(
                "Observation",
                sorted(dir.path(), &[("a", &a1)], 1),
                &opts(MergeMode::Replace),
            )
            .unwrap();
        assert_eq!((m.removed, m.stored, m.superseded), (3, 1, 3));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{a1}\n"));
        let history =
            std::fs::read_to_string(dir.path().join(".fhirdl/history/Observation.ndjson")).unwrap();
        assert_eq!(
            history.lines().count(),
            4,
            "c replaced, then c, d, e removed"
        );
        assert!(history.contains(&format!(
            r#""event":"replaced","resource":{}"#,
            line("c", 1)
        )));
        assert!(history.contains(&format!(r#""event":"removed","resource":{c2}"#)));

        // Dry run: counts, writes nothing.
        let dry = MergeOptions {
            dry_run: true,
            ..opts(MergeMode::Upsert)
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
            .merge(
                "Condition",
                sorted(dir.path(), &[], 1),
                &opts(MergeMode::Upsert),
            )
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
                &opts(MergeMode::Upsert),
            )
            .unwrap();
        assert_eq!((m.new, m.stored), (1, 3));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n"
        );
        std::fs::write(&path, "not json\n").unwrap();
        let err = ex
            .merge(
                "Condition",
                sorted(dir.path(), &[], 1),
                &opts(MergeMode::Upsert),
            )
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
            &opts(MergeMode::Replace),
        )
        .unwrap();
        let json = dir.path().join("json/Condition");
        assert!(!json.exists(), "NDJSON only so far");
        // `--format both` added later: the pretty files of unchanged resources are filled in.
        let both = MergeOptions {
            pretty: true,
            ..opts(MergeMode::Upsert)
        };
        let m = ex
            .merge("Condition", sorted(dir.path(), &[], 1), &both)
            .unwrap();
        assert!(!m.written);
        assert!(json.join("a.json").exists() && json.join("b.json").exists());
        // A resource gone on a full run: its pretty file goes too.
        let full = MergeOptions {
            pretty: true,
            ..opts(MergeMode::Replace)
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
        ex.write_manifest(Default::default(), &["Condition".into()])
            .unwrap();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap())
                .unwrap();
        assert!(m["files"]["Stray.ndjson"].is_object(), "{m}");
    }
}
