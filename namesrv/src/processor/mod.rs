//! Request dispatch. One module per request group; errors become responses here.

mod broker;
mod kv;
mod runtime_config;
mod topics;

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rmq_remoting::codec::header::{FromExtFields, HeaderError, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode, Version};
use rmq_remoting::transport::{BoxFuture, Channel, RequestHandler};
use tracing::{debug, info};

use crate::config::NamesrvSettings;
use crate::kv::KvStore;
use crate::route::{Flavor, RouteTable};

/// Shared state behind every connection.
pub struct State {
    pub route: Mutex<RouteTable>,
    pub kv: Mutex<KvStore>,
    pub settings: Mutex<NamesrvSettings>,
    pub started: Instant,
}

/// Codes this name server answers; everything else gets REQUEST_CODE_NOT_SUPPORTED.
pub const SUPPORTED: &[RequestCode] = &[
    RequestCode::PUT_KV_CONFIG,
    RequestCode::GET_KV_CONFIG,
    RequestCode::DELETE_KV_CONFIG,
    RequestCode::QUERY_DATA_VERSION,
    RequestCode::REGISTER_BROKER,
    RequestCode::UNREGISTER_BROKER,
    RequestCode::BROKER_HEARTBEAT,
    RequestCode::GET_BROKER_MEMBER_GROUP,
    RequestCode::GET_BROKER_CLUSTER_INFO,
    RequestCode::WIPE_WRITE_PERM_OF_BROKER,
    RequestCode::ADD_WRITE_PERM_OF_BROKER,
    RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
    RequestCode::DELETE_TOPIC_IN_NAMESRV,
    RequestCode::REGISTER_TOPIC_IN_NAMESRV,
    RequestCode::GET_KVLIST_BY_NAMESPACE,
    RequestCode::GET_TOPICS_BY_CLUSTER,
    RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_NS,
    RequestCode::GET_UNIT_TOPIC_LIST,
    RequestCode::GET_HAS_UNIT_SUB_TOPIC_LIST,
    RequestCode::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST,
    RequestCode::UPDATE_NAMESRV_CONFIG,
    RequestCode::GET_NAMESRV_CONFIG,
    RequestCode::GET_ROUTEINFO_BY_TOPIC,
];

/// A request that could not be served, mapped to a response at one place.
pub(crate) enum Failure {
    Header(HeaderError),
    Code(ResponseCode, String),
}

impl From<HeaderError> for Failure {
    fn from(e: HeaderError) -> Self {
        Failure::Header(e)
    }
}

pub(crate) type Outcome = Result<RemotingCommand, Failure>;

pub struct NamesrvHandler {
    pub state: Arc<State>,
}

impl RequestHandler for NamesrvHandler {
    fn handle(&self, channel: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        let state = self.state.clone();
        let channel = channel.clone();
        Box::pin(async move {
            // Everything here is in-memory except KV/config persistence, which is small
            // and rare; those paths hop to a blocking thread inside their modules.
            let resp = match process(&state, &channel, &req).await {
                Ok(r) => r,
                Err(Failure::Header(e)) => RemotingCommand::response_to(
                    &req,
                    ResponseCode::SYSTEM_ERROR,
                    Some(format!("org.apache.rocketmq.remoting.exception.RemotingCommandException: {e}")),
                ),
                Err(Failure::Code(code, remark)) => RemotingCommand::response_to(&req, code, Some(remark)),
            };
            debug!(peer = %channel.peer_addr(), request = %req.describe(), response = %resp.response_code(), "served");
            Some(resp)
        })
    }

    fn on_close(&self, channel: &Channel) {
        let gone = self.state.route.lock().on_channel_closed(channel.id());
        for key in gone {
            info!(cluster = %key.cluster, broker = %key.addr, peer = %channel.peer_addr(), "broker connection closed, route removed");
        }
    }
}

async fn process(state: &Arc<State>, channel: &Channel, req: &RemotingCommand) -> Outcome {
    let code = req.request_code();
    match code {
        RequestCode::REGISTER_BROKER => broker::register(state, channel, req),
        RequestCode::UNREGISTER_BROKER => broker::unregister(state, req),
        RequestCode::BROKER_HEARTBEAT => broker::heartbeat(state, req),
        RequestCode::QUERY_DATA_VERSION => broker::query_data_version(state, req),
        RequestCode::GET_BROKER_MEMBER_GROUP => broker::member_group(state, req),
        RequestCode::GET_ROUTEINFO_BY_TOPIC => topics::route(state, req),
        RequestCode::GET_BROKER_CLUSTER_INFO => topics::cluster_info(state, req),
        RequestCode::WIPE_WRITE_PERM_OF_BROKER => topics::write_perm(state, req, false),
        RequestCode::ADD_WRITE_PERM_OF_BROKER => topics::write_perm(state, req, true),
        RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => topics::all_topics(state, req),
        RequestCode::DELETE_TOPIC_IN_NAMESRV => topics::delete_topic(state, req),
        RequestCode::REGISTER_TOPIC_IN_NAMESRV => topics::register_topic(state, req),
        RequestCode::GET_TOPICS_BY_CLUSTER => topics::topics_by_cluster(state, req),
        RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_NS => topics::system_topics(state, req),
        RequestCode::GET_UNIT_TOPIC_LIST => topics::unit_topics(state, req, Some(true), false),
        RequestCode::GET_HAS_UNIT_SUB_TOPIC_LIST => topics::unit_topics(state, req, None, true),
        RequestCode::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST => topics::unit_topics(state, req, Some(false), true),
        RequestCode::PUT_KV_CONFIG => kv::put(state, req).await,
        RequestCode::GET_KV_CONFIG => kv::get(state, req),
        RequestCode::DELETE_KV_CONFIG => kv::delete(state, req).await,
        RequestCode::GET_KVLIST_BY_NAMESPACE => kv::list(state, req),
        RequestCode::UPDATE_NAMESRV_CONFIG => runtime_config::update(state, req).await,
        RequestCode::GET_NAMESRV_CONFIG => runtime_config::get(state, req),
        _ => Ok(RemotingCommand::response_to(
            req,
            ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
            Some(format!(" request type {} not supported", req.code)),
        )),
    }
}

/// Which Java's layout to answer in: 4.9.8 clients get 4.9.8-shaped bodies.
pub(crate) fn flavor(req: &RemotingCommand) -> Flavor {
    if req.version < Version::V5_0_0.0 {
        Flavor::V4
    } else {
        Flavor::V5
    }
}

/// SUCCESS with no custom header (Java's `createResponseCommand(null)`).
pub(crate) fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
}

/// SUCCESS with a custom header: `extFields` present even when all fields are null.
pub(crate) fn ok_with<H: ToExtFields>(req: &RemotingCommand, header: &H) -> RemotingCommand {
    let mut r = ok(req);
    header.apply_to(&mut r);
    r
}

pub(crate) fn header<H: FromExtFields>(req: &RemotingCommand) -> Result<H, Failure> {
    Ok(H::from_command(req)?)
}
