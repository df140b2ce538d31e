//! The classic HA wire protocol, without any I/O: a plain TCP stream, not the
//! remoting protocol. Big-endian throughout.
//!
//! * slave → master: 8-byte `maxPhyOffset` reports, back to back;
//! * master → slave: `phyOffset` (8) + `bodySize` (4) + `bodySize` raw
//!   commitlog bytes. A frame with `bodySize = 0` is the master's heartbeat.

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

/// `phyOffset` + `bodySize`.
pub const TRANSFER_HEADER_SIZE: usize = 12;
/// One slave report.
pub const REPORT_SIZE: usize = 8;
/// Java's slave reads into a 4 MiB buffer (`READ_MAX_BUFFER_SIZE`): a frame
/// larger than that could never be completed by a Java slave.
pub const SLAVE_READ_BUFFER: usize = 4 * 1024 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("HA frame at stream offset {stream_offset}: negative commitlog offset {offset}")]
    NegativeOffset { stream_offset: u64, offset: i64 },
    #[error(
        "HA frame at stream offset {stream_offset}: body size {size} is negative or exceeds the {max}-byte read buffer"
    )]
    BadSize { stream_offset: u64, size: i32, max: usize },
    #[error("HA report at stream offset {stream_offset}: negative offset {offset}")]
    NegativeReport { stream_offset: u64, offset: i64 },
}

/// The 12 bytes in front of every master frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferHeader {
    /// Commitlog offset of the first body byte (for a heartbeat: where the
    /// next transfer starts).
    pub offset: u64,
    pub size: u32,
}

impl TransferHeader {
    pub fn encode(&self) -> [u8; TRANSFER_HEADER_SIZE] {
        let mut b = [0u8; TRANSFER_HEADER_SIZE];
        b[..8].copy_from_slice(&(self.offset as i64).to_be_bytes());
        b[8..].copy_from_slice(&(self.size as i32).to_be_bytes());
        b
    }

    pub fn is_heartbeat(&self) -> bool {
        self.size == 0
    }
}

pub fn encode_report(offset: u64) -> [u8; REPORT_SIZE] {
    (offset as i64).to_be_bytes()
}

/// Master side: collects the slave's reports. Java only looks at the last
/// complete 8-byte value of what it has read; earlier ones in the same read
/// are superseded, and a partial value waits for its remaining bytes.
#[derive(Debug, Default)]
pub struct ReportReader {
    pending: Vec<u8>,
    consumed: u64,
}

impl ReportReader {
    pub fn new() -> ReportReader {
        ReportReader::default()
    }

    /// Feeds bytes read from the socket; returns the newest complete report.
    pub fn push(&mut self, data: &[u8]) -> Result<Option<u64>, CodecError> {
        self.pending.extend_from_slice(data);
        let whole = self.pending.len() / REPORT_SIZE * REPORT_SIZE;
        if whole == 0 {
            return Ok(None);
        }
        let last: [u8; 8] = self.pending[whole - REPORT_SIZE..whole].try_into().unwrap_or([0; 8]);
        let value = i64::from_be_bytes(last);
        let at = self.consumed + (whole - REPORT_SIZE) as u64;
        self.pending.drain(..whole);
        self.consumed += whole as u64;
        if value < 0 {
            return Err(CodecError::NegativeReport { stream_offset: at, offset: value });
        }
        Ok(Some(value as u64))
    }
}

/// One complete master frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub header: TransferHeader,
    pub body: Bytes,
}

/// Slave side: splits the master's stream into frames. The header becomes
/// visible before its body ([`FrameReader::header`]) because Java's slave
/// checks the offset as soon as the 12 bytes are there.
#[derive(Debug)]
pub struct FrameReader {
    buf: BytesMut,
    /// Stream offset of `buf[0]`, for error messages.
    consumed: u64,
    max_body: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader::new(SLAVE_READ_BUFFER - TRANSFER_HEADER_SIZE)
    }
}

impl FrameReader {
    pub fn new(max_body: usize) -> FrameReader {
        FrameReader { buf: BytesMut::with_capacity(64 * 1024), consumed: 0, max_body }
    }

