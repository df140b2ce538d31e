//! Minimal `java.util.Properties` reader for `broker.conf`-style files and the
//! store-related keys the readers need.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::error::{Result, StoreError};

/// Parses Java properties text: `#`/`!` comments, `key=value`, `key: value`
/// or `key value`, line continuations with a trailing backslash, and the
/// common escapes (`\t \n \r \f \\ \uXXXX`).
pub fn parse_java_properties(text: &str) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if logical.is_empty() && (t.is_empty() || t.starts_with('#') || t.starts_with('!')) {
            continue;
        }
        let mut t = t.to_string();
        // odd number of trailing backslashes = continuation
        let trailing = t.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            t.pop();
            logical.push_str(&t);
            continue;
        }
        logical.push_str(&t);
        let (k, v) = split_key_value(&logical);
        out.insert(unescape(&k), unescape(&v));
        logical.clear();
    }
    if !logical.is_empty() {
        let (k, v) = split_key_value(&logical);
        out.insert(unescape(&k), unescape(&v));
    }
    out
}

fn split_key_value(s: &str) -> (String, String) {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut key = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            key.push(c);
            key.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '=' || c == ':' || c.is_whitespace() {
            break;
        }
        key.push(c);
        i += 1;
    }
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    if i < chars.len() && (chars[i] == '=' || chars[i] == ':') {
        i += 1;
    }
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    (key, chars[i..].iter().collect())
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = (0..4).filter_map(|_| it.next()).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// Store settings from a broker config (defaults as in `MessageStoreConfig`).
#[derive(Clone, Debug, Default)]
pub struct StoreConfig {
    pub raw: IndexMap<String, String>,
    pub source: Option<PathBuf>,
}

impl StoreConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
        Ok(StoreConfig {
            raw: parse_java_properties(&String::from_utf8_lossy(&text)),
            source: Some(path.to_path_buf()),
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(|s| s.parse().ok())
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).map(|s| s.eq_ignore_ascii_case("true"))
    }

    pub fn mapped_file_size_commit_log(&self) -> Option<u64> {
        self.get_u64("mappedFileSizeCommitLog")
    }
    pub fn mapped_file_size_consume_queue(&self) -> Option<u64> {
        self.get_u64("mappedFileSizeConsumeQueue")
    }
    pub fn max_hash_slot_num(&self) -> Option<u32> {
        self.get_u64("maxHashSlotNum").and_then(|v| u32::try_from(v).ok())
    }
    pub fn max_index_num(&self) -> Option<u32> {
        self.get_u64("maxIndexNum").and_then(|v| u32::try_from(v).ok())
    }
    pub fn store_path_root_dir(&self) -> Option<&str> {
        self.get("storePathRootDir")
    }
    pub fn store_path_commit_log(&self) -> Option<&str> {
        self.get("storePathCommitLog")
    }
    pub fn enable_dledger(&self) -> bool {
        self.get_bool("enableDLegerCommitLog").unwrap_or(false)
    }
    pub fn dledger_self_id(&self) -> Option<&str> {
        self.get("dLegerSelfId")
    }
    /// `messageDelayLevel` (default "1s 5s 10s 30s 1m ... 2h") in milliseconds per level (1-based).
    pub fn delay_levels_ms(&self) -> Vec<i64> {
        let s = self.get("messageDelayLevel").unwrap_or("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h");
        s.split(' ')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (num, unit) = p.split_at(p.len() - 1);
                let mult = match unit {
                    "s" => 1000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    "d" => 86_400_000,
                    _ => return None,
                };
                num.parse::<i64>().ok().map(|n| n * mult)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_properties() {
        let p = parse_java_properties("# c\n a = 1\nb:2\nc 3\nd=x\\\n  y\ne=\\u0041\\t\n! x\n");
        assert_eq!(p.get("a").unwrap(), "1");
        assert_eq!(p.get("b").unwrap(), "2");
        assert_eq!(p.get("c").unwrap(), "3");
        assert_eq!(p.get("d").unwrap(), "xy");
        assert_eq!(p.get("e").unwrap(), "A\t");
        let c = StoreConfig { raw: p, source: None };
        assert_eq!(c.delay_levels_ms()[1], 5000);
        assert_eq!(c.delay_levels_ms().len(), 18);
    }
}
