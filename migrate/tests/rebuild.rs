//! `rebuild`: consume queues byte-identical to Java's and index files equal
//! in content (header, slot table, every entry) for the golden plain store.
//!
//! Index file names differ: Java names a file by the wall clock when it
//! creates it; a rebuild uses the store timestamp of the first message put
//! into it (Java's name is a few milliseconds later), so names are
//! reproducible. Files are therefore compared in name order.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use rmq_store::index::{list_index_files, IndexFile};
use serde_json::Value;

const PLAIN: &str = "java-4.9.8/plain";

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

fn assert_cq_identical(got_root: &Path) {
    let want = files_under(&golden(PLAIN).join("consumequeue"));
    let got = files_under(&got_root.join("consumequeue"));
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (k, p) in &want {
        assert!(std::fs::read(p).unwrap() == std::fs::read(&got[k]).unwrap(), "consumequeue/{k} differs");
    }
}

/// Header, slots and entries of every index file, in name order.
fn index_content(
    dir: &Path,
) -> Vec<(rmq_store::index::IndexHeader, Vec<Option<i32>>, Vec<rmq_store::index::IndexEntry>)> {
    list_index_files(dir)
        .unwrap()
        .iter()
        .map(|p| {
            let f = IndexFile::open(p, Some(100), Some(400)).unwrap();
            let slots = (0..f.hash_slot_num()).map(|s| f.slot(s)).collect();
            let entries = (0..f.index_num()).filter_map(|n| f.entry(n)).collect();
            (*f.header(), slots, entries)
        })
        .collect()
}

fn rebuild_json(args: &[&str]) -> (i32, Value) {
    let mut a = vec!["rebuild", "--json"];
    a.extend_from_slice(args);
    let (code, out) = run(&a);
    (code, serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}")))
}

#[test]
fn rebuild_into_out_matches_java() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("rebuilt");
    let (code, v) = rebuild_json(&["--out", o.to_str().unwrap(), golden(PLAIN).to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!((v["mode"].as_str(), v["to"].as_u64(), v["messages"].as_u64()), (Some("out"), Some(2256592), Some(974)));
    assert_cq_identical(&o);
    let want = index_content(&golden(PLAIN).join("index"));
    let got = index_content(&o.join("index"));
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.0, w.0, "index file {i}: header");
        assert_eq!(g.1, w.1, "index file {i}: slots");
        assert_eq!(g.2, w.2, "index file {i}: entries");
    }
    // the store-dump Java wrote agrees on the entry count
    let dump = read_json(&golden(PLAIN).join("store-dump.json"));
    let java_entries: usize =
        dump["index"]["files"].as_array().unwrap().iter().map(|f| f["entries"].as_array().unwrap().len()).sum();
    assert_eq!(v["stats"]["index_keys_added"].as_u64(), Some(java_entries as u64));
    // refuses to write over an existing rebuild
    let (code, _) = run(&["rebuild", "--out", o.to_str().unwrap(), golden(PLAIN).to_str().unwrap()]);
    assert_eq!(code, 2);
}

#[test]
fn dry_run_counts_and_writes_nothing() {
    let t = copy_store(PLAIN);
    std::fs::remove_dir_all(t.path().join("consumequeue/GoldenTopicA")).unwrap();
    let before = files_under(t.path());
    let (code, v) = rebuild_json(&[t.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["mode"], "dry-run");
    assert_eq!(v["stats"]["cq_entries_written"], 974);
    assert_eq!(v["stats"]["index_files_created"].as_array().unwrap().len(), 5);
    let queues: usize = v["stats"]["queues"].as_object().unwrap().values().map(|q| q.as_object().unwrap().len()).sum();
    assert_eq!(queues, 15);
    let after = files_under(t.path());
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
}

#[test]
fn in_place_rebuild_replaces_missing_and_damaged_files() {
    let t = copy_store(PLAIN);
    let b = tempfile::tempdir().unwrap();
    std::fs::remove_dir_all(t.path().join("index")).unwrap();
    // a damaged queue file and a stale one for a queue that has no messages
    patch(&t.path().join("consumequeue/GoldenTopicA/0/00000000000000000000"), 0, &[0xFF; 20]);
    std::fs::create_dir_all(t.path().join("consumequeue/Ghost/0")).unwrap();
    std::fs::write(t.path().join("consumequeue/Ghost/0/00000000000000000000"), vec![0u8; 6000]).unwrap();
    let bk = b.path().join("bk");
    let (code, v) = rebuild_json(&["--in-place", "--backup", bk.to_str().unwrap(), t.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert!(bk.join("consumequeue/Ghost/0/00000000000000000000").exists());
    assert!(!t.path().join(".rmq-rebuild.tmp").exists() && !t.path().join(".rmq-rebuild.old").exists());
    assert_cq_identical(t.path());
    assert_eq!(index_content(&t.path().join("index")), index_content(&golden(PLAIN).join("index")));
    // checkpoint timestamps as Java left them
    assert_eq!(
        std::fs::read(t.path().join("checkpoint")).unwrap(),
        std::fs::read(golden(PLAIN).join("checkpoint")).unwrap()
    );
    let (code, v) = verify_json(t.path());
    assert_eq!(code, 0, "{v}");
    // and recovery has nothing left to do
    let (code, out) = run(&["recover", t.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}
