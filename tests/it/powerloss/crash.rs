//! The crash-state builder: what a power cut could leave of an export folder, from the folder
//! before a run and the journal of the run's file operations (`FHIRDL_FS_JOURNAL`, see
//! `fhirdl::atomic::journal`).
//!
//! The file system model follows ALICE ("All File Systems Are Not Created Equal", OSDI '14),
//! with ext4 `data=ordered` loosened to what POSIX promises:
//! - a file's data is durable once the file was fsynced; data written after its last fsync may
//!   be lost ([`Data::Dropped`]) or torn, a prefix of it kept ([`Data::Torn`]);
//! - a name (a creation, rename or removal, a new folder) is durable once its folder was
//!   fsynced; names not made durable may all be undone ([`Names::Undone`]) or, since POSIX
//!   does not order them, any one of them alone ([`Names::UndoneOne`]);
//! - the file's data goes with its inode: a rename that survives carries whatever of its data
//!   survived; a file whose folder's creation is undone is gone.
//!
//! Files present before the run are durable. A crash point `k` is the moment after the first
//! `k` operations of the journal.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// One operation of the journal, paths relative to the export folder.
#[derive(Debug, Clone)]
pub enum Op {
    Mkdir(String),
    Create(String),
    Write {
        path: String,
        offset: u64,
        data: Vec<u8>,
    },
    Truncate {
        path: String,
        len: u64,
    },
    Fsync(String),
    Rename {
        from: String,
        to: String,
    },
    FsyncDir(String),
    Remove(String),
}

impl Op {
    /// The name this operation creates, replaces or removes, and its folder.
    pub fn name(&self) -> Option<&str> {
        match self {
            Op::Mkdir(p) | Op::Create(p) | Op::Remove(p) => Some(p),
            Op::Rename { to, .. } => Some(to),
            _ => None,
        }
    }
}

/// Reads a journal; panics on a line it cannot read (the journal is the test's own).
pub fn read_journal(path: &Path) -> Vec<Op> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a journal line");
            let s = |k: &str| v[k].as_str().expect("a journal path").to_string();
            match v["op"].as_str().expect("an op") {
                "mkdir" => Op::Mkdir(s("path")),
                "create" => Op::Create(s("path")),
                "write" => Op::Write {
                    path: s("path"),
                    offset: v["offset"].as_u64().expect("an offset"),
                    data: base64::engine::general_purpose::STANDARD
                        .decode(s("data"))
                        .expect("base64 data"),
                },
                "truncate" => Op::Truncate {
                    path: s("path"),
                    len: v["len"].as_u64().expect("a length"),
                },
                "fsync" => Op::Fsync(s("path")),
                "rename" => Op::Rename {
                    from: s("from"),
                    to: s("to"),
                },
                "fsync_dir" => Op::FsyncDir(s("path")),
                "remove" => Op::Remove(s("path")),
                other => panic!("unknown journal op {other}"),
            }
        })
        .collect()
}

/// The folder of a relative path (`""` for the export folder itself).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// A folder's files (with their bytes) and sub-folders, by relative path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    pub files: BTreeMap<String, Vec<u8>>,
    pub dirs: BTreeSet<String>,
}

impl Tree {
    /// Reads `dir` (which must exist).
    pub fn read(dir: &Path) -> Tree {
        let mut tree = Tree::default();
        tree.read_into(dir, "");
        tree
    }

    fn read_into(&mut self, dir: &Path, rel: &str) {
        for e in std::fs::read_dir(dir).expect("a readable folder").flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().expect("a file type").is_dir() {
                self.dirs.insert(rel.clone());
                self.read_into(&e.path(), &rel);
            } else {
                let bytes = std::fs::read(e.path()).expect("a readable file");
                self.files.insert(rel, bytes);
            }
        }
    }

    /// Writes the tree into `dir` (created).
    pub fn write(&self, dir: &Path) {
        std::fs::create_dir_all(dir).expect("a folder for a crash state");
        for d in &self.dirs {
            std::fs::create_dir_all(dir.join(d)).expect("a folder of a crash state");
        }
        for (rel, bytes) in &self.files {
            std::fs::write(dir.join(rel), bytes).expect("a file of a crash state");
        }
    }

    /// A digest of names and bytes, to skip states seen already.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for d in &self.dirs {
            h.update(b"d\0");
            h.update(d.as_bytes());
            h.update(b"\0");
        }
        for (rel, bytes) in &self.files {
            h.update(b"f\0");
            h.update(rel.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        }
        h.finalize().into()
    }
}

/// What becomes of file data written after the file's last fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// All of it reached the disk.
    Kept,
    /// None of it did.
    Dropped,
    /// The first half of it (by bytes, in the order written) did.
    Torn,
}

/// What becomes of names not made durable by an fsync of their folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// All of them reached the disk.
    Kept,
    /// None of them did.
    Undone,
    /// All but the one made by this operation (an index into the journal) did.
    UndoneOne(usize),
}

