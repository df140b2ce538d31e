//! The write side of the consume queues and the index: the commitlog
//! writer's dispatch hook (Java's `CommitLogDispatcherBuildConsumeQueue` and
//! `...BuildIndex`, run by its reput thread). It runs on the append thread,
//! after a record is written and before its put resolves, so a message is
//! pullable by the time its producer hears back.
//!
//! Units of one append round are buffered per queue and written at the end
//! of the round ([`DispatchSink::end_round`], one `pwrite` per queue instead
//! of one per message); only then do the queues' max offsets move and long
//! polling hear of the arrivals, so a reader never sees an offset whose unit
//! is not in the file yet.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rmq_store::append::{CheckpointFile, DispatchRequest};
use rmq_store::dispatch::cq_writer::PutOutcome;
use rmq_store::dispatch::{tail_from_disk, CqWriter, IndexGeometry, IndexState, IndexWriter};
use rmq_store::StoreError;
use tracing::{error, warn};

use super::queues::QueueTable;

mod expire;
pub(crate) use expire::expire_all;

/// Called after a message reached its consume queue: `(topic, queueId, next
/// offset, tagsCode)`, for long polling (Java `MessageArrivingListener`).
pub type ArrivalFn = Arc<dyn Fn(&str, i32, i64, i64) + Send + Sync>;

/// State owned by the append thread.
pub struct DispatchSink {
    queues: Arc<QueueTable>,
    cq_root: PathBuf,
    /// Each queue's writer and, while it has units in this round, its index in `dirty`.
    writers: HashMap<(String, i32), (CqWriter, Option<usize>)>,
    index: Option<IndexWriter>,
    index_dir: Option<PathBuf>,
    checkpoint: Arc<CheckpointFile>,
    arrival: Option<ArrivalFn>,
    last_cq_timestamp: i64,
    /// Queues with units buffered in this round, in first-touch order.
    dirty: Vec<(String, i32)>,
    /// This round's arrivals, in commitlog order, published by `end_round`.
    arrived: Vec<Arrived>,
    failed: bool,
}

/// A unit written into a queue's buffer, not yet visible to readers.
struct Arrived {
    queue: Arc<super::queues::Queue>,
    /// Index into `DispatchSink::dirty` (the topic and queue id).
    dirty: usize,
    queue_offset: i64,
    tags_code: i64,
    /// A queue's first file created mid-way (Java fillPreBlank sets minLogicOffset).
    sets_min: bool,
    store_timestamp: i64,
}

/// Java refuses such names; writing them would leave the store directory.
fn topic_is_safe(t: &str) -> bool {
    !t.is_empty() && t != "." && t != ".." && !t.contains(['/', '\\', '\0'])
}

impl DispatchSink {
    pub fn new(
        queues: Arc<QueueTable>,
        cq_root: PathBuf,
        index: Option<(PathBuf, IndexGeometry)>,
        checkpoint: Arc<CheckpointFile>,
        arrival: Option<ArrivalFn>,
    ) -> Result<DispatchSink, StoreError> {
        let (index, index_dir) = match index {
            Some((dir, geom)) => {
                (Some(IndexWriter::new(&dir, geom, IndexState::from_disk(&dir, geom)?, false)?), Some(dir))
            }
            None => (None, None),
        };
        Ok(DispatchSink {
            queues,
            cq_root,
            writers: HashMap::new(),
            index,
            index_dir,
            checkpoint,
            arrival,
            last_cq_timestamp: 0,
            dirty: Vec::new(),
            arrived: Vec::new(),
            failed: false,
        })
    }

    fn writer(&mut self, topic: &str, queue_id: i32) -> Result<&mut (CqWriter, Option<usize>), StoreError> {
        let key = (topic.to_string(), queue_id);
        if !self.writers.contains_key(&key) {
            let dir = self.cq_root.join(topic).join(queue_id.to_string());
            let size = self.queues.file_size();
            let tail = tail_from_disk(&dir, size)?;
            self.writers.insert(key.clone(), (CqWriter::new(&dir, size, tail, false)?, None));
        }
        Ok(self.writers.get_mut(&key).expect("inserted above"))
    }

