//! Request dispatch. One module per request group; every failure becomes a
//! response in one place ([`respond`]), so a malformed request gets an error
//! naming the problem and never takes the connection (or the broker) down.

pub mod admin;
mod admin_ctx;
mod client;
mod end_tx;
pub mod lock;
mod offset;
mod passthrough;
pub mod props;
mod pull;
mod query;
mod send;
mod sendback;

use std::sync::Arc;
use std::time::Instant;

use rmq_remoting::codec::header::HeaderError;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode, Version};
use rmq_remoting::transport::{BoxFuture, Channel, RequestHandler};
use rmq_store::config_files::JavaFlavor;
use rmq_store::HostAddr;
use tracing::{debug, info};

use crate::client::{ConsumerManager, ProducerManager};
use crate::config::BrokerSettings;
use crate::long_polling::LongPolling;
use crate::meta::Meta;
use crate::role::RoleState;
use crate::store::{MessageStore, MessageStoreError};

pub use send::{DelayHook, TransactionHook, UniqIdGenerator};

/// Everything requests share.
pub struct BrokerState {
    pub settings: BrokerSettings,
    pub meta: Arc<Meta>,
    pub store: MessageStore,
    pub consumers: ConsumerManager,
    pub producers: ProducerManager,
    pub long_polling: Arc<LongPolling>,
    pub role: RoleState,
    /// Replication (HA service), started in every role.
    pub ha: Arc<crate::ha::BrokerHa>,
    /// `brokerIP1:listenPort`, stamped into every stored message.
    pub store_host: HostAddr,
    pub flavor: JavaFlavor,
    pub uniq_ids: UniqIdGenerator,
    /// Half messages (`TRAN_MSG=true`) go here once transactions exist.
    pub transactions: parking_lot::RwLock<Option<Arc<dyn TransactionHook>>>,
    /// Delay levels park messages in SCHEDULE_TOPIC_XXXX once the schedule service runs.
    pub delay: parking_lot::RwLock<Option<Arc<dyn DelayHook>>>,
    /// Orderly consumers' queue locks (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ).
    pub locks: lock::RebalanceLockManager,
    pub started: Instant,
    /// Wakes the registration task early (a topic was created, Java re-registers at once).
    pub register_soon: tokio::sync::Notify,
    /// Last heartbeat fingerprint per consumer group (heartbeat V2).
    pub heartbeat_fingerprints: parking_lot::Mutex<std::collections::HashMap<String, i32>>,
    /// State the admin requests keep.
    pub admin: admin::AdminState,
    /// Settings as UPDATE_BROKER_CONFIG changed them (admin reads; the core
    /// request paths still read `settings`, the values at start).
    pub live_settings: parking_lot::RwLock<BrokerSettings>,
    /// Wall-clock start (ms), GET_BROKER_RUNTIME_INFO.
    pub boot_timestamp: i64,
}

/// Codes this broker answers; everything else gets REQUEST_CODE_NOT_SUPPORTED.
pub const SUPPORTED: &[RequestCode] = &[
    RequestCode::SEND_MESSAGE,
    RequestCode::SEND_MESSAGE_V2,
    RequestCode::SEND_BATCH_MESSAGE,
    RequestCode::PULL_MESSAGE,
    RequestCode::LITE_PULL_MESSAGE,
    RequestCode::QUERY_CONSUMER_OFFSET,
    RequestCode::UPDATE_CONSUMER_OFFSET,
    RequestCode::SEARCH_OFFSET_BY_TIMESTAMP,
    RequestCode::GET_MAX_OFFSET,
    RequestCode::GET_MIN_OFFSET,
    RequestCode::GET_EARLIEST_MSG_STORETIME,
    RequestCode::HEART_BEAT,
    RequestCode::UNREGISTER_CLIENT,
    RequestCode::GET_CONSUMER_LIST_BY_GROUP,
    RequestCode::CHECK_CLIENT_CONFIG,
    RequestCode::CONSUMER_SEND_MSG_BACK,
    RequestCode::END_TRANSACTION,
    RequestCode::QUERY_MESSAGE,
    RequestCode::VIEW_MESSAGE_BY_ID,
    RequestCode::LOCK_BATCH_MQ,
    RequestCode::UNLOCK_BATCH_MQ,
    RequestCode::GET_CONSUMER_RUNNING_INFO,
    RequestCode::CONSUME_MESSAGE_DIRECTLY,
];

/// Codes the fast port (`listenPort - 2`, VIP channel) does not serve: pulls.
pub const NOT_ON_FAST_PORT: &[RequestCode] = &[RequestCode::PULL_MESSAGE, RequestCode::LITE_PULL_MESSAGE];

/// A request that could not be served.
#[derive(Debug)]
pub(crate) enum Failure {
    Header(HeaderError),
    Code(ResponseCode, String),
    Store(MessageStoreError),
}

impl From<HeaderError> for Failure {
    fn from(e: HeaderError) -> Self {
        Failure::Header(e)
    }
}

