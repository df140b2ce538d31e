//! Opening stores written by Java 4.9.8 in place (a copy of golden plain/ and
//! crashed/): every message of the manifest is served with its exact bytes and
//! the committed offsets are those Java persisted.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use rmq_remoting::codec::header::FromExtFields;
use rmq_remoting::codec::ResponseCode;
use rmq_remoting::protocol::pull::PullMessageResponseHeader;
use rmq_remoting::protocol::send::SendMessageResponseHeader;

const GOLDEN: &str = "../../shared/golden/java-4.9.8";

fn golden(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN).join(name);
    p.is_dir().then_some(p)
}

use rmq_store::testutil::copy_dir;

async fn serves_the_manifest(name: &str) {
    let Some(src) = golden(name) else {
        eprintln!("golden {name} not present, skipped");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join(name);
    copy_dir(&src, &root);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifest.json")).unwrap()).unwrap();
    let b = broker(settings_for(&root)).await;
    assert!(root.join("abort").exists(), "abort marks the running store");
    let st = b.state().clone();
    assert_eq!(st.store.max_phy_offset(), manifest["maxPhysicalOffsetEndOfLastMessage"].as_i64().unwrap());

    // every queue through the store: physical offset -> body hash
    let by_phy = served_by_phy(&st).await;
    let mut checked = 0;
    for m in manifest["messages"].as_array().unwrap() {
        for s in m["stored"].as_array().unwrap() {
            let phy = s["physicalOffset"].as_i64().unwrap();
            let got = by_phy.get(&phy).unwrap_or_else(|| panic!("record at {phy} ({}) not served", s["topic"]));
            assert_eq!(got.0, s["topic"].as_str().unwrap());
            assert_eq!(got.1 as i64, s["queueId"].as_i64().unwrap());
            assert_eq!(got.2, s["queueOffset"].as_i64().unwrap());
            assert_eq!(got.3, s["storedBodySha256"].as_str().unwrap(), "body of record {phy}");
            checked += 1;
        }
    }
    assert_eq!(checked, 971);

    // over the wire, like a pull consumer: GoldenTopicC queue 0 (770 entries, 3 CQ files)
    let addr = b.local_addr().to_string();
    let c = client();
    let (mut off, mut n) = (0, 0);
    loop {
        let r = call(&c, &addr, pull_cmd(&pull_header("cg_new", "GoldenTopicC", 0, off, "*"))).await;
        if r.response_code() != ResponseCode::SUCCESS {
            assert_eq!(r.response_code(), ResponseCode::PULL_NOT_FOUND);
            break;
        }
        for m in records(r.body.as_deref().unwrap()) {
            let (_, _, qo, h) = &by_phy[&m.physical_offset];
            assert_eq!((*qo, h.as_str()), (m.queue_offset, sha(&m.body).as_str()));
            n += 1;
        }
        off = PullMessageResponseHeader::from_command(&r).unwrap().next_begin_offset;
    }
    assert_eq!(n, 770);
    // committed offsets as Java persisted them
    assert_eq!(query_offset(&c, &addr, "cg_golden_partial", "GoldenTopicC", 0).await, 350);
    assert_eq!(query_offset(&c, &addr, "cg_golden_partial", "GoldenTopicC", 1).await, 20);
    for (q, o) in [(0, 5), (1, 7), (2, 12), (3, 5)] {
        assert_eq!(query_offset(&c, &addr, "cg_golden_push", "GoldenTopicA", q).await, o);
    }
    assert_eq!(query_offset(&c, &addr, "cg_golden_push", "%RETRY%cg_golden_push", 0).await, 1);

    // a 4.9.8 store keeps 4.9.8 rules: the next send continues the queue, no WAIT stored
    let before = st.store.max_offset("GoldenTopicA", 1);
    let h = send_header("GoldenTopicA", 1, &props(&[("UNIQ_KEY", "NEW1"), ("WAIT", "true"), ("TAGS", "TagA")]));
    let r = call(&c, &addr, send_v2(&h, b"appended")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let rh = SendMessageResponseHeader::from_command(&r).unwrap();
    assert_eq!(rh.queue_offset, before);
    assert_eq!(rh.transaction_id, None, "4.9.8 answers without transactionId");
    let r = call(&c, &addr, pull_cmd(&pull_header("cg_new", "GoldenTopicA", 1, before, "*"))).await;
    let m = records(r.body.as_deref().unwrap()).remove(0);
    assert_eq!(&m.body[..], b"appended");
    assert_eq!(m.physical_offset, manifest["maxPhysicalOffsetEndOfLastMessage"].as_i64().unwrap());
    assert!(!m.properties.contains_key("WAIT"));
    assert_eq!(m.properties.get("CLUSTER").map(String::as_str), Some("GoldenCluster"));
    b.shutdown().await;
    assert!(!root.join("abort").exists());
    // the crashed copy's pre-allocated empty file is gone (recovery, then a clean stop)
    assert!(!root.join("commitlog").join("00000000000003145728").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_plain_in_place() {
    serves_the_manifest("plain").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_crashed_recovers_then_serves() {
    serves_the_manifest("crashed").await;
}
