//! The resources of one type as they arrive, kept in little memory: lines are buffered up to
//! [`RUN_BYTES`], then sorted by id and spilled to an anonymous temp file in the export's
//! `.fhirdl/` folder (owner-only, gone when closed). [`Spool::into_sorted`] merges the runs back
//! in id order, so a type of 100,000 resources never sits in memory whole: only its ids do.
//!
//! A run line is `<id>\t<resource JSON>\n`: ids are validated FHIR ids (no tab, no newline) and
//! the JSON is compact (newlines inside strings are escaped).

use anyhow::{Context, Result};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

/// Bytes of lines buffered before a sorted run is spilled to disk.
pub const RUN_BYTES: usize = 512 * 1024;

pub struct Spool {
    dir: PathBuf,
    ids: HashSet<String>,
    buf: Vec<(String, String)>,
    buf_bytes: usize,
    runs: Vec<File>,
    run_bytes: usize,
}

impl Spool {
    /// A spool whose runs go to `dir` (created when the first run is spilled).
    pub fn new(dir: &Path) -> Spool {
        Spool::with_run_bytes(dir, RUN_BYTES)
    }

    pub fn with_run_bytes(dir: &Path, run_bytes: usize) -> Spool {
        Spool {
            dir: dir.to_path_buf(),
            ids: HashSet::new(),
            buf: Vec::new(),
            buf_bytes: 0,
            runs: Vec::new(),
            run_bytes: run_bytes.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Keeps `line` under `id`; a second resource with an id already kept is ignored (`false`).
    pub fn insert(&mut self, id: String, line: String) -> Result<bool> {
        debug_assert!(!id.contains(['\t', '\n']) && !line.contains('\n'));
        if self.ids.contains(&id) {
            return Ok(false);
        }
        self.ids.insert(id.clone());
        self.buf_bytes += id.len() + line.len() + 64;
        self.buf.push((id, line));
        if self.buf_bytes >= self.run_bytes {
            self.spill()?;
        }
        Ok(true)
    }

    /// Writes the buffer as one sorted run.
    fn spill(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        crate::atomic::create_private_dir(&self.dir)?;
        let file = tempfile::tempfile_in(&self.dir)
            .with_context(|| format!("cannot create a temporary file in {}", self.dir.display()))?;
        let mut buf = std::mem::take(&mut self.buf);
        self.buf_bytes = 0;
        buf.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let write = |out: &mut BufWriter<File>| -> std::io::Result<()> {
            for (id, line) in &buf {
                out.write_all(id.as_bytes())?;
                out.write_all(b"\t")?;
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
            }
            out.flush()
        };
        write(&mut out)
            .with_context(|| format!("cannot write a temporary file in {}", self.dir.display()))?;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        self.runs.push(file);
        Ok(())
    }

    /// Every kept resource, in id order.
    pub fn into_sorted(mut self) -> Result<Sorted> {
        if self.runs.is_empty() {
            self.buf.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            return Ok(Sorted {
                ids: self.ids,
                memory: self.buf,
                pos: 0,
                runs: Vec::new(),
                heap: BinaryHeap::new(),
                started: true,
            });
        }
        self.spill()?;
        let runs = self
            .runs
            .into_iter()
            .map(|f| BufReader::with_capacity(64 * 1024, f))
            .collect();
        Ok(Sorted {
            ids: self.ids,
            memory: Vec::new(),
            pos: 0,
            runs,
            heap: BinaryHeap::new(),
            started: false,
        })
    }
}

/// Resources in id order, from memory or from merged runs.
pub struct Sorted {
    ids: HashSet<String>,
    memory: Vec<(String, String)>,
    pos: usize,
    runs: Vec<BufReader<File>>,
    /// The next line of each run: (id, line, run index).
    heap: BinaryHeap<Reverse<(String, String, usize)>>,
    started: bool,
}

impl Sorted {
    /// How many resources it yields.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids it yields.
    pub fn ids(&self) -> &HashSet<String> {
        &self.ids
    }

    /// Back to the first resource.
    pub fn rewind(&mut self) -> Result<()> {
        self.pos = 0;
        self.heap.clear();
        self.started = false;
        for run in &mut self.runs {
            run.rewind().context("cannot read a temporary file")?;
        }
        Ok(())
    }

    fn read_run(&mut self, i: usize) -> Result<()> {
        let mut text = String::new();
        let n = self.runs[i]
            .read_line(&mut text)
            .context("cannot read a temporary file")?;
        if n == 0 {
            return Ok(());
        }
        let text = text.trim_end_matches('\n');
        let (id, line) = text
            .split_once('\t')
            .context("a temporary file of this run is damaged")?;
        self.heap
            .push(Reverse((id.to_string(), line.to_string(), i)));
        Ok(())
    }

    pub fn next_entry(&mut self) -> Result<Option<(String, String)>> {
        if self.runs.is_empty() {
            let next = self.memory.get(self.pos).cloned();
            self.pos += 1;
            return Ok(next);
        }
        if !self.started {
            self.started = true;
            for i in 0..self.runs.len() {
                self.read_run(i)?;
            }
        }
        let Some(Reverse((id, line, i))) = self.heap.pop() else {
            return Ok(None);
        };
        self.read_run(i)?;
        Ok(Some((id, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut s: Sorted) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Some(e) = s.next_entry().unwrap() {
            out.push(e);
        }
        out
    }

    #[test]
    fn sorted_in_memory_and_through_runs_alike() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..500)
            .map(|i| format!("id-{}", (i * 7919) % 500))
            .collect();
        let mut small = Spool::new(dir.path());
        let mut spilled = Spool::with_run_bytes(dir.path(), 300);
        for id in &ids {
            let line = format!(r#"{{"id":"{id}"}}"#);
            assert!(small.insert(id.clone(), line.clone()).unwrap());
            assert!(spilled.insert(id.clone(), line).unwrap());
        }
        assert!(!spilled.insert("id-3".into(), "dup".into()).unwrap());
        assert!(spilled.runs.len() > 10, "runs were spilled");
        assert_eq!(spilled.len(), 500);
        let a = drain(small.into_sorted().unwrap());
        let sorted = spilled.into_sorted().unwrap();
        assert_eq!(sorted.len(), 500);
        let mut sorted = sorted;
        sorted.next_entry().unwrap();
        sorted.rewind().unwrap();
        let b = drain(sorted);
        assert_eq!(a, b);
        assert_eq!(a.len(), 500);
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "runs are anonymous files"
        );
    }
}
