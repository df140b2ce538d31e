//! 5.x topic attributes: `AttributeParser.parseToMap` (the `+a=b,-c` text) and
//! `AttributeUtil.alterCurrentAttributes` with `TopicAttributes.ALL`.

use indexmap::IndexMap;
use rmq_common::java;
use thiserror::Error;

/// An attribute change Java refuses; the text is Java's exception message, which
/// the broker returns as the response remark.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct AttributeError(pub String);

fn err(s: impl Into<String>) -> AttributeError {
    AttributeError(s.into())
}

enum Kind {
    Enum(&'static [&'static str]),
    LongRange(i64, i64),
}

struct Attribute {
    name: &'static str,
    changeable: bool,
    kind: Kind,
}

/// `TopicAttributes.ALL`.
const TOPIC_ATTRIBUTES: &[Attribute] = &[
    Attribute { name: "queue.type", changeable: false, kind: Kind::Enum(&["BatchCQ", "SimpleCQ"]) },
    Attribute { name: "cleanup.policy", changeable: false, kind: Kind::Enum(&["DELETE", "COMPACTION"]) },
    Attribute {
        name: "message.type",
        changeable: true,
        kind: Kind::Enum(&["UNSPECIFIED", "NORMAL", "FIFO", "DELAY", "TRANSACTION", "MIXED"]),
    },
    Attribute { name: "reserve.time", changeable: true, kind: Kind::LongRange(-1, i64::MAX) },
];

impl Attribute {
    fn verify(&self, value: &str) -> Result<(), AttributeError> {
        match &self.kind {
            Kind::Enum(universe) => {
                if universe.contains(&value) {
                    return Ok(());
                }
                // `"value is not in set: " + HashSet.toString()`.
                let names: Vec<String> = universe.iter().map(|s| s.to_string()).collect();
                Err(err(format!("value is not in set: [{}]", java::hashmap_order_owned(&names).join(", "))))
            }
            Kind::LongRange(min, max) => {
                let l: i64 = value.parse().map_err(|_| err(format!("For input string: \"{value}\"")))?;
                if l < *min || l > *max {
                    return Err(err(format!("value is not in range({min}, {max})")));
                }
                Ok(())
            }
        }
    }
}

/// `AttributeParser.parseToMap`: `+k=v` adds or changes, `-k` deletes.
pub fn parse_to_map(text: &str) -> Result<IndexMap<String, String>, AttributeError> {
    let mut out = IndexMap::new();
    if text.is_empty() {
        return Ok(out);
    }
    for kv in java_split(text, ',') {
        let (key, value) = if kv.contains('=') {
            let parts = java_split(&kv, '=');
            let key = parts.first().cloned().unwrap_or_default();
            // Java indexes splits[1]: "+k=" has no second element.
            let value = parts.get(1).cloned().ok_or_else(|| err("Index 1 out of bounds for length 1"))?;
            if !key.contains('+') {
                return Err(err(format!("add/alter attribute format is wrong: {key}")));
            }
            (key, value)
        } else {
            if !kv.contains('-') {
                return Err(err(format!("delete attribute format is wrong: {kv}")));
            }
            (kv, String::new())
        };
        if out.insert(key.clone(), value).is_some() {
            return Err(err(format!("key duplication: {key}")));
        }
    }
    Ok(out)
}

/// Java `String.split(String)` with a one-character literal: trailing empties dropped.
fn java_split(s: &str, sep: char) -> Vec<String> {
    let mut parts: Vec<String> = s.split(sep).map(str::to_string).collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() && !s.is_empty() {
        parts.clear();
    }
    parts
}

/// `AttributeUtil.alterCurrentAttributes(create, TopicAttributes.ALL, current, new)`:
/// the attribute map after applying the `+k`/`-k` modification, in `HashMap` order.
pub fn alter_topic_attributes(
    create: bool,
    current: &IndexMap<String, String>,
    modification: &IndexMap<String, String>,
) -> Result<IndexMap<String, String>, AttributeError> {
    alter(create, current, modification, TOPIC_ATTRIBUTES)
}

/// The same for subscription groups: `SubscriptionGroupAttributes.ALL` is empty in
/// 5.3.3, so any change is refused (`unsupported key`) and no change is a no-op.
pub fn alter_group_attributes(
    create: bool,
    current: &IndexMap<String, String>,
    modification: &IndexMap<String, String>,
) -> Result<IndexMap<String, String>, AttributeError> {
    alter(create, current, modification, &[])
}

