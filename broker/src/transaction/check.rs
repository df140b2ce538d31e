//! The transaction check service (Java `TransactionalMessageCheckService` and
//! `TransactionalMessageServiceImpl.check`): every `transactionCheckInterval`
//! it walks each half queue from the `CID_RMQ_SYS_TRANS` offset, skips halves
//! an op message resolved, and for one older than `transactionTimeOut` stores
//! it again (with `TRANSACTION_CHECK_TIMES`) and asks a producer of its group
//! with a oneway CHECK_TRANSACTION_STATE; after `transactionCheckMax` checks a
//! half goes to `TRANS_CHECK_MAX_TIME_TOPIC` instead.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::codec::{RemotingCommand, RequestCode};
use rmq_remoting::protocol::client::CheckTransactionStateRequestHeader;
use rmq_store::config_files::{JavaFlavor, TopicConfig};
use rmq_store::record::MessageRecord;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::{commit_offset, consume_offset, op_offsets, REMOVE_TAG};
use crate::meta::system::{TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};
use crate::processor::BrokerState;
use crate::store::{GetRequest, GetStatus, MessageStoreError, TagFilter};
use crate::stored::{
    java_int, now_ms, props_string, Stored, CHECK_IMMUNITY_TIME_IN_SECONDS, PGROUP, REAL_QID, REAL_TOPIC, TAGS,
    TRANSACTION_CHECK_TIMES, TRAN_PREPARED_QUEUE_OFFSET, UNIQ_KEY,
};

/// Java: one queue is checked for at most a minute per round.
const MAX_PROCESS_TIME_MS: i64 = 60_000;
const OP_PULL_NUMS: i32 = 32;
/// Java sleeps this long when it needs more op messages and there are none.
const SLEEP_WHILE_NO_OP: Duration = Duration::from_millis(1000);

/// Every `transactionCheckInterval` (read each round, UPDATE_BROKER_CONFIG may change it).
pub async fn run(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    loop {
        let every = state.live_settings.read().broker.transaction_check_interval.max(100) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(every)) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if state.role.is_slave() {
            continue;
        }
        let (timeout, max) = {
            let s = state.live_settings.read();
            (s.broker.transaction_time_out, s.broker.transaction_check_max)
        };
        let begin = now_ms();
        for qid in half_queues(&state) {
            if let Err(e) = check_queue(&state, qid, timeout, max, &stop).await {
                error!(queue = qid, error = %e, "transaction check failed");
            }
        }
        debug!(took_ms = now_ms() - begin, "transaction check round done");
    }
}

/// `fetchMessageQueues`: queues of the half topic, created (1 queue) when missing like Java.
fn half_queues(state: &BrokerState) -> Vec<i32> {
    let tc = match state.meta.topics.get(TRANS_HALF_TOPIC) {
        Some(t) => t,
        None => {
            let c = state.meta.topics.create_topic_in_send_back(TRANS_HALF_TOPIC, 1, 6, false, 0);
            if c.is_created() {
                state.register_soon.notify_one();
            }
            c.into_config()
        }
    };
    (0..tc.read_queue_nums.max(0)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PullStatus {
    Found,
    NoNewMsg,
    NoMatched,
    OffsetIllegal,
}

struct Pulled {
    status: PullStatus,
    next_begin: i64,
    msgs: Vec<Stored>,
}

/// `TransactionalMessageBridge.getMessage` for the system group.
async fn pull(state: &BrokerState, topic: &str, qid: i32, offset: i64, nums: i32) -> Result<Pulled, MessageStoreError> {
    let req = GetRequest {
        topic: topic.into(),
        queue_id: qid,
        offset,
        max_nums: nums,
        max_bytes: None,
        filter: TagFilter::All,
    };
    let r = state.store.get_messages(req).await?;
    let status = match r.status {
        GetStatus::Found => PullStatus::Found,
        GetStatus::NoMatchedMessage => PullStatus::NoMatched,
        GetStatus::NoMessageInQueue | GetStatus::OffsetOverflowOne => PullStatus::NoNewMsg,
        _ => PullStatus::OffsetIllegal,
    };
    let mut msgs = Vec::new();
    let mut pos = 0usize;
    while let Some(len) = r.body.get(pos..pos + 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])) {
        let Some(rec) = usize::try_from(len).ok().filter(|l| *l > 0).and_then(|l| r.body.get(pos..pos + l)) else {
            break;
        };
        if let Some(s) = Stored::decode(rec, state.flavor) {
            msgs.push(s);
        }
        pos += rec.len();
    }
    Ok(Pulled { status, next_begin: r.next_begin_offset, msgs })
}

