//! Producer cases of the name-server test: each client's sends, through our name server's route,
//! checked message by message at the recording fake broker.

use super::*;

/// One producer case against the fake broker.
pub(crate) struct SendCase {
    pub(crate) label: &'static str,
    pub(crate) scenario: &'static str,
    pub(crate) extra: Vec<(&'static str, String)>,
    pub(crate) count: usize,
}

pub(crate) fn send_cases() -> Vec<SendCase> {
    let c = |label, scenario, count, extra: Vec<(&'static str, String)>| SendCase { label, scenario, extra, count };
    vec![
        c("sync", "send", 3, vec![("--mode", s("sync")), ("--tags", s("TagA,TagB"))]),
        c("oneway", "send", 3, vec![("--mode", s("oneway")), ("--tags", s("TagA"))]),
        c("async", "send", 4, vec![("--mode", s("async")), ("--tags", s("TagB"))]),
        c("orderly", "send", 9, vec![("--mode", s("orderly")), ("--sharding-keys", s(3))]),
        c("batch", "send", 4, vec![("--mode", s("batch")), ("--tags", s("TagA"))]),
        c("big", "send", 1, vec![("--mode", s("sync")), ("--body-size", s(3 * 1024 * 1024))]),
        c("compressed", "send", 2, vec![("--mode", s("sync")), ("--body-size", s(16 * 1024))]),
        c("delay", "send", 1, vec![("--mode", s("sync")), ("--delay-level", s(3))]),
        c("tx-commit", "transaction", 2, vec![("--tx", s("commit"))]),
        c("tx-rollback", "transaction", 1, vec![("--tx", s("rollback"))]),
    ]
}

/// Checks one producer case's events against what the fake broker recorded; returns the
/// support-table cell ("ok", "unsupported", or "ok (...)" with a wire detail).
pub(crate) fn check_send_case(case: &SendCase, run: &Run, run_id: &str, fake: &FakeBroker) -> String {
    if run.unsupported() {
        assert!(!run.of("unsupported").is_empty(), "{}", run.context());
        return "unsupported".into();
    }
    let mut batch_wire = None;
    assert_eq!(run.code, Some(0), "{}", run.context());
    let sent = run.of("sent");
    assert_eq!(sent.len(), case.count, "sent events\n{}", run.context());
    // Oneway requests have no answer: give the fake broker a moment to read the last ones.
    let t = Instant::now();
    let mine = || -> Vec<Recorded> {
        fake.records
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.props.get("compat_run").map(String::as_str) == Some(run_id))
            .cloned()
            .collect()
    };
    while mine().len() < case.count && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let recs = mine();
    if recs.len() != case.count {
        let seen: Vec<String> = fake
            .records
            .lock()
            .unwrap()
            .iter()
            .rev()
            .filter(|r| r.code != 35 && r.code != 34)
            .filter(|r| r.props.get("compat_client").is_none_or(|c| c == run.client))
            .take(8)
            .map(|r| {
                format!(
                    "code {} flag {} props {:?} body {}B ext {:?}",
                    r.code,
                    r.sys_flag,
                    r.props,
                    r.body.len(),
                    r.ext
                )
            })
            .collect();
        panic!(
            "fake broker got {} messages of run {run_id}; last records:\n{}\n{}",
            recs.len(),
            seen.join("\n"),
            run.context()
        );
    }
    let mut queues_by_key: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for ev in sent {
        let seq = ev["seq"].as_u64().unwrap().to_string();
        let found: Vec<&Recorded> = recs.iter().filter(|r| r.props.get("compat_seq") == Some(&seq)).collect();
        assert_eq!(found.len(), 1, "seq {seq} recorded {} times\n{}", found.len(), run.context());
        let r = found[0];
        assert_eq!(sha256_hex(&r.body), ev["bodySha256"].as_str().unwrap(), "body of seq {seq}\n{}", run.context());
        assert_eq!(r.body.len() as u64, ev["bodyLen"].as_u64().unwrap());
        let tags = ev["tags"].as_str().unwrap_or("");
        if !tags.is_empty() {
            assert_eq!(r.props.get("TAGS").map(String::as_str), Some(tags), "TAGS of seq {seq}: {:?}", r.props);
        }
        let keys = ev["keys"].as_str().unwrap();
        assert!(
            r.props.get("KEYS").is_some_and(|k| k.split(' ').any(|k| k == keys)),
            "KEYS of seq {seq}: {:?} (want {keys})",
            r.props
        );
        assert_eq!(r.props.get("compat_client").map(String::as_str), Some(run.client));
        assert_eq!(r.topic, "FakeTopic");
        if let Some(level) = ev["delayLevel"].as_u64() {
            assert_eq!(r.props.get("DELAY"), Some(&level.to_string()), "DELAY of seq {seq}: {:?}", r.props);
        }
        if r.body.len() >= 16 * 1024 {
            assert!(
                r.compressed,
                "{}: a {} byte body was not compressed (sysFlag {})",
                run.client,
                r.body.len(),
                r.sys_flag
            );
        }
        if case.label == "batch" {
            let wire = match (r.code, r.ext.get("batch").map(String::as_str)) {
                (320, _) => "SEND_BATCH_MESSAGE",
                (10, Some("1")) => "SEND_MESSAGE batch=1",
                (c, b) => panic!("{}: batch sent as code {c} batch={b:?}", run.client),
            };
            batch_wire = Some(wire);
        }
        if case.scenario == "transaction" {
            assert!(
                r.sys_flag & TRANSACTION_PREPARED_TYPE != 0,
                "half message without the prepared flag: {}",
                r.sys_flag
            );
            assert_eq!(r.props.get("TRAN_MSG").map(String::as_str), Some("true"), "{:?}", r.props);
        }
        if let Some(k) = ev["shardingKey"].as_str() {
            queues_by_key.entry(k.to_string()).or_default().insert(r.queue_id);
        }
    }
    for (k, qs) in &queues_by_key {
        assert_eq!(qs.len(), 1, "{}: sharding key {k} went to queues {qs:?}", run.client);
    }
    if case.scenario == "transaction" {
        // END_TRANSACTION (oneway) after the half message: commitOrRollback 8 commit, 12 rollback.
        let want = if case.label == "tx-commit" { "8" } else { "12" };
        let t = Instant::now();
        let group = format!("compat_{}_tx", run.client.replace('-', "_"));
        let ends = || -> usize {
            fake.records
                .lock()
                .unwrap()
                .iter()
                .filter(|r| {
                    r.code == 37
                        && r.ext.get("producerGroup") == Some(&group)
                        && r.ext.get("commitOrRollback").map(String::as_str) == Some(want)
                })
                .count()
        };
        while ends() < case.count && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            ends() >= case.count,
            "{}: {} END_TRANSACTION({want}) of group {group}, want {}",
            run.client,
            ends(),
            case.count
        );
    }
    match batch_wire {
        Some("SEND_MESSAGE batch=1") => "ok (code 10, batch=1)".into(),
        _ => "ok".into(),
    }
}

pub(crate) fn print_table(
    title: &str,
    rows: &BTreeMap<String, BTreeMap<&'static str, String>>,
    clients: &[&'static str],
) {
    println!("\n{title}");
    println!("{:<26}{}", "scenario", clients.iter().map(|c| format!("{c:<24}")).collect::<String>());
    for (scenario, cells) in rows {
        let line: String =
            clients.iter().map(|c| format!("{:<24}", cells.get(c).map(String::as_str).unwrap_or("-"))).collect();
        println!("{scenario:<26}{line}");
    }
}
