//! REGISTER_BROKER body: plain fastjson `RegisterBrokerBody`, or the compressed
//! binary form (`compressedRegister=true`): a zlib stream of length-prefixed parts.

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::body::{self, BodyError, DataVersion, RegisterBrokerBody, TopicConfig};
use crate::codec::Version;

/// `UtilAll.crc32`: CRC32 of the body masked to a non-negative int.
pub fn body_crc32(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

pub fn decode_register_body(
    data: &[u8],
    compressed: bool,
    broker_version: Version,
) -> Result<RegisterBrokerBody, BodyError> {
    if !compressed {
        return body::decode("RegisterBrokerBody", data);
    }
    let err = |reason: String| BodyError { what: "compressed RegisterBrokerBody", reason };
    let mut inflated = Vec::new();
    ZlibDecoder::new(data).read_to_end(&mut inflated).map_err(|e| err(format!("zlib: {e}")))?;
    let mut r = Parts { buf: &inflated, pos: 0 };
    let dv: DataVersion = body::decode("DataVersion", r.part().map_err(err)?)?;
    let n = r.int().map_err(err)?;
    let mut out = RegisterBrokerBody::default();
    out.topic_config_serialize_wrapper.data_version = dv;
    for _ in 0..n.max(0) {
        let text = std::str::from_utf8(r.part().map_err(err)?).map_err(|e| err(e.to_string()))?;
        if let Some(tc) = decode_topic_config_text(text) {
            out.topic_config_serialize_wrapper.topic_config_table.insert(tc.topic_name.clone(), tc);
        }
    }
    let filters = r.part().map_err(err)?;
    // Java logs and keeps an empty list when this part does not parse.
    out.filter_server_list = body::decode("filterServerList", filters).unwrap_or_default();
    // Static-topic mappings (brokers >= 5.0.0) follow; we do not serve static topics.
    let _ = broker_version;
    Ok(out)
}

pub fn encode_register_body(body: &RegisterBrokerBody, compressed: bool) -> Vec<u8> {
    if !compressed {
        return body::encode(body);
    }
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
    let w = &body.topic_config_serialize_wrapper;
    let dv = body::encode(&w.data_version);
    enc.write_all(&(dv.len() as i32).to_be_bytes()).expect("in-memory write");
    enc.write_all(&dv).expect("in-memory write");
    enc.write_all(&(w.topic_config_table.len() as i32).to_be_bytes()).expect("in-memory write");
    for tc in w.topic_config_table.values() {
        let text = encode_topic_config_text(tc);
        enc.write_all(&(text.len() as i32).to_be_bytes()).expect("in-memory write");
        enc.write_all(text.as_bytes()).expect("in-memory write");
    }
    let filters = body::encode(&body.filter_server_list);
    enc.write_all(&(filters.len() as i32).to_be_bytes()).expect("in-memory write");
    enc.write_all(&filters).expect("in-memory write");
    // No static-topic mappings.
    enc.write_all(&0i32.to_be_bytes()).expect("in-memory write");
    enc.finish().expect("in-memory write")
}

/// `TopicConfig.encode()`: `name read write perm filterType [attributesJSON]`.
pub fn encode_topic_config_text(tc: &TopicConfig) -> String {
    let attrs = tc.attributes.as_ref().map(|a| String::from_utf8(body::encode(a)).expect("JSON is UTF-8"));
    format!(
        "{} {} {} {} {} {}",
        tc.topic_name,
        tc.read_queue_nums,
        tc.write_queue_nums,
        tc.perm,
        tc.topic_filter_type,
        attrs.unwrap_or_default()
    )
}

/// `TopicConfig.decode()`; sysflag and order are not carried and take their defaults.
pub fn decode_topic_config_text(text: &str) -> Option<TopicConfig> {
    let parts: Vec<&str> = text.split(' ').collect();
    if parts.len() < 5 {
        return None;
    }
    let attributes = parts.get(5).filter(|s| !s.is_empty()).and_then(|s| body::decode("attributes", s.as_bytes()).ok());
    Some(TopicConfig {
        attributes,
        order: false,
        perm: parts[3].parse().ok()?,
        read_queue_nums: parts[1].parse().ok()?,
        topic_filter_type: parts[4].to_string(),
        topic_name: parts[0].to_string(),
        topic_sys_flag: 0,
        write_queue_nums: parts[2].parse().ok()?,
    })
}

struct Parts<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Parts<'a> {
    fn int(&mut self) -> Result<i32, String> {
        let b = self.buf.get(self.pos..self.pos + 4).ok_or_else(|| format!("truncated at offset {}", self.pos))?;
        self.pos += 4;
        Ok(i32::from_be_bytes(b.try_into().expect("4 bytes")))
    }
    fn part(&mut self) -> Result<&'a [u8], String> {
        let at = self.pos;
        let n = self.int()?;
        if n < 0 {
            return Err(format!("negative length {n} at offset {at}"));
        }
        let b = self
            .buf
            .get(self.pos..self.pos + n as usize)
            .ok_or_else(|| format!("part of {n} bytes at offset {at} runs past the end"))?;
        self.pos += n as usize;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_round_trip() {
        let mut b = RegisterBrokerBody::default();
        b.topic_config_serialize_wrapper.data_version =
            DataVersion { counter: 3, state_version: Some(0), timestamp: 17 };
        b.topic_config_serialize_wrapper.topic_config_table.insert(
            "T".into(),
            TopicConfig {
                attributes: None,
                order: false,
                perm: 6,
                read_queue_nums: 4,
                topic_filter_type: "SINGLE_TAG".into(),
                topic_name: "T".into(),
                topic_sys_flag: 0,
                write_queue_nums: 4,
            },
        );
        let bytes = encode_register_body(&b, true);
        let back = decode_register_body(&bytes, true, Version::V5_3_3).unwrap();
        assert_eq!(back, b);
        assert!(decode_register_body(&bytes[..bytes.len() / 2], true, Version::V5_3_3).is_err());
    }

    #[test]
    fn crc_is_masked() {
        assert!(body_crc32(b"anything at all") >= 0);
    }
}
