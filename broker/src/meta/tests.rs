//! Java's rules, one by one, on fresh stores.

use rmq_store::config_files::JavaFlavor;

use super::system::*;
use super::*;
use crate::config::BrokerSettings;

fn settings(dir: &std::path::Path) -> BrokerSettings {
    let mut s = BrokerSettings::defaults();
    s.broker.broker_cluster_name = "C".into();
    s.broker.broker_name = "b".into();
    s.store.store_path_root_dir = dir.display().to_string();
    s
}

fn fresh(flavor: JavaFlavor) -> (tempfile::TempDir, Meta) {
    let tmp = tempfile::tempdir().unwrap();
    let meta = Meta::load_with(&settings(tmp.path()), flavor).unwrap();
    (tmp, meta)
}

#[test]
fn start_up_topics_per_flavor() {
    let (_t, m4) = fresh(JavaFlavor::V4_9_8);
    let names4: Vec<String> =
        initial_topics(&settings(_t.path()).broker, true, false).into_iter().map(|t| t.topic_name).collect();
    assert_eq!(
        names4,
        [
            "SELF_TEST_TOPIC",
            "TBW102",
            "BenchmarkTest",
            "C",
            "b",
            "OFFSET_MOVED_EVENT",
            "SCHEDULE_TOPIC_XXXX",
            "C_REPLY_TOPIC"
        ]
    );
    assert_eq!(m4.topics.len(), 8);
    let (_t, m5) = fresh(JavaFlavor::V5_3_3);
    for t in
        ["rmq_sys_REVIVE_LOG_C", "rmq_sys_SYNC_BROKER_MEMBER_b", TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC, TIMER_TOPIC]
    {
        assert!(m5.topics.contains(t), "{t}");
        assert!(m5.topics.is_system_topic(t));
    }
    assert_eq!(m5.topics.get("rmq_sys_SYNC_BROKER_MEMBER_b").unwrap().perm, PERM_INHERIT);
    assert_eq!(m5.topics.get("TBW102").unwrap().write_queue_nums, 8);
    assert!(m5.topics.is_system_topic("C") && m5.topics.is_system_topic("C_REPLY_TOPIC"));
    assert!(!m5.topics.is_system_topic("Mine"));
    // Trace topic and disabled cluster/broker topics.
    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(tmp.path());
    s.broker.trace_topic_enable = true;
    s.broker.cluster_topic_enable = false;
    s.broker.broker_topic_enable = false;
    s.broker.auto_create_topic_enable = false;
    let m = Meta::load_with(&s, JavaFlavor::V5_3_3).unwrap();
    assert!(m.topics.contains(TRACE_TOPIC));
    assert!(!m.topics.contains("TBW102"));
    assert_eq!(m.topics.get("C").unwrap().perm, PERM_INHERIT);
    assert_eq!(m.topics.get("b").unwrap().perm, PERM_INHERIT);
    assert_eq!(m4.groups.all().len(), 7);
    assert_eq!(m5.groups.all().len(), 8);
}

#[test]
fn send_creates_topics_from_the_default_topic() {
    let (_t, m) = fresh(JavaFlavor::V5_3_3);
    let v0 = m.topics.data_version();
    // min(requested, TBW102 write queues = 8); perm without the inherit bit.
    let t = m.topics.create_topic_in_send("New", "TBW102", 16, 0).unwrap();
    assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (8, 8, 6));
    assert_eq!(m.topics.data_version().counter, v0.counter + 1);
    assert!(m.topics.is_dirty());
    let again = m.topics.create_topic_in_send_ex("New", "TBW102", 2, 0).unwrap();
    assert!(!again.is_created());
    let t = m.topics.create_topic_in_send("Small", "TBW102", 2, 1).unwrap();
    assert_eq!((t.write_queue_nums, t.topic_sys_flag), (2, 1));
    let t = m.topics.create_topic_in_send("Neg", "TBW102", -3, 0).unwrap();
    assert_eq!(t.write_queue_nums, 0);
    // A default without the inherit bit, or none at all: nothing.
    assert!(m.topics.create_topic_in_send("X", "SELF_TEST_TOPIC", 4, 0).is_none());
    assert!(m.topics.create_topic_in_send("X", "Nope", 4, 0).is_none());
    // autoCreateTopicEnable turned off later: TBW102 loses its inherit bit.
    m.topics.set_policy(TopicPolicy { auto_create_topic_enable: false });
    assert!(m.topics.create_topic_in_send("Y", "TBW102", 4, 0).is_none());
    assert_eq!(m.topics.get("TBW102").unwrap().perm, PERM_READ | PERM_WRITE);
}

