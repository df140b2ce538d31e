//! Java's recovery on open (`DefaultMessageStore.load` → `recover`), split
//! into [`plan`] (what would change, nothing written) and [`apply`].
//!
//! Order, as in Java: recover every consume queue (`ConsumeQueue#recover`),
//! take the max physical offset they reach, scan the commitlog from the start
//! file of the normal (no `abort` file) or abnormal rules of 4.9.8 or 5.3.3,
//! truncate the commitlog to the last valid record, truncate consume queues
//! past it (`truncateDirtyLogicFiles`), then dispatch what Java would dispatch
//! during recovery and from its reput thread at start.
//!
//! Applying leaves the store as Java would after recovering and shutting
//! down cleanly: tails zeroed (Java only moves its write positions), later
//! files deleted, index entries past the end removed, missing consume-queue
//! and index entries written, checkpoint consistent, `abort` removed. Every
//! step is idempotent and the plan is recomputed from the files, so a run
//! interrupted at any point can simply be run again (a checkpoint left stale
//! by a run killed just before writing it is itself a change to apply).
//!
//! Differences from Java, all on purpose: dirty bytes are zeroed; index
//! entries past the end are removed; the dispatch also starts at the end of
//! the index (Java can leave an index gap after deleting index files), and
//! keys of a message already in the index are not added twice; an empty last
//! consume-queue file is not kept as a zero entry (see `cq.rs`).

mod apply;
mod cq;
mod index;
mod scan;
mod zeros;

use std::collections::HashMap;
use std::path::PathBuf;

pub use apply::{apply, ApplyOutcome, Step};
pub use cq::{DroppedEntry, QueuePlan, ZeroRange};
pub use index::{IndexDeletion, IndexPlan, IndexRewrite};
pub use scan::ScanEnd;
pub use zeros::{last_nonzero, last_nonzero_in};

use crate::checkpoint::Checkpoint;
use crate::consume_queue::list_queues;
use crate::dispatch::{
    dispatch_range, index_enabled, store_geometry, CheckRules, CqTail, DispatchStats, DispatchTarget, Dispatcher,
    JavaVersion,
};
use crate::error::{Result, StoreError};
use crate::mapped_file::CommitLog;
use crate::store_dir::{LayoutKind, StoreDir};

