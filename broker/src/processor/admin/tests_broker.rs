//! GET_BROKER_RUNTIME_INFO, GET_BROKER_CONFIG, UPDATE_BROKER_CONFIG against the fake core.

use rmq_common::java;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_store::config_files::JavaFlavor;

use super::tests::{body_json, call, FakeCtx};

/// The GET_BROKER_RUNTIME_INFO table of a Java 4.9.8 broker, as sent in
/// golden/java-4.9.8/wire/mqadmin_clusterList.pcap: its key order is the order of a
/// `HashMap(64)` grown to 128, which is what we reproduce for our (5.3.3) key set.
const KEYS_498_IN_WIRE_ORDER: &[&str] = &[
    "msgPutTotalTodayNow",
    "commitLogDiskRatio",
    "getFoundTps",
    "EndTransactionThreadPoolQueueCapacity",
    "sendThreadPoolQueueHeadWaitTimeMills",
    "putMessageDistributeTime",
    "queryThreadPoolQueueHeadWaitTimeMills",
    "remainHowManyDataToFlush",
    "msgGetTotalTodayNow",
    "putMessageFailedTimes",
    "putLatency999",
    "commitLogMaxOffset",
    "queryThreadPoolQueueSize",
    "getMessageEntireTimeMax",
    "msgPutTotalTodayMorning",
    "putMessageTimesTotal",
    "putLatency99",
    "bootTimestamp",
    "msgGetTotalTodayMorning",
    "msgPutTotalYesterdayMorning",
    "msgGetTotalYesterdayMorning",
    "pullThreadPoolQueueSize",
    "brokerVersionDesc",
    "sendThreadPoolQueueSize",
    "startAcceptSendRequestTimeStamp",
    "commitLogMinOffset",
    "commitLogDiskRatio_/tmp/javarmq/data/wire/commitlog",
    "putMessageEntireTimeMax",
    "pullThreadPoolQueueHeadWaitTimeMills",
    "runtime",
    "earliestMessageTimeStamp",
    "commitLogDirCapacity",
    "dispatchMaxBuffer",
    "brokerVersion",
    "putTps",
    "remainTransientStoreBufferNumbs",
    "getMissTps",
    "queryThreadPoolQueueCapacity",
    "putMessageAverageSize",
    "getTransferedTps",
    "dispatchBehindBytes",
    "putMessageSizeTotal",
    "sendThreadPoolQueueCapacity",
    "EndTransactionQueueSize",
    "getTotalTps",
    "pullThreadPoolQueueCapacity",
    "consumeQueueDiskRatio",
    "pageCacheLockTimeMills",
];

#[test]
fn runtime_table_order_model_matches_the_java_capture() {
    let keys: Vec<String> = KEYS_498_IN_WIRE_ORDER.iter().map(|s| s.to_string()).collect();
    let cap = java::sized_hashmap_capacity(64, keys.len());
    let ordered: Vec<&String> = java::hashmap_order(keys.iter(), cap);
    assert_eq!(ordered, keys.iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn runtime_info_has_javas_keys() {
    let ctx = FakeCtx::new(JavaFlavor::V5_3_3);
    ctx.meta.delay_offsets.set(2, 5);
    let r = call(&ctx, RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let v = body_json(&r);
    let t = v.get("table").unwrap().as_object().unwrap();
    let get = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
    assert_eq!(get("brokerVersionDesc").as_deref(), Some("V5_3_3"));
    assert_eq!(get("brokerVersion").as_deref(), Some("479"));
    assert_eq!(get("putTps").as_deref(), Some("2.5  "));
    assert_eq!(get("getTotalTps").as_deref(), Some("0.0 0.0 0.0"));
    assert_eq!(get("putMessageTimesTotal").as_deref(), Some("1"));
    assert_eq!(get("putMessageDistributeTime").as_deref(), Some("null"));
    assert_eq!(get("scheduleMessageOffset_2").as_deref(), Some("5,0"));
    assert_eq!(get("brokerActive").as_deref(), Some("true"));
    assert_eq!(get("timerEnqueueTps").as_deref(), Some("0.0"));
    assert_eq!(get("sendThreadPoolQueueCapacity").as_deref(), Some("10000"));
    assert!(get("commitLogDirCapacity").unwrap().starts_with("Total : "));
    assert!(get("commitLogDiskRatio").is_some() && get("consumeQueueDiskRatio").is_some());
    // Every key clusterList reads is there.
    for k in [
        "getTransferredTps",
        "ackThreadPoolQueueSize",
        "ackThreadPoolQueueHeadWaitTimeMills",
        "earliestMessageTimeStamp",
        "pageCacheLockTimeMills",
        "timerReadBehind",
        "timerOffsetBehind",
        "timerCongestNum",
        "timerDequeueTps",
        "msgPutTotalTodayNow",
        "msgGetTotalYesterdayMorning",
    ] {
        assert!(get(k).is_some(), "{k}");
    }
    // Written in HashMap order.
    let keys: Vec<String> = t.keys().map(|k| k.as_str().unwrap().to_string()).collect();
    let cap = java::sized_hashmap_capacity(64, keys.len());
    assert_eq!(java::hashmap_order(keys.iter(), cap), keys.iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn broker_config_read_update_and_write_back() {
    let ctx = FakeCtx::new(JavaFlavor::V5_3_3);
    let r = call(&ctx, RemotingCommand::request(RequestCode::GET_BROKER_CONFIG)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let text = String::from_utf8(r.body.clone().unwrap().to_vec()).unwrap();
    assert!(text.contains("\nbrokerName=b\n"), "{text}");
    assert!(!text.contains("brokerConfigPath="));
    let keys: Vec<&str> = text.lines().map(|l| l.split('=').next().unwrap()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let version = r.ext("version").unwrap().to_string();
    assert!(version.starts_with("{\"counter\":0,\"stateVersion\":0,\"timestamp\":"), "{version}");

    // Black-listed keys.
    for key in ["brokerConfigPath", "rocketmqHome", "configBlackList"] {
        let req =
            RemotingCommand::request(RequestCode::UPDATE_BROKER_CONFIG).with_body(format!("{key}=x\n").into_bytes());
        let r = call(&ctx, req).await;
        assert_eq!(r.response_code(), ResponseCode::NO_PERMISSION, "{key}");
        assert_eq!(r.remark.as_deref(), Some("Can not update config in black list."));
    }
    // A real update: applied, bumped, written back to the -c file.
    let v0 = ctx.meta.topics.data_version().counter;
    let body = b"brokerPermission=4\nautoCreateTopicEnable=false\nnoSuchKey=1\nflushIntervalCommitLog=oops\n".to_vec();
    let r = call(&ctx, RemotingCommand::request(RequestCode::UPDATE_BROKER_CONFIG).with_body(body)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(ctx.settings.lock().broker.broker_permission, 4);
    let mut applied = ctx.applied.lock()[0].clone();
    applied.sort();
    assert_eq!(applied, ["autoCreateTopicEnable", "brokerPermission"]);
    assert_eq!(ctx.meta.topics.data_version().counter, v0 + 1);
    assert!(ctx.meta.topics.create_topic_in_send("Z", "TBW102", 4, 0).is_none());
    let written = std::fs::read_to_string(ctx.dir().join("broker.conf")).unwrap();
    assert!(written.contains("\nbrokerPermission=4\n"), "{written}");
    let r = call(&ctx, RemotingCommand::request(RequestCode::GET_BROKER_CONFIG)).await;
    assert!(r.ext("version").unwrap().starts_with("{\"counter\":1,"));
}
