//! Typed custom headers <-> `extFields`, with Java's decoding rules:
//! missing required (`@CFNotNull`) fields are an error naming the field;
//! values are strings on the wire; booleans follow `Boolean.parseBoolean`.

use thiserror::Error;

use super::command::{ExtFields, RemotingCommand};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Java's text for `@CFNotNull` fields that are absent.
    #[error("the custom field <{0}> is null")]
    Missing(&'static str),
    #[error("the custom field <{field}> has invalid value {value:?}")]
    Invalid { field: &'static str, value: String },
}

/// A header that can be read from a command's `extFields`.
pub trait FromExtFields: Sized {
    fn from_ext(ext: &ExtFields) -> Result<Self, HeaderError>;

    fn from_command(cmd: &RemotingCommand) -> Result<Self, HeaderError> {
        static EMPTY: std::sync::OnceLock<ExtFields> = std::sync::OnceLock::new();
        Self::from_ext(cmd.ext_fields.as_ref().unwrap_or_else(|| EMPTY.get_or_init(ExtFields::default)))
    }
}

/// A header that writes its non-null fields into `extFields`.
pub trait ToExtFields {
    fn to_ext(&self, ext: &mut ExtFields);

    /// Installs the header on `cmd`; like Java, a header with only null fields still yields `{}`.
    fn apply_to(&self, cmd: &mut RemotingCommand) {
        let ext = cmd.ext_fields.get_or_insert_with(ExtFields::default);
        self.to_ext(ext);
    }
}

/// Field value parsing, shared by the `ext_header!` macro.
pub mod field {
    use super::{ExtFields, HeaderError};

    fn raw<'a>(ext: &'a ExtFields, name: &str) -> Option<&'a str> {
        // An empty string decodes to null in both Java serializations.
        ext.get(name).map(String::as_str).filter(|s| !s.is_empty())
    }

    pub fn string(ext: &ExtFields, name: &'static str) -> Option<String> {
        raw(ext, name).map(str::to_string)
    }

    pub fn int<T: std::str::FromStr>(ext: &ExtFields, name: &'static str) -> Result<Option<T>, HeaderError> {
        match raw(ext, name) {
            None => Ok(None),
            Some(v) => {
                v.trim().parse::<T>().map(Some).map_err(|_| HeaderError::Invalid { field: name, value: v.to_string() })
            }
        }
    }

    /// `Boolean.parseBoolean`: "true" in any case is true, anything else false.
    pub fn boolean(ext: &ExtFields, name: &'static str) -> Option<bool> {
        raw(ext, name).map(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn required<T>(v: Option<T>, name: &'static str) -> Result<T, HeaderError> {
        v.ok_or(HeaderError::Missing(name))
    }
}

/// Declares a header struct whose fields map to `extFields` keys.
///
/// `req` fields are `@CFNotNull` (plain type), `opt` fields are `Option<T>`.
/// Kinds: `str`, `int` (any FromStr + Display number), `bool`.
#[macro_export]
macro_rules! ext_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $kind:ident $req:ident $field:ident : $ty:ty = $key:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $( pub $field: $crate::ext_header!(@ty $req $ty) ),*
        }

        impl $crate::codec::header::FromExtFields for $name {
            #[allow(unused_variables)]
            fn from_ext(ext: &$crate::codec::command::ExtFields) -> Result<Self, $crate::codec::header::HeaderError> {
                Ok($name {
                    $( $field: $crate::ext_header!(@get ext $kind $req $ty, $key) ),*
                })
            }
        }

        impl $crate::codec::header::ToExtFields for $name {
            #[allow(unused_variables)]
            fn to_ext(&self, ext: &mut $crate::codec::command::ExtFields) {
                $( $crate::ext_header!(@put ext $req self.$field, $key); )*
            }
        }
    };
    (@ty req $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@get $ext:ident str req $ty:ty, $key:literal) => {
        $crate::codec::header::field::required($crate::codec::header::field::string($ext, $key), $key)?
    };
    (@get $ext:ident str opt $ty:ty, $key:literal) => { $crate::codec::header::field::string($ext, $key) };
    (@get $ext:ident int req $ty:ty, $key:literal) => {
        $crate::codec::header::field::required($crate::codec::header::field::int::<$ty>($ext, $key)?, $key)?
    };
    (@get $ext:ident int opt $ty:ty, $key:literal) => { $crate::codec::header::field::int::<$ty>($ext, $key)? };
    (@get $ext:ident bool req $ty:ty, $key:literal) => {
        $crate::codec::header::field::required($crate::codec::header::field::boolean($ext, $key), $key)?
    };
    (@get $ext:ident bool opt $ty:ty, $key:literal) => { $crate::codec::header::field::boolean($ext, $key) };
    (@put $ext:ident req $v:expr, $key:literal) => { $ext.insert($key.to_string(), $v.to_string()); };
    (@put $ext:ident opt $v:expr, $key:literal) => {
        if let Some(v) = &$v { $ext.insert($key.to_string(), v.to_string()); }
    };
}
