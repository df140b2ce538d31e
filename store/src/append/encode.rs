//! What goes into the write path and what comes out: the message to store,
//! put statuses/results, the dispatch request handed to the CQ/index side,
//! and the record encoder that fills in the store-assigned fields.

use bytes::Bytes;

use crate::dispatch::{DispatchRequest, SCHEDULE_TOPIC};

use crate::record::properties::{
    NAME_VALUE_SEPARATOR, PROPERTY_CRC32, PROPERTY_DELAY_TIME_LEVEL, PROPERTY_KEYS, PROPERTY_SEPARATOR, PROPERTY_TAGS,
    PROPERTY_UNIQ_KEY,
};
use crate::record::{
    calc_msg_length, crc32_masked, offset_msg_id, tags_code, HostAddr, MessageVersion, CRC32_RESERVED_LEN,
    FLAG_BORNHOST_V6, FLAG_STOREHOST_V6, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE, TRANSACTION_TYPE_MASK,
};

/// `MessageConst.PROPERTY_WAIT_STORE_MSG_OK`.
pub const PROPERTY_WAIT: &str = "WAIT";
/// `MessageConst.PROPERTY_INNER_NUM`.
pub const PROPERTY_INNER_NUM: &str = "INNER_NUM";

/// A message as the broker hands it to the store (Java `MessageExtBrokerInner`).
/// The store fills in TOTALSIZE, MAGICCODE, BODYCRC, QUEUEOFFSET,
/// PHYSICALOFFSET, STORETIMESTAMP and the IPv6 sysflag bits.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageToStore {
    pub topic: String,
    pub queue_id: i32,
    pub flag: i32,
    pub body: Bytes,
    /// The properties string exactly as it must be stored.
    pub properties: Bytes,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: HostAddr,
    /// `brokerIP1:listenPort`.
    pub store_host: HostAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
}

impl MessageToStore {
    /// Value of a property (last occurrence wins, as Java's map does).
    pub fn property(&self, key: &str) -> Option<&[u8]> {
        property_value(&self.properties, key)
    }

    fn tran_type(&self) -> i32 {
        self.sys_flag & TRANSACTION_TYPE_MASK
    }

    /// Whether it takes a consume-queue offset (NOT / COMMIT transaction type).
    pub fn gets_queue_offset(&self) -> bool {
        matches!(self.tran_type(), TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE)
    }

    /// Consume-queue entries it occupies (`INNER_NUM` for inner batches).
    pub fn message_num(&self) -> i64 {
        if self.sys_flag & crate::record::FLAG_INNER_BATCH == 0 {
            return 1;
        }
        self.property(PROPERTY_INNER_NUM)
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i16>().ok())
            .map(|n| n.max(1) as i64)
            .unwrap_or(1)
    }

    /// SYSFLAG as stored: the IPv6 bits follow the host addresses.
    pub fn stored_sys_flag(&self) -> i32 {
        let mut f = self.sys_flag & !(FLAG_BORNHOST_V6 | FLAG_STOREHOST_V6);
        if self.born_host.is_v6() {
            f |= FLAG_BORNHOST_V6;
        }
        if self.store_host.is_v6() {
            f |= FLAG_STOREHOST_V6;
        }
        f
    }

    /// The producer waits for the flush (`WAIT` absent or not "false").
    pub fn wait_store_msg_ok(&self) -> bool {
        self.property(PROPERTY_WAIT) != Some(b"false".as_slice())
    }
}

/// Java `PutMessageStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PutStatus {
    PutOk,
    FlushDiskTimeout,
    FlushSlaveTimeout,
    SlaveNotAvailable,
    ServiceNotAvailable,
    CreateMappedFileFailed,
    MessageIllegal,
    PropertiesSizeExceeded,
    OsPageCacheBusy,
    UnknownError,
}

/// Where a put landed (Java `AppendMessageResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// PHYSICALOFFSET of the first record.
    pub wrote_offset: i64,
    /// Bytes of all records of the put.
    pub wrote_bytes: i32,
    /// PHYSICALOFFSET of each record (one per message of a batch).
    pub offsets: RecordOffsets,
    pub store_host: HostAddr,
    pub store_timestamp: i64,
    /// QUEUEOFFSET of the first message.
    pub logics_offset: i64,
    pub msg_num: i32,
}

