//! The properties string of a record: `key 0x01 value 0x02` pairs.

use indexmap::IndexMap;

pub const NAME_VALUE_SEPARATOR: u8 = 1;
pub const PROPERTY_SEPARATOR: u8 = 2;

/// Parsed properties. Order = first appearance; a repeated key keeps its first
/// position but takes the last value (Java's `HashMap.put` semantics).
pub type Properties = IndexMap<String, String>;

pub const PROPERTY_KEYS: &str = "KEYS";
pub const PROPERTY_TAGS: &str = "TAGS";
/// `MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX`.
pub const PROPERTY_UNIQ_KEY: &str = "UNIQ_KEY";
pub const PROPERTY_DELAY_TIME_LEVEL: &str = "DELAY";
pub const PROPERTY_REAL_TOPIC: &str = "REAL_TOPIC";
pub const PROPERTY_REAL_QUEUE_ID: &str = "REAL_QID";
pub const PROPERTY_CRC32: &str = "__CRC32#";
pub const KEY_SEPARATOR: char = ' ';

/// Parses the raw properties bytes the way `MessageDecoder.string2messageProperties`
/// does: segments split on 0x02; a segment is kept only when it has a non-empty
/// key before its first 0x01 and a non-empty value after it. Invalid UTF-8 is
/// replaced like Java's decoder does (U+FFFD).
pub fn parse_properties(raw: &[u8]) -> Properties {
    let mut map = Properties::new();
    for seg in raw.split(|b| *b == PROPERTY_SEPARATOR) {
        if let Some(kv) = seg.iter().position(|b| *b == NAME_VALUE_SEPARATOR) {
            if kv > 0 && kv + 1 < seg.len() {
                let k = String::from_utf8_lossy(&seg[..kv]).into_owned();
                let v = String::from_utf8_lossy(&seg[kv + 1..]).into_owned();
                map.insert(k, v);
            }
        }
    }
    map
}

/// Builds a properties string like `MessageDecoder.messageProperties2String`:
/// every pair followed by 0x02 (including the last).
pub fn properties_to_bytes<'a, I>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = Vec::new();
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(NAME_VALUE_SEPARATOR);
        out.extend_from_slice(v.as_bytes());
        out.push(PROPERTY_SEPARATOR);
    }
    out
}

/// Builds a properties string like 4.9.8's `messageProperties2String`, which
/// drops the separator after the last pair (4.9.8 records end without 0x02).
pub fn properties_to_bytes_v4<'a, I>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = properties_to_bytes(pairs);
    out.pop();
    out
}

/// Keys of the `KEYS` property as the index service uses them: split on a
/// single space, empty parts skipped.
pub fn split_keys(keys: &str) -> impl Iterator<Item = &str> {
    keys.split(KEY_SEPARATOR).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_java() {
        let raw = b"KEYS\x01a b\x02TAGS\x01T\x02empty\x01\x02\x01novalue\x02UNIQ_KEY\x01X\x02UNIQ_KEY\x01Y";
        let p = parse_properties(raw);
        assert_eq!(p.get("KEYS").map(String::as_str), Some("a b"));
        assert_eq!(p.get("TAGS").map(String::as_str), Some("T"));
        assert_eq!(p.get("UNIQ_KEY").map(String::as_str), Some("Y"));
        assert!(!p.contains_key("empty"));
        assert_eq!(p.len(), 3);
        // value may contain 0x01 after the first separator
        let p = parse_properties(b"k\x01v\x01w\x02");
        assert_eq!(p.get("k").map(String::as_str), Some("v\u{1}w"));
    }

    #[test]
    fn builds_and_splits() {
        assert_eq!(properties_to_bytes([("a", "1"), ("b", "2")]), b"a\x011\x02b\x012\x02");
        assert_eq!(properties_to_bytes_v4([("a", "1"), ("b", "2")]), b"a\x011\x02b\x012");
        assert!(properties_to_bytes_v4(std::iter::empty::<(&str, &str)>()).is_empty());
        assert_eq!(split_keys(" a  b ").collect::<Vec<_>>(), vec!["a", "b"]);
    }
}
