//! A slave's copy of its master's metadata (Java `SlaveSynchronize`): topic
//! configs, consumer offsets, delay-level offsets and subscription groups,
//! fetched with GET_ALL_TOPIC_CONFIG (21, over the master's VIP port),
//! GET_ALL_CONSUMER_OFFSET (43), GET_ALL_DELAY_OFFSET (45) and
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), then persisted like Java's slave does.
//!
//! The master's address comes from the name server's answer to our
//! registration (`masterAddr`, set by the registration task). Schedule, by the
//! Java broker whose store this is:
//! * 4.9.8 (`handleSlaveSynchronize`): first after 3 s, then every 10 s.
//! * 5.3.3 (`initializeScheduledTasks`): a 3 s tick from 10 s on, syncing when the
//!   last sync is more than 60 s old.
//!
//! Not synced: 5.x message request modes (no pop support here) and timer
//! checkpoints/metrics (no timer wheel here).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::transport::{Client, ClientConfig, TransportError};
use rmq_store::config_files::{
    backup_path, ConfigFile, ConsumerOffsetFile, DataVersion, DelayOffsetFile, JavaFlavor, JsonError,
    SubscriptionGroupFile, TopicsFile,
};
use thiserror::Error;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{error, info};

use crate::meta::{config_dir, Meta, MetaError};
use crate::processor::BrokerState;

