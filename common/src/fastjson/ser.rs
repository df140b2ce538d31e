//! serde `Serializer` producing a [`Value`] the way fastjson serializes Java objects:
//! struct fields sorted by name (`SortField`), `None`/unit fields and map values
//! omitted, map keys keeping their type (integers become unquoted number keys, structs
//! become object keys), unit enum variants as their name, `Vec<u8>`-as-bytes as base64.

use serde::ser::{self, Serialize};

use super::number::base64_encode;
use super::value::{Key, Object, Value};
use super::{java_double_to_string, java_float_to_string, Error, NUMBER_TOKEN};

/// Serializes any `Serialize` into a [`Value`].
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, Error> {
    value.serialize(ValueSerializer)
}

/// The serializer behind [`to_value`].
pub struct ValueSerializer;

fn float_value(text: Option<String>) -> Value {
    text.map_or(Value::Null, Value::Number)
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = VariantWrap<SeqBuilder>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = StructBuilder;
    type SerializeStructVariant = VariantWrap<StructBuilder>;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        Ok(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        Ok(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        Ok(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        Ok(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<Value, Error> {
        Ok(v.into())
    }
    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        Ok(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        Ok(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        Ok(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        Ok(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<Value, Error> {
        Ok(v.into())
    }
    // fastjson writes NaN and infinities as null (so the field disappears).
    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        Ok(float_value(v.is_finite().then(|| java_float_to_string(v))))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Ok(float_value(v.is_finite().then(|| java_double_to_string(v))))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        Ok(Value::String(base64_encode(v)))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<Value, Error> {
        Ok(Value::String(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<Value, Error> {
        if name == NUMBER_TOKEN {
            return match value.serialize(self)? {
                Value::String(s) => Ok(Value::Number(s)),
                other => Ok(other),
            };
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, Error> {
        let mut o = Object::new();
        o.push(variant, value.serialize(self)?);
        Ok(Value::Object(o))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0).min(4096))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqBuilder, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantWrap<SeqBuilder>, Error> {
        Ok(VariantWrap { variant, inner: self.serialize_seq(Some(len))? })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder, Error> {
        Ok(MapBuilder { obj: Object::new(), key: None })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<StructBuilder, Error> {
        Ok(StructBuilder(Vec::new()))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<VariantWrap<StructBuilder>, Error> {
        Ok(VariantWrap { variant, inner: StructBuilder(Vec::new()) })
    }
}

/// Builds arrays (nulls are kept inside arrays, as fastjson writes them).
pub struct SeqBuilder(Vec<Value>);

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.push(value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Array(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

/// Builds objects from maps: entries in iteration order, null values dropped.
pub struct MapBuilder {
    obj: Object,
    key: Option<Key>,
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self.key.take().ok_or_else(|| Error::Message("map value without a key".into()))?;
        let value = value.serialize(ValueSerializer)?;
        if !value.is_null() {
            self.obj.push(key, value);
        }
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Object(self.obj))
    }
}

/// Builds objects from structs: null fields dropped, fields sorted by name.
pub struct StructBuilder(Vec<(&'static str, Value)>);

impl StructBuilder {
    fn finish(mut self) -> Value {
        // Java String.compareTo order = UTF-16 code units; stable for equal names.
        self.0.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
        Value::Object(self.0.into_iter().collect())
    }
}

impl ser::SerializeStruct for StructBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), Error> {
        let value = value.serialize(ValueSerializer)?;
        if !value.is_null() {
            self.0.push((name, value));
        }
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(self.finish())
    }
}

/// Wraps a variant's content as `{"Variant": content}` (serde's external tagging).
pub struct VariantWrap<T> {
    variant: &'static str,
    inner: T,
}

impl VariantWrap<Value> {
    fn wrap(variant: &'static str, v: Value) -> Value {
        let mut o = Object::new();
        o.push(variant, v);
        Value::Object(o)
    }
}

impl ser::SerializeTupleVariant for VariantWrap<SeqBuilder> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(&mut self.inner, value)
    }
    fn end(self) -> Result<Value, Error> {
        Ok(VariantWrap::wrap(self.variant, ser::SerializeSeq::end(self.inner)?))
    }
}

impl ser::SerializeStructVariant for VariantWrap<StructBuilder> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(&mut self.inner, name, value)
    }
    fn end(self) -> Result<Value, Error> {
        Ok(VariantWrap::wrap(self.variant, self.inner.finish()))
    }
}

/// Serializes map keys: strings stay string keys, numbers become unquoted number keys,
/// structs and maps become object keys.
struct KeySerializer;

fn key_error(what: &str) -> Error {
    Error::Message(format!("unsupported map key type: {what}"))
}

macro_rules! num_keys {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<Key, Error> {
            Ok(Key::Num(v.to_string()))
        }
    )*};
}

impl ser::Serializer for KeySerializer {
    type Ok = Key;
    type Error = Error;
    type SerializeSeq = ser::Impossible<Key, Error>;
    type SerializeTuple = ser::Impossible<Key, Error>;
    type SerializeTupleStruct = ser::Impossible<Key, Error>;
    type SerializeTupleVariant = ser::Impossible<Key, Error>;
    type SerializeMap = KeyFromValue<MapBuilder>;
    type SerializeStruct = KeyFromValue<StructBuilder>;
    type SerializeStructVariant = ser::Impossible<Key, Error>;

    num_keys!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);

    fn serialize_bool(self, v: bool) -> Result<Key, Error> {
        Ok(Key::Str(v.to_string()))
    }
    fn serialize_f32(self, v: f32) -> Result<Key, Error> {
        Ok(Key::Num(java_float_to_string(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Key, Error> {
        Ok(Key::Num(java_double_to_string(v)))
    }
    fn serialize_char(self, v: char) -> Result<Key, Error> {
        Ok(Key::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Key, Error> {
        Ok(Key::Str(v.to_string()))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<Key, Error> {
        Err(key_error("bytes"))
    }
    fn serialize_none(self) -> Result<Key, Error> {
        Err(key_error("null"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Key, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Key, Error> {
        Err(key_error("unit"))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Key, Error> {
        Err(key_error("unit struct"))
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<Key, Error> {
        Ok(Key::Str(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<Key, Error> {
        if name == NUMBER_TOKEN {
            return match value.serialize(self)? {
                Key::Str(s) => Ok(Key::Num(s)),
                other => Ok(other),
            };
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Key, Error> {
        Err(key_error("enum newtype variant"))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_error("sequence"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_error("tuple"))
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_error("tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_error("tuple variant"))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Ok(KeyFromValue(ValueSerializer.serialize_map(len)?))
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeStruct, Error> {
        Ok(KeyFromValue(ValueSerializer.serialize_struct(name, len)?))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_error("struct variant"))
    }
}

/// Builds an object key with the value builders.
struct KeyFromValue<B>(B);

fn into_obj_key(v: Value) -> Result<Key, Error> {
    match v {
        Value::Object(o) => Ok(Key::Obj(o)),
        _ => Err(key_error("non-object")),
    }
}

impl ser::SerializeMap for KeyFromValue<MapBuilder> {
    type Ok = Key;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.0.serialize_key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.serialize_value(value)
    }
    fn end(self) -> Result<Key, Error> {
        into_obj_key(ser::SerializeMap::end(self.0)?)
    }
}

impl ser::SerializeStruct for KeyFromValue<StructBuilder> {
    type Ok = Key;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), Error> {
        self.0.serialize_field(name, value)
    }
    fn end(self) -> Result<Key, Error> {
        into_obj_key(self.0.finish())
    }
}
