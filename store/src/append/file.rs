//! Writable mapped-file queue for the commitlog.
//!
//! Bytes are written with `pwrite` by the single append thread and read
//! through a read-only shared mapping; on Linux both go through the same page
//! cache, so readers see a write as soon as `pwrite` returns. Writing through
//! the kernel instead of a writable mapping means a full disk is an error
//! instead of a SIGBUS, and nobody ever holds `&mut` to mapped memory.
//! Readers only look below `wrote`, which is published after the write.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use memmap2::Mmap;

use crate::error::{Result, StoreError};
use crate::mapped_file::{list_mapped_files, offset_to_file_name};

/// `OS_PAGE_SIZE`, the unit of `flushCommitLogLeastPages`.
pub const OS_PAGE_SIZE: u64 = 4096;

/// One commitlog file of the writable queue.
pub struct WritableFile {
    path: PathBuf,
    from: u64,
    size: u64,
    file: File,
    map: Mmap,
    /// Bytes counted as written (a BLANK marker counts the whole rest of the file).
    wrote: AtomicU64,
    flushed: AtomicU64,
    /// STORETIMESTAMP of the last message appended to this file.
    store_ts: AtomicI64,
}

impl std::fmt::Debug for WritableFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WritableFile").field("path", &self.path).field("wrote", &self.wrote()).finish()
    }
}

impl WritableFile {
    /// Creates (or reuses) `path` at full size and maps it.
    fn create(path: &Path, from: u64, size: u64) -> Result<Self> {
        let io = |e| StoreError::io(path, e);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        let old_len = file.metadata().map_err(io)?.len();
        file.set_len(size).map_err(io)?;
        if old_len > 0 {
            // a leftover file at an offset beyond the valid end: its bytes are stale
            punch_zero(&file, path, 0, size)?;
        }
        preallocate(&file, size);
        Self::map(path, file, from, size, 0)
    }

