//! A store root directory: layout detection (plain commitlog or DLedger),
//! broker.conf, abort/lock state and the paths of the derived files.

use std::path::{Path, PathBuf};

use crate::config::StoreConfig;
use crate::dledger::{find_dledger_dirs, DLedgerStore};
use crate::error::{Result, StoreError};
use crate::mapped_file::commitlog::split_commitlog_paths;
use crate::mapped_file::CommitLog;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum LayoutKind {
    Plain,
    DLedger,
}

/// `abort` file state: present ⇒ the broker did not shut down cleanly.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AbortState {
    pub present: bool,
    /// 5.x writes the broker PID into it; 4.9.8 leaves it empty.
    pub content: Option<String>,
}

/// `lock` file state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LockState {
    pub present: bool,
    /// Whether another process holds the POSIX lock on byte 0 (Java
    /// `FileChannel.tryLock(0,1)`); None when it cannot be determined.
    pub held: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct StoreDir {
    root: PathBuf,
    config: Option<StoreConfig>,
    kind: LayoutKind,
    commitlog_dirs: Vec<PathBuf>,
    dledger_dir: Option<PathBuf>,
}

impl StoreDir {
    /// Inspects `root`. `commitlog_paths` overrides `storePathCommitLog`
    /// (comma-separated). `broker.conf` in `root`, if present, supplies file
    /// sizes; absolute paths in it that point below its `storePathRootDir` are
    /// re-based onto `root` (the store may have been copied elsewhere).
    pub fn open(root: &Path, commitlog_paths: Option<&str>) -> Result<Self> {
        if !root.is_dir() {
            return Err(StoreError::layout(root, "store directory does not exist"));
        }
        let conf_path = root.join("broker.conf");
        let config = if conf_path.is_file() { Some(StoreConfig::load(&conf_path)?) } else { None };
        let commitlog_dirs = match commitlog_paths {
            Some(p) => split_commitlog_paths(p),
            None => resolve_commitlog_dirs(root, config.as_ref()),
        };
        let dl = find_dledger_dirs(root)?;
        let want = config.as_ref().and_then(|c| c.dledger_self_id()).map(|id| format!("dledger-{id}"));
        let dledger_dir = want
            .and_then(|w| dl.iter().find(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == w)).cloned())
            .or_else(|| dl.first().cloned());
        let kind = if dledger_dir.is_some() { LayoutKind::DLedger } else { LayoutKind::Plain };
        Ok(StoreDir { root: root.to_path_buf(), config, kind, commitlog_dirs, dledger_dir })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config(&self) -> Option<&StoreConfig> {
        self.config.as_ref()
    }
    pub fn kind(&self) -> LayoutKind {
        self.kind
    }
    pub fn commitlog_dirs(&self) -> &[PathBuf] {
        &self.commitlog_dirs
    }
    pub fn dledger_dir(&self) -> Option<&Path> {
        self.dledger_dir.as_deref()
    }
    pub fn consume_queue_dir(&self) -> PathBuf {
        self.root.join("consumequeue")
    }
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }
    pub fn checkpoint_path(&self) -> PathBuf {
        self.root.join("checkpoint")
    }
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }

    pub fn commitlog_file_size(&self) -> Option<u64> {
        self.config.as_ref().and_then(|c| c.mapped_file_size_commit_log())
    }
    pub fn consume_queue_file_size(&self) -> Option<u64> {
        self.config.as_ref().and_then(|c| c.mapped_file_size_consume_queue())
    }
    pub fn index_geometry(&self) -> (Option<u32>, Option<u32>) {
        match &self.config {
            Some(c) => (c.max_hash_slot_num(), c.max_index_num()),
            None => (None, None),
        }
    }

    /// Opens the plain commitlog (empty when there are no files).
    pub fn open_commitlog(&self) -> Result<CommitLog> {
        CommitLog::open(&self.commitlog_dirs, self.commitlog_file_size())
    }

    /// Opens the DLedger store when the layout is DLedger. The data file size
    /// is `mappedFileSizeCommitLog`; the index file size is inferred.
    pub fn open_dledger(&self) -> Result<Option<DLedgerStore>> {
        match &self.dledger_dir {
            Some(d) => Ok(Some(DLedgerStore::open(d, self.commitlog_file_size(), None)?)),
            None => Ok(None),
        }
    }

    pub fn abort_state(&self) -> AbortState {
        let p = self.root.join("abort");
        match std::fs::read(&p) {
            Ok(b) => {
                let s = String::from_utf8_lossy(&b).trim().to_string();
                AbortState { present: true, content: if s.is_empty() { None } else { Some(s) } }
            }
            Err(_) => AbortState { present: p.exists(), content: None },
        }
    }

    pub fn lock_state(&self) -> LockState {
        let p = self.root.join("lock");
        if !p.exists() {
            return LockState { present: false, held: None };
        }
        LockState { present: true, held: lock_held(&p) }
    }

    /// Files under `config/` (sorted), plus `broker.conf` when present.
    pub fn config_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.config_dir())
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect())
            .unwrap_or_default();
        if let Some(src) = self.config.as_ref().and_then(|c| c.source.clone()) {
            v.push(src);
        }
        v.sort();
        v
    }
}

