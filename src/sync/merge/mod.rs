//! Merging a fetched type into its `<Type>.ndjson` file, streaming: the stored file is read line
//! by line against the fetched resources (both in id order), and the new file is written to a
//! temp file that replaces the old one atomically, only if something changed. An unchanged file
//! is not rewritten: the temp file is started at the first difference, with the identical part
//! copied. Versions replaced by newer ones, and resources a full run no longer finds, are
//! appended to the type's history first (see [`super::history`]); pretty files (`json/<Type>/<id>.json`) follow their NDJSON line.
//!
//! Before the replacement, `manifest.json` announces it (see [`super::manifest`]).
//!
//! The walk over both sides is [`merger`], the stored file read and the new one written are
//! [`stored`], and the pretty files [`pretty`].

mod merger;
mod pretty;
mod stored;
#[cfg(test)]
mod tests;

use super::export::Export;
use super::ndjson::Stored;
use super::spool::{Sorted, Spool};
use anyhow::Result;
use merger::Merger;
use std::path::Path;
use stored::{next_old, Existing, Unsorted};

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
    /// Upsert: the ids of up to this many stored resources the fetch did not return are
    /// noted in [`Merged::unseen`] (0: none).
    pub note_unseen: usize,
    /// Upsert: stored resources the server answered are gone (their reads by id said 404 or
    /// 410), removed and kept in the history as a replace removes what it did not fetch.
    pub gone: Option<&'a std::collections::BTreeSet<String>>,
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
    /// Ids of stored resources an upsert kept that the fetch did not return, in id order (up
    /// to [`MergeOptions::note_unseen`] of them).
    pub unseen: Vec<String>,
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
        let mut spool = Spool::new(&crate::export_layout::private_dir(self.dir()));
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
