//! The index half of recovery.
//!
//! Java (`IndexService.load(lastExitOK=false)`) deletes, after an abnormal
//! exit, every index file whose endTimestamp is above the checkpoint's
//! indexMsgTimestamp, and lets the recovery dispatch rebuild them. It never
//! removes index entries that point past the recovered commitlog end (lookups
//! just fail to read them); this plan does, like `truncateDirtyLogicFiles`
//! does for consume queues, and repairs what a crash in the middle of a write
//! leaves: entries at or past indexCount, slots pointing at them, and a
//! hashSlotCount that no longer equals the number of chain heads (entries with
//! no previous entry, which is exactly what `IndexFile.putKey` counts).

use std::path::{Path, PathBuf};

use crate::dispatch::index_writer::{resume_count, FileView};
use crate::dispatch::{IndexGeometry, IndexState};
use crate::error::{Result, StoreError};
use crate::index::{index_file_size, list_index_files, IndexFile, IndexHeader, INDEX_ENTRY_SIZE};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexDeletion {
    pub path: PathBuf,
    pub reason: String,
}

/// New contents for part of an index file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexRewrite {
    pub path: PathBuf,
    pub old_header: IndexHeader,
    pub new_header: IndexHeader,
    /// Entries that pointed at or past the commitlog end.
    pub removed_entries: u32,
    /// Entry numbers `[from, to)` to zero.
    pub zero_entries: Option<(u32, u32)>,
    /// `(slot, new value)`.
    pub slot_fixes: Vec<(u32, i32)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexPlan {
    pub enabled: bool,
    pub geometry: Option<IndexGeometry>,
    pub deletions: Vec<IndexDeletion>,
    pub rewrites: Vec<IndexRewrite>,
    /// Where index building continues afterwards.
    #[serde(skip)]
    pub state_after: IndexState,
}

impl IndexPlan {
    pub fn changes_files(&self) -> bool {
        !self.deletions.is_empty() || !self.rewrites.is_empty()
    }
}

/// Plans the index directory `dir`. `abnormal_index_ts`: the checkpoint's
/// indexMsgTimestamp when the abort file is present. `end`: the recovered
/// commitlog end. `ts_of(offset)`: store timestamp of the record there.
pub(crate) fn plan_index(
    dir: &Path,
    geom: IndexGeometry,
    abnormal_index_ts: Option<i64>,
    end: u64,
    ts_of: &dyn Fn(i64) -> Option<i64>,
) -> Result<IndexPlan> {
    let mut plan = IndexPlan { enabled: true, geometry: Some(geom), ..IndexPlan::default() };
    let mut kept: Vec<(IndexFile, u32, IndexHeader)> = Vec::new();
    let end = end as i64;
    for p in list_index_files(dir)? {
        let len = std::fs::metadata(&p).map_err(|e| StoreError::io(&p, e))?.len();
        if len == 0 {
            plan.deletions.push(IndexDeletion { path: p, reason: "empty file (its creation was interrupted)".into() });
            continue;
        }
        let f = IndexFile::open(&p, Some(geom.hash_slot_num), Some(geom.index_num))?;
        let h = *f.header();
        if let Some(ts) = abnormal_index_ts.filter(|ts| h.end_timestamp > *ts) {
            let reason = format!(
                "endTimestamp {} is above the checkpoint's indexMsgTimestamp {ts} (abnormal exit)",
                h.end_timestamp
            );
            plan.deletions.push(IndexDeletion { path: p, reason });
            continue;
        }
        let count = h.index_count.clamp(1, geom.index_num as i32) as u32;
        let keep = first_dropped(&f, count, end);
        if keep == 1 && (count > 1 || (h.end_phy_offset > 0 && h.end_phy_offset >= end)) {
            let reason = format!("every entry points at or past the commitlog end {end}");
            plan.deletions.push(IndexDeletion { path: p, reason });
            continue;
        }
        let (rewrite, new_header) = plan_file(&f, geom, count, keep, ts_of)?;
        if let Some(r) = rewrite {
            plan.rewrites.push(r);
        }
        kept.push((f, keep, new_header));
    }
    let views: Vec<FileView> =
        kept.iter().map(|(f, keep, h)| FileView { file: f, count: *keep, end_phy_offset: h.end_phy_offset }).collect();
    let st = &mut plan.state_after;
    for (_, keep, h) in &kept {
        if *keep >= geom.index_num {
            st.last_full_end_timestamp = h.end_timestamp;
        }
    }
    if let Some((f, _, h)) = kept.last() {
        let mut h = *h;
        h.index_count = h.index_count.max(1);
        st.last = Some((f.path().to_path_buf(), h));
        st.max_name = f.path().file_name().map(|n| n.to_string_lossy().into_owned());
        st.resume_phy_offset = h.end_phy_offset;
        st.resume_skip = resume_count(&views, h.end_phy_offset);
    }
    Ok(plan)
}

/// The first entry below `count` that cannot stay: one past the commitlog
/// end, or an all-zero one after the first, which is what an earlier recovery
/// killed while zeroing dropped entries leaves (only a key of the message at
/// offset 0 that hashes to 0 could look like that).
fn first_dropped(f: &IndexFile, count: u32, end: i64) -> u32 {
    (1..count)
        .find(|&n| {
            f.entry(n).is_none_or(|e| {
                let zeroed = n > 1 && e.key_hash == 0 && e.phy_offset == 0 && e.time_diff == 0 && e.prev_index == 0;
                e.phy_offset >= end || zeroed
            })
        })
        .unwrap_or(count)
}

