//! The recording fake broker of `clients.rs` (name-server-only checks): a `rmq_remoting` server
//! that our name server routes topics to. It stores what producers send (SEND_MESSAGE,
//! SEND_MESSAGE_V2, SEND_BATCH_MESSAGE and the C++ client's `batch=1` form; zlib bodies
//! inflated), answers like a broker with an empty store where that is enough (heartbeats, consumer
//! lists from the heartbeats, offsets, queue locks), serves pulls from what it stored, and
//! records every other request. It is not a broker: no retry, DLQ, transaction check or offset
//! storage; those wait for `mqbroker`.

use super::*;

#[derive(Clone, Debug, Default)]
pub(crate) struct Recorded {
    pub(crate) code: i32,
    pub(crate) topic: String,
    pub(crate) queue_id: i32,
    pub(crate) sys_flag: i32,
    pub(crate) props: BTreeMap<String, String>,
    pub(crate) body: Vec<u8>,
    pub(crate) compressed: bool,
    /// END_TRANSACTION / HEART_BEAT and other requests: their ext fields and body text.
    pub(crate) ext: BTreeMap<String, String>,
    pub(crate) text: String,
}

/// A message as the fake broker stores it, to serve it back to pulls.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    flag: i32,
    sys_flag: i32,
    born: i64,
    body: Vec<u8>,
    props: String,
}

#[derive(Default)]
pub(crate) struct FakeBroker {
    pub(crate) records: Mutex<Vec<Recorded>>,
    pub(crate) offsets: Mutex<HashMap<(String, i32), i64>>,
    /// (topic, queue) -> messages at offsets 0.. (uncompressed bodies).
    pub(crate) queues: Mutex<HashMap<(String, i32), Vec<Stored>>>,
    /// consumer group -> client ids seen in heartbeats (GET_CONSUMER_LIST_BY_GROUP).
    pub(crate) groups: Mutex<HashMap<String, BTreeSet<String>>>,
    pub(crate) port: Mutex<u16>,
}

const COMPRESSED_FLAG: i32 = 0x1;
pub(crate) const TRANSACTION_PREPARED_TYPE: i32 = 0x1 << 2;

