//! `updateSubGroup`, `deleteSubGroup` (`UpdateSubGroupSubCommand`,
//! `DeleteSubscriptionGroupCommand`).

use rmq_common::fastjson::{self, EmitOptions, Object, Value};

use crate::broker_api;
use crate::cli::{CommandLine, Opt, Options};
use crate::client::AdminClient;
use crate::error::{wrap, AdminError, Failure};
use crate::format::{java_trim, parse_boolean, parse_int, parse_long};
use crate::topic_admin::parse_attributes;
use crate::{Ctx, SubCommand};

pub fn update_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "updateSubGroup",
        alias: None,
        desc: "Update or create subscription group.",
        options: |o: &mut Options| {
            o.add(Opt::new("b", "brokerAddr", true, "create subscription group to which broker"));
            o.add(Opt::new("c", "clusterName", true, "create subscription group to which cluster"));
            o.add(Opt::new("g", "groupName", true, "consumer group name").required());
            o.add(Opt::new("s", "consumeEnable", true, "consume enable"));
            o.add(Opt::new("m", "consumeFromMinEnable", true, "from min offset"));
            o.add(Opt::new("d", "consumeBroadcastEnable", true, "broadcast"));
            o.add(Opt::new("o", "consumeMessageOrderly", true, "consume message orderly"));
            o.add(Opt::new("q", "retryQueueNums", true, "retry queue nums"));
            o.add(Opt::new("r", "retryMaxTimes", true, "retry max times"));
            o.add(Opt::new(
                "p",
                "groupRetryPolicy",
                true,
                "the json string of retry policy ( exp: {\"type\":\"EXPONENTIAL\",\"exponentialRetryPolicy\":{\"initial\":5000,\"max\":7200000,\"multiplier\":2}} {\"type\":\"CUSTOMIZED\",\"customizedRetryPolicy\":{\"next\":[1000,5000,10000]}} )",
            ));
            o.add(Opt::new("i", "brokerId", true, "consumer from which broker id"));
            o.add(Opt::new("w", "whichBrokerWhenConsumeSlowly", true, "which broker id when consume slowly"));
            o.add(Opt::new("a", "notifyConsumerIdsChanged", true, "notify consumerId changed"));
            o.add(Opt::new("", "attributes", true, "attribute(+a=b,+c=d,-e)"));
        },
        execute: |ctx, cl| Box::pin(update_execute(ctx, cl)),
    }]
}

pub fn delete_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "deleteSubGroup",
        alias: None,
        desc: "Delete subscription group from broker.",
        options: |o: &mut Options| {
            o.add(Opt::new("b", "brokerAddr", true, "delete subscription group from which broker"));
            o.add(Opt::new("c", "clusterName", true, "delete subscription group from which cluster"));
            o.add(Opt::new("g", "groupName", true, "subscription group name").required());
            o.add(Opt::new("r", "removeOffset", true, "remove offset"));
        },
        execute: |ctx, cl| Box::pin(delete_execute(ctx, cl)),
    }]
}

fn value<'a>(cl: &'a CommandLine, k: &str) -> &'a str {
    java_trim(cl.value(k).unwrap_or_default())
}

/// 5.3.3 `GroupRetryPolicy` (what `-p` parses into).
#[derive(Debug, Clone, PartialEq)]
struct RetryPolicy {
    kind: String,
    exponential: Option<(i64, i64, i64)>,
    customized: Option<Vec<i64>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { kind: "CUSTOMIZED".into(), exponential: None, customized: None }
    }
}

