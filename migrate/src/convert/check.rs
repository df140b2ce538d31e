//! Checks of a converted store against its source.
//!
//! * Every entry of the DLedger store's own consume queues that points into
//!   the converted range must be found at the same queue offset in the new
//!   consume queue, with the same size and tags code, pointing at a record
//!   whose bytes equal the old one's except the PHYSICALOFFSET field (and a
//!   recomputed `__CRC32#`). This is what keeps consumer offsets valid.
//! * Java's recovery, run on the result, would change nothing.

use std::path::Path;

use rmq_store::consume_queue::{list_queues, CQ_UNIT_SIZE};
use rmq_store::record::properties::PROPERTY_CRC32;
use rmq_store::record::{CRC32_RESERVED_LEN, POS_PHYSICAL_OFFSET};
use rmq_store::recovery::{self, RecoveryOptions};
use rmq_store::{CommitLog, ConsumeQueue, CqEntry, MappedFileQueue, StoreDir};
use serde::Serialize;

use super::error::Result;
use super::node::Node;
use super::records::RecordsOutcome;
use crate::report::Issue;

const MAX_PROBLEMS: usize = 100;

#[derive(Clone, Debug, Default, Serialize)]
pub struct QueueCheck {
    pub queues: usize,
    /// Old entries found unchanged at their queue offset.
    pub matched: u64,
    /// Old entries pointing past the converted range (not committed).
    pub beyond_converted: u64,
    /// New entries the old consume queues did not have yet.
    pub only_in_new: u64,
    pub problem_count: u64,
    pub problems: Vec<Issue>,
}

impl QueueCheck {
    fn problem(&mut self, file: &Path, offset: u64, error: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Issue { file: file.display().to_string(), offset, error });
        }
    }
}

/// `size` bytes at absolute `offset` of a mapped-file queue.
fn record_at(q: &MappedFileQueue, offset: u64, size: usize) -> Option<&[u8]> {
    let f = q.find(offset)?;
    f.slice_from(offset - f.file_from_offset()).get(..size)
}

/// Same record apart from PHYSICALOFFSET and the `__CRC32#` digits.
fn same_record(old: &[u8], new: &[u8]) -> bool {
    let end = POS_PHYSICAL_OFFSET + 8;
    if old.len() != new.len() || old.len() < end || old[..POS_PHYSICAL_OFFSET] != new[..POS_PHYSICAL_OFFSET] {
        return false;
    }
    let n = old.len();
    if old[end..] == new[end..] {
        return true;
    }
    // only the ten digits of a trailing `__CRC32#` property may differ
    let key = PROPERTY_CRC32.as_bytes();
    n >= end + CRC32_RESERVED_LEN
        && new[n - CRC32_RESERVED_LEN..n - CRC32_RESERVED_LEN + key.len()] == *key
        && old[end..n - 11] == new[end..n - 11]
        && old[n - 1] == new[n - 1]
}

/// Compares the source's consume queues with the converted ones.
pub fn check_queues(
    node: &Node,
    rec: &RecordsOutcome,
    cq_file_size: u64,
    new_cq_root: &Path,
    new_cl: &CommitLog,
    new_entries: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<QueueCheck> {
    let mut c = QueueCheck::default();
    let base = rec.new_from;
    let queues = list_queues(&node.dir.consume_queue_dir())?;
    let data = node.dledger.data();
    for (n, (topic, qid, qdir)) in queues.iter().enumerate() {
        c.queues += 1;
        let old = ConsumeQueue::open(qdir, topic, *qid, Some(cq_file_size))?;
        let new_dir = new_cq_root.join(topic).join(qid.to_string());
        let new = ConsumeQueue::open(&new_dir, topic, *qid, Some(cq_file_size))?;
        'files: for f in old.files().files() {
            for (i, u) in f.bytes().chunks_exact(CQ_UNIT_SIZE as usize).enumerate() {
                let q = (f.file_from_offset() + i as u64 * CQ_UNIT_SIZE) / CQ_UNIT_SIZE;
                let e = rmq_store::consume_queue::decode_unit(u, q).expect("20 bytes");
                if e.is_placeholder() {
                    continue;
                }
                if !e.is_valid() {
                    break 'files;
                }
                let at = i as u64 * CQ_UNIT_SIZE;
                check_entry(&mut c, node, rec, base, data, new_cl, &new, e, f.path(), at);
            }
        }
        progress(n as u64 + 1, queues.len() as u64);
    }
    c.only_in_new = new_entries.saturating_sub(c.matched);
    Ok(c)
}

