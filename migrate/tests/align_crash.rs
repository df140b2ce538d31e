//! `align --apply` killed part-way, then run again: the end state (every
//! file of the slave and of the backup, byte for byte) is always the one of a
//! run that was never killed.
//!
//! Deterministic kills use the binary's crash points (`RMQ_MIGRATE_CRASH_AT`,
//! the process aborts there); timed kills send SIGKILL to a running apply.
//! Every run uses the same paths, so even the backup manifest, which names
//! absolute paths, must come out identical.

mod align_util;
mod common;

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use align_util::*;
use common::golden;
use rmq_migrate::align::{CRASH_ENV, JOURNAL};

/// The golden pair made into a fork (the slave's W2 records stored by another
/// broker) with consumer offsets at the slave's queue ends, so that every kind
/// of step runs: save, truncate, recovery at the cut, copy, recovery, clamp.
fn golden_fork(w: &Path) {
    copy_tree(&golden("java-4.9.8/diverged/slave-ahead"), w);
    restamp(&w.join("slave"), 418343, 485386);
    let text = "{\n\t\"offsetTable\":{\n\t\t\"SmallTopicA@cg_small_partial\":{0:21,1:20,2:22,3:21\n\t\t}\n\t}\n}";
    std::fs::write(w.join("slave/config/consumerOffset.json"), text).unwrap();
}

fn reset(w: &Path, make: &dyn Fn(&Path)) {
    if w.exists() {
        std::fs::remove_dir_all(w).unwrap();
    }
    make(w);
}

fn apply_cmd(w: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmq-migrate"));
    c.args(["align", "--apply", "--json", "--master"])
        .arg(w.join("master"))
        .arg("--slave")
        .arg(w.join("slave"))
        .arg("--backup")
        .arg(w.join("bk"))
        .env_remove(CRASH_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn apply(w: &Path, crash: Option<&str>) -> ExitStatus {
    let mut c = apply_cmd(w);
    if let Some(p) = crash {
        c.env(CRASH_ENV, p);
    }
    c.status().unwrap()
}

/// Everything under `w` (master, slave, backup).
fn state(w: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    snapshot(w)
}

#[test]
fn killed_at_each_crash_point_and_run_again_ends_like_an_uninterrupted_run() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    reset(&w, &golden_fork);
    assert!(apply(&w, None).success());
    let want = state(&w);
    assert!(want.contains_key("bk/removed-messages.json") && want.contains_key("bk/manifest.json"));
    assert!(!want.contains_key(&format!("slave/{JOURNAL}")));

    let points = [
        "journal",
        "save",
        "truncate",
        "backup-derived:1",
        "recover:1",
        "recover:3",
        "copy:1",
        "backup-derived:2",
        "recover:10",
        "recover:30",
        "offsets",
        "step:1",
        "step:2",
        "step:3",
        "step:4",
        "step:5",
        "step:6",
        "finish",
    ];
    for p in points {
        reset(&w, &golden_fork);
        let st = apply(&w, Some(p));
        assert!(!st.success(), "{p}: the crash point was reached ({st})");
        assert!(w.join("slave").join(JOURNAL).exists(), "{p}: journal left behind");
        // a dry run reports the pending apply
        let (code, v) = align(&w.join("master"), &w.join("slave"), &[]);
        assert!(code == 1 && v["interrupted_apply_found"].is_object(), "{p}: {v}");
        assert!(apply(&w, None).success(), "{p}: re-run");
        assert_same(&state(&w), &want, &format!("killed at {p}"));
    }

    // killed twice, the second time while finishing the first
    reset(&w, &golden_fork);
    assert!(!apply(&w, Some("save")).success());
    assert!(!apply(&w, Some("recover:2")).success());
    assert!(apply(&w, None).success());
    assert_same(&state(&w), &want, "killed twice");
}

#[test]
fn a_pending_apply_is_finished_only_against_its_own_master() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    reset(&w, &golden_fork);
    assert!(!apply(&w, Some("copy:1")).success());
    let other = t.path().join("other");
    copy_tree(&golden("java-4.9.8/diverged/slave-behind/master"), &other);
    let (code, out) = common::run(&[
        "align",
        "--apply",
        "--master",
        other.to_str().unwrap(),
        "--slave",
        w.join("slave").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(apply(&w, None).success());
}

/// A bigger synthetic fork (1 MiB files, ~6 MiB diverged on each side) so
/// that an apply runs long enough to be killed at arbitrary moments.
fn synthetic_fork(w: &Path) {
    let mut c = Synth::new(1 << 20);
    c.fill(3_000);
    let (mut m, mut s) = (c.clone(), c.clone());
    m.fill(9_000);
    s.port = 20911;
    s.fill(9_500);
    m.write(&w.join("master"), false);
    dispatch(&w.join("master"));
    s.write(&w.join("slave"), false);
    dispatch(&w.join("slave"));
}

#[test]
fn sigkilled_at_random_moments_and_run_again_ends_like_an_uninterrupted_run() {
    let t = tempfile::tempdir().unwrap();
    let fixture = t.path().join("fixture");
    synthetic_fork(&fixture);
    let w = t.path().join("w");
    let make = |d: &Path| copy_tree(&fixture, d);
    reset(&w, &make);
    let started = std::time::Instant::now();
    assert!(apply(&w, None).success());
    let took = started.elapsed();
    let want = state(&w);
    let mut killed = 0;
    for frac in [0.05, 0.2, 0.4, 0.6, 0.8, 0.95] {
        reset(&w, &make);
        let mut child = apply_cmd(&w).spawn().unwrap();
        std::thread::sleep(took.mul_f64(frac));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        let _ = child.wait();
        let st = apply(&w, None);
        assert!(st.success(), "re-run after a kill at {frac}: {st}");
        assert_same(&state(&w), &want, &format!("SIGKILL at {:.0}% of a run", frac * 100.0));
    }
    assert!(killed >= 3, "only {killed} runs were still going when killed (a run takes {took:?})");
}
