//! Golden-data lookup shared by the integration tests of `rmq-store` and `rmq-migrate`
//! (not part of the public API).

use std::path::{Path, PathBuf};

/// The golden data written by real Java brokers: `<workspace>/../shared/golden`.
pub const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/golden");

/// Every golden broker store (the 5.3.3 controller's event log is not one).
pub const STORES: &[&str] = &[
    "java-4.9.8/plain",
    "java-4.9.8/crashed",
    "java-4.9.8/master-slave/master",
    "java-4.9.8/master-slave/slave",
    "java-4.9.8/diverged/slave-ahead/master",
    "java-4.9.8/diverged/slave-ahead/slave",
    "java-4.9.8/diverged/slave-behind/master",
    "java-4.9.8/diverged/slave-behind/slave",
    "java-4.9.8/ipv6-embedded",
    "java-4.9.8/dledger/n0",
    "java-4.9.8/dledger/n1",
    "java-4.9.8/dledger/n2",
    "java-5.3.3/controller-mode/broker-c-n0",
    "java-5.3.3/controller-mode/broker-c-n1",
    "java-5.3.3/v2-ipv6-embedded",
];

/// `GOLDEN/<s>`.
pub fn golden(s: &str) -> PathBuf {
    Path::new(GOLDEN).join(s)
}

/// Copies a directory tree; golden files are read-only, the copies are made
/// writable. Panics on any I/O error (tests only).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
    for e in std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            let mut perm = std::fs::metadata(&to).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&to, perm).unwrap();
        }
    }
}
