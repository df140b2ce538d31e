//! The emitter: writes [`Value`]s byte for byte as fastjson 1.2.x `JSON.toJSONString`
//! does (default features: quoted field names, nulls skipped), with the options
//! RocketMQ uses (`PrettyFormat` for config files; `BrowserCompatible` +
//! `MapSortField` for the "standard JSON" route answer).

use super::number::is_unsafe_js_integer;
use super::value::{Key, Object, Value};

/// How to write JSON. `Default` is fastjson's default compact form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmitOptions {
    /// `PrettyFormat`: entries of objects with string keys on their own lines, TAB
    /// indentation, no space after `:`; number/object-keyed entries stay on one line
    /// with only the closing brace on a new line (`{0:5,1:7\n\t}`); no final newline.
    pub pretty: bool,
    /// Write number and object keys as strings (`{"0":"ip"}`); fastjson's
    /// `WriteNonStringKeyAsString`, implied by `BrowserCompatible` in fastjson.
    pub quote_non_string_keys: bool,
    /// `MapSortField`: sort object entries by key (see [`Object::sort_keys`]).
    pub sort_map_keys: bool,
    /// `BrowserCompatible`: escape `/` and every char outside printable ASCII as
    /// `\uXXXX`, and write integers beyond ±(2^53-1) as strings.
    pub browser_compatible: bool,
    /// In pretty mode, put each array element on its own line. fastjson does this for
    /// Java `List`s but not for `Set`s or arrays, which the model cannot tell apart:
    /// pick per document (RocketMQ's pretty files hold Sets, hence the `false` default).
    pub pretty_expand_arrays: bool,
}

impl EmitOptions {
    /// fastjson's default compact output (what RocketMQ sends on the wire).
    pub const COMPACT: EmitOptions = EmitOptions {
        pretty: false,
        quote_non_string_keys: false,
        sort_map_keys: false,
        browser_compatible: false,
        pretty_expand_arrays: false,
    };
    /// `toJson(true)`: how brokers write their config/*.json files.
    pub const PRETTY: EmitOptions = EmitOptions { pretty: true, ..Self::COMPACT };
    /// The name server's route answer for version >= V4_9_4 clients or
    /// `acceptStandardJsonOnly` (BrowserCompatible + QuoteFieldNames + MapSortField).
    pub const STANDARD_JSON: EmitOptions =
        EmitOptions { quote_non_string_keys: true, sort_map_keys: true, browser_compatible: true, ..Self::COMPACT };
}

/// Writes `value` as fastjson would.
pub fn to_string(value: &Value, opts: &EmitOptions) -> String {
    let mut out = String::new();
    Emitter { out: &mut out, opts }.value(value, 0);
    out
}

struct Emitter<'a> {
    out: &'a mut String,
    opts: &'a EmitOptions,
}