/// What the op messages read so far say.
#[derive(Default)]
struct Ops {
    /// half offset -> op offset that resolved it
    remove: HashMap<i64, i64>,
    /// op offset -> half offsets it names that are still pending
    pending: HashMap<i64, HashSet<i64>>,
    /// op offsets fully accounted for
    done: Vec<i64>,
}

/// `fillOpRemoveMap`.
async fn fill_ops(
    state: &BrokerState,
    ops: &mut Ops,
    qid: i32,
    from: i64,
    mini: i64,
) -> Result<Pulled, MessageStoreError> {
    let r = pull(state, TRANS_OP_HALF_TOPIC, qid, from, OP_PULL_NUMS).await?;
    match r.status {
        PullStatus::OffsetIllegal | PullStatus::NoMatched => {
            warn!(queue = qid, offset = from, "op queue offset is illegal, moving it");
            commit_offset(state, TRANS_OP_HALF_TOPIC, qid, r.next_begin);
            return Ok(r);
        }
        PullStatus::NoNewMsg => return Ok(r),
        PullStatus::Found => {}
    }
    for op in &r.msgs {
        let op_offset = op.rec.queue_offset;
        let mut set = HashSet::new();
        if op.prop(TAGS) == Some(REMOVE_TAG) {
            for half in op_offsets(&op.rec.body) {
                if half >= mini {
                    ops.remove.insert(half, op_offset);
                    set.insert(half);
                }
            }
        } else {
            error!(queue = qid, op_offset, "op message with an unexpected tag");
        }
        if set.is_empty() {
            ops.done.push(op_offset);
        } else {
            ops.pending.insert(op_offset, set);
        }
    }
    Ok(r)
}

/// `calculateOpOffset`: the op queue advances over consecutive done offsets.
fn next_op_offset(done: &mut [i64], old: i64) -> i64 {
    done.sort_unstable();
    let mut next = old;
    for d in done.iter() {
        if *d != next {
            break;
        }
        next += 1;
    }
    next
}

/// `needDiscard`: counts the check in the map; true once checked `max` times.
fn need_discard(m: &mut Stored, max: i32) -> bool {
    let mut times = 1;
    if let Some(s) = m.prop(TRANSACTION_CHECK_TIMES) {
        times = java_int(s).unwrap_or(-1);
        if times >= max {
            return true;
        }
        times += 1;
    }
    m.props.put(TRANSACTION_CHECK_TIMES, &times.to_string());
    false
}

/// `needSkip`: older than the commitlog keeps files.
fn need_skip(state: &BrokerState, m: &Stored) -> bool {
    now_ms() - m.rec.born_timestamp > state.settings.store.file_reserved_time as i64 * 3600 * 1000
}

/// `getImmunityTime` (the check service's variant: seconds, -1 = the timeout).
fn immunity_time(s: &str, timeout: i64) -> i64 {
    match s.parse::<i64>().unwrap_or(-1) {
        -1 => timeout,
        v => v * 1000,
    }
}

/// `renewHalfMessageInner`: the half again, as it is now (flag and reconsume times are not copied).
fn renew(state: &BrokerState, m: &Stored) -> rmq_store::append::MessageToStore {
    let mut msg = m.copy_to(m.rec.topic.clone(), m.rec.queue_id, props_string(&m.props, state.flavor));
    msg.flag = 0;
    msg.reconsume_times = 0;
    msg
}

/// `putBackHalfMsgQueue`: on success the half now lives at the new offsets.
async fn put_back(state: &BrokerState, m: &mut Stored) -> bool {
    let r = state.store.put(renew(state, m)).await;
    match (r.is_ok(), r.append) {
        (true, Some(a)) => {
            m.rec.queue_offset = a.logics_offset;
            m.rec.physical_offset = a.wrote_offset;
            true
        }
        _ => {
            error!(status = ?r.status, "putting a half message back failed");
            false
        }
    }
}

