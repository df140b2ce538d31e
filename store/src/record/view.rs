//! A commitlog record read in place: every check of [`super::decode_message`] (which
//! is built on this), without copying the body, topic or properties or parsing the
//! properties into a map. For scans that look at every record (`verify`), where
//! those copies cost more than reading the data.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::properties::{NAME_VALUE_SEPARATOR, PROPERTY_CRC32, PROPERTY_SEPARATOR};
use super::{
    calc_msg_length, crc32_masked, parse_properties, peek_header, HostAddr, MessageRecord, MessageVersion,
    CRC32_RESERVED_LEN, FLAG_BORNHOST_V6, FLAG_STOREHOST_V6, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE,
    TRANSACTION_TYPE_MASK,
};
use crate::error::RecordError;

/// One message record borrowed from the bytes it was read from. Field meanings are
/// those of [`MessageRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// The whole record (TOTALSIZE bytes).
    pub bytes: &'a [u8],
    pub version: MessageVersion,
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: HostAddr,
    pub store_timestamp: i64,
    pub store_host: HostAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    pub topic: &'a str,
    pub properties_raw: &'a [u8],
}

/// Bounded big-endian reader over one record.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    total: i32,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(RecordError::FieldOverflow { field, at: self.pos, len: n, total: self.total }),
        }
    }
    fn array<const N: usize>(&mut self, f: &'static str) -> Result<[u8; N], RecordError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(f, N)?);
        Ok(a)
    }
    fn i16(&mut self, f: &'static str) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array(f)?))
    }
    fn i32(&mut self, f: &'static str) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array(f)?))
    }
    fn i64(&mut self, f: &'static str) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array(f)?))
    }
    fn host(&mut self, f: &'static str, v6: bool) -> Result<HostAddr, RecordError> {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(self.array::<16>(f)?))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.array::<4>(f)?))
        };
        let port = self.i32(f)?;
        Ok(HostAddr { ip, port })
    }
}

