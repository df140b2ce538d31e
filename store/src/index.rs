//! Index files (`index/<yyyyMMddHHmmssSSS>`): 40-byte header, hash slots,
//! 20-byte entries chained per slot (store-format.md §5).

use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};
use crate::fsutil::list_dir_sorted;
use crate::mapped_file::MappedFile;

pub const INDEX_HEADER_SIZE: u64 = 40;
pub const HASH_SLOT_SIZE: u64 = 4;
pub const INDEX_ENTRY_SIZE: u64 = 20;
pub const DEFAULT_HASH_SLOT_NUM: u32 = 5_000_000;
pub const DEFAULT_INDEX_NUM: u32 = 20_000_000;

/// Size of an index file for the given geometry.
pub fn index_file_size(hash_slot_num: u32, index_num: u32) -> u64 {
    INDEX_HEADER_SIZE + hash_slot_num as u64 * HASH_SLOT_SIZE + index_num as u64 * INDEX_ENTRY_SIZE
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexHeader {
    pub begin_timestamp: i64,
    pub end_timestamp: i64,
    pub begin_phy_offset: i64,
    pub end_phy_offset: i64,
    pub hash_slot_count: i32,
    /// Next entry number (starts at 1; entry 0 unused).
    pub index_count: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexEntry {
    /// Entry number (1-based).
    pub index_no: u32,
    pub key_hash: i32,
    pub phy_offset: i64,
    pub time_diff: i32,
    pub prev_index: i32,
}

/// One read-only index file.
#[derive(Debug)]
pub struct IndexFile {
    file: MappedFile,
    header: IndexHeader,
    hash_slot_num: u32,
    index_num: u32,
}

impl IndexFile {
    /// Opens an index file. Geometry comes from the config
    /// (`maxHashSlotNum`/`maxIndexNum`); when not given it is inferred from the
    /// file size assuming Java's default ratio `indexNum = 4 × hashSlotNum`.
    pub fn open(path: &Path, hash_slot_num: Option<u32>, index_num: Option<u32>) -> Result<Self> {
        let file = MappedFile::open(path, 0)?;
        let len = file.len();
        let (s, n) = match (hash_slot_num, index_num) {
            (Some(s), Some(n)) => (s, n),
            (s, n) => {
                let s_inf = len.saturating_sub(INDEX_HEADER_SIZE) / 84;
                let s = s.unwrap_or(s_inf.min(u32::MAX as u64) as u32);
                let n = n.unwrap_or_else(|| {
                    (len.saturating_sub(INDEX_HEADER_SIZE + s as u64 * HASH_SLOT_SIZE) / INDEX_ENTRY_SIZE)
                        .min(u32::MAX as u64) as u32
                });
                (s, n)
            }
        };
        if len != index_file_size(s, n) {
            return Err(StoreError::layout(
                path,
                format!(
                    "index file length {len} does not match hashSlotNum {s} / indexNum {n} (expected {})",
                    index_file_size(s, n)
                ),
            ));
        }
        let b = file.bytes();
        let l = |o: usize| i64::from_be_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let i = |o: usize| i32::from_be_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let header = IndexHeader {
            begin_timestamp: l(0),
            end_timestamp: l(8),
            begin_phy_offset: l(16),
            end_phy_offset: l(24),
            hash_slot_count: i(32),
            index_count: i(36),
        };
        Ok(IndexFile { file, header, hash_slot_num: s, index_num: n })
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn header(&self) -> &IndexHeader {
        &self.header
    }

    pub fn hash_slot_num(&self) -> u32 {
        self.hash_slot_num
    }

    pub fn index_num(&self) -> u32 {
        self.index_num
    }

    /// Value of slot `slot` (newest entry number, 0 = empty).
    pub fn slot(&self, slot: u32) -> Option<i32> {
        if slot >= self.hash_slot_num {
            return None;
        }
        let o = (INDEX_HEADER_SIZE + slot as u64 * HASH_SLOT_SIZE) as usize;
        Some(i32::from_be_bytes(self.file.bytes()[o..o + 4].try_into().ok()?))
    }

    /// Byte position of entry `n` in the file.
    pub fn entry_pos(&self, n: u32) -> u64 {
        INDEX_HEADER_SIZE + self.hash_slot_num as u64 * HASH_SLOT_SIZE + n as u64 * INDEX_ENTRY_SIZE
    }

    /// Entry number `n` (any n < indexNum).
    pub fn entry(&self, n: u32) -> Option<IndexEntry> {
        if n >= self.index_num {
            return None;
        }
        let o = self.entry_pos(n) as usize;
        let b = self.file.bytes().get(o..o + INDEX_ENTRY_SIZE as usize)?;
        Some(IndexEntry {
            index_no: n,
            key_hash: i32::from_be_bytes(b[0..4].try_into().ok()?),
            phy_offset: i64::from_be_bytes(b[4..12].try_into().ok()?),
            time_diff: i32::from_be_bytes(b[12..16].try_into().ok()?),
            prev_index: i32::from_be_bytes(b[16..20].try_into().ok()?),
        })
    }

    /// Number of used entries according to the header (entries 1..count).
    pub fn used_entries(&self) -> u32 {
        (self.header.index_count.max(1) as u32).min(self.index_num)
    }

    /// Entries 1..indexCount.
    pub fn entries(&self) -> impl Iterator<Item = IndexEntry> + '_ {
        (1..self.used_entries()).filter_map(move |n| self.entry(n))
    }

    /// Physical offsets whose key hash matches `key` (`topic#key`), newest
    /// first, following the slot chain like `IndexFile.selectPhyOffset`
    /// (without the time filter). Stops on broken chains.
    pub fn lookup(&self, full_key: &str, max: usize) -> Vec<i64> {
        let hash = key_hash(full_key);
        let mut out = Vec::new();
        if self.hash_slot_num == 0 {
            return out;
        }
        let slot = (hash as u32) % self.hash_slot_num;
        let count = self.header.index_count;
        let Some(mut cur) = self.slot(slot) else { return out };
        if cur <= 0 || cur > count || count <= 1 {
            return out;
        }
        let mut steps = 0u32;
        while out.len() < max && steps <= self.index_num {
            steps += 1;
            let Some(e) = self.entry(cur as u32) else { break };
            if e.time_diff < 0 {
                break;
            }
            if e.key_hash == hash {
                out.push(e.phy_offset);
            }
            if e.prev_index <= 0 || e.prev_index > count || e.prev_index == cur {
                break;
            }
            cur = e.prev_index;
        }
        out
    }
}

/// `IndexFile.indexKeyHashMethod` on an already joined `topic#key`.
pub fn key_hash(full_key: &str) -> i32 {
    let h = rmq_common::java::string_hash_code(full_key).wrapping_abs();
    if h < 0 {
        0
    } else {
        h
    }
}

/// Index files under `dir`, sorted by name (creation time).
pub fn list_index_files(dir: &Path) -> Result<Vec<PathBuf>> {
    list_dir_sorted(dir, |name, path| name.len() == 17 && name.bytes().all(|b| b.is_ascii_digit()) && path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_looks_up() {
        let (s, n) = (10u32, 40u32);
        let mut b = vec![0u8; index_file_size(s, n) as usize];
        let h = key_hash("T#k");
        let slot = (h as u32 % s) as usize;
        b[36..40].copy_from_slice(&3i32.to_be_bytes());
        b[40 + slot * 4..44 + slot * 4].copy_from_slice(&2i32.to_be_bytes());
        let entry = |b: &mut Vec<u8>, no: usize, off: i64, prev: i32| {
            let o = 40 + s as usize * 4 + no * 20;
            b[o..o + 4].copy_from_slice(&h.to_be_bytes());
            b[o + 4..o + 12].copy_from_slice(&off.to_be_bytes());
            b[o + 16..o + 20].copy_from_slice(&prev.to_be_bytes());
        };
        entry(&mut b, 1, 100, 0);
        entry(&mut b, 2, 200, 1);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("20260101000000000");
        std::fs::write(&p, &b).unwrap();
        let f = IndexFile::open(&p, None, None).unwrap();
        assert_eq!((f.hash_slot_num(), f.index_num()), (10, 40));
        assert_eq!(f.lookup("T#k", 10), vec![200, 100]);
        assert_eq!(f.entries().count(), 2);
        assert_eq!(list_index_files(d.path()).unwrap(), vec![p.clone()]);
        assert!(IndexFile::open(&p, Some(11), Some(40)).is_err());
        assert_eq!(key_hash(""), 0);
    }
}
