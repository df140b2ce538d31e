//! Appending to one consume queue like `ConsumeQueue.putMessagePositionInfo`:
//! 20-byte units, files of `mappedFileSizeConsumeQueue` bytes named by their
//! start offset, `fillPreBlank` placeholders when a queue's first file is
//! created for a non-zero queue offset, and Java's tolerance rules (an entry
//! at or below `maxPhysicOffset` is a repeat; an expected position below the
//! write position is a repeat; a gap is logged and the unit still goes to the
//! write position).
//!
//! Units are buffered and written with `pwrite` when [`CqWriter::flush`] is
//! called, when a file is full, or on [`CqWriter::finish`]; a crash therefore
//! leaves a prefix of whole units (the next recovery picks up from there).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::consume_queue::{encode_unit, CQ_UNIT_SIZE};
use crate::error::{Result, StoreError};
use crate::mapped_file::offset_to_file_name;

/// Where an existing queue ends (after recovery), to continue writing it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CqTail {
    /// Start (logical byte offset) of the last file, if the queue has files.
    pub last_file_start: Option<u64>,
    /// Bytes written in that file (the write position).
    pub wrote: u64,
    /// Java `maxPhysicOffset`: offset + size of the last unit, -1 when none.
    pub max_physic_offset: i64,
}

impl CqTail {
    /// A queue without files.
    pub fn empty() -> Self {
        CqTail { last_file_start: None, wrote: 0, max_physic_offset: -1 }
    }
}

/// What happened to one put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written at `queue_offset` (the write position; `expected` differs when
    /// Java would log "logic queue order maybe wrong").
    Written { queue_offset: u64, expected: u64, placeholders: u64 },
    /// `offset + size <= maxPhysicOffset`: already in the queue.
    Repeated,
    /// The expected position is below the write position: already written.
    Behind,
    /// A negative queue offset (Java would name a file with a minus sign).
    BadQueueOffset,
}

/// Writer for `consumequeue/<topic>/<queueId>`.
#[derive(Debug)]
pub struct CqWriter {
    dir: PathBuf,
    file_size: u64,
    dry_run: bool,
    last_start: Option<u64>,
    wrote: u64,
    /// `MappedFile.isFirstCreateInQueue` of the last file.
    first_created: bool,
    max_physic_offset: i64,
    min_logic_offset: u64,
    pending: Vec<u8>,
    pending_from: u64,
    touched: Vec<PathBuf>,
    created: Vec<PathBuf>,
    /// The last file, kept open: every dispatched message is written through
    /// (readers use pread), and an open() per message cost more than the write.
    open: Option<(u64, std::fs::File)>,
}

