//! "New bytes in the commitlog": wakes idle master connections (Java's
//! `WaitNotifyObject#wakeupAll`). Called from the store's append thread for
//! every dispatched message, so the common case (nobody waiting) is one atomic load.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct DataSignal {
    waiters: AtomicUsize,
    notify: Notify,
}

/// A registered interest: take it before looking at the log, await it after
/// finding nothing, and no notification in between is lost.
pub struct Listener<'a> {
    signal: &'a DataSignal,
    notified: Pin<Box<Notified<'a>>>,
}

impl DataSignal {
    pub fn new() -> DataSignal {
        DataSignal::default()
    }

    /// New data was written.
    pub fn notify(&self) {
        if self.waiters.load(Ordering::Acquire) > 0 {
            self.notify.notify_waiters();
        }
    }

    pub fn listen(&self) -> Listener<'_> {
        let mut notified = Box::pin(self.notify.notified());
        notified.as_mut().enable();
        self.waiters.fetch_add(1, Ordering::AcqRel);
        Listener { signal: self, notified }
    }
}

impl Listener<'_> {
    /// Returns when notified or after `timeout`, whichever comes first.
    pub async fn wait(mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.notified.as_mut()).await;
    }
}

impl Drop for Listener<'_> {
    fn drop(&mut self) {
        self.signal.waiters.fetch_sub(1, Ordering::AcqRel);
    }
}

// held across awaits in spawned tasks
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Listener<'static>>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_notification_between_listen_and_wait_is_not_lost() {
        let s = DataSignal::new();
        let l = s.listen();
        s.notify();
        let t = std::time::Instant::now();
        l.wait(Duration::from_secs(5)).await;
        assert!(t.elapsed() < Duration::from_secs(1));
        // nobody listening: nothing stored for later
        s.notify();
        let t = std::time::Instant::now();
        s.listen().wait(Duration::from_millis(50)).await;
        assert!(t.elapsed() >= Duration::from_millis(45));
    }
}
