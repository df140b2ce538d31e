//! Java's `CommitLog.checkMessageAndReturnSize`, reproduced on raw bytes: the
//! check recovery applies to every record and the `DispatchRequest` the
//! consume-queue and index builders consume.
//!
//! This deliberately does not reuse [`crate::record::decode`]: recovery must
//! accept and reject exactly what Java does (e.g. an empty body is never CRC
//! checked, a negative PROPERTIESLENGTH counts as 0, 4.9.8 knows no V2 magic).

use crate::record::properties::{
    PROPERTY_CRC32, PROPERTY_DELAY_TIME_LEVEL, PROPERTY_KEYS, PROPERTY_TAGS, PROPERTY_UNIQ_KEY,
};
use crate::record::{
    crc32_masked, parse_properties, split_keys, tags_code, BLANK_MAGIC_CODE, CRC32_RESERVED_LEN, FLAG_BORNHOST_V6,
    FLAG_STOREHOST_V6, MESSAGE_MAGIC_CODE, MESSAGE_MAGIC_CODE_V2, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE,
    TRANSACTION_ROLLBACK_TYPE, TRANSACTION_TYPE_MASK,
};

use super::{JavaVersion, SCHEDULE_TOPIC};

/// `MessageConst.DUP_INFO` (5.x `duplicationEnable`).
const PROPERTY_DUP_INFO: &str = "DUP_INFO";

/// Settings that decide whether a record is valid and what it dispatches.
#[derive(Clone, Debug)]
pub struct CheckRules {
    pub java: JavaVersion,
    /// Body CRC check (`checkCRCOnRecover` during recovery; the reput thread never checks).
    pub check_crc: bool,
    /// 5.x `forceVerifyPropCRC`: check the `__CRC32#` property instead of the body CRC.
    pub force_verify_prop_crc: bool,
    /// 5.x `duplicationEnable`: a record without a well-formed `DUP_INFO` is invalid.
    pub check_dup_info: bool,
    /// `messageDelayLevel` in milliseconds, index 0 = level 1.
    pub delay_levels_ms: Vec<i64>,
}

impl CheckRules {
    /// Java defaults for `java` (CRC checked, default delay levels).
    pub fn new(java: JavaVersion) -> Self {
        CheckRules {
            java,
            check_crc: true,
            force_verify_prop_crc: false,
            check_dup_info: false,
            delay_levels_ms: crate::StoreConfig::default().delay_levels_ms(),
        }
    }

    /// `ScheduleMessageService.computeDeliverTimestamp` (a level without a
    /// table entry gets one second).
    pub fn deliver_timestamp(&self, level: i32, store_timestamp: i64) -> i64 {
        match usize::try_from(level).ok().and_then(|l| l.checked_sub(1)).and_then(|i| self.delay_levels_ms.get(i)) {
            Some(ms) => store_timestamp.wrapping_add(*ms),
            None => store_timestamp.wrapping_add(1000),
        }
    }
}

/// What the consume-queue and index dispatchers get from one record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DispatchRequest {
    pub topic: String,
    pub queue_id: i32,
    /// The PHYSICALOFFSET field as stored (Java dispatches this, not the position).
    pub commit_log_offset: i64,
    pub msg_size: i32,
    pub tags_code: i64,
    pub store_timestamp: i64,
    /// QUEUEOFFSET as stored.
    pub consume_queue_offset: i64,
    pub keys: Option<String>,
    pub uniq_key: Option<String>,
    pub sys_flag: i32,
    pub prepared_transaction_offset: i64,
}

impl DispatchRequest {
    /// `CommitLogDispatcherBuildConsumeQueue`: only NOT and COMMIT transaction types.
    pub fn goes_to_consume_queue(&self) -> bool {
        matches!(self.sys_flag & TRANSACTION_TYPE_MASK, TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE)
    }

