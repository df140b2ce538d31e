//! `rmq-migrate align --master DIR --slave DIR [--apply]`: makes a slave's
//! commitlog a byte-exact prefix-copy of its master's before the pair moves to
//! controller mode.
//!
//! How the common prefix is found, with work proportional to the divergence:
//! 1. Each log's end comes from a record walk that starts at a known record
//!    start near the end ([`log`]: the last entries of the consume queues,
//!    checked against the record they point at, else the last data file's
//!    start), checking every record the way Java's recovery does (CRC included).
//! 2. Records are compared byte for byte at equal offsets, starting just below
//!    the shorter log's end and stepping back, distance doubling, until an
//!    identical record is found; a record-by-record comparison from there finds
//!    the first difference ([`prefix`]). The prefix therefore always ends on a
//!    record boundary of both logs.
//! 3. The diverged tails are walked to count and list their messages; those
//!    walks must land on each log's end, which also checks step 2.
//!
//! Classification ([`plan`]): aligned; slave behind (the slave's end is the
//! prefix); slave ahead (the master's end is the prefix); forked (both hold
//! records past it). The fix always leaves the slave holding exactly the
//! master's records: removed bytes are saved and listed ([`removed`]), the
//! slave is cut, the master's missing bytes are copied, and Java's recovery
//! (the store crate's) brings consume queues, index and checkpoint in line:
//! once at the cut when bytes are copied after it (recovery only drops entries
//! past the end, and entries pointing into the replaced range must go too),
//! once at the final end. Consumer offsets past a queue's new end are then
//! clamped ([`offsets`]) and a 5.x epoch file follows the new end ([`epoch`]).
//!
//! Dry run by default. `--apply` works through a journal ([`apply`]); a second
//! `--apply` finds the pair aligned and writes nothing. Stores held by a
//! running broker or with an `abort` file are refused unless `--force`.

mod apply;
mod epoch;
mod error;
mod fsio;
mod log;
mod offsets;
mod plan;
mod prefix;
mod removed;
mod text;

use std::io::Write;
use std::path::{Path, PathBuf};

use rmq_store::dispatch::JavaVersion;
use rmq_store::lock::StoreLock;
use rmq_store::recovery::detect_java_version;
use rmq_store::StoreDir;
use serde::Serialize;

pub use apply::{Applied, Journal, CRASH_ENV, JOURNAL};
pub use epoch::EpochEntry;
pub use error::AlignError;
pub use log::End;
pub use offsets::Clamp;
pub use plan::{Status, Step};
pub use prefix::Search;
pub use removed::{RemovedMessage, RemovedReport, BYTES_DIR, MESSAGES_FILE};

use crate::cli::AlignArgs;
use crate::recover::PhaseProgress;

/// A step with its number and a sentence saying what it does.
#[derive(Debug, Serialize)]
pub struct NumberedStep {
    pub n: usize,
    pub description: String,
    #[serde(flatten)]
    pub step: Step,
}

/// What `align` prints (one JSON object with `--json`).
#[derive(Debug, Serialize)]
pub struct AlignReport {
    pub master: String,
    pub slave: String,
    pub status: Status,
    pub common_prefix: u64,
    pub master_max: u64,
    pub slave_max: u64,
    pub master_min: u64,
    pub slave_min: u64,
    /// Bytes the slave lacks (behind) or holds past the prefix (ahead, forked).
    pub divergence: u64,
    pub steps: Vec<NumberedStep>,
    pub removed_messages: Vec<RemovedMessage>,
    pub copied_messages: u64,
    /// How the prefix was found (None when resuming a journaled apply).
    pub search: Option<Search>,
    /// Bytes read on both sides while planning.
    pub examined_bytes: Option<u64>,
    pub interrupted_apply_found: Option<Journal>,
    pub backup: Option<PathBuf>,
    pub applied: Option<Applied>,
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Refuses a store a broker holds or left crashed, unless `force`.
fn check_idle(dir: &StoreDir, side: &str, force: bool) -> Result<(), AlignError> {
    let problem = if dir.lock_state().held == Some(true) {
        Some(format!("the {side} store is locked by a running process (stop its broker)"))
    } else if dir.abort_state().present {
        Some(format!(
            "the {side} store has an abort file: its broker is running or did not stop cleanly \
             (stop it, or run `rmq-migrate recover --apply` on it first)"
        ))
    } else {
        None
    };
    match problem {
        Some(p) if !force => Err(AlignError::refused(dir.root(), format!("{p}; --force goes ahead anyway"))),
        Some(p) => {
            tracing::warn!("{}: {p}; going on (--force)", dir.root().display());
            Ok(())
        }
        None => Ok(()),
    }
}

fn numbered(steps: &[Step], slave_root: &Path, backup: &str) -> Vec<NumberedStep> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| NumberedStep { n: i + 1, description: text::describe(s, slave_root, backup), step: s.clone() })
        .collect()
}

fn parse_java(v: Option<&str>) -> anyhow::Result<Option<JavaVersion>> {
    match v {
        None => Ok(None),
        Some(s) => JavaVersion::parse(s)
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("--java-version {s:?}: expected 4.9.8 or 5.3.3")),
    }
}

