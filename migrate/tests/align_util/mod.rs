//! Helpers of the `align` tests: synthetic master/slave commitlogs written
//! record by record (Java's BLANK rule at file ends), file snapshots, and
//! running the command.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use rmq_store::mapped_file::offset_to_file_name;
use rmq_store::record::{
    crc32_masked, encode_blank, properties_to_bytes_v4, HostAddr, MessageRecord, MessageVersion, Properties,
};

pub const TOPIC: &str = "AlignTopic";

/// A commitlog being written in memory, like a broker appends it.
#[derive(Clone)]
pub struct Synth {
    pub file_size: u64,
    files: BTreeMap<u64, Vec<u8>>,
    pos: u64,
    queue_offsets: BTreeMap<i32, i64>,
    store_ts: i64,
    n: u64,
    /// Stands for "another broker wrote this": changes the store host port.
    pub port: i32,
}

impl Synth {
    pub fn new(file_size: u64) -> Self {
        Synth {
            file_size,
            files: BTreeMap::new(),
            pos: 0,
            queue_offsets: BTreeMap::new(),
            store_ts: 1_795_291_000_000,
            n: 0,
            port: 10911,
        }
    }

    /// End of the last message.
    pub fn end(&self) -> u64 {
        self.pos
    }

    fn file(&mut self, start: u64) -> &mut Vec<u8> {
        let size = self.file_size as usize;
        self.files.entry(start).or_insert_with(|| Vec::with_capacity(size))
    }

    /// Appends one message to `queue` with a `body_len`-byte body; returns its offset.
    pub fn msg(&mut self, queue: i32, body_len: usize) -> u64 {
        let body: Vec<u8> = (0..body_len).map(|i| (i as u64 * 31 + self.n * 7 + self.port as u64) as u8).collect();
        self.msg_with_body(queue, body)
    }

    /// The record the next message with `body` would be (PHYSICALOFFSET left 0).
    fn record(&self, queue: i32, body: Vec<u8>) -> MessageRecord {
        let qo = *self.queue_offsets.get(&queue).unwrap_or(&0);
        let uniq = format!("7F0000010A2B18B4AAC2{:012X}", self.n);
        let keys = format!("k{} shared{}", self.n, self.n % 3);
        let props = properties_to_bytes_v4([("KEYS", keys.as_str()), ("UNIQ_KEY", &uniq), ("TAGS", "TagA")]);
        let mut m = MessageRecord {
            total_size: 0,
            version: MessageVersion::V1,
            body_crc: crc32_masked(&body),
            queue_id: queue,
            flag: 0,
            queue_offset: qo,
            physical_offset: 0,
            sys_flag: 0,
            born_timestamp: self.store_ts - 2,
            born_host: HostAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)), 52_311),
            store_timestamp: self.store_ts + 1,
            store_host: HostAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from(body),
            topic: TOPIC.into(),
            properties_raw: Bytes::from(props),
            properties: Properties::new(),
        };
        m.total_size = m.computed_length() as i32;
        m
    }

    /// The bytes of a valid record claiming to be stored at `at` (to hide in a body).
    pub fn record_image(&self, at: u64, body_len: usize) -> Vec<u8> {
        let mut m = self.record(0, vec![0x5A; body_len]);
        m.physical_offset = at as i64;
        m.encode().unwrap()
    }

    /// Appends one message with `body`; returns its offset.
    pub fn msg_with_body(&mut self, queue: i32, body: Vec<u8>) -> u64 {
        let qo = *self.queue_offsets.get(&queue).unwrap_or(&0);
        let mut m = self.record(queue, body);
        self.store_ts += 1;
        let size = m.total_size as u64;
        let in_file = self.pos % self.file_size;
        // Java: a record is placed only when 8 bytes remain after it, else a BLANK fills the file
        if size + 8 > self.file_size - in_file {
            let start = self.pos - in_file;
            let remaining = (self.file_size - in_file) as i32;
            let mut b = Vec::new();
            encode_blank(remaining, &mut b);
            self.file(start).extend_from_slice(&b);
            self.pos = start + self.file_size;
        }
        m.physical_offset = self.pos as i64;
        let start = self.pos - self.pos % self.file_size;
        let pad = (self.pos - start) as usize;
        let f = self.file(start);
        f.resize(pad, 0);
        m.encode_into(f).unwrap();
        self.pos += size;
        self.queue_offsets.insert(queue, qo + 1);
        self.n += 1;
        self.pos - size
    }

    /// Whether a message with a `body_len`-byte body would go to the next
    /// file (after a BLANK filler).
    pub fn would_roll(&self, body_len: usize) -> bool {
        let mut c = self.clone();
        let off = c.msg(0, body_len);
        off != self.pos
    }

    /// `count` messages round-robin over 4 queues, bodies of 100..=1100 bytes.
    pub fn fill(&mut self, count: usize) {
        for i in 0..count {
            let len = 100 + (self.n as usize * 37 + i) % 1001;
            self.msg((self.n % 4) as i32, len);
        }
    }

    /// A pre-allocated empty next file, as a running broker has (recovery
    /// deletes it, so add it after [`dispatch`]).
    pub fn write_spare(&self, dir: &Path) {
        let next = self.files.keys().last().map_or(0, |s| s + self.file_size);
        std::fs::write(dir.join("commitlog").join(offset_to_file_name(next)), vec![0u8; self.file_size as usize])
            .unwrap();
    }

    /// Writes `dir/commitlog/*` (every file `file_size` long) and a broker.conf;
    /// `spare`: also [`Synth::write_spare`].
    pub fn write(&self, dir: &Path, spare: bool) {
        let cl = dir.join("commitlog");
        std::fs::create_dir_all(&cl).unwrap();
        for (start, bytes) in &self.files {
            let mut b = bytes.clone();
            b.resize(self.file_size as usize, 0);
            std::fs::write(cl.join(offset_to_file_name(*start)), b).unwrap();
        }
        if spare {
            self.write_spare(dir);
        }
        std::fs::write(
            dir.join("broker.conf"),
            format!(
                "brokerClusterName=AlignCluster\nmappedFileSizeCommitLog={}\nmappedFileSizeConsumeQueue=2000\nmaxHashSlotNum=1000\nmaxIndexNum=100000\n",
                self.file_size
            ),
        )
        .unwrap();
    }
}

