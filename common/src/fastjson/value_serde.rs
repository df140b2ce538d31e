//! `Serialize`/`Deserialize` for the JSON model itself, so structs can hold raw
//! [`Value`]s (e.g. fields whose shape varies between RocketMQ versions).
//!
//! Through this module's own serializer a number keeps its exact text (it travels in
//! a private newtype marker); other serializers see canonical integers as integers and
//! anything else (`1.50`, `1e5`, integers beyond 64 bits) as a newtype around the text,
//! which most formats write as a string.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::value::{Key, Object, Value};
use super::{java_double_to_string, NUMBER_TOKEN};

fn serialize_number<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    if let Ok(n) = text.parse::<i64>() {
        if n.to_string() == text {
            return s.serialize_i64(n);
        }
    }
    if let Ok(n) = text.parse::<u64>() {
        if n.to_string() == text {
            return s.serialize_u64(n);
        }
    }
    s.serialize_newtype_struct(NUMBER_TOKEN, text)
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(t) => serialize_number(t, s),
            Value::String(v) => s.serialize_str(v),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(o) => o.serialize(s),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Key::Str(v) => s.serialize_str(v),
            Key::Num(t) => serialize_number(t, s),
            Key::Obj(o) => o.serialize(s),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        visit_object(map).map(Value::Object)
    }
}

fn visit_object<'de, A: MapAccess<'de>>(mut map: A) -> Result<Object, A::Error> {
    let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
    while let Some((k, v)) = map.next_entry::<Key, Value>()? {
        entries.push((k, v));
    }
    Ok(Object::from_entries_dedup(entries))
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(o) => Ok(o),
            Value::Null => Ok(Object::new()),
            _ => Err(de::Error::custom("expected a JSON object")),
        }
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or object map key")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
        Ok(Key::Str(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
        Ok(v.into())
    }
    fn visit_i128<E>(self, v: i128) -> Result<Key, E> {
        Ok(v.into())
    }
    fn visit_u128<E>(self, v: u128) -> Result<Key, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
        Ok(Key::Num(java_double_to_string(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(Key::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Key, E> {
        Ok(Key::Str(v))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        Key::deserialize(d)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Key, A::Error> {
        visit_object(map).map(Key::Obj)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_any(KeyVisitor)
    }
}
