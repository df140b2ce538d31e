//! Expired commitlog file deletion with a fake clock and fake disk usage.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rmq_store::append::{
    AppendConfig, CleanConfig, CleanEnv, CommitLogWriter, MessageToStore, PutStatus, WriterOptions,
};
use rmq_store::mapped_file::CommitLog;
use rmq_store::record::HostAddr;

#[derive(Clone)]
struct Fake(Arc<Mutex<(i64, u32, f64)>>);

impl Fake {
    fn set(&self, now_ms: i64, hour: u32, ratio: f64) {
        *self.0.lock().unwrap() = (now_ms, hour, ratio);
    }
}

impl CleanEnv for Fake {
    fn now_ms(&self) -> i64 {
        self.0.lock().unwrap().0
    }
    fn local_hour(&self) -> u32 {
        self.0.lock().unwrap().1
    }
    fn disk_used_ratio(&self, _: &std::path::Path) -> f64 {
        self.0.lock().unwrap().2
    }
}

fn msg(seq: u64) -> MessageToStore {
    MessageToStore {
        topic: "T".into(),
        queue_id: 0,
        flag: 0,
        body: Bytes::from(vec![b'a' + (seq % 26) as u8; 1200]),
        properties: Bytes::new(),
        sys_flag: 0,
        born_timestamp: 0,
        born_host: HostAddr::v4([127, 0, 0, 1], 1),
        store_host: HostAddr::v4([127, 0, 0, 1], 2),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

const HOUR: i64 = 3_600_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn set_mtime(p: &std::path::Path, ms: i64) {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64);
    std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
}

#[test]
fn deletes_expired_files_at_delete_when_and_on_full_disk() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake(Arc::new(Mutex::new((now_ms(), 3, 0.5))));
    let mins = Arc::new(Mutex::new(Vec::new()));
    let m2 = mins.clone();
    let cfg = AppendConfig {
        file_size: 4096,
        clean: CleanConfig {
            file_reserved_hours: 72,
            delete_when: vec![4, 12],
            delete_files_interval: Duration::ZERO,
            delete_file_batch_max: 3,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut o = WriterOptions::new(vec![d.path().join("commitlog")], cfg);
    o.run_cleaner = false;
    o.clean_env = Some(Box::new(fake.clone()));
    o.hooks.on_min_offset = Some(Box::new(move |m| m2.lock().unwrap().push(m)));
    let w = CommitLogWriter::open(o).unwrap();
    for i in 0..30 {
        assert!(w.put(msg(i)).wait().unwrap().is_ok());
    }
    w.flush_all().unwrap();
    let files = w.queue().files();
    assert_eq!(files.len(), 10, "three 1.3 KB records per 4 KiB file");
    let now = now_ms();
    // files 0..4 old, 4 young (stops the run), the rest old again, the last being written
    for (i, f) in files.iter().enumerate() {
        set_mtime(f.path(), if i == 4 { now - HOUR } else { now - 100 * HOUR });
    }

    fake.set(now, 3, 0.5);
    assert_eq!(w.cleaner().run_once().deleted, 0, "not a deleteWhen hour, disk fine");
    fake.set(now, 12, 0.5);
    let out = w.cleaner().run_once();
    assert_eq!((out.deleted, out.min_offset), (3, 3 * 4096), "deleteFileBatchMax");
    let out = w.cleaner().run_once();
    assert_eq!((out.deleted, out.min_offset), (1, 4 * 4096), "stops at the first file still reserved");
    assert_eq!(*mins.lock().unwrap(), vec![3 * 4096, 4 * 4096]);
    assert!(!files[0].path().exists() && files[4].path().exists());
    // readers still holding a deleted file keep reading it
    assert!(!files[0].written().is_empty());

    // over diskMaxUsedSpaceRatio: expired files go at any hour, young ones stay
    fake.set(now, 3, 0.80);
    assert_eq!(w.cleaner().run_once().deleted, 0);
    // later, everything but the last file is expired
    fake.set(now + 100 * HOUR, 3, 0.80);
    assert_eq!(w.cleaner().run_once().deleted, 3);
    assert_eq!(w.cleaner().run_once().deleted, 2);
    assert_eq!(w.queue().files().len(), 1, "never the file being written");
    assert_eq!(w.cleaner().run_once().deleted, 0);
    let min = w.min_offset();
    assert_eq!(*mins.lock().unwrap().last().unwrap(), min);
    // the reader opens what is left
    let cl = CommitLog::open(&[d.path().join("commitlog")], Some(4096)).unwrap();
    assert_eq!(cl.queue().min_offset(), min);
    assert!(cl.iter_from(min, true).unwrap().all(|e| e.is_ok()));
    w.shutdown().unwrap();
}

#[test]
fn forced_cleaning_and_disk_full() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake(Arc::new(Mutex::new((now_ms(), 3, 0.5))));
    let cfg = AppendConfig {
        file_size: 4096,
        flush_interval: Duration::from_secs(3600),
        flush_thorough_interval: Duration::from_secs(3600),
        clean: CleanConfig { delete_files_interval: Duration::ZERO, delete_file_batch_max: 100, ..Default::default() },
        ..Default::default()
    };
    let mut o = WriterOptions::new(vec![d.path().join("commitlog")], cfg.clone());
    o.run_cleaner = false;
    o.clean_env = Some(Box::new(fake.clone()));
    let w = CommitLogWriter::open(o).unwrap();
    for i in 0..12 {
        w.put(msg(i)).wait().unwrap();
    }
    w.flush_all().unwrap();
    for i in 12..18 {
        w.put(msg(i)).wait().unwrap();
    }
    let flushed = w.flushed_offset();
    assert_eq!(w.queue().files().len(), 6);
    // past diskSpaceCleanForciblyRatio: young files go too, but not unflushed ones
    fake.set(now_ms(), 3, 0.87);
    let out = w.cleaner().run_once();
    assert_eq!(out.deleted as u64, flushed / 4096);
    assert!(!out.disk_full);
    assert!(w.put(msg(99)).wait().unwrap().is_ok());
    // past diskSpaceWarningLevelRatio: writes refused until space is back
    fake.set(now_ms(), 3, 0.95);
    assert!(w.cleaner().run_once().disk_full);
    assert_eq!(w.put(msg(100)).wait().unwrap().status, PutStatus::ServiceNotAvailable);
    fake.set(now_ms(), 3, 0.5);
    assert!(!w.cleaner().run_once().disk_full);
    assert!(w.put(msg(101)).wait().unwrap().is_ok());
    // cleanFileForciblyEnable=false: a full disk only removes expired files
    drop(w);
    let d2 = tempfile::tempdir().unwrap();
    let mut c2 = cfg;
    c2.clean.clean_file_forcibly_enable = false;
    let mut o = WriterOptions::new(vec![d2.path().join("commitlog")], c2);
    o.run_cleaner = false;
    o.clean_env = Some(Box::new(fake.clone()));
    let w = CommitLogWriter::open(o).unwrap();
    for i in 0..12 {
        w.put(msg(i)).wait().unwrap();
    }
    w.flush_all().unwrap();
    fake.set(now_ms(), 3, 0.87);
    assert_eq!(w.cleaner().run_once().deleted, 0);
    // a manual request deletes expired files whatever the hour
    fake.set(now_ms() + 73 * HOUR, 3, 0.1);
    w.cleaner().delete_files_manually();
    assert_eq!(w.cleaner().run_once().deleted, 3);
    w.shutdown().unwrap();
}
