//! CONSUMER_SEND_MSG_BACK (36), after Java's `consumerSendMsgBack`: a message
//! a consumer failed is stored again for `%RETRY%<group>` (delay level 0 means
//! 3 + reconsume times, so it first waits in SCHEDULE_TOPIC_XXXX), or in
//! `%DLQ%<group>` once it was retried `maxReconsumeTimes` times or the
//! consumer asks for it (delay level < 0).

use std::sync::Arc;

use rmq_remoting::codec::header::FromExtFields;
use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use rmq_remoting::protocol::client::ConsumerSendMsgBackRequestHeader;
use rmq_remoting::transport::Channel;
use rmq_store::config_files::JavaFlavor;

use super::send::faq;
use super::{fail, ok, BrokerState, Outcome};
use crate::meta::system::{DLQ_GROUP_TOPIC_PREFIX, PERM_READ, PERM_WRITE, RETRY_GROUP_TOPIC_PREFIX};
use crate::stored::{props_string, status_name, Stored, DELAY, ORIGIN_MESSAGE_ID, RETRY_TOPIC, WAIT};

/// `MixAll.DLQ_NUMS_PER_GROUP`.
const DLQ_NUMS_PER_GROUP: i32 = 1;

/// `MQVersion.Version.V3_4_9.ordinal()`.
fn v3_4_9() -> i32 {
    static V: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *V.get_or_init(|| (0..700).find(|i| rmq_remoting::codec::Version(*i).desc() == "V3_4_9").unwrap_or(0))
}

/// A uniform queue in `0..n` (Java: a random int modulo n).
fn random_queue(n: i32) -> i32 {
    let r = std::collections::hash_map::RandomState::new();
    let x = std::hash::BuildHasher::hash_one(&r, std::time::Instant::now());
    (x % n.max(1) as u64) as i32
}

pub(crate) async fn send_back(state: &Arc<BrokerState>, _channel: &Channel, req: &RemotingCommand) -> Outcome {
    if let Some(rejected) = super::send::reject_on_slave(state, req) {
        return Ok(Some(rejected));
    }
    let h = ConsumerSendMsgBackRequestHeader::from_command(req)?;
    let b = &state.settings.broker;
    let v5 = state.flavor == JavaFlavor::V5_3_3;
    if v5 && state.role.is_slave() {
        // 5.x looks for the master broker in its own process; there is none on a slave
        return fail(ResponseCode::SYSTEM_ERROR, format!("no master available along with {}", b.broker_ip1));
    }
    let Some(group) = state.meta.groups.find_or_create(&h.group) else {
        return fail(
            ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {} {}", h.group, faq(state.flavor)),
        );
    };
    if state.live_settings.read().broker.broker_permission & PERM_WRITE == 0 {
        return fail(ResponseCode::NO_PERMISSION, format!("the broker[{}] sending message is forbidden", b.broker_ip1));
    }
    if group.retry_queue_nums <= 0 {
        return Ok(Some(ok(req)));
    }
    let mut topic = format!("{RETRY_GROUP_TOPIC_PREFIX}{}", h.group);
    let mut queue_id = random_queue(group.retry_queue_nums);
    // TopicSysFlag.buildSysFlag(false, true) for unit-mode consumers
    let topic_sys_flag = if h.unit_mode.unwrap_or(false) { 0x2 } else { 0 };
    let perm = PERM_WRITE | PERM_READ;
    let c = state.meta.topics.create_topic_in_send_back(&topic, group.retry_queue_nums, perm, false, topic_sys_flag);
    if c.is_created() {
        state.register_soon.notify_one();
    }
    if c.config().perm & PERM_WRITE == 0 {
        return fail(ResponseCode::NO_PERMISSION, format!("the topic[{topic}] sending message is forbidden"));
    }
    let Some(mut m) = Stored::look(&state.store, h.offset, None, state.flavor).await? else {
        return fail(ResponseCode::SYSTEM_ERROR, format!("look message by offset failed, {}", h.offset));
    };
    // the map changes below are what Java does to the looked-up message
    if m.prop(RETRY_TOPIC).is_none() {
        let t = m.rec.topic.clone();
        m.props.put(RETRY_TOPIC, &t);
    }
    m.props.put(WAIT, "false");
    let mut delay_level = h.delay_level;
    let mut max_times = group.retry_max_times;
    if req.version >= v3_4_9() {
        if let Some(t) = h.max_reconsume_times {
            max_times = t;
        }
    }
    if m.rec.reconsume_times >= max_times || delay_level < 0 {
        topic = format!("{DLQ_GROUP_TOPIC_PREFIX}{}", h.group);
        queue_id = random_queue(DLQ_NUMS_PER_GROUP);
        let c = state.meta.topics.create_topic_in_send_back(&topic, DLQ_NUMS_PER_GROUP, perm, false, 0);
        if c.is_created() {
            state.register_soon.notify_one();
        }
        m.props.put(DELAY, "0");
    } else {
        if delay_level == 0 {
            delay_level = 3 + m.rec.reconsume_times;
        }
        m.props.put(DELAY, &delay_level.to_string());
    }
    let origin = m.prop(ORIGIN_MESSAGE_ID).filter(|s| !s.trim().is_empty()).map(str::to_string);
    let origin = origin.unwrap_or_else(|| m.msg_id());
    m.props.put(ORIGIN_MESSAGE_ID, &origin);
    let mut msg = m.copy_to(topic.clone(), queue_id, props_string(&m.props, state.flavor));
    msg.reconsume_times = m.rec.reconsume_times + 1;
    if v5 {
        msg.store_host = state.store_host;
    }
    // a retry waits for its level like any delayed message
    let hook = state.delay.read().clone();
    if let Some((t, q, p)) = hook.and_then(|d| d.rewrite(&topic, queue_id, msg.sys_flag, &m.props)) {
        msg.topic = t;
        msg.queue_id = q;
        msg.properties = p.into();
    }
    let r = state.store.put(msg).await;
    if r.is_ok() {
        return Ok(Some(ok(req)));
    }
    fail(ResponseCode::SYSTEM_ERROR, status_name(r.status, state.flavor))
}

