//! Broker metadata kept in `<storePathRootDir>/config/`: topics, subscription
//! groups, consumer offsets and delay-level offsets, with Java's rules
//! (`TopicConfigManager`, `SubscriptionGroupManager`, `ConsumerOffsetManager`,
//! `ScheduleMessageService`'s offset table).
//!
//! * Every manager is shared (`&self` methods, `parking_lot` locks inside) and
//!   never touches the disk except in `persist()`, a plain blocking function the
//!   core calls from `spawn_blocking` (after a change, or periodically). Mutations
//!   mark the manager dirty; [`Meta::persist_dirty`] writes only what changed.
//! * Files are read and written through `rmq_store::config_files` (`.bak`
//!   fallback, Java-flavoured fastjson output). Tables are written in the order
//!   Java's `ConcurrentHashMap`s iterate, so a rewritten file looks like Java's.
//! * [`JavaFlavor`] picks which Java broker's behaviour and output to follow: the
//!   system topics and groups created at start differ (4.9.8 has no revive, sync,
//!   transaction or timer topics, no `CID_RMQ_SYS_TRANS`), and 5.x files carry
//!   `dataVersion`/`stateVersion`/`attributes`.

mod attributes;
mod file_slot;
mod groups;
mod offsets;
pub mod system;
mod topics;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_golden;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use rmq_common::java;
use rmq_store::config_files::{ConfigFileError, JavaFlavor, Loaded, LoadedFrom};
use thiserror::Error;
use tracing::warn;

pub use attributes::{alter_group_attributes, parse_to_map as parse_attributes};
pub use groups::{initial_groups, GroupPolicy, SubscriptionGroupManager};
pub use offsets::{ConsumerOffsetManager, DelayOffsetManager};
pub use rmq_store::config_files::{DataVersion, SubscriptionGroupConfig, TopicConfig};
pub use topics::{
    initial_topics, perm_to_string, to_wire, AttributeError, TopicConfigManager, TopicCreation, TopicPolicy,
};

use crate::config::BrokerSettings;