impl RetryPolicy {
    /// `JSON.parseObject(json, GroupRetryPolicy.class)`.
    fn parse(json: &str) -> Result<RetryPolicy, AdminError> {
        let v = fastjson::parse(json).map_err(|e| AdminError::Json(e.to_string()))?;
        let mut p = RetryPolicy::default();
        if let Some(t) = v.get("type").and_then(Value::as_str) {
            p.kind = t.to_string();
        }
        if let Some(e) = v.get("exponentialRetryPolicy").filter(|e| !e.is_null()) {
            let f = |k: &str, d: i64| e.get(k).and_then(Value::as_i64).unwrap_or(d);
            p.exponential = Some((f("initial", 5000), f("max", 7_200_000), f("multiplier", 2)));
        }
        if let Some(c) = v.get("customizedRetryPolicy").filter(|c| !c.is_null()) {
            let next = c.get("next").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_i64).collect());
            p.customized = Some(next.unwrap_or_else(default_next));
        }
        Ok(p)
    }

    fn to_value(&self) -> Value {
        let mut o = Object::new();
        if let Some(n) = &self.customized {
            let mut c = Object::new();
            c.push("next", Value::Array(n.iter().map(|x| Value::from(*x)).collect()));
            o.push("customizedRetryPolicy", Value::Object(c));
        }
        if let Some((i, m, x)) = self.exponential {
            let mut e = Object::new();
            e.push("initial", i);
            e.push("max", m);
            e.push("multiplier", x);
            o.push("exponentialRetryPolicy", Value::Object(e));
        }
        o.push("type", self.kind.as_str());
        Value::Object(o)
    }

    /// Guava `toStringHelper` output.
    fn text(&self) -> String {
        let exp = self.exponential.map_or("null".to_string(), |(i, m, x)| {
            format!("ExponentialRetryPolicy{{initial={i}, max={m}, multiplier={x}}}")
        });
        let cust = self.customized.as_ref().map_or("null".to_string(), |n| {
            let items: Vec<String> = n.iter().map(i64::to_string).collect();
            format!("CustomizedRetryPolicy{{next=[{}]}}", items.join(", "))
        });
        format!("GroupRetryPolicy{{type={}, exponentialRetryPolicy={exp}, customizedRetryPolicy={cust}}}", self.kind)
    }
}

/// `CustomizedRetryPolicy`'s default delays (1s .. 2h, the 16 retry levels + 2).
fn default_next() -> Vec<i64> {
    let s = 1000;
    let m = 60 * s;
    vec![
        s,
        5 * s,
        10 * s,
        30 * s,
        m,
        2 * m,
        3 * m,
        4 * m,
        5 * m,
        6 * m,
        7 * m,
        8 * m,
        9 * m,
        10 * m,
        20 * m,
        30 * m,
        60 * m,
        120 * m,
    ]
}

/// `SubscriptionGroupConfig` as updateSubGroup builds it.
#[derive(Debug, Clone, PartialEq)]
struct GroupArgs {
    group_name: String,
    consume_enable: bool,
    consume_from_min_enable: bool,
    consume_broadcast_enable: bool,
    consume_message_orderly: bool,
    retry_queue_nums: i32,
    retry_max_times: i32,
    retry_policy: RetryPolicy,
    broker_id: i64,
    which_broker_when_consume_slowly: i64,
    notify_consumer_ids_changed_enable: bool,
    attributes: Vec<(String, String)>,
}

