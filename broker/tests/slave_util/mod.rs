//! Helpers of the master/slave tests: brokers on probed ports (the VIP port
//! `listenPort - 2` and the HA port `listenPort + 1` must be free too, because
//! a slave reaches its master's VIP port by arithmetic, like Java), golden
//! copies, polling.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rmq_broker::config::BrokerSettings;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::transport::Client;

pub const GOLDEN_498: &str = "../../shared/golden/java-4.9.8";

/// A golden folder; the shared data is part of every checkout, so missing it is a failure.
pub fn golden(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN_498).join(rel);
    assert!(p.is_dir(), "golden data missing: {}", p.display());
    p
}

// not every test binary that includes this module copies a store
#[allow(unused_imports)]
pub use rmq_store::testutil::copy_dir;

/// A port p with p-2 (VIP) and p+1 (HA) also free on 127.0.0.1.
pub fn broker_port() -> u16 {
    for _ in 0..500 {
        let p = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if p > 1026 && p < 65534 && [p - 2, p + 1].iter().all(|q| TcpListener::bind(("127.0.0.1", *q)).is_ok()) {
            return p;
        }
    }
    panic!("no free port triple");
}

/// Settings from `key=value` lines (later keys win), loaded like `mqbroker -c`.
pub fn settings_from(lines: &[(&str, String)]) -> BrokerSettings {
    let mut props = rmq_common::properties::Properties::new();
    for (k, v) in lines {
        props.insert((*k).into(), v.clone());
    }
    let mut s = BrokerSettings::defaults();
    let unknown = s.apply(&props).unwrap();
    assert!(unknown.is_empty(), "unknown keys {unknown:?}");
    s.finish().unwrap();
    s
}

/// A small-file broker on 127.0.0.1:`port` storing under `root`.
pub fn base(root: &Path, namesrv: &str, port: u16, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("brokerClusterName", "SlaveCluster".into()),
        ("brokerName", name.into()),
        ("brokerIP1", "127.0.0.1".into()),
        ("brokerIP2", "127.0.0.1".into()),
        ("bindAddress", "127.0.0.1".into()),
        ("listenPort", port.to_string()),
        ("namesrvAddr", namesrv.into()),
        ("storePathRootDir", root.display().to_string()),
        ("storePathCommitLog", root.join("commitlog").display().to_string()),
        ("mappedFileSizeCommitLog", "1048576".into()),
        ("mappedFileSizeConsumeQueue", "6000".into()),
        ("maxHashSlotNum", "100".into()),
        ("maxIndexNum", "400".into()),
        ("flushConsumerOffsetInterval", "200".into()),
    ]
}

/// Polls `cond` every 100 ms for up to `secs` seconds.
pub async fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cond()
}

pub async fn request(c: &Client, addr: &str, cmd: RemotingCommand) -> RemotingCommand {
    c.invoke(addr, cmd, Duration::from_secs(10)).await.unwrap()
}

/// A GET_ALL_* answer's body, which must be SUCCESS.
pub async fn get_all(c: &Client, addr: &str, code: RequestCode) -> Vec<u8> {
    let r = request(c, addr, RemotingCommand::request(code)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{code:?} from {addr}: {:?}", r.remark);
    r.body.expect("body").to_vec()
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