impl CqWriter {
    /// Continues the queue in `dir` from `tail`. `file_size` must be a
    /// multiple of 20 (see [`crate::consume_queue::cq_file_size`]). With
    /// `dry_run` nothing is written but every rule is applied.
    pub fn new(dir: &Path, file_size: u64, tail: CqTail, dry_run: bool) -> Result<Self> {
        if file_size == 0 || !file_size.is_multiple_of(CQ_UNIT_SIZE) {
            return Err(StoreError::layout(
                dir,
                format!("consume queue file size {file_size} is not a multiple of 20"),
            ));
        }
        if tail.wrote > file_size || !tail.wrote.is_multiple_of(CQ_UNIT_SIZE) {
            return Err(StoreError::layout(dir, format!("write position {} is not a unit boundary", tail.wrote)));
        }
        Ok(CqWriter {
            dir: dir.to_path_buf(),
            file_size,
            dry_run,
            last_start: tail.last_file_start,
            wrote: if tail.last_file_start.is_some() { tail.wrote } else { 0 },
            first_created: false,
            max_physic_offset: tail.max_physic_offset,
            min_logic_offset: 0,
            pending: Vec::new(),
            pending_from: 0,
            touched: Vec::new(),
            created: Vec::new(),
            open: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Java `maxPhysicOffset`.
    pub fn max_physic_offset(&self) -> i64 {
        self.max_physic_offset
    }

    /// Java `minLogicOffset` as `fillPreBlank` sets it: the queue offset
    /// (× 20) a queue's first file was created for; 0 otherwise.
    pub fn min_logic_offset(&self) -> u64 {
        self.min_logic_offset
    }

    /// Where the queue ends now (buffered units included).
    pub fn tail(&self) -> CqTail {
        CqTail { last_file_start: self.last_start, wrote: self.wrote, max_physic_offset: self.max_physic_offset }
    }

    /// Logical byte offset of the write position (0 without files).
    pub fn end(&self) -> u64 {
        self.last_start.map(|s| s + self.wrote).unwrap_or(0)
    }

    /// Files this writer created.
    pub fn created(&self) -> &[PathBuf] {
        &self.created
    }

    /// Files deleted behind the writer (expired-file cleanup; never the last
    /// one): no longer synced by [`CqWriter::finish`] nor listed as created.
    pub fn forget_files(&mut self, deleted: &[PathBuf]) {
        self.created.retain(|p| !deleted.contains(p));
        self.touched.retain(|p| !deleted.contains(p));
        if self.open.as_ref().is_some_and(|(s, _)| deleted.contains(&self.path_of(*s))) {
            self.open = None;
        }
    }

    /// Bytes buffered and not yet written.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn path_of(&self, start: u64) -> PathBuf {
        self.dir.join(offset_to_file_name(start))
    }

    /// `MappedFileQueue.getLastMappedFile(startOffset)`: the last file, or a
    /// new one when there is none or it is full.
    fn ensure_file(&mut self, expect: u64) -> Result<()> {
        let create = match self.last_start {
            None => Some((expect - expect % self.file_size, true)),
            Some(s) if self.wrote >= self.file_size => {
                let next = s.checked_add(self.file_size).filter(|n| *n <= i64::MAX as u64);
                Some((next.ok_or_else(|| StoreError::layout(&self.dir, "consume queue offsets past 2^63"))?, false))
            }
            Some(_) => None,
        };
        if let Some((start, first)) = create {
            self.flush()?;
            if !self.dry_run {
                let p = self.path_of(start);
                std::fs::create_dir_all(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
                // a leftover file of that name is not part of the queue: start it afresh
                let f = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&p)
                    .map_err(|e| StoreError::io(&p, e))?;
                f.set_len(self.file_size).map_err(|e| StoreError::io(&p, e))?;
                self.created.push(p);
                self.open = Some((start, f));
            }
            self.last_start = Some(start);
            self.wrote = 0;
            self.first_created = first;
        }
        Ok(())
    }

    fn append(&mut self, unit: &[u8; 20]) {
        // `MappedFile.appendMessage` refuses what does not fit
        if self.wrote + CQ_UNIT_SIZE > self.file_size {
            return;
        }
        if self.pending.is_empty() {
            self.pending_from = self.wrote;
        }
        self.pending.extend_from_slice(unit);
        self.wrote += CQ_UNIT_SIZE;
    }

    /// `putMessagePositionInfo(offset, size, tagsCode, cqOffset)`.
    pub fn put(&mut self, offset: i64, size: i32, tags_code: i64, cq_offset: i64) -> Result<PutOutcome> {
        if offset.saturating_add(size as i64) <= self.max_physic_offset {
            return Ok(PutOutcome::Repeated);
        }
        // Java offsets are longs: a unit position past i64::MAX cannot be a real queue offset
        let expect = u64::try_from(cq_offset).ok().and_then(|o| o.checked_mul(CQ_UNIT_SIZE));
        let Some(expect) = expect.filter(|e| e.saturating_add(2 * self.file_size) <= i64::MAX as u64) else {
            return Ok(PutOutcome::BadQueueOffset);
        };
        self.ensure_file(expect)?;
        let start = self.last_start.expect("ensured");
        let mut placeholders = 0;
        if self.first_created && cq_offset != 0 && self.wrote == 0 {
            self.min_logic_offset = expect;
            let blank = encode_unit(0, i32::MAX, 0);
            for _ in (0..expect % self.file_size).step_by(CQ_UNIT_SIZE as usize) {
                self.append(&blank);
                placeholders += 1;
            }
        }
        if cq_offset != 0 && expect < start + self.wrote {
            return Ok(PutOutcome::Behind);
        }
        let queue_offset = (start + self.wrote) / CQ_UNIT_SIZE;
        self.max_physic_offset = offset.saturating_add(size as i64);
        self.append(&encode_unit(offset, size, tags_code));
        if self.wrote >= self.file_size {
            self.flush()?;
        }
        Ok(PutOutcome::Written { queue_offset, expected: cq_offset as u64, placeholders })
    }

    /// Writes buffered units.
    pub fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if !self.dry_run {
            let start = self.last_start.expect("pending units belong to a file");
            if self.open.as_ref().is_none_or(|(s, _)| *s != start) {
                let p = self.path_of(start);
                let f = OpenOptions::new().write(true).open(&p).map_err(|e| StoreError::io(&p, e))?;
                if !self.touched.contains(&p) {
                    self.touched.push(p);
                }
                self.open = Some((start, f));
            }
            let (_, f) = self.open.as_ref().expect("opened above");
            write_all_at(f, &self.pending, self.pending_from).map_err(|e| StoreError::io(self.path_of(start), e))?;
        }
        self.pending.clear();
        Ok(())
    }

    /// Flushes and syncs every file written to disk.
    pub fn finish(&mut self) -> Result<()> {
        self.flush()?;
        if self.dry_run {
            return Ok(());
        }
        for p in self.touched.iter().chain(&self.created) {
            let f = OpenOptions::new().write(true).open(p).map_err(|e| StoreError::io(p, e))?;
            f.sync_data().map_err(|e| StoreError::io(p, e))?;
        }
        self.touched.clear();
        // the next write re-opens it and lists it as touched again
        self.open = None;
        Ok(())
    }
}

#[cfg(unix)]
pub(crate) fn write_all_at(f: &std::fs::File, buf: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, at)
}

