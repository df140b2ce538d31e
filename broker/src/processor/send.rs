//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320), after
//! Java's `SendMessageProcessor`: checks (`msgCheck`), topic auto-creation
//! from TBW102, retry/DLQ redirection, properties rebuilt like Java, the put,
//! and the put-status to response mapping.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_remoting::transport::{BoxFuture, Channel};
use rmq_store::append::{AppendResult, MessageToStore, PutResult, PutStatus};
use rmq_store::config_files::JavaFlavor;
use rmq_store::record::FLAG_MULTI_TAGS;
use rmq_store::HostAddr;

use super::props::{self, JavaProps};
use super::{fail, BrokerState, Failure, Outcome};
use crate::meta::TopicConfig;

const RETRY_PREFIX: &str = "%RETRY%";
const DLQ_PREFIX: &str = "%DLQ%";
const PERM_READ: i32 = 4;
const PERM_WRITE: i32 = 2;
const TRANSACTION_TYPE_MASK: i32 = 0xC;

/// Where half messages go once transactions exist (`crate::transaction`);
/// until one is installed they are refused like `rejectTransactionMessage=true`.
pub trait TransactionHook: Send + Sync {
    /// Stores a half message (Java `asyncPrepareMessage`); `props` is the
    /// message's property map as Java holds it (the half re-serializes it).
    fn prepare(&self, msg: MessageToStore, props: &JavaProps) -> BoxFuture<PutResult>;
}

/// Delay levels (`crate::schedule`): Java's `handleScheduleMessage` on a put.
pub trait DelayHook: Send + Sync {
    /// For a NOT/COMMIT-type message whose map has `DELAY` > 0: the topic,
    /// queue and properties string it is stored with while it waits
    /// (SCHEDULE_TOPIC_XXXX, level - 1). `None`: store it as it is.
    fn rewrite(&self, topic: &str, queue_id: i32, sys_flag: i32, props: &JavaProps) -> Option<(String, i32, String)>;
}

/// `MessageClientIDSetter.createUniqID` for 5.x sends without UNIQ_KEY:
/// hex of ip, pid, a per-process value, ms since start, counter.
pub struct UniqIdGenerator {
    prefix: String,
    start_ms: i64,
    counter: AtomicU16,
}

impl UniqIdGenerator {
    pub fn new(ip: std::net::IpAddr) -> UniqIdGenerator {
        let mut b = match ip {
            std::net::IpAddr::V4(a) => a.octets().to_vec(),
            std::net::IpAddr::V6(a) => a.octets().to_vec(),
        };
        b.extend_from_slice(&(std::process::id() as u16).to_be_bytes());
        b.extend_from_slice(&(std::process::id().rotate_left(13) ^ 0x5bd1_e995).to_be_bytes());
        let prefix = b.iter().map(|x| format!("{x:02X}")).collect();
        UniqIdGenerator { prefix, start_ms: now_ms(), counter: AtomicU16::new(0) }
    }

    pub fn next(&self) -> String {
        let diff = (now_ms() - self.start_ms) as i32;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}{:08X}{:04X}", self.prefix, diff, n)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// `MQVersion.Version.V3_4_9.ordinal()`.
fn v3_4_9() -> i32 {
    static V: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *V.get_or_init(|| (0..700).find(|i| rmq_remoting::codec::Version(*i).desc() == "V3_4_9").unwrap_or(0))
}

pub(crate) fn faq(flavor: JavaFlavor) -> &'static str {
    match flavor {
        JavaFlavor::V4_9_8 => "\nSee http://rocketmq.apache.org/docs/faq/ for further details.",
        JavaFlavor::V5_3_3 => "\nSee https://rocketmq.apache.org/docs/bestPractice/06FAQ for further details.",
    }
}

fn parse_header(req: &RemotingCommand) -> Result<SendMessageRequestHeader, Failure> {
    Ok(match req.request_code() {
        RequestCode::SEND_MESSAGE => SendMessageRequestHeader::from_command(req)?,
        _ => SendMessageRequestHeaderV2::from_command(req)?.into(),
    })
}

