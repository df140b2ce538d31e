//! `subscriptionGroup.json`: `SubscriptionGroupManager`.

use indexmap::IndexMap;
use rmq_common::fastjson::{Object, Value};
use serde::Deserialize;

use super::bean::{drop_nulls_in, finish_bean, str_map, string_map, tidy_extra, DataVersion};
use super::{ConfigFile, JavaFlavor};

/// `{"dataVersion":..,"forbiddenTable":{..},"subscriptionGroupTable":{"<group>":{..}}}`
/// (4.9.8: no `forbiddenTable`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupFile {
    pub data_version: Option<DataVersion>,
    pub subscription_group_table: IndexMap<String, SubscriptionGroupConfig>,
    /// 5.x: group → topic → forbidden permission bits.
    pub forbidden_table: IndexMap<String, IndexMap<String, i32>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// `common/.../SubscriptionGroupConfig`. Fields after `notify_consumer_ids_changed_enable`
/// are 5.x only.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    pub group_name: String,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_broadcast_enable: bool,
    pub retry_queue_nums: i32,
    pub retry_max_times: i32,
    pub broker_id: i64,
    pub which_broker_when_consume_slowly: i64,
    pub notify_consumer_ids_changed_enable: bool,
    pub consume_message_orderly: bool,
    pub group_sys_flag: i32,
    pub consume_timeout_minute: i32,
    pub group_retry_policy: GroupRetryPolicy,
    /// `Set<SimpleSubscriptionData>` (`topic`, `expressionType`, `expression`, `version`), when set.
    pub subscription_data_set: Option<Vec<Value>>,
    pub attributes: IndexMap<String, String>,
    #[serde(flatten)]
    pub extra: Object,
}

impl Default for SubscriptionGroupConfig {
    /// Java's `new SubscriptionGroupConfig()`.
    fn default() -> Self {
        SubscriptionGroupConfig {
            group_name: String::new(),
            consume_enable: true,
            consume_from_min_enable: true,
            consume_broadcast_enable: true,
            retry_queue_nums: 1,
            retry_max_times: 16,
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
            consume_message_orderly: false,
            group_sys_flag: 0,
            consume_timeout_minute: 15,
            group_retry_policy: GroupRetryPolicy::default(),
            subscription_data_set: None,
            attributes: IndexMap::new(),
            extra: Object::new(),
        }
    }
}

/// 5.x `GroupRetryPolicy`: `{"type":"CUSTOMIZED"}` unless configured.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupRetryPolicy {
    /// `CUSTOMIZED` or `EXPONENTIAL`.
    #[serde(rename = "type")]
    pub kind: String,
    pub exponential_retry_policy: Option<Value>,
    pub customized_retry_policy: Option<Value>,
    #[serde(flatten)]
    pub extra: Object,
}

impl Default for GroupRetryPolicy {
    fn default() -> Self {
        GroupRetryPolicy {
            kind: "CUSTOMIZED".into(),
            exponential_retry_policy: None,
            customized_retry_policy: None,
            extra: Object::new(),
        }
    }
}

impl GroupRetryPolicy {
    fn tidy(&mut self) {
        tidy_extra(&mut self.extra);
        for v in [&mut self.exponential_retry_policy, &mut self.customized_retry_policy].into_iter().flatten() {
            drop_nulls_in(v);
        }
    }

    fn to_value(&self) -> Value {
        let mut o = Object::new();
        if let Some(v) = &self.customized_retry_policy {
            o.push("customizedRetryPolicy", v.clone());
        }
        if let Some(v) = &self.exponential_retry_policy {
            o.push("exponentialRetryPolicy", v.clone());
        }
        o.push("type", self.kind.as_str());
        finish_bean(o, &self.extra)
    }
}

impl SubscriptionGroupConfig {
    /// A group with Java's defaults.
    pub fn new(group_name: &str) -> Self {
        SubscriptionGroupConfig { group_name: group_name.into(), ..Default::default() }
    }

    fn tidy(&mut self) {
        tidy_extra(&mut self.extra);
        self.group_retry_policy.tidy();
        if let Some(set) = &mut self.subscription_data_set {
            set.iter_mut().for_each(drop_nulls_in);
        }
    }

    pub(crate) fn to_value(&self, flavor: JavaFlavor) -> Value {
        let v5 = flavor == JavaFlavor::V5_3_3;
        let d = SubscriptionGroupConfig::default();
        let mut o = Object::new();
        if v5 || !self.attributes.is_empty() {
            o.push("attributes", string_map(&self.attributes));
        }
        o.push("brokerId", self.broker_id);
        o.push("consumeBroadcastEnable", self.consume_broadcast_enable);
        o.push("consumeEnable", self.consume_enable);
        o.push("consumeFromMinEnable", self.consume_from_min_enable);
        if v5 || self.consume_message_orderly != d.consume_message_orderly {
            o.push("consumeMessageOrderly", self.consume_message_orderly);
        }
        if v5 || self.consume_timeout_minute != d.consume_timeout_minute {
            o.push("consumeTimeoutMinute", self.consume_timeout_minute);
        }
        o.push("groupName", self.group_name.as_str());
        if v5 || self.group_retry_policy != d.group_retry_policy {
            o.push("groupRetryPolicy", self.group_retry_policy.to_value());
        }
        if v5 || self.group_sys_flag != d.group_sys_flag {
            o.push("groupSysFlag", self.group_sys_flag);
        }
        o.push("notifyConsumerIdsChangedEnable", self.notify_consumer_ids_changed_enable);
        o.push("retryMaxTimes", self.retry_max_times);
        o.push("retryQueueNums", self.retry_queue_nums);
        if let Some(set) = &self.subscription_data_set {
            o.push("subscriptionDataSet", Value::Array(set.clone()));
        }
        o.push("whichBrokerWhenConsumeSlowly", self.which_broker_when_consume_slowly);
        finish_bean(o, &self.extra)
    }
}

impl ConfigFile for SubscriptionGroupFile {
    const FILE_NAME: &'static str = "subscriptionGroup.json";

    fn after_read(&mut self) {
        tidy_extra(&mut self.extra);
        if let Some(d) = &mut self.data_version {
            d.tidy();
        }
        self.subscription_group_table.values_mut().for_each(SubscriptionGroupConfig::tidy);
    }

    fn to_json_value(&self, flavor: JavaFlavor) -> Value {
        let mut o = Object::new();
        if let Some(d) = &self.data_version {
            o.push("dataVersion", d.to_value(flavor));
        }
        if flavor == JavaFlavor::V5_3_3 || !self.forbidden_table.is_empty() {
            o.push("forbiddenTable", str_map(&self.forbidden_table, |m| str_map(m, |bits| Value::from(*bits))));
        }
        o.push("subscriptionGroupTable", str_map(&self.subscription_group_table, |g| g.to_value(flavor)));
        finish_bean(o, &self.extra)
    }
}
