//! `cpp_client_consumes_from_slave_while_master_is_down`: a master and a slave of our `mqbroker`
//! (one broker set, replicating over the HA port), the C++ client's producer sends N messages
//! per C++ library to the master, the slave catches up (same max offset in every queue, the
//! topic synced from the master), the master is SIGKILLed, and a C++ push consumer of a new
//! group gets all N exactly once from the slave. Its offset commits land on the slave.
//!
//! Both brokers run with `slaveReadEnable=true`: a 5.x-flavoured slave (every fresh store is
//! one) refuses pulls without it, as Java 5.3.3 does. The slave syncs metadata 10 s after it
//! starts (Java 5.3.3's schedule), so the topics are created before it starts.

use super::*;

const N: usize = 40;

/// Name server, master (stoppable), slave, and a client for checks.
struct Pair {
    ns: Daemon,
    master: Option<Daemon>,
    slave: Option<Daemon>,
    rt: tokio::runtime::Runtime,
    client: Client,
}

fn broker_conf(ns: &str, port: u16, role: &str, id: u32) -> String {
    format!(
        "brokerClusterName=SlaveReadCluster\nbrokerName=compat-broker-ha\nbrokerId={id}\nbrokerRole={role}\n\
         namesrvAddr={ns}\nlistenPort={port}\nbindAddress=127.0.0.1\nbrokerIP1=127.0.0.1\nbrokerIP2=127.0.0.1\n\
         storePathRootDir={{dir}}/store\nstorePathCommitLog={{dir}}/store/commitlog\nmappedFileSizeCommitLog=4194304\n\
         slaveReadEnable=true\nautoCreateTopicEnable=true\nautoCreateSubscriptionGroup=true\nflushDiskType=ASYNC_FLUSH\n"
    )
}

impl Pair {
    fn invoke(&self, addr: &str, cmd: RemotingCommand) -> Result<RemotingCommand, String> {
        self.rt.block_on(async {
            let ch = self.client.channel(addr).await.map_err(|e| e.to_string())?;
            ch.invoke(cmd, Duration::from_secs(5)).await.map_err(|e| e.to_string())
        })
    }

    fn master_addr(&self) -> String {
        self.master.as_ref().expect("master running").addr()
    }

    fn slave_addr(&self) -> String {
        self.slave.as_ref().expect("slave running").addr()
    }

    fn logs(&self) -> String {
        let tail = |d: &Daemon| {
            let log = d.log();
            let lines: Vec<&str> = log.lines().rev().take(80).collect();
            lines.into_iter().rev().collect::<Vec<_>>().join("\n")
        };
        let master = self.master.as_ref().map(tail).unwrap_or_default();
        let slave = self.slave.as_ref().map(tail).unwrap_or_default();
        format!("master log (tail):\n{master}\nslave log (tail):\n{slave}")
    }

    fn create_topic(&self, topic: &str) {
        let mut cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC);
        for (k, v) in [
            ("topic", topic),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", "4"),
            ("writeQueueNums", "4"),
            ("perm", "6"),
            ("topicFilterType", "SINGLE_TAG"),
        ] {
            cmd.set_ext(k, v);
        }
        let r = self.invoke(&self.master_addr(), cmd).expect("UPDATE_AND_CREATE_TOPIC");
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "create {topic}: {:?}", r.remark);
    }

    fn max_offset(&self, addr: &str, topic: &str, queue_id: i32) -> Option<i64> {
        let mut cmd = RemotingCommand::request(RequestCode::GET_MAX_OFFSET);
        cmd.set_ext("topic", topic);
        cmd.set_ext("queueId", queue_id.to_string());
        let r = self.invoke(addr, cmd).ok()?;
        (r.response_code() == ResponseCode::SUCCESS).then(|| r.ext("offset")?.parse().ok())?
    }

    fn slave_knows_topic(&self, topic: &str) -> bool {
        let cmd = RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG);
        matches!(self.invoke(&self.slave_addr(), cmd), Ok(r) if r.body.as_deref()
            .is_some_and(|b| String::from_utf8_lossy(b).contains(&format!("\"{topic}\""))))
    }

    /// The broker ids the name server routes `topic` to.
    fn route_ids(&self, topic: &str) -> Vec<i64> {
        let mut cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
        cmd.set_ext("topic", topic);
        let Ok(r) = self.invoke(&self.ns.addr(), cmd) else {
            return vec![];
        };
        let Some(b) = r.body.as_deref() else {
            return vec![];
        };
        let route: body::TopicRouteData = body::decode("TopicRouteData", b).expect("route body");
        route.broker_datas.iter().flat_map(|d| d.broker_addrs.keys().copied()).collect()
    }

    fn slave_committed(&self, group: &str, topic: &str) -> i64 {
        (0..4)
            .map(|q| {
                let mut cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET);
                cmd.set_ext("consumerGroup", group);
                cmd.set_ext("topic", topic);
                cmd.set_ext("queueId", q.to_string());
                cmd.set_ext("setZeroIfNotFound", "false");
                match self.invoke(&self.slave_addr(), cmd) {
                    Ok(r) if r.response_code() == ResponseCode::SUCCESS => {
                        r.ext("offset").and_then(|o| o.parse().ok()).unwrap_or(0)
                    }
                    _ => 0,
                }
            })
            .sum()
    }
}

fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    cond()
}

pub(crate) fn run(drivers: &[Driver], broker_bin: &Path) {
    let cpp: Vec<&Driver> = drivers.iter().filter(|d| d.name.starts_with("cpp")).collect();
    if cpp.is_empty() {
        println!("SKIPPED: no C++ client installed (RMQ_COMPAT_CLIENTS): slave-read scenario not run");
        return;
    }
    let started = Instant::now();
    let topic = |d: &Driver| format!("CT_slave_{}", d.name);
    let ns = start_namesrv();
    let mport = free_broker_port();
    let master = Daemon::start("master", broker_bin, &broker_conf(&ns.addr(), mport, "ASYNC_MASTER", 0), mport);
    let mut p = Pair {
        ns,
        master: Some(master),
        slave: None,
        rt: tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap(),
        client: Client::new(ClientConfig::default()),
    };
    // before the slave starts: its first sync (10 s later) must find the topics
    for d in &cpp {
        p.create_topic(&topic(d));
    }
    let sport = free_broker_port();
    p.slave = Some(Daemon::start("slave", broker_bin, &broker_conf(&p.ns.addr(), sport, "SLAVE", 1), sport));

    let produced: Vec<Run> = cpp
        .iter()
        .map(|d| {
            let a = args(&[
                ("--namesrv", p.ns.addr()),
                ("--topic", topic(d)),
                ("--run-id", format!("{}-ha", d.name)),
                ("--count", s(N)),
                ("--mode", s("sync")),
                ("--timeout", s(60)),
            ]);
            let run = d.run("send", &a);
            assert_eq!(run.code, Some(0), "{}\n{}", run.context(), p.logs());
            assert_eq!(run.of("sent").len(), N, "{}", run.context());
            run
        })
        .collect();

    // the slave has every message (same max offset per queue) and the topics
    let master_addr = p.master_addr();
    let slave_addr = p.slave_addr();
    for d in &cpp {
        let t = topic(d);
        let caught_up = wait_for(Duration::from_secs(60), || {
            let m: Vec<_> = (0..4).map(|q| p.max_offset(&master_addr, &t, q)).collect();
            let s: Vec<_> = (0..4).map(|q| p.max_offset(&slave_addr, &t, q)).collect();
            m.iter().flatten().sum::<i64>() == N as i64 && m == s
        });
        assert!(caught_up, "slave never caught up on {t}\n{}", p.logs());
        assert!(
            wait_for(Duration::from_secs(30), || p.slave_knows_topic(&t)),
            "slave never synced topic {t} from the master\n{}",
            p.logs()
        );
    }
    println!("slave caught up after {:.1}s", started.elapsed().as_secs_f64());

    // SIGKILL the master (left unreaped: the Daemon's drop reaps it); the name server drops
    // it from the route when its connection closes
    p.master.as_mut().unwrap().child.kill().expect("SIGKILL master");
    assert!(
        wait_for(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", mport)).is_err()),
        "the master still accepts connections after SIGKILL"
    );
    for d in &cpp {
        let t = topic(d);
        assert!(
            wait_for(Duration::from_secs(30), || p.route_ids(&t) == vec![1]),
            "route of {t} still names the master: {:?}",
            p.route_ids(&t)
        );
    }

    // new groups, started while the master is down: everything comes from the slave
    let consumers: Vec<Running> = cpp
        .iter()
        .map(|d| {
            let a = args(&[
                ("--namesrv", p.ns.addr()),
                ("--topic", topic(d)),
                ("--group", format!("CG_slave_{}", d.name)),
                ("--expect", s(N)),
                ("--idle", s(5)),
                ("--timeout", s(120)),
            ]);
            d.spawn("consume", &a)
        })
        .collect();
    let consumed: Vec<Run> = consumers.into_iter().map(|r| r.wait(Duration::from_secs(180))).collect();
    for ((d, sent), got) in cpp.iter().zip(&produced).zip(&consumed) {
        assert_eq!(got.code, Some(0), "{}\n{}", got.context(), p.logs());
        assert_exactly_once(sent, &format!("{}-ha", d.name), got);
        assert_eq!(got.of("received").len(), N, "{}", got.context());
        // the consumer's offset commits went to the slave (Java keeps them in its memory)
        let group = format!("CG_slave_{}", d.name);
        let committed = p.slave_committed(&group, &topic(d));
        assert_eq!(committed, N as i64, "{group}: offsets committed to the slave");
        println!("{}: {N} messages consumed from the slave with the master down", d.name);
    }
    println!("slave-read scenario: {:.1}s", started.elapsed().as_secs_f64());
}
