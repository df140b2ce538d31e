//! The append thread: the only writer of the commitlog. It drains queued
//! requests, encodes a run of puts into one buffer, writes it with one
//! `pwrite` per file, then dispatches and resolves them (ASYNC_FLUSH) or hands
//! them to group commit (SYNC_FLUSH).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::completion::Completer;
use super::config::{FlushDiskType, Role};
use super::encode::{
    build_dispatch, encode, prepare, AppendResult, EncodeRules, MessageToStore, Prepared, PutResult, PutStatus,
    RecordOffsets, PROPERTY_INNER_NUM,
};
use super::file::{WritableFile, WritableQueue};
use super::flush::{FlushService, GroupCommitRequest};
use super::handoff::HANDOFF;
use super::offsets::QueueOffsets;
use super::AppendError;
use crate::dispatch::{check_message, CheckRules, Checked, DispatchRequest, JavaVersion};
use crate::error::StoreError;
use crate::record::{
    decode_message, encode_blank, peek_header, FLAG_INNER_BATCH, TRANSACTION_PREPARED_TYPE, TRANSACTION_ROLLBACK_TYPE,
    TRANSACTION_TYPE_MASK,
};

/// Requests drained per round (bounds the latency of the first one).
const MAX_DRAIN: usize = 1024;
/// Staged bytes that force a write before the round ends (small enough to
/// stay in L2 between encoding and the copy into the page cache).
const MAX_BUFFER: u64 = 256 << 10;
/// Bodies at least this long are written from the caller's buffer (pwritev)
/// instead of being copied into the staging buffer first. Small bodies are
/// cheaper to copy: many short iovecs cost more than the copy (measured with
/// 1 KiB bodies).
const INLINE_BODY_MAX: usize = 64 << 10;

/// Page-cache readahead kept ahead of the write position in the current
/// file (see `WritableFile::prefetch`), issued in steps of `PREFETCH_STEP`
/// while the thread has no request waiting. Small steps: a request that
/// arrives during one waits for four pages to be zero-filled, which took up
/// to ~45 µs on a VM whose fresh guest pages fault on the host first.
const PREFETCH_AHEAD: u64 = 1 << 20;
const PREFETCH_STEP: u64 = 16 << 10;

/// A piece of the staged bytes: a range of `buf`, or a body written in place.
enum Seg {
    Buf(usize, usize),
    Body(Bytes),
}

/// Receives every stored message, in commitlog order, on the append thread.
pub type DispatchHook = Box<dyn FnMut(&DispatchRequest) + Send>;
/// Called on the append thread after a run of `DispatchHook` calls, before the
/// puts of that run resolve.
pub type DispatchEndHook = Box<dyn FnMut() + Send>;
/// Called on the append thread after the commitlog was cut back to an offset.
pub type TruncateHook = Box<dyn FnMut(u64) + Send>;

pub(crate) enum Msgs {
    One(MessageToStore),
    Batch(Vec<MessageToStore>),
}

impl Msgs {
    fn as_slice(&self) -> &[MessageToStore] {
        match self {
            Msgs::One(m) => std::slice::from_ref(m),
            Msgs::Batch(v) => v,
        }
    }
}

pub(crate) enum Request {
    Put { msgs: Msgs, done: Completer<PutResult> },
    Raw { offset: u64, data: Bytes, done: Completer<Result<u64, AppendError>> },
    Truncate { offset: u64, done: Completer<Result<(), AppendError>> },
    SetRole { role: Role, done: Completer<Result<u64, AppendError>> },
}

/// A put encoded into the buffer, waiting for its write.
struct Staged {
    msgs: Msgs,
    done: Completer<PutResult>,
    result: AppendResult,
    next_offset: u64,
    cq: bool,
}

