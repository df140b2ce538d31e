//! How the append thread waits for work: polling while network threads
//! run (default mode), napping in write-buffer mode.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use super::Request;
use crate::append::handoff::HANDOFF;
use crate::append::tail::TailSignal;

/// Waits for the next request: first by prefetching the page cache ahead
/// of the writes, then while a network worker runs (see
/// [`crate::append::handoff`]), then spinning briefly, then parked. Under load the
/// next put is usually microseconds away, and a park/unpark per round costs
/// more than the whole append. Puts staged by network threads count as a
/// request ([`Request::Wake`]).
pub(super) fn wait_request(
    rx: &Receiver<Request>,
    signal: &TailSignal,
    mut prefetch_step: impl FnMut() -> bool,
) -> Option<Request> {
    let poll = |gone: &mut bool| match rx.try_recv() {
        Ok(r) => Some(r),
        Err(TryRecvError::Empty) if signal.is_pending() => Some(Request::Wake),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Disconnected) => {
            *gone = true;
            None
        }
    };
    let mut gone = false;
    loop {
        match poll(&mut gone) {
            Some(r) => return Some(r),
            None if gone => return None,
            None if prefetch_step() => {}
            None => break,
        }
    }
    let waited = HANDOFF.appender_wait(|| poll(&mut gone));
    if waited.is_some() || gone {
        return waited;
    }
    for i in 0..SPIN_ROUNDS {
        match poll(&mut gone) {
            Some(r) => return Some(r),
            None if gone => return None,
            None if i < SPIN_ROUNDS / 2 => std::hint::spin_loop(),
            None => std::thread::yield_now(),
        }
    }
    if !signal.park() {
        return Some(Request::Wake);
    }
    let r = rx.recv().ok();
    signal.unparked();
    r
}

/// Write-buffer mode's wait: nobody waits for this thread's answers, so
/// instead of polling it naps, and takes what network threads staged after
/// at least one nap, so each write carries many puts (taking each put as it
/// came cost one `pwrite` per message). Queued requests are served at once.
/// After `IDLE_NAPS` naps with nothing staged it parks until woken.
pub(super) fn wait_staged(
    rx: &Receiver<Request>,
    signal: &TailSignal,
    mut prefetch_step: impl FnMut() -> bool,
) -> Option<Request> {
    let (mut napped, mut idle) = (false, 0);
    loop {
        match rx.try_recv() {
            Ok(r) => return Some(r),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        if napped && signal.is_pending() {
            return Some(Request::Wake);
        }
        if prefetch_step() {
            continue;
        }
        if idle >= IDLE_NAPS {
            if !signal.park() {
                return Some(Request::Wake);
            }
            let r = rx.recv().ok();
            signal.unparked();
            return r;
        }
        match rx.recv_timeout(NAP) {
            Ok(r) => return Some(r),
            Err(RecvTimeoutError::Disconnected) => return None,
            Err(RecvTimeoutError::Timeout) => {
                napped = true;
                if !signal.is_pending() {
                    idle += 1;
                }
            }
        }
    }
}

/// Write-buffer mode: how long staged puts may wait for their write (and
/// for consumers to see them), and how many empty naps make the thread park.
const NAP: Duration = Duration::from_micros(200);
const IDLE_NAPS: u32 = 20;

/// Tries before parking (half busy-spins, half yields: a few microseconds).
/// Longer spinning took CPU from the network threads on a small machine:
/// 200 tries gave about 5% less sync-send throughput than 20 on 2 cores, and
/// parking at once (0) about 10% less (rmq-bench produce, alternating runs).
const SPIN_ROUNDS: u32 = 20;
