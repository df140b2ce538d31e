//! Message properties the way Java's broker rebuilds them: parsed into a
//! `HashMap` (`MessageDecoder.string2messageProperties`), changed, and written
//! back in that map's iteration order (`messageProperties2String`). The stored
//! bytes therefore match what a Java broker would have stored.

use rmq_common::java;

/// `MessageConst` keys the send path uses.
pub const CLUSTER: &str = "CLUSTER";
pub const WAIT: &str = "WAIT";
pub const UNIQ_KEY: &str = "UNIQ_KEY";
pub const TRAN_MSG: &str = "TRAN_MSG";
pub const DELAY: &str = "DELAY";
pub const POP_CK: &str = "POP_CK";

/// A `HashMap<String, String>` as Java builds it: keys keep the position of
/// their first insertion (bucket chains append), values the last one.
#[derive(Debug, Clone, Default)]
pub struct JavaProps {
    entries: Vec<(String, String)>,
    /// Most entries held at once (decides the table size Java grew to).
    peak: usize,
    /// `new HashMap<>(n)` initial capacity (4.9.8: 16, 5.x: 128).
    initial: usize,
}

impl JavaProps {
    /// `string2messageProperties`: `k\u1v\u2...`; a pair needs a non-empty key
    /// and value (lengths counted in UTF-16 units, like Java's indices).
    pub fn parse(s: Option<&str>, initial: usize) -> JavaProps {
        let mut p = JavaProps { entries: Vec::new(), peak: 0, initial };
        for seg in s.unwrap_or("").split('\u{2}') {
            // fewer than 3 UTF-16 units is at most 8 bytes: count only short ones
            if seg.len() < 3 || (seg.len() <= 8 && seg.encode_utf16().count() < 3) {
                continue;
            }
            if let Some(kv) = seg.find('\u{1}') {
                let k = &seg[..kv];
                let v = &seg[kv + 1..];
                if !k.is_empty() && !v.is_empty() {
                    p.put(k, v);
                }
            }
        }
        p
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.entries.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }

    pub fn contains(&self, k: &str) -> bool {
        self.get(k).is_some()
    }

    pub fn put(&mut self, k: &str, v: &str) {
        match self.entries.iter_mut().find(|(key, _)| key == k) {
            Some(e) => e.1 = v.to_string(),
            None => {
                self.entries.push((k.to_string(), v.to_string()));
                self.peak = self.peak.max(self.entries.len());
            }
        }
    }

    pub fn remove(&mut self, k: &str) -> Option<String> {
        let i = self.entries.iter().position(|(key, _)| key == k)?;
        Some(self.entries.remove(i).1)
    }

    /// `messageProperties2String` in the map's iteration order.
    pub fn to_java_string(&self) -> String {
        let cap = java::sized_hashmap_capacity(self.initial, self.peak);
        let order = java::hashmap_order(self.entries.iter().map(|(k, _)| k), cap);
        let len = self.entries.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>();
        let mut out = String::with_capacity(len);
        for k in order {
            if !out.is_empty() {
                out.push('\u{2}');
            }
            out.push_str(k);
            out.push('\u{1}');
            out.push_str(self.get(k).unwrap_or_default());
        }
        out
    }
}

/// `MessageUtils.deleteProperty` (5.x `clearReservedProperties`): drops every
/// `name\u1value` pair of `name` from the raw string, keeping the rest as is.
pub fn delete_property<'a>(s: &'a str, name: &str) -> std::borrow::Cow<'a, str> {
    let has = |seg: &str| seg.strip_prefix(name).is_some_and(|rest| rest.starts_with('\u{1}'));
    if !s.split('\u{2}').any(has) {
        return std::borrow::Cow::Borrowed(s);
    }
    let kept: Vec<&str> = s.split('\u{2}').filter(|seg| !has(seg)).collect();
    std::borrow::Cow::Owned(kept.join("\u{2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilds_like_the_golden_4_9_8_store() {
        // golden plain/ message #0: what the client sent, then what Java stored
        let sent = "KEYS\u{1}multiKey1-0 multiKey2-0 multiKey3-0\u{2}userProp1\u{1}v-0\u{2}UNIQ_KEY\u{1}7F0000011F405FFD2B276B4E56720000\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}中文键\u{1}值-0 ünïcödé";
        let mut p = JavaProps::parse(Some(sent), 16);
        p.put(CLUSTER, "GoldenCluster");
        p.remove(WAIT);
        assert_eq!(
            p.to_java_string(),
            "中文键\u{1}值-0 ünïcödé\u{2}KEYS\u{1}multiKey1-0 multiKey2-0 multiKey3-0\u{2}userProp1\u{1}v-0\u{2}UNIQ_KEY\u{1}7F0000011F405FFD2B276B4E56720000\u{2}CLUSTER\u{1}GoldenCluster\u{2}TAGS\u{1}TagA"
        );
    }

    #[test]
    fn parse_follows_java_rules() {
        let p = JavaProps::parse(Some("a\u{1}1\u{2}\u{1}x\u{2}b\u{1}\u{2}a\u{1}2\u{2}cc"), 16);
        assert_eq!(p.get("a"), Some("2"));
        assert!(!p.contains("b"));
        assert_eq!(p.entries.len(), 1);
        assert_eq!(delete_property("A\u{1}1\u{2}POP_CK\u{1}x\u{2}B\u{1}2", POP_CK), "A\u{1}1\u{2}B\u{1}2");
    }
}
