//! Heartbeats, consumer lists, rebalance notifications, pulls that rely on
//! the heartbeat's subscription, and connection close.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use parking_lot::Mutex;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::body;
use rmq_remoting::protocol::heartbeat::GetConsumerListByGroupResponseBody;
use rmq_remoting::transport::{BoxFuture, Channel, Client, ClientConfig, RequestHandler};

/// Records NOTIFY_CONSUMER_IDS_CHANGED pushes.
#[derive(Default)]
struct Notified(Mutex<Vec<String>>);

impl RequestHandler for Notified {
    fn handle(&self, _ch: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        if req.code == RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.0 {
            self.0.lock().push(req.ext("consumerGroup").unwrap_or_default().to_string());
        }
        Box::pin(async { None })
    }
}

fn heartbeat(client_id: &str, group: &str, sub: &str) -> RemotingCommand {
    let json = format!(
        r#"{{"clientID":"{client_id}","consumerDataSet":[{{"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"{group}","messageModel":"CLUSTERING","subscriptionDataSet":[{{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"{sub}","subVersion":100,"tagsSet":[],"topic":"HbTopic"}}],"unitMode":false}}],"producerDataSet":[{{"groupName":"PG"}}]}}"#
    );
    let mut cmd = RemotingCommand::request(RequestCode::HEART_BEAT);
    cmd.body = Some(json.into_bytes().into());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_register_groups_and_changes_are_pushed() {
    let d = tempfile::tempdir().unwrap();
    let b = broker(settings(&d.path().join("store"), None)).await;
    let addr = b.local_addr().to_string();
    let n1 = Arc::new(Notified::default());
    let c1 = Client::with_handler(ClientConfig::default(), n1.clone());
    let c2 = client();

    let r = call(&c1, &addr, heartbeat("c1@1", "hg", "TagB")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(r.ext("IS_SUPPORT_HEART_BEAT_V2"), Some("true"));
    assert!(b.state().meta.topics.contains("%RETRY%hg"), "retry topic created by the heartbeat");
    call(&c2, &addr, heartbeat("c2@2", "hg", "TagB")).await;
    // the first client hears that the group changed
    for _ in 0..50 {
        if !n1.0.lock().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(n1.0.lock().first().map(String::as_str), Some("hg"));

    let mut cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP);
    cmd.set_ext("consumerGroup", "hg");
    let r = call(&c1, &addr, cmd.clone()).await;
    let list: GetConsumerListByGroupResponseBody = body::decode("list", r.body.as_deref().unwrap()).unwrap();
    assert_eq!(list.consumer_id_list, vec!["c1@1", "c2@2"]);

    // a pull without the SUBSCRIPTION flag uses the heartbeat's (TagB only)
    call(&c1, &addr, send_v2(&send_header("HbTopic", 0, &props(&[("TAGS", "TagA")])), b"a")).await;
    call(&c1, &addr, send_v2(&send_header("HbTopic", 0, &props(&[("TAGS", "TagB")])), b"b")).await;
    let mut h = pull_header("hg", "HbTopic", 0, 0, "*");
    h.sys_flag = 0;
    h.subscription = None;
    h.sub_version = 100;
    let r = call(&c1, &addr, pull_cmd(&h)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(
        records(r.body.as_deref().unwrap()).iter().map(|m| m.body.to_vec()).collect::<Vec<_>>(),
        vec![b"b".to_vec()]
    );
    h.sub_version = 200;
    assert_eq!(call(&c1, &addr, pull_cmd(&h)).await.response_code(), ResponseCode::SUBSCRIPTION_NOT_LATEST);
    h.consumer_group = "nobody".into();
    assert_eq!(call(&c1, &addr, pull_cmd(&h)).await.response_code(), ResponseCode::SUBSCRIPTION_NOT_EXIST);

    // unregister, then a closed connection: the group shrinks and then is gone
    let mut un = RemotingCommand::request(RequestCode::UNREGISTER_CLIENT);
    un.set_ext("clientID", "c2@2");
    un.set_ext("consumerGroup", "hg");
    un.set_ext("producerGroup", "PG");
    assert_eq!(call(&c2, &addr, un).await.response_code(), ResponseCode::SUCCESS);
    let r = call(&c1, &addr, cmd.clone()).await;
    let list: GetConsumerListByGroupResponseBody = body::decode("list", r.body.as_deref().unwrap()).unwrap();
    assert_eq!(list.consumer_id_list, vec!["c1@1"]);
    c1.channel(&addr).await.unwrap().close();
    let mut gone = false;
    for _ in 0..50 {
        if b.state().consumers.group("hg").is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone);
    let r = call(&c2, &addr, cmd).await;
    assert_eq!(
        (r.response_code(), r.remark.as_deref()),
        (ResponseCode::SYSTEM_ERROR, Some("no consumer for this group, hg"))
    );

    // a garbage heartbeat body is answered, not fatal
    let mut bad = RemotingCommand::request(RequestCode::HEART_BEAT);
    bad.body = Some(bytes::Bytes::from_static(b"{not json"));
    assert_eq!(call(&c2, &addr, bad).await.response_code(), ResponseCode::SYSTEM_ERROR);
    b.shutdown().await;
}

/// Admin requests (processor/admin) are reachable through the core's dispatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requests_are_routed() {
    let d = tempfile::tempdir().unwrap();
    let b = broker(settings(&d.path().join("store"), None)).await;
    let addr = b.local_addr().to_string();
    let c = client();
    let mut cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC);
    for (k, v) in [
        ("topic", "AdmTopic"),
        ("defaultTopic", "TBW102"),
        ("readQueueNums", "2"),
        ("writeQueueNums", "2"),
        ("perm", "6"),
        ("topicFilterType", "SINGLE_TAG"),
    ] {
        cmd.set_ext(k, v);
    }
    let r = call(&c, &addr, cmd).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let r = call(&c, &addr, send_v2(&send_header("AdmTopic", 1, ""), b"x")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = call(&c, &addr, send_v2(&send_header("AdmTopic", 2, ""), b"x")).await;
    assert_eq!(r.response_code(), ResponseCode::INVALID_PARAMETER, "only 2 queues");
    let r = call(&c, &addr, RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert!(String::from_utf8_lossy(r.body.as_deref().unwrap()).contains("AdmTopic"));
    // deleting the topic drops its queues; a new one of the same name starts at 0
    let mut del = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_BROKER);
    del.set_ext("topic", "AdmTopic");
    assert_eq!(call(&c, &addr, del).await.response_code(), ResponseCode::SUCCESS);
    assert_eq!(b.state().store.max_offset("AdmTopic", 1), 0);
    let r = call(&c, &addr, send_v2(&send_header("AdmTopic", 1, ""), b"y")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "auto-created again");
    assert_eq!(r.ext("queueOffset"), Some("0"));
    let r = call(&c, &addr, pull_cmd(&pull_header("ag", "AdmTopic", 1, 0, "*"))).await;
    assert_eq!(records(r.body.as_deref().unwrap())[0].body.to_vec(), b"y".to_vec());
    b.shutdown().await;
}

/// Answers GET_CONSUMER_RUNNING_INFO and CONSUME_MESSAGE_DIRECTLY like a consumer client.
struct RunningInfo;

impl RequestHandler for RunningInfo {
    fn handle(&self, _ch: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        Box::pin(async move {
            let body = format!("{{\"code\":{},\"bodyLen\":{}}}", req.code, req.body.as_ref().map_or(0, |b| b.len()));
            Some(RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None).with_body(body.into_bytes()))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_info_and_consume_directly_are_forwarded_to_the_client() {
    let d = tempfile::tempdir().unwrap();
    let b = broker(settings(&d.path().join("store"), None)).await;
    let addr = b.local_addr().to_string();
    let consumer = Client::with_handler(ClientConfig::default(), Arc::new(RunningInfo));
    call(&consumer, &addr, heartbeat("ri@1", "rig", "*")).await;
    let admin = client();

    let mut req = RemotingCommand::request(RequestCode::GET_CONSUMER_RUNNING_INFO);
    req.set_ext("consumerGroup", "rig");
    req.set_ext("clientId", "ri@1");
    let r = admin.invoke(&addr, req.clone(), Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{:?}", r.remark);
    assert_eq!(r.body.as_deref(), Some(&b"{\"code\":307,\"bodyLen\":0}"[..]));

    // An unknown client is named in Java's words.
    req.set_ext("clientId", "nobody");
    let r = admin.invoke(&addr, req, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("The Consumer <rig> <nobody> not online"));

    // CONSUME_MESSAGE_DIRECTLY carries the stored record, found by its offsetMsgId.
    let mut send = RemotingCommand::request(RequestCode::SEND_MESSAGE);
    for (k, v) in [
        ("producerGroup", "PG"),
        ("topic", "HbTopic"),
        ("defaultTopic", "TBW102"),
        ("defaultTopicQueueNums", "4"),
        ("queueId", "0"),
        ("sysFlag", "0"),
        ("bornTimestamp", "1"),
        ("flag", "0"),
    ] {
        send.set_ext(k, v);
    }
    send.body = Some(bytes::Bytes::from_static(b"direct"));
    let sent = admin.invoke(&addr, send, Duration::from_secs(5)).await.unwrap();
    assert_eq!(sent.response_code(), ResponseCode::SUCCESS, "{:?}", sent.remark);
    let msg_id = sent.ext("msgId").unwrap().to_string();
    let mut direct = RemotingCommand::request(RequestCode::CONSUME_MESSAGE_DIRECTLY);
    direct.set_ext("consumerGroup", "rig");
    direct.set_ext("clientId", "ri@1");
    direct.set_ext("msgId", msg_id);
    let r = admin.invoke(&addr, direct, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{:?}", r.remark);
    let text = String::from_utf8(r.body.unwrap().to_vec()).unwrap();
    assert!(text.starts_with("{\"code\":309,\"bodyLen\":") && !text.contains("\"bodyLen\":0"), "{text}");
    b.shutdown().await;
}
