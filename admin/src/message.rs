//! `queryMsgById`, `queryMsgByKey` (`QueryMsgByIdSubCommand`, `QueryMsgByKeySubCommand`).
//! Records come back as raw commitlog bytes and are decoded with `rmq_store`'s codec.

use rmq_common::java;
use rmq_remoting::codec::ResponseCode;
use rmq_store::record::{self, decode_offset_msg_id, decompress_body, offset_msg_id, MessageRecord};

use crate::broker_api::{select_broker_addr, QueryArgs};
use crate::cli::{CommandLine, Opt, Options};
use crate::client::AdminClient;
use crate::error::{wrap, AdminError, Failure};
use crate::format::{is_not_blank, java_trim, left, parse_int, parse_long, right};
use crate::progress::{examine_consume_stats, examine_consumer_connection};
use crate::topic::decode_route;
use crate::{jtime, Ctx, SubCommand};

pub fn commands() -> Vec<SubCommand> {
    vec![
        SubCommand {
            name: "queryMsgById",
            alias: None,
            desc: "Query Message by Id.",
            options: |o: &mut Options| {
                o.add(Opt::new("t", "topic", true, "topic name").required());
                o.add(Opt::new("i", "msgId", true, "Message Id").required());
                o.add(Opt::new("g", "consumerGroup", true, "consumer group name"));
                o.add(Opt::new("d", "clientId", true, "The consumer's client id"));
                o.add(Opt::new("s", "sendMessage", true, "resend message"));
                o.add(Opt::new("u", "unitName", true, "unit name"));
                o.add(Opt::new("f", "bodyFormat", true, "print message body by the specified format"));
                o.add(Opt::new(
                    "c",
                    "cluster",
                    true,
                    "Cluster name or lmq parent topic, lmq is used to find the route.",
                ));
            },
            execute: |ctx, cl| Box::pin(by_id_execute(ctx, cl)),
        },
        SubCommand {
            name: "queryMsgByKey",
            alias: None,
            desc: "Query Message by Key.",
            options: |o: &mut Options| {
                o.add(Opt::new("t", "topic", true, "Topic name").required());
                o.add(Opt::new("k", "msgKey", true, "Message Key").required());
                o.add(Opt::new("b", "beginTimestamp", true, "Begin timestamp(ms). default:0, eg:1676730526212"));
                o.add(Opt::new(
                    "e",
                    "endTimestamp",
                    true,
                    "End timestamp(ms). default:Long.MAX_VALUE, eg:1676730526212",
                ));
                o.add(Opt::new(
                    "m",
                    "maxNum",
                    true,
                    "The maximum number of messages returned by the query, default:64",
                ));
                o.add(Opt::new(
                    "c",
                    "cluster",
                    true,
                    "Cluster name or lmq parent topic, lmq is used to find the route.",
                ));
            },
            execute: |ctx, cl| Box::pin(by_key_execute(ctx, cl)),
        },
    ]
}

fn value<'a>(cl: &'a CommandLine, k: &str) -> &'a str {
    java_trim(cl.value(k).unwrap_or_default())
}

/// A message as `MessageDecoder.clientDecode` gives it (`MessageClientExt`).
pub struct Msg {
    pub rec: MessageRecord,
    /// Decompressed body.
    pub body: Vec<u8>,
    pub offset_msg_id: String,
}

impl Msg {
    fn decode(buf: &[u8]) -> Result<Msg, AdminError> {
        let rec = record::decode_message(buf)
            .map_err(|e| AdminError::Java { class: "java.nio.BufferUnderflowException", message: e.to_string() })?;
        let body = decompress_body(rec.sys_flag, &rec.body).ok().flatten().unwrap_or_else(|| rec.body.to_vec());
        let offset_msg_id = offset_msg_id(&rec.store_host, rec.physical_offset);
        Ok(Msg { rec, body, offset_msg_id })
    }

    /// `MessageDecoder.decodes`: every record in a QUERY_MESSAGE body.
    fn decode_all(mut buf: &[u8]) -> Vec<Msg> {
        let mut out = Vec::new();
        while buf.len() >= 4 {
            let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            if size <= 0 || size as usize > buf.len() {
                break;
            }
            match Msg::decode(&buf[..size as usize]) {
                Ok(m) => out.push(m),
                Err(_) => break,
            }
            buf = &buf[size as usize..];
        }
        out
    }

