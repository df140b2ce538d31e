//! serde `Deserializer` over a [`Value`], as tolerant as fastjson's `parseObject`:
//! numbers and booleans written as strings (`"4"`, `"true"`) convert, numbers convert
//! into string targets, number keys and digit string keys fit integer map keys, object
//! keys fit struct map keys, `null` reads as an empty array/map, enums accept names or
//! ordinals.

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::number::base64_decode;
use super::value::{Key, Object, Value};
use super::{EmitOptions, Error};

/// Deserializes a `T` from a [`Value`].
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    T::deserialize(value)
}

fn invalid(what: &str, v: &Value) -> Error {
    let kind = match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(t) => format!("number {t}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "array".to_string(),
        Value::Object(_) => "object".to_string(),
    };
    Error::Message(format!("invalid type: {kind}, expected {what}"))
}

/// Parses number text into an integer type: exact integers, else decimals truncated
/// toward zero like Java's `BigDecimal.intValue()` in fastjson's casts.
fn int_from_text<T: TryFrom<i128>>(text: &str, what: &str) -> Result<T, Error> {
    let t = text.strip_prefix('+').unwrap_or(text);
    let wide: i128 = match t.parse::<i128>() {
        Ok(n) => n,
        Err(_) => match t.parse::<f64>() {
            Ok(f) if f.is_finite() && !t.contains(['i', 'I', 'n', 'N']) => f.trunc() as i128,
            _ => return Err(Error::Message(format!("invalid number {text:?}, expected {what}"))),
        },
    };
    T::try_from(wide).map_err(|_| Error::Message(format!("number {text} out of range for {what}")))
}

fn float_from_text(text: &str) -> Result<f64, Error> {
    text.trim().parse::<f64>().map_err(|_| Error::Message(format!("invalid number {text:?}, expected a float")))
}

/// fastjson's `castToBoolean` string forms.
fn bool_from_text(text: &str) -> Option<bool> {
    match text {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        "1" | "Y" | "T" => Some(true),
        "0" | "N" | "F" => Some(false),
        _ => None,
    }
}

/// Visits a number with the narrowest fitting integer, else as a float.
fn visit_number<'de, V: Visitor<'de>>(text: &str, visitor: V) -> Result<V::Value, Error> {
    if let Ok(n) = text.parse::<i64>() {
        visitor.visit_i64(n)
    } else if let Ok(n) = text.parse::<u64>() {
        visitor.visit_u64(n)
    } else if let Ok(n) = text.parse::<i128>() {
        visitor.visit_i128(n)
    } else if let Ok(n) = text.parse::<u128>() {
        visitor.visit_u128(n)
    } else if let Ok(f) = text.parse::<f64>() {
        visitor.visit_f64(f)
    } else {
        visitor.visit_str(text)
    }
}

