//! What replication needs from a commitlog, as a trait: the broker's store,
//! a bare [`CommitLogWriter`] (tests, tools) and later controller mode plug in
//! behind it.
//!
//! `read` may touch mapped memory and must run off the async workers (the
//! services call it through `spawn_blocking`); the offsets are cheap atomics.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use rmq_store::append::{AppendError, CommitLogWriter};
use thiserror::Error;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Error)]
pub enum LogError {
    /// The replicated bytes do not continue the local log.
    #[error("replicated data starts at offset {got}, but the local commitlog ends at {expected}")]
    OffsetMismatch { expected: u64, got: u64 },
    #[error("the commitlog is shut down")]
    ShutDown,
    #[error("commitlog: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A commitlog as the HA services see it.
pub trait HaLog: Send + Sync + 'static {
    /// End of the written data (Java `getMaxPhyOffset`).
    fn max_offset(&self) -> u64;
    /// Start of the first file still present.
    fn min_offset(&self) -> u64;
    /// `mappedFileSizeCommitLog`.
    fn file_size(&self) -> u64;
    /// Master: a copy of at most `max` written bytes from `offset`, never
    /// crossing a file end (Java `getCommitLogData` + the batch limit).
    /// `None` when nothing is written there yet or the file is gone.
    /// Blocking: reads mapped memory.
    fn read(&self, offset: u64, max: usize) -> Result<Option<Bytes>, LogError>;
    /// Slave: appends bytes received from the master at `offset`, which must
    /// be the current end (or a file start on an empty log). Resolves to the
    /// new end once the bytes are written and their records dispatched.
    fn append(&self, offset: u64, data: Bytes) -> BoxFuture<'static, Result<u64, LogError>>;
}

fn from_append(e: AppendError) -> LogError {
    match e {
        AppendError::OffsetMismatch { expected, got } => LogError::OffsetMismatch { expected, got },
        AppendError::ShutDown => LogError::ShutDown,
        other => LogError::Store(Box::new(other)),
    }
}

/// Reads `[offset, offset + max)` clipped to the written part of its file.
pub fn read_writer(w: &CommitLogWriter, offset: u64, max: usize) -> Option<Bytes> {
    let f = w.queue().find(offset)?;
    let pos = (offset - f.from()) as usize;
    let written = f.written();
    let end = written.len().min(pos.saturating_add(max));
    (pos < end).then(|| Bytes::copy_from_slice(&written[pos..end]))
}

/// Appends through the writer's append thread.
pub fn append_writer(w: &CommitLogWriter, offset: u64, data: Bytes) -> BoxFuture<'static, Result<u64, LogError>> {
    let done = w.append_raw(offset, data);
    Box::pin(async move {
        match done.await {
            Ok(r) => r.map_err(from_append),
            Err(_) => Err(LogError::ShutDown),
        }
    })
}

impl HaLog for CommitLogWriter {
    fn max_offset(&self) -> u64 {
        CommitLogWriter::max_offset(self)
    }
    fn min_offset(&self) -> u64 {
        CommitLogWriter::min_offset(self)
    }
    fn file_size(&self) -> u64 {
        self.queue().file_size()
    }
    fn read(&self, offset: u64, max: usize) -> Result<Option<Bytes>, LogError> {
        Ok(read_writer(self, offset, max))
    }
    fn append(&self, offset: u64, data: Bytes) -> BoxFuture<'static, Result<u64, LogError>> {
        append_writer(self, offset, data)
    }
}
