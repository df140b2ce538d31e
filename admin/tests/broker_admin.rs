//! The broker-facing commands against a real name server and a broker running the
//! real admin processors (`tests/common/broker.rs`).

mod common;

use common::broker::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_topic_status_and_delete() {
    let (ns, _d) = start_namesrv().await;
    let n = ns.local_addr().to_string();
    let (_srv, b, _reg) = start_broker(ns.local_addr(), "C1", "broker-a").await;
    let addr = b.addr.lock().clone();

    let out = mqadmin(
        &["updateTopic", "-n", &n, "-b", &addr, "-t", "T1", "-r", "2", "-w", "2", "-a", "+message.type=FIFO"],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "create topic to {addr} success.\nTopicConfig [topicName=T1, readQueueNums=2, writeQueueNums=2, perm=RW-, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false, attributes={{+message.type=FIFO}}]\n"
        )
    );
    let t = b.meta.topics.get("T1").unwrap();
    assert_eq!((t.read_queue_nums, t.attributes.get("message.type").cloned()), (2, Some("FIFO".to_string())));

    // -c: every master of the cluster.
    let out = mqadmin(&["updateTopic", "-n", &n, "-c", "C1", "-t", "T2", "-p", "4"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("create topic to {addr} success.\nTopicConfig [topicName=T2, readQueueNums=8, writeQueueNums=8, perm=R--, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false, attributes={{}}]\n")
    );
    // A refused change: the broker's remark in an MQClientException.
    let out = mqadmin(&["updateTopic", "-n", &n, "-b", &addr, "-t", "TBW102"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(
            "org.apache.rocketmq.tools.command.SubCommandException: UpdateTopicSubCommand command failed\n\
             Caused by: org.apache.rocketmq.client.exception.MQClientException: CODE: 29  DESC: The topic[TBW102] is conflict with system topic."
        ),
        "{}",
        stderr(&out)
    );
    let out = mqadmin(&["updateTopic", "-n", &n, "-b", &addr, "-t", "T3", "-p", "9"], None).await;
    assert!(
        stderr(&out).contains("MQClientException: CODE: 16  DESC: topicPermission value: 9 is invalid."),
        "{}",
        stderr(&out)
    );
    let out = mqadmin(&["updateTopic", "-n", &n, "-c", "Nope", "-t", "T3"], None).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("[error] Make sure the specified clusterName exists or the name server connected to is correct.TopicConfig [topicName=T3,"));

    // topicStatus needs the route: register again with the new topics.
    let _reg2 = reregister(ns.local_addr(), &b).await;
    b.queues.lock().insert(("T1".into(), 1), (2, 5));
    let out = mqadmin(&["topicStatus", "-n", &n, "-t", "T1"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let row = |q: &str, min: &str, max: &str, ts: &str| {
        format!("{}  {}  {}  {}    {ts}\n", l("broker-a", 32), l(q, 4), l(min, 20), l(max, 20))
    };
    let lines: Vec<String> = stdout(&out).lines().map(|s| format!("{s}\n")).collect();
    assert_eq!(
        lines[0],
        format!(
            "{}  {}  {}  {}    #Last Updated\n",
            l("#Broker Name", 32),
            l("#QID", 4),
            l("#Min Offset", 20),
            l("#Max Offset", 20)
        )
    );
    assert_eq!(lines[1], row("0", "0", "0", ""));
    // 1_700_000_004_000 ms, local time with milliseconds.
    assert!(lines[2].starts_with(&row("1", "2", "5", "").trim_end().to_string()), "{}", lines[2]);
    assert!(lines[2].trim_end().ends_with(",000"), "{}", lines[2]);
    assert_eq!(lines[3..].concat(), "\nTopic Put TPS: 0.0\n");
    let out = mqadmin(&["topicStatus", "-n", &n, "-t", "Nope"], None).await;
    assert!(
        stderr(&out).contains("CODE: 17  DESC: No topic route info in name server for the topic: Nope"),
        "{}",
        stderr(&out)
    );

    let out = mqadmin(&["deleteTopic", "-n", &n, "-c", "C1", "-t", "T1"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "delete topic [T1] from cluster [C1] success.\ndelete topic [T1] from NameServer success.\n"
    );
    assert!(b.meta.topics.get("T1").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_groups_and_consumer_progress() {
    let (ns, _d) = start_namesrv().await;
    let n = ns.local_addr().to_string();
    let (_srv, b, _reg) = start_broker(ns.local_addr(), "C1", "broker-a").await;
    let addr = b.addr.lock().clone();

    let out = mqadmin(&["updateSubGroup", "-n", &n, "-b", &addr, "-g", "g1", "-r", "3", "-d", "true"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "create subscription group to {addr} success.\nSubscriptionGroupConfig{{groupName=g1, consumeEnable=true, consumeFromMinEnable=false, consumeBroadcastEnable=true, consumeMessageOrderly=false, retryQueueNums=1, retryMaxTimes=3, groupRetryPolicy=GroupRetryPolicy{{type=CUSTOMIZED, exponentialRetryPolicy=null, customizedRetryPolicy=null}}, brokerId=0, whichBrokerWhenConsumeSlowly=1, notifyConsumerIdsChangedEnable=true, groupSysFlag=0, consumeTimeoutMinute=15, subscriptionDataSet=null, attributes={{}}}}"
        )
    );
    let g = b.meta.groups.get("g1").unwrap();
    assert_eq!((g.retry_max_times, g.consume_broadcast_enable, g.consume_from_min_enable), (3, true, false));

    // Progress of g1 on T: route by its retry topic, per-queue lines sorted.
    b.meta.topics.create_topic_in_send_back("%RETRY%g1", 1, 6, false, 0);
    b.meta.topics.create_topic_in_send("T", "TBW102", 2, 0).unwrap();
    b.meta.offsets.commit("x", "g1", "T", 0, 7);
    b.meta.offsets.commit("x", "g1", "T", 1, 4);
    b.queues.lock().insert(("T".into(), 0), (0, 10));
    b.queues.lock().insert(("T".into(), 1), (0, 4));
    let _reg2 = reregister(ns.local_addr(), &b).await;
    let out = mqadmin(&["consumerProgress", "-n", &n, "-g", "g1"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{}  {}  {}  {}  {}  {} {}#LastTime",
            l("#Topic", 64),
            l("#Broker Name", 32),
            l("#QID", 4),
            l("#Broker Offset", 20),
            l("#Consumer Offset", 20),
            l("#Diff", 20),
            l("#Inflight", 20)
        )
    );
    let prefix0 = format!(
        "{}  {}  {}  {}  {}  {} {} ",
        l("T", 64),
        l("broker-a", 32),
        l("0", 4),
        l("10", 20),
        l("7", 20),
        l("3", 20),
        l("0", 20)
    );
    assert!(lines[1].starts_with(&prefix0), "{}", lines[1]);
    assert_eq!(lines[1].len(), prefix0.len() + "2023-11-14 22:13:26".len());
    assert!(lines[2].starts_with(&format!(
        "{}  {}  {}  {}  {}  {} {} ",
        l("T", 64),
        l("broker-a", 32),
        l("1", 4),
        l("4", 20),
        l("4", 20),
        l("0", 20),
        l("0", 20)
    )));
    assert_eq!(lines[3..].join("\n"), "\nConsume TPS: 0.00\nConsume Diff Total: 3\nConsume Inflight Total: 0");

    // Without -g: one line per retry topic's group; nobody online.
    let out = mqadmin(&["consumerProgress", "-n", &n], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let want = format!(
        "{}  {}  {} {}  {}  {}  #Diff Total\n{}  {}  {} {}  {}  {}  3\n",
        l("#Group", 64),
        l("#Count", 6),
        l("#Version", 24),
        l("#Type", 5),
        l("#Model", 14),
        l("#TPS", 7),
        l("g1", 64),
        l("0", 6),
        l("OFFLINE", 24),
        l("", 5),
        l("", 14),
        l("0", 7)
    );
    assert_eq!(stdout(&out), want);

    let out = mqadmin(&["deleteSubGroup", "-n", &n, "-b", &addr, "-g", "g1", "-r", "true"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("delete subscription group [g1] from broker [{addr}] success.\n"));
    assert!(b.meta.groups.get("g1").is_none());
    assert_eq!(b.meta.offsets.query("g1", "T", 0), -1);
    let out = mqadmin(&["deleteSubGroup", "-n", &n, "-c", "C1", "-g", "g2"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("delete subscription group [g2] from broker [{addr}] in cluster [C1] success.\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_status_and_config() {
    let (ns, _d) = start_namesrv().await;
    let n = ns.local_addr().to_string();
    let (_srv, b, _reg) = start_broker(ns.local_addr(), "C1", "broker-a").await;
    let addr = b.addr.lock().clone();

    let out = mqadmin(&["brokerStatus", "-n", &n, "-b", &addr], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let keys: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap().trim_end()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(text.contains(&format!("{}: V5_3_3\n", l("brokerVersionDesc", 32))), "{text}");
    let out = mqadmin(&["brokerStatus", "-n", &n, "-c", "C1"], None).await;
    assert!(stdout(&out).contains(&format!("{} {}: 479\n", l(&addr, 24), l("brokerVersion", 32))));

    let out = mqadmin(&["getBrokerConfig", "-n", &n, "-b", &addr], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with(&format!("============{addr}============\n")), "{text}");
    assert!(text.contains(&format!("{}=  broker-a\n", l("brokerName", 50))));
    assert!(text.ends_with("\n\n"));
    let out = mqadmin(&["getBrokerConfig", "-n", &n, "-c", "C1"], None).await;
    assert!(stdout(&out).starts_with(&format!("============Master: {addr}============\n")));

    let out =
        mqadmin(&["updateBrokerConfig", "-n", &n, "-b", &addr, "-k", "autoCreateTopicEnable", "-v", "false"], None)
            .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("update broker config success, {addr}\n"));
    assert!(!b.settings.lock().broker.auto_create_topic_enable);
    assert!(std::fs::read_to_string(b.dir.path().join("broker.conf"))
        .unwrap()
        .contains("autoCreateTopicEnable=false\n"));
    let out = mqadmin(&["updateBrokerConfig", "-n", &n, "-b", &addr, "-k", "rocketmqHome", "-v", "/x"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "MQBrokerException: CODE: 16  DESC: Can not update config in black list. BROKER: {addr}"
        )),
        "{}",
        stderr(&out)
    );
    let out = mqadmin(&["updateBrokerConfig", "-n", &n, "-c", "C1", "-k", "brokerPermission", "-v", "9"], None).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("CODE: 16  DESC: brokerPermission value: 9 is invalid."), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_messages_by_id_and_key() {
    let (ns, _d) = start_namesrv().await;
    let n = ns.local_addr().to_string();
    let (_srv, b, _reg) = start_broker(ns.local_addr(), "C1", "broker-a").await;
    b.meta.topics.create_topic_in_send("T", "TBW102", 2, 0).unwrap();
    let _reg2 = reregister(ns.local_addr(), &b).await;
    let port: i32 = b.addr.lock().rsplit(':').next().unwrap().parse().unwrap();
    let props = [("KEYS", "k1 k2"), ("TAGS", "TagA"), ("UNIQ_KEY", "AC11000100002A9F0000000000000001")];
    b.records.lock().push((1024, record("T", 1, 5, 1024, port, &props, b"hello")));

    let out = mqadmin(&["queryMsgByKey", "-n", &n, "-t", "T", "-k", "k2"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "{} {} {}\n{} {} {}\n",
            l("#Message ID", 50),
            r("#QID", 4),
            r("#Offset", 40),
            l("AC11000100002A9F0000000000000001", 50),
            r("1", 4),
            r("5", 40)
        )
    );
    let out = mqadmin(&["queryMsgByKey", "-n", &n, "-t", "T", "-k", "nope"], None).await;
    assert!(
        stderr(&out).contains("CODE: 208  DESC: query message by key finished, but no message."),
        "{}",
        stderr(&out)
    );

    // By offset id (store host + commitlog offset).
    let offset_id = format!("7F000001{:08X}{:016X}", port, 1024);
    let out = mqadmin(&["queryMsgById", "-n", &n, "-t", "T", "-i", &offset_id, "-f", "UTF-8"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let field = |k: &str, v: &str| format!("{} {v}\n", l(k, 20));
    for want in [
        field("OffsetID:", &offset_id),
        field("Topic:", "T"),
        field("Tags:", "[TagA]"),
        field("Keys:", "[k1 k2]"),
        field("Queue ID:", "1"),
        field("Queue Offset:", "5"),
        field("CommitLog Offset:", "1024"),
        field("Born Host:", "127.0.0.1:50000"),
        field("Store Host:", &format!("127.0.0.1:{port}")),
        field("Message Body Path:", "/tmp/rocketmq/msgbodys/AC11000100002A9F0000000000000001"),
        field("Message Body:", "hello"),
    ] {
        assert!(text.contains(&want), "{want:?} in\n{text}");
    }
    assert!(text.ends_with("\n\nWARN: No Consumer"), "{text}");
    // By unique key: found through QUERY_MESSAGE.
    let out = mqadmin(&["queryMsgById", "-n", &n, "-t", "T", "-i", "AC11000100002A9F0000000000000001"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&field("OffsetID:", &offset_id)));
}
