//! `consume`: PULL_MESSAGE (11) with long polling on every readable queue, one
//! task per queue, measuring throughput and send-to-consume latency (the bench
//! stamp in the body, µs; else the born timestamp, ms).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::protocol::pull::{pull_sys_flag, PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_remoting::transport::Channel;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode, SerializeType};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::conn::{bench_client, close_all, committed_offset, connect_all, heartbeat, queue_offset};
use crate::error::{BenchError, Result};
use crate::message::{decode_messages, read_stamp};
use crate::route::{resolve, QueueRef, Route, RouteSource};
use crate::stats::{code_key, per_sec, transport_key, LatencySummary, Tally};
use crate::util::unix_micros;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    /// The queue's max offset (only new messages).
    Last,
    /// The queue's min offset (everything retained).
    First,
    /// The group's committed offset, else the max offset.
    Committed,
}

/// Only count messages of one producer run, sent after its warm-up.
#[derive(Debug, Clone)]
pub struct RunFilter {
    pub run_id: u64,
    /// Unix µs; messages stamped earlier are warm-up (set by the producer when it starts).
    pub min_sent_micros: Arc<AtomicI64>,
}

#[derive(Debug, Clone)]
pub struct ConsumeConfig {
    pub source: RouteSource,
    pub topic: String,
    pub group: String,
    pub connections: usize,
    pub batch: i32,
    /// Long-polling hold asked of the broker (Java: 15 s).
    pub suspend: Duration,
    /// Hard end of the run.
    pub duration: Duration,
    /// Stop after this many (counted) messages.
    pub count: Option<u64>,
    pub from: StartFrom,
    pub timeout: Duration,
    pub serialize: SerializeType,
    pub filter: Option<RunFilter>,
    pub heartbeat: bool,
}

