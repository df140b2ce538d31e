//! Java's `CleanConsumeQueueService` for a running broker: after the
//! commitlog's cleaner deleted expired files (its `on_min_offset` hook, on the
//! cleaner thread), consume-queue files whose units all point below the new
//! min offset go, every queue's min offset is corrected, and index files that
//! end below it go too. The sink lock is taken once per queue, so appends
//! wait for one queue at most.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rmq_store::cleanup::{clean_index, clean_queue, Mode, QueueCleaned, WritePos};
use rmq_store::consume_queue::{list_queues, CQ_UNIT_SIZE};
use rmq_store::StoreError;
use tracing::{error, info, warn};

use super::DispatchSink;

impl DispatchSink {
    /// One queue: its writer's units reach the file first (they are read
    /// from disk), then its expired files are deleted and its min corrected.
    fn expire_queue(
        &mut self,
        topic: &str,
        queue_id: i32,
        dir: &Path,
        min_phy: u64,
    ) -> Result<QueueCleaned, StoreError> {
        let key = (topic.to_string(), queue_id);
        let pos = match self.writers.get_mut(&key) {
            Some((w, _)) => {
                w.flush()?;
                let t = w.tail();
                t.last_file_start.map(|s| WritePos { last_file_start: s, wrote: t.wrote })
            }
            None => None,
        };
        let q = self.queues.get_or_create(topic, queue_id);
        let prev = q.min_offset().max(0) as u64 * CQ_UNIT_SIZE;
        let r = clean_queue(dir, self.queues.file_size(), min_phy, prev, pos, &Mode::Delete)?;
        if let Some((w, _)) = self.writers.get_mut(&key) {
            w.forget_files(&r.deleted);
        }
        q.forget_files(&r.deleted);
        q.set_min(r.min_offset());
        Ok(r)
    }

    /// Index files ending below `min_phy`; never the one being written.
    fn expire_index(&mut self, min_phy: u64) -> Result<Vec<PathBuf>, StoreError> {
        let (Some(dir), Some(ix)) = (&self.index_dir, &self.index) else { return Ok(Vec::new()) };
        clean_index(dir, min_phy, ix.current_path(), false)
    }
}

/// Runs the cleanup for the new min physical offset. Does nothing once the
/// store has shut down (the sink is gone).
pub(crate) fn expire_all(sink: &Mutex<Option<DispatchSink>>, cq_root: &Path, min_phy: u64) {
    let queues = match list_queues(cq_root) {
        Ok(q) => q,
        Err(e) => {
            error!(error = %e, "consume queue cleanup: cannot list queues");
            return;
        }
    };
    let (mut files, mut failed) = (0usize, 0usize);
    for (topic, qid, dir) in queues {
        let mut g = sink.lock();
        let Some(s) = g.as_mut() else { return };
        match s.expire_queue(&topic, qid, &dir, min_phy) {
            Ok(r) => {
                files += r.deleted.len();
                if let Some(e) = r.error {
                    failed += 1;
                    error!(topic = %topic, queue = qid, error = %e, "consume queue cleanup stopped");
                }
                if let Some(n) = r.note {
                    warn!(topic = %topic, queue = qid, "consume queue cleanup: {n}");
                }
            }
            Err(e) => {
                failed += 1;
                error!(topic = %topic, queue = qid, error = %e, "consume queue cleanup failed");
            }
        }
    }
    let index = match sink.lock().as_mut().map(|s| s.expire_index(min_phy)) {
        Some(Ok(d)) => d.len(),
        Some(Err(e)) => {
            error!(error = %e, "index cleanup failed");
            0
        }
        None => return,
    };
    info!(
        min_offset = min_phy,
        cq_files = files,
        index_files = index,
        failed,
        "expired consume queue and index files deleted"
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rmq_store::append::CheckpointFile;
    use rmq_store::dispatch::{DispatchRequest, JavaVersion};
    use rmq_store::mapped_file::list_mapped_files;

    use super::*;
    use crate::store::queues::QueueTable;

    fn req(q: i32, phy: i64, qoff: i64) -> DispatchRequest {
        DispatchRequest {
            topic: "T".into(),
            queue_id: q,
            commit_log_offset: phy,
            msg_size: 100,
            tags_code: 0,
            store_timestamp: 1,
            consume_queue_offset: qoff,
            keys: None,
            uniq_key: None,
            sys_flag: 0,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn expired_queue_files_go_and_min_offsets_follow() {
        let tmp = tempfile::tempdir().unwrap();
        let cq_root = tmp.path().join("consumequeue");
        let file_size = 4 * CQ_UNIT_SIZE;
        let queues = Arc::new(QueueTable::load(&cq_root, file_size, 0).unwrap());
        let cp = Arc::new(CheckpointFile::open(&tmp.path().join("checkpoint"), JavaVersion::V4_9_8).unwrap());
        let sink = DispatchSink::new(queues.clone(), cq_root.clone(), None, cp, None).unwrap();
        let sink = Mutex::new(Some(sink));
        // queue 0: 10 messages at phy 0, 100, ..., 900 (3 files); queue 1: one message at 950
        for i in 0..10 {
            sink.lock().as_mut().unwrap().dispatch(&req(0, i * 100, i));
        }
        sink.lock().as_mut().unwrap().dispatch(&req(1, 950, 0));
        sink.lock().as_mut().unwrap().end_round();
        let q0 = cq_root.join("T/0");
        assert_eq!(list_mapped_files(&q0).unwrap().len(), 3);

        // the commitlog now starts at 500: the first file (units 0..4, phy 0..300) goes,
        // the second (phy 400..700) stays because its last unit is above; min = unit 5
        expire_all(&sink, &cq_root, 500);
        let left: Vec<u64> = list_mapped_files(&q0).unwrap().into_iter().map(|(s, _)| s).collect();
        assert_eq!(left, [file_size, 2 * file_size]);
        let q = queues.find("T", 0).unwrap();
        assert_eq!((q.min_offset(), q.max_offset()), (5, 10));
        assert!(q.read_from(3, 1).unwrap().is_empty(), "the deleted file reads as gone");
        assert_eq!(q.read_from(5, 1).unwrap()[0].physical_offset, 500);
        assert_eq!(queues.find("T", 1).unwrap().min_offset(), 0);

        // appends keep going into the same writer afterwards
        sink.lock().as_mut().unwrap().dispatch(&req(0, 1000, 10));
        sink.lock().as_mut().unwrap().end_round();
        assert_eq!(q.max_offset(), 11);
        // everything but the file being written expires; again is a no-op for the files
        expire_all(&sink, &cq_root, 1100);
        let left: Vec<u64> = list_mapped_files(&q0).unwrap().into_iter().map(|(s, _)| s).collect();
        assert_eq!(left, [2 * file_size]);
        assert_eq!(q.min_offset(), 11, "nothing left that the commitlog backs");
        expire_all(&sink, &cq_root, 1100);
        assert_eq!(list_mapped_files(&q0).unwrap().len(), 1);
        // after shutdown (sink gone) the hook does nothing
        *sink.lock() = None;
        expire_all(&sink, &cq_root, 5000);
        assert_eq!(list_mapped_files(&q0).unwrap().len(), 1);
    }
}
