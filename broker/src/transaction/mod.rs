//! Transactional messages (Java `TransactionalMessageBridge`,
//! `TransactionalMessageServiceImpl`, `TransactionalMessageCheckService`).
//!
//! * A half message (`TRAN_MSG=true`) is stored in `RMQ_SYS_TRANS_HALF_TOPIC`
//!   queue 0 with `REAL_TOPIC`/`REAL_QID` and its transaction type reset to NOT,
//!   so no consumer sees it ([`HalfStore`], the send path's hook).
//! * END_TRANSACTION (`processor/end_tx.rs`) commits (the real message, type
//!   COMMIT, `preparedTransactionOffset` = the half's offset) or rolls back; either
//!   way an op message in `RMQ_SYS_TRANS_OP_HALF_TOPIC` (tag `d`, body the half's
//!   queue offset) marks the half resolved ([`write_op`]).
//! * The check service ([`check`]) walks unresolved halves older than
//!   `transactionTimeOut` and asks their producer (CHECK_TRANSACTION_STATE).

pub mod check;

use std::sync::Arc;

use bytes::Bytes;
use rmq_remoting::transport::BoxFuture;
use rmq_store::append::{MessageToStore, PutResult};
use rmq_store::config_files::JavaFlavor;
use rmq_store::record::TRANSACTION_NOT_TYPE;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::error;

use crate::meta::system::{CID_SYS_RMQ_TRANS, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};
use crate::processor::props::JavaProps;
use crate::processor::{BrokerState, TransactionHook};
use crate::store::MessageStore;
use crate::stored::{host_string, now_ms, props_string, reset_tx_type, REAL_QID, REAL_TOPIC, TAGS, WAIT};

/// `TransactionalMessageUtil.REMOVE_TAG`.
pub const REMOVE_TAG: &str = "d";

/// Stores half messages (`asyncPrepareMessage` / `parseHalfMessageInner`).
pub struct HalfStore {
    pub store: MessageStore,
    pub flavor: JavaFlavor,
}

/// The half message for a prepared send: the real topic and queue move into
/// the properties (the map the send path built), the type becomes NOT.
pub fn half_message(mut msg: MessageToStore, props: &JavaProps, flavor: JavaFlavor) -> MessageToStore {
    let mut p = props.clone();
    p.put(REAL_TOPIC, &msg.topic);
    p.put(REAL_QID, &msg.queue_id.to_string());
    msg.sys_flag = reset_tx_type(msg.sys_flag, TRANSACTION_NOT_TYPE);
    msg.topic = TRANS_HALF_TOPIC.to_string();
    msg.queue_id = 0;
    msg.properties = Bytes::from(props_string(&p, flavor));
    msg
}

impl TransactionHook for HalfStore {
    fn prepare(&self, msg: MessageToStore, props: &JavaProps) -> BoxFuture<PutResult> {
        let msg = half_message(msg, props, self.flavor);
        let store = self.store.clone();
        Box::pin(async move { store.put(msg).await })
    }
}

/// Op message body: 4.9.8 writes the half's queue offset, 5.x the offset and a
/// `,` (its batches join several).
pub fn op_body(half_queue_offset: i64, flavor: JavaFlavor) -> String {
    match flavor {
        JavaFlavor::V4_9_8 => half_queue_offset.to_string(),
        JavaFlavor::V5_3_3 => format!("{half_queue_offset},"),
    }
}

/// Offsets an op body names (`split(",")`, unparsable parts are -1 like `getLong`).
pub fn op_offsets(body: &[u8]) -> Vec<i64> {
    let text = String::from_utf8_lossy(body);
    let mut parts: Vec<&str> = text.split(',').collect();
    // Java's split drops trailing empty strings
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    parts.iter().map(|p| p.parse::<i64>().unwrap_or(-1)).collect()
}

