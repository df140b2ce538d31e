//! LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42) for orderly consumers, with
//! Java's `RebalanceLockManager` rules: a queue of a group is locked by one
//! client id; the holder renews it by locking again; a lock not renewed for
//! `rebalanceLockMaxLiveTime` (60 s) may be taken by another client; only the
//! holder unlocks. (`lockInStrictMode` quorum locking across replicas is not
//! done: every broker answers for itself, as Java does by default.)

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use rmq_remoting::codec::RemotingCommand;
use rmq_remoting::protocol::body;
use rmq_remoting::protocol::heartbeat::{LockBatchRequestBody, LockBatchResponseBody, MessageQueue};
use tracing::{info, warn};

use super::{fail, ok, BrokerState, Outcome};

/// Java's `rocketmq.broker.rebalance.lockMaxLiveTime` default.
pub const LOCK_MAX_LIVE_TIME: Duration = Duration::from_secs(60);

struct LockEntry {
    client_id: String,
    last_update: Instant,
}

/// Queue locks per consumer group.
pub struct RebalanceLockManager {
    max_live: Duration,
    table: Mutex<HashMap<String, HashMap<MessageQueue, LockEntry>>>,
}

impl Default for RebalanceLockManager {
    fn default() -> Self {
        RebalanceLockManager::new(LOCK_MAX_LIVE_TIME)
    }
}

impl RebalanceLockManager {
    pub fn new(max_live: Duration) -> Self {
        RebalanceLockManager { max_live, table: Mutex::new(HashMap::new()) }
    }

    fn expired(&self, e: &LockEntry, now: Instant) -> bool {
        now.duration_since(e.last_update) > self.max_live
    }

    /// `tryLockBatch`: the queues now locked by `client_id` (newly, renewed, or
    /// taken over from an expired holder), in request order.
    pub fn try_lock_batch(&self, group: &str, mqs: &[MessageQueue], client_id: &str) -> Vec<MessageQueue> {
        let now = Instant::now();
        let mut table = self.table.lock();
        let locks = table.entry(group.to_string()).or_default();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for mq in mqs {
            if !seen.insert(mq) {
                continue;
            }
            match locks.get_mut(mq) {
                None => {
                    info!(group, client_id, ?mq, "queue locked");
                    locks.insert(mq.clone(), LockEntry { client_id: client_id.to_string(), last_update: now });
                    out.push(mq.clone());
                }
                Some(e) if e.client_id == client_id && !self.expired(e, now) => {
                    e.last_update = now;
                    out.push(mq.clone());
                }
                Some(e) if self.expired(e, now) => {
                    warn!(group, old = %e.client_id, new = client_id, ?mq, "taking over an expired queue lock");
                    e.client_id = client_id.to_string();
                    e.last_update = now;
                    out.push(mq.clone());
                }
                Some(e) => {
                    warn!(group, holder = %e.client_id, client_id, ?mq, "queue locked by another client");
                }
            }
        }
        out
    }

    /// `unlockBatch`: releases the queues `client_id` holds.
    pub fn unlock_batch(&self, group: &str, mqs: &[MessageQueue], client_id: &str) {
        let mut table = self.table.lock();
        let Some(locks) = table.get_mut(group) else {
            warn!(group, client_id, "unlock for a group without locks");
            return;
        };
        for mq in mqs {
            match locks.get(mq) {
                Some(e) if e.client_id == client_id => {
                    locks.remove(mq);
                    info!(group, client_id, ?mq, "queue unlocked");
                }
                Some(e) => {
                    warn!(group, holder = %e.client_id, client_id, ?mq, "unlock of a queue another client holds")
                }
                None => warn!(group, client_id, ?mq, "unlock of a queue not locked"),
            }
        }
    }

    /// `isLockAllExpired`.
    pub fn all_expired(&self, group: &str) -> bool {
        let now = Instant::now();
        self.table.lock().get(group).is_none_or(|l| l.values().all(|e| self.expired(e, now)))
    }
}

fn request_body(req: &RemotingCommand, what: &'static str) -> Result<LockBatchRequestBody, super::Failure> {
    match body::decode::<LockBatchRequestBody>(what, req.body.as_deref().unwrap_or_default()) {
        Ok(b) => Ok(b),
        Err(e) => fail(rmq_remoting::codec::ResponseCode::SYSTEM_ERROR, e.to_string()),
    }
}

pub(crate) fn lock_batch(state: &BrokerState, req: &RemotingCommand) -> Outcome {
    let b = request_body(req, "LockBatchRequestBody")?;
    let locked = state.locks.try_lock_batch(&b.consumer_group, &b.mq_set, &b.client_id);
    let mut r = ok(req);
    r.body = Some(Bytes::from(body::encode(&LockBatchResponseBody { lock_ok_mq_set: locked })));
    Ok(Some(r))
}

pub(crate) fn unlock_batch(state: &BrokerState, req: &RemotingCommand) -> Outcome {
    let b = request_body(req, "UnlockBatchRequestBody")?;
    state.locks.unlock_batch(&b.consumer_group, &b.mq_set, &b.client_id);
    Ok(Some(ok(req)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(q: i32) -> MessageQueue {
        MessageQueue { broker_name: "b".into(), queue_id: q, topic: "T".into() }
    }

    #[test]
    fn locks_renew_expire_and_unlock_like_java() {
        let m = RebalanceLockManager::new(Duration::from_millis(150));
        assert_eq!(m.try_lock_batch("g", &[mq(0), mq(1), mq(0)], "c1"), vec![mq(0), mq(1)]);
        assert!(m.try_lock_batch("g", &[mq(0), mq(2)], "c2") == vec![mq(2)], "c1 holds queue 0");
        assert_eq!(m.try_lock_batch("g2", &[mq(0)], "c2"), vec![mq(0)], "groups are separate");
        m.unlock_batch("g", &[mq(1)], "c2");
        assert_eq!(m.try_lock_batch("g", &[mq(1)], "c2"), Vec::<MessageQueue>::new(), "only the holder unlocks");
        m.unlock_batch("g", &[mq(1)], "c1");
        assert_eq!(m.try_lock_batch("g", &[mq(1)], "c2"), vec![mq(1)]);
        assert!(!m.all_expired("g"));
        std::thread::sleep(Duration::from_millis(200));
        assert!(m.all_expired("g"));
        assert_eq!(m.try_lock_batch("g", &[mq(0)], "c2"), vec![mq(0)], "an expired lock is taken over");
        assert_eq!(m.try_lock_batch("g", &[mq(0)], "c1"), Vec::<MessageQueue>::new());
    }
}
