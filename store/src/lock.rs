//! Holding the store's `lock` file like a running broker does
//! (`FileChannel.tryLock(0, 1, false)`: a POSIX write lock on byte 0), so no
//! broker starts on a store while a tool rewrites it.
//!
//! POSIX locks belong to the process and are dropped when *any* descriptor of
//! the file is closed; check [`crate::StoreDir::lock_state`] before taking
//! the lock, not while holding it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// The lock, held until dropped.
#[derive(Debug)]
pub struct StoreLock {
    path: PathBuf,
    _file: File,
}

impl StoreLock {
    /// Takes the lock on `root/lock` (creating the file). Fails with
    /// `WouldBlock` when another process holds it.
    pub fn acquire(root: &Path) -> Result<StoreLock> {
        let path = root.join("lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        try_lock(&file).map_err(|e| StoreError::io(&path, e))?;
        Ok(StoreLock { path, _file: file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn try_lock(f: &File) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: zeroed flock is a valid value; fcntl(F_SETLK) only reads it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = 0;
    fl.l_len = 1;
    // SAFETY: valid descriptor and pointer to a live flock struct.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) } == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EAGAIN)) {
        return Err(std::io::Error::new(std::io::ErrorKind::WouldBlock, "held by another process"));
    }
    Err(e)
}

#[cfg(not(unix))]
fn try_lock(_f: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquires_and_creates_the_file() {
        let d = tempfile::tempdir().unwrap();
        let l = StoreLock::acquire(d.path()).unwrap();
        assert!(l.path().exists());
        drop(l);
        let _again = StoreLock::acquire(d.path()).unwrap();
    }
}
