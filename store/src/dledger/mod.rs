//! DLedger store reading (dledger-format.md): `dledger-<selfId>/data` entry
//! files (48-byte header + body), `index` files (32-byte units) and the
//! `checkpoint` / `currterm` text files. For a DLedgerCommitLog every entry
//! body is one commitlog record whose physical offset is `entry pos + 48`.

use std::path::{Path, PathBuf};

use crate::config::load_properties;
use crate::error::{Result, StoreError};
use crate::fsutil::list_dir_sorted;
use crate::mapped_file::{MappedFile, MappedFileQueue};
use crate::record::{decode, Decoded};

pub const ENTRY_MAGIC: i32 = 1;
pub const ENTRY_HEADER_SIZE: u64 = 48;
/// `DLedgerEntry.HEADER_SIZE` (without bodyLength): the minimum `size` bound used by recovery.
pub const ENTRY_HEADER_SIZE_NO_LEN: i32 = 44;
pub const BLANK_MAGIC: i32 = -1;
pub const INDEX_UNIT_SIZE: u64 = 32;
pub const DEFAULT_DATA_FILE_SIZE: u64 = 1024 * 1024 * 1024;
pub const DEFAULT_INDEX_FILE_SIZE: u64 = 32 * 5 * 1024 * 1024;

/// The 48-byte entry header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EntryHeader {
    pub magic: i32,
    pub size: i32,
    pub index: i64,
    pub term: i64,
    pub pos: i64,
    pub channel: i32,
    pub chain_crc: i32,
    pub body_crc: i32,
    pub body_length: i32,
}

impl EntryHeader {
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < ENTRY_HEADER_SIZE as usize {
            return None;
        }
        let i = |o: usize| i32::from_be_bytes(b[o..o + 4].try_into().expect("4"));
        let l = |o: usize| i64::from_be_bytes(b[o..o + 8].try_into().expect("8"));
        Some(EntryHeader {
            magic: i(0),
            size: i(4),
            index: l(8),
            term: l(16),
            pos: l(24),
            channel: i(32),
            chain_crc: i(36),
            body_crc: i(40),
            body_length: i(44),
        })
    }

    pub fn to_bytes(&self) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0..4].copy_from_slice(&self.magic.to_be_bytes());
        b[4..8].copy_from_slice(&self.size.to_be_bytes());
        b[8..16].copy_from_slice(&self.index.to_be_bytes());
        b[16..24].copy_from_slice(&self.term.to_be_bytes());
        b[24..32].copy_from_slice(&self.pos.to_be_bytes());
        b[32..36].copy_from_slice(&self.channel.to_be_bytes());
        b[36..40].copy_from_slice(&self.chain_crc.to_be_bytes());
        b[40..44].copy_from_slice(&self.body_crc.to_be_bytes());
        b[44..48].copy_from_slice(&self.body_length.to_be_bytes());
        b
    }
}

/// One 32-byte index unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexUnit {
    pub magic: i32,
    pub pos: i64,
    pub size: i32,
    pub index: i64,
    pub term: i64,
}

impl IndexUnit {
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < INDEX_UNIT_SIZE as usize {
            return None;
        }
        Some(IndexUnit {
            magic: i32::from_be_bytes(b[0..4].try_into().ok()?),
            pos: i64::from_be_bytes(b[4..12].try_into().ok()?),
            size: i32::from_be_bytes(b[12..16].try_into().ok()?),
            index: i64::from_be_bytes(b[16..24].try_into().ok()?),
            term: i64::from_be_bytes(b[24..32].try_into().ok()?),
        })
    }
}

/// `key=value` text files (`checkpoint`, `currterm`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DLedgerCheckpoint {
    pub committed_index: Option<i64>,
    pub end_index: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DLedgerTerm {
    pub curr_term: Option<i64>,
    pub vote_leader: Option<String>,
}

/// An entry located in the data files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryLoc {
    pub file_index: usize,
    pub file_pos: u64,
    pub header: EntryHeader,
}

impl EntryLoc {
    /// Physical offset of the wrapped commitlog record (`pos + 48`).
    pub fn msg_physical_offset(&self) -> u64 {
        self.header.pos as u64 + ENTRY_HEADER_SIZE
    }
}

