//! `convert-dledger` on the golden DLedger group (Java 4.9.8, nodes n0..n2):
//! every message of the manifest survives with its topic, queue, queue offset
//! and body; the three nodes convert to identical stores; group mode picks
//! the leader and refuses nodes that disagree on committed entries; in-place
//! conversion backs up and survives being killed at any point; bad input is
//! reported with its file and offset.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use rmq_migrate::convert::{FAILPOINT_ENV, FAILPOINT_REACHED, MAP_NAME, MARKER};
use rmq_store::testutil::{assert_same, snapshot};
use rmq_store::ConsumeQueue;
use serde_json::Value;

const N0: &str = "java-4.9.8/dledger/n0";
const DATA1: &str = "dledger-n0/data/00000000000001048576";

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `convert-dledger --json ARGS`: (exit code, report).
fn convert(args: &[&str]) -> (i32, Value) {
    let mut a = vec!["convert-dledger", "--json"];
    a.extend_from_slice(args);
    let (code, out) = run(&a);
    let v = serde_json::from_str(out.trim()).unwrap_or(Value::Null);
    (code, v)
}

/// Runs the binary (stderr captured) for the error-message tests.
fn convert_err(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rmq-migrate")).arg("convert-dledger").args(args).output().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The files a conversion derives from the log (config and broker.conf come from the node).
fn derived_part(s: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    s.iter()
        .filter(|(k, _)| {
            ["commitlog/", "consumequeue/", "index/"].iter().any(|p| k.starts_with(p))
                || *k == "checkpoint"
                || *k == MAP_NAME
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// old physical offset -> map line.
fn offset_map(store: &Path) -> HashMap<i64, Value> {
    let text = std::fs::read_to_string(store.join(MAP_NAME)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["old_offset"].as_i64().unwrap(), v))
        .collect()
}

fn convert_out(src: &Path, dst: &Path) -> Value {
    let (code, v) = convert(&[p(src), "--out", p(dst)]);
    assert_eq!(code, 0, "{v}");
    v
}

#[test]
fn n0_converts_and_every_manifest_message_keeps_topic_queue_offset_and_body() {
    let t = tempfile::tempdir().unwrap();
    let dst = t.path().join("n0");
    let v = convert_out(&golden(N0), &dst);
    assert_eq!(v["mode"], "out");
    assert_eq!(v["converted_up_to"], 144);
    let b = &v["build"];
    assert_eq!(b["records"]["entries"], 145);
    // 48 header bytes gone per entry; the new layout moves the file boundary, not the data
    assert_eq!(b["records"]["old_to"], 2_073_412);
    assert_eq!(b["records"]["files"].as_array().unwrap().len(), 2);
    assert_eq!(b["queue_check"]["matched"], 145, "{}", b["queue_check"]);
    assert_eq!(b["queue_check"]["problem_count"], 0);
    assert_eq!(v["recovery_noop"], true, "{}", v["recovery_changes"]);

    // dump of the result against the manifest, through the offset map
    let map = offset_map(&dst);
    let (code, out) = run(&["dump", "--json", p(&dst)]);
    assert_eq!(code, 0);
    let dump: HashMap<i64, Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["physical_offset"].as_i64().unwrap(), v))
        .collect();
    assert_eq!(dump.len(), 145);
    let manifest = read_json(&golden(N0).join("manifest.json"));
    let mut checked = 0;
    for m in manifest["messages"].as_array().unwrap() {
        for s in m["stored"].as_array().unwrap() {
            let old = s["physicalOffset"].as_i64().unwrap();
            let line = &map[&old];
            assert_eq!(line["old_offset_msg_id"], s["offsetMsgId"]);
            let new = line["new_offset"].as_i64().unwrap();
            let d = &dump[&new];
            assert_eq!(d["topic"], s["topic"], "record {old}");
            assert_eq!(d["queue_id"], s["queueId"], "record {old}");
            assert_eq!(d["queue_offset"], s["queueOffset"], "record {old}");
            assert_eq!(d["body_sha256"], s["storedBodySha256"], "record {old}");
            assert_eq!(d["offset_msg_id"], line["new_offset_msg_id"]);
            assert_eq!(d["physical_offset_field"], new, "PHYSICALOFFSET rewritten");
            for k in ["born_timestamp", "store_timestamp", "body_crc", "properties", "sys_flag"] {
                let jk = match k {
                    "born_timestamp" => "bornTimestamp",
                    "store_timestamp" => "storeTimestamp",
                    "body_crc" => "bodyCRC",
                    "sys_flag" => "sysFlag",
                    _ => "properties",
                };
                assert_eq!(d[k], s[jk], "record {old}: {k}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 145);

    // Java's consume queues, mapped: same queue offsets, same sizes and tags codes
    let java = read_json(&golden(N0).join("store-dump.json"));
    let mut units = 0;
    for (topic, queues) in java["consumequeue"].as_object().unwrap() {
        for (qid, q) in queues.as_object().unwrap() {
            let dir = dst.join("consumequeue").join(topic).join(qid);
            let cq = ConsumeQueue::open(&dir, topic, qid.parse().unwrap(), Some(6000)).unwrap();
            for e in q["entries"].as_array().unwrap() {
                let got = cq.get(e[0].as_u64().unwrap()).unwrap();
                assert_eq!(got.physical_offset, map[&e[1].as_i64().unwrap()]["new_offset"].as_i64().unwrap());
                assert_eq!((got.size as i64, got.tags_code), (e[2].as_i64().unwrap(), e[3].as_i64().unwrap()));
                units += 1;
            }
        }
    }
    assert_eq!(units, 145);

    // verify passes; consumer and delay offsets are carried over unchanged
    let (code, vr) = verify_json(&dst);
    assert_eq!(code, 0, "{vr}");
    assert_eq!((vr["format"].as_str(), vr["messages"].as_u64()), (Some("plain"), Some(145)));
    for f in ["config/consumerOffset.json", "config/delayOffset.json", "config/topics.json"] {
        assert_eq!(std::fs::read(dst.join(f)).unwrap(), std::fs::read(golden(N0).join(f)).unwrap(), "{f}");
    }
    let conf = rmq_common::properties::load_file(dst.join("broker.conf")).unwrap();
    assert_eq!(conf.get("enableDLegerCommitLog").map(String::as_str), Some("false"));
    assert!(!conf.contains_key("dLegerPeers") && !conf.contains_key("dLegerSelfId"));
    assert_eq!(conf.get("mappedFileSizeCommitLog").map(String::as_str), Some("1048576"));
    let (code, inspect) = run(&["inspect", "--json", p(&dst)]);
    assert_eq!(code, 0, "{inspect}");
}

#[test]
fn the_three_nodes_convert_to_identical_stores() {
    let t = tempfile::tempdir().unwrap();
    let mut snaps = Vec::new();
    for n in ["n0", "n1", "n2"] {
        let dst = t.path().join(n);
        convert_out(&golden(&format!("java-4.9.8/dledger/{n}")), &dst);
        snaps.push(snapshot(&dst));
    }
    let first = derived_part(&snaps[0]);
    // index files are named by the first message's store time, not the clock: identical too
    assert_eq!(first.keys().filter(|k| k.starts_with("index/")).count(), 1);
    for (i, s) in snaps.iter().enumerate().skip(1) {
        assert_same(&derived_part(s), &first, &format!("n{i} vs n0"));
        for f in ["config/consumerOffset.json", "config/topics.json", "config/subscriptionGroup.json"] {
            assert_eq!(s[f], snaps[0][f], "n{i}: {f}");
        }
        // same content; the leader pretty-prints, followers write it compact
        let parse = |b: &[u8]| rmq_common::fastjson::parse(std::str::from_utf8(b).unwrap()).unwrap();
        assert_eq!(parse(&s["config/delayOffset.json"]), parse(&snaps[0]["config/delayOffset.json"]));
    }
}

#[test]
fn group_mode_picks_the_leader_and_says_why() {
    let t = tempfile::tempdir().unwrap();
    let g = |n: &str| golden(&format!("java-4.9.8/dledger/{n}"));
    let group = format!("{},{},{}", p(&g("n2")), p(&g("n1")), p(&g("n0")));
    let (code, v) = convert(&["--group", &group, "--out", p(&t.path().join("g"))]);
    assert_eq!(code, 0, "{v}");
    let gr = &v["group"];
    assert_eq!(gr["chosen"], "n0");
    assert_eq!(gr["leader"], "n0");
    let why = gr["reason"].as_str().unwrap();
    assert!(why.contains("highest committed index 144") && why.contains("leader"), "{why}");
    for c in gr["comparisons"].as_array().unwrap() {
        assert_eq!((c["entries_compared"].as_u64(), &c["diverges_at"]), (Some(145), &Value::Null), "{c}");
    }
    convert_out(&g("n0"), &t.path().join("n0"));
    assert_same(&derived_part(&snapshot(&t.path().join("g"))), &derived_part(&snapshot(&t.path().join("n0"))), "group");
    // the leader's config is the one carried over
    assert_eq!(
        std::fs::read(t.path().join("g/config/delayOffset.json")).unwrap(),
        std::fs::read(g("n0").join("config/delayOffset.json")).unwrap()
    );
}

/// Offset (in its data file) of entry `index` of a golden node copy.
fn entry_file_pos(store: &Path, index: i64) -> (PathBuf, u64) {
    let dl = rmq_store::DLedgerStore::open(&store.join("dledger-n0"), Some(1 << 20), None).unwrap();
    let e = dl.entries().map(Result::unwrap).find(|e| e.header.index == index).unwrap();
    (dl.data().files()[e.file_index].path().to_path_buf(), e.file_pos)
}

fn set_committed(store: &Path, node: &str, committed: i64) {
    let cp = store.join(format!("dledger-{node}/checkpoint"));
    std::fs::write(cp, format!("committedIndex={committed}\nendIndex=144\n")).unwrap();
}

#[test]
fn nodes_that_disagree_on_a_committed_entry_are_refused_and_uncommitted_tails_may_differ() {
    let g = |n: &str| golden(&format!("java-4.9.8/dledger/{n}"));
    let n1 = copy_store("java-4.9.8/dledger/n1");
    let dl1 = n1.path().join("dledger-n1");
    let dl = rmq_store::DLedgerStore::open(&dl1, Some(1 << 20), None).unwrap();
    let e = dl.entries().map(Result::unwrap).find(|e| e.header.index == 143).unwrap();
    let (file, at) = (dl.data().files()[e.file_index].path().to_path_buf(), e.file_pos + 48 + 200);
    drop(dl);
    patch(&file, at, b"X");
    let out = tempfile::tempdir().unwrap();
    let group = format!("{},{},{}", p(&g("n0")), p(n1.path()), p(&g("n2")));
    let (code, err) = convert_err(&["--group", &group, "--out", p(&out.path().join("a"))]);
    assert_eq!(code, 2);
    assert!(err.contains("disagree on committed entry 143") && err.contains("n1"), "{err}");
    assert!(!out.path().join("a").exists(), "nothing written");

    // the same difference past n1's committed index: a tail DLedger would truncate
    set_committed(n1.path(), "n1", 140);
    let (code, v) = convert(&["--group", &group, "--out", p(&out.path().join("b"))]);
    assert_eq!(code, 0, "{v}");
    let c = v["group"]["comparisons"].as_array().unwrap().iter().find(|c| c["node"] == "n1").unwrap().clone();
    assert_eq!(c["diverges_at"], 143, "{c}");
    assert_eq!(c["agrees_up_to"], 142);
    assert_eq!(v["group"]["chosen"], "n0");
}

#[test]
fn only_committed_entries_are_converted_unless_asked() {
    let s = copy_store(N0);
    set_committed(s.path(), "n0", 139);
    let out = tempfile::tempdir().unwrap();
    let (code, v) = convert(&[p(s.path()), "--out", p(&out.path().join("c"))]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["build"]["records"]["entries"], 140);
    assert_eq!(v["build"]["records"]["last_index"], 139);
    let q = &v["build"]["queue_check"];
    assert_eq!(
        (q["matched"].as_u64(), q["beyond_converted"].as_u64(), q["problem_count"].as_u64()),
        (Some(140), Some(5), Some(0))
    );
    assert!(v["warnings"].to_string().contains("140..=144 are past committedIndex 139"), "{}", v["warnings"]);
    assert_eq!(verify_json(&out.path().join("c")).0, 0);
    let (code, v) = convert(&[p(s.path()), "--include-uncommitted", "--out", p(&out.path().join("all"))]);
    assert_eq!((code, v["build"]["records"]["entries"].as_u64()), (0, Some(145)), "{v}");
    // a damaged uncommitted tail (a crash before DLedger flushed it) is not read...
    let (file, pos) = entry_file_pos(s.path(), 142);
    let saved = std::fs::read(&file).unwrap();
    patch(&file, pos, &[0xAB; 8]);
    let (code, v) = convert(&[p(s.path()), "--out", p(&out.path().join("tail"))]);
    assert_eq!((code, v["build"]["records"]["entries"].as_u64()), (0, Some(140)), "{v}");
    // ...and ends the log when uncommitted entries are asked for
    let (code, v) = convert(&[p(s.path()), "--include-uncommitted", "--out", p(&out.path().join("tail2"))]);
    assert_eq!((code, v["build"]["records"]["last_index"].as_i64()), (0, Some(141)), "{v}");
    assert!(v["build"]["records"]["warnings"].to_string().contains("uncommitted tail ends here"), "{v}");
    std::fs::write(&file, saved).unwrap();

    // a group whose checkpoints all lag: a majority holds more than any says is committed
    let n1 = copy_store("java-4.9.8/dledger/n1");
    set_committed(n1.path(), "n1", 139);
    let group = format!("{},{}", p(s.path()), p(n1.path()));
    let (code, v) = convert(&["--group", &group, "--out", p(&out.path().join("g"))]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["group"]["majority_index"], 144);
    assert!(v["warnings"].to_string().contains("held by a majority"), "{}", v["warnings"]);

    // no DLedger checkpoint at all: nothing is known to be committed
    std::fs::remove_file(s.path().join("dledger-n0/checkpoint")).unwrap();
    std::fs::remove_file(s.path().join("dledger-n0/checkpoint.bak")).unwrap();
    let (code, err) = convert_err(&[p(s.path())]);
    assert_eq!(code, 2);
    assert!(err.contains("dledger-n0/checkpoint") && err.contains("--include-uncommitted"), "{err}");
}

#[test]
fn in_place_backs_up_converts_and_a_second_run_has_nothing_to_do() {
    let t = tempfile::tempdir().unwrap();
    convert_out(&golden(N0), &t.path().join("ref"));
    let want = derived_part(&snapshot(&t.path().join("ref")));
    let s = copy_store(N0);
    let before = snapshot(s.path());
    let (code, v) = convert(&[p(s.path()), "--in-place"]);
    assert_eq!((code, v["mode"].as_str()), (0, Some("dry-run")), "{v}");
    assert_same(&snapshot(s.path()), &before, "dry run changes nothing");

    let bk = t.path().join("backup");
    let (code, v) = convert(&[p(s.path()), "--in-place", "--apply", "--backup", p(&bk)]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["recovery_noop"], true, "{v}");
    let after = snapshot(s.path());
    assert_same(&derived_part(&after), &want, "in place vs --out");
    assert!(!s.path().join("dledger-n0").exists() && !s.path().join(MARKER).exists());
    assert!(!after.keys().any(|k| k.starts_with(".rmq-convert")));
    // the backup holds what changed, the DLedger log included
    for f in ["consumequeue/SmallTopicA/0/00000000000000000000", "index/20261121200741173", "checkpoint", "broker.conf"]
    {
        assert_eq!(std::fs::read(bk.join(f)).unwrap(), before[f], "{f}");
    }
    assert_eq!(std::fs::read(bk.join(DATA1)).unwrap(), before[DATA1]);
    assert_eq!(after["config/consumerOffset.json"], before["config/consumerOffset.json"]);
    let (code, vr) = verify_json(s.path());
    assert_eq!(code, 0, "{vr}");
    let (code, v) = convert(&[p(s.path()), "--in-place", "--apply"]);
    assert_eq!(code, 0, "{v}");
    assert!(v["warnings"].to_string().contains("already converted"), "{v}");
    assert_same(&snapshot(s.path()), &after, "second run");
}

/// Runs the binary with a failpoint; returns once it died.
fn crash_at(args: &[&str], at: &str) {
    let status = Command::new(env!("CARGO_BIN_EXE_rmq-migrate"))
        .arg("convert-dledger")
        .args(args)
        .env(FAILPOINT_ENV, at)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "failpoint {at} stops the process");
}

#[test]
fn an_in_place_conversion_interrupted_anywhere_finishes_when_run_again() {
    let t = tempfile::tempdir().unwrap();
    let reference = copy_store(N0);
    let (code, _) = convert(&[p(reference.path()), "--in-place", "--apply", "--no-backup"]);
    assert_eq!(code, 0);
    let want = snapshot(reference.path());
    // 145 records, then the swap: 2 commitlog files, consumequeue, index, checkpoint,
    // broker.conf, map, DLedger dir
    for (i, stop) in [1u32, 2, 73, 145, 146, 147, 148, 149, 150, 151, 152, 153].into_iter().enumerate() {
        let s = copy_store(N0);
        let bk = t.path().join(format!("bk{i}"));
        let args = [p(s.path()), "--in-place", "--apply", "--backup", p(&bk)];
        crash_at(&args, &stop.to_string());
        assert!(s.path().join(MARKER).exists(), "stop {stop}: the marker says a run was interrupted");
        let (code, v) = convert(&[p(s.path()), "--in-place"]);
        assert_eq!(code, 1, "stop {stop}: a dry run reports the interrupted run: {v}");
        // the re-run names no backup: the marker remembers it
        let (code, v) = convert(&[p(s.path()), "--in-place", "--apply"]);
        assert_eq!(code, 0, "stop {stop}: {v}");
        assert!(v["resumed"].is_string(), "stop {stop}: {v}");
        assert_same(&snapshot(s.path()), &want, &format!("interrupted at call {stop}"));
        assert!(bk.join("dledger-n0/data").is_dir(), "stop {stop}: DLedger log in the backup");
        assert!(bk.join("manifest.json").is_file());
    }
}

#[test]
fn a_killed_out_conversion_starts_over_and_ends_the_same() {
    let t = tempfile::tempdir().unwrap();
    convert_out(&golden(N0), &t.path().join("ref"));
    let want = snapshot(&t.path().join("ref"));
    let dst = t.path().join("dst");
    // SIGKILL while the process is inside the record pass
    let mut child = Command::new(env!("CARGO_BIN_EXE_rmq-migrate"))
        .args(["convert-dledger", p(&golden(N0)), "--out", p(&dst)])
        .env(FAILPOINT_ENV, "100:hang")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut rd = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains(FAILPOINT_REACHED) {
        line.clear();
        assert!(rd.read_line(&mut line).unwrap() > 0, "exited before the failpoint");
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(dst.join(MARKER).exists());
    let (code, _) = convert(&[p(&golden(N0)), "--out", p(&dst)]);
    assert_eq!(code, 0);
    assert_same(&snapshot(&dst), &want, "after SIGKILL");
    // a finished output is not overwritten
    let (code, err) = convert_err(&[p(&golden(N0)), "--out", p(&dst)]);
    assert_eq!(code, 2);
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn bad_input_is_reported_with_file_and_offset() {
    let out = tempfile::tempdir().unwrap();
    let dst = |n: &str| out.path().join(n);
    // truncated data file: DLedger refuses a file of the wrong length
    let s = copy_store(N0);
    let f = s.path().join(DATA1);
    std::fs::OpenOptions::new().write(true).open(&f).unwrap().set_len(600_000).unwrap();
    let (code, err) = convert_err(&[p(s.path()), "--out", p(&dst("a"))]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{} @ 600000", f.display())) && err.contains("1048576"), "{err}");

    // bad magic at entry 60
    let s = copy_store(N0);
    let (file, pos) = entry_file_pos(s.path(), 60);
    patch(&file, pos, &7i32.to_be_bytes());
    let (code, err) = convert_err(&[p(s.path()), "--out", p(&dst("b"))]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{} @ {pos}", file.display())) && err.contains("magic 7"), "{err}");

    // a flipped body byte: the record's CRC no longer matches
    let s = copy_store(N0);
    let (file, pos) = entry_file_pos(s.path(), 10);
    // the body starts at record offset 88 (IPv4 hosts)
    patch(&file, pos + 48 + 90, b"\xff");
    let (code, err) = convert_err(&[p(s.path()), "--out", p(&dst("c"))]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{} @ {}", file.display(), pos + 48)) && err.contains("entry 10"), "{err}");

    // a 5.x controller's event log is DLedger too, but holds no messages
    let (code, err) = convert_err(&[p(&golden("java-5.3.3/controller-mode/controller")), "--out", p(&dst("d"))]);
    assert_eq!(code, 2);
    assert!(err.contains("not RocketMQ messages"), "{err}");
    // a plain store is not converted
    let (code, err) = convert_err(&[p(&golden("java-4.9.8/plain")), "--out", p(&dst("e"))]);
    assert_eq!(code, 2);
    assert!(err.contains("not a DLedger store"), "{err}");
    for d in ["a", "b", "c", "d", "e"] {
        assert!(!dst(d).join("commitlog").exists() || dst(d).join(MARKER).exists(), "{d}: no finished-looking output");
    }
}
