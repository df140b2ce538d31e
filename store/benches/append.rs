//! Commitlog append throughput against a raw sequential write of the same
//! bytes to the same disk.
//!
//! `cargo bench -p rmq-store --bench append` (not part of CI). Settings via env:
//! RMQ_BENCH_DIR (default: the system temp dir), RMQ_BENCH_BYTES (1 GiB),
//! RMQ_BENCH_FILE_SIZE (mappedFileSizeCommitLog, 256 MiB), RMQ_BENCH_BODY
//! (1024), RMQ_BENCH_ROUNDS (2), RMQ_BENCH_VERBOSE (time split, and a raw run
//! with ASYNC_FLUSH's periodic fdatasync for comparison).
//!
//! Store: 1 KiB messages put with ASYNC_FLUSH (Java defaults: 500 ms interval,
//! 4 pages, 10 s thorough), a window of in-flight puts, then a complete flush.
//! Raw: the same number of bytes written in 256 KiB `pwrite`s (RMQ_BENCH_RAW_CHUNK;
//! on the 6.18 kernel here 1 MiB writes into the page cache run ~10x slower than
//! 64-256 KiB ones, so the raw side gets its best size) into files of the
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

/// CPU seconds (user + system) used by the whole process so far: the runs are
/// sequential, so a difference is one run's CPU, all threads included.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn store_run(dir: &Path, total: u64, file_size: u64, body: usize) -> (u64, u64, f64) {
    let mut cfg = AppendConfig { file_size, flush_disk_type: FlushDiskType::Async, ..Default::default() };
    if let Some(ms) = std::env::var("RMQ_BENCH_FLUSH_INTERVAL_MS").ok().and_then(|v| v.parse().ok()) {
        cfg.flush_interval = std::time::Duration::from_millis(ms);
    }
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
    // flow control with watermarks, like a pipelining client: when WINDOW puts
    // are in flight, wait until the older half is done, then refill
    const WINDOW: usize = 8192;
    let mut inflight = VecDeque::with_capacity(WINDOW);
    for i in 1..n {
        inflight.push_back(w.put(msg(i)));
        if inflight.len() >= WINDOW {
            // puts resolve in order: once the middle one is done, so is the older half
            while !inflight[WINDOW / 2].wait_ready(std::time::Duration::from_secs(60)) {}
            for _ in 0..=WINDOW / 2 {
                let r = inflight.pop_front().expect("non-empty").wait().expect("put completes");
                assert!(r.is_ok(), "{r:?}");
            }
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

/// Raw sequential write; with `periodic`, a second thread also `fdatasync`s
/// the files every 500 ms like ASYNC_FLUSH does (informational only).
fn raw_run(dir: &Path, total: u64, file_size: u64, periodic: bool) -> f64 {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    std::fs::create_dir_all(dir).expect("mkdir");
    let chunk = vec![0x5Au8; env_u64("RMQ_BENCH_RAW_CHUNK", 256 << 10) as usize];
    let t = Instant::now();
    let files: Arc<Mutex<Vec<Arc<std::fs::File>>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let syncer = periodic.then(|| {
        let (files, done) = (files.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let last = files.lock().expect("lock").last().cloned();
                if let Some(f) = last {
                    f.sync_data().expect("fdatasync");
                }
            }
        })
    });
    let mut at = 0u64;
    let mut next = create(&dir.join(format!("{:020}", 0)), file_size);
    let mut cur = None;
    while at < total {
        let from = at - at % file_size;
        if at == from {
            // like the writer: take the pre-created file, pre-create the one after
            let f = Arc::new(std::mem::replace(
                &mut next,
                create(&dir.join(format!("{:020}", from + file_size)), file_size),
            ));
            files.lock().expect("lock").push(f.clone());
            cur = Some(f);
        }
        let f = cur.as_ref().expect("file");
        let n = (chunk.len() as u64).min(total - at).min(from + file_size - at) as usize;
        f.write_all_at(&chunk[..n], at - from).expect("write");
        at += n as u64;
    }
    done.store(true, Ordering::Relaxed);
    let written = t.elapsed().as_secs_f64();
    for f in files.lock().expect("lock").iter() {
        f.sync_data().expect("fdatasync");
    }
    let secs = t.elapsed().as_secs_f64();
    if let Some(s) = syncer {
        s.join().expect("syncer");
    }
    if std::env::var_os("RMQ_BENCH_VERBOSE").is_some() {
        println!(
            "  raw{}: writes done after {written:.3} s, final flush {:.3} s",
            if periodic { " (periodic fdatasync)" } else { "" },
            secs - written
        );
    }
    secs
}

fn clean(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    // start each run with no dirty pages left over from the previous one
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    // deleting files makes ext4 (mounted with `discard`) trim them: let that settle
    std::thread::sleep(std::time::Duration::from_millis(2000));
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // cargo test --benches asks for a listing; nothing to run
    }
    if std::env::var("RMQ_BENCH_ONLY").as_deref() == Ok("store") {
        // profiling aid: one store run, nothing else
        let dir = std::env::temp_dir().join(format!("rmq-append-bench-{}", std::process::id()));
        let (n, bytes, secs) =
            store_run(&dir, env_u64("RMQ_BENCH_BYTES", 1 << 30), env_u64("RMQ_BENCH_FILE_SIZE", 256 << 20), 1024);
        let _ = std::fs::remove_dir_all(&dir);
        println!("store only: {n} msgs {:.1} MiB/s", bytes as f64 / MIB / secs);
        return;
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
        let (store_dir, raw_dir) = (root.join("store"), root.join("raw"));
        clean(&root);
        // alternate which run goes first, so neither always meets the other's leftovers
        let raw_first = round % 2 == 0;
        let (mut r_secs, mut r_bytes, mut r_cpu) = (0.0, total, 0.0);
        if raw_first {
            let c = cpu_secs();
            r_secs = raw_run(&raw_dir, total, file_size, false);
            r_cpu = cpu_secs() - c;
            clean(&raw_dir);
        }
        let c = cpu_secs();
        let (n, bytes, s_secs) = store_run(&store_dir, total, file_size, body);
        let s_cpu = cpu_secs() - c;
        clean(&store_dir);
        if !raw_first {
            r_bytes = bytes;
            let c = cpu_secs();
            r_secs = raw_run(&raw_dir, bytes, file_size, false);
            r_cpu = cpu_secs() - c;
            clean(&raw_dir);
        }
        if std::env::var_os("RMQ_BENCH_VERBOSE").is_some() {
            let p_secs = raw_run(&raw_dir, bytes, file_size, true);
            clean(&raw_dir);
            println!(
                "  raw with a 500 ms periodic fdatasync: {p_secs:.3} s = {:.1} MiB/s",
                bytes as f64 / MIB / p_secs
            );
        }
        let (s_tp, r_tp) = (bytes as f64 / MIB / s_secs, r_bytes as f64 / MIB / r_secs);
        println!(
            "round {round}: store {n} msgs {:.1} MiB in {s_secs:.3} s = {s_tp:.1} MiB/s ({:.0} msg/s, cpu {s_cpu:.2} s) | raw {r_secs:.3} s = {r_tp:.1} MiB/s (cpu {r_cpu:.2} s) | ratio {:.2}",
            bytes as f64 / MIB,
            n as f64 / s_secs,
            s_tp / r_tp
        );
        ratios.push(s_tp / r_tp);
    }
    let _ = std::fs::remove_dir_all(&root);
    let mean = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    let min = ratios.first().copied().unwrap_or(0.0);
    println!("store/raw throughput ratio: mean {mean:.2}, median {median:.2}, min {min:.2} (bar >= 0.60)");
}
