//! Commitlog append throughput against a raw sequential write of the same
//! bytes to the same disk.
//!
//! `cargo bench -p rmq-store --bench append` (not part of CI). Settings via env:
//! RMQ_BENCH_DIR (default: the system temp dir), RMQ_BENCH_BYTES (1 GiB),
//! RMQ_BENCH_FILE_SIZE (mappedFileSizeCommitLog, 256 MiB), RMQ_BENCH_BODY
//! (1024), RMQ_BENCH_ROUNDS (2).
//!
//! Store: 1 KiB messages put with ASYNC_FLUSH (Java defaults: 500 ms interval,
//! 4 pages, 10 s thorough), a window of in-flight puts, then a complete flush.
//! Raw: the same number of bytes written in 1 MiB `pwrite`s into files of the
//! same size, created the same way, then `fdatasync` of every file. Both
//! timings include file creation and the final flush.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use rmq_store::append::{AppendConfig, CommitLogWriter, FlushDiskType, MessageToStore, WriterOptions};
use rmq_store::record::{properties_to_bytes, HostAddr};

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const MIB: f64 = 1024.0 * 1024.0;

fn store_run(dir: &Path, total: u64, file_size: u64, body: usize) -> (u64, u64, f64) {
    let cfg = AppendConfig { file_size, flush_disk_type: FlushDiskType::Async, ..Default::default() };
    let mut o = WriterOptions::new(vec![dir.join("commitlog")], cfg);
    o.run_cleaner = false;
    let w = CommitLogWriter::open(o).expect("open writer");
    let body = Bytes::from(vec![b'b'; body]);
    let props = Bytes::from(properties_to_bytes([
        ("TAGS", "TagA"),
        ("KEYS", "order-1"),
        ("UNIQ_KEY", "7F0000010F2A18B4AAC2548D7B250000"),
        ("WAIT", "true"),
    ]));
    let msg = |i: u64| MessageToStore {
        topic: "BenchTopic".to_string(),
        queue_id: (i % 8) as i32,
        flag: 0,
        body: body.clone(),
        properties: props.clone(),
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: HostAddr::v4([127, 0, 0, 1], 50000),
        store_host: HostAddr::v4([127, 0, 0, 1], 10911),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    };
    let t = Instant::now();
    // the first record's size tells how many make `total` bytes
    let first = w.put(msg(0)).wait().expect("put completes");
    let len = first.append.expect("appended").wrote_bytes as u64;
    let n = (total / len).max(1);
    let mut inflight = VecDeque::with_capacity(8192);
    for i in 1..n {
        inflight.push_back(w.put(msg(i)));
        if inflight.len() >= 8192 {
            let r = inflight.pop_front().expect("non-empty").wait().expect("put completes");
            assert!(r.is_ok(), "{r:?}");
        }
    }
    for c in inflight {
        let r = c.wait().expect("put completes");
        assert!(r.is_ok(), "{r:?}");
    }
    let appended = t.elapsed().as_secs_f64();
    w.flush_all().expect("flush");
    let secs = t.elapsed().as_secs_f64();
    if std::env::var_os("RMQ_BENCH_VERBOSE").is_some() {
        println!("  store: appends done after {appended:.3} s, final flush {:.3} s", secs - appended);
    }
    let bytes = w.max_offset();
    w.shutdown().expect("shutdown");
    (n, bytes, secs)
}

fn create(path: &Path, size: u64) -> std::fs::File {
    let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path).expect("create");
    f.set_len(size).expect("set_len");
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: plain syscall on a valid fd (same preallocation as the writer).
        unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, size as libc::off_t) };
    }
    f
}

fn raw_run(dir: &Path, total: u64, file_size: u64) -> f64 {
    std::fs::create_dir_all(dir).expect("mkdir");
    let chunk = vec![0x5Au8; 1 << 20];
    let t = Instant::now();
    let mut files = Vec::new();
    let mut at = 0u64;
    let mut next = create(&dir.join(format!("{:020}", 0)), file_size);
    while at < total {
        let from = at - at % file_size;
        if at == from {
            // like the writer: take the pre-created file, pre-create the one after
            let cur = std::mem::replace(&mut next, create(&dir.join(format!("{:020}", from + file_size)), file_size));
            files.push(cur);
        }
        let f = files.last().expect("file");
        let n = (chunk.len() as u64).min(total - at).min(from + file_size - at) as usize;
        f.write_all_at(&chunk[..n], at - from).expect("write");
        at += n as u64;
    }
    for f in &files {
        f.sync_data().expect("fdatasync");
    }
    t.elapsed().as_secs_f64()
}

fn clean(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    // start each run with no dirty pages left over from the previous one
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    std::thread::sleep(std::time::Duration::from_millis(500));
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // cargo test --benches asks for a listing; nothing to run
    }
    let base: PathBuf = std::env::var_os("RMQ_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let total = env_u64("RMQ_BENCH_BYTES", 1 << 30);
    let file_size = env_u64("RMQ_BENCH_FILE_SIZE", 256 << 20);
    let body = env_u64("RMQ_BENCH_BODY", 1024) as usize;
    let rounds = env_u64("RMQ_BENCH_ROUNDS", 2);
    let root = base.join(format!("rmq-append-bench-{}", std::process::id()));
    println!("dir {} | {} MiB | file size {} MiB | body {} B", root.display(), total >> 20, file_size >> 20, body);
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let store_dir = root.join("store");
        clean(&store_dir);
        let (n, bytes, s_secs) = store_run(&store_dir, total, file_size, body);
        clean(&store_dir);
        let raw_dir = root.join("raw");
        let r_secs = raw_run(&raw_dir, bytes, file_size);
        clean(&raw_dir);
        let (s_tp, r_tp) = (bytes as f64 / MIB / s_secs, bytes as f64 / MIB / r_secs);
        println!(
            "round {round}: store {n} msgs {:.1} MiB in {s_secs:.3} s = {s_tp:.1} MiB/s ({:.0} msg/s) | raw {r_secs:.3} s = {r_tp:.1} MiB/s | ratio {:.2}",
            bytes as f64 / MIB,
            n as f64 / s_secs,
            s_tp / r_tp
        );
        ratios.push(s_tp / r_tp);
    }
    let _ = std::fs::remove_dir_all(&root);
    let mean = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
    println!("store/raw throughput ratio: mean {mean:.2} (bar >= 0.60)");
}
