//! The RocketMQ remoting protocol.
//!
//! * [`codec`]: frames, both header serializations, [`RemotingCommand`]. Pure, no I/O, no tokio.
//! * [`protocol`]: typed request/response headers and JSON bodies, one module per request group.
//! * [`transport`]: a tokio server and client that carry commands over TCP.

pub mod codec;
pub mod netty_config;
pub mod protocol;
#[cfg(feature = "transport")]
pub mod transport;

pub use codec::{
    code::{LanguageCode, RequestCode, ResponseCode},
    command::{ExtFields, RemotingCommand, SerializeType},
    error::DecodeError,
    version::Version,
};
