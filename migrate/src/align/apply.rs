//! `--apply`: the plan's steps, run through a journal in the slave's root
//! (`.rmq-align.journal`: the plan, the backup directory, how many steps are
//! done). The journal is written before the first change and removed after
//! the last; finding it means an earlier apply died, and running `--apply`
//! again finishes that plan (not a new one: a half-cut slave would look
//! aligned). Every step can be repeated: it recomputes what to touch from the
//! offsets in the plan, and the removed bytes are saved (and journaled) before
//! the cut starts.
//!
//! `RMQ_MIGRATE_CRASH_AT=<point>[:<n>]` aborts the process the n-th time (default
//! first) it reaches a point, for crash tests: `journal` (journal written,
//! nothing changed), `save` (removed bytes saved), `truncate` (tail zeroed, later
//! files not yet deleted), `copy` (after each copied chunk of 1 MiB),
//! `backup-derived` (derived files backed up), `recover` (each step and each
//! dispatched record of the recovery), `offsets` (consumerOffset.json written,
//! delayOffset.json not yet), `step` (after each step's work, before the journal
//! records it), `finish` (all done, journal not yet removed).

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use rmq_store::dispatch::JavaVersion;
use rmq_store::mapped_file::{list_mapped_files, MappedFile};
use rmq_store::recovery::{self, ApplyOutcome, RecoveryOptions};
use rmq_store::StoreDir;
use serde::{Deserialize, Serialize};

use super::epoch;
use super::error::{AlignError, Result};
use super::fsio::{last_nonzero, remove, replace_atomically, sync_dir, write_at, zero_range};
use super::log::{cq_hints, Log};
use super::offsets::{self, Clamp};
use super::plan::{new_file_path, Status, Step};
use super::removed::{self, collect, cut_files, RemovedReport};
use crate::backup;
use crate::recover::PhaseProgress;

pub const JOURNAL: &str = ".rmq-align.journal";
pub const CRASH_ENV: &str = "RMQ_MIGRATE_CRASH_AT";
const CHUNK: u64 = 1 << 20;

/// The plan being applied, as recorded in the slave's root.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Journal {
    pub master: PathBuf,
    pub master_commitlog_path: Option<String>,
    pub status: Status,
    pub common_prefix: u64,
    pub master_min: u64,
    pub master_max: u64,
    pub slave_min: u64,
    pub slave_max: u64,
    pub file_size: u64,
    pub steps: Vec<Step>,
    /// Where removed bytes and copies of changed files go.
    pub backup: Option<PathBuf>,
    /// Copy files before changing them (false with `--no-backup`).
    pub copy_files: bool,
    /// Steps finished.
    pub done: usize,
    /// Steps whose files were backed up (a re-run must not copy half-changed ones).
    pub backed_up: Vec<usize>,
}

impl Journal {
    pub fn path(slave_root: &Path) -> PathBuf {
        slave_root.join(JOURNAL)
    }

    pub fn read(slave_root: &Path) -> Result<Option<Journal>> {
        let p = Self::path(slave_root);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| AlignError::Journal {
                path: p,
                msg: format!("unreadable ({e}); remove it to start over"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AlignError::io(p, e)),
        }
    }

    pub fn write(&self, slave_root: &Path) -> Result<()> {
        replace_atomically(&Self::path(slave_root), &serde_json::to_vec_pretty(self).expect("serializable"))
    }
}

/// Test hook: abort at a named point (see the module doc).
pub(crate) struct Crash {
    target: Option<(String, u64)>,
    seen: HashMap<String, u64>,
}

impl Crash {
    pub fn from_env() -> Self {
        let target = std::env::var(CRASH_ENV).ok().map(|v| match v.split_once(':') {
            Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1)),
            None => (v, 1),
        });
        Crash { target, seen: HashMap::new() }
    }

    pub fn at(&mut self, point: &str) {
        let Some((p, n)) = &self.target else { return };
        if p != point {
            return;
        }
        let c = self.seen.entry(point.to_string()).or_default();
        *c += 1;
        if *c == *n {
            tracing::warn!("{CRASH_ENV}: aborting at {point}:{n}");
            std::process::abort();
        }
    }
}