type Ino = usize;

/// A journal resolved to inodes: which file each operation wrote, renamed or removed.
#[derive(Debug, Clone)]
enum Step {
    Mkdir(String),
    Link {
        path: String,
        ino: Ino,
    },
    Content {
        ino: Ino,
        op: Content,
    },
    Fsync(Ino),
    Rename {
        from: String,
        to: String,
        ino: Ino,
    },
    FsyncDir,
    Remove(String),
    /// An operation on a name that does not exist (the journal is then wrong).
    Unknown,
}

#[derive(Debug, Clone)]
enum Content {
    Write { offset: u64, data: Vec<u8> },
    Truncate(u64),
}

impl Content {
    fn apply(&self, bytes: &mut Vec<u8>, budget: &mut u64) {
        match self {
            Content::Write { offset, data } => {
                let take = (data.len() as u64).min(*budget) as usize;
                *budget -= take as u64;
                let end = *offset as usize + take;
                if bytes.len() < end {
                    bytes.resize(end, 0);
                }
                bytes[*offset as usize..end].copy_from_slice(&data[..take]);
            }
            Content::Truncate(len) => bytes.truncate(*len as usize),
        }
    }

    fn len(&self) -> u64 {
        match self {
            Content::Write { data, .. } => data.len() as u64,
            Content::Truncate(_) => 0,
        }
    }
}

/// One recorded run: the folder before it and its journal, resolved.
pub struct Run {
    before: Tree,
    pub ops: Vec<Op>,
    steps: Vec<Step>,
    /// The files of `before`, by path, and the contents inodes start with.
    start: BTreeMap<String, Ino>,
    initial: Vec<Vec<u8>>,
    /// For each operation making a name: the index of the fsync of its folder that makes it
    /// durable (`usize::MAX`: none).
    durable_at: Vec<usize>,
    /// Per inode: its content operations and fsyncs, by index.
    content: HashMap<Ino, Vec<usize>>,
    fsyncs: HashMap<Ino, Vec<usize>>,
}

/// A crash state: the tree, and which inode each file is (for telling versions apart).
pub struct CrashState {
    pub tree: Tree,
    pub inodes: BTreeMap<String, usize>,
}

