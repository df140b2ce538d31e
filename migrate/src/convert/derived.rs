//! What a plain store needs besides its commitlog: consume queues and index
//! files built from the new commitlog by the same dispatcher `rebuild` uses
//! (queue offsets come from each record's QUEUEOFFSET, so they do not
//! change), the checkpoint, and the `config/` files.

use std::path::{Path, PathBuf};

use rmq_store::dispatch::{
    dispatch_range, index_enabled, store_geometry, CheckRules, DispatchStats, DispatchTarget, Dispatcher, JavaVersion,
    RangeEnd,
};
use rmq_store::{Checkpoint, CommitLog, StoreDir};
use serde::Serialize;

use super::error::{ConvertError, Result};
use super::records::copy_synced;

#[derive(Clone, Debug, Serialize)]
pub struct DerivedOutcome {
    pub java: JavaVersion,
    pub index_enabled: bool,
    pub stats: DispatchStats,
    pub checkpoint: Checkpoint,
}

/// Files under `dir`, recursively, sorted (missing dir = none).
pub fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ConvertError::io(&d, e)),
        };
        for ent in rd {
            let p = ent.map_err(|e| ConvertError::io(&d, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Builds `consumequeue/`, `index/` and `checkpoint` under `out_root` from the
/// commitlog in `commitlog_dirs`, which ends at `end`. `last_message`: offset
/// and store timestamp of the last record (the checkpoint's physicMsgTimestamp).
#[allow(clippy::too_many_arguments)]
pub fn build_derived(
    src: &StoreDir,
    commitlog_dirs: &[PathBuf],
    file_size: u64,
    end: u64,
    out_root: &Path,
    java: JavaVersion,
    last_message: Option<(u64, i64)>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DerivedOutcome> {
    let cl = CommitLog::open(commitlog_dirs, Some(file_size))?;
    // the reput thread never checks CRCs (the record pass did)
    let rules = CheckRules { check_crc: false, ..CheckRules::from_config(java, src.config()) };
    let (cq_file_size, index_geometry) = store_geometry(src)?;
    let index_on = index_enabled(src);
    let target = DispatchTarget {
        cq_root: out_root.join("consumequeue"),
        cq_file_size,
        index_dir: index_on.then(|| out_root.join("index")),
        index_geometry,
    };
    let mut d = Dispatcher::fresh(target, false)?;
    let from = cl.queue().min_offset();
    let span = end.saturating_sub(from);
    let end = dispatch_range(&cl, from, end, &rules, &mut d, &mut |b| progress(b.min(span), span), &mut |_| true)?;
    if let RangeEnd::Invalid { offset, path, reason } = end {
        // the records were checked while written: this is a bug, not bad input
        return Err(ConvertError::bad_entry(path, offset, format!("converted record does not dispatch: {reason}")));
    }
    let stats = d.finish()?;
    let physic = last_message.map(|(_, ts)| ts).or(stats.last_cq_record.map(|(_, ts)| ts)).unwrap_or(0);
    let checkpoint = Checkpoint {
        physic_msg_timestamp: physic,
        logics_msg_timestamp: stats.last_cq_record.map(|(_, ts)| ts).unwrap_or(0),
        index_msg_timestamp: if index_on { stats.index_last_full_end_timestamp } else { 0 },
        // 5.x keeps two more longs; outside controller mode recovery sets
        // confirmPhyOffset to the start of the last valid record
        master_flushed_offset: (java == JavaVersion::V5_3_3).then_some(0),
        confirm_phy_offset: (java == JavaVersion::V5_3_3).then(|| last_message.map(|(o, _)| o as i64).unwrap_or(0)),
    };
    let cp = out_root.join("checkpoint");
    std::fs::write(&cp, checkpoint.to_bytes()).map_err(|e| ConvertError::io(&cp, e))?;
    std::fs::File::open(&cp).and_then(|f| f.sync_all()).map_err(|e| ConvertError::io(&cp, e))?;
    Ok(DerivedOutcome { java, index_enabled: index_on, stats, checkpoint })
}

/// Copies every file under `src/config` to `out_root/config`; returns their
/// paths relative to the store root.
pub fn copy_config(src: &StoreDir, out_root: &Path) -> Result<Vec<String>> {
    let from = src.config_dir();
    let mut copied = Vec::new();
    for f in files_below(&from)? {
        let rel = f.strip_prefix(src.root()).unwrap_or(&f).to_path_buf();
        copy_synced(&f, &out_root.join(&rel))?;
        copied.push(rel.to_string_lossy().into_owned());
    }
    Ok(copied)
}

/// 5.x files keyed by commitlog offsets that a conversion makes stale.
pub fn stale_offset_files(src: &StoreDir) -> Vec<String> {
    let root = src.root();
    let mut v: Vec<String> = ["timerlog", "timerwheel", "config/timercheck", "config/timermetrics", "compaction"]
        .iter()
        .filter(|f| root.join(f).exists())
        .map(|f| f.to_string())
        .collect();
    if root.join("epochFileCheckpoint").exists() {
        v.push("epochFileCheckpoint".into());
    }
    v
}
