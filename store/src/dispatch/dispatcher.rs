//! Dispatching commitlog records to consume queues and the index, in
//! commitlog order like Java's reput thread.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::cq_writer::{CqTail, CqWriter, PutOutcome};
use super::index_writer::{IndexGeometry, IndexState, IndexWriter};
use super::request::{check_message, CheckRules, Checked, DispatchRequest};
use crate::cleanup::QueueMinOffsets;
use crate::consume_queue::{decode_unit, CQ_UNIT_SIZE};
use crate::error::{Result, StoreError};
use crate::mapped_file::{list_mapped_files, CommitLog};

mod expire;

/// Buffered consume-queue bytes across all queues before everything is written.
const PENDING_LIMIT: u64 = 32 << 20;
/// Warnings kept in [`DispatchStats::warnings`].
const MAX_WARNINGS: usize = 100;

/// Where dispatched data goes.
#[derive(Clone, Debug)]
pub struct DispatchTarget {
    /// The `consumequeue` directory.
    pub cq_root: PathBuf,
    /// `mappedFileSizeConsumeQueue`, rounded to whole units.
    pub cq_file_size: u64,
    /// The `index` directory; `None` when `messageIndexEnable=false`.
    pub index_dir: Option<PathBuf>,
    pub index_geometry: IndexGeometry,
}

/// Per-queue counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    pub written: u64,
    pub placeholders: u64,
    /// Already present (`offset + size <= maxPhysicOffset`, or below the write position).
    pub repeated: u64,
    /// Written at the write position although QUEUEOFFSET said otherwise.
    pub misplaced: u64,
    pub first_queue_offset: Option<u64>,
    pub last_queue_offset: Option<u64>,
}

/// What a dispatch did (or, dry, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DispatchStats {
    pub records: u64,
    pub cq_entries_written: u64,
    pub queues: BTreeMap<String, BTreeMap<i32, QueueStats>>,
    /// Records skipped because their topic cannot be a directory name.
    pub bad_topics: u64,
    pub index_keys_added: u64,
    pub index_keys_resumed: u64,
    pub index_files_created: Vec<String>,
    /// Highest commitlog offset now covered by a consume queue and its store timestamp.
    pub last_cq_record: Option<(i64, i64)>,
    /// `indexMsgTimestamp` after the dispatch (end of the last full index file).
    pub index_last_full_end_timestamp: i64,
    pub warnings: Vec<String>,
}

impl DispatchStats {
    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        }
    }
}

/// Java refuses such topic names; writing them would leave the store directory.
fn topic_is_safe(t: &str) -> bool {
    !t.is_empty() && t != "." && t != ".." && !t.contains(['/', '\\', '\0'])
}

/// The tail of an existing queue read from disk: valid units from its first
/// file until the first invalid one (used for queues a recovery plan does not
/// describe).
pub fn tail_from_disk(dir: &Path, file_size: u64) -> Result<CqTail> {
    let files = list_mapped_files(dir)?;
    let mut tail = CqTail::empty();
    for (start, p) in files {
        let b = std::fs::read(&p).map_err(|e| StoreError::io(&p, e))?;
        tail.last_file_start = Some(start);
        tail.wrote = 0;
        for u in b.chunks_exact(CQ_UNIT_SIZE as usize).take((file_size / CQ_UNIT_SIZE) as usize) {
            let e = decode_unit(u, 0).expect("20 bytes");
            if !e.is_valid() {
                return Ok(tail);
            }
            tail.wrote += CQ_UNIT_SIZE;
            tail.max_physic_offset = e.physical_offset.saturating_add(e.size as i64);
        }
        if tail.wrote < file_size {
            return Ok(tail);
        }
    }
    Ok(tail)
}

/// Consume-queue writers for every queue plus the index writer.
pub struct Dispatcher {
    target: DispatchTarget,
    dry_run: bool,
    fresh: bool,
    tails: HashMap<(String, i32), CqTail>,
    queues: HashMap<(String, i32), CqWriter>,
    index: Option<IndexWriter>,
    stats: DispatchStats,
    pending: u64,
    /// Java `minLogicOffset` of each queue (see `expire.rs`).
    mins: QueueMinOffsets,
}

