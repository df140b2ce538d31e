//! Java hashing conventions that show up in RocketMQ's formats.
//!
//! `String.hashCode` decides consume-queue tag codes and index slots, and the
//! iteration order of `java.util.HashMap` decides the order of lists the name
//! server returns (topic lists, broker sets). Reproducing that order lets our
//! answers match Java's byte for byte where clients might care.

/// Java `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units, wrapping.
pub fn string_hash_code(s: &str) -> i32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    h
}

/// `HashMap.hash(key)`: the spread function applied before bucketing.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

/// Capacity a `java.util.HashMap` (default initial capacity 16, load factor 0.75)
/// reaches after holding at most `max_len` entries at once. Tables never shrink.
pub fn hashmap_capacity(max_len: usize) -> usize {
    let mut cap = 16usize;
    while max_len > cap * 3 / 4 {
        cap *= 2;
    }
    cap
}

/// Orders `keys` (given in insertion order) the way a `HashMap<String, _>` or
/// `HashSet<String>` of the given table capacity iterates them: by bucket, then
/// by insertion order within a bucket. Tree bins (8+ keys in one bucket of a
/// table of 64+) would order differently; with RocketMQ's key counts they do
/// not occur in practice.
pub fn hashmap_order<'a, K: AsRef<str> + ?Sized>(keys: impl IntoIterator<Item = &'a K>, capacity: usize) -> Vec<&'a K> {
    let mask = (capacity.max(1) - 1) as u32;
    let mut with_bucket: Vec<(u32, usize, &'a K)> =
        keys.into_iter().enumerate().map(|(i, k)| (spread(string_hash_code(k.as_ref())) & mask, i, k)).collect();
    with_bucket.sort_by_key(|(b, i, _)| (*b, *i));
    with_bucket.into_iter().map(|(_, _, k)| k).collect()
}

/// Convenience: the iteration order of a HashMap/HashSet filled with `keys`
/// (insertion order) and never shrunk, so capacity follows the key count.
pub fn hashmap_order_owned(keys: &[String]) -> Vec<String> {
    let cap = hashmap_capacity(keys.len());
    hashmap_order(keys.iter(), cap).into_iter().cloned().collect()
}

/// Table size of a `HashMap` built with `new HashMap<>(initial)`, grown for `max_len` entries
/// (it resizes once its size exceeds 3/4 of the table).
pub fn sized_hashmap_capacity(initial: usize, max_len: usize) -> usize {
    let mut cap = initial.max(1).next_power_of_two();
    while max_len > cap * 3 / 4 {
        cap *= 2;
    }
    cap
}

/// Table size of a `ConcurrentHashMap` built with `new ConcurrentHashMap<>(initial)`
/// (`tableSizeFor(initial + initial/2 + 1)`; `initial` 0 means the default 16), grown
/// for `max_len` entries (it resizes once its size reaches 3/4 of the table).
pub fn concurrent_hashmap_capacity(initial: usize, max_len: usize) -> usize {
    let mut cap = if initial == 0 { 16 } else { (initial + initial / 2 + 1).next_power_of_two() };
    while max_len >= cap - cap / 4 {
        cap *= 2;
    }
    cap
}

/// Orders long keys like a `HashMap<Long, _>`: `Long.hashCode` = `(int)(v ^ (v >>> 32))`.
pub fn long_hashmap_order(keys: &[i64]) -> Vec<i64> {
    let cap = hashmap_capacity(keys.len()) as u32;
    let mut v: Vec<(u32, usize, i64)> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let h = ((k as u64) ^ ((k as u64) >> 32)) as u32 as i32;
            (spread(h) & (cap - 1), i, k)
        })
        .collect();
    v.sort_by_key(|(b, i, _)| (*b, *i));
    v.into_iter().map(|(_, _, k)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_code_matches_java() {
        assert_eq!(string_hash_code(""), 0);
        assert_eq!(string_hash_code("TagA"), 2598919);
        assert_eq!(string_hash_code("hello"), 99162322);
        // Non-BMP characters hash as two UTF-16 units, like Java.
        assert_eq!(string_hash_code("\u{1F600}"), 1772899); // checked with OpenJDK 17
    }

    #[test]
    fn topic_list_order_matches_java_capture() {
        // A 4.9.8 name server keeps topics in a HashMap(1024) filled in the order of the
        // register body, then copies its key set into a HashSet (TopicList). The result must
        // be the order Java returned in mqadmin_topicList.pcap.
        let keys: Vec<String> = [
            "SCHEDULE_TOPIC_XXXX",
            "WireCluster_REPLY_TOPIC",
            "SELF_TEST_TOPIC",
            "WireCluster",
            "broker-w",
            "TBW102",
            "BenchmarkTest",
            "OFFSET_MOVED_EVENT",
            "RMQ_SYS_TRANS_HALF_TOPIC",
            "WireTopic",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let table: Vec<&String> = hashmap_order(keys.iter(), 1024);
        let got: Vec<&str> =
            hashmap_order(table, hashmap_capacity(keys.len())).into_iter().map(|s| s.as_str()).collect();
        let want = [
            "SCHEDULE_TOPIC_XXXX",
            "RMQ_SYS_TRANS_HALF_TOPIC",
            "broker-w",
            "BenchmarkTest",
            "OFFSET_MOVED_EVENT",
            "WireTopic",
            "TBW102",
            "WireCluster",
            "WireCluster_REPLY_TOPIC",
            "SELF_TEST_TOPIC",
        ];
        assert_eq!(got, want);
    }
}
