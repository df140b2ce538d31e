//! The JSON model: values, ordered objects, and the three kinds of map key fastjson writes.

use std::collections::HashMap;
use std::fmt;

/// A JSON value as fastjson reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Value {
    /// `null` (fastjson omits null bean properties and map values when writing).
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, kept as its exact source text (big integers and decimals lose
    /// nothing; Java's `BigDecimal` parsing keeps the text too).
    Number(String),
    /// A string.
    String(String),
    /// An array (Java List, Set or array).
    Array(Vec<Value>),
    /// An object (Java bean or Map), keys in input order.
    Object(Object),
}

/// A map key. fastjson writes non-string keys of Java maps unquoted: `{0:"addr"}`,
/// and bean keys as objects: `{{"brokerName":"b","queueId":0,"topic":"t"}:5}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A quoted (or, leniently, unquoted identifier) key: `"name":`.
    Str(String),
    /// An unquoted number key, kept as text: `0:`, `-1:`.
    Num(String),
    /// An object used as a key.
    Obj(Object),
}

impl Key {
    /// The key text for string and number keys.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Key::Str(s) | Key::Num(s) => Some(s),
            Key::Obj(_) => None,
        }
    }

    /// True when a lookup by `name` should find this key: a string key equal to it,
    /// or a number key with the same text (fastjson treats `{0:..}` and `{"0":..}` alike).
    pub fn matches(&self, name: &str) -> bool {
        self.as_str() == Some(name)
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::Str(s.to_string())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::Str(s)
    }
}

macro_rules! key_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Key {
            fn from(n: $t) -> Self {
                Key::Num(n.to_string())
            }
        }
    )*};
}
key_from_int!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, isize, usize);

impl From<Object> for Key {
    fn from(o: Object) -> Self {
        Key::Obj(o)
    }
}

/// An ordered list of entries. Lookups are linear, which is fine for the bean-sized
/// objects RocketMQ uses; building from a parser deduplicates keys (last value wins, in
/// the first key's position, like a Java map `put`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Object {
    entries: Vec<(Key, Value)>,
}

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under a string or number key with this text.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k.matches(name)).map(|(_, v)| v)
    }

    /// Mutable access to the value under a string or number key with this text.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.entries.iter_mut().find(|(k, _)| k.matches(name)).map(|(_, v)| v)
    }

    /// The value under exactly this key.
    pub fn get_key(&self, key: &Key) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` to `value`: replaces in place if the exact key exists (returning the
    /// old value), appends otherwise.
    pub fn insert(&mut self, key: impl Into<Key>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Appends without checking for an existing key (for builders that know keys are
    /// unique, like serializers of Rust maps and structs).
    pub fn push(&mut self, key: impl Into<Key>, value: impl Into<Value>) {
        self.entries.push((key.into(), value.into()));
    }

    /// Removes the entry under a string or number key with this text.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let idx = self.entries.iter().position(|(k, _)| k.matches(name))?;
        Some(self.entries.remove(idx).1)
    }

    /// Iterates over entries in order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Key, Value)> {
        self.entries.iter()
    }

    /// Iterates mutably over entries in order.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, (Key, Value)> {
        self.entries.iter_mut()
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The entries as a slice.
    pub fn entries(&self) -> &[(Key, Value)] {
        &self.entries
    }

    /// Sorts entries by key, as fastjson's `MapSortField` does with a `TreeMap`: string
    /// keys by UTF-16 code units (Java `String.compareTo`), number keys numerically.
    /// Mixed key kinds or object keys cannot be compared by Java either (it keeps the
    /// original order then), so they are left as they are.
    pub fn sort_keys(&mut self) {
        if self.entries.iter().all(|(k, _)| matches!(k, Key::Str(_))) {
            self.entries.sort_by(|(a, _), (b, _)| {
                let (Key::Str(a), Key::Str(b)) = (a, b) else { return std::cmp::Ordering::Equal };
                a.encode_utf16().cmp(b.encode_utf16())
            });
        } else if self.entries.iter().all(|(k, _)| matches!(k, Key::Num(_))) {
            let parsed: Option<Vec<f64>> =
                self.entries.iter().map(|(k, _)| k.as_str().and_then(|t| t.parse::<f64>().ok())).collect();
            let Some(nums) = parsed else { return };
            let ints: Option<Vec<i128>> =
                self.entries.iter().map(|(k, _)| k.as_str().and_then(|t| t.parse().ok())).collect();
            let mut idx: Vec<usize> = (0..self.entries.len()).collect();
            match ints {
                Some(ints) => idx.sort_by_key(|&i| ints[i]),
                None => idx.sort_by(|&a, &b| nums[a].total_cmp(&nums[b])),
            }
            let mut old: Vec<Option<(Key, Value)>> = std::mem::take(&mut self.entries).into_iter().map(Some).collect();
            self.entries = idx.into_iter().filter_map(|i| old[i].take()).collect();
        }
    }

    /// Builds from entries, keeping the first position and the last value of duplicate
    /// keys (what parsing into a Java map does).
    pub fn from_entries_dedup(entries: Vec<(Key, Value)>) -> Self {
        // Small objects (nearly all of them): a linear scan beats building an index.
        if entries.len() <= 16 {
            let mut obj = Object { entries: Vec::with_capacity(entries.len()) };
            for (k, v) in entries {
                obj.insert(k, v);
            }
            return obj;
        }
        let mut out: Vec<(Key, Value)> = Vec::with_capacity(entries.len());
        let mut index: HashMap<Key, usize> = HashMap::new();
        for (k, v) in entries {
            match index.get(&k) {
                Some(&i) => out[i].1 = v,
                None => {
                    index.insert(k.clone(), out.len());
                    out.push((k, v));
                }
            }
        }
        Object { entries: out }
    }
}

impl IntoIterator for Object {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Object {
    type Item = &'a (Key, Value);
    type IntoIter = std::slice::Iter<'a, (Key, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

impl<K: Into<Key>, V: Into<Value>> FromIterator<(K, V)> for Object {
    /// Collects entries as given (no deduplication).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Object { entries: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

impl Value {
    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The number as `i64` when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(t) => t.parse().ok(),
            _ => None,
        }
    }

    /// The number as `u64` when it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(t) => t.parse().ok(),
            _ => None,
        }
    }

    /// The number as `f64` (nearest value; any number text parses).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(t) => t.parse().ok(),
            _ => None,
        }
    }

    /// The number's exact text.
    pub fn as_number_text(&self) -> Option<&str> {
        match self {
            Value::Number(t) => Some(t),
            _ => None,
        }
    }

    /// The string, for string values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, for booleans.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements, for arrays.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, for objects.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Mutable object access.
    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Member lookup on objects (string or number key with this text).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(name))
    }
}

impl fmt::Display for Value {
    /// Compact fastjson output with default options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::to_string(self, &super::EmitOptions::default()))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

macro_rules! value_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(n.to_string())
            }
        }
    )*};
}
value_from_int!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, isize, usize);

impl From<f64> for Value {
    /// Java `Double.toString` text; NaN and infinities become `null` as in fastjson.
    fn from(v: f64) -> Self {
        if v.is_finite() {
            Value::Number(super::java_double_to_string(v))
        } else {
            Value::Null
        }
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Self {
        Value::Object(o)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}
