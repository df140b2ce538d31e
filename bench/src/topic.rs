//! `create-topic`: UPDATE_AND_CREATE_TOPIC (17) on one broker, with the header
//! `mqadmin updateTopic` sends, then (optionally) wait until a name server's route for
//! the topic shows that broker. Used to give each broker of a shared name server its own
//! topic, so route lookups never mix brokers (an unknown topic would fall back to TBW102,
//! which every auto-creating broker registers).

use std::time::{Duration, Instant};

use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::protocol::client::CreateTopicRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode, SerializeType};
use serde::{Deserialize, Serialize};

use crate::conn::bench_client;
use crate::error::{BenchError, Result};
use crate::route::{fetch_route, Route};
use crate::util::check_loopback;

#[derive(Debug, Clone)]
pub struct CreateTopicConfig {
    pub broker: String,
    pub topic: String,
    pub queues: i32,
    /// Wait for this name server's route to list `broker` as a writable master.
    pub namesrv: Option<String>,
    pub wait: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateTopicReport {
    pub kind: String,
    pub broker: String,
    pub topic: String,
    pub queues: i32,
    /// Route as the name server announced it (broker name, address, write queues), if asked.
    pub route: Vec<(String, String, usize)>,
    pub route_wait_ms: Option<f64>,
}

impl CreateTopicReport {
    pub fn render_text(&self) -> String {
        let mut s = format!("created topic {} ({} queues) on {}\n", self.topic, self.queues, self.broker);
        if let Some(ms) = self.route_wait_ms {
            let brokers: Vec<String> =
                self.route.iter().map(|(n, a, q)| format!("{n}@{a} ({q} write queues)")).collect();
            s.push_str(&format!("route after {ms:.0} ms: {}\n", brokers.join(", ")));
        }
        s
    }
}

/// The header of `mqadmin updateTopic -t T -r N -w N` (perm 6, SINGLE_TAG, not ordered).
pub fn create_topic_request(topic: &str, queues: i32) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC);
    CreateTopicRequestHeader {
        topic: topic.to_string(),
        default_topic: crate::route::DEFAULT_TOPIC.to_string(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: Some(0),
        order: Some(false),
        attributes: None,
        force: None,
    }
    .apply_to(&mut cmd);
    cmd
}

pub async fn run(cfg: &CreateTopicConfig) -> Result<CreateTopicReport> {
    check_loopback(&cfg.broker)?;
    if cfg.queues <= 0 {
        return Err(BenchError::Config("--queues must be positive".into()));
    }
    let client = bench_client(SerializeType::Json);
    let ch = client.connect(&cfg.broker).await?;
    let resp = ch.invoke(create_topic_request(&cfg.topic, cfg.queues), cfg.timeout).await;
    ch.close();
    let resp = resp?;
    if resp.response_code() != ResponseCode::SUCCESS {
        return Err(BenchError::response(format!("UPDATE_AND_CREATE_TOPIC {} on {}", cfg.topic, cfg.broker), &resp));
    }
    let mut report = CreateTopicReport {
        kind: "create-topic".into(),
        broker: cfg.broker.clone(),
        topic: cfg.topic.clone(),
        queues: cfg.queues,
        route: Vec::new(),
        route_wait_ms: None,
    };
    let Some(ns) = &cfg.namesrv else {
        return Ok(report);
    };
    let t0 = Instant::now();
    loop {
        if let Some(data) = fetch_route(&client, ns, &cfg.topic, cfg.timeout).await? {
            let route = Route::from_route_data(&data);
            if route.brokers.iter().any(|b| b.addr == cfg.broker) {
                report.route = route
                    .brokers
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        (b.name.clone(), b.addr.clone(), route.write_queues.iter().filter(|q| q.broker == i).count())
                    })
                    .collect();
                report.route_wait_ms = Some((t0.elapsed().as_secs_f64() * 1e4).round() / 10.0);
                return Ok(report);
            }
        }
        if t0.elapsed() >= cfg.wait {
            return Err(BenchError::Startup(format!(
                "name server {ns} did not route topic {} to {} within {:?}",
                cfg.topic, cfg.broker, cfg.wait
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_mqadmin_update_topic_fields() {
        let cmd = create_topic_request("BenchTopic", 8);
        assert_eq!(cmd.code, RequestCode::UPDATE_AND_CREATE_TOPIC.0);
        let ext = |k: &str| cmd.ext(k);
        assert_eq!(ext("topic"), Some("BenchTopic"));
        assert_eq!(ext("defaultTopic"), Some("TBW102"));
        assert_eq!((ext("readQueueNums"), ext("writeQueueNums")), (Some("8"), Some("8")));
        assert_eq!((ext("perm"), ext("topicFilterType"), ext("order")), (Some("6"), Some("SINGLE_TAG"), Some("false")));
    }
}
