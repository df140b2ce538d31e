//! Idle-resource helpers: a process's resident memory, and a daemon's time from
//! spawn to its first accepted connection.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};
use crate::util::check_loopback;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RssReport {
    pub pid: u32,
    pub vm_rss_kib: u64,
    /// Peak resident set (`VmHWM`).
    pub vm_hwm_kib: Option<u64>,
    pub threads: Option<u64>,
}

impl RssReport {
    pub fn render_text(&self) -> String {
        let mut s =
            format!("pid {}  VmRSS {} kB ({:.1} MiB)", self.pid, self.vm_rss_kib, self.vm_rss_kib as f64 / 1024.0);
        if let Some(h) = self.vm_hwm_kib {
            s.push_str(&format!("  VmHWM {h} kB"));
        }
        if let Some(t) = self.threads {
            s.push_str(&format!("  threads {t}"));
        }
        s.push('\n');
        s
    }
}

/// Parses the text of `/proc/PID/status`.
pub fn parse_status(pid: u32, text: &str) -> Result<RssReport> {
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let vm_rss_kib =
        field("VmRSS").ok_or(BenchError::Proc { pid, reason: "no VmRSS line (kernel thread or zombie?)".into() })?;
    Ok(RssReport { pid, vm_rss_kib, vm_hwm_kib: field("VmHWM"), threads: field("Threads") })
}

/// Reads `/proc/PID/status` VmRSS.
pub fn rss(pid: u32) -> Result<RssReport> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| BenchError::Proc { pid, reason: e.to_string() })?;
    parse_status(pid, &text)
}

#[derive(Debug, Clone)]
pub struct StartupConfig {
    pub command: Vec<String>,
    /// The loopback address the daemon listens on.
    pub addr: String,
    pub timeout: Duration,
    /// After the first accept, wait this long and then read the daemon's RSS.
    pub settle: Duration,
    /// Show the daemon's stdout/stderr (default: discarded).
    pub show_output: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupReport {
    pub command: Vec<String>,
    pub addr: String,
    pub pid: u32,
    /// From spawn to the first connection the daemon accepted.
    pub startup_ms: f64,
    pub connect_attempts: u64,
    /// Resident memory after `settle`, if the daemon was still running.
    pub rss_after_settle: Option<RssReport>,
}

impl StartupReport {
    pub fn render_text(&self) -> String {
        let mut s = format!(
            "{} accepted on {} after {:.1} ms ({} connect attempts), pid {}\n",
            self.command.join(" "),
            self.addr,
            self.startup_ms,
            self.connect_attempts,
            self.pid
        );
        if let Some(r) = &self.rss_after_settle {
            s.push_str(&format!("idle {}", r.render_text()));
        }
        s
    }
}

/// Stops a child we started: SIGTERM, up to 10 s grace, then SIGKILL.
fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SAFETY: signalling our own child process by its pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `command`, polls `addr` until it accepts, then stops the daemon again.
pub fn startup(cfg: &StartupConfig) -> Result<StartupReport> {
    check_loopback(&cfg.addr)?;
    let (prog, args) =
        cfg.command.split_first().ok_or_else(|| BenchError::Config("startup needs a command after --".into()))?;
    let targets: Vec<SocketAddr> = cfg
        .addr
        .to_socket_addrs()
        .map_err(|e| BenchError::io(format!("resolve {}", cfg.addr), e))?
        .filter(|a| a.ip().is_loopback())
        .collect();
    if targets.is_empty() {
        return Err(BenchError::NonLoopback(cfg.addr.clone()));
    }
    let output = || if cfg.show_output { Stdio::inherit() } else { Stdio::null() };
    let t0 = Instant::now();
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(output())
        .stderr(output())
        .spawn()
        .map_err(|e| BenchError::io(format!("start {prog}"), e))?;
    let pid = child.id();
    let mut attempts = 0u64;
    let accepted = loop {
        attempts += 1;
        if targets.iter().any(|a| TcpStream::connect_timeout(a, Duration::from_millis(100)).is_ok()) {
            break Some(t0.elapsed());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(BenchError::Startup(format!("{prog} exited with {status} before accepting on {}", cfg.addr)));
        }
        if t0.elapsed() >= cfg.timeout {
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let Some(took) = accepted else {
        stop_child(&mut child);
        return Err(BenchError::Startup(format!("{prog} did not accept on {} within {:?}", cfg.addr, cfg.timeout)));
    };
    std::thread::sleep(cfg.settle);
    let rss_after_settle = match child.try_wait() {
        Ok(None) => rss(pid).ok(),
        _ => None,
    };
    stop_child(&mut child);
    Ok(StartupReport {
        command: cfg.command.clone(),
        addr: cfg.addr.clone(),
        pid,
        startup_ms: (took.as_secs_f64() * 1e4).round() / 10.0,
        connect_attempts: attempts,
        rss_after_settle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parsing() {
        let text = "Name:\tmqnamesrv\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n";
        let r = parse_status(42, text).unwrap();
        assert_eq!((r.vm_rss_kib, r.vm_hwm_kib, r.threads), (10240, Some(20480), Some(7)));
        assert!(matches!(parse_status(1, "Name:\tkthreadd\n"), Err(BenchError::Proc { .. })));
    }

    #[test]
    fn own_rss_is_readable() {
        let r = rss(std::process::id()).unwrap();
        assert!(r.vm_rss_kib > 0);
    }
}
