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
