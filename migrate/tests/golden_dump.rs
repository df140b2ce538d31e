//! `dump` reproduces every record of each golden store-dump.json; `verify`
//! passes with the right message count and max physical offset.

mod common;

use std::collections::HashMap;

use base64::Engine;
use common::*;
use serde_json::Value;

fn dump_lines(dir: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["dump", "--json", "--decompress", "--include-blank"];
    args.extend_from_slice(extra);
    args.push(dir);
    let (code, out) = run(&args);
    assert_eq!(code, 0, "dump {dir} failed");
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn check_store(s: &str) {
    let path = golden(s);
    let dump = read_json(&path.join("store-dump.json"));
    let want = dump["messages"].as_array().unwrap();
    let got = dump_lines(path.to_str().unwrap(), &[]);
    let dl_dir = dump.as_object().unwrap().keys().find_map(|k| k.strip_prefix("dledger:")).map(str::to_string);
    // DLedger stores have no BLANK in the commitlog sense
    assert_eq!(got.len(), want.len(), "{s}: record count");
    for (g, w) in got.iter().zip(want) {
        let ctx = format!("{s} @ {}", w["physicalOffset"]);
        assert_eq!(g["physical_offset"], w["physicalOffset"], "{ctx}");
        assert_eq!(g["total_size"], w["totalSize"], "{ctx}");
        let file = match &dl_dir {
            Some(d) => format!("{d}/data/{}", w["file"].as_str().unwrap()),
            None => format!("commitlog/{}", w["file"].as_str().unwrap()),
        };
        assert_eq!(g["file"], Value::String(file), "{ctx}");
        assert_eq!(g["file_pos"], w["filePos"], "{ctx}");
        if w["kind"] == "BLANK" {
            assert_eq!(g["kind"], "BLANK", "{ctx}");
            continue;
        }
        let pairs = [
            ("topic", "topic"),
            ("queue_id", "queueId"),
            ("queue_offset", "queueOffset"),
            ("sys_flag", "sysFlag"),
            ("flag", "flag"),
            ("offset_msg_id", "offsetMsgId"),
            ("properties", "properties"),
            ("born_timestamp", "bornTimestamp"),
            ("born_host", "bornHost"),
            ("store_timestamp", "storeTimestamp"),
            ("store_host", "storeHost"),
            ("reconsume_times", "reconsumeTimes"),
            ("prepared_transaction_offset", "preparedTransactionOffset"),
            ("body_crc", "bodyCRC"),
            ("body_len", "storedBodyLength"),
            ("body_sha256", "storedBodySha256"),
            ("version", "messageVersion"),
            ("physical_offset_field", "physicalOffsetField"),
        ];
        for (a, b) in pairs {
            assert_eq!(g[a], w[b], "{ctx}: {a} vs {b}");
        }
        assert_eq!(g["uniq_key"], w.get("uniqKey").cloned().unwrap_or(Value::Null), "{ctx}");
        assert_eq!(g["tags"], w["properties"].get("TAGS").cloned().unwrap_or(Value::Null), "{ctx}");
        assert_eq!(g["keys"], w["properties"].get("KEYS").cloned().unwrap_or(Value::Null), "{ctx}");
        assert_eq!(g["compression"], w.get("compressionType").cloned().unwrap_or(Value::Null), "{ctx}");
        if let Some(len) = w.get("decompressedBodyLength") {
            assert_eq!(&g["decompressed_body_len"], len, "{ctx}");
            assert_eq!(g["decompressed_body_sha256"], w["decompressedBodySha256"], "{ctx}");
        }
        if let Some(i) = w.get("dledgerIndex") {
            assert_eq!(&g["dledger_index"], i, "{ctx}");
            assert_eq!(g["dledger_term"], w["dledgerTerm"], "{ctx}");
        }
        assert_eq!(w["bodyCrcOk"], true);
    }
}

#[test]
fn dump_reproduces_every_golden_record() {
    for s in STORES {
        check_store(s);
    }
}

#[test]
fn verify_passes_on_every_golden_store() {
    for s in STORES {
        let path = golden(s);
        let dump = read_json(&path.join("store-dump.json"));
        let manifest = read_json(&path.join("manifest.json"));
        let want_msgs = dump["messages"].as_array().unwrap().iter().filter(|m| m["kind"] == "MESSAGE").count();
        let (code, v) = verify_json(&path);
        assert_eq!(code, 0, "{s}: {v}");
        assert_eq!(v["ok"], true, "{s}");
        assert_eq!(v["messages"].as_u64().unwrap() as usize, want_msgs, "{s}");
        assert_eq!(v["max_physical_offset"], manifest["maxPhysicalOffsetEndOfLastMessage"], "{s}");
        assert_eq!(v["min_physical_offset"], 0, "{s}");
        assert_eq!(v["errors"].as_array().unwrap().len(), 0, "{s}");
        let fmt = if s.contains("dledger") { "dledger" } else { "plain" };
        assert_eq!(v["format"], fmt, "{s}");
        assert!(v["checked"]["cq_entries"].as_u64().unwrap() > 0, "{s}");
        assert!(v["checked"]["index_entries"].as_u64().unwrap() > 0, "{s}");
    }
}

#[test]
fn controller_event_log_is_read_as_raw_dledger() {
    let (code, v) = verify_json(&golden("java-5.3.3/controller-mode/controller"));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["format"], "dledger-raw");
}

