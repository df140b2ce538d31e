//! Starting and stopping a broker (Java `BrokerController`): metadata, the
//! store, the two remoting ports, name server registration and the periodic
//! housekeeping; shutdown in Java's order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_remoting::codec::FrameLimits;
use rmq_remoting::protocol::body::TopicConfigSerializeWrapper;
use rmq_remoting::transport::{Client, ClientConfig, Server, ServerConfig, ServerHandle};
use rmq_store::HostAddr;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::client::{ConsumerManager, ProducerManager};
use crate::config::{BrokerSettings, ConfigError};
use crate::long_polling::LongPolling;
use crate::meta::{Meta, MetaError};
use crate::namesrv_api::{namesrv_list, register_period, BrokerIdentity, NamesrvApi};
use crate::processor::{BrokerHandler, BrokerState, UniqIdGenerator};
use crate::role::{store_role, RoleState};
use crate::slave_sync::SlaveSync;
use crate::store::{MessageStore, MessageStoreError, StoreOptions};

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("loading broker metadata: {0}")]
    Meta(#[from] MetaError),
    #[error("opening the store: {0}")]
    Store(#[from] MessageStoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("brokerIP1 {0:?} is not an IP address")]
    BrokerIp(String),
    #[error("startup task failed: {0}")]
    Task(String),
    #[error(transparent)]
    DelayLevel(#[from] crate::schedule::LevelError),
}

pub struct Broker;

/// A running broker.
pub struct BrokerHandle {
    state: Arc<BrokerState>,
    server: ServerHandle,
    fast_server: ServerHandle,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    namesrv: Arc<NamesrvApi>,
    identity: BrokerIdentity,
}

fn frame_limits() -> FrameLimits {
    let max = std::env::var("ROCKETMQ_FRAME_MAX_LENGTH").ok().and_then(|v| v.trim().parse().ok());
    FrameLimits { max_frame: max.unwrap_or(rmq_remoting::codec::DEFAULT_MAX_FRAME) }
}

async fn bind(host: &str, port: i32) -> Result<TcpListener, BrokerError> {
    let addr = format!("{}:{}", host.trim(), port.max(0));
    let parsed: SocketAddr = addr.parse().map_err(|_| BrokerError::Bind {
        addr: addr.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an ip:port"),
    })?;
    TcpListener::bind(parsed).await.map_err(|source| BrokerError::Bind { addr, source })
}

impl Broker {
    /// Starts from finished settings (`BrokerSettings::finish` already applied).
    pub async fn start(settings: BrokerSettings) -> Result<BrokerHandle, BrokerError> {
        let role = settings.role()?;
        // a messageDelayLevel Java cannot parse stops its broker from loading
        let levels = crate::schedule::DelayLevels::parse(&settings.store.message_delay_level)?;
        let ip: std::net::IpAddr = settings
            .broker
            .broker_ip1
            .trim()
            .parse()
            .map_err(|_| BrokerError::BrokerIp(settings.broker.broker_ip1.clone()))?;
        let s2 = settings.clone();
        let meta = tokio::task::spawn_blocking(move || Meta::load(&s2))
            .await
            .map_err(|e| BrokerError::Task(e.to_string()))??;
        let meta = Arc::new(meta);
        let long_polling = LongPolling::new();
        let mut opts = StoreOptions::from_settings(&settings, store_role(role));
        let lp = long_polling.clone();
        // new messages also wake idle HA connections (Java wakes them per put)
        let ha_signal = Arc::new(rmq_ha::signal::DataSignal::new());
        let sig = ha_signal.clone();
        opts.arrival = Some(Arc::new(move |t: &str, q, next, tags| {
            lp.arrived(t, q, next, tags);
            sig.notify();
        }));
        let store = MessageStore::open(opts).await?;

        // bind first: with port 0 (tests) the real port goes into the store host and the route
        let host = settings.server.bind_address.clone();
        let port = settings.server.listen_port;
        let listener = match bind(&host, port).await {
            Ok(l) => l,
            Err(e) => {
                let _ = store.shutdown().await;
                return Err(e);
            }
        };
        let fast_port = if port > 0 { port - 2 } else { 0 };
        let fast_listener = match bind(&host, fast_port).await {
            Ok(l) => l,
            Err(e) => {
                let _ = store.shutdown().await;
                return Err(e);
            }
        };
        let local = listener.local_addr().map_err(|source| BrokerError::Bind { addr: host.clone(), source })?;
        let ha = match crate::ha::BrokerHa::start(&settings, meta.flavor, role, &store, ha_signal).await {
            Ok(h) => Arc::new(h),
            Err(e) => {
                let _ = store.shutdown().await;
                return Err(e);
            }
        };
        let store_host = HostAddr::new(ip, local.port() as i32);
        let state = Arc::new(BrokerState {
            flavor: meta.flavor,
            meta: meta.clone(),
            store,
            consumers: ConsumerManager::new(),
            producers: ProducerManager::new(),
            long_polling,
            role: RoleState::with_ha(role, ha.clone()),
            ha,
            store_host,
            uniq_ids: UniqIdGenerator::new(ip),
            transactions: parking_lot::RwLock::new(None),
            delay: parking_lot::RwLock::new(None),
            locks: crate::processor::lock::RebalanceLockManager::default(),
            started: Instant::now(),
            register_soon: tokio::sync::Notify::new(),
            heartbeat_fingerprints: parking_lot::Mutex::new(Default::default()),
            admin: crate::processor::admin::AdminState::new(),
            live_settings: parking_lot::RwLock::new(settings.clone()),
            boot_timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            settings,
        });
        let idle = state.settings.server.server_channel_max_idle_time_seconds;
        let server_config = ServerConfig {
            limits: frame_limits(),
            idle_timeout: (idle > 0).then(|| Duration::from_secs(idle as u64)),
            ..ServerConfig::default()
        };
        let server = Server::serve(
            listener,
            server_config.clone(),
            Arc::new(BrokerHandler { state: state.clone(), fast: false }),
        );
        let fast_server =
            Server::serve(fast_listener, server_config, Arc::new(BrokerHandler { state: state.clone(), fast: true }));
        crate::processor::log_supported();

        let b = &state.settings.broker;
        let identity = BrokerIdentity {
            cluster: b.broker_cluster_name.clone(),
            broker_name: b.broker_name.clone(),
            broker_id: b.broker_id,
            broker_addr: format!("{}:{}", b.broker_ip1, local.port()),
            ha_server_addr: format!("{}:{}", b.broker_ip2, state.ha.listen_addr().port()),
            enable_acting_master: b.enable_slave_acting_master,
            // Java sends brokerNotActiveTimeoutMillis (10 s) only with enableSlaveActingMaster
            // (then it also sends BROKER_HEARTBEAT); otherwise none, and the name server keeps
            // its 120 s default between the 30 s registrations
            heartbeat_timeout_millis: b.enable_slave_acting_master.then_some(b.broker_not_active_timeout_millis),
            compressed: b.compressed_register,
        };
        let timeout = Duration::from_millis(b.register_broker_timeout_mills.max(1000) as u64);
        let namesrv = Arc::new(NamesrvApi::new(Client::new(ClientConfig::default()), timeout));
        let (stop, stop_rx) = watch::channel(false);
        let slave_sync = crate::slave_sync::SlaveSync::new();
        let own_addr = identity.broker_addr.clone();
        let mut tasks = vec![
            tokio::spawn(register_loop(
                state.clone(),
                namesrv.clone(),
                identity.clone(),
                slave_sync.clone(),
                stop_rx.clone(),
            )),
            tokio::spawn(crate::slave_sync::run(state.clone(), slave_sync, own_addr, stop_rx.clone())),
            tokio::spawn(persist_loop(state.clone(), stop_rx.clone())),
            tokio::spawn(housekeeping_loop(state.clone(), stop_rx.clone())),
        ];
        // delay levels and transactions: their tasks stop before the store does
        tasks.extend(crate::schedule::start(&state, levels, stop_rx.clone()));
        tasks.push(crate::transaction::start(&state, stop_rx));
        info!(
            broker = %identity.broker_name, addr = %identity.broker_addr, listen = %local,
            fast = %fast_server.local_addr(), role = role.name(), java = ?state.flavor, "broker started"
        );
        Ok(BrokerHandle { state, server, fast_server, stop, tasks, namesrv, identity })
    }
}

/// The topic table as registered: Java masks each topic's perm with a
/// broker permission that lacks read or write.
fn register_wrapper(state: &BrokerState) -> TopicConfigSerializeWrapper {
    let mut w = state.meta.topics.serialize_wrapper();
    // brokerPermission can change at runtime (UPDATE_BROKER_CONFIG)
    let perm = state.live_settings.read().broker.broker_permission;
    if perm & 6 != 6 {
        for t in w.topic_config_table.values_mut() {
            t.perm &= perm;
        }
    }
    w
}

async fn register_once(state: &BrokerState, api: &NamesrvApi, me: &BrokerIdentity, sync: &SlaveSync) {
    let list = namesrv_list(state.settings.broker.namesrv_addr.as_deref());
    if list.is_empty() {
        return;
    }
    let results = api.register_all(&list, me, register_wrapper(state)).await;
    state.ha.on_register(&results);
    // Java takes the first answer's masterAddr (null when no master is registered)
    if let Some(r) = results.first() {
        sync.set_master_addr(r.master_addr.clone());
    }
}

async fn register_loop(
    state: Arc<BrokerState>,
    api: Arc<NamesrvApi>,
    me: BrokerIdentity,
    sync: Arc<SlaveSync>,
    mut stop: watch::Receiver<bool>,
) {
    let period = register_period(state.settings.broker.register_name_server_period);
    loop {
        register_once(&state, &api, &me, &sync).await;
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = state.register_soon.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

async fn persist(state: &Arc<BrokerState>) {
    let meta = state.meta.clone();
    match tokio::task::spawn_blocking(move || meta.persist_dirty()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => error!(error = %e, "persisting broker metadata failed"),
        Err(e) => error!(error = %e, "persist task failed"),
    }
}

/// `flushConsumerOffsetInterval`: offsets (and any changed metadata) to disk.
async fn persist_loop(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_millis(state.settings.broker.flush_consumer_offset_interval.max(100) as u64);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => persist(&state).await,
            _ = stop.changed() => return,
        }
    }
}

/// `ClientHousekeepingService`: every 10 s drop clients silent for too long.
async fn housekeeping_loop(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(10)) => {
                let now = Instant::now();
                for (group, ch) in state.consumers.scan_expired(now) {
                    warn!(group = %group, peer = %ch.peer_addr(), "consumer channel expired, closing it");
                    ch.close();
                }
                let n = state.producers.scan_expired(now);
                if n > 0 {
                    warn!(count = n, "producer channels expired");
                }
            }
            _ = stop.changed() => return,
        }
    }
}

impl BrokerHandle {
    /// The main port (`listenPort`).
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The fast (VIP) port, `listenPort - 2`.
    pub fn fast_addr(&self) -> SocketAddr {
        self.fast_server.local_addr()
    }

    /// `brokerIP1:port` as registered.
    pub fn broker_addr(&self) -> &str {
        &self.identity.broker_addr
    }

    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Java's order: stop serving, stop the store, unregister, persist metadata.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.server.shutdown().await;
        self.fast_server.shutdown().await;
        // Java stops HA first in DefaultMessageStore#shutdown: no append after the writer stops
        self.state.ha.shutdown().await;
        if let Err(e) = self.state.store.shutdown().await {
            error!(error = %e, "store shutdown failed");
        }
        let list = namesrv_list(self.state.settings.broker.namesrv_addr.as_deref());
        self.namesrv.unregister_all(&list, &self.identity).await;
        let meta = self.state.meta.clone();
        match tokio::task::spawn_blocking(move || meta.persist_all()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(error = %e, "persisting broker metadata at shutdown failed"),
            Err(e) => error!(error = %e, "persist task failed"),
        }
        info!(broker = %self.identity.broker_name, "broker stopped");
    }
}
