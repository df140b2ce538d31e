//! `topicRoute` (`TopicRouteSubCommand`) and `topicList` (`TopicListSubCommand`).

use indexmap::IndexMap;
use rmq_common::fastjson::{self, EmitOptions, Key, Object, Value};
use rmq_remoting::protocol::body::{self, BrokerData, ClusterInfo, TopicRouteData};

use crate::cli::{CommandLine, Opt, Options};
use crate::client::AdminClient;
use crate::error::{wrap, AdminError, Failure};
use crate::format::{java_trim, jlen, left};
use crate::jcoll::{hashmap_order_idx, hashset_order, long_hashmap_order};
use crate::{Ctx, SubCommand};

pub fn route_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "topicRoute",
        alias: None,
        desc: "Examine topic route info.",
        options: |o: &mut Options| {
            o.add(Opt::new("t", "topic", true, "topic name").required());
            o.add(Opt::new("l", "list", false, "Use list format to print data"));
        },
        execute: |ctx, cl| Box::pin(route_execute(ctx, cl)),
    }]
}

pub fn list_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "topicList",
        alias: None,
        desc: "Fetch all topic list from name server.",
        options: |o: &mut Options| {
            o.add(Opt::new("c", "clusterModel", false, "clusterModel"));
        },
        execute: |ctx, cl| Box::pin(list_execute(ctx, cl)),
    }]
}

/// A decoded TopicRouteData plus the static-topic mapping, kept as raw JSON.
pub struct Route {
    pub data: TopicRouteData,
    pub queue_mapping: Value,
}

pub fn decode_route(bytes: &[u8]) -> Result<Route, AdminError> {
    let data: TopicRouteData = body::decode("TopicRouteData", bytes).map_err(|e| AdminError::Json(e.to_string()))?;
    let raw = fastjson::parse_bytes(bytes).map_err(|e| AdminError::Json(e.to_string()))?;
    let queue_mapping = raw.get("topicQueueMappingByBroker").cloned().unwrap_or_default();
    Ok(Route { data, queue_mapping })
}

async fn route_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let topic = java_trim(cl.value("t").unwrap_or_default()).to_string();
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = async {
        let route = decode_route(&client.topic_route_body(&topic).await?)?;
        if cl.has("l") {
            print_route_list(ctx, &route.data)
        } else {
            ctx.print(&format!("{}\n", route_json(&route)));
            Ok(())
        }
    }
    .await;
    client.close().await;
    result.map_err(wrap("TopicRouteSubCommand"))
}

/// `topicRouteData.toJson(true)`: fastjson PrettyFormat of the Java 5.3.3 bean, whose
/// maps are `HashMap`s (so `brokerAddrs` and `filterServerTable` come out in hash
/// order) and whose lists are expanded one item per line.
pub fn route_json(route: &Route) -> String {
    let d = &route.data;
    let mut o = Object::new();
    o.push("brokerDatas", Value::Array(d.broker_datas.iter().map(broker_value).collect()));
    let keys: Vec<&str> = d.filter_server_table.keys().map(String::as_str).collect();
    let mut filters = Object::new();
    for i in hashmap_order_idx(&keys) {
        let servers = d.filter_server_table[i].iter().map(|s| Value::from(s.as_str())).collect::<Vec<_>>();
        filters.push(keys[i], Value::Array(servers));
    }
    o.push("filterServerTable", filters);
    o.push("orderTopicConf", d.order_topic_conf.clone());
    o.push("queueDatas", Value::Array(d.queue_datas.iter().map(queue_value).collect()));
    o.push("topicQueueMappingByBroker", route.queue_mapping.clone());
    let opts = EmitOptions { pretty: true, pretty_expand_arrays: true, ..EmitOptions::COMPACT };
    fastjson::to_string(&Value::Object(o), &opts)
}

fn broker_value(b: &BrokerData) -> Value {
    let mut o = Object::new();
    o.push("brokerAddrs", Value::Object(addrs_object(&b.broker_addrs)));
    o.push("brokerName", b.broker_name.as_str());
    o.push("cluster", b.cluster.as_str());
    o.push("enableActingMaster", b.enable_acting_master.unwrap_or(false));
    o.push("zoneName", b.zone_name.clone());
    Value::Object(o)
}

fn addrs_object(addrs: &IndexMap<i64, String>) -> Object {
    let ids: Vec<i64> = addrs.keys().copied().collect();
    let mut o = Object::new();
    for id in long_hashmap_order(&ids) {
        o.push(Key::Num(id.to_string()), addrs[&id].as_str());
    }
    o
}

fn queue_value(q: &rmq_remoting::protocol::body::QueueData) -> Value {
    let mut o = Object::new();
    o.push("brokerName", q.broker_name.as_str());
    o.push("perm", q.perm);
    o.push("readQueueNums", q.read_queue_nums);
    o.push("topicSysFlag", q.topic_sys_flag);
    o.push("writeQueueNums", q.write_queue_nums);
    Value::Object(o)
}

/// `HashMap<Long, String>.toString()`: `{0=addr, 1=addr}` in hash order.
pub fn addrs_to_string(addrs: &IndexMap<i64, String>) -> String {
    let ids: Vec<i64> = addrs.keys().copied().collect();
    let parts: Vec<String> = long_hashmap_order(&ids).iter().map(|id| format!("{id}={}", addrs[id])).collect();
    format!("{{{}}}", parts.join(", "))
}

/// `"%-45s %-32s %-50s %-10s %-11s %-5s%n"`.
fn route_line(cols: [&str; 6]) -> String {
    format!(
        "{} {} {} {} {} {}\n",
        left(cols[0], 45),
        left(cols[1], 32),
        left(cols[2], 50),
        left(cols[3], 10),
        left(cols[4], 11),
        left(cols[5], 5)
    )
}

