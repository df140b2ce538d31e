//! consume / e2e (against the ceiling's --retain memory), compare, registration with a
//! real name server, and the idle-resource helpers.

mod common;

use std::time::Duration;

use rmq_bench::ceiling::{CeilingConfig, CeilingServer};
use rmq_bench::compare::{self, CeilingTarget, CompareConfig, CompareReport};
use rmq_bench::consume::{self, ConsumeConfig, StartFrom};
use rmq_bench::e2e::{self, E2eConfig};
use rmq_bench::produce;
use rmq_bench::route::RouteSource;
use rmq_bench::scheduler::Limit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_reads_back_what_was_produced() {
    let server = common::ceiling(1000).await;
    let addr = server.local_addr().to_string();
    let mut p = common::produce_cfg(&addr, "RetainT");
    p.limit = Limit::Count(120);
    assert_eq!(produce::run(&p).await.unwrap().ok, 120);
    let c = ConsumeConfig {
        from: StartFrom::First,
        duration: Duration::from_secs(10),
        count: Some(120),
        ..ConsumeConfig::new(RouteSource::Namesrv(addr), "RetainT", "bench_group")
    };
    let r = consume::run(&c).await.unwrap();
    assert_eq!(r.messages, 120, "{r:?}");
    assert_eq!(r.bytes, 120 * 1024);
    assert_eq!(r.born_timed, 0, "every body carries the bench stamp");
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.latency.count, 120);
    assert!(r.latency.p50_us <= r.latency.max_us);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_long_polls_every_message_of_the_run() {
    let server = common::ceiling(10_000).await;
    let addr = server.local_addr().to_string();
    let source = RouteSource::Namesrv(addr.clone());
    // Old messages of another run on the topic must not be counted.
    let mut old = common::produce_cfg(&addr, "E2eT");
    old.limit = Limit::Count(10);
    produce::run(&old).await.unwrap();
    let mut p = common::produce_cfg(&addr, "E2eT");
    p.rate = 200.0;
    p.warmup = Duration::from_millis(200);
    let cfg = E2eConfig {
        produce: p,
        consume: ConsumeConfig { suspend: Duration::from_secs(2), ..ConsumeConfig::new(source, "E2eT", "e2e_group") },
        drain: Duration::from_secs(3),
        bar_p99: Some(Duration::from_secs(2)),
    };
    let r = e2e::run(&cfg).await.unwrap();
    assert_eq!(r.produced, 200, "{r:?}");
    assert_eq!(r.consumed, 200, "{r:?}");
    assert_eq!(r.missing, 0);
    assert_eq!(r.consume.skipped, 40, "the 40 warm-up messages are skipped");
    assert_eq!(r.latency.count, 200);
    assert_eq!(r.pass, Some(true), "{}", r.render_text());
    let v: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(v["kind"], "e2e");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_with_the_ceiling_on_both_sides() {
    // The "target" is an in-process ceiling; the reference ceiling is a child process.
    let target = common::ceiling(0).await;
    let base = produce::ProduceConfig {
        limit: Limit::Duration(Duration::from_secs(1)),
        warmup: Duration::from_millis(200),
        ..produce::ProduceConfig::new(RouteSource::Namesrv(String::new()), "CmpT")
    };
    let cfg = CompareConfig {
        base,
        target: RouteSource::Namesrv(target.local_addr().to_string()),
        ceiling: CeilingTarget::Spawn { exe: env!("CARGO_BIN_EXE_rmq-bench").into(), queues: 4 },
        connection_counts: vec![2, 4],
        threads_per_connection: 2,
        rounds: 1,
    };
    let r = compare::run(&cfg).await.unwrap();
    assert_eq!(r.rows.len(), 2);
    assert_eq!((r.rows[0].connections, r.rows[0].threads, r.rows[1].threads), (2, 4, 8));
    for row in &r.rows {
        assert!(row.ceiling_msgs_per_sec > 0.0 && row.target_msgs_per_sec > 0.0, "{row:?}");
        assert!(row.ratio > 0.0);
        assert_eq!(row.target.sent, row.target.ok);
    }
    assert!(r.render_text().contains("ratio"));
    assert!(target.shutdown().await.sends > 0);

    // The CLI: same machinery against an address, one JSON object.
    let target = common::ceiling(0).await;
    let addr = target.local_addr().to_string();
    let out = common::bench_cli(&[
        "compare",
        "--target-namesrv",
        &addr,
        "--connections",
        "2,3",
        "--duration",
        "500ms",
        "--warmup",
        "0s",
        "--rounds",
        "2",
        "--json",
    ])
    .await;
    let r: CompareReport = serde_json::from_value(common::json(&out)).unwrap();
    assert_eq!(r.rows.iter().map(|r| r.connections).collect::<Vec<_>>(), [2, 3]);
    for row in &r.rows {
        assert_eq!((row.ceiling_samples.len(), row.target_samples.len()), (2, 2));
        assert!(row.target_samples.contains(&row.target_msgs_per_sec), "the median is one of the samples");
    }
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceiling_registers_with_a_real_name_server() {
    let dir = tempfile::tempdir().unwrap();
    let ns = rmq_namesrv::NameServer::start(rmq_namesrv::NamesrvSettings::for_test(dir.path())).await.unwrap();
    let ns_addr = ns.local_addr().to_string();
    let cfg = CeilingConfig {
        register: Some(ns_addr.clone()),
        topics: vec!["RegT".into()],
        queues: 3,
        broker_name: "ceiling-x".into(),
        ..CeilingConfig::new("127.0.0.1:0".parse().unwrap())
    };
    let server = CeilingServer::start(&cfg).await.unwrap();
    // The route now comes from the real name server and points at the ceiling.
    let r = produce::run(&common::produce_cfg(&ns_addr, "RegT")).await.unwrap();
    assert_eq!((r.brokers, r.queues), (1, 3));
    assert!(r.ok > 0 && r.errors.is_empty(), "{r:?}");
    // A topic the name server does not know: producers fall back to TBW102 like Java,
    // consumers have nothing to pull.
    let mut p = common::produce_cfg(&ns_addr, "NotRegisteredT");
    p.limit = Limit::Count(10);
    let r2 = produce::run(&p).await.unwrap();
    assert_eq!((r2.ok, r2.queues), (10, 3));
    let c = ConsumeConfig::new(RouteSource::Namesrv(ns_addr.clone()), "NotRegisteredT", "g");
    let err = consume::run(&c).await.unwrap_err();
    assert!(matches!(err, rmq_bench::BenchError::TopicNotFound { .. }), "{err}");
    let stats = server.shutdown().await;
    assert_eq!(stats.routes, 0, "routes were answered by the name server");
    assert!(stats.sends >= r.ok + 10);
    ns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_and_rss_helpers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let exe = env!("CARGO_BIN_EXE_rmq-bench");
    let out = common::bench_cli(&[
        "startup",
        "--addr",
        &addr,
        "--settle",
        "200ms",
        "--json",
        "--",
        exe,
        "ceiling",
        "--listen",
        &addr,
        "--duration",
        "20s",
    ])
    .await;
    let v = common::json(&out);
    let ms = v["startup_ms"].as_f64().unwrap();
    assert!(ms > 0.0 && ms < 20_000.0, "{v}");
    assert!(v["rss_after_settle"]["vm_rss_kib"].as_u64().unwrap() > 0, "{v}");
    // The daemon was stopped again: the port is free.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(std::net::TcpStream::connect(&addr).is_err(), "daemon still running");

    let out = common::bench_cli(&["rss", "--pid", &std::process::id().to_string(), "--json"]).await;
    assert!(common::json(&out)["vm_rss_kib"].as_u64().unwrap() > 0);
    let text = common::bench_cli(&["rss", "--pid", &std::process::id().to_string()]).await;
    assert!(text.contains("VmRSS"), "{text}");
}
