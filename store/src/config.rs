//! The store-related keys of a `broker.conf`-style file, read with
//! [`rmq_common::properties`] (Java `Properties.load` rules).

use std::path::{Path, PathBuf};

use rmq_common::properties::{self, LoadFileError, Properties};

use crate::error::{Result, StoreError};

/// Reads a properties file (`broker.conf`, DLedger `checkpoint`/`currterm`). A missing
/// or unreadable file is [`StoreError::Io`], a malformed one [`StoreError::Layout`].
pub(crate) fn load_properties(path: &Path) -> Result<Properties> {
    properties::load_file(path).map_err(|e| match e {
        LoadFileError::Io { path, source } => StoreError::io(path, source),
        LoadFileError::Parse { path, source } => StoreError::layout(path, source.to_string()),
    })
}

/// Store settings from a broker config (defaults as in `MessageStoreConfig`).
#[derive(Clone, Debug, Default)]
pub struct StoreConfig {
    pub raw: Properties,
    pub source: Option<PathBuf>,
}

impl StoreConfig {
    pub fn load(path: &Path) -> Result<Self> {
        Ok(StoreConfig { raw: load_properties(path)?, source: Some(path.to_path_buf()) })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(|s| s.parse().ok())
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).map(|s| s.eq_ignore_ascii_case("true"))
    }

    pub fn mapped_file_size_commit_log(&self) -> Option<u64> {
        self.get_u64("mappedFileSizeCommitLog")
    }
    pub fn mapped_file_size_consume_queue(&self) -> Option<u64> {
        self.get_u64("mappedFileSizeConsumeQueue")
    }
    pub fn max_hash_slot_num(&self) -> Option<u32> {
        self.get_u64("maxHashSlotNum").and_then(|v| u32::try_from(v).ok())
    }
    pub fn max_index_num(&self) -> Option<u32> {
        self.get_u64("maxIndexNum").and_then(|v| u32::try_from(v).ok())
    }
    pub fn store_path_root_dir(&self) -> Option<&str> {
        self.get("storePathRootDir")
    }
    pub fn store_path_commit_log(&self) -> Option<&str> {
        self.get("storePathCommitLog")
    }
    pub fn enable_dledger(&self) -> bool {
        self.get_bool("enableDLegerCommitLog").unwrap_or(false)
    }
    pub fn dledger_self_id(&self) -> Option<&str> {
        self.get("dLegerSelfId")
    }
    /// `messageDelayLevel` (default "1s 5s 10s 30s 1m ... 2h") in milliseconds per level (1-based).
    pub fn delay_levels_ms(&self) -> Vec<i64> {
        let s = self.get("messageDelayLevel").unwrap_or("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h");
        s.split(' ')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (num, unit) = p.split_at(p.len() - 1);
                let mult = match unit {
                    "s" => 1000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    "d" => 86_400_000,
                    _ => return None,
                };
                num.parse::<i64>().ok().map(|n| n * mult)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_levels() {
        let c = StoreConfig::default();
        assert_eq!(c.delay_levels_ms()[1], 5000);
        assert_eq!(c.delay_levels_ms().len(), 18);
    }

    #[test]
    fn load_trims_values_and_maps_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("broker.conf");
        std::fs::write(&p, "# c\nmappedFileSizeCommitLog = 1024 \nstorePathRootDir=\nenableDLegerCommitLog:TRUE\n")
            .unwrap();
        let c = StoreConfig::load(&p).unwrap();
        assert_eq!(c.mapped_file_size_commit_log(), Some(1024));
        assert_eq!(c.store_path_root_dir(), None);
        assert!(c.enable_dledger());
        std::fs::write(&p, "a=\\u12\n").unwrap();
        assert!(matches!(StoreConfig::load(&p), Err(StoreError::Layout { .. })));
        assert!(matches!(StoreConfig::load(&d.path().join("missing")), Err(StoreError::Io { .. })));
    }
}
