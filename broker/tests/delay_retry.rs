//! Delay levels and consumer retries over the wire: delayed sends wait in
//! SCHEDULE_TOPIC_XXXX and are delivered in order when due, delivery resumes
//! after a restart, CONSUMER_SEND_MSG_BACK goes through the schedule to
//! `%RETRY%<group>` and on to `%DLQ%<group>`.

mod common;
mod feature_util;

use std::path::Path;

use common::{broker, call, client, namesrv, pull_cmd, pull_header, records, send_header, send_v2, settings};
use feature_util::*;
use rmq_broker::config::BrokerSettings;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::client::ConsumerSendMsgBackRequestHeader;
use rmq_remoting::protocol::send::SendMessageResponseHeader;
use rmq_store::record::decode_offset_msg_id;

const SCHEDULE: &str = "SCHEDULE_TOPIC_XXXX";

fn delay_settings(root: &Path, ns: Option<&str>, levels: &str) -> BrokerSettings {
    let mut s = settings(root, ns);
    s.store.message_delay_level = levels.into();
    s
}

async fn send(
    c: &rmq_remoting::transport::Client,
    addr: &str,
    topic: &str,
    queue: i32,
    p: &str,
    body: &[u8],
) -> SendMessageResponseHeader {
    let mut h = send_header(topic, queue, p);
    h.born_timestamp = now_ms();
    let r = call(c, addr, send_v2(&h, body)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    SendMessageResponseHeader::from_command(&r).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delayed_messages_wait_for_their_level_and_arrive_in_order() {
    let d = tempfile::tempdir().unwrap();
    let ns = namesrv(d.path()).await;
    let ns_addr = ns.local_addr().to_string();
    let b = broker(delay_settings(&d.path().join("store"), Some(&ns_addr), "1s 2s 3s")).await;
    let addr = b.local_addr().to_string();
    let c = client();
    let mut sent_at = Vec::new();
    for (i, level) in ["1", "2", "1", "9", "1"].iter().enumerate() {
        let p = props(&[("KEYS", &format!("dk{i}")), ("DELAY", level), ("TAGS", "TagD"), ("WAIT", "true")]);
        let r = send(&c, &addr, "DlTopic", 0, &p, format!("delayed {i}").as_bytes()).await;
        // the answer names the queue asked for and the offset in the schedule queue
        assert_eq!(r.queue_id, 0);
        sent_at.push(now_ms());
    }
    assert_eq!(max_offset(&b, "DlTopic", 0), 0, "nothing is visible before it is due");
    assert_eq!((max_offset(&b, SCHEDULE, 0), max_offset(&b, SCHEDULE, 1), max_offset(&b, SCHEDULE, 2)), (3, 1, 1));
    let parked = queue_records(&b, SCHEDULE, 2).await;
    assert_eq!(prop(&parked[0], "DELAY"), Some("3"), "a level past the table is clamped");
    assert_eq!((prop(&parked[0], "REAL_TOPIC"), prop(&parked[0], "REAL_QID")), (Some("DlTopic"), Some("0")));
    let q = b.state().store.queues().find(SCHEDULE, 0).unwrap();
    let level1 = queue_records(&b, SCHEDULE, 0).await;
    assert_eq!(q.get(0).unwrap().unwrap().tags_code, level1[0].store_timestamp + 1000, "tags code = deliver time");

    assert!(
        wait_for(10, || max_offset(&b, "DlTopic", 0) == 5 && b.state().meta.delay_offsets.get(3) == 1).await,
        "all five delivered"
    );
    let got = queue_records(&b, "DlTopic", 0).await;
    let keys: Vec<&str> = got.iter().map(|m| prop(m, "KEYS").unwrap()).collect();
    assert_eq!(keys, ["dk0", "dk2", "dk4", "dk1", "dk3"], "level 1 in send order, then levels 2 and 3");
    for m in &got {
        let k = prop(m, "KEYS").unwrap();
        let parked = [level1.as_slice(), &queue_records(&b, SCHEDULE, 1).await, &parked]
            .concat()
            .into_iter()
            .find(|p| prop(p, "KEYS") == Some(k))
            .unwrap();
        let level: i64 = prop(&parked, "DELAY").unwrap().parse().unwrap();
        assert!(m.store_timestamp >= parked.store_timestamp + level * 1000, "{k} delivered early");
        assert_eq!(m.properties_raw, parked.properties_raw, "delivered with the parked properties");
        assert_eq!((m.body.clone(), m.born_timestamp), (parked.body.clone(), parked.born_timestamp));
    }
    let d = &b.state().meta.delay_offsets;
    assert_eq!((d.get(1), d.get(2), d.get(3)), (3, 1, 1));
    // the delivered messages are pullable as usual
    let r = call(&c, &addr, pull_cmd(&pull_header("dg", "DlTopic", 0, 0, "TagD"))).await;
    assert_eq!(records(r.body.as_deref().unwrap()).len(), 5);
    b.shutdown().await;
    ns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delivery_resumes_after_a_restart_in_the_middle_of_a_delay() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("store");
    let b = broker(delay_settings(&root, None, "1s 4s")).await;
    let addr = b.local_addr().to_string();
    let c = client();
    send(&c, &addr, "RsDelay", 1, &props(&[("KEYS", "early"), ("DELAY", "1")]), b"early").await;
    send(&c, &addr, "RsDelay", 1, &props(&[("KEYS", "late"), ("DELAY", "2")]), b"late").await;
    // the progress moves once the delivery's put has returned
    assert!(wait_for(5, || b.state().meta.delay_offsets.get(1) == 1).await, "level 1 delivered");
    assert_eq!(max_offset(&b, "RsDelay", 1), 1);
    b.shutdown().await;
    let file = std::fs::read_to_string(root.join("config/delayOffset.json")).unwrap();
    assert!(file.contains("1:1"), "progress persisted: {file}");

    let b = broker(delay_settings(&root, None, "1s 4s")).await;
    let addr = b.local_addr().to_string();
    assert_eq!(b.state().meta.delay_offsets.get(1), 1, "progress loaded");
    send(&c, &addr, "RsDelay", 1, &props(&[("KEYS", "after"), ("DELAY", "1")]), b"after").await;
    assert!(wait_for(10, || max_offset(&b, "RsDelay", 1) == 3 && b.state().meta.delay_offsets.get(2) == 1).await);
    let got = queue_records(&b, "RsDelay", 1).await;
    let keys: Vec<&str> = got.iter().map(|m| prop(m, "KEYS").unwrap()).collect();
    assert_eq!(keys, ["early", "after", "late"], "nothing delivered twice, the waiting one after its delay");
    let parked = queue_records(&b, SCHEDULE, 1).await;
    assert!(got[2].store_timestamp >= parked[0].store_timestamp + 4000);
    let d = &b.state().meta.delay_offsets;
    assert_eq!((d.get(1), d.get(2)), (2, 1));
    b.shutdown().await;
}

fn send_back(offset: i64, group: &str, delay_level: i32, max: Option<i32>) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK);
    ConsumerSendMsgBackRequestHeader {
        offset,
        group: group.into(),
        delay_level,
        origin_msg_id: None,
        origin_topic: Some("RbTopic".into()),
        unit_mode: Some(false),
        max_reconsume_times: max,
    }
    .apply_to(&mut cmd);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn send_back_retries_through_the_schedule_then_dead_letters() {
    let d = tempfile::tempdir().unwrap();
    let b = broker(delay_settings(&d.path().join("store"), None, "1s 1s 1s 1s 1s 1s")).await;
    let addr = b.local_addr().to_string();
    let c = client();
    let r = send(&c, &addr, "RbTopic", 0, &props(&[("KEYS", "rk"), ("TAGS", "TagR")]), b"retry me").await;
    let (_, first_offset) = decode_offset_msg_id(&r.msg_id).unwrap();

    // delay level 0: level 3 + reconsume times, via SCHEDULE_TOPIC_XXXX queue 2
    let resp = call(&c, &addr, send_back(first_offset, "cg_rb", 0, Some(2))).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let parked = queue_records(&b, SCHEDULE, 2).await;
    assert_eq!(parked.len(), 1);
    let p = &parked[0];
    assert_eq!(prop(p, "REAL_TOPIC"), Some("%RETRY%cg_rb"));
    assert_eq!((prop(p, "RETRY_TOPIC"), prop(p, "ORIGIN_MESSAGE_ID")), (Some("RbTopic"), Some(r.msg_id.as_str())));
    assert_eq!((prop(p, "DELAY"), prop(p, "WAIT"), p.reconsume_times), (Some("3"), Some("false"), 1));
    let retry = b.state().meta.topics.get("%RETRY%cg_rb").unwrap();
    assert_eq!((retry.read_queue_nums, retry.perm), (1, 6));
    assert!(wait_for(5, || max_offset(&b, "%RETRY%cg_rb", 0) == 1).await, "delivered to the retry topic");
    let pulled = call(&c, &addr, pull_cmd(&pull_header("cg_rb", "%RETRY%cg_rb", 0, 0, "*"))).await;
    let got = records(pulled.body.as_deref().unwrap());
    assert_eq!((got[0].body.as_ref(), got[0].reconsume_times), (&b"retry me"[..], 1));

    // the retry fails again: level 4, reconsume 2
    call(&c, &addr, send_back(got[0].physical_offset, "cg_rb", 0, Some(2))).await;
    assert_eq!(prop(&queue_records(&b, SCHEDULE, 3).await[0], "DELAY"), Some("4"));
    assert!(wait_for(5, || max_offset(&b, "%RETRY%cg_rb", 0) == 2).await);
    let second = queue_records(&b, "%RETRY%cg_rb", 0).await.pop().unwrap();
    assert_eq!(second.reconsume_times, 2);
    assert_eq!(prop(&second, "ORIGIN_MESSAGE_ID"), Some(r.msg_id.as_str()), "the first id stays");

    // reconsume times reached the maximum: the DLQ, at once
    let resp = call(&c, &addr, send_back(second.physical_offset, "cg_rb", 0, Some(2))).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    let dlq = queue_records(&b, "%DLQ%cg_rb", 0).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!((prop(&dlq[0], "DELAY"), dlq[0].reconsume_times), (Some("0"), 3));
    assert_eq!(prop(&dlq[0], "RETRY_TOPIC"), Some("RbTopic"));
    let t = b.state().meta.topics.get("%DLQ%cg_rb").unwrap();
    assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (1, 1, 6));
    // a negative level asks for the DLQ directly
    call(&c, &addr, send_back(first_offset, "cg_rb", -1, None)).await;
    assert_eq!(max_offset(&b, "%DLQ%cg_rb", 0), 2);

    let resp = call(&c, &addr, send_back(99_999_999, "cg_rb", 0, None)).await;
    assert_eq!(
        (resp.response_code(), resp.remark.as_deref()),
        (ResponseCode::SYSTEM_ERROR, Some("look message by offset failed, 99999999"))
    );

    // the client's fallback: a plain send to the retry topic with a delay level
    let mut h = send_header("%RETRY%cg_rb", 0, &props(&[("KEYS", "fallback"), ("DELAY", "4")]));
    h.reconsume_times = Some(1);
    let resp = call(&c, &addr, send_v2(&h, b"fallback")).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    assert!(wait_for(5, || max_offset(&b, "%RETRY%cg_rb", 0) == 3).await);
    let last = queue_records(&b, "%RETRY%cg_rb", 0).await.pop().unwrap();
    assert_eq!((prop(&last, "KEYS"), last.reconsume_times), (Some("fallback"), 1));
    b.shutdown().await;
}
