//! `SubscriptionGroupManager`: consumer group configs (`subscriptionGroup.json`),
//! the groups Java predefines, auto-creation, and 5.x forbidden bits.

use std::path::Path;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use indexmap::IndexMap;
use parking_lot::RwLock;
use rmq_common::fastjson::Object;
use rmq_store::config_files::{self, DataVersion, JavaFlavor, Layout, SubscriptionGroupConfig, SubscriptionGroupFile};
use tracing::info;

use super::attributes::alter_group_attributes;
use super::file_slot::ConfigFileSlot;
use super::system::*;
use super::{chm_order, next_version, note_loaded, MetaError};
use crate::config::BrokerConfig;

/// `subscriptionGroupTable = new ConcurrentHashMap<>(1024)`.
const TABLE_INITIAL: usize = 1024;
/// `forbiddenTable = new ConcurrentHashMap<>(4)`.
const FORBIDDEN_INITIAL: usize = 4;

struct State {
    table: IndexMap<String, SubscriptionGroupConfig>,
    forbidden: IndexMap<String, IndexMap<String, i32>>,
    data_version: DataVersion,
    extra: Object,
}

/// Settings group auto-creation reads (live `BrokerConfig` in Java).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPolicy {
    pub auto_create_subscription_group: bool,
    pub enable_create_sys_group: bool,
}

pub struct SubscriptionGroupManager {
    state: RwLock<State>,
    file: ConfigFileSlot,
    policy: RwLock<GroupPolicy>,
    state_version: Arc<AtomicI64>,
}

/// The groups `SubscriptionGroupManager.init()` puts first, in Java's order.
pub fn initial_groups(v5: bool) -> Vec<SubscriptionGroupConfig> {
    let plain = [TOOLS_CONSUMER_GROUP, FILTERSRV_CONSUMER_GROUP, SELF_TEST_CONSUMER_GROUP];
    let mut broadcast =
        vec![ONS_HTTP_PROXY_GROUP, CID_ONSAPI_PULL_GROUP, CID_ONSAPI_PERMISSION_GROUP, CID_ONSAPI_OWNER_GROUP];
    if v5 {
        broadcast.push(CID_SYS_RMQ_TRANS);
    }
    // `consumeBroadcastEnable` defaults to true anyway; Java sets it again for the latter.
    plain.iter().chain(broadcast.iter()).map(|g| SubscriptionGroupConfig::new(g)).collect()
}

impl SubscriptionGroupManager {
    pub fn load(
        config_dir: &Path,
        broker: &BrokerConfig,
        flavor: JavaFlavor,
        state_version: Arc<AtomicI64>,
    ) -> Result<Self, MetaError> {
        let mut table = IndexMap::new();
        for g in initial_groups(flavor == JavaFlavor::V5_3_3) {
            table.insert(g.group_name.clone(), g);
        }
        let loaded = config_files::load_in::<SubscriptionGroupFile>(config_dir)?;
        note_loaded(&loaded, "subscriptionGroup.json", config_dir);
        let file = loaded.value;
        for (name, g) in file.subscription_group_table {
            table.insert(name, g);
        }
        let state = State {
            table,
            forbidden: file.forbidden_table,
            data_version: file.data_version.unwrap_or_else(DataVersion::now),
            extra: file.extra,
        };
        Ok(SubscriptionGroupManager {
            state: RwLock::new(state),
            file: ConfigFileSlot::new(config_dir.join("subscriptionGroup.json"), flavor, loaded.layout),
            policy: RwLock::new(GroupPolicy {
                auto_create_subscription_group: broker.auto_create_subscription_group,
                enable_create_sys_group: broker.enable_create_sys_group,
            }),
            state_version,
        })
    }

    pub fn set_policy(&self, policy: GroupPolicy) {
        *self.policy.write() = policy;
    }

    fn changed(&self, s: &mut State) {
        next_version(&mut s.data_version, self.file.flavor, &self.state_version);
        self.file.mark_dirty();
    }