    /// Where socket reads go.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The header of the next frame, once its 12 bytes have arrived.
    pub fn header(&self) -> Result<Option<TransferHeader>, CodecError> {
        if self.buf.len() < TRANSFER_HEADER_SIZE {
            return Ok(None);
        }
        let offset = i64::from_be_bytes(self.buf[..8].try_into().unwrap_or([0; 8]));
        let size = i32::from_be_bytes(self.buf[8..12].try_into().unwrap_or([0; 4]));
        if offset < 0 {
            return Err(CodecError::NegativeOffset { stream_offset: self.consumed, offset });
        }
        if size < 0 || size as usize > self.max_body {
            return Err(CodecError::BadSize { stream_offset: self.consumed, size, max: self.max_body });
        }
        Ok(Some(TransferHeader { offset: offset as u64, size: size as u32 }))
    }

    /// The next frame if it is complete.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, CodecError> {
        let Some(header) = self.header()? else { return Ok(None) };
        let total = TRANSFER_HEADER_SIZE + header.size as usize;
        if self.buf.len() < total {
            // make room for the whole frame up front: one allocation, not many
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(TRANSFER_HEADER_SIZE);
        let body = self.buf.split_to(header.size as usize).freeze();
        self.consumed += total as u64;
        Ok(Some(Frame { header, body }))
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_offset_then_size_big_endian() {
        let h = TransferHeader { offset: 418343, size: 32768 };
        assert_eq!(h.encode(), [0, 0, 0, 0, 0, 6, 98, 39, 0, 0, 128, 0]);
        assert_eq!(encode_report(485386), [0, 0, 0, 0, 0, 7, 104, 10]);
    }

    #[test]
    fn reports_take_the_last_complete_value_and_keep_a_partial_one() {
        let mut r = ReportReader::new();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&encode_report(5));
        bytes.extend_from_slice(&encode_report(9));
        bytes.extend_from_slice(&encode_report(12)[..3]);
        assert_eq!(r.push(&bytes).unwrap(), Some(9));
        assert_eq!(r.push(&encode_report(12)[3..7]).unwrap(), None);
        assert_eq!(r.push(&encode_report(12)[7..]).unwrap(), Some(12));
        assert_eq!(r.push(&(-1i64).to_be_bytes()), Err(CodecError::NegativeReport { stream_offset: 24, offset: -1 }));
    }

    #[test]
    fn frames_split_anywhere_reassemble() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&TransferHeader { offset: 100, size: 0 }.encode());
        stream.extend_from_slice(&TransferHeader { offset: 100, size: 5 }.encode());
        stream.extend_from_slice(b"hello");
        stream.extend_from_slice(&TransferHeader { offset: 105, size: 3 }.encode());
        stream.extend_from_slice(b"abc");
        for cut in 1..stream.len() {
            let mut r = FrameReader::default();
            let mut frames = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                r.push(part);
                while let Some(f) = r.next_frame().unwrap() {
                    frames.push(f);
                }
            }
            assert_eq!(frames.len(), 3, "cut at {cut}");
            assert!(frames[0].header.is_heartbeat());
            assert_eq!((frames[1].header.offset, &frames[1].body[..]), (100, &b"hello"[..]));
            assert_eq!((frames[2].header.offset, &frames[2].body[..]), (105, &b"abc"[..]));
            assert_eq!(r.buffered(), 0);
        }
    }

    #[test]
    fn bad_headers_name_their_stream_offset() {
        let mut r = FrameReader::new(1024);
        r.push(&TransferHeader { offset: 0, size: 2 }.encode());
        r.push(b"ok");
        assert!(r.next_frame().unwrap().is_some());
        let mut bad = Vec::new();
        bad.extend_from_slice(&0i64.to_be_bytes());
        bad.extend_from_slice(&4096i32.to_be_bytes());
        r.push(&bad);
        assert_eq!(r.next_frame(), Err(CodecError::BadSize { stream_offset: 14, size: 4096, max: 1024 }));
        let mut r = FrameReader::default();
        r.push(&(-5i64).to_be_bytes());
        r.push(&0i32.to_be_bytes());
        assert_eq!(r.header(), Err(CodecError::NegativeOffset { stream_offset: 0, offset: -5 }));
    }
}