    /// `IndexService.buildIndex` keys in the order Java puts them: UNIQ_KEY,
    /// then each non-empty space-separated KEYS entry, all as `topic#key`.
    /// ROLLBACK records are not indexed.
    pub fn index_keys(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.sys_flag & TRANSACTION_TYPE_MASK == TRANSACTION_ROLLBACK_TYPE {
            return v;
        }
        if let Some(u) = &self.uniq_key {
            v.push(format!("{}#{}", self.topic, u));
        }
        if let Some(k) = &self.keys {
            v.extend(split_keys(k).map(|key| format!("{}#{}", self.topic, key)));
        }
        v
    }
}

/// Outcome of checking the bytes at one position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checked {
    Message(Box<DispatchRequest>),
    /// BLANK end-of-file marker: continue with the next file.
    Blank,
    /// Not a valid record: recovery ends here. `size` is what Java returns
    /// (-1, or TOTALSIZE when only the length check failed).
    Invalid {
        size: i32,
        reason: String,
    },
}

/// Bounded big-endian reader; `None` = Java's BufferUnderflowException.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn i8(&mut self) -> Option<i8> {
        self.take(1).map(|s| s[0] as i8)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take(2).map(|s| i16::from_be_bytes([s[0], s[1]]))
    }
    fn i32(&mut self) -> Option<i32> {
        self.take(4).map(|s| i32::from_be_bytes(s.try_into().expect("4 bytes")))
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8).map(|s| i64::from_be_bytes(s.try_into().expect("8 bytes")))
    }
}

fn invalid(size: i32, reason: impl Into<String>) -> Checked {
    Checked::Invalid { size, reason: reason.into() }
}

