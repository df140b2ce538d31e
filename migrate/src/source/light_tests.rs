//! `scan_light` must report exactly what `scan` reports, on golden and damaged stores,
//! walked on one thread or in small chunks on two.

use std::path::Path;

use rmq_store::testutil::{golden, STORES};

use super::*;
use crate::cli::StoreArgs;

type Visits = Vec<(u64, String, i32, i64, bool)>;

/// `scan`'s outcome and visits, and `scan_light`'s for one thread and for chunks small
/// enough that golden files are walked in many speculative parts (some starting
/// inside records, some at damage).
fn both(dir: &Path) -> ((String, Visits), (String, Visits)) {
    let store =
        Store::open(&StoreArgs { dir: dir.to_path_buf(), commitlog_path: None, commitlog_file_size: None }).unwrap();
    let mut full = Vec::new();
    let a = store.scan(&|_| {}, &mut |item| {
        if let ItemKind::Message(m) = &item.kind {
            full.push((item.physical_offset, m.topic.clone(), m.queue_id, m.queue_offset, m.is_dispatched_to_cq()));
        }
    });
    let mut results = Vec::new();
    for chunk in [None, Some(1 << 12), Some(40_000), Some(1 << 18)] {
        let mut light = Vec::new();
        let o = store.scan_light_with(
            &|_| {},
            &mut |phys, q| light.push((phys, q.topic.to_string(), q.queue_id, q.queue_offset, q.dispatched)),
            chunk,
        );
        results.push((format!("{o:?}"), light));
    }
    let first = results[0].clone();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r, &first, "chunked walk {i} differs from the one-thread walk");
    }
    ((format!("{a:?}"), full), first)
}

use rmq_store::testutil::copy_dir;

#[test]
fn same_outcome_as_scan_on_golden_stores() {
    for s in STORES {
        let dir = golden(s);
        if dir.is_dir() {
            let (a, b) = both(&dir);
            assert_eq!(a, b, "{s}");
        }
    }
}

#[test]
fn same_outcome_as_scan_on_damaged_stores() {
    let src = golden("java-4.9.8/plain");
    if !src.is_dir() {
        return;
    }
    let f0 = "commitlog/00000000000000000000";
    let f2 = "commitlog/00000000000002097152";
    // (file, offset, bytes written there); offsets hit record headers, bodies,
    // topic and property bytes, BLANK markers and unwritten space.
    let first = std::fs::read(src.join(f0)).unwrap();
    let at = |p: &[u8]| (p.as_ptr() as usize - first.as_ptr() as usize) as u64;
    let v0 = RecordView::parse(&first).unwrap();
    let topic_at = at(v0.topic.as_bytes());
    let body1_at = at(RecordView::parse(&first[v0.bytes.len()..]).unwrap().body);
    let mut blank_at = 0usize;
    while let Ok(v) = RecordView::parse(&first[blank_at..]) {
        blank_at += v.bytes.len();
    }
    let blank_at = blank_at as u64;
    let damage: &[(&str, u64, &[u8])] = &[
        (f0, 0, &[0, 0, 0, 0, 0, 0, 0, 0]),
        (f0, 3, &[0xFF]),
        (f0, 5, &[0x00]),
        (f0, 100, &[0xAA]),
        (f0, topic_at + 1, &[0x80]),
        (f0, body1_at, &[0xFF; 16]),
        (f0, blank_at + 3, &[1]),
        (f2, 600_000, &[7]),
        (f2, 1_048_000, &[0, 0, 0, 9, 0xCB, 0xD4, 0x31, 0x94]),
    ];
    for (file, off, bytes) in damage {
        let t = tempfile::tempdir().unwrap();
        copy_dir(&src, t.path());
        let p = t.path().join(file);
        let mut data = std::fs::read(&p).unwrap();
        let at = *off as usize;
        data[at..at + bytes.len()].copy_from_slice(bytes);
        std::fs::write(&p, data).unwrap();
        let (a, b) = both(t.path());
        assert_eq!(a, b, "{file} @ {off}");
        assert!(a.0.contains("issues: [Issue"), "{file} @ {off}: no issue found: {}", a.0);
    }
    // A file cut short in the middle of a record.
    let t = tempfile::tempdir().unwrap();
    copy_dir(&src, t.path());
    let p = t.path().join(f2);
    let len = std::fs::metadata(&p).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(len / 3).unwrap();
    let (a, b) = both(t.path());
    assert_eq!(a, b, "truncated");
}

/// Records whose bodies hold two well-formed records each: a chunk start inside such a
/// body finds a false record start, which the previous chunk's walk must reject.
#[test]
fn false_record_starts_inside_bodies_are_rejected() {
    use rmq_store::record::{crc32_masked, properties_to_bytes, HostAddr, MessageVersion, Properties};

    let record = |body: Vec<u8>, phys: i64, qo: i64| {
        let mut m = MessageRecord {
            total_size: 0,
            version: MessageVersion::V1,
            body_crc: crc32_masked(&body),
            queue_id: 0,
            flag: 0,
            queue_offset: qo,
            physical_offset: phys,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: HostAddr::v4([127, 0, 0, 1], 1),
            store_timestamp: 2,
            store_host: HostAddr::v4([127, 0, 0, 1], 2),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: body.into(),
            topic: "T".into(),
            properties_raw: properties_to_bytes([("UNIQ_KEY", "K")]).into(),
            properties: Properties::new(),
        };
        m.total_size = m.computed_length() as i32;
        m.encode().unwrap()
    };
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("commitlog")).unwrap();
    let mut data = Vec::new();
    for i in 0..200i64 {
        let fake = record(vec![b'x'; 300 + i as usize % 7], 0, 0);
        let body = [fake.clone(), fake].concat();
        data.extend(record(body, data.len() as i64, i));
    }
    data.resize(data.len() + 100_000, 0);
    std::fs::write(t.path().join("commitlog/00000000000000000000"), &data).unwrap();
    let (a, b) = both(t.path());
    assert_eq!(a, b);
    assert!(a.0.contains("messages: 200,") && a.0.contains("issues: []"), "{}", a.0);
}

#[test]
fn first_non_zero_finds_the_first() {
    let mut b = vec![0u8; 1000];
    assert_eq!(first_non_zero(&b), None);
    for at in [999, 640, 64, 63, 0] {
        b[at] = 7;
        assert_eq!(first_non_zero(&b), Some(at));
        assert_eq!(first_non_zero(&b[..at]), b[..at].iter().position(|x| *x != 0));
    }
    assert_eq!(first_non_zero(&[]), None);
}
