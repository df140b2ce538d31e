//! [`Store::scan_light`]: the structural scan of [`Store::scan`] for callers that
//! only need a message's queue coordinates (`verify`). Commitlog records are checked
//! in place with [`RecordView`] instead of being copied into a `MessageRecord` with
//! a parsed property map: those copies cost several times more than reading the file.

use std::path::Path;

use rmq_store::mapped_file::{MappedFile, StopReason};
use rmq_store::record::{decode, peek_header, Decoded, MessageRecord, RecordView};
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
        QueueRef { topic: v.topic, queue_id: v.queue_id, queue_offset: v.queue_offset, dispatched: v.is_dispatched_to_cq() }
    }
}

/// The values `Store::check_message` checks, from an owned record or a view.
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

impl RecordChecks for RecordView<'_> {
    fn stored_body_crc(&self) -> i32 {
        self.body_crc
    }
    fn computed_body_crc(&self) -> i32 {
        RecordView::computed_body_crc(self)
    }
    fn property_crc(&self) -> Option<(i64, i32)> {
        RecordView::property_crc(self)
    }
    fn physical_offset_field(&self) -> i64 {
        self.physical_offset
    }
}

impl Store {
    /// Same checks, issues and counts as [`Store::scan`]; `visit` gets the physical
    /// offset and queue coordinates of every message (BLANK markers are not visited).
    pub fn scan_light(&self, progress: &dyn Fn(u64), visit: &mut dyn FnMut(u64, &QueueRef)) -> ScanOutcome {
        let mut out = ScanOutcome::default();
        for i in self.commitlog.queue().issues() {
            out.issues.push(self.issue(&i.path, i.offset, i.message.clone()));
        }
        self.scan_commitlog_light(&mut out, progress, visit);
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

    /// `scan_commitlog` over the mapped bytes, following `RecordIter`'s rules: a zero
    /// header ends the data, BLANK moves to the next file, the first bad record stops.
    fn scan_commitlog_light(&self, out: &mut ScanOutcome, progress: &dyn Fn(u64), visit: &mut dyn FnMut(u64, &QueueRef)) {
        let files = self.commitlog.files();
        if files.is_empty() {
            return;
        }
        let (mut fi, mut pos, mut done_bytes) = (0usize, 0u64, 0u64);
        let stop = 'files: loop {
            let Some(f) = files.get(fi) else { break StopReason::EndOfFiles };
            progress(done_bytes);
            done_bytes += f.len();
            let bytes = f.bytes();
            while pos < f.len() {
                let buf = bytes.get(pos as usize..).unwrap_or(&[]);
                match self.light_step(out, files, fi, pos, buf, visit) {
                    Step::Next(len) => pos += len,
                    Step::NextFile => break,
                    Step::Stop(reason) => break 'files reason,
                }
            }
            fi += 1;
            pos = 0;
        };
        progress(done_bytes);
        if stop == StopReason::EndOfData {
            self.check_unwritten(out, files, fi, pos);
        }
    }