impl From<MessageStoreError> for Failure {
    fn from(e: MessageStoreError) -> Self {
        Failure::Store(e)
    }
}

/// `None`: no response (oneway, or answered later).
pub(crate) type Outcome = Result<Option<RemotingCommand>, Failure>;

pub(crate) fn fail<T>(code: ResponseCode, remark: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Code(code, remark.into()))
}

/// SUCCESS with no custom header.
pub(crate) fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
}

/// The request came from a 5.x client (answer with 5.x-only fields).
pub(crate) fn is_v5_client(req: &RemotingCommand) -> bool {
    req.version >= Version::V5_0_0.0
}

fn respond(req: &RemotingCommand, outcome: Outcome) -> Option<RemotingCommand> {
    match outcome {
        Ok(r) => r,
        Err(Failure::Header(e)) => Some(RemotingCommand::response_to(
            req,
            ResponseCode::SYSTEM_ERROR,
            Some(format!("org.apache.rocketmq.remoting.exception.RemotingCommandException: {e}")),
        )),
        Err(Failure::Code(code, remark)) => Some(RemotingCommand::response_to(req, code, Some(remark))),
        Err(Failure::Store(e)) => {
            Some(RemotingCommand::response_to(req, ResponseCode::SYSTEM_ERROR, Some(e.to_string())))
        }
    }
}

pub struct BrokerHandler {
    pub state: Arc<BrokerState>,
    /// The fast port: no pulls.
    pub fast: bool,
}

impl RequestHandler for BrokerHandler {
    fn handle(&self, channel: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        let state = self.state.clone();
        let channel = channel.clone();
        let fast = self.fast;
        Box::pin(async move {
            let outcome = process(&state, &channel, &req, fast).await;
            let resp = respond(&req, outcome);
            if let Some(r) = &resp {
                debug!(peer = %channel.peer_addr(), request = %req.describe(), response = %r.response_code(), "served");
            }
            resp
        })
    }

    fn on_close(&self, channel: &Channel) {
        client::channel_closed(&self.state, channel);
    }
}

/// Java's answer to a code no processor handles.
fn not_supported(req: &RemotingCommand) -> Outcome {
    Ok(Some(RemotingCommand::response_to(
        req,
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
        Some(format!(" request type {} not supported", req.code)),
    )))
}

async fn process(state: &Arc<BrokerState>, channel: &Channel, req: &RemotingCommand, fast: bool) -> Outcome {
    let code = req.request_code();
    if fast && NOT_ON_FAST_PORT.contains(&code) {
        return not_supported(req);
    }
    match code {
        RequestCode::SEND_MESSAGE | RequestCode::SEND_MESSAGE_V2 | RequestCode::SEND_BATCH_MESSAGE => {
            send::send(state, channel, req).await
        }
        RequestCode::PULL_MESSAGE | RequestCode::LITE_PULL_MESSAGE => pull::pull(state, channel, req, true).await,
        RequestCode::QUERY_CONSUMER_OFFSET => offset::query_consumer_offset(state, req).await,
        RequestCode::UPDATE_CONSUMER_OFFSET => offset::update_consumer_offset(state, channel, req),
        RequestCode::SEARCH_OFFSET_BY_TIMESTAMP => offset::search_by_timestamp(state, req).await,
        RequestCode::GET_MAX_OFFSET => offset::max_offset(state, req),
        RequestCode::GET_MIN_OFFSET => offset::min_offset(state, req),
        RequestCode::GET_EARLIEST_MSG_STORETIME => offset::earliest_store_time(state, req).await,
        RequestCode::HEART_BEAT => client::heartbeat(state, channel, req),
        RequestCode::UNREGISTER_CLIENT => client::unregister(state, channel, req),
        RequestCode::GET_CONSUMER_LIST_BY_GROUP => client::consumer_list(state, req),
        RequestCode::CHECK_CLIENT_CONFIG => client::check_client_config(state, req),
        RequestCode::CONSUMER_SEND_MSG_BACK => sendback::send_back(state, channel, req).await,
        RequestCode::END_TRANSACTION => end_tx::end_transaction(state, channel, req).await,
        RequestCode::QUERY_MESSAGE => query::query_message(state, req).await,
        RequestCode::VIEW_MESSAGE_BY_ID => query::view_message_by_id(state, req).await,
        RequestCode::LOCK_BATCH_MQ => lock::lock_batch(state, req),
        RequestCode::UNLOCK_BATCH_MQ => lock::unlock_batch(state, req),
        RequestCode::GET_CONSUMER_RUNNING_INFO => passthrough::consumer_running_info(state, req).await,
        RequestCode::CONSUME_MESSAGE_DIRECTLY => passthrough::consume_message_directly(state, req).await,
        code if admin::CODES.contains(&code) => Ok(admin::handle(state.as_ref(), channel, req).await),
        _ => not_supported(req),
    }
}

/// Logged once at start: what this broker serves.
pub fn log_supported() {
    let codes: Vec<String> = SUPPORTED.iter().map(|c| c.0.to_string()).collect();
    info!(codes = %codes.join(","), "request codes served by the core");
}