impl AppendResult {
    /// offsetMsgId(s), comma-joined for a batch as Java does.
    pub fn msg_id(&self) -> String {
        if let RecordOffsets::One(o) = self.offsets {
            return offset_msg_id(&self.store_host, o);
        }
        let ids: Vec<String> = self.offsets.iter().map(|o| offset_msg_id(&self.store_host, *o)).collect();
        ids.join(",")
    }
}

/// Record offsets of a put: inline for a single message (the common case
/// needs no allocation, which would be freed on another thread), a vector
/// for a batch. Derefs to `[i64]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOffsets {
    One(i64),
    Many(Vec<i64>),
}

impl std::ops::Deref for RecordOffsets {
    type Target = [i64];
    fn deref(&self) -> &[i64] {
        match self {
            RecordOffsets::One(o) => std::slice::from_ref(o),
            RecordOffsets::Many(v) => v,
        }
    }
}

/// Java `PutMessageResult`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutResult {
    pub status: PutStatus,
    pub append: Option<AppendResult>,
}

impl PutResult {
    pub fn status(status: PutStatus) -> Self {
        PutResult { status, append: None }
    }
    pub fn is_ok(&self) -> bool {
        self.status == PutStatus::PutOk
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn build_dispatch(
    topic: &str,
    queue_id: i32,
    offset: u64,
    size: i32,
    store_ts: i64,
    queue_offset: i64,
    sys_flag: i32,
    prepared: i64,
    props: &[u8],
    delay_levels_ms: &[i64],
) -> DispatchRequest {
    let text = |k: &str| property_value(props, k).map(|v| String::from_utf8_lossy(v).into_owned());
    DispatchRequest {
        topic: topic.to_string(),
        queue_id,
        commit_log_offset: offset as i64,
        msg_size: size,
        tags_code: dispatch_tags_code(topic, props, store_ts, delay_levels_ms),
        store_timestamp: store_ts,
        consume_queue_offset: queue_offset,
        keys: text(PROPERTY_KEYS),
        uniq_key: text(PROPERTY_UNIQ_KEY),
        sys_flag,
        prepared_transaction_offset: prepared,
    }
}

/// CQ tags code as `CommitLog.checkMessageAndReturnSize` computes it: the TAGS
/// hash, except for delayed messages in `SCHEDULE_TOPIC_XXXX` whose code is the
/// delivery time (level clamped to the highest level; unparsable level = no delay).
pub fn dispatch_tags_code(topic: &str, props: &[u8], store_ts: i64, delay_levels_ms: &[i64]) -> i64 {
    let mut code = property_value(props, PROPERTY_TAGS).map(|t| tags_code(&String::from_utf8_lossy(t))).unwrap_or(0);
    if topic == SCHEDULE_TOPIC {
        let level = property_value(props, PROPERTY_DELAY_TIME_LEVEL)
            .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<i64>().ok());
        if let Some(level) = level {
            let level = level.min(delay_levels_ms.len() as i64);
            if level > 0 {
                code = store_ts + delay_levels_ms.get(level as usize - 1).copied().unwrap_or(1000);
            }
        }
    }
    code
}

/// Scans `key 0x01 value 0x02` pairs without building a map; keeps Java's
/// rules (empty key or value ignored, last occurrence wins).
pub fn property_value<'a>(props: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut found = None;
    for seg in props.split(|b| *b == PROPERTY_SEPARATOR) {
        if let Some(kv) = seg.iter().position(|b| *b == NAME_VALUE_SEPARATOR) {
            if kv > 0 && kv + 1 < seg.len() && &seg[..kv] == key.as_bytes() {
                found = Some(&seg[kv + 1..]);
            }
        }
    }
    found
}

/// Java `String.length()` of the topic (UTF-16 units), what the 127 limit counts.
fn java_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// A message checked and sized for encoding.
pub(crate) struct Prepared {
    pub version: MessageVersion,
    pub sys_flag: i32,
    pub body_crc: i32,
    pub len: usize,
    /// Extra bytes after the properties: a separator and/or the CRC reserve.
    pub add_separator: bool,
    pub crc_reserved: bool,
}

/// Limits the encoder applies.
#[derive(Clone)]
pub(crate) struct EncodeRules {
    pub max_message_size: i32,
    pub allow_v2: bool,
    pub auto_v2: bool,
    pub prop_crc: bool,
}

