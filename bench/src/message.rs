//! Message bytes: the SEND_MESSAGE_V2 request a Java producer sends, the bench
//! stamp inside bodies, and the stored-record format PULL_MESSAGE returns.

use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::protocol::send::SendMessageRequestHeaderV2;
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::error::{BenchError, Result};

/// Bodies of at least [`STAMP_LEN`] bytes start with `RMQBENCH | run id | send time (unix µs)`.
pub const STAMP_MAGIC: &[u8; 8] = b"RMQBENCH";
pub const STAMP_LEN: usize = 24;

/// `MESSAGE_MAGIC_CODE` (V1) and `MESSAGE_MAGIC_CODE_V2` (2-byte topic length).
pub const MAGIC_V1: i32 = 0xDAA320A7u32 as i32;
pub const MAGIC_V2: i32 = 0xDAA320ABu32 as i32;
const FLAG_BORNHOST_V6: i32 = 0x10;
const FLAG_STOREHOST_V6: i32 = 0x20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub run_id: u64,
    /// When the send was due (open loop) or started (closed loop), unix microseconds.
    pub sent_micros: i64,
}

pub fn write_stamp(body: &mut [u8], stamp: Stamp) {
    if body.len() >= STAMP_LEN {
        body[..8].copy_from_slice(STAMP_MAGIC);
        body[8..16].copy_from_slice(&stamp.run_id.to_be_bytes());
        body[16..24].copy_from_slice(&stamp.sent_micros.to_be_bytes());
    }
}

pub fn read_stamp(body: &[u8]) -> Option<Stamp> {
    if body.len() < STAMP_LEN || &body[..8] != STAMP_MAGIC {
        return None;
    }
    Some(Stamp {
        run_id: u64::from_be_bytes(body[8..16].try_into().ok()?),
        sent_micros: i64::from_be_bytes(body[16..24].try_into().ok()?),
    })
}

/// Printable filler of `size` bytes to stamp and send.
pub fn body_template(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// `MessageClientIDSetter`-shaped ids: 32 upper-case hex digits, unique per process run.
#[derive(Debug)]
pub struct UniqKeys {
    prefix: String,
    start_secs: u64,
    counter: AtomicU32,
}

impl UniqKeys {
    pub fn new() -> UniqKeys {
        let pid = std::process::id();
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        // ip (127.0.0.1) | pid (2 bytes) | a per-run hash (4 bytes), like Java's FIX_STRING.
        let prefix = format!("7F000001{:04X}{:08X}", pid & 0xFFFF, (nanos as u32) ^ pid.rotate_left(16));
        UniqKeys { prefix, start_secs: (nanos / 1_000_000_000) as u64, counter: AtomicU32::new(0) }
    }

    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        // The 2-byte counter wraps like Java's; the upper counter bits go into the time field.
        let time = (now.saturating_sub(self.start_secs) as u32) ^ (n >> 16).wrapping_mul(0x9E37_79B9);
        format!("{}{:08X}{:04X}", self.prefix, time, n & 0xFFFF)
    }
}

impl Default for UniqKeys {
    fn default() -> Self {
        UniqKeys::new()
    }
}

/// What every send of a run shares.
#[derive(Debug, Clone)]
pub struct SendSpec {
    pub producer_group: String,
    pub topic: String,
    pub tag: Option<String>,
}

impl SendSpec {
    /// The message properties string (`key 0x01 value 0x02 ...`).
    pub fn properties(&self, uniq_key: &str) -> String {
        let mut p = String::with_capacity(64);
        p.push_str("UNIQ_KEY\u{1}");
        p.push_str(uniq_key);
        p.push_str("\u{2}WAIT\u{1}true\u{2}");
        if let Some(tag) = &self.tag {
            p.push_str("TAGS\u{1}");
            p.push_str(tag);
            p.push('\u{2}');
        }
        p
    }

    /// SEND_MESSAGE_V2 (310) with the fields `DefaultMQProducerImpl.sendKernelImpl` sets.
    pub fn request(
        &self,
        broker_name: &str,
        queue_id: i32,
        born_ms: i64,
        uniq_key: &str,
        body: Bytes,
    ) -> RemotingCommand {
        let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2);
        SendMessageRequestHeaderV2 {
            a: self.producer_group.clone(),
            b: self.topic.clone(),
            c: "TBW102".into(),
            d: 4,
            e: queue_id,
            f: 0,
            g: born_ms,
            h: 0,
            i: Some(self.properties(uniq_key)),
            j: Some(0),
            k: Some(false),
            l: None,
            m: Some(false),
            n: Some(broker_name.to_string()),
        }
        .apply_to(&mut cmd);
        cmd.with_body(body)
    }
}

