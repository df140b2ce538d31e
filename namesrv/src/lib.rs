//! Name server (in progress).
