//! TCP stream reassembly per direction, and splitting a reassembled stream into
//! remoting frames (`int length | length bytes`).
//!
//! Segments are placed by sequence number relative to the stream start (the
//! SYN's sequence number + 1, since the SYN consumes one; without a SYN in the
//! capture, the first sequence number seen). Retransmissions and duplicates
//! are dropped (overlapping bytes are checked against what was already
//! assembled and counted if they differ), out-of-order segments wait until the
//! gap before them is filled. Each time the contiguous stream grows, the
//! timestamp of the packet that made it grow is recorded, so every frame gets
//! the time of the packet that completed it. Streams are limited to 2 GiB.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddrV4;

use bytes::Bytes;

use crate::pcap::{TcpSegment, Timestamp};

/// Counters describing how messy a stream was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub segments: usize,
    pub payload_bytes: u64,
    /// Bytes received again (retransmits, duplicates).
    pub duplicate_bytes: u64,
    /// Duplicate bytes whose content differed from the first copy (the first copy is kept).
    pub conflicting_bytes: u64,
    pub out_of_order_segments: usize,
    /// Bytes before the stream start (capture began mid-stream and older data showed up later).
    pub bytes_before_start: u64,
}

/// One direction of a connection.
#[derive(Debug, Clone, Default)]
pub struct HalfStream {
    /// Sequence number of stream byte 0.
    base: Option<u32>,
    pub syn_seen: bool,
    /// Segments beyond a gap, by stream offset.
    pending: BTreeMap<u64, Vec<u8>>,
    /// The contiguous reassembled bytes.
    pub data: Vec<u8>,
    /// Each growth of `data`: (new length, timestamp, record number, record file offset).
    growth: Vec<(u64, Timestamp, usize, u64)>,
    /// First FIN: (stream offset it closes at, time).
    pub fin: Option<(u64, Timestamp)>,
    pub rst: Option<Timestamp>,
    pub stats: StreamStats,
}

impl HalfStream {
    /// Bytes received beyond a gap that never got filled.
    pub fn unassembled_bytes(&self) -> u64 {
        self.pending.values().map(|v| v.len() as u64).sum()
    }

    fn rel(&mut self, seq: u32) -> Option<u64> {
        let base = *self.base.get_or_insert(seq);
        let d = seq.wrapping_sub(base) as i32;
        if d >= 0 {
            return Some(d as u64);
        }
        if self.data.is_empty() && !self.syn_seen {
            // Mid-stream capture and an earlier segment arrived late: move the start back.
            let shift = (-(d as i64)) as u64;
            self.pending = std::mem::take(&mut self.pending).into_iter().map(|(k, v)| (k + shift, v)).collect();
            self.fin = self.fin.map(|(o, t)| (o + shift, t));
            self.base = Some(seq);
            return Some(0);
        }
        None
    }

    fn on_segment(&mut self, s: &TcpSegment) {
        self.stats.segments += 1;
        if s.flags.rst() && self.rst.is_none() {
            self.rst = Some(s.ts);
        }
        let mut seq = s.seq;
        if s.flags.syn() {
            if self.syn_seen || !self.data.is_empty() {
                // Retransmitted SYN: its payload (if any) is handled as data below.
            } else {
                self.syn_seen = true;
                self.base = Some(s.seq.wrapping_add(1));
                self.pending.clear();
            }
            seq = s.seq.wrapping_add(1);
        }
        let plen = s.payload.len() as u64;
        self.stats.payload_bytes += plen;
        let Some(rel) = self.rel(seq) else {
            self.stats.bytes_before_start += plen;
            return;
        };
        if s.flags.fin() && self.fin.is_none() {
            self.fin = Some((rel + plen, s.ts));
        }
        if plen > 0 {
            self.insert(rel, &s.payload, s);
        }
    }