    fn cq(&mut self, req: &DispatchRequest) -> Result<(), StoreError> {
        if !req.goes_to_consume_queue() {
            return Ok(());
        }
        if !topic_is_safe(&req.topic) {
            warn!(topic = %req.topic, offset = req.commit_log_offset, "topic is not a directory name: not dispatched");
            return Ok(());
        }
        let next_dirty = self.dirty.len();
        let (w, round) = self.writer(&req.topic, req.queue_id)?;
        let outcome = w.put(req.commit_log_offset, req.msg_size, req.tags_code, req.consume_queue_offset)?;
        let dirty = *round.get_or_insert(next_dirty);
        if dirty == next_dirty {
            self.dirty.push((req.topic.clone(), req.queue_id));
        }
        if let PutOutcome::Written { queue_offset, expected, placeholders } = outcome {
            if queue_offset != expected {
                warn!(topic = %req.topic, queue = req.queue_id, queue_offset, expected, "logic queue order maybe wrong");
            }
            self.arrived.push(Arrived {
                queue: self.queues.get_or_create(&req.topic, req.queue_id),
                dirty,
                queue_offset: queue_offset as i64,
                tags_code: req.tags_code,
                sets_min: placeholders > 0,
                store_timestamp: req.store_timestamp,
            });
        }
        Ok(())
    }

    /// Ends an append round: writes the buffered units (readers use pread,
    /// so a unit reaches the file before its queue's max offset moves), then
    /// publishes the round's arrivals in commitlog order.
    pub fn end_round(&mut self) {
        let mut failed = Vec::new();
        for (i, (topic, queue_id)) in self.dirty.iter().enumerate() {
            if let Some((w, round)) = self.writers.get_mut(&(topic.clone(), *queue_id)) {
                *round = None;
                if let Err(e) = w.flush() {
                    failed.push((i, e));
                }
            }
        }
        for (_, e) in &failed {
            self.fail("consume queue", e);
        }
        for a in self.arrived.drain(..) {
            if failed.iter().any(|(i, _)| *i == a.dirty) {
                continue;
            }
            if a.sets_min {
                a.queue.set_min(a.queue_offset);
            }
            a.queue.set_max(a.queue_offset + 1);
            self.last_cq_timestamp = a.store_timestamp;
            if let Some(cb) = &self.arrival {
                let (topic, queue_id) = &self.dirty[a.dirty];
                cb(topic, *queue_id, a.queue_offset + 1, a.tags_code);
            }
        }
        self.dirty.clear();
    }

    /// The dispatch hook body.
    pub fn dispatch(&mut self, req: &DispatchRequest) {
        if let Err(e) = self.cq(req) {
            self.fail("consume queue", &e);
        }
        if let Some(ix) = &mut self.index {
            match ix.build_index(req) {
                Ok(()) => self.checkpoint.set_index_msg_timestamp(ix.last_full_end_timestamp()),
                Err(e) => {
                    let e = e.to_string();
                    self.fail_msg("index", &e);
                }
            }
        }
    }

    fn fail(&mut self, what: &str, e: &StoreError) {
        self.fail_msg(what, &e.to_string());
    }

    fn fail_msg(&mut self, what: &str, e: &str) {
        // one line per kind of failure is enough; every later message would repeat it
        if !self.failed {
            error!(error = %e, "writing the {what} failed; the store keeps appending");
        }
        self.failed = true;
    }

    /// A topic was deleted: forget its writers (their tails point into removed files).
    pub fn forget_topic(&mut self, topic: &str) {
        self.end_round();
        self.writers.retain(|(t, _), _| t != topic);
    }

    /// The log was cut back (a slave taking over): queue entries at or past
    /// `offset` are no longer backed by the log.
    /// Returns the queues whose next offset moved back, for the writer.
    pub fn truncated(&mut self, offset: u64) -> Vec<(String, i32, i64)> {
        // writers hold tails that may now be past the end: they reload from disk
        self.flush_all();
        self.writers.clear();
        let mut moved = Vec::new();
        for (topic, qid, q) in self.queues.all() {
            match q.truncate_phy(offset as i64) {
                Ok(Some(next)) => moved.push((topic, qid, next)),
                Ok(None) => {}
                Err(e) => self.fail("consume queue truncation", &e),
            }
        }
        warn!(offset, queues = moved.len(), "commitlog truncated, consume queues trimmed");
        moved
    }

    fn flush_all(&mut self) {
        self.end_round();
        for (w, _) in self.writers.values_mut() {
            if let Err(e) = w.finish() {
                error!(error = %e, dir = %w.dir().display(), "consume queue sync failed");
            }
        }
        if let Some(ix) = &mut self.index {
            if let Err(e) = ix.finish() {
                error!(error = %e, "index sync failed");
            }
            self.checkpoint.set_index_msg_timestamp(ix.last_full_end_timestamp());
        }
        if self.last_cq_timestamp > 0 {
            self.checkpoint.set_logics_msg_timestamp(self.last_cq_timestamp);
        }
    }
}

impl Drop for DispatchSink {
    /// The append thread ends at shutdown: everything written becomes durable
    /// and only then does the checkpoint claim it.
    fn drop(&mut self) {
        self.flush_all();
    }
}