/// Java `String.split("_").length` (trailing empty strings removed).
fn java_split_len(s: &str, sep: char) -> usize {
    if !s.contains(sep) {
        return 1;
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.len()
}

/// Checks the record at the start of `buf` (which runs to the end of its
/// mapped file) like `checkMessageAndReturnSize` of `rules.java`.
pub fn check_message(buf: &[u8], rules: &CheckRules) -> Checked {
    let v5 = rules.java == JavaVersion::V5_3_3;
    let mut r = Reader { b: buf, pos: 0 };
    if v5 && r.remaining() <= 4 {
        return invalid(-1, "4 bytes or less left in the file");
    }
    let Some(total) = r.i32() else { return invalid(-1, "truncated TOTALSIZE") };
    // 5.x compares in int arithmetic, wrapping included
    if v5 && (r.remaining() as i64) < total.wrapping_sub(4) as i64 {
        return invalid(-1, format!("TOTALSIZE {total} exceeds the rest of the file"));
    }
    let Some(magic) = r.i32() else { return invalid(-1, "truncated MAGICCODE") };
    let topic_len_size = match magic {
        MESSAGE_MAGIC_CODE => 1,
        MESSAGE_MAGIC_CODE_V2 if v5 => 2,
        BLANK_MAGIC_CODE => return Checked::Blank,
        _ => return invalid(-1, format!("illegal magic code 0x{:08X}", magic as u32)),
    };
    if total < 0 {
        return invalid(-1, format!("negative TOTALSIZE {total}"));
    }
    // Java copies variable fields into a byte[TOTALSIZE]; longer fields throw
    let bounded = |n: i64| n >= 0 && n <= total as i64;
    let fields = (|| {
        let body_crc = r.i32()?;
        let queue_id = r.i32()?;
        let _flag = r.i32()?;
        let queue_offset = r.i64()?;
        let physic_offset = r.i64()?;
        let sys_flag = r.i32()?;
        let _born_ts = r.i64()?;
        let born = if sys_flag & FLAG_BORNHOST_V6 == 0 { 8 } else { 20 };
        if !bounded(born) {
            return None;
        }
        r.take(born as usize)?;
        let store_ts = r.i64()?;
        let store = if sys_flag & FLAG_STOREHOST_V6 == 0 { 8 } else { 20 };
        if !bounded(store) {
            return None;
        }
        r.take(store as usize)?;
        let _reconsume = r.i32()?;
        let prepared = r.i64()?;
        let body_len = r.i32()?;
        Some((body_crc, queue_id, queue_offset, physic_offset, sys_flag, store_ts, prepared, body_len))
    })();
    let Some((body_crc, queue_id, queue_offset, physic_offset, sys_flag, store_ts, prepared, body_len)) = fields else {
        return invalid(-1, "record ends inside its fixed fields");
    };
    if body_len > 0 {
        if !bounded(body_len as i64) {
            return invalid(-1, format!("BODYLENGTH {body_len} exceeds TOTALSIZE {total}"));
        }
        let Some(body) = r.take(body_len as usize) else { return invalid(-1, "record ends inside BODY") };
        if rules.check_crc && !(v5 && rules.force_verify_prop_crc) {
            let crc = crc32_masked(body);
            if crc != body_crc {
                return invalid(-1, format!("body CRC mismatch: stored {body_crc}, computed {crc}"));
            }
        }
    }
    let topic_len = if topic_len_size == 1 { r.i8().map(i32::from) } else { r.i16().map(i32::from) };
    let Some(topic_len) = topic_len else { return invalid(-1, "record ends at TOPICLENGTH") };
    if !bounded(topic_len as i64) {
        return invalid(-1, format!("TOPICLENGTH {topic_len} invalid"));
    }
    let Some(topic) = r.take(topic_len as usize) else { return invalid(-1, "record ends inside TOPIC") };
    let topic = String::from_utf8_lossy(topic).into_owned();
    let Some(props_len) = r.i16() else { return invalid(-1, "record ends at PROPERTIESLENGTH") };
    let mut req = DispatchRequest {
        topic,
        queue_id,
        commit_log_offset: physic_offset,
        msg_size: total,
        tags_code: 0,
        store_timestamp: store_ts,
        consume_queue_offset: queue_offset,
        keys: None,
        uniq_key: None,
        sys_flag,
        prepared_transaction_offset: prepared,
    };
    let mut crc_prop: Option<String> = None;
    if props_len > 0 {
        if !bounded(props_len as i64) {
            return invalid(-1, format!("PROPERTIESLENGTH {props_len} exceeds TOTALSIZE {total}"));
        }
        let Some(raw) = r.take(props_len as usize) else { return invalid(-1, "record ends inside PROPERTIES") };
        let props = parse_properties(raw);
        req.keys = props.get(PROPERTY_KEYS).cloned();
        req.uniq_key = props.get(PROPERTY_UNIQ_KEY).cloned();
        if v5 && rules.check_dup_info {
            match props.get(PROPERTY_DUP_INFO) {
                Some(d) if java_split_len(d, '_') == 2 => {}
                other => return invalid(-1, format!("DUP_INFO check failed: {other:?}")),
            }
        }
        if let Some(t) = props.get(PROPERTY_TAGS).filter(|t| !t.is_empty()) {
            req.tags_code = tags_code(t);
        }
        if req.topic == SCHEDULE_TOPIC {
            if let Some(t) = props.get(PROPERTY_DELAY_TIME_LEVEL) {
                // Integer.parseInt throwing ends the check like any exception
                let Ok(mut level) = t.parse::<i32>() else {
                    return invalid(-1, format!("DELAY property {t:?} is not an int"));
                };
                let max = rules.delay_levels_ms.len() as i32;
                if level > max {
                    level = max;
                }
                if level > 0 {
                    req.tags_code = rules.deliver_timestamp(level, store_ts);
                }
            }
        }
        crc_prop = props.get(PROPERTY_CRC32).cloned();
    }
    if v5 && rules.check_crc && rules.force_verify_prop_crc {
        let Some(digits) = crc_prop else { return invalid(-1, "no __CRC32# property to verify") };
        let mut expected: i32 = 0;
        for c in digits.chars().rev() {
            expected = expected.wrapping_mul(10).wrapping_add(c as i32 - '0' as i32);
        }
        if expected >= 0 {
            let end = (total as usize).saturating_sub(CRC32_RESERVED_LEN);
            let crc = buf.get(..end).map(crc32_masked);
            if crc != Some(expected) {
                return invalid(-1, format!("property CRC mismatch: stored {expected}, computed {crc:?}"));
            }
        } else {
            return invalid(-1, "no __CRC32# property to verify");
        }
    }
    let read_len = crate::record::calc_msg_length(
        if topic_len_size == 1 { crate::MessageVersion::V1 } else { crate::MessageVersion::V2 },
        sys_flag,
        body_len.max(0) as i64,
        topic_len as i64,
        props_len.max(0) as i64,
    );
    if read_len != total as i64 {
        return invalid(total, format!("TOTALSIZE {total} does not match computed length {read_len}"));
    }
    Checked::Message(Box::new(req))
}

/// Position of STORETIMESTAMP for a record with this sysflag
/// (`isMappedFileMatchedRecover`).
pub fn store_timestamp_pos(sys_flag: i32) -> usize {
    4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + if sys_flag & FLAG_BORNHOST_V6 == 0 { 8 } else { 20 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{properties_to_bytes, HostAddr, MessageRecord, MessageVersion};
    use bytes::Bytes;

    pub(crate) fn record(topic: &str, props: &[(&str, &str)], body: &[u8], sys_flag: i32) -> Vec<u8> {
        let raw = properties_to_bytes(props.iter().copied());
        let mut m = MessageRecord {
            total_size: 0,
            version: MessageVersion::V1,
            body_crc: crc32_masked(body),
            queue_id: 1,
            flag: 0,
            queue_offset: 7,
            physical_offset: 1000,
            sys_flag,
            born_timestamp: 1,
            born_host: HostAddr::new("127.0.0.1".parse().unwrap(), 1),
            store_timestamp: 5_000,
            store_host: HostAddr::new("127.0.0.1".parse().unwrap(), 2),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::copy_from_slice(body),
            topic: topic.into(),
            properties: parse_properties(&raw),
            properties_raw: Bytes::from(raw),
        };
        m.total_size = m.computed_length() as i32;
        m.encode().unwrap()
    }

    fn msg(c: Checked) -> DispatchRequest {
        match c {
            Checked::Message(m) => *m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tags_keys_and_delay() {
        let rules = CheckRules::new(JavaVersion::V4_9_8);
        let b = record("T", &[("TAGS", "TagA"), ("KEYS", "a  b"), ("UNIQ_KEY", "U")], b"x", 0);
        let m = msg(check_message(&b, &rules));
        assert_eq!((m.tags_code, m.commit_log_offset, m.consume_queue_offset), (tags_code("TagA"), 1000, 7));
        assert_eq!(m.index_keys(), vec!["T#U", "T#a", "T#b"]);
        assert!(m.goes_to_consume_queue());
        let b = record(SCHEDULE_TOPIC, &[("TAGS", "x"), ("DELAY", "2")], b"x", 0);
        assert_eq!(msg(check_message(&b, &rules)).tags_code, 10_000);
        let b = record(SCHEDULE_TOPIC, &[("DELAY", "99")], b"x", 0);
        assert_eq!(msg(check_message(&b, &rules)).tags_code, 5_000 + 7_200_000);
        let b = record(SCHEDULE_TOPIC, &[("DELAY", "x")], b"x", 0);
        assert!(matches!(check_message(&b, &rules), Checked::Invalid { size: -1, .. }));
        let rb = record("T", &[("UNIQ_KEY", "U")], b"x", TRANSACTION_ROLLBACK_TYPE);
        let m = msg(check_message(&rb, &rules));
        assert!(m.index_keys().is_empty() && !m.goes_to_consume_queue());
    }

    #[test]
    fn invalid_records_like_java() {
        let rules = CheckRules::new(JavaVersion::V4_9_8);
        let mut b = record("T", &[("TAGS", "A")], b"body", 0);
        let last = b.len() - 1;
        b[last] ^= 1; // property byte: length still fine, record valid
        assert!(matches!(check_message(&b, &rules), Checked::Message(_)));
        let body_pos = b.len() - 4 - 2 - 1 - 1 - 2 - 5;
        b[body_pos] ^= 0xFF;
        assert!(matches!(check_message(&b, &rules), Checked::Invalid { size: -1, .. }));
        let no_crc = CheckRules { check_crc: false, ..rules.clone() };
        assert!(matches!(check_message(&b, &no_crc), Checked::Message(_)));
        // empty body: the stored CRC is never compared
        let mut e = record("T", &[], b"", 0);
        e[8..12].copy_from_slice(&123i32.to_be_bytes());
        assert!(matches!(check_message(&e, &rules), Checked::Message(_)));
        // length mismatch returns TOTALSIZE
        let mut l = record("T", &[], b"ab", 0);
        let t = l.len() as i32 + 4;
        l[0..4].copy_from_slice(&t.to_be_bytes());
        l.extend_from_slice(&[0; 4]);
        assert_eq!(
            check_message(&l, &rules),
            Checked::Invalid { size: t, reason: format!("TOTALSIZE {t} does not match computed length {}", t - 4) }
        );
        // zeros, blank, cut records
        assert!(matches!(check_message(&[0u8; 64], &rules), Checked::Invalid { .. }));
        let mut blank = (-1i32).to_be_bytes().to_vec();
        blank.extend_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
        assert_eq!(check_message(&blank, &rules), Checked::Blank);
        let full = record("T", &[("TAGS", "A")], b"body", 0);
        for cut in [0, 3, 7, 30, full.len() - 1] {
            assert!(matches!(check_message(&full[..cut], &rules), Checked::Invalid { .. }), "cut {cut}");
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let good = record(SCHEDULE_TOPIC, &[("TAGS", "A"), ("DELAY", "3"), ("KEYS", "k")], b"body", 0);
        for java in [JavaVersion::V4_9_8, JavaVersion::V5_3_3] {
            let rules = CheckRules { force_verify_prop_crc: true, check_dup_info: true, ..CheckRules::new(java) };
            for i in 0..20_000 {
                let mut b = good.clone();
                for _ in 0..(next() % 4 + 1) {
                    let pos = (next() % b.len() as u64) as usize;
                    b[pos] = next() as u8;
                }
                let cut = if i % 3 == 0 { (next() % b.len() as u64) as usize } else { b.len() };
                let _ = check_message(&b[..cut], &rules);
                let _ = check_message(&b[..cut], &CheckRules::new(java));
                let noise: Vec<u8> = (0..(next() % 200)).map(|_| next() as u8).collect();
                let _ = check_message(&noise, &rules);
            }
        }
    }

    #[test]
    fn v5_rules() {
        let v4 = CheckRules::new(JavaVersion::V4_9_8);
        let v5 = CheckRules::new(JavaVersion::V5_3_3);
        let mut b = record("T", &[], b"x", 0);
        b[4..8].copy_from_slice(&MESSAGE_MAGIC_CODE_V2.to_be_bytes());
        // a V2 record has a 2-byte topic length: this V1 layout is then a length mismatch
        assert!(matches!(check_message(&b, &v4), Checked::Invalid { size: -1, .. }));
        assert!(matches!(check_message(&b, &v5), Checked::Invalid { .. }));
        let mut blank = 100i32.to_be_bytes().to_vec();
        blank.extend_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
        assert_eq!(check_message(&blank, &v4), Checked::Blank);
        assert!(matches!(check_message(&blank, &v5), Checked::Invalid { .. }));
        let dup = CheckRules { check_dup_info: true, ..v5.clone() };
        let ok = record("T", &[("DUP_INFO", "1_2")], b"x", 0);
        let bad = record("T", &[("DUP_INFO", "1_")], b"x", 0);
        assert!(matches!(check_message(&ok, &dup), Checked::Message(_)));
        assert!(matches!(check_message(&bad, &dup), Checked::Invalid { .. }));
        assert_eq!(java_split_len("_", '_'), 0);
        assert_eq!(java_split_len("", '_'), 1);
        assert_eq!(java_split_len("_b", '_'), 2);
    }
}
