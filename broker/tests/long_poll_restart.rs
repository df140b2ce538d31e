//! Long polling wake-up, client notifications and restarts.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::offset::{OffsetResponseHeader, QueryConsumerOffsetRequestHeader};
use rmq_remoting::protocol::pull::PullMessageResponseHeader;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_pull_wakes_on_arrival_and_times_out_otherwise() {
    let d = tempfile::tempdir().unwrap();
    let b = broker(settings(&d.path().join("store"), None)).await;
    let addr = b.local_addr().to_string();
    let c = client();
    let r = call(&c, &addr, send_v2(&send_header("LpTopic", 0, &props(&[("TAGS", "A")])), b"first")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);

    // held at offset 1 (SUSPEND|SUBSCRIPTION|COMMIT), commit piggybacked right away
    let mut h = pull_header("lpg", "LpTopic", 0, 1, "B");
    h.sys_flag = 0x1 | 0x2 | 0x4;
    h.suspend_timeout_millis = 15_000;
    h.commit_offset = 1;
    let (c2, a2) = (c.clone(), addr.clone());
    let held = tokio::spawn(async move {
        let t = Instant::now();
        let r = call(&c2, &a2, pull_cmd(&h)).await;
        (r, t.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.state().long_polling.held(), 1);
    assert_eq!(b.state().meta.offsets.query("lpg", "LpTopic", 0), 1);
    // a message with a tag the pull does not want does not release it
    let r = call(&c, &addr, send_v2(&send_header("LpTopic", 0, &props(&[("TAGS", "A")])), b"skip")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let sent = Instant::now();
    let r = call(&c, &addr, send_v2(&send_header("LpTopic", 0, &props(&[("TAGS", "B")])), b"wanted")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let (r, _) = held.await.unwrap();
    let latency = sent.elapsed();
    assert!(latency < Duration::from_millis(1500), "woken after {latency:?}");
    // woken either by the skip (re-check) or the wanted message: served from offset 1
    assert!(matches!(r.response_code(), ResponseCode::SUCCESS | ResponseCode::PULL_RETRY_IMMEDIATELY), "{r:?}");
    if r.response_code() == ResponseCode::SUCCESS {
        let recs = records(r.body.as_deref().unwrap());
        assert_eq!(&recs.last().unwrap().body[..], b"wanted");
    }
    assert_eq!(b.state().long_polling.held(), 0);

    // nothing arrives: answered PULL_NOT_FOUND after the suspend timeout
    let mut h = pull_header("lpg", "LpTopic", 0, 3, "*");
    h.sys_flag = 0x2 | 0x4;
    h.suspend_timeout_millis = 700;
    let t = Instant::now();
    let r = call(&c, &addr, pull_cmd(&h)).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_NOT_FOUND);
    assert!(t.elapsed() >= Duration::from_millis(650), "{:?}", t.elapsed());
    assert_eq!(PullMessageResponseHeader::from_command(&r).unwrap().next_begin_offset, 3);

    // the arrival latency when the pull is already waiting
    let mut h = pull_header("lpg", "LpTopic", 0, 3, "*");
    h.sys_flag = 0x2 | 0x4;
    h.suspend_timeout_millis = 15_000;
    let (c2, a2) = (c.clone(), addr.clone());
    let held = tokio::spawn(async move { call(&c2, &a2, pull_cmd(&h)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = Instant::now();
    call(&c, &addr, send_v2(&send_header("LpTopic", 0, ""), b"now")).await;
    let r = held.await.unwrap();
    let latency = sent.elapsed();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert!(latency < Duration::from_millis(200), "wake-up latency {latency:?}");
    eprintln!("long-poll wake-up latency: {latency:?}");
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_messages_and_committed_offsets() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("store");
    let b = broker(settings(&root, None)).await;
    let addr = b.local_addr().to_string();
    let c = client();
    // enough bytes to roll several 64 KiB commitlog files and 30-unit CQ files
    for i in 0..100 {
        let body = vec![b'a' + (i % 26) as u8; 1500];
        let r = call(&c, &addr, send_v2(&send_header("RsTopic", i % 2, &props(&[("KEYS", &format!("k{i}"))])), &body))
            .await;
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    }
    // 5.x refuses offsets of groups it does not know: a pull creates the group
    let mut cmd = RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET);
    cmd.set_ext("consumerGroup", "rg");
    cmd.set_ext("topic", "RsTopic");
    cmd.set_ext("queueId", "1");
    cmd.set_ext("commitOffset", "42");
    assert_eq!(call(&c, &addr, cmd).await.response_code(), ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST);
    call(&c, &addr, pull_cmd(&pull_header("rg", "RsTopic", 1, 0, "*"))).await;
    let mut cmd = RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET);
    cmd.set_ext("consumerGroup", "rg");
    cmd.set_ext("topic", "RsTopic");
    cmd.set_ext("queueId", "1");
    cmd.set_ext("commitOffset", "42");
    assert_eq!(call(&c, &addr, cmd).await.response_code(), ResponseCode::SUCCESS);
    b.shutdown().await;
    assert!(!root.join("abort").exists(), "clean shutdown removes abort");

    let b = broker(settings(&root, None)).await;
    let addr = b.local_addr().to_string();
    let c = client();
    let mut got = Vec::new();
    let mut off = 0;
    loop {
        let r = call(&c, &addr, pull_cmd(&pull_header("rg", "RsTopic", 0, off, "*"))).await;
        if r.response_code() != ResponseCode::SUCCESS {
            break;
        }
        got.extend(records(r.body.as_deref().unwrap()));
        off = PullMessageResponseHeader::from_command(&r).unwrap().next_begin_offset;
    }
    assert_eq!(got.len(), 50);
    assert!(got.iter().enumerate().all(|(i, m)| m.queue_offset == i as i64 && m.body.len() == 1500));
    let mut cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET);
    QueryConsumerOffsetRequestHeader {
        consumer_group: "rg".into(),
        topic: "RsTopic".into(),
        queue_id: 1,
        set_zero_if_not_found: None,
    }
    .apply_to(&mut cmd);
    let r = call(&c, &addr, cmd).await;
    assert_eq!(OffsetResponseHeader::from_command(&r).unwrap().offset, 42);
    // writing continues where it stopped
    let r = call(&c, &addr, send_v2(&send_header("RsTopic", 0, ""), b"after")).await;
    assert_eq!(rmq_remoting::protocol::send::SendMessageResponseHeader::from_command(&r).unwrap().queue_offset, 50);
    b.shutdown().await;
}
