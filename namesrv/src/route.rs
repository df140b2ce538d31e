//! The route table: which brokers exist, which topics they serve, which are alive.
//!
//! Semantics follow Java's `RouteInfoManager` (5.3.3). Tables keep insertion
//! order and remember their high-water size so answers can list entries in the
//! order Java's hash tables would iterate them ([`Flavor`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indexmap::{IndexMap, IndexSet};
use rmq_common::java;
use rmq_remoting::protocol::body::{
    BrokerData, BrokerMemberGroup, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicConfigSerializeWrapper,
    TopicList, TopicRouteData,
};

/// `MixAll.MASTER_ID`.
pub const MASTER_ID: i64 = 0;
/// Default broker expiry (`DEFAULT_BROKER_CHANNEL_EXPIRED_TIME`).
pub const DEFAULT_BROKER_TIMEOUT: Duration = Duration::from_secs(120);
const PERM_WRITE: i32 = 0x2;
const PERM_READ: i32 = 0x4;
/// `TopicSysFlag` bits.
const FLAG_UNIT: i32 = 0x1;
const FLAG_UNIT_SUB: i32 = 0x2;

/// Whose hash-table layout to reproduce in list orders: 4.9.8 used `HashMap`s
/// sized 1024/128/32, 5.x uses `ConcurrentHashMap`s with the same hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    V4,
    V5,
}

impl Flavor {
    fn table_cap(self, initial: usize, high_water: usize) -> usize {
        match self {
            Flavor::V4 => java::sized_hashmap_capacity(initial, high_water),
            Flavor::V5 => java::concurrent_hashmap_capacity(initial, high_water),
        }
    }
    fn set_cap(self, len: usize) -> usize {
        match self {
            Flavor::V4 => java::hashmap_capacity(len),
            Flavor::V5 => java::concurrent_hashmap_capacity(0, len),
        }
    }
}

/// A broker address as the liveness table keys it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerAddrKey {
    pub cluster: String,
    pub addr: String,
}

#[derive(Debug, Clone)]
struct LiveInfo {
    last_update: Instant,
    timeout: Duration,
    data_version: DataVersion,
    /// Transport channel id the broker registered over.
    channel_id: u64,
    ha_server_addr: String,
}

#[derive(Debug, Clone)]
struct BrokerEntry {
    cluster: String,
    addrs: IndexMap<i64, String>,
    enable_acting_master: bool,
    zone_name: Option<String>,
}

/// What a REGISTER_BROKER call produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegisterResult {
    pub ha_server_addr: Option<String>,
    pub master_addr: Option<String>,
}

pub struct Registration<'a> {
    pub cluster: &'a str,
    pub broker_addr: &'a str,
    pub broker_name: &'a str,
    pub broker_id: i64,
    pub ha_server_addr: &'a str,
    pub zone_name: Option<String>,
    pub timeout: Option<Duration>,
    pub enable_acting_master: Option<bool>,
    pub topics: TopicConfigSerializeWrapper,
    pub filter_servers: Vec<String>,
    pub channel_id: u64,
}

#[derive(Default)]
pub struct RouteTable {
    topic_queue: IndexMap<String, IndexMap<String, QueueData>>,
    topic_queue_high: usize,
    broker_addr: IndexMap<String, BrokerEntry>,
    broker_addr_high: usize,
    cluster_addr: IndexMap<String, IndexSet<String>>,
    cluster_addr_high: usize,
    live: HashMap<BrokerAddrKey, LiveInfo>,
    filter_servers: HashMap<BrokerAddrKey, Vec<String>>,
    /// `deleteTopicWithBrokerRegistration`.
    pub delete_topic_with_registration: bool,
    /// `supportActingMaster`.
    pub support_acting_master: bool,
}

impl RouteTable {
    pub fn new() -> RouteTable {
        RouteTable::default()
    }

