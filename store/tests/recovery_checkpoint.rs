//! The checkpoint recovery writes: a run stopped after changing files but
//! before writing the checkpoint is finished by the next run (which finds
//! nothing else to change), and a checkpoint that only differs in a value
//! Java does not read back leaves a clean store untouched.

use std::path::Path;

use rmq_store::recovery::{apply, plan, RecoveryOptions, RecoveryPlan, Step};
use rmq_store::testutil::golden;
use rmq_store::testutil::snapshot;
use rmq_store::{Checkpoint, StoreDir};

use rmq_store::testutil::copy_dir;

fn copy(s: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    copy_dir(&golden(s), t.path());
    t
}

fn plan_of(dir: &Path) -> RecoveryPlan {
    plan(&StoreDir::open(dir, None).unwrap(), &RecoveryOptions::default(), &mut |_, _, _| {}).unwrap()
}

/// Applies the plan of `dir`; with `stop_before_checkpoint`, stops (as a
/// killed process would) right before the checkpoint is written.
fn recover(dir: &Path, stop_before_checkpoint: bool) -> RecoveryPlan {
    let p = plan_of(dir);
    let sd = StoreDir::open(dir, None).unwrap();
    let mut hook =
        |s: &Step, rec: Option<u64>| !(stop_before_checkpoint && rec.is_none() && s.name() == "write_checkpoint");
    let out = apply(&p, &sd, &mut |_, _, _| {}, &mut hook).unwrap();
    assert_eq!(out.interrupted, stop_before_checkpoint && p.checkpoint.write);
    p
}

/// Gives a wrong body CRC to the first record stored at the store's last
/// store timestamp, so recovery drops every message of that millisecond and
/// the checkpoint's timestamps must move back.
fn cut_last_millisecond(dir: &Path, s: &str) {
    let dump: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden(s).join("store-dump.json")).unwrap()).unwrap();
    let msgs = dump["messages"].as_array().unwrap();
    let last_ts = msgs.iter().max_by_key(|m| m["physicalOffset"].as_u64()).unwrap()["storeTimestamp"].as_i64();
    let m =
        msgs.iter().filter(|m| m["storeTimestamp"].as_i64() == last_ts).min_by_key(|m| m["physicalOffset"].as_u64());
    let m = m.unwrap();
    let f = dir.join("commitlog").join(m["file"].as_str().unwrap());
    let mut b = std::fs::read(&f).unwrap();
    let at = m["filePos"].as_u64().unwrap() as usize + 8;
    for x in &mut b[at..at + 4] {
        *x ^= 0xff;
    }
    std::fs::write(&f, b).unwrap();
}

fn set_checkpoint(dir: &Path, edit: impl FnOnce(&mut Checkpoint)) {
    let p = dir.join("checkpoint");
    let mut b = std::fs::read(&p).unwrap();
    let mut cp = Checkpoint::parse(&b, &p).unwrap();
    edit(&mut cp);
    b[..40].copy_from_slice(&cp.to_bytes()[..40]);
    std::fs::write(&p, b).unwrap();
}

const CUT: &[&str] = &["java-4.9.8/plain", "java-5.3.3/v2-ipv6-embedded", "java-5.3.3/controller-mode/broker-c-n0"];

#[test]
fn a_checkpoint_left_stale_by_a_stopped_run_is_written_by_the_next() {
    for s in CUT {
        let reference = copy(s);
        cut_last_millisecond(reference.path(), s);
        let first = recover(reference.path(), false);
        assert!(first.checkpoint.write && first.commitlog.zero.is_some(), "{s}: the cut changes files and checkpoint");
        let want = snapshot(reference.path());
        assert!(plan_of(reference.path()).is_noop(), "{s}: a finished run leaves nothing to do");

        let t = copy(s);
        cut_last_millisecond(t.path(), s);
        let before = std::fs::read(t.path().join("checkpoint")).unwrap();
        let stopped = recover(t.path(), true);
        assert_eq!(std::fs::read(t.path().join("checkpoint")).unwrap(), before, "{s}: checkpoint not yet written");
        assert_ne!(snapshot(t.path()), snapshot(golden(s).as_path()), "{s}: the other files changed");

        let again = plan_of(t.path());
        assert!(!again.is_noop(), "{s}: the stale checkpoint is work left");
        let steps: Vec<&str> = again.steps().iter().map(Step::name).collect();
        assert_eq!(steps, ["write_checkpoint"], "{s}");
        assert_eq!(again.checkpoint.new, stopped.checkpoint.new, "{s}: the same checkpoint as the first run's");
        assert_ne!(again.checkpoint.old.physic_msg_timestamp, again.checkpoint.new.physic_msg_timestamp, "{s}");
        recover(t.path(), false);
        let got = snapshot(t.path());
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{s}");
        for (k, v) in &got {
            assert!(v == &want[k], "{s}: {k} differs from an uninterrupted run's");
        }
        assert!(plan_of(t.path()).is_noop(), "{s}");
    }
}

#[test]
fn only_values_java_reads_back_count_on_a_clean_store() {
    // 5.3.3 outside controller mode sets confirmPhyOffset afresh on every start
    let t = copy("java-5.3.3/v2-ipv6-embedded");
    set_checkpoint(t.path(), |c| c.confirm_phy_offset = Some(12_345));
    let p = plan_of(t.path());
    assert!(p.is_noop(), "{:?}", p.checkpoint);

    // a timestamp that disagrees with the files: only the checkpoint is written
    let orig = Checkpoint::read(&golden("java-4.9.8/plain").join("checkpoint")).unwrap();
    assert_ne!(orig.index_msg_timestamp, 0, "the plain store has a full index file");
    type Edit = fn(&mut Checkpoint);
    let edits: [(&str, Edit); 3] = [
        ("physic", |c| c.physic_msg_timestamp -= 1),
        ("logics", |c| c.logics_msg_timestamp += 1),
        ("index", |c| c.index_msg_timestamp = 0),
    ];
    for (what, edit) in edits {
        let t = copy("java-4.9.8/plain");
        set_checkpoint(t.path(), edit);
        let p = plan_of(t.path());
        let steps: Vec<&str> = p.steps().iter().map(Step::name).collect();
        assert_eq!(steps, ["write_checkpoint"], "{what}");
        assert_eq!(p.checkpoint.new, orig, "{what}: recovery computes what Java wrote");
        recover(t.path(), false);
        assert_eq!(snapshot(t.path()), snapshot(golden("java-4.9.8/plain").as_path()), "{what}");
    }

    // controller mode: a confirmPhyOffset past the end is clamped, as Java does on start
    let s = "java-5.3.3/controller-mode/broker-c-n0";
    let t = copy(s);
    let end = plan_of(t.path()).commitlog.last_valid_offset as i64;
    set_checkpoint(t.path(), |c| c.confirm_phy_offset = Some(end + 1000));
    let p = plan_of(t.path());
    assert!(p.checkpoint.write, "{:?}", p.checkpoint);
    assert_eq!(p.checkpoint.new.confirm_phy_offset, Some(end));
    recover(t.path(), false);
    assert_eq!(snapshot(t.path()), snapshot(golden(s).as_path()));
}