#[allow(clippy::too_many_arguments)]
fn check_entry(
    c: &mut QueueCheck,
    node: &Node,
    rec: &RecordsOutcome,
    base: u64,
    data: &MappedFileQueue,
    new_cl: &CommitLog,
    new: &ConsumeQueue,
    e: CqEntry,
    file: &Path,
    at: u64,
) {
    let p = e.physical_offset as u64;
    if p >= base && (p >= rec.old_to || rec.entries == 0) {
        c.beyond_converted += 1;
        return;
    }
    let q = e.queue_offset;
    let Some(n) = new.get(q).filter(CqEntry::is_valid) else {
        c.problem(file, at, format!("queue offset {q} (record at {p}) missing from the converted consume queue"));
        return;
    };
    if n.size != e.size || n.tags_code != e.tags_code {
        let msg = format!("queue offset {q}: size/tags {}/{} became {}/{}", e.size, e.tags_code, n.size, n.tags_code);
        c.problem(file, at, msg);
        return;
    }
    let size = e.size as usize;
    let ok = if p < base {
        // pre-DLedger records keep their offsets
        n.physical_offset == e.physical_offset
    } else {
        match (record_at(data, p, size), record_at(new_cl.queue(), n.physical_offset as u64, size)) {
            (Some(a), Some(b)) => {
                same_record(a, b)
                    && i64::from_be_bytes(b[POS_PHYSICAL_OFFSET..POS_PHYSICAL_OFFSET + 8].try_into().expect("8"))
                        == n.physical_offset
            }
            _ => false,
        }
    };
    if ok {
        c.matched += 1;
    } else {
        let msg = format!(
            "queue offset {q}: record at {p} ({}) is not the record at {} of the converted log",
            node.name(),
            n.physical_offset
        );
        c.problem(file, at, msg);
    }
}

/// Whether Java's recovery on `root` would change nothing; if it would, what.
pub fn recovery_check(root: &Path) -> Result<(bool, Vec<String>)> {
    let dir = StoreDir::open(root, None)?;
    let plan = recovery::plan(&dir, &RecoveryOptions::default(), &mut |_, _, _| {})?;
    let mut what = Vec::new();
    if let Some(z) = &plan.commitlog.zero {
        what.push(format!("commitlog {} zeroed from {}", z.path.display(), z.from));
    }
    for f in &plan.commitlog.delete_files {
        what.push(format!("commitlog {} deleted", f.display()));
    }
    for q in &plan.queues {
        what.push(format!("consume queue {}/{} changed", q.topic, q.queue_id));
    }
    if plan.index.changes_files() {
        what.push("index files changed".into());
    }
    if let Some(d) = plan.dispatch.as_ref().filter(|d| d.writes()) {
        what.push(format!("{} more consume queue entries dispatched", d.stats.cq_entries_written));
    }
    if plan.checkpoint.write {
        what.push("checkpoint rewritten".into());
    }
    what.extend(plan.warnings.iter().cloned());
    Ok((plan.is_noop(), what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_equal_but_for_their_offset_and_crc_digits() {
        let mut a = vec![7u8; 80];
        let mut b = a.clone();
        b[POS_PHYSICAL_OFFSET] = 1;
        assert!(same_record(&a, &b));
        b[70] = 1; // a digit position, but no CRC property
        assert!(!same_record(&a, &b));
        a[60..68].copy_from_slice(PROPERTY_CRC32.as_bytes());
        b[60..68].copy_from_slice(PROPERTY_CRC32.as_bytes());
        assert!(same_record(&a, &b));
        b[79] = 1;
        assert!(!same_record(&a, &b));
        a[10] = 0;
        assert!(!same_record(&a, &b[..]));
        assert!(!same_record(&a[..40], &a[..41]));
    }
}
