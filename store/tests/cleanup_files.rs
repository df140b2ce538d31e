//! Consume-queue and index cleanup on hand-made files: which files go, where
//! the min offset lands (Java `deleteExpiredFileByOffset` + `correctMinOffset`,
//! `IndexService#deleteExpiredFile`), dry runs and errors.

use std::path::{Path, PathBuf};

use rmq_store::cleanup::{clean_files, clean_index, clean_queue, Mode, QueueMinOffsets, WritePos};
use rmq_store::consume_queue::encode_unit;
use rmq_store::dispatch::{DispatchTarget, IndexGeometry};
use rmq_store::mapped_file::offset_to_file_name;
use rmq_store::StoreError;

/// Five units per file.
const FS: u64 = 100;

/// Writes a queue: `units[i]` is the commitlog offset of queue offset
/// `first + i` (`None` = fillPreBlank placeholder); files of `FS` bytes,
/// the last one zero-filled after its units.
fn queue(dir: &Path, first: u64, units: &[Option<i64>]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let start = first * 20 - first * 20 % FS;
    let mut bytes = vec![0u8; (first * 20 - start) as usize];
    for u in units {
        bytes.extend_from_slice(&match u {
            Some(p) => encode_unit(*p, 100, 7),
            None => encode_unit(0, i32::MAX, 0),
        });
    }
    let mut paths = Vec::new();
    for (i, chunk) in bytes.chunks(FS as usize).enumerate() {
        let mut b = chunk.to_vec();
        b.resize(FS as usize, 0);
        let p = dir.join(offset_to_file_name(start + i as u64 * FS));
        std::fs::write(&p, b).unwrap();
        paths.push(p);
    }
    paths
}

/// Units 0..18 at commitlog offsets 1000, 1100, ...: files 0..=2 full, file 3 with 3 units.
fn plain(dir: &Path) -> Vec<PathBuf> {
    let units: Vec<_> = (0..18).map(|k| Some(1000 + k * 100)).collect();
    queue(dir, 0, &units)
}

#[test]
fn deletes_files_whose_last_unit_is_below_and_corrects_the_min_offset() {
    let d = tempfile::tempdir().unwrap();
    let files = plain(d.path());
    // unit 8 (1800) is the first at or above 1750; file 0 ends at 1400, file 1 at 1900
    let r = clean_queue(d.path(), FS, 1750, 0, None, &Mode::Delete).unwrap();
    assert_eq!(r.deleted, vec![files[0].clone()]);
    assert!(!files[0].exists() && files[1].exists());
    assert_eq!((r.min_offset(), r.max_offset()), (8, 18));
    assert!(r.error.is_none() && r.note.is_none());
    // again from there: nothing more; an exact hit
    let r = clean_queue(d.path(), FS, 1800, r.min_logic_offset, None, &Mode::Delete).unwrap();
    assert!(r.deleted.is_empty());
    assert_eq!(r.min_offset(), 8);
    // later: files 1 and 2 go, never the last one even when all of it is below
    let r = clean_queue(d.path(), FS, 1_000_000, 160, None, &Mode::Delete).unwrap();
    assert_eq!(r.deleted, files[1..3].to_vec());
    assert!(files[3].exists());
    assert_eq!((r.min_offset(), r.max_offset()), (18, 18), "no unit left: min = max");
}

#[test]
fn dry_run_and_correct_only_delete_nothing() {
    let d = tempfile::tempdir().unwrap();
    let files = plain(d.path());
    let r = clean_queue(d.path(), FS, 1750, 0, None, &Mode::DryRun).unwrap();
    assert_eq!(r.deleted, vec![files[0].clone()]);
    assert_eq!(r.min_offset(), 8);
    assert!(files.iter().all(|p| p.exists()));
    // like Java at startup: only the first file is searched, and all of it is below
    let r = clean_queue(d.path(), FS, 1750, 0, None, &Mode::CorrectOnly).unwrap();
    assert!(r.deleted.is_empty());
    assert_eq!(r.min_offset(), 0);
    let r = clean_queue(d.path(), FS, 1250, 0, None, &Mode::CorrectOnly).unwrap();
    assert_eq!(r.min_offset(), 3);
}

#[test]
fn placeholders_and_a_previous_min_offset() {
    let d = tempfile::tempdir().unwrap();
    // the queue starts at offset 7: file 100 holds placeholders 5, 6 then units 7, 8, 9
    let mut units = vec![None, None];
    units.extend((0..8).map(|k| Some(1000 + k * 100)));
    let files = queue(d.path(), 5, &units);
    assert_eq!(files[0], d.path().join(offset_to_file_name(100)));
    // a log starting at 0: the placeholders count; Java's binary search stops at
    // the first exact match, here the second placeholder
    assert_eq!(clean_queue(d.path(), FS, 0, 0, None, &Mode::CorrectOnly).unwrap().min_offset(), 6);
    assert_eq!(clean_queue(d.path(), FS, 1000, 0, None, &Mode::CorrectOnly).unwrap().min_offset(), 7);
    // fillPreBlank's min offset still points above: kept
    assert_eq!(clean_queue(d.path(), FS, 500, 140, None, &Mode::Delete).unwrap().min_offset(), 7);
    let r = clean_queue(d.path(), FS, 1150, 140, None, &Mode::Delete).unwrap();
    assert!(r.deleted.is_empty(), "file 100 ends at 1200");
    assert_eq!(r.min_offset(), 9);
    let r = clean_queue(d.path(), FS, 1250, 180, None, &Mode::Delete).unwrap();
    assert_eq!((r.deleted.len(), r.min_offset(), r.max_offset()), (1, 10, 15));
}

