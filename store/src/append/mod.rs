//! Writing the commitlog: appends (client puts on a master, replicated bytes
//! on a slave), flushing (ASYNC_FLUSH / SYNC_FLUSH group commit), expired
//! file deletion, and the lock/abort/checkpoint files of a running store.
//!
//! Threading: no async runtime here. One append thread owns the write
//! position; callers queue requests through a bounded channel and get a
//! [`Completion`], which can be `.await`ed on any executor or waited on
//! (`wait()`) from plain threads. `put` never blocks (a full queue or a round
//! stuck longer than `osPageCacheBusyTimeOutMills` answers OS_PAGE_CACHE_BUSY),
//! so the broker can call it straight from a tokio task; `append_raw`,
//! `truncate` and `set_role` wait for queue room. The append thread takes
//! whatever is queued, encodes it into one buffer and writes it with one
//! `pwrite`, so a busy broker pays one syscall per run of puts. Further
//! threads: the flusher (plus the SYNC_FLUSH timeout watcher) and the cleaner.
//!
//! The consume-queue/index side plugs in through [`Hooks`]: every stored
//! message produces a [`DispatchRequest`] on the append thread (after its
//! bytes are written, before the put resolves), a truncation and a deletion of
//! expired files report the new bounds.
//!
//! Startup order for a broker: [`StoreSession::begin`] (lock, abort state,
//! checkpoint) → recovery → [`CommitLogWriter::open`] with the recovered end
//! offset and queue offsets → [`StoreSession::mark_running`]. Shutdown:
//! [`CommitLogWriter::shutdown`] → [`StoreSession::close_clean`].

mod appender;
pub mod clean;
pub mod completion;
pub mod config;
pub mod encode;
pub mod file;
mod flush;
mod handoff;
pub mod lifecycle;
mod offsets;
mod tail;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use bytes::Bytes;

pub use crate::dispatch::{DispatchRequest, JavaVersion};
pub use appender::{DispatchEndHook, DispatchHook, TruncateHook};
pub use clean::{CleanEnv, CleanOutcome, Cleaner, MinOffsetHook, SystemEnv};
pub use completion::{Canceled, Completion};
pub use config::{AppendConfig, CleanConfig, FlushDiskType, Role};
pub use encode::{dispatch_tags_code, AppendResult, MessageToStore, PutResult, PutStatus, RecordOffsets};
pub use file::{WritableFile, WritableQueue};
pub use handoff::{Handoff, HANDOFF};
pub use lifecycle::{CheckpointFile, StoreSession};
pub use offsets::QueueOffsets;

use appender::{Appender, Msgs, Request, Shared};
use completion::pair;
use encode::EncodeRules;
use flush::FlushService;
use tail::{check_put, may_stage_early, Room, Staged, Tail, TailSignal, WRITE_BUFFER_MAX};

use crate::error::{Result, StoreError};
use crate::record::{decode, Decoded};

/// Failures of the non-put operations.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{op} refused: the store is in {role:?} role")]
    WrongRole { op: &'static str, role: Role },
    #[error("replicated data starts at offset {got}, but the commitlog ends at {expected}")]
    OffsetMismatch { expected: u64, got: u64 },
    #[error("the commitlog writer is shut down")]
    ShutDown,
}

/// Where the consume-queue/index side hooks in. Hooks run on writer threads:
/// they must not wait on the writer's own completions (that would deadlock).
#[derive(Default)]
pub struct Hooks {
    /// Every stored message, in commitlog order (append thread).
    pub dispatch: Option<DispatchHook>,
    /// A run of dispatched messages ended (append thread): whatever `dispatch`
    /// buffered must become visible now, before those puts resolve.
    pub dispatch_end: Option<DispatchEndHook>,
    /// The log was cut back to this offset: drop CQ/index entries at or after it
    /// and then reset the queue offsets ([`CommitLogWriter::set_queue_offset`]).
    pub on_truncate: Option<TruncateHook>,
    /// Expired files were deleted; the argument is the new minimum physical offset.
    pub on_min_offset: Option<MinOffsetHook>,
}

