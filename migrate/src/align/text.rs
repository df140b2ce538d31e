//! Human-readable output of `align`.

use std::io::Write;
use std::path::Path;

use super::plan::{Status, Step};
use super::AlignReport;

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// One sentence per step; `backup` names where saved data goes.
pub(crate) fn describe(step: &Step, slave_root: &Path, backup: &str) -> String {
    match step {
        Step::SaveRemoved { from, to, messages } => format!(
            "save the slave's commitlog bytes {from}..{to} ({} bytes, {messages} messages) to {backup}/removed-bytes/ \
             and list the messages (topic, queue, queue offset, msgId, keys) in {backup}/removed-messages.json",
            to - from
        ),
        Step::Truncate { at, zero, drop_file_at, delete } => {
            let mut s = format!("truncate the slave's commitlog at {at}");
            if let Some(z) = zero.as_ref().filter(|_| !drop_file_at) {
                let name = z.file_name().and_then(|n| n.to_str()).and_then(rmq_store::mapped_file::parse_file_name);
                let pos = name.map(|start| at - start).unwrap_or(0);
                s.push_str(&format!(": zero {} from position {pos} on", rel(slave_root, z)));
            }
            if !delete.is_empty() {
                let names: Vec<String> = delete.iter().map(|p| rel(slave_root, p)).collect();
                s.push_str(&format!("; delete {}", names.join(", ")));
            }
            s
        }
        Step::Copy { from, to, messages, create } => {
            let mut s = format!(
                "copy the master's commitlog bytes {from}..{to} ({} bytes, {messages} messages) to the same offsets of the slave",
                to - from
            );
            if !create.is_empty() {
                let names: Vec<String> = create.iter().map(|p| rel(slave_root, p)).collect();
                s.push_str(&format!(" (creating {})", names.join(", ")));
            }
            s
        }
        Step::FixDerived { end } => format!(
            "bring the slave's consume queues, index and checkpoint in line with its new end {end} \
             (Java's recovery rules: entries past the end dropped, missing records dispatched)"
        ),
        Step::ClampOffsets { expected } => {
            let list = if expected.is_empty() {
                "none expected".to_string()
            } else {
                let v: Vec<String> = expected
                    .iter()
                    .map(|c| format!("{} {} queue {}: {} -> {}", c.file, c.key, c.queue_id, c.from, c.to))
                    .collect();
                v.join("; ")
            };
            format!("clamp consumer and delay offsets past each queue's new max offset in config/ ({list})")
        }
        Step::RewriteEpoch { entries } => {
            let v: Vec<String> = entries.iter().map(|e| format!("{}-{}", e.epoch, e.start_offset)).collect();
            format!("rewrite epochFileCheckpoint to the epochs below the new end: [{}]", v.join(", "))
        }
    }
}

pub(crate) fn print(r: &AlignReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "master:         {} (commitlog {}..{})", r.master, r.master_min, r.master_max)?;
    writeln!(out, "slave:          {} (commitlog {}..{})", r.slave, r.slave_min, r.slave_max)?;
    writeln!(out, "common prefix:  {}", r.common_prefix)?;
    let removed = r.removed_messages.len();
    let status = match r.status {
        Status::Aligned => "aligned".to_string(),
        Status::SlaveBehind => format!("slave behind by {} bytes ({} messages)", r.divergence, r.copied_messages),
        Status::SlaveAhead => format!("slave ahead by {} bytes ({removed} messages)", r.divergence),
        Status::Forked => format!(
            "forked at offset {}: the master holds {} bytes past it, the slave {} bytes ({removed} messages)",
            r.common_prefix,
            r.master_max - r.common_prefix,
            r.slave_max - r.common_prefix
        ),
    };
    writeln!(out, "status:         {status}")?;
    if let Some(j) = &r.interrupted_apply_found {
        writeln!(
            out,
            "note:           an earlier --apply stopped after {} of {} steps (plan: {} at {}); --apply finishes it",
            j.done,
            j.steps.len(),
            j.status.as_str(),
            j.common_prefix
        )?;
    }
    if !r.steps.is_empty() {
        writeln!(out, "steps:")?;
        for s in &r.steps {
            writeln!(out, "  {}. {}", s.n, s.description)?;
        }
    }
    if removed > 0 {
        writeln!(out, "removed messages (topic queue offset msgId uniqKey keys):")?;
        for m in r.removed_messages.iter().take(20) {
            writeln!(
                out,
                "  {} {} {} {} {} {}",
                m.topic,
                m.queue_id,
                m.queue_offset,
                m.msg_id,
                m.uniq_key.as_deref().unwrap_or("-"),
                m.keys.as_deref().unwrap_or("-")
            )?;
        }
        if removed > 20 {
            writeln!(out, "  ... {} more (--json lists all)", removed - 20)?;
        }
    }
    if let Some(b) = &r.backup {
        writeln!(out, "backup:         {}", b.display())?;
    }
    match &r.applied {
        Some(a) => {
            for w in &a.warnings {
                writeln!(out, "warning: {w}")?;
            }
            for c in &a.clamps {
                writeln!(out, "clamped:        {} {} queue {}: {} -> {}", c.file, c.key, c.queue_id, c.from, c.to)?;
            }
            writeln!(out, "applied {} steps", a.steps_done)?;
        }
        None if r.steps.is_empty() => writeln!(out, "nothing to do")?,
        None => writeln!(out, "dry run: run with --apply to carry out these steps")?,
    }
    Ok(())
}