    fn note_sizes(&mut self) {
        self.topic_queue_high = self.topic_queue_high.max(self.topic_queue.len());
        self.broker_addr_high = self.broker_addr_high.max(self.broker_addr.len());
        self.cluster_addr_high = self.cluster_addr_high.max(self.cluster_addr.len());
    }

    /// REGISTER_BROKER. `None` means Java's "register broker failed" (a slave that sent
    /// a single topic before being known).
    pub fn register(&mut self, r: Registration<'_>, now: Instant) -> Option<RegisterResult> {
        let mut result = RegisterResult::default();
        self.cluster_addr.entry(r.cluster.to_string()).or_default().insert(r.broker_name.to_string());
        let mut register_first = false;
        if !self.broker_addr.contains_key(r.broker_name) {
            register_first = true;
            self.broker_addr.insert(
                r.broker_name.to_string(),
                BrokerEntry {
                    cluster: r.cluster.to_string(),
                    addrs: IndexMap::new(),
                    enable_acting_master: false,
                    zone_name: None,
                },
            );
        }
        self.note_sizes();
        let old_version_broker = r.enable_acting_master.is_none();
        {
            let entry = self.broker_addr.get_mut(r.broker_name).expect("inserted above");
            entry.enable_acting_master = !old_version_broker && r.enable_acting_master == Some(true);
            entry.zone_name = r.zone_name.clone();
            // One address has one id: a slave turning master first drops its old id.
            entry.addrs.retain(|id, addr| !(addr == r.broker_addr && *id != r.broker_id));
        }
        let old_addr = self.broker_addr[r.broker_name].addrs.get(&r.broker_id).cloned();
        if let Some(old) = &old_addr {
            if old != r.broker_addr {
                let key = BrokerAddrKey { cluster: r.cluster.to_string(), addr: old.clone() };
                if let Some(old_info) = self.live.get(&key) {
                    let old_state = old_info.data_version.state_version.unwrap_or(0);
                    let new_state = r.topics.data_version.state_version.unwrap_or(0);
                    if old_state > new_state {
                        self.live
                            .remove(&BrokerAddrKey { cluster: r.cluster.to_string(), addr: r.broker_addr.to_string() });
                        return Some(result);
                    }
                }
            }
        }
        if old_addr.is_none() && r.topics.topic_config_table.len() == 1 {
            return None;
        }
        let prev = self
            .broker_addr
            .get_mut(r.broker_name)
            .expect("exists")
            .addrs
            .insert(r.broker_id, r.broker_addr.to_string());
        register_first = register_first || prev.as_deref().is_none_or(str::is_empty);
        let is_master = r.broker_id == MASTER_ID;
        let min_id = self.broker_addr[r.broker_name].addrs.keys().copied().min().unwrap_or(r.broker_id);
        let is_prime_slave = !old_version_broker && !is_master && r.broker_id == min_id;
        if is_master || is_prime_slave {
            let key = BrokerAddrKey { cluster: r.cluster.to_string(), addr: r.broker_addr.to_string() };
            let broker_changed = self.live.get(&key).is_none_or(|l| !l.data_version.same_as(&r.topics.data_version));
            if self.delete_topic_with_registration {
                let stale: Vec<String> = self
                    .topic_queue
                    .iter()
                    .filter(|(t, m)| m.contains_key(r.broker_name) && !r.topics.topic_config_table.contains_key(*t))
                    .map(|(t, _)| t.clone())
                    .collect();
                for t in stale {
                    self.remove_broker_from_topic(&t, r.broker_name);
                }
            }
            let acting = self.broker_addr[r.broker_name].enable_acting_master;
            for tc in r.topics.topic_config_table.values() {
                let topic_changed = broker_changed
                    || self
                        .topic_queue
                        .get(&tc.topic_name)
                        .is_none_or(|m| m.is_empty() || !m.contains_key(r.broker_name));
                if register_first || topic_changed {
                    let mut tc = tc.clone();
                    if is_prime_slave && acting {
                        tc.perm &= !PERM_WRITE;
                    }
                    self.create_or_update_queue_data(r.broker_name, &tc);
                }
            }
        }
        let key = BrokerAddrKey { cluster: r.cluster.to_string(), addr: r.broker_addr.to_string() };
        self.live.insert(
            key.clone(),
            LiveInfo {
                last_update: now,
                timeout: r.timeout.unwrap_or(DEFAULT_BROKER_TIMEOUT),
                data_version: r.topics.data_version.clone(),
                channel_id: r.channel_id,
                ha_server_addr: r.ha_server_addr.to_string(),
            },
        );
        if r.filter_servers.is_empty() {
            self.filter_servers.remove(&key);
        } else {
            self.filter_servers.insert(key, r.filter_servers);
        }
        if !is_master {
            if let Some(master_addr) = self.broker_addr[r.broker_name].addrs.get(&MASTER_ID) {
                let mkey = BrokerAddrKey { cluster: r.cluster.to_string(), addr: master_addr.clone() };
                if let Some(ml) = self.live.get(&mkey) {
                    result.ha_server_addr = Some(ml.ha_server_addr.clone());
                    result.master_addr = Some(master_addr.clone());
                }
            }
        }
        Some(result)
    }

