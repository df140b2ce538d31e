//! The consume-queue half of recovery, one queue at a time:
//! `ConsumeQueue#recover` (from the 3rd-last file, units while
//! `offset >= 0 && size > 0`, files after the end deleted) and, when the
//! commitlog ends below the queues' max, `truncateDirtyLogicFiles`.
//!
//! Java only moves its in-memory write position and leaves the dead bytes in
//! the file; an offline tool has no write position, so the plan zeroes them
//! (otherwise Java's next recovery would read them back as entries).
//! One deliberate difference: when the last file is empty (its first unit is
//! zero), Java's truncation keeps that zero unit as an entry and stops there,
//! which would hide everything it writes after it from its next recovery and
//! leaves dirty entries in the previous file; the plan skips the empty file
//! and truncates the previous one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::consume_queue::{decode_unit, CqEntry, CQ_UNIT_SIZE};
use crate::dispatch::CqTail;
use crate::error::{Result, StoreError};
use crate::mapped_file::{list_mapped_files, MappedFile};

/// Bytes `[from, to)` of `path` to overwrite with zeros.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ZeroRange {
    pub path: PathBuf,
    pub from: u64,
    pub to: u64,
}

/// A consume-queue unit that recovery drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DroppedEntry {
    pub queue_offset: u64,
    pub physical_offset: i64,
    pub size: i32,
    pub tags_code: i64,
}

impl From<CqEntry> for DroppedEntry {
    fn from(e: CqEntry) -> Self {
        DroppedEntry {
            queue_offset: e.queue_offset,
            physical_offset: e.physical_offset,
            size: e.size,
            tags_code: e.tags_code,
        }
    }
}

/// What recovery does to one queue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueuePlan {
    pub topic: String,
    pub queue_id: i32,
    pub dir: PathBuf,
    /// Queue offset where `ConsumeQueue#recover` ends the queue.
    pub recovered_end: u64,
    /// Queue offset where the queue ends after recovery (≤ `recovered_end`).
    pub end: u64,
    /// Java `maxPhysicOffset` afterwards.
    pub max_physic_offset: i64,
    /// Valid-looking units that disappear.
    pub dropped: u64,
    pub dropped_first: Option<DroppedEntry>,
    pub dropped_last: Option<DroppedEntry>,
    pub zero: Option<ZeroRange>,
    pub delete_files: Vec<PathBuf>,
    /// State afterwards, for dispatching more entries.
    #[serde(skip)]
    pub tail: CqTail,
    /// Commitlog offset of the last real (non-placeholder) unit kept.
    #[serde(skip)]
    pub last_entry_offset: Option<i64>,
}

impl QueuePlan {
    pub fn changes_files(&self) -> bool {
        self.zero.is_some() || !self.delete_files.is_empty()
    }
}

/// A queue after `ConsumeQueue#recover`, before the commitlog is known.
pub(crate) struct QueueModel {
    topic: String,
    queue_id: i32,
    dir: PathBuf,
    file_size: u64,
    files: Vec<(u64, PathBuf)>,
    /// Zero-length last file (5.x deletes it on load).
    empty_last: Option<PathBuf>,
    recovered_end: u64,
    max_physic_offset: i64,
    last_entry: Option<CqEntry>,
}

fn open(p: &Path) -> Result<MappedFile> {
    MappedFile::open(p, 0)
}

fn unit(f: &MappedFile, start: u64, i: u64) -> CqEntry {
    let pos = (i * CQ_UNIT_SIZE) as usize;
    decode_unit(f.bytes().get(pos..).unwrap_or(&[]), (start + i * CQ_UNIT_SIZE) / CQ_UNIT_SIZE).unwrap_or(CqEntry {
        queue_offset: (start + i * CQ_UNIT_SIZE) / CQ_UNIT_SIZE,
        physical_offset: 0,
        size: 0,
        tags_code: 0,
    })
}

