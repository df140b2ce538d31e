//! When to send: an open-loop rate schedule (send `i` is due at `start + i / rate`,
//! whatever happened to earlier sends) or a closed loop (send as soon as a sender
//! is free). Both are bounded by a duration or a count.
//!
//! Open loop: a pacer thread releases one semaphore permit per due send
//! (`std::thread::sleep` is far finer than tokio's 1 ms timer wheel); a sender
//! takes a permit, then the next ticket index. Its latency is measured from the
//! ticket's scheduled instant, so a slow server makes later sends late and that
//! lateness is counted (no coordinated omission).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::error::{BenchError, Result};

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Measure for this long (after the warm-up).
    Duration(Duration),
    /// Measure this many sends (after the warm-up).
    Count(u64),
}

/// The pure open-loop timetable.
#[derive(Debug, Clone, Copy)]
pub struct RateSchedule {
    start: Instant,
    rate: f64,
    warmup_tickets: u64,
    total_tickets: u64,
}

impl RateSchedule {
    pub fn new(start: Instant, rate: f64, warmup: Duration, limit: Limit) -> Result<RateSchedule> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(BenchError::Config(format!("rate must be positive, got {rate}")));
        }
        let warmup_tickets = (warmup.as_secs_f64() * rate).ceil() as u64;
        let measured = match limit {
            Limit::Duration(d) => (d.as_secs_f64() * rate).ceil() as u64,
            Limit::Count(n) => n,
        };
        Ok(RateSchedule { start, rate, warmup_tickets, total_tickets: warmup_tickets + measured })
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn total(&self) -> u64 {
        self.total_tickets
    }

    pub fn warmup_tickets(&self) -> u64 {
        self.warmup_tickets
    }

    /// The first measured instant (end of warm-up).
    pub fn measure_start(&self) -> Instant {
        self.scheduled_at(self.warmup_tickets)
    }

    fn offset_nanos(&self, idx: u64) -> u64 {
        (idx as f64 * 1e9 / self.rate) as u64
    }

    /// When send `idx` is due.
    pub fn scheduled_at(&self, idx: u64) -> Instant {
        self.start + Duration::from_nanos(self.offset_nanos(idx))
    }

    pub fn is_measured(&self, idx: u64) -> bool {
        idx >= self.warmup_tickets
    }

    /// How many sends are due once `elapsed` has passed since the start (capped at the total).
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        let e = elapsed.as_nanos().min(u64::MAX as u128) as u64;
        let mut k = ((e as f64 * self.rate / 1e9).floor() as u64).saturating_add(1).min(self.total_tickets);
        // Float rounding: agree exactly with `offset_nanos`.
        while k > 0 && self.offset_nanos(k - 1) > e {
            k -= 1;
        }
        while k < self.total_tickets && self.offset_nanos(k) <= e {
            k += 1;
        }
        k
    }
}

/// Closed-loop bounds shared by all senders.
#[derive(Debug)]
pub struct ClosedLoop {
    warmup_end: Instant,
    deadline: Option<Instant>,
    count: Option<u64>,
    measured_issued: AtomicU64,
}

impl ClosedLoop {
    pub fn new(start: Instant, warmup: Duration, limit: Limit) -> ClosedLoop {
        let warmup_end = start + warmup;
        let (deadline, count) = match limit {
            Limit::Duration(d) => (Some(warmup_end + d), None),
            Limit::Count(n) => (None, Some(n)),
        };
        ClosedLoop { warmup_end, deadline, count, measured_issued: AtomicU64::new(0) }
    }

    pub fn measure_start(&self) -> Instant {
        self.warmup_end
    }

    /// May a send start at `now`? `Some(measured)` if so.
    pub fn next(&self, now: Instant) -> Option<bool> {
        if self.deadline.is_some_and(|d| now >= d) {
            return None;
        }
        let measured = now >= self.warmup_end;
        if measured {
            if let Some(n) = self.count {
                if self.measured_issued.fetch_add(1, Ordering::Relaxed) >= n {
                    return None;
                }
            }
        }
        Some(measured)
    }
}

/// One permitted send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Open loop: when the send was due; latency is measured from here.
    pub scheduled: Option<Instant>,
    pub measured: bool,
}

