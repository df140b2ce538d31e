//! Replays the Java 4.9.8 HA capture (`wire/ha_replication.pcap`: a slave
//! catching up from 418343 to 485386, then W3 replicated up to 507839; same
//! run as `diverged/` step 4) against our implementation, both ways:
//!
//! * our slave (a broker opened on a copy of `diverged/slave-behind/slave`,
//!   the store the capture began with) is fed the master's recorded bytes by a
//!   fake master; its reports must be the recorded ones and its commitlog,
//!   consume queues and index must equal the Java slave's afterwards
//!   (`diverged/slave-ahead/slave`, stopped right after that run);
//! * our master (on a copy of `diverged/slave-behind/master`) is driven by a
//!   fake slave sending the recorded reports; the bytes it sends must be the
//!   recorded stream. W3 is appended to its log while it runs, one recorded
//!   frame at a time, as the Java master got it from its producer.
//!
//! Tolerance: heartbeats (12-byte headers, size 0) depend on idle time, so
//! their number differs (our test runs with a 300 ms interval instead of 5 s);
//! every heartbeat must carry the current transfer offset, both streams must
//! open with one (the slave reported after more than an interval), and the
//! data frames (header + body) must be byte-identical, in the same chunks.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_compat_tests::golden::{golden_dir_or_skip, Summary};
use rmq_compat_tests::pcap::Capture;
use rmq_ha::codec::{encode_report, Frame, FrameReader, TransferHeader, TRANSFER_HEADER_SIZE};
use rmq_ha::{ClassicHa, HaConfig, HaFlavor, HaRole};
use rmq_store::append::{AppendConfig, CommitLogWriter, JavaVersion, Role, WriterOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FILE_SIZE: u64 = 262144;
const START: u64 = 418343;
const CAUGHT_UP: u64 = 485386;
const END: u64 = 507839;

/// The capture split into the master's frames and the slave's reports.
struct Recorded {
    frames: Vec<Frame>,
    reports: Vec<u64>,
}

fn recorded(golden: &Path) -> Recorded {
    let pcap = golden.join("java-4.9.8/wire/ha_replication.pcap");
    let cap = Capture::open(&pcap).unwrap();
    assert_eq!(cap.connections.len(), 1);
    let c = &cap.connections[0];
    assert_eq!(c.server.port(), 19912, "the master's HA port is the server side");
    let mut r = FrameReader::default();
    r.push(&c.to_client.data);
    let mut frames = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        frames.push(f);
    }
    assert_eq!(r.buffered(), 0, "the master's stream ends on a frame boundary");
    assert_eq!(c.to_server.data.len() % 8, 0);
    let reports: Vec<u64> = c.to_server.data.chunks(8).map(|b| u64::from_be_bytes(b.try_into().unwrap())).collect();
    // cross-check with the summary written by the capture's own decoder
    let summary = Summary::load(&pcap.with_extension("summary.json")).unwrap();
    let want_frames: Vec<(u64, u64)> = summary
        .frames
        .iter()
        .filter(|f| f["proto"] == "HA master->slave")
        .map(|f| (f["masterPhyOffset"].as_u64().unwrap(), f["bodySize"].as_u64().unwrap()))
        .collect();
    let got_frames: Vec<(u64, u64)> = frames.iter().map(|f| (f.header.offset, f.header.size as u64)).collect();
    assert_eq!(got_frames, want_frames);
    let want_reports: Vec<u64> = summary
        .frames
        .iter()
        .filter(|f| f["proto"] == "HA slave->master")
        .map(|f| f["slaveMaxPhyOffsetReport"].as_u64().unwrap())
        .collect();
    assert_eq!(reports, want_reports);
    Recorded { frames, reports }
}

fn dedup(v: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for &x in v {
        if out.last() != Some(&x) {
            out.push(x);
        }
    }
    out
}

use rmq_store::testutil::copy_dir;

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn assert_same_tree(ours: &Path, java: &Path, what: &str) {
    let (a, b) = (files(ours), files(java));
    let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "{what}: file lists");
    for ((p, x), (_, y)) in a.iter().zip(&b) {
        if x != y {
            let at = x.iter().zip(y).position(|(m, n)| m != n).unwrap_or(x.len().min(y.len()));
            panic!("{what}: {} differs from Java's at byte {at} (sizes {} / {})", p.display(), x.len(), y.len());
        }
    }
}