impl QueueModel {
    /// Loads the queue's files (Java refuses to start when one has the wrong
    /// length) and runs `ConsumeQueue#recover`.
    pub(crate) fn recover(topic: &str, queue_id: i32, dir: &Path, file_size: u64) -> Result<Self> {
        let mut files = list_mapped_files(dir)?;
        let mut empty_last = None;
        for (i, (start, p)) in files.iter().enumerate() {
            if start.checked_add(file_size).is_none_or(|e| e > i64::MAX as u64) {
                return Err(StoreError::layout(p, "file name is an offset beyond 2^63"));
            }
            let len = std::fs::metadata(p).map_err(|e| StoreError::io(p, e))?.len();
            if len == 0 && i + 1 == files.len() {
                empty_last = Some(p.clone());
            } else if len != file_size {
                return Err(StoreError::layout(
                    p,
                    format!("consume queue file length {len} differs from mappedFileSizeConsumeQueue {file_size}; Java refuses to load it"),
                ));
            }
        }
        if empty_last.is_some() {
            files.pop();
        }
        let mut m = QueueModel {
            topic: topic.to_string(),
            queue_id,
            dir: dir.to_path_buf(),
            file_size,
            files,
            empty_last,
            recovered_end: 0,
            max_physic_offset: -1,
            last_entry: None,
        };
        let Some(first) = m.files.first() else { return Ok(m) };
        m.recovered_end = first.0;
        let units = file_size / CQ_UNIT_SIZE;
        for (start, p) in m.files.iter().skip(m.files.len().saturating_sub(3)) {
            let f = open(p)?;
            let mut valid = 0;
            while valid < units {
                let e = unit(&f, *start, valid);
                if !e.is_valid() {
                    break;
                }
                m.max_physic_offset = e.physical_offset.saturating_add(e.size as i64);
                m.last_entry = Some(e);
                valid += 1;
            }
            m.recovered_end = start + valid * CQ_UNIT_SIZE;
            if valid < units {
                break;
            }
        }
        Ok(m)
    }

    /// Java `maxPhysicOffset` after `recover`.
    pub(crate) fn max_physic_offset(&self) -> i64 {
        self.max_physic_offset
    }

