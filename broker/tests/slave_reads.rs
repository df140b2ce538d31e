//! What a slave answers to consumers and producers, per Java flavor:
//! `suggestWhichBrokerId`, `slaveReadEnable`, the piggybacked commit, sends
//! refused, `brokerActive` false.

mod common;
#[path = "slave_util/mod.rs"]
mod slave_util;

use common::*;
use rmq_broker::{Broker, BrokerHandle};
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::body::{self, KvTable};
use rmq_remoting::protocol::client::ConsumerSendMsgBackRequestHeader;
use rmq_remoting::protocol::offset::{OffsetResponseHeader, QueryConsumerOffsetRequestHeader};
use rmq_remoting::protocol::pull::{pull_sys_flag, PullMessageResponseHeader};
use rmq_remoting::transport::Client;
use rmq_store::config_files::JavaFlavor;
use slave_util::*;

const BUSY: &str = "[REJECTREQUEST]system busy, start flow control for a while";

struct Pulled {
    code: ResponseCode,
    remark: Option<String>,
    suggest: Option<i64>,
    count: usize,
}

/// Where a test pulls: group, topic, queue.
#[derive(Clone, Copy)]
struct At<'a>(&'a str, &'a str, i32);

/// One PULL_MESSAGE; `commit` sets the COMMIT_OFFSET flag, `suspend` the SUSPEND flag.
async fn pull(c: &Client, addr: &str, at: At<'_>, offset: i64, max: i32, commit: Option<i64>, suspend: bool) -> Pulled {
    let At(group, topic, q) = at;
    let mut h = pull_header(group, topic, q, offset, "*");
    h.max_msg_nums = max;
    if let Some(o) = commit {
        h.sys_flag |= pull_sys_flag::COMMIT_OFFSET;
        h.commit_offset = o;
    }
    if suspend {
        h.sys_flag |= pull_sys_flag::SUSPEND;
        h.suspend_timeout_millis = 15_000;
    }
    let t = std::time::Instant::now();
    let r = call(c, addr, pull_cmd(&h)).await;
    assert!(t.elapsed().as_secs() < 10, "pull held {:?}", t.elapsed());
    let ph = PullMessageResponseHeader::from_command(&r).ok();
    let count = if r.response_code() == ResponseCode::SUCCESS { records(r.body.as_deref().unwrap()).len() } else { 0 };
    Pulled { code: r.response_code(), remark: r.remark.clone(), suggest: ph.map(|p| p.suggest_which_broker_id), count }
}

async fn query_offset(c: &Client, addr: &str, group: &str, topic: &str, q: i32) -> (ResponseCode, i64) {
    let mut cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET);
    QueryConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: q,
        set_zero_if_not_found: Some(false),
    }
    .apply_to(&mut cmd);
    let r = call(c, addr, cmd).await;
    (r.response_code(), OffsetResponseHeader::from_command(&r).map(|h| h.offset).unwrap_or(-1))
}

async fn broker_active(c: &Client, addr: &str) -> String {
    let r = call(c, addr, RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO)).await;
    let t: KvTable = body::decode("KVTable", r.body.as_deref().unwrap()).unwrap();
    t.table["brokerActive"].clone()
}

async fn send_one(c: &Client, addr: &str, topic: &str, seq: usize) -> RemotingCommand {
    let h = send_header(topic, 0, &props(&[("UNIQ_KEY", &format!("R{seq}"))]));
    call(c, addr, send_v2(&h, format!("read-{seq}").as_bytes())).await
}

async fn send_back(c: &Client, addr: &str) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK);
    ConsumerSendMsgBackRequestHeader {
        offset: 0,
        group: "rg".into(),
        delay_level: 0,
        origin_msg_id: Some("00".into()),
        origin_topic: Some("ReadTopic".into()),
        unit_mode: Some(false),
        max_reconsume_times: Some(16),
    }
    .apply_to(&mut cmd);
    call(c, addr, cmd).await
}

