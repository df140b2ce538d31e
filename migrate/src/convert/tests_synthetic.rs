//! Conversions of generated DLedger stores: what the golden 4.9.8 group does
//! not have — 5.x V2 records with a `__CRC32#` property, a pre-DLedger
//! commitlog in front of the DLedger log, and small files so records move
//! across file boundaries.

use std::path::Path;

use bytes::Bytes;
use clap::Parser;
use rmq_store::dledger::{EntryHeader, ENTRY_HEADER_SIZE};
use rmq_store::mapped_file::offset_to_file_name;
use rmq_store::record::{
    crc32_masked, decode_message, encode_blank, parse_properties, HostAddr, MessageRecord, MessageVersion,
};
use serde_json::Value;

use crate::cli::Cli;

const FILE: u64 = 4096;

fn record(version: MessageVersion, queue_offset: i64, phys: u64, n: usize, with_crc: bool) -> Vec<u8> {
    let body = Bytes::from(format!("message {queue_offset} ").repeat(n));
    let mut props = format!("TAGS\u{1}T{}\u{2}UNIQ_KEY\u{1}U{queue_offset}\u{2}", queue_offset % 3).into_bytes();
    if with_crc {
        // digits as a 5.x DLedger broker leaves them: computed before PHYSICALOFFSET was set
        props.extend_from_slice(b"__CRC32#\x011234567890\x02");
    }
    let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let mut m = MessageRecord {
        total_size: 0,
        version,
        body_crc: crc32_masked(&body),
        queue_id: 0,
        flag: 0,
        queue_offset,
        physical_offset: phys as i64,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000 + queue_offset,
        born_host: HostAddr::new(ip, 5000),
        store_timestamp: 1_700_000_000_100 + queue_offset,
        store_host: HostAddr::new(ip, 10911),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body,
        topic: "SynthTopic".into(),
        properties: parse_properties(&props),
        properties_raw: Bytes::from(props),
    };
    m.total_size = m.computed_length() as i32;
    m.encode().unwrap()
}

/// A store with `prefix` messages in a plain commitlog file [0, 4096) and
/// `entries` DLedger entries from 4096 on; committed up to `committed`.
fn make_store(root: &Path, prefix: usize, entries: usize, committed: i64) {
    let conf = "brokerName=b\nenableDLegerCommitLog=true\ndLegerGroup=g\ndLegerPeers=n0-127.0.0.1:1\n\
                dLegerSelfId=n0\nmappedFileSizeCommitLog=4096\nmappedFileSizeConsumeQueue=200\nmaxHashSlotNum=10\nmaxIndexNum=40\n";
    std::fs::write(root.join("broker.conf"), conf).unwrap();
    std::fs::create_dir_all(root.join("commitlog")).unwrap();
    std::fs::create_dir_all(root.join("config")).unwrap();
    std::fs::write(root.join("config/consumerOffset.json"), "{\"offsetTable\":{\"SynthTopic@g\":{0:3}}}").unwrap();
    let mut q = 0i64;
    if prefix > 0 {
        let mut f = Vec::new();
        for _ in 0..prefix {
            f.extend(record(MessageVersion::V2, q, f.len() as u64, 3, false));
            q += 1;
        }
        encode_blank((FILE as usize - f.len()) as i32, &mut f);
        f.resize(FILE as usize, 0);
        std::fs::write(root.join("commitlog").join(offset_to_file_name(0)), f).unwrap();
    }
    let data = root.join("dledger-n0/data");
    std::fs::create_dir_all(&data).unwrap();
    let base = if prefix > 0 { FILE } else { 0 };
    let mut file: Vec<u8> = Vec::new();
    let mut start = base;
    for i in 0..entries {
        let n = 1 + (i * 7) % 40;
        let probe = record(MessageVersion::V2, q, 0, n, i % 2 == 0);
        let size = ENTRY_HEADER_SIZE as usize + probe.len();
        if file.len() + size + 8 > FILE as usize {
            let left = FILE as usize - file.len();
            file.extend_from_slice(&(-1i32).to_be_bytes());
            file.extend_from_slice(&(left as i32).to_be_bytes());
            file.resize(FILE as usize, 0);
            std::fs::write(data.join(offset_to_file_name(start)), &file).unwrap();
            start += FILE;
            file.clear();
        }
        let pos = start + file.len() as u64;
        let body = record(MessageVersion::V2, q, pos + ENTRY_HEADER_SIZE, n, i % 2 == 0);
        let h = EntryHeader {
            magic: 1,
            size: size as i32,
            index: i as i64,
            term: 1 + i as i64 / 10,
            pos: pos as i64,
            channel: 0,
            chain_crc: 0,
            body_crc: 0,
            body_length: body.len() as i32,
        };
        file.extend_from_slice(&h.to_bytes());
        file.extend_from_slice(&body);
        q += 1;
    }
    file.resize(FILE as usize, 0);
    std::fs::write(data.join(offset_to_file_name(start)), &file).unwrap();
    std::fs::write(
        root.join("dledger-n0/checkpoint"),
        format!("committedIndex={committed}\nendIndex={}\n", entries - 1),
    )
    .unwrap();
}

