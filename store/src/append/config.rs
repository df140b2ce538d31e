//! Writer settings: the `MessageStoreConfig` keys the commitlog write path,
//! flushing and expired-file cleaning use (defaults as in Java 5.3.3).

use std::time::Duration;

use crate::config::StoreConfig;
use crate::dispatch::JavaVersion;
use crate::error::{Result, StoreError};

/// `flushDiskType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushDiskType {
    /// A put resolves once written to the page cache; a background thread
    /// flushes every `flushIntervalCommitLog`.
    Async,
    /// A put resolves once its bytes are on disk (group commit).
    Sync,
}

/// Whether the store takes client writes or replicated bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// ASYNC_MASTER / SYNC_MASTER: `put` allowed, `append_raw` refused.
    Master,
    /// SLAVE: `append_raw` allowed, `put` refused (SERVICE_NOT_AVAILABLE).
    Slave,
}

/// Settings of the commitlog writer.
#[derive(Clone, Debug)]
pub struct AppendConfig {
    /// `mappedFileSizeCommitLog`.
    pub file_size: u64,
    /// `maxMessageSize`: body limit; a whole record may be 64 KiB larger.
    pub max_message_size: i32,
    pub flush_disk_type: FlushDiskType,
    /// `flushIntervalCommitLog` (ASYNC_FLUSH period).
    pub flush_interval: Duration,
    /// `flushCommitLogLeastPages`: dirty 4 KiB pages needed for a periodic flush.
    pub flush_least_pages: u32,
    /// `flushCommitLogThoroughInterval`: a full flush at least this often.
    pub flush_thorough_interval: Duration,
    /// `syncFlushTimeout`: SYNC_FLUSH puts not on disk by then get FLUSH_DISK_TIMEOUT.
    pub sync_flush_timeout: Duration,
    /// `osPageCacheBusyTimeOutMills`: while one append round takes longer, new
    /// puts get OS_PAGE_CACHE_BUSY instead of queueing behind a stuck disk.
    pub os_page_cache_busy_timeout: Duration,
    /// `autoMessageVersionOnTopicLen`: V2 records for topics over 127 chars.
    pub auto_message_version_on_topic_len: bool,
    /// `enabledAppendPropCRC`: append the `__CRC32#` property.
    pub enabled_append_prop_crc: bool,
    /// `messageDelayLevel` in ms (level 1 first), for SCHEDULE_TOPIC tags codes.
    pub delay_levels_ms: Vec<i64>,
    pub role: Role,
    /// `transientStorePoolEnable` with ASYNC_FLUSH: network threads stage
    /// puts in the write buffer and answer before the page cache has them
    /// (see `tail.rs`). Ignored with SYNC_FLUSH, like Java.
    pub write_buffer: bool,
    /// Which Java generation's conventions to keep (from the opened store,
    /// `StoreSession::layout`): 4.9.8 writes only V1 records.
    pub layout: JavaVersion,
    pub clean: CleanConfig,
    /// Test hook: extra sleep before each disk flush (simulates a slow disk).
    #[doc(hidden)]
    pub flush_delay_for_tests: Option<Duration>,
}

/// Expired commitlog file deletion settings.
#[derive(Clone, Debug)]
pub struct CleanConfig {
    /// `fileReservedTime` in hours.
    pub file_reserved_hours: u64,
    /// `deleteWhen`: hours of the (local) day, `;`-separated.
    pub delete_when: Vec<u32>,
    /// `diskMaxUsedSpaceRatio` in percent (Java clamps to 10..=95).
    pub disk_max_used_space_ratio: u32,
    /// `cleanFileForciblyEnable`.
    pub clean_file_forcibly_enable: bool,
    /// `diskSpaceWarningLevelRatio` (90; clamped 35..=90): disk full, writes refused.
    pub disk_space_warning_level_ratio: u32,
    /// `diskSpaceCleanForciblyRatio` (85; clamped 30..=85): delete regardless of age.
    pub disk_space_clean_forcibly_ratio: u32,
    /// `deleteCommitLogFilesInterval`: pause between two deletions.
    pub delete_files_interval: Duration,
    /// `deleteFileBatchMax`.
    pub delete_file_batch_max: usize,
    /// `cleanResourceInterval`: how often the cleaner runs.
    pub clean_resource_interval: Duration,
}

