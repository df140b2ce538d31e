//! Shapes the golden data does not cover, unknown keys, and the load/write rules.

use indexmap::IndexMap;

use super::*;

const FILTER_TEXT: &str = "{\n\t\"filterDataByTopic\":{\n\t\t\"T\":{\n\t\t\t\"groupFilterData\":{\n\t\t\t\t\"G\":{\n\t\t\t\t\t\"bloomFilterData\":{\n\t\t\t\t\t\t\"bitNum\":112,\n\t\t\t\t\t\t\"bitPos\":[14,59,39]\n\t\t\t\t\t},\n\t\t\t\t\t\"bornTime\":1609123996497,\n\t\t\t\t\t\"clientVersion\":1609124147160,\n\t\t\t\t\t\"consumerGroup\":\"G\",\n\t\t\t\t\t\"dead\":false,\n\t\t\t\t\t\"deadTime\":0,\n\t\t\t\t\t\"expression\":\"(age is not null and age >=20)\",\n\t\t\t\t\t\"expressionType\":\"SQL92\",\n\t\t\t\t\t\"topic\":\"T\"\n\t\t\t\t}\n\t\t\t},\n\t\t\t\"topic\":\"T\"\n\t\t}\n\t}\n}";

#[test]
fn consumer_filter_with_data() {
    let f = ConsumerFilterFile::from_json_bytes(FILTER_TEXT.as_bytes()).unwrap();
    let d = &f.filter_data_by_topic["T"].group_filter_data["G"];
    assert_eq!(d.expression_type.as_deref(), Some("SQL92"));
    assert_eq!(d.bloom_filter_data.as_ref().unwrap().bit_pos.as_deref(), Some(&[14, 59, 39][..]));
    assert!(!d.is_dead() && d.extra.is_empty());
    for flavor in [JavaFlavor::V4_9_8, JavaFlavor::V5_3_3] {
        assert_eq!(f.to_json(flavor, Layout::Pretty), FILTER_TEXT);
    }
    // `dead` is recomputed from the times.
    let mut dead = f.clone();
    dead.filter_data_by_topic["T"].group_filter_data["G"].dead_time = 1609123996497;
    assert!(dead.to_json(JavaFlavor::V5_3_3, Layout::Compact).contains("\"dead\":true"));
}

