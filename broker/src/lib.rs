//! A drop-in RocketMQ broker (being built: issue 3/5). `mqbroker` (src/main.rs)
//! only parses flags and starts the library.

pub mod broker;
pub mod client;
pub mod config;
pub mod ha;
pub mod long_polling;
pub mod meta;
pub mod namesrv_api;
pub mod processor;
pub mod role;
pub mod runtime;
pub mod schedule;
pub mod slave_sync;
pub mod store;
mod stored;
pub mod testutil;
pub mod transaction;

pub use broker::{Broker, BrokerError, BrokerHandle};
