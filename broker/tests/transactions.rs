//! Transactional messages over the wire: half messages, END_TRANSACTION
//! commit and rollback, and the broker's check-back to a producer that
//! answers CHECK_TRANSACTION_STATE, up to `transactionCheckMax`.

mod common;
mod feature_util;

use std::sync::Arc;

use common::{broker, call, client, namesrv, send_header, send_v2, settings};
use feature_util::*;
use parking_lot::Mutex;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::client::{CheckTransactionStateRequestHeader, EndTransactionRequestHeader};
use rmq_remoting::protocol::send::SendMessageResponseHeader;
use rmq_remoting::transport::{BoxFuture, Channel, Client, ClientConfig, RequestHandler};
use rmq_store::record::{decode_message, decode_offset_msg_id, MessageRecord};

const HALF: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
const OP: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";

fn end_tx(
    group: &str,
    tran_offset: i64,
    commit_log_offset: i64,
    msg_id: &str,
    decision: i32,
    from_check: bool,
) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::END_TRANSACTION);
    EndTransactionRequestHeader {
        topic: None,
        producer_group: group.into(),
        tran_state_table_offset: tran_offset,
        commit_log_offset,
        commit_or_rollback: decision,
        from_transaction_check: Some(from_check),
        msg_id: msg_id.into(),
        transaction_id: Some(msg_id.into()),
    }
    .apply_to(&mut cmd);
    cmd
}

/// A producer that answers check-backs: the message's KEYS says how.
#[derive(Default)]
pub struct TxProducer {
    pub group: String,
    pub checks: Mutex<Vec<(CheckTransactionStateRequestHeader, MessageRecord)>>,
}

impl RequestHandler for TxProducer {
    fn handle(&self, channel: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        if req.request_code() == RequestCode::CHECK_TRANSACTION_STATE {
            let h = CheckTransactionStateRequestHeader::from_command(&req).unwrap();
            let m = decode_message(req.body.as_deref().unwrap()).unwrap();
            let decision = match m.properties.get("KEYS").map(String::as_str) {
                Some("commit-on-check") => 8,
                Some("rollback-on-check") => 12,
                _ => 0,
            };
            let uniq = h.msg_id.clone().unwrap_or_default();
            let end = end_tx(&self.group, h.tran_state_table_offset, h.commit_log_offset, &uniq, decision, true);
            self.checks.lock().push((h, m));
            // like the Java client: the answer is a oneway END_TRANSACTION on the same connection
            channel.invoke_oneway(end).unwrap();
        }
        Box::pin(async { None })
    }
}

async fn half(c: &Client, addr: &str, key: &str, queue: i32) -> SendMessageResponseHeader {
    let mut h = send_header(
        "TxTopic",
        queue,
        &props(&[("KEYS", key), ("TRAN_MSG", "true"), ("PGROUP", "pg_tx"), ("TAGS", "TagTx")]),
    );
    h.producer_group = "pg_tx".into();
    h.sys_flag = 0x4;
    h.born_timestamp = now_ms();
    let r = call(c, addr, send_v2(&h, key.as_bytes())).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    SendMessageResponseHeader::from_command(&r).unwrap()
}

