//! A one-shot completion handle usable from blocking and from async code,
//! without depending on any runtime.
//!
//! Why not a crate (`oneshot`, `futures-channel`): the SYNC_FLUSH path needs
//! *first completer wins* semantics (the group-commit thread and the
//! `syncFlushTimeout` watcher race to resolve the same put), which those
//! channels do not offer without an extra `Mutex<Option<Sender>>`. This is a
//! `Mutex` + `Condvar` + `Waker`, nothing more.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Every [`Completer`] was dropped without producing a value (the store shut
/// down or a service thread died).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store dropped the operation without completing it")]
pub struct Canceled;

struct State<T> {
    value: Option<T>,
    /// A value was produced (it may already have been taken).
    done: bool,
    completers: usize,
    waker: Option<Waker>,
    /// A thread is blocked in `wait`: only then is the condvar signalled
    /// (a futex wake is a syscall, paid per put otherwise).
    blocked: bool,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    cv: Condvar,
}

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A poisoned lock only means a completer panicked; the state is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The producing side. Cloneable; the first `complete` wins.
pub struct Completer<T> {
    inner: Arc<Inner<T>>,
}

/// The consuming side: `wait()` blocks, `.await` works on any executor.
pub struct Completion<T> {
    inner: Arc<Inner<T>>,
}

/// A connected pair.
pub fn pair<T>() -> (Completer<T>, Completion<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State { value: None, done: false, completers: 1, waker: None, blocked: false }),
        cv: Condvar::new(),
    });
    (Completer { inner: inner.clone() }, Completion { inner })
}

impl<T> Completer<T> {
    /// Resolves the completion; returns false when it was already resolved.
    /// Consumes this completer: one lock for both the value and the release.
    pub fn complete(self, value: T) -> bool {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; the Arc is moved out once.
        let inner = unsafe { std::ptr::read(&this.inner) };
        let (won, waker, blocked) = {
            let mut s = inner.lock();
            s.completers -= 1;
            if s.done {
                (false, None, false)
            } else {
                s.done = true;
                s.value = Some(value);
                (true, s.waker.take(), s.blocked)
            }
        };
        if blocked && won {
            inner.cv.notify_all();
        }
        if let Some(w) = waker {
            w.wake();
        }
        won
    }

    /// Whether a value was already produced.
    pub fn is_done(&self) -> bool {
        self.inner.lock().done
    }
}

impl<T> Clone for Completer<T> {
    fn clone(&self) -> Self {
        self.inner.lock().completers += 1;
        Completer { inner: self.inner.clone() }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        let (waker, blocked) = {
            let mut s = self.inner.lock();
            s.completers -= 1;
            if s.completers > 0 || s.done {
                return;
            }
            (s.waker.take(), s.blocked)
        };
        // last completer gone without a value: wake the waiter so it sees Canceled
        if blocked {
            self.inner.cv.notify_all();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Completion<T> {
    /// An already resolved completion.
    pub fn ready(value: T) -> Self {
        let (c, r) = pair();
        c.complete(value);
        r
    }

    /// Blocks until resolved.
    pub fn wait(self) -> Result<T, Canceled> {
        let mut s = self.inner.lock();
        loop {
            if let Some(v) = s.value.take() {
                return Ok(v);
            }
            if s.done || s.completers == 0 {
                return Err(Canceled);
            }
            s.blocked = true;
            s = self.inner.cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Blocks at most `timeout`; `None` when still pending (the handle stays usable).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<T, Canceled>> {
        let deadline = Instant::now() + timeout;
        let mut s = self.inner.lock();
        loop {
            if let Some(v) = s.value.take() {
                return Some(Ok(v));
            }
            if s.done || s.completers == 0 {
                return Some(Err(Canceled));
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            s.blocked = true;
            s = self.inner.cv.wait_timeout(s, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Blocks until resolved (or `timeout`) without taking the value; true when ready.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.inner.lock();
        loop {
            if s.done || s.completers == 0 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s.blocked = true;
            s = self.inner.cv.wait_timeout(s, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Whether `wait` would return without blocking.
    pub fn is_ready(&self) -> bool {
        let s = self.inner.lock();
        s.done || s.completers == 0
    }
}

impl<T> Future for Completion<T> {
    type Output = Result<T, Canceled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.inner.lock();
        if let Some(v) = s.value.take() {
            return Poll::Ready(Ok(v));
        }
        if s.done || s.completers == 0 {
            return Poll::Ready(Err(Canceled));
        }
        match &s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> std::fmt::Debug for Completion<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion").field("ready", &self.is_ready()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountWake(AtomicUsize, std::thread::Thread);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1.unpark();
        }
    }

    /// Minimal executor: polls, parks until woken.
    fn block_on<F: Future>(f: F) -> (F::Output, usize) {
        let w = Arc::new(CountWake(AtomicUsize::new(0), std::thread::current()));
        let waker = Waker::from(w.clone());
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return (v, w.0.load(Ordering::SeqCst));
            }
            std::thread::park();
        }
    }

    #[test]
    fn first_completer_wins_and_blocking_wait() {
        let (c, r) = pair::<u32>();
        let c2 = c.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            assert!(c2.complete(1));
        });
        assert_eq!(r.wait(), Ok(1));
        t.join().unwrap();
        assert!(c.is_done());
        assert!(!c.complete(2));
    }

    #[test]
    fn future_is_woken_from_another_thread() {
        let (c, r) = pair::<&'static str>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            c.complete("x");
        });
        let (v, wakes) = block_on(r);
        assert_eq!(v, Ok("x"));
        assert!(wakes >= 1);
        t.join().unwrap();
    }

    #[test]
    fn dropping_all_completers_cancels() {
        let (c, r) = pair::<u8>();
        let c2 = c.clone();
        drop(c);
        assert!(!r.is_ready());
        drop(c2);
        assert_eq!(r.wait(), Err(Canceled));
        let (c, r) = pair::<u8>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            drop(c)
        });
        assert_eq!(block_on(r).0, Err(Canceled));
        t.join().unwrap();
    }

    #[test]
    fn timeout_keeps_handle_usable() {
        let (c, mut r) = pair::<u8>();
        assert_eq!(r.wait_timeout(Duration::from_millis(5)), None);
        assert!(!r.wait_ready(Duration::from_millis(5)));
        c.complete(7);
        assert!(r.wait_ready(Duration::from_millis(5)));
        assert_eq!(r.wait_timeout(Duration::from_millis(5)), Some(Ok(7)));
        assert_eq!(Completion::ready(3).wait(), Ok(3));
    }
}
