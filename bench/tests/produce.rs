//! `produce` against the ceiling server on 127.0.0.1:0: counts, percentiles, JSON, errors.

mod common;

use std::sync::Arc;
use std::time::Duration;

use rmq_bench::produce::{self, ProduceReport, SendMode};
use rmq_bench::route::RouteSource;
use rmq_bench::scheduler::Limit;
use rmq_remoting::transport::{BoxFuture, Channel, RequestHandler, Server, ServerConfig};
use rmq_remoting::{RemotingCommand, ResponseCode};

fn assert_sane(r: &ProduceReport) {
    let l = &r.latency;
    assert!(r.ok > 0, "{r:?}");
    assert_eq!(l.count, r.ok);
    assert!(l.min_us >= 1 && l.min_us <= l.p50_us, "{l:?}");
    assert!(l.p50_us <= l.p90_us && l.p90_us <= l.p99_us && l.p99_us <= l.p999_us && l.p999_us <= l.max_us, "{l:?}");
    // Loopback, canned answers: even a debug build on a busy 2-core box answers within seconds.
    assert!(l.max_us < 3_000_000, "{l:?}");
    assert!(r.throughput_msgs_per_sec > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_sync_one_second() {
    let server = common::ceiling(0).await;
    let addr = server.local_addr().to_string();
    let r = produce::run(&common::produce_cfg(&addr, "BenchT")).await.unwrap();
    assert_sane(&r);
    assert_eq!(r.sent, r.ok);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!((r.brokers, r.queues, r.connections, r.threads), (1, 4, 2, 4));
    assert!((0.9..4.0).contains(&r.measured_secs), "measured {}", r.measured_secs);
    let expected_rate = r.ok as f64 / r.measured_secs;
    assert!((r.throughput_msgs_per_sec - expected_rate).abs() / expected_rate < 0.01);
    let stats = server.shutdown().await;
    assert!(stats.sends >= r.ok, "server saw {} sends, client counted {}", stats.sends, r.ok);
    assert_eq!(stats.routes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_sends_exactly_the_schedule() {
    let server = common::ceiling(0).await;
    let mut cfg = common::produce_cfg(&server.local_addr().to_string(), "BenchT");
    cfg.rate = 400.0;
    cfg.warmup = Duration::from_millis(250);
    let r = produce::run(&cfg).await.unwrap();
    assert_sane(&r);
    assert!(r.open_loop);
    assert_eq!(r.target_rate, Some(400.0));
    assert_eq!(r.sent, 400, "1 s at 400 msg/s after the warm-up");
    assert_eq!(r.ok, 400);
    assert!((150.0..600.0).contains(&r.throughput_msgs_per_sec), "{}", r.throughput_msgs_per_sec);
    let stats = server.shutdown().await;
    assert_eq!(stats.sends, 500, "100 warm-up + 400 measured sends reached the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_limit_and_async_mode() {
    let server = common::ceiling(0).await;
    let mut cfg = common::produce_cfg(&server.local_addr().to_string(), "BenchT");
    cfg.limit = Limit::Count(300);
    cfg.mode = SendMode::Async;
    cfg.async_window = 8;
    cfg.serialize = rmq_remoting::SerializeType::RocketMq;
    let r = produce::run(&cfg).await.unwrap();
    assert_sane(&r);
    assert_eq!((r.sent, r.ok), (300, 300));
    assert_eq!(server.shutdown().await.sends, 300);
}

/// Answers every request with SYSTEM_BUSY, like an overloaded broker.
struct Busy;

impl RequestHandler for Busy {
    fn handle(&self, _ch: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        let resp = RemotingCommand::response_to(&req, ResponseCode::SYSTEM_BUSY, Some("busy".into()));
        Box::pin(std::future::ready(Some(resp)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_counted_by_response_code() {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), ServerConfig::default(), Arc::new(Busy)).await.unwrap();
    let source = RouteSource::Broker { addr: server.local_addr().to_string(), name: "busy".into(), queues: 2 };
    let mut cfg = common::produce_cfg("unused:1", "BenchT");
    cfg.source = source;
    cfg.limit = Limit::Count(50);
    let r = produce::run(&cfg).await.unwrap();
    assert_eq!((r.sent, r.ok), (50, 0));
    assert_eq!(r.errors.get("SYSTEM_BUSY(2)"), Some(&50), "{:?}", r.errors);
    assert_eq!(r.latency.count, 0);
    assert_eq!(r.throughput_msgs_per_sec, 0.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_targets_are_refused() {
    let cfg = common::produce_cfg("192.0.2.1:9876", "BenchT");
    let err = produce::run(&cfg).await.unwrap_err();
    assert!(matches!(err, rmq_bench::BenchError::NonLoopback(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_json_is_one_parseable_object() {
    let server = common::ceiling(0).await;
    let addr = server.local_addr().to_string();
    let out = common::bench_cli(&[
        "produce",
        "--namesrv",
        &addr,
        "--topic",
        "BenchT",
        "--connections",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--json",
    ])
    .await;
    assert_eq!(out.lines().count(), 1, "{out}");
    let v = common::json(&out);
    let r: ProduceReport = serde_json::from_value(v.clone()).unwrap();
    assert_sane(&r);
    assert_eq!(v["kind"], "produce");
    assert_eq!(v["mode"], "sync");
    assert!(v["latency"]["p999_us"].as_u64().unwrap() >= v["latency"]["p99_us"].as_u64().unwrap());
    // Text mode prints the same numbers for people.
    let text =
        common::bench_cli(&["produce", "--namesrv", &addr, "--topic", "BenchT", "--count", "20", "--warmup", "0s"])
            .await;
    assert!(text.contains("sent 20  ok 20  errors 0"), "{text}");
    assert!(text.contains("p99.9"), "{text}");
    server.shutdown().await;
}
