//! `compare`: in one run, the same produce settings against the protocol ceiling
//! (a `rmq-bench ceiling` child process, or a given address) and against a target,
//! at each connection count; prints both throughputs and target/ceiling.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::error::{BenchError, Result};
use crate::produce::{self, ProduceConfig, ProduceReport};
use crate::route::RouteSource;
use crate::scheduler::Limit;
use crate::util::check_loopback;

/// Where the ceiling runs.
#[derive(Debug, Clone)]
pub enum CeilingTarget {
    /// Start `exe ceiling --listen 127.0.0.1:0` as a child process for the run.
    Spawn { exe: PathBuf, queues: i32 },
    /// An already running ceiling server (it answers route requests itself).
    Addr(String),
}

#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// Client settings shared by both sides; `source` and `connections`/`threads` are set per run.
    pub base: ProduceConfig,
    pub target: RouteSource,
    pub ceiling: CeilingTarget,
    pub connection_counts: Vec<usize>,
    /// Senders per connection (threads = connections x this).
    pub threads_per_connection: usize,
    /// Repeat the whole interleaved sequence this many times; rows report medians.
    pub rounds: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    pub connections: usize,
    pub threads: usize,
    pub ceiling_msgs_per_sec: f64,
    pub target_msgs_per_sec: f64,
    /// target / ceiling (medians over the rounds).
    pub ratio: f64,
    /// Throughput of each round.
    pub ceiling_samples: Vec<f64>,
    pub target_samples: Vec<f64>,
    /// The median round's full reports.
    pub ceiling: ProduceReport,
    pub target: ProduceReport,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    pub kind: String,
    pub ceiling_addr: String,
    pub target: String,
    pub size: usize,
    pub rows: Vec<CompareRow>,
}

impl CompareReport {
    pub fn render_text(&self) -> String {
        let rounds = self.rows.first().map_or(0, |r| r.ceiling_samples.len());
        let mut s = format!(
            "compare: ceiling {} vs target {} ({} B messages, {} round(s), medians)\n",
            self.ceiling_addr, self.target, self.size, rounds
        );
        s.push_str(
            "conns  senders  ceiling msg/s  target msg/s  ratio   ceiling p99 ms  target p99 ms  target errors\n",
        );
        for r in &self.rows {
            s.push_str(&format!(
                "{:>5}  {:>7}  {:>13.1}  {:>12.1}  {:>5.3}  {:>14.3}  {:>13.3}  {:>13}\n",
                r.connections,
                r.threads,
                r.ceiling_msgs_per_sec,
                r.target_msgs_per_sec,
                r.ratio,
                r.ceiling.latency.p99_us as f64 / 1000.0,
                r.target.latency.p99_us as f64 / 1000.0,
                r.target.sent - r.target.ok
            ));
        }
        if rounds > 1 {
            for r in &self.rows {
                let fmt = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ");
                s.push_str(&format!(
                    "{} conns samples: ceiling [{}]  target [{}]\n",
                    r.connections,
                    fmt(&r.ceiling_samples),
                    fmt(&r.target_samples)
                ));
            }
        }
        s
    }
}

/// A ceiling child process, stopped (SIGINT, then SIGKILL) when dropped or finished.
struct CeilingChild {
    child: Child,
}

