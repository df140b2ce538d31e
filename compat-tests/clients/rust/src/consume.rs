//! `consume` (push consumer) and `pull` (classic pull consumer).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocketmq_client_rust::{
    ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, ConsumeOrderlyContext,
    ConsumeOrderlyStatus, DefaultMQPullConsumer, DefaultMQPushConsumer, MQPushConsumer,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use serde_json::json;

use crate::common::*;
use crate::Args;

pub(crate) async fn scenario_consume(a: &Args, rt: &Runtime) -> i32 {
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

pub(crate) async fn scenario_pull(a: &Args, rt: &Runtime) -> i32 {
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
    // The crate's pull consumer also runs background LITE_PULL_MESSAGE requests that the broker
    // holds (long polling, up to 20 s): nothing to persist here, so do not wait for them.
    let _ = tokio::time::timeout(Duration::from_secs(2), consumer.shutdown()).await;
    let n = counter.count.load(Ordering::SeqCst);
    emit("done", json!({"received": n}));
    if n >= a.expect {
        EXIT_OK
    } else {
        EXIT_FAIL
    }
}
