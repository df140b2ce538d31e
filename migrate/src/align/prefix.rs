//! The common prefix of two commitlogs: the largest offset X that is a record
//! boundary of both and below which both hold the same records.
//!
//! Search, from the tail: probe the record just below the shorter log's end,
//! then records ever further back (distance doubling from 64 KiB), each found
//! with [`Log::sync_back`] and compared byte for byte with the other log at
//! the same offset. The first identical record is taken as inside the common
//! prefix (records carry their own offset, store time and host, so two logs
//! that diverged never hold an identical record at the same offset again);
//! from there a record-by-record comparison finds the first difference.
//! Work is proportional to the distance from the end to the divergence,
//! not to the size of the stores. The price: a difference confined to the
//! middle of the logs, with identical records after it, is damage rather than
//! divergence and is not looked for (`verify` checks each store). The walks over the diverged tails that
//! follow must land exactly on each log's end; if one does not, the search
//! was misled (a message body imitating a record header) and is redone by
//! comparing every record of the shared range.

use super::error::{AlignError, Result};
use super::log::{At, End, Log};

/// How the prefix was found (reported for the curious and for tests).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Search {
    /// Records probed while stepping back from the end.
    pub probes: u32,
    /// Record-by-record comparison start.
    pub compared_from: u64,
    /// Records compared one by one.
    pub records_compared: u64,
}

/// Whether the same record (or BLANK) starts at `p` in both logs.
pub(crate) fn same_at(m: &Log, s: &Log, p: u64) -> Option<u64> {
    match (m.at(p), s.at(p)) {
        (At::Message { size: a, .. }, At::Message { size: b, .. }) if a == b => {
            (m.bytes(p, a) == s.bytes(p, b)).then_some(a)
        }
        (At::Blank, At::Blank) => (m.bytes(p, 8) == s.bytes(p, 8)).then_some(0),
        _ => None,
    }
}

/// Compares records from `from` (a boundary of both) up to `end`; returns the
/// first offset where they differ, or `end`.
pub(crate) fn compare_from(m: &Log, s: &Log, from: u64, end: u64, search: &mut Search) -> u64 {
    let mut pos = from;
    search.compared_from = from;
    while pos < end {
        match same_at(m, s, pos) {
            Some(0) => match (m.next_file_start(pos), s.next_file_start(pos)) {
                (Some(a), Some(b)) if a == b => pos = a,
                _ => break,
            },
            Some(size) => pos += size,
            None => break,
        }
        search.records_compared += 1;
    }
    pos
}

/// Lower end of the range both logs may share: the later first file.
pub(crate) fn shared_floor(m: &Log, s: &Log) -> u64 {
    m.min_offset().max(s.min_offset())
}

/// Finds the common prefix of two logs that both hold data.
pub(crate) fn common_prefix(m: &Log, me: &End, s: &Log, se: &End) -> Result<(u64, Search)> {
    let lo = shared_floor(m, s);
    let end = me.offset.min(se.offset);
    let mut search = Search::default();
    if end <= lo {
        return Err(AlignError::Unalignable(format!(
            "the two commitlogs share no range: master holds {}..{}, slave {}..{}",
            m.min_offset(),
            me.offset,
            s.min_offset(),
            se.offset
        )));
    }
    let shorter = if me.offset <= se.offset { m } else { s };
    let mut dist = 0u64;
    let mut good = None;
    loop {
        let t = end.saturating_sub(1 + dist).max(lo);
        let p = shorter.sync_back(t).unwrap_or_else(|| file_start(shorter, t).max(lo));
        search.probes += 1;
        if same_at(m, s, p).is_some() {
            good = Some(p);
            break;
        }
        if p <= lo {
            break;
        }
        // the next probe lies below this one, twice as far from the end
        dist = (dist * 2).max(64 * 1024).max(end - p);
    }
    let x = match good {
        Some(p) => compare_from(m, s, p, end, &mut search),
        None => lo,
    };
    Ok((x, search))
}

/// The slow path, when the fast one was misled: compare every record from
/// the start of the shared range.
pub(crate) fn recompare(m: &Log, s: &Log, end: u64) -> (u64, Search) {
    let mut search = Search::default();
    let from = shared_floor(m, s);
    let x = if same_at(m, s, from).is_some() { compare_from(m, s, from, end, &mut search) } else { from };
    (x, search)
}

fn file_start(log: &Log, off: u64) -> u64 {
    log.locate(off).map(|(f, _)| f.file_from_offset()).unwrap_or(off)
}
