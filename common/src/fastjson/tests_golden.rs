//! Parser/emitter tests, including byte-exact re-emission of JSON written by real Java
//! brokers (config files and wire captures under `shared/golden`).

use std::path::{Path, PathBuf};

use super::*;

fn golden_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/golden"));
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("note: {} missing; golden tests skipped", dir.display());
        None
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn golden_files(pred: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let Some(dir) = golden_dir() else { return Vec::new() };
    let mut all = Vec::new();
    walk(&dir, &mut all);
    all.into_iter().filter(|p| pred(p)).collect()
}

#[test]
fn golden_config_files_round_trip_byte_for_byte() {
    // Every file in a broker's config/ dir is fastjson output (*.json, *.bak and
    // transactionMetrics); slaves write some of them compact.
    let files = golden_files(|p| p.parent().and_then(|d| d.file_name()).is_some_and(|n| n == "config"));
    let mut checked = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let value = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let opts = if text.contains('\n') { EmitOptions::PRETTY } else { EmitOptions::COMPACT };
        let again = to_string(&value, &opts);
        assert_eq!(again, text, "{} differs after re-emission", path.display());
        // The compact form parses back to the same model.
        assert_eq!(parse(&to_string(&value, &EmitOptions::COMPACT)).unwrap(), value);
        checked += 1;
    }
    if golden_dir().is_some() {
        assert!(checked >= 100, "only {checked} golden config files found");
    }
    println!("{checked} golden config files re-emitted identically");
}

#[test]
fn golden_consumer_offsets_have_number_keys() {
    let files = golden_files(|p| p.ends_with("java-4.9.8/plain/config/consumerOffset.json"));
    for path in files {
        let v = parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let table = v.get("offsetTable").and_then(Value::as_object).unwrap();
        let q = table.get("GoldenTopicA@cg_golden_push").and_then(Value::as_object).unwrap();
        let keys: Vec<&Key> = q.keys().collect();
        assert_eq!(keys, [&Key::Num("0".into()), &Key::Num("1".into()), &Key::Num("2".into()), &Key::Num("3".into())]);
        assert_eq!(q.get("2").and_then(Value::as_i64), Some(12));
    }
}

#[test]
fn golden_wire_headers_and_bodies_round_trip() {
    // headerJson and complete JSON bodies of every captured frame: fastjson compact
    // output, or the route's "standard JSON" form for new clients.
    let files = golden_files(|p| p.to_string_lossy().ends_with(".summary.json"));
    let (mut headers, mut bodies) = (0, 0);
    for path in &files {
        let summary = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let Some(frames) = summary.get("frames").and_then(Value::as_array) else { continue };
        for f in frames {
            if let Some(h) = f.get("headerJson").and_then(Value::as_str) {
                let v = parse(h).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(to_string(&v, &EmitOptions::COMPACT), h, "{}", path.display());
                headers += 1;
            }
            let (Some(body), Some(len)) =
                (f.get("bodyPreview").and_then(Value::as_str), f.get("bodyLength").and_then(Value::as_u64))
            else {
                continue;
            };
            if body.len() as u64 != len || !(body.starts_with('{') || body.starts_with('[')) {
                continue; // truncated preview or not JSON
            }
            let Ok(v) = parse(body) else { continue };
            let compact = to_string(&v, &EmitOptions::COMPACT);
            let standard = to_string(&v, &EmitOptions::STANDARD_JSON);
            assert!(compact == body || standard == body, "{}: body not reproduced:\n{body}\n{compact}", path.display());
            bodies += 1;
        }
    }
    println!("{headers} headers and {bodies} bodies re-emitted identically");
}

#[test]
fn route_sample_in_both_key_styles() {
    let old = r#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:19911"},"brokerName":"broker-w","cluster":"WireCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-w","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2}]}"#;
    let new = r#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:19911"},"brokerName":"broker-w","cluster":"WireCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-w","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2}]}"#;
    let v = parse(old).unwrap();
    assert_eq!(to_string(&v, &EmitOptions::COMPACT), old);
    assert_eq!(to_string(&v, &EmitOptions::STANDARD_JSON), new);
    let addrs = v.get("brokerDatas").and_then(|a| a.as_array()).and_then(|a| a[0].get("brokerAddrs")).unwrap();
    assert_eq!(addrs.get("0").and_then(Value::as_str), Some("127.0.0.1:19911"));
    // The quoted form parses to string keys, which lookups treat alike.
    let w = parse(new).unwrap();
    let addrs = w.get("brokerDatas").and_then(|a| a.as_array()).and_then(|a| a[0].get("brokerAddrs")).unwrap();
    assert_eq!(addrs.get("0").and_then(Value::as_str), Some("127.0.0.1:19911"));
}

