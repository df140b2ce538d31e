//! tokio transport: a server with a connection limit, idle timeout and graceful
//! shutdown, a client with opaque -> response matching, and the [`Channel`]
//! both use, so a server can also send requests to its clients (broker ->
//! producer transaction checks) and a client can serve requests.

mod channel;
mod client;
mod connection;
mod server;
mod signal;

use std::future::Future;
use std::pin::Pin;

pub use channel::{Channel, TransportError};
pub use client::{Client, ClientConfig};
pub use server::{Server, ServerConfig, ServerHandle};
pub use signal::ShutdownSignal;

use crate::codec::RemotingCommand;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Serves requests arriving on a connection.
///
/// `handle` returns the response (or `None`, e.g. for oneway requests or
/// requests answered later through the channel). The transport sets the
/// response's opaque and response flag, and drops responses to oneway requests.
pub trait RequestHandler: Send + Sync + 'static {
    fn handle(&self, channel: &Channel, request: RemotingCommand) -> BoxFuture<Option<RemotingCommand>>;

    /// A connection was accepted (server) or established (client).
    fn on_open(&self, _channel: &Channel) {}

    /// A connection closed, for whatever reason. Called exactly once per channel.
    fn on_close(&self, _channel: &Channel) {}
}
