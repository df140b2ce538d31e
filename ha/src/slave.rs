//! The slave side (Java `HAClient`): connects to the master's HA address,
//! reports its commitlog end, appends every frame it receives and reports
//! again; reconnects when the connection drops.
//!
//! Differences from Java, on purpose: the first report goes out as soon as
//! the connection is up (4.9.8 waits one `haSendHeartbeatInterval`, which only
//! delays catch-up; the master accepts both), and housekeeping closes a
//! connection that *read* nothing for `haHousekeepingInterval` (5.3.3's rule;
//! 4.9.8 looked at its own writes, which never stop).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::codec::{encode_report, CodecError, FrameReader};
use crate::config::HaConfig;
use crate::log::{HaLog, LogError};

/// Where the client should be connected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Target {
    enabled: bool,
    master: Option<String>,
}

#[derive(Debug, Error)]
enum SessionEnd {
    #[error("master closed the connection")]
    Eof,
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("master pushed offset {master}, but the slave's commitlog ends at {slave}")]
    OffsetMismatch { master: u64, slave: u64 },
    #[error("appending replicated data: {0}")]
    Append(#[from] LogError),
    #[error("nothing read from the master for {0:?} (haHousekeepingInterval)")]
    Housekeeping(Duration),
    #[error("master address or role changed")]
    Retarget,
    #[error("HA client stopping")]
    Stopped,
}

impl SessionEnd {
    /// Errors on our side wait before reconnecting (no tight loop on a broken
    /// disk); a master that went away is retried at once, as 4.9.8 does.
    fn needs_backoff(&self) -> bool {
        matches!(self, SessionEnd::Codec(_) | SessionEnd::OffsetMismatch { .. } | SessionEnd::Append(_))
    }
}

/// Live facts about the client, for status pages and tests.
#[derive(Debug, Default)]
pub struct ClientStats {
    connected: AtomicBool,
    reported: AtomicU64,
    sessions: AtomicU64,
}

impl ClientStats {
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }
    /// Last offset reported to the master.
    pub fn reported(&self) -> u64 {
        self.reported.load(Ordering::Acquire)
    }
    /// Connections made so far.
    pub fn sessions(&self) -> u64 {
        self.sessions.load(Ordering::Acquire)
    }
}

struct Shared {
    log: Arc<dyn HaLog>,
    cfg: HaConfig,
    stats: ClientStats,
    /// Held for the whole life of a connection: disabling waits on it, so no
    /// append is in flight once `set_enabled(false)` returns.
    session: tokio::sync::Mutex<()>,
}

/// The running client task.
pub struct HaClient {
    shared: Arc<Shared>,
    target: watch::Sender<Target>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl HaClient {
    /// Starts the task; it connects once enabled and given a master address.
    pub fn start(log: Arc<dyn HaLog>, cfg: HaConfig, enabled: bool, master: Option<String>) -> HaClient {
        let shared = Arc::new(Shared { log, cfg, stats: ClientStats::default(), session: tokio::sync::Mutex::new(()) });
        let (target, target_rx) = watch::channel(Target { enabled, master });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(shared.clone(), target_rx, stop_rx));
        HaClient { shared, target, stop, task: Mutex::new(Some(task)) }
    }

    /// Java `updateHaMasterAddress`.
    pub fn set_master_address(&self, addr: Option<String>) {
        self.target.send_if_modified(|t| {
            if t.master == addr {
                return false;
            }
            info!(old = ?t.master, new = ?addr, "HA master address updated");
            t.master = addr;
            true
        });
    }

    pub fn master_address(&self) -> Option<String> {
        self.target.borrow().master.clone()
    }

    /// Turns replication on (slave role) or off; off returns once any
    /// connection is closed and no append is in flight.
    pub async fn set_enabled(&self, on: bool) {
        self.target.send_if_modified(|t| std::mem::replace(&mut t.enabled, on) != on);
        if !on {
            let _idle = self.shared.session.lock().await;
        }
    }

