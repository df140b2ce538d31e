//! Small helpers: duration parsing, the loopback guard, wall-clock stamps.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{BenchError, Result};

/// Parses `30s`, `500ms`, `2m`, `1.5s`, `100us`, `1h`; a bare number is seconds.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("bad duration {s:?} (examples: 30s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "ns" => value / 1e9,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("bad duration unit {other:?} in {s:?} (use ns, us, ms, s, m, h)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Accepts only loopback targets: this tool never dials anything else.
pub fn check_loopback(addr: &str) -> Result<()> {
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return if sa.ip().is_loopback() { Ok(()) } else { Err(BenchError::NonLoopback(addr.to_string())) };
    }
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| BenchError::BadAddress(addr.to_string()))?;
    if port.parse::<u16>().is_err() {
        return Err(BenchError::BadAddress(addr.to_string()));
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(()),
        Err(_) if host.eq_ignore_ascii_case("localhost") => Ok(()),
        _ => Err(BenchError::NonLoopback(addr.to_string())),
    }
}

/// Microseconds since the Unix epoch.
pub fn unix_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// Maps monotonic instants to wall-clock microseconds, anchored once, so a
/// scheduled (future or past) instant gets a consistent wall time.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    anchor: Instant,
    anchor_micros: i64,
}

impl WallClock {
    pub fn new() -> WallClock {
        WallClock { anchor: Instant::now(), anchor_micros: unix_micros() }
    }

    pub fn micros_at(&self, at: Instant) -> i64 {
        if at >= self.anchor {
            self.anchor_micros + (at - self.anchor).as_micros() as i64
        } else {
            self.anchor_micros - (self.anchor - at).as_micros() as i64
        }
    }
}

impl Default for WallClock {
    fn default() -> Self {
        WallClock::new()
    }
}

/// Saturating micros of a duration, for histograms.
pub fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 parsecs").is_err());
    }

    #[test]
    fn loopback_only() {
        assert!(check_loopback("127.0.0.1:9876").is_ok());
        assert!(check_loopback("127.3.2.1:10911").is_ok());
        assert!(check_loopback("[::1]:9876").is_ok());
        assert!(check_loopback("localhost:9876").is_ok());
        assert!(matches!(check_loopback("10.0.0.1:9876"), Err(BenchError::NonLoopback(_))));
        assert!(matches!(check_loopback("example.org:9876"), Err(BenchError::NonLoopback(_))));
        assert!(matches!(check_loopback("127.0.0.1"), Err(BenchError::BadAddress(_))));
    }
}
