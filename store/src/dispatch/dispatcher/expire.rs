//! Expired consume-queue and index files for a running dispatcher (rules in
//! [`crate::cleanup`]), and the min offset of every queue.
//!
//! The dispatcher owns the open writers, so a run goes through it: a queue's
//! writer is flushed before its files are looked at, the file a writer fills
//! is never deleted, and the min offsets it keeps are the ones corrected.
//! Wiring for a running store, where the commitlog writer's append thread
//! dispatches and its cleaner thread reports the new min offset:
//!
//! ```text
//! let d = Arc::new(Mutex::new(dispatcher));
//! d.lock().unwrap().correct_min_offsets(writer_min_offset); // Java does this when it opens the store
//! hooks.dispatch = Some(Box::new({ let d = d.clone(); move |r| { d.lock().unwrap().dispatch(r); } }));
//! hooks.on_min_offset = Some(Box::new(Dispatcher::min_offset_hook(d.clone())));
//! let mins = d.lock().unwrap().min_offsets(); // readable from any thread
//! ```
//!
//! [`Dispatcher::delete_expired_shared`] takes the lock once per queue, so
//! appends wait for one queue's cleanup at most, never for the whole run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::Dispatcher;
use crate::cleanup::{clean_index, clean_queue, CleanupReport, Mode, QueueCleaned, QueueMinOffsets, WritePos};
use crate::consume_queue::list_queues;
use crate::error::Result;

fn lock(d: &Mutex<Dispatcher>) -> MutexGuard<'_, Dispatcher> {
    d.lock().unwrap_or_else(|e| e.into_inner())
}

impl Dispatcher {
    /// The min offsets this dispatcher keeps, as a handle other threads read.
    pub fn min_offsets(&self) -> QueueMinOffsets {
        self.mins.clone()
    }

    /// Java `getMinOffsetInQueue`: 0 until corrected (see
    /// [`Dispatcher::correct_min_offsets`]) or set by a queue that starts mid-way.
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.mins.min_offset(topic, queue_id)
    }

    fn run_mode(&self, correct_only: bool) -> Mode {
        match (correct_only, self.dry_run) {
            (true, _) => Mode::CorrectOnly,
            (false, true) => Mode::DryRun,
            (false, false) => Mode::Delete,
        }
    }

    /// One queue: its writer's units go to disk first, then the files are cleaned.
    fn clean_one(&mut self, topic: &str, queue_id: i32, dir: &Path, min_phy: u64, mode: &Mode) -> Result<QueueCleaned> {
        let key = (topic.to_string(), queue_id);
        let tail = match self.queues.get_mut(&key) {
            // a dry run's writers have nothing on disk: the files alone count
            Some(_) if self.dry_run => None,
            Some(w) => {
                w.flush()?;
                Some(w.tail())
            }
            None if self.fresh => None,
            None => self.tails.get(&key).copied(),
        };
        let pos = tail.and_then(|t| t.last_file_start.map(|s| WritePos { last_file_start: s, wrote: t.wrote }));
        let prev = self.mins.min_logic_offset(topic, queue_id).unwrap_or(0);
        let r = clean_queue(dir, self.target.cq_file_size, min_phy, prev, pos, mode)?;
        if *mode != Mode::DryRun {
            self.mins.set(topic, queue_id, r.min_logic_offset);
            if let Some(w) = self.queues.get_mut(&key) {
                w.forget_files(&r.deleted);
            }
        }
        Ok(r)
    }

    fn clean_index_files(&mut self, min_phy: u64) -> Result<Vec<PathBuf>> {
        let Some(dir) = &self.target.index_dir else { return Ok(Vec::new()) };
        let keep = self.index.as_ref().and_then(|ix| ix.current_path());
        clean_index(dir, min_phy, keep, self.dry_run)
    }

    /// Java's `correctMinOffset` of every queue on disk against the commitlog's
    /// min offset, without deleting anything (what Java does when it opens the
    /// store). Call it once before serving min offsets.
    pub fn correct_min_offsets(&mut self, min_phy: u64) -> CleanupReport {
        self.run(min_phy, true)
    }

    /// `CleanConsumeQueueService`: deletes consume-queue files and index files
    /// below `min_phy` (the commitlog's new min offset) and corrects the min
    /// offsets. Running it again with the same offset deletes nothing more; it
    /// re-corrects, which also covers a record dispatched just after its
    /// commitlog file went (Java's `CorrectLogicOffsetService` does that
    /// periodically). A dry-run dispatcher only reports.
    pub fn delete_expired(&mut self, min_phy: u64) -> CleanupReport {
        self.run(min_phy, false)
    }

    fn run(&mut self, min_phy: u64, correct_only: bool) -> CleanupReport {
        let mode = self.run_mode(correct_only);
        let mut report = CleanupReport { min_physical_offset: min_phy, ..Default::default() };
        match list_queues(&self.target.cq_root) {
            Ok(queues) => {
                for (topic, qid, dir) in queues {
                    let r = self.clean_one(&topic, qid, &dir, min_phy, &mode);
                    report.add(&topic, qid, r);
                }
            }
            Err(e) => report.errors.push(e),
        }
        if !correct_only {
            match self.clean_index_files(min_phy) {
                Ok(d) => report.index_files_deleted = d,
                Err(e) => report.errors.push(e),
            }
        }
        report
    }

    /// [`Dispatcher::delete_expired`] on a dispatcher shared with the append
    /// thread: the lock is held for one queue at a time.
    pub fn delete_expired_shared(d: &Mutex<Dispatcher>, min_phy: u64) -> CleanupReport {
        let (root, mode) = {
            let g = lock(d);
            (g.target.cq_root.clone(), g.run_mode(false))
        };
        let mut report = CleanupReport { min_physical_offset: min_phy, ..Default::default() };
        // a queue created after this listing starts above min_phy: nothing to clean
        match list_queues(&root) {
            Ok(queues) => {
                for (topic, qid, dir) in queues {
                    let r = lock(d).clean_one(&topic, qid, &dir, min_phy, &mode);
                    report.add(&topic, qid, r);
                }
            }
            Err(e) => report.errors.push(e),
        }
        match lock(d).clean_index_files(min_phy) {
            Ok(files) => report.index_files_deleted = files,
            Err(e) => report.errors.push(e),
        }
        report
    }

    /// A closure for the commitlog writer's `Hooks::on_min_offset`: runs
    /// [`Dispatcher::delete_expired_shared`] and logs what it did.
    pub fn min_offset_hook(d: Arc<Mutex<Dispatcher>>) -> impl Fn(u64) + Send + Sync + 'static {
        move |min_phy| {
            let r = Dispatcher::delete_expired_shared(&d, min_phy);
            log_report(&r);
        }
    }
}

/// One line for the run, one per problem.
pub(crate) fn log_report(r: &CleanupReport) {
    tracing::info!(
        min_offset = r.min_physical_offset,
        cq_files = r.cq_files_deleted.len(),
        index_files = r.index_files_deleted.len(),
        "expired consume queue and index files deleted"
    );
    for n in &r.notes {
        tracing::warn!("consume queue cleanup: {n}");
    }
    for e in &r.errors {
        tracing::error!(error = %e, "consume queue cleanup failed");
    }
}