fn alter(
    create: bool,
    current: &IndexMap<String, String>,
    modification: &IndexMap<String, String>,
    all: &[Attribute],
) -> Result<IndexMap<String, String>, AttributeError> {
    let (mut init, mut add, mut update, mut delete) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut seen: Vec<String> = Vec::new();
    let keys: Vec<String> = modification.keys().cloned().collect();
    for key in java::hashmap_order_owned(&keys) {
        let value = modification[&key].clone();
        // `key.substring(1)`: Java throws on an empty key.
        let real: String = key.chars().skip(1).collect();
        if real.is_empty() || real.contains('+') || real.contains('-') {
            return Err(err("kv string format wrong."));
        }
        if seen.contains(&real) {
            return Err(err(format!("alter duplication key. key: {real}")));
        }
        seen.push(real.clone());
        if create {
            if !key.starts_with('+') {
                return Err(err(format!("only add attribute is supported while creating topic. key: {real}")));
            }
            init.push((real, value));
        } else if key.starts_with('+') {
            if current.contains_key(&real) {
                update.push((real, value))
            } else {
                add.push((real, value))
            }
        } else if key.starts_with('-') {
            if !current.contains_key(&real) {
                return Err(err(format!("attempt to delete a nonexistent key: {real}")));
            }
            delete.push((real, value));
        } else {
            return Err(err(format!("wrong format key: {real}")));
        }
    }
    validate(all, &init, true, false)?;
    validate(all, &add, false, false)?;
    validate(all, &update, false, false)?;
    validate(all, &delete, false, true)?;
    let mut merged: IndexMap<String, String> = current.clone();
    for (k, v) in init.into_iter().chain(add).chain(update) {
        merged.insert(k, v);
    }
    for (k, _) in delete {
        merged.shift_remove(&k);
    }
    let names: Vec<String> = merged.keys().cloned().collect();
    Ok(java::hashmap_order_owned(&names).into_iter().map(|k| (k.clone(), merged[&k].clone())).collect())
}

fn validate(all: &[Attribute], alter: &[(String, String)], init: bool, delete: bool) -> Result<(), AttributeError> {
    for (key, value) in alter {
        let attr = all.iter().find(|a| a.name == key).ok_or_else(|| err(format!("unsupported key: {key}")))?;
        if !init && !attr.changeable {
            return Err(err(format!("attempt to update an unchangeable attribute. key: {key}")));
        }
        if !delete {
            attr.verify(value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parse_and_alter_like_java() {
        assert_eq!(
            parse_to_map("+message.type=FIFO,-queue.type").unwrap(),
            m(&[("+message.type", "FIFO"), ("-queue.type", "")])
        );
        assert!(parse_to_map("").unwrap().is_empty());
        assert_eq!(parse_to_map("a=b").unwrap_err().0, "add/alter attribute format is wrong: a");
        assert_eq!(parse_to_map("x").unwrap_err().0, "delete attribute format is wrong: x");
        assert_eq!(parse_to_map("+a=1,+a=2").unwrap_err().0, "key duplication: +a");

        let created = alter_topic_attributes(true, &IndexMap::new(), &m(&[("+message.type", "FIFO")])).unwrap();
        assert_eq!(created, m(&[("message.type", "FIFO")]));
        let e = alter_topic_attributes(true, &IndexMap::new(), &m(&[("-message.type", "")])).unwrap_err();
        assert_eq!(e.0, "only add attribute is supported while creating topic. key: message.type");
        let e = alter_topic_attributes(false, &created, &m(&[("+queue.type", "BatchCQ")])).unwrap_err();
        assert_eq!(e.0, "attempt to update an unchangeable attribute. key: queue.type");
        let e = alter_topic_attributes(false, &created, &m(&[("+nope", "1")])).unwrap_err();
        assert_eq!(e.0, "unsupported key: nope");
        let e = alter_topic_attributes(false, &created, &m(&[("+reserve.time", "-5")])).unwrap_err();
        assert_eq!(e.0, format!("value is not in range(-1, {})", i64::MAX));
        let e = alter_topic_attributes(false, &created, &m(&[("+message.type", "X")])).unwrap_err();
        assert!(e.0.starts_with("value is not in set: ["), "{e}");
        let gone = alter_topic_attributes(false, &created, &m(&[("-message.type", "")])).unwrap();
        assert!(gone.is_empty());
    }
}