/// One message of a PULL_MESSAGE response body (fields borrowed from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledMessage<'a> {
    pub queue_id: i32,
    pub queue_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub store_timestamp: i64,
    pub body: &'a [u8],
    pub topic: &'a [u8],
    pub properties: &'a [u8],
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(BenchError::Message {
                offset: self.base + self.pos,
                reason: format!("record ends inside {what} (needs {n} bytes)"),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn i16(&mut self, what: &str) -> Result<i16> {
        Ok(i16::from_be_bytes(self.take(2, what)?.try_into().expect("2 bytes")))
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_be_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }
    fn len(&mut self, v: i64, what: &str) -> Result<usize> {
        usize::try_from(v)
            .map_err(|_| BenchError::Message { offset: self.base + self.pos, reason: format!("negative {what} {v}") })
    }
}

/// Splits a pull response body into its messages.
pub fn decode_messages(buf: &[u8]) -> Result<Vec<PulledMessage<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let err = |reason: String| BenchError::Message { offset: pos, reason };
        if buf.len() - pos < 8 {
            return Err(err("trailing bytes shorter than a record header".into()));
        }
        let total = i32::from_be_bytes(buf[pos..pos + 4].try_into().expect("4 bytes"));
        if total < 8 || total as usize > buf.len() - pos {
            return Err(err(format!("record size {total} does not fit in the {} bytes left", buf.len() - pos)));
        }
        let rec = &buf[pos..pos + total as usize];
        out.push(decode_one(rec, pos)?);
        pos += total as usize;
    }
    Ok(out)
}

fn decode_one(rec: &[u8], base: usize) -> Result<PulledMessage<'_>> {
    let mut c = Cursor { buf: rec, pos: 4, base };
    let magic = c.i32("magic")?;
    if magic != MAGIC_V1 && magic != MAGIC_V2 {
        return Err(BenchError::Message { offset: base + 4, reason: format!("unknown magic code {magic:#010x}") });
    }
    let _body_crc = c.i32("body crc")?;
    let queue_id = c.i32("queue id")?;
    let _flag = c.i32("flag")?;
    let queue_offset = c.i64("queue offset")?;
    let _phys = c.i64("physical offset")?;
    let sys_flag = c.i32("sys flag")?;
    let born_timestamp = c.i64("born timestamp")?;
    c.take(if sys_flag & FLAG_BORNHOST_V6 != 0 { 20 } else { 8 }, "born host")?;
    let store_timestamp = c.i64("store timestamp")?;
    c.take(if sys_flag & FLAG_STOREHOST_V6 != 0 { 20 } else { 8 }, "store host")?;
    let _reconsume = c.i32("reconsume times")?;
    let _prepared = c.i64("prepared transaction offset")?;
    let body_len = c.i32("body length")?;
    let body_len = c.len(body_len as i64, "body length")?;
    let body = c.take(body_len, "body")?;
    let topic_len =
        if magic == MAGIC_V2 { c.i16("topic length")? as i64 } else { c.take(1, "topic length")?[0] as i64 };
    let topic_len = c.len(topic_len, "topic length")?;
    let topic = c.take(topic_len, "topic")?;
    let props_len = c.i16("properties length")?;
    let props_len = c.len(props_len as i64, "properties length")?;
    let properties = c.take(props_len, "properties")?;
    Ok(PulledMessage { queue_id, queue_offset, sys_flag, born_timestamp, store_timestamp, body, topic, properties })
}

/// Fields of a stored record, for [`encode_record`].
#[derive(Debug, Clone)]
pub struct RecordFields<'a> {
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub born_timestamp: i64,
    pub born_host: std::net::SocketAddrV4,
    pub store_timestamp: i64,
    pub store_host: std::net::SocketAddrV4,
    pub body: &'a [u8],
    pub topic: &'a str,
    pub properties: &'a str,
}

