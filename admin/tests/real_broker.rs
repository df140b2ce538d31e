//! mqadmin against our real broker (`rmq_broker::Broker`, in process) and name server.

mod common;

use std::time::Duration;

use common::*;
use rmq_broker::config::BrokerSettings;
use rmq_broker::Broker;

fn settings(root: &std::path::Path, namesrv: &str) -> BrokerSettings {
    let mut s = BrokerSettings::defaults();
    let mut props = rmq_common::properties::Properties::new();
    for (k, v) in [
        ("brokerClusterName", "RealCluster"),
        ("brokerName", "broker-r"),
        ("brokerIP1", "127.0.0.1"),
        ("brokerIP2", "127.0.0.1"),
        ("bindAddress", "127.0.0.1"),
        ("listenPort", "0"),
        ("mappedFileSizeCommitLog", "65536"),
        ("mappedFileSizeConsumeQueue", "600"),
        ("namesrvAddr", namesrv),
    ] {
        props.insert(k.into(), v.into());
    }
    props.insert("storePathRootDir".into(), root.join("store").display().to_string());
    s.apply(&props).unwrap();
    s.finish().unwrap();
    s.store.ha_listen_port = 0;
    s.config_file = Some(root.join("broker.conf"));
    s
}

/// Runs `args` until stdout contains `want` (registration is asynchronous).
async fn eventually(args: &[&str], want: &str) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        let out = mqadmin(args, None).await;
        last = format!("{}{}", stdout(&out), stderr(&out));
        if stdout(&out).contains(want) {
            return stdout(&out);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{args:?} never printed {want:?}; last output:\n{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_against_the_real_broker() {
    let dir = tempfile::tempdir().unwrap();
    let (ns, _nd) = start_namesrv().await;
    let n = ns.local_addr().to_string();
    let broker = Broker::start(settings(dir.path(), &n)).await.unwrap();
    let addr = broker.broker_addr().to_string();

    // The broker registered itself: clusterList shows it.
    eventually(&["clusterList", "-n", &n], "broker-r").await;

    let out = mqadmin(&["updateTopic", "-n", &n, "-c", "RealCluster", "-t", "RealT", "-r", "2", "-w", "2"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("create topic to {addr} success.\nTopicConfig [topicName=RealT, readQueueNums=2, writeQueueNums=2, perm=RW-, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false, attributes={{}}]\n")
    );
    // The broker re-registers its table: topicStatus finds the route.
    let status = eventually(&["topicStatus", "-n", &n, "-t", "RealT"], "broker-r").await;
    assert!(status.ends_with("\nTopic Put TPS: 0.0\n"), "{status}");
    assert_eq!(status.lines().count(), 5, "{status}");

    let out = mqadmin(&["brokerStatus", "-n", &n, "-b", &addr], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("{}: V5_3_3\n", l("brokerVersionDesc", 32))), "{}", stdout(&out));

    let out = mqadmin(
        &["updateBrokerConfig", "-n", &n, "-c", "RealCluster", "-k", "autoCreateSubscriptionGroup", "-v", "false"],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("update broker config success, {addr}\n"));
    let conf = std::fs::read_to_string(dir.path().join("broker.conf")).unwrap();
    assert!(conf.contains("autoCreateSubscriptionGroup=false\n"), "{conf}");
    let out = mqadmin(&["getBrokerConfig", "-n", &n, "-b", &addr], None).await;
    assert!(stdout(&out).contains(&format!("{}=  false\n", l("autoCreateSubscriptionGroup", 50))), "{}", stdout(&out));

    let out = mqadmin(&["updateSubGroup", "-n", &n, "-b", &addr, "-g", "realG"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = mqadmin(&["deleteSubGroup", "-n", &n, "-b", &addr, "-g", "realG"], None).await;
    assert_eq!(stdout(&out), format!("delete subscription group [realG] from broker [{addr}] success.\n"));

    let out = mqadmin(&["deleteTopic", "-n", &n, "-c", "RealCluster", "-t", "RealT"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "delete topic [RealT] from cluster [RealCluster] success.\ndelete topic [RealT] from NameServer success.\n"
    );

    broker.shutdown().await;
    ns.shutdown().await;
}
