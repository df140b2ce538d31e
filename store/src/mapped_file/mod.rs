//! Mapped-file directories: files named by their start offset in a logical
//! byte space (20 decimal digits), pre-allocated at a fixed size.
//!
//! Reading uses read-only memory maps. Everything is blocking; the broker
//! should call it from `spawn_blocking`. Note that, as with any mmap, a file
//! truncated by another process while mapped can fault the reader: open the
//! store only when no broker is writing it, or copy it first.

pub mod commitlog;

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Result, StoreError};

pub use commitlog::{CommitLog, CommitLogEntry, EntryKind, RecordIter, StopReason};

/// Length of a mapped-file name.
pub const FILE_NAME_LEN: usize = 20;

/// `UtilAll.offset2FileName`: zero-padded 20-digit decimal.
pub fn offset_to_file_name(offset: u64) -> String {
    format!("{offset:020}")
}

/// Parses a mapped-file name (exactly 20 ASCII digits).
pub fn parse_file_name(name: &str) -> Option<u64> {
    if name.len() == FILE_NAME_LEN && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

/// One read-only mapped file.
pub struct MappedFile {
    path: PathBuf,
    file_from_offset: u64,
    len: u64,
    map: Option<Mmap>,
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedFile")
            .field("path", &self.path)
            .field("file_from_offset", &self.file_from_offset)
            .field("len", &self.len)
            .finish()
    }
}

impl MappedFile {
    /// Opens and maps `path`; its start offset comes from the file name
    /// (or `file_from_offset` when the name is not a 20-digit offset).
    pub fn open(path: &Path, file_from_offset: u64) -> Result<Self> {
        let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        let map = if len == 0 {
            None
        } else {
            // SAFETY: read-only map; callers must not truncate the file while it is mapped
            // (documented at module level).
            Some(unsafe { Mmap::map(&file) }.map_err(|e| StoreError::io(path, e))?)
        };
        Ok(MappedFile { path: path.to_path_buf(), file_from_offset, len, map })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Start offset of this file in the logical space.
    pub fn file_from_offset(&self) -> u64 {
        self.file_from_offset
    }

    /// Actual length on disk.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole file contents.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Bytes from `pos` (inside the file) to the end of the file.
    pub fn slice_from(&self, pos: u64) -> &[u8] {
        let b = self.bytes();
        if pos >= b.len() as u64 {
            &[]
        } else {
            &b[pos as usize..]
        }
    }

    /// Whether the logical `offset` falls inside this file.
    pub fn contains(&self, offset: u64) -> bool {
        offset >= self.file_from_offset && offset - self.file_from_offset < self.len
    }
}

/// A problem with the directory layout that does not prevent reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutIssue {
    pub path: PathBuf,
    pub offset: u64,
    pub message: String,
}

/// The files of one mapped-file queue (possibly spread over several
/// directories, like a multi-path commitlog), sorted by start offset.
#[derive(Debug)]
pub struct MappedFileQueue {
    dirs: Vec<PathBuf>,
    file_size: u64,
    files: Vec<MappedFile>,
    issues: Vec<LayoutIssue>,
}

/// Lists `(offset, path)` of 20-digit files in `dir` (missing dir = empty).
pub fn list_mapped_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| StoreError::io(dir, e))?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(off) = parse_file_name(name) else { continue };
        let ft = ent.file_type().map_err(|e| StoreError::io(ent.path(), e))?;
        if ft.is_file() || ft.is_symlink() {
            out.push((off, ent.path()));
        }
    }
    out.sort();
    Ok(out)
}

