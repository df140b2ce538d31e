//! Deleting consume-queue and index files the commitlog no longer backs, and
//! correcting each queue's min offset (Java `CleanConsumeQueueService`:
//! `ConsumeQueue#deleteExpiredFile` + `correctMinOffset`,
//! `IndexService#deleteExpiredFile`).
//!
//! Given the commitlog's new minimum physical offset (what the commitlog
//! cleaner's `MinOffsetHook` reports):
//!
//! * a consume-queue file goes when its last unit points below it, oldest
//!   first, stopping at the first file that still matters; the last file of a
//!   queue is never deleted;
//! * the queue's min logical offset (Java `minLogicOffset`) becomes the first
//!   unit of the first remaining file pointing at or above it (found by
//!   Java's binary search, so ties among fillPreBlank placeholders, which all
//!   point at 0, land where Java's do); when even the
//!   last unit of the queue points below it, min = max (an empty queue that
//!   keeps its offsets);
//! * an index file goes when its `endPhyOffset` is below it, oldest first,
//!   never the newest file (the one being written).
//!
//! The functions here work on the files alone (offline use, or a broker that
//! keeps its own writers); a running [`crate::dispatch::Dispatcher`] does the
//! same with its open writers (`Dispatcher::delete_expired`). Java pauses
//! `deleteConsumeQueueFilesInterval` between queues to spread the I/O of
//! unmapping; deleting a file here is one `unlink`, so there is no pause.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::consume_queue::{decode_unit, list_queues, CQ_UNIT_SIZE};
use crate::dispatch::DispatchTarget;
use crate::error::{Result, StoreError};
use crate::mapped_file::list_mapped_files;

/// Where a queue's last file ends, when a writer knows it (else the last file
/// is read up to its first invalid unit, as recovery does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WritePos {
    /// Start (logical byte offset) of the last file.
    pub last_file_start: u64,
    /// Bytes written in it.
    pub wrote: u64,
}

/// What happens to one queue.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Delete expired files, then correct the min offset.
    #[default]
    Delete,
    /// Report what [`Mode::Delete`] would do; nothing is deleted.
    DryRun,
    /// Only correct the min offset (Java does this for every queue at startup).
    CorrectOnly,
}

/// Outcome for one queue.
#[derive(Debug, Default)]
pub struct QueueCleaned {
    /// Files deleted (or, in a dry run, that would be).
    pub deleted: Vec<PathBuf>,
    /// Java `minLogicOffset` after the correction (bytes; a multiple of 20).
    pub min_logic_offset: u64,
    /// End of the queue (bytes), Java `getMaxOffsetInQueue() * 20`.
    pub max_logic_offset: u64,
    /// The first failure: deleting stopped there (the min offset was still
    /// corrected), or correcting failed (the previous min offset was kept).
    pub error: Option<StoreError>,
    /// Something Java would log as an inconsistency; the min offset was kept.
    pub note: Option<String>,
}

impl QueueCleaned {
    /// Java `getMinOffsetInQueue`.
    pub fn min_offset(&self) -> i64 {
        (self.min_logic_offset / CQ_UNIT_SIZE) as i64
    }
    /// Java `getMaxOffsetInQueue`.
    pub fn max_offset(&self) -> i64 {
        (self.max_logic_offset / CQ_UNIT_SIZE) as i64
    }
}

fn read_at(path: &Path, at: u64, buf: &mut [u8]) -> Result<usize> {
    let mut f = std::fs::File::open(path).map_err(|e| StoreError::io(path, e))?;
    f.seek(SeekFrom::Start(at)).map_err(|e| StoreError::io(path, e))?;
    let mut done = 0;
    while done < buf.len() {
        match f.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StoreError::io(path, e)),
        }
    }
    Ok(done)
}

/// The commitlog offset of the unit at byte `at` of a consume-queue file.
fn unit_phy(path: &Path, at: u64) -> Result<i64> {
    let mut b = [0u8; 8];
    if read_at(path, at, &mut b)? < 8 {
        return Err(StoreError::corrupt(path, at, "consume queue file ends before this unit"));
    }
    Ok(i64::from_be_bytes(b))
}

