//! Connections to brokers and the client-side control requests (heartbeat, offsets).

use std::time::Duration;

use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::protocol::body;
use rmq_remoting::protocol::heartbeat::{ConsumerData, HeartbeatData, ProducerData, SubscriptionData};
use rmq_remoting::protocol::offset::{
    GetMaxOffsetRequestHeader, OffsetResponseHeader, QueryConsumerOffsetRequestHeader, TopicQueueRequestHeader,
};
use rmq_remoting::transport::{Channel, Client, ClientConfig};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode, SerializeType};

use crate::error::{BenchError, Result};
use crate::route::Route;
use crate::util::check_loopback;

/// A client for benchmark traffic: no idle timeout (runs are bounded anyway).
pub fn bench_client(serialize: SerializeType) -> Client {
    Client::new(ClientConfig { serialize, idle_timeout: None, ..ClientConfig::default() })
}

/// `connections` fresh TCP connections to every broker of `route`: `[broker][i]`.
pub async fn connect_all(client: &Client, route: &Route, connections: usize) -> Result<Vec<Vec<Channel>>> {
    let mut all = Vec::with_capacity(route.brokers.len());
    for b in &route.brokers {
        check_loopback(&b.addr)?;
        let mut chans = Vec::with_capacity(connections);
        for _ in 0..connections.max(1) {
            chans.push(client.connect(&b.addr).await?);
        }
        all.push(chans);
    }
    Ok(all)
}

pub fn close_all(channels: &[Vec<Channel>]) {
    channels.iter().flatten().for_each(Channel::close);
}

/// `ip@pid#bench`, the shape of a Java client id.
pub fn client_id() -> String {
    format!("127.0.0.1@{}#rmq-bench", std::process::id())
}

/// HEART_BEAT (34) announcing a producer group and/or a consumer subscription (`*`).
pub async fn heartbeat(
    ch: &Channel,
    producer_group: Option<&str>,
    consumer: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<()> {
    let mut data = HeartbeatData { client_id: client_id(), ..Default::default() };
    if let Some(g) = producer_group {
        data.producer_data_set.push(ProducerData { group_name: g.to_string() });
    }
    if let Some((group, topic)) = consumer {
        data.consumer_data_set.push(ConsumerData {
            consume_from_where: "CONSUME_FROM_LAST_OFFSET".into(),
            consume_type: "CONSUME_PASSIVELY".into(),
            group_name: group.to_string(),
            message_model: "CLUSTERING".into(),
            subscription_data_set: vec![SubscriptionData {
                sub_string: "*".into(),
                sub_version: crate::util::unix_micros() / 1000,
                expression_type: Some("TAG".into()),
                topic: topic.to_string(),
                ..Default::default()
            }],
            unit_mode: false,
        });
    }
    let cmd = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body::encode(&data));
    let resp = ch.invoke(cmd, timeout).await?;
    if resp.response_code() != ResponseCode::SUCCESS {
        return Err(BenchError::response(format!("heartbeat to {}", ch.peer_addr()), &resp));
    }
    Ok(())
}

async fn offset_call(ch: &Channel, cmd: RemotingCommand, what: String, timeout: Duration) -> Result<Option<i64>> {
    let resp = ch.invoke(cmd, timeout).await?;
    match resp.response_code() {
        ResponseCode::SUCCESS => Ok(Some(OffsetResponseHeader::from_command(&resp)?.offset)),
        ResponseCode::QUERY_NOT_FOUND => Ok(None),
        _ => Err(BenchError::response(what, &resp)),
    }
}

/// GET_MAX_OFFSET (30) or GET_MIN_OFFSET (31) of one queue.
pub async fn queue_offset(ch: &Channel, topic: &str, queue_id: i32, max: bool, timeout: Duration) -> Result<i64> {
    let mut cmd;
    if max {
        cmd = RemotingCommand::request(RequestCode::GET_MAX_OFFSET);
        GetMaxOffsetRequestHeader { topic: topic.to_string(), queue_id, committed: Some(true) }.apply_to(&mut cmd);
    } else {
        cmd = RemotingCommand::request(RequestCode::GET_MIN_OFFSET);
        TopicQueueRequestHeader { topic: topic.to_string(), queue_id }.apply_to(&mut cmd);
    }
    let what = format!("{} offset of {topic}:{queue_id}", if max { "max" } else { "min" });
    offset_call(ch, cmd, what.clone(), timeout).await?.ok_or_else(|| BenchError::Config(format!("no {what}")))
}

/// QUERY_CONSUMER_OFFSET (14); `None` if the group has no committed offset.
pub async fn committed_offset(
    ch: &Channel,
    group: &str,
    topic: &str,
    queue_id: i32,
    timeout: Duration,
) -> Result<Option<i64>> {
    let mut cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET);
    QueryConsumerOffsetRequestHeader {
        consumer_group: group.to_string(),
        topic: topic.to_string(),
        queue_id,
        set_zero_if_not_found: Some(false),
    }
    .apply_to(&mut cmd);
    let off = offset_call(ch, cmd, format!("committed offset of {group} on {topic}:{queue_id}"), timeout).await?;
    Ok(off.filter(|o| *o >= 0))
}
