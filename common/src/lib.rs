//! Pieces every RocketMQ-compatible daemon and tool shares.
//!
//! * [`properties`]: `java.util.Properties` text format (what `-c FILE` reads).
//! * [`config`]: binding properties onto typed config structs the way Java's
//!   `MixAll.properties2Object` does, and printing them like `-p`.
//! * [`fastjson`]: a JSON model, lenient parser and emitter that reproduce the
//!   quirks of the fastjson library every Java RocketMQ process uses.
//! * [`java`]: Java hashing conventions that leak into wire and disk formats.
//! * [`env`]: `ROCKETMQ_HOME`, `NAMESRV_ADDR` and address conventions.

pub mod config;
pub mod env;
pub mod fastjson;
pub mod java;
pub mod jtime;
pub mod properties;
