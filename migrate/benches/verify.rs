//! `cargo bench -p rmq-migrate --bench verify` (not run by CI): how fast
//! `rmq-migrate verify` reads a commitlog compared with `cat FILE > /dev/null` of the
//! same file, both from a warm page cache, measured in the same run.
//!
//! Generates one 1 GiB commitlog file (the default `mappedFileSizeCommitLog`) of valid
//! V1 records written with the store's encoder: bodies of 512..1536 random bytes,
//! 8 queues, TAGS/KEYS/UNIQ_KEY/WAIT properties, the unwritten tail left zero as in a
//! live last file. Prints both throughputs and their ratio (the bar is 0.8). With more
//! than one CPU, verify walks such a file on two threads (see `source/light.rs`); run
//! it under `taskset -c 0` for the one-thread figure.
//! `RMQ_BENCH_MIB` shrinks the file (e.g. for profiling); `RMQ_BENCH_RUNS` sets the
//! number of timed runs per side (default 3, best run counts).

use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rmq_migrate::cli::{StoreArgs, VerifyArgs};
use rmq_migrate::source::Store;
use rmq_migrate::verify::verify_store;
use rmq_store::record::{crc32_masked, properties_to_bytes, HostAddr, MessageRecord, MessageVersion, Properties};

const MIB: u64 = 1 << 20;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Writes `<root>/commitlog/00000000000000000000` of `file_size` bytes; returns the message count.
fn generate(root: &Path, file_size: u64) -> u64 {
    let dir = root.join("commitlog");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("00000000000000000000");
    let file = std::fs::File::create(&path).unwrap();
    let mut out = BufWriter::with_capacity(8 * MIB as usize, file);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut m = MessageRecord {
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
    let mut queue_offsets = [0i64; 8];
    let mut body = vec![0u8; 1536];
    let mut rec = Vec::with_capacity(4096);
    let (mut pos, mut count) = (0u64, 0u64);
    loop {
        let len = 512 + (rng.next() % 1025) as usize;
        rng.fill(&mut body[..len]);
        let uniq = format!("7F0000010A2B18B4AAC2{count:012X}");
        let keys = format!("order-{count} user-{}", count % 977);
        let tags = format!("Tag{}", count % 5);
        let props =
            properties_to_bytes([("KEYS", keys.as_str()), ("UNIQ_KEY", &uniq), ("WAIT", "true"), ("TAGS", &tags)]);
        let q = (count % 8) as usize;
        m.queue_id = q as i32;
        m.queue_offset = queue_offsets[q];
        m.physical_offset = pos as i64;
        m.body = Bytes::copy_from_slice(&body[..len]);
        m.body_crc = crc32_masked(&m.body);
        m.properties_raw = Bytes::from(props);
        m.store_timestamp += 1;
        m.total_size = m.computed_length() as i32;
        if pos + m.total_size as u64 > file_size {
            break;
        }
        rec.clear();
        m.encode_into(&mut rec).unwrap();
        out.write_all(&rec).unwrap();
        pos += rec.len() as u64;
        queue_offsets[q] += 1;
        count += 1;
    }
    let file = out.into_inner().unwrap();
    // The rest stays unwritten (zero), like the live end of a last commitlog file.
    file.set_len(file_size).unwrap();
    count
}

fn best(runs: &[Duration]) -> Duration {
    runs.iter().copied().min().unwrap()
}

fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

fn time_cat(file: &Path) -> Duration {
    let t = Instant::now();
    let st = Command::new("sh").arg("-c").arg("cat \"$0\" > /dev/null").arg(file).status().unwrap();
    assert!(st.success());
    t.elapsed()
}

fn time_verify(args: &VerifyArgs, messages: u64) -> Duration {
    let t = Instant::now();
    let store = Store::open(&args.store).unwrap();
    let r = verify_store(&store, args);
    let d = t.elapsed();
    assert!(r.ok && r.warning_count == 0, "verify found problems: {:?} {:?}", r.errors, r.warnings);
    assert_eq!(r.messages, messages);
    d
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let mib: u64 = std::env::var("RMQ_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let runs: usize = std::env::var("RMQ_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let size = mib * MIB;
    let tmp = tempfile::Builder::new().prefix("rmq-verify-bench").tempdir().unwrap();
    let t = Instant::now();
    let messages = generate(tmp.path(), size);
    let file = tmp.path().join("commitlog/00000000000000000000");
    println!("generated {} MiB commitlog, {messages} messages, in {:.1?}", mib, t.elapsed());

    let args = VerifyArgs {
        store: StoreArgs { dir: tmp.path().to_path_buf(), commitlog_path: None, commitlog_file_size: Some(size) },
        json: false,
        skip_cq: false,
        skip_index: false,
        max_errors: 1000,
    };
    // Warm the page cache (and the code paths) once each.
    time_cat(&file);
    time_verify(&args, messages);

    // Alternate the two so that both see the same machine state.
    let (mut cat, mut verify) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        cat.push(time_cat(&file));
        verify.push(time_verify(&args, messages));
    }
    let fmt = |v: &[Duration]| v.iter().map(|d| format!("{:.3}s", d.as_secs_f64())).collect::<Vec<_>>().join(" ");
    println!("cat runs:    {}", fmt(&cat));
    println!("verify runs: {}", fmt(&verify));
    let cat_tp = mib_per_s(size, best(&cat));
    let verify_tp = mib_per_s(size, best(&verify));
    println!("cat    {:>8.1} MiB/s", cat_tp);
    println!("verify {:>8.1} MiB/s", verify_tp);
    println!("ratio verify/cat = {:.3} (bar 0.8)", verify_tp / cat_tp);
}