fn random_queue(write_queue_nums: i32) -> i32 {
    // ThreadLocalRandom.nextInt(99999999) % n; any uniform pick will do
    let n = write_queue_nums.max(1) as u64;
    let r = std::collections::hash_map::RandomState::new();
    let x = std::hash::BuildHasher::hash_one(&r, std::time::Instant::now());
    (x % 99_999_999 % n) as i32
}

fn response_base(state: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let mut r = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None);
    r.set_ext("MSG_REGION", state.settings.broker.region_id.clone());
    r.set_ext("TRACE_ON", state.settings.broker.trace_on.to_string());
    r
}

fn with_code(mut base: RemotingCommand, code: ResponseCode, remark: String) -> Outcome {
    base.code = code.0;
    base.remark = Some(remark);
    Ok(Some(base))
}

fn topic_to_string(t: &TopicConfig) -> String {
    format!(
        "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, topicFilterType={}, topicSysFlag={}, order={}]",
        t.topic_name,
        t.read_queue_nums,
        t.write_queue_nums,
        crate::meta::perm_to_string(t.perm),
        t.topic_filter_type,
        t.topic_sys_flag,
        t.order
    )
}

/// What the send path needs of a topic's config.
#[derive(Clone, Copy, Debug)]
struct SendTopic {
    read_queue_nums: i32,
    write_queue_nums: i32,
    /// `topicFilterType` is MULTI_TAG.
    multi_tag: bool,
}

impl SendTopic {
    fn of(t: &TopicConfig) -> SendTopic {
        SendTopic {
            read_queue_nums: t.read_queue_nums,
            write_queue_nums: t.write_queue_nums,
            multi_tag: t.topic_filter_type == "MULTI_TAG",
        }
    }
}

/// `msgCheck`: broker permission, topic name, auto-creation, queue id.
fn msg_check(state: &BrokerState, channel: &Channel, h: &SendMessageRequestHeader) -> Result<SendTopic, Failure> {
    let b = &state.settings.broker;
    let v5 = state.flavor == JavaFlavor::V5_3_3;
    let topics = &state.meta.topics;
    if b.broker_permission & PERM_WRITE == 0 && topics.is_order_topic(&h.topic) {
        return fail(ResponseCode::NO_PERMISSION, format!("the broker[{}] sending message is forbidden", b.broker_ip1));
    }
    if let Err(remark) = crate::meta::system::validate_topic(&h.topic) {
        let code = if v5 { ResponseCode::INVALID_PARAMETER } else { ResponseCode::SYSTEM_ERROR };
        return fail(code, remark);
    }
    if crate::meta::system::is_not_allowed_send_topic(&h.topic) {
        return fail(ResponseCode::NO_PERMISSION, format!("Sending message to topic[{}] is forbidden.", h.topic));
    }
    let tc = match topics.with(&h.topic, SendTopic::of) {
        Some(t) => t,
        None => {
            let unit = h.unit_mode.unwrap_or(false);
            let retry = h.topic.starts_with(RETRY_PREFIX);
            // TopicSysFlag.buildSysFlag(unit, unitSub)
            let sys_flag = match (unit, retry) {
                (false, _) => 0,
                (true, true) => 0x2,
                (true, false) => 0x1,
            };
            tracing::warn!(topic = %h.topic, producer = %channel.peer_addr(), "the topic does not exist");
            let created =
                topics.create_topic_in_send_ex(&h.topic, &h.default_topic, h.default_topic_queue_nums, sys_flag);
            let created = match created {
                Some(c) => Some(c),
                None if retry => {
                    Some(topics.create_topic_in_send_back(&h.topic, 1, PERM_READ | PERM_WRITE, false, sys_flag))
                }
                None => None,
            };
            match created {
                Some(c) => {
                    if c.is_created() {
                        state.register_soon.notify_one();
                    }
                    SendTopic::of(&c.into_config())
                }
                None => {
                    return fail(
                        ResponseCode::TOPIC_NOT_EXIST,
                        format!("topic[{}] not exist, apply first please!{}", h.topic, faq(state.flavor)),
                    )
                }
            }
        }
    };
    if h.queue_id >= tc.write_queue_nums.max(tc.read_queue_nums) {
        let code = if v5 { ResponseCode::INVALID_PARAMETER } else { ResponseCode::SYSTEM_ERROR };
        let described = topics.with(&h.topic, topic_to_string).unwrap_or_default();
        return fail(
            code,
            format!("request queueId[{}] is illegal, {} Producer: {}", h.queue_id, described, channel.peer_addr()),
        );
    }
    Ok(tc)
}

