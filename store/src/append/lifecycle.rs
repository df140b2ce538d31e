//! Files that describe the store's running state: `lock` (fcntl lock held
//! while open), `abort` (present while running; its presence at start means
//! abnormal recovery) and `checkpoint` (kept current while running).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use memmap2::MmapMut;

use crate::checkpoint::{Checkpoint, CHECKPOINT_FILE_SIZE};
use crate::dispatch::JavaVersion;
use crate::error::{Result, StoreError};

/// Roots locked by this process: fcntl locks do not conflict inside one
/// process, and Java refuses a second open in the same JVM as well.
fn locked_roots() -> &'static Mutex<HashSet<PathBuf>> {
    static S: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The `lock` file of a running store: an exclusive lock on byte 0 (Java
/// `tryLock(0, 1, false)`) plus what [`crate::lock::StoreLock`] (the tools'
/// lock) does not do: Java's "lock" content, written through the locking
/// descriptor (closing any other descriptor of the file would drop the POSIX
/// lock), and refusing a second open inside this process.
#[derive(Debug)]
struct RunningLock {
    _file: File,
    key: PathBuf,
}

impl RunningLock {
    fn acquire(root: &Path) -> Result<Self> {
        let path = root.join("lock");
        let key = std::fs::canonicalize(root).map_err(|e| StoreError::io(root, e))?;
        if !locked_roots().lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone()) {
            return Err(StoreError::layout(&path, "store already opened by this process"));
        }
        let release = |e: StoreError| {
            locked_roots().lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
            e
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| release(StoreError::io(&path, e)))?;
        if let Err(e) = lock_byte0(&file) {
            return Err(release(StoreError::layout(&path, format!("store is locked by another process ({e})"))));
        }
        // content as Java writes it
        let wrote = file.write_all(b"lock").and_then(|_| file.sync_all());
        if let Err(e) = wrote {
            return Err(release(StoreError::io(&path, e)));
        }
        Ok(RunningLock { _file: file, key })
    }
}

impl Drop for RunningLock {
    fn drop(&mut self) {
        // the fcntl lock goes with the file descriptor
        locked_roots().lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
    }
}

fn lock_byte0(f: &File) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: zeroed flock is valid; F_SETLK only reads it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = 0;
    fl.l_len = 1;
    // SAFETY: valid fd and pointer to a live flock struct.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Which Java release wrote the store at `root` (the recovery's rules,
/// [`crate::recovery::detect_java_version`]); `None` for a fresh store (no
/// commitlog file, checkpoint or abort file yet).
pub fn detect_layout(root: &Path) -> Option<JavaVersion> {
    let dir = crate::StoreDir::open(root, None).ok()?;
    let cl = dir.open_commitlog().ok()?;
    let fresh = cl.files().is_empty() && ["checkpoint", "abort", "abort.bak"].iter().all(|f| !root.join(f).exists());
    if fresh {
        return None;
    }
    Some(crate::recovery::detect_java_version(&dir, &cl).0)
}

/// Whether `abort` exists (the previous run did not stop cleanly).
pub fn abort_exists(root: &Path) -> bool {
    root.join("abort").exists()
}

/// Creates `abort` as the given generation does: 4.9.8 an empty file; 5.x
/// the PID, after copying the previous content (empty, or the crashed run's
/// PID) to `abort.bak` (Java `MixAll.string2File`).
pub fn create_abort_file(root: &Path, layout: JavaVersion) -> Result<()> {
    let path = root.join("abort");
    let io = |p: &Path, e| StoreError::io(p, e);
    match layout {
        JavaVersion::V4_9_8 => {
            OpenOptions::new().write(true).create(true).truncate(false).open(&path).map_err(|e| io(&path, e))?;
        }
        JavaVersion::V5_3_3 => {
            let prev = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(io(&path, e)),
            };
            let bak = root.join("abort.bak");
            std::fs::write(&bak, prev).map_err(|e| io(&bak, e))?;
            std::fs::write(&path, std::process::id().to_string()).map_err(|e| io(&path, e))?;
        }
    }
    Ok(())
}

/// Deletes `abort` (clean shutdown); `abort.bak` stays, as in golden 5.3.3 stores.
pub fn remove_abort_file(root: &Path) -> Result<()> {
    let path = root.join("abort");
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(&path, e)),
        _ => Ok(()),
    }
}

/// The mapped `checkpoint` page. Setters write straight into the mapping (so
/// the value survives a process kill); `flush` makes it durable.
pub struct CheckpointFile {
    path: PathBuf,
    layout: JavaVersion,
    map: Mutex<MmapMut>,
}

impl std::fmt::Debug for CheckpointFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointFile").field("path", &self.path).field("layout", &self.layout).finish()
    }
}

