//! The managers against every golden broker's `config/` (Java 4.9.8 and 5.3.3):
//! loaded without loss, written back byte for byte, and the start-up system topics
//! equal to what the Java broker created.

use std::path::{Path, PathBuf};

use rmq_store::config_files::{
    ConfigFile, ConsumerOffsetFile, DelayOffsetFile, JavaFlavor, SubscriptionGroupFile, TopicsFile,
};
use rmq_store::testutil::GOLDEN;

use super::*;
use crate::config::BrokerSettings;

/// Golden `config/` directories.
fn golden_config_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(GOLDEN)];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "config") && p.join("topics.json").is_file() {
                    out.push(p.clone());
                }
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn flavor_of(p: &Path) -> JavaFlavor {
    if p.to_string_lossy().contains("java-4.9.8") {
        JavaFlavor::V4_9_8
    } else {
        JavaFlavor::V5_3_3
    }
}

/// The broker's settings from the `broker.conf` next to `config/`, rooted at a copy of it.
fn copy_store(config: &Path) -> (tempfile::TempDir, BrokerSettings) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("config");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(config).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    let mut s = BrokerSettings::defaults();
    s.apply_file(&config.parent().unwrap().join("broker.conf")).unwrap();
    s.store.store_path_root_dir = tmp.path().display().to_string();
    (tmp, s)
}

fn read<T: ConfigFile>(dir: &Path) -> T {
    T::from_json_bytes(&std::fs::read(dir.join(T::FILE_NAME)).unwrap()).unwrap()
}

fn present() -> bool {
    let ok = Path::new(GOLDEN).is_dir();
    if !ok {
        println!("note: no golden data at {GOLDEN}; skipped");
    }
    ok
}

#[test]
fn golden_stores_load_without_loss() {
    if !present() {
        return;
    }
    let dirs = golden_config_dirs();
    assert!(dirs.len() >= 13, "{dirs:?}");
    for dir in dirs {
        let (_tmp, settings) = copy_store(&dir);
        let meta = Meta::load(&settings).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert_eq!(meta.flavor, flavor_of(&dir), "{}", dir.display());
        let topics: TopicsFile = read(&dir);
        for (name, t) in &topics.topic_config_table {
            assert_eq!(meta.topics.get(name).as_ref(), Some(t), "{} topic {name}", dir.display());
        }
        assert_eq!(meta.topics.data_version(), topics.data_version.clone().unwrap());
        let groups: SubscriptionGroupFile = read(&dir);
        for (name, g) in &groups.subscription_group_table {
            assert_eq!(meta.groups.get(name).as_ref(), Some(g), "{} group {name}", dir.display());
        }
        let offsets: ConsumerOffsetFile = read(&dir);
        for (k, queues) in &offsets.offset_table {
            let (topic, group) = k.split_once('@').unwrap();
            for (q, o) in queues {
                assert_eq!(meta.offsets.query(group, topic, *q), *o, "{} {k} {q}", dir.display());
            }
        }
        let delay: DelayOffsetFile = read(&dir);
        for (level, o) in &delay.offset_table {
            assert_eq!(meta.delay_offsets.get(*level), *o, "{} level {level}", dir.display());
        }
    }
}

#[test]
fn golden_stores_persist_byte_for_byte() {
    if !present() {
        return;
    }
    for dir in golden_config_dirs() {
        let (tmp, settings) = copy_store(&dir);
        let meta = Meta::load(&settings).unwrap();
        meta.persist_all().unwrap();
        for name in ["topics.json", "subscriptionGroup.json", "consumerOffset.json", "delayOffset.json"] {
            let want = std::fs::read_to_string(dir.join(name)).unwrap();
            let got = std::fs::read_to_string(tmp.path().join("config").join(name)).unwrap();
            assert_eq!(got, want, "{} {name}", dir.display());
            // The previous content became the backup, as Java's string2File does.
            let bak = std::fs::read_to_string(tmp.path().join("config").join(format!("{name}.bak"))).unwrap();
            assert_eq!(bak, want);
        }
        // And a second load of what we wrote sees the same tables.
        let again = Meta::load(&settings).unwrap();
        assert_eq!(again.topics.all(), meta.topics.all());
        assert_eq!(again.groups.all(), meta.groups.all());
        assert_eq!(again.offsets.to_file(), meta.offsets.to_file());
        assert_eq!(again.delay_offsets.to_file(), meta.delay_offsets.to_file());
    }
}