/// A read-only DLedger store directory (`dledger-<selfId>`).
#[derive(Debug)]
pub struct DLedgerStore {
    dir: PathBuf,
    data: MappedFileQueue,
    index: MappedFileQueue,
    checkpoint: Option<DLedgerCheckpoint>,
    term: Option<DLedgerTerm>,
}

fn read_kv(path: &Path) -> Result<Option<rmq_common::properties::Properties>> {
    match load_properties(path) {
        Ok(m) => Ok(Some(m)),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl DLedgerStore {
    /// Opens `dir` (= `<root>/dledger-<selfId>`). Sizes are inferred from the
    /// files when `None`.
    pub fn open(dir: &Path, data_file_size: Option<u64>, index_file_size: Option<u64>) -> Result<Self> {
        let data = MappedFileQueue::open(&[dir.join("data")], data_file_size)?;
        let index = MappedFileQueue::open(&[dir.join("index")], index_file_size)?;
        let checkpoint = read_kv(&dir.join("checkpoint"))?.map(|m| DLedgerCheckpoint {
            committed_index: m.get("committedIndex").and_then(|v| v.trim().parse().ok()),
            end_index: m.get("endIndex").and_then(|v| v.trim().parse().ok()),
        });
        let term = read_kv(&dir.join("currterm"))?.map(|m| DLedgerTerm {
            curr_term: m.get("currTerm").and_then(|v| v.trim().parse().ok()),
            vote_leader: m.get("voteLeader").map(|v| v.trim().to_string()).filter(|v| !v.is_empty()),
        });
        Ok(DLedgerStore { dir: dir.to_path_buf(), data, index, checkpoint, term })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn data(&self) -> &MappedFileQueue {
        &self.data
    }
    pub fn index(&self) -> &MappedFileQueue {
        &self.index
    }
    pub fn checkpoint(&self) -> Option<&DLedgerCheckpoint> {
        self.checkpoint.as_ref()
    }
    pub fn term(&self) -> Option<&DLedgerTerm> {
        self.term.as_ref()
    }

    /// Iterates the entries of the data files.
    pub fn entries(&self) -> EntryIter<'_> {
        EntryIter {
            files: self.data.files(),
            file_idx: 0,
            pos: 0,
            done: false,
            end_pos: self.data.min_offset(),
            ended_at: None,
        }
    }

    /// The index unit for entry `index`, if present.
    pub fn index_unit(&self, index: i64) -> Option<IndexUnit> {
        let off = u64::try_from(index).ok()?.checked_mul(INDEX_UNIT_SIZE)?;
        let f = self.index.find(off)?;
        IndexUnit::parse(f.slice_from(off - f.file_from_offset()))
    }

    /// Body bytes of an entry.
    pub fn body(&self, e: &EntryLoc) -> &[u8] {
        let f = &self.data.files()[e.file_index];
        let start = e.file_pos + ENTRY_HEADER_SIZE;
        let b = f.slice_from(start);
        &b[..(e.header.body_length.max(0) as usize).min(b.len())]
    }

    /// Decodes the commitlog record carried by an entry.
    pub fn decode_body(&self, e: &EntryLoc) -> Result<Decoded> {
        let f = &self.data.files()[e.file_index];
        decode(self.body(e)).map_err(|err| StoreError::record(f.path(), e.file_pos + ENTRY_HEADER_SIZE, err))
    }
}

/// Iterator over data-file entries; yields at most one error, then stops.
pub struct EntryIter<'a> {
    files: &'a [MappedFile],
    file_idx: usize,
    pos: u64,
    done: bool,
    end_pos: u64,
    ended_at: Option<(usize, u64)>,
}

impl<'a> EntryIter<'a> {
    /// Absolute data position just after the last good entry.
    pub fn end_pos(&self) -> u64 {
        self.end_pos
    }
    /// (file index, position) where unwritten space starts, if the end was found.
    pub fn ended_at(&self) -> Option<(usize, u64)> {
        self.ended_at
    }
    fn fail(&mut self, f: &MappedFile, pos: u64, msg: String) -> Option<Result<EntryLoc>> {
        self.done = true;
        Some(Err(StoreError::corrupt(f.path(), pos, msg)))
    }
}

impl<'a> Iterator for EntryIter<'a> {
    type Item = Result<EntryLoc>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let Some(f) = self.files.get(self.file_idx) else {
                self.done = true;
                return None;
            };
            let pos = self.pos;
            let b = f.slice_from(pos);
            if b.len() < 8 {
                if b.iter().all(|x| *x == 0) {
                    if b.is_empty() {
                        self.file_idx += 1;
                        self.pos = 0;
                        continue;
                    }
                    self.done = true;
                    self.ended_at = Some((self.file_idx, pos));
                    return None;
                }
                return self.fail(f, pos, format!("{} trailing bytes cannot hold an entry", b.len()));
            }
            let magic = i32::from_be_bytes(b[0..4].try_into().expect("4"));
            let size = i32::from_be_bytes(b[4..8].try_into().expect("4"));
            if magic == BLANK_MAGIC {
                self.file_idx += 1;
                self.pos = 0;
                continue;
            }
            if magic == 0 && size == 0 {
                self.done = true;
                self.ended_at = Some((self.file_idx, pos));
                return None;
            }
            if magic != ENTRY_MAGIC {
                return self.fail(f, pos, format!("bad DLedger entry magic {magic}"));
            }
            let Some(h) = EntryHeader::parse(b) else {
                return self.fail(f, pos, format!("truncated DLedger entry header ({} bytes left)", b.len()));
            };
            if h.size <= ENTRY_HEADER_SIZE_NO_LEN || h.size as u64 > b.len() as u64 {
                return self.fail(
                    f,
                    pos,
                    format!("bad DLedger entry size {} ({} bytes left in file)", h.size, b.len()),
                );
            }
            if h.body_length as i64 + ENTRY_HEADER_SIZE as i64 != h.size as i64 {
                return self.fail(f, pos, format!("entry size {} != bodyLength {} + 48", h.size, h.body_length));
            }
            let abs = f.file_from_offset() + pos;
            if h.pos != abs as i64 {
                return self.fail(f, pos, format!("entry pos field {} != actual position {abs}", h.pos));
            }
            self.pos += h.size as u64;
            self.end_pos = abs + h.size as u64;
            return Some(Ok(EntryLoc { file_index: self.file_idx, file_pos: pos, header: h }));
        }
    }
}