impl Dispatcher {
    /// `tails`: queues that exist, as recovery left them; others are read
    /// from disk when first used (see [`Dispatcher::fresh`]). `index_state`:
    /// see [`IndexState::from_disk`].
    pub fn new(
        target: DispatchTarget,
        tails: HashMap<(String, i32), CqTail>,
        index_state: IndexState,
        dry_run: bool,
    ) -> Result<Self> {
        let index = match &target.index_dir {
            Some(d) => Some(IndexWriter::new(d, target.index_geometry, index_state, dry_run)?),
            None => None,
        };
        Ok(Dispatcher {
            target,
            dry_run,
            fresh: false,
            tails,
            queues: HashMap::new(),
            index,
            stats: DispatchStats::default(),
            pending: 0,
            mins: QueueMinOffsets::default(),
        })
    }

    /// A dispatcher that builds everything from nothing: queues start empty
    /// whatever is on disk (a rebuild, or its dry run over an existing store).
    pub fn fresh(target: DispatchTarget, dry_run: bool) -> Result<Self> {
        let mut d = Dispatcher::new(target, HashMap::new(), IndexState::default(), dry_run)?;
        d.fresh = true;
        Ok(d)
    }

    fn writer(&mut self, topic: &str, queue_id: i32) -> Result<&mut CqWriter> {
        let key = (topic.to_string(), queue_id);
        if !self.queues.contains_key(&key) {
            let dir = self.target.cq_root.join(topic).join(queue_id.to_string());
            let tail = match self.tails.get(&key) {
                Some(t) => *t,
                None if self.fresh => CqTail::empty(),
                None => tail_from_disk(&dir, self.target.cq_file_size)?,
            };
            let w = CqWriter::new(&dir, self.target.cq_file_size, tail, self.dry_run)?;
            self.queues.insert(key.clone(), w);
        }
        Ok(self.queues.get_mut(&key).expect("inserted"))
    }

    /// `doDispatch`: consume queue (NOT/COMMIT transaction types) and index.
    pub fn dispatch(&mut self, req: &DispatchRequest) -> Result<()> {
        self.stats.records += 1;
        if req.goes_to_consume_queue() {
            if !topic_is_safe(&req.topic) {
                self.stats.bad_topics += 1;
                let w = format!("record at {} has topic {:?}: not dispatched", req.commit_log_offset, req.topic);
                self.stats.warn(w);
            } else {
                let w = self.writer(&req.topic, req.queue_id)?;
                let outcome = w.put(req.commit_log_offset, req.msg_size, req.tags_code, req.consume_queue_offset)?;
                // `fillPreBlank`: a queue's first file created mid-way sets its min offset
                let pre_blank = match outcome {
                    PutOutcome::Written { queue_offset, .. } => {
                        Some(queue_offset * CQ_UNIT_SIZE).filter(|at| *at != 0 && w.min_logic_offset() == *at)
                    }
                    _ => None,
                };
                if let Some(at) = pre_blank {
                    self.mins.set(&req.topic, req.queue_id, at);
                }
                self.count(req, outcome);
            }
        }
        if let Some(ix) = &mut self.index {
            ix.build_index(req)?;
        }
        if self.pending >= PENDING_LIMIT {
            for w in self.queues.values_mut() {
                w.flush()?;
            }
            self.pending = 0;
        }
        Ok(())
    }

    fn count(&mut self, req: &DispatchRequest, outcome: PutOutcome) {
        let q = self.stats.queues.entry(req.topic.clone()).or_default().entry(req.queue_id).or_default();
        match outcome {
            PutOutcome::Written { queue_offset, expected, placeholders } => {
                q.written += 1;
                q.placeholders += placeholders;
                q.first_queue_offset.get_or_insert(queue_offset);
                q.last_queue_offset = Some(queue_offset);
                self.stats.cq_entries_written += 1;
                self.pending += CQ_UNIT_SIZE * (1 + placeholders);
                if queue_offset != expected {
                    q.misplaced += 1;
                    let w = format!(
                        "{}/{}: record at {} has QUEUEOFFSET {expected} but goes to queue offset {queue_offset}",
                        req.topic, req.queue_id, req.commit_log_offset
                    );
                    self.stats.warn(w);
                }
            }
            PutOutcome::Repeated | PutOutcome::Behind => q.repeated += 1,
            PutOutcome::BadQueueOffset => {
                let w = format!("record at {} has negative QUEUEOFFSET: not dispatched", req.commit_log_offset);
                self.stats.warn(w);
                return;
            }
        }
        if self.stats.last_cq_record.is_none_or(|(o, _)| req.commit_log_offset > o) {
            self.stats.last_cq_record = Some((req.commit_log_offset, req.store_timestamp));
        }
    }

