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

mod common;
mod consume;
mod send;

use std::time::Duration;

use serde_json::json;

use common::*;

#[derive(Clone, Debug)]
pub(crate) struct Args {
    pub(crate) scenario: String,
    pub(crate) namesrv: String,
    pub(crate) topic: String,
    pub(crate) group: String,
    pub(crate) count: usize,
    pub(crate) mode: String,
    pub(crate) tags: String,
    pub(crate) body_size: usize,
    pub(crate) sharding_keys: usize,
    pub(crate) delay_level: i32,
    pub(crate) run_id: String,
    pub(crate) seq_start: usize,
    pub(crate) tx: String,
    pub(crate) check: String,
    pub(crate) wait_checks: f64,
    pub(crate) model: String,
    pub(crate) subscribe: String,
    pub(crate) orderly: bool,
    pub(crate) expect: usize,
    pub(crate) idle: f64,
    pub(crate) timeout: f64,
    pub(crate) reconsume_later: String,
    pub(crate) max_reconsume_times: i32,
    pub(crate) instance: String,
    pub(crate) send_timeout_ms: u64,
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
        if k == "--orderly" || k == "--body-hex" {
            if k == "--orderly" {
                a.orderly = true;
            } else {
                BODY_HEX.store(true, std::sync::atomic::Ordering::Relaxed);
            }
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
            "send" => send::scenario_send(&a, &rt).await,
            "transaction" => send::scenario_transaction(&a, &rt).await,
            "consume" => consume::scenario_consume(&a, &rt).await,
            "pull" => consume::scenario_pull(&a, &rt).await,
            _ => EXIT_UNSUPPORTED,
        };
        let _ = tokio::time::timeout(Duration::from_secs(3), rt.client.shutdown()).await;
        let _ = &rt.owner;
        code
    });
    finish(code);
}
