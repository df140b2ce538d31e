//! Topic requests: UPDATE_AND_CREATE_TOPIC, DELETE_TOPIC_IN_BROKER,
//! GET_ALL_TOPIC_CONFIG, GET_TOPIC_STATS_INFO, QUERY_TOPIC_CONSUME_BY_WHO,
//! GET_SYSTEM_TOPIC_LIST_FROM_BROKER.

use rmq_common::fastjson::{self, Object, Value};
use rmq_remoting::codec::header::FromExtFields;
use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use rmq_remoting::protocol::client::{CreateTopicRequestHeader, TopicRequestHeader};
use rmq_remoting::transport::Channel;
use rmq_store::config_files::JavaFlavor;
use tracing::info;

use super::bodies::{self, Mq, TopicOffset};
use super::{fail, java_addr, ok, ok_body, persist, AdminContext, Outcome, Persist};
use crate::meta::{parse_attributes, system, to_wire, TopicConfig};

/// `TopicFilterType.valueOf`.
fn filter_type(s: &str) -> Result<&str, String> {
    match s {
        "SINGLE_TAG" | "MULTI_TAG" => Ok(s),
        other => Err(format!("No enum constant org.apache.rocketmq.common.TopicFilterType.{other}")),
    }
}

/// `TopicConfig.equals`: the Java fields only (unknown JSON keys do not count).
fn java_equals(a: &TopicConfig, b: &TopicConfig) -> bool {
    a.topic_name == b.topic_name
        && a.read_queue_nums == b.read_queue_nums
        && a.write_queue_nums == b.write_queue_nums
        && a.perm == b.perm
        && a.topic_filter_type == b.topic_filter_type
        && a.topic_sys_flag == b.topic_sys_flag
        && a.order == b.order
        && a.attributes == b.attributes
}

pub(super) async fn update_and_create<C: AdminContext + ?Sized>(
    ctx: &C,
    channel: &Channel,
    req: &RemotingCommand,
) -> Outcome {
    let h = CreateTopicRequestHeader::from_command(req)?;
    let topic = h.topic.clone();
    info!(topic, caller = %java_addr(channel.peer_addr()), "update or create topic");
    if let Err(remark) = system::validate_topic(&topic) {
        return fail(ResponseCode::INVALID_PARAMETER, remark);
    }
    let settings = ctx.settings();
    let meta = ctx.meta();
    if settings.broker.validate_system_topic_when_update_topic && meta.topics.is_system_topic(&topic) {
        return fail(ResponseCode::INVALID_PARAMETER, format!("The topic[{topic}] is conflict with system topic."));
    }
    // Java's catch-all: any exception from here on is SYSTEM_ERROR with its message.
    let sys = |e: String| super::Failure::Code(ResponseCode::SYSTEM_ERROR, e);
    let mut tc = TopicConfig::new(&topic, h.read_queue_nums, h.write_queue_nums, h.perm);
    tc.topic_filter_type = filter_type(&h.topic_filter_type).map_err(sys)?.to_string();
    tc.topic_sys_flag = h.topic_sys_flag.unwrap_or(0);
    tc.order = h.order.unwrap_or(false);
    tc.attributes = parse_attributes(h.attributes.as_deref().unwrap_or("")).map_err(|e| sys(e.0))?;
    if !settings.broker.enable_mixed_message_type && tc.attributes.get("+message.type").is_some_and(|v| v == "MIXED") {
        return fail(ResponseCode::INVALID_PARAMETER, "MIXED message type is not supported.");
    }
    let _serial = ctx.admin_state().update_lock.lock().await;
    if meta.topics.get(&topic).is_some_and(|cur| java_equals(&cur, &tc)) {
        info!(topic, "topic config unchanged; nothing to do");
        return Ok(ok(req));
    }
    if meta.flavor == JavaFlavor::V5_3_3 {
        meta.topics.update_with_attributes(tc).map_err(|e| sys(e.to_string()))?;
    } else {
        tc.attributes.clear();
        meta.topics.update(tc);
    }
    persist(meta, &[Persist::Topics]).await;
    if let Some(t) = meta.topics.get(&topic) {
        ctx.on_topics_changed(vec![t]);
    }
    Ok(ok(req))
}

