//! Driver for the `rocketmq-client-rust` crate (crates.io), used by compat-tests/tests/clients.rs.
//!
//! ```text
//! rmq-client-rust-driver SCENARIO --namesrv 127.0.0.1:PORT --topic T [--group G] [options]
//! ```
//!
//! Same command line and JSON-lines output as the other drivers (compat-tests/clients/README.md).
//! The name server address is given to every builder explicitly (so the client never falls back
//! to an HTTP address server) and must be a loopback address. Client logging is off; stdout carries
//! only the JSON events. Exit codes: 0 ok, 1 failure, 2 unsupported, 3 timeout.

// DefaultMQPullConsumer (classic pull) is deprecated in favour of the lite pull consumer; it is
// used on purpose: it is the pull API the other clients have (explicit queue + offset).
#![allow(deprecated)]

use std::any::Any;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus,
    ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQProducer, DefaultMQPullConsumer,
    DefaultMQPushConsumer, LocalTransactionState, MQPushConsumer, TransactionListener,
    TransactionMQProducer,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

const CLIENT: &str = "rust";
const PACKAGE: &str = "rocketmq-client-rust==1.0.0";
const EXIT_OK: i32 = 0;
const EXIT_FAIL: i32 = 1;
const EXIT_UNSUPPORTED: i32 = 2;
const EXIT_TIMEOUT: i32 = 3;

static OUT: Mutex<()> = Mutex::new(());

