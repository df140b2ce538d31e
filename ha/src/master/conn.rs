//! One slave connection on the master (Java `HAConnection`): a reader taking
//! the slave's offset reports and a writer streaming commitlog frames, run
//! together; when either ends, the connection is closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::MasterCtx;
use crate::codec::{CodecError, ReportReader, TransferHeader};
use crate::log::LogError;
use crate::transfer::ConnAck;

#[derive(Debug, Error)]
enum ConnEnd {
    #[error("slave closed the connection")]
    Eof,
    #[error("nothing read from the slave for {0:?} (haHousekeepingInterval)")]
    Housekeeping(Duration),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("slave reported offset {slave}, beyond the master's commitlog end {master}")]
    SlaveAhead { slave: u64, master: u64 },
    #[error("reading the commitlog at {offset}: {source}")]
    Log { offset: u64, source: LogError },
    #[error("HA service stopping")]
    Stopped,
}

pub(super) async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Arc<MasterCtx>, mut stop: watch::Receiver<bool>) {
    if let Err(e) = stream.set_nodelay(true) {
        debug!(%peer, error = %e, "TCP_NODELAY not set");
    }
    let accepted = Instant::now();
    let ack = ctx.tracker.register(peer.to_string());
    let (rd, wr) = stream.into_split();
    // the first report is the offset the slave asks for
    let (req_tx, req_rx) = watch::channel(None::<u64>);
    let end = tokio::select! {
        e = read_reports(rd, &ctx, &ack, req_tx) => e,
        e = write_frames(wr, &ctx, req_rx, accepted) => e,
        _ = stop.changed() => ConnEnd::Stopped,
    };
    ctx.tracker.unregister(ack.id);
    match end {
        ConnEnd::Stopped | ConnEnd::Eof => info!(%peer, reason = %end, "HA connection closed"),
        other => warn!(%peer, reason = %other, "HA connection closed"),
    }
}

async fn read_reports(
    mut rd: OwnedReadHalf,
    ctx: &MasterCtx,
    ack: &ConnAck,
    req_tx: watch::Sender<Option<u64>>,
) -> ConnEnd {
    let mut buf = vec![0u8; 64 * 1024];
    let mut reports = ReportReader::new();
    let mut first = true;
    let idle = ctx.cfg.housekeeping_interval;
    loop {
        let n = match tokio::time::timeout(idle, rd.read(&mut buf)).await {
            Err(_) => return ConnEnd::Housekeeping(idle),
            Ok(Ok(0)) => return ConnEnd::Eof,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return e.into(),
        };
        let offset = match reports.push(&buf[..n]) {
            Ok(Some(o)) => o,
            Ok(None) => continue,
            Err(e) => return e.into(),
        };
        if first {
            first = false;
            info!(peer = %ack.peer, offset, "slave request offset");
            let _ = req_tx.send(Some(offset));
        } else if ctx.cfg.closes_on_slave_ahead() {
            let master = ctx.log.max_offset();
            if offset > master {
                return ConnEnd::SlaveAhead { slave: offset, master };
            }
        }
        ctx.tracker.acked(ack, offset);
    }
}

async fn read_chunk(ctx: &MasterCtx, offset: u64) -> Result<Option<bytes::Bytes>, ConnEnd> {
    let log = ctx.log.clone();
    let max = ctx.cfg.transfer_batch_size.max(1);
    match tokio::task::spawn_blocking(move || log.read(offset, max)).await {
        Ok(r) => r.map_err(|source| ConnEnd::Log { offset, source }),
        Err(e) => Err(ConnEnd::Log { offset, source: LogError::Store(Box::new(e)) }),
    }
}

async fn write_frames(
    mut wr: OwnedWriteHalf,
    ctx: &MasterCtx,
    mut req_rx: watch::Receiver<Option<u64>>,
    accepted: Instant,
) -> ConnEnd {
    let request = loop {
        if let Some(r) = *req_rx.borrow_and_update() {
            break r;
        }
        if req_rx.changed().await.is_err() {
            // the reader ended first; its reason wins the select
            std::future::pending::<()>().await;
        }
    };
    // a slave with an empty store starts at the master's last file
    let mut next = if request == 0 {
        let max = ctx.log.max_offset();
        max - max % ctx.log.file_size().max(1)
    } else {
        request
    };
    info!(from = next, request, "master transfer starts");
    let heartbeat = ctx.cfg.heartbeat_interval;
    // Java's writer counts idle time from the connection's creation: a slave
    // that reports late gets a heartbeat before its first data frame
    let mut last_write = accepted;
    let mut warned_gone = false;
    loop {
        if last_write.elapsed() > heartbeat {
            if let Err(e) = wr.write_all(&TransferHeader { offset: next, size: 0 }.encode()).await {
                return e.into();
            }
            last_write = Instant::now();
        }
        let listener = ctx.signal.listen();
        let chunk = match read_chunk(ctx, next).await {
            Ok(c) => c,
            Err(e) => return e,
        };
        match chunk {
            Some(data) => {
                drop(listener);
                let header = TransferHeader { offset: next, size: data.len() as u32 };
                if let Err(e) = wr.write_all(&header.encode()).await {
                    return e.into();
                }
                if let Err(e) = wr.write_all(&data).await {
                    return e.into();
                }
                next += data.len() as u64;
                last_write = Instant::now();
            }
            None => {
                if !warned_gone && next < ctx.log.min_offset() {
                    // Java stalls the same way: the slave needs data the master deleted
                    warn!(
                        offset = next,
                        min = ctx.log.min_offset(),
                        "slave asks for commitlog data that is no longer on the master"
                    );
                    warned_gone = true;
                }
                let until_heartbeat = heartbeat.saturating_sub(last_write.elapsed()) + Duration::from_millis(1);
                listener.wait(ctx.cfg.idle_poll.min(until_heartbeat)).await;
            }
        }
    }
}