fn resolve_commitlog_dirs(root: &Path, config: Option<&StoreConfig>) -> Vec<PathBuf> {
    let default = vec![root.join("commitlog")];
    let Some(c) = config else { return default };
    let Some(value) = c.store_path_commit_log() else { return default };
    let conf_root = c.store_path_root_dir().map(|r| r.trim_end_matches('/').to_string());
    let mut out = Vec::new();
    for p in split_commitlog_paths(value) {
        let s = p.to_string_lossy().into_owned();
        if let Some(r) = conf_root.as_deref().filter(|r| !r.is_empty()) {
            if let Some(rest) = s.strip_prefix(r) {
                if rest.is_empty() || rest.starts_with('/') {
                    out.push(root.join(rest.trim_start_matches('/')));
                    continue;
                }
            }
        }
        if p.is_relative() {
            out.push(root.join(p));
        } else if p.is_dir() {
            out.push(p);
        }
    }
    if out.is_empty() {
        default
    } else {
        out
    }
}

#[cfg(unix)]
fn lock_held(path: &Path) -> Option<bool> {
    use std::os::unix::io::AsRawFd;
    let f = std::fs::OpenOptions::new().read(true).write(true).open(path).ok()?;
    // SAFETY: zeroed flock is a valid value; fcntl(F_GETLK) only writes into it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = 0;
    fl.l_len = 1;
    // SAFETY: valid fd and pointer to a live flock struct.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETLK, &mut fl) };
    if r != 0 {
        return None;
    }
    Some(fl.l_type as i32 != libc::F_UNLCK)
}

#[cfg(not(unix))]
fn lock_held(_path: &Path) -> Option<bool> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebases_commitlog_paths() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("broker.conf"),
            "storePathRootDir=/old/root\nstorePathCommitLog=/old/root/commitlog,/old/root/cl2\nmappedFileSizeCommitLog=1024\n",
        )
        .unwrap();
        std::fs::write(d.path().join("lock"), b"lock").unwrap();
        let s = StoreDir::open(d.path(), None).unwrap();
        assert_eq!(s.commitlog_dirs(), &[d.path().join("commitlog"), d.path().join("cl2")]);
        assert_eq!(s.commitlog_file_size(), Some(1024));
        assert_eq!(s.kind(), LayoutKind::Plain);
        assert!(!s.abort_state().present);
        assert_eq!(s.lock_state(), LockState { present: true, held: Some(false) });
        let s = StoreDir::open(d.path(), Some("/a,/b")).unwrap();
        assert_eq!(s.commitlog_dirs().len(), 2);
    }
}