    /// `MessageClientExt.getMsgId`: the client's UNIQ_KEY, else the offset id.
    pub fn msg_id(&self) -> String {
        self.rec.uniq_key().map(str::to_string).unwrap_or_else(|| self.offset_msg_id.clone())
    }

    /// `getProperties().toString()`: a `HashMap` in hash order.
    fn properties_text(&self) -> String {
        let keys: Vec<String> = self.rec.properties.keys().cloned().collect();
        let parts: Vec<String> =
            java::hashmap_order_owned(&keys).iter().map(|k| format!("{k}={}", self.rec.properties[k])).collect();
        format!("{{{}}}", parts.join(", "))
    }
}

/// `MQAdminImpl.queryMessage`: asks every broker of the topic's route and keeps
/// the messages whose key (or unique id) really matches.
async fn query(client: &mut AdminClient, cluster: Option<&str>, args: &QueryArgs<'_>) -> Result<Vec<Msg>, AdminError> {
    let topic_missing = || AdminError::Client {
        code: ResponseCode::TOPIC_NOT_EXIST.0,
        remark: Some(format!("The topic[{}] not matched route info", args.topic)),
    };
    let Ok(route) = client.topic_route_body(args.topic).await.and_then(|b| decode_route(&b)) else {
        return Err(topic_missing());
    };
    let addrs: Vec<String> = route
        .data
        .broker_datas
        .iter()
        .filter(|b| cluster.is_none_or(|c| c.is_empty() || c == b.cluster))
        .filter_map(select_broker_addr)
        .collect();
    if addrs.is_empty() {
        return Err(topic_missing());
    }
    let mut found = Vec::new();
    for addr in addrs {
        // A failing broker is logged and skipped by Java.
        if let Ok(Some(body)) = client.query_message(&addr, args).await {
            found.extend(Msg::decode_all(&body));
        }
    }
    found.retain(|m| {
        if args.uniq {
            m.msg_id() == args.key
        } else {
            m.rec.keys().is_some_and(|keys| keys.split(' ').any(|k| k == args.key)) && m.rec.topic == args.topic
        }
    });
    if found.is_empty() {
        return Err(AdminError::Client {
            code: ResponseCode::NO_MESSAGE.0,
            remark: Some("query message by key finished, but no message.".into()),
        });
    }
    Ok(found)
}

async fn by_key_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = by_key_run(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("QueryMsgByKeySubCommand"))
}

async fn by_key_run(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    let topic = value(cl, "t").to_string();
    let key = value(cl, "k").to_string();
    let begin = if cl.has("b") { parse_long(Some(value(cl, "b")))? } else { 0 };
    let end = if cl.has("e") { parse_long(Some(value(cl, "e")))? } else { i64::MAX };
    let max_num = if cl.has("m") { parse_int(Some(value(cl, "m")))? } else { 64 };
    let cluster = cl.has("c").then(|| value(cl, "c").to_string());
    let args = QueryArgs { topic: &topic, key: &key, max_num, begin, end, uniq: false };
    let msgs = query(client, cluster.as_deref(), &args).await?;
    ctx.print(&format!("{} {} {}\n", left("#Message ID", 50), right("#QID", 4), right("#Offset", 40)));
    for m in msgs {
        ctx.print(&format!(
            "{} {} {}\n",
            left(&m.msg_id(), 50),
            right(&m.rec.queue_id.to_string(), 4),
            right(&m.rec.queue_offset.to_string(), 40)
        ));
    }
    Ok(())
}

async fn by_id_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = by_id_run(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("QueryMsgByIdSubCommand"))
}

