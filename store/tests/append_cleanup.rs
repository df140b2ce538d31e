//! Expired commitlog files deleted by the cleaner (fake clock) take their
//! consume-queue and index files along: the dispatcher hooked into the
//! commitlog writer cleans its queues, corrects their min offsets, and the
//! store still passes `rmq-migrate verify`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rmq_store::append::{AppendConfig, CleanConfig, CleanEnv, CommitLogWriter, MessageToStore, WriterOptions};
use rmq_store::cleanup::{clean_store_dir, CleanupReport, Mode, QueueMinOffsets};
use rmq_store::consume_queue::{list_queues, ConsumeQueue, CQ_UNIT_SIZE};
use rmq_store::dispatch::{DispatchTarget, Dispatcher, IndexGeometry, IndexState};
use rmq_store::index::{list_index_files, IndexFile};
use rmq_store::mapped_file::{list_mapped_files, CommitLog};
use rmq_store::record::Decoded;
use rmq_store::testutil::test_message;
use rmq_store::StoreDir;

const CL: u64 = 64 * 1024;
const CQ: u64 = 16 * CQ_UNIT_SIZE;
const GEOM: IndexGeometry = IndexGeometry { hash_slot_num: 8, index_num: 32 };
const HOUR: i64 = 3_600_000;

#[derive(Clone)]
struct Fake(Arc<Mutex<(i64, u32)>>);