macro_rules! de_int {
    ($($method:ident => $visit:ident: $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let n: $t = match &self {
                Value::Number(t) | Value::String(t) => int_from_text(t, stringify!($t))?,
                Value::Bool(b) => <$t as TryFrom<u8>>::try_from(u8::from(*b)).unwrap_or_default(),
                other => return Err(invalid(stringify!($t), other)),
            };
            visitor.$visit(n)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(t) => visit_number(&t, visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(a) => visitor.visit_seq(SeqAccess(a.into_iter())),
            Value::Object(o) => visitor.visit_map(MapAccess::new(o)),
        }
    }

    de_int!(deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16, deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64, deserialize_i128 => visit_i128: i128, deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16, deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self {
            Value::Number(t) | Value::String(t) => visitor.visit_f64(float_from_text(t)?),
            other => Err(invalid("a float", other)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let b = match &self {
            Value::Bool(b) => Some(*b),
            Value::Number(t) => int_from_text::<i64>(t, "boolean").ok().map(|n| n == 1),
            Value::String(s) => bool_from_text(s),
            _ => None,
        };
        b.map_or_else(|| Err(invalid("a boolean", &self)), |b| visitor.visit_bool(b))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::String(s) | Value::Number(s) => visitor.visit_string(s),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            // A JSON object/array into a String field reads as its JSON text.
            v @ (Value::Array(_) | Value::Object(_)) => {
                visitor.visit_string(super::to_string(&v, &EmitOptions::COMPACT))
            }
            Value::Null => visitor.visit_unit(),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::String(s) => match base64_decode(&s) {
                Some(b) => visitor.visit_byte_buf(b),
                None => Err(Error::Message("invalid base64 bytes".into())),
            },
            Value::Array(a) => {
                let bytes = a.into_iter().map(de::Deserialize::deserialize).collect::<Result<Vec<u8>, _>>()?;
                visitor.visit_byte_buf(bytes)
            }
            other => Err(invalid("bytes", &other)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_none(),
            v => visitor.visit_some(v),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Array(a) => visitor.visit_seq(SeqAccess(a.into_iter())),
            Value::Null => visitor.visit_seq(SeqAccess(Vec::new().into_iter())),
            other => Err(invalid("an array", &other)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Object(o) => visitor.visit_map(MapAccess::new(o)),
            Value::Null => visitor.visit_map(MapAccess::new(Object::new())),
            other => Err(invalid("an object", &other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            // fastjson's BeanToArray form.
            Value::Array(a) => visitor.visit_seq(SeqAccess(a.into_iter())),
            other => other.deserialize_map(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Value::String(s) => visitor.visit_enum(s.into_deserializer()),
            // fastjson also reads an enum from its ordinal.
            Value::Number(t) => {
                let idx: usize = int_from_text(&t, "an enum ordinal")?;
                let name = variants.get(idx).ok_or_else(|| Error::Message(format!("enum ordinal {t} out of range")))?;
                visitor.visit_enum(name.into_deserializer())
            }
            Value::Object(o) if o.len() == 1 => {
                let (key, value) = o.into_iter().next().expect("one entry");
                let name = key.as_str().ok_or_else(|| Error::Message("enum variant key must be a string".into()))?;
                visitor.visit_enum(EnumAccess { variant: name.to_string(), value })
            }
            other => Err(invalid("an enum", &other)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

impl<'de> IntoDeserializer<'de, Error> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

struct SeqAccess(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for SeqAccess {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|v| seed.deserialize(v)).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapAccess {
    iter: std::vec::IntoIter<(Key, Value)>,
    value: Option<Value>,
}

impl MapAccess {
    fn new(o: Object) -> Self {
        MapAccess { iter: o.into_iter(), value: None }
    }
}

impl<'de> de::MapAccess<'de> for MapAccess {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(KeyDeserializer(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(self.value.take().unwrap_or(Value::Null))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct EnumAccess {
    variant: String,
    value: Value,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = Error;
    type Variant = Value;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Value), Error> {
        let v = seed.deserialize(de::value::StringDeserializer::<Error>::new(self.variant))?;
        Ok((v, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for Value {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

/// Deserializes a map key into the target's key type.
struct KeyDeserializer(Key);

impl KeyDeserializer {
    /// The key as a value for targets that want a map (object keys; a quoted key
    /// holding JSON object text, as the "standard JSON" form writes them).
    fn into_value(self) -> Result<Value, Error> {
        match self.0 {
            Key::Obj(o) => Ok(Value::Object(o)),
            Key::Str(s) if s.trim_start().starts_with('{') => Ok(super::parse(&s)?),
            Key::Str(s) => Ok(Value::String(s)),
            Key::Num(t) => Ok(Value::Number(t)),
        }
    }

    /// Number and string keys as a scalar value (coercions then apply as for values).
    fn scalar(self) -> Value {
        match self.0 {
            Key::Str(s) => Value::String(s),
            Key::Num(t) => Value::Number(t),
            Key::Obj(o) => Value::String(super::to_string(&Value::Object(o), &EmitOptions::COMPACT)),
        }
    }
}

macro_rules! key_scalar {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.scalar().$method(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for KeyDeserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Key::Str(s) => visitor.visit_string(s),
            Key::Num(t) => visit_number(&t, visitor),
            Key::Obj(o) => visitor.visit_map(MapAccess::new(o)),
        }
    }

    key_scalar!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_bool,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_identifier,
        deserialize_bytes,
        deserialize_byte_buf
    );

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.into_value()?.deserialize_map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.into_value()?.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.scalar().deserialize_enum(name, variants, visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_seq<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(Error::Message("a map key cannot be an array".into()))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let _ = len;
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}