fn offsets(h: &SendMessageResponseHeader) -> (i64, i64) {
    (h.queue_offset, decode_offset_msg_id(&h.msg_id).unwrap().1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commit_rollback_and_check_back() {
    commit_rollback_check_back(false).await;
}

/// With `transientStorePoolEnable` half messages still wait for their write,
/// so END_TRANSACTION right after the answer finds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commit_rollback_and_check_back_in_write_buffer_mode() {
    commit_rollback_check_back(true).await;
}

async fn commit_rollback_check_back(write_buffer: bool) {
    let d = tempfile::tempdir().unwrap();
    let ns = namesrv(d.path()).await;
    let ns_addr = ns.local_addr().to_string();
    let mut s = settings(&d.path().join("store"), Some(&ns_addr));
    s.store.transient_store_pool_enable = write_buffer;
    s.broker.transaction_check_interval = 400;
    s.broker.transaction_time_out = 1000;
    s.broker.transaction_check_max = 2;
    let b = broker(s).await;
    let addr = b.local_addr().to_string();
    let handler = Arc::new(TxProducer { group: "pg_tx".into(), ..Default::default() });
    let c = Client::with_handler(ClientConfig::default(), handler.clone());
    assert_eq!(call(&c, &addr, producer_heartbeat("tx@1", "pg_tx")).await.response_code(), ResponseCode::SUCCESS);

    // a half is stored in the half topic, invisible in its own
    let h1 = half(&c, &addr, "commit-now", 1).await;
    assert_eq!(h1.queue_id, 1);
    let halves = queue_records(&b, HALF, 0).await;
    assert_eq!((prop(&halves[0], "REAL_TOPIC"), prop(&halves[0], "REAL_QID")), (Some("TxTopic"), Some("1")));
    assert_eq!(halves[0].sys_flag & 0xC, 0, "stored with the transaction type reset");
    assert_eq!(max_offset(&b, "TxTopic", 1), 0);

    // commit: the real message, type COMMIT, pointing at its half
    let (q1, p1) = offsets(&h1);
    let r = call(&c, &addr, end_tx("pg_tx", q1, p1, "u1", 8, false)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    if write_buffer {
        // answered from the write buffer: consumers see it once dispatched, as with Java's reput
        assert!(wait_for(5, || max_offset(&b, "TxTopic", 1) == 1 && max_offset(&b, OP, 0) == 1).await);
    }
    let real = queue_records(&b, "TxTopic", 1).await;
    assert_eq!(real.len(), 1);
    assert_eq!((real[0].sys_flag & 0xC, real[0].prepared_transaction_offset), (8, p1));
    assert_eq!(real[0].body.as_ref(), b"commit-now");
    assert_eq!(String::from_utf8_lossy(&queue_records(&b, OP, 0).await[0].body), format!("{q1},"));

    // rollback: only the op message
    let h2 = half(&c, &addr, "rollback-now", 0).await;
    let (q2, p2) = offsets(&h2);
    let r = call(&c, &addr, end_tx("wrong_group", q2, p2, "u2", 12, false)).await;
    assert_eq!(
        (r.response_code(), r.remark.as_deref()),
        (ResponseCode::SYSTEM_ERROR, Some("The producer group wrong"))
    );
    let r = call(&c, &addr, end_tx("pg_tx", q2 + 5, p2, "u2", 12, false)).await;
    assert_eq!(r.remark.as_deref(), Some("The transaction state table offset wrong"));
    let r = call(&c, &addr, end_tx("pg_tx", q2, p2, "u2", 12, false)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    if write_buffer {
        assert!(wait_for(5, || max_offset(&b, OP, 0) == 2).await);
    }
    assert_eq!(max_offset(&b, "TxTopic", 0), 0);
    assert_eq!(max_offset(&b, OP, 0), 2);
    let r = call(&c, &addr, end_tx("pg_tx", 0, 99_999_999, "u", 8, false)).await;
    assert_eq!(r.remark.as_deref(), Some("Find prepared transaction message failed"));

    // no decision: the broker asks the producer once the half is older than the timeout
    let h3 = half(&c, &addr, "commit-on-check", 1).await;
    let h4 = half(&c, &addr, "unknown", 0).await;
    assert!(wait_for(15, || max_offset(&b, "TxTopic", 1) == 2).await, "committed through the check");
    assert!(wait_for(15, || max_offset(&b, "TRANS_CHECK_MAX_TIME_TOPIC", 0) == 1).await, "discarded after checks");
    let checks = handler.checks.lock().clone();
    let keys: Vec<&str> = checks.iter().map(|(_, m)| m.properties.get("KEYS").unwrap().as_str()).collect();
    assert!(
        !keys.contains(&"commit-now") && !keys.contains(&"rollback-now"),
        "resolved halves are not checked: {keys:?}"
    );
    assert_eq!(keys.iter().filter(|k| **k == "commit-on-check").count(), 1);
    assert_eq!(keys.iter().filter(|k| **k == "unknown").count(), 2, "transactionCheckMax checks, then discarded");
    let (h, m) = checks.iter().find(|(_, m)| m.properties.get("KEYS").unwrap() == "commit-on-check").unwrap();
    assert_eq!(h.topic.as_deref(), Some(HALF));
    assert!(h.tran_state_table_offset > offsets(&h3).0, "the check names the half stored again");
    assert_eq!((m.topic.as_str(), m.queue_id, m.queue_offset), ("TxTopic", 1, h.tran_state_table_offset));
    assert_eq!(m.properties.get("TRANSACTION_CHECK_TIMES").map(String::as_str), Some("1"));
    let committed = queue_records(&b, "TxTopic", 1).await.pop().unwrap();
    assert_eq!(committed.prepared_transaction_offset, h.commit_log_offset);
    let discarded = queue_records(&b, "TRANS_CHECK_MAX_TIME_TOPIC", 0).await;
    assert_eq!(
        (prop(&discarded[0], "KEYS"), prop(&discarded[0], "TRANSACTION_CHECK_TIMES")),
        (Some("unknown"), Some("2"))
    );
    let _ = h4;
    // the check's progress covers everything resolved
    assert!(
        wait_for(5, || {
            let o = &b.state().meta.offsets;
            o.query("CID_RMQ_SYS_TRANS", HALF, 0) == max_offset(&b, HALF, 0)
                && o.query("CID_RMQ_SYS_TRANS", OP, 0) == max_offset(&b, OP, 0)
        })
        .await,
        "half {} / {}, op {} / {}",
        b.state().meta.offsets.query("CID_RMQ_SYS_TRANS", HALF, 0),
        max_offset(&b, HALF, 0),
        b.state().meta.offsets.query("CID_RMQ_SYS_TRANS", OP, 0),
        max_offset(&b, OP, 0)
    );
    b.shutdown().await;
    ns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_can_be_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut s = settings(&d.path().join("store"), None);
    s.broker.reject_transaction_message = true;
    let b = broker(s).await;
    let addr = b.local_addr().to_string();
    let c = client();
    let mut h = send_header("TxTopic", 0, &props(&[("TRAN_MSG", "true"), ("PGROUP", "pg_tx")]));
    h.sys_flag = 0x4;
    let r = call(&c, &addr, send_v2(&h, b"x")).await;
    assert_eq!(r.response_code(), ResponseCode::NO_PERMISSION);
    b.shutdown().await;
}
