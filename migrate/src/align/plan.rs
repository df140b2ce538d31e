//! Classifying two logs and planning the fix, writing nothing.
//!
//! After the fix the slave's commitlog is the master's `[min, master_max)`,
//! whatever the status: behind → the master's missing records are copied;
//! ahead → the slave is cut at the common prefix; forked → cut, then copied.
//! Either way its derived files are then brought in line by Java's recovery.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rmq_store::dispatch::JavaVersion;
use rmq_store::mapped_file::offset_to_file_name;
use rmq_store::record::{RecordView, TRANSACTION_TYPE_MASK};
use serde::{Deserialize, Serialize};

use super::epoch::{self, EpochEntry};
use super::error::{AlignError, Result};
use super::log::{cq_hints, End, Log};
use super::offsets::{self, Clamp};
use super::prefix::{common_prefix, recompare, Search};
use super::removed::{collect, cut_files, lowest_per_queue, RemovedMessage};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Aligned,
    SlaveBehind,
    SlaveAhead,
    Forked,
}

impl Status {
    /// The name used in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Aligned => "aligned",
            Status::SlaveBehind => "slave_behind",
            Status::SlaveAhead => "slave_ahead",
            Status::Forked => "forked",
        }
    }
}

/// One step of the fix. Paths are informational: applying recomputes them
/// from the offsets, so a re-run after a crash does the same thing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// Save the slave's bytes from `from` on and list its messages.
    SaveRemoved { from: u64, to: u64, messages: usize },
    /// Cut the slave's commitlog at `at`: zero the rest of the file holding
    /// it (or delete that file with `drop_file_at`), delete later files.
    Truncate { at: u64, zero: Option<PathBuf>, drop_file_at: bool, delete: Vec<PathBuf> },
    /// Copy the master's bytes `[from, to)` into the same offsets of the slave.
    Copy { from: u64, to: u64, messages: u64, create: Vec<PathBuf> },
    /// Java's recovery on the slave: consume queues, index and checkpoint.
    FixDerived { end: u64 },
    /// Clamp consumer/delay offsets past each queue's new end (expected changes).
    ClampOffsets { expected: Vec<Clamp> },
    /// Rewrite the slave's epochFileCheckpoint.
    RewriteEpoch { entries: Vec<EpochEntry> },
}

#[derive(Debug, Serialize)]
pub struct Plan {
    pub status: Status,
    pub common_prefix: u64,
    pub master_min: u64,
    pub master_max: u64,
    pub slave_min: u64,
    pub slave_max: u64,
    pub master_end: End,
    pub slave_end: End,
    pub search: Search,
    /// The slave's messages past the common prefix.
    pub removed: Vec<RemovedMessage>,
    /// The master's messages the slave gets.
    pub copied_messages: u64,
    pub steps: Vec<Step>,
    /// Bytes read on both sides to plan (the work done).
    pub examined_bytes: u64,
}

impl Plan {
    /// Bytes the slave lacks (behind) or has too many (ahead); for a fork,
    /// the slave's bytes past the common prefix.
    pub fn divergence(&self) -> u64 {
        match self.status {
            Status::Aligned => 0,
            Status::SlaveBehind => self.master_max - self.slave_max.max(self.master_min),
            Status::SlaveAhead | Status::Forked => self.slave_max - self.common_prefix,
        }
    }
}

/// Per-queue highest queue offset among the master's messages in `[from, to)`;
/// returns it with the message count and where the walk stopped.
fn copied(master: &Log, from: u64, to: u64) -> (BTreeMap<(String, i32), i64>, u64, u64) {
    let mut high: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut n = 0;
    let (stop, _) = master.walk(from, to, &mut |p, size| {
        n += 1;
        if let Ok(v) = RecordView::parse(master.bytes(p, size)) {
            if matches!(v.sys_flag & TRANSACTION_TYPE_MASK, 0x0 | 0x8) {
                let e = high.entry((v.topic.to_string(), v.queue_id)).or_insert(v.queue_offset);
                *e = (*e).max(v.queue_offset);
            }
        }
    });
    (high, n, stop)
}

/// Where the slave's new commitlog file for `start` goes (Java's multi-path
/// rule: sorted paths, file index modulo their count).
pub(crate) fn new_file_path(dirs: &[PathBuf], file_size: u64, start: u64) -> PathBuf {
    let mut sorted: Vec<&PathBuf> = dirs.iter().collect();
    sorted.sort();
    let idx = (start / file_size.max(1)) as usize % sorted.len().max(1);
    sorted.get(idx).map(|d| d.join(offset_to_file_name(start))).unwrap_or_else(|| offset_to_file_name(start).into())
}

fn check_geometry(master: &Log, slave: &Log) -> Result<u64> {
    let m = master.file_size();
    let s_conf = slave.dir.commitlog_file_size();
    let s = if slave.files().is_empty() { s_conf.unwrap_or(m) } else { slave.file_size() };
    if m != s && !master.files().is_empty() {
        return Err(AlignError::layout(
            slave.dir.root(),
            format!("commitlog file size {s} differs from the master's {m}; offsets only line up with equal mappedFileSizeCommitLog"),
        ));
    }
    for f in slave.files() {
        if f.len() != s {
            return Err(AlignError::layout(
                f.path(),
                format!("length {} differs from the commitlog file size {s}", f.len()),
            ));
        }
    }
    Ok(s)
}

