//! A DLedger store converted by `rmq-migrate convert-dledger` (golden
//! java-4.9.8/dledger/n0) is opened by our broker as a plain store: every
//! message of the manifest is served at its new offset with its topic, queue,
//! queue offset and body, the consumer offsets Java committed still apply,
//! and new messages continue the converted log.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use rmq_migrate::cli::ConvertDledgerArgs;
use rmq_remoting::codec::header::FromExtFields;
use rmq_remoting::codec::ResponseCode;
use rmq_remoting::protocol::pull::PullMessageResponseHeader;
use rmq_remoting::protocol::send::SendMessageResponseHeader;

fn golden_n0() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden/java-4.9.8/dledger/n0");
    p.is_dir().then_some(p)
}

/// `rmq-migrate convert-dledger SRC --out DST --json` through the library.
fn convert(src: &Path, dst: &Path) -> serde_json::Value {
    let args = ConvertDledgerArgs {
        dir: Some(src.to_path_buf()),
        group: Vec::new(),
        out: Some(dst.to_path_buf()),
        in_place: false,
        apply: false,
        include_uncommitted: false,
        map: None,
        java_version: None,
        backup: None,
        no_backup: false,
        force: false,
        json: true,
    };
    let mut out = Vec::new();
    let code = rmq_migrate::convert::run(&args, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(code, 0, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_dledger_store_is_served() {
    let Some(src) = golden_n0() else {
        eprintln!("golden dledger/n0 not present, skipped");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("n0");
    let report = convert(&src, &root);
    let end = report["build"]["records"]["new_to"].as_i64().unwrap();
    // old physical offset (DLedger pos + 48) -> new offset
    let map: HashMap<i64, i64> = std::fs::read_to_string(root.join("dledger-offset-map.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["old_offset"].as_i64().unwrap(), v["new_offset"].as_i64().unwrap()))
        .collect();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("manifest.json")).unwrap()).unwrap();

    let b = broker(settings_for(&root)).await;
    let st = b.state().clone();
    assert_eq!(st.store.max_phy_offset(), end, "recovery keeps the whole converted log");

    // every queue through the store: new physical offset -> (topic, queue, queue offset, body hash)
    let by_phy = served_by_phy(&st).await;
    let mut checked = 0;
    for m in manifest["messages"].as_array().unwrap() {
        for s in m["stored"].as_array().unwrap() {
            let old = s["physicalOffset"].as_i64().unwrap();
            let new = map[&old];
            let got = by_phy.get(&new).unwrap_or_else(|| panic!("record {old} (now {new}, {}) not served", s["topic"]));
            assert_eq!(got.0, s["topic"].as_str().unwrap());
            assert_eq!(got.1 as i64, s["queueId"].as_i64().unwrap());
            assert_eq!(got.2, s["queueOffset"].as_i64().unwrap());
            assert_eq!(got.3, s["storedBodySha256"].as_str().unwrap(), "body of record {old}");
            checked += 1;
        }
    }
    assert_eq!(checked, 145);

    // over the wire like a pull consumer: every SmallTopicA queue from its committed offset
    let addr = b.local_addr().to_string();
    let c = client();
    let committed = [(0, 5), (1, 3), (3, 10)];
    for (q, o) in committed {
        assert_eq!(query_offset(&c, &addr, "cg_small_partial", "SmallTopicA", q).await, o, "queue {q}");
    }
    for (q, from) in [(0, 5), (1, 3), (2, 0), (3, 10)] {
        let (mut off, mut n) = (from, 0);
        loop {
            let r = call(&c, &addr, pull_cmd(&pull_header("cg_small_partial", "SmallTopicA", q, off, "*"))).await;
            if r.response_code() != ResponseCode::SUCCESS {
                assert_eq!(r.response_code(), ResponseCode::PULL_NOT_FOUND);
                break;
            }
            for m in records(r.body.as_deref().unwrap()) {
                let (_, qid, qo, h) = &by_phy[&m.physical_offset];
                assert_eq!((*qid, *qo, h.as_str()), (q, m.queue_offset, sha(&m.body).as_str()));
                assert_eq!(m.queue_offset, from + n, "queue offsets are contiguous");
                n += 1;
            }
            off = PullMessageResponseHeader::from_command(&r).unwrap().next_begin_offset;
        }
        assert_eq!(off, st.store.max_offset("SmallTopicA", q), "queue {q} read to its end");
        assert!(n > 0, "queue {q} served messages past the committed offset");
    }

    // the log continues where the conversion ended
    let before = st.store.max_offset("SmallTopicA", 1);
    let h = send_header("SmallTopicA", 1, &props(&[("UNIQ_KEY", "AFTERCONVERT"), ("TAGS", "TagX")]));
    let r = call(&c, &addr, send_v2(&h, b"after the conversion")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(SendMessageResponseHeader::from_command(&r).unwrap().queue_offset, before);
    let r = call(&c, &addr, pull_cmd(&pull_header("cg_new", "SmallTopicA", 1, before, "*"))).await;
    let m = records(r.body.as_deref().unwrap()).remove(0);
    assert_eq!((&m.body[..], m.physical_offset), (&b"after the conversion"[..], end));
    b.shutdown().await;
}
