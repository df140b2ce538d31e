//! `rmq-migrate rebuild`: consume queues and index files built from the
//! commitlog the way Java's reput thread builds them (every record from the
//! first file to the end of valid data, CRC not checked), written to `--out`,
//! or swapped into the store with `--in-place`, or only counted (dry run).
//!
//! In place: a backup of `consumequeue/`, `index/` and `checkpoint` is taken,
//! the new files are built in `DIR/.rmq-rebuild.tmp`, then moved in place of
//! the old ones, and the checkpoint's logics/index timestamps are updated.
//! An interrupted run is finished by running it again.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rmq_store::dispatch::{
    dispatch_range, index_enabled, store_geometry, CheckRules, DispatchStats, DispatchTarget, Dispatcher, RangeEnd,
};
use rmq_store::recovery::{detect_java_version, valid_end, ScanEnd};
use rmq_store::{Checkpoint, LayoutKind};
use serde::Serialize;

use crate::cli::RebuildArgs;
use crate::recover::{java_version, open_store, take_backup, PhaseProgress};

const TMP: &str = ".rmq-rebuild.tmp";
const OLD: &str = ".rmq-rebuild.old";
const DIRS: [&str; 2] = ["consumequeue", "index"];

#[derive(Debug, Serialize)]
pub struct RebuildReport {
    pub dir: String,
    /// "dry-run", "out" or "in-place".
    pub mode: &'static str,
    pub java: String,
    pub from: u64,
    pub to: u64,
    pub stop: ScanEnd,
    pub messages: u64,
    /// Where consumequeue/ and index/ were written (None in a dry run).
    pub written_to: Option<PathBuf>,
    pub index_enabled: bool,
    pub stats: DispatchStats,
    pub backup: Option<PathBuf>,
    pub checkpoint: Option<Checkpoint>,
}

fn non_empty(p: &Path) -> bool {
    std::fs::read_dir(p).map(|mut d| d.next().is_some()).unwrap_or(false)
}

fn remove_dir(p: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", p.display())),
    }
}

pub fn run(args: &RebuildArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let a = &args.common;
    let (dir, _lock) = open_store(a, args.in_place)?;
    if dir.kind() == LayoutKind::DLedger {
        bail!("{}: DLedger stores are not supported by rebuild", a.dir.display());
    }
    let cl = dir.open_commitlog()?;
    let java = match java_version(a)? {
        Some(j) => j,
        None => detect_java_version(&dir, &cl).0,
    };
    // the reput thread never checks CRCs
    let rules = CheckRules { check_crc: false, ..CheckRules::from_config(java, dir.config()) };
    let (cq_file_size, index_geometry) = store_geometry(&dir)?;
    let index_on = index_enabled(&dir);
    let mut prog = PhaseProgress::new();
    let total: u64 = cl.files().iter().map(|f| f.len()).sum();
    let (to, stop, messages) = valid_end(&cl, &rules, &mut |d| prog.update("scan", d, total));
    let from = cl.files().first().map(|f| f.file_from_offset()).unwrap_or(0);
    let root = dir.root().to_path_buf();
    let (mode, target_root) = match (&args.out, args.in_place) {
        (Some(o), _) => {
            for d in DIRS {
                if non_empty(&o.join(d)) {
                    bail!("{} already exists and is not empty", o.join(d).display());
                }
            }
            ("out", Some(o.clone()))
        }
        (None, true) => ("in-place", Some(root.join(TMP))),
        (None, false) => ("dry-run", None),
    };
    let mut report = RebuildReport {
        dir: a.dir.display().to_string(),
        mode,
        java: java.to_string(),
        from,
        to,
        stop,
        messages,
        written_to: target_root.as_ref().map(|_| args.out.clone().unwrap_or_else(|| root.clone())),
        index_enabled: index_on,
        stats: DispatchStats::default(),
        backup: None,
        checkpoint: None,
    };
    if args.in_place {
        let mut files: Vec<PathBuf> = DIRS.iter().map(|d| root.join(d)).collect();
        files.push(dir.checkpoint_path());
        report.backup = take_backup(a, &root, &files, "rebuild --in-place")?.map(|b| b.dir);
        remove_dir(&root.join(TMP))?;
    }
    let base = target_root.clone().unwrap_or_else(|| root.clone());
    let target = DispatchTarget {
        cq_root: base.join("consumequeue"),
        cq_file_size,
        index_dir: index_on.then(|| base.join("index")),
        index_geometry,
    };
    let mut d = Dispatcher::fresh(target, target_root.is_none())?;
    let span = to.saturating_sub(from);
    let mut p = |b: u64| prog.update("rebuild", b.min(span), span);
    let end = dispatch_range(&cl, from, to, &rules, &mut d, &mut p, &mut |_| true)?;
    if let RangeEnd::Invalid { offset, path, reason } = end {
        bail!("{} @ {offset}: {reason}", path.display());
    }
    report.stats = d.finish()?;
    prog.finish();
    if args.in_place {
        drop(cl);
        swap_in(&root, index_on)?;
        report.checkpoint = update_checkpoint(&dir.checkpoint_path(), &report.stats, index_on)?;
    }
    if a.json {
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        print_text(&report, out)?;
    }
    Ok(0)
}

