//! Every golden config file (and its `.bak`) read into the typed structs and
//! written back in its own Java flavor must reproduce the file byte for byte.

use std::path::{Path, PathBuf};

use super::*;
use crate::testutil::GOLDEN;

/// Golden `config/` files named `name` or `name.bak`, with the flavor of the broker that wrote them.
fn golden_files(name: &str) -> Vec<(PathBuf, JavaFlavor)> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(GOLDEN)];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let file = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if dir.ends_with("config") && (file == name || file == format!("{name}.bak")) {
                let flavor =
                    if p.to_string_lossy().contains("java-4.9.8") { JavaFlavor::V4_9_8 } else { JavaFlavor::V5_3_3 };
                out.push((p, flavor));
            }
        }
    }
    out.sort();
    out
}

fn other(f: JavaFlavor) -> JavaFlavor {
    match f {
        JavaFlavor::V4_9_8 => JavaFlavor::V5_3_3,
        JavaFlavor::V5_3_3 => JavaFlavor::V4_9_8,
    }
}

/// Re-emits every golden copy of `T`'s file; returns how many were checked.
fn reproduce<T: ConfigFile>() -> usize {
    let files = golden_files(T::FILE_NAME);
    for (path, flavor) in &files {
        let text = std::fs::read(path).unwrap();
        let layout = Layout::of_text(&text);
        let typed = T::from_json_bytes(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let out = typed.to_json(*flavor, layout);
        assert_eq!(out, String::from_utf8_lossy(&text), "{} ({flavor:?})", path.display());
        // Through the other flavor and back: the 5.x-only defaults dropped for 4.9.8
        // (or added for 5.3.3) come back exactly.
        let there = T::from_json_bytes(typed.to_json(other(*flavor), layout).as_bytes()).unwrap();
        assert_eq!(there.to_json(*flavor, layout), out, "{} via {:?}", path.display(), other(*flavor));
        // And the load path picks the same content.
        if path.extension().is_some_and(|e| e == "json") {
            let loaded = load::<T>(path).unwrap();
            assert_eq!(loaded.from, LoadedFrom::Main);
            assert_eq!(loaded.layout, layout);
            assert_eq!(loaded.value, typed);
        }
    }
    files.len()
}

fn golden_present() -> bool {
    let present = Path::new(GOLDEN).is_dir();
    if !present {
        println!("note: no golden data at {GOLDEN}; skipped");
    }
    present
}

#[test]
fn golden_topics() {
    if golden_present() {
        assert!(reproduce::<TopicsFile>() >= 20);
    }
}

#[test]
fn golden_consumer_offsets() {
    if golden_present() {
        assert!(reproduce::<ConsumerOffsetFile>() >= 20);
    }
}

#[test]
fn golden_subscription_groups() {
    if golden_present() {
        assert!(reproduce::<SubscriptionGroupFile>() >= 15);
    }
}

#[test]
fn golden_delay_offsets() {
    if golden_present() {
        assert!(reproduce::<DelayOffsetFile>() >= 20);
    }
}

#[test]
fn golden_consumer_filters() {
    if golden_present() {
        assert!(reproduce::<ConsumerFilterFile>() >= 20);
    }
}

#[test]
fn golden_consumer_order_info() {
    if golden_present() {
        assert_eq!(reproduce::<ConsumerOrderInfoFile>(), 4);
    }
}

#[test]
fn golden_values_are_typed() {
    if !golden_present() {
        return;
    }
    let root = Path::new(GOLDEN);
    let cfg = root.join("java-5.3.3/controller-mode/broker-c-n0/config");
    let off = load_in::<ConsumerOffsetFile>(&cfg).unwrap().value;
    assert_eq!(off.offset("SmallTopicA", "cg_small_partial", 3), Some(10));
    assert_eq!(off.group_topic_map()["cg_small_partial"], ["SmallTopicA"]);
    assert!(off.extra.is_empty(), "groupTopicMap is computed, not carried");
    let topics = load_in::<TopicsFile>(&cfg).unwrap().value;
    assert_eq!(topics.data_version.as_ref().map(|d| (d.counter, d.state_version)), Some((70, 2)));
    assert_eq!(topics.topic_config_table["SCHEDULE_TOPIC_XXXX"].read_queue_nums, 18);
    let subs = load_in::<SubscriptionGroupFile>(&cfg).unwrap().value;
    assert_eq!(subs.subscription_group_table["SELF_TEST_C_GROUP"].consume_timeout_minute, 15);
    let delay = load_in::<DelayOffsetFile>(&cfg).unwrap().value;
    assert_eq!(delay.offset_table[&1], 1);

    let cfg4 = root.join("java-4.9.8/plain/config");
    let off4 = load_in::<ConsumerOffsetFile>(&cfg4).unwrap().value;
    assert!(off4.data_version.is_none());
    assert_eq!(off4.offset("GoldenTopicC", "cg_golden_partial", 0), Some(350));
    let delay4 = load_in::<DelayOffsetFile>(&cfg4).unwrap().value;
    assert_eq!(delay4.offset_table.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(), [(2, 1), (3, 1)]);
    let topics4 = load_in::<TopicsFile>(&cfg4).unwrap().value;
    assert!(topics4.topic_config_table.values().all(|t| t.attributes.is_empty() && t.extra.is_empty()));
}

/// What the `config_json` fuzz target checks, over every golden config file read as
/// every file type (a topics.json read as consumerOffset.json carries all of it as
/// unknown keys): written in either flavor and layout it reads back equal.
fn any_file_round_trips<T: ConfigFile>(text: &[u8]) {
    let Ok(t1) = T::from_json_bytes(text) else { return };
    for flavor in [JavaFlavor::V4_9_8, JavaFlavor::V5_3_3] {
        for layout in [Layout::Pretty, Layout::Compact] {
            let out = t1.to_json(flavor, layout);
            let t2 = T::from_json_bytes(out.as_bytes()).unwrap();
            assert_eq!(t2, t1, "{} {flavor:?} {layout:?}", T::FILE_NAME);
            assert_eq!(t2.to_json(flavor, layout), out);
        }
    }
}

#[test]
fn every_golden_file_as_every_type_round_trips() {
    if !golden_present() {
        return;
    }
    let mut n = 0;
    for name in
        ["topics.json", "consumerOffset.json", "subscriptionGroup.json", "delayOffset.json", "consumerFilter.json"]
    {
        for (path, _) in golden_files(name) {
            let text = std::fs::read(&path).unwrap();
            any_file_round_trips::<TopicsFile>(&text);
            any_file_round_trips::<ConsumerOffsetFile>(&text);
            any_file_round_trips::<SubscriptionGroupFile>(&text);
            any_file_round_trips::<DelayOffsetFile>(&text);
            any_file_round_trips::<ConsumerFilterFile>(&text);
            any_file_round_trips::<ConsumerOrderInfoFile>(&text);
            n += 1;
        }
    }
    assert!(n > 100);
}
