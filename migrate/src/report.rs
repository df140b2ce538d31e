//! Problems found in a store, reported as `{file, offset, error}`.

use serde::Serialize;

/// One problem: the file (relative to the store root when below it), the byte
/// offset inside that file, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub file: String,
    pub offset: u64,
    pub error: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} @ {}: {}", self.file, self.offset, self.error)
    }
}