/// Topics a Java broker makes after start for its own use (transactions on 4.9.8).
fn lazily_created(name: &str, flavor: JavaFlavor) -> bool {
    flavor == JavaFlavor::V4_9_8 && matches!(name, "RMQ_SYS_TRANS_HALF_TOPIC" | "RMQ_SYS_TRANS_OP_HALF_TOPIC")
}

#[test]
fn golden_system_topics_and_groups_match_java() {
    if !present() {
        return;
    }
    for dir in golden_config_dirs() {
        let flavor = flavor_of(&dir);
        let (_tmp, settings) = copy_store(&dir);
        let v5 = flavor == JavaFlavor::V5_3_3;
        let initial = initial_topics(&settings.broker, settings.store.timer_wheel_enable, v5);
        let file: TopicsFile = read(&dir);
        // Every topic Java wrote that no client or workload made is one we create at start, with
        // the same queues and perm; and every topic we create at start is in Java's file.
        for (name, t) in &file.topic_config_table {
            let user = name.starts_with("Golden") || name.starts_with("Small") || name.starts_with("%RETRY%");
            if user || lazily_created(name, flavor) {
                continue;
            }
            let ours = initial.iter().find(|i| &i.topic_name == name);
            assert_eq!(ours, Some(t), "{}: system topic {name}", dir.display());
        }
        for t in &initial {
            assert!(file.topic_config_table.contains_key(&t.topic_name), "{}: {}", dir.display(), t.topic_name);
        }
        let groups: SubscriptionGroupFile = read(&dir);
        for g in initial_groups(v5) {
            assert_eq!(groups.subscription_group_table.get(&g.group_name), Some(&g), "{}", dir.display());
        }
        let predefined = groups.subscription_group_table.keys().filter(|g| !g.starts_with("cg_")).count();
        assert_eq!(predefined, initial_groups(v5).len(), "{}", dir.display());
    }
}

/// A fresh 4.9.8 broker (WireCluster/broker-w, defaultTopicQueueNums=4) registers
/// exactly the table golden/java-4.9.8/wire/broker_start_register_namesrv.pcap shows.
#[test]
fn fresh_498_broker_registers_javas_table() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = BrokerSettings::defaults();
    s.broker.broker_cluster_name = "WireCluster".into();
    s.broker.broker_name = "broker-w".into();
    s.broker.default_topic_queue_nums = 4;
    s.store.store_path_root_dir = tmp.path().display().to_string();
    let meta = Meta::load_with(&s, JavaFlavor::V4_9_8).unwrap();
    let wrapper = meta.topics.serialize_wrapper();
    assert_eq!(wrapper.data_version.counter, 0);
    assert_eq!(wrapper.data_version.state_version, None);
    let mut json = String::from_utf8(rmq_remoting::protocol::body::encode(&wrapper.topic_config_table)).unwrap();
    json.insert_str(0, "\"topicConfigTable\":");
    let want = concat!(
        "\"topicConfigTable\":{",
        "\"SCHEDULE_TOPIC_XXXX\":{\"order\":false,\"perm\":6,\"readQueueNums\":18,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"SCHEDULE_TOPIC_XXXX\",\"topicSysFlag\":0,\"writeQueueNums\":18},",
        "\"WireCluster_REPLY_TOPIC\":{\"order\":false,\"perm\":6,\"readQueueNums\":1,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"WireCluster_REPLY_TOPIC\",\"topicSysFlag\":0,\"writeQueueNums\":1},",
        "\"SELF_TEST_TOPIC\":{\"order\":false,\"perm\":6,\"readQueueNums\":1,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"SELF_TEST_TOPIC\",\"topicSysFlag\":0,\"writeQueueNums\":1},",
        "\"WireCluster\":{\"order\":false,\"perm\":7,\"readQueueNums\":16,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"WireCluster\",\"topicSysFlag\":0,\"writeQueueNums\":16},",
        "\"broker-w\":{\"order\":false,\"perm\":7,\"readQueueNums\":1,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"broker-w\",\"topicSysFlag\":0,\"writeQueueNums\":1},",
        "\"TBW102\":{\"order\":false,\"perm\":7,\"readQueueNums\":4,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"TBW102\",\"topicSysFlag\":0,\"writeQueueNums\":4},",
        "\"BenchmarkTest\":{\"order\":false,\"perm\":6,\"readQueueNums\":1024,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"BenchmarkTest\",\"topicSysFlag\":0,\"writeQueueNums\":1024},",
        "\"OFFSET_MOVED_EVENT\":{\"order\":false,\"perm\":6,\"readQueueNums\":1,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"OFFSET_MOVED_EVENT\",\"topicSysFlag\":0,\"writeQueueNums\":1}}"
    );
    assert_eq!(json, want);
}
