//! `updateTopic`, `deleteTopic`, `topicStatus` (`UpdateTopicSubCommand`,
//! `DeleteTopicSubCommand`, `TopicStatusSubCommand`).

use indexmap::IndexMap;
use rmq_common::java;

use crate::admin_body::{TopicOffset, TopicStats};
use crate::broker_api::{self, select_broker_addr, TopicArgs};
use crate::cli::{CommandLine, Opt, Options};
use crate::client::AdminClient;
use crate::error::{wrap, AdminError, Failure};
use crate::format::{java_split, java_trim, jlen, left, parse_boolean, parse_int};
use crate::topic::decode_route;
use crate::{jtime, Ctx, SubCommand};

pub fn update_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "updateTopic",
        alias: None,
        desc: "Update or create topic.",
        options: |o: &mut Options| {
            o.add_group(
                vec![
                    Opt::new("b", "brokerAddr", true, "create topic to which broker"),
                    Opt::new("c", "clusterName", true, "create topic to which cluster"),
                ],
                true,
            );
            o.add(Opt::new("a", "attributes", true, "attribute(+a=b,+c=d,-e)"));
            o.add(Opt::new("t", "topic", true, "topic name").required());
            o.add(Opt::new("r", "readQueueNums", true, "set read queue nums"));
            o.add(Opt::new("w", "writeQueueNums", true, "set write queue nums"));
            o.add(Opt::new("p", "perm", true, "set topic's permission(2|4|6), intro[2:W 4:R; 6:RW]"));
            o.add(Opt::new("o", "order", true, "set topic's order(true|false)"));
            o.add(Opt::new("u", "unit", true, "is unit topic (true|false)"));
            o.add(Opt::new("s", "hasUnitSub", true, "has unit sub (true|false)"));
        },
        execute: |ctx, cl| Box::pin(update_execute(ctx, cl)),
    }]
}

pub fn delete_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "deleteTopic",
        alias: None,
        desc: "Delete topic from broker and NameServer.",
        options: |o: &mut Options| {
            o.add(Opt::new("t", "topic", true, "topic name").required());
            o.add(Opt::new("c", "clusterName", true, "delete topic from which cluster").required());
        },
        execute: |ctx, cl| Box::pin(delete_execute(ctx, cl)),
    }]
}

pub fn status_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "topicStatus",
        alias: None,
        desc: "Examine topic Status info.",
        options: |o: &mut Options| {
            o.add(Opt::new("t", "topic", true, "topic name").required());
            o.add(Opt::new("c", "cluster", true, "cluster name or lmq parent topic, lmq is used to find the route."));
        },
        execute: |ctx, cl| Box::pin(status_execute(ctx, cl)),
    }]
}

fn value<'a>(cl: &'a CommandLine, k: &str) -> &'a str {
    java_trim(cl.value(k).unwrap_or_default())
}

/// `AttributeParser.parseToMap`, in `HashMap` order; errors are Java's exceptions.
pub fn parse_attributes(text: &str) -> Result<Vec<(String, String)>, AdminError> {
    let runtime = |m: String| AdminError::Java { class: "java.lang.RuntimeException", message: m };
    let mut map: IndexMap<String, String> = IndexMap::new();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    for kv in java_split(text, ',') {
        let (key, value) = if kv.contains('=') {
            let parts = java_split(&kv, '=');
            let key = parts.first().cloned().unwrap_or_default();
            let value = parts.get(1).cloned().ok_or_else(|| AdminError::Java {
                class: "java.lang.ArrayIndexOutOfBoundsException",
                message: format!("Index 1 out of bounds for length {}", parts.len()),
            })?;
            if !key.contains('+') {
                return Err(runtime(format!("add/alter attribute format is wrong: {key}")));
            }
            (key, value)
        } else {
            if !kv.contains('-') {
                return Err(runtime(format!("delete attribute format is wrong: {kv}")));
            }
            (kv, String::new())
        };
        if map.insert(key.clone(), value).is_some() {
            return Err(runtime(format!("key duplication: {key}")));
        }
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    Ok(java::hashmap_order_owned(&keys).into_iter().map(|k| (k.clone(), map[&k].clone())).collect())
}

/// `PermName.perm2String`.
fn perm_text(perm: i32) -> String {
    let b = |bit: i32, c: char| if perm & bit != 0 { c } else { '-' };
    [b(4, 'R'), b(2, 'W'), b(1, 'X')].iter().collect()
}

/// `TopicConfig.toString()`.
pub fn topic_config_text(t: &TopicArgs) -> String {
    let attrs: Vec<String> = t.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, topicFilterType=SINGLE_TAG, topicSysFlag={}, order={}, attributes={{{}}}]",
        t.topic,
        t.read_queue_nums,
        t.write_queue_nums,
        perm_text(t.perm),
        t.topic_sys_flag,
        t.order,
        attrs.join(", ")
    )
}

