//! Latency histograms (HDR, microseconds), error tallies, and their summaries.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::util::micros;

/// Highest trackable latency: 10 minutes in microseconds (larger values saturate).
const MAX_MICROS: u64 = 600_000_000;

/// One task's tallies; merged at the end of a run.
#[derive(Debug, Clone)]
pub struct Tally {
    pub hist: Histogram<u64>,
    pub ok: u64,
    pub bytes: u64,
    pub errors: BTreeMap<String, u64>,
    /// Latest completion of a measured operation.
    pub last_done: Option<Instant>,
    /// Open loop: the largest delay between a send's due time and its actual start.
    pub max_start_lag: Duration,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            hist: Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds"),
            ok: 0,
            bytes: 0,
            errors: BTreeMap::new(),
            last_done: None,
            max_start_lag: Duration::ZERO,
        }
    }
}

impl Tally {
    pub fn record_ok(&mut self, latency: Duration, bytes: usize, done: Instant) {
        self.hist.saturating_record(micros(latency).max(1));
        self.ok += 1;
        self.bytes += bytes as u64;
        self.mark_done(done);
    }

    /// Counts a failure; `_done` does not extend the measured window (only successes do).
    pub fn record_error(&mut self, key: impl Into<String>, _done: Instant) {
        *self.errors.entry(key.into()).or_insert(0) += 1;
    }

    fn mark_done(&mut self, done: Instant) {
        if !matches!(self.last_done, Some(d) if d >= done) {
            self.last_done = Some(done);
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        // Same bounds on both sides: adding cannot fail.
        self.hist.add(&other.hist).expect("histograms share bounds");
        self.ok += other.ok;
        self.bytes += other.bytes;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_insert(0) += v;
        }
        if let Some(d) = other.last_done {
            self.mark_done(d);
        }
        self.max_start_lag = self.max_start_lag.max(other.max_start_lag);
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Percentiles in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl LatencySummary {
    pub fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min_us: h.min(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }

    /// `p50 0.123 ms  p99 ...` for text output.
    pub fn line(&self) -> String {
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        format!(
            "min {}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {} ms  (mean {:.3} ms, n={})",
            ms(self.min_us),
            ms(self.p50_us),
            ms(self.p90_us),
            ms(self.p99_us),
            ms(self.p999_us),
            ms(self.max_us),
            self.mean_us / 1000.0,
            self.count
        )
    }
}

/// Key for a non-SUCCESS response: `SYSTEM_BUSY(2)`.
pub fn code_key(code: i32) -> String {
    rmq_remoting::ResponseCode(code).to_string()
}

/// Key for a transport failure: `timeout`, `closed`, `connect`.
pub fn transport_key(e: &rmq_remoting::transport::TransportError) -> String {
    use rmq_remoting::transport::TransportError as E;
    match e {
        E::Timeout { .. } => "timeout".into(),
        E::Closed(_) => "connection closed".into(),
        E::Connect { .. } | E::ConnectTimeout { .. } | E::BadAddress(_) => "connect".into(),
    }
}

/// Messages (or operations) per second over `window`, 0 for an empty window.
pub fn per_sec(n: u64, window: Duration) -> f64 {
    let s = window.as_secs_f64();
    if s <= 0.0 {
        0.0
    } else {
        ((n as f64 / s) * 10.0).round() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_summarize() {
        let now = Instant::now();
        let mut a = Tally::default();
        let mut b = Tally::default();
        for i in 1..=1000u64 {
            a.record_ok(Duration::from_micros(i), 10, now);
        }
        b.record_ok(Duration::from_secs(2), 10, now + Duration::from_secs(1));
        b.record_error(code_key(2), now);
        b.record_error(code_key(2), now);
        a.merge(&b);
        assert_eq!(a.ok, 1001);
        assert_eq!(a.bytes, 10010);
        assert_eq!(a.errors.get("SYSTEM_BUSY(2)"), Some(&2));
        assert_eq!(a.last_done, Some(now + Duration::from_secs(1)));
        assert_eq!(a.error_count(), 2);
        let s = LatencySummary::of(&a.hist);
        assert_eq!(s.count, 1001);
        assert!((495..=505).contains(&s.p50_us), "{s:?}");
        assert!(s.p99_us <= s.p999_us && s.p999_us <= s.max_us);
        assert!(s.max_us >= 1_999_000, "{s:?}");
        assert_eq!(LatencySummary::of(&Tally::default().hist), LatencySummary::default());
    }

    #[test]
    fn rates() {
        assert_eq!(per_sec(1000, Duration::from_secs(2)), 500.0);
        assert_eq!(per_sec(5, Duration::ZERO), 0.0);
    }
}
