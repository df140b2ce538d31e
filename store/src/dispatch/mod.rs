//! Building the derived files from the commitlog, like Java's dispatchers
//! (`CommitLogDispatcherBuildConsumeQueue`, `CommitLogDispatcherBuildIndex`).
//!
//! * [`request`]: `checkMessageAndReturnSize` on raw bytes → [`DispatchRequest`].
//! * [`cq_writer`]: one consume queue (`ConsumeQueue.putMessagePositionInfo`).
//! * [`index_writer`]: index files (`IndexService.buildIndex` / `IndexFile.putKey`).
//! * [`dispatcher`]: both over a commitlog range.
//!
//! Writing is synchronous (plain `pwrite` for consume queues, a writable
//! memory map for the index file being filled); call it from a blocking thread.

pub mod cq_writer;
pub mod dispatcher;
pub mod index_writer;
pub mod request;

pub use cq_writer::{CqTail, CqWriter};
pub use dispatcher::{dispatch_range, tail_from_disk, DispatchStats, DispatchTarget, Dispatcher, QueueStats, RangeEnd};
pub use index_writer::{IndexGeometry, IndexState, IndexWriter};
pub use request::{check_message, CheckRules, Checked, DispatchRequest};

use crate::config::StoreConfig;

/// `TopicValidator.RMQ_SYS_SCHEDULE_TOPIC`: delay-level messages wait here; its
/// consume-queue tagsCode is the deliver timestamp.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

/// Which Java release's rules to follow where 4.9.8 and 5.3.3 differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum JavaVersion {
    #[serde(rename = "4.9.8")]
    V4_9_8,
    #[serde(rename = "5.3.3")]
    V5_3_3,
}

impl JavaVersion {
    pub fn as_str(&self) -> &'static str {
        match self {
            JavaVersion::V4_9_8 => "4.9.8",
            JavaVersion::V5_3_3 => "5.3.3",
        }
    }

    /// Accepts "4", "4.9.8", "5", "5.3.3" (any 4.x / 5.x spelling).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().split('.').next()? {
            "4" => Some(JavaVersion::V4_9_8),
            "5" => Some(JavaVersion::V5_3_3),
            _ => None,
        }
    }
}

impl std::fmt::Display for JavaVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CheckRules {
    /// Rules from a broker config (`checkCRCOnRecover`, `forceVerifyPropCRC`,
    /// `duplicationEnable`, `messageDelayLevel`; Java defaults when absent).
    pub fn from_config(java: JavaVersion, config: Option<&StoreConfig>) -> Self {
        let default = StoreConfig::default();
        let c = config.unwrap_or(&default);
        CheckRules {
            java,
            check_crc: c.get_bool("checkCRCOnRecover").unwrap_or(true),
            force_verify_prop_crc: c.get_bool("forceVerifyPropCRC").unwrap_or(false),
            check_dup_info: c.get_bool("duplicationEnable").unwrap_or(false),
            delay_levels_ms: c.delay_levels_ms(),
        }
    }
}

/// File geometry of a store: `broker.conf` values, else what existing files
/// show (a store written by an embedded `DefaultMessageStore` has no
/// broker.conf), else Java's defaults. Returns the consume-queue file size
/// (whole units) and the index geometry.
pub fn store_geometry(dir: &crate::StoreDir) -> crate::Result<(u64, IndexGeometry)> {
    use crate::consume_queue::{cq_file_size, list_queues, CQ_UNIT_SIZE, DEFAULT_CQ_FILE_SIZE};
    // Java holds both sizes in ints
    let too_big = |what: &str, v: u64| {
        let conf = dir.root().join("broker.conf");
        crate::StoreError::layout(conf, format!("{what} {v} does not fit Java's int"))
    };
    let cq = match dir.consume_queue_file_size() {
        Some(v) if v > i32::MAX as u64 - CQ_UNIT_SIZE => return Err(too_big("mappedFileSizeConsumeQueue", v)),
        Some(0) => return Err(too_big("mappedFileSizeConsumeQueue", 0)),
        Some(v) => cq_file_size(v),
        None => {
            let mut found = None;
            for (_, _, qdir) in list_queues(&dir.consume_queue_dir())? {
                if let Some((_, p)) = crate::mapped_file::list_mapped_files(&qdir)?.into_iter().next() {
                    let len = std::fs::metadata(&p).map_err(|e| crate::StoreError::io(&p, e))?.len();
                    if len > 0 && len.is_multiple_of(CQ_UNIT_SIZE) && len <= i32::MAX as u64 {
                        found = Some(len);
                        break;
                    }
                }
            }
            found.unwrap_or(DEFAULT_CQ_FILE_SIZE)
        }
    };
    let (s, n) = dir.index_geometry();
    let geom = match (s, n) {
        (Some(s), Some(n)) => IndexGeometry { hash_slot_num: s, index_num: n },
        _ => match crate::index::list_index_files(&dir.index_dir())?.first() {
            Some(p) => {
                let f = crate::IndexFile::open(p, s, n)?;
                IndexGeometry { hash_slot_num: f.hash_slot_num(), index_num: f.index_num() }
            }
            None => IndexGeometry {
                hash_slot_num: s.unwrap_or(IndexGeometry::DEFAULT.hash_slot_num),
                index_num: n.unwrap_or(IndexGeometry::DEFAULT.index_num),
            },
        },
    };
    if geom.file_size() > i32::MAX as u64 || geom.hash_slot_num == 0 || geom.index_num == 0 {
        let (s, n) = (geom.hash_slot_num, geom.index_num);
        return Err(too_big("maxHashSlotNum/maxIndexNum index file size", crate::index::index_file_size(s, n)));
    }
    Ok((cq, geom))
}

/// `messageIndexEnable` (default true).
pub fn index_enabled(dir: &crate::StoreDir) -> bool {
    dir.config().and_then(|c| c.get_bool("messageIndexEnable")).unwrap_or(true)
}
