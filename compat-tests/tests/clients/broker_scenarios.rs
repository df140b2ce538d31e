//! Broker scenarios that need only the broker core (send, pull, offsets, client management):
//! send modes, orderly by sharding key, broadcasting, tag filter, offset resume, pull and
//! cross-library. See `broker.rs` for what each checks.

use super::broker::*;
use super::broker_b3::{skipped, Features};
use super::*;

/// The C++ client sends a batch as SEND_MESSAGE(10) with `batch=1` (C++ `to_string(bool)`). Java
/// brokers (4.9.8 and 5.3.3) parse that header with `Boolean.parseBoolean("1") == false`, so they
/// store the whole encoded batch as ONE message (whose body is the batch encoding). We pin that
/// Java behaviour: a C++ batch of n arrives as one message without the per-message properties.
pub(crate) fn batch_is_one_message(client: &str) -> bool {
    client.starts_with("cpp")
}

pub(crate) fn modes(c: &Cluster, d: &Driver, drivers: &[Driver], _: &Features) -> Cells {
    let topic = topic_of(d.name, "modes");
    c.create_topic(&topic);
    type Case<'a> = (&'a str, usize, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        ("sync", 5, vec![("--mode", s("sync")), ("--tags", s("TagA,TagB"))]),
        ("oneway", 5, vec![("--mode", s("oneway")), ("--tags", s("TagA"))]),
        ("async", 5, vec![("--mode", s("async"))]),
        ("batch", 4, vec![("--mode", s("batch")), ("--tags", s("TagB"))]),
        ("3 MiB body", 1, vec![("--body-size", s(3 * 1024 * 1024))]),
        ("compressed", 2, vec![("--body-size", s(16 * 1024))]),
    ];
    let feature = |m: &str| if m.contains(' ') { "big" } else { m }.to_string();
    let run_of = |m: &str| format!("{}-{}", d.name, m.replace(' ', "_"));
    let deliveries = |m: &str, n: usize| {
        if m == "batch" && batch_is_one_message(d.name) {
            1
        } else {
            n
        }
    };
    let expect: usize =
        cases.iter().filter(|(m, ..)| supports(d.name, &feature(m))).map(|(m, n, _)| deliveries(m, *n)).sum();
    let producers: Vec<(&Driver, &str, Vec<String>)> =
        cases.iter().map(|(m, n, extra)| (d, "send", producer_args(c, &topic, &run_of(m), *n, extra))).collect();
    let (consumed, produced) = consume_while_producing(
        vec![(d, consumer_args(c, &topic, &group_of(d.name, "modes"), expect, &[]))],
        producers,
    );
    let consumer = &consumed[0];
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    let mut cells = Cells::new();
    for ((m, n, _), p) in cases.iter().zip(&produced) {
        let supported = supports(d.name, &feature(m));
        expect_code(p, supported);
        let row = format!("send {m}");
        if !supported {
            cells.push(cell(&row, "unsupported"));
            continue;
        }
        if *m == "batch" && batch_is_one_message(d.name) {
            cells.push(cell(&row, format!("ok ({n} -> 1 message")));
            continue;
        }
        assert_exactly_once(p, &run_of(m), consumer);
        cells.push(cell(&row, "ok"));
    }
    if batch_is_one_message(d.name) {
        let note = check_cpp_batch(c, d, drivers, &topic, expect, consumer, &produced[3]);
        let row = "send batch";
        for (r, text) in cells.iter_mut() {
            if r == row {
                text.push_str(note);
            }
        }
    }
    assert_eq!(consumer.of("received").len(), expect, "deliveries\n{}", consumer.context());
    cells.insert(0, cell("push consumer clustering", "ok"));
    cells
}

/// The C++ batch arrived as one message at the C++ consumer (whose C API cannot give a body with
/// NUL bytes: it reports length 0). Its body, read by the rust driver's pull consumer, must be
/// the batch encoding of exactly the messages the C++ producer sent. Returns a table-cell note.
fn check_cpp_batch(
    c: &Cluster,
    d: &Driver,
    drivers: &[Driver],
    topic: &str,
    stored: usize,
    consumer: &Run,
    sent: &Run,
) -> &'static str {
    let whole = consumer.of("received").into_iter().filter(|e| e["properties"]["compat_run"].is_null()).count();
    assert_eq!(
        whole,
        1,
        "{}: the batch should arrive as one message (Java parses batch=1 as false)\n{}",
        d.name,
        consumer.context()
    );
    let Some(rust) = drivers.iter().find(|x| x.name == "rust") else {
        println!("{}: batch body not decoded (needs the rust driver)", d.name);
        return ")";
    };
    let mut a = args(&[("--namesrv", c.ns()), ("--topic", s(topic)), ("--expect", s(stored)), ("--timeout", s(30))]);
    a.push("--body-hex".into());
    let pulled = rust.run("pull", &a);
    assert_eq!(pulled.code, Some(0), "{}", pulled.context());
    let batch: Vec<&Value> =
        pulled.of("received").into_iter().filter(|e| e["properties"]["compat_run"].is_null()).collect();
    assert_eq!(batch.len(), 1, "{}", pulled.context());
    let hex = batch[0]["bodyHex"].as_str().expect("bodyHex");
    let body: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let inner = decode_batch(&body);
    let want = sent.of("sent");
    assert_eq!(inner.len(), want.len(), "{}: batch body holds {} messages", d.name, inner.len());
    for ((_, b, props), e) in inner.iter().zip(want) {
        assert_eq!(sha256_hex(b), e["bodySha256"].as_str().unwrap(), "{}: batch body", d.name);
        assert_eq!(
            props.get("compat_seq").map(String::as_str),
            Some(e["seq"].to_string().as_str()),
            "{}: batch message properties {props:?}",
            d.name
        );
    }
    ") [a]"
}

