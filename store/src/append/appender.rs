//! The append thread: the only writer of the commitlog. It stages queued
//! puts in the [`Tail`], writes what the tail holds (its own puts and those
//! network threads staged in write-buffer mode) with one `pwrite` per file,
//! then dispatches and resolves them (ASYNC_FLUSH) or hands them to group
//! commit (SYNC_FLUSH).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

use super::completion::Completer;
use super::config::{FlushDiskType, Role};
use super::encode::{build_dispatch, EncodeRules, MessageToStore, Prepared, PutResult, PutStatus};
use super::file::{WritableFile, WritableQueue};
use super::flush::{FlushService, GroupCommitRequest};
use super::handoff::HANDOFF;
use super::offsets::QueueOffsets;
use super::tail::{check_put, Room, Seg, Staged, Tail, TailSignal, Taken};
use super::AppendError;
use crate::dispatch::{CheckRules, DispatchRequest, JavaVersion};

mod replica;
mod wait;

use wait::{wait_request, wait_staged};

/// Requests drained per round (bounds the latency of the first one).
const MAX_DRAIN: usize = 1024;
/// Staged bytes that force a write before the round ends (small enough to
/// stay in L2 between encoding and the copy into the page cache).
const MAX_BUFFER: u64 = 256 << 10;

/// Page-cache readahead kept ahead of the write position in the current
/// file (see `WritableFile::prefetch`), issued in steps of `PREFETCH_STEP`
/// while the thread has no request waiting. Small steps: a request that
/// arrives during one waits for four pages to be zero-filled, which took up
/// to ~45 µs on a VM whose fresh guest pages fault on the host first.
const PREFETCH_AHEAD: u64 = 1 << 20;
const PREFETCH_STEP: u64 = 16 << 10;

/// Pause between attempts to write puts that were already answered.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

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
    pub(crate) fn as_slice(&self) -> &[MessageToStore] {
        match self {
            Msgs::One(m) => std::slice::from_ref(m),
            Msgs::Batch(v) => v,
        }
    }
}

pub(crate) enum Request {
    Put {
        msgs: Msgs,
        done: Completer<PutResult>,
    },
    Raw {
        offset: u64,
        data: Bytes,
        done: Completer<Result<u64, AppendError>>,
    },
    Truncate {
        offset: u64,
        done: Completer<Result<(), AppendError>>,
    },
    SetRole {
        role: Role,
        done: Completer<Result<u64, AppendError>>,
    },
    /// A network thread staged puts while the thread was about to block.
    Wake,
}

