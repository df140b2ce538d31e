//! Error types. Every error that concerns on-disk data names the file and the
//! byte offset (inside that file, or the physical offset where noted).

use std::path::PathBuf;

use thiserror::Error;

/// Problems found while decoding one commitlog record from a byte slice.
/// These carry no file context; [`StoreError::Record`] adds it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RecordError {
    #[error("truncated record: need {need} bytes, only {have} available")]
    Truncated { need: u64, have: u64 },
    #[error("invalid TOTALSIZE {0}")]
    BadTotalSize(i32),
    #[error("unknown magic code 0x{0:08X}")]
    BadMagic(u32),
    #[error("negative {field} length {len}")]
    NegativeLength { field: &'static str, len: i64 },
    #[error("field {field} (at record offset {at}, {len} bytes) exceeds TOTALSIZE {total}")]
    FieldOverflow { field: &'static str, at: usize, len: usize, total: i32 },
    #[error("TOTALSIZE {total} does not match computed length {computed}")]
    LengthMismatch { total: i32, computed: i64 },
    /// Java producers only write topics matching `^[%|a-zA-Z0-9_-]+$`, so this is
    /// corruption (the body CRC does not cover the topic).
    #[error("topic is not valid UTF-8 (bad byte at record offset {at})")]
    TopicNotUtf8 { at: usize },
    #[error("body CRC mismatch: stored {stored}, computed {computed}")]
    BodyCrc { stored: i32, computed: i32 },
    #[error("unknown compression type {0} in sysflag")]
    UnknownCompression(i32),
    #[error("decompression ({kind}) failed: {msg}")]
    Decompress { kind: &'static str, msg: String },
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// Any store-level failure. Data errors always name the file and offset.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} @ {offset}: {source}")]
    Record {
        path: PathBuf,
        /// Offset of the record inside `path`.
        offset: u64,
        #[source]
        source: RecordError,
    },
    #[error("{path} @ {offset}: {msg}")]
    Corrupt { path: PathBuf, offset: u64, msg: String },
    #[error("{path}: {msg}")]
    Layout { path: PathBuf, msg: String },
    #[error("physical offset {offset} is not inside any mapped file")]
    OffsetNotFound { offset: i64 },
}

impl StoreError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io { path: path.into(), source }
    }
    pub fn layout(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        StoreError::Layout { path: path.into(), msg: msg.into() }
    }
    pub fn corrupt(path: impl Into<PathBuf>, offset: u64, msg: impl Into<String>) -> Self {
        StoreError::Corrupt { path: path.into(), offset, msg: msg.into() }
    }
    pub fn record(path: impl Into<PathBuf>, offset: u64, source: RecordError) -> Self {
        StoreError::Record { path: path.into(), offset, source }
    }

    /// File this error is about, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            StoreError::Io { path, .. }
            | StoreError::Record { path, .. }
            | StoreError::Corrupt { path, .. }
            | StoreError::Layout { path, .. } => Some(path),
            StoreError::OffsetNotFound { .. } => None,
        }
    }

    /// Offset inside [`StoreError::path`] this error is about, if any.
    pub fn offset(&self) -> Option<u64> {
        match self {
            StoreError::Record { offset, .. } | StoreError::Corrupt { offset, .. } => Some(*offset),
            StoreError::OffsetNotFound { offset } => Some(*offset as u64),
            _ => None,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
