//! Admin requests (Java's `AdminBrokerProcessor`, 5.3.3 behaviour).
//!
//! README — how the core wires this in:
//!
//! * [`CODES`] lists the request codes handled here. In the dispatch `match`:
//!   `code if admin::CODES.contains(&code) => Ok(admin::handle(state, channel, req).await)`.
//! * [`handle`] answers one request (always `Some` response; never panics on bad
//!   input: malformed headers/bodies become SYSTEM_ERROR like Java's).
//! * The core implements [`AdminContext`] on its shared state: the metadata
//!   ([`Meta`]), the client managers, a few store reads, runtime counters, and two
//!   callbacks: [`AdminContext::on_topics_changed`] (register the changed topics with
//!   the name servers, Java's `registerIncrementBrokerData`) and
//!   [`AdminContext::apply_settings`] (UPDATE_BROKER_CONFIG: make the new values
//!   live; re-register everything when `brokerPermission` changed).
//! * The core keeps one [`AdminState`] (config data version, serialization of
//!   config writes) and returns it from [`AdminContext::admin_state`].
//! * Metadata changes are persisted here (blocking writes on `spawn_blocking`).
//!
//! Codes: UPDATE_AND_CREATE_TOPIC (17), GET_ALL_TOPIC_CONFIG (21), UPDATE_BROKER_CONFIG
//! (25), GET_BROKER_CONFIG (26), GET_BROKER_RUNTIME_INFO (28), GET_ALL_CONSUMER_OFFSET
//! (43), GET_ALL_DELAY_OFFSET (45), UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200),
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), GET_TOPIC_STATS_INFO (202),
//! GET_CONSUMER_CONNECTION_LIST (203), GET_PRODUCER_CONNECTION_LIST (204),
//! DELETE_SUBSCRIPTIONGROUP (207), GET_CONSUME_STATS (208), DELETE_TOPIC_IN_BROKER
//! (215), QUERY_TOPIC_CONSUME_BY_WHO (300), GET_SYSTEM_TOPIC_LIST_FROM_BROKER (305),
//! GET_TOPIC_CONFIG (351; Java's topicStatus/consumerProgress fail without it).

mod bodies;
mod broker;
mod group;
mod runtime;
mod topic;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_broker;

use std::future::Future;
use std::sync::Arc;

use parking_lot::Mutex;
use rmq_remoting::codec::header::HeaderError;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::transport::Channel;
use tracing::warn;

use crate::client::{ConsumerManager, ProducerManager};
use crate::config::BrokerSettings;
use crate::meta::{DataVersion, Meta, MetaError, TopicConfig};

pub use runtime::RuntimeStats;

/// Request codes [`handle`] answers.
pub const CODES: &[RequestCode] = &[
    RequestCode::UPDATE_AND_CREATE_TOPIC,
    RequestCode::GET_ALL_TOPIC_CONFIG,
    RequestCode::UPDATE_BROKER_CONFIG,
    RequestCode::GET_BROKER_CONFIG,
    RequestCode::GET_BROKER_RUNTIME_INFO,
    RequestCode::GET_ALL_CONSUMER_OFFSET,
    RequestCode::GET_ALL_DELAY_OFFSET,
    RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
    RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
    RequestCode::GET_TOPIC_STATS_INFO,
    RequestCode::GET_CONSUMER_CONNECTION_LIST,
    RequestCode::GET_PRODUCER_CONNECTION_LIST,
    RequestCode::DELETE_SUBSCRIPTIONGROUP,
    RequestCode::GET_CONSUME_STATS,
    RequestCode::DELETE_TOPIC_IN_BROKER,
    RequestCode::QUERY_TOPIC_CONSUME_BY_WHO,
    RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_BROKER,
    RequestCode::GET_TOPIC_CONFIG,
];

/// What the admin requests need from the broker core.
pub trait AdminContext: Send + Sync {
    /// Topics, groups, offsets, delay offsets.
    fn meta(&self) -> &Arc<Meta>;
    fn consumer_manager(&self) -> &ConsumerManager;
    fn producer_manager(&self) -> &ProducerManager;
    fn admin_state(&self) -> &AdminState;
    /// The settings now in force (a snapshot).
    fn settings(&self) -> BrokerSettings;
    /// UPDATE_BROKER_CONFIG accepted `changed_keys`: make `updated` the live settings.
    /// When `brokerPermission` is among them Java re-registers with every name server
    /// (the topic data version was already bumped here).
    fn apply_settings(&self, updated: BrokerSettings, changed_keys: &[String]);
    /// Topics created or changed by an admin request: register them with the name
    /// servers (`registerIncrementBrokerData`, or single-topic registration).
    fn on_topics_changed(&self, topics: Vec<TopicConfig>);
    /// Consume-queue bounds (`getMinOffsetInQueue` / `getMaxOffsetInQueue`); 0 for an unknown queue.
    fn min_offset(&self, topic: &str, queue: i32) -> i64;
    fn max_offset(&self, topic: &str, queue: i32) -> i64;
    /// `getMessageStoreTimeStamp(topic, queue, offset)`: store time of the message at a
    /// consume-queue offset; `None` when it cannot be read.
    fn store_time_at(&self, topic: &str, queue: i32, offset: i64) -> impl Future<Output = Option<i64>> + Send;
    /// `messageStore.deleteTopics`: drop the topics' consume queues (DELETE_TOPIC_IN_BROKER).
    fn delete_topic_data(&self, topics: &[String]) -> impl Future<Output = ()> + Send;
    /// Counters for GET_BROKER_RUNTIME_INFO; untracked values stay at their defaults.
    fn runtime_stats(&self) -> RuntimeStats;
    /// `tpsTopicPutNums`: messages per second put to `topic` (topicStatus' "Topic Put TPS").
    fn topic_put_tps(&self, _topic: &str) -> f64 {
        0.0
    }
    /// `tpsGroupGetNums`: messages per second `group` pulled from `topic`.
    fn group_get_tps(&self, _group: &str, _topic: &str) -> f64 {
        0.0
    }
}

