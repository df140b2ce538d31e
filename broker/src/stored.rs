//! A stored record the way Java's broker handles one it stores again
//! (delivering a delayed message, a consumer retry, a transaction commit or
//! check): decoded like `MessageDecoder.decode` (body left as stored), its
//! properties as the `HashMap` Java builds from them, and the helpers that
//! turn it back into a [`MessageToStore`] with the bytes Java would write.

use bytes::Bytes;
use rmq_store::append::{MessageToStore, PutStatus};
use rmq_store::config_files::JavaFlavor;
use rmq_store::record::{decode_message, MessageRecord, TRANSACTION_TYPE_MASK};
use rmq_store::HostAddr;

use crate::processor::props::JavaProps;
use crate::store::{MessageStore, MessageStoreError};

/// `MessageConst` keys these features read or write.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
pub const REAL_QID: &str = "REAL_QID";
pub const DELAY: &str = "DELAY";
pub const WAIT: &str = "WAIT";
pub const TAGS: &str = "TAGS";
pub const UNIQ_KEY: &str = "UNIQ_KEY";
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
pub const TRAN_MSG: &str = "TRAN_MSG";
pub const PGROUP: &str = "PGROUP";
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";

/// `new HashMap<>()` capacity `string2messageProperties` uses (4.9.8: 16, 5.x: 128).
pub fn props_initial(flavor: JavaFlavor) -> usize {
    match flavor {
        JavaFlavor::V4_9_8 => 16,
        JavaFlavor::V5_3_3 => 128,
    }
}

/// `messageProperties2String`: 5.x ends every pair with the separator, 4.9.8
/// drops the last one.
pub fn props_string(p: &JavaProps, flavor: JavaFlavor) -> String {
    let mut s = p.to_java_string();
    if flavor == JavaFlavor::V5_3_3 && !s.is_empty() && !s.ends_with('\u{2}') {
        s.push('\u{2}');
    }
    s
}

/// `Integer.parseInt` (no trimming; `None` where Java would throw).
pub fn java_int(s: &str) -> Option<i32> {
    s.parse().ok()
}

/// `MessageSysFlag.resetTransactionValue`.
pub fn reset_tx_type(sys_flag: i32, tx_type: i32) -> i32 {
    (sys_flag & !TRANSACTION_TYPE_MASK) | tx_type
}

/// The Java enum name of a put status (remarks quote it).
pub fn status_name(s: PutStatus, flavor: JavaFlavor) -> &'static str {
    let v4 = flavor == JavaFlavor::V4_9_8;
    match s {
        PutStatus::PutOk => "PUT_OK",
        PutStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        PutStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
        PutStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
        PutStatus::ServiceNotAvailable => "SERVICE_NOT_AVAILABLE",
        PutStatus::CreateMappedFileFailed if v4 => "CREATE_MAPEDFILE_FAILED",
        PutStatus::CreateMappedFileFailed => "CREATE_MAPPED_FILE_FAILED",
        PutStatus::MessageIllegal => "MESSAGE_ILLEGAL",
        PutStatus::PropertiesSizeExceeded => "PROPERTIES_SIZE_EXCEEDED",
        PutStatus::OsPageCacheBusy if v4 => "OS_PAGECACHE_BUSY",
        PutStatus::OsPageCacheBusy => "OS_PAGE_CACHE_BUSY",
        PutStatus::UnknownError => "UNKNOWN_ERROR",
    }
}

/// One decoded record and its properties map.
#[derive(Debug, Clone)]
pub struct Stored {
    pub rec: MessageRecord,
    pub props: JavaProps,
}

impl Stored {
    /// Decodes a record; `None` when the bytes are not a message (Java's decode returns null).
    pub fn decode(bytes: &[u8], flavor: JavaFlavor) -> Option<Stored> {
        let rec = decode_message(bytes).ok()?;
        let text = String::from_utf8_lossy(&rec.properties_raw).into_owned();
        let props = JavaProps::parse(Some(&text), props_initial(flavor));
        Some(Stored { rec, props })
    }

    /// `lookMessageByOffset`: the record at a commitlog offset (its size read
    /// from the record unless given).
    pub async fn look(
        store: &MessageStore,
        offset: i64,
        size: Option<i32>,
        flavor: JavaFlavor,
    ) -> Result<Option<Stored>, MessageStoreError> {
        if offset < 0 {
            return Ok(None);
        }
        Ok(store.read_record(offset, size).await?.and_then(|b| Stored::decode(&b, flavor)))
    }

    pub fn prop(&self, k: &str) -> Option<&str> {
        self.props.get(k)
    }

    /// The record's offsetMsgId (what Java calls its msgId).
    pub fn msg_id(&self) -> String {
        self.rec.offset_msg_id()
    }

    /// A copy of the record for `topic`/`queue_id` carrying `properties`; the
    /// store fills in offsets and times, the rest is the record's.
    pub fn copy_to(&self, topic: String, queue_id: i32, properties: String) -> MessageToStore {
        let r = &self.rec;
        MessageToStore {
            topic,
            queue_id,
            flag: r.flag,
            body: r.body.clone(),
            properties: Bytes::from(properties),
            sys_flag: r.sys_flag,
            born_timestamp: r.born_timestamp,
            born_host: r.born_host,
            store_host: r.store_host,
            reconsume_times: r.reconsume_times,
            prepared_transaction_offset: 0,
        }
    }
}

/// Milliseconds since the epoch (`System.currentTimeMillis`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// `brokerIP1:listenPort` as Java's `RemotingHelper.parseSocketAddressAddr` prints it.
pub fn host_string(h: &HostAddr) -> String {
    format!("{}:{}", rmq_store::record::host::java_ip_string(&h.java_ip()), h.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_follow_the_flavor() {
        let mut p = JavaProps::parse(None, 16);
        p.put(TAGS, "d");
        p.put(WAIT, "true");
        assert_eq!(props_string(&p, JavaFlavor::V4_9_8), "WAIT\u{1}true\u{2}TAGS\u{1}d");
        assert_eq!(props_string(&p, JavaFlavor::V5_3_3), "WAIT\u{1}true\u{2}TAGS\u{1}d\u{2}");
        assert_eq!(reset_tx_type(0x4 | 0x1, 0x8), 0x9);
        assert_eq!(java_int(" 1"), None);
        assert_eq!(status_name(PutStatus::OsPageCacheBusy, JavaFlavor::V4_9_8), "OS_PAGECACHE_BUSY");
    }
}