#[cfg(test)]
mod tests {
    use crate::processor::props::JavaProps;
    use crate::processor::DelayHook as _;
    use crate::schedule::{DelayLevels, ScheduleHook};
    use crate::stored::*;

    #[test]
    fn the_golden_retry_record_rebuilds_byte_for_byte() {
        // golden plain/ seq 17: the consumed record's properties, the send-back's map changes, the delay rewrite
        let stored = "KEYS\u{1}keyRetryMe\u{2}UNIQ_KEY\u{1}7F0000011F405FFD2B276B4E571F0011\u{2}CLUSTER\u{1}GoldenCluster\u{2}TAGS\u{1}RetryMe";
        let mut p = JavaProps::parse(Some(stored), 16);
        p.put(RETRY_TOPIC, "GoldenTopicA");
        p.put(WAIT, "false");
        p.put(DELAY, "3");
        p.put(ORIGIN_MESSAGE_ID, "7F00000100004DC700000000000013A7");
        let hook = ScheduleHook {
            levels: DelayLevels::parse("1s 5s 10s 30s").unwrap(),
            flavor: rmq_store::config_files::JavaFlavor::V4_9_8,
        };
        let (t, q, s) = hook.rewrite("%RETRY%cg_golden_push", 0, 0, &p).unwrap();
        assert_eq!((t.as_str(), q), ("SCHEDULE_TOPIC_XXXX", 2));
        assert_eq!(s, "REAL_TOPIC\u{1}%RETRY%cg_golden_push\u{2}ORIGIN_MESSAGE_ID\u{1}7F00000100004DC700000000000013A7\u{2}RETRY_TOPIC\u{1}GoldenTopicA\u{2}KEYS\u{1}keyRetryMe\u{2}UNIQ_KEY\u{1}7F0000011F405FFD2B276B4E571F0011\u{2}CLUSTER\u{1}GoldenCluster\u{2}WAIT\u{1}false\u{2}DELAY\u{1}3\u{2}TAGS\u{1}RetryMe\u{2}REAL_QID\u{1}0");
    }
}
