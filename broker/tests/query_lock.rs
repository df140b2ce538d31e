//! QUERY_MESSAGE by key, VIEW_MESSAGE_BY_ID by offset, and the orderly
//! consumers' LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, over the wire.

mod common;
mod feature_util;

use common::{broker, call, client, namesrv, records, send_header, send_v2, settings};
use feature_util::*;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::body;
use rmq_remoting::protocol::client::{QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader};
use rmq_remoting::protocol::heartbeat::{LockBatchRequestBody, LockBatchResponseBody, MessageQueue};
use rmq_remoting::protocol::send::SendMessageResponseHeader;
use rmq_store::record::decode_offset_msg_id;

fn query(topic: &str, key: &str, max: i32, begin: i64, end: i64) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::QUERY_MESSAGE);
    QueryMessageRequestHeader {
        topic: topic.into(),
        key: key.into(),
        max_num: max,
        begin_timestamp: begin,
        end_timestamp: end,
    }
    .apply_to(&mut cmd);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_by_key_and_view_by_offset() {
    let d = tempfile::tempdir().unwrap();
    let b = broker(settings(&d.path().join("store"), None)).await;
    let addr = b.local_addr().to_string();
    let c = client();
    let start = now_ms();
    let mut ids = Vec::new();
    for (i, keys) in ["qk1 qk2", "qk1", "other"].iter().enumerate() {
        let mut h = send_header("QTopic", 0, &props(&[("KEYS", keys), ("UNIQ_KEY", &format!("UNIQ{i}"))]));
        h.born_timestamp = now_ms();
        let r = call(&c, &addr, send_v2(&h, format!("body {i}").as_bytes())).await;
        ids.push(SendMessageResponseHeader::from_command(&r).unwrap().msg_id);
    }
    let end = now_ms() + 1000;

    let r = call(&c, &addr, query("QTopic", "qk1", 32, start - 1000, end)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let got = records(r.body.as_deref().unwrap());
    let bodies: Vec<&[u8]> = got.iter().map(|m| m.body.as_ref()).collect();
    assert_eq!(bodies, [&b"body 0"[..], b"body 1"], "in commitlog order");
    let h = QueryMessageResponseHeader::from_command(&r).unwrap();
    assert!(h.index_last_update_timestamp >= start && h.index_last_update_phyoffset >= got[1].physical_offset);

    assert_eq!(records(call(&c, &addr, query("QTopic", "qk1", 1, 0, end)).await.body.as_deref().unwrap()).len(), 1);
    assert_eq!(records(call(&c, &addr, query("QTopic", "qk2", 32, 0, end)).await.body.as_deref().unwrap()).len(), 1);
    // by message id (UNIQ_KEY), as `queryMessageByUniqKey` asks
    let mut cmd = query("QTopic", "UNIQ2", 1, 0, end);
    cmd.set_ext("_UNIQUE_KEY_QUERY", "true");
    let r = call(&c, &addr, cmd).await;
    assert_eq!(records(r.body.as_deref().unwrap())[0].body.as_ref(), b"body 2");

    for cmd in [
        query("QTopic", "qk1", 32, end + 10_000, end + 20_000),
        query("QTopic", "nokey", 32, 0, end),
        query("Other", "qk1", 32, 0, end),
    ] {
        let r = call(&c, &addr, cmd).await;
        assert_eq!(
            (r.response_code(), r.remark.as_deref()),
            (ResponseCode::QUERY_NOT_FOUND, Some("can not find message, maybe time range not correct"))
        );
        assert!(r.ext("indexLastUpdateTimestamp").is_some(), "the header comes with not found too");
    }

    let (_, offset) = decode_offset_msg_id(&ids[1]).unwrap();
    let mut cmd = RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID);
    ViewMessageRequestHeader { topic: Some("QTopic".into()), offset }.apply_to(&mut cmd);
    let r = call(&c, &addr, cmd).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let m = records(r.body.as_deref().unwrap());
    assert_eq!((m.len(), m[0].physical_offset, m[0].body.as_ref()), (1, offset, &b"body 1"[..]));
    let mut cmd = RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID);
    ViewMessageRequestHeader { topic: None, offset: 10_000_000 }.apply_to(&mut cmd);
    let r = call(&c, &addr, cmd).await;
    assert_eq!(
        (r.response_code(), r.remark.as_deref()),
        (ResponseCode::SYSTEM_ERROR, Some("can not find message by the offset, 10000000"))
    );
    b.shutdown().await;
}

fn mq(q: i32) -> MessageQueue {
    MessageQueue { broker_name: "broker-t".into(), queue_id: q, topic: "OrderTopic".into() }
}

fn lock_cmd(code: RequestCode, client_id: &str, qs: &[i32]) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(code);
    let b = LockBatchRequestBody {
        client_id: client_id.into(),
        consumer_group: "og".into(),
        mq_set: qs.iter().map(|q| mq(*q)).collect(),
        only_this_broker: false,
    };
    cmd.body = Some(body::encode(&b).into());
    cmd
}

async fn lock(c: &rmq_remoting::transport::Client, addr: &str, client_id: &str, qs: &[i32]) -> Vec<i32> {
    let r = call(c, addr, lock_cmd(RequestCode::LOCK_BATCH_MQ, client_id, qs)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let b: LockBatchResponseBody = body::decode("lock", r.body.as_deref().unwrap()).unwrap();
    let mut q: Vec<i32> = b.lock_ok_mq_set.iter().map(|m| m.queue_id).collect();
    q.sort();
    q
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_queue_locks() {
    let d = tempfile::tempdir().unwrap();
    let ns = namesrv(d.path()).await;
    let ns_addr = ns.local_addr().to_string();
    let b = broker(settings(&d.path().join("store"), Some(&ns_addr))).await;
    let addr = b.local_addr().to_string();
    let c = client();
    assert_eq!(lock(&c, &addr, "c1", &[0, 1]).await, [0, 1]);
    assert_eq!(lock(&c, &addr, "c2", &[1, 2]).await, [2], "queue 1 is held by c1");
    assert_eq!(lock(&c, &addr, "c1", &[0, 1]).await, [0, 1], "the holder renews");
    let r = call(&c, &addr, lock_cmd(RequestCode::UNLOCK_BATCH_MQ, "c2", &[1])).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(lock(&c, &addr, "c2", &[1]).await, Vec::<i32>::new(), "only the holder unlocks");
    call(&c, &addr, lock_cmd(RequestCode::UNLOCK_BATCH_MQ, "c1", &[1])).await;
    assert_eq!(lock(&c, &addr, "c2", &[1]).await, [1]);
    let mut bad = RemotingCommand::request(RequestCode::LOCK_BATCH_MQ);
    bad.body = Some(bytes::Bytes::from_static(b"{nope"));
    assert_eq!(call(&c, &addr, bad).await.response_code(), ResponseCode::SYSTEM_ERROR);
    b.shutdown().await;
    ns.shutdown().await;
}
