//! What a conversion did, as one JSON object (`--json`) or text.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::check::recovery_check;
use super::derived::stale_offset_files;
use super::group::GroupReport;
use super::inplace::BACKED_UP;
use super::node::{Node, NodeInfo};
use super::pipeline::BuildReport;

/// Things keyed by DLedger positions that the conversion cannot rewrite.
const STALE: [&str; 4] = [
    "offsetMsgIds handed out before the conversion name DLedger positions: translate them with the offset map",
    "PREPAREDTRANSACTIONOFFSET fields and ORIGIN_MESSAGE_ID properties inside records keep DLedger positions \
     (records are copied unchanged but for PHYSICALOFFSET)",
    "transactions still pending refer to their half message by DLedger position: finish them before converting",
    "the other nodes of the group must be rebuilt from the converted store (plain HA copies bytes)",
];

/// A value, or `-` when absent.
fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

#[derive(Debug, Serialize)]
pub struct ConvertReport {
    /// "dry-run", "out" or "in-place".
    pub mode: &'static str,
    pub source: PathBuf,
    pub node: Option<NodeInfo>,
    pub group: Option<GroupReport>,
    /// Last entry index converted (None: every entry).
    pub converted_up_to: Option<i64>,
    pub output: Option<PathBuf>,
    /// Phase of an interrupted run that this run finished.
    pub resumed: Option<String>,
    pub build: Option<BuildReport>,
    pub backup: Option<PathBuf>,
    pub dledger_moved_to: Option<PathBuf>,
    /// Whether Java's recovery would leave the converted store as it is.
    pub recovery_noop: Option<bool>,
    pub recovery_changes: Vec<String>,
    pub stale: Vec<String>,
    pub warnings: Vec<String>,
    /// Dry run only: what would happen.
    pub plan: Vec<String>,
}

impl ConvertReport {
    pub fn new(mode: &'static str, source: &Path) -> Self {
        ConvertReport {
            mode,
            source: source.to_path_buf(),
            node: None,
            group: None,
            converted_up_to: None,
            output: None,
            resumed: None,
            build: None,
            backup: None,
            dledger_moved_to: None,
            recovery_noop: None,
            recovery_changes: Vec::new(),
            stale: STALE.iter().map(|s| s.to_string()).collect(),
            warnings: Vec::new(),
            plan: Vec::new(),
        }
    }

    pub fn set_source(&mut self, node: &Node, group: Option<GroupReport>, limit: Option<i64>, warnings: Vec<String>) {
        self.node = Some(node.info.clone());
        self.converted_up_to = limit;
        self.warnings.extend(node.warnings.iter().cloned());
        if let Some(g) = &group {
            self.warnings.extend(g.warnings.iter().cloned());
        }
        self.group = group;
        self.warnings.extend(warnings);
        for f in stale_offset_files(&node.dir) {
            self.stale.push(format!("{f}: holds commitlog offsets; not converted (5.x timer/compaction/HA state)"));
        }
    }

    pub fn note_dry_run(&mut self, in_place: bool) {
        let root = self.source.clone();
        if in_place {
            let files: Vec<&str> = BACKED_UP.iter().copied().filter(|f| root.join(f).exists()).collect();
            self.plan.push(format!("back up {}", files.join(", ")));
            self.plan.push("write the commitlog, consume queues, index, checkpoint, broker.conf, offset map".into());
            if let Some(n) = &self.node {
                self.plan.push(format!("move dledger-{} into the backup", n.self_id));
            }
            self.plan.push("run with --apply to do it".into());
        } else {
            self.plan.push("run with --out DIR (new store) or --in-place --apply to write".into());
        }
    }

    pub fn finish_recovery_check(&mut self, root: &Path) {
        match recovery_check(root) {
            Ok((noop, what)) => {
                self.recovery_noop = Some(noop);
                self.recovery_changes = what;
            }
            Err(e) => self.warnings.push(format!("recovery check could not run: {e}")),
        }
    }

    /// Prints the report; returns the exit code it implies.
    pub fn print(&self, json: bool, out: &mut dyn Write) -> anyhow::Result<i32> {
        if json {
            serde_json::to_writer(&mut *out, self)?;
            writeln!(out)?;
        } else {
            self.print_text(out)?;
        }
        let bad = self.build.as_ref().and_then(|b| b.queue_check.as_ref()).is_some_and(|q| q.problem_count > 0);
        Ok(if bad { 1 } else { 0 })
    }