impl Emitter<'_> {
    fn newline(&mut self, indent: usize) {
        self.out.push('\n');
        for _ in 0..indent {
            self.out.push('\t');
        }
    }

    /// `indent` is fastjson's indent count when this value's serializer starts.
    fn value(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Null => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Number(t) => self.number(t),
            Value::String(s) => self.string(s),
            Value::Array(items) => self.array(items, indent),
            Value::Object(o) => self.object(o, indent),
        }
    }

    fn number(&mut self, text: &str) {
        if self.opts.browser_compatible && is_unsafe_js_integer(text) {
            self.out.push('"');
            self.out.push_str(text);
            self.out.push('"');
        } else {
            self.out.push_str(text);
        }
    }

    fn array(&mut self, items: &[Value], indent: usize) {
        if items.is_empty() {
            self.out.push_str("[]");
            return;
        }
        self.out.push('[');
        let expand = self.opts.pretty && self.opts.pretty_expand_arrays;
        // A List in pretty mode indents its items; Sets/arrays write them inline but
        // nested objects still see the current indent.
        let item_indent = if expand { indent + 1 } else { indent };
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            if expand {
                self.newline(item_indent);
            }
            self.value(item, item_indent);
        }
        if expand {
            self.newline(indent);
        }
        self.out.push(']');
    }

    fn object(&mut self, obj: &Object, indent: usize) {
        let sorted;
        let obj = if self.opts.sort_map_keys {
            let mut o = obj.clone();
            o.sort_keys();
            sorted = o;
            &sorted
        } else {
            obj
        };
        self.out.push('{');
        let inner = indent + 1;
        let mut wrote_any = false;
        for (key, value) in obj.iter().filter(|(_, v)| !v.is_null()) {
            if wrote_any {
                self.out.push(',');
            }
            wrote_any = true;
            match key {
                Key::Str(s) => {
                    if self.opts.pretty {
                        self.newline(inner);
                    }
                    self.string(s);
                }
                // Non-string keys: no line break before them, even in pretty mode.
                Key::Num(t) => {
                    if self.opts.quote_non_string_keys {
                        self.string(t);
                    } else {
                        self.number(t);
                    }
                }
                Key::Obj(k) => {
                    if self.opts.quote_non_string_keys {
                        // fastjson writes `JSON.toJSONString(key)` (default features) as a string.
                        let text = to_string(&Value::Object(k.clone()), &EmitOptions::COMPACT);
                        self.string(&text);
                    } else {
                        self.object(k, inner);
                    }
                }
            }
            self.out.push(':');
            self.value(value, inner);
        }
        // Like fastjson's MapSerializer: the closing line break depends on the map's
        // size, so an object holding only nulls prints as `{` newline `}`.
        if self.opts.pretty && !obj.is_empty() {
            self.newline(indent);
        }
        self.out.push('}');
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        if self.opts.browser_compatible {
            for c in s.chars() {
                match c {
                    '"' | '\\' | '/' => {
                        self.out.push('\\');
                        self.out.push(c);
                    }
                    '\x08' => self.out.push_str("\\b"),
                    '\x0c' => self.out.push_str("\\f"),
                    '\n' => self.out.push_str("\\n"),
                    '\r' => self.out.push_str("\\r"),
                    '\t' => self.out.push_str("\\t"),
                    ' '..='~' => self.out.push(c),
                    _ => {
                        let mut buf = [0u16; 2];
                        for unit in c.encode_utf16(&mut buf) {
                            self.push_u_escape(*unit);
                        }
                    }
                }
            }
        } else {
            for c in s.chars() {
                match c {
                    '"' => self.out.push_str("\\\""),
                    '\\' => self.out.push_str("\\\\"),
                    '\x08' => self.out.push_str("\\b"),
                    '\x0c' => self.out.push_str("\\f"),
                    '\n' => self.out.push_str("\\n"),
                    '\r' => self.out.push_str("\\r"),
                    '\t' => self.out.push_str("\\t"),
                    // Other C0 controls, DEL..U+009F, and the JS line separators.
                    '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}' => self.push_u_escape(c as u16),
                    _ => self.out.push(c),
                }
            }
        }
        self.out.push('"');
    }

    fn push_u_escape(&mut self, unit: u16) {
        self.out.push_str(&format!("\\u{unit:04X}"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn emit(text: &str, opts: &EmitOptions) -> String {
        to_string(&parse(text).unwrap(), opts)
    }

    #[test]
    fn compact_default() {
        let src = r#"{"brokerAddrs":{0:"127.0.0.1:19911",1:"127.0.0.1:19912"},"brokerName":"broker-w","n":null,"a":[1,null,true]}"#;
        assert_eq!(
            emit(src, &EmitOptions::COMPACT),
            r#"{"brokerAddrs":{0:"127.0.0.1:19911",1:"127.0.0.1:19912"},"brokerName":"broker-w","a":[1,null,true]}"#
        );
    }

    #[test]
    fn default_string_escaping() {
        let v =
            Value::String("q\" b\\ s/ \u{1} \u{b} \x7f \u{9f} \u{a0} é 中 \u{2028} \u{1F600} \t\n\r\x08\x0c".into());
        assert_eq!(
            to_string(&v, &EmitOptions::COMPACT),
            "\"q\\\" b\\\\ s/ \\u0001 \\u000B \\u007F \\u009F \u{a0} é 中 \\u2028 \u{1F600} \\t\\n\\r\\b\\f\""
        );
    }

    #[test]
    fn browser_compatible() {
        let v = parse(r#"{"s":"a/é\u0001😀","big":9007199254740992,"ok":9007199254740991,"neg":-9223372036854775808,"f":1.5e300}"#).unwrap();
        assert_eq!(
            to_string(&v, &EmitOptions { browser_compatible: true, ..EmitOptions::COMPACT }),
            r#"{"s":"a\/\u00E9\u0001\uD83D\uDE00","big":"9007199254740992","ok":9007199254740991,"neg":"-9223372036854775808","f":1.5e300}"#
        );
    }

    #[test]
    fn standard_json_route_form() {
        let src = r#"{"queueDatas":[{"brokerName":"b","perm":6}],"brokerDatas":[{"brokerAddrs":{1:"ip:2",0:"ip:1"},"cluster":"c"}],"filterServerTable":{}}"#;
        assert_eq!(
            emit(src, &EmitOptions::STANDARD_JSON),
            r#"{"brokerDatas":[{"brokerAddrs":{"0":"ip:1","1":"ip:2"},"cluster":"c"}],"filterServerTable":{},"queueDatas":[{"brokerName":"b","perm":6}]}"#
        );
    }

    #[test]
    fn object_keys() {
        let src = r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:5,{"brokerName":"b","queueId":1,"topic":"t"}:6}}"#;
        assert_eq!(emit(src, &EmitOptions::COMPACT), src);
        assert_eq!(
            emit(src, &EmitOptions { quote_non_string_keys: true, ..EmitOptions::COMPACT }),
            r#"{"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"t\"}":5,"{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"t\"}":6}}"#
        );
        assert_eq!(
            emit(src, &EmitOptions::PRETTY),
            "{\n\t\"offsetTable\":{{\n\t\t\t\"brokerName\":\"b\",\n\t\t\t\"queueId\":0,\n\t\t\t\"topic\":\"t\"\n\t\t}:5,{\n\t\t\t\"brokerName\":\"b\",\n\t\t\t\"queueId\":1,\n\t\t\t\"topic\":\"t\"\n\t\t}:6\n\t}\n}"
        );
    }

    #[test]
    fn pretty_layout() {
        let src = r#"{"a":{},"b":[],"c":{"x":1,"y":{"z":"w"}},"d":{2:1,3:1},"e":["s1","s2"],"f":[{"k":1}]}"#;
        assert_eq!(
            emit(src, &EmitOptions::PRETTY),
            "{\n\t\"a\":{},\n\t\"b\":[],\n\t\"c\":{\n\t\t\"x\":1,\n\t\t\"y\":{\n\t\t\t\"z\":\"w\"\n\t\t}\n\t},\n\t\"d\":{2:1,3:1\n\t},\n\t\"e\":[\"s1\",\"s2\"],\n\t\"f\":[{\n\t\t\"k\":1\n\t}]\n}"
        );
        let lists = EmitOptions { pretty_expand_arrays: true, ..EmitOptions::PRETTY };
        assert_eq!(
            emit(r#"{"e":["s1","s2"],"f":[{"k":1}]}"#, &lists),
            "{\n\t\"e\":[\n\t\t\"s1\",\n\t\t\"s2\"\n\t],\n\t\"f\":[\n\t\t{\n\t\t\t\"k\":1\n\t\t}\n\t]\n}"
        );
        assert_eq!(emit("[]", &EmitOptions::PRETTY), "[]");
        // A map holding only nulls: fastjson still breaks the line before `}`.
        assert_eq!(emit(r#"{"a":{"x":null}}"#, &EmitOptions::PRETTY), "{\n\t\"a\":{\n\t}\n}");
        assert_eq!(emit(r#"{"a":{"x":null}}"#, &EmitOptions::COMPACT), r#"{"a":{}}"#);
        assert_eq!(emit("{}", &EmitOptions::PRETTY), "{}");
    }

    #[test]
    fn sort_keys() {
        assert_eq!(
            emit(r#"{"b":1,"B":2,"a":{10:1,9:2,-1:3}}"#, &EmitOptions { sort_map_keys: true, ..EmitOptions::COMPACT }),
            r#"{"B":2,"a":{-1:3,9:2,10:1},"b":1}"#
        );
        // Mixed key kinds keep their order.
        assert_eq!(
            emit(r#"{"b":1,0:2}"#, &EmitOptions { sort_map_keys: true, ..EmitOptions::COMPACT }),
            r#"{"b":1,0:2}"#
        );
    }
}
