//! JSON the way fastjson (com.alibaba 1.2.x) reads and writes it.
//!
//! Every Java RocketMQ process serializes bodies and config files with fastjson, whose
//! output is not always standard JSON and whose layout clients and files depend on:
//! * non-string map keys are written unquoted (`{0:"addr"}`) and bean keys as objects
//!   (`{{"brokerName":"b","queueId":0,"topic":"t"}:5}`);
//! * bean properties come out sorted by name, null values are left out;
//! * `PrettyFormat` (config/*.json) uses TAB indents and keeps number-keyed entries on
//!   one line (`{0:5,1:7\n\t\t}`);
//! * the parser is lenient (single quotes, unquoted keys, extra commas).
//!
//! [`Value`] models that; [`parse`] reads it; [`to_string`] writes it; [`to_value`] /
//! [`from_value`] bridge to serde types with fastjson's conventions.

mod de;
mod emit;
mod number;
mod parse;
mod ser;
mod value;
mod value_serde;

#[cfg(test)]
mod tests_golden;
#[cfg(test)]
mod tests_serde;

use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

pub use de::from_value;
pub use emit::{to_string, EmitOptions};
pub use number::{java_double_to_string, java_float_to_string};
pub use parse::{parse, parse_bytes, ParseError, MAX_DEPTH};
pub use ser::{to_value, ValueSerializer};
pub use value::{Key, Object, Value};

/// Newtype name carrying a number's exact text through serde (see `value_serde`).
pub(crate) const NUMBER_TOKEN: &str = "$rmq_common::fastjson::Number";

/// Errors of the serde bridge and the conveniences.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum Error {
    /// The JSON text did not parse.
    #[error("invalid JSON {0}")]
    Parse(#[from] ParseError),
    /// The value does not fit the Rust type (or the type cannot be serialized).
    #[error("{0}")]
    Message(String),
}

impl serde::ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

/// Serializes `value` to fastjson text.
pub fn to_json_string<T: Serialize + ?Sized>(value: &T, opts: &EmitOptions) -> Result<String, Error> {
    Ok(to_string(&to_value(value)?, opts))
}

/// Parses fastjson text into a `T`.
pub fn from_json_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    from_value(parse(text)?)
}

/// Parses UTF-8 fastjson bytes (a remoting body) into a `T`.
pub fn from_json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    from_value(parse_bytes(bytes)?)
}
