//! The export folder on disk and its lock: `<Type>.ndjson` files sorted by id, optional pretty
//! JSON per resource, `manifest.json`, and `.fhirdl/` (sync state, last run, lock, removed
//! resources, spool files).
//!
//! One sync at a time holds the folder ([`Export::open`]); every write is atomic
//! ([`crate::atomic`]); folders are 0700 and files 0600. Names of files come from validated
//! resource types and ids only, so nothing is written outside the folder. Merging a type into
//! its file is in [`super::merge`].

use super::ids::IdSet;
use super::manifest::{FileEntry, Manifest};
use super::ndjson::{ids_in, Stored};
use super::state::{FileStamp, LastRun, State};
use crate::atomic::create_private_dir;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub struct Export {
    dir: PathBuf,
    _lock: std::fs::File,
    /// Types merge in parallel; their announcements to manifest.json take turns.
    manifest: std::sync::Mutex<()>,
    /// The manifest entries of the files this run wrote, hashed while they were written, so
    /// the run's end does not read them again (see [`Export::write_manifest`]).
    written: std::sync::Mutex<std::collections::BTreeMap<String, FileEntry>>,
    /// The ids each type's merge left in its file this run (see [`Export::id_set`]).
    id_sets: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<IdSet>>>,
    /// Types something refers to: their merges note their ids (the others' would only cost
    /// memory: a million-resource export keeps under 128 MiB).
    referenced: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Export {
    /// Opens (creating) the folder and takes its lock.
    pub fn open(dir: &Path) -> Result<Export> {
        // The folder whose writes a power-loss test records (off unless it asks).
        crate::atomic::journal::watch(dir);
        create_private_dir(&crate::export_layout::private_dir(dir))?;
        let lock_path = crate::export_layout::lock_path(dir);
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
                return Err(super::Error::Locked {
                    dir: dir.to_path_buf(),
                }
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
            written: Default::default(),
            id_sets: Default::default(),
            referenced: Default::default(),
        })
    }

    /// Like [`Export::open`], but waits (polling every half second, up to `max`) while another
    /// sync holds the lock.
    pub async fn open_waiting(dir: &Path, max: std::time::Duration) -> Result<Export> {
        let started = std::time::Instant::now();
        loop {
            match Export::open(dir) {
                Err(e) if super::Error::is_locked(&e) && started.elapsed() < max => {
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
        crate::export_layout::ndjson_path(&self.dir, resource_type)
    }

    /// The ids stored for a type, read line by line.
    pub fn ids(&self, resource_type: &str) -> Result<std::collections::HashSet<String>> {
        ids_in(&self.ndjson_path(resource_type))
    }

    /// Which ids a type's file holds, for membership only: what its merge this run left there,
    /// or else read from the file line by line (and kept for the next question).
    pub fn id_set(&self, resource_type: &str) -> Result<std::sync::Arc<IdSet>> {
        if let Some(set) = self.lock_id_sets().get(resource_type) {
            return Ok(set.clone());
        }
        let mut set = IdSet::default();
        let mut reader = Stored::open(&self.ndjson_path(resource_type))?;
        while let Some(entry) = reader.next_entry()? {
            if let Some(id) = &entry.id {
                set.insert(id);
            }
        }
        let set = std::sync::Arc::new(set);
        // Asked about, so referred to: the type's next merge keeps this true.
        self.referenced([resource_type]);
        self.merged_ids(resource_type, set.clone());
        Ok(set)
    }

    /// What this run noted of a type's ids, if anything (never reads the file).
    pub(super) fn noted_ids(&self, resource_type: &str) -> Option<std::sync::Arc<IdSet>> {
        self.lock_id_sets().get(resource_type).cloned()
    }

    /// Drops what was noted of a type's ids (its file changed without a new note).
    pub(super) fn forget_ids(&self, resource_type: &str) {
        self.lock_id_sets().remove(resource_type);
    }

    /// Notes the ids a merge of `resource_type` left in its file (or that it holds).
    pub(super) fn merged_ids(&self, resource_type: &str, ids: std::sync::Arc<IdSet>) {
        self.lock_id_sets().insert(resource_type.to_string(), ids);
    }

    /// Notes types that resources refer to: from now on their merges note their ids.
    pub(super) fn referenced<'a>(&self, types: impl IntoIterator<Item = &'a str>) {
        let mut referenced = self
            .referenced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for ty in types {
            if !referenced.contains(ty) {
                referenced.insert(ty.to_string());
            }
        }
    }

    /// Whether something refers to resources of `resource_type` (see [`Export::referenced`]).
    pub(super) fn is_referenced(&self, resource_type: &str) -> bool {
        self.referenced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(resource_type)
    }

    fn lock_id_sets(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, std::sync::Arc<IdSet>>> {
        self.id_sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the turn to write `manifest.json` (types merge in parallel; their announcements
    /// take turns).
    pub(super) fn manifest_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.manifest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// The sync state. A type whose file is not the one the state last saw (a run stopped
    /// between replacing the file and saving the state, or a copied folder) is counted again
    /// from its file, and the state saved: a type the run does not fetch again (one read only
    /// through references) would otherwise keep a count its file does not hold.
    pub fn load_state(&self) -> Result<State> {
        let mut state = State::load(&self.dir)?;
        let mut restamped = false;
        for (ty, t) in &mut state.types {
            let stamp = FileStamp::of(&self.ndjson_path(ty));
            // No stamp: no NDJSON file is kept (`--format json`), or it is gone (then the
            // type's mark is what `verify` calls damage and `sync --full` repairs).
            if t.file.is_none() || stamp.is_none() || stamp == t.file {
                continue;
            }
            t.count = self.ids(ty)?.len();
            t.file = stamp;
            restamped = true;
        }
        if restamped {
            self.save_state(&state)?;
        }
        Ok(state)
    }

    /// Saves the sync state; callers do this only after the data it describes is on disk.
    /// The file's bytes are fsynced; its new name becomes durable before the manifest is
    /// written afresh ([`Export::write_manifest`]), with the run's last-run record (same
    /// folder, whose fsync covers it) or the next save: a crash before that
    /// leaves an older state, behind the data, never ahead of it (a run saves the state once
    /// per type; the folder's fsync each time was an eighth of an export's fsyncs).
    pub fn save_state(&self, state: &State) -> Result<()> {
        state.save_in_batch(&self.dir)
    }

    pub fn save_last_run(&self, run: &LastRun) -> Result<()> {
        run.save(&self.dir)
    }

    /// Notes that `file` (a `<Type>.ndjson` of this folder) now has the bytes `entry`
    /// describes: this run replaced it, under the folder's lock.
    pub(super) fn wrote(&self, file: &str, entry: FileEntry) {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(file.to_string(), entry);
    }

    /// Writes `manifest.json` (see [`Manifest::write`]); the files this run wrote are described
    /// by the digests taken while writing them, the others are hashed. The state saved so far
    /// is made durable first: a fresh manifest over a state a power cut took back reads as
    /// damage (counts that differ).
    pub fn write_manifest(&self, header: Manifest, types: &[String]) -> Result<()> {
        crate::atomic::sync_dir(&self.dir.join(".fhirdl"));
        let written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Manifest::write(&self.dir, header, types, &written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sync_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let ex = Export::open(dir.path()).unwrap();
        let err = Export::open(dir.path())
            .err()
            .expect("second open must be refused");
        assert_eq!(crate::exit::exit_code(&err), 8);
        drop(ex);
        assert!(
            Export::open(dir.path()).is_ok(),
            "the lock is released with the export"
        );
    }
}
