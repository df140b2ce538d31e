//! Commitlog message record codec (store-format.md §2).
//!
//! [`decode`] parses one record (or the BLANK end-of-file marker) from a byte
//! slice that starts at the record; [`MessageRecord::encode`] writes the same
//! bytes back from the decoded fields.

mod codec;
pub mod compression;
pub mod host;
pub mod properties;
mod view;

use bytes::Bytes;

pub use codec::{calc_msg_length, decode, decode_at, decode_message, encode_blank, peek_header, RecordHeader};
pub use compression::{decompress_body, CompressionType};
pub use host::{bytes_to_hex_upper, decode_offset_msg_id, offset_msg_id, HostAddr};
pub use properties::{parse_properties, properties_to_bytes, properties_to_bytes_v4, split_keys, Properties};
pub use view::RecordView;

use crate::error::RecordError;

/// `MESSAGE_MAGIC_CODE` (V1).
pub const MESSAGE_MAGIC_CODE: i32 = 0xDAA320A7u32 as i32;
/// `MESSAGE_MAGIC_CODE_V2` (5.x, 2-byte topic length).
pub const MESSAGE_MAGIC_CODE_V2: i32 = 0xDAA320ABu32 as i32;
/// `BLANK_MAGIC_CODE`: end-of-file filler `[int size][int magic]`.
pub const BLANK_MAGIC_CODE: i32 = 0xCBD43194u32 as i32;
/// Bytes reserved at the end of PROPERTIES for the 5.x property CRC.
pub const CRC32_RESERVED_LEN: usize = 20;
/// Size of the BLANK marker actually written.
pub const BLANK_RECORD_LEN: usize = 8;

// Constant positions inside a record (IPv4 born host for the store timestamp).
pub const POS_TOTAL_SIZE: usize = 0;
pub const POS_MAGIC: usize = 4;
pub const POS_BODY_CRC: usize = 8;
pub const POS_QUEUE_ID: usize = 12;
pub const POS_FLAG: usize = 16;
pub const POS_QUEUE_OFFSET: usize = 20;
pub const POS_PHYSICAL_OFFSET: usize = 28;
pub const POS_SYS_FLAG: usize = 36;
pub const POS_BORN_TIMESTAMP: usize = 40;
pub const POS_BORN_HOST: usize = 48;

// Sysflag bits (`MessageSysFlag`).
pub const FLAG_COMPRESSED: i32 = 0x1;
pub const FLAG_MULTI_TAGS: i32 = 0x2;
pub const TRANSACTION_TYPE_MASK: i32 = 0xC;
pub const TRANSACTION_NOT_TYPE: i32 = 0x0;
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
pub const FLAG_BORNHOST_V6: i32 = 0x10;
pub const FLAG_STOREHOST_V6: i32 = 0x20;
pub const FLAG_NEED_UNWRAP: i32 = 0x40;
pub const FLAG_INNER_BATCH: i32 = 0x80;

/// Record format version, chosen by the magic code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum MessageVersion {
    V1,
    V2,
}

impl MessageVersion {
    pub fn from_magic(magic: i32) -> Option<Self> {
        match magic {
            MESSAGE_MAGIC_CODE => Some(MessageVersion::V1),
            MESSAGE_MAGIC_CODE_V2 => Some(MessageVersion::V2),
            _ => None,
        }
    }
    pub fn magic(&self) -> i32 {
        match self {
            MessageVersion::V1 => MESSAGE_MAGIC_CODE,
            MessageVersion::V2 => MESSAGE_MAGIC_CODE_V2,
        }
    }
    /// Bytes of the TOPICLENGTH field.
    pub fn topic_length_size(&self) -> usize {
        match self {
            MessageVersion::V1 => 1,
            MessageVersion::V2 => 2,
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            MessageVersion::V1 => "V1",
            MessageVersion::V2 => "V2",
        }
    }
}

/// Outcome of decoding at a position.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    /// End-of-file filler; `total_size` is the stored size (normally the rest of the file).
    Blank {
        total_size: i32,
    },
    Message(Box<MessageRecord>),
}

/// One decoded message record with every stored field.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRecord {
    /// TOTALSIZE as stored.
    pub total_size: i32,
    pub version: MessageVersion,
    /// BODYCRC as stored (masked crc32 of the stored body).
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    /// PHYSICALOFFSET field as stored (the broker's commitlog offset).
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: HostAddr,
    pub store_timestamp: i64,
    pub store_host: HostAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    /// Body exactly as stored (possibly compressed).
    pub body: Bytes,
    /// Topic (stored bytes must be UTF-8, see [`RecordError::TopicNotUtf8`]).
    pub topic: String,
    /// Raw properties bytes as stored (re-encoded verbatim).
    pub properties_raw: Bytes,
    /// Parsed properties (Java semantics).
    pub properties: Properties,
}

