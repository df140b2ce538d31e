//! `rmq-migrate convert-dledger`: a DLedger store (DLedgerCommitLog) becomes
//! a plain commitlog store.
//!
//! Every committed entry's record is laid out in commitlog files with its
//! PHYSICALOFFSET rewritten ([`records`]); consume queues and index files are
//! rebuilt from the result, so queue offsets (and with them consumer and
//! delay offsets in `config/`) stay valid ([`derived`], cross-checked against
//! the DLedger store's own consume queues in [`check`]); a map file gives
//! each message's old DLedger position and offsetMsgId next to its new ones.
//!
//! Only entries up to the node's persisted `committedIndex` are converted by
//! default: a DLedger broker serves messages only up to its committed
//! position, and a new leader may truncate what lies past it. In group mode
//! ([`group`]) the node with the highest committed index is converted after
//! checking that the nodes agree on every entry they both hold as committed.
//!
//! Modes: `--out DST` writes a new store (re-run after a crash starts over);
//! `--in-place --apply` converts the store where it is, after a backup
//! ([`inplace`]); otherwise a dry run reports what would be written.

mod check;
mod conf;
mod derived;
mod error;
mod group;
mod inplace;
mod node;
mod pipeline;
mod records;
mod report;
#[cfg(test)]
mod tests_synthetic;
mod writer;

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use rmq_store::dispatch::JavaVersion;
use rmq_store::lock::StoreLock;

pub use check::QueueCheck;
pub use conf::convert_broker_conf;
pub use error::ConvertError;
pub use group::{Comparison, GroupReport};
pub use inplace::{MAP_NAME, MARKER, STAGING};
pub use node::NodeInfo;
pub use pipeline::BuildReport;
pub use records::RecordsOutcome;
pub use report::ConvertReport;

use crate::cli::ConvertDledgerArgs;
use crate::recover::PhaseProgress;
use error::Result;
use inplace::Marker;
use node::Node;
use pipeline::{build, clear_dir, write_atomic, BuildOptions, BuildTarget};

/// Test-only failpoint: at the N-th hook call (each converted record and each
/// step of an in-place swap is one call) abort the process (`N`), or print
/// [`FAILPOINT_REACHED`] to stderr and hang until killed (`N:hang`).
pub const FAILPOINT_ENV: &str = "RMQ_MIGRATE_FAILPOINT_CONVERT";
pub const FAILPOINT_REACHED: &str = "rmq-migrate: failpoint reached";

fn failpoint_hook() -> impl FnMut() {
    let v = std::env::var(FAILPOINT_ENV).unwrap_or_default();
    let (n, hang) = match v.split_once(':') {
        Some((n, how)) => (n.to_string(), how == "hang"),
        None => (v, false),
    };
    let at: Option<u64> = n.parse().ok();
    let mut calls = 0u64;
    move || {
        calls += 1;
        if at == Some(calls) {
            if !hang {
                std::process::abort();
            }
            eprintln!("{FAILPOINT_REACHED}");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        }
    }
}

/// The node to convert, with the group report when several were given.
fn select(args: &ConvertDledgerArgs, prog: &mut PhaseProgress) -> Result<(Node, Option<GroupReport>)> {
    if args.group.is_empty() {
        let dir = args.dir.as_deref().expect("clap requires DIR or --group");
        let mut n = Node::open(dir, args.force)?;
        group::scan_bounds(&mut n);
        return Ok((n, None));
    }
    let mut nodes = args.group.iter().map(|d| Node::open(d, args.force)).collect::<Result<Vec<_>>>()?;
    let (chosen, report) = group::check_group(&mut nodes, &mut |d, t| prog.update("compare nodes", d, t))?;
    prog.finish();
    Ok((nodes.swap_remove(chosen), Some(report)))
}

/// Last entry index to convert (None: all) and the warnings that go with it.
fn limit(node: &Node, include_uncommitted: bool) -> Result<(Option<i64>, Vec<String>)> {
    let info = &node.info;
    let mut w = Vec::new();
    let last = info.last_index.unwrap_or(-1);
    if include_uncommitted {
        if info.committed_index.is_some_and(|c| c < last) {
            w.push(format!(
                "entries {}..={last} are past committedIndex {} and converted anyway (--include-uncommitted)",
                info.committed_index.unwrap_or(-1) + 1,
                info.committed_index.unwrap_or(-1)
            ));
        }
        return Ok((None, w));
    }
    let Some(c) = info.committed_index else {
        let msg = "no committedIndex (DLedger checkpoint missing): nothing is known to be committed; \
                   --include-uncommitted converts every entry";
        return Err(ConvertError::refused(node.dledger.dir().join("checkpoint"), msg));
    };
    if c > last {
        if let Some((path, offset, msg)) = &node.scan_error {
            // committed entries are missing because the log is damaged, not short
            let msg = format!("{msg} (entry {} of committedIndex {c})", last + 1);
            return Err(ConvertError::bad_entry(path, *offset, msg));
        }
        w.push(format!("committedIndex {c} but the log ends at entry {last}: converting up to {last}"));
    } else if c < last {
        w.push(format!("entries {}..={last} are past committedIndex {c}: not converted", c + 1));
    }
    Ok((Some(c.min(last)), w))
}

