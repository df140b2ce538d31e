//! Dispatching a golden commitlog from scratch reproduces Java's consume
//! queues byte for byte and its index files entry for entry.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rmq_store::dispatch::{
    dispatch_range, store_geometry, CheckRules, DispatchTarget, Dispatcher, IndexState, JavaVersion, RangeEnd,
};
use rmq_store::index::{list_index_files, IndexFile};
use rmq_store::testutil::golden;
use rmq_store::StoreDir;

fn files_under(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned(), p);
            }
        }
    }
    out
}

/// Rebuilds `store` into a temp dir; returns it.
fn rebuild(store: &str, java: JavaVersion) -> tempfile::TempDir {
    let dir = StoreDir::open(&golden(store), None).unwrap();
    let cl = dir.open_commitlog().unwrap();
    let out = tempfile::tempdir().unwrap();
    let (cq_size, geom) = store_geometry(&dir).unwrap();
    let target = DispatchTarget {
        cq_root: out.path().join("consumequeue"),
        cq_file_size: cq_size,
        index_dir: Some(out.path().join("index")),
        index_geometry: geom,
    };
    let mut d = Dispatcher::new(target, HashMap::new(), IndexState::default(), false).unwrap();
    let rules = CheckRules::from_config(java, dir.config());
    let end = dispatch_range(&cl, 0, u64::MAX, &rules, &mut d, &mut |_| {}, &mut |_| true).unwrap();
    assert!(matches!(end, RangeEnd::Invalid { .. } | RangeEnd::Done), "{end:?}");
    d.finish().unwrap();
    out
}

fn assert_same_cq(store: &str, out: &Path) {
    let want = files_under(&golden(store).join("consumequeue"));
    let got = files_under(&out.join("consumequeue"));
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{store}: consume queue files");
    for (k, p) in &want {
        let (a, b) = (std::fs::read(p).unwrap(), std::fs::read(&got[k]).unwrap());
        if a != b {
            let pos = a.iter().zip(&b).position(|(x, y)| x != y);
            panic!("{store}: consumequeue/{k} differs at {pos:?} (len {} vs {})", a.len(), b.len());
        }
    }
}

fn assert_same_index(store: &str, out: &Path) {
    let dir = StoreDir::open(&golden(store), None).unwrap();
    let (_, g) = store_geometry(&dir).unwrap();
    let (s, n) = (Some(g.hash_slot_num), Some(g.index_num));
    let want = list_index_files(&golden(store).join("index")).unwrap();
    let got = list_index_files(&out.join("index")).unwrap();
    assert_eq!(got.len(), want.len(), "{store}: index file count");
    for (w, g) in want.iter().zip(&got) {
        let (w, g) = (IndexFile::open(w, s, n).unwrap(), IndexFile::open(g, s, n).unwrap());
        assert_eq!(g.header(), w.header(), "{store}: header of {}", w.path().display());
        for slot in 0..w.hash_slot_num() {
            assert_eq!(g.slot(slot), w.slot(slot), "{store}: slot {slot} of {}", w.path().display());
        }
        for i in 0..w.index_num() {
            assert_eq!(g.entry(i), w.entry(i), "{store}: entry {i} of {}", w.path().display());
        }
    }
}

#[test]
fn plain_rebuild_matches_java() {
    let out = rebuild("java-4.9.8/plain", JavaVersion::V4_9_8);
    assert_same_cq("java-4.9.8/plain", out.path());
    assert_same_index("java-4.9.8/plain", out.path());
}

#[test]
fn other_plain_layout_stores_rebuild_like_java() {
    for (s, j) in [
        ("java-4.9.8/master-slave/master", JavaVersion::V4_9_8),
        ("java-4.9.8/master-slave/slave", JavaVersion::V4_9_8),
        ("java-4.9.8/ipv6-embedded", JavaVersion::V4_9_8),
        ("java-4.9.8/diverged/slave-ahead/master", JavaVersion::V4_9_8),
        ("java-4.9.8/diverged/slave-ahead/slave", JavaVersion::V4_9_8),
        ("java-4.9.8/diverged/slave-behind/master", JavaVersion::V4_9_8),
        ("java-4.9.8/diverged/slave-behind/slave", JavaVersion::V4_9_8),
        ("java-5.3.3/v2-ipv6-embedded", JavaVersion::V5_3_3),
        ("java-5.3.3/controller-mode/broker-c-n0", JavaVersion::V5_3_3),
        ("java-5.3.3/controller-mode/broker-c-n1", JavaVersion::V5_3_3),
    ] {
        let out = rebuild(s, j);
        assert_same_cq(s, out.path());
        assert_same_index(s, out.path());
    }
}
