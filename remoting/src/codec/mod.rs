//! Frame codec: `int length | int (serializeType << 24 | headerLength) | header | body`.
//!
//! `length` counts everything after itself. The header is JSON (type 0) or the
//! compact ROCKETMQ binary form (type 1); the type byte is per frame, so one
//! connection may carry both.

pub mod binary_header;
pub mod code;
pub mod command;
pub mod error;
pub mod frame;
pub mod header;
pub mod json_header;
pub mod version;

pub use code::{LanguageCode, RequestCode, ResponseCode};
pub use command::{ExtFields, RemotingCommand, SerializeType};
pub use error::DecodeError;
pub use frame::{decode, decode_frame, encode, encode_to_vec, FrameLimits, DEFAULT_MAX_FRAME};
pub use header::{FromExtFields, HeaderError, ToExtFields};
pub use version::Version;