fn java(args: &ConvertDledgerArgs) -> anyhow::Result<Option<JavaVersion>> {
    match &args.java_version {
        None => Ok(None),
        Some(s) => {
            JavaVersion::parse(s).map(Some).with_context(|| format!("--java-version {s:?}: expected 4.9.8 or 5.3.3"))
        }
    }
}

/// Whether `inner` is `outer` or below it.
fn is_within(inner: &Path, outer: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let o = canon(outer);
    let mut cur = Some(inner.to_path_buf());
    // the output may not exist yet: compare its nearest existing ancestor
    while let Some(c) = cur {
        if c.exists() {
            let c = canon(&c);
            return c.starts_with(&o);
        }
        cur = c.parent().map(Path::to_path_buf);
    }
    false
}

pub fn run(args: &ConvertDledgerArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let java = java(args)?;
    let mut prog = PhaseProgress::new();
    let mut hook = failpoint_hook();
    if args.in_place {
        let root = args.dir.as_deref().expect("--in-place needs DIR");
        let marker = Marker::read(root)?;
        // a finished in-place run leaves a plain store with the offset map: nothing to do
        if marker.is_none() && root.join(MAP_NAME).is_file() && rmq_store::dledger::find_dledger_dirs(root)?.is_empty()
        {
            let mut r = ConvertReport::new("in-place", root);
            r.output = Some(root.to_path_buf());
            r.warnings.push(format!("already converted ({} present, no DLedger log): nothing to do", MAP_NAME));
            return r.print(args.json, out);
        }
        if let Some(m) = marker.as_ref().filter(|_| !args.apply) {
            let mut r = ConvertReport::new("dry-run", root);
            r.warnings.push(format!(
                "an interrupted --in-place --apply was found ({} phase): run it again with --apply to finish",
                m.phase
            ));
            return r.print(args.json, out).map(|_| 1);
        }
        if let Some(m) = marker.filter(|m| m.phase == "swap") {
            let _lock = lock(root, args.force)?;
            let moved = inplace::swap(root, &m, &mut hook)?;
            let mut r = ConvertReport::new("in-place", root);
            r.resumed = Some("swap".into());
            r.backup = m.backup.clone();
            r.dledger_moved_to = moved;
            r.finish_recovery_check(root);
            return r.print(args.json, out);
        }
    }
    let (node, group) = select(args, &mut prog)?;
    let (lim, warnings) = limit(&node, args.include_uncommitted)?;
    let mode = match (&args.out, args.in_place && args.apply) {
        (Some(_), _) => "out",
        (None, true) => "in-place",
        (None, false) => "dry-run",
    };
    let mut r = ConvertReport::new(mode, node.dir.root());
    r.set_source(&node, group, lim, warnings);
    let code = match mode {
        "out" => run_out(args, &node, lim, java, &mut r, &mut prog, &mut hook)?,
        "in-place" => run_in_place(args, &node, lim, java, &mut r, &mut prog, &mut hook)?,
        _ => {
            let t = dry_target(&node);
            let o = BuildOptions { limit: lim, java, dry: true, hook: &mut hook };
            r.build = Some(build(&node, &t, o, &mut prog)?);
            r.note_dry_run(args.in_place);
            0
        }
    };
    prog.finish();
    r.print(args.json, out).map(|c| c.max(code))
}

fn dry_target(node: &Node) -> BuildTarget {
    let root = node.dir.root().to_path_buf();
    BuildTarget {
        commitlog_dir: root.join("commitlog"),
        commitlog_dirs: vec![root.join("commitlog")],
        map: root.join(MAP_NAME),
        root,
        copy_prefix: false,
        copy_config: false,
        drop_commitlog_path: false,
    }
}

