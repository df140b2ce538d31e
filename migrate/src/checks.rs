//! Cross-checks between the commitlog and its derived files (consume queues
//! and index files).

use std::collections::HashMap;

use rmq_store::consume_queue::{list_queues, ConsumeQueue, CqEntry, CQ_UNIT_SIZE};
use rmq_store::index::{key_hash, list_index_files, IndexFile};
use rmq_store::record::{properties::PROPERTY_DELAY_TIME_LEVEL, MessageRecord};

use crate::report::Issue;
use crate::source::{QueueRef, Store};

pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
pub const LMQ_PREFIX: &str = "%LMQ%";
const PROPERTY_INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";

#[derive(Debug, Default, serde::Serialize)]
pub struct CheckCounts {
    pub consume_queues: u64,
    pub cq_entries: u64,
    pub index_files: u64,
    pub index_entries: u64,
}

/// Expected consume-queue tagsCode of a message.
pub fn expected_tags_code(m: &MessageRecord, delay_levels_ms: &[i64]) -> i64 {
    if m.topic == SCHEDULE_TOPIC {
        if let Some(level) = m.property(PROPERTY_DELAY_TIME_LEVEL).and_then(|v| v.trim().parse::<i64>().ok()) {
            let max = delay_levels_ms.len() as i64;
            let level = level.min(max);
            if level > 0 {
                return m.store_timestamp + delay_levels_ms[(level - 1) as usize];
            }
        }
    }
    m.tags_code()
}

/// Opened consume queues keyed by (topic, queue id), for the reverse check.
pub struct CqSet {
    queues: HashMap<(String, i32), ConsumeQueue>,
}