/// What an apply did.
#[derive(Debug, Default, Serialize)]
pub struct Applied {
    /// Steps already done by an earlier, interrupted apply.
    pub resumed_after: usize,
    pub steps_done: usize,
    pub copied_bytes: u64,
    pub clamps: Vec<Clamp>,
    /// What each recovery pass did (one per FixDerived step that changed files).
    pub recovery: Vec<ApplyOutcome>,
    pub warnings: Vec<String>,
}

pub(crate) struct Ctx<'a> {
    pub master: &'a StoreDir,
    pub slave: &'a StoreDir,
    pub java: Option<JavaVersion>,
    pub slave_java: JavaVersion,
    pub progress: &'a mut PhaseProgress,
    pub crash: &'a mut Crash,
}

fn backup_files(j: &Journal, root: &Path, files: &[PathBuf]) -> Result<()> {
    match (&j.backup, j.copy_files) {
        (Some(dir), true) if !files.is_empty() => {
            backup::add(root, files, dir, "align --apply").map(|_| ()).map_err(AlignError::Backup)
        }
        _ => Ok(()),
    }
}

/// Runs the journal's remaining steps, recording each one.
pub(crate) fn apply(j: &mut Journal, ctx: &mut Ctx) -> Result<Applied> {
    let root = ctx.slave.root().to_path_buf();
    let mut out = Applied { resumed_after: j.done, ..Applied::default() };
    let steps = j.steps.clone();
    for (i, step) in steps.iter().enumerate().skip(j.done) {
        match step {
            Step::SaveRemoved { from, to, .. } => save_removed(j, ctx, *from, *to)?,
            Step::Truncate { at, drop_file_at, .. } => truncate(j, ctx, *at, *drop_file_at)?,
            Step::Copy { from, to, .. } => out.copied_bytes = copy(j, ctx, *from, *to)?,
            Step::FixDerived { .. } => {
                let (outcome, warnings) = fix_derived(j, ctx, i)?;
                out.recovery.extend(outcome);
                out.warnings.extend(warnings);
            }
            Step::ClampOffsets { .. } => {
                let crash = &mut *ctx.crash;
                out.clamps =
                    offsets::apply(ctx.slave, ctx.slave_java, &mut |files| backup_files(j, &root, files), &mut || {
                        crash.at("offsets")
                    })?;
            }
            Step::RewriteEpoch { entries } => {
                backup_files(j, &root, &[epoch::path(&root), epoch::bak_path(&root)])?;
                epoch::write(&root, entries)?;
            }
        }
        ctx.crash.at("step");
        j.done = i + 1;
        j.write(&root)?;
        out.steps_done += 1;
    }
    ctx.crash.at("finish");
    remove(&Journal::path(&root))?;
    Ok(out)
}

fn truncate_step(j: &Journal) -> bool {
    j.steps.iter().any(|s| matches!(s, Step::Truncate { drop_file_at: true, .. }))
}

fn save_removed(j: &Journal, ctx: &mut Ctx, from: u64, to: u64) -> Result<()> {
    let slave = Log::open(ctx.slave.clone(), "slave", ctx.java)?;
    let (messages, stop) = collect(&slave, from, to);
    if stop != to.max(from) {
        return Err(AlignError::inconsistent(
            ctx.slave.root(),
            stop,
            format!("the slave's records no longer reach {to}: it changed since the plan was made"),
        ));
    }
    drop(slave);
    let cut = cut_files(ctx.slave.commitlog_dirs(), j.file_size, from, truncate_step(j))?;
    let mut report = RemovedReport {
        master: j.master.clone(),
        slave: ctx.slave.root().to_path_buf(),
        common_prefix: from,
        slave_max: j.slave_max,
        removed_bytes: Vec::new(),
        messages,
    };
    let dir = j.backup.as_ref().expect("a plan that removes data has a backup directory");
    removed::save(dir, &cut, from, &mut report)?;
    ctx.crash.at("save");
    Ok(())
}