pub(crate) struct Appender {
    pub queue: Arc<WritableQueue>,
    pub flush: Arc<FlushService>,
    pub rules: EncodeRules,
    pub delay_levels: Vec<i64>,
    /// Record checks for replicated bytes (no CRC check, like Java's reput).
    pub check_rules: CheckRules,
    pub role: Role,
    pub offsets: Arc<Mutex<QueueOffsets>>,
    pub dispatch: Option<DispatchHook>,
    pub dispatch_end: Option<DispatchEndHook>,
    pub on_truncate: Option<TruncateHook>,
    pub disk_full: Arc<AtomicBool>,
    /// Start (ms) of the round being processed, 0 between rounds (OS_PAGE_CACHE_BUSY).
    pub busy_since: Arc<AtomicI64>,
    /// Slave: start of the first replicated record not yet parsed/dispatched.
    pub parse_pos: u64,
    cur: Option<Arc<WritableFile>>,
    /// Logical write position in `cur` (staged bytes included).
    pos: u64,
    /// Position in `cur` where `buf` starts.
    buf_start: u64,
    /// Position in `cur` up to which readahead was issued.
    prefetched: u64,
    buf: Vec<u8>,
    /// Staged bytes in order when some bodies are not in `buf`.
    segs: Vec<Seg>,
    /// Start of the part of `buf` not yet in `segs`.
    seg_from: usize,
    last_ts: i64,
    /// STORETIMESTAMP for the puts of this round (one clock read per round;
    /// a round is at most MAX_DRAIN requests, well under a millisecond).
    round_ts: i64,
    staged: Vec<Staged>,
    written: Vec<Staged>,
    prep: Vec<Prepared>,
}