pub(crate) fn orderly(c: &Cluster, d: &Driver, _: &[Driver], f: &Features) -> Cells {
    const ROW: &str = "orderly push consumer";
    let topic = topic_of(d.name, "orderly");
    c.create_topic(&topic);
    let run_id = format!("{}-orderly", d.name);
    let client_can = supports(d.name, "orderly_consumer");
    let orderly = client_can && f.lock.is_ok();
    let extra: Vec<(&str, String)> = if orderly { vec![("--orderly", String::new())] } else { vec![] };
    let (consumed, produced) = consume_while_producing(
        vec![(d, consumer_args(c, &topic, &group_of(d.name, "orderly"), 12, &extra))],
        vec![(
            d,
            "send",
            producer_args(c, &topic, &run_id, 12, &[("--mode", s("orderly")), ("--sharding-keys", s(3))]),
        )],
    );
    let (consumer, producer) = (&consumed[0], &produced[0]);
    assert_eq!(producer.code, Some(0), "{}", producer.context());
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    assert_exactly_once(producer, &run_id, consumer);
    let mut by_key: BTreeMap<String, (BTreeSet<i64>, Vec<u64>)> = BTreeMap::new();
    for e in consumer.of("received") {
        let k = e["properties"]["compat_sk"].as_str().unwrap().to_string();
        let seq: u64 = e["properties"]["compat_seq"].as_str().unwrap().parse().unwrap();
        let entry = by_key.entry(k).or_default();
        entry.0.insert(e["queueId"].as_i64().unwrap());
        entry.1.push(seq);
    }
    assert_eq!(by_key.len(), 3);
    for (k, (queues, seqs)) in by_key {
        assert_eq!(queues.len(), 1, "{}: key {k} in queues {queues:?}", d.name);
        if orderly {
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{}: key {k} consumed out of order: {seqs:?}", d.name);
        }
    }
    let consume = match (&f.lock, client_can) {
        (_, false) => vec![cell(ROW, "unsupported")],
        (Ok(()), true) => vec![cell(ROW, "ok")],
        (Err(m), true) => skipped(d.name, &[ROW], m),
    };
    let mut cells = vec![cell("send orderly (sharding key)", "ok")];
    cells.extend(consume);
    cells
}

pub(crate) fn broadcasting(c: &Cluster, d: &Driver, _: &[Driver], _: &Features) -> Cells {
    let topic = topic_of(d.name, "bcast");
    c.create_topic(&topic);
    let run_id = format!("{}-bcast", d.name);
    let group = group_of(d.name, "bcast");
    let ca = |i: &str| consumer_args(c, &topic, &group, 6, &[("--model", s("broadcasting")), ("--instance", s(i))]);
    let (consumed, produced) = consume_while_producing(
        vec![(d, ca("i1")), (d, ca("i2"))],
        vec![(d, "send", producer_args(c, &topic, &run_id, 6, &[]))],
    );
    assert_eq!(produced[0].code, Some(0), "{}", produced[0].context());
    for consumer in &consumed {
        assert_eq!(consumer.code, Some(0), "{}", consumer.context());
        assert_exactly_once(&produced[0], &run_id, consumer);
    }
    vec![cell("push consumer broadcasting", "ok (2 consumers)")]
}

