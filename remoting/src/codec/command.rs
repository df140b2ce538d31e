//! `RemotingCommand`: one request or response.

use bytes::Bytes;
use indexmap::IndexMap;

use super::code::{LanguageCode, RequestCode, ResponseCode};
use super::version::Version;

/// Header serialization of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    #[default]
    Json,
    RocketMq,
}

impl SerializeType {
    pub fn code(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    pub fn from_code(b: u8) -> Option<SerializeType> {
        match b {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }

    /// `ROCKETMQ_SERIALIZE_TYPE` / `rocketmq.serialize.type` values.
    pub fn from_name(s: &str) -> Option<SerializeType> {
        match s.trim().to_ascii_uppercase().as_str() {
            "JSON" => Some(SerializeType::Json),
            "ROCKETMQ" => Some(SerializeType::RocketMq),
            _ => None,
        }
    }
}

/// The custom-header fields of a command. Insertion order is kept so a decoded
/// ROCKETMQ header re-encodes to the same bytes.
pub type ExtFields = IndexMap<String, String, rustc_hash::FxBuildHasher>;

/// Flag bit 0: this is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Flag bit 1: the request expects no response.
pub const FLAG_ONEWAY: i32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemotingCommand {
    pub code: i32,
    pub language: LanguageCode,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    /// `None` is absent; `Some(empty)` is JSON `"extFields":{}` (a header with only null fields).
    pub ext_fields: Option<ExtFields>,
    pub body: Option<Bytes>,
    /// Serialization of this frame's header (decoded from, or to encode with).
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    pub fn request(code: RequestCode) -> RemotingCommand {
        RemotingCommand { code: code.0, version: Version::CURRENT.0, ..Default::default() }
    }

    /// A response skeleton answering `req`: same opaque, same serialize type (the 4.9.8 rule;
    /// 5.3.3 answers in its configured type, which the server applies afterwards if asked to).
    pub fn response_to(req: &RemotingCommand, code: ResponseCode, remark: Option<String>) -> RemotingCommand {
        RemotingCommand {
            code: code.0,
            version: Version::CURRENT.0,
            opaque: req.opaque,
            flag: FLAG_RESPONSE,
            remark,
            serialize_type: req.serialize_type,
            ..Default::default()
        }
    }

    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    pub fn request_code(&self) -> RequestCode {
        RequestCode(self.code)
    }

    pub fn response_code(&self) -> ResponseCode {
        ResponseCode(self.code)
    }

    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.as_ref().and_then(|m| m.get(key)).map(String::as_str)
    }

    pub fn set_ext(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.ext_fields.get_or_insert_with(ExtFields::default).insert(key.into(), value.into());
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    pub fn body_len(&self) -> usize {
        self.body.as_ref().map_or(0, |b| b.len())
    }

    /// Short description for logs: code name, opaque, peer-independent.
    pub fn describe(&self) -> String {
        if self.is_response() {
            format!("response {} opaque {}", self.response_code(), self.opaque)
        } else {
            format!("request {} opaque {}", self.request_code(), self.opaque)
        }
    }
}
