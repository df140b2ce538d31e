//! Opening stores written by Java 4.9.8 in place (a copy of golden plain/ and
//! crashed/): every message of the manifest is served with its exact bytes and
//! the committed offsets are those Java persisted.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use rmq_broker::config::BrokerSettings;
use rmq_broker::store::{GetRequest, TagFilter};
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::offset::{OffsetResponseHeader, QueryConsumerOffsetRequestHeader};
use rmq_remoting::protocol::pull::PullMessageResponseHeader;
use rmq_remoting::protocol::send::SendMessageResponseHeader;
use sha2::{Digest, Sha256};

const GOLDEN: &str = "../../shared/golden/java-4.9.8";

fn golden(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN).join(name);
    p.is_dir().then_some(p)
}

use rmq_store::testutil::copy_dir;

/// The copied broker.conf, re-pointed at the copy and an ephemeral port, loaded like `mqbroker -c`.
fn settings_for(root: &Path) -> BrokerSettings {
    let conf = root.join("broker.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("");
        match key {
            "storePathRootDir" => out.push_str(&format!("storePathRootDir={}\n", root.display())),
            "storePathCommitLog" => out.push_str(&format!("storePathCommitLog={}\n", root.join("commitlog").display())),
            "listenPort" => out.push_str("listenPort=0\nbindAddress=127.0.0.1\n"),
            "namesrvAddr" => {}
            _ => out.push_str(&format!("{line}\n")),
        }
    }
    std::fs::write(&conf, out).unwrap();
    let mut s = BrokerSettings::defaults();
    assert!(s.apply_file(&conf).unwrap().is_empty());
    s.finish().unwrap();
    s
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

async fn query_offset(c: &rmq_remoting::transport::Client, addr: &str, group: &str, topic: &str, q: i32) -> i64 {
    let mut cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET);
    QueryConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: q,
        set_zero_if_not_found: None,
    }
    .apply_to(&mut cmd);
    let r = call(c, addr, cmd).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{group} {topic}/{q}: {r:?}");
    OffsetResponseHeader::from_command(&r).unwrap().offset
}

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
    let mut by_phy: HashMap<i64, (String, i32, i64, String)> = HashMap::new();
    for (topic, q, max) in st.store.queues().next_offsets() {
        let mut off = st.store.min_offset(&topic, q);
        while off < max {
            let r = st
                .store
                .get_messages(GetRequest {
                    topic: topic.clone(),
                    queue_id: q,
                    offset: off,
                    max_nums: 32,
                    max_bytes: None,
                    filter: TagFilter::All,
                })
                .await
                .unwrap();
            for m in records(&r.body) {
                by_phy.insert(m.physical_offset, (m.topic.clone(), m.queue_id, m.queue_offset, sha(&m.body)));
            }
            assert!(r.next_begin_offset > off, "{topic}/{q} stuck at {off}: {:?}", r.status);
            off = r.next_begin_offset;
        }
    }
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
