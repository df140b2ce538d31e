//! `ConsumerOffsetManager` (`consumerOffset.json`, keyed `topic@group`) and the
//! delay-level offsets of `ScheduleMessageService` (`delayOffset.json`).

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use indexmap::IndexMap;
use parking_lot::{Mutex, RwLock};
use rmq_common::fastjson::Object;
use rmq_store::config_files::{self, ConfigFile, ConsumerOffsetFile, DataVersion, DelayOffsetFile, JavaFlavor, Layout};
use tracing::warn;

use super::file_slot::ConfigFileSlot;
use super::{chm_int_order, chm_order, next_version, note_loaded, MetaError};
use crate::config::BrokerConfig;

/// `offsetTable = new ConcurrentHashMap<>(512)`.
const TABLE_INITIAL: usize = 512;
/// Per-key queue maps (`new ConcurrentHashMap<>(32)`), and the delay table.
const QUEUE_MAP_INITIAL: usize = 32;

/// `topic@group`.
fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

/// `topicAtGroup.split("@")` when it has exactly two parts (Java skips other keys).
fn split_key(k: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = k.split('@').collect();
    // Java's split drops trailing empty parts: "t@g@" is still two parts.
    let n = parts.iter().rposition(|p| !p.is_empty()).map_or(0, |i| i + 1);
    (n == 2).then(|| (parts[0], parts[1]))
}

type QueueOffsets = IndexMap<i32, i64>;

struct State {
    table: IndexMap<String, QueueOffsets>,
    data_version: Option<DataVersion>,
    extra: Object,
}

pub struct ConsumerOffsetManager {
    state: RwLock<State>,
    /// 5.x `resetOffsetTable`: offsets an admin reset, served before the committed ones.
    reset: Mutex<IndexMap<String, QueueOffsets>>,
    /// 5.x `pullOffsetTable`: the last pulled offsets (consume stats' "inflight").
    pull: Mutex<IndexMap<String, QueueOffsets>>,
    file: ConfigFileSlot,
    version_step: i64,
    use_server_side_reset_offset: bool,
    version_counter: AtomicU64,
    state_version: Arc<AtomicI64>,
}

impl ConsumerOffsetManager {
    pub fn load(
        config_dir: &Path,
        broker: &BrokerConfig,
        flavor: JavaFlavor,
        state_version: Arc<AtomicI64>,
    ) -> Result<Self, MetaError> {
        let loaded = config_files::load_in::<ConsumerOffsetFile>(config_dir)?;
        note_loaded(&loaded, "consumerOffset.json", config_dir);
        let file = loaded.value;
        // 5.x writes a dataVersion even for a file that had none (Java's fresh `new DataVersion()`).
        let data_version = match (file.data_version, flavor) {
            (None, JavaFlavor::V5_3_3) => Some(DataVersion::now()),
            (dv, _) => dv,
        };
        Ok(ConsumerOffsetManager {
            state: RwLock::new(State { table: file.offset_table, data_version, extra: file.extra }),
            reset: Mutex::new(IndexMap::new()),
            pull: Mutex::new(IndexMap::new()),
            file: ConfigFileSlot::new(config_dir.join(ConsumerOffsetFile::FILE_NAME), flavor, loaded.layout),
            version_step: broker.consumer_offset_update_version_step.max(1),
            use_server_side_reset_offset: broker.use_server_side_reset_offset,
            version_counter: AtomicU64::new(0),
            state_version,
        })
    }

    pub fn is_dirty(&self) -> bool {
        self.file.is_dirty()
    }

    /// `queryOffset`: the next offset to consume, -1 when none was committed. A 5.x
    /// server-side reset for the queue wins.
    pub fn query(&self, group: &str, topic: &str, queue: i32) -> i64 {
        let k = key(topic, group);
        if self.file.flavor == JavaFlavor::V5_3_3 && self.use_server_side_reset_offset {
            if let Some(o) = self.reset.lock().get(&k).and_then(|m| m.get(&queue)) {
                return *o;
            }
        }
        self.state.read().table.get(&k).and_then(|m| m.get(&queue)).copied().unwrap_or(-1)
    }