/// `putImmunityMsgBackToHalfQueue`.
async fn put_immunity_back(state: &BrokerState, m: &Stored) -> bool {
    let mut m = m.clone();
    if m.prop(TRAN_PREPARED_QUEUE_OFFSET).is_none() {
        m.props.put(TRAN_PREPARED_QUEUE_OFFSET, &m.rec.queue_offset.to_string());
    }
    state.store.put(renew(state, &m)).await.is_ok()
}

/// `checkPrepareQueueOffset`: true when the half can be passed over.
async fn check_prepare_queue_offset(state: &BrokerState, ops: &mut Ops, m: &Stored) -> bool {
    let Some(v) = m.prop(TRAN_PREPARED_QUEUE_OFFSET) else { return put_immunity_back(state, m).await };
    let v = v.parse::<i64>().unwrap_or(-1);
    if v == -1 {
        return false;
    }
    match ops.remove.remove(&v) {
        Some(op) => {
            ops.done.push(op);
            true
        }
        None => put_immunity_back(state, m).await,
    }
}

/// `resolveDiscardMsg`: a half checked too often goes to TRANS_CHECK_MAX_TIME_TOPIC.
async fn discard(state: &BrokerState, m: &Stored) {
    let uniq = m.prop(UNIQ_KEY).unwrap_or("");
    error!(offset = m.rec.queue_offset, uniq, "half message checked too many times, discarding it");
    let c = state.meta.topics.create_topic_if_absent(TopicConfig::new(TRANS_CHECK_MAX_TIME_TOPIC, 1, 1, 6));
    if c.is_created() {
        state.register_soon.notify_one();
    }
    let msg = m.copy_to(TRANS_CHECK_MAX_TIME_TOPIC.to_string(), 0, props_string(&m.props, state.flavor));
    let r = state.store.put(msg).await;
    if !r.is_ok() {
        error!(status = ?r.status, "storing a discarded half message failed");
    }
}

/// `sendCheckMessage`: a oneway CHECK_TRANSACTION_STATE to a producer of the
/// half's group; the body is the message as its real topic would hold it.
fn send_check(state: &BrokerState, m: &Stored) {
    let Some(group) = m.prop(PGROUP) else {
        warn!(offset = m.rec.queue_offset, "half message without a producer group, cannot check it");
        return;
    };
    let (Some(topic), Some(queue_id)) = (m.prop(REAL_TOPIC), m.prop(REAL_QID).and_then(java_int)) else {
        error!(offset = m.rec.queue_offset, "half message without REAL_TOPIC/REAL_QID, cannot check it");
        return;
    };
    let uniq = m.prop(UNIQ_KEY).map(str::to_string);
    let header = CheckTransactionStateRequestHeader {
        topic: Some(m.rec.topic.clone()),
        tran_state_table_offset: m.rec.queue_offset,
        commit_log_offset: m.rec.physical_offset,
        msg_id: uniq.clone(),
        transaction_id: uniq,
        offset_msg_id: Some(m.msg_id()),
        bname: (state.flavor == JavaFlavor::V5_3_3).then(|| state.settings.broker.broker_name.clone()),
    };
    let props = props_string(&m.props, state.flavor);
    let rec = MessageRecord {
        topic: topic.to_string(),
        queue_id,
        properties_raw: Bytes::from(props.clone().into_bytes()),
        properties: rmq_store::record::parse_properties(props.as_bytes()),
        version: rmq_store::record::MessageVersion::V1,
        ..m.rec.clone()
    };
    let body = match rec.encode() {
        Ok(b) => b,
        Err(e) => {
            error!(error = %e, "encoding a check message failed");
            return;
        }
    };
    let Some(ch) = state.producers.available_channel(group) else {
        warn!(group, "no producer channel for a transaction check");
        return;
    };
    let mut cmd = RemotingCommand::request(RequestCode::CHECK_TRANSACTION_STATE);
    header.apply_to(&mut cmd);
    cmd.body = Some(Bytes::from(body));
    if let Err(e) = ch.invoke_oneway(cmd) {
        error!(group, error = %e, "sending a transaction check failed");
    }
}

