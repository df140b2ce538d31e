//! A small classic-libpcap reader: global header (both byte orders of the magic,
//! microsecond and nanosecond variants), records, and Ethernet (link type 1) /
//! IPv4 / TCP decoding. [`Capture::open`] goes all the way to reassembled TCP
//! connections (see [`crate::tcp`]) and remoting frames.
//!
//! Nothing here panics on malformed input: every problem is a [`PcapError`]
//! naming the file and the byte offset in it.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::tcp::{Reassembler, StreamFrames, TcpConnection};

/// Ethernet, the only link type we decode.
pub const LINKTYPE_ETHERNET: u32 = 1;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
const IPPROTO_TCP: u8 = 6;
/// Sanity bound for one record's captured length.
const MAX_CAPLEN: u32 = 256 * 1024 * 1024;

/// A packet timestamp (seconds + nanoseconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub secs: u64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn as_secs_f64(&self) -> f64 {
        self.secs as f64 + self.nanos as f64 / 1e9
    }

    /// Microseconds since the epoch (the resolution of `tcpdump` captures).
    pub fn as_micros(&self) -> u64 {
        self.secs * 1_000_000 + (self.nanos / 1000) as u64
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.secs, self.nanos / 1000)
    }
}

/// Why a capture could not be read. `offset` is a byte offset into the file.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{}: byte offset {offset}: {kind}", path.display())]
pub struct PcapError {
    pub path: PathBuf,
    pub offset: u64,
    pub kind: PcapErrorKind,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PcapErrorKind {
    #[error("cannot read file: {0}")]
    Io(String),
    #[error("file too short for the 24-byte pcap global header ({0} bytes)")]
    ShortGlobalHeader(usize),
    #[error("bad pcap magic number {0:#010x} (pcapng is not supported)")]
    BadMagic(u32),
    #[error("unsupported link type {0} (only Ethernet = 1)")]
    UnsupportedLinkType(u32),
    #[error("record header truncated: {available} of 16 bytes")]
    TruncatedRecordHeader { available: usize },
    #[error("record {index}: captured length {caplen} but only {available} bytes left in the file")]
    TruncatedRecordData { index: usize, caplen: u32, available: usize },
    #[error("record {index}: captured length {caplen} is implausible")]
    ImplausibleCaplen { index: usize, caplen: u32 },
    #[error("record {index}: {what}")]
    BadPacket { index: usize, what: String },
    #[error("record {index}: TCP payload cut off by the snap length ({caplen} of {orig_len} bytes captured)")]
    SnappedPayload { index: usize, caplen: u32, orig_len: u32 },
    #[error("connection {conn}: bad remoting frame at stream offset {stream_offset}: {what}")]
    BadFrame { conn: String, stream_offset: u64, what: String },
}

/// One pcap record.
#[derive(Debug, Clone)]
pub struct Record {
    /// 0-based record number.
    pub index: usize,
    /// File offset of the record header.
    pub offset: u64,
    pub ts: Timestamp,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// A parsed pcap file (records undecoded).
#[derive(Debug, Clone)]
pub struct PcapFile {
    pub path: PathBuf,
    pub big_endian: bool,
    pub nanosecond: bool,
    pub snaplen: u32,
    pub link_type: u32,
    pub records: Vec<Record>,
}

/// TCP header flags we care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// One decoded IPv4/TCP packet.
#[derive(Debug, Clone)]
pub struct TcpSegment {
    pub record: usize,
    /// File offset of the record header (for error messages).
    pub file_offset: u64,
    pub ts: Timestamp,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub payload: Vec<u8>,
}

fn err(path: &Path, offset: u64, kind: PcapErrorKind) -> PcapError {
    PcapError { path: path.to_path_buf(), offset, kind }
}

/// Reads and parses a pcap file.
pub fn read_file(path: &Path) -> Result<PcapFile, PcapError> {
    let bytes = std::fs::read(path).map_err(|e| err(path, 0, PcapErrorKind::Io(e.to_string())))?;
    parse(path, &bytes)
}

/// Parses pcap bytes; `path` is only used in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<PcapFile, PcapError> {
    if bytes.len() < 24 {
        return Err(err(path, 0, PcapErrorKind::ShortGlobalHeader(bytes.len())));
    }
    let magic_le = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let (big_endian, nanosecond) = match magic_le {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        other => return Err(err(path, 0, PcapErrorKind::BadMagic(other))),
    };
    let u32_at = |off: usize| -> u32 {
        let b = [bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]];
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let snaplen = u32_at(16);
    let link_type = u32_at(20);
    if link_type != LINKTYPE_ETHERNET {
        return Err(err(path, 20, PcapErrorKind::UnsupportedLinkType(link_type)));
    }
    let mut records = Vec::new();
    let mut off = 24usize;
    while off < bytes.len() {
        let index = records.len();
        let available = bytes.len() - off;
        if available < 16 {
            return Err(err(path, off as u64, PcapErrorKind::TruncatedRecordHeader { available }));
        }
        let (secs, frac, caplen, orig_len) = (u32_at(off), u32_at(off + 4), u32_at(off + 8), u32_at(off + 12));
        if caplen > MAX_CAPLEN {
            return Err(err(path, off as u64 + 8, PcapErrorKind::ImplausibleCaplen { index, caplen }));
        }
        let data_at = off + 16;
        if (bytes.len() - data_at) < caplen as usize {
            let available = bytes.len() - data_at;
            return Err(err(path, off as u64 + 8, PcapErrorKind::TruncatedRecordData { index, caplen, available }));
        }
        let nanos = if nanosecond { frac } else { frac.saturating_mul(1000) };
        let ts = Timestamp { secs: secs as u64 + (nanos / 1_000_000_000) as u64, nanos: nanos % 1_000_000_000 };
        let data = bytes[data_at..data_at + caplen as usize].to_vec();
        records.push(Record { index, offset: off as u64, ts, orig_len, data });
        off = data_at + caplen as usize;
    }
    Ok(PcapFile { path: path.to_path_buf(), big_endian, nanosecond, snaplen, link_type, records })
}

impl PcapFile {
    /// Decodes every record; packets that are not IPv4/TCP are skipped and counted.
    pub fn tcp_segments(&self) -> Result<(Vec<TcpSegment>, usize), PcapError> {
        let mut out = Vec::with_capacity(self.records.len());
        let mut skipped = 0;
        for r in &self.records {
            match decode_tcp(r).map_err(|(at, kind)| err(&self.path, r.offset + 16 + at as u64, kind))? {
                Some(seg) => out.push(seg),
                None => skipped += 1,
            }
        }
        Ok((out, skipped))
    }
}

fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// `Ok(None)`: not an IPv4/TCP packet. Errors carry the offset inside the packet data.
fn decode_tcp(r: &Record) -> Result<Option<TcpSegment>, (usize, PcapErrorKind)> {
    let d = &r.data;
    let bad = |at: usize, what: String| (at, PcapErrorKind::BadPacket { index: r.index, what });
    if d.len() < 14 {
        return Err(bad(0, format!("Ethernet header truncated ({} bytes)", d.len())));
    }
    let mut l3 = 14usize;
    let mut ethertype = be16(d, 12);
    if ethertype == ETHERTYPE_VLAN {
        if d.len() < 18 {
            return Err(bad(12, "VLAN tag truncated".into()));
        }
        ethertype = be16(d, 16);
        l3 = 18;
    }
    if ethertype != ETHERTYPE_IPV4 {
        return Ok(None);
    }
    if d.len() < l3 + 20 {
        return Err(bad(l3, format!("IPv4 header truncated ({} bytes)", d.len() - l3)));
    }
    let vihl = d[l3];
    if vihl >> 4 != 4 {
        return Err(bad(l3, format!("IP version {} in an IPv4 frame", vihl >> 4)));
    }
    let ihl = (vihl & 0x0f) as usize * 4;
    let total_len = be16(d, l3 + 2) as usize;
    if ihl < 20 || total_len < ihl {
        return Err(bad(l3, format!("bad IPv4 header length {ihl} / total length {total_len}")));
    }
    let frag = be16(d, l3 + 6);
    let protocol = d[l3 + 9];
    if protocol != IPPROTO_TCP {
        return Ok(None);
    }
    if frag & 0x3fff != 0 {
        return Err(bad(l3 + 6, "fragmented IPv4 packet (reassembly of IP fragments is not supported)".into()));
    }
    let src_ip = Ipv4Addr::new(d[l3 + 12], d[l3 + 13], d[l3 + 14], d[l3 + 15]);
    let dst_ip = Ipv4Addr::new(d[l3 + 16], d[l3 + 17], d[l3 + 18], d[l3 + 19]);
    // Ethernet may pad short frames: the IP total length is authoritative.
    let ip_end = l3 + total_len;
    if ip_end > d.len() {
        let orig_total = r.orig_len as usize;
        if orig_total > d.len() {
            return Err((
                l3 + 2,
                PcapErrorKind::SnappedPayload { index: r.index, caplen: d.len() as u32, orig_len: r.orig_len },
            ));
        }
        return Err(bad(
            l3 + 2,
            format!("IPv4 total length {total_len} runs past the packet ({} bytes)", d.len() - l3),
        ));
    }
    let l4 = l3 + ihl;
    if ip_end < l4 + 20 {
        return Err(bad(l4, format!("TCP header truncated ({} bytes)", ip_end.saturating_sub(l4))));
    }
    let data_off = (d[l4 + 12] >> 4) as usize * 4;
    if data_off < 20 || l4 + data_off > ip_end {
        return Err(bad(l4 + 12, format!("bad TCP data offset {data_off}")));
    }
    Ok(Some(TcpSegment {
        record: r.index,
        file_offset: r.offset,
        ts: r.ts,
        src: SocketAddrV4::new(src_ip, be16(d, l4)),
        dst: SocketAddrV4::new(dst_ip, be16(d, l4 + 2)),
        seq: be32(d, l4 + 4),
        ack: be32(d, l4 + 8),
        flags: TcpFlags(d[l4 + 13]),
        payload: d[l4 + data_off..ip_end].to_vec(),
    }))
}

/// A capture decoded down to TCP connections.
#[derive(Debug, Clone)]
pub struct Capture {
    pub path: PathBuf,
    pub packets: usize,
    /// Records that were not IPv4/TCP.
    pub skipped_packets: usize,
    pub connections: Vec<TcpConnection>,
}

impl Capture {
    pub fn open(path: &Path) -> Result<Capture, PcapError> {
        let file = read_file(path)?;
        Capture::from_file(&file)
    }

