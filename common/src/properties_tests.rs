//! Tests of `properties`. Expected values were checked against `java.util.Properties.load`
//! of OpenJDK 17.

use super::*;

fn kv(text: &str) -> Vec<(String, String)> {
    parse(text.as_bytes()).unwrap().into_iter().collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn separators_and_blanks() {
    assert_eq!(
        kv("a=1\nb:2\nc 3\nd = 4\ne\t:\t5\nf  =  = 6\ng\n  h=8\n"),
        pairs(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5"), ("f", "= 6"), ("g", ""), ("h", "8")])
    );
    // Only the first separator counts; later ones are value text.
    assert_eq!(kv("url=http://x:1/a=b"), pairs(&[("url", "http://x:1/a=b")]));
    // Whitespace then another separator: the `:` is swallowed as the separator.
    assert_eq!(kv("k : v"), pairs(&[("k", "v")]));
    assert_eq!(kv("k  v w"), pairs(&[("k", "v w")]));
    assert_eq!(kv("=v"), pairs(&[("", "v")]));
    assert_eq!(kv(":"), pairs(&[("", "")]));
}

#[test]
fn trailing_whitespace_is_kept() {
    assert_eq!(kv("listenPort=10911 \n"), pairs(&[("listenPort", "10911 ")]));
    assert_eq!(kv("a=b\t\x0c\n"), pairs(&[("a", "b\t\x0c")]));
    assert_eq!(kv("key   \n"), pairs(&[("key", "")]));
}

#[test]
fn comments() {
    assert_eq!(kv("# c\n! c2\n   # indented\nk=v # not a comment\n"), pairs(&[("k", "v # not a comment")]));
    // A comment ending in a backslash does not continue.
    assert_eq!(kv("# c \\\nk=v"), pairs(&[("k", "v")]));
    // `#` inside a key or after a continuation that added text is data.
    assert_eq!(kv("a#b=c\nx=1\\\n#2"), pairs(&[("a#b", "c"), ("x", "1#2")]));
    // Comment at EOF without newline.
    assert_eq!(kv("k=v\n#end"), pairs(&[("k", "v")]));
}

#[test]
fn continuation_lines() {
    assert_eq!(kv("a=1,\\\n    2,\\\n\t3\nb=x"), pairs(&[("a", "1,2,3"), ("b", "x")]));
    // Even number of backslashes: no continuation, the pair is one literal backslash.
    assert_eq!(kv("a=x\\\\\nb=y"), pairs(&[("a", "x\\"), ("b", "y")]));
    // Three backslashes: literal backslash + continuation.
    assert_eq!(kv("a=x\\\\\\\n y"), pairs(&[("a", "x\\y")]));
    // Continuation into an empty line ends the value.
    assert_eq!(kv("a=x\\\n\nb=y"), pairs(&[("a", "x"), ("b", "y")]));
    // Continuation at EOF.
    assert_eq!(kv("a=x\\"), pairs(&[("a", "x")]));
    assert_eq!(kv("a=x\\\n"), pairs(&[("a", "x")]));
    // Key continued onto the next line.
    assert_eq!(kv("lo\\\n  ng=v"), pairs(&[("long", "v")]));
    // CRLF after a continuation is one line end.
    assert_eq!(kv("a=1\\\r\n  2\r\nb=3"), pairs(&[("a", "12"), ("b", "3")]));
}

#[test]
fn line_endings() {
    assert_eq!(kv("a=1\rb=2\r\nc=3\n\rd=4"), pairs(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]));
    assert_eq!(kv("\n\n\r\r\n  \t\n"), pairs(&[]));
}

#[test]
fn escapes() {
    assert_eq!(
        kv("k\\ ey\\=x\\:y = a\\tb\\nc\\rd\\fe\\\\f\\qg\\u0041\\u00e9"),
        pairs(&[("k ey=x:y", "a\tb\nc\rd\x0ce\\fqgA\u{e9}")])
    );
    // Escaped leading blank in a value is kept.
    assert_eq!(kv("k=\\  v"), pairs(&[("k", "  v")]));
    // Surrogate pair escapes make one char.
    assert_eq!(kv("k=\\uD83D\\uDE00"), pairs(&[("k", "\u{1F600}")]));
    // Lone surrogate cannot live in a Rust string: replacement char.
    assert_eq!(kv("k=\\uD83Dx"), pairs(&[("k", "\u{FFFD}x")]));
}

#[test]
fn malformed_unicode_escape_names_line() {
    assert_eq!(parse(b"a=1\n\nb=\\u12\n"), Err(PropertiesError::MalformedUnicodeEscape { line: 3 }));
    assert_eq!(parse(b"a=1\r\n# c\r\nb=\\uZZZZ"), Err(PropertiesError::MalformedUnicodeEscape { line: 3 }));
    // The line where the logical line starts.
    assert_eq!(parse(b"a=1\nb=x\\\n  \\u1"), Err(PropertiesError::MalformedUnicodeEscape { line: 2 }));
    let e = parse(b"\\u").unwrap_err();
    assert_eq!(e.to_string(), "line 1: malformed \\uxxxx escape");
}

#[test]
fn bytes_are_latin1() {
    // UTF-8 "é" (C3 A9) reads as two Latin-1 chars, as in Java.
    let p = parse(b"k=\xc3\xa9\nz=\xff").unwrap();
    assert_eq!(p["k"], "\u{c3}\u{a9}");
    assert_eq!(p["z"], "\u{ff}");
}

#[test]
fn duplicates_last_wins_first_position() {
    let p = parse(b"a=1\nb=2\na=3").unwrap();
    assert_eq!(p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(), ["a=3", "b=2"]);
}

#[test]
fn shipped_namesrv_conf_with_xml_comment_block() {
    let text = "#\n# Licensed to the Apache Software Foundation\n<!-- junk -->\nlistenPort=9876\n";
    let p = parse(text.as_bytes()).unwrap();
    assert_eq!(p.get("<!--").map(String::as_str), Some("junk -->"));
    assert_eq!(p["listenPort"], "9876");
}

#[test]
fn to_text_escapes_and_round_trips() {
    let mut p = Properties::new();
    p.insert("plain".into(), "value with spaces ".into());
    p.insert("key with space".into(), " leading".into());
    p.insert("sep=:#!".into(), "a=b:c#d!e".into());
    p.insert("ctl".into(), "t\tn\nr\rf\x0cb\\".into());
    p.insert("uni".into(), "é€\u{1F600}".into());
    p.insert("empty".into(), String::new());
    let text = to_text(&p);
    assert!(text.starts_with("plain=value with spaces \nkey\\ with\\ space=\\ leading\n"), "{text}");
    assert!(text.contains("sep\\=\\:\\#\\!=a\\=b\\:c\\#d\\!e\n"), "{text}");
    assert!(text.contains("ctl=t\\tn\\nr\\rf\\fb\\\\\n"), "{text}");
    assert!(text.contains("uni=\\u00E9\\u20AC\\uD83D\\uDE00\n"), "{text}");
    assert!(text.is_ascii());
    assert_eq!(parse(text.as_bytes()).unwrap(), p);
}

#[test]
fn load_file_names_the_file() {
    let dir = std::env::temp_dir().join(format!("rmq-common-props-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.properties");
    std::fs::write(&good, "brokerName = b1\n").unwrap();
    assert_eq!(load_file(&good).unwrap()["brokerName"], "b1");
    let bad = dir.join("bad.properties");
    std::fs::write(&bad, "x=\\u00").unwrap();
    let msg = load_file(&bad).unwrap_err().to_string();
    assert!(msg.contains("bad.properties") && msg.contains("line 1"), "{msg}");
    let missing = dir.join("missing.properties");
    let msg = load_file(&missing).unwrap_err().to_string();
    assert!(msg.contains("missing.properties"), "{msg}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn never_panics_on_odd_input() {
    let samples: [&[u8]; 8] =
        [b"\\", b"\\\\\\", b"\\u", b"\r\\\r", b"#\\\r\n\\", b"=\\\n=", b"\\\n#x\n", b"\x00\xff\\ \\"];
    for s in samples {
        let _ = parse(s);
    }
}
