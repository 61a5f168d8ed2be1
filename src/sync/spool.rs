//! The resources of one type as they arrive, kept in little memory: lines are buffered up to
//! [`RUN_BYTES`], then sorted by id and spilled to an anonymous temp file in the export's
//! `.fhirdl/` folder (owner-only, gone when closed). [`Spool::into_sorted`] merges the runs back
//! in id order, so a type of 100,000 resources never sits in memory whole: only a 128-bit key
//! of each id does (see [`super::ids`]).
//!
//! A run line is `<id>\t<resource JSON>\n`: ids are validated FHIR ids (no tab, no newline) and
//! the JSON is compact (newlines inside strings are escaped).
//!
//! Runs are merged in tiers, like an LSM tree: when [`FAN_IN`] runs of one tier have piled up
//! they become one run of the next tier. A type of 500,000 resources thus holds a few dozen
//! temp files open (not a thousand: the open-file limit is 256 on macOS), and the final merge
//! reads them through small buffers ([`MERGE_BUFFERS`] in all), so its memory does not grow with
//! the type either.

use super::ids::IdSet;
use anyhow::{Context, Result};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

/// Bytes of lines buffered before a sorted run is spilled to disk.
pub const RUN_BYTES: usize = 512 * 1024;
/// Runs of one tier merged into one run of the next.
pub const FAN_IN: usize = 32;
/// Read buffers of a merge, all runs together (each between 8 and 64 KiB).
const MERGE_BUFFERS: usize = 2 * 1024 * 1024;

pub struct Spool {
    dir: PathBuf,
    ids: IdSet,
    buf: Vec<(String, String)>,
    buf_bytes: usize,
    /// Sorted runs on disk, with their tier (0: spilled from memory).
    runs: Vec<(u32, File)>,
    run_bytes: usize,
    fan_in: usize,
}

impl Spool {
    /// A spool whose runs go to `dir` (created when the first run is spilled).
    pub fn new(dir: &Path) -> Spool {
        Spool::with_run_bytes(dir, RUN_BYTES)
    }

    pub fn with_run_bytes(dir: &Path, run_bytes: usize) -> Spool {
        Spool {
            dir: dir.to_path_buf(),
            ids: IdSet::default(),
            buf: Vec::new(),
            buf_bytes: 0,
            runs: Vec::new(),
            run_bytes: run_bytes.max(1),
            fan_in: FAN_IN,
        }
    }

    /// Merges every `fan_in` runs of a tier (at least 2; for tests).
    pub fn with_fan_in(mut self, fan_in: usize) -> Spool {
        self.fan_in = fan_in.max(2);
        self
    }

    /// A new anonymous temp file for a run.
    fn temp_file(&self) -> Result<File> {
        crate::atomic::create_private_dir(&self.dir)?;
        tempfile::tempfile_in(&self.dir)
            .with_context(|| format!("cannot create a temporary file in {}", self.dir.display()))
    }

