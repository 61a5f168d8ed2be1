//! Both files of a merge: the stored one read entry by entry (in id order, or its sorted copy
//! when it is not), and the new one, started lazily at the first difference.

use crate::atomic::AtomicFile;
use crate::sync::ndjson::Stored;
use crate::sync::spool::Sorted;
use anyhow::Result;
use std::path::Path;

/// The output of a merge, started lazily at the first difference.
pub(super) struct Out<'a> {
    pub(super) path: &'a Path,
    pub(super) file: Option<AtomicFile>,
    pub(super) enabled: bool,
}

impl Out<'_> {
    /// From here on the new file differs from the old: start it with the old file's first
    /// `prefix` bytes (identical so far).
    pub(super) fn diverge(&mut self, prefix: u64) -> Result<()> {
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

    pub(super) fn line(&mut self, line: &str) -> Result<()> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(line.as_bytes())?;
            f.write_all(b"\n")?;
        }
        Ok(())
    }

    pub(super) fn commit(self) -> Result<()> {
        match self.file {
            Some(f) => f.commit(),
            None => Ok(()),
        }
    }
}

/// The next stored entry; a dropped line before it starts the new file there.
pub(super) fn next_old(existing: &mut Existing, out: &mut Out<'_>) -> Result<Option<OldEntry>> {
    let old = existing.next()?;
    if let Some(at) = existing.take_dropped() {
        out.diverge(at)?;
    }
    Ok(old)
}

/// The stored file is not in id order.
#[derive(Debug)]
pub(super) struct Unsorted;

impl std::fmt::Display for Unsorted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stored file is not sorted by id")
    }
}

impl std::error::Error for Unsorted {}

/// An entry with an id, as the merge sees it.
#[derive(Debug, Default)]
pub(super) struct OldEntry {
    pub(super) id: String,
    pub(super) line: String,
    pub(super) start: u64,
    pub(super) clean: bool,
}

/// The stored side of a merge: the file itself, or its sorted copy.
pub(super) enum Existing {
    File(Stored),
    Sorted(Sorted),
}

impl Existing {
    pub(super) fn next(&mut self) -> Result<Option<OldEntry>> {
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
    pub(super) fn end(&self) -> u64 {
        match self {
            Existing::File(f) => f.offset,
            Existing::Sorted(_) => 0,
        }
    }

    /// Where the first line dropped since the last call starts, if one was.
    pub(super) fn take_dropped(&mut self) -> Option<u64> {
        match self {
            Existing::File(f) => f.dropped_at.take(),
            Existing::Sorted(_) => None,
        }
    }
}