async fn by_id_run(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    let topic = value(cl, "t").to_string();
    let ids = value(cl, "i").to_string();
    let cluster = cl.has("c").then(|| value(cl, "c").to_string());
    if cl.has("g") && cl.has("d") {
        // Pushing a message straight to a consumer needs the client protocol; not supported yet.
        return Err(AdminError::Java {
            class: "java.lang.UnsupportedOperationException",
            message: "queryMsgById -g/-d (consume the message directly) is not supported by this mqadmin".into(),
        });
    }
    if cl.has("s") {
        // Java does nothing unless the value is "true".
        if crate::format::parse_boolean(Some(value(cl, "s"))) {
            return Err(AdminError::Java {
                class: "java.lang.UnsupportedOperationException",
                message: "queryMsgById -s true (resend the message) is not supported by this mqadmin".into(),
            });
        }
        return Ok(());
    }
    let charset = cl.has("f").then(|| value(cl, "f").to_string());
    if let Some(cs) = &charset {
        if !matches!(cs.to_ascii_uppercase().as_str(), "UTF-8" | "UTF8" | "ISO-8859-1" | "US-ASCII") {
            return Err(AdminError::Java {
                class: "java.nio.charset.UnsupportedCharsetException",
                message: cs.clone(),
            });
        }
    }
    for id in ids.split(',').filter(|s| is_not_blank(Some(s))) {
        let id = java_trim(id);
        let msg = query_by_id(client, cluster.as_deref(), &topic, id).await?;
        print_msg(ctx, client, &msg, charset.as_deref()).await?;
    }
    Ok(())
}

