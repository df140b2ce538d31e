//! Comparing one of our responses with the response Java sent for the same request.
//!
//! Header fields are compared one by one; JSON bodies are parsed with the lenient
//! fastjson parser ([`rmq_common::fastjson`], which reads fastjson's bare integer keys
//! and object keys) and compared as values, plus the written form of every map key
//! (quoted or bare) that both sides have. Anything a test
//! chooses not to compare must be named in its [`Policy`].

use std::collections::{BTreeSet, HashMap};

use rmq_common::fastjson;
use rmq_remoting::{RemotingCommand, SerializeType};
use serde_json::{Map, Number, Value};

/// How an object key was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyForm {
    /// `"0":` (or `'0':`, or an unquoted identifier, which fastjson reads alike)
    Quoted,
    /// `0:` (a number key)
    Bare,
    /// `{...}:` (fastjson's object-as-key)
    Composite,
}

/// One object key and the form it was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// JSON-pointer-like path of the object holding the key ("" for the root).
    pub path: String,
    pub key: String,
    pub form: KeyForm,
}

/// A body parsed for comparison: its value with every key as a string (an object key
/// becomes its compact JSON text), and the written form of every object key.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBody {
    pub value: Value,
    pub keys: Vec<KeyRecord>,
}

/// Escapes a key for use in a path (JSON pointer rules).
pub fn path_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Parses a (fastjson) JSON body with [`fastjson::parse`] and converts it for comparison.
pub fn parse_body(text: &str) -> Result<ParsedBody, String> {
    let v = fastjson::parse(text).map_err(|e| format!("fastjson: {e}"))?;
    let mut keys = Vec::new();
    let value = to_serde(&v, "", Some(&mut keys))?;
    Ok(ParsedBody { value, keys })
}

/// Converts to a serde_json value (numbers as serde_json numbers), recording each object
/// key's form under `path` after the keys inside its value. Keys of an object used as a
/// key are not recorded: they are part of the key text.
fn to_serde(v: &fastjson::Value, path: &str, mut keys: Option<&mut Vec<KeyRecord>>) -> Result<Value, String> {
    Ok(match v {
        fastjson::Value::Null => Value::Null,
        fastjson::Value::Bool(b) => Value::Bool(*b),
        fastjson::Value::Number(t) => {
            Value::Number(serde_json::from_str::<Number>(t).map_err(|_| format!("bad number {t:?}"))?)
        }
        fastjson::Value::String(s) => Value::String(s.clone()),
        fastjson::Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_serde(item, &format!("{path}/{i}"), keys.as_deref_mut()))
                .collect::<Result<_, _>>()?,
        ),
        fastjson::Value::Object(obj) => {
            let mut map = Map::new();
            for (k, item) in obj.iter() {
                let (key, form) = match k {
                    fastjson::Key::Str(s) => (s.clone(), KeyForm::Quoted),
                    fastjson::Key::Num(n) => (n.clone(), KeyForm::Bare),
                    fastjson::Key::Obj(o) => {
                        (to_serde(&fastjson::Value::Object(o.clone()), path, None)?.to_string(), KeyForm::Composite)
                    }
                };
                let child = format!("{path}/{}", path_segment(&key));
                let item = to_serde(item, &child, keys.as_deref_mut())?;
                if let Some(keys) = keys.as_deref_mut() {
                    keys.push(KeyRecord { path: path.to_string(), key: key.clone(), form });
                }
                map.insert(key, item); // `{0:..}` and `{"0":..}` in one object: last wins
            }
            Value::Object(map)
        }
    })
}

/// What a comparison leaves out. Every entry should come with a reason where it is built.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Do not compare the header `version`.
    pub ignore_version: bool,
    /// Do not compare the header serialization type.
    pub ignore_serialize_type: bool,
    /// Body paths (`/a/*/b`, `*` = any one segment) holding arrays of Java `Set`s: compared
    /// ignoring element order.
    pub unordered_arrays: Vec<String>,
    /// Body paths whose values are not compared at all.
    pub ignored_body_paths: Vec<String>,
}

/// One difference: `field` names the header field or the body path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub field: String,
    pub java: String,
    pub ours: String,
}

#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub diffs: Vec<Diff>,
    /// Bodies (both absent, or byte for byte) identical.
    pub body_identical: bool,
    /// Differences the policy tolerated (e.g. element order of a set), for the report.
    pub tolerated: Vec<String>,
}

fn diff(field: impl Into<String>, java: impl ToString, ours: impl ToString) -> Diff {
    Diff { field: field.into(), java: java.to_string(), ours: ours.to_string() }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    p.len() == s.len() && p.iter().zip(&s).all(|(a, b)| *a == "*" || a == b)
}

