//! `consumerProgress` (`ConsumerProgressSubCommand`) and the `DefaultMQAdminExt`
//! look-ups it shares with other commands (`examineConsumeStats`,
//! `examineConsumerConnectionInfo`).

use std::collections::HashMap;

use rmq_common::java;
use rmq_remoting::codec::{ResponseCode, Version};

use crate::admin_body::{ConsumeStats, ConsumerConnection, Mq};
use crate::broker_api::select_broker_addr;
use crate::cli::{CommandLine, Opt, Options};
use crate::client::AdminClient;
use crate::error::{wrap, AdminError, Failure};
use crate::format::{java_trim, left};
use crate::topic::decode_route;
use crate::topic_admin::front;
use crate::{jtime, Ctx, SubCommand};

pub fn commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "consumerProgress",
        alias: None,
        desc: "Query consumer's progress, speed.",
        options: |o: &mut Options| {
            o.add(Opt::new("g", "groupName", true, "consumer group name"));
            o.add(Opt::new("t", "topicName", true, "topic name"));
            o.add(Opt::new("s", "showClientIP", true, "Show Client IP per Queue"));
            o.add(Opt::new("c", "cluster", true, "Cluster name or lmq parent topic, lmq is used to find the route."));
        },
        execute: |ctx, cl| Box::pin(execute(ctx, cl)),
    }]
}

/// `MixAll.getRetryTopic`.
fn retry_topic(group: &str) -> String {
    format!("%RETRY%{group}")
}

/// `examineConsumeStats(clusterName, group, topic)`.
pub async fn examine_consume_stats(
    client: &mut AdminClient,
    cluster: Option<&str>,
    group: &str,
    topic: Option<&str>,
) -> Result<ConsumeStats, AdminError> {
    let mut route_topics = vec![retry_topic(group)];
    if let Some(t) = topic {
        route_topics.push(t.to_string());
        route_topics.push(format!("%RETRY%{group}_{t}"));
        if t == "rmq_sys_wheel_timer" || t.starts_with("%LMQ%") {
            if let Some(c) = cluster.filter(|c| !c.is_empty()) {
                route_topics.push(c.to_string());
            }
        }
    }
    let mut route = None;
    for (i, t) in route_topics.iter().enumerate() {
        match client.topic_route_body(t).await {
            Ok(b) => {
                route = Some(decode_route(&b)?);
                break;
            }
            Err(e) if i + 1 == route_topics.len() => return Err(e),
            Err(_) => {}
        }
    }
    let route = route.ok_or(AdminError::NullPointer)?;
    let mut result = ConsumeStats::default();
    for b in &route.data.broker_datas {
        if let Some(addr) = select_broker_addr(b) {
            let s = client.consume_stats(&addr, group, topic).await?;
            result.offsets.extend(s.offsets);
            result.consume_tps += s.consume_tps;
        }
    }
    let mut stats = if cluster.is_none_or(str::is_empty) {
        let mut topics: Vec<String> = Vec::new();
        for mq in result.offsets.keys() {
            if !topics.contains(&mq.topic) {
                topics.push(mq.topic.clone());
            }
        }
        let mut out = ConsumeStats { consume_tps: result.consume_tps, ..Default::default() };
        for t in java::hashmap_order_owned(&topics) {
            let r = decode_route(&client.topic_route_body(&t).await?)?;
            if r.queue_mapping.as_object().is_none_or(|m| m.is_empty()) {
                out.offsets.extend(result.offsets.iter().filter(|(mq, _)| mq.topic == t).map(|(k, v)| (k.clone(), *v)));
            }
            for b in &r.data.broker_datas {
                if let Some(addr) = select_broker_addr(b) {
                    client.check_topic_config(&addr, &t).await?;
                }
            }
        }
        out
    } else {
        result
    };
    if stats.offsets.is_empty() {
        let Ok(conn) = examine_consumer_connection(client, group).await else {
            return Err(AdminError::Client {
                code: ResponseCode::CONSUMER_NOT_ONLINE.0,
                remark: Some("Not found the consumer group consume stats, because return offset table is empty, maybe the consumer not online".into()),
            });
        };
        if conn.message_model.as_deref() == Some("BROADCASTING") {
            return Err(AdminError::Client {
                code: ResponseCode::BROADCAST_CONSUMPTION.0,
                remark: Some("Not found the consumer group consume stats, because return offset table is empty, the consumer is under the broadcast mode".into()),
            });
        }
    }
    stats.offsets.sort_keys();
    Ok(stats)
}