impl<'a> RecordView<'a> {
    /// Parses the message record at the start of `buf` (see [`super::decode_message`]
    /// for the checks; a BLANK marker is an error here).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RecordError> {
        let h = peek_header(buf)?;
        let version = h.version().ok_or(RecordError::BadMagic(h.magic as u32))?;
        let total = h.total_size;
        // smallest possible record: IPv4 hosts, empty body/topic/properties
        let min = calc_msg_length(version, 0, 0, 0, 0);
        if (total as i64) < min {
            return Err(RecordError::BadTotalSize(total));
        }
        if total as u64 > buf.len() as u64 {
            return Err(RecordError::Truncated { need: total as u64, have: buf.len() as u64 });
        }
        let bytes = &buf[..total as usize];
        let mut c = Cursor { buf: bytes, pos: 8, total };
        let body_crc = c.i32("BODYCRC")?;
        let queue_id = c.i32("QUEUEID")?;
        let flag = c.i32("FLAG")?;
        let queue_offset = c.i64("QUEUEOFFSET")?;
        let physical_offset = c.i64("PHYSICALOFFSET")?;
        let sys_flag = c.i32("SYSFLAG")?;
        let born_timestamp = c.i64("BORNTIMESTAMP")?;
        let born_host = c.host("BORNHOST", sys_flag & FLAG_BORNHOST_V6 != 0)?;
        let store_timestamp = c.i64("STORETIMESTAMP")?;
        let store_host = c.host("STOREHOSTADDRESS", sys_flag & FLAG_STOREHOST_V6 != 0)?;
        let reconsume_times = c.i32("RECONSUMETIMES")?;
        let prepared_transaction_offset = c.i64("PREPAREDTRANSACTIONOFFSET")?;
        let body_len = c.i32("BODYLENGTH")?;
        if body_len < 0 {
            return Err(RecordError::NegativeLength { field: "BODY", len: body_len as i64 });
        }
        let body = c.take("BODY", body_len as usize)?;
        let topic_len: i64 = match version {
            MessageVersion::V1 => c.take("TOPICLENGTH", 1)?[0] as i8 as i64,
            MessageVersion::V2 => c.i16("TOPICLENGTH")? as i64,
        };
        if topic_len < 0 {
            return Err(RecordError::NegativeLength { field: "TOPIC", len: topic_len });
        }
        let topic_at = c.pos;
        let topic = c.take("TOPIC", topic_len as usize)?;
        // Rejected rather than decoded lossily: a replaced byte changes the length, so the
        // record would no longer re-encode to what is on disk.
        let topic =
            std::str::from_utf8(topic).map_err(|e| RecordError::TopicNotUtf8 { at: topic_at + e.valid_up_to() })?;
        let props_len = c.i16("PROPERTIESLENGTH")?;
        if props_len < 0 {
            return Err(RecordError::NegativeLength { field: "PROPERTIES", len: props_len as i64 });
        }
        let properties_raw = c.take("PROPERTIES", props_len as usize)?;
        let computed = calc_msg_length(version, sys_flag, body_len as i64, topic_len, props_len as i64);
        if computed != total as i64 {
            return Err(RecordError::LengthMismatch { total, computed });
        }
        Ok(RecordView {
            bytes,
            version,
            body_crc,
            queue_id,
            flag,
            queue_offset,
            physical_offset,
            sys_flag,
            born_timestamp,
            born_host,
            store_timestamp,
            store_host,
            reconsume_times,
            prepared_transaction_offset,
            body,
            topic,
            properties_raw,
        })
    }

    /// TOTALSIZE (the record's length).
    pub fn total_size(&self) -> i32 {
        self.bytes.len() as i32
    }

    pub fn computed_body_crc(&self) -> i32 {
        crc32_masked(self.body)
    }

    pub fn body_crc_ok(&self) -> bool {
        self.computed_body_crc() == self.body_crc
    }

    /// The raw value of property `key` with [`parse_properties`]' rules: a segment
    /// counts only with a non-empty key and value, and the last one wins.
    pub fn property_bytes(&self, key: &str) -> Option<&'a [u8]> {
        let key = key.as_bytes();
        // Such keys can never match; excluding them lets a prefix test stand in for
        // finding the segment's first separator.
        if key.is_empty() || key.iter().any(|b| *b == NAME_VALUE_SEPARATOR || *b == PROPERTY_SEPARATOR) {
            return None;
        }
        let raw = self.properties_raw;
        if key.windows(3).any(|w| w == "\u{FFFD}".as_bytes()) {
            // Invalid stored bytes read as U+FFFD too: compare decoded keys (rare, slow).
            let mut found = None;
            for seg in raw.split(|b| *b == PROPERTY_SEPARATOR) {
                if let Some(kv) = seg.iter().position(|b| *b == NAME_VALUE_SEPARATOR) {
                    if kv > 0 && kv + 1 < seg.len() && String::from_utf8_lossy(&seg[..kv]).as_bytes() == key {
                        found = Some(&seg[kv + 1..]);
                    }
                }
            }
            return found;
        }
        // Without U+FFFD in the key, equal bytes ⇔ equal decoded keys. This runs for
        // every record `verify` reads, hence the word-at-a-time separator search.
        let mut found = None;
        let mut start = 0;
        loop {
            let end = find_byte(&raw[start..], PROPERTY_SEPARATOR).map_or(raw.len(), |i| start + i);
            let seg = &raw[start..end];
            if seg.len() > key.len() + 1
                && seg[0] == key[0]
                && seg[key.len()] == NAME_VALUE_SEPARATOR
                && seg.starts_with(key)
            {
                found = Some(&seg[key.len() + 1..]);
            }
            if end == raw.len() {
                return found;
            }
            start = end + 1;
        }
    }

    /// The property as text (invalid UTF-8 replaced, as [`parse_properties`] does).
    pub fn property(&self, key: &str) -> Option<Cow<'a, str>> {
        self.property_bytes(key).map(String::from_utf8_lossy)
    }

    /// [`MessageRecord::property_crc`] without re-encoding: a parsed record re-encodes
    /// to exactly these bytes.
    pub fn property_crc(&self) -> Option<(i64, i32)> {
        let digits = self.property(PROPERTY_CRC32)?;
        let mut stored: i64 = 0;
        for c in digits.chars().rev() {
            let d = (c as i64) - ('0' as i64);
            stored = stored.wrapping_mul(10).wrapping_add(d);
        }
        let covered = self.bytes.len().checked_sub(CRC32_RESERVED_LEN)?;
        Some((stored, crc32_masked(&self.bytes[..covered])))
    }

    /// See [`MessageRecord::is_dispatched_to_cq`].
    pub fn is_dispatched_to_cq(&self) -> bool {
        matches!(self.sys_flag & TRANSACTION_TYPE_MASK, TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE)
    }

    /// The owned record (copies body, topic and properties; parses the properties).
    pub fn to_record(&self) -> MessageRecord {
        MessageRecord {
            total_size: self.total_size(),
            version: self.version,
            body_crc: self.body_crc,
            queue_id: self.queue_id,
            flag: self.flag,
            queue_offset: self.queue_offset,
            physical_offset: self.physical_offset,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_timestamp: self.store_timestamp,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            body: Bytes::copy_from_slice(self.body),
            topic: self.topic.to_string(),
            properties_raw: Bytes::copy_from_slice(self.properties_raw),
            properties: parse_properties(self.properties_raw),
        }
    }
}