/// `handleRetryAndDLQ`: a retry send past its max reconsume times goes to the DLQ.
/// Returns the (possibly new) topic, queue and sys flag; clears DELAY for the DLQ.
fn retry_and_dlq(
    state: &BrokerState,
    h: &SendMessageRequestHeader,
    req: &RemotingCommand,
    tc: &SendTopic,
    queue_id: i32,
    props: &mut JavaProps,
) -> Result<(String, i32, i32), Failure> {
    let mut topic = h.topic.clone();
    let mut queue = queue_id;
    if let Some(group) = h.topic.strip_prefix(RETRY_PREFIX) {
        let Some(g) = state.meta.groups.find_or_create(group) else {
            return fail(
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group not exist, {group} {}", faq(state.flavor)),
            );
        };
        let mut max_times = g.retry_max_times;
        // V3_4_9 and later clients may say how many times
        if req.version >= v3_4_9() {
            if let Some(m) = h.max_reconsume_times {
                max_times = m;
            }
        }
        if h.reconsume_times.unwrap_or(0) >= max_times {
            topic = format!("{DLQ_PREFIX}{group}");
            queue = 0;
            let c = state.meta.topics.create_topic_in_send_back(&topic, 1, PERM_READ | PERM_WRITE, false, 0);
            if c.is_created() {
                state.register_soon.notify_one();
            }
            props.remove(props::DELAY);
        }
    }
    let mut sys_flag = h.sys_flag;
    if tc.multi_tag {
        sys_flag |= FLAG_MULTI_TAGS;
    }
    Ok((topic, queue, sys_flag))
}

/// 5.x `SendMessageProcessor.rejectRequest`: a slave (not acting as master) turns
/// sends and send-backs away before decoding them. 4.9.8 lets them reach the
/// store, which answers SERVICE_NOT_AVAILABLE.
pub(crate) fn reject_on_slave(state: &BrokerState, req: &RemotingCommand) -> Option<RemotingCommand> {
    let reject = state.flavor == JavaFlavor::V5_3_3
        && state.role.is_slave()
        && !state.live_settings.read().broker.enable_slave_acting_master;
    reject.then(|| {
        let remark = "[REJECTREQUEST]system busy, start flow control for a while";
        RemotingCommand::response_to(req, ResponseCode::SYSTEM_BUSY, Some(remark.into()))
    })
}