    pub fn from_file(file: &PcapFile) -> Result<Capture, PcapError> {
        let (segments, skipped) = file.tcp_segments()?;
        let mut re = Reassembler::new();
        for s in &segments {
            re.push(s);
        }
        Ok(Capture {
            path: file.path.clone(),
            packets: file.records.len(),
            skipped_packets: skipped,
            connections: re.finish(),
        })
    }

    /// Remoting frames of every connection and direction, each stream split on its own.
    /// Only meaningful for remoting traffic (not for the raw HA protocol).
    pub fn remoting_streams(&self, max_frame: usize) -> Result<Vec<StreamFrames>, PcapError> {
        let mut out = Vec::new();
        for c in &self.connections {
            for from_client in [true, false] {
                let sf = c.split_frames(from_client, max_frame).map_err(|e| PcapError {
                    path: self.path.clone(),
                    offset: e.file_offset,
                    kind: PcapErrorKind::BadFrame { conn: e.conn, stream_offset: e.stream_offset, what: e.what },
                })?;
                out.push(sf);
            }
        }
        Ok(out)
    }

    /// All remoting frames, in the order their last byte arrived (ties: connection, direction, offset).
    pub fn remoting_frames(&self, max_frame: usize) -> Result<Vec<crate::tcp::RawFrame>, PcapError> {
        let mut frames: Vec<_> = self.remoting_streams(max_frame)?.into_iter().flat_map(|s| s.frames).collect();
        frames.sort_by_key(|f| (f.ts, f.record, f.conn, !f.from_client, f.stream_offset));
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{PcapWriter, Pkt};

    fn p() -> &'static Path {
        Path::new("synthetic.pcap")
    }

