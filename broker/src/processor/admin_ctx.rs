//! What the admin requests (`processor/admin`) get from the core.

use std::future::Future;
use std::sync::Arc;

use super::admin::{AdminContext, AdminState, RuntimeStats};
use super::BrokerState;
use crate::client::{ConsumerManager, ProducerManager};
use crate::config::BrokerSettings;
use crate::meta::{Meta, TopicConfig};

impl AdminContext for BrokerState {
    fn meta(&self) -> &Arc<Meta> {
        &self.meta
    }
    fn consumer_manager(&self) -> &ConsumerManager {
        &self.consumers
    }
    fn producer_manager(&self) -> &ProducerManager {
        &self.producers
    }
    fn admin_state(&self) -> &AdminState {
        &self.admin
    }
    fn settings(&self) -> BrokerSettings {
        self.live_settings.read().clone()
    }
    fn apply_settings(&self, updated: BrokerSettings, changed_keys: &[String]) {
        let perm_changed = changed_keys.iter().any(|k| k == "brokerPermission");
        *self.live_settings.write() = updated;
        if perm_changed {
            self.register_soon.notify_one();
        }
    }
    fn on_topics_changed(&self, _topics: Vec<TopicConfig>) {
        // the registration task sends the whole table (Java's full registration)
        self.register_soon.notify_one();
    }
    fn min_offset(&self, topic: &str, queue: i32) -> i64 {
        self.store.min_offset(topic, queue)
    }
    fn max_offset(&self, topic: &str, queue: i32) -> i64 {
        self.store.max_offset(topic, queue)
    }
    fn store_time_at(&self, topic: &str, queue: i32, offset: i64) -> impl Future<Output = Option<i64>> + Send {
        let (store, topic) = (self.store.clone(), topic.to_string());
        async move { store.store_time_at(topic, queue, offset).await.ok().flatten() }
    }
    fn delete_topic_data(&self, topics: &[String]) -> impl Future<Output = ()> + Send {
        let (store, topics) = (self.store.clone(), topics.to_vec());
        async move {
            if let Err(e) = store.delete_topics(topics).await {
                tracing::error!(error = %e, "deleting topic data failed");
            }
        }
    }
    fn runtime_stats(&self) -> RuntimeStats {
        let min = self.store.min_phy_offset();
        let max = self.store.max_phy_offset();
        RuntimeStats {
            boot_timestamp: self.boot_timestamp,
            commit_log_min_offset: if max == 0 { -1 } else { min },
            commit_log_max_offset: max,
            remain_how_many_data_to_commit: self.store.writer().staged_bytes() as i64,
            remain_how_many_data_to_flush: (max - self.store.writer().flushed_offset() as i64).max(0),
            // schedule and transaction-check services run on a master only
            broker_active: !self.role.is_slave(),
            ..RuntimeStats::default()
        }
    }
}
