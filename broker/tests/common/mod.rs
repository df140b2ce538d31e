//! Shared test helpers: a name server and a broker on ephemeral ports in a
//! temp dir, and a remoting client speaking the requests real clients send.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use rmq_broker::config::BrokerSettings;
use rmq_broker::{Broker, BrokerHandle};
use rmq_namesrv::{NameServer, NameServerHandle, NamesrvSettings};
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::codec::{RemotingCommand, RequestCode};
use rmq_remoting::protocol::pull::PullMessageRequestHeader;
use rmq_remoting::protocol::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2};
use rmq_remoting::transport::{Client, ClientConfig};
use rmq_store::record::{decode_message, MessageRecord};

pub async fn namesrv(dir: &Path) -> NameServerHandle {
    NameServer::start(NamesrvSettings::for_test(&dir.join("namesrv"))).await.unwrap()
}

/// Small files so tests roll them; 127.0.0.1, ephemeral ports.
pub fn settings(root: &Path, namesrv: Option<&str>) -> BrokerSettings {
    let mut s = BrokerSettings::defaults();
    let mut props = rmq_common::properties::Properties::new();
    for (k, v) in [
        ("brokerClusterName", "TestCluster"),
        ("brokerName", "broker-t"),
        ("brokerIP1", "127.0.0.1"),
        ("brokerIP2", "127.0.0.1"),
        ("bindAddress", "127.0.0.1"),
        ("listenPort", "0"),
        ("mappedFileSizeCommitLog", "65536"),
        ("mappedFileSizeConsumeQueue", "600"),
        ("maxHashSlotNum", "100"),
        ("maxIndexNum", "400"),
        ("flushConsumerOffsetInterval", "200"),
    ] {
        props.insert(k.into(), v.into());
    }
    props.insert("storePathRootDir".into(), root.display().to_string());
    if let Some(n) = namesrv {
        props.insert("namesrvAddr".into(), n.into());
    }
    s.apply(&props).unwrap();
    s.finish().unwrap();
    s.store.ha_listen_port = 0;
    s
}

pub async fn broker(settings: BrokerSettings) -> BrokerHandle {
    Broker::start(settings).await.unwrap()
}

pub fn client() -> Client {
    Client::new(ClientConfig::default())
}

pub async fn call(c: &Client, addr: &str, cmd: RemotingCommand) -> RemotingCommand {
    c.invoke(addr, cmd, Duration::from_secs(10)).await.unwrap()
}

pub fn send_header(topic: &str, queue_id: i32, props: &str) -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "pg".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1,
        flag: 0,
        properties: Some(props.into()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        batch: Some(false),
        max_reconsume_times: None,
        bname: Some("broker-t".into()),
    }
}

/// SEND_MESSAGE_V2 like the Java client.
pub fn send_v2(h: &SendMessageRequestHeader, body: &[u8]) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2);
    SendMessageRequestHeaderV2::from(h).apply_to(&mut cmd);
    cmd.body = Some(Bytes::copy_from_slice(body));
    cmd
}

pub fn props(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}\u{1}{v}")).collect::<Vec<_>>().join("\u{2}")
}

/// `MessageDecoder.encodeMessages`.
pub fn batch_body(msgs: &[(&[u8], &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (body, p) in msgs {
        let total = 20 + body.len() + 2 + p.len();
        b.extend_from_slice(&(total as i32).to_be_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&(body.len() as i32).to_be_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&(p.len() as i16).to_be_bytes());
        b.extend_from_slice(p.as_bytes());
    }
    b
}

pub fn pull_header(group: &str, topic: &str, queue_id: i32, offset: i64, sub: &str) -> PullMessageRequestHeader {
    PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: 0x4,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some(sub.into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        ..Default::default()
    }
}

pub fn pull_cmd(h: &PullMessageRequestHeader) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE);
    h.apply_to(&mut cmd);
    cmd
}

/// The records of a pull body, in order.
pub fn records(body: &[u8]) -> Vec<MessageRecord> {
    let mut v = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let r = decode_message(&body[pos..]).unwrap();
        pos += r.total_size as usize;
        v.push(r);
    }
    v
}

pub fn ext<'a>(cmd: &'a RemotingCommand, k: &str) -> &'a str {
    cmd.ext(k).unwrap_or_else(|| panic!("no {k} in {cmd:?}"))
}

/// A copied store's broker.conf re-pointed at the copy and an ephemeral
/// port (name servers dropped), loaded like `mqbroker -c`; every key must be known.
pub fn settings_for(root: &Path) -> BrokerSettings {
    rmq_broker::testutil::settings_for_copy(root, &[])
}

/// Hex SHA-256, the body hash golden manifests use.
pub fn sha(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// QUERY_CONSUMER_OFFSET, which must succeed.
pub async fn query_offset(c: &Client, addr: &str, group: &str, topic: &str, q: i32) -> i64 {
    use rmq_remoting::codec::header::FromExtFields;
    use rmq_remoting::protocol::offset::{OffsetResponseHeader, QueryConsumerOffsetRequestHeader};
    let mut cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET);
    QueryConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: q,
        set_zero_if_not_found: None,
    }
    .apply_to(&mut cmd);
    let r = call(c, addr, cmd).await;
    assert_eq!(r.response_code(), rmq_remoting::codec::ResponseCode::SUCCESS, "{group} {topic}/{q}: {r:?}");
    OffsetResponseHeader::from_command(&r).unwrap().offset
}

/// Every message every queue serves, through the store: physical offset ->
/// (topic, queue id, queue offset, body hash).
pub async fn served_by_phy(
    st: &rmq_broker::processor::BrokerState,
) -> std::collections::HashMap<i64, (String, i32, i64, String)> {
    use rmq_broker::store::{GetRequest, TagFilter};
    let mut by_phy = std::collections::HashMap::new();
    for (topic, q, max) in st.store.queues().next_offsets() {
        let mut off = st.store.min_offset(&topic, q);
        while off < max {
            let r = st
                .store
                .get_messages(GetRequest {
                    topic: topic.clone(),
                    queue_id: q,
                    offset: off,
                    max_nums: 32,
                    max_bytes: None,
                    filter: TagFilter::All,
                })
                .await
                .unwrap();
            for m in records(&r.body) {
                by_phy.insert(m.physical_offset, (m.topic.clone(), m.queue_id, m.queue_offset, sha(&m.body)));
            }
            assert!(r.next_begin_offset > off, "{topic}/{q} stuck at {off}: {:?}", r.status);
            off = r.next_begin_offset;
        }
    }
    by_phy
}
