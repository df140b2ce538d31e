//! Shared helpers: commitlog writers in temp dirs, messages, file comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rmq_ha::{HaConfig, HaLog};
use rmq_store::append::{AppendConfig, CommitLogWriter, Hooks, MessageToStore, Role, WriterOptions};
use rmq_store::record::{properties_to_bytes, HostAddr};

pub const FILE_SIZE: u64 = 64 * 1024;

/// A writer with a dispatch counter.
pub struct Log {
    pub dir: PathBuf,
    pub writer: Arc<CommitLogWriter>,
    pub dispatched: Arc<AtomicU64>,
}

pub fn open(dir: &Path, role: Role) -> Log {
    open_sized(dir, role, FILE_SIZE)
}

pub fn open_sized(dir: &Path, role: Role, file_size: u64) -> Log {
    let cfg = AppendConfig { file_size, role, ..Default::default() };
    let mut o = WriterOptions::new(vec![dir.join("commitlog")], cfg);
    o.run_cleaner = false;
    let dispatched = Arc::new(AtomicU64::new(0));
    let d = dispatched.clone();
    o.hooks = Hooks {
        dispatch: Some(Box::new(move |_| {
            d.fetch_add(1, Ordering::Relaxed);
        })),
        ..Hooks::default()
    };
    Log { dir: dir.to_path_buf(), writer: Arc::new(CommitLogWriter::open(o).unwrap()), dispatched }
}

impl Log {
    pub fn ha(&self) -> Arc<dyn HaLog> {
        self.writer.clone()
    }
}

pub fn msg(seq: u64) -> MessageToStore {
    let mut body = format!("seq={seq};").into_bytes();
    // sizes vary so records straddle frame and file boundaries differently
    body.resize(100 + (seq % 11) as usize * 700, b'a' + (seq % 26) as u8);
    MessageToStore {
        topic: "HaTopic".into(),
        queue_id: (seq % 4) as i32,
        flag: 0,
        body: Bytes::from(body),
        properties: Bytes::from(properties_to_bytes([("KEYS", format!("k{seq}").as_str())])),
        sys_flag: 0,
        born_timestamp: 1,
        born_host: HostAddr::v4([127, 0, 0, 1], 1),
        store_host: HostAddr::v4([127, 0, 0, 1], 10911),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// Puts `n` messages starting at `from`, a few in flight at once; returns the end offset.
pub async fn put_many(w: &CommitLogWriter, from: u64, n: u64) -> u64 {
    let mut end = 0;
    let mut seq = from;
    while seq < from + n {
        let batch: Vec<_> = (seq..(seq + 8).min(from + n)).map(|s| w.put(msg(s))).collect();
        seq += batch.len() as u64;
        for c in batch {
            let r = c.await.unwrap();
            assert!(r.is_ok(), "{:?}", r.status);
            let a = r.append.unwrap();
            end = end.max((a.wrote_offset + a.wrote_bytes as i64) as u64);
        }
    }
    end
}

/// Short intervals so tests see heartbeats and reconnects quickly.
pub fn fast_config() -> HaConfig {
    HaConfig {
        heartbeat_interval: Duration::from_millis(300),
        housekeeping_interval: Duration::from_millis(2000),
        reconnect_backoff: Duration::from_millis(200),
        ..HaConfig::default()
    }
}

/// Commitlog files by name.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

/// Whether both logs hold the same bytes: same-named files equal, a file on
/// one side only is all zeros (a pre-created next file).
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    rmq_store::testutil::same_files(&files(a), &files(b))
}

/// Polls `cond` every 10 ms until it holds; panics after `limit`.
pub async fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t.elapsed()
}
