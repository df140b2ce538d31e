//! Send and pull round trips against a running broker, with our own client.

mod common;

use common::*;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::offset::{
    GetMaxOffsetRequestHeader, OffsetResponseHeader, QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rmq_remoting::protocol::pull::PullMessageResponseHeader;
use rmq_remoting::protocol::send::SendMessageResponseHeader;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_pull_round_trip_with_tags_offsets_and_errors() {
    send_pull_round_trip(false).await;
}

/// The same with `transientStorePoolEnable`: sends are answered from the
/// write buffer, and everything reads back the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_pull_round_trip_in_write_buffer_mode() {
    send_pull_round_trip(true).await;
}

/// Write-buffer mode answers a send before it is dispatched (as Java's reput
/// dispatches after the answer): waits until RtTopic's queue has `n` messages.
async fn settle(write_buffer: bool, b: &rmq_broker::BrokerHandle, queue: i32, n: i64) {
    let t0 = std::time::Instant::now();
    while write_buffer && b.state().store.max_offset("RtTopic", queue) < n {
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "queue {queue} never reached {n}");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

async fn send_pull_round_trip(write_buffer: bool) {
    let d = tempfile::tempdir().unwrap();
    let ns = namesrv(d.path()).await;
    let mut s = settings(&d.path().join("store"), Some(&ns.local_addr().to_string()));
    s.store.transient_store_pool_enable = write_buffer;
    let b = broker(s).await;
    let addr = b.local_addr().to_string();
    let c = client();

    // auto-created from TBW102; WAIT kept (5.x layout for a fresh store), CLUSTER added
    let mut sent = Vec::new();
    for i in 0..6 {
        let tag = if i % 2 == 0 { "TagA" } else { "TagB" };
        let h = send_header("RtTopic", 1, &props(&[("TAGS", tag), ("UNIQ_KEY", &format!("U{i}")), ("WAIT", "true")]));
        let r = call(&c, &addr, send_v2(&h, format!("body-{i}").as_bytes())).await;
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
        assert_eq!(ext(&r, "MSG_REGION"), "DefaultRegion");
        assert_eq!(ext(&r, "TRACE_ON"), "true");
        let rh = SendMessageResponseHeader::from_command(&r).unwrap();
        assert_eq!((rh.queue_id, rh.queue_offset), (1, i));
        assert_eq!(rh.transaction_id.as_deref(), Some(format!("U{i}").as_str()));
        assert!(rh.msg_id.starts_with("7F000001"), "offsetMsgId with brokerIP1: {}", rh.msg_id);
        sent.push(rh.msg_id);
    }
    settle(write_buffer, &b, 1, 6).await;

    // pull everything, then only TagB
    let r = call(&c, &addr, pull_cmd(&pull_header("cg", "RtTopic", 1, 0, "*"))).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(r.remark.as_deref(), Some("FOUND"));
    let ph = PullMessageResponseHeader::from_command(&r).unwrap();
    assert_eq!((ph.next_begin_offset, ph.min_offset, ph.max_offset, ph.suggest_which_broker_id), (6, 0, 6, 0));
    let recs = records(r.body.as_deref().unwrap());
    assert_eq!(recs.len(), 6);
    assert_eq!(&recs[3].body[..], b"body-3");
    assert_eq!(recs[0].properties.get("CLUSTER").map(String::as_str), Some("TestCluster"));
    assert_eq!(recs[0].properties.get("WAIT").map(String::as_str), Some("true"));
    assert_eq!(recs[2].offset_msg_id(), sent[2]);
    let r = call(&c, &addr, pull_cmd(&pull_header("cg", "RtTopic", 1, 0, "TagB"))).await;
    let recs = records(r.body.as_deref().unwrap());
    assert_eq!(recs.iter().map(|m| m.queue_offset).collect::<Vec<_>>(), vec![1, 3, 5]);
    let r = call(&c, &addr, pull_cmd(&pull_header("cg", "RtTopic", 1, 0, "TagZ"))).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_RETRY_IMMEDIATELY);
    assert_eq!(PullMessageResponseHeader::from_command(&r).unwrap().next_begin_offset, 6);
    // status rules: at max -> NOT_FOUND; past max -> OFFSET_MOVED to max; empty queue at 0 -> NOT_FOUND
    let r = call(&c, &addr, pull_cmd(&pull_header("cg", "RtTopic", 1, 6, "*"))).await;
    assert_eq!((r.response_code(), r.remark.as_deref()), (ResponseCode::PULL_NOT_FOUND, Some("OFFSET_OVERFLOW_ONE")));
    let r = call(&c, &addr, pull_cmd(&pull_header("cg", "RtTopic", 1, 60, "*"))).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_OFFSET_MOVED);
    assert_eq!(PullMessageResponseHeader::from_command(&r).unwrap().next_begin_offset, 6);
    let r = call(&c, &addr, pull_cmd(&pull_header("cg", "RtTopic", 0, 0, "*"))).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_NOT_FOUND);
    // SQL92 refused like Java with enablePropertyFilter=false
    let mut h = pull_header("cg", "RtTopic", 1, 0, "a > 1");
    h.expression_type = Some("SQL92".into());
    let r = call(&c, &addr, pull_cmd(&h)).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("by SQL92"));

    // batch: ids comma-joined, consecutive queue offsets
    let p1 = props(&[("TAGS", "x"), ("UNIQ_KEY", "B1")]);
    let p2 = props(&[("UNIQ_KEY", "B2")]);
    let mut h = send_header("RtTopic", 2, "");
    h.batch = Some(true);
    h.properties = None;
    let mut cmd = send_v2(&h, &batch_body(&[(b"one", &p1), (b"two", &p2)]));
    cmd.code = RequestCode::SEND_BATCH_MESSAGE.0;
    let r = call(&c, &addr, cmd).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let rh = SendMessageResponseHeader::from_command(&r).unwrap();
    assert_eq!(rh.msg_id.split(',').count(), 2);
    settle(write_buffer, &b, 2, 2).await;
    let r = call(&c, &addr, pull_cmd(&pull_header("cg", "RtTopic", 2, 0, "*"))).await;
    let recs = records(r.body.as_deref().unwrap());
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].properties.get("UNIQ_KEY").map(String::as_str), Some("B2"));
    assert_eq!(recs[1].properties.get("CLUSTER").map(String::as_str), Some("TestCluster"));

    // the C++ client's batch="1" on code 10 is one message (Boolean.parseBoolean)
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE);
    send_header("RtTopic", 3, &props(&[("UNIQ_KEY", "CPP")])).apply_to(&mut cmd);
    cmd.set_ext("batch", "1");
    cmd.body = Some(bytes::Bytes::from(batch_body(&[(b"a", ""), (b"b", "")])));
    let r = call(&c, &addr, cmd).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    settle(write_buffer, &b, 3, 1).await;
    let r = call(&c, &addr, pull_cmd(&pull_header("cg", "RtTopic", 3, 0, "*"))).await;
    assert_eq!(records(r.body.as_deref().unwrap()).len(), 1);

    // offsets: update (oneway like clients), query, max/min, search by time
    let mut cmd = RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET);
    UpdateConsumerOffsetRequestHeader {
        consumer_group: "cg".into(),
        topic: "RtTopic".into(),
        queue_id: 1,
        commit_offset: 4,
    }
    .apply_to(&mut cmd);
    assert_eq!(call(&c, &addr, cmd).await.response_code(), ResponseCode::SUCCESS);
    let mut cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET);
    QueryConsumerOffsetRequestHeader {
        consumer_group: "cg".into(),
        topic: "RtTopic".into(),
        queue_id: 1,
        set_zero_if_not_found: None,
    }
    .apply_to(&mut cmd);
    let r = call(&c, &addr, cmd).await;
    assert_eq!(OffsetResponseHeader::from_command(&r).unwrap().offset, 4);
    let mut cmd = RemotingCommand::request(RequestCode::GET_MAX_OFFSET);
    GetMaxOffsetRequestHeader { topic: "RtTopic".into(), queue_id: 1, committed: None }.apply_to(&mut cmd);
    assert_eq!(OffsetResponseHeader::from_command(&call(&c, &addr, cmd).await).unwrap().offset, 6);
    let mut cmd = RemotingCommand::request(RequestCode::SEARCH_OFFSET_BY_TIMESTAMP);
    SearchOffsetRequestHeader { topic: "RtTopic".into(), queue_id: 1, timestamp: 0, boundary_type: None }
        .apply_to(&mut cmd);
    assert_eq!(OffsetResponseHeader::from_command(&call(&c, &addr, cmd).await).unwrap().offset, 0);

    // malformed and unknown requests get answers, the connection stays usable
    let mut cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE);
    cmd.set_ext("topic", "RtTopic");
    let r = call(&c, &addr, cmd).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("consumerGroup"), "names the missing field");
    let r = call(&c, &addr, RemotingCommand::request(RequestCode(9999))).await;
    assert_eq!(r.response_code(), ResponseCode::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(r.remark.as_deref(), Some(" request type 9999 not supported"));
    let h = send_header("bad topic!", 0, "");
    let r = call(&c, &addr, send_v2(&h, b"x")).await;
    assert_eq!(r.response_code(), ResponseCode::INVALID_PARAMETER);
    let r = call(&c, &addr, send_v2(&send_header("SCHEDULE_TOPIC_XXXX", 0, ""), b"x")).await;
    assert_eq!(r.response_code(), ResponseCode::NO_PERMISSION);
    let r = call(&c, &addr, send_v2(&send_header("RtTopic", 100, ""), b"x")).await;
    assert_eq!(r.response_code(), ResponseCode::INVALID_PARAMETER);
    // half messages are stored in the half topic (transaction/), not in their own
    let r = call(&c, &addr, send_v2(&send_header("RtTopic", 0, &props(&[("TRAN_MSG", "true")])), b"x")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    // the fast port serves sends but not pulls
    let fast = b.fast_addr().to_string();
    let r = call(&c, &fast, pull_cmd(&pull_header("cg", "RtTopic", 1, 0, "*"))).await;
    assert_eq!(r.response_code(), ResponseCode::REQUEST_CODE_NOT_SUPPORTED);
    let r = call(&c, &fast, send_v2(&send_header("RtTopic", 0, ""), b"fast")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);

    // the broker registered its topics with the name server
    let mut cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
    cmd.set_ext("topic", "RtTopic");
    let ns_addr = ns.local_addr().to_string();
    let mut found = false;
    for _ in 0..50 {
        if call(&c, &ns_addr, cmd.clone()).await.response_code() == ResponseCode::SUCCESS {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "route of the auto-created topic");

    // a slave refuses sends: a 5.x store (this one) answers SYSTEM_BUSY from
    // `rejectRequest` (4.9.8: SERVICE_NOT_AVAILABLE, see slave_reads.rs)
    let st = b.state().clone();
    st.role.change(&st.store, rmq_broker::config::BrokerRole::Slave).await.unwrap();
    let r = call(&c, &addr, send_v2(&send_header("RtTopic", 0, ""), b"x")).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_BUSY);
    st.role.change(&st.store, rmq_broker::config::BrokerRole::AsyncMaster).await.unwrap();
    let r = call(&c, &addr, send_v2(&send_header("RtTopic", 0, ""), b"x")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);

    b.shutdown().await;
    ns.shutdown().await;
}

/// ali-ons and other clients put JSON numbers and booleans in extFields; the
/// C++ client leaves out serializeTypeCurrentRPC. Raw frames, no client library.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_ext_fields_from_other_clients_are_accepted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let d = tempfile::tempdir().unwrap();
    let b = broker(settings(&d.path().join("store"), None)).await;
    let header = r#"{"code":310,"language":"NODE_JS","version":401,"opaque":7,"flag":0,"extFields":{"a":"pg","b":"NumTopic","c":"TBW102","d":4,"e":-1,"f":0,"g":1700000000000,"h":0,"i":"TAGS\u0001n","j":0,"k":false,"m":false}}"#;
    let body = b"numbers";
    let mut frame = Vec::new();
    frame.extend_from_slice(&((4 + header.len() + body.len()) as i32).to_be_bytes());
    frame.extend_from_slice(&(header.len() as i32).to_be_bytes());
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(body);
    let mut s = tokio::net::TcpStream::connect(b.local_addr()).await.unwrap();
    s.write_all(&frame).await.unwrap();
    let len = s.read_i32().await.unwrap() as usize;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.contains(r#""code":0"#) && text.contains(r#""opaque":7"#), "{text}");
    assert!(text.contains("queueOffset"), "{text}");
    b.shutdown().await;
}
