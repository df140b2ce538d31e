//! Corrupted copies of golden stores make `verify` fail, naming file and offset.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

const F0: &str = "commitlog/00000000000000000000";
const F1: &str = "commitlog/00000000000001048576";
const F2: &str = "commitlog/00000000000002097152";

/// (physicalOffset, totalSize) of MESSAGE records of a golden store.
fn records(s: &str) -> Vec<(u64, u64)> {
    let d = read_json(&golden(s).join("store-dump.json"));
    d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "MESSAGE")
        .map(|m| (m["physicalOffset"].as_u64().unwrap(), m["totalSize"].as_u64().unwrap()))
        .collect()
}

fn errors(v: &Value) -> Vec<(String, u64, String)> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap().to_string(),
                e["offset"].as_u64().unwrap(),
                e["error"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_fails_with(dir: &Path, file: &str, offset: Option<u64>, text: &str) -> Value {
    let (code, v) = verify_json(dir);
    assert_ne!(code, 0, "verify should fail: {v}");
    assert_eq!(v["ok"], false);
    let errs = errors(&v);
    assert!(
        errs.iter().any(|(f, o, e)| f == file && offset.is_none_or(|x| x == *o) && e.contains(text)),
        "no error in {file} at {offset:?} containing {text:?}: {errs:#?}"
    );
    v
}

#[test]
fn flipped_body_byte_is_a_crc_error() {
    let t = copy_store("java-4.9.8/plain");
    let (off, _) = records("java-4.9.8/plain")[5];
    patch(&t.path().join(F0), off + 88 + 1, &[0xFF]);
    let v = assert_fails_with(t.path(), F0, Some(off), "CRC");
    // the rest of the log is still read
    assert_eq!(v["messages"], 974);
}

#[test]
fn bad_magic_stops_the_scan_at_that_record() {
    let t = copy_store("java-4.9.8/plain");
    let recs = records("java-4.9.8/plain");
    let (off, _) = recs[10];
    patch(&t.path().join(F0), off + 4, &0xDEADBEEFu32.to_be_bytes());
    let v = assert_fails_with(t.path(), F0, Some(off), "magic");
    assert_eq!(v["messages"], 10);
    assert_eq!(v["max_physical_offset"], off);
    // consume queue units beyond the new end are reported too
    assert!(errors(&v).iter().any(|(f, _, e)| f.starts_with("consumequeue/") && e.contains("beyond the end")));
}

#[test]
fn wrong_file_length_is_reported() {
    let t = copy_store("java-4.9.8/plain");
    let p = t.path().join(F1);
    let mut b = std::fs::read(&p).unwrap();
    b.extend_from_slice(&[0u8; 100]);
    std::fs::write(&p, b).unwrap();
    assert_fails_with(t.path(), F1, None, "length");
}

#[test]
fn truncated_file_is_reported() {
    let t = copy_store("java-4.9.8/plain");
    let p = t.path().join(F2);
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(100_000).unwrap();
    drop(f);
    let v = assert_fails_with(t.path(), F2, None, "length");
    // the record cut by the truncation is named with its position in the file
    let recs = records("java-4.9.8/plain");
    let cut = recs.iter().find(|(o, s)| *o < 2097152 + 100_000 && o + s > 2097152 + 100_000).unwrap();
    assert!(
        errors(&v).iter().any(|(f, o, e)| f == F2 && *o == cut.0 - 2097152 && e.contains("truncated")),
        "{:#?}",
        errors(&v)
    );
}

#[test]
fn zeros_in_the_middle_are_reported() {
    let t = copy_store("java-4.9.8/plain");
    let recs = records("java-4.9.8/plain");
    let (off, _) = recs[20];
    patch(&t.path().join(F0), off, &[0u8; 64]);
    let v = assert_fails_with(t.path(), F0, Some(off + 64), "non-zero data after the end");
    assert_eq!(v["max_physical_offset"], off);
}

#[test]
fn zero_length_and_missing_files() {
    let t = copy_store("java-4.9.8/plain");
    std::fs::write(t.path().join("commitlog/00000000000003145728"), b"").unwrap();
    assert_fails_with(t.path(), "commitlog/00000000000003145728", None, "length");
    let t = copy_store("java-4.9.8/plain");
    std::fs::remove_file(t.path().join(F1)).unwrap();
    assert_fails_with(t.path(), F2, None, "previous file");
    let empty = tempfile::tempdir().unwrap();
    let (code, v) = verify_json(empty.path());
    assert_ne!(code, 0);
    assert_eq!(v["ok"], false);
}

#[test]
fn broken_consume_queue_unit_is_reported() {
    let t = copy_store("java-4.9.8/plain");
    let cq = "consumequeue/GoldenTopicA/2/00000000000000000000";
    // unit 3: size field (bytes 8..12) made wrong
    patch(&t.path().join(cq), 3 * 20 + 8, &7i32.to_be_bytes());
    assert_fails_with(t.path(), cq, Some(60), "size");
    // unit 4: points to the middle of a record
    patch(&t.path().join(cq), 4 * 20, &5i64.to_be_bytes());
    assert_fails_with(t.path(), cq, Some(80), "not a valid message");
}

#[test]
fn broken_index_entry_is_reported() {
    let t = copy_store("java-4.9.8/ipv6-embedded");
    let idx = std::fs::read_dir(t.path().join("index")).unwrap().next().unwrap().unwrap().path();
    let name = format!("index/{}", idx.file_name().unwrap().to_string_lossy());
    // entry 1 of a 100-slot file sits at 40 + 400 + 20; change its phyOffset
    let pos = 40 + 100 * 4 + 20;
    patch(&idx, pos + 4, &999_999i64.to_be_bytes());
    assert_fails_with(t.path(), &name, Some(pos), "beyond the end");
}

#[test]
fn corrupt_dledger_entries_are_reported() {
    let s = "java-4.9.8/dledger/n0";
    let data0 = "dledger-n0/data/00000000000000000000";
    let recs = records(s);
    // body byte flipped inside the wrapped record
    let t = copy_store(s);
    let (off, _) = recs[3];
    patch(&t.path().join(data0), off + 88 + 2, &[0x5A]);
    assert_fails_with(t.path(), data0, Some(off), "CRC");
    // entry magic destroyed
    let t = copy_store(s);
    let entry_pos = recs[7].0 - 48;
    patch(&t.path().join(data0), entry_pos, &77i32.to_be_bytes());
    assert_fails_with(t.path(), data0, Some(entry_pos), "magic");
    // pos field disagreeing with the actual position
    let t = copy_store(s);
    let entry_pos = recs[9].0 - 48;
    patch(&t.path().join(data0), entry_pos + 24, &1i64.to_be_bytes());
    assert_fails_with(t.path(), data0, Some(entry_pos), "pos");
}

#[test]
fn corrupt_v2_record_is_reported() {
    let s = "java-5.3.3/v2-ipv6-embedded";
    let d = read_json(&golden(s).join("store-dump.json"));
    let v2 = d["messages"].as_array().unwrap().iter().find(|m| m["messageVersion"] == "V2").unwrap();
    let off = v2["physicalOffset"].as_u64().unwrap();
    let t = copy_store(s);
    // topic length (2 bytes) made inconsistent with TOTALSIZE
    let body_len = v2["storedBodyLength"].as_u64().unwrap();
    let born = if v2["sysFlag"].as_i64().unwrap() & 0x10 != 0 { 20 } else { 8 };
    let store = if v2["sysFlag"].as_i64().unwrap() & 0x20 != 0 { 20 } else { 8 };
    let topic_len_pos = off + 48 + born + 8 + store + 4 + 8 + 4 + body_len;
    patch(&t.path().join(F0), topic_len_pos, &10i16.to_be_bytes());
    assert_fails_with(t.path(), F0, Some(off), "");
}

#[test]
fn binary_exit_codes() {
    let bin = env!("CARGO_BIN_EXE_rmq-migrate");
    let ok = std::process::Command::new(bin)
        .args(["verify", "--json"])
        .arg(golden("java-4.9.8/ipv6-embedded"))
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["messages"], 23);
    let t = copy_store("java-4.9.8/ipv6-embedded");
    patch(&t.path().join(F0), 88 + 3, &[0xEE]);
    let bad = std::process::Command::new(bin).args(["verify", "--json"]).arg(t.path()).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(v["errors"][0]["file"], F0);
    assert_eq!(v["errors"][0]["offset"], 0);
    let dump = std::process::Command::new(bin)
        .args(["dump", "--json"])
        .arg(golden("java-4.9.8/ipv6-embedded"))
        .output()
        .unwrap();
    assert_eq!(dump.status.code(), Some(0));
    assert_eq!(String::from_utf8(dump.stdout).unwrap().lines().count(), 23);
    let missing = std::process::Command::new(bin).args(["dump", "/nonexistent/store"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn sprinkled_garbage_never_panics() {
    for (s, step) in
        [("java-4.9.8/plain", 7919u64), ("java-4.9.8/dledger/n0", 4099), ("java-5.3.3/v2-ipv6-embedded", 211)]
    {
        let t = copy_store(s);
        let mut files = Vec::new();
        let mut stack = vec![t.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if !p.to_string_lossy().ends_with(".json") {
                    files.push(p);
                }
            }
        }
        for f in files {
            let mut b = std::fs::read(&f).unwrap();
            let mut i = 3u64;
            while (i as usize) < b.len() {
                b[i as usize] ^= 0xA5;
                i += step;
            }
            std::fs::write(&f, b).unwrap();
        }
        let (code, v) = verify_json(t.path());
        assert_eq!(code, 1, "{s}: {v}");
        for cmd in ["dump", "inspect"] {
            let (code, _) = run(&[cmd, "--json", t.path().to_str().unwrap()]);
            assert!(code <= 1, "{s} {cmd}");
        }
    }
}