fn emit(event: &str, fields: Value) {
    let mut obj = Map::new();
    obj.insert("event".into(), json!(event));
    obj.insert("client".into(), json!(CLIENT));
    if let Value::Object(m) = fields {
        obj.extend(m);
    }
    // serde_json's Map is a BTreeMap: keys come out sorted, like the other drivers.
    let line = Value::Object(obj).to_string();
    let _g = OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn finish(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

#[derive(Clone, Debug)]
struct Args {
    scenario: String,
    namesrv: String,
    topic: String,
    group: String,
    count: usize,
    mode: String,
    tags: String,
    body_size: usize,
    sharding_keys: usize,
    delay_level: i32,
    run_id: String,
    seq_start: usize,
    tx: String,
    check: String,
    wait_checks: f64,
    model: String,
    subscribe: String,
    orderly: bool,
    expect: usize,
    idle: f64,
    timeout: f64,
    reconsume_later: String,
    max_reconsume_times: i32,
    instance: String,
    send_timeout_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut a = Args {
        scenario: argv.first().cloned().unwrap_or_default(),
        namesrv: String::new(),
        topic: String::new(),
        group: String::new(),
        count: 1,
        mode: "sync".into(),
        tags: String::new(),
        body_size: 64,
        sharding_keys: 0,
        delay_level: 0,
        run_id: "r".into(),
        seq_start: 0,
        tx: "commit".into(),
        check: "commit".into(),
        wait_checks: 0.0,
        model: "clustering".into(),
        subscribe: "*".into(),
        orderly: false,
        expect: 0,
        idle: 2.0,
        timeout: 30.0,
        reconsume_later: "none".into(),
        max_reconsume_times: -1,
        instance: String::new(),
        send_timeout_ms: 3000,
    };
    let mut i = 1;
    while i < argv.len() {
        let k = argv[i].as_str();
        if k == "--orderly" {
            a.orderly = true;
            i += 1;
            continue;
        }
        let v = argv
            .get(i + 1)
            .ok_or_else(|| format!("{k} needs a value"))?
            .clone();
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{k}: not a number: {v}"))
        };
        match k {
            "--namesrv" => a.namesrv = v,
            "--topic" => a.topic = v,
            "--group" => a.group = v,
            "--count" => a.count = num(&v)? as usize,
            "--mode" => a.mode = v,
            "--tags" => a.tags = v,
            "--body-size" => a.body_size = num(&v)? as usize,
            "--sharding-keys" => a.sharding_keys = num(&v)? as usize,
            "--delay-level" => a.delay_level = num(&v)? as i32,
            "--run-id" => a.run_id = v,
            "--seq-start" => a.seq_start = num(&v)? as usize,
            "--tx" => a.tx = v,
            "--check" => a.check = v,
            "--wait-checks" => a.wait_checks = num(&v)?,
            "--model" => a.model = v,
            "--subscribe" => a.subscribe = v,
            "--expect" => a.expect = num(&v)? as usize,
            "--idle" => a.idle = num(&v)?,
            "--timeout" => a.timeout = num(&v)?,
            "--reconsume-later" => a.reconsume_later = v,
            "--max-reconsume-times" => a.max_reconsume_times = num(&v)? as i32,
            "--instance" => a.instance = v,
            "--send-timeout-ms" => a.send_timeout_ms = num(&v)? as u64,
            _ => return Err(format!("unknown option {k}")),
        }
        i += 2;
    }
    if !["send", "transaction", "consume", "pull", "info"].contains(&a.scenario.as_str()) {
        return Err("scenario must be one of send, transaction, consume, pull, info".into());
    }
    if a.scenario != "info" {
        if a.namesrv.is_empty() || a.topic.is_empty() {
            return Err("--namesrv and --topic are required".into());
        }
        for addr in a.namesrv.split(';') {
            let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
            if !(host.starts_with("127.") || host == "localhost") {
                return Err(format!(
                    "refusing a name server that is not on the loopback interface: {addr}"
                ));
            }
        }
    }
    if a.group.is_empty() {
        a.group = format!("compat_{CLIENT}_{}", a.scenario);
    }
    Ok(a)
}

const FILL: &[u8] =
    b"RocketMQ-compat-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ\n";

fn make_body(run: &str, seq: usize, size: usize) -> Vec<u8> {
    let head = format!("{run}:{CLIENT}:{seq}:").into_bytes();
    if size <= head.len() {
        return head[..size.max(1)].to_vec();
    }
    let mut out = head;
    while out.len() < size {
        let n = (size - out.len()).min(FILL.len());
        out.extend_from_slice(&FILL[..n]);
    }
    out
}

fn sha256(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

fn classify(message: &str) -> &'static str {
    let m = message.to_lowercase();
    if m.contains("no route info")
        || m.contains("no topic route info")
        || m.contains("topic not exist")
        || m.contains("topic_not_exist")
        || m.contains("not exist")
    {
        "no_route"
    } else if (m.contains("connect") || m.contains("refused"))
        && (m.contains("name server") || m.contains("nameserver") || m.contains("namesrv"))
    {
        "namesrv_unreachable"
    } else if m.contains("timeout") || m.contains("timed out") {
        "timeout"
    } else if m.contains("connect") || m.contains("refused") {
        "connect_failed"
    } else {
        "other"
    }
}

fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

struct Spec {
    seq: usize,
    body: Vec<u8>,
    tag: String,
    keys: String,
    sk: String,
    delay: i32,
}

impl Spec {
    fn new(a: &Args, seq: usize) -> Spec {
        let tags: Vec<&str> = a.tags.split(',').filter(|t| !t.is_empty()).collect();
        Spec {
            seq,
            body: make_body(&a.run_id, seq, a.body_size),
            tag: if tags.is_empty() {
                String::new()
            } else {
                tags[seq % tags.len()].to_string()
            },
            keys: format!("k-{}-{seq}", a.run_id),
            sk: if a.sharding_keys > 0 {
                format!("sk-{}", seq % a.sharding_keys)
            } else {
                String::new()
            },
            delay: a.delay_level,
        }
    }

    fn message(&self, a: &Args) -> Message {
        let mut b = Message::builder()
            .topic(a.topic.as_str())
            .key(self.keys.as_str())
            .body_slice(&self.body);
        if !self.tag.is_empty() {
            b = b.tags(self.tag.as_str());
        }
        if self.delay > 0 {
            b = b.delay_level(self.delay);
        }
        let mut props = vec![
            ("compat_seq", self.seq.to_string()),
            ("compat_run", a.run_id.clone()),
            ("compat_client", CLIENT.to_string()),
        ];
        if !self.sk.is_empty() {
            props.push(("compat_sk", self.sk.clone()));
        }
        for (k, v) in props {
            b = b.raw_property(k, v.as_str()).expect("user property");
        }
        b.build_unchecked()
    }

    fn fields(&self) -> Value {
        json!({
            "seq": self.seq, "bodySha256": sha256(&self.body), "bodyLen": self.body.len(), "tags": self.tag,
            "keys": self.keys, "shardingKey": if self.sk.is_empty() { Value::Null } else { json!(self.sk) },
            "delayLevel": if self.delay > 0 { json!(self.delay) } else { Value::Null },
        })
    }
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(x), Value::Object(y)) = (&mut a, b) {
        x.extend(y);
    }
    a
}

