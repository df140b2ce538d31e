//! The `java.util.Properties` text format, as `Properties.load(InputStream)` reads it.
//!
//! Every RocketMQ daemon reads its `-c FILE` with `Properties.load`, so operators' files
//! rely on its rules: ISO-8859-1 bytes, `#`/`!` comments, `=`/`:`/blank separators,
//! kept trailing blanks, backslash continuations and escapes. This module follows the
//! JDK 17 reader (what the golden Java brokers ran on) rule for rule, except that a
//! malformed `\uXXXX` escape is an error naming the line instead of an exception.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use thiserror::Error;

/// Parsed properties, in the order keys first appeared (a later duplicate replaces the
/// value but keeps the first position, like `put` on a `LinkedHashMap`).
pub type Properties = IndexMap<String, String>;

/// Why a properties text could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PropertiesError {
    /// A `\u` escape not followed by four hex digits (Java throws
    /// `IllegalArgumentException: Malformed \uxxxx encoding.` and loads nothing).
    #[error("line {line}: malformed \\uxxxx escape")]
    MalformedUnicodeEscape {
        /// 1-based number of the physical line where the logical line starts.
        line: usize,
    },
}

/// Error of [`load_file`]: names the file.
#[derive(Debug, Error)]
pub enum LoadFileError {
    /// The file could not be read.
    #[error("cannot read properties file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is malformed.
    #[error("properties file {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        #[source]
        source: PropertiesError,
    },
}

/// Reads a properties file (see [`parse`]).
pub fn load_file(path: impl AsRef<Path>) -> Result<Properties, LoadFileError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| LoadFileError::Io { path: path.to_path_buf(), source })?;
    parse(&bytes).map_err(|source| LoadFileError::Parse { path: path.to_path_buf(), source })
}

/// Parses properties text. Bytes are ISO-8859-1 (each byte is the char of the same
/// code), exactly as `Properties.load(InputStream)` decodes them; UTF-8 multi-byte
/// sequences therefore come out as several Latin-1 chars, as they do in Java.
pub fn parse(bytes: &[u8]) -> Result<Properties, PropertiesError> {
    let chars: Vec<char> = bytes.iter().map(|&b| b as char).collect();
    let mut reader = LineReader { src: &chars, pos: 0, line: 1, skip_lf: false };
    let mut props = Properties::new();
    while let Some((buf, line)) = reader.read_line() {
        let (key_end, value_start) = split_key_value(&buf);
        let key = unescape(&buf[..key_end]).ok_or(PropertiesError::MalformedUnicodeEscape { line })?;
        let value = unescape(&buf[value_start..]).ok_or(PropertiesError::MalformedUnicodeEscape { line })?;
        props.insert(key, value);
    }
    Ok(props)
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0c'
}

/// Yields logical lines: comments and blank lines dropped, continuations joined,
/// leading blanks removed. Escapes are still raw.
struct LineReader<'a> {
    src: &'a [char],
    pos: usize,
    /// Current physical line number (1-based).
    line: usize,
    /// The previous char was `\r`: a following `\n` belongs to the same line end.
    skip_lf: bool,
}

impl LineReader<'_> {
    fn next_char(&mut self) -> Option<char> {
        let c = *self.src.get(self.pos)?;
        self.pos += 1;
        Some(c)
    }

    fn read_line(&mut self) -> Option<(Vec<char>, usize)> {
        let mut buf: Vec<char> = Vec::new();
        let mut skip_white = true;
        let mut appended_line_begin = false;
        let mut preceding_backslash = false;
        let mut start_line = self.line;
        loop {
            let Some(c) = self.next_char() else {
                if buf.is_empty() {
                    return None;
                }
                // A backslash right before end of input is dropped.
                if preceding_backslash {
                    buf.pop();
                }
                return Some((buf, start_line));
            };
            if self.skip_lf {
                self.skip_lf = false;
                if c == '\n' {
                    continue;
                }
            }
            if skip_white {
                if is_blank(c) {
                    continue;
                }
                if !appended_line_begin && (c == '\r' || c == '\n') {
                    self.end_physical_line(c);
                    continue;
                }
                skip_white = false;
                appended_line_begin = false;
            }
            // Still at the start of a logical line (JDK 9+ tests the length, so after a
            // continuation that added nothing a comment may start here too).
            if buf.is_empty() && (c == '#' || c == '!') {
                self.skip_comment();
                skip_white = true;
                continue;
            }
            if c != '\n' && c != '\r' {
                if buf.is_empty() {
                    start_line = self.line;
                }
                buf.push(c);
                preceding_backslash = c == '\\' && !preceding_backslash;
                continue;
            }
            self.end_physical_line(c);
            if buf.is_empty() {
                skip_white = true;
                continue;
            }
            // Java stops right here when the terminator was the last byte, and then
            // returns the line even if dropping the backslash leaves it empty (an
            // empty key with an empty value).
            if self.pos >= self.src.len() && preceding_backslash {
                buf.pop();
                return Some((buf, start_line));
            }
            if !preceding_backslash {
                return Some((buf, start_line));
            }
            // Continuation: drop the backslash, skip the next line's leading blanks.
            buf.pop();
            skip_white = true;
            appended_line_begin = true;
            preceding_backslash = false;
        }
    }

    /// Accounts for a line terminator just read (a `\n` right after `\r` is the same one).
    fn end_physical_line(&mut self, c: char) {
        self.line += 1;
        self.skip_lf = c == '\r';
    }

    /// Consumes a comment up to and including its line end (comments never continue).
    fn skip_comment(&mut self) {
        while let Some(c) = self.next_char() {
            if c == '\n' || c == '\r' {
                self.end_physical_line(c);
                return;
            }
        }
    }
}

