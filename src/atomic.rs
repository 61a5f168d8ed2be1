//! Safe file writing: owner-only folders and files, and atomic replacement
//! (temp file in the same folder, fsync, rename, fsync of the folder).
//!
//! Every file fhirdl writes that holds health data, tokens or settings goes through here, so a
//! crash leaves either the old or the new complete file, never a torn one. The one file that
//! is appended to in place (a type's history) is written through [`open_appendable`],
//! [`cut`] and [`sync_appended`].
//!
//! Test hook: with `FHIRDL_FS_JOURNAL=<file>`, every operation made here in a sync's export
//! folder is recorded ([`journal`]; off by default).

pub mod journal;

use anyhow::{Context, Result};
use journal::{logged, Op};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Creates `dir` and its missing parents; the folders created are 0700 on Unix.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    // The folders missing, outermost first (what the journal records).
    let mut missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    for made in &missing {
        journal::record(|| Op::Mkdir(made.clone()));
    }
    // A new folder's name is durable only once its parent is fsynced: until then a power cut
    // may take the folder away, with every file later made durable in it (the history).
    for made in &missing {
        sync_dir(parent_of(made));
    }
    Ok(())
}

/// The folder of `path` (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
}

/// Prefix of the temporary files [`write_atomic`] creates.
pub const TEMP_PREFIX: &str = ".fhirdl-tmp-";