    fn print_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "source:         {} ({})", self.source.display(), self.mode)?;
        if let Some(g) = &self.group {
            for n in &g.nodes {
                writeln!(
                    out,
                    "  node {}: committedIndex {}, entries {}..{}, term {}, vote {} ({})",
                    n.self_id,
                    opt(&n.committed_index),
                    opt(&n.first_index),
                    opt(&n.last_index),
                    opt(&n.curr_term),
                    opt(&n.vote_leader),
                    n.dir.display()
                )?;
            }
            for c in &g.comparisons {
                writeln!(out, "  {} vs {}: {}", c.node, g.chosen, c.note)?;
            }
            writeln!(out, "chosen:         {} ({})", g.chosen, g.reason)?;
        }
        if let Some(n) = &self.node {
            writeln!(
                out,
                "DLedger log:    dledger-{}, entries {}..{}, committedIndex {} (from {})",
                n.self_id,
                opt(&n.first_index),
                opt(&n.last_index),
                opt(&n.committed_index),
                n.committed_from.as_deref().unwrap_or("-")
            )?;
        }
        if let Some(r) = &self.resumed {
            writeln!(out, "resumed:        an interrupted run ({r} phase) was finished")?;
        }
        if let Some(b) = &self.build {
            let r = &b.records;
            let upto = self.converted_up_to.map(|l| l.to_string()).unwrap_or_else(|| "all".into());
            writeln!(
                out,
                "converted:      {} entries (up to {upto}), DLedger {}..{}",
                r.entries, r.old_from, r.old_to
            )?;
            writeln!(
                out,
                "commitlog:      {}..{} in {} files ({} BLANK), {} old files kept",
                r.new_from,
                r.new_to,
                r.files.len(),
                r.blanks,
                r.prefix_files.len()
            )?;
            if r.prop_crc_rewritten > 0 {
                writeln!(out, "property CRCs:  {} recomputed", r.prop_crc_rewritten)?;
            }
            if let Some(m) = &r.map_file {
                writeln!(out, "offset map:     {} ({} lines)", m.display(), r.map_lines)?;
            }
            if let Some(d) = &b.derived {
                let queues: usize = d.stats.queues.values().map(|q| q.len()).sum();
                writeln!(out, "consume queues: {queues} queues, {} entries", d.stats.cq_entries_written)?;
                writeln!(
                    out,
                    "index:          {} files, {} keys",
                    d.stats.index_files_created.len(),
                    d.stats.index_keys_added
                )?;
                writeln!(out, "rules:          Java {}", d.java)?;
            }
            if !b.config_files.is_empty() {
                writeln!(out, "config:         {} files copied", b.config_files.len())?;
            }
            for c in b.broker_conf_changes.iter().flatten() {
                writeln!(out, "broker.conf:    {c}")?;
            }
            if let Some(q) = &b.queue_check {
                writeln!(
                    out,
                    "queue check:    {} queues, {} entries at unchanged queue offsets, {} past the converted range, \
                     {} new, {} problems",
                    q.queues, q.matched, q.beyond_converted, q.only_in_new, q.problem_count
                )?;
                for p in &q.problems {
                    writeln!(out, "  error: {p}")?;
                }
            }
        }
        if let Some(b) = &self.backup {
            writeln!(out, "backup:         {}", b.display())?;
        }
        if let Some(d) = &self.dledger_moved_to {
            writeln!(out, "DLedger files:  moved to {}", d.display())?;
        }
        match self.recovery_noop {
            Some(true) => writeln!(out, "recovery:       a broker opening the store changes nothing")?,
            Some(false) => writeln!(out, "recovery:       would change: {}", self.recovery_changes.join("; "))?,
            None => {}
        }
        for w in &self.warnings {
            writeln!(out, "warning: {w}")?;
        }
        for s in &self.stale {
            writeln!(out, "note: {s}")?;
        }
        for p in &self.plan {
            writeln!(out, "dry run: {p}")?;
        }
        if let Some(o) = &self.output {
            writeln!(out, "written:        {}", o.display())?;
        }
        Ok(())
    }
}
