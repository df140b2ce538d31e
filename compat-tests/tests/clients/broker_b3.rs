//! Broker scenarios that need the broker's services beyond the core: delay levels (schedule
//! service), transactions (END_TRANSACTION, half messages, check-back), retry then DLQ
//! (CONSUMER_SEND_MSG_BACK) and, for orderly consumers, queue locks (LOCK_BATCH_MQ).
//!
//! [`probe`] asks the broker for each service before the scenarios run; a missing one makes its
//! scenario report `SKIPPED (<the missing broker feature>)`, printed, instead of failing.

use super::broker::*;
use super::*;

/// A broker service the scenarios need and the broker lacks.
#[derive(Clone, Debug)]
pub(crate) struct Missing {
    /// For the table cell: `SKIPPED (<short>)`.
    pub(crate) short: String,
    /// Printed with every skipped scenario.
    pub(crate) why: String,
}

/// Broker services the scenarios need: `Err` when the broker lacks one.
pub(crate) struct Features {
    pub(crate) lock: Result<(), Missing>,
    pub(crate) sendback: Result<(), Missing>,
    pub(crate) end_tx: Result<(), Missing>,
    pub(crate) delay: Result<(), Missing>,
}

impl Features {
    pub(crate) fn print(&self) {
        for (what, r) in [
            ("orderly push consumer", &self.lock),
            ("retry then DLQ", &self.sendback),
            ("transactions", &self.end_tx),
            ("delay level", &self.delay),
        ] {
            match r {
                Ok(()) => println!("broker probe: {what}: served"),
                Err(m) => println!("SKIPPED: {what} scenarios, for every client: {}", m.why),
            }
        }
    }
}

/// `Err` when the broker answers `code` with REQUEST_CODE_NOT_SUPPORTED. Any other answer (an
/// error about the header included) or no answer means it has a processor for it.
fn served(c: &Cluster, code: RequestCode, what: &str, body: Option<&str>) -> Result<(), Missing> {
    let mut cmd = RemotingCommand::request(code);
    if let Some(b) = body {
        cmd = cmd.with_body(b.as_bytes().to_vec());
    }
    match c.invoke(&c.broker.addr(), cmd) {
        Ok(r) if r.response_code() == ResponseCode::REQUEST_CODE_NOT_SUPPORTED => {
            let name = code.name().unwrap_or("?");
            Err(Missing {
                short: format!("no {name}"),
                why: format!("the broker does not serve {name} ({}): no {what}", code.0),
            })
        }
        _ => Ok(()),
    }
}