fn parse_props(s: &str) -> BTreeMap<String, String> {
    s.split('\u{2}').filter_map(|kv| kv.split_once('\u{1}')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn inflate_if(flag: i32, body: &[u8]) -> (Vec<u8>, bool) {
    if flag & COMPRESSED_FLAG == 0 {
        return (body.to_vec(), false);
    }
    // Compression type in bits 8..10 (5.x): 0 (old clients) and 3 are zlib; others kept raw.
    let kind = (flag >> 8) & 0x7;
    if kind == 0 || kind == 3 {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(body).read_to_end(&mut out).expect("zlib body");
        (out, true)
    } else {
        (body.to_vec(), true)
    }
}

/// The messages of a SEND_BATCH_MESSAGE body (MessageDecoder.encodeMessages layout).
pub(crate) fn decode_batch(mut b: &[u8]) -> Vec<(i32, Vec<u8>, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    let int = |b: &[u8]| i32::from_be_bytes(b[..4].try_into().unwrap());
    while b.len() >= 20 {
        let total = int(b) as usize;
        let flag = int(&b[12..]);
        let body_len = int(&b[16..]) as usize;
        let body = b[20..20 + body_len].to_vec();
        let p = 20 + body_len;
        let plen = u16::from_be_bytes([b[p], b[p + 1]]) as usize;
        let props = parse_props(&String::from_utf8_lossy(&b[p + 2..p + 2 + plen]));
        out.push((flag, body, props));
        b = &b[total.min(b.len())..];
    }
    out
}

impl FakeBroker {
    fn next_offset(&self, topic: &str, queue: i32, n: i64) -> i64 {
        let mut o = self.offsets.lock().unwrap();
        let e = o.entry((topic.to_string(), queue)).or_insert(0);
        let first = *e;
        *e += n;
        first
    }

    fn msg_id(&self, offset: i64) -> String {
        format!("7F000001{:08X}{:016X}", *self.port.lock().unwrap() as u32, offset)
    }

    fn serve(&self, req: &RemotingCommand) -> Option<RemotingCommand> {
        let code = req.code;
        let ext: BTreeMap<String, String> = req.ext_fields.clone().unwrap_or_default().into_iter().collect();
        let text = req.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        match code {
            10 | 310 | 320 => {
                let h: SendMessageRequestHeader = if code == 10 {
                    SendMessageRequestHeader::from_command(req).ok()?
                } else {
                    SendMessageRequestHeaderV2::from_command(req).ok()?.into()
                };
                let raw = req.body.clone().unwrap_or_default();
                // The C++ client sends a batch as SEND_MESSAGE with `batch=1` (to_string(bool)),
                // which a Java broker reads as false (Boolean.parseBoolean): see the README.
                let batch = code == 320 || matches!(ext.get("batch").map(String::as_str), Some("true" | "1"));
                let msgs: Vec<(i32, Vec<u8>, BTreeMap<String, String>)> = if batch {
                    decode_batch(&raw)
                } else {
                    vec![(h.sys_flag, raw.to_vec(), parse_props(h.properties.as_deref().unwrap_or("")))]
                };
                let first = self.next_offset(&h.topic, h.queue_id, msgs.len() as i64);
                let mut ids = Vec::new();
                for (i, (flag, body, props)) in msgs.into_iter().enumerate() {
                    // A batch's messages carry their own flag words; the sysFlag is the request's.
                    let (body, compressed) = inflate_if(if batch { h.sys_flag } else { flag }, &body);
                    ids.push(self.msg_id(first + i as i64));
                    let props_text: String = props.iter().map(|(k, v)| format!("{k}\u{1}{v}\u{2}")).collect();
                    self.queues.lock().unwrap().entry((h.topic.clone(), h.queue_id)).or_default().push(Stored {
                        flag: if batch { flag } else { h.flag },
                        sys_flag: h.sys_flag & !COMPRESSED_FLAG & !(0x7 << 8),
                        born: h.born_timestamp,
                        body: body.clone(),
                        props: props_text,
                    });
                    self.records.lock().unwrap().push(Recorded {
                        code,
                        topic: h.topic.clone(),
                        queue_id: h.queue_id,
                        sys_flag: h.sys_flag,
                        props,
                        body,
                        compressed,
                        ext: ext.clone(),
                        text: String::new(),
                    });
                }
                if req.is_oneway() {
                    return None;
                }
                let mut resp = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None);
                SendMessageResponseHeader {
                    msg_id: ids.join(","),
                    queue_id: h.queue_id,
                    queue_offset: first,
                    transaction_id: None,
                    batch_uniq_id: None,
                    recall_handle: None,
                }
                .apply_to(&mut resp);
                resp.set_ext("MSG_REGION", "DefaultRegion");
                resp.set_ext("TRACE_ON", "true");
                Some(resp)
            }
            _ => {
                self.records.lock().unwrap().push(Recorded { code, ext, text: text.clone(), ..Default::default() });
                if req.is_oneway() {
                    return None;
                }
                match code {
                    // HEART_BEAT: remember which client ids are in which consumer group.
                    34 => {
                        if let Ok(hb) = serde_json::from_str::<Value>(&text) {
                            let id = hb["clientID"].as_str().unwrap_or_default().to_string();
                            for c in hb["consumerDataSet"].as_array().into_iter().flatten() {
                                if let Some(g) = c["groupName"].as_str() {
                                    self.groups.lock().unwrap().entry(g.to_string()).or_default().insert(id.clone());
                                }
                            }
                        }
                        Some(RemotingCommand::response_to(req, ResponseCode::SUCCESS, None))
                    }
                    // UNREGISTER_CLIENT, UPDATE_CONSUMER_OFFSET, CONSUMER_SEND_MSG_BACK is not served.
                    35 | 15 => Some(RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)),
                    // LOCK_BATCH_MQ (orderly consumers): every queue asked for is locked.
                    41 => {
                        let asked: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        let body = serde_json::json!({ "lockOKMQSet": asked["mqSet"].clone() }).to_string();
                        Some(
                            RemotingCommand::response_to(req, ResponseCode::SUCCESS, None).with_body(body.into_bytes()),
                        )
                    }
                    // UNLOCK_BATCH_MQ
                    42 => Some(RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)),
                    // GET_CONSUMER_LIST_BY_GROUP: the ids that heartbeat with the group.
                    38 => {
                        let group = req.ext("consumerGroup").unwrap_or_default().to_string();
                        let ids: Vec<String> = self
                            .groups
                            .lock()
                            .unwrap()
                            .get(&group)
                            .map(|s| s.iter().cloned().collect())
                            .unwrap_or_default();
                        let body = serde_json::json!({ "consumerIdList": ids }).to_string();
                        Some(
                            RemotingCommand::response_to(req, ResponseCode::SUCCESS, None).with_body(body.into_bytes()),
                        )
                    }
                    // QUERY_CONSUMER_OFFSET: QUERY_NOT_FOUND, as Java for a new group.
                    14 => Some(RemotingCommand::response_to(
                        req,
                        ResponseCode(22),
                        Some("Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first".into()),
                    )),
                    // GET_MAX_OFFSET / GET_MIN_OFFSET: empty queues.
                    29 | 30 => {
                        let mut r = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None);
                        r.set_ext("offset", "0");
                        Some(r)
                    }
                    _ => Some(RemotingCommand::response_to(
                        req,
                        ResponseCode::SYSTEM_ERROR,
                        Some(format!("compat fake broker: request {code} not served")),
                    )),
                }
            }
        }
    }
}