/// Everything [`CommitLogWriter::open`] needs.
pub struct WriterOptions {
    /// Commitlog directories (`storePathCommitLog`, possibly several).
    pub dirs: Vec<PathBuf>,
    pub config: AppendConfig,
    /// Valid end of the log from recovery; `None` scans the records to find it.
    pub end_offset: Option<u64>,
    /// Next queue offsets rebuilt by recovery.
    pub queue_offsets: QueueOffsets,
    /// Where physicMsgTimestamp goes (from [`StoreSession::checkpoint`]).
    pub checkpoint: Option<Arc<CheckpointFile>>,
    /// `consumequeue` directory, included in the disk-space check.
    pub logics_dir: Option<PathBuf>,
    pub hooks: Hooks,
    /// Clock and disk facts for the cleaner (`None` = the real ones).
    pub clean_env: Option<Box<dyn CleanEnv>>,
    /// Run the periodic cleaner thread (else call `cleaner().run_once()`).
    pub run_cleaner: bool,
}

impl WriterOptions {
    pub fn new(dirs: Vec<PathBuf>, config: AppendConfig) -> Self {
        WriterOptions {
            dirs,
            config,
            end_offset: None,
            queue_offsets: QueueOffsets::default(),
            checkpoint: None,
            logics_dir: None,
            hooks: Hooks::default(),
            clean_env: None,
            run_cleaner: true,
        }
    }
}

/// The running commitlog writer. `Send + Sync`; share it in an `Arc`.
pub struct CommitLogWriter {
    tx: RwLock<Option<SyncSender<Request>>>,
    busy_since: Arc<AtomicI64>,
    /// Last round start a put saw (see `is_os_page_cache_busy`).
    busy_seen: AtomicI64,
    busy_hits: std::sync::atomic::AtomicU32,
    busy_timeout_ms: i64,
    queue: Arc<WritableQueue>,
    flush: Arc<FlushService>,
    cleaner: Arc<Cleaner>,
    offsets: Arc<Mutex<QueueOffsets>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    tail: Arc<Mutex<Tail>>,
    signal: Arc<TailSignal>,
    /// Write-buffer mode (`AppendConfig::write_buffer` with ASYNC_FLUSH).
    write_buffer: bool,
    stopping: Arc<AtomicBool>,
    rules: EncodeRules,
    disk_full: Arc<AtomicBool>,
}

impl std::fmt::Debug for CommitLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitLogWriter").field("queue", &self.queue).finish()
    }
}

/// Requests queued for the append thread (about 200 bytes each, allocated
/// up front). Puts beyond it get OS_PAGE_CACHE_BUSY instead of blocking.
const QUEUE_CAPACITY: usize = 64 * 1024;

/// Resolves a request that never reached the append thread.
fn reject(req: Request, status: PutStatus) {
    match req {
        Request::Put { done, .. } => {
            done.complete(PutResult::status(status));
        }
        Request::Raw { done, .. } | Request::SetRole { done, .. } => {
            done.complete(Err(AppendError::ShutDown));
        }
        Request::Truncate { done, .. } => {
            done.complete(Err(AppendError::ShutDown));
        }
        Request::Wake => {}
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.into()).spawn(f).map_err(|e| StoreError::io(name, e))
}