/// What the append thread shares with the writer handle.
pub(crate) struct Shared {
    pub tail: Arc<Mutex<Tail>>,
    pub signal: Arc<TailSignal>,
    /// Write-buffer mode: queued puts are counted in `Tail::queued`.
    pub write_buffer: bool,
    /// Shutting down: give up retrying a failed write.
    pub stopping: Arc<AtomicBool>,
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
    shared: Shared,
    cur: Option<Arc<WritableFile>>,
    /// Position in `cur` up to which bytes are written (where the next take starts).
    buf_start: u64,
    /// Position in `cur` up to which readahead was issued.
    prefetched: u64,
    /// Buffers swapped with the tail's for each write.
    taken: Taken,
    /// STORETIMESTAMP for the puts this thread stages in a round (one clock
    /// read per round; a round is at most MAX_DRAIN requests, well under a
    /// millisecond).
    round_ts: i64,
    written: Vec<Staged>,
    prep: Vec<Prepared>,
}

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
        shared: Shared,
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
            shared,
            cur: None,
            buf_start: 0,
            prefetched: 0,
            taken: Taken { buf: Vec::with_capacity(MAX_BUFFER as usize + (1 << 16)), ..Taken::default() },
            round_ts: 0,
            written: Vec::new(),
            prep: Vec::new(),
        }
    }

    fn tail(&self) -> MutexGuard<'_, Tail> {
        self.shared.tail.lock().unwrap_or_else(|e| e.into_inner())
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
        // whatever network threads staged before the writer closed the tail
        self.commit();
    }

    fn next_request(&mut self, rx: &Receiver<Request>) -> Option<Request> {
        let signal = self.shared.signal.clone();
        if self.shared.write_buffer {
            wait_staged(rx, &signal, || self.prefetch_step())
        } else {
            wait_request(rx, &signal, || self.prefetch_step())
        }
    }

    /// Issues one step of readahead in the current file; false when far
    /// enough ahead already (or no file, or not the master's own writes).
    fn prefetch_step(&mut self) -> bool {
        let Some(f) = self.cur.as_ref() else { return false };
        let pos = self.buf_start;
        let start = self.prefetched.max(pos & !(super::file::OS_PAGE_SIZE - 1));
        if self.role != Role::Master || start >= (pos + PREFETCH_AHEAD).min(f.size()) {
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
                    let big = {
                        let mut t = self.tail();
                        t.staged.push(Staged { msgs, done: Some(done), result, next_offset, cq });
                        t.staged_bytes >= MAX_BUFFER
                    };
                    if big {
                        let _ = self.write_out();
                    }
                }
                Err(status) => {
                    done.complete(PutResult::status(status));
                    HANDOFF.puts_resolved(1);
                }
            },
            Request::Raw { offset, data, done } => {
                self.close_tail();
                done.complete(self.append_raw(offset, &data));
            }
            Request::Truncate { offset, done } => {
                self.close_tail();
                done.complete(self.truncate(offset));
            }
            Request::SetRole { role, done } => {
                self.close_tail();
                done.complete(self.set_role(role));
            }
            Request::Wake => {}
        }
    }

    /// Stops staging by network threads and writes out what they staged, so
    /// an operation on the files starts from a written end.
    fn close_tail(&mut self) {
        self.tail().file_from = None;
        self.commit();
        self.cur = None;
    }

    /// Checks and encodes one queued put into the tail.
    fn stage(&mut self, msgs: &Msgs) -> Result<(super::encode::AppendResult, u64, bool), PutStatus> {
        let staged = self.stage_counted(msgs);
        if self.shared.write_buffer {
            let mut t = self.tail();
            t.queued = t.queued.saturating_sub(1);
        }
        staged
    }

    fn stage_counted(&mut self, msgs: &Msgs) -> Result<(super::encode::AppendResult, u64, bool), PutStatus> {
        if self.role != Role::Master || self.disk_full.load(Ordering::Acquire) {
            return Err(PutStatus::ServiceNotAvailable);
        }
        let total = check_put(msgs, &self.rules, &mut self.prep)?;
        loop {
            // room and staging under one lock: network threads stage too
            let (shared, prep, ts, offsets) = (&self.shared, &self.prep, self.round_ts, &self.offsets);
            let mut t = shared.tail.lock().unwrap_or_else(|e| e.into_inner());
            match t.room(total) {
                Room::Fits => return t.stage(msgs, prep, ts, offsets),
                Room::TooBig => return Err(PutStatus::MessageIllegal),
                Room::NoFile => {
                    drop(t);
                    self.load_cur()?
                }
                Room::Roll => {
                    drop(t);
                    self.roll()?
                }
            }
        }
    }

    /// Closes the current file with a BLANK, writes it out and creates the next.
    fn roll(&mut self) -> Result<(), PutStatus> {
        let size = self.queue.file_size();
        self.tail().close_file();
        self.write_out().map_err(|_| PutStatus::UnknownError)?;
        let next = self.cur.as_ref().map(|f| f.from() + size).ok_or(PutStatus::UnknownError)?;
        match self.queue.roll(next) {
            Ok(f) => {
                self.open_tail(f, 0);
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
        let pos = f.wrote();
        self.open_tail(f, pos);
        Ok(())
    }

    /// Makes `f` the file appended at `pos`, for this thread and the tail.
    fn open_tail(&mut self, f: Arc<WritableFile>, pos: u64) {
        {
            let mut t = self.tail();
            t.file_from = Some(f.from());
            t.pos = pos;
        }
        self.buf_start = pos;
        self.prefetched = 0;
        self.cur = Some(f);
    }

    /// Takes what the tail staged and writes it; publishes the new end. A
    /// failed write of puts not yet answered fails them (their queue offsets
    /// are given back); puts already answered are retried until written.
    fn write_out(&mut self) -> Result<(), ()> {
        {
            let mut t = self.shared.tail.lock().unwrap_or_else(|e| e.into_inner());
            if t.is_empty() {
                return Ok(());
            }
            t.take(&mut self.taken);
            self.shared.signal.taken();
        }
        let Some(f) = self.cur.clone() else {
            // nothing is staged without a file; keep the invariant loud
            tracing::error!(bytes = self.taken.buf.len(), "staged commitlog bytes without a file");
            self.fail_taken();
            return Err(());
        };
        loop {
            let written = self.write_taken(&f);
            let Err(e) = written else { break };
            let answered = self.taken.staged.iter().any(|s| s.done.is_none());
            let at = f.from() + self.buf_start;
            if !answered && self.rewind() {
                tracing::error!(error = %e, offset = at, "commitlog write failed");
                self.fail_taken();
                return Err(());
            }
            if self.shared.stopping.load(Ordering::Acquire) {
                tracing::error!(error = %e, offset = at, bytes = self.taken.buf.len(), "commitlog write failed at shutdown; answered puts are lost");
                self.fail_taken();
                return Err(());
            }
            tracing::error!(error = %e, offset = at, "commitlog write failed; retrying (puts after it are answered already)");
            std::thread::sleep(RETRY_PAUSE);
        }
        let end = self.taken.end;
        f.set_wrote(end, (self.taken.last_ts > 0).then_some(self.taken.last_ts));
        self.buf_start = end;
        self.taken.buf.clear();
        self.taken.segs.clear();
        if self.written.is_empty() {
            std::mem::swap(&mut self.written, &mut self.taken.staged);
        } else {
            self.written.append(&mut self.taken.staged);
        }
        Ok(())
    }

    fn write_taken(&self, f: &WritableFile) -> crate::error::Result<()> {
        let t = &self.taken;
        if t.segs.is_empty() {
            if t.buf.is_empty() {
                return Ok(());
            }
            return f.write_at(self.buf_start, &t.buf);
        }
        let parts: Vec<&[u8]> = t
            .segs
            .iter()
            .map(|s| match s {
                Seg::Buf(a, b) => &t.buf[*a..*b],
                Seg::Body(b) => &b[..],
            })
            .filter(|p| !p.is_empty())
            .collect();
        f.write_parts_at(self.buf_start, &parts)
    }

    /// After a failed write: moves the tail's end back to the written end,
    /// when nothing was staged behind the failed bytes.
    fn rewind(&mut self) -> bool {
        let mut t = self.shared.tail.lock().unwrap_or_else(|e| e.into_inner());
        if !t.is_empty() {
            return false;
        }
        t.pos = self.buf_start;
        true
    }

    fn fail_taken(&mut self) {
        self.taken.buf.clear();
        self.taken.segs.clear();
        let mut table = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        let mut resolved = 0;
        for s in self.taken.staged.drain(..).rev() {
            let Some(done) = s.done else { continue };
            if s.cq {
                let m = &s.msgs.as_slice()[0];
                table.set(&m.topic, m.queue_id, s.result.logics_offset);
            }
            done.complete(PutResult { status: PutStatus::UnknownError, append: None });
            resolved += 1;
        }
        HANDOFF.puts_resolved(resolved);
    }

    /// Ends a round: writes what is staged, dispatches, resolves or queues for flush.
    fn commit(&mut self) {
        let _ = self.write_out();
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
        let mut resolved = 0;
        for s in self.written.drain(..) {
            let Some(done) = s.done else { continue };
            resolved += 1;
            let res = PutResult { status: PutStatus::PutOk, append: Some(s.result) };
            if sync && s.msgs.as_slice()[0].wait_store_msg_ok() {
                waiting.push(GroupCommitRequest { next_offset: s.next_offset, done, result: res });
            } else {
                done.complete(res);
            }
        }
        HANDOFF.puts_resolved(resolved);
        self.flush.submit(waiting);
    }
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
