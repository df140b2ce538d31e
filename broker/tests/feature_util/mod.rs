//! Helpers of the delay / retry / transaction / query / lock tests.
#![allow(dead_code)]

use std::time::Duration;

use rmq_broker::store::{GetRequest, TagFilter};
use rmq_broker::BrokerHandle;
use rmq_remoting::codec::{RemotingCommand, RequestCode};
use rmq_store::record::{decode_message, MessageRecord};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Polls `cond` every 50 ms for up to `secs` seconds.
pub async fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

/// Every record of a queue, read through the broker's store (system topics too).
pub async fn queue_records(b: &BrokerHandle, topic: &str, queue: i32) -> Vec<MessageRecord> {
    let mut out = Vec::new();
    let mut offset = b.state().store.min_offset(topic, queue);
    loop {
        let req = GetRequest {
            topic: topic.into(),
            queue_id: queue,
            offset,
            max_nums: 32,
            max_bytes: None,
            filter: TagFilter::All,
        };
        let r = b.state().store.get_messages(req).await.unwrap();
        if r.count == 0 {
            return out;
        }
        let mut pos = 0;
        while pos < r.body.len() {
            let m = decode_message(&r.body[pos..]).unwrap();
            pos += m.total_size as usize;
            out.push(m);
        }
        offset = r.next_begin_offset;
    }
}

pub fn max_offset(b: &BrokerHandle, topic: &str, queue: i32) -> i64 {
    b.state().store.max_offset(topic, queue)
}

/// A HEART_BEAT registering a producer group.
pub fn producer_heartbeat(client_id: &str, group: &str) -> RemotingCommand {
    let json =
        format!(r#"{{"clientID":"{client_id}","consumerDataSet":[],"producerDataSet":[{{"groupName":"{group}"}}]}}"#);
    let mut cmd = RemotingCommand::request(RequestCode::HEART_BEAT);
    cmd.body = Some(json.into_bytes().into());
    cmd
}

/// Properties string with a given order.
pub fn props(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}\u{1}{v}")).collect::<Vec<_>>().join("\u{2}")
}

pub fn prop<'a>(m: &'a MessageRecord, k: &str) -> Option<&'a str> {
    m.properties.get(k).map(String::as_str)
}

/// `<golden>/java-4.9.8/<name>` (`$RMQ_GOLDEN_DIR`, default `../shared/golden`), when present.
pub fn golden(name: &str) -> Option<std::path::PathBuf> {
    let root = match std::env::var_os("RMQ_GOLDEN_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden"),
    };
    let p = root.join("java-4.9.8").join(name);
    p.is_dir().then_some(p)
}

// not every test binary that includes this module copies a store
#[allow(unused_imports)]
pub use rmq_store::testutil::copy_dir;

/// The copy's broker.conf pointed at the copy and an ephemeral port, loaded like `mqbroker -c`.
pub fn golden_settings(root: &std::path::Path) -> rmq_broker::config::BrokerSettings {
    rmq_broker::testutil::settings_for_copy(root, &[])
}
