//! Accept loop with a connection limit and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::connection::{self, ConnectionOptions};
use super::RequestHandler;
use crate::codec::{FrameLimits, SerializeType};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub limits: FrameLimits,
    /// `serverChannelMaxIdleTimeSeconds` (120 s in Java).
    pub idle_timeout: Option<Duration>,
    pub max_connections: usize,
    /// `None` answers in the request's serialization (4.9.8); `Some` always uses it (5.3.3, default JSON).
    pub response_serialize: Option<SerializeType>,
    /// How long shutdown waits for connections to finish before dropping them.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: FrameLimits::default(),
            idle_timeout: Some(Duration::from_secs(120)),
            max_connections: 10_000,
            response_serialize: Some(SerializeType::Json),
            shutdown_grace: Duration::from_secs(3),
        }
    }
}

pub struct Server;

/// A running server: its address, and the switch that stops it.
pub struct ServerHandle {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every connection (after in-flight writes drain) and waits.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

impl Server {
    /// Binds `addr` (use port 0 for an ephemeral port) and starts serving.
    pub async fn bind(
        addr: SocketAddr,
        config: ServerConfig,
        handler: Arc<dyn RequestHandler>,
    ) -> std::io::Result<ServerHandle> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::serve(listener, config, handler))
    }

    pub fn serve(listener: TcpListener, config: ServerConfig, handler: Arc<dyn RequestHandler>) -> ServerHandle {
        let local_addr = listener.local_addr().expect("bound listener has an address");
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, config, handler, shutdown_rx));
        ServerHandle { local_addr, shutdown: shutdown_tx, task }
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: ServerConfig,
    handler: Arc<dyn RequestHandler>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let permit = match permits.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        warn!(%peer, max = config.max_connections, "connection limit reached, refusing");
                        drop(stream);
                        continue;
                    }
                };
                let opts = ConnectionOptions {
                    limits: config.limits,
                    idle_timeout: config.idle_timeout,
                    response_serialize: config.response_serialize,
                    request_serialize: config.response_serialize.unwrap_or_default(),
                };
                match connection::spawn(stream, Some(handler.clone()), opts, Some(shutdown.clone())) {
                    Ok((_channel, join)) => {
                        conns.spawn(async move {
                            let _ = join.await;
                            drop(permit);
                        });
                    }
                    Err(e) => warn!(%peer, error = %e, "could not set up connection"),
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    info!(open = conns.len(), "server stopping");
    let grace = tokio::time::sleep(config.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = conns.join_next() => if next.is_none() { break },
            _ = &mut grace => {
                conns.abort_all();
                break;
            }
        }
    }
}