/// Moves the freshly built directories over the old ones.
fn swap_in(root: &Path, index_on: bool) -> anyhow::Result<()> {
    let (tmp, old) = (root.join(TMP), root.join(OLD));
    remove_dir(&old)?;
    std::fs::create_dir_all(&old).with_context(|| format!("creating {}", old.display()))?;
    for d in DIRS.iter().filter(|d| index_on || **d != "index") {
        let (cur, new) = (root.join(d), tmp.join(d));
        if cur.exists() {
            std::fs::rename(&cur, old.join(d)).with_context(|| format!("moving {} aside", cur.display()))?;
        }
        if new.exists() {
            std::fs::rename(&new, &cur).with_context(|| format!("moving {} into place", new.display()))?;
        }
    }
    remove_dir(&old)?;
    remove_dir(&tmp)
}

/// logicsMsgTimestamp = the last record now in a consume queue,
/// indexMsgTimestamp = end of the last full index file; nothing else changes.
fn update_checkpoint(path: &Path, stats: &DispatchStats, index_on: bool) -> anyhow::Result<Option<Checkpoint>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut b = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if b.len() < 24 {
        b.resize(24, 0);
    }
    let mut cp = Checkpoint::parse(&b, path)?;
    if let Some((_, ts)) = stats.last_cq_record {
        cp.logics_msg_timestamp = ts;
    }
    if index_on {
        cp.index_msg_timestamp = stats.index_last_full_end_timestamp;
    }
    b[8..16].copy_from_slice(&cp.logics_msg_timestamp.to_be_bytes());
    b[16..24].copy_from_slice(&cp.index_msg_timestamp.to_be_bytes());
    std::fs::write(path, &b).with_context(|| format!("writing {}", path.display()))?;
    Ok(Some(cp))
}

fn print_text(r: &RebuildReport, out: &mut dyn Write) -> anyhow::Result<()> {
    let queues: usize = r.stats.queues.values().map(|q| q.len()).sum();
    writeln!(out, "store:          {} (Java {} rules)", r.dir, r.java)?;
    writeln!(out, "commitlog:      {}..{}, {} messages ({})", r.from, r.to, r.messages, r.stop.reason)?;
    writeln!(out, "consume queues: {queues} queues, {} entries", r.stats.cq_entries_written)?;
    for (t, qs) in &r.stats.queues {
        for (q, s) in qs {
            writeln!(out, "  {t}/{q}: {} entries", s.written)?;
        }
    }
    if r.index_enabled {
        writeln!(
            out,
            "index:          {} files, {} keys",
            r.stats.index_files_created.len(),
            r.stats.index_keys_added
        )?;
    } else {
        writeln!(out, "index:          disabled (messageIndexEnable=false)")?;
    }
    for w in &r.stats.warnings {
        writeln!(out, "warning: {w}")?;
    }
    if let Some(b) = &r.backup {
        writeln!(out, "backup:         {}", b.display())?;
    }
    match &r.written_to {
        Some(p) => writeln!(out, "written to:     {}", p.display())?,
        None => writeln!(out, "dry run: use --out DIR or --in-place to write")?,
    }
    Ok(())
}
