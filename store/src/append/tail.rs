//! The unwritten end of the commitlog: records that have their offsets and
//! bytes but are not in the file yet. The append thread stages the puts it
//! takes from its queue here and writes what accumulated with one `pwrite`.
//!
//! In write-buffer mode (`transientStorePoolEnable` on an ASYNC_FLUSH
//! master, as in Java) a network thread stages its own put and answers at
//! once; the append thread writes and dispatches it moments later. Java
//! answers such a put after copying it into its off-heap write buffer, before
//! the page cache has it, so a crash of the process (not only of the machine)
//! can lose puts already answered. Only the append thread creates files, so a
//! put that needs a new file, or any put while such a one is still queued,
//! goes through the queue: puts are stored in the order they arrive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bytes::Bytes;

use super::appender::Msgs;
use super::completion::Completer;
use super::config::Role;
use super::encode::{encode, prepare, AppendResult, EncodeRules, Prepared, PutResult, PutStatus, RecordOffsets};
use super::offsets::QueueOffsets;
use crate::record::{encode_blank, TRANSACTION_PREPARED_TYPE, TRANSACTION_ROLLBACK_TYPE, TRANSACTION_TYPE_MASK};

/// Bodies at least this long are written from the caller's buffer (pwritev)
/// instead of being copied into the staging buffer first. Small bodies are
/// cheaper to copy: many short iovecs cost more than the copy (measured with
/// 1 KiB bodies).
const INLINE_BODY_MAX: usize = 64 << 10;

/// Staged bytes above which network threads stop staging and queue their
/// puts (the append thread is behind: a slow disk).
pub(crate) const WRITE_BUFFER_MAX: u64 = 4 << 20;

/// A piece of the staged bytes: a range of `buf`, or a body written in place.
pub(crate) enum Seg {
    Buf(usize, usize),
    Body(Bytes),
}

/// A put encoded into the staging buffer, waiting for its write.
pub(crate) struct Staged {
    pub msgs: Msgs,
    /// `None`: already answered (staged by a network thread).
    pub done: Option<Completer<PutResult>>,
    pub result: AppendResult,
    pub next_offset: u64,
    pub cq: bool,
}

/// Whether a record of some length fits in the current file.
pub(crate) enum Room {
    Fits,
    /// Not in this file: it must be closed with a BLANK and the next one created.
    Roll,
    /// No current file (start, role change, truncation): the append thread loads it.
    NoFile,
    /// Longer than a whole file.
    TooBig,
}

/// What the append thread takes out of the tail for one write.
#[derive(Default)]
pub(crate) struct Taken {
    pub buf: Vec<u8>,
    pub segs: Vec<Seg>,
    pub staged: Vec<Staged>,
    /// Position in the file where the taken bytes end.
    pub end: u64,
    pub last_ts: i64,
}

pub(crate) struct Tail {
    pub role: Role,
    /// Start offset of the file being appended; `None` until the append
    /// thread has it open (network threads never create or open files).
    pub file_from: Option<u64>,
    pub file_size: u64,
    /// Logical write position in that file (staged bytes included).
    pub pos: u64,
    pub buf: Vec<u8>,
    pub segs: Vec<Seg>,
    /// Start of the part of `buf` not yet in `segs`.
    pub seg_from: usize,
    pub staged: Vec<Staged>,
    /// Bytes staged and not taken (bodies written in place included).
    pub staged_bytes: u64,
    pub last_ts: i64,
    /// Puts handed to the append thread's queue and not staged yet (write-
    /// buffer mode): while there are any, network threads queue theirs too.
    pub queued: usize,
    /// Shut down: nothing more is staged by network threads.
    pub closed: bool,
}

