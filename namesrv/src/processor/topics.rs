//! Route and topic requests: route by topic, cluster info, topic lists, delete/register
//! topic, write permission.

use std::sync::Arc;

use rmq_remoting::codec::{RemotingCommand, ResponseCode, Version};
use rmq_remoting::protocol::body::{self, TopicRouteData};
use rmq_remoting::protocol::namesrv::{
    AddWritePermOfBrokerResponseHeader, BrokerNameRequestHeader, DeleteTopicFromNamesrvRequestHeader,
    GetRouteInfoRequestHeader, GetTopicsByClusterRequestHeader, RegisterTopicRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
};
use tracing::info;

use super::{flavor, header, ok, ok_with, Failure, Outcome, State};
use crate::kv::NAMESPACE_ORDER_TOPIC_CONFIG;

/// `FAQUrl.suggestTodo(APPLY_TOPIC_URL)`.
const APPLY_TOPIC_TIP: &str = "\nSee https://rocketmq.apache.org/docs/bestPractice/06FAQ for further details.";

pub(super) fn route(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: GetRouteInfoRequestHeader = header(req)?;
    let (need_wait, wait_secs, order_enable) = {
        let s = state.settings.lock();
        (s.namesrv.need_wait_for_service, s.namesrv.wait_seconds_for_service, s.namesrv.order_message_enable)
    };
    if need_wait && state.started.elapsed().as_secs() < wait_secs.max(0) as u64 {
        return Err(Failure::Code(ResponseCode::SYSTEM_ERROR, "name server not ready".into()));
    }
    let route: Option<TopicRouteData> = state.route.lock().route(&h.topic, flavor(req));
    let Some(mut route) = route else {
        return Err(Failure::Code(
            ResponseCode::TOPIC_NOT_EXIST,
            format!("No topic route info in name server for the topic: {}{}", h.topic, APPLY_TOPIC_TIP),
        ));
    };
    if order_enable {
        route.order_topic_conf = state.kv.lock().get(NAMESPACE_ORDER_TOPIC_CONFIG, &h.topic).map(str::to_string);
    }
    // Clients from 4.9.4 on (or asking for it) get standard JSON: quoted, sorted map keys.
    let standard = req.version >= Version::V4_9_4.0 || h.accept_standard_json_only == Some(true);
    let bytes = if standard { body::encode_with(&route, &body::standard_json_options()) } else { body::encode(&route) };
    Ok(ok(req).with_body(bytes))
}

pub(super) fn cluster_info(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let info = state.route.lock().cluster_info(flavor(req));
    Ok(ok(req).with_body(body::encode(&info)))
}

pub(super) fn write_perm(state: &Arc<State>, req: &RemotingCommand, add: bool) -> Outcome {
    let h: BrokerNameRequestHeader = header(req)?;
    let n = state.route.lock().change_write_perm(&h.broker_name, add);
    info!(broker = %h.broker_name, topics = n, add, "write permission changed");
    Ok(if add {
        ok_with(req, &AddWritePermOfBrokerResponseHeader { add_topic_count: n })
    } else {
        ok_with(req, &WipeWritePermOfBrokerResponseHeader { wipe_topic_count: n })
    })
}

pub(super) fn all_topics(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    if !state.settings.lock().namesrv.enable_all_topic_list {
        return Err(Failure::Code(ResponseCode::SYSTEM_ERROR, "disable".into()));
    }
    let list = state.route.lock().all_topics(flavor(req));
    Ok(ok(req).with_body(body::encode(&list)))
}

pub(super) fn delete_topic(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: DeleteTopicFromNamesrvRequestHeader = header(req)?;
    let mut route = state.route.lock();
    match h.cluster_name.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => route.delete_topic_in_cluster(&h.topic, c),
        None => route.delete_topic(&h.topic),
    }
    Ok(ok(req))
}

pub(super) fn register_topic(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: RegisterTopicRequestHeader = header(req)?;
    if let Some(b) = &req.body {
        let route: TopicRouteData =
            body::decode("TopicRouteData", b).map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string()))?;
        state.route.lock().register_topic(&h.topic, route.queue_datas);
    }
    Ok(ok(req))
}

pub(super) fn topics_by_cluster(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    if !state.settings.lock().namesrv.enable_topic_list {
        return Err(Failure::Code(ResponseCode::SYSTEM_ERROR, "disable".into()));
    }
    let h: GetTopicsByClusterRequestHeader = header(req)?;
    let list = state.route.lock().topics_by_cluster(&h.cluster, flavor(req));
    Ok(ok(req).with_body(body::encode(&list)))
}

pub(super) fn system_topics(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let list = state.route.lock().system_topics(flavor(req));
    Ok(ok(req).with_body(body::encode(&list)))
}

pub(super) fn unit_topics(state: &Arc<State>, req: &RemotingCommand, unit: Option<bool>, unit_sub: bool) -> Outcome {
    if !state.settings.lock().namesrv.enable_topic_list {
        return Err(Failure::Code(ResponseCode::SYSTEM_ERROR, "disable".into()));
    }
    let list = state.route.lock().unit_topics(unit, unit_sub, flavor(req));
    Ok(ok(req).with_body(body::encode(&list)))
}
