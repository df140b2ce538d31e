//! `TopicConfigManager`: the topic table (`topics.json`), the system topics a
//! broker creates at start, and the auto-creation rules of the send path.

use std::path::Path;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use indexmap::IndexMap;
use parking_lot::RwLock;
use rmq_common::fastjson::Object;
use rmq_remoting::protocol::body as wire;
use rmq_store::config_files::{self, DataVersion, JavaFlavor, TopicConfig, TopicsFile};
use tracing::{info, warn};

use super::file_slot::ConfigFileSlot;
use super::system::*;
use super::{chm_order, next_version, note_loaded, MetaError};
use crate::config::{BrokerConfig, BrokerSettings};

use super::attributes::alter_topic_attributes;
pub use super::attributes::AttributeError;

/// `topicConfigTable = new ConcurrentHashMap<>(1024)`.
const TABLE_INITIAL: usize = 1024;

/// The broker settings topic creation reads. Java reads them live from
/// `BrokerConfig`; the core refreshes them with [`TopicConfigManager::set_policy`]
/// after UPDATE_BROKER_CONFIG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPolicy {
    pub auto_create_topic_enable: bool,
}

/// What a create call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicCreation {
    /// The topic was there already.
    Existing(TopicConfig),
    /// Newly created: the caller registers it with the name servers (Java's
    /// `registerBrokerData`) and persists.
    Created(TopicConfig),
}

impl TopicCreation {
    pub fn config(&self) -> &TopicConfig {
        match self {
            TopicCreation::Existing(t) | TopicCreation::Created(t) => t,
        }
    }

    pub fn into_config(self) -> TopicConfig {
        match self {
            TopicCreation::Existing(t) | TopicCreation::Created(t) => t,
        }
    }

    pub fn is_created(&self) -> bool {
        matches!(self, TopicCreation::Created(_))
    }
}

struct State {
    table: IndexMap<String, TopicConfig>,
    data_version: DataVersion,
    /// Unknown top-level keys of the file, written back.
    extra: Object,
}

pub struct TopicConfigManager {
    state: RwLock<State>,
    file: ConfigFileSlot,
    policy: RwLock<TopicPolicy>,
    system: SystemTopics,
    state_version: Arc<AtomicI64>,
}

/// `new TopicConfig(name)` with queue counts and perm set.
fn tc(name: &str, read: i32, write: i32, perm: i32) -> TopicConfig {
    TopicConfig::new(name, read, write, perm)
}

impl TopicConfigManager {
    /// Loads `topics.json` from `config_dir` after creating Java's start-up system
    /// topics (the file's entries win over them). 5.x's timer topic is created as
    /// with Java's default `timerWheelEnable=true`; the broker uses [`Meta::load`].
    ///
    /// [`Meta::load`]: super::Meta::load
    pub fn load(config_dir: &Path, broker: &BrokerConfig, flavor: JavaFlavor) -> Result<Self, MetaError> {
        Self::load_inner(config_dir, broker, true, flavor, Arc::new(AtomicI64::new(0)))
    }

    pub(super) fn load_shared(
        config_dir: &Path,
        settings: &BrokerSettings,
        flavor: JavaFlavor,
        state_version: Arc<AtomicI64>,
    ) -> Result<Self, MetaError> {
        Self::load_inner(config_dir, &settings.broker, settings.store.timer_wheel_enable, flavor, state_version)
    }

    fn load_inner(
        config_dir: &Path,
        broker: &BrokerConfig,
        timer_wheel_enable: bool,
        flavor: JavaFlavor,
        state_version: Arc<AtomicI64>,
    ) -> Result<Self, MetaError> {
        let v5 = flavor == JavaFlavor::V5_3_3;
        let system = SystemTopics::new(v5);
        let mut table = IndexMap::new();
        for t in initial_topics(broker, timer_wheel_enable, v5) {
            system.add(&t.topic_name);
            table.insert(t.topic_name.clone(), t);
        }
        let loaded = config_files::load_in::<TopicsFile>(config_dir)?;
        note_loaded(&loaded, "topics.json", config_dir);
        let file = loaded.value;
        // Java: `topicConfigTable.putAll(file)`: existing keys keep their slot.
        for (name, t) in file.topic_config_table {
            table.insert(name, t);
        }
        let data_version = file.data_version.unwrap_or_else(DataVersion::now);
        Ok(TopicConfigManager {
            state: RwLock::new(State { table, data_version, extra: file.extra }),
            file: ConfigFileSlot::new(config_dir.join("topics.json"), flavor, loaded.layout),
            policy: RwLock::new(TopicPolicy { auto_create_topic_enable: broker.auto_create_topic_enable }),
            system,
            state_version,
        })
    }

