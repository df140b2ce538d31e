//! Binding properties onto typed config structs, like Java's `MixAll.properties2Object`,
//! and printing them like `-p` (`MixAll.printObjectProperties`).
//!
//! Java calls every `setXxx` whose key (`xxx`) is present and silently keeps the
//! default when the value does not parse. We follow Java's conversions but report a
//! value that does not parse as [`ConfigError::Malformed`] naming the key: a broker
//! that quietly ignores `listenPort=10911 ` (trailing blank, kept by the properties
//! format) listens on the wrong port, which is worse than refusing to start.
//!
//! Conversions (Java setter argument types):
//! * `String`: trimmed like `String.trim()` (chars `<= ' '` at both ends).
//! * `i32`/`i64` (and the unsigned types we use for ports/sizes): `Integer.parseInt`
//!   rules: optional sign, ASCII digits, no blanks.
//! * `bool`: `true`/`false` in any case. Java's `Boolean.parseBoolean` turns anything
//!   else (including `true ` with a trailing blank) into `false`; we refuse it instead.
//! * `f64`/`f32`: `Double.parseDouble` rules, which (unlike the integer parsers) do
//!   trim blanks and accept a `d`/`f` suffix, `NaN` and `Infinity`.
//! * `Option<T>`: as `T`, wrapped in `Some`; an absent value prints as an empty string.

use thiserror::Error;

use crate::properties::Properties;

/// A value in a config file that cannot be used.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The value does not parse as the field's type. Java would have ignored the line
    /// and kept the default.
    #[error("config key `{key}`: invalid value {value:?}: expected {expected}")]
    Malformed {
        /// The property key.
        key: String,
        /// The raw value, as read from the file.
        value: String,
        /// What was expected, with a hint when blanks are the problem.
        expected: String,
    },
}