    fn create_or_update_queue_data(&mut self, broker_name: &str, tc: &TopicConfig) {
        let qd = QueueData {
            broker_name: broker_name.to_string(),
            perm: tc.perm,
            read_queue_nums: tc.read_queue_nums,
            topic_sys_flag: tc.topic_sys_flag,
            write_queue_nums: tc.write_queue_nums,
        };
        self.topic_queue.entry(tc.topic_name.clone()).or_default().insert(broker_name.to_string(), qd);
        self.note_sizes();
    }

    fn remove_broker_from_topic(&mut self, topic: &str, broker_name: &str) {
        if let Some(m) = self.topic_queue.get_mut(topic) {
            m.shift_remove(broker_name);
            if m.is_empty() {
                self.topic_queue.shift_remove(topic);
            }
        }
    }

    /// UNREGISTER_BROKER, and what a closed or expired broker connection triggers.
    pub fn unregister(&mut self, cluster: &str, broker_addr: &str, broker_name: &str, broker_id: i64) {
        let key = BrokerAddrKey { cluster: cluster.to_string(), addr: broker_addr.to_string() };
        self.live.remove(&key);
        self.filter_servers.remove(&key);
        let mut remove_name = false;
        let mut reduced = false;
        if let Some(entry) = self.broker_addr.get_mut(broker_name) {
            let _ = broker_id;
            entry.addrs.retain(|_, a| a != broker_addr);
            if entry.addrs.is_empty() {
                self.broker_addr.shift_remove(broker_name);
                remove_name = true;
            } else {
                reduced = true;
            }
        }
        if remove_name {
            if let Some(names) = self.cluster_addr.get_mut(cluster) {
                names.shift_remove(broker_name);
                if names.is_empty() {
                    self.cluster_addr.shift_remove(cluster);
                }
            }
            let topics: Vec<String> = self.topic_queue.keys().cloned().collect();
            for t in topics {
                self.remove_broker_from_topic(&t, broker_name);
            }
        } else if reduced {
            let no_master = self.broker_addr.get(broker_name).is_none_or(|e| e.addrs.keys().all(|id| *id > 0));
            let acting = self.broker_addr.get(broker_name).is_some_and(|e| e.enable_acting_master);
            if acting && no_master {
                for m in self.topic_queue.values_mut() {
                    if let Some(qd) = m.get_mut(broker_name) {
                        qd.perm &= !PERM_WRITE;
                    }
                }
            }
        }
    }

    /// Finds the broker registered over a channel (closed connection) and unregisters it.
    pub fn on_channel_closed(&mut self, channel_id: u64) -> Vec<BrokerAddrKey> {
        let keys: Vec<BrokerAddrKey> =
            self.live.iter().filter(|(_, l)| l.channel_id == channel_id).map(|(k, _)| k.clone()).collect();
        for k in &keys {
            self.unregister_by_addr(k);
        }
        keys
    }

