//! `clients_against_our_broker`: every client against `mqnamesrv` + `mqbroker` (127.0.0.1 only).
//!
//! Per client (clients in parallel, each on its own topics and groups; scenarios in
//! `broker_scenarios.rs` and, for the ones that need the broker's schedule, transaction, retry and
//! queue-lock services, `broker_b3.rs`):
//! * modes: one clustering consumer; sync, oneway, async, batch, 3 MiB and compressed (16 KiB)
//!   sends; every sent message received exactly once, bodies by SHA-256, tags, keys. A C++ batch
//!   (SEND_MESSAGE with `batch=1`) arrives as ONE message, as from a Java broker,
//! * orderly: 3 sharding keys over 4 queues: one queue per key; with an orderly consumer
//!   (LOCK_BATCH_MQ) each key's messages in send order,
//! * broadcasting: two consumers of one group both get every message,
//! * tag filter: `TagA || TagB` never delivers TagC (filtered by the broker),
//! * offset resume: a consumer restarted in the same group gets only what came after it stopped,
//! * pull: a pull consumer reads every queue from offset 0 (rust: PULL_MESSAGE, plus the crate's
//!   background LITE_PULL_MESSAGE),
//! * delay level: not delivered before the level's delay,
//! * transactions: commit delivered, rollback not, unknown resolved by the broker's check-back,
//! * retry then DLQ: RECONSUME_LATER every time; maxReconsumeTimes + 1 deliveries with growing
//!   reconsumeTimes, then the message is in %DLQ%group (read with a pull consumer); ali-ons,
//!   which acks redelivered messages, with maxReconsumeTimes 0 and 1 (see `NOTES`).
//!
//! Then cross-library: each client's messages consumed by every other client.
//!
//! Before the scenarios the broker is probed (`broker_b3::probe`): a scenario whose broker service
//! is missing is reported `SKIPPED (<reason>)` in the table and on stdout, never silently. Any
//! failure is reported as `FAIL` in the table, the test goes on with the other scenarios and fails
//! at the end listing them all (with the tail of the broker log).
//!
//! The broker runs with `messageDelayLevel` of 1 s steps (level 2 = 2 s) and a 1 s transaction
//! check, so retries and check-backs finish in seconds.

use super::*;

use std::panic::{catch_unwind, AssertUnwindSafe};

use indexmap::IndexMap;

pub(crate) const DELAY_LEVELS: &str = "1s 2s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s";
/// After the consumers said `ready`: time for their first rebalance before producing.
pub(crate) const SETTLE: Duration = Duration::from_secs(3);

/// What each client can do (the drivers must agree: they exit 2 for what is not supported).
pub(crate) fn supports(client: &str, feature: &str) -> bool {
    !matches!(
        (client, feature),
        ("ali-ons", "oneway" | "batch" | "orderly_consumer" | "pull" | "transaction") | ("cpp044", "transaction")
    )
}

pub(crate) struct Cluster {
    pub(crate) ns: Daemon,
    pub(crate) broker: Daemon,
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) client: Client,
}

impl Cluster {
    /// `extra_conf`: more broker.conf lines (each ending in a newline).
    pub(crate) fn start(broker_bin: &Path, extra_conf: &str) -> Cluster {
        let ns = start_namesrv();
        let port = free_broker_port();
        let conf = format!(
            "brokerClusterName=CompatCluster\nbrokerName=compat-broker-a\nbrokerId=0\nnamesrvAddr={ns}\n\
             listenPort={port}\nbindAddress=127.0.0.1\nbrokerIP1=127.0.0.1\nbrokerIP2=127.0.0.1\nstorePathRootDir={{dir}}/store\n\
             storePathCommitLog={{dir}}/store/commitlog\nautoCreateTopicEnable=true\nautoCreateSubscriptionGroup=true\n\
             messageDelayLevel={DELAY_LEVELS}\ntransactionTimeOut=1000\ntransactionCheckInterval=1000\n\
             flushDiskType=ASYNC_FLUSH\n{extra_conf}",
            ns = ns.addr(),
        );
        let broker = Daemon::start("broker", broker_bin, &conf, port);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let c = Cluster { ns, broker, rt, client: Client::new(ClientConfig::default()) };
        // Registered with the name server: the default topic routes to it.
        assert!(c.wait_route("TBW102", Duration::from_secs(30)), "broker never registered; log:\n{}", c.broker.log());
        c
    }

    /// One request to `addr`; `Err` for transport failures (timeouts included).
    pub(crate) fn invoke(&self, addr: &str, cmd: RemotingCommand) -> Result<RemotingCommand, String> {
        self.rt.block_on(async {
            let ch = self.client.channel(addr).await.map_err(|e| e.to_string())?;
            ch.invoke(cmd, Duration::from_secs(5)).await.map_err(|e| e.to_string())
        })
    }

    pub(crate) fn route_exists(&self, topic: &str) -> bool {
        let mut cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
        cmd.set_ext("topic", topic);
        matches!(self.invoke(&self.ns(), cmd), Ok(r) if r.response_code() == ResponseCode::SUCCESS)
    }