impl ConsumeConfig {
    pub fn new(source: RouteSource, topic: &str, group: &str) -> ConsumeConfig {
        ConsumeConfig {
            source,
            topic: topic.to_string(),
            group: group.to_string(),
            connections: 1,
            batch: 32,
            suspend: Duration::from_secs(15),
            duration: Duration::from_secs(30),
            count: None,
            from: StartFrom::Last,
            timeout: Duration::from_secs(3),
            serialize: SerializeType::Json,
            filter: None,
            heartbeat: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumeReport {
    pub kind: String,
    pub topic: String,
    pub group: String,
    pub queues: usize,
    /// From the first to the last counted message.
    pub measured_secs: f64,
    pub messages: u64,
    pub bytes: u64,
    /// Messages skipped by the run filter (other runs, warm-up).
    pub skipped: u64,
    pub pulls: u64,
    pub empty_pulls: u64,
    pub errors: std::collections::BTreeMap<String, u64>,
    pub throughput_msgs_per_sec: f64,
    pub throughput_mib_per_sec: f64,
    /// Send-to-consume latency.
    pub latency: LatencySummary,
    /// Messages timed by the born timestamp (ms resolution) for lack of a bench stamp.
    pub born_timed: u64,
}

impl ConsumeReport {
    pub fn render_text(&self) -> String {
        let mut s = format!(
            "consume {} as {} from {} queues | measured {:.2} s\nmessages {}  skipped {}  pulls {} ({} empty)\nthroughput {:.1} msg/s ({:.2} MiB/s)\nsend-to-consume latency {}\n",
            self.topic, self.group, self.queues, self.measured_secs, self.messages, self.skipped, self.pulls,
            self.empty_pulls, self.throughput_msgs_per_sec, self.throughput_mib_per_sec, self.latency.line()
        );
        if self.born_timed > 0 {
            s.push_str(&format!("{} messages had no bench stamp: timed by born timestamp (ms)\n", self.born_timed));
        }
        for (k, v) in &self.errors {
            s.push_str(&format!("error {k}: {v}\n"));
        }
        s
    }
}

#[derive(Default)]
struct QueueTally {
    tally: Tally,
    first: Option<Instant>,
    skipped: u64,
    pulls: u64,
    empty: u64,
    born_timed: u64,
}

struct Shared {
    cfg: ConsumeConfig,
    route: Route,
    channels: Vec<Vec<Channel>>,
    counted: AtomicU64,
    deadline: tokio::time::Instant,
}

impl Shared {
    fn done(&self) -> bool {
        self.cfg.count.is_some_and(|n| self.counted.load(Ordering::Relaxed) >= n)
    }

    fn pull_request(&self, q: QueueRef, offset: i64, suspend: Duration) -> RemotingCommand {
        let mut sys_flag = pull_sys_flag::SUSPEND | pull_sys_flag::SUBSCRIPTION;
        if offset > 0 {
            sys_flag |= pull_sys_flag::COMMIT_OFFSET;
        }
        let mut cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE);
        PullMessageRequestHeader {
            consumer_group: self.cfg.group.clone(),
            topic: self.cfg.topic.clone(),
            queue_id: q.queue_id,
            queue_offset: offset,
            max_msg_nums: self.cfg.batch,
            sys_flag,
            commit_offset: offset,
            suspend_timeout_millis: suspend.as_millis() as i64,
            subscription: Some("*".into()),
            sub_version: 0,
            expression_type: Some("TAG".into()),
            max_msg_bytes: None,
            request_source: None,
            proxy_froward_client_id: None,
            bname: Some(self.route.brokers[q.broker].name.clone()),
        }
        .apply_to(&mut cmd);
        cmd
    }

    /// Times and counts the messages of one SUCCESS body.
    fn take_messages(&self, body: &[u8], qt: &mut QueueTally) -> Result<()> {
        let now = Instant::now();
        let now_us = unix_micros();
        for m in decode_messages(body)? {
            let stamp = if m.sys_flag & 0x1 == 0 { read_stamp(m.body) } else { None };
            if let Some(f) = &self.cfg.filter {
                match stamp {
                    Some(s) if s.run_id == f.run_id && s.sent_micros >= f.min_sent_micros.load(Ordering::Acquire) => {}
                    _ => {
                        qt.skipped += 1;
                        continue;
                    }
                }
            }
            let sent_us = match stamp {
                Some(s) => s.sent_micros,
                None => {
                    qt.born_timed += 1;
                    m.born_timestamp.saturating_mul(1000)
                }
            };
            let latency = Duration::from_micros(now_us.saturating_sub(sent_us).max(0) as u64);
            qt.tally.record_ok(latency, m.body.len(), now);
            qt.first.get_or_insert(now);
            self.counted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

async fn pull_queue(
    shared: Arc<Shared>,
    q: QueueRef,
    mut offset: i64,
    conn: usize,
    mut stop: watch::Receiver<bool>,
) -> QueueTally {
    let mut qt = QueueTally::default();
    let chans = &shared.channels[q.broker];
    let ch = chans[conn % chans.len()].clone();
    let pause = Duration::from_millis(100);
    while !*stop.borrow() && !shared.done() {
        let remaining = shared.deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            break;
        }
        let suspend = shared.cfg.suspend.min(remaining);
        let cmd = shared.pull_request(q, offset, suspend);
        let resp = tokio::select! {
            r = ch.invoke(cmd, suspend + shared.cfg.timeout) => r,
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(shared.deadline) => break,
        };
        qt.pulls += 1;
        let failed = match resp {
            Ok(resp) => match resp.response_code() {
                ResponseCode::SUCCESS
                | ResponseCode::PULL_NOT_FOUND
                | ResponseCode::PULL_RETRY_IMMEDIATELY
                | ResponseCode::PULL_OFFSET_MOVED => {
                    match PullMessageResponseHeader::from_command(&resp) {
                        Ok(h) => offset = h.next_begin_offset,
                        Err(e) => qt.tally.record_error(format!("bad pull header: {e}"), Instant::now()),
                    }
                    if resp.response_code() == ResponseCode::SUCCESS {
                        if let Err(e) = shared.take_messages(resp.body.as_deref().unwrap_or_default(), &mut qt) {
                            tracing::warn!(queue = q.queue_id, error = %e, "undecodable pull body");
                            qt.tally.record_error("undecodable pull body", Instant::now());
                        }
                    } else {
                        qt.empty += 1;
                    }
                    false
                }
                _ => {
                    qt.tally.record_error(code_key(resp.code), Instant::now());
                    true
                }
            },
            Err(e) => {
                qt.tally.record_error(transport_key(&e), Instant::now());
                if ch.is_closed() {
                    break;
                }
                true
            }
        };
        if failed {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => break,
            }
        }
    }
    qt
}

/// A consumer running in the background.
pub struct ConsumeHandle {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<QueueTally>>,
    heartbeats: Option<JoinHandle<()>>,
}

/// Resolves the route and start offsets, then starts one pull loop per queue.
/// Returns once every queue's first pull is on its way.
pub async fn start(cfg: &ConsumeConfig) -> Result<ConsumeHandle> {
    if cfg.duration.is_zero() || cfg.batch < 1 {
        return Err(BenchError::Config("consume needs a non-zero duration and batch".into()));
    }
    let client = bench_client(cfg.serialize);
    let route = resolve(&client, &cfg.source, &cfg.topic, "read", cfg.timeout).await?;
    let channels = connect_all(&client, &route, cfg.connections).await?;
    if cfg.heartbeat {
        for chans in &channels {
            heartbeat(&chans[0], None, Some((&cfg.group, &cfg.topic)), cfg.timeout).await?;
        }
    }
    let mut offsets = Vec::with_capacity(route.read_queues.len());
    for q in &route.read_queues {
        let ch = &channels[q.broker][0];
        let off = match cfg.from {
            StartFrom::Last => queue_offset(ch, &cfg.topic, q.queue_id, true, cfg.timeout).await?,
            StartFrom::First => queue_offset(ch, &cfg.topic, q.queue_id, false, cfg.timeout).await?,
            StartFrom::Committed => {
                match committed_offset(ch, &cfg.group, &cfg.topic, q.queue_id, cfg.timeout).await? {
                    Some(o) => o,
                    None => queue_offset(ch, &cfg.topic, q.queue_id, true, cfg.timeout).await?,
                }
            }
        };
        offsets.push(off);
    }
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        route: route.clone(),
        channels,
        counted: AtomicU64::new(0),
        deadline: tokio::time::Instant::now() + cfg.duration,
    });
    let (stop, stop_rx) = watch::channel(false);
    let tasks = route
        .read_queues
        .iter()
        .zip(offsets)
        .enumerate()
        .map(|(i, (q, off))| tokio::spawn(pull_queue(shared.clone(), *q, off, i, stop_rx.clone())))
        .collect();
    let heartbeats = cfg.heartbeat.then(|| tokio::spawn(keep_heartbeating(shared.clone(), stop_rx)));
    // Let the first pulls reach the broker before a producer starts.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(ConsumeHandle { shared, stop, tasks, heartbeats })
}

/// Java consumers heartbeat every 30 s; brokers drop silent ones after 120 s.
async fn keep_heartbeating(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(20)) => {}
            _ = stop.changed() => return,
            _ = tokio::time::sleep_until(shared.deadline) => return,
        }
        for chans in &shared.channels {
            let c = &shared.cfg;
            if let Err(e) = heartbeat(&chans[0], None, Some((&c.group, &c.topic)), c.timeout).await {
                tracing::warn!(error = %e, "consumer heartbeat failed");
            }
        }
    }
}

