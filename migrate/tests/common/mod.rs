//! Helpers shared by the migrate integration tests.
#![allow(dead_code)]

use std::path::Path;

use clap::Parser;
use rmq_migrate::cli::Cli;

#[allow(unused_imports)] // not every test binary uses every item
pub use rmq_store::testutil::{golden, STORES};

pub fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

/// Runs the CLI in-process; returns (exit code, stdout).
pub fn run(args: &[&str]) -> (i32, String) {
    let mut argv = vec!["rmq-migrate"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("valid arguments");
    let mut out = Vec::new();
    let code = rmq_migrate::run_with(&cli, &mut out);
    (code, String::from_utf8(out).expect("utf-8 output"))
}

/// Runs `verify --json` in-process and parses its object.
pub fn verify_json(dir: &Path) -> (i32, serde_json::Value) {
    let (code, out) = run(&["verify", "--json", dir.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    (code, v)
}

use rmq_store::testutil::copy_dir;

/// A writable copy of a golden store in a temp dir (golden data stays untouched).
pub fn copy_store(s: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    copy_dir(&golden(s), t.path());
    t
}

/// Overwrites bytes of `file` at `pos`.
pub fn patch(file: &Path, pos: u64, bytes: &[u8]) {
    let mut b = std::fs::read(file).unwrap();
    b[pos as usize..pos as usize + bytes.len()].copy_from_slice(bytes);
    std::fs::write(file, b).unwrap();
}
