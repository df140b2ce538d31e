//! ROCKETMQ binary header (serialize type 1):
//! `short code | byte language | short version | int opaque | int flag |
//!  int remarkLen + remark | int extLen + { short keyLen + key, int valLen + val }*`.

use super::code::LanguageCode;
use super::command::{ExtFields, RemotingCommand, SerializeType};
use super::error::DecodeError;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() - self.pos < n {
            return Err(DecodeError::BinaryTruncated { field, offset: self.pos });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.take(2, field)?.try_into().expect("2 bytes")))
    }
    fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take(4, field)?.try_into().expect("4 bytes")))
    }
    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }
    /// A length-prefixed UTF-8 string; length 0 is Java's null, returned as "".
    fn string(&mut self, len: i64, field: &'static str) -> Result<String, DecodeError> {
        let at = self.pos;
        if len < 0 || len as usize > self.buf.len() {
            return Err(DecodeError::BinaryBadLength { field, len, offset: at });
        }
        let bytes = self.take(len as usize, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8 { field, offset: at })
    }
}

pub fn decode(header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    let mut r = Reader { buf: header, pos: 0 };
    let code = r.i16("code")? as i32;
    let lang = r.u8("language")?;
    let version = r.i16("version")? as i32;
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let remark_len = r.i32("remark length")?;
    let remark = r.string(remark_len as i64, "remark")?;
    let ext_len = r.i32("extFields length")?;
    let ext_fields = if ext_len > 0 {
        let at = r.pos;
        let block = r.take(ext_len as usize, "extFields").map_err(|_| DecodeError::BinaryBadLength {
            field: "extFields length",
            len: ext_len as i64,
            offset: at - 4,
        })?;
        let mut er = Reader { buf: block, pos: 0 };
        let mut ext = ExtFields::default();
        while er.pos < block.len() {
            let klen = er.i16("ext key length").map_err(|e| shift(e, at))?;
            let k = er.string(klen as i64, "ext key").map_err(|e| shift(e, at))?;
            let vlen = er.i32("ext value length").map_err(|e| shift(e, at))?;
            let v = er.string(vlen as i64, "ext value").map_err(|e| shift(e, at))?;
            // Duplicate keys: last wins, as in Java's HashMap.
            ext.insert(k, v);
        }
        Some(ext)
    } else if ext_len < 0 {
        return Err(DecodeError::BinaryBadLength { field: "extFields length", len: ext_len as i64, offset: r.pos - 4 });
    } else {
        None
    };
    Ok(RemotingCommand {
        code,
        language: LanguageCode::Known(lang),
        version,
        opaque,
        flag,
        remark: if remark.is_empty() { None } else { Some(remark) },
        ext_fields,
        body: None,
        serialize_type: SerializeType::RocketMq,
    })
}

/// Offsets inside the ext block are reported relative to the whole header.
fn shift(e: DecodeError, base: usize) -> DecodeError {
    match e {
        DecodeError::BinaryTruncated { field, offset } => DecodeError::BinaryTruncated { field, offset: offset + base },
        DecodeError::BinaryBadLength { field, len, offset } => {
            DecodeError::BinaryBadLength { field, len, offset: offset + base }
        }
        DecodeError::InvalidUtf8 { field, offset } => DecodeError::InvalidUtf8 { field, offset: offset + base },
        other => other,
    }
}

pub fn encode(cmd: &RemotingCommand, out: &mut Vec<u8>) {
    // Codes above 32767 (POP_MESSAGE 200050) truncate, as in Java: such codes need JSON.
    out.extend_from_slice(&(cmd.code as i16).to_be_bytes());
    out.push(cmd.language.code());
    out.extend_from_slice(&(cmd.version as i16).to_be_bytes());
    out.extend_from_slice(&cmd.opaque.to_be_bytes());
    out.extend_from_slice(&cmd.flag.to_be_bytes());
    match cmd.remark.as_deref() {
        Some(r) if !r.is_empty() => {
            out.extend_from_slice(&(r.len() as i32).to_be_bytes());
            out.extend_from_slice(r.as_bytes());
        }
        _ => out.extend_from_slice(&0i32.to_be_bytes()),
    }
    let len_at = out.len();
    out.extend_from_slice(&0i32.to_be_bytes());
    if let Some(ext) = &cmd.ext_fields {
        for (k, v) in ext {
            out.extend_from_slice(&(k.len() as i16).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&(v.len() as i32).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
    }
    let ext_len = (out.len() - len_at - 4) as i32;
    out[len_at..len_at + 4].copy_from_slice(&ext_len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bytes() {
        let mut cmd = RemotingCommand { code: 310, version: 409, opaque: 3, ..Default::default() };
        cmd.set_ext("a", "group");
        cmd.set_ext("b", "Topic");
        cmd.set_ext("empty", "");
        let mut out = Vec::new();
        encode(&cmd, &mut out);
        let back = decode(&out).unwrap();
        let mut again = Vec::new();
        encode(&back, &mut again);
        assert_eq!(out, again);
        assert_eq!(back.ext("b"), Some("Topic"));
    }

    #[test]
    fn truncation_is_an_error_not_a_panic() {
        let mut cmd = RemotingCommand { code: 10, remark: Some("hello".into()), ..Default::default() };
        cmd.set_ext("k", "v");
        let mut out = Vec::new();
        encode(&cmd, &mut out);
        for cut in 0..out.len() {
            let _ = decode(&out[..cut]);
        }
        // A lying ext length must not read past the header.
        let mut bad = out.clone();
        let n = bad.len();
        bad[n - 12..n - 8].copy_from_slice(&1000i32.to_be_bytes());
        assert!(decode(&bad).is_err());
    }
}
