//! `--in-place --apply`: the store becomes a plain store where it is.
//!
//! Phases, recorded in `DIR/.rmq-convert.inprogress` before each starts:
//! 1. `backup`: consumequeue/, index/, checkpoint, broker.conf and abort are
//!    copied to the backup directory (nothing in the store changed yet).
//! 2. `build`: the new commitlog files, consume queues, index, checkpoint,
//!    broker.conf and offset map are written to `DIR/.rmq-convert.tmp` (the
//!    DLedger files are only read).
//! 3. `swap`: the built files are moved into place, the old consume queues
//!    and index removed, `abort` removed, and `dledger-<id>/` moved into the
//!    backup (deleted with --no-backup).
//!
//! Running the command again after a crash redoes an interrupted backup or
//! build from the start (both write only files of their own) and finishes an
//! interrupted swap (each of its steps is skipped once done).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::derived::files_below;
use super::error::{ConvertError, Result};
use super::pipeline::{clear_dir, sync_parent, write_atomic};

pub const MARKER: &str = ".rmq-convert.inprogress";
pub const STAGING: &str = ".rmq-convert.tmp";
pub const MAP_NAME: &str = "dledger-offset-map.jsonl";
/// What the backup holds (besides the DLedger directory moved there last).
pub const BACKED_UP: [&str; 5] = ["consumequeue", "index", "checkpoint", "broker.conf", "abort"];

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Marker {
    pub phase: String,
    pub backup: Option<PathBuf>,
    /// `dledger-<selfId>` directory name.
    pub dledger_dir: String,
    /// Where the new commitlog files go.
    pub commitlog_dir: PathBuf,
}

impl Marker {
    pub fn read(root: &Path) -> Result<Option<Marker>> {
        let p = root.join(MARKER);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| ConvertError::refused(&p, format!("unreadable conversion marker: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ConvertError::io(&p, e)),
        }
    }

    pub fn write(&self, root: &Path) -> Result<()> {
        write_atomic(&root.join(MARKER), &serde_json::to_vec_pretty(self).expect("serializable"))
    }
}

fn is_cross_device(e: &std::io::Error) -> bool {
    // EXDEV: rename cannot cross file systems
    e.raw_os_error() == Some(18)
}

fn remove_any(p: &Path) -> Result<()> {
    let r = match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
    };
    r.map_err(|e| ConvertError::io(p, e))
}

/// Moves a directory, copying when the destination is on another file system.
fn move_dir(from: &Path, to: &Path) -> Result<()> {
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p).map_err(|e| ConvertError::io(p, e))?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => return sync_parent(to),
        Err(e) if is_cross_device(&e) => {}
        Err(e) => return Err(ConvertError::io(from, e)),
    }
    // a partial copy from an interrupted run is simply overwritten
    for f in files_below(from)? {
        let rel = f.strip_prefix(from).expect("below");
        super::records::copy_synced(&f, &to.join(rel))?;
    }
    remove_any(from)
}

/// Takes the backup (phase 1). A partial backup of an interrupted run is
/// discarded first: the marker says the directory is ours.
pub fn backup(root: &Path, dest: &Path, resuming: bool) -> Result<()> {
    if resuming {
        remove_any(dest)?;
    }
    let files: Vec<PathBuf> = BACKED_UP.iter().map(|f| root.join(f)).collect();
    crate::backup::backup(root, &files, dest, "convert-dledger --in-place --apply")
        .map_err(|e| ConvertError::refused(dest, format!("backup failed: {e:#}")))?;
    Ok(())
}

/// Phase 3; every step can run again. Returns where the DLedger directory went.
pub fn swap(root: &Path, m: &Marker, hook: &mut dyn FnMut()) -> Result<Option<PathBuf>> {
    let st = root.join(STAGING);
    std::fs::create_dir_all(&m.commitlog_dir).map_err(|e| ConvertError::io(&m.commitlog_dir, e))?;
    for f in files_below(&st.join("commitlog"))? {
        let to = m.commitlog_dir.join(f.file_name().expect("a file"));
        std::fs::rename(&f, &to).map_err(|e| ConvertError::io(&f, e))?;
        hook();
    }
    sync_parent(&m.commitlog_dir.join("x"))?;
    for d in ["consumequeue", "index"] {
        let new = st.join(d);
        if new.exists() {
            remove_any(&root.join(d))?;
            std::fs::rename(&new, root.join(d)).map_err(|e| ConvertError::io(&new, e))?;
            hook();
        }
    }
    for f in ["checkpoint", "broker.conf", MAP_NAME] {
        let new = st.join(f);
        if new.exists() {
            std::fs::rename(&new, root.join(f)).map_err(|e| ConvertError::io(&new, e))?;
            hook();
        }
    }
    remove_any(&root.join("abort"))?;
    sync_parent(&root.join("x"))?;
    let dl = root.join(&m.dledger_dir);
    let moved = match &m.backup {
        Some(b) => {
            let to = b.join(&m.dledger_dir);
            if dl.exists() {
                move_dir(&dl, &to)?;
            }
            Some(to)
        }
        None => {
            remove_any(&dl)?;
            None
        }
    };
    hook();
    remove_any(&st)?;
    remove_any(&root.join(MARKER))?;
    sync_parent(&root.join("x"))?;
    Ok(moved)
}

/// Discards a staging directory (phase 2 restarts from nothing).
pub fn reset_staging(root: &Path) -> Result<PathBuf> {
    let st = root.join(STAGING);
    clear_dir(&st, &[])?;
    std::fs::create_dir_all(&st).map_err(|e| ConvertError::io(&st, e))?;
    Ok(st)
}