/// Plans the fix of `slave` against `master`.
pub(crate) fn plan(master: &Log, slave: &Log, slave_java: JavaVersion) -> Result<Plan> {
    let file_size = check_geometry(master, slave)?;
    let me = master.end(&cq_hints(&master.dir)?);
    let se = slave.end(&cq_hints(&slave.dir)?);
    let (a, b) = (me.offset, se.offset);
    let (m_data, s_data) = (me.last_message.is_some(), se.last_message.is_some());
    let (mut x, mut search) = match (m_data, s_data) {
        (false, false) => (a.min(b), Search::default()),
        (false, true) => {
            return Err(AlignError::Unalignable(format!(
                "the master ({}) holds no messages; refusing to remove every message of the slave",
                master.dir.root().display()
            )))
        }
        (true, false) if b > a => {
            return Err(AlignError::Unalignable(format!(
                "the slave's commitlog starts at {b}, past the master's end {a}"
            )))
        }
        (true, false) => (b, Search::default()),
        (true, true) if b < master.min_offset() => {
            return Err(AlignError::Unalignable(format!(
                "the slave ends at {b} but the master's commitlog starts at {}: the master no longer holds what the slave lacks",
                master.min_offset()
            )))
        }
        (true, true) => common_prefix(master, &me, slave, &se)?,
    };
    let copy_from = |x: u64| x.max(master.min_offset());
    let mut removed = collect(slave, x, b);
    let mut cp = copied(master, copy_from(x), a);
    if s_data && m_data && (removed.1 != b || cp.2 != a) {
        tracing::warn!("align: the tail walks did not land on the ends; comparing every record instead");
        (x, search) = recompare(master, slave, a.min(b));
        removed = collect(slave, x, b);
        cp = copied(master, copy_from(x), a);
    }
    if removed.1 != b.max(x) {
        return Err(AlignError::inconsistent(
            slave.dir.root(),
            removed.1,
            "the slave's records after the common prefix do not reach its end",
        ));
    }
    if cp.2 != a.max(copy_from(x)) {
        return Err(AlignError::inconsistent(
            master.dir.root(),
            cp.2,
            "the master's records after the common prefix do not reach its end",
        ));
    }
    let (removed, (high, copied_messages, _)) = (removed.0, cp);
    let status = match (m_data || s_data, x == a, x == b) {
        (false, ..) | (true, true, true) => Status::Aligned,
        (_, false, true) => Status::SlaveBehind,
        (_, true, false) => Status::SlaveAhead,
        (_, false, false) => Status::Forked,
    };
    let mut steps = Vec::new();
    if status != Status::Aligned {
        let from = copy_from(x);
        let drop_file_at = from >= (x / file_size.max(1) + 1) * file_size.max(1);
        let cut = cut_files(slave.dir.commitlog_dirs(), file_size, x, drop_file_at)?;
        let dirty = slave.bytes(x, 8).iter().any(|v| *v != 0);
        if matches!(status, Status::SlaveAhead | Status::Forked) || dirty || cut.iter().any(|c| c.2) {
            steps.push(Step::SaveRemoved { from: x, to: b.max(x), messages: removed.len() });
            steps.push(Step::Truncate {
                at: x,
                zero: cut.iter().find(|c| !c.2).map(|c| c.1.clone()),
                drop_file_at,
                delete: cut.iter().filter(|c| c.2).map(|c| c.1.clone()).collect(),
            });
        }
        if a > from {
            if steps.iter().any(|s| matches!(s, Step::Truncate { .. })) {
                // the slave's consume queues and index still point at the records just cut;
                // recovery drops what lies past the cut only while the cut is the end
                steps.push(Step::FixDerived { end: x });
            }
            let mut create = Vec::new();
            let mut s = from / file_size * file_size;
            while s < a {
                // the file holding the cut stays; every other file from there on is (re)created
                if !cut.iter().any(|c| c.0 == s && !c.2) {
                    create.push(new_file_path(slave.dir.commitlog_dirs(), file_size, s));
                }
                s += file_size;
            }
            steps.push(Step::Copy { from, to: a, messages: copied_messages, create });
        }
        steps.push(Step::FixDerived { end: a });
        let low = lowest_per_queue(&removed);
        let max = |t: &str, q: i32, now: i64| {
            let k = (t.to_string(), q);
            let mut m = now;
            if let Some(l) = low.get(&k) {
                m = m.min(*l);
            }
            if let Some(h) = high.get(&k) {
                m = m.max(h + 1);
            }
            m
        };
        steps.push(Step::ClampOffsets { expected: offsets::predict(&slave.dir, slave_java, &max)? });
        if let Some(entries) = epoch_target(master.dir.root(), slave.dir.root(), a)? {
            steps.push(Step::RewriteEpoch { entries });
        }
    }
    Ok(Plan {
        status,
        common_prefix: x,
        master_min: master.min_offset(),
        master_max: a,
        slave_min: slave.min_offset(),
        slave_max: b,
        master_end: me,
        slave_end: se,
        search,
        removed,
        copied_messages,
        steps,
        examined_bytes: master.examined() + slave.examined(),
    })
}

/// The slave's new epoch entries when its log will end at `end`, if they change.
pub(crate) fn epoch_target(master_root: &Path, slave_root: &Path, end: u64) -> Result<Option<Vec<EpochEntry>>> {
    let Some(current) = epoch::read(slave_root)? else {
        return Ok(None);
    };
    let master = epoch::read(master_root)?;
    let target = epoch::target(&current, master.as_deref(), end);
    Ok((target != current).then_some(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_go_round_robin_over_the_sorted_commitlog_paths() {
        let dirs = [PathBuf::from("/d/b"), PathBuf::from("/d/a")];
        let at = |start| new_file_path(&dirs, 100, start);
        assert_eq!(at(0), PathBuf::from("/d/a/00000000000000000000"));
        assert_eq!(at(100), PathBuf::from("/d/b/00000000000000000100"));
        assert_eq!(at(200), PathBuf::from("/d/a/00000000000000000200"));
        assert_eq!(new_file_path(&dirs[..1], 100, 300), PathBuf::from("/d/b/00000000000000000300"));
    }
}