    pub fn is_dirty(&self) -> bool {
        self.file.is_dirty()
    }

    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.state.read().table.get(group).cloned()
    }

    pub fn contains(&self, group: &str) -> bool {
        !group.trim().is_empty() && self.state.read().table.contains_key(group)
    }

    /// `findSubscriptionGroupConfig`: the group's config, auto-created with Java's
    /// defaults when `autoCreateSubscriptionGroup` (or a `CID_RMQ_SYS_` group with
    /// `enableCreateSysGroup`) allows; 5.x refuses names over 255 characters or with
    /// characters outside `[%|a-zA-Z0-9_-]`.
    pub fn find_or_create(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        if let Some(g) = self.get(group) {
            return Some(g);
        }
        let policy = self.policy.read().clone();
        let v5 = self.file.flavor == JavaFlavor::V5_3_3;
        let sys = is_sys_consumer_group(group) && (!v5 || policy.enable_create_sys_group);
        if !(policy.auto_create_subscription_group || sys) {
            return None;
        }
        if v5 && (group.encode_utf16().count() > GROUP_MAX_LENGTH || is_topic_or_group_illegal(group)) {
            return None;
        }
        let mut s = self.state.write();
        let cfg = s.table.entry(group.to_string()).or_insert_with(|| {
            info!(group, "auto-created subscription group");
            SubscriptionGroupConfig::new(group)
        });
        let cfg = cfg.clone();
        // Java bumps the version even when a concurrent caller created it first.
        self.changed(&mut s);
        Some(cfg)
    }

    /// `updateSubscriptionGroupConfig`. 5.x validates attribute changes against
    /// `SubscriptionGroupAttributes.ALL`, which is empty: any `+k`/`-k` is refused
    /// there, and an empty map stays empty.
    pub fn update(&self, config: SubscriptionGroupConfig) {
        let mut s = self.state.write();
        match s.table.insert(config.group_name.clone(), config.clone()) {
            Some(old) => info!(old = ?old.group_name, "updated subscription group config"),
            None => info!(group = %config.group_name, "created subscription group"),
        }
        self.changed(&mut s);
    }

    /// 5.x `updateSubscriptionGroupConfig` with the attribute rules: `config.attributes`
    /// holds the requested `+k`/`-k` change. 4.9.8 puts the config as given.
    pub fn update_with_attributes(&self, mut config: SubscriptionGroupConfig) -> Result<(), MetaError> {
        if self.file.flavor == JavaFlavor::V5_3_3 {
            let current = self.get(&config.group_name).map(|g| g.attributes);
            let create = current.is_none();
            config.attributes = alter_group_attributes(create, &current.unwrap_or_default(), &config.attributes)?;
        }
        self.update(config);
        Ok(())
    }

    /// `disableConsume`: a group that cannot consume any more.
    pub fn disable_consume(&self, group: &str) {
        let mut s = self.state.write();
        if let Some(g) = s.table.get_mut(group) {
            g.consume_enable = false;
            self.changed(&mut s);
        }
    }

    /// `deleteSubscriptionGroupConfig`: true if it existed (its forbidden bits go too).
    pub fn delete(&self, group: &str) -> bool {
        let mut s = self.state.write();
        s.forbidden.shift_remove(group);
        match s.table.shift_remove(group) {
            Some(_) => {
                info!(group, "deleted subscription group");
                self.changed(&mut s);
                true
            }
            None => false,
        }
    }

    /// `SlaveSynchronize.syncSubscriptionGroupConfig`: the master's table replaces ours
    /// and its `dataVersion` becomes ours. 5.x deletes every group it had (their
    /// forbidden bits too) and re-creates the master's one by one, a version bump per step.
    pub fn replace_from_master(&self, table: IndexMap<String, SubscriptionGroupConfig>, data_version: DataVersion) {
        let mut s = self.state.write();
        let mut steps = 0;
        if self.file.flavor == JavaFlavor::V5_3_3 {
            steps = s.table.keys().filter(|k| table.contains_key(*k)).count() + table.len();
            let old: Vec<String> = s.table.keys().cloned().collect();
            for g in old {
                s.forbidden.shift_remove(&g);
            }
        }
        s.table = table;
        s.data_version = data_version;
        for _ in 0..steps {
            next_version(&mut s.data_version, self.file.flavor, &self.state_version);
        }
        self.file.mark_dirty();
    }

    /// Every group in Java's table order.
    pub fn all(&self) -> Vec<SubscriptionGroupConfig> {
        let s = self.state.read();
        chm_order(&s.table, TABLE_INITIAL).into_iter().map(|k| s.table[k].clone()).collect()
    }

    pub fn data_version(&self) -> DataVersion {
        self.state.read().data_version.clone()
    }

    /// 5.x `getForbidden(group, topic)`: the forbidden permission bits (0 if none).
    pub fn forbidden(&self, group: &str, topic: &str) -> i32 {
        self.state.read().forbidden.get(group).and_then(|m| m.get(topic)).copied().unwrap_or(0).max(0)
    }

    /// 5.x `updateForbidden`: sets or clears bit `index`. Java's quirk kept: a value
    /// that drops to 0 removes the group's whole forbidden map.
    pub fn update_forbidden(&self, group: &str, topic: &str, index: u32, set: bool) {
        let bit = 1i32.wrapping_shl(index);
        let value = if set { self.forbidden(group, topic) | bit } else { self.forbidden(group, topic) & !bit };
        let mut s = self.state.write();
        if value <= 0 {
            s.forbidden.shift_remove(group);
            return;
        }
        s.forbidden.entry(group.to_string()).or_default().insert(topic.to_string(), value);
        self.changed(&mut s);
    }

    /// The file content Java would write now (also GET_ALL_SUBSCRIPTIONGROUP_CONFIG).
    pub fn to_file(&self) -> SubscriptionGroupFile {
        let s = self.state.read();
        let table = chm_order(&s.table, TABLE_INITIAL).into_iter().map(|k| (k.clone(), s.table[k].clone())).collect();
        let forbidden = chm_order(&s.forbidden, FORBIDDEN_INITIAL)
            .into_iter()
            .map(|g| {
                let inner = &s.forbidden[g];
                (g.clone(), chm_order(inner, 16).into_iter().map(|t| (t.clone(), inner[t])).collect())
            })
            .collect();
        SubscriptionGroupFile {
            data_version: Some(s.data_version.clone()),
            subscription_group_table: table,
            forbidden_table: forbidden,
            extra: s.extra.clone(),
        }
    }

    /// `encode()`: the compact JSON GET_ALL_SUBSCRIPTIONGROUP_CONFIG answers with.
    pub fn encode(&self) -> String {
        use rmq_store::config_files::ConfigFile;
        self.to_file().to_json(self.file.flavor, Layout::Compact)
    }

    /// Writes `subscriptionGroup.json` (blocking).
    pub fn persist(&self) -> Result<(), MetaError> {
        self.file.persist(|| self.to_file())
    }
}
