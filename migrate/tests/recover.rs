//! `recover`: Java's recovery on copies of golden stores, applied and
//! re-applied, interrupted and resumed, refused on a locked store.

mod common;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use rmq_store::recovery::{self, RecoveryOptions, Step};
use rmq_store::testutil::{assert_same, snapshot};
use rmq_store::StoreDir;
use serde_json::Value;

const F2: &str = "commitlog/00000000000002097152";
/// Env var that turns `lock_holder` into a process holding a store's lock.
const HOLD_LOCK: &str = "RMQ_TEST_HOLD_LOCK";

/// The store files Java owns (not the golden README/manifest/dump, not config/).
/// Index files are named by their order unless the local time zone is UTC
/// like the golden machine's (names are local times).
fn store_part(s: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    let utc = rmq_store::dispatch::index_writer::human_time_name(0) == "19700101000000000";
    let mut n = 0;
    s.iter()
        .filter(|(k, _)| {
            ["commitlog/", "consumequeue/", "index/"].iter().any(|p| k.starts_with(p)) || *k == "checkpoint"
        })
        .map(|(k, v)| {
            if k.starts_with("index/") && !utc {
                n += 1;
                return (format!("index/#{n}"), v.clone());
            }
            (k.clone(), v.clone())
        })
        .collect()
}

fn recover_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["recover", "--json"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    let (code, out) = run(&args);
    (code, serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}")))
}

#[test]
fn crashed_store_recovers_to_its_last_message_and_equals_plain() {
    let t = copy_store("java-4.9.8/crashed");
    let b = tempfile::tempdir().unwrap();
    let (code, v) = recover_json(t.path(), &[]);
    assert_eq!(code, 1, "a dry run that finds work exits 1");
    let p = &v["plan"];
    assert_eq!(p["mode"], "abnormal");
    assert_eq!(p["java"], "4.9.8");
    assert_eq!(p["commitlog"]["last_valid_offset"], 2256592);
    assert_eq!(p["commitlog"]["delete_files"].as_array().unwrap().len(), 1);
    assert_eq!(p["queues"].as_array().unwrap().len(), 0);
    assert!(t.path().join("abort").exists(), "dry run changes nothing");

    let backup = b.path().join("bk");
    let (code, v) = recover_json(t.path(), &["--apply", "--backup", backup.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["applied"]["interrupted"], false);
    assert!(backup.join("manifest.json").exists());
    assert!(backup.join("commitlog/00000000000003145728").exists());
    assert!(!t.path().join("abort").exists());
    assert!(!t.path().join("commitlog/00000000000003145728").exists());
    // what Java's clean stop would have left: the plain store, byte for byte
    assert_same(
        &store_part(&snapshot(t.path())),
        &store_part(&snapshot(&golden("java-4.9.8/plain"))),
        "recovered crashed vs plain",
    );
    let (code, v) = verify_json(t.path());
    assert_eq!(code, 0, "{v}");

    // a second apply has nothing to do and takes no backup
    let before = snapshot(t.path());
    let again = b.path().join("bk2");
    let (code, v) = recover_json(t.path(), &["--apply", "--backup", again.to_str().unwrap()]);
    assert_eq!((code, &v["noop"]), (0, &Value::Bool(true)), "{v}");
    assert!(!again.exists());
    assert_same(&snapshot(t.path()), &before, "second apply");
}

#[test]
fn last_record_cut_short_recovers_to_the_record_before_it() {
    // the last record: %RETRY%cg_golden_push queue 0, offset 2256199, 393 bytes:
    // 88 bytes of fixed fields, a 50-byte body, topic, then 231 bytes of properties
    let (off, size) = (2256199u64, 393u64);
    let pos = off - 2097152;
    // Java checks no property bytes: losing the second half (all properties) goes unnoticed
    let t = copy_store("java-4.9.8/plain");
    patch(&t.path().join(F2), pos + size / 2, &vec![0u8; (size - size / 2) as usize]);
    let (code, v) = recover_json(t.path(), &[]);
    assert_eq!((code, &v["plan"]["commitlog"]["last_valid_offset"]), (0, &Value::from(2256592)), "{v}");
    // cut in the middle of its body: the body CRC fails and the record is dropped
    let t = copy_store("java-4.9.8/plain");
    let f = t.path().join(F2);
    let cut = 88 + 25;
    patch(&f, pos + cut, &vec![0u8; (size - cut) as usize]);
    let (code, v) = recover_json(t.path(), &[]);
    assert_eq!(code, 1);
    let p = &v["plan"];
    assert_eq!(p["mode"], "normal");
    assert_eq!(p["commitlog"]["last_valid_offset"], off);
    assert_eq!(p["commitlog"]["zero"]["from"], pos);
    let q = &p["queues"].as_array().unwrap();
    assert_eq!(q.len(), 1, "{p}");
    assert_eq!((q[0]["topic"].as_str(), q[0]["queue_id"].as_i64()), (Some("%RETRY%cg_golden_push"), Some(0)));
    assert_eq!((q[0]["dropped"].as_u64(), q[0]["end"].as_u64()), (Some(1), Some(0)));
    assert_eq!(q[0]["dropped_first"]["physical_offset"], off);
    // the last index file loses the entries of that record
    let rw = &p["index"]["rewrites"].as_array().unwrap()[0];
    assert!(rw["removed_entries"].as_u64().unwrap() >= 1);

    let (code, v) = recover_json(t.path(), &["--apply", "--no-backup"]);
    assert_eq!(code, 0, "{v}");
    let cq = t.path().join("consumequeue/%RETRY%cg_golden_push/0/00000000000000000000");
    assert!(!cq.exists(), "the queue's only file held only the dropped entry");
    let b = std::fs::read(&f).unwrap();
    assert!(b[pos as usize..].iter().all(|x| *x == 0));
    let (code, v) = verify_json(t.path());
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["max_physical_offset"], off);
    let (code, v) = recover_json(t.path(), &["--apply", "--no-backup"]);
    assert_eq!((code, &v["noop"]), (0, &Value::Bool(true)), "{v}");
}

