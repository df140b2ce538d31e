//! One node of a DLedger group as found on disk: its store root, its
//! `dledger-<selfId>` log, and what its DLedger `checkpoint` / `currterm`
//! files say (committed index, term, vote).

use std::path::{Path, PathBuf};

use rmq_store::dledger::{DLedgerStore, EntryLoc, ENTRY_HEADER_SIZE};
use rmq_store::record::MessageVersion;
use rmq_store::{LayoutKind, StoreDir};
use serde::Serialize;

use super::error::{ConvertError, Result};

/// What one node's files say about its log (the report's view of it).
#[derive(Clone, Debug, Serialize)]
pub struct NodeInfo {
    pub dir: PathBuf,
    pub self_id: String,
    /// `dLegerGroup` from broker.conf.
    pub group: Option<String>,
    /// `committedIndex` of `dledger-<id>/checkpoint` (None: no checkpoint).
    pub committed_index: Option<i64>,
    /// Where `committed_index` was read (`checkpoint` or `checkpoint.bak`).
    pub committed_from: Option<String>,
    /// `endIndex` of the checkpoint.
    pub checkpoint_end_index: Option<i64>,
    pub curr_term: Option<i64>,
    pub vote_leader: Option<String>,
    /// First and last entry index found in the data files (filled by a scan).
    pub first_index: Option<i64>,
    pub last_index: Option<i64>,
    pub last_term: Option<i64>,
    /// Why the scan stopped when the log ends at a broken entry.
    pub log_end_error: Option<String>,
}

pub struct Node {
    pub dir: StoreDir,
    pub dledger: DLedgerStore,
    pub info: NodeInfo,
    pub warnings: Vec<String>,
    /// File, offset and message of the broken entry the log ends at, if any.
    pub scan_error: Option<(PathBuf, u64, String)>,
}

/// Reads `committedIndex` / `endIndex` from a properties file.
fn read_checkpoint(path: &Path) -> Option<(Option<i64>, Option<i64>)> {
    let p = rmq_common::properties::load_file(path).ok()?;
    let get = |k: &str| p.get(k).and_then(|v| v.trim().parse::<i64>().ok());
    Some((get("committedIndex"), get("endIndex")))
}

impl Node {
    /// Opens the store root `root` of a DLedger broker. `force`: go on
    /// although a running process holds its lock.
    pub fn open(root: &Path, force: bool) -> Result<Node> {
        let dir = StoreDir::open(root, None)?;
        if dir.kind() != LayoutKind::DLedger {
            return Err(ConvertError::NotDLedger(root.to_path_buf()));
        }
        if dir.lock_state().held == Some(true) {
            if !force {
                return Err(ConvertError::refused(
                    root.join("lock"),
                    "the store is locked by a running broker (stop it, or pass --force)",
                ));
            }
            tracing::warn!("{}: lock held by another process; reading anyway (--force)", root.display());
        }
        let dledger = dir.open_dledger()?.expect("DLedger layout has a dledger dir");
        // Java refuses to load a DLedger data file of the wrong length
        if let Some(i) = dledger.data().issues().first() {
            return Err(ConvertError::bad_entry(&i.path, i.offset, i.message.clone()));
        }
        if bodies_are_raw(&dledger) {
            return Err(ConvertError::RawDLedger(dledger.dir().to_path_buf()));
        }
        let mut warnings = Vec::new();
        for i in dledger.index().issues() {
            // the index files are not needed: entries are read from the data files
            warnings.push(format!("{} @ {}: {} (DLedger index not used)", i.path.display(), i.offset, i.message));
        }
        let dl_dir = dledger.dir().to_path_buf();
        let self_id = dl_dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("dledger-"))
            .unwrap_or_default()
            .to_string();
        let (mut committed, mut end, mut from) = (None, None, None);
        if let Some(c) = dledger.checkpoint() {
            (committed, end, from) = (c.committed_index, c.end_index, Some("checkpoint".to_string()));
        } else if let Some((c, e)) = read_checkpoint(&dl_dir.join("checkpoint.bak")) {
            // DLedger renames checkpoint.tmp over checkpoint after copying the old one to .bak:
            // a crash in between leaves only the older (hence safe) committed index
            warnings.push(format!(
                "{}: missing; committed index read from checkpoint.bak",
                dl_dir.join("checkpoint").display()
            ));
            (committed, end, from) = (c, e, Some("checkpoint.bak".to_string()));
        }
        let info = NodeInfo {
            dir: root.to_path_buf(),
            self_id,
            group: dir.config().and_then(|c| c.get("dLegerGroup")).map(str::to_string),
            committed_index: committed,
            committed_from: from,
            checkpoint_end_index: end,
            curr_term: dledger.term().and_then(|t| t.curr_term),
            vote_leader: dledger.term().and_then(|t| t.vote_leader.clone()),
            first_index: None,
            last_index: None,
            last_term: None,
            log_end_error: None,
        };
        Ok(Node { dir, dledger, info, warnings, scan_error: None })
    }

    /// Display name: the DLedger self id, else the directory.
    pub fn name(&self) -> String {
        if self.info.self_id.is_empty() {
            self.info.dir.display().to_string()
        } else {
            self.info.self_id.clone()
        }
    }

    /// Path of the data file holding `e`.
    pub fn entry_path(&self, e: &EntryLoc) -> &Path {
        self.dledger.data().files()[e.file_index].path()
    }

    /// `(path, offset in file)` of the record carried by `e`.
    pub fn body_location(&self, e: &EntryLoc) -> (&Path, u64) {
        (self.entry_path(e), e.file_pos + ENTRY_HEADER_SIZE)
    }
}

/// Whether the first non-empty entry body is not a commitlog record (a 5.x
/// controller's event log uses the same file format).
fn bodies_are_raw(d: &DLedgerStore) -> bool {
    for e in d.entries().take(16) {
        let Ok(e) = e else { return false };
        let b = d.body(&e);
        if b.is_empty() {
            continue;
        }
        return b.len() < 8 || MessageVersion::from_magic(i32::from_be_bytes([b[4], b[5], b[6], b[7]])).is_none();
    }
    false
}
