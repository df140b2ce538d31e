//! Why a conversion refuses to go on. Data problems name the file and the
//! byte offset inside it.

use std::path::PathBuf;

use rmq_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConvertError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The I/O error is part of the message, not a separate source (so it
    /// is not printed twice in an error chain).
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    /// A DLedger entry or the record it carries is unusable.
    #[error("{path} @ {offset}: {msg}")]
    BadEntry { path: PathBuf, offset: u64, msg: String },
    #[error("{0}: not a DLedger store (no dledger-<selfId>/data directory)")]
    NotDLedger(PathBuf),
    #[error("{0}: the DLedger entries are not RocketMQ messages (a controller's event log?); nothing to convert")]
    RawDLedger(PathBuf),
    #[error("{path}: {msg}")]
    Refused { path: PathBuf, msg: String },
    /// Two nodes hold different entries at an index both say is committed.
    #[error("nodes disagree on committed entry {index}: {a} has {a_entry}, {b} has {b_entry}")]
    Disagree { index: i64, a: String, a_entry: String, b: String, b_entry: String },
}

impl ConvertError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ConvertError::Io { path: path.into(), err: source }
    }
    pub fn bad_entry(path: impl Into<PathBuf>, offset: u64, msg: impl Into<String>) -> Self {
        ConvertError::BadEntry { path: path.into(), offset, msg: msg.into() }
    }
    pub fn refused(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        ConvertError::Refused { path: path.into(), msg: msg.into() }
    }
}

pub type Result<T, E = ConvertError> = std::result::Result<T, E>;