const RECV_PROPS: &[&str] = &[
    "compat_seq",
    "compat_run",
    "compat_client",
    "compat_sk",
    "DELAY",
    "RETRY_TOPIC",
    "ORIGIN_MESSAGE_ID",
    "TRAN_MSG",
    "UNIQ_KEY",
    "REAL_TOPIC",
    "REAL_QID",
    "PGROUP",
];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn describe(m: &MessageExt) -> Value {
    let body = m.body().unwrap_or_default();
    let mut props = Map::new();
    for k in RECV_PROPS {
        if let Some(v) = m.properties().get(&CheetahString::from_static_str(k)) {
            if !v.is_empty() {
                props.insert((*k).into(), json!(v.as_str()));
            }
        }
    }
    // The Java-style msgId of a received message is its UNIQ_KEY when it has one.
    let uniq = m
        .properties()
        .get(&CheetahString::from_static_str("UNIQ_KEY"))
        .map(|s| s.to_string());
    json!({
        "msgId": uniq.unwrap_or_else(|| m.msg_id().to_string()), "topic": m.topic().as_str(), "queueId": m.queue_id(),
        "queueOffset": m.queue_offset(), "bodySha256": sha256(&body), "bodyLen": body.len(),
        "tags": m.get_tags().map(|t| t.to_string()).unwrap_or_default(),
        "keys": m.properties().get(&CheetahString::from_static_str("KEYS")).map(|s| s.to_string()).unwrap_or_default(),
        "properties": Value::Object(props), "reconsumeTimes": m.reconsume_times(),
        "bornTimestamp": m.born_timestamp(), "storeTimestamp": m.store_timestamp(), "receivedAt": now_ms(),
    })
}

struct Runtime {
    owner: rocketmq_runtime::RuntimeOwner,
    client: Arc<ClientRuntime>,
    _telemetry: rocketmq_observability::TelemetryRuntimeGuard,
}

fn new_runtime() -> Result<Runtime, String> {
    let owner = rocketmq_runtime::RuntimeOwner::plan(rocketmq_runtime::RuntimeConfig {
        thread_name: "rmq-compat-driver".into(),
        ..Default::default()
    })
    .map_err(|e| format!("runtime plan: {e}"))?
    .build()
    .map_err(|e| format!("runtime build: {e}"))?;
    let mut tcfg = rocketmq_observability::TelemetryBootstrapConfig::default();
    tcfg.logging.enabled = false; // stdout carries only JSON events
    tcfg.observability.enabled = false;
    let telemetry =
        rocketmq_observability::install_global(&tcfg).map_err(|e| format!("telemetry: {e}"))?;
    let client = ClientRuntime::try_new(
        owner.root_context().component("client"),
        ClientRuntimeConfig::default(),
        telemetry.handle(),
    )
    .map_err(|e| format!("client runtime: {e}"))?;
    Ok(Runtime {
        owner,
        client,
        _telemetry: telemetry,
    })
}