    /// `commitOffset`. 5.x bumps `dataVersion` every `consumerOffsetUpdateVersionStep` commits.
    pub fn commit(&self, client_host: &str, group: &str, topic: &str, queue: i32, offset: i64) {
        let k = key(topic, group);
        let mut s = self.state.write();
        let old = s.table.entry(k.clone()).or_default().insert(queue, offset);
        if old.is_some_and(|o| offset < o) {
            warn!(client_host, key = %k, queue, offset, stored = old, "consumer offset moved backwards");
        }
        let n = self.version_counter.fetch_add(1, Ordering::Relaxed) + 1;
        if self.file.flavor == JavaFlavor::V5_3_3 && n.is_multiple_of(self.version_step as u64) {
            let dv = s.data_version.get_or_insert_with(DataVersion::now);
            next_version(dv, self.file.flavor, &self.state_version);
        }
        self.file.mark_dirty();
    }

    /// `commitPullOffset` (5.x).
    pub fn commit_pull(&self, group: &str, topic: &str, queue: i32, offset: i64) {
        self.pull.lock().entry(key(topic, group)).or_default().insert(queue, offset);
    }

    /// `queryPullOffset`: the last pulled offset, else the committed one.
    pub fn query_pull(&self, group: &str, topic: &str, queue: i32) -> i64 {
        if let Some(o) = self.pull.lock().get(&key(topic, group)).and_then(|m| m.get(&queue)) {
            return *o;
        }
        self.query(group, topic, queue)
    }

    pub fn clear_pull(&self, group: &str, topic: &str) {
        self.pull.lock().shift_remove(&key(topic, group));
    }

    /// `assignResetOffset` (5.x): served by [`query`](Self::query) until erased, and
    /// written into the committed table too.
    pub fn assign_reset(&self, topic: &str, group: &str, queue: i32, offset: i64) {
        if topic.is_empty() || group.is_empty() || queue < 0 || offset < 0 {
            warn!(topic, group, queue, offset, "illegal reset offset ignored");
            return;
        }
        let k = key(topic, group);
        self.reset.lock().entry(k.clone()).or_default().insert(queue, offset);
        self.state.write().table.entry(k).or_default().insert(queue, offset);
        self.file.mark_dirty();
    }

    pub fn has_reset(&self, topic: &str, group: &str, queue: i32) -> bool {
        self.reset.lock().get(&key(topic, group)).is_some_and(|m| m.contains_key(&queue))
    }

    /// `queryThenEraseResetOffset`.
    pub fn take_reset(&self, topic: &str, group: &str, queue: i32) -> Option<i64> {
        self.reset.lock().get_mut(&key(topic, group)).and_then(|m| m.shift_remove(&queue))
    }

    /// Offsets of a `topic@group`, in Java's per-queue map order.
    pub fn offsets_of(&self, group: &str, topic: &str) -> Option<Vec<(i32, i64)>> {
        let s = self.state.read();
        let m = s.table.get(&key(topic, group))?;
        Some(queue_order(m).into_iter().map(|q| (q, m[&q])).collect())
    }

    /// Every (topic, queue, offset) committed by `group`.
    pub fn offsets_of_group(&self, group: &str) -> Vec<(String, i32, i64)> {
        let s = self.state.read();
        let mut out = Vec::new();
        for k in chm_order(&s.table, TABLE_INITIAL) {
            if let Some((t, g)) = split_key(k) {
                if g == group {
                    let m = &s.table[k];
                    out.extend(queue_order(m).into_iter().map(|q| (t.to_string(), q, m[&q])));
                }
            }
        }
        out
    }