impl Run {
    pub fn new(before: Tree, ops: Vec<Op>) -> Run {
        let mut names: HashMap<String, Ino> = HashMap::new();
        let mut initial = Vec::new();
        let mut start = BTreeMap::new();
        for (rel, bytes) in &before.files {
            names.insert(rel.clone(), initial.len());
            start.insert(rel.clone(), initial.len());
            initial.push(bytes.clone());
        }
        let mut steps = Vec::new();
        for op in &ops {
            let step = match op {
                Op::Mkdir(p) => Step::Mkdir(p.clone()),
                Op::Create(p) => {
                    let ino = initial.len();
                    initial.push(Vec::new());
                    names.insert(p.clone(), ino);
                    Step::Link {
                        path: p.clone(),
                        ino,
                    }
                }
                Op::Write { path, offset, data } => match names.get(path) {
                    Some(&ino) => Step::Content {
                        ino,
                        op: Content::Write {
                            offset: *offset,
                            data: data.clone(),
                        },
                    },
                    None => Step::Unknown,
                },
                Op::Truncate { path, len } => match names.get(path) {
                    Some(&ino) => Step::Content {
                        ino,
                        op: Content::Truncate(*len),
                    },
                    None => Step::Unknown,
                },
                Op::Fsync(p) => names.get(p).map_or(Step::Unknown, |&ino| Step::Fsync(ino)),
                Op::Rename { from, to } => match names.remove(from) {
                    Some(ino) => {
                        names.insert(to.clone(), ino);
                        Step::Rename {
                            from: from.clone(),
                            to: to.clone(),
                            ino,
                        }
                    }
                    None => Step::Unknown,
                },
                Op::FsyncDir(_) => Step::FsyncDir,
                Op::Remove(p) => {
                    names.remove(p);
                    Step::Remove(p.clone())
                }
            };
            steps.push(step);
        }
        let mut durable_at = vec![usize::MAX; ops.len()];
        let mut pending: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            if let Some(name) = op.name() {
                pending.entry(parent(name)).or_default().push(i);
            }
            if let Op::FsyncDir(dir) = op {
                for j in pending.remove(dir.as_str()).unwrap_or_default() {
                    durable_at[j] = i;
                }
            }
        }
        let (mut content, mut fsyncs): (HashMap<Ino, Vec<usize>>, HashMap<Ino, Vec<usize>>) =
            Default::default();
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Content { ino, .. } => content.entry(*ino).or_default().push(i),
                Step::Fsync(ino) => fsyncs.entry(*ino).or_default().push(i),
                _ => {}
            }
        }
        Run {
            before,
            ops,
            steps,
            start,
            initial,
            durable_at,
            content,
            fsyncs,
        }
    }

    /// Operations the journal names a file of that did not exist: the recording missed one.
    pub fn unknown_steps(&self) -> Vec<&Op> {
        self.steps
            .iter()
            .zip(&self.ops)
            .filter(|(s, _)| matches!(s, Step::Unknown))
            .map(|(_, op)| op)
            .collect()
    }

    /// The index of the fsync of its folder that made the name operation `j` made durable.
    pub fn durable_at(&self, j: usize) -> Option<usize> {
        Some(self.durable_at[j]).filter(|&i| i != usize::MAX)
    }

    /// The names made before crash point `k` that no fsync of their folder made durable.
    pub fn pending_names(&self, k: usize) -> Vec<usize> {
        (0..k)
            .filter(|&j| self.ops[j].name().is_some() && self.durable_at[j] >= k)
            .collect()
    }

    /// An inode's bytes at crash point `k`.
    fn bytes(&self, ino: Ino, k: usize, data: Data) -> Vec<u8> {
        let mut bytes = self.initial[ino].clone();
        let ops = self.content.get(&ino).map_or(&[][..], Vec::as_slice);
        let synced = self
            .fsyncs
            .get(&ino)
            .and_then(|f| f.iter().rev().find(|&&i| i < k).copied());
        let mut unlimited = u64::MAX;
        let mut pending = Vec::new();
        for &i in ops.iter().filter(|&&i| i < k) {
            let Step::Content { op, .. } = &self.steps[i] else {
                continue;
            };
            if synced.is_some_and(|s| i < s) {
                op.apply(&mut bytes, &mut unlimited);
            } else {
                pending.push(op);
            }
        }
        let mut budget = match data {
            Data::Kept => u64::MAX,
            Data::Dropped => 0,
            Data::Torn => pending.iter().map(|op| op.len()).sum::<u64>() / 2,
        };
        for op in pending {
            if budget == 0 && matches!(data, Data::Dropped | Data::Torn) {
                break;
            }
            op.apply(&mut bytes, &mut budget);
        }
        bytes
    }

    /// The names after a power cut at crash point `k`: file → inode, and the folders.
    fn layout(&self, k: usize, names: Names) -> (BTreeMap<String, Ino>, BTreeSet<String>) {
        let mut entries: BTreeMap<String, Ino> = self.start.clone();
        let mut dirs = self.before.dirs.clone();
        for j in 0..k {
            let durable = self.durable_at[j] < k;
            let keep = durable
                || match names {
                    Names::Kept => true,
                    Names::Undone => false,
                    Names::UndoneOne(one) => one != j,
                };
            match &self.steps[j] {
                _ if !keep => {}
                Step::Mkdir(p) => {
                    dirs.insert(p.clone());
                }
                Step::Link { path, ino } => {
                    entries.insert(path.clone(), *ino);
                }
                Step::Rename { from, to, ino } => {
                    if entries.get(from) == Some(ino) {
                        entries.remove(from);
                    }
                    entries.insert(to.clone(), *ino);
                }
                Step::Remove(p) => {
                    entries.remove(p);
                }
                _ => {}
            }
        }
        // A folder whose creation was undone takes what is in it along.
        let reachable = |p: &str| {
            let mut dir = parent(p);
            while !dir.is_empty() {
                if !dirs.contains(dir) {
                    return false;
                }
                dir = parent(dir);
            }
            true
        };
        entries.retain(|p, _| reachable(p));
        let dirs = dirs.iter().filter(|d| reachable(d)).cloned().collect();
        (entries, dirs)
    }

    /// The folder after a power cut at crash point `k`.
    pub fn crash(&self, k: usize, data: Data, names: Names) -> CrashState {
        let (inodes, dirs) = self.layout(k, names);
        let files = inodes
            .iter()
            .map(|(p, &ino)| (p.clone(), self.bytes(ino, k, data)))
            .collect();
        CrashState {
            tree: Tree { files, dirs },
            inodes,
        }
    }

    /// Every version of `path` a completed write made before crash point `k` (the version
    /// before the run included), by inode.
    pub fn versions(&self, path: &str, k: usize) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        if let Some(&ino) = self.start.get(path) {
            out.push((ino, self.initial[ino].clone()));
        }
        for (j, step) in self.steps.iter().enumerate().take(k) {
            if let Step::Rename { to, ino, .. } = step {
                if to == path {
                    out.push((*ino, self.bytes(*ino, j, Data::Kept)));
                }
            }
        }
        out
    }

    /// The inode at `path` right after operation `j`, had nothing been lost.
    pub fn inode_after(&self, path: &str, j: usize) -> Option<usize> {
        self.layout(j + 1, Names::Kept).0.get(path).copied()
    }

    /// The operation that renamed an inode into place (`None`: it was there before the run).
    pub fn renamed_in_at(&self, ino: usize) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| matches!(s, Step::Rename { ino: i, .. } if *i == ino))
    }
}
