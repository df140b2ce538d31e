//! `topics.json`: `TopicConfigManager` → `TopicConfigSerializeWrapper`.

use indexmap::IndexMap;
use rmq_common::fastjson::{Object, Value};
use serde::Deserialize;

use super::bean::{finish_bean, str_map, string_map, tidy_extra, DataVersion};
use super::{ConfigFile, JavaFlavor};

/// `{"dataVersion":{..},"topicConfigTable":{"<topic>":{TopicConfig}}}`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicsFile {
    pub data_version: Option<DataVersion>,
    /// In the order Java's `ConcurrentHashMap` iterated it when writing.
    pub topic_config_table: IndexMap<String, TopicConfig>,
    #[serde(flatten)]
    pub extra: Object,
}

/// `common/.../TopicConfig` (5.x adds `attributes`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    pub topic_name: String,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    /// `PermName` bits: 4 read, 2 write, 1 inherit.
    pub perm: i32,
    /// `SINGLE_TAG` or `MULTI_TAG` (kept as text so an unexpected value survives).
    pub topic_filter_type: String,
    pub topic_sys_flag: i32,
    pub order: bool,
    /// 5.x topic attributes (`+message.type=NORMAL` style keys); empty in 4.9.8.
    pub attributes: IndexMap<String, String>,
    #[serde(flatten)]
    pub extra: Object,
}

impl Default for TopicConfig {
    /// Java's `new TopicConfig()`.
    fn default() -> Self {
        TopicConfig {
            topic_name: String::new(),
            read_queue_nums: 16,
            write_queue_nums: 16,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: 0,
            order: false,
            attributes: IndexMap::new(),
            extra: Object::new(),
        }
    }
}

impl TopicConfig {
    /// A topic as `TopicConfig(name, read, write, perm)` creates it.
    pub fn new(topic_name: &str, read_queue_nums: i32, write_queue_nums: i32, perm: i32) -> Self {
        TopicConfig { topic_name: topic_name.into(), read_queue_nums, write_queue_nums, perm, ..Default::default() }
    }

    pub(crate) fn to_value(&self, flavor: JavaFlavor) -> Value {
        let mut o = Object::new();
        if flavor == JavaFlavor::V5_3_3 || !self.attributes.is_empty() {
            o.push("attributes", string_map(&self.attributes));
        }
        o.push("order", self.order);
        o.push("perm", self.perm);
        o.push("readQueueNums", self.read_queue_nums);
        o.push("topicFilterType", self.topic_filter_type.as_str());
        o.push("topicName", self.topic_name.as_str());
        o.push("topicSysFlag", self.topic_sys_flag);
        o.push("writeQueueNums", self.write_queue_nums);
        finish_bean(o, &self.extra)
    }
}

impl ConfigFile for TopicsFile {
    const FILE_NAME: &'static str = "topics.json";

    fn after_read(&mut self) {
        tidy_extra(&mut self.extra);
        if let Some(d) = &mut self.data_version {
            d.tidy();
        }
        for t in self.topic_config_table.values_mut() {
            tidy_extra(&mut t.extra);
        }
    }

    fn to_json_value(&self, flavor: JavaFlavor) -> Value {
        let mut o = Object::new();
        if let Some(d) = &self.data_version {
            o.push("dataVersion", d.to_value(flavor));
        }
        o.push("topicConfigTable", str_map(&self.topic_config_table, |t| t.to_value(flavor)));
        finish_bean(o, &self.extra)
    }
}
