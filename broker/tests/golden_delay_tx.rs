//! A copy of the Java 4.9.8 golden store (plain/) with its delay, retry and
//! transaction records: delay progress from `delayOffset.json` continues
//! without redelivery, new delay / retry / check records are byte-identical
//! to the ones Java wrote from the same inputs, and the op messages Java
//! wrote (4.9.8 bodies without the `,`) keep resolved halves from being checked.

mod common;
mod feature_util;

use std::sync::Arc;
use std::time::Duration;

use common::{broker, call, send_header, send_v2};
use feature_util::*;
use parking_lot::Mutex;
use rmq_broker::config::BrokerSettings;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::client::{
    CheckTransactionStateRequestHeader, ConsumerSendMsgBackRequestHeader, EndTransactionRequestHeader,
};
use rmq_remoting::transport::{BoxFuture, Channel, Client, ClientConfig, RequestHandler};
use rmq_store::record::{decode_message, MessageRecord};

const SCHEDULE: &str = "SCHEDULE_TOPIC_XXXX";
const HALF: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
const OP: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
const SYS_GROUP: &str = "CID_RMQ_SYS_TRANS";

fn copy_plain(d: &std::path::Path) -> Option<BrokerSettings> {
    let src = golden("plain")?;
    let root = d.join("plain");
    copy_dir(&src, &root);
    let mut s = golden_settings(&root);
    // the halves were born when the golden data was made: never "older than the files"
    s.store.file_reserved_time = 100_000;
    Some(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn golden_delay_progress_continues_and_new_records_match_java() {
    let d = tempfile::tempdir().unwrap();
    let Some(s) = copy_plain(d.path()) else { return };
    let b = broker(s).await;
    let addr = b.local_addr().to_string();
    let c = common::client();
    let dl = &b.state().meta.delay_offsets;
    assert_eq!((dl.get(1), dl.get(2), dl.get(3)), (-1, 1, 1), "delayOffset.json {{2:1,3:1}}");
    let before: Vec<i64> = (0..4).map(|q| max_offset(&b, "GoldenTopicA", q)).collect();
    let retry_before = max_offset(&b, "%RETRY%cg_golden_push", 0);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after: Vec<i64> = (0..4).map(|q| max_offset(&b, "GoldenTopicA", q)).collect();
    assert_eq!(
        (before, retry_before),
        (after.clone(), max_offset(&b, "%RETRY%cg_golden_push", 0)),
        "nothing delivered again"
    );

    // seq 18 sent again: the parked record is the one Java stored
    let p = props(&[
        ("KEYS", "keyDelay"),
        ("DELAY", "2"),
        ("UNIQ_KEY", "7F0000011F405FFD2B276B4E57220012"),
        ("WAIT", "true"),
        ("TAGS", "TagDelay"),
    ]);
    let r = call(&c, &addr, send_v2(&send_header("GoldenTopicA", 3, &p), b"delayed message level 2 (5s)")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(r.ext("queueOffset"), Some("1"), "the next offset of schedule queue 1");
    let parked = queue_records(&b, SCHEDULE, 1).await;
    assert_eq!(parked.len(), 2);
    assert_eq!(parked[1].properties_raw, parked[0].properties_raw, "same properties bytes as Java's");

    // seq 17's consumer retry sent back again: the same parked record as Java's (level 3, queue 2)
    let mut cmd = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK);
    ConsumerSendMsgBackRequestHeader {
        offset: 5031,
        group: "cg_golden_push".into(),
        delay_level: 0,
        origin_msg_id: Some("7F0000011F405FFD2B276B4E571F0011".into()),
        origin_topic: Some("GoldenTopicA".into()),
        unit_mode: Some(false),
        max_reconsume_times: Some(16),
    }
    .apply_to(&mut cmd);
    let r = call(&c, &addr, cmd).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let retries = queue_records(&b, SCHEDULE, 2).await;
    assert_eq!(retries.len(), 2);
    let (java, ours) = (&retries[0], &retries[1]);
    assert_eq!(ours.properties_raw, java.properties_raw);
    assert_eq!(
        (ours.reconsume_times, ours.born_timestamp, ours.store_host, &ours.body),
        (java.reconsume_times, java.born_timestamp, java.store_host, &java.body)
    );

    // level 2 (5 s) progress continues from Java's 1 to 2
    assert!(wait_for(12, || max_offset(&b, "GoldenTopicA", 3) == after[3] + 1).await);
    assert!(wait_for(2, || b.state().meta.delay_offsets.get(2) == 2).await);
    let delivered = queue_records(&b, "GoldenTopicA", 3).await.pop().unwrap();
    assert_eq!(delivered.properties_raw, parked[1].properties_raw);
    assert_eq!(delivered.body.as_ref(), b"delayed message level 2 (5s)");
    b.shutdown().await;
    let file = std::fs::read_to_string(d.path().join("plain/config/delayOffset.json")).unwrap();
    assert!(file.contains("2:2") && file.contains("3:1") && !file.contains("dataVersion"), "4.9.8 layout kept: {file}");
}

/// A producer of `pg_golden_tx` that rolls back whatever it is asked about.
#[derive(Default)]
struct RollbackProducer {
    checks: Mutex<Vec<(CheckTransactionStateRequestHeader, MessageRecord)>>,
}

impl RequestHandler for RollbackProducer {
    fn handle(&self, channel: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        if req.request_code() == RequestCode::CHECK_TRANSACTION_STATE {
            let h = CheckTransactionStateRequestHeader::from_command(&req).unwrap();
            let m = decode_message(req.body.as_deref().unwrap()).unwrap();
            let mut end = RemotingCommand::request(RequestCode::END_TRANSACTION);
            EndTransactionRequestHeader {
                topic: None,
                producer_group: "pg_golden_tx".into(),
                tran_state_table_offset: h.tran_state_table_offset,
                commit_log_offset: h.commit_log_offset,
                commit_or_rollback: 12,
                from_transaction_check: Some(true),
                msg_id: h.msg_id.clone().unwrap_or_default(),
                transaction_id: h.transaction_id.clone(),
            }
            .apply_to(&mut end);
            self.checks.lock().push((h, m));
            channel.invoke_oneway(end).unwrap();
        }
        Box::pin(async { None })
    }
}

async fn tx_broker(s: BrokerSettings) -> (rmq_broker::BrokerHandle, Arc<RollbackProducer>, Client) {
    let mut s = s;
    s.broker.transaction_check_interval = 300;
    s.broker.transaction_time_out = 1000;
    let b = broker(s).await;
    let handler = Arc::new(RollbackProducer::default());
    let c = Client::with_handler(ClientConfig::default(), handler.clone());
    let r = call(&c, &b.local_addr().to_string(), producer_heartbeat("golden@1", "pg_golden_tx")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    (b, handler, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn golden_resolved_halves_are_not_checked_again() {
    let d = tempfile::tempdir().unwrap();
    let Some(s) = copy_plain(d.path()) else { return };
    let (b, handler, _c) = tx_broker(s).await;
    let o = &b.state().meta.offsets;
    assert_eq!((o.query(SYS_GROUP, HALF, 0), o.query(SYS_GROUP, OP, 0)), (4, 3));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(handler.checks.lock().is_empty(), "every golden half is resolved");
    assert_eq!((max_offset(&b, HALF, 0), max_offset(&b, OP, 0)), (4, 3));
    assert_eq!((o.query(SYS_GROUP, HALF, 0), o.query(SYS_GROUP, OP, 0)), (4, 3));
    assert_eq!(max_offset(&b, "TRANS_CHECK_MAX_TIME_TOPIC", 0), 0);
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn golden_op_messages_are_read_when_checking_from_the_start() {
    let d = tempfile::tempdir().unwrap();
    let Some(s) = copy_plain(d.path()) else { return };
    // forget the check's progress: the op queue alone must tell which halves are resolved
    for f in ["consumerOffset.json", "consumerOffset.json.bak"] {
        let p = d.path().join("plain/config").join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        let kept: Vec<&str> = text.lines().collect();
        let mut out = Vec::new();
        let mut skip = false;
        for l in kept {
            if l.contains("RMQ_SYS_TRANS_") {
                skip = true;
                continue;
            }
            if skip {
                skip = false;
                continue;
            }
            out.push(l);
        }
        std::fs::write(&p, out.join("\n")).unwrap();
    }
    let (b, handler, _c) = tx_broker(s).await;
    assert_eq!(b.state().meta.offsets.query(SYS_GROUP, HALF, 0), -1);
    assert!(
        wait_for(10, || b.state().meta.offsets.query(SYS_GROUP, OP, 0) == 4).await,
        "op progress reaches the rollback's op"
    );
    assert!(wait_for(5, || b.state().meta.offsets.query(SYS_GROUP, HALF, 0) == 5).await);
    let checks = handler.checks.lock().clone();
    // halves 0, 1 and 3 have op messages "0", "1", "3"; only half 2 (checked by Java as 3) is asked about again
    assert_eq!(checks.len(), 1, "{checks:?}");
    let (h, m) = &checks[0];
    assert_eq!(h.msg_id.as_deref(), Some("7F0000011F405FFD2B276B4E5DC003C4"));
    assert_eq!((h.topic.as_deref(), h.tran_state_table_offset), (Some(HALF), 4));
    assert_eq!((m.topic.as_str(), m.queue_id), ("GoldenTxTopic", 1));
    let halves = queue_records(&b, HALF, 0).await;
    assert_eq!(halves.len(), 5);
    assert_eq!(
        halves[4].properties_raw, halves[3].properties_raw,
        "the re-stored half has the bytes Java's check wrote"
    );
    assert_eq!(h.commit_log_offset, halves[4].physical_offset);
    let ops = queue_records(&b, OP, 0).await;
    assert_eq!(ops.len(), 4);
    assert_eq!(ops[3].body.as_ref(), b"4", "4.9.8 op body");
    assert_eq!(ops[3].properties_raw, ops[0].properties_raw);
    b.shutdown().await;
}
