//! Broker scenarios of `clients.rs`: every client against `mqnamesrv` + `mqbroker`.
//!
//! Per client (clients in parallel, each on its own topics and groups):
//! * modes: one clustering consumer; sync, oneway, async, batch, 3 MiB, compressed (16 KiB) and
//!   delayed sends; every sent message received exactly once, bodies by SHA-256, tags, keys;
//!   the delayed one not before its level's delay,
//! * orderly: 3 sharding keys over 4 queues, an orderly consumer: one queue per key, and each
//!   key's messages received in send order,
//! * broadcasting: two consumers of one group both get every message,
//! * tag filter: `TagA || TagB` never delivers TagC,
//! * offset resume: a consumer restarted in the same group gets only what came after it stopped,
//! * retry then DLQ: RECONSUME_LATER every time; maxReconsumeTimes + 1 deliveries with growing
//!   reconsumeTimes, then the message is in %DLQ%group (read with a pull consumer),
//! * pull: a pull consumer reads every queue from offset 0,
//! * transactions: commit delivered, rollback not, unknown resolved by the broker's check-back.
//!
//! Then cross-library: each client's messages consumed by every other client.
//!
//! The broker runs with `messageDelayLevel` of 1 s steps (level 2 = 2 s) and a 1 s transaction
//! check, so retries and check-backs finish in seconds.

use super::*;

/// What each client can do (the drivers must agree: they exit 2 for what is not supported).
fn supports(client: &str, feature: &str) -> bool {
    match (client, feature) {
        ("ali-ons", "oneway" | "batch" | "orderly_consumer" | "pull" | "transaction") => false,
        ("cpp044", "transaction") => false,
        _ => true,
    }
}

/// The C++ client sends a batch as SEND_MESSAGE(10) with `batch=1` (C++ `to_string(bool)`). Java
/// brokers (4.9.8 and 5.3.3) parse that header with `Boolean.parseBoolean("1") == false`, so they
/// store the whole encoded batch as ONE message (whose body is the batch encoding). We pin that
/// Java behaviour: a C++ batch of n arrives as one message without the per-message properties.
fn batch_is_one_message(client: &str) -> bool {
    client.starts_with("cpp")
}

/// maxReconsumeTimes the retry scenario runs with (the C++ C API cannot set it: default 16).
fn max_reconsume(client: &str) -> usize {
    if client.starts_with("cpp") {
        16
    } else {
        2
    }
}

const DELAY_LEVELS: &str = "1s 2s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s";
const SETTLE: Duration = Duration::from_secs(3);