/// What senders draw tickets from.
pub enum Tickets {
    Open { schedule: RateSchedule, permits: Arc<Semaphore>, next: AtomicU64, stop: Arc<AtomicBool> },
    Closed { bounds: ClosedLoop, stop: Arc<AtomicBool> },
}

impl Tickets {
    /// Open loop at `rate` (> 0) or closed loop (`rate == 0`), starting now.
    pub fn new(rate: f64, warmup: Duration, limit: Limit) -> Result<Tickets> {
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        if rate > 0.0 {
            let schedule = RateSchedule::new(start, rate, warmup, limit)?;
            Ok(Tickets::Open { schedule, permits: Arc::new(Semaphore::new(0)), next: AtomicU64::new(0), stop })
        } else if rate == 0.0 {
            Ok(Tickets::Closed { bounds: ClosedLoop::new(start, warmup, limit), stop })
        } else {
            Err(BenchError::Config(format!("rate must be >= 0, got {rate}")))
        }
    }

    pub fn measure_start(&self) -> Instant {
        match self {
            Tickets::Open { schedule, .. } => schedule.measure_start(),
            Tickets::Closed { bounds, .. } => bounds.measure_start(),
        }
    }

    pub fn is_open_loop(&self) -> bool {
        matches!(self, Tickets::Open { .. })
    }

    /// Starts the pacer (open loop only); `senders` is how many tasks call [`Tickets::next`].
    pub fn start_pacer(self: &Arc<Self>, senders: usize) -> Option<std::thread::JoinHandle<()>> {
        match &**self {
            Tickets::Open { schedule, permits, stop, .. } => {
                let (schedule, permits, stop) = (*schedule, permits.clone(), stop.clone());
                Some(std::thread::spawn(move || pace(schedule, &permits, &stop, senders)))
            }
            Tickets::Closed { .. } => None,
        }
    }

    /// Ends the run early: no more tickets.
    pub fn stop(&self) {
        match self {
            Tickets::Open { stop, .. } | Tickets::Closed { stop, .. } => stop.store(true, Ordering::Release),
        }
    }

    /// The next send, or `None` when the run is over.
    pub async fn next(&self) -> Option<Ticket> {
        match self {
            Tickets::Open { schedule, permits, next, stop } => {
                permits.acquire().await.ok()?.forget();
                let idx = next.fetch_add(1, Ordering::Relaxed);
                if stop.load(Ordering::Acquire) || idx >= schedule.total() {
                    return None;
                }
                Some(Ticket { scheduled: Some(schedule.scheduled_at(idx)), measured: schedule.is_measured(idx) })
            }
            Tickets::Closed { bounds, stop } => {
                if stop.load(Ordering::Acquire) {
                    return None;
                }
                bounds.next(Instant::now()).map(|measured| Ticket { scheduled: None, measured })
            }
        }
    }
}