    fn open_existing(path: &Path, from: u64, size: u64, wrote: u64) -> Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| StoreError::io(path, e))?;
        Self::map(path, file, from, size, wrote)
    }

    fn map(path: &Path, file: File, from: u64, size: u64, wrote: u64) -> Result<Self> {
        // SAFETY: shared read-only map of a file this process owns (lock file held); it is
        // never truncated while mapped, only hole-punched/overwritten via the kernel.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| StoreError::io(path, e))?;
        Ok(WritableFile {
            path: path.to_path_buf(),
            from,
            size,
            file,
            map,
            wrote: AtomicU64::new(wrote),
            flushed: AtomicU64::new(wrote),
            store_ts: AtomicI64::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Start offset of this file (its name).
    pub fn from(&self) -> u64 {
        self.from
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn wrote(&self) -> u64 {
        self.wrote.load(Ordering::Acquire)
    }
    pub fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }
    pub fn is_full(&self) -> bool {
        self.wrote() >= self.size
    }
    pub fn store_timestamp(&self) -> i64 {
        self.store_ts.load(Ordering::Acquire)
    }

    /// The written part of the file.
    pub fn written(&self) -> &[u8] {
        let w = (self.wrote() as usize).min(self.map.len());
        &self.map[..w]
    }

    /// Writes `data` at `pos` (not yet visible through `wrote`).
    pub(crate) fn write_at(&self, pos: u64, data: &[u8]) -> Result<()> {
        if pos + data.len() as u64 > self.size {
            return Err(StoreError::corrupt(
                &self.path,
                pos,
                format!("write of {} bytes past end of file", data.len()),
            ));
        }
        self.file.write_all_at(data, pos).map_err(|e| StoreError::io(&self.path, e))
    }

    /// Writes the concatenation of `parts` at `pos` with `pwritev` (at most
    /// IOV_MAX slices per call; short writes resumed).
    pub(crate) fn write_parts_at(&self, pos: u64, parts: &[&[u8]]) -> Result<()> {
        use std::os::unix::io::AsRawFd;
        let total: u64 = parts.iter().map(|p| p.len() as u64).sum();
        if pos + total > self.size {
            return Err(StoreError::corrupt(&self.path, pos, format!("write of {total} bytes past end of file")));
        }
        const IOV_MAX: usize = 1024;
        let (mut i, mut skip, mut at) = (0usize, 0usize, pos);
        let mut iov: Vec<libc::iovec> = Vec::with_capacity(IOV_MAX.min(parts.len()));
        while i < parts.len() {
            iov.clear();
            for (k, p) in parts[i..].iter().take(IOV_MAX).enumerate() {
                let p = if k == 0 { &p[skip..] } else { p };
                iov.push(libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() });
            }
            // SAFETY: every iovec points into a live slice of `parts` for the duration of the call.
            let n = unsafe {
                libc::pwritev(self.file.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int, at as libc::off_t)
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(StoreError::io(&self.path, e));
            }
            if n == 0 {
                return Err(StoreError::io(&self.path, std::io::Error::from(std::io::ErrorKind::WriteZero)));
            }
            at += n as u64;
            let mut n = n as usize;
            // advance past what was written
            while i < parts.len() && n > 0 {
                let left = parts[i].len() - skip;
                if n >= left {
                    n -= left;
                    i += 1;
                    skip = 0;
                } else {
                    skip += n;
                    n = 0;
                }
            }
            while i < parts.len() && parts[i].len() == skip {
                i += 1;
                skip = 0;
            }
        }
        Ok(())
    }

    /// Brings `[pos, pos+len)` into the page cache ahead of the writes that
    /// will land there (`POSIX_FADV_WILLNEED`). Past the written end a file
    /// we created is preallocated and unwritten (or a hole), so the kernel
    /// zero-fills fresh pages without reading the disk, and the later write
    /// only copies into them instead of allocating and zeroing them while
    /// puts wait. Where the blocks hold data (a file another broker filled
    /// with zeros) it is an ordinary asynchronous readahead. Advisory: errors
    /// are ignored.
    pub(crate) fn prefetch(&self, pos: u64, len: u64) {
        let len = len.min(self.size.saturating_sub(pos));
        if len == 0 {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: plain syscall on a valid fd.
            let _ = unsafe {
                libc::posix_fadvise(
                    self.file.as_raw_fd(),
                    pos as libc::off_t,
                    len as libc::off_t,
                    libc::POSIX_FADV_WILLNEED,
                )
            };
        }
    }

    /// Publishes the written position (after `write_at` returned).
    pub(crate) fn set_wrote(&self, pos: u64, store_ts: Option<i64>) {
        if let Some(ts) = store_ts {
            self.store_ts.store(ts, Ordering::Release);
        }
        self.wrote.store(pos.min(self.size), Ordering::Release);
    }

    /// Flushes when allowed by `least_pages` (0 = whenever dirty); returns the flushed position.
    fn flush(&self, least_pages: u32, delay: Option<std::time::Duration>) -> Result<u64> {
        let wrote = self.wrote();
        let flushed = self.flushed();
        let able = if wrote >= self.size {
            wrote > flushed
        } else if least_pages > 0 {
            wrote / OS_PAGE_SIZE - flushed / OS_PAGE_SIZE >= least_pages as u64
        } else {
            wrote > flushed
        };
        if able {
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            self.file.sync_data().map_err(|e| StoreError::io(&self.path, e))?;
            self.flushed.fetch_max(wrote, Ordering::AcqRel);
        }
        Ok(self.flushed())
    }

    /// Cuts the file back to `pos`, zeroing what follows so no stale record can
    /// be read (or recovered) after the new end.
    fn truncate_to(&self, pos: u64) -> Result<()> {
        let pos = pos.min(self.size);
        self.wrote.store(pos, Ordering::Release);
        self.flushed.fetch_min(pos, Ordering::AcqRel);
        punch_zero(&self.file, &self.path, pos, self.size - pos)?;
        self.file.sync_data().map_err(|e| StoreError::io(&self.path, e))
    }

    /// Last modification time in ms since the epoch (what expiry compares).
    pub fn last_modified_ms(&self) -> Result<i64> {
        let m = self.file.metadata().and_then(|m| m.modified()).map_err(|e| StoreError::io(&self.path, e))?;
        Ok(m.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0))
    }
}

/// Reserves the blocks of a new file so a later write cannot hit ENOSPC in
/// the middle of it (best effort: not every filesystem supports it).
fn preallocate(file: &File, size: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: plain syscall on a valid fd.
        let _ = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, size as libc::off_t) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, size);
}

