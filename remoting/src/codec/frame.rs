//! Framing: splitting a byte stream into commands and writing commands out.

use bytes::{Buf, Bytes, BytesMut};

use super::command::{RemotingCommand, SerializeType};
use super::error::DecodeError;
use super::{binary_header, json_header};

/// Java's default `com.rocketmq.remoting.frameMaxLength`.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Largest accepted `length + 4`, like Netty's `LengthFieldBasedFrameDecoder`.
    pub max_frame: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits { max_frame: DEFAULT_MAX_FRAME }
    }
}

/// Takes one complete frame off the front of `buf` and decodes it.
///
/// `Ok(None)` means more bytes are needed. Size limits are checked as soon as
/// the length word is in, so an oversized frame is refused before it is buffered.
pub fn decode(buf: &mut BytesMut, limits: FrameLimits) -> Result<Option<RemotingCommand>, DecodeError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let length = i32::from_be_bytes(buf[..4].try_into().expect("4 bytes")) as i64;
    if length < 4 {
        return Err(DecodeError::FrameTooShort { length });
    }
    if length as u64 + 4 > limits.max_frame as u64 {
        return Err(DecodeError::FrameTooLarge { length: length as u64, max: limits.max_frame });
    }
    let total = length as usize + 4;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    let frame = buf.split_to(length as usize).freeze();
    decode_frame(frame).map(Some)
}

/// Decodes one frame given everything after its 4-byte length word.
pub fn decode_frame(mut frame: Bytes) -> Result<RemotingCommand, DecodeError> {
    let frame_len = frame.len();
    if frame_len < 4 {
        return Err(DecodeError::FrameTooShort { length: frame_len as i64 });
    }
    let word = frame.get_u32();
    let header_len = (word & 0x00FF_FFFF) as usize;
    let type_byte = (word >> 24) as u8;
    if header_len > frame_len - 4 {
        return Err(DecodeError::HeaderLengthPastFrame { header_len, frame_len });
    }
    let header = frame.split_to(header_len);
    let mut cmd = match SerializeType::from_code(type_byte) {
        Some(SerializeType::Json) => json_header::decode(&header)?,
        Some(SerializeType::RocketMq) => binary_header::decode(&header)?,
        None => return Err(DecodeError::UnknownSerializeType(type_byte)),
    };
    cmd.body = if frame.is_empty() { None } else { Some(frame) };
    Ok(cmd)
}

/// Appends `cmd` as one frame, its header in `cmd.serialize_type`.
pub fn encode(cmd: &RemotingCommand, out: &mut BytesMut) {
    let mut header = Vec::with_capacity(128);
    match cmd.serialize_type {
        SerializeType::Json => json_header::encode(cmd, &mut header),
        SerializeType::RocketMq => binary_header::encode(cmd, &mut header),
    }
    let body_len = cmd.body_len();
    out.reserve(8 + header.len() + body_len);
    out.extend_from_slice(&((4 + header.len() + body_len) as i32).to_be_bytes());
    let word = ((cmd.serialize_type.code() as u32) << 24) | (header.len() as u32 & 0x00FF_FFFF);
    out.extend_from_slice(&word.to_be_bytes());
    out.extend_from_slice(&header);
    if let Some(body) = &cmd.body {
        out.extend_from_slice(body);
    }
}

pub fn encode_to_vec(cmd: &RemotingCommand) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(cmd, &mut out);
    out.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: SerializeType) -> RemotingCommand {
        let mut cmd = RemotingCommand { code: 103, version: 479, opaque: 9, serialize_type: t, ..Default::default() };
        cmd.set_ext("brokerName", "broker-a");
        cmd.body = Some(Bytes::from_static(b"{\"x\":1}"));
        cmd
    }

    #[test]
    fn split_stream_into_frames() {
        let mut stream = BytesMut::new();
        encode(&sample(SerializeType::Json), &mut stream);
        encode(&sample(SerializeType::RocketMq), &mut stream);
        let bytes = stream.clone();
        // Feed byte by byte: never a partial decode.
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in bytes.iter() {
            buf.extend_from_slice(&[*b]);
            while let Some(cmd) = decode(&mut buf, FrameLimits::default()).unwrap() {
                got.push(cmd);
            }
        }
        assert_eq!(got, vec![sample(SerializeType::Json), sample(SerializeType::RocketMq)]);
    }

    #[test]
    fn limits() {
        let mut buf = BytesMut::from(&[0x01u8, 0, 0, 0][..]);
        assert!(matches!(decode(&mut buf, FrameLimits::default()), Err(DecodeError::FrameTooLarge { .. })));
        let mut buf = BytesMut::from(&[0u8, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0, 0][..]);
        assert!(matches!(decode(&mut buf, FrameLimits::default()), Err(DecodeError::HeaderLengthPastFrame { .. })));
        let mut buf = BytesMut::from(&[0u8, 0, 0, 4, 7, 0, 0, 0][..]);
        assert!(matches!(decode(&mut buf, FrameLimits::default()), Err(DecodeError::UnknownSerializeType(7))));
        let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert!(matches!(decode(&mut buf, FrameLimits::default()), Err(DecodeError::FrameTooShort { .. })));
    }
}
