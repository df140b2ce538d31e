//! A slave copies its master's metadata like Java's `SlaveSynchronize`: topic
//! configs, subscription groups, consumer offsets and delay offsets, learning
//! the master from the name server and persisting what it got.

#[path = "slave_util/mod.rs"]
mod slave_util;

use rmq_broker::Broker;
use rmq_namesrv::{NameServer, NamesrvSettings};
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::offset::UpdateConsumerOffsetRequestHeader;
use rmq_remoting::transport::{Client, ClientConfig};
use rmq_store::config_files::{ConfigFile, ConsumerOffsetFile, DelayOffsetFile, SubscriptionGroupFile, TopicsFile};
use slave_util::*;

/// The golden 4.9.8 pair: a slave whose metadata is stale (one topic the master
/// never had, no groups, offsets or delay offsets) ends up with files byte-identical
/// to what the Java slave wrote: topics.json, subscriptionGroup.json and
/// consumerOffset.json equal to the master's, delayOffset.json the master's
/// compact answer (`{"offsetTable":{1:1}}`). 4.9.8 schedule: first sync after 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_498_slave_files_match_java_slave() {
    let src = golden("master-slave");
    let d = tempfile::tempdir().unwrap();
    let (mroot, sroot) = (d.path().join("master"), d.path().join("slave"));
    copy_dir(&src.join("master"), &mroot);
    copy_dir(&src.join("slave"), &sroot);
    let scfg = sroot.join("config");
    for f in std::fs::read_dir(&scfg).unwrap() {
        let p = f.unwrap().path();
        if !p.file_name().unwrap().to_str().unwrap().starts_with("consumerFilter") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let stale = r#"{"dataVersion":{"counter":1,"timestamp":1},"topicConfigTable":{"OnlyOnSlave":{"order":false,"perm":6,"readQueueNums":1,"topicFilterType":"SINGLE_TAG","topicName":"OnlyOnSlave","topicSysFlag":0,"writeQueueNums":1}}}"#;
    // pretty, as every Java broker persists topics.json (the layout is kept on rewrite)
    std::fs::write(scfg.join("topics.json"), stale.replace(",\"topicConfigTable\"", ",\n\t\"topicConfigTable\""))
        .unwrap();

    let ns = NameServer::start(NamesrvSettings::for_test(&d.path().join("ns"))).await.unwrap();
    let nsa = ns.local_addr().to_string();
    let golden_conf = |root: &std::path::Path, port: u16| {
        let mut lines: Vec<(&'static str, String)> = Vec::new();
        for line in read(&root.join("broker.conf")).lines() {
            let (k, v) = line.split_once('=').unwrap();
            let k: &'static str = Box::leak(k.to_string().into_boxed_str());
            lines.push((k, v.to_string()));
        }
        lines.retain(|(k, _)| *k != "haMasterAddress");
        lines.extend([
            ("listenPort", port.to_string()),
            ("bindAddress", "127.0.0.1".to_string()),
            ("namesrvAddr", nsa.clone()),
            ("storePathRootDir", root.display().to_string()),
            ("storePathCommitLog", root.join("commitlog").display().to_string()),
        ]);
        settings_from(&lines)
    };
    let master = Broker::start(golden_conf(&mroot, broker_port())).await.unwrap();
    let slave = Broker::start(golden_conf(&sroot, broker_port())).await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(slave.state().flavor, rmq_store::config_files::JavaFlavor::V4_9_8);
    assert!(slave.state().meta.topics.contains("OnlyOnSlave"));

    let synced = wait_until(20, || {
        scfg.join("delayOffset.json").exists()
            && scfg.join("subscriptionGroup.json").exists()
            && !slave.state().meta.topics.contains("OnlyOnSlave")
    })
    .await;
    assert!(synced, "slave never synced from {}", master.broker_addr());
    let after = started.elapsed().as_secs_f64();
    assert!((2.5..6.0).contains(&after), "4.9.8 syncs 3 s after start, not {after:.1} s");
    let java_master = src.join("master/config");
    let java_slave = src.join("slave/config");
    for f in ["topics.json", "subscriptionGroup.json", "consumerOffset.json"] {
        assert_eq!(read(&scfg.join(f)), read(&java_master.join(f)), "{f} differs from the Java master's");
    }
    assert_eq!(read(&scfg.join("delayOffset.json")), read(&java_slave.join("delayOffset.json")));
    assert_eq!(read(&scfg.join("delayOffset.json")), r#"{"offsetTable":{1:1}}"#);
    // the stale table went to .bak, like MixAll.string2File
    assert!(read(&scfg.join("topics.json.bak")).contains("OnlyOnSlave"));
    // the synced tables are live: the slave now has the master's dataVersion
    let c = Client::new(ClientConfig::default());
    let m = TopicsFile::from_json_bytes(&get_all(&c, master.broker_addr(), RequestCode::GET_ALL_TOPIC_CONFIG).await)
        .unwrap();
    let s = TopicsFile::from_json_bytes(&get_all(&c, slave.broker_addr(), RequestCode::GET_ALL_TOPIC_CONFIG).await)
        .unwrap();
    assert_eq!(s.data_version, m.data_version);
    assert_eq!(s.topic_config_table, m.topic_config_table);
    assert_eq!(slave.state().meta.delay_offsets.get(1), 1);

    slave.shutdown().await;
    master.shutdown().await;
    ns.shutdown().await;
}

async fn update_offset(c: &Client, addr: &str, group: &str, topic: &str, queue_id: i32, offset: i64) {
    let mut cmd = RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET);
    UpdateConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        commit_offset: offset,
    }
    .apply_to(&mut cmd);
    let r = request(c, addr, cmd).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{:?}", r.remark);
}

