//! Shared by the scenarios: JSON-lines output, message bodies and specs, received-message
//! descriptions, the client runtime, error texts, the delivery counter.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cheetah_string::CheetahString;
use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::Args;

pub(crate) const CLIENT: &str = "rust";
pub(crate) const PACKAGE: &str = "rocketmq-client-rust==1.0.0";
pub(crate) const EXIT_OK: i32 = 0;
pub(crate) const EXIT_FAIL: i32 = 1;
pub(crate) const EXIT_UNSUPPORTED: i32 = 2;
pub(crate) const EXIT_TIMEOUT: i32 = 3;

pub(crate) static OUT: Mutex<()> = Mutex::new(());

pub(crate) fn emit(event: &str, fields: Value) {
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

pub(crate) fn finish(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

pub(crate) const FILL: &[u8] =
    b"RocketMQ-compat-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ\n";

pub(crate) fn make_body(run: &str, seq: usize, size: usize) -> Vec<u8> {
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

pub(crate) fn sha256(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn classify(message: &str) -> &'static str {
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

pub(crate) fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

pub(crate) struct Spec {
    pub(crate) seq: usize,
    pub(crate) body: Vec<u8>,
    pub(crate) tag: String,
    pub(crate) keys: String,
    pub(crate) sk: String,
    pub(crate) delay: i32,
}

impl Spec {
    pub(crate) fn new(a: &Args, seq: usize) -> Spec {
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

    pub(crate) fn message(&self, a: &Args) -> Message {
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

    pub(crate) fn fields(&self) -> Value {
        json!({
            "seq": self.seq, "bodySha256": sha256(&self.body), "bodyLen": self.body.len(), "tags": self.tag,
            "keys": self.keys, "shardingKey": if self.sk.is_empty() { Value::Null } else { json!(self.sk) },
            "delayLevel": if self.delay > 0 { json!(self.delay) } else { Value::Null },
        })
    }
}

pub(crate) fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(x), Value::Object(y)) = (&mut a, b) {
        x.extend(y);
    }
    a
}

pub(crate) const RECV_PROPS: &[&str] = &[
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

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `--body-hex`: `received` events also carry the body in hex (the test decodes the C++ client's
/// batch, stored as one message, with it).
pub(crate) static BODY_HEX: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

pub(crate) fn describe(m: &MessageExt) -> Value {
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
    let mut v = json!({
        "msgId": uniq.unwrap_or_else(|| m.msg_id().to_string()), "topic": m.topic().as_str(), "queueId": m.queue_id(),
        "queueOffset": m.queue_offset(), "bodySha256": sha256(&body), "bodyLen": body.len(),
        "tags": m.get_tags().map(|t| t.to_string()).unwrap_or_default(),
        "keys": m.properties().get(&CheetahString::from_static_str("KEYS")).map(|s| s.to_string()).unwrap_or_default(),
        "properties": Value::Object(props), "reconsumeTimes": m.reconsume_times(),
        "bornTimestamp": m.born_timestamp(), "storeTimestamp": m.store_timestamp(), "receivedAt": now_ms(),
    });
    if BODY_HEX.load(Ordering::Relaxed) {
        v["bodyHex"] = json!(body.iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
    v
}

pub(crate) struct Runtime {
    pub(crate) owner: rocketmq_runtime::RuntimeOwner,
    pub(crate) client: Arc<ClientRuntime>,
    pub(crate) _telemetry: rocketmq_observability::TelemetryRuntimeGuard,
}

pub(crate) fn new_runtime() -> Result<Runtime, String> {
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
pub(crate) fn err_text<E: std::error::Error + ?Sized>(e: &E) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(" <- ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

pub(crate) fn send_error<E: std::error::Error + ?Sized>(seq: usize, mode: &str, e: &E) {
    let msg = err_text(e);
    emit(
        "send_error",
        json!({"seq": seq, "kind": classify(&msg), "message": msg, "mode": mode}),
    );
}

pub(crate) struct Counter {
    pub(crate) count: AtomicUsize,
    pub(crate) last: Mutex<Instant>,
}

impl Counter {
    pub(crate) fn add(&self, m: &MessageExt) {
        emit("received", describe(m));
        self.count.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    pub(crate) async fn wait(&self, a: &Args) -> bool {
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
