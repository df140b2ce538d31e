//! Byte-level decode/encode of commitlog records.

use super::{
    Decoded, MessageRecord, MessageVersion, RecordView, BLANK_MAGIC_CODE, FLAG_BORNHOST_V6, FLAG_STOREHOST_V6,
};
use crate::error::RecordError;

/// `MessageExtEncoder.calMsgLength`: the TOTALSIZE a record must have.
pub fn calc_msg_length(version: MessageVersion, sys_flag: i32, body_len: i64, topic_len: i64, props_len: i64) -> i64 {
    let born = if sys_flag & FLAG_BORNHOST_V6 == 0 { 8 } else { 20 };
    let store = if sys_flag & FLAG_STOREHOST_V6 == 0 { 8 } else { 20 };
    4 + 4
        + 4
        + 4
        + 4
        + 8
        + 8
        + 4
        + 8
        + born
        + 8
        + store
        + 4
        + 8
        + 4
        + body_len
        + version.topic_length_size() as i64
        + topic_len
        + 2
        + props_len
}

/// The first 8 bytes of a record: TOTALSIZE and MAGICCODE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub total_size: i32,
    pub magic: i32,
}

impl RecordHeader {
    pub fn is_blank(&self) -> bool {
        self.magic == BLANK_MAGIC_CODE
    }
    pub fn version(&self) -> Option<MessageVersion> {
        MessageVersion::from_magic(self.magic)
    }
}

/// Reads TOTALSIZE and MAGICCODE without validating anything else.
pub fn peek_header(buf: &[u8]) -> Result<RecordHeader, RecordError> {
    if buf.len() < 8 {
        return Err(RecordError::Truncated { need: 8, have: buf.len() as u64 });
    }
    Ok(RecordHeader {
        total_size: i32::from_be_bytes(buf[0..4].try_into().expect("4 bytes")),
        magic: i32::from_be_bytes(buf[4..8].try_into().expect("4 bytes")),
    })
}

/// Decodes the record (or BLANK marker) at the start of `buf`. `buf` must
/// extend at least to the end of the record; normally it runs to the end of the
/// mapped file, so a TOTALSIZE reaching past the file is reported as truncated.
///
/// Checks (like `CommitLog.checkMessageAndReturnSize`): size fits, magic known,
/// field lengths non-negative and inside TOTALSIZE, TOTALSIZE equals the
/// computed length. The body CRC is *not* checked here
/// (see [`MessageRecord::body_crc_ok`]).
pub fn decode(buf: &[u8]) -> Result<Decoded, RecordError> {
    let h = peek_header(buf)?;
    if h.is_blank() {
        if h.total_size < 8 {
            return Err(RecordError::BadTotalSize(h.total_size));
        }
        if h.total_size as u64 > buf.len() as u64 {
            return Err(RecordError::Truncated { need: h.total_size as u64, have: buf.len() as u64 });
        }
        return Ok(Decoded::Blank { total_size: h.total_size });
    }
    Ok(Decoded::Message(Box::new(decode_message(buf)?)))
}

/// Decodes the record starting at `pos` of `file_bytes` (a whole mapped
/// file): the record may extend at most to the end of the slice.
pub fn decode_at(file_bytes: &[u8], pos: usize) -> Result<Decoded, RecordError> {
    match file_bytes.get(pos..) {
        Some(b) => decode(b),
        None => Err(RecordError::Truncated { need: pos as u64 + 8, have: file_bytes.len() as u64 }),
    }
}

/// Decodes a message record; a BLANK marker is an error here. The parsing and its
/// checks live in [`RecordView::parse`]; this copies the parts out.
pub fn decode_message(buf: &[u8]) -> Result<MessageRecord, RecordError> {
    RecordView::parse(buf).map(|v| v.to_record())
}