struct Cluster {
    ns: Daemon,
    broker: Daemon,
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Cluster {
    fn start(broker_bin: &Path) -> Cluster {
        let ns = start_namesrv();
        let port = free_broker_port();
        let conf = format!(
            "brokerClusterName=CompatCluster\nbrokerName=compat-broker-a\nbrokerId=0\nnamesrvAddr={ns}\n\
             listenPort={port}\nbrokerIP1=127.0.0.1\nbrokerIP2=127.0.0.1\nstorePathRootDir={{dir}}/store\n\
             storePathCommitLog={{dir}}/store/commitlog\nautoCreateTopicEnable=true\nautoCreateSubscriptionGroup=true\n\
             messageDelayLevel={DELAY_LEVELS}\ntransactionTimeOut=1000\ntransactionCheckInterval=1000\n\
             flushDiskType=ASYNC_FLUSH\n",
            ns = ns.addr(),
        );
        let broker = Daemon::start("broker", broker_bin, &conf, port);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let c = Cluster {
            ns,
            broker,
            rt,
            client: Client::new(ClientConfig::default()),
        };
        // Registered with the name server: the default topic routes to it.
        assert!(
            c.wait_route("TBW102", Duration::from_secs(30)),
            "broker never registered; log:\n{}",
            c.broker.log()
        );
        c
    }

    fn route_exists(&self, topic: &str) -> bool {
        let ns = self.ns.addr();
        self.rt.block_on(async {
            let Ok(ch) = self.client.channel(&ns).await else { return false };
            let mut cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
            cmd.set_ext("topic", topic);
            matches!(ch.invoke(cmd, Duration::from_secs(3)).await, Ok(r) if r.response_code() == ResponseCode::SUCCESS)
        })
    }

    fn wait_route(&self, topic: &str, limit: Duration) -> bool {
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
    fn create_topic(&self, topic: &str) {
        let addr = self.broker.addr();
        let resp = self.rt.block_on(async {
            let ch = self.client.channel(&addr).await.expect("connect broker");
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
            ch.invoke(cmd, Duration::from_secs(5))
                .await
                .expect("UPDATE_AND_CREATE_TOPIC")
        });
        assert_eq!(
            resp.response_code(),
            ResponseCode::SUCCESS,
            "create {topic}: {:?}",
            resp.remark
        );
        assert!(
            self.wait_route(topic, Duration::from_secs(20)),
            "no route for {topic} after creating it"
        );
    }

    fn ns(&self) -> String {
        self.ns.addr()
    }
}

fn group_of(client: &str, what: &str) -> String {
    format!("CG_{}_{what}", client.replace('-', "_"))
}

/// Starts the consumers, waits until all are ready (+ a rebalance settle), runs the producers one
/// after the other, then waits for the consumers to finish.
fn consume_while_producing(
    consumers: Vec<(&Driver, Vec<String>)>,
    producers: Vec<(&Driver, &str, Vec<String>)>,
) -> (Vec<Run>, Vec<Run>) {
    let mut running: Vec<Running> = consumers
        .iter()
        .map(|(d, a)| d.spawn("consume", a))
        .collect();
    for r in running.iter_mut() {
        assert!(
            r.wait_ready(Duration::from_secs(30)),
            "consumer {} {} not ready",
            r.client,
            r.what
        );
    }
    std::thread::sleep(SETTLE);
    let produced: Vec<Run> = producers.iter().map(|(d, sc, a)| d.run(sc, a)).collect();
    let consumed = running
        .into_iter()
        .map(|r| r.wait(Duration::from_secs(180)))
        .collect();
    (consumed, produced)
}

fn producer_args(
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

fn consumer_args(
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

fn expect_code(run: &Run, supported: bool) {
    if supported {
        assert_eq!(run.code, Some(0), "{}", run.context());
    } else {
        assert_eq!(
            run.code,
            Some(2),
            "expected 'unsupported'\n{}",
            run.context()
        );
    }
}

fn scenario_modes(c: &Cluster, d: &Driver) {
    let topic = format!("CT_{}_modes", d.name.replace('-', "_"));
    c.create_topic(&topic);
    let cases: Vec<(&str, usize, Vec<(&str, String)>)> = vec![
        (
            "sync",
            5,
            vec![("--mode", s("sync")), ("--tags", s("TagA,TagB"))],
        ),
        (
            "oneway",
            5,
            vec![("--mode", s("oneway")), ("--tags", s("TagA"))],
        ),
        ("async", 5, vec![("--mode", s("async"))]),
        (
            "batch",
            4,
            vec![("--mode", s("batch")), ("--tags", s("TagB"))],
        ),
        ("big", 1, vec![("--body-size", s(3 * 1024 * 1024))]),
        ("compressed", 2, vec![("--body-size", s(16 * 1024))]),
        ("delay", 1, vec![("--delay-level", s(2))]),
    ];
    let deliveries = |m: &str, n: usize| {
        if m == "batch" && batch_is_one_message(d.name) {
            1
        } else {
            n
        }
    };
    let expect: usize = cases
        .iter()
        .filter(|(m, ..)| supports(d.name, m))
        .map(|(m, n, _)| deliveries(m, *n))
        .sum();
    let producers: Vec<(&Driver, &str, Vec<String>)> = cases
        .iter()
        .map(|(m, n, extra)| {
            (
                d,
                "send",
                producer_args(c, &topic, &format!("{}-{m}", d.name), *n, extra),
            )
        })
        .collect();
    let (consumed, produced) = consume_while_producing(
        vec![(
            d,
            consumer_args(c, &topic, &group_of(d.name, "modes"), expect, &[]),
        )],
        producers,
    );
    let consumer = &consumed[0];
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    for ((m, ..), p) in cases.iter().zip(&produced) {
        expect_code(p, supports(d.name, m));
        if p.code == Some(0) && !(*m == "batch" && batch_is_one_message(d.name)) {
            assert_exactly_once(p, &format!("{}-{m}", d.name), consumer);
        }
    }
    if batch_is_one_message(d.name) {
        let whole = consumer
            .of("received")
            .iter()
            .filter(|e| e["properties"]["compat_run"].is_null())
            .count();
        assert_eq!(
            whole,
            1,
            "{}: the batch should arrive as one message (Java parses batch=1 as false)\n{}",
            d.name,
            consumer.context()
        );
    }
    // The delayed message: not delivered before level 2 (2 s) after it was born.
    for e in received(consumer)
        .iter()
        .filter(|((r, _), _)| r.ends_with("-delay"))
        .flat_map(|(_, v)| v)
    {
        let waited = e["receivedAt"].as_i64().unwrap() - e["bornTimestamp"].as_i64().unwrap();
        assert!(
            waited >= 1800,
            "{}: delay level 2 delivered after {waited} ms",
            d.name
        );
    }
    assert_eq!(
        consumer.of("received").len(),
        expect,
        "deliveries\n{}",
        consumer.context()
    );
}

fn scenario_orderly(c: &Cluster, d: &Driver) {
    let topic = format!("CT_{}_orderly", d.name.replace('-', "_"));
    c.create_topic(&topic);
    let run_id = format!("{}-orderly", d.name);
    let orderly = supports(d.name, "orderly_consumer");
    let extra: Vec<(&str, String)> = if orderly {
        vec![("--orderly", String::new())]
    } else {
        vec![]
    };
    let (consumed, produced) = consume_while_producing(
        vec![(
            d,
            consumer_args(c, &topic, &group_of(d.name, "orderly"), 12, &extra),
        )],
        vec![(
            d,
            "send",
            producer_args(
                c,
                &topic,
                &run_id,
                12,
                &[("--mode", s("orderly")), ("--sharding-keys", s(3))],
            ),
        )],
    );
    let (consumer, producer) = (&consumed[0], &produced[0]);
    assert_eq!(producer.code, Some(0), "{}", producer.context());
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    assert_exactly_once(producer, &run_id, consumer);
    let mut by_key: BTreeMap<String, (BTreeSet<i64>, Vec<u64>)> = BTreeMap::new();
    for e in consumer.of("received") {
        let k = e["properties"]["compat_sk"].as_str().unwrap().to_string();
        let seq: u64 = e["properties"]["compat_seq"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let entry = by_key.entry(k).or_default();
        entry.0.insert(e["queueId"].as_i64().unwrap());
        entry.1.push(seq);
    }
    assert_eq!(by_key.len(), 3);
    for (k, (queues, seqs)) in by_key {
        assert_eq!(queues.len(), 1, "{}: key {k} in queues {queues:?}", d.name);
        if orderly {
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "{}: key {k} consumed out of order: {seqs:?}",
                d.name
            );
        }
    }
}

fn scenario_broadcasting(c: &Cluster, d: &Driver) {
    let topic = format!("CT_{}_bcast", d.name.replace('-', "_"));
    c.create_topic(&topic);
    let run_id = format!("{}-bcast", d.name);
    let group = group_of(d.name, "bcast");
    let ca = |i: &str| {
        consumer_args(
            c,
            &topic,
            &group,
            6,
            &[("--model", s("broadcasting")), ("--instance", s(i))],
        )
    };
    let (consumed, produced) = consume_while_producing(
        vec![(d, ca("i1")), (d, ca("i2"))],
        vec![(d, "send", producer_args(c, &topic, &run_id, 6, &[]))],
    );
    assert_eq!(produced[0].code, Some(0), "{}", produced[0].context());
    for consumer in &consumed {
        assert_eq!(consumer.code, Some(0), "{}", consumer.context());
        assert_exactly_once(&produced[0], &run_id, consumer);
    }
}

fn scenario_tag_filter(c: &Cluster, d: &Driver) {
    let topic = format!("CT_{}_tags", d.name.replace('-', "_"));
    c.create_topic(&topic);
    let run_id = format!("{}-tags", d.name);
    let (consumed, produced) = consume_while_producing(
        vec![(
            d,
            consumer_args(
                c,
                &topic,
                &group_of(d.name, "tags"),
                6,
                &[("--subscribe", s("TagA || TagB"))],
            ),
        )],
        vec![(
            d,
            "send",
            producer_args(c, &topic, &run_id, 9, &[("--tags", s("TagA,TagB,TagC"))]),
        )],
    );
    let (consumer, producer) = (&consumed[0], &produced[0]);
    assert_eq!(producer.code, Some(0), "{}", producer.context());
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    let got = received(consumer);
    for s in producer.of("sent") {
        let seq = s["seq"].as_u64().unwrap();
        let n = got.get(&(run_id.clone(), seq)).map_or(0, Vec::len);
        let want = if s["tags"] == "TagC" { 0 } else { 1 };
        assert_eq!(
            n,
            want,
            "{}: {} (tag {}) delivered {n} times\n{}",
            d.name,
            seq,
            s["tags"],
            consumer.context()
        );
    }
}

fn scenario_offset_resume(c: &Cluster, d: &Driver) {
    let topic = format!("CT_{}_resume", d.name.replace('-', "_"));
    c.create_topic(&topic);
    let group = group_of(d.name, "resume");
    let first = format!("{}-resume1", d.name);
    let second = format!("{}-resume2", d.name);
    let (c1, p1) = consume_while_producing(
        vec![(d, consumer_args(c, &topic, &group, 5, &[]))],
        vec![(d, "send", producer_args(c, &topic, &first, 5, &[]))],
    );
    assert_eq!(c1[0].code, Some(0), "{}", c1[0].context());
    assert_exactly_once(&p1[0], &first, &c1[0]);
    // While nobody consumes: five more. The restarted consumer must start after the first five.
    let p2 = d.run(
        "send",
        &producer_args(c, &topic, &second, 5, &[("--seq-start", s(5))]),
    );
    assert_eq!(p2.code, Some(0), "{}", p2.context());
    let c2 = d.run("consume", &consumer_args(c, &topic, &group, 5, &[]));
    assert_eq!(c2.code, Some(0), "{}", c2.context());
    assert_exactly_once(&p2, &second, &c2);
    let again = received(&c2).keys().filter(|(r, _)| r == &first).count();
    assert_eq!(
        again,
        0,
        "{}: the restarted consumer got {again} already consumed messages\n{}",
        d.name,
        c2.context()
    );
}

/// A pull-capable driver to read a DLQ with (the client itself when it can pull).
fn puller<'a>(drivers: &'a [Driver], d: &'a Driver) -> &'a Driver {
    if supports(d.name, "pull") {
        d
    } else {
        drivers
            .iter()
            .find(|x| supports(x.name, "pull"))
            .expect("a client that can pull")
    }
}

fn scenario_retry_dlq(c: &Cluster, d: &Driver, drivers: &[Driver]) {
    let topic = format!("CT_{}_retry", d.name.replace('-', "_"));
    c.create_topic(&topic);
    let run_id = format!("{}-retry", d.name);
    let group = group_of(d.name, "retry");
    let max = max_reconsume(d.name);
    let mut extra = vec![("--reconsume-later", s("all")), ("--timeout", s(120))];
    if !d.name.starts_with("cpp") {
        extra.push(("--max-reconsume-times", s(max)));
    }
    let (consumed, produced) = consume_while_producing(
        vec![(d, consumer_args(c, &topic, &group, max + 1, &extra))],
        vec![(d, "send", producer_args(c, &topic, &run_id, 1, &[]))],
    );
    let (consumer, producer) = (&consumed[0], &produced[0]);
    assert_eq!(producer.code, Some(0), "{}", producer.context());
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    let deliveries = received(consumer)
        .remove(&(run_id.clone(), 0))
        .unwrap_or_default();
    let times: Vec<i64> = deliveries
        .iter()
        .map(|e| e["reconsumeTimes"].as_i64().unwrap())
        .collect();
    assert_eq!(
        times,
        (0..=max as i64).collect::<Vec<_>>(),
        "{}: reconsumeTimes of the deliveries",
        d.name
    );
    // Then the dead-letter queue of the group holds it.
    let dlq = format!("%DLQ%{group}");
    assert!(
        c.wait_route(&dlq, Duration::from_secs(20)),
        "{}: no route for {dlq}",
        d.name
    );
    let p = puller(drivers, d);
    let pulled = p.run(
        "pull",
        &args(&[
            ("--namesrv", c.ns()),
            ("--topic", dlq.clone()),
            ("--expect", s(1)),
            ("--timeout", s(30)),
        ]),
    );
    assert_eq!(pulled.code, Some(0), "{}", pulled.context());
    let in_dlq = received(&pulled).remove(&(run_id, 0)).unwrap_or_default();
    assert_eq!(
        in_dlq.len(),
        1,
        "{}: DLQ content\n{}",
        d.name,
        pulled.context()
    );
    assert_eq!(
        in_dlq[0]["bodySha256"],
        producer.of("sent")[0]["bodySha256"]
    );
}

fn scenario_pull(c: &Cluster, d: &Driver) {
    let topic = format!("CT_{}_pull", d.name.replace('-', "_"));
    c.create_topic(&topic);
    let run_id = format!("{}-pull", d.name);
    let p = d.run(
        "send",
        &producer_args(c, &topic, &run_id, 6, &[("--tags", s("TagA"))]),
    );
    assert_eq!(p.code, Some(0), "{}", p.context());
    let pulled = d.run(
        "pull",
        &args(&[
            ("--namesrv", c.ns()),
            ("--topic", topic),
            ("--expect", s(6)),
            ("--timeout", s(30)),
        ]),
    );
    expect_code(&pulled, supports(d.name, "pull"));
    if pulled.code == Some(0) {
        assert_exactly_once(&p, &run_id, &pulled);
    }
}

fn scenario_transactions(c: &Cluster, d: &Driver) {
    let topic = format!("CT_{}_tx", d.name.replace('-', "_"));
    c.create_topic(&topic);
    let supported = supports(d.name, "transaction");
    let group = format!("PG_{}_tx", d.name.replace('-', "_"));
    let tx = |run: &str, seq: usize, n: usize, extra: &[(&str, String)]| {
        let mut e = vec![("--group", group.clone()), ("--seq-start", s(seq))];
        e.extend(extra.iter().cloned());
        (
            d,
            "transaction",
            producer_args(c, &topic, &format!("{}-{run}", d.name), n, &e),
        )
    };
    let producers = vec![
        tx("commit", 0, 2, &[("--tx", s("commit"))]),
        tx("rollback", 2, 1, &[("--tx", s("rollback"))]),
        tx(
            "check",
            3,
            1,
            &[
                ("--tx", s("unknown")),
                ("--check", s("commit")),
                ("--wait-checks", s(10)),
            ],
        ),
    ];
    if !supported {
        let p = d.run(producers[0].1, &producers[0].2);
        expect_code(&p, false);
        return;
    }
    let (consumed, produced) = consume_while_producing(
        vec![(d, consumer_args(c, &topic, &group_of(d.name, "tx"), 3, &[]))],
        producers,
    );
    let consumer = &consumed[0];
    for p in &produced {
        assert_eq!(p.code, Some(0), "{}", p.context());
    }
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    assert_exactly_once(&produced[0], &format!("{}-commit", d.name), consumer);
    assert_exactly_once(&produced[2], &format!("{}-check", d.name), consumer);
    let rolled_back = received(consumer)
        .keys()
        .filter(|(r, _)| r.ends_with("-rollback"))
        .count();
    assert_eq!(
        rolled_back,
        0,
        "{}: a rolled back message was delivered\n{}",
        d.name,
        consumer.context()
    );
    assert!(
        !produced[2].of("check").is_empty(),
        "{}: no check-back for the unknown transaction\n{}",
        d.name,
        produced[2].context()
    );
}

fn cross_library(c: &Cluster, drivers: &[Driver]) {
    for p in drivers {
        let topic = format!("CT_x_{}", p.name.replace('-', "_"));
        c.create_topic(&topic);
        let run_id = format!("{}-cross", p.name);
        let consumers: Vec<(&Driver, Vec<String>)> = drivers
            .iter()
            .filter(|d| d.name != p.name)
            .map(|d| {
                (
                    d,
                    consumer_args(
                        c,
                        &topic,
                        &format!("CG_x_{}_{}", p.name, d.name).replace('-', "_"),
                        5,
                        &[],
                    ),
                )
            })
            .collect();
        let (consumed, produced) = consume_while_producing(
            consumers,
            vec![(
                p,
                "send",
                producer_args(
                    c,
                    &topic,
                    &run_id,
                    5,
                    &[("--tags", s("TagX")), ("--body-size", s(6000))],
                ),
            )],
        );
        assert_eq!(produced[0].code, Some(0), "{}", produced[0].context());
        for consumer in &consumed {
            assert_eq!(consumer.code, Some(0), "{}", consumer.context());
            assert_exactly_once(&produced[0], &run_id, consumer);
            for e in consumer.of("received") {
                assert_eq!(
                    e["properties"]["compat_client"],
                    p.name,
                    "{}",
                    consumer.context()
                );
            }
        }
        println!(
            "cross-library: {} -> {}",
            p.name,
            consumed
                .iter()
                .map(|r| r.client)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

pub fn run_all(drivers: &[Driver], broker_bin: &Path) {
    let started = Instant::now();
    let c = Cluster::start(broker_bin);
    std::thread::scope(|sc| {
        let c = &c;
        let hs: Vec<_> = drivers
            .iter()
            .map(|d| {
                sc.spawn(move || {
                    let t = Instant::now();
                    scenario_modes(c, d);
                    scenario_orderly(c, d);
                    scenario_broadcasting(c, d);
                    scenario_tag_filter(c, d);
                    scenario_offset_resume(c, d);
                    scenario_pull(c, d);
                    scenario_transactions(c, d);
                    scenario_retry_dlq(c, d, drivers);
                    println!(
                        "{}: broker scenarios passed in {:.1}s",
                        d.name,
                        t.elapsed().as_secs_f64()
                    );
                })
            })
            .collect();
        for h in hs {
            if let Err(e) = h.join() {
                eprintln!("broker log:\n{}", c.broker.log());
                std::panic::resume_unwind(e);
            }
        }
    });
    cross_library(&c, drivers);
    println!(
        "broker client scenarios: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