/// Zeroes `[pos, pos+len)`: a hole punch where supported, else explicit zeros.
fn punch_zero(file: &File, path: &Path, pos: u64, len: u64) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        // SAFETY: plain syscall on a valid fd.
        if unsafe { libc::fallocate(file.as_raw_fd(), mode, pos as libc::off_t, len as libc::off_t) } == 0 {
            return Ok(());
        }
    }
    let zeros = vec![0u8; 1 << 20];
    let mut at = pos;
    while at < pos + len {
        let n = (pos + len - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at).map_err(|e| StoreError::io(path, e))?;
        at += n as u64;
    }
    Ok(())
}

/// The commitlog files, oldest first. Only the append thread adds files or
/// writes; the flusher and the cleaner take `Arc`s, so a deleted file stays
/// mapped until its last reader lets go.
pub struct WritableQueue {
    dirs: Vec<PathBuf>,
    file_size: u64,
    files: RwLock<Vec<Arc<WritableFile>>>,
    /// The pre-created next file (Java's AllocateMappedFileService).
    next: Mutex<Option<Arc<WritableFile>>>,
    flushed_where: AtomicU64,
    /// STORETIMESTAMP covered by the last complete flush (checkpoint physicMsgTimestamp).
    flushed_store_ts: AtomicI64,
}

impl std::fmt::Debug for WritableQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WritableQueue").field("dirs", &self.dirs).field("max_offset", &self.max_offset()).finish()
    }
}

impl WritableQueue {
    /// Loads the files under `dirs` (created if missing). `end` is the valid end
    /// found by recovery: files after it are deleted and the rest of its file
    /// zeroed. With `None` the end is found by scanning records (CRC checked).
    pub fn open(dirs: &[PathBuf], file_size: u64, end: Option<u64>) -> Result<Self> {
        let mut dirs: Vec<PathBuf> = dirs.to_vec();
        dirs.sort();
        dirs.dedup();
        if dirs.is_empty() {
            return Err(StoreError::layout("", "no commitlog directory configured"));
        }
        let mut listed = Vec::new();
        for d in &dirs {
            std::fs::create_dir_all(d).map_err(|e| StoreError::io(d, e))?;
            listed.extend(list_mapped_files(d)?);
        }
        listed.sort();
        // like 5.x: a zero-length last file (crash while creating it) is dropped
        if let Some((_, p)) = listed.last() {
            if std::fs::metadata(p).map(|m| m.len() == 0).unwrap_or(false) {
                std::fs::remove_file(p).map_err(|e| StoreError::io(p, e))?;
                listed.pop();
            }
        }
        for (i, (off, p)) in listed.iter().enumerate() {
            let len = std::fs::metadata(p).map_err(|e| StoreError::io(p, e))?.len();
            if len != file_size {
                return Err(StoreError::layout(
                    p,
                    format!("length {len} does not match mappedFileSizeCommitLog {file_size}"),
                ));
            }
            if off % file_size != 0 || (i > 0 && *off != listed[i - 1].0 + file_size) {
                return Err(StoreError::layout(p, "commitlog files are not contiguous"));
            }
        }
        let end = match end {
            Some(e) => e,
            None => scan_end(&dirs, file_size)?,
        };
        let mut files = Vec::new();
        for (off, p) in &listed {
            if *off > end {
                std::fs::remove_file(p).map_err(|e| StoreError::io(p, e))?;
                continue;
            }
            let wrote = (end - off).min(file_size);
            let f = WritableFile::open_existing(p, *off, file_size, wrote)?;
            if wrote < file_size
                && f.map
                    .get(wrote as usize..)
                    .is_some_and(|rest| rest.iter().take(OS_PAGE_SIZE as usize).any(|b| *b != 0))
            {
                tracing::warn!(file = %p.display(), offset = wrote, "zeroing bytes after the valid end");
                f.truncate_to(wrote)?;
            }
            files.push(Arc::new(f));
        }
        let first = files.first().map(|f| f.from).unwrap_or(0);
        if end < first {
            return Err(StoreError::OffsetNotFound { offset: end as i64 });
        }
        Ok(WritableQueue {
            dirs,
            file_size,
            files: RwLock::new(files),
            next: Mutex::new(None),
            flushed_where: AtomicU64::new(end),
            flushed_store_ts: AtomicI64::new(0),
        })
    }

