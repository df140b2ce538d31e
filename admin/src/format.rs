//! The slice of `java.util.Formatter` and of Java's number parsing that mqadmin's
//! output depends on.
//!
//! * `%-Ns` / `%Ns` pad by Java string length (UTF-16 units); a Java `null` prints
//!   as `null` (callers map `None` with [`or_null`]).
//! * `%W.Pf` rounds HALF_UP on the *shortest decimal representation* of the double
//!   (what `FormattedFloatingDecimal` does), whereas Rust's `{:.P}` rounds the exact
//!   binary value half-to-even: `String.format("%.2f", 0.125)` is `0.13` in Java and
//!   `format!("{:.2}", 0.125)` is `0.12` in Rust. [`fixed`] reproduces Java.
//! * `Long.parseLong`, `Double.parseDouble`, `Float.parseFloat`,
//!   `Boolean.parseBoolean` and `String.split` with Java's acceptance rules.

/// Java `String.length()`.
pub fn jlen(s: &str) -> usize {
    s.encode_utf16().count()
}

/// `%-Ns`: left-justified, padded with spaces to `width`.
pub fn left(s: &str, width: usize) -> String {
    let mut out = String::from(s);
    out.push_str(&" ".repeat(width.saturating_sub(jlen(s))));
    out
}

/// `%Ns`: right-justified.
pub fn right(s: &str, width: usize) -> String {
    let mut out = " ".repeat(width.saturating_sub(jlen(s)));
    out.push_str(s);
    out
}

/// Java's `%s` of a possibly-null `String`.
pub fn or_null(s: Option<&str>) -> &str {
    s.unwrap_or("null")
}

/// `%.Pf` of a double (no width).
pub fn fixed(v: f64, precision: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    // Java: `Double.compare(value, 0.0) == -1`, true for -0.0 as well.
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if v.is_infinite() {
        return format!("{sign}Infinity");
    }
    let (digits, dec_exp) = shortest_digits(v.abs());
    format!("{sign}{}", layout_fixed(digits, dec_exp, precision))
}

/// `%W.Pf`: [`fixed`] right-justified to `width`.
pub fn fixed_w(v: f64, width: usize, precision: usize) -> String {
    right(&fixed(v, precision), width)
}