    /// `whichGroupByTopic`: groups with offsets on `topic` (table order).
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        self.matching(|t, _| t == topic, |_, g| g)
    }

    /// `whichTopicByConsumer`: topics `group` has offsets on (table order).
    pub fn topics_of_group(&self, group: &str) -> Vec<String> {
        self.matching(|_, g| g == group, |t, _| t)
    }

    fn matching(
        &self,
        keep: impl Fn(&str, &str) -> bool,
        pick: impl for<'a> Fn(&'a str, &'a str) -> &'a str,
    ) -> Vec<String> {
        let s = self.state.read();
        let mut out: Vec<String> = Vec::new();
        for k in chm_order(&s.table, TABLE_INITIAL) {
            if let Some((t, g)) = split_key(k).filter(|(t, g)| keep(t, g)) {
                let v = pick(t, g).to_string();
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// `removeOffset` (DELETE_SUBSCRIPTIONGROUP with cleanOffset): committed, reset
    /// and pull offsets of `group` go.
    pub fn remove_group(&self, group: &str) {
        let is_group = |k: &String| split_key(k).is_some_and(|(_, g)| g == group);
        let before = {
            let mut s = self.state.write();
            let n = s.table.len();
            s.table.retain(|k, _| !is_group(k));
            n != s.table.len()
        };
        self.reset.lock().retain(|k, _| !is_group(k));
        self.pull.lock().retain(|k, _| !is_group(k));
        if before {
            self.file.mark_dirty();
        }
    }

    /// `cleanOffsetByTopic` (DELETE_TOPIC_IN_BROKER).
    pub fn remove_topic(&self, topic: &str) {
        let mut s = self.state.write();
        let n = s.table.len();
        s.table.retain(|k, _| split_key(k).is_none_or(|(t, _)| t != topic));
        if n != s.table.len() {
            self.file.mark_dirty();
        }
    }

    /// `cloneOffset`.
    pub fn clone_offset(&self, src_group: &str, dest_group: &str, topic: &str) {
        let mut s = self.state.write();
        if let Some(m) = s.table.get(&key(topic, src_group)).cloned() {
            s.table.insert(key(topic, dest_group), m);
            self.file.mark_dirty();
        }
    }

    /// `SlaveSynchronize.syncConsumerOffset`: the master's entries replace ours key by
    /// key (`putAll`; keys only we have stay); 5.x also takes the master's `dataVersion`.
    pub fn put_all_from_master(&self, file: ConsumerOffsetFile) {
        let mut s = self.state.write();
        for (k, queues) in file.offset_table {
            s.table.insert(k, queues);
        }
        if self.file.flavor == JavaFlavor::V5_3_3 && file.data_version.is_some() {
            s.data_version = file.data_version;
        }
        self.file.mark_dirty();
    }

    pub fn data_version(&self) -> Option<DataVersion> {
        self.state.read().data_version.clone()
    }

    /// The file content Java would write now.
    pub fn to_file(&self) -> ConsumerOffsetFile {
        let s = self.state.read();
        let table = chm_order(&s.table, TABLE_INITIAL)
            .into_iter()
            .map(|k| {
                let m = &s.table[k];
                (k.clone(), queue_order(m).into_iter().map(|q| (q, m[&q])).collect())
            })
            .collect();
        ConsumerOffsetFile { data_version: s.data_version.clone(), offset_table: table, extra: s.extra.clone() }
    }

    /// `encode()`: compact JSON (GET_ALL_CONSUMER_OFFSET).
    pub fn encode(&self) -> String {
        self.to_file().to_json(self.file.flavor, Layout::Compact)
    }

    /// Writes `consumerOffset.json` (blocking).
    pub fn persist(&self) -> Result<(), MetaError> {
        self.file.persist(|| self.to_file())
    }
}

fn queue_order(m: &QueueOffsets) -> Vec<i32> {
    let keys: Vec<i32> = m.keys().copied().collect();
    chm_int_order(&keys, QUEUE_MAP_INITIAL)
}

struct DelayState {
    table: IndexMap<i32, i64>,
    data_version: Option<DataVersion>,
    extra: Object,
}

/// `delayOffset.json`: delay level (SCHEDULE_TOPIC_XXXX queue id + 1) → next
/// consume-queue offset to deliver.
pub struct DelayOffsetManager {
    state: RwLock<DelayState>,
    file: ConfigFileSlot,
    version_step: i64,
    version_counter: AtomicU64,
    state_version: Arc<AtomicI64>,
}

impl DelayOffsetManager {
    pub fn load(
        config_dir: &Path,
        broker: &BrokerConfig,
        flavor: JavaFlavor,
        state_version: Arc<AtomicI64>,
    ) -> Result<Self, MetaError> {
        let loaded = config_files::load_in::<DelayOffsetFile>(config_dir)?;
        note_loaded(&loaded, "delayOffset.json", config_dir);
        let file = loaded.value;
        let data_version = match (file.data_version, flavor) {
            (None, JavaFlavor::V5_3_3) => Some(DataVersion::now()),
            (dv, _) => dv,
        };
        Ok(DelayOffsetManager {
            state: RwLock::new(DelayState { table: file.offset_table, data_version, extra: file.extra }),
            file: ConfigFileSlot::new(config_dir.join(DelayOffsetFile::FILE_NAME), flavor, loaded.layout),
            version_step: broker.delay_offset_update_version_step.max(1),
            version_counter: AtomicU64::new(0),
            state_version,
        })
    }

    pub fn is_dirty(&self) -> bool {
        self.file.is_dirty()
    }

    /// The level's offset; -1 when none is stored.
    pub fn get(&self, level: i32) -> i64 {
        self.state.read().table.get(&level).copied().unwrap_or(-1)
    }

    /// `updateOffset`; 5.x bumps `dataVersion` every `delayOffsetUpdateVersionStep` updates.
    pub fn set(&self, level: i32, offset: i64) {
        let mut s = self.state.write();
        s.table.insert(level, offset);
        let n = self.version_counter.fetch_add(1, Ordering::Relaxed) + 1;
        if self.file.flavor == JavaFlavor::V5_3_3 && n.is_multiple_of(self.version_step as u64) {
            let dv = s.data_version.get_or_insert_with(DataVersion::now);
            next_version(dv, self.file.flavor, &self.state_version);
        }
        self.file.mark_dirty();
    }

    /// (level, offset) in Java's table order.
    pub fn all(&self) -> Vec<(i32, i64)> {
        let s = self.state.read();
        let keys: Vec<i32> = s.table.keys().copied().collect();
        chm_int_order(&keys, QUEUE_MAP_INITIAL).into_iter().map(|l| (l, s.table[&l])).collect()
    }

    /// Replaces the table with what a master answered (slave sync of GET_ALL_DELAY_OFFSET).
    /// Not marked dirty: the slave has already written the master's text to the file.
    pub fn replace(&self, file: DelayOffsetFile) {
        let mut s = self.state.write();
        s.table = file.offset_table;
        if file.data_version.is_some() {
            s.data_version = file.data_version;
        }
    }

    pub fn data_version(&self) -> Option<DataVersion> {
        self.state.read().data_version.clone()
    }

    pub fn to_file(&self) -> DelayOffsetFile {
        let table = self.all().into_iter().collect();
        let s = self.state.read();
        DelayOffsetFile { data_version: s.data_version.clone(), offset_table: table, extra: s.extra.clone() }
    }

    /// `encode()`: compact JSON (GET_ALL_DELAY_OFFSET).
    pub fn encode(&self) -> String {
        self.to_file().to_json(self.file.flavor, Layout::Compact)
    }

    /// Writes `delayOffset.json` (blocking), keeping the layout the file had.
    pub fn persist(&self) -> Result<(), MetaError> {
        self.file.persist(|| self.to_file())
    }
}
