//! The interface a broker drives replication through, and its classic
//! (master/slave, Java `DefaultHAService`) implementation. Controller mode
//! (epochs, SyncStateSet) implements the same trait later.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::TcpListener;

use crate::config::HaConfig;
use crate::log::{BoxFuture, HaLog};
use crate::master::HaMaster;
use crate::signal::DataSignal;
use crate::slave::HaClient;
use crate::transfer::{AckTracker, ReplicaOutcome};

/// The replication role, as far as HA is concerned (both master flavours
/// serve slaves the same way; only the put path differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaRole {
    Master,
    Slave,
}

/// A snapshot for status output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaStatus {
    pub role: HaRole,
    pub listen: SocketAddr,
    /// Connected slaves: peer address and last acknowledged offset (-1 before any).
    pub slaves: Vec<(String, i64)>,
    /// Java `push2SlaveMaxOffset`.
    pub push_to_slave_max: u64,
    pub master_address: Option<String>,
    pub connected_to_master: bool,
    /// Last offset this slave reported to its master.
    pub reported_offset: u64,
}

/// What the broker needs from replication, whatever the mode.
pub trait Replication: Send + Sync {
    /// Role switch. Becoming master returns once no replicated append is in
    /// flight (switch the store after it); becoming slave starts replicating
    /// (switch the store before it).
    fn set_role(&self, role: HaRole) -> BoxFuture<'_, ()>;
    /// The master's HA address (configured or learned from the name server).
    fn set_master_address(&self, addr: Option<String>);
    fn master_address(&self) -> Option<String>;
    /// SYNC_MASTER: waits until the put ending at `next_offset` is replicated
    /// as the configured rule requires.
    fn wait_replicated(&self, next_offset: u64) -> BoxFuture<'_, ReplicaOutcome>;
    /// New commitlog bytes: wakes idle slave connections at once.
    fn data_written(&self);
    fn status(&self) -> HaStatus;
    /// Closes every connection and stops the services.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// Classic HA: an acceptor for slaves (running in every role, as in Java),
/// and a client that follows a master while the broker is a slave.
pub struct ClassicHa {
    cfg: HaConfig,
    master: HaMaster,
    client: HaClient,
    tracker: Arc<AckTracker>,
    signal: Arc<DataSignal>,
    role: Mutex<HaRole>,
}

impl ClassicHa {
    /// Starts both sides on a bound HA listener.
    pub fn start(
        listener: TcpListener,
        log: Arc<dyn HaLog>,
        cfg: HaConfig,
        role: HaRole,
        master_address: Option<String>,
    ) -> std::io::Result<ClassicHa> {
        ClassicHa::start_with(listener, log, cfg, role, master_address, Arc::new(DataSignal::new()))
    }

    /// [`ClassicHa::start`] with a new-data signal the caller also pokes
    /// (e.g. from the store's dispatcher, which exists before this service).
    pub fn start_with(
        listener: TcpListener,
        log: Arc<dyn HaLog>,
        cfg: HaConfig,
        role: HaRole,
        master_address: Option<String>,
        signal: Arc<DataSignal>,
    ) -> std::io::Result<ClassicHa> {
        let tracker = AckTracker::new();
        let master = HaMaster::start(listener, log.clone(), cfg.clone(), signal.clone(), tracker.clone())?;
        let client = HaClient::start(log, cfg.clone(), role == HaRole::Slave, master_address);
        Ok(ClassicHa { cfg, master, client, tracker, signal, role: Mutex::new(role) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.master.local_addr()
    }

    pub fn tracker(&self) -> &Arc<AckTracker> {
        &self.tracker
    }

    pub fn client(&self) -> &HaClient {
        &self.client
    }

    pub fn config(&self) -> &HaConfig {
        &self.cfg
    }
}

impl Replication for ClassicHa {
    fn set_role(&self, role: HaRole) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            *self.role.lock() = role;
            self.client.set_enabled(role == HaRole::Slave).await;
        })
    }

    fn set_master_address(&self, addr: Option<String>) {
        self.client.set_master_address(addr);
    }

    fn master_address(&self) -> Option<String> {
        self.client.master_address()
    }

    fn wait_replicated(&self, next_offset: u64) -> BoxFuture<'_, ReplicaOutcome> {
        // Java wakes the transfer threads right away (`wakeupAll`)
        self.signal.notify();
        Box::pin(self.tracker.wait(self.cfg.ack_rule, next_offset, self.cfg.slave_timeout))
    }

    fn data_written(&self) {
        self.signal.notify();
    }

    fn status(&self) -> HaStatus {
        HaStatus {
            role: *self.role.lock(),
            listen: self.master.local_addr(),
            slaves: self.tracker.connections(),
            push_to_slave_max: self.tracker.push_to_slave_max(),
            master_address: self.client.master_address(),
            connected_to_master: self.client.stats().connected(),
            reported_offset: self.client.stats().reported(),
        }
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.client.shutdown().await;
            self.master.shutdown().await;
        })
    }
}