    fn insert(&mut self, rel: u64, payload: &[u8], s: &TcpSegment) {
        let have = self.data.len() as u64;
        let end = rel + payload.len() as u64;
        if rel > have {
            self.stats.out_of_order_segments += 1;
            let slot = self.pending.entry(rel).or_default();
            if slot.len() < payload.len() {
                *slot = payload.to_vec();
            }
            return;
        }
        self.check_overlap(rel, payload);
        if end <= have {
            return;
        }
        self.data.extend_from_slice(&payload[(have - rel) as usize..]);
        // Fill from buffered segments the new bytes made contiguous.
        while let Some((&off, _)) = self.pending.first_key_value() {
            if off > self.data.len() as u64 {
                break;
            }
            let seg = self.pending.remove(&off).unwrap_or_default();
            let have = self.data.len() as u64;
            self.check_overlap(off, &seg);
            if off + seg.len() as u64 > have {
                self.data.extend_from_slice(&seg[(have - off) as usize..]);
            }
        }
        self.growth.push((self.data.len() as u64, s.ts, s.record, s.file_offset));
    }

    /// Counts bytes of `payload` at `rel` that are already assembled, and those that differ.
    fn check_overlap(&mut self, rel: u64, payload: &[u8]) {
        let have = self.data.len() as u64;
        let overlap_end = have.min(rel + payload.len() as u64);
        if overlap_end <= rel {
            return;
        }
        let old = &self.data[rel as usize..overlap_end as usize];
        let new = &payload[..(overlap_end - rel) as usize];
        self.stats.duplicate_bytes += old.len() as u64;
        self.stats.conflicting_bytes += old.iter().zip(new).filter(|(a, b)| a != b).count() as u64;
    }

    /// When the byte at `offset` became available: (time, record number, record file offset).
    pub fn arrival_of(&self, offset: u64) -> Option<(Timestamp, usize, u64)> {
        let i = self.growth.partition_point(|g| g.0 <= offset);
        self.growth.get(i).map(|g| (g.1, g.2, g.3))
    }
}

/// One TCP connection seen in a capture.
#[derive(Debug, Clone)]
pub struct TcpConnection {
    /// Index in [`crate::pcap::Capture::connections`].
    pub id: usize,
    /// The initiator (sender of the SYN); without a SYN in the capture, the endpoint with the
    /// higher port (an ephemeral port) is assumed to be the client.
    pub client: SocketAddrV4,
    pub server: SocketAddrV4,
    /// Whether the handshake (client SYN) is in the capture.
    pub opened_in_capture: bool,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub to_server: HalfStream,
    pub to_client: HalfStream,
}

impl fmt::Display for TcpConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {} -> {}", self.id, self.client, self.server)
    }
}

impl TcpConnection {
    pub fn half(&self, from_client: bool) -> &HalfStream {
        if from_client {
            &self.to_server
        } else {
            &self.to_client
        }
    }

    /// The first FIN or RST in either direction: when the capture shows the connection closing.
    pub fn closed_at(&self) -> Option<Timestamp> {
        [self.to_server.fin.map(|f| f.1), self.to_client.fin.map(|f| f.1), self.to_server.rst, self.to_client.rst]
            .into_iter()
            .flatten()
            .min()
    }

    /// Splits one direction into remoting frames. A trailing incomplete frame is not an error
    /// (the capture may stop mid-frame); it is reported in `trailing_bytes`.
    pub fn split_frames(&self, from_client: bool, max_frame: usize) -> Result<StreamFrames, FrameSplitError> {
        let h = self.half(from_client);
        let (src, dst) = if from_client { (self.client, self.server) } else { (self.server, self.client) };
        let mut frames = Vec::new();
        let mut pos = 0usize;
        let data = &h.data;
        while data.len() - pos >= 4 {
            let len = i32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as i64;
            if len < 4 || len as u64 + 4 > max_frame as u64 {
                let file_offset = h.arrival_of(pos as u64).map_or(0, |a| a.2);
                return Err(FrameSplitError {
                    conn: format!("{self} ({src} -> {dst})"),
                    stream_offset: pos as u64,
                    file_offset,
                    what: format!("frame length {len} outside 4..={}", max_frame.saturating_sub(4)),
                });
            }
            let total = len as usize + 4;
            if data.len() - pos < total {
                break;
            }
            let end = (pos + total) as u64;
            let Some((ts, record, _)) = h.arrival_of(end - 1) else { break };
            frames.push(RawFrame {
                conn: self.id,
                from_client,
                src,
                dst,
                stream_offset: pos as u64,
                ts,
                record,
                bytes: Bytes::copy_from_slice(&data[pos..pos + total]),
            });
            pos += total;
        }
        Ok(StreamFrames {
            conn: self.id,
            from_client,
            src,
            dst,
            frames,
            trailing_bytes: data.len() - pos,
            unassembled_bytes: h.unassembled_bytes(),
        })
    }
}