/// Finds where the key ends and the value starts in a logical line.
fn split_key_value(buf: &[char]) -> (usize, usize) {
    let limit = buf.len();
    let mut key_len = 0;
    let mut value_start = limit;
    let mut has_sep = false;
    let mut preceding_backslash = false;
    while key_len < limit {
        let c = buf[key_len];
        if (c == '=' || c == ':') && !preceding_backslash {
            value_start = key_len + 1;
            has_sep = true;
            break;
        } else if is_blank(c) && !preceding_backslash {
            value_start = key_len + 1;
            break;
        }
        preceding_backslash = c == '\\' && !preceding_backslash;
        key_len += 1;
    }
    // Blanks around the separator are ignored; one `=`/`:` after blanks is the separator.
    while value_start < limit {
        let c = buf[value_start];
        if !is_blank(c) {
            if !has_sep && (c == '=' || c == ':') {
                has_sep = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    (key_len, value_start)
}

/// Resolves escapes; `None` on a malformed `\uXXXX`.
fn unescape(raw: &[char]) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    // Java builds UTF-16; collect units so `\uD83D\uDE00` pairs become one char.
    let mut units: Vec<u16> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        i += 1;
        if c != '\\' {
            flush_units(&mut units, &mut out);
            out.push(c);
            continue;
        }
        let Some(&e) = raw.get(i) else {
            // Unreachable through the line reader; keep the backslash out like Java would.
            break;
        };
        i += 1;
        if e == 'u' {
            let hex = raw.get(i..i + 4)?;
            let mut v: u32 = 0;
            for h in hex {
                v = v * 16 + h.to_digit(16)?;
            }
            i += 4;
            units.push(v as u16);
            continue;
        }
        flush_units(&mut units, &mut out);
        out.push(match e {
            't' => '\t',
            'r' => '\r',
            'n' => '\n',
            'f' => '\x0c',
            other => other,
        });
    }
    flush_units(&mut units, &mut out);
    Some(out)
}

/// Appends pending UTF-16 units; unpaired surrogates (which Rust strings cannot
/// hold) become U+FFFD.
fn flush_units(units: &mut Vec<u16>, out: &mut String) {
    if !units.is_empty() {
        out.extend(char::decode_utf16(units.drain(..)).map(|r| r.unwrap_or('\u{FFFD}')));
    }
}

/// Writes properties as `key=value` lines, escaped the way `Properties.store` does
/// (so `Properties.load` and [`parse`] read back the same map): `\`, `=`, `:`, `#`, `!`,
/// TAB/LF/CR/FF escaped, spaces in keys and a leading space in values escaped,
/// anything outside printable ASCII as `\uXXXX`. No comment or date header.
pub fn to_text(props: &Properties) -> String {
    let mut out = String::new();
    for (k, v) in props {
        escape_into(&mut out, k, true);
        out.push('=');
        escape_into(&mut out, v, false);
        out.push('\n');
    }
    out
}

fn escape_into(out: &mut String, s: &str, is_key: bool) {
    for (idx, c) in s.chars().enumerate() {
        match c {
            ' ' if is_key || idx == 0 => out.push_str("\\ "),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04X}", unit));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "properties_tests.rs"]
mod tests;
