//! The ceiling server's optional memory (`--retain N`): the last N messages of each
//! queue, encoded as stored records, served to PULL_MESSAGE with long polling.
//! It exists so `consume` and `e2e` can be exercised without a broker; it is not
//! part of the ceiling measurement (which stores nothing).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

#[derive(Default)]
struct QueueLog {
    /// Queue offset of `msgs[0]`.
    base: i64,
    msgs: VecDeque<Bytes>,
    notify: Arc<Notify>,
}

impl QueueLog {
    fn max(&self) -> i64 {
        self.base + self.msgs.len() as i64
    }
}

/// What a read at an offset found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Records (concatenated) and the offset after the last one.
    Found { records: Vec<Bytes>, next: i64, min: i64, max: i64 },
    /// Nothing at or after the offset yet.
    Empty { min: i64, max: i64 },
    /// The offset is outside `[min, max]`; retry from `next`.
    Moved { next: i64, min: i64, max: i64 },
}

pub struct MemStore {
    retain: usize,
    queues: Mutex<HashMap<(String, i32), QueueLog>>,
}

impl MemStore {
    pub fn new(retain: usize) -> MemStore {
        MemStore { retain: retain.max(1), queues: Mutex::new(HashMap::new()) }
    }

    /// Appends one record built by `encode(queue_offset)`; returns its queue offset.
    pub fn append(&self, topic: &str, queue_id: i32, encode: impl FnOnce(i64) -> Bytes) -> i64 {
        let mut map = self.queues.lock().expect("memstore lock");
        let log = map.entry((topic.to_string(), queue_id)).or_default();
        let offset = log.max();
        log.msgs.push_back(encode(offset));
        while log.msgs.len() > self.retain {
            log.msgs.pop_front();
            log.base += 1;
        }
        log.notify.notify_waiters();
        offset
    }

    /// Wakes when `topic:queue_id` gets a message (create the `Notified` before reading).
    pub fn notify(&self, topic: &str, queue_id: i32) -> Arc<Notify> {
        let mut map = self.queues.lock().expect("memstore lock");
        map.entry((topic.to_string(), queue_id)).or_default().notify.clone()
    }

    pub fn read(&self, topic: &str, queue_id: i32, offset: i64, max_msgs: usize) -> Read {
        let map = self.queues.lock().expect("memstore lock");
        let Some(log) = map.get(&(topic.to_string(), queue_id)) else {
            return if offset == 0 { Read::Empty { min: 0, max: 0 } } else { Read::Moved { next: 0, min: 0, max: 0 } };
        };
        let (min, max) = (log.base, log.max());
        if offset < min {
            return Read::Moved { next: min, min, max };
        }
        if offset > max {
            return Read::Moved { next: max, min, max };
        }
        if offset == max {
            return Read::Empty { min, max };
        }
        let from = (offset - min) as usize;
        let records: Vec<Bytes> = log.msgs.iter().skip(from).take(max_msgs.max(1)).cloned().collect();
        let next = offset + records.len() as i64;
        Read::Found { records, next, min, max }
    }

    /// `(min, max)` offsets of a queue; `(0, 0)` if it never got a message.
    pub fn bounds(&self, topic: &str, queue_id: i32) -> (i64, i64) {
        let map = self.queues.lock().expect("memstore lock");
        map.get(&(topic.to_string(), queue_id)).map_or((0, 0), |l| (l.base, l.max()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retains_the_last_n_and_reports_moves() {
        let s = MemStore::new(3);
        for i in 0..5 {
            assert_eq!(s.append("T", 1, |off| Bytes::from(format!("m{off}"))), i);
        }
        assert_eq!(s.bounds("T", 1), (2, 5));
        assert_eq!(s.read("T", 1, 0, 10), Read::Moved { next: 2, min: 2, max: 5 });
        assert_eq!(s.read("T", 1, 9, 10), Read::Moved { next: 5, min: 2, max: 5 });
        assert_eq!(s.read("T", 1, 5, 10), Read::Empty { min: 2, max: 5 });
        match s.read("T", 1, 3, 1) {
            Read::Found { records, next, .. } => {
                assert_eq!(records, vec![Bytes::from("m3")]);
                assert_eq!(next, 4);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.read("T", 2, 0, 1), Read::Empty { min: 0, max: 0 });
    }

    #[tokio::test]
    async fn append_wakes_a_waiting_reader() {
        let s = Arc::new(MemStore::new(10));
        let n = s.notify("T", 0);
        let notified = n.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let s2 = s.clone();
        tokio::spawn(async move { s2.append("T", 0, |_| Bytes::from_static(b"x")) });
        tokio::time::timeout(std::time::Duration::from_secs(2), notified).await.unwrap();
        assert!(matches!(s.read("T", 0, 0, 1), Read::Found { .. }));
    }
}