/// Shortest round-trip digits of a non-negative finite double and the decimal
/// exponent in Java's `FloatingDecimal` convention: value = 0.DIGITS x 10^exp.
fn shortest_digits(v: f64) -> (Vec<u8>, i32) {
    if v == 0.0 {
        return (vec![0], 0);
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
    (digits, exp + 1)
}

/// `FormattedFloatingDecimal.applyPrecision` (HALF_UP on the digit string) followed by
/// the `DECIMAL_FLOAT` layout and the Formatter's zero padding of the fraction.
fn layout_fixed(mut digits: Vec<u8>, mut dec_exp: i32, precision: usize) -> String {
    let keep = dec_exp + precision as i32;
    let n = digits.len() as i32;
    if keep < 0 {
        digits = vec![0];
        dec_exp = 0;
    } else if keep == 0 {
        if digits[0] >= 5 {
            digits = vec![1];
            dec_exp += 1;
        } else {
            digits = vec![0];
            dec_exp = 0;
        }
    } else if keep < n {
        let round_up = digits[keep as usize] >= 5;
        digits.truncate(keep as usize);
        if round_up {
            let mut i = digits.len();
            loop {
                if i == 0 {
                    digits.insert(0, 1);
                    dec_exp += 1;
                    break;
                }
                i -= 1;
                if digits[i] == 9 {
                    digits[i] = 0;
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
    }
    let digit_at = |pos: i32| -> char {
        // pos is the index into digits of the digit worth 10^(dec_exp - 1 - pos).
        if pos >= 0 && (pos as usize) < digits.len() {
            (b'0' + digits[pos as usize]) as char
        } else {
            '0'
        }
    };
    let mut out = String::new();
    if dec_exp <= 0 {
        out.push('0');
    } else {
        for pos in 0..dec_exp {
            out.push(digit_at(pos));
        }
    }
    if precision > 0 {
        out.push('.');
        for k in 0..precision as i32 {
            out.push(digit_at(dec_exp + k));
        }
    }
    out
}

/// `Long.parseLong`: optional sign, ASCII digits, no blanks, no overflow.
pub fn parse_long(s: Option<&str>) -> Result<i64, NumberFormatError> {
    let s = s.ok_or_else(NumberFormatError::null)?;
    s.parse::<i64>().map_err(|_| NumberFormatError::input(s))
}

/// `Integer.parseInt`.
pub fn parse_int(s: Option<&str>) -> Result<i32, NumberFormatError> {
    let s = s.ok_or_else(NumberFormatError::null)?;
    s.parse::<i32>().map_err(|_| NumberFormatError::input(s))
}

/// `Double.parseDouble`: surrounding blanks (chars <= ' ') ignored, optional sign,
/// `NaN`, `Infinity`, decimal with optional exponent and an optional `d`/`f` suffix.
/// Hexadecimal floating literals (`0x1p3`) are not accepted (Java accepts them).
pub fn parse_double(s: Option<&str>) -> Result<f64, NumberFormatError> {
    let raw = s.ok_or_else(NumberFormatError::null)?;
    let t = raw.trim_matches(|c: char| c <= ' ');
    if t.is_empty() {
        return Err(NumberFormatError { message: "empty String".into() });
    }
    let (neg, body) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let magnitude = match body {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        _ => {
            let body = body.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(body);
            if is_java_decimal(body) {
                body.parse::<f64>().ok()
            } else {
                None
            }
        }
    };
    match magnitude {
        Some(m) => Ok(if neg { -m } else { m }),
        None => Err(NumberFormatError::input(raw)),
    }
}

/// `Float.parseFloat`: same syntax as [`parse_double`], rounded once to `float`.
pub fn parse_float(s: Option<&str>) -> Result<f32, NumberFormatError> {
    let v = parse_double(s)?;
    if v.is_nan() || v.is_infinite() {
        return Ok(v as f32);
    }
    // Round the decimal text directly to f32 (double rounding through f64 could differ).
    let t = s.unwrap_or_default().trim_matches(|c: char| c <= ' ');
    let t = t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t);
    Ok(t.parse::<f32>().unwrap_or(v as f32))
}

/// `digits[.digits][(e|E)[sign]digits]` with at least one mantissa digit.
fn is_java_decimal(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
        return false;
    }
    match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && all_digits(e)
        }
    }
}

/// `Boolean.parseBoolean`: `true` in any letter case.
pub fn parse_boolean(s: Option<&str>) -> bool {
    s.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// `StringUtils.isNotBlank`.
pub fn is_not_blank(s: Option<&str>) -> bool {
    s.is_some_and(|v| !v.chars().all(char::is_whitespace))
}

/// `String.split(sep)` for a one-character literal separator: trailing empty
/// strings are dropped; a string without the separator yields itself.
pub fn java_split(s: &str, sep: char) -> Vec<String> {
    let mut parts: Vec<String> = s.split(sep).map(str::to_string).collect();
    while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() && !s.is_empty() {
        parts.clear();
    }
    parts
}

/// `String.trim()`: strips chars <= U+0020 at both ends.
pub fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `java.lang.NumberFormatException` with Java's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormatError {
    pub message: String,
}

