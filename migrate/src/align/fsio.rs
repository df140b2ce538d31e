//! Small durable file operations used by the apply steps.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::error::{AlignError, Result};

/// Index of the last non-zero byte at or after `from`.
pub(crate) fn last_nonzero(b: &[u8], from: usize) -> Option<usize> {
    let tail = b.get(from..)?;
    // whole 64-byte blocks first: OR-folding them is what makes zero tails cheap
    let blocks = tail.len() / 64;
    let rest = &tail[blocks * 64..];
    if let Some(i) = rest.iter().rposition(|x| *x != 0) {
        return Some(from + blocks * 64 + i);
    }
    for k in (0..blocks).rev() {
        let blk = &tail[k * 64..k * 64 + 64];
        if blk.iter().fold(0u8, |a, x| a | x) != 0 {
            let i = blk.iter().rposition(|x| *x != 0).expect("non-zero block");
            return Some(from + k * 64 + i);
        }
    }
    None
}

/// Writes `bytes` to `path` (replacing it) and syncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| AlignError::io(d, e))?;
    }
    let io = |e| AlignError::io(path, e);
    let mut f = File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Replaces `path` atomically: write `<path>.tmp`, sync, rename, sync the directory.
pub(crate) fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    write_synced(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| AlignError::io(path, e))?;
    sync_dir(path);
    Ok(())
}

/// Makes a rename/create/delete in `path`'s directory durable (best effort:
/// some filesystems refuse to sync a directory).
pub(crate) fn sync_dir(path: &Path) {
    if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(f) = File::open(d) {
            let _ = f.sync_all();
        }
    }
}

/// Writes `bytes` at `pos` of an existing file.
pub(crate) fn write_at(f: &File, path: &Path, bytes: &[u8], pos: u64) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        f.write_all_at(bytes, pos).map_err(|e| AlignError::io(path, e))
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom};
        let mut f = f;
        f.seek(SeekFrom::Start(pos)).map_err(|e| AlignError::io(path, e))?;
        f.write_all(bytes).map_err(|e| AlignError::io(path, e))
    }
}

/// Overwrites `[from, to)` of `path` with zeros and syncs it.
pub(crate) fn zero_range(path: &Path, from: u64, to: u64) -> Result<()> {
    let f = OpenOptions::new().write(true).open(path).map_err(|e| AlignError::io(path, e))?;
    let chunk = vec![0u8; (1usize << 20).min(to.saturating_sub(from) as usize)];
    let mut at = from;
    while at < to {
        let n = chunk.len().min((to - at) as usize);
        write_at(&f, path, &chunk[..n], at)?;
        at += n as u64;
    }
    f.sync_data().map_err(|e| AlignError::io(path, e))
}

/// Deletes `path`; a missing file is fine (a re-run after a crash).
pub(crate) fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            sync_dir(path);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AlignError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_nonzero_finds_the_last_set_byte() {
        let mut b = vec![0u8; 1000];
        assert_eq!(last_nonzero(&b, 0), None);
        b[3] = 1;
        assert_eq!(last_nonzero(&b, 0), Some(3));
        assert_eq!(last_nonzero(&b, 4), None);
        b[700] = 9;
        assert_eq!(last_nonzero(&b, 4), Some(700));
        b[999] = 1;
        assert_eq!(last_nonzero(&b, 0), Some(999));
        assert_eq!(last_nonzero(&b, 2000), None);
    }
}
