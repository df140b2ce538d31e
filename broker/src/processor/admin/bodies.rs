//! Response bodies in fastjson's shapes (`TopicStatsTable`, `ConsumeStats`,
//! `ConsumerConnection`, `ProducerConnection`, `GroupList`, `TopicList`, `KVTable`).
//! Maps keyed by `MessageQueue` are written with object keys, as fastjson does,
//! in the order Java's hash tables iterate them.

use indexmap::IndexMap;
use rmq_common::fastjson::{self, EmitOptions, Key, Object, Value};
use rmq_common::java;

/// `MessageQueue` (topic, brokerName, queueId).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mq {
    pub topic: String,
    pub broker_name: String,
    pub queue_id: i32,
}

impl Mq {
    /// `MessageQueue.hashCode()`.
    fn java_hash(&self) -> i32 {
        let mut h: i32 = 1;
        h = h.wrapping_mul(31).wrapping_add(java::string_hash_code(&self.broker_name));
        h = h.wrapping_mul(31).wrapping_add(self.queue_id);
        h.wrapping_mul(31).wrapping_add(java::string_hash_code(&self.topic))
    }

    fn key(&self) -> Key {
        let mut o = Object::new();
        o.push("brokerName", self.broker_name.as_str());
        o.push("queueId", self.queue_id);
        o.push("topic", self.topic.as_str());
        Key::Obj(o)
    }
}

/// Orders entries like a hash table (default initial capacity, grown for its size)
/// iterates keys with the given hash codes: by bucket, then insertion order.
fn hash_order<T>(items: Vec<(i32, T)>) -> Vec<T> {
    let cap = java::hashmap_capacity(items.len()) as u32;
    let mut v: Vec<(u32, usize, T)> = items
        .into_iter()
        .enumerate()
        .map(|(i, (h, t))| {
            let h = h as u32;
            ((h ^ (h >> 16)) & (cap - 1), i, t)
        })
        .collect();
    v.sort_by_key(|(b, i, _)| (*b, *i));
    v.into_iter().map(|(_, _, t)| t).collect()
}

fn mq_map(entries: Vec<(Mq, Value)>) -> Value {
    let hashed = entries.into_iter().map(|(mq, v)| (mq.java_hash(), (mq, v))).collect();
    Value::Object(hash_order(hashed).into_iter().map(|(mq, v)| (mq.key(), v)).collect())
}

fn double(v: f64) -> Value {
    Value::Number(fastjson::java_double_to_string(v))
}

/// `TopicOffset`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicOffset {
    pub min_offset: i64,
    pub max_offset: i64,
    pub last_update_timestamp: i64,
}

/// `TopicStatsTable`.
pub fn topic_stats_table(offsets: Vec<(Mq, TopicOffset)>, put_tps: f64) -> Vec<u8> {
    let entries = offsets
        .into_iter()
        .map(|(mq, t)| {
            let mut o = Object::new();
            o.push("lastUpdateTimestamp", t.last_update_timestamp);
            o.push("maxOffset", t.max_offset);
            o.push("minOffset", t.min_offset);
            (mq, Value::Object(o))
        })
        .collect();
    let mut o = Object::new();
    o.push("offsetTable", mq_map(entries));
    o.push("topicPutTps", double(put_tps));
    encode(Value::Object(o))
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
pub fn consume_stats(offsets: Vec<(Mq, OffsetWrapper)>, consume_tps: f64) -> Vec<u8> {
    let entries = offsets
        .into_iter()
        .map(|(mq, w)| {
            let mut o = Object::new();
            o.push("brokerOffset", w.broker_offset);
            o.push("consumerOffset", w.consumer_offset);
            o.push("lastTimestamp", w.last_timestamp);
            o.push("pullOffset", w.pull_offset);
            (mq, Value::Object(o))
        })
        .collect();
    let mut o = Object::new();
    o.push("consumeTps", double(consume_tps));
    o.push("offsetTable", mq_map(entries));
    encode(Value::Object(o))
}

/// `Connection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub client_id: String,
    pub client_addr: String,
    pub language: String,
    pub version: i32,
}

fn connection_set(conns: &[Connection]) -> Value {
    Value::Array(
        conns
            .iter()
            .map(|c| {
                let mut o = Object::new();
                o.push("clientAddr", c.client_addr.as_str());
                o.push("clientId", c.client_id.as_str());
                o.push("language", c.language.as_str());
                o.push("version", c.version);
                Value::Object(o)
            })
            .collect(),
    )
}

/// `ConsumerConnection`; `subscriptions` are `SubscriptionData` JSON values by topic.
pub fn consumer_connection(
    conns: &[Connection],
    consume_from_where: &str,
    consume_type: &str,
    message_model: &str,
    subscriptions: Vec<(String, Value)>,
) -> Vec<u8> {
    let mut o = Object::new();
    o.push("connectionSet", connection_set(conns));
    o.push("consumeFromWhere", consume_from_where);
    o.push("consumeType", consume_type);
    o.push("messageModel", message_model);
    // A ConcurrentHashMap<String, SubscriptionData> (default capacity).
    let names: Vec<String> = subscriptions.iter().map(|(t, _)| t.clone()).collect();
    let by_name: IndexMap<String, Value> = subscriptions.into_iter().collect();
    let subs: Object =
        java::hashmap_order_owned(&names).into_iter().map(|t| (Key::Str(t.clone()), by_name[&t].clone())).collect();
    o.push("subscriptionTable", Value::Object(subs));
    encode(Value::Object(o))
}

/// `ProducerConnection`.
pub fn producer_connection(conns: &[Connection]) -> Vec<u8> {
    let mut o = Object::new();
    o.push("connectionSet", connection_set(conns));
    encode(Value::Object(o))
}

/// A bean with one `Set<String>` property, in `HashSet` order (`GroupList`, `TopicList`).
pub fn string_set(property: &str, items: &[String]) -> Vec<u8> {
    let ordered = java::hashmap_order_owned(items);
    let mut o = Object::new();
    o.push(property, Value::Array(ordered.into_iter().map(Value::String).collect()));
    encode(Value::Object(o))
}

/// `KVTable` over a `HashMap` of the given initial capacity filled in `table`'s order.
pub fn kv_table(table: &IndexMap<String, String>, initial_capacity: usize) -> Vec<u8> {
    let cap = java::sized_hashmap_capacity(initial_capacity, table.len());
    let ordered: Object = java::hashmap_order(table.keys(), cap)
        .into_iter()
        .map(|k| (Key::Str(k.clone()), Value::from(table[k].as_str())))
        .collect();
    let mut o = Object::new();
    o.push("table", Value::Object(ordered));
    encode(Value::Object(o))
}

pub fn encode(v: Value) -> Vec<u8> {
    fastjson::to_string(&v, &EmitOptions::COMPACT).into_bytes()
}