#[test]
fn retry_topics_and_attributes() {
    let (_t, m) = fresh(JavaFlavor::V5_3_3);
    let c = m.topics.create_topic_in_send_back("%RETRY%g", 1, 6, false, 0);
    assert!(c.is_created());
    let c = m.topics.create_topic_in_send_back("%RETRY%g", 1, 6, true, 0);
    assert!(c.config().order);
    let mut t = TopicConfig::new("A", 4, 4, 6);
    t.attributes.insert("+message.type".into(), "FIFO".into());
    m.topics.update_with_attributes(t).unwrap();
    assert_eq!(m.topics.get("A").unwrap().attributes.get("message.type").map(String::as_str), Some("FIFO"));
    let mut t = TopicConfig::new("A", 4, 4, 6);
    t.attributes.insert("+queue.type".into(), "BatchCQ".into());
    let e = m.topics.update_with_attributes(t).unwrap_err();
    assert_eq!(e.to_string(), "attempt to update an unchangeable attribute. key: queue.type");
    assert!(m.topics.delete("A"));
    assert!(!m.topics.delete("A"));
}

#[test]
fn groups_auto_create_by_policy() {
    let (_t, m) = fresh(JavaFlavor::V5_3_3);
    let v = m.groups.data_version().counter;
    assert_eq!(m.groups.find_or_create("g1").unwrap().retry_max_times, 16);
    assert_eq!(m.groups.data_version().counter, v + 1);
    assert!(m.groups.find_or_create("bad group").is_none());
    assert!(m.groups.find_or_create(&"g".repeat(256)).is_none());
    m.groups.set_policy(GroupPolicy { auto_create_subscription_group: false, enable_create_sys_group: true });
    assert!(m.groups.find_or_create("g2").is_none());
    assert!(m.groups.find_or_create("CID_RMQ_SYS_X").is_some());
    assert!(m.groups.get("g1").is_some());
    m.groups.update_forbidden("g1", "T", 1, true);
    assert_eq!(m.groups.forbidden("g1", "T"), 2);
    m.groups.update_forbidden("g1", "T", 1, false);
    assert_eq!(m.groups.forbidden("g1", "T"), 0);
    assert!(m.groups.delete("g1"));
    assert!(m.groups.get("g1").is_none());
}

#[test]
fn offsets_commit_query_and_clean() {
    let (tmp, m) = fresh(JavaFlavor::V5_3_3);
    assert_eq!(m.offsets.query("g", "T", 0), -1);
    m.offsets.commit("127.0.0.1", "g", "T", 0, 5);
    m.offsets.commit("127.0.0.1", "g", "T", 1, 7);
    m.offsets.commit("127.0.0.1", "g", "U", 0, 1);
    m.offsets.commit("127.0.0.1", "h", "T", 0, 2);
    assert_eq!(m.offsets.query("g", "T", 1), 7);
    assert_eq!(m.offsets.offsets_of_group("g").len(), 3);
    let mut groups = m.offsets.groups_of_topic("T");
    groups.sort();
    assert_eq!(groups, ["g", "h"]);
    assert_eq!(m.offsets.query_pull("g", "T", 0), 5);
    m.offsets.commit_pull("g", "T", 0, 9);
    assert_eq!(m.offsets.query_pull("g", "T", 0), 9);
    m.offsets.assign_reset("T", "g", 0, 3);
    assert_eq!(m.offsets.query("g", "T", 0), 3);
    assert_eq!(m.offsets.take_reset("T", "g", 0), Some(3));
    m.offsets.remove_group("g");
    assert!(m.offsets.offsets_of_group("g").is_empty());
    assert_eq!(m.offsets.query("h", "T", 0), 2);
    m.offsets.remove_topic("T");
    assert_eq!(m.offsets.query("h", "T", 0), -1);

    m.delay_offsets.set(2, 10);
    assert_eq!(m.delay_offsets.get(2), 10);
    assert_eq!(m.delay_offsets.get(1), -1);
    m.offsets.commit("x", "g", "T", 0, 11);
    m.persist_dirty().unwrap();
    assert!(!m.offsets.is_dirty() && !m.delay_offsets.is_dirty());
    let again = Meta::load_with(&settings(tmp.path()), JavaFlavor::V5_3_3).unwrap();
    assert_eq!(again.offsets.query("g", "T", 0), 11);
    assert_eq!(again.delay_offsets.get(2), 10);
    assert_eq!(m.offsets.encode(), again.offsets.encode());
}

