//! Getting written bytes onto the disk.
//!
//! * ASYNC_FLUSH: every `flushIntervalCommitLog` flush when at least
//!   `flushCommitLogLeastPages` pages are dirty, everything at least every
//!   `flushCommitLogThoroughInterval` (Java `FlushRealTimeService`).
//! * SYNC_FLUSH: group commit. Waiting puts queue up while a flush runs; the
//!   next flush covers all of them at once (Java `GroupCommitService`). A
//!   watcher resolves puts still waiting after `syncFlushTimeout` with
//!   FLUSH_DISK_TIMEOUT even if the disk hangs (Java `FlushDiskWatcher`).
//!
//! After a complete flush the checkpoint's physicMsgTimestamp is updated.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::completion::Completer;
use super::config::{AppendConfig, FlushDiskType};
use super::encode::{PutResult, PutStatus};
use super::file::WritableQueue;
use super::lifecycle::CheckpointFile;

/// A put waiting for its bytes to reach the disk.
pub(crate) struct GroupCommitRequest {
    /// Offset just after the put's last record.
    pub next_offset: u64,
    pub done: Completer<PutResult>,
    /// What to deliver once flushed (status is replaced on timeout).
    pub result: PutResult,
}

struct Watched {
    deadline: Instant,
    done: Completer<PutResult>,
    result: PutResult,
}

#[derive(Default)]
struct State {
    requests: Vec<GroupCommitRequest>,
    stop: bool,
}

pub(crate) struct FlushService {
    queue: Arc<WritableQueue>,
    checkpoint: Option<Arc<CheckpointFile>>,
    kind: FlushDiskType,
    interval: Duration,
    least_pages: u32,
    thorough: Duration,
    timeout: Duration,
    delay: Option<Duration>,
    state: Mutex<State>,
    cv: Condvar,
    watch: Mutex<(VecDeque<Watched>, bool)>,
    watch_cv: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How often the checkpoint page itself is made durable.
const CHECKPOINT_SYNC_EVERY: Duration = Duration::from_secs(1);

impl FlushService {
    pub fn new(queue: Arc<WritableQueue>, checkpoint: Option<Arc<CheckpointFile>>, cfg: &AppendConfig) -> Self {
        FlushService {
            queue,
            checkpoint,
            kind: cfg.flush_disk_type,
            interval: cfg.flush_interval,
            least_pages: cfg.flush_least_pages,
            thorough: cfg.flush_thorough_interval,
            timeout: cfg.sync_flush_timeout,
            delay: cfg.flush_delay_for_tests,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            watch: Mutex::new((VecDeque::new(), false)),
            watch_cv: Condvar::new(),
        }
    }

    pub fn kind(&self) -> FlushDiskType {
        self.kind
    }

    /// Queues SYNC_FLUSH waiters (from the append thread, after the write).
    pub fn submit(&self, reqs: Vec<GroupCommitRequest>) {
        if reqs.is_empty() {
            return;
        }
        let deadline = Instant::now() + self.timeout;
        {
            let mut w = lock(&self.watch);
            let was_empty = w.0.is_empty();
            w.0.extend(reqs.iter().map(|r| Watched { deadline, done: r.done.clone(), result: r.result.clone() }));
            if was_empty {
                self.watch_cv.notify_one();
            }
        }
        lock(&self.state).requests.extend(reqs);
        self.cv.notify_one();
    }

    /// Asks the threads to finish: the flush thread does a last complete flush.
    pub fn stop(&self) {
        lock(&self.state).stop = true;
        self.cv.notify_all();
        lock(&self.watch).1 = true;
        self.watch_cv.notify_all();
    }

    /// Flushes everything now (shutdown, tests, role changes).
    pub fn flush_all(&self) -> crate::Result<()> {
        self.queue.flush(0, None)?;
        self.after_flush(None);
        Ok(())
    }

