//! Client management: HEART_BEAT (34), UNREGISTER_CLIENT (35),
//! GET_CONSUMER_LIST_BY_GROUP (38), CHECK_CLIENT_CONFIG (46), and the
//! NOTIFY_CONSUMER_IDS_CHANGED (40) pushes that tell a group to rebalance.

use std::sync::Arc;
use std::time::Instant;

use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::body;
use rmq_remoting::protocol::client::{ConsumerGroupRequestHeader, UnregisterClientRequestHeader};
use rmq_remoting::protocol::heartbeat::{GetConsumerListByGroupResponseBody, HeartbeatData, SubscriptionData};
use rmq_remoting::transport::Channel;
use rmq_store::config_files::JavaFlavor;
use serde::Deserialize;
use tracing::{debug, info};

use super::{fail, ok, BrokerState, Outcome};
use crate::client::ClientChannel;

const PERM_RW: i32 = 6;

/// `NOTIFY_CONSUMER_IDS_CHANGED` to every client of a group (oneway, like Java).
pub(crate) fn notify_group(state: &BrokerState, group: &str) {
    if !state.settings.broker.notify_consumer_ids_changed_enable {
        return;
    }
    let Some(g) = state.consumers.group(group) else { return };
    for c in g.channels.values() {
        let mut cmd = RemotingCommand::request(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED);
        ConsumerGroupRequestHeader { consumer_group: group.to_string() }.apply_to(&mut cmd);
        if let Err(e) = c.channel.invoke_oneway(cmd) {
            debug!(group, client = %c.client_id, error = %e, "notify consumer ids changed failed");
        }
    }
}

fn group_notifies(state: &BrokerState, group: &str) -> bool {
    state.meta.groups.get(group).map(|g| g.notify_consumer_ids_changed_enable).unwrap_or(true)
}

pub(crate) fn heartbeat(state: &Arc<BrokerState>, channel: &Channel, req: &RemotingCommand) -> Outcome {
    let Some(raw) = req.body.as_deref() else {
        return fail(ResponseCode::SYSTEM_ERROR, "HEART_BEAT without a HeartbeatData body");
    };
    let hb: HeartbeatData = match body::decode("HeartbeatData", raw) {
        Ok(h) => h,
        Err(e) => return fail(ResponseCode::SYSTEM_ERROR, e.to_string()),
    };
    let now = Instant::now();
    let info = ClientChannel {
        channel: channel.clone(),
        client_id: hb.client_id.clone(),
        language: req.language.clone(),
        version: req.version,
        last_update: now,
    };
    let v5 = state.flavor == JavaFlavor::V5_3_3;
    let fingerprint = hb.heartbeat_fingerprint.unwrap_or(0);
    let mut sub_changed = false;
    for data in &hb.consumer_data_set {
        if state.settings.broker.reject_pull_consumer_enable && data.consume_type == "CONSUME_ACTIVELY" {
            continue;
        }
        if fingerprint != 0 {
            let mut fp = state.heartbeat_fingerprints.lock();
            if fp.get(&data.group_name).is_some_and(|old| *old != fingerprint) {
                sub_changed = true;
            }
            fp.insert(data.group_name.clone(), fingerprint);
        }
        let group = state.meta.groups.find_or_create(&data.group_name);
        let notify = match &group {
            Some(g) => {
                let order = data.subscription_data_set.iter().any(|s| state.meta.topics.is_order_topic(&s.topic));
                let sys_flag = if data.unit_mode { 0x2 } else { 0 };
                let retry = format!("%RETRY%{}", data.group_name);
                let c =
                    state.meta.topics.create_topic_in_send_back(&retry, g.retry_queue_nums, PERM_RW, order, sys_flag);
                if c.is_created() {
                    state.register_soon.notify_one();
                }
                g.notify_consumer_ids_changed_enable
            }
            // 5.x skips groups it cannot find or create; 4.9.8 registers them anyway
            None if v5 => continue,
            None => true,
        };
        let mut data = data.clone();
        if hb.without_sub == Some(true) && fingerprint != 0 {
            // heartbeat V2 without subscriptions: keep what the group had
            let old = state.consumers.group(&data.group_name);
            data.subscription_data_set =
                old.map(|g| g.subscriptions.values().cloned().collect::<Vec<SubscriptionData>>()).unwrap_or_default();
        }
        let change = state.consumers.register(info.clone(), &data, now);
        let changed =
            if v5 { change.channels_changed || change.subscriptions_changed } else { change.channels_changed };
        if changed {
            info!(group = %data.group_name, client = %hb.client_id, peer = %channel.peer_addr(), "consumer group changed");
            if notify {
                notify_group(state, &data.group_name);
            }
        }
    }
    for p in &hb.producer_data_set {
        state.producers.register(&p.group_name, info.clone());
    }
    let mut resp = ok(req);
    if v5 {
        resp.set_ext("IS_SUPPORT_HEART_BEAT_V2", "true");
        let sub = if fingerprint != 0 { sub_changed } else { true };
        resp.set_ext("IS_SUB_CHANGE", sub.to_string());
    }
    Ok(Some(resp))
}

pub(crate) fn unregister(state: &Arc<BrokerState>, channel: &Channel, req: &RemotingCommand) -> Outcome {
    let h = UnregisterClientRequestHeader::from_command(req)?;
    if let Some(g) = &h.producer_group {
        state.producers.unregister(g, channel);
    }
    if let Some(g) = &h.consumer_group {
        if state.consumers.unregister(g, channel) && group_notifies(state, g) {
            info!(group = %g, client = %h.client_id, "consumer unregistered");
            notify_group(state, g);
        }
    }
    Ok(Some(ok(req)))
}

/// A connection closed: forget it, tell the groups it was in.
pub(crate) fn channel_closed(state: &BrokerState, channel: &Channel) {
    state.producers.channel_closed(channel);
    for g in state.consumers.channel_closed(channel) {
        info!(group = %g, peer = %channel.peer_addr(), "consumer connection closed");
        if group_notifies(state, &g) {
            notify_group(state, &g);
        }
    }
}

pub(crate) fn consumer_list(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let h = ConsumerGroupRequestHeader::from_command(req)?;
    if let Some(g) = state.consumers.group(&h.consumer_group) {
        let ids = g.client_ids();
        if !ids.is_empty() {
            let mut resp = ok(req);
            resp.body = Some(body::encode(&GetConsumerListByGroupResponseBody { consumer_id_list: ids }).into());
            return Ok(Some(resp));
        }
    }
    fail(ResponseCode::SYSTEM_ERROR, format!("no consumer for this group, {}", h.consumer_group))
}

/// `CheckClientRequestBody`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckClientRequestBody {
    #[serde(default)]
    subscription_data: Option<SubscriptionData>,
}

pub(crate) fn check_client_config(_state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let parsed: Option<CheckClientRequestBody> = match req.body.as_deref() {
        Some(b) => match body::decode("CheckClientRequestBody", b) {
            Ok(v) => Some(v),
            Err(e) => return fail(ResponseCode::SYSTEM_ERROR, e.to_string()),
        },
        None => None,
    };
    if let Some(s) = parsed.and_then(|p| p.subscription_data) {
        let t = s.expression_type.clone().unwrap_or_default();
        if t.is_empty() || t == "TAG" {
            return Ok(Some(ok(req)));
        }
        // no SQL92 engine here: refused as with enablePropertyFilter=false
        return fail(
            ResponseCode::SYSTEM_ERROR,
            format!("The broker does not support consumer to filter message by {t}"),
        );
    }
    Ok(Some(ok(req)))
}