impl ConsumeHandle {
    /// Messages counted so far (after the run filter).
    pub fn counted(&self) -> u64 {
        self.shared.counted.load(Ordering::Relaxed)
    }

    /// Asks every pull loop to end; outstanding long polls are abandoned.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits for the loops (they end by stop, count or deadline) and reports.
    pub async fn finish(self) -> Result<ConsumeReport> {
        let mut total = QueueTally::default();
        for t in self.tasks {
            let qt = t.await.map_err(|e| BenchError::Config(format!("a pull task failed: {e}")))?;
            total.tally.merge(&qt.tally);
            total.first = match (total.first, qt.first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            total.skipped += qt.skipped;
            total.pulls += qt.pulls;
            total.empty += qt.empty;
            total.born_timed += qt.born_timed;
        }
        let _ = self.stop.send(true);
        if let Some(h) = self.heartbeats {
            let _ = h.await;
        }
        close_all(&self.shared.channels);
        let window = match (total.first, total.tally.last_done) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            _ => Duration::ZERO,
        };
        let t = &total.tally;
        Ok(ConsumeReport {
            kind: "consume".into(),
            topic: self.shared.cfg.topic.clone(),
            group: self.shared.cfg.group.clone(),
            queues: self.shared.route.read_queues.len(),
            measured_secs: (window.as_secs_f64() * 1000.0).round() / 1000.0,
            messages: t.ok,
            bytes: t.bytes,
            skipped: total.skipped,
            pulls: total.pulls,
            empty_pulls: total.empty,
            errors: t.errors.clone(),
            throughput_msgs_per_sec: per_sec(t.ok, window),
            throughput_mib_per_sec: per_sec(t.bytes, window) / (1024.0 * 1024.0),
            latency: LatencySummary::of(&t.hist),
            born_timed: total.born_timed,
        })
    }
}

/// Consumes until the duration (or count) is reached.
pub async fn run(cfg: &ConsumeConfig) -> Result<ConsumeReport> {
    start(cfg).await?.finish().await
}