/// Checks a message like `MessageExtEncoder.encode` and computes its length.
pub(crate) fn prepare(m: &MessageToStore, r: &EncodeRules) -> Result<Prepared, PutStatus> {
    let long_topic = java_len(&m.topic) > 127;
    let version = if long_topic && r.allow_v2 && r.auto_v2 { MessageVersion::V2 } else { MessageVersion::V1 };
    let topic_limit = if version == MessageVersion::V1 { 127 } else { i16::MAX as usize };
    // V1 stores a signed byte: a longer (or multi-byte) topic would not read back
    if m.topic.len() > topic_limit || m.topic.is_empty() {
        return Err(PutStatus::MessageIllegal);
    }
    let sys_flag = m.stored_sys_flag();
    let add_separator = r.prop_crc && m.properties.last().is_some_and(|b| *b != PROPERTY_SEPARATOR);
    let props_len = m.properties.len() + add_separator as usize + if r.prop_crc { CRC32_RESERVED_LEN } else { 0 };
    if props_len > i16::MAX as usize {
        return Err(PutStatus::PropertiesSizeExceeded);
    }
    if m.body.len() > r.max_message_size as usize {
        return Err(PutStatus::MessageIllegal);
    }
    let len = calc_msg_length(version, sys_flag, m.body.len() as i64, m.topic.len() as i64, props_len as i64);
    // the encoder's buffer allows 64 KiB of headers on top of the body limit
    if len > r.max_message_size as i64 + 64 * 1024 {
        return Err(PutStatus::MessageIllegal);
    }
    Ok(Prepared {
        version,
        sys_flag,
        body_crc: crc32_masked(&m.body),
        len: len as usize,
        add_separator,
        crc_reserved: r.prop_crc,
    })
}

