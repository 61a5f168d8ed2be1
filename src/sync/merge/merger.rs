//! One merge in progress: the fetched and the stored resources walked in id order, each
//! counted as new, updated, unchanged or removed, superseded versions kept in the history, and
//! at the end the manifest announced before the new file replaces the old.

use super::pretty::Pretty;
use super::stored::{OldEntry, Out};
use super::{MergeMode, MergeOptions, Merged};
use crate::atomic::AtomicFile;
use crate::sync::export::Export;
use crate::sync::history::Event;
use crate::sync::manifest::{announce, FileEntry};
use crate::sync::spool::Sorted;
use anyhow::Result;
use std::path::Path;

/// One merge in progress.
pub(super) struct Merger<'a> {
    export: &'a Export,
    resource_type: &'a str,
    opts: &'a MergeOptions<'a>,
    pub(super) out: Out<'a>,
    /// The versions this merge supersedes, appended to the history before the commit.
    history: Option<crate::sync::history::Recorder>,
    pretty: Option<Pretty>,
    /// Every id the new file holds, when something refers to the type (for
    /// [`Export::id_set`]).
    ids: Option<crate::sync::ids::IdSet>,
    pub(super) m: Merged,
}

impl<'a> Merger<'a> {
    pub(super) fn new(
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
                (Some(at), false) => Some(crate::sync::history::Recorder::new(
                    export.dir(),
                    resource_type,
                    at,
                )),
                _ => None,
            },
            pretty,
            ids: export
                .is_referenced(resource_type)
                .then(crate::sync::ids::IdSet::default),
            m: Merged::default(),
        })
    }

    /// A fetched resource not stored yet; the old file's bytes before `at` are unchanged.
    pub(super) fn new_only(&mut self, id: &str, line: &str, at: u64) -> Result<()> {
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
    pub(super) fn both(&mut self, id: &str, line: &str, old: OldEntry) -> Result<()> {
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

    /// A stored resource the fetch did not bring: kept (upsert, unless its read said it is
    /// gone) or set aside (replace).
    pub(super) fn old_only(&mut self, old: OldEntry) -> Result<()> {
        let gone = self.opts.gone.is_some_and(|g| g.contains(&old.id));
        match self.opts.mode {
            MergeMode::Upsert if !gone => {
                if self.m.unseen.len() < self.opts.note_unseen {
                    self.m.unseen.push(old.id.clone());
                }
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
            MergeMode::Upsert | MergeMode::Replace => {
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
    pub(super) fn finish(mut self) -> Result<Merged> {
        // Superseded versions are durable in the history before the new file replaces them.
        if let Some(h) = self.history.take() {
            self.m.superseded = h.commit()?;
        }
        if self.out.enabled && !self.out.path.exists() {
            // A type with no resources still gets its (empty) file.
            self.out.diverge(0)?;
        }
        self.m.written = self.out.file.is_some();
        let file = crate::export_layout::ndjson_name(self.resource_type);
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
}