    fn unregister_by_addr(&mut self, key: &BrokerAddrKey) {
        let found = self.broker_addr.iter().find_map(|(name, e)| {
            if e.cluster != key.cluster {
                return None;
            }
            e.addrs.iter().find(|(_, a)| **a == key.addr).map(|(id, _)| (name.clone(), *id))
        });
        match found {
            Some((name, id)) => self.unregister(&key.cluster, &key.addr, &name, id),
            None => {
                self.live.remove(key);
            }
        }
    }

    /// Brokers whose last heartbeat is older than their timeout; they are unregistered.
    pub fn expire(&mut self, now: Instant) -> Vec<(BrokerAddrKey, u64)> {
        let expired: Vec<(BrokerAddrKey, u64)> = self
            .live
            .iter()
            .filter(|(_, l)| now.duration_since(l.last_update) > l.timeout)
            .map(|(k, l)| (k.clone(), l.channel_id))
            .collect();
        for (k, _) in &expired {
            self.unregister_by_addr(k);
        }
        expired
    }

    pub fn touch(&mut self, cluster: &str, broker_addr: &str, now: Instant) {
        if let Some(l) =
            self.live.get_mut(&BrokerAddrKey { cluster: cluster.to_string(), addr: broker_addr.to_string() })
        {
            l.last_update = now;
        }
    }

    pub fn broker_data_version(&self, cluster: &str, broker_addr: &str) -> Option<DataVersion> {
        self.live
            .get(&BrokerAddrKey { cluster: cluster.to_string(), addr: broker_addr.to_string() })
            .map(|l| l.data_version.clone())
    }

    pub fn is_registered(&self, cluster: &str, broker_addr: &str) -> bool {
        self.live.contains_key(&BrokerAddrKey { cluster: cluster.to_string(), addr: broker_addr.to_string() })
    }

    fn ordered_topics(&self, flavor: Flavor) -> Vec<&String> {
        let cap = flavor.table_cap(1024, self.topic_queue_high);
        java::hashmap_order(self.topic_queue.keys(), cap)
    }

    fn broker_data(&self, name: &str, e: &BrokerEntry, flavor: Flavor) -> BrokerData {
        let ids: Vec<i64> = e.addrs.keys().copied().collect();
        let mut addrs = IndexMap::new();
        for id in java::long_hashmap_order(&ids) {
            addrs.insert(id, e.addrs[&id].clone());
        }
        BrokerData {
            broker_addrs: addrs,
            broker_name: name.to_string(),
            cluster: e.cluster.clone(),
            enable_acting_master: (flavor == Flavor::V5).then_some(e.enable_acting_master),
            zone_name: e.zone_name.clone(),
        }
    }

    /// GET_ROUTEINFO_BY_TOPIC.
    pub fn route(&self, topic: &str, flavor: Flavor) -> Option<TopicRouteData> {
        let qmap = self.topic_queue.get(topic)?;
        let names: Vec<&String> = java::hashmap_order(qmap.keys(), java::hashmap_capacity(qmap.len()));
        let queue_datas: Vec<QueueData> = names.iter().map(|n| qmap[n.as_str()].clone()).collect();
        // `new HashSet<>(keySet)` sizes its table for the copied keys.
        let set_cap = java::sized_hashmap_capacity(((qmap.len() as f64 / 0.75) as usize + 1).max(16), qmap.len());
        let mut broker_datas = Vec::new();
        let mut filter_server_table = IndexMap::new();
        for name in java::hashmap_order(qmap.keys(), set_cap) {
            let Some(e) = self.broker_addr.get(name.as_str()) else { continue };
            let bd = self.broker_data(name, e, flavor);
            if !self.filter_servers.is_empty() {
                for addr in bd.broker_addrs.values() {
                    let k = BrokerAddrKey { cluster: bd.cluster.clone(), addr: addr.clone() };
                    if let Some(list) = self.filter_servers.get(&k) {
                        filter_server_table.insert(addr.clone(), list.clone());
                    }
                }
            }
            broker_datas.push(bd);
        }
        if broker_datas.is_empty() || queue_datas.is_empty() {
            return None;
        }
        let mut route = TopicRouteData { broker_datas, filter_server_table, order_topic_conf: None, queue_datas };
        if self.support_acting_master && !topic.starts_with("rmq_sys_SYNC_BROKER_MEMBER_") {
            apply_acting_master(&mut route, |name| self.broker_addr.get(name).is_some_and(|e| e.enable_acting_master));
        }
        Some(route)
    }