/// Finds `dledger-*` directories holding a `data` folder under `root`.
pub fn find_dledger_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    list_dir_sorted(root, |name, path| name.starts_with("dledger-") && path.join("data").is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_entries_and_blank() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("data")).unwrap();
        std::fs::create_dir_all(d.path().join("index")).unwrap();
        let fsz = 256usize;
        let mut f0 = vec![0u8; fsz];
        let body = b"0123456789";
        let h = EntryHeader {
            magic: 1,
            size: 58,
            index: 0,
            term: 1,
            pos: 0,
            channel: 0,
            chain_crc: 0,
            body_crc: 0,
            body_length: 10,
        };
        f0[..48].copy_from_slice(&h.to_bytes());
        f0[48..58].copy_from_slice(body);
        f0[58..62].copy_from_slice(&(-1i32).to_be_bytes());
        f0[62..66].copy_from_slice(&((fsz - 58) as i32).to_be_bytes());
        let mut f1 = vec![0u8; fsz];
        let h1 = EntryHeader { index: 1, pos: fsz as i64, ..h };
        f1[..48].copy_from_slice(&h1.to_bytes());
        std::fs::write(d.path().join("data/00000000000000000000"), &f0).unwrap();
        std::fs::write(d.path().join("data/00000000000000000256"), &f1).unwrap();
        std::fs::write(d.path().join("checkpoint"), "committedIndex=1\nendIndex=1\n").unwrap();
        std::fs::write(d.path().join("currterm"), "voteLeader=\ncurrTerm=1\n").unwrap();
        let s = DLedgerStore::open(d.path(), None, None).unwrap();
        let mut it = s.entries();
        let e: Vec<_> = it.by_ref().collect::<Result<_>>().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].msg_physical_offset(), 256 + 48);
        assert_eq!(it.end_pos(), 256 + 58);
        assert_eq!(s.body(&e[0]), body);
        assert_eq!(s.checkpoint().unwrap().committed_index, Some(1));
        assert_eq!(s.term().unwrap().vote_leader, None);
        // corrupt pos field
        f1[24] = 9;
        std::fs::write(d.path().join("data/00000000000000000256"), &f1).unwrap();
        let s = DLedgerStore::open(d.path(), None, None).unwrap();
        assert!(s.entries().any(|r| r.is_err()));
    }
}
