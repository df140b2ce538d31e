//! `cargo bench -p rmq-migrate --bench align` (not run by CI): how long
//! `rmq-migrate align` takes on two 2 GiB stores that differ only in their last
//! 1 MiB, against reading both stores once (`cat`, the least any whole-store
//! comparison costs), measured in the same run.
//!
//! Generates a master and a slave with the default 1 GiB commitlog files: the
//! same V1 records (bodies of 512..1536 bytes, 8 queues, KEYS/UNIQ_KEY/TAGS), a
//! BLANK filler at the end of the first file, and, in the last 1 MiB, records
//! of the same sizes stored by another broker host on the slave (a fork).
//! Consume queues are written as a broker would have dispatched them.
//!
//! Prints the dry-run time from a warm page cache and from a cold one (the
//! stores' pages dropped with `dd iflag=nocache`), the bytes it read, the time
//! of `cat` over both stores (warm), and an `--apply --no-backup` (whose
//! recovery pass scans the last files like Java's start-up does). The bar: the
//! dry run under 1 s. `RMQ_BENCH_MIB` changes the store size; `RMQ_BENCH_RUNS`
//! the number of timed runs (best counts); `RMQ_BENCH_DIR` where the stores go
//! (default: the temp dir; on a tmpfs there is no cold cache to measure);
//! `RMQ_BENCH_KEEP=1` only generates the stores and leaves them (profiling).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use rmq_store::consume_queue::encode_unit;
use rmq_store::mapped_file::offset_to_file_name;
use rmq_store::record::{
    crc32_masked, encode_blank, properties_to_bytes, tags_code, HostAddr, MessageRecord, MessageVersion, Properties,
};

const MIB: u64 = 1 << 20;
const FILE: u64 = 1 << 30;
const QUEUES: usize = 8;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One commitlog being written: the open file and its position.
struct Out {
    dir: PathBuf,
    file: Option<BufWriter<File>>,
}

impl Out {
    fn new(root: &Path) -> Out {
        let dir = root.join("commitlog");
        std::fs::create_dir_all(&dir).unwrap();
        Out { dir, file: None }
    }
    fn open(&mut self, start: u64) {
        self.close();
        let f = File::create(self.dir.join(offset_to_file_name(start))).unwrap();
        self.file = Some(BufWriter::with_capacity(8 * MIB as usize, f));
    }
    fn write(&mut self, b: &[u8]) {
        self.file.as_mut().unwrap().write_all(b).unwrap();
    }
    fn close(&mut self) {
        if let Some(w) = self.file.take() {
            let f = w.into_inner().unwrap();
            f.set_len(FILE).unwrap();
        }
    }
}

/// Writes master and slave under `root`; returns (messages, fork offset, end).
fn generate(root: &Path, data: u64, tail: u64) -> (u64, u64, u64) {
    let (mut m, mut s) = (Out::new(&root.join("master")), Out::new(&root.join("slave")));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut rec = MessageRecord {
        total_size: 0,
        version: MessageVersion::V1,
        body_crc: 0,
        queue_id: 0,
        flag: 0,
        queue_offset: 0,
        physical_offset: 0,
        sys_flag: 0,
        born_timestamp: 1_795_291_500_000,
        born_host: HostAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)), 52_311),
        store_timestamp: 1_795_291_500_001,
        store_host: HostAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 10_911),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::new(),
        topic: "BenchTopic".into(),
        properties_raw: Bytes::new(),
        properties: Properties::new(),
    };
    let mut cq: Vec<Vec<u8>> = vec![Vec::new(); QUEUES];
    let mut body = vec![0u8; 1536];
    let (mut buf, mut blank) = (Vec::with_capacity(4096), Vec::new());
    let (mut pos, mut n) = (0u64, 0u64);
    let fork = data - tail;
    let mut fork_at = None;
    m.open(0);
    s.open(0);
    while pos < data {
        let len = 512 + (rng.next() % 1025) as usize;
        for c in body[..len].chunks_mut(8) {
            let v = rng.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
        let uniq = format!("7F0000010A2B18B4AAC2{n:012X}");
        let keys = format!("order-{n} user-{}", n % 977);
        let tags = format!("Tag{}", n % 5);
        let q = (n % QUEUES as u64) as usize;
        rec.queue_id = q as i32;
        rec.queue_offset = (cq[q].len() / 20) as i64;
        rec.body = Bytes::copy_from_slice(&body[..len]);
        rec.body_crc = crc32_masked(&rec.body);
        rec.properties_raw =
            Bytes::from(properties_to_bytes([("KEYS", keys.as_str()), ("UNIQ_KEY", &uniq), ("TAGS", &tags)]));
        rec.store_timestamp += 1;
        rec.total_size = rec.computed_length() as i32;
        let size = rec.total_size as u64;
        let in_file = pos % FILE;
        if size + 8 > FILE - in_file {
            blank.clear();
            encode_blank((FILE - in_file) as i32, &mut blank);
            m.write(&blank);
            s.write(&blank);
            pos += FILE - in_file;
            m.open(pos);
            s.open(pos);
        }
        rec.physical_offset = pos as i64;
        rec.store_host.port = 10_911;
        buf.clear();
        rec.encode_into(&mut buf).unwrap();
        m.write(&buf);
        if pos >= fork {
            // the slave's copy of the last MiB was stored by another broker
            fork_at.get_or_insert(pos);
            rec.store_host.port = 20_911;
            buf.clear();
            rec.encode_into(&mut buf).unwrap();
        }
        s.write(&buf);
        cq[q].extend_from_slice(&encode_unit(pos as i64, size as i32, tags_code(&tags)));
        pos += size;
        n += 1;
    }
    m.close();
    s.close();
    for side in ["master", "slave"] {
        let r = root.join(side);
        for (q, units) in cq.iter().enumerate() {
            let d = r.join(format!("consumequeue/BenchTopic/{q}"));
            std::fs::create_dir_all(&d).unwrap();
            let mut b = units.clone();
            b.resize(6_000_000, 0);
            std::fs::write(d.join(offset_to_file_name(0)), b).unwrap();
        }
        std::fs::write(r.join("broker.conf"), format!("mappedFileSizeCommitLog={FILE}\n")).unwrap();
    }
    (n, fork_at.unwrap_or(data), pos)
}

