//! Real third-party RocketMQ clients against OUR daemons.
//!
//! Clients (installed by `scripts/install-clients.sh` into a cache, driven through the drivers in
//! `compat-tests/clients/`, see its README for the support table and the driver command line):
//! * `cpp050`: Apache RocketMQ C++ client from the PyPI wheel `rocketmq-client-python==0.5.0rc2`,
//! * `cpp044`: the same from `rocketmq==0.4.4` (older bundled librocketmq.so),
//! * `ali-ons`: the npm package (pure JavaScript),
//! * `rust`: the `rocketmq-client-rust` crate.
//!
//! `clients_talk_to_our_name_server` (no broker needed): each client asks our `mqnamesrv` for a
//! topic that does not exist and reports the name server's "no route" answer; with a closed
//! name-server port each reports something else (or, for the C++ client, which says "no route"
//! either way, the next check proves it); and for a topic our name server routes to a recording
//! fake broker (a `rmq_remoting` server registered with REGISTER_BROKER), every client's producer
//! sends there: the fake broker decodes every message (V1/V2 headers, batches, zlib bodies,
//! properties) and the test checks them against what the driver says it sent: bodies by SHA-256,
//! tags, keys, delay level, compression above the client's threshold, one queue per sharding key,
//! transaction half messages and their END_TRANSACTION. Consumers are checked to heartbeat the
//! routed broker with their group.
//!
//! `clients_against_our_broker` runs every scenario against `mqnamesrv` + `mqbroker` (built from
//! this workspace into the target dir the test runs from) and prints a scenario x client table;
//! a scenario whose broker service is missing is printed as `SKIPPED (reason)`. It runs them
//! twice: default settings, then `transientStorePoolEnable=true` (write-buffer mode).
//!
//! Files under `clients/`: `driver.rs` (install, run and collect the drivers), `daemons.rs` (our
//! daemons, stopped on drop), `fake_broker.rs` + `namesrv.rs` + `namesrv_send.rs` (the first
//! test), `broker.rs` (cluster, runner, table) + `broker_scenarios.rs` + `broker_b3.rs` (the
//! second; the latter holds the delay, transaction, retry/DLQ scenarios and the broker probes),
//! `broker_slave.rs` (`cpp_client_consumes_from_slave_while_master_is_down`: master + slave, the
//! master SIGKILLed, a C++ consumer reads everything from the slave).
//!
//! `RMQ_COMPAT_CLIENTS=0` skips both (printed). Every server binds 127.0.0.1 and every client is
//! given only 127.0.0.1 addresses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::body::{self, DataVersion, RegisterBrokerBody, TopicConfig};
use rmq_remoting::protocol::namesrv::RegisterBrokerRequestHeader;
use rmq_remoting::protocol::register::body_crc32;
use rmq_remoting::protocol::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_remoting::transport::{BoxFuture, Channel, Client, ClientConfig, RequestHandler, Server, ServerConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const CLIENTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/clients");

#[path = "clients/daemons.rs"]
mod daemons;
#[path = "clients/driver.rs"]
mod driver;
#[path = "clients/fake_broker.rs"]
mod fake_broker;
#[path = "clients/namesrv.rs"]
mod namesrv;
#[path = "clients/namesrv_send.rs"]
mod namesrv_send;

#[path = "clients/broker.rs"]
mod broker;
#[path = "clients/broker_b3.rs"]
mod broker_b3;
#[path = "clients/broker_scenarios.rs"]
mod broker_scenarios;
#[path = "clients/broker_slave.rs"]
mod broker_slave;

use daemons::*;
use driver::*;
use fake_broker::{
    decode_batch, register_cmd, sha256_hex, FakeBroker, FakeHandler, Recorded, TRANSACTION_PREPARED_TYPE,
};
use namesrv_send::*;

#[test]
fn clients_talk_to_our_name_server() {
    let Some(drivers) = drivers() else { return };
    namesrv::run(drivers);
}

#[test]
fn clients_against_our_broker() {
    let Some(drivers) = drivers() else { return };
    let Some(broker_bin) = workspace_bin("rmq-broker", "mqbroker") else {
        println!("SKIPPED: no mqbroker yet (the workspace has no `mqbroker` binary): broker client scenarios not run");
        return;
    };
    broker::run_all(drivers, &broker_bin, "");
    // again in write-buffer mode (sends answered from the commitlog's tail), one after the other
    // so the two clusters never share the two cores
    println!("again with transientStorePoolEnable=true");
    broker::run_all(drivers, &broker_bin, "transientStorePoolEnable=true\n");
}

/// Master + slave of our broker: the C++ client consumes from the slave while the master is down.
#[test]
fn cpp_client_consumes_from_slave_while_master_is_down() {
    let Some(drivers) = drivers() else { return };
    let Some(broker_bin) = workspace_bin("rmq-broker", "mqbroker") else {
        println!("SKIPPED: no mqbroker yet (the workspace has no `mqbroker` binary): slave-read scenario not run");
        return;
    };
    broker_slave::run(drivers, &broker_bin);
}
