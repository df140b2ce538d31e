//! [`Store::scan_light`]: the structural scan of [`Store::scan`] for callers that
//! only need a message's queue coordinates (`verify`). Commitlog records are checked
//! in place with [`RecordView`] instead of being copied into a `MessageRecord` with
//! a parsed property map (those copies cost several times more than reading the
//! file), and a second core walks the next chunk of a file speculatively.

use std::path::Path;

use rmq_store::mapped_file::{MappedFile, StopReason};
use rmq_store::record::{decode, peek_header, Decoded, MessageRecord, MessageVersion, RecordView, BLANK_MAGIC_CODE};
use rmq_store::{RecordError, StoreError};

use super::{ItemKind, ScanOutcome, Store};

/// What [`Store::scan_light`] tells its visitor about each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueRef<'a> {
    pub topic: &'a str,
    pub queue_id: i32,
    pub queue_offset: i64,
    /// Whether the dispatcher gives it a consume-queue unit (transaction type NOT or COMMIT).
    pub dispatched: bool,
}

impl<'a> QueueRef<'a> {
    pub fn of_record(m: &'a MessageRecord) -> Self {
        QueueRef {
            topic: &m.topic,
            queue_id: m.queue_id,
            queue_offset: m.queue_offset,
            dispatched: m.is_dispatched_to_cq(),
        }
    }

    fn of_view(v: &RecordView<'a>) -> Self {
        QueueRef {
            topic: v.topic,
            queue_id: v.queue_id,
            queue_offset: v.queue_offset,
            dispatched: v.is_dispatched_to_cq(),
        }
    }
}

/// The values `Store::check_message` checks, from an owned record or a scanned one.
pub(super) trait RecordChecks {
    fn stored_body_crc(&self) -> i32;
    fn computed_body_crc(&self) -> i32;
    fn property_crc(&self) -> Option<(i64, i32)>;
    fn physical_offset_field(&self) -> i64;
}

impl RecordChecks for MessageRecord {
    fn stored_body_crc(&self) -> i32 {
        self.body_crc
    }
    fn computed_body_crc(&self) -> i32 {
        MessageRecord::computed_body_crc(self)
    }
    fn property_crc(&self) -> Option<(i64, i32)> {
        MessageRecord::property_crc(self)
    }
    fn physical_offset_field(&self) -> i64 {
        self.physical_offset
    }
}

// The record iterators hand out boxed records.
impl<T: RecordChecks + ?Sized> RecordChecks for Box<T> {
    fn stored_body_crc(&self) -> i32 {
        (**self).stored_body_crc()
    }
    fn computed_body_crc(&self) -> i32 {
        (**self).computed_body_crc()
    }
    fn property_crc(&self) -> Option<(i64, i32)> {
        (**self).property_crc()
    }
    fn physical_offset_field(&self) -> i64 {
        (**self).physical_offset_field()
    }
}

/// A message as the walk leaves it: checksums computed, queue coordinates kept.
struct Msg<'a> {
    pos: u64,
    len: u32,
    stored_body_crc: i32,
    body_crc: i32,
    property_crc: Option<(i64, i32)>,
    physical_offset_field: i64,
    queue: QueueRef<'a>,
}

impl RecordChecks for Msg<'_> {
    fn stored_body_crc(&self) -> i32 {
        self.stored_body_crc
    }
    fn computed_body_crc(&self) -> i32 {
        self.body_crc
    }
    fn property_crc(&self) -> Option<(i64, i32)> {
        self.property_crc
    }
    fn physical_offset_field(&self) -> i64 {
        self.physical_offset_field
    }
}

/// What a walk met, in file order.
enum Event<'a> {
    Message(Msg<'a>),
    Blank {
        pos: u64,
        total_size: i32,
    },
    /// The record at `pos` does not decode; the scan stops there.
    Failed {
        pos: u64,
        error: RecordError,
    },
}

/// Why a walk of part of a file ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The next record starts at or after the walk's limit, here.
    Limit(u64),
    /// End of the file or a BLANK marker: the scan goes on with the next file.
    NextFile,
    /// End of data or a bad record at this position.
    Stop(StopReason, u64),
}

/// Files at least this long are walked in chunks of this size, two at a time.
const CHUNK: u64 = 32 << 20;
/// How far past a chunk start a record start is looked for (more than the 4 MiB
/// default maximum message size).
const SYNC_WINDOW: u64 = 8 << 20;
/// How far ahead of the walk memory is requested (a few DRAM latencies' worth).
const PREFETCH_AHEAD: usize = 8 << 10;

impl Store {
    /// Same checks, issues and counts as [`Store::scan`]; `visit` gets the physical
    /// offset and queue coordinates of every message (BLANK markers are not visited).
    pub fn scan_light(&self, progress: &dyn Fn(u64), visit: &mut dyn FnMut(u64, &QueueRef)) -> ScanOutcome {
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
        self.scan_light_with(progress, visit, parallel.then_some(CHUNK))
    }

