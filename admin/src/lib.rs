//! mqadmin (in progress).
