//! One conversion from a chosen node into a target directory: records, offset
//! map, consume queues, index, checkpoint, config files, broker.conf, then
//! the consume-queue cross-check. Used by `--out` (target = the new store)
//! and `--in-place` (target = a staging directory inside the store).

use std::path::{Path, PathBuf};

use rmq_store::dispatch::{store_geometry, JavaVersion};
use rmq_store::recovery::detect_java_version;
use rmq_store::CommitLog;
use serde::Serialize;

use super::check::{check_queues, QueueCheck};
use super::conf::convert_broker_conf;
use super::derived::{build_derived, copy_config, DerivedOutcome};
use super::error::{ConvertError, Result};
use super::node::Node;
use super::records::{convert_records, RecordsOutcome, RecordsTarget};
use crate::recover::PhaseProgress;

/// Where one build writes.
pub struct BuildTarget {
    /// Receives consumequeue/, index/, checkpoint (and config/, broker.conf).
    pub root: PathBuf,
    /// New commitlog files go here.
    pub commitlog_dir: PathBuf,
    /// Directories the finished commitlog spans (pre-DLedger files included).
    pub commitlog_dirs: Vec<PathBuf>,
    pub map: PathBuf,
    pub copy_prefix: bool,
    pub copy_config: bool,
    /// Comment out storePathCommitLog in the converted broker.conf.
    pub drop_commitlog_path: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct BuildReport {
    pub records: RecordsOutcome,
    pub derived: Option<DerivedOutcome>,
    /// Files carried over from config/ (relative paths).
    pub config_files: Vec<String>,
    /// What changed in broker.conf (None: the store has none).
    pub broker_conf_changes: Option<Vec<String>>,
    pub queue_check: Option<QueueCheck>,
}

/// Options of a build.
pub struct BuildOptions<'a> {
    /// Convert entries up to this index (None: all).
    pub limit: Option<i64>,
    pub java: Option<JavaVersion>,
    pub dry: bool,
    pub hook: &'a mut dyn FnMut(),
}

/// Data file size = the commitlog file size of the converted store
/// (DLedgerCommitLog sizes its data files by mappedFileSizeCommitLog).
pub fn file_size(node: &Node) -> u64 {
    node.dledger.data().file_size()
}

pub fn build(node: &Node, t: &BuildTarget, o: BuildOptions, prog: &mut PhaseProgress) -> Result<BuildReport> {
    let rt =
        RecordsTarget { commitlog_dir: &t.commitlog_dir, map_path: &t.map, copy_prefix: t.copy_prefix, dry: o.dry };
    let size = file_size(node);
    let records = convert_records(node, o.limit, size, &rt, &mut |d, n| prog.update("convert", d, n), o.hook)?;
    let mut report = BuildReport { records, ..Default::default() };
    if o.dry {
        return Ok(report);
    }
    let cl = CommitLog::open(&t.commitlog_dirs, Some(size))?;
    let java = match o.java {
        Some(j) => j,
        None if report.records.v2_records > 0 => JavaVersion::V5_3_3,
        None => detect_java_version(&node.dir, &cl).0,
    };
    drop(cl);
    let last = report.records.last_message;
    let mut p = |d, n| prog.update("dispatch", d, n);
    let derived =
        build_derived(&node.dir, &t.commitlog_dirs, size, report.records.new_to, &t.root, java, last, &mut p)?;
    if t.copy_config {
        report.config_files = copy_config(&node.dir, &t.root)?;
    }
    let conf = node.dir.root().join("broker.conf");
    if conf.is_file() {
        let text = std::fs::read(&conf).map_err(|e| ConvertError::io(&conf, e))?;
        // properties files are ISO-8859-1: map bytes to chars one to one and back
        let text: String = text.iter().map(|b| *b as char).collect();
        let (converted, changes) = convert_broker_conf(&text, t.drop_commitlog_path);
        let to = t.root.join("broker.conf");
        let bytes: Vec<u8> = converted.chars().map(|c| c as u32 as u8).collect();
        std::fs::write(&to, bytes).map_err(|e| ConvertError::io(&to, e))?;
        report.broker_conf_changes = Some(changes);
    }
    let cl = CommitLog::open(&t.commitlog_dirs, Some(size))?;
    let (cq_size, _) = store_geometry(&node.dir)?;
    let written = derived.stats.cq_entries_written;
    let mut p = |d, n| prog.update("check queues", d, n);
    let qc = check_queues(node, &report.records, cq_size, &t.root.join("consumequeue"), &cl, written, &mut p)?;
    prog.finish();
    report.derived = Some(derived);
    report.queue_check = Some(qc);
    Ok(report)
}

/// Removes everything in `dir` except the entries named in `keep`.
pub fn clear_dir(dir: &Path, keep: &[&str]) -> Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ConvertError::io(dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| ConvertError::io(dir, e))?;
        if keep.iter().any(|k| ent.file_name() == *k) {
            continue;
        }
        let p = ent.path();
        let r = if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.map_err(|e| ConvertError::io(&p, e))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename, synced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".writing");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).map_err(|e| ConvertError::io(&tmp, e))?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| ConvertError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ConvertError::io(path, e))?;
    sync_parent(path)
}

/// Syncs the directory holding `path` (so a rename in it survives a crash).
pub fn sync_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(p) => std::fs::File::open(p).and_then(|f| f.sync_all()).map_err(|e| ConvertError::io(p, e)),
        None => Ok(()),
    }
}