/// The error text: Display plus the Debug chain (the Display form alone is often generic, e.g.
/// "core.argument.invalid"), classified on both.
fn err_text<E: std::error::Error + ?Sized>(e: &E) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(" <- ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

fn send_error<E: std::error::Error + ?Sized>(seq: usize, mode: &str, e: &E) {
    let msg = err_text(e);
    emit(
        "send_error",
        json!({"seq": seq, "kind": classify(&msg), "message": msg, "mode": mode}),
    );
}

async fn scenario_send(a: &Args, rt: &Runtime) -> i32 {
    let mut producer = DefaultMQProducer::builder(rt.client.clone())
        .producer_group(a.group.as_str())
        .name_server_addr(a.namesrv.as_str())
        .send_msg_timeout(a.send_timeout_ms as u32)
        .retry_times_when_send_failed(1)
        .build();
    if let Err(e) = producer.start().await {
        let msg = err_text(&e);
        emit(
            "error",
            json!({"stage": "start", "kind": classify(&msg), "message": msg}),
        );
        return EXIT_FAIL;
    }
    emit("ready", json!({"role": "producer", "group": a.group}));
    let specs: Vec<Spec> = (0..a.count)
        .map(|i| Spec::new(a, a.seq_start + i))
        .collect();
    let mut failures = 0usize;
    let sent = |s: &Spec, r: &rocketmq_client_rust::SendResult, via: &str| {
        emit(
            "sent",
            merge(
                json!({
                    "msgId": r.msg_id.as_ref().map(|m| m.to_string()), "status": r.send_status.to_string(),
                    "queueOffset": r.queue_offset, "queueId": r.message_queue.as_ref().map(|q| q.queue_id()),
                    "mode": a.mode, "via": via,
                }),
                s.fields(),
            ),
        )
    };
    match a.mode.as_str() {
        "batch" => {
            let msgs: Vec<Message> = specs.iter().map(|s| s.message(a)).collect();
            match producer.send_batch(msgs).await {
                Ok(r) => {
                    let ids: Vec<String> = r
                        .msg_id
                        .as_ref()
                        .map(|m| m.as_str().split(',').map(str::to_string).collect())
                        .unwrap_or_default();
                    for (i, s) in specs.iter().enumerate() {
                        emit(
                            "sent",
                            merge(
                                json!({
                                    "msgId": ids.get(i), "status": r.send_status.to_string(),
                                    "queueOffset": r.queue_offset + i as u64,
                                    "queueId": r.message_queue.as_ref().map(|q| q.queue_id()), "mode": "batch", "via": "api",
                                }),
                                s.fields(),
                            ),
                        );
                    }
                }
                Err(e) => {
                    failures += specs.len();
                    send_error(specs[0].seq, "batch", &e);
                }
            }
        }
        "async" => {
            let pending = Arc::new(AtomicUsize::new(specs.len()));
            let failed = Arc::new(AtomicUsize::new(0));
            for s in &specs {
                let fields = s.fields();
                let seq = s.seq;
                let (p, f) = (pending.clone(), failed.clone());
                let cb =
                    move |r: Option<&rocketmq_client_rust::SendResult>,
                          e: Option<&rocketmq_client_rust::ClientError>| {
                        match (r, e) {
                            (Some(r), _) => emit(
                                "sent",
                                merge(
                                    json!({
                                        "msgId": r.msg_id.as_ref().map(|m| m.to_string()), "status": r.send_status.to_string(),
                                        "queueOffset": r.queue_offset, "queueId": r.message_queue.as_ref().map(|q| q.queue_id()),
                                        "mode": "async", "via": "api",
                                    }),
                                    fields.clone(),
                                ),
                            ),
                            (None, Some(e)) => {
                                f.fetch_add(1, Ordering::SeqCst);
                                send_error(seq, "async", e);
                            }
                            (None, None) => {
                                f.fetch_add(1, Ordering::SeqCst);
                                emit(
                                    "send_error",
                                    json!({"seq": seq, "kind": "other", "message": "empty callback", "mode": "async"}),
                                );
                            }
                        }
                        p.fetch_sub(1, Ordering::SeqCst);
                    };
                if let Err(e) = producer.send_with_callback(s.message(a), cb).await {
                    failed.fetch_add(1, Ordering::SeqCst);
                    pending.fetch_sub(1, Ordering::SeqCst);
                    send_error(s.seq, "async", &e);
                }
            }
            let deadline = Instant::now() + Duration::from_secs_f64((a.timeout - 2.0).max(3.0));
            while pending.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if pending.load(Ordering::SeqCst) > 0 {
                emit(
                    "send_error",
                    json!({"seq": Value::Null, "kind": "timeout", "message": "async callbacks missing", "mode": "async"}),
                );
                failures += pending.load(Ordering::SeqCst);
            }
            failures += failed.load(Ordering::SeqCst);
        }
        mode => {
            for s in &specs {
                let res = match mode {
                    "sync" => producer
                        .send(s.message(a))
                        .await
                        .map(|r| r.map(|r| (r, "api"))),
                    "oneway" => producer.send_oneway(s.message(a)).await.map(|_| None),
                    "orderly" => {
                        let key = if s.sk.is_empty() {
                            s.keys.clone()
                        } else {
                            s.sk.clone()
                        };
                        // Java's SelectMessageQueueByHash: |key.hashCode()| mod the queue count.
                        producer
                            .send_with_selector(
                                s.message(a),
                                |mqs: &[MessageQueue], _m: &Message, h: &i32| {
                                    if mqs.is_empty() {
                                        None
                                    } else {
                                        Some(mqs[(h.unsigned_abs() as usize) % mqs.len()].clone())
                                    }
                                },
                                java_hash(&key),
                            )
                            .await
                            .map(|r| r.map(|r| (r, "api")))
                    }
                    other => {
                        emit(
                            "unsupported",
                            json!({"feature": format!("send_{other}"), "reason": "unknown mode"}),
                        );
                        return EXIT_UNSUPPORTED;
                    }
                };
                match res {
                    Ok(Some((r, via))) => sent(s, &r, via),
                    Ok(None) => emit(
                        "sent",
                        merge(
                            json!({"msgId": Value::Null, "status": Value::Null, "queueOffset": Value::Null,
                                   "queueId": Value::Null, "mode": mode, "via": "api"}),
                            s.fields(),
                        ),
                    ),
                    Err(e) => {
                        failures += 1;
                        send_error(s.seq, mode, &e);
                        if a.count > 1 && failures >= 3 {
                            break;
                        }
                    }
                }
            }
        }
    }
    producer.shutdown().await;
    emit(
        "done",
        json!({"sent": a.count.saturating_sub(failures), "failed": failures}),
    );
    if failures == 0 {
        EXIT_OK
    } else {
        EXIT_FAIL
    }
}

struct TxListener {
    execute: LocalTransactionState,
    check: LocalTransactionState,
    check_name: String,
}

impl TransactionListener for TxListener {
    fn execute_local_transaction(
        &self,
        _msg: &dyn MessageTrait,
        _arg: Option<&(dyn Any + Send + Sync)>,
    ) -> LocalTransactionState {
        self.execute
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        let seq = msg
            .properties()
            .get(&CheetahString::from_static_str("compat_seq"))
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(-1);
        let d = describe(msg);
        emit(
            "check",
            json!({"msgId": d["msgId"], "keys": d["keys"], "seq": seq, "result": self.check_name}),
        );
        self.check
    }
}

fn tx_state(s: &str) -> LocalTransactionState {
    match s {
        "rollback" => LocalTransactionState::RollbackMessage,
        "unknown" => LocalTransactionState::Unknown,
        _ => LocalTransactionState::CommitMessage,
    }
}

async fn scenario_transaction(a: &Args, rt: &Runtime) -> i32 {
    let mut producer = TransactionMQProducer::builder(rt.client.clone())
        .producer_group(a.group.as_str())
        .name_server_addr(a.namesrv.as_str())
        .topics(vec![a.topic.as_str()])
        .send_msg_timeout(a.send_timeout_ms as u32)
        .transaction_listener(TxListener {
            execute: tx_state(&a.tx),
            check: tx_state(&a.check),
            check_name: a.check.clone(),
        })
        .build();
    if let Err(e) = producer.start().await {
        let msg = err_text(&e);
        emit(
            "error",
            json!({"stage": "start", "kind": classify(&msg), "message": msg}),
        );
        return EXIT_FAIL;
    }
    emit(
        "ready",
        json!({"role": "transaction-producer", "group": a.group}),
    );
    let mut failures = 0;
    for i in 0..a.count {
        let s = Spec::new(a, a.seq_start + i);
        match producer
            .send_message_in_transaction::<(), _>(s.message(a), None)
            .await
        {
            Ok(r) => {
                let sr = r.send_result.clone().unwrap_or_default();
                emit(
                    "sent",
                    merge(
                        json!({
                            "msgId": sr.msg_id.as_ref().map(|m| m.to_string()), "status": sr.send_status.to_string(),
                            "queueOffset": sr.queue_offset, "queueId": sr.message_queue.as_ref().map(|q| q.queue_id()),
                            "mode": "transaction", "transaction": a.tx, "via": "api",
                            "localState": format!("{:?}", r.local_transaction_state),
                        }),
                        s.fields(),
                    ),
                );
            }
            Err(e) => {
                failures += 1;
                send_error(s.seq, "transaction", &e);
            }
        }
    }
    if a.wait_checks > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(a.wait_checks)).await;
    }
    producer.shutdown().await;
    emit(
        "done",
        json!({"sent": a.count - failures, "failed": failures}),
    );
    if failures == 0 {
        EXIT_OK
    } else {
        EXIT_FAIL
    }
}

