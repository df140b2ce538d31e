//! One side's commitlog as `align` reads it: Java's record check at any
//! offset, the end of valid data found from a nearby known record start, and
//! the record start nearest below any offset.
//!
//! Known record starts ("anchors") are file starts (a record never spans
//! files) and the last entry of each consume queue, accepted only when the
//! record there passes Java's check and its PHYSICALOFFSET field equals its
//! position (Java writes each record's own offset into it).

use std::cell::Cell;
use std::path::Path;

use rmq_store::consume_queue::{decode_unit, list_queues, CqEntry, CQ_UNIT_SIZE};
use rmq_store::dispatch::{check_message, CheckRules, Checked, JavaVersion};
use rmq_store::mapped_file::{list_mapped_files, MappedFile};
use rmq_store::record::{MESSAGE_MAGIC_CODE, MESSAGE_MAGIC_CODE_V2, POS_MAGIC, POS_PHYSICAL_OFFSET};
use rmq_store::recovery::detect_java_version;
use rmq_store::{CommitLog, LayoutKind, StoreDir};

use super::error::{AlignError, Result};

/// What starts at an offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum At {
    /// A message passing Java's check; `phy` is its PHYSICALOFFSET field.
    Message {
        size: u64,
        phy: i64,
    },
    /// The end-of-file filler: the next record is at the next file's start.
    Blank,
    Invalid(String),
}

/// Where a log's valid data ends.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct End {
    /// Just past the last message (Java's max physical offset).
    pub offset: u64,
    /// Start of the last message, when there is one.
    pub last_message: Option<u64>,
    /// The known record start the walk began at.
    pub walked_from: u64,
    /// Why the walk stopped.
    pub reason: String,
}

pub(crate) struct Log {
    pub side: &'static str,
    pub dir: StoreDir,
    pub cl: CommitLog,
    pub rules: CheckRules,
    /// Bytes read so far (record checks, scans, comparisons).
    examined: Cell<u64>,
}

fn has_data(f: &MappedFile) -> bool {
    f.bytes().get(..8).is_some_and(|h| h.iter().any(|b| *b != 0))
}

impl Log {
    /// Opens the plain commitlog of `dir`; `java` overrides the detected rules.
    pub fn open(dir: StoreDir, side: &'static str, java: Option<JavaVersion>) -> Result<Self> {
        if dir.kind() == LayoutKind::DLedger {
            return Err(AlignError::refused(
                dir.root(),
                format!(
                    "the {side} is a DLedger store; align works on plain commitlogs (DLedger groups replicate by Raft)"
                ),
            ));
        }
        let cl = dir.open_commitlog()?;
        let java = java.unwrap_or_else(|| detect_java_version(&dir, &cl).0);
        let rules = CheckRules::from_config(java, dir.config());
        Ok(Log { side, dir, cl, rules, examined: Cell::new(0) })
    }

    pub fn files(&self) -> &[MappedFile] {
        self.cl.files()
    }

    /// Configured or inferred commitlog file size (0 without files or config).
    pub fn file_size(&self) -> u64 {
        self.dir.commitlog_file_size().unwrap_or(self.cl.queue().file_size())
    }

    /// Start of the first file (0 without files).
    pub fn min_offset(&self) -> u64 {
        self.cl.queue().min_offset()
    }

    pub fn examined(&self) -> u64 {
        self.examined.get()
    }

    fn add(&self, n: u64) {
        self.examined.set(self.examined.get() + n);
    }

    /// The file holding `off` and the position inside it.
    pub fn locate(&self, off: u64) -> Option<(&MappedFile, u64)> {
        let f = self.cl.queue().find(off)?;
        Some((f, off - f.file_from_offset()))
    }

    /// Java's record check at `off`.
    pub fn at(&self, off: u64) -> At {
        let Some((f, pos)) = self.locate(off) else {
            return At::Invalid("past the last commitlog file".into());
        };
        match check_message(f.slice_from(pos), &self.rules) {
            Checked::Message(m) => {
                self.add(m.msg_size as u64);
                At::Message { size: m.msg_size as u64, phy: m.commit_log_offset }
            }
            Checked::Blank => At::Blank,
            Checked::Invalid { reason, .. } => At::Invalid(reason),
        }
    }

    /// `len` bytes at `off` (shorter at the end of its file).
    pub fn bytes(&self, off: u64, len: u64) -> &[u8] {
        let Some((f, pos)) = self.locate(off) else {
            return &[];
        };
        let s = f.slice_from(pos);
        self.add(len.min(s.len() as u64));
        &s[..(len as usize).min(s.len())]
    }

    /// Start of the file after the one holding `off`, when it exists.
    pub fn next_file_start(&self, off: u64) -> Option<u64> {
        let i = self.cl.queue().find_index(off)?;
        self.files().get(i + 1).map(|f| f.file_from_offset())
    }

    /// Whether a message starts at `off` whose PHYSICALOFFSET names `off`.
    fn anchored(&self, off: u64) -> Option<u64> {
        match self.at(off) {
            At::Message { size, phy } if phy == off as i64 => Some(size),
            _ => None,
        }
    }