/// Fresh stores (5.3.3 flavor): first sync 10 s after start. The 5.x quirks: the
/// slave's topic and group versions end up past the master's (one bump per delete
/// and re-create), offsets are merged key by key and take the master's version,
/// and the delay-offset file is the master's answer verbatim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_533_slave_takes_master_metadata() {
    let d = tempfile::tempdir().unwrap();
    let ns = NameServer::start(NamesrvSettings::for_test(&d.path().join("ns"))).await.unwrap();
    let nsa = ns.local_addr().to_string();
    let c = Client::new(ClientConfig::default());

    let mroot = d.path().join("master");
    let master = Broker::start(settings_from(&base(&mroot, &nsa, broker_port(), "broker-f"))).await.unwrap();
    let ma = master.broker_addr().to_string();
    let mut cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC);
    for (k, v) in [
        ("topic", "SyncTopic"),
        ("defaultTopic", "TBW102"),
        ("readQueueNums", "4"),
        ("writeQueueNums", "4"),
        ("perm", "6"),
        ("topicFilterType", "SINGLE_TAG"),
    ] {
        cmd.set_ext(k, v);
    }
    assert_eq!(request(&c, &ma, cmd).await.response_code(), ResponseCode::SUCCESS);
    let body = br#"{"groupName":"sync_group","retryMaxTimes":5}"#.to_vec();
    let cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).with_body(body);
    assert_eq!(request(&c, &ma, cmd).await.response_code(), ResponseCode::SUCCESS);
    update_offset(&c, &ma, "sync_group", "SyncTopic", 1, 5).await;

    let sroot = d.path().join("slave");
    let mut lines = base(&sroot, &nsa, broker_port(), "broker-f");
    lines.extend([("brokerRole", "SLAVE".to_string()), ("brokerId", "1".to_string())]);
    let slave = Broker::start(settings_from(&lines)).await.unwrap();
    let started = std::time::Instant::now();
    let sa = slave.broker_addr().to_string();
    let pre_topics = TopicsFile::from_json_bytes(&get_all(&c, &sa, RequestCode::GET_ALL_TOPIC_CONFIG).await).unwrap();
    let pre_groups =
        SubscriptionGroupFile::from_json_bytes(&get_all(&c, &sa, RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG).await)
            .unwrap();
    assert!(!pre_topics.topic_config_table.contains_key("SyncTopic"));
    // a commit the master does not know, made on the slave before the first sync
    update_offset(&c, &sa, "TOOLS_CONSUMER", "TBW102", 0, 3).await;

    assert!(
        wait_until(25, || slave.state().meta.topics.contains("SyncTopic")).await,
        "no sync within 25 s (5.x: first after 10 s)"
    );
    let after = started.elapsed().as_secs_f64();
    assert!((9.5..14.0).contains(&after), "5.3.3 syncs 10 s after start, not {after:.1} s");
    // all four are written in one round; give the round time to finish
    let scfg = sroot.join("config");
    assert!(
        wait_until(5, || scfg.join("delayOffset.json").exists() && slave.state().meta.groups.contains("sync_group"))
            .await
    );

    let m_topics = TopicsFile::from_json_bytes(&get_all(&c, &ma, RequestCode::GET_ALL_TOPIC_CONFIG).await).unwrap();
    let s_topics = TopicsFile::from_json_bytes(&get_all(&c, &sa, RequestCode::GET_ALL_TOPIC_CONFIG).await).unwrap();
    assert_eq!(s_topics.topic_config_table, m_topics.topic_config_table);
    let kept = pre_topics.topic_config_table.keys().filter(|k| m_topics.topic_config_table.contains_key(*k)).count();
    let (mv, sv) = (m_topics.data_version.unwrap(), s_topics.data_version.unwrap());
    assert_eq!(sv.counter, mv.counter + (kept + m_topics.topic_config_table.len()) as i64);

    let m_groups =
        SubscriptionGroupFile::from_json_bytes(&get_all(&c, &ma, RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG).await)
            .unwrap();
    let s_groups =
        SubscriptionGroupFile::from_json_bytes(&get_all(&c, &sa, RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG).await)
            .unwrap();
    assert_eq!(s_groups.subscription_group_table, m_groups.subscription_group_table);
    assert_eq!(s_groups.subscription_group_table["sync_group"].retry_max_times, 5);
    let kept = pre_groups
        .subscription_group_table
        .keys()
        .filter(|k| m_groups.subscription_group_table.contains_key(*k))
        .count();
    assert_eq!(
        s_groups.data_version.unwrap().counter,
        m_groups.data_version.unwrap().counter + (kept + m_groups.subscription_group_table.len()) as i64
    );

    let m_off =
        ConsumerOffsetFile::from_json_bytes(&get_all(&c, &ma, RequestCode::GET_ALL_CONSUMER_OFFSET).await).unwrap();
    let s_off =
        ConsumerOffsetFile::from_json_bytes(&get_all(&c, &sa, RequestCode::GET_ALL_CONSUMER_OFFSET).await).unwrap();
    assert_eq!(s_off.offset_table["SyncTopic@sync_group"][&1], 5);
    assert_eq!(s_off.offset_table["TBW102@TOOLS_CONSUMER"][&0], 3, "putAll keeps the slave's own keys");
    assert_eq!(s_off.data_version, m_off.data_version);

    let m_delay = get_all(&c, &ma, RequestCode::GET_ALL_DELAY_OFFSET).await;
    assert_eq!(std::fs::read(scfg.join("delayOffset.json")).unwrap(), m_delay, "written verbatim");
    DelayOffsetFile::from_json_bytes(&m_delay).unwrap();
    // persisted: the slave's files hold what it synced
    let on_disk = TopicsFile::from_json_bytes(read(&scfg.join("topics.json")).as_bytes()).unwrap();
    assert!(on_disk.topic_config_table.contains_key("SyncTopic"));
    assert!(read(&scfg.join("subscriptionGroup.json")).contains("\"sync_group\""));
    assert!(read(&scfg.join("consumerOffset.json")).contains("SyncTopic@sync_group"));

    slave.shutdown().await;
    master.shutdown().await;
    ns.shutdown().await;
}

