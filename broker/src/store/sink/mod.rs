//! The write side of the consume queues and the index: the commitlog
//! writer's dispatch hook (Java's `CommitLogDispatcherBuildConsumeQueue` and
//! `...BuildIndex`, run by its reput thread). It runs on the append thread,
//! after a record is written and before its put resolves, so a message is
//! pullable by the time its producer hears back.

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
    writers: HashMap<(String, i32), CqWriter>,
    index: Option<IndexWriter>,
    index_dir: Option<PathBuf>,
    checkpoint: Arc<CheckpointFile>,
    arrival: Option<ArrivalFn>,
    last_cq_timestamp: i64,
    failed: bool,
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
            failed: false,
        })
    }

    fn writer(&mut self, topic: &str, queue_id: i32) -> Result<&mut CqWriter, StoreError> {
        let key = (topic.to_string(), queue_id);
        if !self.writers.contains_key(&key) {
            let dir = self.cq_root.join(topic).join(queue_id.to_string());
            let size = self.queues.file_size();
            let tail = tail_from_disk(&dir, size)?;
            self.writers.insert(key.clone(), CqWriter::new(&dir, size, tail, false)?);
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
        let w = self.writer(&req.topic, req.queue_id)?;
        let outcome = w.put(req.commit_log_offset, req.msg_size, req.tags_code, req.consume_queue_offset)?;
        // readers use pread: the unit must reach the file before `max` moves
        w.flush()?;
        if let PutOutcome::Written { queue_offset, expected, placeholders } = outcome {
            if queue_offset != expected {
                warn!(topic = %req.topic, queue = req.queue_id, queue_offset, expected, "logic queue order maybe wrong");
            }
            let q = self.queues.get_or_create(&req.topic, req.queue_id);
            if placeholders > 0 {
                // a queue's first file created mid-way (Java fillPreBlank sets minLogicOffset)
                q.set_min(queue_offset as i64);
            }
            q.set_max(queue_offset as i64 + 1);
            self.last_cq_timestamp = req.store_timestamp;
            if let Some(a) = &self.arrival {
                a(&req.topic, req.queue_id, queue_offset as i64 + 1, req.tags_code);
            }
        }
        Ok(())
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
        for w in self.writers.values_mut() {
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
