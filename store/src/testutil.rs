//! Golden-data lookup shared by the integration tests of `rmq-store` and `rmq-migrate`
//! (not part of the public API).

use std::path::{Path, PathBuf};

/// The golden data written by real Java brokers: `<workspace>/../shared/golden`.
pub const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/golden");

/// Every golden broker store (the 5.3.3 controller's event log is not one).
pub const STORES: &[&str] = &[
    "java-4.9.8/plain",
    "java-4.9.8/crashed",
    "java-4.9.8/master-slave/master",
    "java-4.9.8/master-slave/slave",
    "java-4.9.8/diverged/slave-ahead/master",
    "java-4.9.8/diverged/slave-ahead/slave",
    "java-4.9.8/diverged/slave-behind/master",
    "java-4.9.8/diverged/slave-behind/slave",
    "java-4.9.8/ipv6-embedded",
    "java-4.9.8/dledger/n0",
    "java-4.9.8/dledger/n1",
    "java-4.9.8/dledger/n2",
    "java-5.3.3/controller-mode/broker-c-n0",
    "java-5.3.3/controller-mode/broker-c-n1",
    "java-5.3.3/v2-ipv6-embedded",
];

/// `GOLDEN/<s>`.
pub fn golden(s: &str) -> PathBuf {
    Path::new(GOLDEN).join(s)
}

/// Copies a directory tree; golden files are read-only, the copies are made
/// writable. Panics on any I/O error (tests only).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
    for e in std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            let mut perm = std::fs::metadata(&to).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&to, perm).unwrap();
        }
    }
}

/// Every file under `dir` (relative path → bytes). Panics on any I/O error,
/// a missing `dir` included (tests only).
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), bytes);
            }
        }
    }
    out
}

/// Two [`snapshot`]s hold the same files with the same bytes (`what` names the comparison).
pub fn assert_same(
    a: &std::collections::BTreeMap<String, Vec<u8>>,
    b: &std::collections::BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{what}: file lists");
    for (k, v) in a {
        assert!(v == &b[k], "{what}: {k} differs");
    }
}

/// Whether two sets of `(file name, bytes)` hold the same data: same-named
/// files equal, and a file on one side only is all zeros (a pre-created next
/// commitlog file).
pub fn same_files(fa: &[(String, Vec<u8>)], fb: &[(String, Vec<u8>)]) -> bool {
    let mut names: Vec<&String> = fa.iter().chain(fb.iter()).map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    names.into_iter().all(|n| {
        let x = fa.iter().find(|(m, _)| m == n).map(|(_, d)| d);
        let y = fb.iter().find(|(m, _)| m == n).map(|(_, d)| d);
        match (x, y) {
            (Some(x), Some(y)) => x == y,
            (Some(d), None) | (None, Some(d)) => d.iter().all(|b| *b == 0),
            (None, None) => true,
        }
    })
}

/// A message for the write-path tests: topic, queue, body and properties
/// (`(key, value)` pairs); born 1_700_000_000_000 + `seq` ms at 10.0.0.1,
/// stored at 127.0.0.1:10911.
pub fn test_message(
    topic: &str,
    queue: i32,
    body: Vec<u8>,
    props: &[(&str, &str)],
    seq: u64,
) -> crate::append::MessageToStore {
    crate::append::MessageToStore {
        topic: topic.into(),
        queue_id: queue,
        flag: 0,
        body: body.into(),
        properties: crate::record::properties_to_bytes(props.iter().copied()).into(),
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000 + seq as i64,
        born_host: crate::record::HostAddr::v4([10, 0, 0, 1], 50000),
        store_host: crate::record::HostAddr::v4([127, 0, 0, 1], 10911),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}
