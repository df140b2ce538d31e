//! Shared pieces: `DataVersion`, and helpers that build fastjson bean objects
//! (properties sorted by name, unknown keys carried along).

use indexmap::IndexMap;
use rmq_common::fastjson::{Key, Object, Value};
use serde::Deserialize;

use super::JavaFlavor;

/// `common/.../DataVersion`: bumped on every change of a versioned table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    pub counter: i64,
    /// 5.x only (controller mode); 0 when absent.
    pub state_version: i64,
    /// Milliseconds since the epoch of the last change.
    pub timestamp: i64,
    #[serde(flatten)]
    pub extra: Object,
}

impl DataVersion {
    /// A fresh version the way Java's `new DataVersion()` makes one.
    pub fn now() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        DataVersion { counter: 0, state_version: 0, timestamp: ms, extra: Object::new() }
    }

    pub(crate) fn tidy(&mut self) {
        tidy_extra(&mut self.extra);
    }

    pub(crate) fn to_value(&self, flavor: JavaFlavor) -> Value {
        let mut o = Object::new();
        o.push("counter", self.counter);
        if flavor == JavaFlavor::V5_3_3 || self.state_version != 0 {
            o.push("stateVersion", self.state_version);
        }
        o.push("timestamp", self.timestamp);
        finish_bean(o, &self.extra)
    }
}

/// Adds the unknown keys a struct carried and sorts the properties by name, as
/// fastjson's bean serializer does (Java `String.compareTo`).
pub(crate) fn finish_bean(mut o: Object, extra: &Object) -> Value {
    for (k, v) in extra {
        // Known properties win; `extra` never holds them after deserializing anyway.
        if k.as_str().is_none_or(|name| o.get(name).is_none()) {
            o.push(k.clone(), v.clone());
        }
    }
    Value::Object(sorted_bean(o))
}

/// Bean property order: names by UTF-16 code units (Java `String.compareTo`); keys
/// that are not names (only possible in carried-over junk) after them, in order.
fn sorted_bean(o: Object) -> Object {
    let mut entries: Vec<_> = o.into_iter().collect();
    entries.sort_by(|(a, _), (b, _)| match (a, b) {
        (Key::Str(a), Key::Str(b)) => a.encode_utf16().cmp(b.encode_utf16()),
        (Key::Str(_), _) => std::cmp::Ordering::Less,
        (_, Key::Str(_)) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    });
    entries.into_iter().collect()
}

/// Normalizes a struct's unknown keys after reading: nulls dropped (fastjson never
/// writes them) and keys in the order they will be written, so that reading what we
/// wrote gives an equal struct.
pub(crate) fn tidy_extra(o: &mut Object) {
    drop_nulls(o);
    *o = sorted_bean(std::mem::take(o));
}

/// Removes `null` members recursively: fastjson never writes them, so keeping them
/// would make a re-read differ from what was read.
pub(crate) fn drop_nulls(o: &mut Object) {
    let entries = std::mem::take(o);
    *o = entries
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, mut v)| {
            drop_nulls_in(&mut v);
            (k, v)
        })
        .collect();
}

/// [`drop_nulls`] for any value (array elements that are null stay: fastjson writes them).
pub(crate) fn drop_nulls_in(v: &mut Value) {
    match v {
        Value::Object(o) => drop_nulls(o),
        Value::Array(a) => a.iter_mut().for_each(drop_nulls_in),
        _ => {}
    }
}

/// A Java `Map<String, V>` in iteration order.
pub(crate) fn str_map<V>(m: &IndexMap<String, V>, f: impl Fn(&V) -> Value) -> Value {
    Value::Object(m.iter().map(|(k, v)| (Key::Str(k.clone()), f(v))).collect())
}

/// A Java `Map<Integer|Long, V>`: fastjson writes the keys unquoted.
pub(crate) fn int_map<K: Copy + Into<Key>, V: Copy + Into<Value>>(m: &IndexMap<K, V>) -> Value {
    Value::Object(m.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect())
}

/// A Java `Map<String, String>` (topic/group `attributes`).
pub(crate) fn string_map(m: &IndexMap<String, String>) -> Value {
    str_map(m, |v| Value::String(v.clone()))
}
