//! Expired commitlog file deletion (Java `CleanCommitLogService`).
//!
//! A run deletes whole files, oldest first, when it is one of the `deleteWhen`
//! hours, the disk is fuller than `diskMaxUsedSpaceRatio`, or a manual
//! deletion was requested. A file goes when it was last modified more than
//! `fileReservedTime` hours ago; when the disk passes the force-clean ratio
//! (and `cleanFileForciblyEnable`) files go regardless of age. The first file
//! still within its reservation stops the run (no holes), and the file being
//! written, or not yet flushed, is never deleted. Afterwards the new minimum
//! physical offset goes to a hook so consume queues and index files can be
//! cut to match.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::config::CleanConfig;
use super::file::WritableQueue;

/// Time and disk facts the cleaner depends on (replaceable in tests).
pub trait CleanEnv: Send + Sync {
    /// Wall clock, ms since the epoch.
    fn now_ms(&self) -> i64;
    /// Hour of the local day (0..=23), what `deleteWhen` is compared with.
    fn local_hour(&self) -> u32;
    /// Used fraction (0..=1) of the partition holding `path`; negative when unknown.
    fn disk_used_ratio(&self, path: &Path) -> f64;
}

/// The real clock and `statvfs`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEnv;

impl CleanEnv for SystemEnv {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }

    fn local_hour(&self) -> u32 {
        let secs = self.now_ms().div_euclid(1000);
        rmq_common::jtime::try_local_fields(secs).map_or(0, |f| f.3 as u32)
    }

    fn disk_used_ratio(&self, path: &Path) -> f64 {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return -1.0 };
        // SAFETY: valid C string and an owned, zeroed statvfs for the result.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 || s.f_blocks == 0 {
            return -1.0;
        }
        // as UtilAll.getDiskPartitionSpaceUsedPercent: used / (used + usable), rounded up to 1%
        let used = (s.f_blocks - s.f_bfree) as u128;
        let entire = used + s.f_bavail as u128;
        if entire == 0 {
            return -1.0;
        }
        let pct = (used * 100).div_ceil(entire);
        pct as f64 / 100.0
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CleanOutcome {
    pub deleted: usize,
    /// Physical offset of the first remaining file.
    pub min_offset: u64,
    /// The disk is over the warning ratio: writes are refused until it is not.
    pub disk_full: bool,
}

/// Called with the new minimum physical offset after files were deleted.
pub type MinOffsetHook = Box<dyn Fn(u64) + Send + Sync>;

/// Runs of `executeDeleteFilesManually` (as Java's MAX_MANUAL_DELETE_FILE_TIMES).
const MANUAL_DELETE_RUNS: u32 = 20;

pub struct Cleaner {
    queue: Arc<WritableQueue>,
    cfg: CleanConfig,
    env: Box<dyn CleanEnv>,
    /// `consumequeue` directory, checked for space as well when it exists.
    logics_dir: Option<PathBuf>,
    on_min_offset: Option<MinOffsetHook>,
    disk_full: Arc<AtomicBool>,
    manual: AtomicU32,
    stop: Mutex<bool>,
    cv: Condvar,
}

impl Cleaner {
    pub fn new(
        queue: Arc<WritableQueue>,
        cfg: CleanConfig,
        env: Box<dyn CleanEnv>,
        logics_dir: Option<PathBuf>,
        on_min_offset: Option<MinOffsetHook>,
        disk_full: Arc<AtomicBool>,
    ) -> Self {
        Cleaner {
            queue,
            cfg,
            env,
            logics_dir,
            on_min_offset,
            disk_full,
            manual: AtomicU32::new(0),
            stop: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    /// `executeDeleteFilesManually`: the next runs delete expired files whatever the hour.
    pub fn delete_files_manually(&self) {
        self.manual.store(MANUAL_DELETE_RUNS, Ordering::SeqCst);
    }

    /// Whether writes must be refused for lack of disk space.
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Acquire)
    }

