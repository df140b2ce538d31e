//! SYNC_MASTER between real `mqbroker` processes: Java's answers when the
//! slave is missing (4.9.8 store: SLAVE_NOT_AVAILABLE at once; 5.3.3 store with
//! inSyncReplicas=2: FLUSH_SLAVE_TIMEOUT after slaveTimeout; 5.3.3 default:
//! no wait), and with the slave up, every acknowledged message is on the
//! slave even when the master is SIGKILLed right after an ack.

mod common;
mod ha_procs;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ha_procs::*;
use parking_lot::Mutex;
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::client::ConsumerSendMsgBackRequestHeader;
use rmq_store::mapped_file::CommitLog;

const TOPIC: &str = "HaSyncTopic";

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden")
}

use rmq_store::testutil::copy_dir;

/// Sends until an answer is SUCCESS (the slave has connected and acked).
async fn until_success(addr: &str, seq: &AtomicU64) {
    let c = common::client();
    let t = Instant::now();
    loop {
        let a = send_one(&c, addr, TOPIC, seq.fetch_add(1, Ordering::Relaxed)).await.unwrap();
        if a.code == ResponseCode::SUCCESS {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no SUCCESS within 30 s, last {:?}", a.code);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Parallel senders; the master is SIGKILLed by the sender that gets the
/// `kill_after`-th SUCCESS, right after that ack. Returns every SUCCESS ack.
async fn send_then_kill_master(master: &mut BrokerProc, first_seq: u64, kill_after: usize) -> Vec<Ack> {
    let acks = Arc::new(Mutex::new(Vec::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(first_seq));
    let pid = master.pid() as i32;
    let c = common::client();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, addr, acks, killed, next) = (c.clone(), master.addr(), acks.clone(), killed.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while !killed.load(Ordering::Acquire) {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                let Ok(a) = send_one(&c, &addr, TOPIC, seq).await else { return };
                if a.code != ResponseCode::SUCCESS {
                    continue;
                }
                let n = {
                    let mut v = acks.lock();
                    v.push(a);
                    v.len()
                };
                if n == kill_after && !killed.swap(true, Ordering::AcqRel) {
                    // SAFETY: plain kill(2) on our own child process
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    master.kill9(); // reap
    let v = acks.lock().clone();
    v
}

/// Every acknowledged message is in the slave's commitlog, read with rmq-store.
fn assert_on_slave(slave_root: &Path, file_size: u64, acks: &[Ack]) {
    let cl = CommitLog::open(&[slave_root.join("commitlog")], Some(file_size)).unwrap();
    for a in acks {
        let m =
            cl.read_message(a.offset).unwrap_or_else(|e| panic!("acked message at {} not on the slave: {e}", a.offset));
        assert_eq!(&m.body[..], &a.body[..], "message at {}", a.offset);
        assert_eq!(m.topic, TOPIC);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_store_in_sync_replicas_rules_and_acked_messages_survive_master_kill() {
    let d = tempfile::tempdir().unwrap();
    let ns = common::namesrv(d.path()).await;
    let nsaddr = ns.local_addr().to_string();
    let (mroot, sroot) = (d.path().join("master"), d.path().join("slave"));
    let (mp, mha) = (free_port(), free_port());
    let mconf = |extra: &str| conf_text(&mroot, mp, &nsaddr, 0, "SYNC_MASTER", &format!("haListenPort={mha}\n{extra}"));
    let c = common::client();
    let seq = AtomicU64::new(0);

    // 5.3.3 default inSyncReplicas=1: a SYNC_MASTER does not wait, even without a slave
    let mut master = BrokerProc::new(d.path(), "master", &mroot, mp, &mconf("slaveTimeout=6000"));
    master.start();
    let t = Instant::now();
    let a = send_one(&c, &master.addr(), TOPIC, seq.fetch_add(1, Ordering::Relaxed)).await.unwrap();
    assert_eq!(a.code, ResponseCode::SUCCESS);
    assert!(t.elapsed() < Duration::from_secs(3), "no slaveTimeout wait: {:?}", t.elapsed());
    master.stop();

    // inSyncReplicas=2 without a slave: FLUSH_SLAVE_TIMEOUT after slaveTimeout, message stored
    let mut master = BrokerProc::new(d.path(), "master", &mroot, mp, &mconf("inSyncReplicas=2\nslaveTimeout=1000"));
    master.start();
    let t = Instant::now();
    let a = send_one(&c, &master.addr(), TOPIC, seq.fetch_add(1, Ordering::Relaxed)).await.unwrap();
    let waited = t.elapsed();
    assert_eq!(a.code, ResponseCode::FLUSH_SLAVE_TIMEOUT);
    assert_ne!(a.offset, u64::MAX, "Java answers a stored message with its msgId");
    assert!(waited >= Duration::from_millis(950) && waited < Duration::from_secs(5), "{waited:?}");

    // slave up: every acked message is on the slave, even with the master killed right after an ack
    let sp = free_port();
    let mut slave = BrokerProc::new(
        d.path(),
        "slave",
        &sroot,
        sp,
        &conf_text(&sroot, sp, &nsaddr, 1, "SLAVE", &format!("haListenPort={}", free_port())),
    );
    slave.start();
    until_success(&master.addr(), &seq).await;
    let acks = send_then_kill_master(&mut master, 1_000_000, 1500).await;
    assert!(acks.len() >= 1500);
    slave.stop();
    assert_on_slave(&sroot, 1048576, &acks);
    eprintln!("{} acknowledged messages, all on the slave after the master's SIGKILL", acks.len());
    ns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_store_slave_not_available_then_acked_messages_survive_master_kill() {
    let g = golden().join("java-4.9.8/plain");
    if !g.is_dir() {
        eprintln!("SKIPPED: golden data not found at {}", g.display());
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let ns = common::namesrv(d.path()).await;
    let nsaddr = ns.local_addr().to_string();
    let (mroot, sroot) = (d.path().join("master"), d.path().join("slave"));
    // a store Java 4.9.8 wrote: its broker.conf (1 MiB files) stays in place
    copy_dir(&g, &mroot);
    let mp = free_port_pair();
    // 4.9.8 ignores a configured haListenPort: HA is on listenPort + 1
    let mut master = BrokerProc::new(
        d.path(),
        "master",
        &mroot,
        mp,
        &conf_text(&mroot, mp, &nsaddr, 0, "SYNC_MASTER", &format!("haListenPort={}", free_port())),
    );
    master.start();
    assert!(std::net::TcpStream::connect(("127.0.0.1", mp + 1)).is_ok(), "HA port is listenPort + 1");
    let c = common::client();
    let seq = AtomicU64::new(0);
    let t = Instant::now();
    let a = send_one(&c, &master.addr(), TOPIC, seq.fetch_add(1, Ordering::Relaxed)).await.unwrap();
    assert_eq!(a.code, ResponseCode::SLAVE_NOT_AVAILABLE);
    assert_ne!(a.offset, u64::MAX, "Java answers a stored message with its msgId");
    // slaveTimeout is 3 s: well below means no wait
    assert!(t.elapsed() < Duration::from_secs(2), "answered without waiting: {:?}", t.elapsed());
    // a consumer send-back is stored with WAIT=false (Java sets it): no slave wait, SUCCESS
    let mut cmd = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK);
    ConsumerSendMsgBackRequestHeader {
        offset: a.offset as i64,
        group: "ha_cg".into(),
        delay_level: 0,
        origin_msg_id: None,
        origin_topic: Some(TOPIC.into()),
        unit_mode: Some(false),
        max_reconsume_times: None,
    }
    .apply_to(&mut cmd);
    let r = common::call(&c, &master.addr(), cmd).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");

    let sp = free_port();
    let mut slave = BrokerProc::new(d.path(), "slave", &sroot, sp, &conf_text(&sroot, sp, &nsaddr, 1, "SLAVE", ""));
    slave.start();
    until_success(&master.addr(), &seq).await;
    // the slave goes away: SLAVE_NOT_AVAILABLE again once the master notices
    slave.stop();
    let t = Instant::now();
    loop {
        let a = send_one(&c, &master.addr(), TOPIC, seq.fetch_add(1, Ordering::Relaxed)).await.unwrap();
        if a.code == ResponseCode::SLAVE_NOT_AVAILABLE {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "still {:?}", a.code);
    }
    slave.start();
    until_success(&master.addr(), &seq).await;
    let acks = send_then_kill_master(&mut master, 1_000_000, 1500).await;
    slave.stop();
    assert_on_slave(&sroot, 1048576, &acks);
    eprintln!("{} acknowledged messages, all on the slave after the master's SIGKILL", acks.len());
    ns.shutdown().await;
}
