//! The admin requests against a fake broker core ([`FakeCtx`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rmq_common::fastjson::{self, Value};
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::codec::{LanguageCode, RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::client::{CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader};
use rmq_remoting::protocol::heartbeat::{ConsumerData, SubscriptionData};
use rmq_remoting::transport::Channel;
use rmq_store::config_files::JavaFlavor;

use super::*;
use crate::client::ClientChannel;

pub(super) struct FakeCtx {
    pub meta: Arc<Meta>,
    pub consumers: ConsumerManager,
    pub producers: ProducerManager,
    pub admin: AdminState,
    pub settings: Mutex<BrokerSettings>,
    pub applied: Mutex<Vec<Vec<String>>>,
    pub registered: Mutex<Vec<String>>,
    pub deleted: Mutex<Vec<String>>,
    /// (topic, queue) -> (min, max)
    pub queues: Mutex<HashMap<(String, i32), (i64, i64)>>,
    pub _dir: tempfile::TempDir,
}

impl FakeCtx {
    pub fn new(flavor: JavaFlavor) -> FakeCtx {
        let dir = tempfile::tempdir().unwrap();
        let mut s = BrokerSettings::defaults();
        s.broker.broker_cluster_name = "C".into();
        s.broker.broker_name = "b".into();
        s.store.store_path_root_dir = dir.path().display().to_string();
        s.config_file = Some(dir.path().join("broker.conf"));
        let meta = Arc::new(Meta::load_with(&s, flavor).unwrap());
        FakeCtx {
            meta,
            consumers: ConsumerManager::new(),
            producers: ProducerManager::new(),
            admin: AdminState::new(),
            settings: Mutex::new(s),
            applied: Mutex::new(Vec::new()),
            registered: Mutex::new(Vec::new()),
            deleted: Mutex::new(Vec::new()),
            queues: Mutex::new(HashMap::new()),
            _dir: dir,
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

impl AdminContext for FakeCtx {
    fn meta(&self) -> &Arc<Meta> {
        &self.meta
    }
    fn consumer_manager(&self) -> &ConsumerManager {
        &self.consumers
    }
    fn producer_manager(&self) -> &ProducerManager {
        &self.producers
    }
    fn admin_state(&self) -> &AdminState {
        &self.admin
    }
    fn settings(&self) -> BrokerSettings {
        self.settings.lock().clone()
    }
    fn apply_settings(&self, updated: BrokerSettings, changed_keys: &[String]) {
        *self.settings.lock() = updated;
        self.applied.lock().push(changed_keys.to_vec());
    }
    fn on_topics_changed(&self, topics: Vec<TopicConfig>) {
        self.registered.lock().extend(topics.into_iter().map(|t| t.topic_name));
    }
    fn min_offset(&self, topic: &str, queue: i32) -> i64 {
        self.queues.lock().get(&(topic.to_string(), queue)).map_or(0, |q| q.0)
    }
    fn max_offset(&self, topic: &str, queue: i32) -> i64 {
        self.queues.lock().get(&(topic.to_string(), queue)).map_or(0, |q| q.1)
    }
    async fn store_time_at(&self, _topic: &str, _queue: i32, offset: i64) -> Option<i64> {
        Some(1_700_000_000_000 + offset)
    }
    async fn delete_topic_data(&self, topics: &[String]) {
        self.deleted.lock().extend(topics.iter().cloned());
    }
    fn runtime_stats(&self) -> RuntimeStats {
        RuntimeStats { boot_timestamp: 1, put_tps: [Some(2.5), None, None], ..RuntimeStats::default() }
    }
    fn topic_put_tps(&self, _topic: &str) -> f64 {
        1.5
    }
}

pub(super) fn chan() -> Channel {
    Channel::unconnected("127.0.0.1:4321".parse().unwrap())
}

pub(super) async fn call(ctx: &FakeCtx, req: RemotingCommand) -> RemotingCommand {
    handle(ctx, &chan(), &req).await.expect("admin requests always answer")
}

pub(super) fn body_json(r: &RemotingCommand) -> Value {
    fastjson::parse_bytes(r.body.as_deref().expect("a body")).unwrap()
}

fn create_topic(topic: &str, queues: i32, attributes: Option<&str>) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC);
    CreateTopicRequestHeader {
        topic: topic.into(),
        default_topic: "TBW102".into(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: Some(0),
        order: Some(false),
        attributes: attributes.map(str::to_string),
        force: None,
    }
    .apply_to(&mut cmd);
    cmd
}

fn topic_req(code: RequestCode, topic: &str) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(code);
    cmd.set_ext("topic", topic);
    cmd
}

#[tokio::test]
async fn create_update_and_delete_topics() {
    let ctx = FakeCtx::new(JavaFlavor::V5_3_3);
    let r = call(&ctx, create_topic("T1", 4, Some("+message.type=FIFO"))).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{:?}", r.remark);
    let t = ctx.meta.topics.get("T1").unwrap();
    assert_eq!((t.read_queue_nums, t.perm), (4, 6));
    assert_eq!(t.attributes.get("message.type").map(String::as_str), Some("FIFO"));
    assert_eq!(*ctx.registered.lock(), ["T1"]);
    // Persisted at once.
    let file = std::fs::read_to_string(ctx.dir().join("config/topics.json")).unwrap();
    assert!(file.contains("\"T1\""));
    // Same config again: idempotent, no new registration.
    let r = call(&ctx, create_topic("T2", 2, None)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = call(&ctx, create_topic("T2", 2, None)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(*ctx.registered.lock(), ["T1", "T2"]);

    let r = call(&ctx, create_topic("bad topic", 2, None)).await;
    assert_eq!(r.response_code(), ResponseCode::INVALID_PARAMETER);
    assert_eq!(
        r.remark.as_deref(),
        Some("The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")
    );
    let r = call(&ctx, create_topic("TBW102", 2, None)).await;
    assert_eq!(r.response_code(), ResponseCode::INVALID_PARAMETER);
    assert_eq!(r.remark.as_deref(), Some("The topic[TBW102] is conflict with system topic."));
    let r = call(&ctx, create_topic("T3", 2, Some("+message.type=MIXED"))).await;
    assert_eq!(r.remark.as_deref(), Some("MIXED message type is not supported."));
    let r = call(&ctx, create_topic("T1", 4, Some("+queue.type=BatchCQ"))).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("attempt to update an unchangeable attribute. key: queue.type"));
    let mut bad = create_topic("T4", 2, None);
    bad.set_ext("topicFilterType", "NOPE");
    let r = call(&ctx, bad).await;
    assert_eq!(r.remark.as_deref(), Some("No enum constant org.apache.rocketmq.common.TopicFilterType.NOPE"));
    // A missing required header field.
    let r = call(&ctx, RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC)).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);

    // Delete: the topic, its offsets and its POP retry topics go.
    ctx.meta.offsets.commit("x", "g", "T1", 0, 3);
    ctx.meta.topics.create_topic_in_send_back("%RETRY%g+T1", 1, 6, false, 0);
    let r = call(&ctx, topic_req(RequestCode::DELETE_TOPIC_IN_BROKER, "T1")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert!(ctx.meta.topics.get("T1").is_none() && ctx.meta.topics.get("%RETRY%g+T1").is_none());
    assert_eq!(ctx.meta.offsets.query("g", "T1", 0), -1);
    assert_eq!(*ctx.deleted.lock(), ["T1", "%RETRY%g+T1"]);
    let r = call(&ctx, topic_req(RequestCode::DELETE_TOPIC_IN_BROKER, "SCHEDULE_TOPIC_XXXX")).await;
    assert_eq!(r.response_code(), ResponseCode::INVALID_PARAMETER);
}

#[tokio::test]
async fn topic_listings_and_stats() {
    let ctx = FakeCtx::new(JavaFlavor::V5_3_3);
    call(&ctx, create_topic("T", 2, None)).await;
    ctx.queues.lock().insert(("T".into(), 1), (3, 10));
    let r = call(&ctx, topic_req(RequestCode::GET_TOPIC_STATS_INFO, "T")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let text = String::from_utf8(r.body.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(r#"{"brokerName":"b","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":1700000000009,"maxOffset":10,"minOffset":3}"#),
        "{text}"
    );
    assert!(text.contains(
        r#"{"brokerName":"b","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0}"#
    ));
    assert!(text.ends_with(r#""topicPutTps":1.5}"#), "{text}");
    let r = call(&ctx, topic_req(RequestCode::GET_TOPIC_STATS_INFO, "Nope")).await;
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert_eq!(r.remark.as_deref(), Some("topic[Nope] not exist"));

    let r = call(&ctx, RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG)).await;
    let v = body_json(&r);
    assert!(v.get("topicConfigTable").and_then(|t| t.get("T")).is_some());
    assert_eq!(v.get("topicQueueMappingInfoMap").and_then(|m| m.as_object()).map(|m| m.len()), Some(0));
    assert!(v.get("dataVersion").and_then(|d| d.get("stateVersion")).is_some());

    let r = call(&ctx, topic_req(RequestCode::GET_TOPIC_CONFIG, "T")).await;
    assert_eq!(
        String::from_utf8(r.body.unwrap().to_vec()).unwrap(),
        r#"{"attributes":{},"order":false,"perm":6,"readQueueNums":2,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":2}"#
    );
    let r = call(&ctx, topic_req(RequestCode::GET_TOPIC_CONFIG, "Nope")).await;
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert_eq!(r.remark.as_deref(), Some("No topic in this broker. topic: Nope"));

    let r = call(&ctx, RemotingCommand::request(RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_BROKER)).await;
    let list = body_json(&r).get("topicList").and_then(|l| l.as_array()).cloned().unwrap();
    assert!(list.iter().any(|t| t.as_str() == Some("C_REPLY_TOPIC")));
    assert!(!list.iter().any(|t| t.as_str() == Some("T")));

    ctx.meta.offsets.commit("x", "offline", "T", 0, 1);
    let data = ConsumerData {
        group_name: "online".into(),
        subscription_data_set: vec![SubscriptionData {
            topic: "T".into(),
            sub_string: "*".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let client = ClientChannel {
        channel: chan(),
        client_id: "c1".into(),
        language: LanguageCode::JAVA,
        version: 479,
        last_update: Instant::now(),
    };
    ctx.consumers.register(client, &data, Instant::now());
    let r = call(&ctx, topic_req(RequestCode::QUERY_TOPIC_CONSUME_BY_WHO, "T")).await;
    let mut groups: Vec<String> = body_json(&r)
        .get("groupList")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_string())
        .collect();
    groups.sort();
    assert_eq!(groups, ["offline", "online"]);
}

#[tokio::test]
async fn groups_connections_and_consume_stats() {
    let ctx = FakeCtx::new(JavaFlavor::V5_3_3);
    let body = br#"{"groupName":"g1","retryMaxTimes":3,"consumeBroadcastEnable":false}"#.to_vec();
    let r =
        call(&ctx, RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).with_body(body)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{:?}", r.remark);
    let g = ctx.meta.groups.get("g1").unwrap();
    assert_eq!((g.retry_max_times, g.consume_broadcast_enable, g.retry_queue_nums), (3, false, 1));
    assert!(std::fs::read_to_string(ctx.dir().join("config/subscriptionGroup.json")).unwrap().contains("\"g1\""));
    let r = call(&ctx, RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    let body = br#"{"groupName":"g2","attributes":{"+x":"1"}}"#.to_vec();
    let r =
        call(&ctx, RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).with_body(body)).await;
    assert_eq!(r.remark.as_deref(), Some("unsupported key: x"));

    let r = call(&ctx, RemotingCommand::request(RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG)).await;
    assert!(body_json(&r).get("subscriptionGroupTable").and_then(|t| t.get("g1")).is_some());

    // Offsets and stats.
    ctx.meta.topics.create_topic_in_send("T", "TBW102", 2, 0).unwrap();
    ctx.queues.lock().insert(("T".into(), 0), (0, 10));
    ctx.queues.lock().insert(("T".into(), 1), (0, 4));
    ctx.meta.offsets.commit("x", "g1", "T", 0, 7);
    ctx.meta.offsets.commit_pull("g1", "T", 0, 9);
    let mut req = RemotingCommand::request(RequestCode::GET_CONSUME_STATS);
    req.set_ext("consumerGroup", "g1");
    let r = call(&ctx, req).await;
    let text = String::from_utf8(r.body.unwrap().to_vec()).unwrap();
    assert!(text.starts_with(r#"{"consumeTps":0.0,"offsetTable":{"#), "{text}");
    assert!(text.contains(r#"{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":10,"consumerOffset":7,"lastTimestamp":1700000000006,"pullOffset":9}"#), "{text}");
    assert!(text.contains(r#"{"brokerName":"b","queueId":1,"topic":"T"}:{"brokerOffset":4,"consumerOffset":0,"lastTimestamp":0,"pullOffset":0}"#), "{text}");

    let r = call(&ctx, RemotingCommand::request(RequestCode::GET_ALL_CONSUMER_OFFSET)).await;
    let v = body_json(&r);
    assert!(v.get("offsetTable").and_then(|t| t.get("T@g1")).is_some());
    assert!(v.get("groupTopicMap").is_some());
    ctx.meta.delay_offsets.set(3, 12);
    let r = call(&ctx, RemotingCommand::request(RequestCode::GET_ALL_DELAY_OFFSET)).await;
    let text = String::from_utf8(r.body.unwrap().to_vec()).unwrap();
    assert!(text.ends_with(r#""offsetTable":{3:12}}"#), "{text}");

    // Connections.
    let mut req = RemotingCommand::request(RequestCode::GET_CONSUMER_CONNECTION_LIST);
    req.set_ext("consumerGroup", "g1");
    let r = call(&ctx, req.clone()).await;
    assert_eq!(r.response_code(), ResponseCode::CONSUMER_NOT_ONLINE);
    assert_eq!(r.remark.as_deref(), Some("the consumer group[g1] not online"));
    let data = ConsumerData {
        group_name: "g1".into(),
        consume_type: "CONSUME_PASSIVELY".into(),
        message_model: "CLUSTERING".into(),
        consume_from_where: "CONSUME_FROM_LAST_OFFSET".into(),
        subscription_data_set: vec![SubscriptionData {
            topic: "T".into(),
            sub_string: "*".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let client = ClientChannel {
        channel: chan(),
        client_id: "c1".into(),
        language: LanguageCode::JAVA,
        version: 479,
        last_update: Instant::now(),
    };
    ctx.consumers.register(client.clone(), &data, Instant::now());
    let r = call(&ctx, req).await;
    let v = body_json(&r);
    let conn = &v.get("connectionSet").unwrap().as_array().unwrap()[0];
    assert_eq!(conn.get("clientAddr").and_then(|a| a.as_str()), Some("127.0.0.1:4321"));
    assert_eq!(conn.get("language").and_then(|a| a.as_str()), Some("JAVA"));
    assert_eq!(v.get("messageModel").and_then(|a| a.as_str()), Some("CLUSTERING"));
    assert!(v.get("subscriptionTable").and_then(|s| s.get("T")).is_some());

    let mut req = RemotingCommand::request(RequestCode::GET_PRODUCER_CONNECTION_LIST);
    req.set_ext("producerGroup", "pg");
    let r = call(&ctx, req.clone()).await;
    assert_eq!(r.remark.as_deref(), Some("the producer group[pg] not exist"));
    ctx.producers.register("pg", client);
    let r = call(&ctx, req).await;
    assert_eq!(body_json(&r).get("connectionSet").unwrap().as_array().unwrap().len(), 1);

    // Delete with offsets.
    let mut req = RemotingCommand::request(RequestCode::DELETE_SUBSCRIPTIONGROUP);
    DeleteSubscriptionGroupRequestHeader { group_name: "g1".into(), clean_offset: Some(true) }.apply_to(&mut req);
    let r = call(&ctx, req).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert!(ctx.meta.groups.get("g1").is_none());
    assert_eq!(ctx.meta.offsets.query("g1", "T", 0), -1);
}

#[tokio::test]
async fn unknown_codes_are_not_supported() {
    let ctx = FakeCtx::new(JavaFlavor::V5_3_3);
    let r = call(&ctx, RemotingCommand::request(RequestCode(9999))).await;
    assert_eq!(r.response_code(), ResponseCode::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(r.remark.as_deref(), Some(" request type 9999 not supported"));
    assert!(CODES.contains(&RequestCode::GET_BROKER_RUNTIME_INFO));
}
