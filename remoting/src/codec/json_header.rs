//! JSON header (serialize type 0).
//!
//! Java writes it with fastjson: keys in alphabetical order, null values
//! omitted, `language` by name. Real clients differ (ali-ons sends numbers and
//! booleans inside `extFields`; the C++ client omits `serializeTypeCurrentRPC`),
//! so decoding accepts any key order, missing keys and non-string values.

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::code::LanguageCode;
use super::command::{ExtFields, RemotingCommand, SerializeType};
use super::error::DecodeError;

pub fn decode(header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    // Every request passes here: read straight into the command instead of
    // building a serde_json::Value tree first (a fifth of a broker's send CPU).
    let mut de = serde_json::Deserializer::from_slice(header);
    let parsed = serde::de::Deserializer::deserialize_any(&mut de, HeaderVisitor).and_then(|r| de.end().map(|()| r));
    match parsed {
        Ok(Ok(cmd)) => Ok(cmd),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(DecodeError::InvalidJson { offset: error_offset(header, &e), reason: e.to_string() }),
    }
}

/// Top-level object. Field errors are kept and reported after the whole
/// object has been read, so they surface as our typed error, not serde's.
struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Result<RemotingCommand, DecodeError>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a remoting header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut cmd = RemotingCommand { serialize_type: SerializeType::Json, ..Default::default() };
        let mut failed: Option<DecodeError> = None;
        while let Some(key) = map.next_key::<Field>()? {
            let (slot, name) = match key {
                Field::Code => (&mut cmd.code, "code"),
                Field::Version => (&mut cmd.version, "version"),
                Field::Opaque => (&mut cmd.opaque, "opaque"),
                Field::Flag => (&mut cmd.flag, "flag"),
                Field::Language => {
                    let v: Value = map.next_value()?;
                    cmd.language = match &v {
                        Value::String(s) => LanguageCode::from_name(s),
                        Value::Number(n) => LanguageCode::Known(n.as_u64().unwrap_or(7).min(255) as u8),
                        _ => LanguageCode::default(),
                    };
                    continue;
                }
                Field::Remark => {
                    cmd.remark = match map.next_value::<Value>()? {
                        Value::Null => None,
                        Value::String(s) => Some(s),
                        other => Some(other.to_string()),
                    };
                    continue;
                }
                Field::ExtFields => {
                    match map.next_value::<ExtFieldsValue>()? {
                        ExtFieldsValue::Map(ext) => cmd.ext_fields = Some(ext),
                        ExtFieldsValue::Null => cmd.ext_fields = None,
                        ExtFieldsValue::Other(other) => {
                            failed.get_or_insert(DecodeError::InvalidJson {
                                offset: 0,
                                reason: format!("extFields is not an object but {other}"),
                            });
                        }
                    }
                    continue;
                }
                // Ignored on decode: the frame's type byte is authoritative.
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let v: Value = map.next_value()?;
            match int_field(&v, name) {
                Ok(n) => *slot = n,
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        Ok(match failed {
            Some(e) => Err(e),
            None => Ok(cmd),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(not_an_object(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(not_an_object(Value::String(v.to_owned())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(not_an_object(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(not_an_object(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(not_an_object(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(not_an_object(Value::from(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(not_an_object(Value::Null))
    }
}

fn not_an_object(v: Value) -> Result<RemotingCommand, DecodeError> {
    Err(DecodeError::InvalidJson { offset: 0, reason: format!("header is not an object but {v}") })
}

/// A top-level key, matched without allocating.
enum Field {
    Code,
    Version,
    Opaque,
    Flag,
    Language,
    Remark,
    ExtFields,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a header key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "code" => Field::Code,
                    "version" => Field::Version,
                    "opaque" => Field::Opaque,
                    "flag" => Field::Flag,
                    "language" => Field::Language,
                    "remark" => Field::Remark,
                    "extFields" => Field::ExtFields,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_str(FieldVisitor)
    }
}

/// The `extFields` value: fastjson coerces scalars into the String map and
/// treats null values as absent fields.
enum ExtFieldsValue {
    Map(ExtFields),
    Null,
    Other(Value),
}

impl<'de> Deserialize<'de> for ExtFieldsValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ExtFieldsVisitor)
    }
}

struct ExtFieldsVisitor;

impl<'de> Visitor<'de> for ExtFieldsVisitor {
    type Value = ExtFieldsValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an extFields object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut ext = ExtFields::with_capacity_and_hasher(map.size_hint().unwrap_or(16), Default::default());
        while let Some(k) = map.next_key::<String>()? {
            match map.next_value::<ExtValue>()?.0 {
                Some(v) => {
                    ext.insert(k, v);
                }
                // A later null hides an earlier value, as in a JSON object read as a whole.
                None => {
                    ext.shift_remove(&k);
                }
            }
        }
        Ok(ExtFieldsValue::Map(ext))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ExtFieldsValue::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok(ExtFieldsValue::Other(Value::deserialize(SeqAccessDeserializer::new(seq))?))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(ExtFieldsValue::Other(Value::String(v.to_owned())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(ExtFieldsValue::Other(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(ExtFieldsValue::Other(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(ExtFieldsValue::Other(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(ExtFieldsValue::Other(Value::from(v)))
    }
}

/// One `extFields` value as the String Java's map holds (None for null).
struct ExtValue(Option<String>);

impl<'de> Deserialize<'de> for ExtValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ExtValueVisitor)
    }
}

struct ExtValueVisitor;

impl<'de> Visitor<'de> for ExtValueVisitor {
    type Value = ExtValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an extFields value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(ExtValue(Some(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(ExtValue(Some(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(ExtValue(Some(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(ExtValue(Some(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(ExtValue(Some(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Same text as serde_json's Value display of the number.
        Ok(ExtValue(Some(Value::from(v).to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ExtValue(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(ExtValue(Some(Value::deserialize(MapAccessDeserializer::new(map))?.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok(ExtValue(Some(Value::deserialize(SeqAccessDeserializer::new(seq))?.to_string())))
    }
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

    #[test]
    fn ext_fields_keep_wire_order_and_java_value_rules() {
        let h = br#"{"code":10,"extFields":{"z":"1","a":2.5,"m":{"x":[1,true]},"d":"old","n":1,"d":"new","n":null},"flag":0}"#;
        let cmd = decode(h).unwrap();
        let ext = cmd.ext_fields.as_ref().unwrap();
        let keys: Vec<&str> = ext.keys().map(String::as_str).collect();
        assert_eq!(keys, ["z", "a", "m", "d"]);
        assert_eq!(cmd.ext("a"), Some("2.5"));
        assert_eq!(cmd.ext("m"), Some(r#"{"x":[1,true]}"#));
        assert_eq!(cmd.ext("d"), Some("new"));
        assert_eq!(cmd.ext("n"), None, "a later null hides the earlier value");
    }

    #[test]
    fn typed_errors_for_bad_fields() {
        for (h, want) in [
            (&br#"{"code":"ten","flag":0}"#[..], "field code is not an int"),
            (br#"{"code":1,"opaque":1.5}"#, "field opaque is not an int"),
            (br#"{"code":1,"extFields":[1]}"#, "extFields is not an object but [1]"),
            (br#"{"code":1,"extFields":"x"}"#, "extFields is not an object but \"x\""),
            (br#"[1,2]"#, "header is not an object but [1,2]"),
            (br#""s""#, "header is not an object but \"s\""),
            (br#"7"#, "header is not an object but 7"),
        ] {
            match decode(h) {
                Err(DecodeError::InvalidJson { reason, .. }) => {
                    assert!(reason.starts_with(want), "{}: {reason}", String::from_utf8_lossy(h))
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(h)),
            }
        }
        // Values Java accepts: numbers as strings, null as 0, unknown keys, remark objects.
        let cmd = decode(br#"{"code":" 12 ","opaque":null,"flag":"1","remark":{"a":1},"x":[{}]}"#).unwrap();
        assert_eq!((cmd.code, cmd.opaque, cmd.flag), (12, 0, 1));
        assert_eq!(cmd.remark.as_deref(), Some(r#"{"a":1}"#));
        assert!(matches!(decode(br#"{"code":1}x"#), Err(DecodeError::InvalidJson { offset: 10, .. })));
    }
}