/// Removes temporary files that a killed run left under `dir` (recursively); returns how many.
/// Call it only while holding the folder's lock.
pub fn remove_stale_temp_files(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            removed += remove_stale_temp_files(&path)?;
        } else if kind.is_file() && entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            logged(|| fs::remove_file(&path), |()| Op::Remove(path.clone()))
                .with_context(|| format!("cannot remove {}", path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Atomically replaces `path` with `bytes`: the file is 0600 on Unix, written to a temp file in
/// the same folder, fsynced, renamed over the old one, and the folder is fsynced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::unbuffered(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// [`write_atomic`] for one of many files of a folder: the file's bytes are fsynced before the
/// rename, but the folder's fsync (which makes the rename itself durable) is the caller's, once
/// for the batch ([`sync_dir`]); until then a crash may lose the new name, never the bytes of an
/// older file or a half-written one.
pub fn write_atomic_in_batch(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::unbuffered(path)?;
    file.write_all(bytes)?;
    file.finish(false)
}

/// A file written piece by piece and then atomically put in place, like [`write_atomic`]:
/// buffered writes to a 0600 temp file in the target's folder; [`AtomicFile::commit`] fsyncs and
/// renames. Dropped without a commit, the temp file is removed and the target is untouched.
pub struct AtomicFile {
    path: std::path::PathBuf,
    dir: std::path::PathBuf,
    out: std::io::BufWriter<tempfile::NamedTempFile>,
    /// With [`AtomicFile::with_digest`]: sha256, lines and bytes of everything written so
    /// far (for manifests).
    hasher: Option<sha2::Sha256>,
    lines: usize,
    bytes: u64,
}

/// The write buffer of a file written piece by piece.
const BUFFER: usize = 256 * 1024;

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        AtomicFile::with_buffer(path, BUFFER)
    }

    /// For bytes written in one piece: no buffer (it would only copy them; and a buffer of
    /// 256 KiB is an `mmap` and `munmap` per file with glibc's threshold that fhirdl sets).
    fn unbuffered(path: &Path) -> Result<AtomicFile> {
        AtomicFile::with_buffer(path, 0)
    }

    fn with_buffer(path: &Path, capacity: usize) -> Result<AtomicFile> {
        let dir = parent_of(path).to_path_buf();
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX);
        // The folder is made only when it is missing: most files go to one that exists, and a
        // `mkdir` (plus a `stat`) per file was a tenth of the syscalls of an export.
        let create = || {
            logged(
                || builder.tempfile_in(&dir),
                |t| Op::Create(t.path().into()),
            )
        };
        let tmp = match create() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_private_dir(&dir)?;
                create()
            }
            made => made,
        }
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        // tempfile creates it 0600 on Unix (an umask can only take bits away).
        Ok(AtomicFile {
            path: path.to_path_buf(),
            dir,
            out: std::io::BufWriter::with_capacity(capacity, tmp),
            hasher: None,
            lines: 0,
            bytes: 0,
        })
    }

    /// Also keeps the digest of what is written ([`AtomicFile::digest`]).
    pub fn with_digest(mut self) -> AtomicFile {
        self.hasher = Some(sha2::Digest::new());
        self
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(hasher) = self.hasher.as_mut() {
            sha2::Digest::update(hasher, bytes);
            self.lines += bytes.iter().filter(|b| **b == b'\n').count();
        }
        self.bytes += bytes.len() as u64;
        self.out
            .write_all(bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Lines, bytes and lower-case hex sha256 of what was written so far (`None` without
    /// [`AtomicFile::with_digest`]).
    pub fn digest(&self) -> Option<(usize, u64, String)> {
        let hash = sha2::Digest::finalize(self.hasher.clone()?);
        let hex = hash.iter().map(|b| format!("{b:02x}")).collect();
        Some((self.lines, self.bytes, hex))
    }

    /// Copies the first `len` bytes of `from` (the file being replaced, typically).
    pub fn copy_prefix(&mut self, from: &Path, len: u64) -> Result<()> {
        use std::io::Read;
        let file =
            fs::File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
        let mut source = file.take(len);
        let mut buf = vec![0u8; 256 * 1024];
        let mut copied = 0u64;
        loop {
            let n = source
                .read(&mut buf)
                .with_context(|| format!("cannot read {}", from.display()))?;
            if n == 0 {
                break;
            }
            self.write_all(&buf[..n])?;
            copied += n as u64;
        }
        anyhow::ensure!(
            copied == len,
            "{} changed while it was being rewritten",
            from.display()
        );
        Ok(())
    }

    /// Flushes, fsyncs and renames over the target, and fsyncs the folder.
    pub fn commit(self) -> Result<()> {
        self.finish(true)
    }

    fn finish(self, sync_folder: bool) -> Result<()> {
        let path = self.path;
        let tmp = self
            .out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", path.display()))?;
        let from = journal::on().then(|| tmp.path().to_path_buf());
        if let Some(from) = &from {
            // Written through the buffer: the journal gets the whole file, once.
            let data = fs::read(from).unwrap_or_default();
            journal::record(|| Op::Write {
                path: from.clone(),
                offset: 0,
                data,
            });
        }
        logged(
            || tmp.as_file().sync_all(),
            |()| Op::Fsync(from.clone().unwrap_or_default()),
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        logged(
            || tmp.persist(&path).map_err(|e| e.error),
            |_| Op::Rename {
                from: from.unwrap_or_default(),
                to: path.clone(),
            },
        )
        .with_context(|| format!("cannot replace {}", path.display()))?;
        if sync_folder {
            sync_dir(&self.dir);
        }
        Ok(())
    }
}

/// Makes a rename durable. Best effort: not every platform or file system can open a folder.
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    let _ = logged(
        || fs::File::open(dir)?.sync_all(),
        |()| Op::FsyncDir(dir.to_path_buf()),
    );
    #[cfg(not(unix))]
    let _ = dir;
}

/// Removes a file if it exists.
pub fn remove_if_exists(path: &Path) -> Result<bool> {
    match logged(
        || fs::remove_file(path),
        |()| Op::Remove(path.to_path_buf()),
    ) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Opens a file that is only ever appended to (a type's history), reading and writing; it is
/// created 0600 when missing.
pub fn open_appendable(path: &Path) -> Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => logged(
            || options.create_new(true).open(path),
            |_| Op::Create(path.to_path_buf()),
        ),
        opened => opened,
    }
    .with_context(|| format!("cannot open {}", path.display()))
}

/// Cuts a file opened with [`open_appendable`] back to `len` bytes (a line a crash tore).
pub fn cut(file: &fs::File, path: &Path, len: u64) -> Result<()> {
    logged(
        || file.set_len(len),
        |()| Op::Truncate {
            path: path.to_path_buf(),
            len,
        },
    )
    .with_context(|| format!("cannot repair {}", path.display()))
}

/// Makes what was appended to `file` (opened with [`open_appendable`]) from byte `from` on
/// durable: fsync. (Its name, when [`open_appendable`] created it, is made durable by the
/// caller's fsync of its folder.)
pub fn sync_appended(file: &fs::File, path: &Path, from: u64) -> Result<()> {
    if journal::on() {
        use std::io::{Read, Seek, SeekFrom};
        let mut data = Vec::new();
        let mut reader = file;
        let read = reader
            .seek(SeekFrom::Start(from))
            .and_then(|_| reader.read_to_end(&mut data));
        if read.is_ok() {
            journal::record(|| Op::Write {
                path: path.to_path_buf(),
                offset: from,
                data,
            });
        }
    }
    logged(|| file.sync_all(), |()| Op::Fsync(path.to_path_buf()))
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_a_batch_is_whole_owner_only_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.pdf");
        write_atomic_in_batch(&path, b"%PDF-1.4").unwrap();
        write_atomic_in_batch(&path, b"%PDF-1.7 again").unwrap();
        sync_dir(dir.path());
        assert_eq!(std::fs::read(&path).unwrap(), b"%PDF-1.7 again");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_file_commits_or_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.ndjson");
        write_atomic(&path, b"old line\n").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.copy_prefix(&path, 4).unwrap();
        f.write_all(b" new\n").unwrap();
        drop(f);
        assert_eq!(fs::read(&path).unwrap(), b"old line\n", "not committed");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut f = AtomicFile::create(&path).unwrap();
        assert!(f.copy_prefix(&path, 1000).is_err(), "short source");
        drop(f);
        let mut f = AtomicFile::create(&path).unwrap().with_digest();
        f.copy_prefix(&path, 3).unwrap();
        f.write_all(b" new\n").unwrap();
        let (lines, bytes, sha) = f.digest().unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"old new\n");
        assert_eq!((lines, bytes), (1, 8));
        assert_eq!(sha.len(), 64);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_write_replaces_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file may remain");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dmode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dmode, 0o700);
        }
        assert!(remove_if_exists(&path).unwrap());
        assert!(!remove_if_exists(&path).unwrap());
    }
}
