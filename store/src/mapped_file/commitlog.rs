//! Reading the commitlog: records across files with the BLANK rule (a record
//! never spans files; a BLANK marker sends the reader to the next file).

use std::path::PathBuf;

use super::{MappedFile, MappedFileQueue};
use crate::error::{RecordError, Result, StoreError};
use crate::record::{decode, peek_header, Decoded, MessageRecord};

/// A commitlog made of one or more directories (`storePathCommitLog` may list
/// several, separated by `,`).
#[derive(Debug)]
pub struct CommitLog {
    queue: MappedFileQueue,
}

/// What was found at a position.
#[derive(Clone, Debug, PartialEq)]
pub enum EntryKind {
    Message(Box<MessageRecord>),
    /// End-of-file filler with its stored size.
    Blank {
        total_size: i32,
    },
}

/// One record (or BLANK marker) with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct CommitLogEntry {
    /// Index into [`MappedFileQueue::files`].
    pub file_index: usize,
    /// Position inside the file.
    pub file_pos: u64,
    /// `file_from_offset + file_pos`.
    pub physical_offset: u64,
    pub kind: EntryKind,
}

impl CommitLogEntry {
    pub fn message(&self) -> Option<&MessageRecord> {
        match &self.kind {
            EntryKind::Message(m) => Some(m),
            EntryKind::Blank { .. } => None,
        }
    }
}

/// Why iteration ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// A zero TOTALSIZE/MAGIC (pre-allocated, never written space).
    EndOfData,
    /// Ran past the last file.
    EndOfFiles,
    /// A record failed to decode (the error was yielded).
    Error,
}

/// Splits a `storePathCommitLog` value on `,` (`MULTI_PATH_SPLITTER`).
pub fn split_commitlog_paths(value: &str) -> Vec<PathBuf> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(PathBuf::from).collect()
}

impl CommitLog {
    /// Opens the commitlog files under `dirs` (see [`MappedFileQueue::open`]).
    pub fn open(dirs: &[PathBuf], file_size: Option<u64>) -> Result<Self> {
        Ok(CommitLog { queue: MappedFileQueue::open(dirs, file_size)? })
    }

    pub fn from_queue(queue: MappedFileQueue) -> Self {
        CommitLog { queue }
    }

    pub fn queue(&self) -> &MappedFileQueue {
        &self.queue
    }

    pub fn files(&self) -> &[MappedFile] {
        self.queue.files()
    }

    /// Iterates from the first file. With `check_crc`, a body CRC mismatch ends
    /// the iteration with an error (what recovery does with `checkCRCOnRecover`).
    pub fn iter(&self, check_crc: bool) -> RecordIter<'_> {
        RecordIter::new(&self.queue, 0, 0, check_crc)
    }

    /// Iterates from a physical offset that must be a record start.
    pub fn iter_from(&self, offset: u64, check_crc: bool) -> Result<RecordIter<'_>> {
        let idx = self.queue.find_index(offset).ok_or(StoreError::OffsetNotFound { offset: offset as i64 })?;
        let pos = offset - self.queue.files()[idx].file_from_offset();
        Ok(RecordIter::new(&self.queue, idx, pos, check_crc))
    }

    /// Decodes the record at physical `offset`.
    pub fn read_at(&self, offset: u64) -> Result<Decoded> {
        read_at(&self.queue, offset)
    }

    /// Decodes the message at physical `offset` (a BLANK is an error).
    pub fn read_message(&self, offset: u64) -> Result<MessageRecord> {
        let f = self.queue.find(offset).ok_or(StoreError::OffsetNotFound { offset: offset as i64 })?;
        let pos = offset - f.file_from_offset();
        match read_at(&self.queue, offset)? {
            Decoded::Message(m) => Ok(*m),
            Decoded::Blank { .. } => Err(StoreError::corrupt(f.path(), pos, "expected a message, found BLANK marker")),
        }
    }
}

/// Decodes the record at a logical `offset` of any mapped-file queue holding
/// commitlog records (a commitlog, or DLedger data files at `pos + 48`).
pub fn read_at(queue: &MappedFileQueue, offset: u64) -> Result<Decoded> {
    let f = queue.find(offset).ok_or(StoreError::OffsetNotFound { offset: offset as i64 })?;
    let pos = offset - f.file_from_offset();
    decode(f.slice_from(pos)).map_err(|e| StoreError::record(f.path(), pos, e))
}

/// Iterator over commitlog entries; yields at most one error, then stops.
pub struct RecordIter<'a> {
    queue: &'a MappedFileQueue,
    file_idx: usize,
    pos: u64,
    check_crc: bool,
    stop: Option<StopReason>,
    end_offset: u64,
}

impl<'a> RecordIter<'a> {
    fn new(queue: &'a MappedFileQueue, file_idx: usize, pos: u64, check_crc: bool) -> Self {
        let start = queue.files().get(file_idx).map(|f| f.file_from_offset() + pos).unwrap_or(0);
        RecordIter { queue, file_idx, pos, check_crc, stop: None, end_offset: start }
    }

    /// Why the iteration ended (None while running).
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop
    }

    /// Physical offset just after the last good message record (the max
    /// physical offset once iteration has ended).
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// Where the reader stopped: (file index, position in file). After
    /// `EndOfData` this is the first unwritten byte.
    pub fn position(&self) -> (usize, u64) {
        (self.file_idx, self.pos)
    }

    fn fail(&mut self, f: &MappedFile, pos: u64, e: RecordError) -> Option<Result<CommitLogEntry>> {
        self.stop = Some(StopReason::Error);
        Some(Err(StoreError::record(f.path(), pos, e)))
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<CommitLogEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.stop.is_some() {
                return None;
            }
            let files = self.queue.files();
            let Some(f) = files.get(self.file_idx) else {
                self.stop = Some(StopReason::EndOfFiles);
                return None;
            };
            if self.pos >= f.len() {
                self.file_idx += 1;
                self.pos = 0;
                continue;
            }
            let pos = self.pos;
            let buf = f.slice_from(pos);
            if buf.len() < 8 {
                if buf.iter().all(|b| *b == 0) {
                    self.stop = Some(StopReason::EndOfData);
                    return None;
                }
                return self.fail(f, pos, RecordError::Truncated { need: 8, have: buf.len() as u64 });
            }
            let h = match peek_header(buf) {
                Ok(h) => h,
                Err(e) => return self.fail(f, pos, e),
            };
            if h.total_size == 0 && h.magic == 0 {
                self.stop = Some(StopReason::EndOfData);
                return None;
            }
            let physical_offset = f.file_from_offset() + pos;
            match decode(buf) {
                Ok(Decoded::Blank { total_size }) => {
                    self.file_idx += 1;
                    self.pos = 0;
                    return Some(Ok(CommitLogEntry {
                        file_index: self.file_idx - 1,
                        file_pos: pos,
                        physical_offset,
                        kind: EntryKind::Blank { total_size },
                    }));
                }
                Ok(Decoded::Message(m)) => {
                    if self.check_crc && !m.body_crc_ok() {
                        let computed = m.computed_body_crc();
                        return self.fail(f, pos, RecordError::BodyCrc { stored: m.body_crc, computed });
                    }
                    self.pos += m.total_size as u64;
                    self.end_offset = physical_offset + m.total_size as u64;
                    return Some(Ok(CommitLogEntry {
                        file_index: self.file_idx,
                        file_pos: pos,
                        physical_offset,
                        kind: EntryKind::Message(m),
                    }));
                }
                Err(e) => return self.fail(f, pos, e),
            }
        }
    }
}
