//! Born/store host addresses as stored in a record (4- or 16-byte address plus
//! a 4-byte int port) and how Java renders them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A socket address exactly as stored: the raw address family (decided by the
/// sysflag bit) is kept so that re-encoding is byte-identical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostAddr {
    pub ip: IpAddr,
    /// Stored as a 4-byte signed int; Java would refuse values outside 0..=65535
    /// when building an `InetSocketAddress`, the store itself does not care.
    pub port: i32,
}

impl HostAddr {
    pub fn new(ip: IpAddr, port: i32) -> Self {
        HostAddr { ip, port }
    }

    pub fn v4(a: [u8; 4], port: i32) -> Self {
        HostAddr { ip: IpAddr::V4(Ipv4Addr::from(a)), port }
    }

    /// Whether the stored form is 16 address bytes (sysflag V6 bit set).
    pub fn is_v6(&self) -> bool {
        matches!(self.ip, IpAddr::V6(_))
    }

    /// Bytes on disk: address + port (8 or 20 bytes).
    pub fn encoded_len(&self) -> usize {
        if self.is_v6() {
            20
        } else {
            8
        }
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self.ip {
            IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
        }
        out.extend_from_slice(&self.port.to_be_bytes());
    }

    /// The address as Java's `InetAddress.getByAddress` sees it: a 16-byte
    /// IPv4-mapped address (`::ffff:a.b.c.d`) becomes an `Inet4Address`.
    pub fn java_ip(&self) -> IpAddr {
        match self.ip {
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(a),
            },
            v4 => v4,
        }
    }

    /// Address bytes + port as Java's `MessageExt.getStoreHostBytes()` builds
    /// them (used for the offsetMsgId).
    pub fn java_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(20);
        match self.java_ip() {
            IpAddr::V4(a) => v.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => v.extend_from_slice(&a.octets()),
        }
        v.extend_from_slice(&self.port.to_be_bytes());
        v
    }
}

/// Java `Inet6Address.getHostAddress()`: eight lowercase hex groups without
/// leading zeros and without `::` compression.
pub fn java_ipv6_string(a: &Ipv6Addr) -> String {
    let s = a.segments();
    let parts: Vec<String> = s.iter().map(|g| format!("{g:x}")).collect();
    parts.join(":")
}

/// Java host-address text of an IP (after IPv4-mapped normalisation).
pub fn java_ip_string(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => java_ipv6_string(a),
    }
}

impl fmt::Display for HostAddr {
    /// `host-address:port`, e.g. `127.0.0.1:59812` or
    /// `2001:db8:0:0:0:0:abcd:1234:50002` (the form the golden dumps use).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", java_ip_string(&self.java_ip()), self.port)
    }
}

/// `UtilAll.bytes2string`: uppercase hex.
pub fn bytes_to_hex_upper(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xF) as usize] as char);
    }
    s
}

/// offsetMsgId: store host address + port + commitlog offset, uppercase hex
/// (32 chars for IPv4, 56 for IPv6).
pub fn offset_msg_id(store_host: &HostAddr, commit_log_offset: i64) -> String {
    let mut b = store_host.java_bytes();
    b.extend_from_slice(&commit_log_offset.to_be_bytes());
    bytes_to_hex_upper(&b)
}

/// Parses an offsetMsgId back into (store host, commitlog offset).
pub fn decode_offset_msg_id(id: &str) -> Option<(HostAddr, i64)> {
    if !id.is_ascii() || (id.len() != 32 && id.len() != 56) {
        return None;
    }
    let mut bytes = Vec::with_capacity(id.len() / 2);
    for i in (0..id.len()).step_by(2) {
        bytes.push(u8::from_str_radix(&id[i..i + 2], 16).ok()?);
    }
    let ip_len = if id.len() == 32 { 4 } else { 16 };
    let ip = if ip_len == 4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        let mut a = [0u8; 16];
        a.copy_from_slice(&bytes[..16]);
        IpAddr::V6(Ipv6Addr::from(a))
    };
    let port = i32::from_be_bytes(bytes[ip_len..ip_len + 4].try_into().ok()?);
    let off = i64::from_be_bytes(bytes[ip_len + 4..ip_len + 12].try_into().ok()?);
    Some((HostAddr { ip, port }, off))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_java() {
        let h = HostAddr::v4([127, 0, 0, 1], 59812);
        assert_eq!(h.to_string(), "127.0.0.1:59812");
        let v6: Ipv6Addr = "2001:db8::abcd:1234".parse().unwrap();
        let h = HostAddr::new(IpAddr::V6(v6), 50002);
        assert_eq!(h.to_string(), "2001:db8:0:0:0:0:abcd:1234:50002");
        let lo = HostAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 1);
        assert_eq!(lo.to_string(), "0:0:0:0:0:0:0:1:1");
        let mapped: Ipv6Addr = "::ffff:10.1.2.3".parse().unwrap();
        let h = HostAddr::new(IpAddr::V6(mapped), 7);
        assert_eq!(h.to_string(), "10.1.2.3:7");
        assert_eq!(h.java_bytes().len(), 8);
    }

    #[test]
    fn msg_id_round_trip() {
        let h = HostAddr::v4([127, 0, 0, 1], 19911);
        let id = offset_msg_id(&h, 11239);
        assert_eq!(id, "7F00000100004DC70000000000002BE7");
        assert_eq!(decode_offset_msg_id(&id), Some((h, 11239)));
        assert_eq!(decode_offset_msg_id("zz"), None);
    }
}