    pub(crate) fn wait_route(&self, topic: &str, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.route_exists(topic) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// UPDATE_AND_CREATE_TOPIC on the broker (4 queues), then waits for its route.
    pub(crate) fn create_topic(&self, topic: &str) {
        let mut cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC);
        rmq_remoting::protocol::client::CreateTopicRequestHeader {
            topic: topic.into(),
            default_topic: "TBW102".into(),
            read_queue_nums: 4,
            write_queue_nums: 4,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: Some(0),
            order: Some(false),
            attributes: None,
            force: None,
        }
        .apply_to(&mut cmd);
        let resp = self.invoke(&self.broker.addr(), cmd).expect("UPDATE_AND_CREATE_TOPIC");
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "create {topic}: {:?}", resp.remark);
        assert!(self.wait_route(topic, Duration::from_secs(20)), "no route for {topic} after creating it");
    }

    /// GET_MAX_OFFSET of one queue.
    pub(crate) fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        let mut cmd = RemotingCommand::request(RequestCode::GET_MAX_OFFSET);
        cmd.set_ext("topic", topic);
        cmd.set_ext("queueId", queue_id.to_string());
        let r = self.invoke(&self.broker.addr(), cmd).expect("GET_MAX_OFFSET");
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{:?}", r.remark);
        r.ext("offset").and_then(|o| o.parse().ok()).expect("offset")
    }

    pub(crate) fn ns(&self) -> String {
        self.ns.addr()
    }
}

pub(crate) fn group_of(client: &str, what: &str) -> String {
    format!("CG_{}_{what}", client.replace('-', "_"))
}

pub(crate) fn topic_of(client: &str, what: &str) -> String {
    format!("CT_{}_{what}", client.replace('-', "_"))
}

/// Starts the consumers, waits until all are ready (+ a rebalance settle), runs the producers one
/// after the other, then waits for the consumers to finish.
pub(crate) fn consume_while_producing(
    consumers: Vec<(&Driver, Vec<String>)>,
    producers: Vec<(&Driver, &str, Vec<String>)>,
) -> (Vec<Run>, Vec<Run>) {
    let mut running: Vec<Running> = consumers.iter().map(|(d, a)| d.spawn("consume", a)).collect();
    for r in running.iter_mut() {
        assert!(r.wait_ready(Duration::from_secs(30)), "consumer {} {} not ready", r.client, r.what);
    }
    std::thread::sleep(SETTLE);
    let produced: Vec<Run> = producers.iter().map(|(d, sc, a)| d.run(sc, a)).collect();
    let consumed = running.into_iter().map(|r| r.wait(Duration::from_secs(180))).collect();
    (consumed, produced)
}

pub(crate) fn producer_args(
    c: &Cluster,
    topic: &str,
    run_id: &str,
    count: usize,
    extra: &[(&str, String)],
) -> Vec<String> {
    let mut a = args(&[
        ("--namesrv", c.ns()),
        ("--topic", s(topic)),
        ("--run-id", s(run_id)),
        ("--count", s(count)),
        ("--timeout", s(60)),
    ]);
    a.extend(args(extra));
    a
}

pub(crate) fn consumer_args(
    c: &Cluster,
    topic: &str,
    group: &str,
    expect: usize,
    extra: &[(&str, String)],
) -> Vec<String> {
    let mut a = args(&[
        ("--namesrv", c.ns()),
        ("--topic", s(topic)),
        ("--group", s(group)),
        ("--expect", s(expect)),
        ("--idle", s(3)),
        ("--timeout", s(90)),
    ]);
    a.extend(args(extra));
    a
}

pub(crate) fn expect_code(run: &Run, supported: bool) {
    if supported {
        assert_eq!(run.code, Some(0), "{}", run.context());
    } else {
        assert_eq!(run.code, Some(2), "expected 'unsupported'\n{}", run.context());
    }
}

/// Footnotes of the table's cells.
const NOTES: &[&str] = &[
    "[a] the C++ client sends a batch as SEND_MESSAGE (10) with batch=1; Java brokers parse it with \
     Boolean.parseBoolean (false) and store ONE message whose body is the batch encoding: checked \
     (body read by the rust pull consumer, decoded: the sent messages). The C API cannot return a \
     body with NUL bytes, so the C++ consumer itself sees length 0.",
    "[b] ali-ons 3.12.0 acks every message redelivered from %RETRY% (its retry-topic handler drops \
     the listener's result): with maxReconsumeTimes 0 one delivery then the DLQ; with 1, two \
     deliveries (reconsumeTimes 0, 1) and no DLQ.",
    "[c] rocketmq-client-rust's pull consumer: explicit pulls are PULL_MESSAGE (11); it also runs \
     background LITE_PULL_MESSAGE (361) pulls (long polling), answered too.",
];

/// Table cells a scenario reports: (row, cell).
pub(crate) type Cells = Vec<(String, String)>;

pub(crate) fn cell(row: &str, text: impl Into<String>) -> (String, String) {
    (row.to_string(), text.into())
}