/// The report of a journaled apply being finished.
fn report_from_journal(a: &AlignArgs, j: &Journal) -> AlignReport {
    let saved = j.backup.as_ref().map(|b| b.join(MESSAGES_FILE));
    let removed = saved
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<RemovedReport>(&b).ok())
        .map(|r| r.messages)
        .unwrap_or_default();
    let copied = j.steps.iter().find_map(|s| if let Step::Copy { messages, .. } = s { Some(*messages) } else { None });
    let divergence = match j.status {
        Status::Aligned => 0,
        Status::SlaveBehind => j.master_max - j.slave_max.max(j.master_min),
        _ => j.slave_max - j.common_prefix,
    };
    let backup = j.backup.as_ref().map(|b| b.display().to_string()).unwrap_or_default();
    AlignReport {
        master: a.master.display().to_string(),
        slave: a.slave.display().to_string(),
        status: j.status,
        common_prefix: j.common_prefix,
        master_max: j.master_max,
        slave_max: j.slave_max,
        master_min: j.master_min,
        slave_min: j.slave_min,
        divergence,
        steps: numbered(&j.steps, &a.slave, &backup),
        removed_messages: removed,
        copied_messages: copied.unwrap_or(0),
        search: None,
        examined_bytes: None,
        interrupted_apply_found: Some(j.clone()),
        backup: j.backup.clone(),
        applied: None,
    }
}

/// CLI entry. Exit status: 0 aligned (or applied), 1 a dry run found work, 2 error.
pub fn run(a: &AlignArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let java = parse_java(a.java_version.as_deref())?;
    let md = StoreDir::open(&a.master, a.master_commitlog_path.as_deref())?;
    let sd = StoreDir::open(&a.slave, a.slave_commitlog_path.as_deref())?;
    if canonical(&a.master) == canonical(&a.slave) {
        anyhow::bail!("--master and --slave are the same directory ({})", a.slave.display());
    }
    // checked before taking our own lock: closing any descriptor of the file drops it
    check_idle(&md, "master", a.force)?;
    check_idle(&sd, "slave", a.force)?;
    let _lock = if a.apply {
        match StoreLock::acquire(sd.root()) {
            Ok(l) => Some(l),
            Err(e) if a.force => {
                tracing::warn!("could not take the slave's lock: {e}; going on (--force)");
                None
            }
            Err(e) => return Err(AlignError::from(e).into()),
        }
    } else {
        None
    };
    let journal = Journal::read(sd.root())?;
    let mut progress = PhaseProgress::new();
    let mut crash = apply::Crash::from_env();
    let (mut report, mut pending) = match journal {
        Some(j) if a.apply => {
            if canonical(&j.master) != canonical(&a.master) {
                anyhow::bail!(
                    "{}: an interrupted align against master {} is pending; run --apply with that --master to finish it \
                     (or remove the journal to abandon it)",
                    Journal::path(sd.root()).display(),
                    j.master.display()
                );
            }
            (report_from_journal(a, &j), Some(j))
        }
        // a half-applied slave is judged by the plan being applied, not by a new one
        Some(j) => (report_from_journal(a, &j), None),
        None => plan_report(a, &md, &sd, java)?,
    };
    if a.apply {
        if let Some(j) = pending.as_mut() {
            if report.interrupted_apply_found.is_none() {
                j.write(sd.root())?;
                crash.at("journal");
            }
            report.backup = j.backup.clone();
            let slave_java = match java {
                Some(v) => v,
                None => detect_java_version(&sd, &sd.open_commitlog()?).0,
            };
            let mut ctx =
                apply::Ctx { master: &md, slave: &sd, java, slave_java, progress: &mut progress, crash: &mut crash };
            report.applied = Some(apply::apply(j, &mut ctx)?);
        }
    }
    if a.json {
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        text::print(&report, out)?;
    }
    Ok(if a.apply || report.steps.is_empty() { 0 } else { 1 })
}

/// Plans against the stores as they are; the journal to apply it with, if
/// there is anything to do.
fn plan_report(
    a: &AlignArgs,
    md: &StoreDir,
    sd: &StoreDir,
    java: Option<JavaVersion>,
) -> anyhow::Result<(AlignReport, Option<Journal>)> {
    let m = log::Log::open(md.clone(), "master", java)?;
    let s = log::Log::open(sd.clone(), "slave", java)?;
    let slave_java = java.unwrap_or(s.rules.java);
    let p = plan::plan(&m, &s, slave_java)?;
    let file_size = m.file_size();
    drop((m, s));
    let saves = p.steps.iter().any(|s| matches!(s, Step::SaveRemoved { .. }));
    let backup_dir = (!p.steps.is_empty() && (saves || !a.no_backup))
        .then(|| a.backup.clone().unwrap_or_else(|| crate::backup::default_dir(sd.root())));
    let shown = match (&backup_dir, a.apply) {
        (Some(b), true) => b.display().to_string(),
        _ => a.backup.as_ref().map(|b| b.display().to_string()).unwrap_or_else(|| "<slave>.rmq-backup-<time>".into()),
    };
    let report = AlignReport {
        master: a.master.display().to_string(),
        slave: a.slave.display().to_string(),
        status: p.status,
        common_prefix: p.common_prefix,
        master_max: p.master_max,
        slave_max: p.slave_max,
        master_min: p.master_min,
        slave_min: p.slave_min,
        divergence: p.divergence(),
        steps: numbered(&p.steps, sd.root(), &shown),
        removed_messages: p.removed.clone(),
        copied_messages: p.copied_messages,
        search: Some(p.search.clone()),
        examined_bytes: Some(p.examined_bytes),
        interrupted_apply_found: None,
        backup: None,
        applied: None,
    };
    let journal = (!p.steps.is_empty()).then(|| Journal {
        master: canonical(&a.master),
        master_commitlog_path: a.master_commitlog_path.clone(),
        status: p.status,
        common_prefix: p.common_prefix,
        master_min: p.master_min,
        master_max: p.master_max,
        slave_min: p.slave_min,
        slave_max: p.slave_max,
        file_size,
        steps: p.steps.clone(),
        backup: backup_dir,
        copy_files: !a.no_backup,
        done: 0,
        backed_up: Vec::new(),
    });
    Ok((report, journal))
}