    pub fn stats(&self) -> &ClientStats {
        &self.shared.stats
    }

    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

async fn run(shared: Arc<Shared>, mut target_rx: watch::Receiver<Target>, mut stop: watch::Receiver<bool>) {
    let cfg = shared.cfg.clone();
    let mut backoff = false;
    loop {
        if *stop.borrow() {
            return;
        }
        let target = target_rx.borrow_and_update().clone();
        let addr = match target {
            Target { enabled: true, master: Some(a) } => a,
            _ => {
                tokio::select! {
                    r = target_rx.changed() => if r.is_err() { return },
                    _ = stop.changed() => return,
                }
                continue;
            }
        };
        if std::mem::take(&mut backoff) {
            tokio::select! {
                _ = tokio::time::sleep(cfg.reconnect_backoff) => {}
                r = target_rx.changed() => if r.is_err() { return },
                _ = stop.changed() => return,
            }
            continue;
        }
        let guard = shared.session.lock().await;
        if *target_rx.borrow() != (Target { enabled: true, master: Some(addr.clone()) }) {
            continue;
        }
        let connect = tokio::select! {
            r = tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(addr.as_str())) => r,
            _ = stop.changed() => return,
        };
        let stream = match connect {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                warn!(master = %addr, error = %e, "HA client cannot connect to the master");
                backoff = true;
                continue;
            }
            Err(_) => {
                warn!(master = %addr, timeout = ?cfg.connect_timeout, "HA client connect timed out");
                backoff = true;
                continue;
            }
        };
        shared.stats.sessions.fetch_add(1, Ordering::AcqRel);
        shared.stats.connected.store(true, Ordering::Release);
        info!(master = %addr, "HA client connected to the master");
        let end = session(stream, &shared, &addr, &mut target_rx, &mut stop).await;
        shared.stats.connected.store(false, Ordering::Release);
        drop(guard);
        match &end {
            SessionEnd::Stopped => {
                info!(master = %addr, "HA client stopped");
                return;
            }
            SessionEnd::Retarget => info!(master = %addr, reason = %end, "HA client closed the connection"),
            other => warn!(master = %addr, reason = %other, "HA client lost the master connection"),
        }
        backoff = end.needs_backoff();
    }
}

async fn report(wr: &mut OwnedWriteHalf, stats: &ClientStats, offset: u64) -> Result<(), SessionEnd> {
    wr.write_all(&encode_report(offset)).await?;
    stats.reported.store(offset, Ordering::Release);
    Ok(())
}

async fn session(
    stream: TcpStream,
    shared: &Shared,
    addr: &str,
    target_rx: &mut watch::Receiver<Target>,
    stop: &mut watch::Receiver<bool>,
) -> SessionEnd {
    if let Err(e) = stream.set_nodelay(true) {
        debug!(error = %e, "TCP_NODELAY not set");
    }
    let (mut rd, mut wr) = stream.into_split();
    let (log, cfg, stats) = (&shared.log, &shared.cfg, &shared.stats);
    let mut reported = log.max_offset();
    if let Err(e) = report(&mut wr, stats, reported).await {
        return e;
    }
    let mut last_write = Instant::now();
    let mut last_read = Instant::now();
    let mut frames = FrameReader::default();
    loop {
        frames.buffer().reserve(64 * 1024);
        tokio::select! {
            r = rd.read_buf(frames.buffer()) => {
                match r {
                    Ok(0) => return SessionEnd::Eof,
                    Ok(_) => last_read = Instant::now(),
                    Err(e) => return e.into(),
                }
                if let Err(e) = apply_frames(&mut frames, shared, &mut wr, &mut reported, &mut last_write).await {
                    return e;
                }
            }
            _ = tokio::time::sleep_until(last_write + cfg.heartbeat_interval) => {
                if let Err(e) = report(&mut wr, stats, reported).await {
                    return e;
                }
                last_write = Instant::now();
            }
            _ = tokio::time::sleep_until(last_read + cfg.housekeeping_interval) => {
                return SessionEnd::Housekeeping(cfg.housekeeping_interval);
            }
            r = target_rx.changed() => {
                let t = target_rx.borrow().clone();
                if r.is_err() || !t.enabled || t.master.as_deref() != Some(addr) {
                    return SessionEnd::Retarget;
                }
            }
            _ = stop.changed() => return SessionEnd::Stopped,
        }
    }
}

/// Appends every complete frame, reporting the new end after each one that grew the log.
async fn apply_frames(
    frames: &mut FrameReader,
    shared: &Shared,
    wr: &mut OwnedWriteHalf,
    reported: &mut u64,
    last_write: &mut Instant,
) -> Result<(), SessionEnd> {
    let log = &shared.log;
    loop {
        // checked as soon as the header is in, like Java
        if let Some(h) = frames.header()? {
            let mine = log.max_offset();
            if mine != 0 && mine != h.offset {
                return Err(SessionEnd::OffsetMismatch { master: h.offset, slave: mine });
            }
        }
        let Some(frame) = frames.next_frame()? else { return Ok(()) };
        if !frame.body.is_empty() {
            log.append(frame.header.offset, frame.body).await?;
        }
        let max = log.max_offset();
        if max > *reported {
            *reported = max;
            report(wr, &shared.stats, max).await?;
            *last_write = Instant::now();
        }
    }
}