/// A DELAY=2 message through SEND_MESSAGE: with a schedule service it waits in
/// SCHEDULE_TOPIC_XXXX, so the topic's queue is still empty right after the send.
fn delay_probe(c: &Cluster) -> Result<(), Missing> {
    let topic = "CT_probe_delay";
    c.create_topic(topic);
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE);
    for (k, v) in [
        ("producerGroup", "PG_probe".to_string()),
        ("topic", topic.to_string()),
        ("defaultTopic", "TBW102".into()),
        ("defaultTopicQueueNums", "4".into()),
        ("queueId", "0".into()),
        ("sysFlag", "0".into()),
        ("bornTimestamp", now_ms().to_string()),
        ("flag", "0".into()),
        ("properties", "DELAY\u{1}2\u{2}WAIT\u{1}true\u{2}".into()),
        ("reconsumeTimes", "0".into()),
        ("unitMode", "false".into()),
        ("batch", "false".into()),
    ] {
        cmd.set_ext(k, v);
    }
    let cmd = cmd.with_body(b"delay probe".to_vec());
    let r = c.invoke(&c.broker.addr(), cmd).expect("SEND_MESSAGE (delay probe)");
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "delay probe send: {:?}", r.remark);
    if c.max_offset(topic, 0) > 0 {
        return Err(Missing {
            short: "no delay service".into(),
            why: "the broker stored a DELAY=2 message in its topic at once: no delay-level \
                  (schedule) service"
                .into(),
        });
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

pub(crate) fn probe(c: &Cluster) -> Features {
    Features {
        lock: served(
            c,
            RequestCode::LOCK_BATCH_MQ,
            "queue-lock service (orderly consumers)",
            Some(r#"{"consumerGroup":"CG_probe","clientId":"probe","mqSet":[]}"#),
        ),
        sendback: served(
            c,
            RequestCode::CONSUMER_SEND_MSG_BACK,
            "consumer retry service (send-back, %RETRY%, DLQ)",
            None,
        ),
        end_tx: served(
            c,
            RequestCode::END_TRANSACTION,
            "transaction service (half messages, commit/rollback, check-back)",
            None,
        ),
        delay: delay_probe(c),
    }
}

pub(crate) fn skipped(client: &str, rows: &[&str], m: &Missing) -> Cells {
    for r in rows {
        println!("SKIPPED: {client}: {r}: {}", m.why);
    }
    rows.iter().map(|r| cell(r, format!("SKIPPED ({})", m.short))).collect()
}

pub(crate) fn delay(c: &Cluster, d: &Driver, _: &[Driver], f: &Features) -> Cells {
    const ROW: &str = "delay level 2 (2 s)";
    if let Err(m) = &f.delay {
        return skipped(d.name, &[ROW], m);
    }
    let topic = topic_of(d.name, "delay");
    c.create_topic(&topic);
    let run_id = format!("{}-delay", d.name);
    let (consumed, produced) = consume_while_producing(
        vec![(d, consumer_args(c, &topic, &group_of(d.name, "delay"), 2, &[]))],
        vec![(d, "send", producer_args(c, &topic, &run_id, 2, &[("--delay-level", s(2))]))],
    );
    let (consumer, producer) = (&consumed[0], &produced[0]);
    assert_eq!(producer.code, Some(0), "{}", producer.context());
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    assert_exactly_once(producer, &run_id, consumer);
    // Not delivered before level 2 (2 s) after it was born.
    let mut waits = Vec::new();
    for e in consumer.of("received") {
        let waited = e["receivedAt"].as_i64().unwrap() - e["bornTimestamp"].as_i64().unwrap();
        assert!(waited >= 1800, "{}: delay level 2 delivered after {waited} ms\n{}", d.name, consumer.context());
        assert_eq!(e["topic"], topic.as_str(), "{}", consumer.context());
        waits.push(waited);
    }
    let min = waits.iter().min().copied().unwrap_or(0);
    vec![cell(ROW, format!("ok (>= {:.1} s)", min as f64 / 1000.0))]
}

pub(crate) fn transactions(c: &Cluster, d: &Driver, _: &[Driver], f: &Features) -> Cells {
    const ROWS: [&str; 3] = ["transaction commit", "transaction rollback", "transaction check-back"];
    let topic = topic_of(d.name, "tx");
    let supported = supports(d.name, "transaction");
    let group = format!("PG_{}_tx", d.name.replace('-', "_"));
    let tx = |run: &str, seq: usize, n: usize, extra: &[(&str, String)]| {
        let mut e = vec![("--group", group.clone()), ("--seq-start", s(seq))];
        e.extend(extra.iter().cloned());
        (d, "transaction", producer_args(c, &topic, &format!("{}-{run}", d.name), n, &e))
    };
    let producers = vec![
        tx("commit", 0, 2, &[("--tx", s("commit"))]),
        tx("rollback", 2, 1, &[("--tx", s("rollback"))]),
        tx("check", 3, 1, &[("--tx", s("unknown")), ("--check", s("commit")), ("--wait-checks", s(10))]),
    ];
    if !supported {
        // The driver says so without touching the broker.
        let p = d.run(producers[0].1, &producers[0].2);
        expect_code(&p, false);
        return ROWS.iter().map(|r| cell(r, "unsupported")).collect();
    }
    if let Err(m) = &f.end_tx {
        return skipped(d.name, &ROWS, m);
    }
    c.create_topic(&topic);
    let (consumed, produced) =
        consume_while_producing(vec![(d, consumer_args(c, &topic, &group_of(d.name, "tx"), 3, &[]))], producers);
    let consumer = &consumed[0];
    for p in &produced {
        assert_eq!(p.code, Some(0), "{}", p.context());
    }
    assert_eq!(consumer.code, Some(0), "{}", consumer.context());
    assert_exactly_once(&produced[0], &format!("{}-commit", d.name), consumer);
    assert_exactly_once(&produced[2], &format!("{}-check", d.name), consumer);
    let rolled_back = received(consumer).keys().filter(|(r, _)| r.ends_with("-rollback")).count();
    assert_eq!(rolled_back, 0, "{}: a rolled back message was delivered\n{}", d.name, consumer.context());
    assert!(
        !produced[2].of("check").is_empty(),
        "{}: no check-back for the unknown transaction\n{}",
        d.name,
        produced[2].context()
    );
    ROWS.iter().map(|r| cell(r, "ok")).collect()
}

/// maxReconsumeTimes the retry scenario runs with (the C++ C API cannot set it: default 16).
fn max_reconsume(client: &str) -> usize {
    if client.starts_with("cpp") {
        16
    } else {
        2
    }
}

/// A pull-capable driver to read a DLQ with (the client itself when it can pull).
fn puller<'a>(drivers: &'a [Driver], d: &'a Driver) -> Option<&'a Driver> {
    if supports(d.name, "pull") {
        Some(d)
    } else {
        drivers.iter().find(|x| supports(x.name, "pull"))
    }
}

pub(crate) fn retry_dlq(c: &Cluster, d: &Driver, drivers: &[Driver], f: &Features) -> Cells {
    const ROW: &str = "retry then DLQ";
    if let Err(m) = &f.sendback {
        return skipped(d.name, &[ROW], m);
    }
    let topic = topic_of(d.name, "retry");
    c.create_topic(&topic);
    let run_id = format!("{}-retry", d.name);
    // (group, maxReconsumeTimes, deliveries expected, then in the group's DLQ)
    let plans: Vec<(String, usize, usize, bool)> = if d.name == "ali-ons" {
        // ali-ons 3.12.0 wraps the handler of %RETRY% messages without returning its result
        // (mq_push_consumer.js: `await handler(msg)`), so a retried message is always acked:
        // only maxReconsumeTimes 0 reaches the DLQ, and with 1 the retry comes once.
        vec![(group_of(d.name, "retry"), 0, 1, true), (group_of(d.name, "retry1"), 1, 2, false)]
    } else {
        let max = max_reconsume(d.name);
        vec![(group_of(d.name, "retry"), max, max + 1, true)]
    };
    let consumers: Vec<(&Driver, Vec<String>)> = plans
        .iter()
        .map(|(group, max, n, _)| {
            let mut extra = vec![("--reconsume-later", s("all")), ("--timeout", s(120))];
            if !d.name.starts_with("cpp") {
                extra.push(("--max-reconsume-times", s(max)));
            }
            (d, consumer_args(c, &topic, group, *n, &extra))
        })
        .collect();
    let (consumed, produced) =
        consume_while_producing(consumers, vec![(d, "send", producer_args(c, &topic, &run_id, 1, &[]))]);
    let producer = &produced[0];
    assert_eq!(producer.code, Some(0), "{}", producer.context());
    let mut note = String::new();
    for ((group, max, n, dlq), consumer) in plans.iter().zip(&consumed) {
        assert_eq!(consumer.code, Some(0), "{}", consumer.context());
        let deliveries = received(consumer).remove(&(run_id.clone(), 0)).unwrap_or_default();
        let times: Vec<i64> = deliveries.iter().map(|e| e["reconsumeTimes"].as_i64().unwrap()).collect();
        assert_eq!(
            times,
            (0..*n as i64).collect::<Vec<_>>(),
            "{}: reconsumeTimes of the deliveries (max {max})\n{}",
            d.name,
            consumer.context()
        );
        for e in &deliveries[1..] {
            // retried messages are restored to the original topic by the client
            assert_eq!(
                e["properties"]["RETRY_TOPIC"],
                topic.as_str(),
                "{}: retried message\n{}",
                d.name,
                consumer.context()
            );
        }
        if *dlq {
            check_dlq(c, d, drivers, group, &run_id, producer);
            note = format!("ok ({n} {}, DLQ)", if *n == 1 { "try" } else { "tries" });
        }
    }
    if plans.len() > 1 {
        note.push_str(" [b]"); // ali-ons, see the table's notes
    }
    vec![cell(ROW, note)]
}

/// The dead-letter queue of `group` holds the message of `run_id`, same body.
fn check_dlq(c: &Cluster, d: &Driver, drivers: &[Driver], group: &str, run_id: &str, producer: &Run) {
    let dlq = format!("%DLQ%{group}");
    assert!(c.wait_route(&dlq, Duration::from_secs(20)), "{}: no route for {dlq}", d.name);
    let Some(p) = puller(drivers, d) else {
        println!("{}: {dlq} not read: no client of this run can pull", d.name);
        return;
    };
    let pulled = p.run(
        "pull",
        &args(&[("--namesrv", c.ns()), ("--topic", dlq.clone()), ("--expect", s(1)), ("--timeout", s(30))]),
    );
    assert_eq!(pulled.code, Some(0), "{}", pulled.context());
    let in_dlq = received(&pulled).remove(&(run_id.to_string(), 0)).unwrap_or_default();
    assert_eq!(in_dlq.len(), 1, "{}: DLQ content\n{}", d.name, pulled.context());
    assert_eq!(in_dlq[0]["bodySha256"], producer.of("sent")[0]["bodySha256"]);
}