#[test]
fn missing_consume_queues_and_index_are_rebuilt_like_java_does_on_start() {
    let t = copy_store("java-4.9.8/plain");
    std::fs::remove_dir_all(t.path().join("consumequeue")).unwrap();
    std::fs::remove_dir_all(t.path().join("index")).unwrap();
    let (code, v) = recover_json(t.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(v["plan"]["dispatch"]["from"], 0);
    assert_eq!(v["plan"]["dispatch"]["stats"]["cq_entries_written"], 974);
    let (code, v) = recover_json(t.path(), &["--apply", "--no-backup"]);
    assert_eq!(code, 0, "{v}");
    let got = store_part(&snapshot(t.path()));
    let want = store_part(&snapshot(&golden("java-4.9.8/plain")));
    let cq = |m: &BTreeMap<String, Vec<u8>>| {
        m.iter().filter(|(k, _)| k.starts_with("consumequeue/")).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    assert_same(&cq(&got), &cq(&want), "consume queues");
    assert_eq!(got["checkpoint"], want["checkpoint"]);
    let (code, v) = verify_json(t.path());
    assert_eq!(code, 0, "{v}");
}

/// Applies the plan of `dir`, stopping at hook call `stop_at`; returns the number of calls.
fn apply_until(dir: &Path, stop_at: Option<u64>) -> u64 {
    let sd = StoreDir::open(dir, None).unwrap();
    let plan = recovery::plan(&sd, &RecoveryOptions::default(), &mut |_, _, _| {}).unwrap();
    let mut calls = 0u64;
    let mut hook = |_: &Step, _: Option<u64>| {
        calls += 1;
        Some(calls) != stop_at
    };
    let out = recovery::apply(&plan, &sd, &mut |_, _, _| {}, &mut hook).unwrap();
    assert_eq!(out.interrupted, stop_at.is_some_and(|s| s <= calls));
    calls
}

#[test]
fn an_interrupted_apply_finishes_when_run_again() {
    let reference = copy_store("java-4.9.8/crashed");
    let total = apply_until(reference.path(), None);
    let want = snapshot(reference.path());
    assert!(total > 900, "steps plus one call per dispatched record: {total}");
    // every step boundary before the dispatch, inside it, and after it
    for stop in [1, 2, 3, 4, 5, 400, 800, total - 2, total - 1, total] {
        let t = copy_store("java-4.9.8/crashed");
        apply_until(t.path(), Some(stop));
        let (code, v) = recover_json(t.path(), &["--apply", "--no-backup"]);
        assert_eq!(code, 0, "stop {stop}: {v}");
        assert_same(&snapshot(t.path()), &want, &format!("interrupted at call {stop}"));
    }
}

#[test]
fn a_killed_apply_process_finishes_when_run_again() {
    let reference = copy_store("java-4.9.8/crashed");
    let (code, _) = recover_json(reference.path(), &["--apply", "--no-backup"]);
    assert_eq!(code, 0);
    let want = snapshot(reference.path());
    for stop in ["3", "500"] {
        let t = copy_store("java-4.9.8/crashed");
        let status = Command::new(env!("CARGO_BIN_EXE_rmq-migrate"))
            .args(["recover", "--apply", "--no-backup", t.path().to_str().unwrap()])
            .env(rmq_migrate::recover::FAILPOINT_ENV, stop)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "the failpoint aborts the process");
        assert!(t.path().join(rmq_migrate::recover::IN_PROGRESS).exists());
        let (code, v) = recover_json(t.path(), &["--apply", "--no-backup"]);
        assert_eq!(code, 0, "{v}");
        assert!(v["interrupted_apply_found"].is_string(), "{v}");
        let mut got = snapshot(t.path());
        assert!(got.remove(rmq_migrate::recover::IN_PROGRESS).is_none(), "marker removed at the end");
        assert_same(&got, &want, &format!("killed at call {stop}"));
    }
}

/// Not a test on its own: with `RMQ_TEST_HOLD_LOCK=<dir>` it holds that
/// store's lock (as a broker does) until its stdin closes.
#[test]
fn lock_holder() {
    let Ok(dir) = std::env::var(HOLD_LOCK) else { return };
    let _l = rmq_store::lock::StoreLock::acquire(Path::new(&dir)).unwrap();
    println!("locked");
    let mut s = String::new();
    let _ = std::io::stdin().read_line(&mut s);
}

#[test]
fn a_store_locked_by_a_running_process_is_refused_without_force() {
    let t = copy_store("java-4.9.8/crashed");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lock_holder", "--nocapture", "--test-threads=1"])
        .env(HOLD_LOCK, t.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut rd = std::io::BufReader::new(child.stdout.take().unwrap());
    while !line.contains("locked") {
        line.clear();
        assert!(rd.read_line(&mut line).unwrap() > 0, "lock holder exited early");
    }
    let (code, out) = run(&["recover", "--apply", t.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(t.path().join("abort").exists(), "nothing changed");
    let (code, _) = run(&["rebuild", "--in-place", t.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    let (code, v) = recover_json(t.path(), &["--force"]);
    assert_eq!(code, 1, "--force reads it anyway: {v}");
    drop(child.stdin.take());
    let _ = child.wait();
    let (code, _) = recover_json(t.path(), &[]);
    assert_eq!(code, 1, "unlocked now");
}

#[test]
fn garbage_in_derived_files_is_planned_away_and_a_second_run_is_a_noop() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..6 {
        let t = copy_store("java-4.9.8/crashed");
        let mut noise = |p: &Path, from: u64, len: u64| {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            patch(p, from, &bytes);
        };
        let cq = t.path().join("consumequeue/GoldenTopicC/0/00000000000000006000");
        let ix = t.path().join("index/20261121200457295");
        match round {
            0 => noise(&cq, 0, 6000),
            1 => noise(&cq, 2000, 40),
            2 => noise(&ix, 0, 40),
            3 => noise(&ix, 40 + 4 * 50, 400),
            4 => noise(&ix, 440 + 20 * 200, 20 * 50),
            _ => noise(&t.path().join("commitlog/00000000000001048576"), 500_000, 64),
        }
        let (code, v) = recover_json(t.path(), &["--apply", "--no-backup"]);
        assert!(code == 0 || code == 2, "round {round}: {v}");
        if code == 0 {
            let (code, v) = recover_json(t.path(), &[]);
            assert_eq!((code, &v["noop"]), (0, &Value::Bool(true)), "round {round}: {v}");
        }
    }
}
