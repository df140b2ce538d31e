//! Shared helpers: an in-process ceiling server and the built binary.

#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

use rmq_bench::ceiling::{CeilingConfig, CeilingServer};
use rmq_bench::produce::ProduceConfig;
use rmq_bench::route::RouteSource;
use rmq_bench::scheduler::Limit;

pub async fn ceiling(retain: usize) -> CeilingServer {
    let cfg = CeilingConfig { retain, queues: 4, ..CeilingConfig::new("127.0.0.1:0".parse().unwrap()) };
    CeilingServer::start(&cfg).await.expect("ceiling server starts")
}

/// A short closed-loop produce against `namesrv` (a ceiling server answers routes too).
pub fn produce_cfg(namesrv: &str, topic: &str) -> ProduceConfig {
    ProduceConfig {
        connections: 2,
        threads: 4,
        limit: Limit::Duration(Duration::from_secs(1)),
        warmup: Duration::ZERO,
        ..ProduceConfig::new(RouteSource::Namesrv(namesrv.to_string()), topic)
    }
}

/// Runs the built `rmq-bench` with `args`; returns stdout, failing the test on a non-zero exit.
pub async fn bench_cli(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || Command::new(env!("CARGO_BIN_EXE_rmq-bench")).args(&args).output())
        .await
        .unwrap()
        .expect("rmq-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "rmq-bench failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Parses the one JSON object `--json` prints.
pub fn json(stdout: &str) -> serde_json::Value {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in {stdout:?}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
}
