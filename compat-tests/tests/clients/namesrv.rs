//! `clients_talk_to_our_name_server`: no-route answers, sends to the recording fake broker, push,
//! tag-filtered, orderly and pull consumers served by it.

use super::*;

pub(crate) fn run(drivers: &[Driver]) {
    let started = Instant::now();
    let ns = start_namesrv();
    let ns_addr = ns.addr();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    // The recording fake broker, registered with our name server for FakeTopic.
    let fake = Arc::new(FakeBroker::default());
    let server = rt
        .block_on(Server::bind(
            "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
            ServerConfig::default(),
            Arc::new(FakeHandler(fake.clone())),
        ))
        .unwrap();
    let fake_addr = server.local_addr().to_string();
    *fake.port.lock().unwrap() = server.local_addr().port();
    let client = Client::new(ClientConfig::default());
    let registration: Channel = rt.block_on(async {
        let ch = client.connect(&ns_addr).await.unwrap();
        let resp =
            ch.invoke(register_cmd(&fake_addr, &["FakeTopic", "FakeTopicB"]), Duration::from_secs(5)).await.unwrap();
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "REGISTER_BROKER: {:?}", resp.remark);
        ch
    });

    let closed = free_port(); // nothing listens there
    let names: Vec<&'static str> = drivers.iter().map(|d| d.name).collect();
    let mut table: BTreeMap<String, BTreeMap<&'static str, String>> = BTreeMap::new();

    // 1. Unknown topic: the name server's "no route" answer reaches each client; a closed
    //    name-server port gives another error (ali-ons, rust) or the same generic one (C++).
    std::thread::scope(|sc| {
        let hs: Vec<_> = drivers
            .iter()
            .map(|d| {
                let ns_addr = ns_addr.clone();
                sc.spawn(move || {
                    let base = |ns: &str| {
                        args(&[("--namesrv", ns.to_string()), ("--topic", s("NoSuchTopic")), ("--timeout", s(30))])
                    };
                    (d.name, d.run("send", &base(&ns_addr)), d.run("send", &base(&format!("127.0.0.1:{closed}"))))
                })
            })
            .collect();
        for h in hs {
            let (name, live, dead) = h.join().unwrap();
            assert_eq!(live.code, Some(1), "{}", live.context());
            let e = live.of("send_error");
            assert_eq!(e.len(), 1, "{}", live.context());
            assert_eq!(e[0]["kind"], "no_route", "{}", live.context());
            assert_eq!(dead.code, Some(1), "{}", dead.context());
            let d = dead.of("send_error");
            assert_eq!(d.len(), 1, "{}", dead.context());
            if name.starts_with("cpp") {
                // The C++ client turns every route failure into "No route info of this topic".
                assert_eq!(d[0]["kind"], "no_route", "{}", dead.context());
            } else {
                assert_ne!(d[0]["kind"], "no_route", "{}", dead.context());
                // ali-ons and rust relay our name server's TOPIC_NOT_EXIST remark.
                assert!(
                    e[0]["message"].as_str().unwrap().contains("No topic route info in name server for the topic"),
                    "{}",
                    live.context()
                );
            }
            table.entry("no-route error".into()).or_default().insert(name, "ok".into());
        }
    });

    // 2. Producers through the route of our name server to the fake broker.
    std::thread::scope(|sc| {
        let hs: Vec<_> = drivers
            .iter()
            .map(|d| {
                let ns_addr = ns_addr.clone();
                let fake = fake.clone();
                sc.spawn(move || {
                    let mut cells = Vec::new();
                    for case in send_cases() {
                        let run_id = format!("{}-{}", d.name, case.label);
                        let group = if case.scenario == "transaction" {
                            format!("compat_{}_tx", d.name.replace('-', "_"))
                        } else {
                            format!("compat_{}_send", d.name.replace('-', "_"))
                        };
                        let mut a = args(&[
                            ("--namesrv", ns_addr.clone()),
                            ("--topic", s("FakeTopic")),
                            ("--group", group),
                            ("--count", s(case.count)),
                            ("--run-id", run_id.clone()),
                            ("--timeout", s(40)),
                        ]);
                        a.extend(args(&case.extra.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()));
                        let run = d.run(case.scenario, &a);
                        cells.push((case.label, check_send_case(&case, &run, &run_id, &fake)));
                    }
                    (d.name, cells)
                })
            })
            .collect();
        for h in hs {
            let (name, cells) = h.join().unwrap();
            for (label, cell) in cells {
                table.entry(format!("send {label}")).or_default().insert(name, cell);
            }
        }
    });

    // 3. Every client produces to FakeTopicB, then every client's push consumer (own group)
    //    reads all of it back through the fake broker's pull service: the receive side of the
    //    drivers, and a first cross-library check (bodies by SHA-256, tags, keys, properties).
    let producers: Vec<Run> = drivers
        .iter()
        .map(|d| {
            let run = d.run(
                "send",
                &args(&[
                    ("--namesrv", ns_addr.clone()),
                    ("--topic", s("FakeTopicB")),
                    ("--run-id", format!("{}-fakeb", d.name)),
                    ("--count", s(3)),
                    ("--tags", s("TagA,TagB")),
                    ("--body-size", s(5000)),
                    ("--timeout", s(30)),
                ]),
            );
            assert_eq!(run.code, Some(0), "{}", run.context());
            run
        })
        .collect();
    let total = 3 * drivers.len();
    std::thread::scope(|sc| {
        let hs: Vec<_> = drivers
            .iter()
            .map(|d| {
                let ns_addr = ns_addr.clone();
                sc.spawn(move || {
                    let group = format!("compat_{}_fakeb", d.name.replace('-', "_"));
                    let a = args(&[
                        ("--namesrv", ns_addr),
                        ("--topic", s("FakeTopicB")),
                        ("--group", group.clone()),
                        ("--expect", s(total)),
                        ("--idle", s(1.5)),
                        ("--timeout", s(40)),
                    ]);
                    (d.name, group, d.run("consume", &a))
                })
            })
            .collect();
        for h in hs {
            let (name, group, run) = h.join().unwrap();
            assert_eq!(run.code, Some(0), "{}", run.context());
            for p in &producers {
                assert_exactly_once(p, &format!("{}-fakeb", p.client), &run);
            }
            let heartbeats =
                fake.records.lock().unwrap().iter().filter(|r| r.code == 34 && r.text.contains(&group)).count();
            assert!(heartbeats > 0, "{name}: no HEART_BEAT with group {group} at the fake broker\n{}", run.context());
            table.entry("push consume (fake)".into()).or_default().insert(name, "ok".into());
        }
    });

    // 3b. Client-side tag filtering (the fake broker does not filter) and orderly consumers
    //     (LOCK_BATCH_MQ; FakeTopic holds the orderly sends of step 2: per sharding key, the
    //     messages must come in send order from one queue).
    let fake_topic_total: usize =
        fake.queues.lock().unwrap().iter().filter(|((t, _), _)| t == "FakeTopic").map(|(_, v)| v.len()).sum();
    std::thread::scope(|sc| {
        let hs: Vec<_> = drivers
            .iter()
            .map(|d| {
                let ns_addr = ns_addr.clone();
                sc.spawn(move || {
                    let base = |topic: &str, group: String, expect: usize| {
                        args(&[
                            ("--namesrv", ns_addr.clone()),
                            ("--topic", s(topic)),
                            ("--group", group),
                            ("--expect", s(expect)),
                            ("--idle", s(1.5)),
                            ("--timeout", s(40)),
                        ])
                    };
                    let g = |what: &str| format!("compat_{}_{what}", d.name.replace('-', "_"));
                    let mut tagged = base("FakeTopicB", g("fakeb_tag"), 2 * total / 3);
                    tagged.extend(args(&[("--subscribe", s("TagA"))]));
                    let tag_run = d.run("consume", &tagged);
                    let mut ordered = base("FakeTopic", g("fake_orderly"), fake_topic_total);
                    ordered.push("--orderly".into());
                    let orderly_run = d.run("consume", &ordered);
                    (d.name, tag_run, orderly_run)
                })
            })
            .collect();
        for h in hs {
            let (name, tag_run, orderly_run) = h.join().unwrap();
            assert_eq!(tag_run.code, Some(0), "{}", tag_run.context());
            let got = received(&tag_run);
            for p in &producers {
                for e in p.of("sent") {
                    let n = got.get(&(format!("{}-fakeb", p.client), e["seq"].as_u64().unwrap())).map_or(0, Vec::len);
                    assert_eq!(
                        n,
                        usize::from(e["tags"] == "TagA"),
                        "{name}: tag filter TagA, {}\n{}",
                        e,
                        tag_run.context()
                    );
                }
            }
            table.entry("tag filter (client side)".into()).or_default().insert(name, "ok".into());
            if orderly_run.unsupported() {
                table.entry("orderly consume (fake)".into()).or_default().insert(name, "unsupported".into());
                continue;
            }
            assert_eq!(orderly_run.code, Some(0), "{}", orderly_run.context());
            let mut by_key: BTreeMap<(String, String), (BTreeSet<i64>, Vec<u64>)> = BTreeMap::new();
            for e in orderly_run.of("received") {
                let props = &e["properties"];
                let (Some(run), Some(k)) = (props["compat_run"].as_str(), props["compat_sk"].as_str()) else {
                    continue;
                };
                let entry = by_key.entry((run.to_string(), k.to_string())).or_default();
                entry.0.insert(e["queueId"].as_i64().unwrap());
                entry.1.push(props["compat_seq"].as_str().unwrap().parse().unwrap());
            }
            assert_eq!(by_key.len(), 3 * drivers.len(), "{name}: orderly runs x keys\n{}", orderly_run.context());
            for ((run, k), (queues, seqs)) in by_key {
                assert_eq!(queues.len(), 1, "{name}: {run} key {k} from queues {queues:?}");
                assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{name}: {run} key {k} out of order: {seqs:?}");
                assert_eq!(seqs.len(), 3, "{name}: {run} key {k}: {seqs:?}");
            }
            table.entry("orderly consume (fake)".into()).or_default().insert(name, "ok".into());
        }
    });

    // 4. Pull consumers: the route's queue list, then every queue from offset 0.
    for d in drivers {
        let a = args(&[
            ("--namesrv", ns_addr.clone()),
            ("--topic", s("FakeTopicB")),
            ("--expect", s(total)),
            ("--timeout", s(20)),
        ]);
        let run = d.run("pull", &a);
        if run.unsupported() {
            table.entry("pull (fake)".into()).or_default().insert(d.name, "unsupported".into());
            continue;
        }
        assert_eq!(run.code, Some(0), "{}", run.context());
        assert_eq!(run.of("ready")[0]["queues"], 4, "{}", run.context());
        for p in &producers {
            assert_exactly_once(p, &format!("{}-fakeb", p.client), &run);
        }
        table.entry("pull (fake)".into()).or_default().insert(d.name, "ok".into());
    }

    print_table("third-party clients against our name server (+ recording fake broker):", &table, &names);
    let codes: BTreeMap<i32, usize> = fake.records.lock().unwrap().iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.code).or_default() += 1;
        m
    });
    println!("fake broker request codes seen: {codes:?}");
    println!("name-server client checks: {:.1}s", started.elapsed().as_secs_f64());
    registration.close();
    rt.block_on(server.shutdown());
}