impl CheckpointFile {
    /// Opens (or creates, zeroed) the 4096-byte checkpoint at `path`.
    pub fn open(path: &Path, layout: JavaVersion) -> Result<Self> {
        let io = |e| StoreError::io(path, e);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() < CHECKPOINT_FILE_SIZE {
            file.set_len(CHECKPOINT_FILE_SIZE).map_err(io)?;
        }
        // SAFETY: the store lock is held, nobody else maps or truncates this file.
        let map =
            unsafe { memmap2::MmapOptions::new().len(CHECKPOINT_FILE_SIZE as usize).map_mut(&file) }.map_err(io)?;
        Ok(CheckpointFile { path: path.to_path_buf(), layout, map: Mutex::new(map) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn read(&self) -> Checkpoint {
        let m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut c = Checkpoint::parse(&m[..], &self.path).expect("page is 4096 bytes");
        if self.layout == JavaVersion::V4_9_8 {
            c.master_flushed_offset = None;
            c.confirm_phy_offset = None;
        }
        c
    }

    fn put(&self, at: usize, v: i64) {
        // 4.9.8 only has the first three longs: leave the rest as found
        if self.layout == JavaVersion::V4_9_8 && at >= 24 {
            return;
        }
        self.map.lock().unwrap_or_else(|e| e.into_inner())[at..at + 8].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_physic_msg_timestamp(&self, v: i64) {
        self.put(0, v)
    }
    pub fn set_logics_msg_timestamp(&self, v: i64) {
        self.put(8, v)
    }
    pub fn set_index_msg_timestamp(&self, v: i64) {
        self.put(16, v)
    }
    pub fn set_master_flushed_offset(&self, v: i64) {
        self.put(24, v)
    }
    pub fn set_confirm_phy_offset(&self, v: i64) {
        self.put(32, v)
    }

    pub fn flush(&self) -> Result<()> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).flush().map_err(|e| StoreError::io(&self.path, e))
    }
}

/// The running-state files of one opened store, in Java's order: lock, then
/// (after recovery) `abort`; a clean close flushes the checkpoint and removes
/// `abort`. Dropping without [`StoreSession::close_clean`] keeps `abort`, as a
/// crash would.
#[derive(Debug)]
pub struct StoreSession {
    root: PathBuf,
    layout: JavaVersion,
    had_abort: bool,
    checkpoint: Arc<CheckpointFile>,
    _lock: RunningLock,
}

impl StoreSession {
    /// Locks `root` (created if missing) and opens its checkpoint. The layout
    /// is detected from the store, else `fresh_layout` is used.
    pub fn begin(root: &Path, fresh_layout: JavaVersion) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
        let lock = RunningLock::acquire(root)?;
        let layout = detect_layout(root).unwrap_or(fresh_layout);
        let had_abort = abort_exists(root);
        let checkpoint = Arc::new(CheckpointFile::open(&root.join("checkpoint"), layout)?);
        Ok(StoreSession { root: root.to_path_buf(), layout, had_abort, checkpoint, _lock: lock })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn layout(&self) -> JavaVersion {
        self.layout
    }
    /// `abort` existed when the session began: recovery must be abnormal.
    pub fn had_abort(&self) -> bool {
        self.had_abort
    }
    pub fn checkpoint(&self) -> &Arc<CheckpointFile> {
        &self.checkpoint
    }

    /// Creates `abort` (call once recovery is done and writing starts).
    pub fn mark_running(&self) -> Result<()> {
        create_abort_file(&self.root, self.layout)
    }

    /// Clean stop: checkpoint durable, `abort` removed, lock released.
    pub fn close_clean(self) -> Result<()> {
        self.checkpoint.flush()?;
        remove_abort_file(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_files_follow_the_layout() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("store");
        let s = StoreSession::begin(&root, JavaVersion::V5_3_3).unwrap();
        assert!(!s.had_abort());
        assert!(StoreSession::begin(&root, JavaVersion::V5_3_3).is_err(), "second open in one process");
        s.mark_running().unwrap();
        assert_eq!(std::fs::read_to_string(root.join("abort")).unwrap(), std::process::id().to_string());
        assert_eq!(std::fs::read(root.join("abort.bak")).unwrap(), b"");
        s.checkpoint().set_physic_msg_timestamp(77);
        s.checkpoint().set_confirm_phy_offset(5);
        drop(s); // crash: abort stays
        let s = StoreSession::begin(&root, JavaVersion::V4_9_8).unwrap();
        assert!(s.had_abort());
        assert_eq!(s.layout(), JavaVersion::V5_3_3);
        assert_eq!(s.checkpoint().read().physic_msg_timestamp, 77);
        assert_eq!(s.checkpoint().read().confirm_phy_offset, Some(5));
        s.mark_running().unwrap();
        assert_eq!(std::fs::read_to_string(root.join("abort.bak")).unwrap(), std::process::id().to_string());
        s.close_clean().unwrap();
        assert!(!root.join("abort").exists());
        assert_eq!(std::fs::read(root.join("lock")).unwrap(), b"lock");

        // a 4.9.8-shaped store stays one
        let root4 = d.path().join("v4");
        std::fs::create_dir_all(root4.join("commitlog")).unwrap();
        std::fs::write(root4.join("commitlog").join("00000000000000000000"), b"").unwrap();
        let s = StoreSession::begin(&root4, JavaVersion::V5_3_3).unwrap();
        assert_eq!(s.layout(), JavaVersion::V4_9_8);
        s.mark_running().unwrap();
        assert_eq!(std::fs::read(root4.join("abort")).unwrap(), b"");
        assert!(!root4.join("abort.bak").exists());
        s.checkpoint().set_confirm_phy_offset(9);
        s.checkpoint().set_index_msg_timestamp(3);
        assert_eq!(s.checkpoint().read().confirm_phy_offset, None);
        s.close_clean().unwrap();
        let raw = std::fs::read(root4.join("checkpoint")).unwrap();
        assert_eq!(raw.len(), 4096);
        assert_eq!(&raw[16..24], &3i64.to_be_bytes());
        assert!(raw[24..].iter().all(|b| *b == 0));
    }
}