/// A config object whose fields can be set from properties (Java: a bean with setters).
pub trait ConfigObject {
    /// Sets the field bound to `key` from its raw property value. `Ok(false)` when the
    /// key is unknown to this object.
    fn set(&mut self, key: &str, raw: &str) -> Result<bool, ConfigError>;
    /// Every field as `(key, value)`, in declaration order, formatted like Java prints
    /// them (`String.valueOf`; absent values as an empty string).
    fn entries(&self) -> Vec<(&'static str, String)>;
}

/// A field type that can be read from a property value and printed back.
pub trait ConfigValue: Sized {
    /// Converts the raw value; on failure returns a description of what was expected.
    fn parse_config(raw: &str) -> Result<Self, String>;
    /// The value as Java's `String.valueOf` would print it.
    fn to_config_string(&self) -> String;
}

/// Java `String.trim()`: strips every char `<= ' '` (all ASCII controls, not just blanks).
pub fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Adds a hint when blanks around the value are the likely reason it was refused.
fn with_blank_hint(raw: &str, expected: &str) -> String {
    if java_trim(raw) != raw {
        format!(
            "{expected} (the value has leading/trailing whitespace, which a properties file keeps \
             as part of the value; remove it)"
        )
    } else {
        expected.to_string()
    }
}

macro_rules! int_config_value {
    ($($t:ty => $what:literal),* $(,)?) => {$(
        impl ConfigValue for $t {
            fn parse_config(raw: &str) -> Result<Self, String> {
                // Rust's integer parsing accepts exactly what Integer/Long.parseLong do for
                // ASCII input: optional sign, digits, nothing else.
                raw.parse::<$t>().map_err(|_| with_blank_hint(raw, $what))
            }
            fn to_config_string(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

int_config_value! {
    i32 => "a 32-bit integer",
    i64 => "a 64-bit integer",
    u16 => "an integer from 0 to 65535",
    u32 => "an integer from 0 to 4294967295",
    u64 => "a non-negative 64-bit integer",
    usize => "a non-negative integer",
}

impl ConfigValue for bool {
    fn parse_config(raw: &str) -> Result<Self, String> {
        if raw.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if raw.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(with_blank_hint(raw, "true or false"))
        }
    }
    fn to_config_string(&self) -> String {
        self.to_string()
    }
}

/// `Double.parseDouble`-compatible parsing (blanks trimmed, `d`/`f` suffix, `NaN`,
/// `Infinity`); hex floats are not supported.
fn parse_java_float(raw: &str) -> Option<f64> {
    let t = java_trim(raw);
    let (sign, body) = match t.as_bytes().first() {
        Some(b'-') => (-1.0, &t[1..]),
        Some(b'+') => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    match body {
        "NaN" => return Some(f64::NAN),
        "Infinity" => return Some(sign * f64::INFINITY),
        _ => {}
    }
    let body = body.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(body);
    // Rust would also take "inf"/"nan" spellings that Java refuses.
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    body.parse::<f64>().ok().map(|v| sign * v)
}

impl ConfigValue for f64 {
    fn parse_config(raw: &str) -> Result<Self, String> {
        parse_java_float(raw).ok_or_else(|| "a decimal number".to_string())
    }
    fn to_config_string(&self) -> String {
        crate::fastjson::java_double_to_string(*self)
    }
}

impl ConfigValue for f32 {
    fn parse_config(raw: &str) -> Result<Self, String> {
        parse_java_float(raw).map(|v| v as f32).ok_or_else(|| "a decimal number".to_string())
    }
    fn to_config_string(&self) -> String {
        crate::fastjson::java_float_to_string(*self)
    }
}

impl ConfigValue for String {
    fn parse_config(raw: &str) -> Result<Self, String> {
        Ok(java_trim(raw).to_string())
    }
    fn to_config_string(&self) -> String {
        self.clone()
    }
}

impl<T: ConfigValue> ConfigValue for Option<T> {
    fn parse_config(raw: &str) -> Result<Self, String> {
        T::parse_config(raw).map(Some)
    }
    fn to_config_string(&self) -> String {
        // printObjectProperties prints a null field as an empty string.
        self.as_ref().map(T::to_config_string).unwrap_or_default()
    }
}

/// Parses `raw` for `key`, turning a failure into [`ConfigError::Malformed`]
/// (used by [`config_object!`]).
pub fn parse_value<T: ConfigValue>(key: &str, raw: &str) -> Result<T, ConfigError> {
    T::parse_config(raw).map_err(|expected| ConfigError::Malformed {
        key: key.to_string(),
        value: raw.to_string(),
        expected,
    })
}

/// Lets `config_object!` defaults be written naturally: `"text"` for `String` and
/// `Option<String>` fields, plain literals for everything else.
pub trait IntoDefault<T> {
    /// Converts into the field's type.
    fn into_default(self) -> T;
}

impl<T> IntoDefault<T> for T {
    fn into_default(self) -> T {
        self
    }
}

impl IntoDefault<String> for &str {
    fn into_default(self) -> String {
        self.to_string()
    }
}

impl IntoDefault<Option<String>> for &str {
    fn into_default(self) -> Option<String> {
        Some(self.to_string())
    }
}

/// Declares a config struct: fields with their property key and Java default, plus
/// `Default`, `Clone`, `Debug`, `PartialEq` and [`ConfigObject`]. Field types must
/// implement [`ConfigValue`]. Fields are `pub`; `KEYS` lists the keys in order.
///
/// ```
/// rmq_common::config_object! {
///     /// Name server settings.
///     pub struct NamesrvConfig {
///         rocketmq_home: String = "rocketmqHome" => "",
///         listen_port: i32 = "listenPort" => 9876,
///         order_message_enable: bool = "orderMessageEnable" => false,
///     }
/// }
/// let c = NamesrvConfig::default();
/// assert_eq!(c.listen_port, 9876);
/// ```
#[macro_export]
macro_rules! config_object {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $key:literal => $default:expr
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                Self {
                    $( $field: <_ as $crate::config::IntoDefault<$ty>>::into_default($default), )*
                }
            }
        }

        impl $name {
            /// Property keys of every field, in declaration order.
            #[allow(dead_code)]
            pub const KEYS: &'static [&'static str] = &[$($key),*];
        }

        impl $crate::config::ConfigObject for $name {
            fn set(&mut self, key: &str, raw: &str) -> ::core::result::Result<bool, $crate::config::ConfigError> {
                match key {
                    $( $key => {
                        self.$field = $crate::config::parse_value::<$ty>(key, raw)?;
                        Ok(true)
                    } )*
                    _ => Ok(false),
                }
            }

            fn entries(&self) -> ::std::vec::Vec<(&'static str, ::std::string::String)> {
                ::std::vec![ $( ($key, $crate::config::ConfigValue::to_config_string(&self.$field)), )* ]
            }
        }
    };
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Keys no object knows (Java ignores them silently; callers should warn).
    pub unknown_keys: Vec<String>,
    /// Number of (key, object) assignments made.
    pub assignments: usize,
}

/// Applies every property to every object that knows its key (the same key may set
/// fields in several objects, e.g. `listenPort`), in file order. Stops at the first
/// malformed value; assignments made before it stay.
pub fn apply(props: &Properties, objects: &mut [&mut dyn ConfigObject]) -> Result<ApplyReport, ConfigError> {
    let mut report = ApplyReport::default();
    for (key, raw) in props {
        let mut known = false;
        for obj in objects.iter_mut() {
            if obj.set(key, raw)? {
                known = true;
                report.assignments += 1;
            }
        }
        if !known {
            report.unknown_keys.push(key.clone());
        }
    }
    Ok(report)
}

/// Every field of every object as `key=value` lines, like Java's `-p` output
/// (`MixAll.printObjectProperties`, one object after another).
pub fn print_entries(objects: &[&dyn ConfigObject]) -> String {
    let mut out = String::new();
    for obj in objects {
        for (k, v) in obj.entries() {
            out.push_str(k);
            out.push('=');
            out.push_str(&v);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
