//! `rmq-bench`: load generation and reference measurements for RocketMQ daemons,
//! speaking the remoting protocol directly through `rmq-remoting`.
//!
//! * [`produce`]: SEND_MESSAGE_V2 load, sync/async, closed loop or open loop at a rate
//!   (latency from the due time: no coordinated omission), HDR percentiles.
//! * [`consume`]: long-polling PULL_MESSAGE on every queue, send-to-consume latency.
//! * [`e2e`]: both at once at a fixed rate.
//! * [`ceiling`]: a server answering sends with a canned SUCCESS: the protocol ceiling.
//! * [`compare`]: ceiling vs target at several connection counts, one run.
//! * [`sysinfo`]: RSS of a process, time from spawn to first accept.
//! * [`topic`]: create a topic on one broker and wait for its route (UPDATE_AND_CREATE_TOPIC).
//!
//! Every run is bounded by a duration or a count, and only loopback addresses are dialed.

pub mod ceiling;
pub mod compare;
pub mod conn;
pub mod consume;
pub mod e2e;
pub mod error;
pub mod memstore;
pub mod message;
pub mod produce;
mod pull_serve;
pub mod route;
pub mod scheduler;
pub mod stats;
pub mod sysinfo;
pub mod topic;
pub mod util;

pub use error::{BenchError, Result};