impl CommitLogWriter {
    /// Loads the files, cuts them to the recovered end, starts the threads.
    pub fn open(o: WriterOptions) -> Result<Self> {
        let cfg = o.config;
        cfg.validate().map_err(|m| StoreError::layout(o.dirs.first().cloned().unwrap_or_default(), m))?;
        let queue = Arc::new(WritableQueue::open(&o.dirs, cfg.file_size, o.end_offset)?);
        let flush = Arc::new(FlushService::new(queue.clone(), o.checkpoint, &cfg));
        let disk_full = Arc::new(AtomicBool::new(false));
        let busy_since = Arc::new(AtomicI64::new(0));
        let cleaner = Arc::new(Cleaner::new(
            queue.clone(),
            cfg.clean.clone(),
            o.clean_env.unwrap_or_else(|| Box::new(SystemEnv)),
            o.logics_dir,
            o.hooks.on_min_offset,
            disk_full.clone(),
        ));
        let offsets = Arc::new(Mutex::new(o.queue_offsets));
        let rules = EncodeRules {
            max_message_size: cfg.max_message_size,
            allow_v2: cfg.layout == JavaVersion::V5_3_3,
            auto_v2: cfg.auto_message_version_on_topic_len,
            prop_crc: cfg.enabled_append_prop_crc && cfg.layout == JavaVersion::V5_3_3,
        };
        let write_buffer = cfg.write_buffer && cfg.flush_disk_type == FlushDiskType::Async;
        let shared = Shared {
            tail: Arc::new(Mutex::new(Tail::new(cfg.role, cfg.file_size))),
            signal: Arc::new(TailSignal::default()),
            write_buffer,
            stopping: Arc::new(AtomicBool::new(false)),
        };
        let (tail, signal, stopping) = (shared.tail.clone(), shared.signal.clone(), shared.stopping.clone());
        let mut appender = Appender::new(
            queue.clone(),
            flush.clone(),
            rules.clone(),
            cfg.delay_levels_ms.clone(),
            cfg.layout,
            cfg.role,
            offsets.clone(),
            o.hooks.dispatch,
            o.hooks.on_truncate,
            disk_full.clone(),
            busy_since.clone(),
            shared,
        );
        appender.dispatch_end = o.hooks.dispatch_end;
        let (tx, rx) = mpsc::sync_channel(QUEUE_CAPACITY);
        let mut threads = vec![spawn("rmq-commitlog-append", move || appender.run(rx))?];
        let f = flush.clone();
        threads.push(spawn("rmq-commitlog-flush", move || f.run())?);
        if cfg.flush_disk_type == FlushDiskType::Sync {
            let f = flush.clone();
            threads.push(spawn("rmq-commitlog-flush-watch", move || f.run_watcher())?);
        }
        if o.run_cleaner {
            let c = cleaner.clone();
            threads.push(spawn("rmq-commitlog-clean", move || c.run())?);
        }
        Ok(CommitLogWriter {
            tx: RwLock::new(Some(tx)),
            busy_since,
            busy_seen: AtomicI64::new(0),
            busy_hits: std::sync::atomic::AtomicU32::new(0),
            busy_timeout_ms: cfg.os_page_cache_busy_timeout.as_millis() as i64,
            queue,
            flush,
            cleaner,
            offsets,
            threads: Mutex::new(threads),
            tail,
            signal,
            write_buffer,
            stopping,
            rules,
            disk_full,
        })
    }

    fn send(&self, req: Request) {
        let tx = self.tx.read().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = tx.as_ref() else {
            if matches!(req, Request::Put { .. }) {
                self.unqueue();
            }
            return reject(req, PutStatus::ServiceNotAvailable);
        };
        match req {
            // a put never blocks its (async) caller: a full queue is backpressure
            put @ Request::Put { .. } => match tx.try_send(put) {
                Ok(()) => HANDOFF.put_queued(),
                Err(TrySendError::Full(r)) => {
                    self.unqueue();
                    reject(r, PutStatus::OsPageCacheBusy)
                }
                Err(TrySendError::Disconnected(r)) => {
                    self.unqueue();
                    reject(r, PutStatus::ServiceNotAvailable)
                }
            },
            // replication and role changes are rare and must not be dropped: wait for room
            other => {
                if let Err(e) = tx.send(other) {
                    reject(e.0, PutStatus::ServiceNotAvailable);
                }
            }
        }
    }

    /// Stores one message. Resolves once written (ASYNC_FLUSH) or on disk
    /// (SYNC_FLUSH, unless the message has `WAIT=false`).
    pub fn put(&self, msg: MessageToStore) -> Completion<PutResult> {
        self.put_msgs(Msgs::One(msg))
    }