/// Choices not taken from the store.
#[derive(Clone, Debug, Default)]
pub struct RecoveryOptions {
    /// Whose rules apply; detected from the store when `None`.
    pub java: Option<JavaVersion>,
    /// Overrides `checkCRCOnRecover`.
    pub check_crc: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryMode {
    /// No `abort` file: the broker stopped cleanly.
    Normal,
    /// `abort` present: the broker did not stop cleanly.
    Abnormal,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CommitlogPlan {
    pub files: usize,
    pub min_offset: u64,
    pub scan_start_offset: u64,
    pub scan_start_file: Option<PathBuf>,
    pub messages_scanned: u64,
    /// Java's `processOffset`: everything from here on is dropped.
    pub last_valid_offset: u64,
    pub end: ScanEnd,
    pub zero: Option<ZeroRange>,
    pub delete_files: Vec<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DispatchPlan {
    pub from: u64,
    pub to: u64,
    /// What the dispatch would write (a dry run).
    pub stats: DispatchStats,
}

impl DispatchPlan {
    pub fn writes(&self) -> bool {
        self.stats.cq_entries_written > 0
            || self.stats.index_keys_added > 0
            || !self.stats.index_files_created.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointPlan {
    pub path: PathBuf,
    pub old: Checkpoint,
    pub new: Checkpoint,
    pub write: bool,
    /// 24 (4.9.8 writes three longs) or 40 bytes.
    pub bytes: usize,
}

/// Everything recovery would do to a store.
#[derive(Debug, serde::Serialize)]
pub struct RecoveryPlan {
    pub root: PathBuf,
    pub java: JavaVersion,
    pub java_detected_from: String,
    pub mode: RecoveryMode,
    pub check_crc: bool,
    /// `maxPhyOffsetOfConsumeQueue` after recovering the consume queues.
    pub max_cq_phy_offset: i64,
    pub commitlog: CommitlogPlan,
    /// Queues whose files change.
    pub queues: Vec<QueuePlan>,
    pub queues_total: usize,
    pub index: IndexPlan,
    pub dispatch: Option<DispatchPlan>,
    pub checkpoint: CheckpointPlan,
    pub remove_abort: bool,
    pub warnings: Vec<String>,
    #[serde(skip)]
    tails: HashMap<(String, i32), CqTail>,
    #[serde(skip)]
    target: DispatchTarget,
    #[serde(skip)]
    dispatch_rules: CheckRules,
}

impl RecoveryPlan {
    /// Whether applying would change nothing.
    pub fn is_noop(&self) -> bool {
        self.commitlog.zero.is_none()
            && self.commitlog.delete_files.is_empty()
            && self.queues.is_empty()
            && !self.index.changes_files()
            && !self.dispatch.as_ref().is_some_and(DispatchPlan::writes)
            && !self.checkpoint.write
            && !self.remove_abort
    }

    /// Consume-queue entries dropped in total.
    pub fn dropped_cq_entries(&self) -> u64 {
        self.queues.iter().map(|q| q.dropped).sum()
    }

    /// Existing files applying would modify or delete (what a backup needs).
    pub fn files_to_modify(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = Vec::new();
        v.extend(self.commitlog.zero.iter().map(|z| z.path.clone()));
        v.extend(self.commitlog.delete_files.iter().cloned());
        for q in &self.queues {
            v.extend(q.zero.iter().map(|z| z.path.clone()));
            v.extend(q.delete_files.iter().cloned());
        }
        v.extend(self.index.deletions.iter().map(|d| d.path.clone()));
        v.extend(self.index.rewrites.iter().map(|r| r.path.clone()));
        if let Some(d) = self.dispatch.as_ref().filter(|d| d.writes()) {
            for (topic, qs) in &d.stats.queues {
                for (qid, _) in qs.iter().filter(|(_, s)| s.written > 0) {
                    if let Some(start) = self.tails.get(&(topic.clone(), *qid)).and_then(|t| t.last_file_start) {
                        let dir = self.target.cq_root.join(topic).join(qid.to_string());
                        v.push(dir.join(crate::mapped_file::offset_to_file_name(start)));
                    }
                }
            }
            if d.stats.index_keys_added > 0 {
                v.extend(self.index.state_after.last.iter().map(|(p, _)| p.clone()));
            }
        }
        if self.checkpoint.write && self.checkpoint.path.exists() {
            v.push(self.checkpoint.path.clone());
        }
        if self.remove_abort {
            v.push(self.root.join("abort"));
        }
        v.sort();
        v.dedup();
        v.retain(|p| p.exists());
        v
    }
}

/// Which Java release wrote the store: 5.x leaves files 4.9.8 never writes.
pub fn detect_java_version(dir: &StoreDir, cl: &CommitLog) -> (JavaVersion, String) {
    let root = dir.root();
    for f in ["abort.bak", "compaction", "epochFileCheckpoint", "brokerIdentity", "timerwheel"] {
        if root.join(f).exists() {
            return (JavaVersion::V5_3_3, format!("{f} exists (5.x only)"));
        }
    }
    if dir.abort_state().content.is_some() {
        return (JavaVersion::V5_3_3, "abort file holds a PID (5.x)".into());
    }
    if let Ok(b) = std::fs::read(dir.checkpoint_path()) {
        if b.get(24..40).is_some_and(|s| s.iter().any(|x| *x != 0)) {
            return (JavaVersion::V5_3_3, "checkpoint has masterFlushedOffset/confirmPhyOffset (5.x)".into());
        }
    }
    for f in cl.files() {
        if f.bytes().get(4..8) == Some(&crate::record::MESSAGE_MAGIC_CODE_V2.to_be_bytes()) {
            return (JavaVersion::V5_3_3, format!("{} starts with a V2 record", f.file_name()));
        }
    }
    (JavaVersion::V4_9_8, "no 5.x files or records found".into())
}

/// The checkpoint as Java sees it: missing or short files read as zeros
/// (Java maps a zero-filled page).
fn read_checkpoint(path: &std::path::Path) -> Result<Checkpoint> {
    let mut b = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    if b.len() < 40 {
        b.resize(40, 0);
    }
    Checkpoint::parse(&b, path)
}

/// Whether the checkpoint on disk disagrees with the files in a value Java
/// reads back on its next start: the three timestamps (they pick the start
/// file of an abnormal recovery and the index files it deletes) and, in
/// controller mode, confirmPhyOffset. A run killed after changing files but
/// before writing the checkpoint leaves exactly this, with nothing else left
/// to change. Outside controller mode Java sets confirmPhyOffset afresh on
/// every start (a clean Java store keeps the value of its last start), so a
/// difference there alone is no reason to write.
fn checkpoint_stale(old: &Checkpoint, new: &Checkpoint, controller: bool) -> bool {
    old.physic_msg_timestamp != new.physic_msg_timestamp
        || old.logics_msg_timestamp != new.logics_msg_timestamp
        || old.index_msg_timestamp != new.index_msg_timestamp
        || (controller && old.confirm_phy_offset.unwrap_or(0) != new.confirm_phy_offset.unwrap_or(0))
}

/// Phases reported through the progress callback.
pub const PHASE_CONSUME_QUEUES: &str = "consume queues";
pub const PHASE_COMMITLOG: &str = "commitlog";
pub const PHASE_DISPATCH: &str = "dispatch";

/// Computes what Java's recovery would do to `dir`, writing nothing.
/// `progress(phase, done, total)` reports work done.
pub fn plan(dir: &StoreDir, opts: &RecoveryOptions, progress: &mut dyn FnMut(&str, u64, u64)) -> Result<RecoveryPlan> {
    if dir.kind() == LayoutKind::DLedger {
        return Err(StoreError::layout(dir.root(), "DLedger stores are recovered by DLedger; not supported here"));
    }
    let cl = dir.open_commitlog()?;
    crate::dispatch::dispatcher::check_file_offsets(cl.files())?;
    let (java, java_detected_from) = match opts.java {
        Some(j) => (j, "given".to_string()),
        None => detect_java_version(dir, &cl),
    };
    let mut warnings = Vec::new();
    let file_size = cl.queue().file_size();
    let mut usable = cl.files().len();
    let mut empty_last = None;
    for (i, f) in cl.files().iter().enumerate() {
        if f.is_empty() && i + 1 == cl.files().len() {
            warnings.push(format!(
                "{}: empty last commitlog file deleted (5.x does; 4.9.8 refuses to load)",
                f.path().display()
            ));
            empty_last = Some(f.path().to_path_buf());
            usable -= 1;
        } else if f.len() != file_size {
            return Err(StoreError::layout(
                f.path(),
                format!("commitlog file length {} differs from mappedFileSizeCommitLog {file_size}; Java refuses to load it", f.len()),
            ));
        } else if i > 0 && f.file_from_offset() != cl.files()[i - 1].file_from_offset().saturating_add(file_size) {
            warnings.push(format!("{}: not adjacent to the previous commitlog file", f.path().display()));
        }
    }
    let abort = dir.abort_state().present;
    let mode = if abort { RecoveryMode::Abnormal } else { RecoveryMode::Normal };
    let mut rules = CheckRules::from_config(java, dir.config());
    if let Some(c) = opts.check_crc {
        rules.check_crc = c;
    }
    let dispatch_rules = CheckRules { check_crc: false, ..rules.clone() };
    let (cq_size, geom) = store_geometry(dir)?;
    let cfg_bool = |k: &str| dir.config().and_then(|c| c.get_bool(k));

    // 1. consume queues (ConsumeQueue#recover)
    let queue_list = list_queues(&dir.consume_queue_dir())?;
    let mut models = Vec::with_capacity(queue_list.len());
    for (i, (topic, qid, qdir)) in queue_list.iter().enumerate() {
        models.push(cq::QueueModel::recover(topic, *qid, qdir, cq_size)?);
        progress(PHASE_CONSUME_QUEUES, i as u64 + 1, queue_list.len() as u64);
    }
    let max_cq = models.iter().map(|m| m.max_physic_offset()).max().unwrap_or(-1);

    // 2. commitlog
    let checkpoint_path = dir.checkpoint_path();
    let cp = read_checkpoint(&checkpoint_path)?;
    let index_on = index_enabled(dir);
    let rule =
        scan::AbnormalRule { checkpoint: &cp, index_safe: index_on && cfg_bool("messageIndexSafe").unwrap_or(false) };
    let files = &cl.files()[..usable];
    let start = scan::start_index(&cl, usable, java, abort.then_some(&rule), max_cq);
    let total: u64 = files.iter().skip(start).map(|f| f.len()).sum();
    let sc = scan::scan(&cl, usable, start, &rules, &mut |d| progress(PHASE_COMMITLOG, d, total));
    let end = sc.end;
    let mut commitlog = CommitlogPlan {
        files: cl.files().len(),
        min_offset: files.first().map(|f| f.file_from_offset()).unwrap_or(0),
        scan_start_offset: files.get(start).map(|f| f.file_from_offset()).unwrap_or(0),
        scan_start_file: files.get(start).map(|f| f.path().to_path_buf()),
        messages_scanned: sc.messages,
        last_valid_offset: end,
        end: sc.stop.clone(),
        zero: None,
        delete_files: Vec::new(),
    };
    for f in files {
        let s = f.file_from_offset();
        if s > end {
            commitlog.delete_files.push(f.path().to_path_buf());
        } else if end < s + f.len() {
            let from = end - s;
            if let Some(last) = zeros::last_nonzero_in(f.path(), f.len(), from)? {
                commitlog.zero = Some(ZeroRange { path: f.path().to_path_buf(), from, to: last + 1 });
            }
        }
    }
    commitlog.delete_files.extend(empty_last);

    // 3. consume queues past the end (truncateDirtyLogicFiles); no files at all = destroyLogics
    let truncate_at = (files.is_empty() || max_cq >= end as i64).then_some(end);
    let mut queues = Vec::new();
    let mut tails = HashMap::new();
    let mut last_cq_offset: Option<i64> = None;
    for m in models {
        let q = m.finish(truncate_at)?;
        tails.insert((q.topic.clone(), q.queue_id), q.tail);
        last_cq_offset = last_cq_offset.max(q.last_entry_offset);
        if q.changes_files() {
            queues.push(q);
        }
    }

    // 4. index
    let ts_of = |o: i64| u64::try_from(o).ok().and_then(|o| scan::timestamp_at(&cl, o, &dispatch_rules));
    let index = if index_on {
        index::plan_index(&dir.index_dir(), geom, abort.then_some(cp.index_msg_timestamp), end, &ts_of)?
    } else {
        IndexPlan { enabled: false, ..IndexPlan::default() }
    };

    // 5. dispatch: abnormal recovery dispatches from its start file, the reput
    // thread from the consume queues' max; we also start at the index's end
    let min_offset = commitlog.min_offset;
    let reput =
        tails.values().map(|t| t.max_physic_offset).max().unwrap_or(-1).clamp(min_offset as i64, end as i64) as u64;
    let mut from = if abort { commitlog.scan_start_offset } else { reput };
    if let Some((_, h)) = &index.state_after.last {
        from = from.min((h.end_phy_offset.max(0) as u64).max(min_offset));
    }
    let target = DispatchTarget {
        cq_root: dir.consume_queue_dir(),
        cq_file_size: cq_size,
        index_dir: index_on.then(|| dir.index_dir()),
        index_geometry: geom,
    };
    let dispatch = if from < end && !files.is_empty() {
        let mut d = Dispatcher::new(target.clone(), tails.clone(), index.state_after.clone(), true)?;
        let total = end - from;
        let mut prog = |b: u64| progress(PHASE_DISPATCH, b.min(total), total);
        let r = dispatch_range(&cl, from, end, &dispatch_rules, &mut d, &mut prog, &mut |_| true)?;
        if let crate::dispatch::RangeEnd::Invalid { offset, path, reason } = r {
            warnings.push(format!("{} @ {offset}: dispatch stops early: {reason}", path.display()));
        }
        Some(DispatchPlan { from, to: end, stats: d.finish()? })
    } else {
        None
    };

    // 6. checkpoint
    let last_msg = sc.last_msg.or_else(|| scan::last_message_before(&cl, end, &dispatch_rules));
    let mut new = cp;
    if let Some((_, ts)) = last_msg {
        new.physic_msg_timestamp = ts;
    }
    let tail_ts = last_cq_offset.and_then(ts_of).map(|ts| (last_cq_offset.unwrap_or(-1), ts));
    let disp_last = dispatch.as_ref().and_then(|d| d.stats.last_cq_record);
    if let Some((_, ts)) = tail_ts.into_iter().chain(disp_last).max_by_key(|(o, _)| *o) {
        new.logics_msg_timestamp = ts;
    }
    if index_on {
        new.index_msg_timestamp = match &dispatch {
            Some(d) => d.stats.index_last_full_end_timestamp,
            None => index.state_after.last_full_end_timestamp,
        };
    }
    let bytes = if java == JavaVersion::V5_3_3 { 40 } else { 24 };
    let controller = java == JavaVersion::V5_3_3 && cfg_bool("enableControllerMode").unwrap_or(false);
    if java == JavaVersion::V5_3_3 {
        let old = cp.confirm_phy_offset.unwrap_or(0);
        new.confirm_phy_offset = Some(if controller {
            old.clamp(min_offset as i64, end as i64)
        } else {
            last_msg.map(|(o, _)| o as i64).unwrap_or(old)
        });
    }
    let changes = commitlog.zero.is_some()
        || !commitlog.delete_files.is_empty()
        || !queues.is_empty()
        || index.changes_files()
        || dispatch.as_ref().is_some_and(DispatchPlan::writes);
    let write = new != cp && (abort || changes || checkpoint_stale(&cp, &new, controller));
    let checkpoint = CheckpointPlan { path: checkpoint_path, old: cp, new, write, bytes };
    Ok(RecoveryPlan {
        root: dir.root().to_path_buf(),
        java,
        java_detected_from,
        mode,
        check_crc: rules.check_crc,
        max_cq_phy_offset: max_cq,
        commitlog,
        queues,
        queues_total: tails.len(),
        index,
        dispatch,
        checkpoint,
        remove_abort: abort,
        warnings,
        tails,
        target,
        dispatch_rules,
    })
}

/// Where valid records end when the commitlog is read from its first file
/// (what a rebuild dispatches up to): `(end, why, messages)`.
pub fn valid_end(cl: &CommitLog, rules: &CheckRules, progress: &mut dyn FnMut(u64)) -> (u64, ScanEnd, u64) {
    let s = scan::scan(cl, cl.files().len(), 0, rules, progress);
    (s.end, s.stop, s.messages)
}