fn truncate(j: &Journal, ctx: &mut Ctx, at: u64, drop_file_at: bool) -> Result<()> {
    let cut = cut_files(ctx.slave.commitlog_dirs(), j.file_size, at, drop_file_at)?;
    for (start, path, _) in cut.iter().filter(|c| !c.2) {
        let from = at - start;
        let last = last_nonzero(MappedFile::open(path, *start)?.bytes(), from as usize);
        if let Some(last) = last {
            zero_range(path, from, last as u64 + 1)?;
        }
    }
    ctx.crash.at("truncate");
    // newest first: a crash never leaves a hole in the file list
    for (_, path, _) in cut.iter().rev().filter(|c| c.2) {
        remove(path)?;
    }
    Ok(())
}

fn copy(j: &Journal, ctx: &mut Ctx, from: u64, to: u64) -> Result<u64> {
    let master = Log::open(ctx.master.clone(), "master", ctx.java)?;
    let end = master.end(&cq_hints(ctx.master)?);
    if end.offset < to {
        return Err(AlignError::inconsistent(
            ctx.master.root(),
            end.offset,
            format!("the master now ends at {} (planned: {to}); it changed since the plan was made", end.offset),
        ));
    }
    let mut existing: HashMap<u64, PathBuf> = HashMap::new();
    for d in ctx.slave.commitlog_dirs() {
        existing.extend(list_mapped_files(d)?);
    }
    let total = to - from;
    let mut pos = from;
    while pos < to {
        let (f, fpos) = master.locate(pos).ok_or_else(|| {
            AlignError::inconsistent(ctx.master.root(), pos, "no master commitlog file holds this offset")
        })?;
        let start = f.file_from_offset();
        let upto = to.min(start + f.len());
        let path = existing
            .get(&start)
            .cloned()
            .unwrap_or_else(|| new_file_path(ctx.slave.commitlog_dirs(), j.file_size, start));
        let created = !path.exists();
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| AlignError::io(d, e))?;
        }
        let out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| AlignError::io(&path, e))?;
        let len = out.metadata().map_err(|e| AlignError::io(&path, e))?.len();
        if len != j.file_size {
            if len != 0 {
                return Err(AlignError::layout(
                    &path,
                    format!("length {len} differs from the commitlog file size {}", j.file_size),
                ));
            }
            out.set_len(j.file_size).map_err(|e| AlignError::io(&path, e))?;
        }
        let bytes = &f.bytes()[fpos as usize..(upto - start) as usize];
        for (k, chunk) in bytes.chunks(CHUNK as usize).enumerate() {
            write_at(&out, &path, chunk, fpos + k as u64 * CHUNK)?;
            ctx.progress.update("copy", pos - from + (k as u64 * CHUNK + chunk.len() as u64), total);
            ctx.crash.at("copy");
        }
        out.sync_data().map_err(|e| AlignError::io(&path, e))?;
        if created {
            sync_dir(&path);
        }
        pos = upto;
    }
    ctx.progress.finish();
    Ok(total)
}

fn fix_derived(j: &mut Journal, ctx: &mut Ctx, step: usize) -> Result<(Option<ApplyOutcome>, Vec<String>)> {
    let root = ctx.slave.root().to_path_buf();
    let opts = RecoveryOptions { java: ctx.java, check_crc: None };
    let prog = &mut *ctx.progress;
    // a checkpoint left stale by a run killed before writing it is part of the plan
    let plan = recovery::plan(ctx.slave, &opts, &mut |p, d, t| prog.update(p, d, t))?;
    prog.finish();
    if !j.backed_up.contains(&step) {
        backup_files(j, &root, &plan.files_to_modify())?;
        j.backed_up.push(step);
        j.write(&root)?;
    }
    ctx.crash.at("backup-derived");
    let mut warnings = plan.warnings.clone();
    if plan.is_noop() {
        return Ok((None, warnings));
    }
    let crash = &mut *ctx.crash;
    let outcome = recovery::apply(&plan, ctx.slave, &mut |p, d, t| prog.update(p, d, t), &mut |_, _| {
        crash.at("recover");
        true
    })?;
    prog.finish();
    warnings.extend(outcome.warnings.iter().cloned());
    Ok((Some(outcome), warnings))
}