/// `topicRoute -l`. Printed line by line: a broker without queue data is a Java
/// NullPointerException after the lines before it.
fn print_route_list(ctx: &mut Ctx, d: &TopicRouteData) -> Result<(), AdminError> {
    let mut by_name: IndexMap<&str, &rmq_remoting::protocol::body::QueueData> = IndexMap::new();
    for q in &d.queue_datas {
        by_name.insert(q.broker_name.as_str(), q);
    }
    let mut brokers: Vec<&BrokerData> = d.broker_datas.iter().collect();
    brokers.sort_by(|a, b| a.broker_name.encode_utf16().cmp(b.broker_name.encode_utf16()));
    ctx.print(&route_line(["#ClusterName", "#BrokerName", "#BrokerAddrs", "#ReadQueue", "#WriteQueue", "#Perm"]));
    let (mut total_read, mut total_write) = (0i32, 0i32);
    for b in brokers {
        let q = by_name.get(b.broker_name.as_str()).ok_or(AdminError::NullPointer)?;
        total_read = total_read.wrapping_add(q.read_queue_nums);
        total_write = total_write.wrapping_add(q.write_queue_nums);
        ctx.print(&route_line([
            &b.cluster,
            &b.broker_name,
            &addrs_to_string(&b.broker_addrs),
            &q.read_queue_nums.to_string(),
            &q.write_queue_nums.to_string(),
            &q.perm.to_string(),
        ]));
    }
    ctx.print(&format!("{}\n", "-".repeat(158)));
    ctx.print(&route_line([
        "Total:",
        &by_name.len().to_string(),
        "",
        &total_read.to_string(),
        &total_write.to_string(),
        "",
    ]));
    Ok(())
}

async fn list_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result =
        if cl.has("c") { list_cluster_model(ctx, &mut client).await } else { list_plain(ctx, &mut client).await };
    client.close().await;
    result.map_err(wrap("TopicListSubCommand"))
}

async fn list_plain(ctx: &mut Ctx, client: &mut AdminClient) -> Result<(), AdminError> {
    let list = client.all_topic_list().await?;
    for topic in hashset_order(&list.topic_list) {
        ctx.print(&format!("{topic}\n"));
    }
    Ok(())
}

/// `UtilAll.frontStringAtLeast`: at most `size` characters.
fn front(s: &str, size: usize) -> String {
    if jlen(s) > size {
        s.chars().take(size).collect()
    } else {
        s.to_string()
    }
}

async fn list_cluster_model(ctx: &mut Ctx, client: &mut AdminClient) -> Result<(), AdminError> {
    let info = client.broker_cluster_info().await?;
    ctx.print(&format!("{}  {}  {}\n", left("#Cluster Name", 20), left("#Topic", 48), left("#Consumer Group", 48)));
    let list = client.all_topic_list().await?;
    for topic in hashset_order(&list.topic_list) {
        if topic.starts_with("%RETRY%") || topic.starts_with("%DLQ%") {
            continue;
        }
        // Java: clusterName = "" and an empty group list, overwritten step by step;
        // any exception leaves the rest as it was.
        let mut cluster: Option<String> = Some(String::new());
        let mut groups: Option<Vec<String>> = Some(Vec::new());
        if let Ok(c) = topic_cluster(client, &topic, &info).await {
            cluster = c;
            if let Ok(g) = consumed_by(client, &topic).await {
                groups = g;
            }
        }
        let groups = match groups {
            Some(g) if !g.is_empty() => hashset_order(&g),
            _ => vec![String::new()],
        };
        let cluster_text = cluster.as_deref().map_or_else(|| "null".to_string(), |c| front(c, 20));
        for group in groups {
            ctx.print(&format!(
                "{}  {}  {}\n",
                left(&cluster_text, 20),
                left(&front(&topic, 64), 64),
                left(&front(&group, 64), 64)
            ));
        }
    }
    Ok(())
}

/// `findTopicBelongToWhichCluster`: the first cluster (hash order) holding the
/// route's first broker; `None` is Java's `null`.
async fn topic_cluster(
    client: &mut AdminClient,
    topic: &str,
    info: &ClusterInfo,
) -> Result<Option<String>, AdminError> {
    let route = decode_route(&client.topic_route_body(topic).await?)?;
    let first = route
        .data
        .broker_datas
        .first()
        .ok_or_else(|| AdminError::IllegalArgument("Index 0 out of bounds for length 0".into()))?;
    let keys: Vec<&str> = info.cluster_addr_table.keys().map(String::as_str).collect();
    for i in hashmap_order_idx(&keys) {
        if info.cluster_addr_table[i].contains(&first.broker_name) {
            return Ok(Some(keys[i].to_string()));
        }
    }
    Ok(None)
}

/// `queryTopicConsumeByWho`: asks the first broker of the route that has an address.
async fn consumed_by(client: &mut AdminClient, topic: &str) -> Result<Option<Vec<String>>, AdminError> {
    let route = decode_route(&client.topic_route_body(topic).await?)?;
    let Some(b) = route.data.broker_datas.first() else { return Ok(None) };
    // selectBrokerAddr: the master, else any address (Java picks one at random, and
    // throws on an empty map).
    let addr = match b.broker_addrs.get(&0) {
        Some(a) => a.clone(),
        None => b
            .broker_addrs
            .values()
            .next()
            .cloned()
            .ok_or_else(|| AdminError::IllegalArgument("bound must be positive".into()))?,
    };
    client.topic_consume_by_who(&addr, topic).await.map(Some)
}

#[cfg(test)]
#[path = "topic_tests.rs"]
mod tests;