/// The golden 4.9.8 slave store opened as a slave (no name server).
async fn golden_slave(root: &std::path::Path, extra: &[(&'static str, &str)]) -> BrokerHandle {
    let mut lines: Vec<(&'static str, String)> = Vec::new();
    for line in read(&root.join("broker.conf")).lines() {
        let (k, v) = line.split_once('=').unwrap();
        if !matches!(k, "haMasterAddress" | "namesrvAddr") {
            lines.push((Box::leak(k.to_string().into_boxed_str()), v.to_string()));
        }
    }
    lines.extend([
        ("listenPort", broker_port().to_string()),
        ("bindAddress", "127.0.0.1".to_string()),
        ("storePathRootDir", root.display().to_string()),
        ("storePathCommitLog", root.join("commitlog").display().to_string()),
    ]);
    lines.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    Broker::start(settings_from(&lines)).await.unwrap()
}

/// 4.9.8: a slave serves pulls whatever `slaveReadEnable` says (Java overwrites
/// its PULL_RETRY_IMMEDIATELY with the status code), suggests the master unless
/// `slaveReadEnable` and the pull lags, keeps no piggybacked commit, refuses sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_498_slave_reads() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("slave");
    copy_dir(&golden("master-slave/slave"), &root);
    let c = client();

    let b = golden_slave(&root, &[]).await;
    assert_eq!(b.state().flavor, JavaFlavor::V4_9_8);
    let a = b.broker_addr().to_string();
    let p = pull(&c, &a, At("cg_small_partial", "SmallTopicA", 0), 0, 32, Some(9), false).await;
    assert_eq!((p.code, p.suggest, p.count), (ResponseCode::SUCCESS, Some(0), 10));
    assert_eq!(
        query_offset(&c, &a, "cg_small_partial", "SmallTopicA", 0).await,
        (ResponseCode::SUCCESS, 5),
        "not stored"
    );
    let p = pull(&c, &a, At("cg_small_partial", "SmallTopicA", 0), 10, 32, None, false).await;
    assert_eq!((p.code, p.suggest), (ResponseCode::PULL_NOT_FOUND, Some(0)));
    // an explicit commit is kept in the slave's memory (Java does not check the role)
    let mut cmd = RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET);
    for (k, v) in
        [("consumerGroup", "cg_small_partial"), ("topic", "SmallTopicA"), ("queueId", "0"), ("commitOffset", "7")]
    {
        cmd.set_ext(k, v);
    }
    assert_eq!(call(&c, &a, cmd).await.response_code(), ResponseCode::SUCCESS);
    assert_eq!(query_offset(&c, &a, "cg_small_partial", "SmallTopicA", 0).await, (ResponseCode::SUCCESS, 7));
    let r = send_one(&c, &a, "SmallTopicA", 0).await;
    assert_eq!(r.response_code(), ResponseCode::SERVICE_NOT_AVAILABLE);
    assert!(r.remark.unwrap().contains("messages are put to the slave"));
    assert_eq!(broker_active(&c, &a).await, "false");
    b.shutdown().await;

    // slaveReadEnable with a memory ratio of 0 (-10 on a slave): every found batch lags
    let b = golden_slave(&root, &[("slaveReadEnable", "true"), ("accessMessageInMemoryMaxRatio", "0")]).await;
    let a = b.broker_addr().to_string();
    let p = pull(&c, &a, At("cg_small_partial", "SmallTopicA", 0), 0, 1, None, false).await;
    assert_eq!((p.code, p.suggest, p.count), (ResponseCode::SUCCESS, Some(1), 1), "whichBrokerWhenConsumeSlowly");
    let p = pull(&c, &a, At("cg_small_partial", "SmallTopicA", 0), 10, 32, None, false).await;
    assert_eq!((p.code, p.suggest), (ResponseCode::PULL_NOT_FOUND, Some(0)), "the group's brokerId");
    b.shutdown().await;
}

async fn fresh(root: &std::path::Path, extra: &[(&'static str, &str)]) -> BrokerHandle {
    let mut lines = base(root, "", broker_port(), "broker-r");
    lines.retain(|(k, _)| *k != "namesrvAddr");
    lines.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    Broker::start(settings_from(&lines)).await.unwrap()
}

const SLAVE: [(&str, &str); 2] = [("brokerRole", "SLAVE"), ("brokerId", "1")];

/// 5.3.3 (a fresh store): a slave without `slaveReadEnable` rejects pulls, sends
/// and send-backs with SYSTEM_BUSY; with it, it serves what it has, points
/// consumers back at the master, answers an empty pull PULL_RETRY_IMMEDIATELY
/// at once (no long polling) and keeps the piggybacked commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_533_slave_reads() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("store");
    let c = client();

    // written as a master that also allows slave reads: a lagging pull is sent to broker 1
    let b = fresh(&root, &[("slaveReadEnable", "true"), ("accessMessageInMemoryMaxRatio", "0")]).await;
    assert_eq!(b.state().flavor, JavaFlavor::V5_3_3);
    let a = b.broker_addr().to_string();
    for i in 0..5 {
        assert_eq!(send_one(&c, &a, "ReadTopic", i).await.response_code(), ResponseCode::SUCCESS);
    }
    let p = pull(&c, &a, At("rg", "ReadTopic", 0), 0, 1, None, false).await;
    assert_eq!((p.code, p.suggest, p.count), (ResponseCode::SUCCESS, Some(1), 1));
    assert_eq!(broker_active(&c, &a).await, "true");
    b.shutdown().await;

    let b = fresh(&root, &SLAVE).await;
    let a = b.broker_addr().to_string();
    let p = pull(&c, &a, At("rg", "ReadTopic", 0), 0, 32, None, false).await;
    assert_eq!((p.code, p.remark.as_deref(), p.suggest), (ResponseCode::SYSTEM_BUSY, Some(BUSY), None));
    let r = send_one(&c, &a, "ReadTopic", 9).await;
    assert_eq!((r.response_code(), r.remark.as_deref()), (ResponseCode::SYSTEM_BUSY, Some(BUSY)));
    let r = send_back(&c, &a).await;
    assert_eq!((r.response_code(), r.remark.as_deref()), (ResponseCode::SYSTEM_BUSY, Some(BUSY)));
    assert_eq!(broker_active(&c, &a).await, "false");
    b.shutdown().await;

    let b = fresh(&root, &[SLAVE[0], SLAVE[1], ("slaveReadEnable", "true")]).await;
    let a = b.broker_addr().to_string();
    let p = pull(&c, &a, At("rg", "ReadTopic", 0), 0, 32, Some(2), false).await;
    assert_eq!((p.code, p.suggest, p.count), (ResponseCode::SUCCESS, Some(0), 5));
    assert_eq!(query_offset(&c, &a, "rg", "ReadTopic", 0).await, (ResponseCode::SUCCESS, 2), "5.x stores it");
    let p = pull(&c, &a, At("rg", "ReadTopic", 0), 5, 32, None, true).await;
    assert_eq!((p.code, p.suggest), (ResponseCode::PULL_RETRY_IMMEDIATELY, Some(0)), "not held");
    b.shutdown().await;

    let b =
        fresh(&root, &[SLAVE[0], SLAVE[1], ("slaveReadEnable", "true"), ("accessMessageInMemoryMaxRatio", "0")]).await;
    let a = b.broker_addr().to_string();
    let p = pull(&c, &a, At("rg", "ReadTopic", 0), 0, 1, None, false).await;
    assert_eq!((p.code, p.suggest, p.count), (ResponseCode::SUCCESS, Some(1), 1), "lagging: stay on the slave");
    b.shutdown().await;
}
