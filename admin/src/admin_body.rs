//! Broker answers mqadmin decodes: `TopicStatsTable`, `ConsumeStats`,
//! `ConsumerConnection` (fastjson JSON; maps keyed by `MessageQueue` objects).

use std::cmp::Ordering;

use indexmap::IndexMap;
use rmq_common::fastjson::{self, Key, Object, Value};

use crate::error::AdminError;

/// `MessageQueue`, ordered like its `compareTo` (topic, broker name, queue id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mq {
    pub topic: String,
    pub broker_name: String,
    pub queue_id: i32,
}

fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

impl Ord for Mq {
    fn cmp(&self, o: &Self) -> Ordering {
        utf16_cmp(&self.topic, &o.topic)
            .then_with(|| utf16_cmp(&self.broker_name, &o.broker_name))
            .then_with(|| self.queue_id.cmp(&o.queue_id))
    }
}

impl PartialOrd for Mq {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

fn json_err(what: &str) -> AdminError {
    AdminError::Json(format!("can not decode {what}"))
}

fn parse(bytes: Option<&[u8]>) -> Result<Value, AdminError> {
    // Java: decode(null) -> NullPointerException inside fastjson's String constructor.
    let bytes = bytes.ok_or(AdminError::NullPointer)?;
    fastjson::parse_bytes(bytes).map_err(|e| AdminError::Json(e.to_string()))
}

fn int(o: &Object, k: &str) -> i64 {
    o.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn text(o: &Object, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_string)
}

fn mq_of(k: &Key) -> Option<Mq> {
    let Key::Obj(o) = k else { return None };
    Some(Mq {
        topic: text(o, "topic").unwrap_or_default(),
        broker_name: text(o, "brokerName").unwrap_or_default(),
        queue_id: int(o, "queueId") as i32,
    })
}

/// Entries of a `Map<MessageQueue, V>` member.
fn mq_entries(v: &Value, member: &str, what: &str) -> Result<Vec<(Mq, Object)>, AdminError> {
    let Some(table) = v.get(member) else { return Ok(Vec::new()) };
    let table = table.as_object().ok_or_else(|| json_err(what))?;
    let mut out = Vec::new();
    for (k, val) in table.iter() {
        let mq = mq_of(k).ok_or_else(|| json_err(what))?;
        out.push((mq, val.as_object().cloned().unwrap_or_default()));
    }
    Ok(out)
}

/// `TopicOffset`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicOffset {
    pub min_offset: i64,
    pub max_offset: i64,
    pub last_update_timestamp: i64,
}

/// `TopicStatsTable`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicStats {
    pub offsets: IndexMap<Mq, TopicOffset>,
    pub put_tps: f64,
}

pub fn decode_topic_stats(bytes: Option<&[u8]>) -> Result<TopicStats, AdminError> {
    let v = parse(bytes)?;
    let mut s =
        TopicStats { put_tps: v.get("topicPutTps").and_then(Value::as_f64).unwrap_or(0.0), ..Default::default() };
    for (mq, o) in mq_entries(&v, "offsetTable", "TopicStatsTable")? {
        let t = TopicOffset {
            min_offset: int(&o, "minOffset"),
            max_offset: int(&o, "maxOffset"),
            last_update_timestamp: int(&o, "lastUpdateTimestamp"),
        };
        s.offsets.insert(mq, t);
    }
    Ok(s)
}

/// `OffsetWrapper`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OffsetWrapper {
    pub broker_offset: i64,
    pub consumer_offset: i64,
    pub pull_offset: i64,
    pub last_timestamp: i64,
}

/// `ConsumeStats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumeStats {
    pub offsets: IndexMap<Mq, OffsetWrapper>,
    pub consume_tps: f64,
}

impl ConsumeStats {
    /// `computeTotalDiff`.
    pub fn total_diff(&self) -> i64 {
        self.offsets.values().fold(0i64, |a, w| a.wrapping_add(w.broker_offset.wrapping_sub(w.consumer_offset)))
    }
}