/// Bytes of valid units at the start of `path` (at most `file_size`).
fn valid_prefix(path: &Path, file_size: u64) -> Result<u64> {
    const CHUNK: u64 = 64 * 1024 / CQ_UNIT_SIZE * CQ_UNIT_SIZE;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut pos = 0;
    while pos < file_size {
        let want = CHUNK.min(file_size - pos) as usize;
        let got = read_at(path, pos, &mut buf[..want])?;
        for u in buf[..got].chunks_exact(CQ_UNIT_SIZE as usize) {
            if !decode_unit(u, 0).expect("20 bytes").is_valid() {
                return Ok(pos);
            }
            pos += CQ_UNIT_SIZE;
        }
        if got < want {
            break;
        }
    }
    Ok(pos)
}

/// Deletes the expired files of the queue in `dir` and corrects its min
/// offset. `prev_min_logic`: the min logical offset known so far (0 when the
/// store was just opened; Java starts there too). `pos`: the writer's
/// position, if one is open (its units must be on disk). Fails only when the
/// directory cannot be listed; see [`QueueCleaned::error`].
pub fn clean_queue(
    dir: &Path,
    file_size: u64,
    min_phy: u64,
    prev_min_logic: u64,
    pos: Option<WritePos>,
    mode: &Mode,
) -> Result<QueueCleaned> {
    if file_size == 0 || !file_size.is_multiple_of(CQ_UNIT_SIZE) {
        return Err(StoreError::layout(dir, format!("consume queue file size {file_size} is not a multiple of 20")));
    }
    let min_phy = min_phy.min(i64::MAX as u64) as i64;
    let prev_min_logic = prev_min_logic / CQ_UNIT_SIZE * CQ_UNIT_SIZE;
    let files = list_mapped_files(dir)?;
    let mut out = QueueCleaned { min_logic_offset: prev_min_logic, ..Default::default() };
    let mut first = 0;
    if *mode != Mode::CorrectOnly {
        // `deleteExpiredFileByOffset`: every file but the last, while its last unit is below
        for (_, p) in files.iter().take(files.len().saturating_sub(1)) {
            let phy = match unit_phy(p, file_size - CQ_UNIT_SIZE) {
                Ok(v) => v,
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            };
            if phy >= min_phy {
                break;
            }
            if *mode == Mode::Delete {
                if let Err(e) = std::fs::remove_file(p) {
                    out.error = Some(StoreError::io(p, e));
                    break;
                }
            }
            out.deleted.push(p.clone());
            first += 1;
        }
    }
    if let Err(e) = correct_min(&files[first..], file_size, min_phy, pos, &mut out) {
        out.min_logic_offset = prev_min_logic;
        out.error.get_or_insert(e);
    }
    Ok(out)
}

