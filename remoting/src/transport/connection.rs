//! The per-connection read loop and writer task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::channel::Channel;
use super::RequestHandler;
use crate::codec::{self, FrameLimits, RemotingCommand, ResponseCode, SerializeType};

pub(crate) struct ConnectionOptions {
    pub limits: FrameLimits,
    /// Close after this long with neither reads nor writes (`None` = never).
    pub idle_timeout: Option<Duration>,
    /// Serialization of responses: `None` mirrors the request (4.9.8), `Some` is fixed (5.3.3).
    pub response_serialize: Option<SerializeType>,
    pub request_serialize: SerializeType,
}

/// Wraps a connected stream into a [`Channel`] and starts its tasks.
/// The returned join handle finishes when the connection is fully closed.
pub(crate) fn spawn(
    stream: TcpStream,
    handler: Option<Arc<dyn RequestHandler>>,
    opts: ConnectionOptions,
    shutdown: Option<watch::Receiver<bool>>,
) -> std::io::Result<(Channel, tokio::task::JoinHandle<()>)> {
    let peer = stream.peer_addr()?;
    let local = stream.local_addr()?;
    let _ = stream.set_nodelay(true);
    let (tx, rx) = mpsc::unbounded_channel();
    let channel = Channel::new(peer, local, tx, opts.request_serialize);
    let ch = channel.clone();
    let join = tokio::spawn(async move {
        run(stream, ch, rx, handler, opts, shutdown).await;
    });
    Ok((channel, join))
}

async fn run(
    stream: TcpStream,
    channel: Channel,
    mut rx: mpsc::UnboundedReceiver<RemotingCommand>,
    handler: Option<Arc<dyn RequestHandler>>,
    opts: ConnectionOptions,
    mut shutdown: Option<watch::Receiver<bool>>,
) {
    if let Some(h) = &handler {
        h.on_open(&channel);
    }
    let (mut reader, mut writer) = stream.into_split();
    let start = Instant::now();
    let last_activity = Arc::new(AtomicU64::new(0));

    let writer_channel = channel.clone();
    let writer_activity = last_activity.clone();
    let mut writer_task = tokio::spawn(async move {
        let mut out = BytesMut::with_capacity(64 * 1024);
        loop {
            let (first, closing) = tokio::select! {
                cmd = rx.recv() => (cmd, false),
                _ = writer_channel.closed() => (None, true),
            };
            if let Some(cmd) = first {
                codec::encode(&cmd, &mut out);
            } else if !closing {
                break;
            }
            // Coalesce whatever else is queued into one write (on close: flush what is left).
            while out.len() < 1 << 20 {
                match rx.try_recv() {
                    Ok(more) => codec::encode(&more, &mut out),
                    Err(_) => break,
                }
            }
            if !out.is_empty() {
                if let Err(e) = writer.write_all(&out).await {
                    debug!(peer = %writer_channel.peer_addr(), error = %e, "write failed, closing");
                    break;
                }
                out.clear();
                writer_activity.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
            }
            if closing && rx.is_empty() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });

    let mut buf = BytesMut::with_capacity(64 * 1024);
    let reason: String = 'read: loop {
        let idle_deadline = opts.idle_timeout.map(|idle| {
            let last = Duration::from_millis(last_activity.load(Ordering::Relaxed));
            tokio::time::Instant::from_std(start + last + idle)
        });
        let shutdown_fut = async {
            match shutdown.as_mut() {
                Some(rx) => {
                    while !*rx.borrow() {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        let idle_fut = async {
            match idle_deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            res = reader.read_buf(&mut buf) => match res {
                Ok(0) => break 'read "peer closed".to_string(),
                Ok(_) => {
                    last_activity.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
                    loop {
                        match codec::decode(&mut buf, opts.limits) {
                            Ok(Some(cmd)) => dispatch(&channel, handler.as_ref(), cmd, opts.response_serialize),
                            Ok(None) => break,
                            Err(e) => {
                                // One line naming the peer and the reason; only this connection closes.
                                warn!(peer = %channel.peer_addr(), error = %e, "closing connection: undecodable frame");
                                break 'read format!("decode error: {e}");
                            }
                        }
                    }
                }
                Err(e) => break 'read format!("read error: {e}"),
            },
            _ = idle_fut => {
                let last = Duration::from_millis(last_activity.load(Ordering::Relaxed));
                if let Some(idle) = opts.idle_timeout {
                    if start.elapsed() >= last + idle {
                        debug!(peer = %channel.peer_addr(), "closing idle connection");
                        break 'read "idle".to_string();
                    }
                }
            }
            _ = shutdown_fut => break 'read "shutdown".to_string(),
            _ = channel.closed() => break 'read "closed locally".to_string(),
            _ = &mut writer_task => break 'read "writer stopped".to_string(),
        }
    };
    debug!(peer = %channel.peer_addr(), %reason, "connection closed");
    channel.mark_closed();
    // Let queued responses drain briefly, then stop the writer.
    if !writer_task.is_finished() && tokio::time::timeout(Duration::from_millis(200), &mut writer_task).await.is_err() {
        writer_task.abort();
    }
    if let Some(h) = &handler {
        h.on_close(&channel);
    }
}

fn dispatch(
    channel: &Channel,
    handler: Option<&Arc<dyn RequestHandler>>,
    cmd: RemotingCommand,
    response_serialize: Option<SerializeType>,
) {
    if cmd.is_response() {
        if !channel.complete(cmd) {
            debug!(peer = %channel.peer_addr(), "response with no waiting request dropped");
        }
        return;
    }
    let Some(handler) = handler else {
        // A peer sent us a request we cannot serve at all: answer like Java would.
        if !cmd.is_oneway() {
            let mut resp = not_supported(&cmd);
            finish_response(&cmd, &mut resp, response_serialize);
            let _ = channel.send(resp);
        }
        return;
    };
    let oneway = cmd.is_oneway();
    let opaque = cmd.opaque;
    let req_type = cmd.serialize_type;
    let fut = handler.handle(channel, cmd);
    let ch = channel.clone();
    tokio::spawn(async move {
        if let Some(mut resp) = fut.await {
            if oneway {
                return;
            }
            resp.opaque = opaque;
            resp.flag |= crate::codec::command::FLAG_RESPONSE;
            resp.serialize_type = response_serialize.unwrap_or(req_type);
            let _ = ch.send(resp);
        }
    });
}

fn finish_response(req: &RemotingCommand, resp: &mut RemotingCommand, ser: Option<SerializeType>) {
    resp.opaque = req.opaque;
    resp.flag |= crate::codec::command::FLAG_RESPONSE;
    resp.serialize_type = ser.unwrap_or(req.serialize_type);
}

/// Java's answer to a code no processor handles.
pub fn not_supported(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(
        req,
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
        Some(format!(" request type {} not supported", req.code)),
    )
}
