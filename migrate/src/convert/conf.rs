//! The broker.conf of a converted store: the same file with DLedger turned
//! off. Lines are kept as written; every change leaves the old line behind
//! as a comment, so the file says what was done.
//!
//! * `enableDLegerCommitLog` becomes `false`.
//! * `dLegerGroup`, `dLegerPeers`, `dLegerSelfId` (every `dLeger*` key),
//!   `preferredLeaderId`, `storePathDLedgerCommitLog` and `enableBatchPush`
//!   (DLedger-only settings) are commented out.
//! * DLedger mode ignores `brokerId` / `brokerRole` (the leader runs as
//!   master 0): a non-zero `brokerId` becomes 0 and `brokerRole=SLAVE`
//!   becomes `ASYNC_MASTER`, so the converted store starts as the master it
//!   was serving as.
//! * With `drop_commitlog_path`, `storePathCommitLog` is commented out (the
//!   converted commitlog sits in the default `<storePathRootDir>/commitlog`).

const MARK: &str = "# rmq-migrate convert-dledger:";

/// Key of a logical properties line (Java: up to the first unescaped `=`,
/// `:` or whitespace), None for comments and blank lines.
fn key_of(line: &str) -> Option<String> {
    let t = line.trim_start_matches([' ', '\t', '\x0c']);
    if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
        return None;
    }
    let mut key = String::new();
    let mut chars = t.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => key.extend(chars.next()),
            '=' | ':' | ' ' | '\t' | '\x0c' => break,
            _ => key.push(c),
        }
    }
    Some(key)
}

/// Whether a physical line continues on the next (odd number of trailing `\`).
fn continues(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

fn value_of(lines: &[&str]) -> String {
    // continuation lines lose their leading whitespace, as Java reads them
    let joined: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let l = if i + 1 < lines.len() { &l[..l.len() - 1] } else { l };
            if i == 0 {
                l
            } else {
                l.trim_start_matches([' ', '\t', '\x0c'])
            }
        })
        .collect();
    let first = joined.trim_start();
    let key_len = key_of(first).map(|k| k.len()).unwrap_or(0);
    first[key_len.min(first.len())..].trim_start_matches([' ', '\t', '=', ':']).trim().to_string()
}

/// The converted text and one line per change made.
pub fn convert_broker_conf(text: &str, drop_commitlog_path: bool) -> (String, Vec<String>) {
    let physical: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut changes = Vec::new();
    out.push_str(&format!(
        "{MARK} DLedger commitlog converted to a plain commitlog; replaced lines kept as comments\n"
    ));
    let mut i = 0;
    while i < physical.len() {
        let mut j = i + 1;
        while j < physical.len() && continues(physical[j - 1]) {
            j += 1;
        }
        let lines = &physical[i..j];
        i = j;
        let comment_out = |out: &mut String| {
            for l in lines {
                out.push_str(&format!("#{l}\n"));
            }
        };
        let Some(key) = key_of(lines[0]) else {
            for l in lines {
                out.push_str(l);
                out.push('\n');
            }
            continue;
        };
        let value = value_of(lines);
        let dledger_only = key.starts_with("dLeger")
            || matches!(key.as_str(), "preferredLeaderId" | "storePathDLedgerCommitLog" | "enableBatchPush");
        let replacement = match key.as_str() {
            "enableDLegerCommitLog" => Some("false"),
            "brokerId" if value != "0" => Some("0"),
            "brokerRole" if value.eq_ignore_ascii_case("SLAVE") => Some("ASYNC_MASTER"),
            _ => None,
        };
        if let Some(new) = replacement {
            out.push_str(&format!("{MARK} was:\n"));
            comment_out(&mut out);
            out.push_str(&format!("{key}={new}\n"));
            changes.push(format!("{key}: {value} -> {new}"));
        } else if dledger_only || (drop_commitlog_path && key == "storePathCommitLog") {
            out.push_str(&format!("{MARK} not used without DLedger:\n"));
            comment_out(&mut out);
            changes.push(format!("{key}={value} commented out"));
        } else {
            for l in lines {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    (out, changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_dledger_off_and_keeps_the_rest() {
        let src = "brokerName=RaftNode00\n# a comment\nenableDLegerCommitLog=true\ndLegerGroup=RaftNode00\n\
                   dLegerPeers=n0-127.0.0.1:1;\\\n  n1-127.0.0.1:2\ndLegerSelfId = n0\npreferredLeaderId=n0\n\
                   brokerId=2\nbrokerRole=SLAVE\nstorePathCommitLog=/x/commitlog\nlistenPort=10911\n";
        let (out, changes) = convert_broker_conf(src, true);
        let p = rmq_common::properties::parse(out.as_bytes()).unwrap();
        assert_eq!(p.get("enableDLegerCommitLog").map(String::as_str), Some("false"));
        assert_eq!(p.get("brokerId").map(String::as_str), Some("0"));
        assert_eq!(p.get("brokerRole").map(String::as_str), Some("ASYNC_MASTER"));
        assert_eq!(p.get("brokerName").map(String::as_str), Some("RaftNode00"));
        assert_eq!(p.get("listenPort").map(String::as_str), Some("10911"));
        for k in ["dLegerGroup", "dLegerPeers", "dLegerSelfId", "preferredLeaderId", "storePathCommitLog"] {
            assert!(!p.contains_key(k), "{k} still set");
        }
        // the continuation line is commented out too, not left as a stray key
        assert!(!p.keys().any(|k| k.contains("n1-127")));
        assert!(out.contains("#dLegerSelfId = n0"));
        assert!(
            changes.contains(&"dLegerPeers=n0-127.0.0.1:1;n1-127.0.0.1:2 commented out".to_string()),
            "{changes:?}"
        );
        assert_eq!(changes.len(), 8, "{changes:?}");
        let (out, _) = convert_broker_conf("brokerId=0\nstorePathCommitLog=/x\n", false);
        assert!(out.contains("\nbrokerId=0\nstorePathCommitLog=/x\n"));
    }
}
