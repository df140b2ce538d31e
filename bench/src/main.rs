//! `rmq-bench`: flag parsing only; everything else is in the library.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rmq_bench::ceiling::{self, CeilingConfig};
use rmq_bench::compare::{self, CeilingTarget, CompareConfig, ANNOUNCE_PREFIX};
use rmq_bench::consume::{self, ConsumeConfig, StartFrom};
use rmq_bench::e2e::{self, E2eConfig};
use rmq_bench::produce::{self, ProduceConfig, SendMode};
use rmq_bench::route::RouteSource;
use rmq_bench::scheduler::Limit;
use rmq_bench::sysinfo::{self, StartupConfig};
use rmq_bench::topic::{self, CreateTopicConfig};
use rmq_bench::util::parse_duration;
use rmq_remoting::SerializeType;

#[derive(Parser)]
#[command(
    name = "rmq-bench",
    version,
    about = "RocketMQ remoting load tool and protocol-ceiling server (loopback only)"
)]
struct Cli {
    /// Tokio worker threads (default: one per core).
    #[arg(long, global = true)]
    workers: Option<usize>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Send messages (SEND_MESSAGE_V2) and report throughput and latency percentiles.
    Produce(ProduceArgs),
    /// Pull with long polling from every queue; report throughput and send-to-consume latency.
    Consume(ConsumeArgs),
    /// Produce at a fixed rate while consuming; report send-to-consume latency.
    E2e(E2eArgs),
    /// Serve canned SUCCESS send responses (and routes): the protocol ceiling.
    Ceiling(CeilingArgs),
    /// Ceiling vs a target broker, same client settings, at several connection counts.
    Compare(CompareArgs),
    /// Resident memory of a process (/proc/PID/status VmRSS).
    Rss(RssArgs),
    /// Start a daemon, time its first accepted connection, read its idle RSS, stop it.
    Startup(StartupArgs),
    /// Create a topic on one broker (UPDATE_AND_CREATE_TOPIC) and wait for its name-server route.
    CreateTopic(CreateTopicArgs),
}

