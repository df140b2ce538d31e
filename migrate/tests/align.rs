//! `align` on the golden master/slave pairs written by Java (aligned, slave
//! behind, slave ahead, and a fork made from them), on the 5.3.3
//! controller-mode pair, and on synthetic pairs for the cases the golden data
//! lacks (file boundaries, BLANK fillers, empty slaves, several files).

mod align_util;
mod common;

use std::collections::BTreeSet;
use std::path::Path;

use align_util::*;
use common::*;
use serde_json::Value;

const F1: &str = "commitlog/00000000000000262144";

fn steps(v: &Value) -> Vec<String> {
    v["steps"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap().to_string()).collect()
}

/// Applies, checks the result with `verify`, then checks that a second
/// apply finds nothing to do and writes nothing.
fn apply_and_recheck(master: &Path, slave: &Path, backup: &Path) -> Value {
    let (code, v) = align(master, slave, &["--apply", "--backup", backup.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert!(!slave.join(rmq_migrate::align::JOURNAL).exists(), "journal removed");
    let (code, vv) = verify_json(slave);
    assert_eq!(code, 0, "verify after align: {vv}");
    let before = snapshot(slave);
    let times = mtimes(slave);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = backup.with_extension("again");
    let (code, v2) = align(master, slave, &["--apply", "--backup", again.to_str().unwrap()]);
    assert_eq!((code, v2["status"].as_str()), (0, Some("aligned")), "{v2}");
    assert!(v2["steps"].as_array().unwrap().is_empty());
    assert!(!again.exists(), "no backup for a no-op");
    assert_same(&snapshot(slave), &before, "second apply");
    assert_eq!(mtimes(slave), times, "second apply touched no file");
    v
}

#[test]
fn golden_master_slave_is_aligned_and_apply_writes_nothing() {
    let t = copy_store("java-4.9.8/master-slave");
    let (m, s) = (t.path().join("master"), t.path().join("slave"));
    let (code, v) = align(&m, &s, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "aligned");
    assert_eq!(
        (v["common_prefix"].as_u64(), v["master_max"].as_u64(), v["slave_max"].as_u64()),
        (Some(418343), Some(418343), Some(418343))
    );
    let before = snapshot(t.path());
    let times = mtimes(t.path());
    let (code, v) = align(&m, &s, &["--apply"]);
    assert_eq!((code, v["applied"].is_null()), (0, true), "{v}");
    assert_same(&snapshot(t.path()), &before, "aligned apply");
    assert_eq!(mtimes(t.path()), times);
}

#[test]
fn golden_slave_behind_gets_the_masters_records() {
    let t = copy_store("java-4.9.8/diverged/slave-behind");
    let (m, s) = (t.path().join("master"), t.path().join("slave"));
    let (code, v) = align(&m, &s, &[]);
    assert_eq!(code, 1, "a dry run with work to do exits 1: {v}");
    assert_eq!(v["status"], "slave_behind");
    assert_eq!(
        (v["common_prefix"].as_u64(), v["master_max"].as_u64(), v["slave_max"].as_u64()),
        (Some(418343), Some(485386), Some(418343))
    );
    assert_eq!(v["divergence"], 485386 - 418343);
    assert_eq!(v["copied_messages"], 31, "W2 = 31 messages");
    assert_eq!(steps(&v), ["copy", "fix_derived", "clamp_offsets"]);
    assert!(v["removed_messages"].as_array().unwrap().is_empty());
    let master_before = snapshot(&m);
    apply_and_recheck(&m, &s, &t.path().join("bk"));
    // byte for byte up to 485386 (and the zero tail after it)
    let (mb, sb) = (std::fs::read(m.join(F1)).unwrap(), std::fs::read(s.join(F1)).unwrap());
    assert_eq!(&mb[..485386 - 262144], &sb[..485386 - 262144]);
    assert_same(&commitlog(&s), &commitlog(&m), "commitlog");
    // Java's dispatch rules give the slave the master's consume queues, index entries and checkpoint
    let sub = |d: &Path, p: &str| snapshot(&d.join(p));
    assert_same(&sub(&s, "consumequeue"), &sub(&m, "consumequeue"), "consume queues");
    assert_eq!(std::fs::read(s.join("checkpoint")).unwrap(), std::fs::read(m.join("checkpoint")).unwrap());
    let idx = |d: &Path| sub(d, "index").into_values().collect::<Vec<_>>();
    assert_eq!(idx(&s), idx(&m), "index contents");
    assert_same(&snapshot(&m), &master_before, "the master is never written");
}

/// Manifest messages of a workload phase: (offsetMsgId, UNIQ_KEY).
fn phase_ids(store: &Path, phase: &str) -> BTreeSet<(String, String)> {
    let m = read_json(&store.join("manifest.json"));
    m["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["workloadPhase"] == phase)
        .flat_map(|x| {
            x["stored"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["offsetMsgId"].as_str().unwrap().to_string(), x["uniqKey"].as_str().unwrap().to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn removed_ids(v: &Value) -> BTreeSet<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| (m["msgId"].as_str().unwrap().to_string(), m["uniqKey"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn golden_slave_ahead_is_cut_at_the_common_prefix() {
    let t = copy_store("java-4.9.8/diverged/slave-ahead");
    let (m, s) = (t.path().join("master"), t.path().join("slave"));
    let original = std::fs::read(s.join(F1)).unwrap();
    let (code, v) = align(&m, &s, &[]);
    assert_eq!(code, 1);
    // README: the slave holds W3 (11 messages) past the identical prefix [0, 485386)
    assert_eq!(v["status"], "slave_ahead");
    assert_eq!(
        (v["common_prefix"].as_u64(), v["master_max"].as_u64(), v["slave_max"].as_u64()),
        (Some(485386), Some(485386), Some(507839))
    );
    assert_eq!(v["divergence"], 507839 - 485386);
    assert_eq!(steps(&v), ["save_removed", "truncate", "fix_derived", "clamp_offsets"]);
    let w3 = phase_ids(&s, "W3");
    assert_eq!(w3.len(), 11);
    assert_eq!(removed_ids(&v["removed_messages"]), w3, "removed messages = the W3 messages, by msgId and UNIQ_KEY");

    let bk = t.path().join("bk");
    let v = apply_and_recheck(&m, &s, &bk);
    let (_, vv) = verify_json(&s);
    assert_eq!(vv["max_physical_offset"], 485386, "the slave ends at the common prefix");
    assert_same(&commitlog(&s), &commitlog(&m), "commitlog");
    assert_same(&snapshot(&s.join("consumequeue")), &snapshot(&m.join("consumequeue")), "consume queues");
    // what left the store is saved: the list and the bytes
    let list = read_json(&bk.join(rmq_migrate::align::MESSAGES_FILE));
    assert_eq!(removed_ids(&list["messages"]), w3);
    assert_eq!(removed_ids(&v["removed_messages"]), w3);
    let r = &list["removedBytes"].as_array().unwrap()[0];
    assert_eq!((r["from"].as_u64(), r["to"].as_u64()), (Some(485386 - 262144), Some(507839 - 262144)));
    let saved = std::fs::read(bk.join(r["savedAs"].as_str().unwrap())).unwrap();
    assert_eq!(saved, original[485386 - 262144..507839 - 262144]);
    let manifest = read_json(&bk.join("manifest.json"));
    assert!(manifest["files"].as_array().unwrap().iter().any(|f| f["path"] == "checkpoint"), "{manifest}");
}

/// slave-ahead/slave with its W2 records (418343..485386) stored by another
/// broker: both sides hold different records from 418343 on, a fork.
pub fn forked_pair() -> tempfile::TempDir {
    let t = copy_store("java-4.9.8/diverged/slave-ahead");
    restamp(&t.path().join("slave"), 418343, 485386);
    t
}

#[test]
fn golden_fork_is_cut_then_filled_from_the_master() {
    let t = forked_pair();
    let (m, s) = (t.path().join("master"), t.path().join("slave"));
    let (code, v) = align(&m, &s, &[]);
    assert_eq!(code, 1);
    assert_eq!(v["status"], "forked");
    assert_eq!(v["common_prefix"], 418343);
    assert_eq!(steps(&v), ["save_removed", "truncate", "fix_derived", "copy", "fix_derived", "clamp_offsets"]);
    let mut want = phase_ids(&s, "W2");
    want.extend(phase_ids(&s, "W3"));
    assert_eq!(removed_ids(&v["removed_messages"]), want);
    apply_and_recheck(&m, &s, &t.path().join("bk"));
    assert_same(&commitlog(&s), &commitlog(&m), "commitlog");
    assert_same(&snapshot(&s.join("consumequeue")), &snapshot(&m.join("consumequeue")), "consume queues");
}

#[test]
fn offsets_past_a_queues_new_end_are_clamped_in_the_files_own_format() {
    let t = copy_store("java-4.9.8/diverged/slave-ahead");
    let (m, s) = (t.path().join("master"), t.path().join("slave"));
    // offsets at the slave's queue ends; W3 removes queue offsets 18.. of queues 0,1,3 and 19.. of queue 2
    let text = "{\n\t\"offsetTable\":{\n\t\t\"SmallTopicA@cg_small_partial\":{0:21,1:20,2:22,3:21\n\t\t}\n\t}\n}";
    std::fs::write(s.join("config/consumerOffset.json"), text).unwrap();
    let (_, v) = align(&m, &s, &[]);
    let clamp = v["steps"].as_array().unwrap().iter().find(|s| s["action"] == "clamp_offsets").unwrap();
    assert_eq!(clamp["expected"].as_array().unwrap().len(), 4, "{clamp}");
    let (code, v) = align(&m, &s, &["--apply", "--no-backup"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["applied"]["clamps"], clamp["expected"], "what was predicted is what happened");
    let got = std::fs::read_to_string(s.join("config/consumerOffset.json")).unwrap();
    assert_eq!(got, "{\n\t\"offsetTable\":{\n\t\t\"SmallTopicA@cg_small_partial\":{0:18,1:18,2:19,3:18\n\t\t}\n\t}\n}");
    assert_eq!(std::fs::read_to_string(s.join("config/consumerOffset.json.bak")).unwrap(), text);
    // --no-backup still saves what was removed
    let bk = v["backup"].as_str().unwrap();
    assert!(Path::new(bk).join(rmq_migrate::align::MESSAGES_FILE).exists());
    assert!(!Path::new(bk).join("manifest.json").exists(), "no copies of changed files");
}

#[test]
fn controller_mode_pair_is_aligned_and_a_forked_5x_slave_takes_the_masters_epochs() {
    let t = copy_store("java-5.3.3/controller-mode");
    let (m, s) = (t.path().join("broker-c-n1"), t.path().join("broker-c-n0"));
    let (code, v) = align(&m, &s, &[]);
    assert_eq!((code, v["status"].as_str(), v["common_prefix"].as_u64()), (0, Some("aligned"), Some(1862259)), "{v}");
    // the slave's last message (SmallTopicA, 200000 B, after the failover) stored differently, as if it
    // had been written by another master in an epoch 3 starting there
    let d = read_json(&s.join("store-dump.json"));
    let last = d["messages"].as_array().unwrap().iter().rev().find(|r| r["kind"] == "MESSAGE").unwrap().clone();
    let off = last["physicalOffset"].as_u64().unwrap();
    let f = s.join("commitlog/00000000000001048576");
    let pos = off - 1048576 + 56;
    let ts = u64::from_be_bytes(std::fs::read(&f).unwrap()[pos as usize..pos as usize + 8].try_into().unwrap());
    patch(&f, pos, &(ts + 1).to_be_bytes());
    let lines = format!("1-0\n2-1656429\n3-{off}\n");
    let crc = rmq_store::record::crc32_masked(lines.as_bytes());
    std::fs::write(s.join("epochFileCheckpoint"), format!("3\n{crc}\n{lines}")).unwrap();
    let (code, v) = align(&m, &s, &[]);
    assert_eq!(code, 1);
    assert_eq!((v["status"].as_str(), v["common_prefix"].as_u64()), (Some("forked"), Some(off)), "{v}");
    assert_eq!(steps(&v).last().map(String::as_str), Some("rewrite_epoch"));
    apply_and_recheck(&m, &s, &t.path().join("bk"));
    assert_eq!(
        std::fs::read(s.join("epochFileCheckpoint")).unwrap(),
        std::fs::read(m.join("epochFileCheckpoint")).unwrap()
    );
    assert_same(&commitlog(&s), &commitlog(&m), "commitlog");
}
