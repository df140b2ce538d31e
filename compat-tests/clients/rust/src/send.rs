//! `send` and `transaction`.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    DefaultMQProducer, LocalTransactionState, TransactionListener, TransactionMQProducer,
};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;
use serde_json::{json, Value};

use crate::common::*;
use crate::Args;

pub(crate) async fn scenario_send(a: &Args, rt: &Runtime) -> i32 {
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

pub(crate) struct TxListener {
    pub(crate) execute: LocalTransactionState,
    pub(crate) check: LocalTransactionState,
    pub(crate) check_name: String,
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

pub(crate) fn tx_state(s: &str) -> LocalTransactionState {
    match s {
        "rollback" => LocalTransactionState::RollbackMessage,
        "unknown" => LocalTransactionState::Unknown,
        _ => LocalTransactionState::CommitMessage,
    }
}

pub(crate) async fn scenario_transaction(a: &Args, rt: &Runtime) -> i32 {
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
