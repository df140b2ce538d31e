//! `rmq-migrate recover`: what Java's recovery would do when it opens the
//! store (dry run), and with `--apply` doing it after a backup.
//!
//! An apply writes `DIR/.rmq-recover.inprogress` (naming its backup) first and
//! removes it at the end; finding it means an earlier apply was interrupted.
//! Running again is the way to finish: the plan is recomputed from the files
//! and every step is idempotent.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rmq_store::dispatch::JavaVersion;
use rmq_store::lock::StoreLock;
use rmq_store::recovery::{self, ApplyOutcome, RecoveryOptions, RecoveryPlan, Step};
use rmq_store::StoreDir;
use serde::Serialize;

use crate::backup::{self, Backup};
use crate::cli::{RecoverArgs, WriteArgs};
use crate::progress::Progress;

/// Marker of an apply in progress.
pub const IN_PROGRESS: &str = ".rmq-recover.inprogress";
/// Test-only failpoint: abort the process at the N-th apply hook call (each
/// step and each dispatched record is one call), or, given a step name
/// ([`Step::name`], e.g. `write_checkpoint`), just before the first step of
/// that kind.
pub const FAILPOINT_ENV: &str = "RMQ_MIGRATE_FAILPOINT_APPLY";

/// One progress bar per phase of a store operation.
pub(crate) struct PhaseProgress {
    phase: String,
    bar: Option<Progress>,
}

impl PhaseProgress {
    pub(crate) fn new() -> Self {
        PhaseProgress { phase: String::new(), bar: None }
    }
    pub(crate) fn update(&mut self, phase: &str, done: u64, total: u64) {
        if phase != self.phase {
            self.finish();
            self.phase = phase.to_string();
            self.bar = Some(Progress::bytes(total, phase));
        }
        if let Some(b) = &self.bar {
            b.set(done);
        }
    }
    pub(crate) fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}

/// Opens the store named by `a`, refusing one a running broker holds unless
/// `--force`. With `write`, also takes the lock for the rest of the command.
pub(crate) fn open_store(a: &WriteArgs, write: bool) -> anyhow::Result<(StoreDir, Option<StoreLock>)> {
    let dir = StoreDir::open(&a.dir, a.commitlog_path.as_deref())?;
    // checked before taking our own lock: closing any descriptor of the file drops it
    if dir.lock_state().held == Some(true) {
        if !a.force {
            bail!(
                "{}: the store is locked by a running process (stop the broker, or pass --force)",
                a.dir.join("lock").display()
            );
        }
        tracing::warn!("{}: lock held by another process; going on (--force)", a.dir.display());
    }
    let lock = if write {
        match StoreLock::acquire(dir.root()) {
            Ok(l) => Some(l),
            Err(e) if a.force => {
                tracing::warn!("could not take the store lock: {e}; going on (--force)");
                None
            }
            Err(e) => return Err(e).context("taking the store lock"),
        }
    } else {
        None
    };
    Ok((dir, lock))
}

pub(crate) fn java_version(a: &WriteArgs) -> anyhow::Result<Option<JavaVersion>> {
    match &a.java_version {
        None => Ok(None),
        Some(s) => match JavaVersion::parse(s) {
            Some(v) => Ok(Some(v)),
            None => bail!("--java-version {s:?}: expected 4.9.8 or 5.3.3"),
        },
    }
}

/// Backup of `files` unless `--no-backup`.
pub(crate) fn take_backup(
    a: &WriteArgs,
    root: &Path,
    files: &[PathBuf],
    command: &str,
) -> anyhow::Result<Option<Backup>> {
    if a.no_backup || files.is_empty() {
        return Ok(None);
    }
    let dest = a.backup.clone().unwrap_or_else(|| backup::default_dir(root));
    Ok(Some(backup::backup(root, files, &dest, command)?))
}

#[derive(Debug, Serialize)]
pub struct RecoverReport<'a> {
    pub dir: String,
    pub noop: bool,
    /// An earlier apply did not finish (its marker was found).
    pub interrupted_apply_found: Option<String>,
    pub plan: &'a RecoveryPlan,
    pub backup: Option<PathBuf>,
    pub applied: Option<ApplyOutcome>,
}

enum Failpoint {
    Call(u64),
    Step(String),
}

fn failpoint() -> Option<Failpoint> {
    let v = std::env::var(FAILPOINT_ENV).ok()?;
    Some(v.parse().map(Failpoint::Call).unwrap_or(Failpoint::Step(v)))
}

