//! Helpers shared by the integration tests of `rmq-broker` and `compat-tests`
//! (not part of the public API).

use std::path::Path;

use crate::config::BrokerSettings;

/// Rewrites the broker.conf of a store copied to `root` so it points at the
/// copy (`storePathRootDir`, `storePathCommitLog`), listens on an ephemeral
/// loopback port and registers with no name server; keys named in `set`
/// that the file has get the given value. Then loads it like `mqbroker -c`,
/// requiring every key to be known.
pub fn settings_for_copy(root: &Path, set: &[(&str, &str)]) -> BrokerSettings {
    let conf = root.join("broker.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("");
        match key {
            "storePathRootDir" => out.push_str(&format!("storePathRootDir={}\n", root.display())),
            "storePathCommitLog" => out.push_str(&format!("storePathCommitLog={}\n", root.join("commitlog").display())),
            "listenPort" => out.push_str("listenPort=0\nbindAddress=127.0.0.1\n"),
            "namesrvAddr" => {}
            _ => match set.iter().find(|(k, _)| *k == key) {
                Some((k, v)) => out.push_str(&format!("{k}={v}\n")),
                None => out.push_str(&format!("{line}\n")),
            },
        }
    }
    std::fs::write(&conf, out).unwrap();
    let mut s = BrokerSettings::defaults();
    assert!(s.apply_file(&conf).unwrap().is_empty(), "every key of {} is known", conf.display());
    s.finish().unwrap();
    s
}