    /// The largest anchored message start at or below `off` in `off`'s file:
    /// a backward scan for the magic code followed by the record's own offset.
    pub fn sync_back(&self, off: u64) -> Option<u64> {
        let (f, pos) = self.locate(off)?;
        let b = f.bytes();
        let base = f.file_from_offset();
        let v1 = MESSAGE_MAGIC_CODE.to_be_bytes();
        let v2 = MESSAGE_MAGIC_CODE_V2.to_be_bytes();
        let mut p = pos as usize;
        let mut scanned = 0u64;
        loop {
            let m = p + POS_MAGIC;
            if let Some(magic) = b.get(m..m + 4) {
                if (magic == v1 || magic == v2)
                    && b.get(p + POS_PHYSICAL_OFFSET..p + POS_PHYSICAL_OFFSET + 8)
                        == Some(&(base + p as u64).to_be_bytes()[..])
                    && self.anchored(base + p as u64).is_some()
                {
                    self.add(scanned);
                    return Some(base + p as u64);
                }
            }
            scanned += 1;
            if p == 0 {
                self.add(scanned);
                return None;
            }
            p -= 1;
        }
    }

    /// Walks messages from `from` until `to` or the first position that is not
    /// a message; BLANK moves to the next file. Calls `each(offset, size)` per
    /// message and returns where the walk stopped and why.
    pub fn walk(&self, from: u64, to: u64, each: &mut dyn FnMut(u64, u64)) -> (u64, String) {
        let mut pos = from;
        while pos < to {
            match self.at(pos) {
                At::Message { size, .. } => {
                    each(pos, size);
                    pos += size;
                }
                At::Blank => {
                    match self.next_file_start(pos).filter(|n| self.locate(*n).is_some_and(|(f, _)| has_data(f))) {
                        Some(n) => pos = n,
                        None => return (pos, "BLANK filler in the last file holding data".into()),
                    }
                }
                At::Invalid(r) => return (pos, r),
            }
        }
        (pos, "reached the end".into())
    }

    /// Where valid data ends: a walk from the highest anchor in the last file
    /// holding data (`hints` are candidate anchors, e.g. [`cq_hints`]).
    pub fn end(&self, hints: &[u64]) -> End {
        let files = self.files();
        let Some(last) = files.iter().rposition(has_data) else {
            let offset = self.min_offset();
            let reason = if files.is_empty() { "no commitlog files" } else { "no data in any commitlog file" };
            return End { offset, last_message: None, walked_from: offset, reason: reason.into() };
        };
        let floor = files[last].file_from_offset();
        let mut cands: Vec<u64> = hints.iter().copied().filter(|h| *h > floor).collect();
        cands.sort_unstable();
        let start = cands.iter().rev().copied().find(|h| self.anchored(*h).is_some()).unwrap_or(floor);
        let mut last_message = None;
        let (offset, reason) = self.walk(start, u64::MAX, &mut |p, _| last_message = Some(p));
        let offset = last_message.map_or(start, |_| offset);
        // a walk stopping at its very start (a bad first record) leaves the
        // previous message, which lies before the anchor, unknown here
        let last_message = last_message.or_else(|| offset.checked_sub(1).and_then(|o| self.sync_back(o)));
        tracing::debug!("{}: data ends at {offset} (walked from {start}: {reason})", self.side);
        End { offset, last_message, walked_from: start, reason }
    }
}

/// The record start of the last valid entry of every consume queue of `dir`
/// (binary search in each queue's last file holding entries).
pub(crate) fn cq_hints(dir: &StoreDir) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for (_, _, qdir) in list_queues(&dir.consume_queue_dir())? {
        for (_, path) in list_mapped_files(&qdir)?.iter().rev() {
            let (n, last) = valid_units(path)?;
            if let Some(e) = last.filter(|e| !e.is_placeholder()) {
                out.push(e.physical_offset as u64);
            }
            if n > 0 {
                break;
            }
        }
    }
    Ok(out)
}

/// Java's `getMaxOffsetInQueue` of the queue in `qdir` (0 without files),
/// counting the last file's units by binary search: for planning, where
/// reading every unit of every queue would cost more than the divergence.
pub(crate) fn queue_max_quick(qdir: &Path) -> Result<i64> {
    let files = list_mapped_files(qdir)?;
    let Some((start, path)) = files.last() else { return Ok(0) };
    let (n, _) = valid_units(path)?;
    Ok((start / CQ_UNIT_SIZE + n) as i64)
}

/// How many units a consume-queue file starts with that recovery counts
/// (`offset >= 0 && size > 0`), and the last of them.
fn valid_units(path: &Path) -> Result<(u64, Option<CqEntry>)> {
    let f = MappedFile::open(path, 0)?;
    let b = f.bytes();
    let unit = |i: usize| decode_unit(&b[i * CQ_UNIT_SIZE as usize..], i as u64).filter(|e| e.is_valid());
    let n = b.len() / CQ_UNIT_SIZE as usize;
    if n == 0 || unit(0).is_none() {
        return Ok((0, None));
    }
    let (mut lo, mut hi) = (0usize, n);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if unit(mid).is_some() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok((lo as u64 + 1, unit(lo)))
}