#[test]
fn lenient_inputs() {
    let v = parse("\u{FEFF} {'a' : 'x\\'y', b:1, $c_9:-2.5e-3, 7:true, -1:null, \"d\":[1,,2,], } ").unwrap();
    let o = v.as_object().unwrap();
    let keys: Vec<&Key> = o.keys().collect();
    assert_eq!(
        keys,
        [
            &Key::Str("a".into()),
            &Key::Str("b".into()),
            &Key::Str("$c_9".into()),
            &Key::Num("7".into()),
            &Key::Num("-1".into()),
            &Key::Str("d".into())
        ]
    );
    assert_eq!(o.get("a").and_then(Value::as_str), Some("x'y"));
    assert_eq!(o.get("$c_9").and_then(Value::as_number_text), Some("-2.5e-3"));
    assert_eq!(o.get("d"), Some(&Value::Array(vec![Value::Number("1".into()), Value::Number("2".into())])));
    // Whitespace kinds, comments, Java suffixes, big integers.
    let v = parse("[\t1L,\r\n2.5D /* c */, // line\n 123456789012345678901234567890, -0, 1E+2, 3F]").unwrap();
    let texts: Vec<&str> = v.as_array().unwrap().iter().filter_map(Value::as_number_text).collect();
    assert_eq!(texts, ["1", "2.5", "123456789012345678901234567890", "-0", "1E+2", "3.0"]);
    assert_eq!(v.as_array().unwrap()[2].as_u64(), None);
    assert_eq!(v.as_array().unwrap()[4].as_f64(), Some(100.0));
}

#[test]
fn string_escapes() {
    let v = parse(r#"["\u00e9\u4e2d\ud83d\ude00", "\"\\\/\b\f\n\r\t", "\ud83dx", "\x41\v\0", "raw	tab"]"#).unwrap();
    let s: Vec<&str> = v.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(s, ["é中😀", "\"\\/\x08\x0c\n\r\t", "\u{FFFD}x", "A\x0b\0", "raw\ttab"]);
}

#[test]
fn duplicate_keys_last_wins_in_first_position() {
    let v = parse(r#"{"a":1,"b":2,"a":3}"#).unwrap();
    assert_eq!(to_string(&v, &EmitOptions::COMPACT), r#"{"a":3,"b":2}"#);
}

#[test]
fn parse_errors_carry_offsets() {
    for (text, offset) in [
        ("", 0),
        ("{", 1),
        ("{\"a\" 1}", 5),
        ("[1 2]", 3),
        ("\"abc", 0),
        ("tru", 0),
        ("truex", 0),
        ("{\"a\":1}x", 7),
        ("[1.]", 3),
        ("[\"\\q\"]", 2),
        ("[\"\\u12\"]", 2),
        ("{[1]:2}", 1),
        ("/* x", 0),
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.offset, offset, "{text:?}: {e}");
        assert!(e.to_string().starts_with(&format!("at offset {offset}: ")));
    }
    let e = parse_bytes(b"{\"a\":\"\xff\"}").unwrap_err();
    assert_eq!((e.offset, e.message.as_str()), (6, "invalid UTF-8"));
}

#[test]
fn depth_limit() {
    let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
    assert!(parse(&ok).is_ok());
    let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
    assert!(parse(&deep).unwrap_err().message.contains("too deep"));
    let keys = "{".repeat(100_000);
    assert!(parse(&keys).is_err());
}

#[test]
fn never_panics_on_random_bytes() {
    // A tiny deterministic fuzz (xorshift) over JSON-ish alphabets and raw bytes.
    let alphabet: &[u8] = b"{}[]:,\"'\\u0123456789abcdefntrl-+.eE \t\r\n/*xX$_\xc3\xa9\xff";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..20_000 {
        let len = (next() % 40) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| if i % 5 == 0 { next() as u8 } else { alphabet[(next() % alphabet.len() as u64) as usize] })
            .collect();
        if let Ok(v) = parse_bytes(&bytes) {
            // Whatever parses must re-emit to text that parses and re-emits the same
            // (nulls in objects are dropped on the first emission).
            for opts in [
                EmitOptions::COMPACT,
                EmitOptions::PRETTY,
                EmitOptions { browser_compatible: true, ..EmitOptions::COMPACT },
            ] {
                let text = to_string(&v, &opts);
                let again = parse(&text).unwrap_or_else(|e| panic!("{bytes:?} -> {text}: {e}"));
                assert_eq!(to_string(&again, &opts), text, "{bytes:?}");
            }
        }
    }
}