fn store_files(root: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for side in ["master", "slave"] {
        for e in std::fs::read_dir(root.join(side).join("commitlog")).unwrap() {
            v.push(e.unwrap().path());
        }
    }
    v.sort();
    v
}

/// Drops the stores' pages from the page cache (only these files).
fn evict(root: &Path) {
    for f in store_files(root) {
        let st = Command::new("dd")
            .arg(format!("if={}", f.display()))
            .args(["iflag=nocache", "count=0", "status=none"])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

/// One align run in-process; returns its time and JSON report.
fn align(root: &Path, extra: &[&str]) -> (Duration, serde_json::Value) {
    let (m, s) = (root.join("master"), root.join("slave"));
    let mut args =
        vec!["rmq-migrate", "align", "--json", "--master", m.to_str().unwrap(), "--slave", s.to_str().unwrap()];
    args.extend_from_slice(extra);
    let cli = rmq_migrate::cli::Cli::try_parse_from(args).unwrap();
    let mut out = Vec::new();
    let t = Instant::now();
    let code = rmq_migrate::run_with(&cli, &mut out);
    let d = t.elapsed();
    assert!(code == 0 || code == 1, "align failed: {}", String::from_utf8_lossy(&out));
    (d, serde_json::from_slice(&out).unwrap())
}

fn fs_type(dir: &Path) -> String {
    let out = Command::new("stat").args(["-f", "-c", "%T"]).arg(dir).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df").args(["-Pk"]).arg(dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1).and_then(|l| l.split_whitespace().nth(3)).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        * 1024
}

fn secs(v: &[Duration]) -> String {
    v.iter().map(|d| format!("{:.3}s", d.as_secs_f64())).collect::<Vec<_>>().join(" ")
}

fn main() {
    let mib: u64 = std::env::var("RMQ_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
    let runs: usize = std::env::var("RMQ_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let data = mib * MIB - 16 * MIB;
    let base = std::env::var_os("RMQ_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new().prefix("rmq-align-bench").tempdir_in(&base).unwrap();
    let tmpfs = fs_type(tmp.path()) == "tmpfs";
    let need = 2 * mib.div_ceil(1024) * FILE + 200 * MIB;
    let free = free_bytes(tmp.path());
    assert!(free > need + 2 * FILE, "{} MiB free in {}, need {} MiB", free / MIB, tmp.path().display(), need / MIB);
    let t = Instant::now();
    let (messages, fork, end) = generate(tmp.path(), data, MIB);
    println!(
        "generated two {mib} MiB stores ({messages} messages each, data end {end}, fork at {fork}) in {:.1?}",
        t.elapsed()
    );

    if std::env::var_os("RMQ_BENCH_KEEP").is_some() {
        println!("kept for profiling: {}", tmp.keep().display());
        return;
    }
    let (_, v) = align(tmp.path(), &[]);
    assert_eq!((v["status"].as_str(), v["common_prefix"].as_u64()), (Some("forked"), Some(fork)), "{v}");
    let examined = v["examined_bytes"].as_u64().unwrap();
    let mut warm = Vec::new();
    for _ in 0..runs {
        warm.push(align(tmp.path(), &[]).0);
    }
    let mut cold = Vec::new();
    for _ in 0..runs {
        if tmpfs {
            break;
        }
        evict(tmp.path());
        cold.push(align(tmp.path(), &[]).0);
    }
    let files = store_files(tmp.path());
    let mut cat = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let st = Command::new("cat").args(&files).stdout(std::process::Stdio::null()).status().unwrap();
        assert!(st.success());
        cat.push(t.elapsed());
    }
    let best = |v: &[Duration]| v.iter().copied().min().unwrap();
    println!("align dry run, warm cache: {}", secs(&warm));
    match cold.is_empty() {
        true => println!("align dry run, cold cache: n/a ({} is a tmpfs)", base.display()),
        false => println!("align dry run, cold cache: {}", secs(&cold)),
    }
    println!("cat of both stores (warm):  {}", secs(&cat));
    println!("bytes read by align: {examined} ({:.2} MiB of {} MiB)", examined as f64 / MIB as f64, 2 * mib);
    let ratio = |v: &[Duration]| v.iter().min().map(|d| d.as_secs_f64() / best(&cat).as_secs_f64());
    println!("align/cat = {:.4?} warm, {:.4?} cold (bar: align < 1 s)", ratio(&warm), ratio(&cold));
    let (d, v) = align(tmp.path(), &["--apply", "--no-backup"]);
    let steps: BTreeMap<u64, String> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["n"].as_u64().unwrap(), s["action"].as_str().unwrap().to_string()))
        .collect();
    println!("align --apply --no-backup: {:.3}s ({:?})", d.as_secs_f64(), steps.values().collect::<Vec<_>>());
    let (_, v) = align(tmp.path(), &[]);
    assert_eq!(v["status"], "aligned", "{v}");
}
