//! Starting and stopping a name server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rmq_remoting::codec::FrameLimits;
use rmq_remoting::transport::{Server, ServerConfig, ServerHandle};
use tokio::sync::watch;
use tracing::info;

use crate::config::NamesrvSettings;
use crate::error::NamesrvError;
use crate::kv::KvStore;
use crate::processor::{NamesrvHandler, State};
use crate::route::RouteTable;

pub struct NameServer;

/// A running name server.
pub struct NameServerHandle {
    server: ServerHandle,
    state: Arc<State>,
    stop_scan: watch::Sender<bool>,
    scan: tokio::task::JoinHandle<()>,
}

impl NameServer {
    pub async fn start(settings: NamesrvSettings) -> Result<NameServerHandle, NamesrvError> {
        let kv_path = std::path::PathBuf::from(&settings.namesrv.kv_config_path);
        let kv =
            tokio::task::spawn_blocking(move || KvStore::load(&kv_path)).await.expect("kv load task does not panic")?;
        let mut route = RouteTable::new();
        route.delete_topic_with_registration = settings.namesrv.delete_topic_with_broker_registration;
        route.support_acting_master = settings.namesrv.support_acting_master;
        let addr = settings.listen_addr()?;
        let scan_every = Duration::from_millis(settings.namesrv.scan_not_active_broker_interval.max(100) as u64);
        let server_config = ServerConfig {
            limits: FrameLimits { max_frame: max_frame_from_env() },
            idle_timeout: settings.idle_timeout(),
            response_serialize: settings.response_serialize,
            ..ServerConfig::default()
        };
        let state = Arc::new(State {
            route: Mutex::new(route),
            kv: Mutex::new(kv),
            settings: Mutex::new(settings),
            started: Instant::now(),
        });
        let handler = Arc::new(NamesrvHandler { state: state.clone() });
        let server = Server::bind(addr, server_config, handler)
            .await
            .map_err(|source| NamesrvError::Bind { addr: addr.to_string(), source })?;
        info!(addr = %server.local_addr(), "name server listening");
        let (stop_scan, mut stop_rx) = watch::channel(false);
        let scan_state = state.clone();
        // Liveness sweep (`scanNotActiveBroker`): drop brokers whose heartbeat is too old.
        let scan = tokio::spawn(async move {
            let mut tick = tokio::time::interval(scan_every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        for (key, _) in scan_state.route.lock().expire(Instant::now()) {
                            info!(cluster = %key.cluster, broker = %key.addr, "broker heartbeat expired, route removed");
                        }
                    }
                    _ = stop_rx.changed() => break,
                }
            }
        });
        Ok(NameServerHandle { server, state, stop_scan, scan })
    }
}

impl NameServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Current settings (after runtime updates).
    pub fn settings(&self) -> NamesrvSettings {
        self.state.settings.lock().clone()
    }

    pub async fn shutdown(self) {
        let _ = self.stop_scan.send(true);
        let _ = self.scan.await;
        self.server.shutdown().await;
        info!("name server stopped");
    }
}

/// `-Dcom.rocketmq.remoting.frameMaxLength` equivalent: env `ROCKETMQ_FRAME_MAX_LENGTH`.
fn max_frame_from_env() -> usize {
    std::env::var("ROCKETMQ_FRAME_MAX_LENGTH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(rmq_remoting::codec::DEFAULT_MAX_FRAME)
}
