//! Consumer groups (`ConsumerManager` / `ConsumerGroupInfo`).

use std::collections::HashMap;
use std::time::Instant;

use indexmap::IndexMap;
use parking_lot::Mutex;
use rmq_remoting::protocol::heartbeat::{ConsumerData, SubscriptionData};
use rmq_remoting::transport::Channel;

use super::{ClientChannel, CHANNEL_EXPIRED};

#[derive(Debug, Clone)]
pub struct ConsumerGroupInfo {
    pub group: String,
    /// Keyed by channel id.
    pub channels: IndexMap<u64, ClientChannel>,
    pub subscriptions: IndexMap<String, SubscriptionData>,
    pub consume_type: String,
    pub message_model: String,
    pub consume_from_where: String,
    pub last_update: Instant,
}

impl ConsumerGroupInfo {
    fn new(group: &str, now: Instant) -> Self {
        ConsumerGroupInfo {
            group: group.to_string(),
            channels: IndexMap::new(),
            subscriptions: IndexMap::new(),
            consume_type: "CONSUME_PASSIVELY".into(),
            message_model: "CLUSTERING".into(),
            consume_from_where: "CONSUME_FROM_LAST_OFFSET".into(),
            last_update: now,
        }
    }

    /// Client ids in connection order (GET_CONSUMER_LIST_BY_GROUP).
    pub fn client_ids(&self) -> Vec<String> {
        self.channels.values().map(|c| c.client_id.clone()).collect()
    }

    pub fn is_broadcasting(&self) -> bool {
        self.message_model == "BROADCASTING"
    }

    fn update_channel(&mut self, info: ClientChannel, data: &ConsumerData, now: Instant) -> bool {
        self.consume_type = data.consume_type.clone();
        self.message_model = data.message_model.clone();
        self.consume_from_where = data.consume_from_where.clone();
        let id = info.channel.id();
        let added = match self.channels.get_mut(&id) {
            None => {
                self.channels.insert(id, info);
                true
            }
            Some(old) => {
                if old.client_id != info.client_id {
                    *old = info;
                }
                old.last_update = now;
                false
            }
        };
        self.last_update = now;
        added
    }

    /// Java's rule: a new topic or a dropped topic is a change; a newer subVersion of
    /// an existing topic replaces it without counting as a change.
    fn update_subscriptions(&mut self, subs: &[SubscriptionData], now: Instant) -> bool {
        let mut changed = false;
        for s in subs {
            match self.subscriptions.get(&s.topic) {
                None => {
                    self.subscriptions.insert(s.topic.clone(), s.clone());
                    changed = true;
                }
                Some(old) if s.sub_version > old.sub_version => {
                    self.subscriptions.insert(s.topic.clone(), s.clone());
                }
                Some(_) => {}
            }
        }
        let before = self.subscriptions.len();
        self.subscriptions.retain(|t, _| subs.iter().any(|s| &s.topic == t));
        changed |= self.subscriptions.len() != before;
        self.last_update = now;
        changed
    }
}

/// What a registration changed, so the caller can notify the group's clients.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RegisterChange {
    pub channels_changed: bool,
    pub subscriptions_changed: bool,
}

#[derive(Default)]
pub struct ConsumerManager {
    groups: Mutex<HashMap<String, ConsumerGroupInfo>>,
}

impl ConsumerManager {
    pub fn new() -> Self {
        Self::default()
    }

    /// HEART_BEAT consumer data. With `is_notify_consumer_ids_changed` Java notifies the
    /// group when channels change (and, on 5.x, when subscriptions change).
    pub fn register(&self, info: ClientChannel, data: &ConsumerData, now: Instant) -> RegisterChange {
        let mut groups = self.groups.lock();
        let g = groups.entry(data.group_name.clone()).or_insert_with(|| ConsumerGroupInfo::new(&data.group_name, now));
        let channels_changed = g.update_channel(info, data, now);
        let subscriptions_changed = g.update_subscriptions(&data.subscription_data_set, now);
        RegisterChange { channels_changed, subscriptions_changed }
    }

    /// UNREGISTER_CLIENT for a group; true when the group lost a channel.
    pub fn unregister(&self, group: &str, channel: &Channel) -> bool {
        let mut groups = self.groups.lock();
        let Some(g) = groups.get_mut(group) else { return false };
        let removed = g.channels.shift_remove(&channel.id()).is_some();
        if g.channels.is_empty() {
            groups.remove(group);
        }
        removed
    }

    /// A connection closed: remove it everywhere; returns the groups that changed.
    pub fn channel_closed(&self, channel: &Channel) -> Vec<String> {
        let mut groups = self.groups.lock();
        let mut changed = Vec::new();
        for (name, g) in groups.iter_mut() {
            if g.channels.shift_remove(&channel.id()).is_some() {
                changed.push(name.clone());
            }
        }
        groups.retain(|_, g| !g.channels.is_empty());
        changed
    }