    pub fn flavor(&self) -> JavaFlavor {
        self.file.flavor
    }

    pub fn set_policy(&self, policy: TopicPolicy) {
        *self.policy.write() = policy;
    }

    /// `TopicValidator.isSystemTopic` for this broker.
    pub fn is_system_topic(&self, topic: &str) -> bool {
        self.system.contains(topic)
    }

    /// The system topic set in Java's `HashSet` order (GET_SYSTEM_TOPIC_LIST_FROM_BROKER).
    pub fn system_topics(&self) -> Vec<String> {
        self.system.java_order()
    }

    /// `selectTopicConfig`.
    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.state.read().table.get(topic).cloned()
    }

    /// Reads a topic's config in place (the send path needs a few numbers,
    /// not a copy of its strings and attribute maps).
    pub fn with<R>(&self, topic: &str, f: impl FnOnce(&TopicConfig) -> R) -> Option<R> {
        self.state.read().table.get(topic).map(f)
    }

    pub fn contains(&self, topic: &str) -> bool {
        self.state.read().table.contains_key(topic)
    }

    pub fn is_order_topic(&self, topic: &str) -> bool {
        self.state.read().table.get(topic).is_some_and(|t| t.order)
    }

    /// Every topic, in the order Java's table iterates.
    pub fn all(&self) -> Vec<TopicConfig> {
        let s = self.state.read();
        chm_order(&s.table, TABLE_INITIAL).into_iter().map(|k| s.table[k].clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.state.read().table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn data_version(&self) -> DataVersion {
        self.state.read().data_version.clone()
    }

    /// `updateDataVersion()` (e.g. after `brokerPermission` changed: name servers must re-read).
    pub fn bump_data_version(&self) {
        let mut s = self.state.write();
        next_version(&mut s.data_version, self.file.flavor, &self.state_version);
        self.file.mark_dirty();
    }

    /// True when something changed since the last [`persist`](Self::persist).
    pub fn is_dirty(&self) -> bool {
        self.file.is_dirty()
    }

    fn changed(&self, s: &mut State) {
        next_version(&mut s.data_version, self.file.flavor, &self.state_version);
        self.file.mark_dirty();
    }

    /// `createTopicInSendMessageMethod`: a send to an unknown topic creates it from
    /// `default_topic` (normally TBW102) when that one carries the inherit bit: perm
    /// inherited minus the inherit bit, queues = min(requested, default's write
    /// queues), the client's sys flag. `None` when nothing could be created.
    pub fn create_topic_in_send(
        &self,
        topic: &str,
        default_topic: &str,
        queue_nums: i32,
        topic_sys_flag: i32,
    ) -> Option<TopicConfig> {
        self.create_topic_in_send_ex(topic, default_topic, queue_nums, topic_sys_flag).map(TopicCreation::into_config)
    }

    /// [`create_topic_in_send`](Self::create_topic_in_send), telling whether it was created.
    pub fn create_topic_in_send_ex(
        &self,
        topic: &str,
        default_topic: &str,
        queue_nums: i32,
        topic_sys_flag: i32,
    ) -> Option<TopicCreation> {
        let auto_create = self.policy.read().auto_create_topic_enable;
        let mut s = self.state.write();
        if let Some(t) = s.table.get(topic) {
            return Some(TopicCreation::Existing(t.clone()));
        }
        let Some(default) = s.table.get_mut(default_topic) else {
            warn!(topic, default_topic, "create topic failed: the default topic does not exist");
            return None;
        };
        if default_topic == AUTO_CREATE_TOPIC_KEY_TOPIC && !auto_create {
            // Java strips the inherit bit from the stored TBW102 itself.
            default.perm = PERM_READ | PERM_WRITE;
        }
        if default.perm & PERM_INHERIT == 0 {
            warn!(
                topic,
                default_topic,
                perm = default.perm,
                "create topic failed: the default topic has no inherit perm"
            );
            return None;
        }
        let queues = queue_nums.min(default.write_queue_nums).max(0);
        let mut t = tc(topic, queues, queues, default.perm & !PERM_INHERIT);
        t.topic_sys_flag = topic_sys_flag;
        t.topic_filter_type = default.topic_filter_type.clone();
        info!(topic, default_topic, queues, perm = t.perm, "created topic from the default topic");
        s.table.insert(topic.to_string(), t.clone());
        self.changed(&mut s);
        Some(TopicCreation::Created(t))
    }

    /// `createTopicIfAbsent`: `topic` as given unless one of that name exists.
    pub fn create_topic_if_absent(&self, topic: TopicConfig) -> TopicCreation {
        let mut s = self.state.write();
        if let Some(t) = s.table.get(&topic.topic_name) {
            return TopicCreation::Existing(t.clone());
        }
        info!(topic = %topic.topic_name, "created topic");
        s.table.insert(topic.topic_name.clone(), topic.clone());
        self.changed(&mut s);
        TopicCreation::Created(topic)
    }

    /// `createTopicIfAbsent(new TopicConfig(topic, read, write, perm))`: the existing
    /// or the new config (system topics such as `RMQ_SYS_TRANS_HALF_TOPIC` on 4.9.8).
    pub fn create_system_topic_if_absent(&self, topic: &str, read: i32, write: i32, perm: i32) -> TopicConfig {
        self.create_topic_if_absent(tc(topic, read, write, perm)).into_config()
    }

    /// `createTopicInSendMessageBackMethod` (retry and DLQ topics): 5.x also
    /// switches an existing topic's `order` to `is_order`.
    pub fn create_topic_in_send_back(
        &self,
        topic: &str,
        queue_nums: i32,
        perm: i32,
        is_order: bool,
        topic_sys_flag: i32,
    ) -> TopicCreation {
        let mut s = self.state.write();
        if let Some(t) = s.table.get_mut(topic) {
            if self.file.flavor == JavaFlavor::V5_3_3 && t.order != is_order {
                t.order = is_order;
                let t = t.clone();
                self.changed(&mut s);
                return TopicCreation::Existing(t);
            }
            return TopicCreation::Existing(t.clone());
        }
        let mut t = tc(topic, queue_nums, queue_nums, perm);
        t.topic_sys_flag = topic_sys_flag;
        if self.file.flavor == JavaFlavor::V5_3_3 {
            t.order = is_order;
        }
        s.table.insert(topic.to_string(), t.clone());
        self.changed(&mut s);
        TopicCreation::Created(t)
    }

    /// `updateTopicConfig` without attribute rules: puts `topic` as given.
    pub fn update(&self, topic: TopicConfig) {
        let mut s = self.state.write();
        match s.table.insert(topic.topic_name.clone(), topic.clone()) {
            Some(old) => info!(old = ?old, new = ?topic, "updated topic config"),
            None => info!(topic = ?topic, "created topic config"),
        }
        self.changed(&mut s);
    }

    /// 5.x `updateTopicConfig`: `topic.attributes` holds the requested `+k=v`/`-k`
    /// modification, applied to the current attributes (`AttributeUtil`) before the
    /// put. Refused changes leave the table as it was.
    pub fn update_with_attributes(&self, mut topic: TopicConfig) -> Result<(), MetaError> {
        let mut s = self.state.write();
        let current = s.table.get(&topic.topic_name).map(|t| t.attributes.clone());
        let create = current.is_none();
        topic.attributes = alter_topic_attributes(create, &current.unwrap_or_default(), &topic.attributes)?;
        s.table.insert(topic.topic_name.clone(), topic);
        self.changed(&mut s);
        Ok(())
    }

    /// `deleteTopicConfig`: true if it existed.
    pub fn delete(&self, topic: &str) -> bool {
        let mut s = self.state.write();
        match s.table.shift_remove(topic) {
            Some(old) => {
                info!(topic = ?old, "deleted topic config");
                self.changed(&mut s);
                true
            }
            None => {
                warn!(topic, "delete topic config failed: no such topic");
                false
            }
        }
    }

    /// `SlaveSynchronize.syncTopicConfig`: the master's table replaces ours and its
    /// `dataVersion` becomes ours. 5.x then deletes every topic it kept and re-creates
    /// each of the master's one by one, bumping the version at every step, so a 5.x
    /// slave's version never equals its master's (it re-syncs every time).
    pub fn replace_from_master(&self, table: IndexMap<String, TopicConfig>, data_version: DataVersion) {
        let mut s = self.state.write();
        let steps = match self.file.flavor {
            JavaFlavor::V4_9_8 => 0,
            JavaFlavor::V5_3_3 => s.table.keys().filter(|k| table.contains_key(*k)).count() + table.len(),
        };
        s.table = table;
        s.data_version = data_version;
        for _ in 0..steps {
            next_version(&mut s.data_version, self.file.flavor, &self.state_version);
        }
        self.file.mark_dirty();
    }

    /// `updateOrderTopicConfig`: topics named in the name server's ORDER_TOPIC_CONFIG
    /// become ordered. True if any changed.
    pub fn update_order_topics<'a>(&self, order_topics: impl IntoIterator<Item = &'a str>) -> bool {
        let mut s = self.state.write();
        let mut changed = false;
        for name in order_topics {
            if let Some(t) = s.table.get_mut(name).filter(|t| !t.order) {
                t.order = true;
                changed = true;
            }
        }
        if changed {
            self.changed(&mut s);
        }
        changed
    }

    /// The wire form of the table (REGISTER_BROKER body, GET_ALL_TOPIC_CONFIG), in
    /// Java's iteration order; 4.9.8 brokers send no `attributes`/`stateVersion`.
    pub fn serialize_wrapper(&self) -> wire::TopicConfigSerializeWrapper {
        let s = self.state.read();
        let v5 = self.file.flavor == JavaFlavor::V5_3_3;
        let table =
            chm_order(&s.table, TABLE_INITIAL).into_iter().map(|k| (k.clone(), to_wire(&s.table[k], v5))).collect();
        let dv = &s.data_version;
        let data_version = wire::DataVersion {
            counter: dv.counter,
            state_version: (v5 || dv.state_version != 0).then_some(dv.state_version),
            timestamp: dv.timestamp,
        };
        wire::TopicConfigSerializeWrapper { data_version, topic_config_table: table }
    }

    /// The file content Java would write now.
    pub fn to_file(&self) -> TopicsFile {
        let s = self.state.read();
        let table = chm_order(&s.table, TABLE_INITIAL).into_iter().map(|k| (k.clone(), s.table[k].clone())).collect();
        TopicsFile { data_version: Some(s.data_version.clone()), topic_config_table: table, extra: s.extra.clone() }
    }

    /// Writes `topics.json` (blocking; `.bak` kept like Java).
    pub fn persist(&self) -> Result<(), MetaError> {
        self.file.persist(|| self.to_file())
    }
}