/// A framing error inside a reassembled stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSplitError {
    pub conn: String,
    pub stream_offset: u64,
    /// File offset of the record that delivered the bad length word.
    pub file_offset: u64,
    pub what: String,
}

/// One remoting frame as captured.
#[derive(Debug, Clone)]
pub struct RawFrame {
    pub conn: usize,
    pub from_client: bool,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub stream_offset: u64,
    /// Time of the packet that completed the frame.
    pub ts: Timestamp,
    /// Record number of that packet.
    pub record: usize,
    /// The whole frame, including its 4-byte length word.
    pub bytes: Bytes,
}

impl RawFrame {
    /// Everything after the length word (what `decode_frame` takes).
    pub fn after_length(&self) -> Bytes {
        self.bytes.slice(4..)
    }
}

/// The frames of one direction of one connection.
#[derive(Debug, Clone)]
pub struct StreamFrames {
    pub conn: usize,
    pub from_client: bool,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub frames: Vec<RawFrame>,
    /// Bytes after the last complete frame.
    pub trailing_bytes: usize,
    /// Bytes stuck behind a gap in the sequence space.
    pub unassembled_bytes: u64,
}

/// Groups segments into connections and feeds each direction's stream.
#[derive(Debug, Default)]
pub struct Reassembler {
    conns: Vec<TcpConnection>,
    /// (client, server) -> index of the current connection for that 4-tuple.
    by_tuple: HashMap<(SocketAddrV4, SocketAddrV4), usize>,
}

impl Reassembler {
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    pub fn push(&mut self, s: &TcpSegment) {
        let key_fwd = (s.src, s.dst);
        let key_rev = (s.dst, s.src);
        let is_client_syn = s.flags.syn() && !s.flags.ack();
        let existing = self.by_tuple.get(&key_fwd).or_else(|| self.by_tuple.get(&key_rev)).copied();
        let idx = match existing {
            Some(i) if !(is_client_syn && self.is_new_connection(i, s)) => i,
            _ => {
                let (client, server, opened) = if is_client_syn {
                    (s.src, s.dst, true)
                } else if s.flags.syn() {
                    (s.dst, s.src, true) // SYN-ACK first: the receiver initiated
                } else if s.src.port() >= s.dst.port() {
                    (s.src, s.dst, false)
                } else {
                    (s.dst, s.src, false)
                };
                let id = self.conns.len();
                self.conns.push(TcpConnection {
                    id,
                    client,
                    server,
                    opened_in_capture: opened,
                    first_ts: s.ts,
                    last_ts: s.ts,
                    to_server: HalfStream::default(),
                    to_client: HalfStream::default(),
                });
                self.by_tuple.remove(&key_fwd);
                self.by_tuple.remove(&key_rev);
                self.by_tuple.insert((client, server), id);
                id
            }
        };
        let c = &mut self.conns[idx];
        c.last_ts = c.last_ts.max(s.ts);
        if s.src == c.client {
            c.to_server.on_segment(s);
        } else {
            c.to_client.on_segment(s);
        }
    }

    /// A client SYN on a known 4-tuple starts a new connection unless it is a retransmission
    /// of the SYN that opened the current one.
    fn is_new_connection(&self, i: usize, s: &TcpSegment) -> bool {
        let c = &self.conns[i];
        if c.client != s.src {
            return true;
        }
        let same_syn = c.to_server.syn_seen && c.to_server.base == Some(s.seq.wrapping_add(1));
        !same_syn
    }

    pub fn finish(self) -> Vec<TcpConnection> {
        self.conns
    }
}

#[cfg(test)]
#[path = "tcp_tests.rs"]
mod tests;