impl CeilingChild {
    async fn spawn(exe: &PathBuf, queues: i32, lifetime: Duration) -> Result<(CeilingChild, String)> {
        let mut child = Command::new(exe)
            .args(["ceiling", "--listen", "127.0.0.1:0", "--queues", &queues.to_string()])
            .args(["--duration", &format!("{}s", lifetime.as_secs().max(1))])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::io(format!("start {} ceiling", exe.display()), e))?;
        let stdout = child.stdout.take().ok_or_else(|| BenchError::Startup("ceiling child has no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .map_err(|_| BenchError::Startup("ceiling child did not announce its address within 10 s".into()))?
            .map_err(|e| BenchError::io("read ceiling child output", e))?
            .ok_or_else(|| BenchError::Startup("ceiling child exited before announcing its address".into()))?;
        let addr =
            parse_announce(&line).ok_or_else(|| BenchError::Startup(format!("unexpected ceiling output {line:?}")))?;
        // Keep draining its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((CeilingChild { child }, addr))
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: signalling our own child process by its pid.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGINT);
            }
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// The address in `rmq-bench ceiling listening on 127.0.0.1:PORT`.
pub fn parse_announce(line: &str) -> Option<String> {
    let addr = line.trim().strip_prefix(ANNOUNCE_PREFIX)?.trim();
    addr.parse::<std::net::SocketAddr>().ok().map(|a| a.to_string())
}

/// First stdout line of `rmq-bench ceiling`.
pub const ANNOUNCE_PREFIX: &str = "rmq-bench ceiling listening on ";

pub async fn run(cfg: &CompareConfig) -> Result<CompareReport> {
    if cfg.connection_counts.is_empty() || cfg.threads_per_connection == 0 {
        return Err(BenchError::Config(
            "compare needs connection counts and at least one sender per connection".into(),
        ));
    }
    let per_run = cfg.base.warmup
        + match cfg.base.limit {
            Limit::Duration(d) => d,
            Limit::Count(_) => Duration::from_secs(120),
        };
    let runs = (cfg.connection_counts.len() * cfg.rounds.max(1)) as u32;
    let lifetime = (per_run + Duration::from_secs(10)) * runs + Duration::from_secs(30);
    let (child, ceiling_addr) = match &cfg.ceiling {
        CeilingTarget::Spawn { exe, queues } => {
            let (c, a) = CeilingChild::spawn(exe, *queues, lifetime).await?;
            (Some(c), a)
        }
        CeilingTarget::Addr(a) => {
            check_loopback(a)?;
            (None, a.clone())
        }
    };
    let result = measure_all(cfg, &ceiling_addr).await;
    if let Some(c) = child {
        c.stop().await;
    }
    let rows = result?;
    Ok(CompareReport {
        kind: "compare".into(),
        ceiling_addr,
        target: match &cfg.target {
            RouteSource::Namesrv(a) => format!("namesrv {a}"),
            RouteSource::Broker { addr, .. } => format!("broker {addr}"),
        },
        size: cfg.base.size,
        rows,
    })
}

/// The report with the median throughput (upper median for an even count).
fn median(mut reports: Vec<ProduceReport>) -> ProduceReport {
    reports.sort_by(|a, b| a.throughput_msgs_per_sec.total_cmp(&b.throughput_msgs_per_sec));
    let mid = reports.len() / 2;
    reports.swap_remove(mid)
}

async fn measure_all(cfg: &CompareConfig, ceiling_addr: &str) -> Result<Vec<CompareRow>> {
    let counts = &cfg.connection_counts;
    let mut ceilings: Vec<Vec<ProduceReport>> = vec![Vec::new(); counts.len()];
    let mut targets: Vec<Vec<ProduceReport>> = vec![Vec::new(); counts.len()];
    // Interleaved (ceiling, target) per connection count and round, so drift and
    // neighbours on the machine hit both sides alike.
    for _ in 0..cfg.rounds.max(1) {
        for (i, &n) in counts.iter().enumerate() {
            let mut run_cfg = cfg.base.clone();
            run_cfg.connections = n;
            run_cfg.threads = n * cfg.threads_per_connection;
            let ceiling = RouteSource::Namesrv(ceiling_addr.to_string());
            ceilings[i].push(produce::run(&ProduceConfig { source: ceiling, ..run_cfg.clone() }).await?);
            targets[i].push(produce::run(&ProduceConfig { source: cfg.target.clone(), ..run_cfg }).await?);
        }
    }
    let mut rows = Vec::new();
    for ((&n, c), t) in counts.iter().zip(ceilings).zip(targets) {
        let ceiling_samples: Vec<f64> = c.iter().map(|r| r.throughput_msgs_per_sec).collect();
        let target_samples: Vec<f64> = t.iter().map(|r| r.throughput_msgs_per_sec).collect();
        let (ceiling, target) = (median(c), median(t));
        let ratio = if ceiling.throughput_msgs_per_sec > 0.0 {
            ((target.throughput_msgs_per_sec / ceiling.throughput_msgs_per_sec) * 1000.0).round() / 1000.0
        } else {
            0.0
        };
        rows.push(CompareRow {
            connections: n,
            threads: n * cfg.threads_per_connection,
            ceiling_msgs_per_sec: ceiling.throughput_msgs_per_sec,
            target_msgs_per_sec: target.throughput_msgs_per_sec,
            ratio,
            ceiling_samples,
            target_samples,
            ceiling,
            target,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announce_line() {
        assert_eq!(
            parse_announce("rmq-bench ceiling listening on 127.0.0.1:4321\n").as_deref(),
            Some("127.0.0.1:4321")
        );
        assert_eq!(parse_announce("something else"), None);
    }
}
