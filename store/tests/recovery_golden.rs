//! Recovery plans on golden stores (plans only; applying is tested through rmq-migrate).

use rmq_store::recovery::{plan, RecoveryMode, RecoveryOptions};
use rmq_store::testutil::{golden, STORES};
use rmq_store::{LayoutKind, StoreDir};

#[test]
fn clean_golden_stores_need_nothing() {
    for s in STORES {
        let dir = StoreDir::open(&golden(s), None).unwrap();
        if dir.kind() == LayoutKind::DLedger || s.ends_with("crashed") {
            continue;
        }
        let p = plan(&dir, &RecoveryOptions::default(), &mut |_, _, _| {}).unwrap();
        assert!(p.is_noop(), "{s}: {}", serde_json::to_string_pretty(&p).unwrap());
        assert_eq!(p.mode, RecoveryMode::Normal);
    }
}

#[test]
fn crashed_recovers_to_the_last_message() {
    let dir = StoreDir::open(&golden("java-4.9.8/crashed"), None).unwrap();
    let p = plan(&dir, &RecoveryOptions::default(), &mut |_, _, _| {}).unwrap();
    println!("{}", serde_json::to_string_pretty(&p).unwrap());
    assert_eq!(p.mode, RecoveryMode::Abnormal);
    assert_eq!(p.commitlog.last_valid_offset, 2256592);
    assert_eq!(p.commitlog.scan_start_offset, 0);
    assert_eq!(p.commitlog.delete_files.len(), 1);
    assert!(p.queues.is_empty());
}

use rmq_store::testutil::copy_dir;

fn copy(s: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    copy_dir(&golden(s), t.path());
    t
}

fn plan_of(dir: &std::path::Path, java: Option<rmq_store::dispatch::JavaVersion>) -> rmq_store::recovery::RecoveryPlan {
    let d = StoreDir::open(dir, None).unwrap();
    plan(&d, &RecoveryOptions { java, check_crc: None }, &mut |_, _, _| {}).unwrap()
}

#[test]
fn abnormal_recovery_of_every_golden_store_keeps_all_messages() {
    for s in STORES {
        let dir = StoreDir::open(&golden(s), None).unwrap();
        if dir.kind() == LayoutKind::DLedger {
            continue;
        }
        let t = copy(s);
        std::fs::write(t.path().join("abort"), b"").unwrap();
        let p = plan_of(t.path(), None);
        let dump: serde_json::Value =
            serde_json::from_slice(&std::fs::read(golden(s).join("store-dump.json")).unwrap()).unwrap();
        assert_eq!(p.commitlog.last_valid_offset, dump["commitlog"]["maxPhysicalOffset"].as_u64().unwrap(), "{s}");
        assert_eq!(p.mode, RecoveryMode::Abnormal);
        assert!(p.queues.is_empty(), "{s}: {:?}", p.queues);
        assert!(p.index.rewrites.is_empty(), "{s}: {:?}", p.index.rewrites);
        let want = if s.starts_with("java-5") { "5.3.3" } else { "4.9.8" };
        assert_eq!(p.java.as_str(), want, "{s}: {}", p.java_detected_from);
    }
}

#[test]
fn start_file_rules() {
    use rmq_store::dispatch::JavaVersion::{V4_9_8, V5_3_3};
    let t = copy("java-4.9.8/plain");
    // normal: 4.9.8 starts at the 3rd-last file, 5.3.3 at the newest file below the CQ max
    assert_eq!(plan_of(t.path(), Some(V4_9_8)).commitlog.scan_start_offset, 0);
    assert_eq!(plan_of(t.path(), Some(V5_3_3)).commitlog.scan_start_offset, 2097152);
    // abnormal: the newest file whose first message is at or before the checkpoint's min timestamp - 3 s
    std::fs::write(t.path().join("abort"), b"").unwrap();
    let cp_path = t.path().join("checkpoint");
    let mut cp = rmq_store::Checkpoint::read(&cp_path).unwrap();
    let dump: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden("java-4.9.8/plain").join("store-dump.json")).unwrap()).unwrap();
    let first_of_file1 = dump["messages"].as_array().unwrap().iter().find(|m| m["physicalOffset"] == 1048576).unwrap()
        ["storeTimestamp"]
        .as_i64()
        .unwrap();
    cp.physic_msg_timestamp = first_of_file1 + 3000;
    cp.logics_msg_timestamp = first_of_file1 + 3000;
    std::fs::write(&cp_path, &cp.to_bytes()[..24]).unwrap();
    for j in [V4_9_8, V5_3_3] {
        let p = plan_of(t.path(), Some(j));
        assert_eq!(p.commitlog.scan_start_offset, 1048576, "{j}");
        assert_eq!(p.commitlog.last_valid_offset, 2256592, "{j}");
        assert_eq!(p.dispatch.as_ref().map(|d| d.from), Some(1048576), "{j}");
    }
    cp.physic_msg_timestamp = first_of_file1 + 2999;
    std::fs::write(&cp_path, &cp.to_bytes()[..24]).unwrap();
    assert_eq!(plan_of(t.path(), None).commitlog.scan_start_offset, 0);
}
