//! Environment conventions shared by the daemons: `ROCKETMQ_HOME`, `NAMESRV_ADDR`,
//! `;`-separated `host:port` lists and `~` paths.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use thiserror::Error;

/// Environment variable naming the installation directory (Java: `ROCKETMQ_HOME`,
/// overridable by `-Drocketmq.home.dir`).
pub const ROCKETMQ_HOME_ENV: &str = "ROCKETMQ_HOME";
/// Environment variable giving the default name server list (Java: `NAMESRV_ADDR`).
pub const NAMESRV_ADDR_ENV: &str = "NAMESRV_ADDR";

/// Reads a variable, treating unset, non-UTF-8 and blank alike as absent: Java's
/// `System.getenv` + `StringUtils.isBlank` checks make no difference between them.
fn non_blank_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `$ROCKETMQ_HOME`, if set and not blank.
pub fn rocketmq_home() -> Option<String> {
    non_blank_var(ROCKETMQ_HOME_ENV)
}

/// `$NAMESRV_ADDR`, if set and not blank.
pub fn namesrv_addr() -> Option<String> {
    non_blank_var(NAMESRV_ADDR_ENV)
}

/// `$HOME` (Java's `user.home`, which defaults many store paths: `~/store`, `~/logs`).
pub fn user_home() -> Option<PathBuf> {
    non_blank_var("HOME").map(PathBuf::from)
}

/// Replaces a leading `~` (alone or followed by `/`) with the home directory.
/// Java does no such expansion; this is for paths operators type on our command lines.
/// Other paths, and all paths when `$HOME` is unknown, are returned unchanged.
pub fn expand_home(path: &str) -> PathBuf {
    let rest = if path == "~" { Some("") } else { path.strip_prefix("~/") };
    match (rest, user_home()) {
        (Some(""), Some(home)) => home,
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// One `host:port` entry of an address list. The host is kept as written (a name or
/// an IP literal, without IPv6 brackets); it is not resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl HostPort {
    /// The socket address when the host is an IP literal (no name resolution).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.host.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, self.port))
    }
}

impl fmt::Display for HostPort {
    /// `host:port`, with brackets around IPv6 literals so the text parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A bad name server address list.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AddrError {
    /// The list has no entry at all.
    #[error("empty address list; expected host:port[;host:port...], e.g. \"127.0.0.1:9876;192.168.0.1:9876\"")]
    Empty,
    /// One entry is not `host:port`.
    #[error("illegal address {entry:?} in list: {reason}; expected host:port[;host:port...], e.g. \"127.0.0.1:9876;192.168.0.1:9876\"")]
    BadEntry {
        /// The offending entry, as written.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Parses one `host:port` like Java's `NetworkUtil.string2SocketAddress`: the port is
/// after the LAST `:` (so `::1:9876` is host `::1`), `[v6]:port` is also accepted.
/// Stricter than Java on purpose: an empty host and port 0 are refused (Java would
/// accept them and then fail to connect), and so is whitespace inside the entry.
pub fn parse_host_port(entry: &str) -> Result<HostPort, AddrError> {
    let bad = |reason| AddrError::BadEntry { entry: entry.to_string(), reason };
    if entry.chars().any(char::is_whitespace) {
        return Err(bad("contains whitespace"));
    }
    let Some(split) = entry.rfind(':') else {
        return Err(bad("missing ':port'"));
    };
    let (host, port) = (&entry[..split], &entry[split + 1..]);
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("port is not a number"));
    }
    let port: u32 = port.parse().map_err(|_| bad("port out of range 1-65535"))?;
    if port == 0 || port > 65535 {
        return Err(bad("port out of range 1-65535"));
    }
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) if v6.parse::<std::net::Ipv6Addr>().is_ok() => v6,
        Some(_) => return Err(bad("bracketed host is not an IPv6 address")),
        None => host,
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    if host.contains(['[', ']', ';', '/']) {
        return Err(bad("invalid character in host"));
    }
    Ok(HostPort { host: host.to_string(), port: port as u16 })
}

/// Splits a `;`-separated name server list (`NAMESRV_ADDR`, `namesrvAddr`, `-n`) and
/// validates every entry like the broker does at startup (it exits -3 on a bad one).
/// Blanks around entries and empty entries (`a:1;;b:2;`) are skipped.
pub fn parse_addr_list(list: &str) -> Result<Vec<HostPort>, AddrError> {
    let addrs =
        list.split(';').map(str::trim).filter(|e| !e.is_empty()).map(parse_host_port).collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err(AddrError::Empty);
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort { host: host.into(), port }
    }

    #[test]
    fn parses_lists() {
        assert_eq!(
            parse_addr_list("127.0.0.1:9876; ns.example.com:19876;").unwrap(),
            vec![hp("127.0.0.1", 9876), hp("ns.example.com", 19876)]
        );
        assert_eq!(parse_addr_list("::1:9876;[fe80::1]:9877").unwrap(), vec![hp("::1", 9876), hp("fe80::1", 9877)]);
        assert_eq!(parse_addr_list(" ; ").unwrap_err(), AddrError::Empty);
    }

    #[test]
    fn errors_name_the_bad_entry() {
        for (list, bad) in [
            ("127.0.0.1:9876;localhost", "localhost"),
            ("a:1;b:x", "b:x"),
            ("a:65536", "a:65536"),
            ("a:0", "a:0"),
            (":9876", ":9876"),
            ("a:", "a:"),
            ("[nothex]:1", "[nothex]:1"),
            ("a:99999999999999999999", "a:99999999999999999999"),
            ("a b:1", "a b:1"),
        ] {
            match parse_addr_list(list) {
                Err(AddrError::BadEntry { entry, .. }) => assert_eq!(entry, bad, "{list}"),
                other => panic!("{list}: {other:?}"),
            }
        }
        let msg = parse_addr_list("x").unwrap_err().to_string();
        assert!(msg.contains("\"x\"") && msg.contains("missing ':port'"), "{msg}");
    }

    #[test]
    fn host_port_display_and_socket_addr() {
        assert_eq!(hp("::1", 9876).to_string(), "[::1]:9876");
        assert_eq!(hp("10.0.0.1", 1).to_string(), "10.0.0.1:1");
        assert_eq!(hp("::1", 9876).socket_addr(), Some("[::1]:9876".parse().unwrap()));
        assert_eq!(hp("host", 9876).socket_addr(), None);
        let back = parse_host_port(&hp("::1", 5).to_string()).unwrap();
        assert_eq!(back, hp("::1", 5));
    }

    #[test]
    fn env_and_home() {
        // Only reads the process environment; the values depend on the machine, so check
        // the pure parts and that the calls do not panic.
        let _ = rocketmq_home();
        let _ = namesrv_addr();
        assert_eq!(expand_home("/abs/path"), PathBuf::from("/abs/path"));
        assert_eq!(expand_home("~user/x"), PathBuf::from("~user/x"));
        if let Some(home) = user_home() {
            assert_eq!(expand_home("~"), home);
            assert_eq!(expand_home("~/store/config"), home.join("store/config"));
        }
    }
}