/// `examineConsumerConnectionInfo(group)`: asks one broker of the group's retry topic.
pub async fn examine_consumer_connection(
    client: &mut AdminClient,
    group: &str,
) -> Result<ConsumerConnection, AdminError> {
    let route = decode_route(&client.topic_route_body(&retry_topic(group)).await?)?;
    // Java picks a broker at random (and fails on an empty list).
    let b =
        route.data.broker_datas.first().ok_or_else(|| AdminError::IllegalArgument("bound must be positive".into()))?;
    let mut result = ConsumerConnection::default();
    if let Some(addr) = select_broker_addr(b) {
        result = client.consumer_connection(&addr, group).await?;
    }
    if result.connections.is_empty() {
        return Err(AdminError::Client {
            code: ResponseCode::CONSUMER_NOT_ONLINE.0,
            remark: Some("Not found the consumer group connection".into()),
        });
    }
    Ok(result)
}

/// Which client IP holds each queue (`getMessageQueueAllocationResult`); failures give none.
async fn allocation(client: &mut AdminClient, group: &str) -> HashMap<Mq, String> {
    let mut out = HashMap::new();
    let Ok(conn) = examine_consumer_connection(client, group).await else { return out };
    for c in &conn.connections {
        let Ok(route) = client.topic_route_body(&retry_topic(group)).await.and_then(|b| decode_route(&b)) else {
            return out;
        };
        let Some(addr) = route.data.broker_datas.iter().find_map(select_broker_addr) else { return out };
        let Ok(queues) = client.consumer_running_queues(&addr, group, &c.client_id).await else { return out };
        let ip = c.client_id.split('@').next().unwrap_or_default().to_string();
        for mq in queues {
            out.insert(mq, ip.clone());
        }
    }
    out
}

async fn execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    // This command hands the trimmed -n to its admin client itself.
    let namesrv = cl.value("n").map(java_trim).map(str::to_string).or_else(|| ctx.namesrv.clone());
    let mut client = AdminClient::new(namesrv.as_deref());
    let result = run(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("ConsumerProgressSubCommand"))
}

