//! The store's recovery as `align --apply` runs it (twice: at the cut and
//! after the copy), killed before each of its steps and dispatched records in
//! turn (`RMQ_MIGRATE_CRASH_AT=recover:N`, every N until a run no longer
//! reaches one), then run again: the end state is always the one of a run
//! that was never killed. The last kill point of each pass falls between its
//! file changes and its checkpoint write, which a re-run once saw as "nothing
//! to do".

mod align_util;
mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use align_util::*;
use common::golden;
use rmq_migrate::align::CRASH_ENV;

/// The golden slave-ahead pair made into a fork (the slave's own records
/// stored by another broker), so both recovery passes have work.
fn golden_fork(w: &Path) {
    if w.exists() {
        std::fs::remove_dir_all(w).unwrap();
    }
    copy_tree(&golden("java-4.9.8/diverged/slave-ahead"), w);
    restamp(&w.join("slave"), 418343, 485386);
}

/// Runs `align --apply`, aborting at `crash` if given; whether it succeeded.
fn apply(w: &Path, crash: Option<&str>) -> bool {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmq-migrate"));
    c.args(["align", "--apply", "--master"])
        .arg(w.join("master"))
        .arg("--slave")
        .arg(w.join("slave"))
        .arg("--backup")
        .arg(w.join("bk"))
        .env_remove(CRASH_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(p) = crash {
        c.env(CRASH_ENV, p);
    }
    c.status().unwrap().success()
}

#[test]
fn killed_at_every_recovery_call_and_run_again_ends_like_an_uninterrupted_run() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    golden_fork(&w);
    assert!(apply(&w, None));
    let want = snapshot(&w);
    let mut n = 1;
    loop {
        golden_fork(&w);
        if apply(&w, Some(&format!("recover:{n}"))) {
            break; // fewer calls than n: every point was tried
        }
        assert!(apply(&w, None), "re-run after a kill at recover:{n}");
        assert_same(&snapshot(&w), &want, &format!("killed at recover:{n}"));
        n += 1;
    }
    // both passes: the one at the cut (index and queue rewrites) and the dispatch of the copy
    assert!(n > 20, "only {} recovery calls", n - 1);
}