impl Default for CleanConfig {
    fn default() -> Self {
        CleanConfig {
            file_reserved_hours: 72,
            delete_when: vec![4],
            disk_max_used_space_ratio: 75,
            clean_file_forcibly_enable: true,
            disk_space_warning_level_ratio: 90,
            disk_space_clean_forcibly_ratio: 85,
            delete_files_interval: Duration::from_millis(100),
            delete_file_batch_max: 10,
            clean_resource_interval: Duration::from_millis(10_000),
        }
    }
}

impl Default for AppendConfig {
    fn default() -> Self {
        AppendConfig {
            file_size: 1024 * 1024 * 1024,
            max_message_size: 4 * 1024 * 1024,
            flush_disk_type: FlushDiskType::Async,
            flush_interval: Duration::from_millis(500),
            flush_least_pages: 4,
            flush_thorough_interval: Duration::from_millis(10_000),
            sync_flush_timeout: Duration::from_millis(5000),
            os_page_cache_busy_timeout: Duration::from_millis(1000),
            auto_message_version_on_topic_len: true,
            enabled_append_prop_crc: false,
            delay_levels_ms: StoreConfig::default().delay_levels_ms(),
            role: Role::Master,
            write_buffer: false,
            layout: JavaVersion::V5_3_3,
            clean: CleanConfig::default(),
            flush_delay_for_tests: None,
        }
    }
}

/// Parses `deleteWhen` ("04;12"): every part must be an hour 0..=23.
pub fn parse_delete_when(s: &str) -> Option<Vec<u32>> {
    s.split(';').map(|p| p.trim().parse::<u32>().ok().filter(|h| *h < 24)).collect()
}

impl AppendConfig {
    /// Reads the keys from a broker config; unset keys keep their defaults, a
    /// malformed value is an error naming the key. `layout` is not a config
    /// key: it comes from the opened store.
    pub fn from_store_config(c: &StoreConfig, layout: JavaVersion) -> Result<Self> {
        let src = c.source.clone().unwrap_or_default();
        let bad = |key: &str, v: &str| StoreError::layout(&src, format!("bad value {v:?} for {key}"));
        let num = |key: &str| -> Result<Option<u64>> {
            match c.get(key) {
                None => Ok(None),
                Some(v) => v.parse::<u64>().map(Some).map_err(|_| bad(key, v)),
            }
        };
        let boolean = |key: &str| -> Result<Option<bool>> {
            match c.get(key) {
                None => Ok(None),
                Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
                Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
                Some(v) => Err(bad(key, v)),
            }
        };
        let ms = |v: u64| Duration::from_millis(v);
        let mut a = AppendConfig { layout, delay_levels_ms: c.delay_levels_ms(), ..Default::default() };
        if let Some(v) = num("mappedFileSizeCommitLog")? {
            a.file_size = v;
        }
        if let Some(v) = num("maxMessageSize")? {
            a.max_message_size = i32::try_from(v).map_err(|_| bad("maxMessageSize", &v.to_string()))?;
        }
        if let Some(v) = c.get("flushDiskType") {
            a.flush_disk_type = match v {
                "ASYNC_FLUSH" => FlushDiskType::Async,
                "SYNC_FLUSH" => FlushDiskType::Sync,
                _ => return Err(bad("flushDiskType", v)),
            };
        }
        if let Some(v) = c.get("brokerRole") {
            a.role = match v {
                "ASYNC_MASTER" | "SYNC_MASTER" => Role::Master,
                "SLAVE" => Role::Slave,
                _ => return Err(bad("brokerRole", v)),
            };
        }
        if let Some(v) = num("flushIntervalCommitLog")? {
            a.flush_interval = ms(v);
        }
        if let Some(v) = num("flushCommitLogLeastPages")? {
            a.flush_least_pages = v.min(u32::MAX as u64) as u32;
        }
        if let Some(v) = num("flushCommitLogThoroughInterval")? {
            a.flush_thorough_interval = ms(v);
        }
        if let Some(v) = num("syncFlushTimeout")? {
            a.sync_flush_timeout = ms(v);
        }
        if let Some(v) = num("osPageCacheBusyTimeOutMills")? {
            a.os_page_cache_busy_timeout = ms(v);
        }
        if let Some(v) = boolean("autoMessageVersionOnTopicLen")? {
            a.auto_message_version_on_topic_len = v;
        }
        if let Some(v) = boolean("enabledAppendPropCRC")? {
            a.enabled_append_prop_crc = v;
        }
        if let Some(v) = boolean("transientStorePoolEnable")? {
            a.write_buffer = v;
        }
        let cl = &mut a.clean;
        if let Some(v) = num("fileReservedTime")? {
            cl.file_reserved_hours = v;
        }
        if let Some(v) = c.get("deleteWhen") {
            cl.delete_when = parse_delete_when(v).ok_or_else(|| bad("deleteWhen", v))?;
        }
        if let Some(v) = num("diskMaxUsedSpaceRatio")? {
            cl.disk_max_used_space_ratio = v.min(100) as u32;
        }
        if let Some(v) = boolean("cleanFileForciblyEnable")? {
            cl.clean_file_forcibly_enable = v;
        }
        if let Some(v) = num("diskSpaceWarningLevelRatio")? {
            cl.disk_space_warning_level_ratio = v.min(100) as u32;
        }
        if let Some(v) = num("diskSpaceCleanForciblyRatio")? {
            cl.disk_space_clean_forcibly_ratio = v.min(100) as u32;
        }
        if let Some(v) = num("deleteCommitLogFilesInterval")? {
            cl.delete_files_interval = ms(v);
        }
        if let Some(v) = num("deleteFileBatchMax")? {
            cl.delete_file_batch_max = v as usize;
        }
        if let Some(v) = num("cleanResourceInterval")? {
            cl.clean_resource_interval = ms(v);
        }
        a.validate().map_err(|m| StoreError::layout(&src, m))?;
        Ok(a)
    }