/// Masked crc32 (`UtilAll.crc32`): IEEE CRC-32 `& 0x7FFFFFFF`.
pub fn crc32_masked(data: &[u8]) -> i32 {
    (crc32fast::hash(data) & 0x7FFF_FFFF) as i32
}

/// Java `tagsString2tagsCode`: `String.hashCode` of the tags (0 if empty).
pub fn tags_code(tags: &str) -> i64 {
    if tags.is_empty() {
        0
    } else {
        rmq_common::java::string_hash_code(tags) as i64
    }
}

/// Index key hash: `abs("topic#key".hashCode())`, with `abs(i32::MIN)` = 0
/// as `IndexFile.indexKeyHashMethod` does.
pub fn index_key_hash(topic: &str, key: &str) -> i32 {
    let h = rmq_common::java::string_hash_code(&format!("{topic}#{key}"));
    let a = h.wrapping_abs();
    if a < 0 {
        0
    } else {
        a
    }
}

impl MessageRecord {
    pub fn magic(&self) -> i32 {
        self.version.magic()
    }

    pub fn computed_body_crc(&self) -> i32 {
        crc32_masked(&self.body)
    }

    pub fn body_crc_ok(&self) -> bool {
        self.computed_body_crc() == self.body_crc
    }

    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    pub fn tags(&self) -> Option<&str> {
        self.property(properties::PROPERTY_TAGS)
    }

    pub fn keys(&self) -> Option<&str> {
        self.property(properties::PROPERTY_KEYS)
    }

    pub fn uniq_key(&self) -> Option<&str> {
        self.property(properties::PROPERTY_UNIQ_KEY)
    }

    /// Consume-queue tags code for ordinary topics (not `SCHEDULE_TOPIC_XXXX`).
    pub fn tags_code(&self) -> i64 {
        self.tags().map(tags_code).unwrap_or(0)
    }

    pub fn transaction_type(&self) -> i32 {
        self.sys_flag & TRANSACTION_TYPE_MASK
    }

    pub fn is_compressed(&self) -> bool {
        self.sys_flag & FLAG_COMPRESSED != 0
    }

    /// Compression type when the body is compressed.
    pub fn compression_type(&self) -> Result<Option<CompressionType>, RecordError> {
        if !self.is_compressed() {
            return Ok(None);
        }
        CompressionType::from_sys_flag(self.sys_flag).map(Some)
    }

    /// The body as the application sent it (decompressed on request).
    pub fn decompressed_body(&self) -> Result<Bytes, RecordError> {
        match decompress_body(self.sys_flag, &self.body)? {
            Some(v) => Ok(Bytes::from(v)),
            None => Ok(self.body.clone()),
        }
    }

    /// offsetMsgId as Java's `MessageDecoder.decode` computes it
    /// (store host + PHYSICALOFFSET field).
    pub fn offset_msg_id(&self) -> String {
        offset_msg_id(&self.store_host, self.physical_offset)
    }

    /// Length the record must have given its fields (`calMsgLength`).
    pub fn computed_length(&self) -> i64 {
        calc_msg_length(
            self.version,
            self.sys_flag,
            self.body.len() as i64,
            self.topic.len() as i64,
            self.properties_raw.len() as i64,
        )
    }

    /// Whether the CQ/index dispatcher builds a consume-queue entry for it
    /// (transaction type NOT or COMMIT).
    pub fn is_dispatched_to_cq(&self) -> bool {
        matches!(self.transaction_type(), TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE)
    }

    /// Index keys `topic#key` (UNIQ_KEY and every KEYS entry) as the index
    /// service builds them; empty for ROLLBACK messages.
    pub fn index_keys(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.transaction_type() == TRANSACTION_ROLLBACK_TYPE {
            return v;
        }
        if let Some(u) = self.uniq_key() {
            v.push(format!("{}#{}", self.topic, u));
        }
        if let Some(k) = self.keys() {
            for key in split_keys(k) {
                v.push(format!("{}#{}", self.topic, key));
            }
        }
        v
    }

    /// 5.x property CRC (`__CRC32#`, written when `enabledAppendPropCRC`):
    /// `Some((stored, computed))` when the property is present. The digits are
    /// stored least-significant first; the CRC covers the record bytes except
    /// the last 20 (`CRC32_RESERVED_LEN`).
    pub fn property_crc(&self) -> Option<(i64, i32)> {
        let digits = self.property(properties::PROPERTY_CRC32)?;
        let mut stored: i64 = 0;
        for c in digits.chars().rev() {
            let d = (c as i64) - ('0' as i64);
            stored = stored.wrapping_mul(10).wrapping_add(d);
        }
        let bytes = self.encode().ok()?;
        let covered = bytes.len().checked_sub(CRC32_RESERVED_LEN)?;
        Some((stored, crc32_masked(&bytes[..covered])))
    }

    /// Encodes the record from its fields (TOTALSIZE recomputed).
    pub fn encode(&self) -> Result<Vec<u8>, RecordError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the encoded record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        codec::encode_into(self, out)
    }
}