/// Appends a V1 record (IPv4 hosts, sysflag 0) in the commitlog/pull format.
pub fn encode_record(f: &RecordFields<'_>, out: &mut Vec<u8>) {
    let topic = &f.topic.as_bytes()[..f.topic.len().min(127)];
    let props = &f.properties.as_bytes()[..f.properties.len().min(i16::MAX as usize)];
    let total =
        4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + f.body.len() + 1 + topic.len() + 2 + props.len();
    let host = |h: &std::net::SocketAddrV4, out: &mut Vec<u8>| {
        out.extend_from_slice(&h.ip().octets());
        out.extend_from_slice(&(h.port() as i32).to_be_bytes());
    };
    out.reserve(total);
    out.extend_from_slice(&(total as i32).to_be_bytes());
    out.extend_from_slice(&MAGIC_V1.to_be_bytes());
    out.extend_from_slice(&((crc32fast::hash(f.body) & 0x7FFF_FFFF) as i32).to_be_bytes());
    out.extend_from_slice(&f.queue_id.to_be_bytes());
    out.extend_from_slice(&f.flag.to_be_bytes());
    out.extend_from_slice(&f.queue_offset.to_be_bytes());
    out.extend_from_slice(&f.physical_offset.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&f.born_timestamp.to_be_bytes());
    host(&f.born_host, out);
    out.extend_from_slice(&f.store_timestamp.to_be_bytes());
    host(&f.store_host, out);
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&(f.body.len() as i32).to_be_bytes());
    out.extend_from_slice(f.body);
    out.push(topic.len() as u8);
    out.extend_from_slice(topic);
    out.extend_from_slice(&(props.len() as i16).to_be_bytes());
    out.extend_from_slice(props);
}

/// `offsetMsgId`: store host (4-byte IP, 4-byte port) and commitlog offset, 32 hex digits.
pub fn offset_msg_id(store: std::net::SocketAddrV4, physical_offset: i64) -> String {
    let ip = store.ip().octets();
    format!(
        "{:02X}{:02X}{:02X}{:02X}{:08X}{:016X}",
        ip[0],
        ip[1],
        ip[2],
        ip[3],
        store.port() as u32,
        physical_offset as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::codec::header::FromExtFields;
    use std::net::{Ipv4Addr, SocketAddrV4};

    #[test]
    fn stamp_roundtrip() {
        let mut body = body_template(64);
        write_stamp(&mut body, Stamp { run_id: 7, sent_micros: 1_700_000_000_123_456 });
        assert_eq!(read_stamp(&body), Some(Stamp { run_id: 7, sent_micros: 1_700_000_000_123_456 }));
        let mut short = body_template(10);
        write_stamp(&mut short, Stamp { run_id: 1, sent_micros: 1 });
        assert_eq!(read_stamp(&short), None);
        assert_eq!(read_stamp(&body_template(64)), None);
    }

    #[test]
    fn uniq_keys_are_java_shaped_and_distinct() {
        let k = UniqKeys::new();
        let a = k.next();
        let b = k.next();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn send_request_has_java_fields() {
        let spec = SendSpec { producer_group: "PG".into(), topic: "T".into(), tag: Some("TagA".into()) };
        let cmd = spec.request("broker-a", 3, 1234, "ABC", Bytes::from_static(b"x"));
        assert_eq!(cmd.code, 310);
        let h = SendMessageRequestHeaderV2::from_command(&cmd).unwrap();
        assert_eq!((h.a.as_str(), h.b.as_str(), h.c.as_str(), h.d, h.e, h.g), ("PG", "T", "TBW102", 4, 3, 1234));
        assert_eq!(h.i.as_deref(), Some("UNIQ_KEY\u{1}ABC\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}"));
        assert_eq!(h.n.as_deref(), Some("broker-a"));
    }

    #[test]
    fn records_roundtrip_and_truncation_is_reported() {
        let host = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 10911);
        let mut buf = Vec::new();
        for i in 0..3 {
            let body = format!("body-{i}");
            let f = RecordFields {
                queue_id: 2,
                flag: 0,
                queue_offset: 100 + i,
                physical_offset: 0,
                born_timestamp: 11,
                born_host: host,
                store_timestamp: 22,
                store_host: host,
                body: body.as_bytes(),
                topic: "TopicX",
                properties: "UNIQ_KEY\u{1}A\u{2}",
            };
            encode_record(&f, &mut buf);
        }
        let msgs = decode_messages(&buf).unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[2].queue_offset, 102);
        assert_eq!(msgs[1].body, b"body-1");
        assert_eq!(msgs[0].topic, b"TopicX");
        assert_eq!((msgs[0].born_timestamp, msgs[0].store_timestamp, msgs[0].queue_id), (11, 22, 2));
        assert!(matches!(decode_messages(&buf[..buf.len() - 1]), Err(BenchError::Message { .. })));
        assert_eq!(offset_msg_id(host, 255), "7F00000100002A9F00000000000000FF");
    }
}
