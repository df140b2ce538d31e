//! SYNC_FLUSH durability: a writer process killed with SIGKILL right after
//! puts resolved never loses them. The test executable re-runs itself as the
//! writer child (`child_writer` with RMQ_APPEND_KILL_CHILD set); the parent
//! reads the acknowledgements from its stdout, kills it, then reads the store.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rmq_store::append::{
    AppendConfig, CommitLogWriter, FlushDiskType, JavaVersion, MessageToStore, StoreSession, WriterOptions,
};
use rmq_store::mapped_file::CommitLog;
use rmq_store::record::{properties_to_bytes, HostAddr};
use rmq_store::StoreDir;

const CHILD_ENV: &str = "RMQ_APPEND_KILL_CHILD";
const FILE_SIZE: u64 = 64 * 1024;

fn msg(seq: u64) -> MessageToStore {
    let mut body = format!("seq={seq};").into_bytes();
    body.resize(200 + (seq % 7) as usize * 300, b'k');
    MessageToStore {
        topic: "KillTopic".into(),
        queue_id: (seq % 4) as i32,
        flag: 0,
        body: Bytes::from(body),
        properties: Bytes::from(properties_to_bytes([("KEYS", "k")])),
        sys_flag: 0,
        born_timestamp: 1,
        born_host: HostAddr::v4([127, 0, 0, 1], 1),
        store_host: HostAddr::v4([127, 0, 0, 1], 10911),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// The writer child; a no-op when run as a normal test.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let root = Path::new(&dir);
    let session = StoreSession::begin(root, JavaVersion::V5_3_3).unwrap();
    session.mark_running().unwrap();
    let cfg = AppendConfig { file_size: FILE_SIZE, flush_disk_type: FlushDiskType::Sync, ..Default::default() };
    let mut o = WriterOptions::new(vec![root.join("commitlog")], cfg);
    o.checkpoint = Some(session.checkpoint().clone());
    let w = CommitLogWriter::open(o).unwrap();
    let mut out = std::io::stdout().lock();
    let t = Instant::now();
    // a few puts in flight at once, so group commit batches them
    let mut seq = 0u64;
    while t.elapsed() < Duration::from_secs(60) {
        let batch: Vec<_> = (0..4).map(|i| (seq + i, w.put(msg(seq + i)))).collect();
        seq += 4;
        for (s, c) in batch {
            let r = c.wait().unwrap();
            if let (true, Some(a)) = (r.is_ok(), r.append) {
                writeln!(out, "ACK {s} {}", a.wrote_offset).unwrap();
                out.flush().unwrap();
            }
        }
    }
}

#[test]
fn sync_flush_survives_sigkill() {
    let exe = std::env::current_exe().unwrap();
    for (round, kill_after) in [25usize, 180, 700].into_iter().enumerate() {
        let d = tempfile::tempdir().unwrap();
        let mut child = Command::new(&exe)
            .args(["child_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, d.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut acked = Vec::new();
        let mut killed = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Some(rest) = line.strip_prefix("ACK ") else { continue };
            let mut it = rest.split(' ').map(|x| x.parse::<u64>().unwrap());
            acked.push((it.next().unwrap(), it.next().unwrap()));
            if acked.len() == kill_after && !killed {
                child.kill().unwrap(); // SIGKILL
                killed = true;
            }
        }
        let status = child.wait().unwrap();
        assert!(killed, "round {round}: child ended before {kill_after} acks ({status:?})");
        assert!(acked.len() >= kill_after);

        // every acknowledged record is there, intact
        let cl = CommitLog::open(&[d.path().join("commitlog")], Some(FILE_SIZE)).unwrap();
        for (seq, off) in &acked {
            let m = cl.read_message(*off).unwrap_or_else(|e| panic!("round {round}: seq {seq} at {off}: {e}"));
            assert!(m.body_crc_ok());
            assert!(String::from_utf8_lossy(&m.body).starts_with(&format!("seq={seq};")), "round {round} seq {seq}");
        }
        let ok = cl.iter(true).filter(|e| e.as_ref().is_ok_and(|e| e.message().is_some())).count();
        assert!(ok >= acked.len());
        // a crash leaves abort (next start recovers abnormally) and no lock holder
        let sd = StoreDir::open(d.path(), None).unwrap();
        assert!(sd.abort_state().present);
        assert_eq!(sd.lock_state().held, Some(false));
        // and the store opens again, continuing after the last acknowledged record
        let w = CommitLogWriter::open(WriterOptions::new(
            vec![d.path().join("commitlog")],
            AppendConfig { file_size: FILE_SIZE, ..Default::default() },
        ))
        .unwrap();
        let last = acked.iter().map(|(_, o)| *o).max().unwrap();
        assert!(w.max_offset() > last);
        w.shutdown().unwrap();
    }
}
