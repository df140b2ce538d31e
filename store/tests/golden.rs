//! Golden stores written by real Java brokers: every record decodes, and
//! re-encoding it from its decoded fields gives the identical bytes.

use rmq_store::consume_queue::{list_queues, ConsumeQueue};
use rmq_store::dledger::ENTRY_HEADER_SIZE;
use rmq_store::index::{list_index_files, IndexFile};
use rmq_store::mapped_file::EntryKind;
use rmq_store::record::Decoded;
use rmq_store::testutil::{golden as store_path, STORES};
use rmq_store::{Checkpoint, LayoutKind, StoreDir};

fn dump(s: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(store_path(s).join("store-dump.json")).expect("store-dump.json");
    serde_json::from_str(&text).expect("valid json")
}

/// Re-encodes every record; returns (message count, end offset).
fn reencode_all(s: &str) -> (usize, u64) {
    let dir = StoreDir::open(&store_path(s), None).unwrap();
    let mut count = 0;
    let mut end = 0;
    match dir.kind() {
        LayoutKind::Plain => {
            let cl = dir.open_commitlog().unwrap();
            let mut it = cl.iter(true);
            for e in it.by_ref() {
                let e = e.unwrap_or_else(|err| panic!("{s}: {err}"));
                if let EntryKind::Message(m) = &e.kind {
                    let f = &cl.files()[e.file_index];
                    let orig = &f.bytes()[e.file_pos as usize..e.file_pos as usize + m.total_size as usize];
                    assert_eq!(m.encode().unwrap(), orig, "{s}: record at {}", e.physical_offset);
                    assert_eq!(m.physical_offset as u64, e.physical_offset);
                    count += 1;
                }
            }
            end = it.end_offset();
        }
        LayoutKind::DLedger => {
            let d = dir.open_dledger().unwrap().unwrap();
            for e in d.entries() {
                let e = e.unwrap_or_else(|err| panic!("{s}: {err}"));
                let body = d.body(&e);
                match d.decode_body(&e).unwrap() {
                    Decoded::Message(m) => {
                        assert!(m.body_crc_ok());
                        assert_eq!(m.encode().unwrap(), body, "{s}: entry {}", e.header.index);
                        assert_eq!(m.physical_offset as u64, e.header.pos as u64 + ENTRY_HEADER_SIZE);
                        end = m.physical_offset as u64 + m.total_size as u64;
                        count += 1;
                    }
                    Decoded::Blank { .. } => panic!("blank in dledger body"),
                }
            }
        }
    }
    (count, end)
}

#[test]
fn every_golden_record_reencodes_identically() {
    for s in STORES {
        let d = dump(s);
        let want = d["messages"].as_array().unwrap().iter().filter(|m| m["kind"] == "MESSAGE").count();
        let (count, end) = reencode_all(s);
        assert_eq!(count, want, "{s}: message count");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(store_path(s).join("manifest.json")).unwrap()).unwrap();
        assert_eq!(end, manifest["maxPhysicalOffsetEndOfLastMessage"].as_u64().unwrap(), "{s}: end offset");
    }
}

#[test]
fn consume_queues_match_dump() {
    for s in STORES {
        let d = dump(s);
        let dir = StoreDir::open(&store_path(s), None).unwrap();
        let queues = list_queues(&dir.consume_queue_dir()).unwrap();
        let mut total = 0;
        for (topic, qid, path) in queues {
            let cq = ConsumeQueue::open(&path, &topic, qid, dir.consume_queue_file_size()).unwrap();
            let (entries, issues) = cq.read_all();
            assert!(issues.is_empty(), "{s}: {issues:?}");
            let want = d["consumequeue"][&topic][qid.to_string()]["entries"].as_array().cloned().unwrap_or_default();
            assert_eq!(entries.len(), want.len(), "{s} {topic}/{qid}");
            for (e, w) in entries.iter().zip(&want) {
                assert_eq!(e.queue_offset, w[0].as_u64().unwrap());
                assert_eq!(e.physical_offset, w[1].as_i64().unwrap());
                assert_eq!(e.size as i64, w[2].as_i64().unwrap());
                assert_eq!(e.tags_code, w[3].as_i64().unwrap());
            }
            total += entries.len();
        }
        assert!(total > 0, "{s}");
    }
}

