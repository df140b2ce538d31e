//! 5.x controller mode's `epochFileCheckpoint` (ha-and-controller.md §2.3):
//! `<count>\n<crc32 of the entry lines>\n<epoch>-<startOffset>\n...`, previous
//! content in `.bak`. After an align the slave holds the master's bytes up to
//! its new end, so its epoch entries become the master's entries that start
//! below that end (or, without a master epoch file, its own, cut the way
//! Java's `truncateSuffixByOffset` cuts them).

use std::path::{Path, PathBuf};

use rmq_store::record::crc32_masked;
use serde::{Deserialize, Serialize};

use super::error::{AlignError, Result};
use super::fsio::{remove, replace_atomically, write_synced};

pub const FILE: &str = "epochFileCheckpoint";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

pub(crate) fn path(root: &Path) -> PathBuf {
    root.join(FILE)
}

pub(crate) fn bak_path(root: &Path) -> PathBuf {
    root.join(format!("{FILE}.bak"))
}

fn entry_lines(entries: &[EpochEntry]) -> String {
    entries.iter().map(|e| format!("{}-{}\n", e.epoch, e.start_offset)).collect()
}

/// The file text Java writes for `entries`.
pub(crate) fn render(entries: &[EpochEntry]) -> String {
    let lines = entry_lines(entries);
    format!("{}\n{}\n{lines}", entries.len(), crc32_masked(lines.as_bytes()))
}

/// Parses one file; `Ok(None)` when it does not exist.
fn parse_file(p: &Path) -> Result<Option<Vec<EpochEntry>>> {
    let text = match std::fs::read_to_string(p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AlignError::io(p, e)),
    };
    let bad = |msg: String| AlignError::layout(p, msg);
    let mut lines = text.lines();
    let count: usize = lines.next().and_then(|l| l.trim().parse().ok()).ok_or_else(|| bad("no entry count".into()))?;
    let crc: i32 = lines.next().and_then(|l| l.trim().parse().ok()).ok_or_else(|| bad("no CRC line".into()))?;
    let mut entries = Vec::new();
    for l in lines {
        let (e, s) = l.split_once('-').ok_or_else(|| bad(format!("bad entry line {l:?}")))?;
        let epoch = e.trim().parse().map_err(|_| bad(format!("bad epoch in {l:?}")))?;
        let start_offset = s.trim().parse().map_err(|_| bad(format!("bad start offset in {l:?}")))?;
        entries.push(EpochEntry { epoch, start_offset });
    }
    if entries.len() != count {
        return Err(bad(format!("{count} entries announced, {} found", entries.len())));
    }
    if crc != 0 && crc != crc32_masked(entry_lines(&entries).as_bytes()) {
        return Err(bad("entry CRC does not match".into()));
    }
    Ok(Some(entries))
}

/// Java's `CheckpointFile.read`: the file, else (missing, empty list or
/// unreadable) its `.bak`. `None` when the store has neither.
pub(crate) fn read(root: &Path) -> Result<Option<Vec<EpochEntry>>> {
    match parse_file(&path(root)) {
        Ok(Some(v)) if !v.is_empty() => Ok(Some(v)),
        Ok(main) => match parse_file(&bak_path(root))? {
            Some(b) => Ok(Some(b)),
            None => Ok(main),
        },
        Err(e) => parse_file(&bak_path(root))?.map(Some).ok_or(e),
    }
}

/// What the slave's entries become when its log ends at `end`.
pub(crate) fn target(slave: &[EpochEntry], master: Option<&[EpochEntry]>, end: u64) -> Vec<EpochEntry> {
    master.unwrap_or(slave).iter().copied().filter(|e| e.start_offset < end as i64).collect()
}

/// Writes `entries` like Java does (previous content to `.bak` first), or,
/// when none are left, removes the file and its `.bak`: Java never writes an
/// empty list and would read the stale `.bak` back.
pub(crate) fn write(root: &Path, entries: &[EpochEntry]) -> Result<()> {
    let (p, bak) = (path(root), bak_path(root));
    if entries.is_empty() {
        remove(&p)?;
        return remove(&bak);
    }
    let text = render(entries);
    match std::fs::read(&p) {
        Ok(prev) if prev == text.as_bytes() => return Ok(()),
        Ok(prev) => write_synced(&bak, &prev)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(AlignError::io(&p, e)),
    }
    replace_atomically(&p, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_java_and_reads_back() {
        let e = [EpochEntry { epoch: 1, start_offset: 0 }, EpochEntry { epoch: 2, start_offset: 1656429 }];
        // the golden 5.3.3 controller-mode brokers' file
        assert_eq!(render(&e), "2\n888900832\n1-0\n2-1656429\n");
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()).unwrap(), None);
        write(d.path(), &e).unwrap();
        assert_eq!(read(d.path()).unwrap().unwrap(), e);
        write(d.path(), &e[..1]).unwrap();
        assert_eq!(std::fs::read_to_string(bak_path(d.path())).unwrap(), render(&e));
        assert_eq!(read(d.path()).unwrap().unwrap(), e[..1]);
        std::fs::write(path(d.path()), "1\n5\n1-0\n").unwrap();
        assert_eq!(read(d.path()).unwrap().unwrap(), e, "a bad CRC falls back to .bak");
        assert_eq!(target(&e, None, 1656429), e[..1]);
        assert_eq!(target(&e[..1], Some(&e), 2_000_000), e);
        write(d.path(), &[]).unwrap();
        assert!(!path(d.path()).exists() && !bak_path(d.path()).exists());
    }
}
