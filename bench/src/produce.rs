//! `produce`: SEND_MESSAGE_V2 load over N connections per broker, sync or async,
//! closed loop or open loop at a fixed rate.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rmq_remoting::transport::{Channel, TransportError};
use rmq_remoting::{RemotingCommand, ResponseCode, SerializeType};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::conn::{bench_client, close_all, connect_all, heartbeat};
use crate::error::{BenchError, Result};
use crate::message::{body_template, write_stamp, SendSpec, Stamp, UniqKeys};
use crate::route::{resolve, Route, RouteSource};
use crate::scheduler::{Limit, Ticket, Tickets};
use crate::stats::{code_key, per_sec, transport_key, LatencySummary, Tally};
use crate::util::{micros, WallClock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendMode {
    /// Each sender waits for its response before the next send.
    Sync,
    /// Each sender keeps up to `async_window` sends outstanding.
    Async,
}

#[derive(Debug, Clone)]
pub struct ProduceConfig {
    pub source: RouteSource,
    pub topic: String,
    pub producer_group: String,
    pub tag: Option<String>,
    /// TCP connections per broker.
    pub connections: usize,
    /// Concurrent senders (spread round-robin over the connections).
    pub threads: usize,
    pub size: usize,
    pub mode: SendMode,
    pub async_window: usize,
    /// Messages per second, open loop; 0 = closed loop.
    pub rate: f64,
    pub limit: Limit,
    pub warmup: Duration,
    pub timeout: Duration,
    pub serialize: SerializeType,
    /// Written into every body so a consumer can pick out this run's messages.
    pub run_id: u64,
    /// Send a producer HEART_BEAT to each broker first (as Java clients do).
    pub heartbeat: bool,
    /// Receives the wall-clock start of measurement (unix µs) before the first send (for `e2e`).
    pub measure_start_out: Option<Arc<AtomicI64>>,
}

impl ProduceConfig {
    pub fn new(source: RouteSource, topic: &str) -> ProduceConfig {
        ProduceConfig {
            source,
            topic: topic.to_string(),
            producer_group: "rmq_bench_producer".into(),
            tag: None,
            connections: 1,
            threads: 4,
            size: 1024,
            mode: SendMode::Sync,
            async_window: 16,
            rate: 0.0,
            limit: Limit::Duration(Duration::from_secs(10)),
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(3),
            serialize: SerializeType::Json,
            run_id: 0,
            heartbeat: true,
            measure_start_out: None,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.connections == 0 || self.threads == 0 || self.async_window == 0 {
            return Err(BenchError::Config("connections, threads and async window must be at least 1".into()));
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            return Err(BenchError::Config(format!("rate must be >= 0, got {}", self.rate)));
        }
        if matches!(self.limit, Limit::Duration(d) if d.is_zero()) || matches!(self.limit, Limit::Count(0)) {
            return Err(BenchError::Config("the run needs a non-zero duration or count".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProduceReport {
    pub kind: String,
    pub target: String,
    pub topic: String,
    pub mode: SendMode,
    pub open_loop: bool,
    pub target_rate: Option<f64>,
    pub connections: usize,
    pub threads: usize,
    pub size: usize,
    pub brokers: usize,
    pub queues: usize,
    pub warmup_secs: f64,
    pub measured_secs: f64,
    /// Measured sends that got an answer or failed (ok + errors).
    pub sent: u64,
    pub ok: u64,
    pub errors: std::collections::BTreeMap<String, u64>,
    pub throughput_msgs_per_sec: f64,
    pub throughput_mib_per_sec: f64,
    /// Successful sends; open loop: from the due time, closed loop: from the send.
    pub latency: LatencySummary,
    /// Open loop: worst delay between a send's due time and its start (client saturation).
    pub max_start_lag_ms: f64,
}

impl ProduceReport {
    pub fn render_text(&self) -> String {
        let loop_kind = match self.target_rate {
            Some(r) => format!("open loop at {r} msg/s"),
            None => "closed loop".into(),
        };
        let mut s = format!(
            "produce {} via {} -> {} broker(s), {} queues | {:?} {} | {} conn(s)/broker, {} senders, {} B | warm-up {:.1} s, measured {:.2} s\n",
            self.topic, self.target, self.brokers, self.queues, self.mode, loop_kind, self.connections, self.threads,
            self.size, self.warmup_secs, self.measured_secs
        );
        s.push_str(&format!(
            "sent {}  ok {}  errors {}\nthroughput {:.1} msg/s ({:.2} MiB/s)\nlatency {}\n",
            self.sent,
            self.ok,
            self.sent - self.ok,
            self.throughput_msgs_per_sec,
            self.throughput_mib_per_sec,
            self.latency.line()
        ));
        if self.open_loop {
            s.push_str(&format!("max start lag {:.3} ms\n", self.max_start_lag_ms));
        }
        for (k, v) in &self.errors {
            s.push_str(&format!("error {k}: {v}\n"));
        }
        s
    }
}

struct Shared {
    spec: SendSpec,
    template: Vec<u8>,
    uniq: UniqKeys,
    route: Route,
    channels: Vec<Vec<Channel>>,
    next_queue: AtomicUsize,
    wall: WallClock,
    run_id: u64,
    timeout: Duration,
}

impl Shared {
    /// Picks the next queue (round-robin, like `selectOneMessageQueue`) and builds its send.
    fn next_send(&self, conn: usize, due: Instant) -> (Channel, RemotingCommand) {
        let i = self.next_queue.fetch_add(1, Ordering::Relaxed);
        let q = self.route.write_queues[i % self.route.write_queues.len()];
        let chans = &self.channels[q.broker];
        let due_micros = self.wall.micros_at(due);
        let mut body = self.template.clone();
        write_stamp(&mut body, Stamp { run_id: self.run_id, sent_micros: due_micros });
        let broker = &self.route.brokers[q.broker].name;
        let cmd = self.spec.request(broker, q.queue_id, due_micros / 1000, &self.uniq.next(), Bytes::from(body));
        (chans[conn % chans.len()].clone(), cmd)
    }
}

type Outcome = std::result::Result<RemotingCommand, TransportError>;

fn record(tally: &mut Tally, ticket: Ticket, began: Instant, outcome: Outcome, done: Instant, size: usize) {
    if !ticket.measured {
        return;
    }
    match outcome {
        Ok(resp) if resp.response_code() == ResponseCode::SUCCESS => {
            tally.record_ok(done - ticket.scheduled.unwrap_or(began), size, done)
        }
        Ok(resp) => tally.record_error(code_key(resp.code), done),
        Err(e) => tally.record_error(transport_key(&e), done),
    }
}

async fn sender(shared: Arc<Shared>, tickets: Arc<Tickets>, id: usize, mode: SendMode, window: usize) -> Tally {
    let mut tally = Tally::default();
    let size = shared.template.len();
    let mut inflight: JoinSet<(Ticket, Instant, Outcome, Instant)> = JoinSet::new();
    loop {
        if mode == SendMode::Async {
            while inflight.len() >= window {
                if let Some(Ok((t, began, out, done))) = inflight.join_next().await {
                    record(&mut tally, t, began, out, done, size);
                }
            }
            while let Some(Ok((t, began, out, done))) = inflight.try_join_next() {
                record(&mut tally, t, began, out, done, size);
            }
        }
        let Some(ticket) = tickets.next().await else { break };
        let began = Instant::now();
        if let Some(due) = ticket.scheduled {
            tally.max_start_lag = tally.max_start_lag.max(began.saturating_duration_since(due));
        }
        let (ch, cmd) = shared.next_send(id, ticket.scheduled.unwrap_or(began));
        let timeout = shared.timeout;
        match mode {
            SendMode::Sync => {
                let out = ch.invoke(cmd, timeout).await;
                record(&mut tally, ticket, began, out, Instant::now(), size);
            }
            SendMode::Async => {
                inflight.spawn(async move {
                    let out = ch.invoke(cmd, timeout).await;
                    (ticket, began, out, Instant::now())
                });
            }
        }
    }
    while let Some(res) = inflight.join_next().await {
        if let Ok((t, began, out, done)) = res {
            record(&mut tally, t, began, out, done, size);
        }
    }
    tally
}

/// Runs one produce benchmark to completion.
pub async fn run(cfg: &ProduceConfig) -> Result<ProduceReport> {
    cfg.validate()?;
    let client = bench_client(cfg.serialize);
    let route = resolve(&client, &cfg.source, &cfg.topic, "write", cfg.timeout).await?;
    let channels = connect_all(&client, &route, cfg.connections).await?;
    if cfg.heartbeat {
        for chans in &channels {
            if let Err(e) = heartbeat(&chans[0], Some(&cfg.producer_group), None, cfg.timeout).await {
                tracing::warn!(error = %e, "producer heartbeat failed; sending anyway");
            }
        }
    }
    let result = drive(cfg, route.clone(), channels.clone()).await;
    close_all(&channels);
    let (tally, measure_start, open_loop) = result?;
    let window = tally.last_done.map(|d| d.saturating_duration_since(measure_start)).unwrap_or_default();
    let sent = tally.ok + tally.error_count();
    Ok(ProduceReport {
        kind: "produce".into(),
        target: match &cfg.source {
            RouteSource::Namesrv(a) => format!("namesrv {a}"),
            RouteSource::Broker { addr, .. } => format!("broker {addr}"),
        },
        topic: cfg.topic.clone(),
        mode: cfg.mode,
        open_loop,
        target_rate: open_loop.then_some(cfg.rate),
        connections: cfg.connections,
        threads: cfg.threads,
        size: cfg.size,
        brokers: route.brokers.len(),
        queues: route.write_queues.len(),
        warmup_secs: cfg.warmup.as_secs_f64(),
        measured_secs: (window.as_secs_f64() * 1000.0).round() / 1000.0,
        sent,
        ok: tally.ok,
        errors: tally.errors.clone(),
        throughput_msgs_per_sec: per_sec(tally.ok, window),
        throughput_mib_per_sec: per_sec(tally.bytes, window) / (1024.0 * 1024.0),
        latency: LatencySummary::of(&tally.hist),
        max_start_lag_ms: micros(tally.max_start_lag) as f64 / 1000.0,
    })
}

async fn drive(cfg: &ProduceConfig, route: Route, channels: Vec<Vec<Channel>>) -> Result<(Tally, Instant, bool)> {
    let shared = Arc::new(Shared {
        spec: SendSpec { producer_group: cfg.producer_group.clone(), topic: cfg.topic.clone(), tag: cfg.tag.clone() },
        template: body_template(cfg.size),
        uniq: UniqKeys::new(),
        route,
        channels,
        next_queue: AtomicUsize::new(0),
        wall: WallClock::new(),
        run_id: cfg.run_id,
        timeout: cfg.timeout,
    });
    let tickets = Arc::new(Tickets::new(cfg.rate, cfg.warmup, cfg.limit)?);
    if let Some(out) = &cfg.measure_start_out {
        out.store(shared.wall.micros_at(tickets.measure_start()), Ordering::Release);
    }
    let pacer = tickets.start_pacer(cfg.threads);
    let mut tasks = JoinSet::new();
    for id in 0..cfg.threads {
        tasks.spawn(sender(shared.clone(), tickets.clone(), id, cfg.mode, cfg.async_window));
    }
    let mut total = Tally::default();
    let mut panicked = None;
    while let Some(res) = tasks.join_next().await {
        match res {
            Ok(t) => total.merge(&t),
            Err(e) => {
                tickets.stop();
                panicked = Some(e.to_string());
            }
        }
    }
    tickets.stop();
    if let Some(p) = pacer {
        let _ = tokio::task::spawn_blocking(move || p.join()).await;
    }
    if let Some(p) = panicked {
        return Err(BenchError::Config(format!("a sender task failed: {p}")));
    }
    Ok((total, tickets.measure_start(), tickets.is_open_loop()))
}