/// Builds consume queues, index and checkpoint of a store written by [`Synth`]
/// (Java's recovery does on start).
pub fn dispatch(dir: &Path) {
    let (code, out) = crate::common::run(&["recover", "--apply", "--no-backup", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}

/// Every file under `dir` (relative path → bytes); none when `dir` does not exist.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    if !dir.exists() {
        return BTreeMap::new();
    }
    rmq_store::testutil::snapshot(dir)
}

/// Every file's modification time under `dir`.
pub fn mtimes(dir: &Path) -> BTreeMap<String, SystemTime> {
    snapshot(dir).keys().map(|k| (k.clone(), std::fs::metadata(dir.join(k)).unwrap().modified().unwrap())).collect()
}

pub use rmq_store::testutil::assert_same;

/// Runs `align` in-process with `--json`; returns the exit code and the object.
pub fn align(master: &Path, slave: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["align", "--json", "--master", master.to_str().unwrap(), "--slave", slave.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, out) = crate::common::run(&args);
    let v = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("exit {code}: {e}: {out:?}"));
    (code, v)
}

/// Every commitlog file of a store (name → bytes).
pub fn commitlog(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(&dir.join("commitlog"))
}

/// Adds 1 to the store timestamp of every record of `store` in `[from, to)`
/// (IPv4 born host: STORETIMESTAMP at record offset 56, outside the body CRC),
/// as if another broker had stored them.
pub fn restamp(store: &Path, from: u64, to: u64) {
    let d = crate::common::read_json(&store.join("store-dump.json"));
    for r in d["messages"].as_array().unwrap().iter().filter(|r| r["kind"] == "MESSAGE") {
        let off = r["physicalOffset"].as_u64().unwrap();
        if off < from || off >= to {
            continue;
        }
        let f = store.join("commitlog").join(r["file"].as_str().unwrap());
        let pos = r["filePos"].as_u64().unwrap() + 56;
        let b = std::fs::read(&f).unwrap();
        let ts = u64::from_be_bytes(b[pos as usize..pos as usize + 8].try_into().unwrap());
        crate::common::patch(&f, pos, &(ts + 1).to_be_bytes());
    }
}

// not every test binary that includes this module copies a store
#[allow(unused_imports)]
pub use rmq_store::testutil::copy_dir as copy_tree;
