//! Tests of the serde bridge.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BrokerData {
    cluster: String,
    broker_name: String,
    broker_addrs: BTreeMap<i64, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    enable_acting_master: bool,
    zone_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueData {
    broker_name: String,
    read_queue_nums: i32,
    write_queue_nums: i32,
    perm: i32,
    // Older peers spell it with the typo.
    #[serde(alias = "topicSynFlag")]
    topic_sys_flag: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TopicRouteData {
    order_topic_conf: Option<String>,
    queue_datas: Vec<QueueData>,
    broker_datas: Vec<BrokerData>,
    #[serde(default)]
    filter_server_table: HashMap<String, Vec<String>>,
}

const ROUTE_OLD: &str = r#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:19911"},"brokerName":"broker-w","cluster":"WireCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-w","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2}]}"#;
const ROUTE_NEW: &str = r#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:19911"},"brokerName":"broker-w","cluster":"WireCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-w","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2}]}"#;

#[test]
fn route_data_both_key_styles() {
    let a: TopicRouteData = from_json_str(ROUTE_OLD).unwrap();
    let b: TopicRouteData = from_json_str(ROUTE_NEW).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.broker_datas[0].broker_addrs[&0], "127.0.0.1:19911");
    assert_eq!(to_json_string(&a, &EmitOptions::COMPACT).unwrap(), ROUTE_OLD);
    assert_eq!(to_json_string(&a, &EmitOptions::STANDARD_JSON).unwrap(), ROUTE_NEW);
    let typo: QueueData =
        from_json_str(r#"{"brokerName":"b","perm":6,"readQueueNums":1,"topicSynFlag":3,"writeQueueNums":1}"#).unwrap();
    assert_eq!(typo.topic_sys_flag, 3);
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageQueue {
    topic: String,
    broker_name: String,
    queue_id: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OffsetTable {
    offset_table: IndexMap<MessageQueue, i64>,
}

#[test]
fn struct_keys() {
    let text = r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:5,{"brokerName":"b","queueId":1,"topic":"t"}:6}}"#;
    let t: OffsetTable = from_json_str(text).unwrap();
    let mq = MessageQueue { topic: "t".into(), broker_name: "b".into(), queue_id: 1 };
    assert_eq!(t.offset_table[&mq], 6);
    assert_eq!(to_json_string(&t, &EmitOptions::COMPACT).unwrap(), text);
    // A HashMap target works too, and so does the quoted ("standard JSON") key form.
    let h: HashMap<String, HashMap<MessageQueue, i64>> = from_json_str(text).unwrap();
    assert_eq!(h["offsetTable"][&mq], 6);
    let quoted = to_json_string(&t, &EmitOptions { quote_non_string_keys: true, ..EmitOptions::COMPACT }).unwrap();
    assert!(
        quoted.starts_with(r#"{"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"t\"}":5"#),
        "{quoted}"
    );
    let back: OffsetTable = from_json_str(&quoted).unwrap();
    assert_eq!(back, t);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(non_snake_case)]
struct Unsorted {
    zeta: i32,
    alpha: Option<i32>,
    #[serde(default)]
    Middle: (),
    beta: Option<String>,
    #[serde(rename = "Upper")]
    upper: bool,
}

#[test]
fn fields_sorted_nulls_omitted() {
    let v = Unsorted { zeta: 1, alpha: None, Middle: (), beta: Some("b".into()), upper: true };
    assert_eq!(to_json_string(&v, &EmitOptions::COMPACT).unwrap(), r#"{"Upper":true,"beta":"b","zeta":1}"#);
    let mut m: IndexMap<String, Option<i32>> = IndexMap::new();
    m.insert("x".into(), None);
    m.insert("y".into(), Some(2));
    assert_eq!(to_json_string(&m, &EmitOptions::COMPACT).unwrap(), r#"{"y":2}"#);
    let back: Unsorted = from_json_str(r#"{"zeta":1,"Upper":false,"unknown":{"deep":[1]}}"#).unwrap();
    assert_eq!(back, Unsorted { zeta: 1, alpha: None, Middle: (), beta: None, upper: false });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(clippy::enum_variant_names)]
enum ConsumeType {
    #[serde(rename = "CONSUME_ACTIVELY")]
    Actively,
    #[serde(rename = "CONSUME_PASSIVELY")]
    Passively,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Coerced {
    queue_id: i32,
    offset: i64,
    big: u64,
    unit_mode: bool,
    flag: bool,
    ratio: f64,
    text: String,
    text2: String,
    raw: String,
    consume_type: ConsumeType,
    by_ordinal: ConsumeType,
    #[serde(default)]
    missing: Vec<String>,
    nulled: Vec<i32>,
    tags: HashSet<String>,
}

#[test]
fn fastjson_coercions() {
    let text = r#"{"queueId":"4","offset":"1491978653614","big":"18446744073709551615","unitMode":"true","flag":1,
        "ratio":"0.5","text":12,"text2":true,"raw":{"a":[1,2]},"consumeType":"CONSUME_ACTIVELY","byOrdinal":1,
        "nulled":null,"tags":["a","b","a"]}"#;
    let c: Coerced = from_json_str(text).unwrap();
    assert_eq!((c.queue_id, c.offset, c.big), (4, 1_491_978_653_614, u64::MAX));
    assert!(c.unit_mode && c.flag);
    assert_eq!((c.ratio, c.text.as_str(), c.text2.as_str(), c.raw.as_str()), (0.5, "12", "true", r#"{"a":[1,2]}"#));
    assert_eq!((c.consume_type, c.by_ordinal), (ConsumeType::Actively, ConsumeType::Passively));
    assert!(c.missing.is_empty() && c.nulled.is_empty());
    assert_eq!(c.tags.len(), 2);
    let e = from_json_str::<Coerced>(&text.replace(r#""4""#, r#""x""#)).unwrap_err();
    assert!(e.to_string().contains("\"x\""), "{e}");
    let e = from_json_str::<HashMap<String, u8>>(r#"{"a":300}"#).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    // Decimals truncate into integers like fastjson's casts.
    assert_eq!(from_json_str::<i32>("-2.9").unwrap(), -2);
    // extFields-style maps: every value to a string.
    let ext: HashMap<String, String> = from_json_str(r#"{"queueId":4,"sysFlag":true,"topic":"t"}"#).unwrap();
    assert_eq!((ext["queueId"].as_str(), ext["sysFlag"].as_str()), ("4", "true"));
}

#[test]
fn integer_keys() {
    let m: HashMap<i32, i64> = from_json_str(r#"{0:5,"1":7,2:12}"#).unwrap();
    assert_eq!((m[&0], m[&1], m[&2]), (5, 7, 12));
    let s: BTreeMap<String, i64> = from_json_str(r#"{0:5,1:7}"#).unwrap();
    assert_eq!(s["1"], 7);
    let mut ordered: IndexMap<u64, String> = IndexMap::new();
    ordered.insert(10, "a".into());
    ordered.insert(2, "b".into());
    assert_eq!(to_json_string(&ordered, &EmitOptions::COMPACT).unwrap(), r#"{10:"a",2:"b"}"#);
    assert_eq!(to_json_string(&ordered, &EmitOptions::STANDARD_JSON).unwrap(), r#"{"2":"b","10":"a"}"#);
    let back: IndexMap<u64, String> = from_json_str(r#"{10:"a",2:"b"}"#).unwrap();
    assert_eq!(back, ordered);
    assert!(from_json_str::<HashMap<i32, i64>>(r#"{"x":1}"#).is_err());
}

#[test]
fn floats_and_big_numbers() {
    #[derive(Serialize)]
    struct F {
        a: f64,
        b: f64,
        c: f32,
        nan: f64,
        big: u64,
    }
    let f = F { a: 1.0, b: 1.0e7, c: 0.1, nan: f64::NAN, big: u64::MAX };
    assert_eq!(
        to_json_string(&f, &EmitOptions::COMPACT).unwrap(),
        r#"{"a":1.0,"b":1.0E7,"big":18446744073709551615,"c":0.1}"#
    );
    assert_eq!(
        to_json_string(&f, &EmitOptions::STANDARD_JSON).unwrap(),
        r#"{"a":1.0,"b":1.0E7,"big":"18446744073709551615","c":0.1}"#
    );
}

#[test]
fn raw_values_keep_number_text() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        attrs: Value,
        obj: Object,
    }
    let text = r#"{"attrs":{"n":1.50,"big":123456789012345678901234567890,1:{"k":"v"}},"obj":{"x":[1,"2"]}}"#;
    let h: Holder = from_json_str(text).unwrap();
    assert_eq!(h.attrs.get("n").and_then(Value::as_number_text), Some("1.5"));
    assert_eq!(h.attrs.get("big").and_then(Value::as_number_text), Some("123456789012345678901234567890"));
    // Serializing keeps exact text (through our serializer) and number keys.
    let v = parse(text).unwrap();
    assert_eq!(to_value(&v).unwrap(), v);
    assert_eq!(to_json_string(&v, &EmitOptions::COMPACT).unwrap(), text);
    // serde_json sees canonical integers as integers.
    let plain = serde_json::to_string(&parse(r#"{"a":1,"b":[true,null,"s"]}"#).unwrap()).unwrap();
    assert_eq!(plain, r#"{"a":1,"b":[true,null,"s"]}"#);
}

#[test]
fn enums_and_variants() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum E {
        Unit,
        New(i32),
        Tuple(i32, String),
        Struct { z: i32, a: i32 },
    }
    let all = vec![E::Unit, E::New(1), E::Tuple(2, "x".into()), E::Struct { z: 1, a: 2 }];
    let text = to_json_string(&all, &EmitOptions::COMPACT).unwrap();
    assert_eq!(text, r#"["Unit",{"New":1},{"Tuple":[2,"x"]},{"Struct":{"a":2,"z":1}}]"#);
    assert_eq!(from_json_str::<Vec<E>>(&text).unwrap(), all);
}

#[test]
fn unsupported_keys_error() {
    let mut m: HashMap<Vec<i32>, i32> = HashMap::new();
    m.insert(vec![1], 1);
    assert!(to_value(&m).is_err());
}

// ---- golden config files through typed structs ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataVersion {
    counter: i64,
    state_version: Option<i64>,
    timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TopicConfig {
    attributes: Option<IndexMap<String, String>>,
    order: bool,
    perm: i32,
    read_queue_nums: i32,
    topic_filter_type: String,
    topic_name: String,
    topic_sys_flag: i32,
    write_queue_nums: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TopicsFile {
    topic_config_table: IndexMap<String, TopicConfig>,
    data_version: DataVersion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OffsetsFile {
    data_version: Option<DataVersion>,
    group_topic_map: Option<IndexMap<String, Vec<String>>>,
    offset_table: IndexMap<String, IndexMap<i32, i64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DelayFile {
    data_version: Option<DataVersion>,
    offset_table: IndexMap<i32, i64>,
}

fn golden_config(name_ends: &[&str]) -> Vec<PathBuf> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/golden"));
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            if p.is_dir() {
                stack.push(p);
            } else if name_ends.iter().any(|s| name == *s) && dir.ends_with("config") {
                out.push(p);
            }
        }
    }
    if out.is_empty() {
        println!("note: no golden files under {}; skipped", root.display());
    }
    out.sort();
    out
}

fn round_trip<T: Serialize + serde::de::DeserializeOwned>(names: &[&str]) -> usize {
    let files = golden_config(names);
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let typed: T = from_json_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let opts = if text.contains('\n') { EmitOptions::PRETTY } else { EmitOptions::COMPACT };
        assert_eq!(to_json_string(&typed, &opts).unwrap(), text, "{}", path.display());
    }
    files.len()
}

#[test]
fn golden_files_through_typed_structs() {
    let n = round_trip::<TopicsFile>(&["topics.json", "topics.json.bak"])
        + round_trip::<OffsetsFile>(&["consumerOffset.json", "consumerOffset.json.bak"])
        + round_trip::<DelayFile>(&["delayOffset.json", "delayOffset.json.bak"]);
    println!("{n} golden files reproduced through serde structs");
}