    /// GET_BROKER_CLUSTER_INFO.
    pub fn cluster_info(&self, flavor: Flavor) -> ClusterInfo {
        let mut info = ClusterInfo::default();
        let bcap = flavor.table_cap(128, self.broker_addr_high);
        for name in java::hashmap_order(self.broker_addr.keys(), bcap) {
            let e = &self.broker_addr[name.as_str()];
            info.broker_addr_table.insert(name.clone(), self.broker_data(name, e, flavor));
        }
        let ccap = flavor.table_cap(32, self.cluster_addr_high);
        for cluster in java::hashmap_order(self.cluster_addr.keys(), ccap) {
            let names = &self.cluster_addr[cluster.as_str()];
            let ordered = java::hashmap_order(names.iter(), java::hashmap_capacity(names.len()));
            info.cluster_addr_table.insert(cluster.clone(), ordered.into_iter().cloned().collect());
        }
        info
    }

    fn topic_list(&self, topics: Vec<&String>, flavor: Flavor) -> TopicList {
        // TopicList holds a HashSet (4.9.8) or a ConcurrentHashMap key set (5.x) filled in this order.
        let cap = flavor.set_cap(topics.len());
        let ordered = java::hashmap_order(topics, cap);
        TopicList { broker_addr: None, topic_list: ordered.into_iter().cloned().collect() }
    }

    pub fn all_topics(&self, flavor: Flavor) -> TopicList {
        self.topic_list(self.ordered_topics(flavor), flavor)
    }

    pub fn topics_by_cluster(&self, cluster: &str, flavor: Flavor) -> TopicList {
        let mut topics: IndexSet<&String> = IndexSet::new();
        if let Some(names) = self.cluster_addr.get(cluster) {
            for name in java::hashmap_order(names.iter(), java::hashmap_capacity(names.len())) {
                for t in self.ordered_topics(flavor) {
                    if self.topic_queue[t.as_str()].contains_key(name.as_str()) {
                        topics.insert(t);
                    }
                }
            }
        }
        self.topic_list(topics.into_iter().collect(), flavor)
    }

    /// GET_SYSTEM_TOPIC_LIST_FROM_NS: cluster and broker names (the topics named after them).
    pub fn system_topics(&self, flavor: Flavor) -> TopicList {
        let mut names: IndexSet<&String> = IndexSet::new();
        let ccap = flavor.table_cap(32, self.cluster_addr_high);
        for cluster in java::hashmap_order(self.cluster_addr.keys(), ccap) {
            names.insert(cluster);
            names.extend(self.cluster_addr[cluster.as_str()].iter());
        }
        let mut list = self.topic_list(names.into_iter().collect(), flavor);
        let bcap = flavor.table_cap(128, self.broker_addr_high);
        list.broker_addr = java::hashmap_order(self.broker_addr.keys(), bcap).into_iter().find_map(|n| {
            let e = &self.broker_addr[n.as_str()];
            let ids: Vec<i64> = e.addrs.keys().copied().collect();
            java::long_hashmap_order(&ids).first().map(|id| e.addrs[id].clone())
        });
        list
    }