#[cfg(not(unix))]
pub(crate) fn write_all_at(mut f: &std::fs::File, buf: &[u8], at: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    f.seek(SeekFrom::Start(at))?;
    f.write_all(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consume_queue::ConsumeQueue;

    #[test]
    fn fills_pre_blank_and_rolls_files() {
        let d = tempfile::tempdir().unwrap();
        let q = d.path().join("T/0");
        let mut w = CqWriter::new(&q, 100, CqTail::empty(), false).unwrap();
        // queue starts at offset 7: file 00..0100 gets 2 placeholders (units 5, 6)
        assert_eq!(w.put(10, 5, 1, 7).unwrap(), PutOutcome::Written { queue_offset: 7, expected: 7, placeholders: 2 });
        assert_eq!(w.put(10, 5, 1, 8).unwrap(), PutOutcome::Repeated);
        assert_eq!(w.put(15, 5, 2, 8).unwrap(), PutOutcome::Written { queue_offset: 8, expected: 8, placeholders: 0 });
        assert_eq!(w.put(20, 5, 3, 7).unwrap(), PutOutcome::Behind);
        // a gap: written at the write position anyway
        assert_eq!(
            w.put(25, 5, 4, 20).unwrap(),
            PutOutcome::Written { queue_offset: 9, expected: 20, placeholders: 0 }
        );
        w.put(30, 5, 5, 10).unwrap();
        w.finish().unwrap();
        let names: Vec<_> = std::fs::read_dir(&q).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2);
        let cq = ConsumeQueue::open(&q, "T", 0, Some(100)).unwrap();
        let (e, issues) = cq.read_all();
        assert!(issues.is_empty(), "{issues:?}");
        assert!(e[0].is_placeholder() && e[1].is_placeholder());
        assert_eq!(e.iter().map(|x| x.physical_offset).collect::<Vec<_>>(), vec![0, 0, 10, 15, 25, 30]);
        assert_eq!(e[5].queue_offset, 10);
        assert_eq!(std::fs::metadata(q.join(offset_to_file_name(200))).unwrap().len(), 100);
    }

    #[test]
    fn continues_an_existing_queue_and_dry_run_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let tail = CqTail { last_file_start: Some(0), wrote: 40, max_physic_offset: 100 };
        std::fs::write(d.path().join(offset_to_file_name(0)), vec![0u8; 60]).unwrap();
        let mut w = CqWriter::new(d.path(), 60, tail, false).unwrap();
        w.put(100, 10, 0, 2).unwrap();
        w.put(110, 10, 0, 3).unwrap();
        w.finish().unwrap();
        let b = std::fs::read(d.path().join(offset_to_file_name(0))).unwrap();
        assert_eq!(&b[40..60], &encode_unit(100, 10, 0));
        assert_eq!(std::fs::read(d.path().join(offset_to_file_name(60))).unwrap()[..20], encode_unit(110, 10, 0));
        let e = tempfile::tempdir().unwrap();
        let mut w = CqWriter::new(&e.path().join("q"), 60, CqTail::empty(), true).unwrap();
        w.put(1, 1, 0, 0).unwrap();
        w.finish().unwrap();
        assert_eq!(w.end(), 20);
        assert!(!e.path().join("q").exists());
        assert!(CqWriter::new(d.path(), 50, CqTail::empty(), true).is_err());
    }
}