impl GroupArgs {
    fn from_cli(cl: &CommandLine) -> Result<GroupArgs, AdminError> {
        let b = |k: &str| parse_boolean(Some(value(cl, k)));
        let mut g = GroupArgs {
            group_name: value(cl, "g").to_string(),
            consume_enable: true,
            // updateSubGroup starts from false for these two (SubscriptionGroupConfig defaults to true).
            consume_from_min_enable: false,
            consume_broadcast_enable: false,
            consume_message_orderly: false,
            retry_queue_nums: 1,
            retry_max_times: 16,
            retry_policy: RetryPolicy::default(),
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
            attributes: Vec::new(),
        };
        if cl.has("s") {
            g.consume_enable = b("s");
        }
        if cl.has("m") {
            g.consume_from_min_enable = b("m");
        }
        if cl.has("d") {
            g.consume_broadcast_enable = b("d");
        }
        if cl.has("o") {
            g.consume_message_orderly = b("o");
        }
        if cl.has("q") {
            g.retry_queue_nums = parse_int(Some(value(cl, "q")))?;
        }
        if cl.has("r") {
            g.retry_max_times = parse_int(Some(value(cl, "r")))?;
        }
        if cl.has("p") {
            g.retry_policy = RetryPolicy::parse(value(cl, "p"))?;
        }
        if cl.has("i") {
            g.broker_id = parse_long(Some(value(cl, "i")))?;
        }
        if cl.has("w") {
            g.which_broker_when_consume_slowly = parse_long(Some(value(cl, "w")))?;
        }
        if cl.has("a") {
            g.notify_consumer_ids_changed_enable = b("a");
        }
        if cl.has("attributes") {
            g.attributes = parse_attributes(value(cl, "attributes"))?;
        }
        Ok(g)
    }

    /// `RemotingSerializable.encode(config)`: fastjson bean, properties sorted.
    fn json(&self) -> String {
        let mut o = Object::new();
        let mut attrs = Object::new();
        for (k, v) in &self.attributes {
            attrs.push(k.as_str(), v.as_str());
        }
        o.push("attributes", Value::Object(attrs));
        o.push("brokerId", self.broker_id);
        o.push("consumeBroadcastEnable", self.consume_broadcast_enable);
        o.push("consumeEnable", self.consume_enable);
        o.push("consumeFromMinEnable", self.consume_from_min_enable);
        o.push("consumeMessageOrderly", self.consume_message_orderly);
        o.push("consumeTimeoutMinute", 15);
        o.push("groupName", self.group_name.as_str());
        o.push("groupRetryPolicy", self.retry_policy.to_value());
        o.push("groupSysFlag", 0);
        o.push("notifyConsumerIdsChangedEnable", self.notify_consumer_ids_changed_enable);
        o.push("retryMaxTimes", self.retry_max_times);
        o.push("retryQueueNums", self.retry_queue_nums);
        o.push("whichBrokerWhenConsumeSlowly", self.which_broker_when_consume_slowly);
        fastjson::to_string(&Value::Object(o), &EmitOptions::COMPACT)
    }

    /// `SubscriptionGroupConfig.toString()` (Guava `toStringHelper`).
    fn text(&self) -> String {
        let attrs: Vec<String> = self.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "SubscriptionGroupConfig{{groupName={}, consumeEnable={}, consumeFromMinEnable={}, consumeBroadcastEnable={}, consumeMessageOrderly={}, retryQueueNums={}, retryMaxTimes={}, groupRetryPolicy={}, brokerId={}, whichBrokerWhenConsumeSlowly={}, notifyConsumerIdsChangedEnable={}, groupSysFlag=0, consumeTimeoutMinute=15, subscriptionDataSet=null, attributes={{{}}}}}",
            self.group_name,
            self.consume_enable,
            self.consume_from_min_enable,
            self.consume_broadcast_enable,
            self.consume_message_orderly,
            self.retry_queue_nums,
            self.retry_max_times,
            self.retry_policy.text(),
            self.broker_id,
            self.which_broker_when_consume_slowly,
            self.notify_consumer_ids_changed_enable,
            attrs.join(", ")
        )
    }
}

async fn update_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = update_run(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("UpdateSubGroupSubCommand"))
}