    pub fn file_size(&self) -> u64 {
        self.file_size
    }
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Snapshot of the file list.
    pub fn files(&self) -> Vec<Arc<WritableFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn last(&self) -> Option<Arc<WritableFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).last().cloned()
    }

    /// Start of the first file (0 when empty).
    pub fn min_offset(&self) -> u64 {
        self.files.read().unwrap_or_else(|e| e.into_inner()).first().map(|f| f.from).unwrap_or(0)
    }

    /// End of the written data.
    pub fn max_offset(&self) -> u64 {
        match self.last() {
            Some(f) => f.from + f.wrote(),
            None => self.flushed_where.load(Ordering::Acquire),
        }
    }

    pub fn flushed_where(&self) -> u64 {
        self.flushed_where.load(Ordering::Acquire)
    }

    pub fn flushed_store_timestamp(&self) -> i64 {
        self.flushed_store_ts.load(Ordering::Acquire)
    }

    /// File containing `offset`.
    pub fn find(&self, offset: u64) -> Option<Arc<WritableFile>> {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        let i = files.partition_point(|f| f.from <= offset);
        files.get(i.checked_sub(1)?).filter(|f| offset - f.from < f.size).cloned()
    }

    /// Directory of the file starting at `offset` (multi-path: round robin by file index).
    fn dir_for(&self, offset: u64) -> &Path {
        &self.dirs[((offset / self.file_size) % self.dirs.len() as u64) as usize]
    }

    /// Makes the file starting at `offset` the last one (append thread only) and
    /// pre-creates the one after it.
    pub(crate) fn roll(&self, offset: u64) -> Result<Arc<WritableFile>> {
        let pre = self.next.lock().unwrap_or_else(|e| e.into_inner()).take();
        let f = match pre {
            Some(f) if f.from == offset => f,
            other => {
                if let Some(o) = other {
                    remove_file_logged(o.path());
                }
                Arc::new(WritableFile::create(
                    &self.dir_for(offset).join(offset_to_file_name(offset)),
                    offset,
                    self.file_size,
                )?)
            }
        };
        self.files.write().unwrap_or_else(|e| e.into_inner()).push(f.clone());
        let next = offset + self.file_size;
        match WritableFile::create(&self.dir_for(next).join(offset_to_file_name(next)), next, self.file_size) {
            Ok(n) => *self.next.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(n)),
            Err(e) => tracing::warn!(error = %e, "could not pre-create the next commitlog file"),
        }
        Ok(f)
    }

    /// Deletes the pre-created next file (clean shutdown, as Java does).
    pub(crate) fn discard_next(&self) {
        if let Some(f) = self.next.lock().unwrap_or_else(|e| e.into_inner()).take() {
            remove_file_logged(f.path());
        }
    }

    /// Flushes from the flushed position on; `least_pages` as `flushCommitLogLeastPages`.
    /// Returns whether anything new reached the disk.
    pub fn flush(&self, least_pages: u32, delay: Option<std::time::Duration>) -> Result<bool> {
        let start = self.flushed_where();
        loop {
            let fw = self.flushed_where().max(self.min_offset());
            let Some(f) = self.find(fw) else { break };
            let ts = f.store_timestamp();
            let pos = f.flush(least_pages, delay)?;
            let where_ = f.from + pos;
            self.flushed_where.fetch_max(where_, Ordering::AcqRel);
            if least_pages == 0 && ts > 0 {
                self.flushed_store_ts.fetch_max(ts, Ordering::AcqRel);
            }
            if pos < f.size {
                break;
            }
        }
        Ok(self.flushed_where() > start)
    }

    /// Cuts the log back to `offset` (recovery, or a slave dropping diverged data):
    /// later files are deleted, the rest of the file holding `offset` zeroed.
    pub(crate) fn truncate(&self, offset: u64) -> Result<()> {
        let max = self.max_offset();
        if offset > max {
            return Err(StoreError::OffsetNotFound { offset: offset as i64 });
        }
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        if files.first().is_some_and(|f| offset < f.from) {
            return Err(StoreError::OffsetNotFound { offset: offset as i64 });
        }
        while files.last().is_some_and(|f| f.from > offset) {
            let f = files.pop().expect("checked");
            remove_file_logged(f.path());
        }
        if let Some(f) = files.last() {
            if offset - f.from < f.wrote() {
                f.truncate_to(offset - f.from)?;
            }
        }
        drop(files);
        self.discard_next();
        self.flushed_where.fetch_min(offset, Ordering::AcqRel);
        Ok(())
    }

    /// Removes the first `n` files from the list and the disk (the cleaner).
    pub(crate) fn remove_front(&self, n: usize) -> Vec<Arc<WritableFile>> {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        // never the file being written
        let n = n.min(files.len().saturating_sub(1));
        let gone: Vec<_> = files.drain(..n).collect();
        drop(files);
        for f in &gone {
            remove_file_logged(f.path());
        }
        gone
    }
}