impl Tail {
    pub fn new(role: Role, file_size: u64) -> Self {
        Tail {
            role,
            file_from: None,
            file_size,
            pos: 0,
            buf: Vec::new(),
            segs: Vec::new(),
            seg_from: 0,
            staged: Vec::new(),
            staged_bytes: 0,
            last_ts: 0,
            queued: 0,
            closed: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.staged.is_empty()
    }

    pub fn room(&self, len: u64) -> Room {
        if len + 8 > self.file_size {
            return Room::TooBig;
        }
        if self.file_from.is_none() {
            return Room::NoFile;
        }
        if len + 8 <= self.file_size - self.pos {
            Room::Fits
        } else {
            Room::Roll
        }
    }

    /// Ends the current file with a BLANK record over its free rest (when
    /// at least 8 bytes are left, like Java) and stops staging until the
    /// append thread opens the next one.
    pub fn close_file(&mut self) {
        let remaining = self.file_size - self.pos;
        if remaining >= 8 {
            encode_blank(remaining as i32, &mut self.buf);
            self.staged_bytes += remaining;
        }
        self.pos = self.file_size;
        self.file_from = None;
    }

    /// Encodes a checked put at the end; the caller made sure it fits.
    /// Takes its queue offsets. Returns the result and the end offset.
    pub fn stage(
        &mut self,
        msgs: &Msgs,
        prep: &[Prepared],
        store_ts: i64,
        offsets: &Mutex<QueueOffsets>,
    ) -> Result<(AppendResult, u64, bool), PutStatus> {
        let from = self.file_from.ok_or(PutStatus::UnknownError)?;
        let list = msgs.as_slice();
        let first = list.first().ok_or(PutStatus::MessageIllegal)?;
        let batch = matches!(msgs, Msgs::Batch(_));
        let total: u64 = prep.iter().map(|p| p.len as u64).sum();
        let cq = first.gets_queue_offset();
        let n: i64 = if batch { list.len() as i64 } else { first.message_num() };
        let base = if cq {
            offsets.lock().unwrap_or_else(|e| e.into_inner()).take(&first.topic, first.queue_id, n)
        } else {
            0
        };
        let mut qoff = base;
        let first_phys = (from + self.pos) as i64;
        let mut many = Vec::new();
        for (m, p) in list.iter().zip(prep) {
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
        self.staged_bytes += total;
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

    /// Swaps the staged bytes and puts into `into` (whose buffers are empty).
    pub fn take(&mut self, into: &mut Taken) {
        std::mem::swap(&mut self.buf, &mut into.buf);
        if !self.segs.is_empty() {
            self.segs.push(Seg::Buf(self.seg_from, into.buf.len()));
        }
        std::mem::swap(&mut self.segs, &mut into.segs);
        std::mem::swap(&mut self.staged, &mut into.staged);
        self.seg_from = 0;
        self.staged_bytes = 0;
        into.end = self.pos;
        into.last_ts = self.last_ts;
    }
}

/// The checks of a put that need no store state, and each record's size.
pub(crate) fn check_put(msgs: &Msgs, rules: &EncodeRules, prep: &mut Vec<Prepared>) -> Result<u64, PutStatus> {
    let list = msgs.as_slice();
    let first = list.first().ok_or(PutStatus::MessageIllegal)?;
    if matches!(msgs, Msgs::Batch(_)) {
        // a batch is one topic/queue and never transactional (Java asyncPutMessages)
        let bad = list.iter().any(|m| {
            m.topic != first.topic
                || m.queue_id != first.queue_id
                || matches!(m.sys_flag & TRANSACTION_TYPE_MASK, TRANSACTION_PREPARED_TYPE | TRANSACTION_ROLLBACK_TYPE)
        });
        if bad {
            return Err(PutStatus::MessageIllegal);
        }
    }
    prep.clear();
    for m in list {
        prep.push(prepare(m, rules)?);
    }
    Ok(prep.iter().map(|p| p.len as u64).sum())
}

/// Whether a put may be staged by a network thread. A transaction's half
/// message waits for its write: END_TRANSACTION looks it up by offset as
/// soon as the producer has the answer.
pub(crate) fn may_stage_early(msgs: &Msgs) -> bool {
    msgs.as_slice().iter().all(|m| m.sys_flag & TRANSACTION_TYPE_MASK != TRANSACTION_PREPARED_TYPE)
}

/// Signals between network threads that stage and the append thread.
#[derive(Default)]
pub(crate) struct TailSignal {
    /// Something was staged by a network thread and not taken yet.
    pending: AtomicBool,
    /// The append thread is about to block on its queue.
    parked: AtomicBool,
}

impl TailSignal {
    /// Network thread, after staging: true when the append thread must be woken.
    pub fn staged(&self) -> bool {
        self.pending.store(true, Ordering::SeqCst);
        self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst)
    }

    /// Append thread, before blocking: false when it must not block (something was staged).
    pub fn park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) {
            self.parked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Append thread, under the tail lock: everything staged was taken.
    pub fn taken(&self) {
        self.pending.store(false, Ordering::SeqCst);
    }

    pub fn unparked(&self) {
        self.parked.store(false, Ordering::SeqCst);
    }

    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }
}