#[test]
fn version_steps_follow_the_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(tmp.path());
    s.broker.consumer_offset_update_version_step = 2;
    let m = Meta::load_with(&s, JavaFlavor::V5_3_3).unwrap();
    m.set_state_machine_version(3);
    let c0 = m.offsets.data_version().unwrap().counter;
    m.offsets.commit("x", "g", "T", 0, 1);
    assert_eq!(m.offsets.data_version().unwrap().counter, c0);
    m.offsets.commit("x", "g", "T", 0, 2);
    let dv = m.offsets.data_version().unwrap();
    assert_eq!((dv.counter, dv.state_version), (c0 + 1, 3));
    // 4.9.8 offsets carry no dataVersion at all.
    let (_t, m4) = fresh(JavaFlavor::V4_9_8);
    m4.offsets.commit("x", "g", "T", 0, 1);
    assert!(m4.offsets.data_version().is_none());
    assert_eq!(m4.offsets.encode(), "{\"offsetTable\":{\"T@g\":{0:1}}}");
}

#[test]
fn unreadable_file_falls_back_to_bak() {
    let (tmp, m) = fresh(JavaFlavor::V5_3_3);
    m.topics.create_topic_in_send("First", "TBW102", 4, 0).unwrap();
    m.topics.persist().unwrap();
    m.topics.create_topic_in_send("Second", "TBW102", 4, 0).unwrap();
    m.topics.persist().unwrap();
    let main = tmp.path().join("config/topics.json");
    std::fs::write(&main, b"{ not json").unwrap();
    let again = Meta::load_with(&settings(tmp.path()), JavaFlavor::V5_3_3).unwrap();
    // The .bak holds the state before the last persist.
    assert!(again.topics.contains("First"));
    assert!(!again.topics.contains("Second"));
    // Both unreadable: an error, not an empty table.
    std::fs::write(tmp.path().join("config/topics.json.bak"), b"{ nor this").unwrap();
    assert!(Meta::load_with(&settings(tmp.path()), JavaFlavor::V5_3_3).is_err());
}

#[test]
fn flavor_detection() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(detect_flavor(tmp.path()), JavaFlavor::V5_3_3);
    std::fs::write(
        tmp.path().join("topics.json"),
        br#"{"dataVersion":{"counter":1,"timestamp":2},"topicConfigTable":{"A":{"topicName":"A"}}}"#,
    )
    .unwrap();
    assert_eq!(detect_flavor(tmp.path()), JavaFlavor::V4_9_8);
    std::fs::write(
        tmp.path().join("topics.json"),
        br#"{"dataVersion":{"counter":1,"stateVersion":0,"timestamp":2},"topicConfigTable":{}}"#,
    )
    .unwrap();
    assert_eq!(detect_flavor(tmp.path()), JavaFlavor::V5_3_3);
}

#[test]
fn system_topic_list_contains_start_up_topics() {
    let (_t, m) = fresh(JavaFlavor::V5_3_3);
    let list = m.topics.system_topics();
    for t in ["TBW102", "C", "b", "C_REPLY_TOPIC", "CHECKPOINT_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC"] {
        assert!(list.iter().any(|x| x == t), "{t}");
    }
    assert_eq!(perm_to_string(7), "RWX");
    assert_eq!(perm_to_string(4), "R--");
}
