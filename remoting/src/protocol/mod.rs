//! Typed headers and JSON bodies, one module per request group.

pub mod body;
pub mod client;
pub mod heartbeat;
pub mod namesrv;
pub mod offset;
pub mod pull;
pub mod register;
pub mod send;