fn build_topic(cl: &CommandLine) -> Result<TopicArgs, AdminError> {
    let mut t = TopicArgs {
        topic: value(cl, "t").to_string(),
        read_queue_nums: 8,
        write_queue_nums: 8,
        perm: 6,
        topic_sys_flag: 0,
        order: false,
        attributes: Vec::new(),
    };
    if cl.has("a") {
        t.attributes = parse_attributes(value(cl, "a"))?;
    }
    if cl.has("r") {
        t.read_queue_nums = parse_int(Some(value(cl, "r")))?;
    }
    if cl.has("w") {
        t.write_queue_nums = parse_int(Some(value(cl, "w")))?;
    }
    if cl.has("p") {
        t.perm = parse_int(Some(value(cl, "p")))?;
    }
    let unit = cl.has("u") && parse_boolean(Some(value(cl, "u")));
    let unit_sub = cl.has("s") && parse_boolean(Some(value(cl, "s")));
    t.topic_sys_flag = i32::from(unit) | (i32::from(unit_sub) << 1);
    t.order = cl.has("o") && parse_boolean(Some(value(cl, "o")));
    Ok(t)
}

async fn update_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = update_run(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("UpdateTopicSubCommand"))
}

async fn update_run(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    let t = build_topic(cl)?;
    if cl.has("b") {
        let addr = value(cl, "b").to_string();
        client.create_topic(&addr, &t).await?;
        if t.order {
            let info = client.broker_cluster_info().await?;
            let name = broker_api::broker_name_by_addr(&info, &addr)?;
            let conf = format!("{name}:{}", t.write_queue_nums);
            order_conf_single(client, &t.topic, &conf).await?;
            ctx.print(&format!("set broker orderConf. isOrder={}, orderConf=[{conf}]\n", t.order));
        }
        ctx.print(&format!("create topic to {addr} success.\n{}\n", topic_config_text(&t)));
        return Ok(());
    }
    let cluster = value(cl, "c").to_string();
    let info = client.broker_cluster_info().await?;
    let masters = broker_api::master_addrs(&info, &cluster, &mut |s| ctx.print(s));
    for addr in masters {
        client.create_topic(&addr, &t).await?;
        ctx.print(&format!("create topic to {addr} success.\n"));
    }
    if t.order {
        let names = broker_api::broker_names_of_cluster(&info, &cluster)?;
        let conf: Vec<String> = names.iter().map(|n| format!("{n}:{}", t.write_queue_nums)).collect();
        let conf = conf.join(";");
        client.put_kv_config("ORDER_TOPIC_CONFIG", &t.topic, &conf).await?;
        ctx.print(&format!("set cluster orderConf. isOrder={}, orderConf=[{conf}]\n", t.order));
    }
    ctx.print(&format!("{}\n", topic_config_text(&t)));
    Ok(())
}

/// `createOrUpdateOrderConf(key, value, false)`: merge into the name server's entry by broker name.
async fn order_conf_single(client: &mut AdminClient, topic: &str, conf: &str) -> Result<(), AdminError> {
    // Java prints a failed read's stack trace and carries on with no old value.
    let old = client.get_kv_config("ORDER_TOPIC_CONFIG", topic).await.ok().flatten().unwrap_or_default();
    let mut by_broker: IndexMap<String, String> = IndexMap::new();
    if !old.trim().is_empty() {
        for item in java_split(&old, ';') {
            let name = java_split(&item, ':').first().cloned().unwrap_or_default();
            by_broker.insert(name, item);
        }
    }
    by_broker.insert(java_split(conf, ':').first().cloned().unwrap_or_default(), conf.to_string());
    let keys: Vec<String> = by_broker.keys().cloned().collect();
    let merged: Vec<String> = java::hashmap_order_owned(&keys).iter().map(|k| by_broker[k].clone()).collect();
    client.put_kv_config("ORDER_TOPIC_CONFIG", topic, &merged.join(";")).await
}