/// `DefaultMQAdminExtImpl.queryMessage(cluster, topic, msgId)`: an offset id is
/// read from its broker directly; anything else (or a failure) is looked up as a
/// client unique id over the last three days.
async fn query_by_id(
    client: &mut AdminClient,
    cluster: Option<&str>,
    topic: &str,
    id: &str,
) -> Result<Msg, AdminError> {
    if let Some((host, offset)) = decode_offset_msg_id(id) {
        if let Ok(m) = client.view_message(&host.to_string(), topic, offset).await.and_then(|b| Msg::decode(&b)) {
            return Ok(m);
        }
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let args = QueryArgs { topic, key: id, max_num: 32, begin: now - 3 * 24 * 3600 * 1000, end: i64::MAX, uniq: true };
    Ok(query(client, cluster, &args).await?.remove(0))
}

async fn print_msg(ctx: &mut Ctx, client: &mut AdminClient, m: &Msg, charset: Option<&str>) -> Result<(), AdminError> {
    let dir = std::path::Path::new("/tmp/rocketmq/msgbodys");
    let io = |e: std::io::Error| AdminError::Java { class: "java.io.IOException", message: e.to_string() };
    std::fs::create_dir_all(dir).map_err(io)?;
    let path = dir.join(m.msg_id());
    std::fs::write(&path, &m.body).map_err(io)?;
    let r = &m.rec;
    let line = |k: &str, v: String| format!("{} {v}\n", left(k, 20));
    let mut out = String::new();
    out.push_str(&line("OffsetID:", m.offset_msg_id.clone()));
    out.push_str(&line("Topic:", r.topic.clone()));
    out.push_str(&line("Tags:", format!("[{}]", r.tags().unwrap_or("null"))));
    out.push_str(&line("Keys:", format!("[{}]", r.keys().unwrap_or("null"))));
    out.push_str(&line("Queue ID:", r.queue_id.to_string()));
    out.push_str(&line("Queue Offset:", r.queue_offset.to_string()));
    out.push_str(&line("CommitLog Offset:", r.physical_offset.to_string()));
    out.push_str(&line("Reconsume Times:", r.reconsume_times.to_string()));
    out.push_str(&line("Born Timestamp:", jtime::human2(r.born_timestamp)));
    out.push_str(&line("Store Timestamp:", jtime::human2(r.store_timestamp)));
    out.push_str(&line("Born Host:", r.born_host.to_string()));
    out.push_str(&line("Store Host:", r.store_host.to_string()));
    out.push_str(&line("System Flag:", r.sys_flag.to_string()));
    out.push_str(&line("Properties:", m.properties_text()));
    out.push_str(&line("Message Body Path:", path.display().to_string()));
    if let Some(cs) = charset {
        let text = match cs.to_ascii_uppercase().as_str() {
            // Single-byte charsets: every byte is one char (US-ASCII maps >127 to U+FFFD).
            "ISO-8859-1" => m.body.iter().map(|&b| b as char).collect(),
            "US-ASCII" => m.body.iter().map(|&b| if b < 128 { b as char } else { '\u{FFFD}' }).collect(),
            _ => String::from_utf8_lossy(&m.body).into_owned(),
        };
        out.push_str(&line("Message Body:", text));
    }
    ctx.print(&out);
    match track(client, m).await {
        Ok(tracks) if tracks.is_empty() => ctx.print("\n\nWARN: No Consumer"),
        Ok(tracks) => {
            ctx.print("\n\n");
            for (group, kind, desc) in tracks {
                let desc = desc.unwrap_or_else(|| "null".into());
                ctx.print(&format!("MessageTrack [consumerGroup={group}, trackType={kind}, exceptionDesc={desc}]\n"));
            }
        }
        Err(e) => ctx.eprint(&format!("{e}\n")),
    }
    Ok(())
}

/// `messageTrackDetail`: (group, track type, exception text) per group that consumes the topic.
async fn track(client: &mut AdminClient, m: &Msg) -> Result<Vec<(String, &'static str, Option<String>)>, AdminError> {
    let route = decode_route(&client.topic_route_body(&m.rec.topic).await?)?;
    let Some(addr) = route.data.broker_datas.iter().find_map(select_broker_addr) else { return Ok(Vec::new()) };
    let groups = client.topic_consume_by_who(&addr, &m.rec.topic).await?;
    let mut out = Vec::new();
    for group in java::hashmap_order_owned(&groups) {
        let conn = match examine_consumer_connection(client, &group).await {
            Ok(c) => c,
            Err(AdminError::Broker { code, remark, .. }) => {
                let kind = if code == ResponseCode::CONSUMER_NOT_ONLINE.0 { "NOT_ONLINE" } else { "UNKNOWN" };
                out.push((group, kind, Some(format!("CODE:{code} DESC:{}", remark.unwrap_or_else(|| "null".into())))));
                continue;
            }
            Err(e) => {
                // `exceptionSimpleDesc`: the exception and its first stack frame.
                let frame = match &e {
                    AdminError::Client { .. } => ", org.apache.rocketmq.tools.admin.DefaultMQAdminExtImpl.examineConsumerConnectionInfo(DefaultMQAdminExtImpl.java:616)",
                    _ => "",
                };
                out.push((group, "UNKNOWN", Some(format!("{}{frame}", e.lines()[0]))));
                continue;
            }
        };
        if conn.consume_type.as_deref() == Some("CONSUME_ACTIVELY") {
            out.push((group, "PULL", None));
            continue;
        }
        let kind = match consumed(client, m, &group).await {
            Ok(true) => {
                let filtered = conn.subscriptions.iter().any(|(t, tags)| {
                    t == &m.rec.topic
                        && !(tags.is_empty()
                            || tags.iter().any(|x| x == "*")
                            || m.rec.tags().is_some_and(|mt| tags.iter().any(|x| x == mt)))
                });
                if filtered {
                    "CONSUMED_BUT_FILTERED"
                } else {
                    "CONSUMED"
                }
            }
            Ok(false) => "NOT_CONSUME_YET",
            Err(AdminError::Client { code, remark }) | Err(AdminError::Broker { code, remark, .. }) => {
                let desc = (code == ResponseCode::CONSUMER_NOT_ONLINE.0)
                    .then(|| format!("CODE:{code} DESC:{}", remark.unwrap_or_else(|| "null".into())));
                let kind = match code {
                    c if c == ResponseCode::CONSUMER_NOT_ONLINE.0 => "NOT_ONLINE",
                    c if c == ResponseCode::BROADCAST_CONSUMPTION.0 => "CONSUME_BROADCASTING",
                    _ => "UNKNOWN",
                };
                out.push((group, kind, desc));
                continue;
            }
            Err(e) => {
                out.push((group, "UNKNOWN", Some(e.lines()[0].clone())));
                continue;
            }
        };
        out.push((group, kind, None));
    }
    Ok(out)
}

/// `consumed(msg, group)`: the group's offset on the message's queue (on the broker
/// that stored it) is past the message.
async fn consumed(client: &mut AdminClient, m: &Msg, group: &str) -> Result<bool, AdminError> {
    let stats = examine_consume_stats(client, None, group, None).await?;
    let info = client.broker_cluster_info().await?;
    let store = m.rec.store_host.to_string();
    for (mq, w) in &stats.offsets {
        if mq.topic == m.rec.topic && mq.queue_id == m.rec.queue_id {
            let master = info.broker_addr_table.get(&mq.broker_name).and_then(|b| b.broker_addrs.get(&0));
            if master.is_some_and(|a| *a == store) && w.consumer_offset > m.rec.queue_offset {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
