//! Migration toolkit (being built).