fn ext_map(cmd: &RemotingCommand) -> Option<Vec<(String, String)>> {
    cmd.ext_fields.as_ref().map(|m| {
        let mut v: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort();
        v
    })
}

pub fn compare_response(java: &RemotingCommand, ours: &RemotingCommand, policy: &Policy) -> Comparison {
    let mut c = Comparison::default();
    let d = &mut c.diffs;
    if java.code != ours.code {
        d.push(diff("code", java.code, ours.code));
    }
    if java.flag != ours.flag {
        d.push(diff("flag", java.flag, ours.flag));
    }
    if java.remark != ours.remark {
        d.push(diff("remark", format!("{:?}", java.remark), format!("{:?}", ours.remark)));
    }
    if java.language != ours.language {
        d.push(diff("language", java.language.name(), ours.language.name()));
    }
    if java.version != ours.version && !policy.ignore_version {
        d.push(diff("version", java.version, ours.version));
    }
    if java.serialize_type != ours.serialize_type {
        if policy.ignore_serialize_type {
            c.tolerated.push(format!(
                "serializeType {} vs ours {}",
                java.serialize_type.name(),
                ours.serialize_type.name()
            ));
        } else {
            d.push(diff("serializeType", java.serialize_type.name(), ours.serialize_type.name()));
        }
    }
    let (je, oe) = (ext_map(java), ext_map(ours));
    // A ROCKETMQ header cannot say "no extFields" apart from "empty extFields".
    let binary = java.serialize_type == SerializeType::RocketMq || ours.serialize_type == SerializeType::RocketMq;
    let ext_equal = if binary { je.clone().unwrap_or_default() == oe.clone().unwrap_or_default() } else { je == oe };
    if !ext_equal {
        d.push(diff("extFields", format!("{je:?}"), format!("{oe:?}")));
    }
    compare_bodies(java.body.as_deref(), ours.body.as_deref(), policy, &mut c);
    c
}

fn compare_bodies(java: Option<&[u8]>, ours: Option<&[u8]>, policy: &Policy, c: &mut Comparison) {
    c.body_identical = java == ours;
    let (j, o) = match (java, ours) {
        (None, None) => return,
        (Some(j), Some(o)) => (j, o),
        (j, o) => {
            let show =
                |b: Option<&[u8]>| b.map_or("<no body>".to_string(), |b| String::from_utf8_lossy(b).into_owned());
            c.diffs.push(diff("body", show(j), show(o)));
            return;
        }
    };
    let parsed_java = std::str::from_utf8(j).ok().and_then(|t| parse_body(t).ok());
    let Some(pj) = parsed_java else {
        // Not JSON: bytes must match.
        if j != o {
            c.diffs.push(diff("body (raw bytes)", String::from_utf8_lossy(j), String::from_utf8_lossy(o)));
        }
        return;
    };
    let po = match std::str::from_utf8(o).map_err(|e| e.to_string()).and_then(parse_body) {
        Ok(p) => p,
        Err(e) => {
            c.diffs.push(diff(
                "body (not JSON)",
                String::from_utf8_lossy(j),
                format!("{e}: {}", String::from_utf8_lossy(o)),
            ));
            return;
        }
    };
    diff_json("", &pj.value, &po.value, policy, c);
    compare_key_forms(&pj.keys, &po.keys, policy, &mut c.diffs);
}

fn show(v: Option<&Value>) -> String {
    v.map_or("<absent>".to_string(), Value::to_string)
}

fn diff_json(path: &str, j: &Value, o: &Value, policy: &Policy, c: &mut Comparison) {
    if policy.ignored_body_paths.iter().any(|p| path_matches(p, path)) {
        return;
    }
    match (j, o) {
        (Value::Object(jm), Value::Object(om)) => {
            let keys: BTreeSet<&String> = jm.keys().chain(om.keys()).collect();
            for k in keys {
                let child = format!("{path}/{}", path_segment(k));
                match (jm.get(k), om.get(k)) {
                    (Some(a), Some(b)) => diff_json(&child, a, b, policy, c),
                    (a, b) => {
                        if !policy.ignored_body_paths.iter().any(|p| path_matches(p, &child)) {
                            c.diffs.push(diff(format!("body {child}"), show(a), show(b)));
                        }
                    }
                }
            }
        }
        (Value::Array(ja), Value::Array(oa)) if policy.unordered_arrays.iter().any(|p| path_matches(p, path)) => {
            let sorted = |a: &Vec<Value>| {
                let mut v: Vec<String> = a.iter().map(Value::to_string).collect();
                v.sort();
                v
            };
            if sorted(ja) != sorted(oa) {
                c.diffs.push(diff(format!("body {path} (as a set)"), j, o));
            } else if ja != oa {
                c.tolerated.push(format!("body {path}: same elements, different order: java {j}, ours {o}"));
            }
        }
        (Value::Array(ja), Value::Array(oa)) if ja.len() == oa.len() => {
            for (i, (a, b)) in ja.iter().zip(oa).enumerate() {
                diff_json(&format!("{path}/{i}"), a, b, policy, c);
            }
        }
        _ => {
            if j != o {
                c.diffs.push(diff(format!("body {}", if path.is_empty() { "/" } else { path }), j, o));
            }
        }
    }
}