/// A fake master answering badly, one way per request.
struct BadMaster;

impl rmq_remoting::transport::RequestHandler for BadMaster {
    fn handle(
        &self,
        _: &rmq_remoting::transport::Channel,
        req: RemotingCommand,
    ) -> rmq_remoting::transport::BoxFuture<Option<RemotingCommand>> {
        let ok = |body: &[u8]| RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None).with_body(body.to_vec());
        let resp = match req.request_code() {
            RequestCode::GET_ALL_TOPIC_CONFIG => ok(b"{\"dataVersion\":{\"counter\":1,"),
            RequestCode::GET_ALL_CONSUMER_OFFSET => {
                RemotingCommand::response_to(&req, ResponseCode::SYSTEM_ERROR, Some("boom".into()))
            }
            RequestCode::GET_ALL_DELAY_OFFSET => RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None),
            _ => ok(br#"{"subscriptionGroupTable":{}}"#),
        };
        Box::pin(async move { Some(resp) })
    }
}

/// Bad answers are reported item by item (with the master, and the byte offset of a
/// JSON error) and change nothing; no master, or the master being us, syncs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_master_answers_change_nothing() {
    use rmq_broker::slave_sync::{SlaveSync, SyncError};
    use rmq_remoting::transport::{Server, ServerConfig};
    let d = tempfile::tempdir().unwrap();
    let port = broker_port();
    let mut servers = Vec::new();
    for p in [port, port - 2] {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", p)).await.unwrap();
        servers.push(Server::serve(l, ServerConfig::default(), std::sync::Arc::new(BadMaster)));
    }
    let mut lines = base(&d.path().join("slave"), "", broker_port(), "broker-x");
    lines.retain(|(k, _)| *k != "namesrvAddr");
    lines.extend([("brokerRole", "SLAVE".to_string()), ("brokerId", "1".to_string())]);
    let slave = Broker::start(settings_from(&lines)).await.unwrap();
    let before = (slave.state().meta.topics.serialize_wrapper(), slave.state().meta.groups.all());

    let sync = SlaveSync::new();
    assert!(sync.sync_all(slave.state(), slave.broker_addr()).await.is_none(), "no master known");
    sync.set_master_addr(Some(slave.broker_addr().to_string()));
    assert!(sync.sync_all(slave.state(), slave.broker_addr()).await.is_none(), "the master is us");
    let master = format!("127.0.0.1:{port}");
    sync.set_master_addr(Some(master.clone()));
    let r = sync.sync_all(slave.state(), slave.broker_addr()).await.unwrap();
    assert!(!r.is_ok());
    match &r.topics {
        Err(e @ SyncError::Body { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&master) && text.contains("offset"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&r.consumer_offsets, Err(SyncError::Refused { code, remark, .. }) if *code == ResponseCode::SYSTEM_ERROR && remark == "boom"),
        "{:?}",
        r.consumer_offsets
    );
    assert!(matches!(&r.delay_offsets, Err(SyncError::NoBody { .. })), "{:?}", r.delay_offsets);
    assert!(matches!(&r.groups, Err(SyncError::NoDataVersion { .. })), "{:?}", r.groups);
    assert_eq!((slave.state().meta.topics.serialize_wrapper(), slave.state().meta.groups.all()), before);
    assert!(!d.path().join("slave/config/delayOffset.json").exists());

    slave.shutdown().await;
    for s in servers {
        s.shutdown().await;
    }
}
