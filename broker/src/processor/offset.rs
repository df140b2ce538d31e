//! Offsets: QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15),
//! SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30), GET_MIN_OFFSET (31),
//! GET_EARLIEST_MSG_STORETIME (32).

use std::sync::Arc;

use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use rmq_remoting::protocol::offset::{
    GetEarliestMsgStoretimeResponseHeader, GetMaxOffsetRequestHeader, OffsetResponseHeader,
    QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader, TopicQueueRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rmq_remoting::transport::Channel;
use rmq_store::config_files::JavaFlavor;

use super::{fail, ok, BrokerState, Outcome};

fn with_offset(req: &RemotingCommand, offset: i64) -> Outcome {
    let mut r = ok(req);
    OffsetResponseHeader { offset }.apply_to(&mut r);
    Ok(Some(r))
}

pub(crate) async fn query_consumer_offset(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let h = QueryConsumerOffsetRequestHeader::from_command(req)?;
    let offset = state.meta.offsets.query(&h.consumer_group, &h.topic, h.queue_id);
    if offset >= 0 {
        return with_offset(req, offset);
    }
    let min = state.store.min_offset(&h.topic, h.queue_id);
    match state.flavor {
        JavaFlavor::V5_3_3 => {
            if h.set_zero_if_not_found == Some(false) {
                return fail(
                    ResponseCode::QUERY_NOT_FOUND,
                    "Not found, do not set to zero, maybe this group boot first",
                );
            }
            // checkInMemByConsumeOffset(topic, queue, 0, 1): offset 0 exists and is hot
            if min <= 0 && state.store.in_memory(h.topic.clone(), h.queue_id, 0).await? {
                return with_offset(req, 0);
            }
        }
        JavaFlavor::V4_9_8 => {
            // !checkInDiskByConsumeOffset(topic, queue, 0): also true for an empty queue
            let cold = state.store.max_offset(&h.topic, h.queue_id) > 0
                && !state.store.in_memory(h.topic.clone(), h.queue_id, 0).await?;
            if min <= 0 && !cold {
                return with_offset(req, 0);
            }
        }
    }
    fail(ResponseCode::QUERY_NOT_FOUND, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
}

pub(crate) fn update_consumer_offset(state: &Arc<BrokerState>, channel: &Channel, req: &RemotingCommand) -> Outcome {
    let h = UpdateConsumerOffsetRequestHeader::from_command(req)?;
    if state.flavor == JavaFlavor::V5_3_3 {
        if !state.meta.groups.contains(&h.consumer_group) {
            return fail(ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST, format!("Group {} not exist!", h.consumer_group));
        }
        if !state.meta.topics.contains(&h.topic) {
            return fail(ResponseCode::TOPIC_NOT_EXIST, format!("Topic {} not exist!", h.topic));
        }
        if state.settings.broker.use_server_side_reset_offset
            && state.meta.offsets.has_reset(&h.topic, &h.consumer_group, h.queue_id)
        {
            let mut r = ok(req);
            r.remark = Some("Offset has been previously reset".into());
            return Ok(Some(r));
        }
    }
    let host = channel.peer_addr().to_string();
    state.meta.offsets.commit(&host, &h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    Ok(Some(ok(req)))
}

pub(crate) fn max_offset(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let h = GetMaxOffsetRequestHeader::from_command(req)?;
    with_offset(req, state.store.max_offset(&h.topic, h.queue_id))
}

pub(crate) fn min_offset(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let h = TopicQueueRequestHeader::from_command(req)?;
    with_offset(req, state.store.min_offset(&h.topic, h.queue_id))
}

pub(crate) async fn search_by_timestamp(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let h = SearchOffsetRequestHeader::from_command(req)?;
    let upper = h.boundary_type.as_deref().is_some_and(|b| b.eq_ignore_ascii_case("upper"));
    let off = state.store.search_offset(h.topic, h.queue_id, h.timestamp, upper).await?;
    with_offset(req, off)
}

pub(crate) async fn earliest_store_time(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let h = TopicQueueRequestHeader::from_command(req)?;
    let ts = state.store.earliest_store_time(h.topic, h.queue_id).await?;
    let mut r = ok(req);
    GetEarliestMsgStoretimeResponseHeader { timestamp: ts }.apply_to(&mut r);
    Ok(Some(r))
}