    /// Rejects settings the writer cannot work with.
    pub fn validate(&self) -> std::result::Result<(), String> {
        // a BLANK record stores the remaining size as an int, so files must fit in i32
        if self.file_size < 4096 || self.file_size > i32::MAX as u64 {
            return Err(format!("mappedFileSizeCommitLog {} outside 4096..={}", self.file_size, i32::MAX));
        }
        if self.max_message_size <= 0 {
            return Err(format!("maxMessageSize {} must be positive", self.max_message_size));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_and_rejects_bad_values() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("broker.conf");
        std::fs::write(
            &p,
            "mappedFileSizeCommitLog=65536\nflushDiskType=SYNC_FLUSH\ndeleteWhen=04;12\nfileReservedTime=48\n\
             brokerRole=SLAVE\ncleanFileForciblyEnable=false\nsyncFlushTimeout=100\n",
        )
        .unwrap();
        let a = AppendConfig::from_store_config(&StoreConfig::load(&p).unwrap(), JavaVersion::V4_9_8).unwrap();
        assert_eq!(a.file_size, 65536);
        assert_eq!(a.flush_disk_type, FlushDiskType::Sync);
        assert_eq!(a.clean.delete_when, vec![4, 12]);
        assert_eq!(a.clean.file_reserved_hours, 48);
        assert_eq!(a.role, Role::Slave);
        assert!(!a.clean.clean_file_forcibly_enable);
        assert_eq!(a.sync_flush_timeout, Duration::from_millis(100));
        for bad in ["deleteWhen=25", "flushDiskType=SOMETIMES", "maxMessageSize=x", "mappedFileSizeCommitLog=10"] {
            std::fs::write(&p, bad).unwrap();
            let e = AppendConfig::from_store_config(&StoreConfig::load(&p).unwrap(), JavaVersion::V5_3_3).unwrap_err();
            assert!(e.to_string().contains("broker.conf"), "{e}");
        }
    }
}