pub(crate) async fn send(state: &Arc<BrokerState>, channel: &Channel, req: &RemotingCommand) -> Outcome {
    if let Some(rejected) = reject_on_slave(state, req) {
        return Ok(Some(rejected));
    }
    let mut h = parse_header(req)?;
    let base = response_base(state, req);
    let b = &state.settings.broker;
    if now_ms() < b.start_accept_send_request_time_stamp {
        return with_code(
            base,
            ResponseCode::SYSTEM_ERROR,
            "broker unable to service, until the configured start time".into(),
        );
    }
    if state.flavor == JavaFlavor::V5_3_3 {
        // clearReservedProperties
        if let Some(std::borrow::Cow::Owned(kept)) =
            h.properties.as_deref().map(|p| props::delete_property(p, props::POP_CK))
        {
            h.properties = Some(kept);
        }
    }
    let tc = match msg_check(state, channel, &h) {
        Ok(tc) => tc,
        Err(Failure::Code(code, remark)) => return with_code(base, code, remark),
        Err(e) => return Err(e),
    };
    let queue_id = if h.queue_id < 0 { random_queue(tc.write_queue_nums) } else { h.queue_id };
    // `Boolean.parseBoolean`: the C++ client's batch="1" is false, so one message
    if h.batch.unwrap_or(false) {
        return send_batch(state, channel, req, &h, &tc, queue_id, base).await;
    }
    let initial = if state.flavor == JavaFlavor::V5_3_3 { 128 } else { 16 };
    let mut p = JavaProps::parse(h.properties.as_deref(), initial);
    let (topic, queue_id, sys_flag) = match retry_and_dlq(state, &h, req, &tc, queue_id, &mut p) {
        Ok(x) => x,
        Err(Failure::Code(code, remark)) => return with_code(base, code, remark),
        Err(e) => return Err(e),
    };
    if state.flavor == JavaFlavor::V5_3_3 && p.get(props::UNIQ_KEY).is_none_or(|u| u.is_empty()) {
        p.put(props::UNIQ_KEY, &state.uniq_ids.next());
    }
    p.put(props::CLUSTER, &b.broker_cluster_name);
    let uniq = p.get(props::UNIQ_KEY).map(str::to_string);
    let tran = p.get(props::TRAN_MSG).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let delay_level = p.get(props::DELAY).and_then(|v| v.trim().parse::<i32>().ok()).unwrap_or(0);
    let reconsume = h.reconsume_times.unwrap_or(0);
    let properties = if state.flavor == JavaFlavor::V4_9_8 && p.contains(props::WAIT) {
        // 4.9.8 stores no WAIT (saves 9 bytes); the flush wait still follows it
        let mut stored = p.clone();
        stored.remove(props::WAIT);
        stored.to_java_string()
    } else {
        p.to_java_string()
    };
    if state.flavor == JavaFlavor::V4_9_8 {
        // Java puts WAIT back into the map (last in its bucket): the delay and
        // half rewrites re-serialize the map, WAIT included
        if let Some(w) = p.remove(props::WAIT) {
            p.put(props::WAIT, &w);
        }
    }
    let to_half = tran && !(reconsume > 0 && delay_level > 0);
    let delay = if to_half { None } else { state.delay.read().clone() };
    let (store_topic, store_queue, properties) = match delay.and_then(|d| d.rewrite(&topic, queue_id, sys_flag, &p)) {
        Some(parked) => parked,
        None => (topic, queue_id, properties),
    };
    let msg = MessageToStore {
        topic: store_topic,
        queue_id: store_queue,
        flag: h.flag,
        body: req.body.clone().unwrap_or_default(),
        properties: Bytes::from(properties),
        sys_flag,
        born_timestamp: h.born_timestamp,
        born_host: HostAddr::new(channel.peer_addr().ip(), channel.peer_addr().port() as i32),
        store_host: state.store_host,
        reconsume_times: reconsume,
        prepared_transaction_offset: 0,
    };
    let result = if to_half {
        let hook = state.transactions.read().clone();
        match hook.filter(|_| !b.reject_transaction_message) {
            Some(t) => t.prepare(msg, &p).await,
            None => {
                let remark = format!("the broker[{}] sending transaction message is forbidden", b.broker_ip1);
                return with_code(base, ResponseCode::NO_PERMISSION, remark);
            }
        }
    } else if state.role.is_slave() {
        PutResult::status(PutStatus::ServiceNotAvailable)
    } else {
        state.store.put(msg).await
    };
    let result = replicated(state, p.get(props::WAIT), result).await;
    Ok(Some(put_response(state, base, result, queue_id, uniq)))
}

/// One `encodeMessages` block: flag, body, raw properties.
struct Block {
    flag: i32,
    body: Bytes,
    props: Bytes,
}

