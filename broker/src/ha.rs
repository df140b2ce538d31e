//! Replication in the broker: the classic HA service (`rmq-ha`) over the
//! broker's store, started in every role as Java does (the acceptor always,
//! the client while slave), the HA address learned from the name server, and
//! the SYNC_MASTER wait of the send path.
//!
//! Which Java's rules apply follows the store's flavor (the Java version that
//! wrote it; a new store is 5.3.3): the HA port rule, the master's slave-ahead
//! check and the SYNC_MASTER wait (4.9.8: one slave, SLAVE_NOT_AVAILABLE when
//! none is usable; 5.3.3: `inSyncReplicas`, default 1 = no wait).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmq_ha::log::{append_writer, read_writer, BoxFuture};
use rmq_ha::signal::DataSignal;
use rmq_ha::{AckRule, ClassicHa, HaConfig, HaFlavor, HaLog, HaRole, LogError, ReplicaOutcome, Replication};
use rmq_store::append::{PutResult, PutStatus};
use rmq_store::config_files::JavaFlavor;
use tokio::net::TcpListener;
use tracing::info;

use crate::broker::BrokerError;
use crate::config::{BrokerRole, BrokerSettings};
use crate::namesrv_api::RegisterResult;
use crate::store::MessageStore;

/// The broker's store as the HA services see it.
struct StoreLog(MessageStore);

impl HaLog for StoreLog {
    fn max_offset(&self) -> u64 {
        self.0.writer().max_offset()
    }
    fn min_offset(&self) -> u64 {
        self.0.writer().min_offset()
    }
    fn file_size(&self) -> u64 {
        self.0.writer().queue().file_size()
    }
    fn read(&self, offset: u64, max: usize) -> Result<Option<Bytes>, LogError> {
        Ok(read_writer(self.0.writer(), offset, max))
    }
    fn append(&self, offset: u64, data: Bytes) -> BoxFuture<'static, Result<u64, LogError>> {
        append_writer(self.0.writer(), offset, data)
    }
}

pub fn ha_flavor(f: JavaFlavor) -> HaFlavor {
    match f {
        JavaFlavor::V4_9_8 => HaFlavor::V4_9_8,
        JavaFlavor::V5_3_3 => HaFlavor::V5_3_3,
    }
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(1) as u64)
}

/// The `MessageStoreConfig` HA keys, with the flavor's rules.
pub fn ha_config(s: &BrokerSettings, flavor: HaFlavor) -> HaConfig {
    let st = &s.store;
    let ack_rule = match flavor {
        // 4.9.8's haSlaveFallbehindMax has the same meaning and default as 5.x's haMaxGapNotInSync
        HaFlavor::V4_9_8 => AckRule::AnySlave { fallbehind_max: st.ha_max_gap_not_in_sync.max(0) as u64 },
        HaFlavor::V5_3_3 => AckRule::InSyncReplicas { replicas: st.in_sync_replicas },
    };
    HaConfig {
        flavor,
        heartbeat_interval: ms(st.ha_send_heartbeat_interval as i64),
        housekeeping_interval: ms(st.ha_housekeeping_interval as i64),
        transfer_batch_size: st.ha_transfer_batch_size.max(1) as usize,
        slave_timeout: ms(st.slave_timeout as i64),
        ack_rule,
        ..HaConfig::default()
    }
}

/// `haMasterAddress` when usable (Java: at least 6 characters); then the
/// register responses are not consulted.
fn configured_master(s: &BrokerSettings) -> Option<String> {
    s.store
        .ha_master_address
        .as_deref()
        .map(str::trim)
        .filter(|a| a.len() >= rmq_ha::HA_ADDRESS_MIN_LENGTH)
        .map(str::to_string)
}

/// Replication as the broker holds it: any [`Replication`] (classic today).
pub struct BrokerHa {
    service: Box<dyn Replication>,
    listen: SocketAddr,
    signal: Arc<DataSignal>,
    /// Java `updateMasterHAServerAddrPeriodically`.
    learn_master: bool,
}