    /// Drops clients silent for longer than `CHANNEL_EXPIRED`; returns (group, channel) pairs removed.
    pub fn scan_expired(&self, now: Instant) -> Vec<(String, Channel)> {
        let mut groups = self.groups.lock();
        let mut removed = Vec::new();
        for (name, g) in groups.iter_mut() {
            let expired: Vec<u64> = g
                .channels
                .iter()
                .filter(|(_, c)| now.duration_since(c.last_update) > CHANNEL_EXPIRED)
                .map(|(id, _)| *id)
                .collect();
            for id in expired {
                if let Some(c) = g.channels.shift_remove(&id) {
                    removed.push((name.clone(), c.channel));
                }
            }
        }
        groups.retain(|_, g| !g.channels.is_empty());
        removed
    }

    pub fn group(&self, group: &str) -> Option<ConsumerGroupInfo> {
        self.groups.lock().get(group).cloned()
    }

    pub fn subscription(&self, group: &str, topic: &str) -> Option<SubscriptionData> {
        self.groups.lock().get(group).and_then(|g| g.subscriptions.get(topic).cloned())
    }

    /// Groups subscribed to `topic` (QUERY_TOPIC_CONSUME_BY_WHO).
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        self.groups.lock().values().filter(|g| g.subscriptions.contains_key(topic)).map(|g| g.group.clone()).collect()
    }

    pub fn group_names(&self) -> Vec<String> {
        self.groups.lock().keys().cloned().collect()
    }

    /// One client of a group, with its channel and version (requests forwarded to it).
    pub fn client(&self, group: &str, client_id: &str) -> Option<ClientChannel> {
        self.groups.lock().get(group).and_then(|g| g.channels.values().find(|c| c.client_id == client_id).cloned())
    }

    /// The channel of one client of a group (GET_CONSUMER_RUNNING_INFO forwarding).
    pub fn find_channel(&self, group: &str, client_id: &str) -> Option<Channel> {
        self.groups
            .lock()
            .get(group)
            .and_then(|g| g.channels.values().find(|c| c.client_id == client_id).map(|c| c.channel.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::codec::LanguageCode;

    fn client(ch: &Channel, id: &str, now: Instant) -> ClientChannel {
        ClientChannel {
            channel: ch.clone(),
            client_id: id.into(),
            language: LanguageCode::JAVA,
            version: 409,
            last_update: now,
        }
    }

    fn data(group: &str, topics: &[(&str, i64)]) -> ConsumerData {
        ConsumerData {
            group_name: group.into(),
            subscription_data_set: topics
                .iter()
                .map(|(t, v)| SubscriptionData {
                    topic: t.to_string(),
                    sub_string: "*".into(),
                    sub_version: *v,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn register_reports_channel_and_subscription_changes() {
        let m = ConsumerManager::new();
        let now = Instant::now();
        let a = Channel::unconnected("127.0.0.1:1".parse().unwrap());
        let b = Channel::unconnected("127.0.0.1:2".parse().unwrap());
        let c = m.register(client(&a, "A", now), &data("g", &[("T", 1)]), now);
        assert_eq!(c, RegisterChange { channels_changed: true, subscriptions_changed: true });
        // Same channel, newer subVersion: replaced but not a change.
        let c = m.register(client(&a, "A", now), &data("g", &[("T", 2)]), now);
        assert_eq!(c, RegisterChange::default());
        assert_eq!(m.subscription("g", "T").unwrap().sub_version, 2);
        let c = m.register(client(&b, "B", now), &data("g", &[("T", 2)]), now);
        assert!(c.channels_changed);
        assert_eq!(m.group("g").unwrap().client_ids(), vec!["A", "B"]);
        // Dropping a topic is a change.
        let c = m.register(client(&b, "B", now), &data("g", &[("U", 3)]), now);
        assert!(c.subscriptions_changed);
        assert_eq!(m.channel_closed(&a), vec!["g".to_string()]);
        assert_eq!(m.group("g").unwrap().client_ids(), vec!["B"]);
        assert!(m.unregister("g", &b));
        assert!(m.group("g").is_none());
    }

    #[test]
    fn silent_clients_expire() {
        let m = ConsumerManager::new();
        let now = Instant::now();
        let a = Channel::unconnected("127.0.0.1:1".parse().unwrap());
        m.register(client(&a, "A", now), &data("g", &[("T", 1)]), now);
        assert!(m.scan_expired(now + CHANNEL_EXPIRED / 2).is_empty());
        assert_eq!(m.scan_expired(now + CHANNEL_EXPIRED * 2).len(), 1);
        assert!(m.group("g").is_none());
    }
}
