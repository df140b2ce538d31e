//! Decode errors. Each names where in the frame it went wrong, so one log line
//! is enough to understand a bad peer.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// `length + 4` exceeds the configured maximum (Netty's `frameMaxLength` check).
    #[error("frame length {length} (+4) exceeds the maximum of {max} bytes")]
    FrameTooLarge { length: u64, max: usize },
    /// A frame must at least hold the 4-byte header-length word.
    #[error("frame length {length} is too short to hold a header length")]
    FrameTooShort { length: i64 },
    #[error("bad header length: {header_len} does not fit in frame of {frame_len} bytes (offset 4)")]
    HeaderLengthPastFrame { header_len: usize, frame_len: usize },
    #[error("unknown serialize type {0} (offset 4)")]
    UnknownSerializeType(u8),
    #[error("invalid JSON header at header offset {offset}: {reason}")]
    InvalidJson { offset: usize, reason: String },
    #[error("ROCKETMQ header truncated reading {field} at header offset {offset}")]
    BinaryTruncated { field: &'static str, offset: usize },
    #[error("ROCKETMQ header {field} has invalid length {len} at header offset {offset}")]
    BinaryBadLength { field: &'static str, len: i64, offset: usize },
    #[error("{field} is not valid UTF-8 at header offset {offset}")]
    InvalidUtf8 { field: &'static str, offset: usize },
}
