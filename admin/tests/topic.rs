//! `mqadmin topicRoute` and `mqadmin topicList` against a real name server.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_route_json_and_list_forms() {
    let (ns, _dir) = start_namesrv().await;
    let n = ns.local_addr().to_string();
    let (a0, a1) = ("127.0.0.1:10911", "127.0.0.1:10921");
    let _m = register(
        ns.local_addr(),
        Reg { cluster: "WireCluster", broker: "broker-x", id: 0, addr: a0, topics: &["TopicA", "TBW102"] },
    )
    .await;
    let _s = register(
        ns.local_addr(),
        Reg { cluster: "WireCluster", broker: "broker-x", id: 1, addr: a1, topics: &["TopicA", "TBW102"] },
    )
    .await;

    // fastjson PrettyFormat: TAB indents, List items one per line, the Long-keyed
    // brokerAddrs map written with unquoted keys on one line and its closing brace on
    // the next, enableActingMaster (a primitive in 5.3.3's BrokerData) always present.
    let out = mqadmin(&["topicRoute", "-n", &n, "-t", "TopicA"], None).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let want = format!(
        "{{\n\
         \t\"brokerDatas\":[\n\
         \t\t{{\n\
         \t\t\t\"brokerAddrs\":{{0:\"{a0}\",1:\"{a1}\"\n\
         \t\t\t}},\n\
         \t\t\t\"brokerName\":\"broker-x\",\n\
         \t\t\t\"cluster\":\"WireCluster\",\n\
         \t\t\t\"enableActingMaster\":false\n\
         \t\t}}\n\
         \t],\n\
         \t\"filterServerTable\":{{}},\n\
         \t\"queueDatas\":[\n\
         \t\t{{\n\
         \t\t\t\"brokerName\":\"broker-x\",\n\
         \t\t\t\"perm\":6,\n\
         \t\t\t\"readQueueNums\":4,\n\
         \t\t\t\"topicSysFlag\":0,\n\
         \t\t\t\"writeQueueNums\":4\n\
         \t\t}}\n\
         \t]\n\
         }}\n"
    );
    assert_eq!(stdout(&out), want);

    // -l: "%-45s %-32s %-50s %-10s %-11s %-5s%n", brokerAddrs as HashMap.toString().
    let line = |c: [&str; 6]| {
        format!("{} {} {} {} {} {}\n", l(c[0], 45), l(c[1], 32), l(c[2], 50), l(c[3], 10), l(c[4], 11), l(c[5], 5))
    };
    let out = mqadmin(&["topicRoute", "-n", &n, "-t", " TopicA ", "-l"], None).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let want = [
        line(["#ClusterName", "#BrokerName", "#BrokerAddrs", "#ReadQueue", "#WriteQueue", "#Perm"]),
        line(["WireCluster", "broker-x", &format!("{{0={a0}, 1={a1}}}"), "4", "4", "6"]),
        format!("{}\n", "-".repeat(158)),
        line(["Total:", "1", "", "4", "4", ""]),
    ]
    .concat();
    assert_eq!(stdout(&out), want);

    // An unknown topic: MQClientException(TOPIC_NOT_EXIST) wrapped in SubCommandException.
    let out = mqadmin(&["topicRoute", "-n", &n, "-t", "Nope"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "org.apache.rocketmq.tools.command.SubCommandException: TopicRouteSubCommand command failed\n\
             Caused by: org.apache.rocketmq.client.exception.MQClientException: CODE: 17  DESC: No topic route info in name server for the topic: Nope"
        ),
        "{err}"
    );
    ns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_list_plain_and_cluster_model() {
    let (ns, _dir) = start_namesrv().await;
    let n = ns.local_addr().to_string();
    let broker = fake_broker(|| b"{\"table\":{}}".to_vec(), &[("TopicA", &["cg2", "cg1", "cg10"])]).await;
    let addr = broker.local_addr().to_string();
    let topics = ["TopicA", "TopicB", "TBW102", "%RETRY%cg1", "%DLQ%cg1"];
    let _c = register(
        ns.local_addr(),
        Reg { cluster: "WireCluster", broker: "broker-x", id: 0, addr: &addr, topics: &topics },
    )
    .await;

    // HashSet<String> order on Java 17 (checked with OpenJDK 17 for these five names).
    let out = mqadmin(&["topicList", "-n", &n], None).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "%RETRY%cg1\nTopicB\nTopicA\n%DLQ%cg1\nTBW102\n");

    // -c: header "%-20s  %-48s  %-48s", rows "%-20s  %-64s  %-64s"; retry/DLQ topics
    // skipped; groups from QUERY_TOPIC_CONSUME_BY_WHO in HashSet order (cg1, cg10, cg2);
    // a topic nobody consumes gets one row with an empty group.
    let out = mqadmin(&["topicList", "-n", &n, "-c"], None).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let row = |c: &str, t: &str, g: &str| format!("{}  {}  {}\n", l(c, 20), l(t, 64), l(g, 64));
    let want = [
        format!("{}  {}  {}\n", l("#Cluster Name", 20), l("#Topic", 48), l("#Consumer Group", 48)),
        row("WireCluster", "TopicB", ""),
        row("WireCluster", "TopicA", "cg1"),
        row("WireCluster", "TopicA", "cg10"),
        row("WireCluster", "TopicA", "cg2"),
        row("WireCluster", "TBW102", ""),
    ]
    .concat();
    assert_eq!(stdout(&out), want);

    ns.shutdown().await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_name_server_is_named() {
    let dead = format!("127.0.0.1:{}", closed_port());
    for args in
        [vec!["topicList", "-n", &dead], vec!["topicRoute", "-n", &dead, "-t", "T"], vec!["clusterList", "-n", &dead]]
    {
        let out = mqadmin(&args, None).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("command failed\nCaused by: org.apache.rocketmq.remoting.exception.RemotingConnectException"),
            "{err}"
        );
        assert!(err.contains(&format!("connect to {dead} failed")), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // No address at all: say so instead of Java's "connect to null failed" alone.
    let out = mqadmin(&["topicList"], None).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("connect to null failed") && err.contains("NAMESRV_ADDR"), "{err}");
}