    /// Writes everything buffered, syncs, and returns the counts.
    pub fn finish(mut self) -> Result<DispatchStats> {
        for w in self.queues.values_mut() {
            w.finish()?;
        }
        if let Some(ix) = &mut self.index {
            ix.finish()?;
            self.stats.index_keys_added = ix.keys_added();
            self.stats.index_keys_resumed = ix.keys_resumed();
            self.stats.index_last_full_end_timestamp = ix.last_full_end_timestamp();
            self.stats.index_files_created =
                ix.created().iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
        }
        Ok(self.stats)
    }
}

/// Java offsets are longs: a file named past `i64::MAX - length` is not a
/// store file (and would overflow offset arithmetic).
pub fn check_file_offsets(files: &[crate::MappedFile]) -> Result<()> {
    for f in files {
        if f.file_from_offset().checked_add(f.len()).is_none_or(|e| e > i64::MAX as u64) {
            return Err(StoreError::layout(f.path(), "file name is an offset beyond 2^63"));
        }
    }
    Ok(())
}

/// How [`dispatch_range`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeEnd {
    /// Reached `to` (or the end of the files).
    Done,
    /// A record at this physical offset failed the check before `to`.
    Invalid { offset: u64, path: PathBuf, reason: String },
    /// The hook asked to stop (tests simulate a crash with it).
    Interrupted { offset: u64 },
}

/// Dispatches every record whose position is in `[from, to)`, walking from the
/// start of the file holding `from` (so `from` need not be a record boundary).
/// `progress(bytes)` reports bytes walked; `hook(offset)` is called before each
/// record and stops the walk when it returns false.
pub fn dispatch_range(
    commitlog: &CommitLog,
    from: u64,
    to: u64,
    rules: &CheckRules,
    d: &mut Dispatcher,
    progress: &mut dyn FnMut(u64),
    hook: &mut dyn FnMut(u64) -> bool,
) -> Result<RangeEnd> {
    let files = commitlog.files();
    check_file_offsets(files)?;
    let mut fi = files.partition_point(|f| f.file_from_offset() + f.len() <= from);
    let mut walked = 0u64;
    while let Some(f) = files.get(fi) {
        let mut pos = 0u64;
        let bytes = f.bytes();
        loop {
            let phy = f.file_from_offset() + pos;
            if phy >= to {
                progress(walked + pos);
                return Ok(RangeEnd::Done);
            }
            if !hook(phy) {
                return Ok(RangeEnd::Interrupted { offset: phy });
            }
            match check_message(&bytes[pos as usize..], rules) {
                Checked::Message(req) => {
                    if phy >= from {
                        d.dispatch(&req)?;
                    }
                    pos += req.msg_size as u64;
                }
                Checked::Blank => break,
                Checked::Invalid { reason, .. } => {
                    return Ok(RangeEnd::Invalid { offset: phy, path: f.path().to_path_buf(), reason });
                }
            }
            if pos >= f.len() {
                break;
            }
        }
        walked += f.len();
        progress(walked);
        fi += 1;
    }
    Ok(RangeEnd::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_that_are_not_directory_names_are_refused() {
        assert!(topic_is_safe("%RETRY%g"));
        for t in ["", ".", "..", "a/b", "..\\x"] {
            assert!(!topic_is_safe(t), "{t}");
        }
    }

    #[test]
    fn tail_from_disk_stops_at_the_first_invalid_unit() {
        let d = tempfile::tempdir().unwrap();
        let mut b = Vec::new();
        b.extend_from_slice(&crate::consume_queue::encode_unit(5, 10, 0));
        b.extend_from_slice(&crate::consume_queue::encode_unit(15, 10, 0));
        b.resize(60, 0);
        std::fs::write(d.path().join(crate::mapped_file::offset_to_file_name(0)), &b).unwrap();
        let t = tail_from_disk(d.path(), 60).unwrap();
        assert_eq!(t, CqTail { last_file_start: Some(0), wrote: 40, max_physic_offset: 25 });
        assert_eq!(tail_from_disk(&d.path().join("none"), 60).unwrap(), CqTail::empty());
    }
}
