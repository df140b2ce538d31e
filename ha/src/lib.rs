//! Classic RocketMQ master/slave replication (Java `HAService`), byte-for-byte
//! compatible with Java 4.9.8 and 5.3.3 brokers on either side.
//!
//! * [`codec`]: the wire protocol (no I/O).
//! * [`log`]: the commitlog as replication sees it ([`HaLog`]).
//! * [`master`]: accepts slaves and streams the commitlog to them.
//! * [`slave`]: follows a master, appending what it sends.
//! * [`transfer`]: slave acknowledgements and the SYNC_MASTER wait.
//! * [`service`]: the [`Replication`] trait a broker drives, and [`ClassicHa`].
//!
//! Threading: tokio tasks for the sockets; commitlog reads (mapped memory) go
//! through `spawn_blocking`; appends go to the store's own append thread.

pub mod codec;
pub mod config;
pub mod log;
pub mod master;
pub mod service;
pub mod signal;
pub mod slave;
pub mod transfer;

pub use config::{ha_listen_port, AckRule, HaConfig, HaFlavor, HA_ADDRESS_MIN_LENGTH};
pub use log::{HaLog, LogError};
pub use service::{ClassicHa, HaRole, HaStatus, Replication};
pub use transfer::ReplicaOutcome;