impl CleanEnv for Fake {
    fn now_ms(&self) -> i64 {
        self.0.lock().unwrap().0
    }
    fn local_hour(&self) -> u32 {
        self.0.lock().unwrap().1
    }
    fn disk_used_ratio(&self, _: &Path) -> f64 {
        0.5
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn set_mtime(p: &Path, ms: i64) {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64);
    std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
}

fn msg(topic: &str, queue: i32, seq: u64) -> MessageToStore {
    let (keys, uniq) = (format!("k{seq}"), format!("U{seq:020}"));
    let body = vec![b'a' + (seq % 26) as u8; 1100 + (seq % 7) as usize * 50];
    test_message(topic, queue, body, &[("TAGS", "t"), ("KEYS", &keys), ("UNIQ_KEY", &uniq)], seq)
}

/// What was stored: (topic, queue) → [(queue offset, physical offset)].
type Stored = BTreeMap<(String, i32), Vec<(i64, i64)>>;

struct Store {
    root: PathBuf,
    writer: Arc<CommitLogWriter>,
    dispatcher: Arc<Mutex<Dispatcher>>,
    reports: Arc<Mutex<Vec<CleanupReport>>>,
    fake: Fake,
    stored: Stored,
    seq: u64,
}

/// `capture`: the min-offset hook keeps each run's report (else the
/// dispatcher's own hook, which logs it).
fn open(root: &Path, capture: bool) -> Store {
    std::fs::write(
        root.join("broker.conf"),
        format!(
            "mappedFileSizeCommitLog={CL}\nmappedFileSizeConsumeQueue={CQ}\nmaxHashSlotNum={}\nmaxIndexNum={}\n",
            GEOM.hash_slot_num, GEOM.index_num
        ),
    )
    .unwrap();
    let target = DispatchTarget {
        cq_root: root.join("consumequeue"),
        cq_file_size: CQ,
        index_dir: Some(root.join("index")),
        index_geometry: GEOM,
    };
    let mut d = Dispatcher::new(target, HashMap::new(), IndexState::default(), false).unwrap();
    assert!(d.correct_min_offsets(0).errors.is_empty());
    let dispatcher = Arc::new(Mutex::new(d));
    let reports: Arc<Mutex<Vec<CleanupReport>>> = Arc::default();
    let fake = Fake(Arc::new(Mutex::new((now_ms(), 3))));
    let cfg = AppendConfig {
        file_size: CL,
        clean: CleanConfig {
            file_reserved_hours: 72,
            delete_when: vec![4],
            delete_files_interval: Duration::ZERO,
            delete_file_batch_max: 100,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut o = WriterOptions::new(vec![root.join("commitlog")], cfg);
    o.run_cleaner = false;
    o.clean_env = Some(Box::new(fake.clone()));
    o.logics_dir = Some(root.join("consumequeue"));
    let (d1, d2, r) = (dispatcher.clone(), dispatcher.clone(), reports.clone());
    o.hooks.dispatch = Some(Box::new(move |req| d1.lock().unwrap().dispatch(req).expect("dispatch")));
    o.hooks.on_min_offset = if capture {
        Some(Box::new(move |min| r.lock().unwrap().push(Dispatcher::delete_expired_shared(&d2, min))))
    } else {
        Some(Box::new(Dispatcher::min_offset_hook(d2)))
    };
    let writer = Arc::new(CommitLogWriter::open(o).unwrap());
    Store { root: root.to_path_buf(), writer, dispatcher, reports, fake, stored: BTreeMap::new(), seq: 0 }
}

impl Store {
    fn put(&mut self, topic: &str, queue: i32) {
        let r = self.writer.put(msg(topic, queue, self.seq)).wait().unwrap();
        self.seq += 1;
        let a = r.append.expect("stored");
        self.stored.entry((topic.to_string(), queue)).or_default().push((a.logics_offset, a.wrote_offset));
    }

    /// Ages every commitlog file but the last `young`, then runs the cleaner at a deleteWhen hour.
    fn expire_all_but(&self, young: usize) -> CleanupReport {
        self.writer.flush_all().unwrap();
        let files = self.writer.queue().files();
        let now = now_ms();
        for (i, f) in files.iter().enumerate() {
            set_mtime(f.path(), if i + young >= files.len() { now } else { now - 100 * HOUR });
        }
        *self.fake.0.lock().unwrap() = (now, 4);
        let out = self.writer.cleaner().run_once();
        assert!(out.deleted > 0, "{out:?}");
        assert_eq!(out.min_offset, self.writer.min_offset());
        let r = self.reports.lock().unwrap().pop().expect("the hook ran");
        assert!(r.errors.is_empty() && r.notes.is_empty(), "{:?} {:?}", r.errors, r.notes);
        assert_eq!(r.min_physical_offset, out.min_offset);
        r
    }
}

/// Java's expected min offset: the first unit pointing at or above `min_phy`
/// (`from` when the queue started mid-way), else the end of the queue.
fn expected_min(units: &[(i64, i64)], min_phy: u64) -> i64 {
    units.iter().find(|(_, p)| *p as u64 >= min_phy).map(|(q, _)| *q).unwrap_or(units.last().unwrap().0 + 1)
}

/// Checks that no file below `min_phy` survived and that every unit from the
/// min offset on points at its record.
fn check(root: &Path, stored: &Stored, mins: &QueueMinOffsets, min_phy: u64, read: &dyn Fn(u64) -> Decoded) {
    let queues = list_queues(&root.join("consumequeue")).unwrap();
    assert_eq!(queues.len(), stored.len());
    for (topic, qid, dir) in queues {
        let units = &stored[&(topic.clone(), qid)];
        let files = list_mapped_files(&dir).unwrap();
        for (_, p) in &files[..files.len() - 1] {
            let b = std::fs::read(p).unwrap();
            let last = i64::from_be_bytes(b[b.len() - 20..b.len() - 12].try_into().unwrap());
            assert!(last >= min_phy as i64, "{} should be gone (last unit at {last} < {min_phy})", p.display());
        }
        let cq = ConsumeQueue::open(&dir, &topic, qid, Some(CQ)).unwrap();
        let min = mins.min_offset(&topic, qid);
        let max = units.last().unwrap().0 + 1;
        assert_eq!(min, expected_min(units, min_phy), "{topic}/{qid}");
        let first_start = files[0].0;
        assert!(min == max || (first_start / 20..(first_start + CQ) / 20).contains(&(min as u64)), "{topic}/{qid}");
        // units below min in the first file point below the commitlog (or are fillPreBlank placeholders)
        for qo in first_start / 20..min as u64 {
            if let Some(e) = cq.get(qo).filter(|e| e.is_valid()) {
                assert!(e.is_placeholder() || (e.physical_offset as u64) < min_phy, "{topic}/{qid}#{qo}");
            }
        }
        for qo in min..max {
            let e = cq.get(qo as u64).unwrap_or_else(|| panic!("{topic}/{qid}#{qo} missing"));
            assert!(e.physical_offset as u64 >= min_phy);
            match read(e.physical_offset as u64) {
                Decoded::Message(m) => {
                    assert_eq!((m.topic.as_str(), m.queue_id, m.queue_offset), (topic.as_str(), qid, qo));
                    assert_eq!(m.total_size, e.size);
                }
                Decoded::Blank { .. } => panic!("{topic}/{qid}#{qo} points at a BLANK"),
            }
        }
    }
}

/// (path, endPhyOffset) of every index file.
fn index_files(root: &Path) -> Vec<(PathBuf, i64)> {
    let files = list_index_files(&root.join("index")).unwrap();
    files
        .into_iter()
        .map(|p| {
            let f = IndexFile::open(&p, Some(GEOM.hash_slot_num), Some(GEOM.index_num)).unwrap();
            let end = f.header().end_phy_offset;
            (p, end)
        })
        .collect()
}

fn check_index(before: &[(PathBuf, i64)], report: &CleanupReport, root: &Path, min_phy: u64) {
    let after = index_files(root);
    assert!(!report.index_files_deleted.is_empty());
    for p in &report.index_files_deleted {
        let end = before.iter().find(|(q, _)| q == p).expect("existed").1;
        assert!((end as u64) < min_phy && !p.exists(), "{}", p.display());
    }
    assert_eq!(after.len() + report.index_files_deleted.len(), before.len());
    assert!(after.iter().rev().skip(1).all(|(_, end)| *end as u64 >= min_phy), "{after:?}");
    assert_eq!(after.last(), before.last(), "the file being written stays");
}

/// `rmq-migrate verify` from the workspace's target directory (built by
/// `scripts/test-all.sh`; `RMQ_MIGRATE_BIN` overrides). Skipped when absent.
fn migrate_verify(root: &Path) {
    let bin = std::env::var_os("RMQ_MIGRATE_BIN").map(PathBuf::from).or_else(|| {
        let exe = std::env::current_exe().ok()?;
        Some(exe.parent()?.parent()?.join(format!("rmq-migrate{}", std::env::consts::EXE_SUFFIX)))
    });
    let Some(bin) = bin.filter(|b| b.is_file()) else {
        eprintln!("rmq-migrate binary not built: `rmq-migrate verify` skipped");
        return;
    };
    let out = std::process::Command::new(&bin).arg("verify").arg(root).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{}", text, String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("OK") && text.contains("index files"), "{text}");
}

#[test]
fn cleaner_deletes_consume_queue_and_index_files_below_the_commitlog() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path(), true);
    // Early/0 lives only in the first commitlog files; Late/0 starts mid-way at
    // queue offset 37 (its first file gets fillPreBlank placeholders)
    for i in 0..40 {
        s.put("Early", 0);
        s.put("T", i % 3);
    }
    s.writer.set_queue_offset("Late", 0, 37);
    for i in 0..260 {
        s.put("T", i % 3);
        if i % 2 == 0 {
            s.put("Late", 0);
        }
    }
    let mins = s.dispatcher.lock().unwrap().min_offsets();
    assert_eq!(mins.min_offset("Late", 0), 37, "fillPreBlank sets the min offset");
    assert_eq!(mins.min_offset("T", 1), 0);
    assert!(s.writer.queue().files().len() >= 8);

    let before = index_files(&s.root);
    let r = s.expire_all_but(4);
    let min_phy = s.writer.min_offset();
    assert!(min_phy >= 4 * CL);
    assert!(r.cq_files_deleted.len() >= 8, "{:?}", r.cq_files_deleted);
    let early = d.path().join("consumequeue/Early/0");
    assert_eq!(list_mapped_files(&early).unwrap().len(), 1, "the last file of a queue stays");
    assert_eq!(mins.min_offset("Early", 0), 40, "no unit left: min = max");
    assert_eq!(r.min_offset("Early", 0), Some(40));
    let w = &s.writer;
    let read = |o: u64| w.read_at(o).unwrap();
    check(&s.root, &s.stored, &mins, min_phy, &read);
    check_index(&before, &r, &s.root, min_phy);

    // writing goes on after the cleanup; a second run cuts further
    for i in 0..200 {
        s.put("T", i % 3);
        s.put("Late", 0);
    }
    let again = s.dispatcher.lock().unwrap().delete_expired(min_phy);
    assert!(again.cq_files_deleted.is_empty() && again.index_files_deleted.is_empty() && again.errors.is_empty());
    assert_eq!(again.min_offset("Early", 0), Some(40));
    let before = index_files(&s.root);
    let r = s.expire_all_but(2);
    let min_phy = s.writer.min_offset();
    assert!(r.cq_files_deleted.iter().any(|p| p.starts_with(d.path().join("consumequeue/Late/0"))));
    assert!(mins.min_offset("Late", 0) > 37);
    let w = &s.writer;
    let read = |o: u64| w.read_at(o).unwrap();
    check(&s.root, &s.stored, &mins, min_phy, &read);
    check_index(&before, &r, &s.root, min_phy);

    let Store { writer, dispatcher, stored, .. } = s;
    writer.shutdown().unwrap();
    drop(Arc::try_unwrap(writer).expect("one owner"));
    let dispatcher = Arc::try_unwrap(dispatcher).ok().expect("the writer's hooks are gone").into_inner().unwrap();
    dispatcher.finish().unwrap();

    // offline, the files alone give the same min offsets and nothing more to delete
    let dir = StoreDir::open(d.path(), None).unwrap();
    let offline = clean_store_dir(&dir, &Mode::Delete).unwrap();
    assert!(offline.errors.is_empty(), "{:?}", offline.errors);
    assert!(offline.cq_files_deleted.is_empty() && offline.index_files_deleted.is_empty());
    assert_eq!(offline.min_physical_offset, min_phy);
    for ((t, q), m) in mins.snapshot() {
        assert_eq!(offline.min_offset(&t, q), Some(m), "{t}/{q}");
    }
    let cl = CommitLog::open(&[d.path().join("commitlog")], Some(CL)).unwrap();
    check(d.path(), &stored, &mins, min_phy, &|o| cl.read_at(o).unwrap());
    migrate_verify(d.path());
}

#[test]
fn cleanup_runs_while_messages_are_appended() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path(), false);
    *s.fake.0.lock().unwrap() = (now_ms(), 4);
    let stop = Arc::new(AtomicBool::new(false));
    let (w, stop2) = (s.writer.clone(), stop.clone());
    // the cleaner thread: every flushed commitlog file but the last goes, the hook cleans the rest
    let cleaner = std::thread::spawn(move || {
        let mut runs = 0;
        while !stop2.load(Ordering::Acquire) {
            w.flush_all().unwrap();
            for f in w.queue().files() {
                set_mtime(f.path(), now_ms() - 100 * HOUR);
            }
            if w.cleaner().run_once().deleted > 0 {
                runs += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        runs
    });
    for i in 0..1500 {
        s.put("C", i % 4);
    }
    stop.store(true, Ordering::Release);
    assert!(cleaner.join().unwrap() > 2);
    let min_phy = s.writer.min_offset();
    assert!(min_phy >= 4 * CL);
    // a record dispatched just after its file went may sit above the min offset:
    // one more pass settles it (Java's periodic correction)
    let r = Dispatcher::delete_expired_shared(&s.dispatcher, min_phy);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let mins = s.dispatcher.lock().unwrap().min_offsets();
    let w = &s.writer;
    check(d.path(), &s.stored, &mins, min_phy, &|o| w.read_at(o).unwrap());
    let live = index_files(d.path());
    assert!(live.iter().rev().skip(1).all(|(_, end)| *end as u64 >= min_phy), "{live:?}");
    w.shutdown().unwrap();
}
