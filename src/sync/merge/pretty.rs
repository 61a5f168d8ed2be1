//! The pretty files of a type, `json/<Type>/<id>.json`, kept in step with its NDJSON lines.

use crate::atomic::{create_private_dir, remove_if_exists, write_atomic};
use crate::sync::export::Export;
use crate::sync::spool::Sorted;
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// distinct stems (see [`crate::sync::naming`]).
pub(super) struct Pretty {
    dir: PathBuf,
    stems: BTreeMap<String, String>,
    /// A file was removed: its folder is fsynced before the NDJSON file is replaced (see
    /// [`Pretty::removals_durable`]).
    removed: std::cell::Cell<bool>,
}

impl Pretty {
    pub(super) fn new(
        export: &Export,
        resource_type: &str,
        fetched: &mut Sorted,
    ) -> Result<Pretty> {
        let dir = crate::export_layout::pretty_dir(export.dir(), resource_type);
        create_private_dir(&dir)?;
        let mut ids = export.ids(resource_type)?;
        ids.extend(fetched.ids()?);
        let stems = crate::sync::naming::stems(ids.iter().map(String::as_str));
        Ok(Pretty {
            dir,
            stems,
            removed: Default::default(),
        })
    }

    fn path(&self, id: &str) -> PathBuf {
        let stem = self.stems.get(id).map_or(id, String::as_str);
        self.dir.join(crate::export_layout::pretty_name(stem))
    }

    pub(super) fn write(&self, id: &str, line: &str) -> Result<()> {
        if self.stems.get(id).is_some_and(|stem| stem != id) {
            // A bare name from before the twin arrived would shadow it on a case-insensitive
            // file system.
            remove_if_exists(&self.dir.join(crate::export_layout::pretty_name(id)))?;
        }
        write_atomic(&self.path(id), crate::json_text::pretty(line).as_bytes())
    }

    /// Writes the file when it is missing or differs from the line's exact pretty text.
    pub(super) fn refresh(&self, id: &str, line: &str) -> Result<()> {
        let want = crate::json_text::pretty(line);
        if std::fs::read(self.path(id)).ok().as_deref() == Some(want.as_bytes()) {
            return Ok(());
        }
        self.write(id, line)
    }

    /// Writes the file when it is missing.
    pub(super) fn fill(&self, id: &str, line: &str) -> Result<()> {
        if self.path(id).exists() {
            return Ok(());
        }
        self.write(id, line)
    }

    pub(super) fn remove(&self, id: &str) -> Result<()> {
        if remove_if_exists(&self.path(id))? {
            self.removed.set(true);
        }
        Ok(())
    }

    /// Makes the removals durable (once per merge): a power cut could otherwise keep the new
    /// NDJSON file without them, and the pretty file of a resource it no longer holds would
    /// stay for good (no later merge meets that resource again).
    pub(super) fn removals_durable(&self) {
        if self.removed.get() {
            crate::atomic::sync_dir(&self.dir);
        }
    }
}