/// First index of `b` in `hay`, eight bytes at a time (the classic zero-byte test:
/// exact for the first match, which is all that is used).
fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pat = LO * b as u64;
    let mut chunks = hay.chunks_exact(8);
    let mut i = 0;
    for c in chunks.by_ref() {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        let w = u64::from_le_bytes(a) ^ pat;
        let t = w.wrapping_sub(LO) & !w & HI;
        if t != 0 {
            return Some(i + (t.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    chunks.remainder().iter().position(|x| *x == b).map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{parse_properties, properties_to_bytes};

    #[test]
    fn property_lookup_matches_parsed_map() {
        let cases: Vec<Vec<u8>> = vec![
            properties_to_bytes([("TAGS", "a"), ("KEYS", "k1 k2"), ("__CRC32#", "0123456789")]),
            b"A\x011\x02A\x012\x02A\x01\x02\x011\x02B\x02A\x01x\x01y".to_vec(),
            b"\x02\x02K\x01\xff\xfe\x02K".to_vec(),
            b"\xff\x01a\x02\xef\xbf\xbd\x01b\x02K\x01".to_vec(),
            b"__CRC32#\x01".to_vec(),
            Vec::new(),
        ];
        for raw in cases {
            let map = parse_properties(&raw);
            let v = RecordView { properties_raw: &raw, ..sample_view() };
            for key in ["A", "B", "K", "TAGS", "KEYS", "__CRC32#", "missing", "", "A\x011", "\u{fffd}"] {
                assert_eq!(v.property(key).as_deref(), map.get(key).map(String::as_str), "{raw:?} {key}");
            }
        }
    }

    #[test]
    fn find_byte_matches_position() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for n in 0..2000 {
            let len = n % 70;
            let hay: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    [0u8, 1, 2, 3, 0x80, 0x82, 0xFF, b'_'][(state % 8) as usize]
                })
                .collect();
            for b in [0u8, 1, 2, 0x80, 0x82, 0xFF, b'_'] {
                assert_eq!(find_byte(&hay, b), hay.iter().position(|x| *x == b), "{hay:?} {b}");
            }
        }
    }

    fn sample_view() -> RecordView<'static> {
        RecordView {
            bytes: &[],
            version: MessageVersion::V1,
            body_crc: 0,
            queue_id: 0,
            flag: 0,
            queue_offset: 0,
            physical_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: HostAddr::v4([127, 0, 0, 1], 1),
            store_timestamp: 0,
            store_host: HostAddr::v4([127, 0, 0, 1], 2),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: &[],
            topic: "",
            properties_raw: &[],
        }
    }

    #[test]
    fn agrees_with_the_owned_record_on_golden_data() {
        use crate::testutil::{golden, STORES};
        let mut n = 0;
        for s in STORES {
            let Ok(cl) = crate::CommitLog::open(&[golden(s).join("commitlog")], None) else { continue };
            for f in cl.files() {
                let bytes = f.bytes();
                let mut pos = 0usize;
                while let Ok(v) = RecordView::parse(&bytes[pos..]) {
                    let m = v.to_record();
                    assert_eq!(m.encode().unwrap(), v.bytes);
                    assert_eq!(v.property_crc(), m.property_crc());
                    assert_eq!((v.body_crc_ok(), v.is_dispatched_to_cq()), (m.body_crc_ok(), m.is_dispatched_to_cq()));
                    for k in m.properties.keys() {
                        assert_eq!(v.property(k).as_deref(), m.property(k));
                    }
                    pos += v.bytes.len();
                    n += 1;
                }
            }
        }
        if std::path::Path::new(crate::testutil::GOLDEN).is_dir() {
            assert!(n > 1000, "{n}");
        }
    }
}