/// Rewrite (if any) of a kept file and its header afterwards.
fn plan_file(
    f: &IndexFile,
    geom: IndexGeometry,
    count: u32,
    keep: u32,
    ts_of: &dyn Fn(i64) -> Option<i64>,
) -> Result<(Option<IndexRewrite>, IndexHeader)> {
    let old = *f.header();
    // IndexFile::open checked the file has exactly this length
    let len = index_file_size(f.hash_slot_num(), f.index_num());
    let first = f.entry_pos(keep);
    let zero_entries = super::zeros::last_nonzero_in(f.path(), len, first)?.map(|last| {
        let last_entry = keep + ((last - first) / INDEX_ENTRY_SIZE) as u32;
        (keep, last_entry + 1)
    });
    let mut slot_fixes = Vec::new();
    for s in 0..geom.hash_slot_num {
        let v = f.slot(s).unwrap_or(0);
        if v > 0 && v as u32 >= keep {
            slot_fixes.push((s, chain_below(f, v as u32, keep)));
        }
    }
    let mut new = old;
    if keep > 1 {
        let entries: Vec<_> = (1..keep).filter_map(|n| f.entry(n)).collect();
        new.index_count = keep as i32;
        new.hash_slot_count = entries.iter().filter(|e| e.prev_index == 0).count() as i32;
        let end_phy = entries.last().map(|e| e.phy_offset).unwrap_or(old.end_phy_offset);
        if keep < count || end_phy != old.end_phy_offset {
            new.end_phy_offset = end_phy;
            new.end_timestamp = ts_of(end_phy).unwrap_or(old.end_timestamp);
        }
    }
    let changed = new != old || zero_entries.is_some() || !slot_fixes.is_empty();
    let rewrite = changed.then(|| IndexRewrite {
        path: f.path().to_path_buf(),
        old_header: old,
        new_header: new,
        removed_entries: count - keep,
        zero_entries,
        slot_fixes,
    });
    Ok((rewrite, new))
}

/// Newest entry below `keep` in the chain starting at `n` (0 = none).
fn chain_below(f: &IndexFile, mut n: u32, keep: u32) -> i32 {
    while n >= keep {
        let Some(e) = f.entry(n) else { return 0 };
        // chains only go to older (smaller) entries; anything else is garbage
        if e.prev_index <= 0 || e.prev_index as u32 >= n {
            return 0;
        }
        n = e.prev_index as u32;
    }
    n as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{DispatchRequest, IndexWriter};

    fn req(off: i64, ts: i64, keys: &str) -> DispatchRequest {
        DispatchRequest {
            topic: "T".into(),
            queue_id: 0,
            commit_log_offset: off,
            msg_size: 10,
            tags_code: 0,
            store_timestamp: ts,
            consume_queue_offset: 0,
            keys: Some(keys.into()),
            uniq_key: None,
            sys_flag: 0,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn truncates_entries_past_the_end_and_restores_chains() {
        let d = tempfile::tempdir().unwrap();
        let g = IndexGeometry { hash_slot_num: 2, index_num: 5 };
        let mut w = IndexWriter::new(d.path(), g, IndexState::default(), false).unwrap();
        w.build_index(&req(0, 1000, "a b")).unwrap();
        w.build_index(&req(100, 2000, "a c")).unwrap();
        w.build_index(&req(200, 3000, "x y z")).unwrap();
        w.finish().unwrap();
        let files = list_index_files(d.path()).unwrap();
        assert_eq!(files.len(), 2);
        let ts = |o: i64| Some(o * 10 + 1000);
        let plan = plan_index(d.path(), g, None, 100, &ts).unwrap();
        // file 2 holds only offset 200 entries; file 1 loses the two keys of offset 100
        assert_eq!(plan.deletions.len(), 1);
        assert_eq!(plan.rewrites.len(), 1);
        let r = &plan.rewrites[0];
        assert_eq!((r.removed_entries, r.zero_entries), (2, Some((3, 5))));
        assert_eq!((r.new_header.index_count, r.new_header.end_phy_offset, r.new_header.end_timestamp), (3, 0, 1000));
        assert!((1..=2).contains(&r.new_header.hash_slot_count));
        assert!(!r.slot_fixes.is_empty());
        assert_eq!((plan.state_after.resume_phy_offset, plan.state_after.resume_skip), (0, 2));
        // abnormal: file 2 ends after the checkpoint's index timestamp
        let plan = plan_index(d.path(), g, Some(2000), 1000, &ts).unwrap();
        assert_eq!(plan.deletions.len(), 1);
        assert!(plan.rewrites.is_empty());
        assert_eq!(plan.state_after.last_full_end_timestamp, 2000);
        // a recovery killed after its slot fixes, half-way through zeroing: planned again,
        // the zeroed entry is not taken for a kept one
        {
            use crate::index::{HASH_SLOT_SIZE, INDEX_HEADER_SIZE};
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().write(true).open(&r.path).unwrap();
            for (slot, v) in &r.slot_fixes {
                f.write_all_at(&v.to_be_bytes(), INDEX_HEADER_SIZE + *slot as u64 * HASH_SLOT_SIZE).unwrap();
            }
            let entries = INDEX_HEADER_SIZE + g.hash_slot_num as u64 * HASH_SLOT_SIZE;
            f.write_all_at(&[0u8; INDEX_ENTRY_SIZE as usize], entries + 3 * INDEX_ENTRY_SIZE).unwrap();
        }
        let again = plan_index(d.path(), g, None, 100, &ts).unwrap();
        let r2 = &again.rewrites[0];
        assert_eq!((r2.new_header, r2.zero_entries), (r.new_header, Some((3, 5))));
        assert!(r2.slot_fixes.is_empty(), "the slots were fixed before the kill");
    }
}