/// `TopicConfig` as the remoting body carries it.
pub fn to_wire(t: &TopicConfig, v5: bool) -> wire::TopicConfig {
    wire::TopicConfig {
        attributes: (v5 || !t.attributes.is_empty()).then(|| t.attributes.clone()),
        order: t.order,
        perm: t.perm,
        read_queue_nums: t.read_queue_nums,
        topic_filter_type: t.topic_filter_type.clone(),
        topic_name: t.topic_name.clone(),
        topic_sys_flag: t.topic_sys_flag,
        write_queue_nums: t.write_queue_nums,
    }
}

/// The topics `TopicConfigManager.init()` creates, in Java's order.
pub fn initial_topics(broker: &BrokerConfig, timer_wheel_enable: bool, v5: bool) -> Vec<TopicConfig> {
    let mut v = vec![tc(SELF_TEST_TOPIC, 1, 1, 6)];
    if broker.auto_create_topic_enable {
        let n = broker.default_topic_queue_nums;
        v.push(tc(AUTO_CREATE_TOPIC_KEY_TOPIC, n, n, PERM_INHERIT | PERM_READ | PERM_WRITE));
    }
    v.push(tc(BENCHMARK_TOPIC, 1024, 1024, 6));
    let rw_if = |on: bool| PERM_INHERIT | if on { PERM_READ | PERM_WRITE } else { 0 };
    v.push(tc(&broker.broker_cluster_name, 16, 16, rw_if(broker.cluster_topic_enable)));
    v.push(tc(&broker.broker_name, 1, 1, rw_if(broker.broker_topic_enable)));
    v.push(tc(OFFSET_MOVED_EVENT, 1, 1, 6));
    v.push(tc(SCHEDULE_TOPIC, SCHEDULE_TOPIC_QUEUE_NUM, SCHEDULE_TOPIC_QUEUE_NUM, 6));
    if broker.trace_topic_enable {
        v.push(tc(&broker.msg_trace_topic_name, 1, 1, 6));
    }
    v.push(tc(&format!("{}_{REPLY_TOPIC_POSTFIX}", broker.broker_cluster_name), 1, 1, 6));
    if v5 {
        let n = broker.revive_queue_num;
        v.push(tc(&revive_topic(&broker.broker_cluster_name), n, n, 6));
        v.push(tc(&format!("{SYNC_BROKER_MEMBER_GROUP_PREFIX}{}", broker.broker_name), 1, 1, PERM_INHERIT));
        v.push(tc(TRANS_HALF_TOPIC, 1, 1, 6));
        v.push(tc(TRANS_OP_HALF_TOPIC, 1, 1, 6));
        if timer_wheel_enable {
            v.push(tc(TIMER_TOPIC, 1, 1, 6));
        }
    }
    v
}

/// `PermName.perm2String`: `RWX` with `-` for missing bits.
pub fn perm_to_string(perm: i32) -> String {
    let bit = |b: i32, c: char| if perm & b != 0 { c } else { '-' };
    [bit(PERM_READ, 'R'), bit(PERM_WRITE, 'W'), bit(PERM_INHERIT, 'X')].iter().collect()
}
