//! `recover --apply` and the checkpoint: a process killed between its file
//! changes and the checkpoint write ends, once run again, exactly like an
//! uninterrupted run; a store already recovered is not touched at all (same
//! bytes, same modification times).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::*;
use rmq_migrate::recover::{FAILPOINT_ENV, IN_PROGRESS};
use serde_json::Value;

/// Every file and directory under `dir`: relative path → (bytes, mtime);
/// directories have no bytes.
fn state(dir: &Path) -> BTreeMap<String, (Option<Vec<u8>>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::metadata(&p).unwrap().modified().unwrap();
            let k = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                stack.push(p);
                out.insert(k, (None, m));
            } else {
                out.insert(k, (Some(std::fs::read(&p).unwrap()), m));
            }
        }
    }
    out
}

fn bytes(s: &BTreeMap<String, (Option<Vec<u8>>, SystemTime)>) -> BTreeMap<String, Option<Vec<u8>>> {
    s.iter().map(|(k, (b, _))| (k.clone(), b.clone())).collect()
}

/// Sets the modification time of `dir` and everything under it to one
/// fixed moment in the past, so any later write shows.
fn age(dir: &Path) {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            std::fs::File::open(&p).unwrap().set_modified(t).unwrap();
        }
    }
    std::fs::File::open(dir).unwrap().set_modified(t).unwrap();
}

fn recover_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["recover", "--json"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    let (code, out) = run(&args);
    (code, serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}")))
}

/// Gives a wrong body CRC to the first record stored in the store's last
/// millisecond: recovery drops those messages, truncates consume queues and
/// index, and moves the checkpoint's timestamps back.
fn cut_last_millisecond(dir: &Path, s: &str) {
    let dump = read_json(&golden(s).join("store-dump.json"));
    let msgs = dump["messages"].as_array().unwrap();
    let last_ts = msgs.iter().max_by_key(|m| m["physicalOffset"].as_u64()).unwrap()["storeTimestamp"].as_i64();
    let m =
        msgs.iter().filter(|m| m["storeTimestamp"].as_i64() == last_ts).min_by_key(|m| m["physicalOffset"].as_u64());
    let m = m.unwrap();
    let pos = m["filePos"].as_u64().unwrap() + 8;
    let f = dir.join("commitlog").join(m["file"].as_str().unwrap());
    let crc: Vec<u8> = std::fs::read(&f).unwrap()[pos as usize..pos as usize + 4].iter().map(|x| x ^ 0xff).collect();
    patch(&f, pos, &crc);
}

const STORES_CUT: &[&str] =
    &["java-4.9.8/plain", "java-5.3.3/v2-ipv6-embedded", "java-5.3.3/controller-mode/broker-c-n0"];

#[test]
fn killed_before_the_checkpoint_write_and_run_again_ends_like_an_uninterrupted_run() {
    for s in STORES_CUT {
        let reference = copy_store(s);
        cut_last_millisecond(reference.path(), s);
        let (code, v) = recover_json(reference.path(), &["--apply", "--no-backup"]);
        assert_eq!(code, 0, "{s}: {v}");
        assert_eq!(v["plan"]["checkpoint"]["write"], true, "{s}: the cut moves the checkpoint");
        let want = bytes(&state(reference.path()));

        let t = copy_store(s);
        cut_last_millisecond(t.path(), s);
        let cut = bytes(&state(t.path()));
        let status = Command::new(env!("CARGO_BIN_EXE_rmq-migrate"))
            .args(["recover", "--apply", "--no-backup", t.path().to_str().unwrap()])
            .env(FAILPOINT_ENV, "write_checkpoint")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "{s}: the process dies at the crash point");
        let mut killed = bytes(&state(t.path()));
        assert!(killed.remove(IN_PROGRESS).is_some(), "{s}: the marker tells of the interrupted apply");
        assert_eq!(killed["checkpoint"], cut["checkpoint"], "{s}: killed before the checkpoint write");
        assert!(killed != cut, "{s}: the other changes were made");

        // the dry run sees the stale checkpoint as the work left
        let (code, v) = recover_json(t.path(), &[]);
        assert_eq!((code, &v["noop"]), (1, &Value::Bool(false)), "{s}: {v}");
        assert!(v["interrupted_apply_found"].is_string(), "{s}: {v}");
        assert_eq!(v["plan"]["checkpoint"]["write"], true, "{s}");
        assert!(v["plan"]["queues"].as_array().unwrap().is_empty() && v["plan"]["commitlog"]["zero"].is_null(), "{s}");

        let (code, v) = recover_json(t.path(), &["--apply", "--no-backup"]);
        assert_eq!(code, 0, "{s}: {v}");
        assert_eq!(v["applied"]["steps_done"], 1, "{s}: only the checkpoint was left: {v}");
        let got = bytes(&state(t.path()));
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{s}: file lists");
        for (k, b) in &got {
            assert!(b == &want[k], "{s}: {k} differs from an uninterrupted run's");
        }
    }
}

#[test]
fn a_recovered_store_is_not_touched_by_the_next_recovery() {
    // clean Java stores need nothing; a damaged one needs work the first time only
    let mut cases: Vec<(String, tempfile::TempDir)> = Vec::new();
    for s in STORES {
        if s.contains("dledger") || s.ends_with("crashed") {
            continue;
        }
        cases.push((s.to_string(), copy_store(s)));
    }
    for s in STORES_CUT {
        let t = copy_store(s);
        cut_last_millisecond(t.path(), s);
        cases.push((format!("{s} (cut)"), t));
    }
    cases.push(("java-4.9.8/crashed".into(), copy_store("java-4.9.8/crashed")));
    for (name, t) in &cases {
        let (code, first) = recover_json(t.path(), &["--apply", "--no-backup"]);
        assert_eq!(code, 0, "{name}: {first}");
        let expect_work = name.ends_with("(cut)") || name.ends_with("crashed");
        assert_eq!(first["noop"], !expect_work, "{name}: {first}");
        age(t.path());
        let before = state(t.path());
        let (code, v) = recover_json(t.path(), &["--apply", "--no-backup"]);
        assert_eq!((code, &v["noop"]), (0, &Value::Bool(true)), "{name}: {v}");
        let after = state(t.path());
        assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "{name}: file lists");
        for (k, (b, m)) in &after {
            assert!(b == &before[k].0, "{name}: {k} was rewritten");
            assert_eq!(*m, before[k].1, "{name}: {k} was touched");
        }
    }
}