impl BrokerHa {
    /// Binds `haListenPort` (on `bindAddress`) and starts the services.
    /// `signal` is the one the store's dispatcher pokes on new messages.
    pub async fn start(
        settings: &BrokerSettings,
        flavor: JavaFlavor,
        role: BrokerRole,
        store: &MessageStore,
        signal: Arc<DataSignal>,
    ) -> Result<BrokerHa, BrokerError> {
        let flavor = ha_flavor(flavor);
        let port = rmq_ha::ha_listen_port(flavor, settings.server.listen_port, settings.store.ha_listen_port);
        let host = settings.server.bind_address.trim();
        let addr = format!("{host}:{port}");
        let bind_err = |source| BrokerError::Bind { addr: addr.clone(), source };
        let parsed: SocketAddr = addr
            .parse()
            .map_err(|_| bind_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an ip:port")))?;
        let listener = TcpListener::bind(parsed).await.map_err(bind_err)?;
        let master = configured_master(settings);
        let learn_master = master.is_none();
        let ha_role = if role == BrokerRole::Slave { HaRole::Slave } else { HaRole::Master };
        let log: Arc<dyn HaLog> = Arc::new(StoreLog(store.clone()));
        let service =
            ClassicHa::start_with(listener, log, ha_config(settings, flavor), ha_role, master, signal.clone())
                .map_err(bind_err)?;
        let listen = service.local_addr();
        info!(%listen, role = ?ha_role, java = ?flavor, master = ?service.master_address(), "HA service started");
        Ok(BrokerHa { service: Box::new(service), listen, signal, learn_master })
    }

    /// Where slaves connect.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    pub fn replication(&self) -> &dyn Replication {
        self.service.as_ref()
    }

    pub fn signal(&self) -> &Arc<DataSignal> {
        &self.signal
    }

    /// After REGISTER_BROKER: a slave follows the master HA address of the
    /// first answer, as Java does; an answer without one (no master registered)
    /// keeps the old address.
    pub fn on_register(&self, results: &[RegisterResult]) {
        if !self.learn_master {
            return;
        }
        let first = results.first().and_then(|r| r.ha_server_addr.as_deref()).map(str::trim);
        if let Some(addr) = first.filter(|a| !a.is_empty()) {
            self.service.set_master_address(Some(addr.to_string()));
        }
    }

    /// Role switch of the replication side; see [`Replication::set_role`] for the order.
    pub async fn set_role(&self, role: BrokerRole) {
        let r = if role == BrokerRole::Slave { HaRole::Slave } else { HaRole::Master };
        self.service.set_role(r).await;
    }

    /// SYNC_MASTER (`CommitLog#handleHA`): a stored put with `WAIT` true waits for
    /// its slave acks; the replica status replaces the put's when it is not OK.
    pub async fn after_put(&self, role: BrokerRole, duplication_enable: bool, wait: bool, r: PutResult) -> PutResult {
        if role != BrokerRole::SyncMaster || !wait || duplication_enable {
            return r;
        }
        let Some(a) = r.append.as_ref() else { return r };
        if !matches!(r.status, PutStatus::PutOk | PutStatus::FlushDiskTimeout) {
            return r;
        }
        let next = (a.wrote_offset + a.wrote_bytes as i64).max(0) as u64;
        let status = match self.service.wait_replicated(next).await {
            ReplicaOutcome::Ok => return r,
            ReplicaOutcome::SlaveNotAvailable => PutStatus::SlaveNotAvailable,
            ReplicaOutcome::Timeout => PutStatus::FlushSlaveTimeout,
        };
        PutResult { status, ..r }
    }

    pub async fn shutdown(&self) {
        self.service.shutdown().await;
    }
}

/// Java `MessageExt#isWaitStoreMsgOK`: absent means true, otherwise `Boolean.parseBoolean`.
pub fn wait_store_msg_ok(wait: Option<&str>) -> bool {
    wait.is_none_or(|v| v.eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_flag_is_java_parse_boolean() {
        assert!(wait_store_msg_ok(None));
        assert!(wait_store_msg_ok(Some("TRUE")));
        assert!(!wait_store_msg_ok(Some("false")));
        assert!(!wait_store_msg_ok(Some("1")));
    }

    #[test]
    fn config_follows_the_flavor() {
        let mut s = BrokerSettings::defaults();
        s.store.in_sync_replicas = 2;
        s.store.slave_timeout = 1500;
        let v4 = ha_config(&s, HaFlavor::V4_9_8);
        assert_eq!(v4.ack_rule, AckRule::AnySlave { fallbehind_max: 256 * 1024 * 1024 });
        assert!(v4.closes_on_slave_ahead());
        let v5 = ha_config(&s, HaFlavor::V5_3_3);
        assert_eq!(v5.ack_rule, AckRule::InSyncReplicas { replicas: 2 });
        assert_eq!((v5.slave_timeout, v5.heartbeat_interval), (Duration::from_millis(1500), Duration::from_secs(5)));
        s.store.ha_master_address = Some("1.2.3".into());
        assert_eq!(configured_master(&s), None, "shorter than 6 characters is ignored, as in Java");
        s.store.ha_master_address = Some(" 10.0.0.1:10912 ".into());
        assert_eq!(configured_master(&s).as_deref(), Some("10.0.0.1:10912"));
    }
}