#[derive(Args, Clone)]
struct TargetArgs {
    /// Name server (or ceiling server) to resolve the topic route from.
    #[arg(long, default_value = "127.0.0.1:9876", conflicts_with = "broker")]
    namesrv: String,
    /// Talk to this broker directly instead of resolving a route.
    #[arg(long)]
    broker: Option<String>,
    /// Broker name sent with requests (direct --broker mode).
    #[arg(long, default_value = "broker-a")]
    broker_name: String,
    /// Queues to use (direct --broker mode).
    #[arg(long, default_value_t = 8)]
    queues: i32,
    #[arg(long)]
    topic: String,
    /// Request timeout.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    timeout: Duration,
    #[arg(long, value_enum, default_value_t = Serialize::Json)]
    serialize: Serialize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

impl TargetArgs {
    fn source(&self) -> RouteSource {
        match &self.broker {
            Some(addr) => {
                RouteSource::Broker { addr: addr.clone(), name: self.broker_name.clone(), queues: self.queues }
            }
            None => RouteSource::Namesrv(self.namesrv.clone()),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Serialize {
    Json,
    Rocketmq,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Sync,
    Async,
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// TCP connections per broker.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// In-flight senders (default: 4 per connection).
    #[arg(long)]
    threads: Option<usize>,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    #[arg(long, value_enum, default_value_t = Mode::Sync)]
    mode: Mode,
    /// Async mode: outstanding sends per sender.
    #[arg(long, default_value_t = 16)]
    async_window: usize,
    #[arg(long, default_value = "rmq_bench_producer")]
    producer_group: String,
    #[arg(long)]
    tag: Option<String>,
    /// Skip the producer HEART_BEAT.
    #[arg(long)]
    no_heartbeat: bool,
}

#[derive(Args)]
struct ProduceArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    load: LoadArgs,
    /// Open loop: messages per second (latency measured from each send's due time); 0 = closed loop.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Measured time after the warm-up.
    #[arg(long, default_value = "30s", value_parser = parse_duration, conflicts_with = "count")]
    duration: Duration,
    /// Measured sends after the warm-up (instead of --duration).
    #[arg(long)]
    count: Option<u64>,
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    warmup: Duration,
}

#[derive(Args)]
struct ConsumeArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[arg(long)]
    group: String,
    /// Hard end of the run.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop earlier after this many messages.
    #[arg(long)]
    count: Option<u64>,
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// maxMsgNums per pull.
    #[arg(long, default_value_t = 32)]
    batch: i32,
    /// Long-polling hold asked of the broker.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    suspend: Duration,
    #[arg(long, value_enum, default_value_t = From::Last)]
    from: From,
}

#[derive(Clone, Copy, ValueEnum)]
enum From {
    Last,
    First,
    Committed,
}

#[derive(Args)]
struct E2eArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    load: LoadArgs,
    #[arg(long, default_value = "rmq_bench_e2e")]
    group: String,
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    warmup: Duration,
    /// After the last send, wait at most this long for the consumer.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    drain: Duration,
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    suspend: Duration,
    /// Pass/fail bar for the send-to-consume p99.
    #[arg(long, default_value = "5ms", value_parser = parse_duration)]
    bar_p99: Duration,
}

#[derive(Args)]
struct CeilingArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Read/write queues announced per topic.
    #[arg(long, default_value_t = 8)]
    queues: i32,
    #[arg(long, default_value = "ceiling-broker")]
    broker_name: String,
    #[arg(long, default_value = "DefaultCluster")]
    cluster: String,
    /// Also register with this name server (REGISTER_BROKER, connection kept open).
    #[arg(long)]
    register: Option<String>,
    /// Topics to register (comma separated).
    #[arg(long, value_delimiter = ',')]
    topics: Vec<String>,
    /// Keep the last N messages per queue and serve PULL_MESSAGE (not the ceiling; for testing consumers).
    #[arg(long, default_value_t = 0)]
    retain: usize,
    /// Stop serving after this long.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    duration: Duration,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CompareArgs {
    /// The target's name server.
    #[arg(long, conflicts_with = "target_broker", required_unless_present = "target_broker")]
    target_namesrv: Option<String>,
    /// The target broker, addressed directly.
    #[arg(long)]
    target_broker: Option<String>,
    #[arg(long, default_value = "broker-a")]
    broker_name: String,
    /// Queues used on a direct --target-broker.
    #[arg(long, default_value_t = 8)]
    queues: i32,
    #[arg(long, default_value = "BenchTopic")]
    topic: String,
    /// A running ceiling server; default: start `rmq-bench ceiling` as a child process.
    #[arg(long)]
    ceiling_addr: Option<String>,
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    connections: Vec<usize>,
    #[arg(long, default_value_t = 4)]
    threads_per_connection: usize,
    /// Repeat the interleaved runs this many times and report medians (shared machines are noisy).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    #[arg(long, default_value_t = 1024)]
    size: usize,
    #[arg(long, value_enum, default_value_t = Mode::Sync)]
    mode: Mode,
    #[arg(long, default_value_t = 16)]
    async_window: usize,
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    timeout: Duration,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RssArgs {
    #[arg(long)]
    pid: u32,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct StartupArgs {
    /// Loopback address the daemon listens on.
    #[arg(long, default_value = "127.0.0.1:9876")]
    addr: String,
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Wait after the first accept before reading RSS.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    settle: Duration,
    #[arg(long)]
    show_output: bool,
    #[arg(long)]
    json: bool,
    /// The daemon command line.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Args)]
struct CreateTopicArgs {
    /// The broker to create the topic on.
    #[arg(long)]
    broker: String,
    #[arg(long)]
    topic: String,
    /// Read and write queues.
    #[arg(long, default_value_t = 8)]
    queues: i32,
    /// Wait until this name server routes the topic to the broker.
    #[arg(long)]
    namesrv: Option<String>,
    /// How long to wait for the route.
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    wait: Duration,
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    timeout: Duration,
    #[arg(long)]
    json: bool,
}

fn serialize_type(s: Serialize) -> SerializeType {
    match s {
        Serialize::Json => SerializeType::Json,
        Serialize::Rocketmq => SerializeType::RocketMq,
    }
}

fn send_mode(m: Mode) -> SendMode {
    match m {
        Mode::Sync => SendMode::Sync,
        Mode::Async => SendMode::Async,
    }
}

fn produce_config(t: &TargetArgs, l: &LoadArgs, rate: f64, limit: Limit, warmup: Duration) -> ProduceConfig {
    ProduceConfig {
        producer_group: l.producer_group.clone(),
        tag: l.tag.clone(),
        connections: l.connections,
        threads: l.threads.unwrap_or(l.connections * 4),
        size: l.size,
        mode: send_mode(l.mode),
        async_window: l.async_window,
        rate,
        limit,
        warmup,
        timeout: t.timeout,
        serialize: serialize_type(t.serialize),
        heartbeat: !l.no_heartbeat,
        ..ProduceConfig::new(t.source(), &t.topic)
    }
}

fn emit<T: serde::Serialize>(json: bool, report: &T, text: impl FnOnce(&T) -> String) -> Result<()> {
    let out = if json { serde_json::to_string(report)? + "\n" } else { text(report) };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Produce(a) => {
            let limit = a.count.map_or(Limit::Duration(a.duration), Limit::Count);
            let cfg = produce_config(&a.target, &a.load, a.rate, limit, a.warmup);
            emit(a.target.json, &produce::run(&cfg).await?, |r| r.render_text())
        }
        Cmd::Consume(a) => {
            let t = &a.target;
            let cfg = ConsumeConfig {
                connections: a.connections,
                batch: a.batch,
                suspend: a.suspend,
                duration: a.duration,
                count: a.count,
                from: match a.from {
                    From::Last => StartFrom::Last,
                    From::First => StartFrom::First,
                    From::Committed => StartFrom::Committed,
                },
                timeout: t.timeout,
                serialize: serialize_type(t.serialize),
                ..ConsumeConfig::new(t.source(), &t.topic, &a.group)
            };
            emit(t.json, &consume::run(&cfg).await?, |r| r.render_text())
        }
        Cmd::E2e(a) => {
            let t = &a.target;
            let produce = produce_config(t, &a.load, a.rate, Limit::Duration(a.duration), a.warmup);
            let consume = ConsumeConfig {
                suspend: a.suspend,
                timeout: t.timeout,
                serialize: serialize_type(t.serialize),
                ..ConsumeConfig::new(t.source(), &t.topic, &a.group)
            };
            let cfg = E2eConfig { produce, consume, drain: a.drain, bar_p99: Some(a.bar_p99) };
            emit(t.json, &e2e::run(&cfg).await?, |r| r.render_text())
        }
        Cmd::Ceiling(a) => {
            let cfg = CeilingConfig {
                broker_name: a.broker_name,
                cluster: a.cluster,
                queues: a.queues,
                register: a.register,
                topics: a.topics,
                retain: a.retain,
                ..CeilingConfig::new(a.listen)
            };
            let stats = ceiling::run(&cfg, a.duration, |addr| {
                println!("{ANNOUNCE_PREFIX}{addr}");
                let _ = std::io::stdout().flush();
            })
            .await?;
            emit(a.json, &stats, |s| {
                format!("served {} sends, {} pulls, {} routes, {} other\n", s.sends, s.pulls, s.routes, s.other)
            })
        }
        Cmd::Compare(a) => {
            let target = match (&a.target_broker, &a.target_namesrv) {
                (Some(addr), _) => {
                    RouteSource::Broker { addr: addr.clone(), name: a.broker_name.clone(), queues: a.queues }
                }
                (None, Some(ns)) => RouteSource::Namesrv(ns.clone()),
                (None, None) => bail!("give --target-namesrv or --target-broker"),
            };
            let base = ProduceConfig {
                size: a.size,
                mode: send_mode(a.mode),
                async_window: a.async_window,
                limit: Limit::Duration(a.duration),
                warmup: a.warmup,
                timeout: a.timeout,
                ..ProduceConfig::new(target.clone(), &a.topic)
            };
            let ceiling = match a.ceiling_addr {
                Some(addr) => CeilingTarget::Addr(addr),
                None => {
                    let exe: PathBuf = std::env::current_exe().context("locate the rmq-bench executable")?;
                    CeilingTarget::Spawn { exe, queues: a.queues }
                }
            };
            let cfg = CompareConfig {
                base,
                target,
                ceiling,
                connection_counts: a.connections,
                threads_per_connection: a.threads_per_connection,
                rounds: a.rounds,
            };
            emit(a.json, &compare::run(&cfg).await?, |r| r.render_text())
        }
        Cmd::Rss(a) => emit(a.json, &sysinfo::rss(a.pid)?, |r| r.render_text()),
        Cmd::Startup(a) => {
            let cfg = StartupConfig {
                command: a.command,
                addr: a.addr,
                timeout: a.timeout,
                settle: a.settle,
                show_output: a.show_output,
            };
            let report = tokio::task::spawn_blocking(move || sysinfo::startup(&cfg)).await??;
            emit(a.json, &report, |r| r.render_text())
        }
        Cmd::CreateTopic(a) => {
            let cfg = CreateTopicConfig {
                broker: a.broker,
                topic: a.topic,
                queues: a.queues,
                namesrv: a.namesrv,
                wait: a.wait,
                timeout: a.timeout,
            };
            emit(a.json, &topic::run(&cfg).await?, |r| r.render_text())
        }
    }
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("RMQ_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = cli.workers {
        rt.worker_threads(n.max(1));
    }
    rt.build().context("start the tokio runtime")?.block_on(run(cli.cmd))
}
