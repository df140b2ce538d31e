//! One live connection as seen by the code above the transport.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::codec::{RemotingCommand, SerializeType};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TransportError {
    #[error("connection to {0} is closed")]
    Closed(SocketAddr),
    #[error("request opaque {opaque} to {peer} timed out after {millis} ms")]
    Timeout { peer: SocketAddr, opaque: i32, millis: u64 },
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("connect to {addr} timed out after {millis} ms")]
    ConnectTimeout { addr: String, millis: u64 },
    #[error("bad address {0:?}")]
    BadAddress(String),
}

static NEXT_CHANNEL_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct ChannelInner {
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) tx: mpsc::UnboundedSender<RemotingCommand>,
    pub(crate) pending: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
    pub(crate) closed: AtomicBool,
    pub(crate) closed_notify: Notify,
    next_opaque: AtomicI32,
    pub(crate) request_serialize: SerializeType,
}

/// Cheap to clone; all clones refer to the same connection.
#[derive(Clone)]
pub struct Channel {
    pub(crate) inner: Arc<ChannelInner>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel#{}({} -> {})", self.inner.id, self.inner.local, self.inner.peer)
    }
}

impl PartialEq for Channel {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}
impl Eq for Channel {}
impl std::hash::Hash for Channel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.id.hash(state)
    }
}

impl Channel {
    pub(crate) fn new(
        peer: SocketAddr,
        local: SocketAddr,
        tx: mpsc::UnboundedSender<RemotingCommand>,
        request_serialize: SerializeType,
    ) -> Channel {
        Channel {
            inner: Arc::new(ChannelInner {
                id: NEXT_CHANNEL_ID.fetch_add(1, Ordering::Relaxed),
                peer,
                local,
                tx,
                pending: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
                closed_notify: Notify::new(),
                next_opaque: AtomicI32::new(0),
                request_serialize,
            }),
        }
    }

    /// A channel with no connection behind it (sends fail as closed): for tests of
    /// code that keys state by channel.
    #[doc(hidden)]
    pub fn unconnected(peer: SocketAddr) -> Channel {
        let (tx, _rx) = mpsc::unbounded_channel();
        Channel::new(peer, peer, tx, SerializeType::Json)
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Resolves once the connection is closed.
    pub async fn closed(&self) {
        loop {
            let notified = self.inner.closed_notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Asks the connection to close; pending requests fail with `Closed`.
    pub fn close(&self) {
        self.mark_closed();
    }

    pub(crate) fn mark_closed(&self) -> bool {
        let first = !self.inner.closed.swap(true, Ordering::AcqRel);
        if first {
            // Dropping the senders fails every waiting invoke at once.
            self.inner.pending.lock().expect("pending lock").clear();
            self.inner.closed_notify.notify_waiters();
        }
        first
    }

    /// Queues a command for writing, as is (responses, or requests with an opaque set).
    pub fn send(&self, cmd: RemotingCommand) -> Result<(), TransportError> {
        if self.is_closed() {
            return Err(TransportError::Closed(self.inner.peer));
        }
        self.inner.tx.send(cmd).map_err(|_| TransportError::Closed(self.inner.peer))
    }

    fn prepare_request(&self, cmd: &mut RemotingCommand) {
        cmd.opaque = self.inner.next_opaque.fetch_add(1, Ordering::Relaxed);
        cmd.flag &= !crate::codec::command::FLAG_RESPONSE;
        cmd.serialize_type = self.inner.request_serialize;
    }

    /// Sends a request and waits for the response with the same opaque.
    pub async fn invoke(&self, mut cmd: RemotingCommand, timeout: Duration) -> Result<RemotingCommand, TransportError> {
        self.prepare_request(&mut cmd);
        let opaque = cmd.opaque;
        let (tx, rx) = oneshot::channel();
        self.inner.pending.lock().expect("pending lock").insert(opaque, tx);
        if let Err(e) = self.send(cmd) {
            self.inner.pending.lock().expect("pending lock").remove(&opaque);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(TransportError::Closed(self.inner.peer)),
            Err(_) => {
                self.inner.pending.lock().expect("pending lock").remove(&opaque);
                Err(TransportError::Timeout { peer: self.inner.peer, opaque, millis: timeout.as_millis() as u64 })
            }
        }
    }

    /// Sends a request flagged oneway; no response will come.
    pub fn invoke_oneway(&self, mut cmd: RemotingCommand) -> Result<(), TransportError> {
        self.prepare_request(&mut cmd);
        cmd.mark_oneway();
        self.send(cmd)
    }

    /// Routes a response to its waiting invoke; false if nobody waits (late or unknown).
    pub(crate) fn complete(&self, resp: RemotingCommand) -> bool {
        let waiter = self.inner.pending.lock().expect("pending lock").remove(&resp.opaque);
        match waiter {
            Some(tx) => tx.send(resp).is_ok(),
            None => false,
        }
    }
}