/// `correctMinOffset` over the remaining files.
fn correct_min(
    files: &[(u64, PathBuf)],
    file_size: u64,
    min_phy: i64,
    pos: Option<WritePos>,
    out: &mut QueueCleaned,
) -> Result<()> {
    let Some((last_start, last)) = files.last() else { return Ok(()) };
    let last_read = match pos {
        Some(p) if p.last_file_start == *last_start => p.wrote.min(file_size) / CQ_UNIT_SIZE * CQ_UNIT_SIZE,
        _ => valid_prefix(last, file_size)?,
    };
    out.max_logic_offset = last_start + last_read;
    let prev = out.min_logic_offset;
    if prev >= out.max_logic_offset {
        return Ok(());
    }
    if last_read > 0 && unit_phy(last, last_read - CQ_UNIT_SIZE)? < min_phy {
        // nothing left that the commitlog backs: the queue is empty from its end on
        out.min_logic_offset = out.max_logic_offset;
        return Ok(());
    }
    let (first_start, first) = &files[0];
    let first_read = if files.len() == 1 { last_read } else { file_size };
    let (start, intact) = match prev.checked_sub(*first_start) {
        Some(s) => (s, true),
        None => (0, false),
    };
    if start >= first_read {
        if start > first_read {
            out.note = Some(format!(
                "{}: min logical offset {prev} is past the data of the first file, which should have been deleted",
                first.display()
            ));
        }
        return Ok(());
    }
    if intact && unit_phy(first, start)? >= min_phy {
        return Ok(());
    }
    // Java's binary search over [start, readPosition) (units ascend in commitlog order)
    let unit = |rel: u64| unit_phy(first, start + rel);
    let (mut low, mut high) = (0u64, first_read - start - CQ_UNIT_SIZE);
    while high - low > CQ_UNIT_SIZE {
        let mid = (low + high) / 2 / CQ_UNIT_SIZE * CQ_UNIT_SIZE;
        let phy = unit(mid)?;
        if phy > min_phy {
            high = mid;
        } else if phy == min_phy {
            (low, high) = (mid, mid);
            break;
        } else {
            low = mid;
        }
    }
    let mut i = low;
    while i <= high {
        if unit(i)? >= min_phy {
            out.min_logic_offset = first_start + start + i;
            return Ok(());
        }
        i += CQ_UNIT_SIZE;
    }
    Ok(())
}

/// `IndexService#deleteExpiredFile`: index files (oldest first) whose
/// `endPhyOffset` is below `min_phy`; never the newest one, nor `keep` (the
/// file a writer has open). Returns the files deleted (or, dry, that would be).
pub fn clean_index(dir: &Path, min_phy: u64, keep: Option<&Path>, dry_run: bool) -> Result<Vec<PathBuf>> {
    let files = crate::index::list_index_files(dir)?;
    let min_phy = min_phy.min(i64::MAX as u64) as i64;
    let mut deleted = Vec::new();
    for p in files.iter().take(files.len().saturating_sub(1)) {
        if keep == Some(p.as_path()) {
            break;
        }
        let mut b = [0u8; 8];
        if read_at(p, 24, &mut b)? < 8 {
            return Err(StoreError::corrupt(p, 24, "index file ends inside its header"));
        }
        if i64::from_be_bytes(b) >= min_phy {
            break;
        }
        if !dry_run {
            std::fs::remove_file(p).map_err(|e| StoreError::io(p, e))?;
        }
        deleted.push(p.clone());
    }
    Ok(deleted)
}

/// One queue in a [`CleanupReport`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueReport {
    pub files_deleted: usize,
    /// Java `getMinOffsetInQueue` after the run.
    pub min_offset: i64,
    /// Java `getMaxOffsetInQueue`.
    pub max_offset: i64,
}

/// What a store-wide run did.
#[derive(Debug, Default)]
pub struct CleanupReport {
    /// The commitlog min offset the run used.
    pub min_physical_offset: u64,
    /// Every queue looked at, by topic and queue id.
    pub queues: BTreeMap<String, BTreeMap<i32, QueueReport>>,
    pub cq_files_deleted: Vec<PathBuf>,
    pub index_files_deleted: Vec<PathBuf>,
    /// Inconsistencies Java would log (the min offset was left alone).
    pub notes: Vec<String>,
    /// Failures; other queues were still cleaned.
    pub errors: Vec<StoreError>,
}

impl CleanupReport {
    /// Java `getMinOffsetInQueue` as this run left it.
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> Option<i64> {
        self.queues.get(topic)?.get(&queue_id).map(|q| q.min_offset)
    }

