//! `e2e`: produce open loop at a fixed rate while a long-polling consumer pulls,
//! and report send-to-consume latency of this run's messages (warm-up excluded).
//! The broker bar: p99 under 5 ms at 1,000 msg/s.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::consume::{self, ConsumeConfig, ConsumeReport, RunFilter};
use crate::error::{BenchError, Result};
use crate::produce::{self, ProduceConfig, ProduceReport};
use crate::scheduler::Limit;
use crate::stats::LatencySummary;

#[derive(Debug, Clone)]
pub struct E2eConfig {
    /// Must be open loop (`rate > 0`); its `run_id` is replaced by a fresh one.
    pub produce: ProduceConfig,
    /// Its source/topic should match the producer's; its filter and duration are set here.
    pub consume: ConsumeConfig,
    /// After the last send, wait at most this long for the consumer to catch up.
    pub drain: Duration,
    /// Pass/fail bar on the send-to-consume p99.
    pub bar_p99: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct E2eReport {
    pub kind: String,
    pub rate: f64,
    pub produced: u64,
    pub consumed: u64,
    pub missing: u64,
    /// Send (due time) to consume.
    pub latency: LatencySummary,
    pub bar_p99_ms: Option<f64>,
    pub pass: Option<bool>,
    pub produce: ProduceReport,
    pub consume: ConsumeReport,
}

impl E2eReport {
    pub fn render_text(&self) -> String {
        let mut s = format!(
            "e2e at {} msg/s: produced {}  consumed {}  missing {}\nsend-to-consume {}\n",
            self.rate,
            self.produced,
            self.consumed,
            self.missing,
            self.latency.line()
        );
        if let (Some(bar), Some(pass)) = (self.bar_p99_ms, self.pass) {
            s.push_str(&format!(
                "bar: p99 {:.3} ms < {bar} ms: {}\n",
                self.latency.p99_us as f64 / 1000.0,
                if pass { "PASS" } else { "FAIL" }
            ));
        }
        s.push_str("-- producer --\n");
        s.push_str(&self.produce.render_text());
        s.push_str("-- consumer --\n");
        s.push_str(&self.consume.render_text());
        s
    }
}

fn fresh_run_id() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    (nanos as u64) ^ ((std::process::id() as u64) << 40)
}

pub async fn run(cfg: &E2eConfig) -> Result<E2eReport> {
    if cfg.produce.rate <= 0.0 {
        return Err(BenchError::Config("e2e needs an open-loop rate (> 0 msg/s)".into()));
    }
    let Limit::Duration(measure) = cfg.produce.limit else {
        return Err(BenchError::Config("e2e needs a duration, not a count".into()));
    };
    let run_id = fresh_run_id();
    let min_sent = Arc::new(AtomicI64::new(i64::MAX));
    let mut pcfg = cfg.produce.clone();
    pcfg.run_id = run_id;
    pcfg.measure_start_out = Some(min_sent.clone());
    let mut ccfg = cfg.consume.clone();
    ccfg.filter = Some(RunFilter { run_id, min_sent_micros: min_sent });
    // Hard bound for the consumer: the whole produce run, the drain, and slack for setup.
    ccfg.duration = cfg.produce.warmup + measure + cfg.drain + Duration::from_secs(10);
    ccfg.count = None;

    let consumer = consume::start(&ccfg).await?;
    let produced = match produce::run(&pcfg).await {
        Ok(r) => r,
        Err(e) => {
            consumer.stop();
            let _ = consumer.finish().await;
            return Err(e);
        }
    };
    let drain_end = Instant::now() + cfg.drain;
    while consumer.counted() < produced.ok && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    consumer.stop();
    let consumed = consumer.finish().await?;
    let latency = consumed.latency.clone();
    let bar_p99_ms = cfg.bar_p99.map(|b| b.as_secs_f64() * 1000.0);
    let pass = cfg.bar_p99.map(|b| latency.count > 0 && (latency.p99_us as u128) < b.as_micros());
    Ok(E2eReport {
        kind: "e2e".into(),
        rate: cfg.produce.rate,
        produced: produced.ok,
        consumed: consumed.messages,
        missing: produced.ok.saturating_sub(consumed.messages),
        latency,
        bar_p99_ms,
        pass,
        produce: produced,
        consume: consumed,
    })
}
