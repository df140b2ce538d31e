//! One view over a store's records, whatever the layout: a plain commitlog
//! (possibly several directories) and/or DLedger data files.

use std::path::Path;

use rmq_store::dledger::{DLedgerStore, EntryHeader, ENTRY_HEADER_SIZE};
use rmq_store::mapped_file::commitlog::read_at;
use rmq_store::mapped_file::{EntryKind, MappedFile, StopReason};
use rmq_store::record::{Decoded, MessageRecord, MessageVersion};
use rmq_store::{CommitLog, LayoutKind, StoreDir, StoreError};

use crate::cli::StoreArgs;
use crate::report::Issue;

mod light;
pub use light::QueueRef;
use light::RecordChecks;

/// An opened store.
pub struct Store {
    pub dir: StoreDir,
    pub commitlog: CommitLog,
    pub dledger: Option<DLedgerStore>,
    /// DLedger store whose entry bodies are not RocketMQ records (e.g. a 5.x
    /// controller's event log): only the entry structure is checked.
    pub raw_dledger: bool,
}

/// Whether the first non-empty entry body of `d` is not a commitlog record.
fn dledger_bodies_are_raw(d: &DLedgerStore) -> bool {
    for e in d.entries().take(16) {
        let Ok(e) = e else { return false };
        let b = d.body(&e);
        if b.is_empty() {
            continue;
        }
        return b.len() < 8 || MessageVersion::from_magic(i32::from_be_bytes([b[4], b[5], b[6], b[7]])).is_none();
    }
    false
}

/// What a scan yields for each position.
pub enum ItemKind<'a> {
    Message(&'a MessageRecord),
    /// BLANK marker; `remaining` = bytes from it to the end of its file.
    Blank {
        total_size: i32,
        remaining: u64,
    },
}

pub struct Item<'a> {
    pub file: &'a Path,
    pub file_pos: u64,
    pub physical_offset: u64,
    pub kind: ItemKind<'a>,
    pub dledger: Option<&'a EntryHeader>,
}

/// Structural outcome of a scan.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    pub issues: Vec<Issue>,
    pub warnings: Vec<Issue>,
    pub messages: u64,
    pub blanks: u64,
    /// End of the last good message record.
    pub max_physical_offset: u64,
}

impl Store {
    pub fn open(args: &StoreArgs) -> Result<Self, StoreError> {
        let dir = StoreDir::open(&args.dir, args.commitlog_path.as_deref())?;
        let size = args.commitlog_file_size.or(dir.commitlog_file_size());
        let commitlog = CommitLog::open(dir.commitlog_dirs(), size)?;
        let dledger = match dir.dledger_dir() {
            Some(d) => Some(DLedgerStore::open(d, size, None)?),
            None => None,
        };
        let raw_dledger = dledger.as_ref().is_some_and(dledger_bodies_are_raw);
        Ok(Store { dir, commitlog, dledger, raw_dledger })
    }

    pub fn root(&self) -> &Path {
        self.dir.root()
    }

    /// Path shown in reports: relative to the store root when below it.
    pub fn rel(&self, p: &Path) -> String {
        p.strip_prefix(self.root()).unwrap_or(p).to_string_lossy().into_owned()
    }

    pub fn issue(&self, p: &Path, offset: u64, error: impl Into<String>) -> Issue {
        Issue { file: self.rel(p), offset, error: error.into() }
    }

    pub fn issue_from(&self, e: &StoreError) -> Issue {
        match e.path() {
            Some(p) => Issue { file: self.rel(p), offset: e.offset().unwrap_or(0), error: error_text(e) },
            None => Issue { file: String::new(), offset: e.offset().unwrap_or(0), error: e.to_string() },
        }
    }

