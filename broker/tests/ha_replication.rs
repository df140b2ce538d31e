//! Classic replication between two real `mqbroker` processes (our master, our
//! slave) on loopback: 10,000 messages, then the slave's commitlog is compared
//! byte for byte with the master's; a slave killed with SIGKILL and restarted
//! while the master keeps taking writes catches up; consume queues the slave
//! built itself equal the master's.

mod common;
mod ha_procs;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ha_procs::*;
use rmq_remoting::codec::ResponseCode;

const TOPIC: &str = "HaRepTopic";

/// Sends `seqs` with `parallel` requests in flight; every answer must be SUCCESS.
async fn send_all(addr: &str, seqs: std::ops::Range<u64>, parallel: u64) {
    let c = common::client();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(seqs.start));
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (c, addr, next, end) = (c.clone(), addr.to_string(), next.clone(), seqs.end);
        tasks.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if seq >= end {
                    return;
                }
                let a = send_one(&c, &addr, TOPIC, seq).await.unwrap();
                assert_eq!(a.code, ResponseCode::SUCCESS, "message {seq}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Polls until both commitlogs hold the same bytes; returns how long it took.
async fn until_identical(master: &BrokerProc, slave: &BrokerProc, limit: Duration) -> Duration {
    let t = Instant::now();
    loop {
        let (m, s) = (master.root.clone(), slave.root.clone());
        if tokio::task::spawn_blocking(move || same_commitlog(&m, &s)).await.unwrap() {
            return t.elapsed();
        }
        if t.elapsed() > limit {
            panic!("commitlogs still differ after {limit:?}\nslave log:\n{}", slave.log_text());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_is_byte_identical_after_10000_messages_and_catches_up_after_sigkill() {
    let d = tempfile::tempdir().unwrap();
    let ns = common::namesrv(d.path()).await;
    let nsaddr = ns.local_addr().to_string();
    let (mroot, sroot) = (d.path().join("master"), d.path().join("slave"));
    let (mp, mha) = (free_port(), free_port());
    let mut master = BrokerProc::new(
        d.path(),
        "master",
        &mroot,
        mp,
        &conf_text(&mroot, mp, &nsaddr, 0, "ASYNC_MASTER", &format!("haListenPort={mha}")),
    );
    master.start();
    let (sp, sha) = (free_port(), free_port());
    // no haMasterAddress: the slave learns the master's HA address from the name server
    let mut slave = BrokerProc::new(
        d.path(),
        "slave",
        &sroot,
        sp,
        &conf_text(&sroot, sp, &nsaddr, 1, "SLAVE", &format!("haListenPort={sha}")),
    );
    slave.start();

    // one message first: once the slave has it, it replicates from file 0
    send_all(&master.addr(), 0..1, 1).await;
    until_identical(&master, &slave, Duration::from_secs(30)).await;

    let t = Instant::now();
    send_all(&master.addr(), 1..10_000, 16).await;
    let sending = t.elapsed();
    let took = until_identical(&master, &slave, Duration::from_secs(30)).await;
    let bytes: usize = commitlog_files(&master.root).iter().map(|(_, d)| d.len()).sum();
    eprintln!("10,000 messages sent in {sending:?}; slave byte-identical {took:?} after the last ack ({bytes} bytes of files)");
    assert!(took < Duration::from_secs(2), "catch-up took {took:?}");

    // SIGKILL the slave while the master keeps taking writes, restart it meanwhile
    let writer = {
        let addr = master.addr();
        tokio::spawn(async move { send_all(&addr, 10_000..16_000, 8).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    slave.kill9();
    tokio::time::sleep(Duration::from_millis(700)).await;
    slave.start();
    writer.await.unwrap();
    let took = until_identical(&master, &slave, Duration::from_secs(30)).await;
    eprintln!("restarted slave byte-identical {took:?} after the last ack");
    assert!(took < Duration::from_secs(10), "catch-up after restart took {took:?}");

    // the slave built its consume queues from the replicated records: equal to the master's
    master.stop();
    slave.stop();
    assert!(same_commitlog(&master.root, &slave.root));
    for q in 0..4 {
        let rel = format!("consumequeue/{TOPIC}/{q}");
        let (m, s) = (dir_files(&master.root.join(&rel)), dir_files(&slave.root.join(&rel)));
        assert!(!m.is_empty(), "{rel} on the master");
        assert!(same_files(&m, &s), "{rel} differs");
    }
    if std::env::var_os("RMQ_HA_TEST_SHOW_LOGS").is_some() {
        eprintln!("--- master\n{}\n--- slave\n{}", master.log_text(), slave.log_text());
    }
    ns.shutdown().await;
}
