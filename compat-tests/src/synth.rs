//! Writes synthetic classic pcap files (Ethernet/IPv4/TCP on 127.0.0.1), for tests of
//! the reader and the reassembly.

use crate::pcap::TcpFlags;

/// One packet to write: 127.0.0.1:`src_port` -> 127.0.0.1:`dst_port`.
#[derive(Debug, Clone)]
pub struct Pkt {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
    pub secs: u32,
    pub nanos: u32,
    /// Ethernet padding bytes after the IP packet (must be ignored by the reader).
    pub padding: usize,
}

impl Pkt {
    pub fn new(src_port: u16, dst_port: u16) -> Pkt {
        Pkt {
            src_port,
            dst_port,
            seq: 0,
            ack: 0,
            flags: TcpFlags::ACK,
            payload: Vec::new(),
            secs: 0,
            nanos: 0,
            padding: 0,
        }
    }
    pub fn seq(mut self, seq: u32) -> Pkt {
        self.seq = seq;
        self
    }
    pub fn flags(mut self, flags: u8) -> Pkt {
        self.flags = flags;
        self
    }
    pub fn payload(mut self, p: &[u8]) -> Pkt {
        self.payload = p.to_vec();
        self
    }
    /// Capture time: seconds and microseconds.
    pub fn at(mut self, secs: u32, micros: u32) -> Pkt {
        self.secs = secs;
        self.nanos = micros * 1000;
        self
    }
    /// Capture time: seconds and nanoseconds (kept only by nanosecond-resolution files).
    pub fn at_nanos(mut self, secs: u32, nanos: u32) -> Pkt {
        self.secs = secs;
        self.nanos = nanos;
        self
    }
    pub fn padding(mut self, n: usize) -> Pkt {
        self.padding = n;
        self
    }

    /// The Ethernet frame bytes.
    pub fn frame(&self) -> Vec<u8> {
        let mut f = Vec::with_capacity(54 + self.payload.len() + self.padding);
        f.extend_from_slice(&[0u8; 12]); // dst + src MAC
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        let total = (20 + 20 + self.payload.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]); // id, DF, ttl, TCP, checksum
        f.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        f.extend_from_slice(&self.src_port.to_be_bytes());
        f.extend_from_slice(&self.dst_port.to_be_bytes());
        f.extend_from_slice(&self.seq.to_be_bytes());
        f.extend_from_slice(&self.ack.to_be_bytes());
        f.extend_from_slice(&[0x50, self.flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(&self.payload);
        f.resize(f.len() + self.padding, 0);
        f
    }
}

/// Builds a pcap file in memory.
pub struct PcapWriter {
    big_endian: bool,
    nanosecond: bool,
    out: Vec<u8>,
}

impl PcapWriter {
    pub fn new(big_endian: bool, nanosecond: bool) -> PcapWriter {
        let mut w = PcapWriter { big_endian, nanosecond, out: Vec::new() };
        let magic = if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        w.u32(magic);
        w.u16(2);
        w.u16(4);
        w.u32(0);
        w.u32(0);
        w.u32(262_144);
        w.u32(1);
        w
    }

    fn u32(&mut self, v: u32) {
        let b = if self.big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        self.out.extend_from_slice(&b);
    }

    fn u16(&mut self, v: u16) {
        let b = if self.big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        self.out.extend_from_slice(&b);
    }

    pub fn packet(&mut self, p: &Pkt) -> &mut PcapWriter {
        let frame = p.frame();
        self.u32(p.secs);
        self.u32(if self.nanosecond { p.nanos } else { p.nanos / 1000 });
        self.u32(frame.len() as u32);
        self.u32(frame.len() as u32);
        self.out.extend_from_slice(&frame);
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}