    #[test]
    fn both_magic_byte_orders_and_nanoseconds() {
        for (big, nano) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut w = PcapWriter::new(big, nano);
            w.packet(&Pkt::new(1, 2).seq(7).flags(TcpFlags::ACK).payload(b"abc").at_nanos(5, 123_456_789));
            let f = parse(p(), &w.finish()).unwrap();
            assert_eq!((f.big_endian, f.nanosecond), (big, nano));
            let (segs, skipped) = f.tcp_segments().unwrap();
            assert_eq!(skipped, 0);
            assert_eq!(segs[0].payload, b"abc");
            assert_eq!(segs[0].seq, 7);
            let want_nanos = if nano { 123_456_789 } else { 123_456_000 };
            assert_eq!(segs[0].ts, Timestamp { secs: 5, nanos: want_nanos });
        }
    }

    #[test]
    fn malformed_input_is_an_error_with_offset_not_a_panic() {
        assert!(matches!(parse(p(), &[0u8; 10]).unwrap_err().kind, PcapErrorKind::ShortGlobalHeader(10)));
        let e = parse(p(), &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            .unwrap_err();
        assert!(matches!(e.kind, PcapErrorKind::BadMagic(_)), "{e}");
        let mut w = PcapWriter::new(false, false);
        w.packet(&Pkt::new(1, 2).payload(b"hello world"));
        let good = w.finish();
        // Every truncation and every single-byte corruption: an error or a result, never a panic.
        for cut in 0..good.len() {
            if let Ok(f) = parse(p(), &good[..cut]) {
                let _ = Capture::from_file(&f).map(|c| c.remoting_streams(1 << 20));
            }
        }
        for i in 24..good.len() {
            for v in [0u8, 0x45, 0xff] {
                let mut bad = good.clone();
                bad[i] = v;
                if let Ok(f) = parse(p(), &bad) {
                    let _ = Capture::from_file(&f).map(|c| c.remoting_streams(1 << 20));
                }
            }
        }
        let e = parse(p(), &good[..good.len() - 3]).unwrap_err();
        assert_eq!(e.offset, 24 + 8);
        assert!(e.to_string().starts_with("synthetic.pcap: byte offset 32: record 0"), "{e}");
    }
}
