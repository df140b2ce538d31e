//! Slave acknowledgements on the master and the SYNC_MASTER wait (Java
//! `GroupTransferService`, `push2SlaveMaxOffset`, `isSlaveOK`).
//!
//! Instead of Java's service thread polling request lists, each waiting put
//! awaits a [`Notify`] that fires whenever an ack moves; the outcome is the same:
//! PUT_OK once enough acks cover the put's end, FLUSH_SLAVE_TIMEOUT at the deadline.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::AckRule;

/// What a SYNC_MASTER put ends with, as far as replication is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaOutcome {
    /// Enough slaves have the bytes, or no wait was needed.
    Ok,
    /// 4.9.8: no usable slave, answered without waiting.
    SlaveNotAvailable,
    /// The acks did not arrive within `slaveTimeout`.
    Timeout,
}

/// One slave connection's acknowledgement, as the master tracks it.
#[derive(Debug)]
pub struct ConnAck {
    pub id: u64,
    pub peer: String,
    /// Last reported offset; -1 before the first report.
    ack: AtomicI64,
}

impl ConnAck {
    pub fn ack(&self) -> i64 {
        self.ack.load(Ordering::Acquire)
    }
}

/// Shared by the master's connections and the put path.
#[derive(Debug, Default)]
pub struct AckTracker {
    /// Highest offset any slave ever acknowledged (never goes back, as Java's).
    push_to_slave_max: AtomicU64,
    conns: Mutex<Vec<Arc<ConnAck>>>,
    next_id: AtomicU64,
    moved: Notify,
}

impl AckTracker {
    pub fn new() -> Arc<AckTracker> {
        Arc::new(AckTracker::default())
    }

    pub(crate) fn register(&self, peer: String) -> Arc<ConnAck> {
        let c = Arc::new(ConnAck { id: self.next_id.fetch_add(1, Ordering::Relaxed), peer, ack: AtomicI64::new(-1) });
        self.conns.lock().push(c.clone());
        c
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.conns.lock().retain(|c| c.id != id);
        self.moved.notify_waiters();
    }

    /// A report arrived on a connection (Java `slaveAckOffset` + `notifyTransferSome`).
    pub(crate) fn acked(&self, conn: &ConnAck, offset: u64) {
        conn.ack.store(offset as i64, Ordering::Release);
        self.push_to_slave_max.fetch_max(offset, Ordering::AcqRel);
        self.moved.notify_waiters();
    }

    /// Java `connectionCount`.
    pub fn connection_count(&self) -> usize {
        self.conns.lock().len()
    }

    /// Java `push2SlaveMaxOffset`.
    pub fn push_to_slave_max(&self) -> u64 {
        self.push_to_slave_max.load(Ordering::Acquire)
    }

    /// Every connection's peer and last ack.
    pub fn connections(&self) -> Vec<(String, i64)> {
        self.conns.lock().iter().map(|c| (c.peer.clone(), c.ack())).collect()
    }

    /// 4.9.8 `isSlaveOK`.
    pub fn is_slave_ok(&self, master_put_where: u64, fallbehind_max: u64) -> bool {
        self.connection_count() > 0
            && (master_put_where as i64 - self.push_to_slave_max() as i64) < fallbehind_max as i64
    }

    /// 5.x `inSyncReplicasNums`: the master plus every connection within `max_gap`.
    pub fn in_sync_replicas(&self, master_put_where: u64, max_gap: u64) -> usize {
        1 + self.conns.lock().iter().filter(|c| (master_put_where as i64 - c.ack()) < max_gap as i64).count()
    }

    fn enough(&self, rule: AckRule, next_offset: u64) -> bool {
        match rule {
            AckRule::AnySlave { .. } => self.push_to_slave_max() >= next_offset,
            AckRule::InSyncReplicas { replicas } => {
                // the master holds one copy
                let acked = self.conns.lock().iter().filter(|c| c.ack() >= next_offset as i64).count();
                1 + acked as i64 >= replicas as i64
            }
        }
    }

    /// Waits until the put ending at `next_offset` is replicated as `rule`
    /// requires, or `timeout` passes.
    pub async fn wait(&self, rule: AckRule, next_offset: u64, timeout: Duration) -> ReplicaOutcome {
        match rule {
            AckRule::AnySlave { fallbehind_max } if !self.is_slave_ok(next_offset, fallbehind_max) => {
                return ReplicaOutcome::SlaveNotAvailable
            }
            AckRule::InSyncReplicas { replicas } if replicas <= 1 => return ReplicaOutcome::Ok,
            _ => {}
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.moved.notified();
            tokio::pin!(notified);
            // registered before the check: an ack landing in between still wakes us
            notified.as_mut().enable();
            if self.enough(rule, next_offset) {
                return ReplicaOutcome::Ok;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => {
                    return if self.enough(rule, next_offset) { ReplicaOutcome::Ok } else { ReplicaOutcome::Timeout };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn any_slave_rule_answers_like_4_9_8() {
        let t = AckTracker::new();
        let rule = AckRule::AnySlave { fallbehind_max: 1000 };
        // no connection: refused without waiting
        assert_eq!(t.wait(rule, 10, Duration::from_secs(5)).await, ReplicaOutcome::SlaveNotAvailable);
        let c = t.register("s1".into());
        // connected, but too far behind
        assert_eq!(t.wait(rule, 5000, Duration::from_secs(5)).await, ReplicaOutcome::SlaveNotAvailable);
        t.acked(&c, 4500);
        assert_eq!(t.wait(rule, 4600, Duration::from_millis(50)).await, ReplicaOutcome::Timeout);
        let t2 = t.clone();
        let c2 = c.clone();
        let acker = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            t2.acked(&c2, 4600);
        });
        assert_eq!(t.wait(rule, 4600, Duration::from_secs(5)).await, ReplicaOutcome::Ok);
        acker.await.unwrap();
        // push2SlaveMaxOffset survives the connection
        t.unregister(c.id);
        assert_eq!((t.connection_count(), t.push_to_slave_max()), (0, 4600));
    }

    #[tokio::test]
    async fn in_sync_replicas_counts_the_master_and_each_slave() {
        let t = AckTracker::new();
        let one = AckRule::InSyncReplicas { replicas: 1 };
        assert_eq!(t.wait(one, 100, Duration::from_secs(5)).await, ReplicaOutcome::Ok);
        let three = AckRule::InSyncReplicas { replicas: 3 };
        let a = t.register("a".into());
        let b = t.register("b".into());
        t.acked(&a, 100);
        assert_eq!(t.wait(three, 100, Duration::from_millis(40)).await, ReplicaOutcome::Timeout);
        assert_eq!(t.wait(AckRule::InSyncReplicas { replicas: 2 }, 100, Duration::ZERO).await, ReplicaOutcome::Ok);
        t.acked(&b, 150);
        assert_eq!(t.wait(three, 100, Duration::from_millis(40)).await, ReplicaOutcome::Ok);
        assert_eq!(t.in_sync_replicas(200, 101), 3);
        assert_eq!(t.in_sync_replicas(200, 60), 2);
    }
}
