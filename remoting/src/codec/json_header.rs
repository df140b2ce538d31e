//! JSON header (serialize type 0).
//!
//! Java writes it with fastjson: keys in alphabetical order, null values
//! omitted, `language` by name. Real clients differ (ali-ons sends numbers and
//! booleans inside `extFields`; the C++ client omits `serializeTypeCurrentRPC`),
//! so decoding accepts any key order, missing keys and non-string values.

use serde_json::Value;

use super::code::LanguageCode;
use super::command::{ExtFields, RemotingCommand, SerializeType};
use super::error::DecodeError;

pub fn decode(header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    let value: Value = serde_json::from_slice(header)
        .map_err(|e| DecodeError::InvalidJson { offset: error_offset(header, &e), reason: e.to_string() })?;
    let obj = match value {
        Value::Object(o) => o,
        other => {
            return Err(DecodeError::InvalidJson { offset: 0, reason: format!("header is not an object but {other}") })
        }
    };
    let mut cmd = RemotingCommand { serialize_type: SerializeType::Json, ..Default::default() };
    for (key, v) in obj {
        match key.as_str() {
            "code" => cmd.code = int_field(&v, "code")?,
            "version" => cmd.version = int_field(&v, "version")?,
            "opaque" => cmd.opaque = int_field(&v, "opaque")?,
            "flag" => cmd.flag = int_field(&v, "flag")?,
            "language" => {
                cmd.language = match &v {
                    Value::String(s) => LanguageCode::from_name(s),
                    Value::Number(n) => LanguageCode::Known(n.as_u64().unwrap_or(7).min(255) as u8),
                    _ => LanguageCode::default(),
                }
            }
            "remark" => {
                cmd.remark = match v {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                }
            }
            "extFields" => {
                cmd.ext_fields = match v {
                    Value::Null => None,
                    Value::Object(m) => {
                        let mut ext = ExtFields::with_capacity(m.len());
                        for (k, v) in m {
                            // fastjson coerces scalars into the String map; nulls are absent fields.
                            let s = match v {
                                Value::Null => continue,
                                Value::String(s) => s,
                                other => other.to_string(),
                            };
                            ext.insert(k, s);
                        }
                        Some(ext)
                    }
                    other => {
                        return Err(DecodeError::InvalidJson {
                            offset: 0,
                            reason: format!("extFields is not an object but {other}"),
                        })
                    }
                }
            }
            // Ignored on decode: the frame's type byte is authoritative.
            _ => {}
        }
    }
    Ok(cmd)
}

fn int_field(v: &Value, name: &str) -> Result<i32, DecodeError> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Null => Some(0),
        _ => None,
    };
    n.and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| DecodeError::InvalidJson { offset: 0, reason: format!("field {name} is not an int: {v}") })
}

/// serde_json reports line/column; turn that into a byte offset into the header.
fn error_offset(header: &[u8], e: &serde_json::Error) -> usize {
    let (line, col) = (e.line(), e.column());
    if line == 0 {
        return 0;
    }
    let mut off = 0usize;
    for (i, l) in header.split(|b| *b == b'\n').enumerate() {
        if i + 1 == line {
            return (off + col.saturating_sub(1)).min(header.len());
        }
        off += l.len() + 1;
    }
    header.len()
}

/// Writes the header like fastjson: alphabetical keys, nulls omitted.
pub fn encode(cmd: &RemotingCommand, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"code\":");
    out.extend_from_slice(cmd.code.to_string().as_bytes());
    if let Some(ext) = &cmd.ext_fields {
        out.extend_from_slice(b",\"extFields\":{");
        let mut first = true;
        for (k, v) in ext {
            if !first {
                out.push(b',');
            }
            first = false;
            write_str(out, k);
            out.push(b':');
            write_str(out, v);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b",\"flag\":");
    out.extend_from_slice(cmd.flag.to_string().as_bytes());
    out.extend_from_slice(b",\"language\":");
    write_str(out, cmd.language.name());
    out.extend_from_slice(b",\"opaque\":");
    out.extend_from_slice(cmd.opaque.to_string().as_bytes());
    if let Some(r) = &cmd.remark {
        out.extend_from_slice(b",\"remark\":");
        write_str(out, r);
    }
    out.extend_from_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    out.extend_from_slice(cmd.version.to_string().as_bytes());
    out.push(b'}');
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping of a plain string cannot fail.
    serde_json::to_writer(&mut *out, s).expect("writing a JSON string to a Vec");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_header_round_trips() {
        let h = br#"{"code":105,"extFields":{"topic":"WireTopic"},"flag":0,"language":"JAVA","opaque":0,"serializeTypeCurrentRPC":"JSON","version":409}"#;
        let cmd = decode(h).unwrap();
        assert_eq!(cmd.code, 105);
        assert_eq!(cmd.ext("topic"), Some("WireTopic"));
        let mut out = Vec::new();
        encode(&cmd, &mut out);
        assert_eq!(out, h.to_vec());
    }

    #[test]
    fn tolerates_client_variants() {
        // ali-ons: numbers/booleans inside extFields, NODE_JS language, no serializeTypeCurrentRPC.
        let h = br#"{"code":310,"language":"NODE_JS","version":373,"opaque":7,"flag":0,"extFields":{"e":2,"k":false,"a":"g","x":null}}"#;
        let cmd = decode(h).unwrap();
        assert_eq!(cmd.ext("e"), Some("2"));
        assert_eq!(cmd.ext("k"), Some("false"));
        assert_eq!(cmd.ext("x"), None);
        assert_eq!(cmd.language, LanguageCode::NODE_JS);
    }

    #[test]
    fn invalid_json_names_offset() {
        let err = decode(br#"{"code":1,"flag":}"#).unwrap_err();
        match err {
            DecodeError::InvalidJson { offset, .. } => assert_eq!(offset, 17),
            other => panic!("unexpected {other:?}"),
        }
    }
}
