//! A lenient JSON reader for fastjson output, for comparing bodies as values.
//!
//! fastjson writes non-string map keys bare (`{0:"127.0.0.1:10911"}`) and object
//! keys as objects (`{{"brokerName":"b",...}:5}`); serde_json rejects both. This
//! reader accepts them (plus single-quoted strings and trailing commas, which
//! fastjson's parser also accepts), converts keys to strings (an object key
//! becomes its compact JSON text) and records, for every object key, the form it
//! was written in, so that tests can check we quote keys exactly where Java does.

use serde_json::{Map, Number, Value};

/// How an object key was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyForm {
    /// `"0":` (or `'0':`)
    Quoted,
    /// `0:` or `name:`
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

#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub value: Value,
    pub keys: Vec<KeyRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lenient JSON: {what} at byte {offset}")]
pub struct LenientJsonError {
    pub offset: usize,
    pub what: String,
}

/// Escapes a key for use in a path (JSON pointer rules).
pub fn path_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

pub fn parse(text: &str) -> Result<Parsed, LenientJsonError> {
    let mut p = Parser { s: text.as_bytes(), pos: 0, keys: Vec::new(), depth: 0 };
    p.ws();
    let value = p.value("")?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.err("trailing characters after the value"));
    }
    Ok(Parsed { value, keys: p.keys })
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    keys: Vec<KeyRecord>,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> LenientJsonError {
        LenientJsonError { offset: self.pos, what: what.to_string() }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), LenientJsonError> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn value(&mut self, path: &str) -> Result<Value, LenientJsonError> {
        self.ws();
        if self.depth > 256 {
            return Err(self.err("nesting too deep"));
        }
        match self.peek() {
            Some(b'{') => {
                self.depth += 1;
                let v = self.object(path);
                self.depth -= 1;
                v
            }
            Some(b'[') => {
                self.depth += 1;
                let v = self.array(path);
                self.depth -= 1;
                v
            }
            Some(q @ (b'"' | b'\'')) => self.string(q).map(Value::String),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value, LenientJsonError> {
        if self.s[self.pos..].starts_with(w.as_bytes()) {
            self.pos += w.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn number_text(&mut self) -> &str {
        let start = self.pos;
        while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }

    fn number(&mut self) -> Result<Value, LenientJsonError> {
        let start = self.pos;
        let t = self.number_text().to_string();
        // fastjson may write longs with an 'L' suffix in non-standard mode; accept and drop it.
        if self.peek() == Some(b'L') {
            self.pos += 1;
        }
        serde_json::from_str::<Number>(&t)
            .map(Value::Number)
            .map_err(|_| LenientJsonError { offset: start, what: format!("bad number {t:?}") })
    }

    fn string(&mut self, quote: u8) -> Result<String, LenientJsonError> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else { return Err(self.err("unterminated string")) };
            self.pos += 1;
            match c {
                c if c == quote => break,
                b'\\' => {
                    let Some(e) = self.peek() else { return Err(self.err("unterminated escape")) };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' | b'\'' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) && self.s[self.pos..].starts_with(b"\\u") {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3ff);
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }

    fn hex4(&mut self) -> Result<u32, LenientJsonError> {
        let h = self.s.get(self.pos..self.pos + 4).ok_or_else(|| self.err("truncated \\u escape"))?;
        let v = std::str::from_utf8(h).ok().and_then(|h| u32::from_str_radix(h, 16).ok());
        let v = v.ok_or_else(|| self.err("bad \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn key(&mut self, path: &str) -> Result<(String, KeyForm), LenientJsonError> {
        self.ws();
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => Ok((self.string(q)?, KeyForm::Quoted)),
            Some(b'{' | b'[') => {
                // The key object's own keys are not recorded: they are part of the key text.
                let saved = self.keys.len();
                let v = self.value(path)?;
                self.keys.truncate(saved);
                Ok((v.to_string(), KeyForm::Composite))
            }
            Some(b'-' | b'0'..=b'9') => Ok((self.number_text().to_string(), KeyForm::Bare)),
            Some(c) if c == b'_' || c == b'$' || c.is_ascii_alphabetic() => {
                let start = self.pos;
                while matches!(self.peek(), Some(c) if c == b'_' || c == b'$' || c.is_ascii_alphanumeric()) {
                    self.pos += 1;
                }
                Ok((String::from_utf8_lossy(&self.s[start..self.pos]).into_owned(), KeyForm::Bare))
            }
            _ => Err(self.err("expected an object key")),
        }
    }

    fn object(&mut self, path: &str) -> Result<Value, LenientJsonError> {
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(b',') if !map.is_empty() => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            let (key, form) = self.key(path)?;
            self.expect(b':')?;
            let child = format!("{path}/{}", path_segment(&key));
            let v = self.value(&child)?;
            self.keys.push(KeyRecord { path: path.to_string(), key: key.clone(), form });
            map.insert(key, v); // duplicate keys: last wins, like fastjson
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.err("expected ',' or '}' in object")),
            }
        }
    }

    fn array(&mut self, path: &str) -> Result<Value, LenientJsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            let v = self.value(&format!("{path}/{}", items.len()))?;
            items.push(v);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(self.err("expected ',' or ']' in array")),
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
        let p = parse(r#"{"brokerAddrTable":{"b":{"brokerAddrs":{0:"a:1",2:"a:2"}}},"x":[1,-2.5,true,null]}"#).unwrap();
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
        let p = parse(r#"{{"queueId":0,"topic":"t"}:5,'s':"\u00e9\n\ud83d\ude00",}"#).unwrap();
        assert_eq!(p.value[r#"{"queueId":0,"topic":"t"}"#], json!(5));
        assert_eq!(p.value["s"], json!("é\n😀"));
        assert_eq!(p.keys.len(), 2);
        assert_eq!(p.keys[0].form, KeyForm::Composite);
        for bad in ["{", "{\"a\" 1}", "[1 2]", "\"abc", "{a:}", "tru", "1 2", "{\"a\":\"\\u12\"}"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
