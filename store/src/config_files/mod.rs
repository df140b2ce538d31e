//! Typed read/write of the broker's `<storePathRootDir>/config/` JSON files
//! (store-format.md §8): `topics.json`, `consumerOffset.json`,
//! `subscriptionGroup.json`, `delayOffset.json`, `consumerFilter.json`,
//! `consumerOrderInfo.json`, each with its `.bak`.
//!
//! * Reading accepts what Java 4.9.8 and 5.3.3 write (fastjson, see
//!   [`rmq_common::fastjson`]). Keys the typed model does not know are kept in each
//!   struct's `extra` map and written back, so nothing an operator had is dropped.
//!   Computed getters Java writes but never reads (`groupTopicMap`, `dead`) are
//!   dropped on read and recomputed on write.
//! * Writing produces the bytes the chosen [`JavaFlavor`] writes: 5.x-only fields
//!   are left out of 4.9.8 output when they hold the 5.x default (so a 5.3.3 file
//!   written as 4.9.8 loses nothing a 4.9.8 broker could not carry either; a
//!   non-default 5.x value is kept, 4.9.8 ignores it). A missing `dataVersion` is
//!   not invented (Java would stamp the current time; we stay deterministic).
//! * [`load`] falls back to `<file>.bak` like Java's `ConfigManager.load`;
//!   [`write`] follows `MixAll.string2File` (`.tmp`, old content to `.bak`, rename).

mod bean;
mod filter;
mod io;
mod offsets;
mod order_info;
mod subscription;
mod topics;

#[cfg(test)]
mod tests_files;
#[cfg(test)]
mod tests_golden;

use rmq_common::fastjson::{self, EmitOptions, Value};
use serde::de::DeserializeOwned;
use thiserror::Error;

pub use bean::DataVersion;
pub use filter::{BloomFilterData, ConsumerFilterData, ConsumerFilterFile, FilterDataMapByTopic};
pub use io::{backup_path, load, load_in, write, write_in, ConfigFileError, Loaded, LoadedFrom};
pub use offsets::{ConsumerOffsetFile, DelayOffsetFile};
pub use order_info::{ConsumerOrderInfoFile, OrderInfo};
pub use subscription::{GroupRetryPolicy, SubscriptionGroupConfig, SubscriptionGroupFile};
pub use topics::{TopicConfig, TopicsFile};

/// Which Java broker's output to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(non_camel_case_types)]
pub enum JavaFlavor {
    V4_9_8,
    V5_3_3,
}

/// Pretty (what `ConfigManager.persist` writes) or compact (what a 4.9.8 slave
/// writes for `delayOffset.json`, copied verbatim from its master's answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    #[default]
    Pretty,
    Compact,
}

impl Layout {
    /// The layout of an existing file's text (fastjson's compact form has no newline).
    pub fn of_text(text: &[u8]) -> Layout {
        if text.contains(&b'\n') {
            Layout::Pretty
        } else {
            Layout::Compact
        }
    }
}

/// Why bytes are not a valid config file of the expected kind.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not (fastjson-)JSON at all; `offset` is the byte offset in the file.
    #[error("invalid JSON at offset {offset}: {message}")]
    Syntax { offset: usize, message: String },
    /// Valid JSON that does not fit the Java class (e.g. a string where a number belongs).
    #[error("JSON does not fit {file}: {message}")]
    Shape { file: &'static str, message: String },
}

/// One of the config files: how to read it from fastjson text and write it back.
pub trait ConfigFile: Sized + Default + Clone + PartialEq + std::fmt::Debug + DeserializeOwned {
    /// Name inside `<storePathRootDir>/config/`.
    const FILE_NAME: &'static str;
    /// Whether the file holds Java `List`s that fastjson's pretty form puts one element
    /// per line (it keeps `Set`s and arrays on one line; the emitter cannot tell them apart).
    const EXPAND_LISTS: bool = false;

    /// Drops computed getters and null leftovers after deserializing.
    fn after_read(&mut self) {}

    /// The JSON model Java `flavor` would write for this content.
    fn to_json_value(&self, flavor: JavaFlavor) -> Value;

    /// Reads a file's text (UTF-8 fastjson).
    fn from_json_bytes(bytes: &[u8]) -> Result<Self, JsonError> {
        let v = fastjson::parse_bytes(bytes).map_err(|e| JsonError::Syntax { offset: e.offset, message: e.message })?;
        Self::from_json_value(v)
    }

    /// Reads the parsed JSON model.
    fn from_json_value(v: Value) -> Result<Self, JsonError> {
        let mut t: Self =
            fastjson::from_value(v).map_err(|e| JsonError::Shape { file: Self::FILE_NAME, message: e.to_string() })?;
        t.after_read();
        Ok(t)
    }

    /// The file text Java `flavor` would write.
    fn to_json(&self, flavor: JavaFlavor, layout: Layout) -> String {
        let opts = match layout {
            Layout::Pretty => EmitOptions { pretty_expand_arrays: Self::EXPAND_LISTS, ..EmitOptions::PRETTY },
            Layout::Compact => EmitOptions::COMPACT,
        };
        fastjson::to_string(&self.to_json_value(flavor), &opts)
    }
}