pub(crate) fn tag_filter(c: &Cluster, d: &Driver, _: &[Driver], _: &Features) -> Cells {
    let topic = topic_of(d.name, "tags");
    c.create_topic(&topic);
    let run_id = format!("{}-tags", d.name);
    let (consumed, produced) = consume_while_producing(
        vec![(d, consumer_args(c, &topic, &group_of(d.name, "tags"), 6, &[("--subscribe", s("TagA || TagB"))]))],
        vec![(d, "send", producer_args(c, &topic, &run_id, 9, &[("--tags", s("TagA,TagB,TagC"))]))],
    );
    let (consumer, producer) = (&consumed[0], &produced[0]);
    assert_eq!(producer.code, Some(0), "{}", producer.context());
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    let got = received(consumer);
    for s in producer.of("sent") {
        let seq = s["seq"].as_u64().unwrap();
        let n = got.get(&(run_id.clone(), seq)).map_or(0, Vec::len);
        let want = if s["tags"] == "TagC" { 0 } else { 1 };
        assert_eq!(n, want, "{}: {} (tag {}) delivered {n} times\n{}", d.name, seq, s["tags"], consumer.context());
    }
    vec![cell("tag filter (TagA || TagB)", "ok")]
}

pub(crate) fn offset_resume(c: &Cluster, d: &Driver, _: &[Driver], _: &Features) -> Cells {
    let topic = topic_of(d.name, "resume");
    c.create_topic(&topic);
    let group = group_of(d.name, "resume");
    let first = format!("{}-resume1", d.name);
    let second = format!("{}-resume2", d.name);
    let (c1, p1) = consume_while_producing(
        vec![(d, consumer_args(c, &topic, &group, 5, &[]))],
        vec![(d, "send", producer_args(c, &topic, &first, 5, &[]))],
    );
    assert_eq!(p1[0].code, Some(0), "{}", p1[0].context());
    assert_eq!(c1[0].code, Some(0), "{}", c1[0].context());
    assert_exactly_once(&p1[0], &first, &c1[0]);
    // While nobody consumes: five more. The restarted consumer must start after the first five.
    let p2 = d.run("send", &producer_args(c, &topic, &second, 5, &[("--seq-start", s(5))]));
    assert_eq!(p2.code, Some(0), "{}", p2.context());
    let c2 = d.run("consume", &consumer_args(c, &topic, &group, 5, &[]));
    assert_eq!(c2.code, Some(0), "{}", c2.context());
    assert_exactly_once(&p2, &second, &c2);
    let again = received(&c2).keys().filter(|(r, _)| r == &first).count();
    assert_eq!(again, 0, "{}: the restarted consumer got {again} already consumed messages\n{}", d.name, c2.context());
    vec![cell("offset resume after restart", "ok")]
}

pub(crate) fn pull(c: &Cluster, d: &Driver, _: &[Driver], _: &Features) -> Cells {
    let topic = topic_of(d.name, "pull");
    c.create_topic(&topic);
    let run_id = format!("{}-pull", d.name);
    let p = d.run("send", &producer_args(c, &topic, &run_id, 6, &[("--tags", s("TagA"))]));
    assert_eq!(p.code, Some(0), "{}", p.context());
    let pulled =
        d.run("pull", &args(&[("--namesrv", c.ns()), ("--topic", topic), ("--expect", s(6)), ("--timeout", s(30))]));
    let supported = supports(d.name, "pull");
    expect_code(&pulled, supported);
    if !supported {
        return vec![cell("pull consumer", "unsupported")];
    }
    assert_exactly_once(&p, &run_id, &pulled);
    // rocketmq-client-rust's pull consumer: explicit pulls are PULL_MESSAGE (11); it also runs
    // background LITE_PULL_MESSAGE (361) pulls with long polling.
    let how = if d.name == "rust" { "ok [c]" } else { "ok" };
    vec![cell("pull consumer", how)]
}

/// `p` produces; every other client consumes (own group each). Returns (consumer, cell).
pub(crate) fn cross_library(c: &Cluster, p: &Driver, drivers: &[Driver]) -> Vec<(&'static str, String)> {
    let topic = format!("CT_x_{}", p.name.replace('-', "_"));
    c.create_topic(&topic);
    let run_id = format!("{}-cross", p.name);
    let consumers: Vec<(&Driver, Vec<String>)> = drivers
        .iter()
        .filter(|d| d.name != p.name)
        .map(|d| (d, consumer_args(c, &topic, &format!("CG_x_{}_{}", p.name, d.name).replace('-', "_"), 5, &[])))
        .collect();
    let (consumed, produced) = consume_while_producing(
        consumers,
        vec![(p, "send", producer_args(c, &topic, &run_id, 5, &[("--tags", s("TagX")), ("--body-size", s(6000))]))],
    );
    assert_eq!(produced[0].code, Some(0), "{}", produced[0].context());
    let mut cells = Vec::new();
    for consumer in &consumed {
        assert_eq!(consumer.code, Some(0), "{}", consumer.context());
        assert_exactly_once(&produced[0], &run_id, consumer);
        for e in consumer.of("received") {
            assert_eq!(e["properties"]["compat_client"], p.name, "{}", consumer.context());
        }
        cells.push((consumer.client, "ok".to_string()));
    }
    cells
}