#[test]
fn index_and_checkpoint_match_dump() {
    for s in STORES {
        let d = dump(s);
        let dir = StoreDir::open(&store_path(s), None).unwrap();
        let (slots, num) = dir.index_geometry();
        let files = list_index_files(&dir.index_dir()).unwrap();
        let want = d["index"]["files"].as_array().unwrap();
        assert_eq!(files.len(), want.len(), "{s}");
        for (p, w) in files.iter().zip(want) {
            let f = IndexFile::open(p, slots, num).unwrap();
            let h = f.header();
            assert_eq!(h.begin_timestamp, w["beginTimestamp"].as_i64().unwrap());
            assert_eq!(h.end_phy_offset, w["endPhyOffset"].as_i64().unwrap());
            assert_eq!(h.index_count as i64, w["indexCount"].as_i64().unwrap());
            let entries: Vec<_> = f.entries().collect();
            let we = w["entries"].as_array().unwrap();
            assert_eq!(entries.len(), we.len(), "{s} {}", p.display());
            for (e, x) in entries.iter().zip(we) {
                assert_eq!(e.key_hash as i64, x["keyHash"].as_i64().unwrap());
                assert_eq!(e.phy_offset, x["phyOffset"].as_i64().unwrap());
                assert_eq!(e.prev_index as i64, x["prevIndexNo"].as_i64().unwrap());
                for k in x["candidateKeys"].as_array().unwrap() {
                    assert!(f.lookup(k.as_str().unwrap(), 1000).contains(&e.phy_offset), "{s}: lookup {k}");
                }
            }
        }
        let c = Checkpoint::read(&dir.checkpoint_path()).unwrap();
        assert_eq!(c.physic_msg_timestamp, d["checkpoint"]["physicMsgTimestamp"].as_i64().unwrap());
        assert_eq!(c.logics_msg_timestamp, d["checkpoint"]["logicsMsgTimestamp"].as_i64().unwrap());
        assert_eq!(c.index_msg_timestamp, d["checkpoint"]["indexMsgTimestamp"].as_i64().unwrap());
        assert_eq!(dir.abort_state().present, d["abortFilePresent"].as_bool().unwrap(), "{s}");
    }
}

#[test]
fn dledger_headers_match_dump() {
    for s in ["java-4.9.8/dledger/n0", "java-4.9.8/dledger/n1", "java-4.9.8/dledger/n2"] {
        let d = dump(s);
        let dl = &d[format!("dledger:dledger-{}", &s[s.len() - 2..])];
        let dir = StoreDir::open(&store_path(s), None).unwrap();
        let store = dir.open_dledger().unwrap().unwrap();
        let entries: Vec<_> = store.entries().collect::<Result<_, _>>().unwrap();
        let want = dl["entries"].as_array().unwrap();
        assert_eq!(entries.len(), want.len());
        for (e, w) in entries.iter().zip(want) {
            assert_eq!(e.header.pos, w["pos"].as_i64().unwrap());
            assert_eq!(e.header.size as i64, w["size"].as_i64().unwrap());
            assert_eq!(e.header.index, w["index"].as_i64().unwrap());
            assert_eq!(e.header.term, w["term"].as_i64().unwrap());
            assert_eq!(e.msg_physical_offset(), w["msgPhysicalOffset"].as_u64().unwrap());
            let u = store.index_unit(e.header.index).unwrap();
            assert_eq!((u.pos, u.size), (e.header.pos, e.header.size));
        }
        let cp = store.checkpoint().unwrap();
        assert_eq!(cp.committed_index, Some(144));
        assert_eq!(store.term().unwrap().curr_term, Some(1));
        // n1 voted for itself (README); compare with the dumped currterm text
        let want_leader =
            dl["currterm"].as_str().unwrap().lines().find_map(|l| l.strip_prefix("voteLeader=")).map(str::to_string);
        assert_eq!(store.term().unwrap().vote_leader, want_leader, "{s}");
    }
}
