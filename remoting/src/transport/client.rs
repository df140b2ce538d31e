//! Client side: one cached connection per address, opaque-matched calls.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::channel::{Channel, TransportError};
use super::connection::{self, ConnectionOptions};
use super::RequestHandler;
use crate::codec::{FrameLimits, RemotingCommand, SerializeType};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub connect_timeout: Duration,
    pub limits: FrameLimits,
    /// Header serialization of our requests (`ROCKETMQ_SERIALIZE_TYPE`).
    pub serialize: SerializeType,
    /// Close idle client connections after this long (Java client: 120 s).
    pub idle_timeout: Option<Duration>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(3),
            limits: FrameLimits::default(),
            serialize: SerializeType::Json,
            idle_timeout: Some(Duration::from_secs(120)),
        }
    }
}

/// A client that keeps one connection per remote address and reconnects on demand.
#[derive(Clone)]
pub struct Client {
    config: ClientConfig,
    handler: Option<Arc<dyn RequestHandler>>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Client {
        Client { config, handler: None, channels: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// A client that also serves requests the remote side sends (e.g. broker -> client callbacks).
    pub fn with_handler(config: ClientConfig, handler: Arc<dyn RequestHandler>) -> Client {
        Client { config, handler: Some(handler), channels: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// The cached live channel to `addr` ("host:port"), connecting if needed.
    pub async fn channel(&self, addr: &str) -> Result<Channel, TransportError> {
        let mut map = self.channels.lock().await;
        if let Some(ch) = map.get(addr) {
            if !ch.is_closed() {
                return Ok(ch.clone());
            }
        }
        let ch = self.connect(addr).await?;
        map.insert(addr.to_string(), ch.clone());
        Ok(ch)
    }

    /// A fresh connection to `addr`, not cached.
    pub async fn connect(&self, addr: &str) -> Result<Channel, TransportError> {
        let ms = self.config.connect_timeout.as_millis() as u64;
        let stream = match tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(TransportError::Connect { addr: addr.to_string(), reason: e.to_string() }),
            Err(_) => return Err(TransportError::ConnectTimeout { addr: addr.to_string(), millis: ms }),
        };
        let opts = ConnectionOptions {
            limits: self.config.limits,
            idle_timeout: self.config.idle_timeout,
            response_serialize: None,
            request_serialize: self.config.serialize,
        };
        let (ch, _join) = connection::spawn(stream, self.handler.clone(), opts, None)
            .map_err(|e| TransportError::Connect { addr: addr.to_string(), reason: e.to_string() })?;
        Ok(ch)
    }

    pub async fn invoke(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, TransportError> {
        let ch = self.channel(addr).await?;
        ch.invoke(cmd, timeout).await
    }

    pub async fn invoke_oneway(&self, addr: &str, cmd: RemotingCommand) -> Result<(), TransportError> {
        let ch = self.channel(addr).await?;
        ch.invoke_oneway(cmd)
    }

    /// Closes every cached connection.
    pub async fn close_all(&self) {
        let mut map = self.channels.lock().await;
        for (_, ch) in map.drain() {
            ch.close();
        }
    }
}