/// State the admin requests keep across calls; the core owns one.
pub struct AdminState {
    /// `Configuration.dataVersion`: bumped by every UPDATE_BROKER_CONFIG, sent in
    /// GET_BROKER_CONFIG's `version` header.
    pub(crate) config_version: Mutex<DataVersion>,
    /// `TopicQueueMappingManager.dataVersion` (no static topics yet: never bumped).
    pub(crate) mapping_version: DataVersion,
    /// Java's `synchronized` on topic and config updates.
    pub(crate) update_lock: tokio::sync::Mutex<()>,
}

impl AdminState {
    pub fn new() -> AdminState {
        AdminState {
            config_version: Mutex::new(DataVersion::now()),
            mapping_version: DataVersion::now(),
            update_lock: tokio::sync::Mutex::new(()),
        }
    }
}

impl Default for AdminState {
    fn default() -> Self {
        AdminState::new()
    }
}

/// Why a request failed; becomes the response code and remark.
#[derive(Debug)]
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

pub(crate) fn fail<T>(code: ResponseCode, remark: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Code(code, remark.into()))
}

pub(crate) fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
}

pub(crate) fn ok_body(req: &RemotingCommand, body: impl Into<bytes::Bytes>) -> RemotingCommand {
    ok(req).with_body(body)
}

/// Answers one admin request.
pub async fn handle<C: AdminContext + ?Sized>(
    ctx: &C,
    channel: &Channel,
    req: &RemotingCommand,
) -> Option<RemotingCommand> {
    let outcome = match req.request_code() {
        RequestCode::UPDATE_AND_CREATE_TOPIC => topic::update_and_create(ctx, channel, req).await,
        RequestCode::DELETE_TOPIC_IN_BROKER => topic::delete(ctx, req).await,
        RequestCode::GET_ALL_TOPIC_CONFIG => topic::all_configs(ctx, req),
        RequestCode::GET_TOPIC_STATS_INFO => topic::stats(ctx, req).await,
        RequestCode::QUERY_TOPIC_CONSUME_BY_WHO => topic::consumed_by(ctx, req),
        RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_BROKER => topic::system_topics(ctx, req),
        RequestCode::GET_TOPIC_CONFIG => topic::config(ctx, req),
        RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => group::update_and_create(ctx, req).await,
        RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => group::all_configs(ctx, req),
        RequestCode::DELETE_SUBSCRIPTIONGROUP => group::delete(ctx, req).await,
        RequestCode::GET_CONSUMER_CONNECTION_LIST => group::consumer_connections(ctx, req),
        RequestCode::GET_PRODUCER_CONNECTION_LIST => group::producer_connections(ctx, req),
        RequestCode::GET_CONSUME_STATS => group::consume_stats(ctx, req).await,
        RequestCode::GET_ALL_CONSUMER_OFFSET => group::all_offsets(ctx, req),
        RequestCode::GET_ALL_DELAY_OFFSET => group::all_delay_offsets(ctx, req),
        RequestCode::GET_BROKER_RUNTIME_INFO => broker::runtime_info(ctx, req),
        RequestCode::GET_BROKER_CONFIG => broker::get_config(ctx, req),
        RequestCode::UPDATE_BROKER_CONFIG => broker::update_config(ctx, channel, req).await,
        _ => Ok(RemotingCommand::response_to(
            req,
            ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
            Some(format!(" request type {} not supported", req.code)),
        )),
    };
    Some(match outcome {
        Ok(r) => r,
        Err(Failure::Header(e)) => RemotingCommand::response_to(
            req,
            ResponseCode::SYSTEM_ERROR,
            Some(format!("org.apache.rocketmq.remoting.exception.RemotingCommandException: {e}")),
        ),
        Err(Failure::Code(code, remark)) => RemotingCommand::response_to(req, code, Some(remark)),
    })
}

/// Which metadata file to write after a change.
#[derive(Clone, Copy)]
pub(crate) enum Persist {
    Topics,
    Groups,
    Offsets,
}

/// Writes the chosen files on the blocking pool. Java logs a failed write and still
/// answers success (the table in memory changed); so do we.
pub(crate) async fn persist(meta: &Arc<Meta>, what: &[Persist]) {
    let meta = meta.clone();
    let what = what.to_vec();
    let result = tokio::task::spawn_blocking(move || -> Result<(), MetaError> {
        for w in what {
            match w {
                Persist::Topics => meta.topics.persist()?,
                Persist::Groups => meta.groups.persist()?,
                Persist::Offsets => meta.offsets.persist()?,
            }
        }
        Ok(())
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "persisting broker metadata failed"),
        Err(e) => warn!(error = %e, "persist task failed"),
    }
}

/// `RemotingHelper.parseChannelRemoteAddr`: `ip:port`, IPv6 in Java's long form.
pub(crate) fn java_addr(addr: std::net::SocketAddr) -> String {
    match addr {
        std::net::SocketAddr::V4(a) => a.to_string(),
        std::net::SocketAddr::V6(a) => {
            let segs: Vec<String> = a.ip().segments().iter().map(|s| format!("{s:x}")).collect();
            format!("{}:{}", segs.join(":"), a.port())
        }
    }
}
