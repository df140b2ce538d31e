//! `consumerFilter.json`: `ConsumerFilterManager` (SQL92/bloom filter data of
//! consumers that subscribe with an expression). Same shape in 4.9.8 and 5.3.3.

use indexmap::IndexMap;
use rmq_common::fastjson::{Object, Value};
use serde::Deserialize;

use super::bean::{finish_bean, str_map, tidy_extra};
use super::{ConfigFile, JavaFlavor};

/// `{"filterDataByTopic":{"<topic>":{"groupFilterData":{..},"topic":"<topic>"}}}`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerFilterFile {
    pub filter_data_by_topic: IndexMap<String, FilterDataMapByTopic>,
    #[serde(flatten)]
    pub extra: Object,
}

/// `ConsumerFilterManager.FilterDataMapByTopic`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FilterDataMapByTopic {
    pub group_filter_data: IndexMap<String, ConsumerFilterData>,
    pub topic: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

/// `broker/.../filter/ConsumerFilterData` (Java strings may be null, hence the options).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerFilterData {
    pub consumer_group: Option<String>,
    pub topic: Option<String>,
    pub expression: Option<String>,
    /// `SQL92` (tag filters are never stored here).
    pub expression_type: Option<String>,
    pub born_time: i64,
    pub dead_time: i64,
    pub bloom_filter_data: Option<BloomFilterData>,
    pub client_version: i64,
    #[serde(flatten)]
    pub extra: Object,
}

/// `filter/.../BloomFilterData`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BloomFilterData {
    pub bit_pos: Option<Vec<i32>>,
    pub bit_num: i32,
    #[serde(flatten)]
    pub extra: Object,
}

impl ConsumerFilterData {
    /// Java's `isDead()` getter, written as `dead`.
    pub fn is_dead(&self) -> bool {
        self.dead_time >= self.born_time
    }

    fn to_value(&self) -> Value {
        let mut o = Object::new();
        if let Some(b) = &self.bloom_filter_data {
            let mut bo = Object::new();
            bo.push("bitNum", b.bit_num);
            if let Some(pos) = &b.bit_pos {
                bo.push("bitPos", Value::Array(pos.iter().map(|p| Value::from(*p)).collect()));
            }
            o.push("bloomFilterData", finish_bean(bo, &b.extra));
        }
        o.push("bornTime", self.born_time);
        o.push("clientVersion", self.client_version);
        o.push("consumerGroup", self.consumer_group.clone());
        o.push("dead", self.is_dead());
        o.push("deadTime", self.dead_time);
        o.push("expression", self.expression.clone());
        o.push("expressionType", self.expression_type.clone());
        o.push("topic", self.topic.clone());
        finish_bean(o, &self.extra)
    }
}

impl ConfigFile for ConsumerFilterFile {
    const FILE_NAME: &'static str = "consumerFilter.json";

    fn after_read(&mut self) {
        tidy_extra(&mut self.extra);
        for t in self.filter_data_by_topic.values_mut() {
            tidy_extra(&mut t.extra);
            for g in t.group_filter_data.values_mut() {
                // `dead` is the computed `isDead()`; Java has no setter for it.
                g.extra.remove("dead");
                tidy_extra(&mut g.extra);
                if let Some(b) = &mut g.bloom_filter_data {
                    tidy_extra(&mut b.extra);
                }
            }
        }
    }

    fn to_json_value(&self, _flavor: JavaFlavor) -> Value {
        let mut o = Object::new();
        o.push(
            "filterDataByTopic",
            str_map(&self.filter_data_by_topic, |t| {
                let mut to = Object::new();
                to.push("groupFilterData", str_map(&t.group_filter_data, ConsumerFilterData::to_value));
                to.push("topic", t.topic.clone());
                finish_bean(to, &t.extra)
            }),
        );
        finish_bean(o, &self.extra)
    }
}