    /// One position of the walk: what `RecordIter::next` plus `scan_commitlog` do there.
    fn light_step(
        &self,
        out: &mut ScanOutcome,
        files: &[MappedFile],
        fi: usize,
        pos: u64,
        buf: &[u8],
        visit: &mut dyn FnMut(u64, &QueueRef),
    ) -> Step {
        let f = &files[fi];
        let fail = |out: &mut ScanOutcome, e: RecordError| {
            out.issues.push(self.issue_from(&StoreError::record(f.path(), pos, e)));
            Step::Stop(StopReason::Error)
        };
        if buf.len() < 8 {
            if buf.iter().all(|b| *b == 0) {
                return Step::Stop(StopReason::EndOfData);
            }
            return fail(out, RecordError::Truncated { need: 8, have: buf.len() as u64 });
        }
        let h = match peek_header(buf) {
            Ok(h) => h,
            Err(e) => return fail(out, e),
        };
        if h.total_size == 0 && h.magic == 0 {
            return Step::Stop(StopReason::EndOfData);
        }
        let phys = f.file_from_offset() + pos;
        if h.is_blank() {
            return match decode(buf) {
                Ok(Decoded::Blank { total_size }) => {
                    self.blank(out, f.path(), pos, total_size, f.len(), fi + 1 >= files.len());
                    Step::NextFile
                }
                Ok(Decoded::Message(_)) => unreachable!("a BLANK header decodes as BLANK"),
                Err(e) => fail(out, e),
            };
        }
        match RecordView::parse(buf) {
            Ok(v) => {
                self.check_message(out, f.path(), pos, phys, &v);
                let len = v.bytes.len() as u64;
                out.messages += 1;
                out.max_physical_offset = phys + len;
                visit(phys, &QueueRef::of_view(&v));
                Step::Next(len)
            }
            Err(e) => fail(out, e),
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

enum Step {
    Next(u64),
    NextFile,
    Stop(StopReason),
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rmq_store::testutil::{golden, STORES};

    use super::*;
    use crate::cli::StoreArgs;

    type Visits = Vec<(u64, String, i32, i64, bool)>;

    fn both(dir: &Path) -> ((String, Visits), (String, Visits)) {
        let store = Store::open(&StoreArgs { dir: dir.to_path_buf(), commitlog_path: None, commitlog_file_size: None })
            .unwrap();
        let mut full = Vec::new();
        let a = store.scan(&|_| {}, &mut |item| {
            if let ItemKind::Message(m) = &item.kind {
                full.push((item.physical_offset, m.topic.clone(), m.queue_id, m.queue_offset, m.is_dispatched_to_cq()));
            }
        });
        let mut light = Vec::new();
        let b = store.scan_light(&|_| {}, &mut |phys, q| {
            light.push((phys, q.topic.to_string(), q.queue_id, q.queue_offset, q.dispatched));
        });
        ((format!("{a:?}"), full), (format!("{b:?}"), light))
    }

    fn copy_dir(src: &Path, dst: &Path) {
        std::fs::create_dir_all(dst).unwrap();
        for e in std::fs::read_dir(src).unwrap().flatten() {
            let to = dst.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &to);
            } else {
                std::fs::copy(e.path(), &to).unwrap();
            }
        }
    }

    #[test]
    fn same_outcome_as_scan_on_golden_stores() {
        for s in STORES {
            let dir = golden(s);
            if dir.is_dir() {
                let (a, b) = both(&dir);
                assert_eq!(a, b, "{s}");
            }
        }
    }

    #[test]
    fn same_outcome_as_scan_on_damaged_stores() {
        let src = golden("java-4.9.8/plain");
        if !src.is_dir() {
            return;
        }
        let f0 = "commitlog/00000000000000000000";
        let f2 = "commitlog/00000000000002097152";
        // (file, offset, bytes written there); offsets hit record headers, bodies,
        // topic and property bytes, BLANK markers and unwritten space.
        let first = std::fs::read(src.join(f0)).unwrap();
        let at = |p: &[u8]| (p.as_ptr() as usize - first.as_ptr() as usize) as u64;
        let v0 = RecordView::parse(&first).unwrap();
        let topic_at = at(v0.topic.as_bytes());
        let body1_at = at(RecordView::parse(&first[v0.bytes.len()..]).unwrap().body);
        let mut blank_at = 0usize;
        while let Ok(v) = RecordView::parse(&first[blank_at..]) {
            blank_at += v.bytes.len();
        }
        let blank_at = blank_at as u64;
        let damage: &[(&str, u64, &[u8])] = &[
            (f0, 0, &[0, 0, 0, 0, 0, 0, 0, 0]),
            (f0, 3, &[0xFF]),
            (f0, 5, &[0x00]),
            (f0, 100, &[0xAA]),
            (f0, topic_at + 1, &[0x80]),
            (f0, body1_at, &[0xFF; 16]),
            (f0, blank_at + 3, &[1]),
            (f2, 600_000, &[7]),
            (f2, 1_048_000, &[0, 0, 0, 9, 0xCB, 0xD4, 0x31, 0x94]),
        ];
        for (file, off, bytes) in damage {
            let t = tempfile::tempdir().unwrap();
            copy_dir(&src, t.path());
            let p = t.path().join(file);
            let mut data = std::fs::read(&p).unwrap();
            let at = *off as usize;
            data[at..at + bytes.len()].copy_from_slice(bytes);
            std::fs::write(&p, data).unwrap();
            let (a, b) = both(t.path());
            assert_eq!(a, b, "{file} @ {off}");
            assert!(a.0.contains("issues: [Issue"), "{file} @ {off}: no issue found: {}", a.0);
        }
        // A file cut short in the middle of a record.
        let t = tempfile::tempdir().unwrap();
        copy_dir(&src, t.path());
        let p = t.path().join(f2);
        let len = std::fs::metadata(&p).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(len / 3).unwrap();
        let (a, b) = both(t.path());
        assert_eq!(a, b, "truncated");
    }
}