impl MappedFileQueue {
    /// Opens every 20-digit file under `dirs`. `file_size` is the configured
    /// size; when `None` it is inferred (distance between the first two file
    /// names, else the length of the only file). Size and naming problems are
    /// recorded as [`LayoutIssue`]s instead of failing.
    pub fn open(dirs: &[PathBuf], file_size: Option<u64>) -> Result<Self> {
        let mut listed = Vec::new();
        for d in dirs {
            listed.extend(list_mapped_files(d)?);
        }
        listed.sort();
        let mut issues = Vec::new();
        for w in listed.windows(2) {
            if w[0].0 == w[1].0 {
                issues.push(LayoutIssue {
                    path: w[1].1.clone(),
                    offset: 0,
                    message: format!("duplicate mapped file for offset {} (also {})", w[0].0, w[0].1.display()),
                });
            }
        }
        listed.dedup_by_key(|(o, _)| *o);
        let mut files = Vec::with_capacity(listed.len());
        for (off, p) in &listed {
            files.push(MappedFile::open(p, *off)?);
        }
        let inferred = match files.len() {
            0 => 0,
            1 => files[0].len(),
            _ => files[1].file_from_offset() - files[0].file_from_offset(),
        };
        let file_size = file_size.unwrap_or(inferred);
        for (i, f) in files.iter().enumerate() {
            if f.len() != file_size {
                issues.push(LayoutIssue {
                    path: f.path().to_path_buf(),
                    offset: f.len().min(file_size),
                    message: format!("file length {} does not match mapped file size {}", f.len(), file_size),
                });
            }
            if i > 0 {
                let prev = &files[i - 1];
                if f.file_from_offset() != prev.file_from_offset() + file_size {
                    issues.push(LayoutIssue {
                        path: f.path().to_path_buf(),
                        offset: 0,
                        message: format!(
                            "file starts at {} but previous file {} starts at {} (expected {})",
                            f.file_from_offset(),
                            prev.file_name(),
                            prev.file_from_offset(),
                            prev.file_from_offset() + file_size
                        ),
                    });
                }
            }
        }
        Ok(MappedFileQueue { dirs: dirs.to_vec(), file_size, files, issues })
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Configured or inferred size of each file.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    pub fn files(&self) -> &[MappedFile] {
        &self.files
    }

    pub fn issues(&self) -> &[LayoutIssue] {
        &self.issues
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Start offset of the first file (0 when empty).
    pub fn min_offset(&self) -> u64 {
        self.files.first().map(|f| f.file_from_offset()).unwrap_or(0)
    }

    /// Index of the file containing `offset`.
    pub fn find_index(&self, offset: u64) -> Option<usize> {
        let i = self.files.partition_point(|f| f.file_from_offset() <= offset);
        if i == 0 {
            return None;
        }
        let f = &self.files[i - 1];
        if f.contains(offset) {
            Some(i - 1)
        } else {
            None
        }
    }

    /// File containing `offset`.
    pub fn find(&self, offset: u64) -> Option<&MappedFile> {
        self.find_index(offset).map(|i| &self.files[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(offset_to_file_name(1073741824), "00000000001073741824");
        assert_eq!(parse_file_name("00000000001073741824"), Some(1073741824));
        assert_eq!(parse_file_name("0000000000107374182"), None);
        assert_eq!(parse_file_name("0000000000107374182x"), None);
        assert_eq!(parse_file_name("+0000000000107374182"), None);
    }

    #[test]
    fn queue_infers_size_and_reports_issues() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(offset_to_file_name(0)), vec![0u8; 100]).unwrap();
        std::fs::write(d.path().join(offset_to_file_name(100)), vec![0u8; 100]).unwrap();
        std::fs::write(d.path().join(offset_to_file_name(200)), vec![0u8; 50]).unwrap();
        std::fs::write(d.path().join("junk"), b"x").unwrap();
        let q = MappedFileQueue::open(&[d.path().to_path_buf()], None).unwrap();
        assert_eq!(q.file_size(), 100);
        assert_eq!(q.files().len(), 3);
        assert_eq!(q.issues().len(), 1);
        assert_eq!(q.find_index(150), Some(1));
        assert_eq!(q.find_index(260), None);
        assert_eq!(q.find_index(249), Some(2));
    }
}