    /// One `deleteExpiredFiles` pass.
    pub fn run_once(&self) -> CleanOutcome {
        let time_up = self.cfg.delete_when.contains(&self.env.local_hour());
        let (space, clean_now) = self.space_check();
        let manual = self.manual.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| m.checked_sub(1)).is_ok();
        let mut out = CleanOutcome { deleted: 0, min_offset: self.queue.min_offset(), disk_full: self.disk_full() };
        if !(time_up || space || manual) {
            return out;
        }
        let at_once = self.cfg.clean_file_forcibly_enable && clean_now;
        let reserved_ms = (self.cfg.file_reserved_hours as i64).saturating_mul(3_600_000);
        tracing::info!(time_up, space, manual, at_once, hours = self.cfg.file_reserved_hours, "commitlog cleaning");
        let files = self.queue.files();
        let flushed = self.queue.flushed_where();
        // never the last file (being written) nor anything not yet on disk
        let candidates = files.iter().take(files.len().saturating_sub(1)).filter(|f| f.from() + f.size() <= flushed);
        for f in candidates {
            if out.deleted >= self.cfg.delete_file_batch_max {
                break;
            }
            let modified = match f.last_modified_ms() {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read commitlog file time");
                    break;
                }
            };
            if !(at_once || self.env.now_ms() >= modified.saturating_add(reserved_ms)) {
                break;
            }
            if out.deleted > 0
                && !self.cfg.delete_files_interval.is_zero()
                && self.sleep(self.cfg.delete_files_interval)
            {
                break;
            }
            if self.queue.remove_front(1).is_empty() {
                break;
            }
            out.deleted += 1;
        }
        out.min_offset = self.queue.min_offset();
        if out.deleted > 0 {
            if let Some(h) = &self.on_min_offset {
                h(out.min_offset);
            }
        } else if space {
            tracing::warn!("disk space will be full soon, but no commitlog file could be deleted");
        }
        out
    }

    /// `isSpaceToDelete`: (delete expired files, delete regardless of age).
    fn space_check(&self) -> (bool, bool) {
        let warning = self.cfg.disk_space_warning_level_ratio.clamp(35, 90) as f64 / 100.0;
        let forcibly = self.cfg.disk_space_clean_forcibly_ratio.clamp(30, 85) as f64 / 100.0;
        let physic = self.queue.dirs().iter().map(|d| self.env.disk_used_ratio(d)).fold(f64::INFINITY, f64::min);
        let physic = if physic.is_finite() { physic } else { -1.0 };
        if physic > warning {
            if !self.disk_full.swap(true, Ordering::AcqRel) {
                tracing::error!(ratio = physic, "commitlog disk nearly full, refusing writes");
            }
            return (true, true);
        }
        if physic > forcibly {
            return (true, true);
        }
        if self.disk_full.swap(false, Ordering::AcqRel) {
            tracing::info!(ratio = physic, "commitlog disk space OK again");
        }
        // a missing consume-queue directory (nothing dispatched yet) is not a full disk
        let logics = match &self.logics_dir {
            Some(d) if d.exists() => self.env.disk_used_ratio(d),
            _ => 0.0,
        };
        if logics > warning {
            if !self.disk_full.swap(true, Ordering::AcqRel) {
                tracing::error!(ratio = logics, "consume queue disk nearly full, refusing writes");
            }
            return (true, true);
        }
        if logics > forcibly {
            return (true, true);
        }
        let ratio = self.cfg.disk_max_used_space_ratio.clamp(10, 95) as f64 / 100.0;
        (physic < 0.0 || physic > ratio || logics < 0.0 || logics > ratio, false)
    }

    /// Sleeps unless stopped; true when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let s = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        if *s {
            return true;
        }
        *self.cv.wait_timeout(s, d).unwrap_or_else(|e| e.into_inner()).0
    }

    /// The cleaner thread body: a run every `cleanResourceInterval` until stopped.
    pub fn run(self: Arc<Self>) {
        while !self.sleep(self.cfg.clean_resource_interval) {
            self.run_once();
        }
    }

    pub fn stop(&self) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }
}
