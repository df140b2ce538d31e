//! A lenient JSON parser accepting what fastjson 1.2.x accepts with its default
//! parser features (and what it writes): unquoted number and object keys, unquoted
//! identifier keys, single-quoted strings, arbitrary/trailing commas, comments, big
//! numbers with `L`/`D`-style suffixes. It never panics; nesting deeper than
//! [`MAX_DEPTH`] is an error so hostile input cannot exhaust the stack.

use std::fmt;

use super::value::{Key, Object, Value};

/// Deepest nesting of arrays/objects (object keys included) accepted.
pub const MAX_DEPTH: usize = 512;

/// A parse failure with the byte offset where it was detected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses JSON bytes, which must be UTF-8 (the error gives the offset of the first
/// invalid byte).
pub fn parse_bytes(bytes: &[u8]) -> Result<Value, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => parse(s),
        Err(e) => Err(ParseError { offset: e.valid_up_to(), message: "invalid UTF-8".into() }),
    }
}

/// Parses one JSON value (surrounding whitespace and a leading BOM allowed).
pub fn parse(text: &str) -> Result<Value, ParseError> {
    let mut p = Parser { src: text, bytes: text.as_bytes(), pos: 0, depth: 0 };
    if text.starts_with('\u{FEFF}') {
        p.pos = '\u{FEFF}'.len_utf8();
    }
    p.skip_ws()?;
    let v = p.value()?;
    p.skip_ws()?;
    if p.pos < p.bytes.len() {
        return Err(p.err("unexpected trailing characters"));
    }
    Ok(v)
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> ParseError {
        ParseError { offset: self.pos, message: msg.to_string() }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> Result<(), ParseError> {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x08 => self.pos += 1,
                b'/' => self.skip_comment()?,
                _ => break,
            }
        }
        Ok(())
    }

    fn skip_comment(&mut self) -> Result<(), ParseError> {
        match self.bytes.get(self.pos + 1) {
            Some(b'/') => {
                self.pos += 2;
                while let Some(b) = self.peek() {
                    self.pos += 1;
                    if b == b'\n' {
                        break;
                    }
                }
                Ok(())
            }
            Some(b'*') => {
                let start = self.pos;
                match self.src.get(self.pos + 2..).and_then(|rest| rest.find("*/")) {
                    Some(end) => {
                        self.pos += 2 + end + 2;
                        Ok(())
                    }
                    None => Err(ParseError { offset: start, message: "unterminated comment".into() }),
                }
            }
            _ => Err(self.err("unexpected '/'")),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object().map(Value::Object),
            Some(b'[') => self.array(),
            Some(q @ (b'"' | b'\'')) => self.string(q).map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            let end = self.pos + word.len();
            // `truex` is not `true` followed by garbage we silently accept.
            if self.bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
                return Err(self.err("invalid literal"));
            }
            self.pos = end;
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        self.enter()?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                None => return Err(self.err("unterminated array")),
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                // fastjson's AllowArbitraryCommas: `[1,,2,]` is `[1,2]`.
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                Some(_) => {}
            }
            items.push(self.value()?);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                None => return Err(self.err("unterminated array")),
                Some(_) => return Err(self.err("expected ',' or ']'")),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn object(&mut self) -> Result<Object, ParseError> {
        self.enter()?;
        self.pos += 1; // '{'
        let mut entries: Vec<(Key, Value)> = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                None => return Err(self.err("unterminated object")),
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                Some(_) => {}
            }
            let key = self.key()?;
            self.skip_ws()?;
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':' after object key"));
            }
            self.pos += 1;
            self.skip_ws()?;
            let value = self.value()?;
            entries.push((key, value));
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                None => return Err(self.err("unterminated object")),
                Some(_) => return Err(self.err("expected ',' or '}'")),
            }
        }
        self.depth -= 1;
        Ok(Object::from_entries_dedup(entries))
    }

    fn key(&mut self) -> Result<Key, ParseError> {
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.string(q).map(Key::Str),
            Some(b'-' | b'0'..=b'9') => self.number().map(Key::Num),
            Some(b'{') => self.object().map(Key::Obj),
            Some(b'[') => Err(self.err("array used as an object key is not supported")),
            Some(_) => {
                // Unquoted identifier key (AllowUnQuotedFieldNames).
                let start = self.pos;
                let rest = &self.src[start..];
                let len: usize = rest
                    .char_indices()
                    .take_while(|&(i, c)| c == '_' || c == '$' || c.is_alphabetic() || (i > 0 && c.is_alphanumeric()))
                    .map(|(_, c)| c.len_utf8())
                    .sum();
                if len == 0 {
                    return Err(self.err("expected an object key"));
                }
                self.pos += len;
                Ok(Key::Str(rest[..len].to_string()))
            }
            None => Err(self.err("unterminated object")),
        }
    }

    /// Number text: `-?digits(.digits)?([eE][+-]?digits)?`, then an optional Java type
    /// suffix (`L`, `S`, `B`, `F`, `D`) that fastjson tolerates and we drop. The text is
    /// kept as written (fastjson would re-format decimals through BigDecimal: `1e5`
    /// comes back from Java as `1E+5`; RocketMQ never writes exponents).
    fn number(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.eat_digits() == 0 {
            return Err(self.err("invalid number"));
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.eat_digits() == 0 {
                return Err(self.err("invalid number: digit expected after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.eat_digits() == 0 {
                return Err(self.err("invalid number: digit expected in exponent"));
            }
        }
        let mut text = self.src[start..self.pos].to_string();
        match self.peek() {
            Some(b'L' | b'S' | b'B') => self.pos += 1,
            // `3F`/`3D` are floats to Java: written back as `3.0`.
            Some(b'F' | b'D') => {
                self.pos += 1;
                if !text.contains(['.', 'e', 'E']) {
                    text.push_str(".0");
                }
            }
            _ => {}
        }
        Ok(text)
    }

    fn eat_digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn string(&mut self, quote: u8) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        // UTF-16 units from consecutive `\u` escapes, so surrogate pairs join.
        let mut units: Vec<u16> = Vec::new();
        loop {
            // Copy the run of ordinary bytes at once. Delimiters are ASCII, so the run
            // boundaries are char boundaries of the (valid UTF-8) input.
            let run_start = self.pos;
            while self.peek().is_some_and(|b| b != quote && b != b'\\') {
                self.pos += 1;
            }
            if self.pos > run_start {
                flush_units(&mut units, &mut out);
                out.push_str(&self.src[run_start..self.pos]);
            }
            match self.peek() {
                None => return Err(ParseError { offset: open, message: "unterminated string".into() }),
                Some(b) if b == quote => {
                    self.pos += 1;
                    flush_units(&mut units, &mut out);
                    return Ok(out);
                }
                Some(_) => self.escape(&mut out, &mut units)?,
            }
        }
    }

    fn escape(&mut self, out: &mut String, units: &mut Vec<u16>) -> Result<(), ParseError> {
        let at = self.pos;
        self.pos += 1; // backslash
        let Some(e) = self.peek() else {
            return Err(self.err("unterminated string"));
        };
        self.pos += 1;
        if e == b'u' {
            let v = self.hex(4).ok_or_else(|| ParseError { offset: at, message: "invalid \\u escape".into() })?;
            units.push(v as u16);
            return Ok(());
        }
        flush_units(units, out);
        let c = match e {
            b'"' => '"',
            b'\'' => '\'',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\x08',
            b'f' | b'F' => '\x0c',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'v' => '\x0b',
            b'0'..=b'7' => char::from(e - b'0'),
            b'x' => {
                let v = self.hex(2).ok_or_else(|| ParseError { offset: at, message: "invalid \\x escape".into() })?;
                char::from(v as u8)
            }
            _ => return Err(ParseError { offset: at, message: "invalid escape".into() }),
        };
        out.push(c);
        Ok(())
    }

    fn hex(&mut self, n: usize) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + n)?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16 + (d as char).to_digit(16)?;
        }
        self.pos += n;
        Some(v)
    }
}

/// Appends pending UTF-16 units; unpaired surrogates become U+FFFD (a Rust string
/// cannot hold them; Java would keep the lone char).
fn flush_units(units: &mut Vec<u16>, out: &mut String) {
    if !units.is_empty() {
        out.extend(char::decode_utf16(units.drain(..)).map(|r| r.unwrap_or('\u{FFFD}')));
    }
}