    /// `chunk`: the size of the parts walked on two threads (None: one thread).
    fn scan_light_with(
        &self,
        progress: &dyn Fn(u64),
        visit: &mut dyn FnMut(u64, &QueueRef),
        chunk: Option<u64>,
    ) -> ScanOutcome {
        let mut out = ScanOutcome::default();
        for i in self.commitlog.queue().issues() {
            out.issues.push(self.issue(&i.path, i.offset, i.message.clone()));
        }
        self.scan_commitlog_light(&mut out, progress, visit, chunk);
        if let Some(d) = &self.dledger {
            // DLedger bodies sit behind entry headers; that path keeps the owned records.
            self.scan_dledger(d, &mut out, progress, &mut |item| {
                if let ItemKind::Message(m) = &item.kind {
                    visit(item.physical_offset, &QueueRef::of_record(m));
                }
            });
        }
        out
    }

    /// `scan_commitlog` with `RecordIter`'s rules: a zero header ends the data, BLANK
    /// moves to the next file, the first bad record stops the scan.
    fn scan_commitlog_light(
        &self,
        out: &mut ScanOutcome,
        progress: &dyn Fn(u64),
        visit: &mut dyn FnMut(u64, &QueueRef),
        chunk: Option<u64>,
    ) {
        let files = self.commitlog.files();
        let mut done_bytes = 0;
        for fi in 0..files.len() {
            progress(done_bytes);
            done_bytes += files[fi].len();
            if let End::Stop(stop, pos) = self.scan_file(out, files, fi, chunk, visit) {
                progress(done_bytes);
                if stop == StopReason::EndOfData {
                    self.check_unwritten(out, files, fi, pos);
                }
                return;
            }
        }
        progress(done_bytes);
    }

    /// One file, returning `NextFile` or `Stop`. With `chunk`, while this thread
    /// walks a chunk, another finds the first record start in the next chunk and walks
    /// on from there; its result counts only if this walk arrives exactly at that start
    /// (a false start, or damage near the border, falls back to walking on from here).
    fn scan_file(
        &self,
        out: &mut ScanOutcome,
        files: &[MappedFile],
        fi: usize,
        chunk: Option<u64>,
        visit: &mut dyn FnMut(u64, &QueueRef),
    ) -> End {
        let f = &files[fi];
        let bytes = f.bytes();
        // Small files are not worth a thread.
        let chunk = chunk.filter(|c| bytes.len() as u64 >= 2 * c).unwrap_or(u64::MAX);
        let limit_after = |pos: u64| {
            let l = (pos / chunk).saturating_add(1).saturating_mul(chunk);
            (l < bytes.len() as u64).then_some(l)
        };
        let mut pos = 0;
        loop {
            let limit = limit_after(pos);
            let next = limit.map(|l| (l, limit_after(l)));
            // This thread's part is applied while the other thread may still be walking.
            let (mine, theirs) = match next {
                Some((start, until)) => std::thread::scope(|s| {
                    let other = s.spawn(move || sync(bytes, start).map(|at| (at, walk(bytes, at, until))));
                    let (events, end) = walk(bytes, pos, limit);
                    self.apply(out, files, fi, &events, visit);
                    (end, other.join().expect("walk thread"))
                }),
                None => {
                    let (events, end) = walk(bytes, pos, None);
                    self.apply(out, files, fi, &events, visit);
                    (end, None)
                }
            };
            let end = match (mine, theirs) {
                (End::Limit(p), Some((at, (events, end)))) if p == at => {
                    self.apply(out, files, fi, &events, visit);
                    end
                }
                (end, _) => end,
            };
            match end {
                End::Limit(p) => pos = p,
                end => return end,
            }
        }
    }

    /// The side effects of walked events, in order.
    fn apply(
        &self,
        out: &mut ScanOutcome,
        files: &[MappedFile],
        fi: usize,
        events: &[Event],
        visit: &mut dyn FnMut(u64, &QueueRef),
    ) {
        let f = &files[fi];
        for e in events {
            match e {
                Event::Message(m) => {
                    let phys = f.file_from_offset() + m.pos;
                    self.check_message(out, f.path(), m.pos, phys, m);
                    out.messages += 1;
                    out.max_physical_offset = phys + m.len as u64;
                    visit(phys, &m.queue);
                }
                Event::Blank { pos, total_size } => {
                    self.blank(out, f.path(), *pos, *total_size, f.len(), fi + 1 >= files.len());
                }
                Event::Failed { pos, error } => {
                    out.issues.push(self.issue_from(&StoreError::record(f.path(), *pos, error.clone())));
                }
            }
        }
    }

    /// The BLANK checks of `scan_commitlog`.
    fn blank(&self, out: &mut ScanOutcome, path: &Path, pos: u64, total_size: i32, file_len: u64, last_file: bool) {
        let remaining = file_len - pos;
        out.blanks += 1;
        if total_size as u64 != remaining {
            out.issues.push(self.issue(
                path,
                pos,
                format!("BLANK record size {total_size} does not reach the end of the file ({remaining} bytes left)"),
            ));
        }
        if last_file {
            out.warnings.push(self.issue(path, pos, "BLANK record in the last commitlog file"));
        }
    }
}