async fn update_run(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    let g = GroupArgs::from_cli(cl)?;
    let json = g.json();
    if cl.has("b") {
        let addr = value(cl, "b").to_string();
        client.create_sub_group(&addr, &json).await?;
        ctx.print(&format!("create subscription group to {addr} success.\n{}", g.text()));
        return Ok(());
    }
    if cl.has("c") {
        let info = client.broker_cluster_info().await?;
        for addr in broker_api::master_addrs(&info, value(cl, "c"), &mut |s| ctx.print(s)) {
            match client.create_sub_group(&addr, &json).await {
                Ok(()) => ctx.print(&format!("create subscription group to {addr} success.\n")),
                // Java: printStackTrace, sleep a second, next broker.
                Err(e) => {
                    ctx.eprint(&format!("{e}\n"));
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
        ctx.print(&g.text());
        return Ok(());
    }
    ctx.print(&help("updateSubGroup", update_commands));
    Ok(())
}

fn help(name: &str, cmds: fn() -> Vec<SubCommand>) -> String {
    let cmds = cmds();
    let cmd = cmds.iter().find(|c| c.name == name).expect("own command");
    crate::usage::help(&format!("mqadmin {name}"), &cmd.all_options())
}

async fn delete_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = delete_run_group(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("DeleteSubscriptionGroupCommand"))
}

async fn delete_run_group(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    let group = value(cl, "g").to_string();
    // `Boolean.valueOf`: anything but "true" (any case) is false.
    let clean = cl.has("r") && parse_boolean(Some(value(cl, "r")));
    if cl.has("b") {
        let addr = value(cl, "b").to_string();
        client.delete_sub_group(&addr, &group, clean).await?;
        ctx.print(&format!("delete subscription group [{group}] from broker [{addr}] success.\n"));
        return Ok(());
    }
    if cl.has("c") {
        let cluster = value(cl, "c").to_string();
        let info = client.broker_cluster_info().await?;
        for master in broker_api::master_addrs(&info, &cluster, &mut |s| ctx.print(s)) {
            client.delete_sub_group(&master, &group, clean).await?;
            ctx.print(&format!(
                "delete subscription group [{group}] from broker [{master}] in cluster [{cluster}] success.\n"
            ));
        }
        // `adminExt.deleteTopic(%RETRY%g / %DLQ%g, cluster)`: all brokers and name servers, quietly.
        for topic in [format!("%RETRY%{group}"), format!("%DLQ%{group}")] {
            if let Err(e) = delete_quietly(client, &info, &cluster, &topic).await {
                ctx.eprint(&format!("{e}\n"));
                break;
            }
        }
        return Ok(());
    }
    ctx.print(&help("deleteSubGroup", delete_commands));
    Ok(())
}

/// `DefaultMQAdminExtImpl.deleteTopic`: masters and slaves, every name server (a
/// `HashSet`), then the topic's ORDER_TOPIC_CONFIG entry; no output.
async fn delete_quietly(
    client: &mut AdminClient,
    info: &rmq_remoting::protocol::body::ClusterInfo,
    cluster: &str,
    topic: &str,
) -> Result<(), AdminError> {
    for addr in broker_api::all_addrs(info, cluster, &mut |_| {}) {
        client.delete_topic_in_broker(&addr, topic).await?;
    }
    for ns in rmq_common::java::hashmap_order_owned(client.namesrv_list()) {
        client.delete_topic_in_namesrv(&ns, None, topic).await?;
    }
    client.delete_kv_config("ORDER_TOPIC_CONFIG", topic).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_policy_parses_and_prints_like_java() {
        let p = RetryPolicy::parse(
            r#"{"type":"EXPONENTIAL","exponentialRetryPolicy":{"initial":5000,"max":7200000,"multiplier":2}}"#,
        )
        .unwrap();
        assert_eq!(
            p.text(),
            "GroupRetryPolicy{type=EXPONENTIAL, exponentialRetryPolicy=ExponentialRetryPolicy{initial=5000, max=7200000, multiplier=2}, customizedRetryPolicy=null}"
        );
        let p = RetryPolicy::parse(r#"{"type":"CUSTOMIZED","customizedRetryPolicy":{"next":[1000,5000]}}"#).unwrap();
        assert_eq!(
            fastjson::to_string(&p.to_value(), &EmitOptions::COMPACT),
            r#"{"customizedRetryPolicy":{"next":[1000,5000]},"type":"CUSTOMIZED"}"#
        );
    }
}