impl CqSet {
    pub fn open(store: &Store, issues: &mut Vec<Issue>) -> Self {
        let mut queues = HashMap::new();
        let size = store.dir.consume_queue_file_size();
        match list_queues(&store.dir.consume_queue_dir()) {
            Ok(list) => {
                for (topic, qid, dir) in list {
                    match ConsumeQueue::open(&dir, &topic, qid, size) {
                        Ok(q) => {
                            queues.insert((topic, qid), q);
                        }
                        Err(e) => issues.push(store.issue_from(&e)),
                    }
                }
            }
            Err(e) => issues.push(store.issue_from(&e)),
        }
        CqSet { queues }
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Checks that a dispatched message has its CQ unit. A missing unit is a
    /// warning (recovery re-dispatches); a unit pointing elsewhere is an error.
    pub fn check_message(
        &self,
        store: &Store,
        phys: u64,
        m: &MessageRecord,
        issues: &mut Vec<Issue>,
        warnings: &mut Vec<Issue>,
    ) {
        self.check_queue_ref(store, phys, &QueueRef::of_record(m), issues, warnings)
    }

    /// [`CqSet::check_message`] on the coordinates [`Store::scan_light`] yields.
    pub fn check_queue_ref(
        &self,
        store: &Store,
        phys: u64,
        m: &QueueRef,
        issues: &mut Vec<Issue>,
        warnings: &mut Vec<Issue>,
    ) {
        // No queues (e.g. a bare commitlog): skip the per-message key allocation below.
        if !m.dispatched || m.queue_offset < 0 || self.queues.is_empty() {
            return;
        }
        let Some(q) = self.queues.get(&(m.topic.to_string(), m.queue_id)) else {
            return;
        };
        let qo = m.queue_offset as u64;
        let byte = qo.saturating_mul(CQ_UNIT_SIZE);
        if byte < q.files().min_offset() {
            return; // older CQ files deleted
        }
        match q.get(qo) {
            Some(e) if e.physical_offset == phys as i64 => {}
            Some(e) if !e.is_valid() || (e.physical_offset == 0 && e.size == 0) => warnings.push(Issue {
                file: String::new(),
                offset: phys,
                error: format!("message {}/{}#{} has no consume queue unit yet", m.topic, m.queue_id, qo),
            }),
            Some(e) => {
                let f = q.files().find(byte).expect("get() found it");
                issues.push(store.issue(
                    f.path(),
                    byte - f.file_from_offset(),
                    format!("unit for queue offset {qo} points to {} but the message is at {phys}", e.physical_offset),
                ));
            }
            None => warnings.push(Issue {
                file: String::new(),
                offset: phys,
                error: format!("message {}/{}#{} is beyond the consume queue files", m.topic, m.queue_id, qo),
            }),
        }
    }

    /// Every CQ unit must point at a record with matching topic, queue id,
    /// queue offset, size and tags code.
    pub fn check_units(&self, store: &Store, min: u64, max: u64, counts: &mut CheckCounts, issues: &mut Vec<Issue>) {
        let delay = delay_levels(store);
        let mut keys: Vec<&(String, i32)> = self.queues.keys().collect();
        keys.sort();
        for k in keys {
            let q = &self.queues[k];
            counts.consume_queues += 1;
            let (entries, cq_issues) = q.read_all();
            for i in cq_issues {
                issues.push(store.issue(&i.path, i.offset, i.message));
            }
            for e in entries {
                counts.cq_entries += 1;
                if let Some(err) = check_unit(store, q, &e, min, max, &delay) {
                    let byte = e.queue_offset * CQ_UNIT_SIZE;
                    let f = q.files().find(byte).expect("unit was read from a file");
                    issues.push(store.issue(f.path(), byte - f.file_from_offset(), err));
                }
            }
        }
    }
}

fn delay_levels(store: &Store) -> Vec<i64> {
    store.dir.config().cloned().unwrap_or_default().delay_levels_ms()
}

fn check_unit(store: &Store, q: &ConsumeQueue, e: &CqEntry, min: u64, max: u64, delay: &[i64]) -> Option<String> {
    if e.is_placeholder() {
        return None;
    }
    let phys = e.physical_offset as u64;
    if phys < min {
        return None; // commitlog file already deleted
    }
    if phys + e.size as u64 > max {
        return Some(format!(
            "unit {} points to {}+{} beyond the end of the commitlog ({max})",
            e.queue_offset, phys, e.size
        ));
    }
    let m = match store.read_message(phys) {
        Ok(m) => m,
        Err(err) => {
            return Some(format!("unit {} points to {phys}, which is not a valid message: {err}", e.queue_offset))
        }
    };
    let lmq = q.topic().starts_with(LMQ_PREFIX);
    if lmq {
        let ok = m.property(PROPERTY_INNER_MULTI_DISPATCH).is_some_and(|v| v.split(',').any(|t| t == q.topic()));
        if !ok {
            return Some(format!(
                "unit {} points to {phys}, a message not dispatched to {}",
                e.queue_offset,
                q.topic()
            ));
        }
    } else if m.topic != q.topic() || m.queue_id != q.queue_id() || m.queue_offset != e.queue_offset as i64 {
        return Some(format!(
            "unit {} points to {phys} holding {}/{}#{} instead of {}/{}#{}",
            e.queue_offset,
            m.topic,
            m.queue_id,
            m.queue_offset,
            q.topic(),
            q.queue_id(),
            e.queue_offset
        ));
    }
    if m.total_size != e.size {
        return Some(format!("unit {} size {} != record TOTALSIZE {}", e.queue_offset, e.size, m.total_size));
    }
    if !lmq && !e.has_ext_addr() {
        let want = expected_tags_code(&m, delay);
        if want != e.tags_code {
            return Some(format!("unit {} tagsCode {} != expected {want}", e.queue_offset, e.tags_code));
        }
    }
    None
}

/// Index files: entries reachable from their hash slot, pointing at a record
/// carrying a key with the stored hash.
pub fn check_index(store: &Store, min: u64, max: u64, counts: &mut CheckCounts, issues: &mut Vec<Issue>) {
    let (slots, num) = store.dir.index_geometry();
    let files = match list_index_files(&store.dir.index_dir()) {
        Ok(f) => f,
        Err(e) => {
            issues.push(store.issue_from(&e));
            return;
        }
    };
    for p in files {
        counts.index_files += 1;
        let f = match IndexFile::open(&p, slots, num) {
            Ok(f) => f,
            Err(e) => {
                issues.push(store.issue_from(&e));
                continue;
            }
        };
        check_index_file(store, &f, min, max, counts, issues);
    }
}

fn check_index_file(
    store: &Store,
    f: &IndexFile,
    min: u64,
    max: u64,
    counts: &mut CheckCounts,
    issues: &mut Vec<Issue>,
) {
    let h = f.header();
    if h.index_count < 1 || h.index_count as u64 > f.index_num() as u64 {
        issues.push(store.issue(f.path(), 36, format!("indexCount {} outside 1..={}", h.index_count, f.index_num())));
        return;
    }
    let count = f.used_entries();
    let mut reached = vec![false; count as usize];
    for s in 0..f.hash_slot_num() {
        let slot_pos = 40 + s as u64 * 4;
        let head = f.slot(s).unwrap_or(0);
        if head < 0 || head >= count as i32 {
            issues.push(store.issue(
                f.path(),
                slot_pos,
                format!("slot {s} points to entry {head} (indexCount {count})"),
            ));
            continue;
        }
        let mut cur = head;
        while cur > 0 {
            let c = cur as usize;
            if reached[c] {
                issues.push(store.issue(
                    f.path(),
                    f.entry_pos(c as u32),
                    format!("entry {c} reached twice (chain loop or shared tail)"),
                ));
                break;
            }
            reached[c] = true;
            let Some(e) = f.entry(cur as u32) else { break };
            if e.key_hash < 0 || (e.key_hash as u32) % f.hash_slot_num() != s {
                issues.push(store.issue(
                    f.path(),
                    f.entry_pos(c as u32),
                    format!("entry {c} with key hash {} is chained in slot {s}", e.key_hash),
                ));
            }
            if e.prev_index < 0 || e.prev_index >= cur {
                if e.prev_index != 0 {
                    issues.push(store.issue(
                        f.path(),
                        f.entry_pos(c as u32) + 16,
                        format!("entry {c} has bad previous entry {}", e.prev_index),
                    ));
                }
                break;
            }
            cur = e.prev_index;
        }
    }
    for e in f.entries() {
        counts.index_entries += 1;
        let pos = f.entry_pos(e.index_no);
        if !reached[e.index_no as usize] {
            issues.push(store.issue(
                f.path(),
                pos,
                format!("entry {} is not reachable from its hash slot", e.index_no),
            ));
        }
        if e.phy_offset < 0 || (e.phy_offset as u64) < min {
            continue;
        }
        if e.phy_offset as u64 >= max {
            issues.push(store.issue(
                f.path(),
                pos,
                format!("entry {} points to {} beyond the end of the commitlog ({max})", e.index_no, e.phy_offset),
            ));
            continue;
        }
        match store.read_message(e.phy_offset as u64) {
            Ok(m) => {
                if !m.index_keys().iter().any(|k| key_hash(k) == e.key_hash) {
                    issues.push(store.issue(
                        f.path(),
                        pos,
                        format!(
                            "entry {} key hash {} matches no key of the message at {}",
                            e.index_no, e.key_hash, e.phy_offset
                        ),
                    ));
                }
            }
            Err(err) => issues.push(store.issue(
                f.path(),
                pos,
                format!("entry {} points to {}, which is not a valid message: {err}", e.index_no, e.phy_offset),
            )),
        }
    }
}