struct Counter {
    count: AtomicUsize,
    last: Mutex<Instant>,
}

impl Counter {
    fn add(&self, m: &MessageExt) {
        emit("received", describe(m));
        self.count.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    async fn wait(&self, a: &Args) -> bool {
        let deadline = Instant::now() + Duration::from_secs_f64((a.timeout - 1.5).max(1.0));
        while Instant::now() < deadline {
            let quiet = self
                .last
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .elapsed()
                .as_secs_f64()
                >= a.idle;
            if self.count.load(Ordering::SeqCst) >= a.expect && quiet {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.count.load(Ordering::SeqCst) >= a.expect
    }
}

async fn scenario_consume(a: &Args, rt: &Runtime) -> i32 {
    let mut b = DefaultMQPushConsumer::builder(rt.client.clone())
        .consumer_group(a.group.as_str())
        .name_server_addr(a.namesrv.as_str())
        .message_model(if a.model == "broadcasting" {
            MessageModel::Broadcasting
        } else {
            MessageModel::Clustering
        })
        .consume_from_where(ConsumeFromWhere::ConsumeFromLastOffset);
    if a.max_reconsume_times >= 0 {
        b = b.max_reconsume_times(a.max_reconsume_times);
    }
    let mut consumer = b.build();
    let counter = Arc::new(Counter {
        count: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
    });
    let later = a.reconsume_later == "all";
    if let Err(e) = consumer
        .subscribe(a.topic.as_str(), a.subscribe.as_str())
        .await
    {
        let msg = err_text(&e);
        emit(
            "error",
            json!({"stage": "subscribe", "kind": classify(&msg), "message": msg}),
        );
        return EXIT_FAIL;
    }
    if a.orderly {
        let c = counter.clone();
        consumer.register_message_listener_orderly(
            move |msgs: &[&MessageExt], _ctx: &mut ConsumeOrderlyContext| {
                for m in msgs {
                    c.add(m);
                }
                Ok(if later {
                    ConsumeOrderlyStatus::SuspendCurrentQueueAMoment
                } else {
                    ConsumeOrderlyStatus::Success
                })
            },
        );
    } else {
        let c = counter.clone();
        consumer.register_message_listener_concurrently(
            move |msgs: &[&MessageExt], _ctx: &ConsumeConcurrentlyContext| {
                for m in msgs {
                    c.add(m);
                }
                Ok(if later {
                    ConsumeConcurrentlyStatus::ReconsumeLater
                } else {
                    ConsumeConcurrentlyStatus::ConsumeSuccess
                })
            },
        );
    }
    if let Err(e) = consumer.start().await {
        let msg = err_text(&e);
        emit(
            "error",
            json!({"stage": "start", "kind": classify(&msg), "message": msg}),
        );
        return EXIT_FAIL;
    }
    emit(
        "ready",
        json!({"role": "push-consumer", "group": a.group, "model": a.model, "orderly": a.orderly,
               "maxReconsumeTimes": if a.max_reconsume_times >= 0 { a.max_reconsume_times } else { 16 }}),
    );
    let ok = counter.wait(a).await;
    consumer.shutdown().await; // persists consumed offsets (clustering: to the broker)
    emit(
        "done",
        json!({"received": counter.count.load(Ordering::SeqCst)}),
    );
    if ok {
        EXIT_OK
    } else {
        EXIT_FAIL
    }
}

async fn scenario_pull(a: &Args, rt: &Runtime) -> i32 {
    let consumer = match DefaultMQPullConsumer::builder(rt.client.clone())
        .consumer_group(a.group.as_str())
        .name_server_addr(a.namesrv.as_str())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            emit(
                "error",
                json!({"stage": "build", "kind": "other", "message": e.to_string()}),
            );
            return EXIT_FAIL;
        }
    };
    if let Err(e) = consumer.start().await {
        let msg = err_text(&e);
        emit(
            "error",
            json!({"stage": "start", "kind": classify(&msg), "message": msg}),
        );
        return EXIT_FAIL;
    }
    let mqs = match consumer.fetch_subscribe_message_queues(&a.topic).await {
        Ok(q) => q,
        Err(e) => {
            let msg = err_text(&e);
            emit(
                "error",
                json!({"stage": "fetch_queues", "kind": classify(&msg), "message": msg}),
            );
            return EXIT_FAIL;
        }
    };
    emit(
        "ready",
        json!({"role": "pull-consumer", "group": a.group, "queues": mqs.len()}),
    );
    let counter = Counter {
        count: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
    };
    let deadline = Instant::now() + Duration::from_secs_f64((a.timeout - 1.5).max(1.0));
    let mut pending: Vec<(MessageQueue, i64)> = mqs.into_iter().map(|q| (q, 0)).collect();
    while !pending.is_empty() && Instant::now() < deadline {
        let mut next = Vec::new();
        for (mq, off) in pending {
            match consumer.pull(&mq, &a.subscribe, off, 32).await {
                Ok(r) => {
                    use rocketmq_client_rust::PullStatus;
                    let nb = r.next_begin_offset() as i64;
                    match r.pull_status() {
                        PullStatus::Found => {
                            for m in r.msg_found_list().unwrap_or_default() {
                                counter.add(m);
                            }
                            next.push((mq, nb));
                        }
                        PullStatus::NoMatchedMsg if nb > off => next.push((mq, nb)),
                        PullStatus::OffsetIllegal => next.push((mq, nb)),
                        _ => {}
                    }
                }
                Err(e) => {
                    emit(
                        "error",
                        json!({"stage": "pull", "kind": classify(&e.to_string()), "message": e.to_string(), "queueId": mq.queue_id()}),
                    );
                    next.push((mq, off));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        pending = next;
    }
    let _ = consumer.shutdown().await;
    let n = counter.count.load(Ordering::SeqCst);
    emit("done", json!({"received": n}));
    if n >= a.expect {
        EXIT_OK
    } else {
        EXIT_FAIL
    }
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "usage: rmq-client-rust-driver SCENARIO --namesrv ADDR --topic T [options]\n{e}"
            );
            finish(EXIT_UNSUPPORTED);
        }
    };
    // The client reads NAMESRV_ADDR when a builder is not given one: make both agree.
    std::env::set_var("NAMESRV_ADDR", &a.namesrv);
    let timeout = a.timeout;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(timeout));
        emit("timeout", json!({"seconds": timeout}));
        finish(EXIT_TIMEOUT);
    });
    emit(
        "start",
        json!({"scenario": a.scenario, "package": PACKAGE, "pid": std::process::id()}),
    );
    if a.scenario == "info" {
        emit(
            "info",
            json!({"package": PACKAGE, "features": {
                "send_sync": true, "send_async": true, "send_oneway": true, "send_batch": true,
                "orderly_by_sharding_key": true, "transaction": true, "push_consumer": true, "broadcasting": true,
                "orderly_consumer": true, "pull_consumer": true, "max_reconsume_times": true}}),
        );
        finish(EXIT_OK);
    }
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let code = tokio_rt.block_on(async {
        let rt = match new_runtime() {
            Ok(rt) => rt,
            Err(e) => {
                emit(
                    "error",
                    json!({"stage": "runtime", "kind": "other", "message": e}),
                );
                return EXIT_FAIL;
            }
        };
        let code = match a.scenario.as_str() {
            "send" => scenario_send(&a, &rt).await,
            "transaction" => scenario_transaction(&a, &rt).await,
            "consume" => scenario_consume(&a, &rt).await,
            "pull" => scenario_pull(&a, &rt).await,
            _ => EXIT_UNSUPPORTED,
        };
        let _ = tokio::time::timeout(Duration::from_secs(3), rt.client.shutdown()).await;
        let _ = &rt.owner;
        code
    });
    finish(code);
}