    /// Unit topic lists (GET_UNIT_TOPIC_LIST and friends), decided by the first queue data's sysflag.
    pub fn unit_topics(&self, want_unit: Option<bool>, want_unit_sub: bool, flavor: Flavor) -> TopicList {
        let topics: Vec<&String> = self
            .ordered_topics(flavor)
            .into_iter()
            .filter(|t| {
                let Some(first) = self.topic_queue[t.as_str()].values().next() else { return false };
                let unit = first.topic_sys_flag & FLAG_UNIT != 0;
                let unit_sub = first.topic_sys_flag & FLAG_UNIT_SUB != 0;
                match want_unit {
                    Some(u) => unit == u && (!want_unit_sub || unit_sub),
                    None => unit_sub == want_unit_sub,
                }
            })
            .collect();
        self.topic_list(topics, flavor)
    }

    /// DELETE_TOPIC_IN_NAMESRV without a cluster.
    pub fn delete_topic(&mut self, topic: &str) {
        self.topic_queue.shift_remove(topic);
    }

    /// DELETE_TOPIC_IN_NAMESRV for one cluster's brokers.
    pub fn delete_topic_in_cluster(&mut self, topic: &str, cluster: &str) {
        let Some(names) = self.cluster_addr.get(cluster).cloned() else { return };
        for n in names {
            self.remove_broker_from_topic(topic, &n);
        }
    }

    /// REGISTER_TOPIC_IN_NAMESRV: refused as a whole if a queue names an unknown broker.
    pub fn register_topic(&mut self, topic: &str, queue_datas: Vec<QueueData>) {
        if queue_datas.is_empty() || queue_datas.iter().any(|q| !self.broker_addr.contains_key(&q.broker_name)) {
            return;
        }
        let m = self.topic_queue.entry(topic.to_string()).or_default();
        for q in queue_datas {
            m.insert(q.broker_name.clone(), q);
        }
        self.note_sizes();
    }

    /// WIPE_WRITE_PERM_OF_BROKER (`add = false`) / ADD_WRITE_PERM_OF_BROKER (`add = true`).
    pub fn change_write_perm(&mut self, broker_name: &str, add: bool) -> i32 {
        let mut n = 0;
        for m in self.topic_queue.values_mut() {
            if let Some(qd) = m.get_mut(broker_name) {
                qd.perm = if add { PERM_READ | PERM_WRITE } else { qd.perm & !PERM_WRITE };
                n += 1;
            }
        }
        n
    }

    pub fn member_group(&self, cluster: &str, broker_name: &str) -> BrokerMemberGroup {
        let mut g = BrokerMemberGroup {
            broker_addrs: IndexMap::new(),
            broker_name: broker_name.into(),
            cluster: cluster.into(),
        };
        if let Some(e) = self.broker_addr.get(broker_name) {
            let ids: Vec<i64> = e.addrs.keys().copied().collect();
            for id in java::long_hashmap_order(&ids) {
                g.broker_addrs.insert(id, e.addrs[&id].clone());
            }
        }
        g
    }
}

/// With `supportActingMaster`, a broker set without a master whose queues lost write
/// permission is shown with its lowest slave as id 0.
fn apply_acting_master(route: &mut TopicRouteData, acting: impl Fn(&str) -> bool) {
    let need =
        route.broker_datas.iter().any(|b| !b.broker_addrs.is_empty() && !b.broker_addrs.contains_key(&MASTER_ID));
    if !need {
        return;
    }
    for bd in route.broker_datas.iter_mut() {
        if bd.broker_addrs.is_empty() || bd.broker_addrs.contains_key(&MASTER_ID) || !acting(&bd.broker_name) {
            continue;
        }
        let writable =
            route.queue_datas.iter().find(|q| q.broker_name == bd.broker_name).map(|q| q.perm & PERM_WRITE != 0);
        if writable == Some(false) {
            if let Some(min) = bd.broker_addrs.keys().copied().min() {
                let addr = bd.broker_addrs.shift_remove(&min).expect("min key exists");
                bd.broker_addrs.insert(MASTER_ID, addr);
            }
        }
    }
}

#[cfg(test)]
mod tests;
