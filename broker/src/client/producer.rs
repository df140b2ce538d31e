//! Producer groups (`ProducerManager`): transaction check-backs go to a live
//! channel of the producing group.

use std::collections::HashMap;
use std::time::Instant;

use indexmap::IndexMap;
use parking_lot::Mutex;
use rmq_remoting::transport::Channel;

use super::{ClientChannel, CHANNEL_EXPIRED};

#[derive(Default)]
pub struct ProducerManager {
    groups: Mutex<HashMap<String, IndexMap<u64, ClientChannel>>>,
    /// Round-robin cursor per group for check-back target selection.
    cursor: Mutex<HashMap<String, usize>>,
}

impl ProducerManager {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, group: &str, info: ClientChannel) {
        let mut groups = self.groups.lock();
        let g = groups.entry(group.to_string()).or_default();
        let id = info.channel.id();
        match g.get_mut(&id) {
            Some(old) => {
                old.last_update = info.last_update;
                old.client_id = info.client_id;
            }
            None => {
                g.insert(id, info);
            }
        }
    }

    pub fn unregister(&self, group: &str, channel: &Channel) {
        let mut groups = self.groups.lock();
        if let Some(g) = groups.get_mut(group) {
            g.shift_remove(&channel.id());
            if g.is_empty() {
                groups.remove(group);
            }
        }
    }

    pub fn channel_closed(&self, channel: &Channel) {
        let mut groups = self.groups.lock();
        for g in groups.values_mut() {
            g.shift_remove(&channel.id());
        }
        groups.retain(|_, g| !g.is_empty());
    }

    pub fn scan_expired(&self, now: Instant) -> usize {
        let mut groups = self.groups.lock();
        let mut n = 0;
        for g in groups.values_mut() {
            let before = g.len();
            g.retain(|_, c| now.duration_since(c.last_update) <= CHANNEL_EXPIRED);
            n += before - g.len();
        }
        groups.retain(|_, g| !g.is_empty());
        n
    }

    /// A live channel of `group`, rotating between the group's producers.
    pub fn available_channel(&self, group: &str) -> Option<Channel> {
        let groups = self.groups.lock();
        let g = groups.get(group)?;
        let live: Vec<&ClientChannel> = g.values().filter(|c| !c.channel.is_closed()).collect();
        if live.is_empty() {
            return None;
        }
        let mut cursor = self.cursor.lock();
        let i = cursor.entry(group.to_string()).or_insert(0);
        *i = (*i + 1) % live.len();
        Some(live[*i].channel.clone())
    }

    /// (group, client id, language, version) of every producer connection (GET_PRODUCER_CONNECTION_LIST).
    pub fn connections(&self, group: &str) -> Vec<ClientChannel> {
        self.groups.lock().get(group).map(|g| g.values().cloned().collect()).unwrap_or_default()
    }
}