    pub fn format(&self) -> &'static str {
        match self.dir.kind() {
            LayoutKind::Plain => "plain",
            LayoutKind::DLedger if self.raw_dledger => "dledger-raw",
            LayoutKind::DLedger => "dledger",
        }
    }

    /// Lowest physical offset held (start of the first file).
    pub fn min_physical_offset(&self) -> u64 {
        if !self.commitlog.queue().is_empty() {
            return self.commitlog.queue().min_offset();
        }
        self.dledger.as_ref().map(|d| d.data().min_offset()).unwrap_or(0)
    }

    /// Total bytes of all data files (for progress).
    pub fn total_bytes(&self) -> u64 {
        let cl: u64 = self.commitlog.files().iter().map(|f| f.len()).sum();
        let dl: u64 = self.dledger.as_ref().map(|d| d.data().files().iter().map(|f| f.len()).sum()).unwrap_or(0);
        cl + dl
    }

    /// Decodes the message whose record starts at physical `offset`.
    pub fn read_message(&self, offset: u64) -> Result<MessageRecord, StoreError> {
        let queue = match &self.dledger {
            Some(d)
                if d.data().find(offset).is_some()
                    && (self.commitlog.queue().is_empty() || offset >= d.data().min_offset()) =>
            {
                d.data()
            }
            _ => self.commitlog.queue(),
        };
        match read_at(queue, offset)? {
            Decoded::Message(m) => Ok(*m),
            Decoded::Blank { .. } => {
                let f = queue.find(offset).expect("found by read_at");
                Err(StoreError::corrupt(
                    f.path(),
                    offset - f.file_from_offset(),
                    "BLANK marker where a message was expected",
                ))
            }
        }
    }

    /// Walks every record in order, calling `visit` for each, and checks the
    /// structure: decoding, CRC, PHYSICALOFFSET field, BLANK sizes, unwritten
    /// space after the end, and (DLedger) entry headers and index units.
    pub fn scan(&self, progress: &dyn Fn(u64), visit: &mut dyn FnMut(&Item)) -> ScanOutcome {
        let mut out = ScanOutcome::default();
        for i in self.commitlog.queue().issues() {
            out.issues.push(self.issue(&i.path, i.offset, i.message.clone()));
        }
        self.scan_commitlog(&mut out, progress, visit);
        if let Some(d) = &self.dledger {
            self.scan_dledger(d, &mut out, progress, visit);
        }
        out
    }

    fn scan_commitlog(&self, out: &mut ScanOutcome, progress: &dyn Fn(u64), visit: &mut dyn FnMut(&Item)) {
        let files = self.commitlog.files();
        if files.is_empty() {
            return;
        }
        let mut it = self.commitlog.iter(false);
        let mut last_file = usize::MAX;
        let mut done_bytes = 0u64;
        for r in it.by_ref() {
            let e = match r {
                Ok(e) => e,
                Err(err) => {
                    out.issues.push(self.issue_from(&err));
                    break;
                }
            };
            let f = &files[e.file_index];
            if e.file_index != last_file {
                last_file = e.file_index;
                progress(done_bytes);
                done_bytes += f.len();
            }
            match &e.kind {
                EntryKind::Message(m) => {
                    self.check_message(out, f.path(), e.file_pos, e.physical_offset, m);
                    out.messages += 1;
                    out.max_physical_offset = e.physical_offset + m.total_size as u64;
                    visit(&Item {
                        file: f.path(),
                        file_pos: e.file_pos,
                        physical_offset: e.physical_offset,
                        kind: ItemKind::Message(m),
                        dledger: None,
                    });
                }
                EntryKind::Blank { total_size } => {
                    let remaining = f.len() - e.file_pos;
                    out.blanks += 1;
                    if *total_size as u64 != remaining {
                        out.issues.push(self.issue(
                            f.path(),
                            e.file_pos,
                            format!("BLANK record size {total_size} does not reach the end of the file ({remaining} bytes left)"),
                        ));
                    }
                    if e.file_index + 1 >= files.len() {
                        out.warnings.push(self.issue(f.path(), e.file_pos, "BLANK record in the last commitlog file"));
                    }
                    visit(&Item {
                        file: f.path(),
                        file_pos: e.file_pos,
                        physical_offset: e.physical_offset,
                        kind: ItemKind::Blank { total_size: *total_size, remaining },
                        dledger: None,
                    });
                }
            }
        }
        progress(self.commitlog.files().iter().map(|f| f.len()).sum());
        let stop = it.stop_reason();
        let (fi, pos) = it.position();
        if stop == Some(StopReason::EndOfData) {
            self.check_unwritten(out, files, fi, pos);
        } else if stop == Some(StopReason::Error) {
            // nothing after a broken record can be trusted; Java would truncate here
            let _ = (fi, pos);
        }
    }

    /// Everything from (`fi`, `pos`) on must be unwritten (zero) space.
    fn check_unwritten(&self, out: &mut ScanOutcome, files: &[MappedFile], fi: usize, pos: u64) {
        for (j, f) in files.iter().enumerate().skip(fi) {
            let start = if j == fi { pos } else { 0 };
            if let Some(p) = light::first_non_zero(f.slice_from(start)) {
                out.issues.push(self.issue(
                    f.path(),
                    start + p as u64,
                    format!(
                        "non-zero data after the end of the log (data ends at {} in {})",
                        pos,
                        self.rel(files[fi].path())
                    ),
                ));
                return;
            }
        }
    }

    fn check_message(&self, out: &mut ScanOutcome, path: &Path, file_pos: u64, phys: u64, m: &impl RecordChecks) {
        let (stored_crc, computed_crc) = (m.stored_body_crc(), m.computed_body_crc());
        if stored_crc != computed_crc {
            out.issues.push(self.issue(
                path,
                file_pos,
                format!("body CRC mismatch: stored {stored_crc}, computed {computed_crc}"),
            ));
        }
        if let Some((stored, computed)) = m.property_crc() {
            if stored != computed as i64 {
                let i =
                    self.issue(path, file_pos, format!("property CRC mismatch: stored {stored}, computed {computed}"));
                // DLedger rewrites PHYSICALOFFSET after encoding, which the CRC covers
                if self.dledger.is_some() {
                    out.warnings.push(i);
                } else {
                    out.issues.push(i);
                }
            }
        }
        let field = m.physical_offset_field();
        if field != phys as i64 {
            out.issues.push(self.issue(
                path,
                file_pos,
                format!("PHYSICALOFFSET field {field} != actual physical offset {phys}"),
            ));
        }
    }

    fn scan_dledger(
        &self,
        d: &DLedgerStore,
        out: &mut ScanOutcome,
        progress: &dyn Fn(u64),
        visit: &mut dyn FnMut(&Item),
    ) {
        for i in d.data().issues().iter().chain(d.index().issues()) {
            out.issues.push(self.issue(&i.path, i.offset, i.message.clone()));
        }
        let files = d.data().files();
        let base: u64 = self.commitlog.files().iter().map(|f| f.len()).sum();
        let mut it = d.entries();
        let mut prev: Option<EntryHeader> = None;
        let mut last_file = usize::MAX;
        for r in it.by_ref() {
            let e = match r {
                Ok(e) => e,
                Err(err) => {
                    out.issues.push(self.issue_from(&err));
                    break;
                }
            };
            let f = &files[e.file_index];
            if e.file_index != last_file {
                last_file = e.file_index;
                progress(base + f.file_from_offset() - d.data().min_offset());
            }
            let h = e.header;
            if let Some(p) = prev {
                if h.index != p.index + 1 {
                    out.issues.push(self.issue(
                        f.path(),
                        e.file_pos,
                        format!("entry index {} does not follow {}", h.index, p.index),
                    ));
                }
                if h.term < p.term {
                    out.issues.push(self.issue(
                        f.path(),
                        e.file_pos,
                        format!("entry term {} lower than previous {}", h.term, p.term),
                    ));
                }
            }
            prev = Some(h);
            match d.index_unit(h.index) {
                Some(u)
                    if u.magic == 1 && u.pos == h.pos && u.size == h.size && u.index == h.index && u.term == h.term => {
                }
                Some(u) => out.issues.push(self.issue(
                    f.path(),
                    e.file_pos,
                    format!("index unit for entry {} disagrees: {:?}", h.index, u),
                )),
                None => {
                    out.issues.push(self.issue(f.path(), e.file_pos, format!("no index unit for entry {}", h.index)))
                }
            }
            if let Some(c) = d.checkpoint().and_then(|c| c.committed_index) {
                if h.index > c {
                    out.warnings.push(self.issue(
                        f.path(),
                        e.file_pos,
                        format!("entry {} is beyond committedIndex {c}", h.index),
                    ));
                }
            }
            if self.raw_dledger {
                continue;
            }
            let body_pos = e.file_pos + ENTRY_HEADER_SIZE;
            let phys = e.msg_physical_offset();
            match d.decode_body(&e) {
                Ok(Decoded::Message(m)) => {
                    if m.total_size != h.body_length {
                        out.issues.push(self.issue(
                            f.path(),
                            body_pos,
                            format!("record TOTALSIZE {} != entry bodyLength {}", m.total_size, h.body_length),
                        ));
                    }
                    self.check_message(out, f.path(), body_pos, phys, &m);
                    out.messages += 1;
                    out.max_physical_offset = phys + m.total_size as u64;
                    visit(&Item {
                        file: f.path(),
                        file_pos: body_pos,
                        physical_offset: phys,
                        kind: ItemKind::Message(&m),
                        dledger: Some(&h),
                    });
                }
                Ok(Decoded::Blank { .. }) => {
                    out.issues.push(self.issue(f.path(), body_pos, "DLedger entry body is a BLANK record"));
                }
                Err(err) => out.issues.push(self.issue_from(&err)),
            }
        }
        if let Some((fi, pos)) = it.ended_at() {
            self.check_unwritten(out, files, fi, pos);
        }
        if let (Some(p), Some(c)) = (prev, d.checkpoint()) {
            if let Some(end) = c.end_index {
                if end != p.index {
                    out.warnings.push(Issue {
                        file: self.rel(&d.dir().join("checkpoint")),
                        offset: 0,
                        error: format!("endIndex {end} != last entry index {}", p.index),
                    });
                }
            }
        }
    }
}

/// The error text without the "path @ offset:" prefix (those are separate fields).
pub fn error_text(e: &StoreError) -> String {
    match e {
        StoreError::Record { source, .. } => source.to_string(),
        StoreError::Corrupt { msg, .. } | StoreError::Layout { msg, .. } => msg.clone(),
        StoreError::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}
