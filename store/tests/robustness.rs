//! Bad input never panics; readers are usable from other threads.

use rmq_store::consume_queue::ConsumeQueue;
use rmq_store::index::IndexFile;
use rmq_store::record::{decode, Decoded};
use rmq_store::{CommitLog, DLedgerStore, StoreDir};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn readers_are_send_and_sync() {
    assert_send_sync::<CommitLog>();
    assert_send_sync::<DLedgerStore>();
    assert_send_sync::<ConsumeQueue>();
    assert_send_sync::<IndexFile>();
    assert_send_sync::<StoreDir>();
    assert_send_sync::<rmq_store::MessageRecord>();
    assert_send_sync::<rmq_store::StoreError>();
}

#[test]
fn random_bytes_never_panic() {
    let mut r = Rng(0x9E3779B97F4A7C15);
    // plausible headers with random tails
    for i in 0..20_000 {
        let n = (r.next() % 400) as usize;
        let mut b = r.bytes(n.max(8));
        if i % 2 == 0 {
            let total = (r.next() % 400) as i32;
            b[0..4].copy_from_slice(&total.to_be_bytes());
            let magic: u32 = if i % 4 == 0 { 0xDAA320A7 } else { 0xDAA320AB };
            b[4..8].copy_from_slice(&magic.to_be_bytes());
        }
        if let Ok(Decoded::Message(m)) = decode(&b) {
            let _ = m.encode();
            let _ = m.decompressed_body();
            let _ = m.property_crc();
        }
    }
}

#[test]
fn garbage_files_never_panic() {
    let mut r = Rng(42);
    for round in 0..30 {
        let d = tempfile::tempdir().unwrap();
        let size = 4096usize;
        for (dir, n) in [("commitlog", 3), ("dledger-n0/data", 2), ("dledger-n0/index", 1), ("consumequeue/T/0", 2)] {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
            for i in 0..n {
                let mut b = r.bytes(size - (round % 3) * 7);
                if round % 2 == 0 {
                    b[..64].fill(0);
                    b[4..8].copy_from_slice(&0xDAA320A7u32.to_be_bytes());
                    b[0..4].copy_from_slice(&((r.next() % 600) as i32).to_be_bytes());
                }
                std::fs::write(d.path().join(dir).join(format!("{:020}", i * size)), b).unwrap();
            }
        }
        std::fs::create_dir_all(d.path().join("index")).unwrap();
        std::fs::write(d.path().join("index/20260101000000000"), r.bytes(40 + 10 * 4 + 40 * 20)).unwrap();
        std::fs::write(d.path().join("checkpoint"), r.bytes(10)).unwrap();
        let s = StoreDir::open(d.path(), None).unwrap();
        let cl = s.open_commitlog().unwrap();
        for e in cl.iter(true) {
            if e.is_err() {
                break;
            }
        }
        for off in (0..3 * size as u64).step_by(97) {
            let _ = cl.read_at(off);
        }
        let dl = s.open_dledger().unwrap().unwrap();
        for e in dl.entries().flatten() {
            let _ = dl.decode_body(&e);
            let _ = dl.index_unit(e.header.index);
        }
        let cq = ConsumeQueue::open(&d.path().join("consumequeue/T/0"), "T", 0, None).unwrap();
        let _ = cq.read_all();
        let _ = cq.get(1_000_000);
        if let Ok(f) = IndexFile::open(&d.path().join("index/20260101000000000"), None, None) {
            let _ = f.entries().count();
            let _ = f.lookup("T#k", 100);
        }
        assert!(rmq_store::Checkpoint::read(&s.checkpoint_path()).is_err());
    }
}
