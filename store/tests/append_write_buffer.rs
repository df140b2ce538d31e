//! Write-buffer mode (`transientStorePoolEnable` with ASYNC_FLUSH): callers
//! stage their puts and get the answer at once; the append thread writes and
//! dispatches them afterwards, in arrival order, and writes everything staged
//! before it stops.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rmq_store::append::{
    AppendConfig, CommitLogWriter, DispatchRequest, FlushDiskType, Hooks, MessageToStore, PutStatus, Role,
    WriterOptions,
};
use rmq_store::mapped_file::{CommitLog, EntryKind, StopReason};
use rmq_store::record::{MessageRecord, TRANSACTION_PREPARED_TYPE};
use rmq_store::testutil::test_message;

fn msg(topic: &str, queue: i32, body_len: usize, seq: u64) -> MessageToStore {
    let mut body = format!("seq={seq};").into_bytes();
    body.resize(body_len.max(body.len()), b'x');
    test_message(topic, queue, body, &[("TAGS", "t"), ("UNIQ_KEY", &format!("U{seq:030}"))], seq)
}

/// A dispatch hook that blocks while the gate is closed: the append thread
/// stops after writing, before its dispatch and its answers.
/// (closed, threads waiting at it)
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<(bool, usize)>, Condvar)>);
impl Gate {
    fn set_closed(&self, closed: bool) {
        self.0 .0.lock().unwrap().0 = closed;
        self.0 .1.notify_all();
    }
    fn pass(&self) {
        let mut g = self.0 .0.lock().unwrap();
        g.1 += 1;
        self.0 .1.notify_all();
        while g.0 {
            g = self.0 .1.wait(g).unwrap();
        }
        g.1 -= 1;
    }
    /// Until the append thread waits at the gate.
    fn wait_held(&self) {
        let g = self.0 .0.lock().unwrap();
        let (_g, timeout) = self.0 .1.wait_timeout_while(g, Duration::from_secs(10), |g| g.1 == 0).unwrap();
        assert!(!timeout.timed_out(), "the append thread never reached the dispatch hook");
    }
}

/// Opens the gate when a test fails, so the writer's shutdown in Drop ends.
struct OpenOnDrop(Gate);
impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.set_closed(false);
    }
}

type Seen = Arc<Mutex<Vec<DispatchRequest>>>;

fn open(dir: &Path, config: AppendConfig, gate: &Gate) -> (Arc<CommitLogWriter>, Seen) {
    let seen: Seen = Arc::default();
    let (s, g) = (seen.clone(), gate.clone());
    let mut o = WriterOptions::new(vec![dir.join("commitlog")], config);
    o.run_cleaner = false;
    o.hooks = Hooks {
        dispatch: Some(Box::new(move |r| {
            g.pass();
            s.lock().unwrap().push(r.clone())
        })),
        ..Default::default()
    };
    (Arc::new(CommitLogWriter::open(o).unwrap()), seen)
}

fn write_buffer(file_size: u64) -> AppendConfig {
    AppendConfig { file_size, write_buffer: true, flush_disk_type: FlushDiskType::Async, ..Default::default() }
}

/// Every message of the log in order, checked like `verify_log` in append.rs.
fn records(dir: &Path, file_size: u64) -> Vec<(u64, MessageRecord)> {
    let cl = CommitLog::open(&[dir.join("commitlog")], Some(file_size)).unwrap();
    assert!(cl.queue().issues().is_empty(), "{:?}", cl.queue().issues());
    let mut it = cl.iter(true);
    let mut out = Vec::new();
    for e in it.by_ref() {
        let e = e.unwrap();
        let f = &cl.files()[e.file_index];
        match &e.kind {
            EntryKind::Message(m) => {
                let raw = &f.bytes()[e.file_pos as usize..e.file_pos as usize + m.total_size as usize];
                assert_eq!(m.encode().unwrap(), raw, "byte-identical re-encode at {}", e.physical_offset);
                out.push((e.physical_offset, (**m).clone()));
            }
            EntryKind::Blank { total_size } => assert_eq!(e.file_pos + *total_size as u64, f.len()),
        }
    }
    assert_ne!(it.stop_reason(), Some(StopReason::Error));
    out
}