#[test]
fn consumer_order_info_with_data() {
    // Layout as the fastjson emitter model writes a bean under a number-keyed map (the
    // golden 5.3.3 files only hold an empty table, so this nesting is not Java-verified).
    let text = "{\n\t\"table\":{\n\t\t\"T@G\":{0:{\n\t\t\t\t\"a\":\"att\",\n\t\t\t\t\"cm\":1,\n\t\t\t\t\"i\":30000,\n\t\t\t\t\"l\":1795292857394,\n\t\t\t\t\"o\":[\n\t\t\t\t\t5,\n\t\t\t\t\t1\n\t\t\t\t],\n\t\t\t\t\"oc\":{6:2\n\t\t\t\t},\n\t\t\t\t\"ot\":{6:1795292887394\n\t\t\t\t},\n\t\t\t\t\"popTime\":1795292857000\n\t\t\t}\n\t\t}\n\t}\n}";
    let f = ConsumerOrderInfoFile::from_json_bytes(text.as_bytes()).unwrap();
    let info = &f.table["T@G"][&0];
    assert_eq!(info.offset_list.as_deref(), Some(&[5, 1][..]));
    assert_eq!(info.offset_next_visible_time.as_ref().unwrap()[&6], 1795292887394);
    assert_eq!(info.attempt_id.as_deref(), Some("att"));
    assert_eq!(f.to_json(JavaFlavor::V5_3_3, Layout::Pretty), text);
    let compact = f.to_json(JavaFlavor::V5_3_3, Layout::Compact);
    assert!(compact.starts_with(r#"{"table":{"T@G":{0:{"a":"att","cm":1,"i":30000"#), "{compact}");
    assert_eq!(ConsumerOrderInfoFile::from_json_bytes(compact.as_bytes()).unwrap(), f);
}

#[test]
fn unknown_keys_survive_at_every_level() {
    let text = r#"{"dataVersion":{"counter":1,"future":[1,{"x":"y"}],"timestamp":2},"operatorNote":"keep me",
        "topicConfigTable":{"T":{"perm":6,"topicName":"T","zz":{"deep":true}}}}"#;
    let t = TopicsFile::from_json_bytes(text.as_bytes()).unwrap();
    assert_eq!(t.extra.get("operatorNote").and_then(|v| v.as_str()), Some("keep me"));
    let out = t.to_json(JavaFlavor::V4_9_8, Layout::Compact);
    assert_eq!(
        out,
        r#"{"dataVersion":{"counter":1,"future":[1,{"x":"y"}],"timestamp":2},"operatorNote":"keep me","topicConfigTable":{"T":{"order":false,"perm":6,"readQueueNums":16,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":16,"zz":{"deep":true}}}}"#
    );
    assert_eq!(TopicsFile::from_json_bytes(out.as_bytes()).unwrap(), t);
}

#[test]
fn five_x_settings_survive_a_4_9_8_write() {
    let mut g = SubscriptionGroupConfig::new("g");
    g.consume_message_orderly = true;
    g.attributes.insert("k".into(), "v".into());
    let mut f = SubscriptionGroupFile::default();
    f.subscription_group_table.insert("g".into(), g);
    let v4 = f.to_json(JavaFlavor::V4_9_8, Layout::Compact);
    assert_eq!(
        v4,
        r#"{"subscriptionGroupTable":{"g":{"attributes":{"k":"v"},"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"consumeMessageOrderly":true,"groupName":"g","notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}}}"#
    );
    assert_eq!(SubscriptionGroupFile::from_json_bytes(v4.as_bytes()).unwrap(), f);
}

#[test]
fn lenient_reading() {
    // Quoted integer keys, numbers as strings, nulls, a null table.
    let off = ConsumerOffsetFile::from_json_bytes(br#"{"offsetTable":{"t@g":{"0":"5",1:7},"x@y":null},"junk":null}"#)
        .unwrap();
    assert_eq!(off.offset("t", "g", 0), Some(5));
    assert!(off.offset_table["x@y"].is_empty());
    assert!(off.extra.is_empty());
    assert_eq!(DelayOffsetFile::from_json_bytes(b"null").unwrap(), DelayOffsetFile::default());
    assert_eq!(TopicsFile::from_json_bytes(b"{}").unwrap(), TopicsFile::default());
}

#[test]
fn errors_name_the_offset() {
    match TopicsFile::from_json_bytes(b"{\"topicConfigTable\":{\"T\":{\"perm\":}}}") {
        Err(JsonError::Syntax { offset, .. }) => assert_eq!(offset, 33),
        other => panic!("{other:?}"),
    }
    match ConsumerOffsetFile::from_json_bytes(br#"{"offsetTable":{"t@g":{"zero":5}}}"#) {
        Err(JsonError::Shape { file, message }) => {
            assert_eq!(file, "consumerOffset.json");
            assert!(message.contains("zero"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(DelayOffsetFile::from_json_bytes(b"[1,2]").is_err());
    assert!(DelayOffsetFile::from_json_bytes(b"\xff").is_err());
}

fn sample_offsets(n: i64) -> ConsumerOffsetFile {
    let mut f = ConsumerOffsetFile::default();
    f.commit_offset("T", "G", 0, n);
    f
}

#[test]
fn load_falls_back_to_bak() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consumerOffset.json");
    let bak = dir.path().join("consumerOffset.json.bak");

    // Nothing at all: empty tables, like Java.
    let l = load::<ConsumerOffsetFile>(&path).unwrap();
    assert_eq!((l.from, l.value), (LoadedFrom::Missing, ConsumerOffsetFile::default()));

    std::fs::write(&bak, sample_offsets(1).to_json(JavaFlavor::V4_9_8, Layout::Compact)).unwrap();
    for main in [None, Some(""), Some("{\"offsetTable\":{"), Some("{\"offsetTable\":5}")] {
        let _ = std::fs::remove_file(&path);
        if let Some(m) = main {
            std::fs::write(&path, m).unwrap();
        }
        let l = load::<ConsumerOffsetFile>(&path).unwrap();
        assert_eq!(l.from, LoadedFrom::Backup, "{main:?}");
        assert_eq!(l.layout, Layout::Compact);
        assert_eq!(l.value.offset("T", "G", 0), Some(1));
        assert_eq!(l.main_error.is_some(), main.is_some_and(|m| !m.is_empty()), "{main:?}");
    }

    // Broken file, no usable backup: an error naming the file and offset.
    std::fs::write(&path, "{\"offsetTable\":{").unwrap();
    std::fs::remove_file(&bak).unwrap();
    let e = load::<ConsumerOffsetFile>(&path).unwrap_err();
    assert_eq!((e.path(), e.offset()), (path.as_path(), Some(16)));
    assert!(e.to_string().contains("consumerOffset.json: invalid JSON at offset 16"), "{e}");
    std::fs::write(&bak, "[").unwrap();
    let e = load::<ConsumerOffsetFile>(&path).unwrap_err();
    assert!(matches!(e, ConfigFileError::NoUsableCopy { .. }), "{e}");
    assert!(e.to_string().contains(".bak: invalid JSON at offset 1"), "{e}");
    // Empty main file with a broken backup: the backup's error (Java fails to start too).
    std::fs::write(&path, "").unwrap();
    let e = load::<ConsumerOffsetFile>(&path).unwrap_err();
    assert_eq!(e.path(), bak.as_path());
}

#[test]
fn write_keeps_previous_content_in_bak() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    let path = cfg.join("consumerOffset.json");
    let bak = cfg.join("consumerOffset.json.bak");

    write_in(&cfg, &sample_offsets(1), JavaFlavor::V4_9_8, Layout::Pretty).unwrap();
    assert!(!bak.exists());
    let first = std::fs::read_to_string(&path).unwrap();
    assert_eq!(first, "{\n\t\"offsetTable\":{\n\t\t\"T@G\":{0:1\n\t\t}\n\t}\n}");

    write_in(&cfg, &sample_offsets(2), JavaFlavor::V4_9_8, Layout::Pretty).unwrap();
    assert_eq!(std::fs::read_to_string(&bak).unwrap(), first);
    assert_eq!(load_in::<ConsumerOffsetFile>(&cfg).unwrap().value.offset("T", "G", 0), Some(2));
    assert!(!cfg.join("consumerOffset.json.tmp").exists());

    // A corrupt current file is not copied over the good backup.
    std::fs::write(&path, "{corrupt").unwrap();
    write_in(&cfg, &sample_offsets(3), JavaFlavor::V5_3_3, Layout::Pretty).unwrap();
    assert_eq!(std::fs::read_to_string(&bak).unwrap(), first);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"groupTopicMap\":{\n\t\t\"G\":[\"T\"]\n\t}"), "{text}");
}

#[test]
fn group_topic_map_follows_java_hash_order() {
    // Groups land in a HashMap(128) and topics in a HashSet(8): bucket order, not insertion order.
    let mut f = ConsumerOffsetFile::default();
    for (t, g) in [("TopicB", "g2"), ("TopicA", "g1"), ("TopicC", "g1"), ("TopicA", "g2")] {
        f.commit_offset(t, g, 0, 1);
    }
    let m = f.group_topic_map();
    let cap = |n| rmq_common::java::sized_hashmap_capacity(128, n);
    let want: Vec<&str> = rmq_common::java::hashmap_order(["g2", "g1"], cap(2)).into_iter().collect();
    assert_eq!(m.keys().map(String::as_str).collect::<Vec<_>>(), want);
    let want_g1 = rmq_common::java::hashmap_order(["TopicA", "TopicC"], 8);
    assert_eq!(m["g1"], want_g1);
    let _: &IndexMap<String, Vec<String>> = &m;
}
