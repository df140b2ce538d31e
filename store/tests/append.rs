//! Commitlog write path: appends read back by the existing reader, roll-over
//! with BLANK markers, dispatch requests, flushing, slave bytes, truncation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rmq_store::append::{
    AppendConfig, AppendError, CommitLogWriter, DispatchRequest, FlushDiskType, Hooks, JavaVersion, MessageToStore,
    PutStatus, QueueOffsets, Role, StoreSession, WriterOptions,
};
use rmq_store::dispatch::{check_message, CheckRules, Checked};
use rmq_store::mapped_file::{CommitLog, EntryKind, StopReason};
use rmq_store::record::{
    decode_offset_msg_id, properties_to_bytes, HostAddr, MessageRecord, TRANSACTION_PREPARED_TYPE,
};
use rmq_store::testutil::test_message;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn msg(topic: &str, queue: i32, body_len: usize, seq: u64) -> MessageToStore {
    let mut body = format!("seq={seq};").into_bytes();
    body.resize(body_len.max(body.len()), b'x');
    let (tags, keys, uniq) = (format!("tag{}", seq % 3), format!("k{seq} shared"), format!("U{seq:030}"));
    test_message(topic, queue, body, &[("TAGS", &tags), ("KEYS", &keys), ("UNIQ_KEY", &uniq)], seq)
}

fn cfg(file_size: u64) -> AppendConfig {
    AppendConfig { file_size, ..Default::default() }
}

type Captured = Arc<Mutex<Vec<DispatchRequest>>>;

fn open_writer(
    dir: &Path,
    config: AppendConfig,
    end: Option<u64>,
    offsets: QueueOffsets,
) -> (CommitLogWriter, Captured) {
    let seen: Captured = Arc::default();
    let s = seen.clone();
    let mut o = WriterOptions::new(vec![dir.join("commitlog")], config);
    o.end_offset = end;
    o.queue_offsets = offsets;
    o.run_cleaner = false;
    o.hooks = Hooks { dispatch: Some(Box::new(move |r| s.lock().unwrap().push(r.clone()))), ..Default::default() };
    (CommitLogWriter::open(o).unwrap(), seen)
}

/// Reads the whole log with the read-only reader and checks every record the
/// way `rmq-migrate verify` does; returns (offset, record) of each message.
fn verify_log(dir: &Path, file_size: u64) -> Vec<(u64, MessageRecord)> {
    let cl = CommitLog::open(&[dir.join("commitlog")], Some(file_size)).unwrap();
    assert!(cl.queue().issues().is_empty(), "{:?}", cl.queue().issues());
    let mut it = cl.iter(true);
    let mut out = Vec::new();
    let mut blanks = Vec::new();
    for e in it.by_ref() {
        let e = e.unwrap();
        let f = &cl.files()[e.file_index];
        match &e.kind {
            EntryKind::Message(m) => {
                assert_eq!(m.physical_offset as u64, e.physical_offset, "PHYSICALOFFSET is the position");
                let raw = &f.bytes()[e.file_pos as usize..e.file_pos as usize + m.total_size as usize];
                assert_eq!(m.encode().unwrap(), raw, "byte-identical re-encode at {}", e.physical_offset);
                assert!(m.body_crc_ok());
                out.push((e.physical_offset, (**m).clone()));
            }
            EntryKind::Blank { total_size } => {
                assert_eq!(e.file_pos + *total_size as u64, f.len(), "BLANK covers the rest of the file");
                assert!(f.bytes()[e.file_pos as usize + 8..].iter().all(|b| *b == 0));
                blanks.push(e.file_index);
            }
        }
    }
    assert_ne!(it.stop_reason(), Some(StopReason::Error));
    // every file but the last is closed by a BLANK (or exactly full)
    for i in 0..cl.files().len().saturating_sub(1) {
        assert!(blanks.contains(&i) || out.iter().any(|(o, m)| o + m.total_size as u64 == (i as u64 + 1) * file_size));
    }
    out
}

