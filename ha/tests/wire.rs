//! The protocol as a peer sees it: a scripted socket on the other end.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rmq_ha::codec::{encode_report, FrameReader, TransferHeader};
use rmq_ha::{ClassicHa, HaRole, Replication};
use rmq_store::append::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn read_frame(sock: &mut TcpStream, r: &mut FrameReader) -> rmq_ha::codec::Frame {
    loop {
        if let Some(f) = r.next_frame().unwrap() {
            return f;
        }
        let mut buf = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "master closed the connection");
        r.push(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_heartbeats_and_starts_a_late_reporter_with_one() {
    let d = tempfile::tempdir().unwrap();
    let m = open(&d.path().join("m"), Role::Master);
    let end = put_many(&m.writer, 0, 120).await;
    let cfg = fast_config();
    let mh =
        ClassicHa::start(TcpListener::bind("127.0.0.1:0").await.unwrap(), m.ha(), cfg.clone(), HaRole::Master, None)
            .unwrap();
    let mut sock = TcpStream::connect(mh.local_addr()).await.unwrap();
    // nothing is sent before the slave reports
    let mut one = [0u8; 1];
    assert!(tokio::time::timeout(Duration::from_millis(400), sock.read(&mut one)).await.is_err());
    // reporting after more than one heartbeat interval: a heartbeat comes first
    sock.write_all(&encode_report(FILE_SIZE)).await.unwrap();
    let mut r = FrameReader::default();
    let hb = read_frame(&mut sock, &mut r).await;
    assert_eq!(hb.header, TransferHeader { offset: FILE_SIZE, size: 0 });
    let mut at = FILE_SIZE;
    while at < end {
        let f = read_frame(&mut sock, &mut r).await;
        assert_eq!(f.header.offset, at);
        assert!(f.body.len() <= cfg.transfer_batch_size);
        // never across a file end
        assert!(at / FILE_SIZE == (at + f.body.len() as u64 - 1) / FILE_SIZE);
        at += f.body.len() as u64;
    }
    assert_eq!(at, end);
    sock.write_all(&encode_report(end)).await.unwrap();
    // idle: heartbeats at the transfer position, about one per interval
    let t = Instant::now();
    for _ in 0..3 {
        let f = read_frame(&mut sock, &mut r).await;
        assert_eq!(f.header, TransferHeader { offset: end, size: 0 });
    }
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(800) && took < Duration::from_millis(2500), "{took:?}");
    // a report of 0 (empty slave) on a new connection starts at the last file
    let mut s2 = TcpStream::connect(mh.local_addr()).await.unwrap();
    s2.write_all(&encode_report(0)).await.unwrap();
    let mut r2 = FrameReader::default();
    let f = read_frame(&mut s2, &mut r2).await;
    assert_eq!(f.header.offset, end - end % FILE_SIZE);
    mh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_master_drops_a_slave_that_is_ahead() {
    let d = tempfile::tempdir().unwrap();
    let m = open(&d.path().join("m"), Role::Master);
    let end = put_many(&m.writer, 0, 10).await;
    let cfg = rmq_ha::HaConfig { flavor: rmq_ha::HaFlavor::V4_9_8, ..fast_config() };
    let mh =
        ClassicHa::start(TcpListener::bind("127.0.0.1:0").await.unwrap(), m.ha(), cfg, HaRole::Master, None).unwrap();
    let mut sock = TcpStream::connect(mh.local_addr()).await.unwrap();
    // the first report is only a request (no check), a later one beyond the end closes
    sock.write_all(&encode_report(end + 100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(mh.tracker().connection_count(), 1);
    sock.write_all(&encode_report(end + 100)).await.unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "connection closed");
    mh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_reports_on_connect_and_idle_and_drops_a_wrong_offset() {
    let d = tempfile::tempdir().unwrap();
    // a slave holding one file of data
    let m = open(&d.path().join("m"), Role::Master);
    let end = put_many(&m.writer, 0, 10).await;
    drop(m);
    let s = open(&d.path().join("m"), Role::Slave);
    assert_eq!(s.writer.max_offset(), end);
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sh = ClassicHa::start(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        s.ha(),
        fast_config(),
        HaRole::Slave,
        Some(fake.local_addr().unwrap().to_string()),
    )
    .unwrap();
    let (mut c, _) = tokio::time::timeout(Duration::from_secs(5), fake.accept()).await.unwrap().unwrap();
    let mut report = [0u8; 8];
    let t = Instant::now();
    c.read_exact(&mut report).await.unwrap();
    assert_eq!(u64::from_be_bytes(report), end, "reported at once");
    assert!(t.elapsed() < Duration::from_millis(200));
    // idle: the same offset again each heartbeat interval
    c.read_exact(&mut report).await.unwrap();
    assert_eq!(u64::from_be_bytes(report), end);
    assert!(t.elapsed() >= Duration::from_millis(280), "{:?}", t.elapsed());
    // a frame that does not continue the slave's log: connection dropped, nothing written
    c.write_all(&TransferHeader { offset: end + 8, size: 4 }.encode()).await.unwrap();
    c.write_all(b"junk").await.unwrap();
    let mut buf = [0u8; 64];
    let dropped = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(dropped.is_ok(), "slave closed the connection");
    assert_eq!(s.writer.max_offset(), end);
    // and it comes back (after the back-off)
    let (mut c2, _) = tokio::time::timeout(Duration::from_secs(5), fake.accept()).await.unwrap().unwrap();
    c2.read_exact(&mut report).await.unwrap();
    assert_eq!(u64::from_be_bytes(report), end);
    assert_eq!(sh.client().stats().sessions(), 2);
    sh.shutdown().await;
}