fn decode_batch(body: &Bytes) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let int = |p: usize| -> Result<i32, String> {
        body.get(p..p + 4)
            .map(|b| i32::from_be_bytes(b.try_into().expect("4 bytes")))
            .ok_or_else(|| format!("batch body ends inside a message header at byte {p}"))
    };
    while pos < body.len() {
        let start = pos;
        let flag = int(pos + 12)?;
        let body_len = usize::try_from(int(pos + 16)?).map_err(|_| format!("negative body length at byte {start}"))?;
        pos += 20;
        let b = body
            .get(pos..pos + body_len)
            .ok_or_else(|| format!("batch message at byte {start} has a body past the end"))?;
        let b = body.slice_ref(b);
        pos += body_len;
        let plen = body
            .get(pos..pos + 2)
            .map(|x| i16::from_be_bytes([x[0], x[1]]))
            .ok_or_else(|| format!("batch message at byte {start} has no properties length"))?;
        let plen = usize::try_from(plen).map_err(|_| format!("negative properties length at byte {start}"))?;
        pos += 2;
        let pr = body
            .get(pos..pos + plen)
            .ok_or_else(|| format!("batch message at byte {start} has properties past the end"))?;
        let pr = body.slice_ref(pr);
        pos += plen;
        out.push(Block { flag, body: b, props: pr });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn send_batch(
    state: &Arc<BrokerState>,
    channel: &Channel,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
    tc: &SendTopic,
    queue_id: i32,
    base: RemotingCommand,
) -> Outcome {
    if h.topic.encode_utf16().count() > 127 {
        return with_code(
            base,
            ResponseCode::MESSAGE_ILLEGAL,
            format!("message topic length too long {}", h.topic.len()),
        );
    }
    if state.flavor == JavaFlavor::V5_3_3 && h.topic.starts_with(RETRY_PREFIX) {
        return with_code(
            base,
            ResponseCode::MESSAGE_ILLEGAL,
            format!("batch request does not support retry group {}", h.topic),
        );
    }
    let mut sys_flag = h.sys_flag;
    if tc.multi_tag {
        sys_flag |= FLAG_MULTI_TAGS;
    }
    let initial = if state.flavor == JavaFlavor::V5_3_3 { 128 } else { 16 };
    let mut p = JavaProps::parse(h.properties.as_deref(), initial);
    p.put(props::CLUSTER, &state.settings.broker.broker_cluster_name);
    let delay = p.get(props::DELAY).and_then(|v| v.trim().parse::<i32>().ok()).unwrap_or(0);
    let body = req.body.clone().unwrap_or_default();
    let illegal = || {
        let max = state.settings.store.max_message_size;
        format!("the message is illegal, maybe msg body or properties length not matched. msg body length limit {max}B, msg properties length limit 32KB.")
    };
    // DefaultMessageStore.checkMessages / CommitLog.asyncPutMessages refusals
    if body.len() > state.settings.store.max_message_size.max(0) as usize
        || sys_flag & TRANSACTION_TYPE_MASK != 0
        || delay > 0
    {
        return with_code(base, ResponseCode::MESSAGE_ILLEGAL, illegal());
    }
    let blocks = match decode_batch(&body) {
        Ok(b) if !b.is_empty() => b,
        Ok(_) => return with_code(base, ResponseCode::MESSAGE_ILLEGAL, "batch request has no message".into()),
        Err(e) => return with_code(base, ResponseCode::MESSAGE_ILLEGAL, e),
    };
    let batch_props = p.to_java_string();
    let born_host = HostAddr::new(channel.peer_addr().ip(), channel.peer_addr().port() as i32);
    let msgs = blocks
        .into_iter()
        .map(|bl| {
            // inner properties, a separator if needed, then the batch's
            let mut pr = bl.props.to_vec();
            if !pr.is_empty() && !batch_props.is_empty() && pr.last() != Some(&2) {
                pr.push(2);
            }
            pr.extend_from_slice(batch_props.as_bytes());
            MessageToStore {
                topic: h.topic.clone(),
                queue_id,
                flag: bl.flag,
                body: bl.body,
                properties: Bytes::from(pr),
                sys_flag,
                born_timestamp: h.born_timestamp,
                born_host,
                store_host: state.store_host,
                reconsume_times: h.reconsume_times.unwrap_or(0),
                prepared_transaction_offset: 0,
            }
        })
        .collect();
    let result = if state.role.is_slave() {
        PutResult::status(PutStatus::ServiceNotAvailable)
    } else {
        state.store.put_batch(msgs).await
    };
    let result = replicated(state, p.get(props::WAIT), result).await;
    let uniq = p.get(props::UNIQ_KEY).map(str::to_string);
    Ok(Some(put_response(state, base, result, queue_id, uniq)))
}

fn disk_util(state: &BrokerState) -> String {
    use rmq_store::append::CleanEnv;
    let env = rmq_store::append::SystemEnv;
    let root = std::path::Path::new(&state.settings.store.store_path_root_dir);
    let pct = |p: &std::path::Path| {
        let r = env.disk_used_ratio(p);
        if r < 0.0 {
            -1.0
        } else {
            r * 100.0
        }
    };
    let cl = state.store.writer().queue().dirs().iter().map(|d| pct(d)).fold(100.0f64, f64::min);
    format!("CL: {:5.2} CQ: {:5.2} INDEX: {:5.2}", cl, pct(&root.join("consumequeue")), pct(&root.join("index")))
}

/// SYNC_MASTER: the put waits for its slave acks (`CommitLog#handleHA`).
async fn replicated(state: &BrokerState, wait: Option<&str>, r: PutResult) -> PutResult {
    let wait = crate::ha::wait_store_msg_ok(wait);
    state.ha.after_put(state.role.get(), state.settings.store.duplication_enable, wait, r).await
}

/// `handlePutMessageResult`.
fn put_response(
    state: &BrokerState,
    mut resp: RemotingCommand,
    r: PutResult,
    queue_id: i32,
    uniq: Option<String>,
) -> RemotingCommand {
    let max = state.settings.store.max_message_size;
    let (code, remark, ok) = match r.status {
        PutStatus::PutOk => (ResponseCode::SUCCESS, None, true),
        PutStatus::FlushDiskTimeout => (ResponseCode::FLUSH_DISK_TIMEOUT, None, true),
        PutStatus::FlushSlaveTimeout => (ResponseCode::FLUSH_SLAVE_TIMEOUT, None, true),
        PutStatus::SlaveNotAvailable => (ResponseCode::SLAVE_NOT_AVAILABLE, None, true),
        PutStatus::CreateMappedFileFailed => {
            (ResponseCode::SYSTEM_ERROR, Some("create mapped file failed, server is busy or broken.".to_string()), false)
        }
        PutStatus::MessageIllegal | PutStatus::PropertiesSizeExceeded => (
            ResponseCode::MESSAGE_ILLEGAL,
            Some(format!("the message is illegal, maybe msg body or properties length not matched. msg body length limit {max}B, msg properties length limit 32KB.")),
            false,
        ),
        PutStatus::ServiceNotAvailable => (
            ResponseCode::SERVICE_NOT_AVAILABLE,
            Some(format!("service not available now. It may be caused by one of the following reasons: the broker's disk is full [{}], messages are put to the slave, message store has been shut down, etc.", disk_util(state))),
            false,
        ),
        PutStatus::OsPageCacheBusy => {
            (ResponseCode::SYSTEM_ERROR, Some("[PC_SYNCHRONIZED]broker busy, start flow control for a while".to_string()), false)
        }
        PutStatus::UnknownError => (ResponseCode::SYSTEM_ERROR, Some("UNKNOWN_ERROR".to_string()), false),
    };
    resp.code = code.0;
    resp.remark = remark;
    if let (true, Some(a)) = (ok, r.append.as_ref()) {
        header(state, a, queue_id, uniq).apply_to(&mut resp);
    }
    resp
}

fn header(state: &BrokerState, a: &AppendResult, queue_id: i32, uniq: Option<String>) -> SendMessageResponseHeader {
    SendMessageResponseHeader {
        msg_id: a.msg_id(),
        queue_id,
        queue_offset: a.logics_offset,
        transaction_id: if state.flavor == JavaFlavor::V5_3_3 { uniq } else { None },
        batch_uniq_id: None,
        recall_handle: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_blocks_decode_and_garbage_is_an_error() {
        let mut b = Vec::new();
        for (flag, body, pr) in [(1i32, &b"ab"[..], &b"K\x01v"[..]), (2, b"", b"")] {
            let total = 20 + body.len() + 2 + pr.len();
            b.extend_from_slice(&(total as i32).to_be_bytes());
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&flag.to_be_bytes());
            b.extend_from_slice(&(body.len() as i32).to_be_bytes());
            b.extend_from_slice(body);
            b.extend_from_slice(&(pr.len() as i16).to_be_bytes());
            b.extend_from_slice(pr);
        }
        let blocks = decode_batch(&Bytes::from(b.clone())).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!((blocks[0].flag, &blocks[0].body[..], &blocks[0].props[..]), (1, &b"ab"[..], &b"K\x01v"[..]));
        b.truncate(b.len() - 1);
        assert!(decode_batch(&Bytes::from(b)).is_err());
        let id = UniqIdGenerator::new("127.0.0.1".parse().unwrap());
        assert_eq!(id.next().len(), 32);
    }
}