async fn delete_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let topic = value(cl, "t").to_string();
    let cluster = value(cl, "c").to_string();
    let result = delete_run(ctx, &mut client, &cluster, &topic).await;
    client.close().await;
    result.map_err(wrap("DeleteTopicSubCommand"))
}

/// `DeleteTopicSubCommand.deleteTopic`: every master, then the name servers.
pub async fn delete_run(ctx: &mut Ctx, client: &mut AdminClient, cluster: &str, topic: &str) -> Result<(), AdminError> {
    let info = client.broker_cluster_info().await?;
    for addr in broker_api::master_addrs(&info, cluster, &mut |s| ctx.print(s)) {
        client.delete_topic_in_broker(&addr, topic).await?;
    }
    ctx.print(&format!("delete topic [{topic}] from cluster [{cluster}] success.\n"));
    // `adminExt.getNamesrvAddr().trim().split(";")` into a HashSet.
    let servers: Vec<String> =
        java_split(java_trim(ctx.namesrv.as_deref().unwrap_or_default()), ';').into_iter().collect::<Vec<_>>();
    let mut unique: Vec<String> = Vec::new();
    for s in servers {
        if !unique.contains(&s) {
            unique.push(s);
        }
    }
    for addr in java::hashmap_order_owned(&unique) {
        client.delete_topic_in_namesrv(&addr, Some(cluster), topic).await?;
    }
    ctx.print(&format!("delete topic [{topic}] from NameServer success.\n"));
    Ok(())
}

async fn status_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = status_run(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("TopicStatusSubCommand"))
}

/// `examineTopicStats(topic)`: every broker of the route (plus the static-topic
/// config look-up Java does); an empty result is an error.
pub async fn examine_topic_stats(client: &mut AdminClient, topic: &str) -> Result<TopicStats, AdminError> {
    let route = decode_route(&client.topic_route_body(topic).await?)?;
    let mut stats = TopicStats::default();
    for b in &route.data.broker_datas {
        if let Some(addr) = select_broker_addr(b) {
            stats.offsets.extend(client.topic_stats(&addr, topic).await?.offsets);
        }
    }
    for b in &route.data.broker_datas {
        if let Some(addr) = select_broker_addr(b) {
            client.check_topic_config(&addr, topic).await?;
        }
    }
    if stats.offsets.is_empty() {
        return Err(AdminError::ClientMessage("Not found the topic stats info".into()));
    }
    Ok(stats)
}

async fn status_run(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    let topic = value(cl, "t").to_string();
    let stats = if cl.has("c") {
        let route = decode_route(&client.topic_route_body(value(cl, "c")).await?)?;
        let mut stats = TopicStats::default();
        for b in &route.data.broker_datas {
            if let Some(addr) = select_broker_addr(b) {
                stats.offsets.extend(client.topic_stats(&addr, &topic).await?.offsets);
            }
        }
        stats
    } else {
        examine_topic_stats(client, &topic).await?
    };
    let mut queues: Vec<_> = stats.offsets.keys().cloned().collect();
    queues.sort();
    ctx.print(&format!(
        "{}  {}  {}  {}    {}\n",
        left("#Broker Name", 32),
        left("#QID", 4),
        left("#Min Offset", 20),
        left("#Max Offset", 20),
        "#Last Updated"
    ));
    for mq in queues {
        let o: TopicOffset = stats.offsets[&mq];
        let human = if o.last_update_timestamp > 0 { jtime::human2(o.last_update_timestamp) } else { String::new() };
        ctx.print(&format!(
            "{}  {}  {}  {}    {human}\n",
            left(&front(&mq.broker_name, 32), 32),
            left(&mq.queue_id.to_string(), 4),
            left(&o.min_offset.to_string(), 20),
            left(&o.max_offset.to_string(), 20),
        ));
    }
    // Java never copies the brokers' put TPS into the merged table.
    ctx.print("\nTopic Put TPS: 0.0\n");
    Ok(())
}

/// `UtilAll.frontStringAtLeast`.
pub fn front(s: &str, size: usize) -> String {
    if jlen(s) > size {
        s.chars().take(size).collect()
    } else {
        s.to_string()
    }
}