/// `deletePrepareMessage`: writes the op message marking the half at
/// `half_queue_offset` of half queue `queue_id` resolved.
pub async fn write_op(state: &BrokerState, queue_id: i32, half_queue_offset: i64) -> bool {
    // `new Message(topic, "d", body)`: TAGS, then WAIT=true; later map changes are not stored
    let mut p = JavaProps::parse(None, 16);
    p.put(TAGS, REMOVE_TAG);
    p.put(WAIT, "true");
    let msg = MessageToStore {
        topic: TRANS_OP_HALF_TOPIC.to_string(),
        queue_id,
        flag: 0,
        body: Bytes::from(op_body(half_queue_offset, state.flavor)),
        properties: Bytes::from(props_string(&p, state.flavor)),
        sys_flag: 0,
        born_timestamp: now_ms(),
        born_host: state.store_host,
        store_host: state.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    };
    let r = state.store.put(msg).await;
    if !r.is_ok() {
        error!(queue_id, half_queue_offset, status = ?r.status, "writing a transaction op message failed");
    }
    r.is_ok()
}

/// `fetchConsumeOffset`: the check's progress in a half or op queue (the
/// queue's min offset when none was committed).
pub fn consume_offset(state: &BrokerState, topic: &str, queue_id: i32) -> i64 {
    match state.meta.offsets.query(CID_SYS_RMQ_TRANS, topic, queue_id) {
        -1 => state.store.min_offset(topic, queue_id),
        o => o,
    }
}

/// `updateConsumeOffset`.
pub fn commit_offset(state: &BrokerState, topic: &str, queue_id: i32, offset: i64) {
    state.meta.offsets.commit(&host_string(&state.store_host), CID_SYS_RMQ_TRANS, topic, queue_id, offset);
}

/// Installs the half-message hook and starts the check service.
pub fn start(state: &Arc<BrokerState>, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    *state.transactions.write() = Some(Arc::new(HalfStore { store: state.store.clone(), flavor: state.flavor }));
    tokio::spawn(check::run(state.clone(), stop))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_store::HostAddr;

    #[test]
    fn op_bodies_both_forms() {
        assert_eq!(op_body(3, JavaFlavor::V4_9_8), "3");
        assert_eq!(op_body(3, JavaFlavor::V5_3_3), "3,");
        assert_eq!(op_offsets(b"3"), vec![3]);
        assert_eq!(op_offsets(b"12,13,"), vec![12, 13]);
        assert_eq!(op_offsets(b""), vec![-1]);
        assert_eq!(op_offsets(b"x,4"), vec![-1, 4]);
    }

    #[test]
    fn the_golden_half_record_rebuilds_byte_for_byte() {
        // golden plain/: the first half message as 4.9.8's send path left its map (WAIT put back)
        let sent = "KEYS\u{1}key-tx-half-then-commit\u{2}txCase\u{1}tx-half-then-commit\u{2}TRAN_MSG\u{1}true\u{2}UNIQ_KEY\u{1}7F0000011F405FFD2B276B4E5DA403C2\u{2}WAIT\u{1}true\u{2}PGROUP\u{1}pg_golden_tx\u{2}TAGS\u{1}TagTx";
        let mut p = JavaProps::parse(Some(sent), 16);
        p.put("CLUSTER", "GoldenCluster");
        let w = p.remove(WAIT).unwrap();
        p.put(WAIT, &w);
        let host = HostAddr::new("127.0.0.1".parse().unwrap(), 1);
        let msg = MessageToStore {
            topic: "GoldenTxTopic".into(),
            queue_id: 1,
            flag: 0,
            body: Bytes::new(),
            properties: Bytes::new(),
            sys_flag: 0x4,
            born_timestamp: 0,
            born_host: host,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        };
        let h = half_message(msg, &p, JavaFlavor::V4_9_8);
        assert_eq!((h.topic.as_str(), h.queue_id, h.sys_flag), ("RMQ_SYS_TRANS_HALF_TOPIC", 0, 0));
        assert_eq!(
            std::str::from_utf8(&h.properties).unwrap(),
            "REAL_TOPIC\u{1}GoldenTxTopic\u{2}KEYS\u{1}key-tx-half-then-commit\u{2}txCase\u{1}tx-half-then-commit\u{2}TRAN_MSG\u{1}true\u{2}UNIQ_KEY\u{1}7F0000011F405FFD2B276B4E5DA403C2\u{2}CLUSTER\u{1}GoldenCluster\u{2}PGROUP\u{1}pg_golden_tx\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagTx\u{2}REAL_QID\u{1}1"
        );
    }
}