    /// Stores a batch (one topic/queue) as consecutive records that never
    /// straddle a file end; one result with every offset.
    pub fn put_batch(&self, msgs: Vec<MessageToStore>) -> Completion<PutResult> {
        self.put_msgs(Msgs::Batch(msgs))
    }

    fn put_msgs(&self, msgs: Msgs) -> Completion<PutResult> {
        if self.busy_fast() {
            return Completion::ready(PutResult::status(PutStatus::OsPageCacheBusy));
        }
        let msgs = if self.write_buffer {
            match self.stage_here(msgs) {
                Ok(result) => return Completion::ready(result),
                Err(queued) => *queued,
            }
        } else {
            msgs
        };
        let (done, c) = pair();
        self.send(Request::Put { msgs, done });
        c
    }

    /// Write-buffer mode: stages the put on the calling thread and answers
    /// it, or counts it as queued and gives it back (`Err`, boxed: rare)
    /// when only the append thread can store it: no open file or no room in
    /// it, puts queued before it, a full buffer, not a master, or a
    /// transaction's half message.
    fn stage_here(&self, msgs: Msgs) -> std::result::Result<PutResult, Box<Msgs>> {
        let mut prep = Vec::with_capacity(1);
        let checked = check_put(&msgs, &self.rules, &mut prep);
        let early = may_stage_early(&msgs) && !self.disk_full.load(std::sync::atomic::Ordering::Acquire);
        let mut t = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        let open = early && !t.closed && t.queued == 0 && t.role == Role::Master && t.staged_bytes < WRITE_BUFFER_MAX;
        match checked {
            // refused before any state is touched: answer here (the append thread would say the same)
            Err(status) if open => return Ok(PutResult::status(status)),
            Ok(total) if open && matches!(t.room(total), Room::Fits) => {}
            _ => {
                t.queued += 1;
                return Err(Box::new(msgs));
            }
        }
        let ts = appender::now_ms();
        let (result, next_offset, cq) = match t.stage(&msgs, &prep, ts, &self.offsets) {
            Ok(staged) => staged,
            Err(status) => return Ok(PutResult::status(status)),
        };
        t.staged.push(Staged { msgs, done: None, result: result.clone(), next_offset, cq });
        drop(t);
        if self.signal.staged() {
            self.wake();
        }
        Ok(PutResult { status: PutStatus::PutOk, append: Some(result) })
    }

    fn wake(&self) {
        let tx = self.tx.read().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = tx.as_ref() {
            // a full queue wakes the thread anyway
            let _ = tx.try_send(Request::Wake);
        }
    }

    /// A put counted as queued never reached the append thread.
    fn unqueue(&self) {
        if self.write_buffer {
            let mut t = self.tail.lock().unwrap_or_else(|e| e.into_inner());
            t.queued = t.queued.saturating_sub(1);
        }
    }

    /// Slave: appends replicated bytes, which must start at the current end
    /// (an empty log accepts a file boundary). Resolves to the new end.
    pub fn append_raw(&self, offset: u64, data: Bytes) -> Completion<Result<u64, AppendError>> {
        let (done, c) = pair();
        self.send(Request::Raw { offset, data, done });
        c
    }

    /// Cuts the log back to `offset` (files after it deleted, the rest zeroed).
    pub fn truncate(&self, offset: u64) -> Completion<Result<(), AppendError>> {
        let (done, c) = pair();
        self.send(Request::Truncate { offset, done });
        c
    }

    /// Switches between master and slave while running; resolves to the end
    /// offset the new role continues from. Becoming master drops a partly
    /// replicated last record.
    pub fn set_role(&self, role: Role) -> Completion<Result<u64, AppendError>> {
        let (done, c) = pair();
        self.send(Request::SetRole { role, done });
        c
    }