impl FakeBroker {
    /// PULL_MESSAGE from what was stored: FOUND with the messages in the store format, or
    /// PULL_NOT_FOUND (answered after a pause, like long polling, so clients do not spin).
    /// No tag filtering (clients filter by tag themselves too).
    fn pull(&self, req: &RemotingCommand) -> (RemotingCommand, bool) {
        self.records.lock().unwrap().push(Recorded {
            code: req.code,
            ext: req.ext_fields.clone().unwrap_or_default().into_iter().collect(),
            ..Default::default()
        });
        let h = match rmq_remoting::protocol::pull::PullMessageRequestHeader::from_command(req) {
            Ok(h) => h,
            Err(e) => {
                return (RemotingCommand::response_to(req, ResponseCode::SYSTEM_ERROR, Some(e.to_string())), false)
            }
        };
        let queues = self.queues.lock().unwrap();
        let msgs = queues.get(&(h.topic.clone(), h.queue_id)).cloned().unwrap_or_default();
        let max = msgs.len() as i64;
        let from = h.queue_offset.clamp(0, max);
        let to = (from + h.max_msg_nums.max(1) as i64).min(max);
        let port = *self.port.lock().unwrap();
        let mut body = Vec::new();
        for off in from..to {
            encode_stored(&mut body, &h.topic, h.queue_id, off, &msgs[off as usize], port);
        }
        let found = to > from;
        let mut r = if found {
            RemotingCommand::response_to(req, ResponseCode::SUCCESS, None).with_body(body)
        } else {
            RemotingCommand::response_to(req, ResponseCode(19), Some("compat fake broker: no new message".into()))
        };
        for (k, v) in [("nextBeginOffset", to), ("minOffset", 0), ("maxOffset", max), ("suggestWhichBrokerId", 0)] {
            r.set_ext(k, v.to_string());
        }
        (r, !found)
    }
}

/// One message in the commit-log layout a pull response carries (MessageDecoder, V1 magic).
fn encode_stored(out: &mut Vec<u8>, topic: &str, queue_id: i32, offset: i64, m: &Stored, port: u16) {
    let mut crc = flate2::Crc::new();
    crc.update(&m.body);
    let host = |out: &mut Vec<u8>| {
        out.extend_from_slice(&[127, 0, 0, 1]);
        out.extend_from_slice(&(port as i32).to_be_bytes());
    };
    let props = m.props.as_bytes();
    let total =
        4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + m.body.len() + 1 + topic.len() + 2 + props.len();
    out.extend_from_slice(&(total as i32).to_be_bytes());
    out.extend_from_slice(&0xDAA320A7u32.to_be_bytes());
    out.extend_from_slice(&((crc.sum() & 0x7FFF_FFFF) as i32).to_be_bytes());
    out.extend_from_slice(&queue_id.to_be_bytes());
    out.extend_from_slice(&m.flag.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&(offset * 1000).to_be_bytes()); // commit-log offset
    out.extend_from_slice(&m.sys_flag.to_be_bytes());
    out.extend_from_slice(&m.born.to_be_bytes());
    host(out);
    out.extend_from_slice(&(m.born + 1).to_be_bytes()); // store timestamp
    host(out);
    out.extend_from_slice(&0i32.to_be_bytes()); // reconsume times
    out.extend_from_slice(&0i64.to_be_bytes()); // prepared transaction offset
    out.extend_from_slice(&(m.body.len() as i32).to_be_bytes());
    out.extend_from_slice(&m.body);
    out.push(topic.len() as u8);
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(&(props.len() as u16).to_be_bytes());
    out.extend_from_slice(props);
}

pub(crate) struct FakeHandler(pub(crate) Arc<FakeBroker>);

impl RequestHandler for FakeHandler {
    fn handle(&self, _ch: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        // PULL_MESSAGE, and LITE_PULL_MESSAGE (same processor in Java; the rust pull consumer).
        if req.code == 11 || req.code == 361 {
            let (resp, wait) = self.0.pull(&req);
            return Box::pin(async move {
                if wait {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Some(resp)
            });
        }
        let resp = self.0.serve(&req);
        Box::pin(async move { resp })
    }
}

pub(crate) fn register_cmd(broker_addr: &str, topics: &[&str]) -> RemotingCommand {
    let mut b = RegisterBrokerBody::default();
    b.topic_config_serialize_wrapper.data_version = DataVersion { counter: 1, state_version: Some(0), timestamp: 1 };
    for t in topics {
        b.topic_config_serialize_wrapper.topic_config_table.insert(
            t.to_string(),
            TopicConfig {
                attributes: Some(Default::default()),
                order: false,
                perm: 6,
                read_queue_nums: 4,
                topic_filter_type: "SINGLE_TAG".into(),
                topic_name: t.to_string(),
                topic_sys_flag: 0,
                write_queue_nums: 4,
            },
        );
    }
    // (Like Java, our name server refuses a first registration that carries a single topic.)
    let bytes = body::encode(&b);
    let mut cmd = RemotingCommand::request(RequestCode::REGISTER_BROKER);
    RegisterBrokerRequestHeader {
        broker_name: "compat-fake-broker".into(),
        broker_addr: broker_addr.into(),
        cluster_name: "CompatFakeCluster".into(),
        ha_server_addr: broker_addr.into(),
        broker_id: 0,
        heartbeat_timeout_millis: Some(600_000),
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(body_crc32(&bytes)),
    }
    .apply_to(&mut cmd);
    cmd.with_body(bytes)
}

pub(crate) fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}