    /// Records one queue's outcome (shared with the dispatcher's runs).
    pub(crate) fn add(&mut self, topic: &str, queue_id: i32, r: Result<QueueCleaned>) -> Option<u64> {
        match r {
            Ok(mut q) => {
                let rep = QueueReport {
                    files_deleted: q.deleted.len(),
                    min_offset: q.min_offset(),
                    max_offset: q.max_offset(),
                };
                self.queues.entry(topic.to_string()).or_default().insert(queue_id, rep);
                self.cq_files_deleted.append(&mut q.deleted);
                self.notes.extend(q.note.take());
                self.errors.extend(q.error.take());
                Some(q.min_logic_offset)
            }
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }
}

/// Runs `mode` over every queue under `target.cq_root` and (unless
/// [`Mode::CorrectOnly`]) the index directory, from the files alone. Min
/// offsets are computed as Java does when it opens the store. For a store in
/// use, go through its writer owner instead (`Dispatcher::delete_expired`).
pub fn clean_files(target: &DispatchTarget, min_phy: u64, mode: &Mode) -> CleanupReport {
    let mut report = CleanupReport { min_physical_offset: min_phy, ..Default::default() };
    match list_queues(&target.cq_root) {
        Ok(queues) => {
            for (topic, qid, dir) in queues {
                let r = clean_queue(&dir, target.cq_file_size, min_phy, 0, None, mode);
                report.add(&topic, qid, r);
            }
        }
        Err(e) => report.errors.push(e),
    }
    if *mode != Mode::CorrectOnly {
        if let Some(dir) = &target.index_dir {
            match clean_index(dir, min_phy, None, *mode == Mode::DryRun) {
                Ok(d) => report.index_files_deleted = d,
                Err(e) => report.errors.push(e),
            }
        }
    }
    report
}

/// [`clean_files`] on a store directory that no process has open: the
/// commitlog's first file gives the min offset, `broker.conf` (or the files)
/// the geometry.
pub fn clean_store_dir(dir: &crate::StoreDir, mode: &Mode) -> Result<CleanupReport> {
    if dir.kind() != crate::LayoutKind::Plain {
        return Err(StoreError::layout(dir.root(), "expired-file cleanup of a DLedger store is not supported"));
    }
    let min_phy = dir.open_commitlog()?.queue().min_offset();
    let (cq_file_size, index_geometry) = crate::dispatch::store_geometry(dir)?;
    let target = DispatchTarget {
        cq_root: dir.consume_queue_dir(),
        cq_file_size,
        index_dir: crate::dispatch::index_enabled(dir).then(|| dir.index_dir()),
        index_geometry,
    };
    Ok(clean_files(&target, min_phy, mode))
}

/// Min logical offsets of queues, shared between the thread that corrects
/// them (dispatcher, cleaner) and readers (GET_MIN_OFFSET, pull's
/// OFFSET_TOO_SMALL). Cloning shares the table.
#[derive(Clone, Debug, Default)]
pub struct QueueMinOffsets(Arc<RwLock<HashMap<String, HashMap<i32, u64>>>>);

impl QueueMinOffsets {
    /// Java `getMinOffsetInQueue` (0 for a queue never corrected, as in Java).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        (self.min_logic_offset(topic, queue_id).unwrap_or(0) / CQ_UNIT_SIZE) as i64
    }

    /// Java `minLogicOffset` (bytes), if known.
    pub fn min_logic_offset(&self, topic: &str, queue_id: i32) -> Option<u64> {
        let t = self.0.read().unwrap_or_else(|e| e.into_inner());
        t.get(topic)?.get(&queue_id).copied()
    }

    pub fn set(&self, topic: &str, queue_id: i32, min_logic_offset: u64) {
        let mut t = self.0.write().unwrap_or_else(|e| e.into_inner());
        match t.get_mut(topic) {
            Some(q) => {
                q.insert(queue_id, min_logic_offset);
            }
            None => {
                t.insert(topic.to_string(), HashMap::from([(queue_id, min_logic_offset)]));
            }
        }
    }

    /// A topic was deleted.
    pub fn remove_topic(&self, topic: &str) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).remove(topic);
    }

    /// `(topic, queueId) → min offset` (units), sorted.
    pub fn snapshot(&self) -> BTreeMap<(String, i32), i64> {
        let t = self.0.read().unwrap_or_else(|e| e.into_inner());
        t.iter()
            .flat_map(|(topic, qs)| qs.iter().map(move |(q, m)| ((topic.clone(), *q), (*m / CQ_UNIT_SIZE) as i64)))
            .collect()
    }
}
