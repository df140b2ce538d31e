//! Typed headers and JSON bodies, one module per request group.

pub mod body;
pub mod namesrv;
pub mod register;
