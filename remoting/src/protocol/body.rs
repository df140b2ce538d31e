//! JSON bodies (fastjson shapes). Filled in below.
