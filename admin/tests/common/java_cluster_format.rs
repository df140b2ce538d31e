//! Java 5.3.3's `clusterList` row format, written out independently of
//! `rmq-admin` so tests compare our output with Java's printf, not with
//! itself. Shared by admin's and broker's tests (`#[path]`).

fn l(s: &str, w: usize) -> String {
    format!("{s:<w$}")
}

fn r(s: &str, w: usize) -> String {
    format!("{s:>w$}")
}

/// `"%-22s  %-22s  %-4s  %-22s %-16s  %16s  %30s  %-22s  %11s  %-12s  %-8s  %10s%n"`.
pub fn java_row(c: &[&str; 12]) -> String {
    format!(
        "{}  {}  {}  {} {}  {}  {}  {}  {}  {}  {}  {}\n",
        l(c[0], 22),
        l(c[1], 22),
        l(c[2], 4),
        l(c[3], 22),
        l(c[4], 16),
        r(c[5], 16),
        r(c[6], 30),
        l(c[7], 22),
        r(c[8], 11),
        l(c[9], 12),
        l(c[10], 8),
        r(c[11], 10)
    )
}

/// The header: the same widths, all left-justified but for `%16s %30s`.
pub fn java_header() -> String {
    format!(
        "{}  {}  {}  {} {}  {}  {}  {}  {}  {}  {}  {}\n",
        l("#Cluster Name", 22),
        l("#Broker Name", 22),
        l("#BID", 4),
        l("#Addr", 22),
        l("#Version", 16),
        r("#InTPS(LOAD)", 16),
        r("#OutTPS(LOAD)", 30),
        l("#Timer(Progress)", 22),
        l("#PCWait(ms)", 11),
        l("#Hour", 12),
        l("#SPACE", 8),
        l("#ACTIVATED", 10)
    )
}
