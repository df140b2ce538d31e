//! A drop-in RocketMQ broker (being built: issue 3/5). `mqbroker` (src/main.rs)
//! only parses flags and starts the library.

pub mod config;
pub mod namesrv_api;
pub mod client;