/// One half queue, as Java's `check` loop body.
async fn check_queue(
    state: &BrokerState,
    qid: i32,
    timeout: i64,
    max: i32,
    stop: &watch::Receiver<bool>,
) -> Result<(), MessageStoreError> {
    let start = now_ms();
    let half_offset = consume_offset(state, TRANS_HALF_TOPIC, qid);
    let op_offset = consume_offset(state, TRANS_OP_HALF_TOPIC, qid);
    if half_offset < 0 || op_offset < 0 {
        error!(queue = qid, half_offset, op_offset, "illegal transaction check offsets, skipping the queue");
        return Ok(());
    }
    let mut ops = Ops::default();
    let mut pulled = fill_ops(state, &mut ops, qid, op_offset, half_offset).await?;
    let mut null_count = 1;
    let (mut new_offset, mut i) = (half_offset, half_offset);
    let mut checked = 0;
    loop {
        if now_ms() - start > MAX_PROCESS_TIME_MS || *stop.borrow() {
            info!(queue = qid, "transaction check stops for this round");
            break;
        }
        if let Some(op) = ops.remove.remove(&i) {
            if let Some(set) = ops.pending.get_mut(&op) {
                set.remove(&i);
                if set.is_empty() {
                    ops.pending.remove(&op);
                    ops.done.push(op);
                }
            }
        } else {
            let got = pull(state, TRANS_HALF_TOPIC, qid, i, 1).await?;
            let Some(mut m) = got.msgs.into_iter().next() else {
                null_count += 1;
                if null_count > 2 || got.status == PullStatus::NoNewMsg {
                    break;
                }
                i = got.next_begin;
                new_offset = i;
                continue;
            };
            if need_discard(&mut m, max) || need_skip(state, &m) {
                discard(state, &m).await;
                new_offset = i + 1;
                i += 1;
                continue;
            }
            if m.rec.store_timestamp >= start {
                break;
            }
            let age = now_ms() - m.rec.born_timestamp;
            let mut immunity = timeout;
            if let Some(s) = m.prop(CHECK_IMMUNITY_TIME_IN_SECONDS).map(str::to_string) {
                immunity = immunity_time(&s, timeout);
                if age < immunity && check_prepare_queue_offset(state, &mut ops, &m).await {
                    new_offset = i + 1;
                    i += 1;
                    continue;
                }
            } else if (0..immunity).contains(&age) {
                break;
            }
            let need = match pulled.msgs.last() {
                None => age > immunity,
                Some(last) => last.rec.born_timestamp - start > timeout,
            } || age <= -1;
            if need {
                if !put_back(state, &mut m).await {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                checked += 1;
                send_check(state, &m);
            } else {
                pulled = fill_ops(state, &mut ops, qid, pulled.next_begin, half_offset).await?;
                if pulled.msgs.is_empty() {
                    tokio::time::sleep(SLEEP_WHILE_NO_OP).await;
                }
                continue;
            }
        }
        new_offset = i + 1;
        i += 1;
    }
    if new_offset != half_offset {
        commit_offset(state, TRANS_HALF_TOPIC, qid, new_offset);
    }
    let new_op = next_op_offset(&mut ops.done, op_offset);
    if new_op != op_offset {
        commit_offset(state, TRANS_OP_HALF_TOPIC, qid, new_op);
    }
    debug!(queue = qid, half = new_offset, op = new_op, checked, "transaction check of a half queue done");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_offset_advances_over_consecutive_done() {
        assert_eq!(next_op_offset(&mut [2, 0, 1, 4], 0), 3);
        assert_eq!(next_op_offset(&mut [1], 0), 0);
        assert_eq!(next_op_offset(&mut [0, 0, 1], 0), 1, "Java stops at a repeated offset");
        assert_eq!(next_op_offset(&mut [], 5), 5);
        assert_eq!(immunity_time("-1", 6000), 6000);
        assert_eq!(immunity_time("10", 6000), 10_000);
        assert_eq!(immunity_time("x", 6000), 6000);
    }
}