/// Releases permits as sends fall due; at the end, one extra permit per sender so
/// every waiting sender wakes up, sees the schedule is exhausted, and stops.
fn pace(schedule: RateSchedule, permits: &Semaphore, stop: &AtomicBool, senders: usize) {
    let mut released = 0u64;
    while released < schedule.total() && !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        let due = schedule.due_by(now.saturating_duration_since(schedule.start()));
        if due > released {
            permits.add_permits((due - released) as usize);
            released = due;
        }
        if released >= schedule.total() {
            break;
        }
        let next_at = schedule.scheduled_at(released);
        let wait = next_at.saturating_duration_since(Instant::now()).min(Duration::from_millis(50));
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
    permits.add_permits(senders);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_and_bounded_by_duration() {
        let t0 = Instant::now();
        let s =
            RateSchedule::new(t0, 1000.0, Duration::from_millis(500), Limit::Duration(Duration::from_secs(1))).unwrap();
        assert_eq!(s.warmup_tickets(), 500);
        assert_eq!(s.total(), 1500);
        assert_eq!(s.scheduled_at(0), t0);
        assert_eq!(s.scheduled_at(1) - t0, Duration::from_millis(1));
        assert_eq!(s.scheduled_at(1499) - t0, Duration::from_millis(1499));
        assert_eq!(s.measure_start() - t0, Duration::from_millis(500));
        assert!(!s.is_measured(499));
        assert!(s.is_measured(500));
    }

    #[test]
    fn due_counts_match_schedule() {
        let s = RateSchedule::new(Instant::now(), 1000.0, Duration::ZERO, Limit::Count(10)).unwrap();
        assert_eq!(s.due_by(Duration::ZERO), 1);
        assert_eq!(s.due_by(Duration::from_micros(999)), 1);
        assert_eq!(s.due_by(Duration::from_millis(1)), 2);
        assert_eq!(s.due_by(Duration::from_micros(4500)), 5);
        assert_eq!(s.due_by(Duration::from_secs(3600)), 10);
        // Odd rates: due_by never disagrees with scheduled_at.
        let s = RateSchedule::new(Instant::now(), 3.0, Duration::ZERO, Limit::Count(100)).unwrap();
        for k in 0..100u64 {
            let at = s.scheduled_at(k) - s.start();
            assert_eq!(s.due_by(at), k + 1, "ticket {k}");
            if !at.is_zero() {
                assert_eq!(s.due_by(at - Duration::from_nanos(1)), k, "just before ticket {k}");
            }
        }
    }

    #[test]
    fn fractional_and_invalid_rates() {
        let s =
            RateSchedule::new(Instant::now(), 0.5, Duration::ZERO, Limit::Duration(Duration::from_secs(4))).unwrap();
        assert_eq!(s.total(), 2);
        assert_eq!(s.scheduled_at(1) - s.start(), Duration::from_secs(2));
        assert!(RateSchedule::new(Instant::now(), 0.0, Duration::ZERO, Limit::Count(1)).is_err());
        assert!(RateSchedule::new(Instant::now(), f64::NAN, Duration::ZERO, Limit::Count(1)).is_err());
    }

    #[test]
    fn closed_loop_count_and_deadline() {
        let t0 = Instant::now();
        let c = ClosedLoop::new(t0, Duration::from_millis(10), Limit::Count(3));
        assert_eq!(c.next(t0), Some(false), "warm-up sends are not counted");
        let later = t0 + Duration::from_millis(20);
        assert_eq!((c.next(later), c.next(later), c.next(later)), (Some(true), Some(true), Some(true)));
        assert_eq!(c.next(later), None);
        let c = ClosedLoop::new(t0, Duration::ZERO, Limit::Duration(Duration::from_secs(1)));
        assert_eq!(c.next(t0 + Duration::from_millis(999)), Some(true));
        assert_eq!(c.next(t0 + Duration::from_secs(1)), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pacer_releases_every_ticket_on_time() {
        let tickets = Arc::new(
            Tickets::new(2000.0, Duration::from_millis(50), Limit::Duration(Duration::from_millis(200))).unwrap(),
        );
        let senders = 3;
        let pacer = tickets.start_pacer(senders).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..senders {
            let t = tickets.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(tk) = t.next().await {
                    let lateness = Instant::now().saturating_duration_since(tk.scheduled.unwrap());
                    assert!(Instant::now() + Duration::from_micros(1) >= tk.scheduled.unwrap(), "released early");
                    got.push((tk.measured, lateness));
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        pacer.join().unwrap();
        assert_eq!(all.len(), 500, "100 warm-up + 400 measured");
        assert_eq!(all.iter().filter(|(m, _)| *m).count(), 400);
        let mut late: Vec<_> = all.iter().map(|(_, l)| *l).collect();
        late.sort();
        // Generous: a loaded 2-core CI box still releases the median within 20 ms.
        assert!(late[late.len() / 2] < Duration::from_millis(20), "median lateness {:?}", late[late.len() / 2]);
    }

    #[tokio::test]
    async fn stop_ends_an_open_loop_early() {
        let tickets = Arc::new(Tickets::new(10.0, Duration::ZERO, Limit::Duration(Duration::from_secs(60))).unwrap());
        let pacer = tickets.start_pacer(1).unwrap();
        assert!(tickets.next().await.is_some());
        tickets.stop();
        let t0 = Instant::now();
        assert_eq!(tickets.next().await, None);
        assert!(t0.elapsed() < Duration::from_secs(2));
        pacer.join().unwrap();
    }
}
