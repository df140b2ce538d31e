//! Carrying out a [`RecoveryPlan`]. Steps run in an order that keeps every
//! intermediate state recoverable by planning again: consume queues and
//! commitlog first, then the index, the dispatch, the checkpoint, and the
//! `abort` file last (while it exists a re-run follows the abnormal rules
//! with the same start file, so it reaches the same end).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::RecoveryPlan;
use crate::dispatch::cq_writer::write_all_at;
use crate::dispatch::{dispatch_range, DispatchStats, Dispatcher, IndexState, RangeEnd};
use crate::error::{Result, StoreError};
use crate::index::{HASH_SLOT_SIZE, INDEX_ENTRY_SIZE, INDEX_HEADER_SIZE};
use crate::store_dir::StoreDir;
use crate::Checkpoint;

/// One unit of work.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Overwrite bytes `[from, to)` with zeros.
    Zero {
        path: PathBuf,
        from: u64,
        to: u64,
    },
    Delete {
        path: PathBuf,
    },
    /// Apply `plan.index.rewrites[n]`.
    RewriteIndex {
        path: PathBuf,
        n: usize,
    },
    /// Dispatch records in `[from, to)` to consume queues and index.
    Dispatch {
        from: u64,
        to: u64,
    },
    WriteCheckpoint {
        path: PathBuf,
    },
    RemoveAbort {
        path: PathBuf,
    },
}

impl Step {
    /// The step's kind, as its `step` field in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Zero { .. } => "zero",
            Step::Delete { .. } => "delete",
            Step::RewriteIndex { .. } => "rewrite_index",
            Step::Dispatch { .. } => "dispatch",
            Step::WriteCheckpoint { .. } => "write_checkpoint",
            Step::RemoveAbort { .. } => "remove_abort",
        }
    }
}

impl RecoveryPlan {
    /// The steps [`apply`] runs, in order.
    pub fn steps(&self) -> Vec<Step> {
        let mut v = Vec::new();
        let zero = |z: &super::ZeroRange| Step::Zero { path: z.path.clone(), from: z.from, to: z.to };
        for q in &self.queues {
            v.extend(q.zero.iter().map(zero));
            v.extend(q.delete_files.iter().map(|p| Step::Delete { path: p.clone() }));
        }
        v.extend(self.commitlog.zero.iter().map(zero));
        // newest first: an interrupted run never leaves a hole in the file list
        v.extend(self.commitlog.delete_files.iter().rev().map(|p| Step::Delete { path: p.clone() }));
        v.extend(self.index.deletions.iter().rev().map(|d| Step::Delete { path: d.path.clone() }));
        v.extend(self.index.rewrites.iter().enumerate().map(|(n, r)| Step::RewriteIndex { path: r.path.clone(), n }));
        if let Some(d) = self.dispatch.as_ref().filter(|d| d.writes()) {
            v.push(Step::Dispatch { from: d.from, to: d.to });
        }
        if self.checkpoint.write {
            v.push(Step::WriteCheckpoint { path: self.checkpoint.path.clone() });
        }
        if self.remove_abort {
            v.push(Step::RemoveAbort { path: self.root.join("abort") });
        }
        v
    }
}

/// What [`apply`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyOutcome {
    pub steps_done: usize,
    /// The hook stopped the run (tests simulate crashes this way).
    pub interrupted: bool,
    pub dispatch: Option<DispatchStats>,
    pub checkpoint: Option<Checkpoint>,
    pub warnings: Vec<String>,
}

fn zero_range(path: &Path, from: u64, to: u64) -> Result<()> {
    let f = OpenOptions::new().write(true).open(path).map_err(|e| StoreError::io(path, e))?;
    let chunk = vec![0u8; (1 << 20).min((to - from) as usize)];
    let mut at = from;
    while at < to {
        let n = chunk.len().min((to - at) as usize);
        write_all_at(&f, &chunk[..n], at).map_err(|e| StoreError::io(path, e))?;
        at += n as u64;
    }
    f.sync_data().map_err(|e| StoreError::io(path, e))
}

