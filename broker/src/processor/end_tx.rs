//! END_TRANSACTION (37), after Java's `EndTransactionProcessor`: a commit
//! stores the half message in its real topic (type COMMIT, prepared offset =
//! the half's commitlog offset) then marks the half resolved with an op
//! message; a rollback only writes the op message. Producers send it oneway,
//! so the answer matters only to callers that wait.

use std::sync::Arc;

use rmq_remoting::codec::header::FromExtFields;
use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use rmq_remoting::protocol::client::EndTransactionRequestHeader;
use rmq_remoting::transport::Channel;
use rmq_store::append::PutStatus;
use rmq_store::config_files::JavaFlavor;
use rmq_store::record::{TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE, TRANSACTION_ROLLBACK_TYPE};
use tracing::{debug, warn};

use super::{fail, ok, BrokerState, Outcome};
use crate::stored::{
    java_int, now_ms, props_string, reset_tx_type, Stored, CHECK_IMMUNITY_TIME_IN_SECONDS, PGROUP, REAL_QID,
    REAL_TOPIC, TRAN_MSG,
};

/// 5.x `rejectCommitOrRollback`: a producer's own late decision on a half with a
/// custom immunity time is refused once that time passed (the check decides).
fn reject_late(state: &BrokerState, h: &EndTransactionRequestHeader, half: &Stored) -> bool {
    if state.flavor != JavaFlavor::V5_3_3 || h.from_transaction_check.unwrap_or(false) {
        return false;
    }
    let Some(s) = half.prop(CHECK_IMMUNITY_TIME_IN_SECONDS).filter(|s| !s.is_empty()) else { return false };
    let timeout = state.live_settings.read().broker.transaction_time_out;
    // TransactionalMessageUtil.getImmunityTime: seconds, never below the timeout
    let immunity = s.parse::<i64>().map(|v| v.saturating_mul(1000)).unwrap_or(0).max(timeout);
    now_ms() - half.rec.born_timestamp > immunity
}

/// `checkPrepareMessage`.
fn check_half(half: &Stored, h: &EndTransactionRequestHeader) -> Result<(), &'static str> {
    if half.prop(PGROUP) != Some(h.producer_group.as_str()) {
        return Err("The producer group wrong");
    }
    if half.rec.queue_offset != h.tran_state_table_offset {
        return Err("The transaction state table offset wrong");
    }
    if half.rec.physical_offset != h.commit_log_offset {
        return Err("The commit log offset wrong");
    }
    Ok(())
}

/// `sendFinalMessage`'s status mapping.
fn final_status(state: &BrokerState, req: &RemotingCommand, s: PutStatus) -> Outcome {
    let max = state.settings.store.max_message_size;
    match s {
        PutStatus::PutOk | PutStatus::FlushDiskTimeout | PutStatus::FlushSlaveTimeout | PutStatus::SlaveNotAvailable => {
            Ok(Some(ok(req)))
        }
        PutStatus::CreateMappedFileFailed => fail(ResponseCode::SYSTEM_ERROR, "Create mapped file failed."),
        PutStatus::MessageIllegal | PutStatus::PropertiesSizeExceeded => fail(
            ResponseCode::MESSAGE_ILLEGAL,
            format!("The message is illegal, maybe msg body or properties length not matched. msg body length limit {max}B, msg properties length limit 32KB."),
        ),
        PutStatus::ServiceNotAvailable => fail(ResponseCode::SERVICE_NOT_AVAILABLE, "Service not available now."),
        PutStatus::OsPageCacheBusy => fail(ResponseCode::SYSTEM_ERROR, "OS page cache busy, please try another machine"),
        PutStatus::UnknownError => fail(ResponseCode::SYSTEM_ERROR, "UNKNOWN_ERROR"),
    }
}

/// `endMessageTransaction`: the committed copy. The stored properties are the
/// half's map re-serialized (REAL_*, TRAN_MSG leave only the map, as in Java).
async fn commit(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
    h: &EndTransactionRequestHeader,
    half: &Stored,
) -> Outcome {
    let (Some(topic), Some(queue)) = (half.prop(REAL_TOPIC), half.prop(REAL_QID).and_then(java_int)) else {
        return fail(ResponseCode::SYSTEM_ERROR, "Find prepared transaction message failed");
    };
    let mut msg = half.copy_to(topic.to_string(), queue, props_string(&half.props, state.flavor));
    msg.sys_flag = reset_tx_type(msg.sys_flag, TRANSACTION_COMMIT_TYPE);
    msg.prepared_transaction_offset = h.commit_log_offset;
    // the map the store's delay hook would see
    let mut map = half.props.clone();
    for k in [REAL_TOPIC, REAL_QID, TRAN_MSG] {
        map.remove(k);
    }
    let hook = state.delay.read().clone();
    if let Some((t, q, p)) = hook.and_then(|d| d.rewrite(&msg.topic, msg.queue_id, msg.sys_flag, &map)) {
        msg.topic = t;
        msg.queue_id = q;
        msg.properties = p.into();
    }
    let r = state.store.put(msg).await;
    let out = final_status(state, req, r.status)?;
    if out.as_ref().is_some_and(|c| c.code == ResponseCode::SUCCESS.0) {
        crate::transaction::write_op(state, half.rec.queue_id, half.rec.queue_offset).await;
    }
    Ok(out)
}

pub(crate) async fn end_transaction(state: &Arc<BrokerState>, channel: &Channel, req: &RemotingCommand) -> Outcome {
    let h = EndTransactionRequestHeader::from_command(req)?;
    debug!(peer = %channel.peer_addr(), ?h, "end transaction");
    if state.role.is_slave() {
        return Ok(Some(RemotingCommand::response_to(req, ResponseCode::SLAVE_NOT_AVAILABLE, None)));
    }
    let from_check = h.from_transaction_check.unwrap_or(false);
    match h.commit_or_rollback {
        TRANSACTION_COMMIT_TYPE => {}
        TRANSACTION_ROLLBACK_TYPE => {
            warn!(peer = %channel.peer_addr(), from_check, msg_id = %h.msg_id, "the producer rolls back a transaction");
        }
        TRANSACTION_NOT_TYPE => {
            let peer = channel.peer_addr();
            warn!(%peer, from_check, msg_id = %h.msg_id, "the producer reports a transaction still pending");
            return Ok(None);
        }
        _ => return Ok(None),
    }
    let Some(half) = Stored::look(&state.store, h.commit_log_offset, None, state.flavor).await? else {
        return fail(ResponseCode::SYSTEM_ERROR, "Find prepared transaction message failed");
    };
    if reject_late(state, &h, &half) {
        warn!(msg_id = %h.msg_id, "end transaction after the check immunity time, waiting for the check");
        return Ok(Some(RemotingCommand::response_to(req, ResponseCode::ILLEGAL_OPERATION, None)));
    }
    if let Err(remark) = check_half(&half, &h) {
        return fail(ResponseCode::SYSTEM_ERROR, remark);
    }
    if h.commit_or_rollback == TRANSACTION_COMMIT_TYPE {
        return commit(state, req, &h, &half).await;
    }
    crate::transaction::write_op(state, half.rec.queue_id, half.rec.queue_offset).await;
    Ok(Some(ok(req)))
}