fn remove_file_logged(p: &Path) {
    match std::fs::remove_file(p) {
        Ok(()) => tracing::info!(file = %p.display(), "deleted commitlog file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(file = %p.display(), error = %e, "could not delete commitlog file"),
    }
}

/// End of valid data found by reading every record (CRC checked): what a
/// caller without recovery gets.
fn scan_end(dirs: &[PathBuf], file_size: u64) -> Result<u64> {
    let cl = crate::mapped_file::CommitLog::open(dirs, Some(file_size))?;
    let mut it = cl.iter(true);
    let mut last_blank_end = None;
    for e in it.by_ref() {
        match e {
            Ok(e) if e.message().is_none() => {
                let f = &cl.files()[e.file_index];
                last_blank_end = Some(f.file_from_offset() + f.len());
            }
            Ok(_) => last_blank_end = None,
            Err(err) => {
                tracing::warn!(error = %err, "commitlog scan stopped at a bad record");
                break;
            }
        }
    }
    // a file closed by a BLANK is complete: the next write goes to the next file
    Ok(last_blank_end.unwrap_or(it.end_offset()).max(it.end_offset()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectored_writes_span_many_parts_and_truncate_zeroes() {
        let d = tempfile::tempdir().unwrap();
        let q = WritableQueue::open(&[d.path().to_path_buf()], 1 << 16, Some(0)).unwrap();
        let f = q.roll(0).unwrap();
        // more parts than IOV_MAX, of varying sizes (some empty)
        let parts: Vec<Vec<u8>> = (0..3000u32).map(|i| vec![(i % 251) as u8; (i % 7) as usize]).collect();
        let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        let total: usize = parts.iter().map(Vec::len).sum();
        f.write_parts_at(10, &refs).unwrap();
        f.set_wrote(10 + total as u64, Some(5));
        assert_eq!(&f.written()[10..], &parts.concat()[..]);
        assert!(f.write_parts_at((1 << 16) - 2, &[b"abc"]).is_err(), "past the end");
        f.truncate_to(12).unwrap();
        assert_eq!(f.wrote(), 12);
        assert!(f.map[12..].iter().all(|b| *b == 0));
        assert_eq!(q.max_offset(), 12);
        assert!(q.next.lock().unwrap().is_some(), "next file pre-created");
        q.discard_next();
        assert!(!d.path().join(offset_to_file_name(1 << 16)).exists());
    }

    #[test]
    fn prefetch_changes_nothing_and_stops_at_the_file_end() {
        let d = tempfile::tempdir().unwrap();
        let q = WritableQueue::open(&[d.path().to_path_buf()], 1 << 16, Some(0)).unwrap();
        let f = q.roll(0).unwrap();
        f.write_at(0, b"abc").unwrap();
        f.set_wrote(3, None);
        f.prefetch(0, 1 << 20);
        f.prefetch(1 << 16, 4096);
        f.prefetch(u64::MAX - 10, 4096);
        assert_eq!(f.wrote(), 3);
        assert_eq!(&f.map[..3], b"abc");
        assert!(f.map[3..].iter().all(|b| *b == 0));
        assert_eq!(std::fs::metadata(f.path()).unwrap().len(), 1 << 16);
    }
}