    /// The plan, truncating to `truncate_at` (the commitlog end) when given.
    pub(crate) fn finish(self, truncate_at: Option<u64>) -> Result<QueuePlan> {
        let size = self.file_size;
        let r = self.recovered_end;
        let mut end = r;
        let mut max_phys = self.max_physic_offset;
        let mut last = self.last_entry;
        let mut explicit_delete: HashSet<u64> = HashSet::new();
        if let Some(p) = truncate_at {
            let p = p as i64;
            let kept: Vec<&(u64, PathBuf)> = self.files.iter().filter(|(s, _)| *s <= r).collect();
            let mut decided = false;
            for (start, path) in kept.iter().rev() {
                let data = size.min(r - start);
                if data == 0 {
                    continue;
                }
                let f = open(path)?;
                let u0 = unit(&f, *start, 0);
                if u0.physical_offset >= p {
                    explicit_delete.insert(*start);
                    end = *start;
                    continue;
                }
                let mut keep = 1;
                while keep < data / CQ_UNIT_SIZE {
                    let e = unit(&f, *start, keep);
                    if !e.is_valid() || e.physical_offset >= p {
                        break;
                    }
                    keep += 1;
                }
                let e = unit(&f, *start, keep - 1);
                end = start + keep * CQ_UNIT_SIZE;
                max_phys = e.physical_offset.saturating_add(e.size as i64);
                last = Some(e);
                decided = true;
                break;
            }
            if !decided {
                // every file went: Java leaves maxPhysicOffset at the truncation point
                max_phys = p;
                last = None;
            }
        }
        let mut plan = QueuePlan {
            topic: self.topic.clone(),
            queue_id: self.queue_id,
            dir: self.dir.clone(),
            recovered_end: r / CQ_UNIT_SIZE,
            end: end / CQ_UNIT_SIZE,
            max_physic_offset: max_phys,
            dropped: 0,
            dropped_first: None,
            dropped_last: None,
            zero: None,
            delete_files: Vec::new(),
            tail: CqTail { last_file_start: None, wrote: 0, max_physic_offset: max_phys },
            last_entry_offset: last.filter(|e| !e.is_placeholder()).map(|e| e.physical_offset),
        };
        for (start, path) in &self.files {
            let delete = *start > end || explicit_delete.contains(start);
            let from = if delete {
                0
            } else if end < start + size {
                end - start
            } else {
                plan.tail = CqTail { last_file_start: Some(*start), wrote: size, max_physic_offset: max_phys };
                continue;
            };
            let f = open(path)?;
            // units past the last non-zero byte are zeros, never valid: not read at all
            let last_nz = super::zeros::last_nonzero_in(path, f.len(), from)?;
            let units = last_nz.map_or(0, |i| i / CQ_UNIT_SIZE + 1).min(f.len() / CQ_UNIT_SIZE);
            for i in from / CQ_UNIT_SIZE..units {
                let e = unit(&f, *start, i);
                if e.is_valid() {
                    plan.dropped += 1;
                    plan.dropped_first.get_or_insert(e.into());
                    plan.dropped_last = Some(e.into());
                }
            }
            if delete {
                plan.delete_files.push(path.clone());
                continue;
            }
            plan.tail = CqTail { last_file_start: Some(*start), wrote: from, max_physic_offset: max_phys };
            if let Some(last_nz) = last_nz {
                plan.zero = Some(ZeroRange { path: path.clone(), from, to: last_nz + 1 });
            }
        }
        if let Some(p) = self.empty_last {
            plan.delete_files.push(p);
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consume_queue::encode_unit;
    use crate::mapped_file::offset_to_file_name;

    fn write(dir: &Path, start: u64, units: &[(i64, i32)], size: usize) {
        let mut b: Vec<u8> = units.iter().flat_map(|(o, s)| encode_unit(*o, *s, 0)).collect();
        b.resize(size, 0);
        std::fs::write(dir.join(offset_to_file_name(start)), b).unwrap();
    }

    #[test]
    fn recover_then_truncate() {
        let d = tempfile::tempdir().unwrap();
        // 3 units per file; file 60 holds a garbage unit after a zero one
        write(d.path(), 0, &[(0, 10), (10, 10), (20, 10)], 60);
        write(d.path(), 60, &[(30, 10), (0, 0), (99, 9)], 60);
        write(d.path(), 120, &[(50, 10)], 60);
        let m = QueueModel::recover("T", 0, d.path(), 60).unwrap();
        assert_eq!((m.recovered_end, m.max_physic_offset()), (80, 40));
        let p = QueueModel::recover("T", 0, d.path(), 60).unwrap().finish(None).unwrap();
        assert_eq!((p.end, p.dropped, p.delete_files.len()), (4, 2, 1));
        assert_eq!(p.zero, Some(ZeroRange { path: d.path().join(offset_to_file_name(60)), from: 20, to: 52 }));
        assert_eq!(p.tail, CqTail { last_file_start: Some(60), wrote: 20, max_physic_offset: 40 });
        // the commitlog ends at 15: units at 20 and 30 go, and the file starting at 60
        let p = m.finish(Some(15)).unwrap();
        assert_eq!((p.end, p.max_physic_offset, p.last_entry_offset), (2, 20, Some(10)));
        assert_eq!(p.delete_files.len(), 2);
        assert_eq!(p.zero.as_ref().map(|z| (z.from, z.to)), Some((40, 52)));
        assert_eq!((p.dropped, p.dropped_first.unwrap().physical_offset), (4, 20));
        // everything beyond the commitlog: all files deleted, max = truncation point
        let p = QueueModel::recover("T", 0, d.path(), 60).unwrap().finish(Some(0)).unwrap();
        assert_eq!((p.end, p.max_physic_offset, p.delete_files.len()), (0, 0, 3));
        assert_eq!(p.tail.last_file_start, None);
    }

    #[test]
    fn wrong_length_is_an_error_and_empty_last_file_goes() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), 0, &[(0, 10)], 60);
        std::fs::write(d.path().join(offset_to_file_name(60)), b"").unwrap();
        let p = QueueModel::recover("T", 0, d.path(), 60).unwrap().finish(None).unwrap();
        assert_eq!(p.delete_files, vec![d.path().join(offset_to_file_name(60))]);
        std::fs::write(d.path().join(offset_to_file_name(60)), b"x").unwrap();
        assert!(QueueModel::recover("T", 0, d.path(), 60).is_err());
    }
}
