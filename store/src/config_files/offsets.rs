//! `consumerOffset.json` (`ConsumerOffsetManager`; also the shape of 5.x
//! `lmqConsumerOffset.json`) and `delayOffset.json` (`ScheduleMessageService` →
//! `DelayOffsetSerializeWrapper`).

use indexmap::IndexMap;
use rmq_common::fastjson::{Key, Object, Value};
use rmq_common::java::{hashmap_order, sized_hashmap_capacity};
use serde::Deserialize;

use super::bean::{finish_bean, int_map, str_map, tidy_extra, DataVersion};
use super::{ConfigFile, JavaFlavor};

/// `ConsumerOffsetManager.TOPIC_GROUP_SEPARATOR`.
pub const TOPIC_GROUP_SEPARATOR: char = '@';

/// `{"dataVersion":..,"groupTopicMap":..,"offsetTable":{"<topic>@<group>":{<queueId>:<offset>}}}`;
/// 4.9.8 writes only `offsetTable`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerOffsetFile {
    /// 5.x only.
    pub data_version: Option<DataVersion>,
    /// `topic@group` → queue id → next offset to consume.
    pub offset_table: IndexMap<String, IndexMap<i32, i64>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Java `String.split("@")`: trailing empty strings are removed.
fn java_split(s: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(TOPIC_GROUP_SEPARATOR).collect();
    if s.is_empty() {
        return parts;
    }
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

impl ConsumerOffsetFile {
    /// Offset of `topic`/`group`/`queue_id`, like `queryOffset` (None for Java's -1).
    pub fn offset(&self, topic: &str, group: &str, queue_id: i32) -> Option<i64> {
        self.offset_table.get(&format!("{topic}{TOPIC_GROUP_SEPARATOR}{group}"))?.get(&queue_id).copied()
    }

    /// Sets an offset like `commitOffset` (a new key goes to the end of the table).
    pub fn commit_offset(&mut self, topic: &str, group: &str, queue_id: i32, offset: i64) {
        let key = format!("{topic}{TOPIC_GROUP_SEPARATOR}{group}");
        self.offset_table.entry(key).or_default().insert(queue_id, offset);
    }

    /// The computed `getGroupTopicMap()` 5.x writes: group → topics, in the order of
    /// Java's `HashMap(128)` of `HashSet(8)`s filled from `offsetTable`.
    pub fn group_topic_map(&self) -> IndexMap<String, Vec<String>> {
        let mut groups: IndexMap<&str, Vec<&str>> = IndexMap::new();
        for key in self.offset_table.keys() {
            if let [topic, group] = java_split(key)[..] {
                let topics = groups.entry(group).or_default();
                if !topics.contains(&topic) {
                    topics.push(topic);
                }
            }
        }
        let names: Vec<&str> = groups.keys().copied().collect();
        let cap = sized_hashmap_capacity(128, names.len());
        hashmap_order(names.iter().copied(), cap)
            .into_iter()
            .map(|g| {
                let topics = &groups[g];
                let tcap = sized_hashmap_capacity(8, topics.len());
                let ordered = hashmap_order(topics.iter().copied(), tcap).into_iter().map(str::to_string).collect();
                (g.to_string(), ordered)
            })
            .collect()
    }
}

impl ConfigFile for ConsumerOffsetFile {
    const FILE_NAME: &'static str = "consumerOffset.json";

    fn after_read(&mut self) {
        // A computed getter: Java ignores it when reading.
        self.extra.remove("groupTopicMap");
        tidy_extra(&mut self.extra);
        if let Some(d) = &mut self.data_version {
            d.tidy();
        }
    }

    fn to_json_value(&self, flavor: JavaFlavor) -> Value {
        let mut o = Object::new();
        if let Some(d) = &self.data_version {
            o.push("dataVersion", d.to_value(flavor));
        }
        if flavor == JavaFlavor::V5_3_3 {
            let map: Object = self
                .group_topic_map()
                .into_iter()
                .map(|(g, ts)| (Key::Str(g), Value::Array(ts.into_iter().map(Value::String).collect())))
                .collect();
            o.push("groupTopicMap", Value::Object(map));
        }
        o.push("offsetTable", str_map(&self.offset_table, int_map));
        finish_bean(o, &self.extra)
    }
}

/// `{"dataVersion":..,"offsetTable":{<delayLevel>:<next CQ offset>}}`; 4.9.8 writes
/// only `offsetTable`. Keys are delay levels (`SCHEDULE_TOPIC_XXXX` queue id + 1).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DelayOffsetFile {
    /// 5.x only.
    pub data_version: Option<DataVersion>,
    pub offset_table: IndexMap<i32, i64>,
    #[serde(flatten)]
    pub extra: Object,
}

impl ConfigFile for DelayOffsetFile {
    const FILE_NAME: &'static str = "delayOffset.json";

    fn after_read(&mut self) {
        tidy_extra(&mut self.extra);
        if let Some(d) = &mut self.data_version {
            d.tidy();
        }
    }

    fn to_json_value(&self, flavor: JavaFlavor) -> Value {
        let mut o = Object::new();
        if let Some(d) = &self.data_version {
            o.push("dataVersion", d.to_value(flavor));
        }
        o.push("offsetTable", int_map(&self.offset_table));
        finish_bean(o, &self.extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_java() {
        assert_eq!(java_split("t@g"), ["t", "g"]);
        assert_eq!(java_split("t@g@"), ["t", "g"]);
        assert_eq!(java_split("@g"), ["", "g"]);
        assert!(java_split("@").is_empty());
        assert_eq!(java_split(""), [""]);
        assert_eq!(java_split("a@b@c").len(), 3);
    }

    #[test]
    fn group_topic_map_skips_bad_keys_and_dedups() {
        let mut f = ConsumerOffsetFile::default();
        f.commit_offset("A", "g1", 0, 1);
        f.commit_offset("B", "g1", 0, 1);
        f.offset_table.insert("no-separator".into(), IndexMap::new());
        f.offset_table.insert("x@y@z".into(), IndexMap::new());
        let m = f.group_topic_map();
        assert_eq!(m.len(), 1);
        let mut topics = m["g1"].clone();
        topics.sort();
        assert_eq!(topics, ["A", "B"]);
        assert_eq!(f.offset("A", "g1", 0), Some(1));
        assert_eq!(f.offset("A", "g1", 1), None);
    }
}
