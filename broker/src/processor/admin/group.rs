//! Group requests: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
//! DELETE_SUBSCRIPTIONGROUP, GET_CONSUMER_CONNECTION_LIST, GET_PRODUCER_CONNECTION_LIST,
//! GET_CONSUME_STATS, GET_ALL_CONSUMER_OFFSET, GET_ALL_DELAY_OFFSET.

use rmq_common::fastjson;
use rmq_remoting::codec::header::FromExtFields;
use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use rmq_remoting::protocol::client::{
    ConsumerGroupRequestHeader, DeleteSubscriptionGroupRequestHeader, GetConsumeStatsRequestHeader,
    GetProducerConnectionListRequestHeader,
};
use rmq_store::config_files::{ConfigFile, SubscriptionGroupConfig};
use tracing::info;

use super::bodies::{self, Connection, Mq, OffsetWrapper};
use super::{fail, java_addr, ok, ok_body, persist, AdminContext, Failure, Outcome, Persist};
use crate::client::ClientChannel;

fn system_error(e: impl ToString) -> Failure {
    Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string())
}

pub(super) async fn update_and_create<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    // Java decodes with fastjson; an absent body is a null config (NullPointerException).
    let body =
        req.body.as_deref().filter(|b| !b.is_empty()).ok_or_else(|| system_error("java.lang.NullPointerException"))?;
    let config: SubscriptionGroupConfig = fastjson::from_json_bytes(body)
        .map_err(|e| system_error(format!("com.alibaba.fastjson.JSONException: {e}")))?;
    let name = config.group_name.clone();
    let meta = ctx.meta();
    meta.groups.update_with_attributes(config).map_err(system_error)?;
    persist(meta, &[Persist::Groups]).await;
    info!(group = %name, "subscription group updated");
    Ok(ok(req))
}

pub(super) fn all_configs<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    Ok(ok_body(req, ctx.meta().groups.encode().into_bytes()))
}

pub(super) async fn delete<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let h = DeleteSubscriptionGroupRequestHeader::from_command(req)?;
    let meta = ctx.meta();
    meta.groups.delete(&h.group_name);
    let mut what = vec![Persist::Groups];
    if h.clean_offset.unwrap_or(false) {
        meta.offsets.remove_group(&h.group_name);
        what.push(Persist::Offsets);
    }
    persist(meta, &what).await;
    Ok(ok(req))
}

fn connection(c: &ClientChannel) -> Connection {
    Connection {
        client_id: c.client_id.clone(),
        client_addr: java_addr(c.channel.peer_addr()),
        language: c.language.name().to_string(),
        version: c.version,
    }
}

pub(super) fn consumer_connections<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let h = ConsumerGroupRequestHeader::from_command(req)?;
    let Some(g) = ctx.consumer_manager().group(&h.consumer_group) else {
        return fail(ResponseCode::CONSUMER_NOT_ONLINE, format!("the consumer group[{}] not online", h.consumer_group));
    };
    let conns: Vec<Connection> = g.channels.values().map(connection).collect();
    let mut subs = Vec::new();
    for (topic, s) in &g.subscriptions {
        subs.push((topic.clone(), fastjson::to_value(s).map_err(system_error)?));
    }
    let body = bodies::consumer_connection(&conns, &g.consume_from_where, &g.consume_type, &g.message_model, subs);
    Ok(ok_body(req, body))
}

pub(super) fn producer_connections<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let h = GetProducerConnectionListRequestHeader::from_command(req)?;
    let conns = ctx.producer_manager().connections(&h.producer_group);
    if conns.is_empty() {
        // The manager drops a group with its last channel: Java's "no such group".
        return fail(ResponseCode::SYSTEM_ERROR, format!("the producer group[{}] not exist", h.producer_group));
    }
    let conns: Vec<Connection> = conns.iter().map(connection).collect();
    Ok(ok_body(req, bodies::producer_connection(&conns)))
}

/// Topics whose progress GET_CONSUME_STATS reports: the request's `topicList`, else
/// its `topic` or every topic the group has offsets on, minus topics the (online)
/// group does not subscribe.
fn topics_for_stats<C: AdminContext + ?Sized>(ctx: &C, h: &GetConsumeStatsRequestHeader) -> Vec<String> {
    let listed: Vec<String> =
        h.topic_list.as_deref().unwrap_or("").split(';').filter(|t| !t.is_empty()).map(str::to_string).collect();
    if !listed.is_empty() {
        return listed;
    }
    let group = &h.consumer_group;
    let mut topics = match h.topic.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => vec![t.to_string()],
        None => ctx.meta().offsets.topics_of_group(group),
    };
    let consumers = ctx.consumer_manager();
    let subscribed = consumers.group(group).map(|g| g.subscriptions.len()).unwrap_or(0);
    if subscribed > 0 {
        topics.retain(|t| consumers.subscription(group, t).is_some());
    }
    topics
}

pub(super) async fn consume_stats<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let h = GetConsumeStatsRequestHeader::from_command(req)?;
    let group = h.consumer_group.clone();
    let broker_name = ctx.settings().broker.broker_name;
    let meta = ctx.meta();
    let mut offsets = Vec::new();
    let mut tps = 0.0;
    for topic in topics_for_stats(ctx, &h) {
        let Some(tc) = meta.topics.get(&topic) else { continue };
        for i in 0..tc.read_queue_nums {
            let broker_offset = ctx.max_offset(&topic, i).max(0);
            // Static topics (not supported) would keep -1 here.
            let consumer_offset = meta.offsets.query(&group, &topic, i).max(0);
            let pull_offset = meta.offsets.query_pull(&group, &topic, i);
            let mut last_timestamp = 0;
            if consumer_offset >= 1 {
                if let Some(ts) = ctx.store_time_at(&topic, i, consumer_offset - 1).await.filter(|t| *t > 0) {
                    last_timestamp = ts;
                }
            }
            let w = OffsetWrapper {
                broker_offset,
                consumer_offset,
                pull_offset: consumer_offset.max(pull_offset),
                last_timestamp,
            };
            offsets.push((Mq { topic: topic.clone(), broker_name: broker_name.clone(), queue_id: i }, w));
        }
        tps += ctx.group_get_tps(&group, &topic);
    }
    Ok(ok_body(req, bodies::consume_stats(offsets, tps)))
}

pub(super) fn all_offsets<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    Ok(ok_body(req, ctx.meta().offsets.encode().into_bytes()))
}

pub(super) fn all_delay_offsets<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let meta = ctx.meta();
    let file = meta.delay_offsets.to_file();
    Ok(ok_body(req, file.to_json(meta.flavor, rmq_store::config_files::Layout::Compact).into_bytes()))
}
