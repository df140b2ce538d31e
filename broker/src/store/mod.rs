//! The broker's message store: opens a store directory the way Java does
//! (lock, Java's recovery, then writing), appends through the commitlog
//! writer with consume-queue/index dispatch, and serves reads for pulls and
//! offset queries.
//!
//! Threading: the commitlog writer owns its threads; `put` never blocks. Every
//! file or mapped-memory read here is synchronous, so the async wrappers run
//! it on tokio's blocking pool: a slow disk never stalls a worker thread.

mod get;
mod queues;
mod sink;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rmq_store::append::{
    AppendConfig, AppendError, CommitLogWriter, Hooks, MessageToStore, PutResult, PutStatus, QueueOffsets, Role,
    StoreSession, WriterOptions,
};
use rmq_store::config::StoreConfig;
use rmq_store::consume_queue::cq_file_size;
use rmq_store::dispatch::{index_enabled, store_geometry, IndexGeometry, JavaVersion};
use rmq_store::recovery::{self, RecoveryOptions};
use rmq_store::{StoreDir, StoreError};
use thiserror::Error;
use tracing::{info, warn};

pub use get::{GetRequest, GetResult, GetStatus, ReadLimits, TagFilter};
pub use queues::{Queue, QueueTable};
pub use sink::ArrivalFn;

use crate::config::BrokerSettings;

#[derive(Debug, Error)]
pub enum MessageStoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error("store recovery of {root} stopped: {reason}")]
    Recovery { root: PathBuf, reason: String },
    #[error("the message store is shut down")]
    ShutDown,
    #[error("store task failed: {0}")]
    Task(String),
}

pub type Result<T, E = MessageStoreError> = std::result::Result<T, E>;

/// What opening needs besides the directory.
pub struct StoreOptions {
    pub root: PathBuf,
    /// `storePathCommitLog` (`;`/`,`-separated), default `<root>/commitlog`.
    pub commitlog_paths: Option<String>,
    /// The `MessageStoreConfig` keys as properties (writer settings).
    pub config: StoreConfig,
    pub role: Role,
    /// Layout for a store no Java ever wrote.
    pub fresh_layout: JavaVersion,
    /// Used when the store has no `broker.conf` of its own.
    pub cq_file_size: u64,
    pub index: Option<IndexGeometry>,
    pub read: get::ReadLimits,
    pub arrival: Option<ArrivalFn>,
}

impl StoreOptions {
    /// Everything from the broker's settings.
    pub fn from_settings(s: &BrokerSettings, role: Role) -> StoreOptions {
        let mut raw = rmq_common::properties::Properties::new();
        for (k, v) in rmq_common::config::ConfigObject::entries(&s.store) {
            raw.insert(k.to_string(), v);
        }
        let st = &s.store;
        StoreOptions {
            root: PathBuf::from(&st.store_path_root_dir),
            commitlog_paths: st.store_path_commit_log.clone().filter(|p| !p.trim().is_empty()),
            config: StoreConfig { raw, source: s.config_file.clone() },
            role,
            fresh_layout: JavaVersion::V5_3_3,
            cq_file_size: cq_file_size(st.mapped_file_size_consume_queue.max(20) as u64),
            index: st.message_index_enable.then(|| IndexGeometry {
                hash_slot_num: st.max_hash_slot_num.max(1) as u32,
                index_num: st.max_index_num.max(1) as u32,
            }),
            read: get::ReadLimits::from_settings(s),
            arrival: None,
        }
    }
}

struct Inner {
    root: PathBuf,
    layout: JavaVersion,
    writer: CommitLogWriter,
    queues: Arc<QueueTable>,
    session: Mutex<Option<StoreSession>>,
    read: get::ReadLimits,
    /// Queues cut back by a truncation, whose next offsets the writer must take.
    trimmed: Arc<Mutex<Vec<(String, i32, i64)>>>,
    /// The append thread's dispatch state (locked briefly to forget deleted topics).
    sink: Arc<Mutex<Option<sink::DispatchSink>>>,
    shut_down: AtomicBool,
}

/// Cheap to clone; every clone is the same store.
#[derive(Clone)]
pub struct MessageStore {
    inner: Arc<Inner>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| MessageStoreError::Task(e.to_string()))?
}

impl MessageStore {
    /// Opens (recovering first) on a blocking thread.
    pub async fn open(o: StoreOptions) -> Result<MessageStore> {
        blocking(move || MessageStore::open_blocking(o)).await
    }