fn run(args: &[&str]) -> (i32, Value) {
    let mut argv = vec!["rmq-migrate"];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    let code = crate::run_with(&Cli::try_parse_from(argv).unwrap(), &mut out);
    let text = String::from_utf8(out).unwrap();
    (code, serde_json::from_str(text.lines().last().unwrap_or("null")).unwrap_or(Value::Null))
}

/// (queue offset, physical offset) of every message, checked record by record.
fn messages(store: &Path) -> Vec<(i64, u64)> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(store.join("commitlog")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        let start: u64 = p.file_name().unwrap().to_str().unwrap().parse().unwrap();
        let b = std::fs::read(&p).unwrap();
        let mut pos = 0usize;
        while let Ok(m) = decode_message(&b[pos..]) {
            assert_eq!(m.physical_offset as u64, start + pos as u64, "PHYSICALOFFSET of {}", p.display());
            if let Some((stored, computed)) = m.property_crc() {
                assert_eq!(stored, computed as i64, "property CRC at {}", start + pos as u64);
            }
            out.push((m.queue_offset, start + pos as u64));
            pos += m.total_size as usize;
        }
    }
    out
}

#[test]
fn v2_records_with_property_crc_behind_an_old_commitlog() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    make_store(&src, 5, 60, 49);
    let dst = t.path().join("dst");
    let (code, v) = run(&["convert-dledger", "--json", src.to_str().unwrap(), "--out", dst.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    let r = &v["build"]["records"];
    assert_eq!((r["entries"].as_u64(), r["new_from"].as_u64()), (Some(50), Some(FILE)));
    assert_eq!(r["prefix_files"], serde_json::json!([offset_to_file_name(0)]));
    assert_eq!(r["prop_crc_rewritten"], 25);
    assert!(r["blanks"].as_u64().unwrap() > 3, "{r}");
    assert_eq!(v["build"]["derived"]["java"], "5.3.3");
    assert_eq!(v["recovery_noop"], true, "{}", v["recovery_changes"]);
    // queue offsets run on from the old commitlog through the converted entries
    let msgs = messages(&dst);
    assert_eq!(msgs.iter().map(|m| m.0).collect::<Vec<_>>(), (0..55).collect::<Vec<_>>());
    assert!(msgs[..5].iter().all(|m| m.1 < FILE) && msgs[5..].iter().all(|m| m.1 >= FILE));
    let (code, verify) = run(&["verify", "--json", dst.to_str().unwrap()]);
    assert_eq!(code, 0, "{verify}");
    let cp = rmq_store::Checkpoint::read(&dst.join("checkpoint")).unwrap();
    assert_eq!(cp.confirm_phy_offset, Some(msgs[54].1 as i64), "5.x: start of the last record");

    // in place: the old file stays, the new ones join it; same result
    let (code, v) = run(&["convert-dledger", "--json", src.to_str().unwrap(), "--in-place", "--apply", "--no-backup"]);
    assert_eq!(code, 0, "{v}");
    for d in ["commitlog", "consumequeue", "index"] {
        let list = |root: &Path| {
            let mut v: Vec<_> = walk(&root.join(d));
            v.sort();
            v
        };
        assert_eq!(list(&src), list(&dst), "{d}");
    }
    assert_eq!(std::fs::read(src.join("checkpoint")).unwrap(), std::fs::read(dst.join("checkpoint")).unwrap());
    assert!(!src.join("dledger-n0").exists());
}

fn walk(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for p in super::derived::files_below(dir).unwrap() {
        out.push((p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
    }
    out
}