/// Encodes `m` (see [`MessageRecord::encode_into`]).
pub(super) fn encode_into(m: &MessageRecord, out: &mut Vec<u8>) -> Result<(), RecordError> {
    if m.born_host.is_v6() != (m.sys_flag & FLAG_BORNHOST_V6 != 0) {
        return Err(RecordError::Encode("born host address family does not match sysflag".into()));
    }
    if m.store_host.is_v6() != (m.sys_flag & FLAG_STOREHOST_V6 != 0) {
        return Err(RecordError::Encode("store host address family does not match sysflag".into()));
    }
    let topic = m.topic.as_bytes();
    let max_topic = match m.version {
        MessageVersion::V1 => i8::MAX as usize,
        MessageVersion::V2 => i16::MAX as usize,
    };
    if topic.len() > max_topic {
        return Err(RecordError::Encode(format!("topic of {} bytes too long for {}", topic.len(), m.version.as_str())));
    }
    if m.properties_raw.len() > i16::MAX as usize {
        return Err(RecordError::Encode(format!("properties of {} bytes too long", m.properties_raw.len())));
    }
    let len = m.computed_length();
    if len > i32::MAX as i64 {
        return Err(RecordError::Encode(format!("record of {len} bytes too long")));
    }
    out.reserve(len as usize);
    out.extend_from_slice(&(len as i32).to_be_bytes());
    out.extend_from_slice(&m.version.magic().to_be_bytes());
    out.extend_from_slice(&m.body_crc.to_be_bytes());
    out.extend_from_slice(&m.queue_id.to_be_bytes());
    out.extend_from_slice(&m.flag.to_be_bytes());
    out.extend_from_slice(&m.queue_offset.to_be_bytes());
    out.extend_from_slice(&m.physical_offset.to_be_bytes());
    out.extend_from_slice(&m.sys_flag.to_be_bytes());
    out.extend_from_slice(&m.born_timestamp.to_be_bytes());
    m.born_host.write_to(out);
    out.extend_from_slice(&m.store_timestamp.to_be_bytes());
    m.store_host.write_to(out);
    out.extend_from_slice(&m.reconsume_times.to_be_bytes());
    out.extend_from_slice(&m.prepared_transaction_offset.to_be_bytes());
    out.extend_from_slice(&(m.body.len() as i32).to_be_bytes());
    out.extend_from_slice(&m.body);
    match m.version {
        MessageVersion::V1 => out.push(topic.len() as u8),
        MessageVersion::V2 => out.extend_from_slice(&(topic.len() as i16).to_be_bytes()),
    }
    out.extend_from_slice(topic);
    out.extend_from_slice(&(m.properties_raw.len() as i16).to_be_bytes());
    out.extend_from_slice(&m.properties_raw);
    Ok(())
}