impl NumberFormatError {
    fn input(s: &str) -> Self {
        NumberFormatError { message: format!("For input string: \"{s}\"") }
    }
    fn null() -> Self {
        NumberFormatError { message: "Cannot parse null string: null".into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_rounds_half_up_on_shortest_digits() {
        // Values checked against OpenJDK 17 String.format.
        assert_eq!(fixed(0.125, 2), "0.13");
        assert_eq!(fixed(2.675, 2), "2.68");
        assert_eq!(fixed(1.005, 2), "1.01");
        assert_eq!(fixed(0.0, 2), "0.00");
        assert_eq!(fixed(-0.0, 2), "-0.00");
        assert_eq!(fixed(-0.001, 2), "-0.00");
        assert_eq!(fixed(0.005, 2), "0.01");
        assert_eq!(fixed(0.0049, 2), "0.00");
        assert_eq!(fixed(0.0005, 2), "0.00");
        assert_eq!(fixed(9.995, 2), "10.00");
        assert_eq!(fixed(99.999, 2), "100.00");
        assert_eq!(fixed(0.17, 4), "0.1700");
        assert_eq!(fixed(123456789.0, 2), "123456789.00");
        assert_eq!(fixed(1e21, 1), "1000000000000000000000.0");
        assert_eq!(fixed(0.05, 1), "0.1");
        assert_eq!(fixed(0.25, 1), "0.3");
        assert_eq!(fixed(0.35, 1), "0.4");
        assert_eq!(fixed(1.5, 0), "2");
        assert_eq!(fixed(f64::NAN, 2), "NaN");
        assert_eq!(fixed(f64::NEG_INFINITY, 2), "-Infinity");
        // A float widened to double keeps its binary value: 0.1f = 0.10000000149011612.
        assert_eq!(fixed(0.1f32 as f64, 1), "0.1");
        assert_eq!(fixed_w(0.0, 9, 2), "     0.00");
        assert_eq!(fixed_w(498692.2142, 2, 2), "498692.21");
        assert_eq!(fixed_w(f64::INFINITY, 9, 2), " Infinity");
        assert_eq!(fixed(12345.675, 2), "12345.68");
        assert_eq!(fixed(0.045, 2), "0.05");
        assert_eq!(fixed(2.5e-4, 4), "0.0003");
        assert_eq!(fixed(1e-7, 2), "0.00");
        // `%.1f` of floats (widened to double first).
        assert_eq!(fixed(0.35f32 as f64, 1), "0.3");
        assert_eq!(fixed(123456789f32 as f64, 1), "123456792.0");
        assert_eq!(fixed(1e21f32 as f64, 1), "1000000020040877300000.0");
    }

    #[test]
    fn padding_counts_utf16_units() {
        assert_eq!(left("ab", 4), "ab  ");
        assert_eq!(right("ab", 4), "  ab");
        assert_eq!(left("abcdef", 4), "abcdef");
        assert_eq!(left("\u{1F600}", 4), "\u{1F600}  ");
        assert_eq!(or_null(None), "null");
    }

    #[test]
    fn java_number_parsing() {
        assert_eq!(parse_long(Some("-12")), Ok(-12));
        assert_eq!(parse_long(Some("+7")), Ok(7));
        assert!(parse_long(Some(" 1")).is_err());
        assert_eq!(parse_long(Some("x")).unwrap_err().message, "For input string: \"x\"");
        assert!(parse_long(None).is_err());
        assert_eq!(parse_double(Some(" 0.17 ")), Ok(0.17));
        assert_eq!(parse_double(Some("1e3")), Ok(1000.0));
        assert_eq!(parse_double(Some("2.5d")), Ok(2.5));
        assert_eq!(parse_double(Some(".5")), Ok(0.5));
        assert_eq!(parse_double(Some("5.")), Ok(5.0));
        assert_eq!(parse_double(Some("-Infinity")), Ok(f64::NEG_INFINITY));
        assert!(parse_double(Some("NaN")).unwrap().is_nan());
        for bad in ["inf", "nan", "", "1e", ".", "1.2.3", "0x10", "infinity"] {
            assert!(parse_double(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(parse_double(Some("")).unwrap_err().message, "empty String");
        assert_eq!(parse_float(Some("0.1")), Ok(0.1f32));
        assert!(parse_boolean(Some("TRUE")));
        assert!(!parse_boolean(Some("yes")));
        assert!(!parse_boolean(None));
    }

    #[test]
    fn split_like_java() {
        assert_eq!(java_split("a;b;", ';'), vec!["a", "b"]);
        assert_eq!(java_split(";a", ';'), vec!["", "a"]);
        assert_eq!(java_split("a;;b", ';'), vec!["a", "", "b"]);
        assert_eq!(java_split("a", ';'), vec!["a"]);
        assert_eq!(java_split("", ';'), vec![""]);
        assert!(java_split(";;", ';').is_empty());
    }
}