    /// Java `isOSPageCacheBusy`: the current append round has run longer than
    /// `osPageCacheBusyTimeOutMills` (a stuck disk), so new puts are refused.
    pub fn is_os_page_cache_busy(&self) -> bool {
        let since = self.busy_since.load(std::sync::atomic::Ordering::Acquire);
        let diff = appender::now_ms() - since;
        since != 0 && diff > self.busy_timeout_ms && diff < 10_000_000
    }

    /// The put path's check: a round normally lasts well under a millisecond,
    /// so instead of a clock read per put, the clock is read when the same
    /// round has been seen by 2, 4, 8, ... puts.
    fn busy_fast(&self) -> bool {
        use std::sync::atomic::Ordering;
        let since = self.busy_since.load(Ordering::Acquire);
        if since == 0 {
            return false;
        }
        if self.busy_seen.swap(since, Ordering::Relaxed) != since {
            self.busy_hits.store(0, Ordering::Relaxed);
            return false;
        }
        let hits = self.busy_hits.fetch_add(1, Ordering::Relaxed) + 1;
        hits.is_power_of_two() && self.is_os_page_cache_busy()
    }

    /// The files, for readers (`find`, `files`, `written`).
    pub fn queue(&self) -> &Arc<WritableQueue> {
        &self.queue
    }
    pub fn min_offset(&self) -> u64 {
        self.queue.min_offset()
    }
    /// End of the written (readable) data.
    pub fn max_offset(&self) -> u64 {
        self.queue.max_offset()
    }
    /// Bytes of answered puts not written to the file yet (write-buffer
    /// mode; Java's `remainHowManyDataToCommit`).
    pub fn staged_bytes(&self) -> u64 {
        self.tail.lock().unwrap_or_else(|e| e.into_inner()).staged_bytes
    }
    /// End of the data known to be on disk.
    pub fn flushed_offset(&self) -> u64 {
        self.queue.flushed_where()
    }

    /// Decodes the record (or BLANK) at `offset`.
    pub fn read_at(&self, offset: u64) -> Result<Decoded> {
        let f = self.queue.find(offset).ok_or(StoreError::OffsetNotFound { offset: offset as i64 })?;
        let pos = offset - f.from();
        let bytes = f.written().get(pos as usize..).unwrap_or(&[]);
        decode(bytes).map_err(|e| StoreError::record(f.path(), pos, e))
    }

    pub fn queue_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.offsets.lock().unwrap_or_else(|e| e.into_inner()).get(topic, queue_id)
    }
    pub fn set_queue_offset(&self, topic: &str, queue_id: i32, next: i64) {
        self.offsets.lock().unwrap_or_else(|e| e.into_inner()).set(topic, queue_id, next)
    }
    pub fn remove_topic_offsets(&self, topic: &str) {
        self.offsets.lock().unwrap_or_else(|e| e.into_inner()).remove_topic(topic)
    }
    pub fn queue_offsets(&self) -> QueueOffsets {
        self.offsets.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn cleaner(&self) -> &Arc<Cleaner> {
        &self.cleaner
    }

    /// Flushes everything written so far, now.
    pub fn flush_all(&self) -> Result<()> {
        self.flush.flush_all()
    }

    /// Clean stop: finishes queued requests, flushes everything, deletes the
    /// pre-created next file. Later calls return at once.
    pub fn shutdown(&self) -> Result<()> {
        let tx = self.tx.write().unwrap_or_else(|e| e.into_inner()).take();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        if tx.is_none() && threads.is_empty() {
            return Ok(());
        }
        // no more puts staged by callers: the append thread writes what is
        // staged before it stops
        self.tail.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.stopping.store(true, std::sync::atomic::Ordering::Release);
        drop(tx);
        let mut threads = threads.into_iter();
        // the append thread first: everything queued gets written
        if let Some(t) = threads.next() {
            let _ = t.join();
        }
        self.flush.stop();
        self.cleaner.stop();
        for t in threads {
            let _ = t.join();
        }
        self.queue.discard_next();
        self.flush.flush_all()
    }
}

impl Drop for CommitLogWriter {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "commitlog writer shutdown failed");
        }
    }
}
