//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), after Java's
//! `PullMessageProcessor`: group/topic/queue checks, the subscription (from
//! the request or the heartbeat), the store read, status → response code,
//! long polling for PULL_NOT_FOUND, and the piggybacked offset commit.
//!
//! Reads on a slave and `suggestWhichBrokerId`, by Java flavor:
//! * both: with `slaveReadEnable` the suggestion is the group's
//!   `whichBrokerWhenConsumeSlowly` when the pull lags by more than
//!   `accessMessageInMemoryMaxRatio` of memory, else its `brokerId`; without it, 0.
//! * 4.9.8: a slave serves every pull (its PULL_RETRY_IMMEDIATELY for
//!   `slaveReadEnable=false` is overwritten by the status code) and never
//!   stores the piggybacked commit.
//! * 5.3.3: a slave without `slaveReadEnable` rejects pulls (SYSTEM_BUSY); with
//!   it, a pull that does not lag is pointed back at the master (0) and, unless
//!   it found messages, answered PULL_RETRY_IMMEDIATELY; commits are stored on
//!   any role, and every pull records the group's pulled offset.

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::pull::{pull_sys_flag, PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_remoting::transport::{BoxFuture, Channel};
use rmq_store::config_files::JavaFlavor;

use super::send::faq;
use super::{fail, is_v5_client, BrokerState, Failure, Outcome};
use crate::store::{GetRequest, GetStatus, TagFilter};

const PERM_READ: i32 = 4;

fn is_tag_type(t: Option<&str>) -> bool {
    // ExpressionType.isTagType: null, empty or "TAG"
    t.is_none_or(|t| t.is_empty() || t == "TAG")
}

/// Resolves the filter: from the request (SUBSCRIPTION flag) or the group's heartbeat.
fn subscription(
    state: &BrokerState,
    h: &PullMessageRequestHeader,
    consume_broadcast: bool,
) -> Result<TagFilter, Failure> {
    let (expr_type, sub, class_filter) = if h.sys_flag & pull_sys_flag::SUBSCRIPTION != 0 {
        (h.expression_type.clone(), h.subscription.clone(), false)
    } else {
        let faq = faq(state.flavor);
        let Some(g) = state.consumers.group(&h.consumer_group) else {
            return fail(ResponseCode::SUBSCRIPTION_NOT_EXIST, format!("the consumer's group info not exist{faq}"));
        };
        if !consume_broadcast && g.is_broadcasting() {
            return fail(
                ResponseCode::NO_PERMISSION,
                format!("the consumer group[{}] can not consume by broadcast way", h.consumer_group),
            );
        }
        let Some(s) = g.subscriptions.get(&h.topic) else {
            return fail(ResponseCode::SUBSCRIPTION_NOT_EXIST, format!("the consumer's subscription not exist{faq}"));
        };
        if s.sub_version < h.sub_version {
            return fail(ResponseCode::SUBSCRIPTION_NOT_LATEST, "the consumer's subscription not latest");
        }
        (s.expression_type.clone(), Some(s.sub_string.clone()), s.class_filter_mode)
    };
    if !is_tag_type(expr_type.as_deref()) {
        // SQL92 needs enablePropertyFilter and a filter engine; this broker has neither
        let t = expr_type.unwrap_or_default();
        return fail(
            ResponseCode::SYSTEM_ERROR,
            format!("The broker does not support consumer to filter message by {t}"),
        );
    }
    if class_filter {
        return Ok(TagFilter::All);
    }
    Ok(TagFilter::from_expression(sub.as_deref()))
}

pub(crate) fn pull(
    state: &Arc<BrokerState>,
    channel: &Channel,
    req: &RemotingCommand,
    allow_suspend: bool,
) -> BoxFuture<Outcome> {
    Box::pin(pull_inner(state.clone(), channel.clone(), req.clone(), allow_suspend))
}

/// 5.x `rejectRequest` (checked before the request is decoded, and not for a
/// held pull that is re-run).
const REJECT_REMARK: &str = "[REJECTREQUEST]system busy, start flow control for a while";

async fn pull_inner(state: Arc<BrokerState>, channel: Channel, req: RemotingCommand, allow_suspend: bool) -> Outcome {
    let v5 = state.flavor == JavaFlavor::V5_3_3;
    // live: UPDATE_BROKER_CONFIG can switch it
    let slave_read_enable = state.live_settings.read().broker.slave_read_enable;
    if v5 && allow_suspend && state.role.is_slave() && !slave_read_enable {
        return Ok(Some(RemotingCommand::response_to(&req, ResponseCode::SYSTEM_BUSY, Some(REJECT_REMARK.into()))));
    }
    let h = PullMessageRequestHeader::from_command(&req)?;
    let b = &state.settings.broker;
    if b.broker_permission & PERM_READ == 0 {
        return fail(ResponseCode::NO_PERMISSION, format!("the broker[{}] pulling message is forbidden", b.broker_ip1));
    }
    if v5 && req.request_code() == RequestCode::LITE_PULL_MESSAGE && !b.lite_pull_message_enable {
        return fail(
            ResponseCode::NO_PERMISSION,
            format!("the broker[{}] for lite pull consumer is forbidden", b.broker_ip1),
        );
    }
    let Some(group) = state.meta.groups.find_or_create(&h.consumer_group) else {
        return fail(
            ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group [{}] does not exist, {}", h.consumer_group, faq(state.flavor)),
        );
    };
    if !group.consume_enable {
        return fail(ResponseCode::NO_PERMISSION, format!("subscription group no permission, {}", h.consumer_group));
    }
    let has_suspend = h.sys_flag & pull_sys_flag::SUSPEND != 0;
    let has_commit = h.sys_flag & pull_sys_flag::COMMIT_OFFSET != 0;
    let Some(tc) = state.meta.topics.get(&h.topic) else {
        tracing::error!(topic = %h.topic, consumer = %channel.peer_addr(), "the topic does not exist");
        return fail(
            ResponseCode::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please! {}", h.topic, faq(state.flavor)),
        );
    };
    if tc.perm & PERM_READ == 0 {
        return fail(ResponseCode::NO_PERMISSION, format!("the topic[{}] pulling message is forbidden", h.topic));
    }
    if h.queue_id < 0 || h.queue_id >= tc.read_queue_nums {
        let code = if v5 { ResponseCode::INVALID_PARAMETER } else { ResponseCode::SYSTEM_ERROR };
        return fail(
            code,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[/{}]",
                h.queue_id,
                h.topic,
                tc.read_queue_nums,
                channel.peer_addr()
            ),
        );
    }
    let filter = subscription(&state, &h, group.consume_broadcast_enable)?;
    let got = state
        .store
        .get_messages(GetRequest {
            topic: h.topic.clone(),
            queue_id: h.queue_id,
            offset: h.queue_offset,
            max_nums: h.max_msg_nums,
            max_bytes: h.max_msg_bytes,
            filter: filter.clone(),
        })
        .await?;
    let slave = state.role.is_slave();
    let suggest = if slave_read_enable {
        if got.suggest_pulling_from_slave {
            group.which_broker_when_consume_slowly
        } else {
            group.broker_id
        }
    } else {
        0
    };
    let mut header = PullMessageResponseHeader {
        suggest_which_broker_id: suggest,
        next_begin_offset: got.next_begin_offset,
        min_offset: got.min_offset,
        max_offset: got.max_offset,
        ..Default::default()
    };
    if is_v5_client(&req) {
        header.topic_sys_flag = Some(tc.topic_sys_flag);
        header.group_sys_flag = Some(group.group_sys_flag);
    }
    let code = match got.status {
        GetStatus::Found => ResponseCode::SUCCESS,
        GetStatus::MessageWasRemoving | GetStatus::NoMatchedMessage => ResponseCode::PULL_RETRY_IMMEDIATELY,
        GetStatus::NoMatchedLogicQueue | GetStatus::NoMessageInQueue if h.queue_offset != 0 => {
            ResponseCode::PULL_OFFSET_MOVED
        }
        GetStatus::NoMatchedLogicQueue | GetStatus::NoMessageInQueue => ResponseCode::PULL_NOT_FOUND,
        GetStatus::OffsetFoundNull | GetStatus::OffsetOverflowOne => ResponseCode::PULL_NOT_FOUND,
        GetStatus::OffsetOverflowBadly | GetStatus::OffsetTooSmall => ResponseCode::PULL_OFFSET_MOVED,
    };
    let mut code = code;
    // 5.x: the group's lowest live broker is the master (no slave-acting-master here)
    if v5 && slave && !got.suggest_pulling_from_slave {
        header.suggest_which_broker_id = 0;
        if got.status != GetStatus::Found {
            code = ResponseCode::PULL_RETRY_IMMEDIATELY;
        }
    }
    if code == ResponseCode::PULL_OFFSET_MOVED && slave && !state.settings.store.offset_check_in_slave {
        header.suggest_which_broker_id = group.broker_id;
        code = ResponseCode::PULL_RETRY_IMMEDIATELY;
    }
    if code == ResponseCode::PULL_OFFSET_MOVED {
        tracing::warn!(
            topic = %h.topic, group = %h.consumer_group, requested = h.queue_offset, new = got.next_begin_offset,
            "PULL_OFFSET_MOVED: correction offset"
        );
    }
    // the piggybacked commit happens on first processing only, also when the pull is held
    if allow_suspend && has_commit && (v5 || !slave) {
        let host = channel.peer_addr().to_string();
        state.meta.offsets.commit(&host, &h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    }
    if v5 {
        state.meta.offsets.commit_pull(&h.consumer_group, &h.topic, h.queue_id, got.next_begin_offset);
    }
    if code == ResponseCode::PULL_NOT_FOUND && allow_suspend && has_suspend {
        let long = b.long_polling_enable;
        let wait = if long { h.suspend_timeout_millis.max(0) as u64 } else { b.short_polling_time_mills.max(0) as u64 };
        state
            .long_polling
            .hold(&state.store, &h.topic, h.queue_id, h.queue_offset, filter, Duration::from_millis(wait), long)
            .await;
        if channel.is_closed() {
            return Ok(None);
        }
        return pull(&state, &channel, &req, false).await;
    }
    let mut resp = RemotingCommand::response_to(&req, code, Some(got.status.name().to_string()));
    header.apply_to(&mut resp);
    if code == ResponseCode::SUCCESS {
        resp.body = Some(bytes::Bytes::from(got.body));
    }
    Ok(Some(resp))
}