pub fn decode_consume_stats(bytes: Option<&[u8]>) -> Result<ConsumeStats, AdminError> {
    let v = parse(bytes)?;
    let mut s =
        ConsumeStats { consume_tps: v.get("consumeTps").and_then(Value::as_f64).unwrap_or(0.0), ..Default::default() };
    for (mq, o) in mq_entries(&v, "offsetTable", "ConsumeStats")? {
        let w = OffsetWrapper {
            broker_offset: int(&o, "brokerOffset"),
            consumer_offset: int(&o, "consumerOffset"),
            pull_offset: int(&o, "pullOffset"),
            last_timestamp: int(&o, "lastTimestamp"),
        };
        s.offsets.insert(mq, w);
    }
    Ok(s)
}

/// `Connection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub client_id: String,
    pub client_addr: String,
    pub language: String,
    pub version: i32,
}

/// `ConsumerConnection` (subscriptions as topic → tags set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerConnection {
    pub connections: Vec<Connection>,
    pub consume_type: Option<String>,
    pub message_model: Option<String>,
    pub subscriptions: Vec<(String, Vec<String>)>,
}

impl ConsumerConnection {
    /// `computeMinVersion`.
    pub fn min_version(&self) -> i32 {
        self.connections.iter().map(|c| c.version).min().unwrap_or(i32::MAX)
    }
}

pub fn decode_consumer_connection(bytes: Option<&[u8]>) -> Result<ConsumerConnection, AdminError> {
    let v = parse(bytes)?;
    let o = v.as_object().ok_or_else(|| json_err("ConsumerConnection"))?;
    let mut c = ConsumerConnection {
        consume_type: text(o, "consumeType"),
        message_model: text(o, "messageModel"),
        ..Default::default()
    };
    for conn in o.get("connectionSet").and_then(Value::as_array).into_iter().flatten() {
        let Some(co) = conn.as_object() else { continue };
        c.connections.push(Connection {
            client_id: text(co, "clientId").unwrap_or_default(),
            client_addr: text(co, "clientAddr").unwrap_or_default(),
            language: text(co, "language").unwrap_or_default(),
            version: int(co, "version") as i32,
        });
    }
    if let Some(subs) = o.get("subscriptionTable").and_then(Value::as_object) {
        for (k, sd) in subs.iter() {
            let tags = sd
                .get("tagsSet")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            c.subscriptions.push((k.as_str().unwrap_or_default().to_string(), tags));
        }
    }
    Ok(c)
}

/// The `MessageQueue` keys of a `ConsumerRunningInfo.mqTable`.
pub fn decode_running_info_queues(bytes: Option<&[u8]>) -> Result<Vec<Mq>, AdminError> {
    let v = parse(bytes)?;
    Ok(mq_entries(&v, "mqTable", "ConsumerRunningInfo")?.into_iter().map(|(mq, _)| mq).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_object_keyed_maps() {
        let body = br#"{"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":5,"maxOffset":10,"minOffset":3}},"topicPutTps":1.5}"#;
        let s = decode_topic_stats(Some(body)).unwrap();
        let mq = Mq { topic: "T".into(), broker_name: "b".into(), queue_id: 1 };
        assert_eq!(s.offsets[&mq], TopicOffset { min_offset: 3, max_offset: 10, last_update_timestamp: 5 });
        assert_eq!(s.put_tps, 1.5);
        let body = br#"{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":10,"consumerOffset":7,"lastTimestamp":0,"pullOffset":9}}}"#;
        let c = decode_consume_stats(Some(body)).unwrap();
        assert_eq!(c.total_diff(), 3);
        assert!(decode_topic_stats(None).is_err());
        let mut v = [
            Mq { topic: "B".into(), broker_name: "a".into(), queue_id: 0 },
            Mq { topic: "A".into(), broker_name: "b".into(), queue_id: 2 },
            Mq { topic: "A".into(), broker_name: "b".into(), queue_id: 1 },
        ];
        v.sort();
        assert_eq!(v[0].queue_id, 1);
        assert_eq!(v[2].topic, "B");
    }
}