fn seq_of(m: &MessageRecord) -> u64 {
    let b = String::from_utf8_lossy(&m.body);
    b["seq=".len()..b.find(';').unwrap()].parse().unwrap()
}

#[test]
fn puts_are_answered_before_the_append_thread_writes_them() {
    let d = tempfile::tempdir().unwrap();
    let gate = Gate::default();
    let (w, seen) = open(d.path(), write_buffer(1 << 20), &gate);
    // the first put opens the file: only the append thread does that
    assert!(w.put(msg("T", 0, 100, 0)).wait().unwrap().is_ok());

    gate.set_closed(true);
    let _open = OpenOnDrop(gate.clone());
    let mut answered = Vec::new();
    for seq in 1..=50 {
        let c = w.put(msg("T", (seq % 2) as i32, 100, seq));
        assert!(c.is_ready(), "put {seq} answered at once while the append thread is held in dispatch");
        answered.push(c.wait().unwrap());
        if seq == 1 {
            gate.wait_held();
        }
    }
    // a transaction's half message waits for its write (END_TRANSACTION reads it back by offset)
    let mut half = msg("T", 0, 100, 51);
    half.sys_flag = TRANSACTION_PREPARED_TYPE;
    let mut half = w.put(half);
    assert!(half.wait_timeout(Duration::from_millis(200)).is_none());
    // and so does every put behind it, so they stay in arrival order
    let mut behind = w.put(msg("T", 0, 100, 52));
    assert!(behind.wait_timeout(Duration::from_millis(50)).is_none());
    assert!(seen.lock().unwrap().len() <= 2, "dispatch is held");

    gate.set_closed(false);
    assert!(half.wait().unwrap().is_ok());
    assert!(behind.wait().unwrap().is_ok());
    let after = w.put(msg("T", 1, 100, 53));
    assert!(after.is_ready(), "staging resumes once the queue is empty");
    w.shutdown().unwrap();

    let recs = records(d.path(), 1 << 20);
    assert_eq!(recs.iter().map(|(_, m)| seq_of(m)).collect::<Vec<_>>(), (0..=53).collect::<Vec<_>>());
    assert_eq!(seen.lock().unwrap().len(), 54, "everything dispatched, in log order");
    for ((off, m), d) in recs.iter().zip(seen.lock().unwrap().iter()) {
        assert_eq!((d.commit_log_offset as u64, d.consume_queue_offset), (*off, m.queue_offset));
    }
    for (r, seq) in answered.iter().zip(1..) {
        let a = r.append.as_ref().unwrap();
        let (off, m) = recs.iter().find(|(o, _)| *o == a.wrote_offset as u64).unwrap();
        assert_eq!((seq_of(m), m.queue_offset, m.store_timestamp), (seq, a.logics_offset, a.store_timestamp), "{off}");
    }
}

#[test]
fn concurrent_callers_roll_files_and_keep_their_own_order() {
    let d = tempfile::tempdir().unwrap();
    let size = 64 * 1024;
    let (w, seen) = open(d.path(), write_buffer(size), &Gate::default());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                let mut results = Vec::new();
                for i in 0..400u64 {
                    let seq = t * 10_000 + i;
                    let c = if i % 97 == 13 {
                        w.put_batch((0..3).map(|k| msg("B", t as i32, 700, seq * 10 + k + 1_000_000)).collect())
                    } else {
                        w.put(msg("T", (i % 3) as i32, 200 + (i as usize * 37) % 3000, seq))
                    };
                    results.push(c.wait().unwrap());
                }
                results
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(results.iter().all(|r| r.status == PutStatus::PutOk));
    let end = w.max_offset();
    w.shutdown().unwrap();

    let recs = records(d.path(), size);
    assert!(end > 4 * size, "several files rolled");
    let batches = (0..400).filter(|i| i % 97 == 13).count();
    assert_eq!(recs.len(), 4 * (400 - batches + 3 * batches));
    // queue offsets consecutive per queue, each caller's puts in its own order
    let mut next: HashMap<(String, i32), i64> = HashMap::new();
    let mut last_of_thread: HashMap<u64, u64> = HashMap::new();
    for (off, m) in &recs {
        let n = next.entry((m.topic.clone(), m.queue_id)).or_default();
        assert_eq!(m.queue_offset, *n, "queue offset at {off}");
        *n += 1;
        let seq = seq_of(m);
        if m.topic == "T" {
            if let Some(prev) = last_of_thread.insert(seq / 10_000, seq) {
                assert!(prev < seq, "thread {} stored {seq} after {prev}", seq / 10_000);
            }
        }
    }
    let by_off: HashMap<u64, &MessageRecord> = recs.iter().map(|(o, m)| (*o, m)).collect();
    for r in &results {
        let a = r.append.as_ref().unwrap();
        for (i, o) in a.offsets.iter().enumerate() {
            assert_eq!(by_off[&(*o as u64)].queue_offset, a.logics_offset + i as i64);
        }
    }
    assert_eq!(seen.lock().unwrap().len(), recs.len());
}

