//! Client <-> broker JSON bodies: heartbeats, subscriptions, queue locks, consumer lists.

use serde::{Deserialize, Serialize};

/// `HeartbeatData` (request body of HEART_BEAT 34). 4.9.8 has no fingerprint/withoutSub.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatData {
    #[serde(rename = "clientID", default)]
    pub client_id: String,
    #[serde(default)]
    pub consumer_data_set: Vec<ConsumerData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_fingerprint: Option<i32>,
    #[serde(default)]
    pub producer_data_set: Vec<ProducerData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub without_sub: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerData {
    pub group_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerData {
    #[serde(default = "default_from_where")]
    pub consume_from_where: String,
    #[serde(default = "default_consume_type")]
    pub consume_type: String,
    pub group_name: String,
    #[serde(default = "default_model")]
    pub message_model: String,
    #[serde(default)]
    pub subscription_data_set: Vec<SubscriptionData>,
    #[serde(default)]
    pub unit_mode: bool,
}

fn default_from_where() -> String {
    "CONSUME_FROM_LAST_OFFSET".into()
}
fn default_consume_type() -> String {
    "CONSUME_PASSIVELY".into()
}
fn default_model() -> String {
    "CLUSTERING".into()
}

/// `SubscriptionData`: `subString` "*" or "TagA || TagB"; `codeSet` = tag hash codes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionData {
    #[serde(default)]
    pub class_filter_mode: bool,
    #[serde(default)]
    pub code_set: Vec<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression_type: Option<String>,
    #[serde(default)]
    pub sub_string: String,
    #[serde(default)]
    pub sub_version: i64,
    #[serde(default)]
    pub tags_set: Vec<String>,
    pub topic: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    pub broker_name: String,
    pub queue_id: i32,
    pub topic: String,
}

/// LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42) request bodies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockBatchRequestBody {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub consumer_group: String,
    #[serde(default)]
    pub mq_set: Vec<MessageQueue>,
    #[serde(default)]
    pub only_this_broker: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet", default)]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetConsumerListByGroupResponseBody {
    #[serde(default)]
    pub consumer_id_list: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::body;

    #[test]
    fn heartbeat_from_java_4_9_8() {
        let json = br#"{"clientID":"127.0.0.1@123#456","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"cg","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1795292010000,"tagsSet":["TagA","TagB"],"topic":"WireTopic"}],"unitMode":false}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}"#;
        let hb: HeartbeatData = body::decode("HeartbeatData", json).unwrap();
        assert_eq!(hb.client_id, "127.0.0.1@123#456");
        assert_eq!(hb.consumer_data_set[0].subscription_data_set[0].code_set, vec![2598919, 2598920]);
        assert_eq!(hb.producer_data_set[0].group_name, "CLIENT_INNER_PRODUCER");
    }

    #[test]
    fn lock_body_keys() {
        let b = LockBatchResponseBody {
            lock_ok_mq_set: vec![MessageQueue { broker_name: "b".into(), queue_id: 1, topic: "t".into() }],
        };
        assert_eq!(body::encode(&b), br#"{"lockOKMQSet":[{"brokerName":"b","queueId":1,"topic":"t"}]}"#.to_vec());
    }
}