/// Waits for the next request: first by prefetching the page cache ahead
/// of the writes, then while a network worker runs (see
/// [`super::handoff`]), then spinning briefly, then parked. Under load the
/// next put is usually microseconds away, and a park/unpark per round costs
/// more than the whole append.
fn wait_request(rx: &Receiver<Request>, mut prefetch_step: impl FnMut() -> bool) -> Option<Request> {
    loop {
        match rx.try_recv() {
            Ok(r) => return Some(r),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) if prefetch_step() => {}
            Err(TryRecvError::Empty) => break,
        }
    }
    let mut gone = false;
    let waited = HANDOFF.appender_wait(|| match rx.try_recv() {
        Ok(r) => Some(r),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Disconnected) => {
            gone = true;
            None
        }
    });
    if waited.is_some() || gone {
        return waited;
    }
    for i in 0..SPIN_ROUNDS {
        match rx.try_recv() {
            Ok(r) => return Some(r),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) if i < SPIN_ROUNDS / 2 => std::hint::spin_loop(),
            Err(TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    rx.recv().ok()
}

/// Tries before parking (half busy-spins, half yields: a few microseconds).
/// Longer spinning took CPU from the network threads on a small machine:
/// 200 tries gave about 5% less sync-send throughput than 20 on 2 cores, and
/// parking at once (0) about 10% less (rmq-bench produce, alternating runs).
const SPIN_ROUNDS: u32 = 20;

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Appender {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        queue: Arc<WritableQueue>,
        flush: Arc<FlushService>,
        rules: EncodeRules,
        delay_levels: Vec<i64>,
        java: JavaVersion,
        role: Role,
        offsets: Arc<Mutex<QueueOffsets>>,
        dispatch: Option<DispatchHook>,
        on_truncate: Option<TruncateHook>,
        disk_full: Arc<AtomicBool>,
        busy_since: Arc<AtomicI64>,
    ) -> Self {
        let parse_pos = queue.max_offset();
        let check_rules =
            CheckRules { check_crc: false, delay_levels_ms: delay_levels.clone(), ..CheckRules::new(java) };
        Appender {
            queue,
            flush,
            rules,
            delay_levels,
            check_rules,
            role,
            offsets,
            dispatch,
            dispatch_end: None,
            on_truncate,
            disk_full,
            busy_since,
            parse_pos,
            cur: None,
            pos: 0,
            buf_start: 0,
            prefetched: 0,
            buf: Vec::with_capacity(MAX_BUFFER as usize + (1 << 16)),
            segs: Vec::new(),
            seg_from: 0,
            last_ts: 0,
            round_ts: 0,
            staged: Vec::new(),
            written: Vec::new(),
            prep: Vec::new(),
        }
    }

    /// Thread body: runs until every sender is gone and the queue is drained.
    /// A round handles what is queued (up to MAX_DRAIN requests, taken as
    /// they come) and ends with one write.
    pub fn run(mut self, rx: Receiver<Request>) {
        while let Some(first) = self.next_request(&rx) {
            self.round_ts = now_ms();
            self.busy_since.store(self.round_ts, Ordering::Release);
            self.handle(first);
            for _ in 1..MAX_DRAIN {
                match rx.try_recv() {
                    Ok(r) => self.handle(r),
                    Err(_) => break,
                }
            }
            self.commit();
            self.busy_since.store(0, Ordering::Release);
        }
    }

    fn next_request(&mut self, rx: &Receiver<Request>) -> Option<Request> {
        wait_request(rx, || self.prefetch_step())
    }

    /// Issues one step of readahead in the current file; false when far
    /// enough ahead already (or no file, or not the master's own writes).
    fn prefetch_step(&mut self) -> bool {
        let Some(f) = self.cur.as_ref() else { return false };
        let start = self.prefetched.max(self.pos & !(super::file::OS_PAGE_SIZE - 1));
        if self.role != Role::Master || start >= (self.pos + PREFETCH_AHEAD).min(f.size()) {
            return false;
        }
        f.prefetch(start, PREFETCH_STEP);
        self.prefetched = start + PREFETCH_STEP;
        true
    }

    fn handle(&mut self, r: Request) {
        match r {
            Request::Put { msgs, done } => match self.stage(&msgs) {
                Ok((result, next_offset, cq)) => {
                    self.staged.push(Staged { msgs, done, result, next_offset, cq });
                    if self.pos - self.buf_start >= MAX_BUFFER {
                        let _ = self.write_out();
                    }
                }
                Err(status) => {
                    done.complete(PutResult::status(status));
                    HANDOFF.puts_resolved(1);
                }
            },
            Request::Raw { offset, data, done } => {
                self.commit();
                done.complete(self.append_raw(offset, &data));
            }
            Request::Truncate { offset, done } => {
                self.commit();
                done.complete(self.truncate(offset));
            }
            Request::SetRole { role, done } => {
                self.commit();
                done.complete(self.set_role(role));
            }
        }
    }

    /// Checks and encodes one put into the buffer.
    fn stage(&mut self, msgs: &Msgs) -> Result<(AppendResult, u64, bool), PutStatus> {
        if self.role != Role::Master || self.disk_full.load(Ordering::Acquire) {
            return Err(PutStatus::ServiceNotAvailable);
        }
        let list = msgs.as_slice();
        let first = list.first().ok_or(PutStatus::MessageIllegal)?;
        let batch = matches!(msgs, Msgs::Batch(_));
        if batch {
            // a batch is one topic/queue and never transactional (Java asyncPutMessages)
            let bad = list.iter().any(|m| {
                m.topic != first.topic
                    || m.queue_id != first.queue_id
                    || matches!(
                        m.sys_flag & TRANSACTION_TYPE_MASK,
                        TRANSACTION_PREPARED_TYPE | TRANSACTION_ROLLBACK_TYPE
                    )
            });
            if bad {
                return Err(PutStatus::MessageIllegal);
            }
        }
        self.prep.clear();
        for m in list {
            self.prep.push(prepare(m, &self.rules)?);
        }
        let total: u64 = self.prep.iter().map(|p| p.len as u64).sum();
        self.make_room(total)?;
        let from = self.cur.as_ref().map(|f| f.from()).ok_or(PutStatus::UnknownError)?;
        let store_ts = self.round_ts;
        let cq = first.gets_queue_offset();
        let n: i64 = if batch { list.len() as i64 } else { first.message_num() };
        let base = if cq {
            self.offsets.lock().unwrap_or_else(|e| e.into_inner()).take(&first.topic, first.queue_id, n)
        } else {
            0
        };
        let mut qoff = base;
        let first_phys = (from + self.pos) as i64;
        let mut many = Vec::new();
        for (m, p) in list.iter().zip(&self.prep) {
            let phys = from + self.pos;
            let inline = m.body.len() < INLINE_BODY_MAX;
            let body_at = encode(&mut self.buf, m, p, qoff, phys as i64, store_ts, inline);
            if !inline {
                self.segs.push(Seg::Buf(self.seg_from, body_at));
                self.segs.push(Seg::Body(m.body.clone()));
                self.seg_from = body_at;
            }
            if batch {
                many.push(phys as i64);
            }
            self.pos += p.len as u64;
            if cq {
                qoff += 1;
            }
        }
        let offsets = if batch { RecordOffsets::Many(many) } else { RecordOffsets::One(first_phys) };
        self.last_ts = store_ts;
        let result = AppendResult {
            wrote_offset: first_phys,
            wrote_bytes: total as i32,
            offsets,
            store_host: first.store_host,
            store_timestamp: store_ts,
            logics_offset: base,
            msg_num: list.len() as i32,
        };
        Ok((result, from + self.pos, cq))
    }

    /// Makes `cur` a file with room for `len` bytes plus a BLANK marker,
    /// closing the current file with a BLANK when needed.
    fn make_room(&mut self, len: u64) -> Result<(), PutStatus> {
        let size = self.queue.file_size();
        if len + 8 > size {
            return Err(PutStatus::MessageIllegal);
        }
        if self.cur.is_none() {
            self.load_cur()?;
        }
        let remaining = size - self.pos;
        if len + 8 <= remaining {
            return Ok(());
        }
        if remaining >= 8 {
            encode_blank(remaining as i32, &mut self.buf);
        }
        self.pos = size;
        self.write_out().map_err(|_| PutStatus::UnknownError)?;
        let next = self.cur.as_ref().map(|f| f.from() + size).ok_or(PutStatus::UnknownError)?;
        match self.queue.roll(next) {
            Ok(f) => {
                self.cur = Some(f);
                self.pos = 0;
                self.prefetched = 0;
                self.buf_start = 0;
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot create commitlog file");
                self.cur = None;
                Err(PutStatus::CreateMappedFileFailed)
            }
        }
    }

    fn load_cur(&mut self) -> Result<(), PutStatus> {
        let f = match self.queue.last() {
            Some(f) => f,
            None => {
                let max = self.queue.max_offset();
                let from = max - max % self.queue.file_size();
                let f = self.queue.roll(from).map_err(|e| {
                    tracing::error!(error = %e, "cannot create commitlog file");
                    PutStatus::CreateMappedFileFailed
                })?;
                f.set_wrote(max - from, None);
                f
            }
        };
        self.pos = f.wrote();
        self.buf_start = self.pos;
        self.cur = Some(f);
        self.prefetched = 0;
        Ok(())
    }

    /// Writes the buffer and publishes the new end; on failure every staged
    /// put fails and its queue offsets are given back.
    fn write_out(&mut self) -> Result<(), ()> {
        let Some(f) = self.cur.clone() else { return Ok(()) };
        let written = if self.segs.is_empty() {
            if self.buf.is_empty() {
                Ok(())
            } else {
                f.write_at(self.buf_start, &self.buf)
            }
        } else {
            self.segs.push(Seg::Buf(self.seg_from, self.buf.len()));
            let parts: Vec<&[u8]> = self
                .segs
                .iter()
                .map(|s| match s {
                    Seg::Buf(a, b) => &self.buf[*a..*b],
                    Seg::Body(b) => &b[..],
                })
                .filter(|p| !p.is_empty())
                .collect();
            f.write_parts_at(self.buf_start, &parts)
        };
        self.segs.clear();
        self.seg_from = 0;
        if let Err(e) = written {
            tracing::error!(error = %e, offset = f.from() + self.buf_start, "commitlog write failed");
            self.buf.clear();
            self.pos = self.buf_start;
            self.fail_staged();
            return Err(());
        }
        f.set_wrote(self.pos, (self.last_ts > 0).then_some(self.last_ts));
        self.buf.clear();
        self.buf_start = self.pos;
        if self.written.is_empty() {
            std::mem::swap(&mut self.written, &mut self.staged);
        } else {
            self.written.append(&mut self.staged);
        }
        Ok(())
    }

    fn fail_staged(&mut self) {
        let mut table = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        let resolved = self.staged.len();
        for s in self.staged.drain(..).rev() {
            if s.cq {
                let m = &s.msgs.as_slice()[0];
                table.set(&m.topic, m.queue_id, s.result.logics_offset);
            }
            s.done.complete(PutResult { status: PutStatus::UnknownError, append: None });
        }
        HANDOFF.puts_resolved(resolved);
    }

    /// Ends a round: writes what is staged, dispatches, resolves or queues for flush.
    fn commit(&mut self) {
        if !self.staged.is_empty() || !self.buf.is_empty() {
            let _ = self.write_out();
        }
        if self.written.is_empty() {
            return;
        }
        if let Some(d) = self.dispatch.as_mut() {
            for s in &self.written {
                dispatch_put(d, s, &self.delay_levels);
            }
            if let Some(end) = self.dispatch_end.as_mut() {
                end();
            }
        }
        let sync = self.flush.kind() == FlushDiskType::Sync;
        let mut waiting = Vec::new();
        // after the completions, so a waiting worker finds their tasks queued;
        // handed to group commit counts too: the wait is the flush thread's now
        let resolved = self.written.len();
        for s in self.written.drain(..) {
            let res = PutResult { status: PutStatus::PutOk, append: Some(s.result) };
            if sync && s.msgs.as_slice()[0].wait_store_msg_ok() {
                waiting.push(GroupCommitRequest { next_offset: s.next_offset, done: s.done, result: res });
            } else {
                s.done.complete(res);
            }
        }
        HANDOFF.puts_resolved(resolved);
        self.flush.submit(waiting);
    }

    /// Slave: writes replicated bytes at the end of the log, then parses and
    /// dispatches every record they complete.
    fn append_raw(&mut self, offset: u64, data: &[u8]) -> Result<u64, AppendError> {
        if self.role != Role::Slave {
            return Err(AppendError::WrongRole { op: "append_raw", role: self.role });
        }
        self.cur = None;
        let size = self.queue.file_size();
        let max = self.queue.max_offset();
        let mut f = match self.queue.last() {
            // an empty slave starts at a file boundary, where the master begins sending
            None if offset.checked_rem(size) == Some(0) => {
                self.parse_pos = offset;
                self.queue.roll(offset)?
            }
            Some(f) if offset == max => f,
            _ => return Err(AppendError::OffsetMismatch { expected: max, got: offset }),
        };
        let mut at = offset;
        let mut rest = data;
        while !rest.is_empty() {
            if at >= f.from() + size {
                f = self.queue.roll(f.from() + size)?;
            }
            let pos = at - f.from();
            let n = (rest.len() as u64).min(size - pos);
            f.write_at(pos, &rest[..n as usize])?;
            f.set_wrote(pos + n, None);
            at += n;
            rest = &rest[n as usize..];
        }
        self.parse_raw()?;
        Ok(at)
    }

    /// Dispatches every complete replicated record (Java's reput on a slave:
    /// same record check, no CRC check).
    fn parse_raw(&mut self) -> Result<(), AppendError> {
        let from = self.parse_pos;
        let parsed = self.parse_raw_records();
        if self.parse_pos != from {
            if let Some(end) = self.dispatch_end.as_mut() {
                end();
            }
        }
        parsed
    }

    fn parse_raw_records(&mut self) -> Result<(), AppendError> {
        loop {
            let Some(f) = self.queue.find(self.parse_pos) else { return Ok(()) };
            let pos = self.parse_pos - f.from();
            let data = f.written();
            let Some(slice) = data.get(pos as usize..).filter(|s| s.len() >= 8) else { return Ok(()) };
            let h = peek_header(slice).map_err(|e| StoreError::record(f.path(), pos, e))?;
            if h.is_blank() {
                self.parse_pos = f.from() + f.size();
                continue;
            }
            if h.total_size > 0 && slice.len() < h.total_size as usize {
                // the rest of the record is still on its way
                return Ok(());
            }
            let req = match check_message(slice, &self.check_rules) {
                Checked::Message(r) => r,
                Checked::Blank => {
                    self.parse_pos = f.from() + f.size();
                    continue;
                }
                Checked::Invalid { reason, .. } => {
                    return Err(StoreError::corrupt(f.path(), pos, format!("replicated record: {reason}")).into())
                }
            };
            if req.commit_log_offset as u64 != self.parse_pos {
                tracing::warn!(file = %f.path().display(), pos, stored = req.commit_log_offset, "replicated record has a different PHYSICALOFFSET");
            }
            f.set_wrote(f.wrote(), Some(req.store_timestamp));
            if req.goes_to_consume_queue() {
                let num =
                    if req.sys_flag & FLAG_INNER_BATCH != 0 { inner_num(&slice[..h.total_size as usize]) } else { 1 };
                self.offsets.lock().unwrap_or_else(|e| e.into_inner()).raise(
                    &req.topic,
                    req.queue_id,
                    req.consume_queue_offset + num,
                );
            }
            if let Some(d) = self.dispatch.as_mut() {
                d(&req);
            }
            self.parse_pos += h.total_size as u64;
        }
    }

    fn truncate(&mut self, offset: u64) -> Result<(), AppendError> {
        self.cur = None;
        self.queue.truncate(offset)?;
        self.parse_pos = self.parse_pos.min(offset);
        if let Some(h) = self.on_truncate.as_mut() {
            h(offset);
        }
        Ok(())
    }

    fn set_role(&mut self, role: Role) -> Result<u64, AppendError> {
        self.cur = None;
        if role != self.role {
            match role {
                Role::Slave => self.parse_pos = self.queue.max_offset(),
                Role::Master => {
                    // a partly received record cannot stay in front of new writes
                    if self.parse_pos < self.queue.max_offset() {
                        tracing::warn!(offset = self.parse_pos, "dropping a partial replicated record");
                        self.truncate(self.parse_pos)?;
                    }
                    // after a replicated BLANK the rest of that file is closed
                    if let Some(f) = self.queue.last() {
                        if self.parse_pos >= f.from() + f.size() {
                            f.set_wrote(f.size(), None);
                        }
                    }
                }
            }
            tracing::info!(?role, offset = self.queue.max_offset(), "commitlog role changed");
            self.role = role;
        }
        Ok(self.queue.max_offset())
    }
}

/// `INNER_NUM` of an inner-batch record (1 when absent or unreadable).
fn inner_num(record: &[u8]) -> i64 {
    decode_message(record)
        .ok()
        .and_then(|m| m.property(PROPERTY_INNER_NUM).and_then(|v| v.parse::<i16>().ok()))
        .map(|n| n.max(1) as i64)
        .unwrap_or(1)
}

fn dispatch_put(d: &mut DispatchHook, s: &Staged, delay_levels: &[i64]) {
    let list = s.msgs.as_slice();
    let r = &s.result;
    let end = r.wrote_offset + r.wrote_bytes as i64;
    let mut qoff = r.logics_offset;
    for (i, m) in list.iter().enumerate() {
        let off = r.offsets[i];
        let size = r.offsets.get(i + 1).copied().unwrap_or(end) - off;
        let q = if s.cq { qoff } else { 0 };
        let req = build_dispatch(
            &m.topic,
            m.queue_id,
            off as u64,
            size as i32,
            r.store_timestamp,
            q,
            m.stored_sys_flag(),
            m.prepared_transaction_offset,
            &m.properties,
            delay_levels,
        );
        d(&req);
        qoff += if matches!(s.msgs, Msgs::Batch(_)) { 1 } else { m.message_num() };
    }
}
