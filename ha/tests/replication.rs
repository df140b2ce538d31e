//! Master and slave services over real commitlog writers on loopback.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use rmq_ha::{AckRule, ClassicHa, HaConfig, HaRole, ReplicaOutcome, Replication};
use rmq_store::append::Role;
use tokio::net::TcpListener;

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

async fn master(log: &Log, cfg: HaConfig) -> ClassicHa {
    ClassicHa::start(listener().await, log.ha(), cfg, HaRole::Master, None).unwrap()
}

async fn slave(log: &Log, cfg: HaConfig, master: &ClassicHa) -> ClassicHa {
    ClassicHa::start(listener().await, log.ha(), cfg, HaRole::Slave, Some(master.local_addr().to_string())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_log_becomes_byte_identical_and_is_dispatched() {
    let d = tempfile::tempdir().unwrap();
    let m = open(&d.path().join("m"), Role::Master);
    let s = open(&d.path().join("s"), Role::Slave);
    let mh = master(&m, fast_config()).await;
    // some data before the slave connects, more while it is connected
    put_many(&m.writer, 0, 300).await;
    let sh = slave(&s, fast_config(), &mh).await;
    let end = put_many(&m.writer, 300, 700).await;
    assert!(end > 5 * FILE_SIZE, "several files, so BLANK fillers are replicated too");
    let took = eventually(Duration::from_secs(20), "slave end", || s.writer.max_offset() == end).await;
    eprintln!("slave caught up {end} bytes {took:?} after the last put");
    // the slave started empty: Java starts it at the master's last file (the one being
    // written when it connected), so earlier files exist on the master only
    let first = s.writer.min_offset();
    assert_eq!(first % FILE_SIZE, 0);
    assert!(first > 0, "an empty slave does not get the whole history");
    for (name, data) in files(&s.dir) {
        let master_file = std::fs::read(m.dir.join("commitlog").join(&name)).unwrap();
        assert!(data == master_file, "file {name} differs");
    }
    // every record from the slave's first file on went through its dispatcher
    let expected = records_from(&m, first);
    eventually(Duration::from_secs(5), "dispatch on the slave", || s.dispatched.load(Ordering::Relaxed) == expected)
        .await;
    // acks reached the master
    eventually(Duration::from_secs(5), "ack", || mh.tracker().push_to_slave_max() == end).await;
    assert_eq!(mh.status().slaves.len(), 1);
    assert!(sh.status().connected_to_master);
    sh.shutdown().await;
    mh.shutdown().await;
}

/// Messages in the master log from `from` on.
fn records_from(m: &Log, from: u64) -> u64 {
    let (mut off, mut n) = (from, 0);
    while off < m.writer.max_offset() {
        match m.writer.read_at(off).unwrap() {
            rmq_store::Decoded::Message(r) => {
                n += 1;
                off += r.total_size as u64;
            }
            _ => off = (off / FILE_SIZE + 1) * FILE_SIZE,
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_with_data_continues_from_its_end_and_survives_a_master_restart() {
    let d = tempfile::tempdir().unwrap();
    let m = open(&d.path().join("m"), Role::Master);
    let s = open(&d.path().join("s"), Role::Slave);
    let l = listener().await;
    let port = l.local_addr().unwrap();
    let mh = ClassicHa::start(l, m.ha(), fast_config(), HaRole::Master, None).unwrap();
    let sh = ClassicHa::start(listener().await, s.ha(), fast_config(), HaRole::Slave, Some(port.to_string())).unwrap();
    // one message first: once the slave has it, its transfer started in file 0
    let one = put_many(&m.writer, 0, 1).await;
    eventually(Duration::from_secs(20), "first message", || s.writer.max_offset() == one).await;
    let end = put_many(&m.writer, 1, 199).await;
    eventually(Duration::from_secs(20), "first catch-up", || s.writer.max_offset() == end).await;
    assert_eq!(s.writer.min_offset(), 0, "the master had one file when the slave came: all of it");
    let sessions = sh.client().stats().sessions();

    // master's HA service goes away and comes back on the same port
    mh.shutdown().await;
    let end = put_many(&m.writer, 200, 200).await;
    assert!(s.writer.max_offset() < end);
    let mh =
        ClassicHa::start(TcpListener::bind(port).await.unwrap(), m.ha(), fast_config(), HaRole::Master, None).unwrap();
    eventually(Duration::from_secs(20), "catch-up after restart", || s.writer.max_offset() == end).await;
    assert!(sh.client().stats().sessions() > sessions, "reconnected");
    assert!(same_bytes(&m.dir, &s.dir));
    sh.shutdown().await;
    mh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_wait_rules_of_both_versions() {
    let d = tempfile::tempdir().unwrap();
    let m = open(&d.path().join("m"), Role::Master);
    let s = open(&d.path().join("s"), Role::Slave);
    let v4 = HaConfig {
        ack_rule: AckRule::AnySlave { fallbehind_max: 256 * 1024 * 1024 },
        slave_timeout: Duration::from_millis(300),
        ..fast_config()
    };
    let mh = master(&m, v4.clone()).await;
    let end = put_many(&m.writer, 0, 10).await;
    // 4.9.8 without a slave: SLAVE_NOT_AVAILABLE at once
    let t = std::time::Instant::now();
    assert_eq!(mh.wait_replicated(end).await, ReplicaOutcome::SlaveNotAvailable);
    assert!(t.elapsed() < Duration::from_millis(100));
    let sh = slave(&s, fast_config(), &mh).await;
    eventually(Duration::from_secs(10), "connection", || mh.tracker().connection_count() == 1).await;
    let end = put_many(&m.writer, 10, 5).await;
    assert_eq!(mh.wait_replicated(end).await, ReplicaOutcome::Ok);
    assert!(s.writer.max_offset() >= end, "acked bytes are on the slave");
    // slave stops following (role change): the connection closes, nothing is acked
    sh.set_role(HaRole::Master).await;
    eventually(Duration::from_secs(5), "disconnect", || mh.tracker().connection_count() == 0).await;
    let end = put_many(&m.writer, 15, 1).await;
    assert_eq!(mh.wait_replicated(end).await, ReplicaOutcome::SlaveNotAvailable);
    mh.shutdown().await;

    // 5.3.3: inSyncReplicas=1 never waits; 2 times out without a slave
    let v5 = HaConfig { ack_rule: AckRule::InSyncReplicas { replicas: 1 }, ..v4.clone() };
    let mh = master(&m, v5).await;
    assert_eq!(mh.wait_replicated(end).await, ReplicaOutcome::Ok);
    mh.shutdown().await;
    let v5 = HaConfig { ack_rule: AckRule::InSyncReplicas { replicas: 2 }, ..v4 };
    let mh = master(&m, v5).await;
    let t = std::time::Instant::now();
    assert_eq!(mh.wait_replicated(end).await, ReplicaOutcome::Timeout);
    assert!(t.elapsed() >= Duration::from_millis(290), "{:?}", t.elapsed());
    // the slave follows again: the same wait succeeds
    sh.set_master_address(Some(mh.local_addr().to_string()));
    sh.set_role(HaRole::Slave).await;
    let end = put_many(&m.writer, 16, 3).await;
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            // the first wait may start before the slave reconnected
            match mh.wait_replicated(end).await {
                ReplicaOutcome::Ok => return ReplicaOutcome::Ok,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(outcome, ReplicaOutcome::Ok);
    assert!(s.writer.max_offset() >= end);
    sh.shutdown().await;
    mh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_throughput() {
    let d = tempfile::tempdir().unwrap();
    let size = 16 << 20;
    let m = open_sized(&d.path().join("m"), Role::Master, size);
    let s = open_sized(&d.path().join("s"), Role::Slave, size);
    let mh = master(&m, fast_config()).await;
    let sh = slave(&s, fast_config(), &mh).await;
    let one = put_many(&m.writer, 0, 1).await;
    eventually(Duration::from_secs(20), "first message", || s.writer.max_offset() == one).await;
    // the slave stops following while the master writes, then catches up in one go
    sh.set_role(HaRole::Master).await;
    let mut seq = 1;
    let mut end = one;
    while end < 48 << 20 {
        end = put_many(&m.writer, seq, 2000).await;
        seq += 2000;
    }
    let t = std::time::Instant::now();
    sh.set_role(HaRole::Slave).await;
    eventually(Duration::from_secs(120), "catch-up", || s.writer.max_offset() == end).await;
    let took = t.elapsed();
    let mib = (end - one) as f64 / (1 << 20) as f64;
    eprintln!("caught up {mib:.1} MiB in {took:?}: {:.0} MiB/s", mib / took.as_secs_f64());
    assert!(same_bytes(&m.dir, &s.dir));
    assert_eq!(s.dispatched.load(Ordering::Relaxed), seq);
    sh.shutdown().await;
    mh.shutdown().await;
}