/// Rows in the order scenarios first report them; one column per client.
#[derive(Default)]
pub(crate) struct Table {
    rows: IndexMap<String, BTreeMap<&'static str, String>>,
}

impl Table {
    pub(crate) fn put(&mut self, client: &'static str, cells: Cells) {
        for (row, text) in cells {
            self.rows.entry(row).or_default().insert(client, text);
        }
    }

    pub(crate) fn print(&self, title: &str, clients: &[&'static str]) {
        let width = |c: &str| {
            self.rows.values().filter_map(|r| r.get(c)).map(|t| t.chars().count()).max().unwrap_or(0).max(c.len()) + 2
        };
        let widths: Vec<usize> = clients.iter().map(|c| width(c)).collect();
        println!("\n{title}");
        let mut head = format!("{:<30}", "scenario");
        for (c, w) in clients.iter().zip(&widths) {
            head.push_str(&format!("{c:<w$}"));
        }
        println!("{}", head.trim_end());
        for (row, cells) in &self.rows {
            let mut line = format!("{row:<30}");
            for (c, w) in clients.iter().zip(&widths) {
                line.push_str(&format!("{:<w$}", cells.get(c).map(String::as_str).unwrap_or("-")));
            }
            println!("{}", line.trim_end());
        }
    }
}

/// A scenario: returns its table cells, panics on failure.
pub(crate) type Scenario = fn(&Cluster, &Driver, &[Driver], &broker_b3::Features) -> Cells;

/// Runs one scenario; a panic becomes `None` and an entry in `failures`.
fn attempt<T>(name: &str, client: &str, failures: &Mutex<Vec<String>>, f: impl FnOnce() -> T) -> Option<T> {
    let t = Instant::now();
    let out = catch_unwind(AssertUnwindSafe(f));
    let secs = t.elapsed().as_secs_f64();
    match out {
        Ok(v) => {
            println!("{client}: {name}: done in {secs:.1}s");
            Some(v)
        }
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            println!("{client}: {name}: FAILED after {secs:.1}s");
            failures.lock().unwrap().push(format!("{client} / {name}:\n{msg}"));
            None
        }
    }
}

pub(crate) fn run_all(drivers: &[Driver], broker_bin: &Path, extra_conf: &str) {
    let started = Instant::now();
    let c = Cluster::start(broker_bin, extra_conf);
    let features = broker_b3::probe(&c);
    features.print();
    let scenarios: Vec<(&str, Scenario)> = vec![
        ("modes", broker_scenarios::modes),
        ("orderly", broker_scenarios::orderly),
        ("broadcasting", broker_scenarios::broadcasting),
        ("tag filter", broker_scenarios::tag_filter),
        ("offset resume", broker_scenarios::offset_resume),
        ("pull", broker_scenarios::pull),
        ("delay level", broker_b3::delay),
        ("transactions", broker_b3::transactions),
        ("retry then DLQ", broker_b3::retry_dlq),
    ];
    let failures = Mutex::new(Vec::new());
    let mut table = Table::default();
    std::thread::scope(|sc| {
        let (c, features, failures, scenarios) = (&c, &features, &failures, &scenarios);
        let hs: Vec<_> = drivers
            .iter()
            .map(|d| {
                sc.spawn(move || {
                    let t = Instant::now();
                    let mut cells = Cells::new();
                    for (name, f) in scenarios {
                        cells.extend(
                            attempt(name, d.name, failures, || f(c, d, drivers, features))
                                .unwrap_or_else(|| vec![cell(name, "FAIL")]),
                        );
                    }
                    println!("{}: broker scenarios done in {:.1}s", d.name, t.elapsed().as_secs_f64());
                    (d.name, cells)
                })
            })
            .collect();
        for h in hs {
            let (name, cells) = h.join().expect("scenario thread");
            table.put(name, cells);
        }
    });
    let t = Instant::now();
    for p in drivers {
        let row = format!("cross: from {}", p.name);
        match attempt(&row, p.name, &failures, || broker_scenarios::cross_library(&c, p, drivers)) {
            Some(cells) => {
                table.put(p.name, vec![cell(&row, "(producer)")]);
                for (consumer, text) in cells {
                    table.put(consumer, vec![cell(&row, text)]);
                }
            }
            None => table.put(p.name, vec![cell(&row, "FAIL")]),
        }
    }
    println!("cross-library: {:.1}s", t.elapsed().as_secs_f64());
    let names: Vec<&'static str> = drivers.iter().map(|d| d.name).collect();
    table.print("third-party clients against our mqnamesrv + mqbroker:", &names);
    for note in NOTES {
        println!("{note}");
    }
    println!("broker client scenarios: {:.1}s", started.elapsed().as_secs_f64());
    let failures = failures.into_inner().unwrap();
    if !failures.is_empty() {
        let log = c.broker.log();
        let tail: Vec<&str> = log.lines().rev().take(150).collect();
        eprintln!("broker log (last 150 lines):\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        panic!("{} broker scenario(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
    }
}