pub(super) async fn delete<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let h = TopicRequestHeader::from_command(req)?;
    let topic = h.topic;
    if topic.trim().is_empty() {
        return fail(ResponseCode::INVALID_PARAMETER, "The specified topic is blank.");
    }
    let settings = ctx.settings();
    let meta = ctx.meta();
    if settings.broker.validate_system_topic_when_update_topic && meta.topics.is_system_topic(&topic) {
        return fail(ResponseCode::INVALID_PARAMETER, format!("The topic[{topic}] is conflict with system topic."));
    }
    let mut doomed = vec![topic.clone()];
    if settings.broker.clear_retry_topic_when_delete_topic {
        // The POP retry topics of every group that consumed it (V2 `+`, V1 `_`).
        for group in meta.offsets.groups_of_topic(&topic) {
            for sep in ['+', '_'] {
                let retry = format!("{}{group}{sep}{topic}", system::RETRY_GROUP_TOPIC_PREFIX);
                if meta.topics.contains(&retry) {
                    doomed.push(retry);
                }
            }
        }
    }
    let _serial = ctx.admin_state().update_lock.lock().await;
    for t in &doomed {
        meta.topics.delete(t);
        meta.offsets.remove_topic(t);
    }
    ctx.delete_topic_data(&doomed).await;
    persist(meta, &[Persist::Topics, Persist::Offsets]).await;
    Ok(ok(req))
}

/// `TopicConfigAndMappingSerializeWrapper` (5.x; no static topics: empty mapping maps).
pub(super) fn all_configs<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let meta = ctx.meta();
    let v5 = meta.flavor == JavaFlavor::V5_3_3;
    let dv = |d: &crate::meta::DataVersion| {
        let mut o = Object::new();
        o.push("counter", d.counter);
        if v5 || d.state_version != 0 {
            o.push("stateVersion", d.state_version);
        }
        o.push("timestamp", d.timestamp);
        Value::Object(o)
    };
    let mut table = Object::new();
    for t in meta.topics.all() {
        let v = fastjson::to_value(&to_wire(&t, v5))
            .map_err(|e| super::Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string()))?;
        table.push(t.topic_name.clone(), v);
    }
    let mut o = Object::new();
    o.push("dataVersion", dv(&meta.topics.data_version()));
    o.push("mappingDataVersion", dv(&ctx.admin_state().mapping_version));
    o.push("topicConfigTable", Value::Object(table));
    o.push("topicQueueMappingDetailMap", Value::Object(Object::new()));
    o.push("topicQueueMappingInfoMap", Value::Object(Object::new()));
    Ok(ok_body(req, bodies::encode(Value::Object(o))))
}

pub(super) async fn stats<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let h = TopicRequestHeader::from_command(req)?;
    let topic = h.topic;
    let Some(tc) = ctx.meta().topics.get(&topic) else {
        return fail(ResponseCode::TOPIC_NOT_EXIST, format!("topic[{topic}] not exist"));
    };
    let broker_name = ctx.settings().broker.broker_name;
    let mut offsets = Vec::new();
    for i in 0..tc.write_queue_nums.max(tc.read_queue_nums) {
        let min = ctx.min_offset(&topic, i).max(0);
        let max = ctx.max_offset(&topic, i).max(0);
        let mut ts = 0;
        if max > 0 {
            ts = ctx.store_time_at(&topic, i, max - 1).await.unwrap_or(-1);
        }
        let mq = Mq { topic: topic.clone(), broker_name: broker_name.clone(), queue_id: i };
        offsets.push((mq, TopicOffset { min_offset: min, max_offset: max, last_update_timestamp: ts }));
    }
    Ok(ok_body(req, bodies::topic_stats_table(offsets, ctx.topic_put_tps(&topic))))
}

/// GET_TOPIC_CONFIG (351): `TopicConfigAndQueueMapping` (no static topics: no
/// `mappingDetail`). Java's mqadmin asks it for every broker of a route in
/// topicStatus and consumerProgress, so it must be answered.
pub(super) fn config<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let h = TopicRequestHeader::from_command(req)?;
    let meta = ctx.meta();
    let Some(t) = meta.topics.get(&h.topic) else {
        return fail(ResponseCode::TOPIC_NOT_EXIST, format!("No topic in this broker. topic: {}", h.topic));
    };
    let v = fastjson::to_value(&to_wire(&t, meta.flavor == JavaFlavor::V5_3_3))
        .map_err(|e| super::Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string()))?;
    Ok(ok_body(req, bodies::encode(v)))
}

/// Groups subscribed now (heartbeats) plus groups with committed offsets.
pub(super) fn consumed_by<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let h = TopicRequestHeader::from_command(req)?;
    let mut groups = ctx.consumer_manager().groups_of_topic(&h.topic);
    for g in ctx.meta().offsets.groups_of_topic(&h.topic) {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok(ok_body(req, bodies::string_set("groupList", &groups)))
}

pub(super) fn system_topics<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    // Already in HashSet order; string_set reorders the same way (idempotent).
    Ok(ok_body(req, bodies::string_set("topicList", &ctx.meta().topics.system_topics())))
}
