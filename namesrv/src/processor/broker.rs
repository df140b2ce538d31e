//! Broker-facing requests: register, unregister, heartbeat, data version, member group.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_remoting::codec::{RemotingCommand, ResponseCode, Version};
use rmq_remoting::protocol::body::{self, DataVersion, GetBrokerMemberGroupResponseBody, RegisterBrokerBody};
use rmq_remoting::protocol::namesrv::{
    BrokerHeartbeatRequestHeader, GetBrokerMemberGroupRequestHeader, QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
    UnRegisterBrokerRequestHeader,
};
use rmq_remoting::protocol::register::{body_crc32, decode_register_body};
use rmq_remoting::transport::Channel;
use tracing::{info, warn};

use super::{header, ok, ok_with, Failure, Outcome, State};
use crate::kv::NAMESPACE_ORDER_TOPIC_CONFIG;
use crate::route::Registration;

/// `MixAll.ZONE_NAME` extField.
const ZONE_NAME: &str = "__ZONE_NAME";

pub(super) fn register(state: &Arc<State>, channel: &Channel, req: &RemotingCommand) -> Outcome {
    let h: RegisterBrokerRequestHeader = header(req)?;
    let crc = h.body_crc32.unwrap_or(0);
    if crc != 0 {
        let actual = body_crc32(req.body.as_deref().unwrap_or_default());
        if actual != crc {
            warn!(peer = %channel.peer_addr(), broker = %h.broker_addr, expected = crc, actual, "register body crc32 mismatch");
            return Err(Failure::Code(ResponseCode::SYSTEM_ERROR, "crc32 not match".into()));
        }
    }
    let (topics, filter_servers) = if req.version >= Version::V3_0_11.0 {
        let b: RegisterBrokerBody = match &req.body {
            Some(bytes) => {
                decode_register_body(bytes, h.compressed.unwrap_or(false), Version(req.version)).map_err(|e| {
                    Failure::Code(ResponseCode::SYSTEM_ERROR, format!("Failed to decode RegisterBrokerBody: {e}"))
                })?
            }
            None => RegisterBrokerBody::default(),
        };
        (b.topic_config_serialize_wrapper, b.filter_server_list)
    } else {
        let w = match &req.body {
            Some(bytes) => body::decode("TopicConfigSerializeWrapper", bytes)
                .map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string()))?,
            None => Default::default(),
        };
        (w, Vec::new())
    };
    let reg = Registration {
        cluster: &h.cluster_name,
        broker_addr: &h.broker_addr,
        broker_name: &h.broker_name,
        broker_id: h.broker_id,
        ha_server_addr: &h.ha_server_addr,
        zone_name: req.ext(ZONE_NAME).map(str::to_string),
        timeout: h.heartbeat_timeout_millis.filter(|t| *t > 0).map(|t| Duration::from_millis(t as u64)),
        enable_acting_master: h.enable_acting_master,
        topics,
        filter_servers,
        channel_id: channel.id(),
    };
    let result = {
        let mut route = state.route.lock();
        let first = !route.is_registered(&h.cluster_name, &h.broker_addr);
        let r = route.register(reg, Instant::now());
        if first && r.is_some() {
            info!(cluster = %h.cluster_name, broker = %h.broker_name, id = h.broker_id, addr = %h.broker_addr, "new broker registered");
        }
        r
    };
    let Some(result) = result else {
        return Err(Failure::Code(ResponseCode::SYSTEM_ERROR, "register broker failed".into()));
    };
    let mut resp = ok_with(
        req,
        &RegisterBrokerResponseHeader { ha_server_addr: result.ha_server_addr, master_addr: result.master_addr },
    );
    if state.settings.lock().namesrv.return_order_topic_config_to_broker {
        resp.body = state.kv.lock().namespace_body(NAMESPACE_ORDER_TOPIC_CONFIG).map(Into::into);
    }
    Ok(resp)
}

pub(super) fn unregister(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: UnRegisterBrokerRequestHeader = header(req)?;
    state.route.lock().unregister(&h.cluster_name, &h.broker_addr, &h.broker_name, h.broker_id);
    info!(cluster = %h.cluster_name, broker = %h.broker_name, addr = %h.broker_addr, "broker unregistered");
    Ok(ok(req))
}

pub(super) fn heartbeat(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: BrokerHeartbeatRequestHeader = header(req)?;
    state.route.lock().touch(&h.cluster_name, &h.broker_addr, Instant::now());
    Ok(ok(req))
}

pub(super) fn query_data_version(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: QueryDataVersionRequestHeader = header(req)?;
    let theirs: DataVersion = match &req.body {
        Some(b) => {
            body::decode("DataVersion", b).map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string()))?
        }
        None => DataVersion::default(),
    };
    let mut route = state.route.lock();
    let ours = route.broker_data_version(&h.cluster_name, &h.broker_addr);
    let changed = ours.as_ref().is_none_or(|o| !o.same_as(&theirs));
    route.touch(&h.cluster_name, &h.broker_addr, Instant::now());
    let mut resp = ok_with(req, &QueryDataVersionResponseHeader { changed });
    resp.body = ours.map(|dv| body::encode(&dv).into());
    Ok(resp)
}

pub(super) fn member_group(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: GetBrokerMemberGroupRequestHeader = header(req)?;
    let group = state.route.lock().member_group(&h.cluster_name, &h.broker_name);
    Ok(ok(req).with_body(body::encode(&GetBrokerMemberGroupResponseBody { broker_member_group: group })))
}