pub fn run(args: &RecoverArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let a = &args.common;
    let (dir, _lock) = open_store(a, args.apply)?;
    let opts = RecoveryOptions { java: java_version(a)?, check_crc: args.check_crc };
    let mut prog = PhaseProgress::new();
    let plan = recovery::plan(&dir, &opts, &mut |p, d, t| prog.update(p, d, t))?;
    prog.finish();
    let marker = dir.root().join(IN_PROGRESS);
    let interrupted = std::fs::read_to_string(&marker).ok();
    let mut report = RecoverReport {
        dir: a.dir.display().to_string(),
        noop: plan.is_noop(),
        interrupted_apply_found: interrupted,
        plan: &plan,
        backup: None,
        applied: None,
    };
    if args.apply {
        if !plan.is_noop() {
            let b = take_backup(a, dir.root(), &plan.files_to_modify(), "recover --apply")?;
            report.backup = b.map(|b| b.dir);
            let note = serde_json::json!({ "backup": report.backup, "steps": plan.steps().len() });
            std::fs::write(&marker, note.to_string()).with_context(|| format!("writing {}", marker.display()))?;
            let fail_at = failpoint();
            let mut calls = 0u64;
            let mut hook = |step: &Step, record: Option<u64>| {
                calls += 1;
                let hit = match &fail_at {
                    Some(Failpoint::Call(n)) => *n == calls,
                    Some(Failpoint::Step(name)) => record.is_none() && step.name() == name,
                    None => false,
                };
                if hit {
                    std::process::abort();
                }
                true
            };
            let outcome = recovery::apply(&plan, &dir, &mut |p, d, t| prog.update(p, d, t), &mut hook)?;
            prog.finish();
            report.applied = Some(outcome);
        }
        if marker.exists() {
            std::fs::remove_file(&marker).with_context(|| format!("removing {}", marker.display()))?;
        }
    }
    if a.json {
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        print_text(&report, out)?;
    }
    Ok(if args.apply || plan.is_noop() { 0 } else { 1 })
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

fn print_text(r: &RecoverReport, out: &mut dyn Write) -> anyhow::Result<()> {
    let p = r.plan;
    let root = p.root.as_path();
    let mode = match p.mode {
        recovery::RecoveryMode::Normal => "normal (no abort file)",
        recovery::RecoveryMode::Abnormal => "abnormal (abort file present)",
    };
    writeln!(out, "store:          {}", r.dir)?;
    writeln!(out, "rules:          Java {} ({}), {mode}, CRC check {}", p.java, p.java_detected_from, p.check_crc)?;
    if let Some(m) = &r.interrupted_apply_found {
        writeln!(out, "note:           an earlier --apply was interrupted ({m}); applying again finishes it")?;
    }
    let c = &p.commitlog;
    let start = c.scan_start_file.as_deref().map(|f| rel(root, f)).unwrap_or_else(|| "-".into());
    writeln!(out, "scan:           from {start} (offset {}), {} messages", c.scan_start_offset, c.messages_scanned)?;
    let end_file = c.end.file.as_deref().map(|f| rel(root, f)).unwrap_or_default();
    writeln!(out, "last valid:     {} ({end_file} @ {}: {})", c.last_valid_offset, c.end.file_pos, c.end.reason)?;
    writeln!(out, "max CQ offset:  {}", p.max_cq_phy_offset)?;
    if let Some(z) = &c.zero {
        writeln!(out, "commitlog:      zero {} bytes {}..{}", rel(root, &z.path), z.from, z.to)?;
    }
    for f in &c.delete_files {
        writeln!(out, "commitlog:      delete {}", rel(root, f))?;
    }
    writeln!(
        out,
        "consume queues: {} of {} change, {} entries dropped",
        p.queues.len(),
        p.queues_total,
        p.dropped_cq_entries()
    )?;
    for q in &p.queues {
        let range = match (&q.dropped_first, &q.dropped_last) {
            (Some(a), Some(b)) => format!(
                " (queue offsets {}..={}, physical {}..={})",
                a.queue_offset, b.queue_offset, a.physical_offset, b.physical_offset
            ),
            _ => String::new(),
        };
        writeln!(out, "  {}/{}: drop {} entries{range}; queue ends at {}", q.topic, q.queue_id, q.dropped, q.end)?;
    }
    for d in &p.index.deletions {
        writeln!(out, "index:          delete {}: {}", rel(root, &d.path), d.reason)?;
    }
    for w in &p.index.rewrites {
        writeln!(
            out,
            "index:          rewrite {}: {} entries removed, {} slots fixed",
            rel(root, &w.path),
            w.removed_entries,
            w.slot_fixes.len()
        )?;
    }
    if let Some(d) = p.dispatch.as_ref().filter(|d| d.writes()) {
        writeln!(
            out,
            "dispatch:       {}..{}: {} consume queue entries, {} index keys, new index files {:?}",
            d.from, d.to, d.stats.cq_entries_written, d.stats.index_keys_added, d.stats.index_files_created
        )?;
    }
    if p.checkpoint.write {
        let (o, n) = (&p.checkpoint.old, &p.checkpoint.new);
        writeln!(
            out,
            "checkpoint:     physic {} -> {}, logics {} -> {}, index {} -> {}",
            o.physic_msg_timestamp,
            n.physic_msg_timestamp,
            o.logics_msg_timestamp,
            n.logics_msg_timestamp,
            o.index_msg_timestamp,
            n.index_msg_timestamp
        )?;
    }
    if p.remove_abort {
        writeln!(out, "abort:          remove")?;
    }
    for w in &p.warnings {
        writeln!(out, "warning: {w}")?;
    }
    if let Some(b) = &r.backup {
        writeln!(out, "backup:         {}", b.display())?;
    }
    match (&r.applied, r.noop) {
        (_, true) => writeln!(out, "nothing to do")?,
        (Some(o), _) => {
            for w in &o.warnings {
                writeln!(out, "warning: {w}")?;
            }
            writeln!(out, "applied {} steps", o.steps_done)?
        }
        (None, _) => writeln!(out, "dry run: {} steps; run with --apply to carry them out", p.steps().len())?,
    }
    Ok(())
}
