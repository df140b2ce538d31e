//! `rmq-migrate verify`: structural and cross-file checks.

use std::io::Write;

use rmq_store::Checkpoint;
use serde::Serialize;

use crate::checks::{check_index, CheckCounts, CqSet};
use crate::cli::VerifyArgs;
use crate::progress::Progress;
use crate::report::Issue;
use crate::source::Store;

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub format: String,
    pub min_physical_offset: u64,
    pub max_physical_offset: u64,
    pub messages: u64,
    pub blanks: u64,
    pub error_count: usize,
    pub errors: Vec<Issue>,
    pub warning_count: usize,
    pub warnings: Vec<Issue>,
    pub checked: CheckCounts,
}

/// Runs every check on an opened store.
pub fn verify_store(store: &Store, args: &VerifyArgs) -> VerifyReport {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let cqs = if args.skip_cq { None } else { Some(CqSet::open(store, &mut errors)) };
    let progress = Progress::bytes(store.total_bytes(), "verify");
    let mut cq_errors = Vec::new();
    let mut cq_warnings = Vec::new();
    // The light scan: same checks, no per-record copies (verify reads every byte).
    let outcome = store.scan_light(&|p| progress.set(p), &mut |phys, q| {
        if let Some(c) = &cqs {
            c.check_queue_ref(store, phys, q, &mut cq_errors, &mut cq_warnings);
        }
    });
    progress.finish();
    errors.extend(outcome.issues);
    errors.extend(cq_errors);
    warnings.extend(outcome.warnings);
    warnings.extend(cq_warnings);
    if store.commitlog.files().is_empty() && store.dledger.as_ref().is_none_or(|d| d.data().is_empty()) {
        errors.push(Issue {
            file: store.rel(&store.dir.commitlog_dirs()[0]),
            offset: 0,
            error: "no commitlog files found".into(),
        });
    }
    let min = store.min_physical_offset();
    let max = outcome.max_physical_offset;
    let mut checked = CheckCounts::default();
    if let Some(c) = &cqs {
        c.check_units(store, min, max, &mut checked, &mut errors);
    }
    if !args.skip_index {
        check_index(store, min, max, &mut checked, &mut errors);
    }
    let cp = store.dir.checkpoint_path();
    if cp.exists() {
        if let Err(e) = Checkpoint::read(&cp) {
            errors.push(store.issue_from(&e));
        }
    }
    let error_count = errors.len();
    let warning_count = warnings.len();
    errors.truncate(args.max_errors);
    warnings.truncate(args.max_errors);
    VerifyReport {
        ok: error_count == 0,
        format: store.format().to_string(),
        min_physical_offset: min,
        max_physical_offset: max,
        messages: outcome.messages,
        blanks: outcome.blanks,
        error_count,
        errors,
        warning_count,
        warnings,
        checked,
    }
}

/// CLI entry: prints the report; returns the process exit code.
pub fn run(args: &VerifyArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let store = Store::open(&args.store)?;
    let r = verify_store(&store, args);
    if args.json {
        serde_json::to_writer(&mut *out, &r)?;
        writeln!(out)?;
    } else {
        writeln!(out, "store:      {} ({})", args.store.dir.display(), r.format)?;
        writeln!(out, "offsets:    {} .. {}", r.min_physical_offset, r.max_physical_offset)?;
        writeln!(out, "messages:   {} (+{} blank)", r.messages, r.blanks)?;
        writeln!(
            out,
            "checked:    {} consume queues ({} units), {} index files ({} entries)",
            r.checked.consume_queues, r.checked.cq_entries, r.checked.index_files, r.checked.index_entries
        )?;
        for w in &r.warnings {
            writeln!(out, "warning: {w}")?;
        }
        for e in &r.errors {
            writeln!(out, "error: {e}")?;
        }
        if r.error_count > r.errors.len() {
            writeln!(out, "... {} more errors", r.error_count - r.errors.len())?;
        }
        writeln!(out, "{}", if r.ok { "OK" } else { "FAILED" })?;
    }
    Ok(if r.ok { 0 } else { 1 })
}
