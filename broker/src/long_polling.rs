//! Held pulls (Java `PullRequestHoldService`): a pull with the SUSPEND flag
//! that finds nothing waits until a message for its topic/queue arrives (one
//! its tag filter accepts) or `suspendTimeoutMillis` passes, then is served
//! again without suspending. With `longPollingEnable=false` it just waits
//! `shortPollingTimeMills`.
//!
//! Waiting happens in the request's own task, so nothing is sent on the
//! channel out of band. Arrivals come from the store's append thread.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::store::{MessageStore, TagFilter};

struct Waiter {
    id: u64,
    pull_from: i64,
    filter: TagFilter,
    wake: oneshot::Sender<()>,
}

/// How often a waiting pull re-checks the queue (Java: every 5 s), covering
/// arrivals that happened before it registered.
const RECHECK: Duration = Duration::from_millis(1000);

#[derive(Default)]
pub struct LongPolling {
    waiters: Mutex<HashMap<(String, i32), Vec<Waiter>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl LongPolling {
    pub fn new() -> Arc<LongPolling> {
        Arc::new(LongPolling::default())
    }

    /// A message reached `topic`/`queue`; `next` is the queue's new max offset.
    pub fn arrived(&self, topic: &str, queue_id: i32, next: i64, tags_code: i64) {
        let mut all = self.waiters.lock();
        let Some(list) = all.get_mut(&(topic.to_string(), queue_id)) else { return };
        let mut i = 0;
        while i < list.len() {
            if next > list[i].pull_from && list[i].filter.matches(tags_code) {
                let w = list.swap_remove(i);
                let _ = w.wake.send(());
            } else {
                i += 1;
            }
        }
        if list.is_empty() {
            all.remove(&(topic.to_string(), queue_id));
        }
    }

    /// Number of held pulls (stats, tests).
    pub fn held(&self) -> usize {
        self.waiters.lock().values().map(Vec::len).sum()
    }

    fn remove(&self, key: &(String, i32), id: u64) {
        let mut all = self.waiters.lock();
        if let Some(list) = all.get_mut(key) {
            list.retain(|w| w.id != id);
            if list.is_empty() {
                all.remove(key);
            }
        }
    }

    /// Waits until there may be something to pull from `pull_from`, or `timeout`.
    /// `long_polling=false` waits the whole (short-polling) time.
    #[allow(clippy::too_many_arguments)]
    pub async fn hold(
        &self,
        store: &MessageStore,
        topic: &str,
        queue_id: i32,
        pull_from: i64,
        filter: TagFilter,
        timeout: Duration,
        long_polling: bool,
    ) {
        let deadline = Instant::now() + timeout;
        if !long_polling {
            tokio::time::sleep_until(deadline.into()).await;
            return;
        }
        let key = (topic.to_string(), queue_id);
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, mut rx) = oneshot::channel();
        self.waiters.lock().entry(key.clone()).or_default().push(Waiter { id, pull_from, filter, wake: tx });
        // removes the registration however this future ends (woken, timed out, dropped)
        struct Guard<'a>(&'a LongPolling, &'a (String, i32), u64);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                self.0.remove(self.1, self.2);
            }
        }
        let _guard = Guard(self, &key, id);
        loop {
            // a message that landed before we registered would never wake us
            if store.max_offset(topic, queue_id) > pull_from {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            let step = (deadline - now).min(RECHECK);
            tokio::select! {
                _ = &mut rx => return,
                _ = tokio::time::sleep(step) => {}
            }
        }
    }
}