/// Appends the record bytes to `out`; with `inline_body == false` the body is
/// left out (the caller writes it from `m.body` at the returned position, so
/// large bodies are not copied twice). Returns where the body starts in `out`.
pub(crate) fn encode(
    out: &mut Vec<u8>,
    m: &MessageToStore,
    p: &Prepared,
    queue_offset: i64,
    phys: i64,
    store_ts: i64,
    inline_body: bool,
) -> usize {
    let start = out.len();
    out.reserve(if inline_body { p.len } else { p.len - m.body.len() });
    out.extend_from_slice(&(p.len as i32).to_be_bytes());
    out.extend_from_slice(&p.version.magic().to_be_bytes());
    out.extend_from_slice(&p.body_crc.to_be_bytes());
    out.extend_from_slice(&m.queue_id.to_be_bytes());
    out.extend_from_slice(&m.flag.to_be_bytes());
    out.extend_from_slice(&queue_offset.to_be_bytes());
    out.extend_from_slice(&phys.to_be_bytes());
    out.extend_from_slice(&p.sys_flag.to_be_bytes());
    out.extend_from_slice(&m.born_timestamp.to_be_bytes());
    m.born_host.write_to(out);
    out.extend_from_slice(&store_ts.to_be_bytes());
    m.store_host.write_to(out);
    out.extend_from_slice(&m.reconsume_times.to_be_bytes());
    out.extend_from_slice(&m.prepared_transaction_offset.to_be_bytes());
    out.extend_from_slice(&(m.body.len() as i32).to_be_bytes());
    let body_at = out.len();
    if inline_body {
        out.extend_from_slice(&m.body);
    }
    match p.version {
        MessageVersion::V1 => out.push(m.topic.len() as u8),
        MessageVersion::V2 => out.extend_from_slice(&(m.topic.len() as i16).to_be_bytes()),
    }
    out.extend_from_slice(m.topic.as_bytes());
    let body_in_out = if inline_body { m.body.len() } else { 0 };
    let props_len = p.len - m.body.len() + body_in_out - (out.len() - start) - 2;
    out.extend_from_slice(&(props_len as i16).to_be_bytes());
    out.extend_from_slice(&m.properties);
    if p.add_separator {
        out.push(PROPERTY_SEPARATOR);
    }
    if p.crc_reserved {
        // crc32 of everything before the reserve, digits least significant first
        let mut h = crc32fast::Hasher::new();
        if inline_body {
            h.update(&out[start..]);
        } else {
            h.update(&out[start..body_at]);
            h.update(&m.body);
            h.update(&out[body_at..]);
        }
        let mut crc = h.finalize() & 0x7FFF_FFFF;
        out.extend_from_slice(PROPERTY_CRC32.as_bytes());
        out.push(NAME_VALUE_SEPARATOR);
        for _ in 0..10 {
            out.push(b'0' + (crc % 10) as u8);
            crc /= 10;
        }
        out.push(PROPERTY_SEPARATOR);
    }
    debug_assert_eq!(out.len() - start + m.body.len() - body_in_out, p.len);
    body_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{decode_message, parse_properties, properties_to_bytes};

    fn msg(topic: &str, props: Vec<u8>) -> MessageToStore {
        MessageToStore {
            topic: topic.into(),
            queue_id: 2,
            flag: 0,
            body: Bytes::from_static(b"body"),
            properties: Bytes::from(props),
            sys_flag: 0,
            born_timestamp: 5,
            born_host: HostAddr::new("2001:db8::1".parse().unwrap(), 1),
            store_host: HostAddr::v4([127, 0, 0, 1], 10911),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    fn rules(prop_crc: bool) -> EncodeRules {
        EncodeRules { max_message_size: 1024, allow_v2: true, auto_v2: true, prop_crc }
    }

    #[test]
    fn encodes_what_the_decoder_reads() {
        for crc in [false, true] {
            let long = "T".repeat(150);
            for topic in ["TopicA", long.as_str()] {
                let m = msg(topic, properties_to_bytes([("TAGS", "a"), ("KEYS", "k1 k2")]));
                let p = prepare(&m, &rules(crc)).unwrap();
                let mut out = vec![9u8];
                encode(&mut out, &m, &p, 7, 1000, 42, true);
                // the body left out and spliced back gives the same bytes
                let mut split = vec![9u8];
                let at = encode(&mut split, &m, &p, 7, 1000, 42, false);
                split.splice(at..at, m.body.iter().copied());
                assert_eq!(split, out);
                let r = decode_message(&out[1..]).unwrap();
                assert_eq!(r.total_size as usize, out.len() - 1);
                assert_eq!((r.queue_offset, r.physical_offset, r.store_timestamp), (7, 1000, 42));
                assert_eq!(r.sys_flag, FLAG_BORNHOST_V6);
                assert_eq!(r.version, if topic.len() > 127 { MessageVersion::V2 } else { MessageVersion::V1 });
                assert!(r.body_crc_ok());
                assert_eq!(r.encode().unwrap(), out[1..]);
                if crc {
                    let (stored, computed) = r.property_crc().unwrap();
                    assert_eq!(stored, computed as i64);
                }
                let d =
                    build_dispatch(&r.topic, 2, 1000, r.total_size, 42, 7, r.sys_flag, 0, &r.properties_raw, &[1000]);
                assert_eq!(d.keys.as_deref(), Some("k1 k2"));
                assert_eq!(d.tags_code, tags_code("a"));
            }
        }
    }

    #[test]
    fn limits() {
        let m = msg(&"T".repeat(128), vec![]);
        let v1_only = EncodeRules { allow_v2: false, ..rules(false) };
        assert_eq!(prepare(&m, &v1_only).err(), Some(PutStatus::MessageIllegal));
        let mut m = msg("t", vec![b'a'; 40000]);
        assert_eq!(prepare(&m, &rules(false)).err(), Some(PutStatus::PropertiesSizeExceeded));
        m.properties = Bytes::new();
        m.body = Bytes::from(vec![0u8; 1025]);
        assert_eq!(prepare(&m, &rules(false)).err(), Some(PutStatus::MessageIllegal));
        assert_eq!(prepare(&msg("", vec![]), &rules(false)).err(), Some(PutStatus::MessageIllegal));
    }

    #[test]
    fn tags_code_for_delayed_messages() {
        let levels = [1000, 5000];
        let p = properties_to_bytes([("DELAY", "9"), ("TAGS", "x")]);
        assert_eq!(dispatch_tags_code(SCHEDULE_TOPIC, &p, 100, &levels), 5100);
        assert_eq!(dispatch_tags_code("other", &p, 100, &levels), tags_code("x"));
        let p = properties_to_bytes([("DELAY", "x"), ("TAGS", "x")]);
        assert_eq!(dispatch_tags_code(SCHEDULE_TOPIC, &p, 100, &levels), tags_code("x"));
        let raw = b"A\x011\x02A\x012\x02\x01x\x02B\x01\x02";
        assert_eq!(property_value(raw, "A"), Some(b"2".as_slice()));
        assert_eq!(property_value(raw, "B"), None);
        assert_eq!(parse_properties(raw).get("A").map(String::as_str), Some("2"));
        let mut m = msg("t", properties_to_bytes([("WAIT", "false"), ("INNER_NUM", "3")]));
        assert!(!m.wait_store_msg_ok());
        assert_eq!(m.message_num(), 1);
        m.sys_flag = crate::record::FLAG_INNER_BATCH;
        assert_eq!(m.message_num(), 3);
    }
}
