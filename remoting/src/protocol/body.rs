//! JSON bodies in fastjson's shapes (`remoting/protocol/{body,route}/*`, `common/TopicConfig`).
//!
//! Field names follow Java getters; emission goes through `rmq_common::fastjson`, which
//! sorts bean keys, omits nulls and writes integer map keys unquoted like fastjson does.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use rmq_common::fastjson::{self, EmitOptions};

/// Body (de)serialization failure, naming what was being read.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode {what} body: {reason}")]
pub struct BodyError {
    pub what: &'static str,
    pub reason: String,
}

/// Parses a fastjson body (tolerates unquoted integer keys and other fastjson output).
pub fn decode<T: serde::de::DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, BodyError> {
    let text = std::str::from_utf8(body).map_err(|e| BodyError { what, reason: e.to_string() })?;
    fastjson::from_json_str(text).map_err(|e| BodyError { what, reason: e.to_string() })
}

/// fastjson default output: unquoted non-string map keys, insertion-ordered maps.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    encode_with(value, &EmitOptions::default())
}

pub fn encode_with<T: Serialize>(value: &T, opts: &EmitOptions) -> Vec<u8> {
    // Our body types contain only strings, numbers, maps and lists: serialization cannot fail.
    fastjson::to_json_string(value, opts).expect("body types always serialize").into_bytes()
}

/// Route JSON for clients >= 4.9.4 or `acceptStandardJsonOnly`: BrowserCompatible,
/// QuoteFieldNames, SkipTransientField, MapSortField.
pub fn standard_json_options() -> EmitOptions {
    EmitOptions { quote_non_string_keys: true, sort_map_keys: true, browser_compatible: true, ..EmitOptions::default() }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataVersion {
    #[serde(default)]
    pub counter: i64,
    /// 5.x only; 4.9.8 writes no such key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<i64>,
    #[serde(default)]
    pub timestamp: i64,
}

impl DataVersion {
    /// `DataVersion.equals`: all three fields, a missing stateVersion counting as 0.
    pub fn same_as(&self, other: &DataVersion) -> bool {
        self.counter == other.counter
            && self.timestamp == other.timestamp
            && self.state_version.unwrap_or(0) == other.state_version.unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfig {
    /// 5.x only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<IndexMap<String, String>>,
    #[serde(default)]
    pub order: bool,
    #[serde(default = "default_perm")]
    pub perm: i32,
    #[serde(default = "default_queue_nums")]
    pub read_queue_nums: i32,
    #[serde(default = "default_filter_type")]
    pub topic_filter_type: String,
    pub topic_name: String,
    #[serde(default)]
    pub topic_sys_flag: i32,
    #[serde(default = "default_queue_nums")]
    pub write_queue_nums: i32,
}

fn default_perm() -> i32 {
    6
}
fn default_queue_nums() -> i32 {
    16
}
fn default_filter_type() -> String {
    "SINGLE_TAG".into()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfigSerializeWrapper {
    #[serde(default)]
    pub data_version: DataVersion,
    #[serde(default)]
    pub topic_config_table: IndexMap<String, TopicConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBrokerBody {
    #[serde(default)]
    pub filter_server_list: Vec<String>,
    #[serde(default)]
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueData {
    pub broker_name: String,
    #[serde(default)]
    pub perm: i32,
    #[serde(default)]
    pub read_queue_nums: i32,
    /// Older peers spell it `topicSynFlag`.
    #[serde(default, alias = "topicSynFlag")]
    pub topic_sys_flag: i32,
    #[serde(default)]
    pub write_queue_nums: i32,
}

/// `BrokerData`. `enable_acting_master` is `None` in the 4.9.8 form (no such key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerData {
    #[serde(default)]
    pub broker_addrs: IndexMap<i64, String>,
    pub broker_name: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_acting_master: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRouteData {
    #[serde(default)]
    pub broker_datas: Vec<BrokerData>,
    #[serde(default)]
    pub filter_server_table: IndexMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    #[serde(default)]
    pub queue_datas: Vec<QueueData>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    #[serde(default)]
    pub broker_addr_table: IndexMap<String, BrokerData>,
    #[serde(default)]
    pub cluster_addr_table: IndexMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    #[serde(default)]
    pub topic_list: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KvTable {
    #[serde(default)]
    pub table: IndexMap<String, String>,
}

/// `kvConfig.json`: `{"configTable":{"<namespace>":{"k":"v"}}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KvConfigSerializeWrapper {
    #[serde(default)]
    pub config_table: IndexMap<String, IndexMap<String, String>>,
}

/// `BrokerMemberGroup` inside `GetBrokerMemberGroupResponseBody`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerMemberGroup {
    #[serde(default)]
    pub broker_addrs: IndexMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetBrokerMemberGroupResponseBody {
    pub broker_member_group: BrokerMemberGroup,
}