/// Walks a file's `bytes` from the record start `pos` while records start before
/// `limit`, checksumming as it goes (what `RecordIter::next` does, minus side effects).
fn walk(bytes: &[u8], mut pos: u64, limit: Option<u64>) -> (Vec<Event<'_>>, End) {
    let mut events = Vec::new();
    let mut prefetched = pos as usize;
    let len = bytes.len() as u64;
    let end = loop {
        if limit.is_some_and(|l| pos >= l) {
            break End::Limit(pos);
        }
        if pos >= len {
            break End::NextFile;
        }
        prefetched = prefetch(bytes, pos as usize, prefetched);
        let buf = &bytes[pos as usize..];
        if buf.len() < 8 {
            if buf.iter().all(|b| *b == 0) {
                break End::Stop(StopReason::EndOfData, pos);
            }
            break failed(&mut events, pos, RecordError::Truncated { need: 8, have: buf.len() as u64 });
        }
        let h = match peek_header(buf) {
            Ok(h) => h,
            Err(e) => break failed(&mut events, pos, e),
        };
        if h.total_size == 0 && h.magic == 0 {
            break End::Stop(StopReason::EndOfData, pos);
        }
        if h.is_blank() {
            match decode(buf) {
                Ok(Decoded::Blank { total_size }) => {
                    events.push(Event::Blank { pos, total_size });
                    break End::NextFile;
                }
                Ok(Decoded::Message(_)) => unreachable!("a BLANK header decodes as BLANK"),
                Err(e) => break failed(&mut events, pos, e),
            }
        }
        match RecordView::parse(buf) {
            Ok(v) => {
                events.push(Event::Message(Msg {
                    pos,
                    len: v.bytes.len() as u32,
                    stored_body_crc: v.body_crc,
                    body_crc: v.computed_body_crc(),
                    property_crc: v.property_crc(),
                    physical_offset_field: v.physical_offset,
                    queue: QueueRef::of_view(&v),
                }));
                pos += v.bytes.len() as u64;
            }
            Err(e) => break failed(&mut events, pos, e),
        }
    };
    (events, end)
}

fn failed(events: &mut Vec<Event>, pos: u64, error: RecordError) -> End {
    events.push(Event::Failed { pos, error });
    End::Stop(StopReason::Error, pos)
}

/// The first position at or after `from` (within [`SYNC_WINDOW`]) where a record
/// parses and is followed by another record, a BLANK marker, zeros or the file end.
/// Only a guess: the walk of the chunk before confirms it.
fn sync(bytes: &[u8], from: u64) -> Option<u64> {
    let len = bytes.len() as u64;
    let is_message = |magic: i32| MessageVersion::from_magic(magic).is_some();
    let header_at = |p: u64| bytes.get(p as usize..p as usize + 8).and_then(|b| peek_header(b).ok());
    (from..len.min(from.saturating_add(SYNC_WINDOW))).find(|&p| {
        // Both message magic codes start with 0xDA: a cheap filter for the byte-wise search.
        if bytes.get(p as usize + 4) != Some(&0xDA) {
            return false;
        }
        let Some(h) = header_at(p) else { return false };
        if !is_message(h.magic) {
            return false;
        }
        let Ok(v) = RecordView::parse(&bytes[p as usize..]) else { return false };
        let next = p + v.bytes.len() as u64;
        next == len
            || header_at(next).is_none_or(|n| {
                is_message(n.magic) || n.magic == BLANK_MAGIC_CODE || (n.magic == 0 && n.total_size == 0)
            })
    })
}

/// Index of the first non-zero byte. A live last commitlog file is mostly unwritten
/// zeros, which `verify` reads to the end: 64-byte blocks OR-ed together vectorize,
/// a byte-wise search does not.
pub(super) fn first_non_zero(b: &[u8]) -> Option<usize> {
    let mut blocks = b.chunks_exact(64);
    let mut at = 0;
    for block in blocks.by_ref() {
        if block.iter().fold(0u8, |acc, x| acc | x) != 0 {
            return block.iter().position(|x| *x != 0).map(|p| at + p);
        }
        at += 64;
    }
    blocks.remainder().iter().position(|x| *x != 0).map(|p| at + p)
}

/// Asks for the bytes up to [`PREFETCH_AHEAD`] past `pos` (from `done` on): each
/// record's position comes from the previous header, so without this every record
/// start is a cache miss waiting on the one before, and hardware prefetchers stop at
/// page borders. Returns the new end of the requested range.
fn prefetch(bytes: &[u8], pos: usize, done: usize) -> usize {
    let want = pos.saturating_add(PREFETCH_AHEAD).min(bytes.len());
    let mut at = done.max(pos);
    while at < want {
        prefetch_line(&bytes[at]);
        at += 64;
    }
    at
}

#[cfg(target_arch = "x86_64")]
fn prefetch_line(b: &u8) {
    // SAFETY: a prefetch only hints the cache; the address is that of a live reference.
    unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(b as *const u8 as *const i8) }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch_line(_: &u8) {}

#[cfg(test)]
#[path = "light_tests.rs"]
mod tests;
