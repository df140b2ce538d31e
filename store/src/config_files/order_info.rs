//! `consumerOrderInfo.json` (5.x): `ConsumerOrderInfoManager`, the state of
//! orderly POP consumption per `topic@group` and queue.

use indexmap::IndexMap;
use rmq_common::fastjson::{Key, Object, Value};
use serde::Deserialize;

use super::bean::{finish_bean, int_map, str_map, tidy_extra};
use super::{ConfigFile, JavaFlavor};

/// `{"table":{"<topic>@<group>":{<queueId>:{OrderInfo}}}}`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ConsumerOrderInfoFile {
    pub table: IndexMap<String, IndexMap<i32, OrderInfo>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// `ConsumerOrderInfoManager.OrderInfo`; Java names the fields with one- or
/// two-letter `@JSONField` names to keep the file small.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct OrderInfo {
    #[serde(rename = "popTime")]
    pub pop_time: i64,
    #[serde(rename = "i")]
    pub invisible_time: Option<i64>,
    /// `o`: first element is a queue offset, the others are distances from it.
    #[serde(rename = "o")]
    pub offset_list: Option<Vec<i64>>,
    /// `ot`: queue offset → next visible time.
    #[serde(rename = "ot")]
    pub offset_next_visible_time: Option<IndexMap<i64, i64>>,
    /// `oc`: queue offset → times consumed.
    #[serde(rename = "oc")]
    pub offset_consumed_count: Option<IndexMap<i64, i32>>,
    #[serde(rename = "l")]
    pub last_consume_timestamp: i64,
    /// `cm`: bit i set = `offset_list[i]` acknowledged.
    #[serde(rename = "cm")]
    pub commit_offset_bit: i64,
    #[serde(rename = "a")]
    pub attempt_id: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

impl OrderInfo {
    fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.push("a", self.attempt_id.clone());
        o.push("cm", self.commit_offset_bit);
        o.push("i", self.invisible_time);
        o.push("l", self.last_consume_timestamp);
        if let Some(list) = &self.offset_list {
            o.push("o", Value::Array(list.iter().map(|v| Value::from(*v)).collect()));
        }
        if let Some(m) = &self.offset_consumed_count {
            o.push("oc", int_map(m));
        }
        if let Some(m) = &self.offset_next_visible_time {
            o.push("ot", int_map(m));
        }
        o.push("popTime", self.pop_time);
        finish_bean(o, &self.extra)
    }
}

impl ConfigFile for ConsumerOrderInfoFile {
    const FILE_NAME: &'static str = "consumerOrderInfo.json";
    // `o` is a `List<Long>`: one element per line in the pretty form.
    const EXPAND_LISTS: bool = true;

    fn after_read(&mut self) {
        tidy_extra(&mut self.extra);
        for queues in self.table.values_mut() {
            for info in queues.values_mut() {
                tidy_extra(&mut info.extra);
            }
        }
    }

    fn to_json_value(&self, _flavor: JavaFlavor) -> Value {
        let mut o = Object::new();
        o.push(
            "table",
            str_map(&self.table, |queues| {
                Value::Object(queues.iter().map(|(q, info)| (Key::from(*q), info.to_value())).collect())
            }),
        );
        finish_bean(o, &self.extra)
    }
}