    pub fn open_blocking(o: StoreOptions) -> Result<MessageStore> {
        let session = StoreSession::begin(&o.root, o.fresh_layout)?;
        let layout = session.layout();
        let dir = StoreDir::open(&o.root, o.commitlog_paths.as_deref())?;
        let opts = RecoveryOptions { java: Some(layout), check_crc: None };
        let plan = recovery::plan(&dir, &opts, &mut |_, _, _| {})?;
        for w in &plan.warnings {
            warn!(root = %o.root.display(), "recovery: {w}");
        }
        let end = plan.commitlog.last_valid_offset;
        if !plan.is_noop() {
            info!(root = %o.root.display(), mode = ?plan.mode, end, java = %plan.java, "recovering the store");
            let out = recovery::apply(&plan, &dir, &mut |_, _, _| {}, &mut |_, _| true)?;
            for w in &out.warnings {
                warn!(root = %o.root.display(), "recovery: {w}");
            }
        }
        // geometry: the store's own broker.conf (or its files) wins over the settings
        let (cq_size, index) = if dir.config().is_some() {
            let (cq, geom) = store_geometry(&dir)?;
            (cq, index_enabled(&dir).then_some(geom))
        } else {
            (o.cq_file_size, o.index)
        };
        let cq_root = dir.consume_queue_dir();
        let index_dir = dir.index_dir();
        let commitlog_dirs = dir.commitlog_dirs().to_vec();
        drop(dir);

        let min_phy = plan.commitlog.min_offset as i64;
        let queues = Arc::new(QueueTable::load(&cq_root, cq_size, min_phy)?);
        let mut offsets = QueueOffsets::default();
        for (t, q, next) in queues.next_offsets() {
            offsets.set(&t, q, next);
        }
        let mut config = AppendConfig::from_store_config(&o.config, layout)?;
        config.role = o.role;
        let sink = sink::DispatchSink::new(
            queues.clone(),
            cq_root.clone(),
            index.map(|g| (index_dir, g)),
            session.checkpoint().clone(),
            o.arrival,
        )?;
        let sink = Arc::new(Mutex::new(Some(sink)));
        let sink_ref = sink.clone();
        let trimmed: Arc<Mutex<Vec<(String, i32, i64)>>> = Arc::default();
        let trimmed2 = trimmed.clone();
        let mut wo = WriterOptions::new(commitlog_dirs, config);
        wo.end_offset = Some(end);
        wo.queue_offsets = offsets;
        wo.checkpoint = Some(session.checkpoint().clone());
        wo.logics_dir = Some(cq_root.clone());
        let (s1, s2, s3, s4) = (sink.clone(), sink.clone(), sink.clone(), sink);
        wo.hooks = Hooks {
            dispatch: Some(Box::new(move |r| {
                if let Some(s) = s1.lock().as_mut() {
                    s.dispatch(r)
                }
            })),
            dispatch_end: Some(Box::new(move || {
                if let Some(s) = s4.lock().as_mut() {
                    s.end_round()
                }
            })),
            on_truncate: Some(Box::new(move |off| {
                if let Some(s) = s2.lock().as_mut() {
                    trimmed2.lock().extend(s.truncated(off));
                }
            })),
            on_min_offset: Some(Box::new(move |min_phy| sink::expire_all(&s3, &cq_root, min_phy))),
        };
        let writer = CommitLogWriter::open(wo)?;
        session.mark_running()?;
        info!(root = %o.root.display(), java = %layout, min = writer.min_offset(), max = writer.max_offset(), "store opened");
        Ok(MessageStore {
            inner: Arc::new(Inner {
                root: o.root,
                layout,
                writer,
                queues,
                session: Mutex::new(Some(session)),
                read: o.read,
                trimmed,
                sink: sink_ref,
                shut_down: AtomicBool::new(false),
            }),
        })
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Which Java generation wrote (or will be taken to have written) the store.
    pub fn layout(&self) -> JavaVersion {
        self.inner.layout
    }

    pub fn queues(&self) -> &Arc<QueueTable> {
        &self.inner.queues
    }

    pub fn writer(&self) -> &CommitLogWriter {
        &self.inner.writer
    }

    fn usable(&self) -> bool {
        !self.inner.shut_down.load(Ordering::Acquire)
    }

    /// Appends one message; resolves when Java's put would.
    pub async fn put(&self, msg: MessageToStore) -> PutResult {
        if !self.usable() {
            return PutResult::status(PutStatus::ServiceNotAvailable);
        }
        self.inner.writer.put(msg).await.unwrap_or_else(|_| PutResult::status(PutStatus::ServiceNotAvailable))
    }

    /// Appends a batch (one topic/queue) as consecutive records.
    pub async fn put_batch(&self, msgs: Vec<MessageToStore>) -> PutResult {
        if !self.usable() {
            return PutResult::status(PutStatus::ServiceNotAvailable);
        }
        self.inner.writer.put_batch(msgs).await.unwrap_or_else(|_| PutResult::status(PutStatus::ServiceNotAvailable))
    }

    pub fn is_os_page_cache_busy(&self) -> bool {
        self.inner.writer.is_os_page_cache_busy()
    }

    /// Switches master/slave while running; resolves to the end offset.
    pub async fn set_role(&self, role: Role) -> Result<u64> {
        let end = self.inner.writer.set_role(role).await.map_err(|_| MessageStoreError::ShutDown)??;
        self.apply_trims();
        Ok(end)
    }

    /// Cuts the log back to `offset` (a slave realigning with its master).
    pub async fn truncate(&self, offset: u64) -> Result<()> {
        self.inner.writer.truncate(offset).await.map_err(|_| MessageStoreError::ShutDown)??;
        self.apply_trims();
        Ok(())
    }

    fn apply_trims(&self) {
        for (t, q, next) in std::mem::take(&mut *self.inner.trimmed.lock()) {
            self.inner.writer.set_queue_offset(&t, q, next);
        }
    }

    pub fn min_phy_offset(&self) -> i64 {
        self.inner.writer.min_offset() as i64
    }
    pub fn max_phy_offset(&self) -> i64 {
        self.inner.writer.max_offset() as i64
    }

    /// `getMinOffsetInQueue` (0 for a queue never written).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner.queues.find(topic, queue_id).map(|q| q.min_offset()).unwrap_or(0)
    }
    /// `getMaxOffsetInQueue`: the next offset to be written.
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner.queues.find(topic, queue_id).map(|q| q.max_offset()).unwrap_or(0)
    }

    /// Java `getMessage` (see [`get`]).
    pub async fn get_messages(&self, req: get::GetRequest) -> Result<GetResult> {
        let s = self.clone();
        blocking(move || {
            if !s.usable() {
                return Err(MessageStoreError::ShutDown);
            }
            Ok(get::get_messages(&s.inner.writer, &s.inner.queues, &s.inner.read, &req)?)
        })
        .await
    }

    /// Queue offset for a store timestamp (SEARCH_OFFSET_BY_TIMESTAMP).
    pub async fn search_offset(&self, topic: String, queue_id: i32, timestamp: i64, upper: bool) -> Result<i64> {
        let s = self.clone();
        blocking(move || match s.inner.queues.find(&topic, queue_id) {
            Some(q) => Ok(get::offset_by_time(&s.inner.writer, &q, timestamp, upper)?),
            None => Ok(0),
        })
        .await
    }

    /// Store time of the first message of a queue, -1 when none (GET_EARLIEST_MSG_STORETIME).
    pub async fn earliest_store_time(&self, topic: String, queue_id: i32) -> Result<i64> {
        let s = self.clone();
        blocking(move || match s.inner.queues.find(&topic, queue_id) {
            Some(q) => Ok(get::store_time_at(&s.inner.writer, &q, q.min_offset())?.unwrap_or(-1)),
            None => Ok(-1),
        })
        .await
    }

    /// Store time of the message at a queue offset (offset queries, lag).
    pub async fn store_time_at(&self, topic: String, queue_id: i32, offset: i64) -> Result<Option<i64>> {
        let s = self.clone();
        blocking(move || match s.inner.queues.find(&topic, queue_id) {
            Some(q) => Ok(get::store_time_at(&s.inner.writer, &q, offset)?),
            None => Ok(None),
        })
        .await
    }

    /// Java `checkInMemByConsumeOffset`: the unit exists and its message is
    /// within the in-memory window of the log end.
    pub async fn in_memory(&self, topic: String, queue_id: i32, offset: i64) -> Result<bool> {
        let s = self.clone();
        blocking(move || {
            let Some(q) = s.inner.queues.find(&topic, queue_id) else { return Ok(false) };
            Ok(match q.get(offset)? {
                Some(e) => !s.inner.read.in_disk(e.physical_offset, s.max_phy_offset()),
                None => false,
            })
        })
        .await
    }

    /// The raw record at a physical offset (VIEW_MESSAGE_BY_ID, transactions).
    pub async fn read_record(&self, offset: i64, size: Option<i32>) -> Result<Option<Vec<u8>>> {
        let s = self.clone();
        blocking(move || Ok(get::read_record(&s.inner.writer, offset, size))).await
    }

    /// `deleteTopics`: the topics' consume queues go (the commitlog keeps the records).
    pub async fn delete_topics(&self, topics: Vec<String>) -> Result<()> {
        let s = self.clone();
        blocking(move || {
            let root = s.inner.queues.root().to_path_buf();
            for t in &topics {
                // holding the sink stops dispatch while the files go
                let mut sink = s.inner.sink.lock();
                if let Some(k) = sink.as_mut() {
                    k.forget_topic(t);
                }
                s.inner.queues.remove_topic(t);
                s.inner.writer.remove_topic_offsets(t);
                let dir = root.join(t);
                if t.is_empty() || t.contains(['/', '\\']) || t == "." || t == ".." {
                    continue;
                }
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io(dir, e).into()),
                }
                drop(sink);
                info!(topic = %t, "consume queues of the topic deleted");
            }
            Ok(())
        })
        .await
    }

    /// Clean stop: queued puts finish, everything is flushed, `abort` removed.
    pub async fn shutdown(&self) -> Result<()> {
        let s = self.clone();
        blocking(move || s.shutdown_blocking()).await
    }

    pub fn shutdown_blocking(&self) -> Result<()> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.writer.shutdown()?;
        if let Some(session) = self.inner.session.lock().take() {
            session.close_clean()?;
        }
        info!(root = %self.inner.root.display(), "store shut down cleanly");
        Ok(())
    }
}
