//! Compatibility tests against golden data produced by real Java RocketMQ
//! (`../shared/golden`): a classic-pcap reader with TCP reassembly that yields
//! the remoting frames of captured traffic, helpers to find the golden data,
//! and response comparison (JSON bodies read with `rmq_common::fastjson`).
//!
//! The tests live in `tests/`: `wire_decode.rs` (our codec against every captured
//! frame) and `namesrv_replay.rs` (captured name-server traffic replayed against
//! our name server, responses compared with Java's).

pub mod compare;
pub mod golden;
pub mod pcap;
pub mod replay;
pub mod synth;
pub mod tcp;