fn lock(root: &Path, force: bool) -> anyhow::Result<Option<StoreLock>> {
    match StoreLock::acquire(root) {
        Ok(l) => Ok(Some(l)),
        Err(e) if force => {
            tracing::warn!("could not take the store lock: {e}; going on (--force)");
            Ok(None)
        }
        Err(e) => Err(e).context("taking the store lock"),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_out(
    args: &ConvertDledgerArgs,
    node: &Node,
    lim: Option<i64>,
    java: Option<JavaVersion>,
    r: &mut ConvertReport,
    prog: &mut PhaseProgress,
    hook: &mut dyn FnMut(),
) -> anyhow::Result<i32> {
    let dst = args.out.clone().expect("out mode");
    let src = node.dir.root();
    if is_within(&dst, src) || is_within(src, &dst) {
        anyhow::bail!("{}: the output must be outside the source store {}", dst.display(), src.display());
    }
    let marker = dst.join(MARKER);
    let source = std::fs::canonicalize(src).unwrap_or_else(|_| src.to_path_buf());
    let non_empty = std::fs::read_dir(&dst).map(|mut d| d.next().is_some()).unwrap_or(false);
    if non_empty {
        if !marker.exists() {
            anyhow::bail!("{} already exists and is not empty", dst.display());
        }
        let prev: serde_json::Value = serde_json::from_slice(&std::fs::read(&marker)?).unwrap_or_default();
        if prev["source"].as_str() != source.to_str() {
            anyhow::bail!(
                "{} holds an interrupted conversion of {} (not of this store)",
                dst.display(),
                prev["source"]
            );
        }
        // an interrupted conversion: start over
        r.resumed = Some("out".into());
        clear_dir(&dst, &[MARKER])?;
    }
    std::fs::create_dir_all(&dst).with_context(|| format!("creating {}", dst.display()))?;
    let note = serde_json::json!({ "source": source, "command": "convert-dledger --out" });
    write_atomic(&marker, note.to_string().as_bytes())?;
    // the default commitlog location of the new root, unless broker.conf points elsewhere
    let default_cl = node.dir.commitlog_dirs() == [src.join("commitlog")];
    let t = BuildTarget {
        root: dst.clone(),
        commitlog_dir: dst.join("commitlog"),
        commitlog_dirs: vec![dst.join("commitlog")],
        map: args.map.clone().unwrap_or_else(|| dst.join(MAP_NAME)),
        copy_prefix: true,
        copy_config: true,
        drop_commitlog_path: !default_cl,
    };
    let b = build(node, &t, BuildOptions { limit: lim, java, dry: false, hook }, prog)?;
    let ok = b.queue_check.as_ref().is_none_or(|q| q.problem_count == 0);
    r.build = Some(b);
    r.output = Some(dst.clone());
    if !ok {
        r.warnings.push(format!("queue check failed: {} is incomplete (marker left)", dst.display()));
        return Ok(1);
    }
    r.finish_recovery_check(&dst);
    std::fs::remove_file(&marker).with_context(|| format!("removing {}", marker.display()))?;
    pipeline::sync_parent(&marker)?;
    Ok(0)
}

#[allow(clippy::too_many_arguments)]
fn run_in_place(
    args: &ConvertDledgerArgs,
    node: &Node,
    lim: Option<i64>,
    java: Option<JavaVersion>,
    r: &mut ConvertReport,
    prog: &mut PhaseProgress,
    hook: &mut dyn FnMut(),
) -> anyhow::Result<i32> {
    let root = node.dir.root().to_path_buf();
    let cl_dirs = node.dir.commitlog_dirs();
    if cl_dirs.len() != 1 {
        anyhow::bail!("{}: several commitlog directories; in-place conversion needs one", root.display());
    }
    let _lock = lock(&root, args.force)?;
    let previous = Marker::read(&root)?;
    let backup = match (&previous, args.no_backup) {
        (Some(m), _) => m.backup.clone(),
        (None, true) => None,
        (None, false) => {
            let b = args.backup.clone().unwrap_or_else(|| crate::backup::default_dir(&root));
            if std::fs::read_dir(&b).map(|mut d| d.next().is_some()).unwrap_or(false) {
                anyhow::bail!("backup directory {} already exists and is not empty", b.display());
            }
            Some(b)
        }
    };
    let dl_name = node.dledger.dir().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut m = Marker {
        phase: "backup".into(),
        backup: backup.clone(),
        dledger_dir: dl_name,
        commitlog_dir: cl_dirs[0].clone(),
    };
    r.resumed = previous.as_ref().map(|p| p.phase.clone());
    if previous.as_ref().is_none_or(|p| p.phase == "backup") {
        m.write(&root)?;
        if let Some(b) = &backup {
            inplace::backup(&root, b, previous.is_some())?;
        }
    }
    m.phase = "build".into();
    m.write(&root)?;
    let st = inplace::reset_staging(&root)?;
    let t = BuildTarget {
        root: st.clone(),
        commitlog_dir: st.join("commitlog"),
        commitlog_dirs: vec![cl_dirs[0].clone(), st.join("commitlog")],
        map: args.map.clone().unwrap_or_else(|| st.join(MAP_NAME)),
        copy_prefix: false,
        copy_config: false,
        drop_commitlog_path: false,
    };
    let b = build(node, &t, BuildOptions { limit: lim, java, dry: false, hook }, prog)?;
    // index disabled: an empty index dir still replaces the DLedger-era one
    std::fs::create_dir_all(st.join("index")).with_context(|| format!("creating {}", st.join("index").display()))?;
    let ok = b.queue_check.as_ref().is_none_or(|q| q.problem_count == 0);
    r.build = Some(b);
    r.backup = backup;
    if !ok {
        // nothing in the store changed: leave it as it was
        clear_dir(&st, &[])?;
        std::fs::remove_dir(&st).ok();
        std::fs::remove_file(root.join(MARKER)).ok();
        r.warnings.push("queue check failed: the store was left unchanged".into());
        return Ok(1);
    }
    m.phase = "swap".into();
    m.write(&root)?;
    r.dledger_moved_to = inplace::swap(&root, &m, hook)?;
    if args.map.is_none() {
        if let Some(b) = r.build.as_mut() {
            b.records.map_file = Some(root.join(MAP_NAME));
        }
    }
    r.output = Some(root.clone());
    r.finish_recovery_check(&root);
    Ok(0)
}