async fn run(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    let show_ip = cl.has("s") && cl.value("s").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let cluster = cl.has("c").then(|| java_trim(cl.value("c").unwrap_or_default()).to_string());
    let Some(group) = cl.has("g").then(|| java_trim(cl.value("g").unwrap_or_default()).to_string()) else {
        return all_groups(ctx, client).await;
    };
    let topic = cl.has("t").then(|| java_trim(cl.value("t").unwrap_or_default()).to_string());
    let stats = match &topic {
        None => examine_consume_stats(client, None, &group, None).await?,
        Some(t) => examine_consume_stats(client, cluster.as_deref(), &group, Some(t)).await?,
    };
    let ips = if show_ip { allocation(client, &group).await } else { HashMap::new() };
    let head = [
        left("#Topic", 64),
        left("#Broker Name", 32),
        left("#QID", 4),
        left("#Broker Offset", 20),
        left("#Consumer Offset", 20),
    ];
    if show_ip {
        ctx.print(&format!(
            "{}  {}  {} {}#LastTime\n",
            head.join("  "),
            left("#Client IP", 20),
            left("#Diff", 20),
            left("#Inflight", 20)
        ));
    } else {
        ctx.print(&format!("{}  {} {}#LastTime\n", head.join("  "), left("#Diff", 20), left("#Inflight", 20)));
    }
    let (mut diff_total, mut inflight_total) = (0i64, 0i64);
    for (mq, w) in &stats.offsets {
        let diff = w.broker_offset.wrapping_sub(w.consumer_offset);
        let inflight = w.pull_offset.wrapping_sub(w.consumer_offset);
        diff_total = diff_total.wrapping_add(diff);
        inflight_total = inflight_total.wrapping_add(inflight);
        let last = if w.last_timestamp == 0 { "N/A".to_string() } else { jtime::date_time(w.last_timestamp) };
        let cols = [
            left(&front(&mq.topic, 64), 64),
            left(&front(&mq.broker_name, 32), 32),
            left(&mq.queue_id.to_string(), 4),
            left(&w.broker_offset.to_string(), 20),
            left(&w.consumer_offset.to_string(), 20),
        ];
        if show_ip {
            let ip = ips.get(mq).map_or("N/A", String::as_str);
            ctx.print(&format!(
                "{}  {} {} {} {last}\n",
                cols.join("  "),
                left(ip, 20),
                left(&diff.to_string(), 20),
                left(&inflight.to_string(), 20)
            ));
        } else {
            ctx.print(&format!(
                "{}  {} {} {last}\n",
                cols.join("  "),
                left(&diff.to_string(), 20),
                left(&inflight.to_string(), 20)
            ));
        }
    }
    ctx.print(&format!(
        "\nConsume TPS: {}\nConsume Diff Total: {diff_total}\nConsume Inflight Total: {inflight_total}\n",
        crate::format::fixed(stats.consume_tps, 2)
    ));
    Ok(())
}

/// `KeyBuilder.parseGroup`.
fn parse_group(retry_topic: &str) -> String {
    let rest = &retry_topic["%RETRY%".len()..];
    if rest.contains('+') {
        let parts: Vec<&str> = retry_topic.split('+').collect();
        if parts.len() == 2 {
            return parts[0]["%RETRY%".len()..].to_string();
        }
    }
    rest.to_string()
}

/// Without `-g`: one line per group that has a retry topic.
async fn all_groups(ctx: &mut Ctx, client: &mut AdminClient) -> Result<(), AdminError> {
    ctx.print(&format!(
        "{}  {}  {} {}  {}  {}  #Diff Total\n",
        left("#Group", 64),
        left("#Count", 6),
        left("#Version", 24),
        left("#Type", 5),
        left("#Model", 14),
        left("#TPS", 7)
    ));
    let list = client.all_topic_list().await?;
    for topic in java::hashmap_order_owned(&list.topic_list) {
        if !topic.starts_with("%RETRY%") {
            continue;
        }
        let group = parse_group(&topic);
        let stats = examine_consume_stats(client, None, &group, None).await.ok();
        let conn = examine_consumer_connection(client, &group).await.ok();
        let (tps, diff) = stats.map_or((0, 0), |s| (s.consume_tps as i32, s.total_diff()));
        let count = conn.as_ref().map_or(0, |c| c.connections.len());
        let (version, kind, model) = match conn.as_ref().filter(|_| count > 0) {
            Some(c) => {
                let active = c.consume_type.as_deref() == Some("CONSUME_ACTIVELY");
                let model =
                    if active { String::new() } else { c.message_model.clone().unwrap_or_else(|| "null".into()) };
                (Version(c.min_version()).desc().to_string(), if active { "PULL" } else { "PUSH" }, model)
            }
            None => ("OFFLINE".to_string(), "", String::new()),
        };
        ctx.print(&format!(
            "{}  {}  {} {}  {}  {}  {diff}\n",
            left(&front(&group, 64), 64),
            left(&count.to_string(), 6),
            left(&version, 24),
            left(kind, 5),
            left(&model, 14),
            left(&tps.to_string(), 7)
        ));
    }
    Ok(())
}
