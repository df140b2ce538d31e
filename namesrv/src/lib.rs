//! A drop-in RocketMQ name server: the route table, KV config and every request
//! the Java 5.3.3 name server answers. `mqnamesrv` (src/main.rs) only parses
//! flags and calls [`NameServer::start`].

pub mod config;
mod error;
mod kv;
mod processor;
mod route;
mod server;

pub use config::{NamesrvConfig, NamesrvSettings};
pub use error::NamesrvError;
pub use processor::SUPPORTED as SUPPORTED_REQUEST_CODES;
pub use server::{NameServer, NameServerHandle};