#[test]
fn only_a_master_with_async_flush_stages_early() {
    let d = tempfile::tempdir().unwrap();
    let gate = Gate::default();
    let (w, _) = open(d.path(), write_buffer(1 << 20), &gate);
    assert!(w.put(msg("T", 0, 10, 0)).wait().unwrap().is_ok());
    assert!(w.set_role(Role::Slave).wait().unwrap().is_ok());
    assert_eq!(w.put(msg("T", 0, 10, 1)).wait().unwrap().status, PutStatus::ServiceNotAvailable);
    assert!(w.set_role(Role::Master).wait().unwrap().is_ok());
    assert!(w.put(msg("T", 0, 10, 2)).wait().unwrap().is_ok());
    gate.set_closed(true);
    let opener = OpenOnDrop(gate.clone());
    assert!(w.put(msg("T", 0, 10, 3)).is_ready(), "a master again stages early");
    drop(opener);
    gate.set_closed(false);
    w.shutdown().unwrap();
    assert_eq!(records(d.path(), 1 << 20).iter().map(|(_, m)| seq_of(m)).collect::<Vec<_>>(), vec![0, 2, 3]);

    // SYNC_FLUSH ignores the setting, like Java
    let d = tempfile::tempdir().unwrap();
    let gate = Gate::default();
    let cfg = AppendConfig { flush_disk_type: FlushDiskType::Sync, ..write_buffer(1 << 20) };
    let (w, _) = open(d.path(), cfg, &gate);
    assert!(w.put(msg("T", 0, 10, 0)).wait().unwrap().is_ok());
    gate.set_closed(true);
    let _open = OpenOnDrop(gate.clone());
    let mut c = w.put(msg("T", 0, 10, 1));
    assert!(c.wait_timeout(Duration::from_millis(100)).is_none());
    gate.set_closed(false);
    assert!(c.wait().unwrap().is_ok());
    w.shutdown().unwrap();
}

#[test]
fn a_stuck_append_thread_stops_the_staging_after_the_buffer_limit() {
    let d = tempfile::tempdir().unwrap();
    let gate = Gate::default();
    let size = 64 << 20;
    let (w, _) = open(d.path(), write_buffer(size), &gate);
    assert!(w.put(msg("T", 0, 1000, 0)).wait().unwrap().is_ok());
    gate.set_closed(true);
    let _open = OpenOnDrop(gate.clone());
    let mut pending = Vec::new();
    let mut seq = 1;
    // 4 MiB of staged records at most, then puts wait for the append thread
    while pending.len() < 10_000 {
        let c = w.put(msg("T", 0, 1000, seq));
        seq += 1;
        let ready = c.is_ready();
        pending.push(c);
        if !ready {
            break;
        }
        if seq == 2 {
            gate.wait_held();
        }
    }
    let record = 1000 + 200; // about: body plus header and properties
    assert!(pending.len() > (4 << 20) / (record + 100) && pending.len() < (4 << 20) / 1000 + 2, "{}", pending.len());
    assert!(w.staged_bytes() >= 4 << 20);
    gate.set_closed(false);
    for c in pending {
        assert!(c.wait().unwrap().is_ok());
    }
    w.shutdown().unwrap();
    let seqs: Vec<u64> = records(d.path(), size).iter().map(|(_, m)| seq_of(m)).collect();
    assert_eq!(seqs, (0..seq).collect::<Vec<_>>());
}