/// Where both bodies have the same key at the same path, it must be written the same way.
fn compare_key_forms(java: &[KeyRecord], ours: &[KeyRecord], policy: &Policy, out: &mut Vec<Diff>) {
    let ours: HashMap<(&str, &str), KeyForm> =
        ours.iter().map(|k| ((k.path.as_str(), k.key.as_str()), k.form)).collect();
    let name = |f: KeyForm| match f {
        KeyForm::Quoted => "quoted",
        KeyForm::Bare => "bare",
        KeyForm::Composite => "object",
    };
    for k in java {
        let child = format!("{}/{}", k.path, path_segment(&k.key));
        if policy.ignored_body_paths.iter().any(|p| path_matches(p, &child)) {
            continue;
        }
        if let Some(&form) = ours.get(&(k.path.as_str(), k.key.as_str())) {
            if form != k.form {
                out.push(diff(format!("body key form {child}"), name(k.form), name(form)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fastjson_bare_integer_keys() {
        let p = parse_body(r#"{"brokerAddrTable":{"b":{"brokerAddrs":{0:"a:1",2:"a:2"}}},"x":[1,-2.5,true,null]}"#)
            .unwrap();
        assert_eq!(
            p.value,
            json!({"brokerAddrTable":{"b":{"brokerAddrs":{"0":"a:1","2":"a:2"}}},"x":[1,-2.5,true,null]})
        );
        let bare: Vec<_> = p.keys.iter().filter(|k| k.form == KeyForm::Bare).collect();
        assert_eq!(bare.len(), 2);
        assert_eq!(bare[0].path, "/brokerAddrTable/b/brokerAddrs");
        assert_eq!(bare[0].key, "0");
    }

    #[test]
    fn object_keys_escapes_and_errors() {
        let p = parse_body(r#"{{"queueId":0,"topic":"t"}:5,'s':"\u00e9\n\ud83d\ude00",}"#).unwrap();
        assert_eq!(p.value[r#"{"queueId":0,"topic":"t"}"#], json!(5));
        assert_eq!(p.value["s"], json!("é\n😀"));
        assert_eq!(p.keys.len(), 2);
        assert_eq!(p.keys[0].form, KeyForm::Composite);
        for bad in ["{", "{\"a\" 1}", "[1 2]", "\"abc", "{a:}", "tru", "1 2", "{\"a\":\"\\u12\"}"] {
            assert!(parse_body(bad).is_err(), "{bad}");
        }
    }

    fn resp(body: &str) -> RemotingCommand {
        RemotingCommand { flag: 1, body: Some(body.as_bytes().to_vec().into()), ..Default::default() }
    }

    #[test]
    fn key_forms_sets_and_ignored_paths() {
        let policy = Policy {
            unordered_arrays: vec!["/clusterAddrTable/*".into()],
            ignored_body_paths: vec!["/dataVersion/timestamp".into()],
            ..Policy::default()
        };
        let java = resp(r#"{"a":{0:"x"},"clusterAddrTable":{"c":["b1","b2"]},"dataVersion":{"timestamp":1}}"#);
        let same = resp(r#"{"dataVersion":{"timestamp":2},"clusterAddrTable":{"c":["b2","b1"]},"a":{0:"x"}}"#);
        let c = compare_response(&java, &same, &policy);
        assert!(c.diffs.is_empty(), "{:?}", c.diffs);
        assert_eq!(c.tolerated.len(), 1);
        let quoted = resp(r#"{"a":{"0":"x"},"clusterAddrTable":{"c":["b1"]},"dataVersion":{"timestamp":1}}"#);
        let c = compare_response(&java, &quoted, &policy);
        let fields: Vec<&str> = c.diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["body /clusterAddrTable/c (as a set)", "body key form /a/0"]);
    }

    #[test]
    fn header_fields() {
        let java = RemotingCommand { flag: 1, version: 409, ..Default::default() };
        let mut ours =
            RemotingCommand { flag: 1, version: 479, serialize_type: SerializeType::RocketMq, ..Default::default() };
        ours.set_ext("k", "v");
        let c = compare_response(&java, &ours, &Policy { ignore_version: true, ..Policy::default() });
        let fields: Vec<&str> = c.diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["serializeType", "extFields"]);
    }
}