/// Writes the 8-byte BLANK marker for `remaining` bytes left in a file.
pub fn encode_blank(remaining: i32, out: &mut Vec<u8>) {
    out.extend_from_slice(&remaining.to_be_bytes());
    out.extend_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use bytes::Bytes;

    use super::*;
    use crate::record::{crc32_masked, properties_to_bytes, MESSAGE_MAGIC_CODE};
    use crate::record::{parse_properties, HostAddr};

    fn sample(version: MessageVersion, sys_flag: i32) -> MessageRecord {
        let body = Bytes::from_static(b"hello body");
        let props = properties_to_bytes([("TAGS", "TagA"), ("KEYS", "k1 k2"), ("UNIQ_KEY", "ABC")]);
        let v6 = |f: i32| {
            if sys_flag & f != 0 {
                IpAddr::V6("2001:db8::1".parse().unwrap())
            } else {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
        };
        let mut m = MessageRecord {
            total_size: 0,
            version,
            body_crc: crc32_masked(&body),
            queue_id: 3,
            flag: 7,
            queue_offset: 42,
            physical_offset: 1000,
            sys_flag,
            born_timestamp: 1,
            born_host: HostAddr::new(v6(FLAG_BORNHOST_V6), 5000),
            store_timestamp: 2,
            store_host: HostAddr::new(v6(FLAG_STOREHOST_V6), 10911),
            reconsume_times: 1,
            prepared_transaction_offset: 0,
            body,
            topic: if version == MessageVersion::V2 { "T".repeat(200) } else { "TopicA".into() },
            properties: parse_properties(&props),
            properties_raw: Bytes::from(props),
        };
        m.total_size = m.computed_length() as i32;
        m
    }

    #[test]
    fn round_trip_all_variants() {
        for v in [MessageVersion::V1, MessageVersion::V2] {
            for f in [0, FLAG_BORNHOST_V6, FLAG_STOREHOST_V6, FLAG_BORNHOST_V6 | FLAG_STOREHOST_V6] {
                let m = sample(v, f);
                let bytes = m.encode().unwrap();
                assert_eq!(bytes.len() as i32, m.total_size);
                let back = decode_message(&bytes).unwrap();
                assert_eq!(back, m);
                assert!(back.body_crc_ok());
                assert_eq!(back.tags_code(), rmq_common::java::string_hash_code("TagA") as i64);
                assert_eq!(
                    back.index_keys(),
                    vec![format!("{}#ABC", m.topic), format!("{}#k1", m.topic), format!("{}#k2", m.topic)]
                );
            }
        }
    }

    #[test]
    fn property_crc_like_java() {
        let mut m = sample(MessageVersion::V1, 0);
        // reserve the 20 bytes with a placeholder, then fill in the digits (LSD first)
        let mut raw = m.properties_raw.to_vec();
        raw.extend_from_slice(b"__CRC32#\x010000000000\x02");
        m.properties_raw = Bytes::from(raw.clone());
        let bytes = m.encode().unwrap();
        let crc = crc32_masked(&bytes[..bytes.len() - 20]);
        let digits: String = (0..10).map(|i| char::from(b'0' + ((crc as u32 / 10u32.pow(i)) % 10) as u8)).collect();
        let n = raw.len();
        raw[n - 11..n - 1].copy_from_slice(digits.as_bytes());
        m.properties_raw = Bytes::from(raw.clone());
        m.properties = parse_properties(&raw);
        assert_eq!(m.property_crc(), Some((crc as i64, crc)));
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        let m = sample(MessageVersion::V1, 0);
        let bytes = m.encode().unwrap();
        // every truncation
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "len {n}");
        }
        // bad magic
        let mut b = bytes.clone();
        b[4] ^= 0xFF;
        assert!(matches!(decode(&b), Err(RecordError::BadMagic(_))));
        // size mismatch
        let mut b = bytes.clone();
        b.push(0);
        b[3] = b[3].wrapping_add(1);
        assert!(matches!(decode(&b), Err(RecordError::LengthMismatch { .. })));
        // negative body length
        let mut b = bytes.clone();
        b[84..88].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(decode(&b).is_err());
        // all byte flips never panic
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x80;
            let _ = decode(&b);
        }
        assert!(decode_at(&bytes, bytes.len() + 1).is_err());
        assert!(matches!(decode_at(&bytes, 0), Ok(Decoded::Message(_))));
        // a topic byte that is not UTF-8 (decoding it lossily would not re-encode)
        let mut b = bytes.clone();
        let topic_at = bytes.len() - 2 - m.properties_raw.len() - m.topic.len();
        b[topic_at + 1] = 0x9B;
        assert_eq!(decode(&b), Err(RecordError::TopicNotUtf8 { at: topic_at + 1 }));
        // blank
        let mut b = Vec::new();
        encode_blank(16, &mut b);
        b.extend_from_slice(&[0; 8]);
        assert_eq!(decode(&b).unwrap(), Decoded::Blank { total_size: 16 });
        assert_eq!(MESSAGE_MAGIC_CODE as u32, 0xDAA320A7);
    }
}