    /// While the newest `fan_in` runs are of one tier, merges them into one of the next.
    fn compact(&mut self) -> Result<()> {
        loop {
            let n = self.runs.len();
            if n < self.fan_in {
                return Ok(());
            }
            let tier = self.runs[n - 1].0;
            if self.runs[n - self.fan_in..].iter().any(|(t, _)| *t != tier) {
                return Ok(());
            }
            let files: Vec<File> = self.runs.drain(n - self.fan_in..).map(|(_, f)| f).collect();
            let mut merged = Sorted::merging(0, files);
            let mut out = BufWriter::with_capacity(256 * 1024, self.temp_file()?);
            let write_err = || format!("cannot write a temporary file in {}", self.dir.display());
            while let Some((id, line)) = merged.next_entry()? {
                write_line(&mut out, &id, &line).with_context(write_err)?;
            }
            out.flush().with_context(write_err)?;
            let mut file = out.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            self.runs.push((tier + 1, file));
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
        if !self.ids.insert(&id) {
            return Ok(false);
        }
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
        let file = self.temp_file()?;
        let mut buf = std::mem::take(&mut self.buf);
        self.buf_bytes = 0;
        buf.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let write = |out: &mut BufWriter<File>| -> std::io::Result<()> {
            for (id, line) in &buf {
                write_line(out, id, line)?;
            }
            out.flush()
        };
        write(&mut out)
            .with_context(|| format!("cannot write a temporary file in {}", self.dir.display()))?;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        self.runs.push((0, file));
        self.compact()
    }

    /// Every kept resource, in id order.
    pub fn into_sorted(mut self) -> Result<Sorted> {
        if self.runs.is_empty() {
            self.buf.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            return Ok(Sorted {
                count: self.ids.len(),
                memory: self.buf,
                pos: 0,
                runs: Vec::new(),
                heap: BinaryHeap::new(),
                started: true,
            });
        }
        self.spill()?;
        let files = self.runs.into_iter().map(|(_, f)| f).collect();
        Ok(Sorted::merging(self.ids.len(), files))
    }
}

fn write_line(out: &mut impl Write, id: &str, line: &str) -> std::io::Result<()> {
    out.write_all(id.as_bytes())?;
    out.write_all(b"\t")?;
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")
}

/// Resources in id order, from memory or from merged runs.
pub struct Sorted {
    count: usize,
    memory: Vec<(String, String)>,
    pos: usize,
    runs: Vec<BufReader<File>>,
    /// The next line of each run: (id, line, run index).
    heap: BinaryHeap<Reverse<(String, String, usize)>>,
    started: bool,
}

impl Sorted {
    /// The merge of sorted `runs` (read through [`MERGE_BUFFERS`] bytes of buffers in all).
    fn merging(count: usize, runs: Vec<File>) -> Sorted {
        let each = (MERGE_BUFFERS / runs.len().max(1)).clamp(8 * 1024, 64 * 1024);
        Sorted {
            count,
            memory: Vec::new(),
            pos: 0,
            runs: runs
                .into_iter()
                .map(|f| BufReader::with_capacity(each, f))
                .collect(),
            heap: BinaryHeap::new(),
            started: false,
        }
    }

    /// How many resources it yields.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The ids it yields, in order (read through once, then back to the first resource).
    pub fn ids(&mut self) -> Result<Vec<String>> {
        if self.runs.is_empty() {
            return Ok(self.memory.iter().map(|(id, _)| id.clone()).collect());
        }
        self.rewind()?;
        let mut ids = Vec::with_capacity(self.count);
        while let Some((id, _)) = self.next_entry()? {
            ids.push(id);
        }
        self.rewind()?;
        Ok(ids)
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
        assert!(spilled.runs.len() < 2 * FAN_IN, "runs were merged in tiers");
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

    #[test]
    fn runs_are_merged_in_tiers_and_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::with_run_bytes(dir.path(), 100).with_fan_in(3);
        let mut expected = Vec::new();
        for i in 0..400 {
            let id = format!("r{:05}", (i * 7919) % 400);
            let line = format!(r#"{{"id":"{id}","n":{i}}}"#);
            expected.push((id.clone(), line.clone()));
            assert!(spool.insert(id, line).unwrap());
        }
        // 400 lines of about 100 bytes each: one run each, merged three at a time.
        let tiers: Vec<u32> = spool.runs.iter().map(|(t, _)| *t).collect();
        assert!(tiers.len() <= 2 * 6, "{tiers:?}");
        assert!(tiers.iter().any(|t| *t >= 3), "{tiers:?}");
        assert!(tiers.windows(2).all(|w| w[0] >= w[1]), "{tiers:?}");
        expected.sort();
        let mut sorted = spool.into_sorted().unwrap();
        let ids: Vec<String> = expected.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(sorted.ids().unwrap(), ids, "the ids, read through once");
        assert_eq!(drain(sorted), expected, "then every line from the first");
    }
}
