//! Body compression selected by the sysflag (`COMPRESSED_FLAG` plus the type in
//! bits 8..10). Frame formats follow the Java client compressors (5.3.3
//! `common/.../compression`): zlib stream with header (`DeflaterOutputStream`),
//! LZ4 *frame* format (`LZ4FrameOutputStream`), zstd frame (`ZstdOutputStream`).

use std::io::{Read, Write};

use crate::error::RecordError;

pub const COMPRESSED_FLAG: i32 = 0x1;
pub const COMPRESSION_TYPE_MASK: i32 = 0x7 << 8;
pub const COMPRESSION_LZ4_TYPE: i32 = 0x1 << 8;
pub const COMPRESSION_ZSTD_TYPE: i32 = 0x2 << 8;
pub const COMPRESSION_ZLIB_TYPE: i32 = 0x3 << 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionType {
    Lz4,
    Zstd,
    Zlib,
}

impl CompressionType {
    /// `MessageSysFlag.getCompressionType`: type value 0 (old clients) and 3 are
    /// zlib, 1 LZ4, 2 zstd; anything else is an error.
    pub fn from_sys_flag(sys_flag: i32) -> Result<Self, RecordError> {
        match (sys_flag & COMPRESSION_TYPE_MASK) >> 8 {
            0 | 3 => Ok(CompressionType::Zlib),
            1 => Ok(CompressionType::Lz4),
            2 => Ok(CompressionType::Zstd),
            v => Err(RecordError::UnknownCompression(v)),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            CompressionType::Lz4 => "LZ4",
            CompressionType::Zstd => "ZSTD",
            CompressionType::Zlib => "ZLIB",
        }
    }

    /// Sysflag bits for a body compressed with this type (incl. COMPRESSED_FLAG).
    pub fn sys_flag_bits(&self) -> i32 {
        COMPRESSED_FLAG
            | match self {
                CompressionType::Lz4 => COMPRESSION_LZ4_TYPE,
                CompressionType::Zstd => COMPRESSION_ZSTD_TYPE,
                CompressionType::Zlib => COMPRESSION_ZLIB_TYPE,
            }
    }

    pub fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, RecordError> {
        let err = |e: std::io::Error| RecordError::Decompress { kind: self.name(), msg: e.to_string() };
        let mut out = Vec::with_capacity(data.len().saturating_mul(4));
        match self {
            CompressionType::Zlib => {
                flate2::read::ZlibDecoder::new(data).read_to_end(&mut out).map_err(err)?;
            }
            CompressionType::Lz4 => {
                lz4_flex::frame::FrameDecoder::new(data).read_to_end(&mut out).map_err(err)?;
            }
            CompressionType::Zstd => {
                zstd::stream::read::Decoder::new(data).map_err(err)?.read_to_end(&mut out).map_err(err)?;
            }
        }
        Ok(out)
    }

    /// Compresses like the Java client would (level applies to zlib/zstd).
    pub fn compress(&self, data: &[u8], level: i32) -> Result<Vec<u8>, RecordError> {
        let err = |e: std::io::Error| RecordError::Decompress { kind: self.name(), msg: e.to_string() };
        match self {
            CompressionType::Zlib => {
                let lvl = flate2::Compression::new(level.clamp(0, 9) as u32);
                let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), lvl);
                enc.write_all(data).map_err(err)?;
                enc.finish().map_err(err)
            }
            CompressionType::Lz4 => {
                let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
                enc.write_all(data).map_err(err)?;
                enc.finish().map_err(|e| RecordError::Decompress { kind: "LZ4", msg: e.to_string() })
            }
            CompressionType::Zstd => zstd::stream::encode_all(data, level).map_err(err),
        }
    }
}

/// Decompresses `body` if `sys_flag` says it is compressed; returns `None`
/// for uncompressed bodies.
pub fn decompress_body(sys_flag: i32, body: &[u8]) -> Result<Option<Vec<u8>>, RecordError> {
    if sys_flag & COMPRESSED_FLAG == 0 {
        return Ok(None);
    }
    CompressionType::from_sys_flag(sys_flag)?.decompress(body).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let data: Vec<u8> = (0..10000u32).map(|i| (i % 251) as u8).collect();
        for t in [CompressionType::Zlib, CompressionType::Lz4, CompressionType::Zstd] {
            let c = t.compress(&data, 5).unwrap();
            assert_eq!(t.decompress(&c).unwrap(), data);
            assert_eq!(CompressionType::from_sys_flag(t.sys_flag_bits()).unwrap(), t);
        }
        assert_eq!(CompressionType::from_sys_flag(1).unwrap(), CompressionType::Zlib);
        assert!(CompressionType::from_sys_flag(0x401).is_err());
        assert!(CompressionType::Lz4.decompress(b"garbage").is_err());
        assert_eq!(decompress_body(0, b"x").unwrap(), None);
    }
}
