//! The next consume-queue offset of every topic/queue (Java `topicQueueTable`),
//! assigned to puts by the append thread.

use std::collections::HashMap;

/// Next consume-queue offset of every topic/queue (Java `topicQueueTable`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueueOffsets {
    map: HashMap<String, HashMap<i32, i64>>,
}

impl QueueOffsets {
    pub fn get(&self, topic: &str, queue_id: i32) -> i64 {
        self.map.get(topic).and_then(|q| q.get(&queue_id)).copied().unwrap_or(0)
    }
    pub fn set(&mut self, topic: &str, queue_id: i32, next: i64) {
        match self.map.get_mut(topic) {
            Some(q) => {
                q.insert(queue_id, next);
            }
            None => {
                self.map.insert(topic.to_string(), HashMap::from([(queue_id, next)]));
            }
        }
    }
    pub fn remove_topic(&mut self, topic: &str) {
        self.map.remove(topic);
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.map.iter().flat_map(|(t, q)| q.iter().map(move |(id, v)| (t.as_str(), *id, *v)))
    }
    /// Returns the next offset and advances it by `n` (one lookup on the hot path).
    pub(crate) fn take(&mut self, topic: &str, queue_id: i32, n: i64) -> i64 {
        if let Some(q) = self.map.get_mut(topic) {
            let e = q.entry(queue_id).or_insert(0);
            *e += n;
            return *e - n;
        }
        self.set(topic, queue_id, n);
        0
    }
    pub(crate) fn raise(&mut self, topic: &str, queue_id: i32, next: i64) {
        if self.get(topic, queue_id) < next {
            self.set(topic, queue_id, next);
        }
    }
}