#[test]
fn dump_filters_and_body() {
    let dir = golden("java-4.9.8/plain");
    let d = dir.to_str().unwrap();
    let all = dump_lines(d, &[]);
    let msgs: Vec<&Value> = all.iter().filter(|v| v.get("kind").is_none()).collect();
    let topic_c = dump_lines(d, &["--topic", "GoldenTopicC", "--queue", "0"]);
    assert_eq!(topic_c.len(), 770);
    assert!(topic_c.iter().all(|v| v["topic"] == "GoldenTopicC" && v["queue_id"] == 0));
    let range = dump_lines(d, &["--from", "1048576", "--to", "2097152"]);
    assert!(!range.is_empty());
    assert!(range.iter().all(|v| (1048576..2097152).contains(&v["physical_offset"].as_u64().unwrap())));
    let m = msgs[0];
    let by_id = dump_lines(d, &["--msg-id", m["offset_msg_id"].as_str().unwrap()]);
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0]["physical_offset"], m["physical_offset"]);
    let by_uniq = dump_lines(d, &["--msg-id", m["uniq_key"].as_str().unwrap()]);
    assert_eq!(by_uniq[0]["physical_offset"], m["physical_offset"]);
    let by_key = dump_lines(d, &["--key", "multiKey2-0"]);
    assert_eq!(by_key.len(), 1);
    assert_eq!(by_key[0]["physical_offset"], m["physical_offset"]);
    // --body gives the stored body, matching its sha256 and the UTF-8 text Java saw
    let with_body = dump_lines(d, &["--body", "--to", "2000"]);
    let dump = read_json(&dir.join("store-dump.json"));
    let by_off: HashMap<u64, &Value> =
        dump["messages"].as_array().unwrap().iter().map(|w| (w["physicalOffset"].as_u64().unwrap(), w)).collect();
    for v in &with_body {
        let b = base64::engine::general_purpose::STANDARD.decode(v["body"].as_str().unwrap()).unwrap();
        assert_eq!(rmq_migrate::dump::sha256_hex(&b), v["body_sha256"].as_str().unwrap());
        let w = by_off[&v["physical_offset"].as_u64().unwrap()];
        if let Some(t) = w.get("bodyUtf8") {
            assert_eq!(String::from_utf8(b).unwrap(), t.as_str().unwrap());
        }
    }
}

#[test]
fn inspect_reports_layout_and_state() {
    let (code, out) = run(&["inspect", "--json", golden("java-4.9.8/crashed").to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["layout"], "plain");
    assert_eq!(v["abort"]["present"], true);
    assert_eq!(v["lock"]["present"], true);
    assert_eq!(v["max_physical_offset"], 2256592);
    assert_eq!(v["commitlog_files"].as_array().unwrap().len(), 4);
    assert_eq!(v["checkpoint"]["physic_msg_timestamp"], 0);
    assert_eq!(v["topics"]["GoldenTopicC"]["0"]["messages"], 770);
    assert_eq!(v["topics"]["GoldenTopicC"]["0"]["cq_max_offset"], 770);
    assert!(v["config_files"].as_array().unwrap().iter().any(|f| f == "config/topics.json"));

    let (_, out) = run(&["inspect", "--json", golden("java-4.9.8/dledger/n0").to_str().unwrap()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["layout"], "dledger");
    assert_eq!(v["dledger"]["entries"], 145);
    assert_eq!(v["dledger"]["committed_index"], 144);
    assert_eq!(v["dledger"]["vote_leader"], "n0");

    let (_, out) = run(&["inspect", "--json", golden("java-5.3.3/v2-ipv6-embedded").to_str().unwrap()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["versions"], serde_json::json!(["V1", "V2"]));
    let (code, text) = run(&["inspect", golden("java-4.9.8/plain").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(text.contains("GoldenTopicA/2"));
}

#[test]
fn commitlog_spread_over_several_paths() {
    let t = copy_store("java-4.9.8/plain");
    let root = t.path();
    std::fs::create_dir_all(root.join("cl2")).unwrap();
    std::fs::rename(root.join("commitlog/00000000000001048576"), root.join("cl2/00000000000001048576")).unwrap();
    // explicit flag
    let paths = format!("{},{}", root.join("commitlog").display(), root.join("cl2").display());
    let (code, out) = run(&["verify", "--json", "--commitlog-path", &paths, root.to_str().unwrap()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["messages"], 974);
    // without it only one directory is seen: the gap is reported
    let (code, _) = verify_json(root);
    assert_eq!(code, 1);
    // from broker.conf (paths of the original machine are re-based onto DIR)
    let conf = std::fs::read_to_string(root.join("broker.conf")).unwrap();
    let old_root = conf.lines().find_map(|l| l.strip_prefix("storePathRootDir=")).unwrap().to_string();
    let conf: String = conf
        .lines()
        .filter(|l| !l.starts_with("storePathCommitLog="))
        .map(|l| format!("{l}\n"))
        .chain([format!("storePathCommitLog={old_root}/commitlog,{old_root}/cl2\n")])
        .collect();
    std::fs::write(root.join("broker.conf"), conf).unwrap();
    let (code, v) = verify_json(root);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["max_physical_offset"], 2256592);
    let lines = dump_lines(root.to_str().unwrap(), &["--from", "1048576", "--to", "1048577"]);
    assert_eq!(lines[0]["file"], "cl2/00000000000001048576");
}
