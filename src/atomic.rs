//! Safe file writing: owner-only folders and files, and atomic replacement
//! (temp file in the same folder, fsync, rename, fsync of the folder).
//!
//! Every file fhirdl writes that holds health data, tokens or settings goes through here, so a
//! crash leaves either the old or the new complete file, never a torn one.

use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::path::Path;

/// Creates `dir` and its missing parents; the folders created are 0700 on Unix.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))
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
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
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
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."))
            .to_path_buf();
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX);
        // The folder is made only when it is missing: most files go to one that exists, and a
        // `mkdir` (plus a `stat`) per file was a tenth of the syscalls of an export.
        let tmp = match builder.tempfile_in(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_private_dir(&dir)?;
                builder.tempfile_in(&dir)
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
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        tmp.persist(&path)
            .map_err(|e| e.error)
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
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Removes a file if it exists.
pub fn remove_if_exists(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
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