/// The copied broker.conf, pointed at the copy, an ephemeral port and the fake master.
fn slave_settings(root: &Path, master: &str) -> rmq_broker::config::BrokerSettings {
    rmq_broker::testutil::settings_for_copy(root, &[("haMasterAddress", master)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_slave_accepts_the_java_masters_stream() {
    let Some(golden) = golden_dir_or_skip("our_slave_accepts_the_java_masters_stream") else { return };
    let rec = recorded(&golden);
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("slave");
    copy_dir(&golden.join("java-4.9.8/diverged/slave-behind/slave"), &root);
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let settings = slave_settings(&root, &fake.local_addr().unwrap().to_string());
    let broker = rmq_broker::Broker::start(settings).await.unwrap();
    assert_eq!(broker.state().store.max_phy_offset() as u64, START);

    let (sock, _) = tokio::time::timeout(Duration::from_secs(10), fake.accept()).await.unwrap().unwrap();
    let (mut rd, mut wr) = sock.into_split();
    let mut first = [0u8; 8];
    rd.read_exact(&mut first).await.unwrap();
    assert_eq!(u64::from_be_bytes(first), rec.reports[0], "the slave asks for the offset Java's slave asked for");
    let reports = tokio::spawn(async move {
        let mut got = vec![u64::from_be_bytes(first)];
        let mut b = [0u8; 8];
        while rd.read_exact(&mut b).await.is_ok() {
            got.push(u64::from_be_bytes(b));
        }
        got
    });
    // the recorded bytes in odd-sized pieces: headers and bodies split anywhere
    let mut stream = Vec::new();
    for f in &rec.frames {
        stream.extend_from_slice(&f.header.encode());
        stream.extend_from_slice(&f.body);
    }
    let sizes = [1usize, 7, 500, 4096, 12, 33000, 3];
    let (mut at, mut i) = (0, 0);
    while at < stream.len() {
        let n = sizes[i % sizes.len()].min(stream.len() - at);
        wr.write_all(&stream[at..at + n]).await.unwrap();
        at += n;
        i += 1;
        if i % 5 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let t = Instant::now();
    while broker.state().store.max_phy_offset() as u64 != END {
        assert!(t.elapsed() < Duration::from_secs(10), "slave at {}", broker.state().store.max_phy_offset());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // the last report is out once the last frame is applied
    tokio::time::sleep(Duration::from_millis(200)).await;
    broker.shutdown().await;
    drop(wr);
    let got = reports.await.unwrap();
    assert_eq!(dedup(&got), dedup(&rec.reports), "reports: ours {got:?}");

    let java = golden.join("java-4.9.8/diverged/slave-ahead/slave");
    assert_same_tree(&root.join("commitlog"), &java.join("commitlog"), "commitlog");
    assert_same_tree(&root.join("consumequeue"), &java.join("consumequeue"), "consumequeue");
    assert_same_tree(&root.join("index"), &java.join("index"), "index");
    // and the prefix the capture caught up is the master's
    let master = files(&golden.join("java-4.9.8/diverged/slave-behind/master/commitlog"));
    let ours = files(&root.join("commitlog"));
    let flat = |v: &[(PathBuf, Vec<u8>)]| v.iter().flat_map(|(_, d)| d.clone()).collect::<Vec<u8>>();
    assert_eq!(flat(&master)[..CAUGHT_UP as usize], flat(&ours)[..CAUGHT_UP as usize]);
}

async fn next_frame(sock: &mut TcpStream, r: &mut FrameReader) -> Frame {
    loop {
        if let Some(f) = r.next_frame().unwrap() {
            return f;
        }
        let mut buf = vec![0u8; 64 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "master closed the connection");
        r.push(&buf[..n]);
    }
}

/// Data frames as bytes; heartbeats checked against the transfer position.
fn data_bytes(frames: &[Frame], start: u64) -> Vec<u8> {
    let mut pos = start;
    let mut out = Vec::new();
    for f in frames {
        assert_eq!(f.header.offset, pos, "every frame (heartbeats too) carries the transfer offset");
        if f.header.size > 0 {
            out.extend_from_slice(&f.header.encode());
            out.extend_from_slice(&f.body);
            pos += f.header.size as u64;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_master_sends_the_java_masters_stream() {
    let Some(golden) = golden_dir_or_skip("our_master_sends_the_java_masters_stream") else { return };
    let rec = recorded(&golden);
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("master");
    copy_dir(&golden.join("java-4.9.8/diverged/slave-behind/master"), &root);
    // the master's log, opened so W3 can be added as the recorded raw bytes
    let cfg =
        AppendConfig { file_size: FILE_SIZE, role: Role::Slave, layout: JavaVersion::V4_9_8, ..Default::default() };
    let mut o = WriterOptions::new(vec![root.join("commitlog")], cfg);
    o.run_cleaner = false;
    let writer = Arc::new(CommitLogWriter::open(o).unwrap());
    assert_eq!(writer.max_offset(), CAUGHT_UP);
    let ha_cfg =
        HaConfig { flavor: HaFlavor::V4_9_8, heartbeat_interval: Duration::from_millis(300), ..HaConfig::default() };
    let ha =
        ClassicHa::start(TcpListener::bind("127.0.0.1:0").await.unwrap(), writer.clone(), ha_cfg, HaRole::Master, None)
            .unwrap();

    let mut sock = TcpStream::connect(ha.local_addr()).await.unwrap();
    // as in the capture, the first report comes more than one interval after connecting
    tokio::time::sleep(Duration::from_millis(450)).await;
    sock.write_all(&encode_report(rec.reports[0])).await.unwrap();
    let mut r = FrameReader::default();
    let mut ours = Vec::new();
    let mut pos = START;
    // catch-up, reporting each applied frame as a slave does
    while pos < CAUGHT_UP {
        let f = next_frame(&mut sock, &mut r).await;
        pos += f.header.size as u64;
        if f.header.size > 0 {
            sock.write_all(&encode_report(pos)).await.unwrap();
        }
        ours.push(f);
    }
    // idle: heartbeats only
    let idle = Instant::now();
    while idle.elapsed() < Duration::from_millis(700) {
        let f = next_frame(&mut sock, &mut r).await;
        assert!(f.header.is_heartbeat(), "{:?}", f.header);
        ours.push(f);
    }
    // W3, one recorded frame at a time, as the Java master's producer wrote it
    for w in rec.frames.iter().filter(|f| f.header.offset >= CAUGHT_UP && f.header.size > 0) {
        writer.append_raw(w.header.offset, w.body.clone()).await.unwrap().unwrap();
        loop {
            let f = next_frame(&mut sock, &mut r).await;
            let data = f.header.size > 0;
            ours.push(f);
            if data {
                break;
            }
        }
        let end = w.header.offset + w.header.size as u64;
        sock.write_all(&encode_report(end)).await.unwrap();
    }
    // the closing heartbeat at the end
    let f = next_frame(&mut sock, &mut r).await;
    assert_eq!(f.header, TransferHeader { offset: END, size: 0 });
    ours.push(f);
    rmq_ha::Replication::shutdown(&ha).await;

    assert!(ours[0].header.is_heartbeat() && rec.frames[0].header.is_heartbeat(), "both open with a heartbeat");
    assert_eq!(ours[0].header.offset, rec.frames[0].header.offset);
    let (mine, java) = (data_bytes(&ours, START), data_bytes(&rec.frames, START));
    assert_eq!(mine.len(), java.len());
    assert!(mine == java, "data frames differ from byte {:?}", mine.iter().zip(&java).position(|(a, b)| a != b));
    let chunks = |v: &[Frame]| v.iter().filter(|f| f.header.size > 0).map(|f| f.header.size).collect::<Vec<_>>();
    assert_eq!(chunks(&ours), chunks(&rec.frames));
    let heartbeats = ours.iter().filter(|f| f.header.is_heartbeat()).count();
    eprintln!(
        "master replay: {} data bytes in {} frames identical; {heartbeats} heartbeats (Java: {} at 5 s)",
        mine.len() - TRANSFER_HEADER_SIZE * chunks(&ours).len(),
        chunks(&ours).len(),
        rec.frames.iter().filter(|f| f.header.is_heartbeat()).count()
    );
    writer.shutdown().unwrap();
}