    /// The flush thread body, for either flush type.
    pub fn run(self: Arc<Self>) {
        match self.kind {
            FlushDiskType::Async => self.run_async(),
            FlushDiskType::Sync => self.run_group_commit(),
        }
        // as Java: retry the final complete flush a few times
        for i in 0..10 {
            match self.queue.flush(0, None) {
                Ok(_) => break,
                Err(e) => tracing::error!(error = %e, attempt = i + 1, "final commitlog flush failed"),
            }
        }
        self.after_flush(None);
        if let Some(c) = &self.checkpoint {
            if let Err(e) = c.flush() {
                tracing::error!(error = %e, "checkpoint flush failed");
            }
        }
    }

    fn after_flush(&self, last_cp_sync: Option<&mut Instant>) {
        let Some(c) = &self.checkpoint else { return };
        let ts = self.queue.flushed_store_timestamp();
        if ts > 0 {
            c.set_physic_msg_timestamp(ts);
        }
        if let Some(last) = last_cp_sync {
            if last.elapsed() >= CHECKPOINT_SYNC_EVERY {
                *last = Instant::now();
                if let Err(e) = c.flush() {
                    tracing::warn!(error = %e, "checkpoint flush failed");
                }
            }
        }
    }

    fn run_async(&self) {
        let mut last_thorough = Instant::now();
        let mut last_cp = Instant::now();
        loop {
            {
                // flushCommitLogTimed: sleep the interval, but wake for stop
                let s = lock(&self.state);
                if s.stop {
                    return;
                }
                let (s, _) = self.cv.wait_timeout(s, self.interval).unwrap_or_else(|e| e.into_inner());
                if s.stop {
                    return;
                }
            }
            let mut least = self.least_pages;
            if last_thorough.elapsed() >= self.thorough {
                last_thorough = Instant::now();
                least = 0;
            }
            if let Err(e) = self.queue.flush(least, self.delay) {
                tracing::warn!(error = %e, "commitlog flush failed");
            }
            self.after_flush(Some(&mut last_cp));
        }
    }

    fn run_group_commit(&self) {
        let mut last_cp = Instant::now();
        loop {
            let (reqs, stop) = {
                let mut s = lock(&self.state);
                if s.requests.is_empty() && !s.stop {
                    s = self.cv.wait_timeout(s, Duration::from_millis(10)).unwrap_or_else(|e| e.into_inner()).0;
                }
                (std::mem::take(&mut s.requests), s.stop)
            };
            // idle rounds flush too (slave bytes, WAIT=false puts), like Java's 10 ms loop
            let flushed = self.queue.flush(0, self.delay);
            if let Err(e) = &flushed {
                tracing::error!(error = %e, "commitlog group commit failed");
            }
            let fw = self.queue.flushed_where();
            for r in reqs {
                let mut res = r.result;
                if flushed.is_err() || fw < r.next_offset {
                    res.status = PutStatus::FlushDiskTimeout;
                }
                r.done.complete(res);
            }
            self.after_flush(Some(&mut last_cp));
            if stop && lock(&self.state).requests.is_empty() {
                return;
            }
        }
    }

    /// The syncFlushTimeout watcher thread body.
    pub fn run_watcher(self: Arc<Self>) {
        let mut w = lock(&self.watch);
        loop {
            while w.0.front().is_some_and(|x| x.done.is_done()) {
                w.0.pop_front();
            }
            let Some(front) = w.0.front() else {
                if w.1 {
                    return;
                }
                w = self.watch_cv.wait(w).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let now = Instant::now();
            if now >= front.deadline {
                let x = w.0.pop_front().expect("checked");
                let mut res = x.result;
                res.status = PutStatus::FlushDiskTimeout;
                if x.done.complete(res) {
                    tracing::warn!(timeout = ?self.timeout, "SYNC_FLUSH put timed out waiting for the disk");
                }
                continue;
            }
            if w.1 {
                // stopping: the flush thread resolves what is left
                return;
            }
            // nobody signals completions here: re-check the front now and then
            let wait = (front.deadline - now).min(Duration::from_millis(20));
            w = self.watch_cv.wait_timeout(w, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}
