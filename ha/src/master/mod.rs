//! The master side (Java `HAService.AcceptSocketService` + `HAConnection`):
//! accepts slaves on `haListenPort`, one connection each, and streams the
//! commitlog to them from the offset they ask for.

mod conn;

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{info, warn};

use crate::config::HaConfig;
use crate::log::HaLog;
use crate::signal::DataSignal;
use crate::transfer::AckTracker;

/// Everything a connection needs, shared.
pub(crate) struct MasterCtx {
    pub log: Arc<dyn HaLog>,
    pub cfg: HaConfig,
    pub signal: Arc<DataSignal>,
    pub tracker: Arc<AckTracker>,
}

/// A running acceptor and its connections.
pub struct HaMaster {
    local: SocketAddr,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl HaMaster {
    /// Starts accepting on an already bound listener.
    pub fn start(
        listener: TcpListener,
        log: Arc<dyn HaLog>,
        cfg: HaConfig,
        signal: Arc<DataSignal>,
        tracker: Arc<AckTracker>,
    ) -> std::io::Result<HaMaster> {
        let local = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let ctx = Arc::new(MasterCtx { log, cfg, signal, tracker });
        let task = tokio::spawn(accept_loop(listener, ctx, stop_rx));
        info!(listen = %local, "HA service accepting slaves");
        Ok(HaMaster { local, stop, task: Mutex::new(Some(task)) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops accepting, closes every slave connection and waits for them.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

async fn accept_loop(listener: TcpListener, ctx: Arc<MasterCtx>, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    info!(%peer, "HA service accepted a slave connection");
                    conns.spawn(conn::serve(stream, peer, ctx.clone(), stop.clone()));
                }
                Err(e) => {
                    // e.g. EMFILE: Java logs and keeps selecting; do not spin on it
                    warn!(error = %e, "HA accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
    info!("HA service stopped accepting");
}