#[test]
fn appends_read_back_byte_valid_across_file_rolls() {
    let d = tempfile::tempdir().unwrap();
    let size = 64 * 1024;
    let (w, seen) = open_writer(d.path(), cfg(size), None, QueueOffsets::default());
    let mut r = Rng(7);
    let mut pending = Vec::new();
    for seq in 0..600u64 {
        let topic = if seq % 2 == 0 { "TopicA" } else { "TopicB" };
        let mut m = msg(topic, (seq % 3) as i32, (r.next() % 3000) as usize, seq);
        if seq % 50 == 7 {
            m.sys_flag = TRANSACTION_PREPARED_TYPE;
        }
        if seq % 40 == 5 {
            m.born_host = HostAddr::new("2001:db8::7".parse().unwrap(), 4000);
        }
        pending.push((seq, w.put(m)));
        if seq % 100 == 99 {
            let batch: Vec<_> = (0..5).map(|i| msg("TopicB", 9, 8000, 10_000 + seq + i)).collect();
            pending.push((u64::MAX, w.put_batch(batch)));
        }
    }
    let results: Vec<_> = pending.into_iter().map(|(s, c)| (s, c.wait().unwrap())).collect();
    let max = w.max_offset();
    w.shutdown().unwrap();

    let recs = verify_log(d.path(), size);
    assert_eq!(recs.len(), 600 + 6 * 5);
    assert!(recs.last().map(|(o, m)| o + m.total_size as u64) == Some(max));
    let files = std::fs::read_dir(d.path().join("commitlog")).unwrap().count() as u64;
    assert_eq!(files, max.div_ceil(size), "the pre-created next file is removed on clean shutdown");
    // results point at the records; queue offsets consecutive per queue, 0 for PREPARED
    let by_off: std::collections::HashMap<u64, &MessageRecord> = recs.iter().map(|(o, m)| (*o, m)).collect();
    let mut next: std::collections::HashMap<(String, i32), i64> = Default::default();
    for (o, m) in &recs {
        if m.sys_flag & 0xC == TRANSACTION_PREPARED_TYPE {
            assert_eq!(m.queue_offset, 0);
            continue;
        }
        let n = next.entry((m.topic.clone(), m.queue_id)).or_default();
        assert_eq!(m.queue_offset, *n, "queue offset at {o}");
        *n += 1;
    }
    for (seq, res) in &results {
        assert_eq!(res.status, PutStatus::PutOk);
        let a = res.append.as_ref().unwrap();
        let first = by_off[&(a.wrote_offset as u64)];
        if *seq != u64::MAX {
            assert!(String::from_utf8_lossy(&first.body).starts_with(&format!("seq={seq};")));
            assert_eq!(a.store_timestamp, first.store_timestamp);
            assert_eq!(decode_offset_msg_id(&a.msg_id()), Some((first.store_host, a.wrote_offset)));
        } else {
            // a batch: consecutive records in one file, ids comma-joined
            assert_eq!(a.offsets.len(), 5);
            assert_eq!(a.offsets[0] as u64 / size, (a.offsets[4] as u64) / size);
            assert_eq!(a.msg_id().split(',').count(), 5);
            for w in a.offsets.windows(2) {
                assert_eq!(w[1] - w[0], by_off[&(w[0] as u64)].total_size as i64);
            }
        }
    }
    // one dispatch request per record, equal to what the recovery check derives from the bytes
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), recs.len());
    let cl = CommitLog::open(&[d.path().join("commitlog")], Some(size)).unwrap();
    for (req, (o, _)) in seen.iter().zip(&recs) {
        let f = cl.queue().find(*o).unwrap();
        match check_message(f.slice_from(o - f.file_from_offset()), &CheckRules::new(JavaVersion::V5_3_3)) {
            Checked::Message(m) => assert_eq!(&*m, req),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn reopen_continues_after_the_last_record() {
    let d = tempfile::tempdir().unwrap();
    let size = 16 * 1024;
    let (w, _) = open_writer(d.path(), cfg(size), None, QueueOffsets::default());
    for i in 0..40 {
        assert!(w.put(msg("T", 0, 900, i)).wait().unwrap().is_ok());
    }
    let (end, offsets) = (w.max_offset(), w.queue_offsets());
    drop(w); // Drop shuts down too
             // scan (no recovery given) finds the same end
    let (w, _) = open_writer(d.path(), cfg(size), None, offsets);
    assert_eq!(w.max_offset(), end);
    let r = w.put(msg("T", 0, 10, 40)).wait().unwrap();
    assert_eq!(r.append.as_ref().unwrap().wrote_offset as u64, end);
    assert_eq!(r.append.unwrap().logics_offset, 40);
    w.shutdown().unwrap();
    assert_eq!(verify_log(d.path(), size).len(), 41);

    // an explicit end from recovery cuts what follows and zeroes it
    let recs = verify_log(d.path(), size);
    let cut = recs[30].0;
    let (w, _) = open_writer(d.path(), cfg(size), Some(cut), QueueOffsets::default());
    assert_eq!(w.max_offset(), cut);
    w.shutdown().unwrap();
    assert_eq!(verify_log(d.path(), size).len(), 30);
}

#[test]
fn rejects_what_java_rejects() {
    let d = tempfile::tempdir().unwrap();
    let mut c = cfg(8192);
    c.max_message_size = 4096;
    let (w, _) = open_writer(d.path(), c.clone(), None, QueueOffsets::default());
    assert_eq!(w.put(msg("T", 0, 5000, 0)).wait().unwrap().status, PutStatus::MessageIllegal);
    let big_batch: Vec<_> = (0..3).map(|i| msg("T", 0, 3000, i)).collect();
    assert_eq!(w.put_batch(big_batch).wait().unwrap().status, PutStatus::MessageIllegal, "larger than a file");
    let mixed = vec![msg("T", 0, 10, 0), msg("T", 1, 10, 1)];
    assert_eq!(w.put_batch(mixed).wait().unwrap().status, PutStatus::MessageIllegal);
    let long = "L".repeat(150);
    let r = w.put(msg(&long, 0, 10, 1)).wait().unwrap();
    assert!(r.is_ok());
    match w.read_at(r.append.unwrap().wrote_offset as u64).unwrap() {
        rmq_store::Decoded::Message(m) => assert_eq!(m.version, rmq_store::MessageVersion::V2),
        other => panic!("{other:?}"),
    }
    w.shutdown().unwrap();
    assert_eq!(w.put(msg("T", 0, 1, 2)).wait().unwrap().status, PutStatus::ServiceNotAvailable);
    // a 4.9.8 store has no V2 records
    let d4 = tempfile::tempdir().unwrap();
    c.layout = JavaVersion::V4_9_8;
    let (w, _) = open_writer(d4.path(), c, None, QueueOffsets::default());
    assert_eq!(w.put(msg(&long, 0, 10, 1)).wait().unwrap().status, PutStatus::MessageIllegal);
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

#[test]
fn async_flush_follows_least_pages_and_thorough_interval() {
    let d = tempfile::tempdir().unwrap();
    let session = StoreSession::begin(d.path(), JavaVersion::V5_3_3).unwrap();
    let mut c = cfg(1 << 20);
    c.flush_interval = Duration::from_millis(20);
    c.flush_thorough_interval = Duration::from_millis(1500);
    let mut o = WriterOptions::new(vec![d.path().join("commitlog")], c);
    o.checkpoint = Some(session.checkpoint().clone());
    o.run_cleaner = false;
    let w = CommitLogWriter::open(o).unwrap();
    let t0 = Instant::now();
    let r = w.put(msg("T", 0, 100, 0)).wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    if t0.elapsed() < Duration::from_millis(1400) {
        assert_eq!(w.flushed_offset(), 0, "under 4 dirty pages: no periodic flush yet");
    }
    // 4 pages or more: flushed within a few intervals (queued at once, so a
    // periodic flush rarely lands between them and leaves a tail for the thorough one)
    let puts: Vec<_> = (0..20).map(|i| w.put(msg("T", 0, 1000, i + 1))).collect();
    for p in puts {
        p.wait().unwrap();
    }
    let max = w.max_offset();
    assert!(wait_until(Duration::from_secs(5), || w.flushed_offset() >= max), "least-pages flush");
    if t0.elapsed() < Duration::from_millis(1400) {
        assert_eq!(session.checkpoint().read().physic_msg_timestamp, 0, "only a complete flush sets the checkpoint");
    }
    let last = w.put(msg("T", 0, 10, 99)).wait().unwrap().append.unwrap();
    // the thorough interval flushes a single dirty byte and records its timestamp
    assert!(wait_until(Duration::from_secs(5), || w.flushed_offset() == w.max_offset()), "thorough flush");
    assert!(
        wait_until(Duration::from_secs(2), || session.checkpoint().read().physic_msg_timestamp == last.store_timestamp)
    );
    assert!(r.is_ok());
    w.shutdown().unwrap();
    session.close_clean().unwrap();
}

#[test]
fn sync_flush_resolves_after_the_flush_or_times_out() {
    let d = tempfile::tempdir().unwrap();
    let mut c = cfg(1 << 20);
    c.flush_disk_type = FlushDiskType::Sync;
    let (w, _) = open_writer(d.path(), c.clone(), None, QueueOffsets::default());
    let cs: Vec<_> = (0..200).map(|i| w.put(msg("T", (i % 4) as i32, 500, i))).collect();
    for c in cs {
        let r = c.wait().unwrap();
        assert_eq!(r.status, PutStatus::PutOk);
        let a = r.append.unwrap();
        assert!(w.flushed_offset() >= (a.wrote_offset + a.wrote_bytes as i64) as u64, "resolved only once on disk");
    }
    w.shutdown().unwrap();

    // a disk slower than syncFlushTimeout: FLUSH_DISK_TIMEOUT, but the record is stored
    let d = tempfile::tempdir().unwrap();
    c.sync_flush_timeout = Duration::from_millis(50);
    c.flush_delay_for_tests = Some(Duration::from_millis(1500));
    let (w, _) = open_writer(d.path(), c, None, QueueOffsets::default());
    let t = Instant::now();
    let r = w.put(msg("T", 0, 10, 0)).wait().unwrap();
    assert_eq!(r.status, PutStatus::FlushDiskTimeout);
    assert!(t.elapsed() < Duration::from_millis(1400), "the watcher does not wait for the disk");
    assert!(r.append.is_some());
    let mut nowait = msg("T", 0, 10, 1);
    nowait.properties = Bytes::from(properties_to_bytes([("WAIT", "false")]));
    assert_eq!(w.put(nowait).wait().unwrap().status, PutStatus::PutOk);
    w.shutdown().unwrap();
    assert_eq!(verify_log(d.path(), 1 << 20).len(), 2);
}

fn file_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (PathBuf::from(p.file_name().unwrap()), b)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn slave_replays_master_bytes_and_takes_over() {
    let size = 16 * 1024;
    let dm = tempfile::tempdir().unwrap();
    let (m, seen_m) = open_writer(dm.path(), cfg(size), None, QueueOffsets::default());
    for i in 0..60 {
        m.put(msg(if i % 3 == 0 { "A" } else { "B" }, (i % 2) as i32, 700, i)).wait().unwrap();
    }
    let end = m.max_offset();
    m.shutdown().unwrap();
    let master: Vec<u8> = file_bytes(dm.path()).into_iter().flat_map(|(_, b)| b).collect();

    let ds = tempfile::tempdir().unwrap();
    let mut c = cfg(size);
    c.role = Role::Slave;
    let (s, seen_s) = open_writer(ds.path(), c, None, QueueOffsets::default());
    assert_eq!(s.put(msg("A", 0, 1, 0)).wait().unwrap().status, PutStatus::ServiceNotAvailable);
    assert!(matches!(s.append_raw(5, Bytes::new()).wait().unwrap(), Err(AppendError::OffsetMismatch { .. })));
    // chunks of odd sizes that split records and headers
    let mut r = Rng(3);
    let mut at = 0u64;
    let stop = end - 100; // keep the last record incomplete
    while at < stop {
        let n = ((r.next() % 3000) + 1).min(stop - at);
        let data = Bytes::copy_from_slice(&master[at as usize..(at + n) as usize]);
        at = s.append_raw(at, data).wait().unwrap().unwrap();
    }
    assert_eq!(s.max_offset(), stop);
    assert_eq!(seen_s.lock().unwrap().len(), 59, "complete records only");
    assert_eq!(&seen_s.lock().unwrap()[..], &seen_m.lock().unwrap()[..59]);

    // promotion drops the partial record and continues the queue offsets
    assert_eq!(s.set_role(Role::Master).wait().unwrap().unwrap(), end - seen_m.lock().unwrap()[59].msg_size as u64);
    let last = &seen_m.lock().unwrap()[59];
    let r = s.put(msg(&last.topic, last.queue_id, 10, 1000)).wait().unwrap();
    assert_eq!(r.append.as_ref().unwrap().logics_offset, last.consume_queue_offset);
    assert_eq!(r.append.unwrap().wrote_offset, last.commit_log_offset);
    assert!(matches!(
        s.append_raw(s.max_offset(), Bytes::from_static(b"x")).wait().unwrap(),
        Err(AppendError::WrongRole { .. })
    ));
    s.shutdown().unwrap();
    let recs = verify_log(ds.path(), size);
    assert_eq!(recs.len(), 60);
    // up to the takeover the slave's files are the master's bytes
    let slave: Vec<u8> = file_bytes(ds.path()).into_iter().flat_map(|(_, b)| b).collect();
    let same = last.commit_log_offset as usize;
    assert_eq!(&slave[..same], &master[..same]);
}

#[test]
fn truncate_cuts_and_the_next_put_reuses_the_offset() {
    let d = tempfile::tempdir().unwrap();
    let size = 8192;
    let cut_seen = Arc::new(Mutex::new(Vec::new()));
    let cs = cut_seen.clone();
    let mut o = WriterOptions::new(vec![d.path().join("commitlog")], cfg(size));
    o.run_cleaner = false;
    o.hooks.on_truncate = Some(Box::new(move |off| cs.lock().unwrap().push(off)));
    let w = CommitLogWriter::open(o).unwrap();
    let offs: Vec<u64> =
        (0..30).map(|i| w.put(msg("T", 0, 600, i)).wait().unwrap().append.unwrap().wrote_offset as u64).collect();
    assert!(w.max_offset() > 2 * size);
    let cut = offs[5];
    assert!(w.truncate(w.max_offset() + 1).wait().unwrap().is_err());
    w.truncate(cut).wait().unwrap().unwrap();
    assert_eq!(w.max_offset(), cut);
    assert_eq!(*cut_seen.lock().unwrap(), vec![cut]);
    w.set_queue_offset("T", 0, 5);
    let r = w.put(msg("T", 0, 600, 99)).wait().unwrap().append.unwrap();
    assert_eq!((r.wrote_offset as u64, r.logics_offset), (cut, 5));
    w.shutdown().unwrap();
    let recs = verify_log(d.path(), size);
    assert_eq!(recs.len(), 6);
    assert_eq!(std::fs::read_dir(d.path().join("commitlog")).unwrap().count(), 1);
}

#[test]
fn appends_continue_a_java_4_9_8_commitlog() {
    let golden = rmq_store::testutil::golden("java-4.9.8/plain");
    if !golden.is_dir() {
        eprintln!("golden data missing, skipped");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("commitlog")).unwrap();
    for e in std::fs::read_dir(golden.join("commitlog")).unwrap() {
        let p = e.unwrap().path();
        let to = d.path().join("commitlog").join(p.file_name().unwrap());
        std::fs::copy(&p, &to).unwrap();
        let mut perm = std::fs::metadata(&to).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        std::fs::set_permissions(&to, perm).unwrap();
    }
    assert_eq!(rmq_store::append::lifecycle::detect_layout(&golden), Some(JavaVersion::V4_9_8));
    let size = 1 << 20;
    let before = verify_log(d.path(), size);
    let mut offsets = QueueOffsets::default();
    for (_, m) in &before {
        if m.is_dispatched_to_cq() {
            offsets.set(&m.topic, m.queue_id, offsets.get(&m.topic, m.queue_id).max(m.queue_offset + 1));
        }
    }
    let mut c = cfg(size);
    c.layout = JavaVersion::V4_9_8;
    let (w, _) = open_writer(d.path(), c, None, offsets.clone());
    let end = before.last().map(|(o, m)| o + m.total_size as u64).unwrap();
    assert_eq!(w.max_offset(), end);
    let topic = before.last().unwrap().1.topic.clone();
    let r = w.put(msg(&topic, 0, 100, 0)).wait().unwrap().append.unwrap();
    assert_eq!(r.wrote_offset as u64, end);
    assert_eq!(r.logics_offset, offsets.get(&topic, 0));
    w.shutdown().unwrap();
    let after = verify_log(d.path(), size);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[..before.len()], before[..]);
}

#[test]
fn garbage_replicated_bytes_are_an_error_not_a_panic() {
    let d = tempfile::tempdir().unwrap();
    let mut c = cfg(8192);
    c.role = Role::Slave;
    let (s, seen) = open_writer(d.path(), c, None, QueueOffsets::default());
    let mut r = Rng(99);
    let mut at = 0u64;
    for round in 0..200 {
        let n = (r.next() % 700) as usize + 1;
        let mut data: Vec<u8> = (0..n).map(|_| r.next() as u8).collect();
        if round % 3 == 0 && n >= 8 {
            // plausible header: size within the chunk, a known magic
            let size = (r.next() % 400) as i32;
            data[0..4].copy_from_slice(&size.to_be_bytes());
            data[4..8].copy_from_slice(&0xDAA320A7u32.to_be_bytes());
        }
        match s.append_raw(at, Bytes::from(data)).wait().unwrap() {
            Ok(end) => at = end,
            Err(AppendError::Store(e)) => {
                // names the file and the offset; the log is cut back and replication resumes
                assert!(e.path().is_some() && e.offset().is_some(), "{e}");
                let bad = s.max_offset().min(at);
                s.truncate(bad).wait().unwrap().unwrap();
                at = s.max_offset();
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(seen.lock().unwrap().len() < 200);
    s.shutdown().unwrap();
}

#[test]
fn a_stuck_append_round_makes_puts_busy() {
    let d = tempfile::tempdir().unwrap();
    let mut c = cfg(1 << 20);
    c.os_page_cache_busy_timeout = Duration::from_millis(100);
    let mut o = WriterOptions::new(vec![d.path().join("commitlog")], c);
    o.run_cleaner = false;
    // a dispatcher that stalls the append thread once
    let mut first = true;
    o.hooks.dispatch = Some(Box::new(move |_| {
        if std::mem::take(&mut first) {
            std::thread::sleep(Duration::from_millis(2000));
        }
    }));
    let w = CommitLogWriter::open(o).unwrap();
    let slow = w.put(msg("T", 0, 10, 0));
    assert!(wait_until(Duration::from_millis(1500), || w.is_os_page_cache_busy()));
    // the put path samples the clock: within a few puts during the stall it refuses
    let statuses: Vec<_> = (1..4).map(|i| w.put(msg("T", 0, 10, i))).collect();
    assert_eq!(statuses.into_iter().last().unwrap().wait().unwrap().status, PutStatus::OsPageCacheBusy);
    assert!(slow.wait().unwrap().is_ok());
    // the round ends just after its puts resolve
    assert!(wait_until(Duration::from_secs(5), || !w.is_os_page_cache_busy()));
    assert!(w.put(msg("T", 0, 10, 2)).wait().unwrap().is_ok());
}

#[test]
fn large_bodies_written_in_place_read_back_identical() {
    let d = tempfile::tempdir().unwrap();
    let size = 1 << 20;
    let mut c = cfg(size);
    c.enabled_append_prop_crc = true;
    let (w, _) = open_writer(d.path(), c, None, QueueOffsets::default());
    let sizes = [100_000usize, 10, 300_000, 70_000, 50, 200_000, 65_536, 400_000];
    let cs: Vec<_> = sizes.iter().enumerate().map(|(i, n)| w.put(msg("Big", 0, *n, i as u64))).collect();
    for c in cs {
        assert!(c.wait().unwrap().is_ok());
    }
    w.shutdown().unwrap();
    let recs = verify_log(d.path(), size);
    assert_eq!(recs.len(), sizes.len());
    for ((_, m), n) in recs.iter().zip(sizes) {
        assert_eq!(m.body.len(), n);
        let (stored, computed) = m.property_crc().unwrap();
        assert_eq!(stored, computed as i64, "__CRC32# covers the body written in place");
    }
}

/// `dispatch_end` closes every run of dispatches, and a put resolves only
/// after the end of the run that dispatched it (the broker publishes consume
/// queue units there); a slave's replayed records end their runs too.
#[test]
fn dispatch_runs_end_before_their_puts_resolve() {
    #[derive(Debug, Clone, PartialEq)]
    enum Ev {
        Dispatched(i64),
        End,
    }
    let open = |dir: &Path, role: Role| {
        let events: Arc<Mutex<Vec<Ev>>> = Arc::default();
        let (e1, e2) = (events.clone(), events.clone());
        let mut o = WriterOptions::new(vec![dir.join("commitlog")], AppendConfig { role, ..cfg(64 * 1024) });
        o.run_cleaner = false;
        o.hooks = Hooks {
            dispatch: Some(Box::new(move |r| e1.lock().unwrap().push(Ev::Dispatched(r.commit_log_offset)))),
            dispatch_end: Some(Box::new(move || e2.lock().unwrap().push(Ev::End))),
            ..Default::default()
        };
        (CommitLogWriter::open(o).unwrap(), events)
    };
    let dm = tempfile::tempdir().unwrap();
    let (m, events) = open(dm.path(), Role::Master);
    let pending: Vec<_> = (0..200).map(|i| m.put(msg("T", (i % 4) as i32, 300, i))).collect();
    for p in pending {
        let off = p.wait().unwrap().append.unwrap().wrote_offset;
        let ev = events.lock().unwrap();
        let at = ev.iter().position(|e| *e == Ev::Dispatched(off)).expect("dispatched before it resolved");
        assert!(ev[at..].contains(&Ev::End), "the run of {off} ended before its put resolved");
    }
    let end = m.max_offset();
    m.shutdown().unwrap();
    let ev = events.lock().unwrap().clone();
    assert_eq!(ev.iter().filter(|e| matches!(e, Ev::Dispatched(_))).count(), 200);
    assert_eq!(ev.last(), Some(&Ev::End));
    assert!(!ev.windows(2).any(|w| w == [Ev::End, Ev::End]), "no empty runs");

    let master: Vec<u8> = file_bytes(dm.path()).into_iter().flat_map(|(_, b)| b).collect();
    let ds = tempfile::tempdir().unwrap();
    let (s, events) = open(ds.path(), Role::Slave);
    let mut at = 0u64;
    while at < end {
        let n = 5000.min(end - at);
        at = s.append_raw(at, Bytes::copy_from_slice(&master[at as usize..(at + n) as usize])).wait().unwrap().unwrap();
        let ev = events.lock().unwrap();
        assert!(matches!(ev.last(), None | Some(Ev::End)), "a replayed chunk leaves no run open");
    }
    s.shutdown().unwrap();
    assert_eq!(events.lock().unwrap().iter().filter(|e| matches!(e, Ev::Dispatched(_))).count(), 200);
}
