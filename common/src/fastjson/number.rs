//! Java number and byte-array text conventions that fastjson output follows.

/// Java's `Double.toString` (as fastjson writes doubles, via its Ryu port: shortest
/// digits that round-trip): decimal notation for `1e-3 <= |v| < 1e7` with at least one
/// fraction digit (`1.0`, `0.001`), otherwise `d.dddE[-]n` (`1.0E7`, `1.0E-4`).
/// `NaN`/`Infinity`/`-Infinity` as Java prints them (fastjson writes `null` for those).
pub fn java_double_to_string(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    // Rust's `{:e}` prints the shortest round-trip digits, like Ryu.
    java_format(&format!("{v:e}"), v == 0.0, v.is_sign_negative())
}

/// Java's `Float.toString` (fastjson's `RyuFloat`), same layout as doubles.
pub fn java_float_to_string(v: f32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    java_format(&format!("{v:e}"), v == 0.0, v.is_sign_negative())
}

/// Lays out Rust's `d.ddde[-]n` text the way Java does.
fn java_format(sci: &str, zero: bool, negative: bool) -> String {
    let sign = if negative { "-" } else { "" };
    if zero {
        return format!("{sign}0.0");
    }
    let sci = sci.trim_start_matches('-');
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            let (int_part, frac) = if digits.len() > int_len {
                (digits[..int_len].to_string(), digits[int_len..].to_string())
            } else {
                (format!("{digits:0<int_len$}"), "0".to_string())
            };
            format!("{sign}{int_part}.{frac}")
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let frac = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{frac}E{exp}", &digits[..1])
    }
}

/// True when `text` is a plain integer (`-?digits`) whose magnitude exceeds 2^53-1, the
/// range fastjson's BrowserCompatible mode writes as a string.
pub(crate) fn is_unsafe_js_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits = digits.trim_start_matches('0');
    const MAX_SAFE: &str = "9007199254740991";
    digits.len() > MAX_SAFE.len() || (digits.len() == MAX_SAFE.len() && digits > MAX_SAFE)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64, as fastjson writes `byte[]`.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional, whitespace not allowed).
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_like_java() {
        for (v, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.75, "0.75"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (1234567.0, "1234567.0"),
            (1.0e7, "1.0E7"),
            (12345678.9, "1.23456789E7"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.5e-10, "1.5E-10"),
            (1.0e100, "1.0E100"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
        ] {
            assert_eq!(java_double_to_string(v), want, "{v}");
        }
        assert_eq!(java_double_to_string(f64::NAN), "NaN");
        assert_eq!(java_double_to_string(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(java_float_to_string(0.1f32), "0.1");
        assert_eq!(java_float_to_string(1.0e10f32), "1.0E10");
        assert_eq!(java_float_to_string(3.4028235e38f32), "3.4028235E38");
    }

    #[test]
    fn unsafe_integers() {
        assert!(!is_unsafe_js_integer("9007199254740991"));
        assert!(is_unsafe_js_integer("9007199254740992"));
        assert!(is_unsafe_js_integer("-9007199254740992"));
        assert!(!is_unsafe_js_integer("-9007199254740991"));
        assert!(is_unsafe_js_integer("123456789012345678901234567890"));
        assert!(!is_unsafe_js_integer("00000000000000000001"));
        assert!(!is_unsafe_js_integer("1.5e300"));
        assert!(!is_unsafe_js_integer("-"));
    }

    #[test]
    fn base64_round_trip() {
        for (raw, enc) in [(&b""[..], ""), (b"f", "Zg=="), (b"fo", "Zm8="), (b"foo", "Zm9v"), (b"\xff\x00\x10", "/wAQ")]
        {
            assert_eq!(base64_encode(raw), enc);
            assert_eq!(base64_decode(enc).unwrap(), raw);
        }
        assert!(base64_decode("a*").is_none());
    }
}