/// Metadata that could not be loaded, persisted or changed.
#[derive(Debug, Error)]
pub enum MetaError {
    /// A config file (and its `.bak`) could not be read or written.
    #[error(transparent)]
    File(#[from] ConfigFileError),
    /// A topic's attribute change Java refuses (the remark Java answers with).
    #[error(transparent)]
    Attribute(#[from] AttributeError),
}

/// All four managers, as the broker core holds them.
pub struct Meta {
    pub topics: TopicConfigManager,
    pub groups: SubscriptionGroupManager,
    pub offsets: ConsumerOffsetManager,
    pub delay_offsets: DelayOffsetManager,
    pub flavor: JavaFlavor,
    /// `MessageStore.getStateMachineVersion()`: the controller epoch in controller mode,
    /// stamped into every 5.x `dataVersion` bump. Shared by the managers.
    state_version: Arc<AtomicI64>,
}

impl Meta {
    /// Loads `<storePathRootDir>/config/*.json` with the flavor of the broker that
    /// wrote them ([`detect_flavor`]); a new store gets 5.3.3 files.
    pub fn load(settings: &BrokerSettings) -> Result<Meta, MetaError> {
        let dir = config_dir(settings);
        let flavor = detect_flavor(&dir);
        Meta::load_with(settings, flavor)
    }

    /// [`Meta::load`] with an explicit flavor.
    pub fn load_with(settings: &BrokerSettings, flavor: JavaFlavor) -> Result<Meta, MetaError> {
        let dir = config_dir(settings);
        let state_version = Arc::new(AtomicI64::new(0));
        let topics = TopicConfigManager::load_shared(&dir, settings, flavor, state_version.clone())?;
        let groups = SubscriptionGroupManager::load(&dir, &settings.broker, flavor, state_version.clone())?;
        let offsets = ConsumerOffsetManager::load(&dir, &settings.broker, flavor, state_version.clone())?;
        let delay_offsets = DelayOffsetManager::load(&dir, &settings.broker, flavor, state_version.clone())?;
        Ok(Meta { topics, groups, offsets, delay_offsets, flavor, state_version })
    }

    /// Sets the version 5.x stamps into `dataVersion.stateVersion` from now on.
    pub fn set_state_machine_version(&self, v: i64) {
        self.state_version.store(v, Ordering::Relaxed);
    }

    /// Writes every manager that changed since its last persist (blocking).
    pub fn persist_dirty(&self) -> Result<(), MetaError> {
        if self.topics.is_dirty() {
            self.topics.persist()?;
        }
        if self.groups.is_dirty() {
            self.groups.persist()?;
        }
        if self.offsets.is_dirty() {
            self.offsets.persist()?;
        }
        if self.delay_offsets.is_dirty() {
            self.delay_offsets.persist()?;
        }
        Ok(())
    }

    /// Writes all four files (shutdown).
    pub fn persist_all(&self) -> Result<(), MetaError> {
        self.topics.persist()?;
        self.groups.persist()?;
        self.offsets.persist()?;
        self.delay_offsets.persist()
    }
}

/// `<storePathRootDir>/config`.
pub fn config_dir(settings: &BrokerSettings) -> PathBuf {
    Path::new(&settings.store.store_path_root_dir).join("config")
}

/// Which Java wrote the store's config files: 5.x marks `topics.json` with
/// `stateVersion`/`attributes`; a 4.9.8 file has neither. No file: 5.3.3.
pub fn detect_flavor(config_dir: &Path) -> JavaFlavor {
    let path = config_dir.join("topics.json");
    let text = [path.clone(), rmq_store::config_files::backup_path(&path)]
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .find(|b| !b.is_empty());
    let Some(text) = text else {
        return JavaFlavor::V5_3_3;
    };
    let Ok(v) = rmq_common::fastjson::parse_bytes(&text) else {
        return JavaFlavor::V5_3_3;
    };
    let has_state = v.get("dataVersion").and_then(|d| d.get("stateVersion")).is_some();
    let table = v.get("topicConfigTable").and_then(|t| t.as_object());
    let has_attrs = table.is_some_and(|t| t.iter().any(|(_, tc)| tc.get("attributes").is_some()));
    match (table, has_state || has_attrs) {
        (_, true) => JavaFlavor::V5_3_3,
        (Some(t), false) if !t.is_empty() => JavaFlavor::V4_9_8,
        // A 4.9.8 file always has topics; an empty table says nothing.
        _ => JavaFlavor::V5_3_3,
    }
}

/// Logs where a file came from when it was not the file itself.
fn note_loaded<T>(loaded: &Loaded<T>, name: &str, dir: &Path) {
    if loaded.from == LoadedFrom::Backup {
        let why = loaded.main_error.as_ref().map(|e| e.to_string()).unwrap_or_else(|| "missing or empty".into());
        warn!(file = name, dir = %dir.display(), reason = %why, "loaded the .bak copy");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// `DataVersion.nextVersion(stateVersion)` (5.x) / `nextVersion()` (4.9.8).
fn next_version(dv: &mut DataVersion, flavor: JavaFlavor, state_version: &AtomicI64) {
    dv.timestamp = now_ms();
    dv.counter += 1;
    if flavor == JavaFlavor::V5_3_3 {
        dv.state_version = state_version.load(Ordering::Relaxed);
    }
}

/// Keys of a `ConcurrentHashMap<String, _>` created with `initial`, in its
/// iteration order (bucket, then insertion). Exact while the table never resized
/// (e.g. up to 1536 topics in the 1024 map); beyond, Java's split may reorder a bin.
fn chm_order<V>(m: &indexmap::IndexMap<String, V>, initial: usize) -> Vec<&String> {
    let cap = java::concurrent_hashmap_capacity(initial, m.len());
    java::hashmap_order(m.keys(), cap)
}

/// Integer keys as a `ConcurrentHashMap<Integer, _>` created with `initial` iterates them.
fn chm_int_order(keys: &[i32], initial: usize) -> Vec<i32> {
    let cap = java::concurrent_hashmap_capacity(initial, keys.len()) as u32;
    let mut v: Vec<(u32, usize, i32)> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let h = k as u32;
            ((h ^ (h >> 16)) & (cap - 1), i, k)
        })
        .collect();
    v.sort_by_key(|(b, i, _)| (*b, *i));
    v.into_iter().map(|(_, _, k)| k).collect()
}