/// Java's `invokeSync(..., 3000)` for every sync request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Error)]
pub enum SyncError {
    #[error("{what} from master {master}: {source}")]
    Transport { what: &'static str, master: String, source: TransportError },
    #[error("{what} from master {master}: answered {code}: {remark}")]
    Refused { what: &'static str, master: String, code: ResponseCode, remark: String },
    #[error("{what} from master {master}: the answer has no body")]
    NoBody { what: &'static str, master: String },
    #[error("{what} from master {master}: {source}")]
    Body { what: &'static str, master: String, source: JsonError },
    #[error("{what} from master {master}: the answer has no dataVersion")]
    NoDataVersion { what: &'static str, master: String },
    #[error("master address {0:?} is not ip:port")]
    BadAddr(String),
    #[error("persisting the synced {what}: {source}")]
    Persist { what: &'static str, source: MetaError },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("persist task failed: {0}")]
    Task(String),
}

/// What one round did, item by item (`Ok(true)`: replaced, `Ok(false)`: unchanged).
#[derive(Debug)]
pub struct SyncReport {
    pub master: String,
    pub topics: Result<bool, SyncError>,
    pub consumer_offsets: Result<bool, SyncError>,
    pub delay_offsets: Result<bool, SyncError>,
    pub groups: Result<bool, SyncError>,
}

impl SyncReport {
    pub fn is_ok(&self) -> bool {
        self.topics.is_ok() && self.consumer_offsets.is_ok() && self.delay_offsets.is_ok() && self.groups.is_ok()
    }
}

/// The slave's sync state: the master's address and a client to reach it.
pub struct SlaveSync {
    master: RwLock<Option<String>>,
    client: Client,
}

impl Default for SlaveSync {
    fn default() -> Self {
        SlaveSync { master: RwLock::new(None), client: Client::new(ClientConfig::default()) }
    }
}

/// `MixAll.brokerVIPChannel(true, addr)`: the same host, port - 2.
pub fn vip_addr(addr: &str) -> Result<String, SyncError> {
    let bad = || SyncError::BadAddr(addr.to_string());
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port: i32 = port.trim().parse().map_err(|_| bad())?;
    Ok(format!("{host}:{}", port - 2))
}

/// Java's `DataVersion.equals`: counter and timestamp; 5.x also the state version.
fn same_version(ours: &DataVersion, theirs: &DataVersion, flavor: JavaFlavor) -> bool {
    ours.counter == theirs.counter
        && ours.timestamp == theirs.timestamp
        && (flavor == JavaFlavor::V4_9_8 || ours.state_version == theirs.state_version)
}

impl SlaveSync {
    pub fn new() -> Arc<SlaveSync> {
        Arc::new(SlaveSync::default())
    }

    pub fn master_addr(&self) -> Option<String> {
        self.master.read().clone()
    }

    /// From each registration's answer (`None` when the name server knows no master).
    pub fn set_master_addr(&self, addr: Option<String>) {
        let addr = addr.filter(|a| !a.trim().is_empty());
        let mut m = self.master.write();
        if *m != addr {
            info!(from = ?*m, to = ?addr, "master address for slave sync changed");
            *m = addr;
        }
    }

    async fn fetch(
        &self,
        what: &'static str,
        master: &str,
        addr: &str,
        code: RequestCode,
    ) -> Result<Vec<u8>, SyncError> {
        let resp = self
            .client
            .invoke(addr, RemotingCommand::request(code), REQUEST_TIMEOUT)
            .await
            .map_err(|source| SyncError::Transport { what, master: master.to_string(), source })?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(SyncError::Refused {
                what,
                master: master.to_string(),
                code: resp.response_code(),
                remark: resp.remark.unwrap_or_default(),
            });
        }
        match resp.body {
            Some(b) => Ok(b.to_vec()),
            None => Err(SyncError::NoBody { what, master: master.to_string() }),
        }
    }

    async fn fetch_file<T: ConfigFile>(
        &self,
        what: &'static str,
        master: &str,
        addr: &str,
        code: RequestCode,
    ) -> Result<T, SyncError> {
        let body = self.fetch(what, master, addr, code).await?;
        T::from_json_bytes(&body).map_err(|source| SyncError::Body { what, master: master.to_string(), source })
    }

    /// `syncAll`, once: nothing when no master is known or the master is us.
    pub async fn sync_all(&self, state: &BrokerState, own_addr: &str) -> Option<SyncReport> {
        let master = self.master_addr().filter(|m| m != own_addr)?;
        let meta = &state.meta;
        let topics = self.sync_topics(meta, &master).await;
        let consumer_offsets = self.sync_consumer_offsets(meta, &master).await;
        let delay_offsets = self.sync_delay_offsets(meta, &config_dir(&state.settings), &master).await;
        let groups = self.sync_groups(meta, &master).await;
        Some(SyncReport { master, topics, consumer_offsets, delay_offsets, groups })
    }

    async fn sync_topics(&self, meta: &Arc<Meta>, master: &str) -> Result<bool, SyncError> {
        const WHAT: &str = "topic configs";
        let vip = vip_addr(master)?;
        let file: TopicsFile = self.fetch_file(WHAT, master, &vip, RequestCode::GET_ALL_TOPIC_CONFIG).await?;
        let dv = file.data_version.ok_or_else(|| SyncError::NoDataVersion { what: WHAT, master: master.into() })?;
        if same_version(&meta.topics.data_version(), &dv, meta.flavor) {
            return Ok(false);
        }
        meta.topics.replace_from_master(file.topic_config_table, dv);
        persist(meta, WHAT, |m| m.topics.persist()).await?;
        info!(master, "updated slave topic config from master");
        Ok(true)
    }

    async fn sync_consumer_offsets(&self, meta: &Arc<Meta>, master: &str) -> Result<bool, SyncError> {
        const WHAT: &str = "consumer offsets";
        let file: ConsumerOffsetFile =
            self.fetch_file(WHAT, master, master, RequestCode::GET_ALL_CONSUMER_OFFSET).await?;
        meta.offsets.put_all_from_master(file);
        persist(meta, WHAT, |m| m.offsets.persist()).await?;
        info!(master, "updated slave consumer offsets from master");
        Ok(true)
    }

    /// Java writes the master's text as it came (compact), then 5.x reloads it; the
    /// table is taken into memory for both, so a later persist never writes it back stale.
    async fn sync_delay_offsets(&self, meta: &Arc<Meta>, dir: &Path, master: &str) -> Result<bool, SyncError> {
        const WHAT: &str = "delay offsets";
        let body = self.fetch(WHAT, master, master, RequestCode::GET_ALL_DELAY_OFFSET).await?;
        let file = DelayOffsetFile::from_json_bytes(&body).map_err(|source| SyncError::Body {
            what: WHAT,
            master: master.to_string(),
            source,
        })?;
        let path = dir.join(DelayOffsetFile::FILE_NAME);
        tokio::task::spawn_blocking(move || string_to_file(&path, &body))
            .await
            .map_err(|e| SyncError::Task(e.to_string()))??;
        meta.delay_offsets.replace(file);
        info!(master, "updated slave delay offsets from master");
        Ok(true)
    }

    async fn sync_groups(&self, meta: &Arc<Meta>, master: &str) -> Result<bool, SyncError> {
        const WHAT: &str = "subscription groups";
        let file: SubscriptionGroupFile =
            self.fetch_file(WHAT, master, master, RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG).await?;
        let dv = file.data_version.ok_or_else(|| SyncError::NoDataVersion { what: WHAT, master: master.into() })?;
        if same_version(&meta.groups.data_version(), &dv, meta.flavor) {
            return Ok(false);
        }
        meta.groups.replace_from_master(file.subscription_group_table, dv);
        persist(meta, WHAT, |m| m.groups.persist()).await?;
        info!(master, "updated slave subscription groups from master");
        Ok(true)
    }
}

async fn persist(
    meta: &Arc<Meta>,
    what: &'static str,
    f: impl FnOnce(&Meta) -> Result<(), MetaError> + Send + 'static,
) -> Result<(), SyncError> {
    let m = meta.clone();
    tokio::task::spawn_blocking(move || f(&m))
        .await
        .map_err(|e| SyncError::Task(e.to_string()))?
        .map_err(|source| SyncError::Persist { what, source })
}

/// `MixAll.string2File`: `<file>.tmp`, the previous content to `<file>.bak`, rename.
/// A previous file that does not parse is not copied over a good `.bak`.
fn string_to_file(path: &Path, text: &[u8]) -> Result<(), SyncError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| SyncError::Write { path: p, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    write_synced(&tmp, text).map_err(io(&tmp))?;
    match std::fs::read(path) {
        Ok(prev) if !prev.is_empty() && DelayOffsetFile::from_json_bytes(&prev).is_ok() => {
            let bak = backup_path(path);
            write_synced(&bak, &prev).map_err(io(&bak))?;
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path)(e)),
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// When syncs happen, by Java flavor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub first: Duration,
    pub tick: Duration,
    /// 5.x: sync on a tick only when the last sync is older than this.
    pub min_gap: Option<Duration>,
}

impl Schedule {
    pub fn of(flavor: JavaFlavor) -> Schedule {
        match flavor {
            JavaFlavor::V4_9_8 => {
                Schedule { first: Duration::from_secs(3), tick: Duration::from_secs(10), min_gap: None }
            }
            JavaFlavor::V5_3_3 => Schedule {
                first: Duration::from_secs(10),
                tick: Duration::from_secs(3),
                min_gap: Some(Duration::from_secs(60)),
            },
        }
    }
}

fn log_report(r: &SyncReport) {
    for (what, res) in [
        ("topic configs", &r.topics),
        ("consumer offsets", &r.consumer_offsets),
        ("delay offsets", &r.delay_offsets),
        ("subscription groups", &r.groups),
    ] {
        if let Err(e) = res {
            error!(master = %r.master, what, error = %e, "slave sync failed");
        }
    }
}

/// The periodic task. It follows the live role: while master it idles; a role
/// change forgets the master address and restarts the schedule (Java's
/// `handleSlaveSynchronize`); the next registration names the master again.
pub async fn run(state: Arc<BrokerState>, sync: Arc<SlaveSync>, own_addr: String, mut stop: watch::Receiver<bool>) {
    let schedule = Schedule::of(state.flavor);
    let mut was_slave = state.role.is_slave();
    let mut next = Instant::now() + schedule.first;
    let mut last_sync: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => return,
        }
        let now = Instant::now();
        let slave = state.role.is_slave();
        if slave != was_slave {
            was_slave = slave;
            sync.set_master_addr(None);
            last_sync = None;
            next = now + schedule.first;
            continue;
        }
        // fixed rate; a round that overran starts the next one at once, like Java
        next = (next + schedule.tick).max(now);
        if !slave || schedule.min_gap.is_some_and(|gap| last_sync.is_some_and(|t| now - t <= gap)) {
            continue;
        }
        if let Some(report) = sync.sync_all(&state, &own_addr).await {
            log_report(&report);
        }
        // Java stamps the round even when no master was known yet
        last_sync = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vip_port_is_two_below() {
        assert_eq!(vip_addr("127.0.0.1:10911").unwrap(), "127.0.0.1:10909");
        assert_eq!(vip_addr("[::1]:10911").unwrap(), "[::1]:10909");
        assert!(matches!(vip_addr("127.0.0.1"), Err(SyncError::BadAddr(_))));
        assert!(matches!(vip_addr("h:x"), Err(SyncError::BadAddr(_))));
    }

    #[test]
    fn version_equality_follows_the_flavor() {
        let a = DataVersion { counter: 3, state_version: 0, timestamp: 10, ..Default::default() };
        let b = DataVersion { state_version: 7, ..a.clone() };
        assert!(same_version(&a, &b, JavaFlavor::V4_9_8));
        assert!(!same_version(&a, &b, JavaFlavor::V5_3_3));
        let c = DataVersion { counter: 4, ..a.clone() };
        assert!(!same_version(&a, &c, JavaFlavor::V4_9_8));
        let d = DataVersion { timestamp: 11, ..a.clone() };
        assert!(!same_version(&a, &d, JavaFlavor::V4_9_8));
    }

    #[test]
    fn schedules_follow_java() {
        assert_eq!(Schedule::of(JavaFlavor::V4_9_8).tick, Duration::from_secs(10));
        assert_eq!(Schedule::of(JavaFlavor::V5_3_3).min_gap, Some(Duration::from_secs(60)));
    }

    #[test]
    fn delay_file_written_verbatim_with_backup() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("config").join("delayOffset.json");
        string_to_file(&path, b"{\"offsetTable\":{1:1}}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"offsetTable\":{1:1}}");
        assert!(!backup_path(&path).exists(), "no previous file, no .bak");
        string_to_file(&path, b"{\"offsetTable\":{1:2,2:5}}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"offsetTable\":{1:2,2:5}}");
        assert_eq!(std::fs::read(backup_path(&path)).unwrap(), b"{\"offsetTable\":{1:1}}");
        // a broken current file never replaces the good backup
        std::fs::write(&path, b"{broken").unwrap();
        string_to_file(&path, b"{\"offsetTable\":{}}").unwrap();
        assert_eq!(std::fs::read(backup_path(&path)).unwrap(), b"{\"offsetTable\":{1:1}}");
        assert!(!d.path().join("config").join("delayOffset.json.tmp").exists());
    }
}