#[test]
fn a_writer_position_replaces_reading_the_last_file() {
    let d = tempfile::tempdir().unwrap();
    plain(d.path());
    // the writer knows of 2 units in file 300 (the third is not its own)
    let pos = WritePos { last_file_start: 300, wrote: 40 };
    let r = clean_queue(d.path(), FS, 1750, 0, Some(pos), &Mode::Delete).unwrap();
    assert_eq!(r.max_offset(), 17);
    // a position for another file is ignored
    let pos = WritePos { last_file_start: 400, wrote: 20 };
    assert_eq!(clean_queue(d.path(), FS, 1750, 0, Some(pos), &Mode::Delete).unwrap().max_offset(), 18);
    assert!(clean_queue(d.path(), 90 + 1, 0, 0, None, &Mode::Delete).is_err(), "not whole units");
}

#[test]
fn a_short_file_stops_deleting_with_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let files = plain(d.path());
    std::fs::write(&files[1], vec![0u8; 50]).unwrap();
    let r = clean_queue(d.path(), FS, 5000, 0, None, &Mode::Delete).unwrap();
    assert_eq!(r.deleted, vec![files[0].clone()]);
    match &r.error {
        Some(StoreError::Corrupt { path, offset, .. }) => assert_eq!((path, *offset), (&files[1], 80)),
        other => panic!("{other:?}"),
    }
    // the min offset is still corrected: the queue's last unit is below 5000
    assert_eq!((r.min_offset(), r.max_offset()), (18, 18));

    // store-wide: the error is collected, the other queues are cleaned
    let root = tempfile::tempdir().unwrap();
    let bad = queue(&root.path().join("A/0"), 0, &(0..18).map(|k| Some(1000 + k * 100)).collect::<Vec<_>>());
    std::fs::write(&bad[0], vec![0u8; 50]).unwrap();
    plain(&root.path().join("B/3"));
    let target = DispatchTarget {
        cq_root: root.path().to_path_buf(),
        cq_file_size: FS,
        index_dir: None,
        index_geometry: IndexGeometry::DEFAULT,
    };
    let r = clean_files(&target, 1750, &Mode::Delete);
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].path(), Some(bad[0].as_path()));
    assert_eq!(r.errors[0].offset(), Some(80));
    assert_eq!(r.min_offset("B", 3), Some(8));
    assert_eq!(r.cq_files_deleted, vec![root.path().join("B/3").join(offset_to_file_name(0))]);
}

/// An index file (5 slots, 4 entries) whose header says `endPhyOffset = end`.
fn index_file(dir: &Path, name: &str, end: i64) -> PathBuf {
    let mut b = vec![0u8; rmq_store::index::index_file_size(5, 4) as usize];
    b[24..32].copy_from_slice(&end.to_be_bytes());
    b[36..40].copy_from_slice(&1i32.to_be_bytes());
    let p = dir.join(name);
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn index_files_below_the_min_offset_go_except_the_newest() {
    let d = tempfile::tempdir().unwrap();
    let f: Vec<_> = [100, 200, 300, 400]
        .iter()
        .enumerate()
        .map(|(i, e)| index_file(d.path(), &format!("2025010100000000{i}"), *e))
        .collect();
    assert_eq!(clean_index(d.path(), 250, None, true).unwrap(), f[..2].to_vec());
    assert!(f.iter().all(|p| p.exists()), "dry run");
    assert_eq!(clean_index(d.path(), 250, Some(&f[1]), false).unwrap(), f[..1].to_vec(), "kept file stops");
    assert_eq!(clean_index(d.path(), 100_000, None, false).unwrap(), f[1..3].to_vec());
    assert!(f[3].exists(), "never the newest");
    assert!(clean_index(&d.path().join("none"), 1, None, false).unwrap().is_empty());
    std::fs::write(d.path().join("20240101000000000"), [0u8; 20]).unwrap();
    let e = clean_index(d.path(), 100_000, None, false).unwrap_err();
    assert_eq!((e.path(), e.offset()), (Some(d.path().join("20240101000000000").as_path()), Some(24)));
}

#[test]
fn min_offset_table_is_shared() {
    let t = QueueMinOffsets::default();
    let t2 = t.clone();
    assert_eq!(t.min_offset("T", 0), 0);
    t.set("T", 0, 200);
    t.set("T", 1, 40);
    t.set("U", 0, 20);
    assert_eq!((t2.min_offset("T", 0), t2.min_logic_offset("T", 1)), (10, Some(40)));
    t2.remove_topic("T");
    assert_eq!(t.snapshot().into_iter().collect::<Vec<_>>(), vec![(("U".to_string(), 0), 1)]);
}