fn delete(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

fn rewrite_index(plan: &RecoveryPlan, n: usize) -> Result<()> {
    let r = &plan.index.rewrites[n];
    let geom = plan.index.geometry.expect("index plans with rewrites have a geometry");
    let f = OpenOptions::new().write(true).open(&r.path).map_err(|e| StoreError::io(&r.path, e))?;
    let io = |e| StoreError::io(&r.path, e);
    for (slot, value) in &r.slot_fixes {
        write_all_at(&f, &value.to_be_bytes(), INDEX_HEADER_SIZE + *slot as u64 * HASH_SLOT_SIZE).map_err(io)?;
    }
    if let Some((a, b)) = r.zero_entries {
        let base = INDEX_HEADER_SIZE + geom.hash_slot_num as u64 * HASH_SLOT_SIZE;
        drop(f);
        zero_range(&r.path, base + a as u64 * INDEX_ENTRY_SIZE, base + b as u64 * INDEX_ENTRY_SIZE)?;
    }
    let f = OpenOptions::new().write(true).open(&r.path).map_err(io)?;
    let h = r.new_header;
    let mut b = Vec::with_capacity(40);
    b.extend_from_slice(&h.begin_timestamp.to_be_bytes());
    b.extend_from_slice(&h.end_timestamp.to_be_bytes());
    b.extend_from_slice(&h.begin_phy_offset.to_be_bytes());
    b.extend_from_slice(&h.end_phy_offset.to_be_bytes());
    b.extend_from_slice(&h.hash_slot_count.to_be_bytes());
    b.extend_from_slice(&h.index_count.to_be_bytes());
    write_all_at(&f, &b, 0).map_err(io)?;
    f.sync_data().map_err(io)
}

fn write_checkpoint(path: &Path, cp: &Checkpoint, bytes: usize) -> Result<()> {
    let f =
        OpenOptions::new().write(true).create(true).truncate(false).open(path).map_err(|e| StoreError::io(path, e))?;
    let len = f.metadata().map_err(|e| StoreError::io(path, e))?.len();
    if len < crate::checkpoint::CHECKPOINT_FILE_SIZE {
        f.set_len(crate::checkpoint::CHECKPOINT_FILE_SIZE).map_err(|e| StoreError::io(path, e))?;
    }
    write_all_at(&f, &cp.to_bytes()[..bytes], 0).map_err(|e| StoreError::io(path, e))?;
    f.sync_data().map_err(|e| StoreError::io(path, e))
}

/// Runs the plan's steps on `dir`. `hook(step, offset)` is called before each
/// step (offset None) and before each dispatched record (offset = its
/// position); returning false stops there as if the process had died.
pub fn apply(
    plan: &RecoveryPlan,
    dir: &StoreDir,
    progress: &mut dyn FnMut(&str, u64, u64),
    hook: &mut dyn FnMut(&Step, Option<u64>) -> bool,
) -> Result<ApplyOutcome> {
    let mut out = ApplyOutcome::default();
    let mut checkpoint = plan.checkpoint.new;
    for step in plan.steps() {
        if !hook(&step, None) {
            out.interrupted = true;
            return Ok(out);
        }
        match &step {
            Step::Zero { path, from, to } => zero_range(path, *from, *to)?,
            Step::Delete { path } => delete(path)?,
            Step::RewriteIndex { n, .. } => rewrite_index(plan, *n)?,
            Step::Dispatch { from, to } => {
                let cl = dir.open_commitlog()?;
                let index_state = match &plan.target.index_dir {
                    Some(d) => IndexState::from_disk(d, plan.target.index_geometry)?,
                    None => IndexState::default(),
                };
                let mut d = Dispatcher::new(plan.target.clone(), plan.tails.clone(), index_state, false)?;
                let total = to - from;
                let mut prog = |b: u64| progress(super::PHASE_DISPATCH, b.min(total), total);
                let mut h = |o: u64| hook(&step, Some(o));
                match dispatch_range(&cl, *from, *to, &plan.dispatch_rules, &mut d, &mut prog, &mut h)? {
                    RangeEnd::Interrupted { .. } => {
                        out.interrupted = true;
                        return Ok(out);
                    }
                    RangeEnd::Invalid { offset, path, reason } => {
                        out.warnings.push(format!("{} @ {offset}: dispatch stopped early: {reason}", path.display()));
                    }
                    RangeEnd::Done => {}
                }
                let stats = d.finish()?;
                // what was really written decides the checkpoint
                if let Some((_, ts)) = stats.last_cq_record {
                    let prev = plan.dispatch.as_ref().and_then(|p| p.stats.last_cq_record);
                    if prev.is_none_or(|(o, _)| stats.last_cq_record.is_some_and(|(n, _)| n >= o)) {
                        checkpoint.logics_msg_timestamp = ts;
                    }
                }
                if plan.target.index_dir.is_some() {
                    checkpoint.index_msg_timestamp = stats.index_last_full_end_timestamp;
                }
                out.dispatch = Some(stats);
            }
            Step::WriteCheckpoint { path } => {
                write_checkpoint(path, &checkpoint, plan.checkpoint.bytes)?;
                out.checkpoint = Some(checkpoint);
            }
            Step::RemoveAbort { path } => delete(path)?,
        }
        out.steps_done += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_are_the_json_tags() {
        let p = PathBuf::from("x");
        let steps = [
            Step::Zero { path: p.clone(), from: 0, to: 1 },
            Step::Delete { path: p.clone() },
            Step::RewriteIndex { path: p.clone(), n: 0 },
            Step::Dispatch { from: 0, to: 1 },
            Step::WriteCheckpoint { path: p.clone() },
            Step::RemoveAbort { path: p },
        ];
        for s in steps {
            assert_eq!(serde_json::to_value(&s).unwrap()["step"], s.name());
        }
    }
}
